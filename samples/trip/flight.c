/*
 * flight.c - the handlers of the flight service of the trip sample
 * (flight.wsdl, flight.service). StartTrip starts a trip: a conversation,
 * and the session that the hotel service's JoinTrip joins. Both services
 * then reach the one bean, the trip of trip.c, one message at a time; this
 * one books its flights, the hotel its rooms, and either shows the whole.
 *
 * Per-request memory comes from gSOAP (soap_malloc), which the node frees
 * after the response is sent: the handlers have nothing to free.
 */
#include <string.h>

#include "flight_ops.h"
#include "trip.h"

/* GetTrip's answer: the whole trip, and what the node says of its session. */
static int
describe(struct parley_call *call, struct soap *soap, const struct trip *t,
    struct _flight__GetTripResponse *response)
{
	unsigned i;

	response->tripId = (char *)parley_session_id(call);
	response->traveller = soap_strdup(soap, t->traveller);
	response->initiator = (char *)parley_session_initiator(call);
	if (response->traveller == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	if (t->n_flights > 0 && (response->flight = soap_malloc(soap,
	    t->n_flights * sizeof *response->flight)) == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	if (t->n_rooms > 0 && (response->room = soap_malloc(soap,
	    t->n_rooms * sizeof *response->room)) == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	/* The trip lives in gSOAP's memory, so its strings outlast this call. */
	for (i = 0; i < t->n_flights; i++) {
		response->flight[i].index = (int)i + 1;
		response->flight[i].origin = (char *)t->flights[i].origin;
		response->flight[i].destination = (char *)t->flights[i].destination;
		response->flight[i].date = (char *)t->flights[i].date;
		response->flight[i].price = t->flights[i].price;
	}
	for (i = 0; i < t->n_rooms; i++) {
		response->room[i].index = (int)i + 1;
		response->room[i].city = (char *)t->rooms[i].city;
		response->room[i].nights = t->rooms[i].nights;
		response->room[i].price = t->rooms[i].price;
	}
	response->__sizeflight = (int)t->n_flights;
	response->__sizeroom = (int)t->n_rooms;
	response->flightTotal = trip_flight_total(t);
	response->roomTotal = trip_room_total(t);
	response->total = response->flightTotal + response->roomTotal;
	response->flightsConfirmed = (t->flags & TRIP_FLIGHTS_CONFIRMED) ?
	    xsd__boolean__true_ : xsd__boolean__false_;
	response->roomsConfirmed = (t->flags & TRIP_ROOMS_CONFIRMED) ?
	    xsd__boolean__true_ : xsd__boolean__false_;
	response->liveConversations = (int)parley_session_live(call);
	return 0;
}

/* Load the trip for a change of its flights: refused once they are confirmed. */
static int
load_open(struct parley_call *call, struct soap *soap, struct trip **t)
{
	int rc;

	if ((rc = trip_load(call, soap, t)) != 0)
		return rc;
	if ((*t)->flags & TRIP_FLIGHTS_CONFIRMED)
		return parley_fault(call, PARLEY_FAULT_SENDER, "the trip's flights are confirmed already");
	return 0;
}

/*
 * StartTrip (phase start): store a new trip of the traveller's and answer
 * with its ID, the new conversation's, which the hotel service joins.
 */
int
flight_StartTrip(struct parley_call *call, struct soap *soap, struct _flight__StartTrip *request,
    struct _flight__StartTripResponse *response)
{
	struct trip *t;
	const char *id = parley_call_id(call), *session = parley_session_id(call);
	size_t len;
	int rc;

	if (id == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "StartTrip runs without a conversation: give it phase 'start' in flight.service");
	/*
	 * A pc:JoinConversation header would have made this conversation a
	 * member of another session, whose bean a new trip would overwrite.
	 */
	if (session != NULL && strcmp(session, id) != 0)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "StartTrip starts a trip of its own and joins none: "
		    "send no pc:JoinConversation header (the hotel service's JoinTrip joins a trip)");
	len = request->traveller != NULL ? strlen(request->traveller) : 0;
	if (len < 1 || len > TRIP_MAX_NAME)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "traveller must be 1 to %d bytes, got %zu", TRIP_MAX_NAME, len);
	if ((t = soap_malloc(soap, sizeof *t)) == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	memset(t, 0, sizeof *t);
	memcpy(t->traveller, request->traveller, len + 1);
	if ((rc = trip_store(call, soap, t)) != 0)
		return rc;
	if ((response->tripId = soap_strdup(soap, id)) == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	parley_log(call, PARLEY_LOG_DEBUG, "trip started");
	return 0;
}

/* AddFlight (continue): add a flight; answer with the number of flights and the trip's total. */
int
flight_AddFlight(struct parley_call *call, struct soap *soap, struct _flight__AddFlight *request,
    struct _flight__AddFlightResponse *response)
{
	struct trip_flight *f;
	struct trip *t;
	int rc;

	if (!trip_valid_airport(request->origin))
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "origin must be an airport code of three capital letters");
	if (!trip_valid_airport(request->destination))
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "destination must be an airport code of three capital letters");
	if (strcmp(request->origin, request->destination) == 0)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "destination must not be the origin, %s", request->origin);
	if (!trip_valid_date(request->date))
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "date must be a calendar date YYYY-MM-DD without a time zone");
	if (request->price < 1 || request->price > TRIP_MAX_PRICE)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "price must be 1 to %d cents, got %d", TRIP_MAX_PRICE, request->price);
	if ((rc = load_open(call, soap, &t)) != 0)
		return rc;
	if (t->n_flights == TRIP_MAX_FLIGHTS)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "the trip already holds %d flights, the most it may", TRIP_MAX_FLIGHTS);
	f = &t->flights[t->n_flights++];
	memcpy(f->origin, request->origin, TRIP_CODE_LEN + 1);
	memcpy(f->destination, request->destination, TRIP_CODE_LEN + 1);
	memcpy(f->date, request->date, TRIP_DATE_LEN + 1);
	f->price = request->price;
	if ((rc = trip_store(call, soap, t)) != 0)
		return rc;
	response->flightCount = (int)t->n_flights;
	response->total = trip_flight_total(t) + trip_room_total(t);
	return 0;
}

