/*
 * test_addrlist.c - the comma-separated lists of the configuration: manager
 * URLs a node tries in turn and the other manager sites' listeners.
 */
#include "config.h"

#include <string.h>

#include "addrlist.h"
#include "parley.h"
#include "unit.h"

static void
test_split(void)
{
	char out[ADDRLIST_MAX][ADDRLIST_ITEM_MAX];
	unsigned n = 99;

	CU_ASSERT_EQUAL(addrlist_split("", out, ADDRLIST_MAX, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(addrlist_split("http://a:1/parley/manager", out, ADDRLIST_MAX, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_STRING_EQUAL(out[0], "http://a:1/parley/manager");
	CU_ASSERT_EQUAL(addrlist_split(" 127.0.0.1:7001 ,127.0.0.1:7002,\t[::1]:7003 ", out,
	    ADDRLIST_MAX, &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_STRING_EQUAL(out[0], "127.0.0.1:7001");
	CU_ASSERT_STRING_EQUAL(out[1], "127.0.0.1:7002");
	CU_ASSERT_STRING_EQUAL(out[2], "[::1]:7003");
}

/* An empty item, too many items or one too long are refused, not skipped. */
static void
test_split_refused(void)
{
	char out[ADDRLIST_MAX][ADDRLIST_ITEM_MAX];
	char big[ADDRLIST_ITEM_MAX + 8];
	unsigned n;

	CU_ASSERT_EQUAL(addrlist_split("a,,b", out, ADDRLIST_MAX, &n), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(addrlist_split("a,", out, ADDRLIST_MAX, &n), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(addrlist_split(",a", out, ADDRLIST_MAX, &n), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(addrlist_split("a,b,c", out, 2, &n), PARLEY_EINVAL);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CU_ASSERT_EQUAL(addrlist_split(big, out, ADDRLIST_MAX, &n), PARLEY_EINVAL);
}

static void
test_host_port(void)
{
	char host[64];
	unsigned port = 0;

	CU_ASSERT_EQUAL(addrlist_host_port("127.0.0.1:7001", host, sizeof host, &port), 0);
	CU_ASSERT_STRING_EQUAL(host, "127.0.0.1");
	CU_ASSERT_EQUAL(port, 7001);
	CU_ASSERT_EQUAL(addrlist_host_port("[::1]:9", host, sizeof host, &port), 0);
	CU_ASSERT_STRING_EQUAL(host, "::1");
	CU_ASSERT_EQUAL(port, 9);
	CU_ASSERT_EQUAL(addrlist_host_port("a:0", host, sizeof host, &port), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(addrlist_host_port("a:65536", host, sizeof host, &port), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(addrlist_host_port(":80", host, sizeof host, &port), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(addrlist_host_port("a", host, sizeof host, &port), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(addrlist_host_port("a:b:1", host, sizeof host, &port), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(addrlist_host_port("a:1x", host, sizeof host, &port), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(addrlist_host_port("abcdef:1", host, 4, &port), PARLEY_EINVAL);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "a list is split at commas and trimmed", test_split },
		{ "empty, long or too many items are refused", test_split_refused },
		{ "HOST:PORT is split, brackets off", test_host_port },
		{ NULL, NULL }
	};

	return unit_run("addrlist", tests);
}
