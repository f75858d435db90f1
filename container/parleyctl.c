/*
 * parleyctl.c - a small command line for a Parley cluster: a node's status,
 * the nodes, groups and conversations (by session) its manager knows, and
 * where a conversation is; and deploying services into a running node. It
 * asks any node for its status over HTTP and learns from it where the
 * manager is, then asks the manager over SOAP (wsdl/manager.wsdl). A deploy
 * copies the service's files into the node's deploy_dir under new names and
 * asks the node (its admin endpoint, loopback only by default) to load them.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "buf.h"
#include "idgen.h"
#include "manager.h"
#include "mgrsoap.h"
#include "parley.h"
#include "registry.h"

#define TIMEOUT_MS 5000
#define CONV_LIMIT_DEFAULT 100
#define CONV_LIMIT_MAX 100000
#define CONV_PAGE 1000                 /* conversations in one ListConversations */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: parleyctl [-u URL] COMMAND\n"
	    "\n"
	    "  -u URL        a node of the cluster (default: $PARLEY_URL, else\n"
	    "                http://127.0.0.1:8080)\n"
	    "\n"
	    "commands:\n"
	    "  status        the node's status page (JSON, indented)\n"
	    "  nodes         the nodes the manager knows: address, alive, heartbeats\n"
	    "  groups        the groups: primary, secondary, epoch\n"
	    "  locate ID     where conversation ID is served\n"
	    "  conversations [--service NAME] [--session ID] [--node NODE] [--group G]\n"
	    "                [--live] [--limit N]\n"
	    "                the conversations the manager knows, by session: service,\n"
	    "                group, live or ended, the partner's ReplyTo and From; '*'\n"
	    "                marks the one that started its session. --session takes a\n"
	    "                session's ID or any of its conversations'; --limit is 100\n"
	    "                unless given (at most %u)\n"
	    "  deploy [--upload] PATH\n"
	    "                deploy a service into the running node: PATH is its module\n"
	    "                (NAME.so, with NAME.service and the WSDL beside it) or a\n"
	    "                directory of services; a new version replaces the running one.\n"
	    "                The files are copied into the node's deploy directory, or\n"
	    "                uploaded over HTTP when the node is on another machine (or\n"
	    "                with --upload)\n"
	    "  undeploy [--force] NAME\n"
	    "                stop serving NAME (--force: even with live conversations)\n",
	    CONV_LIMIT_MAX);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Split "http://HOST:PORT/..." into host and port. */
static int
split_url(const char *url, char *host, size_t hlen, char *port, size_t plen)
{
	const char *h, *end, *colon;
	size_t n;

	if (strncmp(url, "http://", 7) != 0)
		return PARLEY_EINVAL;
	h = url + 7;
	end = h + strcspn(h, "/");
	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(end - h));
		if (close == NULL)
			return PARLEY_EINVAL;
		n = (size_t)(close - h - 1);
		if (n >= hlen)
			return PARLEY_EINVAL;
		memcpy(host, h + 1, n);
		host[n] = '\0';
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		n = (size_t)((colon != NULL ? colon : end) - h);
		if (n == 0 || n >= hlen)
			return PARLEY_EINVAL;
		memcpy(host, h, n);
		host[n] = '\0';
	}
	n = colon != NULL ? (size_t)(end - colon - 1) : 2;
	if (n == 0 || n >= plen)
		return PARLEY_EINVAL;
	if (colon != NULL) {
		memcpy(port, colon + 1, n);
		port[n] = '\0';
	} else {
		snprintf(port, plen, "80");
	}
	return 0;
}

/* Send len bytes at data on fd, whatever send() takes at a time. 0 or -1 (errno). */
static int
send_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * One HTTP/1.1 request to the node at url, the body (len bytes at data, of
 * type ctype; none when ctype is NULL) sent as is. Returns the answer's
 * status with its body in body, or -1 with err set.
 */
static int
http_send(const char *url, const char *method, const char *path, const char *ctype,
    const void *data, size_t len, struct buf *body, char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL, *p;
	struct timeval tv = { TIMEOUT_MS / 1000, (TIMEOUT_MS % 1000) * 1000 };
	char host[256], port[16], req[1600], chunk[4096];
	struct buf all = BUF_INIT;
	const char *sep;
	ssize_t n;
	int fd = -1, status = -1, gai;

	if (split_url(url, host, sizeof host, port, sizeof port) != 0) {
		snprintf(err, errlen, "%s is not an http://HOST:PORT URL", url);
		return -1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if ((gai = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(gai));
		return -1;
	}
	for (p = ai; p != NULL; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (connect(fd, p->ai_addr, p->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s (is a node running there? try -u)",
		    url, strerror(errno));
		goto out;
	}
	if (ctype != NULL)
		snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n"
		    "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", method, path, host, port,
		    ctype, len);
	else
		snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n",
		    method, path, host, port);
	if (send_all(fd, req, strlen(req)) != 0 || (ctype != NULL && send_all(fd, data, len) != 0)) {
		snprintf(err, errlen, "%s: %s", url, strerror(errno));
		goto out;
	}
	while ((n = recv(fd, chunk, sizeof chunk, 0)) > 0)
		if (buf_append(&all, chunk, (size_t)n) != 0)
			goto out;
	if (all.len < 12 || strncmp(all.data, "HTTP/1.", 7) != 0) {
		snprintf(err, errlen, "%s did not answer HTTP", url);
		goto out;
	}
	status = atoi(all.data + 9);
	sep = strstr(all.data, "\r\n\r\n");
	buf_reset(body);
	if (sep != NULL)
		buf_puts(body, sep + 4);
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	buf_free(&all);
	return status;
}

