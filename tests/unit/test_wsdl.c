/*
 * test_wsdl.c - reading WSDL 1.1: the cart sample's operations, actions,
 * elements and soapActions; the WS-Addressing default action; which part is
 * the body; address marking; and every WSDL the node refuses, remote imports
 * first.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "registry.h"
#include "unit.h"
#include "wsdl.h"

#define NS_DECLS \
	"xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\" " \
	"xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\" " \
	"xmlns:soap12=\"http://schemas.xmlsoap.org/wsdl/soap12/\" " \
	"xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" " \
	"xmlns:wsam=\"http://www.w3.org/2007/05/addressing/metadata\" " \
	"xmlns:wsaw=\"http://www.w3.org/2006/05/addressing/wsdl\" "

/* The parts of a one-operation test WSDL; NULL takes the default. */
struct doc {
	const char *tns;
	const char *schema;        /* more schema content */
	const char *io;            /* the portType operation's input and output */
	const char *bop;           /* the binding operation's content */
	const char *extra;         /* more top-level content */
	const char *style;         /* soap:binding style */
};

static const char default_io[] =
    "<wsdl:input message=\"tns:AddIn\"/><wsdl:output message=\"tns:AddOut\"/>";
static const char default_bop[] =
    "<soap:operation soapAction=\"urn:add\"/>"
    "<wsdl:input><soap:body use=\"literal\"/>"
    "<soap:header message=\"tns:AddIn\" part=\"h\" use=\"literal\"/></wsdl:input>"
    "<wsdl:output><soap:body use=\"literal\"/></wsdl:output>";

static char err[1024];

static char *
make_doc(const struct doc *d)
{
	const char *tns = d->tns != NULL ? d->tns : "http://example.com/calc";
	size_t n = 8192;
	char *s = malloc(n);

	if (s == NULL)
		abort();
	snprintf(s, n,
	    "<?xml version=\"1.0\"?>\n"
	    "<wsdl:definitions targetNamespace=\"%s\" " NS_DECLS "xmlns:tns=\"%s\">\n"
	    " <wsdl:types><xs:schema targetNamespace=\"%s\" elementFormDefault=\"qualified\">\n"
	    "  <xs:element name=\"Add\" type=\"xs:int\"/>\n"
	    "  <xs:element name=\"AddResponse\" type=\"xs:int\"/>\n"
	    "  <xs:element name=\"H\" type=\"xs:string\"/>\n"
	    "  %s\n"
	    " </xs:schema></wsdl:types>\n"
	    " <wsdl:message name=\"AddIn\"><wsdl:part name=\"h\" element=\"tns:H\"/>"
	    "<wsdl:part name=\"p\" element=\"tns:Add\"/></wsdl:message>\n"
	    " <wsdl:message name=\"AddOut\"><wsdl:part name=\"p\" element=\"tns:AddResponse\"/>"
	    "</wsdl:message>\n"
	    " <wsdl:portType name=\"Calc\"><wsdl:operation name=\"Add\">%s</wsdl:operation>"
	    "</wsdl:portType>\n"
	    " <wsdl:binding name=\"B\" type=\"tns:Calc\"><soap:binding style=\"%s\" "
	    "transport=\"http://schemas.xmlsoap.org/soap/http\"/>\n"
	    "  <wsdl:operation name=\"Add\">%s</wsdl:operation></wsdl:binding>\n"
	    " %s\n"
	    " <wsdl:service name=\"S\"><wsdl:port name=\"P\" binding=\"tns:B\">"
	    "<soap:address location=\"http://old.example.com/calc\"/></wsdl:port></wsdl:service>\n"
	    "</wsdl:definitions>\n",
	    tns, tns, tns, d->schema != NULL ? d->schema : "", d->io != NULL ? d->io : default_io,
	    d->style != NULL ? d->style : "document", d->bop != NULL ? d->bop : default_bop,
	    d->extra != NULL ? d->extra : "");
	return s;
}

