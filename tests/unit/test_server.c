/*
 * test_server.c - the HTTP server on 127.0.0.1 with a test handler, driven by
 * client sockets: keep-alive, pipelining, idle clients not starving new ones,
 * timeouts, limits, max_connections, parked exchanges, stop and garbage.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "parley.h"
#include "server.h"
#include "unit.h"

/* A server under test, the thread that ticks it, and what the hooks saw. */
struct harness {
	struct server *s;
	pthread_t ticker;
	atomic_int stop_ticker;
	atomic_int inits;
	atomic_int finis;
	int init_fail_at;               /* the n-th worker_init (from 1) returns NULL; 0: none */
	atomic_int parked;              /* parked exchanges not finished yet */
	atomic_int bad_worker;          /* the handler got a worker state it did not make */
};

struct park {
	struct harness *h;
	struct exchange *x;
	int ms;
};

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
worker_init(void *arg)
{
	struct harness *h = arg;
	int n = atomic_fetch_add(&h->inits, 1) + 1;

	if (n == h->init_fail_at)
		return NULL;
	return h;
}

static void
worker_fini(void *arg, void *worker)
{
	struct harness *h = arg;

	if (worker == h)
		atomic_fetch_add(&h->finis, 1);
}

static void
echo(struct exchange *x, const char *tag)
{
	x->content_type = "text/plain";
	buf_printf(&x->body, "%s%s %s|", tag, x->req.method, x->req.path);
	if (x->req.body != NULL)
		buf_append(&x->body, x->req.body, x->req.body_len);
}

static void *
finisher(void *arg)
{
	struct park *pk = arg;
	struct harness *h = pk->h;

	sleep_ms(pk->ms);
	echo(pk->x, "parked ");
	server_finish(pk->x);
	free(pk);
	atomic_fetch_sub(&h->parked, 1);
	return NULL;
}

/*
 * The test handler, by path: /park[?ms] parks the exchange and finishes it
 * from another thread ms (default 50) later; /fail fails; /peer answers the
 * peer address; /close asks to close; /sleep?ms blocks the worker; anything
 * else echoes method, path and body.
 */
static int
handle(void *arg, void *worker, struct exchange *x)
{
	struct harness *h = arg;
	const char *p = x->req.path;
	pthread_t t;

	if (worker != h)
		atomic_fetch_add(&h->bad_worker, 1);
	if (strcmp(p, "/park") == 0) {
		struct park *pk = malloc(sizeof *pk);

		if (pk == NULL)
			return PARLEY_ENOMEM;
		pk->h = h;
		pk->x = x;
		pk->ms = x->req.query != NULL ? atoi(x->req.query) : 50;
		x->parked = pk;
		atomic_fetch_add(&h->parked, 1);
		if (pthread_create(&t, NULL, finisher, pk) != 0) {
			atomic_fetch_sub(&h->parked, 1);
			free(pk);
			return PARLEY_EIO;
		}
		pthread_detach(t);
		return PARLEY_AGAIN;
	}
	if (strcmp(p, "/fail") == 0) {
		buf_puts(&x->body, "half an answer");
		return PARLEY_EIO;
	}
	if (strcmp(p, "/peer") == 0) {
		buf_puts(&x->body, x->peer);
		return 0;
	}
	if (strcmp(p, "/close") == 0)
		x->close = 1;
	if (strcmp(p, "/sleep") == 0 && x->req.query != NULL)
		sleep_ms(atoi(x->req.query));
	echo(x, "");
	return 0;
}

static void *
ticker_main(void *arg)
{
	struct harness *h = arg;

	while (!atomic_load(&h->stop_ticker)) {
		server_tick(h->s);
		sleep_ms(20);
	}
	return NULL;
}

