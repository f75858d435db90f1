/*
 * holdings.c - the groups a node holds (holdings.h).
 *
 * Entries live in a small array under a read-write lock: workers take the
 * read side for every message (find the group, check it is served, count a
 * reference); the holdings' thread takes the write side only to add or
 * drop an entry. A store changes role (promote, demote) or closes only
 * while nobody holds a reference to it, and an entry stops being served
 * before that, so a worker never sees a store change under it.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "holdings.h"
#include "log.h"
#include "mono.h"
#include "parley.h"

#define MAX_HELD MGR_ASSIGNMENTS_MAX
#define DEFAULT_PORTS 16
#define PORT_SUFFIX ".port"     /* beside the group's directory: its listener's port */
#define LOOP_MS 100

enum want { WANT_NONE = 0, WANT_PRIMARY, WANT_SECONDARY };

struct holding {
	struct holdings *h;
	char group[MGR_ID_MAX];
	struct store *st;               /* NULL until opened */
	unsigned port;                  /* its replication listener */
	atomic_int serving;             /* workers may take it */
	atomic_int refs;
	_Atomic int64_t lease_until;    /* monotonic ms; 0: no lease */
	atomic_uint_fast64_t epoch;     /* the epoch it is (to be) served at */
	char applied_peer[MGR_REPL_MAX];/* the secondary store_set_secondaries was given */
	int64_t members_tried_ms;       /* when the membership was last trimmed */
	atomic_int rejoin;              /* removed from its group: open it again */
	atomic_int fenced;              /* met another master: never master again at this epoch */
	int64_t open_failed_ms;         /* when opening last failed (retry later) */
};

/* What the manager wants of one group (a heartbeat's assignment). */
struct wish {
	char group[MGR_ID_MAX];
	enum want want;
	uint64_t epoch;
	char peer[MGR_REPL_MAX];
};

struct holdings {
	struct holdings_config cfg;
	char node_id[MGR_ID_MAX];
	char *data_dir;
	char *repl_host;
	int replicated;

	pthread_rwlock_t lock;          /* the entries array */
	struct holding *held[MAX_HELD];
	unsigned n_held;

	pthread_mutex_t wmu;            /* wishes, and the thread's sleep */
	pthread_cond_t wake;
	struct wish wishes[MAX_HELD];
	unsigned n_wishes;
	int have_wishes;
	int stop;
	pthread_t thread;
	int thread_running;
	void (*notify)(void *arg);
	void *notify_arg;
};

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- entries --------------------------------------------------------------------------- */

/* The entry of group, or NULL (under lock, either side). */
static struct holding *
find(struct holdings *h, const char *group)
{
	unsigned i;

	for (i = 0; i < h->n_held; i++)
		if (strcmp(h->held[i]->group, group) == 0)
			return h->held[i];
	return NULL;
}

static int
served_now(const struct holdings *h, struct holding *e)
{
	if (!atomic_load(&e->serving))
		return 0;
	return !h->replicated || atomic_load(&e->lease_until) > mono_ms();
}

int
holdings_acquire(struct holdings *h, const char *group, struct store **st, struct holding **ref)
{
	struct holding *e;
	int rc = PARLEY_ENOENT;

	*st = NULL;
	*ref = NULL;
	/* memory or disk: one group, its own, opened at start and never changed. */
	if (!h->replicated) {
		if (strcmp(group, h->node_id) != 0)
			return PARLEY_ENOENT;
		*st = h->held[0]->st;
		*ref = h->held[0];
		atomic_fetch_add(&h->held[0]->refs, 1);
		return 0;
	}
	pthread_rwlock_rdlock(&h->lock);
	e = find(h, group);
	if (e != NULL && served_now(h, e)) {
		atomic_fetch_add(&e->refs, 1);
		*st = e->st;
		*ref = e;
		rc = 0;
	}
	pthread_rwlock_unlock(&h->lock);
	return rc;
}

void
holdings_release(struct holding *ref)
{
	if (ref != NULL)
		atomic_fetch_sub(&ref->refs, 1);
}

