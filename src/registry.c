/*
 * registry.c - the services deployed in a node (registry.h). Loading reads
 * each NAME.service in the deploy directory, its WSDL and its module, and
 * checks that the three agree before the node serves anything: a mistake in a
 * deployment is reported when the node starts, naming the file to fix, rather
 * than as a fault on some later request.
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdsoap2.h>

#include "buf.h"
#include "parley.h"
#include "registry.h"
#include "wsdl.h"

#define MAX_DESCRIPTOR_BYTES (1u << 20)
#define SUFFIX ".service"

struct registry {
	struct service *services;      /* sorted by descriptor file name */
	unsigned n;
	struct service *builtins;
	unsigned n_builtins;
};

static int
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* dir/file, or file itself when it is absolute. Returns NULL when out of memory. */
static char *
join(const char *dir, const char *file)
{
	size_t n;
	char *s;

	size_t dlen = strlen(dir);

	if (file[0] == '/')
		return strdup(file);
	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	n = dlen + strlen(file) + 2;
	s = malloc(n);
	if (s != NULL)
		snprintf(s, n, "%.*s/%s", (int)dlen, dir, file);
	return s;
}

static int
read_file(const char *path, size_t max, char **text, size_t *len, char *err, size_t errlen)
{
	FILE *f;
	char *buf = NULL;
	size_t n;
	int rc = 0;

	*text = NULL;
	*len = 0;
	f = fopen(path, "rb");
	if (f == NULL)
		return fail(err, errlen, PARLEY_EIO, "%s: cannot open it: %s", path,
		    strerror(errno));
	buf = malloc(max + 1);
	if (buf == NULL) {
		rc = fail(err, errlen, PARLEY_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f)) {
		rc = fail(err, errlen, PARLEY_EIO, "%s: cannot read it: %s", path, strerror(errno));
		goto fail;
	}
	if (n > max) {
		rc = fail(err, errlen, PARLEY_EINVAL, "%s: is larger than %zu bytes", path, max);
		goto fail;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	fclose(f);
	return 0;

fail:
	free(buf);
	fclose(f);
	return rc;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.service file names in dir, sorted; the caller frees each and the array. */
static int
list_descriptors(const char *dir, char ***names, unsigned *count, char *err, size_t errlen)
{
	DIR *d;
	struct dirent *e;
	char **v = NULL, **nv;
	unsigned n = 0, i;
	size_t len, sl = strlen(SUFFIX);
	int rc;

	*names = NULL;
	*count = 0;
	d = opendir(dir);
	if (d == NULL)
		return fail(err, errlen, PARLEY_EIO, "%s: cannot open the deploy directory: %s",
		    dir, strerror(errno));
	while ((errno = 0, e = readdir(d)) != NULL) {
		len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len <= sl || strcmp(e->d_name + len - sl, SUFFIX) != 0)
			continue;
		nv = realloc(v, (n + 1) * sizeof *v);
		if (nv == NULL)
			goto nomem;
		v = nv;
		v[n] = strdup(e->d_name);
		if (v[n] == NULL)
			goto nomem;
		n++;
	}
	if (errno != 0) {
		rc = fail(err, errlen, PARLEY_EIO, "%s: cannot read the deploy directory: %s", dir,
		    strerror(errno));
		goto fail;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof *v, cmp_names);
	*names = v;
	*count = n;
	return 0;

nomem:
	rc = fail(err, errlen, PARLEY_ENOMEM, "%s: out of memory", dir);
fail:
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
	closedir(d);
	return rc;
}

static void
service_free(struct service *s)
{
	unsigned i;

	for (i = 0; i < s->n_ops; i++) {
		struct operation *o = &s->ops[i];

		free(o->name);
		free(o->input_action);
		free(o->output_action);
		free(o->soap_action);
		free(o->request_ns);
		free(o->request_name);
	}
	free(s->ops);
	free(s->name);
	free(s->path);
	free(s->descriptor_path);
	free(s->wsdl);
	if (s->dl != NULL)
		dlclose(s->dl);
	memset(s, 0, sizeof *s);
}

/* The descriptor and the WSDL must name the same operations. */
static int
check_ops(const struct descriptor *d, const struct wsdl *w, const char *dpath, const char *wpath,
    char *err, size_t errlen)
{
	unsigned i, j;

	for (i = 0; i < d->n_ops; i++)
		if (wsdl_find(w, d->ops[i].name) == NULL)
			return fail(err, errlen, PARLEY_EINVAL, "%s:%u: operation '%s' is not in %s; "
			    "fix its name or remove the line", dpath, d->ops[i].line,
			    d->ops[i].name, wpath);
	for (i = 0; i < w->n_ops; i++) {
		for (j = 0; j < d->n_ops; j++)
			if (strcmp(d->ops[j].name, w->ops[i].name) == 0)
				break;
		if (j == d->n_ops)
			return fail(err, errlen, PARLEY_EINVAL, "%s: %s has operation '%s', but this "
			    "descriptor gives it no phase: add 'operation %s start|continue|finish|"
			    "none'", dpath, wpath, w->ops[i].name, w->ops[i].name);
	}
	return 0;
}

/* The namespace URI the module's gSOAP table gives prefix (len bytes), or NULL. */
static const char *
module_ns(const struct parley_module *m, const char *prefix, size_t len)
{
	const struct Namespace *t;

	for (t = m->namespaces; t->id != NULL; t++)
		if (strlen(t->id) == len && strncmp(t->id, prefix, len) == 0)
			return t->ns;
	return NULL;
}

/*
 * The module must be built for this ABI and from this WSDL: the same
 * operations, each reading the element the WSDL puts in the request body.
 */
static int
check_module(const struct parley_module *m, const struct wsdl *w, const char *mpath,
    const char *wpath, char *err, size_t errlen)
{
	const char *colon, *ns, *local;
	unsigned i, j;

	if (m->abi != PARLEY_MODULE_ABI)
		return fail(err, errlen, PARLEY_EINVAL, "%s: built for module ABI %u, but this node "
		    "loads ABI %u: rebuild it with this Parley's parley-gen", mpath, m->abi,
		    PARLEY_MODULE_ABI);
	if (m->namespaces == NULL || (m->operations == NULL && m->n_operations > 0))
		return fail(err, errlen, PARLEY_EINVAL, "%s: its parley_module is incomplete: "
		    "rebuild it with parley-gen", mpath);
	for (i = 0; i < m->n_operations; i++) {
		const struct parley_operation *op = &m->operations[i];
		const struct wsdl_op *wop;

		if (op->name == NULL || op->request_tag == NULL || op->invoke == NULL)
			return fail(err, errlen, PARLEY_EINVAL, "%s: its operation table is "
			    "incomplete: rebuild it with parley-gen", mpath);
		wop = wsdl_find(w, op->name);
		if (wop == NULL)
			return fail(err, errlen, PARLEY_EINVAL, "%s: has operation '%s', which %s "
			    "does not define: the module was built from another WSDL; rebuild it "
			    "from %s", mpath, op->name, wpath, wpath);
		colon = strchr(op->request_tag, ':');
		ns = colon != NULL ? module_ns(m, op->request_tag,
		    (size_t)(colon - op->request_tag)) : "";
		local = colon != NULL ? colon + 1 : op->request_tag;
		if (ns == NULL || strcmp(ns, wop->request_ns) != 0 ||
		    strcmp(local, wop->request_name) != 0)
			return fail(err, errlen, PARLEY_EINVAL, "%s: operation '%s' reads <%s> "
			    "({%s}%s), but %s says its request is {%s}%s: the module was built from "
			    "another WSDL; rebuild it from %s", mpath, op->name, op->request_tag,
			    ns != NULL ? ns : "?", local, wpath, wop->request_ns, wop->request_name,
			    wpath);
		for (j = 0; j < i; j++)
			if (strcmp(m->operations[j].name, op->name) == 0)
				return fail(err, errlen, PARLEY_EINVAL, "%s: has operation '%s' twice: "
				    "rebuild it with parley-gen", mpath, op->name);
	}
	for (i = 0; i < w->n_ops; i++) {
		for (j = 0; j < m->n_operations; j++)
			if (strcmp(m->operations[j].name, w->ops[i].name) == 0)
				break;
		if (j == m->n_operations)
			return fail(err, errlen, PARLEY_EINVAL, "%s: has no operation '%s', which %s "
			    "defines: the module was built from another WSDL; rebuild it from %s",
			    mpath, w->ops[i].name, wpath, wpath);
	}
	return 0;
}

/* Open the module at mpath and find its parley_module. */
static int
open_module(const char *dpath, const char *mpath, void **dl, const struct parley_module **m,
    char *err, size_t errlen)
{
	const char *e;

	*dl = NULL;
	*m = NULL;
	if (access(mpath, R_OK) != 0)
		return fail(err, errlen, PARLEY_EIO, "%s: its module %s cannot be read: %s; build "
		    "it and copy it next to the descriptor", dpath, mpath, strerror(errno));
	/*
	 * RTLD_LOCAL keeps each module's symbols to itself; its gSOAP serializers are
	 * hidden as well, so two modules built from WSDLs with the same prefixes and
	 * operation names do not see each other's.
	 */
	*dl = dlopen(mpath, RTLD_NOW | RTLD_LOCAL);
	if (*dl == NULL) {
		e = dlerror();
		return fail(err, errlen, PARLEY_EINVAL, "%s: its module cannot be loaded (%s): "
		    "build it from the service's WSDL with parley-gen and the module make rules",
		    dpath, e != NULL ? e : "unknown error");
	}
	*m = dlsym(*dl, PARLEY_MODULE_SYMBOL);
	if (*m == NULL) {
		dlclose(*dl);
		*dl = NULL;
		return fail(err, errlen, PARLEY_EINVAL, "%s: is not a Parley module (it has no '%s' "
		    "symbol): build it with parley-gen --glue", mpath, PARLEY_MODULE_SYMBOL);
	}
	return 0;
}

static void
move_op(struct operation *o, struct wsdl_op *w, const struct descriptor *d,
    const struct parley_module *m)
{
	unsigned i;

	o->name = w->name;
	o->input_action = w->input_action;
	o->output_action = w->output_action;
	o->soap_action = w->soap_action;
	o->request_ns = w->request_ns;
	o->request_name = w->request_name;
	w->name = w->input_action = w->output_action = w->soap_action = NULL;
	w->request_ns = w->request_name = NULL;
	for (i = 0; i < d->n_ops; i++)
		if (strcmp(d->ops[i].name, o->name) == 0)
			o->phase = d->ops[i].phase;
	for (i = 0; i < m->n_operations; i++)
		if (strcmp(m->operations[i].name, o->name) == 0)
			o->module_op = &m->operations[i];
}

/* Load the service described by dir/file into s; on failure s holds nothing. */
static int
load_service(const char *dir, const char *file, struct service *s, char *err, size_t errlen)
{
	struct descriptor d;
	struct wsdl w;
	char *dpath = NULL, *mpath = NULL, *wpath = NULL, *text = NULL;
	size_t len;
	const struct parley_module *m;
	unsigned i;
	int rc;

	memset(s, 0, sizeof *s);
	memset(&d, 0, sizeof d);
	memset(&w, 0, sizeof w);

	dpath = join(dir, file);
	if (dpath == NULL)
		goto nomem;
	if ((rc = read_file(dpath, MAX_DESCRIPTOR_BYTES, &text, &len, err, errlen)) != 0)
		goto fail;
	if ((rc = descriptor_parse(text, len, dpath, &d, err, errlen)) != 0)
		goto fail;
	mpath = join(dir, d.module);
	wpath = join(dir, d.wsdl);
	if (mpath == NULL || wpath == NULL)
		goto nomem;
	if ((rc = wsdl_load(wpath, &w, err, errlen)) != 0)
		goto fail;
	if ((rc = check_ops(&d, &w, dpath, wpath, err, errlen)) != 0)
		goto fail;
	if ((rc = open_module(dpath, mpath, &s->dl, &m, err, errlen)) != 0)
		goto fail;
	s->module = m;
	if ((rc = check_module(m, &w, mpath, wpath, err, errlen)) != 0)
		goto fail;

	s->ops = calloc(w.n_ops, sizeof *s->ops);
	if (s->ops == NULL)
		goto nomem;
	s->n_ops = w.n_ops;
	for (i = 0; i < w.n_ops; i++)
		move_op(&s->ops[i], &w.ops[i], &d, m);
	s->name = d.service;
	d.service = NULL;
	if (asprintf(&s->path, "/services/%s", s->name) < 0) {
		s->path = NULL;
		goto nomem;
	}
	s->descriptor_path = dpath;
	dpath = NULL;
	s->version = d.version;
	s->max_age_s = d.max_age_s;
	s->max_idle_s = d.max_idle_s;
	s->wsdl = w.marked;
	w.marked = NULL;

	wsdl_free(&w);
	descriptor_free(&d);
	free(text);
	free(mpath);
	free(wpath);
	return 0;

nomem:
	rc = fail(err, errlen, PARLEY_ENOMEM, "%s/%s: out of memory", dir, file);
fail:
	service_free(s);
	wsdl_free(&w);
	descriptor_free(&d);
	free(text);
	free(dpath);
	free(mpath);
	free(wpath);
	return rc;
}

int
registry_load(struct registry **out, const char *deploy_dir, char *err, size_t errlen)
{
	struct registry *r = NULL;
	char **names = NULL;
	unsigned count = 0, i, j;
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if ((rc = list_descriptors(deploy_dir, &names, &count, err, errlen)) != 0)
		return rc;
	r = calloc(1, sizeof *r);
	if (r == NULL || (count > 0 && (r->services = calloc(count, sizeof *r->services)) == NULL)) {
		rc = fail(err, errlen, PARLEY_ENOMEM, "%s: out of memory", deploy_dir);
		goto fail;
	}
	for (i = 0; i < count; i++) {
		struct service *s = &r->services[i];

		if ((rc = load_service(deploy_dir, names[i], s, err, errlen)) != 0)
			goto fail;
		r->n++;
		for (j = 0; j < i; j++)
			if (strcmp(r->services[j].name, s->name) == 0) {
				rc = fail(err, errlen, PARLEY_EINVAL, "%s: service '%s' is also "
				    "defined by %s: service names must be unique in a node",
				    s->descriptor_path, s->name, r->services[j].descriptor_path);
				goto fail;
			}
	}
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	*out = r;
	return 0;

fail:
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	registry_free(r);
	return rc;
}

int
registry_empty(struct registry **out)
{
	*out = calloc(1, sizeof **out);
	return *out != NULL ? 0 : PARLEY_ENOMEM;
}

void
registry_free(struct registry *r)
{
	unsigned i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		service_free(&r->services[i]);
	for (i = 0; i < r->n_builtins; i++)
		service_free(&r->builtins[i]);
	free(r->services);
	free(r->builtins);
	free(r);
}

int
registry_add_builtin(struct registry *r, const char *name, const char *path,
    const char *wsdl, const struct parley_module *module, void *context, char *err,
    size_t errlen)
{
	struct descriptor d;
	struct service *grown, *s;
	struct wsdl w;
	unsigned i;
	int rc;

	memset(&d, 0, sizeof d);
	memset(&w, 0, sizeof w);
	if (registry_find_path(r, path) != NULL)
		return fail(err, errlen, PARLEY_EINVAL, "builtin %s: %s is already served", name,
		    path);
	if ((rc = wsdl_parse(wsdl, strlen(wsdl), name, &w, err, errlen)) != 0)
		return rc;
	if ((rc = check_module(module, &w, name, name, err, errlen)) != 0)
		goto fail;
	/* Every operation of a builtin stands alone: phase none, from an empty descriptor. */
	grown = realloc(r->builtins, (r->n_builtins + 1) * sizeof *r->builtins);
	if (grown == NULL)
		goto nomem;
	r->builtins = grown;
	s = &r->builtins[r->n_builtins];
	memset(s, 0, sizeof *s);
	s->ops = calloc(w.n_ops > 0 ? w.n_ops : 1, sizeof *s->ops);
	s->name = strdup(name);
	s->path = strdup(path);
	if (s->ops == NULL || s->name == NULL || s->path == NULL) {
		service_free(s);
		goto nomem;
	}
	s->n_ops = w.n_ops;
	for (i = 0; i < w.n_ops; i++)
		move_op(&s->ops[i], &w.ops[i], &d, module);
	s->builtin = 1;
	s->context = context;
	s->module = module;
	s->version = 1;
	s->wsdl = w.marked;
	w.marked = NULL;
	r->n_builtins++;
	wsdl_free(&w);
	return 0;

nomem:
	rc = fail(err, errlen, PARLEY_ENOMEM, "builtin %s: out of memory", name);
fail:
	wsdl_free(&w);
	return rc;
}

const struct service *
registry_find_path(const struct registry *r, const char *path)
{
	unsigned i;

	for (i = 0; i < r->n_builtins; i++)
		if (strcmp(r->builtins[i].path, path) == 0)
			return &r->builtins[i];
	for (i = 0; i < r->n; i++)
		if (strcmp(r->services[i].path, path) == 0)
			return &r->services[i];
	return NULL;
}

unsigned
registry_count(const struct registry *r)
{
	return r->n;
}

const struct service *
registry_at(const struct registry *r, unsigned i)
{
	return i < r->n ? &r->services[i] : NULL;
}

const struct service *
registry_find(const struct registry *r, const char *name)
{
	unsigned i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->services[i].name, name) == 0)
			return &r->services[i];
	return NULL;
}

