#!/usr/bin/python3
"""test_parleyctl - the cluster script starts three nodes in both forms (the
manager embedded in n1, and a node that is only the manager), and parleyctl
prints from any node the nodes, the groups, where a conversation is, and
the node's status."""

import os
import random
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

PARLEYCTL = os.path.join(TOP_BUILDDIR, "container", "parleyctl")
CLUSTER_SH = os.path.join(TOP_SRCDIR, "samples", "cluster", "cluster.sh")


def free_base():
    """Four free consecutive ports, base first."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 60000)
        ok = True
        for p in range(base, base + 4):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return base
    raise TestFailure("no four free ports")


def ctl(url, *args):
    out = subprocess.run([PARLEYCTL, "-u", url] + list(args), capture_output=True, text=True,
                         timeout=30)
    return out.returncode, out.stdout, out.stderr


def cluster(wd, form, base, command):
    """cluster.sh COMMAND for the cluster of this form (its own directory)."""
    env = dict(os.environ, PARLEYD=os.path.join(TOP_BUILDDIR, "container", "parleyd"),
               PARLEY_CLUSTER_DIR=os.path.join(wd, form), PARLEY_CLUSTER_PORT=str(base))
    return subprocess.run(["/bin/sh", CLUSTER_SH] + command.split(), capture_output=True,
                          text=True, timeout=60, env=env, cwd=wd)


def check_form(wd, form):
    base = free_base()
    out = cluster(wd, form, base, "start " + form)
    try:
        check(out.returncode == 0, "cluster.sh start %s failed:\n%s%s" % (form, out.stdout, out.stderr))
        n1, n2 = "http://127.0.0.1:%d" % (base + 1), "http://127.0.0.1:%d" % (base + 2)
        # The nodes register within a few heartbeats.
        deadline = time.time() + 10
        while True:
            rc, text, err = ctl(n2, "nodes")
            if rc == 0 and text.count(" alive ") == 3:
                break
            if time.time() > deadline:
                raise TestFailure("parleyctl nodes (%s) did not list 3 live nodes: rc %d\n%s%s"
                                  % (form, rc, text, err))
            time.sleep(0.1)
        check("NODE" in text.splitlines()[0] and "n3" in text, "parleyctl nodes output:\n%s" % text)
        rc, text, err = ctl(n1, "groups")
        check(rc == 0 and "n1" in text and "n2" in text and "n3" in text,
              "parleyctl groups (%s): rc %d\n%s%s" % (form, rc, text, err))
        # A conversation started on n2 is located from n1.
        c = Client(type("N", (), {"port": base + 2})())
        cart = Cart(c)
        cart.start()
        c.close()
        rc, text, err = ctl(n1, "locate", cart.id)
        check(rc == 0 and ("served by node n2 at %s" % n2) in text,
              "parleyctl locate (%s): rc %d\n%s%s" % (form, rc, text, err))
        rc, text, err = ctl(n1, "locate", "nope")
        check(rc != 0 and "not a conversation ID" in err, "parleyctl locate of a bad ID: %s" % err)
        rc, text, err = ctl(n2, "status")
        check(rc == 0 and '"node": "n2"' in text and '"routes"' in text,
              "parleyctl status (%s): rc %d\n%s" % (form, rc, text[:500]))
        print("%s: parleyctl nodes, groups, locate and status answer" % form)
    finally:
        stop = cluster(wd, form, base, "stop")
        check(stop.returncode == 0, "cluster.sh stop: %s%s" % (stop.stdout, stop.stderr))
        check(stop.stdout.count("stopped ") == (3 if form == "embedded" else 4),
              "cluster.sh stop stopped every node of the %s form: %s" % (form, stop.stdout))


def test(wd, nodes):
    rc, text, err = ctl("http://127.0.0.1:1", "nodes")
    check(rc != 0 and "cannot connect" in err, "parleyctl against nothing says so: %r" % err)
    check_form(wd, "embedded")
    check_form(wd, "standalone")


run(test)
