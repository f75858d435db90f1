/*
 * poster.h - one HTTP/1.1 POST to a URL and its status, with a time limit:
 * the outbox's client. A blocking call on a connection of its own
 * ("Connection: close"), so a dead or silent host costs at most the limit.
 */
#ifndef PARLEY_POSTER_H
#define PARLEY_POSTER_H

#include <stddef.h>

#define POSTER_HOST_MAX 256

/* An http:// URL split into its parts. */
struct poster_url {
	char host[POSTER_HOST_MAX];    /* a name, an IPv4 address, or an IPv6 one without [] */
	unsigned port;                 /* 80 when the URL names none */
	const char *path;              /* points into the URL: from its first '/', or "/" */
};

/*
 * Split url ("http://HOST[:PORT][/PATH]") into u; u->path points into url.
 * Returns 0, or PARLEY_EINVAL when it is not such a URL (another scheme, an
 * empty or too long host, a bad port, spaces or control characters).
 */
int poster_parse(const char *url, struct poster_url *u);

/*
 * POST len bytes of body to url with the given Content-Type and (when not
 * NULL) SOAPAction header, and read the answer's status line and headers
 * (its body is not read: the connection is closed). Everything together takes at most
 * timeout_ms. Returns 0 with the HTTP status in *status, PARLEY_EINVAL for
 * a URL poster_parse refuses, PARLEY_ETIMEDOUT, or PARLEY_EIO (refused,
 * reset, not HTTP) with a reason in err.
 */
int poster_post(const char *url, const char *content_type, const char *soap_action,
    const void *body, size_t len, unsigned timeout_ms, int *status, char *err, size_t errlen);

#endif /* PARLEY_POSTER_H */