/* GetTrip (continue): answer with the whole trip, rooms included. */
int
flight_GetTrip(struct parley_call *call, struct soap *soap, struct _flight__GetTrip *request,
    struct _flight__GetTripResponse *response)
{
	struct trip *t;
	int rc;

	(void)request;
	if ((rc = trip_load(call, soap, &t)) != 0)
		return rc;
	return describe(call, soap, t, response);
}

/* RemoveFlight (continue): remove the flight at index; later ones move up. */
int
flight_RemoveFlight(struct parley_call *call, struct soap *soap,
    struct _flight__RemoveFlight *request, struct _flight__RemoveFlightResponse *response)
{
	struct trip *t;
	unsigned i;
	int rc;

	if ((rc = load_open(call, soap, &t)) != 0)
		return rc;
	if (request->index < 1 || (unsigned)request->index > t->n_flights)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "no flight %d in the trip, which has %u", request->index, t->n_flights);
	i = (unsigned)request->index - 1;
	memmove(&t->flights[i], &t->flights[i + 1], (t->n_flights - i - 1) * sizeof t->flights[0]);
	t->n_flights--;
	if ((rc = trip_store(call, soap, t)) != 0)
		return rc;
	response->flightCount = (int)t->n_flights;
	response->total = trip_flight_total(t) + trip_room_total(t);
	return 0;
}

/*
 * ConfirmFlights (finish): mark the flights confirmed. The node then ends
 * this conversation; the trip, with the mark, stays with the session's
 * other conversations (the hotel's), and goes when none is left.
 */
int
flight_ConfirmFlights(struct parley_call *call, struct soap *soap,
    struct _flight__ConfirmFlights *request, struct _flight__ConfirmFlightsResponse *response)
{
	struct trip *t;
	int rc;

	(void)request;
	if ((rc = load_open(call, soap, &t)) != 0)
		return rc;
	if (t->n_flights == 0)
		return parley_fault(call, PARLEY_FAULT_SENDER, "the trip has no flight to confirm");
	t->flags |= TRIP_FLIGHTS_CONFIRMED;
	if ((rc = trip_store(call, soap, t)) != 0)
		return rc;
	response->flightCount = (int)t->n_flights;
	response->flightTotal = trip_flight_total(t);
	response->total = response->flightTotal + trip_room_total(t);
	parley_log(call, PARLEY_LOG_DEBUG, "%u flights confirmed, %u conversations live",
	    t->n_flights, parley_session_live(call));
	return 0;
}
