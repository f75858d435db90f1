/*
 * router.c - relays a request to the node that owns its conversation
 * (router.h). Idle keep-alive connections are kept per owner address in a
 * small stack; each exchange writes one request and reads one HTTP/1.x
 * answer (Content-Length, chunked or up to EOF) within a deadline.
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mono.h"
#include "parley.h"
#include "router.h"

#define DEFAULT_CONNECT_TIMEOUT_MS  1000
#define DEFAULT_TIMEOUT_MS          30000
#define DEFAULT_MAX_IDLE            16
#define DEFAULT_MAX_ANSWER          ((size_t)16 << 20)
#define MAX_HEAD                    (16 * 1024)  /* status line and header fields */
#define MAX_CHUNK_LINE              1024         /* a chunk-size line with its extensions */
#define EOF_READ                    (64 * 1024)  /* room made per read of a body without length */
#define HOST_MAX                    254          /* a DNS name (253) or an IPv6 literal, with NUL */
#define AUTHORITY_MAX               (HOST_MAX + 8)  /* "[" HOST "]:" PORT, with NUL */

/* Internal results beside 0 and the negative PARLEY_E* codes. */
#define GOT_EOF  1      /* the owner closed its side after some of the answer */
#define DROPPED  2      /* closed or reset before any byte of the answer */

/* An owner address taken apart. */
struct target {
	char host[HOST_MAX];            /* name, IPv4, or IPv6 without brackets */
	char port[6];
	char authority[AUTHORITY_MAX];  /* HOST:PORT as written: the Host header and the pool key */
};

/* The idle connections to one address: a stack, the newest on top. */
struct pool {
	struct pool *next;
	char key[AUTHORITY_MAX];
	unsigned n;
	int fds[];                      /* max_idle slots */
};

struct router {
	struct router_config cfg;
	pthread_mutex_t lock;           /* guards pools and idle */
	struct pool *pools;
	unsigned idle;
	_Atomic uint64_t forwarded;
	_Atomic uint64_t connects;
	_Atomic uint64_t reused;
	_Atomic uint64_t failed;
};

/* One connection's incoming bytes during one exchange. */
struct reader {
	int fd;
	int64_t deadline;
	const char *who;                /* the authority, for log lines */
	int got_any;                    /* a byte of the answer has arrived */
	size_t pos;                     /* next unconsumed byte in buf */
	size_t len;
	char buf[MAX_HEAD];
};

/* What an answer's head says; spans are offsets into the head. */
struct answer {
	int minor;
	int status;
	int have_cl;
	uint64_t cl;
	int have_te, chunked, te_other;
	int conn_close, conn_keep_alive;
	size_t ct_off, ct_len;
	int have_ct;
	size_t moved_off, moved_len;
	int have_moved;
};

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Compare n bytes at p with the string s ignoring ASCII case, without the locale. */
static int
case_eq(const char *p, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '\0' || lower((unsigned char)p[i]) != lower((unsigned char)s[i]))
			return 0;
	return s[n] == '\0';
}

