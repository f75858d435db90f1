/*
 * replies.c - where a message's answer goes (wsa:ReplyTo, wsa:FaultTo) and
 * the outbox records it leaves (replies.h). The records are stored by the
 * message's commit, or alone for what commits nothing; outbox.c sends them.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "call.h"
#include "dispatch.h"
#include "holdings.h"
#include "idgen.h"
#include "log.h"
#include "outbox.h"
#include "parley.h"
#include "registry.h"
#include "replies.h"
#include "store.h"

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Whether f tells the node that relayed a message where its conversation
 * is (pc:Moved, pc:ForwardLoop): that node acts on it, so it goes back.
 */
int
replies_routing(const struct fault *f)
{
	return f->subcode_ns != NULL && strcmp(f->subcode_ns, NS_PC) == 0 && f->subcode != NULL &&
	    (strcmp(f->subcode, "Moved") == 0 || strcmp(f->subcode, "ForwardLoop") == 0);
}

int
replies_allowed(const char *allow, const char *address)
{
	const char *p = allow;
	size_t n;

	if (allow == NULL || strcmp(allow, "any") == 0)
		return 1;
	while (*p != '\0') {
		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n == 0)
			break;
		if (n != 4 || strncmp(p, "none", 4) != 0) {
			if (strncmp(address, p, n) == 0)
				return 1;
		}
		p += n;
	}
	return 0;
}

/*
 * Fill f for a wsa:ReplyTo or wsa:FaultTo (header) at an address no message
 * can be sent to (refused: callback_allow does not admit it).
 */
static int
unusable_address(const struct envelope *env, const char *header, const char *address,
    int refused, struct fault *f)
{
	const char *ns = env->wsa == WSA_2004 ? NS_WSA2004 : NS_WSA10;

	if (refused)
		fault_set(f, FAULT_SENDER, ns, env->wsa == WSA_2004 ?
		    "InvalidMessageInformationHeader" : "InvalidAddressingHeader", "wsa:%s is %s, "
		    "which this node does not send to (its callback_allow admits other addresses): "
		    "give one it admits, or the anonymous address for the answer on the request's "
		    "connection", header, address);
	else
		fault_set(f, FAULT_SENDER, ns, env->wsa == WSA_2004 ?
		    "InvalidMessageInformationHeader" : "InvalidAddressingHeader", "wsa:%s is %s, "
		    "which this node cannot send to: give an http:// URL, or the anonymous address "
		    "for the answer on the request's connection", header, address);
	if (env->wsa != WSA_2004)
		f->subsubcode = "InvalidAddress";
	f->problem_header_ns = ns;
	f->problem_header = header;
	return PARLEY_EFAULT;
}

/*
 * Where m's answer and its faults go (m->reply_kind, m->fault_kind): back
 * on the connection (anonymous), nowhere (WS-Addressing 1.0's none: a
 * ReplyTo of none makes *one_way, and its faults still come back unless
 * FaultTo says none too; a FaultTo of none drops them), or to an http://
 * address through the outbox (a fault to FaultTo when it is one, else to
 * ReplyTo).
 * Any other address is a Sender fault, answered on the connection.
 */
int
replies_check(struct message *m, struct fault *f, int *one_way)
{
	const struct envelope *env = &m->env;
	enum outbox_address r = OUTBOX_ANONYMOUS, fk;

	*one_way = 0;
	m->reply_kind = m->fault_kind = OUTBOX_ANONYMOUS;
	if (env->reply_to != NULL &&
	    (r = outbox_address_kind(env->reply_to, env->wsa)) == OUTBOX_UNUSABLE)
		return unusable_address(env, "ReplyTo", env->reply_to, 0, f);
	if (r == OUTBOX_HTTP && !replies_allowed(m->callback_allow, env->reply_to))
		return unusable_address(env, "ReplyTo", env->reply_to, 1, f);
	fk = r == OUTBOX_HTTP ? OUTBOX_HTTP : OUTBOX_ANONYMOUS;
	if (env->fault_to != NULL) {
		fk = outbox_address_kind(env->fault_to, env->wsa);
		if (fk == OUTBOX_UNUSABLE)
			return unusable_address(env, "FaultTo", env->fault_to, 0, f);
		if (fk == OUTBOX_HTTP && !replies_allowed(m->callback_allow, env->fault_to))
			return unusable_address(env, "FaultTo", env->fault_to, 1, f);
	}
	m->reply_kind = (unsigned char)r;
	m->fault_kind = (unsigned char)fk;
	*one_way = r == OUTBOX_NONE;
	return 0;
}

/* The wsa:Action of fault f in WS-Addressing version wsa (as envelope.c writes it). */
static const char *
fault_action(enum wsa_version wsa, const struct fault *f)
{
	if (wsa == WSA_2004)
		return NS_WSA2004 "/fault";
	if (f->subcode_ns != NULL && strcmp(f->subcode_ns, NS_WSA10) == 0)
		return NS_WSA10 "/fault";
	return NS_WSA10 "/soap/fault";
}

/*
 * Put records into the outbox of group (this node's own group when group is
 * NULL or not served here), in a transaction of their own. Returns 0 or a
 * PARLEY_E code (PARLEY_ENOENT: no group to put them in is served here).
 */
int
replies_queue(struct holdings *h, const char *group, const struct store_record *recs, size_t n)
{
	struct store *st = NULL;
	struct holding *ref = NULL;
	int rc;

	if (group == NULL || holdings_acquire(h, group, &st, &ref) != 0) {
		if (holdings_acquire(h, holdings_home(h), &st, &ref) != 0)
			return PARLEY_ENOENT;
	}
	rc = store_outbox_put(st, recs, n);
	holdings_release(ref);
	/* Not acknowledged is stored here all the same; a failover may lose it. */
	if (rc == PARLEY_ENOTACKED)
		rc = 0;
	return rc;
}