static void
start(struct harness *h, struct server_config *cfg)
{
	struct server_hooks hooks = { handle, worker_init, worker_fini, h };
	char err[256];
	int rc;

	cfg->listen = "127.0.0.1:0";
	rc = server_start(&h->s, cfg, &hooks, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "server_start: %s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	/* Every worker, and the control lane's one thread when there is a lane. */
	CU_ASSERT_EQUAL(atomic_load(&h->inits), (int)cfg->workers + (cfg->control_paths != NULL));
	pthread_create(&h->ticker, NULL, ticker_main, h);
}

static void
stop_ticker(struct harness *h)
{
	atomic_store(&h->stop_ticker, 1);
	pthread_join(h->ticker, NULL);
}

static void
stop(struct harness *h)
{
	int64_t t0 = now_ms();

	while (atomic_load(&h->parked) > 0 && now_ms() - t0 < 5000)
		sleep_ms(5);
	CU_ASSERT_EQUAL(atomic_load(&h->parked), 0);
	stop_ticker(h);
	server_stop(h->s, 1000);
	CU_ASSERT_EQUAL(atomic_load(&h->finis), atomic_load(&h->inits));
	CU_ASSERT_EQUAL(atomic_load(&h->bad_worker), 0);
}

/* Wait up to ms for the server's open connections to drop to at most n. */
static int
wait_open(struct harness *h, unsigned n, int ms)
{
	struct server_stats st;
	int64_t t0 = now_ms();

	for (;;) {
		server_get_stats(h->s, &st);
		if (st.open <= n)
			return 1;
		if (now_ms() - t0 > ms) {
			fprintf(stderr, "\n  %u connections still open\n", st.open);
			return 0;
		}
		sleep_ms(10);
	}
}

/* ---- a small blocking HTTP client ---------------------------------------- */

struct client {
	int fd;
	size_t len;
	char in[1 << 16];
};

struct resp {
	int status;
	int conn_close;                 /* Connection: close */
	int conn_keep_alive;            /* Connection: keep-alive */
	int retry_after;
	long content_length;            /* -1 when absent */
	char head[2048];
	size_t body_len;
	char body[16384];
};

static int
cli_open_to(struct client *c, const char *addr)
{
	struct sockaddr_in sin;
	struct timeval tv = { 3, 0 };
	const char *colon = strrchr(addr, ':');
	int one = 1;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(colon + 1));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->len = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static struct client *
cli_open(struct harness *h)
{
	struct client *c = malloc(sizeof *c);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	if (cli_open_to(c, server_address(h->s)) != 0) {
		free(c);
		CU_FAIL("connect");
		return NULL;
	}
	return c;
}

static void
cli_close(struct client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* Close with a reset instead of a FIN. */
static void
cli_reset(struct client *c)
{
	struct linger lg = { 1, 0 };

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	cli_close(c);
}

static int
cli_send_n(struct client *c, const char *data, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(c->fd, data, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		data += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
cli_send(struct client *c, const char *data)
{
	return cli_send_n(c, data, strlen(data));
}

static int
cli_fill(struct client *c)
{
	ssize_t n;

	if (c->len == sizeof c->in)
		return -1;
	do
		n = recv(c->fd, c->in + c->len, sizeof c->in - c->len, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	c->len += (size_t)n;
	return 0;
}

static const char *
find_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay != '\0'; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return hay;
	return NULL;
}

/* Read one response; no_body for the answer to HEAD. Returns 0 or -1. */
static int
cli_response_x(struct client *c, struct resp *r, int no_body)
{
	const char *end, *cl;
	size_t head_len, need;

	memset(r, 0, sizeof *r);
	r->content_length = -1;
	for (;;) {
		end = memmem(c->in, c->len, "\r\n\r\n", 4);
		if (end != NULL)
			break;
		if (cli_fill(c) != 0)
			return -1;
	}
	head_len = (size_t)(end - c->in) + 4;
	if (head_len >= sizeof r->head)
		return -1;
	memcpy(r->head, c->in, head_len);
	r->head[head_len] = '\0';
	if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
		return -1;
	cl = find_ci(r->head, "\r\nContent-Length:");
	if (cl != NULL)
		r->content_length = atol(cl + 17);
	r->conn_close = find_ci(r->head, "\r\nConnection: close\r\n") != NULL;
	r->conn_keep_alive = find_ci(r->head, "\r\nConnection: keep-alive\r\n") != NULL;
	r->retry_after = find_ci(r->head, "\r\nRetry-After:") != NULL;
	need = head_len;
	if (!no_body && r->status >= 200 && r->content_length > 0)
		need += (size_t)r->content_length;
	if (need - head_len >= sizeof r->body)
		return -1;
	while (c->len < need)
		if (cli_fill(c) != 0)
			return -1;
	r->body_len = need - head_len;
	memcpy(r->body, c->in + head_len, r->body_len);
	r->body[r->body_len] = '\0';
	memmove(c->in, c->in + need, c->len - need);
	c->len -= need;
	return 0;
}

static int
cli_response(struct client *c, struct resp *r)
{
	return cli_response_x(c, r, 0);
}

/*
 * Wait up to ms for the server to close: returns 1 on EOF or reset, 0 when
 * nothing came, -1 when bytes came instead.
 */
static int
cli_eof(struct client *c, int ms)
{
	struct pollfd pfd = { c->fd, POLLIN, 0 };
	char b[256];
	ssize_t n;

	if (c->len > 0)
		return -1;
	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	n = recv(c->fd, b, sizeof b, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return 1;
	return n > 0 ? -1 : 0;
}

/* One request on c, expecting 200 and the echo of method path|body. */
static int
cli_echo(struct client *c, const char *path, const char *body)
{
	char req[1024], want[1024];
	struct resp r;

	snprintf(req, sizeof req, "POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n%s",
	    path, strlen(body), body);
	snprintf(want, sizeof want, "POST %s|%s", path, body);
	if (cli_send(c, req) != 0 || cli_response(c, &r) != 0)
		return -1;
	if (r.status != 200 || strcmp(r.body, want) != 0) {
		fprintf(stderr, "\n  got %d [%s], want [%s]\n", r.status, r.body, want);
		return -1;
	}
	return 0;
}

static void
base_config(struct server_config *cfg, unsigned workers)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->workers = workers;
	cfg->max_connections = 256;
	cfg->recv_timeout_ms = 2000;
	cfg->send_timeout_ms = 2000;
	cfg->keepalive_timeout_ms = 5000;
}

/* ---- the cases ------------------------------------------------------------ */

/*
 * The control lane: a kept-alive connection that carried a control path is
 * answered by the lane's own thread while the only worker is busy.
 */
static void
test_control_lane(void)
{
	static const char *const control[] = { "/ctl", NULL };
	struct harness h = { 0 };
	struct server_config cfg;
	struct client *ctl, *busy;
	int64_t t0, took;

	base_config(&cfg, 1);
	cfg.control_paths = control;
	start(&h, &cfg);
	ctl = cli_open(&h);
	busy = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(busy);
	/* The first control request moves its connection to the lane. */
	CU_ASSERT_EQUAL(cli_echo(ctl, "/ctl", "one"), 0);
	/* The one worker sleeps 1500 ms; the lane answers meanwhile. */
	CU_ASSERT_EQUAL(cli_send(busy, "POST /sleep?1500 HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 0\r\n\r\n"), 0);
	sleep_ms(100);
	t0 = now_ms();
	CU_ASSERT_EQUAL(cli_echo(ctl, "/ctl", "two"), 0);
	took = now_ms() - t0;
	CU_ASSERT(took < 700);
	/* A plain request on a plain connection waits for the worker, as before. */
	{
		struct resp r;

		CU_ASSERT_EQUAL(cli_response(busy, &r), 0);
		CU_ASSERT_EQUAL(r.status, 200);
	}
	cli_close(ctl);
	cli_close(busy);
	stop(&h);
}

static void
test_keep_alive(void)
{
	struct harness h = { 0 };
	struct server_config cfg;
	struct server_stats st;
	struct client *c;
	char path[64], body[64];
	int i, bad = 0;

	base_config(&cfg, 2);
	start(&h, &cfg);
	CU_ASSERT(strncmp(server_address(h.s), "127.0.0.1:", 10) == 0);
	CU_ASSERT(strcmp(server_address(h.s), "127.0.0.1:0") != 0);
	c = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (i = 0; i < 100; i++) {
		snprintf(path, sizeof path, "/echo/%d", i);
		snprintf(body, sizeof body, "<body n=\"%d\"/>", i);
		if (cli_echo(c, path, body) != 0)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	server_get_stats(h.s, &st);
	CU_ASSERT_EQUAL(st.accepted, 1);
	CU_ASSERT_EQUAL(st.requests, 100);
	CU_ASSERT_EQUAL(st.open, 1);
	/* busy drops just after the last response is sent, maybe after it arrives. */
	for (i = 0; i < 100 && st.busy != 0; i++) {
		sleep_ms(5);
		server_get_stats(h.s, &st);
	}
	CU_ASSERT_EQUAL(st.busy, 0);
	cli_close(c);
	stop(&h);
}

static void
test_pipelined(void)
{
	struct harness h = { 0 };
	struct server_config cfg;
	struct client *c;
	struct resp r;

	base_config(&cfg, 2);
	start(&h, &cfg);
	c = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(cli_send(c,
	    "POST /p1 HTTP/1.1\r\nContent-Length: 1\r\n\r\na"
	    "GET /p2 HTTP/1.1\r\n\r\n"
	    "POST /p3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n"
	    "POST /p4 HTTP/1.1\r\nContent-Length: 2\r\n\r\nb"), 0);
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT_STRING_EQUAL(r.body, "POST /p1|a");
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT_STRING_EQUAL(r.body, "GET /p2|");
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT_STRING_EQUAL(r.body, "POST /p3|xyz");
	/* The fourth is half there; its end comes later. */
	sleep_ms(50);
	CU_ASSERT_EQUAL(cli_send(c, "c"), 0);
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT_STRING_EQUAL(r.body, "POST /p4|bc");
	cli_close(c);
	stop(&h);
}

/* Product requirement: idle keep-alive connections never starve new clients. */
static void
test_idle_clients_do_not_starve(void)
{
	struct harness h = { 0 };
	struct server_config cfg;
	struct client *idle[64], *slow[32], *c;
	int64_t t0;
	int i, bad = 0;

	base_config(&cfg, 4);
	start(&h, &cfg);
	for (i = 0; i < 64; i++) {
		idle[i] = cli_open(&h);
		if (idle[i] == NULL || cli_echo(idle[i], "/idle", "x") != 0)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	/* Slow senders with half a head each do not hold workers either. */
	for (i = 0; i < 32; i++) {
		slow[i] = cli_open(&h);
		if (slow[i] == NULL || cli_send(slow[i], "POST /slow HTTP/1.1\r\nHost: x\r\nCont") != 0)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	t0 = now_ms();
	c = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(cli_echo(c, "/new", "y"), 0);
	CU_ASSERT(now_ms() - t0 < 1000);
	/* And the idle ones are still served afterwards. */
	CU_ASSERT_EQUAL(cli_echo(idle[0], "/again", "z"), 0);
	CU_ASSERT_EQUAL(cli_echo(idle[63], "/again", "z"), 0);
	cli_close(c);
	for (i = 0; i < 64; i++)
		cli_close(idle[i]);
	for (i = 0; i < 32; i++)
		cli_close(slow[i]);
	CU_ASSERT(wait_open(&h, 0, 3000));
	stop(&h);
}

static void
test_recv_timeout(void)
{
	struct harness h = { 0 };
	struct server_config cfg;
	struct server_stats st;
	struct client *stalled, *other;
	struct resp r;
	int64_t t0, elapsed;
	int i, bad = 0;

	base_config(&cfg, 2);
	cfg.recv_timeout_ms = 300;
	start(&h, &cfg);
	stalled = cli_open(&h);
	other = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(stalled);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	CU_ASSERT_EQUAL(cli_send(stalled, "POST /s HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"), 0);
	t0 = now_ms();
	for (i = 0; i < 5; i++)
		if (cli_echo(other, "/meanwhile", "m") != 0)
			bad++;
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(now_ms() - t0 < 250);
	CU_ASSERT_EQUAL_FATAL(cli_response(stalled, &r), 0);
	elapsed = now_ms() - t0;
	CU_ASSERT_EQUAL(r.status, 408);
	CU_ASSERT(r.conn_close);
	CU_ASSERT(elapsed >= 280 && elapsed < 1500);
	CU_ASSERT_EQUAL(cli_eof(stalled, 1000), 1);
	server_get_stats(h.s, &st);
	CU_ASSERT_EQUAL(st.timeouts, 1);
	/* The other client's idle time counts from its last response, not from this. */
	CU_ASSERT_EQUAL(cli_echo(other, "/still", "s"), 0);
	cli_close(stalled);
	cli_close(other);
	stop(&h);
}

static void
test_keepalive_timeout(void)
{
	struct harness h = { 0 };
	struct server_config cfg;
	struct server_stats st;
	struct client *c, *quiet;
	int64_t t0, elapsed;

	base_config(&cfg, 2);
	cfg.keepalive_timeout_ms = 300;
	cfg.recv_timeout_ms = 400;
	start(&h, &cfg);
	c = cli_open(&h);
	quiet = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(quiet);
	CU_ASSERT_EQUAL(cli_echo(c, "/ka", "1"), 0);
	t0 = now_ms();
	/* Closed silently: EOF, no 408. */
	CU_ASSERT_EQUAL(cli_eof(c, 2000), 1);
	elapsed = now_ms() - t0;
	CU_ASSERT(elapsed >= 280 && elapsed < 1500);
	/* A connection that never sends a byte goes after recv_timeout. */
	CU_ASSERT_EQUAL(cli_eof(quiet, 2000), 1);
	server_get_stats(h.s, &st);
	CU_ASSERT_EQUAL(st.timeouts, 0);
	/* The client may see the close a moment before the count drops. */
	CU_ASSERT(wait_open(&h, 0, 500));
	cli_close(c);
	cli_close(quiet);
	stop(&h);
}

static void
test_oversize(void)
{
	struct harness h = { 0 };
	struct server_config cfg;
	struct client *c;
	struct resp r;
	char chunk[600];
	char *big;
	size_t n, i;

	base_config(&cfg, 2);
	cfg.limits.max_body = 1024;
	start(&h, &cfg);

	/* A body claiming 10 GB is refused from its head. */
	c = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(cli_send(c, "POST /big HTTP/1.1\r\nContent-Length: 10000000000\r\n\r\n"), 0);
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT_EQUAL(r.status, 413);
	CU_ASSERT(r.conn_close);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "max_message_bytes (1024 bytes)"));
	CU_ASSERT_EQUAL(cli_eof(c, 1000), 1);
	cli_close(c);

	/* Chunks past the limit are refused before the client finishes. */
	c = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(cli_send(c, "POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
	n = (size_t)snprintf(chunk, sizeof chunk, "200\r\n");
	memset(chunk + n, 'q', 512);
	memcpy(chunk + n + 512, "\r\n", 2);
	for (i = 0; i < 3; i++)
		cli_send_n(c, chunk, n + 514);
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT_EQUAL(r.status, 413);
	CU_ASSERT_EQUAL(cli_eof(c, 1000), 1);
	cli_close(c);

	/* A head of 1 MB: 431 after 16 KiB, the rest is drained, not reset. */
	big = malloc(1 << 20);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	n = (size_t)snprintf(big, 64, "GET / HTTP/1.1\r\n");
	while (n + 64 < (1 << 20)) {
		memcpy(big + n, "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 62);
		n += 62;
	}
	c = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	cli_send_n(c, big, n);
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT_EQUAL(r.status, 431);
	cli_close(c);
	free(big);

	/* The server is fine afterwards. */
	c = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(cli_echo(c, "/after", "ok"), 0);
	cli_close(c);
	CU_ASSERT(wait_open(&h, 0, 3000));
	stop(&h);
}

static void
test_max_connections(void)
{
	struct harness h = { 0 };
	struct server_config cfg;
	struct server_stats st;
	struct client *held[4], *c;
	struct resp r;
	int64_t t0;
	int i, ok = 0;

	base_config(&cfg, 2);
	cfg.max_connections = 4;
	start(&h, &cfg);
	for (i = 0; i < 4; i++) {
		held[i] = cli_open(&h);
		CU_ASSERT_PTR_NOT_NULL_FATAL(held[i]);
		CU_ASSERT_EQUAL(cli_echo(held[i], "/held", "h"), 0);
	}
	c = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT_EQUAL(r.status, 503);
	CU_ASSERT(r.retry_after);
	CU_ASSERT(r.conn_close);
	CU_ASSERT_EQUAL(cli_eof(c, 1000), 1);
	cli_close(c);
	server_get_stats(h.s, &st);
	CU_ASSERT_EQUAL(st.refused, 1);
	CU_ASSERT_EQUAL(st.open, 4);

	cli_close(held[0]);
	cli_close(held[1]);
	t0 = now_ms();
	/* The server sees those two go a moment later; until then, more 503s. */
	while (!ok && now_ms() - t0 < 2000) {
		c = cli_open(&h);
		if (c != NULL && cli_send(c, "GET /new HTTP/1.1\r\n\r\n") == 0 &&
		    cli_response(c, &r) == 0 && r.status == 200)
			ok = 1;
		else
			sleep_ms(20);
		cli_close(c);
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(cli_echo(held[2], "/still", "s"), 0);
	cli_close(held[2]);
	cli_close(held[3]);
	stop(&h);
}

static void
test_parked(void)
{
	struct harness h = { 0 };
	struct server_config cfg;
	struct client *c[8];
	struct resp r;
	int64_t t0;
	int i, bad = 0;

	base_config(&cfg, 2);
	start(&h, &cfg);
	/* Eight parked at once on two workers: parking frees the worker. */
	for (i = 0; i < 8; i++) {
		c[i] = cli_open(&h);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c[i]);
	}
	t0 = now_ms();
	for (i = 0; i < 8; i++)
		if (cli_send(c[i], "POST /park?100 HTTP/1.1\r\nContent-Length: 2\r\n\r\npk") != 0)
			bad++;
	for (i = 0; i < 8; i++)
		if (cli_response(c[i], &r) != 0 || r.status != 200 ||
		    strcmp(r.body, "parked POST /park|pk") != 0)
			bad++;
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(now_ms() - t0 < 700);
	/* The connection is reused after a parked exchange. */
	CU_ASSERT_EQUAL(cli_echo(c[0], "/after-park", "a"), 0);

	/* Pipelined behind a parked exchange: answered in order, by a worker. */
	CU_ASSERT_EQUAL(cli_send(c[1], "GET /park?30 HTTP/1.1\r\n\r\nGET /second HTTP/1.1\r\n\r\n"
	    "GET /park?10 HTTP/1.1\r\n\r\nGET /fourth HTTP/1.1\r\n\r\n"), 0);
	CU_ASSERT_EQUAL_FATAL(cli_response(c[1], &r), 0);
	CU_ASSERT_STRING_EQUAL(r.body, "parked GET /park|");
	CU_ASSERT_EQUAL_FATAL(cli_response(c[1], &r), 0);
	CU_ASSERT_STRING_EQUAL(r.body, "GET /second|");
	CU_ASSERT_EQUAL_FATAL(cli_response(c[1], &r), 0);
	CU_ASSERT_STRING_EQUAL(r.body, "parked GET /park|");
	CU_ASSERT_EQUAL_FATAL(cli_response(c[1], &r), 0);
	CU_ASSERT_STRING_EQUAL(r.body, "GET /fourth|");

	/* Connection: close on a parked exchange closes after server_finish. */
	CU_ASSERT_EQUAL(cli_send(c[2], "GET /park?10 HTTP/1.1\r\nConnection: close\r\n\r\n"), 0);
	CU_ASSERT_EQUAL_FATAL(cli_response(c[2], &r), 0);
	CU_ASSERT(r.conn_close);
	CU_ASSERT_EQUAL(cli_eof(c[2], 1000), 1);
	for (i = 0; i < 8; i++)
		cli_close(c[i]);
	stop(&h);
}

static void
test_stop_with_parked(void)
{
	struct harness h = { 0 };
	struct server_config cfg;
	struct server_stats st;
	struct client *c;
	struct resp r;
	char addr[64];
	int64_t t0, elapsed;

	base_config(&cfg, 2);
	start(&h, &cfg);
	c = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(cli_send(c, "GET /park?200 HTTP/1.1\r\n\r\n"), 0);
	t0 = now_ms();
	do {
		server_get_stats(h.s, &st);
		sleep_ms(2);
	} while (st.busy == 0 && now_ms() - t0 < 1000);
	CU_ASSERT_EQUAL(st.busy, 1);
	snprintf(addr, sizeof addr, "%s", server_address(h.s));
	stop_ticker(&h);
	t0 = now_ms();
	server_stop(h.s, 2000);
	elapsed = now_ms() - t0;
	CU_ASSERT(elapsed >= 100 && elapsed < 1500);
	CU_ASSERT_EQUAL(atomic_load(&h.parked), 0);
	CU_ASSERT_EQUAL(atomic_load(&h.finis), atomic_load(&h.inits));
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(r.body, "parked GET /park|");
	CU_ASSERT(r.conn_close);
	CU_ASSERT_EQUAL(cli_eof(c, 1000), 1);
	cli_close(c);
	/* Nobody listens any more. */
	c = malloc(sizeof *c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(cli_open_to(c, addr), -1);
	free(c);
}

static void
test_misc(void)
{
	struct harness h = { 0 };
	struct server_config cfg;
	struct client *c;
	struct resp r;

	base_config(&cfg, 2);
	start(&h, &cfg);
	c = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);

	/* HEAD: the length of the body, no body; the connection stays usable. */
	CU_ASSERT_EQUAL(cli_send(c, "HEAD /h HTTP/1.1\r\n\r\n"), 0);
	CU_ASSERT_EQUAL_FATAL(cli_response_x(c, &r, 1), 0);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_EQUAL(r.content_length, (long)strlen("HEAD /h|"));
	CU_ASSERT_EQUAL(cli_echo(c, "/after-head", "x"), 0);

	/* A failing handler: 500, and the connection stays. */
	CU_ASSERT_EQUAL(cli_send(c, "GET /fail HTTP/1.1\r\n\r\n"), 0);
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT_EQUAL(r.status, 500);
	CU_ASSERT_PTR_NULL(strstr(r.body, "half"));
	CU_ASSERT_EQUAL(cli_echo(c, "/after-fail", "x"), 0);

	/* The peer address. */
	CU_ASSERT_EQUAL(cli_send(c, "GET /peer HTTP/1.1\r\n\r\n"), 0);
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT(strncmp(r.body, "127.0.0.1:", 10) == 0);

	/* 100-continue: the interim answer, then the body, then the answer. */
	CU_ASSERT_EQUAL(cli_send(c, "POST /cont HTTP/1.1\r\nExpect: 100-continue\r\n"
	    "Content-Length: 4\r\n\r\n"), 0);
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT_EQUAL(r.status, 100);
	CU_ASSERT_EQUAL(cli_send(c, "data"), 0);
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(r.body, "POST /cont|data");

	/* HTTP/1.0 with keep-alive is told so and kept. */
	CU_ASSERT_EQUAL(cli_send(c, "GET /ten HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT(r.conn_keep_alive);
	CU_ASSERT(!r.conn_close);
	CU_ASSERT_EQUAL(cli_echo(c, "/after-ten", "x"), 0);

	/* The handler asks to close. */
	CU_ASSERT_EQUAL(cli_send(c, "GET /close HTTP/1.1\r\n\r\n"), 0);
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT(r.conn_close);
	CU_ASSERT_EQUAL(cli_eof(c, 1000), 1);
	cli_close(c);

	/* HTTP/1.0 without keep-alive is closed. */
	c = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(cli_send(c, "GET /ten HTTP/1.0\r\n\r\n"), 0);
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT(r.conn_close);
	CU_ASSERT_EQUAL(cli_eof(c, 1000), 1);
	cli_close(c);

	/* A request then a half-close: answered, then closed. */
	c = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(cli_send(c, "GET /half HTTP/1.1\r\n\r\n"), 0);
	shutdown(c->fd, SHUT_WR);
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT_STRING_EQUAL(r.body, "GET /half|");
	CU_ASSERT_EQUAL(cli_eof(c, 1000), 1);
	cli_close(c);

	/* Garbage: 400 and closed. */
	c = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(cli_send(c, "\x16\x03\x01 hello"), 0);
	CU_ASSERT_EQUAL_FATAL(cli_response(c, &r), 0);
	CU_ASSERT_EQUAL(r.status, 400);
	CU_ASSERT_EQUAL(cli_eof(c, 1000), 1);
	cli_close(c);
	stop(&h);
}

static unsigned
next_rand(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

/* Random garbage, resets and abandoned connections leave the server serving. */
static void
test_fuzz(void)
{
	static const char *prefixes[] = {
		"", "GET / HTTP/1.1\r\n", "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
		"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "GET /%",
		"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
	};
	struct harness h = { 0 };
	struct server_config cfg;
	struct client *c[50];
	char junk[4096];
	unsigned seed = 4242, k;
	size_t n, j;
	int batch, i;

	base_config(&cfg, 4);
	cfg.recv_timeout_ms = 300;
	start(&h, &cfg);
	for (batch = 0; batch < 6; batch++) {
		for (i = 0; i < 50; i++) {
			c[i] = cli_open(&h);
			if (c[i] == NULL)
				continue;
			k = next_rand(&seed);
			n = (size_t)snprintf(junk, sizeof junk, "%s", prefixes[k % 6]);
			k = next_rand(&seed) % 2048;
			for (j = 0; j < k; j++) {
				unsigned b = next_rand(&seed);

				/* Half the time printable with line ends, half any byte. */
				junk[n + j] = (char)(i & 1 ? b : (b % 3 == 0 ? '\n' : 32 + b % 95));
			}
			cli_send_n(c[i], junk, n + k);
		}
		sleep_ms(50);
		for (i = 0; i < 50; i++) {
			if (c[i] == NULL)
				continue;
			switch (i % 3) {
			case 0:
				cli_reset(c[i]);
				break;
			case 1:
				while (cli_fill(c[i]) == 0 && c[i]->len < sizeof c[i]->in / 2)
					c[i]->len = 0;
				cli_close(c[i]);
				break;
			default:
				cli_close(c[i]);
			}
		}
	}
	/* Connections opened and dropped at once. */
	for (i = 0; i < 2000; i++) {
		struct client *d = cli_open(&h);

		if (d == NULL)
			continue;
		if (i % 2)
			cli_reset(d);
		else
			cli_close(d);
	}
	CU_ASSERT(wait_open(&h, 0, 3000));
	c[0] = cli_open(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c[0]);
	CU_ASSERT_EQUAL(cli_echo(c[0], "/alive", "yes"), 0);
	cli_close(c[0]);
	stop(&h);
}

static void
test_start_errors(void)
{
	struct harness h = { 0 }, h2 = { 0 };
	struct server_hooks hooks = { handle, worker_init, worker_fini, &h2 };
	struct server_config cfg;
	struct server *s2 = (struct server *)&h2;     /* not NULL: server_start must reset it */
	char err[256];

	base_config(&cfg, 3);
	cfg.listen = "nonsense";
	CU_ASSERT_EQUAL(server_start(&s2, &cfg, &hooks, err, sizeof err), PARLEY_EINVAL);
	CU_ASSERT_PTR_NULL(s2);
	CU_ASSERT(err[0] != '\0');
	cfg.listen = "127.0.0.1:65536";
	CU_ASSERT_EQUAL(server_start(&s2, &cfg, &hooks, err, sizeof err), PARLEY_EINVAL);
	cfg.listen = "[::1:80";
	CU_ASSERT_EQUAL(server_start(&s2, &cfg, &hooks, err, sizeof err), PARLEY_EINVAL);

	/* The address in use. */
	start(&h, &cfg);
	cfg.listen = server_address(h.s);
	CU_ASSERT_EQUAL(server_start(&s2, &cfg, &hooks, err, sizeof err), PARLEY_EIO);
	CU_ASSERT_PTR_NULL(s2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "in use"));
	stop(&h);

	/* A worker_init that fails fails the start; the others are finished. */
	h2.init_fail_at = 2;
	cfg.listen = "127.0.0.1:0";
	CU_ASSERT_EQUAL(server_start(&s2, &cfg, &hooks, err, sizeof err), PARLEY_EIO);
	CU_ASSERT_PTR_NULL(s2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "worker_init"));
	CU_ASSERT_EQUAL(atomic_load(&h2.inits), 3);
	CU_ASSERT_EQUAL(atomic_load(&h2.finis), 2);
	server_stop(NULL, 0);
}

/* "[IPv6]:PORT" is accepted and reported with brackets (skipped without IPv6). */
static void
test_ipv6_listen(void)
{
	struct harness h = { 0 };
	struct server_hooks hooks = { handle, NULL, NULL, &h };
	struct server_config cfg;
	struct server *s;
	char err[256];
	int rc;

	base_config(&cfg, 1);
	cfg.listen = "[::1]:0";
	rc = server_start(&s, &cfg, &hooks, err, sizeof err);
	if (rc == PARLEY_EIO) {
		fprintf(stderr, "(no IPv6 here: %s) ", err);
		return;
	}
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT(strncmp(server_address(s), "[::1]:", 6) == 0);
	CU_ASSERT(strcmp(server_address(s), "[::1]:0") != 0);
	server_stop(s, 0);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "100 requests on one keep-alive connection", test_keep_alive },
		{ "pipelined requests are answered in order", test_pipelined },
		{ "64 idle keep-alive clients do not starve a 65th", test_idle_clients_do_not_starve },
		{ "a stalled request gets 408 while others are served", test_recv_timeout },
		{ "idle keep-alive closed after keepalive_timeout", test_keepalive_timeout },
		{ "oversize body and head: 413 and 431, then closed", test_oversize },
		{ "max_connections: 503, then room again", test_max_connections },
		{ "parked exchanges finished from another thread", test_parked },
		{ "server_stop waits for a parked exchange", test_stop_with_parked },
		{ "HEAD, 500, peer, 100-continue, HTTP/1.0, close, garbage", test_misc },
		{ "random garbage and dropped connections", test_fuzz },
		{ "start errors: address, in use, worker_init", test_start_errors },
		{ "IPv6 listen address", test_ipv6_listen },
		{ "control lane answers while every worker is busy", test_control_lane },
		{ NULL, NULL }
	};

	return unit_run("server", tests);
}