/* http_send with a form (application/x-www-form-urlencoded) as the body, or none. */
static int
http_call(const char *url, const char *method, const char *path, const char *form,
    struct buf *body, char *err, size_t errlen)
{
	if (form == NULL)
		return http_send(url, method, path, NULL, NULL, 0, body, err, errlen);
	return http_send(url, method, path, "application/x-www-form-urlencoded", form, strlen(form),
	    body, err, errlen);
}

static int
http_get(const char *url, const char *path, struct buf *body, char *err, size_t errlen)
{
	return http_call(url, "GET", path, NULL, body, err, errlen);
}

/* Print JSON indented: a tokenizer's view, enough for the status page. */
static void
print_json(const char *s)
{
	int depth = 0, in_string = 0, i;

	for (; *s != '\0'; s++) {
		char c = *s;

		if (in_string) {
			putchar(c);
			if (c == '\\' && s[1] != '\0')
				putchar(*++s);
			else if (c == '"')
				in_string = 0;
			continue;
		}
		switch (c) {
		case '"':
			in_string = 1;
			putchar(c);
			break;
		case '{':
		case '[':
			putchar(c);
			if (s[1] == '}' || s[1] == ']') {
				putchar(*++s);
				break;
			}
			depth++;
			putchar('\n');
			for (i = 0; i < depth; i++)
				fputs("  ", stdout);
			break;
		case '}':
		case ']':
			depth--;
			putchar('\n');
			for (i = 0; i < depth; i++)
				fputs("  ", stdout);
			putchar(c);
			break;
		case ',':
			putchar(c);
			putchar('\n');
			for (i = 0; i < depth; i++)
				fputs("  ", stdout);
			break;
		case ':':
			fputs(": ", stdout);
			break;
		case '\n':
			break;
		default:
			putchar(c);
		}
	}
	putchar('\n');
}