/*
 * Queue fault f for m to its wsa:FaultTo address (else its ReplyTo), in
 * the outbox of conversation id's group (or this node's own). Returns 0
 * once stored, else a PARLEY_E code and nothing is queued.
 */
int
replies_queue_fault(struct holdings *h, struct message *m, const char *id, const struct fault *f)
{
	const struct envelope *env = &m->env;
	enum soap_version v = env->soap == SOAP_V12 ? SOAP_V12 : SOAP_V11;
	int to_fault = env->fault_to != NULL &&
	    outbox_address_kind(env->fault_to, env->wsa) == OUTBOX_HTTP;
	char msgid[OUTBOX_MSGID_MAX], group[IDGEN_GROUP_MAX + 1];
	struct envelope_dest dest;
	struct outbox_entry e;
	struct store_record r;
	struct buf out = BUF_INIT, rec = BUF_INIT;
	int rc;

	if ((rc = outbox_message_id(msgid)) != 0)
		return rc;
	dest.to = to_fault ? env->fault_to : env->reply_to;
	dest.message_id = msgid;
	dest.refparams = to_fault ? env->fault_to_params : env->reply_to_params;
	if ((rc = envelope_write_fault_to(&out, v, env, id, f, &dest)) != 0)
		goto done;
	memset(&e, 0, sizeof e);
	e.created_ms = e.next_ms = now_ms();
	e.soap = v;
	e.message_id = msgid;
	e.address = (char *)(uintptr_t)dest.to;
	e.action = (char *)(uintptr_t)fault_action(env->wsa, f);
	e.envelope = out.data;
	e.envelope_len = out.len;
	if ((rc = outbox_entry_encode(&e, &rec)) != 0)
		goto done;
	r.key = msgid;
	r.key_len = strlen(msgid);
	r.data = rec.data;
	r.len = rec.len;
	rc = replies_queue(h, id != NULL && idgen_group(id, group, sizeof group) == 0 ? group : NULL,
	    &r, 1);
	if (rc == 0)
		log_debug("fault for %s queued to %s", env->message_id != NULL ? env->message_id :
		    "a message", dest.to);
done:
	buf_free(&out);
	buf_free(&rec);
	return rc;
}


/*
 * Before the handler runs: when m's answer goes to an address, the answer
 * is written for it (wsa:To, its own MessageID, the reference parameters).
 * Returns 0 or PARLEY_EIO (no random MessageID).
 */
int
replies_begin(struct message *m, struct replies *o, struct parley_call *call)
{
	memset(o, 0, sizeof *o);
	if (m->reply_kind != OUTBOX_HTTP)
		return 0;
	if (outbox_message_id(o->reply_id) != 0)
		return PARLEY_EIO;
	o->dest.to = m->env.reply_to;
	o->dest.message_id = o->reply_id;
	o->dest.refparams = m->env.reply_to_params;
	call->reply_dest = &o->dest;
	return 0;
}

/*
 * After the handler answered in m->out: the outbox records to store with
 * the message (the answer for ReplyTo, the callbacks) and, for a start, its
 * partner record. Returns 0 or PARLEY_ENOMEM.
 */
int
replies_collect(struct message *m, struct replies *o, const struct operation *op,
    const struct parley_call *call)
{
	struct outbox_partner p;
	struct outbox_entry e;
	unsigned i;
	int rc;

	if (m->reply_kind == OUTBOX_HTTP) {
		memset(&e, 0, sizeof e);
		e.created_ms = e.next_ms = now_ms();
		e.soap = m->env.soap == SOAP_V12 ? SOAP_V12 : SOAP_V11;
		e.message_id = o->reply_id;
		e.address = (char *)(uintptr_t)m->env.reply_to;
		e.action = (char *)(uintptr_t)(op->output_action != NULL ? op->output_action : "");
		e.envelope = m->out->data;
		e.envelope_len = m->out->len;
		if ((rc = outbox_entry_encode(&e, &o->reply)) != 0)
			return rc;
		o->recs[o->n].key = o->reply_id;
		o->recs[o->n].key_len = strlen(o->reply_id);
		o->recs[o->n].data = o->reply.data;
		o->recs[o->n].len = o->reply.len;
		o->n++;
	}
	for (i = 0; i < call->n_callbacks; i++) {
		o->recs[o->n].key = call->callbacks[i].key;
		o->recs[o->n].key_len = strlen(call->callbacks[i].key);
		o->recs[o->n].data = call->callbacks[i].rec.data;
		o->recs[o->n].len = call->callbacks[i].rec.len;
		o->n++;
	}
	if (op->phase == PARLEY_PHASE_START) {
		rc = outbox_partner_from(&m->env, &p);
		/* A partner callback_allow does not admit is no partner: nothing is sent to it. */
		if (rc == 0 && !replies_allowed(m->callback_allow, p.address))
			rc = PARLEY_ENOENT;
		if (rc == PARLEY_ENOENT) {
			outbox_partner_clear(&p);
			return 0;
		}
		if (rc == 0)
			rc = outbox_partner_encode(&p, &o->partner);
		outbox_partner_clear(&p);
		return rc;
	}
	return 0;
}

/* Point c at what o holds for the commit. */
void
replies_commit(const struct replies *o, struct store_commit *c)
{
	c->outbox = o->n > 0 ? o->recs : NULL;
	c->n_outbox = o->n;
	if (o->partner.len > 0) {
		c->partner = o->partner.data;
		c->partner_len = o->partner.len;
	}
}

void
replies_free(struct replies *o)
{
	buf_free(&o->reply);
	buf_free(&o->partner);
}
