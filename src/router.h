/*
 * router.h - relays a request to the node that owns its conversation and
 * brings the answer back unchanged. Connections to each owner are kept
 * alive in a pool and reused; the answer's status, Content-Type and body
 * pass through as the owner sent them.
 */
#ifndef PARLEY_ROUTER_H
#define PARLEY_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define ROUTER_VIA_HEADER "X-Parley-Via"       /* the nodes a request went through */
#define ROUTER_MOVED_HEADER "X-Parley-Moved"   /* on a pc:Moved answer: where the group is */

/* Zero fields take the defaults. */
struct router_config {
	unsigned connect_timeout_ms;    /* default 1000 */
	unsigned timeout_ms;            /* sending the request and reading the answer; default 30000 */
	unsigned max_idle;              /* idle connections kept per address; default 16 */
	size_t max_answer;              /* largest answer body relayed; default 16 MiB */
};

/* One relayed exchange. */
struct forward {
	/* the request */
	const char *address;            /* the owner's base URL: http://HOST:PORT */
	const char *path;               /* e.g. /services/cart; decoded, as http_parse gives it */
	const char *content_type;       /* sent as it came; NULL: text/xml; charset=utf-8 */
	const char *soap_action;        /* SOAPAction as it came (unquoted), or NULL */
	const char *via;                /* the X-Parley-Via value to send, or NULL */
	const char *body;
	size_t body_len;
	/* the answer */
	int status;
	char content_type_out[256];     /* "" when the answer had none */
	char moved[256];                /* its X-Parley-Moved header, "" when none */
	struct buf *out;                /* its body (the caller owns the buf) */
};

struct router_stats {
	uint64_t forwarded;             /* exchanges that got an answer */
	uint64_t connects;              /* new connections */
	uint64_t reused;                /* exchanges on a pooled connection */
	uint64_t failed;                /* exchanges that got none */
	unsigned idle;                  /* pooled connections now */
};

struct router;

/*
 * Make a router (no thread, no connection yet); cfg is copied, NULL takes
 * every default. Returns 0 or PARLEY_ENOMEM.
 */
int router_create(struct router **out, const struct router_config *cfg);

/* Close every pooled connection and free the router. NULL is allowed. */
void router_destroy(struct router *r);

/*
 * Send f's request to f->address and read the answer into f: status,
 * content type, X-Parley-Moved, body (f->out is reset first). A pooled
 * connection is checked before use; one the owner closed meanwhile (EOF or
 * reset before any byte of the answer) is retried once on a new
 * connection. Returns 0 with an answer of any HTTP status; PARLEY_EIO when
 * the owner cannot be reached (refused, reset, unreachable, name not
 * resolved) or its answer is not HTTP; PARLEY_ETIMEDOUT when connecting
 * took over connect_timeout_ms or the exchange over timeout_ms;
 * PARLEY_ELIMIT when the answer body is larger than max_answer or its head
 * larger than 16 KiB; PARLEY_EINVAL for a bad address, a path not starting
 * with '/' or a header value with a control character; PARLEY_ENOMEM. On
 * failure f's answer fields mean nothing (f->out may hold part of a body).
 * The path is sent percent-encoded where a URL needs it; f's strings are
 * only read during the call. Thread-safe: any number of threads forward at
 * once.
 */
int router_forward(struct router *r, struct forward *f);

/*
 * Drop the pooled connections to address (the owner moved or died), spelled
 * as it was given to router_forward. A bad address is ignored.
 */
void router_forget(struct router *r, const char *address);

/* Fill st with the counters since router_create and the idle connections now. */
void router_get_stats(struct router *r, struct router_stats *st);

#endif /* PARLEY_ROUTER_H */
