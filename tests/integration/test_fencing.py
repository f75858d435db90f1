#!/usr/bin/python3
"""test_fencing - three real nodes with store = replicated.

Fencing: n3 is frozen with SIGSTOP under load; the manager marks it dead,
waits until its lease is over and makes its group's secondary the primary.
When n3 wakes up it serves nothing of its old group (its lease ran out while
it was frozen, and the manager grants it no new one), so every cart still
holds exactly the acknowledged adds, and n3 comes back as a secondary.

ack = none: a kill -9 under load may lose the last adds of the dead node's
group (the copy had not received them), never more than were acknowledged,
never one twice, and nothing of the other groups."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403
from test_failover import node, held, settled, manager_groups, load, check_carts


def cluster(wd, nodes, ack):
    base = free_ports(12)
    n1 = node(wd, "n1", "embedded", base, ack)
    nodes.append(n1)
    n1.start()
    manager = n1.url + "/parley/manager"
    n2 = node(wd, "n2", manager, base + 4, ack)
    n3 = node(wd, "n3", manager, base + 8, ack)
    for n in (n2, n3):
        nodes.append(n)
        n.start()
    ring = {"n1": {"n1": "primary", "n3": "secondary"},
            "n2": {"n2": "primary", "n1": "secondary"},
            "n3": {"n3": "primary", "n2": "secondary"}}
    wait_until("every group served and copied", lambda: settled([n1, n2, n3], ring))
    return n1, n2, n3


def frozen_primary(wd, nodes):
    n1, n2, n3 = cluster(wd, nodes, "all")
    woke = {}

    def freeze():
        n3.signal(signal.SIGSTOP)
        # Frozen well past dead (3 x 200 ms) and the lease (400 ms).
        wait_until("n3's group moved to n1",
                   lambda: manager_groups(n1)["n3"]["primary"] == "n1", 10)
        time.sleep(0.5)
        n3.signal(signal.SIGCONT)
        woke["at"] = time.time()
        # The first thing n3 says of its old group: not served here any more.
        h = held(n3)
        woke["serving"] = h.get("n3", {}).get("serving")
        woke["primary"] = n3.status()["groups"]["primary"]

    shoppers, gap = load([n1, n2, n3], 1.5, freeze, 2.0)
    print("fencing: %d adds acknowledged, longest wait %.2f s (n3 frozen for part of it)"
          % (sum(s.acked for s in shoppers), gap))
    check(woke.get("serving") is not True,
          "n3 woke up and did not serve group n3 any more (held: %r)" % woke)
    check("n3" not in woke.get("primary", []),
          "n3's status after waking lists no group n3 among those it serves: %r" % woke)
    groups = manager_groups(n1)
    equal(groups["n3"]["primary"], "n1", "group n3 is n1's now")
    equal(groups["n3"]["epoch"], 2, "group n3's epoch after the failover")
    check_carts(shoppers, n1)
    check_carts(shoppers, n3)
    # n3 answers heartbeats again: it becomes its old group's secondary.
    back = {"n3": {"n3": "secondary"}, "n1": {"n3": "primary"}}
    wait_until("n3 back as the secondary of its group", lambda: settled([n1, n3], back), 30)
    check_carts(shoppers, n2)


def ack_none(wd, nodes):
    n1, n2, n3 = cluster(wd, nodes, "none")
    shoppers, gap = load([n1, n2, n3], 1.5, n2.kill9, 2.5, strict=False)
    lost = sum(s.lost for s in shoppers)
    print("ack = none: %d adds acknowledged, %d of them lost in the failover, longest wait %.2f s"
          % (sum(s.acked for s in shoppers) + lost, lost, gap))
    for s in shoppers:
        if not s.cid.startswith("n2."):
            equal(s.lost, 0, "a cart of group %s lost nothing" % s.cid.split(".")[0])
    # What each cart holds is what its shopper saw last: nothing more, nothing twice.
    check_carts(shoppers, n1)


def test(wd, nodes):
    frozen_primary(wd, nodes)
    for n in nodes:
        if n.proc is not None:
            n.kill9()
    # A second cluster of its own, in a directory of its own.
    sub = os.path.join(wd, "none")
    os.makedirs(sub)
    ack_none(sub, nodes)
    for n in nodes:
        if n.proc is not None:
            equal(n.stop(), 0, "%s's exit status" % n.name)


if __name__ == "__main__":
    run(test, limit=150)
