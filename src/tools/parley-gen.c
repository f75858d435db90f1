/*
 * parley-gen.c - Parley's code generator, run by the build.
 *
 * --glue writes, from a service's WSDL and the files wsdl2h and soapcpp2 made
 * from it, the glue that turns the generated gSOAP data binding into a Parley
 * module: NAME_ops.h declares one handler per WSDL operation for the service
 * author, NAME_glue.c reads each request, calls the handler, writes the
 * response and exports the module's operation table. Each mode is one
 * function over the same option set, so more modes can be added beside it.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "parley.h"
#include "wsdl.h"

enum mode { MODE_NONE = 0, MODE_GLUE };

/* The command line, and the first error met while acting on it. */
struct gen {
	enum mode mode;
	const char *name;          /* the module name, soapcpp2's -p prefix */
	const char *wsdl;          /* the service's WSDL */
	const char *gsoap_dir;     /* where wsdl2h and soapcpp2 wrote NAME.h, NAMEH.h, ... */
	int builtin;               /* a service compiled into parleyd: NAME_module, NAME_wsdl */
	char err[1024];
};

/* A namespace's gSOAP prefix, from "//gsoap PREFIX schema namespace: URI". */
struct prefix {
	char *prefix;
	char *uri;
};

/* A top-level element's C type as wsdl2h declared it. */
struct element {
	char *uri;
	char *local;
	char *ident;               /* "_cart__AddItem": serializers are soap_get_<ident>, ... */
	int is_struct;             /* declared "struct <ident>", else a typedef or enum */
	int is_enum;
};

/* What parley-gen learns from the gSOAP files of one service. */
struct gsoap {
	struct prefix *prefixes;
	unsigned n_prefixes;
	struct element *elements;
	unsigned n_elements;
	char *h_text;              /* NAMEH.h, to see which serializers exist */
};

/* One operation as the glue needs it. */
struct gen_op {
	const struct wsdl_op *op;
	char handler[300];         /* NAME_OPERATION */
	char req_tag[300];         /* "cart:AddItem" */
	char resp_tag[300];
	struct element req;        /* copies: the strings belong to struct gsoap */
	struct element resp;
	int resp_serialize;        /* soap_serialize_<ident> exists (not for int and the like) */
};

static int
fail(struct gen *gen, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct gen *gen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(gen->err, sizeof gen->err, fmt, ap);
	va_end(ap);
	return PARLEY_EINVAL;
}

static int
read_text(struct gen *gen, const char *path, char **out)
{
	FILE *f;
	struct buf b = BUF_INIT;
	char chunk[65536];
	size_t n;

	*out = NULL;
	f = fopen(path, "rb");
	if (f == NULL)
		return fail(gen, "%s: cannot open it: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (buf_append(&b, chunk, n) != 0) {
			fclose(f);
			buf_free(&b);
			return fail(gen, "%s: out of memory", path);
		}
	if (ferror(f)) {
		fclose(f);
		buf_free(&b);
		return fail(gen, "%s: cannot read it: %s", path, strerror(errno));
	}
	fclose(f);
	if (buf_append(&b, "", 0) != 0)
		return fail(gen, "%s: out of memory", path);
	*out = buf_steal(&b);
	return 0;
}

static int
is_ident_char(int c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static int
valid_c_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	for (; *s != '\0'; s++)
		if (!is_ident_char(*s))
			return 0;
	return 1;
}

/* Does text contain the identifier word as a whole token? */
static int
has_word(const char *text, const char *word)
{
	size_t n = strlen(word);
	const char *p = text;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == text || !is_ident_char(p[-1])) && !is_ident_char(p[n]))
			return 1;
		p += n;
	}
	return 0;
}