int
holdings_serves(struct holdings *h, const char *group)
{
	struct holding *e;
	int yes;

	if (!h->replicated)
		return strcmp(group, h->node_id) == 0;
	pthread_rwlock_rdlock(&h->lock);
	e = find(h, group);
	yes = e != NULL && served_now(h, e);
	pthread_rwlock_unlock(&h->lock);
	return yes;
}

int
holdings_each(struct holdings *h, int (*cb)(void *arg, const char *group, struct store *st),
    void *arg)
{
	struct holding *taken[MAX_HELD];
	unsigned i, n = 0;
	int rc = 0;

	pthread_rwlock_rdlock(&h->lock);
	for (i = 0; i < h->n_held; i++)
		if (served_now(h, h->held[i])) {
			atomic_fetch_add(&h->held[i]->refs, 1);
			taken[n++] = h->held[i];
		}
	pthread_rwlock_unlock(&h->lock);
	for (i = 0; i < n; i++) {
		if (rc == 0)
			rc = cb(arg, taken[i]->group, taken[i]->st);
		atomic_fetch_sub(&taken[i]->refs, 1);
	}
	return rc;
}

static int
add_live(void *arg, const char *group, struct store *st)
{
	(void)group;
	*(unsigned *)arg += store_live_count(st);
	return 0;
}

unsigned
holdings_live_count(struct holdings *h)
{
	unsigned n = 0;

	(void)holdings_each(h, add_live, &n);
	return n;
}

/* Stop serving e and wait until no worker holds its store. */
static void
quiesce(struct holding *e)
{
	atomic_store(&e->serving, 0);
	atomic_store(&e->lease_until, 0);
	while (atomic_load(&e->refs) > 0)
		sleep_ms(1);
}

/* ---- opening a group's store ------------------------------------------------------------- */

static int
group_home(const struct holdings *h, const char *group, char *out, size_t len)
{
	return (size_t)snprintf(out, len, "%s/groups/%s", h->data_dir, group) < len ? 0 : -1;
}

/*
 * The port a group's listener used before, or 0. It is kept beside the
 * group's directory, not in it: Berkeley DB reads every file of an
 * environment it copies.
 */
static unsigned
port_kept(const char *home)
{
	char path[4096];
	unsigned port = 0;
	FILE *f;

	if ((size_t)snprintf(path, sizeof path, "%s%s", home, PORT_SUFFIX) >= sizeof path)
		return 0;
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(f, "%u", &port) != 1)
		port = 0;
	fclose(f);
	return port;
}

static void
port_keep(const char *home, unsigned port)
{
	char path[4096];
	FILE *f;

	if ((size_t)snprintf(path, sizeof path, "%s%s", home, PORT_SUFFIX) >= sizeof path)
		return;
	if ((f = fopen(path, "w")) == NULL) {
		log_warnx("cannot write %s: %s", path, strerror(errno));
		return;
	}
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0)
		log_warnx("cannot write %s: %s", path, strerror(errno));
}

/*
 * A port for group's listener: the one it had (so that the group's other
 * copy finds it again), else the first of the range no entry uses.
 */
static unsigned
choose_port(struct holdings *h, const char *home)
{
	unsigned kept = port_kept(home), p, i;
	int used;

	if (kept >= h->cfg.repl_port && kept < h->cfg.repl_port + h->cfg.repl_ports) {
		for (i = 0, used = 0; i < h->n_held; i++)
			used |= h->held[i]->port == kept;
		if (!used)
			return kept;
	}
	for (p = h->cfg.repl_port; p < h->cfg.repl_port + h->cfg.repl_ports; p++) {
		for (i = 0, used = 0; i < h->n_held; i++)
			used |= h->held[i]->port == p;
		if (!used)
			return p;
	}
	return 0;
}

static int
split_peer(const char *peer, char *host, size_t hostlen, unsigned *port)
{
	const char *colon = strrchr(peer, ':');
	char *end;
	unsigned long p;

	if (colon == NULL || (size_t)(colon - peer) >= hostlen || colon == peer)
		return -1;
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || p == 0 || p > 65535)
		return -1;
	memcpy(host, peer, (size_t)(colon - peer));
	host[colon - peer] = '\0';
	*port = (unsigned)p;
	return 0;
}

