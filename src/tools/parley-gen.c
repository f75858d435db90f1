/*
 * parley-gen.c - Parley's code generator, run by the build.
 *
 * --glue writes, from a service's WSDL and the files wsdl2h and soapcpp2 made
 * from it, the glue that turns the generated gSOAP data binding into a Parley
 * module: NAME_ops.h declares one handler per WSDL operation for the service
 * author, NAME_glue.c reads each request, calls the handler, writes the
 * response and exports the module's operation table. Without --glue,
 * `parley-gen WSDL -o DIR` runs wsdl2h and soapcpp2 itself and writes a whole
 * service project for an author to fill in: handlers, descriptor, Makefile.
 * Each mode is one function over the same option set.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "buf.h"
#include "parley.h"
#include "wsdl.h"

enum mode { MODE_NONE = 0, MODE_GLUE, MODE_PROJECT };

/* The command line, and the first error met while acting on it. */
struct gen {
	enum mode mode;
	const char *name;          /* the module name, soapcpp2's -p prefix */
	const char *wsdl;          /* the service's WSDL */
	const char *gsoap_dir;     /* where wsdl2h and soapcpp2 wrote NAME.h, NAMEH.h, ... */
	int builtin;               /* a service compiled into parleyd: NAME_module, NAME_wsdl */
	const char *out_dir;       /* the project mode's -o DIR */
	const char *phases;        /* its --phases FILE, or NULL */
	const char *gsoap_import;  /* soapcpp2's -I: gSOAP's import directory */
	char name_buf[64];         /* the name made from the WSDL's file name */
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
	int ok;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
		return fail(gen, "%s: path too long", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (f == NULL)
		return fail(gen, "%s: cannot create it: %s", tmp, strerror(errno));
	/* An empty buf has no data: fwrite must not see its NULL. */
	ok = b->len == 0 || fwrite(b->data, 1, b->len, f) == b->len;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
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

/*
 * Read the WSDL and the gSOAP files of gen->gsoap_dir, and match each
 * operation with its gSOAP types. On success *w, *g and *ops (w->n_ops of
 * them) belong to the caller, to be released with release_service.
 */
static int
load_service(struct gen *gen, struct wsdl *w, struct gsoap *g, struct gen_op **ops)
{
	char path[4096];
	int rc;

	*ops = NULL;
	memset(w, 0, sizeof *w);
	memset(g, 0, sizeof *g);
	if ((rc = wsdl_load(gen->wsdl, w, gen->err, sizeof gen->err)) != 0)
		return rc;
	snprintf(path, sizeof path, "%s/%s.h", gen->gsoap_dir, gen->name);
	if ((rc = read_wsdl2h_header(gen, g, path)) != 0)
		return rc;
	snprintf(path, sizeof path, "%s/%sH.h", gen->gsoap_dir, gen->name);
	if ((rc = read_text(gen, path, &g->h_text)) != 0)
		return rc;
	*ops = calloc(w->n_ops, sizeof **ops);
	if (*ops == NULL)
		return fail(gen, "out of memory");
	return make_ops(gen, w, g, *ops);
}

static void
release_service(struct wsdl *w, struct gsoap *g, struct gen_op *ops)
{
	free(ops);
	gsoap_free(g);
	wsdl_free(w);
}

/* Write NAME_ops.h and NAME_glue.c into gen->gsoap_dir for the loaded service. */
static int
write_glue(struct gen *gen, const struct gen_op *ops, unsigned n)
{
	struct buf h = BUF_INIT, c = BUF_INIT;
	char file[300];
	int rc;

	if ((rc = write_ops_h(&h, gen, ops, n)) != 0 ||
	    (rc = write_glue_c(&c, gen, ops, n)) != 0) {
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
	rc = write_file(gen, gen->gsoap_dir, file, &c);

fail:
	buf_free(&h);
	buf_free(&c);
	return rc;
}

static int
gen_glue(struct gen *gen)
{
	struct wsdl w;
	struct gsoap g;
	struct gen_op *ops = NULL;
	int rc;

	if ((rc = load_service(gen, &w, &g, &ops)) == 0)
		rc = write_glue(gen, ops, w.n_ops);
	release_service(&w, &g, ops);
	return rc;
}

/* ------------------------------------------------------------------------
 * The project mode: from a WSDL, a service project its author fills in and
 * builds against the installed SDK.
 * ------------------------------------------------------------------------ */

#define NS_WSDL "http://schemas.xmlsoap.org/wsdl/"
#define NS_CONVERSATION "urn:parley:conversation"

static int
is_wsdl_el(const xmlNode *n, const char *local)
{
	return n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    strcmp((const char *)n->ns->href, NS_WSDL) == 0 &&
	    strcmp((const char *)n->name, local) == 0;
}

static int
has_wsdl_child(const xmlNode *n, const char *local)
{
	for (n = n->children; n != NULL; n = n->next)
		if (is_wsdl_el(n, local))
			return 1;
	return 0;
}

/* Is name one of the comma-separated names in list? */
static int
in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = list; (p = strstr(p, name)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

/*
 * Remove from the children of parent every wsdl:operation that is one-way
 * (when record: an input and no output; its name is added to *dropped) or,
 * when !record, whose name is in *dropped.
 */
static int
drop_ops(xmlNode *parent, struct buf *dropped, int record)
{
	xmlNode *n, *next;

	for (n = parent->children; n != NULL; n = next) {
		xmlChar *name;
		int drop;

		next = n->next;
		if (!is_wsdl_el(n, "operation"))
			continue;
		name = xmlGetProp(n, (const xmlChar *)"name");
		if (name == NULL)
			continue;
		if (record)
			drop = has_wsdl_child(n, "input") && !has_wsdl_child(n, "output");
		else
			drop = dropped->len > 0 && in_list(dropped->data, (const char *)name);
		if (drop && record &&
		    buf_printf(dropped, "%s%s", dropped->len > 0 ? "," : "", (char *)name) != 0) {
			xmlFree(name);
			return PARLEY_ENOMEM;
		}
		xmlFree(name);
		if (drop) {
			xmlUnlinkNode(n);
			xmlFreeNode(n);
		}
	}
	return 0;
}

/*
 * Copy the WSDL gen->wsdl to dir/file without its one-way operations (an
 * input and no output), which Parley does not serve: it answers every
 * request. Their names are put in *dropped, comma-separated; when there are
 * none the copy is byte for byte.
 */
static int
copy_wsdl(struct gen *gen, const char *dir, const char *file, struct buf *dropped)
{
	struct buf out = BUF_INIT;
	xmlDoc *doc = NULL;
	xmlNode *root, *n;
	xmlChar *mem = NULL;
	char *text = NULL;
	int rc, size = 0;

	if ((rc = read_text(gen, gen->wsdl, &text)) != 0)
		return rc;
	doc = xmlReadMemory(text, (int)strlen(text), gen->wsdl, NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
	if (root == NULL || !is_wsdl_el(root, "definitions")) {
		rc = fail(gen, "%s: not a WSDL 1.1 document (no wsdl:definitions)", gen->wsdl);
		goto fail;
	}
	for (n = root->children; n != NULL && rc == 0; n = n->next)
		if (is_wsdl_el(n, "portType"))
			rc = drop_ops(n, dropped, 1);
	for (n = root->children; n != NULL && rc == 0; n = n->next)
		if (is_wsdl_el(n, "binding"))
			rc = drop_ops(n, dropped, 0);
	if (rc != 0) {
		rc = fail(gen, "out of memory");
		goto fail;
	}
	if (dropped->len == 0) {
		out.data = text;
		out.len = strlen(text);
		rc = write_file(gen, dir, file, &out);
		out.data = NULL;
		goto fail;
	}
	xmlDocDumpMemory(doc, &mem, &size);
	if (mem == NULL) {
		rc = fail(gen, "out of memory");
		goto fail;
	}
	out.data = (char *)mem;
	out.len = (size_t)size;
	rc = write_file(gen, dir, file, &out);
	out.data = NULL;

fail:
	xmlFree(mem);
	xmlFreeDoc(doc);
	free(text);
	return rc;
}

/* Is prog an executable file in a directory of $PATH? */
static int
on_path(const char *prog)
{
	const char *path = getenv("PATH"), *p, *end;
	char full[4096];

	if (path == NULL || *path == '\0')
		path = "/usr/bin:/bin";
	for (p = path;; p = end + 1) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		if (end == p)
			snprintf(full, sizeof full, "./%s", prog);
		else
			snprintf(full, sizeof full, "%.*s/%s", (int)(end - p), p, prog);
		if (access(full, X_OK) == 0)
			return 1;
		if (*end == '\0')
			return 0;
	}
}

/*
 * Run argv (argv[0] looked up in $PATH) with its output in the file log.
 * Returns 0 when it exits with 0; otherwise copies the log to stderr and
 * fails.
 */
static int
run(struct gen *gen, char *const argv[], const char *log)
{
	pid_t pid;
	int status, fd;
	char *text = NULL;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return fail(gen, "cannot run %s: %s", argv[0], strerror(errno));
	if (pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return fail(gen, "%s: cannot wait for it: %s", argv[0], strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (read_text(gen, log, &text) == 0) {
		fputs(text, stderr);
		free(text);
	}
	return fail(gen, "%s failed on the WSDL (its output is above, and in %s)", argv[0], log);
}

static const char *const phase_names[] = { "none", "start", "continue", "finish" };

/*
 * The documented naming convention: a name that begins with the word Start,
 * Begin, Open or Create is phase start; Checkout, Finish, End, Close or
 * Cancel, finish; any other, continue. A word matches in any case and must
 * not be followed by a lower-case letter ("StartCart" and "start_cart" are
 * start, "Ending" is not finish).
 */
static const char *
phase_by_name(const char *op)
{
	static const char *const starts[] = { "Start", "Begin", "Open", "Create" };
	static const char *const finishes[] = { "Checkout", "Finish", "End", "Close", "Cancel" };
	unsigned i;

	for (i = 0; i < sizeof starts / sizeof starts[0]; i++)
		if (strncasecmp(op, starts[i], strlen(starts[i])) == 0 &&
		    !islower((unsigned char)op[strlen(starts[i])]))
			return "start";
	for (i = 0; i < sizeof finishes / sizeof finishes[0]; i++)
		if (strncasecmp(op, finishes[i], strlen(finishes[i])) == 0 &&
		    !islower((unsigned char)op[strlen(finishes[i])]))
			return "finish";
	return "continue";
}

/*
 * Read the --phases file, lines "Operation phase" ('#' starts a comment),
 * into phases[] (one per operation of w, NULL where the file says nothing).
 */
static int
read_phases(struct gen *gen, const struct wsdl *w, const char **phases)
{
	char *text = NULL, *line, *next, *hash, *op, *phase, *extra, *save;
	unsigned lineno = 0, i;
	int rc;

	if ((rc = read_text(gen, gen->phases, &text)) != 0)
		return rc;
	for (line = text; line != NULL; line = next) {
		const struct wsdl_op *o;

		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		op = strtok_r(line, " \t\r", &save);
		if (op == NULL)
			continue;
		phase = strtok_r(NULL, " \t\r", &save);
		extra = phase != NULL ? strtok_r(NULL, " \t\r", &save) : NULL;
		if (phase == NULL || extra != NULL) {
			rc = fail(gen, "%s:%u: expected 'Operation phase'", gen->phases, lineno);
			goto fail;
		}
		o = wsdl_find(w, op);
		if (o == NULL) {
			rc = fail(gen, "%s:%u: the WSDL has no request-response operation '%s'",
			    gen->phases, lineno, op);
			goto fail;
		}
		for (i = 0; i < sizeof phase_names / sizeof phase_names[0]; i++)
			if (strcmp(phase, phase_names[i]) == 0)
				break;
		if (i == sizeof phase_names / sizeof phase_names[0]) {
			rc = fail(gen, "%s:%u: unknown phase '%s' (use start, continue, finish or none)",
			    gen->phases, lineno, phase);
			goto fail;
		}
		phases[o - w->ops] = phase_names[i];
	}

fail:
	free(text);
	return rc;
}

/*
 * The gSOAP prefix of each body element namespace: the first is the module
 * name (when it is letters and digits only, else "ns"), then NAME2, NAME3...
 * Written to typemap.dat, so the handlers' types read struct _NAME__Op.
 */
static int
write_typemap(struct gen *gen, const struct wsdl *w, struct buf *b)
{
	const char *base = gen->name, *p;
	const char **seen = NULL;
	unsigned n = 0, i, j, k;
	int rc = 0;

	for (p = base; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p))
			base = "ns";
	seen = calloc(2 * w->n_ops + 1, sizeof *seen);
	if (seen == NULL)
		return fail(gen, "out of memory");
	rc |= buf_printf(b,
	    "# typemap.dat - wsdl2h's XML prefixes for service %s. A prefix names the\n"
	    "# gSOAP types its handlers use (struct _%s__Operation): written by parley-gen,\n"
	    "# yours to change before you write the handlers.\n", gen->name, base);
	for (i = 0; i < w->n_ops; i++)
		for (k = 0; k < 2; k++) {
			const char *ns = k == 0 ? w->ops[i].request_ns : w->ops[i].response_ns;

			if (ns[0] == '\0' || strcmp(ns, NS_CONVERSATION) == 0 || strchr(ns, '"'))
				continue;
			for (j = 0; j < n && strcmp(seen[j], ns) != 0; j++)
				;
			if (j < n)
				continue;
			seen[n++] = ns;
			if (n == 1)
				rc |= buf_printf(b, "%s = \"%s\"\n", base, ns);
			else
				rc |= buf_printf(b, "%s%u = \"%s\"\n", base, n, ns);
		}
	rc |= buf_printf(b, "pc = \"%s\"\n", NS_CONVERSATION);
	free(seen);
	return rc != 0 ? fail(gen, "out of memory") : 0;
}

static int
write_handlers(struct gen *gen, const struct gen_op *ops, unsigned n, const char **phases,
    struct buf *b)
{
	char rt[320], st[320];
	unsigned i;
	int rc = 0;

	rc |= buf_printf(b,
	    "/*\n"
	    " * %s.c - the handlers of service %s (%s.wsdl, %s.service), one per\n"
	    " * operation. Written by parley-gen: fill in each body.\n"
	    " *\n"
	    " * A handler is called with the request read into *request and *response\n"
	    " * zeroed; it returns 0 with *response filled, or the value of\n"
	    " * parley_fault(). Memory the response points to must outlive the call:\n"
	    " * allocate it with soap_malloc() or soap_strdup(). A conversation's state is\n"
	    " * its bean, read with parley_bean_get() and replaced with parley_bean_set(),\n"
	    " * or kept as a type of the WSDL's schema with PARLEY_BEAN_READ() and\n"
	    " * PARLEY_BEAN_WRITE(); parley.h says what else a handler may ask (the\n"
	    " * conversation's expiry, ending it early, logging).\n"
	    " */\n"
	    "#include \"%s_ops.h\"\n",
	    gen->name, gen->name, gen->name, gen->name, gen->name);
	for (i = 0; i < n; i++) {
		const struct gen_op *g = &ops[i];

		rc |= buf_printf(b,
		    "\n"
		    "/* %s (phase %s): reads <%s>, answers <%s>. */\n"
		    "int\n"
		    "%s(struct parley_call *call, struct soap *soap, %s *request,\n"
		    "    %s *response)\n"
		    "{\n",
		    g->op->name, phases[i], g->req_tag, g->resp_tag, g->handler,
		    c_type(&g->req, rt, sizeof rt), c_type(&g->resp, st, sizeof st));
		if (strcmp(phases[i], "start") == 0)
			rc |= buf_printf(b,
			    "\t/*\n"
			    "\t * A start: parley_call_id(call) is the new conversation's ID. Its\n"
			    "\t * state is its bean: bytes (parley_bean_set), or a type of %s.wsdl's\n"
			    "\t * schema that its gSOAP serializers keep as XML:\n"
			    "\t *\tPARLEY_BEAN_WRITE(call, TYPE, &bean) here, and\n"
			    "\t *\tPARLEY_BEAN_READ(call, TYPE, &bean) in the operations after,\n"
			    "\t * TYPE being its gSOAP name in gen/%s.h, as\n"
			    "\t *\t%s is element %s's.\n"
			    "\t * It expires by max_age and max_idle of %s.service, unless\n"
			    "\t * parley_expiry_set(call, max_age_s, max_idle_s) says otherwise\n"
			    "\t * (parley_expiry_get, parley_expires_at_ms); an operation of phase\n"
			    "\t * continue may end it early with parley_finish(call).\n"
			    "\t */\n",
			    gen->name, gen->name, g->req.ident, g->req.local, gen->name);
		else if (strcmp(phases[i], "continue") == 0)
			rc |= buf_puts(b,
			    "\t/*\n"
			    "\t * The bean: parley_bean_get, or PARLEY_BEAN_READ(call, TYPE, &bean);\n"
			    "\t * parley_finish(call) ends the conversation with this message.\n"
			    "\t */\n");
		rc |= buf_printf(b,
		    "\t(void)soap;\n"
		    "\t(void)request;\n"
		    "\t(void)response;\n"
		    "\t/* TODO: do the work of %s and fill *response. */\n"
		    "\treturn parley_fault(call, PARLEY_FAULT_RECEIVER, \"%s is not implemented\");\n"
		    "}\n",
		    g->op->name, g->op->name);
	}
	return rc != 0 ? fail(gen, "out of memory") : 0;
}

static int
write_descriptor(struct gen *gen, const struct gen_op *ops, unsigned n, const char **phases,
    struct buf *b)
{
	unsigned i;
	int rc = 0;

	rc |= buf_printf(b,
	    "# %s.service - the deployment descriptor of service %s, written by\n"
	    "# parley-gen. Blank lines and everything after a '#' are ignored; paths are\n"
	    "# relative to this file. parleyd.conf(5) and parley-gen(1) say more.\n"
	    "\n"
	    "# The node serves it at /services/%s.\n"
	    "service %s\n"
	    "module %s.so\n"
	    "wsdl %s.wsdl\n"
	    "\n"
	    "# Stored with every bean the service writes: raise it when the bean changes.\n"
	    "version 1\n"
	    "\n"
	    "# How long a conversation may live, and be idle (seconds, or with s, m, h or d).\n"
	    "max_age 1d\n"
	    "max_idle 1h\n"
	    "\n"
	    "# The phase of each operation:\n"
	    "#   start     makes a new conversation and answers with its ID\n"
	    "#   continue  runs in a conversation the request names\n"
	    "#   finish    runs in a conversation, then ends it\n"
	    "#   none      needs no conversation\n",
	    gen->name, gen->name, gen->name, gen->name, gen->name, gen->name);
	for (i = 0; i < n; i++)
		rc |= buf_printf(b, "operation %s %s\n", ops[i].op->name, phases[i]);
	return rc != 0 ? fail(gen, "out of memory") : 0;
}

/* Append template with every "@NAME@" replaced by name. */
static int
subst(struct buf *b, const char *template, const char *name)
{
	const char *p, *at;
	int rc = 0;

	for (p = template; (at = strstr(p, "@NAME@")) != NULL; p = at + 6) {
		rc |= buf_append(b, p, (size_t)(at - p));
		rc |= buf_puts(b, name);
	}
	rc |= buf_puts(b, p);
	return rc != 0 ? PARLEY_ENOMEM : 0;
}

static const char makefile_template[] =
"# Makefile - builds @NAME@.so, the Parley module of service @NAME@, from\n"
"# @NAME@.wsdl and the handlers in @NAME@.c (GNU make). Written by parley-gen;\n"
"# README.md says how to point it at an installed Parley or a build tree.\n"
"\n"
"NAME = @NAME@\n"
"\n"
"# Where the SDK comes from:\n"
"#   make                                   the installed Parley (pkg-config parley)\n"
"#   make PARLEY_PC_PATH=DIR                parley.pc, or a build tree's\n"
"#                                          parley-uninstalled.pc, in DIR\n"
"#   make PARLEY_SRC=DIR PARLEY_BUILD=DIR   a source tree and its build tree\n"
"PKG_CONFIG = pkg-config\n"
"PC = PKG_CONFIG_PATH='$(PARLEY_PC_PATH):$(PKG_CONFIG_PATH)' $(PKG_CONFIG)\n"
"ifneq ($(PARLEY_BUILD),)\n"
"ifeq ($(PARLEY_SRC),)\n"
"$(error PARLEY_BUILD is set: set PARLEY_SRC as well, to its source tree)\n"
"endif\n"
"PARLEY_CFLAGS := -I$(PARLEY_SRC)/src $(shell $(PKG_CONFIG) --cflags gsoap)\n"
"PARLEY_GEN := $(PARLEY_BUILD)/src/tools/parley-gen\n"
"GSOAP_IMPORT := /usr/share/gsoap/import\n"
"SERVICEDIR := $(PARLEY_BUILD)/samples/deploy\n"
"else\n"
"ifneq ($(MAKECMDGOALS),clean)\n"
"ifneq ($(shell $(PC) --exists parley 2>/dev/null && echo yes),yes)\n"
"$(error pkg-config finds no parley.pc: install Parley, or set PARLEY_PC_PATH \\\n"
"  (or PKG_CONFIG_PATH) to the directory of parley.pc or of a build tree's \\\n"
"  parley-uninstalled.pc, or set PARLEY_SRC and PARLEY_BUILD)\n"
"endif\n"
"endif\n"
"PARLEY_CFLAGS := $(shell $(PC) --cflags parley 2>/dev/null)\n"
"PARLEY_GEN := $(shell $(PC) --variable=parley_gen parley 2>/dev/null)\n"
"GSOAP_IMPORT := $(shell $(PC) --variable=gsoap_import parley 2>/dev/null)\n"
"SERVICEDIR := $(shell $(PC) --variable=servicedir parley 2>/dev/null)\n"
"endif\n"
"\n"
"WSDL2H = wsdl2h\n"
"SOAPCPP2 = soapcpp2\n"
"CFLAGS = -O2 -g\n"
"WARN_CFLAGS = -Wall -Wextra\n"
"# gSOAP's generated code is not ours to fix: these warnings stay quiet in it.\n"
"GEN_CFLAGS = -Wno-unused-parameter -Wno-unused-function -Wno-missing-field-initializers\n"
"# Everything is hidden but parley_module. The module is not linked with\n"
"# gSOAP or Parley: its soap_* and parley_* symbols resolve against parleyd\n"
"# when the node loads it, so the process has one gSOAP engine.\n"
"MODULE_CFLAGS = -fPIC -fvisibility=hidden\n"
"ALL_CFLAGS = -std=gnu11 -Igen $(PARLEY_CFLAGS) $(CPPFLAGS) $(WARN_CFLAGS) $(CFLAGS) \\\n"
"\t$(MODULE_CFLAGS)\n"
"OBJECTS = $(NAME).o gen/$(NAME)_glue.o gen/$(NAME)C.o\n"
"\n"
"all: $(NAME).so\n"
"\n"
"# wsdl2h: the WSDL's data binding; -g gives every top-level element a type,\n"
"# -j leaves SOAP-ENV:Header to the node.\n"
"gen/$(NAME).h: $(NAME).wsdl typemap.dat\n"
"\t@command -v $(WSDL2H) >/dev/null || { echo '$(WSDL2H) is not on PATH: on Debian, apt-get install gsoap' >&2; exit 1; }\n"
"\t@mkdir -p gen\n"
"\t$(WSDL2H) -c -g -j -L -t typemap.dat -o $@ $(NAME).wsdl >gen/wsdl2h.log 2>&1 \\\n"
"\t  || { cat gen/wsdl2h.log >&2; rm -f $@; exit 1; }\n"
"\n"
"# soapcpp2: the serializers, prefixed $(NAME), namespace table $(NAME)_namespaces.\n"
"gen/soapcpp2.stamp: gen/$(NAME).h\n"
"\t@command -v $(SOAPCPP2) >/dev/null || { echo '$(SOAPCPP2) is not on PATH: on Debian, apt-get install gsoap' >&2; exit 1; }\n"
"\t$(SOAPCPP2) -c -L -x -n -S -p$(NAME) -d gen -I$(GSOAP_IMPORT) gen/$(NAME).h \\\n"
"\t  >gen/soapcpp2.log 2>&1 || { cat gen/soapcpp2.log >&2; exit 1; }\n"
"\t@touch $@\n"
"\n"
"# parley-gen --glue: the operation table and the handlers' prototypes.\n"
"gen/glue.stamp: gen/soapcpp2.stamp $(NAME).wsdl\n"
"\t$(PARLEY_GEN) --glue --name $(NAME) --wsdl $(NAME).wsdl --gsoap-dir gen\n"
"\t@touch $@\n"
"\n"
"gen/$(NAME)C.o: gen/soapcpp2.stamp\n"
"\t$(CC) $(ALL_CFLAGS) $(GEN_CFLAGS) -c -o $@ gen/$(NAME)C.c\n"
"gen/$(NAME)_glue.o: gen/glue.stamp\n"
"\t$(CC) $(ALL_CFLAGS) -c -o $@ gen/$(NAME)_glue.c\n"
"$(NAME).o: $(NAME).c gen/glue.stamp\n"
"\t$(CC) $(ALL_CFLAGS) -c -o $@ $(NAME).c\n"
"\n"
"$(NAME).so: $(OBJECTS)\n"
"\t$(CC) $(CFLAGS) $(LDFLAGS) -shared -o $@ $(OBJECTS)\n"
"\n"
"# The module, its descriptor and its WSDL, into the node's service directory.\n"
"install: $(NAME).so\n"
"\tinstall -d $(DESTDIR)$(SERVICEDIR)\n"
"\tinstall -m 644 $(NAME).so $(NAME).service $(NAME).wsdl $(DESTDIR)$(SERVICEDIR)\n"
"\n"
"clean:\n"
"\trm -rf gen $(NAME).o $(NAME).so\n"
"\n"
".PHONY: all install clean\n";

static const char readme_template[] =
"# Service @NAME@\n"
"\n"
"Written by `parley-gen` (see parley-gen(1)). The files:\n"
"\n"
"- `@NAME@.c`: the handlers, one per operation. Each body answers with a fault\n"
"  \"not implemented\" until you write it; the signatures are generated, do not\n"
"  change them. `parley.h` is the API a handler uses (the conversation, its\n"
"  bean as bytes or as a type of the WSDL's schema, its expiry, ending it\n"
"  early, faults, logging).\n"
"- `@NAME@.service`: the deployment descriptor: each operation's phase and how\n"
"  long a conversation lives.\n"
"- `@NAME@.wsdl`: the WSDL the node serves at `/services/@NAME@?wsdl`.\n"
"- `typemap.dat`: the prefix of the gSOAP types in the handlers' signatures.\n"
"- `Makefile`: builds `@NAME@.so` (GNU make). `gen/` holds gSOAP's code, made\n"
"  from the WSDL again whenever it changes: never edit it.\n"
"\n"
"## Build\n"
"\n"
"    make                                   # against the installed Parley (pkg-config parley)\n"
"    make PARLEY_PC_PATH=/path/to/build     # a Parley build tree (parley-uninstalled.pc)\n"
"    make PARLEY_SRC=/path/to/parley PARLEY_BUILD=/path/to/build\n"
"\n"
"`PKG_CONFIG_PATH` works as `PARLEY_PC_PATH` does. `CFLAGS` and `CC` may be\n"
"given as usual. The module is linked with neither gSOAP nor Parley: the node\n"
"provides both when it loads it.\n"
"\n"
"## Deploy\n"
"\n"
"    make install       # @NAME@.so, .service, .wsdl into `pkg-config --variable=servicedir parley`\n"
"\n"
"or copy those three files into the `deploy_dir` of a node; a node loads every\n"
"`NAME.service` there when it starts.\n"
"\n"
"## Phases\n"
"\n"
"`parley-gen --phases FILE` takes each operation's phase from FILE (lines\n"
"`Operation phase`). Operations it does not name follow the convention: a\n"
"name that begins with the word Start, Begin, Open or Create is `start`;\n"
"Checkout, Finish, End, Close or Cancel, `finish`; any other, `continue`.\n"
"Change `@NAME@.service` to change a phase.\n";

static int
write_readme(struct gen *gen, const char *dropped, struct buf *b)
{
	int rc = subst(b, readme_template, gen->name);

	if (rc == 0 && dropped[0] != '\0')
		rc = buf_printf(b,
		    "\n"
		    "## One-way operations\n"
		    "\n"
		    "Parley answers every request, so it does not serve one-way operations (an\n"
		    "input and no output). `%s.wsdl` is the WSDL given to parley-gen without\n"
		    "them: %s. Give each an output message to serve it.\n",
		    gen->name, dropped);
	return rc != 0 ? fail(gen, "out of memory") : 0;
}

/* Does dir/file exist? */
static int
exists(const char *dir, const char *file)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", dir, file);
	return access(path, F_OK) == 0;
}

/* Create dir and its missing parents, as mkdir -p does. */
static int
make_dir(struct gen *gen, const char *dir)
{
	char path[4096];
	char *p;

	if ((size_t)snprintf(path, sizeof path, "%s", dir) >= sizeof path)
		return fail(gen, "%s: path too long", dir);
	for (p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		if (p[-1] != '/') {
			char c = *p;

			*p = '\0';
			if (mkdir(path, 0777) != 0 && errno != EEXIST)
				return fail(gen, "%s: cannot create it: %s", path, strerror(errno));
			*p = c;
		}
		if (*p == '\0')
			return 0;
	}
}

/*
 * Write the service project into gen->out_dir: the WSDL, the typemap, gSOAP's
 * code and the glue in gen/, the handlers, the descriptor, a Makefile and a
 * README. The handlers and the descriptor are the author's: when they exist
 * they are kept, and the new ones are not written.
 */
static int
gen_project(struct gen *gen)
{
	static const char *const outputs[] = { "Makefile", "README.md" };
	struct wsdl w;
	struct gsoap g;
	struct gen_op *ops = NULL;
	struct buf b = BUF_INIT, dropped = BUF_INIT;
	const char *source_wsdl = gen->wsdl, **phases = NULL;
	char gen_dir[4096], wsdl_copy[4096], file[300], header[4200], log[4200];
	unsigned i;
	int rc;

	memset(&w, 0, sizeof w);
	memset(&g, 0, sizeof g);
	if (!on_path("wsdl2h") || !on_path("soapcpp2"))
		return fail(gen, "%s is not on PATH: parley-gen runs gSOAP's wsdl2h and soapcpp2; "
		    "on Debian, apt-get install gsoap", on_path("wsdl2h") ? "soapcpp2" : "wsdl2h");
	if ((size_t)snprintf(gen_dir, sizeof gen_dir, "%s/gen", gen->out_dir) >= sizeof gen_dir ||
	    (size_t)snprintf(wsdl_copy, sizeof wsdl_copy, "%s/%s.wsdl", gen->out_dir, gen->name) >=
	    sizeof wsdl_copy)
		return fail(gen, "%s: path too long", gen->out_dir);
	if ((rc = make_dir(gen, gen->out_dir)) != 0 || (rc = make_dir(gen, gen_dir)) != 0)
		return rc;

	snprintf(file, sizeof file, "%s.wsdl", gen->name);
	if ((rc = copy_wsdl(gen, gen->out_dir, file, &dropped)) != 0)
		goto fail;
	if (dropped.len == 0 && buf_append(&dropped, "", 0) != 0) {
		rc = fail(gen, "out of memory");
		goto fail;
	}
	gen->wsdl = wsdl_copy;
	if ((rc = wsdl_load(gen->wsdl, &w, gen->err, sizeof gen->err)) != 0)
		goto fail;
	if ((rc = write_typemap(gen, &w, &b)) != 0 ||
	    (rc = write_file(gen, gen->out_dir, "typemap.dat", &b)) != 0)
		goto fail;
	wsdl_free(&w);

	snprintf(header, sizeof header, "%s/%s.h", gen_dir, gen->name);
	snprintf(file, sizeof file, "%s/typemap.dat", gen->out_dir);
	snprintf(log, sizeof log, "%s/wsdl2h.log", gen_dir);
	{
		char *argv[] = { "wsdl2h", "-c", "-g", "-j", "-L", "-t", file, "-o", header,
		    wsdl_copy, NULL };

		if ((rc = run(gen, argv, log)) != 0)
			goto fail;
	}
	snprintf(log, sizeof log, "%s/soapcpp2.log", gen_dir);
	{
		char prefix[80], import[4100];
		char *argv[] = { "soapcpp2", "-c", "-L", "-x", "-n", "-S", prefix, "-d", gen_dir,
		    import, header, NULL };

		snprintf(prefix, sizeof prefix, "-p%s", gen->name);
		snprintf(import, sizeof import, "-I%s", gen->gsoap_import);
		if ((rc = run(gen, argv, log)) != 0)
			goto fail;
	}
	buf_free(&b);
	if ((rc = write_file(gen, gen_dir, "soapcpp2.stamp", &b)) != 0)
		goto fail;

	gen->gsoap_dir = gen_dir;
	if ((rc = load_service(gen, &w, &g, &ops)) != 0 ||
	    (rc = write_glue(gen, ops, w.n_ops)) != 0 ||
	    (rc = write_file(gen, gen_dir, "glue.stamp", &b)) != 0)
		goto fail;

	phases = calloc(w.n_ops + 1, sizeof *phases);
	if (phases == NULL) {
		rc = fail(gen, "out of memory");
		goto fail;
	}
	if (gen->phases != NULL && (rc = read_phases(gen, &w, phases)) != 0)
		goto fail;
	for (i = 0; i < w.n_ops; i++)
		if (phases[i] == NULL)
			phases[i] = phase_by_name(w.ops[i].name);

	snprintf(file, sizeof file, "%s.c", gen->name);
	if (exists(gen->out_dir, file)) {
		fprintf(stderr, "parley-gen: %s/%s exists: kept as it is\n", gen->out_dir, file);
	} else if ((rc = write_handlers(gen, ops, w.n_ops, phases, &b)) != 0 ||
	    (rc = write_file(gen, gen->out_dir, file, &b)) != 0) {
		goto fail;
	}
	buf_free(&b);
	snprintf(file, sizeof file, "%s.service", gen->name);
	if (exists(gen->out_dir, file)) {
		fprintf(stderr, "parley-gen: %s/%s exists: kept as it is\n", gen->out_dir, file);
	} else if ((rc = write_descriptor(gen, ops, w.n_ops, phases, &b)) != 0 ||
	    (rc = write_file(gen, gen->out_dir, file, &b)) != 0) {
		goto fail;
	}
	for (i = 0; i < sizeof outputs / sizeof outputs[0]; i++) {
		buf_free(&b);
		if (i == 0)
			rc = subst(&b, makefile_template, gen->name) != 0 ?
			    fail(gen, "out of memory") : 0;
		else
			rc = write_readme(gen, dropped.data, &b);
		if (rc != 0 || (rc = write_file(gen, gen->out_dir, outputs[i], &b)) != 0)
			goto fail;
	}
	if (dropped.data[0] != '\0')
		fprintf(stderr, "parley-gen: %s: one-way operations left out (Parley answers every "
		    "request): %s\n", source_wsdl, dropped.data);
	printf("parley-gen: service %s (%u operations) written to %s: fill in %s/%s.c, "
	    "then make -C %s\n", gen->name, w.n_ops, gen->out_dir, gen->out_dir, gen->name,
	    gen->out_dir);

fail:
	gen->wsdl = source_wsdl;
	free(phases);
	buf_free(&b);
	buf_free(&dropped);
	release_service(&w, &g, ops);
	return rc;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: parley-gen WSDL [--phases FILE] [--name NAME] -o DIR\n"
	    "       parley-gen --glue [--builtin] --name NAME --wsdl FILE.wsdl --gsoap-dir DIR\n"
	    "\n"
	    "  WSDL -o DIR  write a service project into DIR: NAME.c (a handler per\n"
	    "               operation), NAME.service, NAME.wsdl, typemap.dat, a Makefile\n"
	    "               that builds NAME.so against the installed SDK, README.md\n"
	    "  --phases FILE  lines 'Operation phase'; other operations follow the\n"
	    "               naming convention of parley-gen(1)\n"
	    "  --name NAME  the service and module name (a C identifier); by default\n"
	    "               the WSDL's file name without .wsdl\n"
	    "  --gsoap-import DIR  gSOAP's import directory [%s]\n"
	    "  --glue       write DIR/NAME_glue.c and DIR/NAME_ops.h for a Parley module;\n"
	    "               DIR holds NAME.h from `wsdl2h -c -g -j` and NAMEH.h, NAMEStub.h,\n"
	    "               NAME.nsmap and NAMEC.c from `soapcpp2 -c -n -p NAME`\n"
	    "  --builtin    for a service compiled into parleyd: the table is NAME_module\n"
	    "               (not the exported parley_module) and the WSDL text is NAME_wsdl\n"
	    "  --wsdl FILE  the service's WSDL\n"
	    "  --gsoap-dir DIR\n", PARLEY_GSOAP_IMPORT);
}

/* The default name: the WSDL's file name without ".wsdl", as a C identifier. */
static const char *
name_from_wsdl(struct gen *gen)
{
	const char *base = strrchr(gen->wsdl, '/');
	size_t n, i;
	char *p;

	base = base != NULL ? base + 1 : gen->wsdl;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".wsdl") == 0)
		n -= 5;
	p = gen->name_buf;
	if (n > 0 && isdigit((unsigned char)base[0]))
		*p++ = 's';
	for (i = 0; i < n && p < gen->name_buf + sizeof gen->name_buf - 1; i++)
		*p++ = is_ident_char(base[i]) ? base[i] : '_';
	*p = '\0';
	return gen->name_buf;
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
		{ "phases", required_argument, NULL, 'p' },
		{ "gsoap-import", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct gen gen;
	int ch, rc;

	memset(&gen, 0, sizeof gen);
	gen.gsoap_import = PARLEY_GSOAP_IMPORT;
	while ((ch = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'g': gen.mode = MODE_GLUE; break;
		case 'b': gen.builtin = 1; break;
		case 'n': gen.name = optarg; break;
		case 'w': gen.wsdl = optarg; break;
		case 'd': gen.gsoap_dir = optarg; break;
		case 'o': gen.out_dir = optarg; break;
		case 'p': gen.phases = optarg; break;
		case 'I': gen.gsoap_import = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("parley-gen %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (gen.mode == MODE_NONE && optind == argc - 1 && gen.wsdl == NULL) {
		gen.mode = MODE_PROJECT;
		gen.wsdl = argv[optind++];
	}
	if (optind != argc || gen.mode == MODE_NONE) {
		usage(stderr);
		return 2;
	}
	if (gen.mode == MODE_PROJECT && gen.name == NULL)
		gen.name = name_from_wsdl(&gen);
	if (gen.name != NULL && (!valid_c_name(gen.name) || strlen(gen.name) > 63)) {
		fprintf(stderr, "parley-gen: bad module name '%s': use a C identifier of at "
		    "most 63 characters\n", gen.name);
		return 2;
	}
	switch (gen.mode) {
	case MODE_GLUE:
		if (gen.name == NULL || gen.wsdl == NULL || gen.gsoap_dir == NULL) {
			usage(stderr);
			return 2;
		}
		rc = gen_glue(&gen);
		break;
	case MODE_PROJECT:
		if (gen.out_dir == NULL || gen.gsoap_dir != NULL || gen.builtin) {
			usage(stderr);
			return 2;
		}
		rc = gen_project(&gen);
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