/* The value of the first "key":"value" in a JSON text, unescaped enough for URLs. */
static int
json_string(const char *json, const char *key, char *out, size_t len)
{
	char pattern[64];
	const char *p, *end;
	size_t n;

	snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
	p = strstr(json, pattern);
	if (p == NULL)
		return PARLEY_ENOENT;
	p += strlen(pattern);
	end = strchr(p, '"');
	if (end == NULL || (n = (size_t)(end - p)) >= len)
		return PARLEY_EINVAL;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* Ask the node at url where its manager is. */
static int
manager_of(const char *url, char *manager, size_t len)
{
	struct buf body = BUF_INIT;
	char err[512];
	int status, rc = 1;

	status = http_get(url, "/parley/status", &body, err, sizeof err);
	if (status < 0) {
		fprintf(stderr, "parleyctl: %s\n", err);
		goto out;
	}
	/*
	 * The manager the node uses now, else the one it is configured with
	 * (the first, when it lists the manager sites).
	 */
	manager[0] = '\0';
	if (status == 200 && body.data != NULL &&
	    (json_string(body.data, "manager_in_use", manager, len) != 0 || manager[0] == '\0') &&
	    json_string(body.data, "manager_url", manager, len) != 0)
		manager[0] = '\0';
	manager[strcspn(manager, ",")] = '\0';
	if (manager[0] == '\0') {
		/* A node that is only the manager: it is the manager. */
		if (status == 200 && body.data != NULL && strstr(body.data, "\"role\":\"manager\"")) {
			snprintf(manager, len, "%s%s", url, MGR_PATH);
			rc = 0;
			goto out;
		}
		fprintf(stderr, "parleyctl: %s did not say where its manager is (HTTP %d)\n", url,
		    status);
		goto out;
	}
	rc = 0;
out:
	buf_free(&body);
	return rc;
}

static void
age(int64_t then, char *out, size_t len)
{
	int64_t d = now_ms() - then;

	if (then == 0)
		snprintf(out, len, "never");
	else if (d < 10000)
		snprintf(out, len, "%.1f s ago", (double)d / 1000);
	else
		snprintf(out, len, "%lld s ago", (long long)(d / 1000));
}

static int
cmd_status(const char *url)
{
	struct buf body = BUF_INIT;
	char err[512];
	int status = http_get(url, "/parley/status", &body, err, sizeof err);

	if (status < 0) {
		fprintf(stderr, "parleyctl: %s\n", err);
		return 1;
	}
	if (status != 200) {
		fprintf(stderr, "parleyctl: %s answered HTTP %d\n", url, status);
		buf_free(&body);
		return 1;
	}
	print_json(body.data != NULL ? body.data : "");
	buf_free(&body);
	return 0;
}

static int
cmd_nodes(struct soap_client *c, const char *manager)
{
	struct mgr_node *nodes = NULL;
	char when[32];
	unsigned n = 0, i;

	if (mgrclient_list_nodes(c, manager, &nodes, &n) != 0) {
		fprintf(stderr, "parleyctl: the manager at %s: %s\n", manager, soap_client_error(c));
		return 1;
	}
	printf("%-12s %-28s %-6s %-14s %-6s %s\n", "NODE", "ADDRESS", "STATUS", "HEARTBEAT",
	    "MISSES", "CONVERSATIONS");
	for (i = 0; i < n; i++) {
		age(nodes[i].last_heartbeat_ms, when, sizeof when);
		printf("%-12s %-28s %-6s %-14s %-6u %u\n", nodes[i].id, nodes[i].address,
		    nodes[i].alive ? "alive" : "dead", when, nodes[i].misses, nodes[i].conversations);
	}
	free(nodes);
	return 0;
}

static int
cmd_groups(struct soap_client *c, const char *manager)
{
	struct mgr_group *groups = NULL;
	unsigned n = 0, i;

	if (mgrclient_list_groups(c, manager, &groups, &n) != 0) {
		fprintf(stderr, "parleyctl: the manager at %s: %s\n", manager, soap_client_error(c));
		return 1;
	}
	printf("%-12s %-12s %-12s %s\n", "GROUP", "PRIMARY", "SECONDARY", "EPOCH");
	for (i = 0; i < n; i++)
		printf("%-12s %-12s %-12s %llu\n", groups[i].name, groups[i].primary,
		    groups[i].secondary[0] != '\0' ? groups[i].secondary : "-",
		    (unsigned long long)groups[i].epoch);
	free(groups);
	return 0;
}

static int
cmd_locate(struct soap_client *c, const char *manager, const char *id)
{
	char group[IDGEN_GROUP_MAX + 1];
	struct mgr_route r;
	int rc;

	if (idgen_group(id, group, sizeof group) != 0) {
		fprintf(stderr, "parleyctl: '%s' is not a conversation ID (GROUP.26 base32 "
		    "characters)\n", id);
		return 1;
	}
	rc = mgrclient_locate(c, manager, group, &r);
	if (rc == PARLEY_ENOENT) {
		printf("conversation %s: group %s is not known to the manager at %s\n", id, group,
		    manager);
		return 1;
	}
	if (rc != 0) {
		fprintf(stderr, "parleyctl: the manager at %s: %s\n", manager, soap_client_error(c));
		return 1;
	}
	printf("conversation %s is in group %s, served by node %s at %s (epoch %llu, %s)\n", id,
	    group, r.node, r.address, (unsigned long long)r.epoch, r.alive ? "alive" : "dead");
	return 0;
}

/* 1 when s is a service name as the manager takes it: 1 to 63 of [A-Za-z0-9_.-]. */
static int
service_name(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (n >= MGR_SERVICE_MAX - 1 ||
		    !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		    (s[n] >= '0' && s[n] <= '9') || s[n] == '_' || s[n] == '.' || s[n] == '-'))
			return 0;
	return n > 0;
}

/*
 * Ask the manager for up to limit conversations matching f, a page at a
 * time; a standby manager site that names the active one is asked no more,
 * the active one is. Returns 0 with *out (the caller frees it), *n and
 * *total, or 1 after saying why.
 */
static int
fetch_conversations(struct soap_client *c, const char *manager, const struct mgr_conv_filter *f,
    unsigned limit, struct mgr_conv **out, unsigned *n, unsigned *total)
{
	char url[MGR_ADDRESS_MAX + 32];
	struct mgr_conv *all = NULL, *page = NULL, *grown;
	unsigned got = 0, np, t = 0, want;
	int rc, moved = 0;

	snprintf(url, sizeof url, "%s", manager);
	while (got < limit) {
		want = limit - got < CONV_PAGE ? limit - got : CONV_PAGE;
		rc = mgrclient_list_conversations(c, url, f, got, want, &page, &np, &t);
		if (rc == PARLEY_ESTANDBY && !moved && soap_client_standby_at(c)[0] != '\0') {
			snprintf(url, sizeof url, "%s", soap_client_standby_at(c));
			moved = 1;
			continue;
		}
		if (rc != 0) {
			fprintf(stderr, "parleyctl: the manager at %s: %s\n", url,
			    soap_client_error(c));
			if (rc == PARLEY_ESTANDBY)
				fprintf(stderr, "parleyctl: it is a standby manager site and names no "
				    "active one yet: try again in a moment\n");
			free(all);
			return 1;
		}
		if (np > 0) {
			if ((grown = realloc(all, (got + np) * sizeof *all)) == NULL) {
				fprintf(stderr, "parleyctl: out of memory\n");
				free(page);
				free(all);
				return 1;
			}
			all = grown;
			memcpy(all + got, page, np * sizeof *page);
			got += np;
		}
		free(page);
		page = NULL;
		if (np < want || got >= t)
			break;
	}
	*out = all;
	*n = got;
	*total = t;
	return 0;
}

