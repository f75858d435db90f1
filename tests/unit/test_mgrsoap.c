/*
 * test_mgrsoap.c - the SOAP faces of the cluster end to end: a node in this
 * process (the HTTP server, dispatch and the builtins mgr and node, as
 * parleyd wires them) on 127.0.0.1, called with the client wrappers of
 * mgrsoap.h and with raw SOAP messages (conversations by session too); the
 * manager's heartbeats over SOAP; and how the clients report a refused
 * connection, a timeout, a fault, an HTTP error and a kept-alive connection
 * the server closed.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "idgen.h"
#include "log.h"
#include "manager.h"
#include "mgrsoap.h"
#include "parley.h"
#include "registry.h"
#include "server.h"
#include "holdings.h"
#include "store.h"
#include "unit.h"

#define INTERVAL 100
#define MISSES 2

/* The node under test: everything parleyd would hold. */
struct node {
	struct registry *reg;
	struct holdings *st;
	struct dispatch *d;
	struct server *srv;
	struct manager *m;
	struct nodeclient_pool *pool;
	struct node_service ns;
	pthread_mutex_t mu;
	unsigned heartbeats;           /* answered by the node service */
	struct mgr_heartbeat last;
	char dir[PATH_MAX - 64];
	char home[PATH_MAX];
	char address[128];             /* http://127.0.0.1:PORT */
	char manager_url[160];
	int port;
};

static struct node nd;

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The node service's side of a heartbeat. */
static int
answer_heartbeat(void *arg, const struct mgr_heartbeat *hb, struct mgr_heartbeat_reply *reply)
{
	struct node *n = arg;

	pthread_mutex_lock(&n->mu);
	n->heartbeats++;
	n->last = *hb;
	pthread_mutex_unlock(&n->mu);
	snprintf(reply->node, sizeof reply->node, "%s", hb->node);
	snprintf(reply->incarnation, sizeof reply->incarnation, "node-inc");
	reply->conversations = 7;
	return 0;
}

/* ---- a minimal front end: what container/frontend.c does for builtins ------------------ */

static void
message_done(struct message *m)
{
	struct exchange *x = m->owner;

	x->status = m->status;
	x->content_type = m->content_type;
	server_finish(x);
}

static int
front(void *arg, void *worker, struct exchange *x)
{
	struct node *n = arg;
	const struct service *svc = registry_find_path(n->reg, x->req.path);
	struct message m;
	int rc;

	if (svc == NULL) {
		x->status = 404;
		x->content_type = "text/plain";
		buf_puts(&x->body, "no such path\n");
		return 0;
	}
	if (strcmp(x->req.method, "GET") == 0) {
		if (registry_write_wsdl(svc, n->address, &x->body) != 0)
			return PARLEY_ENOMEM;
		x->status = 200;
		x->content_type = "text/xml; charset=utf-8";
		return 0;
	}
	memset(&m, 0, sizeof m);
	m.target = svc;
	m.body = x->req.body;
	m.body_len = x->req.body_len;
	m.soap_action = x->req.soap_action;
	m.out = &x->body;
	m.done = message_done;
	m.owner = x;
	rc = dispatch_message(n->d, worker, &m);
	if (rc == PARLEY_AGAIN)
		return PARLEY_AGAIN;
	x->status = m.status;
	x->content_type = m.content_type;
	return 0;
}

static void *
worker_init(void *arg)
{
	struct node *n = arg;

	return dispatch_worker_new(n->d);
}

static void
worker_fini(void *arg, void *worker)
{
	(void)arg;
	dispatch_worker_free(worker);
}

