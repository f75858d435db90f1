/*
 * hotel.c - the handlers of the hotel service of the trip sample
 * (hotel.wsdl, hotel.service). JoinTrip starts a conversation of this
 * service in the session of a trip the flight service started, named by
 * the request's pc:JoinConversation header (the node joins it before the
 * handler runs) or by tripId (the handler joins it with parley_join). From
 * then on both services reach the one bean, the trip of trip.c; this one
 * books its rooms.
 *
 * Per-request memory comes from gSOAP (soap_malloc), which the node frees
 * after the response is sent: the handlers have nothing to free.
 */
#include <string.h>

#include "hotel_ops.h"
#include "trip.h"

/* GetTrip's answer: the whole trip, and what the node says of its session. */
static int
describe(struct parley_call *call, struct soap *soap, const struct trip *t,
    struct _hotel__GetTripResponse *response)
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

/*
 * Join the trip that tripId names, unless the request's header joined one
 * already; then tripId must name the trip the header joined. Returns 0 or
 * the value of parley_fault().
 */
static int
join_named(struct parley_call *call, const char *trip_id)
{
	const char *joined;
	int rc;

	rc = parley_join(call, trip_id);
	switch (rc) {
	case 0:
		return 0;
	case PARLEY_ESTATE:
		/* The header joined a session: the trip is the session's starter. */
		joined = parley_session_id(call);
		if (joined == NULL || strcmp(joined, trip_id) != 0)
			return parley_fault(call, PARLEY_FAULT_SENDER,
			    "tripId %s is not the trip pc:JoinConversation joined (%s)", trip_id,
			    joined != NULL ? joined : "none");
		return 0;
	case PARLEY_EINVAL:
		return parley_fault(call, PARLEY_FAULT_SENDER, "tripId %s is not a trip's ID", trip_id);
	case PARLEY_ENOENT:
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "no live trip %s here: it is unknown, has ended, or is held by another node "
		    "(name it in a pc:JoinConversation header, which any node accepts)", trip_id);
	case PARLEY_ETIMEDOUT:
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "trip %s stayed busy too long; send JoinTrip again", trip_id);
	default:
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "cannot join trip %s: %s", trip_id,
		    parley_strerror(rc));
	}
}

/*
 * JoinTrip (phase start): join a trip, by the pc:JoinConversation header
 * or by tripId, and answer with this conversation's ID, the trip's and
 * its traveller. A trip whose rooms are confirmed takes no new hotel
 * conversation.
 */
int
hotel_JoinTrip(struct parley_call *call, struct soap *soap, struct _hotel__JoinTrip *request,
    struct _hotel__JoinTripResponse *response)
{
	const void *data;
	const char *id, *session, *why;
	struct trip *t;
	size_t len;
	int rc;

	if (parley_call_id(call) == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "JoinTrip runs without a conversation: give it phase 'start' in hotel.service");
	if (request->tripId != NULL && request->tripId[0] != '\0') {
		if ((rc = join_named(call, request->tripId)) != 0)
			return rc;
	}
	/* Joining changes the conversation's ID: read it afterwards. */
	id = parley_call_id(call);
	session = parley_session_id(call);
	if (session == NULL || strcmp(session, id) == 0)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "JoinTrip joins a trip: name one of its conversations in a pc:JoinConversation "
		    "header, or the trip in tripId");

	if ((rc = parley_bean_get(call, &data, &len)) != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "cannot read the trip: %s",
		    parley_strerror(rc));
	if ((t = soap_malloc(soap, sizeof *t)) == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	why = len == 0 ? trip_not_a_trip : trip_decode(data, len, t);
	/* Joining a conversation of another kind (a cart) is the sender's mistake. */
	if (why == trip_not_a_trip)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "the conversation joined is not a trip's (session %s)", session);
	if (why != NULL) {
		parley_log(call, PARLEY_LOG_WARN, "stored trip is not valid: %s", why);
		return parley_fault(call, PARLEY_FAULT_RECEIVER,
		    "the stored trip is not valid (%s); start a new trip", why);
	}
	if (t->flags & TRIP_ROOMS_CONFIRMED)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "the rooms of trip %s are confirmed already", session);

	response->conversationId = soap_strdup(soap, id);
	response->tripId = soap_strdup(soap, session);
	response->traveller = soap_strdup(soap, t->traveller);
	if (response->conversationId == NULL || response->tripId == NULL ||
	    response->traveller == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	parley_log(call, PARLEY_LOG_DEBUG, "joined trip %s, %u conversations live", session,
	    parley_session_live(call));
	return 0;
}

