/*
 * nodesoap.c - the node's SOAP face to its manager (wsdl/node.wsdl): the
 * handler of the builtin service node, which hands a heartbeat to the
 * struct node_service it was registered with, and the manager's client call
 * of it (nodeclient_heartbeat, and a pool of clients, one per node).
 *
 * gSOAP's code for the WSDL (gen/node/) is included here with static
 * linkage, as in mgrsoap.c, which says why.
 */
#include "config.h"

#define WITH_STATIC
#define SOAP_FMAC3 static
#define SOAP_FMAC5 static

/* See mgrsoap.c: reported at the end of the file, so off for the whole file. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "node/nodeC.c"
#include "node/nodeClient.c"
#include "node/node_glue.c"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "idgen.h"
#include "log.h"
#include "manager.h"
#include "mgrsoap.h"
#include "parley.h"
#include "soapclient.h"

static int
fit(char *dst, size_t size, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n >= size)
		return -1;
	memcpy(dst, src != NULL ? src : "", n);
	dst[n] = '\0';
	return 0;
}

/* ---- the service's handler --------------------------------------------------------- */

int
node_Heartbeat(struct parley_call *call, struct soap *soap, struct _node__Heartbeat *request,
    struct _node__HeartbeatResponse *response)
{
	const struct node_service *ns = call_context(call);
	struct mgr_heartbeat hb;
	struct mgr_heartbeat_reply reply;
	int i;

	memset(&hb, 0, sizeof hb);
	if (request->nodeId == NULL || !idgen_group_valid(request->nodeId))
		return parley_fault(call, PARLEY_FAULT_SENDER, "Heartbeat: \"%.64s\" is not a node "
		    "ID (1 to 32 characters of a-z, 0-9 and '-', not starting with '-')",
		    request->nodeId != NULL ? request->nodeId : "");
	snprintf(hb.node, sizeof hb.node, "%s", request->nodeId);
	if (request->managerIncarnation == NULL ||
	    fit(hb.manager_incarnation, sizeof hb.manager_incarnation,
		request->managerIncarnation) != 0)
		return parley_fault(call, PARLEY_FAULT_SENDER, "Heartbeat: the manager's "
		    "incarnation must be at most %d characters", MGR_INCARNATION_MAX - 1);
	if (request->sent < 0)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "Heartbeat: sent must not be negative (ms since the epoch)");
	hb.sent_ms = (int64_t)request->sent;
	if (request->__sizeassignment > MGR_ASSIGNMENTS_MAX)
		return parley_fault(call, PARLEY_FAULT_SENDER, "Heartbeat: at most %d assignments, "
		    "not %d", MGR_ASSIGNMENTS_MAX, request->__sizeassignment);
	for (i = 0; i < request->__sizeassignment && request->assignment != NULL; i++) {
		const struct node__Assignment *in = &request->assignment[i];
		struct mgr_assignment *a = &hb.assignments[i];

		if (in->group == NULL || !idgen_group_valid(in->group))
			return parley_fault(call, PARLEY_FAULT_SENDER,
			    "Heartbeat: assignment %d: \"%.64s\" is not a group name", i + 1,
			    in->group != NULL ? in->group : "");
		if (in->role == NULL || (strcmp(in->role, "primary") != 0 &&
		    strcmp(in->role, "secondary") != 0))
			return parley_fault(call, PARLEY_FAULT_SENDER,
			    "Heartbeat: assignment %d: the role must be primary or secondary, "
			    "not \"%.32s\"", i + 1, in->role != NULL ? in->role : "");
		if (in->epoch < 0)
			return parley_fault(call, PARLEY_FAULT_SENDER,
			    "Heartbeat: assignment %d: the epoch must not be negative", i + 1);
		if (in->peer != NULL && fit(a->peer, sizeof a->peer, in->peer) != 0)
			return parley_fault(call, PARLEY_FAULT_SENDER,
			    "Heartbeat: assignment %d: the peer must be at most %d characters",
			    i + 1, MGR_REPL_MAX - 1);
		snprintf(a->group, sizeof a->group, "%s", in->group);
		a->primary = strcmp(in->role, "primary") == 0;
		a->epoch = (uint64_t)in->epoch;
		hb.n_assignments++;
	}
	if (ns == NULL || ns->heartbeat == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "this node answers no heartbeats");
	memset(&reply, 0, sizeof reply);
	if (ns->heartbeat(ns->arg, &hb, &reply) != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "the node could not answer the heartbeat");
	reply.node[sizeof reply.node - 1] = '\0';
	reply.incarnation[sizeof reply.incarnation - 1] = '\0';
	response->nodeId = soap_strdup(soap, reply.node);
	response->incarnation = soap_strdup(soap, reply.incarnation);
	response->conversations = reply.conversations > INT32_MAX ? INT32_MAX :
	    (int)reply.conversations;
	if (response->nodeId == NULL || response->incarnation == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "the node is out of memory");
	if (reply.n_holdings > MGR_ASSIGNMENTS_MAX)
		reply.n_holdings = MGR_ASSIGNMENTS_MAX;
	if (reply.n_holdings > 0 && (response->holding = soap_malloc(soap,
	    reply.n_holdings * sizeof *response->holding)) == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "the node is out of memory");
	response->__sizeholding = (int)reply.n_holdings;
	for (i = 0; i < (int)reply.n_holdings; i++) {
		const struct mgr_holding *h = &reply.holdings[i];
		struct node__Holding *o = &response->holding[i];

		soap_default_node__Holding(soap, o);
		o->group = soap_strdup(soap, h->group);
		o->role = h->primary ? "primary" : "secondary";
		o->epoch = (LONG64)h->epoch;
		o->repl = soap_strdup(soap, h->repl);
		o->synced = h->synced ? xsd__boolean__true_ : xsd__boolean__false_;
		if (o->group == NULL || o->repl == NULL)
			return parley_fault(call, PARLEY_FAULT_RECEIVER, "the node is out of memory");
	}
	return 0;
}

