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
struct store;
struct conf;

struct frontend {
	struct dispatch *dispatch;
	struct registry *registry;
	struct store *store;
	const struct conf *conf;
	struct server *server;          /* set once the server has started */
	int64_t started_ms;
	int listen_wildcard;            /* listening on 0.0.0.0 or [::]: WSDLs use the Host header */
};

/* The hooks to start the server with; f must outlive the server. */
void frontend_hooks(struct frontend *f, struct server_hooks *hooks);

#endif /* PARLEY_FRONTEND_H */
