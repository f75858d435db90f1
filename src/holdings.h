/*
 * holdings.h - the groups a node holds: one store per group, whether the
 * node serves it (its primary, with a lease for the group's current epoch)
 * or keeps its secondary copy, and the changes the manager asks for.
 *
 * With store = memory or disk a node holds its own group alone and always
 * serves it. With store = replicated the manager's heartbeats say which
 * groups the node is primary and secondary of; a thread of the holdings
 * opens, promotes, demotes and closes the stores to match, and the node
 * serves a group only while the manager's last Renew granted it a lease
 * at that epoch (ARCHITECTURE.md, "Fencing").
 */
#ifndef PARLEY_HOLDINGS_H
#define PARLEY_HOLDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "manager.h"
#include "store.h"

struct holdings_config {
	const char *node_id;            /* its own group */
	const char *data_dir;           /* a group's store is in data_dir/groups/GROUP */
	struct store_config store;      /* mode, sync, cache_bytes, retry_keep (home: per group) */
	/* store = replicated */
	const char *repl_host;          /* where the replication listeners listen */
	unsigned repl_port;             /* the first port; each group takes one from it on */
	unsigned repl_ports;            /* how many ports from repl_port; default 16 */
	enum store_ack ack;
	unsigned ack_timeout_ms;
	unsigned repl_heartbeat_ms;
};

struct holdings;
struct holding;

/*
 * Open the holdings. With memory or disk, the node's own group is opened
 * now and served from then on; with replicated nothing is opened until the
 * manager assigns groups. Returns 0, or a PARLEY_E code with err.
 */
int holdings_open(struct holdings **out, const struct holdings_config *cfg, char *err,
    size_t errlen);

/* Close every store (waiting for users to release them). NULL is allowed. */
void holdings_close(struct holdings *h);

/* Whether the stores are replicated (and the manager decides what is held). */
int holdings_replicated(const struct holdings *h);

/* The node's own group: where conversations started here are made. */
const char *holdings_home(const struct holdings *h);

/*
 * The store of group when this node serves it now; *ref is to be given to
 * holdings_release when done (the store stays open until then). Returns 0,
 * or PARLEY_ENOENT when the node does not serve the group (another node
 * does, or the lease ran out, or the store is still a secondary).
 */
int holdings_acquire(struct holdings *h, const char *group, struct store **st,
    struct holding **ref);
void holdings_release(struct holding *ref);

/* Whether group is served here now (holdings_acquire without taking it). */
int holdings_serves(struct holdings *h, const char *group);

/*
 * Call cb with the store of every group served here now, each held for the
 * call (the expiry sweep, the status page). cb returns 0 to go on.
 */
int holdings_each(struct holdings *h, int (*cb)(void *arg, const char *group, struct store *st),
    void *arg);

/* Live conversations in the groups served here. */
unsigned holdings_live_count(struct holdings *h);

/* ---- store = replicated: what the manager says and what the node answers ---- */

/*
 * Take the manager's assignments (a heartbeat): the groups this node must
 * be primary and secondary of, at which epoch, and where the other copy
 * listens. Returns at once; the holdings' thread does the work. A group no
 * longer assigned primary stops being served at once.
 */
void holdings_assign(struct holdings *h, const struct mgr_assignment *a, unsigned n);

/* What the stores hold now, for the heartbeat's answer; returns how many (at most cap). */
unsigned holdings_report(struct holdings *h, struct mgr_holding *out, unsigned cap);

/* The groups this node would serve (assigned primary, store master): the claims of a Renew. */
unsigned holdings_claims(struct holdings *h, struct mgr_claim *out, unsigned cap);

/*
 * The manager granted the claims granted (a Renew sent at sent_mono_ms,
 * monotonic): each is served until sent_mono_ms + lease_ms. Claims not
 * granted lose their lease at once.
 */
void holdings_granted(struct holdings *h, const struct mgr_claim *granted, unsigned n,
    int64_t sent_mono_ms, unsigned lease_ms);

/* Called (from the holdings' thread) when a group may now be claimed: renew soon. */
void holdings_set_notify(struct holdings *h, void (*fn)(void *arg), void *arg);

/* One group as the status page shows it. */
struct holding_info {
	char group[MGR_ID_MAX];
	int assigned_primary;           /* what the manager says */
	uint64_t epoch;
	int master;                     /* what the store is */
	int synced;
	int serving;
	int64_t lease_left_ms;          /* <= 0: none */
	char repl[MGR_REPL_MAX];
	char peer[MGR_REPL_MAX];
	unsigned conversations;
	uint64_t not_acked;             /* commits the secondary did not acknowledge */
};

/* Fill out (cap entries) with the groups held; returns how many. */
unsigned holdings_list(struct holdings *h, struct holding_info *out, unsigned cap);

#endif /* PARLEY_HOLDINGS_H */
