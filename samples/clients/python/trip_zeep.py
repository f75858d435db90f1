#!/usr/bin/python3
"""trip_zeep.py - a sample client of Parley's trip sample, written with zeep.

One trip through two services that share it: StartTrip through the flight
service, JoinTrip through the hotel service (naming the trip in a
pc:JoinConversation header), flights and rooms added through each,
GetTrip through both (the same trip), ConfirmFlights through flight (the
hotel then sees the flights confirmed and one conversation live), and
ConfirmRooms through hotel, which ends the trip. It prints what it did and
checks every answer; it exits 1 if a service answered something it must not.

    /usr/bin/python3 trip_zeep.py http://127.0.0.1:8080/services/flight?wsdl \\
        http://127.0.0.1:8080/services/hotel?wsdl
    /usr/bin/python3 trip_zeep.py --soap12 FLIGHT-WSDL-URL HOTEL-WSDL-URL

zeep is Debian's python3-zeep, which only /usr/bin/python3 sees.
"""

import argparse
import datetime
import sys

import zeep
from zeep.exceptions import Error, Fault
from zeep.transports import Transport

NS_CONVERSATION = "urn:parley:conversation"
UNKNOWN_CONVERSATION = "{%s}UnknownConversation" % NS_CONVERSATION

TRAVELLER = "Ada Lovelace"
# (service, operation, arguments, the count and trip total it must answer)
STEPS = [
    ("flight", "AddFlight", dict(origin="LHR", destination="JFK", date=datetime.date(2027, 3, 14),
                                 price=45000), (1, 45000)),
    ("hotel", "AddRoom", dict(city="New York", nights=5, price=110000), (1, 155000)),
    ("flight", "AddFlight", dict(origin="JFK", destination="BOS", date=datetime.date(2027, 3, 19),
                                 price=9000), (2, 164000)),
    ("hotel", "AddRoom", dict(city="Washington", nights=2, price=36000), (2, 200000)),
    ("flight", "RemoveFlight", dict(index=2), (1, 191000)),
    ("flight", "AddFlight", dict(origin="JFK", destination="LHR", date=datetime.date(2027, 3, 21),
                                 price=52000), (2, 243000)),
]
FLIGHTS = [("LHR", "JFK", datetime.date(2027, 3, 14), 45000),
           ("JFK", "LHR", datetime.date(2027, 3, 21), 52000)]
ROOMS = [("New York", 5, 110000), ("Washington", 2, 36000)]
FLIGHT_TOTAL, ROOM_TOTAL, TOTAL = 97000, 146000, 243000


class WrongAnswer(Exception):
    """A service answered something other than what it must."""


def expect(got, want, what):
    if got != want:
        raise WrongAnswer("%s: got %r, want %r" % (what, got, want))


def money(cents):
    return "%d.%02d" % divmod(cents, 100)


def is_unknown_conversation(fault):
    """Whether a zeep Fault is the node's pc:UnknownConversation."""
    # SOAP 1.2: zeep resolves the Subcode to a QName.
    if fault.subcodes:
        return any(code.text == UNKNOWN_CONVERSATION for code in fault.subcodes)
    # SOAP 1.1: zeep gives the faultcode as written, prefix unresolved.
    return (fault.code or "").rpartition(":")[2] == "UnknownConversation"


def step_text(operation, a):
    """What a step of STEPS does, in words."""
    if operation == "AddFlight":
        return "added flight %s-%s on %s (%s)" % (a["origin"], a["destination"], a["date"],
                                                 money(a["price"]))
    if operation == "AddRoom":
        return "added room in %s, %d nights (%s)" % (a["city"], a["nights"], money(a["price"]))
    return "removed flight %d" % a["index"]


def header_id(answer, what):
    """The pc:ConversationID header of a start's answer (zeep names its text _value_1)."""
    header = answer.header.ConversationID if answer.header is not None else None
    if header is None:
        raise WrongAnswer("%s's answer has no pc:ConversationID header" % what)
    return header._value_1


def check_trip(trip, service, trip_id, confirmed, live):
    """GetTrip's answer through service is the whole trip, as it must be by now."""
    what = "GetTrip through %s" % service
    expect((trip.tripId, trip.traveller, trip.initiator), (trip_id, TRAVELLER, "flight"),
           "%s: trip, traveller, initiator" % what)
    expect([(f.index, f.origin, f.destination, f.date, f.price) for f in trip.flight],
           [(i + 1,) + f for i, f in enumerate(FLIGHTS)], "%s: flights" % what)
    expect([(r.index, r.city, r.nights, r.price) for r in trip.room],
           [(i + 1,) + r for i, r in enumerate(ROOMS)], "%s: rooms" % what)
    expect((trip.flightTotal, trip.roomTotal, trip.total), (FLIGHT_TOTAL, ROOM_TOTAL, TOTAL),
           "%s: totals" % what)
    expect((trip.flightsConfirmed, trip.roomsConfirmed), confirmed, "%s: what is confirmed" % what)
    expect(trip.liveConversations, live, "%s: live conversations" % what)
    print("trip through %s: %d flights %s, %d rooms %s, total %s; flights %s, rooms %s; "
          "%d conversations live, started by %s"
          % (service, len(trip.flight), money(trip.flightTotal), len(trip.room),
             money(trip.roomTotal), money(trip.total),
             "confirmed" if trip.flightsConfirmed else "open",
             "confirmed" if trip.roomsConfirmed else "open", trip.liveConversations, trip.initiator))


