/*
 * registry.h - the services deployed in a node: their descriptors, their
 * WSDLs and their modules (shared objects loaded with dlopen).
 *
 * A service in deploy_dir is a descriptor NAME.service that names its module
 * and WSDL (paths relative to the descriptor), its expiry, and the phase of
 * each operation. The WSDL tells each operation's actions and request
 * element; the module runs it.
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
	char *wsdl;                    /* the WSDL text with every soap:address location set to REGISTRY_ADDRESS_MARK */
};

#define REGISTRY_ADDRESS_MARK "@@PARLEY-ADDRESS@@"

struct registry;

/*
 * Load every NAME.service in deploy_dir: parse it, read its WSDL (which must
 * be self-contained: no import or include of a remote schema), dlopen its
 * module and check that descriptor, WSDL and module name the same operations.
 * Returns 0, or PARLEY_EINVAL / PARLEY_EIO with "FILE: what is wrong and what
 * to do" in err (the first service that failed), with *out NULL.
 */
int registry_load(struct registry **out, const char *deploy_dir, char *err, size_t errlen);

/*
 * Unload every module and release r (NULL is allowed). Nothing of r may be in
 * use: the operations' invoke functions are gone once the modules are closed.
 */
void registry_free(struct registry *r);

/* An empty registry (a node that only runs the manager). Returns 0 or PARLEY_ENOMEM. */
int registry_empty(struct registry **out);

/* The number of services, and the i-th (NULL past the end), sorted by descriptor name. */
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

/* The service (deployed or builtin) served at path, or NULL. */
const struct service *registry_find_path(const struct registry *r, const char *path);

unsigned registry_count(const struct registry *r);
const struct service *registry_at(const struct registry *r, unsigned i);

/* The service with this descriptor name, or NULL. The pointers live as long as r. */
const struct service *registry_find(const struct registry *r, const char *name);

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
