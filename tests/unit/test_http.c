/*
 * test_http.c - the HTTP/1.1 request parser (restartable, limits, chunked,
 * keep-alive rules, pipelining) and the response-head writer.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "parley.h"
#include "unit.h"

static const struct http_limits default_limits = { 16 * 1024, 1024 * 1024, 64 };

/* One parse of text, copied into a heap buffer with the spare byte the parser may use. */
struct parse {
	char *buf;
	struct http_request req;
	int rc;
	int need_continue;
	int status;
	const char *reason;
};

static int
parse_n(struct parse *p, const char *text, size_t len, const struct http_limits *lim)
{
	free(p->buf);
	p->buf = malloc(len + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p->buf);
	memcpy(p->buf, text, len);
	p->need_continue = -1;
	p->status = 0;
	p->reason = NULL;
	p->rc = http_parse(p->buf, len, lim != NULL ? lim : &default_limits, &p->req,
	    &p->need_continue, &p->status, &p->reason);
	return p->rc;
}

static int
parse_s(struct parse *p, const char *text)
{
	return parse_n(p, text, strlen(text), NULL);
}

static void
parse_done(struct parse *p)
{
	free(p->buf);
	p->buf = NULL;
}

/* Parse text expecting a failure with status. */
static void
expect_status(const char *text, const struct http_limits *lim, int status)
{
	struct parse p = { 0 };

	parse_n(&p, text, strlen(text), lim);
	CU_ASSERT(p.rc < 0);
	CU_ASSERT_EQUAL(p.status, status);
	CU_ASSERT_PTR_NOT_NULL(p.reason);
	if (p.rc >= 0 || p.status != status)
		fprintf(stderr, "\n  for %.60s: rc %d status %d\n", text, p.rc, p.status);
	parse_done(&p);
}

static void
test_simple_get(void)
{
	struct parse p = { 0 };
	const char *r = "GET /svc/cart?wsdl HTTP/1.1\r\nHost: example.org:8080\r\n"
	    "User-Agent: t\r\n\r\n";

	CU_ASSERT_EQUAL(parse_s(&p, r), 0);
	CU_ASSERT_STRING_EQUAL(p.req.method, "GET");
	CU_ASSERT_STRING_EQUAL(p.req.path, "/svc/cart");
	CU_ASSERT_STRING_EQUAL(p.req.query, "wsdl");
	CU_ASSERT_EQUAL(p.req.minor, 1);
	CU_ASSERT_EQUAL(p.req.keep_alive, 1);
	CU_ASSERT_EQUAL(p.req.expect_continue, 0);
	CU_ASSERT_STRING_EQUAL(p.req.host, "example.org:8080");
	CU_ASSERT_PTR_NULL(p.req.content_type);
	CU_ASSERT_PTR_NULL(p.req.soap_action);
	CU_ASSERT_PTR_NULL(p.req.body);
	CU_ASSERT_EQUAL(p.req.body_len, 0);
	CU_ASSERT_EQUAL(p.req.consumed, strlen(r));
	CU_ASSERT_EQUAL(p.need_continue, 0);

	/* No query, bare LF line ends, leading empty line ignored. */
	CU_ASSERT_EQUAL(parse_s(&p, "\r\nGET / HTTP/1.1\nHost: h\n\n"), 0);
	CU_ASSERT_STRING_EQUAL(p.req.path, "/");
	CU_ASSERT_PTR_NULL(p.req.query);
	CU_ASSERT_STRING_EQUAL(p.req.host, "h");
	CU_ASSERT_EQUAL(p.req.consumed, strlen("\r\nGET / HTTP/1.1\nHost: h\n\n"));

	/* An empty query is there, and empty. */
	CU_ASSERT_EQUAL(parse_s(&p, "GET /a? HTTP/1.1\r\n\r\n"), 0);
	CU_ASSERT_STRING_EQUAL(p.req.query, "");

	/* absolute-form and OPTIONS *. */
	CU_ASSERT_EQUAL(parse_s(&p, "GET http://h:1/x/y?q=1 HTTP/1.1\r\n\r\n"), 0);
	CU_ASSERT_STRING_EQUAL(p.req.path, "/x/y");
	CU_ASSERT_STRING_EQUAL(p.req.query, "q=1");
	CU_ASSERT_EQUAL(parse_s(&p, "GET http://h:1 HTTP/1.1\r\n\r\n"), 0);
	CU_ASSERT_STRING_EQUAL(p.req.path, "/");
	CU_ASSERT_EQUAL(parse_s(&p, "GET HTTP://h?z HTTP/1.1\r\n\r\n"), 0);
	CU_ASSERT_STRING_EQUAL(p.req.path, "/");
	CU_ASSERT_STRING_EQUAL(p.req.query, "z");
	CU_ASSERT_EQUAL(parse_s(&p, "OPTIONS * HTTP/1.1\r\n\r\n"), 0);
	CU_ASSERT_STRING_EQUAL(p.req.path, "*");
	parse_done(&p);
}