/* The partner's addresses, as one column: "ReplyTo A From B", or "-". */
static void
partner(const struct mgr_conv *c, char *out, size_t len)
{
	if (c->reply_to[0] != '\0' && c->from[0] != '\0')
		snprintf(out, len, "ReplyTo %s From %s", c->reply_to, c->from);
	else if (c->reply_to[0] != '\0')
		snprintf(out, len, "ReplyTo %s", c->reply_to);
	else if (c->from[0] != '\0')
		snprintf(out, len, "From %s", c->from);
	else
		snprintf(out, len, "-");
}

/*
 * The conversations the manager knows, as a table grouped by session: the
 * manager lists them sorted by ID, and a session's conversations are
 * neighbours there (its ID is their prefix), so each session is one run.
 */
static int
cmd_conversations(struct soap_client *c, const char *manager, const struct mgr_conv_filter *f,
    unsigned limit)
{
	struct mgr_conv *list = NULL;
	char with[2 * MGR_ADDRESS_MAX + 32];
	unsigned n = 0, total = 0, i, j, sessions = 0, in_session;
	int idw = 12, svw = 7, grw = 5, w;

	if (fetch_conversations(c, manager, f, limit, &list, &n, &total) != 0)
		return 1;
	for (i = 0; i < n; i++) {
		if ((w = (int)strlen(list[i].id)) > idw)
			idw = w;
		if ((w = (int)strlen(list[i].service)) > svw)
			svw = w;
		if ((w = (int)strlen(list[i].group)) > grw)
			grw = w;
	}
	if (n > 0)
		printf("  %-*s %-*s %-*s %-5s %s\n", idw, "CONVERSATION", svw, "SERVICE", grw,
		    "GROUP", "STATE", "PARTNER");
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(list[j].session, list[i].session) == 0; j++)
			continue;
		in_session = j - i;
		sessions++;
		printf("session %s, started by %s: %u listed\n",
		    list[i].session[0] != '\0' ? list[i].session : "(unknown)",
		    list[i].initiator[0] != '\0' ? list[i].initiator : "a service not recorded",
		    in_session);
		for (; i < j; i++) {
			partner(&list[i], with, sizeof with);
			printf("%c %-*s %-*s %-*s %-5s %s\n",
			    strcmp(list[i].id, list[i].session) == 0 ? '*' : ' ', idw, list[i].id,
			    svw, list[i].service[0] != '\0' ? list[i].service : "-", grw,
			    list[i].group, list[i].ended_ms != 0 ? "ended" : "live", with);
		}
	}
	printf("%u conversation%s in %u session%s", n, n == 1 ? "" : "s", sessions,
	    sessions == 1 ? "" : "s");
	if (n < total)
		printf(" shown, of %u matching (--limit %u shows more)", total,
		    total < CONV_LIMIT_MAX ? total : CONV_LIMIT_MAX);
	if (n > 0)
		printf("; * marks the one that started its session");
	putchar('\n');
	free(list);
	return 0;
}

/*
 * conversations [--service NAME] [--session ID] [--node NODE] [--group G]
 * [--live] [--limit N]: read the options after the command word (argv[0])
 * into f and *limit. Returns 0, or 2 after saying what is wrong.
 */
