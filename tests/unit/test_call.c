/*
 * test_call.c - the handler API of call.c on hand-made calls: what each
 * phase allows (expiry, parley_finish, the bean as a gSOAP type), what
 * expires_at counts, and a bean written as XML by gSOAP's serializers read
 * back by the next message, or refused when it is not that type's XML.
 */
#include "config.h"

#include <string.h>

#include "envH.h"

#include "buf.h"
#include "call.h"
#include "parley.h"
#include "registry.h"
#include "unit.h"

static struct Namespace test_namespaces[] = {
	{ "SOAP-ENV", "http://schemas.xmlsoap.org/soap/envelope/", NULL, NULL },
	{ "xsi", "http://www.w3.org/2001/XMLSchema-instance", NULL, NULL },
	{ "xsd", "http://www.w3.org/2001/XMLSchema", NULL, NULL },
	{ NULL, NULL, NULL, NULL }
};

static struct parley_module module = { PARLEY_MODULE_ABI, "t", test_namespaces, NULL, 0 };
static struct service svc = { .name = (char *)"t", .version = 1, .max_age_s = 3600,
	.max_idle_s = 600, .module = &module };
static struct envelope env;
static struct operation ops[4] = {
	{ .name = (char *)"None", .phase = PARLEY_PHASE_NONE },
	{ .name = (char *)"Start", .phase = PARLEY_PHASE_START },
	{ .name = (char *)"Continue", .phase = PARLEY_PHASE_CONTINUE },
	{ .name = (char *)"Finish", .phase = PARLEY_PHASE_FINISH },
};

/* A call as dispatch.c makes one for phase, the conversation started at 1000 s, now 1100 s. */
static void
setup(struct parley_call *call, enum parley_phase phase)
{
	memset(call, 0, sizeof *call);
	call->svc = &svc;
	call->op = &ops[phase];
	call->env = &env;
	call->id = phase == PARLEY_PHASE_NONE ? NULL : "conv";
	call->max_bean_bytes = 64 * 1024;
	if (phase != PARLEY_PHASE_NONE) {
		call->max_age_s = svc.max_age_s;
		call->max_idle_s = svc.max_idle_s;
		call->created_ms = phase == PARLEY_PHASE_START ? 1100000 : 1000000;
		call->now_ms = 1100000;
	}
}

static void
teardown(struct parley_call *call)
{
	call_end_soap(call);
	CU_ASSERT_PTR_NULL(call->bean_soap);
	buf_free(&call->bean_out);
}

static void
test_phase_none(void)
{
	struct parley_call call;
	struct SOAP_ENV__Fault f;
	uint32_t age = 7, idle = 7;
	int n = 5;

	setup(&call, PARLEY_PHASE_NONE);
	CU_ASSERT_EQUAL(parley_expiry_get(&call, &age, &idle), PARLEY_ESTATE);
	CU_ASSERT_EQUAL(age, 0);
	CU_ASSERT_EQUAL(idle, 0);
	CU_ASSERT_EQUAL(parley_expiry_set(&call, 1, 1), PARLEY_ESTATE);
	CU_ASSERT_EQUAL(call.max_age_s, 0);
	CU_ASSERT_EQUAL(parley_expires_at_ms(&call), 0);
	CU_ASSERT_EQUAL(parley_finish(&call), PARLEY_ESTATE);
	CU_ASSERT_EQUAL(call.finish, 0);
	CU_ASSERT_PTR_NULL(parley_bean_soap(&call));
	CU_ASSERT_EQUAL(PARLEY_BEAN_READ(&call, int, &n), PARLEY_ESTATE);
	CU_ASSERT_EQUAL(n, 5);
	memset(&f, 0, sizeof f);
	CU_ASSERT_EQUAL(PARLEY_BEAN_WRITE(&call, SOAP_ENV__Fault, &f), PARLEY_ESTATE);
	CU_ASSERT_EQUAL(call.bean_set, 0);
	CU_ASSERT_PTR_NULL(call.bean_soap);
	teardown(&call);
}

