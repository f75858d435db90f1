"""parleytest - what the integration tests share: starting real parleyd
processes on loopback, sending SOAP messages to them, reading the answers.

Only the Python standard library is used, from /usr/bin/python3. Paths come
from the environment that `make check` exports (top_srcdir, top_builddir).
"""

import http.client
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET

TOP_SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir") or TOP_SRCDIR
PARLEYD = os.path.join(TOP_BUILDDIR, "container", "parleyd")
TEST_DEPLOY = os.path.join(TOP_BUILDDIR, "tests", "deploy")
SAMPLE_DEPLOY = os.path.join(TOP_BUILDDIR, "samples", "deploy")
FIXTURES = os.path.join(TOP_SRCDIR, "tests", "fixtures", "wsa")

NS_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS_WSA = "http://www.w3.org/2005/08/addressing"
NS_WSA2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_PC = "urn:parley:conversation"
NS_CART = "urn:parley:samples:cart"
NS_TALLY = "urn:parley:tests:tally"
CART_ACTION = "urn:parley:samples:cart/"


class TestFailure(Exception):
    pass


def check(cond, what):
    """Fail the test with a message when cond is false."""
    if not cond:
        raise TestFailure(what)


def equal(got, want, what):
    if got != want:
        raise TestFailure("%s: got %r, want %r" % (what, got, want))


