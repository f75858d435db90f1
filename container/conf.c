/*
 * conf.c - parleyd's configuration (conf.h): one table describes every key,
 * its type, range, default and help; parsing, printing and --help use it.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addrlist.h"
#include "conf.h"
#include "idgen.h"
#include "log.h"
#include "parley.h"

enum kind {
	K_STRING,       /* free text, up to the field's size */
	K_GROUP,        /* a group name (idgen_group_valid) */
	K_ADDRESS,      /* HOST:PORT */
	K_UINT,         /* unsigned, in [min, max] */
	K_SIZE,         /* bytes with an optional k, m or g suffix */
	K_DURATION,     /* milliseconds from ms, s, m, h or d (bare numbers are seconds) */
	K_STORE,
	K_SYNC,
	K_ACK,
	K_LEVEL,
	K_MANAGER,
	K_ROLE,
	K_ADMIN,
	K_URL,          /* "" or http://HOST:PORT */
	K_SITES         /* "" or HOST:PORT,HOST:PORT... */
};

struct key {
	const char *name;
	enum kind kind;
	size_t offset;
	size_t size;            /* of a K_STRING-like field */
	uint64_t min, max;
	const char *def;        /* the default as text; NULL: computed */
	const char *help;
};

#define STR(f) offsetof(struct conf, f), sizeof(((struct conf *)0)->f)
#define NUM(f) offsetof(struct conf, f), sizeof(((struct conf *)0)->f)

