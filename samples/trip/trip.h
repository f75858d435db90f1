/*
 * trip.h - the trip of the trip sample: the bean that the flight and hotel
 * services share (trip.c is compiled into both modules), and the checks of
 * what a request may put into it. The bean's encoding is described in
 * trip.c; a handler sees only struct trip.
 */
#ifndef TRIP_H
#define TRIP_H

#include <stddef.h>

#include "parley.h"

#define TRIP_MAX_FLIGHTS  100
#define TRIP_MAX_ROOMS    100
#define TRIP_MAX_NAME     128       /* bytes in the traveller's name */
#define TRIP_MAX_CITY     64        /* bytes in a city's name */
#define TRIP_MAX_NIGHTS   60
#define TRIP_MAX_PRICE    10000000  /* cents, for one flight or one stay */
#define TRIP_CODE_LEN     3         /* an airport code: three capital letters */
#define TRIP_DATE_LEN     10        /* YYYY-MM-DD */

/*
 * With at most TRIP_MAX_FLIGHTS + TRIP_MAX_ROOMS prices of at most
 * TRIP_MAX_PRICE each, every total fits in an int (an xs:int in the WSDLs).
 */
#if (TRIP_MAX_FLIGHTS + TRIP_MAX_ROOMS) * TRIP_MAX_PRICE > 2147483647
#error "a trip's total would not fit in an int"
#endif

/* struct trip's flags. */
#define TRIP_FLIGHTS_CONFIRMED  0x01
#define TRIP_ROOMS_CONFIRMED    0x02

struct trip_flight {
	char origin[TRIP_CODE_LEN + 1];
	char destination[TRIP_CODE_LEN + 1];
	char date[TRIP_DATE_LEN + 1];
	int price;
};

struct trip_room {
	char city[TRIP_MAX_CITY + 1];
	int nights;
	int price;
};

struct trip {
	unsigned flags;                 /* TRIP_FLIGHTS_CONFIRMED, TRIP_ROOMS_CONFIRMED */
	char traveller[TRIP_MAX_NAME + 1];
	unsigned n_flights;
	unsigned n_rooms;
	struct trip_flight flights[TRIP_MAX_FLIGHTS];
	struct trip_room rooms[TRIP_MAX_ROOMS];
};

/*
 * Read the session's bean into a new struct trip in gSOAP's per-request
 * memory of soap (freed by the node after the answer), and point *out at
 * it. Returns 0, or the value of parley_fault() with *out unchanged: a
 * Receiver fault when the bean cannot be read or is not a valid trip (a
 * damaged bean is never trusted), or when memory runs out.
 */
int trip_load(struct parley_call *call, struct soap *soap, struct trip **out);

/*
 * Decode len bytes at data into *t. Returns NULL, or a short English
 * description of what is wrong with them (then *t is partly written);
 * "it is not a trip" when they do not begin as a trip does.
 */
const char *trip_decode(const void *data, size_t len, struct trip *t);

/* The text trip_decode returns for bytes that are not a trip at all. */
extern const char trip_not_a_trip[];

/*
 * Make *t the session's bean, stored with the answer when the handler
 * returns 0. *t must be valid (as trip_decode would accept it): the
 * handlers check each change before they make it. Returns 0, or the value
 * of parley_fault() (a Receiver fault) when the node refuses the bean.
 */
int trip_store(struct parley_call *call, struct soap *soap, const struct trip *t);

/* The sums of the flights' and the rooms' prices, in cents. */
int trip_flight_total(const struct trip *t);
int trip_room_total(const struct trip *t);

/* Whether s is a calendar date YYYY-MM-DD, years 1 to 9999, without a time zone. */
int trip_valid_date(const char *s);

/* Whether s is an airport code: exactly three capital letters A to Z. */
int trip_valid_airport(const char *s);

#endif /* TRIP_H */
