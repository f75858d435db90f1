/*
 * notebook.c - the handlers of the notebook test service (notebook.wsdl): a
 * list of notes in a conversation, for the integration test of the handler
 * API (test_handler_api.py). The bean is the schema's Notebook element, read
 * and written by the module's own gSOAP serializers through PARLEY_BEAN_READ
 * and PARLEY_BEAN_WRITE; the operations also set the conversation's expiry
 * and end it early, and Probe answers what the calls return in phase none.
 */
#include <string.h>

#include "notebook_ops.h"

#define MAX_NOTES 100
#define MAX_TEXT  256           /* bytes in a note or the owner's name */

/* Read the conversation's notebook, checked in full: it comes back from storage. */
static int
load(struct parley_call *call, _nb__Notebook *book)
{
	int i, rc;

	rc = PARLEY_BEAN_READ(call, _nb__Notebook, book);
	if (rc == PARLEY_ENOENT)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "the conversation has no notebook");
	if (rc != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "cannot read the notebook: %s",
		    parley_strerror(rc));
	if (book->owner == NULL || book->__sizenote < 0 || book->__sizenote > MAX_NOTES ||
	    book->added != book->__sizenote)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "the stored notebook is corrupt");
	for (i = 0; i < book->__sizenote; i++)
		if (book->note[i] == NULL)
			return parley_fault(call, PARLEY_FAULT_RECEIVER, "the stored notebook is corrupt");
	return 0;
}

/* Make book the bean, stored when the handler returns 0. */
static int
store(struct parley_call *call, _nb__Notebook *book)
{
	int rc;

	rc = PARLEY_BEAN_WRITE(call, _nb__Notebook, book);
	if (rc != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "cannot store the notebook: %s",
		    parley_strerror(rc));
	return 0;
}

/* The expiry in force, for a response; NULL when out of memory. */
static struct _nb__Expiry *
expiry(struct parley_call *call, struct soap *soap)
{
	struct _nb__Expiry *e = soap_malloc(soap, sizeof *e);

	if (e == NULL)
		return NULL;
	soap_default__nb__Expiry(soap, e);
	if (parley_expiry_get(call, &e->maxAge, &e->maxIdle) != 0)
		return NULL;
	e->expiresAt = parley_expires_at_ms(call);
	return e;
}

/* Open (start): a notebook for owner; maxAge and maxIdle, when given, replace the descriptor's. */
int
notebook_Open(struct parley_call *call, struct soap *soap, struct _nb__Open *request,
    struct _nb__OpenResponse *response)
{
	_nb__Notebook book;
	uint32_t age, idle;
	int rc;

	if (request->owner == NULL || strlen(request->owner) > MAX_TEXT)
		return parley_fault(call, PARLEY_FAULT_SENDER, "owner must be at most %d bytes",
		    MAX_TEXT);
	soap_default__nb__Notebook(soap, &book);
	book.owner = request->owner;
	if ((rc = store(call, &book)) != 0)
		return rc;
	if (request->maxAge != NULL || request->maxIdle != NULL) {
		if (parley_expiry_get(call, &age, &idle) != 0)
			return parley_fault(call, PARLEY_FAULT_RECEIVER, "no expiry in a start");
		if (request->maxAge != NULL)
			age = *request->maxAge;
		if (request->maxIdle != NULL)
			idle = *request->maxIdle;
		if ((rc = parley_expiry_set(call, age, idle)) != 0)
			return parley_fault(call, PARLEY_FAULT_RECEIVER, "cannot set the expiry: %s",
			    parley_strerror(rc));
	}
	/* A conversation that would end as it starts is refused. */
	if (parley_finish(call) != PARLEY_ESTATE)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "parley_finish did not refuse a start");
	response->conversationId = soap_strdup(soap, parley_call_id(call));
	response->Expiry = expiry(call, soap);
	if (response->conversationId == NULL || response->Expiry == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	return 0;
}

/* Add (continue): append a note; answers the number of notes. */
int
notebook_Add(struct parley_call *call, struct soap *soap, struct _nb__Add *request,
    struct _nb__AddResponse *response)
{
	_nb__Notebook book;
	char **notes;
	int rc;