static void
store_event(void *arg, struct store *st, enum store_event ev)
{
	struct holding *e = arg;

	(void)st;
	switch (ev) {
	case STORE_EV_SYNCED:
		log_info("group %s: this node's copy has caught up", e->group);
		break;
	case STORE_EV_DUPMASTER:
		/* Another copy is master: this one must not take writes. */
		if (!atomic_exchange(&e->fenced, 1))
			log_warnx("group %s: another node is master too; this node stops serving "
			    "it", e->group);
		atomic_store(&e->serving, 0);
		atomic_store(&e->lease_until, 0);
		break;
	case STORE_EV_REMOVED:
		atomic_store(&e->rejoin, 1);
		break;
	case STORE_EV_MASTER_LOST:
		log_info("group %s: its primary is gone; waiting for the manager", e->group);
		break;
	default:
		break;
	}
}

/*
 * Open e's store as w says (under wmu not held; the entry is not served
 * yet). A secondary needs to know where the primary listens; without that
 * it waits for a later heartbeat.
 */
static int
open_store(struct holdings *h, struct holding *e, const struct wish *w)
{
	struct store_config sc = h->cfg.store;
	struct store_repl rc;
	char home[4096], helper[MGR_REPL_MAX], err[512], probe[4200];
	unsigned helper_port = 0;
	int fresh, ret;

	if (group_home(h, e->group, home, sizeof home) != 0)
		return PARLEY_EINVAL;
	memset(&rc, 0, sizeof rc);
	if (w->want == WANT_SECONDARY &&
	    split_peer(w->peer, helper, sizeof helper, &helper_port) != 0)
		return PARLEY_AGAIN;
	/* No databases yet: a new group, whose first master creates it. */
	fresh = (size_t)snprintf(probe, sizeof probe, "%s/meta", home) < sizeof probe &&
	    access(probe, F_OK) != 0;
	sc.home = home;
	rc.host = h->repl_host;
	rc.port = e->port;
	rc.role = w->want == WANT_PRIMARY ? STORE_MASTER : STORE_CLIENT;
	rc.creator = w->want == WANT_PRIMARY && fresh;
	rc.helper_host = w->want == WANT_SECONDARY ? helper : NULL;
	rc.helper_port = helper_port;
	rc.ack = h->cfg.ack;
	rc.ack_timeout_ms = h->cfg.ack_timeout_ms;
	rc.heartbeat_ms = h->cfg.repl_heartbeat_ms;
	rc.event = store_event;
	rc.event_arg = e;
	sc.repl = &rc;
	ret = store_open(&e->st, &sc, err, sizeof err);
	if (ret != 0) {
		log_warnx("group %s: cannot open its store as %s: %s", e->group,
		    w->want == WANT_PRIMARY ? "primary" : "secondary", err);
		return ret;
	}
	port_keep(home, e->port);
	log_info("group %s: store opened as %s, replication on %s:%u%s%s", e->group,
	    w->want == WANT_PRIMARY ? "primary" : "secondary", h->repl_host, e->port,
	    w->want == WANT_SECONDARY ? ", copying from " : "",
	    w->want == WANT_SECONDARY ? w->peer : "");
	return 0;
}

/*
 * Keep a primary's replication group down to its designated secondary (the
 * manager's peer; none while the manager does not know where it listens):
 * a member that died would otherwise stay, and a group of two that lost one
 * can change its membership only while it has no third member, so the
 * manager names a new secondary only once this is done (the primary says so
 * in its heartbeat answer, holdings_report).
 */
static void
trim_members(struct holding *e, const struct wish *w)
{
	struct store_repl_stats rs;
	char err[512], host[MGR_REPL_MAX];
	const char *hosts[1];
	unsigned ports[1], n = 0;
	int64_t now = mono_ms();

	/* "": the manager does not know where the new secondary listens yet. */
	if (w->peer[0] == '\0' || strcmp(w->peer, e->applied_peer) == 0)
		return;
	if (store_repl_stats(e->st, &rs) != 0)
		return;
	/* "-": every member goes (the old secondary, or an old primary), live or not. */
	if (strcmp(w->peer, "-") == 0 && rs.sites == 0)
		return;
	if (now - e->members_tried_ms < 500)
		return;
	e->members_tried_ms = now;
	if (strcmp(w->peer, "-") != 0) {
		if (split_peer(w->peer, host, sizeof host, &ports[0]) != 0)
			return;
		hosts[0] = host;
		n = 1;
	}
	if (store_set_secondaries(e->st, hosts, ports, n, err, sizeof err) != 0) {
		log_debug("group %s: its replication group keeps old members for now (%s)",
		    e->group, err);
		return;
	}
	if (n == 1)
		snprintf(e->applied_peer, sizeof e->applied_peer, "%s", w->peer);
}

