#!/usr/bin/python3
"""test_cart - one node, the cart sample spoken in raw SOAP: a whole
conversation in SOAP 1.1 and 1.2, the conversation ID as a WS-Addressing
reference parameter, as a plain header and in the 2004/08 submission, the
reply headers, and the pc: faults (missing, unknown, malformed, ended)."""

import sys
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403


def conversation(node, soap, refparam):
    c = Client(node)
    cart = Cart(c, soap=soap)
    msgid = new_msgid()
    a = cart.start(msgid=msgid)
    equal(a.soap_ns(), NS_SOAP11 if soap == 11 else NS_SOAP12, "answer's SOAP version")
    check(a.content_type.startswith("text/xml" if soap == 11 else "application/soap+xml"),
          "content type %s for SOAP 1.%d" % (a.content_type, soap - 10))
    # The ID comes back as a header, in the body, and the answer relates to the request.
    equal(a.find(NS_CART, "conversationId"), cart.id, "StartCart's body carries the ID")
    equal(a.header(NS_WSA, "RelatesTo"), msgid, "wsa:RelatesTo of StartCart's answer")
    equal(a.header(NS_WSA, "Action"), CART_ACTION + "StartCartResponse", "answer's wsa:Action")
    check(cart.id.startswith(node.name + "."), "the ID %s starts with the node's group" % cart.id)
    counts = []
    for item, qty in (("apple", 2), ("pear", 3), ("apple", 5)):
        a = cart.call("AddItem", '<c:AddItem xmlns:c="%s"><c:item>%s</c:item><c:qty>%d</c:qty></c:AddItem>'
                      % (NS_CART, item, qty), conv=cart.id, refparam=refparam)
        check(a.status == 200, "AddItem answered %d: %s" % (a.status, a.raw[:300]))
        equal(a.conversation_id(), cart.id, "AddItem's answer names the conversation")
        counts.append(int(a.find(NS_CART, "count")))
    equal(counts, [2, 5, 10], "item counts after each AddItem")
    a = cart.get()
    equal(a.status, 200, "GetCart status")
    items = {}
    for it in a.findall(NS_CART, "item"):
        items[it.findtext("{%s}name" % NS_CART)] = int(it.findtext("{%s}qty" % NS_CART))
    equal(items, {"apple": 7, "pear": 3}, "GetCart's items")
    equal(a.find(NS_CART, "count"), "10", "GetCart's count")
    a = cart.checkout()
    equal(a.status, 200, "Checkout status")
    equal(a.find(NS_CART, "count"), "10", "Checkout's count")
    # After Checkout the ID is unknown.
    a = cart.add("plum", 1)
    equal(a.fault_code(), "{%s}UnknownConversation" % NS_PC, "AddItem after Checkout")
    a = cart.get()
    equal(a.fault_code(), "{%s}UnknownConversation" % NS_PC, "GetCart after Checkout")
    c.close()


def plain_soap_without_wsa(node):
    """A client with no WS-Addressing: SOAPAction and a plain pc:ConversationID header."""
    c = Client(node)
    a = c.post("/services/cart", envelope('<c:StartCart xmlns:c="%s"/>' % NS_CART),
               11, CART_ACTION + "StartCart")
    equal(a.status, 200, "plain StartCart")
    cid = a.conversation_id()
    check(cid, "plain StartCart's answer has a pc:ConversationID header")
    check(a.header(NS_WSA, "Action") is None, "no WS-Addressing headers to a client that sent none")
    hdr = '<pc:ConversationID xmlns:pc="%s">%s</pc:ConversationID>' % (NS_PC, cid)
    a = c.post("/services/cart", envelope(
        '<c:AddItem xmlns:c="%s"><c:item>fig</c:item><c:qty>4</c:qty></c:AddItem>' % NS_CART, hdr),
        11, CART_ACTION + "AddItem")
    equal(a.find(NS_CART, "count"), "4", "AddItem with a plain header")
    # No action at all: the body's element chooses the operation.
    a = c.post("/services/cart", envelope('<c:GetCart xmlns:c="%s"/>' % NS_CART, hdr), 11, None)
    equal(a.find(NS_CART, "count"), "4", "GetCart chosen by its body element")
    c.close()