	if (request->text == NULL || strlen(request->text) > MAX_TEXT)
		return parley_fault(call, PARLEY_FAULT_SENDER, "text must be at most %d bytes",
		    MAX_TEXT);
	if ((rc = load(call, &book)) != 0)
		return rc;
	if (book.__sizenote == MAX_NOTES)
		return parley_fault(call, PARLEY_FAULT_SENDER, "the notebook is full");
	notes = soap_malloc(soap, (size_t)(book.__sizenote + 1) * sizeof *notes);
	if (notes == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	if (book.__sizenote > 0)
		memcpy(notes, book.note, (size_t)book.__sizenote * sizeof *notes);
	notes[book.__sizenote++] = request->text;
	book.note = notes;
	book.added++;
	if ((rc = store(call, &book)) != 0)
		return rc;
	response->count = book.__sizenote;
	return 0;
}

/* Get (continue): the owner, the notes and the expiry. */
int
notebook_Get(struct parley_call *call, struct soap *soap, struct _nb__Get *request,
    struct _nb__GetResponse *response)
{
	_nb__Notebook book;
	int rc;

	(void)request;
	if ((rc = load(call, &book)) != 0)
		return rc;
	/* The notebook lives in the call's bean context until the response is written. */
	response->owner = book.owner;
	response->__sizenote = book.__sizenote;
	response->note = book.note;
	response->count = book.__sizenote;
	response->Expiry = expiry(call, soap);
	if (response->Expiry == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	return 0;
}

/* SetExpiry (continue): new max_age and max_idle; with fail=1, a fault after setting them. */
int
notebook_SetExpiry(struct parley_call *call, struct soap *soap, struct _nb__SetExpiry *request,
    struct _nb__SetExpiryResponse *response)
{
	int rc;

	if ((rc = parley_expiry_set(call, request->maxAge, request->maxIdle)) != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "cannot set the expiry: %s",
		    parley_strerror(rc));
	if (request->fail != NULL && *request->fail != 0)
		return parley_fault(call, PARLEY_FAULT_SENDER, "failed as asked, after setting the expiry");
	response->Expiry = expiry(call, soap);
	if (response->Expiry == NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "out of memory");
	return 0;
}

/* Close (continue): ends the conversation early; with fail=1, a fault after parley_finish. */
int
notebook_Close(struct parley_call *call, struct soap *soap, struct _nb__Close *request,
    struct _nb__CloseResponse *response)
{
	_nb__Notebook book;
	int rc;

	(void)soap;
	if ((rc = load(call, &book)) != 0)
		return rc;
	if ((rc = parley_finish(call)) != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "cannot finish: %s",
		    parley_strerror(rc));
	if (parley_expires_at_ms(call) != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "a finishing conversation has an expiry");
	if (request->fail != NULL && *request->fail != 0)
		return parley_fault(call, PARLEY_FAULT_SENDER, "failed as asked, after parley_finish");
	response->count = book.__sizenote;
	return 0;
}

/* Done (finish): the ordinary end; answers the number of notes. */
int
notebook_Done(struct parley_call *call, struct soap *soap, struct _nb__Done *request,
    struct _nb__DoneResponse *response)
{
	_nb__Notebook book;
	int rc;

	(void)soap;
	(void)request;
	if ((rc = load(call, &book)) != 0)
		return rc;
	/* Changes nothing in a finish operation. */
	if ((rc = parley_finish(call)) != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "parley_finish in a finish: %s",
		    parley_strerror(rc));
	response->count = book.__sizenote;
	return 0;
}

/* Probe (none): what the calls return outside a conversation. */
int
notebook_Probe(struct parley_call *call, struct soap *soap, struct _nb__Probe *request,
    struct _nb__ProbeResponse *response)
{
	_nb__Notebook book;
	uint32_t age = 1, idle = 1;

	(void)request;
	soap_default__nb__Notebook(soap, &book);
	book.owner = "probe";
	if (parley_bean_soap(call) != NULL)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "a bean context in phase none");
	response->beanRead = PARLEY_BEAN_READ(call, _nb__Notebook, &book);
	response->beanWrite = PARLEY_BEAN_WRITE(call, _nb__Notebook, &book);
	response->expiryGet = parley_expiry_get(call, &age, &idle);
	if (age != 0 || idle != 0)
		return parley_fault(call, PARLEY_FAULT_RECEIVER, "an expiry in phase none");
	response->expirySet = parley_expiry_set(call, 5, 5);
	response->finish = parley_finish(call);
	response->expiresAt = parley_expires_at_ms(call);
	return 0;
}
