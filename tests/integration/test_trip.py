#!/usr/bin/python3
"""test_trip - the trip sample (samples/trip): a flight and a hotel service
that share one trip through a session.

One node serving samples/deploy: the sample clients (zeep in SOAP 1.1 and
1.2, SOAP::Lite, the npm soap package) each book a whole trip and print the
same transcript; through a proxy that changes a total each one notices and
exits 1. Raw SOAP: joining by the pc:JoinConversation header and by tripId,
the shared totals through both services, confirmations seen across them,
every refused join (unknown, ended, not an ID, not a trip, a StartTrip that
would join), the bounds (100 flights, 100 rooms) and the validation faults,
none of which changes the trip.

Then a cluster of three nodes with store = replicated and a manager of its
own: a trip started on n1 is joined through n2 and n3; two threads add 50
flights and 50 rooms at once through the two services (each add with its
own wsa:MessageID, sent again on 503); n1, the primary of the trip's group,
is killed with SIGKILL and both services go on through n2 and n3 with
nothing lost or doubled; the manager lists the conversations with their
services, their session and its initiator (ListConversations, and parleyctl
conversations); after the failover a JoinTrip by tripId on the trip's new primary
joins, and sent again answers the same conversation; one conversation of a
trip finishes while the other expires, and an expired hotel conversation
leaves the trip to the flight's.

A client whose runtime is missing is skipped (the test then exits 77 after
running the rest), unless PARLEY_REQUIRE_CLIENTS=1, when it fails and says
what to install."""

import http.client
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

NS_FLIGHT = "urn:parley:samples:flight"
NS_HOTEL = "urn:parley:samples:hotel"
NS_MANAGER = "urn:parley:manager"
UNKNOWN = "{%s}UnknownConversation" % NS_PC
EXPIRED = "{%s}ConversationExpired" % NS_PC
INTERVAL_MS = 200

RUNS = [
    ("python (zeep, SOAP 1.1)", lambda: zeep_client("trip_zeep.py"), []),
    ("python (zeep, SOAP 1.2)", lambda: zeep_client("trip_zeep.py"), ["--soap12"]),
    ("perl (SOAP::Lite)", lambda: soaplite_client("trip_soaplite.pl"), []),
    ("node (soap)", lambda: node_soap_client("trip_node.js"), []),
]

# What every client prints after its first line, with its IDs as TRIP and HOTEL.
TRANSCRIPT = """\
started trip TRIP for Ada Lovelace through flight
joined trip TRIP through hotel: conversation HOTEL
added flight LHR-JFK on 2027-03-14 (450.00) through flight: 1 flights, trip total 450.00
added room in New York, 5 nights (1100.00) through hotel: 1 rooms, trip total 1550.00
added flight JFK-BOS on 2027-03-19 (90.00) through flight: 2 flights, trip total 1640.00
added room in Washington, 2 nights (360.00) through hotel: 2 rooms, trip total 2000.00
removed flight 2 through flight: 1 flights, trip total 1910.00
added flight JFK-LHR on 2027-03-21 (520.00) through flight: 2 flights, trip total 2430.00
trip through flight: 2 flights 970.00, 2 rooms 1460.00, total 2430.00; flights open, rooms open; \
2 conversations live, started by flight
trip through hotel: 2 flights 970.00, 2 rooms 1460.00, total 2430.00; flights open, rooms open; \
2 conversations live, started by flight
confirmed 2 flights (970.00) through flight; its conversation ended
trip through hotel: 2 flights 970.00, 2 rooms 1460.00, total 2430.00; flights confirmed, rooms open; \
1 conversations live, started by flight
GetTrip through flight after ConfirmFlights: fault pc:UnknownConversation
confirmed 2 rooms (1460.00) through hotel; trip TRIP ended
GetTrip through hotel after ConfirmRooms: fault pc:UnknownConversation
"""


def join_header(other):
    return '<pc:JoinConversation xmlns:pc="%s">%s</pc:JoinConversation>' % (NS_PC, other)


