/*
 * mgrsoap.c - the manager's SOAP face (wsdl/manager.wsdl): the handlers of
 * the builtin service mgr, which map its messages to manager.h, and the
 * client calls nodes make of a manager (mgrclient_*, mgrsoap.h).
 *
 * gSOAP's code for the WSDL (gen/mgr/, made at build time) is included here
 * with static linkage (SOAP_FMAC3, SOAP_FMAC5), so its serializers and stubs
 * clash with no other service's; only mgr_module, mgr_wsdl and the
 * namespace table mgr_namespaces are visible outside this file.
 */
#include "config.h"

#define WITH_STATIC
#define SOAP_FMAC3 static
#define SOAP_FMAC5 static

/*
 * The generated code holds functions this file does not use (every
 * serializer, the stubs of the SOAP 1.2 binding) and stdsoap2.h declares
 * soap_serve, which is never defined here: gcc reports both at the end of
 * the file, where a pop would no longer be in force, so the warning stays
 * off for the whole file. Every other warning is on, for the generated
 * code too.
 */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "mgr/mgrC.c"
#include "mgr/mgrClient.c"
#include "mgr/mgr_glue.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "idgen.h"
#include "manager.h"
#include "mgrsoap.h"
#include "parley.h"
#include "soapclient.h"

#define BATCH_MAX 1000                 /* conversations in one Register/EndConversation */
#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define REPLY_GROUPS_MAX 256           /* groups in one RegisterNodeResponse */

/* ---- the service's handlers ------------------------------------------------------- */

static int
out_of_memory(struct parley_call *call)
{
	return parley_fault(call, PARLEY_FAULT_RECEIVER, "the manager is out of memory");
}

/*
 * A standby answers every call with a fault that names the active manager
 * when it knows it; the reason starts with "standby:", which the client
 * calls recognise (soapclient.c).
 */
static int
standby_fault(struct parley_call *call, struct manager *m)
{
	char url[MGR_ADDRESS_MAX + 32];

	manager_active_url(m, url, sizeof url);
	if (url[0] != '\0')
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "standby: the active manager is at %s", url);
	return parley_fault(call, PARLEY_FAULT_RECEIVER,
	    "standby: this manager site is not the active one, and no active one is known yet");
}

/* Copy src into dst (size bytes); -1 when it does not fit. NULL is taken as "". */
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

/* "" as an absent optional element. */
static char *
opt_str(struct soap *soap, const char *s)
{
	return s[0] != '\0' ? soap_strdup(soap, s) : NULL;
}

static int
put_group(struct soap *soap, struct mgr__Group *dst, const struct mgr_group *src)
{
	soap_default_mgr__Group(soap, dst);
	dst->name = soap_strdup(soap, src->name);
	dst->primary = soap_strdup(soap, src->primary);
	dst->secondary = opt_str(soap, src->secondary);
	dst->epoch = (LONG64)src->epoch;
	return dst->name != NULL && dst->primary != NULL &&
	    (src->secondary[0] == '\0' || dst->secondary != NULL) ? 0 : -1;
}

int
mgr_RegisterNode(struct parley_call *call, struct soap *soap, struct _mgr__RegisterNode *request,
    struct _mgr__RegisterNodeResponse *response)
{
	struct manager *m = call_context(call);
	struct mgr_group *groups;
	const char *why;
	unsigned n = REPLY_GROUPS_MAX, i;
	int rc;

	if (!manager_active(m))
		return standby_fault(call, m);

	if (request->nodeId == NULL || request->address == NULL || request->incarnation == NULL)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "RegisterNode needs nodeId, address and incarnation");
	if ((why = manager_check_node(request->nodeId, request->address,
	    request->incarnation)) != NULL)
		return parley_fault(call, PARLEY_FAULT_SENDER, "RegisterNode of \"%.64s\" at "
		    "\"%.64s\": %s", request->nodeId, request->address, why);
	if ((groups = soap_malloc(soap, n * sizeof *groups)) == NULL)
		return out_of_memory(call);
	rc = manager_register_node(m, request->nodeId, request->address, request->incarnation,
	    request->replicated != NULL && *request->replicated == xsd__boolean__true_, groups, &n);
	if (rc == PARLEY_ESTANDBY)
		return standby_fault(call, m);
	if (rc != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "the manager could not record the registration of node %s: %s",
		    request->nodeId, parley_strerror(rc));
	response->managerIncarnation = soap_strdup(soap, manager_incarnation(m));
	response->heartbeatIntervalMs = (int)manager_heartbeat_interval_ms(m);
	response->__sizegroup = (int)n;
	if (n > 0 && (response->group = soap_malloc(soap, n * sizeof *response->group)) == NULL)
		return out_of_memory(call);
	for (i = 0; i < n; i++)
		if (put_group(soap, &response->group[i], &groups[i]) != 0)
			return out_of_memory(call);
	return response->managerIncarnation != NULL ? 0 : out_of_memory(call);
}

