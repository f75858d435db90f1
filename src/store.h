/*
 * store.h - beans and conversation metadata in Berkeley DB.
 *
 * One environment per group holds seven databases: the bean of each
 * session, each conversation's metadata (service, times, sequence, state,
 * the ring of recently answered message IDs), the sessions that were joined
 * (live members, initiating service), the responses kept for retries, the
 * start messages already answered, each conversation's partner and the
 * outbox of messages to send (outbox.h). Every change of one message is one
 * transaction. Only store.c and its helpers include <db.h>.
 *
 * A session is the conversations that share one bean: a conversation's
 * own, unless its ID names another's session (idgen.h, "GROUP.SESSION.
 * MEMBER"); the store reads it from the ID. The bean goes when the last
 * live member finishes or expires.
 *
 * The store does not serialise access to a conversation: callers hold the
 * conversation's session (gate.h) while they load, commit, expire or purge
 * it, and store_load relies on that (it reads without a transaction).
 *
 * A replicated store is a disk store whose environment is a replication
 * group of its own (repl.c): its master serves, its clients only keep a copy
 * until they are promoted. The caller (the cluster) decides every role; the
 * store never elects a master by itself.
 */
#ifndef PARLEY_STORE_H
#define PARLEY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum store_mode { STORE_MEMORY = 0, STORE_DISK, STORE_REPLICATED };
enum store_sync { STORE_SYNC_FULL = 0, STORE_SYNC_WRITE, STORE_SYNC_NONE };

/* How many copies a master's commit waits for (STORE_REPLICATED). */
enum store_ack { STORE_ACK_ALL = 0, STORE_ACK_ONE, STORE_ACK_NONE };
enum store_role { STORE_CLIENT = 0, STORE_MASTER };

/* What replication tells the caller, through store_repl.event. */
enum store_event {
	STORE_EV_SYNCED = 1,       /* a client has caught up with its master */
	STORE_EV_MASTER_LOST,      /* a client lost its master */
	STORE_EV_NEW_MASTER,       /* a client found a (new) master */
	STORE_EV_DUPMASTER,        /* this master met another: it no longer serves (store_demote) */
	STORE_EV_PERM_FAILED,      /* a commit did not get the acknowledgements it needed */
	STORE_EV_REMOVED           /* this client was removed from its group (or could not
				      join it): close and open it again to join afresh */
};

struct store;

/*
 * The replication of one store: its own listener, the role it starts in and
 * the master a client first asks for the group. Strings are copied at open.
 */
struct store_repl {
	const char *host;          /* this environment's listener, e.g. "127.0.0.1" */
	unsigned port;
	enum store_role role;      /* how the environment starts; a restarted node: STORE_CLIENT */
	int creator;               /* 1: a new group whose first master this is */
	const char *helper_host;   /* a client's bootstrap helper: the group's master's listener */
	unsigned helper_port;
	enum store_ack ack;
	unsigned ack_timeout_ms;   /* how long a commit waits for its acks; 0: 1000 */
	unsigned heartbeat_ms;     /* sent every heartbeat_ms, a master silent 3x that is lost; 0: 200 */
	/*
	 * Called on replication's threads (STORE_EV_PERM_FAILED: on the
	 * committing thread), possibly before store_open has returned st and
	 * until store_close returns; it must not call store_promote,
	 * store_demote or store_close. May be NULL.
	 */
	void (*event)(void *arg, struct store *st, enum store_event ev);
	void *event_arg;
};

#define STORE_RING_MAX 64          /* upper bound of retry_keep */
#define STORE_SERVICE_MAX 64       /* bytes of a service name, with its NUL */

struct store_config {
	const char *home;          /* environment directory for STORE_DISK (created if missing); unused in memory */
	enum store_mode mode;
	enum store_sync sync;
	size_t cache_bytes;        /* Berkeley DB cache; 0: 32 MiB */
	unsigned retry_keep;       /* responses kept per conversation, 1..STORE_RING_MAX; 0: 16 */
	const struct store_repl *repl;  /* required for STORE_REPLICATED, else unused */
};

enum conv_state { CONV_LIVE = 1, CONV_ENDED = 2, CONV_EXPIRED = 3 };

/* A conversation's metadata, stored beside its bean. Times are ms since the epoch. */
struct conv_meta {
	char service[STORE_SERVICE_MAX];
	int64_t created_ms;
	int64_t last_access_ms;
	uint64_t seq;              /* messages committed; store_commit stores seq + 1 (see there) */
	enum conv_state state;
	int64_t ended_ms;          /* when it ended or expired; 0 while live */
	uint32_t max_age_s;        /* expiry from the descriptor at start; 0: none */
	uint32_t max_idle_s;
	uint32_t bean_version;     /* the service version that wrote the bean */
	char *start_msgid;         /* the start message's wsa:MessageID, or NULL; owned by the meta */
	/* private to the store: the last retry_keep answered messages */
	unsigned ring_len;
	uint64_t ring_hash[STORE_RING_MAX];
	uint64_t ring_seq[STORE_RING_MAX];
};

