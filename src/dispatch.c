/*
 * dispatch.c - one SOAP message from its bytes to its answer (dispatch.h).
 * The order matters: everything that can be checked without the
 * conversation is checked before it is held; nothing is stored unless the
 * handler answered and the answer was written.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envH.h"

#include "call.h"
#include "dispatch.h"
#include "envelope.h"
#include "gate.h"
#include "idgen.h"
#include "locator.h"
#include "log.h"
#include "parley.h"
#include "registry.h"
#include "holdings.h"
#include "outbox.h"
#include "replies.h"
#include "store.h"

#define START_KEY_PREFIX "start:"

struct dispatch_worker;
static void drain(struct dispatch *d, struct dispatch_worker *w, const char *key_of_caller);

struct dispatch {
	char node_id[IDGEN_GROUP_MAX + 1];
	struct locator *locator;
	struct registry *reg;
	struct holdings *holdings;
	struct gate *gate;
	atomic_uint max_headers;
	atomic_uint max_conversations;
	atomic_size_t max_bean_bytes;
	atomic_uint_fast64_t messages, faults, replays, parked, started, finished, expired;
	atomic_uint_fast64_t queued;
	char *callback_allow;            /* NULL: any address */
};

struct dispatch_worker {
	struct dispatch *d;
	struct soap *soap;
	struct buf in;                  /* the envelope without its Header, for gSOAP */
};

int64_t
dispatch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
dispatch_create(struct dispatch **out, const struct dispatch_config *cfg, struct registry *reg,
    struct holdings *holdings)
{
	struct dispatch *d;

	*out = NULL;
	if (!idgen_group_valid(cfg->node_id))
		return PARLEY_EINVAL;
	d = calloc(1, sizeof *d);
	if (d == NULL)
		return PARLEY_ENOMEM;
	snprintf(d->node_id, sizeof d->node_id, "%s", cfg->node_id);
	d->locator = cfg->locator;
	d->reg = reg;
	d->holdings = holdings;
	if (cfg->callback_allow != NULL &&
	    (d->callback_allow = strdup(cfg->callback_allow)) == NULL) {
		free(d);
		return PARLEY_ENOMEM;
	}
	if (gate_create(&d->gate, cfg->max_queue) != 0) {
		free(d->callback_allow);
		free(d);
		return PARLEY_ENOMEM;
	}
	dispatch_set_limits(d, cfg->max_headers, cfg->max_conversations, cfg->max_bean_bytes);
	*out = d;
	return 0;
}

void
dispatch_destroy(struct dispatch *d)
{
	if (d == NULL)
		return;
	gate_destroy(d->gate);
	free(d->callback_allow);
	free(d);
}

void
dispatch_set_limits(struct dispatch *d, unsigned max_headers, unsigned max_conversations,
    size_t max_bean_bytes)
{
	atomic_store(&d->max_headers, max_headers);
	atomic_store(&d->max_conversations, max_conversations);
	atomic_store(&d->max_bean_bytes, max_bean_bytes);
}

/* gSOAP would fault on headers marked mustUnderstand that its empty header
 * type does not know; envelope_read has already judged every header. A hook
 * also turns off strict mode's refusal of unknown elements, so an element
 * elsewhere (in the Body) is refused here. */
static int
ignore_header(struct soap *soap, const char *tag)
{
	(void)tag;
	return soap->part == SOAP_IN_HEADER ? SOAP_OK : SOAP_TAG_MISMATCH;
}

struct dispatch_worker *
dispatch_worker_new(struct dispatch *d)
{
	struct dispatch_worker *w;

	w = calloc(1, sizeof *w);
	if (w == NULL)
		return NULL;
	w->d = d;
	/* Strict: required elements and well-formed tags are checked; UTF-8 kept as is. */
	w->soap = soap_new1(SOAP_XML_STRICT | SOAP_C_UTFSTRING);
	if (w->soap == NULL) {
		free(w);
		return NULL;
	}
	w->soap->fignore = ignore_header;
	w->soap->maxlevel = 64;
	w->soap->maxoccurs = 100000;
	return w;
}

void
dispatch_worker_free(struct dispatch_worker *w)
{
	if (w == NULL)
		return;
	soap_destroy(w->soap);
	soap_end(w->soap);
	soap_free(w->soap);
	buf_free(&w->in);
	free(w);
}

/* The answer to a message whose answer goes elsewhere: HTTP 202, no body. */
static int
accepted(struct message *m)
{
	buf_reset(m->out);
	m->status = 202;
	m->content_type = NULL;
	return 0;
}

/*
 * Answer m with fault f (in m's SOAP version), naming conversation id when
 * known. A fault for a wsa:FaultTo (or ReplyTo) address goes there through
 * the outbox, and one for a FaultTo of none is dropped (HTTP 202), unless
 * it asks the sender to try again (HTTP 503) or tells a relaying node where
 * to go: those come back on the connection, like every fault when nothing
 * can store it.
 */
static int
answer_fault(struct dispatch *d, struct message *m, const char *id, const struct fault *f)
{
	enum soap_version v = m->env.soap == SOAP_V12 ? SOAP_V12 : SOAP_V11;

	atomic_fetch_add(&d->faults, 1);
	if (m->fault_kind == OUTBOX_NONE && fault_http_status(v, f) != 503 && !replies_routing(f)) {
		log_debug("fault dropped (FaultTo none): %s", f->reason);
		return accepted(m);
	}
	if (m->fault_kind == OUTBOX_HTTP && fault_http_status(v, f) != 503 && !replies_routing(f) &&
	    replies_queue_fault(d->holdings, m, id, f) == 0) {
		atomic_fetch_add(&d->queued, 1);
		return accepted(m);
	}
	buf_reset(m->out);
	if (envelope_write_fault(m->out, v, &m->env, id, f) != 0) {
		buf_reset(m->out);
		m->status = 500;
		m->content_type = "text/plain; charset=utf-8";
		buf_puts(m->out, "out of memory\n");
		return 0;
	}
	m->status = fault_http_status(v, f);
	m->content_type = envelope_content_type(v);
	log_debug("fault %s%s%s: %s", f->subcode != NULL ? f->subcode : "",
	    f->subsubcode != NULL ? "/" : "", f->subsubcode != NULL ? f->subsubcode : "", f->reason);
	return 0;
}

static int
answer_ok(struct message *m, enum soap_version v)
{
	m->status = 200;
	m->content_type = envelope_content_type(v);
	return 0;
}

