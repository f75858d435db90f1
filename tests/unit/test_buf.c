/*
 * test_buf.c - the growable buffer: appends, formatting, XML and JSON escaping.
 */
#include "config.h"

#include <string.h>

#include "buf.h"
#include "unit.h"

static void
test_append_and_grow(void)
{
	struct buf b = BUF_INIT;
	int i;

	for (i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL(buf_puts(&b, "abc"), 0);
	CU_ASSERT_EQUAL(b.len, 3000);
	CU_ASSERT_EQUAL(b.data[b.len], '\0');
	CU_ASSERT_EQUAL(memcmp(b.data + 2997, "abc", 3), 0);
	buf_free(&b);
	CU_ASSERT_PTR_NULL(b.data);
}

static void
test_printf_long(void)
{
	struct buf b = BUF_INIT;
	char big[600];

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CU_ASSERT_EQUAL(buf_printf(&b, "<%s>%d", big, 42), 0);
	CU_ASSERT_EQUAL(b.len, 599 + 4);
	CU_ASSERT_STRING_EQUAL(b.data + 600, ">42");
	buf_free(&b);
}

static void
test_xml_escape(void)
{
	struct buf b = BUF_INIT;

	CU_ASSERT_EQUAL(buf_put_xml(&b, "a<b>&\"c'"), 0);
	CU_ASSERT_STRING_EQUAL(b.data, "a&lt;b&gt;&amp;&quot;c&apos;");
	buf_free(&b);
}

static void
test_json_escape(void)
{
	struct buf b = BUF_INIT;

	CU_ASSERT_EQUAL(buf_put_json(&b, "q\"\\\n"), 0);
	CU_ASSERT_STRING_EQUAL(b.data, "q\\\"\\\\\\u000a");
	buf_free(&b);
}

static void
test_steal_and_reset(void)
{
	struct buf b = BUF_INIT;
	char *p;

	CU_ASSERT_PTR_NULL(buf_steal(&b));
	buf_puts(&b, "hello");
	buf_reset(&b);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_STRING_EQUAL(b.data, "");
	buf_puts(&b, "bye");
	p = buf_steal(&b);
	CU_ASSERT_STRING_EQUAL(p, "bye");
	CU_ASSERT_PTR_NULL(b.data);
	free(p);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "append and grow", test_append_and_grow },
		{ "printf longer than the first guess", test_printf_long },
		{ "XML escaping", test_xml_escape },
		{ "JSON escaping", test_json_escape },
		{ "steal and reset", test_steal_and_reset },
		{ NULL, NULL }
	};

	return unit_run("buf", tests);
}
