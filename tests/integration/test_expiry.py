#!/usr/bin/python3
"""test_expiry - conversations end by themselves. The cart is deployed with
max_idle 1s, and again as "shortcart" with max_age 2s: a conversation idle
past max_idle is pc:ConversationExpired on its next message (while one used
more often stays alive); the background sweep (sweep_interval=200ms) expires
idle conversations nobody touches, and the status page's counts drop to 0;
a conversation kept busy still expires at max_age; after tombstone_ttl an
expired ID is pc:UnknownConversation, and an ended conversation's answers
are no longer replayed."""

import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

EXPIRED = "{%s}ConversationExpired" % NS_PC
UNKNOWN = "{%s}UnknownConversation" % NS_PC


def set_line(text, key, value):
    """Replace the descriptor line 'key ...' with 'key value'."""
    out, done = [], False
    for line in text.splitlines():
        if line.split("#")[0].split()[:1] == [key]:
            line = "%s %s" % (key, value)
            done = True
        out.append(line)
    check(done, "the descriptor has a %s line" % key)
    return "\n".join(out) + "\n"


def short_deploy(wd):
    """A deploy dir with cart (max_idle 1s) and shortcart (max_age 2s), both the cart module."""
    dep = os.path.join(wd, "deploy")
    os.mkdir(dep)
    with open(os.path.join(TEST_DEPLOY, "cart.service")) as f:
        desc = f.read()
    for name, age, idle in (("cart", "1d", "1s"), ("shortcart", "2s", "1h")):
        shutil.copy(os.path.join(TEST_DEPLOY, "cart.so"), os.path.join(dep, name + ".so"))
        shutil.copy(os.path.join(TEST_DEPLOY, "cart.wsdl"), os.path.join(dep, name + ".wsdl"))
        d = set_line(desc, "service", name)
        d = set_line(d, "module", name + ".so")
        d = set_line(d, "wsdl", name + ".wsdl")
        d = set_line(d, "max_age", age)
        d = set_line(d, "max_idle", idle)
        with open(os.path.join(dep, name + ".service"), "w") as f:
            f.write(d)
    return dep


def on_access(node):
    """sweep_interval is an hour here: expiry is found when the conversation is used."""
    c = Client(node)
    idle, busy = Cart(c), Cart(c)
    idle.start()
    busy.start()
    equal(idle.add_ok("a", 1), 1, "an add to the idle-to-be conversation")
    # busy is used every 0.4 s for 1.6 s: never idle for 1 s, so it lives on.
    for k in range(4):
        time.sleep(0.4)
        equal(busy.add_ok("b", 1), k + 1, "an add every 0.4 s with max_idle 1s")
    # By now idle has been idle for more than 1.6 s.
    equal(node.conversations()["cart"], 2, "before it is used, nothing expired the idle conversation")
    a = idle.add("a", 1)
    equal(a.fault_code(), EXPIRED, "a conversation idle past max_idle")
    check("idle longer than its service's max_idle" in a.fault()[2], "the reason says why: %r" % a.fault()[2])
    equal(a.conversation_id(), idle.id, "the fault names the conversation")
    equal(node.conversations()["cart"], 1, "the expired conversation is not counted as live")
    a = idle.get()
    equal(a.fault_code(), EXPIRED, "it stays expired")
    equal(busy.count(), 4, "the busy conversation lives on")
    equal(node.status()["messages"]["expired"], 1, "the status page counts one expiry")
    # max_age: shortcart, kept busy, still ends 2 s after its start.
    s = Cart(c, path="/services/shortcart")
    s.start()
    t0 = time.time()
    n = 0
    while time.time() - t0 < 1.6:
        n += 1
        equal(s.add_ok("s", 1), n, "an add %.1f s into a conversation with max_age 2s" % (time.time() - t0))
        time.sleep(0.2)
    while time.time() - t0 < 2.1:
        time.sleep(0.05)
    a = s.add("s", 1)
    equal(a.fault_code(), EXPIRED, "a busy conversation past max_age")
    check("older than its service's max_age" in a.fault()[2], "the reason says max_age: %r" % a.fault()[2])
    c.close()


def swept(node):
    """sweep_interval=200ms, tombstone_ttl=3s."""
    c = Client(node)
    ids = []
    for _ in range(5):
        cart = Cart(c)
        cart.start()
        cart.add_ok("x", 2)
        ids.append(cart.id)
    t0 = time.time()
    ended = Cart(c)
    ended.start()
    ended.add_ok("y", 3)
    checkout_id = new_msgid()
    checkout = ended.checkout(msgid=checkout_id)
    equal(checkout.status, 200, "a Checkout")
    equal(node.conversations()["cart"], 5, "five live carts")
    expired0 = node.status()["messages"]["expired"]
    time.sleep(0.5)
    equal(node.conversations()["cart"], 5, "nothing expires before max_idle")
    # The sweep expires them without anyone touching them.
    while node.conversations()["cart"] != 0 and time.time() - t0 < 5:
        time.sleep(0.05)
    gone = time.time() - t0
    equal(node.conversations()["cart"], 0, "the sweep expired the idle carts")
    check(0.9 <= gone <= 4.0, "the sweep expired them %.2f s after their last use (max_idle 1s)" % gone)
    st = node.status()
    equal(st["conversations"], 0, "no live conversations at all")
    equal(st["messages"]["expired"] - expired0, 5, "the status page counts five expiries")
    node.wait_log(r"expired [1-5] conversations?", timeout=2)
    # Expired, not yet forgotten: the tombstone answers ConversationExpired.
    a = Cart(c).add("x", 1, conv=ids[0])
    equal(a.fault_code(), EXPIRED, "a swept conversation, before tombstone_ttl")
    # The ended conversation's Checkout is still replayed.
    equal(Cart(c).checkout(conv=ended.id, msgid=checkout_id).raw, checkout.raw,
          "a retried Checkout before tombstone_ttl")
    # After tombstone_ttl the IDs are forgotten.
    deadline = time.time() + 6
    codes = []
    while time.time() < deadline:
        code = Cart(c).add("x", 1, conv=ids[0]).fault_code()
        if not codes or codes[-1] != code:
            codes.append(code)
        if code == UNKNOWN:
            break
        time.sleep(0.1)
    equal(codes, [EXPIRED, UNKNOWN], "an expired ID's answers, then after tombstone_ttl")
    for cid in ids:
        equal(Cart(c).get(conv=cid).fault_code(), UNKNOWN, "every swept ID is unknown after tombstone_ttl")
    deadline = time.time() + 4
    while time.time() < deadline:
        a = Cart(c).checkout(conv=ended.id, msgid=checkout_id)
        if a.fault_code() == UNKNOWN:
            break
        equal(a.raw, checkout.raw, "a retried Checkout is replayed until its tombstone goes")
        time.sleep(0.1)
    equal(a.fault_code(), UNKNOWN, "a retried Checkout after tombstone_ttl")
    c.close()


def test(wd, nodes):
    dep = short_deploy(wd)
    node = Node(wd, deploy=dep, store="memory", extra=["sweep_interval=1h"])
    nodes.append(node)
    node.start()
    on_access(node)
    equal(node.stop(), 0, "exit status")
    node = Node(wd, name="n2", deploy=dep, store="disk",
                extra=["sweep_interval=200ms", "tombstone_ttl=3s"])
    nodes.append(node)
    node.start()
    swept(node)
    equal(node.stop(), 0, "exit status")


run(test)
