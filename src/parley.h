/*
 * parley.h - the interface between Parley and the services deployed into it.
 *
 * A service author writes one handler per WSDL operation; the handler gets the
 * conversation it runs in as an opaque struct parley_call, reads and replaces
 * the conversation's bean, and answers with a response or a fault. The glue
 * that Parley generates from the WSDL calls the handlers and is the only code
 * that uses the module ABI at the end of this file.
 */
#ifndef PARLEY_H
#define PARLEY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct soap;
struct Namespace;

/* Error codes: 0 is success, failures are negative. */
#define PARLEY_OK          0
#define PARLEY_ENOMEM     -1   /* out of memory */
#define PARLEY_EINVAL     -2   /* invalid argument or input */
#define PARLEY_EIO        -3   /* I/O or storage failure */
#define PARLEY_ENOENT     -4   /* no such thing */
#define PARLEY_EEXIST     -5   /* already exists */
#define PARLEY_ELIMIT     -6   /* a configured limit was reached */
#define PARLEY_EFAULT     -7   /* the request is answered with a SOAP fault */
#define PARLEY_ESTATE     -8   /* not allowed in this phase or state */
#define PARLEY_ETIMEDOUT  -9   /* timed out */
#define PARLEY_ENOTACKED -10   /* stored here, but its copy was not acknowledged */
#define PARLEY_ESTANDBY  -11   /* a standby manager: ask the active one */
#define PARLEY_DECLINED  -20   /* not mine: forward it */
#define PARLEY_AGAIN     -21   /* not now: it will be completed later, or retry */

/* Return a static English description of a PARLEY_E* code. */
const char *parley_strerror(int code);

/* The phase a descriptor gives an operation. */
enum parley_phase {
	PARLEY_PHASE_NONE = 0,      /* stateless: no conversation */
	PARLEY_PHASE_START,         /* makes a new conversation */
	PARLEY_PHASE_CONTINUE,      /* runs in an existing conversation */
	PARLEY_PHASE_FINISH         /* runs in a conversation, then ends it */
};

/* Who is at fault, as SOAP 1.1 Client/Server and SOAP 1.2 Sender/Receiver. */
enum parley_fault_code {
	PARLEY_FAULT_SENDER = 0,
	PARLEY_FAULT_RECEIVER
};

/* One message being handled: the conversation it belongs to and its bean. */
struct parley_call;

/*
 * Return the conversation ID of this message as text, or NULL for an
 * operation of phase "none". For a "start" operation the ID is the new
 * conversation's. The string belongs to the call and lives as long as it.
 */
const char *parley_call_id(const struct parley_call *call);

/* Return the phase of the operation being handled. */
enum parley_phase parley_call_phase(const struct parley_call *call);

/* Return the name of the service being called (its descriptor's name). */
const char *parley_call_service(const struct parley_call *call);

/* Return the name of the operation being called. */
const char *parley_call_operation(const struct parley_call *call);

/*
 * Return the wsa:MessageID of the request, or NULL when it had none. The
 * string belongs to the call.
 */
const char *parley_call_message_id(const struct parley_call *call);

/*
 * Point *data and *len at the conversation's bean as it was before this
 * message (a new conversation's bean is empty: *data NULL, *len 0). The bytes
 * belong to the call and stay valid until the handler returns; they are not
 * changed by parley_bean_set. Returns 0, or PARLEY_ESTATE for phase "none".
 */
int parley_bean_get(const struct parley_call *call, const void **data, size_t *len);

/*
 * Replace the conversation's bean with a copy of len bytes at data. The new
 * bean is stored, in the same transaction as the response, only when the
 * handler returns 0; a fault leaves the stored bean as it was. Returns 0,
 * PARLEY_ESTATE for phase "none", PARLEY_ELIMIT when len is over the node's
 * max_bean_bytes, or PARLEY_ENOMEM; on failure the pending bean is unchanged.
 */
int parley_bean_set(struct parley_call *call, const void *data, size_t len);

/*
 * Return the version of the service that stored the conversation's bean
 * (the "version" of its descriptor when it was deployed), or 0 when there
 * is no stored bean (a start, phase "none").
 *
 * A service redeployed with a new version keeps its live conversations:
 * their beans stay as the old version wrote them, and the new handlers get
 * them. A handler that changes the bean's form should compare this with
 * parley_call_version(): when the bean is older, read it in the old form
 * (keep that reader as long as old conversations may live: max_age), and
 * store it in the new form with parley_bean_set, which records the running
 * version as the bean's. A bean the handler does not set keeps its version.
 */
