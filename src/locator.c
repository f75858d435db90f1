/*
 * locator.c - the node's side of the conversation manager (locator.h): the
 * owned-group fast path, the route cache with one manager call per group at
 * a time, and the agent thread that registers the node and sends the
 * records of conversations in batches.
 *
 * A remote manager may be several manager sites, one active and the others
 * standbys: every call goes to the one that answered last, and on a refused
 * connection, a timeout or a standby's fault goes on at once to the one the
 * fault names, else to the next.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "addrlist.h"
#include "holdings.h"
#include "locator.h"
#include "log.h"
#include "manager.h"
#include "mgrsoap.h"
#include "mono.h"
#include "parley.h"

#define QUEUE_MAX 20000          /* conversation records waiting for the manager */
#define BATCH 500                /* records sent in one call */
#define RETRY_MAX_MS 2000        /* the longest wait between attempts to reach the manager */
#define SILENCE_INTERVALS 15     /* heartbeats missing before the node registers again */

struct route_entry {
	struct route_entry *next;
	struct mgr_route r;
	int64_t learnt_ms;
	int fetching;            /* a thread is asking the manager; the others wait */
	int valid;
};

struct ending {
	char id[IDGEN_ID_MAX];
	int64_t ended_ms;
};

struct locator {
	char node_id[MGR_ID_MAX];
	char address[MGR_ADDRESS_MAX];
	char urls[ADDRLIST_MAX][ADDRLIST_ITEM_MAX];   /* a remote manager's sites */
	unsigned n_urls;
	atomic_uint current;                          /* the one that answered last */
	struct manager *manager;
	unsigned timeout_ms;
	unsigned interval_ms;
	unsigned (*live_count)(void *arg);
	void *live_count_arg;
	char incarnation[MGR_INCARNATION_MAX];

	/* The route cache. */
	pthread_mutex_t mu;
	pthread_cond_t fetched;
	struct route_entry *routes;

	/* Remote calls made by workers (Locate), one at a time. */
	pthread_mutex_t call_mu;
	struct soap_client *call_client;

	/* The agent and what it sends; under qmu. */
	pthread_mutex_t qmu;
	pthread_cond_t work;
	pthread_t agent;
	int agent_running;
	int stop;
	struct mgr_conv *starts;
	unsigned n_starts;
	struct ending *ends;
	unsigned n_ends;
	int registered;
	int reregister;
	int64_t last_heartbeat_ms;
	char manager_incarnation[MGR_INCARNATION_MAX];
	struct mgr_assignment assignments[MGR_ASSIGNMENTS_MAX];
	unsigned n_assignments;
	int64_t assigned_sent_ms;       /* the newest heartbeat whose assignments were taken */
	char assigned_incarnation[MGR_INCARNATION_MAX];

	atomic_uint_fast64_t locate_calls, register_calls, record_calls, owned, cache_hits,
	    heartbeats, records_dropped, renewals, renewals_failed;

	/* Leases (store = replicated): a thread renews them every half interval. */
	struct holdings *holdings;
	pthread_t leaser;
	int leaser_running;
	int renew_now;                  /* under qmu: a group may be claimed, renew at once */
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src != NULL ? src : "");
}

