#!/usr/bin/python3
"""test_status - GET /parley/status: JSON naming the node, its address, its
store and its services with their operations and phases; the live
conversations per service and in all follow what was started, finished and
refused across both services, and so do the message counters.
max_conversations=3 (both services together): the fourth start gets a
pc:Busy fault (HTTP 503), a retried start is still answered, and after a
Checkout a new start works."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

BUSY = "{%s}Busy" % NS_PC


def shape(node):
    status, ctype, body = node.get("/parley/status")
    equal(status, 200, "status page")
    equal(ctype, "application/json", "status page content type")
    st = json.loads(body)
    equal(st["node"], node.name, "node")
    equal(st["listen"], "127.0.0.1:%d" % node.port, "listen, with the real port")
    equal((st["store"], st["sync"]), ("disk", "write"), "store and sync")
    equal(st["groups"], {"primary": [node.name], "secondary": []}, "groups")
    check(isinstance(st["uptime_ms"], int) and st["uptime_ms"] >= 0, "uptime_ms")
    check(re.match(r"^\d+\.\d+", st["version"]), "version")
    svcs = dict((s["name"], s) for s in st["services"])
    equal(sorted(svcs), ["cart", "tally"], "services")
    for name, ops in (("cart", {"StartCart": "start", "AddItem": "continue", "GetCart": "continue",
                                "Checkout": "finish"}),
                      ("tally", {"StartCart": "start", "AddItem": "continue", "GetCart": "continue",
                                 "Checkout": "finish", "Sleep": "continue", "Echo": "none",
                                 "Notify": "continue"})):
        s = svcs[name]
        equal(s["path"], "/services/" + name, "%s's path" % name)
        equal(s["version"], 1, "%s's version" % name)
        equal(dict((o["name"], o["phase"]) for o in s["operations"]), ops, "%s's operations" % name)
    for k in ("total", "faults", "replayed", "parked", "started", "finished", "expired"):
        check(isinstance(st["messages"][k], int), "messages.%s" % k)
    for k in ("accepted", "requests", "timeouts", "refused", "open", "busy"):
        check(isinstance(st["http"][k], int), "http.%s" % k)
    return st


def counts(node, cart, tally, what):
    st = node.status()
    equal(node.conversations(), {"cart": cart, "tally": tally}, "conversations per service " + what)
    equal(st["conversations"], cart + tally, "conversations in all " + what)
    return st


def follow(node):
    c = Client(node)
    st0 = counts(node, 0, 0, "at first")
    carts = [Cart(c) for _ in range(3)]
    tallies = [Tally(c) for _ in range(2)]
    for x in carts + tallies:
        x.start()
    counts(node, 3, 2, "after 3 + 2 starts")
    for x in carts:
        x.add_ok("a", 1)
    carts[0].checkout()
    counts(node, 2, 2, "after a cart's Checkout")
    tallies[1].checkout()
    counts(node, 2, 1, "after a tally's Checkout")
    # Faults and stateless messages change no count.
    carts[0].add("a", 1)
    Cart(c).add("a", 1, conv=tallies[0].id)
    tallies[0].echo("hi")
    st = counts(node, 2, 1, "after faults and an Echo")
    m0, m = st0["messages"], st["messages"]
    equal(m["started"] - m0["started"], 5, "messages.started")
    equal(m["finished"] - m0["finished"], 2, "messages.finished")
    equal(m["faults"] - m0["faults"], 2, "messages.faults")
    # 5 starts, 3 adds, 2 checkouts, 2 faulted adds, 1 echo.
    equal(m["total"] - m0["total"], 13, "messages.total")
    check(st["http"]["requests"] - st0["http"]["requests"] >= 13, "http.requests counts the POSTs")
    c.close()
    for x in carts[1:]:
        equal(Cart(Client(node)).checkout(conv=x.id).status, 200, "Checkout")
    equal(Tally(Client(node)).checkout(conv=tallies[0].id).status, 200, "Checkout")
    counts(node, 0, 0, "after every Checkout")


def limit(wd, nodes):
    node = Node(wd, name="n2", extra=["max_conversations=3"])
    nodes.append(node)
    node.start()
    c = Client(node)
    a, b = Cart(c), Cart(c)
    t = Tally(c)
    start_id = new_msgid()
    first = a.start(msgid=start_id).raw
    b.start()
    t.start()
    counts(node, 2, 1, "at max_conversations")
    for soap in (11, 12):
        for svc in (Cart(c, soap=soap), Tally(c, soap=soap)):
            r = svc.call("StartCart", '<c:StartCart xmlns:c="%s"/>' % svc.ns)
            equal(r.fault_code(), BUSY, "a start beyond max_conversations (%s, SOAP 1.%d)" % (svc.path, soap - 10))
            equal(r.status, 503, "HTTP status of pc:Busy")
            f = r.fault()
            if soap == 12:
                equal(f[0], "{%s}Receiver" % NS_SOAP12, "pc:Busy is the receiver's fault")
            check("max_conversations" in f[2], "the reason names the limit: %r" % f[2])
            check(r.conversation_id() is None, "a refused start names no conversation")
    counts(node, 2, 1, "after the refused starts")
    # A retried start is answered as before: it starts nothing.
    equal(Cart(c).start(msgid=start_id).raw, first, "a retried start at the limit")
    # The live ones still work.
    equal(a.add_ok("x", 2), 2, "an add at the limit")
    equal(t.add_ok("x", 2), 1002, "a tally add at the limit")
    # A Checkout frees a place.
    equal(b.checkout().status, 200, "a Checkout at the limit")
    counts(node, 1, 1, "after the Checkout")
    n = Tally(c)
    n.start()
    counts(node, 1, 2, "after a new start")
    r = Cart(c).call("StartCart", '<c:StartCart xmlns:c="%s"/>' % NS_CART)
    equal(r.fault_code(), BUSY, "the limit holds again")
    c.close()
    equal(node.stop(), 0, "exit status")


def test(wd, nodes):
    node = Node(wd)
    nodes.append(node)
    node.start()
    shape(node)
    follow(node)
    equal(node.stop(), 0, "exit status")
    # The counts come back from the store after a restart.
    node.start(port=0)
    counts(node, 0, 0, "after a restart")
    c = Client(node)
    Cart(c).start()
    Tally(c).start()
    c.close()
    equal(node.stop(), 0, "exit status")
    node.start(port=0)
    counts(node, 1, 1, "after a restart with live conversations")
    equal(node.stop(), 0, "exit status")
    limit(wd, nodes)


run(test)
