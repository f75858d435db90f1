/*
 * tally.c - the handlers of the tally test service (tally.wsdl): a counter in
 * a conversation, under the same operation names and XML prefix as the cart
 * sample. AddItem answers 1000 + the tally, so a test can tell which of the
 * two services answered. Sleep holds a worker for a while; Echo is stateless.
 * Notify sends its text to the conversation's partner with parley_callback
 * and answers with what that returned ("queued", or the error); a text
 * starting with "fault" queues the callback and then answers with a fault,
 * so nothing is sent.
 *
 * Built again with TALLY_VERSION 2 (tests/deploy2, descriptor version 2) for
 * the redeploy tests: AddItem answers 2000 + the tally, and the bean has a
 * new form, so a conversation started under version 1 goes on only if the
 * handler migrates its bean, which it does by parley_bean_version.
 */
#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "tally_ops.h"

#ifndef TALLY_VERSION
#define TALLY_VERSION 1
#endif
#define ADD_BIAS  (1000 * TALLY_VERSION)   /* AddItem answers ADD_BIAS + tally */
#define MAX_QTY   1000000
#define MAX_SLEEP 5000          /* ms */

/*
 * The bean: a mark and the tally as 4 bytes, big-endian; at most INT_MAX -
 * ADD_BIAS. The mark is "TALY" in beans version 1 stored, "TAL2" from
 * version 2 on.
 */
#define BEAN_LEN 8

static const char *
mark(uint32_t version)
{
	return version <= 1 ? "TALY" : "TAL2";
}

static int
load(struct parley_call *call, int *tally)
{
	const unsigned char *p;
	const void *data;
	size_t len;
	uint32_t v;
	int rc;

	rc = parley_bean_get(call, &data, &len);
	if (rc != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "cannot read the tally: %s",
		    parley_strerror(rc));
	if (len == 0) {
		*tally = 0;
		return 0;
	}
	p = data;
	if (parley_bean_version(call) > TALLY_VERSION)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "the tally was stored by version "
		    "%u, newer than this version %u", parley_bean_version(call), TALLY_VERSION);
	/* An older version's bean is read in its form; store() writes it in ours. */
	if (len != BEAN_LEN || memcmp(p, mark(parley_bean_version(call)), 4) != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "the stored tally is corrupt "
		    "(bean version %u)", parley_bean_version(call));
	v = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	if (v > INT_MAX - ADD_BIAS)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "the stored tally is corrupt");
	*tally = (int)v;
	return 0;
}

static int
store(struct parley_call *call, int tally)
{
	unsigned char bean[BEAN_LEN];
	uint32_t v = (uint32_t)tally;
	int rc;

	memcpy(bean, mark(parley_call_version(call)), 4);
	bean[4] = (unsigned char)(v >> 24);
	bean[5] = (unsigned char)(v >> 16);
	bean[6] = (unsigned char)(v >> 8);
	bean[7] = (unsigned char)v;
	rc = parley_bean_set(call, bean, sizeof bean);
	if (rc != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "cannot store the tally: %s",
		    parley_strerror(rc));
	return 0;
}

/* StartCart (start): a tally of 0; answers with the conversation ID. */
int
tally_StartCart(struct parley_call *call, struct soap *soap, struct _cart__StartCart *request,
    struct _cart__StartCartResponse *response)
{
	const char *id = parley_call_id(call);
	int rc;

	(void)request;
	if (id == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "StartCart needs phase 'start'");
	if ((rc = store(call, 0)) != 0)
		return rc;
	response->conversationId = soap_strdup(soap, id);
	if (response->conversationId == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	return 0;
}

/* AddItem (continue): add qty to the tally; answers ADD_BIAS + the tally. */
int
tally_AddItem(struct parley_call *call, struct soap *soap, _cart__AddItem *request,
    struct _cart__AddItemResponse *response)
{
	int tally, rc;

	(void)soap;
	if (request->qty < 1 || request->qty > MAX_QTY)
		return parley_fault(call, PARLEY_FAULT_SENDER, "qty must be 1 to %d, got %d",
		    MAX_QTY, request->qty);
	if ((rc = load(call, &tally)) != 0)
		return rc;
	if (tally > INT_MAX - ADD_BIAS - request->qty)
		return parley_fault(call, PARLEY_FAULT_SENDER, "the tally would overflow");
	tally += request->qty;
	if ((rc = store(call, tally)) != 0)
		return rc;
	response->count = ADD_BIAS + tally;
	return 0;
}

/* GetCart (continue): answers the tally. */
int
tally_GetCart(struct parley_call *call, struct soap *soap, struct _cart__GetCart *request,
    struct _cart__GetCartResponse *response)
{
	(void)soap;
	(void)request;
	return load(call, &response->count);
}

/* Checkout (finish): answers the tally. */
int
tally_Checkout(struct parley_call *call, struct soap *soap, struct _cart__Checkout *request,
    struct _cart__CheckoutResponse *response)
{
	(void)soap;
	(void)request;
	return load(call, &response->count);
}

/* Sleep (continue): sleep ms milliseconds (0 to MAX_SLEEP), then answer ms. */
int
tally_Sleep(struct parley_call *call, struct soap *soap, _cart__Sleep *request,
    _cart__SleepResponse *response)
{
	struct timespec ts;

	(void)soap;
	if (request->ms < 0 || request->ms > MAX_SLEEP)
		return parley_fault(call, PARLEY_FAULT_SENDER, "ms must be 0 to %d, got %d",
		    MAX_SLEEP, request->ms);
	ts.tv_sec = request->ms / 1000;
	ts.tv_nsec = (long)(request->ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		continue;
	*response = request->ms;
	return 0;
}

/* Echo (none): answer with the text. */
int
tally_Echo(struct parley_call *call, struct soap *soap, _cart__Echo *request,
    _cart__EchoResponse *response)
{
	*response = soap_strdup(soap, request->text != NULL ? request->text : "");
	if (*response == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	return 0;
}

#define NOTIFIED_ACTION "urn:parley:tests:tally:Notified"

/* Append s to out (cap bytes) with the XML special characters escaped; 0, or -1 when full. */
static int
escape(char *out, size_t cap, const char *s)
{
	size_t n = strlen(out);
	const char *r;

	for (; *s != '\0'; s++) {
		r = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : NULL;
		if (n + (r != NULL ? strlen(r) : 1) + 1 > cap)
			return -1;
		if (r != NULL) {
			memcpy(out + n, r, strlen(r));
			n += strlen(r);
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
	return 0;
}

/* Notify (continue): a callback to the partner with the text. */
int
tally_Notify(struct parley_call *call, struct soap *soap, _cart__Notify *request,
    _cart__NotifyResponse *response)
{
	const char *text = request->text != NULL ? request->text : "";
	char body[1024];
	int rc;

	snprintf(body, sizeof body, "<t:Notified xmlns:t=\"urn:parley:tests:tally\">");
	if (escape(body, sizeof body, text) != 0 ||
	    strlen(body) + sizeof "</t:Notified>" > sizeof body)
		return parley_fault(call, PARLEY_FAULT_SENDER, "the text is too long");
	strcat(body, "</t:Notified>");
	rc = parley_callback(call, NOTIFIED_ACTION, body);
	if (strncmp(text, "fault", 5) == 0)
		return parley_fault(call, PARLEY_FAULT_SENDER, "asked to fail after the callback");
	*response = soap_strdup(soap, rc == 0 ? "queued" : parley_strerror(rc));
	if (*response == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	return 0;
}
