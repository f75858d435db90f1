/*
 * test_manager.c - the conversation manager (manager.c, directory.c): its
 * tables survive a restart, registration and the ring of secondaries,
 * locating groups, conversations and their listing (by session too),
 * heartbeats (a node that stops answering is dead in time, a frozen one
 * holds nobody up, a node that answers again is alive), and calls from
 * many threads at once. Heartbeats go to a fake function that plays the
 * nodes.
 */
#include "config.h"

#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "idgen.h"
#include "log.h"
#include "manager.h"
#include "parley.h"
#include "unit.h"

/* ---- a fake cluster: how each node answers heartbeats --------------------------------- */

enum fake_mode {
	FAKE_ANSWER = 0,               /* answers at once */
	FAKE_REFUSE,                   /* fails at once, like a killed node's refused connection */
	FAKE_TIMEOUT,                  /* fails after timeout_ms, like a frozen node over TCP */
	FAKE_BLOCK,                    /* returns when its mode changes (ignores the timeout) */
	FAKE_IMPOSTOR                  /* answers in another node's name */
};

#define FAKE_NODES 8

struct fake_node {
	char id[MGR_ID_MAX];
	enum fake_mode mode;
	unsigned calls;
	unsigned answered;
	int in_call;
	struct mgr_heartbeat last;
	unsigned last_timeout_ms;
};

struct fake {
	pthread_mutex_t mu;
	pthread_cond_t changed;
	struct fake_node nodes[FAKE_NODES];
	unsigned overlaps;             /* calls of one node that overlapped: must stay 0 */
};

static void
fake_init(struct fake *f)
{
	memset(f, 0, sizeof *f);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->changed, NULL);
}

static void
fake_fini(struct fake *f)
{
	pthread_cond_destroy(&f->changed);
	pthread_mutex_destroy(&f->mu);
}

/* The node's slot, made on first use (under mu). */
static struct fake_node *
fake_slot(struct fake *f, const char *id)
{
	int i;

	for (i = 0; i < FAKE_NODES; i++)
		if (strcmp(f->nodes[i].id, id) == 0)
			return &f->nodes[i];
	for (i = 0; i < FAKE_NODES; i++)
		if (f->nodes[i].id[0] == '\0') {
			snprintf(f->nodes[i].id, sizeof f->nodes[i].id, "%s", id);
			return &f->nodes[i];
		}
	abort();
}

static void
fake_set(struct fake *f, const char *id, enum fake_mode mode)
{
	pthread_mutex_lock(&f->mu);
	fake_slot(f, id)->mode = mode;
	pthread_cond_broadcast(&f->changed);
	pthread_mutex_unlock(&f->mu);
}

static unsigned
fake_calls(struct fake *f, const char *id)
{
	unsigned n;

	pthread_mutex_lock(&f->mu);
	n = fake_slot(f, id)->calls;
	pthread_mutex_unlock(&f->mu);
	return n;
}

static int
fake_heartbeat(void *arg, const struct mgr_node *node, const struct mgr_heartbeat *hb,
    struct mgr_heartbeat_reply *reply, unsigned timeout_ms)
{
	struct fake *f = arg;
	struct fake_node *n;
	struct timespec ts;
	int rc = 0;

	pthread_mutex_lock(&f->mu);
	n = fake_slot(f, node->id);
	if (n->in_call)
		f->overlaps++;
	n->in_call = 1;
	n->calls++;
	n->last = *hb;
	n->last_timeout_ms = timeout_ms;
	switch (n->mode) {
	case FAKE_ANSWER:
	case FAKE_IMPOSTOR:
		break;
	case FAKE_REFUSE:
		rc = -1;
		break;
	case FAKE_TIMEOUT:
		pthread_mutex_unlock(&f->mu);
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&f->mu);
		rc = -1;
		break;
	case FAKE_BLOCK:
		while (n->mode == FAKE_BLOCK)
			pthread_cond_wait(&f->changed, &f->mu);
		rc = -1;
		break;
	}
	if (rc == 0) {
		snprintf(reply->node, sizeof reply->node, "%s",
		    n->mode == FAKE_IMPOSTOR ? "someone-else" : node->id);
		snprintf(reply->incarnation, sizeof reply->incarnation, "inc-%s", node->id);
		reply->conversations = 0;
		n->answered++;
	}
	n->in_call = 0;
	pthread_mutex_unlock(&f->mu);
	return rc;
}

/* ---- fixture -------------------------------------------------------------------------------- */

struct fx {
	struct manager *m;
	struct manager_config cfg;
	struct fake fake;
	char dir[PATH_MAX - 64];
	char home[PATH_MAX];
	char err[512];
};