/* Release what a conv_meta owns (start_msgid); the struct can be reused. */
void conv_meta_clear(struct conv_meta *m);

/* Why a conversation has expired at now_ms: 0 (it has not), 1 max_age, 2 max_idle. */
int conv_meta_expired(const struct conv_meta *m, int64_t now_ms);

/* A conversation as loaded for one message. */
struct store_conv {
	struct conv_meta meta;
	struct buf bean;
	unsigned session_live;     /* live conversations of its session, this one included */
	char initiator[STORE_SERVICE_MAX];  /* the service whose conversation started the session */
	int replay;                /* 1: msgid was answered before; response holds the answer */
	int replay_soap;           /* its SOAP version (1 or 2) */
	struct buf response;
};

/* Release a store_conv's memory; it is zeroed and reusable. */
void store_conv_clear(struct store_conv *c);

/*
 * Open (creating, and recovering after a crash) the store described by cfg.
 * A disk store holds a lock on its directory while open: a second opener,
 * in this process or another, is refused. A memory store holds no more than
 * its cache: a commit that does not fit fails with PARLEY_ENOMEM. On failure
 * returns PARLEY_EIO, PARLEY_EINVAL or PARLEY_ENOMEM with a message naming
 * the problem and what to do in err, and *out is NULL.
 *
 * A replicated store is a disk store (same directory, files and sync) that
 * also starts replication on cfg->repl's listener. A master opens its
 * databases at once. A client returns as soon as replication is started
 * (when its helper does not answer yet, it keeps asking in the background)
 * and is synced later (STORE_EV_SYNCED); it serves nothing until promoted,
 * and applies its master's commits without flushing them (DB_TXN_NOSYNC).
 * A restarted node opens as a client: what its log held beyond the master's
 * is rolled back when it syncs.
 */
int store_open(struct store **out, const struct store_config *cfg, char *err, size_t errlen);

/*
 * Close the store: checkpoints in disk mode and on a replicated master, and
 * stops replication. NULL is allowed.
 */
void store_close(struct store *st);

/*
 * Load conversation id into out (which must be zeroed or cleared): its
 * metadata, its session's bean, how many of the session's conversations
 * are live and which service started it. When msgid
 * is not NULL and the conversation answered that message before, out->replay
 * is 1 and out->response holds the stored answer. Ended and expired
 * conversations load with their state (their bean empty) until purged.
 * Metadata, bean and answer are read without a transaction: they agree
 * because the caller holds the conversation.
 * Returns 0, PARLEY_ENOENT when the store never had it or purged it,
 * PARLEY_EIO or PARLEY_ENOMEM; on failure out is cleared.
 */
int store_load(struct store *st, const char *id, const char *msgid, struct store_conv *out);

/*
 * Look up a start message answered before: when msgid started a
 * conversation of service, copies its ID to id (idlen bytes at most, with
 * its NUL) and the stored answer to response (replacing what it held), with
 * its SOAP version in *soap, and returns 0. Returns PARLEY_ENOENT when msgid
 * started nothing kept (or its answer has left the conversation's ring),
 * PARLEY_EEXIST when msgid started a conversation of another service that
 * is still kept (id, response and *soap are then unchanged), PARLEY_EINVAL
 * when the ID does not fit in idlen, PARLEY_EIO or PARLEY_ENOMEM.
 */
int store_find_start(struct store *st, const char *service, const char *msgid, char *id,
    size_t idlen, struct buf *response, int *soap);

enum store_kind { STORE_START = 1, STORE_UPDATE, STORE_FINISH };

/* A record to write: key and data are copied into the store. */
struct store_record {
	const void *key;
	size_t key_len;
	const void *data;
	size_t len;
};

struct store_commit {
	const char *id;
	enum store_kind kind;
	struct conv_meta *meta;    /* read as below; updated by the store on success */
	const void *bean;          /* the bean to store when bean_changed (START: always) */
	size_t bean_len;
	int bean_changed;
	const char *msgid;         /* the message answered, or NULL: nothing kept for retries */
	const void *response;      /* its answer */
	size_t response_len;
	int soap;                  /* the answer's SOAP version */
	/* messages to send after the commit (outbox.h): put in "outbox" with it */
	const struct store_record *outbox;
	size_t n_outbox;
	/* STORE_START: the conversation's partner record (outbox.h), or NULL for none */
	const void *partner;
	size_t partner_len;
};