/* RFC 7230 tchar: the bytes of a token (field name, coding). */
static int
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A byte allowed in a field value: visible ASCII, obs-text, space or tab. */
static int
is_value_byte(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* A byte sent as itself in a request path (RFC 3986 pchar and '/'), the rest is %XX. */
static int
is_path_byte(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

/* A byte of a host name or IPv4 address as we accept them. */
static int
is_host_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '.' || c == '_';
}

/* "http://HOST[:PORT]", HOST a name, IPv4 or [IPv6]; nothing may follow. */
static int
parse_address(const char *address, struct target *t)
{
	struct in6_addr a6;
	const char *p, *h, *q;
	size_t hl;
	unsigned long port = 80;

	if (address == NULL || !case_eq(address, 7, "http://"))
		return PARLEY_EINVAL;
	p = address + 7;
	if (*p == '[') {
		h = p + 1;
		q = strchr(h, ']');
		if (q == NULL)
			return PARLEY_EINVAL;
		hl = (size_t)(q - h);
		if (hl == 0 || hl >= sizeof t->host)
			return PARLEY_EINVAL;
		memcpy(t->host, h, hl);
		t->host[hl] = '\0';
		if (inet_pton(AF_INET6, t->host, &a6) != 1)
			return PARLEY_EINVAL;
		q++;
	} else {
		for (q = p; is_host_byte((unsigned char)*q); q++)
			;
		hl = (size_t)(q - p);
		if (hl == 0 || hl >= sizeof t->host)
			return PARLEY_EINVAL;
		memcpy(t->host, p, hl);
		t->host[hl] = '\0';
	}
	if (*q == ':') {
		const char *d = ++q;

		port = 0;
		for (; is_digit(*q) && q - d < 5; q++)
			port = port * 10 + (unsigned long)(*q - '0');
		if (q == d || *q != '\0' || port == 0 || port > 65535)
			return PARLEY_EINVAL;
	} else if (*q != '\0') {
		return PARLEY_EINVAL;
	}
	snprintf(t->port, sizeof t->port, "%lu", port);
	if (strlen(p) >= sizeof t->authority)
		return PARLEY_EINVAL;
	strcpy(t->authority, p);
	return 0;
}

/* ---- the pool ----------------------------------------------------------- */

/* The pool of key, or NULL; r->lock is held. */
static struct pool *
find_pool(struct router *r, const char *key)
{
	struct pool *p;

	for (p = r->pools; p != NULL; p = p->next)
		if (strcmp(p->key, key) == 0)
			return p;
	return NULL;
}

/*
 * A connection that became readable while idle holds an EOF, a reset or
 * bytes nobody asked for: none of them can carry our next answer.
 */
static int
still_open(int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	return poll(&pfd, 1, 0) == 0;
}

/* Take an idle connection to key that still looks open, or return -1. */
static int
take_idle(struct router *r, const char *key)
{
	struct pool *p;
	int fd;

	for (;;) {
		fd = -1;
		pthread_mutex_lock(&r->lock);
		p = find_pool(r, key);
		if (p != NULL && p->n > 0) {
			fd = p->fds[--p->n];
			r->idle--;
		}
		pthread_mutex_unlock(&r->lock);
		if (fd < 0 || still_open(fd))
			return fd;
		close(fd);
	}
}

/* Keep fd as an idle connection to key; the oldest goes when the pool is full. */
static void
put_idle(struct router *r, const char *key, int fd)
{
	struct pool *p;
	int drop = -1;

	pthread_mutex_lock(&r->lock);
	p = find_pool(r, key);
	if (p == NULL) {
		p = calloc(1, sizeof *p + r->cfg.max_idle * sizeof p->fds[0]);
		if (p == NULL) {
			drop = fd;
			goto out;
		}
		strcpy(p->key, key);
		p->next = r->pools;
		r->pools = p;
	}
	if (p->n == r->cfg.max_idle) {
		/* The oldest is the likeliest to reach the owner's keep-alive timeout. */
		drop = p->fds[0];
		memmove(p->fds, p->fds + 1, (p->n - 1) * sizeof p->fds[0]);
		p->n--;
		r->idle--;
	}
	p->fds[p->n++] = fd;
	r->idle++;
out:
	pthread_mutex_unlock(&r->lock);
	if (drop >= 0)
		close(drop);
}

/* ---- connecting and sending ---------------------------------------------- */

static void
log_connect_failure(const struct target *t, const struct addrinfo *ai, const char *why)
{
	char ip[INET6_ADDRSTRLEN];

	if (!log_enabled(LOG_LEVEL_DEBUG))
		return;
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, ip, sizeof ip, NULL, 0, NI_NUMERICHOST) != 0)
		strcpy(ip, "?");
	log_debug("router: cannot connect to %s (%s): %s", t->authority, ip, why);
}

/* Connect to one resolved address, without blocking past deadline. */
static int
connect_one(const struct target *t, const struct addrinfo *ai, int64_t deadline, int *fdp)
{
	socklen_t sl;
	int fd, err = 0, one = 1, rc;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		err = errno;
		log_connect_failure(t, ai, strerror(err));
		return err == ENOMEM || err == ENOBUFS ? PARLEY_ENOMEM : PARLEY_EIO;
	}
	/* Requests and answers are single writes: Nagle would only delay them. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	/* A non-blocking connect interrupted by a signal goes on in the background. */
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
	    errno != EINPROGRESS && errno != EINTR) {
		err = errno;
		goto fail;
	}
	rc = mono_poll(fd, POLLOUT, deadline);
	if (rc != 0) {
		log_connect_failure(t, ai, rc == PARLEY_ETIMEDOUT ? "timed out" : "poll failed");
		close(fd);
		return rc;
	}
	sl = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0)
		err = errno;
	/*
	 * A reset is not a failed connect (that is ECONNREFUSED): the owner
	 * accepted, and may have answered before it closed (parleyd's 503 at
	 * max_connections). The exchange reads what is there.
	 */
	if (err != 0 && err != ECONNRESET)
		goto fail;
	*fdp = fd;
	return 0;

