/*
 * poster.c - one HTTP/1.1 POST with a time limit (poster.h). Non-blocking
 * sockets and poll(2) against one deadline, so no step can wait longer than
 * what is left of it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "mono.h"
#include "parley.h"
#include "poster.h"

#define HEAD_MAX 16384                 /* the answer's status line and headers */

int
poster_parse(const char *url, struct poster_url *u)
{
	const char *p, *host, *end, *colon = NULL;
	size_t n;
	unsigned long port = 80;
	char *e;

	memset(u, 0, sizeof *u);
	if (strncmp(url, "http://", 7) != 0)
		return PARLEY_EINVAL;
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return PARLEY_EINVAL;
	host = url + 7;
	end = host + strcspn(host, "/?#");
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));

		if (close == NULL)
			return PARLEY_EINVAL;
		n = (size_t)(close - host - 1);
		if (n == 0 || n >= sizeof u->host)
			return PARLEY_EINVAL;
		memcpy(u->host, host + 1, n);
		if (close + 1 < end) {
			if (close[1] != ':')
				return PARLEY_EINVAL;
			colon = close + 1;
		}
	} else {
		colon = memchr(host, ':', (size_t)(end - host));
		n = (size_t)((colon != NULL ? colon : end) - host);
		if (n == 0 || n >= sizeof u->host || memchr(host, '@', n) != NULL)
			return PARLEY_EINVAL;
		memcpy(u->host, host, n);
	}
	if (colon != NULL) {
		if (colon + 1 == end || colon[1] < '0' || colon[1] > '9')
			return PARLEY_EINVAL;
		errno = 0;
		port = strtoul(colon + 1, &e, 10);
		if (errno != 0 || e != end || port == 0 || port > 65535)
			return PARLEY_EINVAL;
	}
	u->port = (unsigned)port;
	u->path = *end == '/' ? end : "/";
	/* A URL like http://h?x has no path: "/" it is, and the query is dropped. */
	return 0;
}

static int
connect_to(const struct poster_url *u, int64_t deadline, int *fdp, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8];
	socklen_t elen;
	int fd = -1, rc = PARLEY_EIO, e = 0, gai;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%u", u->port);
	if ((gai = getaddrinfo(u->host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", u->host, gai_strerror(gai));
		return PARLEY_EIO;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			rc = mono_poll(fd, POLLOUT, deadline);
			if (rc == 0) {
				elen = sizeof e;
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
					e = errno;
				if (e == 0)
					break;
			} else if (rc == PARLEY_ETIMEDOUT) {
				close(fd);
				fd = -1;
				snprintf(err, errlen, "connecting to %s:%u timed out", u->host, u->port);
				goto done;
			}
		} else {
			e = errno;
		}
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s:%u: %s", u->host, u->port,
		    strerror(e != 0 ? e : ECONNREFUSED));
		rc = PARLEY_EIO;
		goto done;
	}
	*fdp = fd;
	rc = 0;
done:
	freeaddrinfo(res);
	return rc;
}

static int
send_all(int fd, const char *p, size_t len, int64_t deadline)
{
	ssize_t n;
	int rc;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((rc = mono_poll(fd, POLLOUT, deadline)) != 0)
				return rc;
			continue;
		}
		return PARLEY_EIO;
	}
	return 0;
}

/* Read until the end of the answer's headers; the status goes to *status. */
static int
read_status(int fd, int64_t deadline, int *status, char *err, size_t errlen)
{
	char head[HEAD_MAX + 1];
	size_t have = 0;
	ssize_t n;
	int rc, v;

	for (;;) {
		if (have == HEAD_MAX) {
			snprintf(err, errlen, "the answer's headers are over %d bytes", HEAD_MAX);
			return PARLEY_EIO;
		}
		n = recv(fd, head + have, HEAD_MAX - have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((rc = mono_poll(fd, POLLIN, deadline)) != 0) {
				if (rc == PARLEY_ETIMEDOUT)
					snprintf(err, errlen, "no answer in time");
				return rc;
			}
			continue;
		}
		if (n < 0) {
			snprintf(err, errlen, "reading the answer: %s", strerror(errno));
			return PARLEY_EIO;
		}
		if (n == 0) {
			snprintf(err, errlen, "the connection closed before an answer");
			return PARLEY_EIO;
		}
		have += (size_t)n;
		head[have] = '\0';
		if (strstr(head, "\r\n\r\n") != NULL || strstr(head, "\n\n") != NULL)
			break;
	}
	if (sscanf(head, "HTTP/1.%*1[01] %3d", &v) != 1 || v < 100 || v > 999) {
		snprintf(err, errlen, "the answer is not HTTP/1.x");
		return PARLEY_EIO;
	}
	*status = v;
	return 0;
}

int
poster_post(const char *url, const char *content_type, const char *soap_action,
    const void *body, size_t len, unsigned timeout_ms, int *status, char *err, size_t errlen)
{
	struct poster_url u;
	struct buf head = BUF_INIT;
	int64_t deadline = mono_ms() + timeout_ms;
	int fd = -1, rc;

	if (errlen > 0)
		err[0] = '\0';
	if (poster_parse(url, &u) != 0) {
		snprintf(err, errlen, "%s is not an http:// URL", url);
		return PARLEY_EINVAL;
	}
	if ((rc = connect_to(&u, deadline, &fd, err, errlen)) != 0)
		goto done;
	rc = buf_printf(&head, "POST %s HTTP/1.1\r\nHost: %s%s%s:%u\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\nUser-Agent: parleyd\r\n",
	    u.path, strchr(u.host, ':') != NULL ? "[" : "", u.host,
	    strchr(u.host, ':') != NULL ? "]" : "", u.port, content_type, len);
	if (rc == 0 && soap_action != NULL)
		rc = buf_printf(&head, "SOAPAction: \"%s\"\r\n", soap_action);
	if (rc == 0)
		rc = buf_puts(&head, "\r\n");
	if (rc != 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if ((rc = send_all(fd, head.data, head.len, deadline)) != 0 ||
	    (rc = send_all(fd, body, len, deadline)) != 0) {
		if (rc == PARLEY_ETIMEDOUT)
			snprintf(err, errlen, "sending timed out");
		else
			snprintf(err, errlen, "sending failed: %s", strerror(errno));
		goto done;
	}
	rc = read_status(fd, deadline, status, err, errlen);
done:
	if (fd >= 0)
		close(fd);
	buf_free(&head);
	return rc;
}