class Side:
    """One conversation of a trip through one service, in raw SOAP with WS-Addressing."""

    def __init__(self, client, service, soap=11):
        self.c = client
        self.service = service
        self.ns = NS_FLIGHT if service == "flight" else NS_HOTEL
        self.soap = soap
        self.id = None

    def call(self, op, children="", conv=None, msgid=None, join=None, via=None):
        """op in this conversation (conv: another ID; "" none), through via's client if given."""
        action = "urn:parley:samples:%s/%s" % ("flight" if self.ns == NS_FLIGHT else "hotel", op)
        conv = self.id if conv is None else conv
        headers = wsa_headers(action, msgid=msgid, conv=conv or None)
        if join is not None:
            headers += join_header(join)
        body = '<t:%s xmlns:t="%s">%s</t:%s>' % (op, self.ns, children, op)
        return (via or self.c).post("/services/" + self.service,
                                    envelope(body, headers, self.soap), self.soap, action)

    def ok(self, op, children="", **kw):
        a = self.call(op, children, **kw)
        check(a.status == 200 and a.fault() is None,
              "%s through %s answered %d: %s" % (op, self.service, a.status, a.raw[:600]))
        return a

    def start(self, traveller="Ada Lovelace", **kw):
        a = self.ok("StartTrip", "<t:traveller>%s</t:traveller>" % traveller, conv="", **kw)
        self.id = a.conversation_id()
        equal(a.find(self.ns, "tripId"), self.id, "StartTrip's tripId and its pc:ConversationID header")
        return a

    def join_call(self, header=None, trip_id=None, **kw):
        children = "<t:tripId>%s</t:tripId>" % trip_id if trip_id is not None else ""
        return self.call("JoinTrip", children, conv="", join=header, **kw)

    def join(self, header=None, trip_id=None, **kw):
        a = self.join_call(header, trip_id, **kw)
        check(a.status == 200 and a.fault() is None,
              "JoinTrip (header %s, tripId %s) answered %d: %s" % (header, trip_id, a.status, a.raw[:600]))
        self.id = a.conversation_id()
        equal(a.find(self.ns, "conversationId"), self.id, "JoinTrip's conversationId and its header")
        return a

    def add_flight(self, origin, destination, date, price, **kw):
        return self.call("AddFlight", "<t:origin>%s</t:origin><t:destination>%s</t:destination>"
                         "<t:date>%s</t:date><t:price>%d</t:price>" % (origin, destination, date, price), **kw)

    def add_room(self, city, nights, price, **kw):
        return self.call("AddRoom", "<t:city>%s</t:city><t:nights>%d</t:nights><t:price>%d</t:price>"
                         % (city, nights, price), **kw)

    def added(self, a, what):
        """(count, total) of an AddFlight, AddRoom or RemoveFlight answer."""
        check(a.status == 200 and a.fault() is None, "%s answered %d: %s" % (what, a.status, a.raw[:600]))
        count = a.find(self.ns, "flightCount" if self.ns == NS_FLIGHT else "roomCount")
        return int(count), int(a.find(self.ns, "total"))

    def trip(self, **kw):
        return parse_trip(self.ok("GetTrip", **kw), self.ns)


def parse_trip(a, ns):
    """GetTrip's answer as a dict."""
    def text(e, name):
        return e.findtext("{%s}%s" % (ns, name))
    flights = [(int(text(f, "index")), text(f, "origin"), text(f, "destination"), text(f, "date"),
                int(text(f, "price"))) for f in a.findall(ns, "flight")]
    rooms = [(int(text(r, "index")), text(r, "city"), int(text(r, "nights")), int(text(r, "price")))
             for r in a.findall(ns, "room")]
    return {"tripId": a.find(ns, "tripId"), "traveller": a.find(ns, "traveller"),
            "flights": flights, "rooms": rooms,
            "totals": (int(a.find(ns, "flightTotal")), int(a.find(ns, "roomTotal")), int(a.find(ns, "total"))),
            "confirmed": (a.find(ns, "flightsConfirmed"), a.find(ns, "roomsConfirmed")),
            "live": int(a.find(ns, "liveConversations")), "initiator": a.find(ns, "initiator")}


def sender_fault(a, words, what, soap=11):
    """a is a Sender (Client) fault whose reason says words."""
    want = "{%s}Client" % NS_SOAP11 if soap == 11 else "{%s}Sender" % NS_SOAP12
    f = a.fault()
    check(f is not None, "%s: no fault, answer %d: %s" % (what, a.status, a.raw[:600]))
    equal(f[0], want, "%s: the fault code (reason %r)" % (what, f[2]))
    check(words in f[2], "%s: the reason %r says %r" % (what, f[2], words))


def fault_code(a, what):
    check(a.status >= 400 and a.fault() is not None, "%s answered %d, not a fault: %s"
          % (what, a.status, a.raw[:400]))
    return a.fault_code()


# ---------------------------------------------------------------------------
# The sample clients
# ---------------------------------------------------------------------------

def run_client(name, argv, base_url):
    """Run one client against the flight and hotel services at base_url; (exit status, output)."""
    argv, env = argv
    return run_sample_client(name, argv, env, [base_url + "/services/flight?wsdl",
                                               base_url + "/services/hotel?wsdl"])


def whole_trip(name, argv, node):
    """One client books a whole trip; its transcript is the expected one. Returns the trip's ID."""
    status, out = run_client(name, argv, node.url)
    check(status == 0, "%s exited with %d; it printed:\n%s" % (name, status, out))
    m = re.search(r"^started trip (\S+) for ", out, re.M)
    check(m, "%s does not say which trip it started:\n%s" % (name, out))
    trip_id = m.group(1)
    check(trip_id.startswith(node.name + ".") and trip_id.count(".") == 1,
          "%s's trip %s is a conversation of node %s's that joined none" % (name, trip_id, node.name))
    m = re.search(r"^joined trip \S+ through hotel: conversation (\S+)$", out, re.M)
    check(m, "%s does not say which hotel conversation it had:\n%s" % (name, out))
    hotel_id = m.group(1)
    check(hotel_id.startswith(trip_id + ".") and hotel_id.count(".") == 2,
          "%s's hotel conversation %s names the trip's session %s" % (name, hotel_id, trip_id))
    lines = out.splitlines()
    check(lines and lines[0].startswith("flight at %s/services/flight, hotel at %s/services/hotel, SOAP "
                                        % (node.url, node.url)),
          "%s's first line names the services' addresses: %r" % (name, lines[:1]))
    body = "\n".join(lines[1:]) + "\n"
    body = body.replace(hotel_id, "HOTEL").replace(trip_id, "TRIP")
    equal(body, TRANSCRIPT, "%s's transcript" % name)
    return trip_id