fail:
	log_connect_failure(t, ai, strerror(err));
	close(fd);
	return PARLEY_EIO;
}

/* Open a new connection to t, trying each of its addresses within connect_timeout_ms. */
static int
dial(const struct router *r, const struct target *t, int *fdp)
{
	struct addrinfo hints, *res = NULL, *ai;
	int64_t deadline;
	int rc, gai;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	/* Not cached: owners are few and their connections are reused. */
	gai = getaddrinfo(t->host, t->port, &hints, &res);
	if (gai != 0) {
		log_debug("router: cannot resolve %s: %s", t->host,
		    gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return gai == EAI_MEMORY ? PARLEY_ENOMEM : PARLEY_EIO;
	}
	deadline = mono_ms() + r->cfg.connect_timeout_ms;
	rc = PARLEY_EIO;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		rc = connect_one(t, ai, deadline, fdp);
		if (rc == 0 || rc == PARLEY_ETIMEDOUT || rc == PARLEY_ENOMEM)
			break;
	}
	freeaddrinfo(res);
	return rc;
}

/* Append the request head for f to out. */
static int
write_head(struct buf *out, const struct target *t, const struct forward *f)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *ct = f->content_type != NULL ? f->content_type : "text/xml; charset=utf-8";
	const char *s;
	int rc;

	rc = buf_puts(out, "POST ");
	for (s = f->path; rc == 0 && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[3] = { '%', hex[c >> 4], hex[c & 15] };

		/* f->path is decoded, as the server's parser gives it: encode it again. */
		rc = is_path_byte(c) ? buf_append(out, s, 1) : buf_append(out, esc, 3);
	}
	if (rc == 0)
		rc = buf_printf(out, " HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n",
		    t->authority, ct);
	if (rc == 0 && f->soap_action != NULL)
		rc = buf_printf(out, "SOAPAction: \"%s\"\r\n", f->soap_action);
	if (rc == 0 && f->via != NULL)
		rc = buf_printf(out, ROUTER_VIA_HEADER ": %s\r\n", f->via);
	if (rc == 0)
		rc = buf_printf(out, "Content-Length: %zu\r\n\r\n", f->body_len);
	return rc;
}

/* A header value we are given must not end the line or the head it goes in. */
static int
valid_value(const char *s)
{
	if (s == NULL)
		return 1;
	for (; *s != '\0'; s++)
		if (!is_value_byte((unsigned char)*s))
			return 0;
	return 1;
}

/* Send the head and the body, as one write when the socket takes it. */
static int
send_request(int fd, const struct buf *head, const struct forward *f, int64_t deadline,
    const char *who)
{
	struct iovec iov[2], *v = iov;
	struct msghdr msg;
	ssize_t n;
	int cnt = 1, rc;

	iov[0].iov_base = head->data;
	iov[0].iov_len = head->len;
	if (f->body_len > 0) {
		iov[1].iov_base = (void *)f->body;
		iov[1].iov_len = f->body_len;
		cnt = 2;
	}
	while (cnt > 0) {
		memset(&msg, 0, sizeof msg);
		msg.msg_iov = v;
		msg.msg_iovlen = (size_t)cnt;
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				rc = mono_poll(fd, POLLOUT, deadline);
				if (rc != 0)
					return rc;
				continue;
			}
			/* Nothing of the answer can have come yet: the owner closed first. */
			if (errno == EPIPE || errno == ECONNRESET)
				return DROPPED;
			log_debug("router: sending to %s: %s", who, strerror(errno));
			return PARLEY_EIO;
		}
		while (cnt > 0 && (size_t)n >= v->iov_len) {
			n -= (ssize_t)v->iov_len;
			v++;
			cnt--;
		}
		if (cnt > 0) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* ---- reading the answer -------------------------------------------------- */

