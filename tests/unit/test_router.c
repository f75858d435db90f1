/*
 * test_router.c - the router against an owner run by the test: a thread on
 * 127.0.0.1 that parses requests with the server's own parser and answers
 * as each test tells it (echo, chunked, canned bytes, silence, closing).
 * Checks the request sent, keep-alive reuse, the answer framings, stale
 * pooled connections, failures and limits, and eight threads at once.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "parley.h"
#include "router.h"
#include "unit.h"

#define MAX_CONNS 128
#define CONN_BUF (256 * 1024)

enum mode {
	M_ECHO,             /* 200, the request body back, Content-Length, extra headers */
	M_CHUNKED,          /* 200, the request body back in small chunks, with a trailer */
	M_RAW,              /* the bytes of raw, then close when raw_close */
	M_IDLE_CLOSE,       /* like M_ECHO, then close: an idle timeout come early */
	M_DROP,             /* read the request, close without answering */
	M_DROP_SECOND,      /* answer a connection's first request, drop its second */
	M_SILENT,           /* read the request, never answer */
	M_EARLY             /* raw at once, then close with a reset, reading nothing */
};

/* The owner under test. Mode and canned answer are set while no exchange runs. */
struct owner {
	int lfd;
	char address[64];
	enum mode mode;
	const char *extra;              /* header lines added by M_ECHO */
	const char *raw;
	size_t raw_len;
	int raw_close;
	pthread_t acceptor;
	atomic_int accepted;
	atomic_int requests;
	pthread_mutex_t lock;
	char last[4096];                /* the last request as it came, head and body */
	size_t last_len;
	int nconns;
	int fds[MAX_CONNS];
	pthread_t threads[MAX_CONNS];
};

struct conn {
	struct owner *o;
	int fd;
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Answer req as the owner's mode says; returns 0 to go on reading, -1 to close. */
static int
answer(struct owner *o, int fd, const struct http_request *req, int nth)
{
	char head[1024];
	const char *body = req->body != NULL ? req->body : "";
	size_t i, step;
	int n;

	switch (o->mode) {
	case M_DROP_SECOND:
		if (nth == 2)
			return -1;
		/* FALLTHROUGH */
	case M_ECHO:
	case M_IDLE_CLOSE:
		n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: text/xml; "
		    "charset=utf-8\r\n%sContent-Length: %zu\r\n\r\n",
		    o->extra != NULL ? o->extra : "", req->body_len);
		/* One write, as parleyd does, so the router sees the answer whole. */
		{
			char *all = malloc((size_t)n + req->body_len);

			memcpy(all, head, (size_t)n);
			memcpy(all + n, body, req->body_len);
			if (send_all(fd, all, (size_t)n + req->body_len) != 0) {
				free(all);
				return -1;
			}
			free(all);
		}
		return o->mode == M_IDLE_CLOSE ? -1 : 0;
	case M_CHUNKED:
		n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n");
		if (send_all(fd, head, (size_t)n) != 0)
			return -1;
		for (i = 0; i < req->body_len; i += step) {
			step = req->body_len - i < 7 ? req->body_len - i : 7;
			/* Upper-case hex, an extension on the first chunk. */
			n = snprintf(head, sizeof head, "%zX%s\r\n", step, i == 0 ? ";x=1" : "");
			if (send_all(fd, head, (size_t)n) != 0 ||
			    send_all(fd, body + i, step) != 0 || send_all(fd, "\r\n", 2) != 0)
				return -1;
		}
		return send_all(fd, "0\r\nX-Trailer: t\r\n\r\n", 19);
	case M_RAW:
		if (send_all(fd, o->raw, o->raw_len) != 0)
			return -1;
		return o->raw_close ? -1 : 0;
	case M_DROP:
	case M_EARLY:           /* handled before any request is read */
		return -1;
	case M_SILENT:
		return 0;
	}
	return -1;
}

/*
 * Answer before the request is read and close with unread bytes, which
 * resets the connection: the router's send fails, and the answer is
 * already in its receive queue (as parleyd's 503 at max_connections).
 */
static void
early(struct owner *o, int fd)
{
	struct linger lg = { 1, 0 };
	int i;

	send_all(fd, o->raw, o->raw_len);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	pthread_mutex_lock(&o->lock);
	for (i = 0; i < o->nconns; i++)
		if (o->fds[i] == fd)
			o->fds[i] = -1;
	close(fd);
	pthread_mutex_unlock(&o->lock);
}