static int
fx_open(struct fx *f, unsigned interval_ms, unsigned misses)
{
	const char *tmp = getenv("TMPDIR");

	memset(f, 0, sizeof *f);
	fake_init(&f->fake);
	snprintf(f->dir, sizeof f->dir, "%s/test_manager.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	/* Two levels that do not exist yet: the manager makes them. */
	snprintf(f->home, sizeof f->home, "%s/var/manager", f->dir);
	f->cfg.home = f->home;
	f->cfg.heartbeat_interval_ms = interval_ms;
	f->cfg.heartbeat_misses = misses;
	f->cfg.heartbeat = fake_heartbeat;
	f->cfg.heartbeat_arg = &f->fake;
	return manager_open(&f->m, &f->cfg, f->err, sizeof f->err);
}

static int
fx_reopen(struct fx *f)
{
	manager_close(f->m);
	f->m = NULL;
	return manager_open(&f->m, &f->cfg, f->err, sizeof f->err);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
fx_close(struct fx *f)
{
	manager_close(f->m);
	f->m = NULL;
	fake_fini(&f->fake);
	if (f->dir[0] != '\0')
		nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int
reg(struct manager *m, const char *id, const char *address)
{
	struct mgr_group groups[8];
	unsigned n = 8;

	return manager_register_node(m, id, address, "inc-1", 0, groups, &n);
}

/* A copy of node id as listed, or zeros with alive -1 when there is none. */
static struct mgr_node
node_of(struct manager *m, const char *id)
{
	struct mgr_node *nodes, out;
	unsigned n, i;

	memset(&out, 0, sizeof out);
	out.alive = -1;
	if (manager_list_nodes(m, &nodes, &n) != 0)
		return out;
	for (i = 0; i < n; i++)
		if (strcmp(nodes[i].id, id) == 0)
			out = nodes[i];
	free(nodes);
	return out;
}

static struct mgr_group
group_of(struct manager *m, const char *name)
{
	struct mgr_group *groups, out;
	unsigned n, i;

	memset(&out, 0, sizeof out);
	if (manager_list_groups(m, &groups, &n) != 0)
		return out;
	for (i = 0; i < n; i++)
		if (strcmp(groups[i].name, name) == 0)
			out = groups[i];
	free(groups);
	return out;
}

/* Wait until node id's alive is want; returns the ms it took, or -1 after limit_ms. */
static int64_t
wait_alive(struct manager *m, const char *id, int want, unsigned limit_ms)
{
	int64_t start = mono_ms(), now;

	for (;;) {
		now = mono_ms();
		if (node_of(m, id).alive == want)
			return now - start;
		if (now - start > limit_ms)
			return -1;
		sleep_ms(1);
	}
}

static void
make_conv(struct mgr_conv *c, const char *group, const char *service, int64_t created)
{
	memset(c, 0, sizeof *c);
	CU_ASSERT_EQUAL_FATAL(idgen_make(group, c->id), 0);
	snprintf(c->service, sizeof c->service, "%s", service);
	snprintf(c->reply_to, sizeof c->reply_to, "http://client.example/%s", group);
	c->created_ms = created;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void
test_open_errors(void)
{
	struct manager_config cfg;
	struct manager *m2 = NULL;
	struct fx f;
	char err[512], file[PATH_MAX + 8];
	FILE *fp;

	CU_ASSERT_EQUAL_FATAL(fx_open(&f, 0, 0), 0);
	/* Defaults. */
	CU_ASSERT_EQUAL(manager_heartbeat_interval_ms(f.m), 200);
	CU_ASSERT_EQUAL(strlen(manager_incarnation(f.m)), 32);

	/* The same directory twice: refused, whoever asks. */
	cfg = f.cfg;
	CU_ASSERT_EQUAL(manager_open(&m2, &cfg, err, sizeof err), PARLEY_EIO);
	CU_ASSERT_PTR_NULL(m2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "in use"));

	cfg.heartbeat = NULL;
	CU_ASSERT_EQUAL(manager_open(&m2, &cfg, err, sizeof err), PARLEY_EINVAL);
	cfg = f.cfg;
	cfg.home = "";
	CU_ASSERT_EQUAL(manager_open(&m2, &cfg, err, sizeof err), PARLEY_EINVAL);

	/* A file where the directory should be. */
	snprintf(file, sizeof file, "%s/file", f.dir);
	fp = fopen(file, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fclose(fp);
	cfg = f.cfg;
	cfg.home = file;
	CU_ASSERT_EQUAL(manager_open(&m2, &cfg, err, sizeof err), PARLEY_EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a directory"));
	fx_close(&f);
}

/* A restarted manager knows every node, group and conversation it knew. */
static void
test_reopen(void)
{
	struct mgr_node n1, n2;
	struct mgr_group g;
	struct mgr_conv c[6], *list;
	struct manager_stats st;
	const char *ids[2];
	int64_t ended[2] = { 5000, 0 };
	char inc[MGR_INCARNATION_MAX];
	unsigned n, total, i;
	struct fx f;

	CU_ASSERT_EQUAL_FATAL(fx_open(&f, 50, 3), 0);
	CU_ASSERT_EQUAL(reg(f.m, "n1", "http://127.0.0.1:8081"), 0);
	CU_ASSERT_EQUAL(reg(f.m, "n2", "http://127.0.0.1:8082"), 0);
	for (i = 0; i < 6; i++)
		make_conv(&c[i], i < 4 ? "n1" : "n2", i % 2 ? "cart" : "tally", 1000 + i);
	CU_ASSERT_EQUAL(manager_register_conversations(f.m, c, 6), 0);
	ids[0] = c[0].id;
	ids[1] = c[4].id;
	CU_ASSERT_EQUAL(manager_end_conversations(f.m, ids, ended, 2), 0);
	n1 = node_of(f.m, "n1");
	n2 = node_of(f.m, "n2");
	CU_ASSERT_EQUAL(n1.conversations, 3);
	CU_ASSERT_EQUAL(n2.conversations, 1);
	snprintf(inc, sizeof inc, "%s", manager_incarnation(f.m));

	CU_ASSERT_EQUAL_FATAL(fx_reopen(&f), 0);
	CU_ASSERT_STRING_NOT_EQUAL(manager_incarnation(f.m), inc);
	manager_get_stats(f.m, &st);
	CU_ASSERT_EQUAL(st.nodes, 2);
	CU_ASSERT_EQUAL(st.alive, 2);
	CU_ASSERT_EQUAL(st.groups, 2);
	CU_ASSERT_EQUAL(st.conversations, 4);
	CU_ASSERT_STRING_EQUAL(node_of(f.m, "n1").address, "http://127.0.0.1:8081");
	CU_ASSERT_STRING_EQUAL(node_of(f.m, "n2").incarnation, "inc-1");
	CU_ASSERT_EQUAL(node_of(f.m, "n1").registered_ms, n1.registered_ms);
	CU_ASSERT_EQUAL(node_of(f.m, "n1").conversations, 3);
	CU_ASSERT_EQUAL(node_of(f.m, "n2").conversations, 1);
	g = group_of(f.m, "n2");
	CU_ASSERT_STRING_EQUAL(g.primary, "n2");
	CU_ASSERT_STRING_EQUAL(g.secondary, "n1");
	CU_ASSERT_EQUAL(g.epoch, 1);
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, NULL, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 6);
	CU_ASSERT_EQUAL_FATAL(n, 6);
	for (i = 0; i < n; i++) {
		unsigned j;

		for (j = 0; j < 6 && strcmp(c[j].id, list[i].id) != 0; j++)
			;
		CU_ASSERT_FATAL(j < 6);
		CU_ASSERT_STRING_EQUAL(list[i].group, j < 4 ? "n1" : "n2");
		CU_ASSERT_STRING_EQUAL(list[i].service, c[j].service);
		CU_ASSERT_STRING_EQUAL(list[i].reply_to, c[j].reply_to);
		CU_ASSERT_EQUAL(list[i].created_ms, c[j].created_ms);
		CU_ASSERT(j == 0 ? list[i].ended_ms == 5000 : j == 4 ? list[i].ended_ms > 0 :
		    list[i].ended_ms == 0);
	}
	free(list);
	fx_close(&f);
}

static void
test_register_twice(void)
{
	struct mgr_group groups[4];
	struct mgr_route r;
	struct manager_stats st;
	unsigned n = 4;
	struct fx f;

	CU_ASSERT_EQUAL_FATAL(fx_open(&f, 50, 3), 0);
	CU_ASSERT_EQUAL(manager_register_node(f.m, "n1", "http://127.0.0.1:8081", "a", 0, groups, &n),
	    0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_STRING_EQUAL(groups[0].name, "n1");
	CU_ASSERT_STRING_EQUAL(groups[0].primary, "n1");
	CU_ASSERT_STRING_EQUAL(groups[0].secondary, "");
	CU_ASSERT_EQUAL(groups[0].epoch, 1);
	/* Moved to another port: same node, same group, same epoch. */
	n = 4;
	CU_ASSERT_EQUAL(manager_register_node(f.m, "n1", "http://[::1]:9091", "b", 0, groups, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(groups[0].epoch, 1);
	CU_ASSERT_EQUAL(manager_locate(f.m, "n1", &r), 0);
	CU_ASSERT_STRING_EQUAL(r.address, "http://[::1]:9091");
	CU_ASSERT_STRING_EQUAL(node_of(f.m, "n1").incarnation, "b");
	manager_get_stats(f.m, &st);
	CU_ASSERT_EQUAL(st.nodes, 1);
	CU_ASSERT_EQUAL(st.groups, 1);
	CU_ASSERT_EQUAL(st.registrations, 2);

	/* Bad input changes nothing. */
	n = 4;
	CU_ASSERT_EQUAL(manager_register_node(f.m, "N1", "http://h:1", "", 0, groups, &n),
	    PARLEY_EINVAL);
	CU_ASSERT_EQUAL(n, 0);
	n = 4;
	CU_ASSERT_EQUAL(manager_register_node(f.m, "n1", "ftp://h:1", "", 0, groups, &n),
	    PARLEY_EINVAL);
	CU_ASSERT_EQUAL(manager_register_node(f.m, "n1", "http://h", "", 0, groups, &n),
	    PARLEY_EINVAL);
	CU_ASSERT_EQUAL(manager_register_node(f.m, "n1", "http://h:70000", "", 0, groups, &n),
	    PARLEY_EINVAL);
	CU_ASSERT_EQUAL(manager_register_node(f.m, "n1", "http://h:80/x", "", 0, groups, &n),
	    PARLEY_EINVAL);
	CU_ASSERT_EQUAL(manager_register_node(f.m, "n1", "http://h:80", "has space", 0, groups, &n),
	    PARLEY_EINVAL);
	CU_ASSERT_EQUAL(manager_register_node(f.m, "-n", "http://h:80", "", 0, groups, &n),
	    PARLEY_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(manager_check_node("", "http://h:80", ""));
	CU_ASSERT_PTR_NULL(manager_check_node("n-1", "http://my-host.example:80", ""));
	CU_ASSERT_STRING_EQUAL(node_of(f.m, "n1").address, "http://[::1]:9091");
	manager_get_stats(f.m, &st);
	CU_ASSERT_EQUAL(st.nodes, 1);
	fx_close(&f);
}

/* Each group's secondary is the node after its primary in the sorted list. */
static void
test_ring(void)
{
	struct mgr_group groups[8];
	unsigned n;
	struct fx f;

	CU_ASSERT_EQUAL_FATAL(fx_open(&f, 50, 3), 0);
	CU_ASSERT_EQUAL(reg(f.m, "n3", "http://127.0.0.1:8083"), 0);
	CU_ASSERT_STRING_EQUAL(group_of(f.m, "n3").secondary, "");

	CU_ASSERT_EQUAL(reg(f.m, "n1", "http://127.0.0.1:8081"), 0);
	CU_ASSERT_STRING_EQUAL(group_of(f.m, "n1").secondary, "n3");
	CU_ASSERT_STRING_EQUAL(group_of(f.m, "n3").secondary, "n1");

	n = 8;
	CU_ASSERT_EQUAL(manager_register_node(f.m, "n2", "http://127.0.0.1:8082", "x", 0, groups, &n),
	    0);
	CU_ASSERT_STRING_EQUAL(group_of(f.m, "n1").secondary, "n2");
	CU_ASSERT_STRING_EQUAL(group_of(f.m, "n2").secondary, "n3");
	CU_ASSERT_STRING_EQUAL(group_of(f.m, "n3").secondary, "n1");
	CU_ASSERT_STRING_EQUAL(group_of(f.m, "n2").primary, "n2");
	CU_ASSERT_EQUAL(group_of(f.m, "n2").epoch, 1);
	/* n2 is primary of n2 and secondary of n1, in name order. */
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(groups[0].name, "n1");
	CU_ASSERT_STRING_EQUAL(groups[1].name, "n2");
	/* The caller's capacity is respected. */
	n = 1;
	CU_ASSERT_EQUAL(manager_register_node(f.m, "n2", "http://127.0.0.1:8082", "x", 0, groups, &n),
	    0);
	CU_ASSERT_EQUAL(n, 1);

	/* The ring is stored. */
	CU_ASSERT_EQUAL_FATAL(fx_reopen(&f), 0);
	CU_ASSERT_STRING_EQUAL(group_of(f.m, "n1").secondary, "n2");
	CU_ASSERT_STRING_EQUAL(group_of(f.m, "n2").secondary, "n3");
	CU_ASSERT_STRING_EQUAL(group_of(f.m, "n3").secondary, "n1");
	fx_close(&f);
}

static void
test_locate(void)
{
	struct mgr_route r;
	struct manager_stats st;
	struct fx f;

	CU_ASSERT_EQUAL_FATAL(fx_open(&f, 50, 3), 0);
	CU_ASSERT_EQUAL(reg(f.m, "n1", "http://127.0.0.1:8081"), 0);
	CU_ASSERT_EQUAL(manager_locate(f.m, "n1", &r), 0);
	CU_ASSERT_STRING_EQUAL(r.group, "n1");
	CU_ASSERT_STRING_EQUAL(r.node, "n1");
	CU_ASSERT_STRING_EQUAL(r.address, "http://127.0.0.1:8081");
	CU_ASSERT_EQUAL(r.epoch, 1);
	CU_ASSERT_EQUAL(r.alive, 1);
	CU_ASSERT_EQUAL(manager_locate(f.m, "nobody", &r), PARLEY_ENOENT);
	CU_ASSERT_STRING_EQUAL(r.node, "");
	manager_get_stats(f.m, &st);
	CU_ASSERT_EQUAL(st.locates, 2);
	fx_close(&f);
}

static int
has_id(const struct mgr_conv *list, unsigned n, const char *id)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i].id, id) == 0)
			return 1;
	return 0;
}

static void
test_conversations(void)
{
	struct mgr_conv c[10], again, bad, *list, *page;
	struct mgr_conv_filter flt;
	struct manager_stats st;
	const char *ids[3];
	int64_t ended[3] = { 7000, 0, 7002 };
	char unknown[IDGEN_ID_MAX];
	unsigned n, total, i, np;
	struct fx f;

	CU_ASSERT_EQUAL_FATAL(fx_open(&f, 50, 3), 0);
	CU_ASSERT_EQUAL(reg(f.m, "n1", "http://127.0.0.1:8081"), 0);
	CU_ASSERT_EQUAL(reg(f.m, "n2", "http://127.0.0.1:8082"), 0);
	/* n1: 6 conversations (cart, tally alternating), n2: 4. */
	for (i = 0; i < 10; i++)
		make_conv(&c[i], i < 6 ? "n1" : "n2", i % 2 ? "tally" : "cart", 1000 + i);
	CU_ASSERT_EQUAL(manager_register_conversations(f.m, c, 10), 0);
	CU_ASSERT_EQUAL(node_of(f.m, "n1").conversations, 6);
	CU_ASSERT_EQUAL(node_of(f.m, "n2").conversations, 4);

	/* End three: two of n1, one of n2. */
	ids[0] = c[0].id;
	ids[1] = c[1].id;
	ids[2] = c[9].id;
	CU_ASSERT_EQUAL(manager_end_conversations(f.m, ids, ended, 3), 0);
	CU_ASSERT_EQUAL(node_of(f.m, "n1").conversations, 4);
	CU_ASSERT_EQUAL(node_of(f.m, "n2").conversations, 3);
	manager_get_stats(f.m, &st);
	CU_ASSERT_EQUAL(st.conversations, 7);
	CU_ASSERT_EQUAL(st.conversations_registered, 10);
	CU_ASSERT_EQUAL(st.conversations_ended, 3);

	/* All, sorted by ID. */
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, NULL, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 10);
	CU_ASSERT_EQUAL_FATAL(n, 10);
	for (i = 1; i < n; i++)
		CU_ASSERT(strcmp(list[i - 1].id, list[i].id) < 0);
	/* Pages of 3 make up the same list. */
	for (i = 0; i < 10; i += 3) {
		CU_ASSERT_EQUAL(manager_list_conversations(f.m, NULL, i, 3, &page, &np, &total), 0);
		CU_ASSERT_EQUAL(total, 10);
		CU_ASSERT_EQUAL_FATAL(np, i + 3 <= 10 ? 3 : 10 - i);
		CU_ASSERT_STRING_EQUAL(page[0].id, list[i].id);
		free(page);
	}
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, NULL, 10, 3, &page, &np, &total), 0);
	CU_ASSERT_EQUAL(np, 0);
	CU_ASSERT_PTR_NULL(page);
	CU_ASSERT_EQUAL(total, 10);
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, NULL, 0, 0, &page, &np, &total), 0);
	CU_ASSERT_EQUAL(np, 0);
	CU_ASSERT_EQUAL(total, 10);
	free(list);

	memset(&flt, 0, sizeof flt);
	flt.group = "n2";
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 4);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT(has_id(list, n, c[9].id));
	free(list);
	flt.live_only = 1;
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 3);
	CU_ASSERT(!has_id(list, n, c[9].id));
	free(list);
	memset(&flt, 0, sizeof flt);
	flt.service = "cart";
	flt.node = "n1";
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 3);
	CU_ASSERT(has_id(list, n, c[0].id) && has_id(list, n, c[2].id) && has_id(list, n, c[4].id));
	free(list);
	flt.live_only = 1;
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 2);
	free(list);
	memset(&flt, 0, sizeof flt);
	flt.node = "nobody";
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 0);
	CU_ASSERT_EQUAL(n, 0);
	free(list);

	/* Registered again: updated, not duplicated, and an ending is kept. */
	again = c[0];
	snprintf(again.service, sizeof again.service, "renamed");
	CU_ASSERT_EQUAL(manager_register_conversations(f.m, &again, 1), 0);
	again = c[2];
	snprintf(again.reply_to, sizeof again.reply_to, "http://other.example/");
	CU_ASSERT_EQUAL(manager_register_conversations(f.m, &again, 1), 0);
	memset(&flt, 0, sizeof flt);
	flt.service = "renamed";
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(list[0].ended_ms, 7000);
	free(list);
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, NULL, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 10);
	free(list);
	CU_ASSERT_EQUAL(node_of(f.m, "n1").conversations, 4);

	/* Ended twice: the first ending stays. */
	ended[0] = 9999;
	CU_ASSERT_EQUAL(manager_end_conversations(f.m, ids, ended, 1), 0);
	flt.service = "renamed";
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(list[0].ended_ms, 7000);
	free(list);

	/* The ending of an unknown conversation is recorded; its start, coming late, keeps it. */
	CU_ASSERT_EQUAL_FATAL(idgen_make("n2", unknown), 0);
	ids[0] = unknown;
	ended[0] = 8000;
	CU_ASSERT_EQUAL(manager_end_conversations(f.m, ids, ended, 1), 0);
	memset(&flt, 0, sizeof flt);
	flt.group = "n2";
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 5);
	free(list);
	CU_ASSERT_EQUAL(node_of(f.m, "n2").conversations, 3);
	make_conv(&again, "n2", "late", 1);
	snprintf(again.id, sizeof again.id, "%s", unknown);
	CU_ASSERT_EQUAL(manager_register_conversations(f.m, &again, 1), 0);
	flt.service = "late";
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(list[0].ended_ms, 8000);
	CU_ASSERT_EQUAL(list[0].created_ms, 1);
	free(list);
	CU_ASSERT_EQUAL(node_of(f.m, "n2").conversations, 3);

	/* Bad records store nothing. */
	bad = c[3];
	snprintf(bad.id, sizeof bad.id, "not-an-id");
	CU_ASSERT_EQUAL(manager_register_conversations(f.m, &bad, 1), PARLEY_EINVAL);
	bad = c[3];
	bad.service[0] = '\0';
	CU_ASSERT_EQUAL(manager_register_conversations(f.m, &bad, 1), PARLEY_EINVAL);
	bad = c[3];
	snprintf(bad.reply_to, sizeof bad.reply_to, "with space");
	CU_ASSERT_PTR_NOT_NULL(manager_check_conv(&bad));
	bad = c[3];
	bad.created_ms = -1;
	CU_ASSERT_PTR_NOT_NULL(manager_check_conv(&bad));
	ids[0] = "nope";
	CU_ASSERT_EQUAL(manager_end_conversations(f.m, ids, ended, 1), PARLEY_EINVAL);
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, NULL, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 11);
	free(list);
	fx_close(&f);
}

