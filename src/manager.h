/*
 * manager.h - the conversation manager: the cluster's directory of nodes,
 * groups and conversations, kept in Berkeley DB so that a restarted manager
 * knows the cluster again, and the heartbeats that tell live nodes from dead
 * ones. It runs embedded in a node or in a node of its own; either way its
 * SOAP face (wsdl/manager.wsdl) is in mgrsoap.c and it reaches nodes through
 * the heartbeat function the container gives it.
 */
#ifndef PARLEY_MANAGER_H
#define PARLEY_MANAGER_H

#include <stddef.h>
#include <stdint.h>

#include "idgen.h"

#define MGR_ID_MAX (IDGEN_GROUP_MAX + 1)      /* node and group names, with NUL */
#define MGR_ADDRESS_MAX 256                    /* "http://HOST:PORT", with NUL */
#define MGR_INCARNATION_MAX 40
#define MGR_SERVICE_MAX 64
#define MGR_REPL_MAX 64                        /* a replication listener, "HOST:PORT", with NUL */

struct mgr_node {
	char id[MGR_ID_MAX];
	char address[MGR_ADDRESS_MAX];
	char incarnation[MGR_INCARNATION_MAX];   /* the node's, from RegisterNode */
	int alive;
	int replicated;                          /* its store is replicated: its groups fail over */
	int64_t registered_ms;
	int64_t last_heartbeat_ms;               /* 0: never answered */
	unsigned misses;                         /* heartbeats missed in a row */
	unsigned conversations;                  /* live conversations of its groups */
};

struct mgr_group {
	char name[MGR_ID_MAX];
	char primary[MGR_ID_MAX];
	char secondary[MGR_ID_MAX];              /* "" when none */
	uint64_t epoch;                          /* grows with each change of primary */
	/* Known from the nodes' heartbeat answers (store = replicated); not stored. */
	char primary_repl[MGR_REPL_MAX];         /* the primary's replication listener, or "" */
	char secondary_repl[MGR_REPL_MAX];       /* the secondary's, or "" */
	int secondary_synced;                    /* the secondary has caught up */
	int primary_clean;                       /* since the secondary last changed, the
						    primary has dropped every other member
						    of its replication group */
	int inherited;                           /* loaded at a takeover: the copies are as the
						    last active manager left them, their
						    listeners not heard yet */
};

struct mgr_route {
	char group[MGR_ID_MAX];
	char node[MGR_ID_MAX];
	char address[MGR_ADDRESS_MAX];
	uint64_t epoch;
	int alive;
};

struct mgr_conv {
	char id[IDGEN_ID_MAX];
	char group[MGR_ID_MAX];                  /* "" on input: taken from the ID */
	char service[MGR_SERVICE_MAX];
	char reply_to[MGR_ADDRESS_MAX];          /* the partner's wsa:ReplyTo, "" when none */
	char from[MGR_ADDRESS_MAX];              /* the partner's wsa:From, "" when none */
	int64_t created_ms;
	int64_t ended_ms;                        /* 0 while live */
	/*
	 * Filled by manager_list_conversations only (not stored, ignored on
	 * input): the conversation's session, the ID of the conversation that
	 * started it (idgen_session of id: id itself unless it joined another's
	 * session), and the service of that conversation, "" when the manager
	 * has no record of it (or the record has no service yet).
	 */
	char session[IDGEN_SESSION_MAX];
	char initiator[MGR_SERVICE_MAX];
};

/* What a heartbeat says to a node and what it answers (node.wsdl). */
struct mgr_assignment {
	char group[MGR_ID_MAX];
	int primary;                             /* 1 primary, 0 secondary */
	uint64_t epoch;
	char peer[MGR_REPL_MAX];                 /* the other copy's listener, "" when not
						    known yet, "-" (to a primary): drop
						    every member first (replicated) */
};

/* A group a node's stores hold, as it answers a heartbeat (store = replicated). */
struct mgr_holding {
	char group[MGR_ID_MAX];
	int primary;                             /* its store is the group's master */
	uint64_t epoch;
	char repl[MGR_REPL_MAX];                 /* its replication listener */
	int synced;                              /* a secondary that has caught up; a
						    primary whose group has no member left */
};

/* A node's claim to serve group at epoch; granted, the lease for it. */
struct mgr_claim {
	char group[MGR_ID_MAX];
	uint64_t epoch;
};

#define MGR_ASSIGNMENTS_MAX 16

struct mgr_heartbeat {
	char node[MGR_ID_MAX];
	char manager_incarnation[MGR_INCARNATION_MAX];
	int64_t sent_ms;
	struct mgr_assignment assignments[MGR_ASSIGNMENTS_MAX];
	unsigned n_assignments;
};

struct mgr_heartbeat_reply {
	char node[MGR_ID_MAX];
	char incarnation[MGR_INCARNATION_MAX];
	unsigned conversations;
	struct mgr_holding holdings[MGR_ASSIGNMENTS_MAX];
	unsigned n_holdings;
};

