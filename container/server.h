/*
 * server.h - the node's HTTP server: one listening socket, a pool of worker
 * threads that wait on one epoll set, and a table of connection slots.
 *
 * A worker is handed a connection only when bytes are ready; it reads what is
 * there and goes back to waiting if the request is not whole, so idle
 * keep-alive connections and slow senders never hold a worker. A whole
 * request becomes an exchange, which the handler answers at once or parks
 * (PARLEY_AGAIN) to finish later from any thread with server_finish.
 */
#ifndef PARLEY_SERVER_H
#define PARLEY_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http.h"

/* Zero fields take the defaults below. */
struct server_config {
	const char *listen;            /* "HOST:PORT"; PORT 0 picks a free port */
	unsigned workers;              /* worker threads; default 8 */
	unsigned max_connections;      /* open connections; default 1024 */
	unsigned recv_timeout_ms;      /* a started request must be whole within this; default 10000 */
	unsigned send_timeout_ms;      /* a response must be taken within this; default 10000 */
	unsigned keepalive_timeout_ms; /* idle connections are closed after this; default 60000 */
	struct http_limits limits;
	/*
	 * Paths (prefixes, NULL-terminated list) of the cluster's control
	 * traffic: a kept-alive connection that carried one is served from
	 * then on by control_workers threads of its own (default 1), so that
	 * heartbeats are answered while every worker is busy. NULL: none.
	 * The list must outlive the server (a static array).
	 */
	const char *const *control_paths;
	unsigned control_workers;
};

/* One request and its response. The server owns it; the handler fills the response. */
struct exchange {
	struct http_request req;
	int status;                    /* response status; 200 unless set */
	const char *content_type;      /* static string (or ctype), or NULL for no body */
	const char *extra_headers;     /* lines ending in CRLF (static, or in extra), or NULL */
	char ctype[256];               /* room for a content type that is not static */
	char extra[320];               /* room for header lines that are not static */
	struct buf body;               /* response body */
	int close;                     /* set to 1 to close the connection after the response */
	void *parked;                  /* free for the handler while the exchange is parked */
	char peer[64];                 /* the client's address, "IP:PORT" ("[IP]:PORT" for IPv6) */
};

/*
 * The request handler, called on a worker thread with that worker's state
 * (from worker_init). It fills x's response and returns 0 for the server to
 * send it, or returns PARLEY_AGAIN after parking x, which someone then
 * finishes with server_finish; once x is handed over the handler must not
 * touch it again. Any other return sends a 500. HEAD requests come to the
 * handler like GET; the server sends the head, with the Content-Length of the
 * body the handler made, and no body (nor for 204 and 304).
 */
typedef int (*server_handler)(void *arg, void *worker, struct exchange *x);

struct server_hooks {
	server_handler handle;
	void *(*worker_init)(void *arg);          /* per worker thread, may be NULL; NULL return is fatal */
	void (*worker_fini)(void *arg, void *worker);
	void *arg;
};

struct server;

/*
 * Bind and listen on cfg->listen and start the worker threads; cfg and hooks
 * are copied (cfg->listen need not outlive the call). cfg->listen is
 * "IPv4:PORT", "[IPv6]:PORT", "localhost:PORT" or "*:PORT". On failure
 * returns PARLEY_EIO (err says why: address in use, permission, a
 * worker_init that returned NULL...), PARLEY_EINVAL for a bad address or
 * PARLEY_ENOMEM, with *out NULL; workers whose worker_init succeeded have
 * had worker_fini by then. Worker threads block asynchronous signals.
 */
int server_start(struct server **out, const struct server_config *cfg,
    const struct server_hooks *hooks, char *err, size_t errlen);

/* The address actually bound, "HOST:PORT" (with the real port when 0 was asked). */
const char *server_address(const struct server *s);

/*
 * Send x's response and give its connection back (to wait for the next
 * request, or to be closed). Called once for each parked exchange, from any
 * thread; x must not be used afterwards. The send happens on the calling
 * thread and may wait up to send_timeout for a slow client.
 */
void server_finish(struct exchange *x);

/*
 * Close connections whose deadline passed (a request not whole within
 * recv_timeout gets 408 and is closed; idle keep-alive connections are closed
 * silently, and so are new connections that send nothing within
 * recv_timeout). Called about every 100 ms by the owner of the server, from
 * one thread, never at the same time as server_stop.
 */
void server_tick(struct server *s);

/* Counters for the status page. */
struct server_stats {
	uint64_t accepted;
	uint64_t requests;
	uint64_t timeouts;
	uint64_t refused;              /* connections refused at max_connections */
	unsigned open;                 /* connections open now */
	unsigned busy;                 /* exchanges being handled or parked now */
};
void server_get_stats(const struct server *s, struct server_stats *st);

/*
 * Stop: close the listening socket, let exchanges in flight finish (up to
 * grace_ms), close every connection, join the workers and free everything.
 * NULL is allowed. Responses sent while stopping carry Connection: close.
 * A handler still running on a worker after grace_ms is waited for (a thread
 * cannot be interrupted); an exchange still parked then is dropped with its
 * connection, and server_finish must not be called for it any more: whoever
 * parks exchanges is to finish or forget them before grace_ms runs out.
 */
void server_stop(struct server *s, unsigned grace_ms);

#endif /* PARLEY_SERVER_H */