static int
conversations_options(int argc, char **argv, struct mgr_conv_filter *f, unsigned *limit)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "session", required_argument, NULL, 'S' },
		{ "node", required_argument, NULL, 'n' },
		{ "group", required_argument, NULL, 'g' },
		{ "live", no_argument, NULL, 'l' },
		{ "limit", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 }
	};
	const struct option *o;
	unsigned long v;
	char *end;
	int ch;

	memset(f, 0, sizeof *f);
	*limit = CONV_LIMIT_DEFAULT;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (!service_name(optarg)) {
				fprintf(stderr, "parleyctl: --service '%s' is not a service name (1 to "
				    "63 of A-Z, a-z, 0-9, '_', '.' and '-', as its descriptor names "
				    "it)\n", optarg);
				return 2;
			}
			f->service = optarg;
			break;
		case 'S':
			if (!idgen_valid(optarg)) {
				fprintf(stderr, "parleyctl: --session '%s' is not a conversation ID: "
				    "give the session's ID (GROUP.26 base32 characters, the ID of the "
				    "conversation that started it) or the ID of any conversation of it "
				    "(the pc:ConversationID header of its messages)\n", optarg);
				return 2;
			}
			f->session = optarg;
			break;
		case 'n':
		case 'g':
			if (!idgen_group_valid(optarg)) {
				fprintf(stderr, "parleyctl: --%s '%s' is not a %s name (1 to 32 of "
				    "a-z, 0-9 and '-'; parleyctl %s lists them)\n",
				    ch == 'n' ? "node" : "group", optarg, ch == 'n' ? "node" : "group",
				    ch == 'n' ? "nodes" : "groups");
				return 2;
			}
			if (ch == 'n')
				f->node = optarg;
			else
				f->group = optarg;
			break;
		case 'l':
			f->live_only = 1;
			break;
		case 'L':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-' || v < 1 ||
			    v > CONV_LIMIT_MAX) {
				fprintf(stderr, "parleyctl: --limit '%s': give a number of conversations "
				    "from 1 to %u\n", optarg, CONV_LIMIT_MAX);
				return 2;
			}
			*limit = (unsigned)v;
			break;
		default:
			for (o = opts; o->name != NULL && o->val != optopt; o++)
				continue;
			if (optopt != 0 && o->name != NULL)
				fprintf(stderr, "parleyctl: conversations: --%s needs a value\n",
				    o->name);
			else
				fprintf(stderr, "parleyctl: conversations: unknown option '%s'\n",
				    argv[optind - 1]);
			fprintf(stderr, "usage: parleyctl conversations [--service NAME] "
			    "[--session ID] [--node NODE] [--group G] [--live] [--limit N]\n");
			return 2;
		}
	}
	if (optind < argc) {
		if (idgen_valid(argv[optind]))
			fprintf(stderr, "parleyctl: conversations takes options only: for the "
			    "session of %s, give --session %s\n", argv[optind], argv[optind]);
		else
			fprintf(stderr, "parleyctl: conversations takes options only, not '%s'\n"
			    "usage: parleyctl conversations [--service NAME] [--session ID] "
			    "[--node NODE] [--group G] [--live] [--limit N]\n", argv[optind]);
		return 2;
	}
	return 0;
}

/* dir/file; the caller frees it. */
static char *
path_join(const char *dir, const char *file)
{
	char *s;

	if (file[0] == '/')
		return strdup(file);
	if (asprintf(&s, "%s/%s", dir, file) < 0)
		return NULL;
	return s;
}

/* Read the whole file at path into b. Returns 0 or -1 with errno. */
static int
slurp(const char *path, struct buf *b)
{
	char chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((n = read(fd, chunk, sizeof chunk)) > 0)
		if (buf_append(b, chunk, (size_t)n) != 0) {
			close(fd);
			errno = ENOMEM;
			return -1;
		}
	close(fd);
	return n < 0 ? -1 : 0;
}

/* Write len bytes to a new file path (never over an existing one). Returns 0 or -1 with errno. */
static int
write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	const char *p = data;
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0)
		return -1;
	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			int e = errno;
			close(fd);
			unlink(path);
			errno = e;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0) {
		unlink(path);
		return -1;
	}
	return 0;
}

/*
 * The descriptor text with its module and wsdl lines naming the copies;
 * every other line (comments too) as it was.
 */
static int
rewrite_descriptor(const struct buf *in, const char *module, const char *wsdl, struct buf *out)
{
	const char *p = in->data != NULL ? in->data : "", *end = p + in->len, *nl, *w;
	int rc = 0;

	while (p < end && rc == 0) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		for (w = p; w < nl && (*w == ' ' || *w == '\t'); w++)
			continue;
		if ((size_t)(nl - w) > 7 && strncmp(w, "module", 6) == 0 && (w[6] == ' ' || w[6] == '\t'))
			rc = buf_printf(out, "module %s\n", module);
		else if ((size_t)(nl - w) > 5 && strncmp(w, "wsdl", 4) == 0 &&
		    (w[4] == ' ' || w[4] == '\t'))
			rc = buf_printf(out, "wsdl %s\n", wsdl);
		else
			rc = buf_append(out, p, (size_t)(nl - p)) != 0 || buf_puts(out, "\n") != 0;
		p = nl + 1;
	}
	return rc != 0 ? -1 : 0;
}

/* The node's deploy_dir, from its admin endpoint. */
static int
deploy_dir_of(const char *url, char *dir, size_t len)
{
	struct buf body = BUF_INIT;
	char err[512];
	int status, rc = 1;

	status = http_get(url, "/parley/admin", &body, err, sizeof err);
	if (status < 0)
		fprintf(stderr, "parleyctl: %s\n", err);
	else if (status != 200)
		fprintf(stderr, "parleyctl: %s answered HTTP %d: %s", url, status,
		    body.data != NULL ? body.data : "\n");
	else if (json_string(body.data, "deploy_dir", dir, len) != 0 || dir[0] == '\0')
		fprintf(stderr, "parleyctl: %s did not say where its deploy directory is\n", url);
	else
		rc = 0;
	buf_free(&body);
	return rc;
}