static int
node_start(struct node *n)
{
	struct manager_config mcfg;
	struct holdings_config scfg;
	struct dispatch_config dcfg;
	struct server_config vcfg;
	struct server_hooks hooks;
	const char *tmp = getenv("TMPDIR");
	char err[512], deploy[PATH_MAX];
	int rc;

	memset(n, 0, sizeof *n);
	pthread_mutex_init(&n->mu, NULL);
	snprintf(n->dir, sizeof n->dir, "%s/test_mgrsoap.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(n->dir) == NULL)
		return -1;
	snprintf(deploy, sizeof deploy, "%s/deploy", n->dir);
	snprintf(n->home, sizeof n->home, "%s/manager", n->dir);
	if (mkdir(deploy, 0700) != 0)
		return -1;
	if ((rc = registry_load(&n->reg, deploy, err, sizeof err)) != 0) {
		fprintf(stderr, "registry: %s\n", err);
		return rc;
	}
	if ((n->pool = nodeclient_pool_new()) == NULL)
		return PARLEY_ENOMEM;
	memset(&mcfg, 0, sizeof mcfg);
	mcfg.home = n->home;
	mcfg.heartbeat_interval_ms = INTERVAL;
	mcfg.heartbeat_misses = MISSES;
	mcfg.heartbeat = nodeclient_pool_heartbeat;
	mcfg.heartbeat_arg = n->pool;
	if ((rc = manager_open(&n->m, &mcfg, err, sizeof err)) != 0) {
		fprintf(stderr, "manager: %s\n", err);
		return rc;
	}
	n->ns.heartbeat = answer_heartbeat;
	n->ns.arg = n;
	if ((rc = registry_add_builtin(n->reg, "manager", MGR_PATH, mgr_wsdl, &mgr_module, n->m,
	    err, sizeof err)) != 0 ||
	    (rc = registry_add_builtin(n->reg, "node", NODE_PATH, node_wsdl, &node_module, &n->ns,
	    err, sizeof err)) != 0) {
		fprintf(stderr, "builtin: %s\n", err);
		return rc;
	}
	memset(&scfg, 0, sizeof scfg);
	scfg.node_id = "n1";
	scfg.data_dir = n->home;
	scfg.store.mode = STORE_MEMORY;
	scfg.store.cache_bytes = 8u << 20;
	if ((rc = holdings_open(&n->st, &scfg, err, sizeof err)) != 0) {
		fprintf(stderr, "store: %s\n", err);
		return rc;
	}
	memset(&dcfg, 0, sizeof dcfg);
	dcfg.node_id = "n1";
	dcfg.max_headers = 32;
	dcfg.max_conversations = 100;
	dcfg.max_bean_bytes = 4096;
	dcfg.max_queue = 8;
	if ((rc = dispatch_create(&n->d, &dcfg, n->reg, n->st)) != 0)
		return rc;
	memset(&vcfg, 0, sizeof vcfg);
	vcfg.listen = "127.0.0.1:0";
	vcfg.workers = 4;
	vcfg.keepalive_timeout_ms = 300;
	memset(&hooks, 0, sizeof hooks);
	hooks.handle = front;
	hooks.worker_init = worker_init;
	hooks.worker_fini = worker_fini;
	hooks.arg = n;
	if ((rc = server_start(&n->srv, &vcfg, &hooks, err, sizeof err)) != 0) {
		fprintf(stderr, "server: %s\n", err);
		return rc;
	}
	snprintf(n->address, sizeof n->address, "http://%s", server_address(n->srv));
	snprintf(n->manager_url, sizeof n->manager_url, "%s%s", n->address, MGR_PATH);
	n->port = atoi(strrchr(server_address(n->srv), ':') + 1);
	return 0;
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
node_stop(struct node *n)
{
	/* The manager first: its heartbeats call the server. */
	manager_close(n->m);
	nodeclient_pool_free(n->pool);
	server_stop(n->srv, 1000);
	dispatch_destroy(n->d);
	holdings_close(n->st);
	registry_free(n->reg);
	pthread_mutex_destroy(&n->mu);
	nftw(n->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- raw SOAP over a socket --------------------------------------------------------------- */

static int
connect_to(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* POST a SOAP 1.1 body (the Body's content) to path; the whole response, or NULL. */
static char *
post(const char *path, const char *action, const char *content)
{
	char *req = NULL, *resp = NULL, body[8192];
	size_t len = 0, cap = 0;
	ssize_t got;
	int fd, n;

	snprintf(body, sizeof body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	    "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
	    "xmlns:m=\"urn:parley:manager\"><s:Body>%s</s:Body></s:Envelope>", content);
	n = asprintf(&req, "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml; "
	    "charset=utf-8\r\nSOAPAction: \"%s\"\r\nContent-Length: %zu\r\nConnection: close\r\n"
	    "\r\n%s", path, action, strlen(body), body);
	if (n < 0 || (fd = connect_to(nd.port)) < 0) {
		free(req);
		return NULL;
	}
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		free(req);
		return NULL;
	}
	free(req);
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *grown = realloc(resp, cap = len + 8192);

			if (grown == NULL)
				break;
			resp = grown;
		}
		if ((got = read(fd, resp + len, cap - len - 1)) <= 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	if (resp != NULL)
		resp[len] = '\0';
	return resp;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void
test_register_locate(void)
{
	struct soap_client *c = soap_client_new(2000);
	struct mgr_group groups[4];
	struct mgr_route r;
	char inc[MGR_INCARNATION_MAX];
	unsigned interval = 0, n = 4;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(mgrclient_register_node(c, nd.manager_url, "n1", nd.address, "node-inc", 0,
	    inc, &interval, groups, &n), 0);
	CU_ASSERT_STRING_EQUAL(inc, manager_incarnation(nd.m));
	CU_ASSERT_EQUAL(interval, INTERVAL);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(groups[0].name, "n1");
	CU_ASSERT_STRING_EQUAL(groups[0].primary, "n1");
	CU_ASSERT_STRING_EQUAL(groups[0].secondary, "");
	CU_ASSERT_EQUAL(groups[0].epoch, 1);

	n = 4;
	CU_ASSERT_EQUAL(mgrclient_register_node(c, nd.manager_url, "n2", "http://127.0.0.1:1",
	    "x", 0, inc, &interval, groups, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(groups[0].name, "n1");
	CU_ASSERT_STRING_EQUAL(groups[0].secondary, "n2");
	CU_ASSERT_STRING_EQUAL(groups[1].name, "n2");
	CU_ASSERT_STRING_EQUAL(groups[1].secondary, "n1");

	CU_ASSERT_EQUAL(mgrclient_locate(c, nd.manager_url, "n1", &r), 0);
	CU_ASSERT_STRING_EQUAL(r.group, "n1");
	CU_ASSERT_STRING_EQUAL(r.node, "n1");
	CU_ASSERT_STRING_EQUAL(r.address, nd.address);
	CU_ASSERT_EQUAL(r.epoch, 1);
	CU_ASSERT_EQUAL(r.alive, 1);
	CU_ASSERT_EQUAL(mgrclient_locate(c, nd.manager_url, "nobody", &r), PARLEY_ENOENT);
	CU_ASSERT_STRING_EQUAL(r.group, "nobody");
	CU_ASSERT_STRING_EQUAL(r.address, "");

	/* Bad input is a fault with a reason. */
	n = 4;
	CU_ASSERT_EQUAL(mgrclient_register_node(c, nd.manager_url, "N1", nd.address, "x", 0, inc,
	    &interval, groups, &n), PARLEY_EFAULT);
	CU_ASSERT_PTR_NOT_NULL(strstr(soap_client_error(c), "node ID must be"));
	CU_ASSERT_EQUAL(mgrclient_locate(c, nd.manager_url, "Bad Group", &r), PARLEY_EFAULT);
	CU_ASSERT_PTR_NOT_NULL(strstr(soap_client_error(c), "not a group name"));
	/* And the connection is fine afterwards. */
	CU_ASSERT_EQUAL(mgrclient_locate(c, nd.manager_url, "n2", &r), 0);
	soap_client_free(c);
}

static void
test_conversations(void)
{
	struct soap_client *c = soap_client_new(2000);
	struct mgr_conv convs[3], *list;
	struct mgr_conv_filter f;
	const char *ids[1];
	int64_t ended[1] = { 123456 };
	unsigned n, total, i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	memset(convs, 0, sizeof convs);
	for (i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL_FATAL(idgen_make("n1", convs[i].id), 0);
		snprintf(convs[i].service, sizeof convs[i].service, "soapy");
		convs[i].created_ms = 1000 + i;
	}
	snprintf(convs[1].reply_to, sizeof convs[1].reply_to, "http://partner.example/cb");
	snprintf(convs[2].group, sizeof convs[2].group, "n1");
	CU_ASSERT_EQUAL(mgrclient_register_conversations(c, nd.manager_url, convs, 3), 0);
	CU_ASSERT_EQUAL(mgrclient_register_conversations(c, nd.manager_url, convs, 0), 0);
	ids[0] = convs[0].id;
	CU_ASSERT_EQUAL(mgrclient_end_conversations(c, nd.manager_url, ids, ended, 1), 0);

	memset(&f, 0, sizeof f);
	f.service = "soapy";
	CU_ASSERT_EQUAL(manager_list_conversations(nd.m, &f, 0, 10, &list, &n, &total), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	for (i = 0; i < n; i++) {
		CU_ASSERT_STRING_EQUAL(list[i].group, "n1");
		if (strcmp(list[i].id, convs[0].id) == 0)
			CU_ASSERT_EQUAL(list[i].ended_ms, 123456);
		if (strcmp(list[i].id, convs[1].id) == 0)
			CU_ASSERT_STRING_EQUAL(list[i].reply_to, "http://partner.example/cb");
		if (strcmp(list[i].id, convs[2].id) == 0)
			CU_ASSERT_EQUAL(list[i].created_ms, 1002);
	}
	free(list);

	snprintf(convs[0].id, sizeof convs[0].id, "not-an-id");
	CU_ASSERT_EQUAL(mgrclient_register_conversations(c, nd.manager_url, convs, 1),
	    PARLEY_EFAULT);
	CU_ASSERT_PTR_NOT_NULL(strstr(soap_client_error(c), "conversation ID must be"));
	ids[0] = "nope";
	CU_ASSERT_EQUAL(mgrclient_end_conversations(c, nd.manager_url, ids, ended, 1),
	    PARLEY_EFAULT);
	soap_client_free(c);
}

/* The list entry for id, or NULL. */
static const struct mgr_conv *
listed(const struct mgr_conv *list, unsigned n, const char *id)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i].id, id) == 0)
			return &list[i];
	return NULL;
}

/*
 * Sessions over SOAP: from goes with RegisterConversation and comes back
 * from ListConversations with each conversation's session and initiator;
 * the session and service filters; a bad session or limit is refused.
 */
static void
test_sessions(void)
{
	struct soap_client *c = soap_client_new(2000);
	/* 0 starts a "soapshop" session, 1 and 2 join it as "soapcart"; 3 a session of its own. */
	struct mgr_conv convs[4], *list = NULL;
	const struct mgr_conv *e;
	struct mgr_conv_filter f;
	unsigned n, total, i;
	char *r, msg[512];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	memset(convs, 0, sizeof convs);
	CU_ASSERT_EQUAL_FATAL(idgen_make("n2", convs[0].id), 0);
	CU_ASSERT_EQUAL_FATAL(idgen_make_member(convs[0].id, convs[1].id), 0);
	CU_ASSERT_EQUAL_FATAL(idgen_make_member(convs[0].id, convs[2].id), 0);
	CU_ASSERT_EQUAL_FATAL(idgen_make("n2", convs[3].id), 0);
	for (i = 0; i < 4; i++) {
		snprintf(convs[i].service, sizeof convs[i].service, i == 0 ? "soapshop" :
		    "soapcart");
		convs[i].created_ms = 2000 + i;
	}
	snprintf(convs[1].from, sizeof convs[1].from, "http://partner.example/from");
	snprintf(convs[1].reply_to, sizeof convs[1].reply_to, "http://partner.example/reply");
	/* What a client sends in session and initiator is not stored. */
	snprintf(convs[2].initiator, sizeof convs[2].initiator, "made-up");
	CU_ASSERT_EQUAL(mgrclient_register_conversations(c, nd.manager_url, convs, 4), 0);

	memset(&f, 0, sizeof f);
	f.service = "soapcart";
	CU_ASSERT_EQUAL(mgrclient_list_conversations(c, nd.manager_url, &f, 0, 10, &list, &n,
	    &total), 0);
	CU_ASSERT_EQUAL(total, 3);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e = listed(list, n, convs[1].id));
	CU_ASSERT_STRING_EQUAL(e->from, "http://partner.example/from");
	CU_ASSERT_STRING_EQUAL(e->reply_to, "http://partner.example/reply");
	CU_ASSERT_STRING_EQUAL(e->group, "n2");
	CU_ASSERT_EQUAL(e->created_ms, 2001);
	CU_ASSERT_EQUAL(e->ended_ms, 0);
	CU_ASSERT_STRING_EQUAL(e->session, convs[0].id);
	CU_ASSERT_STRING_EQUAL(e->initiator, "soapshop");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e = listed(list, n, convs[2].id));
	CU_ASSERT_STRING_EQUAL(e->from, "");
	CU_ASSERT_STRING_EQUAL(e->initiator, "soapshop");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e = listed(list, n, convs[3].id));
	CU_ASSERT_STRING_EQUAL(e->session, convs[3].id);
	CU_ASSERT_STRING_EQUAL(e->initiator, "soapcart");
	free(list);

	/* The session, named by a member: the starter and both members. */
	memset(&f, 0, sizeof f);
	f.session = convs[2].id;
	CU_ASSERT_EQUAL(mgrclient_list_conversations(c, nd.manager_url, &f, 0, 10, &list, &n,
	    &total), 0);
	CU_ASSERT_EQUAL(total, 3);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(list[0].id, convs[0].id);
	CU_ASSERT_PTR_NULL(listed(list, n, convs[3].id));
	free(list);
	/* With a page after the first, and with the live filter after an ending. */
	CU_ASSERT_EQUAL(mgrclient_list_conversations(c, nd.manager_url, &f, 1, 1, &list, &n,
	    &total), 0);
	CU_ASSERT_EQUAL(total, 3);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(list[0].initiator, "soapshop");
	free(list);
	CU_ASSERT_EQUAL(mgrclient_end_conversations(c, nd.manager_url,
	    (const char *const[]){ convs[0].id }, (const int64_t[]){ 3000 }, 1), 0);
	f.live_only = 1;
	CU_ASSERT_EQUAL(mgrclient_list_conversations(c, nd.manager_url, &f, 0, 10, &list, &n,
	    &total), 0);
	CU_ASSERT_EQUAL(total, 2);
	CU_ASSERT_PTR_NULL(listed(list, n, convs[0].id));
	free(list);

	/* Refused: a session that is not an ID (by the manager), a limit over 1000 (here). */
	f.session = "n2.nope";
	CU_ASSERT_EQUAL(mgrclient_list_conversations(c, nd.manager_url, &f, 0, 10, &list, &n,
	    &total), PARLEY_EFAULT);
	CU_ASSERT_PTR_NOT_NULL(strstr(soap_client_error(c), "is not a conversation ID"));
	CU_ASSERT_PTR_NULL(list);
	CU_ASSERT_EQUAL(mgrclient_list_conversations(c, nd.manager_url, NULL, 0, 1001, &list, &n,
	    &total), PARLEY_EINVAL);

	/* What any SOAP client sends and gets: the elements of the WSDL. */
	snprintf(msg, sizeof msg, "<m:ListConversations><m:session>%s</m:session>"
	    "<m:service>soapcart</m:service></m:ListConversations>", convs[0].id);
	r = post(MGR_PATH, "urn:parley:manager/ListConversations", msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "total>2</"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "initiator>soapshop</"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "from>http://partner.example/from</"));
	snprintf(msg, sizeof msg, "session>%s</", convs[0].id);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, msg));
	free(r);
	soap_client_free(c);
}