/* The list entry for id, or NULL. */
static const struct mgr_conv *
find_conv(const struct mgr_conv *list, unsigned n, const char *id)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i].id, id) == 0)
			return &list[i];
	return NULL;
}

/* A conversation that joined other's session, for service. */
static void
make_member(struct mgr_conv *c, const char *other, const char *service, int64_t created)
{
	memset(c, 0, sizeof *c);
	CU_ASSERT_EQUAL_FATAL(idgen_make_member(other, c->id), 0);
	snprintf(c->service, sizeof c->service, "%s", service);
	c->created_ms = created;
}

/*
 * Sessions: the partner's from is stored and survives a restart; every
 * listed conversation has its session and the service that started it,
 * even when the starter itself is filtered out or on an earlier page; the
 * session filter takes a session's or a member's ID and lists that
 * session alone; a member whose starter has no record has no initiator.
 */
static void
test_sessions(void)
{
	/* 0 shop starter, 1-2 its cart members, 3 cart starter, 4 its member, 5 orphan member. */
	struct mgr_conv c[6], bad, *list;
	const struct mgr_conv *e;
	struct mgr_conv_filter flt;
	char absent[IDGEN_ID_MAX];
	unsigned n, total, i;
	struct fx f;

	CU_ASSERT_EQUAL_FATAL(fx_open(&f, 50, 3), 0);
	CU_ASSERT_EQUAL(reg(f.m, "n1", "http://127.0.0.1:8081"), 0);
	make_conv(&c[0], "n1", "shop", 100);
	snprintf(c[0].from, sizeof c[0].from, "http://buyer.example/b1");
	make_member(&c[1], c[0].id, "cart", 101);
	make_member(&c[2], c[0].id, "cart", 102);
	snprintf(c[2].from, sizeof c[2].from, "http://buyer.example/b2");
	make_conv(&c[3], "n1", "cart", 103);
	make_member(&c[4], c[3].id, "cart", 104);
	CU_ASSERT_EQUAL_FATAL(idgen_make("n1", absent), 0);
	make_member(&c[5], absent, "cart", 105);
	/* Registered in an order unlike the IDs': the listing sorts them. */
	CU_ASSERT_EQUAL(manager_register_conversations(f.m, &c[3], 3), 0);
	CU_ASSERT_EQUAL(manager_register_conversations(f.m, c, 3), 0);
	CU_ASSERT_EQUAL(node_of(f.m, "n1").conversations, 6);

	/* All, and again after a restart: from kept, session and initiator worked out. */
	for (i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(manager_list_conversations(f.m, NULL, 0, 100, &list, &n, &total), 0);
		CU_ASSERT_EQUAL_FATAL(n, 6);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e = find_conv(list, n, c[0].id));
		CU_ASSERT_STRING_EQUAL(e->from, "http://buyer.example/b1");
		CU_ASSERT_STRING_EQUAL(e->reply_to, "http://client.example/n1");
		CU_ASSERT_STRING_EQUAL(e->session, c[0].id);
		CU_ASSERT_STRING_EQUAL(e->initiator, "shop");
		CU_ASSERT_PTR_NOT_NULL_FATAL(e = find_conv(list, n, c[1].id));
		CU_ASSERT_STRING_EQUAL(e->from, "");
		CU_ASSERT_STRING_EQUAL(e->session, c[0].id);
		CU_ASSERT_STRING_EQUAL(e->initiator, "shop");
		CU_ASSERT_PTR_NOT_NULL_FATAL(e = find_conv(list, n, c[2].id));
		CU_ASSERT_STRING_EQUAL(e->from, "http://buyer.example/b2");
		CU_ASSERT_STRING_EQUAL(e->initiator, "shop");
		CU_ASSERT_PTR_NOT_NULL_FATAL(e = find_conv(list, n, c[4].id));
		CU_ASSERT_STRING_EQUAL(e->session, c[3].id);
		CU_ASSERT_STRING_EQUAL(e->initiator, "cart");
		CU_ASSERT_PTR_NOT_NULL_FATAL(e = find_conv(list, n, c[5].id));
		CU_ASSERT_STRING_EQUAL(e->session, absent);
		CU_ASSERT_STRING_EQUAL(e->initiator, "");
		free(list);
		if (i == 0)
			CU_ASSERT_EQUAL_FATAL(fx_reopen(&f), 0);
	}

	/* One session, by its ID or a member's: its starter and members, nothing else. */
	memset(&flt, 0, sizeof flt);
	flt.session = c[0].id;
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 3);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(list[0].id, c[0].id);
	CU_ASSERT(has_id(list, n, c[1].id) && has_id(list, n, c[2].id));
	free(list);
	flt.session = c[2].id;
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 3);
	free(list);
	flt.session = c[4].id;
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 2);
	CU_ASSERT(has_id(list, n, c[3].id) && has_id(list, n, c[4].id));
	free(list);
	flt.session = absent;
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(list[0].id, c[5].id);
	CU_ASSERT_STRING_EQUAL(list[0].initiator, "");
	free(list);

	/* With the service filter the starter is left out, but still names the initiator. */
	flt.session = c[0].id;
	flt.service = "cart";
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT(!has_id(list, n, c[0].id));
	CU_ASSERT_STRING_EQUAL(list[0].initiator, "shop");
	CU_ASSERT_STRING_EQUAL(list[1].initiator, "shop");
	free(list);
	/* And on a page after the starter's. */
	flt.service = NULL;
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 2, 1, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 3);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(list[0].session, c[0].id);
	CU_ASSERT_STRING_EQUAL(list[0].initiator, "shop");
	free(list);
	/* Service alone: every cart of every session. */
	memset(&flt, 0, sizeof flt);
	flt.service = "cart";
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 5);
	CU_ASSERT(!has_id(list, n, c[0].id));
	free(list);
	/* Session and live: an ended member drops out. */
	CU_ASSERT_EQUAL(manager_end_conversations(f.m, (const char *const[]){ c[1].id },
	    (const int64_t[]){ 200 }, 1), 0);
	memset(&flt, 0, sizeof flt);
	flt.session = c[0].id;
	flt.live_only = 1;
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 2);
	CU_ASSERT(!has_id(list, n, c[1].id));
	free(list);

	/* A session that is not an ID is refused; a session nobody has is empty. */
	memset(&flt, 0, sizeof flt);
	flt.session = "n1.nope";
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total),
	    PARLEY_EINVAL);
	CU_ASSERT_EQUAL_FATAL(idgen_make("n1", absent), 0);
	flt.session = absent;
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, 0);
	free(list);

	/* from is checked as reply-to is; registered again, it is replaced. */
	bad = c[0];
	snprintf(bad.from, sizeof bad.from, "with space");
	CU_ASSERT_PTR_NOT_NULL(manager_check_conv(&bad));
	CU_ASSERT_EQUAL(manager_register_conversations(f.m, &bad, 1), PARLEY_EINVAL);
	bad = c[0];
	snprintf(bad.from, sizeof bad.from, "http://buyer.example/b9");
	CU_ASSERT_EQUAL(manager_register_conversations(f.m, &bad, 1), 0);
	memset(&flt, 0, sizeof flt);
	flt.service = "shop";
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 100, &list, &n, &total), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(list[0].from, "http://buyer.example/b9");
	free(list);
	fx_close(&f);
}