class Node:
    """One parleyd process on 127.0.0.1 with its own data directory."""

    def __init__(self, workdir, name="n1", deploy=TEST_DEPLOY, store="disk", extra=None,
                 host="127.0.0.1", conf_file=None, data_dir=None):
        self.workdir = workdir
        self.name = name
        self.deploy = deploy
        self.store = store
        self.extra = list(extra or [])
        self.host = host
        self.conf_file = conf_file
        self.data_dir = data_dir or os.path.join(workdir, name + "-data")
        self.log_path = os.path.join(workdir, name + ".log")
        self.proc = None
        self.port = None
        self.log_mark = 0              # where the log of the current run begins

    def args(self, port=0):
        a = [PARLEYD, "-d"]
        if self.conf_file:
            a += ["-f", self.conf_file]
        a += ["-D", "node_id=" + self.name,
              "-D", "listen=%s:%d" % (self.host, port),
              "-D", "data_dir=" + self.data_dir,
              "-D", "deploy_dir=" + self.deploy,
              "-D", "store=" + self.store]
        for e in self.extra:
            a += ["-D", e]
        return a

    def start(self, port=None, timeout=20.0):
        """Start the node and wait until it serves; port None reuses the last one, or picks."""
        if port is None:
            port = self.port or 0
        self.log_mark = len(self.log_bytes())
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args(port), stdout=log, stderr=log)
        log.close()
        deadline = time.time() + timeout
        pattern = re.compile(r"serving on (\S+):(\d+)")
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure("parleyd %s exited with %s at start; log:\n%s"
                                  % (self.name, self.proc.returncode, self.log()))
            m = None
            for line in self.run_log().splitlines():
                m2 = pattern.search(line)
                if m2:
                    m = m2
            if m and (port == 0 or int(m.group(2)) == port):
                self.port = int(m.group(2))
                if self.answers():
                    return self
            time.sleep(0.05)
        raise TestFailure("parleyd %s did not start in %.0f s; log:\n%s"
                          % (self.name, timeout, self.log()))

    def answers(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            c.request("GET", "/parley/status")
            ok = c.getresponse().status == 200
            c.close()
            return ok
        except OSError:
            return False

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_bytes(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def run_log(self):
        """The log of the current (or last) run only."""
        return self.log_bytes()[self.log_mark:].decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=10.0, since=0):
        """Wait until the log of this run, from offset since, matches the regex; returns the match."""
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.run_log()[since:])
            if m:
                return m
            if time.time() >= deadline:
                raise TestFailure("node %s's log did not say /%s/ within %.1f s"
                                  % (self.name, pattern, timeout))
            time.sleep(0.05)

    def signal(self, sig):
        check(self.proc is not None, "node %s is not running" % self.name)
        self.proc.send_signal(sig)

    def wait(self, timeout=20.0):
        """Wait for the process to exit by itself; returns its exit status."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            raise TestFailure("parleyd %s did not exit within %.0f s" % (self.name, timeout))
        self.proc = None
        return rc

    def stop(self, timeout=20.0):
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TestFailure("parleyd %s did not stop within %.0f s of SIGTERM" % (self.name, timeout))
        self.proc = None
        return rc

    def kill9(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def status(self):
        # Asked with Connection: close and read to the end of the stream: the
        # node closes first, so a test counting open connections never sees
        # its own previous look still open.
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        try:
            s.sendall(b"GET /parley/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
        finally:
            s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
        check(status == 200, "status page answered %d" % status)
        check(b"chunked" not in head.lower(), "status page is sent with a length")
        return json.loads(body)

    def conversations(self):
        """Live conversations per service, from the status page."""
        return dict((s["name"], s["conversations"]) for s in self.status()["services"])

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, r.getheader("Content-Type"), body


def new_msgid():
    return "urn:uuid:" + str(uuid.uuid4())


def envelope(body, headers="", soap=11):
    ns = NS_SOAP11 if soap == 11 else NS_SOAP12
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<s:Envelope xmlns:s="%s"><s:Header>%s</s:Header><s:Body>%s</s:Body></s:Envelope>'
            % (ns, headers, body))


def wsa_headers(action, msgid=None, to=None, conv=None, refparam=True, wsa=NS_WSA):
    h = '<wsa:Action xmlns:wsa="%s">%s</wsa:Action>' % (wsa, action)
    h += '<wsa:MessageID xmlns:wsa="%s">%s</wsa:MessageID>' % (wsa, msgid or new_msgid())
    if to:
        h += '<wsa:To xmlns:wsa="%s">%s</wsa:To>' % (wsa, to)
    if conv:
        attr = (' wsa:IsReferenceParameter="true" xmlns:wsa="%s"' % wsa) if refparam else ""
        h += '<pc:ConversationID xmlns:pc="%s"%s>%s</pc:ConversationID>' % (NS_PC, attr, conv)
    return h


class Answer:
    """An HTTP answer to a SOAP request, parsed."""

    def __init__(self, status, content_type, body):
        self.status = status
        self.content_type = content_type or ""
        self.raw = body
        self.root = None
        try:
            self.root = ET.fromstring(body)
        except ET.ParseError:
            pass

    def soap_ns(self):
        if self.root is None:
            return None
        return self.root.tag[1:].split("}")[0]

    def header(self, ns, name):
        if self.root is None:
            return None
        for h in self.root.iter("{%s}%s" % (ns, name)):
            return (h.text or "").strip()
        return None

    def conversation_id(self):
        return self.header(NS_PC, "ConversationID")

    def find(self, ns, name):
        """Text of the first element {ns}name anywhere in the Body."""
        if self.root is None:
            return None
        for body in self.root.iter("{%s}Body" % self.soap_ns()):
            for e in body.iter("{%s}%s" % (ns, name)):
                return (e.text or "").strip()
        return None

    def findall(self, ns, name):
        out = []
        if self.root is None:
            return out
        for body in self.root.iter("{%s}Body" % self.soap_ns()):
            out += list(body.iter("{%s}%s" % (ns, name)))
        return out

    def fault(self):
        """(code, subcode, reason) of a SOAP fault, or None. Codes as 'prefix-free' {ns}local."""
        if self.root is None:
            return None
        ns = self.soap_ns()
        f = None
        for f in self.root.iter("{%s}Fault" % ns):
            break
        if f is None:
            return None
        if ns == NS_SOAP11:
            fc = f.find("faultcode")
            code = qname(fc) if fc is not None else None
            reason = (f.findtext("faultstring") or "").strip()
            return code, None, reason
        code = f.find("{%s}Code/{%s}Value" % (ns, ns))
        sub = f.find("{%s}Code/{%s}Subcode/{%s}Value" % (ns, ns, ns))
        reason = (f.findtext("{%s}Reason/{%s}Text" % (ns, ns)) or "").strip()
        return qname(code) if code is not None else None, qname(sub) if sub is not None else None, reason

    def fault_code(self):
        """The code that names the problem: SOAP 1.1 faultcode, SOAP 1.2 first Subcode (else Code)."""
        f = self.fault()
        if f is None:
            return None
        return f[1] or f[0]


def qname(elem):
    """Resolve an element's QName text to {ns}local using the namespaces in scope."""
    text = (elem.text or "").strip()
    prefix, _, local = text.rpartition(":")
    ns = NSMAP.get(id(elem), {}).get(prefix)
    if ns is None:
        return text
    return "{%s}%s" % (ns, local)