/*
 * How the manager calls one node's Heartbeat: given by the container (a
 * direct call for the node the manager is embedded in, SOAP over HTTP for
 * the others). Returns 0 with reply filled, or nonzero when the node did not
 * answer within timeout_ms. Called from the manager's heartbeat threads, one
 * per node: calls for one node never overlap (state kept per node, such as a
 * keep-alive connection, needs no lock), calls for different nodes run at
 * the same time. timeout_ms is three quarters of the interval, so that a
 * frozen node's last miss is counted before the next round; a call that
 * overruns it anyway is counted as missed at the next round.
 */
typedef int (*mgr_heartbeat_fn)(void *arg, const struct mgr_node *node,
    const struct mgr_heartbeat *hb, struct mgr_heartbeat_reply *reply, unsigned timeout_ms);

struct manager_config {
	const char *home;                        /* directory of its Berkeley DB environment */
	unsigned heartbeat_interval_ms;          /* default 200 */
	unsigned heartbeat_misses;               /* default 3 */
	unsigned lease_ms;                       /* default interval x (misses - 1) */
	mgr_heartbeat_fn heartbeat;
	void *heartbeat_arg;
	/*
	 * A manager site: its tables are replicated to the other sites and
	 * Berkeley DB elects the active one (NULL: a single manager).
	 */
	const char *repl_listen;                 /* this site's listener, HOST:PORT */
	const char *repl_sites;                  /* the other sites', comma-separated */
};

/* Counters for the status page. */
struct manager_stats {
	uint64_t registrations;
	uint64_t locates;
	uint64_t conversations_registered;
	uint64_t conversations_ended;
	uint64_t heartbeats_sent;
	uint64_t heartbeats_missed;
	uint64_t renewals;
	uint64_t failovers;                      /* secondaries promoted */
	unsigned nodes;
	unsigned alive;
	unsigned groups;
	unsigned conversations;                  /* live */
};

struct manager;

/*
 * Open the manager's tables in cfg->home (creating them, recovering after a
 * crash) and load the nodes and groups it knew; every node starts as alive
 * with no misses until its heartbeats say otherwise. A new incarnation is
 * drawn. Returns 0, or PARLEY_EIO / PARLEY_EINVAL / PARLEY_ENOMEM with err.
 *
 * A manager site (cfg->repl_listen set) starts as a standby instead: its
 * tables join the other sites' replication group, and it becomes the active
 * manager (loading the tables, as above, with a new incarnation and every
 * node's lease counted as granted then) only once Berkeley DB elects it
 * master and manager_start has run; it is a standby again as soon as
 * Berkeley DB makes it a client. While it is a standby every call below
 * that a node or a tool makes returns PARLEY_ESTANDBY.
 */
int manager_open(struct manager **out, const struct manager_config *cfg, char *err, size_t errlen);

/*
 * The URL nodes reach this manager at (http://HOST:PORT/parley/manager):
 * a manager site records it when it becomes active, so that standbys can
 * name it. Call before manager_start. The string is copied.
 */
void manager_set_url(struct manager *m, const char *url);

/* 1 while this manager is the active one (always, for a single manager). */
int manager_active(struct manager *m);

/*
 * The active manager's URL as the replicated tables record it, into out
 * (len bytes); "" when none is known. Reads the tables: not for every
 * message. A single manager gives its own URL.
 */
void manager_active_url(struct manager *m, char *out, size_t len);

/*
 * Start the heartbeats: a scheduler thread that starts a round every
 * heartbeat_interval_ms, and one thread per node that makes its calls. The
 * container calls it once serving; a second call does nothing. Returns 0 or
 * PARLEY_ENOMEM.
 */
int manager_start(struct manager *m);

/* Stop the heartbeats (waits for calls in flight) and close the tables. NULL is allowed. */
void manager_close(struct manager *m);

/* The manager's incarnation: new at each manager_open. The string lives as long as m. */
const char *manager_incarnation(const struct manager *m);

/* The heartbeat interval in use (the configured one, or the default). */
unsigned manager_heartbeat_interval_ms(const struct manager *m);

/*
 * Check what a node registers with, or a conversation record, as the
 * manager does: NULL when it is acceptable, else a static sentence saying
 * what is wrong ("the node ID must be ..."), for a fault's reason. A node ID
 * names the node's group (idgen_group_valid); an address is
 * http://HOST:PORT; an incarnation is up to 39 printable characters without
 * spaces. A conversation needs a valid ID, a group that is empty or valid,
 * a service of 1 to 63 characters of [A-Za-z0-9_.-], a reply-to and a from
 * of at most 255 printable characters without spaces (or empty), and times
 * that are not negative. Its session and initiator are not looked at.
 */
const char *manager_check_node(const char *id, const char *address, const char *incarnation);
const char *manager_check_conv(const struct mgr_conv *c);

