/*
 * test_repl.c - replicated stores (store.c, repl.c, nodelay.c): two and
 * three stores of one group in this process on loopback: sync, acks and
 * what a missing ack returns, failover by promotion, the rollback of a
 * restarted master's unacknowledged tail, membership, switchover by
 * demotion, and TCP_NODELAY on connected sockets.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nodelay.h"
#include "parley.h"
#include "store.h"
#include "unit.h"

#define HOST "127.0.0.1"
#define SYNC_WAIT_MS 10000

/* One replicated store of a test, with the events it reported. */
struct node {
	struct store *st;
	struct store_config cfg;
	struct store_repl repl;
	char home[PATH_MAX];
	atomic_int ev[STORE_EV_PERM_FAILED + 1];
};

static char base[PATH_MAX - 64];

static void
on_event(void *arg, struct store *st, enum store_event ev)
{
	struct node *n = arg;

	(void)st;
	if (ev >= STORE_EV_SYNCED && ev <= STORE_EV_PERM_FAILED)
		atomic_fetch_add(&n->ev[ev], 1);
}

/* A port nothing listens on now: bind port 0, read it, close. */
static unsigned
free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	unsigned port = 0;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return 0;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Describe node n (its directory under base, its port); events are cleared. */
static void
node_init(struct node *n, const char *name, unsigned port, enum store_ack ack)
{
	int i;

	memset(n, 0, sizeof *n);
	for (i = 0; i <= STORE_EV_PERM_FAILED; i++)
		atomic_init(&n->ev[i], 0);
	snprintf(n->home, sizeof n->home, "%s/%s", base, name);
	n->repl.host = HOST;
	n->repl.port = port;
	n->repl.ack = ack;
	n->repl.ack_timeout_ms = 500;
	n->repl.heartbeat_ms = 100;
	n->repl.event = on_event;
	n->repl.event_arg = n;
	n->cfg.home = n->home;
	n->cfg.mode = STORE_REPLICATED;
	n->cfg.sync = STORE_SYNC_WRITE;
	n->cfg.cache_bytes = 4u << 20;
	n->cfg.repl = &n->repl;
}

/* Open n as master (creating its group) or as client of helper_port. */
static int
node_open(struct node *n, enum store_role role, unsigned helper_port)
{
	char err[512];
	int rc;

	n->repl.role = role;
	n->repl.creator = role == STORE_MASTER;
	n->repl.helper_host = helper_port ? HOST : NULL;
	n->repl.helper_port = helper_port;
	rc = store_open(&n->st, &n->cfg, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "store_open %s: %s\n", n->home, err);
	return rc;
}

