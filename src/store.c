/*
 * store.c - beans and conversation metadata in Berkeley DB (store.h).
 *
 * One transactional environment holds seven btrees: "beans" (session ->
 * bean), "meta" (ID -> meta.h record), "sessions" (session -> live members
 * and the initiating service, for sessions that were joined), "retry" (ID
 * NUL seq -> kept answer), "starts" (start MessageID -> ID), "partners" (ID
 * -> partner) and "outbox" (MessageID -> entry to send; the last two in
 * outbox.h's forms). A conversation's session is read from its ID
 * (idgen.h): its own ID unless it joined another's. Every change is one
 * transaction, retried on deadlock. Live counts per service are kept in
 * memory, built at open and changed only after a commit succeeded.
 *
 * A replicated store (repl.c) is a disk store that serves only while it is
 * its group's master: a client has no database handles open, and every call
 * but the counts takes role_mu shared, so that a role change (which takes it
 * alone) never closes a handle under a running call. Memory and disk stores
 * never touch role_mu.
 */
#include "config.h"

#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "idgen.h"
#include "log.h"
#include "repsite.h"
#include "meta.h"
#include "nodelay.h"
#include "parley.h"
#include "repl.h"
#include "store.h"

#define TXN_TRIES 100                  /* deadlock retries of one transaction */
/*
 * A replicated store may be locked out for a moment while replication
 * changes its state (a promotion, a client joining): a call is then tried
 * again every LOCKOUT_WAIT_NS, for up to 300 ms, and then given up with
 * PARLEY_ETIMEDOUT (the node answers "try again"): a worker that waits
 * longer keeps heartbeats and other conversations waiting.
 */
#define LOCKOUT_TRIES 60
#define LOCKOUT_WAIT_NS 5000000L

/* Set by dbcode when the last failure of this thread was a lockout. */
static _Thread_local int locked_out;
/*
 * Opening a database on a replicated site may meet replication at work
 * (a dead handle, a lockout during a sync): retry for up to 10 s.
 */
#define OPEN_TRIES 200
#define OPEN_RETRY_NS 50000000L
#define SCAN_BATCH 256                 /* conversations per store_scan batch */
#define DEFAULT_CACHE ((size_t)32 << 20)
#define DEFAULT_KEEP 16
/*
 * The in-memory log must hold every open transaction; space of finished ones
 * is reused without a checkpoint (measured: 100,000 commits through it).
 */
#define MEMORY_LOG_BYTES (16u << 20)
#define LOCK_FILE "parley.lock"
#define GIB ((size_t)1 << 30)

/* An answer record in "retry": u8 SOAP version, u32 msgid length, msgid, response. */
#define ANSWER_HEAD 5
/* A record in "sessions": u8 format, u32 live members, u8 length, initiating service. */
#define SESSION_FORMAT 1
#define SESSION_HEAD 6

struct svc_count {
	char name[STORE_SERVICE_MAX];
	unsigned n;
};

struct store {
	DB_ENV *env;
	DB *beans;
	DB *meta;
	DB *sessions;
	DB *retry;
	DB *starts;
	DB *partners;                  /* ID -> partner record (outbox.h) */
	DB *outbox;                    /* MessageID -> outbox entry (outbox.h) */
	enum store_mode mode;
	enum store_sync sync;          /* as configured; a replicated client does not flush */
	unsigned keep;
	struct repl *repl;             /* NULL unless STORE_REPLICATED */
	pthread_rwlock_t role_mu;      /* replicated: calls hold it shared, role changes alone */
	atomic_int serving;            /* replicated: a master with its databases open */
	int env_open;                  /* env->open succeeded */
	int lock_fd;
	/* Set only while store_open runs: Berkeley DB's first message goes here. */
	int opening;
	char dberr[256];
	pthread_mutex_t count_mu;
	struct svc_count *counts;      /* sorted by name; entries may be 0 */
	size_t ncounts;
	size_t capcounts;
	unsigned live;
};

/* ---- errors and transactions --------------------------------------------- */

/*
 * Map a Berkeley DB result to a PARLEY_E* code. Deadlocks become
 * PARLEY_AGAIN, which run_txn retries; unexpected failures are logged here,
 * where the Berkeley DB code is still known.
 */
static int
dbcode(int ret)
{
	switch (ret) {
	case 0:
		return 0;
	case DB_NOTFOUND:
	case DB_KEYEMPTY:
		return PARLEY_ENOENT;
	case DB_KEYEXIST:
		return PARLEY_EEXIST;
	case DB_REP_LOCKOUT:       /* replication at work for a moment (DB_REP_CONF_NOWAIT) */
		locked_out = 1;
		return PARLEY_AGAIN;
	case DB_LOCK_DEADLOCK:
	case DB_LOCK_NOTGRANTED:
		return PARLEY_AGAIN;
	case ENOMEM:
		return PARLEY_ENOMEM;
	default:
		log_warnx("store: Berkeley DB: %s", db_strerror(ret));
		return PARLEY_EIO;
	}
}

static void
db_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	struct store *st = env->app_private;

	(void)pfx;
	if (repsite_expected(msg))
		return;
	if (st != NULL && st->opening) {
		if (st->dberr[0] == '\0')
			snprintf(st->dberr, sizeof st->dberr, "%s", msg);
		return;
	}
	log_warnx("store: Berkeley DB: %s", msg);
}

static void
db_msgcall(const DB_ENV *env, const char *msg)
{
	(void)env;
	log_debug("store: Berkeley DB: %s", msg);
}

/* Replication's events, on its threads or a committing one: repl.c reads them. */
static void
db_event(DB_ENV *env, u_int32_t event, void *info)
{
	struct store *st = env->app_private;

	if (st != NULL && st->repl != NULL)
		repl_event(st->repl, event, info);
}

/*
 * Sleep a short random while before retrying a transaction that lost a
 * deadlock, so that the two losers do not meet again at once.
 */
static void
backoff(unsigned try, uint64_t *seed)
{
	struct timespec ts;
	uint64_t x = *seed;
	unsigned span = try < 20 ? try + 1 : 20;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*seed = x;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(x % (span * 100000u));
	nanosleep(&ts, NULL);
}

typedef int (*txn_body)(struct store *st, DB_TXN *txn, void *arg);

/*
 * Run body in a transaction, committing it when body returns 0 and aborting
 * it otherwise. A body that lost a deadlock (PARLEY_AGAIN) is run again in a
 * new transaction, so it must start from scratch each time. Returns 0,
 * body's failure, PARLEY_EIO when the commit failed or deadlocks went on, or
 * on a replicated master PARLEY_ENOTACKED when it committed without the
 * acknowledgements it needed.
 */
static void
lockout_wait(void)
{
	struct timespec ts = { 0, LOCKOUT_WAIT_NS };

	nanosleep(&ts, NULL);
}

static int
run_txn(struct store *st, txn_body body, void *arg)
{
	struct timespec now;
	uint64_t seed;
	DB_TXN *txn;
	unsigned try, lockouts = 0;
	int rc, ret;

	clock_gettime(CLOCK_MONOTONIC, &now);
	seed = ((uint64_t)(uintptr_t)&now ^ (uint64_t)now.tv_nsec) | 1;
	for (try = 0; try < TXN_TRIES; try++) {
		txn = NULL;
		if ((ret = st->env->txn_begin(st->env, NULL, &txn, 0)) != 0) {
			if (ret == DB_REP_LOCKOUT) {
				/* Replication at work: wait for it, not counted as a deadlock. */
				if (lockouts++ >= LOCKOUT_TRIES)
					return PARLEY_ETIMEDOUT;
				try--;
				lockout_wait();
				continue;
			}
			return dbcode(ret) == PARLEY_ENOMEM ? PARLEY_ENOMEM : PARLEY_EIO;
		}
		locked_out = 0;
		rc = body(st, txn, arg);
		if (rc != 0) {
			if ((ret = txn->abort(txn)) != 0) {
				log_warnx("store: abort: %s", db_strerror(ret));
				return PARLEY_EIO;
			}
			if (rc != PARLEY_AGAIN)
				return rc;
			if (locked_out) {
				locked_out = 0;
				if (lockouts++ >= LOCKOUT_TRIES)
					return PARLEY_ETIMEDOUT;
				try--;
				lockout_wait();
				continue;
			}
			locked_out = 0;
			backoff(try, &seed);
			continue;
		}
		if (st->repl != NULL)
			repl_commit_begin();
		/* The handle is gone after commit, whatever it returns. */
		if ((ret = txn->commit(txn, 0)) != 0) {
			log_warnx("store: commit: %s", db_strerror(ret));
			return PARLEY_EIO;
		}
		if (st->repl != NULL && repl_commit_failed())
			return PARLEY_ENOTACKED;
		return 0;
	}
	log_warnx("store: a transaction lost %d deadlocks in a row; giving up", TXN_TRIES);
	return PARLEY_EIO;
}

/*
 * Run body without a transaction, again when it lost a deadlock to a writer
 * (each read is still locked for its own duration). Returns what body does,
 * or PARLEY_EIO when deadlocks went on.
 */
