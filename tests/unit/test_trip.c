/*
 * test_trip.c - the trip sample's bean (samples/trip/trip.c, included here):
 * a bean made by the encoding trip.c documents is read back field by field;
 * every truncation, every single-byte change and every limit crossed is
 * refused or read as a valid trip, never read past its end (the suite runs
 * under AddressSanitizer too); and the checks of dates and airport codes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "../../samples/trip/trip.c"
#include "unit.h"

/* A bean, written as trip.c's comment describes it, independently of trip_store. */
struct bean {
	unsigned char b[16384];
	size_t len;
};

static void
put(struct bean *w, const void *p, size_t n)
{
	memcpy(w->b + w->len, p, n);
	w->len += n;
}

static void
put8(struct bean *w, unsigned v)
{
	w->b[w->len++] = (unsigned char)v;
}

static void
put32be(struct bean *w, uint32_t v)
{
	put32(w->b + w->len, v);
	w->len += 4;
}

/* A trip of nf flights and nr rooms, the first of each as the sample client books them. */
static void
make(struct bean *w, unsigned flags, const char *traveller, unsigned nf, unsigned nr)
{
	unsigned i;

	w->len = 0;
	put(w, "TRIP", 4);
	put8(w, 1);
	put8(w, flags);
	put8(w, (unsigned)strlen(traveller));
	put(w, traveller, strlen(traveller));
	put8(w, nf);
	for (i = 0; i < nf; i++) {
		put(w, i == 0 ? "LHRJFK2027-03-14" : "JFKLHR2028-02-29", 16);
		put32be(w, 45000 + i);
	}
	put8(w, nr);
	for (i = 0; i < nr; i++) {
		put8(w, 8);
		put(w, "New York", 8);
		put8(w, 5);
		put32be(w, 110000 + i);
	}
}

/* Whatever trip_decode accepted is a trip a handler may trust. */
static void
assert_valid(const struct trip *t)
{
	unsigned i;

	CU_ASSERT_EQUAL(t->flags & ~3u, 0);
	CU_ASSERT_TRUE(strlen(t->traveller) >= 1 && strlen(t->traveller) <= TRIP_MAX_NAME);
	CU_ASSERT_TRUE(t->n_flights <= TRIP_MAX_FLIGHTS && t->n_rooms <= TRIP_MAX_ROOMS);
	for (i = 0; i < t->n_flights && i < TRIP_MAX_FLIGHTS; i++) {
		CU_ASSERT_TRUE(trip_valid_airport(t->flights[i].origin));
		CU_ASSERT_TRUE(trip_valid_airport(t->flights[i].destination));
		CU_ASSERT_STRING_NOT_EQUAL(t->flights[i].origin, t->flights[i].destination);
		CU_ASSERT_TRUE(trip_valid_date(t->flights[i].date));
		CU_ASSERT_TRUE(t->flights[i].price >= 1 && t->flights[i].price <= TRIP_MAX_PRICE);
	}
	for (i = 0; i < t->n_rooms && i < TRIP_MAX_ROOMS; i++) {
		CU_ASSERT_TRUE(strlen(t->rooms[i].city) >= 1 && strlen(t->rooms[i].city) <= TRIP_MAX_CITY);
		CU_ASSERT_TRUE(t->rooms[i].nights >= 1 && t->rooms[i].nights <= TRIP_MAX_NIGHTS);
		CU_ASSERT_TRUE(t->rooms[i].price >= 1 && t->rooms[i].price <= TRIP_MAX_PRICE);
	}
}

/*
 * Decode from a heap copy of exactly len bytes, so that AddressSanitizer
 * sees any read past the bean's end.
 */
static const char *
decode_exact(const unsigned char *data, size_t len, struct trip *t)
{
	unsigned char *copy = malloc(len > 0 ? len : 1);
	const char *why;

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, data, len);
	why = trip_decode(copy, len, t);
	free(copy);
	return why;
}

