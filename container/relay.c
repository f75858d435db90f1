/*
 * relay.c - a message whose conversation another node owns: find the owner
 * (the locator's cache, else the manager), relay the message there over the
 * router's pooled connections, and bring its answer back unchanged. A route
 * that turns out stale (the owner refuses the connection, or answers
 * pc:Moved) is asked again once.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "dispatch.h"
#include "envelope.h"
#include "frontend.h"
#include "locator.h"
#include "log.h"
#include "manager.h"
#include "parley.h"
#include "router.h"

/* Read one "key=value" field of an X-Parley-Moved header into out. */
static int
moved_field(const char *h, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key), n;
	const char *p = h;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == h || p[-1] == ' ' || p[-1] == ';') && p[klen] == '=') {
			p += klen + 1;
			n = strcspn(p, "; ");
			if (n == 0 || n >= len)
				return PARLEY_EINVAL;
			memcpy(out, p, n);
			out[n] = '\0';
			return 0;
		}
		p += klen;
	}
	return PARLEY_EINVAL;
}

/* The route an X-Parley-Moved header names. */
static int
parse_moved(const char *h, struct mgr_route *r)
{
	char epoch[32];
	char *end;

	memset(r, 0, sizeof *r);
	if (moved_field(h, "group", r->group, sizeof r->group) != 0 ||
	    moved_field(h, "node", r->node, sizeof r->node) != 0 ||
	    moved_field(h, "address", r->address, sizeof r->address) != 0 ||
	    moved_field(h, "epoch", epoch, sizeof epoch) != 0)
		return PARLEY_EINVAL;
	r->epoch = strtoull(epoch, &end, 10);
	if (*end != '\0' || !idgen_group_valid(r->group) || !idgen_group_valid(r->node) ||
	    strncmp(r->address, "http://", 7) != 0)
		return PARLEY_EINVAL;
	r->alive = 1;
	return 0;
}

static int
fail(struct frontend *f, struct exchange *x, struct message *m, int http_status,
    const char *subcode, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Answer m with a Receiver fault (pc:subcode when not NULL), over HTTP http_status. */
static int
fail(struct frontend *f, struct exchange *x, struct message *m, int http_status,
    const char *subcode, const char *fmt, ...)
{
	struct fault fl;
	char reason[sizeof fl.reason];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	fault_set(&fl, FAULT_RECEIVER, subcode != NULL ? NS_PC : NULL, subcode, "%s", reason);
	fl.http_status = http_status;
	dispatch_fault(f->dispatch, m, &fl);
	x->status = m->status;
	x->content_type = m->content_type;
	return 0;
}

int
relay_message(struct frontend *f, struct exchange *x, struct message *m)
{
	const char *self = f->conf->node_id;
	struct forward fw;
	struct mgr_route r, told;
	char via[256];
	int attempt, rc;

	if (x->req.via != NULL && x->req.via[0] != '\0')
		snprintf(via, sizeof via, "%s, %s", x->req.via, self);
	else
		snprintf(via, sizeof via, "%s", self);
	for (attempt = 0; attempt < 2; attempt++) {
		rc = locator_route(f->locator, m->group, &r);
		if (rc == PARLEY_ENOENT)
			return fail(f, x, m, 500, "UnknownConversation",
			    "conversation %s belongs to group %s, which the cluster's manager does "
			    "not know", m->env.conversation_id, m->group);
		if (rc != 0)
			return fail(f, x, m, 503, "Unavailable",
			    "the conversation manager cannot be reached to find group %s (%s); try "
			    "again shortly", m->group, parley_strerror(rc));
		if (strcmp(r.node, self) == 0)
			return fail(f, x, m, 503, "Unavailable",
			    "the manager places group %s on this node (%s), which does not hold it; "
			    "try again shortly", m->group, self);
		if (!r.alive) {
			/* Dead now may be alive soon (a restart): ask again next time. */
			locator_forget(f->locator, m->group);
			return fail(f, x, m, 503, "Unavailable",
			    "node %s (%s), which holds group %s, is not answering heartbeats; try "
			    "again shortly", r.node, r.address, m->group);
		}
		memset(&fw, 0, sizeof fw);
		fw.address = r.address;
		fw.path = x->req.path;
		fw.content_type = x->req.content_type;
		fw.soap_action = x->req.soap_action;
		fw.via = via;
		fw.body = x->req.body;
		fw.body_len = x->req.body_len;
		fw.out = &x->body;
		rc = router_forward(f->router, &fw);
		if (rc == PARLEY_EIO) {
			/* Refused or reset before any answer: the owner moved or died. */
			log_debug("relay of %s to %s (%s) failed; asking where group %s is again",
			    m->env.conversation_id, r.node, r.address, m->group);
			locator_forget(f->locator, m->group);
			router_forget(f->router, r.address);
			continue;
		}
		if (rc == PARLEY_ETIMEDOUT)
			return fail(f, x, m, 504, "Unavailable",
			    "node %s (%s), which holds group %s, did not answer in time; the message "
			    "may or may not have been processed: send it again with the same "
			    "wsa:MessageID", r.node, r.address, m->group);
		if (rc != 0)
			return fail(f, x, m, 502, NULL, "the answer of node %s (%s) could not be "
			    "relayed: %s", r.node, r.address, parley_strerror(rc));
		if (fw.moved[0] != '\0' && attempt == 0) {
			/* The owner we knew says the group is elsewhere: believe it if newer. */
			if (parse_moved(fw.moved, &told) != 0 || strcmp(told.group, m->group) != 0 ||
			    !locator_learn(f->locator, &told))
				locator_forget(f->locator, m->group);
			continue;
		}
		x->status = fw.status;
		snprintf(x->ctype, sizeof x->ctype, "%s", fw.content_type_out);
		x->content_type = x->ctype[0] != '\0' ? x->ctype : NULL;
		if (fw.moved[0] != '\0') {
			snprintf(x->extra, sizeof x->extra, "X-Parley-Moved: %s\r\n", fw.moved);
			x->extra_headers = x->extra;
		}
		return 0;
	}
	return fail(f, x, m, 503, "Unavailable",
	    "node %s (%s), which holds group %s, cannot be reached even after asking the manager "
	    "again; try again shortly", r.node, r.address, m->group);
}
