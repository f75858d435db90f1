/*
 * envelope.c - reads a SOAP envelope up to the first child of Body with
 * libxml2's SAX2 parser, keeping the WS-Addressing and conversation headers,
 * and writes reply headers and faults (envelope.h). Each call keeps its state
 * in its own struct reader: worker threads read envelopes concurrently.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlversion.h>

#include "envelope.h"
#include "parley.h"

#define SOAP11_ACTOR_NEXT       "http://schemas.xmlsoap.org/soap/actor/next"
#define SOAP12_ROLE_NEXT        NS_SOAP12 "/role/next"
#define SOAP12_ROLE_ULTIMATE    NS_SOAP12 "/role/ultimateReceiver"
#define WSA10_UNSPECIFIED       NS_WSA10 "/unspecified"
#define WSA10_FAULT_ACTION      NS_WSA10 "/fault"
#define WSA10_SOAP_FAULT_ACTION NS_WSA10 "/soap/fault"
#define WSA2004_FAULT_ACTION    NS_WSA2004 "/fault"

#define DEFAULT_MAX_HEADERS 32
#define DEFAULT_MAX_DEPTH   64
#define DEFAULT_MAX_VALUE   2048

/*
 * libxml2 copies every chunk it is given before parsing it; feeding the
 * message in slices keeps that copy small for a large body.
 */
#define CHUNK 65536

#define NO_VALUE SIZE_MAX

/* libxml2 2.12 made the structured error handler take a const error. */
#if LIBXML_VERSION >= 21200
#define XML_ERROR_CONST const
#else
#define XML_ERROR_CONST
#endif

/* The header blocks read; the order of the first seven is the values'. */
enum hdr {
	H_TO,
	H_ACTION,
	H_MESSAGE_ID,
	H_RELATES_TO,
	H_REPLY_TO,             /* endpoint references: their wsa:Address is read */
	H_FAULT_TO,
	H_FROM,
	H_CONVERSATION,         /* from here on, Parley's own headers (pc:) */
	H_JOIN,
	H_NKINDS,
	H_OTHER = H_NKINDS      /* understood or ignored, not read */
};

#define IS_EPR(h) ((h) >= H_REPLY_TO && (h) <= H_FROM)

static const char *const hdr_name[H_NKINDS] = {
	"To", "Action", "MessageID", "RelatesTo", "ReplyTo", "FaultTo", "From",
	"ConversationID", "JoinConversation"
};

#define IS_PC(h) ((h) >= H_CONVERSATION && (h) < H_NKINDS)

/* Where in the envelope the reader is. */
enum part {
	P_PROLOG, P_ENVELOPE, P_HEADER, P_AFTER_HEADER, P_BODY,
	P_BODY_CONTENT,         /* past the Body's first child: only well-formedness is checked */
	P_AFTER_BODY,
	P_DONE                  /* the Envelope has closed */
};

enum wsa_problem { WSA_INVALID, WSA_REQUIRED };

struct reader {
	xmlParserCtxtPtr ctxt;
	struct envelope *env;
	struct fault *fault;
	unsigned max_headers;
	unsigned max_depth;
	size_t max_value;
	int rc;                 /* what envelope_read returns */
	int stopped;            /* the parser was stopped: ignore what follows */
	int pending;            /* a WS-Addressing fault waits for the end of Header */
	enum part part;
	unsigned depth;
	const char *soap_ns;
	enum hdr block;         /* the header block being read */
	const char *block_ns;   /* its namespace, as a static string */
	int want_address;       /* read the wsa:Address child of this block */
	unsigned seen[H_NKINDS];
	size_t off[H_NKINDS];   /* offsets of the values in env->store */
	int capturing;
	enum hdr cap_kind;
	unsigned cap_depth;
	size_t cap_start;
	size_t body_ns, body_name;
	size_t nu_ns, nu_name;  /* the header not understood */
	/* the reference parameters of the EPR being read, rewritten standalone */
	int rp_active;          /* inside wsa:ReferenceParameters of block */
	struct buf rp;
	size_t rp_off[H_NKINDS];
	const char *buf;        /* the message, for the Header's byte range */
	size_t len;
	size_t envelope_tag_end;
};

/*
 * libxml2 2.9's xmlInitParser is documented as not reentrant; running it
 * once here lets workers call envelope_read concurrently from the start.
 * The once-control is the only static state in this file.
 */
static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void rp_text(struct reader *r, const xmlChar *ch, int len);