/* What any SOAP client sends, and what it gets back. */
static void
test_raw_messages(void)
{
	char id[IDGEN_ID_MAX], msg[512];
	char *r;

	r = post(MGR_PATH, "urn:parley:manager/ListNodes", "<m:ListNodes/>");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "200 OK"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "ListNodesResponse"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r, ">n1</"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r, ">n2</"));
	free(r);

	r = post(MGR_PATH, "urn:parley:manager/ListGroups", "<m:ListGroups/>");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "ListGroupsResponse"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "secondary>n2</"));
	free(r);

	r = post(MGR_PATH, "urn:parley:manager/ListConversations",
	    "<m:ListConversations><m:service>soapy</m:service><m:limit>2</m:limit>"
	    "</m:ListConversations>");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "total>3</"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "<mgr:conversation>"));
	free(r);

	r = post(MGR_PATH, "urn:parley:manager/ListConversations",
	    "<m:ListConversations><m:limit>5000</m:limit></m:ListConversations>");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "Fault"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "limit must be 0 to 1000"));
	free(r);

	CU_ASSERT_EQUAL_FATAL(idgen_make("n2", id), 0);
	snprintf(msg, sizeof msg,
	    "<m:Locate><m:conversationId>%s</m:conversationId></m:Locate>", id);
	r = post(MGR_PATH, "urn:parley:manager/Locate", msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "node>n2</"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "address>http://127.0.0.1:1</"));
	free(r);

	/* An unknown group: a route with an empty node and address. */
	r = post(MGR_PATH, "urn:parley:manager/Locate",
	    "<m:Locate><m:group>zz</m:group></m:Locate>");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "group>zz</"));
	CU_ASSERT(strstr(r, "<mgr:node></mgr:node>") != NULL || strstr(r, "<mgr:node/>") != NULL);
	CU_ASSERT_PTR_NULL(strstr(r, "Fault"));
	free(r);

	r = post(MGR_PATH, "urn:parley:manager/RegisterConversation",
	    "<m:RegisterConversation><m:conversation><m:id>n1.x</m:id><m:service>s</m:service>"
	    "<m:created>1</m:created></m:conversation></m:RegisterConversation>");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "Fault"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "conversation 1"));
	free(r);

	/* The node's own face. */
	r = post(NODE_PATH, "urn:parley:node/Heartbeat",
	    "<n:Heartbeat xmlns:n=\"urn:parley:node\"><n:nodeId>n1</n:nodeId>"
	    "<n:managerIncarnation>abc</n:managerIncarnation><n:sent>5</n:sent>"
	    "<n:assignment><n:group>n1</n:group><n:role>boss</n:role><n:epoch>1</n:epoch>"
	    "</n:assignment></n:Heartbeat>");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "role must be primary or secondary"));
	free(r);
}

