/*
 * frontend.h - what the node answers over HTTP: SOAP messages to
 * /services/NAME (through the dispatcher), each service's WSDL at
 * /services/NAME?wsdl, and the node's status page at /parley/status.
 */
#ifndef PARLEY_FRONTEND_H
#define PARLEY_FRONTEND_H

#include <stdint.h>

#include "server.h"

struct dispatch;
struct registry;
struct holdings;
struct outbox;
struct conf;
struct locator;
struct router;
struct manager;

struct frontend {
	struct dispatch *dispatch;
	struct registry *registry;
	struct holdings *holdings;
	struct outbox *outbox;          /* the sender of answers and callbacks; NULL: none */
	const struct conf *conf;
	struct server *server;          /* set once the server has started */
	struct locator *locator;
	struct router *router;
	struct manager *manager;        /* the manager, when this node runs it; else NULL */
	const char *manager_url;        /* where the nodes reach the manager */
	const char *address;            /* this node's base URL, as other nodes reach it */
	int64_t started_ms;
	int listen_wildcard;            /* listening on 0.0.0.0 or [::]: WSDLs use the Host header */
};

/* The hooks to start the server with; f must outlive the server. */
void frontend_hooks(struct frontend *f, struct server_hooks *hooks);

/* Answer x with status and a plain-text body from fmt; returns 0. */
int frontend_text(struct exchange *x, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct message;

/*
 * Append the node's status as JSON to b: identity, store, services and
 * their conversations, counters, the cluster as this node sees it (groups,
 * cached routes, calls to the manager, relays) and, when it runs the
 * manager, the manager's nodes, groups and conversations per node
 * (status.c). Returns 0 or PARLEY_ENOMEM.
 */
int status_write(struct frontend *f, struct buf *b);

/* The live conversations of service name in the groups this node holds (status.c). */
unsigned frontend_live_conversations(struct frontend *f, const char *name);

/*
 * Answer a request to /parley/admin or below (admin.c): deploy or undeploy
 * a service, for the clients admin_allow lets in. Returns 0.
 */
int admin_handle(struct frontend *f, struct exchange *x);

/*
 * Relay m, which dispatch declined (its group is another node's), to the
 * owner, and put the owner's answer, or a fault saying why there is none,
 * in x (relay.c). Returns 0.
 */
int relay_message(struct frontend *f, struct exchange *x, struct message *m);

#endif /* PARLEY_FRONTEND_H */