static int
run_plain(struct store *st, txn_body body, void *arg)
{
	struct timespec now;
	uint64_t seed;
	unsigned try;
	int rc;

	/*
	 * Replicated: a read outside a transaction that meets replication at
	 * work sleeps 5 s inside Berkeley DB; in one it returns at once (and
	 * is tried again here), so reads take a transaction of their own.
	 */
	if (st->repl != NULL)
		return run_txn(st, body, arg);

	clock_gettime(CLOCK_MONOTONIC, &now);
	seed = ((uint64_t)(uintptr_t)&now ^ (uint64_t)now.tv_nsec) | 1;
	for (try = 0; try < TXN_TRIES; try++) {
		rc = body(st, NULL, arg);
		if (rc != PARLEY_AGAIN)
			return rc;
		backoff(try, &seed);
	}
	log_warnx("store: a read lost %d deadlocks in a row; giving up", TXN_TRIES);
	return PARLEY_EIO;
}

/* ---- keys and records ------------------------------------------------------ */

static void
set_dbt(DBT *d, const void *data, size_t len)
{
	memset(d, 0, sizeof *d);
	d->data = (void *)(uintptr_t)data;
	d->size = (u_int32_t)len;
}

/* FNV-1a, 64 bits: the ring's hash of a MessageID. */
static uint64_t
msgid_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * The key of an answer: ID, NUL, then the ring slot of its seq (seq modulo
 * retry_keep, big-endian), so one ID's answers are adjacent and a new answer
 * overwrites the one leaving the ring instead of a put and a delete. A slot
 * read after retry_keep changed may hold another message's answer: the
 * MessageID kept with each answer is compared before it is used.
 */
static int
answer_key(struct buf *k, const char *id, uint64_t slot)
{
	unsigned char be[9];
	int i;

	be[0] = '\0';
	for (i = 0; i < 8; i++)
		be[1 + i] = (unsigned char)(slot >> (56 - 8 * i));
	buf_reset(k);
	if (buf_puts(k, id) != 0 || buf_append(k, be, sizeof be) != 0)
		return PARLEY_ENOMEM;
	return 0;
}

static int
answer_encode(struct buf *out, int soap, const char *msgid, const void *resp, size_t rlen)
{
	size_t mlen = strlen(msgid);
	unsigned char head[ANSWER_HEAD];

	if (mlen > UINT32_MAX)
		return PARLEY_EINVAL;
	head[0] = (unsigned char)soap;
	head[1] = (unsigned char)(mlen >> 24);
	head[2] = (unsigned char)(mlen >> 16);
	head[3] = (unsigned char)(mlen >> 8);
	head[4] = (unsigned char)mlen;
	buf_reset(out);
	if (buf_append(out, head, sizeof head) != 0 || buf_append(out, msgid, mlen) != 0 ||
	    buf_append(out, resp, rlen) != 0)
		return PARLEY_ENOMEM;
	return 0;
}

/* Point into an answer record; PARLEY_EIO when it is not one. */
static int
answer_decode(const char *p, size_t len, int *soap, const char **msgid, size_t *mlen,
    const char **resp, size_t *rlen)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t n;

	if (len < ANSWER_HEAD || (u[0] != 1 && u[0] != 2))
		return PARLEY_EIO;
	n = (size_t)u[1] << 24 | (size_t)u[2] << 16 | (size_t)u[3] << 8 | u[4];
	if (n > len - ANSWER_HEAD)
		return PARLEY_EIO;
	*soap = u[0];
	*msgid = p + ANSWER_HEAD;
	*mlen = n;
	*resp = p + ANSWER_HEAD + n;
	*rlen = len - ANSWER_HEAD - n;
	return 0;
}

/*
 * Read the record at key into out (reset first; NUL-terminated). The bytes
 * land in out's own memory, so threads share no buffer with Berkeley DB.
 */
static int
get_buf(DB *db, DB_TXN *txn, const void *key, size_t klen, struct buf *out, u_int32_t flags)
{
	DBT k, d;
	int ret, rc;

	buf_reset(out);
	if ((rc = buf_reserve(out, 1)) != 0)
		return rc;
	for (;;) {
		set_dbt(&k, key, klen);
		memset(&d, 0, sizeof d);
		d.data = out->data;
		d.ulen = out->cap - 1 > UINT32_MAX ? UINT32_MAX : (u_int32_t)(out->cap - 1);
		d.flags = DB_DBT_USERMEM;
		ret = db->get(db, txn, &k, &d, flags);
		if (ret == DB_BUFFER_SMALL) {
			if ((rc = buf_reserve(out, d.size)) != 0)
				return rc;
			continue;
		}
		if (ret != 0)
			return dbcode(ret);
		out->len = d.size;
		out->data[out->len] = '\0';
		return 0;
	}
}

static int
put_rec(DB *db, DB_TXN *txn, const void *key, size_t klen, const void *data, size_t dlen,
    u_int32_t flags)
{
	DBT k, d;

	set_dbt(&k, key, klen);
	set_dbt(&d, data, dlen);
	return dbcode(db->put(db, txn, &k, &d, flags));
}

/* Delete key; a missing key is not an error. */
static int
del_rec(DB *db, DB_TXN *txn, const void *key, size_t klen)
{
	DBT k;
	int ret;

	set_dbt(&k, key, klen);
	ret = db->del(db, txn, &k, 0);
	return ret == DB_NOTFOUND ? 0 : dbcode(ret);
}

/* Read and decode the metadata of id into m (which holds nothing). */
static int
get_meta(struct store *st, DB_TXN *txn, const char *id, struct conv_meta *m,
    struct buf *scratch, u_int32_t flags)
{
	int rc;

	if ((rc = get_buf(st->meta, txn, id, strlen(id), scratch, flags)) != 0)
		return rc;
	if ((rc = conv_meta_decode(scratch->data, scratch->len, m)) == PARLEY_EIO)
		log_warnx("store: the metadata of conversation %s is damaged", id);
	return rc;
}

struct session_rec {
	uint32_t live;                 /* live member conversations */
	char initiator[STORE_SERVICE_MAX];
};

/*
 * Read the record of session into r. Returns 0, PARLEY_ENOENT when the
 * session was never joined (its one conversation is all of it), PARLEY_EIO
 * for a damaged record.
 */
static int
get_session(struct store *st, DB_TXN *txn, const char *session, struct session_rec *r,
    struct buf *scratch, u_int32_t flags)
{
	const unsigned char *p;
	size_t n;
	int rc;

	if ((rc = get_buf(st->sessions, txn, session, strlen(session), scratch, flags)) != 0)
		return rc;
	p = (const unsigned char *)scratch->data;
	if (scratch->len < SESSION_HEAD || p[0] != SESSION_FORMAT ||
	    (n = p[5]) >= STORE_SERVICE_MAX || scratch->len != SESSION_HEAD + n) {
		log_warnx("store: the session record of %s is damaged", session);
		return PARLEY_EIO;
	}
	r->live = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	memcpy(r->initiator, p + SESSION_HEAD, n);
	r->initiator[n] = '\0';
	return 0;
}

static int
put_session(struct store *st, DB_TXN *txn, const char *session, const struct session_rec *r)
{
	unsigned char rec[SESSION_HEAD + STORE_SERVICE_MAX];
	size_t n = strlen(r->initiator);

	rec[0] = SESSION_FORMAT;
	rec[1] = (unsigned char)(r->live >> 24);
	rec[2] = (unsigned char)(r->live >> 16);
	rec[3] = (unsigned char)(r->live >> 8);
	rec[4] = (unsigned char)r->live;
	rec[5] = (unsigned char)n;
	memcpy(rec + SESSION_HEAD, r->initiator, n);
	return put_rec(st->sessions, txn, session, strlen(session), rec, SESSION_HEAD + n, 0);
}

/*
 * A live member of session ends (finish or expiry): the bean goes with the
 * last one. A session never joined has one member, so its bean goes now.
 */
static int
session_leave(struct store *st, DB_TXN *txn, const char *session, struct buf *scratch)
{
	struct session_rec r;
	int rc;

	rc = get_session(st, txn, session, &r, scratch, DB_RMW);
	if (rc == PARLEY_ENOENT)
		return del_rec(st->beans, txn, session, strlen(session));
	if (rc != 0)
		return rc;
	if (r.live > 1) {
		r.live--;
		return put_session(st, txn, session, &r);
	}
	if ((rc = del_rec(st->sessions, txn, session, strlen(session))) != 0)
		return rc;
	return del_rec(st->beans, txn, session, strlen(session));
}

/*
 * A new conversation joins session: the session must have a live member
 * (the one whose ID it is, when never joined before). Returns 0,
 * PARLEY_ENOENT when nobody is left to share the bean with, or a store error.
 */