def clients(node, require):
    """Every client against node, then each through a tampering proxy. Returns what was skipped."""
    missing, runnable = [], []
    for name, find_runtime, extra in RUNS:
        argv, env, needs = find_runtime()
        if needs is not None:
            check(not require, "PARLEY_REQUIRE_CLIENTS=1 but %s cannot run: install %s" % (name, needs))
            print("----- %s: skipped, it needs %s" % (name, needs))
            missing.append("%s, which needs %s" % (name, needs))
        else:
            runnable.append((name, (argv + extra, env)))
    trips = [whole_trip(name, argv, node) for name, argv in runnable]
    equal(len(set(trips)), len(trips), "every client had its own trip")
    c = Client(node)
    for trip_id in trips:
        a = Side(c, "flight").call("GetTrip", conv=trip_id)
        equal(a.fault_code(), UNKNOWN, "GetTrip of trip %s after its client confirmed it" % trip_id)
    c.close()

    proxy = TamperingProxy(node, rb"(<(\w+:)?AddRoomResponse>.*?<(\w+:)?total>)(\d+)")
    try:
        for name, argv in runnable:
            status, out = run_client(name + " through a proxy that changes AddRoom's total", argv, proxy.url)
            equal(status, 1, "%s's exit status when AddRoom's total is wrong" % name)
            check("wrong answer" in out and "New York" in out,
                  "%s says what was wrong:\n%s" % (name, out))
    finally:
        proxy.shutdown()
        proxy.server_close()
    return len(runnable), missing


# ---------------------------------------------------------------------------
# Raw SOAP on one node
# ---------------------------------------------------------------------------

def served_wsdls(node):
    for service in ("flight", "hotel"):
        status, _, wsdl = node.get("/services/%s?wsdl" % service)
        equal(status, 200, "GET /services/%s?wsdl" % service)
        check(('location="%s/services/%s"' % (node.url, service)).encode() in wsdl,
              "the served %s WSDL's soap:address is the node's" % service)
        check(b":import" not in wsdl and b":include" not in wsdl, "the %s WSDL imports nothing" % service)
        check(wsdl.count(b"wsaw:Action=") == (10 if service == "flight" else 8),
              "every operation of %s has its input and output actions" % service)
    _, _, hotel = node.get("/services/hotel?wsdl")
    check(b'part="JoinConversation"' in hotel, "hotel's JoinTrip declares the pc:JoinConversation header")


def shared_totals(node):
    """Both services see one trip; confirmations through one are seen through the other."""
    c = Client(node)
    f = Side(c, "flight")
    f.start("Grace Hopper")
    h = Side(c, "hotel")
    a = h.join(header=f.id)
    check(h.id.startswith(f.id + "."), "the hotel conversation %s names the trip's session %s" % (h.id, f.id))
    equal((a.find(NS_HOTEL, "tripId"), a.find(NS_HOTEL, "traveller")), (f.id, "Grace Hopper"),
          "JoinTrip's trip and traveller")

    equal(f.added(f.add_flight("AMS", "SFO", "2027-05-02", 61000), "AddFlight"), (1, 61000), "AddFlight")
    equal(h.added(h.add_room("San Francisco", 3, 72000), "AddRoom"), (1, 133000), "AddRoom through hotel")
    equal(f.added(f.add_flight("SFO", "AMS", "2028-02-29", 58000), "AddFlight"), (2, 191000),
          "AddFlight on a leap day, after the hotel's room")
    equal(h.added(h.add_room("Sausalito", 1, 19000), "AddRoom"), (2, 210000), "AddRoom")

    # A second hotel conversation joins by tripId, with no header: parley_join.
    h2 = Side(c, "hotel")
    h2.join(trip_id=f.id)
    check(h2.id.startswith(f.id + ".") and h2.id != h.id, "the second hotel conversation %s" % h2.id)
    # A third names the trip both ways: the same trip, accepted.
    h3 = Side(c, "hotel")
    h3.join(header=h2.id, trip_id=f.id)
    check(h3.id.startswith(f.id + "."), "a join through a hotel member joins the trip: %s" % h3.id)

    want_flights = [(1, "AMS", "SFO", "2027-05-02", 61000), (2, "SFO", "AMS", "2028-02-29", 58000)]
    want_rooms = [(1, "San Francisco", 3, 72000), (2, "Sausalito", 1, 19000)]
    for side in (f, h, h2, h3):
        t = side.trip()
        equal((t["tripId"], t["traveller"], t["initiator"]), (f.id, "Grace Hopper", "flight"),
              "the trip through %s %s" % (side.service, side.id))
        equal((t["flights"], t["rooms"]), (want_flights, want_rooms), "flights and rooms through %s" % side.id)
        equal(t["totals"], (119000, 91000, 210000), "totals through %s" % side.id)
        equal((t["confirmed"], t["live"]), (("false", "false"), 4), "state through %s" % side.id)

    # RemoveFlight: later flights move up; out of range refused.
    sender_fault(f.call("RemoveFlight", "<t:index>3</t:index>"), "no flight 3 in the trip, which has 2",
                 "RemoveFlight 3 of 2")
    sender_fault(f.call("RemoveFlight", "<t:index>0</t:index>"), "no flight 0", "RemoveFlight 0")
    equal(f.added(f.ok("RemoveFlight", "<t:index>1</t:index>"), "RemoveFlight"), (1, 149000), "RemoveFlight 1")
    equal(h.trip()["flights"], [(1, "SFO", "AMS", "2028-02-29", 58000)], "the flights through hotel after a removal")

    # The hotel side confirms first: the flight side sees it; the other hotel conversations add no room.
    a = h.ok("ConfirmRooms")
    equal((a.find(NS_HOTEL, "roomCount"), a.find(NS_HOTEL, "roomTotal"), a.find(NS_HOTEL, "total")),
          ("2", "91000", "149000"), "ConfirmRooms' answer")
    t = f.trip()
    equal((t["confirmed"], t["live"]), (("false", "true"), 3), "through flight after the hotel's ConfirmRooms")
    equal(h.call("GetTrip").fault_code(), UNKNOWN, "GetTrip through the finished hotel conversation")
    sender_fault(h2.add_room("Oakland", 1, 9000), "rooms are confirmed already", "AddRoom after ConfirmRooms")
    sender_fault(Side(c, "hotel").join_call(header=f.id), "confirmed already", "JoinTrip after ConfirmRooms")
    equal(f.added(f.add_flight("AMS", "LHR", "2028-03-02", 9000), "AddFlight"), (2, 158000),
          "AddFlight after the rooms were confirmed")
    a = f.ok("ConfirmFlights")
    equal((a.find(NS_FLIGHT, "flightCount"), a.find(NS_FLIGHT, "flightTotal"), a.find(NS_FLIGHT, "total")),
          ("2", "67000", "158000"), "ConfirmFlights' answer")
    t = h2.trip()
    equal((t["confirmed"], t["live"], t["totals"]), (("true", "true"), 2, (67000, 91000, 158000)),
          "through the second hotel conversation after both confirmations")
    # The last two end: the trip goes with the last.
    h2.ok("ConfirmRooms")
    equal(h3.trip()["live"], 1, "live conversations of the trip with one left")
    h3.ok("ConfirmRooms")
    for side in (f, h2, h3):
        equal(side.call("GetTrip").fault_code(), UNKNOWN, "GetTrip through %s after the trip ended" % side.id)
    equal(fault_code(Side(c, "hotel").join_call(header=f.id), "a join of the ended trip"), UNKNOWN,
          "a join of the ended trip by the header")
    sender_fault(Side(c, "hotel").join_call(trip_id=f.id), "no live trip", "a join of the ended trip by tripId")
    c.close()


