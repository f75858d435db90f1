#!/usr/bin/python3
"""test_travel - the travel sample (samples/travel), made by parley-gen from a
plain document/literal WSDL that declares no conversation header, served by a
real node from samples/deploy. parley-gen, run again on the WSDL and
travel.phases, writes the sample's descriptor and handler signatures.

Raw SOAP first: every operation, in SOAP 1.1 and 1.2, with the conversation
named by a bare pc:ConversationID header (no WS-Addressing), and every
validation fault; a fault leaves the itinerary as it was, and an empty Confirm
leaves the booking open. Then the sample clients in samples/clients (zeep,
SOAP::Lite, the npm soap package) each hold a whole booking from the WSDL the
node serves; afterwards the node holds no travel conversation.

A client whose runtime is missing is skipped (the test then exits 77 after
running the rest), unless PARLEY_REQUIRE_CLIENTS=1, when it fails and says
what to install."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

TRAVEL_SRC = os.path.join(TOP_SRCDIR, "samples", "travel")
PARLEY_GEN = os.path.join(TOP_BUILDDIR, "src", "tools", "parley-gen")
NS_TRAVEL = "urn:example:travel"
TRAVEL_ACTION = "urn:example:travel/"

RUNS = [
    ("python (zeep, SOAP 1.1)", lambda: zeep_client("travel_zeep.py"), []),
    ("python (zeep, SOAP 1.2)", lambda: zeep_client("travel_zeep.py"), ["--soap12"]),
    ("perl (SOAP::Lite)", lambda: soaplite_client("travel_soaplite.pl"), []),
    ("node (soap)", lambda: node_soap_client("travel_node.js"), []),
]


class Travel:
    """One booking, spoken in raw SOAP: SOAPAction and a bare conversation header."""

    def __init__(self, client, soap=11):
        self.c = client
        self.soap = soap
        self.id = None

    def call(self, op, children="", conv=None):
        headers = ""
        conv = conv or self.id
        if conv:
            headers = '<pc:ConversationID xmlns:pc="%s">%s</pc:ConversationID>' % (NS_PC, conv)
        body = '<t:%s xmlns:t="%s">%s</t:%s>' % (op, NS_TRAVEL, children, op)
        return self.c.post("/services/travel", envelope(body, headers, self.soap), self.soap,
                           TRAVEL_ACTION + op)

    def ok(self, op, children="", conv=None):
        a = self.call(op, children, conv)
        check(a.status == 200 and a.fault() is None,
              "%s answered %d: %s" % (op, a.status, a.raw[:600]))
        return a

    def start(self, traveller="Ada Lovelace"):
        a = self.ok("StartBooking", "<t:traveller>%s</t:traveller>" % traveller)
        self.id = a.find(NS_TRAVEL, "bookingId")
        check(self.id, "StartBooking's answer has no bookingId: %s" % a.raw[:600])
        equal(a.conversation_id(), self.id, "StartBooking's pc:ConversationID header")
        return a

    def add_flight(self, number, date, seats):
        return self.call("AddFlight", "<t:flightNumber>%s</t:flightNumber><t:date>%s</t:date>"
                         "<t:seats>%d</t:seats>" % (number, date, seats))

    def add_hotel(self, hotel, check_in, nights):
        return self.call("AddHotel", "<t:hotel>%s</t:hotel><t:checkIn>%s</t:checkIn>"
                         "<t:nights>%d</t:nights>" % (hotel, check_in, nights))

    def added(self, a, what):
        check(a.status == 200 and a.fault() is None, "%s answered %d: %s" % (what, a.status, a.raw[:600]))
        return int(a.find(NS_TRAVEL, "itemId")), int(a.find(NS_TRAVEL, "itemCount"))

    def itinerary(self, conv=None):
        """(traveller, [(itemId, kind, name, date, count)]) from GetItinerary."""
        a = self.ok("GetItinerary", conv=conv)
        equal(a.find(NS_TRAVEL, "bookingId"), conv or self.id, "GetItinerary's bookingId")
        items = []
        for it in a.findall(NS_TRAVEL, "item"):
            item_id = int(it.findtext("{%s}itemId" % NS_TRAVEL))
            f = it.find("{%s}flight" % NS_TRAVEL)
            h = it.find("{%s}hotel" % NS_TRAVEL)
            check((f is None) != (h is None), "item %d is a flight or a hotel: %s" % (item_id, a.raw[:600]))
            if f is not None:
                items.append((item_id, "flight", f.findtext("{%s}flightNumber" % NS_TRAVEL),
                              f.findtext("{%s}date" % NS_TRAVEL), int(f.findtext("{%s}seats" % NS_TRAVEL))))
            else:
                items.append((item_id, "hotel", h.findtext("{%s}name" % NS_TRAVEL),
                              h.findtext("{%s}checkIn" % NS_TRAVEL), int(h.findtext("{%s}nights" % NS_TRAVEL))))
        equal(int(a.find(NS_TRAVEL, "itemCount")), len(items), "GetItinerary's itemCount")
        return a.find(NS_TRAVEL, "traveller"), items


def sender_fault(a, words, what, soap=11):
    """a is the service's Sender (Client) fault, its reason containing words."""
    want = "{%s}Client" % NS_SOAP11 if soap == 11 else "{%s}Sender" % NS_SOAP12
    f = a.fault()
    check(f is not None, "%s: no fault, answer %d: %s" % (what, a.status, a.raw[:600]))
    equal(f[0], want, "%s: the fault code" % what)
    check(words in f[2], "%s: the reason %r says %r" % (what, f[2], words))