static int
answer_replay(struct dispatch *d, struct message *m, const struct buf *response, int soap)
{
	atomic_fetch_add(&d->replays, 1);
	/* Its answer was queued with the commit that kept it: not again. */
	if (m->reply_kind == OUTBOX_HTTP)
		return accepted(m);
	buf_reset(m->out);
	if (buf_append(m->out, response->data, response->len) != 0) {
		struct fault f;
		fault_set(&f, FAULT_RECEIVER, NULL, NULL, "out of memory");
		return answer_fault(d, m, NULL, &f);
	}
	return answer_ok(m, soap == SOAP_V12 ? SOAP_V12 : SOAP_V11);
}

/* The answer of m once its commit (with o's records) succeeded. */
static int
answer_committed(struct dispatch *d, struct message *m, const struct replies *o)
{
	if (o->n > 0)
		atomic_fetch_add(&d->queued, o->n);
	if (m->reply_kind == OUTBOX_HTTP)
		return accepted(m);
	return answer_ok(m, m->env.soap);
}

/* The service name in a wsa:To URL's path /services/NAME, copied to name. */
static int
service_from_to(const char *to, char *name, size_t len)
{
	const char *p = strstr(to, "/services/");
	size_t n;

	if (p == NULL)
		return PARLEY_ENOENT;
	p += strlen("/services/");
	n = strcspn(p, "/?#");
	if (n == 0 || n >= len)
		return PARLEY_ENOENT;
	memcpy(name, p, n);
	name[n] = '\0';
	return 0;
}

static int
same_element(const struct operation *op, const struct envelope *env)
{
	return env->body_name != NULL && op->request_name != NULL &&
	    strcmp(op->request_name, env->body_name) == 0 &&
	    strcmp(op->request_ns != NULL ? op->request_ns : "",
		env->body_ns != NULL ? env->body_ns : "") == 0;
}

/* Choose the service (in view v) and operation of m, or fill f. */
static int
route(const struct registry_view *v, struct message *m, const struct service **svcp,
    const struct operation **opp, struct fault *f)
{
	const struct envelope *env = &m->env;
	const struct service *svc = NULL;
	const struct operation *op;
	const char *action;
	char name[128];

	if (m->target != NULL)
		svc = m->target;
	else if (m->service != NULL)
		svc = registry_find(v, m->service);
	else if (env->to != NULL && service_from_to(env->to, name, sizeof name) == 0)
		svc = registry_find(v, name);
	if (svc == NULL) {
		fault_set(f, FAULT_SENDER, NULL, NULL,
		    "no service %s is deployed on this node (GET /parley/status lists them)",
		    m->service != NULL ? m->service : env->to != NULL ? env->to : "named in the request");
		f->http_status = 404;
		return PARLEY_EFAULT;
	}
	if (env->action != NULL && m->soap_action != NULL && m->soap_action[0] != '\0' &&
	    strcmp(env->action, m->soap_action) != 0) {
		fault_set(f, FAULT_SENDER, env->wsa == WSA_2004 ? NS_WSA2004 : NS_WSA10,
		    "ActionMismatch", "wsa:Action %s differs from the SOAP action %s", env->action,
		    m->soap_action);
		f->problem_header_ns = env->wsa == WSA_2004 ? NS_WSA2004 : NS_WSA10;
		f->problem_header = "Action";
		return PARLEY_EFAULT;
	}
	action = env->action != NULL ? env->action
	    : (m->soap_action != NULL && m->soap_action[0] != '\0' ? m->soap_action : NULL);
	op = registry_operation(svc, action, env->body_ns, env->body_name);
	if (op == NULL && action != NULL) {
		fault_set(f, FAULT_SENDER, env->wsa == WSA_2004 ? NS_WSA2004 : NS_WSA10,
		    "ActionNotSupported", "service %s has no operation for the action %s", svc->name,
		    action);
		f->problem_action = action;
		return PARLEY_EFAULT;
	}
	if (op == NULL) {
		fault_set(f, FAULT_SENDER, NULL, NULL,
		    "service %s has no operation that takes {%s}%s", svc->name,
		    env->body_ns != NULL ? env->body_ns : "",
		    env->body_name != NULL ? env->body_name : "(an empty Body)");
		return PARLEY_EFAULT;
	}
	if (!same_element(op, env)) {
		fault_set(f, FAULT_SENDER, NULL, NULL,
		    "the action names operation %s, which takes {%s}%s, but the Body holds {%s}%s",
		    op->name, op->request_ns != NULL ? op->request_ns : "", op->request_name,
		    env->body_ns != NULL ? env->body_ns : "",
		    env->body_name != NULL ? env->body_name : "nothing");
		return PARLEY_EFAULT;
	}
	*svcp = svc;
	*opp = op;
	return 0;
}

/*
 * Run op's glue and handler over m's envelope with call, leaving the answer
 * in m->out. Returns 0, or PARLEY_EFAULT with f filled (the handler's fault,
 * or a request gSOAP could not read).
 */
static int
invoke(struct dispatch_worker *w, struct message *m, const struct service *svc,
    struct parley_call *call, struct fault *f)
{
	struct soap *soap = w->soap;
	int rc;

	buf_reset(m->out);
	call->response = m->out;
	call->stage = CALL_READING;
	soap_set_namespaces(soap, svc->module->namespaces);
	/*
	 * envelope_read has judged every header: gSOAP need not read them
	 * again. It gets the Envelope's start tag and what follows the Header.
	 */
	soap->is = m->body;
	if (m->env.header_to > m->env.header_from) {
		buf_reset(&w->in);
		if (buf_append(&w->in, m->body, m->env.header_from) == 0 &&
		    buf_append(&w->in, m->body + m->env.header_to,
			m->body_len - m->env.header_to) == 0)
			soap->is = w->in.data;
	}
	soap->user = call;
	soap->imode |= SOAP_ENC_PLAIN;
	soap->omode |= SOAP_ENC_PLAIN;
	rc = soap_begin_serve(soap);
	if (rc == 0)
		rc = call->op->module_op->invoke(soap, call);
	if (rc == PARLEY_EFAULT && call->faulted) {
		*f = call->fault;
		goto fail;
	}
	if (rc != 0) {
		const char **s;
		const char *reason = NULL;

		/*
		 * gSOAP reads the envelope as a C string, so it runs out of input
		 * at a NUL byte as at the end. SOAP_EOF is -1, which the test
		 * below would take for a PARLEY_E code, losing what went wrong.
		 */
		if (rc == SOAP_EOF && call->stage == CALL_READING) {
			fault_set(f, FAULT_SENDER, NULL, NULL, "malformed XML: the message ends, or "
			    "holds a NUL byte, before its elements are closed");
			goto fail;
		}
		if (rc < 0)
			soap->error = SOAP_FAULT;
		soap_set_fault(soap);
		s = soap_faultstring(soap);
		reason = s != NULL && *s != NULL ? *s : "the request could not be read";
		if (call->stage == CALL_READING)
			fault_set(f, FAULT_SENDER, NULL, NULL, "%s", reason);
		else
			fault_set(f, FAULT_RECEIVER, NULL, NULL, "the response could not be written: %s",
			    reason);
		goto fail;
	}
	call_end_soap(call);
	soap->is = NULL;
	soap->os = NULL;
	soap->user = NULL;
	soap_destroy(soap);
	soap_end(soap);
	return 0;
fail:
	call_end_soap(call);
	buf_reset(m->out);
	soap->is = NULL;
	soap->os = NULL;
	soap->user = NULL;
	soap_destroy(soap);
	soap_end(soap);
	return PARLEY_EFAULT;
}