def refused_joins(node):
    """Every join that cannot be: a fault, and nothing stored."""
    c = Client(node)
    f = Side(c, "flight")
    f.start()
    f.ok("AddFlight", "<t:origin>OSL</t:origin><t:destination>BGO</t:destination>"
         "<t:date>2027-08-01</t:date><t:price>12000</t:price>")
    before = node.conversations()
    h = Side(c, "hotel")
    sender_fault(h.join_call(), "JoinTrip joins a trip", "JoinTrip naming no trip")
    unknown = node.name + "." + "a" * 26
    equal(fault_code(h.join_call(header=unknown), "a join of an unknown ID"), UNKNOWN,
          "a join of an unknown conversation by the header")
    sender_fault(h.join_call(trip_id=unknown), "no live trip", "a join of an unknown trip by tripId")
    sender_fault(h.join_call(trip_id="not-an-id"), "is not a trip's ID", "a join of 'not-an-id' by tripId")
    other = Side(c, "flight")
    other.start("Someone Else")
    sender_fault(h.join_call(header=f.id, trip_id=other.id), "is not the trip pc:JoinConversation joined",
                 "a join naming two trips")
    sender_fault(Side(c, "flight").call("StartTrip", "<t:traveller>X</t:traveller>", conv="", join=f.id),
                 "StartTrip starts a trip of its own", "StartTrip with a pc:JoinConversation header")
    # A cart's conversation is no trip: its bean is refused, not read as one.
    cart = Cart(c)
    cart.start()
    cart.add_ok("apple", 2)
    sender_fault(h.join_call(header=cart.id), "is not a trip's", "a join of a cart")
    equal(cart.items(), {"apple": 2}, "the cart after a hotel tried to join it")
    after = node.conversations()
    after["flight"] -= 1
    after["cart"] -= 1
    equal(after, before, "live conversations after the refused joins")
    t = f.trip()
    equal((t["live"], len(t["flights"]), t["totals"]), (1, 1, (12000, 0, 12000)),
          "the trip after the refused joins")
    c.close()