int
mgr_Renew(struct parley_call *call, struct soap *soap, struct _mgr__Renew *request,
    struct _mgr__RenewResponse *response)
{
	struct manager *m = call_context(call);
	struct mgr_claim claims[MGR_ASSIGNMENTS_MAX], granted[MGR_ASSIGNMENTS_MAX];
	unsigned n = 0, n_granted, lease_ms, i;
	int rc;

	if (!manager_active(m))
		return standby_fault(call, m);

	if (request->nodeId == NULL || request->incarnation == NULL)
		return parley_fault(call, PARLEY_FAULT_SENDER, "Renew needs nodeId and incarnation");
	if (request->__sizeclaim > MGR_ASSIGNMENTS_MAX)
		return parley_fault(call, PARLEY_FAULT_SENDER, "Renew: at most %d claims, not %d",
		    MGR_ASSIGNMENTS_MAX, request->__sizeclaim);
	for (i = 0; request->claim != NULL && i < (unsigned)request->__sizeclaim; i++) {
		const struct mgr__Claim *c = &request->claim[i];

		if (c->group == NULL || !idgen_group_valid(c->group) || c->epoch < 0)
			return parley_fault(call, PARLEY_FAULT_SENDER, "Renew: claim %u needs a group "
			    "name and an epoch that is not negative", i + 1);
		snprintf(claims[n].group, sizeof claims[n].group, "%s", c->group);
		claims[n].epoch = (uint64_t)c->epoch;
		n++;
	}
	rc = manager_renew(m, request->nodeId, request->incarnation, claims, n, granted,
	    &n_granted, &lease_ms);
	if (rc == PARLEY_ESTANDBY)
		return standby_fault(call, m);
	if (rc == PARLEY_ESTATE)
		return parley_fault(call, PARLEY_FAULT_SENDER, "Renew: node %.64s is not registered "
		    "as alive with this incarnation: register again", request->nodeId);
	if (rc != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "Renew failed: %s",
		    parley_strerror(rc));
	response->leaseMs = (int)lease_ms;
	response->__sizegranted = (int)n_granted;
	if (n_granted > 0 && (response->granted = soap_malloc(soap,
	    n_granted * sizeof *response->granted)) == NULL)
		return out_of_memory(call);
	for (i = 0; i < n_granted; i++) {
		soap_default_mgr__Claim(soap, &response->granted[i]);
		response->granted[i].group = soap_strdup(soap, granted[i].group);
		response->granted[i].epoch = (LONG64)granted[i].epoch;
		if (response->granted[i].group == NULL)
			return out_of_memory(call);
	}
	return 0;
}

int
mgr_Locate(struct parley_call *call, struct soap *soap, struct _mgr__Locate *request,
    struct _mgr__LocateResponse *response)
{
	struct manager *m = call_context(call);
	char group[MGR_ID_MAX];
	struct mgr_route route;
	struct mgr__Route *r;
	const char *s;
	int rc;

	if (!manager_active(m))
		return standby_fault(call, m);

	if (request->__union_Locate == SOAP_UNION__mgr__union_Locate_conversationId) {
		s = request->union_Locate.conversationId;
		if (s == NULL || idgen_group(s, group, sizeof group) != 0)
			return parley_fault(call, PARLEY_FAULT_SENDER, "Locate: \"%.80s\" is not a "
			    "conversation ID (GROUP.xxxxxxxxxxxxxxxxxxxxxxxxxx)",
			    s != NULL ? s : "");
	} else if (request->__union_Locate == SOAP_UNION__mgr__union_Locate_group) {
		s = request->union_Locate.group;
		if (s == NULL || !idgen_group_valid(s))
			return parley_fault(call, PARLEY_FAULT_SENDER, "Locate: \"%.80s\" is not a "
			    "group name (1 to 32 characters of a-z, 0-9 and '-', not starting with "
			    "'-')", s != NULL ? s : "");
		snprintf(group, sizeof group, "%s", s);
	} else {
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "Locate needs a conversationId or a group");
	}
	rc = manager_locate(m, group, &route);
	if (rc == PARLEY_ESTANDBY)
		return standby_fault(call, m);
	if (rc == PARLEY_ENOENT) {
		/* Unknown group: a route to nowhere (the WSDL says so), not a fault. */
		memset(&route, 0, sizeof route);
		snprintf(route.group, sizeof route.group, "%s", group);
	} else if (rc != 0) {
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "Locate of group %s failed: %s",
		    group, parley_strerror(rc));
	}
	if ((r = soap_malloc(soap, sizeof *r)) == NULL)
		return out_of_memory(call);
	soap_default_mgr__Route(soap, r);
	r->group = soap_strdup(soap, route.group);
	r->node = soap_strdup(soap, route.node);
	r->address = soap_strdup(soap, route.address);
	r->epoch = (LONG64)route.epoch;
	r->alive = route.alive ? xsd__boolean__true_ : xsd__boolean__false_;
	if (r->group == NULL || r->node == NULL || r->address == NULL)
		return out_of_memory(call);
	response->route = r;
	return 0;
}