static void
test_read_back(void)
{
	static struct bean w;
	static struct trip t;

	make(&w, TRIP_FLIGHTS_CONFIRMED, "Ada Lovelace", 2, 1);
	CU_ASSERT_PTR_NULL(decode_exact(w.b, w.len, &t));
	CU_ASSERT_EQUAL(t.flags, TRIP_FLIGHTS_CONFIRMED);
	CU_ASSERT_STRING_EQUAL(t.traveller, "Ada Lovelace");
	CU_ASSERT_EQUAL(t.n_flights, 2);
	CU_ASSERT_STRING_EQUAL(t.flights[0].origin, "LHR");
	CU_ASSERT_STRING_EQUAL(t.flights[0].destination, "JFK");
	CU_ASSERT_STRING_EQUAL(t.flights[0].date, "2027-03-14");
	CU_ASSERT_EQUAL(t.flights[0].price, 45000);
	CU_ASSERT_STRING_EQUAL(t.flights[1].date, "2028-02-29");
	CU_ASSERT_EQUAL(t.n_rooms, 1);
	CU_ASSERT_STRING_EQUAL(t.rooms[0].city, "New York");
	CU_ASSERT_EQUAL(t.rooms[0].nights, 5);
	CU_ASSERT_EQUAL(t.rooms[0].price, 110000);
	CU_ASSERT_EQUAL(trip_flight_total(&t), 90001);
	CU_ASSERT_EQUAL(trip_room_total(&t), 110000);

	make(&w, 0, "X", 0, 0);
	CU_ASSERT_PTR_NULL(decode_exact(w.b, w.len, &t));
	CU_ASSERT_EQUAL(t.n_flights + t.n_rooms, 0);
	CU_ASSERT_EQUAL(trip_flight_total(&t) + trip_room_total(&t), 0);
}

static void
test_truncated_and_trailing(void)
{
	static struct bean w;
	static struct trip t;
	size_t len;

	make(&w, 3, "Ada Lovelace", 3, 2);
	for (len = 0; len < w.len; len++)
		CU_ASSERT_PTR_NOT_NULL(decode_exact(w.b, len, &t));
	w.b[w.len++] = 0;
	CU_ASSERT_STRING_EQUAL(decode_exact(w.b, w.len, &t), "bytes after the last room");
}

/* Every byte of a bean set to every value: refused, or a trip to trust. */
static void
test_every_byte_changed(void)
{
	static struct bean w;
	static struct trip t;
	unsigned char orig;
	size_t pos;
	unsigned v, accepted = 0;

	make(&w, 1, "Ada", 2, 2);
	for (pos = 0; pos < w.len; pos++) {
		orig = w.b[pos];
		for (v = 0; v < 256; v++) {
			w.b[pos] = (unsigned char)v;
			if (decode_exact(w.b, w.len, &t) == NULL) {
				assert_valid(&t);
				accepted++;
			}
		}
		w.b[pos] = orig;
	}
	/* The unchanged values at least, and some harmless changes (a letter of a name). */
	CU_ASSERT_TRUE(accepted > w.len);
}

