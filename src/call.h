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
	struct buf *response;           /* the response envelope goes here */
	const char *soap_out;           /* gSOAP's output string (soap->os) */
	/* where the response goes when not back on the connection; NULL: back */
	const struct envelope_dest *reply_dest;
	/* parley_callback: the conversation's store (its partner record) and what was queued */
	struct store *store;
	int partner_state;              /* 0: not looked up yet, 1: in partner, -1: none */
	struct outbox_partner partner;
	unsigned n_callbacks;
	struct call_callback {
		char key[OUTBOX_MSGID_MAX];     /* its MessageID, the outbox key */
		struct buf rec;                 /* its outbox record */
	} callbacks[PARLEY_CALLBACKS_MAX];
};

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