/* One connection: read requests with the server's parser and answer them. */
static void *
conn_main(void *arg)
{
	struct conn *c = arg;
	struct owner *o = c->o;
	struct http_request req;
	char *buf = malloc(CONN_BUF + 1);
	size_t len = 0;
	const char *reason;
	int rc, need_continue, status, nth = 0;
	ssize_t k;

	if (o->mode == M_EARLY) {
		early(o, c->fd);
		goto out;
	}
	for (;;) {
		/* http_parse rewrites what it parsed: keep the bytes as they came. */
		char raw[sizeof o->last];
		size_t keep = len < sizeof raw ? len : sizeof raw;

		memcpy(raw, buf, keep);
		rc = http_parse(buf, len, NULL, &req, &need_continue, &status, &reason);
		if (rc == HTTP_INCOMPLETE) {
			if (len == CONN_BUF)
				break;
			k = recv(c->fd, buf + len, CONN_BUF - len, 0);
			if (k <= 0)
				break;
			len += (size_t)k;
			continue;
		}
		if (rc != 0)
			break;
		pthread_mutex_lock(&o->lock);
		o->last_len = req.consumed < keep ? req.consumed : keep;
		memcpy(o->last, raw, o->last_len);
		pthread_mutex_unlock(&o->lock);
		atomic_fetch_add(&o->requests, 1);
		if (answer(o, c->fd, &req, ++nth) != 0)
			break;
		memmove(buf, buf + req.consumed, len - req.consumed);
		len -= req.consumed;
	}
	/* The fd is closed by owner_stop, so its number is not reused under it. */
	shutdown(c->fd, SHUT_RDWR);
out:
	free(buf);
	free(c);
	return NULL;
}

static void *
accept_main(void *arg)
{
	struct owner *o = arg;
	struct conn *c;
	int fd, one = 1;

	for (;;) {
		fd = accept4(o->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;        /* owner_stop shut the listening socket */
		}
		atomic_fetch_add(&o->accepted, 1);
		/* Chunked answers are many small writes: Nagle would hold them back. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c = malloc(sizeof *c);
		c->o = o;
		c->fd = fd;
		pthread_mutex_lock(&o->lock);
		if (o->nconns == MAX_CONNS) {
			pthread_mutex_unlock(&o->lock);
			close(fd);
			free(c);
			continue;
		}
		o->fds[o->nconns] = fd;
		pthread_create(&o->threads[o->nconns], NULL, conn_main, c);
		o->nconns++;
		pthread_mutex_unlock(&o->lock);
	}
}

/* Listen on 127.0.0.1 with a free port, as the address sockname gives. */
static int
listen_any(struct sockaddr_in *sa)
{
	socklen_t sl = sizeof *sa;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)sa, sizeof *sa) != 0 ||
	    getsockname(fd, (struct sockaddr *)sa, &sl) != 0)
		return -1;
	return fd;
}

static void
owner_start(struct owner *o, enum mode mode)
{
	struct sockaddr_in sa;

	memset(o, 0, sizeof *o);
	o->mode = mode;
	pthread_mutex_init(&o->lock, NULL);
	o->lfd = listen_any(&sa);
	CU_ASSERT_FATAL(o->lfd >= 0);
	CU_ASSERT_FATAL(listen(o->lfd, 64) == 0);
	snprintf(o->address, sizeof o->address, "http://127.0.0.1:%u", ntohs(sa.sin_port));
	CU_ASSERT_FATAL(pthread_create(&o->acceptor, NULL, accept_main, o) == 0);
}

static void
owner_stop(struct owner *o)
{
	int i;

	/* Shutting a listening socket down wakes accept (Linux). */
	shutdown(o->lfd, SHUT_RDWR);
	pthread_join(o->acceptor, NULL);
	close(o->lfd);
	for (i = 0; i < o->nconns; i++) {
		/* Under the lock: early() may be closing it and marking it -1. */
		pthread_mutex_lock(&o->lock);
		if (o->fds[i] >= 0)
			shutdown(o->fds[i], SHUT_RDWR);
		pthread_mutex_unlock(&o->lock);
		pthread_join(o->threads[i], NULL);
		if (o->fds[i] >= 0)
			close(o->fds[i]);
	}
	pthread_mutex_destroy(&o->lock);
}