/*
 * Store one message's effects in one transaction: the metadata, the bean
 * (written when changed; for STORE_FINISH the metadata then
 * says CONV_ENDED with ended_ms = last_access_ms), the answer under msgid
 * (dropping the oldest beyond retry_keep), for STORE_START with a msgid,
 * the start index (replacing an entry a start with the same msgid left),
 * for STORE_START with a partner, the partner under the ID, and every
 * record of c->outbox in the outbox (replacing one of the same key).
 *
 * Sessions: the bean is its session's. A STORE_START of a joined ID (one
 * that names another's session) joins that session, which must have a live
 * member, else PARLEY_ENOENT; it writes the bean only when bean_changed. A
 * STORE_FINISH writes a changed bean, then leaves the session: the bean is
 * deleted with its last live member.
 *
 * Sequence numbers: the caller passes meta as it loaded it (for STORE_START,
 * zeroed but for its fields below: seq 0), and the store increments. The
 * message is stored as seq + 1, its answer kept under that seq, and on
 * success meta->seq is seq + 1. For STORE_UPDATE and STORE_FINISH, meta->seq
 * must equal the stored seq and the conversation must still be live, else
 * PARLEY_ESTATE (another commit or store_expire came first); PARLEY_ENOENT
 * when it is gone. The caller's last_access_ms, max_age_s, max_idle_s and
 * bean_version are written as given; service, created_ms and start_msgid are
 * taken from meta at STORE_START (start_msgid becomes msgid) and from the
 * store afterwards; seq, state, ended_ms and the ring are the store's.
 * On success meta gets the stored seq, state, ended_ms and ring (and, at
 * STORE_START, start_msgid); on failure meta is unchanged.
 *
 * Deadlocks are retried. Returns 0 once committed (with the configured
 * sync, and on a replicated master acknowledged as its ack policy asks);
 * PARLEY_ENOTACKED when a replicated master committed but its copies were
 * not acknowledged in time (meta is updated as on success: the commit stays
 * here, and survives a failover only if a copy did arrive);
 * PARLEY_ESTATE on a replicated store that is not a serving master (so do
 * store_load, store_find_start, store_expire, store_purge and store_scan);
 * PARLEY_EEXIST for STORE_START of an ID the store has (live or not);
 * PARLEY_ESTATE, PARLEY_ENOENT as above; PARLEY_EINVAL for a malformed c;
 * PARLEY_EIO / PARLEY_ENOMEM; with nothing stored on any failure.
 */
int store_commit(struct store *st, const struct store_commit *c);

/*
 * Expire a live conversation: leave its session (deleting the bean if it
 * was the last live member) and mark it CONV_EXPIRED at now_ms, keeping its answers until it is purged. Returns 0, PARLEY_ENOENT
 * when it is unknown or no longer live, or PARLEY_EIO; replicated, also
 * PARLEY_ENOTACKED (expired here all the same) and PARLEY_ESTATE as
 * store_commit.
 */
int store_expire(struct store *st, const char *id, int64_t now_ms);

/*
 * Delete everything kept of a conversation that is no longer live: metadata,
 * answers and its start index entry. Returns 0, PARLEY_ENOENT, PARLEY_ESTATE
 * when it is still live (or replicated, as store_commit), PARLEY_ENOTACKED
 * as store_commit, or PARLEY_EIO.
 */
int store_purge(struct store *st, const char *id);

/*
 * Call cb for every conversation in the store with its metadata, in key
 * order, in batches: the callback runs with no cursor or transaction open, so
 * it may call store_expire and store_purge. cb returns 0 to go on or nonzero
 * to stop (which store_scan returns). A damaged metadata record is logged and
 * skipped. Returns 0, PARLEY_EIO or PARLEY_ENOMEM.
 */
int store_scan(struct store *st, int (*cb)(void *arg, const char *id, const struct conv_meta *m),
    void *arg);

/* ---- the outbox and conversations' partners (outbox.h) -------------------- */

/*
 * Put n records into the outbox in one transaction of their own (answers
 * that come with no commit: faults, stateless operations). Returns 0, or
 * as store_commit (PARLEY_ENOTACKED: put here all the same).
 */
int store_outbox_put(struct store *st, const struct store_record *recs, size_t n);

/*
 * Call cb with every record of the outbox, in key order, inside one read
 * (cb must not call into the store: it copies what it wants). When the read
 * must start again (a deadlock, replication at work) cb is first called with
 * key NULL: forget what was given so far. Returns 0, cb's nonzero, or
 * PARLEY_ESTATE (a replicated store not serving), PARLEY_EIO, PARLEY_ENOMEM.
 */
int store_outbox_scan(struct store *st, int (*cb)(void *arg, const void *key, size_t klen,
    const void *data, size_t len), void *arg);