static void
test_node_heartbeat(void)
{
	struct soap_client *c = soap_client_new(2000);
	struct mgr_heartbeat hb;
	struct mgr_heartbeat_reply reply;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	memset(&hb, 0, sizeof hb);
	snprintf(hb.node, sizeof hb.node, "n1");
	snprintf(hb.manager_incarnation, sizeof hb.manager_incarnation, "m-inc");
	hb.sent_ms = 42;
	hb.n_assignments = 2;
	snprintf(hb.assignments[0].group, sizeof hb.assignments[0].group, "n1");
	hb.assignments[0].primary = 1;
	hb.assignments[0].epoch = 3;
	snprintf(hb.assignments[1].group, sizeof hb.assignments[1].group, "n2");
	hb.assignments[1].epoch = 4;
	CU_ASSERT_EQUAL(nodeclient_heartbeat(c, nd.address, &hb, &reply), 0);
	CU_ASSERT_STRING_EQUAL(reply.node, "n1");
	CU_ASSERT_STRING_EQUAL(reply.incarnation, "node-inc");
	CU_ASSERT_EQUAL(reply.conversations, 7);
	pthread_mutex_lock(&nd.mu);
	CU_ASSERT_STRING_EQUAL(nd.last.manager_incarnation, "m-inc");
	CU_ASSERT_EQUAL(nd.last.sent_ms, 42);
	CU_ASSERT_EQUAL(nd.last.n_assignments, 2);
	CU_ASSERT_EQUAL(nd.last.assignments[0].primary, 1);
	CU_ASSERT_EQUAL(nd.last.assignments[0].epoch, 3);
	CU_ASSERT_STRING_EQUAL(nd.last.assignments[1].group, "n2");
	CU_ASSERT_EQUAL(nd.last.assignments[1].primary, 0);
	pthread_mutex_unlock(&nd.mu);
	soap_client_free(c);
}