static char *
dup_range(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static void
gsoap_free(struct gsoap *g)
{
	unsigned i;

	for (i = 0; i < g->n_prefixes; i++) {
		free(g->prefixes[i].prefix);
		free(g->prefixes[i].uri);
	}
	for (i = 0; i < g->n_elements; i++) {
		free(g->elements[i].uri);
		free(g->elements[i].local);
		free(g->elements[i].ident);
	}
	free(g->prefixes);
	free(g->elements);
	free(g->h_text);
	memset(g, 0, sizeof *g);
}

/* "//gsoap cart  schema namespace:\turn:parley:samples:cart" */
static int
parse_prefix_line(struct gsoap *g, const char *line, size_t len)
{
	const char *end = line + len, *p = line + 7, *pre, *uri;
	size_t prelen;
	struct prefix *v;

	while (p < end && isspace((unsigned char)*p))
		p++;
	pre = p;
	while (p < end && !isspace((unsigned char)*p))
		p++;
	prelen = (size_t)(p - pre);
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (prelen == 0 || (size_t)(end - p) < 17 || strncmp(p, "schema namespace:", 17) != 0)
		return 0;
	p += 17;
	while (p < end && isspace((unsigned char)*p))
		p++;
	uri = p;
	while (end > uri && isspace((unsigned char)end[-1]))
		end--;
	v = realloc(g->prefixes, (g->n_prefixes + 1) * sizeof *v);
	if (v == NULL)
		return PARLEY_ENOMEM;
	g->prefixes = v;
	v[g->n_prefixes].prefix = dup_range(pre, prelen);
	v[g->n_prefixes].uri = dup_range(uri, (size_t)(end - uri));
	g->n_prefixes++;
	if (v[g->n_prefixes - 1].prefix == NULL || v[g->n_prefixes - 1].uri == NULL)
		return PARLEY_ENOMEM;
	return 0;
}

/*
 * The declaration that follows a "Top-level root element" comment: "struct
 * _p__X", "enum _p__X" or "typedef ... _p__X ...;". Finds the identifier that
 * names the element's type (it starts with "_"), as wsdl2h -g writes it.
 */
static int
parse_declaration(struct element *e, const char *line, size_t len)
{
	const char *end = line + len, *p, *start;
	int kind_struct = 0, kind_enum = 0;

	if (len > 7 && strncmp(line, "struct ", 7) == 0)
		kind_struct = 1;
	else if (len > 5 && strncmp(line, "enum ", 5) == 0)
		kind_enum = 1;
	else if (!(len > 8 && strncmp(line, "typedef ", 8) == 0))
		return 0;
	if (kind_struct || kind_enum) {
		p = line + (kind_struct ? 7 : 5);
		while (p < end && *p == ' ')
			p++;
		start = p;
		while (p < end && is_ident_char(*p))
			p++;
		/* An element's type is "_p__X"; "p__X" is a named schema type. */
		if (p - start < 5 || start[0] != '_' || start[1] == '_')
			return 0;
	} else {
		/* The element's name is the last identifier "_x__..." before the ';'. */
		const char *semi = memchr(line, ';', len);
		const char *q, *best = NULL, *best_end = NULL;

		end = semi != NULL ? semi : end;
		for (q = line + 8; q < end; ) {
			while (q < end && !is_ident_char(*q))
				q++;
			start = q;
			while (q < end && is_ident_char(*q))
				q++;
			if (q - start > 4 && start[0] == '_' && start[1] != '_' &&
			    memmem(start + 2, (size_t)(q - start - 2), "__", 2) != NULL) {
				best = start;
				best_end = q;
			}
		}
		if (best == NULL)
			return 0;
		start = best;
		p = best_end;
	}
	if (p == start)
		return 0;
	e->ident = dup_range(start, (size_t)(p - start));
	e->is_struct = kind_struct;
	e->is_enum = kind_enum;
	return e->ident != NULL ? 1 : PARLEY_ENOMEM;
}

/*
 * Read wsdl2h's NAME.h: the prefix of each schema namespace, and the C type
 * of each top-level element.
 */
static int
read_wsdl2h_header(struct gen *gen, struct gsoap *g, const char *path)
{
	static const char marker[] = "Top-level root element \"";
	static const char brief[] = "/// @brief \"";
	char *text = NULL;
	const char *line, *nl, *q, *end;
	struct element pending;
	int have_pending = 0, rc;

	memset(&pending, 0, sizeof pending);
	if ((rc = read_text(gen, path, &text)) != 0)
		return rc;
	for (line = text; *line != '\0'; line = nl + (*nl != '\0')) {
		size_t len;

		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line);
		len = (size_t)(nl - line);
		if (len > 7 && strncmp(line, "//gsoap", 7) == 0 && isspace((unsigned char)line[7])) {
			if ((rc = parse_prefix_line(g, line, len)) != 0)
				goto nomem;
			continue;
		}
		if (len >= 3 && strncmp(line, "///", 3) == 0) {
			const char *m;

			if (have_pending)
				continue;
			/*
			 * wsdl2h introduces an element with "Top-level root element
			 * "URI":LOCAL[ of type ...]", or one of anonymous simple type with
			 * "@brief "URI":LOCAL is a simpleType..."; the latter form also
			 * introduces named types, which parse_declaration tells apart.
			 */
			m = memmem(line, len, marker, sizeof marker - 1);
			if (m != NULL)
				m += sizeof marker - 1;
			else if (len > sizeof brief - 1 && strncmp(line, brief, sizeof brief - 1) == 0)
				m = line + sizeof brief - 1;
			else
				continue;
			q = memchr(m, '"', (size_t)(nl - m));
			if (q == NULL || q + 1 >= nl || q[1] != ':')
				continue;
			end = q + 2;
			while (end < nl && *end != ' ' && *end != '\t' && *end != '\r')
				end++;
			pending.uri = dup_range(m, (size_t)(q - m));
			pending.local = dup_range(q + 2, (size_t)(end - q - 2));
			if (pending.uri == NULL || pending.local == NULL)
				goto nomem;
			have_pending = 1;
			continue;
		}
		if (!have_pending || len == 0)
			continue;
		rc = parse_declaration(&pending, line, len);
		if (rc < 0)
			goto nomem;
		if (rc > 0) {
			struct element *v = realloc(g->elements, (g->n_elements + 1) * sizeof *v);

			if (v == NULL)
				goto nomem;
			g->elements = v;
			v[g->n_elements++] = pending;
		} else {
			free(pending.uri);
			free(pending.local);
			free(pending.ident);
		}
		memset(&pending, 0, sizeof pending);
		have_pending = 0;
	}
	free(text);
	return 0;

nomem:
	free(pending.uri);
	free(pending.local);
	free(pending.ident);
	free(text);
	return fail(gen, "%s: out of memory", path);
}