static void
owner_raw(struct owner *o, const char *raw, int close_after)
{
	o->mode = M_RAW;
	o->raw = raw;
	o->raw_len = strlen(raw);
	o->raw_close = close_after;
}

static struct router *
make_router(unsigned timeout_ms, unsigned max_idle, size_t max_answer)
{
	struct router_config cfg = { 0 };
	struct router *r = NULL;

	cfg.connect_timeout_ms = 1000;
	cfg.timeout_ms = timeout_ms;
	cfg.max_idle = max_idle;
	cfg.max_answer = max_answer;
	CU_ASSERT_EQUAL_FATAL(router_create(&r, &cfg), 0);
	return r;
}

static void
forward_init(struct forward *f, const char *address, const char *body, struct buf *out)
{
	memset(f, 0, sizeof *f);
	f->address = address;
	f->path = "/services/cart";
	f->body = body;
	f->body_len = strlen(body);
	f->out = out;
	/* out.data is then never NULL: a failed check is reported, not a crash. */
	buf_append(out, "", 0);
}

static void
test_plain(void)
{
	struct owner o;
	struct router *r = make_router(2000, 0, 0);
	struct router_stats st;
	struct forward f;
	struct buf out = BUF_INIT;
	char want[8192];
	const char *body = "<e>hello</e>!";

	owner_start(&o, M_ECHO);
	o.extra = "X-Parley-Moved: http://10.0.0.2:8080\r\n";
	forward_init(&f, o.address, body, &out);
	f.content_type = "application/soap+xml; charset=utf-8";
	f.soap_action = "urn:cart#Add";
	f.via = "node-a";
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	snprintf(want, sizeof want, "POST /services/cart HTTP/1.1\r\nHost: %s\r\n"
	    "Content-Type: application/soap+xml; charset=utf-8\r\n"
	    "SOAPAction: \"urn:cart#Add\"\r\nX-Parley-Via: node-a\r\n"
	    "Content-Length: 13\r\n\r\n<e>hello</e>!", o.address + 7);
	CU_ASSERT_EQUAL(o.last_len, strlen(want));
	CU_ASSERT(o.last_len == strlen(want) && memcmp(o.last, want, o.last_len) == 0);
	CU_ASSERT_EQUAL(f.status, 200);
	CU_ASSERT_STRING_EQUAL(f.content_type_out, "text/xml; charset=utf-8");
	CU_ASSERT_STRING_EQUAL(f.moved, "http://10.0.0.2:8080");
	CU_ASSERT_EQUAL(out.len, 13);
	CU_ASSERT_STRING_EQUAL(out.data, body);

	/* The defaults, an empty body, and a path encoded again after decoding. */
	o.extra = NULL;
	forward_init(&f, o.address, "", &out);
	f.path = "/services/a b%c\xc3\xa9?";
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	snprintf(want, sizeof want, "POST /services/a%%20b%%25c%%C3%%A9%%3F HTTP/1.1\r\n"
	    "Host: %s\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: 0\r\n\r\n",
	    o.address + 7);
	CU_ASSERT(o.last_len == strlen(want) && memcmp(o.last, want, o.last_len) == 0);
	CU_ASSERT_EQUAL(f.status, 200);
	CU_ASSERT_STRING_EQUAL(f.moved, "");
	CU_ASSERT_EQUAL(out.len, 0);

	router_get_stats(r, &st);
	CU_ASSERT_EQUAL(st.forwarded, 2);
	CU_ASSERT_EQUAL(st.connects, 1);
	CU_ASSERT_EQUAL(st.reused, 1);
	CU_ASSERT_EQUAL(st.failed, 0);
	CU_ASSERT_EQUAL(st.idle, 1);
	router_destroy(r);
	owner_stop(&o);
	buf_free(&out);
}

