/*
 * directory.c - the manager's tables in Berkeley DB (directory.h).
 *
 * One transactional disk environment, recovered at every open, holds three
 * btrees: "nodes", "groups" and "conversations", keyed by ID or name. Each
 * record is an explicit, versioned binary form (a format byte, then strings
 * as a 16-bit length and bytes, and 64-bit big-endian numbers), never a dump
 * of a struct. Registrations are synced to disk at commit; conversation
 * records, which come at the rate conversations start, are written to the
 * operating system only.
 *
 * A manager site's tables are replicated to the other manager sites by the
 * Replication Manager, with elections on: Berkeley DB decides which site is
 * master, and only the master's tables are open (directory_activate). Every
 * commit there needs a quorum's acknowledgement (DB_REPMGR_ACKS_QUORUM); one
 * that misses it is reported by DB_EVENT_REP_PERM_FAILED on the committing
 * thread before txn->commit returns, which a thread-local flag catches.
 */
#include "config.h"

#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addrlist.h"
#include "buf.h"
#include "directory.h"
#include "log.h"
#include "record.h"
#include "repsite.h"
#include "parley.h"

#define TXN_TRIES 100                  /* deadlock retries of one transaction */
#define SCAN_BATCH 512                 /* conversations per scan batch */
#define CACHE_BYTES ((u_int32_t)8 << 20)
#define LOCK_FILE "parley.lock"        /* the store's name: one environment per directory */
#define RECORD_FORMAT 1
#define NODE_FORMAT 2                  /* 1, and whether the node's store is replicated */
#define CONV_FORMAT 2                  /* 1, and the partner's wsa:From */
#define REPL_THREADS 3
#define JOIN_RETRY_MS 200
#define CONNECT_RETRY_MS 300
#define ELECTION_TIMEOUT_MS 1000
#define ELECTION_RETRY_MS 500
#define CHECKPOINT_KB 1024
#define CHECKPOINT_MIN 1

struct directory {
	DB_ENV *env;
	/* The tables: open for the life of d, or (replicated) while active, under lock. */
	pthread_rwlock_t lock;
	DB *nodes;
	DB *groups;
	DB *convs;
	DB *active;                    /* replicated: the active manager's URL, touched keys */
	int lock_fd;
	int replicated;
	atomic_int master;             /* Berkeley DB made this site master */
	char host[ADDRLIST_ITEM_MAX];
	unsigned port;
	/* Retries of repmgr_start while no other site answers. */
	pthread_mutex_t jmu;
	pthread_cond_t jcv;
	int jstop;
	int joining;
	pthread_t joiner;
	/* Set only while directory_open runs: Berkeley DB's first message goes here. */
	int opening;
	char dberr[256];
};

/* ---- errors and transactions ------------------------------------------------ */

/* Set by DB_EVENT_REP_PERM_FAILED on the committing thread (see the top of the file). */
static _Thread_local int perm_failed_here;

/* Map a Berkeley DB result; deadlocks become PARLEY_AGAIN, which run_txn retries. */
static int
dbcode(int ret)
{
	switch (ret) {
	case 0:
		return 0;
	case DB_NOTFOUND:
	case DB_KEYEMPTY:
		return PARLEY_ENOENT;
	case DB_LOCK_DEADLOCK:
	case DB_LOCK_NOTGRANTED:
	case DB_REP_LOCKOUT:
		return PARLEY_AGAIN;
	case EACCES:
	case DB_REP_HANDLE_DEAD:
	case DB_REP_UNAVAIL:
		/* A write on a site that is no longer master, or a handle it made void. */
		return PARLEY_ESTANDBY;
	case ENOMEM:
		return PARLEY_ENOMEM;
	default:
		log_warnx("manager: Berkeley DB: %s", db_strerror(ret));
		return PARLEY_EIO;
	}
}

static void
db_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	struct directory *d = env->app_private;

	(void)pfx;
	if (repsite_expected(msg))
		return;
	if (d != NULL && d->opening) {
		if (d->dberr[0] == '\0')
			snprintf(d->dberr, sizeof d->dberr, "%s", msg);
		return;
	}
	log_warnx("manager: Berkeley DB: %s", msg);
}

static void
db_msgcall(const DB_ENV *env, const char *msg)
{
	(void)env;
	log_debug("manager: Berkeley DB: %s", msg);
}

/* A short random sleep before retrying a transaction that lost a deadlock. */
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

static uint64_t
seed_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((uint64_t)(uintptr_t)&now ^ (uint64_t)now.tv_nsec) | 1;
}

typedef int (*txn_body)(struct directory *d, DB_TXN *txn, void *arg);