static const char *
prefix_of(const struct gsoap *g, const char *uri)
{
	unsigned i;

	for (i = 0; i < g->n_prefixes; i++)
		if (strcmp(g->prefixes[i].uri, uri) == 0)
			return g->prefixes[i].prefix;
	return NULL;
}

static const struct element *
element_of(const struct gsoap *g, const char *uri, const char *local)
{
	unsigned i;

	for (i = 0; i < g->n_elements; i++)
		if (strcmp(g->elements[i].uri, uri) == 0 && strcmp(g->elements[i].local, local) == 0)
			return &g->elements[i];
	return NULL;
}

/*
 * The C name soapcpp2 gives element LOCAL of prefix p: "_p__" and the name
 * with '-' as '_', '_' as "_USCORE" and other characters as "_xHHHH".
 * Returns 0, or -1 when it does not fit in n bytes.
 */
static int
mangle(const char *prefix, const char *local, char *out, size_t n)
{
	size_t k;
	int w;

	w = snprintf(out, n, "_%s__", prefix);
	if (w < 0 || (size_t)w >= n)
		return -1;
	k = (size_t)w;
	for (; *local != '\0'; local++) {
		unsigned char c = (unsigned char)*local;

		if (isalnum(c))
			w = snprintf(out + k, n - k, "%c", c);
		else if (c == '-')
			w = snprintf(out + k, n - k, "_");
		else if (c == '_')
			w = snprintf(out + k, n - k, "_USCORE");
		else
			w = snprintf(out + k, n - k, "_x%04x", c);
		if (w < 0 || (size_t)w >= n - k)
			return -1;
		k += (size_t)w;
	}
	return 0;
}

/*
 * When wsdl2h's comments did not say, find the element's type by the name
 * soapcpp2 gives it, and whether it is a struct or an enum by its uses.
 */
static const struct element *
element_by_name(struct gsoap *g, const char *prefix, const char *local)
{
	char ident[600], word[620], get[620];
	struct element *v, *e;

	if (mangle(prefix, local, ident, sizeof ident) != 0)
		return NULL;
	snprintf(get, sizeof get, "soap_get_%s", ident);
	if (!has_word(g->h_text, get))
		return NULL;
	v = realloc(g->elements, (g->n_elements + 1) * sizeof *v);
	if (v == NULL)
		return NULL;
	g->elements = v;
	e = &v[g->n_elements];
	memset(e, 0, sizeof *e);
	snprintf(word, sizeof word, "struct %s", ident);
	e->is_struct = strstr(g->h_text, word) != NULL;
	snprintf(word, sizeof word, "enum %s", ident);
	e->is_enum = strstr(g->h_text, word) != NULL;
	e->uri = strdup("");
	e->local = strdup(local);
	e->ident = strdup(ident);
	if (e->uri == NULL || e->local == NULL || e->ident == NULL) {
		free(e->uri);
		free(e->local);
		free(e->ident);
		return NULL;
	}
	g->n_elements++;
	return e;
}

