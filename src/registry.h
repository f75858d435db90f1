/*
 * registry.h - the services deployed in a node: their descriptors, their
 * WSDLs and their modules (shared objects loaded with dlopen).
 *
 * A service in deploy_dir is a descriptor NAME.service that names its module
 * and WSDL (paths relative to the descriptor), its expiry, and the phase of
 * each operation. The WSDL tells each operation's actions and request
 * element; the module runs it.
 *
 * The deployed services change while the node serves (registry_deploy,
 * registry_undeploy): a reader takes a view, an immutable snapshot of the
 * services, for as long as it uses them (one message); a change publishes a
 * new view, and a replaced or removed service's module is closed when the
 * last view holding it is released. Builtins are fixed before serving.
 */
#ifndef PARLEY_REGISTRY_H
#define PARLEY_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "parley.h"

/* What a descriptor says (descriptor.c). */
struct descriptor_op {
	char *name;
	enum parley_phase phase;
	unsigned line;                 /* where it was said, for messages */
};

struct descriptor {
	char *service;                 /* "service NAME": [A-Za-z0-9_-]{1,63} */
	char *module;                  /* "module FILE" */
	char *wsdl;                    /* "wsdl FILE" */
	uint32_t version;              /* "version N"; default 1 */
	uint32_t max_age_s;            /* "max_age DURATION"; 0: none */
	uint32_t max_idle_s;           /* "max_idle DURATION"; 0: none */
	struct descriptor_op *ops;
	unsigned n_ops;
};

/*
 * Parse the descriptor text (len bytes) read from path (path is only used in
 * messages). Durations are seconds, or a number with s, m, h or d. Returns 0
 * with d filled, or PARLEY_EINVAL with "PATH:LINE: what is wrong" in err,
 * or PARLEY_ENOMEM; on failure d holds nothing to free.
 */
int descriptor_parse(const char *text, size_t len, const char *path, struct descriptor *d,
    char *err, size_t errlen);

/* Release what descriptor_parse filled in; d is zeroed. */
void descriptor_free(struct descriptor *d);

/* An operation as the node dispatches it. */
struct operation {
	char *name;
	enum parley_phase phase;
	char *input_action;            /* wsaw:Action / wsam:Action of the input, or the WS-A default */
	char *output_action;           /* of the output, or the WS-A default */
	char *soap_action;             /* the binding's soapAction, or NULL */
	char *request_ns;              /* namespace URI and local name of the request element */
	char *request_name;
	const struct parley_operation *module_op;
};

struct service {
	char *name;
	char *path;                    /* where it is served: /services/NAME, or a builtin's own */
	int builtin;                   /* compiled into parleyd: no descriptor, no module file */
	void *context;                 /* a builtin's state, for its handlers (call_context) */
	char *descriptor_path;
	uint32_t version;
	uint32_t max_age_s;
	uint32_t max_idle_s;
	struct operation *ops;
	unsigned n_ops;
	const struct parley_module *module;
	void *dl;                      /* dlopen handle */
	char *module_path;             /* the module file it was loaded from; NULL for a builtin */
	char *wsdl;                    /* the WSDL text with every soap:address location set to REGISTRY_ADDRESS_MARK */
};

#define REGISTRY_ADDRESS_MARK "@@PARLEY-ADDRESS@@"

struct registry;
struct registry_view;

/*
 * Load every NAME.service in deploy_dir: parse it, read its WSDL (which must
 * be self-contained: no import or include of a remote schema), dlopen its
 * module and check that descriptor, WSDL and module name the same operations.
 * Returns 0, or PARLEY_EINVAL / PARLEY_EIO with "FILE: what is wrong and what
 * to do" in err (the first service that failed), with *out NULL. deploy_dir
 * is copied: later deploys read from it.
 */
int registry_load(struct registry **out, const char *deploy_dir, char *err, size_t errlen);

/*
 * Release r (NULL is allowed) and its view of the services; a module is
 * closed once no view the caller still holds has it. Nothing else of r may
 * be in use: builtins are gone with r.
 */
void registry_free(struct registry *r);

/* An empty registry (a node that only runs the manager). Returns 0 or PARLEY_ENOMEM. */
int registry_empty(struct registry **out);

/*
 * Take a reference to the services deployed now. It never blocks and never
 * fails: a few atomic operations, no lock. The view and every service and
 * operation found through it stay valid, unchanged, until registry_release,
 * whatever is deployed or undeployed meanwhile.
 */
