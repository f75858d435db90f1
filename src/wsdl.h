/*
 * wsdl.h - what Parley reads from a service's WSDL 1.1: each operation's
 * actions, SOAPAction and body elements, and the WSDL text with its endpoint
 * addresses marked, to be filled in when the node serves it. The registry
 * uses it when a node loads its services, parley-gen when a module is built,
 * so both see the same operations.
 */
#ifndef PARLEY_WSDL_H
#define PARLEY_WSDL_H

#include <stddef.h>

/* One portType operation, as the SOAP bindings put it on the wire. */
struct wsdl_op {
	char *name;
	char *input_action;       /* wsam:/wsaw:Action of the input, or the WS-Addressing default */
	char *output_action;      /* the same for the output */
	char *soap_action;        /* soap:operation's soapAction; NULL when absent or empty */
	char *request_ns;         /* namespace URI of the input's body element ("" for none) */
	char *request_name;       /* its local name */
	char *response_ns;        /* the same for the output */
	char *response_name;
};

struct wsdl {
	char *target_ns;          /* definitions' targetNamespace ("" when absent) */
	struct wsdl_op *ops;      /* in document order */
	unsigned n_ops;
	char *marked;             /* the WSDL text with every soap:address and soap12:address
	                             location set to REGISTRY_ADDRESS_MARK; NUL-terminated */
	size_t marked_len;
};

/*
 * Read the WSDL text (len bytes) that came from path (used in messages only).
 * The WSDL must be self-contained (no wsdl:import, no xs:import, xs:include or
 * xs:redefine with a location), have no DOCTYPE, and describe document/literal
 * request-response operations in at least one SOAP 1.1 or 1.2 binding, each
 * with one body element per message. Nothing is fetched from the network.
 * Returns 0 with w filled, PARLEY_EINVAL with "PATH: what is wrong and what
 * to do" in err, or PARLEY_ENOMEM; on failure w holds nothing to free.
 */
int wsdl_parse(const char *text, size_t len, const char *path, struct wsdl *w, char *err,
    size_t errlen);

/*
 * Read the file at path and parse it as wsdl_parse does. Returns as
 * wsdl_parse does, or PARLEY_EIO when the file cannot be read.
 */
int wsdl_load(const char *path, struct wsdl *w, char *err, size_t errlen);

/* Find the operation called name in w, or NULL. */
const struct wsdl_op *wsdl_find(const struct wsdl *w, const char *name);

/* Release what w holds; w is zeroed. */
void wsdl_free(struct wsdl *w);

#endif /* PARLEY_WSDL_H */