/* Check that soapcpp2 generated soap_<what>_<ident>, as a function or a macro. */
static int
has_serializer(const struct gsoap *g, const char *what, const char *ident)
{
	char name[400];

	snprintf(name, sizeof name, "soap_%s_%s", what, ident);
	return has_word(g->h_text, name);
}

/*
 * Resolve one message element of op: its type and tag, and whether it has a
 * soap_serialize_ function (*serialize; may be NULL).
 */
static int
resolve_element(struct gen *gen, struct gsoap *g, const struct wsdl_op *op,
    const char *uri, const char *local, struct element *out, char *tag, size_t taglen,
    int *serialize)
{
	const struct element *found, **el = &found;
	static const char *const needed[] = { "default", "get", "put" };
	const char *prefix;
	unsigned i;

	if (uri[0] == '\0')
		return fail(gen, "%s: operation '%s': element '%s' has no namespace; give the schema a "
		    "targetNamespace and elementFormDefault=\"qualified\"", gen->wsdl, op->name, local);
	prefix = prefix_of(g, uri);
	if (prefix == NULL)
		return fail(gen, "%s/%s.h: no gSOAP prefix for namespace %s (operation '%s'); map one "
		    "in the service's typemap.dat: p = \"%s\"", gen->gsoap_dir, gen->name, uri,
		    op->name, uri);
	*el = element_of(g, uri, local);
	if (*el == NULL)
		*el = element_by_name(g, prefix, local);
	if (*el == NULL)
		return fail(gen, "%s/%s.h: no type for element {%s}%s (operation '%s'): run wsdl2h with "
		    "-g so that every top-level element gets one", gen->gsoap_dir, gen->name, uri, local,
		    op->name);
	for (i = 0; i < sizeof needed / sizeof needed[0]; i++)
		if (!has_serializer(g, needed[i], (*el)->ident))
			return fail(gen, "%s/%sH.h: soapcpp2 made no soap_%s_%s for element {%s}%s: run "
			    "soapcpp2 on %s.h as the module make rules do", gen->gsoap_dir, gen->name,
			    needed[i], (*el)->ident, uri, local, gen->name);
	if (serialize != NULL)
		*serialize = has_serializer(g, "serialize", (*el)->ident);
	*out = **el;
	if ((size_t)snprintf(tag, taglen, "%s:%s", prefix, local) >= taglen)
		return fail(gen, "%s: element name '%s' is too long", gen->wsdl, local);
	return 0;
}

static int
make_ops(struct gen *gen, const struct wsdl *w, struct gsoap *g,
    struct gen_op *ops)
{
	static const char *const reserved[] = { "namespaces", "serve", "serve_request" };
	unsigned i, j;
	char *p;
	int rc;

	for (i = 0; i < w->n_ops; i++) {
		struct gen_op *go = &ops[i];
		const struct wsdl_op *op = &w->ops[i];

		go->op = op;
		if ((size_t)snprintf(go->handler, sizeof go->handler, "%s_%s", gen->name, op->name) >=
		    sizeof go->handler)
			return fail(gen, "%s: operation name '%s' is too long", gen->wsdl, op->name);
		/* A C identifier: the XML name characters C does not allow become '_'. */
		for (p = go->handler; *p != '\0'; p++)
			if (!is_ident_char(*p))
				*p = '_';
		for (j = 0; j < sizeof reserved / sizeof reserved[0]; j++)
			if (strcmp(go->handler + strlen(gen->name) + 1, reserved[j]) == 0)
				return fail(gen, "%s: operation '%s' would make the handler %s, which gSOAP "
				    "uses for itself; rename the operation or the module", gen->wsdl,
				    op->name, go->handler);
		for (j = 0; j < i; j++)
			if (strcmp(ops[j].handler, go->handler) == 0)
				return fail(gen, "%s: operations '%s' and '%s' both make the handler %s; "
				    "rename one", gen->wsdl, ops[j].op->name, op->name, go->handler);
		if ((rc = resolve_element(gen, g, op, op->request_ns, op->request_name, &go->req,
		    go->req_tag, sizeof go->req_tag, NULL)) != 0)
			return rc;
		if ((rc = resolve_element(gen, g, op, op->response_ns, op->response_name, &go->resp,
		    go->resp_tag, sizeof go->resp_tag, &go->resp_serialize)) != 0)
			return rc;
	}
	return 0;
}