static void
node_close(struct node *n)
{
	store_close(n->st);
	n->st = NULL;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* 1 once st is synced, 0 after SYNC_WAIT_MS. */
static int
wait_synced(struct store *st)
{
	int64_t until = now_ms() + SYNC_WAIT_MS;

	while (!store_is_synced(st)) {
		if (now_ms() > until)
			return 0;
		sleep_ms(20);
	}
	return 1;
}

/* Start conversation id as the cluster does: STORE_START, then one STORE_UPDATE. */
static int
conv_commit(struct store *st, const char *id, enum store_kind kind, struct conv_meta *m,
    const char *bean, const char *msgid)
{
	struct store_commit c;
	int rc = PARLEY_ETIMEDOUT, tries;

	memset(&c, 0, sizeof c);
	c.id = id;
	c.kind = kind;
	c.meta = m;
	c.bean = bean;
	c.bean_len = strlen(bean);
	c.bean_changed = 1;
	c.msgid = msgid;
	c.response = "<answer/>";
	c.response_len = 9;
	c.soap = 1;
	/*
	 * A replication lockout longer than the store waits (a busy machine,
	 * right after a promotion) is "try again", as a node answers it.
	 */
	for (tries = 0; tries < 50; tries++) {
		if ((rc = store_commit(st, &c)) != PARLEY_ETIMEDOUT)
			break;
		sleep_ms(100);
	}
	return rc;
}

/*
 * Start id and update it once; returns the first failure, else what the
 * update returned (0 or PARLEY_ENOTACKED).
 */
static int
conv_put(struct store *st, const char *id)
{
	struct conv_meta m;
	char msgid[96];
	int rc;

	memset(&m, 0, sizeof m);
	snprintf(m.service, sizeof m.service, "Cart");
	m.created_ms = m.last_access_ms = 1000;
	snprintf(msgid, sizeof msgid, "urn:start:%s", id);
	rc = conv_commit(st, id, STORE_START, &m, "new", msgid);
	if (rc != 0 && rc != PARLEY_ENOTACKED)
		goto done;
	snprintf(msgid, sizeof msgid, "urn:update:%s", id);
	rc = conv_commit(st, id, STORE_UPDATE, &m, "updated", msgid);
done:
	conv_meta_clear(&m);
	return rc;
}

/* 0 when id is stored as conv_put left it, else what store_load said (or -100). */
static int
conv_check(struct store *st, const char *id)
{
	struct store_conv c;
	int rc, tries;

	memset(&c, 0, sizeof c);
	/* A lockout longer than the store waits is "try again" (see conv_commit). */
	for (tries = 0; (rc = store_load(st, id, NULL, &c)) == PARLEY_ETIMEDOUT && tries < 50;
	    tries++)
		sleep_ms(100);
	if (rc == 0 &&
	    (c.meta.seq != 2 || c.bean.len != 7 || memcmp(c.bean.data, "updated", 7) != 0))
		rc = -100;
	if (rc != 0 && rc != PARLEY_ENOENT)
		fprintf(stderr, "\n    conv_check(%s): %d (%s)\n", id, rc,
		    rc == -100 ? "not as stored" : parley_strerror(rc));
	store_conv_clear(&c);
	return rc;
}

/* A master (A) and a synced client (B) of a new group in directories test-a, test-b. */
static void
pair_open(struct node *a, struct node *b, const char *test, enum store_ack ack)
{
	unsigned pa = free_port(), pb = free_port();
	char name[64];

	CU_ASSERT_FATAL(pa != 0 && pb != 0 && pa != pb);
	snprintf(name, sizeof name, "%s-a", test);
	node_init(a, name, pa, ack);
	snprintf(name, sizeof name, "%s-b", test);
	node_init(b, name, pb, ack);
	CU_ASSERT_FATAL(node_open(a, STORE_MASTER, 0) == 0);
	CU_ASSERT_FATAL(node_open(b, STORE_CLIENT, pa) == 0);
	CU_ASSERT_FATAL(wait_synced(b->st));
	CU_ASSERT(atomic_load(&b->ev[STORE_EV_SYNCED]) >= 1);
}

/* TCP_NODELAY is set on both ends of a connection, and connect still fails as it should. */
static void
test_nodelay(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	int lfd, cfd, afd, on = 0, r;

	CU_ASSERT(nodelay_linked() == 1);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(lfd >= 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0);
	CU_ASSERT_FATAL(getsockname(lfd, (struct sockaddr *)&a, &len) == 0);
	CU_ASSERT_FATAL(listen(lfd, 4) == 0);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(cfd >= 0);
	CU_ASSERT_FATAL(connect(cfd, (struct sockaddr *)&a, sizeof a) == 0);
	len = sizeof on;
	CU_ASSERT(getsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 && on == 1);
	afd = accept(lfd, NULL, NULL);
	CU_ASSERT_FATAL(afd >= 0);
	on = 0;
	len = sizeof on;
	CU_ASSERT(getsockopt(afd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 && on == 1);
	close(afd);
	close(cfd);
	close(lfd);

	/* A refused connection still says so. */
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(cfd >= 0);
	errno = 0;
	r = connect(cfd, (struct sockaddr *)&a, sizeof a);
	CU_ASSERT(r == -1 && errno == ECONNREFUSED);
	close(cfd);
}

/*
 * The master's commits reach a synced client, which serves nothing. Ack all
 * waits for every connected copy, and needs one: with the client gone a
 * commit is stored here but PARLEY_ENOTACKED.
 */
static void
test_ack_all(void)
{
	struct node *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	struct store_repl_stats s;
	struct store_conv c;
	struct conv_meta m;
	char id[32];
	int i, rc;

	CU_ASSERT_FATAL(a != NULL && b != NULL);
	pair_open(a, b, "ack_all", STORE_ACK_ALL);
	CU_ASSERT(store_is_master(a->st) == 1);
	CU_ASSERT(store_is_master(b->st) == 0);
	for (i = 0; i < 10; i++) {
		snprintf(id, sizeof id, "conv-%d", i);
		CU_ASSERT_EQUAL(conv_put(a->st, id), 0);
	}
	CU_ASSERT_EQUAL(store_live_count(a->st), 10);
	CU_ASSERT_EQUAL(conv_check(a->st, "conv-3"), 0);

	/* A client serves nothing. */
	memset(&c, 0, sizeof c);
	CU_ASSERT_EQUAL(store_load(b->st, "conv-3", NULL, &c), PARLEY_ESTATE);
	memset(&m, 0, sizeof m);
	snprintf(m.service, sizeof m.service, "Cart");
	CU_ASSERT_EQUAL(conv_commit(b->st, "on-client", STORE_START, &m, "x", "urn:c"),
	    PARLEY_ESTATE);
	CU_ASSERT_EQUAL(store_live_count(b->st), 0);

	CU_ASSERT_EQUAL(store_repl_stats(a->st, &s), 0);
	CU_ASSERT_EQUAL(s.role, STORE_MASTER);
	CU_ASSERT_EQUAL(s.commits, 20);
	CU_ASSERT_EQUAL(s.perm_failed, 0);
	CU_ASSERT_EQUAL(s.sites, 1);
	CU_ASSERT_EQUAL(s.connected, 1);
	CU_ASSERT_EQUAL(store_repl_stats(b->st, &s), 0);
	CU_ASSERT_EQUAL(s.role, STORE_CLIENT);
	CU_ASSERT_EQUAL(s.synced, 1);

	node_close(b);
	/* No copy at all: stored here, not acknowledged. */
	rc = conv_put(a->st, "alone");
	CU_ASSERT_EQUAL(rc, PARLEY_ENOTACKED);
	CU_ASSERT_EQUAL(conv_check(a->st, "alone"), 0);
	CU_ASSERT_EQUAL(store_repl_stats(a->st, &s), 0);
	CU_ASSERT(s.perm_failed >= 1);
	node_close(a);
	free(a);
	free(b);
}

/* Ack one needs a copy: with the client gone a commit is stored but PARLEY_ENOTACKED. */
static void
test_ack_one(void)
{
	struct node *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	struct store_repl_stats s;

	CU_ASSERT_FATAL(a != NULL && b != NULL);
	pair_open(a, b, "ack_one", STORE_ACK_ONE);
	CU_ASSERT_EQUAL(conv_put(a->st, "acked"), 0);
	node_close(b);
	CU_ASSERT_EQUAL(conv_put(a->st, "unacked"), PARLEY_ENOTACKED);
	/* Stored here all the same. */
	CU_ASSERT_EQUAL(conv_check(a->st, "unacked"), 0);
	CU_ASSERT_EQUAL(store_repl_stats(a->st, &s), 0);
	CU_ASSERT_EQUAL(s.commits, 4);
	CU_ASSERT(s.perm_failed >= 1);
	CU_ASSERT(atomic_load(&a->ev[STORE_EV_PERM_FAILED]) >= 1);
	node_close(a);
	free(a);
	free(b);
}

/* Under ack none a commit never waits or fails for a missing client. */
static void
test_ack_none(void)
{
	struct node *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	struct store_repl_stats s;

	CU_ASSERT_FATAL(a != NULL && b != NULL);
	pair_open(a, b, "ack_none", STORE_ACK_NONE);
	CU_ASSERT_EQUAL(conv_put(a->st, "one"), 0);
	node_close(b);
	CU_ASSERT_EQUAL(conv_put(a->st, "two"), 0);
	CU_ASSERT_EQUAL(store_repl_stats(a->st, &s), 0);
	CU_ASSERT_EQUAL(s.perm_failed, 0);
	CU_ASSERT_EQUAL(atomic_load(&a->ev[STORE_EV_PERM_FAILED]), 0);
	node_close(a);
	free(a);
	free(b);
}

/*
 * Failover: the master goes, its client is promoted a moment later and
 * holds every acknowledged commit. Under ack one its dead peer fails every
 * commit until a new client acknowledges; store_set_secondaries removes the
 * dead one from the membership.
 */
static void
test_failover(void)
{
	struct node *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	struct node *c = calloc(1, sizeof *c);
	const char *hosts[1];
	unsigned ports[1];
	struct store_repl_stats s;
	char id[32], err[256];
	int64_t until;
	int i, ok;

	CU_ASSERT_FATAL(a != NULL && b != NULL && c != NULL);
	pair_open(a, b, "failover", STORE_ACK_ONE);
	for (i = 0; i < 10; i++) {
		snprintf(id, sizeof id, "conv-%d", i);
		CU_ASSERT_EQUAL(conv_put(a->st, id), 0);
	}
	node_close(a);
	CU_ASSERT_EQUAL_FATAL(store_promote(b->st, err, sizeof err), 0);
	CU_ASSERT(store_is_master(b->st) == 1);
	CU_ASSERT(store_is_synced(b->st) == 1);
	for (i = 0, ok = 0; i < 10; i++) {
		snprintf(id, sizeof id, "conv-%d", i);
		ok += conv_check(b->st, id) == 0;
	}
	CU_ASSERT_EQUAL(ok, 10);
	CU_ASSERT_EQUAL(store_live_count(b->st), 10);
	CU_ASSERT_EQUAL(store_service_count(b->st, "Cart"), 10);

	/* The old master is still a member: stored here, not acknowledged. */
	CU_ASSERT_EQUAL(conv_put(b->st, "after-failover"), PARLEY_ENOTACKED);
	CU_ASSERT_EQUAL(conv_check(b->st, "after-failover"), 0);

	/* Without it the group is B alone. */
	CU_ASSERT_EQUAL_FATAL(store_set_secondaries(b->st, NULL, NULL, 0, err, sizeof err), 0);
	until = now_ms() + SYNC_WAIT_MS;
	while (store_repl_stats(b->st, &s) == 0 && s.sites > 0 && now_ms() < until)
		sleep_ms(20);
	CU_ASSERT_EQUAL(s.sites, 0);

	/* A new client joins, syncs and acknowledges. */
	node_init(c, "failover-c", free_port(), STORE_ACK_ONE);
	CU_ASSERT_FATAL(node_open(c, STORE_CLIENT, b->repl.port) == 0);
	CU_ASSERT_FATAL(wait_synced(c->st));
	hosts[0] = HOST;
	ports[0] = c->repl.port;
	CU_ASSERT_EQUAL(store_set_secondaries(b->st, hosts, ports, 1, err, sizeof err), 0);
	CU_ASSERT_EQUAL(conv_put(b->st, "with-c"), 0);
	CU_ASSERT_EQUAL(store_repl_stats(b->st, &s), 0);
	CU_ASSERT_EQUAL(s.sites, 1);
	CU_ASSERT_EQUAL(s.connected, 1);

	/* set_secondaries is for a master only. */
	CU_ASSERT_EQUAL(store_set_secondaries(c->st, NULL, NULL, 0, err, sizeof err),
	    PARLEY_ESTATE);
	node_close(c);
	CU_ASSERT_EQUAL(conv_put(b->st, "c-gone"), PARLEY_ENOTACKED);
	node_close(b);
	free(a);
	free(b);
	free(c);
}

/*
 * A restarted master comes back as a client of the promoted one: what it
 * committed without acknowledgement is rolled back, and the rest of the
 * group's history reaches it.
 */
static void
test_rollback(void)
{
	struct node *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	char err[256];

	CU_ASSERT_FATAL(a != NULL && b != NULL);
	pair_open(a, b, "rollback", STORE_ACK_ONE);
	CU_ASSERT_EQUAL(conv_put(a->st, "kept"), 0);
	node_close(b);
	CU_ASSERT_EQUAL(conv_put(a->st, "lost"), PARLEY_ENOTACKED);
	node_close(a);

	/* B restarts as a client (its master is gone) and is promoted. */
	CU_ASSERT_FATAL(node_open(b, STORE_CLIENT, a->repl.port) == 0);
	CU_ASSERT_EQUAL_FATAL(store_promote(b->st, err, sizeof err), 0);
	CU_ASSERT_EQUAL(conv_check(b->st, "kept"), 0);
	CU_ASSERT_EQUAL(conv_check(b->st, "lost"), PARLEY_ENOENT);
	CU_ASSERT_EQUAL(conv_put(b->st, "later"), PARLEY_ENOTACKED);

	/* A restarts as a client of B, as every restarted node does. */
	CU_ASSERT_FATAL(node_open(a, STORE_CLIENT, b->repl.port) == 0);
	CU_ASSERT_FATAL(wait_synced(a->st));
	CU_ASSERT_EQUAL(conv_put(b->st, "acked"), 0);
	node_close(b);

	CU_ASSERT_EQUAL_FATAL(store_promote(a->st, err, sizeof err), 0);
	CU_ASSERT_EQUAL(conv_check(a->st, "kept"), 0);
	CU_ASSERT_EQUAL(conv_check(a->st, "later"), 0);
	CU_ASSERT_EQUAL(conv_check(a->st, "acked"), 0);
	CU_ASSERT_EQUAL(conv_check(a->st, "lost"), PARLEY_ENOENT);
	CU_ASSERT_EQUAL(store_live_count(a->st), 3);
	node_close(a);
	free(a);
	free(b);
}

/* Switchover: the master is demoted, its client promoted, and the old master syncs to it. */
static void
test_switchover(void)
{
	struct node *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	struct store_conv c;
	char err[256];

	CU_ASSERT_FATAL(a != NULL && b != NULL);
	pair_open(a, b, "switchover", STORE_ACK_ALL);
	CU_ASSERT_EQUAL(conv_put(a->st, "one"), 0);
	CU_ASSERT_EQUAL_FATAL(store_demote(a->st, err, sizeof err), 0);
	CU_ASSERT(store_is_master(a->st) == 0);
	CU_ASSERT_EQUAL(store_live_count(a->st), 0);
	CU_ASSERT_EQUAL(conv_put(a->st, "refused"), PARLEY_ESTATE);
	memset(&c, 0, sizeof c);
	CU_ASSERT_EQUAL(store_load(a->st, "one", NULL, &c), PARLEY_ESTATE);

	CU_ASSERT_EQUAL_FATAL(store_promote(b->st, err, sizeof err), 0);
	CU_ASSERT_EQUAL(conv_check(b->st, "one"), 0);
	CU_ASSERT_FATAL(wait_synced(a->st));
	CU_ASSERT(atomic_load(&a->ev[STORE_EV_NEW_MASTER]) >= 1);
	CU_ASSERT_EQUAL(conv_put(b->st, "two"), 0);
	CU_ASSERT_EQUAL(atomic_load(&b->ev[STORE_EV_DUPMASTER]), 0);
	node_close(a);
	node_close(b);
	free(a);
	free(b);
}

/* Open refuses a replicated store without its settings. */
static void
test_config(void)
{
	struct store_config cfg;
	struct store_repl r;
	struct store *st = NULL;
	char home[PATH_MAX], err[256];

	snprintf(home, sizeof home, "%s/bad", base);
	memset(&cfg, 0, sizeof cfg);
	cfg.mode = STORE_REPLICATED;
	cfg.home = home;
	CU_ASSERT_EQUAL(store_open(&st, &cfg, err, sizeof err), PARLEY_EINVAL);
	CU_ASSERT(st == NULL);
	memset(&r, 0, sizeof r);
	r.host = HOST;
	r.port = 0;
	cfg.repl = &r;
	CU_ASSERT_EQUAL(store_open(&st, &cfg, err, sizeof err), PARLEY_EINVAL);
	r.port = free_port();
	r.role = STORE_CLIENT;
	r.creator = 1;
	CU_ASSERT_EQUAL(store_open(&st, &cfg, err, sizeof err), PARLEY_EINVAL);
	CU_ASSERT(st == NULL);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "nodelay", test_nodelay },
		{ "config", test_config },
		{ "ack_all", test_ack_all },
		{ "ack_one", test_ack_one },
		{ "ack_none", test_ack_none },
		{ "failover", test_failover },
		{ "rollback", test_rollback },
		{ "switchover", test_switchover },
		{ NULL, NULL },
	};
	const char *tmp = getenv("TMPDIR");
	int status;

	snprintf(base, sizeof base, "%s/test_repl.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	status = unit_run("repl", tests);
	if (nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		perror("removing the test directory");
	return status;
}