def submission_namespace(node):
    """WS-Addressing 2004/08: the ID as a reference parameter in that namespace."""
    c = Client(node)
    a = c.post("/services/cart", envelope('<c:StartCart xmlns:c="%s"/>' % NS_CART,
                                          wsa_headers(CART_ACTION + "StartCart", wsa=NS_WSA2004,
                                                      to=node.url + "/services/cart")),
               11, CART_ACTION + "StartCart")
    equal(a.status, 200, "StartCart in WS-Addressing 2004/08: %s" % a.raw[:300])
    cid = a.conversation_id()
    check(a.header(NS_WSA2004, "RelatesTo"), "2004/08 answer relates in its own namespace")
    a = c.post("/services/cart", envelope(
        '<c:AddItem xmlns:c="%s"><c:item>kiwi</c:item><c:qty>6</c:qty></c:AddItem>' % NS_CART,
        wsa_headers(CART_ACTION + "AddItem", wsa=NS_WSA2004, to=node.url + "/services/cart", conv=cid)),
        11, CART_ACTION + "AddItem")
    equal(a.find(NS_CART, "count"), "6", "AddItem in 2004/08 with the ID as a reference parameter")
    c.close()


def conversation_faults(node):
    c = Client(node)
    for soap in (11, 12):
        cart = Cart(c, soap=soap)
        a = cart.call("AddItem", '<c:AddItem xmlns:c="%s"><c:item>x</c:item><c:qty>1</c:qty></c:AddItem>'
                      % NS_CART)
        equal(a.fault_code(), "{%s}MissingConversation" % NS_PC, "AddItem with no ID (SOAP 1.%d)" % (soap - 10))
        if soap == 12:
            f = a.fault()
            equal(f[0], "{%s}Sender" % NS_SOAP12, "SOAP 1.2 fault Code")
            equal(a.status, 400, "HTTP status of a SOAP 1.2 Sender fault")
        else:
            equal(a.status, 500, "HTTP status of a SOAP 1.1 fault")
        a = cart.add("x", 1, conv=node.name + ".aaaaaaaaaaaaaaaaaaaaaaaaaa")
        equal(a.fault_code(), "{%s}UnknownConversation" % NS_PC, "an ID never made")
        a = cart.add("x", 1, conv="not an id")
        equal(a.fault_code(), "{%s}UnknownConversation" % NS_PC, "a malformed ID")
        check("not a conversation ID" in a.fault()[2], "the reason says the ID is malformed: %s" % a.fault()[2])
        a = cart.add("x", 1, conv="other.aaaaaaaaaaaaaaaaaaaaaaaaaa")
        equal(a.fault_code(), "{%s}UnknownConversation" % NS_PC, "an ID of another group")
        # A handler's own fault, and nothing stored.
        cart.start()
        a = cart.add("x", 0)
        equal(a.fault_code(), "{%s}Client" % NS_SOAP11 if soap == 11 else "{%s}Sender" % NS_SOAP12,
              "qty 0 is the sender's fault")
        equal(cart.add_ok("x", 2), 2, "the faulted AddItem changed nothing")
    c.close()


