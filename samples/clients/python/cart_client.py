#!/usr/bin/python3
"""cart_client.py - a sample client of Parley's cart service, written with zeep.

It loads the WSDL the node serves, holds one whole conversation (StartCart,
three AddItem, GetCart, Checkout), prints what it did and checks every answer;
it exits 1 if the cart answered something it must not.

    /usr/bin/python3 cart_client.py http://127.0.0.1:8080/services/cart?wsdl
    /usr/bin/python3 cart_client.py --soap12 http://127.0.0.1:8080/services/cart?wsdl

zeep is Debian's python3-zeep, which only /usr/bin/python3 sees.
"""

import argparse
import sys

import zeep
from zeep.exceptions import Error, Fault
from zeep.transports import Transport

NS_CONVERSATION = "urn:parley:conversation"
UNKNOWN_CONVERSATION = "{%s}UnknownConversation" % NS_CONVERSATION

# What the conversation adds, and what the cart must answer to each AddItem.
ADDS = [("apple", 2, 2), ("pear", 1, 3), ("apple", 3, 6)]
EXPECTED_ITEMS = {"apple": 5, "pear": 1}
EXPECTED_COUNT = 6


class WrongAnswer(Exception):
    """The cart answered something other than what it must."""


def expect(got, want, what):
    if got != want:
        raise WrongAnswer("%s: got %r, want %r" % (what, got, want))


def is_unknown_conversation(fault):
    """Whether a zeep Fault is the node's pc:UnknownConversation."""
    # SOAP 1.2: zeep resolves the Subcode to a QName.
    if fault.subcodes:
        return any(code.text == UNKNOWN_CONVERSATION for code in fault.subcodes)
    # SOAP 1.1: zeep gives the faultcode as written, prefix unresolved; the
    # prefix is the server's choice, so compare the local name.
    return (fault.code or "").rpartition(":")[2] == "UnknownConversation"


def converse(service, soap_version, endpoint):
    """Hold one conversation with the cart; raise WrongAnswer on a wrong answer."""
    print("cart at %s, SOAP %s, zeep %s" % (endpoint, soap_version, zeep.__version__))

    # The WSDL declares pc:ConversationID as an output header of StartCart,
    # so zeep returns both: the header, and the body with the same ID.
    started = service.StartCart()
    header = started.header.ConversationID if started.header is not None else None
    if header is None:
        raise WrongAnswer("StartCart's answer has no pc:ConversationID header")
    # The header's type extends xs:string (to allow attributes): zeep names
    # its text _value_1.
    conversation_id = header._value_1
    expect(started.body.conversationId, conversation_id,
           "StartCart's body and its pc:ConversationID header")
    print("started conversation %s" % conversation_id)

    # The WSDL declares the header on every other input, so zeep takes it
    # as a typed _soapheaders argument keyed by the message part's name. No
    # WS-Addressing plugin is needed: zeep adds wsa:Action, wsa:MessageID and
    # wsa:To itself because the operations carry wsaw:Action (adding
    # zeep.wsa.WsAddressingPlugin too would send them twice, a fault).
    in_conversation = {"ConversationID": conversation_id}

    for item, qty, want in ADDS:
        count = service.AddItem(item=item, qty=qty, _soapheaders=in_conversation)
        expect(count, want, "count after adding %d %s" % (qty, item))
        print("added %d %s: %d items in the cart" % (qty, item, count))

    cart = service.GetCart(_soapheaders=in_conversation)
    items = {item.name: item.qty for item in cart.item}
    expect(items, EXPECTED_ITEMS, "GetCart's items")
    expect(cart.count, EXPECTED_COUNT, "GetCart's count")
    print("cart holds %s: %d items" % (
        ", ".join("%s x%d" % (item.name, item.qty) for item in cart.item), cart.count))

    count = service.Checkout(_soapheaders=in_conversation)
    expect(count, EXPECTED_COUNT, "Checkout's count")
    print("checked out %d items; conversation %s ended" % (count, conversation_id))

    try:
        service.GetCart(_soapheaders=in_conversation)
    except Fault as fault:
        if not is_unknown_conversation(fault):
            raise WrongAnswer("GetCart after Checkout: fault %s (%s), want pc:UnknownConversation"
                              % (fault.code, fault.message))
        print("GetCart after checkout: fault pc:UnknownConversation (%s)" % fault.message)
    else:
        raise WrongAnswer("GetCart after Checkout answered; the conversation should be unknown")


def main():
    parser = argparse.ArgumentParser(description="Hold one conversation with Parley's cart service.")
    parser.add_argument("wsdl_url", help="the WSDL the node serves, e.g. "
                        "http://127.0.0.1:8080/services/cart?wsdl")
    parser.add_argument("--soap12", action="store_true", help="use the SOAP 1.2 port")
    args = parser.parse_args()

    try:
        # Without timeouts a node that stops answering would hang the client.
        client = zeep.Client(args.wsdl_url, transport=Transport(timeout=10, operation_timeout=30))
        # The node writes its own address into the WSDL's soap:address.
        port = "CartSoap12Port" if args.soap12 else "CartSoap11Port"
        service = client.bind("CartService", port)
        endpoint = client.wsdl.services["CartService"].ports[port].binding_options["address"]
        converse(service, "1.2" if args.soap12 else "1.1", endpoint)
    except WrongAnswer as e:
        return fail("wrong answer: %s" % e)
    except Fault as e:
        return fail("unexpected fault %s: %s" % (e.code, e.message))
    except (Error, OSError) as e:
        return fail("%s: %s" % (type(e).__name__, e))
    return 0


def fail(message):
    """Report message after what was printed so far; return the exit status."""
    sys.stdout.flush()
    print("cart_client.py: %s" % message, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
