/*
 * test_registry.c - loading a deploy directory: tests/deploy with the cart
 * sample and the tally test service, which share operation names and an XML
 * prefix; finding operations by action, SOAPAction and body element; the two
 * modules really being distinct (their requests run through each module's own
 * serializers and handlers); serving the WSDL; and broken deployments, each
 * with its message.
 *
 * The parley_* functions a module calls are the container's (src/call.c);
 * this file has small stand-ins for them, exported to the modules like
 * parleyd's through src/module-exports.list.
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdsoap2.h>

#include "buf.h"
#include "parley.h"
#include "registry.h"
#include "unit.h"
#include "wsdl.h"

#define NS_CART  "urn:parley:samples:cart"
#define NS_TALLY "urn:parley:tests:tally"

/* ---- stand-ins for the container's side of parley.h ---------------------- */

struct parley_call {
	const char *id;
	enum parley_phase phase;
	struct buf bean;           /* as stored */
	struct buf pending;        /* set by the handler */
	int bean_set;
	int faulted;
	enum parley_fault_code fault_code;
	char fault[512];
};

const char *
parley_call_id(const struct parley_call *call)
{
	return call->phase == PARLEY_PHASE_NONE ? NULL : call->id;
}

enum parley_phase
parley_call_phase(const struct parley_call *call)
{
	return call->phase;
}

const char *
parley_call_service(const struct parley_call *call)
{
	(void)call;
	return "test";
}

const char *
parley_call_operation(const struct parley_call *call)
{
	(void)call;
	return "test";
}

const char *
parley_call_message_id(const struct parley_call *call)
{
	(void)call;
	return NULL;
}

int
parley_bean_get(const struct parley_call *call, const void **data, size_t *len)
{
	if (call->phase == PARLEY_PHASE_NONE)
		return PARLEY_ESTATE;
	*data = call->bean.data;
	*len = call->bean.len;
	return 0;
}

int
parley_bean_set(struct parley_call *call, const void *data, size_t len)
{
	if (call->phase == PARLEY_PHASE_NONE)
		return PARLEY_ESTATE;
	buf_reset(&call->pending);
	if (buf_append(&call->pending, data, len) != 0)
		return PARLEY_ENOMEM;
	call->bean_set = 1;
	return 0;
}

uint32_t
parley_bean_version(const struct parley_call *call)
{
	return call->phase == PARLEY_PHASE_NONE || call->bean.len == 0 ? 0 : 1;
}

uint32_t
parley_call_version(const struct parley_call *call)
{
	(void)call;
	return 1;
}

/* No session is joined here: each conversation is its own. */
const char *
parley_session_id(const struct parley_call *call)
{
	return parley_call_id(call);
}

const char *
parley_session_initiator(const struct parley_call *call)
{
	(void)call;
	return "cart";
}

unsigned
parley_session_live(const struct parley_call *call)
{
	return call->phase == PARLEY_PHASE_NONE ? 0 : 1;
}

int
parley_join(struct parley_call *call, const char *other)
{
	(void)call;
	(void)other;
	return PARLEY_ENOENT;
}

int
parley_fault(struct parley_call *call, enum parley_fault_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(call->fault, sizeof call->fault, fmt, ap);
	va_end(ap);
	call->faulted = 1;
	call->fault_code = code;
	return PARLEY_EFAULT;
}

/* The stand-in calls have no partner to send to. */
int
parley_callback(struct parley_call *call, const char *action, const char *body_xml)
{
	(void)call;
	(void)action;
	(void)body_xml;
	return PARLEY_ENOENT;
}

void
parley_log(const struct parley_call *call, enum parley_log_level level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	(void)call;
	(void)level;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
}

int
parley_call_request_end(struct parley_call *call, struct soap *soap)
{
	(void)call;
	if (soap_body_end_in(soap) || soap_envelope_end_in(soap) || soap_end_recv(soap))
		return soap->error;
	return 0;
}

int
parley_call_response_begin(struct parley_call *call, struct soap *soap)
{
	(void)call;
	if (soap_begin_send(soap) || soap_envelope_begin_out(soap) || soap_body_begin_out(soap))
		return soap->error;
	return 0;
}

int
parley_call_response_end(struct parley_call *call, struct soap *soap)
{
	(void)call;
	if (soap_body_end_out(soap) || soap_envelope_end_out(soap) || soap_end_send(soap))
		return soap->error;
	return 0;
}

/* ---- helpers --------------------------------------------------------------- */

static char err[2048];

static const char *
builddir(void)
{
	const char *d = getenv("top_builddir");

	return d != NULL ? d : ".";
}

static struct registry *
load_test_deploy(void)
{
	struct registry *r = NULL;
	char dir[4096];
	int rc;

	snprintf(dir, sizeof dir, "%s/tests/deploy", builddir());
	rc = registry_load(&r, dir, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "\nregistry_load: %s (%s)\n", err, parley_strerror(rc));
	return r;
}

/*
 * The services of r now. Nothing changes r in these tests but the test
 * itself, and r's own view holds what these return until the next change.
 */
static const struct service *
find(struct registry *r, const char *name)
{
	struct registry_view *v = registry_acquire(r);
	const struct service *svc = registry_find(v, name);

	registry_release(v);
	return svc;
}

static const struct service *
at(struct registry *r, unsigned i)
{
	struct registry_view *v = registry_acquire(r);
	const struct service *svc = registry_at(v, i);

	registry_release(v);
	return svc;
}