/* The manager's heartbeats over SOAP: n1 (this node) answers, n2 (port 1) is dead. */
static void
test_heartbeats_over_soap(void)
{
	struct mgr_node *nodes;
	unsigned n, i, before;
	int64_t start = mono_ms();
	int n1_alive = 0, n2_alive = 1;

	pthread_mutex_lock(&nd.mu);
	before = nd.heartbeats;
	pthread_mutex_unlock(&nd.mu);
	CU_ASSERT_EQUAL_FATAL(manager_start(nd.m), 0);
	while (mono_ms() - start < 3000 && (n1_alive != 1 || n2_alive != 0)) {
		sleep_ms(10);
		CU_ASSERT_EQUAL_FATAL(manager_list_nodes(nd.m, &nodes, &n), 0);
		for (i = 0; i < n; i++) {
			if (strcmp(nodes[i].id, "n1") == 0)
				n1_alive = nodes[i].alive && nodes[i].last_heartbeat_ms > 0;
			if (strcmp(nodes[i].id, "n2") == 0)
				n2_alive = nodes[i].alive;
		}
		free(nodes);
	}
	CU_ASSERT_EQUAL(n1_alive, 1);
	CU_ASSERT_EQUAL(n2_alive, 0);
	printf("\n    n2 (connection refused) dead after %lld ms",
	    (long long)(mono_ms() - start));
	CU_ASSERT(mono_ms() - start <= INTERVAL * MISSES + INTERVAL + INTERVAL);
	pthread_mutex_lock(&nd.mu);
	CU_ASSERT(nd.heartbeats > before);
	CU_ASSERT_STRING_EQUAL(nd.last.manager_incarnation, manager_incarnation(nd.m));
	CU_ASSERT(nd.last.n_assignments >= 1);
	pthread_mutex_unlock(&nd.mu);
}

