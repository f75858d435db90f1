/*
 * cart.c - the handlers of the cart sample service (cart.wsdl, cart.service):
 * a shopping cart that lives in a Parley conversation.
 *
 * The conversation's bean is the cart, in the explicit binary encoding
 * described below. A bean comes back from storage, possibly written by an
 * older version of this code or damaged, so it is checked in full before
 * anything in it is used; a bad one is answered with a fault, never trusted.
 * Per-request memory comes from gSOAP (soap_malloc), which the node frees
 * after the response is sent: the handlers have nothing to free.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "cart_ops.h"

#define MAX_LINES 1000          /* different item names in one cart */
#define MAX_NAME  256           /* bytes in an item name */
#define MAX_QTY   1000000       /* items added by one AddItem */

/*
 * The bean, encoding version 1. Integers are unsigned, big-endian:
 *
 *   magic    4 bytes  "CART"
 *   version  1 byte   1
 *   n        2 bytes  number of lines, 0 to MAX_LINES
 *   n times:
 *     len    2 bytes  1 to MAX_NAME
 *     name   len bytes, no NUL, unique within the cart
 *     qty    4 bytes  1 to INT_MAX
 *
 * Nothing follows the last line, and the quantities sum to at most INT_MAX
 * (the count is an xs:int).
 */
#define BEAN_MAGIC   "CART"
#define BEAN_VERSION 1
#define BEAN_HEAD    7          /* magic, version, n */
#define BEAN_LINE    6          /* len and qty around each name */

struct line {
	char *name;             /* NUL-terminated, in gSOAP's per-request memory */
	size_t len;
	int qty;
};

struct cart {
	struct line *lines;     /* room for n + 1, so AddItem can add one */
	unsigned n;
	long long total;        /* sum of the quantities */
};

static unsigned
get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static unsigned char *
put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
	return p + 2;
}

static unsigned char *
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return p + 4;
}

/*
 * Decode the bean (len bytes at data) into c. Returns NULL, or what is wrong
 * with the bean; *nomem is set when memory ran out instead.
 */
static const char *
decode(struct soap *soap, const unsigned char *data, size_t len, struct cart *c, int *nomem)
{
	size_t pos = BEAN_HEAD;
	unsigned i, j;

	*nomem = 0;
	if (len < BEAN_HEAD || memcmp(data, BEAN_MAGIC, 4) != 0)
		return "it is not a cart";
	if (data[4] != BEAN_VERSION)
		return "unknown encoding version";
	c->n = get16(data + 5);
	if (c->n > MAX_LINES)
		return "too many lines";
	c->lines = soap_malloc(soap, (c->n + 1) * sizeof *c->lines);
	if (c->lines == NULL) {
		*nomem = 1;
		return "out of memory";
	}
	c->total = 0;
	for (i = 0; i < c->n; i++) {
		struct line *l = &c->lines[i];
		uint32_t qty;

		if (len - pos < 2)
			return "truncated";
		l->len = get16(data + pos);
		pos += 2;
		if (l->len == 0 || l->len > MAX_NAME)
			return "bad name length";
		if (len - pos < l->len + 4)
			return "truncated";
		if (memchr(data + pos, '\0', l->len) != NULL)
			return "NUL in a name";
		l->name = soap_malloc(soap, l->len + 1);
		if (l->name == NULL) {
			*nomem = 1;
			return "out of memory";
		}
		memcpy(l->name, data + pos, l->len);
		l->name[l->len] = '\0';
		pos += l->len;
		qty = get32(data + pos);
		pos += 4;
		if (qty == 0 || qty > INT_MAX)
			return "bad quantity";
		l->qty = (int)qty;
		c->total += l->qty;
		if (c->total > INT_MAX)
			return "the quantities overflow";
		for (j = 0; j < i; j++)
			if (c->lines[j].len == l->len && memcmp(c->lines[j].name, l->name, l->len) == 0)
				return "a name appears twice";
	}
	if (pos != len)
		return "bytes after the last line";
	return NULL;
}

/* Read the conversation's cart; a new conversation has an empty one. */
static int
load(struct parley_call *call, struct soap *soap, struct cart *c)
{
	const void *data;
	const char *why;
	size_t len;
	int rc, nomem;

	memset(c, 0, sizeof *c);
	rc = parley_bean_get(call, &data, &len);
	if (rc != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "cannot read the cart: %s",
		    parley_strerror(rc));
	if (len == 0) {
		c->lines = soap_malloc(soap, sizeof *c->lines);
		if (c->lines == NULL)
			return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
		return 0;
	}
	why = decode(soap, data, len, c, &nomem);
	if (why != NULL && nomem)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	if (why != NULL) {
		parley_log(call, PARLEY_LOG_WARN, "stored cart is corrupt: %s", why);
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "the stored cart is corrupt (%s); start a new cart", why);
	}
	return 0;
}