static int
session_join(struct store *st, DB_TXN *txn, const char *session, struct buf *scratch)
{
	struct session_rec r;
	struct conv_meta owner;
	int rc;

	memset(&r, 0, sizeof r);
	rc = get_session(st, txn, session, &r, scratch, DB_RMW);
	if (rc == 0) {
		if (r.live == 0)
			return PARLEY_ENOENT;
		r.live++;
		return put_session(st, txn, session, &r);
	}
	if (rc != PARLEY_ENOENT)
		return rc;
	memset(&owner, 0, sizeof owner);
	if ((rc = get_meta(st, txn, session, &owner, scratch, DB_RMW)) != 0)
		return rc;
	if (owner.state != CONV_LIVE) {
		conv_meta_clear(&owner);
		return PARLEY_ENOENT;
	}
	r.live = 2;
	memcpy(r.initiator, owner.service, sizeof r.initiator);
	conv_meta_clear(&owner);
	return put_session(st, txn, session, &r);
}

/*
 * Find the answer kept in conversation id (metadata m) for msgid. A ring
 * entry only says where to look: the stored MessageID must match byte for
 * byte, so a hash collision never returns another message's answer.
 * Returns 0 with the answer in resp and its SOAP version in *soap, or
 * PARLEY_ENOENT when none is kept.
 */
static int
find_answer(struct store *st, DB_TXN *txn, const char *id, const struct conv_meta *m,
    const char *msgid, struct buf *resp, int *soap, struct buf *scratch)
{
	struct buf key = BUF_INIT;
	uint64_t h = msgid_hash(msgid);
	size_t want = strlen(msgid), mlen, rlen;
	const char *mp, *rp;
	unsigned i;
	int rc = PARLEY_ENOENT, v;

	/* Newest first: a MessageID answered twice replays its latest answer. */
	for (i = m->ring_len; i-- > 0;) {
		if (m->ring_hash[i] != h)
			continue;
		if ((rc = answer_key(&key, id, m->ring_seq[i] % st->keep)) != 0)
			goto fail;
		rc = get_buf(st->retry, txn, key.data, key.len, scratch, 0);
		if (rc == PARLEY_ENOENT)
			continue;
		if (rc != 0)
			goto fail;
		rc = answer_decode(scratch->data, scratch->len, &v, &mp, &mlen, &rp, &rlen);
		if (rc != 0) {
			log_warnx("store: an answer kept by conversation %s is damaged", id);
			goto fail;
		}
		if (mlen != want || memcmp(mp, msgid, want) != 0) {
			rc = PARLEY_ENOENT;
			continue;
		}
		buf_reset(resp);
		if (buf_append(resp, rp, rlen) != 0) {
			rc = PARLEY_ENOMEM;
			goto fail;
		}
		*soap = v;
		rc = 0;
		goto fail;
	}
	rc = PARLEY_ENOENT;
fail:
	buf_free(&key);
	return rc;
}

/* ---- live counts ------------------------------------------------------------ */

/* The slot of service, or where it would go; called with count_mu held. */
static size_t
count_slot(const struct store *st, const char *service, int *found)
{
	size_t lo = 0, hi = st->ncounts, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(st->counts[mid].name, service);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

/*
 * Make sure service has a counter, so that the increment after a commit
 * cannot fail for memory. Returns 0 or PARLEY_ENOMEM.
 */
static int
count_reserve(struct store *st, const char *service)
{
	struct svc_count *p;
	size_t i, cap;
	int found, rc = 0;

	pthread_mutex_lock(&st->count_mu);
	i = count_slot(st, service, &found);
	if (found)
		goto done;
	if (st->ncounts == st->capcounts) {
		cap = st->capcounts ? st->capcounts * 2 : 8;
		p = realloc(st->counts, cap * sizeof *p);
		if (p == NULL) {
			rc = PARLEY_ENOMEM;
			goto done;
		}
		st->counts = p;
		st->capcounts = cap;
	}
	memmove(&st->counts[i + 1], &st->counts[i], (st->ncounts - i) * sizeof *st->counts);
	memset(&st->counts[i], 0, sizeof *st->counts);
	snprintf(st->counts[i].name, sizeof st->counts[i].name, "%s", service);
	st->ncounts++;
done:
	pthread_mutex_unlock(&st->count_mu);
	return rc;
}

/* Count one conversation of service in (+1) or out (-1) after a commit. */
static void
count_add(struct store *st, const char *service, int delta)
{
	size_t i;
	int found;

	pthread_mutex_lock(&st->count_mu);
	i = count_slot(st, service, &found);
	if (found && delta > 0) {
		st->counts[i].n++;
		st->live++;
	} else if (found && st->counts[i].n > 0) {
		st->counts[i].n--;
		st->live--;
	}
	pthread_mutex_unlock(&st->count_mu);
}

unsigned
store_live_count(struct store *st)
{
	unsigned n;

	pthread_mutex_lock(&st->count_mu);
	n = st->live;
	pthread_mutex_unlock(&st->count_mu);
	return n;
}

unsigned
store_service_count(struct store *st, const char *service)
{
	unsigned n = 0;
	size_t i;
	int found;

	pthread_mutex_lock(&st->count_mu);
	i = count_slot(st, service, &found);
	if (found)
		n = st->counts[i].n;
	pthread_mutex_unlock(&st->count_mu);
	return n;
}

void
store_each_service(struct store *st, void (*cb)(void *arg, const char *service, unsigned n),
    void *arg)
{
	size_t i;

	pthread_mutex_lock(&st->count_mu);
	for (i = 0; i < st->ncounts; i++)
		if (st->counts[i].n > 0)
			cb(arg, st->counts[i].name, st->counts[i].n);
	pthread_mutex_unlock(&st->count_mu);
}

/* ---- open and close ------------------------------------------------------------ */

/* mkdir -p path, mode 0700 for what it creates. */
static int
make_dirs(const char *path, char *err, size_t errlen)
{
	struct stat sb;
	char *p, *s, c;
	int rc = PARLEY_EIO;

	if ((p = strdup(path)) == NULL)
		return PARLEY_ENOMEM;
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			snprintf(err, errlen,
			    "cannot create store directory %s: %s - check data_dir",
			    p, strerror(errno));
			goto fail;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "store directory %s is not a directory - check data_dir",
		    path);
		goto fail;
	}
	rc = 0;
fail:
	free(p);
	return rc;
}

/*
 * Hold the directory's lock file for as long as the store is open. Recovery
 * at open would wreck an environment another process is using, and Berkeley
 * DB does not notice that by itself, so a second user is refused here.
 * A replicated store's lock file lies beside its directory (HOME.lock):
 * replication reads every file in the directory as a database and warns
 * about any other.
 */
static int
lock_home(struct store *st, const char *home, char *err, size_t errlen)
{
	char path[4096], pid[32];
	ssize_t n;
	int fd;

	if ((size_t)(st->mode == STORE_REPLICATED ?
	    snprintf(path, sizeof path, "%s.lock", home) :
	    snprintf(path, sizeof path, "%s/%s", home, LOCK_FILE)) >= sizeof path) {
		snprintf(err, errlen, "store directory name %s is too long", home);
		return PARLEY_EINVAL;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s - check data_dir's owner and mode",
		    path, strerror(errno));
		return PARLEY_EIO;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		n = e == EWOULDBLOCK ? pread(fd, pid, sizeof pid - 1, 0) : -1;
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (e == EWOULDBLOCK && strtol(pid, NULL, 10) == (long)getpid())
			snprintf(err, errlen, "store directory %s is already open in this process"
			    " - give each store its own directory", home);
		else if (e == EWOULDBLOCK)
			snprintf(err, errlen,
			    "store directory %s is in use by another process%s%s%s"
			    " - stop it, or give this node its own data_dir", home,
			    pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
		else
			snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
		close(fd);
		return PARLEY_EIO;
	}
	/* The pid is only for the message above; failing to write it is harmless. */
	if (ftruncate(fd, 0) == 0) {
		n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
		if (pwrite(fd, pid, (size_t)n, 0) != n)
			log_debug("store: cannot write the pid to %s", path);
	}
	st->lock_fd = fd;
	return 0;
}

/* Open database name once; returns 0 or Berkeley DB's code. */
static int
open_db_once(struct store *st, DB **out, const char *name)
{
	char file[64];
	DB_MPOOLFILE *mpf;
	DB *db = NULL;
	int ret;

	if ((ret = db_create(&db, st->env, 0)) != 0)
		goto fail;
	/*
	 * Kept answers are whole SOAP envelopes, about a kilobyte: on 4 KB
	 * pages each would sit on an overflow page of its own, allocated and
	 * logged at every message. 16 KB pages keep answers up to 4 KB inline.
	 */
	if (strcmp(name, "retry") == 0 && (ret = db->set_pagesize(db, 16384)) != 0)
		goto fail;
	if (st->mode == STORE_MEMORY) {
		/* Without this a full cache would spill the database to a temporary file. */
		mpf = db->get_mpf(db);
		if ((ret = mpf->set_flags(mpf, DB_MPOOL_NOFILE, 1)) != 0)
			goto fail;
		/*
		 * Nothing of a memory store outlives the process: log records
		 * would buy nothing but their cost. Transactions stay atomic.
		 */
		if ((ret = db->set_flags(db, DB_TXN_NOT_DURABLE)) != 0)
			goto fail;
		ret = db->open(db, NULL, NULL, name, DB_BTREE,
		    DB_CREATE | DB_AUTO_COMMIT | DB_THREAD, 0600);
	} else {
		snprintf(file, sizeof file, "%s.db", name);
		ret = db->open(db, NULL, file, NULL, DB_BTREE,
		    DB_CREATE | DB_AUTO_COMMIT | DB_THREAD, 0600);
	}
	if (ret != 0)
		goto fail;
	*out = db;
	return 0;

fail:
	if (db != NULL)
		db->close(db, 0);
	return ret;
}