static void
call_init(struct parley_call *call, struct dispatch *d, const struct service *svc,
    const struct operation *op, const struct envelope *env, const char *id)
{
	memset(call, 0, sizeof *call);
	call->svc = svc;
	call->op = op;
	call->env = env;
	call->id = id;
	call->max_bean_bytes = atomic_load(&d->max_bean_bytes);
	call->callback_allow = d->callback_allow;
}

static void unavailable(struct dispatch *d, struct fault *f, const char *group);

static int
run_stateless(struct dispatch *d, struct dispatch_worker *w, struct message *m,
    const struct service *svc, const struct operation *op)
{
	struct parley_call call;
	struct replies o;
	struct fault f;
	int rc;

	call_init(&call, d, svc, op, &m->env, NULL);
	if (replies_begin(m, &o, &call) != 0) {
		fault_set(&f, FAULT_RECEIVER, NULL, NULL, "no random bytes for a MessageID");
		rc = answer_fault(d, m, NULL, &f);
		goto out;
	}
	rc = invoke(w, m, svc, &call, &f);
	buf_free(&call.bean_out);
	if (rc != 0) {
		rc = answer_fault(d, m, NULL, &f);
		goto out;
	}
	if (m->reply_kind == OUTBOX_HTTP) {
		/* No commit to go with: the answer is stored in this node's own group alone. */
		rc = replies_collect(m, &o, op, &call);
		if (rc == 0)
			rc = replies_queue(d->holdings, holdings_home(d->holdings), o.recs, o.n);
		if (rc == 0)
			atomic_fetch_add(&d->queued, o.n);
		if (rc == PARLEY_ENOENT) {
			unavailable(d, &f, holdings_home(d->holdings));
			rc = answer_fault(d, m, NULL, &f);
			goto out;
		}
		if (rc != 0) {
			fault_set(&f, FAULT_RECEIVER, NULL, NULL, "the answer could not be queued for "
			    "wsa:ReplyTo: %s", parley_strerror(rc));
			rc = answer_fault(d, m, NULL, &f);
			goto out;
		}
		rc = accepted(m);
		goto out;
	}
	rc = answer_ok(m, m->env.soap);
out:
	replies_free(&o);
	call_release(&call);
	return rc;
}

/* Fill f for a message of group that this node does not serve at the moment. */
static void
unavailable(struct dispatch *d, struct fault *f, const char *group)
{
	fault_set(f, FAULT_RECEIVER, NS_PC, "Unavailable",
	    "node %s does not serve group %s at the moment (its primary is changing); send the "
	    "same message again shortly", d->node_id, group);
	f->http_status = 503;
}

/* Fill f for a change stored here whose copy the group's secondary did not acknowledge. */
static void
not_acked(struct fault *f)
{
	fault_set(f, FAULT_RECEIVER, NS_PC, "NotReplicated",
	    "the change is stored on this node but its secondary copy did not acknowledge it, so "
	    "it is not confirmed; send the same message again (the same wsa:MessageID) to learn "
	    "its outcome");
	f->http_status = 503;
}

/*
 * A start message being run: where its conversation will be stored, and,
 * once it joined another's session, the session it holds in the gate and
 * the bean it found there.
 */
struct start_ctx {
	struct dispatch *d;
	struct message *m;
	const struct service *svc;
	struct store *st;               /* the group the conversation is stored in */
	struct holding *ref;
	char group[IDGEN_GROUP_MAX + 1];
	char id[IDGEN_ID_MAX];          /* the new conversation's */
	char session[IDGEN_SESSION_MAX];
	int session_held;               /* joined: the session is held in the gate */
	struct store_conv other;        /* the conversation joined, as loaded */
	int replayed;                   /* the start was answered before: replay holds it */
	struct buf replay;
	int replay_soap;
};

/*
 * How long a start waits for the session it joins when a message of that
 * session is being handled: a start cannot park (its handler is running),
 * and the session's messages take milliseconds.
 */
#define JOIN_WAIT_TRIES 2000
#define JOIN_WAIT_NS 1000000L

/* Take key in the gate, waiting briefly for its holder. 0, PARLEY_ETIMEDOUT or PARLEY_ENOMEM. */
static int
gate_wait(struct gate *g, const char *key, unsigned tries)
{
	struct timespec ts = { 0, JOIN_WAIT_NS };
	unsigned i;
	int rc;

	for (i = 0; (rc = gate_try_enter(g, key)) == PARLEY_AGAIN; i++) {
		if (i == tries)
			return PARLEY_ETIMEDOUT;
		nanosleep(&ts, NULL);
	}
	return rc;
}

/*
 * Look up the start sc answered before in st, the store of group: 0 with
 * sc->replayed, PARLEY_ENOENT, or PARLEY_EFAULT with f filled.
 */
static int
find_replay(struct start_ctx *sc, struct store *st, const char *group, struct fault *f)
{
	const char *msgid = sc->m->env.message_id;
	char id[IDGEN_ID_MAX];
	int rc;

	if (msgid == NULL)
		return PARLEY_ENOENT;
	rc = store_find_start(st, sc->svc->name, msgid, id, sizeof id, &sc->replay,
	    &sc->replay_soap);
	if (rc == 0) {
		sc->replayed = 1;
		return 0;
	}
	if (rc == PARLEY_ENOENT)
		return rc;
	if (rc == PARLEY_EEXIST)
		fault_set(f, FAULT_SENDER, NULL, NULL,
		    "wsa:MessageID %s already started a conversation of another service; "
		    "a new message needs a new MessageID", msgid);
	else if (rc == PARLEY_ETIMEDOUT)
		unavailable(sc->d, f, group);
	else
		fault_set(f, FAULT_RECEIVER, NULL, NULL, "the store failed: %s",
		    parley_strerror(rc));
	return PARLEY_EFAULT;
}