/*
 * Delete the outbox record at key (a delivered message). Returns 0,
 * PARLEY_ENOENT when there is none, or as store_commit.
 */
int store_outbox_delete(struct store *st, const void *key, size_t klen);

/*
 * Replace the outbox record at key with data (a message rescheduled), only
 * when there is one. Returns 0, PARLEY_ENOENT when there is none, or as
 * store_commit.
 */
int store_outbox_replace(struct store *st, const void *key, size_t klen, const void *data,
    size_t len);

/*
 * Copy the partner record of conversation id into out (reset first).
 * Returns 0, PARLEY_ENOENT when it has none, PARLEY_ESTATE, PARLEY_EIO or
 * PARLEY_ENOMEM. It goes with the conversation when it is purged.
 */
int store_partner_get(struct store *st, const char *id, struct buf *out);

/* The number of live conversations, in all and of one service. */
unsigned store_live_count(struct store *st);
unsigned store_service_count(struct store *st, const char *service);

/*
 * Call cb once per service that has live conversations, with its count.
 * The callback must not call into the store.
 */
void store_each_service(struct store *st, void (*cb)(void *arg, const char *service, unsigned n),
    void *arg);

/*
 * Checkpoint and remove log files no longer needed (disk and replicated
 * modes, master or client; nothing to do in memory). Call it periodically
 * (say every minute): until a checkpoint, no log file can be removed, and
 * recovery at the next open replays them all. Returns 0 or PARLEY_EIO.
 */
int store_checkpoint(struct store *st);

/* ---- replication (STORE_REPLICATED only) ------------------------------------ */

/*
 * Make a replicated client the master of its group: from now on it takes
 * commits and serves reads, with the configured sync. Works on a synced
 * client and on one that lost its master a moment ago (failover): what it
 * holds is what was acknowledged to the old master, and maybe more. Waits
 * for commits in flight on this store. Returns 0 (also when it already is
 * the serving master), PARLEY_EINVAL for a store that is not replicated, or
 * PARLEY_EIO with a message in err; on failure the store does not serve.
 */
int store_promote(struct store *st, char *err, size_t errlen);

/*
 * Make a replicated master (or one that met another master, after
 * STORE_EV_DUPMASTER) a client again: it stops serving at once (waiting for
 * calls in flight), its live counts drop to 0 and it syncs with whichever
 * master the group has. Returns 0 (also when it already is a client),
 * PARLEY_EINVAL when not replicated, or PARLEY_EIO with a message in err.
 */
int store_demote(struct store *st, char *err, size_t errlen);

/*
 * On a master: remove from the group's membership every other site not in
 * hosts[i]:ports[i] (n of them, compared as given, so name each site as it
 * names itself), so that ack all waits only for the group's current
 * secondaries (a dead site left in the membership fails every commit). Sites
 * listed but not members are left to join by themselves. Returns 0,
 * PARLEY_EINVAL when not replicated, PARLEY_ESTATE when not master,
 * PARLEY_ENOMEM, or PARLEY_EIO with a message in err (some sites may then
 * be removed already).
 */
int store_set_secondaries(struct store *st, const char *const *hosts, const unsigned *ports,
    size_t n, char *err, size_t errlen);

/* 1 when st is a replicated store serving as master, else 0. */
int store_is_master(struct store *st);

/*
 * 1 when st is a serving master, or a client that has caught up with a
 * master since it started or was last demoted; else 0 (and for a store that
 * is not replicated).
 */
int store_is_synced(struct store *st);

/* A snapshot of a replicated store's state. */
struct store_repl_stats {
	enum store_role role;
	int synced;                /* as store_is_synced */
	uint64_t commits;          /* transactions this store committed as master */
	uint64_t perm_failed;      /* of them, not acknowledged (PARLEY_ENOTACKED) */
	unsigned sites;            /* other sites this one knows of */
	unsigned connected;        /* of them, connected now */
	int master_id;             /* the group's master as replication numbers sites; -1: none known */
	uint32_t generation;       /* the group's generation: a new master starts a new one */
	uint32_t next_lsn_file;    /* a master's next log record, or the next a client expects */
	uint32_t next_lsn_offset;
	uint32_t perm_lsn_file;    /* the last durable (permanent) record here */
	uint32_t perm_lsn_offset;
	uint64_t log_queued;       /* records a client holds out of order, waiting for a gap */
	uint64_t msgs_dropped;     /* messages dropped for a full send queue (no acks: throttle) */
};

/*
 * Fill out with st's replication state. Returns 0, PARLEY_EINVAL when st is
 * not replicated, or PARLEY_EIO (out is then unspecified).
 */
int store_repl_stats(struct store *st, struct store_repl_stats *out);

#endif /* PARLEY_STORE_H */