/* Make c the conversation's bean, stored when the handler returns 0. */
static int
store(struct parley_call *call, struct soap *soap, const struct cart *c)
{
	unsigned char *bean, *p;
	size_t size = BEAN_HEAD;
	unsigned i;
	int rc;

	for (i = 0; i < c->n; i++)
		size += BEAN_LINE + c->lines[i].len;
	bean = soap_malloc(soap, size);
	if (bean == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	memcpy(bean, BEAN_MAGIC, 4);
	bean[4] = BEAN_VERSION;
	p = put16(bean + 5, c->n);
	for (i = 0; i < c->n; i++) {
		p = put16(p, (unsigned)c->lines[i].len);
		memcpy(p, c->lines[i].name, c->lines[i].len);
		p += c->lines[i].len;
		p = put32(p, (uint32_t)c->lines[i].qty);
	}
	rc = parley_bean_set(call, bean, size);
	if (rc == PARLEY_ELIMIT)
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "the cart (%zu bytes) is larger than this node stores", size);
	if (rc != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "cannot store the cart: %s",
		    parley_strerror(rc));
	return 0;
}

/*
 * StartCart (phase start): store an empty cart and answer with the new
 * conversation's ID. A start that joined another cart's session (the
 * request's pc:JoinConversation header) shares that cart: it keeps it as it is.
 */
int
cart_StartCart(struct parley_call *call, struct soap *soap, struct _cart__StartCart *request,
    struct _cart__StartCartResponse *response)
{
	const struct cart empty = { NULL, 0, 0 };
	const char *id = parley_call_id(call);
	int rc;

	if (id == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "StartCart runs without a conversation: give it phase 'start' in cart.service");
	/* The customer is optional: gSOAP leaves the pointer NULL when it is absent. */
	if (request->customer != NULL && strlen(request->customer) > MAX_NAME)
		return parley_fault(call, PARLEY_FAULT_SENDER, "customer must be at most %d bytes",
		    MAX_NAME);
	if (strcmp(parley_session_id(call), id) == 0 && (rc = store(call, soap, &empty)) != 0)
		return rc;
	response->conversationId = soap_strdup(soap, id);
	if (response->conversationId == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	parley_log(call, PARLEY_LOG_DEBUG, "cart opened (customer given: %s)",
	    request->customer != NULL ? "yes" : "no");
	return 0;
}

/*
 * AddItem (continue): add qty of item, merging it with a line of the same name,
 * and answer with the number of items in the cart.
 */
int
cart_AddItem(struct parley_call *call, struct soap *soap, struct _cart__AddItem *request,
    struct _cart__AddItemResponse *response)
{
	struct cart c;
	size_t len;
	unsigned i;
	int rc;

	len = request->item != NULL ? strlen(request->item) : 0;
	if (len == 0 || len > MAX_NAME)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "item must be 1 to %d bytes long, got %zu", MAX_NAME, len);
	if (request->qty < 1 || request->qty > MAX_QTY)
		return parley_fault(call, PARLEY_FAULT_SENDER, "qty must be 1 to %d, got %d",
		    MAX_QTY, request->qty);
	if ((rc = load(call, soap, &c)) != 0)
		return rc;
	if (c.total + request->qty > INT_MAX)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "the cart would hold more than %d items", INT_MAX);

	for (i = 0; i < c.n; i++)
		if (c.lines[i].len == len && memcmp(c.lines[i].name, request->item, len) == 0)
			break;
	if (i == c.n) {
		if (c.n == MAX_LINES)
			return parley_fault(call, PARLEY_FAULT_SENDER,
			    "the cart already holds %d different items", MAX_LINES);
		/* load() left room for one more line. */
		c.lines[c.n].name = request->item;
		c.lines[c.n].len = len;
		c.lines[c.n].qty = 0;
		c.n++;
	}
	/* Cannot overflow: the total, which includes this line, fits in an int. */
	c.lines[i].qty += request->qty;
	c.total += request->qty;

	if ((rc = store(call, soap, &c)) != 0)
		return rc;
	response->count = (int)c.total;
	return 0;
}

/* GetCart (continue): answer with the cart's lines and the number of items. */
int
cart_GetCart(struct parley_call *call, struct soap *soap, struct _cart__GetCart *request,
    struct _cart__GetCartResponse *response)
{
	struct cart c;
	unsigned i;
	int rc;

	(void)request;
	if ((rc = load(call, soap, &c)) != 0)
		return rc;
	if (c.n > 0) {
		response->item = soap_malloc(soap, c.n * sizeof *response->item);
		if (response->item == NULL)
			return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	}
	/* The names live in gSOAP's memory, so they outlast this call until the response is sent. */
	for (i = 0; i < c.n; i++) {
		response->item[i].name = c.lines[i].name;
		response->item[i].qty = c.lines[i].qty;
	}
	response->__sizeitem = (int)c.n;
	response->count = (int)c.total;
	return 0;
}

/* Checkout (finish): answer with the number of items; the node then ends the conversation. */
int
cart_Checkout(struct parley_call *call, struct soap *soap, struct _cart__Checkout *request,
    struct _cart__CheckoutResponse *response)
{
	struct cart c;
	int rc;

	(void)request;
	if ((rc = load(call, soap, &c)) != 0)
		return rc;
	/* The node ends the conversation after a "finish" operation: no bean to store. */
	response->count = (int)c.total;
	parley_log(call, PARLEY_LOG_DEBUG, "checked out %d items", response->count);
	return 0;
}