NSMAP = {}


def parse_with_ns(body):
    """Parse keeping each element's in-scope namespace map (for QName values)."""
    import io
    stack = [{}]
    root = None
    for event, item in ET.iterparse(io.BytesIO(body), events=("start-ns", "start", "end")):
        if event == "start-ns":
            pending.append(item)
        elif event == "start":
            scope = dict(stack[-1])
            for p, u in pending:
                scope[p] = u
            pending.clear()
            stack.append(scope)
            NSMAP[id(item)] = scope
            if root is None:
                root = item
        elif event == "end":
            stack.pop()
    return root


pending = []


class Client:
    """A keep-alive HTTP connection to one node."""

    def __init__(self, node, timeout=30):
        self.node = node
        self.conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=timeout)

    def post(self, path, body, soap=11, action=None, headers=None):
        h = {"Content-Type": "text/xml; charset=utf-8" if soap == 11
             else "application/soap+xml; charset=utf-8" + ('; action="%s"' % action if action else "")}
        if soap == 11 and action is not None:
            h["SOAPAction"] = '"%s"' % action
        if headers:
            h.update(headers)
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.conn.request("POST", path, body=body, headers=h)
        r = self.conn.getresponse()
        data = r.read()
        a = Answer(r.status, r.getheader("Content-Type"), data)
        if a.root is not None:
            a.root = parse_with_ns(data)
        return a

    def close(self):
        self.conn.close()


class Cart:
    """The cart conversation, spoken in raw SOAP with WS-Addressing."""

    def __init__(self, client, path="/services/cart", soap=11, ns=NS_CART, action_base=CART_ACTION):
        self.c = client
        self.path = path
        self.soap = soap
        self.ns = ns
        self.action_base = action_base
        self.id = None

    def action(self, op):
        return self.action_base + op

    def call(self, op, body, conv=None, msgid=None, refparam=True, extra_headers=""):
        action = self.action(op)
        hdr = wsa_headers(action, msgid=msgid, conv=conv, refparam=refparam) + extra_headers
        return self.c.post(self.path, envelope(body, hdr, self.soap), self.soap, action)

    def start(self, msgid=None):
        a = self.call("StartCart", '<c:StartCart xmlns:c="%s"/>' % self.ns, msgid=msgid)
        check(a.status == 200, "StartCart answered %d: %s" % (a.status, a.raw[:400]))
        self.id = a.conversation_id()
        check(self.id, "StartCart answer has no pc:ConversationID header: %s" % a.raw[:400])
        return a

    def add(self, item, qty, msgid=None, conv=None):
        return self.call("AddItem", '<c:AddItem xmlns:c="%s"><c:item>%s</c:item><c:qty>%d</c:qty></c:AddItem>'
                         % (self.ns, item, qty), conv=conv or self.id, msgid=msgid)

    def add_ok(self, item, qty, msgid=None):
        a = self.add(item, qty, msgid)
        check(a.status == 200, "AddItem answered %d: %s" % (a.status, a.raw[:400]))
        return int(a.find(self.ns, "count"))

    def get(self, conv=None):
        return self.call("GetCart", '<c:GetCart xmlns:c="%s"/>' % self.ns, conv=conv or self.id)

    def checkout(self, msgid=None, conv=None):
        return self.call("Checkout", '<c:Checkout xmlns:c="%s"/>' % self.ns, conv=conv or self.id, msgid=msgid)

    def count(self, conv=None):
        """GetCart's count; fails the test on any other answer."""
        a = self.get(conv)
        check(a.status == 200, "GetCart answered %d: %s" % (a.status, a.raw[:400]))
        return int(a.find(self.ns, "count"))

    def items(self, conv=None):
        """GetCart's lines as {name: qty} (the cart's, not the tally's)."""
        a = self.get(conv)
        check(a.status == 200, "GetCart answered %d: %s" % (a.status, a.raw[:400]))
        out = {}
        for it in a.findall(self.ns, "item"):
            out[it.findtext("{%s}name" % self.ns)] = int(it.findtext("{%s}qty" % self.ns))
        return out


TALLY_ACTION = "urn:parley:tests:tally:"