int
locator_create(struct locator **out, const struct locator_config *cfg, char *err, size_t errlen)
{
	struct locator *l;
	unsigned char raw[8];
	int i;

	*out = NULL;
	if (!idgen_group_valid(cfg->node_id) ||
	    (cfg->address != NULL && strlen(cfg->address) >= MGR_ADDRESS_MAX) ||
	    (cfg->manager == NULL && (cfg->manager_url == NULL || cfg->manager_url[0] == '\0'))) {
		snprintf(err, errlen, "locator: a node needs a valid node_id, its address and a manager");
		return PARLEY_EINVAL;
	}
	l = calloc(1, sizeof *l);
	if (l == NULL)
		goto nomem;
	copy(l->node_id, sizeof l->node_id, cfg->node_id);
	copy(l->address, sizeof l->address, cfg->address);
	l->manager = cfg->manager;
	l->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 2000;
	l->interval_ms = cfg->heartbeat_interval_ms ? cfg->heartbeat_interval_ms : 200;
	l->live_count = cfg->live_count;
	l->live_count_arg = cfg->live_count_arg;
	l->holdings = cfg->holdings;
	if (l->manager == NULL) {
		if (addrlist_split(cfg->manager_url, l->urls, ADDRLIST_MAX, &l->n_urls) != 0 ||
		    l->n_urls == 0) {
			snprintf(err, errlen, "locator: the manager must be one to %d URLs, "
			    "comma-separated", ADDRLIST_MAX);
			free(l);
			return PARLEY_EINVAL;
		}
		l->call_client = soap_client_new(l->timeout_ms);
		if (l->call_client == NULL)
			goto nomem;
	}
	/* Each start of the node is a new incarnation, so the manager can tell a restart. */
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		memset(raw, 0, sizeof raw);
	for (i = 0; i < (int)sizeof raw; i++)
		snprintf(l->incarnation + 2 * i, 3, "%02x", raw[i]);
	l->starts = calloc(QUEUE_MAX, sizeof *l->starts);
	l->ends = calloc(QUEUE_MAX, sizeof *l->ends);
	if (l->starts == NULL || l->ends == NULL)
		goto nomem;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->fetched, NULL);
	pthread_mutex_init(&l->call_mu, NULL);
	pthread_mutex_init(&l->qmu, NULL);
	pthread_cond_init(&l->work, NULL);
	*out = l;
	return 0;

nomem:
	snprintf(err, errlen, "locator: out of memory");
	if (l != NULL) {
		soap_client_free(l->call_client);
		free(l->starts);
		free(l->ends);
		free(l);
	}
	return PARLEY_ENOMEM;
}

/* ---- asking the manager ------------------------------------------------------ */

/* The remote manager in use now (its URL lives as long as l). */
static const char *
manager_now(struct locator *l)
{
	return l->urls[atomic_load(&l->current) % l->n_urls];
}

/* One call of a remote manager at url, with c. */
typedef int (*remote_fn)(struct locator *l, struct soap_client *c, const char *url, void *arg);

/*
 * Make a call of the remote manager: of the one in use, and when it cannot
 * be reached, times out or is a standby, at once of the one the standby
 * names, else of the next, twice round the list at most. The site that
 * answers is used from then on. Returns the last call's result.
 */
static int
call_remote(struct locator *l, struct soap_client *c, remote_fn fn, void *arg)
{
	unsigned at = atomic_load(&l->current) % l->n_urls, next, tries, i;
	const char *named;
	int rc = PARLEY_EIO;

	for (tries = 0; tries < 2 * l->n_urls; tries++) {
		rc = fn(l, c, l->urls[at], arg);
		if (rc != PARLEY_EIO && rc != PARLEY_ETIMEDOUT && rc != PARLEY_ESTANDBY) {
			if (atomic_exchange(&l->current, at) != at)
				log_info("node %s: the active manager is at %s now", l->node_id,
				    l->urls[at]);
			return rc;
		}
		if (l->n_urls == 1)
			break;
		next = (at + 1) % l->n_urls;
		named = rc == PARLEY_ESTANDBY ? soap_client_standby_at(c) : "";
		for (i = 0; named[0] != '\0' && i < l->n_urls; i++)
			if (i != at && strcmp(l->urls[i], named) == 0)
				next = i;
		at = next;
	}
	return rc;
}

static int
remote_locate(struct locator *l, struct soap_client *c, const char *url, void *arg)
{
	struct mgr_route *out = arg;

	(void)l;
	return mgrclient_locate(c, url, out->group, out);
}

static int
ask_locate(struct locator *l, const char *group, struct mgr_route *out)
{
	int rc;

	atomic_fetch_add(&l->locate_calls, 1);
	if (l->manager != NULL)
		return manager_locate(l->manager, group, out);
	pthread_mutex_lock(&l->call_mu);
	copy(out->group, sizeof out->group, group);
	rc = call_remote(l, l->call_client, remote_locate, out);
	if (rc != 0 && rc != PARLEY_ENOENT)
		log_warnx("cannot ask the manager at %s where group %s is: %s", manager_now(l),
		    group, soap_client_error(l->call_client));
	pthread_mutex_unlock(&l->call_mu);
	return rc;
}

