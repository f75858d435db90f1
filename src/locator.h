/*
 * locator.h - the node's side of the conversation manager: which groups
 * this node owns (answered without asking anyone), where the others are
 * (asked of the manager once per group and cached until told the route
 * moved), the node's registration (at start, and again when the manager
 * restarts), the records of conversations started and ended here (sent to
 * the manager in batches, off the message path), and the heartbeats the
 * manager sends.
 */
#ifndef PARLEY_LOCATOR_H
#define PARLEY_LOCATOR_H

#include <stdint.h>

#include "addrlist.h"
#include "manager.h"

struct locator_config {
	const char *node_id;            /* this node; it owns the group of this name */
	const char *address;            /* this node's base URL as others reach it (or later:
					   locator_set_address) */
	struct manager *manager;        /* the manager when embedded here, else NULL */
	const char *manager_url;        /* else the remote manager's URL, or the manager
					   sites' URLs, comma-separated */
	unsigned timeout_ms;            /* for calls to a remote manager; default 2000 */
	unsigned heartbeat_interval_ms; /* the manager's; default 200 */
	/* the live conversations this node holds, for heartbeat replies; may be NULL */
	unsigned (*live_count)(void *arg);
	void *live_count_arg;
	/* the groups this node holds; with store = replicated the locator renews their leases */
	struct holdings *holdings;
};

struct locator_stats {
	uint64_t locate_calls;          /* Locate calls made to the manager */
	uint64_t register_calls;        /* RegisterNode calls */
	uint64_t record_calls;          /* RegisterConversation / EndConversation calls */
	uint64_t owned;                 /* lookups answered "mine", with no call */
	uint64_t cache_hits;            /* lookups answered from the cache */
	uint64_t heartbeats;            /* heartbeats received */
	uint64_t records_dropped;       /* conversation records lost to a full queue */
	uint64_t renewals;              /* leases renewed (store = replicated) */
	uint64_t renewals_failed;
	unsigned queued;                /* records waiting to be sent */
	int registered;                 /* the manager knows this node now */
	int64_t last_heartbeat_ms;      /* 0: none yet */
	char manager_incarnation[MGR_INCARNATION_MAX];
	char incarnation[MGR_INCARNATION_MAX];   /* this node's */
	char manager_now[ADDRLIST_ITEM_MAX];     /* the remote manager in use, or "" */
	struct mgr_assignment assignments[MGR_ASSIGNMENTS_MAX];  /* from the last heartbeat */
	unsigned n_assignments;
};

struct locator;
struct holdings;

/* Make the locator; nothing is called yet. Returns 0, PARLEY_EINVAL or PARLEY_ENOMEM with err. */
int locator_create(struct locator **out, const struct locator_config *cfg, char *err,
    size_t errlen);

/*
 * Set this node's address (its base URL), once the server knows its port;
 * before locator_start. Returns 0 or PARLEY_EINVAL when too long.
 */
int locator_set_address(struct locator *l, const char *address);

/*
 * Start the agent thread that registers the node (retrying until the
 * manager answers), registers it again when a heartbeat shows a new manager
 * incarnation or heartbeats stop for a while, and sends conversation
 * records. Returns 0 or PARLEY_ENOMEM.
 */
int locator_start(struct locator *l);

/* Stop the agent (sending what is queued, for at most a second) and free. NULL is allowed. */
void locator_destroy(struct locator *l);

/* Whether this node owns group now. Never calls the manager. */
int locator_owns(struct locator *l, const char *group);

/*
 * Where group is served: from the cache, else from the manager (one call per
 * group at a time: concurrent lookups of the same group wait for it).
 * Returns 0 with out filled, PARLEY_ENOENT when the manager knows no such
 * group, PARLEY_EIO / PARLEY_ETIMEDOUT when it cannot be asked.
 */
int locator_route(struct locator *l, const char *group, struct mgr_route *out);

/* Drop the cached route of group: the next locator_route asks the manager. */
void locator_forget(struct locator *l, const char *group);

/*
 * Take a route heard from another node (a pc:Moved answer): it replaces the
 * cached one when there is none, when its epoch is newer, or when the epoch
 * is the same but the address is not (the owner restarted elsewhere).
 * Returns 1 when it was taken, 0 when the cache knew better.
 */
int locator_learn(struct locator *l, const struct mgr_route *r);

/* Record that a conversation started or ended here (queued for the manager). */
void locator_started(struct locator *l, const char *id, const char *service, const char *reply_to,
    const char *from, int64_t created_ms);
void locator_ended(struct locator *l, const char *id, int64_t ended_ms);

/* Answer the manager's heartbeat (struct node_service's function). */
int locator_heartbeat(void *locator, const struct mgr_heartbeat *hb,
    struct mgr_heartbeat_reply *reply);

/* Call cb for each cached route, with when it was learnt. cb must not call the locator. */
void locator_each_route(struct locator *l,
    void (*cb)(void *arg, const struct mgr_route *r, int64_t learnt_ms), void *arg);

void locator_get_stats(struct locator *l, struct locator_stats *st);

#endif /* PARLEY_LOCATOR_H */
