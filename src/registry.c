/*
 * registry.c - the services deployed in a node (registry.h). Loading reads
 * each NAME.service in the deploy directory, its WSDL and its module, and
 * checks that the three agree before the node serves anything: a mistake in a
 * deployment is reported when the node starts (or when it is deployed),
 * naming the file to fix, rather than as a fault on some later request.
 *
 * While serving, the services are an immutable view that readers take a
 * reference to; a deploy builds a new view and publishes it (see
 * registry_acquire for why a reader needs no lock).
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdsoap2.h>

#include "buf.h"
#include "parley.h"
#include "registry.h"
#include "wsdl.h"

#define MAX_DESCRIPTOR_BYTES (1u << 20)
#define SUFFIX ".service"

/* A deployed service and the views that hold it. */
struct entry {
	struct service s;              /* first: views hand out &e->s */
	atomic_uint refs;              /* views holding it; the last one out frees it */
	struct stat dstat;             /* the descriptor and module files as loaded, */
	struct stat mstat;             /* for rescans and the in-place replacement check */
};

/* The services deployed at one moment. Never changed once published. */
struct registry_view {
	atomic_uint refs;              /* the registry's (while current) and readers' */
	unsigned n;
	struct entry **e;              /* sorted by service name */
};

struct registry {
	_Atomic(struct registry_view *) current;
	atomic_uint looking;           /* readers between loading current and taking a reference */
	pthread_mutex_t change;        /* one deploy or undeploy at a time */
	char *deploy_dir;
	struct service *builtins;      /* fixed before serving */
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
	free(s->module_path);
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

/* Whether a and b describe the same file, unchanged. */
static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * dlopen finds a module by its file name first: loading a path a running
 * service was loaded from gives that service's code, whatever file is there
 * now. Refuse a module file that was replaced under a running module's name.
 */
static int
check_replaced(const struct registry_view *running, const struct entry *e, char *err,
    size_t errlen)
{
	unsigned i;

	for (i = 0; running != NULL && i < running->n; i++) {
		const struct entry *o = running->e[i];

		if (o->s.dl == e->s.dl && (o->mstat.st_dev != e->mstat.st_dev ||
		    o->mstat.st_ino != e->mstat.st_ino))
			return fail(err, errlen, PARLEY_EINVAL, "%s: this file name is the module of "
			    "the running service %s, and the file was replaced: the node would run "
			    "the old code again. Copy the new module under a new name and point the "
			    "descriptor's module line at it (parleyctl deploy does this)",
			    e->s.module_path, o->s.name);
	}
	return 0;
}

/*
 * Load the service described by dir/file into e; on failure e holds nothing.
 * running: the services served now, for check_replaced (NULL at start).
 */
static int
load_service(const char *dir, const char *file, const struct registry_view *running,
    struct entry *e, char *err, size_t errlen)
{
	struct service *s = &e->s;
	struct descriptor d;
	struct wsdl w;
	char *dpath = NULL, *mpath = NULL, *wpath = NULL, *text = NULL;
	size_t len;
	const struct parley_module *m;
	unsigned i;
	int rc;

	memset(e, 0, sizeof *e);
	memset(&d, 0, sizeof d);
	memset(&w, 0, sizeof w);

