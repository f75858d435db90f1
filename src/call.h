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
#include "parley.h"
#include "registry.h"

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
};

/*
 * The context a builtin service was registered with (registry_add_builtin),
 * for its handlers compiled into parleyd; NULL for a deployed service.
 */
void *call_context(const struct parley_call *call);

#endif /* PARLEY_CALL_H */