/*
 * Make the start sc a member of the session of conversation other (the
 * pc:JoinConversation header, or parley_join): take the group that holds
 * it, hold the session, load its bean into call. Returns 0; PARLEY_EEXIST
 * when the start was answered before (sc->replayed); PARLEY_EINVAL,
 * PARLEY_ENOENT, PARLEY_ETIMEDOUT, PARLEY_EIO as parley_join, with the
 * reason in f; on failure sc and call are as they were.
 */
static int
start_join(struct start_ctx *sc, struct parley_call *call, const char *other, struct fault *f)
{
	struct dispatch *d = sc->d;
	char group[IDGEN_GROUP_MAX + 1], session[IDGEN_SESSION_MAX], id[IDGEN_ID_MAX];
	struct store *st = NULL;
	struct holding *ref = NULL;
	struct store_conv conv;
	int rc, held = 0;

	memset(&conv, 0, sizeof conv);
	if (!idgen_valid(other) || idgen_group(other, group, sizeof group) != 0 ||
	    idgen_session(other, session, sizeof session) != 0) {
		fault_set(f, FAULT_SENDER, NS_PC, "UnknownConversation",
		    "'%s' is not a conversation ID, so there is no session to join", other);
		return PARLEY_EINVAL;
	}
	if (holdings_acquire(d->holdings, group, &st, &ref) != 0) {
		fault_set(f, FAULT_SENDER, NS_PC, "UnknownConversation",
		    "conversation %s is of group %s, which node %s does not serve: a start that "
		    "joins it names it in a pc:JoinConversation header, and is then run where it is",
		    other, group, d->node_id);
		return PARLEY_ENOENT;
	}
	rc = gate_wait(d->gate, session, JOIN_WAIT_TRIES);
	if (rc != 0) {
		fault_set(f, FAULT_RECEIVER, NS_PC, "Busy", "the session of conversation %s stayed "
		    "busy for %d ms; try again later", other, JOIN_WAIT_TRIES);
		f->http_status = 503;
		rc = rc == PARLEY_ETIMEDOUT ? rc : PARLEY_EIO;
		goto fail;
	}
	held = 1;
	/* A retried start that joined finds its answer in the group it joined. */
	if (sc->st != st) {
		rc = find_replay(sc, st, group, f);
		if (rc == 0 || rc == PARLEY_EFAULT) {
			rc = rc == 0 ? PARLEY_EEXIST : PARLEY_EIO;
			goto fail;
		}
	}
	rc = store_load(st, other, NULL, &conv);
	if (rc == 0 && (conv.meta.state != CONV_LIVE ||
	    conv_meta_expired(&conv.meta, dispatch_now_ms()) != 0))
		rc = PARLEY_ENOENT;
	if (rc == PARLEY_ENOENT) {
		fault_set(f, FAULT_SENDER, NS_PC, "UnknownConversation",
		    "conversation %s is not live (it never existed, ended or expired): there is no "
		    "session to join", other);
		goto fail;
	}
	if (rc == PARLEY_ETIMEDOUT) {
		unavailable(d, f, group);
		goto fail;
	}
	if (rc != 0) {
		fault_set(f, FAULT_RECEIVER, NULL, NULL, "the store failed: %s", parley_strerror(rc));
		rc = PARLEY_EIO;
		goto fail;
	}
	if (idgen_make_member(other, id) != 0) {
		fault_set(f, FAULT_RECEIVER, NULL, NULL, "no random bytes for a conversation ID");
		rc = PARLEY_EIO;
		goto fail;
	}
	holdings_release(sc->ref);
	sc->st = st;
	sc->ref = ref;
	snprintf(sc->group, sizeof sc->group, "%s", group);
	memcpy(sc->id, id, sizeof sc->id);
	memcpy(sc->session, session, sizeof sc->session);
	sc->session_held = 1;
	store_conv_clear(&sc->other);
	sc->other = conv;
	call->joined = 1;
	call->session_id = sc->session;
	call->initiator = sc->other.initiator;
	call->session_live = sc->other.session_live + 1;
	/* A bean read before the join (a start's: empty) is not the session's. */
	buf_free(&call->bean_xml);
	call->bean_in = sc->other.bean.data;
	call->bean_in_len = sc->other.bean.len;
	call->bean_version = sc->other.meta.bean_version;
	return 0;
fail:
	if (held)
		(void)gate_leave(d->gate, session);
	holdings_release(ref);
	store_conv_clear(&conv);
	return rc;
}

/* parley_join from a start handler: start_join, its fault only logged. */
static int
handler_join(void *ctx, struct parley_call *call, const char *other)
{
	struct start_ctx *sc = ctx;
	struct fault f;
	int rc;

	rc = start_join(sc, call, other, &f);
	if (rc != 0 && rc != PARLEY_EEXIST)
		log_debug("%s %s: parley_join %s: %s", sc->svc->name, call->op->name, other, f.reason);
	return rc;
}

