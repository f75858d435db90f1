#!/usr/bin/python3
"""test_two_services - the cart and the tally in one node. Both modules have
the same operation names and the same XML prefix ("cart"), in different
namespaces: each conversation gets its own service's semantics (the tally's
AddItem answers 1000 + total), also when both are used at once from several
threads; a conversation ID of one service sent to the other is refused
(pc:UnknownConversation, naming the owner) and changes nothing; one
service's body or action sent to the other's path is refused."""

import os
import random
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

UNKNOWN = "{%s}UnknownConversation" % NS_PC


def interleaved(node):
    c = Client(node)
    cart, tally = Cart(c), Tally(c)
    cart.start()
    a = tally.start()
    equal(a.find(NS_TALLY, "conversationId"), tally.id, "tally's StartCart body, in the tally namespace")
    check(a.find(NS_CART, "conversationId") is None, "tally's answer uses no cart element")
    equal(a.header(NS_WSA, "Action"), "urn:parley:tests:tally:StartCartResponse", "tally's reply action")
    check(cart.id != tally.id, "two conversations, two IDs")
    want_cart, want_tally = 0, 0
    for qty in (2, 3, 7):
        want_cart += qty
        want_tally += qty
        equal(cart.add_ok("pear", qty), want_cart, "cart's AddItem answers its total")
        equal(tally.add_ok("pear", qty), 1000 + want_tally, "tally's AddItem answers 1000 + its total")
    equal(cart.items(), {"pear": 12}, "cart's lines")
    equal(cart.count(), 12, "cart's GetCart")
    equal(tally.count(), 12, "tally's GetCart")
    # The same in SOAP 1.2.
    t12 = Tally(c, soap=12)
    t12.start()
    equal(t12.add_ok("x", 5), 1005, "tally in SOAP 1.2")
    a = t12.echo("hello")
    equal((a.status, a.find(NS_TALLY, "EchoResponse")), (200, "hello"), "tally's stateless Echo")
    c.close()
    return cart, tally


def crossed_ids(node, cart, tally):
    c = Client(node)
    before = (cart.count(), tally.count())
    # A cart ID in a tally message, and the other way round, with each operation.
    for op in ("add", "get", "checkout"):
        x = Tally(c)
        a = x.add("pear", 1, conv=cart.id) if op == "add" else x.get(cart.id) if op == "get" \
            else x.checkout(conv=cart.id)
        equal(a.fault_code(), UNKNOWN, "tally %s with a cart ID" % op)
        reason = a.fault()[2]
        check("belongs to service cart, not tally" in reason, "the reason names the owner: %r" % reason)
        equal(a.conversation_id(), cart.id, "the fault names the conversation")
        y = Cart(c)
        a = y.add("pear", 1, conv=tally.id) if op == "add" else y.get(tally.id) if op == "get" \
            else y.checkout(conv=tally.id)
        equal(a.fault_code(), UNKNOWN, "cart %s with a tally ID" % op)
        check("belongs to service tally, not cart" in a.fault()[2], "the reason names the tally")
    x = Tally(c)
    a = x.sleep(1, conv=cart.id)
    equal(a.fault_code(), UNKNOWN, "tally Sleep with a cart ID")
    equal((cart.count(), tally.count()), before, "crossed IDs changed neither conversation")
    # Both conversations are still alive (the crossed Checkout ended neither).
    st = node.status()
    per = dict((s["name"], s["conversations"]) for s in st["services"])
    check(per["cart"] >= 1 and per["tally"] >= 1, "both services still hold conversations: %r" % per)