	dpath = join(dir, file);
	if (dpath == NULL)
		goto nomem;
	if (stat(dpath, &e->dstat) != 0)
		memset(&e->dstat, 0, sizeof e->dstat);
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
	if (stat(mpath, &e->mstat) != 0)
		memset(&e->mstat, 0, sizeof e->mstat);
	if ((rc = open_module(dpath, mpath, &s->dl, &m, err, errlen)) != 0)
		goto fail;
	s->module = m;
	s->module_path = mpath;
	mpath = NULL;
	if ((rc = check_replaced(running, e, err, errlen)) != 0)
		goto fail;
	if ((rc = check_module(m, &w, s->module_path, wpath, err, errlen)) != 0)
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

static void
entry_release(struct entry *e)
{
	if (atomic_fetch_sub(&e->refs, 1) == 1) {
		service_free(&e->s);
		free(e);
	}
}

/* A view of n entries (taking a reference to each), or NULL when out of memory. */
static struct registry_view *
view_new(struct entry **e, unsigned n)
{
	struct registry_view *v;
	unsigned i;

	v = calloc(1, sizeof *v);
	if (v == NULL)
		return NULL;
	if (n > 0 && (v->e = malloc(n * sizeof *v->e)) == NULL) {
		free(v);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		v->e[i] = e[i];
		atomic_fetch_add(&e[i]->refs, 1);
	}
	v->n = n;
	atomic_init(&v->refs, 1);
	return v;
}

/*
 * cur without the service named name, and with add (NULL: none) in its
 * place by name order. NULL when out of memory.
 */
static struct registry_view *
view_with(const struct registry_view *cur, struct entry *add, const char *name)
{
	struct registry_view *v;
	struct entry **e;
	unsigned i, n = 0;

	e = malloc((cur->n + 1) * sizeof *e);
	if (e == NULL)
		return NULL;
	for (i = 0; i < cur->n; i++) {
		if (strcmp(cur->e[i]->s.name, name) == 0)
			continue;
		if (add != NULL && strcmp(add->s.name, cur->e[i]->s.name) < 0) {
			e[n++] = add;
			add = NULL;
		}
		e[n++] = cur->e[i];
	}
	if (add != NULL)
		e[n++] = add;
	v = view_new(e, n);
	free(e);
	return v;
}

/*
 * Make v the current view and drop the registry's reference to the one it
 * replaces. A reader that loaded the old pointer takes its reference before
 * it leaves `looking`; once `looking` has been seen at zero after the
 * exchange, every such reader holds its reference (or loaded the new view),
 * so the old view is released only by its last reader. Readers stay in
 * `looking` for a few instructions, so the wait is short. Called with
 * r->change held.
 */
static void
publish(struct registry *r, struct registry_view *v)
{
	struct registry_view *old = atomic_exchange(&r->current, v);

	while (atomic_load(&r->looking) != 0)
		sched_yield();
	registry_release(old);
}

struct registry_view *
registry_acquire(struct registry *r)
{
	struct registry_view *v;

	atomic_fetch_add(&r->looking, 1);
	v = atomic_load(&r->current);
	atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
	atomic_fetch_sub(&r->looking, 1);
	return v;
}

void
registry_release(struct registry_view *v)
{
	unsigned i;

	if (v == NULL || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	for (i = 0; i < v->n; i++)
		entry_release(v->e[i]);
	free(v->e);
	free(v);
}

static int
registry_new(struct registry **out, const char *deploy_dir)
{
	struct registry *r;

	*out = NULL;
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return PARLEY_ENOMEM;
	r->deploy_dir = strdup(deploy_dir);
	if (r->deploy_dir == NULL || pthread_mutex_init(&r->change, NULL) != 0) {
		free(r->deploy_dir);
		free(r);
		return PARLEY_ENOMEM;
	}
	atomic_init(&r->looking, 0);
	atomic_init(&r->current, NULL);
	*out = r;
	return 0;
}

int
registry_load(struct registry **out, const char *deploy_dir, char *err, size_t errlen)
{
	struct registry *r = NULL;
	struct entry **e = NULL;
	struct registry_view *v = NULL;
	char **names = NULL;
	unsigned count = 0, n = 0, i, j;
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if ((rc = list_descriptors(deploy_dir, &names, &count, err, errlen)) != 0)
		return rc;
	if (registry_new(&r, deploy_dir) != 0 ||
	    (count > 0 && (e = calloc(count, sizeof *e)) == NULL)) {
		rc = fail(err, errlen, PARLEY_ENOMEM, "%s: out of memory", deploy_dir);
		goto fail;
	}
	for (i = 0; i < count; i++) {
		e[n] = malloc(sizeof *e[n]);
		if (e[n] == NULL) {
			rc = fail(err, errlen, PARLEY_ENOMEM, "%s: out of memory", deploy_dir);
			goto fail;
		}
		if ((rc = load_service(deploy_dir, names[i], NULL, e[n], err, errlen)) != 0) {
			free(e[n]);
			goto fail;
		}
		n++;
		for (j = 0; j + 1 < n; j++)
			if (strcmp(e[j]->s.name, e[n - 1]->s.name) == 0) {
				rc = fail(err, errlen, PARLEY_EINVAL, "%s: service '%s' is also "
				    "defined by %s: service names must be unique in a node",
				    e[n - 1]->s.descriptor_path, e[n - 1]->s.name,
				    e[j]->s.descriptor_path);
				goto fail;
			}
	}
	/* Served in name order (the descriptors were read in file name order). */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(e[j - 1]->s.name, e[j]->s.name) > 0; j--) {
			struct entry *t = e[j];
			e[j] = e[j - 1];
			e[j - 1] = t;
		}
	v = view_new(e, n);
	if (v == NULL) {
		rc = fail(err, errlen, PARLEY_ENOMEM, "%s: out of memory", deploy_dir);
		goto fail;
	}
	atomic_store(&r->current, v);
	free(e);
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	*out = r;
	return 0;

fail:
	for (i = 0; i < n; i++) {
		service_free(&e[i]->s);
		free(e[i]);
	}
	free(e);
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	registry_free(r);
	return rc;
}

int
registry_empty(struct registry **out)
{
	struct registry_view *v;

	if (registry_new(out, "") != 0)
		return PARLEY_ENOMEM;
	v = view_new(NULL, 0);
	if (v == NULL) {
		registry_free(*out);
		*out = NULL;
		return PARLEY_ENOMEM;
	}
	atomic_store(&(*out)->current, v);
	return 0;
}

void
registry_free(struct registry *r)
{
	unsigned i;

	if (r == NULL)
		return;
	registry_release(atomic_load(&r->current));
	for (i = 0; i < r->n_builtins; i++)
		service_free(&r->builtins[i]);
	free(r->builtins);
	free(r->deploy_dir);
	pthread_mutex_destroy(&r->change);
	free(r);
}

const char *
registry_deploy_dir(const struct registry *r)
{
	return r->deploy_dir;
}

static struct entry *
view_find(const struct registry_view *v, const char *name)
{
	unsigned i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->e[i]->s.name, name) == 0)
			return v->e[i];
	return NULL;
}