/* What a heartbeat says, and that a node registered after the start gets them too. */
static void
test_heartbeat_content(void)
{
	struct mgr_heartbeat hb;
	struct fx f;
	unsigned i;

	CU_ASSERT_EQUAL_FATAL(fx_open(&f, 20, 3), 0);
	CU_ASSERT_EQUAL(reg(f.m, "n1", "http://127.0.0.1:8081"), 0);
	CU_ASSERT_EQUAL(manager_start(f.m), 0);
	CU_ASSERT_EQUAL(manager_start(f.m), 0);
	CU_ASSERT_EQUAL(reg(f.m, "n2", "http://127.0.0.1:8082"), 0);
	for (i = 0; i < 500; i++) {
		if (fake_calls(&f.fake, "n1") >= 3 && fake_calls(&f.fake, "n2") >= 3)
			break;
		sleep_ms(2);
	}
	CU_ASSERT(fake_calls(&f.fake, "n2") >= 3);
	pthread_mutex_lock(&f.fake.mu);
	hb = fake_slot(&f.fake, "n1")->last;
	CU_ASSERT_EQUAL(fake_slot(&f.fake, "n1")->last_timeout_ms, 15);
	pthread_mutex_unlock(&f.fake.mu);
	CU_ASSERT_STRING_EQUAL(hb.node, "n1");
	CU_ASSERT_STRING_EQUAL(hb.manager_incarnation, manager_incarnation(f.m));
	CU_ASSERT(hb.sent_ms > 0);
	CU_ASSERT_EQUAL_FATAL(hb.n_assignments, 2);
	CU_ASSERT_STRING_EQUAL(hb.assignments[0].group, "n1");
	CU_ASSERT_EQUAL(hb.assignments[0].primary, 1);
	CU_ASSERT_EQUAL(hb.assignments[0].epoch, 1);
	CU_ASSERT_STRING_EQUAL(hb.assignments[1].group, "n2");
	CU_ASSERT_EQUAL(hb.assignments[1].primary, 0);
	CU_ASSERT(node_of(f.m, "n1").last_heartbeat_ms > 0);
	fx_close(&f);
	CU_ASSERT_EQUAL(f.fake.overlaps, 0);
}

