/*
 * call.h - private: the struct behind the handler API's struct parley_call,
 * filled by dispatch.c for one message and read by call.c's API functions.
 */
#ifndef PARLEY_CALL_H
#define PARLEY_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "envelope.h"
#include "outbox.h"
#include "parley.h"
#include "registry.h"

enum bean_soap_state {
	BEAN_SOAP_IDLE = 0,
	BEAN_SOAP_READING,     /* between parley_bean_read_begin and _end */
	BEAN_SOAP_WRITING      /* between parley_bean_write_begin and _end */
};

struct store;

enum call_stage {
	CALL_READING = 0,      /* the glue is reading the request */
	CALL_HANDLING,         /* the handler runs */
	CALL_WRITING           /* the glue is writing the response */
};

struct parley_call {
	const struct service *svc;
	const struct operation *op;
	const struct envelope *env;
	const char *id;                 /* conversation ID, NULL for phase none */
	size_t max_bean_bytes;
	const void *bean_in;            /* the stored bean; owned by the dispatcher */
	size_t bean_in_len;
	uint32_t bean_version;          /* the service version that stored bean_in; 0: none */
	struct buf bean_out;            /* the handler's new bean */
	int bean_set;
	int faulted;
	struct fault fault;
	enum call_stage stage;
	/* The session: its ID, how many of its conversations live, who started it. */
	const char *session_id;
	const char *initiator;
	unsigned session_live;
	/* A start's parley_join, run by the dispatcher (NULL in other phases). */
	int (*join)(void *ctx, struct parley_call *call, const char *other);
	void *join_ctx;
	int joined;
	struct buf *response;           /* the response envelope goes here */
	const char *soap_out;           /* gSOAP's output string (soap->os) */
	/* Expiry: the dispatcher sets them before the handler runs and stores them after. */
	uint32_t max_age_s;             /* in force: stored, or the descriptor's at start */
	uint32_t max_idle_s;
	int64_t created_ms;             /* the conversation's start (ms since the epoch) */
	int64_t now_ms;                 /* this message's time, its last access once stored */
	int finish;                     /* parley_finish: this message ends the conversation */
	/* The bean as a gSOAP type (parley_bean_soap); call_end_soap frees them. */
	struct soap *bean_soap;
	int bean_soap_rc;               /* what the last read or write begin returned */
	enum bean_soap_state bean_soap_state;
	struct buf bean_xml;            /* bean_in copied NUL-terminated at the first read, for
					   bean_soap; whoever changes bean_in frees it first */
	const char *bean_soap_out;      /* bean_soap's output string (its os) */
	/* where the response goes when not back on the connection; NULL: back */
	const struct envelope_dest *reply_dest;
	/* parley_callback: the conversation's store (its partner record) and what was queued */
	struct store *store;
	const char *callback_allow;     /* the node's callback_allow (replies_allowed) */
	int partner_state;              /* 0: not looked up yet, 1: in partner, -1: none */
	struct outbox_partner partner;
	unsigned n_callbacks;
	struct call_callback {
		char key[OUTBOX_MSGID_MAX];     /* its MessageID, the outbox key */
		struct buf rec;                 /* its outbox record */
	} callbacks[PARLEY_CALLBACKS_MAX];
};

/*
 * Free the call's bean context (parley_bean_soap) with everything allocated
 * in it. Call it once the response is written; the call's other fields are
 * left as they are. A call that made none is left unchanged.
 */
void call_end_soap(struct parley_call *call);

/*
 * Release what parley_callback and the partner lookup left in call (not
 * the bean). call must have been zeroed before it was used.
 */
void call_release(struct parley_call *call);

/*
 * The context a builtin service was registered with (registry_add_builtin),
 * for its handlers compiled into parleyd; NULL for a deployed service.
 */
void *call_context(const struct parley_call *call);

#endif /* PARLEY_CALL_H */
