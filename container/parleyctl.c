/*
 * parleyctl.c - a small command line for a Parley cluster: a node's status,
 * the nodes and groups its manager knows, and where a conversation is. It
 * asks any node for its status over HTTP and learns from it where the
 * manager is, then asks the manager over SOAP (wsdl/manager.wsdl).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "buf.h"
#include "idgen.h"
#include "manager.h"
#include "mgrsoap.h"
#include "parley.h"

#define TIMEOUT_MS 5000

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
	    "  locate ID     where conversation ID is served\n");
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

/* GET path from the node at url into body; returns the HTTP status, or -1 with errno-ish text. */
static int
http_get(const char *url, const char *path, struct buf *body, char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL, *p;
	struct timeval tv = { TIMEOUT_MS / 1000, (TIMEOUT_MS % 1000) * 1000 };
	char host[256], port[16], req[600], chunk[4096];
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
	snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n",
	    path, host, port);
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
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
	if (status != 200 || body.data == NULL ||
	    json_string(body.data, "manager_url", manager, len) != 0 ||
	    manager[0] == '\0') {
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
	char manager[MGR_ADDRESS_MAX + 32];
	const char *cmd;
	int ch, rc = 1;

	if (url == NULL || url[0] == '\0')
		url = "http://127.0.0.1:8080";
	while ((ch = getopt_long(argc, argv, "u:hV", longopts, NULL)) != -1) {
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
	if (!((strcmp(cmd, "nodes") == 0 || strcmp(cmd, "groups") == 0) && optind + 1 == argc) &&
	    !(strcmp(cmd, "locate") == 0 && optind + 2 == argc)) {
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
	else
		rc = cmd_locate(c, manager, argv[optind + 1]);
out:
	soap_client_free(c);
	return rc;
}