struct registry_view *registry_acquire(struct registry *r);

/* Drop a reference taken by registry_acquire (NULL is allowed); v may be freed. */
void registry_release(struct registry_view *v);

/* What registry_deploy did. */
struct registry_change {
	char service[64];
	uint32_t version;              /* the version now served */
	uint32_t replaced;             /* the version it replaced; 0 for a new service */
	char module[1024];             /* the module file loaded */
};

/*
 * Deploy the service described by file, a descriptor in the deploy
 * directory (a name without '/'), while the node serves: load and check all
 * of it first (descriptor, WSDL, module, their operations), then serve it in
 * place of the running service of the same name, or beside the others.
 * A descriptor whose name starts with '.' is a staged one (parleyctl deploy
 * writes it): once it has loaded it is renamed to NAME.service, replacing
 * the running version's descriptor, so a restart finds the new version.
 * A running module's file cannot be replaced in place (dlopen would give
 * the old code again): a new version needs a module file of a new name.
 * Messages already running finish with the old version; the old module is
 * closed after the last of them.
 *
 * Returns 0 with *out filled (out may be NULL), or PARLEY_EINVAL /
 * PARLEY_EIO / PARLEY_ENOMEM with "FILE: what is wrong and what to do" in
 * err, and then nothing changed: the running version, if any, stays.
 */
int registry_deploy(struct registry *r, const char *file, struct registry_change *out,
    char *err, size_t errlen);

/*
 * Stop serving service name and remove its descriptor from the deploy
 * directory (its module and WSDL files stay). Messages already running
 * finish. Returns 0, or PARLEY_ENOENT (no such service) / PARLEY_EIO (the
 * descriptor could not be removed: nothing changed) with err.
 */
int registry_undeploy(struct registry *r, const char *name, char *err, size_t errlen);

/*
 * Deploy what changed in the deploy directory since it was last read: a
 * descriptor no running service came from, or whose file (or module file)
 * changed. Each is deployed as by registry_deploy, and report is called with
 * its outcome (rc 0 and the change, or an error and its message); a
 * descriptor that is gone leaves its service running (report gets
 * PARLEY_ENOENT). Returns the number of services deployed, or PARLEY_EIO
 * when the directory cannot be read (nothing changed then).
 */
int registry_rescan(struct registry *r,
    void (*report)(void *arg, const char *file, int rc, const struct registry_change *c,
	const char *err), void *arg);

/* The deploy directory (as given to registry_load; "" for registry_empty). */
const char *registry_deploy_dir(const struct registry *r);

/*
 * Add a service compiled into parleyd (such as the conversation manager),
 * served at path, with every operation of phase none: wsdl is its WSDL text,
 * module the table its glue made (parley-gen --glue --builtin), context what
 * its handlers get from call_context. Builtins are not counted by
 * registry_count/at and not found by registry_find (no deployed service can
 * take their names); registry_find_path finds them. Returns 0, or
 * PARLEY_EINVAL / PARLEY_ENOMEM with err.
 */
int registry_add_builtin(struct registry *r, const char *name, const char *path,
    const char *wsdl, const struct parley_module *module, void *context, char *err,
    size_t errlen);

/* The builtin service served at path, or NULL. It lives as long as r. */
const struct service *registry_find_path(const struct registry *r, const char *path);

/* The number of services in v, and the i-th (NULL past the end), sorted by name. */
unsigned registry_count(const struct registry_view *v);
const struct service *registry_at(const struct registry_view *v, unsigned i);

/* The service with this descriptor name in v, or NULL. It lives as long as v. */
const struct service *registry_find(const struct registry_view *v, const char *name);

/*
 * Find the operation of svc a request names: by action (wsa:Action, or the
 * SOAPAction when action is NULL) when there is one, else by the request
 * element's namespace and local name. Returns NULL when none matches.
 */
const struct operation *registry_operation(const struct service *svc, const char *action,
    const char *body_ns, const char *body_name);

/*
 * Append svc's WSDL with every soap:address / soap12:address location set
 * to base_url followed by the service's path. Returns 0 or PARLEY_ENOMEM.
 */
int registry_write_wsdl(const struct service *svc, const char *base_url, struct buf *out);

#endif /* PARLEY_REGISTRY_H */