static const struct key keys[] = {
	{ "node_id", K_GROUP, STR(node_id), 0, 0, "n1",
	  "this node's name; it also names its group and starts its conversation IDs" },
	{ "listen", K_ADDRESS, STR(listen), 0, 0, "127.0.0.1:8080",
	  "address and port to serve HTTP on (port 0 picks a free one)" },
	{ "data_dir", K_STRING, STR(data_dir), 0, 0, "./var",
	  "directory for the store and the lock file" },
	{ "store", K_STORE, NUM(store), 0, 0, "disk",
	  "where beans live: memory (lost at exit), disk (Berkeley DB files) or replicated "
	  "(disk, with a secondary copy on another node that takes over when this one dies)" },
	{ "repl_listen", K_ADDRESS, STR(repl_listen), 0, 0, "127.0.0.1:9080",
	  "store = replicated: where the first replication listener listens; each group held "
	  "takes the next port" },
	{ "repl_ports", K_UINT, NUM(repl_ports), 2, 1024, "16",
	  "store = replicated: ports from repl_listen's on, one per group held" },
	{ "ack", K_ACK, NUM(ack), 0, 0, "all",
	  "store = replicated: a change is answered once its secondary has it (all, one) or at "
	  "once (none)" },
	{ "ack_timeout", K_DURATION, NUM(ack_timeout_ms), 10, 600000, "1s",
	  "store = replicated: how long a commit waits for its secondary's acknowledgement" },
	{ "lease", K_DURATION, NUM(lease_ms), 0, 600000, "0",
	  "the manager's lease on a group (0: heartbeat_interval x (heartbeat_misses - 1))" },
	{ "sync", K_SYNC, NUM(sync), 0, 0, "write",
	  "what a commit waits for: full (fsync), write (OS has it), none" },
	{ "cache_size", K_SIZE, NUM(cache_size), 1 << 20, (uint64_t)16 << 30, "32m",
	  "Berkeley DB cache; in memory mode it bounds what the store can hold" },
	{ "deploy_dir", K_STRING, STR(deploy_dir), 0, 0, NULL,
	  "directory of deployed services (NAME.service files)" },
	{ "admin_allow", K_ADMIN, NUM(admin_allow), 0, 0, "loopback",
	  "who may deploy and undeploy services (POST /parley/admin/...): loopback (clients "
	  "on 127.0.0.0/8 and ::1), any, or none" },
	{ "role", K_ROLE, NUM(role), 0, 0, "node",
	  "node (serves services, holds conversations) or manager (only the manager)" },
	{ "manager", K_MANAGER, STR(manager), 0, 0, "embedded",
	  "the conversation manager: embedded, or http://HOST:PORT/parley/manager (several, "
	  "comma-separated: the manager sites; the node uses the active one)" },
	{ "manager_repl", K_SITES, STR(manager_repl), 0, 0, "",
	  "role = manager: HOST:PORT of this manager site's replication listener (its tables "
	  "are replicated to the other sites; Berkeley DB elects the active one)" },
	{ "manager_sites", K_SITES, STR(manager_sites), 0, 0, "",
	  "role = manager with manager_repl: the other manager sites' listeners, "
	  "comma-separated (two others make a group of three)" },
	{ "advertise", K_URL, STR(advertise), 0, 0, "",
	  "the URL other nodes reach this node at (default: http:// and the listen address)" },
	{ "heartbeat_interval", K_DURATION, NUM(heartbeat_interval_ms), 10, 60000, "200ms",
	  "how often the manager calls every node's Heartbeat" },
	{ "heartbeat_misses", K_UINT, NUM(heartbeat_misses), 1, 1000, "3",
	  "heartbeats missed in a row before the manager marks a node dead" },
	{ "manager_timeout", K_DURATION, NUM(manager_timeout_ms), 10, 600000, "2s",
	  "how long a call to a remote manager may take" },
	{ "forward_timeout", K_DURATION, NUM(forward_timeout_ms), 10, 3600000, "30s",
	  "how long the owner of a conversation may take to answer a relayed message" },
	{ "workers", K_UINT, NUM(workers), 1, 256, "8",
	  "worker threads that handle requests" },
	{ "max_connections", K_UINT, NUM(max_connections), 4, 65536, "1024",
	  "open client connections; more are answered 503" },
	{ "max_message_bytes", K_SIZE, NUM(max_message_bytes), 1024, (uint64_t)1 << 30, "1m",
	  "largest request body accepted (413 beyond it)" },
	{ "max_headers", K_UINT, NUM(max_headers), 1, 1000, "32",
	  "most SOAP header blocks a message may carry" },
	{ "max_conversations", K_UINT, NUM(max_conversations), 1, 100000000, "100000",
	  "most live conversations this node holds; more starts get pc:Busy" },
	{ "max_bean_bytes", K_SIZE, NUM(max_bean_bytes), 16, (uint64_t)64 << 20, "1m",
	  "largest bean a handler may store" },
	{ "max_queue", K_UINT, NUM(max_queue), 1, 100000, "64",
	  "messages that may wait behind a busy conversation; more get pc:Busy" },
	{ "retry_keep", K_UINT, NUM(retry_keep), 1, STORE_RING_MAX, "16",
	  "answers kept per conversation for retried messages (same wsa:MessageID)" },
	{ "recv_timeout", K_DURATION, NUM(recv_timeout_ms), 10, 3600000, "10s",
	  "a started request must arrive whole within this, or the client is dropped" },
	{ "send_timeout", K_DURATION, NUM(send_timeout_ms), 10, 3600000, "10s",
	  "a client must take its response within this" },
	{ "keepalive_timeout", K_DURATION, NUM(keepalive_timeout_ms), 10, 86400000, "60s",
	  "idle keep-alive connections are closed after this" },
	{ "sweep_interval", K_DURATION, NUM(sweep_interval_ms), 10, 86400000, "5s",
	  "how often expired conversations are looked for" },
	{ "tombstone_ttl", K_DURATION, NUM(tombstone_ttl_ms), 0, 604800000, "10m",
	  "how long an ended conversation's answers stay for retries" },
	{ "checkpoint_interval", K_DURATION, NUM(checkpoint_interval_ms), 100, 86400000, "60s",
	  "how often the disk store is checkpointed and old logs removed" },
	{ "callback_retry_min", K_DURATION, NUM(callback_retry_min_ms), 10, 86400000, "1s",
	  "a message to a wsa:ReplyTo/FaultTo address or a handler's callback that could not be "
	  "delivered is tried again after this, then after twice as long each time" },
	{ "callback_retry_max", K_DURATION, NUM(callback_retry_max_ms), 10, 86400000, "60s",
	  "the longest wait between two attempts to deliver a message (at least "
	  "callback_retry_min)" },
	{ "callback_ttl", K_DURATION, NUM(callback_ttl_ms), 10, 2592000000u, "86400s",
	  "a message not delivered this long after it was queued is dropped (and logged)" },
	{ "callback_timeout", K_DURATION, NUM(callback_timeout_ms), 10, 600000, "5s",
	  "how long one delivery may take: connecting, sending and waiting for the HTTP status" },
	{ "callback_allow", K_STRING, STR(callback_allow), 0, 0, "any",
	  "the addresses answers and callbacks may be sent to: any, none, or URL prefixes "
	  "(http://partner.example.com/ http://10.0.0.7:9000/); others get a Sender fault" },
	{ "log_level", K_LEVEL, NUM(log_level), 0, 0, "info",
	  "warn, info or debug" },
	{ "pid_file", K_STRING, STR(pid_file), 0, 0, "",
	  "write the process ID here (empty: do not)" },
};