def bounds_and_validation(node):
    """The trip's limits and every check of a request; a fault leaves the trip as it was."""
    c = Client(node)
    f = Side(c, "flight")
    sender_fault(f.call("StartTrip", "<t:traveller></t:traveller>", conv=""), "traveller must be 1 to 128",
                 "an empty traveller")
    sender_fault(f.call("StartTrip", "<t:traveller>%s</t:traveller>" % ("x" * 129), conv=""),
                 "traveller must be 1 to 128", "a 129-byte traveller")
    f.start("Edsger Dijkstra")
    h = Side(c, "hotel")
    h.join(header=f.id)

    bad = [
        (f.add_flight("LH", "JFK", "2027-03-14", 100), "origin must be an airport code", "a 2-letter origin"),
        (f.add_flight("lhr", "JFK", "2027-03-14", 100), "origin must be", "a lower-case origin"),
        (f.add_flight("LHR", "JFK1", "2027-03-14", 100), "destination must be", "a 4-character destination"),
        (f.add_flight("LHR", "LHR", "2027-03-14", 100), "destination must not be the origin", "a round trip"),
        (f.add_flight("LHR", "JFK", "2027-02-29", 100), "date must be a calendar date", "29 February 2027"),
        (f.add_flight("LHR", "JFK", "2027-03-14Z", 100), "date must be a calendar date", "a date with a zone"),
        (f.add_flight("LHR", "JFK", "2027-03-14", 0), "price must be 1 to 10000000 cents, got 0", "price 0"),
        (f.add_flight("LHR", "JFK", "2027-03-14", 10000001), "price must be 1 to 10000000", "price too high"),
        (h.add_room("", 1, 100), "city must be 1 to 64 bytes, got 0", "an empty city"),
        (h.add_room("C" * 65, 1, 100), "city must be 1 to 64 bytes, got 65", "a 65-byte city"),
        (h.add_room("Rome", 0, 100), "nights must be 1 to 60, got 0", "0 nights"),
        (h.add_room("Rome", 61, 100), "nights must be 1 to 60, got 61", "61 nights"),
        (h.add_room("Rome", 2, -5), "price must be 1 to 10000000 cents, got -5", "a negative price"),
        (f.call("ConfirmFlights"), "the trip has no flight to confirm", "ConfirmFlights of no flight"),
        (h.call("ConfirmRooms"), "the trip has no room to confirm", "ConfirmRooms of no room"),
    ]
    for a, words, what in bad:
        sender_fault(a, words, what)
    t = h.trip()
    equal((t["flights"], t["rooms"], t["live"]), ([], [], 2), "the trip after the refused requests")

    # 100 flights and 100 rooms, the most prices there are: the totals fit in an xs:int.
    for k in range(100):
        equal(f.added(f.add_flight("LHR", "CDG", "2027-01-01", 10000000), "AddFlight"),
              (k + 1, (k + 1) * 10000000), "flight %d of 100" % (k + 1))
    sender_fault(f.add_flight("LHR", "CDG", "2027-01-01", 1), "already holds 100 flights", "the 101st flight")
    for k in range(100):
        equal(h.added(h.add_room("R" * 64, 60, 10000000), "AddRoom"),
              (k + 1, 1000000000 + (k + 1) * 10000000), "room %d of 100" % (k + 1))
    sender_fault(h.add_room("Rome", 1, 1), "already holds 100 rooms", "the 101st room")
    t = f.trip()
    equal((len(t["flights"]), len(t["rooms"]), t["totals"]), (100, 100, (1000000000, 1000000000, 2000000000)),
          "the full trip")

    # SOAP 1.2: a fault is a Sender fault there too, and GetTrip answers the same.
    f12 = Side(c, "flight", soap=12)
    f12.id = f.id
    sender_fault(f12.add_flight("LHR", "CDG", "2027-01-01", 1), "already holds 100 flights",
                 "the 101st flight in SOAP 1.2", soap=12)
    equal(f12.trip()["totals"], (1000000000, 1000000000, 2000000000), "GetTrip in SOAP 1.2")
    f.ok("ConfirmFlights")
    h.ok("ConfirmRooms")
    c.close()


def single_node(wd, nodes, require):
    node = Node(wd, name="solo", deploy=SAMPLE_DEPLOY, store="disk")
    nodes.append(node)
    node.start()
    served_wsdls(node)
    ran, missing = clients(node, require)
    shared_totals(node)
    refused_joins(node)
    bounds_and_validation(node)
    # Left live: the trips of the clients the proxy stopped, refused_joins' two trips and its cart.
    counts = node.conversations()
    equal((counts["flight"], counts["hotel"]), (2 + ran, ran), "flight and hotel conversations left on the node")
    equal(node.stop(), 0, "parleyd's exit status after SIGTERM")
    return ran, missing


# ---------------------------------------------------------------------------
# A cluster of three replicated nodes
# ---------------------------------------------------------------------------

def cluster_deploy(wd):
    """flight and hotel, and the hotel again as shorthotel with max_idle 2s."""
    dep = os.path.join(wd, "deploy")
    os.mkdir(dep)
    for name in ("flight", "hotel"):
        for ext in (".so", ".wsdl", ".service"):
            shutil.copy(os.path.join(SAMPLE_DEPLOY, name + ext), os.path.join(dep, name + ext))
    shutil.copy(os.path.join(SAMPLE_DEPLOY, "hotel.so"), os.path.join(dep, "shorthotel.so"))
    shutil.copy(os.path.join(SAMPLE_DEPLOY, "hotel.wsdl"), os.path.join(dep, "shorthotel.wsdl"))
    with open(os.path.join(SAMPLE_DEPLOY, "hotel.service")) as f:
        desc = f.read()
    for key, value in (("service", "shorthotel"), ("module", "shorthotel.so"), ("wsdl", "shorthotel.wsdl"),
                       ("max_idle", "2s")):
        desc, n = re.subn(r"(?m)^%s\s+\S+" % key, "%s %s" % (key, value), desc)
        equal(n, 1, "hotel.service has one %s line" % key)
    with open(os.path.join(dep, "shorthotel.service"), "w") as f:
        f.write(desc)
    return dep