static int
run_start(struct dispatch *d, struct dispatch_worker *w, struct message *m,
    const struct service *svc, const struct operation *op)
{
	struct start_ctx sc;
	struct parley_call call;
	struct conv_meta meta;
	struct store_commit c;
	struct replies o;
	char *start_key = NULL;
	const char *msgid = m->env.message_id;
	struct fault f;
	int rc, held = 0;

	memset(&sc, 0, sizeof sc);
	sc.d = d;
	sc.m = m;
	sc.svc = svc;
	memset(&meta, 0, sizeof meta);
	call_init(&call, d, svc, op, &m->env, NULL);
	memset(&o, 0, sizeof o);
	snprintf(sc.group, sizeof sc.group, "%s", holdings_home(d->holdings));
	if (holdings_acquire(d->holdings, sc.group, &sc.st, &sc.ref) != 0) {
		unavailable(d, &f, sc.group);
		goto fault;
	}
	if (msgid != NULL) {
		/*
		 * Two copies of one start message racing would make two
		 * conversations: hold the message ID while looking it up. This
		 * waits (briefly) rather than parks: start retries are rare.
		 */
		size_t klen = strlen(START_KEY_PREFIX) + strlen(msgid) + 1;
		start_key = malloc(klen);
		if (start_key == NULL) {
			fault_set(&f, FAULT_RECEIVER, NULL, NULL, "out of memory");
			goto fault;
		}
		snprintf(start_key, klen, "%s%s", START_KEY_PREFIX, msgid);
		if (gate_wait(d->gate, start_key, UINT32_MAX) != 0) {
			fault_set(&f, FAULT_RECEIVER, NULL, NULL, "out of memory");
			goto fault;
		}
		held = 1;
		rc = find_replay(&sc, sc.st, sc.group, &f);
		if (rc == PARLEY_EFAULT)
			goto fault;
		if (rc == 0)
			goto replay;
	}
	if (holdings_live_count(d->holdings) >= atomic_load(&d->max_conversations)) {
		fault_set(&f, FAULT_RECEIVER, NS_PC, "Busy",
		    "this node holds %u conversations, its max_conversations; try again later",
		    holdings_live_count(d->holdings));
		f.http_status = 503;
		goto fault;
	}
	if (idgen_make(d->node_id, sc.id) != 0) {
		fault_set(&f, FAULT_RECEIVER, NULL, NULL, "no random bytes for a conversation ID");
		goto fault;
	}
	memcpy(sc.session, sc.id, sizeof sc.session);
	call.id = sc.id;
	call.session_id = sc.session;
	call.initiator = svc->name;
	call.session_live = 1;
	call.max_age_s = svc->max_age_s;
	call.max_idle_s = svc->max_idle_s;
	call.created_ms = call.now_ms = dispatch_now_ms();
	if (m->env.join_id != NULL) {
		rc = start_join(&sc, &call, m->env.join_id, &f);
		if (rc == PARLEY_EEXIST)
			goto replay;
		if (rc != 0)
			goto fault;
	}
	call.join = handler_join;
	call.join_ctx = &sc;
	if (replies_begin(m, &o, &call) != 0) {
		fault_set(&f, FAULT_RECEIVER, NULL, NULL, "no random bytes for a MessageID");
		goto fault;
	}
	/* A start that faults keeps nothing: its answer names no conversation. */
	rc = invoke(w, m, svc, &call, &f);
	/* parley_join found the answer of this start kept: whatever the handler did, replay it. */
	if (sc.replayed)
		goto replay;
	if (rc != 0)
		goto fault;
	if (replies_collect(m, &o, op, &call) != 0) {
		fault_set(&f, FAULT_RECEIVER, NULL, NULL, "out of memory");
		goto fault;
	}
	snprintf(meta.service, sizeof meta.service, "%s", svc->name);
	meta.created_ms = meta.last_access_ms = call.now_ms;
	meta.state = CONV_LIVE;
	/* The descriptor's expiry, or what the handler set (parley_expiry_set). */
	meta.max_age_s = call.max_age_s;
	meta.max_idle_s = call.max_idle_s;
	meta.bean_version = call.bean_set || !sc.session_held ? svc->version
	    : sc.other.meta.bean_version;
	memset(&c, 0, sizeof c);
	c.id = sc.id;
	c.kind = STORE_START;
	c.meta = &meta;
	c.bean = call.bean_out.data;
	c.bean_len = call.bean_out.len;
	c.bean_changed = call.bean_set || !sc.session_held;
	c.msgid = msgid;
	c.response = m->out->data;
	c.response_len = m->out->len;
	c.soap = m->env.soap;
	replies_commit(&o, &c);
	/* The lease may have run out while the handler ran: then nothing is stored. */
	if (!holdings_serves(d->holdings, sc.group)) {
		unavailable(d, &f, sc.group);
		goto fault;
	}
	rc = store_commit(sc.st, &c);
	if (rc == PARLEY_ENOTACKED) {
		not_acked(&f);
		goto fault;
	}
	if (rc == PARLEY_ETIMEDOUT) {
		unavailable(d, &f, sc.group);
		goto fault;
	}
	if (rc == PARLEY_ENOENT && sc.session_held) {
		fault_set(&f, FAULT_SENDER, NS_PC, "UnknownConversation",
		    "the session %s has no live conversation left to share its state with",
		    sc.session);
		goto fault;
	}
	if (rc != 0) {
		fault_set(&f, FAULT_RECEIVER, NULL, NULL,
		    "the conversation could not be stored (%s); nothing was kept", parley_strerror(rc));
		goto fault;
	}
	atomic_fetch_add(&d->started, 1);
	if (d->locator != NULL)
		locator_started(d->locator, sc.id, svc->name, m->env.reply_to, m->env.from,
		    meta.created_ms);
	log_debug("%s %s started %s", svc->name, op->name, sc.id);
	rc = answer_committed(d, m, &o);
	goto out;
replay:
	rc = answer_replay(d, m, &sc.replay, sc.replay_soap);
	goto out;
fault:
	rc = answer_fault(d, m, NULL, &f);
out:
	if (sc.session_held)
		drain(d, w, sc.session);
	if (held)
		(void)gate_leave(d->gate, start_key);
	holdings_release(sc.ref);
	free(start_key);
	conv_meta_clear(&meta);
	store_conv_clear(&sc.other);
	buf_free(&sc.replay);
	buf_free(&call.bean_out);
	replies_free(&o);
	call_release(&call);
	return rc;
}

/*
 * Run a continue or finish message m, whose conversation the caller holds.
 * Always answers m.
 */
