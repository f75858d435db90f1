/*
 * test_store.c - the store (store.c, meta.c): round trips, the retry ring,
 * the start index, expiry and purge, live counts, crash durability,
 * concurrency and scanning, in memory and on disk. It includes store.c to
 * reach the hash and the stored records directly.
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.c"
#include "unit.h"

static const enum store_mode modes[] = { STORE_MEMORY, STORE_DISK };
#define NMODES 2

/* A store in a fresh temporary directory (disk), removed by fx_close. */
struct fx {
	struct store *st;
	struct store_config cfg;
	char dir[PATH_MAX - 64];
	char home[PATH_MAX];
	char err[512];
};

static int
fx_open(struct fx *f, enum store_mode mode, unsigned keep, enum store_sync sync)
{
	const char *tmp = getenv("TMPDIR");

	memset(f, 0, sizeof *f);
	if (mode == STORE_DISK) {
		snprintf(f->dir, sizeof f->dir, "%s/test_store.XXXXXX",
		    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
		if (mkdtemp(f->dir) == NULL)
			return -1;
		/* Two levels that do not exist yet: store_open makes them. */
		snprintf(f->home, sizeof f->home, "%s/var/store", f->dir);
		f->cfg.home = f->home;
	}
	f->cfg.mode = mode;
	f->cfg.sync = sync;
	f->cfg.retry_keep = keep;
	f->cfg.cache_bytes = 8u << 20;
	return store_open(&f->st, &f->cfg, f->err, sizeof f->err);
}

static int
fx_reopen(struct fx *f)
{
	store_close(f->st);
	f->st = NULL;
	return store_open(&f->st, &f->cfg, f->err, sizeof f->err);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
fx_close(struct fx *f)
{
	store_close(f->st);
	f->st = NULL;
	if (f->dir[0] != '\0')
		CU_ASSERT_EQUAL(nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void
meta_init(struct conv_meta *m, const char *service, int64_t now)
{
	memset(m, 0, sizeof *m);
	snprintf(m->service, sizeof m->service, "%s", service);
	m->created_ms = now;
	m->last_access_ms = now;
	m->max_age_s = 3600;
	m->max_idle_s = 600;
	m->bean_version = 3;
}

/* Commit one message of conversation id with meta m (updated on success). */
static int
commit(struct store *st, const char *id, enum store_kind kind, struct conv_meta *m,
    const char *bean, const char *msgid, const char *resp, int soap)
{
	struct store_commit c;

	memset(&c, 0, sizeof c);
	c.id = id;
	c.kind = kind;
	c.meta = m;
	c.bean = bean;
	c.bean_len = bean != NULL ? strlen(bean) : 0;
	c.bean_changed = bean != NULL;
	c.msgid = msgid;
	c.response = resp;
	c.response_len = resp != NULL ? strlen(resp) : 0;
	c.soap = soap;
	return store_commit(st, &c);
}

static int
start(struct store *st, const char *id, const char *service, const char *msgid)
{
	struct conv_meta m;
	int rc;

	meta_init(&m, service, 1000);
	rc = commit(st, id, STORE_START, &m, "b0", msgid, msgid ? "<started/>" : NULL, 1);
	conv_meta_clear(&m);
	return rc;
}

/* The number of answers kept under id, read from "retry" itself. */
static unsigned
answers_kept(struct store *st, const char *id)
{
	size_t plen = strlen(id) + 1;
	unsigned n = 0;
	DBC *cur;
	DBT k, d;
	int ret;

	memset(&k, 0, sizeof k);
	memset(&d, 0, sizeof d);
	k.flags = DB_DBT_MALLOC;
	d.flags = DB_DBT_MALLOC;
	if (st->retry->cursor(st->retry, NULL, &cur, 0) != 0)
		return 9999;
	while ((ret = cur->get(cur, &k, &d, DB_NEXT)) == 0) {
		if (k.size == plen + 8 && memcmp(k.data, id, plen) == 0)
			n++;
		free(k.data);
		free(d.data);
	}
	cur->close(cur);
	return ret == DB_NOTFOUND ? n : 9999;
}

/* ---- the metadata codec ------------------------------------------------- */

static void
test_meta_codec(void)
{
	struct conv_meta m, back;
	struct buf b = BUF_INIT;
	unsigned char bad[4096];
	size_t cut;
	unsigned i;

	meta_init(&m, "cart", -5);
	m.last_access_ms = INT64_MAX;
	m.seq = UINT64_MAX - 1;
	m.state = CONV_EXPIRED;
	m.ended_ms = 123456789012345;
	m.max_age_s = UINT32_MAX;
	m.start_msgid = strdup("urn:uuid:start");
	m.ring_len = STORE_RING_MAX;
	for (i = 0; i < STORE_RING_MAX; i++) {
		m.ring_hash[i] = 0x0102030405060708ULL * (i + 1);
		m.ring_seq[i] = i + 7;
	}
	CU_ASSERT_EQUAL(conv_meta_encode(&m, &b), 0);
	CU_ASSERT_EQUAL((unsigned char)b.data[0], CONV_META_FORMAT);
	CU_ASSERT_EQUAL_FATAL(conv_meta_decode(b.data, b.len, &back), 0);
	CU_ASSERT_STRING_EQUAL(back.service, "cart");
	CU_ASSERT_EQUAL(back.created_ms, -5);
	CU_ASSERT_EQUAL(back.last_access_ms, INT64_MAX);
	CU_ASSERT_EQUAL(back.seq, UINT64_MAX - 1);
	CU_ASSERT_EQUAL(back.state, CONV_EXPIRED);
	CU_ASSERT_EQUAL(back.ended_ms, 123456789012345);
	CU_ASSERT_EQUAL(back.max_age_s, UINT32_MAX);
	CU_ASSERT_EQUAL(back.max_idle_s, 600);
	CU_ASSERT_EQUAL(back.bean_version, 3);
	CU_ASSERT_STRING_EQUAL(back.start_msgid, "urn:uuid:start");
	CU_ASSERT_EQUAL(back.ring_len, STORE_RING_MAX);
	CU_ASSERT_EQUAL(memcmp(back.ring_hash, m.ring_hash, sizeof m.ring_hash), 0);
	CU_ASSERT_EQUAL(memcmp(back.ring_seq, m.ring_seq, sizeof m.ring_seq), 0);
	conv_meta_clear(&back);

	/* Every truncation, a trailing byte, a wrong format or state: all refused. */
	for (cut = 0; cut < b.len; cut++) {
		CU_ASSERT_EQUAL(conv_meta_decode(b.data, cut, &back), PARLEY_EIO);
		CU_ASSERT_PTR_NULL(back.start_msgid);
	}
	CU_ASSERT_FATAL(b.len + 1 <= sizeof bad);
	memcpy(bad, b.data, b.len);
	bad[b.len] = 0;
	CU_ASSERT_EQUAL(conv_meta_decode(bad, b.len + 1, &back), PARLEY_EIO);
	bad[0] = CONV_META_FORMAT + 1;
	CU_ASSERT_EQUAL(conv_meta_decode(bad, b.len, &back), PARLEY_EIO);
	bad[0] = CONV_META_FORMAT;
	bad[1] = 9;
	CU_ASSERT_EQUAL(conv_meta_decode(bad, b.len, &back), PARLEY_EIO);
	bad[1] = CONV_EXPIRED;
	bad[2] = STORE_SERVICE_MAX;    /* a service name without room for its NUL */
	CU_ASSERT_EQUAL(conv_meta_decode(bad, b.len, &back), PARLEY_EIO);

	/* No start message and an empty ring; an empty start MessageID stays apart from none. */
	conv_meta_clear(&m);
	meta_init(&m, "s", 1);
	buf_reset(&b);
	CU_ASSERT_EQUAL(conv_meta_encode(&m, &b), PARLEY_EINVAL);   /* state 0 */
	m.state = CONV_LIVE;
	buf_reset(&b);
	CU_ASSERT_EQUAL(conv_meta_encode(&m, &b), 0);
	CU_ASSERT_EQUAL(conv_meta_decode(b.data, b.len, &back), 0);
	CU_ASSERT_PTR_NULL(back.start_msgid);
	CU_ASSERT_EQUAL(back.ring_len, 0);
	conv_meta_clear(&back);
	m.start_msgid = strdup("");
	buf_reset(&b);
	CU_ASSERT_EQUAL(conv_meta_encode(&m, &b), 0);
	CU_ASSERT_EQUAL(conv_meta_decode(b.data, b.len, &back), 0);
	CU_ASSERT_PTR_NOT_NULL(back.start_msgid);
	conv_meta_clear(&back);
	m.ring_len = STORE_RING_MAX + 1;
	buf_reset(&b);
	CU_ASSERT_EQUAL(conv_meta_encode(&m, &b), PARLEY_EINVAL);
	conv_meta_clear(&m);
	buf_free(&b);
}

static void
test_meta_expired(void)
{
	struct conv_meta m;

	meta_init(&m, "s", 10000);
	m.max_age_s = 10;
	m.max_idle_s = 4;
	m.last_access_ms = 15000;
	CU_ASSERT_EQUAL(conv_meta_expired(&m, 18999), 0);
	CU_ASSERT_EQUAL(conv_meta_expired(&m, 19000), 2);
	m.last_access_ms = 19500;
	CU_ASSERT_EQUAL(conv_meta_expired(&m, 19999), 0);
	CU_ASSERT_EQUAL(conv_meta_expired(&m, 20000), 1);
	m.max_age_s = 0;
	m.max_idle_s = 0;
	CU_ASSERT_EQUAL(conv_meta_expired(&m, INT64_MAX / 2), 0);
}

/* ---- one store ---------------------------------------------------------- */

static void
test_open_errors(void)
{
	struct store_config cfg;
	struct store *st = (struct store *)1;
	struct fx f, g;
	char err[512], path[PATH_MAX + 32];
	FILE *fp;

	memset(&cfg, 0, sizeof cfg);
	cfg.mode = STORE_DISK;
	CU_ASSERT_EQUAL(store_open(&st, &cfg, err, sizeof err), PARLEY_EINVAL);
	CU_ASSERT_PTR_NULL(st);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "data_dir"));
	cfg.mode = STORE_MEMORY;
	cfg.retry_keep = STORE_RING_MAX + 1;
	CU_ASSERT_EQUAL(store_open(&st, &cfg, err, sizeof err), PARLEY_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "retry_keep"));

	/* A disk store's directory is its alone, also within one process. */
	CU_ASSERT_EQUAL_FATAL(fx_open(&f, STORE_DISK, 0, STORE_SYNC_FULL), 0);
	g.cfg = f.cfg;
	CU_ASSERT_EQUAL(store_open(&g.st, &g.cfg, err, sizeof err), PARLEY_EIO);
	CU_ASSERT_PTR_NULL(g.st);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "already open in this process"));

	/* A file where the directory should be. */
	snprintf(path, sizeof path, "%s/file", f.dir);
	fp = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fclose(fp);
	cfg.mode = STORE_DISK;
	cfg.retry_keep = 0;
	cfg.home = path;
	CU_ASSERT_EQUAL(store_open(&st, &cfg, err, sizeof err), PARLEY_EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a directory"));
	snprintf(path, sizeof path, "%s/file/below", f.dir);
	CU_ASSERT_EQUAL(store_open(&st, &cfg, err, sizeof err), PARLEY_EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot create store directory"));
	fx_close(&f);
}

static void
round_trip(enum store_mode mode)
{
	struct store_conv c;
	struct conv_meta m, stale;
	struct fx f;

	memset(&c, 0, sizeof c);
	CU_ASSERT_EQUAL_FATAL(fx_open(&f, mode, 0, STORE_SYNC_FULL), 0);
	meta_init(&m, "cart", 1000);
	m.state = CONV_EXPIRED;          /* START makes it live whatever it says */
	CU_ASSERT_EQUAL(commit(f.st, "c1", STORE_START, &m, "hello", "urn:m1", "<r1/>", 2), 0);
	CU_ASSERT_EQUAL(m.seq, 1);
	CU_ASSERT_EQUAL(m.state, CONV_LIVE);
	CU_ASSERT_STRING_EQUAL(m.start_msgid, "urn:m1");
	CU_ASSERT_EQUAL(m.ring_len, 1);
	CU_ASSERT_EQUAL(store_service_count(f.st, "cart"), 1);

	CU_ASSERT_EQUAL_FATAL(store_load(f.st, "c1", NULL, &c), 0);
	CU_ASSERT_STRING_EQUAL(c.meta.service, "cart");
	CU_ASSERT_EQUAL(c.meta.created_ms, 1000);
	CU_ASSERT_EQUAL(c.meta.last_access_ms, 1000);
	CU_ASSERT_EQUAL(c.meta.seq, 1);
	CU_ASSERT_EQUAL(c.meta.state, CONV_LIVE);
	CU_ASSERT_EQUAL(c.meta.ended_ms, 0);
	CU_ASSERT_EQUAL(c.meta.max_age_s, 3600);
	CU_ASSERT_EQUAL(c.meta.max_idle_s, 600);
	CU_ASSERT_EQUAL(c.meta.bean_version, 3);
	CU_ASSERT_STRING_EQUAL(c.meta.start_msgid, "urn:m1");
	CU_ASSERT_EQUAL(c.meta.ring_len, 1);
	CU_ASSERT_EQUAL(c.meta.ring_seq[0], 1);
	CU_ASSERT_EQUAL(c.meta.ring_hash[0], msgid_hash("urn:m1"));
	CU_ASSERT_EQUAL(c.bean.len, 5);
	CU_ASSERT_EQUAL(memcmp(c.bean.data, "hello", 5), 0);
	CU_ASSERT_EQUAL(c.replay, 0);
	store_conv_clear(&c);

	/* The seq convention: the caller passes the seq it loaded, the store adds one. */
	CU_ASSERT_EQUAL_FATAL(store_load(f.st, "c1", NULL, &c), 0);
	stale = c.meta;
	stale.start_msgid = NULL;
	c.meta.last_access_ms = 2000;
	c.meta.bean_version = 4;
	CU_ASSERT_EQUAL(commit(f.st, "c1", STORE_UPDATE, &c.meta, "world!", "urn:m2", "<r2/>", 1),
	    0);
	CU_ASSERT_EQUAL(c.meta.seq, 2);
	/* A stale copy (seq 1) and a caller that incremented itself (seq 3) are both refused. */
	CU_ASSERT_EQUAL(commit(f.st, "c1", STORE_UPDATE, &stale, "lost", NULL, NULL, 0),
	    PARLEY_ESTATE);
	stale.seq = 3;
	CU_ASSERT_EQUAL(commit(f.st, "c1", STORE_UPDATE, &stale, "lost", NULL, NULL, 0),
	    PARLEY_ESTATE);
	CU_ASSERT_EQUAL(stale.seq, 3);
	/* No bean change: the bean stays, the rest moves on. */
	c.meta.last_access_ms = 3000;
	CU_ASSERT_EQUAL(commit(f.st, "c1", STORE_UPDATE, &c.meta, NULL, NULL, NULL, 0), 0);
	CU_ASSERT_EQUAL(c.meta.seq, 3);
	store_conv_clear(&c);
	CU_ASSERT_EQUAL_FATAL(store_load(f.st, "c1", NULL, &c), 0);
	CU_ASSERT_EQUAL(c.meta.seq, 3);
	CU_ASSERT_EQUAL(c.meta.last_access_ms, 3000);
	CU_ASSERT_EQUAL(c.meta.bean_version, 4);
	CU_ASSERT_EQUAL(c.meta.created_ms, 1000);
	CU_ASSERT_EQUAL(c.bean.len, 6);
	CU_ASSERT_EQUAL(memcmp(c.bean.data, "world!", 6), 0);

	/* Finish: bean gone, ended at the last access, answers kept. */
	c.meta.last_access_ms = 4000;
	CU_ASSERT_EQUAL(commit(f.st, "c1", STORE_FINISH, &c.meta, NULL, "urn:m4", "<bye/>", 1), 0);
	CU_ASSERT_EQUAL(c.meta.state, CONV_ENDED);
	CU_ASSERT_EQUAL(c.meta.ended_ms, 4000);
	CU_ASSERT_EQUAL(store_service_count(f.st, "cart"), 0);
	CU_ASSERT_EQUAL(store_live_count(f.st), 0);
	CU_ASSERT_EQUAL(commit(f.st, "c1", STORE_UPDATE, &c.meta, "x", NULL, NULL, 0),
	    PARLEY_ESTATE);
	store_conv_clear(&c);
	CU_ASSERT_EQUAL_FATAL(store_load(f.st, "c1", "urn:m4", &c), 0);
	CU_ASSERT_EQUAL(c.meta.state, CONV_ENDED);
	CU_ASSERT_EQUAL(c.meta.ended_ms, 4000);
	CU_ASSERT_EQUAL(c.meta.seq, 4);
	CU_ASSERT_EQUAL(c.bean.len, 0);
	CU_ASSERT_EQUAL(c.replay, 1);
	CU_ASSERT_STRING_EQUAL(c.response.data, "<bye/>");
	store_conv_clear(&c);
	{
		DBT k, d;
		memset(&k, 0, sizeof k);
		memset(&d, 0, sizeof d);
		k.data = "c1";
		k.size = 2;
		d.flags = DB_DBT_MALLOC;
		CU_ASSERT_EQUAL(f.st->beans->get(f.st->beans, NULL, &k, &d, 0), DB_NOTFOUND);
	}

	/* Unknown IDs; a START of an ID the store has, live or ended. */
	CU_ASSERT_EQUAL(store_load(f.st, "nope", NULL, &c), PARLEY_ENOENT);
	CU_ASSERT_PTR_NULL(c.bean.data);
	CU_ASSERT_EQUAL(commit(f.st, "nope", STORE_UPDATE, &stale, "x", NULL, NULL, 0),
	    PARLEY_ENOENT);
	conv_meta_clear(&m);
	meta_init(&m, "cart", 5000);
	CU_ASSERT_EQUAL(commit(f.st, "c1", STORE_START, &m, "x", NULL, NULL, 0), PARLEY_EEXIST);
	CU_ASSERT_EQUAL(m.seq, 0);
	CU_ASSERT_EQUAL(commit(f.st, "c2", STORE_START, &m, NULL, NULL, NULL, 0), 0);
	CU_ASSERT_EQUAL(commit(f.st, "c2", STORE_START, &m, NULL, NULL, NULL, 0), PARLEY_EEXIST);
	CU_ASSERT_EQUAL(store_service_count(f.st, "cart"), 1);
	/* An empty bean at START is stored: a live conversation always has one. */
	CU_ASSERT_EQUAL_FATAL(store_load(f.st, "c2", NULL, &c), 0);
	CU_ASSERT_EQUAL(c.bean.len, 0);
	CU_ASSERT_PTR_NULL(c.meta.start_msgid);
	store_conv_clear(&c);
	CU_ASSERT_EQUAL(commit(f.st, "", STORE_START, &m, NULL, NULL, NULL, 0), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(commit(f.st, "c3", STORE_START, &m, NULL, "urn:x", "r", 3), PARLEY_EINVAL);
	conv_meta_clear(&m);
	fx_close(&f);
}

static void
test_round_trip(void)
{
	int i;

	for (i = 0; i < NMODES; i++)
		round_trip(modes[i]);
}

static void
retry_ring(enum store_mode mode)
{
	struct store_conv c;
	struct conv_meta m;
	char msgid[32], resp[64];
	struct fx f;
	int i;

	memset(&c, 0, sizeof c);
	CU_ASSERT_EQUAL_FATAL(fx_open(&f, mode, 4, STORE_SYNC_NONE), 0);
	meta_init(&m, "svc", 1);
	CU_ASSERT_EQUAL(commit(f.st, "r1", STORE_START, &m, "b", "m0", "<a0/>", 1), 0);
	for (i = 1; i < 10; i++) {
		snprintf(msgid, sizeof msgid, "m%d", i);
		snprintf(resp, sizeof resp, "<a%d>%s</a%d>", i, i % 2 ? "odd" : "even", i);
		CU_ASSERT_EQUAL(commit(f.st, "r1", STORE_UPDATE, &m, NULL, msgid, resp, 1 + i % 2),
		    0);
	}
	CU_ASSERT_EQUAL(m.ring_len, 4);
	CU_ASSERT_EQUAL(m.ring_seq[0], 7);
	CU_ASSERT_EQUAL(m.ring_seq[3], 10);
	CU_ASSERT_EQUAL(answers_kept(f.st, "r1"), 4);
	/* m6..m9 replay exactly; m0..m5 have left the ring with their records. */
	for (i = 0; i < 10; i++) {
		snprintf(msgid, sizeof msgid, "m%d", i);
		snprintf(resp, sizeof resp, "<a%d>%s</a%d>", i, i % 2 ? "odd" : "even", i);
		CU_ASSERT_EQUAL_FATAL(store_load(f.st, "r1", msgid, &c), 0);
		CU_ASSERT_EQUAL(c.replay, i >= 6);
		if (i >= 6) {
			CU_ASSERT_EQUAL(c.response.len, strlen(resp));
			CU_ASSERT_STRING_EQUAL(c.response.data, resp);
			CU_ASSERT_EQUAL(c.replay_soap, 1 + i % 2);
		} else {
			CU_ASSERT_EQUAL(c.response.len, 0);
		}
		store_conv_clear(&c);
	}
	/* The answer to a start message is found through the start index while it is kept. */
	conv_meta_clear(&m);
	meta_init(&m, "svc", 1);
	CU_ASSERT_EQUAL(commit(f.st, "r2", STORE_START, &m, "b", "urn:start", "<hi/>", 2), 0);
	{
		char id[16];
		struct buf r = BUF_INIT;
		int soap = 0;

		CU_ASSERT_EQUAL(store_find_start(f.st, "svc", "urn:start", id, sizeof id, &r, &soap), 0);
		CU_ASSERT_STRING_EQUAL(id, "r2");
		CU_ASSERT_STRING_EQUAL(r.data, "<hi/>");
		CU_ASSERT_EQUAL(soap, 2);
		CU_ASSERT_EQUAL(store_find_start(f.st, "svc", "urn:start", id, 2, &r, &soap),
		    PARLEY_EINVAL);
		/* The same MessageID at another service is not that service's start. */
		id[0] = '\0';
		CU_ASSERT_EQUAL(store_find_start(f.st, "other", "urn:start", id, sizeof id, &r,
		    &soap), PARLEY_EEXIST);
		CU_ASSERT_STRING_EQUAL(id, "");
		CU_ASSERT_STRING_EQUAL(r.data, "<hi/>");
		CU_ASSERT_EQUAL(store_find_start(f.st, "svc", "urn:other", id, sizeof id, &r, &soap),
		    PARLEY_ENOENT);
		CU_ASSERT_EQUAL(store_find_start(f.st, "svc", "m0", id, sizeof id, &r, &soap),
		    PARLEY_ENOENT);
		for (i = 0; i < 4; i++)
			CU_ASSERT_EQUAL(commit(f.st, "r2", STORE_UPDATE, &m, NULL,
			    i < 3 ? "same" : "late", i < 3 ? "<same/>" : "<late/>", 1), 0);
		/* Pushed out of a ring of 4 by four more answers. */
		CU_ASSERT_EQUAL(store_find_start(f.st, "svc", "urn:start", id, sizeof id, &r, &soap),
		    PARLEY_ENOENT);
		buf_free(&r);
	}
	CU_ASSERT_EQUAL(answers_kept(f.st, "r2"), 4);
	conv_meta_clear(&m);
	fx_close(&f);
}

static void
test_retry_ring(void)
{
	int i;

	for (i = 0; i < NMODES; i++)
		retry_ring(modes[i]);
}

/* Overwrite the stored metadata of id, as damage or a hash collision would leave it. */
static int
poke_meta(struct store *st, const char *id, const struct conv_meta *m)
{
	struct buf b = BUF_INIT;
	DBT k, d;
	int ret;

	if (conv_meta_encode(m, &b) != 0)
		return -1;
	set_dbt(&k, id, strlen(id));
	set_dbt(&d, b.data, b.len);
	ret = st->meta->put(st->meta, NULL, &k, &d, 0);
	buf_free(&b);
	return ret;
}

/*
 * A hash collision must never return another message's answer: two ring
 * entries carry the hash of "urn:b", the newer one holds "urn:a"'s answer.
 */
static void
test_hash_collision(void)
{
	struct store_conv c;
	struct conv_meta m;
	struct fx f;

	memset(&c, 0, sizeof c);
	CU_ASSERT_EQUAL_FATAL(fx_open(&f, STORE_MEMORY, 0, STORE_SYNC_NONE), 0);
	meta_init(&m, "svc", 1);
	CU_ASSERT_EQUAL(commit(f.st, "h1", STORE_START, &m, "b", "urn:b", "<answer-b/>", 1), 0);
	CU_ASSERT_EQUAL(commit(f.st, "h1", STORE_UPDATE, &m, NULL, "urn:a", "<answer-a/>", 2), 0);
	CU_ASSERT_EQUAL_FATAL(m.ring_len, 2);
	CU_ASSERT_EQUAL(m.ring_hash[1], msgid_hash("urn:a"));
	m.ring_hash[1] = msgid_hash("urn:b");
	CU_ASSERT_EQUAL_FATAL(poke_meta(f.st, "h1", &m), 0);

	CU_ASSERT_EQUAL_FATAL(store_load(f.st, "h1", "urn:b", &c), 0);
	CU_ASSERT_EQUAL(c.replay, 1);
	CU_ASSERT_STRING_EQUAL(c.response.data, "<answer-b/>");
	CU_ASSERT_EQUAL(c.replay_soap, 1);
	store_conv_clear(&c);
	CU_ASSERT_EQUAL_FATAL(store_load(f.st, "h1", "urn:a", &c), 0);
	CU_ASSERT_EQUAL(c.replay, 0);
	store_conv_clear(&c);
	/* Only the newer entry collides: the record under it is not b's. */
	m.ring_len = 1;
	m.ring_hash[0] = msgid_hash("urn:b");
	m.ring_seq[0] = 2;
	CU_ASSERT_EQUAL_FATAL(poke_meta(f.st, "h1", &m), 0);
	CU_ASSERT_EQUAL_FATAL(store_load(f.st, "h1", "urn:b", &c), 0);
	CU_ASSERT_EQUAL(c.replay, 0);
	CU_ASSERT_EQUAL(c.response.len, 0);
	store_conv_clear(&c);

	/* Damaged metadata is an I/O error, not a crash or a guess. */
	{
		DBT k, d;
		set_dbt(&k, "h1", 2);
		set_dbt(&d, "\x01\x01garbage", 9);
		CU_ASSERT_EQUAL(f.st->meta->put(f.st->meta, NULL, &k, &d, 0), 0);
		CU_ASSERT_EQUAL(store_load(f.st, "h1", NULL, &c), PARLEY_EIO);
		CU_ASSERT_PTR_NULL(c.meta.start_msgid);
	}
	conv_meta_clear(&m);
	fx_close(&f);
}

static void
expire_purge(enum store_mode mode)
{
	struct store_conv c;
	struct conv_meta m;
	struct buf r = BUF_INIT;
	char id[16];
	int soap;
	struct fx f;

	memset(&c, 0, sizeof c);
	CU_ASSERT_EQUAL_FATAL(fx_open(&f, mode, 0, STORE_SYNC_WRITE), 0);
	meta_init(&m, "svc", 1);
	CU_ASSERT_EQUAL(commit(f.st, "e1", STORE_START, &m, "bean", "urn:s1", "<s1/>", 1), 0);
	CU_ASSERT_EQUAL(commit(f.st, "e1", STORE_UPDATE, &m, "bean2", "urn:u1", "<u1/>", 2), 0);
	CU_ASSERT_EQUAL(store_purge(f.st, "e1"), PARLEY_ESTATE);
	CU_ASSERT_EQUAL(store_live_count(f.st), 1);

	CU_ASSERT_EQUAL(store_expire(f.st, "e1", 7777), 0);
	CU_ASSERT_EQUAL(store_live_count(f.st), 0);
	CU_ASSERT_EQUAL(store_expire(f.st, "e1", 8888), PARLEY_ENOENT);
	CU_ASSERT_EQUAL(store_expire(f.st, "unknown", 8888), PARLEY_ENOENT);
	CU_ASSERT_EQUAL(store_live_count(f.st), 0);
	/* The handler's commit after expiry loses: the conversation stays expired. */
	CU_ASSERT_EQUAL(commit(f.st, "e1", STORE_UPDATE, &m, "late", NULL, NULL, 0), PARLEY_ESTATE);
	CU_ASSERT_EQUAL_FATAL(store_load(f.st, "e1", "urn:u1", &c), 0);
	CU_ASSERT_EQUAL(c.meta.state, CONV_EXPIRED);
	CU_ASSERT_EQUAL(c.meta.ended_ms, 7777);
	CU_ASSERT_EQUAL(c.bean.len, 0);
	CU_ASSERT_EQUAL(c.replay, 1);
	CU_ASSERT_STRING_EQUAL(c.response.data, "<u1/>");
	store_conv_clear(&c);
	CU_ASSERT_EQUAL(store_find_start(f.st, "svc", "urn:s1", id, sizeof id, &r, &soap), 0);
	CU_ASSERT_STRING_EQUAL(id, "e1");
	CU_ASSERT_STRING_EQUAL(r.data, "<s1/>");

	/* A second start reusing urn:s1 owns the index entry: purging e1 leaves it. */
	conv_meta_clear(&m);
	meta_init(&m, "svc", 1);
	CU_ASSERT_EQUAL(commit(f.st, "e2", STORE_START, &m, "b", "urn:s1", "<s2/>", 1), 0);
	CU_ASSERT_EQUAL(answers_kept(f.st, "e1"), 2);
	CU_ASSERT_EQUAL(store_purge(f.st, "e1"), 0);
	CU_ASSERT_EQUAL(answers_kept(f.st, "e1"), 0);
	CU_ASSERT_EQUAL(store_load(f.st, "e1", NULL, &c), PARLEY_ENOENT);
	CU_ASSERT_EQUAL(store_purge(f.st, "e1"), PARLEY_ENOENT);
	CU_ASSERT_EQUAL(store_find_start(f.st, "svc", "urn:s1", id, sizeof id, &r, &soap), 0);
	CU_ASSERT_STRING_EQUAL(id, "e2");
	CU_ASSERT_STRING_EQUAL(r.data, "<s2/>");

	/* Finish then purge e2: its start entry goes with it. */
	CU_ASSERT_EQUAL(commit(f.st, "e2", STORE_FINISH, &m, NULL, "urn:f2", "<f2/>", 1), 0);
	CU_ASSERT_EQUAL(answers_kept(f.st, "e2"), 2);
	CU_ASSERT_EQUAL(store_purge(f.st, "e2"), 0);
	CU_ASSERT_EQUAL(answers_kept(f.st, "e2"), 0);
	CU_ASSERT_EQUAL(store_find_start(f.st, "svc", "urn:s1", id, sizeof id, &r, &soap), PARLEY_ENOENT);
	{
		DBT k, d;
		set_dbt(&k, "urn:s1", 6);
		memset(&d, 0, sizeof d);
		d.flags = DB_DBT_MALLOC;
		CU_ASSERT_EQUAL(f.st->starts->get(f.st->starts, NULL, &k, &d, 0), DB_NOTFOUND);
	}
	CU_ASSERT_EQUAL(store_load(f.st, "e2", NULL, &c), PARLEY_ENOENT);
	conv_meta_clear(&m);
	buf_free(&r);
	fx_close(&f);
}

static void
test_expire_purge(void)
{
	int i;

	for (i = 0; i < NMODES; i++)
		expire_purge(modes[i]);
}

struct seen {
	char names[8][STORE_SERVICE_MAX];
	unsigned n[8];
	unsigned count;
};

static void
see_service(void *arg, const char *service, unsigned n)
{
	struct seen *s = arg;

	if (s->count < 8) {
		snprintf(s->names[s->count], sizeof s->names[0], "%s", service);
		s->n[s->count] = n;
	}
	s->count++;
}

static void
check_counts(struct store *st)
{
	struct seen s;

	memset(&s, 0, sizeof s);
	CU_ASSERT_EQUAL(store_live_count(st), 3);
	CU_ASSERT_EQUAL(store_service_count(st, "alpha"), 2);
	CU_ASSERT_EQUAL(store_service_count(st, "beta"), 1);
	CU_ASSERT_EQUAL(store_service_count(st, "gamma"), 0);
	store_each_service(st, see_service, &s);
	CU_ASSERT_EQUAL_FATAL(s.count, 2);
	CU_ASSERT_STRING_EQUAL(s.names[0], "alpha");
	CU_ASSERT_EQUAL(s.n[0], 2);
	CU_ASSERT_STRING_EQUAL(s.names[1], "beta");
	CU_ASSERT_EQUAL(s.n[1], 1);
}

static void
counts(enum store_mode mode)
{
	struct conv_meta m;
	struct fx f;

	CU_ASSERT_EQUAL_FATAL(fx_open(&f, mode, 0, STORE_SYNC_FULL), 0);
	CU_ASSERT_EQUAL(start(f.st, "a1", "alpha", NULL), 0);
	CU_ASSERT_EQUAL(start(f.st, "a2", "alpha", NULL), 0);
	CU_ASSERT_EQUAL(start(f.st, "a3", "alpha", NULL), 0);
	CU_ASSERT_EQUAL(start(f.st, "b1", "beta", NULL), 0);
	CU_ASSERT_EQUAL(start(f.st, "b2", "beta", NULL), 0);
	CU_ASSERT_EQUAL(start(f.st, "g1", "gamma", NULL), 0);
	CU_ASSERT_EQUAL(start(f.st, "a1", "alpha", NULL), PARLEY_EEXIST);
	CU_ASSERT_EQUAL(store_live_count(f.st), 6);
	meta_init(&m, "alpha", 1000);
	m.seq = 1;
	CU_ASSERT_EQUAL(commit(f.st, "a2", STORE_FINISH, &m, NULL, NULL, NULL, 0), 0);
	CU_ASSERT_EQUAL(commit(f.st, "a2", STORE_FINISH, &m, NULL, NULL, NULL, 0), PARLEY_ESTATE);
	CU_ASSERT_EQUAL(store_expire(f.st, "b2", 5000), 0);
	CU_ASSERT_EQUAL(store_expire(f.st, "g1", 5000), 0);
	CU_ASSERT_EQUAL(store_purge(f.st, "g1"), 0);
	check_counts(f.st);
	if (mode == STORE_DISK) {
		CU_ASSERT_EQUAL_FATAL(fx_reopen(&f), 0);
		check_counts(f.st);
	}
	fx_close(&f);
}

static void
test_counts(void)
{
	int i;

	for (i = 0; i < NMODES; i++)
		counts(modes[i]);
}

/*
 * Durability: a child commits N messages with STORE_SYNC_WRITE, says so, and
 * is killed with SIGKILL holding the store open. Recovery finds all N. While
 * the child holds the store, the parent's open is refused, naming the child.
 */
static void
test_crash_durability(void)
{
	enum { N = 50 };
	struct store_conv c;
	struct conv_meta m;
	char bean[32], msgid[32], ok[4] = "", pidtext[32];
	int fds[2], go[2], status;
	pid_t pid;
	struct fx f;

	memset(&c, 0, sizeof c);
	CU_ASSERT_EQUAL_FATAL(fx_open(&f, STORE_DISK, 0, STORE_SYNC_WRITE), 0);
	store_close(f.st);     /* the child must be the only user */
	f.st = NULL;
	CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(go), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct store *st;
		char err[256];
		int i, bad = 0;

		close(fds[0]);
		close(go[1]);
		if (store_open(&st, &f.cfg, err, sizeof err) != 0)
			_exit(2);
		meta_init(&m, "dur", 1);
		bad |= commit(st, "d1", STORE_START, &m, "bean-0", "msg-0", "<r0/>", 1);
		for (i = 1; i <= N; i++) {
			snprintf(bean, sizeof bean, "bean-%d", i);
			snprintf(msgid, sizeof msgid, "msg-%d", i);
			m.last_access_ms = 1 + i;
			bad |= commit(st, "d1", STORE_UPDATE, &m, bean, msgid, "<r/>", 1);
		}
		if (bad == 0 && write(fds[1], "ok", 2) != 2)
			_exit(3);
		close(fds[1]);
		/* Wait for the parent's go (or its end), then die holding everything. */
		if (read(go[0], ok, 1) < 0)
			_exit(5);
		raise(SIGKILL);
		_exit(4);
	}
	close(fds[1]);
	close(go[0]);
	CU_ASSERT_EQUAL(read(fds[0], ok, 2), 2);
	close(fds[0]);
	CU_ASSERT_STRING_EQUAL(ok, "ok");
	CU_ASSERT_EQUAL(store_open(&f.st, &f.cfg, f.err, sizeof f.err), PARLEY_EIO);
	CU_ASSERT_PTR_NULL(f.st);
	snprintf(pidtext, sizeof pidtext, "(pid %ld)", (long)pid);
	CU_ASSERT_PTR_NOT_NULL(strstr(f.err, "in use by another process"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f.err, pidtext));
	/* A child that died early has no reader on go: writing would raise SIGPIPE. */
	if (strcmp(ok, "ok") == 0)
		CU_ASSERT_EQUAL(write(go[1], "g", 1), 1);
	close(go[1]);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	CU_ASSERT_EQUAL_FATAL(store_open(&f.st, &f.cfg, f.err, sizeof f.err), 0);
	CU_ASSERT_EQUAL_FATAL(store_load(f.st, "d1", "msg-50", &c), 0);
	CU_ASSERT_EQUAL(c.meta.seq, N + 1);
	CU_ASSERT_EQUAL(c.meta.last_access_ms, N + 1);
	CU_ASSERT_EQUAL(c.bean.len, strlen("bean-50"));
	CU_ASSERT_STRING_EQUAL(c.bean.data, "bean-50");
	CU_ASSERT_EQUAL(c.replay, 1);
	CU_ASSERT_EQUAL(store_live_count(f.st), 1);
	store_conv_clear(&c);
	fx_close(&f);
}

/* ---- many threads --------------------------------------------------------------- */

static unsigned
deadlocks(struct store *st)
{
	DB_LOCK_STAT *sp = NULL;
	unsigned n;

	if (st->env->lock_stat(st->env, &sp, 0) != 0)
		return 0;
	n = (unsigned)sp->st_ndeadlocks;
	free(sp);
	return n;
}

/*
 * Two transactions that take "meta" and "retry" in opposite orders, made to
 * meet in the middle on their first try: one must lose the deadlock, and
 * run_txn must run it again until both are committed.
 */
struct crossing {
	struct store *st;
	DB *first;
	DB *second;
	const char *key;
	pthread_barrier_t *meet;
	unsigned tries;
	int rc;
};

static int
crossing_body(struct store *st, DB_TXN *txn, void *arg)
{
	struct crossing *x = arg;
	int rc;

	(void)st;
	if ((rc = put_rec(x->first, txn, x->key, strlen(x->key), "1", 1, 0)) != 0)
		return rc;
	if (x->tries++ == 0)
		pthread_barrier_wait(x->meet);
	return put_rec(x->second, txn, x->key, strlen(x->key), "2", 1, 0);
}

static void *
crossing_run(void *arg)
{
	struct crossing *x = arg;

	x->rc = run_txn(x->st, crossing_body, x);
	return NULL;
}

static void
test_deadlock_retry(void)
{
	pthread_barrier_t meet;
	struct crossing x[2];
	pthread_t t[2];
	struct fx f;
	int i;

	CU_ASSERT_EQUAL_FATAL(fx_open(&f, STORE_MEMORY, 0, STORE_SYNC_NONE), 0);
	pthread_barrier_init(&meet, NULL, 2);
	memset(x, 0, sizeof x);
	x[0].first = f.st->meta;
	x[0].second = f.st->retry;
	x[0].key = "x0";
	x[1].first = f.st->retry;
	x[1].second = f.st->meta;
	x[1].key = "x1";
	for (i = 0; i < 2; i++) {
		x[i].st = f.st;
		x[i].meet = &meet;
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, crossing_run, &x[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(x[0].rc, 0);
	CU_ASSERT_EQUAL(x[1].rc, 0);
	CU_ASSERT(x[0].tries + x[1].tries >= 3);
	CU_ASSERT(deadlocks(f.st) >= 1);
	pthread_barrier_destroy(&meet);
	fx_close(&f);
}

enum { OWN_THREADS = 8, SHARED_THREADS = 8, UPDATES = 200, SHARED_CONVS = 4 };

struct shared {
	struct store *st;
	atomic_int done;               /* the workers have finished: the adversary stops */
	unsigned adversary_commits;
	pthread_mutex_t gate[SHARED_CONVS];    /* what gate.h does: one message at a time */
	int failures;
	pthread_mutex_t mu;
};

struct worker {
	struct shared *sh;
	int n;
	int own;
};

static void
fail_once(struct shared *sh)
{
	pthread_mutex_lock(&sh->mu);
	sh->failures++;
	pthread_mutex_unlock(&sh->mu);
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	struct store_conv c;
	char id[32], msgid[48], bean[32];
	unsigned r = (unsigned)w->n * 2654435761u;
	int i, k = 0, rc;

	memset(&c, 0, sizeof c);
	for (i = 0; i < UPDATES; i++) {
		if (w->own) {
			snprintf(id, sizeof id, "own-%02d", w->n);
		} else {
			r = r * 1103515245u + 12345u;
			k = (int)((r >> 16) % SHARED_CONVS);
			snprintf(id, sizeof id, "shared-%d", k);
			pthread_mutex_lock(&w->sh->gate[k]);
		}
		snprintf(msgid, sizeof msgid, "%s-w%d-%d", id, w->n, i);
		snprintf(bean, sizeof bean, "%d", i);
		rc = store_load(w->sh->st, id, msgid, &c);
		if (rc == 0 && c.replay == 0) {
			c.meta.last_access_ms = 2000 + i;
			rc = commit(w->sh->st, id, STORE_UPDATE, &c.meta, bean, msgid, "<ok/>", 1);
		}
		if (rc != 0 || c.replay != 0)
			fail_once(w->sh);
		store_conv_clear(&c);
		if (!w->own)
			pthread_mutex_unlock(&w->sh->gate[k]);
	}
	return NULL;
}

/*
 * Take "retry" then "meta", against the commits' order (meta first), so that
 * commits lose deadlocks and must be retried. The metadata is written back
 * unchanged; the retry key is no answer's (it has no NUL and seq).
 */
static int
adversary_body(struct store *st, DB_TXN *txn, void *arg)
{
	struct buf *b = arg;
	int rc;

	if ((rc = put_rec(st->retry, txn, "own-03", 6, "adversary", 9, 0)) != 0 ||
	    (rc = get_buf(st->meta, txn, "own-04", 6, b, DB_RMW)) != 0)
		return rc;
	return put_rec(st->meta, txn, "own-04", 6, b->data, b->len, 0);
}

static void *
adversary(void *arg)
{
	struct shared *sh = arg;
	struct buf b = BUF_INIT;

	while (!atomic_load(&sh->done)) {
		/* It is in every deadlock and may lose 100 in a row: that is no failure. */
		if (run_txn(sh->st, adversary_body, &b) == 0)
			sh->adversary_commits++;
	}
	buf_free(&b);
	return NULL;
}

static void
concurrency(enum store_mode mode)
{
	struct worker w[OWN_THREADS + SHARED_THREADS];
	pthread_t t[OWN_THREADS + SHARED_THREADS], adv;
	struct store_conv c;
	struct shared sh;
	uint64_t total = 0;
	char id[32];
	struct fx f;
	int i;

	memset(&c, 0, sizeof c);
	memset(&sh, 0, sizeof sh);
	CU_ASSERT_EQUAL_FATAL(fx_open(&f, mode, 0, STORE_SYNC_NONE), 0);
	sh.st = f.st;
	pthread_mutex_init(&sh.mu, NULL);
	for (i = 0; i < SHARED_CONVS; i++) {
		pthread_mutex_init(&sh.gate[i], NULL);
		snprintf(id, sizeof id, "shared-%d", i);
		CU_ASSERT_EQUAL(start(f.st, id, "shared", NULL), 0);
	}
	for (i = 0; i < OWN_THREADS; i++) {
		snprintf(id, sizeof id, "own-%02d", i);
		CU_ASSERT_EQUAL(start(f.st, id, "own", NULL), 0);
	}
	CU_ASSERT_EQUAL_FATAL(pthread_create(&adv, NULL, adversary, &sh), 0);
	for (i = 0; i < OWN_THREADS + SHARED_THREADS; i++) {
		w[i].sh = &sh;
		w[i].n = i;
		w[i].own = i < OWN_THREADS;
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (i = 0; i < OWN_THREADS + SHARED_THREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&sh.done, 1);
	pthread_join(adv, NULL);
	CU_ASSERT_EQUAL(sh.failures, 0);
	CU_ASSERT(sh.adversary_commits > 0);
	/* Commits lost deadlocks (100-200 a run here) and were retried. */
	CU_ASSERT(deadlocks(f.st) > 0);
	for (i = 0; i < OWN_THREADS; i++) {
		snprintf(id, sizeof id, "own-%02d", i);
		CU_ASSERT_EQUAL_FATAL(store_load(f.st, id, NULL, &c), 0);
		CU_ASSERT_EQUAL(c.meta.seq, UPDATES + 1);
		CU_ASSERT_STRING_EQUAL(c.bean.data, "199");
		CU_ASSERT_EQUAL(c.meta.ring_len, DEFAULT_KEEP);
		store_conv_clear(&c);
		CU_ASSERT_EQUAL(answers_kept(f.st, id), DEFAULT_KEEP);
	}
	for (i = 0; i < SHARED_CONVS; i++) {
		snprintf(id, sizeof id, "shared-%d", i);
		CU_ASSERT_EQUAL_FATAL(store_load(f.st, id, NULL, &c), 0);
		total += c.meta.seq;
		store_conv_clear(&c);
	}
	CU_ASSERT_EQUAL(total, SHARED_CONVS + SHARED_THREADS * UPDATES);
	CU_ASSERT_EQUAL(store_live_count(f.st), OWN_THREADS + SHARED_CONVS);
	CU_ASSERT_EQUAL(store_service_count(f.st, "own"), OWN_THREADS);
	for (i = 0; i < SHARED_CONVS; i++)
		pthread_mutex_destroy(&sh.gate[i]);
	pthread_mutex_destroy(&sh.mu);
	fx_close(&f);
}

static void
test_concurrency(void)
{
	int i;

	for (i = 0; i < NMODES; i++)
		concurrency(modes[i]);
}

/* ---- scanning ------------------------------------------------------------------- */

enum { SCAN_CONVS = 600 };

struct scan_state {
	struct store *st;
	char last[32];
	unsigned seen, live, expired, failures;
	int expire;
	int purge;
	unsigned stop_at;
};

/* Expire every other live conversation while the scan goes on. */
static int
scan_cb(void *arg, const char *id, const struct conv_meta *m)
{
	struct scan_state *s = arg;

	if (strcmp(s->last, id) >= 0)
		s->failures++;
	snprintf(s->last, sizeof s->last, "%s", id);
	s->seen++;
	if (s->stop_at != 0 && s->seen == s->stop_at)
		return 42;
	if (m->state == CONV_LIVE) {
		s->live++;
		if (s->expire && s->seen % 2 == 0 && store_expire(s->st, id, 99) != 0)
			s->failures++;
	} else if (m->state == CONV_EXPIRED) {
		s->expired++;
		if (s->purge && store_purge(s->st, id) != 0)
			s->failures++;
	}
	return 0;
}

static void
scan(enum store_mode mode)
{
	struct scan_state s;
	char id[32];
	struct fx f;
	int i;

	CU_ASSERT_EQUAL_FATAL(fx_open(&f, mode, 0, STORE_SYNC_NONE), 0);
	for (i = 0; i < SCAN_CONVS; i++) {
		snprintf(id, sizeof id, "s%04d", i);
		CU_ASSERT_EQUAL(start(f.st, id, "scan", "urn:x"), 0);
	}
	memset(&s, 0, sizeof s);
	s.st = f.st;
	s.expire = 1;
	CU_ASSERT_EQUAL(store_scan(f.st, scan_cb, &s), 0);
	CU_ASSERT_EQUAL(s.seen, SCAN_CONVS);
	CU_ASSERT_EQUAL(s.live, SCAN_CONVS);
	CU_ASSERT_EQUAL(s.failures, 0);
	CU_ASSERT_EQUAL(store_live_count(f.st), SCAN_CONVS / 2);

	/* Purge the expired half while scanning; the next scan sees the live half only. */
	memset(&s, 0, sizeof s);
	s.st = f.st;
	s.purge = 1;
	CU_ASSERT_EQUAL(store_scan(f.st, scan_cb, &s), 0);
	CU_ASSERT_EQUAL(s.seen, SCAN_CONVS);
	CU_ASSERT_EQUAL(s.expired, SCAN_CONVS / 2);
	CU_ASSERT_EQUAL(s.failures, 0);
	memset(&s, 0, sizeof s);
	s.st = f.st;
	s.stop_at = (unsigned)-1;
	CU_ASSERT_EQUAL(store_scan(f.st, scan_cb, &s), 0);
	CU_ASSERT_EQUAL(s.seen, SCAN_CONVS / 2);
	CU_ASSERT_EQUAL(s.live, SCAN_CONVS / 2);
	CU_ASSERT_EQUAL(s.expired, 0);

	/* A callback that says stop: store_scan returns what it said. */
	memset(&s, 0, sizeof s);
	s.st = f.st;
	s.stop_at = 10;
	CU_ASSERT_EQUAL(store_scan(f.st, scan_cb, &s), 42);
	CU_ASSERT_EQUAL(s.seen, 10);
	fx_close(&f);
}

static void
test_scan(void)
{
	int i;

	for (i = 0; i < NMODES; i++)
		scan(modes[i]);
}

/* ---- sessions: one bean shared by joined conversations -------------------- */

static void
expect_bean(struct store *st, const char *id, const char *bean, unsigned live,
    const char *initiator)
{
	struct store_conv c;

	memset(&c, 0, sizeof c);
	CU_ASSERT_EQUAL_FATAL(store_load(st, id, NULL, &c), 0);
	CU_ASSERT_EQUAL(c.bean.len, strlen(bean));
	if (c.bean.len == strlen(bean))
		CU_ASSERT_EQUAL(memcmp(c.bean.data, bean, c.bean.len), 0);
	CU_ASSERT_EQUAL(c.session_live, live);
	CU_ASSERT_STRING_EQUAL(c.initiator, initiator);
	store_conv_clear(&c);
}

static void
sessions(enum store_mode mode)
{
	char a[IDGEN_ID_MAX], b[IDGEN_ID_MAX], c[IDGEN_ID_MAX], d[IDGEN_ID_MAX];
	struct conv_meta ma, mb, mc, md;
	struct fx f;

	CU_ASSERT_EQUAL_FATAL(fx_open(&f, mode, 0, STORE_SYNC_WRITE), 0);
	CU_ASSERT_EQUAL_FATAL(idgen_make("n1", a), 0);
	CU_ASSERT_EQUAL_FATAL(idgen_make_member(a, b), 0);
	CU_ASSERT_EQUAL_FATAL(idgen_make_member(b, c), 0);
	meta_init(&ma, "flight", 1);
	meta_init(&mb, "hotel", 2);
	meta_init(&mc, "hotel", 3);
	meta_init(&md, "hotel", 4);
	/* Nobody to join yet. */
	CU_ASSERT_EQUAL(commit(f.st, b, STORE_START, &mb, NULL, "urn:b", "<b/>", 1), PARLEY_ENOENT);
	CU_ASSERT_EQUAL(store_live_count(f.st), 0);
	CU_ASSERT_EQUAL(commit(f.st, a, STORE_START, &ma, "trip-0", "urn:a", "<a/>", 1), 0);
	expect_bean(f.st, a, "trip-0", 1, "flight");

	/* b joins a's session: a start without a bean of its own keeps a's. */
	CU_ASSERT_EQUAL(commit(f.st, b, STORE_START, &mb, NULL, "urn:b", "<b/>", 1), 0);
	expect_bean(f.st, b, "trip-0", 2, "flight");
	expect_bean(f.st, a, "trip-0", 2, "flight");
	CU_ASSERT_EQUAL(store_live_count(f.st), 2);
	CU_ASSERT_EQUAL(store_service_count(f.st, "hotel"), 1);

	/* A change through either is the other's too. */
	CU_ASSERT_EQUAL(commit(f.st, b, STORE_UPDATE, &mb, "trip-1", "urn:b1", "<b1/>", 1), 0);
	expect_bean(f.st, a, "trip-1", 2, "flight");
	CU_ASSERT_EQUAL(commit(f.st, a, STORE_UPDATE, &ma, "trip-2", NULL, NULL, 0), 0);
	expect_bean(f.st, b, "trip-2", 2, "flight");

	/* c joins through b (a member): the same session, a third member. */
	CU_ASSERT_EQUAL(commit(f.st, c, STORE_START, &mc, "trip-3", "urn:c", "<c/>", 1), 0);
	expect_bean(f.st, a, "trip-3", 3, "flight");

	/* The initiator finishes, writing its last change: the others keep the bean. */
	CU_ASSERT_EQUAL(commit(f.st, a, STORE_FINISH, &ma, "trip-4", "urn:a9", "<a9/>", 1), 0);
	expect_bean(f.st, b, "trip-4", 2, "flight");
	CU_ASSERT_EQUAL(store_purge(f.st, a), 0);
	expect_bean(f.st, c, "trip-4", 2, "flight");

	/* A member expires; the last one finishes and the bean goes with it. */
	CU_ASSERT_EQUAL(store_expire(f.st, c, 50), 0);
	expect_bean(f.st, b, "trip-4", 1, "flight");
	CU_ASSERT_EQUAL(commit(f.st, b, STORE_FINISH, &mb, NULL, NULL, NULL, 0), 0);
	CU_ASSERT_EQUAL(store_live_count(f.st), 0);
	{
		struct buf x = BUF_INIT;
		CU_ASSERT_EQUAL(get_buf(f.st->beans, NULL, a, strlen(a), &x, 0), PARLEY_ENOENT);
		CU_ASSERT_EQUAL(get_buf(f.st->sessions, NULL, a, strlen(a), &x, 0), PARLEY_ENOENT);
		buf_free(&x);
	}
	/* The session has no live member left: nobody joins it. */
	CU_ASSERT_EQUAL_FATAL(idgen_make_member(a, d), 0);
	CU_ASSERT_EQUAL(commit(f.st, d, STORE_START, &md, NULL, "urn:d", "<d/>", 1), PARLEY_ENOENT);
	CU_ASSERT_EQUAL(store_live_count(f.st), 0);
	conv_meta_clear(&ma);
	conv_meta_clear(&mb);
	conv_meta_clear(&mc);
	conv_meta_clear(&md);
	fx_close(&f);
}

static void
test_sessions(void)
{
	int i;

	for (i = 0; i < NMODES; i++)
		sessions(modes[i]);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "metadata record round trip and rejection of garbage", test_meta_codec },
		{ "expiry by age and by idleness", test_meta_expired },
		{ "open: bad configuration, a directory in use, a file in the way",
		    test_open_errors },
		{ "crash durability: SIGKILL after STORE_SYNC_WRITE commits",
		    test_crash_durability },
		{ "start, load, update, finish; seq convention; ENOENT, EEXIST", test_round_trip },
		{ "retry ring: replay, oldest dropped, start index", test_retry_ring },
		{ "a hash collision never replays another message's answer", test_hash_collision },
		{ "expire keeps answers, purge removes everything", test_expire_purge },
		{ "live counts per service, also after reopening", test_counts },
		{ "a deadlock is retried until both transactions commit", test_deadlock_retry },
		{ "16 threads, own and shared conversations", test_concurrency },
		{ "scan while expiring and purging", test_scan },
		{ "sessions: joined conversations share a bean until the last ends", test_sessions },
		{ NULL, NULL }
	};

	return unit_run("store", tests);
}