static void
test_reuse(void)
{
	struct owner o;
	struct router *r = make_router(2000, 0, 0);
	struct router_stats st;
	struct forward f;
	struct buf out = BUF_INIT;
	char body[64];
	int i, ok = 0;

	owner_start(&o, M_ECHO);
	for (i = 0; i < 100; i++) {
		snprintf(body, sizeof body, "<n>%d</n>", i);
		forward_init(&f, o.address, body, &out);
		if (router_forward(r, &f) == 0 && f.status == 200 && strcmp(out.data, body) == 0)
			ok++;
	}
	CU_ASSERT_EQUAL(ok, 100);
	router_get_stats(r, &st);
	CU_ASSERT_EQUAL(st.forwarded, 100);
	CU_ASSERT_EQUAL(st.connects, 1);
	CU_ASSERT_EQUAL(st.reused, 99);
	CU_ASSERT_EQUAL(st.idle, 1);
	CU_ASSERT_EQUAL(atomic_load(&o.accepted), 1);

	/* router_forget drops it: the next exchange connects again. */
	router_forget(r, o.address);
	router_forget(r, "http://127.0.0.1:1");
	router_forget(r, "not an address");
	router_get_stats(r, &st);
	CU_ASSERT_EQUAL(st.idle, 0);
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	router_get_stats(r, &st);
	CU_ASSERT_EQUAL(st.connects, 2);
	router_destroy(r);
	owner_stop(&o);
	buf_free(&out);
}

static void
test_chunked(void)
{
	struct owner o;
	struct router *r = make_router(2000, 0, 0);
	struct router_stats st;
	struct forward f;
	struct buf out = BUF_INIT;
	const char *body = "<chunked>0123456789abcdefghijklmnopqrstuvwxyz</chunked>";

	owner_start(&o, M_CHUNKED);
	forward_init(&f, o.address, body, &out);
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	CU_ASSERT_EQUAL(f.status, 200);
	CU_ASSERT_STRING_EQUAL(f.content_type_out, "text/xml");
	CU_ASSERT_EQUAL(out.len, strlen(body));
	CU_ASSERT_STRING_EQUAL(out.data, body);
	/* The trailer was read whole: the connection is reused. */
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	CU_ASSERT_STRING_EQUAL(out.data, body);
	router_get_stats(r, &st);
	CU_ASSERT_EQUAL(st.connects, 1);
	CU_ASSERT_EQUAL(st.reused, 1);
	CU_ASSERT_EQUAL(st.idle, 1);

	/* An empty chunked body; a bare-LF chunked answer. */
	forward_init(&f, o.address, "", &out);
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	CU_ASSERT_EQUAL(out.len, 0);
	owner_raw(&o, "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n", 0);
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	CU_ASSERT_STRING_EQUAL(out.data, "abc");
	CU_ASSERT_STRING_EQUAL(f.content_type_out, "");
	router_destroy(r);
	owner_stop(&o);
	buf_free(&out);
}

/* Answers after which the connection must not be pooled, and one after which it may. */
static void
test_not_pooled(void)
{
	static const struct {
		const char *raw;
		int close_after;
		unsigned idle;
		const char *body;
	} cases[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n<to-eof/>", 1, 0, "<to-eof/>" },
		{ "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbyeX", 1, 0,
		  "byeX" },
		{ "HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 1\r\n\r\nx",
		  0, 0, "x" },
		{ "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0, "ok" },
		{ "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", 0, 1,
		  "ok" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK", 0, 0, "ok" },
		{ "HTTP/1.1 204 No Content\r\n\r\n", 0, 1, "" },
	};
	struct owner o;
	struct router_stats st;
	struct forward f;
	struct buf out = BUF_INIT;
	size_t i;

	owner_start(&o, M_RAW);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct router *r = make_router(2000, 0, 0);

		owner_raw(&o, cases[i].raw, cases[i].close_after);
		forward_init(&f, o.address, "<q/>", &out);
		CU_ASSERT_EQUAL(router_forward(r, &f), 0);
		CU_ASSERT_STRING_EQUAL(out.data, cases[i].body);
		router_get_stats(r, &st);
		if (st.idle != cases[i].idle)
			fprintf(stderr, "case %zu: idle %u ", i, st.idle);
		CU_ASSERT_EQUAL(st.idle, cases[i].idle);
		/* The next exchange connects again unless the first was pooled. */
		CU_ASSERT_EQUAL(router_forward(r, &f), 0);
		router_get_stats(r, &st);
		CU_ASSERT_EQUAL(st.connects, cases[i].idle ? 1 : 2);
		router_destroy(r);
	}
	owner_stop(&o);
	buf_free(&out);
}

/* The owner closed a pooled connection while it was idle: seen before use, no error. */
static void
test_stale_idle(void)
{
	struct owner o;
	struct router *r = make_router(2000, 0, 0);
	struct router_stats st;
	struct forward f;
	struct buf out = BUF_INIT;

	owner_start(&o, M_IDLE_CLOSE);
	forward_init(&f, o.address, "<a/>", &out);
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	router_get_stats(r, &st);
	CU_ASSERT_EQUAL(st.idle, 1);
	sleep_ms(50);
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	CU_ASSERT_STRING_EQUAL(out.data, "<a/>");
	router_get_stats(r, &st);
	CU_ASSERT_EQUAL(st.connects, 2);
	CU_ASSERT_EQUAL(st.reused, 0);
	CU_ASSERT_EQUAL(st.failed, 0);
	CU_ASSERT_EQUAL(atomic_load(&o.requests), 2);
	router_destroy(r);
	owner_stop(&o);
	buf_free(&out);
}

/*
 * The owner closes a pooled connection just as the request goes out (it
 * passed the check): retried once on a new connection, no error. When the
 * new connection is dropped too, PARLEY_EIO, and no third try.
 */
static void
test_stale_retry(void)
{
	struct owner o;
	struct router *r = make_router(2000, 0, 0);
	struct router_stats st;
	struct forward f;
	struct buf out = BUF_INIT;

	owner_start(&o, M_DROP_SECOND);
	forward_init(&f, o.address, "<b/>", &out);
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	CU_ASSERT_STRING_EQUAL(out.data, "<b/>");
	router_get_stats(r, &st);
	CU_ASSERT_EQUAL(st.forwarded, 2);
	CU_ASSERT_EQUAL(st.connects, 2);
	CU_ASSERT_EQUAL(st.reused, 1);
	CU_ASSERT_EQUAL(st.failed, 0);
	CU_ASSERT_EQUAL(atomic_load(&o.requests), 3);

	o.mode = M_DROP;
	CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_EIO);
	router_get_stats(r, &st);
	CU_ASSERT_EQUAL(st.connects, 3);
	CU_ASSERT_EQUAL(st.failed, 1);
	CU_ASSERT_EQUAL(atomic_load(&o.requests), 5);
	CU_ASSERT_EQUAL(atomic_load(&o.accepted), 3);
	router_destroy(r);
	owner_stop(&o);
	buf_free(&out);
}