/* Whether opening a replicated database may succeed when tried again. */
static int
open_retryable(int ret)
{
	return ret == ENOENT || ret == DB_REP_HANDLE_DEAD || ret == DB_REP_LOCKOUT ||
	    ret == DB_LOCK_DEADLOCK || ret == DB_LOCK_NOTGRANTED;
}

static int
open_db(struct store *st, DB **out, const char *name, char *err, size_t errlen)
{
	struct timespec pause = { 0, OPEN_RETRY_NS };
	unsigned try;
	int ret;

	for (try = 0;; try++) {
		if ((ret = open_db_once(st, out, name)) == 0)
			return 0;
		if (st->repl == NULL || !open_retryable(ret) || try + 1 >= OPEN_TRIES)
			break;
		nanosleep(&pause, NULL);
	}
	snprintf(err, errlen, "cannot open the store's %s database: %s%s%s%s", name,
	    db_strerror(ret), st->dberr[0] ? " (" : "", st->dberr, st->dberr[0] ? ")" : "");
	return ret == ENOMEM ? PARLEY_ENOMEM : PARLEY_EIO;
}

static int
count_one(void *arg, const char *id, const struct conv_meta *m)
{
	struct store *st = arg;

	(void)id;
	if (m->state != CONV_LIVE)
		return 0;
	if (count_reserve(st, m->service) != 0)
		return PARLEY_ENOMEM;
	count_add(st, m->service, 1);
	return 0;
}

/*
 * Set how commits reach the disk on env (open or not): the configured sync,
 * but never a flush on a replicated client, which would fsync every commit it
 * applies (its copy is the master's; a lost tail is sent again). The flag
 * not wanted is cleared first, as the two exclude each other.
 */
static int
apply_sync(DB_ENV *env, enum store_sync sync, int client)
{
	int nosync = client || sync == STORE_SYNC_NONE;
	int write_nosync = !client && sync == STORE_SYNC_WRITE;
	int ret;

	if (!nosync && (ret = env->set_flags(env, DB_TXN_NOSYNC, 0)) != 0)
		return ret;
	if (!write_nosync && (ret = env->set_flags(env, DB_TXN_WRITE_NOSYNC, 0)) != 0)
		return ret;
	if (nosync && (ret = env->set_flags(env, DB_TXN_NOSYNC, 1)) != 0)
		return ret;
	if (write_nosync && (ret = env->set_flags(env, DB_TXN_WRITE_NOSYNC, 1)) != 0)
		return ret;
	return 0;
}

static int
open_env(struct store *st, const struct store_config *cfg, char *err, size_t errlen)
{
	size_t cache = cfg->cache_bytes ? cfg->cache_bytes : DEFAULT_CACHE;
	u_int32_t flags = DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG |
	    DB_INIT_MPOOL | DB_THREAD;
	DB_ENV *env;
	int ret, rc;

	if ((ret = db_env_create(&st->env, 0)) != 0)
		goto fail;
	env = st->env;
	env->app_private = st;
	env->set_errcall(env, db_errcall);
	env->set_msgcall(env, db_msgcall);
	if ((ret = env->set_cachesize(env, (u_int32_t)(cache / GIB), (u_int32_t)(cache % GIB),
	    1)) != 0 ||
	    (ret = env->set_lk_detect(env, DB_LOCK_DEFAULT)) != 0)
		goto fail;
	if (st->mode == STORE_MEMORY) {
		flags |= DB_PRIVATE;
		if ((ret = env->log_set_config(env, DB_LOG_IN_MEMORY, 1)) != 0 ||
		    (ret = env->set_lg_bsize(env, MEMORY_LOG_BYTES)) != 0)
			goto fail;
	} else {
		/* This process is the environment's only user (lock_home): recover every time. */
		flags |= DB_RECOVER;
		if ((ret = env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1)) != 0 ||
		    (ret = apply_sync(env, cfg->sync, st->mode == STORE_REPLICATED &&
		    cfg->repl->role == STORE_CLIENT)) != 0)
			goto fail;
	}
	if (st->mode == STORE_REPLICATED) {
		flags |= DB_INIT_REP;
		if ((ret = env->set_event_notify(env, db_event)) != 0)
			goto fail;
		if ((rc = repl_create(&st->repl, env, st, cfg->repl, err, errlen)) != 0)
			return rc;
	}
	if ((ret = env->open(env, st->mode == STORE_MEMORY ? NULL : cfg->home, flags, 0600)) != 0)
		goto fail;
	st->env_open = 1;
	return 0;

fail:
	if (st->mode == STORE_MEMORY)
		snprintf(err, errlen, "cannot create the in-memory store: %s%s%s%s%s",
		    db_strerror(ret), st->dberr[0] ? " (" : "", st->dberr, st->dberr[0] ? ")" : "",
		    ret == ENOMEM ? " - lower cache_bytes" : "");
	else
		snprintf(err, errlen, "cannot open the store in %s: %s%s%s%s", cfg->home,
		    db_strerror(ret), st->dberr[0] ? " (" : "", st->dberr, st->dberr[0] ? ")" : "");
	return ret == ENOMEM ? PARLEY_ENOMEM : PARLEY_EIO;
}

/*
 * Checkpoint a disk or replicated environment; returns Berkeley DB's code.
 * A checkpoint is a no-op on a replication client, whose applied commits
 * are not flushed either (DB_TXN_NOSYNC): there the log is flushed instead,
 * so that the client's copy is on disk up to now, and recovery at its next
 * open replays it. Without this a client closed cleanly lost its unflushed
 * tail, commits it had acknowledged among them.
 */
static int
checkpoint(struct store *st)
{
	if (st->repl != NULL && !repl_is_master(st->repl))
		return st->env->log_flush(st->env, NULL);
	return st->env->txn_checkpoint(st->env, 0, 0, 0);
}

/* Open the databases (creating them). Returns 0 or a PARLEY_E* code with err set. */
static int
open_dbs(struct store *st, char *err, size_t errlen)
{
	int rc;

	if ((rc = open_db(st, &st->meta, "meta", err, errlen)) != 0 ||
	    (rc = open_db(st, &st->sessions, "sessions", err, errlen)) != 0 ||
	    (rc = open_db(st, &st->beans, "beans", err, errlen)) != 0 ||
	    (rc = open_db(st, &st->retry, "retry", err, errlen)) != 0 ||
	    (rc = open_db(st, &st->starts, "starts", err, errlen)) != 0 ||
	    (rc = open_db(st, &st->partners, "partners", err, errlen)) != 0 ||
	    (rc = open_db(st, &st->outbox, "outbox", err, errlen)) != 0)
		return rc;
	return 0;
}

/* Close the databases that are open; a failure is logged (the handles are gone anyway). */
static void
close_dbs(struct store *st)
{
	DB **dbs[7];
	int i, ret;

	dbs[0] = &st->starts;
	dbs[1] = &st->retry;
	dbs[2] = &st->beans;
	dbs[3] = &st->sessions;
	dbs[4] = &st->meta;
	dbs[5] = &st->partners;
	dbs[6] = &st->outbox;
	for (i = 0; i < 7; i++) {
		if (*dbs[i] != NULL && (ret = (*dbs[i])->close(*dbs[i], 0)) != 0)
			log_warnx("store: closing a database: %s", db_strerror(ret));
		*dbs[i] = NULL;
	}
}

/* Forget every live count (a replicated store that stops serving). */
static void
count_clear(struct store *st)
{
	size_t i;

	pthread_mutex_lock(&st->count_mu);
	for (i = 0; i < st->ncounts; i++)
		st->counts[i].n = 0;
	st->live = 0;
	pthread_mutex_unlock(&st->count_mu);
}

static int scan_all(struct store *st, int (*cb)(void *arg, const char *id,
    const struct conv_meta *m), void *arg, int guarded);

/* Count the live conversations of an open store, from zero. */
static int
count_all(struct store *st, char *err, size_t errlen)
{
	int rc;

	count_clear(st);
	if ((rc = scan_all(st, count_one, st, 0)) != 0)
		snprintf(err, errlen, "cannot count the stored conversations: %s",
		    parley_strerror(rc));
	return rc;
}

