#!/usr/bin/python3
"""test_handler_api - the handler API of parley.h against a real parleyd, with
the notebook test service (tests/services/notebook, deployed alone from
tests/deploy-api): a conversation whose handler set a short max_idle is
expired (by the sweep, untouched) while one with the descriptor's expiry
lives on; a max_age set by a continue operation ends a busy conversation; a
fault after parley_expiry_set or parley_finish changes nothing; parley_finish
in a continue operation ends the conversation (pc:UnknownConversation after,
its answer replayed to a retry); the bean, a schema type kept with
PARLEY_BEAN_READ/WRITE, goes round several messages and a restart of a disk
node, expiry included; in phase none every call answers PARLEY_ESTATE."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

NS_NB = "urn:parley:tests:notebook"
NB_DEPLOY = os.path.join(TOP_BUILDDIR, "tests", "deploy-api")
EXPIRED = "{%s}ConversationExpired" % NS_PC
UNKNOWN = "{%s}UnknownConversation" % NS_PC
ESTATE = -8
DEFAULT_AGE, DEFAULT_IDLE = 3600, 600       # notebook.service: max_age 1h, max_idle 10m


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Notebook:
    """One notebook conversation, spoken in raw SOAP 1.1 with WS-Addressing."""

    def __init__(self, client):
        self.c = client
        self.id = None

    def call(self, op, inner="", conv=None, msgid=None):
        action = "urn:parley:tests:notebook:" + op
        body = '<n:%s xmlns:n="%s">%s</n:%s>' % (op, NS_NB, inner, op)
        hdr = wsa_headers(action, msgid=msgid, conv=conv)
        return self.c.post("/services/notebook", envelope(body, hdr), 11, action)

    def ok(self, a, what):
        check(a.status == 200 and a.fault() is None, "%s answered %d: %s" % (what, a.status, a.raw[:600]))
        return a

    def open(self, owner, max_age=None, max_idle=None):
        inner = "<n:owner>%s</n:owner>" % esc(owner)
        if max_age is not None:
            inner += "<n:maxAge>%d</n:maxAge>" % max_age
        if max_idle is not None:
            inner += "<n:maxIdle>%d</n:maxIdle>" % max_idle
        a = self.ok(self.call("Open", inner), "Open")
        self.id = a.find(NS_NB, "conversationId")
        check(self.id and self.id == a.conversation_id(), "Open names its conversation: %s" % a.raw[:400])
        return expiry(a)

    def add(self, text, msgid=None):
        return self.call("Add", "<n:text>%s</n:text>" % esc(text), conv=self.id, msgid=msgid)

    def add_ok(self, text):
        return int(self.ok(self.add(text), "Add").find(NS_NB, "count"))

    def get(self):
        return self.call("Get", conv=self.id)

    def notes(self):
        """(owner, [notes], expiry) from Get; fails the test on any other answer."""
        a = self.ok(self.get(), "Get")
        notes = [(e.text or "") for e in a.findall(NS_NB, "note")]
        equal(int(a.find(NS_NB, "count")), len(notes), "Get's count and its notes")
        return a.find(NS_NB, "owner"), notes, expiry(a)

    def set_expiry(self, age, idle, fail=False):
        inner = "<n:maxAge>%d</n:maxAge><n:maxIdle>%d</n:maxIdle>" % (age, idle)
        if fail:
            inner += "<n:fail>1</n:fail>"
        return self.call("SetExpiry", inner, conv=self.id)

    def close(self, fail=False, msgid=None):
        return self.call("Close", "<n:fail>1</n:fail>" if fail else "", conv=self.id, msgid=msgid)

    def done(self):
        return self.call("Done", conv=self.id)


def expiry(a):
    """(maxAge, maxIdle, expiresAt in ms) of an answer's Expiry element."""
    return (int(a.find(NS_NB, "maxAge")), int(a.find(NS_NB, "maxIdle")),
            int(a.find(NS_NB, "expiresAt")))


def near(got_ms, want_ms, what, slack_ms=1500):
    check(abs(got_ms - want_ms) <= slack_ms, "%s: expiresAt %d is %d ms from %d"
          % (what, got_ms, got_ms - want_ms, want_ms))


def fault_says(a, text, what):
    check(a.status == 500 and a.fault() is not None, "%s: a fault, got %d: %s" % (what, a.status, a.raw[:400]))
    check(text in a.fault()[2], "%s: the reason %r says %r" % (what, a.fault()[2], text))


def probe(c):
    """Phase none: every call of the API refuses with PARLEY_ESTATE."""
    a = Notebook(c).call("Probe")
    check(a.status == 200, "Probe answered %d: %s" % (a.status, a.raw[:400]))
    for name in ("beanRead", "beanWrite", "expiryGet", "expirySet", "finish"):
        equal(int(a.find(NS_NB, name)), ESTATE, "Probe's %s" % name)
    equal(int(a.find(NS_NB, "expiresAt")), 0, "Probe's expiresAt")