#define INTERVAL 50
#define MISSES 3
/* The requirement, plus one interval for a busy test machine. */
#define DEAD_WITHIN (INTERVAL * MISSES + INTERVAL)
#define SLACK INTERVAL

/*
 * A node that stops answering is dead within interval x misses + one
 * interval, whether its calls fail at once (killed: connection refused) or
 * after the timeout (frozen: nothing comes back), and alive again at its
 * first answer. The others stay alive throughout.
 */
static void
dead_and_back(enum fake_mode mode, unsigned phase_ms)
{
	struct manager_stats st;
	int64_t took;
	struct fx f;

	CU_ASSERT_EQUAL_FATAL(fx_open(&f, INTERVAL, MISSES), 0);
	CU_ASSERT_EQUAL(reg(f.m, "n1", "http://127.0.0.1:8081"), 0);
	CU_ASSERT_EQUAL(reg(f.m, "n2", "http://127.0.0.1:8082"), 0);
	CU_ASSERT_EQUAL(manager_start(f.m), 0);
	/* Let a few rounds go by, then stop n2 at a moment unrelated to the rounds. */
	sleep_ms(INTERVAL * 3 + phase_ms);
	CU_ASSERT(fake_calls(&f.fake, "n2") >= 3);
	fake_set(&f.fake, "n2", mode);
	took = wait_alive(f.m, "n2", 0, 5000);
	printf("\n    %s, stopped %2u ms into a round: dead after %lld ms (limit %d + %d)",
	    mode == FAKE_REFUSE ? "refused" : "timeouts", phase_ms, (long long)took,
	    DEAD_WITHIN, SLACK);
	/*
	 * Not before MISSES rounds: the first miss may be a round that began
	 * just before the stop (its call ran just after), so a few ms of
	 * thread wake-up less than MISSES - 1 whole intervals is still right.
	 */
	CU_ASSERT(took + 10 >= INTERVAL * (MISSES - 1));
	CU_ASSERT(took >= 0 && took <= DEAD_WITHIN + SLACK);
	CU_ASSERT(node_of(f.m, "n2").misses >= MISSES);
	CU_ASSERT_EQUAL(node_of(f.m, "n1").alive, 1);
	CU_ASSERT_EQUAL(node_of(f.m, "n1").misses, 0);
	manager_get_stats(f.m, &st);
	CU_ASSERT_EQUAL(st.alive, 1);
	CU_ASSERT(st.heartbeats_missed >= MISSES);

	fake_set(&f.fake, "n2", FAKE_ANSWER);
	took = wait_alive(f.m, "n2", 1, 5000);
	printf(", alive again after %lld ms", (long long)took);
	CU_ASSERT(took >= 0 && took <= 2 * INTERVAL + SLACK);
	CU_ASSERT_EQUAL(node_of(f.m, "n2").misses, 0);
	fx_close(&f);
	CU_ASSERT_EQUAL(f.fake.overlaps, 0);
}

