/*
 * status.c - the node's status page (GET /parley/status) as JSON: what the
 * node serves and holds, its counters, the cluster as it sees it, and the
 * manager's tables when the node runs the manager.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "dispatch.h"
#include "frontend.h"
#include "locator.h"
#include "manager.h"
#include "parley.h"
#include "registry.h"
#include "router.h"
#include "server.h"
#include "holdings.h"
#include "outbox.h"
#include "store.h"

static const char *phase_names[] = { "none", "start", "continue", "finish" };

static void
put_string(struct buf *b, const char *key, const char *value, int comma)
{
	buf_printf(b, "%s\"%s\":\"", comma ? "," : "", key);
	buf_put_json(b, value);
	buf_puts(b, "\"");
}

struct service_count {
	const char *service;
	unsigned n;
};

static int
count_service(void *arg, const char *group, struct store *st)
{
	struct service_count *c = arg;

	(void)group;
	c->n += store_service_count(st, c->service);
	return 0;
}

unsigned
frontend_live_conversations(struct frontend *f, const char *name)
{
	struct service_count sc = { name, 0 };

	(void)holdings_each(f->holdings, count_service, &sc);
	return sc.n;
}

static void
put_services(struct frontend *f, struct buf *b)
{
	struct registry_view *v = registry_acquire(f->registry);
	unsigned i, j, n = registry_count(v);

	buf_puts(b, ",\"services\":[");
	for (i = 0; i < n; i++) {
		const struct service *svc = registry_at(v, i);

		buf_puts(b, i ? ",{" : "{");
		put_string(b, "name", svc->name, 0);
		put_string(b, "path", svc->path, 1);
		put_string(b, "module", svc->module_path, 1);
		put_string(b, "descriptor", svc->descriptor_path, 1);
		buf_printf(b, ",\"version\":%u,\"conversations\":%u,\"operations\":[", svc->version,
		    frontend_live_conversations(f, svc->name));
		for (j = 0; j < svc->n_ops; j++) {
			buf_puts(b, j ? ",{" : "{");
			put_string(b, "name", svc->ops[j].name, 0);
			buf_printf(b, ",\"phase\":\"%s\"}", phase_names[svc->ops[j].phase]);
		}
		buf_puts(b, "]}");
	}
	buf_puts(b, "]");
	registry_release(v);
}

struct routes {
	struct buf *b;
	int n;
	int64_t now;
};

static void
put_route(void *arg, const struct mgr_route *r, int64_t learnt_ms)
{
	struct routes *rs = arg;

	buf_puts(rs->b, rs->n++ ? ",{" : "{");
	put_string(rs->b, "group", r->group, 0);
	put_string(rs->b, "node", r->node, 1);
	put_string(rs->b, "address", r->address, 1);
	buf_printf(rs->b, ",\"epoch\":%llu,\"alive\":%s,\"age_ms\":%lld}",
	    (unsigned long long)r->epoch, r->alive ? "true" : "false",
	    (long long)(rs->now - learnt_ms));
}

/* The cluster as this node sees it: its groups, routes and calls. */
/*
 * store = replicated: the groups served (primary) and kept (secondary), and
 * each held group's store as it is.
 */
static void
put_held(struct frontend *f, struct buf *b)
{
	struct holding_info info[MGR_ASSIGNMENTS_MAX];
	unsigned n = holdings_list(f->holdings, info, MGR_ASSIGNMENTS_MAX), i;
	int first;

	buf_puts(b, ",\"groups\":{\"primary\":[");
	for (i = 0, first = 1; i < n; i++)
		if (info[i].serving) {
			buf_puts(b, first ? "\"" : ",\"");
			buf_put_json(b, info[i].group);
			buf_puts(b, "\"");
			first = 0;
		}
	buf_puts(b, "],\"secondary\":[");
	for (i = 0, first = 1; i < n; i++)
		if (!info[i].master) {
			buf_puts(b, first ? "\"" : ",\"");
			buf_put_json(b, info[i].group);
			buf_puts(b, "\"");
			first = 0;
		}
	buf_puts(b, "]},\"held\":[");
	for (i = 0; i < n; i++) {
		buf_puts(b, i ? ",{" : "{");
		put_string(b, "group", info[i].group, 0);
		buf_printf(b, ",\"role\":\"%s\",\"epoch\":%llu,\"serving\":%s,\"synced\":%s,"
		    "\"lease_left_ms\":%lld,\"conversations\":%u,\"not_acked\":%llu",
		    info[i].master ? "primary" : "secondary", (unsigned long long)info[i].epoch,
		    info[i].serving ? "true" : "false", info[i].synced ? "true" : "false",
		    (long long)(info[i].lease_left_ms > 0 ? info[i].lease_left_ms : 0),
		    info[i].conversations, (unsigned long long)info[i].not_acked);
		put_string(b, "repl", info[i].repl, 1);
		put_string(b, "secondary_at", info[i].peer, 1);
		buf_puts(b, "}");
	}
	buf_puts(b, "]");
}