static void
xml_init(void)
{
	xmlInitParser();
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Compare the attribute value [v, end), trimmed of white space, with s. */
static int
attr_eq(const xmlChar *v, const xmlChar *end, const char *s)
{
	size_t n;

	while (v < end && is_space(*v))
		v++;
	while (end > v && is_space(end[-1]))
		end--;
	n = (size_t)(end - v);
	return strlen(s) == n && memcmp(v, s, n) == 0;
}

static int
fault_vset(struct fault *f, enum fault_code code, const char *subcode_ns,
    const char *subcode, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static int
fault_vset(struct fault *f, enum fault_code code, const char *subcode_ns,
    const char *subcode, const char *fmt, va_list ap)
{
	memset(f, 0, sizeof *f);
	f->code = code;
	if (subcode_ns != NULL && subcode != NULL) {
		f->subcode_ns = subcode_ns;
		f->subcode = subcode;
	}
	vsnprintf(f->reason, sizeof f->reason, fmt, ap);
	return PARLEY_EFAULT;
}

int
fault_set(struct fault *f, enum fault_code code, const char *subcode_ns,
    const char *subcode, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fault_vset(f, code, subcode_ns, subcode, fmt, ap);
	va_end(ap);
	return PARLEY_EFAULT;
}

/* Stop parsing; rc is 0 when the reader has all it needs. */
static void
halt(struct reader *r, int rc)
{
	r->rc = rc;
	r->stopped = 1;
	r->capturing = 0;
	xmlStopParser(r->ctxt);
}

static void
fail(struct reader *r, enum fault_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct reader *r, enum fault_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fault_vset(r->fault, code, NULL, NULL, fmt, ap);
	va_end(ap);
	halt(r, PARLEY_EFAULT);
}

static void
addressing_fault(struct reader *r, enum wsa_problem problem,
    const char *subsubcode, const char *header_ns, const char *header,
    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * Record a WS-Addressing fault in the names of the message's version: the
 * 2004/08 submission has its own subcodes and no subsubcodes. The fault
 * waits for the end of Header, because SOAP wants a MustUnderstand fault
 * before any other once a header is not understood.
 */
static void
addressing_fault(struct reader *r, enum wsa_problem problem,
    const char *subsubcode, const char *header_ns, const char *header,
    const char *fmt, ...)
{
	int sub = r->env->wsa == WSA_2004;
	const char *subcode;
	va_list ap;

	if (r->pending)
		return;
	if (sub)
		subcode = problem == WSA_INVALID ? "InvalidMessageInformationHeader" :
		    "MessageInformationHeaderRequired";
	else
		subcode = problem == WSA_INVALID ? "InvalidAddressingHeader" :
		    "MessageAddressingHeaderRequired";
	va_start(ap, fmt);
	fault_vset(r->fault, FAULT_SENDER, sub ? NS_WSA2004 : NS_WSA10, subcode, fmt, ap);
	va_end(ap);
	if (!sub)
		r->fault->subsubcode = subsubcode;
	r->fault->problem_header_ns = header_ns;
	r->fault->problem_header = header;
	r->pending = 1;
}

/* Copy s, with its NUL, into the envelope's storage at *off. */
static int
store(struct reader *r, const char *s, size_t *off)
{
	*off = r->env->store.len;
	return buf_append(&r->env->store, s, strlen(s) + 1);
}

static void
capture_start(struct reader *r, enum hdr kind)
{
	/* Reserving gives store.data a value even when the text is empty. */
	if (buf_reserve(&r->env->store, 64) != 0) {
		halt(r, PARLEY_ENOMEM);
		return;
	}
	r->capturing = 1;
	r->cap_kind = kind;
	r->cap_depth = r->depth;
	r->cap_start = r->env->store.len;
}

static void
capture_end(struct reader *r)
{
	struct buf *b = &r->env->store;
	char *s = b->data + r->cap_start;
	size_t len = b->len - r->cap_start;
	size_t lead = 0;

	r->capturing = 0;
	while (lead < len && is_space(s[lead]))
		lead++;
	while (len > lead && is_space(s[len - 1]))
		len--;
	memmove(s, s + lead, len - lead);
	b->len = r->cap_start + (len - lead);
	if (buf_append(b, "", 1) != 0) {
		halt(r, PARLEY_ENOMEM);
		return;
	}
	r->off[r->cap_kind] = r->cap_start;
}

static void
on_text(void *ctx, const xmlChar *ch, int len)
{
	struct reader *r = ctx;
	size_t have;

	if (!r->stopped && r->rp_active && r->depth > 4 && len > 0) {
		rp_text(r, ch, len);
		return;
	}
	if (r->stopped || !r->capturing || r->depth != r->cap_depth || len <= 0)
		return;
	/* The limit counts the bytes as sent, white space included. */
	have = r->env->store.len - r->cap_start;
	if ((size_t)len > r->max_value - have) {
		fail(r, FAULT_SENDER, "the value of %s:%s is longer than %zu bytes (max_value)",
		    IS_PC(r->cap_kind) ? "pc" : "wsa", hdr_name[r->cap_kind],
		    r->max_value);
		return;
	}
	if (buf_append(&r->env->store, ch, (size_t)len) != 0)
		halt(r, PARLEY_ENOMEM);
}

/*
 * The offset in the message of the parser's position: at an element's start
 * callback, its start tag's '>' (or "/>"); at an end callback, just past
 * the end tag. SIZE_MAX when libxml2 cannot tell.
 */
static size_t
position(const struct reader *r)
{
	long pos = xmlByteConsumed(r->ctxt);

	return pos < 0 || (size_t)pos > r->len ? SIZE_MAX : (size_t)pos;
}

/* ---- reference parameters ------------------------------------------------
 *
 * The children of an EPR's wsa:ReferenceParameters are kept as XML text that
 * stands alone: each element declares every prefix it uses (redundant
 * declarations are legal XML), so the text can be put into another
 * message's Header as is. In WS-Addressing 1.0 each top-level element is
 * echoed as a header block with wsa:IsReferenceParameter="true", which the
 * text carries already; the submission has no such attribute.
 */

#define RP_MAX_PREFIXES 16

struct rp_scope {
	const char *prefix[RP_MAX_PREFIXES];   /* "" for the default namespace */
	const char *uri[RP_MAX_PREFIXES];
	unsigned n;
};

static void rp_fail(struct reader *r);

/* Declare prefix (NULL: the default namespace) as uri on the element being written. */
static void
rp_declare(struct reader *r, struct rp_scope *sc, const char *prefix, const char *uri)
{
	const char *p = prefix != NULL ? prefix : "";
	unsigned i;
	int rc;

	for (i = 0; i < sc->n; i++)
		if (strcmp(sc->prefix[i], p) == 0)
			return;
	if (sc->n == RP_MAX_PREFIXES) {
		rp_fail(r);
		return;
	}
	sc->prefix[sc->n] = p;
	sc->uri[sc->n] = uri != NULL ? uri : "";
	sc->n++;
	if (*p == '\0')
		rc = buf_puts(&r->rp, " xmlns=\"");
	else
		rc = buf_printf(&r->rp, " xmlns:%s=\"", p);
	if (rc != 0 || buf_put_xml(&r->rp, uri != NULL ? uri : "") != 0 ||
	    buf_puts(&r->rp, "\"") != 0)
		halt(r, PARLEY_ENOMEM);
}

static void
rp_fail(struct reader *r)
{
	fail(r, FAULT_SENDER, "the reference parameters of wsa:%s are too large or use too "
	    "many namespaces (at most %zu bytes)", hdr_name[r->block], 2 * r->max_value);
}

static void
rp_check(struct reader *r)
{
	if (!r->stopped && r->rp.len > 2 * r->max_value)
		rp_fail(r);
}

static void
rp_start(struct reader *r, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces, int nb_attributes,
    const xmlChar **attrs)
{
	struct rp_scope sc;
	int top = r->depth == 5, i;
	const char *mark = NULL;

	memset(&sc, 0, sizeof sc);
	if (buf_puts(&r->rp, "<") != 0 ||
	    (prefix != NULL && buf_printf(&r->rp, "%s:", (const char *)prefix) != 0) ||
	    buf_puts(&r->rp, (const char *)localname) != 0) {
		halt(r, PARLEY_ENOMEM);
		return;
	}
	for (i = 0; i < nb_namespaces && !r->stopped; i++)
		rp_declare(r, &sc, (const char *)namespaces[2 * i],
		    (const char *)namespaces[2 * i + 1]);
	rp_declare(r, &sc, (const char *)prefix, (const char *)uri);
	for (i = 0; i < nb_attributes && !r->stopped; i++) {
		const xmlChar **a = attrs + 5 * i;

		if (a[1] != NULL)
			rp_declare(r, &sc, (const char *)a[1], (const char *)a[2]);
	}
	if (top && r->env->wsa == WSA_10 && !r->stopped) {
		/* The attribute under a prefix of its own unless wsa is ours already. */
		for (i = 0; i < (int)sc.n; i++)
			if (strcmp(sc.prefix[i], "wsa") == 0)
				mark = strcmp(sc.uri[i], NS_WSA10) == 0 ? "wsa" : "wsarp";
		if (mark == NULL || strcmp(mark, "wsarp") == 0) {
			mark = mark == NULL ? "wsa" : "wsarp";
			rp_declare(r, &sc, mark, NS_WSA10);
		}
	}
	for (i = 0; i < nb_attributes && !r->stopped; i++) {
		const xmlChar **a = attrs + 5 * i;
		struct buf v = BUF_INIT;
		int rc;

		/* The echo's own attribute replaces one the sender put there. */
		if (top && a[2] != NULL && (strcmp((const char *)a[2], NS_WSA10) == 0 ||
		    strcmp((const char *)a[2], NS_WSA2004) == 0) &&
		    strcmp((const char *)a[0], "IsReferenceParameter") == 0)
			continue;
		if (buf_append(&v, a[3], (size_t)(a[4] - a[3])) != 0) {
			halt(r, PARLEY_ENOMEM);
			return;
		}
		rc = buf_puts(&r->rp, " ");
		if (rc == 0 && a[1] != NULL)
			rc = buf_printf(&r->rp, "%s:", (const char *)a[1]);
		if (rc == 0)
			rc = buf_printf(&r->rp, "%s=\"", (const char *)a[0]);
		if (rc == 0)
			rc = buf_put_xml(&r->rp, v.data != NULL ? v.data : "");
		if (rc == 0)
			rc = buf_puts(&r->rp, "\"");
		buf_free(&v);
		if (rc != 0) {
			halt(r, PARLEY_ENOMEM);
			return;
		}
	}
	if (mark != NULL && !r->stopped &&
	    buf_printf(&r->rp, " %s:IsReferenceParameter=\"true\"", mark) != 0) {
		halt(r, PARLEY_ENOMEM);
		return;
	}
	if (!r->stopped && buf_puts(&r->rp, ">") != 0)
		halt(r, PARLEY_ENOMEM);
	rp_check(r);
}

static void
rp_end(struct reader *r, const xmlChar *localname, const xmlChar *prefix)
{
	if (buf_puts(&r->rp, "</") != 0 ||
	    (prefix != NULL && buf_printf(&r->rp, "%s:", (const char *)prefix) != 0) ||
	    buf_printf(&r->rp, "%s>", (const char *)localname) != 0)
		halt(r, PARLEY_ENOMEM);
	rp_check(r);
}

static void
rp_text(struct reader *r, const xmlChar *ch, int len)
{
	struct buf v = BUF_INIT;

	if (buf_append(&v, ch, (size_t)len) != 0 || buf_put_xml(&r->rp, v.data) != 0)
		halt(r, PARLEY_ENOMEM);
	buf_free(&v);
	rp_check(r);
}

/* The end of wsa:ReferenceParameters: keep what was read with the envelope's strings. */
static void
rp_finish(struct reader *r)
{
	r->rp_active = 0;
	if (r->rp.len == 0)
		return;
	if (store(r, r->rp.data, &r->rp_off[r->block]) != 0)
		halt(r, PARLEY_ENOMEM);
}

static void
start_root(struct reader *r, const char *ns, const char *name)
{
	size_t pos = position(r);

	if (pos != SIZE_MAX && pos < r->len && r->buf[pos] == '>')
		r->envelope_tag_end = pos + 1;
	if (strcmp(name, "Envelope") != 0) {
		fail(r, FAULT_SENDER, "the root element is {%s}%s, not a SOAP Envelope", ns, name);
		return;
	}
	if (strcmp(ns, NS_SOAP11) == 0) {
		r->env->soap = SOAP_V11;
		r->soap_ns = NS_SOAP11;
	} else if (strcmp(ns, NS_SOAP12) == 0) {
		r->env->soap = SOAP_V12;
		r->soap_ns = NS_SOAP12;
	} else {
		fail(r, FAULT_VERSION_MISMATCH, "the Envelope is in namespace \"%s\"; this node "
		    "accepts SOAP 1.1 (" NS_SOAP11 ") and SOAP 1.2 (" NS_SOAP12 ")", ns);
		return;
	}
	r->part = P_ENVELOPE;
}

static void
start_part(struct reader *r, const char *ns, const char *name)
{
	int soap = strcmp(ns, r->soap_ns) == 0;

	if (soap && strcmp(name, "Header") == 0 && r->part == P_ENVELOPE)
		r->part = P_HEADER;
	else if (soap && strcmp(name, "Body") == 0)
		r->part = P_BODY;
	else if (soap && strcmp(name, "Header") == 0)
		fail(r, FAULT_SENDER, "the Envelope has a second Header");
	else
		fail(r, FAULT_SENDER, "unexpected element {%s}%s in the Envelope, "
		    "where Header or Body belongs", ns, name);
}

/* Whether a block with this actor (1.1) or role (1.2) is for this node. */
static int
targeted(const struct reader *r, const xmlChar *v, const xmlChar *end)
{
	/* Some toolkits write an empty role for the default one. */
	if (attr_eq(v, end, ""))
		return 1;
	if (r->env->soap == SOAP_V11)
		return attr_eq(v, end, SOAP11_ACTOR_NEXT);
	return attr_eq(v, end, SOAP12_ROLE_NEXT) || attr_eq(v, end, SOAP12_ROLE_ULTIMATE);
}

static void
must_understand_fault(struct reader *r, const char *ns, const char *name)
{
	if (store(r, ns, &r->nu_ns) != 0 || store(r, name, &r->nu_name) != 0) {
		halt(r, PARLEY_ENOMEM);
		return;
	}
	/* This replaces a pending WS-Addressing fault: SOAP puts it first. */
	fault_set(r->fault, FAULT_MUST_UNDERSTAND, NULL, NULL,
	    "header {%s}%s must be understood, and this node does not", ns, name);
	halt(r, PARLEY_EFAULT);
}

static enum hdr
wsa_kind(const char *name)
{
	int i;

	for (i = 0; i <= H_FROM; i++)
		if (strcmp(name, hdr_name[i]) == 0)
			return (enum hdr)i;
	return H_OTHER;
}

static void
start_block(struct reader *r, const char *ns, const char *name, int nb_attributes,
    const xmlChar **attrs)
{
	const xmlChar **mu = NULL, **role = NULL, **refp = NULL;
	enum wsa_version v = WSA_NONE;
	enum hdr kind;
	int must = 0, i;

	r->block = H_OTHER;
	r->want_address = 0;
	if (*ns == '\0') {
		fail(r, FAULT_SENDER, "header block %s is not namespace-qualified", name);
		return;
	}
	for (i = 0; i < nb_attributes; i++) {
		const xmlChar **a = attrs + 5 * i;
		const char *an = (const char *)a[0], *ans = (const char *)a[2];

		if (ans == NULL)
			continue;
		if (strcmp(ans, r->soap_ns) == 0) {
			if (strcmp(an, "mustUnderstand") == 0)
				mu = a;
			else if (strcmp(an, r->env->soap == SOAP_V11 ? "actor" : "role") == 0)
				role = a;
		} else if ((strcmp(ans, NS_WSA10) == 0 || strcmp(ans, NS_WSA2004) == 0) &&
		    strcmp(an, "IsReferenceParameter") == 0)
			refp = a;
	}
	if (role != NULL && !targeted(r, role[3], role[4]))
		return;
	if (++r->env->header_count > r->max_headers) {
		fail(r, FAULT_SENDER, "the message has more than %u header blocks; this node "
		    "accepts at most %u (max_headers)", r->max_headers, r->max_headers);
		return;
	}
	if (mu != NULL) {
		if (attr_eq(mu[3], mu[4], "1") || attr_eq(mu[3], mu[4], "true"))
			must = 1;
		else if (!attr_eq(mu[3], mu[4], "0") && !attr_eq(mu[3], mu[4], "false")) {
			int n = mu[4] - mu[3] > 40 ? 40 : (int)(mu[4] - mu[3]);

			fail(r, FAULT_SENDER, "header block {%s}%s has mustUnderstand=\"%.*s\"; "
			    "expected 0, 1, true or false", ns, name, n, (const char *)mu[3]);
			return;
		}
	}

	if (strcmp(ns, NS_WSA10) == 0) {
		v = WSA_10;
		r->block_ns = NS_WSA10;
	} else if (strcmp(ns, NS_WSA2004) == 0) {
		v = WSA_2004;
		r->block_ns = NS_WSA2004;
	}
	if (v != WSA_NONE) {
		kind = wsa_kind(name);
		if (r->env->wsa == WSA_NONE)
			r->env->wsa = v;
		else if (r->env->wsa != v) {
			addressing_fault(r, WSA_INVALID, NULL, r->block_ns,
			    kind == H_OTHER ? NULL : hdr_name[kind],
			    "the message mixes WS-Addressing versions: {%s}%s after headers in %s",
			    ns, name, r->env->wsa == WSA_10 ? NS_WSA10 : NS_WSA2004);
			return;
		}
	} else if (strcmp(ns, NS_PC) == 0 && strcmp(name, "ConversationID") == 0) {
		kind = H_CONVERSATION;
		r->block_ns = NS_PC;
	} else if (strcmp(ns, NS_PC) == 0 && strcmp(name, "JoinConversation") == 0) {
		kind = H_JOIN;
		r->block_ns = NS_PC;
	} else {
		if (must)
			must_understand_fault(r, ns, name);
		return;
	}
	/* Other elements of WS-Addressing (FaultDetail, ...) are understood, not read. */
	if (kind == H_OTHER)
		return;

	r->block = kind;
	if (++r->seen[kind] > 1 && kind != H_RELATES_TO) {
		addressing_fault(r, WSA_INVALID, "InvalidCardinality", r->block_ns, hdr_name[kind],
		    "the message has more than one %s:%s header",
		    IS_PC(kind) ? "pc" : "wsa", hdr_name[kind]);
		return;
	}
	/* Only the first RelatesTo is kept; nothing is read once a fault waits. */
	if (r->seen[kind] > 1 || r->pending)
		return;
	if (kind == H_CONVERSATION && refp != NULL)
		r->env->conversation_refparam = attr_eq(refp[3], refp[4], "true") ||
		    attr_eq(refp[3], refp[4], "1");
	if (IS_EPR(kind))
		r->want_address = 1;
	else
		capture_start(r, kind);
}

static void
end_header(struct reader *r)
{
	const char *ns = r->env->wsa == WSA_10 ? NS_WSA10 : NS_WSA2004;
	enum hdr missing = H_OTHER;
	size_t pos = position(r);

	/* Only a range that starts after the Envelope's tag and ends with '>' is trusted. */
	if (r->envelope_tag_end > 0 && pos != SIZE_MAX && pos > r->envelope_tag_end &&
	    r->buf[pos - 1] == '>') {
		r->env->header_from = r->envelope_tag_end;
		r->env->header_to = pos;
	}
	r->part = P_AFTER_HEADER;
	if (r->pending) {
		halt(r, PARLEY_EFAULT);
		return;
	}
	if (r->env->wsa == WSA_NONE)
		return;
	/*
	 * Action is required by both versions in every message, To by the
	 * submission; MessageID because every Parley operation answers.
	 */
	if (r->seen[H_ACTION] == 0)
		missing = H_ACTION;
	else if (r->env->wsa == WSA_2004 && r->seen[H_TO] == 0)
		missing = H_TO;
	else if (r->seen[H_MESSAGE_ID] == 0)
		missing = H_MESSAGE_ID;
	if (missing == H_OTHER)
		return;
	addressing_fault(r, WSA_REQUIRED, NULL, ns, hdr_name[missing],
	    "the message uses WS-Addressing (%s) but has no wsa:%s header", ns,
	    hdr_name[missing]);
	halt(r, PARLEY_EFAULT);
}

/*
 * The Body's first child names the operation. The rest of the Body is read
 * by the service's gSOAP code, which is lenient about what XML forbids
 * (bad UTF-8, character references to non-characters, undeclared
 * entities, bytes after the Envelope): reading on to the end here makes
 * sure nothing of that reaches a handler, or a bean, or a later answer.
 */
static void
start_body(struct reader *r, const char *ns, const char *name)
{
	if (store(r, ns, &r->body_ns) != 0 || store(r, name, &r->body_name) != 0) {
		halt(r, PARLEY_ENOMEM);
		return;
	}
	r->part = P_BODY_CONTENT;
}

static void
on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
    int nb_namespaces, const xmlChar **namespaces, int nb_attributes, int nb_defaulted,
    const xmlChar **attributes)
{
	struct reader *r = ctx;
	const char *name = (const char *)localname;
	const char *ns = uri != NULL ? (const char *)uri : "";

	(void)prefix;
	(void)nb_namespaces;
	(void)namespaces;
	(void)nb_defaulted;
	if (r->stopped)
		return;
	if (++r->depth > r->max_depth) {
		fail(r, FAULT_SENDER, "the message nests elements more than %u deep (max_depth)",
		    r->max_depth);
		return;
	}
	if (r->rp_active && r->depth > 4) {
		rp_start(r, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
		    attributes);
		return;
	}
	switch (r->depth) {
	case 1:
		start_root(r, ns, name);
		break;
	case 2:
		if (r->part == P_AFTER_BODY)
			fail(r, FAULT_SENDER, "unexpected element {%s}%s after the Body", ns, name);
		else
			start_part(r, ns, name);
		break;
	case 3:
		if (r->part == P_HEADER)
			start_block(r, ns, name, nb_attributes, attributes);
		else if (r->part == P_BODY)
			start_body(r, ns, name);
		break;
	case 4:
		if (r->part == P_HEADER && r->want_address && !r->pending &&
		    strcmp(ns, r->block_ns) == 0 && strcmp(name, "Address") == 0) {
			r->want_address = 0;
			capture_start(r, r->block);
		} else if (r->part == P_HEADER && IS_EPR(r->block) && !r->pending &&
		    r->seen[r->block] == 1 && strcmp(ns, r->block_ns) == 0 &&
		    strcmp(name, "ReferenceParameters") == 0) {
			buf_reset(&r->rp);
			r->rp_active = 1;
		}
		break;
	default:
		break;
	}
}

static void
on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
	struct reader *r = ctx;

	(void)uri;
	if (r->stopped)
		return;
	if (r->rp_active && r->depth > 4) {
		rp_end(r, localname, prefix);
		r->depth--;
		return;
	}
	if (r->rp_active && r->depth == 4)
		rp_finish(r);
	if (r->capturing && r->depth == r->cap_depth)
		capture_end(r);
	if (!r->stopped) {
		if (r->depth == 3 && r->part == P_HEADER) {
			r->block = H_OTHER;
			r->want_address = 0;
		} else if (r->depth == 2 && r->part == P_HEADER) {
			end_header(r);
		} else if (r->depth == 2 && (r->part == P_BODY || r->part == P_BODY_CONTENT)) {
			r->part = P_AFTER_BODY;
		} else if (r->depth == 1 && r->part == P_AFTER_BODY) {
			r->part = P_DONE;
		} else if (r->depth == 1) {
			fail(r, FAULT_SENDER, "the Envelope has no Body");
		}
	}
	r->depth--;
}

static void
on_dtd(void *ctx, const xmlChar *name, const xmlChar *external_id, const xmlChar *system_id)
{
	(void)name;
	(void)external_id;
	(void)system_id;
	/* Called before the internal subset is read: no entity is ever declared. */
	fail(ctx, FAULT_SENDER, "DTDs are not allowed in SOAP messages");
}

static void
on_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
	(void)target;
	(void)data;
	fail(ctx, FAULT_SENDER, "processing instructions are not allowed in SOAP messages");
}