def tally_action(op):
    """tally.wsdl gives StartCart and AddItem their actions; the others take the default."""
    if op in ("StartCart", "AddItem"):
        return TALLY_ACTION + op
    return TALLY_ACTION + "Tally:" + op + "Request"


class Tally(Cart):
    """The tally test service: the cart's operations (AddItem answers 1000 + total), Sleep, Echo."""

    def __init__(self, client, soap=11):
        Cart.__init__(self, client, path="/services/tally", soap=soap, ns=NS_TALLY)

    def action(self, op):
        return tally_action(op)

    def sleep(self, ms, conv=None, msgid=None):
        return self.call("Sleep", '<c:Sleep xmlns:c="%s"><c:ms>%d</c:ms></c:Sleep>' % (self.ns, ms),
                         conv=conv or self.id, msgid=msgid)

    def echo(self, text, extra_headers=""):
        return self.call("Echo", '<c:Echo xmlns:c="%s"><c:text>%s</c:text></c:Echo>' % (self.ns, text),
                         extra_headers=extra_headers)


def workdir(name):
    base = os.environ.get("TMPDIR", "/tmp")
    return tempfile.mkdtemp(prefix="parley-%s-" % name, dir=base)


def run(test_fn, name=None, limit=None):
    """Run test_fn(workdir); print a verdict; exit 0, 1 (failed) or 77 (skipped).

    A test that runs longer than limit seconds (PARLEY_TEST_LIMIT, default 90)
    fails here, with its nodes' logs and its nodes stopped, before timeout.sh
    would kill it and leave the nodes running."""
    name = name or os.path.basename(sys.argv[0])
    wd = workdir(name.replace(".py", ""))
    nodes = []
    limit = int(limit or os.environ.get("PARLEY_TEST_LIMIT", "90"))

    def on_alarm(sig, frame):
        raise TimeLimit("the test ran longer than its limit of %d s" % limit)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(limit)
    try:
        test_fn(wd, nodes)
        signal.alarm(0)
        for n in nodes:
            check_sanitizers(n)
        known = set(n.proc.pid for n in nodes if n.proc is not None)
        left = [p for p in strays(wd) if p not in known]
        check(not left, "the test left %d process(es) it did not track running: %s"
              % (len(left), left))
    except SkipTest as e:
        signal.alarm(0)
        print("SKIP: %s: %s" % (name, e))
        cleanup(nodes, wd)
        sys.exit(77)
    except (Exception, TimeLimit) as e:  # noqa: BLE001 - any error fails the test, with the logs
        signal.alarm(0)
        if not isinstance(e, (TestFailure, TimeLimit)):
            import traceback
            traceback.print_exc(file=sys.stdout)
        print("FAIL: %s: %s" % (name, e))
        for n in nodes:
            print("----- log of node %s\n%s" % (n.name, n.log()[-6000:]))
        cleanup(nodes, wd, keep=True)
        sys.exit(1)
    cleanup(nodes, wd)
    print("PASS: %s" % name)
    sys.exit(0)


class SkipTest(Exception):
    pass


class TimeLimit(BaseException):
    """Raised in the main thread at the test's time limit; not an Exception, so no test catches it."""


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer")


def check_sanitizers(node):
    """A node built with sanitizers reports to its log; any report fails the test."""
    log = node.log()
    for mark in SANITIZER_MARKS:
        i = log.find(mark)
        if i >= 0:
            raise TestFailure("node %s's log has a sanitizer report:\n%s" % (node.name, log[max(0, i - 200):i + 3000]))


def strays(wd):
    """Processes (a node started by a script, say) whose command line names wd."""
    found = []
    mark = wd.encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if mark in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def cleanup(nodes, wd, keep=False):
    for n in nodes:
        try:
            if n.proc is not None:
                n.proc.kill()
                n.proc.wait()
        except OSError:
            pass
    # Nothing a test started may outlive it; a stray is a defect of the test.
    left = strays(wd)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if left:
        print("WARNING: killed %d process(es) the test left running in %s" % (len(left), wd))
    if keep:
        print("(work directory kept: %s)" % wd)
    else:
        shutil.rmtree(wd, ignore_errors=True)