static unsigned
count(struct registry *r)
{
	struct registry_view *v = registry_acquire(r);
	unsigned n = registry_count(v);

	registry_release(v);
	return n;
}

/*
 * Run operation op of svc on a SOAP 1.1 request whose body is body (the
 * prefix "t" is bound to ns), as the container would: the module's namespace
 * table, the envelope read up to the body, invoke, and the bean stored when
 * it answered. Returns what invoke returned; *out holds the response.
 */
static int
run(const struct service *svc, const char *opname, const char *ns, const char *body,
    struct parley_call *call, struct buf *out)
{
	const struct operation *op = NULL;
	struct soap *soap;
	char request[4096];
	const char *response = NULL;
	unsigned i;
	int rc;

	for (i = 0; i < svc->n_ops; i++)
		if (strcmp(svc->ops[i].name, opname) == 0)
			op = &svc->ops[i];
	CU_ASSERT_PTR_NOT_NULL_FATAL(op);
	call->phase = op->phase;
	call->faulted = 0;
	call->bean_set = 0;
	buf_reset(out);
	snprintf(request, sizeof request,
	    "<?xml version=\"1.0\"?><SOAP-ENV:Envelope "
	    "xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:t=\"%s\">"
	    "<SOAP-ENV:Body>%s</SOAP-ENV:Body></SOAP-ENV:Envelope>", ns, body);

	soap = soap_new1(SOAP_ENC_PLAIN | SOAP_XML_NOTYPE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(soap);
	soap_set_namespaces(soap, svc->module->namespaces);
	soap->is = request;
	soap->os = &response;
	rc = soap_begin_serve(soap);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc == 0)
		rc = op->module_op->invoke(soap, call);
	if (rc == 0 && response != NULL)
		buf_puts(out, response);
	if (rc == 0 && call->bean_set) {
		buf_reset(&call->bean);
		buf_append(&call->bean, call->pending.data, call->pending.len);
	}
	soap_destroy(soap);
	soap_end(soap);
	soap_free(soap);
	return rc;
}

static int
contains(const struct buf *b, const char *s)
{
	int found = b->data != NULL && strstr(b->data, s) != NULL;

	if (!found)
		fprintf(stderr, "\n  '%s' not in: %s\n", s, b->data != NULL ? b->data : "(nothing)");
	return found;
}

/* ---- a good deploy directory ---------------------------------------------- */

static void
test_load(void)
{
	struct registry *r = load_test_deploy();
	const struct service *cart, *tally;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(count(r), 2);
	cart = at(r, 0);
	tally = at(r, 1);
	CU_ASSERT_PTR_NULL(at(r, 2));
	CU_ASSERT_STRING_EQUAL(cart->name, "cart");
	CU_ASSERT_STRING_EQUAL(tally->name, "tally");
	CU_ASSERT_PTR_EQUAL(find(r, "cart"), cart);
	CU_ASSERT_PTR_EQUAL(find(r, "tally"), tally);
	CU_ASSERT_PTR_NULL(find(r, "nope"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cart->descriptor_path, "tests/deploy/cart.service"));

	CU_ASSERT_EQUAL(cart->version, 1);
	CU_ASSERT_EQUAL(cart->max_age_s, 86400);
	CU_ASSERT_EQUAL(cart->max_idle_s, 3600);
	CU_ASSERT_EQUAL_FATAL(cart->n_ops, 4);
	CU_ASSERT_STRING_EQUAL(cart->ops[0].name, "StartCart");
	CU_ASSERT_EQUAL(cart->ops[0].phase, PARLEY_PHASE_START);
	CU_ASSERT_STRING_EQUAL(cart->ops[1].name, "AddItem");
	CU_ASSERT_EQUAL(cart->ops[1].phase, PARLEY_PHASE_CONTINUE);
	CU_ASSERT_STRING_EQUAL(cart->ops[2].name, "GetCart");
	CU_ASSERT_EQUAL(cart->ops[2].phase, PARLEY_PHASE_CONTINUE);
	CU_ASSERT_STRING_EQUAL(cart->ops[3].name, "Checkout");
	CU_ASSERT_EQUAL(cart->ops[3].phase, PARLEY_PHASE_FINISH);
	CU_ASSERT_STRING_EQUAL(cart->ops[1].input_action, NS_CART "/AddItem");
	CU_ASSERT_STRING_EQUAL(cart->ops[1].output_action, NS_CART "/AddItemResponse");
	CU_ASSERT_STRING_EQUAL(cart->ops[1].soap_action, NS_CART "/AddItem");
	CU_ASSERT_STRING_EQUAL(cart->ops[1].request_ns, NS_CART);
	CU_ASSERT_STRING_EQUAL(cart->ops[1].request_name, "AddItem");
	CU_ASSERT_STRING_EQUAL(cart->ops[1].module_op->name, "AddItem");
	CU_ASSERT_STRING_EQUAL(cart->ops[1].module_op->request_tag, "cart:AddItem");

	CU_ASSERT_EQUAL(tally->max_age_s, 3600);
	CU_ASSERT_EQUAL(tally->max_idle_s, 600);
	CU_ASSERT_EQUAL_FATAL(tally->n_ops, 7);
	CU_ASSERT_STRING_EQUAL(tally->ops[4].name, "Sleep");
	CU_ASSERT_EQUAL(tally->ops[4].phase, PARLEY_PHASE_CONTINUE);
	CU_ASSERT_STRING_EQUAL(tally->ops[5].name, "Echo");
	CU_ASSERT_EQUAL(tally->ops[5].phase, PARLEY_PHASE_NONE);
	CU_ASSERT_STRING_EQUAL(tally->ops[5].input_action, NS_TALLY ":Tally:EchoRequest");
	CU_ASSERT_STRING_EQUAL(tally->ops[5].output_action, NS_TALLY ":Tally:EchoResponse");
	CU_ASSERT_STRING_EQUAL(tally->ops[6].name, "Notify");
	CU_ASSERT_EQUAL(tally->ops[6].phase, PARLEY_PHASE_CONTINUE);
	CU_ASSERT_PTR_NULL(tally->ops[5].soap_action);
	registry_free(r);
}