static int
run_held(struct dispatch *d, struct dispatch_worker *w, struct message *m,
    const struct service *svc, const struct operation *op)
{
	const char *id = m->env.conversation_id;
	struct store_conv conv;
	struct parley_call call;
	struct store_commit c;
	struct replies o;
	struct fault f;
	struct store *st = NULL;
	struct holding *ref = NULL;
	char group[IDGEN_GROUP_MAX + 1], session[IDGEN_SESSION_MAX];
	int64_t now;
	int rc, why;

	memset(&conv, 0, sizeof conv);
	memset(&call, 0, sizeof call);
	memset(&o, 0, sizeof o);
	if (idgen_session(id, session, sizeof session) != 0 ||
	    idgen_group(id, group, sizeof group) != 0 ||
	    holdings_acquire(d->holdings, group, &st, &ref) != 0) {
		/* prepare() saw it served; it stopped since (a lease ran out, a new primary). */
		unavailable(d, &f, group);
		goto fault;
	}
	rc = store_load(st, id, m->env.message_id, &conv);
	if (rc == PARLEY_ENOENT) {
		fault_set(&f, FAULT_SENDER, NS_PC, "UnknownConversation",
		    "conversation %s is not known here: it never existed, or it ended", id);
		goto fault;
	}
	if (rc == PARLEY_ETIMEDOUT) {
		unavailable(d, &f, group);
		goto fault;
	}
	if (rc != 0) {
		fault_set(&f, FAULT_RECEIVER, NULL, NULL, "the store failed: %s", parley_strerror(rc));
		goto fault;
	}
	if (conv.replay) {
		rc = answer_replay(d, m, &conv.response, conv.replay_soap);
		goto out;
	}
	if (conv.meta.state == CONV_ENDED) {
		fault_set(&f, FAULT_SENDER, NS_PC, "UnknownConversation",
		    "conversation %s has ended", id);
		goto fault;
	}
	if (conv.meta.state == CONV_EXPIRED) {
		fault_set(&f, FAULT_SENDER, NS_PC, "ConversationExpired",
		    "conversation %s has expired", id);
		goto fault;
	}
	now = dispatch_now_ms();
	why = conv_meta_expired(&conv.meta, now);
	if (why != 0) {
		if (store_expire(st, id, now) == 0) {
			atomic_fetch_add(&d->expired, 1);
			if (d->locator != NULL)
				locator_ended(d->locator, id, now);
		}
		fault_set(&f, FAULT_SENDER, NS_PC, "ConversationExpired",
		    "conversation %s has expired: %s", id,
		    why == 1 ? "it is older than its service's max_age"
			     : "it was idle longer than its service's max_idle");
		goto fault;
	}
	if (strcmp(conv.meta.service, svc->name) != 0) {
		fault_set(&f, FAULT_SENDER, NS_PC, "UnknownConversation",
		    "conversation %s belongs to service %s, not %s", id, conv.meta.service, svc->name);
		goto fault;
	}
	call_init(&call, d, svc, op, &m->env, id);
	call.session_id = session;
	call.initiator = conv.initiator;
	call.session_live = conv.session_live;
	call.bean_in = conv.bean.data;
	call.bean_in_len = conv.bean.len;
	call.bean_version = conv.meta.bean_version;
	call.max_age_s = conv.meta.max_age_s;
	call.max_idle_s = conv.meta.max_idle_s;
	call.created_ms = conv.meta.created_ms;
	call.now_ms = now;
	call.store = st;
	if (replies_begin(m, &o, &call) != 0) {
		fault_set(&f, FAULT_RECEIVER, NULL, NULL, "no random bytes for a MessageID");
		goto fault;
	}
	if (invoke(w, m, svc, &call, &f) != 0) {
		buf_free(&call.bean_out);
		goto fault;
	}
	/* Stored with this message, they govern the conversation from now on (parley_expiry_set). */
	conv.meta.max_age_s = call.max_age_s;
	conv.meta.max_idle_s = call.max_idle_s;
	if (replies_collect(m, &o, op, &call) != 0) {
		buf_free(&call.bean_out);
		fault_set(&f, FAULT_RECEIVER, NULL, NULL, "out of memory");
		goto fault;
	}
	/* A bean written now is in the running version's form (a redeploy may have changed it). */
	if (call.bean_set)
		conv.meta.bean_version = svc->version;
	/* The store advances seq; it stays as loaded here. */
	conv.meta.last_access_ms = now;
	memset(&c, 0, sizeof c);
	c.id = id;
	/* A continue operation whose handler called parley_finish ends it as a finish does. */
	c.kind = op->phase == PARLEY_PHASE_FINISH || call.finish ? STORE_FINISH : STORE_UPDATE;
	c.meta = &conv.meta;
	c.bean = call.bean_out.data;
	c.bean_len = call.bean_out.len;
	c.bean_changed = call.bean_set;
	c.msgid = m->env.message_id;
	c.response = m->out->data;
	c.response_len = m->out->len;
	c.soap = m->env.soap;
	replies_commit(&o, &c);
	if (!holdings_serves(d->holdings, group)) {
		buf_free(&call.bean_out);
		unavailable(d, &f, group);
		goto fault;
	}
	rc = store_commit(st, &c);
	buf_free(&call.bean_out);
	if (rc == PARLEY_ENOTACKED) {
		not_acked(&f);
		goto fault;
	}
	if (rc == PARLEY_ETIMEDOUT) {
		unavailable(d, &f, group);
		goto fault;
	}
	if (rc != 0) {
		fault_set(&f, FAULT_RECEIVER, NULL, NULL,
		    "the change could not be stored (%s); the conversation is as it was",
		    parley_strerror(rc));
		goto fault;
	}
	if (c.kind == STORE_FINISH) {
		atomic_fetch_add(&d->finished, 1);
		if (d->locator != NULL)
			locator_ended(d->locator, id, now);
		log_debug("%s %s finished %s", svc->name, op->name, id);
	}
	rc = answer_committed(d, m, &o);
	goto out;
fault:
	rc = answer_fault(d, m, id, &f);
out:
	holdings_release(ref);
	store_conv_clear(&conv);
	replies_free(&o);
	call_release(&call);
	return rc;
}

/* Whether this node serves group now (the locator counts the answer). */
static int
owns(struct dispatch *d, const char *group)
{
	if (d->locator != NULL)
		return locator_owns(d->locator, group);
	return holdings_serves(d->holdings, group);
}

/*
 * A forwarded message names the nodes it went through; one that comes back
 * to a node it passed, or went through too many, is answered, not followed.
 */
static int
check_via(struct dispatch *d, const char *via, struct fault *f)
{
	const char *p = via;
	unsigned hops = 0;
	size_t n, len = strlen(d->node_id);

	while (*p != '\0') {
		p += strspn(p, " ,");
		n = strcspn(p, " ,");
		if (n == 0)
			break;
		hops++;
		if (n == len && strncmp(p, d->node_id, len) == 0) {
			fault_set(f, FAULT_RECEIVER, NS_PC, "ForwardLoop",
			    "this message came back to node %s after going through %s: the nodes "
			    "disagree about where its conversation is; retry it later", d->node_id, via);
			return PARLEY_EFAULT;
		}
		p += n;
	}
	if (hops >= DISPATCH_MAX_HOPS) {
		fault_set(f, FAULT_RECEIVER, NS_PC, "ForwardLoop",
		    "this message was forwarded %u times (through %s); a node forwards at most %d",
		    hops, via, DISPATCH_MAX_HOPS - 1);
		return PARLEY_EFAULT;
	}
	return 0;
}

/* Fill f with a pc:Moved fault for conversation id of group, naming the owner known. */
static void
moved(struct dispatch *d, struct message *m, const char *id, const char *group, struct fault *f)
{
	struct mgr_route r;
	int rc;

	rc = locator_route(d->locator, group, &r);
	if (rc == PARLEY_ENOENT || (rc == 0 && r.node[0] == '\0')) {
		fault_set(f, FAULT_SENDER, NS_PC, "UnknownConversation",
		    "conversation %s belongs to group %s, which this node does not hold and the "
		    "manager does not know", id, group);
		return;
	}
	/* The owner is changing (a promotion under way): worth asking again shortly. */
	if (rc != 0 || strcmp(r.node, d->node_id) == 0 || !r.alive) {
		unavailable(d, f, group);
		return;
	}
	fault_set(f, FAULT_SENDER, NS_PC, "Moved",
	    "conversation %s belongs to group %s, which node %s holds at %s (epoch %llu), not "
	    "this node %s: send it there", id, group, r.node, r.address,
	    (unsigned long long)r.epoch, d->node_id);
	if ((size_t)snprintf(m->extra_headers, sizeof m->extra_headers,
	    "X-Parley-Moved: group=%s; node=%s; address=%.200s; epoch=%llu\r\n", group, r.node,
	    r.address, (unsigned long long)r.epoch) >= sizeof m->extra_headers)
		m->extra_headers[0] = '\0';
}