static int
check_config(const struct store_config *cfg, char *err, size_t errlen)
{
	if (cfg->mode != STORE_MEMORY && cfg->mode != STORE_DISK &&
	    cfg->mode != STORE_REPLICATED) {
		snprintf(err, errlen, "unknown store mode %d", (int)cfg->mode);
		return PARLEY_EINVAL;
	}
	if (cfg->sync != STORE_SYNC_FULL && cfg->sync != STORE_SYNC_WRITE &&
	    cfg->sync != STORE_SYNC_NONE) {
		snprintf(err, errlen, "unknown store sync %d", (int)cfg->sync);
		return PARLEY_EINVAL;
	}
	if (cfg->retry_keep > STORE_RING_MAX) {
		snprintf(err, errlen, "retry_keep %u is over the most the store keeps, %d",
		    cfg->retry_keep, STORE_RING_MAX);
		return PARLEY_EINVAL;
	}
	if (cfg->mode != STORE_MEMORY && (cfg->home == NULL || cfg->home[0] == '\0')) {
		snprintf(err, errlen, "a disk store needs a directory - set data_dir");
		return PARLEY_EINVAL;
	}
	if (cfg->mode == STORE_REPLICATED && cfg->repl == NULL) {
		snprintf(err, errlen, "a replicated store needs its replication settings");
		return PARLEY_EINVAL;
	}
	return 0;
}

int
store_open(struct store **out, const struct store_config *cfg, char *err, size_t errlen)
{
	struct store *st = NULL;
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if ((rc = check_config(cfg, err, errlen)) != 0)
		return rc;
	if ((st = calloc(1, sizeof *st)) == NULL) {
		snprintf(err, errlen, "out of memory opening the store");
		return PARLEY_ENOMEM;
	}
	st->lock_fd = -1;
	st->mode = cfg->mode;
	st->sync = cfg->sync;
	st->keep = cfg->retry_keep ? cfg->retry_keep : DEFAULT_KEEP;
	st->opening = 1;
	if (pthread_mutex_init(&st->count_mu, NULL) != 0) {
		free(st);
		snprintf(err, errlen, "cannot create a mutex for the store");
		return PARLEY_ENOMEM;
	}
	if (pthread_rwlock_init(&st->role_mu, NULL) != 0) {
		pthread_mutex_destroy(&st->count_mu);
		free(st);
		snprintf(err, errlen, "cannot create a lock for the store");
		return PARLEY_ENOMEM;
	}
	if (st->mode != STORE_MEMORY) {
		if ((rc = make_dirs(cfg->home, err, errlen)) != 0 ||
		    (rc = lock_home(st, cfg->home, err, errlen)) != 0)
			goto fail;
	}
	if ((rc = open_env(st, cfg, err, errlen)) != 0)
		goto fail;
	if (st->repl != NULL) {
		/* Replication logs from its own threads from now on: nothing is kept for err. */
		st->opening = 0;
		/* The interposed connect() and accept() must be linked in: see nodelay.c. */
		(void)nodelay_linked();
		if ((rc = repl_start(st->repl, err, errlen)) != 0)
			goto fail;
		/* A client opens its databases when it is promoted: it serves nothing before. */
		if (!repl_is_master(st->repl)) {
			*out = st;
			return 0;
		}
	}
	if ((rc = open_dbs(st, err, errlen)) != 0)
		goto fail;
	st->opening = 0;
	if ((rc = count_all(st, err, errlen)) != 0)
		goto fail;
	if (st->repl != NULL)
		atomic_store(&st->serving, 1);
	*out = st;
	return 0;

fail:
	st->opening = 0;
	store_close(st);
	return rc;
}

void
store_close(struct store *st)
{
	int ret;

	if (st == NULL)
		return;
	repl_stop(st->repl);
	if (st->env_open && st->mode != STORE_MEMORY && (st->starts != NULL || st->repl != NULL) &&
	    (ret = checkpoint(st)) != 0)
		log_warnx("store: checkpoint at close: %s", db_strerror(ret));
	close_dbs(st);
	/* Closing a replicated environment also stops replication's threads. */
	if (st->env != NULL && (ret = st->env->close(st->env, 0)) != 0)
		log_warnx("store: closing the environment: %s", db_strerror(ret));
	repl_free(st->repl);
	/* Closing the descriptor releases the directory's lock. */
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	pthread_rwlock_destroy(&st->role_mu);
	pthread_mutex_destroy(&st->count_mu);
	free(st->counts);
	free(st);
}

int
store_checkpoint(struct store *st)
{
	int ret;

	if (st->mode == STORE_MEMORY)
		return 0;
	if ((ret = checkpoint(st)) != 0) {
		log_warnx("store: checkpoint: %s", db_strerror(ret));
		return PARLEY_EIO;
	}
	return 0;
}

/* ---- roles (replicated stores) -------------------------------------------------- */

/*
 * Let a call in on a replicated store: it holds role_mu shared until
 * serve_leave, and the store must be a serving master. Memory and disk
 * stores never come here. Returns 0 or PARLEY_ESTATE (nothing held then).
 */
static int
serve_enter(struct store *st)
{
	pthread_rwlock_rdlock(&st->role_mu);
	if (atomic_load(&st->serving) && repl_is_master(st->repl))
		return 0;
	pthread_rwlock_unlock(&st->role_mu);
	return PARLEY_ESTATE;
}

static void
serve_leave(struct store *st)
{
	pthread_rwlock_unlock(&st->role_mu);
}

/* Stop serving: no handles, no counts. Called with role_mu held alone. */
static void
stop_serving(struct store *st)
{
	atomic_store(&st->serving, 0);
	close_dbs(st);
	count_clear(st);
}

int
store_promote(struct store *st, char *err, size_t errlen)
{
	int ret, rc = 0;

	if (errlen > 0)
		err[0] = '\0';
	if (st->repl == NULL) {
		snprintf(err, errlen, "only a replicated store can be promoted");
		return PARLEY_EINVAL;
	}
	pthread_rwlock_wrlock(&st->role_mu);
	if (atomic_load(&st->serving) && repl_is_master(st->repl))
		goto done;
	/* Handles of a master that met another may be dead: open them afresh. */
	stop_serving(st);
	if ((rc = repl_promote(st->repl, err, errlen)) != 0)
		goto done;
	if ((ret = apply_sync(st->env, st->sync, 0)) != 0) {
		snprintf(err, errlen, "cannot set the sync of the promoted store: %s",
		    db_strerror(ret));
		rc = PARLEY_EIO;
		goto done;
	}
	/* Its databases' opening waits for no copy: the old master may be frozen, not gone. */
	(void)repl_quiet_acks(st->repl, 1);
	rc = open_dbs(st, err, errlen);
	(void)repl_quiet_acks(st->repl, 0);
	if (rc != 0 || (rc = count_all(st, err, errlen)) != 0)
		goto done;
	atomic_store(&st->serving, 1);
done:
	if (rc != 0)
		stop_serving(st);
	pthread_rwlock_unlock(&st->role_mu);
	return rc;
}

int
store_demote(struct store *st, char *err, size_t errlen)
{
	int ret, rc = 0;

	if (errlen > 0)
		err[0] = '\0';
	if (st->repl == NULL) {
		snprintf(err, errlen, "only a replicated store can be demoted");
		return PARLEY_EINVAL;
	}
	pthread_rwlock_wrlock(&st->role_mu);
	if (!atomic_load(&st->serving) && !repl_is_master(st->repl))
		goto done;
	stop_serving(st);
	if ((ret = apply_sync(st->env, st->sync, 1)) != 0) {
		snprintf(err, errlen, "cannot set the sync of the demoted store: %s",
		    db_strerror(ret));
		rc = PARLEY_EIO;
		goto done;
	}
	rc = repl_demote(st->repl, err, errlen);
done:
	pthread_rwlock_unlock(&st->role_mu);
	return rc;
}

int
store_set_secondaries(struct store *st, const char *const *hosts, const unsigned *ports,
    size_t n, char *err, size_t errlen)
{
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	if (st->repl == NULL) {
		snprintf(err, errlen, "only a replicated store has secondaries");
		return PARLEY_EINVAL;
	}
	if ((rc = serve_enter(st)) != 0) {
		snprintf(err, errlen, "only a master can change its group");
		return rc;
	}
	rc = repl_set_secondaries(st->repl, hosts, ports, n, err, errlen);
	serve_leave(st);
	return rc;
}

int
store_is_master(struct store *st)
{
	return st->repl != NULL && atomic_load(&st->serving) && repl_is_master(st->repl);
}

int
store_is_synced(struct store *st)
{
	return st->repl != NULL && (store_is_master(st) || repl_is_synced(st->repl));
}

int
store_repl_stats(struct store *st, struct store_repl_stats *out)
{
	int rc;

	if (st->repl == NULL)
		return PARLEY_EINVAL;
	rc = repl_stats(st->repl, out);
	/* A master that is not serving yet (or any more) is not one to the caller. */
	out->role = store_is_master(st) ? STORE_MASTER : STORE_CLIENT;
	out->synced = store_is_synced(st);
	return rc;
}

/* ---- load and find ---------------------------------------------------------------- */

void
store_conv_clear(struct store_conv *c)
{
	conv_meta_clear(&c->meta);
	buf_free(&c->bean);
	buf_free(&c->response);
	memset(c, 0, sizeof *c);
}

struct load_op {
	const char *id;
	const char *msgid;
	struct store_conv *out;
	struct buf scratch;
};

