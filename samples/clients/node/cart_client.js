#!/usr/bin/env node
// cart_client.js - a sample client of Parley's cart service, written with the
// npm package soap.
//
// It loads the WSDL the node serves, holds one whole conversation (StartCart,
// three AddItem, GetCart, Checkout) in SOAP 1.1, prints what it did and checks
// every answer; it exits 1 if the cart answered something it must not.
//
//     npm ci                   # once, in this directory
//     node cart_client.js http://127.0.0.1:8080/services/cart?wsdl

'use strict';

const soap = require('soap');
const SOAP_PACKAGE_VERSION = require('soap/package.json').version;

const NS_CONVERSATION = 'urn:parley:conversation';
// Every call gives up after this long, so a node that stops answering fails it.
const CALL_OPTIONS = { timeout: 30000 };

// What the conversation adds, and what the cart must answer to each AddItem.
const ADDS = [['apple', 2, 2], ['pear', 1, 3], ['apple', 3, 6]];
const EXPECTED_ITEMS = { apple: 5, pear: 1 };
const EXPECTED_COUNT = 6;

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

async function converse(wsdlUrl) {
  const client = await soap.createClientAsync(wsdlUrl, { wsdl_options: CALL_OPTIONS });

  // Each *Async call resolves to [result, rawResponse, soapHeader, rawRequest].
  const [started, , startedHeader] = await client.StartCartAsync({}, CALL_OPTIONS);
  // The node writes its own address into the WSDL's soap:address; the client
  // posts there, to the first port of the service (SOAP 1.1).
  console.log(`cart at ${client.lastEndpoint}, SOAP 1.1, soap ${SOAP_PACKAGE_VERSION}`);
  const conversationId = startedHeader && startedHeader.ConversationID;
  if (!conversationId) {
    throw new WrongAnswer("StartCart's answer has no pc:ConversationID header");
  }
  expect(started.conversationId, conversationId, "StartCart's body and its pc:ConversationID header");
  console.log(`started conversation ${conversationId}`);

  // From now on every request carries <pc:ConversationID>.
  client.addSoapHeader({ ConversationID: conversationId }, '', 'pc', NS_CONVERSATION);

  for (const [item, qty, want] of ADDS) {
    const [added] = await client.AddItemAsync({ item, qty }, CALL_OPTIONS);
    expect(added.count, want, `count after adding ${qty} ${item}`);
    console.log(`added ${qty} ${item}: ${added.count} items in the cart`);
  }

  const [cart] = await client.GetCartAsync({}, CALL_OPTIONS);
  // soap gives a list for several items and the item itself for one.
  const items = [].concat(cart.item || []);
  const held = {};
  for (const it of items) {
    held[it.name] = it.qty;
  }
  // In whatever order the cart lists them.
  expect(Object.entries(held).sort(), Object.entries(EXPECTED_ITEMS).sort(), "GetCart's items");
  expect(cart.count, EXPECTED_COUNT, "GetCart's count");
  console.log(`cart holds ${items.map((it) => `${it.name} x${it.qty}`).join(', ')}: ${cart.count} items`);

  const [checkedOut] = await client.CheckoutAsync({}, CALL_OPTIONS);
  expect(checkedOut.count, EXPECTED_COUNT, "Checkout's count");
  console.log(`checked out ${checkedOut.count} items; conversation ${conversationId} ended`);

  let fault = null;
  try {
    await client.GetCartAsync({}, CALL_OPTIONS);
  } catch (err) {
    fault = soapFault(err);
    if (fault === null) {
      throw err;
    }
  }
  if (fault === null) {
    throw new WrongAnswer('GetCart after Checkout answered; the conversation should be unknown');
  }
  // soap gives the faultcode as written, prefix unresolved; the prefix is the
  // server's choice, so compare the local name.
  if (String(fault.faultcode).split(':').pop() !== 'UnknownConversation') {
    throw new WrongAnswer(`GetCart after Checkout: fault ${fault.faultcode} (${fault.faultstring}), ` +
      'want pc:UnknownConversation');
  }
  console.log(`GetCart after checkout: fault pc:UnknownConversation (${fault.faultstring})`);
}

async function main() {
  if (process.argv.length !== 3) {
    console.error('usage: node cart_client.js WSDL-URL (e.g. http://127.0.0.1:8080/services/cart?wsdl)');
    return 2;
  }
  try {
    await converse(process.argv[2]);
  } catch (err) {
    const what = err instanceof WrongAnswer ? 'wrong answer' : 'error';
    console.error(`cart_client.js: ${what}: ${err.message}`);
    return 1;
  }
  return 0;
}

main().then((status) => {
  process.exitCode = status;
});
