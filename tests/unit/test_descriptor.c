/*
 * test_descriptor.c - deployment descriptors: a good one, defaults and
 * durations, and every error with the line it names.
 */
#include "config.h"

#include <string.h>

#include "registry.h"
#include "unit.h"

static char err[512];

static int
parse(const char *text, struct descriptor *d)
{
	err[0] = '\0';
	return descriptor_parse(text, strlen(text), "x.service", d, err, sizeof err);
}

/* Parse text, expect PARLEY_EINVAL and exactly the message want. */
static void
expect_error(const char *text, const char *want)
{
	struct descriptor d;

	CU_ASSERT_EQUAL(parse(text, &d), PARLEY_EINVAL);
	CU_ASSERT_STRING_EQUAL(err, want);
	if (strcmp(err, want) != 0)
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", err, want);
	/* On failure the descriptor holds nothing. */
	CU_ASSERT_PTR_NULL(d.service);
	CU_ASSERT_PTR_NULL(d.ops);
	CU_ASSERT_EQUAL(d.n_ops, 0);
}

#define HEAD "service s\nmodule s.so\nwsdl s.wsdl\n"

static void
test_good(void)
{
	static const char text[] =
	    "# the cart\n"
	    "\n"
	    "service cart   # trailing comment\n"
	    "module cart.so\n"
	    "\twsdl\tcart.wsdl\r\n"
	    "version 3\n"
	    "max_age 1d\n"
	    "max_idle 1h\n"
	    "operation StartCart start\n"
	    "operation AddItem   continue\n"
	    "operation Checkout  finish\n"
	    "operation Ping none";
	struct descriptor d;

	CU_ASSERT_EQUAL_FATAL(parse(text, &d), 0);
	CU_ASSERT_STRING_EQUAL(d.service, "cart");
	CU_ASSERT_STRING_EQUAL(d.module, "cart.so");
	CU_ASSERT_STRING_EQUAL(d.wsdl, "cart.wsdl");
	CU_ASSERT_EQUAL(d.version, 3);
	CU_ASSERT_EQUAL(d.max_age_s, 86400);
	CU_ASSERT_EQUAL(d.max_idle_s, 3600);
	CU_ASSERT_EQUAL_FATAL(d.n_ops, 4);
	CU_ASSERT_STRING_EQUAL(d.ops[0].name, "StartCart");
	CU_ASSERT_EQUAL(d.ops[0].phase, PARLEY_PHASE_START);
	CU_ASSERT_EQUAL(d.ops[0].line, 9);
	CU_ASSERT_STRING_EQUAL(d.ops[1].name, "AddItem");
	CU_ASSERT_EQUAL(d.ops[1].phase, PARLEY_PHASE_CONTINUE);
	CU_ASSERT_EQUAL(d.ops[2].phase, PARLEY_PHASE_FINISH);
	CU_ASSERT_STRING_EQUAL(d.ops[3].name, "Ping");
	CU_ASSERT_EQUAL(d.ops[3].phase, PARLEY_PHASE_NONE);
	CU_ASSERT_EQUAL(d.ops[3].line, 12);
	descriptor_free(&d);
	CU_ASSERT_PTR_NULL(d.ops);
}

static void
test_defaults(void)
{
	struct descriptor d;

	CU_ASSERT_EQUAL_FATAL(parse(HEAD "operation A none\n", &d), 0);
	CU_ASSERT_EQUAL(d.version, 1);
	CU_ASSERT_EQUAL(d.max_age_s, 0);
	CU_ASSERT_EQUAL(d.max_idle_s, 0);
	descriptor_free(&d);
}

static void
check_duration(const char *value, uint32_t want)
{
	char text[256];
	struct descriptor d;

	snprintf(text, sizeof text, HEAD "operation A none\nmax_age %s\n", value);
	CU_ASSERT_EQUAL_FATAL(parse(text, &d), 0);
	CU_ASSERT_EQUAL(d.max_age_s, want);
	descriptor_free(&d);
}

static void
test_durations(void)
{
	check_duration("0", 0);
	check_duration("90", 90);
	check_duration("90s", 90);
	check_duration("15m", 900);
	check_duration("2h", 7200);
	check_duration("7d", 604800);
	check_duration("4294967295", 4294967295u);
	check_duration("49710d", 49710u * 86400u);
}

static void
test_bad_durations(void)
{
	static const char *const bad[] = {
		"", "1w", "-1", "+5", "1.5h", "h", "4294967296", "49711d", "10 s", "1hh", "0x10"
	};
	char text[256], want[512];
	unsigned i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct descriptor d;

		snprintf(text, sizeof text, HEAD "max_idle %s\noperation A none\n", bad[i]);
		CU_ASSERT_EQUAL(parse(text, &d), PARLEY_EINVAL);
		CU_ASSERT_STRING_EQUAL(strncmp(err, "x.service:4: ", 13) == 0 ? "ok" : err, "ok");
		if (bad[i][0] != '\0' && strchr(bad[i], ' ') == NULL) {
			snprintf(want, sizeof want, "x.service:4: bad duration '%s' (use seconds, or a "
			    "number followed by s, m, h or d, e.g. 90s, 30m, 1h, 7d; 0 for no limit)",
			    bad[i]);
			CU_ASSERT_STRING_EQUAL(err, want);
		}
	}
}

static void
test_unknown_phase(void)
{
	expect_error(HEAD "max_age 1d\nmax_idle 1h\n\noperation Checkout stop\n",
	    "x.service:7: unknown phase 'stop' (use start, continue, finish or none)");
}

