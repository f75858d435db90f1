/*
 * test_outbox.c - the outbox (outbox.c): its entry and partner records
 * round-trip and refuse damaged bytes, addresses are classified and parsed,
 * MessageIDs are UUIDs; the store keeps entries and partners with a
 * commit; envelope.c captures reference parameters so they stand alone.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "envelope.h"
#include "mono.h"
#include "outbox.h"
#include "parley.h"
#include "poster.h"
#include "replies.h"
#include "store.h"
#include "unit.h"

static void
sample_entry(struct outbox_entry *e)
{
	static char env[] = "<e>\0binary</e>";

	memset(e, 0, sizeof *e);
	e->created_ms = 1700000000123LL;
	e->next_ms = -5;
	e->attempts = 7;
	e->soap = SOAP_V12;
	e->message_id = "urn:uuid:00000000-0000-4000-8000-000000000001";
	e->address = "http://127.0.0.1:9/x";
	e->action = "";
	e->envelope = env;
	e->envelope_len = sizeof env - 1;
}

static void
test_entry_round_trip(void)
{
	struct outbox_entry e, d;
	struct buf b = BUF_INIT;

	sample_entry(&e);
	CU_ASSERT_EQUAL_FATAL(outbox_entry_encode(&e, &b), 0);
	CU_ASSERT_EQUAL(((unsigned char *)b.data)[0], OUTBOX_FORMAT);
	CU_ASSERT_EQUAL_FATAL(outbox_entry_decode(b.data, b.len, &d), 0);
	CU_ASSERT_EQUAL(d.created_ms, e.created_ms);
	CU_ASSERT_EQUAL(d.next_ms, -5);
	CU_ASSERT_EQUAL(d.attempts, 7);
	CU_ASSERT_EQUAL(d.soap, SOAP_V12);
	CU_ASSERT_STRING_EQUAL(d.message_id, e.message_id);
	CU_ASSERT_STRING_EQUAL(d.address, e.address);
	CU_ASSERT_STRING_EQUAL(d.action, "");
	CU_ASSERT_EQUAL_FATAL(d.envelope_len, e.envelope_len);
	CU_ASSERT_EQUAL(memcmp(d.envelope, e.envelope, e.envelope_len), 0);
	outbox_entry_clear(&d);
	CU_ASSERT_PTR_NULL(d.address);
	buf_free(&b);
}

static void
test_entry_damaged(void)
{
	struct outbox_entry e, d;
	struct buf b = BUF_INIT, c = BUF_INIT;
	size_t n;

	sample_entry(&e);
	CU_ASSERT_EQUAL_FATAL(outbox_entry_encode(&e, &b), 0);
	/* Every proper prefix is refused, and so is a byte more. */
	for (n = 0; n < b.len; n++)
		CU_ASSERT_EQUAL(outbox_entry_decode(b.data, n, &d), PARLEY_EIO);
	CU_ASSERT_EQUAL(buf_append(&c, b.data, b.len), 0);
	CU_ASSERT_EQUAL(buf_append(&c, "", 1), 0);
	CU_ASSERT_EQUAL(outbox_entry_decode(c.data, c.len, &d), PARLEY_EIO);
	/* Another format, another SOAP version. */
	b.data[0] = OUTBOX_FORMAT + 1;
	CU_ASSERT_EQUAL(outbox_entry_decode(b.data, b.len, &d), PARLEY_EIO);
	b.data[0] = OUTBOX_FORMAT;
	b.data[1] = 3;
	CU_ASSERT_EQUAL(outbox_entry_decode(b.data, b.len, &d), PARLEY_EIO);
	b.data[1] = SOAP_V11;
	CU_ASSERT_EQUAL(outbox_entry_decode(b.data, b.len, &d), 0);
	outbox_entry_clear(&d);
	/* A NUL inside the address (after format, soap, two times, attempts, message ID). */
	b.data[1 + 1 + 8 + 8 + 4 + 4 + strlen(e.message_id) + 4 + 3] = '\0';
	CU_ASSERT_EQUAL(outbox_entry_decode(b.data, b.len, &d), PARLEY_EIO);
	/* What cannot be encoded. */
	buf_reset(&c);
	e.address = NULL;
	CU_ASSERT_EQUAL(outbox_entry_encode(&e, &c), PARLEY_EINVAL);
	sample_entry(&e);
	e.message_id = "";
	CU_ASSERT_EQUAL(outbox_entry_encode(&e, &c), PARLEY_EINVAL);
	sample_entry(&e);
	e.soap = 0;
	CU_ASSERT_EQUAL(outbox_entry_encode(&e, &c), PARLEY_EINVAL);
	buf_free(&b);
	buf_free(&c);
}

