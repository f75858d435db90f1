/*
 * test_conf.c - parleyd's configuration: defaults, the file format, every
 * kind of value, errors with their line, and -D overrides.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "parley.h"
#include "unit.h"

static char path[64];

static int
write_file(const char *text)
{
	FILE *f;
	int fd;

	strcpy(path, "/tmp/parley-conf-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return 0;
}

static void
test_defaults(void)
{
	struct conf c;
	char err[256];

	conf_defaults(&c);
	CU_ASSERT_STRING_EQUAL(c.node_id, "n1");
	CU_ASSERT_STRING_EQUAL(c.listen, "127.0.0.1:8080");
	CU_ASSERT_STRING_EQUAL(c.data_dir, "./var");
	CU_ASSERT_EQUAL(c.store, STORE_DISK);
	CU_ASSERT_EQUAL(c.sync, STORE_SYNC_WRITE);
	CU_ASSERT_STRING_EQUAL(c.manager, "embedded");
	CU_ASSERT_EQUAL(c.workers, 8);
	CU_ASSERT_EQUAL(c.max_message_bytes, 1024 * 1024);
	CU_ASSERT_EQUAL(c.recv_timeout_ms, 10000);
	CU_ASSERT_EQUAL(c.tombstone_ttl_ms, 600000);
	CU_ASSERT_STRING_EQUAL(c.pid_file, "");
	CU_ASSERT(strlen(c.deploy_dir) > 0);
	CU_ASSERT_EQUAL(conf_check(&c, err, sizeof err), 0);
}

static void
test_file(void)
{
	struct conf c;
	char err[512];

	CU_ASSERT_EQUAL_FATAL(write_file(
	    "# a comment\n"
	    "\n"
	    "node_id = shop-1\n"
	    "listen 0.0.0.0:9090   # trailing comment\n"
	    "data_dir = \"/tmp/with space\"\n"
	    "store=memory\n"
	    "sync = full\n"
	    "max_message_bytes = 64k\n"
	    "cache_size = 2m\n"
	    "recv_timeout = 250ms\n"
	    "keepalive_timeout = 2m\n"
	    "tombstone_ttl = 0\n"
	    "log_level = debug\n"), 0);
	conf_defaults(&c);
	CU_ASSERT_EQUAL(conf_load(&c, path, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(c.node_id, "shop-1");
	CU_ASSERT_STRING_EQUAL(c.listen, "0.0.0.0:9090");
	CU_ASSERT_STRING_EQUAL(c.data_dir, "/tmp/with space");
	CU_ASSERT_EQUAL(c.store, STORE_MEMORY);
	CU_ASSERT_EQUAL(c.sync, STORE_SYNC_FULL);
	CU_ASSERT_EQUAL(c.max_message_bytes, 65536);
	CU_ASSERT_EQUAL(c.cache_size, 2 * 1024 * 1024);
	CU_ASSERT_EQUAL(c.recv_timeout_ms, 250);
	CU_ASSERT_EQUAL(c.keepalive_timeout_ms, 120000);
	CU_ASSERT_EQUAL(c.tombstone_ttl_ms, 0);
	CU_ASSERT_EQUAL(c.log_level, LOG_LEVEL_DEBUG);
	unlink(path);
}

/* Each bad line is reported with the file's name and the line's number. */
static void
expect_error(const char *text, unsigned line, const char *words)
{
	struct conf c;
	char err[512];
	char where[128];

	CU_ASSERT_EQUAL_FATAL(write_file(text), 0);
	conf_defaults(&c);
	CU_ASSERT_EQUAL(conf_load(&c, path, err, sizeof err), PARLEY_EINVAL);
	snprintf(where, sizeof where, "%s:%u: ", path, line);
	CU_ASSERT_EQUAL(strncmp(err, where, strlen(where)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, words));
	if (strstr(err, words) == NULL || strncmp(err, where, strlen(where)) != 0)
		fprintf(stderr, "\n  got: %s\n  want %s...%s\n", err, where, words);
	unlink(path);
}

