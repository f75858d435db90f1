#!/usr/bin/env node
// trip_node.js - a sample client of Parley's trip sample, written with the
// npm package soap.
//
// One trip through two services that share it, in SOAP 1.1: StartTrip
// through the flight service, JoinTrip through the hotel service (naming the
// trip in a pc:JoinConversation header), flights and rooms added through
// each, GetTrip through both (the same trip), ConfirmFlights through flight
// (the hotel then sees the flights confirmed and one conversation live), and
// ConfirmRooms through hotel, which ends the trip. It prints what it did and
// checks every answer; it exits 1 if a service answered something it must not.
//
//     npm ci                   # once, in this directory
//     node trip_node.js http://127.0.0.1:8080/services/flight?wsdl \
//         http://127.0.0.1:8080/services/hotel?wsdl

'use strict';

const soap = require('soap');
const SOAP_PACKAGE_VERSION = require('soap/package.json').version;

const NS_CONVERSATION = 'urn:parley:conversation';
// Every call gives up after this long, so a node that stops answering fails it.
const CALL_OPTIONS = { timeout: 30000 };

const TRAVELLER = 'Ada Lovelace';
// [service, operation, arguments, the count and trip total it must answer]
const STEPS = [
  ['flight', 'AddFlight', { origin: 'LHR', destination: 'JFK', date: '2027-03-14', price: 45000 }, [1, 45000]],
  ['hotel', 'AddRoom', { city: 'New York', nights: 5, price: 110000 }, [1, 155000]],
  ['flight', 'AddFlight', { origin: 'JFK', destination: 'BOS', date: '2027-03-19', price: 9000 }, [2, 164000]],
  ['hotel', 'AddRoom', { city: 'Washington', nights: 2, price: 36000 }, [2, 200000]],
  ['flight', 'RemoveFlight', { index: 2 }, [1, 191000]],
  ['flight', 'AddFlight', { origin: 'JFK', destination: 'LHR', date: '2027-03-21', price: 52000 }, [2, 243000]],
];
const FLIGHTS = [[1, 'LHR', 'JFK', '2027-03-14', 45000], [2, 'JFK', 'LHR', '2027-03-21', 52000]];
const ROOMS = [[1, 'New York', 5, 110000], [2, 'Washington', 2, 36000]];
const [FLIGHT_TOTAL, ROOM_TOTAL, TOTAL] = [97000, 146000, 243000];

class WrongAnswer extends Error {}