def read(path):
    with open(path) as f:
        return f.read()


HANDLER = re.compile(r"^int\n(travel_\w+\([^)]*\))", re.M)


def generated_here(wd):
    """parley-gen on the sample's WSDL and phases writes the sample's descriptor
    and typemap, and the handlers the sample's travel.c defines."""
    out = os.path.join(wd, "travel-project")
    p = subprocess.run([PARLEY_GEN, os.path.join(TRAVEL_SRC, "travel.wsdl"), "--phases",
                        os.path.join(TRAVEL_SRC, "travel.phases"), "-o", out],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    check(p.returncode == 0, "parley-gen exited %d: %s" % (p.returncode, p.stdout.decode(errors="replace")))
    for name in ("travel.service", "typemap.dat", "travel.wsdl"):
        equal(read(os.path.join(out, name)), read(os.path.join(TRAVEL_SRC, name)),
              "parley-gen's %s and the sample's" % name)
    generated = HANDLER.findall(read(os.path.join(out, "travel.c")))
    equal(len(generated), 7, "handlers parley-gen wrote")
    equal(HANDLER.findall(read(os.path.join(TRAVEL_SRC, "travel.c"))), generated,
          "the sample's handlers, in parley-gen's order and with its signatures")


def raw_soap(node):
    """Every operation and every validation fault, in raw SOAP."""
    c = Client(node)

    # The served WSDL is the sample's, with the node's address, and no conversation header.
    status, _, wsdl = node.get("/services/travel?wsdl")
    equal(status, 200, "GET /services/travel?wsdl")
    check(b"ConversationID" not in wsdl, "the travel WSDL declares no conversation header")
    check(('location="%s/services/travel"' % node.url).encode() in wsdl,
          "the served WSDL's soap:address is the node's:\n%s" % wsdl[-800:].decode(errors="replace"))

    t = Travel(c)
    sender_fault(t.call("StartBooking", "<t:traveller></t:traveller>"), "traveller must be 1 to 128",
                 "StartBooking with an empty traveller")
    sender_fault(t.call("StartBooking", "<t:traveller>%s</t:traveller>" % ("x" * 129)),
                 "traveller must be 1 to 128", "StartBooking with a 129-byte traveller")
    a = t.start("Ada Lovelace")
    check(t.id.startswith(node.name + "."), "the booking ID %s is one of node %s's" % (t.id, node.name))

    equal(t.added(t.add_flight("BA117", "2027-03-14", 2), "AddFlight BA117"), (1, 1), "AddFlight BA117")
    equal(t.added(t.add_hotel("Hotel Esplanade", "2027-03-14", 3), "AddHotel"), (2, 2), "AddHotel")
    equal(t.added(t.add_flight("U2118", "2028-02-29", 9), "AddFlight U2118"), (3, 3),
          "AddFlight U2118 on a leap day, 9 seats")

    bad = [
        (t.add_flight("B@1", "2027-03-14", 1), "flightNumber must be", "a flight number with a @"),
        (t.add_flight("BA12345", "2027-03-14", 1), "flightNumber must be", "a 5-digit flight number"),
        (t.add_flight("", "2027-03-14", 1), "flightNumber must be", "an empty flight number"),
        (t.add_flight("BA117", "2027-02-29", 1), "date must be a calendar date", "29 February 2027"),
        (t.add_flight("BA117", "14/03/2027", 1), "date must be a calendar date", "a date as 14/03/2027"),
        (t.add_flight("BA117", "2027-03-14", 0), "seats must be 1 to 9, got 0", "0 seats"),
        (t.add_flight("BA117", "2027-03-14", 10), "seats must be 1 to 9, got 10", "10 seats"),
        (t.add_hotel("", "2027-03-14", 1), "hotel must be 1 to 128", "an empty hotel name"),
        (t.add_hotel("H" * 129, "2027-03-14", 1), "hotel must be 1 to 128", "a 129-byte hotel name"),
        (t.add_hotel("Hotel Esplanade", "2027-13-01", 1), "date must be a calendar date", "month 13"),
        (t.add_hotel("Hotel Esplanade", "2027-03-14", 0), "nights must be 1 to 60, got 0", "0 nights"),
        (t.add_hotel("Hotel Esplanade", "2027-03-14", 61), "nights must be 1 to 60, got 61", "61 nights"),
        (t.call("RemoveItem", "<t:itemId>99</t:itemId>"), "no item 99 in the itinerary", "an unknown item"),
        (t.call("RemoveItem", "<t:itemId>-1</t:itemId>"), "no item -1 in the itinerary", "item -1"),
        (t.call("Cancel", "<t:reason>%s</t:reason>" % ("r" * 257)), "reason must be at most 256",
         "a 257-byte reason"),
    ]
    for a, words, what in bad:
        sender_fault(a, words, "%s" % what)

    # No fault changed the itinerary (and the refused Cancel left it open).
    want = [(1, "flight", "BA117", "2027-03-14", 2), (2, "hotel", "Hotel Esplanade", "2027-03-14", 3),
            (3, "flight", "U2118", "2028-02-29", 9)]
    equal(t.itinerary(), ("Ada Lovelace", want), "the itinerary after the refused requests")

    a = t.ok("RemoveItem", "<t:itemId>1</t:itemId>")
    equal(a.find(NS_TRAVEL, "itemCount"), "2", "RemoveItem 1's itemCount")
    sender_fault(t.call("RemoveItem", "<t:itemId>1</t:itemId>"), "no item 1", "removing item 1 twice")
    # IDs are never reused: the next item is 4.
    equal(t.added(t.add_hotel("Pension Alpina", "2027-03-17", 1), "AddHotel"), (4, 3), "AddHotel after a removal")
    equal(t.itinerary()[1], want[1:] + [(4, "hotel", "Pension Alpina", "2027-03-17", 1)],
          "the itinerary after removing item 1")

    # Without the conversation header a continue operation is refused.
    a = Travel(c).call("GetItinerary")
    check(a.fault() is not None, "GetItinerary without a booking answered: %s" % a.raw[:600])

    a = t.ok("Confirm")
    equal((a.find(NS_TRAVEL, "bookingId"), a.find(NS_TRAVEL, "itemCount")), (t.id, "3"), "Confirm's answer")
    for op in ("GetItinerary", "Confirm", "Cancel"):
        equal(t.call(op).fault_code(), "{%s}UnknownConversation" % NS_PC, "%s after Confirm" % op)

    # An empty booking cannot be confirmed, and stays open; Cancel then ends it.
    e = Travel(c)
    e.start("Grace Hopper")
    sender_fault(e.call("Confirm"), "the itinerary is empty", "Confirm of an empty booking")
    equal(e.itinerary(), ("Grace Hopper", []), "the empty booking after the refused Confirm")
    a = e.ok("Cancel", "<t:reason>plans changed</t:reason>")
    equal((a.find(NS_TRAVEL, "bookingId"), a.find(NS_TRAVEL, "itemsReleased")), (e.id, "0"), "Cancel's answer")
    equal(e.call("GetItinerary").fault_code(), "{%s}UnknownConversation" % NS_PC, "GetItinerary after Cancel")

    # SOAP 1.2: the same operations, a Sender fault, and Cancel without a reason.
    s = Travel(c, soap=12)
    s.start("Edsger Dijkstra")
    equal(s.added(s.add_flight("KL1002", "2027-06-01", 1), "AddFlight in SOAP 1.2"), (1, 1), "AddFlight, SOAP 1.2")
    sender_fault(s.add_hotel("Hotel Okura", "2027-06-31", 2), "date must be a calendar date",
                 "30 June + 1 in SOAP 1.2", soap=12)
    equal(s.itinerary()[1], [(1, "flight", "KL1002", "2027-06-01", 1)], "the itinerary in SOAP 1.2")
    a = s.ok("Cancel")
    equal(a.find(NS_TRAVEL, "itemsReleased"), "1", "Cancel's itemsReleased in SOAP 1.2")
    c.close()


def run_client(name, argv, env, node):
    """Run one client against the node's travel service; return its output."""
    status, out = run_sample_client(name, argv, env, [node.url + "/services/travel?wsdl"])
    check(status == 0, "%s exited with %d; it printed:\n%s" % (name, status, out))
    m = re.search(r"^started booking (\S+) for Ada Lovelace$", out, re.M)
    check(m, "%s does not say which booking it started:\n%s" % (name, out))
    booking_id = m.group(1)
    check(booking_id.startswith(node.name + "."), "%s's booking %s is node %s's" % (name, booking_id, node.name))
    for line in ("removed item 3: 2 items",
                 "itinerary of Ada Lovelace: item 1 flight BA117 on 2027-03-14, 2 seats; "
                 "item 2 hotel Hotel Esplanade from 2027-03-14, 3 nights",
                 "confirmed booking %s with 2 items" % booking_id,
                 "GetItinerary after confirm: fault pc:UnknownConversation"):
        check(line in out, "%s does not say %r:\n%s" % (name, line, out))
    return booking_id


def test(wd, nodes):
    require = os.environ.get("PARLEY_REQUIRE_CLIENTS") == "1"
    node = Node(wd, deploy=SAMPLE_DEPLOY, store="memory")
    nodes.append(node)
    node.start()

    generated_here(wd)
    raw_soap(node)

    missing = []
    booking_ids = []
    for name, find_runtime, extra in RUNS:
        argv, env, needs = find_runtime()
        if needs is not None:
            check(not require, "PARLEY_REQUIRE_CLIENTS=1 but %s cannot run: install %s" % (name, needs))
            print("----- %s: skipped, it needs %s" % (name, needs))
            missing.append("%s, which needs %s" % (name, needs))
            continue
        booking_ids.append(run_client(name, argv + extra, env, node))
    equal(len(set(booking_ids)), len(booking_ids), "every client had its own booking")

    travel = [s for s in node.status()["services"] if s["name"] == "travel"]
    equal(len(travel), 1, "the node's status lists the travel service")
    equal(travel[0]["conversations"], 0, "travel conversations left on the node")
    equal(node.stop(), 0, "parleyd's exit status after SIGTERM")

    if missing:
        check_sanitizers(node)
        raise SkipTest("ran %d of %d clients; skipped %s"
                       % (len(booking_ids), len(RUNS), "; ".join(missing)))


run(test)