/*
 * Read up to cap bytes into p: 0 with *got > 0, GOT_EOF, DROPPED (EOF or
 * reset before any byte of the answer), PARLEY_ETIMEDOUT or PARLEY_EIO.
 */
static int
recv_some(struct reader *rd, void *p, size_t cap, size_t *got)
{
	ssize_t n;
	int rc;

	for (;;) {
		n = recv(rd->fd, p, cap, 0);
		if (n > 0) {
			rd->got_any = 1;
			*got = (size_t)n;
			return 0;
		}
		if (n == 0)
			return rd->got_any ? GOT_EOF : DROPPED;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			rc = mono_poll(rd->fd, POLLIN, rd->deadline);
			if (rc != 0)
				return rc;
			continue;
		}
		if (errno == ECONNRESET && !rd->got_any)
			return DROPPED;
		log_debug("router: reading from %s: %s", rd->who, strerror(errno));
		return PARLEY_EIO;
	}
}

/*
 * Read more bytes into the reader's buffer, moving the unread ones to its
 * start first. An EOF in the middle of the answer is PARLEY_EIO; the buffer
 * must not be full.
 */
static int
fill(struct reader *rd)
{
	size_t got;
	int rc;

	if (rd->pos > 0) {
		memmove(rd->buf, rd->buf + rd->pos, rd->len - rd->pos);
		rd->len -= rd->pos;
		rd->pos = 0;
	}
	assert(rd->len < sizeof rd->buf);
	rc = recv_some(rd, rd->buf + rd->len, sizeof rd->buf - rd->len, &got);
	if (rc == GOT_EOF) {
		log_debug("router: %s closed the connection in the middle of an answer", rd->who);
		return PARLEY_EIO;
	}
	if (rc != 0)
		return rc;
	rd->len += got;
	return 0;
}

/* Bytes up to and including the empty line that ends a head at p, or 0. */
static size_t
head_end(const char *p, size_t n)
{
	const char *lf;
	size_t i = 0;

	while ((lf = memchr(p + i, '\n', n - i)) != NULL) {
		i = (size_t)(lf - p) + 1;
		if (i < n && p[i] == '\n')
			return i + 1;
		if (i + 1 < n && p[i] == '\r' && p[i + 1] == '\n')
			return i + 2;
	}
	return 0;
}

static int
bad_answer(const char *who, const char *why)
{
	log_debug("router: the answer from %s is not HTTP we take: %s", who, why);
	return PARLEY_EIO;
}

/* "HTTP/1.x NNN[ reason]", without its line ending. */
static int
parse_status_line(const char *p, size_t n, struct answer *a, const char *who)
{
	size_t i;

	if (n < 12 || memcmp(p, "HTTP/", 5) != 0 || !is_digit(p[5]) || p[6] != '.' ||
	    !is_digit(p[7]) || p[8] != ' ' || !is_digit(p[9]) || !is_digit(p[10]) ||
	    !is_digit(p[11]) || (n > 12 && p[12] != ' '))
		return bad_answer(who, "malformed status line");
	if (p[5] != '1')
		return bad_answer(who, "not HTTP/1.x");
	a->minor = p[7] - '0';
	a->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (a->status < 100 || a->status > 599)
		return bad_answer(who, "status out of range");
	for (i = 12; i < n; i++)
		if (!is_value_byte((unsigned char)p[i]))
			return bad_answer(who, "invalid byte in the reason phrase");
	return 0;
}

static int
field_content_length(const char *v, size_t n, struct answer *a, const char *who)
{
	uint64_t cl = 0;
	size_t i;

	if (n == 0)
		return bad_answer(who, "empty Content-Length");
	for (i = 0; i < n; i++) {
		unsigned d;

		if (!is_digit(v[i]))
			return bad_answer(who, "invalid Content-Length");
		d = (unsigned)(v[i] - '0');
		if (cl > (UINT64_MAX - d) / 10)
			return bad_answer(who, "invalid Content-Length");
		cl = cl * 10 + d;
	}
	if (a->have_cl && a->cl != cl)
		return bad_answer(who, "conflicting Content-Length fields");
	a->have_cl = 1;
	a->cl = cl;
	return 0;
}

/*
 * Walk the comma-separated tokens of a value and call each(token, len, a).
 * Used for Transfer-Encoding and Connection.
 */