def replicated_node(wd, name, manager, repl_base, deploy):
    extra = ["manager=" + manager, "heartbeat_interval=%dms" % INTERVAL_MS, "heartbeat_misses=3",
             "repl_listen=127.0.0.1:%d" % repl_base, "repl_ports=4", "ack=all", "ack_timeout=500ms",
             "workers=8", "sweep_interval=200ms"]
    return Node(wd, name=name, deploy=deploy, store="replicated", extra=extra)


def settled(nodes, layout):
    """layout: {node: {group: "primary"|"secondary"}}; primaries serving, secondaries synced."""
    for n in nodes:
        held = {h["group"]: h for h in n.status().get("held", [])}
        for g, role in layout.get(n.name, {}).items():
            if g not in held or held[g]["role"] != role:
                return False
            if role == "primary" and not held[g]["serving"]:
                return False
            if role == "secondary" and not held[g]["synced"]:
                return False
    return True


def patient(side, op, children="", via_nodes=(), msgid=None, what=None, **kw):
    """op sent through the nodes in turn until one answers other than 503 (or a
    refused connection), with one wsa:MessageID throughout; returns the answer."""
    msgid = msgid or new_msgid()
    deadline = time.time() + 20
    k = 0
    last = None
    while time.time() < deadline:
        n = via_nodes[k % len(via_nodes)]
        k += 1
        try:
            c = Client(n, timeout=10)
            try:
                a = side.call(op, children, msgid=msgid, via=c, **kw)
            finally:
                c.close()
            if a.status != 503:
                return a
            last = "%s: 503 %s" % (n.name, (a.fault() or ("", "", ""))[2][:160])
        except (OSError, http.client.HTTPException) as e:
            last = "%s: %r" % (n.name, e)
        time.sleep(0.05)
    raise TestFailure("%s: no answer but 503 or errors for 20 s; last: %s" % (what or op, last))


class Adder(threading.Thread):
    """Adds count flights (or rooms) to the trip through one conversation, each
    with its own MessageID, sent again on 503; every answer's count must be
    the one before plus one (nobody else adds to this side)."""

    def __init__(self, side, via_nodes, count, base_price, first_count):
        super().__init__(daemon=True)
        self.side, self.via, self.count = side, via_nodes, count
        self.base_price, self.next_count = base_price, first_count + 1
        self.added = 0          # the sum of the prices acknowledged
        self.error = None

    def run(self):
        try:
            for k in range(self.count):
                price = self.base_price + k
                if self.side.ns == NS_FLIGHT:
                    children = ("<t:origin>OSL</t:origin><t:destination>ARN</t:destination>"
                                "<t:date>2027-09-%02d</t:date><t:price>%d</t:price>" % (1 + k % 28, price))
                    op = "AddFlight"
                else:
                    children = "<t:city>Stockholm</t:city><t:nights>1</t:nights><t:price>%d</t:price>" % price
                    op = "AddRoom"
                a = patient(self.side, op, children, self.via, what="%s %d through %s" % (op, k, self.side.id))
                count, _ = self.side.added(a, op)
                equal(count, self.next_count, "%s %d's count through %s" % (op, k, self.side.id))
                self.next_count += 1
                self.added += price
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = e


def add_concurrently(adders):
    for a in adders:
        a.start()
    for a in adders:
        a.join(90)
    for a in adders:
        check(not a.is_alive(), "an adder through %s still runs after 90 s" % a.side.id)
        if a.error is not None:
            raise a.error


def list_conversations(manager_node, live_only, session=None):
    """The manager's ListConversations: {id: (service, ended or None, session, initiator)}."""
    c = Client(manager_node)
    body = ('<m:ListConversations xmlns:m="%s">%s<m:liveOnly>%s</m:liveOnly><m:limit>1000</m:limit>'
            '</m:ListConversations>' % (NS_MANAGER, "<m:session>%s</m:session>" % session if session else "",
                                        "true" if live_only else "false"))
    action = NS_MANAGER + "/ListConversations"
    a = c.post("/parley/manager", envelope(body, wsa_headers(action)), 11, action)
    c.close()
    check(a.status == 200, "ListConversations answered %d: %s" % (a.status, a.raw[:400]))
    out = {}
    for conv in a.findall(NS_MANAGER, "conversation"):
        out[conv.findtext("{%s}id" % NS_MANAGER)] = tuple(
            conv.findtext("{%s}%s" % (NS_MANAGER, k)) for k in ("service", "ended", "session", "initiator"))
    return out


def parleyctl_sessions(manager_node, session):
    """parleyctl conversations --session: {id: (starter mark, [service, group, state, ...])} and its text."""
    p = subprocess.run([os.path.join(TOP_BUILDDIR, "container", "parleyctl"), "-u", manager_node.url,
                        "conversations", "--session", session], capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "parleyctl conversations --session %s exited %d: %s%s"
          % (session, p.returncode, p.stdout, p.stderr))
    rows = {}
    for line in p.stdout.splitlines():
        if len(line) > 2 and line[1] == " " and line[0] in "* " and not line.startswith("  CONVERSATION"):
            fields = line[2:].split()
            rows[fields[0]] = (line[0] == "*", fields[1:])
    return rows, p.stdout


