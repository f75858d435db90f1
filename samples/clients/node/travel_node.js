#!/usr/bin/env node
// travel_node.js - a sample client of Parley's travel booking service, written
// with the npm package soap.
//
// It loads the WSDL the node serves, holds one whole booking (StartBooking,
// two AddFlight and an AddHotel, RemoveItem, GetItinerary, Confirm) in SOAP
// 1.1, prints what it did and checks every answer; it exits 1 if the service
// answered something it must not.
//
//     npm ci                   # once, in this directory
//     node travel_node.js http://127.0.0.1:8080/services/travel?wsdl
//
// The travel WSDL declares no SOAP header: the node names the booking's
// conversation in a pc:ConversationID header of StartBooking's answer, and
// the client sends it back with client.addSoapHeader.

'use strict';

const soap = require('soap');
const SOAP_PACKAGE_VERSION = require('soap/package.json').version;

const NS_CONVERSATION = 'urn:parley:conversation';
// Every call gives up after this long, so a node that stops answering fails it.
const CALL_OPTIONS = { timeout: 30000 };

const TRAVELLER = 'Ada Lovelace';
const OUTBOUND = { flightNumber: 'BA117', date: '2027-03-14', seats: 2 };
const HOTEL = { hotel: 'Hotel Esplanade', checkIn: '2027-03-14', nights: 3 };
const RETURN = { flightNumber: 'BA118', date: '2027-03-17', seats: 2 };

class WrongAnswer extends Error {}

function expect(got, want, what) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new WrongAnswer(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
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

async function converse(wsdlUrl) {
  const client = await soap.createClientAsync(wsdlUrl, { wsdl_options: CALL_OPTIONS });

  // Each *Async call resolves to [result, rawResponse, soapHeader, rawRequest].
  const [started, , startedHeader] = await client.StartBookingAsync({ traveller: TRAVELLER },
    CALL_OPTIONS);
  // The node writes its own address into the WSDL's soap:address; the client
  // posts there, to the first port of the service (SOAP 1.1).
  console.log(`travel at ${client.lastEndpoint}, SOAP 1.1, soap ${SOAP_PACKAGE_VERSION}`);
  const bookingId = started.bookingId;
  expect(startedHeader && startedHeader.ConversationID, bookingId,
    "StartBooking's pc:ConversationID header and its bookingId");
  console.log(`started booking ${bookingId} for ${TRAVELLER}`);

  // From now on every request carries <pc:ConversationID>.
  client.addSoapHeader({ ConversationID: bookingId }, '', 'pc', NS_CONVERSATION);

  async function addFlight(flight, want) {
    const [added] = await client.AddFlightAsync(flight, CALL_OPTIONS);
    expect([added.itemId, added.itemCount], want, `AddFlight ${flight.flightNumber}'s item and count`);
    console.log(`added flight ${flight.flightNumber} on ${flight.date}, ${flight.seats} seats: ` +
      `item ${added.itemId}, ${added.itemCount} items`);
  }

  await addFlight(OUTBOUND, [1, 1]);
  const [hotel] = await client.AddHotelAsync(HOTEL, CALL_OPTIONS);
  expect([hotel.itemId, hotel.itemCount], [2, 2], "AddHotel's item and count");
  console.log(`added hotel ${HOTEL.hotel} from ${HOTEL.checkIn}, ${HOTEL.nights} nights: ` +
    `item ${hotel.itemId}, ${hotel.itemCount} items`);
  await addFlight(RETURN, [3, 3]);

  const [removed] = await client.RemoveItemAsync({ itemId: 3 }, CALL_OPTIONS);
  expect(removed.itemCount, 2, 'the count after removing item 3');
  console.log(`removed item 3: ${removed.itemCount} items`);

  const [itinerary] = await client.GetItineraryAsync({}, CALL_OPTIONS);
  expect([itinerary.bookingId, itinerary.traveller, itinerary.itemCount], [bookingId, TRAVELLER, 2],
    "GetItinerary's bookingId, traveller and itemCount");
  // soap gives a list for several items and the item itself for one.
  const items = [].concat(itinerary.item || []);
  expect(items.map((it) => it.itemId), [1, 2], "GetItinerary's item IDs");
  const flight = items[0].flight || {};
  const stay = items[1].hotel || {};
  expect({ flightNumber: flight.flightNumber, date: day(flight.date), seats: flight.seats },
    OUTBOUND, 'item 1');
  expect({ hotel: stay.name, checkIn: day(stay.checkIn), nights: stay.nights }, HOTEL, 'item 2');
  console.log(`itinerary of ${itinerary.traveller}: item 1 flight ${flight.flightNumber} on ` +
    `${day(flight.date)}, ${flight.seats} seats; item 2 hotel ${stay.name} from ` +
    `${day(stay.checkIn)}, ${stay.nights} nights`);

  const [confirmed] = await client.ConfirmAsync({}, CALL_OPTIONS);
  expect([confirmed.bookingId, confirmed.itemCount], [bookingId, 2], "Confirm's answer");
  console.log(`confirmed booking ${confirmed.bookingId} with ${confirmed.itemCount} items`);

  let fault = null;
  try {
    await client.GetItineraryAsync({}, CALL_OPTIONS);
  } catch (err) {
    fault = soapFault(err);
    if (fault === null) {
      throw err;
    }
  }
  if (fault === null) {
    throw new WrongAnswer('GetItinerary after Confirm answered; the booking should be closed');
  }
  // soap gives the faultcode as written, prefix unresolved: compare the local name.
  if (String(fault.faultcode).split(':').pop() !== 'UnknownConversation') {
    throw new WrongAnswer(`GetItinerary after Confirm: fault ${fault.faultcode} ` +
      `(${fault.faultstring}), want pc:UnknownConversation`);
  }
  console.log(`GetItinerary after confirm: fault pc:UnknownConversation (${fault.faultstring})`);
}

async function main() {
  if (process.argv.length !== 3) {
    console.error('usage: node travel_node.js WSDL-URL (e.g. http://127.0.0.1:8080/services/travel?wsdl)');
    return 2;
  }
  try {
    await converse(process.argv[2]);
  } catch (err) {
    const what = err instanceof WrongAnswer ? 'wrong answer' : 'error';
    console.error(`travel_node.js: ${what}: ${err.message}`);
    return 1;
  }
  return 0;
}

main().then((status) => {
  process.exitCode = status;
});