/* ---- the client call ------------------------------------------------------------------- */

int
nodeclient_heartbeat(struct soap_client *c, const char *node_address,
    const struct mgr_heartbeat *hb, struct mgr_heartbeat_reply *reply)
{
	struct _node__Heartbeat req;
	struct _node__HeartbeatResponse resp;
	struct mgr_heartbeat_reply got;
	struct node__Assignment *list = NULL;
	char endpoint[MGR_ADDRESS_MAX + sizeof NODE_PATH];
	struct soap *soap;
	unsigned try, i, n = hb->n_assignments;
	int rc;

	if (n > MGR_ASSIGNMENTS_MAX)
		return PARLEY_EINVAL;
	if ((size_t)snprintf(endpoint, sizeof endpoint, "%s%s", node_address, NODE_PATH) >=
	    sizeof endpoint) {
		soap_client_bad_answer(c, "Heartbeat: the node's address is too long");
		return PARLEY_EINVAL;
	}
	for (try = 0;; try++) {
		soap = soap_client_begin(c, node_namespaces);
		soap_default__node__Heartbeat(soap, &req);
		if (n > 0 && (list = soap_malloc(soap, n * sizeof *list)) == NULL) {
			soap_client_done(c);
			return PARLEY_ENOMEM;
		}
		for (i = 0; i < n; i++) {
			soap_default_node__Assignment(soap, &list[i]);
			list[i].group = (char *)hb->assignments[i].group;
			list[i].role = hb->assignments[i].primary ? "primary" : "secondary";
			list[i].epoch = (LONG64)hb->assignments[i].epoch;
			list[i].peer = hb->assignments[i].peer[0] != '\0' ?
			    (char *)hb->assignments[i].peer : NULL;
		}
		req.nodeId = (char *)hb->node;
		req.managerIncarnation = (char *)hb->manager_incarnation;
		req.sent = (LONG64)hb->sent_ms;
		req.__sizeassignment = (int)n;
		req.assignment = n > 0 ? list : NULL;
		rc = soap_call___node__Heartbeat(soap, endpoint, NULL, &req, &resp);
		rc = soap_client_result(c, rc, "Heartbeat", endpoint, try);
		if (rc == 0) {
			memset(&got, 0, sizeof got);
			if (resp.nodeId == NULL || resp.incarnation == NULL ||
			    fit(got.node, sizeof got.node, resp.nodeId) != 0 ||
			    fit(got.incarnation, sizeof got.incarnation, resp.incarnation) != 0 ||
			    resp.conversations < 0)
				rc = soap_client_bad_answer(c, "Heartbeat: the node at %s "
				    "answered with a malformed response", node_address);
			else {
				got.conversations = (unsigned)resp.conversations;
				for (i = 0; resp.holding != NULL && rc == 0 &&
				    i < (unsigned)resp.__sizeholding && i < MGR_ASSIGNMENTS_MAX; i++) {
					const struct node__Holding *h = &resp.holding[i];
					struct mgr_holding *o = &got.holdings[got.n_holdings];

					if (h->group == NULL || h->role == NULL || h->repl == NULL ||
					    h->epoch < 0 ||
					    fit(o->group, sizeof o->group, h->group) != 0 ||
					    fit(o->repl, sizeof o->repl, h->repl) != 0) {
						rc = soap_client_bad_answer(c, "Heartbeat: the node at %s "
						    "answered with a malformed holding", node_address);
						break;
					}
					o->primary = strcmp(h->role, "primary") == 0;
					o->epoch = (uint64_t)h->epoch;
					o->synced = h->synced == xsd__boolean__true_;
					got.n_holdings++;
				}
				if (rc == 0)
					*reply = got;
			}
		}
		soap_client_done(c);
		if (rc != PARLEY_AGAIN)
			return rc;
	}
}