/* Stopped early, midway and late in a round. */
static const unsigned phases[] = { 2, 25, 47 };

static void
test_dead_when_refused(void)
{
	unsigned i;

	for (i = 0; i < sizeof phases / sizeof phases[0]; i++)
		dead_and_back(FAKE_REFUSE, phases[i]);
}

static void
test_dead_when_timing_out(void)
{
	unsigned i;

	for (i = 0; i < sizeof phases / sizeof phases[0]; i++)
		dead_and_back(FAKE_TIMEOUT, phases[i]);
}

/*
 * A node whose heartbeat call never returns (a transport that ignores its
 * timeout, or a frozen node) is counted dead on time, and the other nodes'
 * heartbeats go on at their rhythm meanwhile.
 */
static void
test_frozen_delays_nobody(void)
{
	unsigned before1, before3, after1, after3, calls2;
	int64_t took, start;
	struct fx f;

	CU_ASSERT_EQUAL_FATAL(fx_open(&f, INTERVAL, MISSES), 0);
	CU_ASSERT_EQUAL(reg(f.m, "n1", "http://127.0.0.1:8081"), 0);
	CU_ASSERT_EQUAL(reg(f.m, "n2", "http://127.0.0.1:8082"), 0);
	CU_ASSERT_EQUAL(reg(f.m, "n3", "http://127.0.0.1:8083"), 0);
	CU_ASSERT_EQUAL(manager_start(f.m), 0);
	sleep_ms(INTERVAL * 2 + 13);
	fake_set(&f.fake, "n2", FAKE_BLOCK);
	start = mono_ms();
	calls2 = fake_calls(&f.fake, "n2");
	before1 = fake_calls(&f.fake, "n1");
	before3 = fake_calls(&f.fake, "n3");
	took = wait_alive(f.m, "n2", 0, 5000);
	printf("\n    blocked: dead after %lld ms (limit %d + %d)", (long long)took, DEAD_WITHIN,
	    SLACK);
	CU_ASSERT(took >= 0 && took <= DEAD_WITHIN + SLACK);
	/* n2's call still hangs; the others go on. */
	sleep_ms(INTERVAL * 6);
	after1 = fake_calls(&f.fake, "n1");
	after3 = fake_calls(&f.fake, "n3");
	took = mono_ms() - start;
	printf(", meanwhile n1 got %u and n3 %u heartbeats in %lld ms", after1 - before1,
	    after3 - before3, (long long)took);
	CU_ASSERT(after1 - before1 >= (unsigned)(took / INTERVAL) - 2);
	CU_ASSERT(after3 - before3 >= (unsigned)(took / INTERVAL) - 2);
	CU_ASSERT_EQUAL(node_of(f.m, "n1").alive, 1);
	CU_ASSERT_EQUAL(node_of(f.m, "n3").alive, 1);
	/* Still dead, and no second call was made while the first hangs. */
	CU_ASSERT(fake_calls(&f.fake, "n2") - calls2 <= 1);
	CU_ASSERT_EQUAL(node_of(f.m, "n2").alive, 0);
	/* Thawed: its hanging call fails, the next one answers. */
	fake_set(&f.fake, "n2", FAKE_ANSWER);
	took = wait_alive(f.m, "n2", 1, 5000);
	CU_ASSERT(took >= 0 && took <= 2 * INTERVAL + SLACK);
	fx_close(&f);
	CU_ASSERT_EQUAL(f.fake.overlaps, 0);
}

