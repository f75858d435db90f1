#!/usr/bin/python3
"""test_signals - signals to a running node. SIGHUP with a broken
configuration file keeps the old configuration (the log says so, naming the
file and line) and the node keeps serving; SIGHUP with a valid changed file
takes effect (max_headers=2: a message with three header blocks now faults),
and the keys that need a restart are named as such. SIGTERM while a tally
Sleep(1500) is in flight: the client gets its answer, the node exits 0 and
logs "stopped"; SIGINT stops it the same way."""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def echo3(node):
    """An Echo with three header blocks (Action, MessageID, To)."""
    c = Client(node)
    t = Tally(c)
    a = t.echo("three", extra_headers='<wsa:To xmlns:wsa="%s">%s/services/tally</wsa:To>' % (NS_WSA, node.url))
    c.close()
    return a


def echo2(node):
    c = Client(node)
    a = Tally(c).echo("two")
    c.close()
    return a


def reload(wd, nodes):
    conf = os.path.join(wd, "parleyd.conf")
    write(conf, "# test configuration\nworkers = 4\nmax_headers = 32\n")
    node = Node(wd, conf_file=conf)
    nodes.append(node)
    node.start()
    c = Client(node)
    cart = Cart(c)
    cart.start()
    equal(cart.add_ok("a", 2), 2, "an add before SIGHUP")
    equal(echo3(node).status, 200, "three header blocks with max_headers 32")

    # A broken file: the old configuration stays.
    write(conf, "# broken\nworkers = 4\nmax_headers = 2\nmax_headers = lots\n")
    mark = len(node.run_log())
    node.signal(signal.SIGHUP)
    m = node.wait_log(r"SIGHUP: the new configuration is not valid, keeping the old one: (.*)", since=mark)
    check("%s:4: max_headers 'lots' must be a whole number" % conf in m.group(1),
          "the log names the file, line and problem: %r" % m.group(1))
    check(node.proc.poll() is None, "the node is still running")
    a = echo3(node)
    equal(a.status, 200, "three header blocks still pass: max_headers is still 32 (%s)" % a.raw[:200])
    equal(cart.add_ok("a", 1), 3, "the node serves the conversation after a bad SIGHUP")
    # A missing file is broken too.
    os.rename(conf, conf + ".away")
    mark = len(node.run_log())
    node.signal(signal.SIGHUP)
    m = node.wait_log(r"SIGHUP: the new configuration is not valid, keeping the old one: (.*)", since=mark)
    check("No such file or directory" in m.group(1), "a missing file is named: %r" % m.group(1))
    os.rename(conf + ".away", conf)
    equal(echo3(node).status, 200, "still max_headers 32")

    # A valid changed file takes effect.
    write(conf, "# changed\nworkers = 4\nmax_headers = 2\n")
    mark = len(node.run_log())
    node.signal(signal.SIGHUP)
    node.wait_log(r"SIGHUP: configuration re-read", since=mark)
    a = echo3(node)
    check(a.fault() is not None, "three header blocks after max_headers=2: %d %s" % (a.status, a.raw[:200]))
    check("accepts at most 2 (max_headers)" in a.fault()[2], "the fault names max_headers: %r" % a.fault()[2])
    a = echo2(node)
    equal((a.status, a.find(NS_TALLY, "EchoResponse")), (200, "two"), "two header blocks pass")
    # The conversation lives on with its two headers (Action, MessageID, ConversationID is three).
    a = cart.add("a", 1)
    check(a.fault() is not None and "max_headers" in a.fault()[2], "AddItem carries three blocks now")
    plain = Client(node)
    hdr = '<pc:ConversationID xmlns:pc="%s">%s</pc:ConversationID>' % (NS_PC, cart.id)
    a = plain.post("/services/cart", envelope('<c:GetCart xmlns:c="%s"/>' % NS_CART, hdr), 11, CART_ACTION + "GetCart")
    equal(a.find(NS_CART, "count"), "3", "the conversation survived the reloads")
    plain.close()

    # Keys that only a restart changes are named, and keep their values; the rest applies.
    # Regression: only seven such keys were named; max_message_bytes, keepalive_timeout
    # and others kept their values after "configuration re-read" without a word.
    write(conf, "workers = 2\nmax_headers = 3\nmax_message_bytes = 2k\nkeepalive_timeout = 5s\n")
    mark = len(node.run_log())
    node.signal(signal.SIGHUP)
    node.wait_log(r"SIGHUP: configuration re-read", since=mark)
    m = re.search(r"SIGHUP: these keys change only at a restart and keep their values: (.*)",
                  node.run_log()[mark:])
    check(m is not None, "the log names the keys that need a restart: %r" % node.run_log()[mark:])
    equal(m.group(1).strip(), "workers, max_message_bytes, keepalive_timeout", "the keys named")
    equal(echo3(node).status, 200, "max_headers=3 applies")
    a = Tally(Client(node)).echo("x" * 3000)
    equal(a.status, 200, "max_message_bytes keeps its value (a 3 kB message passes)")
    c.close()
    equal(node.stop(), 0, "exit status")
    check("stopped" in node.run_log(), "the log says stopped")


def stop_in_flight(wd, nodes, sig):
    node = Node(wd, name="s%d" % sig, store="memory", extra=["workers=2"])
    nodes.append(node)
    node.start()
    c = Client(node, timeout=20)
    t = Tally(c)
    t.start()
    result = {}

    def sleeper():
        try:
            result["answer"] = t.sleep(1500)
        except Exception as e:  # noqa: BLE001
            result["error"] = e
        result["at"] = time.time()

    th = threading.Thread(target=sleeper)
    th.start()
    time.sleep(0.3)
    t0 = time.time()
    node.signal(sig)
    rc = node.wait(timeout=20)
    stopped = time.time()
    th.join(10)
    check("error" not in result, "the Sleep in flight at the signal failed: %r" % result.get("error"))
    a = result["answer"]
    equal((a.status, a.find(NS_TALLY, "SleepResponse")), (200, "1500"), "the Sleep in flight was answered")
    check(result["at"] <= stopped + 0.05, "the answer left before the node exited")
    check(stopped - t0 >= 1.0, "the node waited for the Sleep (%.2f s)" % (stopped - t0))
    equal(rc, 0, "exit status after signal %d with a request in flight" % sig)
    log = node.run_log()
    check("stopping: finishing requests in flight" in log and "stopped" in log.split("stopping")[-1],
          "the log says stopping, then stopped: %s" % log[-500:])
    c.close()


def test(wd, nodes):
    reload(wd, nodes)
    stop_in_flight(wd, nodes, signal.SIGTERM)
    stop_in_flight(wd, nodes, signal.SIGINT)


run(test)