static int
load_body(struct store *st, DB_TXN *txn, void *arg)
{
	struct load_op *op = arg;
	struct store_conv *out = op->out;

	struct session_rec r;
	char session[IDGEN_SESSION_MAX];
	int rc;

	conv_meta_clear(&out->meta);
	buf_reset(&out->response);
	out->replay = 0;
	out->replay_soap = 0;
	if ((rc = get_meta(st, txn, op->id, &out->meta, &op->scratch, 0)) != 0)
		return rc;
	idgen_session_key(op->id, session);
	rc = get_session(st, txn, session, &r, &op->scratch, 0);
	if (rc == PARLEY_ENOENT) {
		out->session_live = out->meta.state == CONV_LIVE ? 1 : 0;
		memcpy(out->initiator, out->meta.service, sizeof out->initiator);
	} else if (rc == 0) {
		out->session_live = r.live;
		memcpy(out->initiator, r.initiator, sizeof out->initiator);
	} else {
		return rc;
	}
	rc = get_buf(st->beans, txn, session, strlen(session), &out->bean, 0);
	if (rc == PARLEY_ENOENT && out->meta.state != CONV_LIVE)
		rc = 0;
	else if (rc == PARLEY_ENOENT) {
		/* START always writes a bean, so a live conversation without one is damage. */
		log_warnx("store: live conversation %s has no bean", op->id);
		rc = PARLEY_EIO;
	}
	if (rc != 0 || op->msgid == NULL)
		return rc;
	rc = find_answer(st, txn, op->id, &out->meta, op->msgid, &out->response,
	    &out->replay_soap, &op->scratch);
	if (rc == 0)
		out->replay = 1;
	return rc == PARLEY_ENOENT ? 0 : rc;
}

static int
load_one(struct store *st, const char *id, const char *msgid, struct store_conv *out)
{
	struct load_op op = { id, msgid, out, BUF_INIT };
	int rc;

	/*
	 * No transaction: the caller holds the conversation, so nothing changes
	 * it between the reads, and a transaction would cost a begin and a
	 * commit on every message.
	 */
	rc = run_plain(st, load_body, &op);
	buf_free(&op.scratch);
	if (rc != 0)
		store_conv_clear(out);
	return rc;
}

struct find_op {
	const char *service;
	const char *msgid;
	struct buf id;
	struct buf *response;
	int soap;
	struct buf scratch;
};

static int
find_body(struct store *st, DB_TXN *txn, void *arg)
{
	struct find_op *op = arg;
	struct conv_meta m;
	int rc;

	memset(&m, 0, sizeof m);
	rc = get_buf(st->starts, txn, op->msgid, strlen(op->msgid), &op->id, 0);
	if (rc != 0)
		return rc;
	if (memchr(op->id.data, '\0', op->id.len) != NULL)
		return PARLEY_EIO;
	if ((rc = get_meta(st, txn, op->id.data, &m, &op->scratch, 0)) != 0)
		return rc;
	/* Never replay one service's answer to a message sent to another. */
	if (strcmp(m.service, op->service) != 0)
		rc = PARLEY_EEXIST;
	else
		rc = find_answer(st, txn, op->id.data, &m, op->msgid, op->response, &op->soap,
		    &op->scratch);
	conv_meta_clear(&m);
	return rc;
}

static int
find_one(struct store *st, const char *service, const char *msgid, char *id,
    size_t idlen, struct buf *response, int *soap)
{
	struct find_op op = { service, msgid, BUF_INIT, response, 0, BUF_INIT };
	int rc;

	if ((rc = run_txn(st, find_body, &op)) != 0)
		goto fail;
	if (op.id.len >= idlen) {
		rc = PARLEY_EINVAL;
		goto fail;
	}
	memcpy(id, op.id.data, op.id.len + 1);
	*soap = op.soap;
fail:
	buf_free(&op.id);
	buf_free(&op.scratch);
	return rc;
}

/* ---- commit ------------------------------------------------------------------------- */

/*
 * Push the answer of message m->seq into m's ring, first dropping the
 * oldest entries so that at most keep remain (a lowered retry_keep drops
 * several at once).
 */
static void
ring_push(struct conv_meta *m, uint64_t h, unsigned keep)
{
	unsigned drop = 0;

	if (m->ring_len + 1 > keep)
		drop = m->ring_len + 1 - keep;
	if (drop > 0) {
		m->ring_len -= drop;
		memmove(&m->ring_hash[0], &m->ring_hash[drop], m->ring_len * sizeof(uint64_t));
		memmove(&m->ring_seq[0], &m->ring_seq[drop], m->ring_len * sizeof(uint64_t));
	}
	m->ring_hash[m->ring_len] = h;
	m->ring_seq[m->ring_len] = m->seq;
	m->ring_len++;
}

/* The partner and outbox records of a commit, after its other writes. */
static int
commit_outgoing(struct store *st, DB_TXN *txn, const struct store_commit *c)
{
	size_t i;
	int rc;

	if (c->kind == STORE_START && c->partner != NULL &&
	    (rc = put_rec(st->partners, txn, c->id, strlen(c->id), c->partner, c->partner_len,
	    0)) != 0)
		return rc;
	for (i = 0; i < c->n_outbox; i++)
		if ((rc = put_rec(st->outbox, txn, c->outbox[i].key, c->outbox[i].key_len,
		    c->outbox[i].data, c->outbox[i].len, 0)) != 0)
			return rc;
	return 0;
}

struct commit_op {
	const struct store_commit *c;
	struct conv_meta m;            /* as written; its start_msgid is never kept */
	struct buf key;
	struct buf rec;
	struct buf scratch;
};

static int
commit_body(struct store *st, DB_TXN *txn, void *arg)
{
	struct commit_op *op = arg;
	const struct store_commit *c = op->c;
	struct conv_meta old, *m = &op->m;
	size_t idlen = strlen(c->id);
	char session[IDGEN_SESSION_MAX];
	int rc, joined;

	memset(&old, 0, sizeof old);
	idgen_session_key(c->id, session);
	joined = strcmp(session, c->id) != 0;
	*m = *c->meta;
	m->seq = c->meta->seq + 1;
	m->state = CONV_LIVE;
	m->ended_ms = 0;
	if (c->kind == STORE_START) {
		m->ring_len = 0;
		m->start_msgid = (char *)(uintptr_t)c->msgid;
	} else {
		if ((rc = get_meta(st, txn, c->id, &old, &op->scratch, DB_RMW)) != 0)
			goto fail;
		/*
		 * A conversation expired behind the caller's back, or a caller
		 * committing from a stale load, must not overwrite what is stored.
		 */
		if (old.state != CONV_LIVE || old.seq != c->meta->seq) {
			rc = PARLEY_ESTATE;
			goto fail;
		}
		memcpy(m->service, old.service, sizeof m->service);
		m->created_ms = old.created_ms;
		m->start_msgid = old.start_msgid;
		m->ring_len = old.ring_len;
		memcpy(m->ring_hash, old.ring_hash, sizeof m->ring_hash);
		memcpy(m->ring_seq, old.ring_seq, sizeof m->ring_seq);
		if (c->kind == STORE_FINISH) {
			m->state = CONV_ENDED;
			m->ended_ms = m->last_access_ms;
		}
	}
	if (c->msgid != NULL)
		ring_push(m, msgid_hash(c->msgid), st->keep);

	/* One order of databases in every transaction: meta, sessions, beans, retry, starts. */
	buf_reset(&op->rec);
	if ((rc = conv_meta_encode(m, &op->rec)) != 0 ||
	    (rc = put_rec(st->meta, txn, c->id, idlen, op->rec.data, op->rec.len,
	    c->kind == STORE_START ? DB_NOOVERWRITE : 0)) != 0)
		goto fail;
	if (c->kind == STORE_START && joined && (rc = session_join(st, txn, session,
	    &op->scratch)) != 0)
		goto fail;
	/*
	 * A joining start finds the session's bean there: it writes only a
	 * changed one. A finish's change is written too, for the members
	 * that remain; session_leave then deletes it if none does.
	 */
	if (((c->kind == STORE_START && !joined) || c->bean_changed) &&
	    (rc = put_rec(st->beans, txn, session, strlen(session), c->bean, c->bean_len, 0)) != 0)
		goto fail;
	if (c->kind == STORE_FINISH && (rc = session_leave(st, txn, session, &op->scratch)) != 0)
		goto fail;
	/*
	 * The answer leaving the ring is overwritten in its slot; answers left
	 * in slots past a lowered retry_keep go when the conversation is purged.
	 */
	if (c->msgid != NULL &&
	    ((rc = answer_key(&op->key, c->id, m->seq % st->keep)) != 0 ||
	    (rc = answer_encode(&op->rec, c->soap, c->msgid, c->response, c->response_len)) != 0 ||
	    (rc = put_rec(st->retry, txn, op->key.data, op->key.len, op->rec.data, op->rec.len,
	    0)) != 0))
		goto fail;
	if (c->kind == STORE_START && c->msgid != NULL &&
	    (rc = put_rec(st->starts, txn, c->msgid, strlen(c->msgid), c->id, idlen, 0)) != 0)
		goto fail;
	if ((rc = commit_outgoing(st, txn, c)) != 0)
		goto fail;
	rc = 0;
fail:
	m->start_msgid = NULL;
	conv_meta_clear(&old);
	return rc;
}