static int
run_txn_locked(struct directory *d, u_int32_t flags, txn_body body, void *arg)
{
	uint64_t seed = seed_now();
	DB_TXN *txn;
	unsigned try;
	int rc, ret;

	if (d->nodes == NULL || (d->replicated && !atomic_load(&d->master)))
		return PARLEY_ESTANDBY;
	for (try = 0; try < TXN_TRIES; try++) {
		txn = NULL;
		if ((ret = d->env->txn_begin(d->env, NULL, &txn, flags)) != 0) {
			rc = dbcode(ret);
			if (rc == PARLEY_AGAIN) {
				backoff(try, &seed);
				continue;
			}
			return rc == PARLEY_ENOMEM || rc == PARLEY_ESTANDBY ? rc : PARLEY_EIO;
		}
		rc = body(d, txn, arg);
		if (rc != 0) {
			if ((ret = txn->abort(txn)) != 0) {
				log_warnx("manager: abort: %s", db_strerror(ret));
				return PARLEY_EIO;
			}
			if (rc != PARLEY_AGAIN)
				return rc;
			backoff(try, &seed);
			continue;
		}
		perm_failed_here = 0;
		if ((ret = txn->commit(txn, 0)) != 0) {
			log_warnx("manager: commit: %s", db_strerror(ret));
			return dbcode(ret) == PARLEY_ESTANDBY ? PARLEY_ESTANDBY : PARLEY_EIO;
		}
		if (perm_failed_here)
			return PARLEY_ENOTACKED;
		return 0;
	}
	log_warnx("manager: a transaction lost %d deadlocks in a row; giving up", TXN_TRIES);
	return PARLEY_EIO;
}

/*
 * Run body in a transaction begun with flags, committing when it returns 0
 * and aborting otherwise; a body that lost a deadlock (PARLEY_AGAIN) runs
 * again in a new transaction. The tables stay open meanwhile. Returns 0,
 * body's failure, PARLEY_ESTANDBY (not the master), PARLEY_ENOTACKED
 * (committed here, not acknowledged by a quorum) or PARLEY_EIO.
 */
static int
run_txn(struct directory *d, u_int32_t flags, txn_body body, void *arg)
{
	int rc;

	pthread_rwlock_rdlock(&d->lock);
	rc = run_txn_locked(d, flags, body, arg);
	pthread_rwlock_unlock(&d->lock);
	return rc;
}

/* ---- records --------------------------------------------------------------------- */

static int
put_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	unsigned char len[2];

	if (n > UINT16_MAX)
		return PARLEY_EINVAL;
	len[0] = (unsigned char)(n >> 8);
	len[1] = (unsigned char)n;
	if (buf_append(b, len, 2) != 0 || buf_append(b, s, n) != 0)
		return PARLEY_ENOMEM;
	return 0;
}

static int
put_format(struct buf *b, unsigned char f)
{
	buf_reset(b);
	return buf_append(b, &f, 1) != 0 ? PARLEY_ENOMEM : 0;
}

struct reader {
	const unsigned char *p;
	size_t left;
	int bad;
	unsigned format;
};

/* Start reading a record of a format from RECORD_FORMAT to max. */
static void
reader_init(struct reader *r, const void *data, size_t len, unsigned max)
{
	r->p = data;
	r->left = len;
	r->format = len >= 1 ? r->p[0] : 0;
	r->bad = r->format < RECORD_FORMAT || r->format > max;
	if (!r->bad) {
		r->p++;
		r->left--;
	}
}

/* Read a string into out (size bytes, with its NUL); one too long or holding a NUL is bad. */
static void
get_str(struct reader *r, char *out, size_t size)
{
	size_t n;

	out[0] = '\0';
	if (r->bad || r->left < 2) {
		r->bad = 1;
		return;
	}
	n = (size_t)r->p[0] << 8 | r->p[1];
	if (n > r->left - 2 || n >= size || memchr(r->p + 2, '\0', n) != NULL) {
		r->bad = 1;
		return;
	}
	memcpy(out, r->p + 2, n);
	out[n] = '\0';
	r->p += 2 + n;
	r->left -= 2 + n;
}

static uint64_t
get_u64(struct reader *r)
{
	uint64_t v = 0;
	int i;

	if (r->bad || r->left < 8) {
		r->bad = 1;
		return 0;
	}
	for (i = 0; i < 8; i++)
		v = v << 8 | r->p[i];
	r->p += 8;
	r->left -= 8;
	return v;
}

/* Whether the reader took the whole record and found nothing wrong. */
static int
reader_ok(const struct reader *r)
{
	return !r->bad && r->left == 0;
}

static int
encode_node(struct buf *b, const struct mgr_node *n)
{
	int rc;

	if ((rc = put_format(b, NODE_FORMAT)) != 0 || (rc = put_str(b, n->address)) != 0 ||
	    (rc = put_str(b, n->incarnation)) != 0 ||
	    (rc = record_put_u64(b, (uint64_t)n->registered_ms)) != 0 ||
	    (rc = record_put_u64(b, n->replicated ? 1 : 0)) != 0)
		return rc;
	return 0;
}

static int
decode_node(const void *data, size_t len, struct mgr_node *n)
{
	struct reader r;

	reader_init(&r, data, len, NODE_FORMAT);
	get_str(&r, n->address, sizeof n->address);
	get_str(&r, n->incarnation, sizeof n->incarnation);
	n->registered_ms = (int64_t)get_u64(&r);
	n->replicated = r.format >= 2 ? get_u64(&r) != 0 : 0;
	return reader_ok(&r) ? 0 : PARLEY_EIO;
}

static int
encode_group(struct buf *b, const struct mgr_group *g)
{
	int rc;

	if ((rc = put_format(b, RECORD_FORMAT)) != 0 || (rc = put_str(b, g->primary)) != 0 ||
	    (rc = put_str(b, g->secondary)) != 0 || (rc = record_put_u64(b, g->epoch)) != 0)
		return rc;
	return 0;
}

