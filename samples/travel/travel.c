/*
 * travel.c - the handlers of the travel sample service (travel.wsdl,
 * travel.service): a travel booking whose itinerary of flights and hotel
 * stays lives in a Parley conversation. parley-gen wrote this file from
 * travel.wsdl with one empty body per operation; the bodies are the sample's.
 *
 * The conversation's bean is the itinerary, in the binary encoding described
 * below. A bean comes back from storage, possibly written by an older version
 * of this code or damaged, so it is checked in full before anything in it is
 * used; a bad one is answered with a fault, never trusted. Per-request memory
 * comes from gSOAP (soap_malloc), which the node frees after the response is
 * sent: the handlers have nothing to free.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "travel_ops.h"

#define MAX_ITEMS     50        /* items in one itinerary */
#define MAX_NAME      128       /* bytes in a traveller's or a hotel's name */
#define MAX_SEATS     9         /* seats on one flight */
#define MAX_NIGHTS    60        /* nights of one hotel stay */
#define MAX_REASON    256       /* bytes in Cancel's reason */
#define DATE_LEN      10        /* YYYY-MM-DD */

#define KIND_FLIGHT   'F'
#define KIND_HOTEL    'H'

/*
 * The bean, encoding version 1. Integers are unsigned, big-endian:
 *
 *   magic      4 bytes  "TRVL"
 *   version    1 byte   1
 *   next_id    4 bytes  the ID the next item gets, 1 to INT_MAX
 *   tlen       1 byte   1 to MAX_NAME
 *   traveller  tlen bytes, no NUL
 *   n          1 byte   number of items, 0 to MAX_ITEMS
 *   n times, in the order the items were added:
 *     id       4 bytes  1 to next_id - 1, unique
 *     kind     1 byte   'F' (flight) or 'H' (hotel)
 *     len      1 byte   1 to MAX_NAME
 *     name     len bytes: a flight number, or a hotel's name, no NUL
 *     date     10 bytes YYYY-MM-DD: the flight's date, or the check-in date
 *     count    1 byte   seats (1 to MAX_SEATS) or nights (1 to MAX_NIGHTS)
 *
 * Nothing follows the last item.
 */
#define BEAN_MAGIC    "TRVL"
#define BEAN_VERSION  1

struct item {
	int id;
	char kind;
	char *name;             /* NUL-terminated, in gSOAP's per-request memory */
	size_t len;
	char date[DATE_LEN + 1];
	int count;
};

struct itinerary {
	int next_id;
	char *traveller;        /* NUL-terminated, in gSOAP's per-request memory */
	size_t tlen;
	struct item *items;     /* room for MAX_ITEMS */
	unsigned n;
};

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
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

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

/* Whether s is a calendar date YYYY-MM-DD, year 1 to 9999, without a time zone. */
static int
valid_date(const char *s, size_t len)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int year, month, day, leap, i;

	if (len != DATE_LEN || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < DATE_LEN; i++)
		if (i != 4 && i != 7 && !is_digit(s[i]))
			return 0;
	year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	month = (s[5] - '0') * 10 + (s[6] - '0');
	day = (s[8] - '0') * 10 + (s[9] - '0');
	if (year < 1 || month < 1 || month > 12 || day < 1)
		return 0;
	leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return day <= days[month - 1] + (month == 2 && leap);
}

/* Whether s is a flight number: two capital letters or digits, then 1 to 4 digits. */
static int
valid_flight(const char *s, size_t len)
{
	size_t i;

	if (len < 3 || len > 6)
		return 0;
	for (i = 0; i < 2; i++)
		if (!is_upper(s[i]) && !is_digit(s[i]))
			return 0;
	for (i = 2; i < len; i++)
		if (!is_digit(s[i]))
			return 0;
	return 1;
}

/* Copy len bytes at p into a new NUL-terminated string in gSOAP's memory. */
static char *
copy_name(struct soap *soap, const unsigned char *p, size_t len)
{
	char *s = soap_malloc(soap, len + 1);

	if (s != NULL) {
		memcpy(s, p, len);
		s[len] = '\0';
	}
	return s;
}

/*
 * Decode the bean (len bytes at data) into t. Returns NULL, or what is wrong
 * with the bean; *nomem is set when memory ran out instead.
 */