/*
 * Where the message m about conversation id, of group, is to be served:
 * here (0), by the group's owner (2: m->group says which group), or nowhere
 * (1: f is the fault to answer).
 */
static int
to_group(struct dispatch *d, struct message *m, const char *id, const char *group,
    struct fault *f)
{
	if (owns(d, group))
		return 0;
	if (d->locator == NULL) {
		fault_set(f, FAULT_SENDER, NS_PC, "UnknownConversation",
		    "conversation %s belongs to group %s, which this node does not hold", id, group);
		return 1;
	}
	/*
	 * Its sender believed this node owns the group: say where it is
	 * instead of relaying again, so a stale route is corrected where it is
	 * held, and a message never goes round in circles.
	 */
	if (m->via != NULL && m->via[0] != '\0') {
		moved(d, m, id, group, f);
		return 1;
	}
	snprintf(m->group, sizeof m->group, "%s", group);
	return 2;
}

/*
 * The first steps every message takes: read the envelope and choose the
 * operation. Returns 0 with *svc and *op set, 1 when m is answered, 2 when
 * its conversation's group (m->group) is another node's.
 */
static int
prepare(struct dispatch *d, const struct registry_view *v, struct message *m,
    const struct service **svc, const struct operation **op, int *one_way)
{
	struct envelope_limits lim = { atomic_load(&d->max_headers), 0, 0 };
	struct fault f;
	int rc;

	rc = envelope_read(m->body, m->body_len, &lim, &m->env, &f);
	if (rc == PARLEY_ENOMEM)
		fault_set(&f, FAULT_RECEIVER, NULL, NULL, "out of memory");
	if (rc != 0)
		goto fault;
	if (m->via != NULL && check_via(d, m->via, &f) != 0)
		goto fault;
	if (route(v, m, svc, op, &f) != 0)
		goto fault;
	if (replies_check(m, &f, one_way) != 0)
		goto fault;
	if (m->env.join_id != NULL && (*op)->phase != PARLEY_PHASE_START) {
		fault_set(&f, FAULT_SENDER, NS_PC, "InvalidJoin",
		    "pc:JoinConversation belongs on a start operation, and %s is not one: a "
		    "conversation joins a session when it starts", (*op)->name);
		goto fault;
	}
	if ((*op)->phase == PARLEY_PHASE_START && m->env.join_id != NULL) {
		const char *other = m->env.join_id;
		char group[IDGEN_GROUP_MAX + 1];

		if (!idgen_valid(other) || idgen_group(other, group, sizeof group) != 0) {
			fault_set(&f, FAULT_SENDER, NS_PC, "UnknownConversation",
			    "pc:JoinConversation names '%s', which is not a conversation ID", other);
			goto fault;
		}
		/* A start that joins runs where the session's bean is. */
		rc = to_group(d, m, other, group, &f);
		if (rc == 1)
			goto fault;
		return rc;
	}
	if ((*op)->phase == PARLEY_PHASE_START && !owns(d, holdings_home(d->holdings))) {
		/* This node's group is served elsewhere now (it came back as its secondary). */
		if (d->locator == NULL || (m->via != NULL && m->via[0] != '\0')) {
			unavailable(d, &f, holdings_home(d->holdings));
			goto fault;
		}
		snprintf(m->group, sizeof m->group, "%s", holdings_home(d->holdings));
		return 2;
	}
	if ((*op)->phase == PARLEY_PHASE_CONTINUE || (*op)->phase == PARLEY_PHASE_FINISH) {
		const char *id = m->env.conversation_id;
		char group[IDGEN_GROUP_MAX + 1];

		if (id == NULL) {
			fault_set(&f, FAULT_SENDER, NS_PC, "MissingConversation",
			    "operation %s continues a conversation, but the message carries no "
			    "pc:ConversationID header (send the ID that %s's start operation returned)",
			    (*op)->name, (*svc)->name);
			goto fault;
		}
		if (!idgen_valid(id)) {
			fault_set(&f, FAULT_SENDER, NS_PC, "UnknownConversation",
			    "'%s' is not a conversation ID", id);
			goto fault;
		}
		if (idgen_group(id, group, sizeof group) == 0 &&
		    (rc = to_group(d, m, id, group, &f)) != 0) {
			if (rc == 2)
				return 2;
			/* A pc:Moved names the conversation; a node alone does not. */
			if (d->locator == NULL)
				goto fault;
			answer_fault(d, m, m->env.conversation_id, &f);
			return 1;
		}
	}
	return 0;
fault:
	answer_fault(d, m, NULL, &f);
	return 1;
}

static void
one_way_answer(struct message *m)
{
	/* wsa:ReplyTo none: the work is done, but nobody wants the answer. */
	if (m->status == 200) {
		buf_reset(m->out);
		m->status = 202;
		m->content_type = NULL;
	}
}

/*
 * Answer a parked message that now holds its conversation (gate_leave
 * handed it over), then hand it back to its owner with done().
 */
static void
run_parked(struct dispatch *d, struct dispatch_worker *w, struct gate_waiter *next)
{
	struct message *m = (struct message *)(void *)next;
	struct registry_view *v = registry_acquire(d->reg);
	const struct service *svc;
	const struct operation *op;
	struct fault f;
	int one_way = 0;

	/*
	 * The envelope was read and the route checked before it parked, but the
	 * service may have been redeployed or undeployed since: route it again,
	 * in the services deployed now.
	 */
	(void)replies_check(m, &(struct fault){ 0 }, &one_way);
	if (route(v, m, &svc, &op, &f) != 0) {
		answer_fault(d, m, m->env.conversation_id, &f);
	} else if (op->phase != PARLEY_PHASE_CONTINUE && op->phase != PARLEY_PHASE_FINISH) {
		fault_set(&f, FAULT_RECEIVER, NULL, NULL, "service %s was redeployed while this "
		    "message waited, and its operation %s no longer continues a conversation",
		    svc->name, op->name);
		answer_fault(d, m, m->env.conversation_id, &f);
	} else {
		run_held(d, w, m, svc, op);
	}
	registry_release(v);
	if (one_way)
		one_way_answer(m);
	envelope_clear(&m->env);
	/* done() takes the answer; the parked copy is ours to free. */
	m->done(m);
	free(m->heap);
}

