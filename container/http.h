/*
 * http.h - reads HTTP/1.1 requests from a connection's buffer and writes
 * responses. The parser is restartable: it is called again with more bytes
 * until it has a whole request. Bodies come whole (Content-Length) or
 * de-chunked (Transfer-Encoding: chunked), never larger than the limit.
 */
#ifndef PARLEY_HTTP_H
#define PARLEY_HTTP_H

#include <stddef.h>

#include "buf.h"

#define HTTP_INCOMPLETE 1          /* http_parse: more bytes are needed */

struct http_limits {
	size_t max_head;               /* request line and headers; default 16 KiB */
	size_t max_body;               /* body after de-chunking; default 1 MiB */
	unsigned max_fields;           /* header fields; default 64 */
};

struct http_request {
	char method[8];                /* "GET", "POST", ... */
	char *path;                    /* the target up to '?', percent-decoded; NUL-terminated */
	char *query;                   /* after '?', raw, or NULL */
	int minor;                     /* HTTP/1.<minor> */
	int keep_alive;                /* 1 when the connection stays open after the response */
	int expect_continue;           /* the client sent Expect: 100-continue */
	const char *content_type;      /* header values, NUL-terminated, or NULL */
	const char *soap_action;       /* SOAPAction, unquoted */
	const char *host;
	const char *via;               /* X-Parley-Via: the nodes that forwarded the request */
	char *body;                    /* NUL-terminated after body_len; NULL when body_len is 0 */
	size_t body_len;
	size_t consumed;               /* bytes of the buffer this request used (head + body) */
};

/*
 * Parse one request at the start of buf (len bytes; the buffer must have one
 * spare byte after len). Returns 0 with req filled (its pointers point into
 * buf, which may have been rewritten in place), HTTP_INCOMPLETE when more
 * bytes are needed (*need_continue set to 1 once the head is whole and the
 * client asked for 100-continue), or a negative value with *status set to the
 * HTTP status to answer: 400 malformed, 413 body over max_body, 431 head over
 * max_head or too many fields, 501 a transfer coding other than chunked or a
 * method name longer than 7 bytes, 505 a version other than HTTP/1.x.
 * *reason (static text) then says what was wrong. buf is only read until 0 is
 * returned, so after HTTP_INCOMPLETE the same bytes, with more appended, may
 * be parsed again. A zero limit means its default. Requests with both
 * Content-Length and Transfer-Encoding are refused (400): they are how
 * requests are smuggled past proxies. Host is not required.
 */
int http_parse(char *buf, size_t len, const struct http_limits *lim, struct http_request *req,
    int *need_continue, int *status, const char **reason);

/* The reason phrase of an HTTP status code ("OK", "Not Found", ...). */
const char *http_reason(int status);

/*
 * Append a response head to out: status line, Content-Type (when not NULL),
 * Content-Length, Connection: close when keep_alive is 0, any extra header
 * lines (each ending in CRLF; may be NULL) and the blank line. Returns 0 or
 * PARLEY_ENOMEM.
 */
int http_write_head(struct buf *out, int status, const char *content_type, size_t content_length,
    int keep_alive, const char *extra);

/* The value of one hexadecimal digit, or -1. */
int http_hexval(unsigned char c);

#endif /* PARLEY_HTTP_H */
