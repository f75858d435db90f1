/*
 * repl.c - a store's environment as a replication group of its own (repl.h),
 * with Berkeley DB's Replication Manager and its DB_SITE interface.
 *
 * Roles are decided by the caller, never by an election: elections are off,
 * and a role changes only by repmgr_start on the running environment. Each
 * store has its own listener and threads; the store's event callback hands
 * this part the events of its environment.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "repsite.h"
#include "parley.h"
#include "repl.h"

/* Message-processing threads per environment, as in the prototypes that were measured. */
#define REPL_THREADS 3
#define DEFAULT_ACK_TIMEOUT_MS 1000
#define DEFAULT_HEARTBEAT_MS 200
/* Reconnect to a lost site this soon: the default, 30 s, would outlast a failover. */
#define CONNECT_RETRY_MS 300
/*
 * A master's checkpoint waits DB_REP_CHECKPOINT_DELAY (30 s by default) before
 * logging its record, to let clients finish theirs: every store_checkpoint
 * and store_close of a master would take 30 s. It is set to 0.
 */
/* A client whose helper does not answer asks again this often. */
#define JOIN_RETRY_MS 200

struct repl {
	DB_ENV *env;
	struct store *owner;
	char *host;
	unsigned port;
	enum store_role role;          /* the role at open */
	void (*event)(void *arg, struct store *st, enum store_event ev);
	void *event_arg;
	atomic_int master;
	atomic_int synced;
	atomic_int started;            /* repmgr_start succeeded once */
	atomic_uint_fast64_t commits;
	atomic_uint_fast64_t perm_failed;
	enum store_ack ack;            /* the configured policy */
	/* A client's retries to join its group while the helper does not answer. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping;
	int joining;                   /* the joiner thread exists and is not joined */
	pthread_t joiner;
};

/*
 * Berkeley DB reports a commit that missed its acks by an event raised on the
 * committing thread before txn->commit returns (and returns 0). A flag of
 * that thread is therefore the one way to tell exactly which commit failed;
 * it is the only state here that is not in a struct repl.
 */
static _Thread_local int perm_failed_here;

static void
notify(struct repl *r, enum store_event ev)
{
	if (r->event != NULL)
		r->event(r->event_arg, r->owner, ev);
}

static int
ack_policy(enum store_ack ack)
{
	switch (ack) {
	case STORE_ACK_ONE:
		return DB_REPMGR_ACKS_ONE;
	case STORE_ACK_NONE:
		return DB_REPMGR_ACKS_NONE;
	case STORE_ACK_ALL:
	default:
		/*
		 * Every copy that is connected, and at least one. A secondary
		 * that died stays in the group's membership (removing a member
		 * needs acknowledgements a group that lost its copy cannot
		 * give), and must not fail every commit once the manager has
		 * given the group a new secondary.
		 */
		return DB_REPMGR_ACKS_ALL_AVAILABLE;
	}
}