static void
test_limits(void)
{
	static struct bean w;
	static struct trip t;
	char name[TRIP_MAX_NAME + 2];

	make(&w, 0, "A", TRIP_MAX_FLIGHTS, TRIP_MAX_ROOMS);
	CU_ASSERT_PTR_NULL(decode_exact(w.b, w.len, &t));
	CU_ASSERT_EQUAL(trip_flight_total(&t) + trip_room_total(&t),
	    TRIP_MAX_FLIGHTS * 45000 + (TRIP_MAX_FLIGHTS - 1) * TRIP_MAX_FLIGHTS / 2 +
	    TRIP_MAX_ROOMS * 110000 + (TRIP_MAX_ROOMS - 1) * TRIP_MAX_ROOMS / 2);
	make(&w, 0, "A", TRIP_MAX_FLIGHTS + 1, 0);
	CU_ASSERT_STRING_EQUAL(decode_exact(w.b, w.len, &t), "too many flights");
	make(&w, 0, "A", 0, TRIP_MAX_ROOMS + 1);
	CU_ASSERT_STRING_EQUAL(decode_exact(w.b, w.len, &t), "too many rooms");

	memset(name, 'n', sizeof name);
	name[TRIP_MAX_NAME] = '\0';
	make(&w, 0, name, 1, 1);
	CU_ASSERT_PTR_NULL(decode_exact(w.b, w.len, &t));
	CU_ASSERT_EQUAL(strlen(t.traveller), TRIP_MAX_NAME);
	name[TRIP_MAX_NAME] = 'n';
	name[TRIP_MAX_NAME + 1] = '\0';
	make(&w, 0, name, 1, 1);
	CU_ASSERT_STRING_EQUAL(decode_exact(w.b, w.len, &t), "bad traveller length");

	/* Not a trip at all: another magic, as a cart's bean is. */
	make(&w, 0, "A", 0, 0);
	memcpy(w.b, "CART", 4);
	CU_ASSERT_PTR_EQUAL(decode_exact(w.b, w.len, &t), trip_not_a_trip);
	make(&w, 0, "A", 0, 0);
	w.b[4] = 2;
	CU_ASSERT_STRING_EQUAL(decode_exact(w.b, w.len, &t), "unknown encoding version");
	make(&w, 4, "A", 0, 0);
	CU_ASSERT_STRING_EQUAL(decode_exact(w.b, w.len, &t), "unknown flags");
	CU_ASSERT_PTR_EQUAL(decode_exact(w.b, 0, &t), trip_not_a_trip);
}

static void
test_checks(void)
{
	CU_ASSERT_TRUE(trip_valid_date("2027-03-14"));
	CU_ASSERT_TRUE(trip_valid_date("2028-02-29"));
	CU_ASSERT_TRUE(trip_valid_date("2000-02-29"));
	CU_ASSERT_TRUE(trip_valid_date("0001-01-01"));
	CU_ASSERT_TRUE(trip_valid_date("9999-12-31"));
	CU_ASSERT_FALSE(trip_valid_date("1900-02-29"));
	CU_ASSERT_FALSE(trip_valid_date("2027-02-29"));
	CU_ASSERT_FALSE(trip_valid_date("2027-04-31"));
	CU_ASSERT_FALSE(trip_valid_date("0000-01-01"));
	CU_ASSERT_FALSE(trip_valid_date("2027-00-10"));
	CU_ASSERT_FALSE(trip_valid_date("2027-13-10"));
	CU_ASSERT_FALSE(trip_valid_date("2027-3-14"));
	CU_ASSERT_FALSE(trip_valid_date("2027-03-14Z"));
	CU_ASSERT_FALSE(trip_valid_date("2027/03/14"));
	CU_ASSERT_FALSE(trip_valid_date(""));
	CU_ASSERT_FALSE(trip_valid_date(NULL));

	CU_ASSERT_TRUE(trip_valid_airport("LHR"));
	CU_ASSERT_FALSE(trip_valid_airport("LH"));
	CU_ASSERT_FALSE(trip_valid_airport("LHRX"));
	CU_ASSERT_FALSE(trip_valid_airport("lhr"));
	CU_ASSERT_FALSE(trip_valid_airport("L1R"));
	CU_ASSERT_FALSE(trip_valid_airport(""));
	CU_ASSERT_FALSE(trip_valid_airport(NULL));
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "a bean is read back field by field", test_read_back },
		{ "a truncated bean, or one with bytes after it, is refused", test_truncated_and_trailing },
		{ "every byte changed: refused, or a trip to trust", test_every_byte_changed },
		{ "the limits of a trip", test_limits },
		{ "dates and airport codes", test_checks },
		{ NULL, NULL }
	};

	return unit_run("trip", tests);
}