/*
 * Deploy the service the descriptor at dpath describes: copy its module and
 * WSDL into deploy_dir as NAME-vVERSION-N.so and .wsdl (N the first number
 * free: a running module's file is never written over, and dlopen would
 * give its old code for the same name), write the descriptor naming them as
 * .NAME-vVERSION-N.service (hidden: a rescan does not take it), and ask the
 * node to load that. The node renames it NAME.service once it serves it;
 * when it refuses, the copies are removed and the running version stays.
 */
#define UPLOAD_PIECE (256u << 10)
#define UPLOAD_PIECE_MIN 1024u

/*
 * Put the len bytes at data into the node's deploy directory as name, over
 * HTTP (/parley/admin/upload), in pieces a node takes (halved while the node
 * answers 413: its max_message_bytes). Returns 0; 1 when the node has a file
 * of that name already (nothing sent); -1 with the reason printed.
 */
static int
upload_file(const char *url, const char *name, const void *data, size_t len)
{
	struct buf answer = BUF_INIT;
	char path[512], err[512];
	size_t off = 0, piece = UPLOAD_PIECE, n;
	int status, rc = -1;

	for (;;) {
		n = len - off < piece ? len - off : piece;
		snprintf(path, sizeof path, "/parley/admin/upload?file=%s&offset=%zu%s", name, off,
		    off + n == len ? "&last=1" : "");
		status = http_send(url, "POST", path, "application/octet-stream",
		    (const char *)data + off, n, &answer, err, sizeof err);
		if (status < 0) {
			fprintf(stderr, "parleyctl: %s\n", err);
			goto out;
		}
		if (status == 413 && piece > UPLOAD_PIECE_MIN) {
			piece /= 2;
			continue;
		}
		if (status == 409 && off == 0 && answer.data != NULL &&
		    strstr(answer.data, "already") != NULL) {
			rc = 1;
			goto out;
		}
		if (status != 200) {
			fprintf(stderr, "parleyctl: uploading %s to %s: HTTP %d: %s", name, url, status,
			    answer.data != NULL ? answer.data : "\n");
			goto out;
		}
		off += n;
		if (off == len)
			break;
	}
	rc = 0;
out:
	buf_free(&answer);
	return rc;
}

/*
 * Ask the node at url to deploy what form names (for the descriptor dpath)
 * and print its answer. Returns 0 once deployed, else 1 with the reason
 * printed.
 */
static int
post_deploy(const char *url, const char *dpath, const char *form)
{
	struct buf answer = BUF_INIT;
	char err[2048];
	int status, rc = 1;

	status = http_call(url, "POST", "/parley/admin/deploy", form, &answer, err, sizeof err);
	if (status < 0)
		fprintf(stderr, "parleyctl: %s\n", err);
	else if (status != 200)
		fprintf(stderr, "parleyctl: %s: %s", dpath, answer.data != NULL ? answer.data :
		    "refused\n");
	else {
		fputs(answer.data != NULL ? answer.data : "deployed\n", stdout);
		rc = 0;
	}
	buf_free(&answer);
	return rc;
}

/*
 * deploy_one for a node whose deploy directory is not this machine's: upload
 * the module, the WSDL and the (rewritten, hidden) descriptor under the first
 * free STEM, then deploy; a refused deploy has the node discard them.
 */
static int
deploy_uploaded(const char *url, const char *dpath, const struct descriptor *d,
    const struct buf *text, const struct buf *module, const struct buf *wsdl)
{
	struct buf desc = BUF_INIT;
	char stem[128], so[140], wname[140], dname[140], form[200];
	unsigned n;
	int up, rc = 1;

	for (n = 1; n < 10000; n++) {
		snprintf(stem, sizeof stem, "%s-v%u-%u", d->service, d->version, n);
		snprintf(so, sizeof so, "%s.so", stem);
		snprintf(wname, sizeof wname, "%s.wsdl", stem);
		snprintf(dname, sizeof dname, ".%s.service", stem);
		up = upload_file(url, so, module->data, module->len);
		if (up == 1)
			continue;
		if (up != 0)
			goto out;
		break;
	}
	if (n == 10000) {
		fprintf(stderr, "parleyctl: %s: no free file name for %s in the node's deploy "
		    "directory\n", dpath, d->service);
		goto out;
	}
	buf_reset(&desc);
	if (rewrite_descriptor(text, so, wname, &desc) != 0) {
		fprintf(stderr, "parleyctl: out of memory\n");
		goto out;
	}
	if (upload_file(url, wname, wsdl->data, wsdl->len) != 0 ||
	    upload_file(url, dname, desc.data, desc.len) != 0) {
		fprintf(stderr, "parleyctl: %s: the upload was not completed; %s stays in the node's "
		    "deploy directory unused\n", dpath, so);
		goto out;
	}
	snprintf(form, sizeof form, "descriptor=%s&discard=1", dname);
	if (post_deploy(url, dpath, form) != 0)
		goto out;
	rc = 0;
out:
	buf_free(&desc);
	return rc;
}

