#!/usr/bin/python3
"""test_retry - a message sent again with the same wsa:MessageID gets its
first answer instead of running twice. The same AddItem twice: the same
bytes, the count grows once (also when the copies race on eight connections,
and in SOAP 1.2). retry_keep=3: the three newest answers of a conversation are
replayed, the fourth-oldest runs again. A MessageID is kept per conversation:
reused on another conversation it runs there. A retried StartCart gets the same
conversation; a retried Checkout after the end gets its first answer, while
a new message to the ended conversation is pc:UnknownConversation. The status
page counts the replays."""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

UNKNOWN = "{%s}UnknownConversation" % NS_PC


def replayed(node):
    return node.status()["messages"]["replayed"]


def same_message_twice(node, c):
    cart = Cart(c)
    cart.start()
    r0 = replayed(node)
    msgid = new_msgid()
    a = cart.add("apple", 3, msgid=msgid)
    equal(a.find(NS_CART, "count"), "3", "the first AddItem")
    b = cart.add("apple", 3, msgid=msgid)
    equal(b.status, 200, "the retried AddItem's status")
    equal(b.raw, a.raw, "the retried AddItem gets the byte-identical answer")
    equal(b.content_type, a.content_type, "and the same Content-Type")
    equal(cart.count(), 3, "the count grew once")
    # From another connection, too.
    c2 = Client(node)
    b = Cart(c2).add("apple", 3, msgid=msgid, conv=cart.id)
    equal(b.raw, a.raw, "the retry from another connection")
    c2.close()
    equal(cart.items(), {"apple": 3}, "the cart after two retries")
    equal(replayed(node) - r0, 2, "the status page counted two replays")
    # A different MessageID is a new message.
    equal(cart.add_ok("apple", 3), 6, "the same body with a new MessageID runs")
    # SOAP 1.2: the answer is replayed in its own version.
    c12 = Cart(c, soap=12)
    c12.start()
    msgid = new_msgid()
    a = c12.add("pear", 2, msgid=msgid)
    b = c12.add("pear", 2, msgid=msgid)
    equal((b.raw, b.content_type), (a.raw, a.content_type), "a retried SOAP 1.2 AddItem")
    check(b.content_type.startswith("application/soap+xml"), "replayed with the SOAP 1.2 type")
    equal(c12.count(), 2, "the SOAP 1.2 cart grew once")
    # A handler's fault is not kept: the same MessageID runs again.
    msgid = new_msgid()
    f = cart.add("apple", 0, msgid=msgid)
    check(f.fault() is not None, "qty 0 is a fault")
    r1 = replayed(node)
    f2 = cart.add("apple", 0, msgid=msgid)
    check(f2.fault() is not None, "qty 0 again is a fault")
    equal(replayed(node), r1, "a fault is not replayed (nothing was stored)")
    equal(cart.count(), 6, "the faults changed nothing")


def racing_copies(node):
    c = Client(node)
    cart = Cart(c)
    cart.start()
    msgid = new_msgid()
    answers = [None] * 8
    barrier = threading.Barrier(8)
    errors = []

    def send(k):
        try:
            cl = Client(node)
            barrier.wait(10)
            answers[k] = Cart(cl).add("plum", 5, msgid=msgid, conv=cart.id).raw
            cl.close()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=send, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    check(not errors, "; ".join(errors[:3]))
    equal(len(set(answers)), 1, "eight racing copies of one message got one answer")
    check(b"<cart:count>5</cart:count>" in answers[0] or b">5<" in answers[0], "that answer is 5: %r" % answers[0])
    equal(cart.count(), 5, "eight racing copies added once")
    c.close()


def retry_keep(node, c):
    """The node runs with retry_keep=3."""
    cart = Cart(c)
    cart.start()
    ids = [new_msgid() for _ in range(4)]
    first = []
    for k, msgid in enumerate(ids):
        a = cart.add("i%d" % k, k + 1, msgid=msgid)
        equal(a.status, 200, "AddItem %d" % k)
        first.append(a.raw)
    total = 1 + 2 + 3 + 4
    equal(first[3].count(b">%d<" % total), 1, "four adds")
    # The three newest are kept (the oldest of them first, as it is the next to go);
    # no other message may go in between, as every answered message takes a place.
    r0 = replayed(node)
    for k in (1, 2, 3):
        a = cart.add("i%d" % k, k + 1, msgid=ids[k])
        equal(a.raw, first[k], "message %d of 4 is replayed with retry_keep=3" % (k + 1))
    equal(replayed(node) - r0, 3, "three replays counted")
    equal(cart.count(), total, "the replays changed nothing")
    # The fourth-oldest is forgotten: it runs again.
    a = cart.add("i0", 1, msgid=ids[0])
    equal(a.status, 200, "the forgotten message's status")
    check(a.raw != first[0], "the 4th-oldest message id is not replayed any more")
    equal(a.find(NS_CART, "count"), str(total + 1), "it ran again")
    equal(replayed(node) - r0, 3, "running it again is no replay")
    # Running it pushed ids[1] out of the ring.
    a = cart.add("i1", 2, msgid=ids[1])
    equal(a.find(NS_CART, "count"), str(total + 3), "the next oldest is now forgotten too")
    # A GetCart is a message like any other and takes its place in the ring.
    g = new_msgid()
    a = cart.call("GetCart", '<c:GetCart xmlns:c="%s"/>' % NS_CART, conv=cart.id, msgid=g)
    b = cart.call("GetCart", '<c:GetCart xmlns:c="%s"/>' % NS_CART, conv=cart.id, msgid=g)
    equal(b.raw, a.raw, "a retried GetCart gets its first answer")