static void
test_operation_lookup(void)
{
	struct registry *r = load_test_deploy();
	const struct service *cart, *tally;
	const struct operation *op;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	cart = find(r, "cart");
	tally = find(r, "tally");

	/* By wsa:Action, explicit or the WS-Addressing default. */
	op = registry_operation(cart, NS_CART "/AddItem", NULL, NULL);
	CU_ASSERT(op != NULL && strcmp(op->name, "AddItem") == 0);
	op = registry_operation(tally, NS_TALLY ":AddItem", NULL, NULL);
	CU_ASSERT(op != NULL && strcmp(op->name, "AddItem") == 0);
	op = registry_operation(tally, NS_TALLY ":Tally:SleepRequest", NS_TALLY, "Echo");
	CU_ASSERT(op != NULL && strcmp(op->name, "Sleep") == 0);
	/* An action names the operation; the body is not consulted then. */
	CU_ASSERT_PTR_NULL(registry_operation(cart, NS_TALLY ":AddItem", NS_CART, "AddItem"));
	CU_ASSERT_PTR_NULL(registry_operation(cart, NS_CART "/AddItemResponse", NULL, NULL));

	/* By SOAPAction, quoted or not. */
	op = registry_operation(tally, "urn:parley:tests:tally#Sleep", NULL, NULL);
	CU_ASSERT(op != NULL && strcmp(op->name, "Sleep") == 0);
	op = registry_operation(tally, "\"urn:parley:tests:tally#GetCart\"", NULL, NULL);
	CU_ASSERT(op != NULL && strcmp(op->name, "GetCart") == 0);

	/* By the body element, when there is no action ("" is none). */
	op = registry_operation(cart, NULL, NS_CART, "GetCart");
	CU_ASSERT(op != NULL && strcmp(op->name, "GetCart") == 0);
	op = registry_operation(tally, "", NS_TALLY, "Echo");
	CU_ASSERT(op != NULL && strcmp(op->name, "Echo") == 0);
	CU_ASSERT_PTR_NULL(registry_operation(cart, NULL, NS_TALLY, "GetCart"));
	CU_ASSERT_PTR_NULL(registry_operation(cart, NULL, NS_CART, "Echo"));
	CU_ASSERT_PTR_NULL(registry_operation(cart, NULL, NULL, NULL));
	registry_free(r);
}

static const char *
table_ns(const struct Namespace *t, const char *prefix)
{
	for (; t->id != NULL; t++)
		if (strcmp(t->id, prefix) == 0)
			return t->ns;
	return NULL;
}

static void
test_modules_distinct(void)
{
	struct registry *r = load_test_deploy();
	const struct service *cart, *tally;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	cart = find(r, "cart");
	tally = find(r, "tally");
	CU_ASSERT_PTR_NOT_EQUAL(cart->dl, tally->dl);
	CU_ASSERT_PTR_NOT_EQUAL(cart->module, tally->module);
	CU_ASSERT_STRING_EQUAL(cart->module->name, "cart");
	CU_ASSERT_STRING_EQUAL(tally->module->name, "tally");
	CU_ASSERT_EQUAL(cart->module->n_operations, 4);
	CU_ASSERT_EQUAL(tally->module->n_operations, 7);
	CU_ASSERT_PTR_NOT_EQUAL(cart->module->operations, tally->module->operations);
	/* Same name, same tag, different code. */
	CU_ASSERT_STRING_EQUAL(cart->ops[1].module_op->request_tag,
	    tally->ops[1].module_op->request_tag);
	CU_ASSERT_PTR_NOT_EQUAL(cart->ops[1].module_op->invoke, tally->ops[1].module_op->invoke);
	/* The same prefix, two namespaces. */
	CU_ASSERT_PTR_NOT_EQUAL(cart->module->namespaces, tally->module->namespaces);
	CU_ASSERT_STRING_EQUAL(table_ns(cart->module->namespaces, "cart"), NS_CART);
	CU_ASSERT_STRING_EQUAL(table_ns(tally->module->namespaces, "cart"), NS_TALLY);
	/* Only parley_module is visible: gSOAP's serializers and the handlers are hidden. */
	CU_ASSERT_PTR_NOT_NULL(dlsym(cart->dl, "parley_module"));
	CU_ASSERT_PTR_NULL(dlsym(cart->dl, "soap_get__cart__AddItem"));
	CU_ASSERT_PTR_NULL(dlsym(cart->dl, "soap_in_int"));
	CU_ASSERT_PTR_NULL(dlsym(cart->dl, "cart_AddItem"));
	CU_ASSERT_PTR_NULL(dlsym(tally->dl, "tally_AddItem"));
	registry_free(r);
}

