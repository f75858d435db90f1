#!/usr/bin/python3
"""test_keepalive - idle connections cost a slot, never a worker. With
workers=4, sixty-four clients each make one request and then hold their
keep-alive connection idle; a sixty-fifth client is answered within a second,
and the idle connections still work afterwards. keepalive_timeout closes idle
connections (and only idle ones); at max_connections a new connection is
answered 503, and is accepted again once a slot is free."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403


def echo_request(text, host="127.0.0.1"):
    body = envelope('<c:Echo xmlns:c="%s"><c:text>%s</c:text></c:Echo>' % (NS_TALLY, text),
                    wsa_headers(tally_action("Echo"))).encode()
    return (b"POST /services/tally HTTP/1.1\r\nHost: %s\r\nContent-Type: text/xml; charset=utf-8\r\n"
            b"Content-Length: %d\r\n\r\n" % (host.encode(), len(body))) + body


def read_response(s, timeout=5.0):
    """One HTTP response from socket s: (status, head, body); status None on EOF before any byte."""
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(65536)
        if not b:
            if not data:
                return None, b"", b""
            raise TestFailure("connection closed in a response head: %r" % data)
        data += b
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    n = int(m.group(1)) if m else 0
    while len(body) < n:
        b = s.recv(65536)
        if not b:
            raise TestFailure("connection closed in a response body")
        body += b
    return int(head.split(b" ")[1]), head, body


def wait_closed(s, timeout):
    """Seconds until the peer closes s (EOF or reset), or None if it stays open for timeout."""
    t0 = time.time()
    s.settimeout(timeout)
    try:
        b = s.recv(1)
    except socket.timeout:
        return None
    except ConnectionResetError:
        return time.time() - t0
    if b:
        raise TestFailure("unexpected bytes on an idle connection: %r" % b)
    return time.time() - t0


def idle_clients(wd, nodes):
    node = Node(wd, store="memory", extra=["workers=4"])
    nodes.append(node)
    node.start()
    idle = []
    for k in range(64):
        s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
        s.sendall(echo_request("idle%d" % k))
        status, _, body = read_response(s)
        equal(status, 200, "client %d's request" % k)
        check(b"idle%d<" % k in body, "client %d's answer" % k)
        idle.append(s)
    # The start-up probe's closed connection may still be counted for a moment.
    deadline = time.time() + 3
    while node.status()["http"]["open"] != 64 + 1 and time.time() < deadline:
        time.sleep(0.05)
    equal(node.status()["http"]["open"], 64 + 1, "64 idle connections are open (and the status request's)")
    # The 65th client, while 64 connections sit idle on 4 workers.
    for attempt in range(3):
        t0 = time.time()
        s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
        s.sendall(echo_request("new"))
        status, _, body = read_response(s, timeout=5)
        took = time.time() - t0
        s.close()
        equal(status, 200, "the 65th client's answer")
        check(took < 1.0, "the 65th client waited %.2f s" % took)
    # A SOAP conversation works too, from a new connection.
    c = Client(node, timeout=5)
    t = Tally(c)
    t0 = time.time()
    t.start()
    equal(t.add_ok("x", 2), 1002, "a conversation beside 64 idle connections")
    check(time.time() - t0 < 1.0, "the conversation was served at once")
    c.close()
    # The idle connections still work, in reverse order.
    for k in reversed(range(64)):
        idle[k].sendall(echo_request("again%d" % k))
        status, _, body = read_response(idle[k])
        equal(status, 200, "idle client %d's second request" % k)
        check(b"again%d<" % k in body, "idle client %d's second answer" % k)
        idle[k].close()
    equal(node.stop(), 0, "exit status")


def timeouts(wd, nodes):
    node = Node(wd, name="n2", store="memory", extra=["workers=4", "keepalive_timeout=500ms",
                                                        "max_connections=4"])
    nodes.append(node)
    node.start()
    # An idle connection is closed after keepalive_timeout.
    s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
    s.sendall(echo_request("one"))
    equal(read_response(s)[0], 200, "a request before going idle")
    after = wait_closed(s, 5.0)
    s.close()
    check(after is not None, "an idle connection was not closed within 5 s")
    check(0.35 <= after <= 2.0, "an idle connection was closed after %.2f s (keepalive_timeout 500ms)" % after)
    # A connection used more often than the timeout stays open.
    s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
    # (1.2 s in all, each gap a fifth of the timeout, so a loaded machine keeps a margin.)
    for k in range(12):
        s.sendall(echo_request("busy%d" % k))
        equal(read_response(s)[0], 200, "request %d of a busy connection" % k)
        time.sleep(0.1)
    s.close()
    # The status page sees connections come and go (its own is the one open).
    # Each look is a new connection, and the close of the previous look may not
    # have reached the node yet, so the value judged is the last one seen.
    deadline = time.time() + 3
    opened = node.status()["http"]["open"]
    while opened != 1 and time.time() < deadline:
        time.sleep(0.05)
        opened = node.status()["http"]["open"]
    equal(opened, 1, "connections open once the idle ones are closed")

    # max_connections=4: four are held, the fifth is answered 503 at once.
    held = []
    for k in range(4):
        h = socket.create_connection(("127.0.0.1", node.port), timeout=5)
        h.sendall(echo_request("held%d" % k))
        equal(read_response(h)[0], 200, "held connection %d" % k)
        held.append(h)
    extra = socket.create_connection(("127.0.0.1", node.port), timeout=5)
    try:
        extra.sendall(echo_request("fifth"))
    except OSError:
        pass
    status, head, body = read_response(extra, timeout=5)
    extra.close()
    equal(status, 503, "a connection beyond max_connections")
    check(b"Retry-After:" in head and b"too many connections" in body, "the 503 says why: %r" % (head + body))
    # A slot frees when a held connection closes; then new connections are served again.
    held.pop().close()
    deadline = time.time() + 3
    status = None
    while time.time() < deadline:
        s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
        s.sendall(echo_request("later"))
        try:
            status = read_response(s)[0]
        except (OSError, TestFailure):
            status = None
        s.close()
        if status == 200:
            break
        time.sleep(0.05)
    equal(status, 200, "a new connection once a slot is free")
    # The held ones, idle past keepalive_timeout, are closed and their slots freed.
    for h in held:
        check(wait_closed(h, 5.0) is not None, "a held idle connection was closed")
        h.close()
    st = node.status()
    check(st["http"]["refused"] >= 1, "the status page counts refused connections: %r" % st["http"])
    equal(node.stop(), 0, "exit status")


def test(wd, nodes):
    idle_clients(wd, nodes)
    timeouts(wd, nodes)


run(test)