/* Make e match w (the holdings' thread only). */
static void
reconcile(struct holdings *h, struct holding *e, const struct wish *w)
{
	char err[512];
	int rc, notify = 0;

	/* A copy its group removed (it was thought dead) joins again from the start. */
	if (e->st != NULL && atomic_load(&e->rejoin) && w->want == WANT_SECONDARY &&
	    !store_is_master(e->st)) {
		log_info("group %s: this node's copy was removed from the group; joining again",
		    e->group);
		store_close(e->st);
		e->st = NULL;
		atomic_store(&e->rejoin, 0);
	}
	if (e->st == NULL) {
		if (mono_ms() - e->open_failed_ms < 1000)
			return;
		rc = open_store(h, e, w);
		if (rc != 0) {
			if (rc != PARLEY_AGAIN)
				e->open_failed_ms = mono_ms();
			return;
		}
	}
	/*
	 * A copy that met another master was primary at an epoch that has
	 * moved on (it was frozen, say): only a newer epoch makes it master
	 * again, never what it was told before.
	 */
	if (atomic_load(&e->fenced)) {
		if (w->want == WANT_PRIMARY && w->epoch <= atomic_load(&e->epoch))
			return;
		atomic_store(&e->fenced, 0);
	}
	if (w->want == WANT_PRIMARY && !store_is_master(e->st)) {
		if ((rc = store_promote(e->st, err, sizeof err)) != 0) {
			log_warnx("group %s: cannot promote this node's copy: %s", e->group, err);
			return;
		}
		log_info("group %s: this node is its primary now, epoch %llu", e->group,
		    (unsigned long long)w->epoch);
		/*
		 * The old primary leaves the replication group now: it may be
		 * frozen, not dead, and when it wakes up it must meet no member
		 * that takes it for a master (Berkeley DB would then turn both
		 * into clients, and this copy could roll back to the old one).
		 * A new secondary is named only after this (trim_members).
		 */
		if (store_set_secondaries(e->st, NULL, NULL, 0, err, sizeof err) != 0)
			log_warnx("group %s: cannot drop the old primary from its replication "
			    "group: %s", e->group, err);
		e->applied_peer[0] = '\0';
	} else if (w->want == WANT_SECONDARY && store_is_master(e->st)) {
		quiesce(e);
		if ((rc = store_demote(e->st, err, sizeof err)) != 0) {
			log_warnx("group %s: cannot make this node's copy a secondary: %s",
			    e->group, err);
			return;
		}
		e->applied_peer[0] = '\0';
		log_info("group %s: this node keeps its secondary copy now", e->group);
	}
	if (w->want == WANT_PRIMARY)
		trim_members(e, w);
	if (w->want == WANT_PRIMARY) {
		if (atomic_load(&e->epoch) != w->epoch) {
			/* A new epoch needs a new lease. */
			atomic_store(&e->lease_until, 0);
			atomic_store(&e->epoch, w->epoch);
		}
		if (!atomic_load(&e->serving)) {
			atomic_store(&e->serving, 1);
			notify = 1;
		}
	} else {
		atomic_store(&e->epoch, w->epoch);
	}
	if (notify && h->notify != NULL)
		h->notify(h->notify_arg);
}

static struct holding *
entry_new(struct holdings *h, const char *group)
{
	struct holding *e;
	char home[4096];

	if (h->n_held >= MAX_HELD || group_home(h, group, home, sizeof home) != 0)
		return NULL;
	if ((e = calloc(1, sizeof *e)) == NULL)
		return NULL;
	e->h = h;
	snprintf(e->group, sizeof e->group, "%s", group);
	if ((e->port = choose_port(h, home)) == 0) {
		log_warnx("group %s: no replication port is free in %u-%u; raise repl_ports",
		    group, h->cfg.repl_port, h->cfg.repl_port + h->cfg.repl_ports - 1);
		free(e);
		return NULL;
	}
	return e;
}