static int
deploy_one(const char *url, const char *deploy_dir, const char *dpath, int remote)
{
	struct descriptor d;
	struct buf text = BUF_INIT, module = BUF_INIT, wsdl = BUF_INIT, desc = BUF_INIT;
	char err[2048], stem[128], form[256];
	char *dir = NULL, *mpath = NULL, *wpath = NULL;
	char *to_so = NULL, *to_wsdl = NULL, *to_desc = NULL;
	const char *slash;
	unsigned n;
	int rc = 1, made = 0;

	memset(&d, 0, sizeof d);
	if (slurp(dpath, &text) != 0) {
		fprintf(stderr, "parleyctl: %s: %s\n", dpath, strerror(errno));
		goto out;
	}
	if (descriptor_parse(text.data != NULL ? text.data : "", text.len, dpath, &d, err,
	    sizeof err) != 0) {
		fprintf(stderr, "parleyctl: %s\n", err);
		goto out;
	}
	slash = strrchr(dpath, '/');
	dir = slash != NULL ? strndup(dpath, (size_t)(slash - dpath + (slash == dpath))) :
	    strdup(".");
	if (dir == NULL || (mpath = path_join(dir, d.module)) == NULL ||
	    (wpath = path_join(dir, d.wsdl)) == NULL)
		goto nomem;
	if (slurp(mpath, &module) != 0 || slurp(wpath, &wsdl) != 0) {
		fprintf(stderr, "parleyctl: %s: cannot read %s: %s\n", dpath,
		    module.len == 0 ? mpath : wpath, strerror(errno));
		goto out;
	}
	if (remote) {
		rc = deploy_uploaded(url, dpath, &d, &text, &module, &wsdl);
		goto out;
	}
	for (n = 1; n < 10000; n++) {
		struct stat st;

		snprintf(stem, sizeof stem, "%s-v%u-%u", d.service, d.version, n);
		free(to_so);
		free(to_wsdl);
		free(to_desc);
		to_so = to_wsdl = to_desc = NULL;
		if (asprintf(&to_so, "%s/%s.so", deploy_dir, stem) < 0 ||
		    asprintf(&to_wsdl, "%s/%s.wsdl", deploy_dir, stem) < 0 ||
		    asprintf(&to_desc, "%s/.%s.service", deploy_dir, stem) < 0)
			goto nomem;
		if (stat(to_so, &st) != 0 && stat(to_wsdl, &st) != 0 && stat(to_desc, &st) != 0)
			break;
	}
	snprintf(form, sizeof form, "%s.so", stem);
	{
		char wname[140];

		snprintf(wname, sizeof wname, "%s.wsdl", stem);
		if (rewrite_descriptor(&text, form, wname, &desc) != 0)
			goto nomem;
	}
	if (write_new(to_so, module.data, module.len, 0755) != 0) {
		fprintf(stderr, "parleyctl: cannot write %s: %s\n", to_so, strerror(errno));
		goto out;
	}
	made = 1;
	if (write_new(to_wsdl, wsdl.data, wsdl.len, 0644) != 0) {
		fprintf(stderr, "parleyctl: cannot write %s: %s\n", to_wsdl, strerror(errno));
		goto out;
	}
	made = 2;
	if (write_new(to_desc, desc.data, desc.len, 0644) != 0) {
		fprintf(stderr, "parleyctl: cannot write %s: %s\n", to_desc, strerror(errno));
		goto out;
	}
	made = 3;
	snprintf(form, sizeof form, "descriptor=.%s.service", stem);
	if (post_deploy(url, dpath, form) != 0)
		goto out;
	rc = 0;
	made = 0;
	goto out;
nomem:
	fprintf(stderr, "parleyctl: out of memory\n");
out:
	/* Refused: what this deploy copied goes; the node still serves what it did. */
	if (made >= 3)
		unlink(to_desc);
	if (made >= 2)
		unlink(to_wsdl);
	if (made >= 1)
		unlink(to_so);
	descriptor_free(&d);
	buf_free(&text);
	buf_free(&module);
	buf_free(&wsdl);
	buf_free(&desc);
	free(dir);
	free(mpath);
	free(wpath);
	free(to_so);
	free(to_wsdl);
	free(to_desc);
	return rc;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && strcmp(s + n - k, suffix) == 0;
}

/*
 * PATH is a module (NAME.so, its descriptor NAME.service beside it), a
 * descriptor, or a directory: every NAME.service in it.
 */