int
mgr_RegisterConversation(struct parley_call *call, struct soap *soap,
    struct _mgr__RegisterConversation *request, struct _mgr__RegisterConversationResponse *response)
{
	struct manager *m = call_context(call);
	struct mgr_conv *convs;
	const char *why;
	int i, n = request->__sizeconversation, rc;

	if (!manager_active(m))
		return standby_fault(call, m);

	if (n < 1 || request->conversation == NULL)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "RegisterConversation needs at least one conversation");
	if (n > BATCH_MAX)
		return parley_fault(call, PARLEY_FAULT_SENDER, "RegisterConversation takes at most "
		    "%d conversations at once, not %d", BATCH_MAX, n);
	if ((convs = soap_malloc(soap, (size_t)n * sizeof *convs)) == NULL)
		return out_of_memory(call);
	for (i = 0; i < n; i++) {
		const struct mgr__Conversation *in = &request->conversation[i];
		struct mgr_conv *c = &convs[i];

		memset(c, 0, sizeof *c);
		if (in->id == NULL || in->service == NULL)
			return parley_fault(call, PARLEY_FAULT_SENDER, "conversation %d of "
			    "RegisterConversation needs an id and a service", i + 1);
		why = NULL;
		if (fit(c->id, sizeof c->id, in->id) != 0)
			why = "the conversation ID is too long";
		else if (fit(c->group, sizeof c->group, in->group) != 0)
			why = "the group is longer than 32 characters";
		else if (fit(c->service, sizeof c->service, in->service) != 0)
			why = "the service is longer than 63 characters";
		else if (fit(c->reply_to, sizeof c->reply_to, in->replyTo) != 0)
			why = "the reply-to address is longer than 255 characters";
		else if (fit(c->from, sizeof c->from, in->from) != 0)
			why = "the from address is longer than 255 characters";
		if (why == NULL) {
			c->created_ms = (int64_t)in->created;
			c->ended_ms = in->ended != NULL ? (int64_t)*in->ended : 0;
			why = manager_check_conv(c);
		}
		if (why != NULL)
			return parley_fault(call, PARLEY_FAULT_SENDER,
			    "conversation %d (\"%.80s\") of RegisterConversation: %s", i + 1,
			    in->id, why);
	}
	if ((rc = manager_register_conversations(m, convs, (unsigned)n)) == PARLEY_ESTANDBY)
		return standby_fault(call, m);
	if (rc != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "the manager could not store the conversations: %s", parley_strerror(rc));
	response->registered = n;
	return 0;
}

int
mgr_EndConversation(struct parley_call *call, struct soap *soap,
    struct _mgr__EndConversation *request, struct _mgr__EndConversationResponse *response)
{
	struct manager *m = call_context(call);
	const char **ids;
	int64_t *ended;
	int i, n = request->__sizeending, rc;

	if (!manager_active(m))
		return standby_fault(call, m);

	if (n < 1 || request->ending == NULL)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "EndConversation needs at least one ending");
	if (n > BATCH_MAX)
		return parley_fault(call, PARLEY_FAULT_SENDER, "EndConversation takes at most "
		    "%d endings at once, not %d", BATCH_MAX, n);
	if ((ids = soap_malloc(soap, (size_t)n * sizeof *ids)) == NULL ||
	    (ended = soap_malloc(soap, (size_t)n * sizeof *ended)) == NULL)
		return out_of_memory(call);
	for (i = 0; i < n; i++) {
		const struct mgr__Ending *in = &request->ending[i];

		if (in->id == NULL || !idgen_valid(in->id))
			return parley_fault(call, PARLEY_FAULT_SENDER,
			    "ending %d of EndConversation: \"%.80s\" is not a conversation ID "
			    "(GROUP.xxxxxxxxxxxxxxxxxxxxxxxxxx)", i + 1,
			    in->id != NULL ? in->id : "");
		if (in->ended < 0)
			return parley_fault(call, PARLEY_FAULT_SENDER,
			    "ending %d of EndConversation: ended must not be negative (ms since "
			    "the epoch; 0 for now)", i + 1);
		ids[i] = in->id;
		ended[i] = (int64_t)in->ended;
	}
	if ((rc = manager_end_conversations(m, ids, ended, (unsigned)n)) == PARLEY_ESTANDBY)
		return standby_fault(call, m);
	if (rc != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "the manager could not store the endings: %s", parley_strerror(rc));
	response->ended = n;
	return 0;
}