static int
decode_group(const void *data, size_t len, struct mgr_group *g)
{
	struct reader r;

	reader_init(&r, data, len, RECORD_FORMAT);
	get_str(&r, g->primary, sizeof g->primary);
	get_str(&r, g->secondary, sizeof g->secondary);
	g->epoch = get_u64(&r);
	return reader_ok(&r) ? 0 : PARLEY_EIO;
}

/*
 * A conversation: group, service, reply-to, created, ended and (format 2)
 * from. The session and initiator are worked out when listing, not stored.
 */
static int
encode_conv(struct buf *b, const struct mgr_conv *c)
{
	int rc;

	if ((rc = put_format(b, CONV_FORMAT)) != 0 || (rc = put_str(b, c->group)) != 0 ||
	    (rc = put_str(b, c->service)) != 0 || (rc = put_str(b, c->reply_to)) != 0 ||
	    (rc = record_put_u64(b, (uint64_t)c->created_ms)) != 0 ||
	    (rc = record_put_u64(b, (uint64_t)c->ended_ms)) != 0 || (rc = put_str(b, c->from)) != 0)
		return rc;
	return 0;
}

/* Read a record of format 1 (written before from was kept: from is "") or 2. */
static int
decode_conv(const void *data, size_t len, struct mgr_conv *c)
{
	struct reader r;

	reader_init(&r, data, len, CONV_FORMAT);
	get_str(&r, c->group, sizeof c->group);
	get_str(&r, c->service, sizeof c->service);
	get_str(&r, c->reply_to, sizeof c->reply_to);
	c->created_ms = (int64_t)get_u64(&r);
	c->ended_ms = (int64_t)get_u64(&r);
	if (r.format >= 2)
		get_str(&r, c->from, sizeof c->from);
	else
		c->from[0] = '\0';
	return reader_ok(&r) ? 0 : PARLEY_EIO;
}

/* Copy a key of len bytes into out (size bytes); PARLEY_EIO when it cannot be an ID. */
static int
copy_key(const DBT *k, char *out, size_t size)
{
	if (k->size == 0 || k->size >= size || memchr(k->data, '\0', k->size) != NULL)
		return PARLEY_EIO;
	memcpy(out, k->data, k->size);
	out[k->size] = '\0';
	return 0;
}

static void
set_dbt(DBT *d, const void *data, size_t len)
{
	memset(d, 0, sizeof *d);
	d->data = (void *)(uintptr_t)data;
	d->size = (u_int32_t)len;
}

static int
put_rec(DB *db, DB_TXN *txn, const char *key, const struct buf *rec)
{
	DBT k, d;

	set_dbt(&k, key, strlen(key));
	set_dbt(&d, rec->data, rec->len);
	return dbcode(db->put(db, txn, &k, &d, 0));
}

/* ---- open and close ------------------------------------------------------------------ */

/* mkdir -p path, mode 0700 for what it makes. */
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
			snprintf(err, errlen, "cannot create the manager's directory %s: %s", p,
			    strerror(errno));
			goto fail;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "the manager's directory %s is not a directory", path);
		goto fail;
	}
	rc = 0;
fail:
	free(p);
	return rc;
}

/*
 * Hold the directory's lock file while open: recovery at open would wreck an
 * environment another process (or a store of this one) is using.
 */
static int
lock_home(struct directory *d, const char *home, char *err, size_t errlen)
{
	char path[4096], pid[32];
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", home, LOCK_FILE) >= sizeof path) {
		snprintf(err, errlen, "the manager's directory name %s is too long", home);
		return PARLEY_EINVAL;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s - check the directory's owner and mode",
		    path, strerror(errno));
		return PARLEY_EIO;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		n = e == EWOULDBLOCK ? pread(fd, pid, sizeof pid - 1, 0) : -1;
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (e == EWOULDBLOCK)
			snprintf(err, errlen, "the manager's directory %s is in use%s%s%s"
			    " - stop the process that has it, or give the manager a directory"
			    " of its own", home, pid[0] ? " by pid " : "", pid,
			    pid[0] && strtol(pid, NULL, 10) == (long)getpid() ?
			    " (this process)" : "");
		else
			snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
		close(fd);
		return PARLEY_EIO;
	}
	if (ftruncate(fd, 0) == 0) {
		n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
		if (pwrite(fd, pid, (size_t)n, 0) != n)
			log_debug("manager: cannot write the pid to %s", path);
	}
	d->lock_fd = fd;
	return 0;
}

static int
open_db(struct directory *d, DB **out, const char *name, char *err, size_t errlen)
{
	char file[64];
	DB *db = NULL;
	int ret;

	snprintf(file, sizeof file, "%s.db", name);
	if ((ret = db_create(&db, d->env, 0)) != 0 ||
	    (ret = db->open(db, NULL, file, NULL, DB_BTREE, DB_CREATE | DB_AUTO_COMMIT | DB_THREAD,
		0600)) != 0)
		goto fail;
	*out = db;
	return 0;
fail:
	snprintf(err, errlen, "cannot open the manager's %s table: %s%s%s%s", name,
	    db_strerror(ret), d->dberr[0] ? " (" : "", d->dberr, d->dberr[0] ? ")" : "");
	if (db != NULL)
		db->close(db, 0);
	return ret == ENOMEM ? PARLEY_ENOMEM : dbcode(ret) == PARLEY_ESTANDBY ? PARLEY_ESTANDBY :
	    PARLEY_EIO;
}