static void
test_errors(void)
{
	expect_error("workers = 4\nbogus = 1\n", 2, "unknown key 'bogus'");
	expect_error("\n\nstore = tape\n", 3, "must be memory, disk or replicated");
	expect_error("sync = sometimes\n", 1, "must be full, write or none");
	expect_error("workers = 0\n", 1, "out of range");
	expect_error("workers = 1000\n", 1, "out of range");
	expect_error("workers = 4k\n", 1, "whole number");
	expect_error("workers = -3\n", 1, "whole number");
	expect_error("max_message_bytes = lots\n", 1, "size such as");
	expect_error("recv_timeout = 10 years\n", 1, "duration such as");
	expect_error("listen = localhost\n", 1, "HOST:PORT");
	expect_error("listen = 127.0.0.1:70000\n", 1, "HOST:PORT");
	expect_error("node_id = Shop_1\n", 1, "a-z, 0-9");
	expect_error("manager = ftp://x\n", 1, "embedded");
	expect_error("workers\n", 1, "no value");
	expect_error("data_dir = \"/tmp/x\n", 1, "unterminated quote");
	expect_error("log_level = loud\n", 1, "warn, info or debug");
	expect_error("retry_keep = 65\n", 1, "out of range");
}

static void
test_missing_file(void)
{
	struct conf c;
	char err[512];

	conf_defaults(&c);
	CU_ASSERT_EQUAL(conf_load(&c, "/nonexistent/parleyd.conf", err, sizeof err), PARLEY_EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/parleyd.conf"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
}

static void
test_overrides(void)
{
	struct conf c;
	char err[512];

	conf_defaults(&c);
	CU_ASSERT_EQUAL(conf_override(&c, "workers=3", err, sizeof err), 0);
	CU_ASSERT_EQUAL(c.workers, 3);
	CU_ASSERT_EQUAL(conf_override(&c, "listen = 127.0.0.1:0", err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(c.listen, "127.0.0.1:0");
	CU_ASSERT_EQUAL(conf_override(&c, "workers", err, sizeof err), PARLEY_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "key=value"));
	CU_ASSERT_EQUAL(conf_override(&c, "nope=1", err, sizeof err), PARLEY_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "-D nope=1: unknown key"));
	CU_ASSERT_EQUAL(c.workers, 3);
}

static void
test_check(void)
{
	struct conf c;
	char err[512];

	conf_defaults(&c);
	c.max_bean_bytes = c.cache_size + 1;
	CU_ASSERT_EQUAL(conf_check(&c, err, sizeof err), PARLEY_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "max_bean_bytes"));
}

/* What conf_print writes must read back as the same configuration. */
static void
test_print_round_trip(void)
{
	struct conf a, b;
	char err[512];
	FILE *f;
	int fd;

	conf_defaults(&a);
	conf_override(&a, "data_dir=/tmp/a b", err, sizeof err);
	conf_override(&a, "recv_timeout=1500ms", err, sizeof err);
	conf_override(&a, "store=memory", err, sizeof err);
	strcpy(path, "/tmp/parley-conf-XXXXXX");
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	f = fdopen(fd, "w");
	conf_print(f, &a);
	fclose(f);
	conf_defaults(&b);
	CU_ASSERT_EQUAL(conf_load(&b, path, err, sizeof err), 0);
	CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof a), 0);
	unlink(path);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "defaults", test_defaults },
		{ "a file with every kind of value", test_file },
		{ "bad lines are named with file and line", test_errors },
		{ "a missing file", test_missing_file },
		{ "-D overrides", test_overrides },
		{ "checks across keys", test_check },
		{ "printed configuration reads back the same", test_print_round_trip },
		{ NULL, NULL }
	};

	log_init("test_conf", 1, LOG_LEVEL_WARN);
	return unit_run("conf", tests);
}