static void
test_expiry(void)
{
	struct parley_call call;
	uint32_t age, idle;

	setup(&call, PARLEY_PHASE_START);
	CU_ASSERT_EQUAL(parley_expiry_get(&call, &age, &idle), 0);
	CU_ASSERT_EQUAL(age, 3600);
	CU_ASSERT_EQUAL(idle, 600);
	/* The sooner of the two: idle 600 s from now. */
	CU_ASSERT_EQUAL(parley_expires_at_ms(&call), 1100000 + 600000);
	CU_ASSERT_EQUAL(parley_expiry_set(&call, 2, 0), 0);
	CU_ASSERT_EQUAL(parley_expiry_get(&call, &age, &idle), 0);
	CU_ASSERT_EQUAL(age, 2);
	CU_ASSERT_EQUAL(idle, 0);
	CU_ASSERT_EQUAL(parley_expires_at_ms(&call), 1100000 + 2000);
	CU_ASSERT_EQUAL(parley_expiry_set(&call, 0, 0), 0);
	CU_ASSERT_EQUAL(parley_expires_at_ms(&call), 0);
	/* A start cannot end as it begins. */
	CU_ASSERT_EQUAL(parley_finish(&call), PARLEY_ESTATE);
	CU_ASSERT_EQUAL(call.finish, 0);
	teardown(&call);

	/* Age counts from the start (1000 s), idle from this message (1100 s). */
	setup(&call, PARLEY_PHASE_CONTINUE);
	CU_ASSERT_EQUAL(parley_expiry_set(&call, 150, 0), 0);
	CU_ASSERT_EQUAL(parley_expires_at_ms(&call), 1000000 + 150000);
	CU_ASSERT_EQUAL(parley_expiry_set(&call, 150, 10), 0);
	CU_ASSERT_EQUAL(parley_expires_at_ms(&call), 1100000 + 10000);
	CU_ASSERT_EQUAL(parley_expiry_set(&call, 0xffffffffu, 0xffffffffu), 0);
	CU_ASSERT_EQUAL(parley_expires_at_ms(&call), 1000000 + 0xffffffffLL * 1000);
	teardown(&call);
}

static void
test_finish(void)
{
	struct parley_call call;

	setup(&call, PARLEY_PHASE_CONTINUE);
	CU_ASSERT_NOT_EQUAL(parley_expires_at_ms(&call), 0);
	CU_ASSERT_EQUAL(parley_finish(&call), 0);
	CU_ASSERT_EQUAL(call.finish, 1);
	CU_ASSERT_EQUAL(parley_expires_at_ms(&call), 0);
	CU_ASSERT_EQUAL(parley_finish(&call), 0);
	CU_ASSERT_EQUAL(call.finish, 1);
	teardown(&call);

	setup(&call, PARLEY_PHASE_FINISH);
	CU_ASSERT_EQUAL(parley_expires_at_ms(&call), 0);
	CU_ASSERT_EQUAL(parley_finish(&call), 0);
	teardown(&call);
}