def expect_trip(side, via, what, flights, rooms, totals, live):
    """GetTrip through side (sent through the nodes via, again on 503) says so."""
    a = patient(side, "GetTrip", via_nodes=via, what=what)
    check(a.status == 200, "%s answered %d: %s" % (what, a.status, a.raw[:400]))
    t = parse_trip(a, side.ns)
    equal((len(t["flights"]), len(t["rooms"]), t["totals"], t["live"]), (flights, rooms, totals, live), what)
    return t


def cluster(wd, nodes):
    deploy = cluster_deploy(wd)
    mgr = Node(wd, name="mgr", deploy=deploy, store="memory",
               extra=["role=manager", "heartbeat_interval=%dms" % INTERVAL_MS, "heartbeat_misses=3"])
    nodes.append(mgr)
    mgr.start()
    manager = mgr.url + "/parley/manager"
    base = free_ports(12)
    n1, n2, n3 = [replicated_node(wd, name, manager, base + 4 * k, deploy)
                  for k, name in enumerate(("n1", "n2", "n3"))]
    for n in (n1, n2, n3):
        nodes.append(n)
        n.start()
    ring = {"n1": {"n1": "primary", "n3": "secondary"},
            "n2": {"n2": "primary", "n1": "secondary"},
            "n3": {"n3": "primary", "n2": "secondary"}}
    wait_until("every group served and copied", lambda: settled([n1, n2, n3], ring), 30)
    everywhere = [n1, n2, n3]

    # The trip starts on n1; the hotel joins it through n2, and again through n3 via that member.
    cl = {n.name: Client(n) for n in everywhere}
    f = Side(cl["n1"], "flight")
    f.start("Barbara Liskov")
    check(f.id.startswith("n1."), "the trip started on n1 is of group n1: %s" % f.id)
    h2 = Side(cl["n2"], "hotel")
    h2.join(header=f.id)
    check(h2.id.startswith(f.id + "."), "the hotel conversation joined through n2 is in the trip's session")
    h3 = Side(cl["n3"], "hotel")
    h3.join(header=h2.id)
    check(h3.id.startswith(f.id + "."), "the hotel conversation joined through n3 is in the trip's session")
    equal(h3.trip()["live"], 3, "live conversations of the trip, through n3")
    # By tripId the handler joins (parley_join), which only the node holding the trip can.
    sender_fault(Side(cl["n2"], "hotel").join_call(trip_id=f.id), "held by another node",
                 "JoinTrip by tripId through n2, which does not hold the trip")
    for c in cl.values():
        c.close()

    # Two threads at once, through the two services and through different nodes.
    af = Adder(f, [n2, n3, n1], 50, 1000, 0)
    ah = Adder(h2, [n3, n1, n2], 50, 5000, 0)
    add_concurrently([af, ah])
    totals = (af.added, ah.added, af.added + ah.added)
    equal(totals, (sum(range(1000, 1050)), sum(range(5000, 5050)), sum(range(1000, 1050)) + sum(range(5000, 5050))),
          "what the adders sent")
    expect_trip(f, [n3], "GetTrip through flight via n3 after the concurrent adds", 50, 50, totals, 3)
    expect_trip(h2, [n1], "GetTrip through hotel via n1 after the concurrent adds", 50, 50, totals, 3)
    print("cluster: 50 flights and 50 rooms added at once through flight and hotel; totals %r" % (totals,))

    # The manager knows each conversation, its service, its session and the session's initiator.
    want = {f.id: "flight", h2.id: "hotel", h3.id: "hotel"}
    listed = wait_until("the manager lists the trip's three conversations",
                        lambda: (lambda l: l if all(i in l for i in want) else None)(
                            list_conversations(mgr, True)))
    equal({i: listed[i][0] for i in want}, want, "the services the manager lists for the trip's conversations")
    equal({i: listed[i][2:] for i in want}, {i: (f.id, "flight") for i in want},
          "the session and initiator the manager lists for the trip's conversations")
    equal(sorted(list_conversations(mgr, True, session=h3.id)), sorted(want),
          "ListConversations of the trip's session, named by a hotel conversation")
    rows, text = parleyctl_sessions(mgr, f.id)
    equal({i: (r[0], r[1][0]) for i, r in rows.items()},
          {f.id: (True, "flight"), h2.id: (False, "hotel"), h3.id: (False, "hotel")},
          "parleyctl conversations --session: the trip's conversations, the flight's marked as the starter")
    check("session %s, started by flight: 3 listed" % f.id in text,
          "parleyctl names the trip's session and its initiator:\n%s" % text)

    # Kill the primary of the trip's group: its secondary, n2, takes it over.
    n1.kill9()
    wait_until("group n1 served by n2", lambda: settled([n2], {"n2": {"n1": "primary"}}), 20)
    survivors = [n2, n3]
    # n2 holds the trip now: a JoinTrip by tripId there joins, and the same
    # message sent again answers the same conversation.
    h4 = Side(None, "hotel")
    msgid = new_msgid()
    joins = [patient(h4, "JoinTrip", "<t:tripId>%s</t:tripId>" % f.id, via_nodes=[n2], msgid=msgid, conv="")
             for _ in range(2)]
    for a in joins:
        check(a.status == 200, "JoinTrip by tripId through n2 after the failover answered %d: %s"
              % (a.status, a.raw[:400]))
    h4.id = joins[0].conversation_id()
    check(h4.id.startswith(f.id + "."), "the conversation joined by tripId is in the trip's session: %s" % h4.id)
    equal(joins[1].conversation_id(), h4.id, "a JoinTrip sent again with its MessageID")
    bf = Adder(f, [n3, n2], 10, 2000, 50)
    bh = Adder(h3, [n2, n3], 10, 7000, 50)
    add_concurrently([bf, bh])
    totals = (totals[0] + bf.added, totals[1] + bh.added, totals[2] + bf.added + bh.added)
    expect_trip(f, [n2], "GetTrip through flight via n2 after the failover", 60, 60, totals, 4)
    t = expect_trip(h2, [n3], "GetTrip through hotel via n3 after the failover", 60, 60, totals, 4)
    equal((t["tripId"], t["initiator"], t["traveller"]), (f.id, "flight", "Barbara Liskov"),
          "the trip after the failover")
    print("cluster: after kill -9 of n1, 10 more of each through n2 and n3; totals %r" % (totals,))

    # One finishes, the others go on and see it; the last one ends the trip.
    a = patient(f, "ConfirmFlights", via_nodes=survivors)
    check(a.status == 200, "ConfirmFlights after the failover answered %d: %s" % (a.status, a.raw[:400]))
    t = expect_trip(h3, survivors, "GetTrip through hotel after ConfirmFlights", 60, 60, totals, 3)
    equal(t["confirmed"], ("true", "false"), "what is confirmed, through hotel")
    for side in (h2, h3, h4):
        a = patient(side, "ConfirmRooms", via_nodes=survivors)
        check(a.status == 200, "ConfirmRooms through %s answered %d: %s" % (side.id, a.status, a.raw[:400]))
    a = patient(Side(None, "hotel"), "JoinTrip", conv="", join=f.id, via_nodes=survivors)
    equal(fault_code(a, "a join of the finished trip"), UNKNOWN, "a join of the finished trip")
    want[h4.id] = "hotel"
    ended = wait_until("the manager lists the trip's conversations as ended",
                       lambda: (lambda l: l if all(l.get(i, (0, None))[1] for i in want) else None)(
                           list_conversations(mgr, False)))
    equal({i: ended[i][0] for i in want}, want, "the services of the ended conversations")

    # Expiry: shorthotel is the hotel with max_idle 2s. In trip A the flight
    # finishes and the hotel then expires: the trip goes. In trip B the hotel
    # expires while the flight lives: the trip stays with the flight.
    trips = []
    for via in (n2, n3):
        c = Client(via)
        fx = Side(c, "flight")
        fx.start("Alan Kay")
        hx = Side(c, "shorthotel")
        hx.join(header=fx.id)
        hx.ok("AddRoom", "<t:city>Palo Alto</t:city><t:nights>2</t:nights><t:price>40000</t:price>")
        fx.ok("AddFlight", "<t:origin>SFO</t:origin><t:destination>BOS</t:destination>"
              "<t:date>2027-10-01</t:date><t:price>30000</t:price>")
        c.close()
        fx.c = hx.c = None
        trips.append((via, fx, hx))
    (via_a, fa, ha), (via_b, fb, hb) = trips
    a = patient(fa, "ConfirmFlights", via_nodes=[via_a])
    check(a.status == 200, "ConfirmFlights of trip A answered %d" % a.status)
    t = expect_trip(ha, [via_a], "trip A through shorthotel after ConfirmFlights", 1, 1, (30000, 40000, 70000), 1)
    equal(t["initiator"], "flight", "trip A's initiator")
    wait_until("both shorthotel conversations expired",
               lambda: all(n.conversations().get("shorthotel", 1) == 0 for n in (via_a, via_b)), 15)
    for side, via, what in ((ha, via_a, "trip A"), (hb, via_b, "trip B")):
        code = fault_code(patient(side, "GetTrip", via_nodes=[via]), "GetTrip of %s's expired hotel" % what)
        check(code in (EXPIRED, UNKNOWN), "%s's expired hotel conversation faults %s" % (what, code))
    a = patient(Side(None, "hotel"), "JoinTrip", conv="", join=fa.id, via_nodes=[via_a])
    equal(fault_code(a, "a join of trip A"), UNKNOWN, "a join of trip A, whose last conversation expired")
    t = expect_trip(fb, [via_b], "trip B through flight after its hotel expired", 1, 1, (30000, 40000, 70000), 1)
    equal(t["confirmed"], ("false", "false"), "trip B's state")
    a = patient(fb, "ConfirmFlights", via_nodes=[via_b])
    check(a.status == 200, "ConfirmFlights of trip B answered %d" % a.status)
    for n in survivors:
        counts = n.conversations()
        equal((counts.get("flight"), counts.get("hotel"), counts.get("shorthotel")), (0, 0, 0),
              "live trip conversations left on %s" % n.name)
    for n in survivors + [mgr]:
        equal(n.stop(), 0, "%s's exit status" % n.name)


def test(wd, nodes):
    require = os.environ.get("PARLEY_REQUIRE_CLIENTS") == "1"
    ran, missing = single_node(wd, nodes, require)
    cluster(wd, nodes)
    if missing:
        for n in nodes:
            check_sanitizers(n)
        raise SkipTest("ran %d of %d clients; skipped %s" % (ran, len(RUNS), "; ".join(missing)))


if __name__ == "__main__":
    run(test, limit=240)
