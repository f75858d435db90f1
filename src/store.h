/*
 * store.h - beans and conversation metadata in Berkeley DB.
 *
 * One environment per group holds four databases: the bean of each
 * conversation, its metadata (service, times, sequence, state, the ring of
 * recently answered message IDs), the responses kept for retries, and the
 * start messages already answered. Every change of one message is one
 * transaction. Only store.c and its helpers include <db.h>.
 *
 * The store does not serialise access to a conversation: callers hold the
 * conversation (gate.h) while they load, commit, expire or purge it, and
 * store_load relies on that (it reads without a transaction).
 */
#ifndef PARLEY_STORE_H
#define PARLEY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum store_mode { STORE_MEMORY = 0, STORE_DISK };
enum store_sync { STORE_SYNC_FULL = 0, STORE_SYNC_WRITE, STORE_SYNC_NONE };

#define STORE_RING_MAX 64          /* upper bound of retry_keep */
#define STORE_SERVICE_MAX 64       /* bytes of a service name, with its NUL */

struct store_config {
	const char *home;          /* environment directory for STORE_DISK (created if missing); unused in memory */
	enum store_mode mode;
	enum store_sync sync;
	size_t cache_bytes;        /* Berkeley DB cache; 0: 32 MiB */
	unsigned retry_keep;       /* responses kept per conversation, 1..STORE_RING_MAX; 0: 16 */
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
	int replay;                /* 1: msgid was answered before; response holds the answer */
	int replay_soap;           /* its SOAP version (1 or 2) */
	struct buf response;
};

/* Release a store_conv's memory; it is zeroed and reusable. */
void store_conv_clear(struct store_conv *c);

struct store;

/*
 * Open (creating, and recovering after a crash) the store described by cfg.
 * A disk store holds a lock on its directory while open: a second opener,
 * in this process or another, is refused. A memory store holds no more than
 * its cache: a commit that does not fit fails with PARLEY_ENOMEM. On failure
 * returns PARLEY_EIO, PARLEY_EINVAL or PARLEY_ENOMEM with a message naming
 * the problem and what to do in err, and *out is NULL.
 */
int store_open(struct store **out, const struct store_config *cfg, char *err, size_t errlen);

/* Close the store: checkpoints in disk mode. NULL is allowed. */
void store_close(struct store *st);

/*
 * Load conversation id into out (which must be zeroed or cleared). When msgid
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
};

/*
 * Store one message's effects in one transaction: the metadata, the bean
 * (written when changed; deleted for STORE_FINISH, after which the metadata
 * says CONV_ENDED with ended_ms = last_access_ms), the answer under msgid
 * (dropping the oldest beyond retry_keep) and, for STORE_START with a msgid,
 * the start index (replacing an entry a start with the same msgid left).
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
 * sync); PARLEY_EEXIST for STORE_START of an ID the store has (live or not);
 * PARLEY_ESTATE, PARLEY_ENOENT as above; PARLEY_EINVAL for a malformed c;
 * PARLEY_EIO / PARLEY_ENOMEM; with nothing stored on any failure.
 */
int store_commit(struct store *st, const struct store_commit *c);

/*
 * Expire a live conversation: delete its bean and mark it CONV_EXPIRED at
 * now_ms, keeping its answers until it is purged. Returns 0, PARLEY_ENOENT
 * when it is unknown or no longer live, or PARLEY_EIO.
 */
int store_expire(struct store *st, const char *id, int64_t now_ms);

/*
 * Delete everything kept of a conversation that is no longer live: metadata,
 * answers and its start index entry. Returns 0, PARLEY_ENOENT, PARLEY_ESTATE
 * when it is still live, or PARLEY_EIO.
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
 * Checkpoint and remove log files no longer needed (disk mode; nothing to do
 * in memory). Call it periodically (say every minute): until a checkpoint,
 * no log file can be removed, and recovery at the next open replays them all.
 * Returns 0 or PARLEY_EIO.
 */
int store_checkpoint(struct store *st);

#endif /* PARLEY_STORE_H */
