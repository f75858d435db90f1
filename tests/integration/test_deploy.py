#!/usr/bin/python3
"""test_deploy - deploying into a running node. A node that starts with the
cart alone gets the tally at run time (parleyctl deploy of tally.so) and
serves it; a redeploy of version 2 (tests/deploy2) while a conversation is
live and while one of its messages runs keeps the conversation: the running
message finishes on version 1, the next ones run on version 2, which
migrates the bean version 1 stored (parley_bean_version); broken modules
(not a shared object; a descriptor naming an operation the WSDL lacks) are
refused with their reason and version 2 keeps answering; the admin
endpoints answer only whom admin_allow lets in; undeploy refuses a service
with live conversations unless forced; files dropped into deploy_dir are
deployed at SIGHUP; a restart finds what was deployed last; and a node
whose deploy directory is not parleyctl's gets the files uploaded over HTTP
in pieces its max_message_bytes allows (parleyctl deploy --upload), never
over a file it has, with a refused deploy's uploads discarded."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

PARLEYCTL = os.path.join(TOP_BUILDDIR, "container", "parleyctl")
DEPLOY2 = os.path.join(TOP_BUILDDIR, "tests", "deploy2")


def ctl(node, *args):
    p = subprocess.run([PARLEYCTL, "-u", node.url] + list(args), capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def tally_service(node):
    for s in node.status()["services"]:
        if s["name"] == "tally":
            return s
    return None


def post_form(node, path, form):
    c = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10)
    c.request("POST", path, form, {"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, body


def deploy_at_runtime(node, deploy):
    c = Client(node)
    a = Tally(c).call("StartCart", '<c:StartCart xmlns:c="%s"/>' % NS_TALLY)
    equal(a.status, 404, "the tally is not deployed at start")
    rc, out, err = ctl(node, "deploy", os.path.join(TEST_DEPLOY, "tally.so"))
    equal(rc, 0, "parleyctl deploy tally.so: %s" % err)
    check("deployed tally version 1" in out, "parleyctl says what it deployed: %r" % out)
    s = tally_service(node)
    check(s is not None, "the status page lists the tally")
    equal(s["version"], 1, "its version")
    equal(os.path.dirname(s["module"]), deploy, "its module is in deploy_dir")
    check(os.path.basename(s["module"]).startswith("tally-v1-"), "under a versioned name: %r" % s["module"])
    equal(s["descriptor"], os.path.join(deploy, "tally.service"), "the staged descriptor became tally.service")
    check(not [f for f in os.listdir(deploy) if f.startswith(".")], "no staged file is left")
    t = Tally(c)
    t.start()
    equal(t.add_ok("x", 3), 1003, "the deployed tally answers")
    rc, out, err = ctl(node, "status")
    check(rc == 0 and "tally-v1-" in out and '"version": 1' in out,
          "parleyctl status shows the module and version: %r" % out[:2000])
    return t


def redeploy_live(node, deploy, t):
    # A second conversation with a message running while version 2 comes in.
    c2 = Client(node)
    u = Tally(c2)
    u.start()
    equal(u.add_ok("y", 5), 1005, "second conversation on version 1")
    slept = {}

    def sleeper():
        slept["a"] = Tally(Client(node)).sleep(1500, conv=u.id)

    th = threading.Thread(target=sleeper)
    th.start()
    time.sleep(0.4)
    rc, out, err = ctl(node, "deploy", DEPLOY2)
    equal(rc, 0, "parleyctl deploy tests/deploy2: %s" % err)
    check("deployed tally version 2" in out and "replacing version 1" in out,
          "parleyctl says version 2 replaced version 1: %r" % out)
    th.join(10)
    check(not th.is_alive(), "the running Sleep finished")
    equal(slept["a"].status, 200, "the message running during the redeploy finished on the old module")
    s = tally_service(node)
    equal(s["version"], 2, "the status page shows version 2")
    check(os.path.basename(s["module"]).startswith("tally-v2-"), "version 2's module: %r" % s["module"])
    with open(os.path.join(deploy, "tally.service")) as f:
        text = f.read()
    check("version 2" in text and "tally-v2-" in text, "tally.service now describes version 2: %r" % text)
    # The live conversations go on; version 2 migrates the beans version 1 stored.
    equal(t.add_ok("x", 4), 2007, "the first conversation on version 2, its bean kept")
    equal(t.add_ok("x", 1), 2008, "and again, the bean now in version 2's form")
    equal(u.add_ok("y", 1), 2006, "the second conversation on version 2")
    equal(u.count(), 6, "its GetCart")


def refuse_broken(node, deploy, wd, t):
    before = sorted(os.listdir(deploy))
    # A module that is not a shared object.
    bad = os.path.join(wd, "bad1")
    os.mkdir(bad)
    with open(os.path.join(bad, "tally.so"), "w") as f:
        f.write("this is not a shared object\n")
    shutil.copy(os.path.join(DEPLOY2, "tally.wsdl"), bad)
    with open(os.path.join(DEPLOY2, "tally.service")) as f:
        desc = f.read().replace("version 2", "version 3")
    with open(os.path.join(bad, "tally.service"), "w") as f:
        f.write(desc)
    rc, out, err = ctl(node, "deploy", os.path.join(bad, "tally.so"))
    equal(rc, 1, "a module that is not a shared object is refused")
    check("refused" in err and "its module cannot be loaded" in err, "with its reason: %r" % err)
    equal(sorted(os.listdir(deploy)), before, "the refused deploy left nothing in deploy_dir")
    equal(t.add_ok("x", 1), 2009, "version 2 still answers")
    # A descriptor naming an operation the WSDL lacks.
    bad = os.path.join(wd, "bad2")
    os.mkdir(bad)
    shutil.copy(os.path.join(DEPLOY2, "tally.so"), bad)
    shutil.copy(os.path.join(DEPLOY2, "tally.wsdl"), bad)
    with open(os.path.join(bad, "tally.service"), "w") as f:
        f.write(desc + "operation Refund continue\n")
    rc, out, err = ctl(node, "deploy", bad)
    equal(rc, 1, "a descriptor naming an operation the WSDL lacks is refused")
    check("operation 'Refund' is not in" in err, "with its reason: %r" % err)
    equal(sorted(os.listdir(deploy)), before, "nothing left behind either")
    equal(tally_service(node)["version"], 2, "version 2 is still the one served")
    equal(t.add_ok("x", 1), 2010, "and answers")
    # The admin endpoint loads only descriptors inside deploy_dir.
    status, body = post_form(node, "/parley/admin/deploy", "descriptor=../bad2/tally.service")
    equal(status, 422, "a path out of deploy_dir is refused: %s" % body)
    check(node.wait_log(r"deploy .* refused", timeout=5), "refusals are logged")


def undeploy(node, deploy, t):
    rc, out, err = ctl(node, "undeploy", "tally")
    equal(rc, 1, "undeploy with live conversations is refused")
    check("live conversation" in err and "force" in err, "saying why and what to do: %r" % err)
    equal(t.add_ok("x", 1), 2011, "the tally still answers")
    rc, out, err = ctl(node, "undeploy", "--force", "tally")
    equal(rc, 0, "undeploy --force: %s" % err)
    check("undeployed tally" in out, "parleyctl says so: %r" % out)
    check(tally_service(node) is None, "the status page no longer lists the tally")
    check(not os.path.exists(os.path.join(deploy, "tally.service")), "its descriptor is gone")
    equal(t.add("x", 1).status, 404, "its conversations' messages get a fault")
    rc, out, err = ctl(node, "undeploy", "tally")
    equal(rc, 1, "undeploying it again is refused")
    check("no service tally" in err, "as unknown: %r" % err)


def drop_in(node, deploy, t):
    # Files copied into deploy_dir by hand, the module under a new name, then SIGHUP.
    shutil.copy(os.path.join(TEST_DEPLOY, "tally.so"), os.path.join(deploy, "tally-dropped.so"))
    shutil.copy(os.path.join(TEST_DEPLOY, "tally.wsdl"), os.path.join(deploy, "tally-dropped.wsdl"))
    with open(os.path.join(TEST_DEPLOY, "tally.service")) as f:
        desc = f.read().replace("module tally.so", "module tally-dropped.so") \
            .replace("wsdl tally.wsdl", "wsdl tally-dropped.wsdl")
    with open(os.path.join(deploy, "tally.service"), "w") as f:
        f.write(desc)
    mark = len(node.run_log())
    node.signal(signal.SIGHUP)
    check(node.wait_log(r"SIGHUP: deployed tally version 1", timeout=10, since=mark),
          "SIGHUP deploys the dropped files")
    equal(tally_service(node)["version"], 1, "version 1 again")
    # The conversation's bean was stored by version 2: version 1 says so, and stores nothing.
    a = t.add("x", 1)
    check(a.status == 500 and "stored by version 2" in a.fault()[2],
          "an older version refuses a newer bean: %s" % a.raw[:400])
    x = Tally(Client(node))
    x.start()
    equal(x.add_ok("z", 2), 1002, "new conversations run on version 1")
    return x


def admin_denied(wd, nodes):
    other = Node(wd, name="n2", deploy=os.path.join(wd, "deploy-n2"), extra=["admin_allow=none"])
    os.mkdir(other.deploy)
    nodes.append(other)
    other.start()
    status, body = post_form(other, "/parley/admin/deploy", "descriptor=tally.service")
    equal(status, 403, "admin_allow = none refuses the admin endpoints")
    check("admin_allow" in body, "naming the key: %r" % body)
    rc, out, err = ctl(other, "deploy", os.path.join(TEST_DEPLOY, "tally.so"))
    equal(rc, 1, "so does parleyctl deploy")
    equal(os.listdir(other.deploy), [], "and copies nothing")
    status, body = upload(other, "/parley/admin/upload?file=x.wsdl&offset=0&last=1", b"x")
    equal(status, 403, "and uploads: %s" % body)
    equal(os.listdir(other.deploy), [], "nothing was uploaded")
    equal(other.stop(), 0, "n2's exit status")


def upload(node, path, body):
    c = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10)
    c.request("POST", path, body, {"Content-Type": "application/octet-stream"})
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    return r.status, text


def deploy_uploaded(wd, nodes):
    deploy = os.path.join(wd, "deploy-n3")
    os.mkdir(deploy)
    for f in ("cart.so", "cart.service", "cart.wsdl"):
        shutil.copy(os.path.join(TEST_DEPLOY, f), deploy)
    # Pieces of at most 64 KiB: the ~500 KB module takes several, after a 413 or two.
    n3 = Node(wd, name="n3", deploy=deploy, extra=["max_message_bytes=65536"])
    nodes.append(n3)
    n3.start()
    rc, out, err = ctl(n3, "deploy", "--upload", os.path.join(TEST_DEPLOY, "tally.so"))
    equal(rc, 0, "parleyctl deploy --upload tally.so: %s" % err)
    check("deployed tally version 1" in out, "parleyctl says what it deployed: %r" % out)
    names = sorted(os.listdir(deploy))
    for f in ("tally-v1-1.so", "tally-v1-1.wsdl", "tally.service"):
        check(f in names, "%s is in the deploy directory: %s" % (f, names))
    check(not [f for f in names if f.endswith(".part")], "no piece is left: %s" % names)
    with open(os.path.join(TEST_DEPLOY, "tally.so"), "rb") as a, \
            open(os.path.join(deploy, "tally-v1-1.so"), "rb") as b:
        check(a.read() == b.read(), "the uploaded module is the file, byte for byte")
    check(n3.wait_log(r"uploaded tally-v1-1.so \(\d+ bytes\)", timeout=5), "uploads are logged")
    t = Tally(Client(n3))
    t.start()
    equal(t.add_ok("u", 2), 1002, "the uploaded tally answers")
    # A second upload of the same version takes the next free name.
    rc, out, err = ctl(n3, "deploy", "--upload", os.path.join(TEST_DEPLOY, "tally.so"))
    equal(rc, 0, "a second upload: %s" % err)
    check(os.path.exists(os.path.join(deploy, "tally-v1-2.so")), "under tally-v1-2.so")
    equal(t.add_ok("u", 1), 1003, "the conversation goes on")
    # A refused deploy: what it uploaded is discarded, the running version stays.
    before = sorted(os.listdir(deploy))
    rc, out, err = ctl(n3, "deploy", "--upload", os.path.join(wd, "bad1", "tally.so"))
    equal(rc, 1, "an uploaded module that is not a shared object is refused")
    check("its module cannot be loaded" in err, "with its reason: %r" % err)
    equal(sorted(os.listdir(deploy)), before, "the refused deploy's uploads are gone")
    equal(t.add_ok("u", 1), 1004, "the running tally still answers")
    # The endpoint itself: names, offsets, never over a file.
    for bad in ("../x.so", "x.txt", "a%2Fb.so", ".hidden.so", ""):
        status, text = upload(n3, "/parley/admin/upload?file=%s&offset=0&last=1" % bad, b"x")
        equal(status, 400, "upload of %r: %s" % (bad, text))
    status, text = upload(n3, "/parley/admin/upload?file=tally-v1-1.so&offset=0&last=1", b"x")
    equal(status, 409, "an upload over a file of the deploy directory: %s" % text)
    check("already" in text, "says it is there already: %r" % text)
    status, text = upload(n3, "/parley/admin/upload?file=piece.wsdl&offset=0", b"abc")
    equal(status, 200, "a first piece: %s" % text)
    status, text = upload(n3, "/parley/admin/upload?file=piece.wsdl&offset=5&last=1", b"def")
    equal(status, 409, "a piece at the wrong offset: %s" % text)
    check("holds 3 bytes" in text, "names the size held: %r" % text)
    status, text = upload(n3, "/parley/admin/upload?file=piece.wsdl&offset=3&last=1", b"def")
    equal(status, 200, "the last piece: %s" % text)
    with open(os.path.join(deploy, "piece.wsdl"), "rb") as f:
        equal(f.read(), b"abcdef", "the pieces, in order")
    # A SOAP message posted to an admin endpoint (a callback addressed to it, say) is no command.
    c = http.client.HTTPConnection("127.0.0.1", n3.port, timeout=10)
    c.request("POST", "/parley/admin/undeploy", "service=tally&force=1",
              {"Content-Type": "text/xml; charset=utf-8"})
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    equal(r.status, 415, "undeploy posted as text/xml: %s" % text)
    check(tally_service(n3) is not None, "the tally is still deployed")
    c = http.client.HTTPConnection("127.0.0.1", n3.port, timeout=10)
    c.request("POST", "/parley/admin/upload?file=y.wsdl&offset=0&last=1", b"x",
              {"Content-Type": "application/soap+xml"})
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    equal(r.status, 415, "an upload posted as SOAP: %s" % text)
    check(not os.path.exists(os.path.join(deploy, "y.wsdl")), "stores nothing")
    equal(n3.stop(), 0, "n3's exit status")


def test(wd, nodes):
    deploy = os.path.join(wd, "deploy")
    os.mkdir(deploy)
    for f in ("cart.so", "cart.service", "cart.wsdl"):
        shutil.copy(os.path.join(TEST_DEPLOY, f), deploy)
    node = Node(wd, deploy=deploy, extra=["workers=4"])
    nodes.append(node)
    node.start()
    t = deploy_at_runtime(node, deploy)
    redeploy_live(node, deploy, t)
    refuse_broken(node, deploy, wd, t)
    undeploy(node, deploy, t)
    x = drop_in(node, deploy, t)
    admin_denied(wd, nodes)
    deploy_uploaded(wd, nodes)
    # A restart serves what deploy_dir says: the cart and the dropped tally.
    equal(node.stop(), 0, "exit status")
    node.start()
    names = dict((s["name"], s["version"]) for s in node.status()["services"])
    equal(names, {"cart": 1, "tally": 1}, "after a restart")
    y = Tally(Client(node))
    y.id = x.id
    equal(y.add_ok("z", 1), 1003, "a conversation goes on after the restart")
    equal(node.stop(), 0, "exit status")


run(test)