static void
entry_free(struct holding *e)
{
	if (e == NULL)
		return;
	store_close(e->st);
	free(e);
}

/* One pass of the holdings' thread over the wishes. */
static void
apply_wishes(struct holdings *h, const struct wish *wishes, unsigned n)
{
	struct holding *e, *gone[MAX_HELD];
	unsigned i, j, k, n_gone = 0;
	int wanted;

	/* Primaries first: a promotion keeps a group unavailable, a new copy does not. */
	for (k = 0; k < 2 * n; k++) {
		i = k % n;
		if ((k < n) != (wishes[i].want == WANT_PRIMARY))
			continue;
		pthread_rwlock_rdlock(&h->lock);
		e = find(h, wishes[i].group);
		pthread_rwlock_unlock(&h->lock);
		if (e == NULL) {
			pthread_rwlock_wrlock(&h->lock);
			e = entry_new(h, wishes[i].group);
			if (e != NULL)
				h->held[h->n_held++] = e;
			pthread_rwlock_unlock(&h->lock);
			if (e == NULL)
				continue;
		}
		reconcile(h, e, &wishes[i]);
	}
	/* Groups no longer assigned: stop serving, then close. */
	pthread_rwlock_wrlock(&h->lock);
	for (j = 0; j < h->n_held;) {
		for (i = 0, wanted = 0; i < n; i++)
			wanted |= strcmp(wishes[i].group, h->held[j]->group) == 0;
		if (wanted) {
			j++;
			continue;
		}
		atomic_store(&h->held[j]->serving, 0);
		gone[n_gone++] = h->held[j];
		h->held[j] = h->held[--h->n_held];
	}
	pthread_rwlock_unlock(&h->lock);
	for (i = 0; i < n_gone; i++) {
		quiesce(gone[i]);
		log_info("group %s: no longer held here; its store is closed", gone[i]->group);
		entry_free(gone[i]);
	}
}

static void *
holdings_main(void *arg)
{
	struct holdings *h = arg;
	struct wish wishes[MAX_HELD];
	struct timespec until;
	unsigned n;

	pthread_mutex_lock(&h->wmu);
	while (!h->stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += LOOP_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->wake, &h->wmu, &until);
		if (h->stop || !h->have_wishes)
			continue;
		n = h->n_wishes;
		memcpy(wishes, h->wishes, n * sizeof *wishes);
		pthread_mutex_unlock(&h->wmu);
		/* Again every loop: a store that could not open yet is tried again. */
		apply_wishes(h, wishes, n);
		pthread_mutex_lock(&h->wmu);
	}
	pthread_mutex_unlock(&h->wmu);
	return NULL;
}

/* ---- what the manager says ------------------------------------------------------------ */

void
holdings_assign(struct holdings *h, const struct mgr_assignment *a, unsigned n)
{
	struct holding *e;
	unsigned i;

	if (!h->replicated)
		return;
	if (n > MAX_HELD)
		n = MAX_HELD;
	/* A group this node must no longer serve stops now, not at the thread's next pass. */
	pthread_rwlock_rdlock(&h->lock);
	for (i = 0; i < h->n_held; i++) {
		unsigned j;
		int primary = 0;

		e = h->held[i];
		for (j = 0; j < n; j++)
			if (strcmp(a[j].group, e->group) == 0 && a[j].primary &&
			    a[j].epoch == atomic_load(&e->epoch))
				primary = 1;
		if (!primary && atomic_load(&e->serving)) {
			atomic_store(&e->serving, 0);
			atomic_store(&e->lease_until, 0);
		}
	}
	pthread_rwlock_unlock(&h->lock);
	pthread_mutex_lock(&h->wmu);
	for (i = 0; i < n; i++) {
		unsigned j;
		int known = 0;

		for (j = 0; j < h->n_wishes; j++)
			if (strcmp(h->wishes[j].group, a[i].group) == 0 &&
			    h->wishes[j].want == (a[i].primary ? WANT_PRIMARY : WANT_SECONDARY) &&
			    h->wishes[j].epoch == a[i].epoch)
				known = 1;
		if (!known)
			log_info("group %s: the manager makes this node its %s, epoch %llu",
			    a[i].group, a[i].primary ? "primary" : "secondary",
			    (unsigned long long)a[i].epoch);
		snprintf(h->wishes[i].group, sizeof h->wishes[i].group, "%s", a[i].group);
		h->wishes[i].want = a[i].primary ? WANT_PRIMARY : WANT_SECONDARY;
		h->wishes[i].epoch = a[i].epoch;
		snprintf(h->wishes[i].peer, sizeof h->wishes[i].peer, "%s", a[i].peer);
	}
	h->n_wishes = n;
	h->have_wishes = 1;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->wmu);
}