static void
on_error(void *ctx, XML_ERROR_CONST xmlError *err)
{
	struct reader *r = ctx;
	const char *msg;
	size_t n;

	if (r->stopped || err == NULL || err->level < XML_ERR_ERROR)
		return;
	if (err->code == XML_ERR_NO_MEMORY) {
		halt(r, PARLEY_ENOMEM);
		return;
	}
	msg = err->message != NULL ? err->message : "unknown error";
	/* The push parser calls a truncated document "Extra content at the end" too. */
	if (err->code == XML_ERR_DOCUMENT_END)
		msg = r->part == P_PROLOG ? "the document is empty"
		    : r->part == P_DONE ? "content after the end of the Envelope"
		    : "premature end of data";
	n = strlen(msg);
	while (n > 0 && is_space(msg[n - 1]))
		n--;
	/* This replaces a pending WS-Addressing fault: the XML comes first. */
	fault_set(r->fault, FAULT_SENDER, NULL, NULL, "malformed XML at line %d: %.*s",
	    err->line, (int)(n > 400 ? 400 : n), msg);
	halt(r, PARLEY_EFAULT);
}

static const char *
at(const struct envelope *env, size_t off)
{
	return off == NO_VALUE ? NULL : env->store.data + off;
}

/* Point the envelope's strings into its storage, which no longer moves. */
static void
publish(struct reader *r)
{
	struct envelope *env = r->env;

	env->to = at(env, r->off[H_TO]);
	env->action = at(env, r->off[H_ACTION]);
	env->message_id = at(env, r->off[H_MESSAGE_ID]);
	env->relates_to = at(env, r->off[H_RELATES_TO]);
	env->reply_to = at(env, r->off[H_REPLY_TO]);
	env->fault_to = at(env, r->off[H_FAULT_TO]);
	env->from = at(env, r->off[H_FROM]);
	env->reply_to_params = at(env, r->rp_off[H_REPLY_TO]);
	env->fault_to_params = at(env, r->rp_off[H_FAULT_TO]);
	env->from_params = at(env, r->rp_off[H_FROM]);
	env->conversation_id = at(env, r->off[H_CONVERSATION]);
	env->join_id = at(env, r->off[H_JOIN]);
	env->body_ns = at(env, r->body_ns);
	env->body_name = at(env, r->body_name);
	if (r->rc == PARLEY_EFAULT && r->fault->code == FAULT_MUST_UNDERSTAND &&
	    r->nu_name != NO_VALUE) {
		r->fault->not_understood_ns = at(env, r->nu_ns);
		r->fault->not_understood = at(env, r->nu_name);
	}
}

