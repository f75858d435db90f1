/*
 * repl_commit.c - the bare replicated commit: a master and a client of one
 * replication group in two processes on loopback, opened with the store's
 * own API (store_open, STORE_REPLICATED: the same ack policy, sync and
 * TCP_NODELAY fix as parleyd), and N threads committing what an AddItem
 * commits (cart bean, metadata, kept answer) as fast as they can. The
 * second baseline of bench/run's replicated rows. Not part of make check:
 * build it with `make bench`, then for example
 *   bench/repl_commit -p 20000 -a all -t 16 -w 3 -d 10 /tmp/rc
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "parley.h"
#include "store.h"

#define HOST "127.0.0.1"
#define SYNC_WAIT_MS 30000
#define THREADS_MAX 256

enum phase { PHASE_WARMUP = 0, PHASE_MEASURE, PHASE_STOP };

/* The run's settings, from the command line. */
struct opts {
	const char *dir;
	unsigned port;             /* the master's listener; the client takes port + 1 */
	enum store_ack ack;
	enum store_sync sync;
	unsigned threads;
	unsigned conversations;
	unsigned warmup_s;
	unsigned duration_s;
	size_t bean_len;
	size_t answer_len;
	unsigned ack_timeout_ms;
	int load;                  /* 1: store_load before each commit, as a message does */
};

/* One committing thread: its conversations and the latencies it measured. */
struct worker {
	pthread_t tid;
	unsigned k;
	struct store *st;
	const struct opts *o;
	uint32_t *lat_us;          /* commits started while measuring, in microseconds */
	size_t n_lat, cap_lat;
	uint64_t not_acked;
	int failed;                /* a commit failed otherwise: its code */
};

static atomic_int phase;
static atomic_uint_fast64_t perm_failed;
static pthread_barrier_t started;
static char run_tag[17];

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
on_event(void *arg, struct store *st, enum store_event ev)
{
	(void)arg;
	(void)st;
	if (ev == STORE_EV_PERM_FAILED)
		atomic_fetch_add(&perm_failed, 1);
}

