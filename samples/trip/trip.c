/*
 * trip.c - the bean of the trip sample, shared by the flight and hotel
 * services: both modules are built with this file, so both read and write
 * the one encoding below. A bean comes back from storage, possibly written
 * by an older version of either service, by another service of the session,
 * or damaged, so it is checked in full before anything in it is used.
 */
#include <stdint.h>
#include <string.h>

#include <stdsoap2.h>

#include "trip.h"

/*
 * The bean, encoding version 1. Integers are unsigned, big-endian:
 *
 *   magic        4 bytes  "TRIP"
 *   version      1 byte   1
 *   flags        1 byte   TRIP_FLIGHTS_CONFIRMED | TRIP_ROOMS_CONFIRMED, no other bit
 *   tlen         1 byte   1 to TRIP_MAX_NAME
 *   traveller    tlen bytes, no NUL
 *   nf           1 byte   0 to TRIP_MAX_FLIGHTS
 *   nf times:
 *     origin       3 bytes  capital letters
 *     destination  3 bytes  capital letters, not the origin
 *     date        10 bytes  YYYY-MM-DD, a calendar date
 *     price        4 bytes  1 to TRIP_MAX_PRICE
 *   nr           1 byte   0 to TRIP_MAX_ROOMS
 *   nr times:
 *     clen         1 byte   1 to TRIP_MAX_CITY
 *     city         clen bytes, no NUL
 *     nights       1 byte   1 to TRIP_MAX_NIGHTS
 *     price        4 bytes  1 to TRIP_MAX_PRICE
 *
 * Nothing follows the last room.
 */
#define BEAN_MAGIC    "TRIP"
#define BEAN_VERSION  1
#define FLIGHT_BYTES  (2 * TRIP_CODE_LEN + TRIP_DATE_LEN + 4)
#define KNOWN_FLAGS   (TRIP_FLIGHTS_CONFIRMED | TRIP_ROOMS_CONFIRMED)

const char trip_not_a_trip[] = "it is not a trip";

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
valid_date_bytes(const unsigned char *s, size_t len)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int year, month, day, leap;
	size_t i;

	if (len != TRIP_DATE_LEN || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < TRIP_DATE_LEN; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	month = (s[5] - '0') * 10 + (s[6] - '0');
	day = (s[8] - '0') * 10 + (s[9] - '0');
	if (year < 1 || month < 1 || month > 12 || day < 1)
		return 0;
	leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return day <= days[month - 1] + (month == 2 && leap);
}