#define NKEYS (sizeof keys / sizeof keys[0])

static const struct key *
lookup(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Parse a decimal unsigned number with an optional suffix; the suffix is returned. */
static int
parse_number(const char *s, uint64_t *n, const char **suffix)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return PARLEY_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return PARLEY_EINVAL;
	*n = v;
	*suffix = end;
	return 0;
}

static int
mul(uint64_t *n, uint64_t by)
{
	if (*n > UINT64_MAX / by)
		return PARLEY_EINVAL;
	*n *= by;
	return 0;
}

static int
parse_size(const char *s, uint64_t *out)
{
	const char *suf;
	uint64_t n;

	if (parse_number(s, &n, &suf) != 0)
		return PARLEY_EINVAL;
	if (*suf == '\0' || strcmp(suf, "b") == 0)
		;
	else if (strcasecmp(suf, "k") == 0 || strcasecmp(suf, "kb") == 0)
		return mul(&n, 1024) == 0 ? (*out = n, 0) : PARLEY_EINVAL;
	else if (strcasecmp(suf, "m") == 0 || strcasecmp(suf, "mb") == 0)
		return mul(&n, 1024 * 1024) == 0 ? (*out = n, 0) : PARLEY_EINVAL;
	else if (strcasecmp(suf, "g") == 0 || strcasecmp(suf, "gb") == 0)
		return mul(&n, 1024 * 1024 * 1024) == 0 ? (*out = n, 0) : PARLEY_EINVAL;
	else
		return PARLEY_EINVAL;
	*out = n;
	return 0;
}

static int
parse_duration(const char *s, uint64_t *ms)
{
	const char *suf;
	uint64_t n;
	uint64_t by;

	if (parse_number(s, &n, &suf) != 0)
		return PARLEY_EINVAL;
	if (strcmp(suf, "ms") == 0)
		by = 1;
	else if (*suf == '\0' || strcmp(suf, "s") == 0)
		by = 1000;
	else if (strcmp(suf, "m") == 0)
		by = 60000;
	else if (strcmp(suf, "h") == 0)
		by = 3600000;
	else if (strcmp(suf, "d") == 0)
		by = 86400000;
	else
		return PARLEY_EINVAL;
	if (mul(&n, by) != 0)
		return PARLEY_EINVAL;
	*ms = n;
	return 0;
}