/* Requests through both modules, alternating, each answered by its own code. */
static void
test_invoke(void)
{
	struct registry *r = load_test_deploy();
	const struct service *cart, *tally;
	struct parley_call cc, tc;
	struct buf out = BUF_INIT;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	cart = find(r, "cart");
	tally = find(r, "tally");
	memset(&cc, 0, sizeof cc);
	memset(&tc, 0, sizeof tc);
	cc.id = "conv-cart";
	tc.id = "conv-tally";

	CU_ASSERT_EQUAL(run(cart, "StartCart", NS_CART, "<t:StartCart/>", &cc, &out), 0);
	CU_ASSERT(contains(&out, "<cart:conversationId>conv-cart</cart:conversationId>"));
	CU_ASSERT(contains(&out, "xmlns:cart=\"" NS_CART "\""));
	CU_ASSERT_EQUAL(run(tally, "StartCart", NS_TALLY, "<t:StartCart/>", &tc, &out), 0);
	CU_ASSERT(contains(&out, "xmlns:cart=\"" NS_TALLY "\""));

	CU_ASSERT_EQUAL(run(cart, "AddItem", NS_CART,
	    "<t:AddItem><t:item>apple</t:item><t:qty>2</t:qty></t:AddItem>", &cc, &out), 0);
	CU_ASSERT(contains(&out, "<cart:count>2</cart:count>"));
	/* Document/literal: the glue turns gSOAP's default SOAP encoding off. */
	CU_ASSERT_PTR_NULL(strstr(out.data, "encodingStyle"));
	CU_ASSERT_EQUAL(run(tally, "AddItem", NS_TALLY,
	    "<t:AddItem><t:item>apple</t:item><t:qty>2</t:qty></t:AddItem>", &tc, &out), 0);
	CU_ASSERT(contains(&out, "<cart:count>1002</cart:count>"));
	CU_ASSERT_EQUAL(run(cart, "AddItem", NS_CART,
	    "<t:AddItem><t:item>apple</t:item><t:qty>3</t:qty></t:AddItem>", &cc, &out), 0);
	CU_ASSERT(contains(&out, "<cart:count>5</cart:count>"));
	CU_ASSERT_EQUAL(run(cart, "AddItem", NS_CART,
	    "<t:AddItem><t:item>pear</t:item><t:qty>1</t:qty></t:AddItem>", &cc, &out), 0);
	CU_ASSERT(contains(&out, "<cart:count>6</cart:count>"));

	CU_ASSERT_EQUAL(run(cart, "GetCart", NS_CART, "<t:GetCart/>", &cc, &out), 0);
	CU_ASSERT(contains(&out, "<cart:item><cart:name>apple</cart:name><cart:qty>5</cart:qty>"
	    "</cart:item><cart:item><cart:name>pear</cart:name><cart:qty>1</cart:qty></cart:item>"
	    "<cart:count>6</cart:count>"));
	CU_ASSERT_EQUAL(run(tally, "GetCart", NS_TALLY, "<t:GetCart/>", &tc, &out), 0);
	CU_ASSERT(contains(&out, "<cart:count>2</cart:count>"));

	/* Elements of simple and named types (typedefs in the generated code). */
	CU_ASSERT_EQUAL(run(tally, "Sleep", NS_TALLY, "<t:Sleep><t:ms>5</t:ms></t:Sleep>", &tc,
	    &out), 0);
	CU_ASSERT(contains(&out, "<cart:SleepResponse>5</cart:SleepResponse>"));
	CU_ASSERT_EQUAL(run(tally, "Echo", NS_TALLY, "<t:Echo><t:text>a&amp;b</t:text></t:Echo>",
	    &tc, &out), 0);
	CU_ASSERT(contains(&out, "<cart:EchoResponse>a&amp;b</cart:EchoResponse>"));

	CU_ASSERT_EQUAL(run(cart, "Checkout", NS_CART, "<t:Checkout/>", &cc, &out), 0);
	CU_ASSERT(contains(&out, "<cart:count>6</cart:count>"));

	/* A request for the other module's namespace is not read. */
	CU_ASSERT(run(cart, "GetCart", NS_TALLY, "<t:GetCart/>", &cc, &out) > 0);

	buf_free(&out);
	buf_free(&cc.bean);
	buf_free(&cc.pending);
	buf_free(&tc.bean);
	buf_free(&tc.pending);
	registry_free(r);
}

