#!/usr/bin/python3
"""test_cluster - three real nodes with the manager embedded in n1: any node
accepts any message of any conversation; owners answer without calling the
manager; other nodes ask it once per group; a stale route is corrected
through pc:Moved; a forwarding loop is answered, not followed; a node killed
with SIGKILL is marked dead in time and alive again after its restart."""

import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

INTERVAL_MS = 200
MISSES = 3


def start_cluster(wd, nodes, store="memory"):
    n1 = Node(wd, name="n1", store=store, extra=["manager=embedded",
                                                  "heartbeat_interval=%dms" % INTERVAL_MS,
                                                  "heartbeat_misses=%d" % MISSES])
    nodes.append(n1)
    n1.start()
    manager = n1.url + "/parley/manager"
    others = []
    for name in ("n2", "n3"):
        n = Node(wd, name=name, store=store, extra=["manager=" + manager,
                                                     "heartbeat_interval=%dms" % INTERVAL_MS])
        nodes.append(n)
        n.start()
        others.append(n)
    wait_registered(n1, ["n1", "n2", "n3"])
    return [n1] + others


def manager_nodes(manager_node):
    return {n["id"]: n for n in manager_node.status()["manager"]["nodes"]}


def wait_registered(manager_node, names, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        known = manager_nodes(manager_node)
        if all(n in known and known[n]["alive"] for n in names):
            return known
        if time.time() > deadline:
            raise TestFailure("the manager does not know %s as alive after %.0f s: %r"
                              % (names, timeout, known))
        time.sleep(0.05)


def locate_calls(node):
    return node.status()["cluster"]["manager_calls"]["locate"]


def conversations_everywhere(nodes):
    """200 conversations started on random nodes, continued and checked out through others."""
    rng = random.Random(7)
    clients = {n.name: Client(n) for n in nodes}
    carts = []
    for i in range(200):
        starter = rng.choice(nodes)
        c = Cart(clients[starter.name])
        c.start()
        check(c.id.startswith(starter.name + "."), "a conversation started on %s is of its group: %s"
              % (starter.name, c.id))
        carts.append((c, rng.randint(1, 4)))
    expected = {}
    for c, adds in carts:
        total = 0
        for k in range(adds):
            via = rng.choice(nodes)
            qty = rng.randint(1, 9)
            total += qty
            a = Cart(clients[via.name]).add("item%d" % k, qty, conv=c.id)
            check(a.status == 200, "AddItem of %s through %s answered %d: %s"
                  % (c.id, via.name, a.status, a.raw[:300]))
            equal(int(a.find(NS_CART, "count")), total, "count of %s after an add through %s"
                  % (c.id, via.name))
            equal(a.conversation_id(), c.id, "the relayed answer names the conversation")
        expected[c.id] = total
    for c, _ in carts:
        via = rng.choice(nodes)
        a = Cart(clients[via.name]).checkout(conv=c.id)
        check(a.status == 200, "Checkout of %s through %s answered %d" % (c.id, via.name, a.status))
        equal(int(a.find(NS_CART, "count")), expected[c.id], "Checkout count of %s" % c.id)
    for cl in clients.values():
        cl.close()
    # Every node asked the manager at most once per group it does not own.
    for n in nodes:
        calls = locate_calls(n)
        check(calls <= 2, "node %s called Locate %d times for 2 foreign groups" % (n.name, calls))
    print("200 conversations through random nodes: counts right; Locate calls %s"
          % {n.name: locate_calls(n) for n in nodes})


def owner_needs_no_manager(nodes):
    n2 = nodes[1]
    c = Client(n2)
    cart = Cart(c)
    cart.start()
    before = locate_calls(n2)
    for i in range(50):
        cart.add_ok("x", 1)
    cart.get()
    cart.checkout()
    equal(locate_calls(n2), before, "Locate calls of the owner over 52 messages of its own")
    c.close()


def forwarded_answer_is_unchanged(nodes):
    """The answer relayed by a non-owner is byte for byte the owner's answer to a retry."""
    n1, n2 = nodes[0], nodes[1]
    c1, c2 = Client(n1), Client(n2)
    cart = Cart(c2)
    cart.start()
    msgid = new_msgid()
    relayed = Cart(c1).add("pear", 3, msgid=msgid, conv=cart.id)
    direct = Cart(c2).add("pear", 3, msgid=msgid, conv=cart.id)
    equal(relayed.status, 200, "relayed AddItem")
    equal(relayed.raw, direct.raw, "the relayed answer equals the owner's (replayed) answer")
    equal(relayed.content_type, direct.content_type, "content type relayed")
    check(relayed.header(NS_WSA, "RelatesTo") == msgid, "wsa:RelatesTo survives the relay")
    # A fault of the owner comes back as it is too.
    a = Cart(c1).add("pear", 0, conv=cart.id)
    equal(a.status, 500, "a relayed fault's HTTP status")
    check("qty" in (a.fault() or ("", "", ""))[2], "the owner's fault reason is relayed: %r" % (a.fault(),))
    c1.close()
    c2.close()


def loop_is_answered(nodes):
    n1, n2, n3 = nodes
    c = Client(n3)
    cart = Cart(c)
    cart.start()
    body = envelope('<c:GetCart xmlns:c="%s"/>' % NS_CART,
                    wsa_headers(CART_ACTION + "GetCart", conv=cart.id))
    # As if n1 had forwarded to n2, which forwarded back to n1.
    a = Client(n1).post("/services/cart", body, 11, CART_ACTION + "GetCart",
                        headers={"X-Parley-Via": "n1, n2"})
    equal(a.fault_code(), "{%s}ForwardLoop" % NS_PC, "a message that comes back to a node it passed")
    check(a.status == 500, "loop fault status %d" % a.status)
    # A forwarded message at a node that is not the owner: pc:Moved naming the owner.
    a = Client(n1).post("/services/cart", body, 11, CART_ACTION + "GetCart",
                        headers={"X-Parley-Via": "n2"})
    equal(a.fault_code(), "{%s}Moved" % NS_PC, "a forwarded message at a non-owner")
    check("n3" in a.fault()[2] and n3.url in a.fault()[2], "pc:Moved names the owner: %s" % a.fault()[2])
    c.close()


def moved_after_owner_changes(wd, nodes):
    """n2's route is cached by n1; n2 restarts elsewhere and another node takes its old port:
    n1's relay reaches the wrong node, which answers pc:Moved; n1 asks again and retries once."""
    n1, n2, n3 = nodes
    c1 = Client(n1)
    cart = Cart(Client(n2))
    cart.start()
    equal(cart.add_ok("a", 2), 2, "first add on n2")
    equal(int(Cart(c1).add("a", 1, conv=cart.id).find(NS_CART, "count")), 3,
          "an add through n1, which now caches n2's route")
    old_port = n2.port
    n2.kill9()
    n2.start(port=0)                                   # n2, same data, a new port
    check(n2.port != old_port, "n2 restarted on a new port")
    intruder = Node(wd, name="n4", store="memory", extra=["manager=" + n1.url + "/parley/manager"])
    nodes.append(intruder)
    intruder.start(port=old_port)
    wait_registered(n1, ["n2", "n4"])
    before = n1.status()["cluster"]["manager_calls"]["locate"]
    a = Cart(c1).add("a", 1, conv=cart.id)
    equal(a.status, 200, "the add after the owner moved: %s" % a.raw[:400])
    equal(int(a.find(NS_CART, "count")), 4, "the count survived n2's restart (disk store)")
    after = n1.status()["cluster"]["manager_calls"]["locate"]
    check(after - before <= 1, "n1 asked the manager again at most once (%d)" % (after - before))
    routes = {r["group"]: r for r in n1.status()["cluster"]["routes"]}
    equal(routes["n2"]["address"], n2.url, "n1's cached route to group n2 is the new address")
    c1.close()


def dead_and_alive(nodes):
    n1, n3 = nodes[0], nodes[2]
    limit = (INTERVAL_MS * MISSES + INTERVAL_MS) / 1000.0
    n3.kill9()
    t0 = time.time()
    while manager_nodes(n1)["n3"]["alive"]:
        if time.time() - t0 > limit + 2:
            break
        time.sleep(0.02)
    took = time.time() - t0
    check(not manager_nodes(n1)["n3"]["alive"], "n3 is still alive %.2f s after SIGKILL" % took)
    # The poll adds its own 20 ms and a status call; allow 100 ms of that over the limit.
    check(took <= limit + 0.1, "n3 was marked dead %.3f s after SIGKILL; the limit is %.3f s"
          % (took, limit))
    n3.start()
    t0 = time.time()
    wait_registered(n1, ["n3"], timeout=5)
    print("n3 marked dead %.3f s after SIGKILL (limit %.3f s), alive again %.3f s after its restart"
          % (took, limit, time.time() - t0))


def test(wd, nodes):
    cluster = start_cluster(wd, nodes, store="disk")
    conversations_everywhere(cluster)
    owner_needs_no_manager(cluster)
    forwarded_answer_is_unchanged(cluster)
    loop_is_answered(cluster)
    moved_after_owner_changes(wd, nodes)      # it adds n4 to the nodes run() stops
    dead_and_alive(cluster)
    for n in nodes:
        if n.proc is not None:
            equal(n.stop(), 0, "exit status of %s" % n.name)


run(test)