/* The C type of an element's variable: "struct _p__X", "enum _p__X" or "_p__X". */
static const char *
c_type(const struct element *e, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s", e->is_struct ? "struct " : e->is_enum ? "enum " : "",
	    e->ident);
	return out;
}

static int
write_ops_h(struct buf *b, const struct gen *gen, const struct gen_op *ops, unsigned n)
{
	char guard[128], rt[320], st[320];
	const char *base;
	unsigned i;
	size_t k;
	int rc = 0;

	base = strrchr(gen->wsdl, '/');
	base = base != NULL ? base + 1 : gen->wsdl;
	snprintf(guard, sizeof guard, "PARLEY_GEN_%s_OPS_H", gen->name);
	for (k = 0; guard[k] != '\0'; k++)
		guard[k] = (char)toupper((unsigned char)guard[k]);

	rc |= buf_printf(b,
	    "/*\n"
	    " * %s_ops.h - the handlers of Parley module \"%s\", one per operation of %s.\n"
	    " * Generated by parley-gen from the WSDL and gSOAP's %s.h: do not edit.\n"
	    " *\n"
	    " * The service author defines each function. It is called with the request\n"
	    " * read into *request and *response zeroed; it returns 0 with *response\n"
	    " * filled, or the value of parley_fault(). Memory the response points to\n"
	    " * must outlive the call: allocate it with soap_malloc() or soap_strdup().\n"
	    " */\n"
	    "#ifndef %s\n"
	    "#define %s\n"
	    "\n"
	    "#include \"%sH.h\"\n"
	    "#include \"parley.h\"\n",
	    gen->name, gen->name, base, gen->name, guard, guard, gen->name);
	for (i = 0; i < n; i++) {
		const struct gen_op *g = &ops[i];

		rc |= buf_printf(b,
		    "\n"
		    "/* %s: reads <%s>, answers <%s>. */\n"
		    "int %s(struct parley_call *call, struct soap *soap, %s *request,\n"
		    "    %s *response);\n",
		    g->op->name, g->req_tag, g->resp_tag, g->handler,
		    c_type(&g->req, rt, sizeof rt), c_type(&g->resp, st, sizeof st));
	}
	rc |= buf_printf(b, "\n#endif /* %s */\n", guard);
	return rc != 0 ? PARLEY_ENOMEM : 0;
}