static void
tokens(const char *v, size_t n, struct answer *a,
    void (*each)(const char *, size_t, struct answer *))
{
	size_t i = 0, s, e;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e > s)
			each(v + s, e - s, a);
	}
}

static void
te_token(const char *t, size_t n, struct answer *a)
{
	/* chunked must be the last coding, and the only one we can undo. */
	if (a->chunked)
		a->te_other = 1;
	if (case_eq(t, n, "chunked"))
		a->chunked = 1;
	else
		a->te_other = 1;
	a->have_te = 1;
}

static void
connection_token(const char *t, size_t n, struct answer *a)
{
	if (case_eq(t, n, "close"))
		a->conn_close = 1;
	else if (case_eq(t, n, "keep-alive"))
		a->conn_keep_alive = 1;
}

/* One header field line p[0, n), without its line ending; off is p's offset in the head. */
static int
parse_field(const char *p, size_t n, size_t off, struct answer *a, const char *who)
{
	size_t i, v, ve, nl;

	for (i = 0; i < n && is_tchar((unsigned char)p[i]); i++)
		;
	if (i == 0 || i == n || p[i] != ':')
		return bad_answer(who, "malformed header field");
	nl = i;
	for (v = i + 1; v < n && (p[v] == ' ' || p[v] == '\t'); v++)
		;
	for (ve = n; ve > v && (p[ve - 1] == ' ' || p[ve - 1] == '\t'); ve--)
		;
	for (i = v; i < ve; i++)
		if (!is_value_byte((unsigned char)p[i]))
			return bad_answer(who, "invalid byte in a header field value");

	if (case_eq(p, nl, "content-length"))
		return field_content_length(p + v, ve - v, a, who);
	if (case_eq(p, nl, "transfer-encoding")) {
		if (ve == v)
			return bad_answer(who, "empty Transfer-Encoding");
		tokens(p + v, ve - v, a, te_token);
	} else if (case_eq(p, nl, "connection")) {
		tokens(p + v, ve - v, a, connection_token);
	} else if (case_eq(p, nl, "content-type") && !a->have_ct) {
		a->have_ct = 1;
		a->ct_off = off + v;
		a->ct_len = ve - v;
	} else if (case_eq(p, nl, ROUTER_MOVED_HEADER) && !a->have_moved) {
		a->have_moved = 1;
		a->moved_off = off + v;
		a->moved_len = ve - v;
	}
	return 0;
}

/* The head h[0, n), which ends with its empty line. */
static int
parse_head(const char *h, size_t n, struct answer *a, const char *who)
{
	const char *lf;
	size_t pos = 0, end, cend;
	int rc, first = 1;

	memset(a, 0, sizeof *a);
	for (;;) {
		lf = memchr(h + pos, '\n', n - pos);
		assert(lf != NULL);     /* head_end found the empty line */
		end = (size_t)(lf - h);
		cend = end > pos && h[end - 1] == '\r' ? end - 1 : end;
		if (first) {
			rc = parse_status_line(h + pos, cend - pos, a, who);
			first = 0;
		} else if (cend == pos) {
			break;
		} else if (h[pos] == ' ' || h[pos] == '\t') {
			rc = bad_answer(who, "folded header field (obs-fold)");
		} else {
			rc = parse_field(h + pos, cend - pos, pos, a, who);
		}
		if (rc != 0)
			return rc;
		pos = end + 1;
	}
	if (a->have_te) {
		/* Both framings at once is how answers are smuggled: take neither. */
		if (a->have_cl)
			return bad_answer(who, "both Content-Length and Transfer-Encoding");
		if (a->minor == 0)
			return bad_answer(who, "Transfer-Encoding in HTTP/1.0");
		if (a->te_other || !a->chunked)
			return bad_answer(who, "a transfer coding other than chunked");
	}
	return 0;
}

/* Read and parse the next head; its bytes are consumed, *h points at them. */
static int
read_head(struct reader *rd, struct answer *a, const char **h)
{
	size_t n;
	int rc;

	for (;;) {
		n = head_end(rd->buf + rd->pos, rd->len - rd->pos);
		if (n > 0)
			break;
		if (rd->pos == 0 && rd->len == sizeof rd->buf) {
			log_debug("router: the answer head from %s is over %d bytes", rd->who,
			    MAX_HEAD);
			return PARLEY_ELIMIT;
		}
		rc = fill(rd);
		if (rc != 0)
			return rc;
	}
	*h = rd->buf + rd->pos;
	rd->pos += n;
	return parse_head(*h, n, a, rd->who);
}