/* An answer in another node's name (someone else at that address) is a miss. */
static void
test_impostor(void)
{
	struct fx f;

	CU_ASSERT_EQUAL_FATAL(fx_open(&f, 20, 2), 0);
	CU_ASSERT_EQUAL(reg(f.m, "n1", "http://127.0.0.1:8081"), 0);
	fake_set(&f.fake, "n1", FAKE_IMPOSTOR);
	CU_ASSERT_EQUAL(manager_start(f.m), 0);
	CU_ASSERT(wait_alive(f.m, "n1", 0, 5000) >= 0);
	/* Registering again is proof of life. */
	CU_ASSERT_EQUAL(reg(f.m, "n1", "http://127.0.0.1:8081"), 0);
	CU_ASSERT_EQUAL(node_of(f.m, "n1").alive, 1);
	fx_close(&f);
}

/* ---- many threads -------------------------------------------------------------------------- */

#define THREADS 8
#define PER_THREAD 200
#define BATCH 10

struct worker {
	struct manager *m;
	int index;
	int failures;
	char ids[PER_THREAD][IDGEN_ID_MAX];
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct mgr_conv batch[BATCH];
	struct mgr_route r;
	struct mgr_node *nodes;
	const char *ids[BATCH];
	int64_t ended[BATCH];
	char group[16], address[64];
	unsigned n, i, j;