static int
cmd_deploy(const char *url, const char *path, int remote)
{
	char deploy_dir[1024], host[256], port[16];
	struct stat st;
	int rc = 0, found = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "parleyctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (deploy_dir_of(url, deploy_dir, sizeof deploy_dir) != 0)
		return 1;
	/*
	 * The node's deploy directory is this machine's only when the node is
	 * on this machine (and the directory writable here): else upload.
	 */
	if (split_url(url, host, sizeof host, port, sizeof port) != 0 ||
	    !(strncmp(host, "127.", 4) == 0 || strcmp(host, "localhost") == 0 ||
	    strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0) ||
	    access(deploy_dir, W_OK) != 0)
		remote = 1;
	if (S_ISDIR(st.st_mode)) {
		struct dirent **list = NULL;
		int n, i;

		n = scandir(path, &list, NULL, alphasort);
		if (n < 0) {
			fprintf(stderr, "parleyctl: %s: %s\n", path, strerror(errno));
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (list[i]->d_name[0] != '.' && ends_with(list[i]->d_name, ".service")) {
				char *d = path_join(path, list[i]->d_name);

				found = 1;
				if (d == NULL || deploy_one(url, deploy_dir, d, remote) != 0)
					rc = 1;
				free(d);
			}
			free(list[i]);
		}
		free(list);
		if (!found) {
			fprintf(stderr, "parleyctl: %s holds no NAME.service descriptor\n", path);
			return 1;
		}
		return rc;
	}
	if (ends_with(path, ".so")) {
		char *d = NULL;

		if (asprintf(&d, "%.*s.service", (int)(strlen(path) - 3), path) < 0)
			return 1;
		if (access(d, R_OK) != 0) {
			fprintf(stderr, "parleyctl: %s: no descriptor %s beside it (%s)\n", path, d,
			    strerror(errno));
			free(d);
			return 1;
		}
		rc = deploy_one(url, deploy_dir, d, remote);
		free(d);
		return rc;
	}
	if (ends_with(path, ".service"))
		return deploy_one(url, deploy_dir, path, remote);
	fprintf(stderr, "parleyctl: %s is not a module (.so), a descriptor (.service) or a "
	    "directory\n", path);
	return 1;
}

static int
cmd_undeploy(const char *url, const char *name, int force)
{
	struct buf answer = BUF_INIT;
	char form[256], err[512];
	const char *p;
	int status, rc = 1;

	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			break;
	if (*p != '\0' || p == name || p - name > 63) {
		fprintf(stderr, "parleyctl: '%s' is not a service name\n", name);
		return 1;
	}
	snprintf(form, sizeof form, "service=%s%s", name, force ? "&force=1" : "");
	status = http_call(url, "POST", "/parley/admin/undeploy", form, &answer, err, sizeof err);
	if (status < 0)
		fprintf(stderr, "parleyctl: %s\n", err);
	else if (status != 200)
		fprintf(stderr, "parleyctl: %s", answer.data != NULL ? answer.data : "refused\n");
	else {
		fputs(answer.data != NULL ? answer.data : "undeployed\n", stdout);
		rc = 0;
	}
	buf_free(&answer);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *url = getenv("PARLEY_URL");
	struct soap_client *c = NULL;
	struct mgr_conv_filter filter;
	char manager[MGR_ADDRESS_MAX + 32];
	const char *cmd;
	unsigned limit = 0;
	int ch, rc = 1;

	if (url == NULL || url[0] == '\0')
		url = "http://127.0.0.1:8080";
	while ((ch = getopt_long(argc, argv, "+u:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("parleyctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if (strcmp(cmd, "status") == 0 && optind + 1 == argc)
		return cmd_status(url);
	if (strcmp(cmd, "deploy") == 0 && optind + 2 == argc)
		return cmd_deploy(url, argv[optind + 1], 0);
	if (strcmp(cmd, "deploy") == 0 && optind + 3 == argc &&
	    strcmp(argv[optind + 1], "--upload") == 0)
		return cmd_deploy(url, argv[optind + 2], 1);
	if (strcmp(cmd, "undeploy") == 0 && optind + 2 == argc)
		return cmd_undeploy(url, argv[optind + 1], 0);
	if (strcmp(cmd, "undeploy") == 0 && optind + 3 == argc &&
	    strcmp(argv[optind + 1], "--force") == 0)
		return cmd_undeploy(url, argv[optind + 2], 1);
	if (strcmp(cmd, "conversations") == 0) {
		if ((rc = conversations_options(argc - optind, argv + optind, &filter, &limit)) != 0)
			return rc;
		rc = 1;
	} else if (!((strcmp(cmd, "nodes") == 0 || strcmp(cmd, "groups") == 0) &&
	    optind + 1 == argc) && !(strcmp(cmd, "locate") == 0 && optind + 2 == argc)) {
		usage(stderr);
		return 2;
	}
	xmlInitParser();
	if (manager_of(url, manager, sizeof manager) != 0)
		goto out;
	c = soap_client_new(TIMEOUT_MS);
	if (c == NULL) {
		fprintf(stderr, "parleyctl: out of memory\n");
		goto out;
	}
	if (strcmp(cmd, "nodes") == 0)
		rc = cmd_nodes(c, manager);
	else if (strcmp(cmd, "groups") == 0)
		rc = cmd_groups(c, manager);
	else if (strcmp(cmd, "conversations") == 0)
		rc = cmd_conversations(c, manager, &filter, limit);
	else
		rc = cmd_locate(c, manager, argv[optind + 1]);
out:
	soap_client_free(c);
	return rc;
}