def expiry_by_handler(node, c):
    """Returns the conversations that live on: (default, untouched-after-fault)."""
    t0 = time.time() * 1000
    short = Notebook(c)
    equal(short.open("short", max_idle=1)[:2], (DEFAULT_AGE, 1), "Open with maxIdle 1: the expiry in force")
    dflt = Notebook(c)
    age, idle, at = dflt.open("default")
    equal((age, idle), (DEFAULT_AGE, DEFAULT_IDLE), "Open without: the descriptor's expiry")
    near(at, t0 + DEFAULT_IDLE * 1000, "the default conversation")
    busy = Notebook(c)
    busy.open("busy")
    a = busy.ok(busy.set_expiry(2, 0), "SetExpiry 2 0")
    age, idle, at = expiry(a)
    equal((age, idle), (2, 0), "SetExpiry's answer")
    near(at, t0 + 2000, "max_age 2 s counts from the start")
    kept = Notebook(c)
    kept.open("kept")
    fault_says(kept.set_expiry(1, 1, fail=True), "after setting the expiry", "SetExpiry fail=1")
    equal(kept.notes()[2][:2], (DEFAULT_AGE, DEFAULT_IDLE), "a faulted SetExpiry stored nothing")
    equal(node.conversations()["notebook"], 4, "four live notebooks")
    # busy is used every 0.3 s: never idle, but its max_age (set by SetExpiry) ends it at 2 s.
    n = 0
    while True:
        a = busy.add("tick")
        if a.fault_code() == EXPIRED:
            break
        n += 1
        equal(int(busy.ok(a, "Add to busy").find(NS_NB, "count")), n, "an Add to busy")
        check(time.time() * 1000 - t0 < 3500, "busy has not expired 3.5 s after a max_age of 2 s")
        time.sleep(0.3)
    check(time.time() * 1000 - t0 >= 1900, "busy expired %.0f ms after its start, before its max_age of 2 s"
          % (time.time() * 1000 - t0))
    check(n >= 4, "busy answered %d Adds before it expired" % n)
    # short, untouched since its Open, was expired by the sweep (max_idle 1 s from the handler).
    wait_until("the sweep expires the notebook idle past the max_idle its handler set",
               lambda: node.conversations()["notebook"] == 2, timeout=5)
    equal(short.get().fault_code(), EXPIRED, "the short notebook, after the sweep")
    # The others, idle as long, live on.
    equal(dflt.notes()[:2], ("default", []), "the notebook with the descriptor's expiry")
    equal(kept.notes()[:2], ("kept", []), "the notebook whose SetExpiry faulted")
    return dflt, kept


def finish_early(node, c):
    nb = Notebook(c)
    nb.open("closer")
    equal(nb.add_ok("one"), 1, "an Add")
    fault_says(nb.close(fail=True), "after parley_finish", "Close fail=1")
    equal(nb.notes()[1], ["one"], "a faulted Close leaves the conversation live")
    finished0 = node.status()["messages"]["finished"]
    live0 = node.conversations()["notebook"]
    msgid = new_msgid()
    a = nb.ok(nb.close(msgid=msgid), "Close")
    equal(int(a.find(NS_NB, "count")), 1, "Close's count")
    equal(a.conversation_id(), nb.id, "Close's answer names the conversation")
    for what, ans in (("Get", nb.get()), ("Add", nb.add("two")), ("Close", nb.close())):
        equal(ans.fault_code(), UNKNOWN, "%s after Close" % what)
    equal(nb.close(msgid=msgid).raw, a.raw, "a retried Close is replayed")
    equal(node.status()["messages"]["finished"] - finished0, 1, "the status page counts the Close as a finish")
    equal(node.conversations()["notebook"], live0 - 1, "the closed notebook is no longer live")
    # An ordinary finish operation still ends it (its parley_finish changes nothing).
    nb = Notebook(c)
    nb.open("done")
    nb.add_ok("x")
    equal(int(nb.ok(nb.done(), "Done").find(NS_NB, "count")), 1, "Done's count")
    equal(nb.get().fault_code(), UNKNOWN, "Get after Done")


NOTES = ["plain", "caf\u00e9 cr\u00e8me", "a & b < c > d", "  spaced  ", "\u65e5\u672c\u8a9e", "'\"quotes\"'"]


def struct_bean(c):
    nb = Notebook(c)
    nb.open("Zo\u00eb <owner> & co", max_age=7200, max_idle=900)
    for i, text in enumerate(NOTES):
        equal(nb.add_ok(text), i + 1, "Add %r" % text)
    owner, notes, exp = nb.notes()
    equal(owner, "Zo\u00eb <owner> & co", "the owner, from the bean")
    equal(notes, NOTES, "the notes, from the bean, in order")
    equal(exp[:2], (7200, 900), "the expiry Open set")
    return nb


def test(wd, nodes):
    node = Node(wd, deploy=NB_DEPLOY, store="disk", extra=["sweep_interval=200ms"])
    nodes.append(node)
    node.start()
    c = Client(node)
    probe(c)
    dflt, kept = expiry_by_handler(node, c)
    finish_early(node, c)
    nb = struct_bean(c)
    c.close()
    equal(node.stop(), 0, "exit status")

    # The beans and the expiry the handlers set come back from disk.
    node.start()
    c = Client(node)
    for x in (nb, dflt, kept):
        x.c = c
    owner, notes, exp = nb.notes()
    equal((owner, notes), ("Zo\u00eb <owner> & co", NOTES), "the notebook after a restart")
    equal(exp[:2], (7200, 900), "the expiry Open set, after a restart")
    equal(nb.add_ok("after"), len(NOTES) + 1, "an Add after the restart")
    equal(nb.notes()[1], NOTES + ["after"], "the notes after the restart and an Add")
    equal(dflt.notes()[2][:2], (DEFAULT_AGE, DEFAULT_IDLE), "the default notebook after a restart")
    a = nb.ok(nb.set_expiry(0, 1), "SetExpiry 0 1 after the restart")
    equal(expiry(a)[:2], (0, 1), "SetExpiry's answer")
    time.sleep(1.5)
    equal(nb.get().fault_code(), EXPIRED, "the notebook idle past the max_idle set after the restart")
    equal(dflt.notes()[0], "default", "the default notebook lives on")
    c.close()
    equal(node.stop(), 0, "exit status")


run(test)
