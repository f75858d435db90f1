#!/usr/bin/python3
"""test_badinput - every malformed, oversized, unknown or hostile input gets a
SOAP fault or an HTTP error with a clear reason and changes no bean (a live
cart is checked after each): malformed XML, a body over max_message_bytes,
too many SOAP headers, an unknown service, operation or action, DTDs and
entity expansion, binary garbage, NUL bytes, an empty body, chunked bodies
(valid: answered; invalid: refused), a client that stalls mid-message (408 or
closed after recv_timeout while others are served), too many HTTP fields,
very deep XML, a GET with a body, an unexpected Content-Type. Afterwards the
node still answers, its log shows no crash, and SIGTERM stops it with 0."""

import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

SENDER11 = "{%s}Client" % NS_SOAP11
MAX_BYTES = 4096


class Fixture:
    """The node and a live cart whose lines must only change when a test says so."""

    def __init__(self, node):
        self.node = node
        self.c = Client(node)
        self.cart = Cart(self.c)
        self.cart.start()
        self.cart.add_ok("apple", 5)
        self.want = {"apple": 5}

    def hdr(self, action="AddItem", extra=""):
        return wsa_headers(CART_ACTION + action, conv=self.cart.id) + extra

    def add_env(self, item="bad", qty=1, extra_hdr="", soap=11):
        return envelope('<c:AddItem xmlns:c="%s"><c:item>%s</c:item><c:qty>%d</c:qty></c:AddItem>'
                        % (NS_CART, item, qty), self.hdr(extra=extra_hdr), soap)

    def post(self, body, soap=11, headers=None, path="/services/cart"):
        """POST on a new connection (a refused request may close it)."""
        c = Client(self.node, timeout=10)
        try:
            return c.post(path, body, soap, None, headers)
        finally:
            c.close()

    def unchanged(self, what):
        equal(self.cart.items(), self.want, "the live cart after " + what)

    def fault(self, a, what, want_in_reason=None, code=SENDER11, status=500):
        f = a.fault()
        check(f is not None, "%s: want a SOAP fault, got %d %r" % (what, a.status, a.raw[:300]))
        equal(a.fault_code(), code, "%s: fault code" % what)
        equal(a.status, status, "%s: HTTP status" % what)
        if want_in_reason:
            check(want_in_reason in f[2], "%s: the reason says %r: %r" % (what, want_in_reason, f[2]))
        self.unchanged(what)
        return f


