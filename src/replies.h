/*
 * replies.h - private: where a message's answer goes when WS-Addressing
 * names an address for it, and what the message puts in the outbox
 * (outbox.h): its answer to a wsa:ReplyTo address, a fault to wsa:FaultTo,
 * the callbacks its handler queued, a start's partner. dispatch.c calls it
 * at fixed steps of a message.
 */
#ifndef PARLEY_REPLIES_H
#define PARLEY_REPLIES_H

#include <stddef.h>

#include "buf.h"
#include "envelope.h"
#include "outbox.h"
#include "parley.h"
#include "store.h"

struct message;
struct holdings;
struct operation;
struct parley_call;

/*
 * Read m's wsa:ReplyTo and wsa:FaultTo into m->reply_kind and m->fault_kind
 * (enum outbox_address): the answer goes back on the connection
 * (anonymous), nowhere (WS-Addressing 1.0's none: *one_way is 1; its faults
 * still come back, as they always have), or to an http:// address through
 * the outbox; a fault goes to FaultTo when that is an address, else where
 * the answer goes. Returns 0, or PARLEY_EFAULT with f filled
 * (wsa:InvalidAddressingHeader / InvalidAddress, or the submission's
 * InvalidMessageInformationHeader) for an address nothing can be sent to;
 * both kinds are then anonymous.
 */
int replies_check(struct message *m, struct fault *f, int *one_way);

/*
 * Whether the node may send to address under allow (the callback_allow
 * key): "any" (or NULL) admits every address, "none" none, else the
 * addresses that begin with one of its words (separated by blanks or
 * commas), e.g. "http://partners.example.com/ http://10.0.0.7:9000/".
 */
int replies_allowed(const char *allow, const char *address);

/*
 * Whether f tells a node that relayed a message where its conversation is
 * (pc:Moved, pc:ForwardLoop): that node acts on it, so it always goes back
 * on the connection.
 */
int replies_routing(const struct fault *f);

/*
 * Put n outbox records into the store of group (the node's own group when
 * group is NULL or not served here) in a transaction of their own. Returns
 * 0 (also when the copy did not acknowledge: it is stored here), PARLEY_ENOENT
 * when no group to put them in is served here, or the store's failure.
 */
int replies_queue(struct holdings *h, const char *group, const struct store_record *recs,
    size_t n);

/*
 * Queue fault f of m (about conversation id, or NULL) for m's wsa:FaultTo
 * address, else its ReplyTo: the fault envelope with wsa:To, a MessageID of
 * its own, RelatesTo and the EPR's reference parameters, in the outbox of
 * id's group (or the node's own). Returns 0 once stored, else a PARLEY_E
 * code and nothing is queued.
 */
int replies_queue_fault(struct holdings *h, struct message *m, const char *id,
    const struct fault *f);

/* What one message sends through the outbox. */
struct replies {
	char reply_id[OUTBOX_MSGID_MAX];
	struct envelope_dest dest;
	struct buf reply;                     /* the answer's outbox record */
	struct store_record recs[1 + PARLEY_CALLBACKS_MAX];
	size_t n;                             /* records in recs */
	struct buf partner;                   /* a start's partner record; empty: none */
};

/*
 * Before the handler runs (o is initialised here): when m's answer goes to
 * an address, point call->reply_dest at it, so the answer is written with
 * wsa:To, its own MessageID and the reference parameters. Returns 0 or
 * PARLEY_EIO (no random bytes for a MessageID); o is to be freed either way.
 */
int replies_begin(struct message *m, struct replies *o, struct parley_call *call);

/*
 * After op's handler answered in m->out: the outbox records to store with
 * the message (the answer for a ReplyTo address, then call's callbacks; they
 * point into o and call) and, for a start, its partner record. Returns 0 or
 * PARLEY_ENOMEM.
 */
int replies_collect(struct message *m, struct replies *o, const struct operation *op,
    const struct parley_call *call);

/* Point c's outbox and partner at what o holds (o must outlive the commit). */
void replies_commit(const struct replies *o, struct store_commit *c);

/* Release what o holds. */
void replies_free(struct replies *o);

#endif /* PARLEY_REPLIES_H */
