/*
 * outbox.h - messages a node sends by itself, later: answers to a request
 * whose wsa:ReplyTo or wsa:FaultTo is an address, and the callbacks
 * handlers send to their conversation's partner (parley_callback).
 *
 * Each is an outbox entry, stored in the "outbox" database of a group's
 * store in the transaction that commits the message it comes from, so it is
 * replicated and survives restarts and failovers with it. The sender, one
 * thread per node, posts the due entries of the groups the node serves,
 * deletes what was delivered and reschedules the rest with a backoff until
 * their time to live runs out. Delivery is at least once: an entry keeps its
 * wsa:MessageID, so its receiver can drop a copy.
 *
 * The stored forms (an entry, a conversation's partner) are explicit,
 * versioned binary records, like meta.h's.
 */
#ifndef PARLEY_OUTBOX_H
#define PARLEY_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "envelope.h"

#define OUTBOX_FORMAT 1             /* the first byte of an entry record */
#define OUTBOX_PARTNER_FORMAT 1     /* the first byte of a partner record */
#define OUTBOX_MSGID_MAX 48         /* "urn:uuid:" and a UUID, with its NUL */

/* One message to send. Strings are NUL-terminated and owned by the entry. */
struct outbox_entry {
	int64_t created_ms;         /* when it was queued (wall clock, ms since the epoch) */
	int64_t next_ms;            /* when it is due next */
	uint32_t attempts;          /* posts that failed so far */
	enum soap_version soap;     /* the envelope's version: its Content-Type */
	char *message_id;           /* its wsa:MessageID, also its key in the outbox */
	char *address;              /* where it is posted: an http:// URL */
	char *action;               /* its wsa:Action (the SOAP action of the post) */
	char *envelope;             /* the whole envelope */
	size_t envelope_len;
};

/*
 * Append e's record to out. Returns 0, PARLEY_EINVAL when a string is
 * missing or too long, or PARLEY_ENOMEM; out may hold part of a record on
 * failure.
 */
int outbox_entry_encode(const struct outbox_entry *e, struct buf *out);

/*
 * Decode the len bytes at data into e (which holds nothing). Returns 0,
 * PARLEY_EIO when they are not a well-formed record of a known format (e then
 * holds nothing), or PARLEY_ENOMEM. The caller owns e's strings afterwards.
 */
int outbox_entry_decode(const void *data, size_t len, struct outbox_entry *e);

/* Release what e owns; e is zeroed and reusable. */
void outbox_entry_clear(struct outbox_entry *e);

/*
 * The partner of a conversation: where its handlers' callbacks go, as its
 * start message named it (its wsa:ReplyTo, else its wsa:From).
 */
struct outbox_partner {
	enum soap_version soap;     /* the start's SOAP version */
	enum wsa_version wsa;       /* and WS-Addressing version */
	char *address;
	char *refparams;            /* the EPR's reference parameters (envelope.h), or NULL */
};

/* As outbox_entry_encode, for a partner. */
int outbox_partner_encode(const struct outbox_partner *p, struct buf *out);

/* As outbox_entry_decode, for a partner. */
int outbox_partner_decode(const void *data, size_t len, struct outbox_partner *p);

/* Release what p owns; p is zeroed and reusable. */
void outbox_partner_clear(struct outbox_partner *p);

/*
 * The partner a start message names: its wsa:ReplyTo when that is an
 * address we can send to, else its wsa:From when that is. Fills p with
 * copies. Returns 0, PARLEY_ENOENT when it names none, or PARLEY_ENOMEM.
 */
int outbox_partner_from(const struct envelope *env, struct outbox_partner *p);

/* What a wsa:ReplyTo or FaultTo address asks for. */
enum outbox_address {
	OUTBOX_ANONYMOUS = 0,       /* the answer goes back on the request's connection */
	OUTBOX_NONE,                /* WS-Addressing 1.0's none: no answer at all */
	OUTBOX_HTTP,                /* an http:// URL the outbox can post to */
	OUTBOX_UNUSABLE             /* anything else */
};

/* Classify address in WS-Addressing version wsa. */
enum outbox_address outbox_address_kind(const char *address, enum wsa_version wsa);

/*
 * Write a new wsa:MessageID into out: "urn:uuid:" and a random (version 4)
 * UUID. Returns 0, or PARLEY_EIO when the system gave no random bytes.
 */
int outbox_message_id(char out[OUTBOX_MSGID_MAX]);

/* ---- the sender ------------------------------------------------------------ */

struct holdings;

struct outbox_config {
	unsigned retry_min_ms;      /* the first retry's delay; it doubles at each failure */
	unsigned retry_max_ms;      /* the longest delay between two attempts */
	uint64_t ttl_ms;            /* an entry not delivered this long after it was queued is dropped */
	unsigned timeout_ms;        /* one post: connecting, sending, and waiting for the status */
	unsigned poll_ms;           /* how often the outboxes are looked at */
};

struct outbox_stats {
	uint64_t delivered;         /* entries posted and answered 2xx */
	uint64_t retried;           /* failed posts rescheduled */
	uint64_t deferred;          /* of them, not posted: their host did not answer just before */
	uint64_t given_up;          /* entries dropped at the end of their time to live */
	unsigned pending;           /* entries in the outboxes at the last look */
};

struct outbox;

/*
 * Start the sender's thread over the groups h serves (h must outlive it).
 * Returns 0, or PARLEY_ENOMEM / PARLEY_EIO with *out NULL.
 */
int outbox_start(struct outbox **out, struct holdings *h, const struct outbox_config *cfg);

/*
 * Stop the sender: a post under way finishes (within its timeout), then the
 * thread is joined and everything freed. Entries not delivered stay stored.
 * NULL is allowed.
 */
void outbox_stop(struct outbox *ob);

/* Fill st with the sender's counters. */
void outbox_get_stats(struct outbox *ob, struct outbox_stats *st);

#endif /* PARLEY_OUTBOX_H */