int
mgr_ListNodes(struct parley_call *call, struct soap *soap, struct _mgr__ListNodes *request,
    struct _mgr__ListNodesResponse *response)
{
	struct manager *m = call_context(call);
	struct mgr_node *nodes;
	unsigned n, i;
	int rc = 0;

	if (!manager_active(m))
		return standby_fault(call, m);

	(void)request;
	if (manager_list_nodes(m, &nodes, &n) != 0)
		return out_of_memory(call);
	if (n > 0 && (response->node = soap_malloc(soap, n * sizeof *response->node)) == NULL) {
		free(nodes);
		return out_of_memory(call);
	}
	response->__sizenode = (int)n;
	for (i = 0; i < n && rc == 0; i++) {
		struct mgr__Node *o = &response->node[i];

		soap_default_mgr__Node(soap, o);
		o->id = soap_strdup(soap, nodes[i].id);
		o->address = soap_strdup(soap, nodes[i].address);
		o->alive = nodes[i].alive ? xsd__boolean__true_ : xsd__boolean__false_;
		o->registered = (LONG64)nodes[i].registered_ms;
		o->lastHeartbeat = (LONG64)nodes[i].last_heartbeat_ms;
		o->misses = nodes[i].misses > INT32_MAX ? INT32_MAX : (int)nodes[i].misses;
		o->conversations = nodes[i].conversations > INT32_MAX ? INT32_MAX :
		    (int)nodes[i].conversations;
		if (o->id == NULL || o->address == NULL)
			rc = -1;
	}
	free(nodes);
	return rc == 0 ? 0 : out_of_memory(call);
}

int
mgr_ListGroups(struct parley_call *call, struct soap *soap, struct _mgr__ListGroups *request,
    struct _mgr__ListGroupsResponse *response)
{
	struct manager *m = call_context(call);
	struct mgr_group *groups;
	unsigned n, i;
	int rc = 0;

	if (!manager_active(m))
		return standby_fault(call, m);

	(void)request;
	if (manager_list_groups(m, &groups, &n) != 0)
		return out_of_memory(call);
	if (n > 0 && (response->group = soap_malloc(soap, n * sizeof *response->group)) == NULL) {
		free(groups);
		return out_of_memory(call);
	}
	response->__sizegroup = (int)n;
	for (i = 0; i < n && rc == 0; i++)
		rc = put_group(soap, &response->group[i], &groups[i]);
	free(groups);
	return rc == 0 ? 0 : out_of_memory(call);
}

int
mgr_ListConversations(struct parley_call *call, struct soap *soap,
    struct _mgr__ListConversations *request, struct _mgr__ListConversationsResponse *response)
{
	struct manager *m = call_context(call);
	struct mgr_conv_filter f;
	struct mgr_conv *convs;
	unsigned n, total, i;
	int offset = request->offset != NULL ? *request->offset : 0;
	int limit = request->limit != NULL ? *request->limit : LIST_DEFAULT;
	int rc;

	if (!manager_active(m))
		return standby_fault(call, m);

