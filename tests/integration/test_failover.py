#!/usr/bin/python3
"""test_failover - three real nodes with store = replicated and ack = all:
16 clients add items to their carts through random nodes and retry on any
error with the same wsa:MessageID; n2 is killed with SIGKILL under that
load, its group's secondary is promoted, and every cart holds exactly the
adds that were acknowledged. n2 comes back as a secondary (it never serves
an epoch it does not hold), catches up, and when n3 is killed in turn n2
takes its old group back with nothing acknowledged lost."""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

INTERVAL_MS = 200
MISSES = 3
CLIENTS = 16
NAMES = ("n1", "n2", "n3")




def node(wd, name, manager, repl_base, ack="all"):
    extra = ["manager=" + manager, "heartbeat_interval=%dms" % INTERVAL_MS,
             "heartbeat_misses=%d" % MISSES, "repl_listen=127.0.0.1:%d" % repl_base,
             "repl_ports=4", "ack=" + ack, "ack_timeout=500ms", "workers=8"]
    return Node(wd, name=name, store="replicated", extra=extra)


def held(n):
    return {h["group"]: h for h in n.status().get("held", [])}




def settled(nodes, layout):
    """layout: {node: {group: "primary"|"secondary"}}; primaries serving, secondaries synced."""
    for n in nodes:
        want = layout.get(n.name, {})
        h = held(n)
        for g, role in want.items():
            if g not in h or h[g]["role"] != role:
                return False
            if role == "primary" and not h[g]["serving"]:
                return False
            if role == "secondary" and not h[g]["synced"]:
                return False
    return True


def manager_groups(n1):
    return {g["name"]: g for g in n1.status()["manager"]["groups"]}


class Shopper(threading.Thread):
    """One client: its own cart, AddItem through random nodes, retrying on any
    error with the same MessageID until it is answered."""

    def __init__(self, k, nodes, stop, strict=True):
        super().__init__(daemon=True)
        self.k = k
        self.strict = strict     # every acknowledged add must be there (ack = all)
        self.lost = 0            # not strict: acknowledged adds a failover lost
        self.nodes = nodes
        self.stop_event = stop
        self.rng = random.Random(k)
        self.acked = 0
        self.cid = None
        self.times = []          # when each add was acknowledged
        self.retries = 0
        self.error = None
        self.log = []            # failed attempts: when, node, what

    def call(self, fn):
        """fn(cart) on random nodes until it answers 200; returns the answer."""
        deadline = time.time() + 20
        while time.time() < deadline:
            n = self.rng.choice(self.nodes)
            try:
                c = Client(n, timeout=5)
                try:
                    a = fn(Cart(c))
                finally:
                    c.close()
                if a.status == 200:
                    return a
                f = a.fault() if a.root is not None else None
                self.log.append("%.3f %s %d %s" % (time.time(), n.name, a.status,
                                                   f[2][:120] if f else ""))
            except (OSError, TestFailure, ValueError) as e:
                self.log.append("%.3f %s %r" % (time.time(), n.name, e))
            del self.log[:-20]
            self.retries += 1
            time.sleep(0.03)
        raise TestFailure("shopper %d: no node answered for 20 s" % self.k)

    def run(self):
        try:
            start_id = new_msgid()
            a = self.call(lambda cart: cart.start(msgid=start_id))
            self.cid = a.conversation_id()
            while not self.stop_event.is_set():
                msgid = new_msgid()
                a = self.call(lambda cart: cart.add("x", 1, msgid=msgid, conv=self.cid))
                count = int(a.find(NS_CART, "count"))
                self.acked += 1
                if count > self.acked or (self.strict and count != self.acked):
                    raise TestFailure("shopper %d: cart %s counts %d after %d acknowledged adds"
                                      % (self.k, self.cid, count, self.acked))
                # ack = none: what the new primary never got is gone; go on from there.
                self.lost += self.acked - count
                self.acked = count
                self.times.append(time.time())
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = e