/* Leave session key, which the caller holds, answering whatever parked behind it. */
static void
drain(struct dispatch *d, struct dispatch_worker *w, const char *key_of_caller)
{
	struct gate_waiter *next;
	char key[IDGEN_SESSION_MAX];

	/* The caller's string may go with the messages run here: copy it. */
	snprintf(key, sizeof key, "%s", key_of_caller);
	while ((next = gate_leave(d->gate, key)) != NULL)
		run_parked(d, w, next);
}

/* dispatch_message with the services of view v. */
static int
message(struct dispatch *d, const struct registry_view *v, struct dispatch_worker *w,
    struct message *m)
{
	const struct service *svc = NULL;
	const struct operation *op = NULL;
	struct gate_waiter *next;
	struct message *copy;
	char id[IDGEN_SESSION_MAX];
	int one_way = 0, rc;

	atomic_fetch_add(&d->messages, 1);
	memset(&m->env, 0, sizeof m->env);
	m->heap = NULL;
	m->callback_allow = d->callback_allow;
	m->extra_headers[0] = '\0';
	m->group[0] = '\0';
	m->reply_kind = m->fault_kind = OUTBOX_ANONYMOUS;
	rc = prepare(d, v, m, &svc, &op, &one_way);
	if (rc == 2)
		return PARLEY_DECLINED;
	if (rc != 0)
		goto done;
	switch (op->phase) {
	case PARLEY_PHASE_NONE:
		run_stateless(d, w, m, svc, op);
		break;
	case PARLEY_PHASE_START:
		run_start(d, w, m, svc, op);
		break;
	case PARLEY_PHASE_CONTINUE:
	case PARLEY_PHASE_FINISH:
		/* One message at a time per session: joined conversations share a bean. */
		if (idgen_session(m->env.conversation_id, id, sizeof id) != 0)
			goto nomem;
		rc = gate_try_enter(d->gate, id);
		if (rc == PARLEY_AGAIN) {
			/*
			 * Busy: park a copy on the heap (the caller's m may be on its
			 * stack); the holder answers it and calls done().
			 */
			copy = malloc(sizeof *copy);
			if (copy == NULL)
				goto nomem;
			*copy = *m;
			copy->heap = copy;
			rc = gate_enter(d->gate, id, &copy->wait);
			if (rc == PARLEY_AGAIN) {
				atomic_fetch_add(&d->parked, 1);
				return PARLEY_AGAIN;
			}
			free(copy);
			if (rc == PARLEY_ELIMIT) {
				struct fault f;
				fault_set(&f, FAULT_RECEIVER, NS_PC, "Busy",
				    "conversation %s already has as many messages waiting as max_queue "
				    "allows; try again later", m->env.conversation_id);
				f.http_status = 503;
				answer_fault(d, m, m->env.conversation_id, &f);
				goto done;
			}
		}
		if (rc != 0)
			goto nomem;
		run_held(d, w, m, svc, op);
		next = gate_leave(d->gate, id);
		if (next == NULL)
			break;
		/*
		 * Messages wait behind this one: its answer leaves first. Were it
		 * to wait until they have run, its client would wait for every
		 * message that came after its own, for ever under steady traffic.
		 */
		if (one_way)
			one_way_answer(m);
		envelope_clear(&m->env);
		m->done(m);
		do
			run_parked(d, w, next);
		while ((next = gate_leave(d->gate, id)) != NULL);
		return PARLEY_AGAIN;
	}
	if (one_way)
		one_way_answer(m);
done:
	envelope_clear(&m->env);
	return 0;
nomem:
	{
		struct fault f;
		fault_set(&f, FAULT_RECEIVER, NULL, NULL, "out of memory");
		answer_fault(d, m, NULL, &f);
	}
	goto done;
}

int
dispatch_message(struct dispatch *d, struct dispatch_worker *w, struct message *m)
{
	/*
	 * The view keeps the message's service (and its module) loaded until
	 * the message is answered, whatever is deployed meanwhile.
	 */
	struct registry_view *v = registry_acquire(d->reg);
	int rc;

	rc = message(d, v, w, m);
	registry_release(v);
	return rc;
}

struct sweep {
	struct dispatch *d;
	struct store *st;
	struct dispatch_worker *w;
	int64_t now;
	int64_t tombstone_ms;
	unsigned expired;
};

static int
sweep_one(void *arg, const char *id, const struct conv_meta *meta)
{
	struct sweep *s = arg;
	char session[IDGEN_SESSION_MAX];
	int act;

	if (meta->state == CONV_LIVE)
		act = conv_meta_expired(meta, s->now) != 0;
	else
		act = meta->ended_ms + s->tombstone_ms <= s->now;
	idgen_session_key(id, session);
	if (!act || gate_try_enter(s->d->gate, session) != 0)
		return 0;
	if (meta->state == CONV_LIVE) {
		if (store_expire(s->st, id, s->now) == 0) {
			s->expired++;
			atomic_fetch_add(&s->d->expired, 1);
			if (s->d->locator != NULL)
				locator_ended(s->d->locator, id, s->now);
			log_debug("%s expired %s", meta->service, id);
		}
	} else {
		(void)store_purge(s->st, id);
	}
	drain(s->d, s->w, session);
	return 0;
}

static int
sweep_group(void *arg, const char *group, struct store *st)
{
	struct sweep *s = arg;

	(void)group;
	s->st = st;
	(void)store_scan(st, sweep_one, s);
	return 0;
}

unsigned
dispatch_sweep(struct dispatch *d, struct dispatch_worker *w, int64_t now_ms, int64_t tombstone_ms)
{
	struct sweep s = { d, NULL, w, now_ms, tombstone_ms, 0 };

	(void)holdings_each(d->holdings, sweep_group, &s);
	return s.expired;
}

void
dispatch_fault(struct dispatch *d, struct message *m, const struct fault *f)
{
	answer_fault(d, m, m->env.conversation_id, f);
}

void
dispatch_release(struct message *m)
{
	envelope_clear(&m->env);
}

void
dispatch_get_stats(const struct dispatch *d, struct dispatch_stats *st)
{
	struct dispatch *dd = (struct dispatch *)d;

	st->messages = atomic_load(&dd->messages);
	st->faults = atomic_load(&dd->faults);
	st->replays = atomic_load(&dd->replays);
	st->parked = atomic_load(&dd->parked);
	st->started = atomic_load(&dd->started);
	st->finished = atomic_load(&dd->finished);
	st->expired = atomic_load(&dd->expired);
	st->queued = atomic_load(&dd->queued);
}