static void
put_cluster(struct frontend *f, struct buf *b, int64_t now)
{
	struct locator_stats ls;
	struct router_stats rs;
	struct routes routes = { b, 0, now };
	unsigned i;
	int first;

	locator_get_stats(f->locator, &ls);
	router_get_stats(f->router, &rs);
	if (holdings_replicated(f->holdings)) {
		put_held(f, b);
		goto cluster;
	}
	buf_puts(b, ",\"groups\":{\"primary\":[\"");
	buf_put_json(b, f->conf->node_id);
	buf_puts(b, "\"");
	for (i = 0; i < ls.n_assignments; i++)
		if (ls.assignments[i].primary && strcmp(ls.assignments[i].group, f->conf->node_id) != 0) {
			buf_puts(b, ",\"");
			buf_put_json(b, ls.assignments[i].group);
			buf_puts(b, "\"");
		}
	buf_puts(b, "],\"secondary\":[");
	for (i = 0, first = 1; i < ls.n_assignments; i++)
		if (!ls.assignments[i].primary) {
			buf_puts(b, first ? "\"" : ",\"");
			buf_put_json(b, ls.assignments[i].group);
			buf_puts(b, "\"");
			first = 0;
		}
	buf_puts(b, "]}");
cluster:
	buf_puts(b, ",\"cluster\":{");
	put_string(b, "manager", f->manager != NULL ? "embedded" : "remote", 0);
	put_string(b, "manager_url", f->manager_url, 1);
	if (ls.manager_now[0] != '\0')
		put_string(b, "manager_in_use", ls.manager_now, 1);
	put_string(b, "incarnation", ls.incarnation, 1);
	put_string(b, "manager_incarnation", ls.manager_incarnation, 1);
	buf_printf(b, ",\"registered\":%s,\"last_heartbeat_ms\":%lld,\"heartbeats\":%llu,"
	    "\"records_queued\":%u,\"records_dropped\":%llu,\"renewals\":%llu,"
	    "\"renewals_failed\":%llu",
	    ls.registered ? "true" : "false", (long long)ls.last_heartbeat_ms,
	    (unsigned long long)ls.heartbeats, ls.queued, (unsigned long long)ls.records_dropped,
	    (unsigned long long)ls.renewals, (unsigned long long)ls.renewals_failed);
	buf_printf(b, ",\"manager_calls\":{\"locate\":%llu,\"register_node\":%llu,"
	    "\"records\":%llu},\"lookups\":{\"owned\":%llu,\"cached\":%llu}",
	    (unsigned long long)ls.locate_calls, (unsigned long long)ls.register_calls,
	    (unsigned long long)ls.record_calls, (unsigned long long)ls.owned,
	    (unsigned long long)ls.cache_hits);
	buf_printf(b, ",\"relay\":{\"forwarded\":%llu,\"failed\":%llu,\"connects\":%llu,"
	    "\"reused\":%llu,\"idle\":%u}",
	    (unsigned long long)rs.forwarded, (unsigned long long)rs.failed,
	    (unsigned long long)rs.connects, (unsigned long long)rs.reused, rs.idle);
	buf_puts(b, ",\"routes\":[");
	locator_each_route(f->locator, put_route, &routes);
	buf_puts(b, "]}");
}

