#!/usr/bin/python3
"""test_cluster_manager - a node that is only the manager and three nodes
that use it: 200 conversations through random nodes (150 before and 50
after the manager's restart); zeep calls the manager's WSDL;
a manager restart (kill -9) loses no registration, the nodes register again
with the new incarnation, and the cluster keeps answering."""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

ZEEP_PYTHON = "/usr/bin/python3"


def manager_nodes(m):
    return {n["id"]: n for n in m.status()["manager"]["nodes"]}


def wait_alive(m, names, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        known = manager_nodes(m)
        if all(n in known and known[n]["alive"] for n in names):
            return known
        if time.time() > deadline:
            raise TestFailure("the manager does not know %s as alive: %r" % (names, known))
        time.sleep(0.05)


def traffic(nodes, count, seed):
    rng = random.Random(seed)
    clients = {n.name: Client(n) for n in nodes}
    for i in range(count):
        cart = Cart(clients[rng.choice(nodes).name])
        cart.start()
        total = 0
        for k in range(3):
            qty = rng.randint(1, 5)
            total += qty
            a = Cart(clients[rng.choice(nodes).name]).add("i%d" % k, qty, conv=cart.id)
            check(a.status == 200, "AddItem through a random node: %d %s" % (a.status, a.raw[:300]))
            equal(int(a.find(NS_CART, "count")), total, "count of %s" % cart.id)
        a = Cart(clients[rng.choice(nodes).name]).checkout(conv=cart.id)
        equal(int(a.find(NS_CART, "count")), total, "Checkout of %s" % cart.id)
    for c in clients.values():
        c.close()


ZEEP_SCRIPT = r'''
import sys
from zeep import Client
client = Client(sys.argv[1])
nodes = client.service.ListNodes()
print("nodes", sorted((n.id, n.alive) for n in nodes))
route = client.service.Locate(group="n2")
print("route", route.node, route.address, route.epoch, route.alive)
convs = client.service.ListConversations(service="cart", liveOnly=False)
print("conversations", convs.total)
'''


def zeep_calls_manager(wd, m, nodes):
    if not os.path.exists(ZEEP_PYTHON):
        raise SkipTest("no /usr/bin/python3")
    script = os.path.join(wd, "zeep_manager.py")
    with open(script, "w") as f:
        f.write(ZEEP_SCRIPT)
    out = subprocess.run([ZEEP_PYTHON, script, m.url + "/parley/manager?wsdl"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0 and "No module named 'zeep'" in out.stderr:
        if os.environ.get("PARLEY_REQUIRE_CLIENTS") == "1":
            raise TestFailure("zeep is missing: apt-get install python3-zeep")
        raise SkipTest("zeep is not installed")
    check(out.returncode == 0, "the zeep client of the manager failed:\n%s%s" % (out.stdout, out.stderr))
    lines = dict(l.split(" ", 1) for l in out.stdout.strip().splitlines())
    check("('n1', True)" in lines["nodes"] and "('n3', True)" in lines["nodes"],
          "zeep's ListNodes: %s" % lines["nodes"])
    n2 = [n for n in nodes if n.name == "n2"][0]
    check(lines["route"].startswith("n2 %s 1 True" % n2.url), "zeep's Locate: %s" % lines["route"])
    check(int(lines["conversations"]) >= 30, "zeep's ListConversations total: %s" % lines["conversations"])
    print("zeep: %s" % "; ".join("%s %s" % kv for kv in lines.items()))


def test(wd, nodes):
    m = Node(wd, name="mgr", store="memory", extra=["role=manager", "heartbeat_interval=200ms"])
    nodes.append(m)
    m.start()
    url = m.url + "/parley/manager"
    cluster = []
    for name in ("n1", "n2", "n3"):
        n = Node(wd, name=name, store="memory", extra=["manager=" + url])
        nodes.append(n)
        n.start()
        cluster.append(n)
    wait_alive(m, ["n1", "n2", "n3"])
    check(m.status()["role"] == "manager", "the manager node says its role")
    traffic(cluster, 150, 1)
    zeep_calls_manager(wd, m, cluster)

    # The manager dies and comes back: it still knows every node, and the nodes
    # register again when its heartbeats bring the new incarnation.
    registers = {n.name: n.status()["cluster"]["manager_calls"]["register_node"] for n in cluster}
    old = m.status()["manager"]["incarnation"]
    m.kill9()
    m.start(port=m.port)
    known = manager_nodes(m)
    equal(sorted(known), ["n1", "n2", "n3"], "nodes the restarted manager knows at once")
    check(m.status()["manager"]["incarnation"] != old, "a restarted manager has a new incarnation")
    wait_alive(m, ["n1", "n2", "n3"])
    deadline = time.time() + 5
    while time.time() < deadline:
        again = {n.name: n.status()["cluster"]["manager_calls"]["register_node"] for n in cluster}
        if all(again[k] > registers[k] for k in registers):
            break
        time.sleep(0.05)
    check(all(again[k] > registers[k] for k in registers),
          "every node registered again after the manager's restart: %r -> %r" % (registers, again))
    traffic(cluster, 50, 2)
    for n in nodes:
        equal(n.stop(), 0, "exit status of %s" % n.name)


run(test)