/* Check "HOST:PORT" (HOST may be [v6]); the port is 0..65535. */
static int
valid_address(const char *s)
{
	const char *colon = strrchr(s, ':');
	const char *p;
	unsigned long port;
	char *end;

	if (colon == NULL || colon == s || colon[1] == '\0')
		return 0;
	if (s[0] == '[' && colon[-1] != ']')
		return 0;
	for (p = colon + 1; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	return errno == 0 && port <= 65535;
}

/* Check a comma-separated list of http:// URLs (urls) or of HOST:PORT with a port. */
static int
valid_list(const char *s, int urls)
{
	char items[ADDRLIST_MAX][ADDRLIST_ITEM_MAX], host[ADDRLIST_ITEM_MAX];
	unsigned n, i, port;

	if (addrlist_split(s, items, ADDRLIST_MAX, &n) != 0 || n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (urls ? strncmp(items[i], "http://", 7) != 0 || items[i][7] == '\0' ||
		    strpbrk(items[i], " \t\"<>") != NULL :
		    addrlist_host_port(items[i], host, sizeof host, &port) != 0)
			return 0;
	}
	return 1;
}

static void
set_field(struct conf *c, const struct key *k, uint64_t v)
{
	char *field = (char *)c + k->offset;

	if (k->size == sizeof(size_t) && (k->kind == K_SIZE))
		*(size_t *)(void *)field = (size_t)v;
	else
		*(unsigned *)(void *)field = (unsigned)v;
}

static int
set_string(struct conf *c, const struct key *k, const char *value, char *err, size_t errlen)
{
	char *field = (char *)c + k->offset;

	if (strlen(value) >= k->size) {
		snprintf(err, errlen, "%s is too long (at most %zu bytes)", k->name, k->size - 1);
		return PARLEY_EINVAL;
	}
	memcpy(field, value, strlen(value) + 1);
	return 0;
}

int
conf_set(struct conf *c, const char *name, const char *value, char *err, size_t errlen)
{
	const struct key *k = lookup(name);
	uint64_t v = 0;

	if (k == NULL) {
		snprintf(err, errlen, "unknown key '%s' (parleyd --help lists the keys)", name);
		return PARLEY_EINVAL;
	}
	switch (k->kind) {
	case K_STRING:
		return set_string(c, k, value, err, errlen);
	case K_GROUP:
		if (!idgen_group_valid(value)) {
			snprintf(err, errlen, "%s '%s' must be 1 to %d characters of a-z, 0-9 and '-'",
			    k->name, value, IDGEN_GROUP_MAX);
			return PARLEY_EINVAL;
		}
		return set_string(c, k, value, err, errlen);
	case K_ADDRESS:
		if (!valid_address(value)) {
			snprintf(err, errlen, "%s '%s' must be HOST:PORT, e.g. 127.0.0.1:8080", k->name,
			    value);
			return PARLEY_EINVAL;
		}
		return set_string(c, k, value, err, errlen);
	case K_MANAGER:
		if (strcmp(value, "embedded") != 0 && !valid_list(value, 1)) {
			snprintf(err, errlen, "%s '%s' must be 'embedded' or an http:// URL (several: "
			    "comma-separated, at most %d)", k->name, value, ADDRLIST_MAX);
			return PARLEY_EINVAL;
		}
		return set_string(c, k, value, err, errlen);
	case K_SITES:
		if (value[0] != '\0' && !valid_list(value, 0)) {
			snprintf(err, errlen, "%s '%s' must be HOST:PORT, comma-separated (at most %d)",
			    k->name, value, ADDRLIST_MAX);
			return PARLEY_EINVAL;
		}
		return set_string(c, k, value, err, errlen);
	case K_ROLE:
		if (strcmp(value, "node") == 0)
			c->role = CONF_ROLE_NODE;
		else if (strcmp(value, "manager") == 0)
			c->role = CONF_ROLE_MANAGER;
		else {
			snprintf(err, errlen, "role '%s' must be node or manager", value);
			return PARLEY_EINVAL;
		}
		return 0;
	case K_ADMIN:
		if (strcmp(value, "loopback") == 0)
			c->admin_allow = CONF_ADMIN_LOOPBACK;
		else if (strcmp(value, "any") == 0)
			c->admin_allow = CONF_ADMIN_ANY;
		else if (strcmp(value, "none") == 0)
			c->admin_allow = CONF_ADMIN_NONE;
		else {
			snprintf(err, errlen, "admin_allow '%s' must be loopback, any or none", value);
			return PARLEY_EINVAL;
		}
		return 0;
	case K_URL:
		if (value[0] != '\0' && (strncmp(value, "http://", 7) != 0 || value[7] == '\0' ||
		    strpbrk(value, " \t\"<>") != NULL)) {
			snprintf(err, errlen, "%s '%s' must be an http:// URL, e.g. http://10.0.0.5:8080",
			    k->name, value);
			return PARLEY_EINVAL;
		}
		return set_string(c, k, value, err, errlen);
	case K_STORE:
		if (strcmp(value, "memory") == 0)
			c->store = STORE_MEMORY;
		else if (strcmp(value, "disk") == 0)
			c->store = STORE_DISK;
		else if (strcmp(value, "replicated") == 0)
			c->store = STORE_REPLICATED;
		else {
			snprintf(err, errlen, "store '%s' must be memory, disk or replicated", value);
			return PARLEY_EINVAL;
		}
		return 0;
	case K_ACK:
		if (strcmp(value, "all") == 0)
			c->ack = STORE_ACK_ALL;
		else if (strcmp(value, "one") == 0)
			c->ack = STORE_ACK_ONE;
		else if (strcmp(value, "none") == 0)
			c->ack = STORE_ACK_NONE;
		else {
			snprintf(err, errlen, "ack '%s' must be all, one or none", value);
			return PARLEY_EINVAL;
		}
		return 0;
	case K_SYNC:
		if (strcmp(value, "full") == 0)
			c->sync = STORE_SYNC_FULL;
		else if (strcmp(value, "write") == 0)
			c->sync = STORE_SYNC_WRITE;
		else if (strcmp(value, "none") == 0)
			c->sync = STORE_SYNC_NONE;
		else {
			snprintf(err, errlen, "sync '%s' must be full, write or none", value);
			return PARLEY_EINVAL;
		}
		return 0;
	case K_LEVEL:
		if (strcmp(value, "warn") == 0)
			c->log_level = LOG_LEVEL_WARN;
		else if (strcmp(value, "info") == 0)
			c->log_level = LOG_LEVEL_INFO;
		else if (strcmp(value, "debug") == 0)
			c->log_level = LOG_LEVEL_DEBUG;
		else {
			snprintf(err, errlen, "log_level '%s' must be warn, info or debug", value);
			return PARLEY_EINVAL;
		}
		return 0;
	case K_UINT:
		if (parse_size(value, &v) != 0 || strpbrk(value, "kKmMgGbB") != NULL) {
			snprintf(err, errlen, "%s '%s' must be a whole number", k->name, value);
			return PARLEY_EINVAL;
		}
		break;
	case K_SIZE:
		if (parse_size(value, &v) != 0) {
			snprintf(err, errlen, "%s '%s' must be a size such as 65536, 64k or 1m", k->name,
			    value);
			return PARLEY_EINVAL;
		}
		break;
	case K_DURATION:
		if (parse_duration(value, &v) != 0) {
			snprintf(err, errlen, "%s '%s' must be a duration such as 500ms, 10s, 5m or 1h",
			    k->name, value);
			return PARLEY_EINVAL;
		}
		break;
	}
	if (v < k->min || v > k->max) {
		snprintf(err, errlen, "%s '%s' is out of range (%" PRIu64 "%s to %" PRIu64 "%s)",
		    k->name, value, k->kind == K_DURATION ? k->min : k->min,
		    k->kind == K_DURATION ? "ms" : "", k->max, k->kind == K_DURATION ? "ms" : "");
		return PARLEY_EINVAL;
	}
	set_field(c, k, v);
	return 0;
}

/* The deploy directory parleyd uses when none is configured. */
static void
default_deploy_dir(char *out, size_t len)
{
	char exe[CONF_PATH_MAX];
	ssize_t n;

	/*
	 * A parleyd run from its build tree serves the samples built beside it;
	 * an installed one serves the installed samples.
	 */
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		if (strcmp(exe, PARLEY_BUILD_DIR "/container/parleyd") == 0) {
			snprintf(out, len, "%s", PARLEY_BUILD_DIR "/samples/deploy");
			return;
		}
	}
	snprintf(out, len, "%s", PARLEY_SERVICE_DIR);
}