static int
commit_one(struct store *st, const struct store_commit *c)
{
	struct conv_meta *cm = c->meta;
	struct commit_op op;
	char *start_msgid = NULL;
	int rc;

	if (c->id == NULL || c->id[0] == '\0' || cm == NULL ||
	    (c->kind != STORE_START && c->kind != STORE_UPDATE && c->kind != STORE_FINISH) ||
	    (c->msgid != NULL && (c->msgid[0] == '\0' || (c->soap != 1 && c->soap != 2))) ||
	    (c->bean == NULL && c->bean_len > 0) ||
	    (c->response == NULL && c->response_len > 0) ||
	    (c->n_outbox > 0 && c->outbox == NULL) ||
	    memchr(cm->service, '\0', sizeof cm->service) == NULL)
		return PARLEY_EINVAL;
	memset(&op, 0, sizeof op);
	op.c = c;
	if (c->kind == STORE_START) {
		/* Allocate now what must not fail after the commit: the count, start_msgid. */
		if ((rc = count_reserve(st, cm->service)) != 0)
			return rc;
		if (c->msgid != NULL && (start_msgid = strdup(c->msgid)) == NULL)
			return PARLEY_ENOMEM;
	}
	/* Not acknowledged is committed all the same: the caller's meta follows. */
	if ((rc = run_txn(st, commit_body, &op)) != 0 && rc != PARLEY_ENOTACKED)
		goto fail;
	cm->seq = op.m.seq;
	cm->state = op.m.state;
	cm->ended_ms = op.m.ended_ms;
	cm->ring_len = op.m.ring_len;
	memcpy(cm->ring_hash, op.m.ring_hash, sizeof cm->ring_hash);
	memcpy(cm->ring_seq, op.m.ring_seq, sizeof cm->ring_seq);
	if (c->kind == STORE_START) {
		free(cm->start_msgid);
		cm->start_msgid = start_msgid;
		start_msgid = NULL;
		count_add(st, cm->service, 1);
	} else if (c->kind == STORE_FINISH) {
		count_add(st, op.m.service, -1);
	}
fail:
	free(start_msgid);
	buf_free(&op.key);
	buf_free(&op.rec);
	buf_free(&op.scratch);
	return rc;
}

/* ---- expire, purge, scan ---------------------------------------------------------- */

struct end_op {
	const char *id;
	int64_t now_ms;
	struct conv_meta m;
	struct buf rec;
	struct buf scratch;
};

static int
expire_body(struct store *st, DB_TXN *txn, void *arg)
{
	struct end_op *op = arg;
	size_t idlen = strlen(op->id);
	char session[IDGEN_SESSION_MAX];
	int rc;

	conv_meta_clear(&op->m);
	if ((rc = get_meta(st, txn, op->id, &op->m, &op->scratch, DB_RMW)) != 0)
		return rc;
	if (op->m.state != CONV_LIVE)
		return PARLEY_ENOENT;
	idgen_session_key(op->id, session);
	op->m.state = CONV_EXPIRED;
	op->m.ended_ms = op->now_ms;
	buf_reset(&op->rec);
	if ((rc = conv_meta_encode(&op->m, &op->rec)) != 0 ||
	    (rc = put_rec(st->meta, txn, op->id, idlen, op->rec.data, op->rec.len, 0)) != 0)
		return rc;
	return session_leave(st, txn, session, &op->scratch);
}

static int
expire_one(struct store *st, const char *id, int64_t now_ms)
{
	struct end_op op;
	int rc;

	memset(&op, 0, sizeof op);
	op.id = id;
	op.now_ms = now_ms;
	if ((rc = run_txn(st, expire_body, &op)) == 0 || rc == PARLEY_ENOTACKED)
		count_add(st, op.m.service, -1);
	conv_meta_clear(&op.m);
	buf_free(&op.rec);
	buf_free(&op.scratch);
	return rc;
}

/* Delete every answer kept under id: the keys from "id\0" on that start with it. */
static int
del_answers(struct store *st, DB_TXN *txn, const char *id)
{
	size_t plen = strlen(id) + 1;
	DBC *cur = NULL;
	DBT k, d;
	int ret, rc;

	memset(&k, 0, sizeof k);
	memset(&d, 0, sizeof d);
	/* DB_DBT_REALLOC wants memory of malloc's, which it may grow. */
	if ((k.data = malloc(plen)) == NULL)
		return PARLEY_ENOMEM;
	memcpy(k.data, id, plen);
	k.size = (u_int32_t)plen;
	k.flags = DB_DBT_REALLOC;
	d.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
	if ((ret = st->retry->cursor(st->retry, txn, &cur, 0)) != 0) {
		free(k.data);
		return dbcode(ret);
	}
	ret = cur->get(cur, &k, &d, DB_SET_RANGE | DB_RMW);
	while (ret == 0 && k.size == plen + 8 && memcmp(k.data, id, plen) == 0) {
		if ((ret = cur->del(cur, 0)) != 0)
			break;
		ret = cur->get(cur, &k, &d, DB_NEXT | DB_RMW);
	}
	rc = ret == DB_NOTFOUND ? 0 : dbcode(ret);
	ret = cur->close(cur);
	if (rc == 0)
		rc = dbcode(ret);
	free(k.data);
	return rc;
}

static int
purge_body(struct store *st, DB_TXN *txn, void *arg)
{
	struct end_op *op = arg;
	size_t idlen = strlen(op->id);
	int rc;

	conv_meta_clear(&op->m);
	if ((rc = get_meta(st, txn, op->id, &op->m, &op->scratch, DB_RMW)) != 0)
		return rc;
	if (op->m.state == CONV_LIVE)
		return PARLEY_ESTATE;
	/*
	 * The bean went when the conversation ended, unless others of its
	 * session live on: then it is theirs, and stays.
	 */
	if ((rc = del_rec(st->meta, txn, op->id, idlen)) != 0 ||
	    (rc = del_answers(st, txn, op->id)) != 0 ||
	    (rc = del_rec(st->partners, txn, op->id, idlen)) != 0)
		return rc;
	if (op->m.start_msgid == NULL)
		return 0;
	/* A later start may have reused the MessageID: delete only our own entry. */
	rc = get_buf(st->starts, txn, op->m.start_msgid, strlen(op->m.start_msgid),
	    &op->scratch, DB_RMW);
	if (rc == PARLEY_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	if (op->scratch.len != idlen || memcmp(op->scratch.data, op->id, idlen) != 0)
		return 0;
	return del_rec(st->starts, txn, op->m.start_msgid, strlen(op->m.start_msgid));
}

static int
purge_one(struct store *st, const char *id)
{
	struct end_op op;
	int rc;

	memset(&op, 0, sizeof op);
	op.id = id;
	rc = run_txn(st, purge_body, &op);
	conv_meta_clear(&op.m);
	buf_free(&op.rec);
	buf_free(&op.scratch);
	return rc;
}

struct scan_item {
	char *id;
	struct conv_meta m;
};

static void
batch_free(struct scan_item *batch, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(batch[i].id);
		batch[i].id = NULL;
		conv_meta_clear(&batch[i].m);
	}
}

/*
 * Copy up to SCAN_BATCH conversations whose IDs follow after (or from the
 * first when after is NULL) into batch, with no transaction: each record is
 * read whole, and the cursor is closed before returning. A damaged record is
 * logged and skipped. Returns 0 with *n set, PARLEY_AGAIN after a deadlock,
 * or another PARLEY_E* code, with batch empty on failure.
 */
static int
scan_read(struct store *st, const char *after, struct scan_item *batch, size_t *n)
{
	struct scan_item *it;
	DBC *cur = NULL;
	DBT k, d;
	int ret, rc = 0;

	*n = 0;
	memset(&k, 0, sizeof k);
	memset(&d, 0, sizeof d);
	k.flags = DB_DBT_REALLOC;
	d.flags = DB_DBT_REALLOC;
	if ((ret = st->meta->cursor(st->meta, NULL, &cur, 0)) != 0)
		return dbcode(ret);
	if (after != NULL) {
		if ((k.data = strdup(after)) == NULL) {
			rc = PARLEY_ENOMEM;
			goto fail;
		}
		k.size = (u_int32_t)strlen(after);
		ret = cur->get(cur, &k, &d, DB_SET_RANGE);
		if (ret == 0 && k.size == strlen(after) && memcmp(k.data, after, k.size) == 0)
			ret = cur->get(cur, &k, &d, DB_NEXT);
	} else {
		ret = cur->get(cur, &k, &d, DB_FIRST);
	}
	while (ret == 0 && *n < SCAN_BATCH) {
		it = &batch[*n];
		if ((it->id = malloc((size_t)k.size + 1)) == NULL) {
			rc = PARLEY_ENOMEM;
			goto fail;
		}
		memcpy(it->id, k.data, k.size);
		it->id[k.size] = '\0';
		rc = memchr(k.data, '\0', k.size) != NULL ? PARLEY_EIO :
		    conv_meta_decode(d.data, d.size, &it->m);
		if (rc == PARLEY_EIO) {
			log_warnx("store: skipping the damaged metadata of conversation %s",
			    it->id);
			free(it->id);
			it->id = NULL;
			rc = 0;
		} else if (rc != 0) {
			free(it->id);
			it->id = NULL;
			goto fail;
		} else {
			(*n)++;
		}
		if (*n < SCAN_BATCH)
			ret = cur->get(cur, &k, &d, DB_NEXT);
	}
	if (ret != 0 && ret != DB_NOTFOUND)
		rc = dbcode(ret);
fail:
	ret = cur->close(cur);
	if (rc == 0)
		rc = dbcode(ret);
	free(k.data);
	free(d.data);
	if (rc != 0) {
		batch_free(batch, *n);
		*n = 0;
	}
	return rc;
}