int
repl_create(struct repl **out, DB_ENV *env, struct store *owner,
    const struct store_repl *cfg, char *err, size_t errlen)
{
	unsigned ack_ms = cfg->ack_timeout_ms ? cfg->ack_timeout_ms : DEFAULT_ACK_TIMEOUT_MS;
	unsigned hb_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : DEFAULT_HEARTBEAT_MS;
	struct repl *r = NULL;
	const char *what = "";
	int ret = 0, rc;

	*out = NULL;
	if (cfg->host == NULL || cfg->host[0] == '\0' || cfg->port == 0 || cfg->port > 65535) {
		snprintf(err, errlen, "a replicated store needs its listener's host and port");
		return PARLEY_EINVAL;
	}
	if ((cfg->role != STORE_CLIENT && cfg->role != STORE_MASTER) ||
	    (cfg->creator && cfg->role != STORE_MASTER)) {
		snprintf(err, errlen, "a replicated store starts as master or client, and only a"
		    " master creates its group");
		return PARLEY_EINVAL;
	}
	if (cfg->ack != STORE_ACK_ALL && cfg->ack != STORE_ACK_ONE && cfg->ack != STORE_ACK_NONE) {
		snprintf(err, errlen, "unknown acknowledgement policy %d", (int)cfg->ack);
		return PARLEY_EINVAL;
	}
	if (cfg->helper_host != NULL && cfg->helper_host[0] != '\0' &&
	    (cfg->helper_port == 0 || cfg->helper_port > 65535)) {
		snprintf(err, errlen, "the helper %s needs a port", cfg->helper_host);
		return PARLEY_EINVAL;
	}
	if ((r = calloc(1, sizeof *r)) == NULL || (r->host = strdup(cfg->host)) == NULL)
		goto nomem;
	if (pthread_mutex_init(&r->mu, NULL) != 0) {
		free(r->host);
		goto nomem;
	}
	if (pthread_cond_init(&r->cv, NULL) != 0) {
		pthread_mutex_destroy(&r->mu);
		free(r->host);
		goto nomem;
	}
	r->env = env;
	r->owner = owner;
	r->port = cfg->port;
	r->role = cfg->role;
	r->event = cfg->event;
	r->event_arg = cfg->event_arg;

	/* The cluster's manager promotes; repmgr must never elect by itself. */
	if ((ret = env->rep_set_config(env, DB_REPMGR_CONF_ELECTIONS, 0)) != 0) {
		what = "turning elections off";
		goto fail;
	}
	/*
	 * A call that meets replication at work (a lockout) returns at once
	 * instead of sleeping in Berkeley DB for seconds; the store retries it.
	 */
	if ((ret = env->rep_set_config(env, DB_REP_CONF_NOWAIT, 1)) != 0) {
		what = "setting NOWAIT";
		goto fail;
	}
	if ((ret = env->rep_set_config(env, DB_REPMGR_CONF_2SITE_STRICT, 0)) != 0) {
		what = "turning 2SITE_STRICT off";
		goto fail;
	}
	r->ack = cfg->ack;
	if ((ret = env->repmgr_set_ack_policy(env, ack_policy(cfg->ack))) != 0) {
		what = "setting the ack policy";
		goto fail;
	}
	if ((ret = env->rep_set_timeout(env, DB_REP_ACK_TIMEOUT, repsite_us(ack_ms))) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_HEARTBEAT_SEND, repsite_us(hb_ms))) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_HEARTBEAT_MONITOR,
	    repsite_us(3 * hb_ms))) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_CONNECTION_RETRY,
	    repsite_us(CONNECT_RETRY_MS))) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_CHECKPOINT_DELAY, 0)) != 0) {
		what = "setting the replication timeouts";
		goto fail;
	}
	if ((ret = repsite_add(env, cfg->host, cfg->port, DB_LOCAL_SITE, cfg->creator)) != 0) {
		what = "setting the local site";
		goto fail;
	}
	if (cfg->helper_host != NULL && cfg->helper_host[0] != '\0' &&
	    (ret = repsite_add(env, cfg->helper_host, cfg->helper_port, DB_BOOTSTRAP_HELPER,
	    0)) != 0) {
		what = "setting the bootstrap helper";
		goto fail;
	}
	*out = r;
	return 0;

nomem:
	free(r);
	snprintf(err, errlen, "out of memory opening the store");
	return PARLEY_ENOMEM;
fail:
	rc = ret == ENOMEM ? PARLEY_ENOMEM : ret == EINVAL ? PARLEY_EINVAL : PARLEY_EIO;
	snprintf(err, errlen, "replication of the store on %s:%u: %s: %s", cfg->host, cfg->port,
	    what, db_strerror(ret));
	repl_free(r);
	return rc;
}

/*
 * Ask for the group until the helper answers (repmgr_start returns
 * DB_REP_UNAVAIL while it does not) or repl_stop is called.
 */