uint32_t parley_bean_version(const struct parley_call *call);

/* Return the version of the running service (its descriptor's "version"). */
uint32_t parley_call_version(const struct parley_call *call);

/* ---- the bean as one of the module's gSOAP types ---------------------------
 *
 * A handler may keep its bean as a type of its WSDL's schema, stored as XML
 * that the module's own gSOAP serializers write and read: declare the bean's
 * element or type in the schema (an element no operation uses will do), then
 *
 *	_nb__Notebook book;
 *	rc = PARLEY_BEAN_READ(call, _nb__Notebook, &book);
 *	...
 *	rc = PARLEY_BEAN_WRITE(call, _nb__Notebook, &book);
 *
 * where _nb__Notebook is the gSOAP name of the type, the one in soapcpp2's
 * soap_default_, soap_get_ and soap_put_ functions (NAMEH.h). Parley reads
 * and writes the bean with a gSOAP context of the call's own, never the
 * handler's soap, which is between the request it read and the response it
 * will write. What a read allocates belongs to that context and lives until
 * the call ends, after the response is written, so the response may point
 * into it. The bean is written as a tree: data reached twice is written
 * twice, and must hold no cycle. The macros evaluate call and ptr more than
 * once.
 */

/*
 * Return the call's gSOAP context for its bean, made at the first use with
 * the module's namespaces (UTF-8 strings, strict reading, no multi-reference
 * ids), or NULL for phase "none" or when out of memory. It belongs to the
 * call and is freed, with everything allocated in it, when the call ends.
 */
struct soap *parley_bean_soap(struct parley_call *call);

/*
 * Start reading the bean as it was before this message with the bean
 * context, for a soap_get_TYPE. Returns 0; PARLEY_ENOENT when the bean is
 * empty (a start, or a bean never set); PARLEY_ESTATE for phase "none";
 * PARLEY_EINVAL when the bean is not XML; PARLEY_ENOMEM. The result is kept
 * for parley_bean_read_end. PARLEY_BEAN_READ calls both.
 */
int parley_bean_read_begin(struct parley_call *call);

/*
 * Finish a read begun by parley_bean_read_begin, given whether the
 * soap_get_TYPE between them succeeded (ignored when the begin failed).
 * Returns 0 when the bean was read; the begin's failure; PARLEY_EINVAL when
 * the bean is not that type's XML (an older form, or damage:
 * parley_bean_soap(call)->error says more); PARLEY_ENOMEM; PARLEY_ESTATE
 * when no read was begun.
 */
int parley_bean_read_end(struct parley_call *call, int got);

/*
 * Start writing a new bean with the bean context, for a soap_put_TYPE.
 * Returns 0, PARLEY_ESTATE for phase "none" or PARLEY_ENOMEM; the result is
 * kept for parley_bean_write_end. PARLEY_BEAN_WRITE calls both.
 */
int parley_bean_write_begin(struct parley_call *call);

/*
 * Finish a write begun by parley_bean_write_begin, given whether the
 * soap_put_TYPE between them succeeded: the XML written becomes the bean as
 * parley_bean_set makes it (stored when the handler returns 0). Returns 0;
 * the begin's failure; PARLEY_EINVAL when gSOAP could not write the value;
 * PARLEY_ELIMIT or PARLEY_ENOMEM as parley_bean_set; PARLEY_ESTATE when no
 * write was begun. On failure the pending bean is unchanged.
 */
int parley_bean_write_end(struct parley_call *call, int put);

