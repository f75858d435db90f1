/*
 * wsdl.c - reads a WSDL 1.1 document with libxml2 (wsdl.h): per portType
 * operation, the actions WS-Addressing clients send, the SOAPAction, and the
 * request and response elements of its document/literal SOAP bindings; and
 * the document again with its endpoint addresses replaced by a mark.
 *
 * Nothing is fetched: the parser runs with XML_PARSE_NONET and without entity
 * substitution, and a WSDL that imports anything by location is refused,
 * because the node serves it to clients that may have no internet access.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "parley.h"
#include "registry.h"
#include "wsdl.h"

#define NS_WSDL      "http://schemas.xmlsoap.org/wsdl/"
#define NS_WSDL_SOAP "http://schemas.xmlsoap.org/wsdl/soap/"
#define NS_WSDL_S12  "http://schemas.xmlsoap.org/wsdl/soap12/"
#define NS_XSD       "http://www.w3.org/2001/XMLSchema"
#define NS_WSAM      "http://www.w3.org/2007/05/addressing/metadata"
#define NS_WSAW      "http://www.w3.org/2006/05/addressing/wsdl"
#define NS_WSA2004   "http://schemas.xmlsoap.org/ws/2004/08/addressing"
#define NS_WSDL20    "http://www.w3.org/ns/wsdl"

#define MAX_WSDL_BYTES (8u << 20)

struct ctx {
	const char *path;
	char *err;
	size_t errlen;
	xmlDoc *doc;
	xmlNode *defs;
	const char *tns;           /* points into defs' attribute; "" when absent */
};

/* A qualified name resolved against the namespace declarations in scope. */
struct qname {
	char *ns;                  /* "" for no namespace */
	char *local;
};

static int
fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->errlen == 0)
		return PARLEY_EINVAL;
	n = snprintf(c->err, c->errlen, "%s: ", c->path);
	if (n < 0 || (size_t)n >= c->errlen)
		return PARLEY_EINVAL;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return PARLEY_EINVAL;
}

static int
is_el(const xmlNode *n, const char *ns, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    strcmp((const char *)n->ns->href, ns) == 0 &&
	    strcmp((const char *)n->name, name) == 0;
}

static xmlNode *
first_child(xmlNode *parent, const char *ns, const char *name)
{
	xmlNode *n;

	for (n = parent != NULL ? parent->children : NULL; n != NULL; n = n->next)
		if (is_el(n, ns, name))
			return n;
	return NULL;
}

/* An unqualified attribute's value as a malloc'ed string, or NULL when absent (or no memory). */
static char *
prop(xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	char *s;

	if (v == NULL)
		return NULL;
	s = strdup((const char *)v);
	xmlFree(v);
	return s;
}

static int
has_prop(xmlNode *n, const char *name)
{
	return xmlHasNsProp(n, (const xmlChar *)name, NULL) != NULL;
}

/* Compare an unqualified attribute with s; an absent attribute equals nothing. */
static int
prop_is(xmlNode *n, const char *name, const char *s)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	int eq = v != NULL && strcmp((const char *)v, s) == 0;

	xmlFree(v);
	return eq;
}

static void
qname_free(struct qname *q)
{
	free(q->ns);
	free(q->local);
	q->ns = NULL;
	q->local = NULL;
}

/*
 * Resolve the QName in attribute attr of n. Returns 0, PARLEY_ENOENT when the
 * attribute is absent, PARLEY_EINVAL (err set) when its prefix is not
 * declared, or PARLEY_ENOMEM.
 */