/* Close the tables (under the write lock, or when nothing else runs). */
static void
close_tables(struct directory *d)
{
	DB **dbs[4];
	int i, ret;

	dbs[0] = &d->active;
	dbs[1] = &d->convs;
	dbs[2] = &d->groups;
	dbs[3] = &d->nodes;
	for (i = 0; i < 4; i++) {
		if (*dbs[i] != NULL && (ret = (*dbs[i])->close(*dbs[i], 0)) != 0)
			log_warnx("manager: closing a table: %s", db_strerror(ret));
		*dbs[i] = NULL;
	}
}

static int
open_tables(struct directory *d, char *err, size_t errlen)
{
	int rc;

	if ((rc = open_db(d, &d->nodes, "nodes", err, errlen)) != 0 ||
	    (rc = open_db(d, &d->groups, "groups", err, errlen)) != 0 ||
	    (rc = open_db(d, &d->convs, "conversations", err, errlen)) != 0 ||
	    (d->replicated && (rc = open_db(d, &d->active, "active", err, errlen)) != 0))
		close_tables(d);
	return rc;
}

/*
 * Berkeley DB's events (its own threads, or the committing thread for
 * PERM_FAILED). Only flags change here: the manager's scheduler acts on
 * them, and nothing may block a replication thread.
 */
static void
db_event(DB_ENV *env, u_int32_t event, void *info)
{
	struct directory *d = env->app_private;

	(void)info;
	switch (event) {
	case DB_EVENT_REP_PERM_FAILED:
		perm_failed_here = 1;
		break;
	case DB_EVENT_REP_MASTER:
		atomic_store(&d->master, 1);
		log_info("manager: replication on %s:%u: this site is master", d->host, d->port);
		break;
	case DB_EVENT_REP_CLIENT:
	case DB_EVENT_REP_DUPMASTER:
		if (atomic_exchange(&d->master, 0))
			log_info("manager: replication on %s:%u: this site is %s", d->host, d->port,
			    event == DB_EVENT_REP_CLIENT ? "a client now" :
			    "no longer master (it met another)");
		break;
	case DB_EVENT_REP_NEWMASTER:
		log_debug("manager: replication on %s:%u: master is site #%d", d->host, d->port,
		    info != NULL ? *(int *)info : -1);
		break;
	case DB_EVENT_REP_ELECTION_FAILED:
		log_debug("manager: replication on %s:%u: an election failed", d->host, d->port);
		break;
	case DB_EVENT_PANIC:
		log_warnx("manager: Berkeley DB panic in the manager's tables on %s:%u", d->host,
		    d->port);
		break;
	default:
		log_debug("manager: replication on %s:%u: event %u", d->host, d->port,
		    (unsigned)event);
		break;
	}
}

/*
 * Configure the environment (created, not open) as a manager site: elections
 * on, acknowledgements by a quorum, strict two-site rule, NOWAIT, short
 * retries; this site's listener, and the others as bootstrap helpers. The
 * site with the lowest listener (compared as strings, so every site agrees)
 * creates the group when it has none yet.
 */
static int
configure_repl(struct directory *d, const struct directory_repl *cfg, const char **what)
{
	char sites[ADDRLIST_MAX][ADDRLIST_ITEM_MAX], host[ADDRLIST_ITEM_MAX];
	unsigned n, i, port, hb = cfg->heartbeat_ms ? cfg->heartbeat_ms : 200;
	unsigned ack = cfg->ack_timeout_ms ? cfg->ack_timeout_ms : 500;
	DB_ENV *env = d->env;
	int ret, creator = 1;

	*what = "reading manager_repl and manager_sites";
	if (addrlist_host_port(cfg->listen, d->host, sizeof d->host, &d->port) != 0 ||
	    addrlist_split(cfg->sites, sites, ADDRLIST_MAX, &n) != 0 || n == 0)
		return EINVAL;
	for (i = 0; i < n; i++) {
		if (addrlist_host_port(sites[i], host, sizeof host, &port) != 0)
			return EINVAL;
		if (strcmp(sites[i], cfg->listen) < 0)
			creator = 0;
	}
	*what = "configuring replication";
	if ((ret = env->set_event_notify(env, db_event)) != 0 ||
	    (ret = env->rep_set_config(env, DB_REPMGR_CONF_ELECTIONS, 1)) != 0 ||
	    (ret = env->rep_set_config(env, DB_REPMGR_CONF_2SITE_STRICT, 1)) != 0 ||
	    (ret = env->rep_set_config(env, DB_REP_CONF_NOWAIT, 1)) != 0 ||
	    (ret = env->repmgr_set_ack_policy(env, DB_REPMGR_ACKS_QUORUM)) != 0 ||
	    (ret = env->rep_set_priority(env, 100)) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_ACK_TIMEOUT, repsite_us(ack))) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_HEARTBEAT_SEND, repsite_us(hb))) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_HEARTBEAT_MONITOR, repsite_us(3 * hb))) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_CONNECTION_RETRY, repsite_us(CONNECT_RETRY_MS))) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_ELECTION_TIMEOUT,
	    repsite_us(ELECTION_TIMEOUT_MS))) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_ELECTION_RETRY, repsite_us(ELECTION_RETRY_MS))) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_CHECKPOINT_DELAY, 0)) != 0)
		return ret;
	*what = "naming the sites";
	if ((ret = repsite_add(env, d->host, d->port, DB_LOCAL_SITE, creator)) != 0)
		return ret;
	for (i = 0; i < n; i++) {
		addrlist_host_port(sites[i], host, sizeof host, &port);
		if ((ret = repsite_add(env, host, port, DB_BOOTSTRAP_HELPER, 0)) != 0)
			return ret;
	}
	return 0;
}