static int
parse_doc(const struct doc *d, struct wsdl *w)
{
	char *text = make_doc(d);
	int rc;

	err[0] = '\0';
	rc = wsdl_parse(text, strlen(text), "t.wsdl", w, err, sizeof err);
	free(text);
	return rc;
}

/* Expect d to be refused with a message that contains want. */
static void
expect_refused(const struct doc *d, const char *want)
{
	struct wsdl w;

	CU_ASSERT_EQUAL(parse_doc(d, &w), PARLEY_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	if (strstr(err, want) == NULL)
		fprintf(stderr, "\n  got:  %s\n  want: ...%s...\n", err, want);
	CU_ASSERT_PTR_NULL(w.ops);
	CU_ASSERT_PTR_NULL(w.marked);
}

static void
load_cart(struct wsdl *w)
{
	const char *top = getenv("top_srcdir");
	char path[4096];

	snprintf(path, sizeof path, "%s/samples/cart/cart.wsdl", top != NULL ? top : ".");
	CU_ASSERT_EQUAL_FATAL(wsdl_load(path, w, err, sizeof err), 0);
}

static void
test_cart(void)
{
	static const char *const names[] = { "StartCart", "AddItem", "GetCart", "Checkout" };
	struct wsdl w;
	char want[256];
	unsigned i;

	load_cart(&w);
	CU_ASSERT_STRING_EQUAL(w.target_ns, "urn:parley:samples:cart");
	CU_ASSERT_EQUAL_FATAL(w.n_ops, 4);
	for (i = 0; i < 4; i++) {
		const struct wsdl_op *o = &w.ops[i];

		CU_ASSERT_STRING_EQUAL(o->name, names[i]);
		snprintf(want, sizeof want, "urn:parley:samples:cart/%s", names[i]);
		CU_ASSERT_STRING_EQUAL(o->input_action, want);
		CU_ASSERT_STRING_EQUAL(o->soap_action, want);
		snprintf(want, sizeof want, "urn:parley:samples:cart/%sResponse", names[i]);
		CU_ASSERT_STRING_EQUAL(o->output_action, want);
		/* The pc:ConversationID part travels in a header, never as the body. */
		CU_ASSERT_STRING_EQUAL(o->request_ns, "urn:parley:samples:cart");
		CU_ASSERT_STRING_EQUAL(o->request_name, names[i]);
		CU_ASSERT_STRING_EQUAL(o->response_ns, "urn:parley:samples:cart");
		snprintf(want, sizeof want, "%sResponse", names[i]);
		CU_ASSERT_STRING_EQUAL(o->response_name, want);
		CU_ASSERT_PTR_EQUAL(wsdl_find(&w, names[i]), o);
	}
	CU_ASSERT_PTR_NULL(wsdl_find(&w, "Nope"));
	wsdl_free(&w);
}

static void
test_cart_marked(void)
{
	struct wsdl w, again;
	const char *p;
	int marks = 0;

	load_cart(&w);
	CU_ASSERT_EQUAL(strlen(w.marked), w.marked_len);
	CU_ASSERT_PTR_NULL(strstr(w.marked, "127.0.0.1:8080"));
	for (p = w.marked; (p = strstr(p, "location=\"" REGISTRY_ADDRESS_MARK "\"")) != NULL; p++)
		marks++;
	CU_ASSERT_EQUAL(marks, 2);        /* soap:address and soap12:address */
	/* A WSDL that holds the mark is refused: the node would fill that one in too. */
	CU_ASSERT_EQUAL(wsdl_parse(w.marked, w.marked_len, "marked", &again, err, sizeof err),
	    PARLEY_EINVAL);
	/* With the marks filled in, it is the same WSDL. */
	{
		struct buf b = BUF_INIT;
		const char *q = w.marked, *hit;

		while ((hit = strstr(q, REGISTRY_ADDRESS_MARK)) != NULL) {
			buf_append(&b, q, (size_t)(hit - q));
			buf_puts(&b, "http://node/services/cart");
			q = hit + strlen(REGISTRY_ADDRESS_MARK);
		}
		buf_puts(&b, q);
		CU_ASSERT_EQUAL_FATAL(wsdl_parse(b.data, b.len, "filled", &again, err, sizeof err),
		    0);
		CU_ASSERT_EQUAL(again.n_ops, 4);
		CU_ASSERT_STRING_EQUAL(again.ops[1].input_action, w.ops[1].input_action);
		wsdl_free(&again);
		buf_free(&b);
	}
	wsdl_free(&w);
}

static void
test_default_actions(void)
{
	struct doc d = { 0 };
	struct wsdl w;

	CU_ASSERT_EQUAL_FATAL(parse_doc(&d, &w), 0);
	CU_ASSERT_STRING_EQUAL(w.ops[0].input_action, "http://example.com/calc/Calc/AddRequest");
	CU_ASSERT_STRING_EQUAL(w.ops[0].output_action, "http://example.com/calc/Calc/AddResponse");
	CU_ASSERT_STRING_EQUAL(w.ops[0].soap_action, "urn:add");
	wsdl_free(&w);

	/* A namespace that ends with "/" gets no second one. */
	d.tns = "http://example.com/calc/";
	CU_ASSERT_EQUAL_FATAL(parse_doc(&d, &w), 0);
	CU_ASSERT_STRING_EQUAL(w.ops[0].input_action, "http://example.com/calc/Calc/AddRequest");
	wsdl_free(&w);

	/* A URN is delimited with ":". */
	d.tns = "urn:example:calc";
	CU_ASSERT_EQUAL_FATAL(parse_doc(&d, &w), 0);
	CU_ASSERT_STRING_EQUAL(w.ops[0].input_action, "urn:example:calc:Calc:AddRequest");
	CU_ASSERT_STRING_EQUAL(w.ops[0].output_action, "urn:example:calc:Calc:AddResponse");
	wsdl_free(&w);

	/* Named inputs and outputs use their names. */
	d.tns = NULL;
	d.io = "<wsdl:input name=\"In\" message=\"tns:AddIn\"/>"
	    "<wsdl:output name=\"Out\" message=\"tns:AddOut\"/>";
	CU_ASSERT_EQUAL_FATAL(parse_doc(&d, &w), 0);
	CU_ASSERT_STRING_EQUAL(w.ops[0].input_action, "http://example.com/calc/Calc/In");
	CU_ASSERT_STRING_EQUAL(w.ops[0].output_action, "http://example.com/calc/Calc/Out");
	wsdl_free(&w);
}

static void
test_explicit_actions(void)
{
	struct doc d = { 0 };
	struct wsdl w;

	d.io = "<wsdl:input message=\"tns:AddIn\" wsam:Action=\"urn:in\"/>"
	    "<wsdl:output message=\"tns:AddOut\" wsaw:Action=\"urn:out\"/>";
	CU_ASSERT_EQUAL_FATAL(parse_doc(&d, &w), 0);
	CU_ASSERT_STRING_EQUAL(w.ops[0].input_action, "urn:in");
	CU_ASSERT_STRING_EQUAL(w.ops[0].output_action, "urn:out");
	wsdl_free(&w);
}

static void
test_body_part(void)
{
	struct doc d = { 0 };
	struct wsdl w;

	/* Part h is a soap:header: the body is part p. */
	CU_ASSERT_EQUAL_FATAL(parse_doc(&d, &w), 0);
	CU_ASSERT_STRING_EQUAL(w.ops[0].request_ns, "http://example.com/calc");
	CU_ASSERT_STRING_EQUAL(w.ops[0].request_name, "Add");
	CU_ASSERT_STRING_EQUAL(w.ops[0].response_name, "AddResponse");
	wsdl_free(&w);

	/* No header: the first part. */
	d.bop = "<wsdl:input><soap:body use=\"literal\"/></wsdl:input>"
	    "<wsdl:output><soap:body use=\"literal\"/></wsdl:output>";
	CU_ASSERT_EQUAL_FATAL(parse_doc(&d, &w), 0);
	CU_ASSERT_STRING_EQUAL(w.ops[0].request_name, "H");
	CU_ASSERT_PTR_NULL(w.ops[0].soap_action);
	wsdl_free(&w);

	/* parts= decides. */
	d.bop = "<soap:operation soapAction=\"\"/>"
	    "<wsdl:input><soap:body use=\"literal\" parts=\"p\"/></wsdl:input>"
	    "<wsdl:output><soap:body use=\"literal\"/></wsdl:output>";
	CU_ASSERT_EQUAL_FATAL(parse_doc(&d, &w), 0);
	CU_ASSERT_STRING_EQUAL(w.ops[0].request_name, "Add");
	CU_ASSERT_PTR_NULL(w.ops[0].soap_action);   /* "" is no soapAction */
	wsdl_free(&w);
}

static void
test_soap12_only(void)
{
	static const char text[] =
	    "<wsdl:definitions targetNamespace=\"urn:t\" " NS_DECLS "xmlns:tns=\"urn:t\">"
	    "<wsdl:types><xs:schema targetNamespace=\"urn:t\">"
	    "<xs:element name=\"Ping\" type=\"xs:string\"/>"
	    "<xs:element name=\"Pong\" type=\"xs:string\"/></xs:schema></wsdl:types>"
	    "<wsdl:message name=\"In\"><wsdl:part name=\"p\" element=\"tns:Ping\"/></wsdl:message>"
	    "<wsdl:message name=\"Out\"><wsdl:part name=\"p\" element=\"tns:Pong\"/></wsdl:message>"
	    "<wsdl:portType name=\"T\"><wsdl:operation name=\"Ping\">"
	    "<wsdl:input message=\"tns:In\"/><wsdl:output message=\"tns:Out\"/>"
	    "</wsdl:operation></wsdl:portType>"
	    "<wsdl:binding name=\"B\" type=\"tns:T\"><soap12:binding/>"
	    "<wsdl:operation name=\"Ping\"><soap12:operation soapAction=\"urn:ping\"/>"
	    "<wsdl:input><soap12:body/></wsdl:input><wsdl:output><soap12:body/></wsdl:output>"
	    "</wsdl:operation></wsdl:binding>"
	    "<wsdl:service name=\"S\"><wsdl:port name=\"P\" binding=\"tns:B\">"
	    "<soap12:address location=\"http://x/\"/></wsdl:port></wsdl:service>"
	    "</wsdl:definitions>";
	struct wsdl w;

	CU_ASSERT_EQUAL_FATAL(wsdl_parse(text, strlen(text), "t.wsdl", &w, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(w.ops[0].soap_action, "urn:ping");
	CU_ASSERT_STRING_EQUAL(w.ops[0].input_action, "urn:t:T:PingRequest");
	CU_ASSERT_STRING_EQUAL(w.ops[0].request_ns, "urn:t");
	CU_ASSERT_PTR_NOT_NULL(strstr(w.marked, "location=\"" REGISTRY_ADDRESS_MARK "\""));
	CU_ASSERT_PTR_NULL(strstr(w.marked, "http://x/"));
	wsdl_free(&w);
}

static void
test_remote_imports(void)
{
	struct doc d = { 0 };

	d.schema = "<xs:import namespace=\"urn:y\" schemaLocation=\"http://x/y.xsd\"/>";
	expect_refused(&d, "t.wsdl imports http://x/y.xsd: the node serves its WSDL to clients "
	    "that may have no internet; inline the schema in wsdl:types");
	d.schema = "<xs:include schemaLocation=\"local.xsd\"/>";
	expect_refused(&d, "t.wsdl imports local.xsd: ");
	d.schema = NULL;
	d.extra = "<wsdl:import namespace=\"urn:z\" location=\"http://x/z.wsdl\"/>";
	expect_refused(&d, "t.wsdl imports http://x/z.wsdl: ");
	/* An import of a namespace defined in the same file is fine. */
	{
		struct wsdl w;

		d.extra = NULL;
		d.schema = "<xs:import namespace=\"urn:parley:conversation\"/>";
		CU_ASSERT_EQUAL(parse_doc(&d, &w), 0);
		wsdl_free(&w);
	}
}

static void
test_refusals(void)
{
	struct doc d = { 0 };

	d.style = "rpc";
	expect_refused(&d, "t.wsdl: operation 'Add' is bound in rpc style");
	d.style = NULL;

	d.bop = "<wsdl:input><soap:body use=\"encoded\"/></wsdl:input>"
	    "<wsdl:output><soap:body use=\"encoded\"/></wsdl:output>";
	expect_refused(&d, "t.wsdl: operation 'Add': its input is SOAP-encoded");
	d.bop = NULL;

	d.io = "<wsdl:input message=\"tns:AddIn\"/>";
	expect_refused(&d, "t.wsdl: operation 'Add' has no output (one-way)");
	d.io = "<wsdl:output message=\"tns:AddOut\"/><wsdl:input message=\"tns:AddIn\"/>";
	expect_refused(&d, "t.wsdl: operation 'Add' is solicit-response");
	d.io = "<wsdl:input message=\"tns:Nope\"/><wsdl:output message=\"tns:AddOut\"/>";
	expect_refused(&d, "t.wsdl: operation 'Add': its input message 'Nope' is not defined");
	d.io = "<wsdl:input message=\"zz:AddIn\"/><wsdl:output message=\"tns:AddOut\"/>";
	expect_refused(&d, "uses the prefix 'zz', which is not declared");
	d.io = NULL;

	d.bop = "<wsdl:input><soap:body parts=\"\"/></wsdl:input><wsdl:output/>";
	expect_refused(&d, "t.wsdl: operation 'Add': its input has an empty SOAP body");
	d.bop = "<wsdl:input><soap:body parts=\"h p\"/></wsdl:input><wsdl:output/>";
	expect_refused(&d, "its input puts several parts in the SOAP body");
	d.bop = "<wsdl:input><soap:body parts=\"q\"/></wsdl:input><wsdl:output/>";
	expect_refused(&d, "soap:body parts=\"q\" names no part of message 'AddIn'");
	d.bop = NULL;

	/* A part with a type is rpc-ish: the body must be an element. */
	d.extra = "<wsdl:message name=\"Typed\"><wsdl:part name=\"t\" type=\"xs:int\"/>"
	    "</wsdl:message>";
	d.io = "<wsdl:input message=\"tns:Typed\"/><wsdl:output message=\"tns:AddOut\"/>";
	expect_refused(&d, "part 't' of message 'Typed' has no element=");
	d.extra = NULL;
	d.io = NULL;

	/* Bindings that disagree on the soapAction. */
	d.extra = "<wsdl:binding name=\"B2\" type=\"tns:Calc\"><soap12:binding/>"
	    "<wsdl:operation name=\"Add\"><soap12:operation soapAction=\"urn:other\"/>"
	    "<wsdl:input><soap12:body/><soap12:header message=\"tns:AddIn\" part=\"h\"/>"
	    "</wsdl:input><wsdl:output><soap12:body/></wsdl:output>"
	    "</wsdl:operation></wsdl:binding>";
	expect_refused(&d, "its SOAP bindings give different soapActions ('urn:add' and "
	    "'urn:other')");
	/* ... or on the body. */
	d.extra = "<wsdl:binding name=\"B2\" type=\"tns:Calc\"><soap12:binding/>"
	    "<wsdl:operation name=\"Add\"><wsdl:input><soap12:body/></wsdl:input>"
	    "<wsdl:output><soap12:body/></wsdl:output></wsdl:operation></wsdl:binding>";
	expect_refused(&d, "its SOAP bindings put different elements in the body");
	d.extra = NULL;
}

static void
test_refused_documents(void)
{
	static const char doctype[] =
	    "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY e \"x\">]>"
	    "<wsdl:definitions xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\"/>";
	static const char broken[] = "<wsdl:definitions xmlns:wsdl=\"x\">\n<a>\n</b>";
	static const char wsdl20[] = "<description xmlns=\"http://www.w3.org/ns/wsdl\"/>";
	static const char other[] = "<definitions/>";
	static const char empty[] =
	    "<wsdl:definitions xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\"/>";
	static const char unbound[] =
	    "<wsdl:definitions targetNamespace=\"urn:t\" " NS_DECLS "xmlns:tns=\"urn:t\">"
	    "<wsdl:message name=\"M\"><wsdl:part name=\"p\" element=\"tns:E\"/></wsdl:message>"
	    "<wsdl:portType name=\"T\"><wsdl:operation name=\"Op\">"
	    "<wsdl:input message=\"tns:M\"/><wsdl:output message=\"tns:M\"/>"
	    "</wsdl:operation></wsdl:portType></wsdl:definitions>";
	static const char twice[] =
	    "<wsdl:definitions targetNamespace=\"urn:t\" " NS_DECLS "xmlns:tns=\"urn:t\">"
	    "<wsdl:message name=\"M\"><wsdl:part name=\"p\" element=\"tns:E\"/></wsdl:message>"
	    "<wsdl:portType name=\"T\">"
	    "<wsdl:operation name=\"A\"><wsdl:input message=\"tns:M\" wsam:Action=\"urn:same\"/>"
	    "<wsdl:output message=\"tns:M\"/></wsdl:operation>"
	    "<wsdl:operation name=\"B\"><wsdl:input message=\"tns:M\" wsam:Action=\"urn:same\"/>"
	    "<wsdl:output message=\"tns:M\"/></wsdl:operation>"
	    "</wsdl:portType>"
	    "<wsdl:binding name=\"B\" type=\"tns:T\"><soap:binding/>"
	    "<wsdl:operation name=\"A\"/><wsdl:operation name=\"B\"/></wsdl:binding>"
	    "</wsdl:definitions>";
	static const char marked[] =
	    "<wsdl:definitions xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\">"
	    "<wsdl:documentation>" REGISTRY_ADDRESS_MARK "</wsdl:documentation>"
	    "</wsdl:definitions>";
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ doctype, "t.wsdl: has a DOCTYPE; a WSDL needs none, remove it" },
		{ broken, "t.wsdl: line 3: not well-formed XML: " },
		{ wsdl20, "t.wsdl: is WSDL 2.0; Parley reads WSDL 1.1" },
		{ other, "t.wsdl: is not a WSDL 1.1 document" },
		{ empty, "t.wsdl: defines no operation" },
		{ unbound, "t.wsdl: operation 'Op' of port type 'T' is in no SOAP 1.1 or 1.2 "
		    "binding" },
		{ twice, "t.wsdl: operations 'A' and 'B' have the same input action 'urn:same'" },
		{ marked, "t.wsdl: contains " REGISTRY_ADDRESS_MARK ", which the node uses" },
	};
	unsigned i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct wsdl w;

		err[0] = '\0';
		CU_ASSERT_EQUAL(wsdl_parse(cases[i].text, strlen(cases[i].text), "t.wsdl", &w, err,
		    sizeof err), PARLEY_EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].want));
		if (strstr(err, cases[i].want) == NULL)
			fprintf(stderr, "\n  case %u got: %s\n", i, err);
	}
}

static void
test_missing_file(void)
{
	struct wsdl w;

	CU_ASSERT_EQUAL(wsdl_load("/nonexistent/x.wsdl", &w, err, sizeof err), PARLEY_EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/x.wsdl: cannot open it: "));
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "cart.wsdl operations", test_cart },
		{ "cart.wsdl addresses marked", test_cart_marked },
		{ "default actions", test_default_actions },
		{ "explicit actions", test_explicit_actions },
		{ "body part", test_body_part },
		{ "SOAP 1.2 binding only", test_soap12_only },
		{ "remote imports refused", test_remote_imports },
		{ "refused operations", test_refusals },
		{ "refused documents", test_refused_documents },
		{ "missing file", test_missing_file },
		{ NULL, NULL }
	};

	return unit_run("wsdl", tests);
}