static int
resolve_attr(struct ctx *c, xmlNode *n, const char *attr, struct qname *q)
{
	char *v = NULL;
	char *colon;
	xmlNs *ns;
	int rc;

	q->ns = NULL;
	q->local = NULL;
	if (!has_prop(n, attr))
		return PARLEY_ENOENT;
	v = prop(n, attr);
	if (v == NULL)
		return PARLEY_ENOMEM;
	colon = strchr(v, ':');
	if (colon != NULL) {
		*colon = '\0';
		ns = xmlSearchNs(c->doc, n, (const xmlChar *)v);
		if (ns == NULL) {
			rc = fail(c, "line %ld: %s=\"%s:%s\" uses the prefix '%s', which is not "
			    "declared", xmlGetLineNo(n), attr, v, colon + 1, v);
			goto fail;
		}
		q->local = strdup(colon + 1);
	} else {
		ns = xmlSearchNs(c->doc, n, NULL);
		q->local = strdup(v);
	}
	q->ns = strdup(ns != NULL ? (const char *)ns->href : "");
	if (q->ns == NULL || q->local == NULL) {
		rc = PARLEY_ENOMEM;
		goto fail;
	}
	free(v);
	return 0;

fail:
	qname_free(q);
	free(v);
	return rc;
}

/* Is the QName in attribute attr of n equal to {ns}local? */
static int
attr_names(struct ctx *c, xmlNode *n, const char *attr, const char *ns, const char *local,
    int *eq)
{
	struct qname q;
	int rc;

	*eq = 0;
	rc = resolve_attr(c, n, attr, &q);
	if (rc == PARLEY_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	*eq = strcmp(q.ns, ns) == 0 && strcmp(q.local, local) == 0;
	qname_free(&q);
	return 0;
}

/*
 * Refuse anything that would make a client fetch a second document. The
 * message names the file and the location: "cart.wsdl imports http://...".
 */
static int
refuse_import(struct ctx *c, const xmlChar *loc, const char *what)
{
	if (c->errlen > 0)
		snprintf(c->err, c->errlen, "%s imports %s: the node serves its WSDL to clients "
		    "that may have no internet; %s", c->path,
		    loc != NULL ? (const char *)loc : "another WSDL (wsdl:import)", what);
	return PARLEY_EINVAL;
}

static int
check_imports(struct ctx *c, xmlNode *n)
{
	xmlChar *loc;
	int rc;

	for (; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (is_el(n, NS_WSDL, "import")) {
			loc = xmlGetNoNsProp(n, (const xmlChar *)"location");
			rc = refuse_import(c, loc, "put its definitions into this file");
			xmlFree(loc);
			return rc;
		}
		if (is_el(n, NS_XSD, "import") || is_el(n, NS_XSD, "include") ||
		    is_el(n, NS_XSD, "redefine") || is_el(n, NS_XSD, "override")) {
			loc = xmlGetNoNsProp(n, (const xmlChar *)"schemaLocation");
			if (loc != NULL) {
				rc = refuse_import(c, loc, "inline the schema in wsdl:types");
				xmlFree(loc);
				return rc;
			}
		}
		if ((rc = check_imports(c, n->children)) != 0)
			return rc;
	}
	return 0;
}

static void
mark_addresses(xmlNode *n)
{
	for (; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if ((is_el(n, NS_WSDL_SOAP, "address") || is_el(n, NS_WSDL_S12, "address")) &&
		    has_prop(n, "location"))
			xmlSetProp(n, (const xmlChar *)"location",
			    (const xmlChar *)REGISTRY_ADDRESS_MARK);
		mark_addresses(n->children);
	}
}

/* The wsdl:message in this document named by q, or NULL. */
static xmlNode *
find_message(struct ctx *c, const struct qname *q)
{
	xmlNode *n;

	if (strcmp(q->ns, c->tns) != 0)
		return NULL;
	for (n = c->defs->children; n != NULL; n = n->next)
		if (is_el(n, NS_WSDL, "message") && prop_is(n, "name", q->local))
			return n;
	return NULL;
}

static xmlNode *
find_part(xmlNode *msg, const char *name)
{
	xmlNode *n;

	for (n = msg->children; n != NULL; n = n->next)
		if (is_el(n, NS_WSDL, "part") && prop_is(n, "name", name))
			return n;
	return NULL;
}

/* Is part of message msg (named msgq) bound to a soap:header in bio? */
static int
part_in_header(struct ctx *c, xmlNode *bio, const char *soapns, const struct qname *msgq,
    xmlNode *part, int *used)
{
	xmlNode *h;
	int eq, rc;

	*used = 0;
	for (h = bio != NULL ? bio->children : NULL; h != NULL; h = h->next) {
		if (!is_el(h, soapns, "header"))
			continue;
		if ((rc = attr_names(c, h, "message", msgq->ns, msgq->local, &eq)) != 0)
			return rc;
		if (!eq)
			continue;
		{
			xmlChar *pn = xmlGetNoNsProp(part, (const xmlChar *)"name");
			*used = pn != NULL && prop_is(h, "part", (const char *)pn);
			xmlFree(pn);
		}
		if (*used)
			return 0;
	}
	return 0;
}

/*
 * Find the element that travels in the SOAP body for message msgq, as binding
 * input or output bio (may be NULL) of a binding whose SOAP namespace is
 * soapns says: the part soap:body's parts= names, else the first part no
 * soap:header uses. what is "input" or "output" of operation op, for messages.
 */
static int
body_element(struct ctx *c, const char *op, const char *what, xmlNode *bio, const char *soapns,
    const struct qname *msgq, struct qname *el)
{
	xmlNode *msg, *body, *part = NULL, *n;
	char *parts = NULL;
	char *tok, *save;
	int rc, used;

	el->ns = NULL;
	el->local = NULL;
	msg = find_message(c, msgq);
	if (msg == NULL)
		return fail(c, "operation '%s': its %s message '%s' is not defined in this file",
		    op, what, msgq->local);
	body = first_child(bio, soapns, "body");
	if (body != NULL && prop_is(body, "use", "encoded"))
		return fail(c, "operation '%s': its %s is SOAP-encoded; Parley serves "
		    "document/literal only (use=\"literal\")", op, what);
	if (body != NULL && has_prop(body, "parts")) {
		parts = prop(body, "parts");
		if (parts == NULL)
			return PARLEY_ENOMEM;
		tok = strtok_r(parts, " \t\r\n", &save);
		if (tok == NULL) {
			rc = fail(c, "operation '%s': its %s has an empty SOAP body (parts=\"\"); "
			    "Parley needs one element in the body to read", op, what);
			goto fail;
		}
		if (strtok_r(NULL, " \t\r\n", &save) != NULL) {
			rc = fail(c, "operation '%s': its %s puts several parts in the SOAP body; "
			    "Parley needs exactly one element there (document/literal wrapped)",
			    op, what);
			goto fail;
		}
		part = find_part(msg, tok);
		if (part == NULL) {
			rc = fail(c, "operation '%s': soap:body parts=\"%s\" names no part of "
			    "message '%s'", op, tok, msgq->local);
			goto fail;
		}
	} else {
		for (n = msg->children; n != NULL && part == NULL; n = n->next) {
			if (!is_el(n, NS_WSDL, "part"))
				continue;
			if ((rc = part_in_header(c, bio, soapns, msgq, n, &used)) != 0)
				goto fail;
			if (!used)
				part = n;
		}
		if (part == NULL) {
			rc = fail(c, "operation '%s': message '%s' has no part for the SOAP body; "
			    "Parley needs one element there", op, msgq->local);
			goto fail;
		}
	}
	rc = resolve_attr(c, part, "element", el);
	if (rc == PARLEY_ENOENT) {
		xmlChar *pn = xmlGetNoNsProp(part, (const xmlChar *)"name");
		rc = fail(c, "operation '%s': part '%s' of message '%s' has no element=; Parley "
		    "serves document/literal, where a body part names an element", op,
		    pn != NULL ? (const char *)pn : "", msgq->local);
		xmlFree(pn);
	}
	if (rc != 0)
		goto fail;
	free(parts);
	return 0;

fail:
	free(parts);
	qname_free(el);
	return rc;
}

/*
 * The action of a portType input or output io: its wsam:Action, wsaw:Action
 * or submission wsa:Action, else the WS-Addressing 1.0 Metadata default
 * [target namespace][delimiter][port type name][delimiter][input/output name].
 */
static char *
action_of(struct ctx *c, xmlNode *io, const char *port_type, const char *op, const char *suffix)
{
	static const char *const nss[] = { NS_WSAM, NS_WSAW, NS_WSA2004 };
	xmlChar *v;
	char *name, *s;
	const char *delim;
	size_t tlen, n;
	unsigned i;

	for (i = 0; i < sizeof nss / sizeof nss[0]; i++) {
		v = xmlGetNsProp(io, (const xmlChar *)"Action", (const xmlChar *)nss[i]);
		if (v != NULL) {
			s = strdup((const char *)v);
			xmlFree(v);
			return s;
		}
	}
	name = prop(io, "name");
	if (name == NULL && has_prop(io, "name"))
		return NULL;
	tlen = strlen(c->tns);
	delim = strncasecmp(c->tns, "urn:", 4) == 0 ? ":" : "/";
	n = tlen + strlen(port_type) + strlen(op) + strlen(suffix) + 3;
	s = malloc(n);
	if (s != NULL) {
		/* The spec adds no "/" after a namespace that already ends with one. */
		snprintf(s, n, "%s%s%s%s%s%s", c->tns,
		    (tlen > 0 && c->tns[tlen - 1] == '/' && *delim == '/') ? "" : delim, port_type,
		    delim, name != NULL ? name : op, name != NULL ? "" : suffix);
	}
	free(name);
	return s;
}

static int
is_soap_binding(xmlNode *b, const char **soapns)
{
	if (first_child(b, NS_WSDL_SOAP, "binding") != NULL)
		*soapns = NS_WSDL_SOAP;
	else if (first_child(b, NS_WSDL_S12, "binding") != NULL)
		*soapns = NS_WSDL_S12;
	else
		return 0;
	return 1;
}

static int
set_str(char **dst, const char *s)
{
	*dst = strdup(s);
	return *dst != NULL ? 0 : PARLEY_ENOMEM;
}

/* Free one operation's strings. */
static void
op_free(struct wsdl_op *o)
{
	free(o->name);
	free(o->input_action);
	free(o->output_action);
	free(o->soap_action);
	free(o->request_ns);
	free(o->request_name);
	free(o->response_ns);
	free(o->response_name);
	memset(o, 0, sizeof *o);
}

/*
 * Fill o's SOAPAction and body elements from every SOAP binding of port type
 * pt that binds operation o->name; the bindings must agree.
 */
static int
bind_op(struct ctx *c, const char *pt, const struct qname *inq, const struct qname *outq,
    struct wsdl_op *o)
{
	xmlNode *b, *bop, *sop, *sb;
	const char *soapns;
	struct qname req = { NULL, NULL }, resp = { NULL, NULL };
	char *action = NULL;
	int rc, eq, bound = 0;

	for (b = c->defs->children; b != NULL; b = b->next) {
		if (!is_el(b, NS_WSDL, "binding") || !is_soap_binding(b, &soapns))
			continue;
		if ((rc = attr_names(c, b, "type", c->tns, pt, &eq)) != 0)
			goto fail;
		if (!eq)
			continue;
		for (bop = b->children; bop != NULL; bop = bop->next)
			if (is_el(bop, NS_WSDL, "operation") && prop_is(bop, "name", o->name))
				break;
		if (bop == NULL)
			continue;

		sb = first_child(b, soapns, "binding");
		sop = first_child(bop, soapns, "operation");
		if ((sop != NULL && prop_is(sop, "style", "rpc")) ||
		    ((sop == NULL || !has_prop(sop, "style")) && prop_is(sb, "style", "rpc"))) {
			rc = fail(c, "operation '%s' is bound in rpc style; Parley serves "
			    "document/literal only (style=\"document\")", o->name);
			goto fail;
		}
		if ((rc = body_element(c, o->name, "input", first_child(bop, NS_WSDL, "input"),
		    soapns, inq, &req)) != 0)
			goto fail;
		if ((rc = body_element(c, o->name, "output", first_child(bop, NS_WSDL, "output"),
		    soapns, outq, &resp)) != 0)
			goto fail;
		action = sop != NULL ? prop(sop, "soapAction") : NULL;
		if (action != NULL && action[0] == '\0') {
			free(action);
			action = NULL;
		}

		if (!bound) {
			o->request_ns = req.ns;
			o->request_name = req.local;
			o->response_ns = resp.ns;
			o->response_name = resp.local;
			o->soap_action = action;
			req.ns = req.local = resp.ns = resp.local = action = NULL;
			bound = 1;
			continue;
		}
		if (strcmp(req.ns, o->request_ns) != 0 || strcmp(req.local, o->request_name) != 0 ||
		    strcmp(resp.ns, o->response_ns) != 0 ||
		    strcmp(resp.local, o->response_name) != 0) {
			rc = fail(c, "operation '%s': its SOAP bindings put different elements in "
			    "the body; make them agree", o->name);
			goto fail;
		}
		if (action != NULL && o->soap_action != NULL && strcmp(action, o->soap_action) != 0) {
			rc = fail(c, "operation '%s': its SOAP bindings give different soapActions "
			    "('%s' and '%s'); Parley dispatches on one, make them agree", o->name,
			    o->soap_action, action);
			goto fail;
		}
		if (o->soap_action == NULL && action != NULL) {
			o->soap_action = action;
			action = NULL;
		}
		qname_free(&req);
		qname_free(&resp);
		free(action);
		action = NULL;
	}
	if (!bound)
		return fail(c, "operation '%s' of port type '%s' is in no SOAP 1.1 or 1.2 "
		    "binding; bind it, or remove it", o->name, pt);
	return 0;

fail:
	qname_free(&req);
	qname_free(&resp);
	free(action);
	return rc;
}

static int
add_op(struct ctx *c, struct wsdl *w, const char *pt, xmlNode *opn)
{
	struct wsdl_op o;
	struct wsdl_op *ops;
	struct qname inq = { NULL, NULL }, outq = { NULL, NULL };
	xmlNode *in = NULL, *out = NULL, *n;
	int rc, input_first = 0;
	unsigned i;

	memset(&o, 0, sizeof o);
	o.name = prop(opn, "name");
	if (o.name == NULL) {
		rc = has_prop(opn, "name") ? PARLEY_ENOMEM :
		    fail(c, "line %ld: an operation of port type '%s' has no name", xmlGetLineNo(opn),
		    pt);
		goto fail;
	}
	for (i = 0; i < w->n_ops; i++)
		if (strcmp(w->ops[i].name, o.name) == 0) {
			rc = fail(c, "operation name '%s' is used twice; Parley tells operations "
			    "apart by name, rename one", o.name);
			goto fail;
		}
	for (n = opn->children; n != NULL; n = n->next) {
		if (in == NULL && is_el(n, NS_WSDL, "input")) {
			in = n;
			input_first = out == NULL;
		} else if (out == NULL && is_el(n, NS_WSDL, "output")) {
			out = n;
		}
	}
	if (in == NULL) {
		rc = fail(c, "operation '%s' has no input; Parley serves request-response "
		    "operations only", o.name);
		goto fail;
	}
	if (out == NULL) {
		rc = fail(c, "operation '%s' has no output (one-way); Parley answers every request, "
		    "give it an output message", o.name);
		goto fail;
	}
	if (!input_first) {
		rc = fail(c, "operation '%s' is solicit-response (output before input); Parley "
		    "serves request-response operations only", o.name);
		goto fail;
	}
	rc = resolve_attr(c, in, "message", &inq);
	if (rc == 0)
		rc = resolve_attr(c, out, "message", &outq);
	if (rc == PARLEY_ENOENT)
		rc = fail(c, "operation '%s': an input or output has no message=", o.name);
	if (rc != 0)
		goto fail;

	o.input_action = action_of(c, in, pt, o.name, "Request");
	o.output_action = action_of(c, out, pt, o.name, "Response");
	if (o.input_action == NULL || o.output_action == NULL) {
		rc = PARLEY_ENOMEM;
		goto fail;
	}
	for (i = 0; i < w->n_ops; i++)
		if (strcmp(w->ops[i].input_action, o.input_action) == 0) {
			rc = fail(c, "operations '%s' and '%s' have the same input action '%s'; "
			    "Parley dispatches on it, make them differ", w->ops[i].name, o.name,
			    o.input_action);
			goto fail;
		}
	if ((rc = bind_op(c, pt, &inq, &outq, &o)) != 0)
		goto fail;

	ops = realloc(w->ops, (w->n_ops + 1) * sizeof *ops);
	if (ops == NULL) {
		rc = PARLEY_ENOMEM;
		goto fail;
	}
	w->ops = ops;
	w->ops[w->n_ops++] = o;
	qname_free(&inq);
	qname_free(&outq);
	return 0;

fail:
	qname_free(&inq);
	qname_free(&outq);
	op_free(&o);
	return rc;
}

static int
read_ops(struct ctx *c, struct wsdl *w)
{
	xmlNode *pt, *op;
	char *ptname;
	int rc;

	for (pt = c->defs->children; pt != NULL; pt = pt->next) {
		if (!is_el(pt, NS_WSDL, "portType"))
			continue;
		ptname = prop(pt, "name");
		if (ptname == NULL)
			return has_prop(pt, "name") ? PARLEY_ENOMEM :
			    fail(c, "line %ld: a portType has no name", xmlGetLineNo(pt));
		for (op = pt->children; op != NULL; op = op->next) {
			if (!is_el(op, NS_WSDL, "operation"))
				continue;
			if ((rc = add_op(c, w, ptname, op)) != 0) {
				free(ptname);
				return rc;
			}
		}
		free(ptname);
	}
	if (w->n_ops == 0)
		return fail(c, "defines no operation (no wsdl:portType with a wsdl:operation)");
	return 0;
}

int
wsdl_parse(const char *text, size_t len, const char *path, struct wsdl *w, char *err,
    size_t errlen)
{
	struct ctx c;
	xmlParserCtxt *pctx = NULL;
	xmlChar *mem = NULL;
	int memlen = 0;
	int rc;

	memset(w, 0, sizeof *w);
	memset(&c, 0, sizeof c);
	c.path = path;
	c.err = err;
	c.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';

	if (len > MAX_WSDL_BYTES) {
		rc = fail(&c, "is larger than %u MiB", MAX_WSDL_BYTES >> 20);
		goto fail;
	}
	/* The node fills in every mark when it serves the WSDL: one already there would be too. */
	if (memmem(text, len, REGISTRY_ADDRESS_MARK, sizeof REGISTRY_ADDRESS_MARK - 1) != NULL) {
		rc = fail(&c, "contains " REGISTRY_ADDRESS_MARK ", which the node uses to mark "
		    "its address; remove it");
		goto fail;
	}
	/* Idempotent; the node loads its services before it starts worker threads. */
	xmlInitParser();
	pctx = xmlNewParserCtxt();
	if (pctx == NULL) {
		rc = PARLEY_ENOMEM;
		goto fail;
	}
	/* No network, no entity substitution, no DTD loading; errors come back here, not on stderr. */
	c.doc = xmlCtxtReadMemory(pctx, text, (int)len, path, NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (c.doc == NULL) {
		const xmlError *e = xmlCtxtGetLastError(pctx);
		rc = fail(&c, "line %d: not well-formed XML: %s", e != NULL ? e->line : 0,
		    e != NULL && e->message != NULL ? e->message : "parse error\n");
		/* libxml2's messages end with a newline. */
		if (errlen > 0 && strlen(err) > 0 && err[strlen(err) - 1] == '\n')
			err[strlen(err) - 1] = '\0';
		goto fail;
	}
	if (c.doc->intSubset != NULL || c.doc->extSubset != NULL) {
		rc = fail(&c, "has a DOCTYPE; a WSDL needs none, remove it");
		goto fail;
	}
	c.defs = xmlDocGetRootElement(c.doc);
	if (c.defs == NULL || !is_el(c.defs, NS_WSDL, "definitions")) {
		if (c.defs != NULL && c.defs->ns != NULL &&
		    strcmp((const char *)c.defs->ns->href, NS_WSDL20) == 0)
			rc = fail(&c, "is WSDL 2.0; Parley reads WSDL 1.1");
		else
			rc = fail(&c, "is not a WSDL 1.1 document (its root is not wsdl:definitions "
			    "in " NS_WSDL ")");
		goto fail;
	}
	{
		xmlAttr *a = xmlHasNsProp(c.defs, (const xmlChar *)"targetNamespace", NULL);
		c.tns = a != NULL && a->children != NULL && a->children->content != NULL ?
		    (const char *)a->children->content : "";
	}
	if ((rc = check_imports(&c, c.defs)) != 0)
		goto fail;
	if ((rc = set_str(&w->target_ns, c.tns)) != 0)
		goto fail;
	if ((rc = read_ops(&c, w)) != 0)
		goto fail;

	mark_addresses(c.defs);
	xmlDocDumpMemoryEnc(c.doc, &mem, &memlen, "UTF-8");
	if (mem == NULL || memlen < 0) {
		rc = PARLEY_ENOMEM;
		goto fail;
	}
	w->marked = malloc((size_t)memlen + 1);
	if (w->marked == NULL) {
		rc = PARLEY_ENOMEM;
		goto fail;
	}
	memcpy(w->marked, mem, (size_t)memlen);
	w->marked[memlen] = '\0';
	w->marked_len = (size_t)memlen;

	xmlFree(mem);
	xmlFreeDoc(c.doc);
	xmlFreeParserCtxt(pctx);
	return 0;

fail:
	if (rc == PARLEY_ENOMEM && errlen > 0)
		snprintf(err, errlen, "%s: out of memory", path);
	xmlFree(mem);
	if (c.doc != NULL)
		xmlFreeDoc(c.doc);
	if (pctx != NULL)
		xmlFreeParserCtxt(pctx);
	wsdl_free(w);
	return rc;
}

int
wsdl_load(const char *path, struct wsdl *w, char *err, size_t errlen)
{
	FILE *f = NULL;
	char *text = NULL;
	size_t len = 0, cap = 0, n;
	int rc;

	memset(w, 0, sizeof *w);
	f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open it: %s", path, strerror(errno));
		return PARLEY_EIO;
	}
	for (;;) {
		if (cap - len < 65536) {
			char *p;

			if (cap > MAX_WSDL_BYTES) {
				snprintf(err, errlen, "%s: is larger than %u MiB", path,
				    MAX_WSDL_BYTES >> 20);
				rc = PARLEY_EINVAL;
				goto fail;
			}
			cap = cap ? cap * 2 : 65536;
			p = realloc(text, cap);
			if (p == NULL) {
				rc = PARLEY_ENOMEM;
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			text = p;
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: cannot read it: %s", path, strerror(errno));
		rc = PARLEY_EIO;
		goto fail;
	}
	rc = wsdl_parse(text, len, path, w, err, errlen);

fail:
	free(text);
	fclose(f);
	return rc;
}

const struct wsdl_op *
wsdl_find(const struct wsdl *w, const char *name)
{
	unsigned i;

	for (i = 0; i < w->n_ops; i++)
		if (strcmp(w->ops[i].name, name) == 0)
			return &w->ops[i];
	return NULL;
}

void
wsdl_free(struct wsdl *w)
{
	unsigned i;

	for (i = 0; i < w->n_ops; i++)
		op_free(&w->ops[i]);
	free(w->ops);
	free(w->target_ns);
	free(w->marked);
	memset(w, 0, sizeof *w);
}