void
conf_defaults(struct conf *c)
{
	char err[256];
	size_t i;

	memset(c, 0, sizeof *c);
	for (i = 0; i < NKEYS; i++) {
		if (keys[i].def == NULL)
			continue;
		if (conf_set(c, keys[i].name, keys[i].def, err, sizeof err) != 0)
			fatalx("built-in default of %s: %s", keys[i].name, err);
	}
	default_deploy_dir(c->deploy_dir, sizeof c->deploy_dir);
}

static char *
trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/*
 * Split one line into key and value: "key = value", "key value" or
 * "key = \"value with spaces\"". Returns 0, 1 for a blank or comment line, or
 * PARLEY_EINVAL with err.
 */
static int
split_line(char *line, char **key, char **value, char *err, size_t errlen)
{
	char *p, *v;

	p = trim(line);
	if (*p == '\0' || *p == '#')
		return 1;
	*key = p;
	while (*p != '\0' && !isspace((unsigned char)*p) && *p != '=')
		p++;
	if (*p == '\0') {
		snprintf(err, errlen, "'%s' has no value (write: %s = VALUE)", *key, *key);
		return PARLEY_EINVAL;
	}
	v = p;
	*p++ = '\0';
	if (*v != '=') {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '=')
			p++;
	}
	v = trim(p);
	if (*v == '"') {
		char *close = strrchr(v + 1, '"');
		if (close == NULL || close[1] != '\0') {
			snprintf(err, errlen, "unterminated quote in the value of '%s'", *key);
			return PARLEY_EINVAL;
		}
		*close = '\0';
		v++;
	} else {
		char *hash = strchr(v, '#');
		if (hash != NULL) {
			*hash = '\0';
			v = trim(v);
		}
	}
	if (*v == '\0' && lookup(*key) != NULL && lookup(*key)->kind != K_STRING &&
	    lookup(*key)->kind != K_URL && lookup(*key)->kind != K_SITES) {
		snprintf(err, errlen, "'%s' has no value", *key);
		return PARLEY_EINVAL;
	}
	*value = v;
	return 0;
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	char line[4096];
	char msg[512];
	unsigned lineno = 0;
	FILE *f;
	int rc = 0;

	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return PARLEY_EIO;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *key, *value;
		int r;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long", path, lineno);
			rc = PARLEY_EINVAL;
			goto out;
		}
		r = split_line(line, &key, &value, msg, sizeof msg);
		if (r == 1)
			continue;
		if (r == 0)
			r = conf_set(c, key, value, msg, sizeof msg);
		if (r != 0) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, msg);
			rc = PARLEY_EINVAL;
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = PARLEY_EIO;
	}