static void
test_client_errors(void)
{
	struct soap_client *c = soap_client_new(300);
	struct sockaddr_in sa;
	socklen_t salen = sizeof sa;
	struct mgr_route r;
	char url[256];
	int64_t start, took;
	int fd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	/* A port nobody listens on: refused at once. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	CU_ASSERT_EQUAL_FATAL(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", ntohs(sa.sin_port), MGR_PATH);
	start = mono_ms();
	CU_ASSERT_EQUAL(mgrclient_locate(c, url, "n1", &r), PARLEY_EIO);
	CU_ASSERT(mono_ms() - start < 100);
	CU_ASSERT_PTR_NOT_NULL(strstr(soap_client_error(c), "connection refused"));
	printf("\n    refused: %s", soap_client_error(c));

	/* Listening but never answering, as a frozen node: the time limit. */
	CU_ASSERT_EQUAL_FATAL(listen(fd, 8), 0);
	start = mono_ms();
	CU_ASSERT_EQUAL(mgrclient_locate(c, url, "n1", &r), PARLEY_ETIMEDOUT);
	took = mono_ms() - start;
	printf("\n    silent: %s (%lld ms)", soap_client_error(c), (long long)took);
	CU_ASSERT(took >= 290 && took < 600);
	CU_ASSERT_PTR_NOT_NULL(strstr(soap_client_error(c), "timed out after 300 ms"));
	/* A shorter limit holds too. */
	soap_client_set_timeout(c, 60);
	start = mono_ms();
	CU_ASSERT_EQUAL(mgrclient_locate(c, url, "n1", &r), PARLEY_ETIMEDOUT);
	took = mono_ms() - start;
	CU_ASSERT(took >= 55 && took < 300);
	close(fd);

	/* A path that is no SOAP service. */
	soap_client_set_timeout(c, 2000);
	snprintf(url, sizeof url, "%s/nowhere", nd.address);
	CU_ASSERT_EQUAL(mgrclient_locate(c, url, "n1", &r), PARLEY_EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(soap_client_error(c), "HTTP 404"));
	printf("\n    404: %s", soap_client_error(c));
	soap_client_free(c);
}