/* The cart sample's checks: bad input is the sender's fault, a bad bean the receiver's. */
static void
test_cart_faults(void)
{
	static const char *const bad_input[] = {
		"<t:AddItem><t:item>apple</t:item><t:qty>0</t:qty></t:AddItem>",
		"<t:AddItem><t:item>apple</t:item><t:qty>1000001</t:qty></t:AddItem>",
		"<t:AddItem><t:item></t:item><t:qty>1</t:qty></t:AddItem>",
	};
	static const unsigned char corrupt[][12] = {
		{ 'C', 'A', 'R', 'T', 9, 0, 0 },                          /* unknown version */
		{ 'C', 'A', 'R', 'T', 1, 0, 1, 0, 5, 'a', 'b', 'c' },     /* truncated line */
		{ 'C', 'A', 'R', 'X', 1, 0, 0 },                          /* bad magic */
	};
	static const size_t corrupt_len[] = { 7, 12, 7 };
	struct registry *r = load_test_deploy();
	const struct service *cart;
	struct parley_call call;
	struct buf out = BUF_INIT;
	char body[1024], name[300];
	unsigned i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	cart = find(r, "cart");
	memset(&call, 0, sizeof call);
	call.id = "c";
	CU_ASSERT_EQUAL(run(cart, "StartCart", NS_CART, "<t:StartCart/>", &call, &out), 0);

	for (i = 0; i < sizeof bad_input / sizeof bad_input[0]; i++) {
		CU_ASSERT_EQUAL(run(cart, "AddItem", NS_CART, bad_input[i], &call, &out),
		    PARLEY_EFAULT);
		CU_ASSERT_EQUAL(call.fault_code, PARLEY_FAULT_SENDER);
	}
	memset(name, 'n', 257);
	name[257] = '\0';
	snprintf(body, sizeof body, "<t:AddItem><t:item>%s</t:item><t:qty>1</t:qty></t:AddItem>",
	    name);
	CU_ASSERT_EQUAL(run(cart, "AddItem", NS_CART, body, &call, &out), PARLEY_EFAULT);
	CU_ASSERT_STRING_EQUAL(call.fault, "item must be 1 to 256 bytes long, got 257");
	name[256] = '\0';
	snprintf(body, sizeof body, "<t:AddItem><t:item>%s</t:item><t:qty>1</t:qty></t:AddItem>",
	    name);
	CU_ASSERT_EQUAL(run(cart, "AddItem", NS_CART, body, &call, &out), 0);

	/* The total must fit an xs:int. */
	for (i = 0; i < 2147; i++) {
		snprintf(body, sizeof body, "<t:AddItem><t:item>i%u</t:item><t:qty>1000000</t:qty>"
		    "</t:AddItem>", i % 900);
		if (run(cart, "AddItem", NS_CART, body, &call, &out) != 0)
			break;
	}
	CU_ASSERT_EQUAL(i, 2147);
	CU_ASSERT_EQUAL(run(cart, "AddItem", NS_CART,
	    "<t:AddItem><t:item>x</t:item><t:qty>1000000</t:qty></t:AddItem>", &call, &out),
	    PARLEY_EFAULT);
	CU_ASSERT_STRING_EQUAL(call.fault, "the cart would hold more than 2147483647 items");

	for (i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
		buf_reset(&call.bean);
		buf_append(&call.bean, corrupt[i], corrupt_len[i]);
		CU_ASSERT_EQUAL(run(cart, "GetCart", NS_CART, "<t:GetCart/>", &call, &out),
		    PARLEY_EFAULT);
		CU_ASSERT_EQUAL(call.fault_code, PARLEY_FAULT_RECEIVER);
		CU_ASSERT_PTR_NOT_NULL(strstr(call.fault, "the stored cart is corrupt"));
	}

	buf_free(&out);
	buf_free(&call.bean);
	buf_free(&call.pending);
	registry_free(r);
}

/* At most 1000 different items. */
static void
test_cart_line_limit(void)
{
	struct registry *r = load_test_deploy();
	const struct service *cart;
	struct parley_call call;
	struct buf out = BUF_INIT;
	char body[256];
	unsigned i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	cart = find(r, "cart");
	memset(&call, 0, sizeof call);
	call.id = "c";
	CU_ASSERT_EQUAL(run(cart, "StartCart", NS_CART, "<t:StartCart/>", &call, &out), 0);
	for (i = 0; i < 1000; i++) {
		snprintf(body, sizeof body, "<t:AddItem><t:item>item%u</t:item><t:qty>1</t:qty>"
		    "</t:AddItem>", i);
		if (run(cart, "AddItem", NS_CART, body, &call, &out) != 0)
			break;
	}
	CU_ASSERT_EQUAL(i, 1000);
	CU_ASSERT(contains(&out, "<cart:count>1000</cart:count>"));
	CU_ASSERT_EQUAL(run(cart, "AddItem", NS_CART,
	    "<t:AddItem><t:item>one-more</t:item><t:qty>1</t:qty></t:AddItem>", &call, &out),
	    PARLEY_EFAULT);
	CU_ASSERT_STRING_EQUAL(call.fault, "the cart already holds 1000 different items");
	/* An item already there can still grow. */
	CU_ASSERT_EQUAL(run(cart, "AddItem", NS_CART,
	    "<t:AddItem><t:item>item7</t:item><t:qty>4</t:qty></t:AddItem>", &call, &out), 0);
	CU_ASSERT(contains(&out, "<cart:count>1004</cart:count>"));
	buf_free(&out);
	buf_free(&call.bean);
	buf_free(&call.pending);
	registry_free(r);
}

static void
test_write_wsdl(void)
{
	struct registry *r = load_test_deploy();
	const struct service *cart;
	struct buf out = BUF_INIT;
	struct wsdl w;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	cart = find(r, "cart");
	CU_ASSERT_EQUAL(registry_write_wsdl(cart, "http://node.example:8080/", &out), 0);
	CU_ASSERT(contains(&out,
	    "<soap:address location=\"http://node.example:8080/services/cart\"/>"));
	CU_ASSERT(contains(&out,
	    "<soap12:address location=\"http://node.example:8080/services/cart\"/>"));
	CU_ASSERT_PTR_NULL(strstr(out.data, REGISTRY_ADDRESS_MARK));
	CU_ASSERT_EQUAL_FATAL(wsdl_parse(out.data, out.len, "served", &w, err, sizeof err), 0);
	CU_ASSERT_EQUAL(w.n_ops, 4);
	wsdl_free(&w);

	/* The address is escaped for the attribute. */
	buf_reset(&out);
	CU_ASSERT_EQUAL(registry_write_wsdl(cart, "http://a.example/x?a=1&b=\"2\"", &out), 0);
	CU_ASSERT(contains(&out, "location=\"http://a.example/x?a=1&amp;b=&quot;2&quot;"
	    "/services/cart\""));
	buf_free(&out);
	registry_free(r);
}