static void
test_partner(void)
{
	struct outbox_partner p, d;
	struct buf b = BUF_INIT;
	size_t n;

	memset(&p, 0, sizeof p);
	p.soap = SOAP_V11;
	p.wsa = WSA_2004;
	p.address = "http://example.org/cb";
	CU_ASSERT_EQUAL_FATAL(outbox_partner_encode(&p, &b), 0);
	CU_ASSERT_EQUAL_FATAL(outbox_partner_decode(b.data, b.len, &d), 0);
	CU_ASSERT_EQUAL(d.soap, SOAP_V11);
	CU_ASSERT_EQUAL(d.wsa, WSA_2004);
	CU_ASSERT_STRING_EQUAL(d.address, p.address);
	CU_ASSERT_PTR_NULL(d.refparams);
	outbox_partner_clear(&d);
	for (n = 0; n < b.len; n++)
		CU_ASSERT_EQUAL(outbox_partner_decode(b.data, n, &d), PARLEY_EIO);
	buf_reset(&b);
	p.wsa = WSA_10;
	p.refparams = "<k:a xmlns:k=\"urn:k\">1</k:a>";
	CU_ASSERT_EQUAL_FATAL(outbox_partner_encode(&p, &b), 0);
	CU_ASSERT_EQUAL_FATAL(outbox_partner_decode(b.data, b.len, &d), 0);
	CU_ASSERT_STRING_EQUAL(d.refparams, p.refparams);
	outbox_partner_clear(&d);
	b.data[2] = WSA_NONE;
	CU_ASSERT_EQUAL(outbox_partner_decode(b.data, b.len, &d), PARLEY_EIO);
	buf_free(&b);
}

static void
test_addresses(void)
{
	struct poster_url u;

	CU_ASSERT_EQUAL(outbox_address_kind(NULL, WSA_10), OUTBOX_ANONYMOUS);
	CU_ASSERT_EQUAL(outbox_address_kind(WSA10_ANONYMOUS, WSA_10), OUTBOX_ANONYMOUS);
	CU_ASSERT_EQUAL(outbox_address_kind(WSA2004_ANONYMOUS, WSA_2004), OUTBOX_ANONYMOUS);
	CU_ASSERT_EQUAL(outbox_address_kind(WSA10_NONE, WSA_10), OUTBOX_NONE);
	/* In the submission, 1.0's none is just another http:// address. */
	CU_ASSERT_EQUAL(outbox_address_kind(WSA10_NONE, WSA_2004), OUTBOX_HTTP);
	CU_ASSERT_EQUAL(outbox_address_kind("http://h:81/p", WSA_10), OUTBOX_HTTP);
	CU_ASSERT_EQUAL(outbox_address_kind("https://h/p", WSA_10), OUTBOX_UNUSABLE);
	CU_ASSERT_EQUAL(outbox_address_kind("mailto:x@y", WSA_10), OUTBOX_UNUSABLE);
	CU_ASSERT_EQUAL(outbox_address_kind("http://", WSA_10), OUTBOX_UNUSABLE);
	CU_ASSERT_EQUAL(outbox_address_kind("http://h:0/", WSA_10), OUTBOX_UNUSABLE);
	CU_ASSERT_EQUAL(outbox_address_kind("http://h:65536/", WSA_10), OUTBOX_UNUSABLE);
	CU_ASSERT_EQUAL(outbox_address_kind("http://h:8x/", WSA_10), OUTBOX_UNUSABLE);
	CU_ASSERT_EQUAL(outbox_address_kind("http://h /", WSA_10), OUTBOX_UNUSABLE);
	CU_ASSERT_EQUAL(outbox_address_kind("http://u@h/", WSA_10), OUTBOX_UNUSABLE);
	CU_ASSERT_EQUAL_FATAL(poster_parse("http://127.0.0.1:8080/a/b?c", &u), 0);
	CU_ASSERT_STRING_EQUAL(u.host, "127.0.0.1");
	CU_ASSERT_EQUAL(u.port, 8080);
	CU_ASSERT_STRING_EQUAL(u.path, "/a/b?c");
	CU_ASSERT_EQUAL_FATAL(poster_parse("http://example.org", &u), 0);
	CU_ASSERT_EQUAL(u.port, 80);
	CU_ASSERT_STRING_EQUAL(u.path, "/");
	CU_ASSERT_EQUAL_FATAL(poster_parse("http://[::1]:9/x", &u), 0);
	CU_ASSERT_STRING_EQUAL(u.host, "::1");
	CU_ASSERT_EQUAL(u.port, 9);
	CU_ASSERT_EQUAL(poster_parse("http://[::1/x", &u), PARLEY_EINVAL);
}

