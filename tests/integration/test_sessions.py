#!/usr/bin/python3
"""test_sessions - conversations that share one bean (joined sessions).

A cart started with a pc:JoinConversation header naming another cart's ID
joins that cart's session: its own ID names the session, both IDs reach one
bean, and messages through both are taken one at a time (concurrent adds
through both give exact totals). A retried joining start gets the same ID.
Joining what is not an ID, an unknown conversation or a session with no live
conversation is a Sender fault that stores nothing. Finishing one member
leaves the bean to the other; the bean goes with the last. In a cluster, a
joining start sent to another node is run where the bean is, and the joined
ID is then served through any node."""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

THREADS = 8
ADDS = 25


def join_header(other):
    return '<pc:JoinConversation xmlns:pc="%s">%s</pc:JoinConversation>' % (NS_PC, other)


def start_joined(cart, other, msgid=None):
    """Start cart's conversation in other's session; returns the answer."""
    a = cart.call("StartCart", '<c:StartCart xmlns:c="%s"/>' % cart.ns, msgid=msgid,
                  extra_headers=join_header(other))
    if a.status == 200:
        cart.id = a.conversation_id()
    return a


def fault_of(a, what):
    check(a.status in (400, 500), "%s answered %d, not a fault: %s" % (what, a.status, a.raw[:300]))
    return a.fault_code() or ""


def concurrent_adds(node_a, node_b, id_a, id_b):
    """THREADS threads, half through each ID (and node), ADDS adds each; returns the sum added."""
    errors = []
    sums = [0] * THREADS

    def adder(k):
        try:
            cl = Client(node_a if k % 2 == 0 else node_b)
            cart = Cart(cl)
            cart.id = id_a if k % 2 == 0 else id_b
            for i in range(ADDS):
                qty = 1 + (k + i) % 5
                cart.add_ok("item%d" % (k % 3), qty)
                sums[k] += qty
            cl.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("thread %d: %s" % (k, e))

    threads = [threading.Thread(target=adder, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(not any(t.is_alive() for t in threads), "adders still running after 60 s")
    check(not errors, "; ".join(errors[:3]))
    return sum(sums)


def one_node(wd, nodes):
    n1 = Node(wd, name="n1", store="disk")
    nodes.append(n1)
    n1.start()
    c = Client(n1)
    a = Cart(c)
    a.start()
    a.add_ok("apple", 2)

    # Joining: the new ID is the session's with a member part of its own.
    b = Cart(c)
    msgid = new_msgid()
    ans = start_joined(b, a.id, msgid)
    check(ans.status == 200, "the joining StartCart answered %d: %s" % (ans.status, ans.raw[:400]))
    check(b.id.startswith(a.id + ".") and len(b.id) == len(a.id) + 27,
          "the joined ID %r names the session %r" % (b.id, a.id))
    equal(b.count(), 2, "the joined cart sees the first cart's bean")
    # The same start again (a retry): the same conversation, not a third member.
    again = Cart(c)
    ans = start_joined(again, a.id, msgid)
    equal(ans.status, 200, "the retried joining start's status")
    equal(again.id, b.id, "a retried joining start answers the same ID")

    # A change through either ID is seen through the other.
    equal(b.add_ok("pear", 3), 5, "AddItem through the joined ID counts on the shared bean")
    equal(a.count(), 5, "the first cart sees the joined cart's add")
    equal(a.items(), {"apple": 2, "pear": 3}, "the items, through the first ID")
    equal(b.items(), {"apple": 2, "pear": 3}, "the items, through the joined ID")

    added = concurrent_adds(n1, n1, a.id, b.id)
    equal(a.count(), 5 + added, "the count after %d concurrent adds through both IDs"
          % (THREADS * ADDS))
    equal(b.count(), 5 + added, "the same count through the joined ID")

    # Joins that cannot be: nothing stored, a clear fault.
    before = n1.conversations()
    x = Cart(c)
    code = fault_of(start_joined(x, "not-an-id"), "a join of 'not-an-id'")
    check(code.endswith("UnknownConversation"), "joining 'not-an-id' faults %s" % code)
    unknown = a.id.split(".")[0] + "." + "a" * 26
    code = fault_of(start_joined(x, unknown), "a join of an unknown conversation")
    check(code.endswith("UnknownConversation"), "joining an unknown ID faults %s" % code)
    ans = a.call("AddItem", '<c:AddItem xmlns:c="%s"><c:item>x</c:item><c:qty>1</c:qty></c:AddItem>'
                 % a.ns, conv=a.id, extra_headers=join_header(b.id))
    code = fault_of(ans, "pc:JoinConversation on AddItem")
    check(code.endswith("InvalidJoin"), "pc:JoinConversation on a continue operation faults %s"
          % code)
    equal(a.count(), 5 + added, "the refused AddItem changed nothing")
    equal(n1.conversations(), before, "live conversations after refused joins")

    # The first finishes: the joined one keeps the bean.
    ans = a.checkout()
    equal(ans.status, 200, "Checkout of the first cart")
    total = 5 + added
    equal(b.count(), total, "the joined cart keeps the bean after the first finished")
    ans = a.get()
    check(ans.status != 200, "the finished first cart still answers GetCart")
    # A third cart can still join through the live member.
    third = Cart(c)
    ans = start_joined(third, b.id)
    check(ans.status == 200, "joining through a live member answered %d: %s"
          % (ans.status, ans.raw[:300]))
    check(third.id.startswith(a.id + "."), "a join through a member joins its session")
    equal(third.count(), total, "the third member sees the bean")
    equal(b.checkout().status, 200, "Checkout of the joined cart")
    equal(third.count(), total, "the last member still has the bean")
    equal(third.checkout().status, 200, "Checkout of the last member")
    # Nobody is left: the session cannot be joined.
    code = fault_of(start_joined(Cart(c), a.id), "a join of an ended session")
    check(code.endswith("UnknownConversation"), "joining an ended session faults %s" % code)
    c.close()
    n1.stop()


def two_nodes(wd, nodes):
    n1 = Node(wd, name="c1", store="memory", extra=["manager=embedded",
                                                    "heartbeat_interval=200ms"])
    nodes.append(n1)
    n1.start()
    n2 = Node(wd, name="c2", store="memory", extra=["manager=" + n1.url + "/parley/manager",
                                                    "heartbeat_interval=200ms"])
    nodes.append(n2)
    n2.start()
    wait_until("both nodes registered",
               lambda: len(n1.status().get("manager", {}).get("nodes", [])) == 2)
    c1, c2 = Client(n1), Client(n2)
    a = Cart(c1)
    a.start()
    check(a.id.startswith("c1."), "a cart started on c1 is of group c1: %s" % a.id)
    a.add_ok("fig", 4)
    # The joining start goes to c2: it is run on c1, where the bean is.
    b = Cart(c2)
    ans = start_joined(b, a.id)
    check(ans.status == 200, "the joining start through c2 answered %d: %s"
          % (ans.status, ans.raw[:400]))
    check(b.id.startswith(a.id + "."), "the joined ID is in the bean's session: %s" % b.id)
    equal(b.count(), 4, "the joined cart, through c2, sees the bean on c1")
    added = concurrent_adds(n1, n2, a.id, b.id)
    equal(a.count(), 4 + added, "the count through c1 after concurrent adds through both nodes")
    equal(b.count(), 4 + added, "the count through c2")
    c1.close()
    c2.close()


def test(wd, nodes):
    one_node(wd, nodes)
    two_nodes(wd, nodes)


if __name__ == "__main__":
    run(test)