static void *
join_loop(void *arg)
{
	struct repl *r = arg;
	struct timespec until;
	int ret, warned = 0;

	pthread_mutex_lock(&r->mu);
	while (!r->stopping) {
		pthread_mutex_unlock(&r->mu);
		ret = r->env->repmgr_start(r->env, REPL_THREADS, DB_REP_CLIENT);
		pthread_mutex_lock(&r->mu);
		if (ret == 0) {
			atomic_store(&r->started, 1);
			log_info("store: replication on %s:%u has joined its group", r->host,
			    r->port);
			break;
		}
		if (ret != DB_REP_UNAVAIL && !warned) {
			log_warnx("store: replication on %s:%u cannot start yet: %s", r->host,
			    r->port, db_strerror(ret));
			warned = 1;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += JOIN_RETRY_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!r->stopping &&
		    pthread_cond_timedwait(&r->cv, &r->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* Stop the joiner thread, if any, and wait for it. */
static void
stop_joiner(struct repl *r)
{
	int joining;

	pthread_mutex_lock(&r->mu);
	r->stopping = 1;
	joining = r->joining;
	r->joining = 0;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (joining)
		pthread_join(r->joiner, NULL);
	pthread_mutex_lock(&r->mu);
	r->stopping = 0;
	pthread_mutex_unlock(&r->mu);
}

/* Start as client; when the helper does not answer, keep asking on a thread. */
static int
start_client(struct repl *r, char *err, size_t errlen)
{
	int ret;

	ret = r->env->repmgr_start(r->env, atomic_load(&r->started) ? 0 : REPL_THREADS,
	    DB_REP_CLIENT);
	if (ret == 0) {
		atomic_store(&r->started, 1);
		return 0;
	}
	if (ret != DB_REP_UNAVAIL) {
		snprintf(err, errlen, "cannot start replication on %s:%u as client: %s", r->host,
		    r->port, db_strerror(ret));
		return PARLEY_EIO;
	}
	pthread_mutex_lock(&r->mu);
	ret = pthread_create(&r->joiner, NULL, join_loop, r);
	if (ret == 0)
		r->joining = 1;
	pthread_mutex_unlock(&r->mu);
	if (ret != 0) {
		snprintf(err, errlen, "cannot start a thread to join the group: %s",
		    strerror(ret));
		return PARLEY_EIO;
	}
	return 0;
}

int
repl_start(struct repl *r, char *err, size_t errlen)
{
	int ret;

	if (r->role == STORE_CLIENT)
		return start_client(r, err, errlen);
	if ((ret = r->env->repmgr_start(r->env, REPL_THREADS, DB_REP_MASTER)) != 0) {
		snprintf(err, errlen, "cannot start replication on %s:%u as master: %s", r->host,
		    r->port, db_strerror(ret));
		return PARLEY_EIO;
	}
	atomic_store(&r->started, 1);
	atomic_store(&r->master, 1);
	return 0;
}

void
repl_event(struct repl *r, u_int32_t event, void *info)
{
	switch (event) {
	case DB_EVENT_REP_PERM_FAILED:
		perm_failed_here = 1;
		notify(r, STORE_EV_PERM_FAILED);
		break;
	case DB_EVENT_REP_STARTUPDONE:
		atomic_store(&r->synced, 1);
		log_debug("store: replication on %s:%u is synced", r->host, r->port);
		notify(r, STORE_EV_SYNCED);
		break;
	case DB_EVENT_REP_MASTER_FAILURE:
		log_info("store: replication on %s:%u lost its master", r->host, r->port);
		notify(r, STORE_EV_MASTER_LOST);
		break;
	case DB_EVENT_REP_NEWMASTER:
		/* A master hears of itself too: only a client has news. */
		if (!atomic_load(&r->master)) {
			log_debug("store: replication on %s:%u has master #%d", r->host, r->port,
			    info != NULL ? *(int *)info : -1);
			notify(r, STORE_EV_NEW_MASTER);
		}
		break;
	case DB_EVENT_REP_DUPMASTER:
		/* Replication has made this site a client: it must not serve. */
		atomic_store(&r->master, 0);
		log_warnx("store: replication on %s:%u met another master", r->host, r->port);
		notify(r, STORE_EV_DUPMASTER);
		break;
	case DB_EVENT_REP_CLIENT:
		atomic_store(&r->master, 0);
		break;
	case DB_EVENT_REP_LOCAL_SITE_REMOVED:
		log_info("store: replication on %s:%u was removed from its group", r->host,
		    r->port);
		notify(r, STORE_EV_REMOVED);
		break;
	case DB_EVENT_REP_JOIN_FAILURE:
		log_info("store: replication on %s:%u cannot join its group", r->host, r->port);
		notify(r, STORE_EV_REMOVED);
		break;
	case DB_EVENT_PANIC:
		log_warnx("store: Berkeley DB panic in the store on %s:%u: reopen it", r->host,
		    r->port);
		break;
	default:
		log_debug("store: replication on %s:%u: event %u", r->host, r->port,
		    (unsigned)event);
		break;
	}
}

int
repl_promote(struct repl *r, char *err, size_t errlen)
{
	int ret;

	/* A client still asking to join starts here as master instead. */
	stop_joiner(r);
	ret = r->env->repmgr_start(r->env, atomic_load(&r->started) ? 0 : REPL_THREADS,
	    DB_REP_MASTER);
	if (ret != 0) {
		snprintf(err, errlen, "cannot make replication on %s:%u master: %s", r->host,
		    r->port, db_strerror(ret));
		return PARLEY_EIO;
	}
	atomic_store(&r->started, 1);
	atomic_store(&r->master, 1);
	return 0;
}

int
repl_demote(struct repl *r, char *err, size_t errlen)
{
	atomic_store(&r->master, 0);
	atomic_store(&r->synced, 0);
	return start_client(r, err, errlen);
}

int
repl_is_master(struct repl *r)
{
	return atomic_load(&r->master);
}

int
repl_is_synced(struct repl *r)
{
	return atomic_load(&r->synced);
}

void
repl_commit_begin(void)
{
	perm_failed_here = 0;
}

int
repl_commit_failed(void)
{
	return perm_failed_here;
}

void
repl_count(struct repl *r, int rc)
{
	if (rc != 0 && rc != PARLEY_ENOTACKED)
		return;
	atomic_fetch_add(&r->commits, 1);
	if (rc == PARLEY_ENOTACKED)
		atomic_fetch_add(&r->perm_failed, 1);
}

static int
listed(const char *host, unsigned port, const char *const *hosts, const unsigned *ports,
    size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ports[i] == port && hosts[i] != NULL && strcmp(hosts[i], host) == 0)
			return 1;
	return 0;
}

int
repl_set_secondaries(struct repl *r, const char *const *hosts, const unsigned *ports,
    size_t n, char *err, size_t errlen)
{
	DB_REPMGR_SITE *list = NULL;
	DB_SITE *site;
	u_int count = 0, i;
	int ret, rc = 0;

	if ((ret = r->env->repmgr_site_list(r->env, &count, &list)) != 0) {
		snprintf(err, errlen, "cannot list the sites of %s:%u: %s", r->host, r->port,
		    db_strerror(ret));
		return ret == ENOMEM ? PARLEY_ENOMEM : PARLEY_EIO;
	}
	for (i = 0; i < count; i++) {
		if (listed(list[i].host, list[i].port, hosts, ports, n) ||
		    (list[i].port == r->port && strcmp(list[i].host, r->host) == 0))
			continue;
		/* remove() closes the handle, whatever it returns. */
		if ((ret = r->env->repmgr_site_by_eid(r->env, list[i].eid, &site)) != 0 ||
		    (ret = site->remove(site)) != 0) {
			snprintf(err, errlen, "cannot remove %s:%u from the group of %s:%u: %s",
			    list[i].host, list[i].port, r->host, r->port, db_strerror(ret));
			rc = PARLEY_EIO;
			goto fail;
		}
		log_info("store: %s:%u left the group of %s:%u", list[i].host, list[i].port,
		    r->host, r->port);
	}
fail:
	free(list);
	return rc;
}

int
repl_stats(struct repl *r, struct store_repl_stats *out)
{
	DB_REPMGR_SITE *list = NULL;
	DB_REPMGR_STAT *ms = NULL;
	DB_REP_STAT *rs = NULL;
	u_int count = 0, i;
	int ret;

	memset(out, 0, sizeof *out);
	out->role = atomic_load(&r->master) ? STORE_MASTER : STORE_CLIENT;
	out->synced = out->role == STORE_MASTER || atomic_load(&r->synced);
	out->commits = atomic_load(&r->commits);
	out->perm_failed = atomic_load(&r->perm_failed);
	if ((ret = r->env->rep_stat(r->env, &rs, 0)) != 0 ||
	    (ret = r->env->repmgr_stat(r->env, &ms, 0)) != 0 ||
	    (ret = r->env->repmgr_site_list(r->env, &count, &list)) != 0)
		goto fail;
	out->master_id = rs->st_master == DB_EID_INVALID ? -1 : (int)rs->st_master;
	out->generation = rs->st_gen;
	out->next_lsn_file = rs->st_next_lsn.file;
	out->next_lsn_offset = rs->st_next_lsn.offset;
	out->perm_lsn_file = rs->st_max_perm_lsn.file;
	out->perm_lsn_offset = rs->st_max_perm_lsn.offset;
	out->log_queued = rs->st_log_queued;
	out->msgs_dropped = ms->st_msgs_dropped;
	out->sites = count;
	for (i = 0; i < count; i++)
		if (list[i].status == DB_REPMGR_CONNECTED)
			out->connected++;
fail:
	if (ret != 0)
		log_warnx("store: replication statistics of %s:%u: %s", r->host, r->port,
		    db_strerror(ret));
	free(list);
	free(ms);
	free(rs);
	return ret != 0 ? PARLEY_EIO : 0;
}

void
repl_stop(struct repl *r)
{
	if (r != NULL)
		stop_joiner(r);
}

void
repl_free(struct repl *r)
{
	if (r == NULL)
		return;
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r->host);
	free(r);
}

int
repl_quiet_acks(struct repl *r, int on)
{
	int ret;

	ret = r->env->repmgr_set_ack_policy(r->env, ack_policy(on ? STORE_ACK_NONE : r->ack));
	if (ret != 0) {
		log_warnx("store: replication on %s:%u: cannot set the ack policy: %s", r->host,
		    r->port, db_strerror(ret));
		return PARLEY_EIO;
	}
	return 0;
}
