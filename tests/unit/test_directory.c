/*
 * test_directory.c - the manager's records in Berkeley DB (directory.c): a
 * conversation record round trips with every field, one written before the
 * partner's wsa:From was kept (format 1) is still read, by the manager too,
 * and is written in the new form when it changes; damaged and unknown forms
 * are refused. It includes directory.c to reach the codec and the table.
 */
#include "config.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.c"
#include "idgen.h"
#include "unit.h"

/* A format 1 conversation record, as the manager wrote it before from was kept. */
static void
old_record(struct buf *b, const struct mgr_conv *c)
{
	CU_ASSERT_EQUAL_FATAL(put_format(b, 1), 0);
	CU_ASSERT_EQUAL_FATAL(put_str(b, c->group), 0);
	CU_ASSERT_EQUAL_FATAL(put_str(b, c->service), 0);
	CU_ASSERT_EQUAL_FATAL(put_str(b, c->reply_to), 0);
	CU_ASSERT_EQUAL_FATAL(record_put_u64(b, (uint64_t)c->created_ms), 0);
	CU_ASSERT_EQUAL_FATAL(record_put_u64(b, (uint64_t)c->ended_ms), 0);
}

static void
sample(struct mgr_conv *c)
{
	memset(c, 0, sizeof *c);
	CU_ASSERT_EQUAL_FATAL(idgen_make("n1", c->id), 0);
	snprintf(c->group, sizeof c->group, "n1");
	snprintf(c->service, sizeof c->service, "cart");
	snprintf(c->reply_to, sizeof c->reply_to, "http://client.example/r");
	c->created_ms = 1234567890123;
	c->ended_ms = 1234567899999;
}

