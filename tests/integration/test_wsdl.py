#!/usr/bin/python3
"""test_wsdl - the WSDLs and text pages a node serves: GET /services/NAME?wsdl
is well-formed XML whose soap:address and soap12:address carry the node's
real address (port 0 was asked for), imports nothing from the network, and
is served for every deployed service; a node listening on 0.0.0.0 uses the
client's Host header (and ignores a Host that is not a host name); unknown
services and paths get 404; GET / and GET /services/NAME are short text pages."""

import os
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

NS_WSDL = "http://schemas.xmlsoap.org/wsdl/"
NS_WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
NS_WSDL_SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
NS_XS = "http://www.w3.org/2001/XMLSchema"


def get(node, path, headers=None, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, r.getheader("Content-Type") or "", r.getheader("Content-Length"), body


def addresses(root):
    """(soap:address locations, soap12:address locations) of a parsed WSDL."""
    return ([e.get("location") for e in root.iter("{%s}address" % NS_WSDL_SOAP)],
            [e.get("location") for e in root.iter("{%s}address" % NS_WSDL_SOAP12)])


def wsdl_of(node, name, query="wsdl", headers=None):
    status, ctype, _, body = get(node, "/services/%s?%s" % (name, query), headers)
    equal(status, 200, "GET /services/%s?%s status" % (name, query))
    check(ctype.startswith("text/xml"), "WSDL content type %r" % ctype)
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise TestFailure("the WSDL of %s is not well-formed XML: %s" % (name, e))
    equal(root.tag, "{%s}definitions" % NS_WSDL, "the WSDL's root element")
    return root, body


def nothing_remote(root, name):
    """No import or include may point to the network: clients may have no internet access."""
    for e in root.iter():
        if e.tag in ("{%s}address" % NS_WSDL_SOAP, "{%s}address" % NS_WSDL_SOAP12):
            continue
        for attr in ("schemaLocation", "location"):
            v = e.get(attr)
            check(v is None, "%s's WSDL has %s=%r on %s" % (name, attr, v, e.tag))
    for tag in ("{%s}import" % NS_WSDL, "{%s}import" % NS_XS, "{%s}include" % NS_XS,
                "{%s}redefine" % NS_XS):
        for e in root.iter(tag):
            check(e.get("schemaLocation") is None and e.get("location") is None,
                  "%s's WSDL imports %s" % (name, ET.tostring(e)[:200]))


def served_wsdls(node):
    for name in ("cart", "tally"):
        want = "%s/services/%s" % (node.url, name)
        root, body = wsdl_of(node, name)
        soap11, soap12 = addresses(root)
        equal(soap11, [want], "%s: soap:address locations" % name)
        equal(soap12, [want], "%s: soap12:address locations" % name)
        check(b":8080" not in body, "%s: the WSDL's own port 8080 is gone" % name)
        nothing_remote(root, name)
        tns = root.get("targetNamespace")
        equal(tns, NS_CART if name == "cart" else NS_TALLY, "%s's targetNamespace" % name)
        # The same document whatever the spelling of the query.
        for q in ("WSDL", "singleWsdl"):
            _, body2 = wsdl_of(node, name, q)
            equal(body2, body, "%s?%s is the same WSDL" % (name, q))
        # HEAD: the same head, no body.
        status, _, length, hbody = get(node, "/services/%s?wsdl" % name, method="HEAD")
        equal((status, length, hbody), (200, str(len(body)), b""), "HEAD of %s?wsdl" % name)
        # A Host header does not change the address of a node bound to one address.
        root, _ = wsdl_of(node, name, headers={"Host": "elsewhere.example:81"})
        equal(addresses(root), ([want], [want]), "%s: Host ignored when listening on 127.0.0.1" % name)
    # The cart's operations are all in its WSDL's binding.
    root, _ = wsdl_of(node, "cart")
    ops = sorted(set(o.get("name") for b in root.iter("{%s}binding" % NS_WSDL)
                     for o in b.findall("{%s}operation" % NS_WSDL)))
    equal(ops, ["AddItem", "Checkout", "GetCart", "StartCart"], "the cart binding's operations")


def not_found(node):
    for path in ("/services/nope?wsdl", "/services/nope", "/services/cart/extra?wsdl",
                 "/nothing", "/parley", "/services/cartx?wsdl"):
        status, ctype, _, body = get(node, path)
        equal(status, 404, "GET %s status" % path)
        check(ctype.startswith("text/plain") and len(body) > 10, "GET %s says why: %r" % (path, body))
    status, _, _, body = get(node, "/services/nope?wsdl")
    check(b"no service nope" in body, "the 404 names the missing service: %r" % body)
    # A method that is not served.
    status, _, _, body = get(node, "/services/cart", method="DELETE")
    equal(status, 405, "DELETE /services/cart status")


def text_pages(node):
    status, ctype, _, body = get(node, "/")
    equal(status, 200, "GET / status")
    check(ctype.startswith("text/plain"), "GET / is text: %r" % ctype)
    text = body.decode()
    for name in ("cart", "tally"):
        check("/services/%s  (WSDL: /services/%s?wsdl)" % (name, name) in text, "GET / lists %s: %r" % (name, text))
    check("node %s" % node.name in text and "/parley/status" in text, "GET / names the node and status page")
    status, ctype, _, body = get(node, "/services/cart")
    equal(status, 200, "GET /services/cart status")
    text = body.decode()
    check(text.startswith("service cart (version 1) at %s/services/cart\n" % node.url), "service page: %r" % text)
    check("WSDL: %s/services/cart?wsdl" % node.url in text, "service page names the WSDL")
    for op, phase in (("StartCart", "start"), ("AddItem", "continue"), ("GetCart", "continue"),
                      ("Checkout", "finish")):
        check(re.search(r"^  %s +%s$" % (op, phase), text, re.M), "service page lists %s %s" % (op, phase))
    status, _, _, body = get(node, "/services/tally/")
    equal(status, 200, "GET /services/tally/ status")
    check(re.search(r"^  Echo +none$", body.decode(), re.M), "tally's page lists Echo as stateless")


def wildcard(wd, nodes):
    node = Node(wd, name="any", host="0.0.0.0", store="memory")
    nodes.append(node)
    node.start()
    for host in ("parley.example:8443", "10.1.2.3:%d" % node.port, "[::1]:%d" % node.port):
        root, _ = wsdl_of(node, "cart", headers={"Host": host})
        want = "http://%s/services/cart" % host
        equal(addresses(root), ([want], [want]), "listening on 0.0.0.0, Host %s" % host)
    # A Host that is not a host name is not copied into the document.
    for host in ('evil.example"><x a="', "a b", "x/y"):
        root, body = wsdl_of(node, "cart", headers={"Host": host})
        soap11, soap12 = addresses(root)
        check(b"evil" not in body and b"a b" not in body and "x/y" not in soap11[0],
              "Host %r is not copied into the WSDL: %r" % (host, soap11))
        equal(soap11, soap12, "both addresses agree for Host %r" % host)
        check(soap11[0].endswith(":%d/services/cart" % node.port), "the fallback carries the real port: %r" % soap11)
    equal(node.stop(), 0, "exit status of the 0.0.0.0 node")


def test(wd, nodes):
    node = Node(wd, store="memory")
    nodes.append(node)
    node.start()
    check(node.port != 8080, "port 0 picked a port")
    served_wsdls(node)
    not_found(node)
    text_pages(node)
    equal(node.stop(), 0, "exit status")
    wildcard(wd, nodes)


run(test)