def crossed_messages(node, cart):
    c = Client(node)
    # The cart's AddItem element (cart namespace) posted to the tally.
    body = '<c:AddItem xmlns:c="%s"><c:item>a</c:item><c:qty>1</c:qty></c:AddItem>' % NS_CART
    a = c.post("/services/tally", envelope(body, '<pc:ConversationID xmlns:pc="%s">%s</pc:ConversationID>'
                                           % (NS_PC, cart.id)), 11)
    check(a.fault() is not None, "a cart element at the tally is refused: %s" % a.raw[:300])
    check("tally has no operation that takes {%s}AddItem" % NS_CART in a.fault()[2],
          "the reason names the element: %r" % a.fault()[2])
    # The cart's action at the tally.
    a = c.post("/services/tally", envelope(body, wsa_headers(CART_ACTION + "AddItem", conv=cart.id)), 11)
    equal(a.fault_code(), "{%s}ActionNotSupported" % NS_WSA, "the cart's action at the tally")
    # The tally's action at the cart.
    a = c.post("/services/cart", envelope(body, wsa_headers(tally_action("AddItem"), conv=cart.id)), 11)
    equal(a.fault_code(), "{%s}ActionNotSupported" % NS_WSA, "the tally's action at the cart")
    # The tally's element with the cart's action.
    tbody = '<c:AddItem xmlns:c="%s"><c:item>a</c:item><c:qty>1</c:qty></c:AddItem>' % NS_TALLY
    a = c.post("/services/cart", envelope(tbody, wsa_headers(CART_ACTION + "AddItem", conv=cart.id)), 11)
    check(a.fault() is not None and "Body holds {%s}AddItem" % NS_TALLY in a.fault()[2],
          "the tally's element under the cart's action: %s" % a.raw[:300])
    # Routed by wsa:To alone (a path that names no service).
    hdr = wsa_headers(tally_action("Echo"), to=node.url + "/services/tally")
    a = c.post("/soap", envelope('<c:Echo xmlns:c="%s"><c:text>to</c:text></c:Echo>' % NS_TALLY, hdr), 11)
    equal((a.status, a.find(NS_TALLY, "EchoResponse")), (200, "to"), "a message routed by wsa:To")
    c.close()


def concurrent(node):
    """Both modules at once on several threads: every answer has its own service's semantics."""
    errors = []

    def worker(k):
        try:
            c = Client(node)
            svc = Cart(c) if k % 2 == 0 else Tally(c, soap=11 if k % 4 < 2 else 12)
            svc.start()
            total = 0
            rnd = random.Random(k)
            for i in range(25):
                qty = rnd.randint(1, 9)
                total += qty
                got = svc.add_ok("item%d" % (i % 3), qty)
                want = total if isinstance(svc, Tally) is False else 1000 + total
                if got != want:
                    errors.append("thread %d (%s): AddItem answered %d, want %d"
                                  % (k, svc.path, got, want))
                    return
                if isinstance(svc, Tally) and i % 5 == 0:
                    a = svc.echo("t%d-%d" % (k, i))
                    if a.find(NS_TALLY, "EchoResponse") != "t%d-%d" % (k, i):
                        errors.append("thread %d: Echo answered %s" % (k, a.raw[:200]))
                        return
            if svc.count() != total:
                errors.append("thread %d: GetCart %d, want %d" % (k, svc.count(), total))
            a = svc.checkout()
            if a.status != 200 or int(a.find(svc.ns, "count")) != total:
                errors.append("thread %d: Checkout answered %s" % (k, a.raw[:200]))
            c.close()
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append("thread %d: %r" % (k, e))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(not any(t.is_alive() for t in threads), "the threads finished")
    check(not errors, "; ".join(errors[:5]))


def test(wd, nodes):
    node = Node(wd, extra=["workers=4"])
    nodes.append(node)
    node.start()
    cart, tally = interleaved(node)
    crossed_ids(node, cart, tally)
    crossed_messages(node, cart)
    concurrent(node)
    # Each ends with its own semantics too.
    c = Client(node)
    a = Cart(c).checkout(conv=cart.id)
    equal(int(a.find(NS_CART, "count")), 12, "cart's Checkout")
    a = Tally(c).checkout(conv=tally.id)
    equal(int(a.find(NS_TALLY, "count")), 12, "tally's Checkout")
    st = node.status()
    per = dict((s["name"], s["conversations"]) for s in st["services"])
    equal(per, {"cart": 0, "tally": 1}, "conversations left per service (the SOAP 1.2 tally)")
    equal(node.stop(), 0, "exit status")


run(test)