unsigned
holdings_report(struct holdings *h, struct mgr_holding *out, unsigned cap)
{
	struct holding *e;
	unsigned i, n = 0;

	if (!h->replicated)
		return 0;
	pthread_rwlock_rdlock(&h->lock);
	for (i = 0; i < h->n_held && n < cap; i++) {
		e = h->held[i];
		if (e->st == NULL)
			continue;
		memset(&out[n], 0, sizeof out[n]);
		snprintf(out[n].group, sizeof out[n].group, "%s", e->group);
		out[n].primary = store_is_master(e->st);
		out[n].epoch = atomic_load(&e->epoch);
		snprintf(out[n].repl, sizeof out[n].repl, "%s:%u", h->repl_host, e->port);
		if (out[n].primary) {
			struct store_repl_stats rs;

			/* A primary is "synced" when no member is left (after "-"). */
			out[n].synced = store_repl_stats(e->st, &rs) == 0 && rs.sites == 0;
		} else {
			out[n].synced = store_is_synced(e->st);
		}
		n++;
	}
	pthread_rwlock_unlock(&h->lock);
	return n;
}

unsigned
holdings_claims(struct holdings *h, struct mgr_claim *out, unsigned cap)
{
	struct holding *e;
	unsigned i, n = 0;

	pthread_rwlock_rdlock(&h->lock);
	for (i = 0; i < h->n_held && n < cap; i++) {
		e = h->held[i];
		if (!atomic_load(&e->serving))
			continue;
		snprintf(out[n].group, sizeof out[n].group, "%s", e->group);
		out[n].epoch = atomic_load(&e->epoch);
		n++;
	}
	pthread_rwlock_unlock(&h->lock);
	return n;
}

void
holdings_granted(struct holdings *h, const struct mgr_claim *granted, unsigned n,
    int64_t sent_mono_ms, unsigned lease_ms)
{
	struct holding *e;
	unsigned i, j;
	int got;

	pthread_rwlock_rdlock(&h->lock);
	for (i = 0; i < h->n_held; i++) {
		e = h->held[i];
		for (j = 0, got = 0; j < n; j++)
			if (strcmp(granted[j].group, e->group) == 0 &&
			    granted[j].epoch == atomic_load(&e->epoch))
				got = 1;
		atomic_store(&e->lease_until, got ? sent_mono_ms + (int64_t)lease_ms : 0);
	}
	pthread_rwlock_unlock(&h->lock);
}

void
holdings_set_notify(struct holdings *h, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&h->wmu);
	h->notify = fn;
	h->notify_arg = arg;
	pthread_mutex_unlock(&h->wmu);
}

unsigned
holdings_list(struct holdings *h, struct holding_info *out, unsigned cap)
{
	struct store_repl_stats rs;
	struct holding *e;
	int64_t now = mono_ms(), until;
	unsigned i, n = 0;

	pthread_rwlock_rdlock(&h->lock);
	for (i = 0; i < h->n_held && n < cap; i++) {
		e = h->held[i];
		memset(&out[n], 0, sizeof out[n]);
		snprintf(out[n].group, sizeof out[n].group, "%s", e->group);
		out[n].epoch = atomic_load(&e->epoch);
		out[n].serving = served_now(h, e);
		until = atomic_load(&e->lease_until);
		out[n].lease_left_ms = h->replicated ? until - now : 0;
		if (h->replicated)
			snprintf(out[n].repl, sizeof out[n].repl, "%s:%u", h->repl_host, e->port);
		snprintf(out[n].peer, sizeof out[n].peer, "%s", e->applied_peer);
		if (e->st != NULL) {
			out[n].master = h->replicated ? store_is_master(e->st) : 1;
			out[n].assigned_primary = out[n].master;
			out[n].synced = h->replicated ? store_is_synced(e->st) : 1;
			if (out[n].master)
				out[n].conversations = store_live_count(e->st);
			if (h->replicated && store_repl_stats(e->st, &rs) == 0)
				out[n].not_acked = rs.perm_failed;
		}
		n++;
	}
	pthread_rwlock_unlock(&h->lock);
	return n;
}

