#!/usr/bin/python3
"""test_race - one message at a time per conversation, and conversations in
parallel. Sixteen threads, each on its own keep-alive connection, add to the
SAME cart at once: every answer is a different running total, the cart ends
with exactly the sum and every item's exact quantity, and the status page's
"parked" counter shows messages were queued behind the busy conversation.
With workers=4, Sleeps on four conversations run side by side (well under
4 x the time), Sleeps on one conversation run one after the other, and a
queue behind one conversation holds no worker: a stateless Echo is answered
at once meanwhile; and no answer waits for the messages queued after it."""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

THREADS = 16
ADDS = 50
ITEMS = ["apple", "pear", "plum", "fig", "kiwi"]


def run_threads(target, n, timeout=60):
    """Start n threads on target(k) at once; returns the exceptions they raised."""
    errors = []
    barrier = threading.Barrier(n)

    def wrap(k):
        try:
            barrier.wait(10)
            target(k)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors.append("thread %d: %s" % (k, e))

    threads = [threading.Thread(target=wrap, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    check(not any(t.is_alive() for t in threads), "threads still running after %d s" % timeout)
    return errors


def same_cart(node):
    c = Client(node)
    cart = Cart(c)
    cart.start()
    cid = cart.id
    sums = [dict() for _ in range(THREADS)]
    counts = [[] for _ in range(THREADS)]
    parked_before = node.status()["messages"]["parked"]

    def adder(k):
        rnd = random.Random(k * 7919)
        cl = Client(node)
        mine = Cart(cl)
        mine.id = cid
        for _ in range(ADDS):
            item, qty = rnd.choice(ITEMS), rnd.randint(1, 9)
            counts[k].append(mine.add_ok(item, qty))
            sums[k][item] = sums[k].get(item, 0) + qty
        cl.close()

    t0 = time.time()
    errors = run_threads(adder, THREADS)
    elapsed = time.time() - t0
    check(not errors, "; ".join(errors[:3]))
    want = {}
    for s in sums:
        for item, qty in s.items():
            want[item] = want.get(item, 0) + qty
    total = sum(want.values())
    equal(cart.count(), total, "the cart's count after %d concurrent adds" % (THREADS * ADDS))
    equal(cart.items(), want, "every item's quantity after the concurrent adds")
    every = [n for cs in counts for n in cs]
    equal(len(set(every)), THREADS * ADDS, "every AddItem answered a different running total")
    equal(max(every), total, "the last running total is the sum")
    for k in range(THREADS):
        check(counts[k] == sorted(counts[k]), "thread %d saw its totals grow" % k)
    parked = node.status()["messages"]["parked"] - parked_before
    check(parked > 0, "messages were queued behind the busy conversation (parked %d)" % parked)
    print("same cart: %d adds by %d threads in %.2f s, %d parked" % (THREADS * ADDS, THREADS, elapsed, parked))
    c.close()


def timed_sleeps(node, convs, ms):
    """Sleep(ms) once on each conversation in convs, all at once; returns (elapsed, errors)."""
    def sleeper(k):
        cl = Client(node)
        t = Tally(cl)
        a = t.sleep(ms, conv=convs[k])
        if a.status != 200 or a.find(NS_TALLY, "SleepResponse") != str(ms):
            raise TestFailure("Sleep answered %d: %s" % (a.status, a.raw[:300]))
        cl.close()

    t0 = time.time()
    errors = run_threads(sleeper, len(convs))
    return time.time() - t0, errors


def parallel(node):
    c = Client(node)
    ids = []
    for _ in range(4):
        t = Tally(c)
        t.start()
        ids.append(t.id)
    # Four conversations, four workers: side by side.
    elapsed, errors = timed_sleeps(node, ids, 800)
    check(not errors, "; ".join(errors[:3]))
    check(elapsed >= 0.8, "a Sleep(800) took %.3f s" % elapsed)
    check(elapsed < 2.4, "4 Sleep(800) on 4 conversations took %.2f s: not in parallel" % elapsed)
    print("4 x Sleep(800) on 4 conversations: %.2f s" % elapsed)
    # One conversation: one after the other.
    n, ms = 3, 400
    elapsed, errors = timed_sleeps(node, [ids[0]] * n, ms)
    check(not errors, "; ".join(errors[:3]))
    check(elapsed >= n * ms / 1000.0, "%d x Sleep(%d) on one conversation took %.2f s: not serialised"
          % (n, ms, elapsed))
    print("%d x Sleep(%d) on one conversation: %.2f s" % (n, ms, elapsed))
    c.close()


def holder_not_held_back(node):
    """Regression: the worker holding a conversation ran the whole queue behind its message
    before giving that message's answer, so under steady traffic its client waited for
    everyone else (here about 3 s, where its turn takes a few tens of ms)."""
    c = Client(node)
    t = Tally(c)
    t.start()
    lat = []

    def sleeper(k):
        cl = Client(node)
        mine = Tally(cl)
        mine.id = t.id
        for i in range(20):
            t0 = time.time()
            a = mine.sleep(20)
            if a.status != 200:
                raise TestFailure("Sleep answered %d" % a.status)
            lat.append(time.time() - t0)
        cl.close()

    t0 = time.time()
    errors = run_threads(sleeper, 8)
    total = time.time() - t0
    check(not errors, "; ".join(errors[:3]))
    check(total >= 8 * 20 * 0.020, "160 Sleep(20) on one conversation ran one at a time (%.2f s)" % total)
    worst = max(lat)
    # Held back, an answer waits for nearly the whole run; in its turn, for at most the
    # 7 others' Sleeps. Half the run separates the two however loaded the machine is.
    check(worst < total / 2, "an answer waited %.2f s behind a queue of at most 7 Sleep(20) "
          "(the whole run took %.2f s)" % (worst, total))
    print("8 clients x 20 Sleep(20) on one conversation: %.2f s, slowest answer %.2f s" % (total, worst))
    c.close()


def queue_holds_no_worker(node):
    """Six Sleeps queued on one conversation (more than workers=4); an Echo is answered at once."""
    c = Client(node)
    t = Tally(c)
    t.start()
    done = []

    def sleeper(k):
        cl = Client(node)
        a = Tally(cl).sleep(300, conv=t.id)
        if a.status != 200:
            raise TestFailure("Sleep answered %d" % a.status)
        done.append(time.time())
        cl.close()

    threads = []
    errors = []

    def wrap(k):
        try:
            sleeper(k)
        except Exception as e:  # noqa: BLE001
            errors.append(str(e))

    for k in range(6):
        th = threading.Thread(target=wrap, args=(k,))
        th.start()
        threads.append(th)
    time.sleep(0.4)        # the first Sleep runs, the others wait behind it
    e = Client(node)
    t0 = time.time()
    a = Tally(e).echo("meanwhile")
    took = time.time() - t0
    equal(a.find(NS_TALLY, "EchoResponse"), "meanwhile", "the Echo's answer")
    check(len(done) < 6, "the Sleeps were still queued when the Echo went out")
    check(took < 0.25, "an Echo waited %.2f s behind a queue on another conversation" % took)
    for th in threads:
        th.join(30)
    check(not errors, "; ".join(errors[:3]))
    check(max(done) - t0 >= 0.3 * 6 - 0.4 - 0.05, "the six Sleeps ran one after the other")
    e.close()
    c.close()


def test(wd, nodes):
    node = Node(wd, extra=["workers=4"])
    nodes.append(node)
    node.start()
    same_cart(node)
    parallel(node)
    holder_not_held_back(node)
    queue_holds_no_worker(node)
    equal(node.stop(), 0, "exit status")


run(test)