/*
 * Every call below returns PARLEY_ESTANDBY on a manager site that is not
 * the active manager; on a manager site, a change a quorum of the sites did
 * not acknowledge fails with PARLEY_ENOTACKED (it may be lost at a takeover).
 */

/*
 * Register (or register again) node id at address. Its group (named after
 * it) is made if new, with this node as primary, epoch 1; the secondaries
 * are chosen again (see assign in manager.c: a group's secondary is the
 * node it is named after when that is alive and not its primary, else the
 * next live node after the primary in the sorted list of nodes). A node
 * whose address changed keeps its groups. replicated says the node's store
 * is replicated: then a new incarnation of a group's primary (the node
 * restarted) hands the group to its secondary when that has caught up, and
 * the node comes back as a secondary.
 * A dead node that registers is alive again. The registration and the
 * groups it changed are synced to disk before it returns.
 * Fills groups (at most *n, the caller's capacity) with the groups the node
 * is primary or secondary of, and sets *n to the number filled. Returns 0,
 * PARLEY_EINVAL for a bad id, address or incarnation (manager_check_node),
 * PARLEY_EIO or PARLEY_ENOMEM, with nothing changed.
 */
int manager_register_node(struct manager *m, const char *id, const char *address,
    const char *incarnation, int replicated, struct mgr_group *groups, unsigned *n);

/*
 * Renew node's lease (store = replicated): of the n claims (group, epoch),
 * grant those where node is the group's primary at that epoch, alive, and
 * of the incarnation given; copy them to granted (capacity n) and set
 * *n_granted and *lease_ms. The node may serve a granted group for lease_ms
 * from when it sent the call; the manager counts the lease from when it
 * got it, and promotes no secondary of the group before that lease is over.
 * Returns 0, or PARLEY_ESTATE when the node is dead or not this
 * incarnation (it must register again; nothing is granted).
 */
int manager_renew(struct manager *m, const char *node, const char *incarnation,
    const struct mgr_claim *claims, unsigned n, struct mgr_claim *granted, unsigned *n_granted,
    unsigned *lease_ms);

/*
 * Where group is served: its primary's address, the epoch, and whether the
 * primary is alive. Returns 0, PARLEY_ENOENT for a group nobody registered.
 */
int manager_locate(struct manager *m, const char *group, struct mgr_route *out);

/*
 * Record conversations that started (a conversation already known is
 * updated, not duplicated: its group, service, reply-to, from and created
 * time are replaced, an ending it had is kept) or ended (ended_ms 0 means now; a
 * conversation that had ended keeps its first ending). An ending of an
 * unknown conversation is recorded as a conversation with what is known:
 * the group of its ID, no service, created 0. Each call is one transaction,
 * written to the operating system but not synced. Return 0, PARLEY_EINVAL
 * when a record or ID is bad (manager_check_conv, idgen_valid) with nothing
 * stored, PARLEY_EIO or PARLEY_ENOMEM.
 */
int manager_register_conversations(struct manager *m, const struct mgr_conv *c, unsigned n);
int manager_end_conversations(struct manager *m, const char *const *ids, const int64_t *ended_ms,
    unsigned n);

/*
 * Copies of the tables in memory; the caller frees *out. Return 0 or
 * PARLEY_ENOMEM / PARLEY_EIO. A standby's copies are what it last knew: the
 * caller asks manager_active first.
 */
int manager_list_nodes(struct manager *m, struct mgr_node **out, unsigned *n);
int manager_list_groups(struct manager *m, struct mgr_group **out, unsigned *n);

struct mgr_conv_filter {
	const char *node;                        /* conversations of groups this node is primary of */
	const char *group;
	const char *service;
	/*
	 * The conversations of one session: the one that started it and every
	 * one that joined it. Either the session's ID or the ID of any of its
	 * conversations (its session is taken from it).
	 */
	const char *session;
	int live_only;
};

/*
 * Conversations matching f (f NULL, or NULL fields, match all; every field
 * given must match), sorted by ID, from offset, at most limit (0 gives
 * none, only the total); *total is how many match in all. Each one's
 * session and initiator are filled: sorted by ID, a session's starter comes
 * right before its members (its ID is their prefix), so the scan carries
 * it along, whatever the filter leaves out. The caller frees *out (NULL
 * when *n is 0). A conversation whose group nobody is primary of matches no
 * node. Reads the whole table (with a session filter, only that session's
 * records): meant for administration, not for every message. Returns 0,
 * PARLEY_EINVAL when f->session is not a conversation ID (idgen_valid),
 * PARLEY_EIO or PARLEY_ENOMEM.
 */
int manager_list_conversations(struct manager *m, const struct mgr_conv_filter *f,
    unsigned offset, unsigned limit, struct mgr_conv **out, unsigned *n, unsigned *total);

void manager_get_stats(struct manager *m, struct manager_stats *st);

#endif /* PARLEY_MANAGER_H */