def msgid_per_conversation(node, c):
    one, two = Cart(c), Cart(c)
    one.start()
    two.start()
    msgid = new_msgid()
    equal(one.add("a", 2, msgid=msgid).find(NS_CART, "count"), "2", "the MessageID on one conversation")
    a = two.add("a", 7, msgid=msgid)
    equal(a.find(NS_CART, "count"), "7", "the same MessageID on another conversation runs there")
    equal(a.conversation_id(), two.id, "and answers for that conversation")
    equal((one.count(), two.count()), (2, 7), "each conversation has its own")


def retried_start(node, c):
    before = node.conversations()["cart"]
    msgid = new_msgid()
    x = Cart(c)
    a = x.start(msgid=msgid)
    a_first = a.raw
    y = Cart(c)
    b = y.start(msgid=msgid)
    equal(y.id, x.id, "a retried StartCart returns the same conversation ID")
    equal(b.raw, a.raw, "a retried StartCart gets the byte-identical answer")
    equal(node.conversations()["cart"], before + 1, "the retried StartCart started one conversation")
    equal(x.add_ok("a", 1), 1, "that conversation works")
    # The same MessageID at the other service is not a retry: the cart's answer (and its
    # conversation ID) must not go to the tally's client. Regression: it was replayed.
    t = Tally(c)
    a = t.call("StartCart", '<c:StartCart xmlns:c="%s"/>' % NS_TALLY, msgid=msgid)
    check(x.id.encode() not in a.raw, "the cart's StartCart answer was replayed at the tally: %s" % a.raw[:300])
    equal(a.fault_code(), "{%s}Client" % NS_SOAP11, "the cart's start MessageID sent to the tally")
    check("already started a conversation of another service" in a.fault()[2],
          "the reason says the MessageID is taken: %r" % a.fault()[2])
    equal(node.conversations()["tally"], 0, "nothing started at the tally")
    b = Cart(c).start(msgid=msgid)
    equal(b.raw, a_first, "the cart's start is still replayed afterwards")
    # Racing copies of one StartCart make one conversation.
    msgid = new_msgid()
    got = [None] * 6
    barrier = threading.Barrier(6)

    def start(k):
        cl = Client(node)
        barrier.wait(10)
        s = Cart(cl)
        s.start(msgid=msgid)
        got[k] = s.id
        cl.close()

    threads = [threading.Thread(target=start, args=(k,)) for k in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    check(None not in got, "every racing StartCart was answered: %r" % got)
    equal(len(set(got)), 1, "six racing copies of one StartCart made one conversation")


def retried_checkout(node, c):
    cart = Cart(c)
    cart.start()
    add_id = new_msgid()
    add = cart.add("apple", 4, msgid=add_id)
    msgid = new_msgid()
    a = cart.checkout(msgid=msgid)
    equal(a.find(NS_CART, "count"), "4", "Checkout's answer")
    r0 = replayed(node)
    b = cart.checkout(msgid=msgid)
    equal(b.raw, a.raw, "a retried Checkout after the end gets its first answer")
    equal(replayed(node) - r0, 1, "that was a replay")
    # A message sent before the end, retried after it, still gets its answer.
    b = cart.add("apple", 4, msgid=add_id)
    equal(b.raw, add.raw, "an AddItem retried after the end gets its first answer")
    # A new message to the ended conversation is refused.
    f = cart.checkout()
    equal(f.fault_code(), UNKNOWN, "a new Checkout to the ended conversation")
    f = cart.add("apple", 1)
    equal(f.fault_code(), UNKNOWN, "a new AddItem to the ended conversation")
    check("ended" in f.fault()[2], "the reason says it ended: %r" % f.fault()[2])


def test(wd, nodes):
    node = Node(wd, extra=["retry_keep=3", "workers=4"])
    nodes.append(node)
    node.start()
    c = Client(node)
    same_message_twice(node, c)
    racing_copies(node)
    retry_keep(node, c)
    msgid_per_conversation(node, c)
    retried_start(node, c)
    retried_checkout(node, c)
    c.close()
    equal(node.stop(), 0, "exit status")


run(test)