/* Whether name is a plain file name ending in .service. */
static int
descriptor_name(const char *name)
{
	size_t len = strlen(name), sl = strlen(SUFFIX);

	return len > sl && strchr(name, '/') == NULL && strcmp(name + len - sl, SUFFIX) == 0 &&
	    strcmp(name, "..") != 0;
}

int
registry_deploy(struct registry *r, const char *file, struct registry_change *out,
    char *err, size_t errlen)
{
	struct registry_view *cur, *next = NULL;
	struct entry *e = NULL, *old;
	char *target = NULL, *tname = NULL;
	int rc, staged = file[0] == '.';

	if (errlen > 0)
		err[0] = '\0';
	if (!descriptor_name(file))
		return fail(err, errlen, PARLEY_EINVAL, "'%s' is not the name of a descriptor file "
		    "(NAME.service) in the deploy directory %s", file, r->deploy_dir);
	if (r->deploy_dir[0] == '\0')
		return fail(err, errlen, PARLEY_EINVAL, "this node serves no deployed services");
	pthread_mutex_lock(&r->change);
	/* Under r->change the current view stays current: no reference needed. */
	cur = atomic_load(&r->current);
	e = malloc(sizeof *e);
	if (e == NULL) {
		rc = fail(err, errlen, PARLEY_ENOMEM, "%s: out of memory", file);
		goto out;
	}
	if ((rc = load_service(r->deploy_dir, file, cur, e, err, errlen)) != 0) {
		free(e);
		e = NULL;
		goto out;
	}
	atomic_init(&e->refs, 0);
	old = view_find(cur, e->s.name);
	if (old != NULL && !staged && strcmp(old->s.descriptor_path, e->s.descriptor_path) != 0 &&
	    access(old->s.descriptor_path, F_OK) == 0) {
		rc = fail(err, errlen, PARLEY_EINVAL, "%s: service '%s' is also defined by %s: "
		    "service names must be unique in a node", e->s.descriptor_path, e->s.name,
		    old->s.descriptor_path);
		goto out;
	}
	if (staged) {
		if (asprintf(&tname, "%s%s", e->s.name, SUFFIX) < 0)
			tname = NULL;
		else
			target = join(r->deploy_dir, tname);
	}
	next = view_with(cur, e, e->s.name);
	if (next == NULL || (staged && target == NULL)) {
		rc = fail(err, errlen, PARLEY_ENOMEM, "%s: out of memory", file);
		goto out;
	}
	if (staged) {
		/* The staged descriptor becomes the service's: a restart finds this version. */
		if (rename(e->s.descriptor_path, target) != 0) {
			rc = fail(err, errlen, PARLEY_EIO, "%s: cannot rename it to %s: %s",
			    e->s.descriptor_path, target, strerror(errno));
			goto out;
		}
		if (old != NULL && strcmp(old->s.descriptor_path, target) != 0)
			(void)unlink(old->s.descriptor_path);
		free(e->s.descriptor_path);
		e->s.descriptor_path = target;
		target = NULL;
		if (stat(e->s.descriptor_path, &e->dstat) != 0)
			memset(&e->dstat, 0, sizeof e->dstat);
	}
	if (out != NULL) {
		memset(out, 0, sizeof *out);
		snprintf(out->service, sizeof out->service, "%s", e->s.name);
		snprintf(out->module, sizeof out->module, "%s", e->s.module_path);
		out->version = e->s.version;
		out->replaced = old != NULL ? old->s.version : 0;
	}
	e = NULL;
	publish(r, next);
	next = NULL;
	rc = 0;
out:
	/* A view not published takes e with it; e alone is freed here. */
	if (next != NULL) {
		registry_release(next);
		e = NULL;
	}
	if (e != NULL) {
		service_free(&e->s);
		free(e);
	}
	pthread_mutex_unlock(&r->change);
	free(target);
	free(tname);
	return rc;
}