static void
test_codec(void)
{
	struct mgr_conv c, got;
	struct buf b = BUF_INIT;

	sample(&c);
	snprintf(c.from, sizeof c.from, "http://partner.example/p");
	CU_ASSERT_EQUAL_FATAL(encode_conv(&b, &c), 0);
	CU_ASSERT_EQUAL(((unsigned char *)b.data)[0], CONV_FORMAT);
	memset(&got, 0x55, sizeof got);
	CU_ASSERT_EQUAL_FATAL(decode_conv(b.data, b.len, &got), 0);
	CU_ASSERT_STRING_EQUAL(got.group, "n1");
	CU_ASSERT_STRING_EQUAL(got.service, "cart");
	CU_ASSERT_STRING_EQUAL(got.reply_to, "http://client.example/r");
	CU_ASSERT_STRING_EQUAL(got.from, "http://partner.example/p");
	CU_ASSERT_EQUAL(got.created_ms, 1234567890123);
	CU_ASSERT_EQUAL(got.ended_ms, 1234567899999);
	/* One byte short, or one too many: damaged. */
	CU_ASSERT_EQUAL(decode_conv(b.data, b.len - 1, &got), PARLEY_EIO);
	CU_ASSERT_EQUAL(buf_append(&b, "x", 1), 0);
	CU_ASSERT_EQUAL(decode_conv(b.data, b.len, &got), PARLEY_EIO);

	/* A format 1 record is read with from empty (whatever got held before). */
	old_record(&b, &c);
	memset(&got, 0x55, sizeof got);
	CU_ASSERT_EQUAL_FATAL(decode_conv(b.data, b.len, &got), 0);
	CU_ASSERT_STRING_EQUAL(got.service, "cart");
	CU_ASSERT_STRING_EQUAL(got.reply_to, "http://client.example/r");
	CU_ASSERT_STRING_EQUAL(got.from, "");
	CU_ASSERT_EQUAL(got.ended_ms, 1234567899999);
	/* A format 1 record with a from after it is not format 1. */
	CU_ASSERT_EQUAL(put_str(&b, "http://partner.example/p"), 0);
	CU_ASSERT_EQUAL(decode_conv(b.data, b.len, &got), PARLEY_EIO);
	/* A format this code does not know is refused, not guessed at. */
	CU_ASSERT_EQUAL(encode_conv(&b, &c), 0);
	((unsigned char *)b.data)[0] = CONV_FORMAT + 1;
	CU_ASSERT_EQUAL(decode_conv(b.data, b.len, &got), PARLEY_EIO);
	((unsigned char *)b.data)[0] = 0;
	CU_ASSERT_EQUAL(decode_conv(b.data, b.len, &got), PARLEY_EIO);
	CU_ASSERT_EQUAL(decode_conv(b.data, 0, &got), PARLEY_EIO);
	buf_free(&b);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Put a raw record into the conversations table, as an older manager left it. */
static int
put_raw(struct directory *d, const char *id, const struct buf *rec)
{
	DB_TXN *txn = NULL;
	int rc;

	if (d->env->txn_begin(d->env, NULL, &txn, 0) != 0)
		return -1;
	rc = put_rec(d->convs, txn, id, rec);
	if (rc != 0) {
		txn->abort(txn);
		return rc;
	}
	return txn->commit(txn, 0) != 0 ? -1 : 0;
}

/* The format byte of id's stored record, or -1. */
static int
stored_format(struct directory *d, const char *id)
{
	DBT k, v;
	int f;

	set_dbt(&k, id, strlen(id));
	memset(&v, 0, sizeof v);
	v.flags = DB_DBT_MALLOC;
	if (d->convs->get(d->convs, NULL, &k, &v, 0) != 0 || v.size == 0)
		return -1;
	f = ((unsigned char *)v.data)[0];
	free(v.data);
	return f;
}

/* The manager needs a heartbeat function; it is never started here, so this is not called. */
static int
no_heartbeat(void *arg, const struct mgr_node *node, const struct mgr_heartbeat *hb,
    struct mgr_heartbeat_reply *reply, unsigned timeout_ms)
{
	(void)arg;
	(void)node;
	(void)hb;
	(void)reply;
	(void)timeout_ms;
	return -1;
}

/*
 * A table holding format 1 records (one live, one ended, one a session's
 * member) opened by the manager: counted, listed with from empty and their
 * session, and a record registered again (with a from) is stored as format 2.
 */
static void
test_old_records(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX - 64], home[PATH_MAX], err[512];
	struct mgr_conv c[3], *list;
	struct mgr_conv_filter flt;
	struct manager_config cfg;
	struct manager *m = NULL;
	struct manager_stats st;
	struct directory *d = NULL;
	struct buf b = BUF_INIT;
	unsigned n, total, i;

	snprintf(dir, sizeof dir, "%s/test_directory.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(home, sizeof home, "%s/manager", dir);
	CU_ASSERT_EQUAL_FATAL(directory_open(&d, home, NULL, err, sizeof err), 0);
	for (i = 0; i < 3; i++) {
		sample(&c[i]);
		c[i].ended_ms = i == 1 ? 5000 : 0;
	}
	memset(c[2].id, 0, sizeof c[2].id);
	CU_ASSERT_EQUAL_FATAL(idgen_make_member(c[0].id, c[2].id), 0);
	for (i = 0; i < 3; i++) {
		old_record(&b, &c[i]);
		CU_ASSERT_EQUAL_FATAL(put_raw(d, c[i].id, &b), 0);
		CU_ASSERT_EQUAL(stored_format(d, c[i].id), 1);
	}
	directory_close(d);
	d = NULL;

	memset(&cfg, 0, sizeof cfg);
	cfg.home = home;
	cfg.heartbeat_interval_ms = 50;
	cfg.heartbeat = no_heartbeat;
	if (manager_open(&m, &cfg, err, sizeof err) != 0)
		fprintf(stderr, "manager_open: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	manager_get_stats(m, &st);
	CU_ASSERT_EQUAL(st.conversations, 2);
	CU_ASSERT_EQUAL(manager_list_conversations(m, NULL, 0, 10, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 3);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	for (i = 0; i < n; i++) {
		CU_ASSERT_STRING_EQUAL(list[i].service, "cart");
		CU_ASSERT_STRING_EQUAL(list[i].reply_to, "http://client.example/r");
		CU_ASSERT_STRING_EQUAL(list[i].from, "");
		CU_ASSERT_EQUAL(list[i].created_ms, 1234567890123);
		if (strcmp(list[i].id, c[2].id) == 0) {
			CU_ASSERT_STRING_EQUAL(list[i].session, c[0].id);
			CU_ASSERT_STRING_EQUAL(list[i].initiator, "cart");
		}
	}
	free(list);
	memset(&flt, 0, sizeof flt);
	flt.session = c[2].id;
	CU_ASSERT_EQUAL(manager_list_conversations(m, &flt, 0, 10, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 2);
	free(list);

	/* Registered again with a from: kept, and written as format 2. */
	snprintf(c[0].from, sizeof c[0].from, "http://partner.example/new");
	CU_ASSERT_EQUAL(manager_register_conversations(m, &c[0], 1), 0);
	manager_close(m);
	m = NULL;
	CU_ASSERT_EQUAL_FATAL(directory_open(&d, home, NULL, err, sizeof err), 0);
	CU_ASSERT_EQUAL(stored_format(d, c[0].id), CONV_FORMAT);
	CU_ASSERT_EQUAL(stored_format(d, c[1].id), 1);
	directory_close(d);
	CU_ASSERT_EQUAL_FATAL(manager_open(&m, &cfg, err, sizeof err), 0);
	flt.session = NULL;
	flt.live_only = 1;
	CU_ASSERT_EQUAL(manager_list_conversations(m, &flt, 0, 10, &list, &n, &total), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(list[0].id, c[0].id);
	CU_ASSERT_STRING_EQUAL(list[0].from, "http://partner.example/new");
	free(list);
	manager_close(m);
	buf_free(&b);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "a conversation record round trips; old, damaged and unknown forms",
		    test_codec },
		{ "a manager reads format 1 records and writes them again as format 2",
		    test_old_records },
		{ NULL, NULL }
	};

	log_init("test_directory", 1, LOG_LEVEL_WARN);
	return unit_run("directory", tests);
}