/*
 * Copy a Content-Type into out. One too long for it loses whole parameters
 * from the end rather than being cut inside one; PARLEY_EIO when even the
 * media type does not fit.
 */
static int
copy_content_type(char *out, size_t size, const char *v, size_t n, const char *who)
{
	if (n >= size) {
		while (n > 0 && (n >= size || v[n] != ';'))
			n--;
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n == 0)
			return bad_answer(who, "Content-Type too long");
		log_debug("router: the Content-Type from %s was shortened to %zu bytes", who, n);
	}
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

/*
 * Move n more bytes of body into out: the buffered ones first, then straight
 * from the socket. The caller checked n against max_answer.
 */
static int
read_exact(struct reader *rd, struct buf *out, size_t n)
{
	size_t take, got;
	int rc;

	if (buf_reserve(out, n) != 0)
		return PARLEY_ENOMEM;
	take = rd->len - rd->pos < n ? rd->len - rd->pos : n;
	memcpy(out->data + out->len, rd->buf + rd->pos, take);
	rd->pos += take;
	out->len += take;
	n -= take;
	while (n > 0) {
		rc = recv_some(rd, out->data + out->len, n, &got);
		if (rc == GOT_EOF) {
			log_debug("router: %s closed the connection in the middle of a body",
			    rd->who);
			rc = PARLEY_EIO;
		}
		if (rc != 0)
			goto out;
		out->len += got;
		n -= got;
	}
	rc = 0;
out:
	out->data[out->len] = '\0';
	return rc;
}

/*
 * The next line, up to max bytes, without its line ending: at *off in
 * rd->buf, valid until the next read.
 */
static int
read_line(struct reader *rd, size_t max, size_t *off, size_t *n)
{
	const char *lf;
	size_t end;
	int rc;

	for (;;) {
		lf = memchr(rd->buf + rd->pos, '\n', rd->len - rd->pos);
		if (lf != NULL)
			break;
		if (rd->len - rd->pos >= max)
			return bad_answer(rd->who, "chunk-size or trailer line too long");
		rc = fill(rd);
		if (rc != 0)
			return rc;
	}
	end = (size_t)(lf - rd->buf);
	*off = rd->pos;
	*n = (end > rd->pos && rd->buf[end - 1] == '\r' ? end - 1 : end) - rd->pos;
	rd->pos = end + 1;
	return 0;
}

/* A chunked body, de-chunked into out; trailer fields are read and dropped. */
static int
read_chunked(struct reader *rd, struct buf *out, size_t max)
{
	size_t off, n, i, size, trailer = 0;
	int rc, d;

	for (;;) {
		rc = read_line(rd, MAX_CHUNK_LINE, &off, &n);
		if (rc != 0)
			return rc;
		size = 0;
		for (i = 0; i < n && (d = hexval((unsigned char)rd->buf[off + i])) >= 0; i++) {
			size = size * 16 + (size_t)d;
			/* Checked digit by digit, so size can neither overflow nor pass max. */
			if (size > max - out->len) {
				log_debug("router: the answer from %s is over %zu bytes", rd->who,
				    max);
				return PARLEY_ELIMIT;
			}
		}
		if (i == 0 || (i < n && rd->buf[off + i] != ';' && rd->buf[off + i] != ' ' &&
		    rd->buf[off + i] != '\t'))
			return bad_answer(rd->who, "malformed chunk size");
		for (; i < n; i++)
			if (!is_value_byte((unsigned char)rd->buf[off + i]))
				return bad_answer(rd->who, "invalid byte in a chunk extension");
		if (size == 0)
			break;
		rc = read_exact(rd, out, size);
		if (rc == 0)
			rc = read_line(rd, MAX_CHUNK_LINE, &off, &n);
		if (rc != 0)
			return rc;
		if (n != 0)
			return bad_answer(rd->who, "chunk data longer than its size");
	}
	for (;;) {
		rc = read_line(rd, MAX_HEAD, &off, &n);
		if (rc != 0)
			return rc;
		if (n == 0)
			return 0;
		trailer += n;
		if (trailer > MAX_HEAD)
			return bad_answer(rd->who, "trailer fields too long");
	}
}