	if (offset < 0)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "ListConversations: offset must not be negative, not %d", offset);
	if (limit < 0 || limit > LIST_MAX)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "ListConversations: limit must be 0 to %d, not %d", LIST_MAX, limit);
	memset(&f, 0, sizeof f);
	f.node = request->node != NULL && request->node[0] != '\0' ? request->node : NULL;
	f.group = request->group != NULL && request->group[0] != '\0' ? request->group : NULL;
	f.service = request->service != NULL && request->service[0] != '\0' ?
	    request->service : NULL;
	f.session = request->session != NULL && request->session[0] != '\0' ?
	    request->session : NULL;
	if (f.session != NULL && !idgen_valid(f.session))
		return parley_fault(call, PARLEY_FAULT_SENDER, "ListConversations: session "
		    "\"%.80s\" is not a conversation ID (GROUP.xxxxxxxxxxxxxxxxxxxxxxxxxx, the "
		    "session's, or GROUP.xxxxxxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxx, one "
		    "that joined it)", f.session);
	f.live_only = request->liveOnly != NULL && *request->liveOnly == xsd__boolean__true_;
	rc = manager_list_conversations(m, &f, (unsigned)offset, (unsigned)limit, &convs, &n,
	    &total);
	if (rc == PARLEY_ESTANDBY)
		return standby_fault(call, m);
	if (rc != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "ListConversations failed: %s", parley_strerror(rc));
	response->total = total > INT32_MAX ? INT32_MAX : (int)total;
	response->__sizeconversation = (int)n;
	if (n > 0 && (response->conversation = soap_malloc(soap,
	    n * sizeof *response->conversation)) == NULL) {
		free(convs);
		return out_of_memory(call);
	}
	rc = 0;
	for (i = 0; i < n && rc == 0; i++) {
		struct mgr__Conversation *o = &response->conversation[i];
		const struct mgr_conv *c = &convs[i];

		soap_default_mgr__Conversation(soap, o);
		o->id = soap_strdup(soap, c->id);
		o->group = soap_strdup(soap, c->group);
		o->service = soap_strdup(soap, c->service);
		o->replyTo = opt_str(soap, c->reply_to);
		o->from = opt_str(soap, c->from);
		o->session = opt_str(soap, c->session);
		o->initiator = opt_str(soap, c->initiator);
		o->created = (LONG64)c->created_ms;
		if (c->ended_ms != 0 && (o->ended = soap_malloc(soap, sizeof *o->ended)) != NULL)
			*o->ended = (LONG64)c->ended_ms;
		if (o->id == NULL || o->group == NULL || o->service == NULL ||
		    (c->reply_to[0] != '\0' && o->replyTo == NULL) ||
		    (c->from[0] != '\0' && o->from == NULL) ||
		    (c->session[0] != '\0' && o->session == NULL) ||
		    (c->initiator[0] != '\0' && o->initiator == NULL) ||
		    (c->ended_ms != 0 && o->ended == NULL))
			rc = -1;
	}
	free(convs);
	return rc == 0 ? 0 : out_of_memory(call);
}

/* ---- the client calls ---------------------------------------------------------------- */

static int
take_group(struct soap_client *c, struct mgr_group *dst, const struct mgr__Group *src)
{
	memset(dst, 0, sizeof *dst);
	if (src->name == NULL || src->primary == NULL ||
	    fit(dst->name, sizeof dst->name, src->name) != 0 ||
	    fit(dst->primary, sizeof dst->primary, src->primary) != 0 ||
	    fit(dst->secondary, sizeof dst->secondary, src->secondary) != 0 || src->epoch < 0)
		return soap_client_bad_answer(c, "RegisterNode: the manager answered with a "
		    "malformed group");
	dst->epoch = (uint64_t)src->epoch;
	return 0;
}

int
mgrclient_renew(struct soap_client *c, const char *manager_url, const char *node,
    const char *incarnation, const struct mgr_claim *claims, unsigned n,
    struct mgr_claim *granted, unsigned *n_granted, unsigned *lease_ms)
{
	struct _mgr__Renew req;
	struct _mgr__RenewResponse resp;
	struct mgr__Claim *list = NULL;
	struct soap *soap;
	unsigned try, i, got;
	int rc;

	if (n > MGR_ASSIGNMENTS_MAX)
		return PARLEY_EINVAL;
	for (try = 0;; try++) {
		soap = soap_client_begin(c, mgr_namespaces);
		soap_default__mgr__Renew(soap, &req);
		if (n > 0 && (list = soap_malloc(soap, n * sizeof *list)) == NULL) {
			soap_client_done(c);
			return PARLEY_ENOMEM;
		}
		for (i = 0; i < n; i++) {
			soap_default_mgr__Claim(soap, &list[i]);
			list[i].group = (char *)claims[i].group;
			list[i].epoch = (LONG64)claims[i].epoch;
		}
		req.nodeId = (char *)node;
		req.incarnation = (char *)incarnation;
		req.__sizeclaim = (int)n;
		req.claim = n > 0 ? list : NULL;
		rc = soap_call___mgr__Renew(soap, manager_url, NULL, &req, &resp);
		rc = soap_client_result(c, rc, "Renew", manager_url, try);
		if (rc == 0) {
			got = resp.__sizegranted > 0 && resp.granted != NULL ?
			    (unsigned)resp.__sizegranted : 0;
			if (resp.leaseMs < 0 || got > n)
				rc = soap_client_bad_answer(c, "Renew: the manager's answer is malformed");
			for (i = 0; i < got && rc == 0; i++) {
				memset(&granted[i], 0, sizeof granted[i]);
				if (resp.granted[i].group == NULL || resp.granted[i].epoch < 0 ||
				    fit(granted[i].group, sizeof granted[i].group,
				    resp.granted[i].group) != 0)
					rc = soap_client_bad_answer(c, "Renew: the manager granted a "
					    "malformed claim");
				else
					granted[i].epoch = (uint64_t)resp.granted[i].epoch;
			}
			if (rc == 0) {
				*n_granted = got;
				*lease_ms = (unsigned)resp.leaseMs;
			}
		}
		soap_client_done(c);
		if (rc != PARLEY_AGAIN)
			return rc;
	}
}