int
envelope_read(const char *buf, size_t len, const struct envelope_limits *lim,
    struct envelope *env, struct fault *fault)
{
	struct reader r;
	xmlSAXHandler sax;
	size_t done, n;
	int first, i;

	pthread_once(&xml_once, xml_init);
	memset(&r, 0, sizeof r);
	r.env = env;
	r.fault = fault;
	r.buf = buf;
	r.len = len;
	r.max_headers = lim != NULL && lim->max_headers != 0 ? lim->max_headers :
	    DEFAULT_MAX_HEADERS;
	r.max_depth = lim != NULL && lim->max_depth != 0 ? lim->max_depth : DEFAULT_MAX_DEPTH;
	r.max_value = lim != NULL && lim->max_value != 0 ? lim->max_value : DEFAULT_MAX_VALUE;
	r.part = P_PROLOG;
	r.block = H_OTHER;
	for (i = 0; i < H_NKINDS; i++)
		r.off[i] = r.rp_off[i] = NO_VALUE;
	r.body_ns = r.body_name = r.nu_ns = r.nu_name = NO_VALUE;
	env->soap = SOAP_V11;

	/*
	 * No entity, external subset or resolver callback is set, and the
	 * options leave out NOENT, DTDLOAD and XINCLUDE: nothing is fetched
	 * or expanded. serror keeps libxml2 from printing anything.
	 */
	memset(&sax, 0, sizeof sax);
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = on_start;
	sax.endElementNs = on_end;
	sax.characters = on_text;
	sax.cdataBlock = on_text;
	sax.ignorableWhitespace = on_text;
	sax.internalSubset = on_dtd;
	sax.processingInstruction = on_pi;
	sax.serror = on_error;