/* A body without length: everything up to the owner's EOF, at most max bytes. */
static int
read_to_eof(struct reader *rd, struct buf *out, size_t max)
{
	size_t got, room;
	int rc;

	if (rd->len - rd->pos > max)
		goto over;
	if (buf_append(out, rd->buf + rd->pos, rd->len - rd->pos) != 0)
		return PARLEY_ENOMEM;
	rd->pos = rd->len;
	for (;;) {
		/* One byte more than max may come in, and tells that max was passed. */
		room = max - out->len < EOF_READ ? max - out->len + 1 : EOF_READ;
		if (buf_reserve(out, room) != 0)
			return PARLEY_ENOMEM;
		rc = recv_some(rd, out->data + out->len, room, &got);
		if (rc == GOT_EOF)
			return 0;
		if (rc != 0)
			return rc;
		out->len += got;
		out->data[out->len] = '\0';
		if (out->len > max)
			goto over;
	}
over:
	log_debug("router: the answer from %s is over %zu bytes", rd->who, max);
	return PARLEY_ELIMIT;
}

/*
 * Read the answer into f. *keep is set when the connection can carry
 * another exchange afterwards.
 */
static int
read_answer(struct reader *rd, struct forward *f, size_t max, int *keep)
{
	struct answer a;
	const char *h;
	int rc;

	*keep = 0;
	for (;;) {
		rc = read_head(rd, &a, &h);
		if (rc != 0)
			return rc;
		/* 101 would switch protocols, which we never asked for. */
		if (a.status == 101)
			return bad_answer(rd->who, "101 Switching Protocols");
		if (a.status >= 200)
			break;
		/* 100 Continue and other interim answers precede the real one. */
	}
	f->status = a.status;
	if (a.have_ct) {
		rc = copy_content_type(f->content_type_out, sizeof f->content_type_out,
		    h + a.ct_off, a.ct_len, rd->who);
		if (rc != 0)
			return rc;
	}
	if (a.have_moved) {
		/* An address longer than the field is not one we could use anyway. */
		size_t n = a.moved_len < sizeof f->moved ? a.moved_len : sizeof f->moved - 1;

		memcpy(f->moved, h + a.moved_off, n);
		f->moved[n] = '\0';
	}

	if (a.status == 204 || a.status == 304) {
		rc = 0;
	} else if (a.chunked) {
		rc = read_chunked(rd, f->out, max);
	} else if (a.have_cl) {
		if (a.cl > max) {
			log_debug("router: the answer from %s is over %zu bytes", rd->who, max);
			return PARLEY_ELIMIT;
		}
		rc = read_exact(rd, f->out, (size_t)a.cl);
	} else {
		return read_to_eof(rd, f->out, max);
	}
	if (rc != 0)
		return rc;
	/* Bytes after the answer were never asked for: the connection is not trusted again. */
	*keep = rd->pos == rd->len && !a.conn_close && (a.minor >= 1 || a.conn_keep_alive);
	return 0;
}

/* One try: send the request on fd and read the answer. */
static int
exchange(struct router *r, int fd, const struct buf *head, struct forward *f,
    int64_t deadline, const char *who, int *keep)
{
	struct reader rd;
	int rc, sent;

	buf_reset(f->out);
	f->status = 0;
	f->content_type_out[0] = '\0';
	f->moved[0] = '\0';
	sent = send_request(fd, head, f, deadline, who);
	if (sent != 0 && sent != DROPPED)
		return sent;
	/*
	 * An owner that closed as we sent may have answered first (parleyd
	 * sends 503 to a connection over max_connections and closes it): read
	 * what is there. Nothing there is DROPPED again.
	 */
	rd.fd = fd;
	rd.deadline = deadline;
	rd.who = who;
	rd.got_any = 0;
	rd.pos = rd.len = 0;
	rc = read_answer(&rd, f, r->cfg.max_answer, keep);
	if (sent != 0)
		*keep = 0;
	return rc;
}

/* ---- the interface ------------------------------------------------------- */