/* A new connection closed after the request was read: PARLEY_EIO, no retry. */
static void
test_drop_new(void)
{
	struct owner o;
	struct router *r = make_router(2000, 0, 0);
	struct forward f;
	struct buf out = BUF_INIT;

	owner_start(&o, M_DROP);
	forward_init(&f, o.address, "<c/>", &out);
	CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_EIO);
	CU_ASSERT_EQUAL(atomic_load(&o.requests), 1);
	CU_ASSERT_EQUAL(atomic_load(&o.accepted), 1);
	router_destroy(r);
	owner_stop(&o);
	buf_free(&out);
}

static void
test_refused(void)
{
	struct router *r = make_router(2000, 0, 0);
	struct router_stats st;
	struct sockaddr_in sa;
	struct forward f;
	struct buf out = BUF_INIT;
	char address[64];
	int64_t t0;
	int fd;

	/* A port bound but not listening refuses connections. */
	fd = listen_any(&sa);
	CU_ASSERT_FATAL(fd >= 0);
	snprintf(address, sizeof address, "http://127.0.0.1:%u", ntohs(sa.sin_port));
	forward_init(&f, address, "<d/>", &out);
	t0 = now_us();
	CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_EIO);
	CU_ASSERT(now_us() - t0 < 500000);
	/* A name that resolves to it, possibly ::1 first. */
	snprintf(address, sizeof address, "http://localhost:%u", ntohs(sa.sin_port));
	CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_EIO);
	router_get_stats(r, &st);
	CU_ASSERT_EQUAL(st.failed, 2);
	CU_ASSERT_EQUAL(st.connects, 0);
	close(fd);
	router_destroy(r);
	buf_free(&out);
}

static void
test_timeout(void)
{
	struct owner o;
	struct router *r = make_router(300, 0, 0);
	struct forward f;
	struct buf out = BUF_INIT;
	int64_t ms;

	owner_start(&o, M_SILENT);
	forward_init(&f, o.address, "<e/>", &out);
	ms = now_us();
	CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_ETIMEDOUT);
	ms = (now_us() - ms) / 1000;
	CU_ASSERT(ms >= 290 && ms < 1500);
	/* Half an answer, then silence, times out too. */
	owner_raw(&o, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", 0);
	CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_ETIMEDOUT);
	router_destroy(r);
	owner_stop(&o);
	buf_free(&out);
}

static void
test_limits(void)
{
	static const char *over[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n"
		    "25\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\n",
		"HTTP/1.1 200 OK\r\n\r\n"
		    "0123456789012345678901234567890123456789012345678901234567890123456789"
		    "0123456789012345678901234567890123456789",
	};
	struct owner o;
	struct router *r = make_router(2000, 0, 100);
	struct forward f;
	struct buf out = BUF_INIT;
	char *huge, *exact;
	size_t i;

	owner_start(&o, M_RAW);
	forward_init(&f, o.address, "<f/>", &out);
	for (i = 0; i < sizeof over / sizeof over[0]; i++) {
		owner_raw(&o, over[i], 1);
		CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_ELIMIT);
	}
	/* Exactly max_answer is fine. */
	exact = malloc(200);
	snprintf(exact, 200, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n%0100d", 7);
	owner_raw(&o, exact, 0);
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	CU_ASSERT_EQUAL(out.len, 100);
	/* A head over 16 KiB. */
	huge = malloc(20000);
	strcpy(huge, "HTTP/1.1 200 OK\r\nX-Big: ");
	i = strlen(huge);
	memset(huge + i, 'a', 18000);
	strcpy(huge + i + 18000, "\r\nContent-Length: 0\r\n\r\n");
	owner_raw(&o, huge, 1);
	CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_ELIMIT);
	router_destroy(r);
	owner_stop(&o);
	free(huge);
	free(exact);
	buf_free(&out);
}

/* Answers that are not HTTP as the router takes it, or cut short: PARLEY_EIO. */
static void
test_bad_answers(void)
{
	static const char *bad[] = {
		"SSH-2.0-OpenSSH_9.2\r\n\r\n",
		"HTTP/2.0 200 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
		"HTTP/1.1 200 OK\r\nContent-Type: "
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaa"
		    "\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200",
	};
	struct owner o;
	struct router *r = make_router(2000, 0, 0);
	struct forward f;
	struct buf out = BUF_INIT;
	size_t i;
	int rc;

	owner_start(&o, M_RAW);
	forward_init(&f, o.address, "<g/>", &out);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		owner_raw(&o, bad[i], 1);
		rc = router_forward(r, &f);
		if (rc != PARLEY_EIO)
			fprintf(stderr, "bad answer %zu: %d ", i, rc);
		CU_ASSERT_EQUAL(rc, PARLEY_EIO);
	}
	/* A long Content-Type loses whole parameters, not half of one. */
	owner_raw(&o, "HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml; charset=utf-8; "
	    "action=\"urn:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\r\n"
	    "Content-Length: 0\r\n\r\n", 0);
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	CU_ASSERT_STRING_EQUAL(f.content_type_out, "application/soap+xml; charset=utf-8");
	router_destroy(r);
	owner_stop(&o);
	buf_free(&out);
}

static void
test_continue_and_fault(void)
{
	static const char fault[] =
	    "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Body>"
	    "<env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code>"
	    "<env:Reason><env:Text xml:lang=\"en\">boom</env:Text></env:Reason>"
	    "</env:Fault></env:Body></env:Envelope>";
	struct owner o;
	struct router *r = make_router(2000, 0, 0);
	struct router_stats st;
	struct forward f;
	struct buf out = BUF_INIT;
	char raw[1024];

	owner_start(&o, M_RAW);
	forward_init(&f, o.address, "<h/>", &out);
	owner_raw(&o, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\n"
	    "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
	    "hello", 0);
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	CU_ASSERT_EQUAL(f.status, 201);
	CU_ASSERT_STRING_EQUAL(f.content_type_out, "text/plain");
	CU_ASSERT_STRING_EQUAL(out.data, "hello");

	snprintf(raw, sizeof raw, "HTTP/1.1 500 Internal Server Error\r\n"
	    "content-type: application/soap+xml; charset=utf-8\r\n"
	    "x-parley-moved:   http://[::1]:9000  \r\ncontent-length: %zu\r\n\r\n%s",
	    strlen(fault), fault);
	owner_raw(&o, raw, 0);
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	CU_ASSERT_EQUAL(f.status, 500);
	CU_ASSERT_STRING_EQUAL(f.content_type_out, "application/soap+xml; charset=utf-8");
	CU_ASSERT_STRING_EQUAL(f.moved, "http://[::1]:9000");
	CU_ASSERT_EQUAL(out.len, strlen(fault));
	CU_ASSERT_STRING_EQUAL(out.data, fault);
	router_get_stats(r, &st);
	CU_ASSERT_EQUAL(st.connects, 1);
	router_destroy(r);
	owner_stop(&o);
	buf_free(&out);
}

/*
 * The owner answers and resets the connection while the request is still
 * being sent (parleyd's 503 at max_connections): its answer is relayed.
 */
static void
test_answer_before_request(void)
{
	struct owner o;
	struct router *r = make_router(5000, 0, 0);
	struct router_stats st;
	struct forward f;
	struct buf out = BUF_INIT;
	size_t n = 8u << 20;
	char *big = malloc(n + 1);

	memset(big, 'z', n);
	big[n] = '\0';
	owner_start(&o, M_EARLY);
	owner_raw(&o, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 5\r\nConnection: close\r\n\r\nbusy\n", 0);
	o.mode = M_EARLY;
	forward_init(&f, o.address, big, &out);
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	CU_ASSERT_EQUAL(f.status, 503);
	CU_ASSERT_STRING_EQUAL(out.data, "busy\n");
	router_get_stats(r, &st);
	CU_ASSERT_EQUAL(st.idle, 0);
	router_destroy(r);
	owner_stop(&o);
	free(big);
	buf_free(&out);
}

static void
test_bad_requests(void)
{
	static const char *addresses[] = {
		"", "ftp://127.0.0.1:80", "http://", "http://:80", "http://host:", "http://host:0",
		"http://host:65536", "http://host:123456", "http://host:80/", "http://host:80/path",
		"http://[::1", "http://[::1]x", "http://[zz]:80", "http://[]:80", "http://ho st:80",
		"http://user@host:80", "http://host:8a", "http://host:-1", "https://host:443",
		"http://host?:80", "127.0.0.1:80",
	};
	struct router *r = make_router(2000, 0, 0);
	struct router_stats st;
	struct forward f;
	struct buf out = BUF_INIT;
	char longname[400];
	size_t i;

	for (i = 0; i < sizeof addresses / sizeof addresses[0]; i++) {
		forward_init(&f, addresses[i], "<i/>", &out);
		if (router_forward(r, &f) != PARLEY_EINVAL)
			fprintf(stderr, "address \"%s\" accepted ", addresses[i]);
		CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_EINVAL);
	}
	forward_init(&f, NULL, "<i/>", &out);
	CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_EINVAL);
	memset(longname, 'a', sizeof longname);
	memcpy(longname, "http://", 7);
	strcpy(longname + 300, ":80");
	forward_init(&f, longname, "<i/>", &out);
	CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_EINVAL);

	/* Nothing we are given may end a header line or the head. */
	forward_init(&f, "http://127.0.0.1:1", "<i/>", &out);
	f.path = "services/cart";
	CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_EINVAL);
	f.path = "/services/cart";
	f.soap_action = "urn:a\r\nX-Evil: 1";
	CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_EINVAL);
	f.soap_action = NULL;
	f.content_type = "text/xml\n";
	CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_EINVAL);
	f.content_type = NULL;
	f.via = "a\x01";
	CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_EINVAL);
	router_get_stats(r, &st);
	CU_ASSERT_EQUAL(st.connects, 0);
	router_destroy(r);
	router_destroy(NULL);
	buf_free(&out);
}

/* Addresses in every accepted form reach the owner. */
static void
test_address_forms(void)
{
	struct owner o;
	struct router *r = make_router(2000, 0, 0);
	struct forward f;
	struct buf out = BUF_INIT;
	char address[80];
	unsigned port;

	owner_start(&o, M_ECHO);
	port = (unsigned)atoi(strrchr(o.address, ':') + 1);
	snprintf(address, sizeof address, "HTTP://localhost:%05u", port);
	forward_init(&f, address, "<j/>", &out);
	CU_ASSERT_EQUAL(router_forward(r, &f), 0);
	CU_ASSERT_STRING_EQUAL(out.data, "<j/>");
	/* The Host header is the authority as written. */
	snprintf(address, sizeof address, "Host: localhost:%05u\r\n", port);
	CU_ASSERT_PTR_NOT_NULL(memmem(o.last, o.last_len, address, strlen(address)));
	/* [::1] reaches nothing here (the owner is on 127.0.0.1) but is a good address. */
	snprintf(address, sizeof address, "http://[::1]:%u", port);
	forward_init(&f, address, "<j/>", &out);
	CU_ASSERT_EQUAL(router_forward(r, &f), PARLEY_EIO);
	router_destroy(r);
	owner_stop(&o);
	buf_free(&out);
}

struct worker {
	struct router *r;
	const char *address;
	int id;
	int ok;
};

#define THREADS 8
#define PER_THREAD 200

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct forward f;
	struct buf out = BUF_INIT;
	char body[128];
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		/* Bodies of different lengths, so a mix-up cannot go unseen. */
		snprintf(body, sizeof body, "<t id=\"%d\" n=\"%d\">%.*s</t>", w->id, i, i % 50,
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		forward_init(&f, w->address, body, &out);
		if (router_forward(w->r, &f) == 0 && f.status == 200 && out.len == strlen(body) &&
		    memcmp(out.data, body, out.len) == 0)
			w->ok++;
	}
	buf_free(&out);
	return NULL;
}

static void
test_threads(void)
{
	struct owner o;
	struct router *r = make_router(5000, 4, 0);
	struct router_stats st;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	int i, ok = 0;

	owner_start(&o, M_ECHO);
	for (i = 0; i < THREADS; i++) {
		w[i].r = r;
		w[i].address = o.address;
		w[i].id = i;
		w[i].ok = 0;
		CU_ASSERT_FATAL(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		ok += w[i].ok;
	}
	CU_ASSERT_EQUAL(ok, THREADS * PER_THREAD);
	router_get_stats(r, &st);
	CU_ASSERT_EQUAL(st.forwarded, THREADS * PER_THREAD);
	CU_ASSERT_EQUAL(st.failed, 0);
	CU_ASSERT_EQUAL(st.connects + st.reused, THREADS * PER_THREAD);
	/* max_idle 4: at most 4 kept, so a few more connections than threads. */
	CU_ASSERT(st.idle <= 4);
	CU_ASSERT(st.connects >= 1);
	fprintf(stderr, "(%u connections) ", (unsigned)st.connects);
	router_destroy(r);
	owner_stop(&o);
}

/* Not a check: the cost of one relayed exchange on loopback, printed. */
static void
test_latency(void)
{
	struct owner o;
	struct router *r = make_router(2000, 0, 0);
	struct forward f;
	struct buf out = BUF_INIT;
	int i, ok = 0, n = 10000;
	int64_t t0;

	owner_start(&o, M_ECHO);
	forward_init(&f, o.address, "<Envelope><Body><AddItem>1</AddItem></Body></Envelope>", &out);
	t0 = now_us();
	for (i = 0; i < n; i++)
		ok += router_forward(r, &f) == 0;
	fprintf(stderr, "(%.1f us per exchange) ", (double)(now_us() - t0) / n);
	CU_ASSERT_EQUAL(ok, n);
	router_destroy(r);
	owner_stop(&o);
	buf_free(&out);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "request bytes and the answer copied", test_plain },
		{ "100 exchanges on one connection; router_forget", test_reuse },
		{ "chunked answers", test_chunked },
		{ "EOF-framed, close, HTTP/1.0, trailing bytes: not pooled", test_not_pooled },
		{ "a pooled connection closed while idle is not used", test_stale_idle },
		{ "a pooled connection dropped with the request: one retry", test_stale_retry },
		{ "a new connection dropped: PARLEY_EIO", test_drop_new },
		{ "connection refused: PARLEY_EIO at once", test_refused },
		{ "an owner that never answers: PARLEY_ETIMEDOUT", test_timeout },
		{ "max_answer and the 16 KiB head: PARLEY_ELIMIT", test_limits },
		{ "answers that are not HTTP: PARLEY_EIO", test_bad_answers },
		{ "100 Continue skipped; a 500 fault relayed as is", test_continue_and_fault },
		{ "an answer sent before the request was read", test_answer_before_request },
		{ "bad addresses and header values: PARLEY_EINVAL", test_bad_requests },
		{ "names, ports and IPv6 literals", test_address_forms },
		{ "8 threads at once, answers matched", test_threads },
		{ "10,000 sequential exchanges", test_latency },
		{ NULL, NULL }
	};

	/* ROUTER_DEBUG=1 shows the router's debug lines (why an exchange failed). */
	if (getenv("ROUTER_DEBUG") != NULL)
		log_init("test_router", 1, LOG_LEVEL_DEBUG);
	return unit_run("router", tests);
}