/* A bean written as XML in one message is read back, the same, in the next. */
static void
test_bean_round_trip(void)
{
	struct parley_call call;
	struct SOAP_ENV__Fault f, g;
	struct buf stored = BUF_INIT;
	struct soap *bs;
	int n = 0, v = 41;

	setup(&call, PARLEY_PHASE_START);
	/* A start has no bean yet. */
	CU_ASSERT_EQUAL(PARLEY_BEAN_READ(&call, SOAP_ENV__Fault, &g), PARLEY_ENOENT);
	memset(&f, 0, sizeof f);
	f.faultcode = "SOAP-ENV:Client";
	f.faultstring = "caf\xc3\xa9 & <cr\xc3\xa8me>";
	CU_ASSERT_EQUAL_FATAL(PARLEY_BEAN_WRITE(&call, SOAP_ENV__Fault, &f), 0);
	CU_ASSERT_EQUAL(call.bean_set, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(call.bean_out.data);
	CU_ASSERT_PTR_NOT_NULL(strstr(call.bean_out.data, "caf\xc3\xa9 &amp; &lt;cr\xc3\xa8me&gt;"));
	bs = parley_bean_soap(&call);
	CU_ASSERT_PTR_NOT_NULL(bs);
	CU_ASSERT_PTR_NULL(bs->os);
	CU_ASSERT_EQUAL(buf_append(&stored, call.bean_out.data, call.bean_out.len), 0);
	teardown(&call);

	setup(&call, PARLEY_PHASE_CONTINUE);
	call.bean_in = stored.data;
	call.bean_in_len = stored.len;
	memset(&g, 0, sizeof g);
	CU_ASSERT_EQUAL_FATAL(PARLEY_BEAN_READ(&call, SOAP_ENV__Fault, &g), 0);
	CU_ASSERT_STRING_EQUAL(g.faultstring, f.faultstring);
	CU_ASSERT_PTR_NOT_NULL(g.faultcode);
	CU_ASSERT_PTR_NULL(g.faultactor);
	/* Read twice: the same bean again, in the same context. */
	memset(&g, 0, sizeof g);
	CU_ASSERT_EQUAL(PARLEY_BEAN_READ(&call, SOAP_ENV__Fault, &g), 0);
	CU_ASSERT_STRING_EQUAL(g.faultstring, f.faultstring);
	/* The read changes no pending bean; a write replaces it, with another type. */
	CU_ASSERT_EQUAL(call.bean_set, 0);
	CU_ASSERT_EQUAL(PARLEY_BEAN_WRITE(&call, int, &v), 0);
	CU_ASSERT_EQUAL(call.bean_set, 1);
	buf_reset(&stored);
	CU_ASSERT_EQUAL(buf_append(&stored, call.bean_out.data, call.bean_out.len), 0);
	teardown(&call);

	setup(&call, PARLEY_PHASE_FINISH);
	call.bean_in = stored.data;
	call.bean_in_len = stored.len;
	CU_ASSERT_EQUAL(PARLEY_BEAN_READ(&call, int, &n), 0);
	CU_ASSERT_EQUAL(n, 41);
	teardown(&call);
	buf_free(&stored);
}

/* A bean that is not the type's XML is refused, not trusted. */
static void
test_bean_bad(void)
{
	static const char *const bad[] = {
		"CART\x01\x00\x00",
		"<SOAP-ENV:Fault xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\"><faultstring>x",
		"<int xmlns=\"\">12x</int>",
		"<int xmlns=\"\">99999999999999</int>",
	};
	static const char with_nul[] = "<int xmlns=\"\">1\0002</int>";
	struct parley_call call;
	unsigned i;
	int n;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		setup(&call, PARLEY_PHASE_CONTINUE);
		call.bean_in = bad[i];
		call.bean_in_len = strlen(bad[i]);
		if (i == 0) {
			struct SOAP_ENV__Fault g;
			CU_ASSERT_EQUAL(PARLEY_BEAN_READ(&call, SOAP_ENV__Fault, &g), PARLEY_EINVAL);
		} else if (i == 1) {
			struct SOAP_ENV__Fault g;
			CU_ASSERT_EQUAL(PARLEY_BEAN_READ(&call, SOAP_ENV__Fault, &g), PARLEY_EINVAL);
		} else {
			CU_ASSERT_EQUAL(PARLEY_BEAN_READ(&call, int, &n), PARLEY_EINVAL);
		}
		teardown(&call);
	}
	setup(&call, PARLEY_PHASE_CONTINUE);
	call.bean_in = with_nul;
	call.bean_in_len = sizeof with_nul - 1;
	CU_ASSERT_EQUAL(PARLEY_BEAN_READ(&call, int, &n), PARLEY_EINVAL);
	/* The good form of the same, for contrast. */
	call_end_soap(&call);
	call.bean_in = "<int xmlns=\"\">12</int>";
	call.bean_in_len = strlen(call.bean_in);
	CU_ASSERT_EQUAL(PARLEY_BEAN_READ(&call, int, &n), 0);
	CU_ASSERT_EQUAL(n, 12);
	teardown(&call);
}

/* A bean over max_bean_bytes is refused and the pending bean kept; an end without a begin is refused. */
static void
test_bean_limits(void)
{
	struct parley_call call;
	struct SOAP_ENV__Fault f;
	char big[200];

	setup(&call, PARLEY_PHASE_CONTINUE);
	CU_ASSERT_EQUAL(parley_bean_read_end(&call, 0), PARLEY_ESTATE);
	CU_ASSERT_EQUAL(parley_bean_write_end(&call, 0), PARLEY_ESTATE);
	CU_ASSERT_EQUAL(parley_bean_set(&call, "old", 3), 0);
	call.max_bean_bytes = 150;
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memset(&f, 0, sizeof f);
	f.faultstring = big;
	CU_ASSERT_EQUAL(PARLEY_BEAN_WRITE(&call, SOAP_ENV__Fault, &f), PARLEY_ELIMIT);
	CU_ASSERT_EQUAL(call.bean_out.len, 3);
	CU_ASSERT_EQUAL(memcmp(call.bean_out.data, "old", 3), 0);
	teardown(&call);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "phase none refuses every call", test_phase_none },
		{ "expiry get, set and expires_at", test_expiry },
		{ "finish in continue and finish, not start", test_finish },
		{ "bean as a gSOAP type, across messages", test_bean_round_trip },
		{ "a bean that is not the type's XML", test_bean_bad },
		{ "bean limits and unpaired ends", test_bean_limits },
		{ NULL, NULL }
	};

	return unit_run("call", tests);
}