/* Read the bean into *ptr, of gSOAP type TYPE. Returns as parley_bean_read_end. */
#define PARLEY_BEAN_READ(call, TYPE, ptr) \
	parley_bean_read_end((call), parley_bean_read_begin(call) == 0 && \
	    (soap_default_##TYPE(parley_bean_soap(call), (ptr)), \
		soap_get_##TYPE(parley_bean_soap(call), (ptr), NULL, NULL) != NULL))

/* Make *ptr, of gSOAP type TYPE, the bean. Returns as parley_bean_write_end. */
#define PARLEY_BEAN_WRITE(call, TYPE, ptr) \
	parley_bean_write_end((call), parley_bean_write_begin(call) == 0 && \
	    soap_put_##TYPE(parley_bean_soap(call), (ptr), NULL, "") == 0)

/* ---- expiry and ending ------------------------------------------------------ */

/*
 * Give the conversation's expiry as it stands for this message: at most
 * *max_age_s seconds from its start and *max_idle_s between two messages
 * (0: no limit). A start gets its descriptor's max_age and max_idle; later
 * messages what the conversation stored; both after parley_expiry_set, the
 * values it set. Returns 0, or PARLEY_ESTATE for phase "none" (then both 0).
 */
int parley_expiry_get(const struct parley_call *call, uint32_t *max_age_s,
    uint32_t *max_idle_s);

/*
 * Change the conversation's expiry: from this message's commit on, it
 * expires max_age_s seconds after its start and max_idle_s seconds after its
 * last message (0: never), in place of its descriptor's values. Stored only
 * when the handler returns 0, with its response; a fault keeps the values as
 * they were. The conversation's age counts from its start whatever the
 * message that sets it. Returns 0, or PARLEY_ESTATE for phase "none".
 */
int parley_expiry_set(struct parley_call *call, uint32_t max_age_s, uint32_t max_idle_s);

/*
 * Return when the conversation expires as things stand (ms since the epoch,
 * the sooner of its max_age and max_idle, counting this message as its last
 * and the values parley_expiry_set gave), or 0 when it never expires, for
 * phase "none", or when it ends with this message.
 */
int64_t parley_expires_at_ms(const struct parley_call *call);

/*
 * End the conversation with this message, as a "finish" operation does: when
 * the handler returns 0, its response is stored, it leaves its session (the
 * bean goes with the session's last live conversation; a bean set here is
 * kept for the others) and its ID answers pc:UnknownConversation from then
 * on. A fault leaves it live. Returns 0 in a "continue" or "finish" operation
 * (where it changes nothing); PARLEY_ESTATE for phase "none", and for
 * "start": a conversation that would end as it begins is not started.
 */
int parley_finish(struct parley_call *call);

/* ---- callbacks: messages to the conversation's partner ---------------------- */

/* The most callbacks one message may queue. */
#define PARLEY_CALLBACKS_MAX 16

/*
 * Queue a message to the partner of this call's conversation: the address
 * of the wsa:ReplyTo of the conversation's start message when it was one
 * (not anonymous, not none), else the address of its wsa:From, with that
 * endpoint reference's reference parameters echoed as headers. The message
 * carries wsa:To, wsa:Action action, a new wsa:MessageID and the
 * conversation's pc:ConversationID, in the start's SOAP and WS-Addressing
 * versions, and body_xml as the content of its Body (one element or
 * several; the string is copied). It is stored with this message's
 * changes, in the same transaction, and sent after the commit, retried
 * until its partner takes it (HTTP 2xx) or the node's callback_ttl runs
 * out; a handler that answers with a fault sends nothing. Delivery is at
 * least once: a receiver drops a copy by its MessageID.
 * Returns 0; PARLEY_ESTATE for phase "none"; PARLEY_EINVAL when action is
 * NULL or empty or body_xml is not well-formed XML content (with its
 * namespace prefixes declared); PARLEY_ENOENT when the conversation has no
 * partner address; PARLEY_ELIMIT after PARLEY_CALLBACKS_MAX callbacks in
 * one message; PARLEY_EIO or PARLEY_ENOMEM. On failure nothing is queued.
 */
int parley_callback(struct parley_call *call, const char *action, const char *body_xml);

/* ---- sessions: conversations that share one bean ---------------------------
 *
 * Every conversation belongs to a session: the conversations that share its
 * bean. A conversation starts a session of its own, unless its start joins
 * the session of a live conversation, either by the request's
 * pc:JoinConversation header (naming that conversation's ID) or by the
 * handler calling parley_join. From then on the conversations of the session
 * (of one service or of several) reach the same bean, one message at a time
 * across all of them; the bean is replicated and failed over as one. When a
 * conversation finishes or expires, the bean stays with the others; it goes
 * with the last.
 */

/*
 * In a start handler: make the new conversation a member of the session of
 * conversation other, instead of the session of its own it would start.
 * Call it before parley_bean_get and parley_bean_set: afterwards the bean
 * they read and replace is the session's, and parley_call_id returns the new
 * conversation's ID, which changes (a joined conversation's ID names its
 * session). Returns 0; PARLEY_ESTATE outside a start handler, or when the
 * call joined already (the request's header counts); PARLEY_EINVAL when
 * other is not a conversation ID; PARLEY_ENOENT when other is unknown, no
 * longer live, or of a group this node does not serve (a start that must
 * join a conversation held elsewhere names it in pc:JoinConversation, and
 * is then run where the bean is); PARLEY_ETIMEDOUT when the session stayed
 * busy too long; PARLEY_EIO. On failure nothing changes.
 */
int parley_join(struct parley_call *call, const char *other);

/*
 * Return the ID of this conversation's session: the ID of the conversation
 * that started it (the call's own ID for a conversation that joined none),
 * or NULL for phase "none". The string belongs to the call.
 */
const char *parley_session_id(const struct parley_call *call);

/*
 * Return the name of the service whose conversation started this
 * conversation's session (the call's own service when it joined none), or
 * NULL for phase "none". The string belongs to the call.
 */
const char *parley_session_initiator(const struct parley_call *call);

/*
 * Return how many conversations of the session are live, this one included
 * (1 when it joined none, 0 for phase "none"): a finish or expiry through
 * another service of the session shows here.
 */
unsigned parley_session_live(const struct parley_call *call);

/*
 * Record a fault as the answer to this message and return PARLEY_EFAULT, for
 * the handler to return: `return parley_fault(call, PARLEY_FAULT_SENDER,
 * "qty must be positive, got %d", qty);`. The reason is formatted like printf
 * and cut at 511 bytes. Nothing the handler did to the bean is stored.
 */
int parley_fault(struct parley_call *call, enum parley_fault_code code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Log levels for parley_log. */
enum parley_log_level {
	PARLEY_LOG_WARN = 0,
	PARLEY_LOG_INFO,
	PARLEY_LOG_DEBUG
};

/*
 * Write a line to the node's log, prefixed with the service, operation and
 * conversation of the call (call may be NULL). Nothing is formatted when the
 * node's log level is below level.
 */
void parley_log(const struct parley_call *call, enum parley_log_level level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------------
 * Module ABI: used by the glue that parley-gen writes, not by handlers.
 * ------------------------------------------------------------------------ */

#define PARLEY_MODULE_ABI 1
#define PARLEY_MODULE_SYMBOL "parley_module"

/*
 * Run one operation: read the request element from soap (positioned inside
 * SOAP-ENV:Body), call the handler, write the response with
 * parley_call_response_begin/end. Returns 0, a gSOAP error code (> 0) when the
 * request could not be read or the response written, or PARLEY_EFAULT when the
 * handler answered with a fault.
 */
typedef int (*parley_invoke_fn)(struct soap *soap, struct parley_call *call);

struct parley_operation {
	const char *name;           /* the WSDL operation name */
	const char *request_tag;    /* qualified tag of the request element, e.g. "cart:AddItem" */
	parley_invoke_fn invoke;
};

struct parley_module {
	unsigned abi;                           /* PARLEY_MODULE_ABI */
	const char *name;                       /* the name parley-gen was given */
	struct Namespace *namespaces;           /* the module's gSOAP namespace table */
	const struct parley_operation *operations;
	unsigned n_operations;
};

/*
 * Finish reading the request after its body element: the end of Body and
 * Envelope. Returns 0 or a gSOAP error code.
 */
int parley_call_request_end(struct parley_call *call, struct soap *soap);

/*
 * Start the response: the envelope, the reply headers (wsa:Action,
 * wsa:RelatesTo, the conversation ID) and the Body start tag, written to the
 * call's response buffer. Returns 0 or a gSOAP error code.
 */
int parley_call_response_begin(struct parley_call *call, struct soap *soap);

/* End the response started by parley_call_response_begin. */
int parley_call_response_end(struct parley_call *call, struct soap *soap);

#define PARLEY_EXPORT __attribute__((visibility("default")))

#ifdef __cplusplus
}
#endif

#endif /* PARLEY_H */