/* The manager's view, when this node runs it: nodes, groups, conversations per node. */
static int
put_manager(struct frontend *f, struct buf *b)
{
	struct mgr_node *nodes = NULL;
	struct mgr_group *groups = NULL;
	struct manager_stats ms;
	unsigned nn = 0, ng = 0, i;
	int rc;

	if (!manager_active(f->manager)) {
		char url[MGR_ADDRESS_MAX + 32];

		/* A standby's tables in memory are stale: only its state and whom it follows. */
		manager_active_url(f->manager, url, sizeof url);
		buf_puts(b, ",\"manager\":{\"state\":\"standby\"");
		put_string(b, "active_url", url, 1);
		buf_puts(b, "}");
		return 0;
	}
	if ((rc = manager_list_nodes(f->manager, &nodes, &nn)) != 0 ||
	    (rc = manager_list_groups(f->manager, &groups, &ng)) != 0)
		goto out;
	manager_get_stats(f->manager, &ms);
	buf_puts(b, ",\"manager\":{\"state\":\"active\"");
	put_string(b, "incarnation", manager_incarnation(f->manager), 1);
	buf_printf(b, ",\"conversations\":%u,\"locates\":%llu,\"heartbeats_sent\":%llu,"
	    "\"heartbeats_missed\":%llu,\"nodes\":[", ms.conversations,
	    (unsigned long long)ms.locates, (unsigned long long)ms.heartbeats_sent,
	    (unsigned long long)ms.heartbeats_missed);
	for (i = 0; i < nn; i++) {
		buf_puts(b, i ? ",{" : "{");
		put_string(b, "id", nodes[i].id, 0);
		put_string(b, "address", nodes[i].address, 1);
		buf_printf(b, ",\"alive\":%s,\"misses\":%u,\"last_heartbeat_ms\":%lld,"
		    "\"registered_ms\":%lld,\"conversations\":%u}", nodes[i].alive ? "true" : "false",
		    nodes[i].misses, (long long)nodes[i].last_heartbeat_ms,
		    (long long)nodes[i].registered_ms, nodes[i].conversations);
	}
	buf_puts(b, "],\"groups\":[");
	for (i = 0; i < ng; i++) {
		buf_puts(b, i ? ",{" : "{");
		put_string(b, "name", groups[i].name, 0);
		put_string(b, "primary", groups[i].primary, 1);
		put_string(b, "secondary", groups[i].secondary, 1);
		buf_printf(b, ",\"secondary_synced\":%s,\"epoch\":%llu}",
		    groups[i].secondary_synced ? "true" : "false", (unsigned long long)groups[i].epoch);
	}
	buf_puts(b, "],\"conversations_per_node\":{");
	for (i = 0; i < nn; i++) {
		buf_puts(b, i ? ",\"" : "\"");
		buf_put_json(b, nodes[i].id);
		buf_printf(b, "\":%u", nodes[i].conversations);
	}
	buf_puts(b, "}}");
out:
	free(nodes);
	free(groups);
	return rc;
}

int
status_write(struct frontend *f, struct buf *b)
{
	static const char *stores[] = { "memory", "disk", "replicated" };
	static const char *syncs[] = { "full", "write", "none" };
	struct dispatch_stats ds;
	struct server_stats ss;
	int64_t now = dispatch_now_ms();

	dispatch_get_stats(f->dispatch, &ds);
	server_get_stats(f->server, &ss);
	buf_puts(b, "{");
	put_string(b, "node", f->conf->node_id, 0);
	put_string(b, "role", f->conf->role == CONF_ROLE_MANAGER ? "manager" : "node", 1);
	put_string(b, "version", PACKAGE_VERSION, 1);
	put_string(b, "listen", server_address(f->server), 1);
	put_string(b, "address", f->address, 1);
	buf_printf(b, ",\"uptime_ms\":%lld,\"store\":\"%s\",\"sync\":\"%s\"",
	    (long long)(now - f->started_ms), stores[f->conf->store], syncs[f->conf->sync]);
	put_services(f, b);
	buf_printf(b, ",\"conversations\":%u", holdings_live_count(f->holdings));
	buf_printf(b, ",\"messages\":{\"total\":%llu,\"faults\":%llu,\"replayed\":%llu,"
	    "\"parked\":%llu,\"started\":%llu,\"finished\":%llu,\"expired\":%llu}",
	    (unsigned long long)ds.messages, (unsigned long long)ds.faults,
	    (unsigned long long)ds.replays, (unsigned long long)ds.parked,
	    (unsigned long long)ds.started, (unsigned long long)ds.finished,
	    (unsigned long long)ds.expired);
	buf_printf(b, ",\"http\":{\"accepted\":%llu,\"requests\":%llu,\"timeouts\":%llu,"
	    "\"refused\":%llu,\"open\":%u,\"busy\":%u}",
	    (unsigned long long)ss.accepted, (unsigned long long)ss.requests,
	    (unsigned long long)ss.timeouts, (unsigned long long)ss.refused, ss.open, ss.busy);
	{
		struct outbox_stats os;

		outbox_get_stats(f->outbox, &os);
		buf_printf(b, ",\"callbacks\":{\"queued\":%llu,\"delivered\":%llu,\"retried\":%llu,"
		    "\"deferred\":%llu,\"given_up\":%llu,\"pending\":%u}",
		    (unsigned long long)ds.queued, (unsigned long long)os.delivered,
		    (unsigned long long)os.retried, (unsigned long long)os.deferred,
		    (unsigned long long)os.given_up, os.pending);
	}
	if (f->locator != NULL)
		put_cluster(f, b, now);
	if (f->manager != NULL && put_manager(f, b) != 0)
		return PARLEY_ENOMEM;
	if (buf_puts(b, "}\n") != 0)
		return PARLEY_ENOMEM;
	return 0;
}