function expect(got, want, what) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new WrongAnswer(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

function money(cents) {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

// The SOAP 1.1 Fault (faultcode, faultstring) in an error soap raised, or null.
function soapFault(err) {
  const body = err.root && err.root.Envelope && err.root.Envelope.Body;
  return (body && body.Fault) || null;
}

// soap reads an xs:date as a Date at midnight UTC; the dates here are YYYY-MM-DD.
function day(value) {
  return value instanceof Date ? value.toISOString().slice(0, 10) : value;
}

// soap gives a list for several elements, the element itself for one, nothing for none.
function list(value) {
  return [].concat(value || []);
}

// An xs:boolean as soap gives it: a boolean, or the text when it does not convert.
function bool(value) {
  return value === true || value === 'true';
}

// The address of a port as the WSDL gives it.
function endpoint(client, service, port) {
  return client.wsdl.definitions.services[service].ports[port].location;
}

function stepText(operation, a) {
  if (operation === 'AddFlight') {
    return `added flight ${a.origin}-${a.destination} on ${a.date} (${money(a.price)})`;
  }
  if (operation === 'AddRoom') {
    return `added room in ${a.city}, ${a.nights} nights (${money(a.price)})`;
  }
  return `removed flight ${a.index}`;
}

// GetTrip's answer through name is the whole trip, as it must be by now.
function checkTrip(trip, name, tripId, confirmed, live) {
  const what = `GetTrip through ${name}`;
  expect([trip.tripId, trip.traveller, trip.initiator], [tripId, TRAVELLER, 'flight'],
    `${what}: trip, traveller, initiator`);
  const flights = list(trip.flight);
  const rooms = list(trip.room);
  expect(flights.map((f) => [f.index, f.origin, f.destination, day(f.date), f.price]), FLIGHTS,
    `${what}: flights`);
  expect(rooms.map((r) => [r.index, r.city, r.nights, r.price]), ROOMS, `${what}: rooms`);
  expect([trip.flightTotal, trip.roomTotal, trip.total], [FLIGHT_TOTAL, ROOM_TOTAL, TOTAL],
    `${what}: totals`);
  const state = [bool(trip.flightsConfirmed), bool(trip.roomsConfirmed)];
  expect(state, confirmed, `${what}: what is confirmed`);
  expect(trip.liveConversations, live, `${what}: live conversations`);
  const [f, r] = state.map((c) => (c ? 'confirmed' : 'open'));
  console.log(`trip through ${name}: ${flights.length} flights ${money(trip.flightTotal)}, ` +
    `${rooms.length} rooms ${money(trip.roomTotal)}, total ${money(trip.total)}; ` +
    `flights ${f}, rooms ${r}; ${trip.liveConversations} conversations live, ` +
    `started by ${trip.initiator}`);
}

async function expectEnded(client, name, after) {
  let fault = null;
  try {
    await client.GetTripAsync({}, CALL_OPTIONS);
  } catch (err) {
    fault = soapFault(err);
    if (fault === null) {
      throw err;
    }
  }
  if (fault === null) {
    throw new WrongAnswer(`GetTrip through ${name} after ${after} answered; its conversation should be over`);
  }
  // soap gives the faultcode as written, prefix unresolved; the prefix is the
  // server's choice, so compare the local name.
  if (String(fault.faultcode).split(':').pop() !== 'UnknownConversation') {
    throw new WrongAnswer(`GetTrip through ${name} after ${after}: fault ${fault.faultcode} ` +
      `(${fault.faultstring}), want pc:UnknownConversation`);
  }
  console.log(`GetTrip through ${name} after ${after}: fault pc:UnknownConversation`);
}

async function converse(flightUrl, hotelUrl) {
  const flight = await soap.createClientAsync(flightUrl, { wsdl_options: CALL_OPTIONS });
  const hotel = await soap.createClientAsync(hotelUrl, { wsdl_options: CALL_OPTIONS });

  // Each *Async call resolves to [result, rawResponse, soapHeader, rawRequest].
  const [started, , startedHeader] = await flight.StartTripAsync({ traveller: TRAVELLER }, CALL_OPTIONS);
  const tripId = startedHeader && startedHeader.ConversationID;
  if (!tripId) {
    throw new WrongAnswer("StartTrip's answer has no pc:ConversationID header");
  }
  // The node writes its own address into the WSDL's soap:address; each
  // client posts there, to the first port of its service (SOAP 1.1).
  console.log(`flight at ${endpoint(flight, 'FlightService', 'FlightSoap11Port')}, hotel at ` +
    `${endpoint(hotel, 'HotelService', 'HotelSoap11Port')}, SOAP 1.1, soap ${SOAP_PACKAGE_VERSION}`);
  expect(started.tripId, tripId, "StartTrip's tripId and its pc:ConversationID header");
  console.log(`started trip ${tripId} for ${TRAVELLER} through flight`);

  // The join header goes with JoinTrip alone; then the hotel's own ID goes
  // with every later request.
  hotel.addSoapHeader({ JoinConversation: tripId }, '', 'pc', NS_CONVERSATION);
  const [joined, , joinedHeader] = await hotel.JoinTripAsync({}, CALL_OPTIONS);
  hotel.clearSoapHeaders();
  const hotelId = joinedHeader && joinedHeader.ConversationID;
  if (!hotelId) {
    throw new WrongAnswer("JoinTrip's answer has no pc:ConversationID header");
  }
  expect([joined.conversationId, joined.tripId, joined.traveller], [hotelId, tripId, TRAVELLER],
    "JoinTrip's conversation, trip and traveller");
  if (hotelId === tripId) {
    throw new WrongAnswer(`JoinTrip's conversation has the flight conversation's ID ${tripId}`);
  }
  console.log(`joined trip ${tripId} through hotel: conversation ${hotelId}`);

  flight.addSoapHeader({ ConversationID: tripId }, '', 'pc', NS_CONVERSATION);
  hotel.addSoapHeader({ ConversationID: hotelId }, '', 'pc', NS_CONVERSATION);
  const clients = { flight, hotel };

  for (const [name, operation, args, want] of STEPS) {
    const [answer] = await clients[name][`${operation}Async`](args, CALL_OPTIONS);
    const count = name === 'flight' ? answer.flightCount : answer.roomCount;
    const text = stepText(operation, args);
    expect([count, answer.total], want, `${text}: the count and total`);
    console.log(`${text} through ${name}: ${count} ${name === 'flight' ? 'flights' : 'rooms'}, ` +
      `trip total ${money(answer.total)}`);
  }

  for (const name of ['flight', 'hotel']) {
    const [trip] = await clients[name].GetTripAsync({}, CALL_OPTIONS);
    checkTrip(trip, name, tripId, [false, false], 2);
  }

  const [flightsDone] = await flight.ConfirmFlightsAsync({}, CALL_OPTIONS);
  expect([flightsDone.flightCount, flightsDone.flightTotal, flightsDone.total], [2, FLIGHT_TOTAL, TOTAL],
    "ConfirmFlights' answer");
  console.log(`confirmed ${flightsDone.flightCount} flights (${money(flightsDone.flightTotal)}) ` +
    'through flight; its conversation ended');
  const [seen] = await hotel.GetTripAsync({}, CALL_OPTIONS);
  checkTrip(seen, 'hotel', tripId, [true, false], 1);
  await expectEnded(flight, 'flight', 'ConfirmFlights');

  const [roomsDone] = await hotel.ConfirmRoomsAsync({}, CALL_OPTIONS);
  expect([roomsDone.roomCount, roomsDone.roomTotal, roomsDone.total], [2, ROOM_TOTAL, TOTAL],
    "ConfirmRooms' answer");
  console.log(`confirmed ${roomsDone.roomCount} rooms (${money(roomsDone.roomTotal)}) through hotel; ` +
    `trip ${tripId} ended`);
  await expectEnded(hotel, 'hotel', 'ConfirmRooms');
}

async function main() {
  if (process.argv.length !== 4) {
    console.error('usage: node trip_node.js FLIGHT-WSDL-URL HOTEL-WSDL-URL\n' +
      '  (e.g. http://127.0.0.1:8080/services/flight?wsdl http://127.0.0.1:8080/services/hotel?wsdl)');
    return 2;
  }
  try {
    await converse(process.argv[2], process.argv[3]);
  } catch (err) {
    const what = err instanceof WrongAnswer ? 'wrong answer' : 'error';
    console.error(`trip_node.js: ${what}: ${err.message}`);
    return 1;
  }
  return 0;
}

main().then((status) => {
  process.exitCode = status;
});