static int
valid_airport_bytes(const unsigned char *s, size_t len)
{
	size_t i;

	if (len != TRIP_CODE_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return 0;
	return 1;
}

int
trip_valid_date(const char *s)
{
	return s != NULL && valid_date_bytes((const unsigned char *)s, strlen(s));
}

int
trip_valid_airport(const char *s)
{
	return s != NULL && valid_airport_bytes((const unsigned char *)s, strlen(s));
}

static int
valid_price(uint32_t price)
{
	return price >= 1 && price <= TRIP_MAX_PRICE;
}

const char *
trip_decode(const void *bean, size_t len, struct trip *t)
{
	const unsigned char *data = bean;
	size_t pos;
	unsigned i;

	if (len < 7 || memcmp(data, BEAN_MAGIC, 4) != 0)
		return trip_not_a_trip;
	if (data[4] != BEAN_VERSION)
		return "unknown encoding version";
	t->flags = data[5];
	if ((t->flags & ~(unsigned)KNOWN_FLAGS) != 0)
		return "unknown flags";
	pos = 7;
	if (data[6] < 1 || data[6] > TRIP_MAX_NAME)
		return "bad traveller length";
	if (len - pos < (size_t)data[6] + 1)
		return "truncated";
	if (memchr(data + pos, '\0', data[6]) != NULL)
		return "NUL in the traveller's name";
	memcpy(t->traveller, data + pos, data[6]);
	t->traveller[data[6]] = '\0';
	pos += data[6];

	t->n_flights = data[pos++];
	if (t->n_flights > TRIP_MAX_FLIGHTS)
		return "too many flights";
	for (i = 0; i < t->n_flights; i++) {
		struct trip_flight *f = &t->flights[i];
		const unsigned char *p = data + pos;
		uint32_t price;

		if (len - pos < FLIGHT_BYTES)
			return "truncated";
		if (!valid_airport_bytes(p, TRIP_CODE_LEN) ||
		    !valid_airport_bytes(p + TRIP_CODE_LEN, TRIP_CODE_LEN) ||
		    memcmp(p, p + TRIP_CODE_LEN, TRIP_CODE_LEN) == 0)
			return "bad airport code";
		if (!valid_date_bytes(p + 2 * TRIP_CODE_LEN, TRIP_DATE_LEN))
			return "bad flight date";
		price = get32(p + 2 * TRIP_CODE_LEN + TRIP_DATE_LEN);
		if (!valid_price(price))
			return "bad flight price";
		memcpy(f->origin, p, TRIP_CODE_LEN);
		f->origin[TRIP_CODE_LEN] = '\0';
		memcpy(f->destination, p + TRIP_CODE_LEN, TRIP_CODE_LEN);
		f->destination[TRIP_CODE_LEN] = '\0';
		memcpy(f->date, p + 2 * TRIP_CODE_LEN, TRIP_DATE_LEN);
		f->date[TRIP_DATE_LEN] = '\0';
		f->price = (int)price;
		pos += FLIGHT_BYTES;
	}

	if (len - pos < 1)
		return "truncated";
	t->n_rooms = data[pos++];
	if (t->n_rooms > TRIP_MAX_ROOMS)
		return "too many rooms";
	for (i = 0; i < t->n_rooms; i++) {
		struct trip_room *r = &t->rooms[i];
		size_t clen;
		uint32_t price;

		if (len - pos < 1)
			return "truncated";
		clen = data[pos++];
		if (clen < 1 || clen > TRIP_MAX_CITY)
			return "bad city length";
		if (len - pos < clen + 5)
			return "truncated";
		if (memchr(data + pos, '\0', clen) != NULL)
			return "NUL in a city's name";
		memcpy(r->city, data + pos, clen);
		r->city[clen] = '\0';
		pos += clen;
		r->nights = data[pos++];
		if (r->nights < 1 || r->nights > TRIP_MAX_NIGHTS)
			return "bad number of nights";
		price = get32(data + pos);
		pos += 4;
		if (!valid_price(price))
			return "bad room price";
		r->price = (int)price;
	}
	if (pos != len)
		return "bytes after the last room";
	return NULL;
}

int
trip_load(struct parley_call *call, struct soap *soap, struct trip **out)
{
	struct trip *t;
	const void *data;
	const char *why;
	size_t len;
	int rc;

	rc = parley_bean_get(call, &data, &len);
	if (rc != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "cannot read the trip: %s",
		    parley_strerror(rc));
	if ((t = soap_malloc(soap, sizeof *t)) == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	why = len == 0 ? "the session has no bean" : trip_decode(data, len, t);
	if (why != NULL) {
		parley_log(call, PARLEY_LOG_WARN, "stored trip is not valid: %s", why);
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "the stored trip is not valid (%s); start a new trip", why);
	}
	*out = t;
	return 0;
}

int
trip_store(struct parley_call *call, struct soap *soap, const struct trip *t)
{
	unsigned char *bean, *p;
	size_t size, tlen = strlen(t->traveller);
	unsigned i;
	int rc;

	size = 7 + tlen + 1 + (size_t)t->n_flights * FLIGHT_BYTES + 1;
	for (i = 0; i < t->n_rooms; i++)
		size += 1 + strlen(t->rooms[i].city) + 1 + 4;
	if ((bean = soap_malloc(soap, size)) == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	memcpy(bean, BEAN_MAGIC, 4);
	bean[4] = BEAN_VERSION;
	bean[5] = (unsigned char)t->flags;
	bean[6] = (unsigned char)tlen;
	p = bean + 7;
	memcpy(p, t->traveller, tlen);
	p += tlen;
	*p++ = (unsigned char)t->n_flights;
	for (i = 0; i < t->n_flights; i++) {
		const struct trip_flight *f = &t->flights[i];

		memcpy(p, f->origin, TRIP_CODE_LEN);
		memcpy(p + TRIP_CODE_LEN, f->destination, TRIP_CODE_LEN);
		memcpy(p + 2 * TRIP_CODE_LEN, f->date, TRIP_DATE_LEN);
		p = put32(p + 2 * TRIP_CODE_LEN + TRIP_DATE_LEN, (uint32_t)f->price);
	}
	*p++ = (unsigned char)t->n_rooms;
	for (i = 0; i < t->n_rooms; i++) {
		const struct trip_room *r = &t->rooms[i];
		size_t clen = strlen(r->city);

		*p++ = (unsigned char)clen;
		memcpy(p, r->city, clen);
		p += clen;
		*p++ = (unsigned char)r->nights;
		p = put32(p, (uint32_t)r->price);
	}
	rc = parley_bean_set(call, bean, size);
	if (rc == PARLEY_ELIMIT)
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "the trip (%zu bytes) is larger than this node stores", size);
	if (rc != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "cannot store the trip: %s",
		    parley_strerror(rc));
	return 0;
}

int
trip_flight_total(const struct trip *t)
{
	int total = 0;
	unsigned i;

	for (i = 0; i < t->n_flights; i++)
		total += t->flights[i].price;
	return total;
}

int
trip_room_total(const struct trip *t)
{
	int total = 0;
	unsigned i;

	for (i = 0; i < t->n_rooms; i++)
		total += t->rooms[i].price;
	return total;
}