int
mgrclient_register_node(struct soap_client *c, const char *manager_url, const char *id,
    const char *address, const char *incarnation, int replicated,
    char manager_incarnation[MGR_INCARNATION_MAX],
    unsigned *heartbeat_interval_ms, struct mgr_group *groups, unsigned *n_groups)
{
	enum xsd__boolean yes = xsd__boolean__true_;
	struct _mgr__RegisterNode req;
	struct _mgr__RegisterNodeResponse resp;
	struct soap *soap;
	unsigned try, i, n;
	int rc;

	for (try = 0;; try++) {
		soap = soap_client_begin(c, mgr_namespaces);
		soap_default__mgr__RegisterNode(soap, &req);
		req.nodeId = (char *)id;
		req.address = (char *)address;
		req.incarnation = (char *)incarnation;
		req.replicated = replicated ? &yes : NULL;
		rc = soap_call___mgr__RegisterNode(soap, manager_url, NULL, &req, &resp);
		rc = soap_client_result(c, rc, "RegisterNode", manager_url, try);
		if (rc == 0) {
			n = resp.__sizegroup > 0 && resp.group != NULL ?
			    (unsigned)resp.__sizegroup : 0;
			if (n > *n_groups)
				n = *n_groups;
			if (resp.managerIncarnation == NULL || resp.heartbeatIntervalMs <= 0 ||
			    strlen(resp.managerIncarnation) >= MGR_INCARNATION_MAX)
				rc = soap_client_bad_answer(c, "RegisterNode: the manager's "
				    "answer has no usable incarnation or heartbeat interval");
			for (i = 0; i < n && rc == 0; i++)
				rc = take_group(c, &groups[i], &resp.group[i]);
			if (rc == 0) {
				snprintf(manager_incarnation, MGR_INCARNATION_MAX, "%s",
				    resp.managerIncarnation);
				*heartbeat_interval_ms = (unsigned)resp.heartbeatIntervalMs;
				*n_groups = n;
			}
		}
		soap_client_done(c);
		if (rc != PARLEY_AGAIN)
			return rc;
	}
}

int
mgrclient_locate(struct soap_client *c, const char *manager_url, const char *group,
    struct mgr_route *out)
{
	struct _mgr__Locate req;
	struct _mgr__LocateResponse resp;
	struct mgr_route route;
	const struct mgr__Route *r;
	struct soap *soap;
	unsigned try;
	int rc;

	for (try = 0;; try++) {
		soap = soap_client_begin(c, mgr_namespaces);
		soap_default__mgr__Locate(soap, &req);
		req.__union_Locate = SOAP_UNION__mgr__union_Locate_group;
		req.union_Locate.group = (char *)group;
		rc = soap_call___mgr__Locate(soap, manager_url, NULL, &req, &resp);
		rc = soap_client_result(c, rc, "Locate", manager_url, try);
		if (rc == 0) {
			memset(&route, 0, sizeof route);
			r = resp.route;
			if (r == NULL || r->group == NULL || r->node == NULL ||
			    r->address == NULL || r->epoch < 0 ||
			    fit(route.group, sizeof route.group, r->group) != 0 ||
			    fit(route.node, sizeof route.node, r->node) != 0 ||
			    fit(route.address, sizeof route.address, r->address) != 0)
				rc = soap_client_bad_answer(c, "Locate: the manager answered "
				    "with a malformed route");
			if (rc == 0) {
				route.epoch = (uint64_t)r->epoch;
				route.alive = r->alive == xsd__boolean__true_;
				*out = route;
				/* A route to no node: the manager knows no such group. */
				if (route.node[0] == '\0')
					rc = PARLEY_ENOENT;
			}
		}
		soap_client_done(c);
		if (rc != PARLEY_AGAIN)
			return rc;
	}
}