/* ---- open and close ------------------------------------------------------------------- */

int
holdings_replicated(const struct holdings *h)
{
	return h->replicated;
}

const char *
holdings_home(const struct holdings *h)
{
	return h->node_id;
}

int
holdings_open(struct holdings **out, const struct holdings_config *cfg, char *err, size_t errlen)
{
	struct holdings *h;
	struct holding *e;
	struct store_config sc;
	char home[4096];
	int rc;

	*out = NULL;
	if ((h = calloc(1, sizeof *h)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return PARLEY_ENOMEM;
	}
	h->cfg = *cfg;
	snprintf(h->node_id, sizeof h->node_id, "%s", cfg->node_id);
	h->replicated = cfg->store.mode == STORE_REPLICATED;
	if (h->cfg.repl_ports == 0)
		h->cfg.repl_ports = DEFAULT_PORTS;
	h->data_dir = strdup(cfg->data_dir != NULL ? cfg->data_dir : ".");
	h->repl_host = strdup(cfg->repl_host != NULL ? cfg->repl_host : "127.0.0.1");
	if (h->data_dir == NULL || h->repl_host == NULL ||
	    pthread_rwlock_init(&h->lock, NULL) != 0) {
		free(h->data_dir);
		free(h->repl_host);
		free(h);
		snprintf(err, errlen, "out of memory");
		return PARLEY_ENOMEM;
	}
	pthread_mutex_init(&h->wmu, NULL);
	pthread_cond_init(&h->wake, NULL);
	if (!h->replicated) {
		if ((e = calloc(1, sizeof *e)) == NULL) {
			rc = PARLEY_ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		e->h = h;
		snprintf(e->group, sizeof e->group, "%s", cfg->node_id);
		sc = cfg->store;
		if (group_home(h, e->group, home, sizeof home) != 0) {
			free(e);
			rc = PARLEY_EINVAL;
			snprintf(err, errlen, "data_dir is too long");
			goto fail;
		}
		sc.home = home;
		sc.repl = NULL;
		if ((rc = store_open(&e->st, &sc, err, errlen)) != 0) {
			free(e);
			goto fail;
		}
		atomic_store(&e->serving, 1);
		h->held[h->n_held++] = e;
	} else {
		if (cfg->repl_port == 0 || cfg->repl_port + h->cfg.repl_ports > 65536) {
			rc = PARLEY_EINVAL;
			snprintf(err, errlen, "store = replicated needs repl_listen = HOST:PORT "
			    "with room for repl_ports ports after PORT");
			goto fail;
		}
		if (pthread_create(&h->thread, NULL, holdings_main, h) != 0) {
			rc = PARLEY_ENOMEM;
			snprintf(err, errlen, "cannot start the holdings' thread");
			goto fail;
		}
		h->thread_running = 1;
	}
	*out = h;
	return 0;
fail:
	holdings_close(h);
	return rc;
}

void
holdings_close(struct holdings *h)
{
	unsigned i;

	if (h == NULL)
		return;
	if (h->thread_running) {
		pthread_mutex_lock(&h->wmu);
		h->stop = 1;
		pthread_cond_signal(&h->wake);
		pthread_mutex_unlock(&h->wmu);
		pthread_join(h->thread, NULL);
	}
	for (i = 0; i < h->n_held; i++) {
		quiesce(h->held[i]);
		entry_free(h->held[i]);
	}
	pthread_rwlock_destroy(&h->lock);
	pthread_mutex_destroy(&h->wmu);
	pthread_cond_destroy(&h->wake);
	free(h->data_dir);
	free(h->repl_host);
	free(h);
}