/* Calls share a connection; one the server closed while idle is replaced unseen. */
static void
test_keepalive(void)
{
	struct soap_client *c = soap_client_new(2000);
	struct server_stats before, after;
	struct mgr_route r;
	int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	server_get_stats(nd.srv, &before);
	for (i = 0; i < 20; i++)
		CU_ASSERT_EQUAL(mgrclient_locate(c, nd.manager_url, "n1", &r), 0);
	server_get_stats(nd.srv, &after);
	/* The manager's heartbeats to n1 may open none (kept alive too) or one. */
	CU_ASSERT(after.accepted - before.accepted <= 2);
	CU_ASSERT(after.requests - before.requests >= 20);

	/* Idle past keepalive_timeout (300 ms): the server closes the connection. */
	sleep_ms(450);
	server_tick(nd.srv);
	sleep_ms(20);
	CU_ASSERT_EQUAL(mgrclient_locate(c, nd.manager_url, "n1", &r), 0);
	CU_ASSERT_STRING_EQUAL(r.address, nd.address);
	soap_client_free(c);
}

/* ---- a server that drops a kept-alive connection as a request arrives ------------------ */

static const char locate_answer[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" "
    "xmlns:mgr=\"urn:parley:manager\"><SOAP-ENV:Body><mgr:LocateResponse><mgr:route>"
    "<mgr:group>n1</mgr:group><mgr:node>n1</mgr:node><mgr:address>http://h:1</mgr:address>"
    "<mgr:epoch>1</mgr:epoch><mgr:alive>true</mgr:alive></mgr:route></mgr:LocateResponse>"
    "</SOAP-ENV:Body></SOAP-ENV:Envelope>";

struct dropper {
	int listen_fd;
	int connections;
	int requests;
};

/* Read one whole HTTP request (head and Content-Length body); 0, or -1 at EOF. */
static int
read_request(int fd)
{
	char buf[16384];
	size_t len = 0;
	ssize_t got;
	char *end, *cl;

	for (;;) {
		if (len == sizeof buf - 1)
			return -1;
		if ((got = read(fd, buf + len, sizeof buf - 1 - len)) <= 0)
			return -1;
		len += (size_t)got;
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		cl = strcasestr(buf, "Content-Length:");
		if (cl == NULL || (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10) <= len)
			return 0;
	}
}

static void
answer(int fd)
{
	char head[256];
	int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: text/xml; "
	    "charset=utf-8\r\nContent-Length: %zu\r\n\r\n", strlen(locate_answer));

	if (write(fd, head, (size_t)n) != n ||
	    write(fd, locate_answer, strlen(locate_answer)) != (ssize_t)strlen(locate_answer))
		fprintf(stderr, "dropper: short write\n");
}