int
mgrclient_register_conversations(struct soap_client *c, const char *manager_url,
    const struct mgr_conv *convs, unsigned n)
{
	struct _mgr__RegisterConversation req;
	struct _mgr__RegisterConversationResponse resp;
	struct mgr__Conversation *list;
	struct soap *soap;
	LONG64 *ended;
	unsigned try, i;
	int rc;

	if (n == 0)
		return 0;
	for (try = 0;; try++) {
		soap = soap_client_begin(c, mgr_namespaces);
		soap_default__mgr__RegisterConversation(soap, &req);
		if ((list = soap_malloc(soap, n * sizeof *list)) == NULL ||
		    (ended = soap_malloc(soap, n * sizeof *ended)) == NULL) {
			soap_client_done(c);
			return PARLEY_ENOMEM;
		}
		for (i = 0; i < n; i++) {
			soap_default_mgr__Conversation(soap, &list[i]);
			list[i].id = (char *)convs[i].id;
			list[i].group = convs[i].group[0] != '\0' ? (char *)convs[i].group : NULL;
			list[i].service = (char *)convs[i].service;
			list[i].replyTo = convs[i].reply_to[0] != '\0' ? (char *)convs[i].reply_to :
			    NULL;
			list[i].from = convs[i].from[0] != '\0' ? (char *)convs[i].from : NULL;
			list[i].created = (LONG64)convs[i].created_ms;
			ended[i] = (LONG64)convs[i].ended_ms;
			list[i].ended = convs[i].ended_ms != 0 ? &ended[i] : NULL;
		}
		req.__sizeconversation = (int)n;
		req.conversation = list;
		rc = soap_call___mgr__RegisterConversation(soap, manager_url, NULL, &req, &resp);
		rc = soap_client_result(c, rc, "RegisterConversation", manager_url, try);
		soap_client_done(c);
		if (rc != PARLEY_AGAIN)
			return rc;
	}
}

int
mgrclient_end_conversations(struct soap_client *c, const char *manager_url,
    const char *const *ids, const int64_t *ended_ms, unsigned n)
{
	struct _mgr__EndConversation req;
	struct _mgr__EndConversationResponse resp;
	struct mgr__Ending *list;
	struct soap *soap;
	unsigned try, i;
	int rc;

	if (n == 0)
		return 0;
	for (try = 0;; try++) {
		soap = soap_client_begin(c, mgr_namespaces);
		soap_default__mgr__EndConversation(soap, &req);
		if ((list = soap_malloc(soap, n * sizeof *list)) == NULL) {
			soap_client_done(c);
			return PARLEY_ENOMEM;
		}
		for (i = 0; i < n; i++) {
			soap_default_mgr__Ending(soap, &list[i]);
			list[i].id = (char *)ids[i];
			list[i].ended = (LONG64)ended_ms[i];
		}
		req.__sizeending = (int)n;
		req.ending = list;
		rc = soap_call___mgr__EndConversation(soap, manager_url, NULL, &req, &resp);
		rc = soap_client_result(c, rc, "EndConversation", manager_url, try);
		soap_client_done(c);
		if (rc != PARLEY_AGAIN)
			return rc;
	}
}

int
mgrclient_list_nodes(struct soap_client *c, const char *manager_url, struct mgr_node **out,
    unsigned *n)
{
	struct _mgr__ListNodes req;
	struct _mgr__ListNodesResponse resp;
	struct mgr_node *nodes = NULL;
	struct soap *soap;
	unsigned try, i, count;
	int rc;

	*out = NULL;
	*n = 0;
	for (try = 0;; try++) {
		soap = soap_client_begin(c, mgr_namespaces);
		soap_default__mgr__ListNodes(soap, &req);
		rc = soap_call___mgr__ListNodes(soap, manager_url, NULL, &req, &resp);
		rc = soap_client_result(c, rc, "ListNodes", manager_url, try);
		if (rc == 0) {
			count = resp.__sizenode > 0 ? (unsigned)resp.__sizenode : 0;
			nodes = calloc(count > 0 ? count : 1, sizeof *nodes);
			if (nodes == NULL)
				rc = PARLEY_ENOMEM;
			for (i = 0; rc == 0 && i < count; i++) {
				const struct mgr__Node *s = &resp.node[i];
				struct mgr_node *d = &nodes[i];

				if (s->id == NULL || s->address == NULL ||
				    fit(d->id, sizeof d->id, s->id) != 0 ||
				    fit(d->address, sizeof d->address, s->address) != 0) {
					rc = soap_client_bad_answer(c, "ListNodes: the manager answered "
					    "with a malformed node");
					break;
				}
				d->alive = s->alive == xsd__boolean__true_;
				d->registered_ms = s->registered;
				d->last_heartbeat_ms = s->lastHeartbeat;
				d->misses = s->misses > 0 ? (unsigned)s->misses : 0;
				d->conversations = s->conversations > 0 ? (unsigned)s->conversations : 0;
			}
			if (rc == 0) {
				*out = nodes;
				*n = count;
				nodes = NULL;
			}
			free(nodes);
			nodes = NULL;
		}
		soap_client_done(c);
		if (rc != PARLEY_AGAIN)
			return rc;
	}
}