static int
open_env(struct directory *d, const char *home, const struct directory_repl *repl, char *err,
    size_t errlen)
{
	/* The only user of the environment (lock_home): recover every time. */
	u_int32_t flags = DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL |
	    DB_THREAD | DB_RECOVER;
	const char *what = "";
	DB_ENV *env;
	int ret;

	if ((ret = db_env_create(&d->env, 0)) != 0)
		goto fail;
	env = d->env;
	env->app_private = d;
	env->set_errcall(env, db_errcall);
	env->set_msgcall(env, db_msgcall);
	if ((ret = env->set_cachesize(env, 0, CACHE_BYTES, 1)) != 0 ||
	    (ret = env->set_lk_detect(env, DB_LOCK_DEFAULT)) != 0 ||
	    (ret = env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1)) != 0)
		goto fail;
	if (repl != NULL) {
		flags |= DB_INIT_REP;
		if ((ret = configure_repl(d, repl, &what)) != 0) {
			snprintf(err, errlen, "the manager's replication on %s: %s: %s", repl->listen,
			    what, ret == EINVAL ? "manager_repl and manager_sites must be HOST:PORT "
			    "lists" : db_strerror(ret));
			return ret == ENOMEM ? PARLEY_ENOMEM : PARLEY_EINVAL;
		}
	}
	if ((ret = env->open(env, home, flags, 0600)) != 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot open the manager's tables in %s: %s%s%s%s", home,
	    db_strerror(ret), d->dberr[0] ? " (" : "", d->dberr, d->dberr[0] ? ")" : "");
	return ret == ENOMEM ? PARLEY_ENOMEM : PARLEY_EIO;
}