def load(nodes, seconds_before, action, seconds_after, strict=True):
    stop = threading.Event()
    shoppers = [Shopper(k, nodes, stop, strict) for k in range(CLIENTS)]
    for s in shoppers:
        s.start()
    time.sleep(seconds_before)
    t_action = time.time()
    action()
    time.sleep(seconds_after)
    stop.set()
    for s in shoppers:
        s.join(30)
    for s in shoppers:
        if s.error is not None:
            raise s.error
        check(s.cid is not None, "shopper %d has a cart" % s.k)
    # The longest a shopper waited for an answer across the kill.
    gap = 0.0
    for s in shoppers:
        before = [t for t in s.times if t < t_action]
        after = [t for t in s.times if t >= t_action]
        check(after, "shopper %d got answers after the kill" % s.k)
        edge = [before[-1]] if before else [t_action]
        times = edge + after
        g = max([0.0] + [b - a for a, b in zip(times, times[1:])])
        if g > 1.0:
            print("shopper %d (cart %s) waited %.2f s; its last failed attempts:" % (s.k, s.cid, g))
            for e in s.log[-6:]:
                print("   ", e)
        gap = max(gap, g)
    return shoppers, gap


def check_carts(shoppers, via):
    """Each cart's count through via: as a client would, GetCart is sent again
    while the cluster answers 503 (a group between primaries or secondaries)."""
    for s in shoppers:
        deadline = time.time() + 15
        while True:
            c = Client(via, timeout=10)
            try:
                a = Cart(c).get(conv=s.cid)
            finally:
                c.close()
            if a.status != 503 or time.time() > deadline:
                break
            time.sleep(0.1)
        check(a.status == 200, "GetCart of %s through %s answered %d: %s"
              % (s.cid, via.name, a.status, (a.fault() or a.raw[:300],)))
        equal(int(a.find(NS_CART, "count")), s.acked,
              "cart %s holds every acknowledged add, once" % s.cid)


def failover(wd, nodes):
    base = free_ports(12)
    n1 = node(wd, "n1", "embedded", base)
    nodes.append(n1)
    n1.start()
    manager = n1.url + "/parley/manager"
    n2 = node(wd, "n2", manager, base + 4)
    n3 = node(wd, "n3", manager, base + 8)
    for n in (n2, n3):
        nodes.append(n)
        n.start()
    # Each node is primary of its group and keeps the next one's copy.
    ring = {"n1": {"n1": "primary", "n3": "secondary"},
            "n2": {"n2": "primary", "n1": "secondary"},
            "n3": {"n3": "primary", "n2": "secondary"}}
    wait_until("every group served and copied", lambda: settled(nodes, ring))
    groups = manager_groups(n1)
    equal(groups["n2"]["secondary"], "n3", "group n2's secondary")

    # Kill n2 under load.
    shoppers, gap = load([n1, n2, n3], 2.0, n2.kill9, 3.0)
    print("failover: %d adds acknowledged, %d retries, longest wait %.2f s after the kill"
          % (sum(s.acked for s in shoppers), sum(s.retries for s in shoppers), gap))
    check(gap < 3.0, "the cluster answered again %.2f s after the kill (limit 3 s)" % gap)
    groups = manager_groups(n1)
    equal(groups["n2"]["primary"], "n3", "group n2 moved to its secondary")
    equal(groups["n2"]["epoch"], 2, "group n2's epoch after the failover")
    check(any("group n2: this node is its primary now" in l for l in n3.run_log().splitlines()),
          "n3 promoted its copy of group n2")
    check_carts(shoppers, n1)
    check_carts(shoppers, n3)

    # n2 comes back: a secondary of its own group (and of n1's), never its primary.
    n2.start()
    back = {"n2": {"n2": "secondary", "n1": "secondary"},
            "n3": {"n2": "primary", "n3": "primary"}}
    wait_until("n2 back as a secondary that caught up", lambda: settled(nodes, back), 30)
    check("n2" not in n2.status()["groups"]["primary"], "n2 does not serve group n2")
    check_carts(shoppers, n2)

    # Now n3 dies: n2 takes its group back, n1 takes n3's.
    shoppers2, gap2 = load([n1, n2, n3], 1.0, n3.kill9, 3.0)
    print("second failover: %d adds, longest wait %.2f s" % (sum(s.acked for s in shoppers2), gap2))
    check(gap2 < 3.0, "the cluster answered again %.2f s after the second kill" % gap2)
    groups = manager_groups(n1)
    equal(groups["n2"]["primary"], "n2", "group n2 back on n2")
    equal(groups["n2"]["epoch"], 3, "group n2's epoch after the second failover")
    equal(groups["n3"]["primary"], "n1", "group n3 moved to n1")
    check_carts(shoppers, n1)
    check_carts(shoppers2, n2)
    for n in (n1, n2):
        equal(n.stop(), 0, "%s's exit status" % n.name)


if __name__ == "__main__":
    run(failover, limit=150)