static void
test_message_id(void)
{
	char a[OUTBOX_MSGID_MAX], b[OUTBOX_MSGID_MAX];

	CU_ASSERT_EQUAL_FATAL(outbox_message_id(a), 0);
	CU_ASSERT_EQUAL_FATAL(outbox_message_id(b), 0);
	CU_ASSERT_EQUAL(strlen(a), strlen("urn:uuid:") + 36);
	CU_ASSERT_EQUAL(strncmp(a, "urn:uuid:", 9), 0);
	CU_ASSERT_EQUAL(a[9 + 14], '4');
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
}

static int
count_entries(void *arg, const void *key, size_t klen, const void *data, size_t len)
{
	unsigned *n = arg;

	(void)klen;
	(void)data;
	(void)len;
	if (key == NULL)
		*n = 0;
	else
		(*n)++;
	return 0;
}

static void
test_store(void)
{
	struct store_config cfg;
	struct store *st = NULL;
	struct store_commit c;
	struct store_record r[2];
	struct conv_meta m;
	struct buf got = BUF_INIT;
	char err[256];
	unsigned n = 0;

	memset(&cfg, 0, sizeof cfg);
	cfg.mode = STORE_MEMORY;
	cfg.cache_bytes = 8u << 20;
	CU_ASSERT_EQUAL_FATAL(store_open(&st, &cfg, err, sizeof err), 0);
	memset(&m, 0, sizeof m);
	snprintf(m.service, sizeof m.service, "svc");
	r[0] = (struct store_record){ "k1", 2, "one", 3 };
	r[1] = (struct store_record){ "k2", 2, "two", 3 };
	memset(&c, 0, sizeof c);
	c.id = "g.aaaaaaaaaaaaaaaaaaaaaaaaaa";
	c.kind = STORE_START;
	c.meta = &m;
	c.bean = "b";
	c.bean_len = 1;
	c.outbox = r;
	c.n_outbox = 2;
	c.partner = "partner";
	c.partner_len = 7;
	CU_ASSERT_EQUAL_FATAL(store_commit(st, &c), 0);
	CU_ASSERT_EQUAL(store_outbox_scan(st, count_entries, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(store_partner_get(st, c.id, &got), 0);
	CU_ASSERT_EQUAL(got.len, 7);
	CU_ASSERT_EQUAL(memcmp(got.data, "partner", 7), 0);
	CU_ASSERT_EQUAL(store_outbox_replace(st, "k1", 2, "uno", 3), 0);
	CU_ASSERT_EQUAL(store_outbox_replace(st, "k3", 2, "tre", 3), PARLEY_ENOENT);
	CU_ASSERT_EQUAL(store_outbox_delete(st, "k2", 2), 0);
	CU_ASSERT_EQUAL(store_outbox_delete(st, "k2", 2), PARLEY_ENOENT);
	CU_ASSERT_EQUAL(store_outbox_put(st, &r[1], 1), 0);
	n = 0;
	CU_ASSERT_EQUAL(store_outbox_scan(st, count_entries, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	/* The partner goes when the conversation is purged. */
	CU_ASSERT_EQUAL(store_expire(st, c.id, 5), 0);
	CU_ASSERT_EQUAL(store_purge(st, c.id), 0);
	CU_ASSERT_EQUAL(store_partner_get(st, c.id, &got), PARLEY_ENOENT);
	conv_meta_clear(&m);
	buf_free(&got);
	store_close(st);
}

#define WSA "xmlns:wsa=\"" NS_WSA10 "\""

static void
test_refparams(void)
{
	static const char msg[] =
	    "<s:Envelope xmlns:s=\"" NS_SOAP11 "\" xmlns:k=\"urn:k\"><s:Header>"
	    "<wsa:Action " WSA ">a</wsa:Action><wsa:MessageID " WSA ">m</wsa:MessageID>"
	    "<wsa:ReplyTo " WSA "><wsa:Address>http://h/r</wsa:Address><wsa:ReferenceParameters>"
	    "<k:A k:x=\"1&lt;2\" wsa:IsReferenceParameter=\"false\">t&amp;u<k:B/></k:A>"
	    "<C xmlns=\"urn:c\">c</C></wsa:ReferenceParameters></wsa:ReplyTo>"
	    "</s:Header><s:Body><b/></s:Body></s:Envelope>";
	struct envelope env;
	struct fault f;

	memset(&env, 0, sizeof env);
	CU_ASSERT_EQUAL_FATAL(envelope_read(msg, sizeof msg - 1, NULL, &env, &f), 0);
	CU_ASSERT_STRING_EQUAL(env.reply_to, "http://h/r");
	CU_ASSERT_PTR_NULL(env.fault_to_params);
	CU_ASSERT_PTR_NOT_NULL_FATAL(env.reply_to_params);
	/* Each element declares what it uses: the text stands alone. */
	CU_ASSERT_TRUE(envelope_content_valid(env.reply_to_params));
	CU_ASSERT_STRING_EQUAL(env.reply_to_params,
	    "<k:A xmlns:k=\"urn:k\" xmlns:wsa=\"" NS_WSA10 "\" k:x=\"1&lt;2\" "
	    "wsa:IsReferenceParameter=\"true\">t&amp;u<k:B xmlns:k=\"urn:k\"></k:B></k:A>"
	    "<C xmlns=\"urn:c\" xmlns:wsa=\"" NS_WSA10 "\" wsa:IsReferenceParameter=\"true\">c</C>");
	envelope_clear(&env);
	CU_ASSERT_FALSE(envelope_content_valid("<a>"));
	CU_ASSERT_FALSE(envelope_content_valid("<p:a/>"));
	CU_ASSERT_FALSE(envelope_content_valid("&undeclared;"));
	CU_ASSERT_FALSE(envelope_content_valid("<!DOCTYPE a><a/>"));
	CU_ASSERT_TRUE(envelope_content_valid("text <a/><b xmlns=\"u\">x</b>"));
	CU_ASSERT_TRUE(envelope_content_valid(""));
}

/* A listening socket on 127.0.0.1 that never accepts; its port in *port. */
static int
silent_listener(unsigned *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 4) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A host that takes the connection and never answers costs the time limit, no more. */
static void
test_poster_limits(void)
{
	char url[64], err[256];
	unsigned port = 0;
	int64_t t0;
	int fd, status = 0;

	fd = silent_listener(&port);
	CU_ASSERT_TRUE_FATAL(fd >= 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/cb", port);
	t0 = mono_ms();
	CU_ASSERT_EQUAL(poster_post(url, "text/xml", "a", "<x/>", 4, 300, &status, err,
	    sizeof err), PARLEY_ETIMEDOUT);
	CU_ASSERT_TRUE(mono_ms() - t0 >= 250);
	CU_ASSERT_TRUE(mono_ms() - t0 < 2000);
	close(fd);
	/* Nobody listens there now: refused at once. */
	t0 = mono_ms();
	CU_ASSERT_EQUAL(poster_post(url, "text/xml", NULL, "<x/>", 4, 5000, &status, err,
	    sizeof err), PARLEY_EIO);
	CU_ASSERT_TRUE(mono_ms() - t0 < 1000);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot connect"));
	CU_ASSERT_EQUAL(poster_post("ftp://x/", "text/xml", NULL, "", 0, 100, &status, err,
	    sizeof err), PARLEY_EINVAL);
}

static void
test_allowed(void)
{
	const char *list = "http://a.example/cb/, http://10.0.0.7:9000/\thttp://b.example/";

	CU_ASSERT_TRUE(replies_allowed(NULL, "http://anywhere/"));
	CU_ASSERT_TRUE(replies_allowed("any", "http://anywhere/"));
	CU_ASSERT_FALSE(replies_allowed("none", "http://anywhere/"));
	CU_ASSERT_FALSE(replies_allowed("", "http://anywhere/"));
	CU_ASSERT_TRUE(replies_allowed(list, "http://a.example/cb/x"));
	CU_ASSERT_TRUE(replies_allowed(list, "http://10.0.0.7:9000/"));
	CU_ASSERT_TRUE(replies_allowed(list, "http://b.example/deep/path"));
	CU_ASSERT_FALSE(replies_allowed(list, "http://a.example/other"));
	CU_ASSERT_FALSE(replies_allowed(list, "http://10.0.0.7:90001/"));
	CU_ASSERT_FALSE(replies_allowed(list, "http://127.0.0.1:8080/parley/admin/undeploy"));
	/* A prefix is matched from the start of the address only. */
	CU_ASSERT_FALSE(replies_allowed(list, "http://evil/?http://a.example/cb/"));
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "an entry record round-trips", test_entry_round_trip },
		{ "damaged entry records are refused", test_entry_damaged },
		{ "a partner record round-trips and refuses damage", test_partner },
		{ "addresses are classified and parsed", test_addresses },
		{ "MessageIDs are random UUIDs", test_message_id },
		{ "the store keeps entries and partners with a commit", test_store },
		{ "reference parameters are captured to stand alone", test_refparams },
		{ "a post is bounded by its time limit", test_poster_limits },
		{ "callback_allow admits addresses by prefix", test_allowed },
		{ NULL, NULL }
	};

	return unit_run("outbox", tests);
}
