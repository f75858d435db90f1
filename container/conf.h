/*
 * conf.h - parleyd's configuration: the keys, their defaults and limits, the
 * file format (keyword lines, '#' comments) and -D overrides. Every key is
 * described once, in the table in conf.c, which also feeds `parleyd -n -v`.
 */
#ifndef PARLEY_CONF_H
#define PARLEY_CONF_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "store.h"

#define CONF_PATH_MAX 1024

enum conf_role { CONF_ROLE_NODE = 0, CONF_ROLE_MANAGER };

/* Who may call the node's admin endpoints (deploy, undeploy). */
enum conf_admin { CONF_ADMIN_LOOPBACK = 0, CONF_ADMIN_ANY, CONF_ADMIN_NONE };

struct conf {
	char node_id[33];
	enum conf_role role;
	char listen[128];
	char data_dir[CONF_PATH_MAX];
	enum store_mode store;
	enum store_sync sync;
	size_t cache_size;
	char repl_listen[128];             /* store = replicated: HOST:PORT of the first listener */
	unsigned repl_ports;
	enum store_ack ack;
	unsigned ack_timeout_ms;
	unsigned lease_ms;
	char deploy_dir[CONF_PATH_MAX];
	enum conf_admin admin_allow;
	char manager[1024];                /* embedded, or one or more manager URLs, comma-separated */
	char manager_repl[128];            /* role = manager: this site's replication listener, or "" */
	char manager_sites[1024];          /* the other manager sites' listeners, comma-separated */
	char advertise[256];
	unsigned heartbeat_interval_ms;
	unsigned heartbeat_misses;
	unsigned manager_timeout_ms;
	unsigned forward_timeout_ms;
	unsigned workers;
	unsigned max_connections;
	size_t max_message_bytes;
	unsigned max_headers;
	unsigned max_conversations;
	size_t max_bean_bytes;
	unsigned max_queue;
	unsigned retry_keep;
	unsigned recv_timeout_ms;
	unsigned send_timeout_ms;
	unsigned keepalive_timeout_ms;
	unsigned sweep_interval_ms;
	unsigned tombstone_ttl_ms;
	unsigned checkpoint_interval_ms;
	unsigned callback_retry_min_ms;
	unsigned callback_retry_max_ms;
	unsigned callback_ttl_ms;
	unsigned callback_timeout_ms;
	char callback_allow[CONF_PATH_MAX];
	int log_level;
	char pid_file[CONF_PATH_MAX];
};

/* Fill c with the defaults (deploy_dir: the built samples, see conf.c). */
void conf_defaults(struct conf *c);

/*
 * Set key to the text value, checking its type and range. Returns 0, or
 * PARLEY_EINVAL with "what is wrong" in err (without a file or line; the
 * caller adds them), c unchanged.
 */
int conf_set(struct conf *c, const char *key, const char *value, char *err, size_t errlen);

/*
 * Read the configuration file at path over c. Returns 0, PARLEY_EIO when the
 * file cannot be read, or PARLEY_EINVAL at the first bad line, with
 * "PATH:LINE: what is wrong" in err; c may then be partly updated.
 */
int conf_load(struct conf *c, const char *path, char *err, size_t errlen);

/*
 * Apply one "-D key=value" override. Returns 0 or PARLEY_EINVAL with
 * "-D key=value: what is wrong" in err.
 */
int conf_override(struct conf *c, const char *assignment, char *err, size_t errlen);

/* Check what single keys cannot: returns 0 or PARLEY_EINVAL with err. */
int conf_check(const struct conf *c, char *err, size_t errlen);

/* Print every key with its value, as a configuration file would say it. */
void conf_print(FILE *f, const struct conf *c);

/* Print every key with its default and a line of help (for --help). */
void conf_print_help(FILE *f);

#endif /* PARLEY_CONF_H */
