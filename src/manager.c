/*
 * manager.c - the conversation manager (manager.h): the directory of nodes,
 * groups and conversations, kept in memory for answers and in Berkeley DB
 * (directory.c) so that a restarted manager knows the cluster again, and the
 * heartbeats that tell live nodes from dead ones.
 *
 * Memory holds every node and group, and live conversation counts per group;
 * conversation records stay on disk. One mutex guards it all; no disk
 * write, no heartbeat call is made under it, except registrations, which
 * are rare and must reach the disk in the order they change memory.
 *
 * Heartbeats: a scheduler thread starts a round every interval and hands each
 * node's heartbeat to that node's own thread, which makes the call (a call
 * blocks for up to its timeout, and a frozen node must not hold up the
 * others: one thread per node is the simplest way, and clusters are small).
 * A heartbeat not answered when the next round comes is counted as missed
 * then, so a call that overruns its timeout delays nothing either.
 *
 * A manager site (replicated tables) is active only while Berkeley DB says
 * it is master: the scheduler loads the tables when it becomes master and
 * drops them when it stops being master, and every round and every lease
 * it grants waits for a write that a quorum of the sites acknowledged
 * (ARCHITECTURE.md, "The standby manager").
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

#include "directory.h"
#include "idgen.h"
#include "log.h"
#include "manager.h"
#include "mono.h"
#include "parley.h"

#define DEFAULT_INTERVAL_MS 200
#define DEFAULT_MISSES 3
#define CHECKPOINT_EVERY_MS 1000
#define ROLE_POLL_MS 20                /* a manager site looks at its role this often */

enum hb_state {
	HB_IDLE = 0,                   /* nothing in flight */
	HB_QUEUED,                     /* handed to the node's thread, not yet sent */
	HB_CALLING                     /* the call is being made */
};

struct node_entry {
	struct mgr_node n;             /* conversations is computed when listed */
	struct manager *m;
	pthread_t thread;
	int has_thread;
	pthread_cond_t wake;           /* a heartbeat is queued, or the manager stops */
	enum hb_state state;
	int judged;                    /* the heartbeat in flight was already counted as missed */
	struct mgr_heartbeat hb;       /* the heartbeat queued or in flight */
	int replicated;                /* its store is replicated: its groups fail over */
	int64_t lease_until;           /* monotonic ms: the end of the last lease granted to it */
	int stall_logged;              /* "no secondary to promote" was said for this death */
	int kicked;                    /* a kick came while its heartbeat was busy */
};

/* Live conversations of one group (which may be one nobody registered). */
struct count {
	char group[MGR_ID_MAX];
	long n;
};

struct manager {
	struct directory *dir;
	unsigned interval_ms;
	unsigned misses_max;
	unsigned timeout_ms;
	unsigned lease_ms;
	mgr_heartbeat_fn heartbeat;
	void *heartbeat_arg;
	char incarnation[MGR_INCARNATION_MAX];   /* changes at a takeover: under mu */
	char url[MGR_ADDRESS_MAX + 32];          /* where nodes reach it */
	int replicated;                          /* a manager site */
	atomic_int active;                       /* it answers; always 1 for a single manager */
	int quorum_lost;                         /* the last round's write missed its quorum */

	pthread_mutex_t mu;
	pthread_cond_t tick;           /* wakes the scheduler when the manager stops */
	struct node_entry **nodes;     /* sorted by id; entries never move or go */
	unsigned n_nodes, cap_nodes;
	struct mgr_group *groups;      /* sorted by name */
	unsigned n_groups, cap_groups;
	struct count *counts;          /* sorted by group */
	unsigned n_counts, cap_counts;
	long live;
	struct manager_stats stats;    /* the counters; the rest is computed */
	int started;
	int stopping;
	int reassign;                  /* a node died: choose secondaries again */
	pthread_t scheduler;
};

/* ---- time ------------------------------------------------------------------------- */

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
mono_abs(int64_t ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ms / 1000);
	ts->tv_nsec = (long)(ms % 1000) * 1000000;
}

static int
cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int rc;

	if (pthread_condattr_init(&a) != 0)
		return -1;
	rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 && pthread_cond_init(c, &a) == 0
	    ? 0 : -1;
	pthread_condattr_destroy(&a);
	return rc;
}

/* ---- checks --------------------------------------------------------------------------- */

/* 1 when s is at most max bytes of printable ASCII without spaces. */
static int
printable(const char *s, size_t max)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (n >= max || s[n] <= ' ' || s[n] > '~')
			return 0;
	return 1;
}