out:
	fclose(f);
	return rc;
}

int
conf_override(struct conf *c, const char *assignment, char *err, size_t errlen)
{
	char copy[2048];
	char msg[512];
	char *eq;

	if (strlen(assignment) >= sizeof copy) {
		snprintf(err, errlen, "-D %.40s...: too long", assignment);
		return PARLEY_EINVAL;
	}
	strcpy(copy, assignment);
	eq = strchr(copy, '=');
	if (eq == NULL) {
		snprintf(err, errlen, "-D %s: write -D key=value", assignment);
		return PARLEY_EINVAL;
	}
	*eq = '\0';
	if (conf_set(c, trim(copy), trim(eq + 1), msg, sizeof msg) != 0) {
		snprintf(err, errlen, "-D %s: %s", assignment, msg);
		return PARLEY_EINVAL;
	}
	return 0;
}

int
conf_check(const struct conf *c, char *err, size_t errlen)
{
	if (c->data_dir[0] == '\0' && c->store == STORE_DISK) {
		snprintf(err, errlen, "store = disk needs a data_dir");
		return PARLEY_EINVAL;
	}
	if (c->deploy_dir[0] == '\0') {
		snprintf(err, errlen, "deploy_dir is empty: name the directory of NAME.service files");
		return PARLEY_EINVAL;
	}
	if (c->role == CONF_ROLE_MANAGER && strcmp(c->manager, "embedded") != 0) {
		snprintf(err, errlen, "role = manager runs the manager itself: leave manager = embedded "
		    "(the nodes point their manager key at this node)");
		return PARLEY_EINVAL;
	}
	if (c->manager_repl[0] != '\0' || c->manager_sites[0] != '\0') {
		if (c->role != CONF_ROLE_MANAGER) {
			snprintf(err, errlen, "manager_repl and manager_sites are for manager sites "
			    "(role = manager); a node lists the sites' URLs in its manager key");
			return PARLEY_EINVAL;
		}
		if (c->manager_repl[0] == '\0' || c->manager_sites[0] == '\0' ||
		    strchr(c->manager_repl, ',') != NULL) {
			snprintf(err, errlen, "a manager site needs both manager_repl (its own "
			    "listener, one HOST:PORT) and manager_sites (the other sites' listeners)");
			return PARLEY_EINVAL;
		}
	}
	if (strcmp(c->callback_allow, "any") != 0 && strcmp(c->callback_allow, "none") != 0) {
		const char *p = c->callback_allow;
		size_t n;

		for (;;) {
			p += strspn(p, " \t,");
			if (*p == '\0')
				break;
			n = strcspn(p, " \t,");
			if (n <= 7 || strncmp(p, "http://", 7) != 0) {
				snprintf(err, errlen, "callback_allow '%.*s': give any, none, or address "
				    "prefixes that begin with http:// (e.g. http://partner.example.com/)",
				    (int)(n > 200 ? 200 : n), p);
				return PARLEY_EINVAL;
			}
			p += n;
		}
	}
	if (c->max_bean_bytes > c->cache_size) {
		snprintf(err, errlen, "max_bean_bytes (%zu) is larger than cache_size (%zu)",
		    c->max_bean_bytes, c->cache_size);
		return PARLEY_EINVAL;
	}
	return 0;
}

