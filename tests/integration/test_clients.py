#!/usr/bin/python3
"""test_clients - the sample clients in samples/clients (zeep, SOAP::Lite, the
npm soap package) each hold a whole cart conversation with one node, from
the WSDL it serves; afterwards the node holds no conversation. Through a
proxy that miscounts, each client notices the wrong answer and exits 1.

A client whose runtime is missing is skipped (the test then exits 77 after
running the others), unless PARLEY_REQUIRE_CLIENTS=1, when it fails and says
what to install."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

EXPECTED_COUNT = 6


def python_client():
    return zeep_client("cart_client.py")


def perl_client():
    return soaplite_client("cart_client.pl")


def node_client():
    return node_soap_client("cart_client.js")


# name, how to find its runtime, extra arguments
RUNS = [
    ("python (zeep, SOAP 1.1)", python_client, []),
    ("python (zeep, SOAP 1.2)", python_client, ["--soap12"]),
    ("perl (SOAP::Lite)", perl_client, []),
    ("node (soap)", node_client, []),
]


def run_client(name, argv, env, base_url):
    """Run one client against the cart at base_url; return (exit status, output)."""
    return run_sample_client(name, argv, env, [base_url + "/services/cart?wsdl"])


def whole_conversation(name, argv, env, node):
    """Run one client against node; return the conversation ID it printed."""
    exit_status, out = run_client(name, argv, env, node.url)
    check(exit_status == 0, "%s exited with %d; it printed:\n%s" % (name, exit_status, out))
    m = re.search(r"^started conversation (\S+)$", out, re.M)
    check(m, "%s does not say which conversation it started:\n%s" % (name, out))
    conversation_id = m.group(1)
    check(conversation_id.startswith(node.name + "."),
          "%s's conversation ID %s is one of node %s's" % (name, conversation_id, node.name))
    m = re.search(r"^checked out (\d+) items; conversation (\S+) ended$", out, re.M)
    check(m, "%s does not say what it checked out:\n%s" % (name, out))
    equal(int(m.group(1)), EXPECTED_COUNT, "%s's final count" % name)
    equal(m.group(2), conversation_id, "the conversation %s checked out" % name)
    return conversation_id


def soap_lite_default_start(node):
    """What SOAP::Lite sends for an operation without parameters unless told
    otherwise: a nil element, which the schema does not allow. Regression: the
    fault named a conversation ID that had never been stored."""
    c = Client(node)
    a = c.post("/services/cart", envelope(
        '<cart:StartCart xmlns:cart="%s" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xsi:nil="true" />' % NS_CART), 11, CART_ACTION + "StartCart")
    equal(a.fault_code(), "{%s}Client" % NS_SOAP11, "a nil StartCart's fault")
    equal(a.conversation_id(), None, "the pc:ConversationID header of a failed start's fault")
    c.close()


def test(wd, nodes):
    require = os.environ.get("PARLEY_REQUIRE_CLIENTS") == "1"
    node = Node(wd, store="memory")
    nodes.append(node)
    node.start()

    missing = []
    runnable = []
    for name, find_runtime, extra in RUNS:
        argv, env, needs = find_runtime()
        if needs is not None:
            check(not require, "PARLEY_REQUIRE_CLIENTS=1 but %s cannot run: install %s" % (name, needs))
            print("----- %s: skipped, it needs %s" % (name, needs))
            missing.append("%s, which needs %s" % (name, needs))
        else:
            runnable.append((name, argv + extra, env))

    conversation_ids = [whole_conversation(name, argv, env, node) for name, argv, env in runnable]

    equal(len(set(conversation_ids)), len(conversation_ids), "every client had its own conversation")
    # The IDs the clients printed are the conversations they ended.
    c = Client(node)
    for conversation_id in conversation_ids:
        a = Cart(c).get(conv=conversation_id)
        equal(a.fault_code(), "{%s}UnknownConversation" % NS_PC,
              "GetCart in conversation %s after its client checked out" % conversation_id)
    c.close()
    soap_lite_default_start(node)
    node_status = node.status()
    cart = [s for s in node_status["services"] if s["name"] == "cart"]
    equal(len(cart), 1, "the node's status lists the cart service")
    equal(cart[0]["conversations"], 0, "cart conversations left on the node")
    equal(node_status["messages"]["started"], len(conversation_ids), "conversations started")
    equal(node_status["messages"]["finished"], len(conversation_ids), "conversations finished")

    proxy = TamperingProxy(node, rb"(<(\w+:)?AddItemResponse><(\w+:)?count>)(\d+)")
    for name, argv, env in runnable:
        exit_status, out = run_client(name + " through a miscounting proxy", argv, env, proxy.url)
        equal(exit_status, 1, "%s's exit status when AddItem's count is wrong" % name)
        check("wrong answer" in out and "count after adding 2 apple" in out,
              "%s says what was wrong:\n%s" % (name, out))
    proxy.shutdown()
    proxy.server_close()
    equal(node.stop(), 0, "parleyd's exit status after SIGTERM")

    if missing:
        check_sanitizers(node)
        raise SkipTest("ran %d of %d clients; skipped %s"
                       % (len(conversation_ids), len(RUNS), "; ".join(missing)))


run(test)