static const char *
decode(struct soap *soap, const unsigned char *data, size_t len, struct itinerary *t, int *nomem)
{
	size_t pos;
	uint32_t v;
	unsigned i, j;

	*nomem = 0;
	if (len < 10 || memcmp(data, BEAN_MAGIC, 4) != 0)
		return "it is not an itinerary";
	if (data[4] != BEAN_VERSION)
		return "unknown encoding version";
	v = get32(data + 5);
	if (v < 1 || v > INT_MAX)
		return "bad next item ID";
	t->next_id = (int)v;
	t->tlen = data[9];
	pos = 10;
	if (t->tlen < 1 || t->tlen > MAX_NAME)
		return "bad traveller length";
	if (len - pos < t->tlen + 1)
		return "truncated";
	if (memchr(data + pos, '\0', t->tlen) != NULL)
		return "NUL in the traveller's name";
	if ((t->traveller = copy_name(soap, data + pos, t->tlen)) == NULL)
		goto nomem;
	pos += t->tlen;
	t->n = data[pos++];
	if (t->n > MAX_ITEMS)
		return "too many items";
	for (i = 0; i < t->n; i++) {
		struct item *it = &t->items[i];

		if (len - pos < 6)
			return "truncated";
		v = get32(data + pos);
		if (v < 1 || v >= (uint32_t)t->next_id)
			return "bad item ID";
		it->id = (int)v;
		it->kind = (char)data[pos + 4];
		it->len = data[pos + 5];
		pos += 6;
		if (it->kind != KIND_FLIGHT && it->kind != KIND_HOTEL)
			return "unknown kind of item";
		if (it->len < 1 || it->len > MAX_NAME)
			return "bad name length";
		if (len - pos < it->len + DATE_LEN + 1)
			return "truncated";
		if (memchr(data + pos, '\0', it->len) != NULL)
			return "NUL in a name";
		if ((it->name = copy_name(soap, data + pos, it->len)) == NULL)
			goto nomem;
		pos += it->len;
		if (it->kind == KIND_FLIGHT && !valid_flight(it->name, it->len))
			return "bad flight number";
		memcpy(it->date, data + pos, DATE_LEN);
		it->date[DATE_LEN] = '\0';
		pos += DATE_LEN;
		if (!valid_date(it->date, DATE_LEN))
			return "bad date";
		it->count = data[pos++];
		if (it->count < 1 || it->count > (it->kind == KIND_FLIGHT ? MAX_SEATS : MAX_NIGHTS))
			return "bad number of seats or nights";
		for (j = 0; j < i; j++)
			if (t->items[j].id == it->id)
				return "an item ID appears twice";
	}
	if (pos != len)
		return "bytes after the last item";
	return NULL;
nomem:
	*nomem = 1;
	return "out of memory";
}

/* Read the conversation's itinerary into t, with room for MAX_ITEMS items. */
static int
load(struct parley_call *call, struct soap *soap, struct itinerary *t)
{
	const void *data;
	const char *why;
	size_t len;
	int rc, nomem;

	memset(t, 0, sizeof *t);
	rc = parley_bean_get(call, &data, &len);
	if (rc != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "cannot read the itinerary: %s",
		    parley_strerror(rc));
	t->items = soap_malloc(soap, MAX_ITEMS * sizeof *t->items);
	if (t->items == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	why = decode(soap, data, len, t, &nomem);
	if (why != NULL && nomem)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	if (why != NULL) {
		parley_log(call, PARLEY_LOG_WARN, "stored itinerary is corrupt: %s", why);
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "the stored itinerary is corrupt (%s); start a new booking", why);
	}
	return 0;
}

/* Make t the conversation's bean, stored when the handler returns 0. */
static int
store(struct parley_call *call, struct soap *soap, const struct itinerary *t)
{
	unsigned char *bean, *p;
	size_t size = 11 + t->tlen;
	unsigned i;
	int rc;

	for (i = 0; i < t->n; i++)
		size += 7 + t->items[i].len + DATE_LEN;
	bean = soap_malloc(soap, size);
	if (bean == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	memcpy(bean, BEAN_MAGIC, 4);
	bean[4] = BEAN_VERSION;
	p = put32(bean + 5, (uint32_t)t->next_id);
	*p++ = (unsigned char)t->tlen;
	memcpy(p, t->traveller, t->tlen);
	p += t->tlen;
	*p++ = (unsigned char)t->n;
	for (i = 0; i < t->n; i++) {
		const struct item *it = &t->items[i];

		p = put32(p, (uint32_t)it->id);
		*p++ = (unsigned char)it->kind;
		*p++ = (unsigned char)it->len;
		memcpy(p, it->name, it->len);
		p += it->len;
		memcpy(p, it->date, DATE_LEN);
		p += DATE_LEN;
		*p++ = (unsigned char)it->count;
	}
	rc = parley_bean_set(call, bean, size);
	if (rc == PARLEY_ELIMIT)
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "the itinerary (%zu bytes) is larger than this node stores", size);
	if (rc != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "cannot store the itinerary: %s",
		    parley_strerror(rc));
	return 0;
}