int
mgrclient_list_groups(struct soap_client *c, const char *manager_url, struct mgr_group **out,
    unsigned *n)
{
	struct _mgr__ListGroups req;
	struct _mgr__ListGroupsResponse resp;
	struct mgr_group *groups = NULL;
	struct soap *soap;
	unsigned try, i, count;
	int rc;

	*out = NULL;
	*n = 0;
	for (try = 0;; try++) {
		soap = soap_client_begin(c, mgr_namespaces);
		soap_default__mgr__ListGroups(soap, &req);
		rc = soap_call___mgr__ListGroups(soap, manager_url, NULL, &req, &resp);
		rc = soap_client_result(c, rc, "ListGroups", manager_url, try);
		if (rc == 0) {
			count = resp.__sizegroup > 0 ? (unsigned)resp.__sizegroup : 0;
			groups = calloc(count > 0 ? count : 1, sizeof *groups);
			if (groups == NULL)
				rc = PARLEY_ENOMEM;
			for (i = 0; rc == 0 && i < count; i++)
				rc = take_group(c, &groups[i], &resp.group[i]);
			if (rc == 0) {
				*out = groups;
				*n = count;
				groups = NULL;
			}
			free(groups);
			groups = NULL;
		}
		soap_client_done(c);
		if (rc != PARLEY_AGAIN)
			return rc;
	}
}

int
mgrclient_list_conversations(struct soap_client *c, const char *manager_url,
    const struct mgr_conv_filter *f, unsigned offset, unsigned limit, struct mgr_conv **out,
    unsigned *n, unsigned *total)
{
	enum xsd__boolean yes = xsd__boolean__true_;
	struct _mgr__ListConversations req;
	struct _mgr__ListConversationsResponse resp;
	struct mgr_conv *convs = NULL;
	struct soap *soap;
	int off = (int)offset, lim = (int)limit;
	unsigned try, i, count;
	int rc;

	*out = NULL;
	*n = 0;
	*total = 0;
	if (offset > INT32_MAX || limit > LIST_MAX)
		return PARLEY_EINVAL;
	for (try = 0;; try++) {
		soap = soap_client_begin(c, mgr_namespaces);
		soap_default__mgr__ListConversations(soap, &req);
		if (f != NULL) {
			req.node = (char *)f->node;
			req.group = (char *)f->group;
			req.service = (char *)f->service;
			req.session = (char *)f->session;
			req.liveOnly = f->live_only ? &yes : NULL;
		}
		req.offset = &off;
		req.limit = &lim;
		rc = soap_call___mgr__ListConversations(soap, manager_url, NULL, &req, &resp);
		rc = soap_client_result(c, rc, "ListConversations", manager_url, try);
		if (rc == 0) {
			count = resp.__sizeconversation > 0 && resp.conversation != NULL ?
			    (unsigned)resp.__sizeconversation : 0;
			if (count > limit || resp.total < 0)
				rc = soap_client_bad_answer(c, "ListConversations: the manager's "
				    "answer is malformed");
			else if ((convs = calloc(count > 0 ? count : 1, sizeof *convs)) == NULL)
				rc = PARLEY_ENOMEM;
			for (i = 0; rc == 0 && i < count; i++) {
				const struct mgr__Conversation *s = &resp.conversation[i];
				struct mgr_conv *d = &convs[i];

				if (s->id == NULL || s->service == NULL || s->created < 0 ||
				    (s->ended != NULL && *s->ended < 0) ||
				    fit(d->id, sizeof d->id, s->id) != 0 ||
				    fit(d->group, sizeof d->group, s->group) != 0 ||
				    fit(d->service, sizeof d->service, s->service) != 0 ||
				    fit(d->reply_to, sizeof d->reply_to, s->replyTo) != 0 ||
				    fit(d->from, sizeof d->from, s->from) != 0 ||
				    fit(d->session, sizeof d->session, s->session) != 0 ||
				    fit(d->initiator, sizeof d->initiator, s->initiator) != 0) {
					rc = soap_client_bad_answer(c, "ListConversations: the manager "
					    "answered with a malformed conversation");
					break;
				}
				d->created_ms = (int64_t)s->created;
				d->ended_ms = s->ended != NULL ? (int64_t)*s->ended : 0;
			}
			if (rc == 0) {
				*out = convs;
				*n = count;
				*total = (unsigned)resp.total;
				convs = NULL;
			}
			free(convs);
			convs = NULL;
		}
		soap_client_done(c);
		if (rc != PARLEY_AGAIN)
			return rc;
	}
}