static int
write_glue_c(struct buf *b, const struct gen *gen, const struct gen_op *ops, unsigned n)
{
	char rt[320], st[320];
	const char *base;
	unsigned i;
	int rc = 0;

	base = strrchr(gen->wsdl, '/');
	base = base != NULL ? base + 1 : gen->wsdl;
	rc |= buf_printf(b,
	    "/*\n"
	    " * %s_glue.c - the glue of Parley module \"%s\" (%s): reads each request with\n"
	    " * gSOAP's serializers, calls the handler from %s_ops.h and writes the\n"
	    " * response. Generated by parley-gen: do not edit. Everything here but\n"
	    " * parley_module is hidden when compiled with -fvisibility=hidden.\n"
	    " */\n"
	    "#include \"%sH.h\"\n"
	    "#include \"%s.nsmap\"\n"
	    "#include \"%s_ops.h\"\n",
	    gen->name, gen->name, base, gen->name, gen->name, gen->name, gen->name);
	for (i = 0; i < n; i++) {
		const struct gen_op *g = &ops[i];

		rc |= buf_printf(b,
		    "\n"
		    "static int\n"
		    "invoke_%s(struct soap *soap, struct parley_call *call)\n"
		    "{\n"
		    "\t%s request;\n"
		    "\t%s response;\n"
		    "\tint rc;\n"
		    "\n"
		    "\tsoap_default_%s(soap, &request);\n"
		    "\tsoap_default_%s(soap, &response);\n"
		    "\tif (soap_get_%s(soap, &request, \"%s\", NULL) == NULL)\n"
		    "\t\treturn soap->error != SOAP_OK ? soap->error : SOAP_TAG_MISMATCH;\n"
		    "\tif ((rc = parley_call_request_end(call, soap)) != 0)\n"
		    "\t\treturn rc;\n"
		    "\tif ((rc = %s(call, soap, &request, &response)) != 0)\n"
		    "\t\treturn rc;\n"
		    "\tsoap->encodingStyle = NULL;\t/* document/literal: no SOAP encoding */\n",
		    g->handler + strlen(gen->name) + 1,
		    c_type(&g->req, rt, sizeof rt), c_type(&g->resp, st, sizeof st),
		    g->req.ident, g->resp.ident, g->req.ident, g->req_tag, g->handler);
		if (g->resp_serialize)
			rc |= buf_printf(b, "\tsoap_serialize_%s(soap, &response);\n", g->resp.ident);
		rc |= buf_printf(b,
		    "\tif ((rc = parley_call_response_begin(call, soap)) != 0)\n"
		    "\t\treturn rc;\n"
		    "\tif (soap_put_%s(soap, &response, \"%s\", \"\") != SOAP_OK)\n"
		    "\t\treturn soap->error;\n"
		    "\treturn parley_call_response_end(call, soap);\n"
		    "}\n",
		    g->resp.ident, g->resp_tag);
	}
	rc |= buf_puts(b, "\nstatic const struct parley_operation operations[] = {\n");
	for (i = 0; i < n; i++)
		rc |= buf_printf(b, "\t{ \"%s\", \"%s\", invoke_%s },\n", ops[i].op->name,
		    ops[i].req_tag, ops[i].handler + strlen(gen->name) + 1);
	if (!gen->builtin) {
		rc |= buf_printf(b,
		    "};\n"
		    "\n"
		    "PARLEY_EXPORT const struct parley_module parley_module = {\n"
		    "\tPARLEY_MODULE_ABI,\n"
		    "\t\"%s\",\n"
		    "\t%s_namespaces,\n"
		    "\toperations,\n"
		    "\tsizeof operations / sizeof operations[0]\n"
		    "};\n",
		    gen->name, gen->name);
		return rc != 0 ? PARLEY_ENOMEM : 0;
	}
	/*
	 * A service compiled into parleyd has no dlsym name to be found by: its
	 * table and its WSDL get names of their own, for parleyd to register.
	 */
	rc |= buf_printf(b,
	    "};\n"
	    "\n"
	    "const struct parley_module %s_module = {\n"
	    "\tPARLEY_MODULE_ABI,\n"
	    "\t\"%s\",\n"
	    "\t%s_namespaces,\n"
	    "\toperations,\n"
	    "\tsizeof operations / sizeof operations[0]\n"
	    "};\n",
	    gen->name, gen->name, gen->name);
	return rc != 0 ? PARLEY_ENOMEM : 0;
}

/* Append the WSDL text as the C string NAME_wsdl, for a builtin service. */
static int
write_wsdl_string(struct buf *b, const struct gen *gen)
{
	FILE *f;
	int c, rc = 0;

	f = fopen(gen->wsdl, "rb");
	if (f == NULL)
		return PARLEY_EIO;
	rc |= buf_printf(b, "\n/* %s, served at ?wsdl. */\nconst char %s_wsdl[] =\n\t\"",
	    gen->wsdl, gen->name);
	while ((c = getc(f)) != EOF) {
		if (c == '\n') {
			rc |= buf_puts(b, "\\n\"\n\t\"");
			continue;
		}
		if (c == '"' || c == '\\')
			rc |= buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			rc |= buf_printf(b, "\\%03o", c);
		else
			rc |= buf_printf(b, "%c", c);
	}
	rc |= buf_puts(b, "\";\n");
	if (ferror(f))
		rc = PARLEY_EIO;
	fclose(f);
	return rc != 0 ? PARLEY_EIO : 0;
}

