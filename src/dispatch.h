/*
 * dispatch.h - one SOAP message, from its bytes to its answer: read the
 * envelope, pick the service and operation, find or make the conversation,
 * hold it (one message at a time), load its bean, run the handler, store
 * the bean with the answer in one transaction, and answer.
 *
 * The container calls dispatch_message on a worker thread with that
 * worker's dispatch_worker. A message whose conversation is busy is parked
 * and finished later by the worker that holds the conversation, once that
 * worker has given its own message's answer.
 */
#ifndef PARLEY_DISPATCH_H
#define PARLEY_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "envelope.h"
#include "gate.h"
#include "idgen.h"

struct registry;
struct holdings;
struct locator;

#define DISPATCH_MAX_HOPS 4             /* nodes a forwarded message may go through */

struct dispatch_config {
	const char *node_id;            /* this node's group; new IDs start with it */
	struct locator *locator;        /* which groups are this node's; NULL: only node_id's */
	unsigned max_headers;
	unsigned max_conversations;
	size_t max_bean_bytes;
	unsigned max_queue;             /* messages waiting behind one conversation */
	const char *callback_allow;     /* addresses answers and callbacks may go to (replies.h's
					   replies_allowed); NULL: any. Copied. */
};

/* One message and its answer. The container owns it. */
struct message {
	struct gate_waiter wait;        /* private: links a parked message */
	/* the request */
	/* These strings must stay valid until the answer is given, parked or not. */
	const char *service;            /* from the path /services/NAME, or NULL (then wsa:To says) */
	const struct service *target;   /* or the service itself, when the path named one */
	const char *body;               /* the SOAP envelope, NUL-terminated after body_len */
	size_t body_len;
	const char *soap_action;        /* SOAPAction, or the action of a SOAP 1.2 Content-Type */
	const char *via;                /* X-Parley-Via: the nodes that forwarded it here, or NULL */
	/* the answer */
	int status;                     /* HTTP status */
	const char *content_type;       /* static; NULL with an empty body (202) */
	struct buf *out;                /* where the answer's bytes go */
	char extra_headers[320];        /* header lines for the answer ("" or lines ending CRLF) */
	char group[IDGEN_GROUP_MAX + 1];  /* PARLEY_DECLINED: the group that owns the conversation */
	/*
	 * Called once, on some worker thread, when a message answered with
	 * PARLEY_AGAIN has its answer: take status and content_type, the bytes
	 * are in m->out. For a parked message m is the dispatcher's copy,
	 * freed when done returns.
	 */
	void (*done)(struct message *m);
	void *owner;                    /* free for the container */
	/* private */
	struct envelope env;
	struct message *heap;
	const char *callback_allow;     /* the addresses the node sends to (replies_allowed) */
	unsigned char reply_kind;       /* where the answer goes (outbox.h's outbox_address) */
	unsigned char fault_kind;       /* and a fault */
};

struct dispatch_stats {
	uint64_t messages;
	uint64_t faults;
	uint64_t replays;               /* answered from the retry table */
	uint64_t parked;                /* waited behind a busy conversation */
	uint64_t started;
	uint64_t finished;
	uint64_t expired;
	uint64_t queued;                /* answers and callbacks put in the outbox */
};

struct dispatch;
struct dispatch_worker;

/*
 * Make the dispatcher over reg and the groups held (neither is owned).
 * Returns 0, PARLEY_ENOMEM, or PARLEY_EINVAL for a bad configuration.
 */
int dispatch_create(struct dispatch **out, const struct dispatch_config *cfg,
    struct registry *reg, struct holdings *held);
void dispatch_destroy(struct dispatch *d);

/* Change the limits that may change while running (SIGHUP). */
void dispatch_set_limits(struct dispatch *d, unsigned max_headers, unsigned max_conversations,
    size_t max_bean_bytes);

/* Per-thread state (a gSOAP context). NULL when memory runs out. */
struct dispatch_worker *dispatch_worker_new(struct dispatch *d);
void dispatch_worker_free(struct dispatch_worker *w);

/*
 * Answer m: returns 0 with m->status, m->content_type and m->out filled, or
 * PARLEY_AGAIN when the answer goes through m->done(m) instead: later, from
 * another thread, when m waits behind its busy conversation; or already,
 * from this thread before returning, when messages waited behind m (its
 * answer is given first, then this thread runs theirs). Either way the
 * caller must not touch m's request or answer after PARLEY_AGAIN. Or
 * PARLEY_DECLINED when the conversation belongs to a group another node
 * owns (m->group): the caller relays m there (relay.c, router.h) and calls
 * dispatch_release(m) when done; m's envelope stays read meanwhile, for
 * dispatch_fault. Never fails otherwise: every problem is answered with a
 * SOAP fault (pc:Moved, naming the owner, for a forwarded message whose
 * group is not this node's: its sender should ask again where it is).
 */
int dispatch_message(struct dispatch *d, struct dispatch_worker *w, struct message *m);

/*
 * Answer a declined message m with fault f, in m's SOAP version and with
 * its WS-Addressing reply headers.
 */
void dispatch_fault(struct dispatch *d, struct message *m, const struct fault *f);

/* Release what a declined message still holds. */
void dispatch_release(struct message *m);

/*
 * Expire the live conversations whose max_age or max_idle has passed and
 * purge ended ones older than tombstone_ms, skipping conversations busy
 * right now. Runs on the caller's thread with worker w. Returns the number
 * of conversations expired.
 */
unsigned dispatch_sweep(struct dispatch *d, struct dispatch_worker *w, int64_t now_ms,
    int64_t tombstone_ms);

void dispatch_get_stats(const struct dispatch *d, struct dispatch_stats *st);

/* The time in ms since the epoch. */
int64_t dispatch_now_ms(void);

#endif /* PARLEY_DISPATCH_H */