/* 1 when address is http://HOST:PORT, HOST a name, an IPv4 or a bracketed IPv6 address. */
static int
address_valid(const char *address)
{
	const char *p, *colon;
	unsigned long port;
	char *end;

	if (strlen(address) >= MGR_ADDRESS_MAX || strncmp(address, "http://", 7) != 0)
		return 0;
	p = address + 7;
	if (*p == '[') {
		colon = strchr(p, ']');
		if (colon == NULL || colon == p + 1 || colon[1] != ':')
			return 0;
		for (p++; p < colon; p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
			    (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.'))
				return 0;
		colon++;
	} else {
		colon = strchr(p, ':');
		if (colon == NULL || colon == p)
			return 0;
		for (; p < colon; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
				return 0;
	}
	if (colon[1] < '0' || colon[1] > '9')
		return 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	return errno == 0 && *end == '\0' && port >= 1 && port <= 65535;
}

const char *
manager_check_node(const char *id, const char *address, const char *incarnation)
{
	if (id == NULL || !idgen_group_valid(id))
		return "the node ID must be 1 to 32 characters of a-z, 0-9 and '-', not starting "
		    "with '-' (it names the node's group)";
	if (address == NULL || !address_valid(address))
		return "the address must be http://HOST:PORT (a host name, an IPv4 address or "
		    "an IPv6 address in brackets, and a port from 1 to 65535)";
	if (incarnation == NULL || !printable(incarnation, MGR_INCARNATION_MAX - 1))
		return "the incarnation must be at most 39 printable characters without spaces";
	return NULL;
}

const char *
manager_check_conv(const struct mgr_conv *c)
{
	size_t n;

	if (!idgen_valid(c->id))
		return "the conversation ID must be GROUP.xxxxxxxxxxxxxxxxxxxxxxxxxx "
		    "(a group name, a dot and 26 base32 characters)";
	if (c->group[0] != '\0' && !idgen_group_valid(c->group))
		return "the group must be empty or 1 to 32 characters of a-z, 0-9 and '-', "
		    "not starting with '-'";
	for (n = 0; c->service[n] != '\0'; n++) {
		char ch = c->service[n];

		if (n >= MGR_SERVICE_MAX - 1 ||
		    !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return "the service must be 1 to 63 characters of A-Z, a-z, 0-9, '_', '.' "
			    "and '-'";
	}
	if (n == 0)
		return "the service must be 1 to 63 characters of A-Z, a-z, 0-9, '_', '.' and '-'";
	if (!printable(c->reply_to, MGR_ADDRESS_MAX - 1))
		return "the reply-to address must be at most 255 printable characters without "
		    "spaces";
	if (!printable(c->from, MGR_ADDRESS_MAX - 1))
		return "the from address must be at most 255 printable characters without spaces";
	if (c->created_ms < 0 || c->ended_ms < 0)
		return "times must not be negative (they are ms since the epoch)";
	return NULL;
}

/* ---- tables in memory (under mu) ----------------------------------------------------- */

/* The index of node id, or of where it would go, with *found set. */
static unsigned
node_index(const struct manager *m, const char *id, int *found)
{
	unsigned lo = 0, hi = m->n_nodes;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = strcmp(m->nodes[mid]->n.id, id);

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

static struct node_entry *
node_find(const struct manager *m, const char *id)
{
	int found;
	unsigned i = node_index(m, id, &found);

	return found ? m->nodes[i] : NULL;
}

static unsigned
group_index_in(const struct mgr_group *groups, unsigned n, const char *name, int *found)
{
	unsigned lo = 0, hi = n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = strcmp(groups[mid].name, name);

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

static const struct mgr_group *
group_find(const struct manager *m, const char *name)
{
	int found;
	unsigned i = group_index_in(m->groups, m->n_groups, name, &found);

	return found ? &m->groups[i] : NULL;
}

static struct count *
count_find(const struct manager *m, const char *group, unsigned *at)
{
	unsigned lo = 0, hi = m->n_counts;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = strcmp(m->counts[mid].group, group);

		if (c == 0)
			return &m->counts[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return NULL;
}

/* Live conversations of group, never below 0 (see apply_delta). */
static long
count_of(const struct manager *m, const char *group)
{
	unsigned at;
	const struct count *c = count_find(m, group, &at);

	return c != NULL && c->n > 0 ? c->n : 0;
}

/*
 * Add delta to group's count. Deltas are computed inside the transactions
 * that made them and applied after commit, perhaps out of order, so a count
 * may dip below 0 for a moment; the sum is right once all are applied.
 */
static int
apply_delta(struct manager *m, const char *group, long delta)
{
	struct count *c, *grown;
	unsigned at = 0, cap;

	if (delta == 0)
		return 0;
	m->live += delta;
	if ((c = count_find(m, group, &at)) != NULL) {
		c->n += delta;
		return 0;
	}
	if (m->n_counts == m->cap_counts) {
		cap = m->cap_counts ? m->cap_counts * 2 : 16;
		if ((grown = realloc(m->counts, cap * sizeof *grown)) == NULL) {
			m->live -= delta;
			return PARLEY_ENOMEM;
		}
		m->counts = grown;
		m->cap_counts = cap;
	}
	memmove(&m->counts[at + 1], &m->counts[at], (m->n_counts - at) * sizeof *m->counts);
	memset(&m->counts[at], 0, sizeof m->counts[at]);
	snprintf(m->counts[at].group, sizeof m->counts[at].group, "%s", group);
	m->counts[at].n = delta;
	m->n_counts++;
	return 0;
}

/* Live conversations of the groups id is primary of. */
static unsigned
node_conversations(const struct manager *m, const char *id)
{
	long sum = 0;
	unsigned i;

	for (i = 0; i < m->n_groups; i++)
		if (strcmp(m->groups[i].primary, id) == 0)
			sum += count_of(m, m->groups[i].name);
	return sum > 0 ? (unsigned)sum : 0;
}

/*
 * Choose every group's secondary among the nodes ids[0..n) (sorted), of
 * which alive[k] says whether ids[k] is alive: the node the group is named
 * after, when it is alive and not the primary (a node that comes back
 * rejoins its own group as a client), else the next live node after the
 * primary in the list; none with no other live node. A group whose
 * secondary changes forgets where the old one listened and that it had
 * caught up. Returns the number of groups changed.
 */
static unsigned
assign(struct mgr_group *groups, unsigned n_groups, const char *const *ids, const int *alive,
    unsigned n)
{
	unsigned i, j, k, changed = 0;
	const char *next;
	struct mgr_group *g;

	for (i = 0; i < n_groups; i++) {
		g = &groups[i];
		next = "";
		for (j = 0; j < n; j++)
			if (strcmp(ids[j], g->name) == 0 && alive[j] &&
			    strcmp(g->name, g->primary) != 0)
				next = ids[j];
		for (j = 0; next[0] == '\0' && j < n; j++) {
			if (strcmp(ids[j], g->primary) != 0)
				continue;
			for (k = 1; k < n; k++)
				if (alive[(j + k) % n]) {
					next = ids[(j + k) % n];
					break;
				}
			break;
		}
		if (strcmp(g->secondary, next) != 0) {
			log_info("group %s: secondary %s (it was %s)", g->name,
			    next[0] != '\0' ? next : "none",
			    g->secondary[0] != '\0' ? g->secondary : "none");
			snprintf(g->secondary, sizeof g->secondary, "%s", next);
			g->secondary_repl[0] = '\0';
			g->secondary_synced = 0;
			/* Its primary must drop the old member before a new one joins. */
			g->primary_clean = 0;
			changed++;
		}
	}
	return changed;
}

/* Fill out (cap entries) with the groups id is primary or secondary of; returns how many. */
static unsigned
groups_of(const struct manager *m, const char *id, struct mgr_group *out, unsigned cap)
{
	unsigned i, n = 0;

	for (i = 0; i < m->n_groups && n < cap; i++)
		if (strcmp(m->groups[i].primary, id) == 0 ||
		    strcmp(m->groups[i].secondary, id) == 0)
			out[n++] = m->groups[i];
	return n;
}

static struct node_entry *
node_new(struct manager *m, const struct mgr_node *n)
{
	struct node_entry *e;

	if ((e = calloc(1, sizeof *e)) == NULL)
		return NULL;
	if (cond_init_mono(&e->wake) != 0) {
		free(e);
		return NULL;
	}
	e->n = *n;
	e->m = m;
	return e;
}

static void
node_free(struct node_entry *e)
{
	pthread_cond_destroy(&e->wake);
	free(e);
}

/* Make room for one more node. */
static int
nodes_reserve(struct manager *m)
{
	struct node_entry **grown;
	unsigned cap;

	if (m->n_nodes < m->cap_nodes)
		return 0;
	cap = m->cap_nodes ? m->cap_nodes * 2 : 8;
	if ((grown = realloc(m->nodes, cap * sizeof *grown)) == NULL)
		return PARLEY_ENOMEM;
	m->nodes = grown;
	m->cap_nodes = cap;
	return 0;
}

static void
nodes_insert(struct manager *m, unsigned at, struct node_entry *e)
{
	memmove(&m->nodes[at + 1], &m->nodes[at], (m->n_nodes - at) * sizeof *m->nodes);
	m->nodes[at] = e;
	m->n_nodes++;
}

/* ---- open and close --------------------------------------------------------------------- */

static int
load_node(void *arg, const struct mgr_node *n)
{
	struct manager *m = arg;
	struct node_entry *e;
	struct mgr_node copy = *n;
	int found;
	unsigned at;

	if (!idgen_group_valid(n->id)) {
		log_warnx("manager: skipping a stored node with a bad ID");
		return 0;
	}
	at = node_index(m, n->id, &found);
	copy.alive = 1;
	copy.misses = 0;
	copy.last_heartbeat_ms = 0;
	copy.conversations = 0;
	if (found) {
		/* A takeover: the entry (and its thread) stays, what it says is the table's. */
		e = m->nodes[at];
		snprintf(e->n.address, sizeof e->n.address, "%s", n->address);
		snprintf(e->n.incarnation, sizeof e->n.incarnation, "%s", n->incarnation);
		e->n.registered_ms = n->registered_ms;
		e->n.replicated = n->replicated;
		e->n.alive = 1;
		e->n.misses = 0;
		e->replicated = n->replicated;
		e->stall_logged = 0;
		e->lease_until = mono_ms() + m->lease_ms;
		return 0;
	}
	if (nodes_reserve(m) != 0 || (e = node_new(m, &copy)) == NULL)
		return PARLEY_ENOMEM;
	e->replicated = n->replicated;
	/*
	 * A lease the manager's last run (or the last active manager) granted
	 * may still run: count it as granted now.
	 */
	e->lease_until = mono_ms() + m->lease_ms;
	nodes_insert(m, at, e);
	return 0;
}

static int
load_group(void *arg, const struct mgr_group *g)
{
	struct manager *m = arg;
	struct mgr_group *grown;
	unsigned cap;

	/* Keys come sorted from the btree: appending keeps the order. */
	if (m->n_groups == m->cap_groups) {
		cap = m->cap_groups ? m->cap_groups * 2 : 8;
		if ((grown = realloc(m->groups, cap * sizeof *grown)) == NULL)
			return PARLEY_ENOMEM;
		m->groups = grown;
		m->cap_groups = cap;
	}
	m->groups[m->n_groups] = *g;
	m->groups[m->n_groups].inherited = m->replicated;
	/*
	 * A stored secondary was named under the manager's last run, after its
	 * primary had dropped the other members: no need to drop them again
	 * (which would close a live copy and make it join afresh).
	 */
	m->groups[m->n_groups].primary_clean = g->secondary[0] != '\0';
	m->n_groups++;
	return 0;
}

static int
count_conv(void *arg, const struct mgr_conv *c)
{
	struct manager *m = arg;

	return c->ended_ms == 0 ? apply_delta(m, c->group, 1) : 0;
}

static int
draw_incarnation(char out[MGR_INCARNATION_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16];
	size_t got = 0, i;

	while (got < sizeof raw) {
		ssize_t n = getrandom(raw + got, sizeof raw - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return PARLEY_EIO;
		}
		got += (size_t)n;
	}
	for (i = 0; i < sizeof raw; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * sizeof raw] = '\0';
	return 0;
}

int
manager_open(struct manager **out, const struct manager_config *cfg, char *err, size_t errlen)
{
	struct manager *m;
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (cfg->heartbeat == NULL) {
		snprintf(err, errlen, "the manager needs a heartbeat function");
		return PARLEY_EINVAL;
	}
	if ((m = calloc(1, sizeof *m)) == NULL) {
		snprintf(err, errlen, "out of memory opening the manager");
		return PARLEY_ENOMEM;
	}
	m->interval_ms = cfg->heartbeat_interval_ms ? cfg->heartbeat_interval_ms
	    : DEFAULT_INTERVAL_MS;
	m->misses_max = cfg->heartbeat_misses ? cfg->heartbeat_misses : DEFAULT_MISSES;
	m->timeout_ms = m->interval_ms * 3 / 4 > 0 ? m->interval_ms * 3 / 4 : 1;
	m->lease_ms = cfg->lease_ms ? cfg->lease_ms : m->interval_ms * (m->misses_max > 1 ?
	    m->misses_max - 1 : 1);
	m->heartbeat = cfg->heartbeat;
	m->heartbeat_arg = cfg->heartbeat_arg;
	if (pthread_mutex_init(&m->mu, NULL) != 0) {
		free(m);
		snprintf(err, errlen, "cannot make the manager's mutex");
		return PARLEY_ENOMEM;
	}
	if (cond_init_mono(&m->tick) != 0) {
		pthread_mutex_destroy(&m->mu);
		free(m);
		snprintf(err, errlen, "cannot make the manager's condition variable");
		return PARLEY_ENOMEM;
	}
	if ((rc = draw_incarnation(m->incarnation)) != 0) {
		snprintf(err, errlen,
		    "the system gave no random bytes for the manager's incarnation");
		goto fail;
	}
	if (cfg->repl_listen != NULL && cfg->repl_listen[0] != '\0') {
		struct directory_repl dr;

		memset(&dr, 0, sizeof dr);
		dr.listen = cfg->repl_listen;
		dr.sites = cfg->repl_sites != NULL ? cfg->repl_sites : "";
		dr.heartbeat_ms = m->interval_ms;
		m->replicated = 1;
		if ((rc = directory_open(&m->dir, cfg->home, &dr, err, errlen)) != 0)
			goto fail;
		log_info("manager: a standby manager site (replication on %s, the other sites %s)",
		    cfg->repl_listen, dr.sites);
		*out = m;
		return 0;
	}
	if ((rc = directory_open(&m->dir, cfg->home, NULL, err, errlen)) != 0)
		goto fail;
	if ((rc = directory_load(m->dir, load_node, load_group, m)) != 0 ||
	    (rc = directory_scan_conversations(m->dir, NULL, count_conv, m)) != 0) {
		snprintf(err, errlen, "cannot read the manager's tables in %s: %s", cfg->home,
		    parley_strerror(rc));
		goto fail;
	}
	atomic_store(&m->active, 1);
	log_info("manager: %u nodes, %u groups and %ld live conversations in %s; incarnation %s",
	    m->n_nodes, m->n_groups, m->live, cfg->home, m->incarnation);
	*out = m;
	return 0;
fail:
	manager_close(m);
	return rc;
}

static void *scheduler_main(void *arg);

int
manager_start(struct manager *m)
{
	int rc = 0;

	pthread_mutex_lock(&m->mu);
	if (!m->started && !m->stopping) {
		if (pthread_create(&m->scheduler, NULL, scheduler_main, m) != 0)
			rc = PARLEY_ENOMEM;
		else
			m->started = 1;
	}
	pthread_mutex_unlock(&m->mu);
	return rc;
}

void
manager_close(struct manager *m)
{
	unsigned i;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	m->stopping = 1;
	pthread_cond_broadcast(&m->tick);
	for (i = 0; i < m->n_nodes; i++)
		pthread_cond_broadcast(&m->nodes[i]->wake);
	pthread_mutex_unlock(&m->mu);
	/* The scheduler makes the node threads: once it is gone, the list of them is final. */
	if (m->started)
		pthread_join(m->scheduler, NULL);
	for (i = 0; i < m->n_nodes; i++)
		if (m->nodes[i]->has_thread)
			pthread_join(m->nodes[i]->thread, NULL);
	directory_close(m->dir);
	for (i = 0; i < m->n_nodes; i++)
		node_free(m->nodes[i]);
	free(m->nodes);
	free(m->groups);
	free(m->counts);
	pthread_cond_destroy(&m->tick);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

const char *
manager_incarnation(const struct manager *m)
{
	return m->incarnation;
}

void
manager_set_url(struct manager *m, const char *url)
{
	snprintf(m->url, sizeof m->url, "%s", url);
}

int
manager_active(struct manager *m)
{
	return atomic_load(&m->active) && directory_is_master(m->dir);
}

void
manager_active_url(struct manager *m, char *out, size_t len)
{
	if (!m->replicated) {
		snprintf(out, len, "%s", m->url);
		return;
	}
	if (directory_active_url(m->dir, out, len) != 0 ||
	    (!manager_active(m) && strcmp(out, m->url) == 0))
		out[0] = '\0';
}

/*
 * This site became master: load the tables as a restarted manager does
 * (every node alive, every lease it may hold counted as granted now), with
 * a new incarnation so that nodes register again, and record this site's
 * URL for the standbys to name. Called by the scheduler without mu.
 * Returns 0, or a PARLEY_E code when it must be tried again.
 */
static int
take_over(struct manager *m)
{
	int64_t t0 = mono_ms();
	char inc[MGR_INCARNATION_MAX];
	int rc;

	if ((rc = directory_activate(m->dir)) != 0)
		return rc;
	if ((rc = draw_incarnation(inc)) != 0)
		return rc;
	pthread_mutex_lock(&m->mu);
	m->n_groups = 0;
	m->n_counts = 0;
	m->live = 0;
	if ((rc = directory_load(m->dir, load_node, load_group, m)) == 0)
		rc = directory_scan_conversations(m->dir, NULL, count_conv, m);
	if (rc == 0) {
		memcpy(m->incarnation, inc, sizeof inc);
		m->reassign = 1;
		m->quorum_lost = 0;
	}
	pthread_mutex_unlock(&m->mu);
	if (rc == 0)
		rc = directory_set_active_url(m->dir, m->url);
	if (rc != 0) {
		if (!m->quorum_lost)
			log_warnx("manager: cannot take over yet: %s", parley_strerror(rc));
		m->quorum_lost = 1;
		directory_deactivate(m->dir);
		return rc;
	}
	atomic_store(&m->active, 1);
	log_info("manager: this site is the active manager now (%u nodes, %u groups, %ld live "
	    "conversations; loaded in %lld ms); incarnation %s", m->n_nodes, m->n_groups, m->live,
	    (long long)(mono_ms() - t0), inc);
	return 0;
}

/* This site is no longer master: stop answering and heartbeating at once. */
static void
stand_by(struct manager *m)
{
	atomic_store(&m->active, 0);
	directory_deactivate(m->dir);
	log_info("manager: this site is a standby now");
}

unsigned
manager_heartbeat_interval_ms(const struct manager *m)
{
	return m->interval_ms;
}

/* ---- heartbeats ------------------------------------------------------------------------- */

static void failover(struct manager *m);
static void heartbeat_fill(const struct manager *m, const struct node_entry *e,
    struct mgr_heartbeat *hb);

/* The ids of the nodes (sorted) and whether each is alive; the caller frees both. */
static int
node_list(const struct manager *m, const char ***ids, int **alive)
{
	unsigned i;

	*ids = malloc((m->n_nodes + 1) * sizeof **ids);
	*alive = malloc((m->n_nodes + 1) * sizeof **alive);
	if (*ids == NULL || *alive == NULL) {
		free(*ids);
		free(*alive);
		*ids = NULL;
		*alive = NULL;
		return PARLEY_ENOMEM;
	}
	for (i = 0; i < m->n_nodes; i++) {
		(*ids)[i] = m->nodes[i]->n.id;
		(*alive)[i] = m->nodes[i]->n.alive;
	}
	return 0;
}

/*
 * Queue a heartbeat now for every node not busy with one (under mu), so
 * that a change of primary or of where a copy listens reaches the nodes
 * without waiting for the next round. Nothing is judged here.
 */
static void
kick(struct manager *m)
{
	struct node_entry *e;
	unsigned i;

	for (i = 0; i < m->n_nodes; i++) {
		e = m->nodes[i];
		if (!e->has_thread)
			continue;
		if (e->state != HB_IDLE) {
			/* Sent when the heartbeat in flight is done (node_main). */
			e->kicked = 1;
			continue;
		}
		heartbeat_fill(m, e, &e->hb);
		e->state = HB_QUEUED;
		pthread_cond_signal(&e->wake);
	}
}

/*
 * Promote the secondaries of groups whose primary is dead, and choose the
 * secondaries again after a death (under mu). A dead primary's groups move
 * only once the last lease granted to it is over (the node itself stopped
 * serving them by then: ARCHITECTURE.md, "Fencing"), only if its store was
 * replicated, and only to a secondary that is alive and has caught up;
 * otherwise the group waits for its primary. Promotion is a new primary
 * and a new epoch in the tables, synced, then heartbeats at once: the
 * promoted node learns of it, promotes its store and renews its lease.
 */
static void
failover(struct manager *m)
{
	struct mgr_group *next = NULL, *g, *old;
	struct node_entry *p, *sec;
	const char **ids = NULL;
	int *alive = NULL;
	int64_t now = mono_ms();
	unsigned i, promoted = 0;
	int rc;

	for (i = 0; i < m->n_groups; i++) {
		g = &m->groups[i];
		if ((p = node_find(m, g->primary)) == NULL || p->n.alive || !p->replicated ||
		    now < p->lease_until)
			continue;
		sec = g->secondary[0] != '\0' ? node_find(m, g->secondary) : NULL;
		if (sec == NULL || !sec->n.alive || !g->secondary_synced) {
			if (!p->stall_logged)
				log_warnx("group %s: its primary %s is dead and %s; the group waits "
				    "for %s to come back", g->name, p->n.id, sec == NULL ?
				    "it has no secondary" : !sec->n.alive ? "its secondary is dead too" :
				    "its secondary has not caught up", p->n.id);
			p->stall_logged = 1;
			continue;
		}
		if (next == NULL) {
			if ((next = malloc((m->n_groups + 1) * sizeof *next)) == NULL)
				return;
			memcpy(next, m->groups, m->n_groups * sizeof *next);
		}
		g = &next[i];
		snprintf(g->primary, sizeof g->primary, "%s", g->secondary);
		snprintf(g->primary_repl, sizeof g->primary_repl, "%s", g->secondary_repl);
		g->secondary[0] = '\0';
		g->secondary_repl[0] = '\0';
		g->secondary_synced = 0;
		g->primary_clean = 0;
		g->epoch++;
		promoted++;
	}
	if (promoted == 0 && !m->reassign)
		return;
	if (next == NULL) {
		if ((next = malloc((m->n_groups + 1) * sizeof *next)) == NULL)
			return;
		/* A takeover asks for a choice of secondaries before any group exists. */
		if (m->n_groups > 0)
			memcpy(next, m->groups, m->n_groups * sizeof *next);
	}
	if (node_list(m, &ids, &alive) != 0)
		goto done;
	assign(next, m->n_groups, ids, alive, m->n_nodes);
	if ((rc = directory_put_registration(m->dir, NULL, next, m->n_groups)) != 0) {
		log_warnx("manager: cannot store the groups after a death (%s); trying again "
		    "next round", parley_strerror(rc));
		goto done;
	}
	for (i = 0; i < m->n_groups; i++)
		if (next[i].epoch != m->groups[i].epoch)
			log_info("group %s: its primary %s is dead; %s is its primary now, epoch %llu",
			    next[i].name, m->groups[i].primary, next[i].primary,
			    (unsigned long long)next[i].epoch);
	old = m->groups;
	m->groups = next;
	next = old;
	m->cap_groups = m->n_groups + 1;
	m->stats.failovers += promoted;
	m->reassign = 0;
	kick(m);
done:
	free(next);
	free(ids);
	free(alive);
}

/* Count a missed heartbeat of e (under mu). */
static void
missed(struct manager *m, struct node_entry *e)
{
	m->stats.heartbeats_missed++;
	if (e->n.misses < UINT32_MAX)
		e->n.misses++;
	if (e->n.alive && e->n.misses >= m->misses_max) {
		e->n.alive = 0;
		e->stall_logged = 0;
		log_info("node %s (%s) is dead: %u heartbeats missed", e->n.id, e->n.address,
		    e->n.misses);
		m->reassign = 1;
		failover(m);
	}
}

/* Count an answer of e (under mu). */
static void
answered(struct node_entry *e)
{
	e->n.misses = 0;
	e->n.last_heartbeat_ms = wall_ms();
	if (!e->n.alive) {
		e->n.alive = 1;
		log_info("node %s (%s) is alive again", e->n.id, e->n.address);
		/* It may take back the copy of its own group (assign). */
		e->m->reassign = 1;
	}
}

/*
 * Learn from e's answer where its copies listen and whether its secondaries
 * have caught up (under mu); a change is passed on to the other nodes at
 * once.
 */
static void
take_holdings(struct manager *m, const struct node_entry *e, const struct mgr_heartbeat_reply *r)
{
	const struct mgr_holding *h;
	struct mgr_group *g;
	unsigned i, j;
	int changed = 0;

	for (i = 0; i < r->n_holdings && i < MGR_ASSIGNMENTS_MAX; i++) {
		h = &r->holdings[i];
		for (j = 0; j < m->n_groups; j++) {
			g = &m->groups[j];
			if (strncmp(g->name, h->group, sizeof g->name) != 0)
				continue;
			if (h->primary && strcmp(g->primary, e->n.id) == 0) {
				g->inherited = 0;
				if (strncmp(g->primary_repl, h->repl, sizeof g->primary_repl) != 0) {
					snprintf(g->primary_repl, sizeof g->primary_repl, "%.*s",
					    (int)sizeof h->repl - 1, h->repl);
					changed = 1;
				}
				/* Its group is down to itself: the new secondary may join. */
				if (h->synced && !g->primary_clean) {
					g->primary_clean = 1;
					changed = 1;
				}
			} else if (!h->primary && strcmp(g->secondary, e->n.id) == 0) {
				if (strncmp(g->secondary_repl, h->repl, sizeof g->secondary_repl) != 0) {
					snprintf(g->secondary_repl, sizeof g->secondary_repl, "%.*s",
					    (int)sizeof h->repl - 1, h->repl);
					changed = 1;
				}
				if (g->secondary_synced != (h->synced != 0))
					log_info("group %s: secondary %s has %s", g->name, e->n.id,
					    h->synced ? "caught up" : "fallen behind");
				g->secondary_synced = h->synced != 0;
			}
		}
	}
	if (changed)
		kick(m);
}

/* Fill hb with what the manager tells e now (under mu). */
static void
heartbeat_fill(const struct manager *m, const struct node_entry *e, struct mgr_heartbeat *hb)
{
	const struct node_entry *p;
	unsigned i;

	memset(hb, 0, sizeof *hb);
	snprintf(hb->node, sizeof hb->node, "%s", e->n.id);
	snprintf(hb->manager_incarnation, sizeof hb->manager_incarnation, "%s", m->incarnation);
	hb->sent_ms = wall_ms();
	for (i = 0; i < m->n_groups && hb->n_assignments < MGR_ASSIGNMENTS_MAX; i++) {
		const struct mgr_group *g = &m->groups[i];
		struct mgr_assignment *a = &hb->assignments[hb->n_assignments];
		int primary = strcmp(g->primary, e->n.id) == 0;

		if (!primary && strcmp(g->secondary, e->n.id) != 0)
			continue;
		/*
		 * A new copy waits until the primary's replication group can take it
		 * in. A copy a takeover inherited is not new: it keeps its place until
		 * the primary is heard (leaving it out would close it).
		 */
		if (!primary && !g->inherited && (p = node_find(m, g->primary)) != NULL &&
		    p->replicated && (!g->primary_clean || g->primary_repl[0] == '\0'))
			continue;
		snprintf(a->group, sizeof a->group, "%s", g->name);
		a->primary = primary;
		a->epoch = g->epoch;
		snprintf(a->peer, sizeof a->peer, "%s", primary ? g->secondary_repl : g->primary_repl);
		/* "-": drop every other member of the replication group first. */
		if (primary && e->replicated && !g->primary_clean)
			snprintf(a->peer, sizeof a->peer, "-");
		hb->n_assignments++;
	}
}

static void *
node_main(void *arg)
{
	struct node_entry *e = arg;
	struct manager *m = e->m;
	struct mgr_heartbeat_reply reply;
	struct mgr_heartbeat hb;
	struct mgr_node snap;
	int rc;

	pthread_mutex_lock(&m->mu);
	for (;;) {
		while (!m->stopping && e->state != HB_QUEUED)
			pthread_cond_wait(&e->wake, &m->mu);
		if (m->stopping)
			break;
		e->state = HB_CALLING;
		hb = e->hb;
		snap = e->n;
		snap.conversations = 0;
		m->stats.heartbeats_sent++;
		pthread_mutex_unlock(&m->mu);

		memset(&reply, 0, sizeof reply);
		rc = m->heartbeat(m->heartbeat_arg, &snap, &hb, &reply, m->timeout_ms);
		/* An answer in another node's name is not this node's. */
		if (rc == 0 && reply.node[0] != '\0' && strncmp(reply.node, snap.id,
		    sizeof reply.node) != 0) {
			log_debug("manager: %s answered a heartbeat of node %s as node %.*s",
			    snap.address, snap.id, (int)sizeof reply.node - 1, reply.node);
			rc = -1;
		}

		pthread_mutex_lock(&m->mu);
		/* Idle first: what the answer changes may queue this node's next one. */
		e->state = HB_IDLE;
		if (rc == 0) {
			answered(e);
			take_holdings(m, e, &reply);
		} else if (!e->judged)
			missed(m, e);
		e->judged = 0;
		if (e->kicked && e->state == HB_IDLE && e->n.alive) {
			e->kicked = 0;
			heartbeat_fill(m, e, &e->hb);
			e->state = HB_QUEUED;
		}
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* One round (under mu): queue a heartbeat for every idle node, judge the overdue ones. */
static void
round_run(struct manager *m)
{
	struct node_entry *e;
	unsigned i;

	for (i = 0; i < m->n_nodes; i++) {
		e = m->nodes[i];
		if (!e->has_thread) {
			if (pthread_create(&e->thread, NULL, node_main, e) != 0) {
				log_warnx("manager: cannot start the heartbeat thread of node %s; "
				    "trying again next round", e->n.id);
				continue;
			}
			e->has_thread = 1;
		}
		if (e->state != HB_IDLE) {
			/*
			 * Still unanswered a whole interval after it was due: it
			 * is missed, and so is every round that passes while it
			 * hangs, as a heartbeat sent then would have been.
			 */
			e->judged = 1;
			missed(m, e);
			continue;
		}
		heartbeat_fill(m, e, &e->hb);
		e->state = HB_QUEUED;
		pthread_cond_signal(&e->wake);
	}
	/* Leases of dead primaries run out between rounds. */
	failover(m);
}

/*
 * A manager site runs a round only after a write a quorum of the sites
 * acknowledged: a master cut off from the others stops heartbeating (and
 * so stops moving groups) within one round. Called with mu held; drops it
 * for the write. Returns 1 to run the round.
 */
static int
quorum_round(struct manager *m)
{
	int rc;

	pthread_mutex_unlock(&m->mu);
	rc = directory_touch(m->dir, "round");
	pthread_mutex_lock(&m->mu);
	if (rc != 0 && !m->quorum_lost)
		log_warnx("manager: no quorum of the manager sites acknowledges this site (%s); "
		    "no heartbeats until one does", parley_strerror(rc));
	else if (rc == 0 && m->quorum_lost)
		log_info("manager: a quorum of the manager sites acknowledges this site again");
	m->quorum_lost = rc != 0;
	return rc == 0;
}

static void *
scheduler_main(void *arg)
{
	struct manager *m = arg;
	struct timespec ts;
	int64_t next, now, last_checkpoint;

	pthread_mutex_lock(&m->mu);
	next = mono_ms();
	last_checkpoint = next;
	while (!m->stopping) {
		if (m->replicated) {
			int master = directory_is_master(m->dir), active = atomic_load(&m->active);

			if (master != active) {
				pthread_mutex_unlock(&m->mu);
				if (master && take_over(m) != 0)
					master = 0;
				else if (!master)
					stand_by(m);
				pthread_mutex_lock(&m->mu);
				next = mono_ms();
				if (!master) {
					/* Try again soon, not at once. */
					mono_abs(next + ROLE_POLL_MS, &ts);
					pthread_cond_timedwait(&m->tick, &m->mu, &ts);
				}
				continue;
			}
		}
		now = mono_ms();
		if (now < next) {
			/* A manager site notices a change of role within ROLE_POLL_MS. */
			mono_abs(m->replicated && next - now > ROLE_POLL_MS ? now + ROLE_POLL_MS : next,
			    &ts);
			pthread_cond_timedwait(&m->tick, &m->mu, &ts);
			continue;
		}
		if (!atomic_load(&m->active)) {
			next += m->interval_ms;
			continue;
		}
		if (m->replicated && !quorum_round(m)) {
			next = mono_ms() + m->interval_ms;
			continue;
		}
		round_run(m);
		/* Rounds keep their rhythm; one that came late is not made up for. */
		next += m->interval_ms;
		if (next <= now)
			next = now + m->interval_ms;
		if (now - last_checkpoint >= CHECKPOINT_EVERY_MS) {
			last_checkpoint = now;
			pthread_mutex_unlock(&m->mu);
			directory_checkpoint(m->dir);
			pthread_mutex_lock(&m->mu);
		}
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* ---- nodes and groups ------------------------------------------------------------------- */

int
manager_register_node(struct manager *m, const char *id, const char *address,
    const char *incarnation, int replicated, struct mgr_group *groups, unsigned *n)
{
	struct mgr_group *next_groups = NULL, *old;
	const char **ids = NULL;
	int *alive = NULL;
	struct node_entry *sec;
	int restarted;
	struct node_entry *e, *fresh = NULL;
	struct mgr_node rec;
	unsigned at, i, j, n_next, n_ids, cap = *n;
	int found, new_group, rc;
	char old_address[MGR_ADDRESS_MAX] = "";

	*n = 0;
	if (manager_check_node(id, address, incarnation) != NULL)
		return PARLEY_EINVAL;
	if (!manager_active(m))
		return PARLEY_ESTANDBY;
	pthread_mutex_lock(&m->mu);
	at = node_index(m, id, &found);
	e = found ? m->nodes[at] : NULL;

	/* The next state, built aside and stored before memory changes. */
	memset(&rec, 0, sizeof rec);
	if (e != NULL)
		rec = e->n;
	snprintf(rec.id, sizeof rec.id, "%s", id);
	snprintf(rec.address, sizeof rec.address, "%s", address);
	snprintf(rec.incarnation, sizeof rec.incarnation, "%s", incarnation);
	rec.registered_ms = wall_ms();
	rec.replicated = replicated != 0;
	n_ids = m->n_nodes + (e == NULL);
	n_next = m->n_groups + 1;
	if ((ids = malloc(n_ids * sizeof *ids)) == NULL ||
	    (alive = malloc(n_ids * sizeof *alive)) == NULL ||
	    (next_groups = malloc(n_next * sizeof *next_groups)) == NULL) {
		rc = PARLEY_ENOMEM;
		goto done;
	}
	for (i = 0, j = 0; i < m->n_nodes; i++) {
		if (e == NULL && i == at) {
			alive[j] = 1;
			ids[j++] = rec.id;
		}
		/* A node that registers is up, whatever its heartbeats said. */
		alive[j] = m->nodes[i] == e ? 1 : m->nodes[i]->n.alive;
		ids[j++] = m->nodes[i]->n.id;
	}
	if (e == NULL && at == m->n_nodes) {
		alive[j] = 1;
		ids[j++] = rec.id;
	}
	if (m->n_groups > 0)
		memcpy(next_groups, m->groups, m->n_groups * sizeof *next_groups);
	n_next = m->n_groups;
	i = group_index_in(next_groups, n_next, id, &found);
	new_group = !found;
	if (new_group) {
		memmove(&next_groups[i + 1], &next_groups[i], (n_next - i) * sizeof *next_groups);
		memset(&next_groups[i], 0, sizeof next_groups[i]);
		snprintf(next_groups[i].name, sizeof next_groups[i].name, "%s", id);
		snprintf(next_groups[i].primary, sizeof next_groups[i].primary, "%s", id);
		next_groups[i].epoch = 1;
		n_next++;
	}
	/*
	 * A replicated node that started again lost what it had not shipped:
	 * its groups go to their secondaries where those have caught up, and
	 * it comes back as a client (a restarted node never starts as master
	 * of a group another copy may be ahead in).
	 */
	restarted = replicated && e != NULL && strcmp(e->n.incarnation, incarnation) != 0;
	for (i = 0; restarted && i < n_next; i++) {
		struct mgr_group *g = &next_groups[i];

		if (strcmp(g->primary, id) != 0 || g->secondary[0] == '\0' ||
		    !g->secondary_synced || (sec = node_find(m, g->secondary)) == NULL ||
		    !sec->n.alive)
			continue;
		log_info("group %s: its primary %s started again; %s is its primary now, epoch %llu",
		    g->name, id, g->secondary, (unsigned long long)(g->epoch + 1));
		snprintf(g->primary, sizeof g->primary, "%s", g->secondary);
		snprintf(g->primary_repl, sizeof g->primary_repl, "%s", g->secondary_repl);
		g->secondary[0] = '\0';
		g->secondary_repl[0] = '\0';
		g->secondary_synced = 0;
		g->primary_clean = 0;
		g->epoch++;
		m->stats.failovers++;
	}
	for (i = 0; restarted && i < n_next; i++)
		if (strcmp(next_groups[i].secondary, id) == 0) {
			/* Its copies start again from what is on disk: not caught up. */
			next_groups[i].secondary_repl[0] = '\0';
			next_groups[i].secondary_synced = 0;
		}
	assign(next_groups, n_next, ids, alive, n_ids);

	if (e == NULL) {
		rec.alive = 1;
		rec.misses = 0;
		rec.last_heartbeat_ms = 0;
		if (nodes_reserve(m) != 0 || (fresh = node_new(m, &rec)) == NULL) {
			rc = PARLEY_ENOMEM;
			goto done;
		}
		fresh->replicated = replicated != 0;
	}

	/* Every group is written again: they are few, and a registration is rare. */
	if ((rc = directory_put_registration(m->dir, &rec, next_groups, n_next)) != 0)
		goto done;

	if (e == NULL) {
		nodes_insert(m, at, fresh);
		fresh = NULL;
		log_info("node %s registered at %s", id, address);
	} else {
		snprintf(old_address, sizeof old_address, "%s", e->n.address);
		snprintf(e->n.address, sizeof e->n.address, "%s", address);
		snprintf(e->n.incarnation, sizeof e->n.incarnation, "%s", incarnation);
		e->n.registered_ms = rec.registered_ms;
		e->n.replicated = rec.replicated;
		if (strcmp(old_address, address) != 0)
			log_info("node %s registered again at %s (it was at %s)", id, address,
			    old_address);
		else
			log_info("node %s registered again at %s", id, address);
		/* A node that registers is up, whatever its heartbeats said. */
		e->n.misses = 0;
		e->replicated = replicated != 0;
		if (!e->n.alive) {
			e->n.alive = 1;
			log_info("node %s (%s) is alive again", e->n.id, e->n.address);
		}
	}
	/* next_groups has room for the groups there were and one more. */
	old = m->groups;
	m->groups = next_groups;
	next_groups = old;
	m->cap_groups = m->n_groups + 1;
	m->n_groups = n_next;
	m->stats.registrations++;
	*n = groups_of(m, id, groups, cap);
	rc = 0;
done:
	pthread_mutex_unlock(&m->mu);
	if (fresh != NULL)
		node_free(fresh);
	free(ids);
	free(alive);
	free(next_groups);
	return rc;
}

int
manager_renew(struct manager *m, const char *node, const char *incarnation,
    const struct mgr_claim *claims, unsigned n, struct mgr_claim *granted, unsigned *n_granted,
    unsigned *lease_ms)
{
	const struct mgr_group *g;
	struct node_entry *e;
	unsigned i;
	int rc = 0;

	*n_granted = 0;
	*lease_ms = 0;
	if (!manager_active(m))
		return PARLEY_ESTANDBY;
	/*
	 * A manager site grants a lease only after a write a quorum acknowledged
	 * since the call came: no new master was elected before it, so a new
	 * master's wait for every lease covers this one (ARCHITECTURE.md).
	 */
	if (m->replicated && (rc = directory_touch(m->dir, node)) != 0)
		return rc == PARLEY_ENOTACKED ? PARLEY_ESTANDBY : rc;
	pthread_mutex_lock(&m->mu);
	if (!atomic_load(&m->active)) {
		rc = PARLEY_ESTANDBY;
		goto done;
	}
	m->stats.renewals++;
	e = node_find(m, node);
	if (e == NULL || !e->n.alive || strcmp(e->n.incarnation, incarnation) != 0) {
		rc = PARLEY_ESTATE;
		goto done;
	}
	for (i = 0; i < n; i++) {
		g = group_find(m, claims[i].group);
		if (g == NULL || strcmp(g->primary, node) != 0 || g->epoch != claims[i].epoch)
			continue;
		granted[(*n_granted)++] = claims[i];
	}
	/* Counted from now: the node counts from before it asked, so it stops first. */
	if (*n_granted > 0)
		e->lease_until = mono_ms() + m->lease_ms;
	*lease_ms = m->lease_ms;
done:
	pthread_mutex_unlock(&m->mu);
	return rc;
}

int
manager_locate(struct manager *m, const char *group, struct mgr_route *out)
{
	const struct mgr_group *g;
	const struct node_entry *e;
	int rc = 0;

	memset(out, 0, sizeof *out);
	if (!manager_active(m))
		return PARLEY_ESTANDBY;
	pthread_mutex_lock(&m->mu);
	m->stats.locates++;
	if ((g = group_find(m, group)) == NULL) {
		rc = PARLEY_ENOENT;
		goto done;
	}
	snprintf(out->group, sizeof out->group, "%s", g->name);
	snprintf(out->node, sizeof out->node, "%s", g->primary);
	out->epoch = g->epoch;
	if ((e = node_find(m, g->primary)) != NULL) {
		snprintf(out->address, sizeof out->address, "%s", e->n.address);
		out->alive = e->n.alive;
	}
done:
	pthread_mutex_unlock(&m->mu);
	return rc;
}

int
manager_list_nodes(struct manager *m, struct mgr_node **out, unsigned *n)
{
	struct mgr_node *copy = NULL;
	unsigned i;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&m->mu);
	if (m->n_nodes > 0 && (copy = calloc(m->n_nodes, sizeof *copy)) == NULL) {
		pthread_mutex_unlock(&m->mu);
		return PARLEY_ENOMEM;
	}
	for (i = 0; i < m->n_nodes; i++) {
		copy[i] = m->nodes[i]->n;
		copy[i].conversations = node_conversations(m, copy[i].id);
	}
	*n = m->n_nodes;
	pthread_mutex_unlock(&m->mu);
	*out = copy;
	return 0;
}

int
manager_list_groups(struct manager *m, struct mgr_group **out, unsigned *n)
{
	struct mgr_group *copy = NULL;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&m->mu);
	if (m->n_groups > 0 && (copy = malloc(m->n_groups * sizeof *copy)) == NULL) {
		pthread_mutex_unlock(&m->mu);
		return PARLEY_ENOMEM;
	}
	if (m->n_groups > 0)
		memcpy(copy, m->groups, m->n_groups * sizeof *copy);
	*n = m->n_groups;
	pthread_mutex_unlock(&m->mu);
	*out = copy;
	return 0;
}

void
manager_get_stats(struct manager *m, struct manager_stats *st)
{
	unsigned i;

	pthread_mutex_lock(&m->mu);
	*st = m->stats;
	st->nodes = m->n_nodes;
	st->alive = 0;
	for (i = 0; i < m->n_nodes; i++)
		st->alive += m->nodes[i]->n.alive != 0;
	st->groups = m->n_groups;
	st->conversations = m->live > 0 ? (unsigned)m->live : 0;
	pthread_mutex_unlock(&m->mu);
}

/* ---- conversations ---------------------------------------------------------------------- */

/* What one conversation's change does to the live counts. */
struct conv_change {
	char old_group[MGR_ID_MAX];
	int old_live;                  /* it was stored and live */
	char new_group[MGR_ID_MAX];
	int new_live;                  /* it is stored and live after the change */
};

struct conv_batch {
	const struct mgr_conv *in;     /* registrations, or NULL for endings */
	const char *const *ids;
	const int64_t *ended_ms;
	int64_t now;
	struct conv_change *changes;
};

static void
change_note(struct conv_change *ch, const struct mgr_conv *old, const struct mgr_conv *rec)
{
	memset(ch, 0, sizeof *ch);
	if (old != NULL) {
		snprintf(ch->old_group, sizeof ch->old_group, "%s", old->group);
		ch->old_live = old->ended_ms == 0;
	}
	snprintf(ch->new_group, sizeof ch->new_group, "%s", rec->group);
	ch->new_live = rec->ended_ms == 0;
}

static int
merge_start(void *arg, unsigned i, const struct mgr_conv *old, struct mgr_conv *rec)
{
	struct conv_batch *b = arg;
	const struct mgr_conv *in = &b->in[i];

	*rec = *in;
	if (rec->group[0] == '\0' && idgen_group(in->id, rec->group, sizeof rec->group) != 0)
		return PARLEY_EINVAL;
	/* An ending that came first is kept. */
	if (old != NULL && old->ended_ms != 0)
		rec->ended_ms = old->ended_ms;
	change_note(&b->changes[i], old, rec);
	return 1;
}

static int
merge_end(void *arg, unsigned i, const struct mgr_conv *old, struct mgr_conv *rec)
{
	struct conv_batch *b = arg;
	int64_t ended = b->ended_ms[i] > 0 ? b->ended_ms[i] : b->now;

	if (old != NULL && old->ended_ms != 0) {
		change_note(&b->changes[i], old, old);
		return 0;
	}
	if (old != NULL) {
		*rec = *old;
	} else {
		memset(rec, 0, sizeof *rec);
		snprintf(rec->id, sizeof rec->id, "%s", b->ids[i]);
		if (idgen_group(b->ids[i], rec->group, sizeof rec->group) != 0)
			return PARLEY_EINVAL;
	}
	rec->ended_ms = ended;
	change_note(&b->changes[i], old, rec);
	return 1;
}

/* Apply the counted changes of a committed batch. */
static void
changes_apply(struct manager *m, const struct conv_change *ch, unsigned n, int ending)
{
	unsigned i;

	pthread_mutex_lock(&m->mu);
	for (i = 0; i < n; i++) {
		if (ch[i].old_live && apply_delta(m, ch[i].old_group, -1) != 0)
			log_warnx("manager: out of memory counting conversations");
		if (ch[i].new_live && apply_delta(m, ch[i].new_group, 1) != 0)
			log_warnx("manager: out of memory counting conversations");
		if (ending && ch[i].old_live && !ch[i].new_live)
			m->stats.conversations_ended++;
	}
	if (!ending)
		m->stats.conversations_registered += n;
	pthread_mutex_unlock(&m->mu);
}

int
manager_register_conversations(struct manager *m, const struct mgr_conv *c, unsigned n)
{
	struct conv_batch b;
	const char **ids = NULL;
	unsigned i;
	int rc;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (manager_check_conv(&c[i]) != NULL)
			return PARLEY_EINVAL;
	if (!manager_active(m))
		return PARLEY_ESTANDBY;
	memset(&b, 0, sizeof b);
	b.in = c;
	if ((ids = malloc(n * sizeof *ids)) == NULL ||
	    (b.changes = calloc(n, sizeof *b.changes)) == NULL) {
		rc = PARLEY_ENOMEM;
		goto done;
	}
	for (i = 0; i < n; i++)
		ids[i] = c[i].id;
	if ((rc = directory_merge_conversations(m->dir, ids, n, merge_start, &b)) == 0)
		changes_apply(m, b.changes, n, 0);
done:
	free(ids);
	free(b.changes);
	return rc;
}

int
manager_end_conversations(struct manager *m, const char *const *ids, const int64_t *ended_ms,
    unsigned n)
{
	struct conv_batch b;
	unsigned i;
	int rc;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!idgen_valid(ids[i]) || ended_ms[i] < 0)
			return PARLEY_EINVAL;
	if (!manager_active(m))
		return PARLEY_ESTANDBY;
	memset(&b, 0, sizeof b);
	b.ids = ids;
	b.ended_ms = ended_ms;
	b.now = wall_ms();
	if ((b.changes = calloc(n, sizeof *b.changes)) == NULL)
		return PARLEY_ENOMEM;
	if ((rc = directory_merge_conversations(m->dir, ids, n, merge_end, &b)) == 0)
		changes_apply(m, b.changes, n, 1);
	free(b.changes);
	return rc;
}

/* Returned by list_one once the scan is past the session asked for. */
#define LIST_DONE 1

struct listing {
	const struct mgr_conv_filter *f;
	char (*node_groups)[MGR_ID_MAX]; /* the groups the node filter means, sorted */
	unsigned n_node_groups;
	char session[IDGEN_SESSION_MAX];  /* the session filter's session, or "" */
	/* The last conversation seen that started a session (joined none). */
	char starter[IDGEN_ID_MAX];
	char starter_service[MGR_SERVICE_MAX];
	unsigned offset, limit;
	struct mgr_conv *out;
	unsigned n, cap, total;
};

static int
in_groups(const struct listing *l, const char *group)
{
	unsigned lo = 0, hi = l->n_node_groups;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = strcmp(l->node_groups[mid], group);

		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int
list_one(void *arg, const struct mgr_conv *c)
{
	struct listing *l = arg;
	const struct mgr_conv_filter *f = l->f;
	char session[IDGEN_SESSION_MAX];
	struct mgr_conv *grown;
	unsigned cap;

	/* The table's IDs were checked when stored; a damaged one is in no session. */
	if (idgen_session(c->id, session, sizeof session) != 0)
		session[0] = '\0';
	/*
	 * A session's starter sorts right before its members (its ID is their
	 * prefix, and any other ID differs within it), so the last starter seen
	 * is the only one a member can belong to. Carried before any filter:
	 * the starter may be filtered out while its members are listed.
	 */
	if (session[0] != '\0' && !idgen_joined(c->id)) {
		memcpy(l->starter, c->id, sizeof l->starter);
		memcpy(l->starter_service, c->service, sizeof l->starter_service);
	}
	if (l->session[0] != '\0' && strcmp(session, l->session) != 0)
		/* Scanned from the session's ID: the first other session ends it. */
		return strcmp(session, l->session) > 0 ? LIST_DONE : 0;
	if (f != NULL) {
		if (f->live_only && c->ended_ms != 0)
			return 0;
		if (f->group != NULL && strcmp(f->group, c->group) != 0)
			return 0;
		if (f->service != NULL && strcmp(f->service, c->service) != 0)
			return 0;
		if (f->node != NULL && !in_groups(l, c->group))
			return 0;
	}
	l->total++;
	if (l->total <= l->offset || l->n >= l->limit)
		return 0;
	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 64;
		if (cap > l->limit)
			cap = l->limit;
		if ((grown = realloc(l->out, cap * sizeof *grown)) == NULL)
			return PARLEY_ENOMEM;
		l->out = grown;
		l->cap = cap;
	}
	grown = &l->out[l->n++];
	*grown = *c;
	memcpy(grown->session, session, sizeof grown->session);
	if (session[0] != '\0' && strcmp(session, l->starter) == 0)
		memcpy(grown->initiator, l->starter_service, sizeof grown->initiator);
	else
		grown->initiator[0] = '\0';
	return 0;
}

int
manager_list_conversations(struct manager *m, const struct mgr_conv_filter *f,
    unsigned offset, unsigned limit, struct mgr_conv **out, unsigned *n, unsigned *total)
{
	struct listing l;
	unsigned i;
	int rc;

	*out = NULL;
	*n = 0;
	*total = 0;
	if (!manager_active(m))
		return PARLEY_ESTANDBY;
	memset(&l, 0, sizeof l);
	l.f = f;
	l.offset = offset;
	l.limit = limit;
	if (f != NULL && f->session != NULL &&
	    idgen_session(f->session, l.session, sizeof l.session) != 0)
		return PARLEY_EINVAL;
	if (f != NULL && f->node != NULL) {
		pthread_mutex_lock(&m->mu);
		if (m->n_groups > 0 &&
		    (l.node_groups = malloc(m->n_groups * sizeof *l.node_groups)) == NULL) {
			pthread_mutex_unlock(&m->mu);
			return PARLEY_ENOMEM;
		}
		/* m->groups is sorted, so the copies are too. */
		for (i = 0; i < m->n_groups; i++)
			if (strcmp(m->groups[i].primary, f->node) == 0)
				memcpy(l.node_groups[l.n_node_groups++], m->groups[i].name,
				    MGR_ID_MAX);
		pthread_mutex_unlock(&m->mu);
	}
	rc = directory_scan_conversations(m->dir, l.session, list_one, &l);
	if (rc == LIST_DONE)
		rc = 0;
	free(l.node_groups);
	if (rc != 0) {
		free(l.out);
		return rc;
	}
	*out = l.out;
	*n = l.n;
	*total = l.total;
	return 0;
}
