/*
 * soapclient.h - private: what the client wrappers of mgrsoap.c and
 * nodesoap.c share around the struct soap_client of mgrsoap.h. A wrapper
 * does, for each try:
 *
 *	soap = soap_client_begin(c, table);
 *	rc = soap_call___x__Op(soap, endpoint, NULL, &req, &resp);
 *	rc = soap_client_result(c, rc, "Op", endpoint, try);
 *	if (rc == 0) ... copy what resp holds ...
 *	soap_client_done(c);
 *
 * and tries again while the result is PARLEY_AGAIN.
 */
#ifndef PARLEY_SOAPCLIENT_H
#define PARLEY_SOAPCLIENT_H

#include <stdarg.h>

#include "mgrsoap.h"

struct soap;
struct Namespace;

/*
 * Ready c's context for one call with the namespace table ns: no SOAP
 * header, the time limits of c. Returns the context, which belongs to c.
 */
struct soap *soap_client_begin(struct soap_client *c, struct Namespace *ns);

/*
 * Judge the gSOAP result rc of a call of operation to endpoint, made on try
 * (0 for the first): 0 when it succeeded, PARLEY_AGAIN when it should be
 * made again (a kept-alive connection the peer had closed, seen on the
 * first try), else PARLEY_ETIMEDOUT, PARLEY_EIO or PARLEY_EFAULT with the
 * reason kept for soap_client_error. The calls of the manager and the node
 * are all idempotent, which makes the one retry safe.
 */
int soap_client_result(struct soap_client *c, int rc, const char *operation,
    const char *endpoint, unsigned try);

/*
 * Record that the answer of a call that succeeded cannot be used (what the
 * fmt says) and return PARLEY_EIO.
 */
int soap_client_bad_answer(struct soap_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Release what the call's answer holds. The connection stays open. */
void soap_client_done(struct soap_client *c);

#endif /* PARLEY_SOAPCLIENT_H */