/* Does s equal the len bytes at p? */
static int
equals(const char *s, const char *p, size_t len)
{
	return s != NULL && strlen(s) == len && memcmp(s, p, len) == 0;
}

const struct operation *
registry_operation(const struct service *svc, const char *action, const char *body_ns,
    const char *body_name)
{
	unsigned i;

	if (action != NULL && action[0] != '\0') {
		size_t len = strlen(action);

		/* A SOAPAction header value comes quoted; tolerate a caller that kept the quotes. */
		if (len >= 2 && action[0] == '"' && action[len - 1] == '"') {
			action++;
			len -= 2;
		}
		for (i = 0; i < svc->n_ops; i++)
			if (equals(svc->ops[i].input_action, action, len))
				return &svc->ops[i];
		for (i = 0; i < svc->n_ops; i++)
			if (equals(svc->ops[i].soap_action, action, len))
				return &svc->ops[i];
		return NULL;
	}
	if (body_name == NULL)
		return NULL;
	if (body_ns == NULL)
		body_ns = "";
	for (i = 0; i < svc->n_ops; i++)
		if (strcmp(svc->ops[i].request_name, body_name) == 0 &&
		    strcmp(svc->ops[i].request_ns, body_ns) == 0)
			return &svc->ops[i];
	return NULL;
}

int
registry_write_wsdl(const struct service *svc, const char *base_url, struct buf *out)
{
	const size_t marklen = sizeof REGISTRY_ADDRESS_MARK - 1;
	const char *p = svc->wsdl, *hit;
	size_t saved = out->len, blen = strlen(base_url);
	char *base = NULL;

	/* "http://host:port/" and "http://host:port" give the same address. */
	if (blen > 0 && base_url[blen - 1] == '/')
		blen--;
	base = strndup(base_url, blen);
	if (base == NULL)
		return PARLEY_ENOMEM;
	while ((hit = strstr(p, REGISTRY_ADDRESS_MARK)) != NULL) {
		if (buf_append(out, p, (size_t)(hit - p)) != 0 || buf_put_xml(out, base) != 0 ||
		    buf_put_xml(out, svc->path) != 0)
			goto nomem;
		p = hit + marklen;
	}
	if (buf_puts(out, p) != 0)
		goto nomem;
	free(base);
	return 0;

nomem:
	free(base);
	out->len = saved;
	if (out->data != NULL)
		out->data[saved] = '\0';
	return PARLEY_ENOMEM;
}