/*
 * Append an item of kind to the itinerary after checking its date; on success
 * store the itinerary and set *id to the item's ID and *n to the number of
 * items. name is the request's, already checked, and must outlive the call.
 */
static int
add_item(struct parley_call *call, struct soap *soap, char kind, const char *name,
    const char *date, int count, int *id, int *n)
{
	const char *what = kind == KIND_FLIGHT ? "flight" : "hotel stay";
	struct itinerary t;
	struct item *it;
	int rc;

	if (date == NULL || !valid_date(date, strlen(date)))
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "the %s's date must be a calendar date YYYY-MM-DD, got '%.40s'", what,
		    date != NULL ? date : "");
	if ((rc = load(call, soap, &t)) != 0)
		return rc;
	if (t.n == MAX_ITEMS)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "the itinerary already holds %d items", MAX_ITEMS);
	if (t.next_id == INT_MAX)
		return parley_fault(call, PARLEY_FAULT_SENDER, "this booking has run out of item IDs");
	it = &t.items[t.n++];
	it->id = t.next_id++;
	it->kind = kind;
	/* The request's strings live in gSOAP's memory until the response is sent. */
	it->name = (char *)name;
	it->len = strlen(name);
	memcpy(it->date, date, DATE_LEN + 1);
	it->count = count;
	if ((rc = store(call, soap, &t)) != 0)
		return rc;
	*id = it->id;
	*n = (int)t.n;
	return 0;
}

/* StartBooking (phase start): store an empty itinerary for the traveller; answer with the booking's ID. */
int
travel_StartBooking(struct parley_call *call, struct soap *soap, struct _travel__StartBooking *request,
    struct _travel__StartBookingResponse *response)
{
	const char *id = parley_call_id(call);
	struct itinerary t;
	size_t len;
	int rc;

	if (id == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "StartBooking runs without a conversation: give it phase 'start' in travel.service");
	len = request->traveller != NULL ? strlen(request->traveller) : 0;
	if (len == 0 || len > MAX_NAME)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "traveller must be 1 to %d bytes long, got %zu", MAX_NAME, len);
	memset(&t, 0, sizeof t);
	t.next_id = 1;
	t.traveller = request->traveller;
	t.tlen = len;
	if ((rc = store(call, soap, &t)) != 0)
		return rc;
	/* The booking's ID is the conversation's: the request after this one names it. */
	response->bookingId = soap_strdup(soap, id);
	if (response->bookingId == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	parley_log(call, PARLEY_LOG_DEBUG, "booking opened");
	return 0;
}

/* AddFlight (continue): add a flight; answer with its item ID and the number of items. */
int
travel_AddFlight(struct parley_call *call, struct soap *soap, struct _travel__AddFlight *request,
    struct _travel__AddFlightResponse *response)
{
	const char *flight = request->flightNumber;

	if (flight == NULL || !valid_flight(flight, strlen(flight)))
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "flightNumber must be two capital letters or digits and 1 to 4 digits, got '%.40s'",
		    flight != NULL ? flight : "");
	if (request->seats < 1 || request->seats > MAX_SEATS)
		return parley_fault(call, PARLEY_FAULT_SENDER, "seats must be 1 to %d, got %d",
		    MAX_SEATS, request->seats);
	return add_item(call, soap, KIND_FLIGHT, flight, request->date, request->seats,
	    &response->itemId, &response->itemCount);
}

/* AddHotel (continue): add a hotel stay; answer with its item ID and the number of items. */
int
travel_AddHotel(struct parley_call *call, struct soap *soap, struct _travel__AddHotel *request,
    struct _travel__AddHotelResponse *response)
{
	size_t len = request->hotel != NULL ? strlen(request->hotel) : 0;

	if (len == 0 || len > MAX_NAME)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "hotel must be 1 to %d bytes long, got %zu", MAX_NAME, len);
	if (request->nights < 1 || request->nights > MAX_NIGHTS)
		return parley_fault(call, PARLEY_FAULT_SENDER, "nights must be 1 to %d, got %d",
		    MAX_NIGHTS, request->nights);
	return add_item(call, soap, KIND_HOTEL, request->hotel, request->checkIn, request->nights,
	    &response->itemId, &response->itemCount);
}

