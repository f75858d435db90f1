/*
 * http.c - the HTTP/1.1 request parser and response-head writer (http.h).
 * http_parse only reads the buffer until a request is whole, so the caller
 * can parse the same bytes again when more have arrived; once the request is
 * whole it terminates strings, decodes the path and de-chunks the body in place.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "http.h"
#include "parley.h"

#define DEFAULT_MAX_HEAD    (16 * 1024)
#define DEFAULT_MAX_BODY    (1024 * 1024)
#define DEFAULT_MAX_FIELDS  64
#define MAX_CHUNK_LINE      1024        /* a chunk-size line with its extensions */

/* A header value in the buffer, found but not yet NUL-terminated. */
struct span {
	size_t off;
	size_t len;
	int set;
};

/* What the head says, gathered without writing to the buffer. */
struct head {
	size_t method_off, method_len;
	size_t target_off, target_len;
	int minor;
	size_t head_len;
	size_t path_off;                /* path start in the target */
	size_t query_off;               /* the '?' or 0 */
	int root_path;                  /* absolute-form without a path: path is "/" */
	struct span content_type, soap_action, host, via;
	int have_cl;
	uint64_t cl;
	int have_te, chunked, te_other;
	int conn_close, conn_keep_alive;
	int expect_continue;
	int status;                     /* on failure, what to answer */
	const char *reason;
};

static int
reject(struct head *h, int status, const char *reason)
{
	h->status = status;
	h->reason = reason;
	return status == 413 || status == 431 ? PARLEY_ELIMIT : PARLEY_EINVAL;
}

/* RFC 7230 tchar: the bytes of a token (method, field name, coding). */
static int
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return 1;
	}
	return 0;
}

/* A byte allowed in a field value: visible ASCII, obs-text, space or tab. */
static int
is_value_byte(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
http_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Compare n bytes at p with lit (lower case) ignoring ASCII case, without the locale. */
static int
lower_eq(const char *p, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char a = (unsigned char)p[i];

		if (lit[i] == '\0')
			return 0;
		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a + ('a' - 'A'));
		if (a != (unsigned char)lit[i])
			return 0;
	}
	return lit[n] == '\0';
}

/*
 * Step through a comma-separated list in buf[*i, end): sets the next
 * non-empty element, trimmed, and returns 1, or returns 0 at the end.
 */
static int
next_element(const char *buf, size_t *i, size_t end, size_t *eoff, size_t *elen)
{
	size_t p = *i, e;

	for (;;) {
		while (p < end && (buf[p] == ' ' || buf[p] == '\t' || buf[p] == ','))
			p++;
		if (p >= end) {
			*i = p;
			return 0;
		}
		e = p;
		while (e < end && buf[e] != ',')
			e++;
		*i = e;
		while (e > p && (buf[e - 1] == ' ' || buf[e - 1] == '\t'))
			e--;
		*eoff = p;
		*elen = e - p;
		return 1;
	}
}

/*
 * The request line from *pos. Garbage is rejected as soon as it is seen, not
 * when the line ends, so a client sending noise is answered at once.
 */
static int
parse_request_line(const char *buf, size_t len, size_t *pos, struct head *h)
{
	const char *lf;
	size_t p = *pos, i, end, sp, v;

	/* RFC 7230 3.5: empty lines before a request line are ignored. */
	for (;;) {
		if (p < len && buf[p] == '\n')
			p++;
		else if (p + 1 < len && buf[p] == '\r' && buf[p + 1] == '\n')
			p += 2;
		else
			break;
	}
	if (p >= len || (p + 1 == len && buf[p] == '\r'))
		return HTTP_INCOMPLETE;

	lf = memchr(buf + p, '\n', len - p);
	end = lf != NULL ? (size_t)(lf - buf) : len;

	for (i = p; i < end && is_tchar((unsigned char)buf[i]); i++)
		;
	if (i - p >= sizeof(((struct http_request *)0)->method))
		return reject(h, 501, "method name is too long");
	if (i == end && lf == NULL)
		return HTTP_INCOMPLETE;
	if (i == p || buf[i] != ' ')
		return reject(h, 400, "malformed request line");
	h->method_off = p;
	h->method_len = i - p;

	sp = i;
	for (i = sp + 1; i < end && (unsigned char)buf[i] > 0x20 && buf[i] != 0x7f; i++)
		;
	if (i == end && lf == NULL)
		return HTTP_INCOMPLETE;
	if (i == sp + 1 || buf[i] != ' ')
		return reject(h, 400, "malformed request line");
	h->target_off = sp + 1;
	h->target_len = i - (sp + 1);
	if (lf == NULL)
		return HTTP_INCOMPLETE;

	v = i + 1;
	if (end > v && buf[end - 1] == '\r')
		end--;
	if (end - v != 8 || memcmp(buf + v, "HTTP/", 5) != 0 || !is_digit(buf[v + 5]) ||
	    buf[v + 6] != '.' || !is_digit(buf[v + 7]))
		return reject(h, 400, "malformed request line");
	if (buf[v + 5] != '1')
		return reject(h, 505, "only HTTP/1.x is supported");
	h->minor = buf[v + 7] - '0';
	*pos = (size_t)(lf - buf) + 1;
	return 0;
}

