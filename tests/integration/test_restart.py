#!/usr/bin/python3
"""test_restart - what a node keeps across a crash. store=disk: fifty
conversations get random AddItems, every count the node acknowledged is
recorded, the node is killed with SIGKILL in the middle of more traffic and
restarted on the same data_dir: every conversation's GetCart count is the last
acknowledged count, or that plus the one add whose answer never came. A retried
message (same wsa:MessageID) after the restart gets the stored answer and
changes nothing, a retried StartCart gets its conversation back, and ended
conversations stay unknown. store=memory: after a restart the conversations
are unknown (documented: they live in RAM)."""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

UNKNOWN = "{%s}UnknownConversation" % NS_PC
N_CONV = 50
N_THREADS = 6


def add_body(item, qty):
    return '<c:AddItem xmlns:c="%s"><c:item>%s</c:item><c:qty>%d</c:qty></c:AddItem>' % (NS_CART, item, qty)


def disk(wd, nodes):
    rnd = random.Random()
    node = Node(wd, store="disk", extra=["workers=4"])
    nodes.append(node)
    node.start()
    c = Client(node)
    carts = []
    acked = {}                  # id -> last count the node acknowledged
    for i in range(N_CONV):
        cart = Cart(c)
        cart.start()
        carts.append(cart.id)
        acked[cart.id] = 0
        for _ in range(rnd.randint(0, 5)):
            acked[cart.id] = cart.add_ok("item%d" % rnd.randint(0, 3), rnd.randint(1, 9))

    # Messages to retry after the restart, on a conversation no other traffic touches.
    kept = Cart(c)
    kept.start()
    equal(kept.add_ok("kept", 4), 4, "the kept conversation's first add")
    retry_id = new_msgid()
    a = kept.add("kept", 3, msgid=retry_id)
    equal(a.find(NS_CART, "count"), "7", "the message to retry")
    retry_answer = a.raw
    start_id = new_msgid()
    s = Cart(c)
    a = s.start(msgid=start_id)
    start_answer, started = a.raw, s.id
    # Ended conversations, one with its Checkout to retry.
    ended = carts[:5]
    checkout_id = new_msgid()
    a = Cart(c).checkout(conv=ended[0], msgid=checkout_id)
    equal(a.status, 200, "Checkout before the crash")
    checkout_answer = a.raw
    for cid in ended[1:]:
        equal(Cart(c).checkout(conv=cid).status, 200, "Checkout before the crash")
    live = carts[5:]
    c.close()

    # More traffic from several threads, each on its own conversations, cut by SIGKILL.
    pending = {}                # id -> qty of the add whose answer never came
    lock = threading.Lock()
    sent = [0]
    errors = []

    def traffic(mine, seed):
        r = random.Random(seed)
        cl = Client(node, timeout=10)
        cart = Cart(cl)
        while True:
            cid = r.choice(mine)
            qty = r.randint(1, 9)
            with lock:
                pending[cid] = qty
            try:
                a = cart.add("item%d" % r.randint(0, 3), qty, conv=cid)
            except (OSError, http.client.HTTPException):
                return                      # the node died: this add may or may not be in
            if a.status != 200:
                errors.append("AddItem to %s answered %d: %s" % (cid, a.status, a.raw[:200]))
                return
            with lock:
                del pending[cid]
                acked[cid] = int(a.find(NS_CART, "count"))
                sent[0] += 1

    threads = [threading.Thread(target=traffic, args=(live[k::N_THREADS], k)) for k in range(N_THREADS)]
    for t in threads:
        t.start()
    kill_after = rnd.randint(150, 450)
    deadline = time.time() + 20
    while sent[0] < kill_after and time.time() < deadline and not errors:
        time.sleep(0.005)
    check(not errors, "; ".join(errors[:3]))
    check(sent[0] >= kill_after, "the traffic made progress before the kill (%d adds)" % sent[0])
    node.kill9()
    for t in threads:
        t.join(15)
    check(not any(t.is_alive() for t in threads), "the client threads saw the node die")
    check(not errors, "; ".join(errors[:3]))

    node.start(port=0)
    c = Client(node)
    cart = Cart(c)
    lost, extra = [], []
    for cid in live:
        got = cart.count(conv=cid)
        if got == acked[cid]:
            continue
        if cid in pending and got == acked[cid] + pending[cid]:
            extra.append(cid)
            continue
        lost.append("%s: GetCart %d, acknowledged %d, in flight %s" % (cid, got, acked[cid], pending.get(cid)))
    check(not lost, "counts after the restart differ from what was acknowledged: %s" % "; ".join(lost[:5]))
    check(len(pending) <= N_THREADS, "at most one add in flight per thread")
    equal(node.conversations()["cart"], len(live) + 2, "live cart conversations after the restart")

    # The retried AddItem: the stored answer, byte for byte, and no second add.
    a = cart.add("kept", 3, msgid=retry_id, conv=kept.id)
    equal(a.raw, retry_answer, "a retried AddItem after the restart gets the stored answer")
    equal(cart.count(conv=kept.id), 7, "the retried AddItem changed nothing")
    # The retried StartCart: the same conversation.
    a = Cart(c).start(msgid=start_id)
    equal(a.raw, start_answer, "a retried StartCart after the restart gets the stored answer")
    equal(cart.count(conv=started), 0, "the conversation of the retried StartCart is alive")
    equal(node.conversations()["cart"], len(live) + 2, "the retried StartCart started nothing")
    # Ended conversations stay ended; the retried Checkout gets its answer.
    for cid in ended:
        a = cart.add("x", 1, conv=cid)
        equal(a.fault_code(), UNKNOWN, "AddItem to a conversation ended before the crash")
    a = Cart(c).checkout(conv=ended[0], msgid=checkout_id)
    equal(a.raw, checkout_answer, "a retried Checkout after the restart gets its first answer")
    # And the node goes on: new adds to recovered conversations work.
    cid = live[0]
    before = cart.count(conv=cid)
    a = cart.add("after", 2, conv=cid)
    equal(a.find(NS_CART, "count"), str(before + 2), "an add after the restart")
    c.close()
    equal(node.stop(), 0, "exit status after the restart")
    print("disk: %d adds acknowledged in the traffic, %d in flight at the kill (%d applied)"
          % (sent[0], len(pending), len(extra)))


def memory(wd, nodes):
    node = Node(wd, name="m1", store="memory")
    nodes.append(node)
    node.start()
    c = Client(node)
    cart = Cart(c)
    cart.start()
    equal(cart.add_ok("a", 3), 3, "an add in memory mode")
    cid = cart.id
    c.close()
    node.kill9()
    check(not os.path.exists(os.path.join(node.data_dir, "groups")), "memory mode writes no store files")
    node.start(port=0)
    c = Client(node)
    a = Cart(c).add("a", 1, conv=cid)
    equal(a.fault_code(), UNKNOWN, "memory mode: a conversation is unknown after a restart")
    equal(node.status()["conversations"], 0, "memory mode: no conversations after a restart")
    # A clean stop loses them too.
    cart = Cart(c)
    cart.start()
    c.close()
    equal(node.stop(), 0, "memory mode exit status")
    node.start(port=0)
    c = Client(node)
    equal(Cart(c).get(conv=cart.id).fault_code(), UNKNOWN, "memory mode: unknown after SIGTERM and start")
    c.close()
    equal(node.stop(), 0, "memory mode exit status")


def test(wd, nodes):
    disk(wd, nodes)
    memory(wd, nodes)


run(test)
