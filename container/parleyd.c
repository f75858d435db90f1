/*
 * parleyd.c - the Parley node: reads its configuration, opens the store,
 * loads the deployed services, serves HTTP on a pool of workers, and runs
 * the housekeeping (timeouts, expiry, checkpoints) on its main thread until
 * SIGTERM or SIGINT.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "cluster.h"
#include "conf.h"
#include "dispatch.h"
#include "frontend.h"
#include "idgen.h"
#include "holdings.h"
#include "locator.h"
#include "log.h"
#include "manager.h"
#include "mgrsoap.h"
#include "outbox.h"
#include "parley.h"
#include "registry.h"
#include "router.h"
#include "server.h"
#include "store.h"

/* Set by the signal handlers only; read by the main loop. */
static volatile sig_atomic_t got_stop;
static volatile sig_atomic_t got_reload;

static void
on_stop(int sig)
{
	(void)sig;
	got_stop = 1;
}

static void
on_reload(int sig)
{
	(void)sig;
	got_reload = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: parleyd [-dnv] [-f FILE] [-D key=value]...\n"
	    "\n"
	    "Parley node: serves the conversational SOAP services in deploy_dir.\n"
	    "\n"
	    "  -d          stay in the foreground and log to stderr\n"
	    "  -n          check the configuration and the services, say \"configuration OK\", exit\n"
	    "  -v          more log detail (-vv: debug); with -n, print the effective configuration\n"
	    "  -f FILE     read the configuration from FILE (default: built-in defaults only)\n"
	    "  -D key=value  set one configuration key, over the file\n"
	    "  --manager-only  run only the cluster's conversation manager (-D role=manager)\n"
	    "  -h, --help  this text;  -V, --version  the version\n"
	    "\n"
	    "Configuration keys (parleyd.conf(5)):\n");
	conf_print_help(f);
	fprintf(f, "\nSignals: SIGTERM/SIGINT stop cleanly, SIGHUP re-reads FILE.\n");
}

/* Options as given on the command line, kept to re-read the file on SIGHUP. */
struct options {
	int foreground;
	int check;
	int verbose;
	const char *file;
	const char **defines;
	int n_defines;
};

static int
read_conf(const struct options *o, struct conf *c, char *err, size_t errlen)
{
	int i, rc;

	conf_defaults(c);
	if (o->file != NULL && (rc = conf_load(c, o->file, err, errlen)) != 0)
		return rc;
	for (i = 0; i < o->n_defines; i++)
		if ((rc = conf_override(c, o->defines[i], err, errlen)) != 0)
			return rc;
	if (o->verbose > 0 && c->log_level < LOG_LEVEL_INFO + o->verbose)
		c->log_level = LOG_LEVEL_INFO + o->verbose > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG
		    : LOG_LEVEL_INFO + o->verbose;
	return conf_check(c, err, errlen);
}