/* GetItinerary (continue): answer with the traveller and the items, in the order they were added. */
int
travel_GetItinerary(struct parley_call *call, struct soap *soap, struct _travel__GetItinerary *request,
    struct _travel__GetItineraryResponse *response)
{
	struct itinerary t;
	unsigned i;
	int rc;

	(void)request;
	if ((rc = load(call, soap, &t)) != 0)
		return rc;
	response->bookingId = soap_strdup(soap, parley_call_id(call));
	if (response->bookingId == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	response->traveller = t.traveller;
	if (t.n > 0) {
		response->item = soap_malloc(soap, t.n * sizeof *response->item);
		if (response->item == NULL)
			return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	}
	/* The names and dates live in gSOAP's memory, so they outlast this call. */
	for (i = 0; i < t.n; i++) {
		struct travel__ItineraryItem *out = &response->item[i];
		const struct item *it = &t.items[i];
		char *date = soap_strdup(soap, it->date);

		if (date == NULL)
			return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
		memset(out, 0, sizeof *out);
		out->itemId = it->id;
		if (it->kind == KIND_FLIGHT) {
			out->flight = soap_malloc(soap, sizeof *out->flight);
			if (out->flight == NULL)
				return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
			out->flight->flightNumber = it->name;
			out->flight->date = date;
			out->flight->seats = it->count;
		} else {
			out->hotel = soap_malloc(soap, sizeof *out->hotel);
			if (out->hotel == NULL)
				return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
			out->hotel->name = it->name;
			out->hotel->checkIn = date;
			out->hotel->nights = it->count;
		}
	}
	response->__sizeitem = (int)t.n;
	response->itemCount = (int)t.n;
	return 0;
}

/* RemoveItem (continue): remove an item by its ID; answer with the number of items left. */
int
travel_RemoveItem(struct parley_call *call, struct soap *soap, struct _travel__RemoveItem *request,
    struct _travel__RemoveItemResponse *response)
{
	struct itinerary t;
	unsigned i;
	int rc;

	if ((rc = load(call, soap, &t)) != 0)
		return rc;
	for (i = 0; i < t.n; i++)
		if (t.items[i].id == request->itemId)
			break;
	if (i == t.n)
		return parley_fault(call, PARLEY_FAULT_SENDER, "no item %d in the itinerary",
		    request->itemId);
	memmove(&t.items[i], &t.items[i + 1], (t.n - i - 1) * sizeof *t.items);
	t.n--;
	if ((rc = store(call, soap, &t)) != 0)
		return rc;
	response->itemCount = (int)t.n;
	return 0;
}

/*
 * Confirm (finish): answer with the booking's ID and number of items; the node
 * then ends the conversation. An empty itinerary is refused with a fault, which
 * leaves the booking open.
 */
int
travel_Confirm(struct parley_call *call, struct soap *soap, struct _travel__Confirm *request,
    struct _travel__ConfirmResponse *response)
{
	struct itinerary t;
	int rc;

	(void)request;
	if ((rc = load(call, soap, &t)) != 0)
		return rc;
	if (t.n == 0)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "the itinerary is empty: add a flight or a hotel before confirming");
	response->bookingId = soap_strdup(soap, parley_call_id(call));
	if (response->bookingId == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	response->itemCount = (int)t.n;
	parley_log(call, PARLEY_LOG_DEBUG, "booking confirmed with %u items", t.n);
	return 0;
}

/* Cancel (finish): answer with the booking's ID and the number of items released; the node then ends the conversation. */
int
travel_Cancel(struct parley_call *call, struct soap *soap, struct _travel__Cancel *request,
    struct _travel__CancelResponse *response)
{
	struct itinerary t;
	int rc;

	/* The reason is optional: gSOAP leaves the pointer NULL when it is absent. */
	if (request->reason != NULL && strlen(request->reason) > MAX_REASON)
		return parley_fault(call, PARLEY_FAULT_SENDER, "reason must be at most %d bytes",
		    MAX_REASON);
	if ((rc = load(call, soap, &t)) != 0)
		return rc;
	response->bookingId = soap_strdup(soap, parley_call_id(call));
	if (response->bookingId == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	response->itemsReleased = (int)t.n;
	parley_log(call, PARLEY_LOG_DEBUG, "booking cancelled, %u items released (reason given: %s)",
	    t.n, request->reason != NULL ? "yes" : "no");
	return 0;
}