int
registry_undeploy(struct registry *r, const char *name, char *err, size_t errlen)
{
	struct registry_view *cur, *next;
	struct entry *old;
	int rc = 0;

	if (errlen > 0)
		err[0] = '\0';
	pthread_mutex_lock(&r->change);
	cur = atomic_load(&r->current);
	old = view_find(cur, name);
	if (old == NULL) {
		rc = fail(err, errlen, PARLEY_ENOENT, "no service %s is deployed on this node", name);
		goto out;
	}
	next = view_with(cur, NULL, name);
	if (next == NULL) {
		rc = fail(err, errlen, PARLEY_ENOMEM, "out of memory");
		goto out;
	}
	/* Without its descriptor, a restart does not bring the service back. */
	if (unlink(old->s.descriptor_path) != 0 && errno != ENOENT) {
		rc = fail(err, errlen, PARLEY_EIO, "%s: cannot remove it: %s; %s stays deployed",
		    old->s.descriptor_path, strerror(errno), name);
		registry_release(next);
		goto out;
	}
	publish(r, next);
out:
	pthread_mutex_unlock(&r->change);
	return rc;
}

/* Whether e's descriptor and module files are as they were when it was loaded. */
static int
unchanged(const struct entry *e, const struct stat *dst)
{
	struct stat mst;

	return same_file(&e->dstat, dst) && stat(e->s.module_path, &mst) == 0 &&
	    same_file(&e->mstat, &mst);
}

int
registry_rescan(struct registry *r,
    void (*report)(void *arg, const char *file, int rc, const struct registry_change *c,
	const char *err), void *arg)
{
	struct registry_view *v;
	struct registry_change c;
	struct stat st;
	char **names = NULL, *path;
	char err[2048];
	unsigned count = 0, i;
	int rc, deployed = 0;

	if (list_descriptors(r->deploy_dir, &names, &count, err, sizeof err) != 0) {
		report(arg, r->deploy_dir, PARLEY_EIO, NULL, err);
		return PARLEY_EIO;
	}
	for (i = 0; i < count; i++) {
		const struct entry *e = NULL;
		unsigned j;

		path = join(r->deploy_dir, names[i]);
		if (path == NULL || stat(path, &st) != 0) {
			free(path);
			continue;
		}
		v = registry_acquire(r);
		for (j = 0; j < v->n; j++)
			if (strcmp(v->e[j]->s.descriptor_path, path) == 0)
				e = v->e[j];
		rc = e != NULL && unchanged(e, &st);
		registry_release(v);
		free(path);
		if (rc)
			continue;
		rc = registry_deploy(r, names[i], &c, err, sizeof err);
		report(arg, names[i], rc, rc == 0 ? &c : NULL, err);
		if (rc == 0)
			deployed++;
	}
	v = registry_acquire(r);
	for (i = 0; i < v->n; i++)
		if (access(v->e[i]->s.descriptor_path, F_OK) != 0) {
			snprintf(err, sizeof err, "%s is gone; service %s stays deployed until "
			    "`parleyctl undeploy %s`", v->e[i]->s.descriptor_path, v->e[i]->s.name,
			    v->e[i]->s.name);
			report(arg, v->e[i]->s.descriptor_path, PARLEY_ENOENT, NULL, err);
		}
	registry_release(v);
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return deployed;
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
	return NULL;
}

unsigned
registry_count(const struct registry_view *v)
{
	return v->n;
}

const struct service *
registry_at(const struct registry_view *v, unsigned i)
{
	return i < v->n ? &v->e[i]->s : NULL;
}

const struct service *
registry_find(const struct registry_view *v, const char *name)
{
	const struct entry *e = view_find(v, name);

	return e != NULL ? &e->s : NULL;
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