static void
print_value(FILE *f, const struct conf *c, const struct key *k)
{
	const char *field = (const char *)c + k->offset;
	static const char *stores[] = { "memory", "disk", "replicated" };
	static const char *acks[] = { "all", "one", "none" };
	static const char *syncs[] = { "full", "write", "none" };
	static const char *levels[] = { "warn", "info", "debug" };
	static const char *admins[] = { "loopback", "any", "none" };

	switch (k->kind) {
	case K_STRING:
	case K_GROUP:
	case K_ADDRESS:
	case K_MANAGER:
	case K_URL:
	case K_SITES:
		if (strpbrk(field, " \t#") != NULL || *field == '\0')
			fprintf(f, "\"%s\"", field);
		else
			fputs(field, f);
		break;
	case K_STORE:
		fputs(stores[c->store], f);
		break;
	case K_ROLE:
		fputs(c->role == CONF_ROLE_MANAGER ? "manager" : "node", f);
		break;
	case K_ADMIN:
		fputs(admins[c->admin_allow], f);
		break;
	case K_SYNC:
		fputs(syncs[c->sync], f);
		break;
	case K_ACK:
		fputs(acks[c->ack], f);
		break;
	case K_LEVEL:
		fputs(levels[c->log_level], f);
		break;
	case K_UINT:
		fprintf(f, "%u", *(const unsigned *)(const void *)field);
		break;
	case K_SIZE:
		fprintf(f, "%zu", *(const size_t *)(const void *)field);
		break;
	case K_DURATION:
		fprintf(f, "%ums", *(const unsigned *)(const void *)field);
		break;
	}
}

void
conf_print(FILE *f, const struct conf *c)
{
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		fprintf(f, "%-20s = ", keys[i].name);
		print_value(f, c, &keys[i]);
		fputc('\n', f);
	}
}

void
conf_print_help(FILE *f)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		fprintf(f, "  %-20s %s (default: %s)\n", keys[i].name, keys[i].help,
		    keys[i].def != NULL ? (keys[i].def[0] != '\0' ? keys[i].def : "none")
					: "the built or installed samples");
}