/* ---- broken deploy directories ------------------------------------------- */

struct scratch {
	char dir[256];
	char files[16][64];
	unsigned n;
};

static void
scratch_new(struct scratch *s)
{
	memset(s, 0, sizeof *s);
	snprintf(s->dir, sizeof s->dir, "/tmp/parley-test-registry-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(s->dir));
}

static void
scratch_write(struct scratch *s, const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", s->dir, name);
	f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
	fclose(f);
	snprintf(s->files[s->n++], sizeof s->files[0], "%s", name);
}

static void
scratch_text(struct scratch *s, const char *name, const char *text)
{
	scratch_write(s, name, text, strlen(text));
}

/* Copy tests/deploy/from into the scratch directory as to. */
static void
scratch_copy(struct scratch *s, const char *from, const char *to)
{
	char path[4096];
	struct buf b = BUF_INIT;
	char chunk[65536];
	size_t n;
	FILE *f;

	snprintf(path, sizeof path, "%s/tests/deploy/%s", builddir(), from);
	f = fopen(path, "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	scratch_write(s, to, b.data, b.len);
	buf_free(&b);
}

/* Remove the scratch directory and every file in it (deploys rename some). */
static void
scratch_free(struct scratch *s)
{
	char path[512];
	struct dirent *e;
	DIR *d = opendir(s->dir);

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", s->dir, e->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(s->dir);
}

/* Load s, expect rc and a message that contains want. */
static void
expect_load_error(struct scratch *s, int rc, const char *want)
{
	struct registry *r = (struct registry *)&r;    /* anything but NULL */

	err[0] = '\0';
	CU_ASSERT_EQUAL(registry_load(&r, s->dir, err, sizeof err), rc);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	if (strstr(err, want) == NULL)
		fprintf(stderr, "\n  got:  %s\n  want: ...%s...\n", err, want);
}

static const char cart_descriptor[] =
    "service cart\nmodule cart.so\nwsdl cart.wsdl\n"
    "operation StartCart start\noperation AddItem continue\n"
    "operation GetCart continue\noperation Checkout finish\n";

static void
test_bad_descriptor(void)
{
	struct scratch s;
	char want[512];

	scratch_new(&s);
	scratch_copy(&s, "cart.so", "cart.so");
	scratch_copy(&s, "cart.wsdl", "cart.wsdl");
	scratch_text(&s, "cart.service", "service cart\nmodule cart.so\nwsdl cart.wsdl\n"
	    "operation StartCart begin\n");
	snprintf(want, sizeof want, "%s/cart.service:4: unknown phase 'begin' (use start, "
	    "continue, finish or none)", s.dir);
	expect_load_error(&s, PARLEY_EINVAL, want);
	scratch_free(&s);
}

static void
test_not_a_module(void)
{
	struct scratch s;

	scratch_new(&s);
	scratch_copy(&s, "cart.wsdl", "cart.wsdl");
	scratch_text(&s, "cart.so", "this is not a shared object\n");
	scratch_text(&s, "cart.service", cart_descriptor);
	expect_load_error(&s, PARLEY_EINVAL, "cart.service: its module cannot be loaded (");
	expect_load_error(&s, PARLEY_EINVAL, "build it from the service's WSDL with parley-gen");
	scratch_free(&s);

	/* A shared object that is not a Parley module: CUnit's. */
	{
		Dl_info info;
		char text[1024];

		CU_ASSERT_FATAL(dladdr((void *)CU_initialize_registry, &info) != 0);
		scratch_new(&s);
		scratch_copy(&s, "cart.wsdl", "cart.wsdl");
		snprintf(text, sizeof text, "service cart\nmodule %s\nwsdl cart.wsdl\n"
		    "operation StartCart start\noperation AddItem continue\n"
		    "operation GetCart continue\noperation Checkout finish\n", info.dli_fname);
		scratch_text(&s, "cart.service", text);
		expect_load_error(&s, PARLEY_EINVAL, ": is not a Parley module (it has no "
		    "'parley_module' symbol): build it with parley-gen --glue");
		scratch_free(&s);
	}
}

static void
test_missing_files(void)
{
	struct scratch s;
	struct registry *r = NULL;

	scratch_new(&s);
	scratch_copy(&s, "cart.wsdl", "cart.wsdl");
	scratch_text(&s, "cart.service", cart_descriptor);
	expect_load_error(&s, PARLEY_EIO, "cart.service: its module ");
	expect_load_error(&s, PARLEY_EIO, "cart.so cannot be read: No such file or directory");
	scratch_free(&s);

	scratch_new(&s);
	scratch_text(&s, "cart.service", cart_descriptor);
	expect_load_error(&s, PARLEY_EIO, "cart.wsdl: cannot open it: No such file or directory");
	scratch_free(&s);

	CU_ASSERT_EQUAL(registry_load(&r, "/nonexistent/deploy", err, sizeof err), PARLEY_EIO);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/deploy: cannot open the deploy "
	    "directory: "));

	/* An empty deploy directory is a node with no services. */
	scratch_new(&s);
	scratch_text(&s, "README", "not a descriptor\n");
	CU_ASSERT_EQUAL(registry_load(&r, s.dir, err, sizeof err), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(count(r), 0);
	registry_free(r);
	scratch_free(&s);
}

static void
test_operation_mismatch(void)
{
	struct scratch s;

	/* The descriptor names an operation the WSDL lacks. */
	scratch_new(&s);
	scratch_copy(&s, "cart.so", "cart.so");
	scratch_copy(&s, "cart.wsdl", "cart.wsdl");
	scratch_text(&s, "cart.service", "service cart\nmodule cart.so\nwsdl cart.wsdl\n"
	    "operation StartCart start\noperation AddItem continue\n"
	    "operation GetCart continue\noperation Checkout finish\n"
	    "operation Refund continue\n");
	expect_load_error(&s, PARLEY_EINVAL, "cart.service:8: operation 'Refund' is not in ");
	scratch_free(&s);

	/* The WSDL has an operation the descriptor gives no phase. */
	scratch_new(&s);
	scratch_copy(&s, "cart.so", "cart.so");
	scratch_copy(&s, "cart.wsdl", "cart.wsdl");
	scratch_text(&s, "cart.service", "service cart\nmodule cart.so\nwsdl cart.wsdl\n"
	    "operation StartCart start\noperation AddItem continue\n"
	    "operation Checkout finish\n");
	expect_load_error(&s, PARLEY_EINVAL, "cart.wsdl has operation 'GetCart', but this "
	    "descriptor gives it no phase: add 'operation GetCart start|continue|finish|none'");
	scratch_free(&s);

	/* A module built from another WSDL (tally's module with cart's WSDL). */
	scratch_new(&s);
	scratch_copy(&s, "tally.so", "cart.so");
	scratch_copy(&s, "cart.wsdl", "cart.wsdl");
	scratch_text(&s, "cart.service", cart_descriptor);
	expect_load_error(&s, PARLEY_EINVAL, "cart.so: operation 'StartCart' reads <cart:StartCart> "
	    "({urn:parley:tests:tally}StartCart), but ");
	expect_load_error(&s, PARLEY_EINVAL, "the module was built from another WSDL; rebuild it");
	scratch_free(&s);
}

static void
test_duplicate_service(void)
{
	struct scratch s;

	scratch_new(&s);
	scratch_copy(&s, "cart.so", "cart.so");
	scratch_copy(&s, "cart.wsdl", "cart.wsdl");
	scratch_text(&s, "a.service", cart_descriptor);
	scratch_text(&s, "b.service", cart_descriptor);
	expect_load_error(&s, PARLEY_EINVAL, "b.service: service 'cart' is also defined by ");
	expect_load_error(&s, PARLEY_EINVAL, "a.service: service names must be unique in a node");
	scratch_free(&s);
}

static void
test_remote_import(void)
{
	static const char wsdl[] =
	    "<wsdl:definitions xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\" "
	    "xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"><wsdl:types><xs:schema>"
	    "<xs:import namespace=\"urn:y\" schemaLocation=\"http://x/y.xsd\"/>"
	    "</xs:schema></wsdl:types></wsdl:definitions>";
	struct scratch s;

	scratch_new(&s);
	scratch_copy(&s, "cart.so", "cart.so");
	scratch_text(&s, "cart.wsdl", wsdl);
	scratch_text(&s, "cart.service", cart_descriptor);
	expect_load_error(&s, PARLEY_EINVAL, "cart.wsdl imports http://x/y.xsd: the node serves "
	    "its WSDL to clients that may have no internet; inline the schema in wsdl:types");
	scratch_free(&s);
}

static const char tally_descriptor[] =
    "service tally\nmodule tally-a.so\nwsdl tally-a.wsdl\n"
    "operation StartCart start\noperation AddItem continue\noperation GetCart continue\n"
    "operation Checkout finish\noperation Sleep continue\noperation Echo none\n"
    "operation Notify continue\n";

static int
exists(const struct scratch *s, const char *name)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s", s->dir, name);
	return access(path, F_OK) == 0;
}