	/* The first bytes let libxml2 detect the encoding, as xmllint --push does. */
	first = len < 4 ? (int)len : 4;
	r.ctxt = xmlCreatePushParserCtxt(&sax, &r, buf, first, NULL);
	if (r.ctxt == NULL) {
		r.rc = PARLEY_ENOMEM;
		goto out;
	}
	xmlCtxtUseOptions(r.ctxt, XML_PARSE_NONET);
	done = (size_t)first;
	do {
		n = len - done < CHUNK ? len - done : CHUNK;
		xmlParseChunk(r.ctxt, buf + done, (int)n, done + n == len);
		done += n;
	} while (!r.stopped && done < len);
	if (!r.stopped && r.part != P_DONE)
		fail(&r, FAULT_SENDER, "the message ends before its SOAP Body");

out:
	publish(&r);
	buf_free(&r.rp);
	xmlFreeParserCtxt(r.ctxt);
	return r.rc;
}

void
envelope_clear(struct envelope *env)
{
	buf_free(&env->store);
	memset(env, 0, sizeof *env);
}

/* ------------------------------------------------------------------------
 * Writers
 * ------------------------------------------------------------------------ */

static void
truncate_to(struct buf *b, size_t len)
{
	b->len = len;
	if (b->data != NULL)
		b->data[len] = '\0';
}

