#!/usr/bin/python3
"""test_generator - parley-gen WSDL -o DIR makes a service project that builds
and runs. The cart sample's WSDL gives a project whose handler signatures are
the cart's; with the bodies of samples/cart/cart.c filled in, the module built
by the generated Makefile (against this build tree) holds a whole cart
conversation in a fresh node. Before that, the unfilled project already runs
and answers "not implemented". The W3C WS-Addressing interop WSDL (with a
one-way operation) and a WSDL of names gSOAP mangles build too."""

import sys
import os
import re
import shutil
import subprocess

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

PARLEY_GEN = os.path.join(TOP_BUILDDIR, "src", "tools", "parley-gen")
HANDLER = re.compile(r"^int\n(\w+)\((.*?)\)\n\{\n(.*?)^\}\n", re.S | re.M)


def build_env():
    """The environment for the generated Makefile: none of make check's make variables."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "CFLAGS", "CPPFLAGS",
              "LDFLAGS"):
        env.pop(k, None)
    return env


def generate(wsdl, out, *args):
    p = subprocess.run([PARLEY_GEN, wsdl, "-o", out] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    check(p.returncode == 0, "parley-gen %s exited %d: %s%s" % (wsdl, p.returncode, p.stdout,
                                                                 p.stderr))
    return p


def build(project, name):
    """make in the project against the build tree; warnings are errors."""
    p = subprocess.run(["make", "-C", project, "PARLEY_PC_PATH=" + TOP_BUILDDIR,
                        "CFLAGS=-O2 -g -Werror"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, env=build_env(), timeout=180)
    check(p.returncode == 0, "make in %s failed:\n%s" % (project, p.stdout[-4000:]))
    so = os.path.join(project, name + ".so")
    check(os.path.exists(so), "make made no %s" % so)
    nm = shutil.which("nm")
    if nm:
        out = subprocess.run([nm, "-D", "--defined-only", so], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout
        syms = sorted(line.split()[-1] for line in out.splitlines()
                      if line.split() and line.split()[-2] in ("T", "D", "B", "R"))
        equal(syms, ["parley_module"], "what %s.so exports" % name)
    return so


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def descriptor_ops(path):
    return [line.split()[1:] for line in read(path).splitlines() if line.startswith("operation ")]


def fill_cart(project):
    """The generated cart.c with the bodies, and the helpers, of samples/cart/cart.c."""
    sample = read(os.path.join(TOP_SRCDIR, "samples", "cart", "cart.c"))
    generated = read(os.path.join(project, "cart.c"))
    bodies = {}
    for m in HANDLER.finditer(sample):
        bodies[m.group(1)] = (" ".join(m.group(2).split()), m.group(3))
    names = [m.group(1) for m in HANDLER.finditer(generated)]
    equal(sorted(names), sorted(bodies), "the generated handlers are the cart's")
    check("is not implemented" in generated, "the generated bodies answer 'not implemented'")

    def body(m):
        sig, text = bodies[m.group(1)]
        equal(" ".join(m.group(2).split()), sig, "the signature of %s" % m.group(1))
        return "int\n%s(%s)\n{\n%s}\n" % (m.group(1), m.group(2), text)

    include = '#include "cart_ops.h"\n'
    check(include in generated and include in sample, "both files include cart_ops.h")
    preamble = sample[:sample.index(include) + len(include)]
    helpers = sample[len(preamble):HANDLER.search(sample).start()]
    rest = generated[generated.index(include) + len(include):]
    write(os.path.join(project, "cart.c"), preamble + helpers + HANDLER.sub(body, rest))


def conversation(node):
    """As test_cart: start, three adds, the cart, checkout, and the ID is gone."""
    c = Client(node)
    cart = Cart(c)
    msgid = new_msgid()
    a = cart.start(msgid=msgid)
    equal(a.find(NS_CART, "conversationId"), cart.id, "StartCart's body carries the ID")
    equal(a.header(NS_WSA, "RelatesTo"), msgid, "wsa:RelatesTo of StartCart's answer")
    equal(a.header(NS_WSA, "Action"), CART_ACTION + "StartCartResponse", "answer's wsa:Action")
    check(cart.id.startswith(node.name + "."), "the ID %s starts with the node's group" % cart.id)
    counts = []
    for item, qty in (("apple", 2), ("pear", 3), ("apple", 5)):
        a = cart.add(item, qty)
        check(a.status == 200, "AddItem answered %d: %s" % (a.status, a.raw[:300]))
        equal(a.conversation_id(), cart.id, "AddItem's answer names the conversation")
        counts.append(int(a.find(NS_CART, "count")))
    equal(counts, [2, 5, 10], "item counts after each AddItem")
    equal(cart.items(), {"apple": 7, "pear": 3}, "GetCart's items")
    a = cart.add("plum", 0)
    check((a.fault_code() or "").endswith("Client"), "AddItem of 0 is the client's fault: %s"
          % a.raw[:300])
    a = cart.checkout()
    equal(a.status, 200, "Checkout status")
    equal(a.find(NS_CART, "count"), "10", "Checkout's count")
    a = cart.add("plum", 1)
    equal(a.fault_code(), "{%s}UnknownConversation" % NS_PC, "AddItem after Checkout")
    c.close()


def cart_project(wd, nodes):
    wsdl = os.path.join(TOP_SRCDIR, "samples", "cart", "cart.wsdl")
    project = os.path.join(wd, "cart")
    p = generate(wsdl, project)
    check("written to" in p.stdout, "parley-gen says where it wrote: %r" % p.stdout)
    for f in ("cart.c", "cart.service", "cart.wsdl", "typemap.dat", "Makefile", "README.md"):
        check(os.path.exists(os.path.join(project, f)), "the project has %s" % f)
    equal(read(os.path.join(project, "cart.wsdl")), read(wsdl), "the WSDL is copied as it is")
    equal(descriptor_ops(os.path.join(project, "cart.service")),
          descriptor_ops(os.path.join(TOP_SRCDIR, "samples", "cart", "cart.service")),
          "the phases by the naming convention are the cart sample's")

    # Unfilled, it builds and runs: StartCart answers a fault.
    build(project, "cart")
    node = Node(wd, name="g1", deploy=project)
    nodes.append(node)
    node.start()
    c = Client(node)
    a = Cart(c).call("StartCart", '<c:StartCart xmlns:c="%s"/>' % NS_CART)
    f = a.fault()
    check(f is not None and "StartCart is not implemented" in f[2],
          "the unfilled StartCart answers 'not implemented': %s" % a.raw[:400])
    c.close()
    equal(node.stop(), 0, "parleyd's exit status after SIGTERM")

    # Filled with the cart's bodies, it is the cart.
    fill_cart(project)
    build(project, "cart")
    node = Node(wd, name="g2", deploy=project)
    nodes.append(node)
    node.start()
    conversation(node)
    equal(node.stop(), 0, "parleyd's exit status after SIGTERM")

    # Run again, it keeps the author's handlers and descriptor.
    filled = read(os.path.join(project, "cart.c"))
    p = generate(wsdl, project)
    check("kept" in p.stderr, "parley-gen says it kept cart.c: %r" % p.stderr)
    equal(read(os.path.join(project, "cart.c")), filled, "cart.c after a second run")


def other_projects(wd):
    # The W3C WS-Addressing interop service: "notify" is one-way, and left out.
    wsdl = os.path.join(FIXTURES, "w3c-interop", "wsaTestService.wsdl")
    project = os.path.join(wd, "wsa")
    phases = os.path.join(wd, "wsa.phases")
    write(phases, "# the interop service keeps no state\necho none\n")
    p = generate(wsdl, project, "--name", "wsatest", "--phases", phases)
    check("notify" in p.stderr, "parley-gen names the one-way operation it left out: %r"
          % p.stderr)
    equal(descriptor_ops(os.path.join(project, "wsatest.service")), [["echo", "none"]],
          "the operations and phases of wsatest.service")
    check("notify" in read(os.path.join(project, "README.md")), "the README names notify")
    build(project, "wsatest")

    # Element and operation names gSOAP mangles ('-', '_', '.'), types it maps.
    wsdl = os.path.join(TOP_SRCDIR, "tests", "services", "odd", "odd.wsdl")
    project = os.path.join(wd, "odd")
    generate(wsdl, project)
    build(project, "odd")

    # A bad phases file is refused with its line.
    write(phases, "echo sometimes\n")
    p = subprocess.run([PARLEY_GEN, os.path.join(FIXTURES, "w3c-interop", "wsaTestService.wsdl"),
                        "--phases", phases, "-o", os.path.join(wd, "bad")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=60)
    check(p.returncode != 0 and "wsa.phases:1: unknown phase 'sometimes'" in p.stderr,
          "a bad phase is refused: %d %r" % (p.returncode, p.stderr))

    # Without gSOAP's tools it says which package has them.
    p = subprocess.run([PARLEY_GEN, wsdl, "-o", os.path.join(wd, "nogsoap")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       env=dict(build_env(), PATH=os.path.join(wd, "nowhere")), timeout=60)
    check(p.returncode != 0 and "apt-get install gsoap" in p.stderr,
          "without wsdl2h on PATH: %d %r" % (p.returncode, p.stderr))


def test(wd, nodes):
    cart_project(wd, nodes)
    other_projects(wd)


run(test, limit=240)