def expect_ended(service, name, header, after):
    try:
        service.GetTrip(_soapheaders=header)
    except Fault as fault:
        if not is_unknown_conversation(fault):
            raise WrongAnswer("GetTrip through %s after %s: fault %s (%s), want pc:UnknownConversation"
                              % (name, after, fault.code, fault.message))
        print("GetTrip through %s after %s: fault pc:UnknownConversation" % (name, after))
    else:
        raise WrongAnswer("GetTrip through %s after %s answered; its conversation should be over"
                          % (name, after))


def converse(flight, hotel, soap_version, endpoints):
    """Book one trip through both services; raise WrongAnswer on a wrong answer."""
    print("flight at %s, hotel at %s, SOAP %s, zeep %s" % (endpoints + (soap_version, zeep.__version__)))

    started = flight.StartTrip(traveller=TRAVELLER)
    trip_id = header_id(started, "StartTrip")
    expect(started.body.tripId, trip_id, "StartTrip's tripId and its pc:ConversationID header")
    print("started trip %s for %s through flight" % (trip_id, TRAVELLER))

    # hotel.wsdl declares pc:JoinConversation on JoinTrip's input, so zeep
    # takes it as a typed header argument, like pc:ConversationID.
    joined = hotel.JoinTrip(_soapheaders={"JoinConversation": trip_id})
    hotel_id = header_id(joined, "JoinTrip")
    expect((joined.body.conversationId, joined.body.tripId, joined.body.traveller),
           (hotel_id, trip_id, TRAVELLER), "JoinTrip's conversation, trip and traveller")
    if hotel_id == trip_id:
        raise WrongAnswer("JoinTrip's conversation has the flight conversation's ID %s" % trip_id)
    print("joined trip %s through hotel: conversation %s" % (trip_id, hotel_id))

    services = {"flight": (flight, {"ConversationID": trip_id}),
                "hotel": (hotel, {"ConversationID": hotel_id})}
    for name, operation, arguments, want in STEPS:
        service, header = services[name]
        answer = getattr(service, operation)(_soapheaders=header, **arguments)
        count = answer.flightCount if name == "flight" else answer.roomCount
        expect((count, answer.total), want, "%s %s's count and total" % (operation, arguments))
        print("%s through %s: %d %s, trip total %s"
              % (step_text(operation, arguments), name, count,
                 "flights" if name == "flight" else "rooms", money(answer.total)))

    for name in ("flight", "hotel"):
        service, header = services[name]
        check_trip(service.GetTrip(_soapheaders=header), name, trip_id, (False, False), 2)

    confirmed = flight.ConfirmFlights(_soapheaders=services["flight"][1])
    expect((confirmed.flightCount, confirmed.flightTotal, confirmed.total), (2, FLIGHT_TOTAL, TOTAL),
           "ConfirmFlights' answer")
    print("confirmed %d flights (%s) through flight; its conversation ended"
          % (confirmed.flightCount, money(confirmed.flightTotal)))
    check_trip(hotel.GetTrip(_soapheaders=services["hotel"][1]), "hotel", trip_id, (True, False), 1)
    expect_ended(flight, "flight", services["flight"][1], "ConfirmFlights")

    confirmed = hotel.ConfirmRooms(_soapheaders=services["hotel"][1])
    expect((confirmed.roomCount, confirmed.roomTotal, confirmed.total), (2, ROOM_TOTAL, TOTAL),
           "ConfirmRooms' answer")
    print("confirmed %d rooms (%s) through hotel; trip %s ended"
          % (confirmed.roomCount, money(confirmed.roomTotal), trip_id))
    expect_ended(hotel, "hotel", services["hotel"][1], "ConfirmRooms")


def bind(url, name, soap12):
    """The service of the WSDL at url, on its SOAP 1.1 or 1.2 port, and that port's address."""
    # Without timeouts a node that stops answering would hang the client.
    client = zeep.Client(url, transport=Transport(timeout=10, operation_timeout=30))
    port = "%sSoap%sPort" % (name, "12" if soap12 else "11")
    service = client.bind("%sService" % name, port)
    return service, client.wsdl.services["%sService" % name].ports[port].binding_options["address"]


def main():
    parser = argparse.ArgumentParser(description="Book a trip with Parley's flight and hotel services.")
    parser.add_argument("flight_wsdl", help="the flight service's WSDL as the node serves it, e.g. "
                        "http://127.0.0.1:8080/services/flight?wsdl")
    parser.add_argument("hotel_wsdl", help="the hotel service's WSDL, e.g. "
                        "http://127.0.0.1:8080/services/hotel?wsdl")
    parser.add_argument("--soap12", action="store_true", help="use the SOAP 1.2 ports")
    args = parser.parse_args()

    try:
        flight, flight_at = bind(args.flight_wsdl, "Flight", args.soap12)
        hotel, hotel_at = bind(args.hotel_wsdl, "Hotel", args.soap12)
        converse(flight, hotel, "1.2" if args.soap12 else "1.1", (flight_at, hotel_at))
    except WrongAnswer as e:
        return fail("wrong answer: %s" % e)
    except Fault as e:
        return fail("unexpected fault %s: %s" % (e.code, e.message))
    except (Error, OSError) as e:
        return fail("%s: %s" % (type(e).__name__, e))
    return 0


def fail(message):
    """Report message after what was printed so far; return the exit status."""
    sys.stdout.flush()
    print("trip_zeep.py: %s" % message, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