/* The cache entry of group; called with mu held. */
static struct route_entry *
find_route(struct locator *l, const char *group)
{
	struct route_entry *e;

	for (e = l->routes; e != NULL; e = e->next)
		if (strcmp(e->r.group, group) == 0)
			return e;
	return NULL;
}

int
locator_owns(struct locator *l, const char *group)
{
	if (l->holdings != NULL ? !holdings_serves(l->holdings, group)
	    : strcmp(group, l->node_id) != 0)
		return 0;
	atomic_fetch_add(&l->owned, 1);
	return 1;
}

int
locator_route(struct locator *l, const char *group, struct mgr_route *out)
{
	struct route_entry *e;
	struct mgr_route r;
	int rc;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		e = find_route(l, group);
		if (e == NULL)
			break;
		if (e->valid && !e->fetching) {
			*out = e->r;
			pthread_mutex_unlock(&l->mu);
			atomic_fetch_add(&l->cache_hits, 1);
			return 0;
		}
		if (!e->fetching)
			break;
		/* Another thread is asking for this group: its answer will do. */
		pthread_cond_wait(&l->fetched, &l->mu);
	}
	if (e == NULL) {
		e = calloc(1, sizeof *e);
		if (e == NULL) {
			pthread_mutex_unlock(&l->mu);
			return PARLEY_ENOMEM;
		}
		copy(e->r.group, sizeof e->r.group, group);
		e->next = l->routes;
		l->routes = e;
	}
	e->fetching = 1;
	pthread_mutex_unlock(&l->mu);

	memset(&r, 0, sizeof r);
	rc = ask_locate(l, group, &r);

	pthread_mutex_lock(&l->mu);
	e->fetching = 0;
	if (rc == 0) {
		e->r = r;
		copy(e->r.group, sizeof e->r.group, group);
		e->learnt_ms = now_ms();
		e->valid = 1;
		*out = e->r;
	} else {
		e->valid = 0;
	}
	pthread_cond_broadcast(&l->fetched);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

void
locator_forget(struct locator *l, const char *group)
{
	struct route_entry *e;

	pthread_mutex_lock(&l->mu);
	e = find_route(l, group);
	if (e != NULL && !e->fetching)
		e->valid = 0;
	pthread_mutex_unlock(&l->mu);
}

int
locator_learn(struct locator *l, const struct mgr_route *r)
{
	struct route_entry *e;
	int taken = 0;

	pthread_mutex_lock(&l->mu);
	e = find_route(l, r->group);
	if (e == NULL) {
		e = calloc(1, sizeof *e);
		if (e != NULL) {
			e->next = l->routes;
			l->routes = e;
		}
	}
	/*
	 * Newer is a higher epoch, or the same epoch at another address: the
	 * node that answered pc:Moved asked the manager after this cache did.
	 */
	if (e != NULL && !e->fetching && (!e->valid || r->epoch > e->r.epoch ||
	    (r->epoch == e->r.epoch && strcmp(r->address, e->r.address) != 0))) {
		e->r = *r;
		e->learnt_ms = now_ms();
		e->valid = 1;
		taken = 1;
	}
	pthread_mutex_unlock(&l->mu);
	return taken;
}

void
locator_each_route(struct locator *l,
    void (*cb)(void *arg, const struct mgr_route *r, int64_t learnt_ms), void *arg)
{
	struct route_entry *e;

	pthread_mutex_lock(&l->mu);
	for (e = l->routes; e != NULL; e = e->next)
		if (e->valid)
			cb(arg, &e->r, e->learnt_ms);
	pthread_mutex_unlock(&l->mu);
}

/* ---- conversation records ------------------------------------------------------- */

void
locator_started(struct locator *l, const char *id, const char *service, const char *reply_to,
    const char *from, int64_t created_ms)
{
	struct mgr_conv *c;

	pthread_mutex_lock(&l->qmu);
	if (l->n_starts == QUEUE_MAX) {
		atomic_fetch_add(&l->records_dropped, 1);
		pthread_mutex_unlock(&l->qmu);
		return;
	}
	c = &l->starts[l->n_starts++];
	memset(c, 0, sizeof *c);
	copy(c->id, sizeof c->id, id);
	copy(c->service, sizeof c->service, service);
	copy(c->reply_to, sizeof c->reply_to, reply_to);
	copy(c->from, sizeof c->from, from);
	c->created_ms = created_ms;
	pthread_cond_broadcast(&l->work);
	pthread_mutex_unlock(&l->qmu);
}