/* ---- a client per node ------------------------------------------------------------------- */

struct pool_entry {
	char id[MGR_ID_MAX];
	struct soap_client *client;
};

struct nodeclient_pool {
	pthread_mutex_t mu;
	struct pool_entry *entries;
	unsigned n, cap;
};

struct nodeclient_pool *
nodeclient_pool_new(void)
{
	struct nodeclient_pool *p;

	if ((p = calloc(1, sizeof *p)) == NULL)
		return NULL;
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p);
		return NULL;
	}
	return p;
}

void
nodeclient_pool_free(struct nodeclient_pool *p)
{
	unsigned i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		soap_client_free(p->entries[i].client);
	free(p->entries);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* The client of node id, made on first use; NULL when out of memory. */
static struct soap_client *
pool_client(struct nodeclient_pool *p, const char *id, unsigned timeout_ms)
{
	struct soap_client *c = NULL;
	struct pool_entry *grown;
	unsigned i, cap;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->n; i++)
		if (strcmp(p->entries[i].id, id) == 0) {
			c = p->entries[i].client;
			goto done;
		}
	if (p->n == p->cap) {
		cap = p->cap ? p->cap * 2 : 8;
		if ((grown = realloc(p->entries, cap * sizeof *grown)) == NULL)
			goto done;
		p->entries = grown;
		p->cap = cap;
	}
	if ((c = soap_client_new(timeout_ms)) == NULL)
		goto done;
	snprintf(p->entries[p->n].id, sizeof p->entries[p->n].id, "%s", id);
	p->entries[p->n].client = c;
	p->n++;
done:
	pthread_mutex_unlock(&p->mu);
	return c;
}

int
nodeclient_pool_heartbeat(void *pool, const struct mgr_node *node,
    const struct mgr_heartbeat *hb, struct mgr_heartbeat_reply *reply, unsigned timeout_ms)
{
	struct soap_client *c;
	int rc;

	if ((c = pool_client(pool, node->id, timeout_ms)) == NULL)
		return PARLEY_ENOMEM;
	/* The manager calls one node from one thread at a time: c is ours now. */
	soap_client_set_timeout(c, timeout_ms);
	rc = nodeclient_heartbeat(c, node->address, hb, reply);
	if (rc != 0)
		log_debug("manager: heartbeat of node %s: %s", node->id, soap_client_error(c));
	return rc;
}