int
router_create(struct router **out, const struct router_config *cfg)
{
	struct router *r;

	*out = NULL;
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return PARLEY_ENOMEM;
	if (cfg != NULL)
		r->cfg = *cfg;
	if (r->cfg.connect_timeout_ms == 0)
		r->cfg.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	if (r->cfg.timeout_ms == 0)
		r->cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (r->cfg.max_idle == 0)
		r->cfg.max_idle = DEFAULT_MAX_IDLE;
	if (r->cfg.max_answer == 0)
		r->cfg.max_answer = DEFAULT_MAX_ANSWER;
	if (pthread_mutex_init(&r->lock, NULL) != 0) {
		free(r);
		return PARLEY_ENOMEM;
	}
	atomic_init(&r->forwarded, 0);
	atomic_init(&r->connects, 0);
	atomic_init(&r->reused, 0);
	atomic_init(&r->failed, 0);
	*out = r;
	return 0;
}

static void
free_pool(struct pool *p)
{
	unsigned i;

	for (i = 0; i < p->n; i++)
		close(p->fds[i]);
	free(p);
}

void
router_destroy(struct router *r)
{
	struct pool *p, *next;

	if (r == NULL)
		return;
	for (p = r->pools; p != NULL; p = next) {
		next = p->next;
		free_pool(p);
	}
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int
router_forward(struct router *r, struct forward *f)
{
	struct target t;
	struct buf head = BUF_INIT;
	int64_t deadline = 0;
	int fd = -1, reused, keep = 0, rc, attempt;

	assert(f->out != NULL);
	rc = parse_address(f->address, &t);
	if (rc == 0 && (f->path == NULL || f->path[0] != '/' || !valid_value(f->content_type) ||
	    !valid_value(f->soap_action) || !valid_value(f->via) ||
	    (f->body == NULL && f->body_len > 0)))
		rc = PARLEY_EINVAL;
	if (rc == 0)
		rc = write_head(&head, &t, f);
	if (rc != 0) {
		buf_reset(f->out);
		goto fail;
	}

	for (attempt = 0; attempt < 2; attempt++) {
		fd = attempt == 0 ? take_idle(r, t.authority) : -1;
		reused = fd >= 0;
		if (reused) {
			atomic_fetch_add(&r->reused, 1);
		} else {
			rc = dial(r, &t, &fd);
			if (rc != 0)
				goto fail;
			atomic_fetch_add(&r->connects, 1);
		}
		/* One deadline for the exchange, a retry included. */
		if (deadline == 0)
			deadline = mono_ms() + r->cfg.timeout_ms;
		rc = exchange(r, fd, &head, f, deadline, t.authority, &keep);
		if (rc != DROPPED || !reused)
			break;
		/*
		 * The owner closed this idle connection as we took it, so it
		 * has not read the request: sending it again runs it once.
		 */
		log_debug("router: %s closed a pooled connection; trying a new one", t.authority);
		close(fd);
		fd = -1;
	}
	if (rc == DROPPED) {
		log_debug("router: %s closed the connection without answering", t.authority);
		rc = PARLEY_EIO;
	} else if (rc == PARLEY_ETIMEDOUT) {
		log_debug("router: no answer from %s within %u ms", t.authority, r->cfg.timeout_ms);
	}
	if (rc != 0)
		goto fail;
	if (keep)
		put_idle(r, t.authority, fd);
	else
		close(fd);
	buf_free(&head);
	atomic_fetch_add(&r->forwarded, 1);
	return 0;

fail:
	if (fd >= 0)
		close(fd);
	buf_free(&head);
	atomic_fetch_add(&r->failed, 1);
	return rc;
}

void
router_forget(struct router *r, const char *address)
{
	struct target t;
	struct pool **pp, *p = NULL;

	if (parse_address(address, &t) != 0)
		return;
	pthread_mutex_lock(&r->lock);
	for (pp = &r->pools; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->key, t.authority) == 0) {
			p = *pp;
			*pp = p->next;
			r->idle -= p->n;
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
	if (p != NULL)
		free_pool(p);
}

void
router_get_stats(struct router *r, struct router_stats *st)
{
	st->forwarded = atomic_load(&r->forwarded);
	st->connects = atomic_load(&r->connects);
	st->reused = atomic_load(&r->reused);
	st->failed = atomic_load(&r->failed);
	pthread_mutex_lock(&r->lock);
	st->idle = r->idle;
	pthread_mutex_unlock(&r->lock);
}