/* The prefix written for ns: the usual one for our namespaces. */
static const char *
prefix_for(const char *ns)
{
	if (strcmp(ns, NS_WSA10) == 0 || strcmp(ns, NS_WSA2004) == 0)
		return "wsa";
	if (strcmp(ns, NS_PC) == 0)
		return "pc";
	return "p";
}

/* Append ` xmlns:pfx="ns"`; nothing for no namespace, which has no prefix. */
static int
put_xmlns(struct buf *out, const char *pfx, const char *ns)
{
	if (*ns == '\0')
		return 0;
	if (buf_printf(out, " xmlns:%s=\"", pfx) != 0 || buf_put_xml(out, ns) != 0 ||
	    buf_puts(out, "\"") != 0)
		return PARLEY_ENOMEM;
	return 0;
}

static int
put_qname(struct buf *out, const char *pfx, const char *ns, const char *name)
{
	if (*ns != '\0' && buf_printf(out, "%s:", pfx) != 0)
		return PARLEY_ENOMEM;
	return buf_put_xml(out, name);
}

/* Append <pfx:name xmlns:pfx="ns">value</pfx:name>. */
static int
put_text_header(struct buf *out, const char *pfx, const char *ns, const char *name,
    const char *value)
{
	if (buf_printf(out, "<%s:%s xmlns:%s=\"%s\">", pfx, name, pfx, ns) != 0 ||
	    buf_put_xml(out, value) != 0 || buf_printf(out, "</%s:%s>", pfx, name) != 0)
		return PARLEY_ENOMEM;
	return 0;
}

/* The namespace of the WS-Addressing detail elements of a fault. */
static const char *
detail_ns(const struct fault *f)
{
	if (f->subcode_ns != NULL && strcmp(f->subcode_ns, NS_WSA2004) == 0)
		return NS_WSA2004;
	return NS_WSA10;
}

static int
has_detail(const struct fault *f)
{
	return f->problem_header != NULL || f->problem_action != NULL;
}

/* Append wsa:ProblemHeaderQName and wsa:ProblemAction, in namespace wns. */
static int
put_detail(struct buf *out, const char *wns, const struct fault *f)
{
	if (f->problem_header != NULL) {
		const char *hns = f->problem_header_ns != NULL ? f->problem_header_ns : "";
		const char *pfx = strcmp(hns, wns) == 0 ? "wsa" :
		    strcmp(hns, NS_PC) == 0 ? "pc" : "p";

		if (buf_printf(out, "<wsa:ProblemHeaderQName xmlns:wsa=\"%s\"", wns) != 0 ||
		    (strcmp(pfx, "wsa") != 0 && put_xmlns(out, pfx, hns) != 0) ||
		    buf_puts(out, ">") != 0 ||
		    put_qname(out, pfx, hns, f->problem_header) != 0 ||
		    buf_puts(out, "</wsa:ProblemHeaderQName>") != 0)
			return PARLEY_ENOMEM;
	}
	if (f->problem_action != NULL) {
		if (buf_printf(out, "<wsa:ProblemAction xmlns:wsa=\"%s\"><wsa:Action>", wns) != 0 ||
		    buf_put_xml(out, f->problem_action) != 0 ||
		    buf_puts(out, "</wsa:Action></wsa:ProblemAction>") != 0)
			return PARLEY_ENOMEM;
	}
	return 0;
}

/*
 * The header blocks that come with a fault: NotUnderstood (SOAP 1.2),
 * Upgrade, and for SOAP 1.1, whose detail is only for the Body, the
 * WS-Addressing detail in a wsa:FaultDetail block (WS-Addressing 1.0 SOAP
 * binding, section 6; the submission defines no such block).
 */