def http_exchange(port, data, timeout=5.0, responses=1):
    """Send raw bytes; read up to `responses` whole responses. Returns [(status, head, body)]."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = []
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        buf = b""
        while len(out) < responses:
            while b"\r\n\r\n" not in buf:
                try:
                    b = s.recv(65536)
                except (socket.timeout, ConnectionResetError):
                    b = b""
                if not b:
                    return out
                buf += b
            head, _, rest = buf.partition(b"\r\n\r\n")
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            n = int(m.group(1)) if m else 0
            while len(rest) < n:
                b = s.recv(65536)
                if not b:
                    break
                rest += b
            out.append((int(head.split(b" ")[1]), head, rest[:n]))
            buf = rest[n:]
        return out
    finally:
        s.close()


def one(port, data, what, timeout=5.0):
    r = http_exchange(port, data, timeout)
    check(len(r) == 1, "%s: no HTTP answer" % what)
    return r[0]


def xml_faults(fx):
    # Malformed XML: an element left open (cut short), crossed tags, garbage.
    # Regression: a message cut short in its Body was "the request could not be read".
    full = fx.add_env()
    a = fx.post(full[:-40])
    fx.fault(a, "a message cut short", "malformed XML")
    a = fx.post(envelope('<c:AddItem xmlns:c="%s"><c:item>a<c:qty>1</c:qty></c:AddItem>' % NS_CART, fx.hdr()))
    fx.fault(a, "an unclosed c:item", "malformed XML at line 1: Opening and ending tag mismatch")
    # XML gSOAP alone would let through, which would then be stored and
    # written back into every later answer of the conversation.
    for what, item in (("an unpaired surrogate", "x&#xD800;y"), ("a NUL reference", "&#0;"),
                       ("an undeclared entity", "&nope;"), ("bytes not UTF-8", "caf\xe9")):
        body = ('<c:AddItem xmlns:c="%s"><c:item>%s</c:item><c:qty>1</c:qty></c:AddItem>'
                % (NS_CART, item)).encode("latin-1")
        a = fx.post(envelope(body.decode("latin-1"), fx.hdr()).encode("latin-1"))
        fx.fault(a, what, "malformed XML")
    a = fx.post(fx.add_env() + "<after/>")
    fx.fault(a, "content after the Envelope", "content after the end of the Envelope")
    a = fx.post(fx.add_env(extra_hdr='<x:open xmlns:x="urn:x">'))
    fx.fault(a, "an unclosed header element", "malformed XML at line 1: Opening and ending tag mismatch")
    a = fx.post(envelope('<c:AddItem xmlns:c="%s"><c:item>a\0b</c:item><c:qty>1</c:qty></c:AddItem>'
                         % NS_CART, fx.hdr()))
    fx.fault(a, "a NUL byte in the body", "malformed XML")
    a = fx.post(fx.add_env(extra_hdr="\0"))
    fx.fault(a, "a NUL byte in the header", "malformed XML at line 1")
    a = fx.post(os.urandom(1500).replace(b"<", b"("))
    fx.fault(a, "binary garbage", "malformed XML")
    a = fx.post(b"\xff\xfe<\x00s\x00:\x00E\x00" * 50)
    fx.fault(a, "UTF-16 noise", "malformed XML")
    a = fx.post('<s:Envelope xmlns:s="%s"><s:Header>%s</s:Header></s:Envelope>' % (NS_SOAP11, fx.hdr()))
    fx.fault(a, "an Envelope without a Body", "no Body")
    a = fx.post(fx.add_env().replace("</s:Envelope>", "<s:Body/></s:Envelope>"))
    fx.fault(a, "two Bodies", "after the Body")
    a = fx.post(fx.add_env(qty=1).replace("<c:qty>1</c:qty>", "<c:qty>lots</c:qty>"))
    fx.fault(a, "a qty that is not a number", "invalid value in element 'c:qty'")
    # Regression: unknown elements in the Body were ignored (the header hook turned strict mode off).
    a = fx.post(fx.add_env().replace("</c:qty>", "</c:qty><c:price>9</c:price>"))
    fx.fault(a, "an element the schema does not have", "mismatch in element 'c:price'")
    # DTDs: entity expansion and external entities are refused before anything is read.
    lol = ('<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY a "aaaaaaaaaa">'
           '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
           '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">]>')
    a = fx.post(lol + fx.add_env(item="&e;")[len('<?xml version="1.0" encoding="UTF-8"?>'):])
    fx.fault(a, "entity expansion", "DTDs are not allowed")
    xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    a = fx.post(xxe + fx.add_env(item="&e;")[len('<?xml version="1.0" encoding="UTF-8"?>'):])
    fx.fault(a, "an external entity", "DTDs are not allowed")
    check(b"root:" not in a.raw, "the external entity was not read")


def headers_and_routing(fx):
    # More SOAP header blocks than max_headers (8), and very many.
    few = "".join('<x:h%d xmlns:x="urn:x">1</x:h%d>' % (i, i) for i in range(7))
    a = fx.post(fx.add_env(extra_hdr=few))
    fx.fault(a, "9 header blocks", "accepts at most 8 (max_headers)")
    many = fx.hdr() + "<x:h/>" * 450
    a = fx.post(envelope('<c:GetCart xmlns:c="%s"/>' % NS_CART, many).replace(
        "<s:Header>", '<s:Header xmlns:x="urn:x">'))
    fx.fault(a, "450 header blocks", "max_headers")
    # Very deep XML: in a header (the envelope reader's depth limit) and in the Body.
    deep = "<a>" * 400 + "</a>" * 400
    a = fx.post(fx.add_env(extra_hdr='<x:d xmlns:x="urn:x">%s</x:d>' % deep))
    fx.fault(a, "deep XML in a header", "nests elements more than")
    a = fx.post(fx.add_env().replace("</c:qty>", "</c:qty><c:x>%s</c:x>" % deep))
    fx.fault(a, "deep XML in the Body", "nests elements more than 64 deep")
    # Within the depth limit, markup in an item is text to gSOAP, and too long here.
    nested = "<a>" * 40 + "</a>" * 40
    a = fx.post(fx.add_env().replace("<c:item>bad</c:item>", "<c:item>%s</c:item>" % nested))
    fx.fault(a, "deep XML in an item", "item must be 1 to 256 bytes")
    # An unknown service: 404 with a fault naming it.
    a = fx.post(fx.add_env(), path="/services/nope")
    fx.fault(a, "an unknown service", "no service nope is deployed", status=404)
    # An unknown operation: a Body element no operation takes (no action).
    a = fx.post(envelope('<c:Frobnicate xmlns:c="%s"/>' % NS_CART,
                         '<pc:ConversationID xmlns:pc="%s">%s</pc:ConversationID>' % (NS_PC, fx.cart.id)))
    fx.fault(a, "an unknown operation", "has no operation that takes {%s}Frobnicate" % NS_CART)
    # An empty Body.
    a = fx.post(envelope("", ""))
    fx.fault(a, "an empty Body", "(an empty Body)")
    # An unknown wsa:Action.
    a = fx.post(envelope('<c:AddItem xmlns:c="%s"><c:item>a</c:item><c:qty>1</c:qty></c:AddItem>' % NS_CART,
                         fx.hdr(action="Steal")))
    fx.fault(a, "an unknown wsa:Action", "no operation for the action %sSteal" % CART_ACTION,
             code="{%s}ActionNotSupported" % NS_WSA)
    # A SOAPAction that contradicts wsa:Action.
    a = fx.post(fx.add_env(), headers={"SOAPAction": '"%sGetCart"' % CART_ACTION})
    fx.fault(a, "a SOAPAction that is not the wsa:Action", "differs from the SOAP action",
             code="{%s}ActionMismatch" % NS_WSA)
    # A bad conversation ID of 100 kB is cut off by max_message_bytes first.
    a = fx.post(fx.add_env(extra_hdr="") .replace(fx.cart.id, "n1." + "a" * 5000))
    equal(a.status, 413, "a huge conversation ID")
    fx.unchanged("a huge conversation ID")


def http_errors(fx):
    port = fx.node.port
    head = b"POST /services/cart HTTP/1.1\r\nHost: t\r\nContent-Type: text/xml; charset=utf-8\r\n"
    body = fx.add_env(item="chunky", qty=2).encode()
    # Over max_message_bytes: 413, by Content-Length (not read) and by chunks.
    status, _, text = one(port, head + b"Content-Length: %d\r\n\r\n" % (MAX_BYTES + 1) + b"x" * (MAX_BYTES + 1),
                          "a body over max_message_bytes")
    equal(status, 413, "a body over max_message_bytes")
    check(b"max_message_bytes (4096 bytes)" in text, "the 413 names the limit: %r" % text)
    status, _, _ = one(port, head + b"Content-Length: 99999999999\r\n\r\n", "a huge Content-Length")
    equal(status, 413, "a huge Content-Length")
    status, _, _ = one(port, head + b"Transfer-Encoding: chunked\r\n\r\n2000\r\n" + b"x" * 64,
                       "a chunk over max_message_bytes")
    equal(status, 413, "a chunk over max_message_bytes")
    fx.unchanged("oversized bodies")
    # An empty body.
    status, _, text = one(port, head + b"Content-Length: 0\r\n\r\n", "an empty body")
    equal(status, 400, "an empty body")
    check(b"needs an envelope" in text, "the 400 says why: %r" % text)
    # A valid chunked body is answered, and the add is applied.
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 97]), body[i:i + 97])
                      for i in range(0, len(body), 97)) + b"0\r\n\r\n"
    status, _, text = one(port, head + b"Transfer-Encoding: chunked\r\n\r\n" + chunks, "a chunked body")
    equal(status, 200, "a valid chunked body: %r" % text[-200:])
    fx.want["chunky"] = 2
    check(b"<cart:count>7</cart:count>" in text, "the chunked AddItem's answer: %r" % text[-200:])
    fx.unchanged("a chunked AddItem")
    # Invalid chunked bodies.
    for what, te_body, want in (
            ("a chunk size that is not hex", b"zz\r\nabc\r\n0\r\n\r\n", 400),
            ("chunk data longer than its size", b"3\r\nabcdef\r\n0\r\n\r\n", 400),
            ("a negative chunk size", b"-5\r\nabc\r\n0\r\n\r\n", 400),
            ("a chunk size line that never ends", b"1" + b";x" * 700, 400)):
        status, _, _ = one(port, head + b"Transfer-Encoding: chunked\r\n\r\n" + te_body, what)
        equal(status, want, what)
    status, _, text = one(port, head + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
                          "both Transfer-Encoding and Content-Length")
    equal(status, 400, "both Transfer-Encoding and Content-Length")
    status, _, _ = one(port, head + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "gzip")
    equal(status, 501, "a transfer coding other than chunked")
    fx.unchanged("invalid chunked bodies")
    # Too many HTTP header fields, a head too large, malformed request lines.
    status, _, text = one(port, b"GET /parley/status HTTP/1.1\r\n" +
                          b"".join(b"X-H%d: v\r\n" % i for i in range(100)) + b"\r\n", "100 fields")
    equal(status, 431, "100 HTTP header fields")
    check(b"too many header fields" in text, "the 431 says why: %r" % text)
    status, _, _ = one(port, b"GET /parley/status HTTP/1.1\r\nX-Big: " + b"v" * 20000 + b"\r\n\r\n", "a big head")
    equal(status, 431, "a 20 kB header field")
    for what, line, want in ((b"HTTP/2.0", b"GET / HTTP/2.0\r\n\r\n", 505),
                             (b"noise", b"\x00\x01\x02 garbage\r\n\r\n", 400),
                             (b"a long method", b"LONGMETHOD / HTTP/1.1\r\n\r\n", 501),
                             (b"no version", b"GET /\r\n\r\n", 400)):
        status, _, _ = one(port, line, what.decode())
        equal(status, want, what.decode())
    # A GET with a body: the body is read and skipped, the next request on the connection is served.
    r = http_exchange(port, b"GET /parley/status HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"
                      b"GET /services/cart HTTP/1.1\r\nConnection: close\r\n\r\n", responses=2)
    equal([x[0] for x in r], [200, 200], "a GET with a body, then a GET on the same connection")
    check(r[0][2].startswith(b"{") and r[1][2].startswith(b"service cart"), "both answers are whole")
    # An unexpected Content-Type: the envelope decides; the answer is in its SOAP version.
    a = fx.post(envelope('<c:GetCart xmlns:c="%s"/>' % NS_CART, fx.hdr("GetCart")),
                headers={"Content-Type": "application/json"})
    check(a.status == 200 or (a.status == 415 and b"Content-Type" in a.raw),
          "an unexpected Content-Type is handled or refused clearly: %d %r" % (a.status, a.raw[:200]))
    if a.status == 200:
        equal(a.find(NS_CART, "count"), "7", "the GetCart sent as application/json")
    a = fx.post(envelope('<c:GetCart xmlns:c="%s"/>' % NS_CART, fx.hdr("GetCart"), soap=12), soap=11)
    equal((a.status, a.soap_ns()), (200, NS_SOAP12), "a SOAP 1.2 envelope sent as text/xml")
    # Other methods.
    status, head_, _ = one(port, b"PUT /services/cart HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "PUT")
    equal(status, 405, "PUT")
    check(b"Allow: GET, HEAD, POST" in head_, "the 405 says what is allowed")
    fx.unchanged("HTTP errors")


def stalls(fx):
    """recv_timeout=500ms: stalled clients are dropped; the others are served meanwhile."""
    port = fx.node.port
    results = {}

    def stall(name, data):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        t0 = time.time()
        s.sendall(data)
        got = b""
        try:
            while True:
                b = s.recv(4096)
                if not b:
                    break
                got += b
        except (socket.timeout, ConnectionResetError):
            pass
        results[name] = (time.time() - t0, got)
        s.close()

    body = fx.add_env(item="stalled", qty=9).encode()
    head = (b"POST /services/cart HTTP/1.1\r\nHost: t\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n"
            % len(body))
    threads = [threading.Thread(target=stall, args=a) for a in (
        ("body", head + body[:len(body) // 2]),
        ("head", head[:40]),
        ("nothing", b""))]
    t0 = time.time()
    for t in threads:
        t.start()
    # Meanwhile, another client is served as usual, several times.
    c = Client(fx.node, timeout=5)
    cart = Cart(c)
    cart.id = fx.cart.id
    n = 0
    while time.time() - t0 < 0.8:
        t1 = time.time()
        equal(cart.count(), 7, "a GetCart while others stall")
        check(time.time() - t1 < 0.3, "a request waited %.2f s while others stalled" % (time.time() - t1))
        n += 1
        time.sleep(0.05)
    c.close()
    for t in threads:
        t.join(10)
    check(n >= 5, "requests were served while others stalled")
    for name in ("body", "head", "nothing"):
        took, got = results[name]
        check(0.4 <= took <= 3.0, "a client stalled in its %s was dropped after %.2f s (recv_timeout 500ms)"
              % (name, took))
        check(got == b"" or got.startswith(b"HTTP/1.1 408 "), "the stalled %s got %r" % (name, got[:100]))
    check(results["body"][1].startswith(b"HTTP/1.1 408 "), "a client stalled mid-body gets a 408")
    fx.unchanged("stalled clients")
    check(fx.node.status()["http"]["timeouts"] >= 2, "the status page counts the timeouts")


def test(wd, nodes):
    node = Node(wd, extra=["max_message_bytes=4k", "max_headers=8", "recv_timeout=500ms", "workers=4"])
    nodes.append(node)
    node.start()
    fx = Fixture(node)
    xml_faults(fx)
    headers_and_routing(fx)
    http_errors(fx)
    stalls(fx)
    # Still serving, and nothing crashed.
    equal(fx.cart.add_ok("apple", 1), 8, "an AddItem after all the bad input")
    fx.want["apple"] += 1
    fx.unchanged("the last good AddItem")
    c = Client(node)
    t = Tally(c)
    t.start()
    equal(t.add_ok("x", 1), 1001, "the tally after all the bad input")
    c.close()
    fx.c.close()
    log = node.log()
    for mark in ("Segmentation", "Aborted", "assert", "AddressSanitizer", "runtime error"):
        check(mark not in log, "the node's log has %r:\n%s" % (mark, log[-2000:]))
    check(node.proc.poll() is None, "the node is still running")
    node.signal(signal.SIGTERM)
    equal(node.wait(), 0, "exit status after SIGTERM")
    check("stopped" in node.run_log(), "the log says the node stopped")


run(test)
