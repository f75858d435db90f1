/*
 * soapclient.c - a gSOAP context for the calls nodes and managers make to
 * each other (mgrsoap.h, soapclient.h): kept alive between calls, with time
 * limits in milliseconds, and its failures turned into PARLEY_E codes and
 * a sentence. It has nothing of the server side's settings (dispatch.c).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "stdsoap2.h"

#include "mgrsoap.h"
#include "mono.h"
#include "parley.h"
#include "soapclient.h"

/* Our answers are small; a peer that sends more is not one of ours. */
#define MAX_ANSWER_BYTES (4u << 20)

struct soap_client {
	struct soap *soap;
	unsigned timeout_ms;
	int64_t started_ms;            /* of the call in progress */
	int reused;                    /* the call went over a connection kept from before */
	char error[512];
	char standby_at[512];          /* the URL a standby manager's last fault named, or "" */
};

/* gSOAP takes a negative time limit as microseconds. */
static void
apply_timeout(struct soap *soap, unsigned ms)
{
	int us = ms > (unsigned)(INT32_MAX / 1000) ? INT32_MAX : (int)(ms * 1000);

	soap->connect_timeout = -us;
	soap->send_timeout = -us;
	soap->recv_timeout = -us;
	/* The whole exchange, so that a peer sending a byte at a time cannot stretch it. */
	soap->transfer_timeout = -us;
}

struct soap_client *
soap_client_new(unsigned timeout_ms)
{
	struct soap_client *c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	/* UTF-8 strings pass as they are, as on the server side. */
	if ((c->soap = soap_new1(SOAP_IO_KEEPALIVE | SOAP_C_UTFSTRING)) == NULL) {
		free(c);
		return NULL;
	}
	c->soap->max_keep_alive = 0;
	c->soap->recv_maxlength = MAX_ANSWER_BYTES;
	c->soap->maxlevel = 64;
	/* A peer that closes must not kill the process with SIGPIPE. */
	c->soap->socket_flags = MSG_NOSIGNAL;
	c->timeout_ms = timeout_ms;
	apply_timeout(c->soap, timeout_ms);
	return c;
}

void
soap_client_free(struct soap_client *c)
{
	if (c == NULL)
		return;
	soap_destroy(c->soap);
	soap_end(c->soap);
	soap_free(c->soap);
	free(c);
}

void
soap_client_set_timeout(struct soap_client *c, unsigned timeout_ms)
{
	c->timeout_ms = timeout_ms;
	apply_timeout(c->soap, timeout_ms);
}

const char *
soap_client_error(const struct soap_client *c)
{
	return c->error;
}

const char *
soap_client_standby_at(const struct soap_client *c)
{
	return c->standby_at;
}

/* Keep the URL a standby's reason names ("standby: the active manager is at URL"). */
static void
take_standby(struct soap_client *c, const char *reason)
{
	const char *at = strstr(reason, " is at http://");
	size_t n;

	c->standby_at[0] = '\0';
	if (at == NULL)
		return;
	at += 7;
	n = strcspn(at, " \t\r\n\"<>");
	if (n < sizeof c->standby_at) {
		memcpy(c->standby_at, at, n);
		c->standby_at[n] = '\0';
	}
}

struct soap *
soap_client_begin(struct soap_client *c, struct Namespace *ns)
{
	struct soap *soap = c->soap;

	soap_set_namespaces(soap, ns);
	soap->header = NULL;
	apply_timeout(soap, c->timeout_ms);
	c->error[0] = '\0';
	c->reused = soap_valid_socket(soap->socket);
	c->started_ms = mono_ms();
	return soap;
}

void
soap_client_done(struct soap_client *c)
{
	soap_destroy(c->soap);
	soap_end(c->soap);
}

/* The HOST:PORT of an http:// endpoint, for messages. */
static void
peer_of(const char *endpoint, char *out, size_t len)
{
	const char *p = strncmp(endpoint, "http://", 7) == 0 ? endpoint + 7 : endpoint;

	snprintf(out, len, "%.*s", (int)strcspn(p, "/"), p);
}

int
soap_client_result(struct soap_client *c, int rc, const char *operation, const char *endpoint,
    unsigned try)
{
	struct soap *soap = c->soap;
	int64_t took = mono_ms() - c->started_ms;
	int err = soap->errnum;
	const char **fs;
	char peer[256];

	c->standby_at[0] = '\0';
	if (rc == SOAP_OK)
		return 0;
	peer_of(endpoint, peer, sizeof peer);
	/* The fault's text, or gSOAP's for its own errors, before the socket is closed. */
	soap_set_fault(soap);
	fs = soap_faultstring(soap);
	/* After a failure the connection's state is unknown: never reuse it. */
	soap_force_closesock(soap);
	if (rc == SOAP_FAULT || rc == SOAP_CLI_FAULT || rc == SOAP_SVR_FAULT) {
		snprintf(c->error, sizeof c->error, "%s at %s answered with a fault: %s", operation,
		    endpoint, fs != NULL && *fs != NULL ? *fs : "(no reason given)");
		if (fs != NULL && *fs != NULL && strncmp(*fs, "standby:", 8) == 0) {
			take_standby(c, *fs);
			return PARLEY_ESTANDBY;
		}
		return PARLEY_EFAULT;
	}
	if (rc == SOAP_TCP_ERROR || rc == SOAP_EOF) {
		if (took + 2 >= (int64_t)c->timeout_ms && (err == 0 || err == EAGAIN ||
		    err == EWOULDBLOCK || err == ETIMEDOUT || err == EINTR || err == EINPROGRESS)) {
			snprintf(c->error, sizeof c->error, "%s at %s timed out after %u ms",
			    operation, endpoint, c->timeout_ms);
			return PARLEY_ETIMEDOUT;
		}
		/* A kept-alive connection the peer closed while it was idle: once more, afresh. */
		if (c->reused && try == 0 && rc != SOAP_TCP_ERROR)
			return PARLEY_AGAIN;
		if (err == ECONNREFUSED)
			snprintf(c->error, sizeof c->error, "%s: connection refused by %s",
			    operation, peer);
		else if (err == ECONNRESET || err == EPIPE)
			snprintf(c->error, sizeof c->error, "%s: connection reset by %s", operation,
			    peer);
		else if (err != 0)
			snprintf(c->error, sizeof c->error, "%s: cannot talk to %s: %s", operation,
			    peer, strerror(err));
		else if (rc == SOAP_TCP_ERROR)
			snprintf(c->error, sizeof c->error, "%s: cannot connect to %s", operation,
			    peer);
		else
			snprintf(c->error, sizeof c->error, "%s: %s closed the connection without "
			    "an answer", operation, peer);
		return PARLEY_EIO;
	}
	if (soap_http_error_check(rc)) {
		snprintf(c->error, sizeof c->error, "%s at %s answered HTTP %d instead of a SOAP "
		    "message", operation, endpoint, rc);
		return PARLEY_EIO;
	}
	snprintf(c->error, sizeof c->error, "%s at %s: the answer cannot be read: %s (gSOAP "
	    "error %d)", operation, endpoint, fs != NULL && *fs != NULL ? *fs : "", rc);
	return PARLEY_EIO;
}

int
soap_client_bad_answer(struct soap_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof c->error, fmt, ap);
	va_end(ap);
	return PARLEY_EIO;
}