static void
test_unknown_keyword(void)
{
	expect_error(HEAD "modul x.so\n",
	    "x.service:4: unknown keyword 'modul' (use service, module, wsdl, version, max_age, "
	    "max_idle or operation)");
}

static void
test_duplicates(void)
{
	expect_error("service a\nmodule a.so\nservice b\n",
	    "x.service:3: 'service' given twice (first on line 1)");
	expect_error(HEAD "# again\nmodule b.so\n",
	    "x.service:5: 'module' given twice (first on line 2)");
	expect_error(HEAD "wsdl b.wsdl\n", "x.service:4: 'wsdl' given twice (first on line 3)");
	expect_error(HEAD "version 2\nversion 2\n",
	    "x.service:5: 'version' given twice (first on line 4)");
	expect_error(HEAD "max_age 1\nmax_idle 2\nmax_age 3\n",
	    "x.service:6: 'max_age' given twice (first on line 4)");
	expect_error(HEAD "max_idle 1\nmax_idle 1\n",
	    "x.service:5: 'max_idle' given twice (first on line 4)");
	expect_error(HEAD "operation A start\noperation B continue\noperation A finish\n",
	    "x.service:6: operation 'A' given twice (first on line 4)");
}

static void
test_arguments(void)
{
	expect_error("service\n", "x.service:1: missing argument: expected 'service NAME'");
	expect_error("service a b\n", "x.service:1: too many arguments: expected 'service NAME'");
	expect_error(HEAD "operation A\n",
	    "x.service:4: missing argument: expected 'operation NAME PHASE'");
	expect_error(HEAD "operation A start now\n",
	    "x.service:4: too many arguments: expected 'operation NAME PHASE'");
	expect_error(HEAD "version 1 2 3 4 5\n",
	    "x.service:4: too many arguments: expected 'version N'");
	expect_error(HEAD "max_age\n", "x.service:4: missing argument: expected 'max_age DURATION'");
}

static void
test_bad_values(void)
{
	expect_error("service a/b\n", "x.service:1: bad service name 'a/b' (use 1 to 63 letters, "
	    "digits, '_' or '-': it becomes part of the URL)");
	expect_error("service "
	    "a123456789a123456789a123456789a123456789a123456789a123456789abcd\n",
	    "x.service:1: bad service name "
	    "'a123456789a123456789a123456789a123456789a123456789a123456789abcd' (use 1 to 63 "
	    "letters, digits, '_' or '-': it becomes part of the URL)");
	expect_error(HEAD "operation 1abc start\n", "x.service:4: bad operation name '1abc' (use "
	    "the operation's name in the WSDL)");
	expect_error(HEAD "version 0\n",
	    "x.service:4: bad version '0' (use a whole number from 1 to 4294967295)");
	expect_error(HEAD "version v2\n",
	    "x.service:4: bad version 'v2' (use a whole number from 1 to 4294967295)");
	expect_error(HEAD "version 4294967296\n",
	    "x.service:4: bad version '4294967296' (use a whole number from 1 to 4294967295)");
}

static void
test_required(void)
{
	expect_error("module a.so\nwsdl a.wsdl\noperation A none\n",
	    "x.service: no 'service NAME' line: add one");
	expect_error("service a\nwsdl a.wsdl\noperation A none\n",
	    "x.service: no 'module FILE' line: add one naming the service's shared object");
	expect_error("service a\nmodule a.so\noperation A none\n",
	    "x.service: no 'wsdl FILE' line: add one naming the service's WSDL");
	expect_error(HEAD, "x.service: no 'operation NAME PHASE' line: add one for each "
	    "operation of the WSDL");
	expect_error("", "x.service: no 'service NAME' line: add one");
}

static void
test_binary(void)
{
	static const char text[] = "service a\nmodule a\0.so\n";
	char longline[2000];
	struct descriptor d;

	CU_ASSERT_EQUAL(descriptor_parse(text, sizeof text - 1, "x.service", &d, err, sizeof err),
	    PARLEY_EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "x.service:2: NUL byte: a descriptor is text");

	memset(longline, 'x', sizeof longline - 1);
	longline[sizeof longline - 1] = '\0';
	memcpy(longline, "# ", 2);
	CU_ASSERT_EQUAL(parse(longline, &d), PARLEY_EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "x.service:1: line longer than 1024 bytes");
}

/* A short error buffer gets a cut message, never an overflow. */
static void
test_short_err(void)
{
	struct descriptor d;
	char small[16];

	CU_ASSERT_EQUAL(descriptor_parse("bogus\n", 6, "x.service", &d, small, sizeof small),
	    PARLEY_EINVAL);
	CU_ASSERT_EQUAL(strlen(small), sizeof small - 1);
	CU_ASSERT_EQUAL(descriptor_parse("bogus\n", 6, "x.service", &d, NULL, 0), PARLEY_EINVAL);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "good descriptor", test_good },
		{ "defaults", test_defaults },
		{ "durations", test_durations },
		{ "bad durations", test_bad_durations },
		{ "unknown phase", test_unknown_phase },
		{ "unknown keyword", test_unknown_keyword },
		{ "duplicates", test_duplicates },
		{ "argument counts", test_arguments },
		{ "bad values", test_bad_values },
		{ "required keys", test_required },
		{ "NUL byte and long line", test_binary },
		{ "short error buffer", test_short_err },
		{ NULL, NULL }
	};

	return unit_run("descriptor", tests);
}
