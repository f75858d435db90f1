#!/usr/bin/python3
"""test_callbacks - answers sent to a wsa:ReplyTo/FaultTo address and the
callbacks handlers send to a conversation's partner, received by an HTTP
sink that records every POST. A request with ReplyTo the sink is answered
202 at once and the sink gets the response (To, RelatesTo, Action, a new
MessageID, the reference parameter echoed); a retry of it is 202 again and
sends nothing more. A fault goes to FaultTo. ReplyTo none is 202 and sends
nothing. The tally's Notify reaches the partner named by the start's From
or ReplyTo, and nothing is sent when it faults. With the sink refusing
connections the message is retried and delivered once the sink is back,
also across a restart of the node (store = disk), and across a failover
(store = replicated, kill -9 of the conversation's primary)."""

import http.server
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

NS_K = "urn:parley:tests:callbacks:key"
NOTIFIED = "urn:parley:tests:tally:Notified"
FAST = ["callback_retry_min=200ms", "callback_retry_max=1s", "callback_timeout=2s"]


class Sink:
    """An HTTP server on 127.0.0.1 in a thread that records every POST and
    answers 200; down, its port refuses connections."""

    def __init__(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.got = []
        self.lock = threading.Lock()
        self.server = None
        self.thread = None

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def up(self):
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with sink.lock:
                    sink.got.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def down(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def messages(self, path=None):
        """What was received (at path), each as (headers, Answer)."""
        with self.lock:
            got = list(self.got)
        out = []
        for p, h, body in got:
            if path is None or p == path:
                a = Answer(200, h.get("Content-Type"), body)
                if a.root is not None:
                    a.root = parse_with_ns(body)
                out.append((h, a))
        return out

    def wait(self, path, n, timeout=10.0):
        """The first n messages received at path, waiting up to timeout seconds."""
        return wait_until("%d message(s) at the sink's %s" % (n, path),
                          lambda: self.messages(path) if len(self.messages(path)) >= n else None,
                          timeout)


def epr(name, address, key=None, wsa=NS_WSA):
    params = ""
    if key is not None:
        params = ('<wsa:ReferenceParameters><k:Key xmlns:k="%s" k:kind="t">%s</k:Key>'
                  '</wsa:ReferenceParameters>' % (NS_K, key))
    return ('<wsa:%s xmlns:wsa="%s"><wsa:Address>%s</wsa:Address>%s</wsa:%s>'
            % (name, wsa, address, params, name))


def send(t, op, body, msgid=None, extra="", conv=None):
    """op of tally conversation t (its ID unless conv says another) with extra headers."""
    if op in ("StartCart", "Echo"):
        return t.call(op, body, msgid=msgid, extra_headers=extra)
    return t.call(op, body, conv=conv or t.id, msgid=msgid, extra_headers=extra)


def header_el(a, ns, name):
    hdr = a.root.find("{%s}Header" % a.soap_ns())
    if hdr is None:
        return None
    return hdr.find("{%s}%s" % (ns, name))


def callbacks(node):
    return node.status()["callbacks"]


def add_body(qty):
    return '<c:AddItem xmlns:c="%s"><c:item>x</c:item><c:qty>%d</c:qty></c:AddItem>' % (NS_TALLY, qty)


def notify_body(text):
    return '<c:Notify xmlns:c="%s"><c:text>%s</c:text></c:Notify>' % (NS_TALLY, text)


def replies(node, sink):
    """(a) ReplyTo the sink: 202 at once, the response arrives; a retry is not sent again.
    (b) FaultTo gets a fault. (c) ReplyTo none: 202 and nothing. A bad address: a fault."""
    c = Client(node)
    t = Tally(c)
    t.start()
    msgid = new_msgid()
    t0 = time.time()
    a = send(t, "AddItem", add_body(2), msgid=msgid,
               extra=epr("ReplyTo", sink.url("/replies"), key="abc"))
    equal(a.status, 202, "AddItem with ReplyTo the sink")
    equal(a.raw, b"", "202 has no body")
    check(time.time() - t0 < 2.0, "the 202 came at once")
    (h, r), = sink.wait("/replies", 1)
    equal(r.header(NS_WSA, "RelatesTo"), msgid, "the response's RelatesTo")
    equal(r.header(NS_WSA, "To"), sink.url("/replies"), "the response's To")
    equal(r.header(NS_WSA, "Action"), "urn:parley:tests:tally:AddItemResponse", "its Action")
    rid = r.header(NS_WSA, "MessageID")
    check(rid and rid != msgid, "the response has a MessageID of its own: %r" % rid)
    equal(r.conversation_id(), t.id, "the response's conversation")
    key = header_el(r, NS_K, "Key")
    check(key is not None, "the reference parameter is echoed: %s" % r.raw[:800])
    equal((key.text or "").strip(), "abc", "the echoed reference parameter's value")
    equal(key.get("{%s}IsReferenceParameter" % NS_WSA), "true", "it is marked IsReferenceParameter")
    equal(key.get("{%s}kind" % NS_K), "t", "its own attribute is kept")
    equal(r.find(NS_TALLY, "count"), "1002", "the response's body")
    equal(h.get("SOAPAction"), '"urn:parley:tests:tally:AddItemResponse"', "the post's SOAPAction")
    check(h.get("Content-Type", "").startswith("text/xml"), "posted as SOAP 1.1")

    # The same message again: its answer is kept, so 202 and nothing more is queued.
    q = callbacks(node)["queued"]
    a = send(t, "AddItem", add_body(2), msgid=msgid,
               extra=epr("ReplyTo", sink.url("/replies"), key="abc"))
    equal(a.status, 202, "the retried AddItem")
    time.sleep(1.0)
    equal(len(sink.messages("/replies")), 1, "the retry sent nothing")
    equal(callbacks(node)["queued"], q, "the retry queued nothing")
    equal(t.count(), 2, "the retry ran nothing")

    # (b) A fault goes to FaultTo.
    msgid = new_msgid()
    a = send(t, "AddItem", add_body(0), msgid=msgid,
               extra=epr("ReplyTo", sink.url("/replies")) +
               epr("FaultTo", sink.url("/faults"), key="f1"))
    equal(a.status, 202, "a faulting AddItem with FaultTo")
    (h, f), = sink.wait("/faults", 1)
    check(f.fault() is not None and "qty must be" in f.fault()[2],
          "FaultTo got the handler's fault: %s" % f.raw[:600])
    equal(f.header(NS_WSA, "RelatesTo"), msgid, "the fault's RelatesTo")
    equal(f.header(NS_WSA, "To"), sink.url("/faults"), "the fault's To")
    equal((header_el(f, NS_K, "Key").text or "").strip(), "f1", "FaultTo's reference parameter")
    equal(len(sink.messages("/replies")), 1, "nothing went to ReplyTo")
    # Without FaultTo, the fault goes to ReplyTo.
    msgid = new_msgid()
    a = send(t, "AddItem", add_body(0), msgid=msgid,
               extra=epr("ReplyTo", sink.url("/replies")))
    equal(a.status, 202, "a faulting AddItem with ReplyTo only")
    msgs = sink.wait("/replies", 2)
    check(msgs[1][1].fault() is not None, "ReplyTo got the fault")
    equal(msgs[1][1].header(NS_WSA, "RelatesTo"), msgid, "its RelatesTo")

    # (c) ReplyTo none: 202, the change is made, nothing is sent.
    before = len(sink.got)
    a = send(t, "AddItem", add_body(5), extra=epr("ReplyTo", NS_WSA + "/none"))
    equal(a.status, 202, "AddItem with ReplyTo none")
    time.sleep(1.0)
    equal(len(sink.got), before, "nothing was sent for ReplyTo none")
    equal(t.count(), 7, "the change of the ReplyTo none message is stored")

    # FaultTo none: a fault is dropped (202), and nothing is stored or sent.
    a = send(t, "AddItem", add_body(0), extra=epr("FaultTo", NS_WSA + "/none"))
    equal(a.status, 202, "a faulting AddItem with FaultTo none")
    equal(a.raw, b"", "its answer is empty")
    a = send(t, "AddItem", add_body(0))
    check(a.status == 500 and a.fault() is not None, "without it the fault comes back: %d" % a.status)
    time.sleep(0.5)
    equal(len(sink.got), before, "nothing was sent for FaultTo none")
    equal(t.count(), 7, "the faulting messages changed nothing")

    # An address nobody can send to: a Sender fault on the connection.
    a = send(t, "AddItem", add_body(1), extra=epr("ReplyTo", "mailto:someone@example.org"))
    equal(a.fault_code(), "{%s}InvalidAddressingHeader" % NS_WSA, "ReplyTo mailto: is refused")
    check("mailto:someone@example.org" in a.fault()[2], "the fault names the address")
    equal(t.count(), 7, "the refused message changed nothing")

    # Stateless: Echo's answer goes to ReplyTo too.
    msgid = new_msgid()
    a = send(t, "Echo", '<c:Echo xmlns:c="%s"><c:text>hi</c:text></c:Echo>' % NS_TALLY, msgid=msgid,
               extra=epr("ReplyTo", sink.url("/echo")))
    equal(a.status, 202, "Echo with ReplyTo the sink")
    (h, r), = sink.wait("/echo", 1)
    equal(r.header(NS_WSA, "RelatesTo"), msgid, "Echo's response RelatesTo")
    equal(r.find(NS_TALLY, "EchoResponse"), "hi", "Echo's response body")
    c.close()


def partners(node, sink):
    """(d) Notify's callback reaches the partner: From of the start, or its ReplyTo."""
    c = Client(node)
    t = Tally(c)
    a = send(t, "StartCart", '<c:StartCart xmlns:c="%s"/>' % NS_TALLY,
               extra=epr("From", sink.url("/partner"), key="p1"))
    equal(a.status, 200, "StartCart with From the sink (its answer comes back)")
    t.id = a.conversation_id()
    a = send(t, "Notify", notify_body("hello &amp; welcome"))
    equal(a.status, 200, "Notify")
    equal(a.find(NS_TALLY, "NotifyResponse"), "queued", "Notify queued its callback")
    (h, n), = sink.wait("/partner", 1)
    equal(n.header(NS_WSA, "Action"), NOTIFIED, "the callback's Action")
    equal(n.header(NS_WSA, "To"), sink.url("/partner"), "the callback's To")
    check(n.header(NS_WSA, "MessageID"), "the callback has a MessageID")
    equal(n.conversation_id(), t.id, "the callback names the conversation")
    equal(n.find(NS_TALLY, "Notified"), "hello & welcome", "the callback's body")
    equal((header_el(n, NS_K, "Key").text or "").strip(), "p1", "From's reference parameter")
    # A handler that faults after queueing sends nothing.
    a = send(t, "Notify", notify_body("fault please"))
    check(a.fault() is not None, "Notify asked to fault faults")
    time.sleep(1.0)
    equal(len(sink.messages("/partner")), 1, "a faulted message's callback was dropped")

    # The partner named by ReplyTo: the start's answer goes there too.
    msgid = new_msgid()
    a = send(t, "StartCart", '<c:StartCart xmlns:c="%s"/>' % NS_TALLY, msgid=msgid,
               extra=epr("ReplyTo", sink.url("/starter")))
    equal(a.status, 202, "StartCart with ReplyTo the sink")
    (h, s), = sink.wait("/starter", 1)
    cid = s.conversation_id()
    check(cid and cid != t.id, "the start's answer names the new conversation")
    equal(s.header(NS_WSA, "RelatesTo"), msgid, "the start's answer RelatesTo")
    # The start sent again: the same conversation, answered 202, nothing sent again.
    a = send(t, "StartCart", '<c:StartCart xmlns:c="%s"/>' % NS_TALLY, msgid=msgid,
             extra=epr("ReplyTo", sink.url("/starter")))
    equal(a.status, 202, "the retried StartCart")
    time.sleep(0.8)
    equal(len(sink.messages("/starter")), 1, "the retried start sent nothing")
    a = send(t, "Notify", notify_body("second"), conv=cid)
    equal(a.find(NS_TALLY, "NotifyResponse"), "queued", "Notify in the ReplyTo conversation")
    msgs = sink.wait("/starter", 2)
    equal(msgs[1][1].find(NS_TALLY, "Notified"), "second", "the callback went to the start's ReplyTo")

    # A conversation without a partner address.
    t2 = Tally(c)
    t2.start()
    a = send(t2, "Notify", notify_body("nobody"))
    equal(a.status, 200, "Notify without a partner")
    check(a.find(NS_TALLY, "NotifyResponse") != "queued", "nothing to queue without a partner")
    c.close()
    return t.id


def retries(node, sink, conv):
    """(e) The sink refuses connections for a while; the callback comes once it is back."""
    sink.down()
    r0 = callbacks(node)["retried"]
    c = Client(node)
    t = Tally(c)
    t.id = conv
    a = send(t, "Notify", notify_body("while down"))
    equal(a.find(NS_TALLY, "NotifyResponse"), "queued", "Notify while the sink is down")
    wait_until("the sender retried twice", lambda: callbacks(node)["retried"] >= r0 + 2, 10)
    equal(callbacks(node)["pending"], 1, "one message waits")
    before = len(sink.messages("/partner"))
    sink.up()
    msgs = sink.wait("/partner", before + 1, 10)
    equal(msgs[-1][1].find(NS_TALLY, "Notified"), "while down", "delivered after retries")
    wait_until("nothing pending", lambda: callbacks(node)["pending"] == 0, 5)
    c.close()


def restart(node, sink, conv):
    """(f) An undelivered callback survives a restart of the node (store = disk)."""
    sink.down()
    c = Client(node)
    t = Tally(c)
    t.id = conv
    a = send(t, "Notify", notify_body("across a restart"))
    equal(a.find(NS_TALLY, "NotifyResponse"), "queued", "Notify before the restart")
    c.close()
    time.sleep(0.5)
    equal(node.stop(), 0, "the node stopped cleanly")
    before = len(sink.messages("/partner"))
    node.start()
    sink.up()
    msgs = sink.wait("/partner", before + 1, 15)
    equal(msgs[-1][1].find(NS_TALLY, "Notified"), "across a restart", "delivered after the restart")
    wait_until("delivered by the restarted node", lambda: callbacks(node)["delivered"] >= 1, 5)


def dead_partner(node, sink):
    """A partner that takes connections and never answers costs the others one
    callback_timeout (2 s here) per look at the outbox, not one per entry: its
    other entries wait for the next look without a post."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)             # never accepted: a post gets no answer
    try:
        hole_url = "http://127.0.0.1:%d/hole" % hole.getsockname()[1]
        c = Client(node)
        t, u = Tally(c), Tally(c)
        for x, url in ((t, hole_url), (u, sink.url("/partner2"))):
            a = send(x, "StartCart", '<c:StartCart xmlns:c="%s"/>' % NS_TALLY,
                     extra=epr("From", url))
            equal(a.status, 200, "StartCart with From %s" % url)
            x.id = a.conversation_id()
        deferred = callbacks(node)["deferred"]
        for i in range(6):
            a = send(t, "Notify", notify_body("into the hole %d" % i))
            equal(a.find(NS_TALLY, "NotifyResponse"), "queued", "Notify %d to the dead partner" % i)
        t0 = time.time()
        a = send(u, "Notify", notify_body("to the sink"))
        equal(a.find(NS_TALLY, "NotifyResponse"), "queued", "Notify to the live partner")
        sink.wait("/partner2", 1, 15)
        took = time.time() - t0
        check(took < 6.0, "the live partner's callback waited %.1f s behind six to a dead "
              "partner (one timeout per look: at most about 2 looks of 2 s)" % took)
        wait_until("entries to the dead partner deferred without a post",
                   lambda: callbacks(node)["deferred"] >= deferred + 4, 10)
        c.close()
    finally:
        hole.close()


def allow_list(wd, nodes, sink):
    """callback_allow: only addresses beginning with a listed prefix get answers and
    callbacks; others are a Sender fault that changes nothing, or make no partner."""
    allowed = sink.url("/allowed/")
    node = Node(wd, name="allow", store="memory",
                extra=FAST + ["callback_allow=http://192.0.2.1:9/x/ " + allowed])
    nodes.append(node)
    node.start()
    c = Client(node)
    t = Tally(c)
    t.start()
    msgid = new_msgid()
    a = send(t, "AddItem", add_body(2), msgid=msgid, extra=epr("ReplyTo", allowed + "r"))
    equal(a.status, 202, "a ReplyTo callback_allow admits")
    (h, r), = sink.wait("/allowed/r", 1)
    equal(r.header(NS_WSA, "RelatesTo"), msgid, "its answer was sent")
    for header in ("ReplyTo", "FaultTo"):
        a = send(t, "AddItem", add_body(5), extra=epr(header, sink.url("/elsewhere")))
        equal(a.fault_code(), "{%s}InvalidAddressingHeader" % NS_WSA,
              "a %s callback_allow does not admit" % header)
        check("callback_allow" in a.fault()[2], "the fault names the key: %r" % a.fault()[2])
    equal(t.count(), 2, "the refused messages changed nothing")
    # A start whose From callback_allow does not admit has no partner.
    u = Tally(c)
    a = send(u, "StartCart", '<c:StartCart xmlns:c="%s"/>' % NS_TALLY,
             extra=epr("From", sink.url("/elsewhere")))
    equal(a.status, 200, "StartCart with a From not admitted")
    u.id = a.conversation_id()
    a = send(u, "Notify", notify_body("to nobody"))
    equal(a.find(NS_TALLY, "NotifyResponse"), "not found", "Notify has no partner to send to")
    time.sleep(0.5)
    equal(sink.messages("/elsewhere"), [], "nothing went to an address not admitted")
    c.close()
    equal(node.stop(), 0, "exit status")
    # A value that is no list of http:// prefixes is refused at start.
    p = subprocess.run([PARLEYD, "-n", "-D", "callback_allow=ftp://x/"], capture_output=True,
                       text=True, timeout=30)
    check(p.returncode != 0 and "callback_allow" in p.stderr,
          "parleyd -n refuses callback_allow=ftp://x/: %r" % p.stderr)


def one_node(wd, nodes):
    sink = Sink()
    sink.up()
    try:
        node = Node(wd, store="disk", extra=FAST)
        nodes.append(node)
        node.start()
        allow_list(wd, nodes, sink)
        replies(node, sink)
        conv = partners(node, sink)
        retries(node, sink, conv)
        restart(node, sink, conv)
        st = callbacks(node)
        check(st["given_up"] == 0, "nothing was given up: %r" % st)
        # The time to live: a partner that never answers is given up on and logged.
        sink.down()
        node.stop()
        node.extra = FAST + ["callback_ttl=1s"]
        node.start()
        c = Client(node)
        t = Tally(c)
        t.id = conv
        a = send(t, "Notify", notify_body("never"))
        equal(a.find(NS_TALLY, "NotifyResponse"), "queued", "Notify to a dead partner")
        c.close()
        wait_until("the callback given up", lambda: callbacks(node)["given_up"] == 1, 10)
        node.wait_log(r"outbox: gave up on message urn:uuid:\S+ to %s" % sink.url("/partner"))
        wait_until("nothing pending after giving up", lambda: callbacks(node)["pending"] == 0, 5)
        equal(node.stop(), 0, "exit status")
        sink.up()
        node.extra = FAST
        node.start()
        dead_partner(node, sink)
        equal(node.stop(), 0, "exit status")
    finally:
        sink.down()
    cluster(wd, nodes)


def cluster(wd, nodes):
    """(g) kill -9 of the conversation's primary while the sink is down: its secondary,
    promoted, delivers the callback once the sink is up."""
    sink = Sink()
    base = free_ports(12)

    def node(name, manager, repl):
        return Node(wd, name=name, store="replicated", data_dir=os.path.join(wd, "c-" + name),
                    extra=["manager=" + manager, "heartbeat_interval=200ms",
                           "heartbeat_misses=3", "repl_listen=127.0.0.1:%d" % repl,
                           "repl_ports=4", "ack=all", "ack_timeout=500ms"] + FAST)
    n1 = node("n1", "embedded", base)
    nodes.append(n1)
    n1.start()
    manager = n1.url + "/parley/manager"
    n2 = node("n2", manager, base + 4)
    n3 = node("n3", manager, base + 8)
    for n in (n2, n3):
        nodes.append(n)
        n.start()

    def groups():
        return {g["name"]: g for g in n1.status()["manager"]["groups"]}

    def ready():
        g = groups().get("n2")
        if not g or g.get("primary") != "n2" or g.get("secondary") != "n3":
            return False
        held = {h["group"]: h for h in n3.status().get("held", [])}
        return "n2" in held and held["n2"]["synced"]
    wait_until("group n2 served by n2 and copied on n3", ready, 30)

    c = Client(n2)
    t = Tally(c)
    a = send(t, "StartCart", '<c:StartCart xmlns:c="%s"/>' % NS_TALLY,
               extra=epr("From", sink.url("/partner"), key="g"))
    equal(a.status, 200, "StartCart on n2")
    t.id = a.conversation_id()
    check(t.id.startswith("n2."), "the conversation is in group n2: %s" % t.id)
    a = send(t, "Notify", notify_body("failover"))
    equal(a.status, 200, "Notify on n2")
    equal(a.find(NS_TALLY, "NotifyResponse"), "queued", "Notify queued on n2")
    c.close()
    wait_until("n2 tried and failed", lambda: callbacks(n2)["retried"] >= 1, 10)
    n2.kill9()
    wait_until("group n2 moved to n3", lambda: groups()["n2"]["primary"] == "n3", 20)
    sink.up()
    try:
        (h, m), = sink.wait("/partner", 1, 20)
        equal(m.find(NS_TALLY, "Notified"), "failover", "the new primary delivered the callback")
        equal(m.conversation_id(), t.id, "for the conversation of group n2")
        wait_until("n3 counts the delivery", lambda: callbacks(n3)["delivered"] >= 1, 5)
    finally:
        sink.down()
    for n in (n1, n3):
        equal(n.stop(), 0, "%s's exit status" % n.name)


if __name__ == "__main__":
    run(one_node, limit=170)