/* Every prefix of a request is INCOMPLETE and leaves the bytes as they were. */
static void
test_post_split(void)
{
	const char *r = "POST /svc HTTP/1.1\r\nHost: h\r\nContent-Type: text/xml; charset=utf-8\r\n"
	    "SOAPAction: \"urn:x/add\"\r\nContent-Length: 11\r\n\r\nhello world";
	size_t len = strlen(r), i;
	char *buf = malloc(len + 1);
	struct http_request req;
	const char *reason;
	int nc, status, rc, bad = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	memcpy(buf, r, len);
	for (i = 0; i < len; i++) {
		rc = http_parse(buf, i, &default_limits, &req, &nc, &status, &reason);
		if (rc != HTTP_INCOMPLETE || memcmp(buf, r, len) != 0)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	rc = http_parse(buf, len, &default_limits, &req, &nc, &status, &reason);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(req.method, "POST");
	CU_ASSERT_EQUAL(req.body_len, 11);
	CU_ASSERT_STRING_EQUAL(req.body, "hello world");
	CU_ASSERT_STRING_EQUAL(req.content_type, "text/xml; charset=utf-8");
	CU_ASSERT_STRING_EQUAL(req.soap_action, "urn:x/add");
	CU_ASSERT_EQUAL(req.consumed, len);
	free(buf);
}

static void
test_soap_action_unquoting(void)
{
	struct parse p = { 0 };

	CU_ASSERT_EQUAL(parse_s(&p, "POST / HTTP/1.1\r\nSOAPAction:   \"a b\"  \r\n\r\n"), 0);
	CU_ASSERT_STRING_EQUAL(p.req.soap_action, "a b");
	CU_ASSERT_EQUAL(parse_s(&p, "POST / HTTP/1.1\r\nsoapaction: urn:plain\r\n\r\n"), 0);
	CU_ASSERT_STRING_EQUAL(p.req.soap_action, "urn:plain");
	CU_ASSERT_EQUAL(parse_s(&p, "POST / HTTP/1.1\r\nSOAPAction: \"\"\r\n\r\n"), 0);
	CU_ASSERT_STRING_EQUAL(p.req.soap_action, "");
	CU_ASSERT_EQUAL(parse_s(&p, "POST / HTTP/1.1\r\nSOAPAction:\r\n\r\n"), 0);
	CU_ASSERT_STRING_EQUAL(p.req.soap_action, "");
	/* A lone quote is not a quoted string: kept as it is. */
	CU_ASSERT_EQUAL(parse_s(&p, "POST / HTTP/1.1\r\nSOAPAction: \"\r\n\r\n"), 0);
	CU_ASSERT_STRING_EQUAL(p.req.soap_action, "\"");
	parse_done(&p);
}

static void
test_chunked(void)
{
	struct parse p = { 0 };
	const char *r = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5;name=value;x=\"q\"\r\nhello\r\n"
	    "1\r\n \r\n"
	    "0006 \r\nworld!\r\n"
	    "0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n";
	size_t len = strlen(r), i;
	int bad = 0;

	for (i = 0; i < len; i++)
		if (parse_n(&p, r, i, NULL) != HTTP_INCOMPLETE)
			bad++;
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(parse_s(&p, r), 0);
	CU_ASSERT_EQUAL(p.req.body_len, 12);
	CU_ASSERT_STRING_EQUAL(p.req.body, "hello world!");
	CU_ASSERT_EQUAL(p.req.consumed, len);

	/* Header names and the coding are case-insensitive; LF-only framing. */
	CU_ASSERT_EQUAL(parse_s(&p, "POST / HTTP/1.1\r\ntransfer-encoding:  Chunked \r\n\r\n"
	    "3\nabc\n0\n\n"), 0);
	CU_ASSERT_STRING_EQUAL(p.req.body, "abc");

	/* Only the last chunk: an empty body. */
	CU_ASSERT_EQUAL(parse_s(&p, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 0);
	CU_ASSERT_EQUAL(p.req.body_len, 0);
	CU_ASSERT_PTR_NULL(p.req.body);

	expect_status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", NULL, 400);
	expect_status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", NULL, 400);
	expect_status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3 x\r\nabc\r\n", NULL, 400);
	expect_status("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", NULL, 501);
	expect_status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", NULL, 400);
	/* Both framings: refused, a request-smuggling vector. */
	expect_status("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n0\r\n\r\n", NULL, 400);
	expect_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", NULL, 400);
	parse_done(&p);
}

/* A client that keeps sending chunks is refused as soon as the limit is passed. */
static void
test_chunked_over_limit_early(void)
{
	struct http_limits lim = { 1024, 1000, 16 };
	struct parse p = { 0 };
	char r[4096];
	size_t n;
	int i;

	n = (size_t)snprintf(r, sizeof r, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 3; i++) {
		n += (size_t)snprintf(r + n, sizeof r - n, "190\r\n");      /* 400 bytes */
		memset(r + n, 'a', 400);
		n += 400;
		n += (size_t)snprintf(r + n, sizeof r - n, "\r\n");
		if (i < 2)
			CU_ASSERT_EQUAL(parse_n(&p, r, n, &lim), HTTP_INCOMPLETE);
	}
	/* 1200 > 1000, no last chunk yet. */
	CU_ASSERT(parse_n(&p, r, n, &lim) < 0);
	CU_ASSERT_EQUAL(p.status, 413);

	/* The size line alone already passes the limit: refused before the data. */
	n = (size_t)snprintf(r, sizeof r,
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n100000");
	CU_ASSERT(parse_n(&p, r, n, &lim) < 0);
	CU_ASSERT_EQUAL(p.status, 413);
	n = (size_t)snprintf(r, sizeof r,
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffffff\r\n");
	CU_ASSERT(parse_n(&p, r, n, &lim) < 0);
	CU_ASSERT_EQUAL(p.status, 413);
	parse_done(&p);
}

static void
test_content_length_limit(void)
{
	struct http_limits lim = { 1024, 100, 16 };
	struct parse p = { 0 };

	/* Refused from the head alone, before any body byte. */
	CU_ASSERT(parse_n(&p, "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 40, &lim) < 0);
	CU_ASSERT_EQUAL(p.status, 413);
	expect_status("POST / HTTP/1.1\r\nContent-Length: 10000000000\r\n\r\n", NULL, 413);
	CU_ASSERT_EQUAL(parse_n(&p, "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n", 40, &lim),
	    HTTP_INCOMPLETE);
	parse_done(&p);
}

static void
test_head_limits(void)
{
	struct http_limits lim = { 256, 1000, 4 };
	struct parse p = { 0 };
	char big[2048];
	size_t n;

	/* Head over max_head while still incomplete: 431 without waiting for its end. */
	n = (size_t)snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX-Long: ");
	memset(big + n, 'x', 300);
	n += 300;
	CU_ASSERT(parse_n(&p, big, n, &lim) < 0);
	CU_ASSERT_EQUAL(p.status, 431);
	/* And whole, but over. */
	memcpy(big + n, "\r\n\r\n", 4);
	CU_ASSERT(parse_n(&p, big, n + 4, &lim) < 0);
	CU_ASSERT_EQUAL(p.status, 431);
	/* A head of exactly max_head is fine. */
	n = (size_t)snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX: ");
	memset(big + n, 'y', 256 - n - 4);
	memcpy(big + 252, "\r\n\r\n", 4);
	CU_ASSERT_EQUAL(parse_n(&p, big, 256, &lim), 0);

	expect_status("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", &lim, 431);
	CU_ASSERT_EQUAL(parse_n(&p, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
	    strlen("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"), &lim), 0);
	parse_done(&p);
}

static void
test_malformed(void)
{
	struct parse p = { 0 };

	expect_status("GET /\r\n\r\n", NULL, 400);                        /* HTTP/0.9 */
	expect_status("GET  / HTTP/1.1\r\n\r\n", NULL, 400);
	expect_status("GET / HTTP/1.1 \r\n\r\n", NULL, 400);
	expect_status("GET / http/1.1\r\n\r\n", NULL, 400);
	expect_status("GET / HTTP/1.10\r\n\r\n", NULL, 400);
	expect_status("GET / HTTP/2.0\r\n\r\n", NULL, 505);
	expect_status("GET / HTTP/0.9\r\n\r\n", NULL, 505);
	expect_status("GET foo HTTP/1.1\r\n\r\n", NULL, 400);
	expect_status("GET * HTTP/1.1\r\n\r\n", NULL, 400);
	expect_status("VERYLONGMETHOD / HTTP/1.1\r\n\r\n", NULL, 501);
	expect_status("G(T / HTTP/1.1\r\n\r\n", NULL, 400);
	expect_status("GET /a\x01 HTTP/1.1\r\n\r\n", NULL, 400);
	/* obs-fold, and space before the first field. */
	expect_status("GET / HTTP/1.1\r\nX-A: 1\r\n  continued\r\n\r\n", NULL, 400);
	expect_status("GET / HTTP/1.1\r\n X-A: 1\r\n\r\n", NULL, 400);
	expect_status("GET / HTTP/1.1\r\nX-A 1\r\n\r\n", NULL, 400);
	expect_status("GET / HTTP/1.1\r\nX-A : 1\r\n\r\n", NULL, 400);
	expect_status("GET / HTTP/1.1\r\n: 1\r\n\r\n", NULL, 400);
	expect_status("GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", NULL, 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", NULL, 400);
	/* Content-Length. */
	expect_status("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", NULL, 400);
	expect_status("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", NULL, 400);
	expect_status("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", NULL, 400);
	expect_status("POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n", NULL, 400);
	expect_status("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", NULL, 400);
	expect_status("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", NULL, 400);
	/* The same value twice is one value. */
	CU_ASSERT_EQUAL(parse_s(&p, "POST / HTTP/1.1\r\nContent-Length: 3\r\n"
	    "Content-Length: 003\r\n\r\nabc"), 0);
	CU_ASSERT_STRING_EQUAL(p.req.body, "abc");

	/* Garbage is refused from its first bytes, not when a line ends. */
	expect_status("\x16\x03\x01\x02\x00\x01\x00", NULL, 400);
	expect_status("GE\xff", NULL, 400);
	parse_done(&p);
}

static void
test_keep_alive_rules(void)
{
	struct parse p = { 0 };

	CU_ASSERT_EQUAL(parse_s(&p, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), 0);
	CU_ASSERT_EQUAL(p.req.keep_alive, 0);
	CU_ASSERT_EQUAL(parse_s(&p, "GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n"), 0);
	CU_ASSERT_EQUAL(p.req.keep_alive, 0);
	CU_ASSERT_EQUAL(parse_s(&p, "GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"), 0);
	CU_ASSERT_EQUAL(p.req.keep_alive, 1);
	CU_ASSERT_EQUAL(parse_s(&p, "GET / HTTP/1.0\r\n\r\n"), 0);
	CU_ASSERT_EQUAL(p.req.minor, 0);
	CU_ASSERT_EQUAL(p.req.keep_alive, 0);
	CU_ASSERT_EQUAL(parse_s(&p, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), 0);
	CU_ASSERT_EQUAL(p.req.keep_alive, 1);
	CU_ASSERT_EQUAL(parse_s(&p, "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"), 0);
	CU_ASSERT_EQUAL(p.req.keep_alive, 0);
	parse_done(&p);
}

static void
test_expect_continue(void)
{
	struct parse p = { 0 };
	const char *head = "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n";

	CU_ASSERT_EQUAL(parse_n(&p, head, strlen(head) - 2, NULL), HTTP_INCOMPLETE);
	CU_ASSERT_EQUAL(p.need_continue, 0);            /* head not whole yet */
	CU_ASSERT_EQUAL(parse_s(&p, head), HTTP_INCOMPLETE);
	CU_ASSERT_EQUAL(p.need_continue, 1);
	CU_ASSERT_EQUAL(parse_n(&p, "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 4"
	    "\r\n\r\nbody", strlen(head) + 4, NULL), 0);
	CU_ASSERT_EQUAL(p.req.expect_continue, 1);
	CU_ASSERT_STRING_EQUAL(p.req.body, "body");
	/* HTTP/1.0 has no 100 Continue. */
	CU_ASSERT_EQUAL(parse_s(&p, "POST / HTTP/1.0\r\nExpect: 100-continue\r\n"
	    "Content-Length: 4\r\n\r\n"), HTTP_INCOMPLETE);
	CU_ASSERT_EQUAL(p.need_continue, 0);
	parse_done(&p);
}

static void
test_percent_decoding(void)
{
	struct parse p = { 0 };

	CU_ASSERT_EQUAL(parse_s(&p, "GET /a%20b/%7Euser%2fx?q=%41%00 HTTP/1.1\r\n\r\n"), 0);
	CU_ASSERT_STRING_EQUAL(p.req.path, "/a b/~user/x");
	CU_ASSERT_STRING_EQUAL(p.req.query, "q=%41%00");     /* the query stays raw */
	expect_status("GET /a%00b HTTP/1.1\r\n\r\n", NULL, 400);
	expect_status("GET /a%2 HTTP/1.1\r\n\r\n", NULL, 400);
	expect_status("GET /a% HTTP/1.1\r\n\r\n", NULL, 400);
	expect_status("GET /a%2?x HTTP/1.1\r\n\r\n", NULL, 400);
	expect_status("GET /a%zz HTTP/1.1\r\n\r\n", NULL, 400);
	parse_done(&p);
}

static void
test_pipelined(void)
{
	struct parse p = { 0 };
	const char *r1 = "POST /one HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
	const char *r2 = "POST /two HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz";
	const char *r3 = "GET /three HTTP/1.1\r\n\r\n";
	char all[512];
	size_t n1 = strlen(r1), n2 = strlen(r2), n3 = strlen(r3), total;

	total = (size_t)snprintf(all, sizeof all, "%s%s%s", r1, r2, r3);
	CU_ASSERT_EQUAL(parse_n(&p, all, total, NULL), 0);
	CU_ASSERT_STRING_EQUAL(p.req.path, "/one");
	CU_ASSERT_STRING_EQUAL(p.req.body, "abc");
	CU_ASSERT_EQUAL(p.req.consumed, n1);
	/* The next request's first byte was not overwritten by the body's NUL. */
	CU_ASSERT_EQUAL(memcmp(p.buf + n1, r2, n2), 0);
	CU_ASSERT_EQUAL(http_parse(p.buf + n1, total - n1, &default_limits, &p.req,
	    &p.need_continue, &p.status, &p.reason), 0);
	CU_ASSERT_STRING_EQUAL(p.req.path, "/two");
	CU_ASSERT_STRING_EQUAL(p.req.body, "xyz");
	CU_ASSERT_EQUAL(p.req.consumed, n2);
	CU_ASSERT_EQUAL(http_parse(p.buf + n1 + n2, n3, &default_limits, &p.req,
	    &p.need_continue, &p.status, &p.reason), 0);
	CU_ASSERT_STRING_EQUAL(p.req.path, "/three");
	CU_ASSERT_EQUAL(p.req.consumed, n3);

	/* A chunked request followed by another. */
	total = (size_t)snprintf(all, sizeof all, "%s%s",
	    "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", r3);
	CU_ASSERT_EQUAL(parse_n(&p, all, total, NULL), 0);
	CU_ASSERT_STRING_EQUAL(p.req.body, "ab");
	CU_ASSERT_EQUAL(memcmp(p.buf + p.req.consumed, r3, n3), 0);
	CU_ASSERT_EQUAL(p.req.consumed + n3, total);
	parse_done(&p);
}

static void
test_write_head(void)
{
	struct buf b = BUF_INIT;

	CU_ASSERT_EQUAL(http_write_head(&b, 200, "text/xml; charset=utf-8", 582, 1, NULL), 0);
	CU_ASSERT_STRING_EQUAL(b.data, "HTTP/1.1 200 OK\r\nServer: parley\r\n"
	    "Content-Type: text/xml; charset=utf-8\r\nContent-Length: 582\r\n\r\n");
	buf_reset(&b);
	CU_ASSERT_EQUAL(http_write_head(&b, 413, NULL, 0, 0, "Retry-After: 1\r\nX-A: b\r\n"), 0);
	CU_ASSERT_STRING_EQUAL(b.data, "HTTP/1.1 413 Payload Too Large\r\nServer: parley\r\n"
	    "Content-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\nX-A: b\r\n\r\n");
	buf_reset(&b);
	CU_ASSERT_EQUAL(http_write_head(&b, 204, "text/plain", 10, 1, NULL), 0);
	CU_ASSERT_STRING_EQUAL(b.data, "HTTP/1.1 204 No Content\r\nServer: parley\r\n"
	    "Content-Type: text/plain\r\n\r\n");
	buf_reset(&b);
	/* Appends to what is there. */
	buf_puts(&b, "x");
	CU_ASSERT_EQUAL(http_write_head(&b, 599, NULL, 1, 1, NULL), 0);
	CU_ASSERT_STRING_EQUAL(b.data, "xHTTP/1.1 599 Server Error\r\nServer: parley\r\n"
	    "Content-Length: 1\r\n\r\n");
	CU_ASSERT_STRING_EQUAL(http_reason(404), "Not Found");
	CU_ASSERT_STRING_EQUAL(http_reason(431), "Request Header Fields Too Large");
	buf_free(&b);
}

/* Random bytes and random cuts of valid requests never crash or overrun. */
static void
test_random_input(void)
{
	static const char *seeds[] = {
		"POST /s%41 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nabcde",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n0\r\nT: 1\r\n\r\n",
		"GET http://x/y?z HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	};
	struct http_limits lim = { 128, 64, 8 };
	struct parse p = { 0 };
	char buf[256];
	unsigned seed = 12345;
	int i, j, len, ok = 1;

	for (i = 0; i < 20000; i++) {
		const char *s = seeds[i % 3];

		len = (int)strlen(s);
		memcpy(buf, s, (size_t)len);
		for (j = 0; j < 3; j++) {
			seed = seed * 1103515245 + 12345;
			buf[(seed >> 8) % (unsigned)len] = (char)(seed >> 16);
		}
		seed = seed * 1103515245 + 12345;
		len = (int)((seed >> 8) % (unsigned)(len + 1));
		parse_n(&p, buf, (size_t)len, i & 1 ? &lim : NULL);
		if (p.rc == 0 && p.req.consumed > (size_t)len)
			ok = 0;
		if (p.rc < 0 && (p.status < 400 || p.status > 505 || p.reason == NULL))
			ok = 0;
		if (p.rc == 0 && p.req.body != NULL && p.req.body[p.req.body_len] != '\0')
			ok = 0;
	}
	CU_ASSERT(ok);
	parse_done(&p);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "simple GET, targets and leading empty lines", test_simple_get },
		{ "POST split across calls is INCOMPLETE, buffer untouched", test_post_split },
		{ "SOAPAction unquoting", test_soap_action_unquoting },
		{ "chunked body with extensions and trailers", test_chunked },
		{ "chunked growing past max_body is refused early (413)", test_chunked_over_limit_early },
		{ "Content-Length over max_body is refused from the head (413)", test_content_length_limit },
		{ "head and field limits (431)", test_head_limits },
		{ "malformed requests get the right status", test_malformed },
		{ "keep-alive rules for HTTP/1.1 and 1.0", test_keep_alive_rules },
		{ "Expect: 100-continue sets need_continue", test_expect_continue },
		{ "path percent-decoding", test_percent_decoding },
		{ "pipelined requests and consumed", test_pipelined },
		{ "http_write_head exact bytes", test_write_head },
		{ "random mutations of requests", test_random_input },
		{ NULL, NULL }
	};

	return unit_run("http", tests);
}