/* utime + stime of process pid (0: this one) so far, in seconds; -1 if unreadable. */
static double
proc_cpu(pid_t pid)
{
	char path[64], line[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	int i;

	if (pid == 0)
		snprintf(path, sizeof path, "/proc/self/stat");
	else
		snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(line, sizeof line, f);
	fclose(f);
	if (p == NULL || (p = strrchr(line, ')')) == NULL)
		return -1;
	/* After ")": field 3 (state) on; utime and stime are fields 14 and 15. */
	for (i = 3; i <= 14 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The time all CPUs have spent busy since boot (/proc/stat), in seconds; -1 if unreadable. */
static double
machine_busy(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f;
	int n;

	if ((f = fopen("/proc/stat", "r")) == NULL)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
	    &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8)
		return -1;
	/* Fields 4 and 5 are idle and iowait. */
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

/* Fill repl and cfg for the store in dir/name, listening on port. */
static void
describe(const struct opts *o, const char *name, unsigned port, enum store_role role,
    char *home, size_t homelen, struct store_repl *repl, struct store_config *cfg)
{
	snprintf(home, homelen, "%s/%s", o->dir, name);
	memset(repl, 0, sizeof *repl);
	repl->host = HOST;
	repl->port = port;
	repl->role = role;
	repl->creator = role == STORE_MASTER;
	repl->helper_host = role == STORE_CLIENT ? HOST : NULL;
	repl->helper_port = role == STORE_CLIENT ? o->port : 0;
	repl->ack = o->ack;
	repl->ack_timeout_ms = o->ack_timeout_ms;
	repl->event = on_event;
	memset(cfg, 0, sizeof *cfg);
	cfg->home = home;
	cfg->mode = STORE_REPLICATED;
	cfg->sync = o->sync;
	cfg->repl = repl;
}

/*
 * The client's process: wait for a byte on stop (the master is open), open
 * the copy, say "S" on ready once it has caught up, keep it until stop
 * reaches end of file (the master is done, or died), close it. Never
 * returns.
 */
static void
run_client(const struct opts *o, int ready, int stop)
{
	struct store_config cfg;
	struct store_repl repl;
	struct store *st = NULL;
	char home[4096], err[512], c;
	int64_t until;

	describe(o, "client", o->port + 1, STORE_CLIENT, home, sizeof home, &repl, &cfg);
	/*
	 * A client that reached the master while it was creating the group
	 * once made the master's open fail (a replication lockout): in a
	 * cluster, too, a secondary is named only once its primary serves.
	 */
	if (read(stop, &c, 1) != 1)
		_exit(1);
	if (store_open(&st, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "repl_commit: client: %s\n", err);
		_exit(1);
	}
	until = now_us() + (int64_t)SYNC_WAIT_MS * 1000;
	while (!store_is_synced(st)) {
		if (now_us() > until) {
			fprintf(stderr, "repl_commit: the client did not catch up in %d s\n",
			    SYNC_WAIT_MS / 1000);
			_exit(1);
		}
		sleep_ms(10);
	}
	if (write(ready, "S", 1) != 1)
		_exit(1);
	while (read(stop, &c, 1) != 0 && errno == EINTR)
		;
	store_close(st);
	_exit(0);
}

/* Keep one latency; returns 0 or PARLEY_ENOMEM. */
static int
keep_latency(struct worker *w, int64_t us)
{
	uint32_t *p;
	size_t cap;

	if (w->n_lat == w->cap_lat) {
		cap = w->cap_lat ? 2 * w->cap_lat : 65536;
		if ((p = realloc(w->lat_us, cap * sizeof *p)) == NULL)
			return PARLEY_ENOMEM;
		w->lat_us = p;
		w->cap_lat = cap;
	}
	w->lat_us[w->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	return 0;
}

/*
 * A committing thread: start its conversations (k, k + threads, ...), wait
 * for the others, then commit an AddItem's change to each in turn until the
 * run stops, timing the commits started while measuring.
 */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	unsigned n = 0, i, j;
	struct conv_meta *metas = NULL;
	char (*ids)[48] = NULL;
	char *bean = NULL, *answer = NULL, msgid[96];
	struct store_commit c;
	struct store_conv conv;
	uint64_t seq = 0;
	int64_t t0, t1;
	int rc, ph;

	for (i = w->k; i < o->conversations; i += o->threads)
		n++;
	metas = calloc(n ? n : 1, sizeof *metas);
	ids = calloc(n ? n : 1, sizeof *ids);
	bean = malloc(o->bean_len ? o->bean_len : 1);
	answer = malloc(o->answer_len ? o->answer_len : 1);
	memset(&conv, 0, sizeof conv);
	if (metas == NULL || ids == NULL || bean == NULL || answer == NULL) {
		w->failed = PARLEY_ENOMEM;
		pthread_barrier_wait(&started);
		goto done;
	}
	memset(bean, 'b', o->bean_len);
	memset(answer, 'a', o->answer_len);
	for (j = 0; j < n; j++) {
		snprintf(ids[j], sizeof ids[j], "n1.%s%08u", run_tag, w->k + j * o->threads);
		snprintf(metas[j].service, sizeof metas[j].service, "cart");
		metas[j].created_ms = metas[j].last_access_ms = now_us() / 1000;
		snprintf(msgid, sizeof msgid, "urn:bench:%s:start:%s", run_tag, ids[j]);
		memset(&c, 0, sizeof c);
		c.id = ids[j];
		c.kind = STORE_START;
		c.meta = &metas[j];
		c.bean = bean;
		c.bean_len = o->bean_len;
		c.bean_changed = 1;
		c.msgid = msgid;
		c.response = answer;
		c.response_len = o->answer_len;
		c.soap = 1;
		rc = store_commit(w->st, &c);
		if (rc != 0 && rc != PARLEY_ENOTACKED) {
			w->failed = rc;
			break;
		}
	}
	pthread_barrier_wait(&started);
	for (j = 0; w->failed == 0 && n > 0; j = (j + 1) % n) {
		if ((ph = atomic_load(&phase)) == PHASE_STOP)
			break;
		snprintf(msgid, sizeof msgid, "urn:bench:%s:%u:%" PRIu64, run_tag, w->k, seq++);
		t0 = now_us();
		memset(&c, 0, sizeof c);
		c.id = ids[j];
		c.kind = STORE_UPDATE;
		c.meta = &metas[j];
		if (o->load) {
			/* As a message does: the metadata comes from the load. */
			if ((rc = store_load(w->st, ids[j], msgid, &conv)) != 0) {
				w->failed = rc;
				break;
			}
			c.meta = &conv.meta;
		}
		c.meta->last_access_ms = t0 / 1000;
		c.bean = bean;
		c.bean_len = o->bean_len;
		c.bean_changed = 1;
		c.msgid = msgid;
		c.response = answer;
		c.response_len = o->answer_len;
		c.soap = 1;
		rc = store_commit(w->st, &c);
		if (o->load)
			store_conv_clear(&conv);
		t1 = now_us();
		if (rc == PARLEY_ENOTACKED) {
			w->not_acked++;
		} else if (rc != 0) {
			w->failed = rc;
			break;
		}
		if (ph == PHASE_MEASURE && keep_latency(w, t1 - t0) != 0) {
			w->failed = PARLEY_ENOMEM;
			break;
		}
	}
done:
	store_conv_clear(&conv);
	for (j = 0; j < n; j++)
		conv_meta_clear(&metas[j]);
	free(metas);
	free(ids);
	free(bean);
	free(answer);
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile p (0-100) of the sorted v[0..n-1]. */
static uint32_t
percentile(const uint32_t *v, size_t n, double p)
{
	size_t r;

	if (n == 0)
		return 0;
	r = (size_t)(p / 100.0 * (double)n + 0.999999);
	return v[r == 0 ? 0 : (r > n ? n - 1 : r - 1)];
}

static void
usage(void)
{
	fprintf(stderr, "usage: repl_commit -p PORT [-a all|one|none] [-s full|write|none]"
	    " [-t THREADS] [-n CONVERSATIONS]\n"
	    "                   [-w WARMUP_S] [-d SECONDS] [-b BEAN_BYTES] [-r ANSWER_BYTES]"
	    " [-T ACK_TIMEOUT_MS] [-l] DIR\n");
	exit(2);
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	int ch;

	memset(o, 0, sizeof *o);
	o->ack = STORE_ACK_ALL;
	o->sync = STORE_SYNC_WRITE;
	o->threads = 16;
	o->conversations = 1000;
	o->warmup_s = 3;
	o->duration_s = 10;
	/* The cart's bean with one line "widget", and an AddItem answer as parleyd keeps it. */
	o->bean_len = 19;
	o->answer_len = 960;
	o->ack_timeout_ms = 1000;
	while ((ch = getopt(argc, argv, "a:b:d:ln:p:r:s:t:T:w:")) != -1) {
		switch (ch) {
		case 'a':
			if (strcmp(optarg, "all") == 0)
				o->ack = STORE_ACK_ALL;
			else if (strcmp(optarg, "one") == 0)
				o->ack = STORE_ACK_ONE;
			else if (strcmp(optarg, "none") == 0)
				o->ack = STORE_ACK_NONE;
			else
				usage();
			break;
		case 's':
			if (strcmp(optarg, "full") == 0)
				o->sync = STORE_SYNC_FULL;
			else if (strcmp(optarg, "write") == 0)
				o->sync = STORE_SYNC_WRITE;
			else if (strcmp(optarg, "none") == 0)
				o->sync = STORE_SYNC_NONE;
			else
				usage();
			break;
		case 'b':
			o->bean_len = (size_t)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			o->duration_s = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'l':
			o->load = 1;
			break;
		case 'n':
			o->conversations = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			o->port = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			o->answer_len = (size_t)strtoul(optarg, NULL, 10);
			break;
		case 't':
			o->threads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'T':
			o->ack_timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			o->warmup_s = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || o->port == 0 || o->port > 65534 || o->threads == 0 ||
	    o->threads > THREADS_MAX || o->conversations < o->threads || o->duration_s == 0)
		usage();
	o->dir = argv[optind];
	return 0;
}

int
main(int argc, char **argv)
{
	static const char *acks[] = { "all", "one", "none" };
	static const char *syncs[] = { "full", "write", "none" };
	struct opts o;
	struct store_config cfg;
	struct store_repl repl;
	struct store *st = NULL;
	struct worker *ws = NULL;
	char home[4096], err[512], c;
	int ready[2] = { -1, -1 }, stop[2] = { -1, -1 }, status = 0, rc = 1;
	unsigned i, made = 0;
	uint32_t *all = NULL;
	size_t n_all = 0;
	uint64_t not_acked = 0;
	double cpu0[3], cpu1[3], secs;
	int64_t t0, t1;
	pid_t child = -1;
	FILE *rnd;

	parse_opts(argc, argv, &o);
	log_init("repl_commit", 1, LOG_LEVEL_WARN);
	signal(SIGPIPE, SIG_IGN);
	if ((rnd = fopen("/dev/urandom", "r")) == NULL || fread(home, 1, 8, rnd) != 8) {
		fprintf(stderr, "repl_commit: /dev/urandom unreadable\n");
		return 1;
	}
	fclose(rnd);
	for (i = 0; i < 8; i++)
		snprintf(run_tag + 2 * i, 3, "%02x", (unsigned char)home[i]);
	if (mkdir(o.dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "repl_commit: mkdir %s: %s\n", o.dir, strerror(errno));
		return 1;
	}
	/* Fork before either side opens anything: Berkeley DB's threads do not survive a fork. */
	if (pipe(ready) != 0 || pipe(stop) != 0) {
		perror("repl_commit: pipe");
		return 1;
	}
	if ((child = fork()) < 0) {
		perror("repl_commit: fork");
		return 1;
	}
	if (child == 0) {
		close(ready[0]);
		close(stop[1]);
		run_client(&o, ready[1], stop[0]);
	}
	close(ready[1]);
	ready[1] = -1;
	close(stop[0]);
	stop[0] = -1;

	describe(&o, "master", o.port, STORE_MASTER, home, sizeof home, &repl, &cfg);
	if (store_open(&st, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "repl_commit: master: %s\n", err);
		goto fail;
	}
	if (write(stop[1], "G", 1) != 1 || read(ready[0], &c, 1) != 1) {
		fprintf(stderr, "repl_commit: the client did not come up\n");
		goto fail;
	}
	if ((ws = calloc(o.threads, sizeof *ws)) == NULL ||
	    pthread_barrier_init(&started, NULL, o.threads + 1) != 0)
		goto fail;
	atomic_store(&phase, PHASE_WARMUP);
	for (i = 0; i < o.threads; i++) {
		ws[i].k = i;
		ws[i].st = st;
		ws[i].o = &o;
		if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
			fprintf(stderr, "repl_commit: cannot start thread %u\n", i);
			/* The barrier counts them all: the rest would wait forever. */
			_exit(1);
		}
		made++;
	}
	pthread_barrier_wait(&started);
	sleep_ms((long)o.warmup_s * 1000);
	cpu0[0] = proc_cpu(0);
	cpu0[1] = proc_cpu(child);
	cpu0[2] = machine_busy();
	t0 = now_us();
	atomic_store(&phase, PHASE_MEASURE);
	sleep_ms((long)o.duration_s * 1000);
	atomic_store(&phase, PHASE_STOP);
	t1 = now_us();
	cpu1[0] = proc_cpu(0);
	cpu1[1] = proc_cpu(child);
	cpu1[2] = machine_busy();
	for (i = 0; i < made; i++)
		pthread_join(ws[i].tid, NULL);
	for (i = 0; i < made; i++) {
		if (ws[i].failed != 0) {
			fprintf(stderr, "repl_commit: thread %u: a commit failed: %s\n", i,
			    parley_strerror(ws[i].failed));
			goto fail;
		}
		n_all += ws[i].n_lat;
		not_acked += ws[i].not_acked;
	}
	if ((all = malloc((n_all ? n_all : 1) * sizeof *all)) == NULL)
		goto fail;
	for (i = 0, n_all = 0; i < made; i++) {
		memcpy(all + n_all, ws[i].lat_us, ws[i].n_lat * sizeof *all);
		n_all += ws[i].n_lat;
	}
	qsort(all, n_all, sizeof *all, cmp_u32);
	secs = (double)(t1 - t0) / 1e6;
	printf("%u threads, ack=%s, sync=%s%s: %.0f commits/s, p50 %.2f ms, p99 %.2f ms,"
	    " max %.2f ms, %" PRIu64 " not acknowledged; CPU master %.0f %%, client %.0f %%\n",
	    o.threads, acks[o.ack], syncs[o.sync], o.load ? ", load before commit" : "",
	    (double)n_all / secs, percentile(all, n_all, 50) / 1e3,
	    percentile(all, n_all, 99) / 1e3, n_all ? all[n_all - 1] / 1e3 : 0.0, not_acked,
	    100 * (cpu1[0] - cpu0[0]) / secs, 100 * (cpu1[1] - cpu0[1]) / secs);
	printf("REPL commits=%zu seconds=%.3f rate=%.1f p50_us=%u p99_us=%u max_us=%u"
	    " not_acked=%" PRIu64 " perm_failed=%" PRIu64 " master_cpu=%.3f client_cpu=%.3f"
	    " machine_busy=%.3f\n",
	    n_all, secs, (double)n_all / secs, percentile(all, n_all, 50),
	    percentile(all, n_all, 99), n_all ? all[n_all - 1] : 0, not_acked,
	    (uint64_t)atomic_load(&perm_failed), cpu1[0] - cpu0[0], cpu1[1] - cpu0[1],
	    cpu1[2] - cpu0[2]);
	fflush(stdout);
	rc = 0;
fail:
	if (rc != 0 && made > 0) {
		/* Threads may still be committing: the store cannot close under them. */
		fflush(stderr);
		if (child > 0)
			kill(child, SIGKILL);
		_exit(1);
	}
	if (ws != NULL)
		for (i = 0; i < made; i++)
			free(ws[i].lat_us);
	free(ws);
	free(all);
	store_close(st);
	if (stop[1] >= 0)
		close(stop[1]);
	if (child > 0 && waitpid(child, &status, 0) == child &&
	    (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		fprintf(stderr, "repl_commit: the client exited badly (status %d)\n", status);
		rc = 1;
	}
	if (ready[0] >= 0)
		close(ready[0]);
	return rc;
}