void
locator_ended(struct locator *l, const char *id, int64_t ended_ms)
{
	struct ending *e;

	pthread_mutex_lock(&l->qmu);
	if (l->n_ends == QUEUE_MAX) {
		atomic_fetch_add(&l->records_dropped, 1);
		pthread_mutex_unlock(&l->qmu);
		return;
	}
	e = &l->ends[l->n_ends++];
	copy(e->id, sizeof e->id, id);
	e->ended_ms = ended_ms;
	pthread_cond_broadcast(&l->work);
	pthread_mutex_unlock(&l->qmu);
}

/* ---- the agent ---------------------------------------------------------------------- */

struct remote_register {
	struct mgr_group groups[MGR_ASSIGNMENTS_MAX];
	char inc[MGR_INCARNATION_MAX];
	unsigned n, interval;
};

static int
remote_register(struct locator *l, struct soap_client *c, const char *url, void *arg)
{
	struct remote_register *r = arg;

	r->n = MGR_ASSIGNMENTS_MAX;
	return mgrclient_register_node(c, url, l->node_id, l->address, l->incarnation,
	    l->holdings != NULL && holdings_replicated(l->holdings), r->inc, &r->interval,
	    r->groups, &r->n);
}

/* Register with the manager; called by the agent only. */
static int
do_register(struct locator *l, struct soap_client *client)
{
	struct mgr_group groups[MGR_ASSIGNMENTS_MAX];
	struct remote_register r;
	char inc[MGR_INCARNATION_MAX];
	unsigned n = MGR_ASSIGNMENTS_MAX;
	int rc;

	atomic_fetch_add(&l->register_calls, 1);
	if (l->manager != NULL) {
		rc = manager_register_node(l->manager, l->node_id, l->address, l->incarnation,
		    l->holdings != NULL && holdings_replicated(l->holdings), groups, &n);
		copy(inc, sizeof inc, manager_incarnation(l->manager));
	} else {
		memset(&r, 0, sizeof r);
		rc = call_remote(l, client, remote_register, &r);
		copy(inc, sizeof inc, r.inc);
	}
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&l->qmu);
	copy(l->manager_incarnation, sizeof l->manager_incarnation, inc);
	l->registered = 1;
	l->reregister = 0;
	pthread_mutex_unlock(&l->qmu);
	log_info("node %s registered with the %s manager (%s) as %s", l->node_id,
	    l->manager != NULL ? "embedded" : "remote",
	    l->manager != NULL ? "this process" : manager_now(l), l->address);
	return 0;
}

struct remote_records {
	const struct mgr_conv *starts;
	const char *const *ids;
	const int64_t *when;
	unsigned n;
};

static int
remote_starts(struct locator *l, struct soap_client *c, const char *url, void *arg)
{
	struct remote_records *r = arg;

	(void)l;
	return mgrclient_register_conversations(c, url, r->starts, r->n);
}

static int
remote_ends(struct locator *l, struct soap_client *c, const char *url, void *arg)
{
	struct remote_records *r = arg;

	(void)l;
	return mgrclient_end_conversations(c, url, r->ids, r->when, r->n);
}

/*
 * Send up to BATCH queued records of each kind. On failure they go back to
 * the front of their queues, to be sent again.
 */