/*
 * store_scan; guarded: each batch is read under serve_enter (a replicated
 * store's caller), else the caller holds role_mu or the store is not
 * replicated.
 */
static int
scan_all(struct store *st, int (*cb)(void *arg, const char *id, const struct conv_meta *m),
    void *arg, int guarded)
{
	struct scan_item *batch;
	struct timespec now;
	char *after = NULL;
	uint64_t seed;
	unsigned try;
	size_t n, i;
	int rc;

	if ((batch = calloc(SCAN_BATCH, sizeof *batch)) == NULL)
		return PARLEY_ENOMEM;
	clock_gettime(CLOCK_MONOTONIC, &now);
	seed = ((uint64_t)(uintptr_t)&now ^ (uint64_t)now.tv_nsec) | 1;
	for (;;) {
		for (try = 0;; try++) {
			if (!guarded || st->repl == NULL) {
				rc = scan_read(st, after, batch, &n);
			} else if ((rc = serve_enter(st)) == 0) {
				rc = scan_read(st, after, batch, &n);
				serve_leave(st);
			}
			if (rc != PARLEY_AGAIN)
				break;
			if (try + 1 == TXN_TRIES) {
				rc = PARLEY_EIO;
				break;
			}
			backoff(try, &seed);
		}
		if (rc != 0)
			break;
		/* No cursor is open now: the callback may change the store. */
		for (i = 0; i < n && rc == 0; i++)
			rc = cb(arg, batch[i].id, &batch[i].m);
		if (rc != 0 || n < SCAN_BATCH) {
			batch_free(batch, n);
			break;
		}
		free(after);
		after = batch[n - 1].id;
		batch[n - 1].id = NULL;
		batch_free(batch, n);
	}
	free(after);
	free(batch);
	return rc;
}

/* ---- the calls, as a replicated store lets them in -------------------------------- */

int
store_load(struct store *st, const char *id, const char *msgid, struct store_conv *out)
{
	int rc;

	if (st->repl == NULL)
		return load_one(st, id, msgid, out);
	if ((rc = serve_enter(st)) != 0)
		return rc;
	rc = load_one(st, id, msgid, out);
	serve_leave(st);
	return rc;
}

int
store_find_start(struct store *st, const char *service, const char *msgid, char *id,
    size_t idlen, struct buf *response, int *soap)
{
	int rc;

	if (st->repl == NULL)
		return find_one(st, service, msgid, id, idlen, response, soap);
	if ((rc = serve_enter(st)) != 0)
		return rc;
	rc = find_one(st, service, msgid, id, idlen, response, soap);
	serve_leave(st);
	return rc;
}

int
store_commit(struct store *st, const struct store_commit *c)
{
	int rc;

	if (st->repl == NULL)
		return commit_one(st, c);
	if ((rc = serve_enter(st)) != 0)
		return rc;
	rc = commit_one(st, c);
	repl_count(st->repl, rc);
	serve_leave(st);
	return rc;
}

int
store_expire(struct store *st, const char *id, int64_t now_ms)
{
	int rc;

	if (st->repl == NULL)
		return expire_one(st, id, now_ms);
	if ((rc = serve_enter(st)) != 0)
		return rc;
	rc = expire_one(st, id, now_ms);
	repl_count(st->repl, rc);
	serve_leave(st);
	return rc;
}

int
store_purge(struct store *st, const char *id)
{
	int rc;

	if (st->repl == NULL)
		return purge_one(st, id);
	if ((rc = serve_enter(st)) != 0)
		return rc;
	rc = purge_one(st, id);
	repl_count(st->repl, rc);
	serve_leave(st);
	return rc;
}

int
store_scan(struct store *st, int (*cb)(void *arg, const char *id, const struct conv_meta *m),
    void *arg)
{
	return scan_all(st, cb, arg, 1);
}

/* ---- the outbox and partners ------------------------------------------------------ */

struct outbox_op {
	const struct store_record *recs;
	size_t n;
	const void *key;
	size_t klen;
	const void *data;
	size_t len;
	int (*cb)(void *arg, const void *key, size_t klen, const void *data, size_t len);
	void *arg;
	int started;
	const char *id;
	struct buf *out;
};

static int
outbox_put_body(struct store *st, DB_TXN *txn, void *arg)
{
	struct outbox_op *op = arg;
	size_t i;
	int rc;

	for (i = 0; i < op->n; i++)
		if ((rc = put_rec(st->outbox, txn, op->recs[i].key, op->recs[i].key_len,
		    op->recs[i].data, op->recs[i].len, 0)) != 0)
			return rc;
	return 0;
}

static int
outbox_scan_body(struct store *st, DB_TXN *txn, void *arg)
{
	struct outbox_op *op = arg;
	DBC *cur = NULL;
	DBT k, d;
	int ret, rc = 0;

	if (op->started && (rc = op->cb(op->arg, NULL, 0, NULL, 0)) != 0)
		return rc;
	op->started = 1;
	memset(&k, 0, sizeof k);
	memset(&d, 0, sizeof d);
	if ((ret = st->outbox->cursor(st->outbox, txn, &cur, 0)) != 0)
		return dbcode(ret);
	for (ret = cur->get(cur, &k, &d, DB_FIRST); ret == 0 && rc == 0;
	    ret = cur->get(cur, &k, &d, DB_NEXT))
		rc = op->cb(op->arg, k.data, k.size, d.data, d.size);
	if (rc == 0 && ret != DB_NOTFOUND)
		rc = dbcode(ret);
	ret = cur->close(cur);
	if (rc == 0)
		rc = dbcode(ret);
	return rc;
}

static int
outbox_delete_body(struct store *st, DB_TXN *txn, void *arg)
{
	struct outbox_op *op = arg;
	DBT k;

	set_dbt(&k, op->key, op->klen);
	return dbcode(st->outbox->del(st->outbox, txn, &k, 0));
}

static int
outbox_replace_body(struct store *st, DB_TXN *txn, void *arg)
{
	struct outbox_op *op = arg;
	DBT k, d;
	int rc;

	set_dbt(&k, op->key, op->klen);
	memset(&d, 0, sizeof d);
	d.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
	if ((rc = dbcode(st->outbox->get(st->outbox, txn, &k, &d, DB_RMW))) != 0)
		return rc;
	return put_rec(st->outbox, txn, op->key, op->klen, op->data, op->len, 0);
}

static int
partner_get_body(struct store *st, DB_TXN *txn, void *arg)
{
	struct outbox_op *op = arg;

	return get_buf(st->partners, txn, op->id, strlen(op->id), op->out, 0);
}

/* Run body on st as a write (txn) or a read (plain), as a replicated store lets it. */
static int
outbox_run(struct store *st, txn_body body, struct outbox_op *op, int write)
{
	int rc;

	if (st->repl != NULL && (rc = serve_enter(st)) != 0)
		return rc;
	rc = write ? run_txn(st, body, op) : run_plain(st, body, op);
	if (st->repl != NULL) {
		if (write)
			repl_count(st->repl, rc);
		serve_leave(st);
	}
	return rc;
}

int
store_outbox_put(struct store *st, const struct store_record *recs, size_t n)
{
	struct outbox_op op;

	memset(&op, 0, sizeof op);
	op.recs = recs;
	op.n = n;
	return outbox_run(st, outbox_put_body, &op, 1);
}

int
store_outbox_scan(struct store *st, int (*cb)(void *arg, const void *key, size_t klen,
    const void *data, size_t len), void *arg)
{
	struct outbox_op op;

	memset(&op, 0, sizeof op);
	op.cb = cb;
	op.arg = arg;
	return outbox_run(st, outbox_scan_body, &op, 0);
}

int
store_outbox_delete(struct store *st, const void *key, size_t klen)
{
	struct outbox_op op;

	memset(&op, 0, sizeof op);
	op.key = key;
	op.klen = klen;
	return outbox_run(st, outbox_delete_body, &op, 1);
}

int
store_outbox_replace(struct store *st, const void *key, size_t klen, const void *data,
    size_t len)
{
	struct outbox_op op;

	memset(&op, 0, sizeof op);
	op.key = key;
	op.klen = klen;
	op.data = data;
	op.len = len;
	return outbox_run(st, outbox_replace_body, &op, 1);
}

int
store_partner_get(struct store *st, const char *id, struct buf *out)
{
	struct outbox_op op;

	memset(&op, 0, sizeof op);
	op.id = id;
	op.out = out;
	return outbox_run(st, partner_get_body, &op, 0);
}