/* Write b to dir/file through a temporary file, so no half-written output is left. */
static int
write_file(struct gen *gen, const char *dir, const char *file, const struct buf *b)
{
	char path[4096], tmp[4200];
	FILE *f;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
		return fail(gen, "%s: path too long", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (f == NULL)
		return fail(gen, "%s: cannot create it: %s", tmp, strerror(errno));
	if (fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
		fail(gen, "%s: cannot write it: %s", tmp, strerror(errno));
		remove(tmp);
		return PARLEY_EIO;
	}
	if (rename(tmp, path) != 0) {
		fail(gen, "%s: cannot rename it to %s: %s", tmp, path, strerror(errno));
		remove(tmp);
		return PARLEY_EIO;
	}
	return 0;
}

static int
gen_glue(struct gen *gen)
{
	struct wsdl w;
	struct gsoap g;
	struct gen_op *ops = NULL;
	struct buf h = BUF_INIT, c = BUF_INIT;
	char path[4096], file[300];
	int rc;

	memset(&w, 0, sizeof w);
	memset(&g, 0, sizeof g);
	if ((rc = wsdl_load(gen->wsdl, &w, gen->err, sizeof gen->err)) != 0)
		goto fail;
	snprintf(path, sizeof path, "%s/%s.h", gen->gsoap_dir, gen->name);
	if ((rc = read_wsdl2h_header(gen, &g, path)) != 0)
		goto fail;
	snprintf(path, sizeof path, "%s/%sH.h", gen->gsoap_dir, gen->name);
	if ((rc = read_text(gen, path, &g.h_text)) != 0)
		goto fail;
	ops = calloc(w.n_ops, sizeof *ops);
	if (ops == NULL) {
		rc = fail(gen, "out of memory");
		goto fail;
	}
	if ((rc = make_ops(gen, &w, &g, ops)) != 0)
		goto fail;
	if ((rc = write_ops_h(&h, gen, ops, w.n_ops)) != 0 ||
	    (rc = write_glue_c(&c, gen, ops, w.n_ops)) != 0) {
		fail(gen, "out of memory");
		goto fail;
	}
	if (gen->builtin && (rc = write_wsdl_string(&c, gen)) != 0) {
		fail(gen, "%s: cannot read it again: %s", gen->wsdl, strerror(errno));
		goto fail;
	}
	snprintf(file, sizeof file, "%s_ops.h", gen->name);
	if ((rc = write_file(gen, gen->gsoap_dir, file, &h)) != 0)
		goto fail;
	snprintf(file, sizeof file, "%s_glue.c", gen->name);
	if ((rc = write_file(gen, gen->gsoap_dir, file, &c)) != 0)
		goto fail;

fail:
	buf_free(&h);
	buf_free(&c);
	free(ops);
	gsoap_free(&g);
	wsdl_free(&w);
	return rc;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: parley-gen --glue [--builtin] --name NAME --wsdl FILE.wsdl --gsoap-dir DIR\n"
	    "\n"
	    "  --glue       write DIR/NAME_glue.c and DIR/NAME_ops.h for a Parley module;\n"
	    "               DIR holds NAME.h from `wsdl2h -c -g -j` and NAMEH.h, NAMEStub.h,\n"
	    "               NAME.nsmap and NAMEC.c from `soapcpp2 -c -n -p NAME`\n"
	    "  --builtin    for a service compiled into parleyd: the table is NAME_module\n"
	    "               (not the exported parley_module) and the WSDL text is NAME_wsdl\n"
	    "  --name NAME  the module name (a C identifier; soapcpp2's -p prefix)\n"
	    "  --wsdl FILE  the service's WSDL\n"
	    "  --gsoap-dir DIR\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "glue", no_argument, NULL, 'g' },
		{ "builtin", no_argument, NULL, 'b' },
		{ "name", required_argument, NULL, 'n' },
		{ "wsdl", required_argument, NULL, 'w' },
		{ "gsoap-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct gen gen;
	int ch, rc;

	memset(&gen, 0, sizeof gen);
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'g': gen.mode = MODE_GLUE; break;
		case 'b': gen.builtin = 1; break;
		case 'n': gen.name = optarg; break;
		case 'w': gen.wsdl = optarg; break;
		case 'd': gen.gsoap_dir = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("parley-gen %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || gen.mode == MODE_NONE) {
		usage(stderr);
		return 2;
	}
	switch (gen.mode) {
	case MODE_GLUE:
		if (gen.name == NULL || gen.wsdl == NULL || gen.gsoap_dir == NULL) {
			usage(stderr);
			return 2;
		}
		if (!valid_c_name(gen.name) || strlen(gen.name) > 63) {
			fprintf(stderr, "parley-gen: bad module name '%s': use a C identifier of at "
			    "most 63 characters\n", gen.name);
			return 2;
		}
		rc = gen_glue(&gen);
		break;
	default:
		rc = PARLEY_EINVAL;
		break;
	}
	if (rc != 0) {
		fprintf(stderr, "parley-gen: %s\n", gen.err[0] != '\0' ? gen.err : parley_strerror(rc));
		return 1;
	}
	return 0;
}