/* Ask to join the group again until another site answers, or the directory closes. */
static void *
join_loop(void *arg)
{
	struct directory *d = arg;
	struct timespec until;
	int ret, warned = 0;

	pthread_mutex_lock(&d->jmu);
	while (!d->jstop) {
		pthread_mutex_unlock(&d->jmu);
		ret = d->env->repmgr_start(d->env, REPL_THREADS, DB_REP_ELECTION);
		pthread_mutex_lock(&d->jmu);
		if (ret == 0) {
			log_info("manager: replication on %s:%u has joined the manager sites",
			    d->host, d->port);
			break;
		}
		if (ret != DB_REP_UNAVAIL && !warned) {
			log_warnx("manager: replication on %s:%u cannot start yet: %s", d->host,
			    d->port, db_strerror(ret));
			warned = 1;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += JOIN_RETRY_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!d->jstop && pthread_cond_timedwait(&d->jcv, &d->jmu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&d->jmu);
	return NULL;
}

static int
start_repl(struct directory *d, char *err, size_t errlen)
{
	int ret;

	ret = d->env->repmgr_start(d->env, REPL_THREADS, DB_REP_ELECTION);
	if (ret == 0)
		return 0;
	if (ret != DB_REP_UNAVAIL) {
		snprintf(err, errlen, "cannot start the manager's replication on %s:%u: %s",
		    d->host, d->port, db_strerror(ret));
		return PARLEY_EIO;
	}
	/* No other site answers yet: keep asking, off the caller's path. */
	pthread_mutex_lock(&d->jmu);
	ret = pthread_create(&d->joiner, NULL, join_loop, d);
	if (ret == 0)
		d->joining = 1;
	pthread_mutex_unlock(&d->jmu);
	if (ret != 0) {
		snprintf(err, errlen, "cannot start a thread to join the manager sites");
		return PARLEY_ENOMEM;
	}
	return 0;
}

int
directory_open(struct directory **out, const char *home, const struct directory_repl *repl,
    char *err, size_t errlen)
{
	struct directory *d;
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (home == NULL || home[0] == '\0') {
		snprintf(err, errlen, "the manager needs a directory for its tables");
		return PARLEY_EINVAL;
	}
	if ((d = calloc(1, sizeof *d)) == NULL) {
		snprintf(err, errlen, "out of memory opening the manager's tables");
		return PARLEY_ENOMEM;
	}
	d->lock_fd = -1;
	d->opening = 1;
	d->replicated = repl != NULL;
	atomic_init(&d->master, repl == NULL);
	if (pthread_rwlock_init(&d->lock, NULL) != 0) {
		free(d);
		snprintf(err, errlen, "cannot make the manager's table lock");
		return PARLEY_ENOMEM;
	}
	if (pthread_mutex_init(&d->jmu, NULL) != 0 || pthread_cond_init(&d->jcv, NULL) != 0) {
		pthread_rwlock_destroy(&d->lock);
		free(d);
		snprintf(err, errlen, "cannot make the manager's replication lock");
		return PARLEY_ENOMEM;
	}
	if ((rc = make_dirs(home, err, errlen)) != 0 ||
	    (rc = lock_home(d, home, err, errlen)) != 0 ||
	    (rc = open_env(d, home, repl, err, errlen)) != 0)
		goto fail;
	if (repl == NULL && (rc = open_tables(d, err, errlen)) != 0)
		goto fail;
	d->opening = 0;
	if (repl != NULL && (rc = start_repl(d, err, errlen)) != 0)
		goto fail;
	*out = d;
	return 0;
fail:
	d->opening = 0;
	directory_close(d);
	return rc;
}

int
directory_replicated(const struct directory *d)
{
	return d->replicated;
}

int
directory_is_master(const struct directory *d)
{
	return atomic_load(&d->master);
}

int
directory_activate(struct directory *d)
{
	char err[512];
	int rc = 0;

	if (!d->replicated)
		return 0;
	pthread_rwlock_wrlock(&d->lock);
	if (!atomic_load(&d->master))
		rc = PARLEY_ESTANDBY;
	else if (d->nodes == NULL && (rc = open_tables(d, err, sizeof err)) != 0)
		log_warnx("manager: %s", err);
	pthread_rwlock_unlock(&d->lock);
	return rc;
}

void
directory_deactivate(struct directory *d)
{
	if (!d->replicated)
		return;
	pthread_rwlock_wrlock(&d->lock);
	close_tables(d);
	pthread_rwlock_unlock(&d->lock);
}

void
directory_close(struct directory *d)
{
	int joining, ret;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->jmu);
	d->jstop = 1;
	joining = d->joining;
	d->joining = 0;
	pthread_cond_broadcast(&d->jcv);
	pthread_mutex_unlock(&d->jmu);
	if (joining)
		pthread_join(d->joiner, NULL);
	if (d->env != NULL && d->convs != NULL && atomic_load(&d->master) &&
	    (ret = d->env->txn_checkpoint(d->env, 0, 0, 0)) != 0)
		log_warnx("manager: checkpoint at close: %s", db_strerror(ret));
	close_tables(d);
	if (d->env != NULL && (ret = d->env->close(d->env, 0)) != 0)
		log_warnx("manager: closing the environment: %s", db_strerror(ret));
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	pthread_cond_destroy(&d->jcv);
	pthread_mutex_destroy(&d->jmu);
	pthread_rwlock_destroy(&d->lock);
	free(d);
}

int
directory_checkpoint(struct directory *d)
{
	int ret = 0;

	pthread_rwlock_rdlock(&d->lock);
	if (d->nodes != NULL && atomic_load(&d->master))
		ret = d->env->txn_checkpoint(d->env, CHECKPOINT_KB, CHECKPOINT_MIN, 0);
	pthread_rwlock_unlock(&d->lock);
	if (ret != 0) {
		log_warnx("manager: checkpoint: %s", db_strerror(ret));
		return PARLEY_EIO;
	}
	return 0;
}

/* ---- the active manager ------------------------------------------------------------- */

struct small_put {
	const char *key;
	const void *val;
	size_t len;
};

static int
small_put_body(struct directory *d, DB_TXN *txn, void *arg)
{
	struct small_put *p = arg;
	DBT k, v;

	set_dbt(&k, p->key, strlen(p->key));
	set_dbt(&v, p->val, p->len);
	return dbcode(d->active->put(d->active, txn, &k, &v, 0));
}

int
directory_touch(struct directory *d, const char *key)
{
	struct small_put p;
	unsigned char stamp[8];
	struct timespec now;
	int i;

	if (!d->replicated)
		return 0;
	clock_gettime(CLOCK_REALTIME, &now);
	for (i = 0; i < 8; i++)
		stamp[i] = (unsigned char)((uint64_t)now.tv_nsec >> (56 - 8 * i));
	p.key = key;
	p.val = stamp;
	p.len = sizeof stamp;
	/* Not synced: what it proves is the quorum's acknowledgement, not the disk. */
	return run_txn(d, DB_TXN_WRITE_NOSYNC, small_put_body, &p);
}

int
directory_set_active_url(struct directory *d, const char *url)
{
	struct small_put p = { "url", url, strlen(url) };

	if (!d->replicated)
		return 0;
	return run_txn(d, DB_TXN_WRITE_NOSYNC, small_put_body, &p);
}

int
directory_active_url(struct directory *d, char *out, size_t len)
{
	DB_TXN *txn = NULL;
	DB *db = NULL;
	DBT k, v;
	int ret, mine;

	out[0] = '\0';
	if (!d->replicated || len == 0)
		return 0;
	pthread_rwlock_rdlock(&d->lock);
	/* A standby has no table open: a handle for this one read (in a transaction, no 5 s sleep). */
	mine = d->active == NULL;
	set_dbt(&k, "url", 3);
	memset(&v, 0, sizeof v);
	v.flags = DB_DBT_USERMEM;
	v.data = out;
	v.ulen = (u_int32_t)(len - 1);
	if ((ret = d->env->txn_begin(d->env, NULL, &txn, 0)) != 0)
		goto done;
	if (mine && ((ret = db_create(&db, d->env, 0)) != 0 ||
	    (ret = db->open(db, txn, "active.db", NULL, DB_BTREE, DB_THREAD, 0600)) != 0))
		goto done;
	ret = (mine ? db : d->active)->get(mine ? db : d->active, txn, &k, &v, 0);
	if (ret == 0)
		out[v.size < len ? v.size : len - 1] = '\0';
done:
	if (ret != 0)
		out[0] = '\0';
	/* The transaction that opened a handle ends before the handle is closed. */
	if (txn != NULL && (ret = txn->commit(txn, 0)) != 0)
		log_debug("manager: reading the active manager's URL: %s", db_strerror(ret));
	if (db != NULL)
		db->close(db, 0);
	pthread_rwlock_unlock(&d->lock);
	return 0;
}

/* ---- nodes and groups ------------------------------------------------------------------ */

struct load_args {
	int (*node_cb)(void *arg, const struct mgr_node *n);
	int (*group_cb)(void *arg, const struct mgr_group *g);
	void *arg;
};

/*
 * Walk one table with a cursor of txn. Nodes and groups are few and the
 * callbacks only copy, so the whole walk is one transaction.
 */
static int
load_table(struct directory *d, DB_TXN *txn, DB *db, const struct load_args *a)
{
	struct mgr_node n;
	struct mgr_group g;
	DBC *cur = NULL;
	DBT k, v;
	int ret, rc = 0, bad;

	memset(&k, 0, sizeof k);
	memset(&v, 0, sizeof v);
	if ((ret = db->cursor(db, txn, &cur, 0)) != 0)
		return dbcode(ret);
	while ((ret = cur->get(cur, &k, &v, DB_NEXT)) == 0) {
		if (db == d->nodes) {
			memset(&n, 0, sizeof n);
			bad = copy_key(&k, n.id, sizeof n.id) != 0 ||
			    decode_node(v.data, v.size, &n) != 0;
			if (!bad && (rc = a->node_cb(a->arg, &n)) != 0)
				break;
		} else {
			memset(&g, 0, sizeof g);
			bad = copy_key(&k, g.name, sizeof g.name) != 0 ||
			    decode_group(v.data, v.size, &g) != 0;
			if (!bad && (rc = a->group_cb(a->arg, &g)) != 0)
				break;
		}
		if (bad)
			log_warnx("manager: skipping a damaged record of the %s table (key %.*s)",
			    db == d->nodes ? "nodes" : "groups", (int)(k.size > 64 ? 64 : k.size),
			    (const char *)k.data);
	}
	if (rc == 0 && ret != DB_NOTFOUND)
		rc = dbcode(ret);
	ret = cur->close(cur);
	if (rc == 0)
		rc = dbcode(ret);
	return rc;
}

static int
load_body(struct directory *d, DB_TXN *txn, void *arg)
{
	int rc;

	if ((rc = load_table(d, txn, d->nodes, arg)) != 0)
		return rc;
	return load_table(d, txn, d->groups, arg);
}

int
directory_load(struct directory *d, int (*node_cb)(void *arg, const struct mgr_node *n),
    int (*group_cb)(void *arg, const struct mgr_group *g), void *arg)
{
	struct load_args a = { node_cb, group_cb, arg };

	/*
	 * The callbacks may run again after a deadlock; they are only called
	 * at open, when no one else writes, so that cannot happen.
	 */
	return run_txn(d, 0, load_body, &a);
}

struct registration {
	const struct mgr_node *node;
	const struct mgr_group *groups;
	unsigned n;
	struct buf rec;
};

static int
registration_body(struct directory *d, DB_TXN *txn, void *arg)
{
	struct registration *r = arg;
	unsigned i;
	int rc;

	if (r->node != NULL) {
		if ((rc = encode_node(&r->rec, r->node)) != 0 ||
		    (rc = put_rec(d->nodes, txn, r->node->id, &r->rec)) != 0)
			return rc;
	}
	for (i = 0; i < r->n; i++)
		if ((rc = encode_group(&r->rec, &r->groups[i])) != 0 ||
		    (rc = put_rec(d->groups, txn, r->groups[i].name, &r->rec)) != 0)
			return rc;
	return 0;
}

int
directory_put_registration(struct directory *d, const struct mgr_node *node,
    const struct mgr_group *groups, unsigned n)
{
	struct registration r = { node, groups, n, BUF_INIT };
	int rc;

	rc = run_txn(d, DB_TXN_SYNC, registration_body, &r);
	buf_free(&r.rec);
	return rc;
}

/* ---- conversations ---------------------------------------------------------------------- */

struct merge_args {
	const char *const *ids;
	unsigned n;
	int (*merge)(void *arg, unsigned i, const struct mgr_conv *old, struct mgr_conv *rec);
	void *arg;
	struct buf rec;
	struct buf got;
};

static int
merge_body(struct directory *d, DB_TXN *txn, void *arg)
{
	struct merge_args *a = arg;
	struct mgr_conv old, rec;
	const struct mgr_conv *oldp;
	DBT k, v;
	unsigned i;
	int ret, rc;

	for (i = 0; i < a->n; i++) {
		set_dbt(&k, a->ids[i], strlen(a->ids[i]));
		memset(&v, 0, sizeof v);
		v.flags = DB_DBT_REALLOC;
		v.data = a->got.data;
		/* Write-locked at once: two merges of one ID do not deadlock on an upgrade. */
		ret = d->convs->get(d->convs, txn, &k, &v, DB_RMW);
		a->got.data = v.data;
		if (ret != 0 && ret != DB_NOTFOUND)
			return dbcode(ret);
		memset(&old, 0, sizeof old);
		oldp = NULL;
		if (ret == 0) {
			if (decode_conv(v.data, v.size, &old) == 0) {
				snprintf(old.id, sizeof old.id, "%s", a->ids[i]);
				oldp = &old;
			} else {
				log_warnx("manager: the record of conversation %s is damaged; "
				    "replacing it", a->ids[i]);
			}
		}
		memset(&rec, 0, sizeof rec);
		rc = a->merge(a->arg, i, oldp, &rec);
		if (rc < 0)
			return rc;
		if (rc == 0)
			continue;
		if ((rc = encode_conv(&a->rec, &rec)) != 0 ||
		    (rc = put_rec(d->convs, txn, a->ids[i], &a->rec)) != 0)
			return rc;
	}
	return 0;
}

int
directory_merge_conversations(struct directory *d, const char *const *ids, unsigned n,
    int (*merge)(void *arg, unsigned i, const struct mgr_conv *old, struct mgr_conv *rec),
    void *arg)
{
	struct merge_args a = { ids, n, merge, arg, BUF_INIT, BUF_INIT };
	int rc;

	rc = run_txn(d, DB_TXN_WRITE_NOSYNC, merge_body, &a);
	buf_free(&a.rec);
	free(a.got.data);
	return rc;
}

/*
 * Copy up to SCAN_BATCH conversations whose IDs follow after ("" for the
 * first; with inclusive, from after on) into batch, in a transaction of its
 * own with read-committed isolation (a read outside a transaction that
 * meets replication at work sleeps 5 s in Berkeley DB); the cursor is
 * closed before returning.
 * Returns 0 with *n set, PARLEY_AGAIN after a deadlock, or another PARLEY_E
 * code.
 */
static int
scan_read(struct directory *d, const char *after, int inclusive, struct mgr_conv *batch,
    unsigned *n)
{
	DB_TXN *txn = NULL;
	DBC *cur = NULL;
	DBT k, v;
	int ret, rc = 0;
	size_t alen = strlen(after);

	*n = 0;
	memset(&k, 0, sizeof k);
	memset(&v, 0, sizeof v);
	k.flags = DB_DBT_REALLOC;
	v.flags = DB_DBT_REALLOC;
	if (d->convs == NULL)
		return PARLEY_ESTANDBY;
	if ((ret = d->env->txn_begin(d->env, NULL, &txn, DB_READ_COMMITTED)) != 0)
		return dbcode(ret);
	if ((ret = d->convs->cursor(d->convs, txn, &cur, 0)) != 0) {
		txn->abort(txn);
		return dbcode(ret);
	}
	if (alen > 0) {
		if ((k.data = malloc(alen)) == NULL) {
			rc = PARLEY_ENOMEM;
			goto done;
		}
		memcpy(k.data, after, alen);
		k.size = (u_int32_t)alen;
		ret = cur->get(cur, &k, &v, DB_SET_RANGE);
		if (ret == 0 && !inclusive && k.size == alen && memcmp(k.data, after, alen) == 0)
			ret = cur->get(cur, &k, &v, DB_NEXT);
	} else {
		ret = cur->get(cur, &k, &v, DB_FIRST);
	}
	while (ret == 0) {
		struct mgr_conv *c = &batch[*n];

		memset(c, 0, sizeof *c);
		if (copy_key(&k, c->id, sizeof c->id) != 0 || decode_conv(v.data, v.size, c) != 0)
			log_warnx("manager: skipping the damaged record of conversation %.*s",
			    (int)(k.size > 64 ? 64 : k.size), (const char *)k.data);
		else
			(*n)++;
		if (*n == SCAN_BATCH)
			break;
		ret = cur->get(cur, &k, &v, DB_NEXT);
	}
	if (ret != 0 && ret != DB_NOTFOUND)
		rc = dbcode(ret);
done:
	ret = cur->close(cur);
	if (rc == 0)
		rc = dbcode(ret);
	ret = rc == 0 ? txn->commit(txn, 0) : txn->abort(txn);
	if (rc == 0)
		rc = dbcode(ret);
	free(k.data);
	free(v.data);
	return rc;
}

int
directory_scan_conversations(struct directory *d, const char *first,
    int (*cb)(void *arg, const struct mgr_conv *c), void *arg)
{
	char after[IDGEN_ID_MAX] = "";
	struct mgr_conv *batch;
	uint64_t seed = seed_now();
	unsigned try, n, i;
	int rc, inclusive = 0;

	if (first != NULL && first[0] != '\0') {
		if (strlen(first) >= sizeof after)
			return PARLEY_EINVAL;
		memcpy(after, first, strlen(first) + 1);
		inclusive = 1;
	}
	if ((batch = malloc(SCAN_BATCH * sizeof *batch)) == NULL)
		return PARLEY_ENOMEM;
	for (;;) {
		for (try = 0;; try++) {
			pthread_rwlock_rdlock(&d->lock);
			rc = scan_read(d, after, inclusive, batch, &n);
			pthread_rwlock_unlock(&d->lock);
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
		for (i = 0; i < n && rc == 0; i++)
			rc = cb(arg, &batch[i]);
		if (rc != 0 || n < SCAN_BATCH)
			break;
		memcpy(after, batch[n - 1].id, sizeof after);
		inclusive = 0;
	}
	free(batch);
	return rc;
}