static int
field_content_length(const char *buf, size_t off, size_t len, struct head *h)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return reject(h, 400, "invalid Content-Length");
	for (i = off; i < off + len; i++) {
		unsigned d;

		if (!is_digit(buf[i]))
			return reject(h, 400, "invalid Content-Length");
		d = (unsigned)(buf[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return reject(h, 400, "invalid Content-Length");
		v = v * 10 + d;
	}
	if (h->have_cl && h->cl != v)
		return reject(h, 400, "conflicting Content-Length fields");
	h->have_cl = 1;
	h->cl = v;
	return 0;
}

static int
field_transfer_encoding(const char *buf, size_t off, size_t len, struct head *h)
{
	size_t i = off, eo, el;
	int any = 0;

	while (next_element(buf, &i, off + len, &eo, &el)) {
		any = 1;
		if (lower_eq(buf + eo, el, "chunked")) {
			if (h->chunked)
				return reject(h, 400, "chunked applied more than once");
			h->chunked = 1;
		} else {
			h->te_other = 1;
		}
	}
	if (!any)
		return reject(h, 400, "empty Transfer-Encoding");
	h->have_te = 1;
	return 0;
}

static void
field_connection(const char *buf, size_t off, size_t len, struct head *h)
{
	size_t i = off, eo, el;

	while (next_element(buf, &i, off + len, &eo, &el)) {
		if (lower_eq(buf + eo, el, "close"))
			h->conn_close = 1;
		else if (lower_eq(buf + eo, el, "keep-alive"))
			h->conn_keep_alive = 1;
	}
}

static void
keep_span(struct span *s, size_t off, size_t len)
{
	if (s->set)
		return;
	s->off = off;
	s->len = len;
	s->set = 1;
}

/* One header field line buf[p, end), without its line ending. */
static int
parse_field(const char *buf, size_t p, size_t end, struct head *h)
{
	size_t i, v, ve, nlen;

	for (i = p; i < end && is_tchar((unsigned char)buf[i]); i++)
		;
	if (i == p || i == end || buf[i] != ':')
		return reject(h, 400, "malformed header field");
	nlen = i - p;
	for (v = i + 1; v < end && (buf[v] == ' ' || buf[v] == '\t'); v++)
		;
	for (ve = end; ve > v && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'); ve--)
		;
	for (i = v; i < ve; i++)
		if (!is_value_byte((unsigned char)buf[i]))
			return reject(h, 400, "invalid byte in a header field value");

	switch (nlen) {
	case 4:
		if (lower_eq(buf + p, nlen, "host")) {
			if (h->host.set)
				return reject(h, 400, "more than one Host field");
			keep_span(&h->host, v, ve - v);
		}
		break;
	case 6:
		if (lower_eq(buf + p, nlen, "expect") && lower_eq(buf + v, ve - v, "100-continue"))
			h->expect_continue = 1;
		break;
	case 10:
		if (lower_eq(buf + p, nlen, "connection"))
			field_connection(buf, v, ve - v, h);
		else if (lower_eq(buf + p, nlen, "soapaction"))
			keep_span(&h->soap_action, v, ve - v);
		break;
	case 12:
		if (lower_eq(buf + p, nlen, "content-type"))
			keep_span(&h->content_type, v, ve - v);
		else if (lower_eq(buf + p, nlen, "x-parley-via"))
			keep_span(&h->via, v, ve - v);
		break;
	case 14:
		if (lower_eq(buf + p, nlen, "content-length"))
			return field_content_length(buf, v, ve - v, h);
		break;
	case 17:
		if (lower_eq(buf + p, nlen, "transfer-encoding"))
			return field_transfer_encoding(buf, v, ve - v, h);
		break;
	}
	return 0;
}

/* The header fields from pos up to the empty line; sets h->head_len. */
static int
parse_fields(const char *buf, size_t len, size_t pos, unsigned max_fields, struct head *h)
{
	unsigned nfields = 0;
	const char *lf;
	size_t end, cend;
	int rc;

	for (;;) {
		if (pos >= len)
			return HTTP_INCOMPLETE;
		/* RFC 7230 3.2.4: obs-fold is rejected; so is space before the first field. */
		if (buf[pos] == ' ' || buf[pos] == '\t')
			return reject(h, 400, "folded header field (obs-fold)");
		lf = memchr(buf + pos, '\n', len - pos);
		if (lf == NULL)
			return HTTP_INCOMPLETE;
		end = (size_t)(lf - buf);
		cend = end > pos && buf[end - 1] == '\r' ? end - 1 : end;
		if (cend == pos) {
			h->head_len = end + 1;
			return 0;
		}
		if (++nfields > max_fields)
			return reject(h, 431, "too many header fields");
		rc = parse_field(buf, pos, cend, h);
		if (rc != 0)
			return rc;
		pos = end + 1;
	}
}

/*
 * Check the request target and find its path and query. Origin-form
 * ("/p?q"), absolute-form ("http://host/p?q", RFC 7230 5.3.2) and "*" for
 * OPTIONS are accepted; the path's percent-escapes must be well formed and
 * must not encode NUL, which would cut the decoded string.
 */
static int
check_target(const char *buf, struct head *h)
{
	const char *t = buf + h->target_off;
	size_t n = h->target_len, p, i, qpos;

	if (n == 1 && t[0] == '*') {
		if (h->method_len != 7 || memcmp(buf + h->method_off, "OPTIONS", 7) != 0)
			return reject(h, 400, "malformed request target");
		h->path_off = 0;
		return 0;
	}
	if (t[0] == '/') {
		p = 0;
	} else {
		if (n > 7 && lower_eq(t, 7, "http://"))
			p = 7;
		else if (n > 8 && lower_eq(t, 8, "https://"))
			p = 8;
		else
			return reject(h, 400, "malformed request target");
		while (p < n && t[p] != '/' && t[p] != '?')
			p++;
		if (p == n || t[p] == '?')
			h->root_path = 1;
	}
	h->path_off = p;
	qpos = p;
	while (qpos < n && t[qpos] != '?')
		qpos++;
	h->query_off = qpos < n ? h->target_off + qpos : 0;
	for (i = p; i < qpos; i++) {
		if (t[i] != '%')
			continue;
		if (i + 2 >= qpos || http_hexval((unsigned char)t[i + 1]) < 0 ||
		    http_hexval((unsigned char)t[i + 2]) < 0)
			return reject(h, 400, "malformed percent-encoding in the path");
		if (t[i + 1] == '0' && t[i + 2] == '0')
			return reject(h, 400, "percent-encoded NUL in the path");
		i += 2;
	}
	return 0;
}

/*
 * Walk a chunked body from pos. With dst NULL the buffer is only read; with
 * dst set, each chunk's data is also moved down to dst, de-chunking in
 * place. dst stays behind the bytes still to be read because every chunk
 * has at least three bytes of framing. The limit is checked against each
 * chunk-size as soon as its digits are seen, before the data arrives.
 */
static int
walk_chunks(char *buf, size_t len, size_t pos, size_t max_body, size_t max_head, char *dst,
    size_t *body_len, size_t *end, struct head *h)
{
	const char *lf;
	size_t total = 0, size, i, j, le, cend, tstart;
	int d;

	for (;;) {
		size = 0;
		for (i = pos; i < len && (d = http_hexval((unsigned char)buf[i])) >= 0; i++) {
			if (size > (SIZE_MAX - 15) / 16)
				return reject(h, 413, "request body is too large");
			size = size * 16 + (size_t)d;
			if (size > max_body - total)
				return reject(h, 413, "request body is too large");
		}
		lf = memchr(buf + i, '\n', len - i);
		if (lf == NULL) {
			if (len - pos > MAX_CHUNK_LINE)
				return reject(h, 400, "chunk-size line is too long");
			if (i < len && (i == pos ||
			    (buf[i] != ' ' && buf[i] != '\t' && buf[i] != ';' && buf[i] != '\r')))
				return reject(h, 400, "malformed chunk size");
			return HTTP_INCOMPLETE;
		}
		le = (size_t)(lf - buf);
		if (i == pos || le - pos > MAX_CHUNK_LINE)
			return reject(h, 400, "malformed chunk size");
		cend = le > i && buf[le - 1] == '\r' ? le - 1 : le;
		for (j = i; j < cend && (buf[j] == ' ' || buf[j] == '\t'); j++)
			;
		if (j < cend) {
			/* Chunk extensions carry nothing we use: check the bytes, skip them. */
			if (buf[j] != ';')
				return reject(h, 400, "malformed chunk size");
			for (; j < cend; j++)
				if (!is_value_byte((unsigned char)buf[j]))
					return reject(h, 400, "malformed chunk extension");
		}
		pos = le + 1;
		if (size == 0)
			break;
		if (len - pos < size + 1)
			return HTTP_INCOMPLETE;
		if (dst != NULL)
			memmove(dst + total, buf + pos, size);
		total += size;
		pos += size;
		if (buf[pos] == '\n') {
			pos++;
		} else if (buf[pos] == '\r') {
			if (pos + 1 >= len)
				return HTTP_INCOMPLETE;
			if (buf[pos + 1] != '\n')
				return reject(h, 400, "chunk data is not followed by CRLF");
			pos += 2;
		} else {
			return reject(h, 400, "chunk data is not followed by CRLF");
		}
	}

	/* The trailer section: fields are not used, only skipped up to the empty line. */
	tstart = pos;
	for (;;) {
		lf = memchr(buf + pos, '\n', len - pos);
		if (lf == NULL) {
			if (len - tstart > max_head)
				return reject(h, 431, "trailer section is too large");
			return HTTP_INCOMPLETE;
		}
		le = (size_t)(lf - buf);
		if (le - tstart > max_head)
			return reject(h, 431, "trailer section is too large");
		if (le == pos || (le == pos + 1 && buf[pos] == '\r')) {
			pos = le + 1;
			break;
		}
		if (buf[pos] == ' ' || buf[pos] == '\t')
			return reject(h, 400, "folded trailer field (obs-fold)");
		pos = le + 1;
	}
	*body_len = total;
	*end = pos;
	return 0;
}

/* Decode %XX escapes in the NUL-terminated s, in place; check_target vetted them. */
static void
percent_decode(char *s)
{
	char *w = s;

	for (; *s != '\0'; s++) {
		if (*s == '%') {
			*w++ = (char)(http_hexval((unsigned char)s[1]) << 4 | http_hexval((unsigned char)s[2]));
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

static const char *
terminate(char *buf, const struct span *s)
{
	if (!s->set)
		return NULL;
	buf[s->off + s->len] = '\0';
	return buf + s->off;
}

/* The request is whole: rewrite the buffer in place and fill req. */
static void
finish(char *buf, size_t len, struct head *h, size_t body_len, size_t end,
    struct http_request *req)
{
	size_t target_end = h->target_off + h->target_len;
	char *path;

	memcpy(req->method, buf + h->method_off, h->method_len);
	req->method[h->method_len] = '\0';

	buf[target_end] = '\0';
	req->query = NULL;
	if (h->query_off != 0) {
		buf[h->query_off] = '\0';
		req->query = buf + h->query_off + 1;
	}
	if (h->root_path) {
		/* "http://host" has no path: reuse the second slash of "//" as "/". */
		path = memchr(buf + h->target_off, '/', h->target_len);
		path++;
		path[1] = '\0';
	} else {
		path = buf + h->target_off + h->path_off;
	}
	percent_decode(path);
	req->path = path;

	req->minor = h->minor;
	req->keep_alive = h->minor >= 1 ? !h->conn_close : (h->conn_keep_alive && !h->conn_close);
	req->expect_continue = h->expect_continue;
	req->content_type = terminate(buf, &h->content_type);
	req->host = terminate(buf, &h->host);
	if (h->soap_action.set && h->soap_action.len >= 2 &&
	    buf[h->soap_action.off] == '"' &&
	    buf[h->soap_action.off + h->soap_action.len - 1] == '"') {
		h->soap_action.off++;
		h->soap_action.len -= 2;
	}
	req->soap_action = terminate(buf, &h->soap_action);
	req->via = terminate(buf, &h->via);

	req->body = NULL;
	req->body_len = body_len;
	if (h->chunked) {
		buf[h->head_len + body_len] = '\0';
		if (body_len > 0)
			req->body = buf + h->head_len;
	} else if (body_len > 0) {
		if (end < len) {
			/*
			 * A pipelined request follows: its first byte must not be
			 * overwritten by our NUL, so the body moves one byte down,
			 * over the LF of the empty line ending the head.
			 */
			memmove(buf + h->head_len - 1, buf + h->head_len, body_len);
			req->body = buf + h->head_len - 1;
		} else {
			req->body = buf + h->head_len;
		}
		req->body[body_len] = '\0';
	}
	req->consumed = end;
}

int
http_parse(char *buf, size_t len, const struct http_limits *lim, struct http_request *req,
    int *need_continue, int *status, const char **reason)
{
	struct head h;
	size_t max_head, max_body, body_len = 0, end = 0, pos = 0;
	unsigned max_fields;
	int rc;

	memset(&h, 0, sizeof h);
	*need_continue = 0;
	max_head = lim != NULL && lim->max_head != 0 ? lim->max_head : DEFAULT_MAX_HEAD;
	max_body = lim != NULL && lim->max_body != 0 ? lim->max_body : DEFAULT_MAX_BODY;
	max_fields = lim != NULL && lim->max_fields != 0 ? lim->max_fields : DEFAULT_MAX_FIELDS;

	rc = parse_request_line(buf, len, &pos, &h);
	if (rc == 0)
		rc = parse_fields(buf, len, pos, max_fields, &h);
	if (rc == HTTP_INCOMPLETE && len > max_head)
		rc = reject(&h, 431, "request head is too large");
	else if (rc == 0 && h.head_len > max_head)
		rc = reject(&h, 431, "request head is too large");
	if (rc == 0)
		rc = check_target(buf, &h);
	if (rc == 0 && h.have_te) {
		/*
		 * Content-Length with Transfer-Encoding is how requests are
		 * smuggled past a proxy that reads one and not the other: refuse
		 * it rather than pick one (RFC 9112 6.1 allows both).
		 */
		if (h.have_cl)
			rc = reject(&h, 400, "both Content-Length and Transfer-Encoding");
		else if (h.minor == 0)
			rc = reject(&h, 400, "Transfer-Encoding in an HTTP/1.0 request");
		else if (h.te_other)
			rc = reject(&h, 501, "transfer coding other than chunked");
	}
	if (rc != 0)
		goto fail;

	if (h.chunked) {
		rc = walk_chunks(buf, len, h.head_len, max_body, max_head, NULL, &body_len, &end, &h);
	} else if (h.have_cl) {
		if (h.cl > max_body)
			rc = reject(&h, 413, "request body is too large");
		else if (len - h.head_len < h.cl)
			rc = HTTP_INCOMPLETE;
		body_len = (size_t)h.cl;
		end = h.head_len + body_len;
	} else {
		end = h.head_len;
	}
	if (rc == HTTP_INCOMPLETE && h.expect_continue && h.minor >= 1)
		*need_continue = 1;
	if (rc != 0)
		goto fail;

	if (h.chunked)
		walk_chunks(buf, len, h.head_len, max_body, max_head, buf + h.head_len,
		    &body_len, &end, &h);
	finish(buf, len, &h, body_len, end, req);
	return 0;

fail:
	if (rc < 0) {
		*status = h.status;
		*reason = h.reason;
	}
	return rc;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	if (status >= 100 && status < 200)
		return "Informational";
	if (status >= 200 && status < 300)
		return "Success";
	if (status >= 300 && status < 400)
		return "Redirection";
	if (status >= 400 && status < 500)
		return "Client Error";
	return "Server Error";
}

int
http_write_head(struct buf *out, int status, const char *content_type, size_t content_length,
    int keep_alive, const char *extra)
{
	size_t mark = out->len;
	int rc;

	rc = buf_printf(out, "HTTP/1.1 %03d %s\r\nServer: parley\r\n", status, http_reason(status));
	if (rc == 0 && content_type != NULL)
		rc = buf_printf(out, "Content-Type: %s\r\n", content_type);
	/* RFC 7230 3.3.2: no Content-Length on 1xx and 204; on 304 it would describe another body. */
	if (rc == 0 && status >= 200 && status != 204 && status != 304)
		rc = buf_printf(out, "Content-Length: %zu\r\n", content_length);
	if (rc == 0 && !keep_alive)
		rc = buf_puts(out, "Connection: close\r\n");
	if (rc == 0 && extra != NULL)
		rc = buf_puts(out, extra);
	if (rc == 0)
		rc = buf_append(out, "\r\n", 2);
	if (rc != 0) {
		out->len = mark;
		if (out->data != NULL)
			out->data[mark] = '\0';
		return PARLEY_ENOMEM;
	}
	return 0;
}