static int
flush_records(struct locator *l, struct soap_client *client)
{
	struct mgr_conv *starts = NULL;
	struct ending *ends = NULL;
	struct remote_records rr;
	const char *ids[BATCH];
	int64_t when[BATCH];
	unsigned ns, ne, i;
	int rc = 0;

	starts = malloc(BATCH * sizeof *starts);
	ends = malloc(BATCH * sizeof *ends);
	if (starts == NULL || ends == NULL) {
		rc = PARLEY_ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&l->qmu);
	ns = l->n_starts < BATCH ? l->n_starts : BATCH;
	memcpy(starts, l->starts, ns * sizeof *starts);
	ne = l->n_ends < BATCH ? l->n_ends : BATCH;
	memcpy(ends, l->ends, ne * sizeof *ends);
	pthread_mutex_unlock(&l->qmu);
	if (ns == 0 && ne == 0)
		goto out;
	if (ns > 0) {
		atomic_fetch_add(&l->record_calls, 1);
		memset(&rr, 0, sizeof rr);
		rr.starts = starts;
		rr.n = ns;
		rc = l->manager != NULL ? manager_register_conversations(l->manager, starts, ns)
		    : call_remote(l, client, remote_starts, &rr);
		if (rc != 0)
			goto out;
	}
	if (ne > 0) {
		for (i = 0; i < ne; i++) {
			ids[i] = ends[i].id;
			when[i] = ends[i].ended_ms;
		}
		atomic_fetch_add(&l->record_calls, 1);
		memset(&rr, 0, sizeof rr);
		rr.ids = ids;
		rr.when = when;
		rr.n = ne;
		rc = l->manager != NULL ? manager_end_conversations(l->manager, ids, when, ne)
		    : call_remote(l, client, remote_ends, &rr);
	}
	/* Only what was sent leaves the queues; records queued meanwhile stay behind it. */
	pthread_mutex_lock(&l->qmu);
	memmove(l->starts, l->starts + ns, (l->n_starts - ns) * sizeof *l->starts);
	l->n_starts -= ns;
	if (rc == 0) {
		memmove(l->ends, l->ends + ne, (l->n_ends - ne) * sizeof *l->ends);
		l->n_ends -= ne;
	}
	pthread_mutex_unlock(&l->qmu);
out:
	free(starts);
	free(ends);
	return rc;
}

static void *
agent_main(void *arg)
{
	struct locator *l = arg;
	struct soap_client *client = NULL;
	int64_t next_try = 0, last_warn = 0, now;
	unsigned backoff = 50;
	struct timespec until;
	int need, pending, stop, idle;

	if (l->manager == NULL)
		client = soap_client_new(l->timeout_ms);
	for (;;) {
		pthread_mutex_lock(&l->qmu);
		now = now_ms();
		idle = l->n_starts == 0 && l->n_ends == 0 && l->registered && !l->reregister;
		if (!l->stop && (idle || now < next_try)) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 50 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&l->work, &l->qmu, &until);
			now = now_ms();
		}
		/* A remote manager that stops calling may have lost this node: register again. */
		if (l->manager == NULL && l->registered && l->last_heartbeat_ms > 0 &&
		    now - l->last_heartbeat_ms > (int64_t)SILENCE_INTERVALS * l->interval_ms) {
			l->reregister = 1;
			l->last_heartbeat_ms = now;
		}
		need = !l->registered || l->reregister;
		pending = l->n_starts > 0 || l->n_ends > 0;
		stop = l->stop;
		pthread_mutex_unlock(&l->qmu);
		if (stop)
			break;
		if (now < next_try || (!need && !pending))
			continue;
		if (need ? do_register(l, client) != 0 : flush_records(l, client) != 0) {
			if (now - last_warn > 60000) {
				log_warnx("node %s cannot reach the manager at %s: %s; retrying", l->node_id,
				    l->manager != NULL ? "(embedded)" : manager_now(l),
				    client != NULL ? soap_client_error(client) : "its tables failed");
				last_warn = now;
			}
			next_try = now + backoff;
			backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
		} else {
			backoff = 50;
			next_try = 0;
		}
	}
	/* On the way out, give the manager what is queued, once. */
	if (l->registered && client != NULL)
		soap_client_set_timeout(client, 1000);
	if (l->registered)
		(void)flush_records(l, client);
	soap_client_free(client);
	return NULL;
}

int
locator_set_address(struct locator *l, const char *address)
{
	if (strlen(address) >= sizeof l->address)
		return PARLEY_EINVAL;
	copy(l->address, sizeof l->address, address);
	return 0;
}

/* ---- leases ---------------------------------------------------------------------------- */

struct remote_renew {
	const struct mgr_claim *claims;
	unsigned n;
	struct mgr_claim *granted;
	unsigned *n_granted, *lease_ms;
};