static int
put_fault_headers(struct buf *out, enum soap_version soap, const struct fault *f)
{
	if (f->code == FAULT_MUST_UNDERSTAND && soap == SOAP_V12 && f->not_understood != NULL) {
		const char *ns = f->not_understood_ns != NULL ? f->not_understood_ns : "";
		const char *pfx = prefix_for(ns);

		if (buf_puts(out, "<SOAP-ENV:NotUnderstood qname=\"") != 0 ||
		    put_qname(out, pfx, ns, f->not_understood) != 0 ||
		    buf_puts(out, "\"") != 0 || put_xmlns(out, pfx, ns) != 0 ||
		    buf_puts(out, "/>") != 0)
			return PARLEY_ENOMEM;
	}
	if (f->code == FAULT_VERSION_MISMATCH &&
	    buf_puts(out, "<upg:Upgrade xmlns:upg=\"" NS_SOAP12 "\">"
	    "<upg:SupportedEnvelope qname=\"s12:Envelope\" xmlns:s12=\"" NS_SOAP12 "\"/>"
	    "<upg:SupportedEnvelope qname=\"s11:Envelope\" xmlns:s11=\"" NS_SOAP11 "\"/>"
	    "</upg:Upgrade>") != 0)
		return PARLEY_ENOMEM;
	if (soap == SOAP_V11 && has_detail(f) && strcmp(detail_ns(f), NS_WSA10) == 0) {
		if (buf_puts(out, "<wsa:FaultDetail xmlns:wsa=\"" NS_WSA10 "\">") != 0 ||
		    put_detail(out, NS_WSA10, f) != 0 ||
		    buf_puts(out, "</wsa:FaultDetail>") != 0)
			return PARLEY_ENOMEM;
	}
	return 0;
}

/* Append the whole Header, or nothing when there is no block to put in it. */
static int
put_headers(struct buf *out, enum soap_version soap, const struct envelope *req,
    const char *action, const char *conversation_id, const struct fault *f,
    const struct envelope_dest *dest)
{
	size_t start = out->len, mark;

	if (buf_puts(out, "<SOAP-ENV:Header>") != 0)
		goto fail;
	mark = out->len;
	if (req != NULL && req->wsa != WSA_NONE) {
		const char *wns = req->wsa == WSA_10 ? NS_WSA10 : NS_WSA2004;
		const char *relates = req->message_id;

		/* WS-Addressing 1.0 names the unknown request; the submission cannot. */
		if (relates == NULL && req->wsa == WSA_10)
			relates = WSA10_UNSPECIFIED;
		if (dest != NULL && put_text_header(out, "wsa", wns, "To", dest->to) != 0)
			goto fail;
		if (action != NULL && put_text_header(out, "wsa", wns, "Action", action) != 0)
			goto fail;
		if (dest != NULL &&
		    put_text_header(out, "wsa", wns, "MessageID", dest->message_id) != 0)
			goto fail;
		if (relates != NULL && put_text_header(out, "wsa", wns, "RelatesTo", relates) != 0)
			goto fail;
		if (dest != NULL && dest->refparams != NULL && buf_puts(out, dest->refparams) != 0)
			goto fail;
	}
	if (conversation_id != NULL &&
	    put_text_header(out, "pc", NS_PC, "ConversationID", conversation_id) != 0)
		goto fail;
	if (f != NULL && put_fault_headers(out, soap, f) != 0)
		goto fail;
	if (out->len == mark) {
		truncate_to(out, start);
		return 0;
	}
	if (buf_puts(out, "</SOAP-ENV:Header>") != 0)
		goto fail;
	return 0;

fail:
	truncate_to(out, start);
	return PARLEY_ENOMEM;
}

int
envelope_write_reply_headers(struct buf *out, const struct envelope *req,
    const char *action, const char *conversation_id)
{
	return put_headers(out, req != NULL ? req->soap : SOAP_V11, req, action,
	    conversation_id, NULL, NULL);
}

int
envelope_write_reply_headers_to(struct buf *out, const struct envelope *req,
    const char *action, const char *conversation_id, const struct envelope_dest *dest)
{
	return put_headers(out, req != NULL ? req->soap : SOAP_V11, req, action,
	    conversation_id, NULL, dest);
}

static const char *
code_name(enum soap_version soap, enum fault_code code)
{
	switch (code) {
	case FAULT_SENDER:
		return soap == SOAP_V11 ? "Client" : "Sender";
	case FAULT_RECEIVER:
		return soap == SOAP_V11 ? "Server" : "Receiver";
	case FAULT_VERSION_MISMATCH:
		return "VersionMismatch";
	case FAULT_MUST_UNDERSTAND:
		return "MustUnderstand";
	}
	return soap == SOAP_V11 ? "Server" : "Receiver";
}

static int
has_subcode(const struct fault *f)
{
	return f->subcode_ns != NULL && f->subcode != NULL;
}

/*
 * SOAP 1.1 has one code: the subcode's QName stands in for Client when
 * there is one, as WS-Addressing's SOAP 1.1 binding does, and the
 * subsubcode can only be told in the faultstring.
 */
static int
put_fault11(struct buf *out, const struct fault *f)
{
	if (has_subcode(f)) {
		const char *pfx = prefix_for(f->subcode_ns);

		if (buf_puts(out, "<faultcode") != 0 || put_xmlns(out, pfx, f->subcode_ns) != 0 ||
		    buf_puts(out, ">") != 0 || put_qname(out, pfx, f->subcode_ns, f->subcode) != 0)
			return PARLEY_ENOMEM;
	} else if (buf_printf(out, "<faultcode>SOAP-ENV:%s", code_name(SOAP_V11, f->code)) != 0)
		return PARLEY_ENOMEM;
	if (buf_puts(out, "</faultcode><faultstring>") != 0 || buf_put_xml(out, f->reason) != 0)
		return PARLEY_ENOMEM;
	if (has_subcode(f) && f->subsubcode != NULL && strstr(f->reason, f->subsubcode) == NULL &&
	    (buf_puts(out, " (") != 0 || buf_put_xml(out, f->subsubcode) != 0 ||
	    buf_puts(out, ")") != 0))
		return PARLEY_ENOMEM;
	if (buf_puts(out, "</faultstring>") != 0)
		return PARLEY_ENOMEM;
	return 0;
}