static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "manager-only", no_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	memset(o, 0, sizeof *o);
	o->defines = calloc((size_t)argc + 1, sizeof *o->defines);
	if (o->defines == NULL)
		fatalx("out of memory");
	while ((ch = getopt_long(argc, argv, "dnvf:D:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			o->foreground = 1;
			break;
		case 'n':
			o->check = 1;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'f':
			o->file = optarg;
			break;
		case 'D':
			o->defines[o->n_defines++] = optarg;
			break;
		case 'M':
			o->defines[o->n_defines++] = "role=manager";
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("parleyd %s\n", PACKAGE_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "parleyd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/* mkdir -p with mode 0700 for what it creates. */
static int
make_dirs(const char *path)
{
	char tmp[CONF_PATH_MAX];
	char *p;

	if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
		return -1;
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/*
 * Take data_dir's lock file, so that two nodes never open one store (the
 * store recovers at open, which would wreck a store in use). Returns the
 * file descriptor, kept open for the life of the process, or -1.
 */
static int
lock_data_dir(const char *dir)
{
	char path[CONF_PATH_MAX + 32];
	char pid[32];
	int fd;

	snprintf(path, sizeof path, "%s/parleyd.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_warn("cannot open %s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		log_warnx("another parleyd (pid %s) is using data_dir %s: stop it, or give this node "
		    "another data_dir", pid[0] ? pid : "?", dir);
		close(fd);
		return -1;
	}
	snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
		log_warn("cannot write %s", path);
	return fd;
}

static void
write_pid_file(const char *path)
{
	FILE *f;

	if (path[0] == '\0')
		return;
	f = fopen(path, "w");
	if (f == NULL) {
		log_warn("cannot write pid_file %s", path);
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

/*
 * Go to the background. The parent waits on a pipe until the child says it
 * is serving (or why it could not), so `parleyd` returns only once the node
 * answers, and its exit status tells whether it started.
 */
static int
daemonize(int *ready_fd)
{
	int fds[2];
	pid_t pid;
	char msg[512];
	ssize_t n;

	if (pipe2(fds, O_CLOEXEC) != 0)
		fatal("pipe");
	pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid > 0) {
		close(fds[1]);
		n = read(fds[0], msg, sizeof msg - 1);
		if (n > 0 && msg[0] == 'R')
			exit(0);
		msg[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "parleyd: did not start%s%s\n", n > 0 ? ": " : "", n > 0 ? msg : "");
		exit(1);
	}
	close(fds[0]);
	if (setsid() < 0)
		fatal("setsid");
	*ready_fd = fds[1];
	return 0;
}

static void
tell_parent(int *ready_fd, const char *msg)
{
	if (*ready_fd < 0)
		return;
	if (write(*ready_fd, msg, strlen(msg)) < 0)
		log_warn("cannot tell the parent process");
	close(*ready_fd);
	*ready_fd = -1;
}

static void
detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/* Add name to the comma-separated list in out (len bytes) when changed. */
static void
note_key(char *out, size_t len, const char *name, int changed)
{
	size_t n = strlen(out);

	if (changed && n < len)
		snprintf(out + n, len - n, "%s%s", n > 0 ? ", " : "", name);
}

/* List in out the keys whose change between a and b only a restart applies. */
static void
restart_keys(const struct conf *a, const struct conf *b, char *out, size_t len)
{
	out[0] = '\0';
	note_key(out, len, "node_id", strcmp(a->node_id, b->node_id) != 0);
	note_key(out, len, "listen", strcmp(a->listen, b->listen) != 0);
	note_key(out, len, "data_dir", strcmp(a->data_dir, b->data_dir) != 0);
	note_key(out, len, "store", a->store != b->store);
	note_key(out, len, "sync", a->sync != b->sync);
	note_key(out, len, "cache_size", a->cache_size != b->cache_size);
	note_key(out, len, "repl_listen", strcmp(a->repl_listen, b->repl_listen) != 0);
	note_key(out, len, "repl_ports", a->repl_ports != b->repl_ports);
	note_key(out, len, "ack", a->ack != b->ack);
	note_key(out, len, "ack_timeout", a->ack_timeout_ms != b->ack_timeout_ms);
	note_key(out, len, "lease", a->lease_ms != b->lease_ms);
	note_key(out, len, "deploy_dir", strcmp(a->deploy_dir, b->deploy_dir) != 0);
	note_key(out, len, "manager", strcmp(a->manager, b->manager) != 0);
	note_key(out, len, "manager_repl", strcmp(a->manager_repl, b->manager_repl) != 0);
	note_key(out, len, "manager_sites", strcmp(a->manager_sites, b->manager_sites) != 0);
	note_key(out, len, "workers", a->workers != b->workers);
	note_key(out, len, "max_connections", a->max_connections != b->max_connections);
	note_key(out, len, "max_message_bytes", a->max_message_bytes != b->max_message_bytes);
	note_key(out, len, "max_queue", a->max_queue != b->max_queue);
	note_key(out, len, "retry_keep", a->retry_keep != b->retry_keep);
	note_key(out, len, "recv_timeout", a->recv_timeout_ms != b->recv_timeout_ms);
	note_key(out, len, "send_timeout", a->send_timeout_ms != b->send_timeout_ms);
	note_key(out, len, "keepalive_timeout", a->keepalive_timeout_ms != b->keepalive_timeout_ms);
	note_key(out, len, "pid_file", strcmp(a->pid_file, b->pid_file) != 0);
	note_key(out, len, "callback_retry_min", a->callback_retry_min_ms != b->callback_retry_min_ms);
	note_key(out, len, "callback_retry_max", a->callback_retry_max_ms != b->callback_retry_max_ms);
	note_key(out, len, "callback_ttl", a->callback_ttl_ms != b->callback_ttl_ms);
	note_key(out, len, "callback_timeout", a->callback_timeout_ms != b->callback_timeout_ms);
	note_key(out, len, "callback_allow", strcmp(a->callback_allow, b->callback_allow) != 0);
}

/* SIGHUP: re-read the file; keep the old configuration when the new one is bad. */
static void
reload(const struct options *o, struct conf *cur, struct dispatch *d)
{
	struct conf next;
	char err[1024];
	char keys[512];

	if (read_conf(o, &next, err, sizeof err) != 0) {
		log_warnx("SIGHUP: the new configuration is not valid, keeping the old one: %s", err);
		return;
	}
	restart_keys(cur, &next, keys, sizeof keys);
	if (keys[0] != '\0')
		log_warnx("SIGHUP: these keys change only at a restart and keep their values: %s",
		    keys);
	cur->log_level = next.log_level;
	cur->max_headers = next.max_headers;
	cur->max_conversations = next.max_conversations;
	cur->max_bean_bytes = next.max_bean_bytes;
	cur->sweep_interval_ms = next.sweep_interval_ms;
	cur->tombstone_ttl_ms = next.tombstone_ttl_ms;
	cur->checkpoint_interval_ms = next.checkpoint_interval_ms;
	cur->admin_allow = next.admin_allow;
	log_set_level(cur->log_level);
	dispatch_set_limits(d, cur->max_headers, cur->max_conversations, cur->max_bean_bytes);
	log_info("SIGHUP: configuration re-read");
}

/* What a SIGHUP rescan of deploy_dir did with one descriptor. */
static void
report_rescan(void *arg, const char *file, int rc, const struct registry_change *c,
    const char *err)
{
	(void)arg;
	if (rc == 0 && c->replaced != 0)
		log_info("SIGHUP: deployed %s version %u from %s, replacing version %u", c->service,
		    c->version, c->module, c->replaced);
	else if (rc == 0)
		log_info("SIGHUP: deployed %s version %u from %s", c->service, c->version, c->module);
	else if (rc == PARLEY_ENOENT)
		log_warnx("SIGHUP: %s", err);
	else
		log_warnx("SIGHUP: %s refused, the running version stays: %s", file, err);
}

static int
is_wildcard(const char *listen)
{
	return strncmp(listen, "0.0.0.0:", 8) == 0 || strncmp(listen, "[::]:", 5) == 0 ||
	    listen[0] == ':';
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	/* A signal cuts the sleep short, which is what the main loop wants. */
	nanosleep(&ts, NULL);
}

static int
checkpoint_one(void *arg, const char *group, struct store *st)
{
	(void)arg;
	(void)group;
	return store_checkpoint(st) != 0 ? -1 : 0;
}

/* What a node sets up to be part of a cluster. */
struct cluster_parts {
	struct cluster *glue;
	struct manager *manager;        /* when this node runs the manager */
	struct locator *locator;        /* when this node holds conversations */
	struct router *router;
	char address[MGR_ADDRESS_MAX];  /* this node's base URL */
	char manager_url[1024];         /* this node's manager's, or the manager sites' list */
};

static unsigned
live_count(void *holdings)
{
	return holdings_live_count(holdings);
}

/*
 * Before serving: the manager (embedded, or this node is only a manager),
 * the locator and the router, and the cluster's builtin services.
 */
static int
cluster_open(const struct conf *c, struct holdings *held, struct registry *reg,
    struct cluster_parts *p, char *err, size_t errlen)
{
	struct manager_config mc;
	struct locator_config lc;
	struct router_config rc;
	char home[CONF_PATH_MAX + 16];
	int runs_manager = c->role == CONF_ROLE_MANAGER || strcmp(c->manager, "embedded") == 0;

	memset(p, 0, sizeof *p);
	if (cluster_create(&p->glue, c->node_id, NULL) != 0)
		goto nomem;
	if (runs_manager) {
		memset(&mc, 0, sizeof mc);
		snprintf(home, sizeof home, "%s/manager", c->data_dir);
		mc.home = home;
		mc.heartbeat_interval_ms = c->heartbeat_interval_ms;
		mc.heartbeat_misses = c->heartbeat_misses;
		mc.lease_ms = c->lease_ms;
		mc.heartbeat = cluster_heartbeat;
		mc.heartbeat_arg = p->glue;
		if (c->role == CONF_ROLE_MANAGER && c->manager_repl[0] != '\0') {
			mc.repl_listen = c->manager_repl;
			mc.repl_sites = c->manager_sites;
		}
		if (manager_open(&p->manager, &mc, err, errlen) != 0)
			return PARLEY_EIO;
		if (registry_add_builtin(reg, "parley-manager", MGR_PATH, mgr_wsdl, &mgr_module,
		    p->manager, err, errlen) != 0)
			return PARLEY_EINVAL;
	}
	if (c->role == CONF_ROLE_NODE) {
		memset(&lc, 0, sizeof lc);
		lc.node_id = c->node_id;
		lc.manager = p->manager;
		lc.manager_url = p->manager == NULL ? c->manager : NULL;
		lc.timeout_ms = c->manager_timeout_ms;
		lc.heartbeat_interval_ms = c->heartbeat_interval_ms;
		lc.live_count = live_count;
		lc.live_count_arg = held;
		lc.holdings = held;
		if (locator_create(&p->locator, &lc, err, errlen) != 0)
			return PARLEY_EINVAL;
		cluster_set_locator(p->glue, p->locator);
		if (registry_add_builtin(reg, "parley-node", NODE_PATH, node_wsdl, &node_module,
		    cluster_node_service(p->glue), err, errlen) != 0)
			return PARLEY_EINVAL;
	}
	memset(&rc, 0, sizeof rc);
	rc.timeout_ms = c->forward_timeout_ms;
	if (router_create(&p->router, &rc) != 0)
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory setting up the cluster");
	return PARLEY_ENOMEM;
}

/* Once serving: this node's address, registration, heartbeats. */
static int
cluster_start(const struct conf *c, struct server *srv, struct cluster_parts *p, char *err,
    size_t errlen)
{
	if (c->advertise[0] != '\0')
		snprintf(p->address, sizeof p->address, "%s", c->advertise);
	else
		snprintf(p->address, sizeof p->address, "http://%s", server_address(srv));
	if (c->advertise[0] == '\0' && is_wildcard(c->listen))
		log_warnx("listen is %s: other nodes are told this node is %s; set advertise to an "
		    "address they can reach", c->listen, p->address);
	if (p->manager != NULL)
		snprintf(p->manager_url, sizeof p->manager_url, "%s%s", p->address, MGR_PATH);
	else
		snprintf(p->manager_url, sizeof p->manager_url, "%s", c->manager);
	if (p->locator != NULL && (locator_set_address(p->locator, p->address) != 0 ||
	    locator_start(p->locator) != 0)) {
		snprintf(err, errlen, "cannot start the node's cluster agent");
		return PARLEY_ENOMEM;
	}
	if (p->manager != NULL)
		manager_set_url(p->manager, p->manager_url);
	if (p->manager != NULL && manager_start(p->manager) != 0) {
		snprintf(err, errlen, "cannot start the manager's heartbeats");
		return PARLEY_ENOMEM;
	}
	log_info("cluster: %s; manager %s%s", c->role == CONF_ROLE_MANAGER ? "this node is only "
	    "the manager" : p->address, p->manager != NULL ? "embedded at " : "at ",
	    p->manager_url);
	return 0;
}

/*
 * After serving. The locator goes first, while the manager still takes its
 * last records; the glue stops answering for it before it goes.
 */
static void
cluster_close(struct cluster_parts *p)
{
	if (p->glue != NULL)
		cluster_set_locator(p->glue, NULL);
	locator_destroy(p->locator);
	manager_close(p->manager);
	cluster_destroy(p->glue);
	router_destroy(p->router);
	memset(p, 0, sizeof *p);
}

/* The cluster's control traffic (server.h: a lane of its own). */
static const char *const control_paths[] = { NODE_PATH, MGR_PATH, NULL };

int
main(int argc, char **argv)
{
	struct options opt;
	struct conf conf;
	struct registry *reg = NULL;
	struct holdings *held = NULL;
	struct dispatch *disp = NULL;
	struct dispatch_worker *house = NULL;
	struct outbox *sender = NULL;
	struct outbox_config ocfg;
	struct server *srv = NULL;
	struct frontend fe;
	struct server_hooks hooks;
	struct server_config scfg;
	struct holdings_config hcfg;
	struct dispatch_config dcfg;
	struct cluster_parts cp;
	struct sigaction sa;
	sigset_t block, old;
	char err[2048];
	char repl_host[128];
	unsigned repl_port = 0;
	int ready_fd = -1, lock_fd = -1, status = 1;
	int64_t next_sweep, next_checkpoint, now;
	unsigned i, n;

	if (parse_options(argc, argv, &opt) != 0) {
		status = 2;
		goto done;
	}
	log_init("parleyd", 1, LOG_LEVEL_INFO);
	if (read_conf(&opt, &conf, err, sizeof err) != 0) {
		fprintf(stderr, "parleyd: %s\n", err);
		goto done;
	}
	xmlInitParser();
	if (opt.check) {
		if (registry_load(&reg, conf.deploy_dir, err, sizeof err) != 0) {
			fprintf(stderr, "parleyd: %s\n", err);
			goto done;
		}
		if (opt.verbose > 0)
			conf_print(stdout, &conf);
		{
			struct registry_view *v = registry_acquire(reg);

			printf("configuration OK (%u service%s in %s)\n", registry_count(v),
			    registry_count(v) == 1 ? "" : "s", conf.deploy_dir);
			registry_release(v);
		}
		registry_free(reg);
		status = 0;
		goto done;
	}

	memset(&cp, 0, sizeof cp);
	log_init("parleyd", opt.foreground, conf.log_level);
	if (!opt.foreground)
		daemonize(&ready_fd);

	if (conf.store == STORE_REPLICATED && conf.role == CONF_ROLE_NODE &&
	    conf.manager[0] == '\0') {
		snprintf(err, sizeof err, "store = replicated needs a manager");
		goto fail_msg;
	}
	if (conf.store != STORE_MEMORY) {
		if (make_dirs(conf.data_dir) != 0) {
			snprintf(err, sizeof err, "cannot create data_dir %s: %s", conf.data_dir,
			    strerror(errno));
			goto fail_msg;
		}
		lock_fd = lock_data_dir(conf.data_dir);
		if (lock_fd < 0) {
			snprintf(err, sizeof err, "data_dir %s is locked by another parleyd", conf.data_dir);
			goto fail_msg;
		}
	}
	/* A node that is only the manager serves no services and holds no conversations. */
	if (conf.role == CONF_ROLE_MANAGER) {
		conf.store = STORE_MEMORY;
		if (registry_empty(&reg) != 0) {
			snprintf(err, sizeof err, "out of memory");
			goto fail_msg;
		}
	} else if (registry_load(&reg, conf.deploy_dir, err, sizeof err) != 0) {
		goto fail_msg;
	}

	memset(&hcfg, 0, sizeof hcfg);
	hcfg.node_id = conf.node_id;
	hcfg.data_dir = conf.data_dir;
	hcfg.store.mode = conf.store;
	hcfg.store.sync = conf.sync;
	hcfg.store.cache_bytes = conf.cache_size;
	hcfg.store.retry_keep = conf.retry_keep;
	if (conf.store == STORE_REPLICATED) {
		const char *colon = strrchr(conf.repl_listen, ':');

		snprintf(repl_host, sizeof repl_host, "%.*s", colon != NULL ?
		    (int)(colon - conf.repl_listen) : 0, conf.repl_listen);
		repl_port = colon != NULL ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
		hcfg.repl_host = repl_host;
		hcfg.repl_port = repl_port;
		hcfg.repl_ports = conf.repl_ports;
		hcfg.ack = conf.ack;
		hcfg.ack_timeout_ms = conf.ack_timeout_ms;
		hcfg.repl_heartbeat_ms = conf.heartbeat_interval_ms;
	}
	if (holdings_open(&held, &hcfg, err, sizeof err) != 0)
		goto fail_msg;
	if (cluster_open(&conf, held, reg, &cp, err, sizeof err) != 0)
		goto fail_msg;

	memset(&dcfg, 0, sizeof dcfg);
	dcfg.node_id = conf.node_id;
	dcfg.locator = cp.locator;
	dcfg.max_headers = conf.max_headers;
	dcfg.max_conversations = conf.max_conversations;
	dcfg.max_bean_bytes = conf.max_bean_bytes;
	dcfg.max_queue = conf.max_queue;
	dcfg.callback_allow = strcmp(conf.callback_allow, "any") == 0 ? NULL : conf.callback_allow;
	if (dispatch_create(&disp, &dcfg, reg, held) != 0) {
		snprintf(err, sizeof err, "cannot set up the dispatcher");
		goto fail_msg;
	}
	house = dispatch_worker_new(disp);
	if (house == NULL) {
		snprintf(err, sizeof err, "out of memory");
		goto fail_msg;
	}

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_reload;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* Workers inherit a mask with these blocked, so signals reach the main thread. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);

	/* The sender's thread, like the workers', starts with the signals blocked. */
	memset(&ocfg, 0, sizeof ocfg);
	ocfg.retry_min_ms = conf.callback_retry_min_ms;
	ocfg.retry_max_ms = conf.callback_retry_max_ms;
	ocfg.ttl_ms = conf.callback_ttl_ms;
	ocfg.timeout_ms = conf.callback_timeout_ms;
	if (conf.role == CONF_ROLE_NODE && outbox_start(&sender, held, &ocfg) != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		snprintf(err, sizeof err, "cannot start the outbox's sender");
		goto fail_msg;
	}

	memset(&fe, 0, sizeof fe);
	fe.dispatch = disp;
	fe.registry = reg;
	fe.holdings = held;
	fe.outbox = sender;
	fe.conf = &conf;
	fe.started_ms = dispatch_now_ms();
	fe.listen_wildcard = is_wildcard(conf.listen);
	fe.locator = cp.locator;
	fe.router = cp.router;
	fe.manager = cp.manager;
	fe.manager_url = cp.manager_url;
	fe.address = cp.address;
	frontend_hooks(&fe, &hooks);
	memset(&scfg, 0, sizeof scfg);
	scfg.listen = conf.listen;
	scfg.workers = conf.workers;
	scfg.max_connections = conf.max_connections;
	scfg.recv_timeout_ms = conf.recv_timeout_ms;
	scfg.send_timeout_ms = conf.send_timeout_ms;
	scfg.keepalive_timeout_ms = conf.keepalive_timeout_ms;
	scfg.limits.max_body = conf.max_message_bytes;
	/* Heartbeats and the manager's calls are answered even when every worker is busy. */
	scfg.control_paths = control_paths;
	if (server_start(&srv, &scfg, &hooks, err, sizeof err) != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		goto fail_msg;
	}
	fe.server = srv;
	if (cluster_start(&conf, srv, &cp, err, sizeof err) != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		goto fail_msg;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	write_pid_file(conf.pid_file);

	{
		struct registry_view *v = registry_acquire(reg);

		n = registry_count(v);
		log_info("parleyd %s node %s serving on %s: store %s%s%s, %u service%s",
		    PACKAGE_VERSION, conf.node_id, server_address(srv), conf.store == STORE_DISK ?
		    "disk in " : conf.store == STORE_REPLICATED ? "replicated in " : "memory",
		    conf.store != STORE_MEMORY ? conf.data_dir : "", "", n, n == 1 ? "" : "s");
		for (i = 0; i < n; i++)
			log_info("service %s version %u at http://%s/services/%s (WSDL: ?wsdl)",
			    registry_at(v, i)->name, registry_at(v, i)->version, server_address(srv),
			    registry_at(v, i)->name);
		registry_release(v);
	}
	if (ready_fd >= 0) {
		tell_parent(&ready_fd, "R");
		detach_stdio();
	}

	now = dispatch_now_ms();
	next_sweep = now + conf.sweep_interval_ms;
	next_checkpoint = now + conf.checkpoint_interval_ms;
	while (!got_stop) {
		sleep_ms(100);
		if (got_reload) {
			got_reload = 0;
			reload(&opt, &conf, disp);
			if (conf.role == CONF_ROLE_NODE)
				(void)registry_rescan(reg, report_rescan, NULL);
		}
		server_tick(srv);
		now = dispatch_now_ms();
		if (now >= next_sweep) {
			unsigned expired = dispatch_sweep(disp, house, now, conf.tombstone_ttl_ms);
			if (expired > 0)
				log_info("expired %u conversation%s", expired, expired == 1 ? "" : "s");
			next_sweep = now + conf.sweep_interval_ms;
		}
		if (now >= next_checkpoint) {
			if (holdings_each(held, checkpoint_one, NULL) != 0)
				log_warnx("checkpoint failed; the store keeps its logs until one succeeds");
			next_checkpoint = now + conf.checkpoint_interval_ms;
		}
	}
	log_info("stopping: finishing requests in flight");
	server_stop(srv, 10000);
	srv = NULL;
	status = 0;
	goto out;
fail_msg:
	log_warnx("%s", err);
	tell_parent(&ready_fd, err);
out:
	server_stop(srv, 0);
	/* Before the stores close: a post under way ends within callback_timeout. */
	outbox_stop(sender);
	cluster_close(&cp);
	dispatch_worker_free(house);
	dispatch_destroy(disp);
	holdings_close(held);
	registry_free(reg);
	if (status == 0) {
		if (conf.pid_file[0] != '\0')
			unlink(conf.pid_file);
		log_info("stopped");
	}
	if (lock_fd >= 0)
		close(lock_fd);
	xmlCleanupParser();
done:
	free(opt.defines);
	return status;
}