def raw_request(port, data, read_timeout=5.0):
    """Send raw bytes on a new connection; return what came back until close or timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    try:
        s.sendall(data)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
        return b"".join(chunks)
    finally:
        s.close()


def _complete(data):
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    return m is not None and len(body) >= int(m.group(1))


def free_ports(n):
    """A base port with n free ports after it on 127.0.0.1, below the
    ephemeral range (where outgoing connections take their ports)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - n)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise TestFailure("no %d free ports in a row" % n)


def wait_until(what, cond, timeout=20.0, step=0.05):
    """cond()'s first true value, asked every step seconds; fails after timeout."""
    deadline = time.time() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.time() > deadline:
            raise TestFailure("%s: not so after %.0f s" % (what, timeout))
        time.sleep(step)


# The sample clients in samples/clients, one per SOAP stack. Each finder
# returns (argv, env, None) to run the named script, or (None, None, what to
# install) when the stack is missing.
CLIENTS = os.path.join(TOP_SRCDIR, "samples", "clients")
NODE_MODULES = os.path.join(CLIENTS, "node", "node_modules")


def has_module(argv):
    """Whether argv (an interpreter loading a module) runs and exits 0."""
    try:
        return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def zeep_client(script):
    """A client in samples/clients/python, run by /usr/bin/python3 with zeep."""
    if not has_module(["/usr/bin/python3", "-c", "import zeep"]):
        return None, None, "zeep for /usr/bin/python3 (apt-get install python3-zeep)"
    return ["/usr/bin/python3", os.path.join(CLIENTS, "python", script)], None, None


def soaplite_client(script):
    """A client in samples/clients/perl, run by perl with SOAP::Lite."""
    perl = shutil.which("perl")
    if perl is None or not has_module([perl, "-MSOAP::Lite", "-MLWP::UserAgent", "-MXML::Parser", "-e", "1"]):
        return None, None, "perl with SOAP::Lite (apt-get install libsoap-lite-perl)"
    return [perl, os.path.join(CLIENTS, "perl", script)], None, None


def node_soap_client(script):
    """A client in samples/clients/node, run by node with the npm soap package."""
    node = shutil.which("node")
    if node is None:
        return None, None, "node (apt-get install nodejs npm)"
    if not os.path.isdir(os.path.join(NODE_MODULES, "soap")):
        return None, None, ("the npm soap package in %s (cd %s && npm ci --no-audit --no-fund)"
                            % (NODE_MODULES, os.path.dirname(NODE_MODULES)))
    env = dict(os.environ, NODE_PATH=NODE_MODULES)
    return [node, os.path.join(CLIENTS, "node", script)], env, None


CLIENT_TIMEOUT = 60


def run_sample_client(name, argv, env, args):
    """Run one sample client (argv and env as zeep_client and the others give them)
    with args, at most CLIENT_TIMEOUT seconds; print and return (exit status, output)."""
    try:
        p = subprocess.run(argv + args, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=CLIENT_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        raise TestFailure("%s did not finish in %d s; it printed:\n%s"
                          % (name, CLIENT_TIMEOUT, (e.stdout or b"").decode(errors="replace")))
    out = p.stdout.decode(errors="replace")
    print("----- %s: %s\n%s" % (name, " ".join(argv[1:] + args), out), end="")
    return p.returncode, out


class TamperingProxy(http.server.ThreadingHTTPServer):
    """Passes requests on to a node and its answers back, serving the node's
    WSDLs with the proxy's own address in them, but adds one to the number an
    answer holds where pattern (a bytes regex: group 1 what comes before the
    number, its last group the number) matches: a client that checks what it
    is told must notice."""

    def __init__(self, node, pattern):
        self.node = node
        self.pattern = re.compile(pattern)
        super().__init__(("127.0.0.1", 0), _TamperingHandler)
        self.url = "http://127.0.0.1:%d" % self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _TamperingHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.forward(None)

    def do_POST(self):
        self.forward(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

    def forward(self, body):
        node = self.server.node
        c = http.client.HTTPConnection("127.0.0.1", node.port, timeout=30)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() in ("content-type", "soapaction")}
        c.request(self.command, self.path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        c.close()
        data = data.replace(node.url.encode(), self.server.url.encode())
        data = self.server.pattern.sub(
            lambda m: m.group(1) + str(int(m.group(m.lastindex)) + 1).encode(), data)
        self.send_response(r.status)
        self.send_header("Content-Type", r.getheader("Content-Type"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass
