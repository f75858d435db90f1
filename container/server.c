/*
 * server.c - the node's HTTP server (server.h): a listening socket, worker
 * threads that all wait on one epoll set, and a fixed table of connection
 * slots. A connection sits in epoll (one-shot) whenever no thread holds it,
 * so idle and slow connections cost a slot, never a worker.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "parley.h"
#include "server.h"

#define LISTEN_BACKLOG  512
#define ACCEPT_BATCH    64              /* accepts per wake-up, so accepting does not starve reading */
#define READ_FIRST      4096            /* first size of a slot's read buffer */
#define KEEP_BUF        16384           /* larger buffers are freed when their connection closes */
#define LINGER_MS       2000            /* most time spent draining a client after an error answer */
#define LINGER_BYTES    (1024 * 1024)   /* most bytes read and thrown away while draining */
#define EV_LISTEN       UINT32_MAX      /* epoll data of the listening socket */
#define EV_WAKE         (UINT32_MAX - 1) /* epoll data of the stop eventfd */

enum slot_state {
	SLOT_FREE = 0,
	SLOT_IDLE,          /* in epoll waiting for bytes; the tick may time it out */
	SLOT_LINGER,        /* answered and half-closed, in epoll being drained; the tick closes it */
	SLOT_BUSY           /* held by one thread: a worker, or an exchange handled or parked */
};

struct slot {
	pthread_mutex_t lock;           /* guards gen, fd and every change of state */
	struct server *srv;
	uint32_t index;
	uint32_t gen;                   /* bumped at every close, so stale events are recognised */
	_Atomic int state;              /* also read without the lock by the tick's first look */
	int fd;
	int lane;                       /* the epoll set it is in: 0 the workers', 1 the control lane's */
	int control;                    /* it carried control traffic: it goes to the control lane */
	int64_t deadline;               /* ms; set by the holder, read by the tick when IDLE or LINGER */
	char *rbuf;                     /* bytes read; one spare byte after rlen for http_parse */
	size_t rpos;                    /* start of the bytes not consumed yet */
	size_t rlen, rcap;
	size_t lingered;                /* bytes thrown away while lingering */
	int continue_sent;
	struct buf out;                 /* response head, or a whole error answer */
	struct exchange x;
};

struct worker {
	struct server *srv;
	pthread_t tid;
	void *state;
	int epfd;                       /* the epoll set it waits on */
};

struct server {
	struct server_config cfg;       /* defaults filled in; cfg.listen is not kept */
	struct server_hooks hooks;
	char address[INET6_ADDRSTRLEN + 8];
	int lfd, epfd, wakefd, spare_fd;
	int cepfd;                      /* the control lane's epoll set, or -1 */
	size_t rmax;                    /* read buffer size limit: max_head + max_body + 1 */
	struct slot *slots;
	uint32_t nslots;
	pthread_mutex_t free_lock;      /* guards free_idx, nfree and spare_fd */
	uint32_t *free_idx;
	uint32_t nfree;
	struct worker *workers;         /* the workers, then the control lane's */
	unsigned nworkers;              /* threads started */
	pthread_mutex_t init_lock;
	pthread_cond_t init_cond;
	unsigned init_done;
	int init_failed;
	struct buf refuse_msg;          /* the whole 503 answer */
	struct buf timeout_msg;         /* the whole 408 answer */
	_Atomic int stopping;
	_Atomic int64_t fd_warned;      /* when running out of descriptors was last logged */
	_Atomic uint64_t accepted, requests, timeouts, refused;
	_Atomic unsigned open, busy;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
ev_data(uint32_t index, uint32_t gen)
{
	return (uint64_t)gen << 32 | index;
}

static void
format_addr(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		snprintf(out, outlen, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		snprintf(out, outlen, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
	}
}

/* "HOST:PORT": IPv4, "[IPv6]", "localhost", or "*" or nothing for every IPv4 address. */
static int
parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *sslen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *end, *port;
	unsigned long p = 0;
	size_t hlen;
	int v6 = 0;

	memset(ss, 0, sizeof *ss);
	if (spec[0] == '[') {
		end = strchr(spec, ']');
		if (end == NULL || end[1] != ':')
			return PARLEY_EINVAL;
		hlen = (size_t)(end - spec - 1);
		port = end + 2;
		spec++;
		v6 = 1;
	} else {
		end = strrchr(spec, ':');
		if (end == NULL)
			return PARLEY_EINVAL;
		hlen = (size_t)(end - spec);
		port = end + 1;
	}
	if (hlen >= sizeof host || *port == '\0' || strlen(port) > 5)
		return PARLEY_EINVAL;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	for (; *port != '\0'; port++) {
		if (*port < '0' || *port > '9')
			return PARLEY_EINVAL;
		p = p * 10 + (unsigned long)(*port - '0');
	}
	if (p > 65535)
		return PARLEY_EINVAL;

	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return PARLEY_EINVAL;
		*sslen = sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)p);
		if (host[0] == '\0' || strcmp(host, "*") == 0)
			a->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (strcmp(host, "localhost") == 0)
			a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		else if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return PARLEY_EINVAL;
		*sslen = sizeof *a;
	}
	return 0;
}

static struct slot *
slot_take(struct server *s)
{
	struct slot *sl = NULL;

	pthread_mutex_lock(&s->free_lock);
	if (s->nfree > 0)
		sl = &s->slots[s->free_idx[--s->nfree]];
	pthread_mutex_unlock(&s->free_lock);
	return sl;
}

/*
 * Close sl's connection and give the slot back. The caller holds sl->lock.
 * The descriptor leaves epoll before it is closed and the generation
 * changes, so an event a worker already took for it is seen to be stale.
 */
static void
conn_close(struct slot *sl)
{
	struct server *s = sl->srv;

	/* Counted first, so that a client who sees the close sees the count too. */
	atomic_fetch_sub(&s->open, 1);
	epoll_ctl(sl->lane ? s->cepfd : s->epfd, EPOLL_CTL_DEL, sl->fd, NULL);
	sl->lane = 0;
	sl->control = 0;
	close(sl->fd);
	sl->fd = -1;
	sl->gen++;
	atomic_store(&sl->state, SLOT_FREE);
	sl->rpos = sl->rlen = 0;
	if (sl->rcap > KEEP_BUF) {
		free(sl->rbuf);
		sl->rbuf = NULL;
		sl->rcap = 0;
	}
	if (sl->out.cap > KEEP_BUF)
		buf_free(&sl->out);
	if (sl->x.body.cap > KEEP_BUF)
		buf_free(&sl->x.body);

	pthread_mutex_lock(&s->free_lock);
	s->free_idx[s->nfree++] = sl->index;
	pthread_mutex_unlock(&s->free_lock);
}

/* Close a connection this thread holds (SLOT_BUSY). */
static void
conn_drop(struct slot *sl)
{
	pthread_mutex_lock(&sl->lock);
	conn_close(sl);
	pthread_mutex_unlock(&sl->lock);
}

/*
 * Hand a held connection back to epoll in state (IDLE or LINGER) until
 * sl->deadline. with_out also wakes a worker when the socket is writable,
 * which is at once: the way to have bytes already buffered parsed by a
 * worker. The re-arm happens under the lock so that the tick cannot close
 * the descriptor (and its number be reused) between the two.
 */
static void
conn_wait(struct slot *sl, int state, int with_out)
{
	struct epoll_event ev;

	struct server *s = sl->srv;
	int ok;

	pthread_mutex_lock(&sl->lock);
	atomic_store(&sl->state, state);
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT | (with_out ? EPOLLOUT : 0);
	ev.data.u64 = ev_data(sl->index, sl->gen);
	if (sl->control && !sl->lane && s->cepfd >= 0) {
		/* Control traffic: from now on the control lane's threads serve it. */
		ok = epoll_ctl(s->epfd, EPOLL_CTL_DEL, sl->fd, NULL) == 0 &&
		    epoll_ctl(s->cepfd, EPOLL_CTL_ADD, sl->fd, &ev) == 0;
		if (ok)
			sl->lane = 1;
	} else {
		ok = epoll_ctl(sl->lane ? s->cepfd : s->epfd, EPOLL_CTL_MOD, sl->fd, &ev) == 0;
	}
	if (!ok) {
		log_warn("epoll_ctl for %s", sl->x.peer);
		conn_close(sl);
	}
	pthread_mutex_unlock(&sl->lock);
}

/*
 * Write the iovecs on the nonblocking socket, waiting in poll() when it is
 * full, for at most timeout_ms in all. MSG_NOSIGNAL: a peer that went away
 * must not raise SIGPIPE, and the process's signal state is not ours.
 */
static int
send_all(int fd, struct iovec *iov, int iovcnt, unsigned timeout_ms)
{
	struct msghdr mh;
	struct pollfd pfd;
	int64_t deadline = 0, now;
	ssize_t n;

	for (;;) {
		while (iovcnt > 0 && iov->iov_len == 0) {
			iov++;
			iovcnt--;
		}
		if (iovcnt == 0)
			return 0;
		memset(&mh, 0, sizeof mh);
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)iovcnt;
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n >= 0) {
			while (n > 0) {
				size_t k = (size_t)n < iov->iov_len ? (size_t)n : iov->iov_len;

				iov->iov_base = (char *)iov->iov_base + k;
				iov->iov_len -= k;
				n -= (ssize_t)k;
				if (iov->iov_len == 0) {
					iov++;
					iovcnt--;
				}
			}
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return PARLEY_EIO;
		now = now_ms();
		if (deadline == 0)
			deadline = now + timeout_ms;
		if (now >= deadline)
			return PARLEY_ETIMEDOUT;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			return PARLEY_EIO;
	}
}

/* Read what the socket has into sl->rbuf, growing it up to rmax. */
static int
conn_read(struct slot *sl, size_t rmax, int *eof)
{
	size_t room, cap;
	ssize_t n;
	char *p;

	/*
	 * Consumed bytes go once per read, not once per request, so a long
	 * run of pipelined requests costs no quadratic copying.
	 */
	if (sl->rpos > 0) {
		memmove(sl->rbuf, sl->rbuf + sl->rpos, sl->rlen - sl->rpos);
		sl->rlen -= sl->rpos;
		sl->rpos = 0;
	}
	for (;;) {
		if (sl->rlen + 1 >= sl->rcap) {
			if (sl->rcap >= rmax)
				return 0;       /* full: http_parse decides what that means */
			cap = sl->rcap != 0 ? sl->rcap * 2 : READ_FIRST;
			if (cap > rmax)
				cap = rmax;
			p = realloc(sl->rbuf, cap);
			if (p == NULL)
				return PARLEY_ENOMEM;
			sl->rbuf = p;
			sl->rcap = cap;
		}
		room = sl->rcap - 1 - sl->rlen;
		n = read(sl->fd, sl->rbuf + sl->rlen, room);
		if (n > 0) {
			sl->rlen += (size_t)n;
			/* A short read drained the socket; a re-armed one-shot reports any rest. */
			if ((size_t)n < room)
				return 0;
			continue;
		}
		if (n == 0) {
			*eof = 1;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return PARLEY_EIO;
	}
}

static unsigned
linger_ms(const struct server *s)
{
	return s->cfg.recv_timeout_ms < LINGER_MS ? s->cfg.recv_timeout_ms : LINGER_MS;
}

/*
 * Half-close a held connection after an answer and drain what the client
 * still sends for a while: closing with unread bytes would send a reset,
 * which can destroy the answer before the client has read it.
 */
static void
conn_linger(struct slot *sl)
{
	shutdown(sl->fd, SHUT_WR);
	sl->rpos = sl->rlen = 0;
	sl->lingered = 0;
	sl->deadline = now_ms() + linger_ms(sl->srv);
	conn_wait(sl, SLOT_LINGER, 0);
}

static void
conn_drain(struct slot *sl)
{
	char scratch[8192];
	ssize_t n;

	for (;;) {
		n = read(sl->fd, scratch, sizeof scratch);
		if (n > 0) {
			sl->lingered += (size_t)n;
			if (sl->lingered > LINGER_BYTES)
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			conn_wait(sl, SLOT_LINGER, 0);
			return;
		}
		break;
	}
	conn_drop(sl);
}

/* Answer a request that cannot be handled with status and a short text, then close. */
static void
conn_reject(struct slot *sl, int status, const char *reason)
{
	const struct server *s = sl->srv;
	struct iovec iov;
	char text[200];
	int n;

	if (status == 413)
		n = snprintf(text, sizeof text,
		    "request body is larger than max_message_bytes (%zu bytes)\n",
		    s->cfg.limits.max_body);
	else if (status == 431)
		n = snprintf(text, sizeof text, "%s (limits: %zu bytes, %u fields)\n",
		    reason, s->cfg.limits.max_head, s->cfg.limits.max_fields);
	else
		n = snprintf(text, sizeof text, "%s\n", reason);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof text)
		n = sizeof text - 1;
	buf_reset(&sl->out);
	if (http_write_head(&sl->out, status, "text/plain", (size_t)n, 0, NULL) == 0 &&
	    buf_append(&sl->out, text, (size_t)n) == 0) {
		iov.iov_base = sl->out.data;
		iov.iov_len = sl->out.len;
		if (send_all(sl->fd, &iov, 1, s->cfg.send_timeout_ms) != 0) {
			conn_drop(sl);
			return;
		}
	}
	conn_linger(sl);
}

/*
 * Send the response in sl->x. Returns 1 when the connection stays open,
 * 0 when it is to be closed, or a negative value when sending failed.
 */
static int
conn_respond(struct slot *sl)
{
	struct server *s = sl->srv;
	struct exchange *x = &sl->x;
	struct buf extra = BUF_INIT;
	const char *more = x->extra_headers;
	struct iovec iov[2];
	int keep, body, rc;

	if (x->status < 200 || x->status > 999) {
		log_warnx("handler answered %s %s with status %d; sending 500",
		    x->req.method, x->req.path, x->status);
		x->status = 500;
		x->content_type = NULL;
		x->extra_headers = more = NULL;
		buf_reset(&x->body);
	}
	keep = !x->close && x->req.keep_alive &&
	    !atomic_load_explicit(&s->stopping, memory_order_relaxed);
	body = x->status != 204 && x->status != 304 && strcmp(x->req.method, "HEAD") != 0;
	if (keep && x->req.minor == 0) {
		/* An HTTP/1.0 client closes unless told that the connection stays open. */
		if (buf_puts(&extra, "Connection: keep-alive\r\n") != 0 ||
		    (more != NULL && buf_puts(&extra, more) != 0)) {
			buf_free(&extra);
			return PARLEY_ENOMEM;
		}
		more = extra.data;
	}
	buf_reset(&sl->out);
	rc = http_write_head(&sl->out, x->status, x->content_type, x->body.len, keep, more);
	buf_free(&extra);
	if (rc != 0)
		return rc;
	iov[0].iov_base = sl->out.data;
	iov[0].iov_len = sl->out.len;
	iov[1].iov_base = x->body.data;
	iov[1].iov_len = body ? x->body.len : 0;
	rc = send_all(sl->fd, iov, 2, s->cfg.send_timeout_ms);
	if (x->body.cap > KEEP_BUF)
		buf_free(&x->body);
	return rc != 0 ? rc : keep;
}

/*
 * After a response: close, or drop the request's bytes and keep what
 * follows it. Returns 1 when bytes of a next request are already buffered
 * (the caller parses them), 0 when the slot was closed or handed back.
 */
static int
conn_after(struct slot *sl, int keep, int eof)
{
	const struct server *s = sl->srv;
	size_t used = sl->x.req.consumed;

	if (keep < 0) {
		conn_drop(sl);
		return 0;
	}
	if (keep == 0) {
		if (sl->rlen - sl->rpos > used)
			conn_linger(sl);
		else
			conn_drop(sl);
		return 0;
	}
	sl->rpos += used;
	if (sl->rpos == sl->rlen)
		sl->rpos = sl->rlen = 0;
	sl->continue_sent = 0;
	if (sl->rlen > 0) {
		sl->deadline = now_ms() + s->cfg.recv_timeout_ms;
		return 1;
	}
	if (eof) {
		conn_drop(sl);
		return 0;
	}
	sl->deadline = now_ms() + s->cfg.keepalive_timeout_ms;
	conn_wait(sl, SLOT_IDLE, 0);
	return 0;
}

/* Whether path is control traffic (server_config.control_paths). */
static int
is_control(const struct server *s, const char *path)
{
	const char *const *p;

	for (p = s->cfg.control_paths; p != NULL && *p != NULL; p++)
		if (path != NULL && strncmp(path, *p, strlen(*p)) == 0)
			return 1;
	return 0;
}

/*
 * Give the whole request in sl->x.req to the handler. Returns 1 when the
 * handler parked it: the slot then belongs to whoever calls server_finish.
 */
static int
conn_handle(struct worker *w, struct slot *sl, int eof)
{
	struct server *s = sl->srv;
	struct exchange *x = &sl->x;
	int rc;

	x->status = 200;
	x->content_type = NULL;
	x->extra_headers = NULL;
	buf_reset(&x->body);
	x->close = !x->req.keep_alive || eof;
	x->parked = NULL;
	if (!sl->control && is_control(s, x->req.path))
		sl->control = 1;
	atomic_fetch_add_explicit(&s->busy, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
	rc = s->hooks.handle(s->hooks.arg, w->state, x);
	if (rc == PARLEY_AGAIN)
		return 1;
	if (rc != 0) {
		x->status = 500;
		x->content_type = "text/plain";
		x->extra_headers = NULL;
		buf_reset(&x->body);
		buf_puts(&x->body, "internal error\n");
	}
	return 0;
}

/* A worker holds sl because bytes (or the end) arrived: read, parse, handle. */
static void
conn_run(struct worker *w, struct slot *sl)
{
	struct server *s = sl->srv;
	size_t had = sl->rlen - sl->rpos;
	int eof = 0, need_continue, status, rc, keep;
	const char *reason;

	if (conn_read(sl, s->rmax, &eof) != 0) {
		conn_drop(sl);
		return;
	}
	if (had == 0 && sl->rlen > sl->rpos)
		sl->deadline = now_ms() + s->cfg.recv_timeout_ms;   /* a request starts */
	for (;;) {
		if (sl->rlen == sl->rpos) {
			if (eof)
				conn_drop(sl);
			else
				conn_wait(sl, SLOT_IDLE, 0);
			return;
		}
		rc = http_parse(sl->rbuf + sl->rpos, sl->rlen - sl->rpos, &s->cfg.limits,
		    &sl->x.req, &need_continue, &status, &reason);
		if (rc == HTTP_INCOMPLETE) {
			if (eof) {
				conn_drop(sl);
			} else if (sl->rlen - sl->rpos + 1 >= s->rmax) {
				conn_reject(sl, 413, "request is larger than the read buffer");
			} else {
				if (need_continue && !sl->continue_sent) {
					static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

					/* Best effort: a client that gets no 100 sends the body anyway. */
					sl->continue_sent = 1;
					if (send(sl->fd, cont, sizeof cont - 1, MSG_NOSIGNAL) < 0)
						log_debug("100 Continue to %s not sent", sl->x.peer);
				}
				conn_wait(sl, SLOT_IDLE, 0);
			}
			return;
		}
		if (rc < 0) {
			log_debug("%s: %d %s", sl->x.peer, status, reason);
			conn_reject(sl, status, reason);
			return;
		}
		if (conn_handle(w, sl, eof))
			return;
		keep = conn_respond(sl);
		atomic_fetch_sub_explicit(&s->busy, 1, memory_order_relaxed);
		if (!conn_after(sl, keep, eof))
			return;
	}
}

static void
conn_event(struct worker *w, struct slot *sl, uint32_t gen)
{
	int st;

	pthread_mutex_lock(&sl->lock);
	st = atomic_load(&sl->state);
	if (sl->gen != gen || (st != SLOT_IDLE && st != SLOT_LINGER)) {
		pthread_mutex_unlock(&sl->lock);
		return;
	}
	atomic_store(&sl->state, SLOT_BUSY);
	pthread_mutex_unlock(&sl->lock);
	if (st == SLOT_LINGER)
		conn_drain(sl);
	else
		conn_run(w, sl);
}

/* Refuse fd at max_connections with a 503, without a slot. */
static void
refuse(struct server *s, int fd)
{
	char scratch[4096];
	int i;

	atomic_fetch_add_explicit(&s->refused, 1, memory_order_relaxed);
	if (send(fd, s->refuse_msg.data, s->refuse_msg.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("503 not sent");
	shutdown(fd, SHUT_WR);
	/* Reading what already came makes a reset (which may eat the 503) less likely. */
	for (i = 0; i < 16 && read(fd, scratch, sizeof scratch) > 0; i++)
		;
	close(fd);
}

/*
 * Out of descriptors: the listening socket stays readable and would wake
 * workers in a loop, so one spare descriptor is given up to accept the
 * connection and close it at once.
 */
static void
shed(struct server *s)
{
	int64_t now = now_ms(), last;
	int fd;

	pthread_mutex_lock(&s->free_lock);
	if (s->spare_fd >= 0) {
		close(s->spare_fd);
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			atomic_fetch_add_explicit(&s->refused, 1, memory_order_relaxed);
		}
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	pthread_mutex_unlock(&s->free_lock);
	last = atomic_load(&s->fd_warned);
	if (now - last >= 1000 && atomic_compare_exchange_strong(&s->fd_warned, &last, now))
		log_warnx("out of file descriptors: refusing connections");
}

static void
conn_open(struct server *s, struct slot *sl, int fd, const struct sockaddr_storage *ss)
{
	struct epoll_event ev;

	format_addr(ss, sl->x.peer, sizeof sl->x.peer);
	sl->rpos = sl->rlen = 0;
	sl->continue_sent = 0;
	/* A connection that never sends a byte gets recv_timeout, not keepalive_timeout. */
	sl->deadline = now_ms() + s->cfg.recv_timeout_ms;
	atomic_fetch_add_explicit(&s->open, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->accepted, 1, memory_order_relaxed);
	pthread_mutex_lock(&sl->lock);
	sl->fd = fd;
	sl->lane = 0;
	sl->control = 0;
	atomic_store(&sl->state, SLOT_IDLE);
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
	ev.data.u64 = ev_data(sl->index, sl->gen);
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		log_warn("epoll_ctl(ADD)");
		conn_close(sl);
	}
	pthread_mutex_unlock(&sl->lock);
}

static void
accept_some(struct server *s)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct slot *sl;
	int i, fd, one = 1;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		sslen = sizeof ss;
		fd = accept4(s->lfd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			switch (errno) {
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
			case ENETDOWN:
			case ENOPROTOOPT:
			case EHOSTDOWN:
			case ENONET:
			case EHOSTUNREACH:
			case ENETUNREACH:
				continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				shed(s);
				return;
			default:
				/* EAGAIN, or EINVAL once server_stop shut the socket down. */
				return;
			}
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		sl = slot_take(s);
		if (sl == NULL)
			refuse(s, fd);
		else
			conn_open(s, sl, fd, &ss);
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct server *s = w->srv;
	struct epoll_event ev;
	uint32_t idx;
	int n, ok = 1;

	if (s->hooks.worker_init != NULL) {
		w->state = s->hooks.worker_init(s->hooks.arg);
		ok = w->state != NULL;
	}
	pthread_mutex_lock(&s->init_lock);
	s->init_done++;
	if (!ok)
		s->init_failed = 1;
	pthread_cond_broadcast(&s->init_cond);
	pthread_mutex_unlock(&s->init_lock);
	if (!ok)
		return NULL;

	/*
	 * One event at a time: a worker that took several would make the
	 * others wait behind its handler while it is busy.
	 */
	while (!atomic_load(&s->stopping)) {
		n = epoll_wait(w->epfd, &ev, 1, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("epoll_wait");
			break;
		}
		if (n == 0)
			continue;
		idx = (uint32_t)ev.data.u64;
		if (idx == EV_LISTEN)
			accept_some(s);
		else if (idx < s->nslots)
			conn_event(w, &s->slots[idx], (uint32_t)(ev.data.u64 >> 32));
	}
	if (s->hooks.worker_fini != NULL)
		s->hooks.worker_fini(s->hooks.arg, w->state);
	return NULL;
}

/* Wake every worker out of epoll_wait: the eventfd stays readable and is level-triggered. */
static void
wake_all(struct server *s)
{
	uint64_t one = 1;

	atomic_store(&s->stopping, 1);
	if (s->wakefd >= 0 && write(s->wakefd, &one, sizeof one) < 0)
		log_warn("eventfd write");
}

static void
join_workers(struct server *s)
{
	unsigned i;

	for (i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i].tid, NULL);
	s->nworkers = 0;
}

/* Free everything; the workers are joined and no other thread uses s. */
static void
server_free(struct server *s)
{
	uint32_t i;

	for (i = 0; i < s->nslots; i++) {
		struct slot *sl = &s->slots[i];

		if (sl->fd >= 0)
			close(sl->fd);
		free(sl->rbuf);
		buf_free(&sl->out);
		buf_free(&sl->x.body);
		pthread_mutex_destroy(&sl->lock);
	}
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->cepfd >= 0)
		close(s->cepfd);
	if (s->wakefd >= 0)
		close(s->wakefd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	buf_free(&s->refuse_msg);
	buf_free(&s->timeout_msg);
	pthread_cond_destroy(&s->init_cond);
	pthread_mutex_destroy(&s->init_lock);
	pthread_mutex_destroy(&s->free_lock);
	free(s->workers);
	free(s->free_idx);
	free(s->slots);
	free(s);
}

static void
fill_defaults(struct server_config *c)
{
	if (c->workers == 0)
		c->workers = 8;
	if (c->max_connections == 0)
		c->max_connections = 1024;
	if (c->max_connections > EV_WAKE - 1)
		c->max_connections = EV_WAKE - 1;
	if (c->recv_timeout_ms == 0)
		c->recv_timeout_ms = 10000;
	if (c->send_timeout_ms == 0)
		c->send_timeout_ms = 10000;
	if (c->keepalive_timeout_ms == 0)
		c->keepalive_timeout_ms = 60000;
	if (c->limits.max_head == 0)
		c->limits.max_head = 16 * 1024;
	if (c->limits.max_body == 0)
		c->limits.max_body = 1024 * 1024;
	if (c->limits.max_fields == 0)
		c->limits.max_fields = 64;
	if (c->control_workers == 0)
		c->control_workers = 1;
}

/* The canned answers sent without a slot (503) or from the tick (408). */
static int
make_canned(struct buf *b, int status, const char *extra, const char *text)
{
	if (http_write_head(b, status, "text/plain", strlen(text), 0, extra) != 0 ||
	    buf_puts(b, text) != 0)
		return PARLEY_ENOMEM;
	return 0;
}

static int
open_listener(struct server *s, const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	int one = 1;

	if (parse_listen(spec, &ss, &sslen) != 0) {
		snprintf(err, errlen, "listen %s: not IPv4:PORT or [IPv6]:PORT", spec);
		return PARLEY_EINVAL;
	}
	s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0) {
		snprintf(err, errlen, "socket for %s: %s", spec, strerror(errno));
		return PARLEY_EIO;
	}
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(s->lfd, (struct sockaddr *)&ss, sslen) != 0) {
		snprintf(err, errlen, "bind %s: %s", spec, strerror(errno));
		return PARLEY_EIO;
	}
	if (listen(s->lfd, LISTEN_BACKLOG) != 0) {
		snprintf(err, errlen, "listen %s: %s", spec, strerror(errno));
		return PARLEY_EIO;
	}
	sslen = sizeof ss;
	if (getsockname(s->lfd, (struct sockaddr *)&ss, &sslen) != 0) {
		snprintf(err, errlen, "getsockname %s: %s", spec, strerror(errno));
		return PARLEY_EIO;
	}
	format_addr(&ss, s->address, sizeof s->address);
	return 0;
}

static int
start_workers(struct server *s, char *err, size_t errlen)
{
	sigset_t all, old;
	unsigned i;
	int rc = 0;

	unsigned total = s->cfg.workers + (s->cepfd >= 0 ? s->cfg.control_workers : 0);

	s->workers = calloc(total, sizeof *s->workers);
	if (s->workers == NULL) {
		snprintf(err, errlen, "out of memory");
		return PARLEY_ENOMEM;
	}
	/*
	 * Workers block asynchronous signals, so that the owner's handlers
	 * run on its own thread; faults stay deliverable where they happen.
	 */
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < total; i++) {
		s->workers[i].srv = s;
		s->workers[i].epfd = i < s->cfg.workers ? s->epfd : s->cepfd;
		if (pthread_create(&s->workers[i].tid, NULL, worker_main, &s->workers[i]) != 0) {
			snprintf(err, errlen, "cannot start worker thread %u: %s", i, strerror(errno));
			rc = PARLEY_EIO;
			break;
		}
		s->nworkers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	pthread_mutex_lock(&s->init_lock);
	while (s->init_done < s->nworkers)
		pthread_cond_wait(&s->init_cond, &s->init_lock);
	if (rc == 0 && s->init_failed) {
		snprintf(err, errlen, "worker_init failed in a worker thread");
		rc = PARLEY_EIO;
	}
	pthread_mutex_unlock(&s->init_lock);
	return rc;
}

int
server_start(struct server **out, const struct server_config *cfg,
    const struct server_hooks *hooks, char *err, size_t errlen)
{
	struct server *s = NULL;
	struct epoll_event ev;
	struct rlimit rl;
	char dummy[1];
	uint32_t i;
	int rc;

	*out = NULL;
	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = '\0';
	if (cfg == NULL || cfg->listen == NULL || hooks == NULL || hooks->handle == NULL) {
		snprintf(err, errlen, "no listen address or no handler");
		return PARLEY_EINVAL;
	}

	s = calloc(1, sizeof *s);
	if (s == NULL)
		goto nomem;
	s->lfd = s->epfd = s->wakefd = s->spare_fd = s->cepfd = -1;
	s->cfg = *cfg;
	s->cfg.listen = NULL;
	fill_defaults(&s->cfg);
	s->hooks = *hooks;
	s->rmax = s->cfg.limits.max_head + s->cfg.limits.max_body + 1;
	pthread_mutex_init(&s->free_lock, NULL);
	pthread_mutex_init(&s->init_lock, NULL);
	pthread_cond_init(&s->init_cond, NULL);

	s->slots = calloc(s->cfg.max_connections, sizeof *s->slots);
	s->free_idx = calloc(s->cfg.max_connections, sizeof *s->free_idx);
	if (s->slots == NULL || s->free_idx == NULL)
		goto nomem;
	s->nslots = s->cfg.max_connections;
	for (i = 0; i < s->nslots; i++) {
		struct slot *sl = &s->slots[i];

		pthread_mutex_init(&sl->lock, NULL);
		sl->srv = s;
		sl->index = i;
		sl->fd = -1;
		/* Lowest slots first, so a small load stays in a few warm slots. */
		s->free_idx[i] = s->nslots - 1 - i;
	}
	s->nfree = s->nslots;
	if (make_canned(&s->refuse_msg, 503, "Retry-After: 1\r\n",
	    "too many connections, try again later\n") != 0 ||
	    make_canned(&s->timeout_msg, 408, NULL, "request not received in time\n") != 0)
		goto nomem;

	rc = open_listener(s, cfg->listen, err, errlen);
	if (rc != 0)
		goto fail;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)s->nslots + 64)
		log_warnx("max_connections %u is close to the open file limit %llu",
		    s->nslots, (unsigned long long)rl.rlim_cur);

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (s->epfd < 0 || s->wakefd < 0) {
		snprintf(err, errlen, "epoll or eventfd: %s", strerror(errno));
		rc = PARLEY_EIO;
		goto fail;
	}
	ev.events = EPOLLIN;
	ev.data.u64 = EV_WAKE;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wakefd, &ev) != 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		rc = PARLEY_EIO;
		goto fail;
	}
	if (s->cfg.control_paths != NULL && s->cfg.control_paths[0] != NULL) {
		if ((s->cepfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
		    epoll_ctl(s->cepfd, EPOLL_CTL_ADD, s->wakefd, &ev) != 0) {
			snprintf(err, errlen, "epoll for the control lane: %s", strerror(errno));
			rc = PARLEY_EIO;
			goto fail;
		}
	}

	rc = start_workers(s, err, errlen);
	if (rc != 0)
		goto fail;

	/* Only now: no connection is accepted before every worker is ready. */
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.u64 = EV_LISTEN;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) != 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		rc = PARLEY_EIO;
		goto fail;
	}
	*out = s;
	return 0;

nomem:
	snprintf(err, errlen, "out of memory");
	rc = PARLEY_ENOMEM;
fail:
	if (s != NULL) {
		wake_all(s);
		join_workers(s);
		server_free(s);
	}
	return rc;
}

const char *
server_address(const struct server *s)
{
	return s->address;
}

void
server_finish(struct exchange *x)
{
	struct slot *sl = (struct slot *)(void *)((char *)x - offsetof(struct slot, x));
	struct server *s = sl->srv;

	/*
	 * No handler can run here (no worker state): bytes of a next request
	 * already buffered go back to epoll with EPOLLOUT, so a worker takes
	 * them at once.
	 */
	if (conn_after(sl, conn_respond(sl), 0))
		conn_wait(sl, SLOT_IDLE, 1);
	/* Last: server_stop may free s as soon as busy is 0. */
	atomic_fetch_sub(&s->busy, 1);
}

void
server_tick(struct server *s)
{
	int64_t now = now_ms();
	struct slot *sl;
	uint32_t i;
	int st;

	for (i = 0; i < s->nslots; i++) {
		sl = &s->slots[i];
		st = atomic_load_explicit(&sl->state, memory_order_relaxed);
		if (st != SLOT_IDLE && st != SLOT_LINGER)
			continue;
		pthread_mutex_lock(&sl->lock);
		st = atomic_load(&sl->state);
		if ((st == SLOT_IDLE || st == SLOT_LINGER) && now >= sl->deadline) {
			if (st == SLOT_IDLE && sl->rlen > sl->rpos) {
				/* A request started and did not finish: 408, then linger. */
				if (send(sl->fd, s->timeout_msg.data, s->timeout_msg.len,
				    MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
					log_debug("408 to %s not sent", sl->x.peer);
				atomic_fetch_add_explicit(&s->timeouts, 1, memory_order_relaxed);
				shutdown(sl->fd, SHUT_WR);
				sl->rpos = sl->rlen = 0;
				sl->lingered = 0;
				sl->deadline = now + linger_ms(s);
				atomic_store(&sl->state, SLOT_LINGER);
			} else {
				conn_close(sl);
			}
		}
		pthread_mutex_unlock(&sl->lock);
	}
}

void
server_get_stats(const struct server *s, struct server_stats *st)
{
	st->accepted = atomic_load_explicit(&s->accepted, memory_order_relaxed);
	st->requests = atomic_load_explicit(&s->requests, memory_order_relaxed);
	st->timeouts = atomic_load_explicit(&s->timeouts, memory_order_relaxed);
	st->refused = atomic_load_explicit(&s->refused, memory_order_relaxed);
	st->open = atomic_load_explicit(&s->open, memory_order_relaxed);
	st->busy = atomic_load_explicit(&s->busy, memory_order_relaxed);
}

void
server_stop(struct server *s, unsigned grace_ms)
{
	struct timespec pause = { 0, 2 * 1000 * 1000 };
	int64_t deadline;
	unsigned busy;

	if (s == NULL)
		return;
	/*
	 * Out of epoll, then shut down rather than closed: a worker may be in
	 * accept4 on it, and its number must not be reused under that worker.
	 * New clients are refused by the kernel from here on.
	 */
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
	shutdown(s->lfd, SHUT_RDWR);
	wake_all(s);

	deadline = now_ms() + grace_ms;
	while ((busy = atomic_load(&s->busy)) > 0 && now_ms() < deadline)
		nanosleep(&pause, NULL);
	if (busy > 0)
		log_warnx("server stopping with %u exchanges unfinished after %u ms", busy, grace_ms);
	join_workers(s);
	server_free(s);
}
