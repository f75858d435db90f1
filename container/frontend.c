/*
 * frontend.c - the node's HTTP routes (frontend.h): SOAP POSTs go to the
 * dispatcher; GETs serve WSDLs, the status page and short text pages that
 * tell a person at a browser where things are.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "dispatch.h"
#include "frontend.h"
#include "gate.h"
#include "log.h"
#include "parley.h"
#include "registry.h"
#include "server.h"
#include "store.h"

#define TEXT "text/plain; charset=utf-8"

static const char *phase_names[] = { "none", "start", "continue", "finish" };

static void *
worker_init(void *arg)
{
	struct frontend *f = arg;

	return dispatch_worker_new(f->dispatch);
}

static void
worker_fini(void *arg, void *worker)
{
	(void)arg;
	dispatch_worker_free(worker);
}

int
frontend_text(struct exchange *x, int status, const char *fmt, ...)
{
	va_list ap;

	buf_reset(&x->body);
	va_start(ap, fmt);
	if (buf_vprintf(&x->body, fmt, ap) != 0)
		buf_reset(&x->body);
	va_end(ap);
	x->status = status;
	x->content_type = TEXT;
	return 0;
}

/*
 * If path is /services/NAME (with an optional trailing slash), cut it in
 * place after NAME and return NAME; else NULL. Cutting in place keeps the
 * name valid for as long as the request's buffer, which a parked message needs.
 */
static char *
service_in_path(char *path)
{
	static const char prefix[] = "/services/";
	char *name;
	size_t n;

	if (strncmp(path, prefix, sizeof prefix - 1) != 0)
		return NULL;
	name = path + sizeof prefix - 1;
	n = strcspn(name, "/");
	if (n == 0 || (name[n] == '/' && name[n + 1] != '\0'))
		return NULL;
	name[n] = '\0';
	return name;
}

/*
 * The action parameter of a SOAP 1.2 Content-Type, unquoted in place in the
 * request's buffer; NULL when there is none.
 */
static const char *
content_type_action(const char *content_type)
{
	char *p, *v, *end;

	if (content_type == NULL)
		return NULL;
	for (p = strchr(content_type, ';'); p != NULL; p = strchr(p + 1, ';')) {
		char *q = p + 1;
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncasecmp(q, "action=", 7) != 0)
			continue;
		v = q + 7;
		if (*v == '"') {
			v++;
			end = strchr(v, '"');
		} else {
			end = v + strcspn(v, "; \t");
		}
		if (end != NULL)
			*end = '\0';
		return v;
	}
	return NULL;
}

/* Give the exchange the answer's status, type and extra header lines. */
static void
take_answer(struct exchange *x, const struct message *m)
{
	x->status = m->status;
	x->content_type = m->content_type;
	if (m->extra_headers[0] != '\0') {
		snprintf(x->extra, sizeof x->extra, "%s", m->extra_headers);
		x->extra_headers = x->extra;
	}
}

static void
message_done(struct message *m)
{
	struct exchange *x = m->owner;

	take_answer(x, m);
	server_finish(x);
}

static int
post_soap(struct frontend *f, void *worker, struct exchange *x)
{
	struct message m;
	const char *action;
	int rc;

	if (x->req.body == NULL || x->req.body_len == 0)
		return frontend_text(x, 400,
		    "a SOAP request needs an envelope in its body (POST it with Content-Type "
		    "text/xml for SOAP 1.1 or application/soap+xml for SOAP 1.2)\n");
	memset(&m, 0, sizeof m);
	/* Builtins (the manager, the node's own interface) have paths of their own. */
	m.target = registry_find_path(f->registry, x->req.path);
	if (m.target == NULL)
		m.service = service_in_path(x->req.path);
	m.body = x->req.body;
	m.body_len = x->req.body_len;
	action = content_type_action(x->req.content_type);
	m.soap_action = action != NULL ? action : x->req.soap_action;
	m.via = x->req.via;
	m.out = &x->body;
	m.done = message_done;
	m.owner = x;
	rc = dispatch_message(f->dispatch, worker, &m);
	if (rc == PARLEY_AGAIN)
		return PARLEY_AGAIN;
	if (rc == PARLEY_DECLINED) {
		rc = relay_message(f, x, &m);
		dispatch_release(&m);
		return rc;
	}
	take_answer(x, &m);
	return 0;
}

