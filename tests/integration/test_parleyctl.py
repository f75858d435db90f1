#!/usr/bin/python3
"""test_parleyctl - the cluster script starts three nodes in both forms (the
manager embedded in n1, and a node that is only the manager), and parleyctl
prints from any node the nodes, the groups, where a conversation is, the
node's status, and the conversations by session: a cart that joined another
cart's session (pc:JoinConversation) is listed under that session, with the
service that started it and the partner's ReplyTo and From, and the service
and session filters leave out what they should."""

import os
import random
import re
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


REPLY_ANON = NS_WSA + "/anonymous"


def start_cart(port, join=None, partner=None):
    """StartCart on the node at port (joining the session of conversation join,
    with wsa:ReplyTo anonymous and wsa:From partner when given); its ID."""
    c = Client(type("N", (), {"port": port})())
    try:
        extra = ""
        if partner:
            extra += ('<wsa:ReplyTo xmlns:wsa="%s"><wsa:Address>%s</wsa:Address></wsa:ReplyTo>'
                      '<wsa:From xmlns:wsa="%s"><wsa:Address>%s</wsa:Address></wsa:From>'
                      % (NS_WSA, REPLY_ANON, NS_WSA, partner))
        if join:
            extra += '<pc:JoinConversation xmlns:pc="%s">%s</pc:JoinConversation>' % (NS_PC, join)
        cart = Cart(c)
        a = cart.call("StartCart", '<c:StartCart xmlns:c="%s"/>' % NS_CART, extra_headers=extra)
        check(a.status == 200, "StartCart (join %s) answered %d: %s" % (join, a.status, a.raw[:400]))
        cid = a.conversation_id()
        check(cid, "StartCart answer has no pc:ConversationID: %s" % a.raw[:400])
        return cid
    finally:
        c.close()


def rows(text):
    """The conversation rows of parleyctl conversations: {id: (starter mark, fields)}."""
    out = {}
    for line in text.splitlines():
        if len(line) > 2 and line[1] == " " and line[0] in "* " and not line.startswith("  CONVERSATION"):
            fields = line[2:].split()
            out[fields[0]] = (line[0] == "*", fields[1:])
    return out


def check_conversations(form, n1, base, first):
    """parleyctl conversations against the cluster: first is a cart started on n2."""
    other = start_cart(base + 2)
    # The join goes to n3: it is relayed to n2, where the session's bean is.
    member = start_cart(base + 3, join=first, partner="http://partner.example/p1")
    check(member.startswith(first + "."), "the joined cart's ID %s names the session %s"
          % (member, first))
    # Records reach the manager off the message path: wait until both are listed.
    deadline = time.time() + 10
    while True:
        rc, text, err = ctl(n1, "conversations", "--service", "cart")
        got = rows(text)
        if rc == 0 and first in got and member in got and other in got:
            break
        if time.time() > deadline:
            raise TestFailure("parleyctl conversations --service cart (%s) did not list %s "
                              "and %s: rc %d\n%s%s" % (form, member, other, rc, text, err))
        time.sleep(0.1)
    check(got[first][0] and got[other][0] and not got[member][0],
          "the starters, and only they, are marked *: %s" % text)
    check(got[member][1][:3] == ["cart", "n2", "live"],
          "the member's service, group and state (%s): %s" % (form, got[member]))
    check("ReplyTo %s From http://partner.example/p1" % REPLY_ANON in text,
          "the member's partner ReplyTo and From are listed (%s):\n%s" % (form, text))
    check("session %s, started by cart: 2 listed" % first in text,
          "the session of %s is one group of two with its initiator (%s):\n%s"
          % (first, form, text))
    check("session %s, started by cart: 1 listed" % other in text,
          "the other cart is a session of its own (%s):\n%s" % (form, text))
    lines = text.splitlines()
    at = [i for i, l in enumerate(lines) if l.startswith("session %s," % first)][0]
    check(lines[at + 1][2:].startswith(first + " ") and lines[at + 2][2:].startswith(member + " "),
          "the starter and then its member follow the session's line:\n%s" % text)
    check(re.search(r"^%d conversations in %d sessions" % (len(got), len(got) - 1), lines[-1]),
          "the total line counts %d conversations in %d sessions:\n%s"
          % (len(got), len(got) - 1, text))

    # The session filter: the starter and its member, by either ID, nothing else.
    for sid in (first, member):
        rc, text, err = ctl(n1, "conversations", "--session", sid)
        got = rows(text)
        check(rc == 0 and sorted(got) == sorted([first, member]),
              "parleyctl conversations --session %s (%s) lists %s and %s only: rc %d\n%s%s"
              % (sid, form, first, member, rc, text, err))
        check(text.splitlines()[-1].startswith("2 conversations in 1 session"),
              "the total line of --session:\n%s" % text)
    rc, text, err = ctl(n1, "conversations", "--session", other, "--limit", "5")
    check(rc == 0 and list(rows(text)) == [other],
          "parleyctl conversations --session %s: rc %d\n%s%s" % (other, rc, text, err))
    # Another service matches none of them; --limit cuts the list and says so.
    rc, text, err = ctl(n1, "conversations", "--service", "tally")
    check(rc == 0 and rows(text) == {} and text.startswith("0 conversations in 0 sessions"),
          "parleyctl conversations --service tally (%s): rc %d\n%s%s" % (form, rc, text, err))
    rc, text, err = ctl(n1, "conversations", "--service", "cart", "--limit", "1")
    check(rc == 0 and len(rows(text)) == 1 and "shown, of " in text and "--limit" in text,
          "parleyctl conversations --limit 1 (%s): rc %d\n%s%s" % (form, rc, text, err))
    rc, text, err = ctl(n1, "conversations", "--session", "nope")
    check(rc == 2 and "not a conversation ID" in err, "a bad --session: rc %d %s" % (rc, err))
    print("%s: parleyctl conversations lists by session, filters by service and session" % form)


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
        check_conversations(form, n1, base, cart.id)
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