/* AddRoom (continue): add a stay; answer with the number of rooms and the trip's total. */
int
hotel_AddRoom(struct parley_call *call, struct soap *soap, struct _hotel__AddRoom *request,
    struct _hotel__AddRoomResponse *response)
{
	struct trip_room *r;
	struct trip *t;
	size_t len;
	int rc;

	len = request->city != NULL ? strlen(request->city) : 0;
	if (len < 1 || len > TRIP_MAX_CITY)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "city must be 1 to %d bytes, got %zu", TRIP_MAX_CITY, len);
	if (request->nights < 1 || request->nights > TRIP_MAX_NIGHTS)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "nights must be 1 to %d, got %d", TRIP_MAX_NIGHTS, request->nights);
	if (request->price < 1 || request->price > TRIP_MAX_PRICE)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "price must be 1 to %d cents, got %d", TRIP_MAX_PRICE, request->price);
	if ((rc = trip_load(call, soap, &t)) != 0)
		return rc;
	if (t->flags & TRIP_ROOMS_CONFIRMED)
		return parley_fault(call, PARLEY_FAULT_SENDER, "the trip's rooms are confirmed already");
	if (t->n_rooms == TRIP_MAX_ROOMS)
		return parley_fault(call, PARLEY_FAULT_SENDER,
		    "the trip already holds %d rooms, the most it may", TRIP_MAX_ROOMS);
	r = &t->rooms[t->n_rooms++];
	memcpy(r->city, request->city, len + 1);
	r->nights = request->nights;
	r->price = request->price;
	if ((rc = trip_store(call, soap, t)) != 0)
		return rc;
	response->roomCount = (int)t->n_rooms;
	response->total = trip_flight_total(t) + trip_room_total(t);
	return 0;
}

/* GetTrip (continue): answer with the whole trip, flights included. */
int
hotel_GetTrip(struct parley_call *call, struct soap *soap, struct _hotel__GetTrip *request,
    struct _hotel__GetTripResponse *response)
{
	struct trip *t;
	int rc;

	(void)request;
	if ((rc = trip_load(call, soap, &t)) != 0)
		return rc;
	return describe(call, soap, t, response);
}

/*
 * ConfirmRooms (finish): mark the rooms confirmed (again, when another
 * hotel conversation of the trip did). The node then ends this
 * conversation; the trip stays with the session's others.
 */
int
hotel_ConfirmRooms(struct parley_call *call, struct soap *soap,
    struct _hotel__ConfirmRooms *request, struct _hotel__ConfirmRoomsResponse *response)
{
	struct trip *t;
	int rc;

	(void)request;
	if ((rc = trip_load(call, soap, &t)) != 0)
		return rc;
	if (t->n_rooms == 0)
		return parley_fault(call, PARLEY_FAULT_SENDER, "the trip has no room to confirm");
	t->flags |= TRIP_ROOMS_CONFIRMED;
	if ((rc = trip_store(call, soap, t)) != 0)
		return rc;
	response->roomCount = (int)t->n_rooms;
	response->roomTotal = trip_room_total(t);
	response->total = trip_flight_total(t) + response->roomTotal;
	parley_log(call, PARLEY_LOG_DEBUG, "%u rooms confirmed, %u conversations live",
	    t->n_rooms, parley_session_live(call));
	return 0;
}