static int
remote_renew(struct locator *l, struct soap_client *c, const char *url, void *arg)
{
	struct remote_renew *r = arg;

	return mgrclient_renew(c, url, l->node_id, l->incarnation, r->claims, r->n, r->granted,
	    r->n_granted, r->lease_ms);
}

static void
renew_soon(void *arg)
{
	struct locator *l = arg;

	pthread_mutex_lock(&l->qmu);
	l->renew_now = 1;
	pthread_cond_broadcast(&l->work);
	pthread_mutex_unlock(&l->qmu);
}

/*
 * Renew the leases of the groups this node would serve, every half
 * interval. The lease counts from before the call was sent, so the node's
 * lease always ends before the manager's view of it (ARCHITECTURE.md,
 * "Fencing"). A refusal means the manager thinks the node dead or does not
 * know this incarnation: every lease is dropped and the node registers again.
 */
static void *
leaser_main(void *arg)
{
	struct locator *l = arg;
	struct soap_client *client = NULL;
	struct mgr_claim claims[MGR_ASSIGNMENTS_MAX], granted[MGR_ASSIGNMENTS_MAX];
	struct remote_renew rr;
	struct timespec until;
	unsigned n, n_granted, lease_ms, period = l->interval_ms / 2 ? l->interval_ms / 2 : 1;
	int64_t sent;
	int rc, stop, registered;

	if (l->manager == NULL)
		client = soap_client_new(l->interval_ms);
	for (;;) {
		pthread_mutex_lock(&l->qmu);
		if (!l->stop && !l->renew_now) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += (long)period * 1000000L;
			while (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&l->work, &l->qmu, &until);
		}
		l->renew_now = 0;
		stop = l->stop;
		registered = l->registered && !l->reregister;
		pthread_mutex_unlock(&l->qmu);
		if (stop)
			break;
		n = holdings_claims(l->holdings, claims, MGR_ASSIGNMENTS_MAX);
		if (n == 0 || !registered)
			continue;
		sent = mono_ms();
		n_granted = 0;
		lease_ms = 0;
		if (l->manager != NULL)
			rc = manager_renew(l->manager, l->node_id, l->incarnation, claims, n, granted,
			    &n_granted, &lease_ms);
		else if (client == NULL)
			rc = PARLEY_ENOMEM;
		else {
			rr.claims = claims;
			rr.n = n;
			rr.granted = granted;
			rr.n_granted = &n_granted;
			rr.lease_ms = &lease_ms;
			rc = call_remote(l, client, remote_renew, &rr);
		}
		if (rc == 0) {
			atomic_fetch_add(&l->renewals, 1);
			holdings_granted(l->holdings, granted, n_granted, sent, lease_ms);
			continue;
		}
		atomic_fetch_add(&l->renewals_failed, 1);
		if (rc == PARLEY_ESTATE || rc == PARLEY_EFAULT) {
			holdings_granted(l->holdings, NULL, 0, sent, 0);
			pthread_mutex_lock(&l->qmu);
			l->reregister = 1;
			pthread_cond_broadcast(&l->work);
			pthread_mutex_unlock(&l->qmu);
		}
		/* Otherwise the lease runs out by itself if the manager stays away. */
	}
	soap_client_free(client);
	return NULL;
}

int
locator_start(struct locator *l)
{
	if (pthread_create(&l->agent, NULL, agent_main, l) != 0)
		return PARLEY_ENOMEM;
	l->agent_running = 1;
	if (l->holdings != NULL && holdings_replicated(l->holdings)) {
		holdings_set_notify(l->holdings, renew_soon, l);
		if (pthread_create(&l->leaser, NULL, leaser_main, l) != 0)
			return PARLEY_ENOMEM;
		l->leaser_running = 1;
	}
	return 0;
}

void
locator_destroy(struct locator *l)
{
	struct route_entry *e, *next;

	if (l == NULL)
		return;
	if (l->agent_running) {
		pthread_mutex_lock(&l->qmu);
		l->stop = 1;
		pthread_cond_broadcast(&l->work);
		pthread_mutex_unlock(&l->qmu);
		pthread_join(l->agent, NULL);
	}
	if (l->leaser_running) {
		pthread_join(l->leaser, NULL);
		holdings_set_notify(l->holdings, NULL, NULL);
	}
	for (e = l->routes; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
	soap_client_free(l->call_client);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->fetched);
	pthread_mutex_destroy(&l->call_mu);
	pthread_mutex_destroy(&l->qmu);
	pthread_cond_destroy(&l->work);
	free(l->starts);
	free(l->ends);
	free(l);
}

