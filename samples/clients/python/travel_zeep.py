#!/usr/bin/python3
"""travel_zeep.py - a sample client of Parley's travel booking service, written with zeep.

It loads the WSDL the node serves, holds one whole booking (StartBooking, two
AddFlight and an AddHotel, RemoveItem, GetItinerary, Confirm), prints what it
did and checks every answer; it exits 1 if the service answered something it
must not.

    /usr/bin/python3 travel_zeep.py http://127.0.0.1:8080/services/travel?wsdl
    /usr/bin/python3 travel_zeep.py --soap12 http://127.0.0.1:8080/services/travel?wsdl

The travel WSDL declares no SOAP header: the node names the booking's
conversation in a pc:ConversationID header of StartBooking's answer, and the
client sends it back as a header of every later request, built here with lxml.

zeep is Debian's python3-zeep, which only /usr/bin/python3 sees.
"""

import argparse
import datetime
import sys

import zeep
from lxml import etree
from zeep.exceptions import Error, Fault
from zeep.plugins import HistoryPlugin
from zeep.transports import Transport

NS_CONVERSATION = "urn:parley:conversation"
UNKNOWN_CONVERSATION = "{%s}UnknownConversation" % NS_CONVERSATION

TRAVELLER = "Ada Lovelace"
OUTBOUND = ("BA117", datetime.date(2027, 3, 14), 2)
HOTEL = ("Hotel Esplanade", datetime.date(2027, 3, 14), 3)
RETURN = ("BA118", datetime.date(2027, 3, 17), 2)


class WrongAnswer(Exception):
    """The service answered something other than what it must."""


def expect(got, want, what):
    if got != want:
        raise WrongAnswer("%s: got %r, want %r" % (what, got, want))


def is_unknown_conversation(fault):
    """Whether a zeep Fault is the node's pc:UnknownConversation."""
    # SOAP 1.2: zeep resolves the Subcode to a QName.
    if fault.subcodes:
        return any(code.text == UNKNOWN_CONVERSATION for code in fault.subcodes)
    # SOAP 1.1: zeep gives the faultcode as written, prefix unresolved.
    return (fault.code or "").rpartition(":")[2] == "UnknownConversation"


def conversation_header(conversation_id):
    """<pc:ConversationID>, for _soapheaders: the WSDL does not declare it, so it goes raw."""
    header = etree.Element(etree.QName(NS_CONVERSATION, "ConversationID"),
                           nsmap={"pc": NS_CONVERSATION})
    header.text = conversation_id
    return [header]


def converse(service, history, soap_version, endpoint):
    """Hold one booking; raise WrongAnswer on a wrong answer."""
    print("travel at %s, SOAP %s, zeep %s" % (endpoint, soap_version, zeep.__version__))

    # The WSDL declares no output header, so zeep returns the body alone;
    # the header is in the raw answer, which the history plugin keeps.
    booking_id = service.StartBooking(traveller=TRAVELLER)
    envelope = history.last_received["envelope"]
    header = envelope.find(".//{%s}ConversationID" % NS_CONVERSATION)
    if header is None:
        raise WrongAnswer("StartBooking's answer has no pc:ConversationID header")
    expect(booking_id, header.text, "StartBooking's bookingId and its pc:ConversationID header")
    print("started booking %s for %s" % (booking_id, TRAVELLER))
    in_booking = conversation_header(booking_id)

    def add_flight(flight, want):
        number, date, seats = flight
        answer = service.AddFlight(flightNumber=number, date=date, seats=seats,
                                   _soapheaders=in_booking)
        expect((answer.itemId, answer.itemCount), want, "AddFlight %s's item and count" % number)
        print("added flight %s on %s, %d seats: item %d, %d items"
              % (number, date, seats, answer.itemId, answer.itemCount))

    add_flight(OUTBOUND, (1, 1))
    name, check_in, nights = HOTEL
    answer = service.AddHotel(hotel=name, checkIn=check_in, nights=nights, _soapheaders=in_booking)
    expect((answer.itemId, answer.itemCount), (2, 2), "AddHotel's item and count")
    print("added hotel %s from %s, %d nights: item %d, %d items"
          % (name, check_in, nights, answer.itemId, answer.itemCount))
    add_flight(RETURN, (3, 3))

    count = service.RemoveItem(itemId=3, _soapheaders=in_booking)
    expect(count, 2, "the count after removing item 3")
    print("removed item 3: %d items" % count)

    itinerary = service.GetItinerary(_soapheaders=in_booking)
    expect(itinerary.bookingId, booking_id, "GetItinerary's bookingId")
    expect(itinerary.traveller, TRAVELLER, "GetItinerary's traveller")
    expect(itinerary.itemCount, 2, "GetItinerary's itemCount")
    items = itinerary.item
    expect([item.itemId for item in items], [1, 2], "GetItinerary's item IDs")
    flight, hotel = items[0].flight, items[1].hotel
    expect((items[0].hotel, flight.flightNumber, flight.date, flight.seats),
           (None,) + OUTBOUND, "item 1")
    expect((items[1].flight, hotel.name, hotel.checkIn, hotel.nights), (None,) + HOTEL, "item 2")
    print("itinerary of %s: item 1 flight %s on %s, %d seats; item 2 hotel %s from %s, %d nights"
          % (itinerary.traveller, flight.flightNumber, flight.date, flight.seats,
             hotel.name, hotel.checkIn, hotel.nights))

    confirmed = service.Confirm(_soapheaders=in_booking)
    expect((confirmed.bookingId, confirmed.itemCount), (booking_id, 2), "Confirm's answer")
    print("confirmed booking %s with %d items" % (confirmed.bookingId, confirmed.itemCount))

    try:
        service.GetItinerary(_soapheaders=in_booking)
    except Fault as fault:
        if not is_unknown_conversation(fault):
            raise WrongAnswer("GetItinerary after Confirm: fault %s (%s), want pc:UnknownConversation"
                              % (fault.code, fault.message))
        print("GetItinerary after confirm: fault pc:UnknownConversation (%s)" % fault.message)
    else:
        raise WrongAnswer("GetItinerary after Confirm answered; the booking should be closed")


def main():
    parser = argparse.ArgumentParser(description="Book a trip with Parley's travel service.")
    parser.add_argument("wsdl_url", help="the WSDL the node serves, e.g. "
                        "http://127.0.0.1:8080/services/travel?wsdl")
    parser.add_argument("--soap12", action="store_true", help="use the SOAP 1.2 port")
    args = parser.parse_args()

    try:
        history = HistoryPlugin()
        # Without timeouts a node that stops answering would hang the client.
        client = zeep.Client(args.wsdl_url, plugins=[history],
                             transport=Transport(timeout=10, operation_timeout=30))
        port = "TravelBookingSoap12Port" if args.soap12 else "TravelBookingSoap11Port"
        service = client.bind("TravelService", port)
        endpoint = client.wsdl.services["TravelService"].ports[port].binding_options["address"]
        converse(service, history, "1.2" if args.soap12 else "1.1", endpoint)
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
    print("travel_zeep.py: %s" % message, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