/* The base URL for a WSDL's soap:address: the listening address, or the Host the client used. */
static void
base_url(struct frontend *f, struct exchange *x, char *out, size_t len)
{
	const char *host = x->req.host;
	const char *p;

	if (f->listen_wildcard && host != NULL && host[0] != '\0' && strlen(host) < 200) {
		for (p = host; *p != '\0'; p++)
			if (!isalnum((unsigned char)*p) && strchr(".-:[]", *p) == NULL)
				break;
		if (*p == '\0') {
			snprintf(out, len, "http://%s", host);
			return;
		}
	}
	snprintf(out, len, "http://%s", server_address(f->server));
}

static int
get_service(struct frontend *f, struct exchange *x, const struct service *svc, const char *name)
{
	char url[256];
	unsigned i;

	if (svc == NULL)
		return frontend_text(x, 404, "no service %s is deployed here; GET /parley/status lists them\n",
		    name);
	/* svc stays valid while the caller holds its view (or for ever: a builtin). */
	base_url(f, x, url, sizeof url);
	if (x->req.query != NULL &&
	    (strcasecmp(x->req.query, "wsdl") == 0 || strcasecmp(x->req.query, "singleWsdl") == 0)) {
		buf_reset(&x->body);
		if (registry_write_wsdl(svc, url, &x->body) != 0)
			return frontend_text(x, 500, "out of memory\n");
		x->status = 200;
		x->content_type = "text/xml; charset=utf-8";
		return 0;
	}
	frontend_text(x, 200, "service %s (version %u) at %s%s\nWSDL: %s%s?wsdl\n"
	    "operations:\n", svc->name, svc->version, url, svc->path, url, svc->path);
	for (i = 0; i < svc->n_ops; i++)
		buf_printf(&x->body, "  %-24s %s\n", svc->ops[i].name, phase_names[svc->ops[i].phase]);
	return 0;
}

static int
get_index(struct frontend *f, struct exchange *x)
{
	struct registry_view *v = registry_acquire(f->registry);
	unsigned i, n = registry_count(v);

	frontend_text(x, 200, "parleyd %s, node %s\nservices:\n", PACKAGE_VERSION, f->conf->node_id);
	for (i = 0; i < n; i++)
		buf_printf(&x->body, "  /services/%s  (WSDL: /services/%s?wsdl)\n",
		    registry_at(v, i)->name, registry_at(v, i)->name);
	buf_puts(&x->body, "status: /parley/status\n");
	registry_release(v);
	return 0;
}

static int
get_status(struct frontend *f, struct exchange *x)
{
	buf_reset(&x->body);
	if (status_write(f, &x->body) != 0)
		return frontend_text(x, 500, "out of memory\n");
	x->status = 200;
	x->content_type = "application/json";
	return 0;
}

static int
handle(void *arg, void *worker, struct exchange *x)
{
	struct frontend *f = arg;
	const char *path = x->req.path;
	int get = strcmp(x->req.method, "GET") == 0 || strcmp(x->req.method, "HEAD") == 0;

	if (strcmp(path, "/parley/admin") == 0 || strncmp(path, "/parley/admin/", 14) == 0)
		return admin_handle(f, x);
	if (strcmp(x->req.method, "POST") == 0)
		return post_soap(f, worker, x);
	if (!get) {
		x->extra_headers = "Allow: GET, HEAD, POST\r\n";
		return frontend_text(x, 405, "method %s is not served here: POST SOAP messages to "
		    "/services/NAME, GET /services/NAME?wsdl for a WSDL\n", x->req.method);
	}
	if (strcmp(path, "/parley/status") == 0)
		return get_status(f, x);
	{
		const struct service *builtin = registry_find_path(f->registry, path);

		if (builtin != NULL && builtin->builtin)
			return get_service(f, x, builtin, builtin->name);
	}
	if (strcmp(path, "/") == 0 || strcmp(path, "/services") == 0 ||
	    strcmp(path, "/services/") == 0)
		return get_index(f, x);
	if (strncmp(path, "/services/", 10) == 0) {
		char name[128];
		size_t n = strcspn(path + 10, "/");

		if (n > 0 && n < sizeof name && (path[10 + n] == '\0' || strcmp(path + 10 + n, "/") == 0)) {
			struct registry_view *v = registry_acquire(f->registry);
			int rc;

			memcpy(name, path + 10, n);
			name[n] = '\0';
			rc = get_service(f, x, registry_find(v, name), name);
			registry_release(v);
			return rc;
		}
	}
	return frontend_text(x, 404, "nothing at %s; GET / lists what this node serves\n", path);
}

void
frontend_hooks(struct frontend *f, struct server_hooks *hooks)
{
	hooks->handle = handle;
	hooks->worker_init = worker_init;
	hooks->worker_fini = worker_fini;
	hooks->arg = f;
}