/* ---- heartbeats ------------------------------------------------------------------------ */

int
locator_heartbeat(void *locator, const struct mgr_heartbeat *hb, struct mgr_heartbeat_reply *reply)
{
	struct locator *l = locator;
	unsigned i;
	int foreign = 0, fresh;

	if (strcmp(hb->node, l->node_id) != 0)
		return PARLEY_EINVAL;
	atomic_fetch_add(&l->heartbeats, 1);
	pthread_mutex_lock(&l->qmu);
	l->last_heartbeat_ms = now_ms();
	/* A manager that restarted may have lost this node: register again to be sure. */
	if (l->registered && strcmp(hb->manager_incarnation, l->manager_incarnation) != 0) {
		l->reregister = 1;
		pthread_cond_broadcast(&l->work);
		/*
		 * With several manager sites, a manager this node has not registered
		 * with may be one that lost its place: what it assigns waits until
		 * the node has registered with the active one.
		 */
		foreign = l->n_urls > 1;
	}
	/*
	 * A heartbeat that waited in this node's socket (the node was frozen)
	 * may be read after newer ones: only the newest assignments count.
	 */
	fresh = !foreign && (strcmp(hb->manager_incarnation, l->assigned_incarnation) != 0 ||
	    hb->sent_ms >= l->assigned_sent_ms);
	if (fresh) {
		l->assigned_sent_ms = hb->sent_ms;
		copy(l->assigned_incarnation, sizeof l->assigned_incarnation,
		    hb->manager_incarnation);
		l->n_assignments = hb->n_assignments < MGR_ASSIGNMENTS_MAX ? hb->n_assignments
		    : MGR_ASSIGNMENTS_MAX;
		for (i = 0; i < l->n_assignments; i++)
			l->assignments[i] = hb->assignments[i];
		/* Under qmu, so that two heartbeats read at once are taken in order. */
		if (l->holdings != NULL)
			holdings_assign(l->holdings, hb->assignments, hb->n_assignments);
	}
	pthread_mutex_unlock(&l->qmu);
	memset(reply, 0, sizeof *reply);
	if (l->holdings != NULL)
		reply->n_holdings = holdings_report(l->holdings, reply->holdings,
		    MGR_ASSIGNMENTS_MAX);
	copy(reply->node, sizeof reply->node, l->node_id);
	copy(reply->incarnation, sizeof reply->incarnation, l->incarnation);
	reply->conversations = l->live_count != NULL ? l->live_count(l->live_count_arg) : 0;
	return 0;
}

void
locator_get_stats(struct locator *l, struct locator_stats *st)
{
	unsigned i;

	memset(st, 0, sizeof *st);
	st->locate_calls = atomic_load(&l->locate_calls);
	st->register_calls = atomic_load(&l->register_calls);
	st->record_calls = atomic_load(&l->record_calls);
	st->owned = atomic_load(&l->owned);
	st->cache_hits = atomic_load(&l->cache_hits);
	st->heartbeats = atomic_load(&l->heartbeats);
	st->records_dropped = atomic_load(&l->records_dropped);
	st->renewals = atomic_load(&l->renewals);
	st->renewals_failed = atomic_load(&l->renewals_failed);
	copy(st->incarnation, sizeof st->incarnation, l->incarnation);
	copy(st->manager_now, sizeof st->manager_now, l->manager != NULL ? "" : manager_now(l));
	pthread_mutex_lock(&l->qmu);
	st->queued = l->n_starts + l->n_ends;
	st->registered = l->registered;
	st->last_heartbeat_ms = l->last_heartbeat_ms;
	copy(st->manager_incarnation, sizeof st->manager_incarnation, l->manager_incarnation);
	st->n_assignments = l->n_assignments;
	for (i = 0; i < l->n_assignments; i++)
		st->assignments[i] = l->assignments[i];
	pthread_mutex_unlock(&l->qmu);
}