	snprintf(group, sizeof group, "w%d", w->index);
	snprintf(address, sizeof address, "http://127.0.0.1:%d", 9000 + w->index);
	if (reg(w->m, group, address) != 0)
		w->failures++;
	for (i = 0; i < PER_THREAD; i += BATCH) {
		for (j = 0; j < BATCH; j++) {
			memset(&batch[j], 0, sizeof batch[j]);
			if (idgen_make(group, batch[j].id) != 0)
				w->failures++;
			snprintf(batch[j].service, sizeof batch[j].service, "svc%u", j % 3);
			batch[j].created_ms = 1;
			memcpy(w->ids[i + j], batch[j].id, sizeof w->ids[i + j]);
		}
		if (manager_register_conversations(w->m, batch, BATCH) != 0)
			w->failures++;
		/* End every other one of the batch: half of them end. */
		for (j = 0; j < BATCH / 2; j++) {
			ids[j] = w->ids[i + 2 * j];
			ended[j] = 0;
		}
		if (manager_end_conversations(w->m, ids, ended, BATCH / 2) != 0)
			w->failures++;
		if (manager_locate(w->m, group, &r) != 0 || strcmp(r.address, address) != 0)
			w->failures++;
		if (manager_list_nodes(w->m, &nodes, &n) != 0)
			w->failures++;
		else
			free(nodes);
	}
	return NULL;
}

static void
test_threads(void)
{
	struct worker *w;
	pthread_t t[THREADS];
	struct manager_stats st;
	struct mgr_conv *list;
	struct mgr_conv_filter flt;
	unsigned n, total;
	char group[16];
	struct fx f;
	int i;

	w = calloc(THREADS, sizeof *w);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_EQUAL_FATAL(fx_open(&f, 20, 3), 0);
	CU_ASSERT_EQUAL(manager_start(f.m), 0);
	for (i = 0; i < THREADS; i++) {
		w[i].m = f.m;
		w[i].index = i;
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		CU_ASSERT_EQUAL(w[i].failures, 0);
	}
	manager_get_stats(f.m, &st);
	CU_ASSERT_EQUAL(st.nodes, THREADS);
	CU_ASSERT_EQUAL(st.groups, THREADS);
	CU_ASSERT_EQUAL(st.conversations, THREADS * PER_THREAD / 2);
	CU_ASSERT_EQUAL(st.conversations_registered, THREADS * PER_THREAD);
	CU_ASSERT_EQUAL(st.conversations_ended, THREADS * PER_THREAD / 2);
	for (i = 0; i < THREADS; i++) {
		snprintf(group, sizeof group, "w%d", i);
		CU_ASSERT_EQUAL(node_of(f.m, group).conversations, PER_THREAD / 2);
	}
	memset(&flt, 0, sizeof flt);
	flt.live_only = 1;
	CU_ASSERT_EQUAL(manager_list_conversations(f.m, &flt, 0, 1, &list, &n, &total), 0);
	CU_ASSERT_EQUAL(total, THREADS * PER_THREAD / 2);
	free(list);
	/* The ring over 8 nodes: w0 -> w1 -> ... -> w7 -> w0. */
	CU_ASSERT_STRING_EQUAL(group_of(f.m, "w7").secondary, "w0");
	CU_ASSERT_STRING_EQUAL(group_of(f.m, "w3").secondary, "w4");

	/* The counts are rebuilt from the table at open. */
	CU_ASSERT_EQUAL_FATAL(fx_reopen(&f), 0);
	manager_get_stats(f.m, &st);
	CU_ASSERT_EQUAL(st.conversations, THREADS * PER_THREAD / 2);
	CU_ASSERT_EQUAL(node_of(f.m, "w5").conversations, PER_THREAD / 2);
	fx_close(&f);
	CU_ASSERT_EQUAL(f.fake.overlaps, 0);
	free(w);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "open: defaults, a directory in use, bad configuration", test_open_errors },
		{ "a restart loses no node, group or conversation", test_reopen },
		{ "a node registered twice keeps its group; bad input changes nothing",
		    test_register_twice },
		{ "the ring of secondaries with 1, 2 and 3 nodes", test_ring },
		{ "locate a known and an unknown group", test_locate },
		{ "conversations: register, end, list with filters and pages, live counts",
		    test_conversations },
		{ "sessions: from kept, session and initiator listed, the session filter",
		    test_sessions },
		{ "what a heartbeat carries; a node registered later gets them",
		    test_heartbeat_content },
		{ "a killed node (refused) is dead in time and alive again",
		    test_dead_when_refused },
		{ "a frozen node (timeouts) is dead in time and alive again",
		    test_dead_when_timing_out },
		{ "a heartbeat that never returns delays no other node",
		    test_frozen_delays_nobody },
		{ "an answer in another node's name is a miss", test_impostor },
		{ "8 threads register, end, locate and list at once", test_threads },
		{ NULL, NULL }
	};

	log_init("test_manager", 1, LOG_LEVEL_WARN);
	return unit_run("manager", tests);
}