/* First connection: answer one request, then close on reading the second. Then answer one. */
static void *
dropper_main(void *arg)
{
	struct dropper *d = arg;
	int fd;

	if ((fd = accept(d->listen_fd, NULL, NULL)) < 0)
		return NULL;
	d->connections++;
	if (read_request(fd) == 0) {
		d->requests++;
		answer(fd);
	}
	if (read_request(fd) == 0)
		d->requests++;
	close(fd);
	if ((fd = accept(d->listen_fd, NULL, NULL)) < 0)
		return NULL;
	d->connections++;
	if (read_request(fd) == 0) {
		d->requests++;
		answer(fd);
	}
	close(fd);
	return NULL;
}

/*
 * A kept-alive connection the peer closes just as a request goes out: the
 * call is made once more on a new connection, and succeeds.
 */
static void
test_retry_once(void)
{
	struct soap_client *c = soap_client_new(2000);
	struct dropper d;
	struct sockaddr_in sa;
	socklen_t salen = sizeof sa;
	struct mgr_route r;
	pthread_t t;
	char url[128];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	memset(&d, 0, sizeof d);
	d.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_EQUAL_FATAL(bind(d.listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
	CU_ASSERT_EQUAL_FATAL(getsockname(d.listen_fd, (struct sockaddr *)&sa, &salen), 0);
	CU_ASSERT_EQUAL_FATAL(listen(d.listen_fd, 8), 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", ntohs(sa.sin_port), MGR_PATH);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, dropper_main, &d), 0);
	CU_ASSERT_EQUAL(mgrclient_locate(c, url, "n1", &r), 0);
	CU_ASSERT_EQUAL(mgrclient_locate(c, url, "n1", &r), 0);
	CU_ASSERT_STRING_EQUAL(r.address, "http://h:1");
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(d.connections, 2);
	CU_ASSERT_EQUAL(d.requests, 3);
	close(d.listen_fd);
	soap_client_free(c);
}

/* The WSDL the builtin serves is the manager's own. */
static void
test_wsdl(void)
{
	const struct service *svc = registry_find_path(nd.reg, MGR_PATH);
	struct buf b = BUF_INIT;

	CU_ASSERT_PTR_NOT_NULL_FATAL(svc);
	CU_ASSERT_EQUAL(svc->n_ops, 8);
	CU_ASSERT_EQUAL(registry_write_wsdl(svc, nd.address, &b), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "ListConversations"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, MGR_PATH "\""));
	buf_free(&b);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "RegisterNode and Locate through the client", test_register_locate },
		{ "RegisterConversation and EndConversation through the client",
		    test_conversations },
		{ "sessions: from, session and initiator, the session and service filters",
		    test_sessions },
		{ "raw SOAP: the List operations, Locate by ID, faults", test_raw_messages },
		{ "the node's Heartbeat through the client", test_node_heartbeat },
		{ "the manager's heartbeats over SOAP", test_heartbeats_over_soap },
		{ "refused, timed out, not SOAP", test_client_errors },
		{ "keep-alive, and a connection closed while idle", test_keepalive },
		{ "a connection dropped as a request goes out: one retry", test_retry_once },
		{ "the manager's WSDL", test_wsdl },
		{ NULL, NULL }
	};
	int rc;

	log_init("test_mgrsoap", 1, LOG_LEVEL_WARN);
	if (node_start(&nd) != 0) {
		fprintf(stderr, "test_mgrsoap: cannot start the node under test\n");
		return 1;
	}
	rc = unit_run("mgrsoap", tests);
	node_stop(&nd);
	return rc;
}