def wsa_faults(node):
    c = Client(node)
    # An action the service does not have.
    a = c.post("/services/cart", envelope('<c:AddItem xmlns:c="%s"/>' % NS_CART,
                                          wsa_headers("urn:parley:samples:cart/Nope")), 11)
    equal(a.fault_code(), "{%s}ActionNotSupported" % NS_WSA, "unknown wsa:Action")
    # A duplicated wsa:MessageID.
    hdr = wsa_headers(CART_ACTION + "StartCart") + '<wsa:MessageID xmlns:wsa="%s">urn:x</wsa:MessageID>' % NS_WSA
    a = c.post("/services/cart", envelope('<c:StartCart xmlns:c="%s"/>' % NS_CART, hdr, soap=12), 12)
    f = a.fault()
    equal(f[1], "{%s}InvalidAddressingHeader" % NS_WSA, "duplicate MessageID: subcode")
    check(b"InvalidCardinality" in a.raw, "duplicate MessageID: InvalidCardinality named")
    # WS-Addressing without wsa:MessageID.
    hdr = '<wsa:Action xmlns:wsa="%s">%sStartCart</wsa:Action>' % (NS_WSA, CART_ACTION)
    a = c.post("/services/cart", envelope('<c:StartCart xmlns:c="%s"/>' % NS_CART, hdr), 11)
    equal(a.fault_code(), "{%s}MessageAddressingHeaderRequired" % NS_WSA, "no wsa:MessageID")
    # The body does not match the action.
    a = c.post("/services/cart", envelope('<c:GetCart xmlns:c="%s"/>' % NS_CART,
                                          wsa_headers(CART_ACTION + "StartCart")), 11)
    check(a.fault() is not None and "GetCart" in a.fault()[2], "body/action mismatch: %s" % a.raw[:300])
    # A header we do not know, that must be understood.
    hdr = wsa_headers(CART_ACTION + "StartCart") + \
        '<x:Secret xmlns:x="urn:x" xmlns:s="%s" s:mustUnderstand="1">1</x:Secret>' % NS_SOAP11
    a = c.post("/services/cart", envelope('<c:StartCart xmlns:c="%s"/>' % NS_CART, hdr), 11)
    equal(a.fault_code(), "{%s}MustUnderstand" % NS_SOAP11, "unknown mustUnderstand header")
    # A reply address nothing can be sent to (an http:// one is test_callbacks.py's).
    hdr = wsa_headers(CART_ACTION + "StartCart") + \
        '<wsa:ReplyTo xmlns:wsa="%s"><wsa:Address>ftp://example.com/cb</wsa:Address></wsa:ReplyTo>' % NS_WSA
    a = c.post("/services/cart", envelope('<c:StartCart xmlns:c="%s"/>' % NS_CART, hdr), 11)
    equal(a.fault_code(), "{%s}InvalidAddressingHeader" % NS_WSA, "an ftp:// ReplyTo")
    check("ftp://example.com/cb" in a.fault()[2], "the fault names the address")
    # ReplyTo none: the work is done, the answer is 202 and empty.
    cart = Cart(c)
    cart.start()
    hdr = wsa_headers(CART_ACTION + "AddItem", conv=cart.id) + \
        '<wsa:ReplyTo xmlns:wsa="%s"><wsa:Address>%s/none</wsa:Address></wsa:ReplyTo>' % (NS_WSA, NS_WSA)
    a = c.post("/services/cart", envelope(
        '<c:AddItem xmlns:c="%s"><c:item>a</c:item><c:qty>3</c:qty></c:AddItem>' % NS_CART, hdr), 11)
    equal(a.status, 202, "ReplyTo none is answered 202")
    equal(cart.add_ok("a", 1), 4, "the one-way AddItem was applied")
    c.close()


def fixtures(node):
    """The public WS-Addressing examples, posted as they are, get the standard faults."""
    c = Client(node)
    base = os.path.join(FIXTURES, "axis2", "invalid-cardinality-messages")
    for sub in ("final", "submission"):
        for name in sorted(os.listdir(os.path.join(base, sub))):
            with open(os.path.join(base, sub, name), "rb") as f:
                a = c.post("/services/cart", f.read(), 11)
            want = "InvalidAddressingHeader" if sub == "final" else "InvalidMessageInformationHeader"
            code = a.fault_code() or ""
            check(code.endswith(want), "%s/%s: fault %s, want %s" % (sub, name, code, want))
    with open(os.path.join(FIXTURES, "wsi-bp12", "test119x", "wsa-without-messageid.xml"), "rb") as f:
        a = c.post("/services/cart", f.read(), 11)
    equal(a.fault_code(), "{%s}MessageAddressingHeaderRequired" % NS_WSA, "wsa-without-messageid.xml")
    with open(os.path.join(FIXTURES, "wsi-bp12", "test119x", "wsa-version-mismatch.xml"), "rb") as f:
        a = c.post("/services/cart", f.read(), 11)
    equal(a.fault_code(), "{%s}VersionMismatch" % NS_SOAP11, "wsa-version-mismatch.xml")
    c.close()


def test(wd, nodes):
    node = Node(wd)
    nodes.append(node)
    node.start()
    conversation(node, 11, True)
    conversation(node, 12, True)
    conversation(node, 11, False)
    plain_soap_without_wsa(node)
    submission_namespace(node)
    conversation_faults(node)
    wsa_faults(node)
    fixtures(node)
    equal(node.stop(), 0, "parleyd's exit status after SIGTERM")
    check("stopped" in node.log(), "the log says the node stopped")


run(test)