static int
put_fault12(struct buf *out, const struct fault *f)
{
	if (buf_printf(out, "<SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:%s</SOAP-ENV:Value>",
	    code_name(SOAP_V12, f->code)) != 0)
		return PARLEY_ENOMEM;
	if (has_subcode(f)) {
		const char *pfx = prefix_for(f->subcode_ns);

		if (buf_puts(out, "<SOAP-ENV:Subcode") != 0 ||
		    put_xmlns(out, pfx, f->subcode_ns) != 0 ||
		    buf_puts(out, "><SOAP-ENV:Value>") != 0 ||
		    put_qname(out, pfx, f->subcode_ns, f->subcode) != 0 ||
		    buf_puts(out, "</SOAP-ENV:Value>") != 0)
			return PARLEY_ENOMEM;
		if (f->subsubcode != NULL &&
		    (buf_puts(out, "<SOAP-ENV:Subcode><SOAP-ENV:Value>") != 0 ||
		    put_qname(out, pfx, f->subcode_ns, f->subsubcode) != 0 ||
		    buf_puts(out, "</SOAP-ENV:Value></SOAP-ENV:Subcode>") != 0))
			return PARLEY_ENOMEM;
		if (buf_puts(out, "</SOAP-ENV:Subcode>") != 0)
			return PARLEY_ENOMEM;
	}
	if (buf_puts(out, "</SOAP-ENV:Code><SOAP-ENV:Reason><SOAP-ENV:Text xml:lang=\"en\">") != 0 ||
	    buf_put_xml(out, f->reason) != 0 ||
	    buf_puts(out, "</SOAP-ENV:Text></SOAP-ENV:Reason>") != 0)
		return PARLEY_ENOMEM;
	if (has_detail(f) && (buf_puts(out, "<SOAP-ENV:Detail>") != 0 ||
	    put_detail(out, detail_ns(f), f) != 0 || buf_puts(out, "</SOAP-ENV:Detail>") != 0))
		return PARLEY_ENOMEM;
	return 0;
}

/*
 * The fault's wsa:Action. WS-Addressing 1.0 keeps .../fault for its own
 * faults and recommends .../soap/fault for the others (SOAP binding,
 * section 6); the submission has one fault action.
 */
static const char *
fault_action(const struct envelope *req, const struct fault *f)
{
	if (req == NULL || req->wsa == WSA_NONE)
		return NULL;
	if (req->wsa == WSA_2004)
		return WSA2004_FAULT_ACTION;
	if (has_subcode(f) && strcmp(f->subcode_ns, NS_WSA10) == 0)
		return WSA10_FAULT_ACTION;
	return WSA10_SOAP_FAULT_ACTION;
}

int
envelope_write_fault(struct buf *out, enum soap_version soap, const struct envelope *req,
    const char *conversation_id, const struct fault *f)
{
	return envelope_write_fault_to(out, soap, req, conversation_id, f, NULL);
}

int
envelope_write_message(struct buf *out, enum soap_version soap, enum wsa_version wsa,
    const struct envelope_dest *dest, const char *action, const char *conversation_id,
    const char *body_xml)
{
	const char *wns = wsa == WSA_10 ? NS_WSA10 : NS_WSA2004;
	size_t start = out->len;

	if (wsa == WSA_NONE)
		return PARLEY_EINVAL;
	if (buf_printf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	    "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"%s\"><SOAP-ENV:Header>",
	    soap == SOAP_V12 ? NS_SOAP12 : NS_SOAP11) != 0 ||
	    put_text_header(out, "wsa", wns, "To", dest->to) != 0 ||
	    put_text_header(out, "wsa", wns, "Action", action) != 0 ||
	    put_text_header(out, "wsa", wns, "MessageID", dest->message_id) != 0 ||
	    (dest->refparams != NULL && buf_puts(out, dest->refparams) != 0) ||
	    (conversation_id != NULL &&
	    put_text_header(out, "pc", NS_PC, "ConversationID", conversation_id) != 0) ||
	    buf_puts(out, "</SOAP-ENV:Header><SOAP-ENV:Body>") != 0 ||
	    buf_puts(out, body_xml) != 0 ||
	    buf_puts(out, "</SOAP-ENV:Body></SOAP-ENV:Envelope>") != 0) {
		truncate_to(out, start);
		return PARLEY_ENOMEM;
	}
	return 0;
}

int
envelope_write_fault_to(struct buf *out, enum soap_version soap, const struct envelope *req,
    const char *conversation_id, const struct fault *f, const struct envelope_dest *dest)
{
	size_t start = out->len;

	if (buf_printf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	    "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"%s\">",
	    soap == SOAP_V12 ? NS_SOAP12 : NS_SOAP11) != 0)
		goto fail;
	if (put_headers(out, soap, req, fault_action(req, f), conversation_id, f, dest) != 0)
		goto fail;
	if (buf_puts(out, "<SOAP-ENV:Body><SOAP-ENV:Fault>") != 0)
		goto fail;
	if ((soap == SOAP_V12 ? put_fault12(out, f) : put_fault11(out, f)) != 0)
		goto fail;
	if (buf_puts(out, "</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>") != 0)
		goto fail;
	return 0;

fail:
	truncate_to(out, start);
	return PARLEY_ENOMEM;
}

int
envelope_content_valid(const char *xml)
{
	struct buf doc = BUF_INIT;
	xmlParserCtxtPtr ctxt;
	xmlDocPtr d;
	int ok = 0;

	pthread_once(&xml_once, xml_init);
	/* Inside an element of its own a DOCTYPE cannot appear, nor a second root. */
	if (buf_puts(&doc, "<c>") != 0 || buf_puts(&doc, xml) != 0 || buf_puts(&doc, "</c>") != 0)
		goto done;
	if (doc.len > INT32_MAX || (ctxt = xmlNewParserCtxt()) == NULL)
		goto done;
	d = xmlCtxtReadMemory(ctxt, doc.data, (int)doc.len, NULL, "UTF-8",
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	ok = d != NULL && ctxt->wellFormed && ctxt->nsWellFormed;
	xmlFreeDoc(d);
	xmlFreeParserCtxt(ctxt);
done:
	buf_free(&doc);
	return ok;
}

int
fault_http_status(enum soap_version soap, const struct fault *f)
{
	if (f->http_status != 0)
		return f->http_status;
	/* SOAP 1.2's HTTP binding: 400 for env:Sender, 500 for every other code. */
	if (soap == SOAP_V12 && f->code == FAULT_SENDER)
		return 400;
	return 500;
}

const char *
envelope_content_type(enum soap_version soap)
{
	return soap == SOAP_V12 ? "application/soap+xml; charset=utf-8" :
	    "text/xml; charset=utf-8";
}