/*
 * Deploy and undeploy while views are held: a held view keeps what it had,
 * a staged descriptor becomes NAME.service, refusals change nothing.
 */
static void
test_deploy_undeploy(void)
{
	struct registry_change c;
	struct registry_view *before, *after;
	struct registry *r = NULL;
	struct scratch s;
	char from[512], to[512];

	scratch_new(&s);
	scratch_copy(&s, "cart.so", "cart.so");
	scratch_copy(&s, "cart.wsdl", "cart.wsdl");
	scratch_text(&s, "cart.service", cart_descriptor);
	CU_ASSERT_EQUAL_FATAL(registry_load(&r, s.dir, err, sizeof err), 0);
	before = registry_acquire(r);
	CU_ASSERT_EQUAL(registry_count(before), 1);

	/* A new service from a staged descriptor. */
	scratch_copy(&s, "tally.so", "tally-a.so");
	scratch_copy(&s, "tally.wsdl", "tally-a.wsdl");
	scratch_text(&s, ".tally-a.service", tally_descriptor);
	CU_ASSERT_EQUAL(registry_deploy(r, ".tally-a.service", &c, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(c.service, "tally");
	CU_ASSERT_EQUAL(c.version, 1);
	CU_ASSERT_EQUAL(c.replaced, 0);
	CU_ASSERT(!exists(&s, ".tally-a.service") && exists(&s, "tally.service"));
	CU_ASSERT_EQUAL(registry_count(before), 1);
	after = registry_acquire(r);
	CU_ASSERT_EQUAL(registry_count(after), 2);
	CU_ASSERT_PTR_NOT_NULL(registry_find(after, "tally"));
	CU_ASSERT_PTR_NULL(registry_find(before, "tally"));
	CU_ASSERT_STRING_EQUAL(registry_at(after, 0)->name, "cart");
	registry_release(after);

	/* A new version of the cart; the held view keeps version 1. */
	scratch_text(&s, ".cart-2.service", "version 2\nservice cart\nmodule cart.so\n"
	    "wsdl cart.wsdl\noperation StartCart start\noperation AddItem continue\n"
	    "operation GetCart continue\noperation Checkout finish\n");
	CU_ASSERT_EQUAL(registry_deploy(r, ".cart-2.service", &c, err, sizeof err), 0);
	CU_ASSERT_EQUAL(c.version, 2);
	CU_ASSERT_EQUAL(c.replaced, 1);
	CU_ASSERT_EQUAL(registry_find(before, "cart")->version, 1);
	CU_ASSERT_EQUAL(find(r, "cart")->version, 2);
	registry_release(before);

	/* Refused: an operation the WSDL lacks. Nothing changes; the staged file stays. */
	scratch_text(&s, ".cart-3.service", "version 3\nservice cart\nmodule cart.so\n"
	    "wsdl cart.wsdl\noperation StartCart start\noperation AddItem continue\n"
	    "operation GetCart continue\noperation Checkout finish\noperation Refund continue\n");
	CU_ASSERT_EQUAL(registry_deploy(r, ".cart-3.service", &c, err, sizeof err), PARLEY_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "operation 'Refund' is not in"));
	CU_ASSERT(exists(&s, ".cart-3.service"));
	CU_ASSERT_EQUAL(find(r, "cart")->version, 2);

	/* Refused: a running module's file replaced under its name. */
	snprintf(from, sizeof from, "%s/tally-a.so", s.dir);
	snprintf(to, sizeof to, "%s/old.so", s.dir);
	CU_ASSERT_EQUAL(rename(from, to), 0);
	scratch_copy(&s, "tally.so", "tally-a.so");
	scratch_text(&s, ".tally-b.service", tally_descriptor);
	CU_ASSERT_EQUAL(registry_deploy(r, ".tally-b.service", &c, err, sizeof err), PARLEY_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "the file was replaced: the node would run the old code"));

	/* Names that are not descriptors in the deploy directory. */
	CU_ASSERT_EQUAL(registry_deploy(r, "../cart.service", &c, err, sizeof err), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(registry_deploy(r, "cart.so", &c, err, sizeof err), PARLEY_EINVAL);

	CU_ASSERT_EQUAL(registry_undeploy(r, "tally", err, sizeof err), 0);
	CU_ASSERT(!exists(&s, "tally.service"));
	CU_ASSERT_PTR_NULL(find(r, "tally"));
	CU_ASSERT_EQUAL(registry_undeploy(r, "tally", err, sizeof err), PARLEY_ENOENT);
	registry_free(r);
	scratch_free(&s);
}

static unsigned reports;

static void
count_report(void *arg, const char *file, int rc, const struct registry_change *c,
    const char *why)
{
	(void)arg;
	(void)file;
	(void)c;
	if (rc != 0)
		fprintf(stderr, "\n  rescan: %s\n", why);
	reports++;
}

/* A rescan deploys what is new or changed, once. */
static void
test_rescan(void)
{
	struct registry *r = NULL;
	struct scratch s;

	scratch_new(&s);
	scratch_copy(&s, "cart.so", "cart.so");
	scratch_copy(&s, "cart.wsdl", "cart.wsdl");
	scratch_text(&s, "cart.service", cart_descriptor);
	CU_ASSERT_EQUAL_FATAL(registry_load(&r, s.dir, err, sizeof err), 0);
	reports = 0;
	CU_ASSERT_EQUAL(registry_rescan(r, count_report, NULL), 0);
	CU_ASSERT_EQUAL(reports, 0);
	scratch_copy(&s, "tally.so", "tally-a.so");
	scratch_copy(&s, "tally.wsdl", "tally-a.wsdl");
	scratch_text(&s, "tally.service", tally_descriptor);
	CU_ASSERT_EQUAL(registry_rescan(r, count_report, NULL), 1);
	CU_ASSERT_EQUAL(reports, 1);
	CU_ASSERT_PTR_NOT_NULL(find(r, "tally"));
	CU_ASSERT_EQUAL(registry_rescan(r, count_report, NULL), 0);
	CU_ASSERT_EQUAL(reports, 1);
	registry_free(r);
	scratch_free(&s);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "load tests/deploy", test_load },
		{ "operation by action, SOAPAction, element", test_operation_lookup },
		{ "two modules, same names and prefix", test_modules_distinct },
		{ "requests through both modules", test_invoke },
		{ "cart faults", test_cart_faults },
		{ "cart line limit", test_cart_line_limit },
		{ "served WSDL", test_write_wsdl },
		{ "bad descriptor", test_bad_descriptor },
		{ "not a module", test_not_a_module },
		{ "missing files", test_missing_files },
		{ "operation mismatch", test_operation_mismatch },
		{ "duplicate service", test_duplicate_service },
		{ "remote import", test_remote_import },
		{ "deploy and undeploy", test_deploy_undeploy },
		{ "rescan", test_rescan },
		{ NULL, NULL }
	};

	/* The modules call parley_strerror: this use links it into the program. */
	if (strcmp(parley_strerror(PARLEY_EFAULT), "answered with a SOAP fault") != 0)
		return 1;
	return unit_run("registry", tests);
}
