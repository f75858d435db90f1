/*
 * call.c - the handler API of parley.h: what a service's handler and its
 * generated glue can ask of the message they are handling.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "envH.h"

#include "call.h"
#include "envelope.h"
#include "log.h"
#include "outbox.h"
#include "parley.h"
#include "store.h"

const char *
parley_call_id(const struct parley_call *call)
{
	return call->id;
}

enum parley_phase
parley_call_phase(const struct parley_call *call)
{
	return call->op->phase;
}

const char *
parley_call_service(const struct parley_call *call)
{
	return call->svc->name;
}

const char *
parley_call_operation(const struct parley_call *call)
{
	return call->op->name;
}

const char *
parley_call_message_id(const struct parley_call *call)
{
	return call->env->message_id;
}

uint32_t
parley_bean_version(const struct parley_call *call)
{
	return call->op->phase == PARLEY_PHASE_NONE ? 0 : call->bean_version;
}

uint32_t
parley_call_version(const struct parley_call *call)
{
	return call->svc->version;
}

void *
call_context(const struct parley_call *call)
{
	return call->svc->context;
}

int
parley_bean_get(const struct parley_call *call, const void **data, size_t *len)
{
	if (call->op->phase == PARLEY_PHASE_NONE) {
		*data = NULL;
		*len = 0;
		return PARLEY_ESTATE;
	}
	*data = call->bean_in_len > 0 ? call->bean_in : NULL;
	*len = call->bean_in_len;
	return 0;
}

int
parley_bean_set(struct parley_call *call, const void *data, size_t len)
{
	struct buf fresh = BUF_INIT;

	if (call->op->phase == PARLEY_PHASE_NONE)
		return PARLEY_ESTATE;
	if (len > call->max_bean_bytes)
		return PARLEY_ELIMIT;
	/* Build the copy aside so a failure leaves the pending bean as it was. */
	if (buf_append(&fresh, data, len) != 0)
		return PARLEY_ENOMEM;
	buf_free(&call->bean_out);
	call->bean_out = fresh;
	call->bean_set = 1;
	return 0;
}

int
parley_fault(struct parley_call *call, enum parley_fault_code code, const char *fmt, ...)
{
	va_list ap;

	memset(&call->fault, 0, sizeof call->fault);
	call->fault.code = code == PARLEY_FAULT_RECEIVER ? FAULT_RECEIVER : FAULT_SENDER;
	va_start(ap, fmt);
	vsnprintf(call->fault.reason, sizeof call->fault.reason, fmt, ap);
	va_end(ap);
	call->faulted = 1;
	return PARLEY_EFAULT;
}

void
parley_log(const struct parley_call *call, enum parley_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int lvl = level == PARLEY_LOG_WARN ? LOG_LEVEL_WARN
	    : level == PARLEY_LOG_INFO ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG;

	if (!log_enabled(lvl))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (call == NULL) {
		if (lvl == LOG_LEVEL_WARN)
			log_warnx("%s", line);
		else if (lvl == LOG_LEVEL_INFO)
			log_info("%s", line);
		else
			log_debug("%s", line);
		return;
	}
	if (lvl == LOG_LEVEL_WARN)
		log_warnx("%s %s %s: %s", call->svc->name, call->op->name,
		    call->id != NULL ? call->id : "-", line);
	else if (lvl == LOG_LEVEL_INFO)
		log_info("%s %s %s: %s", call->svc->name, call->op->name,
		    call->id != NULL ? call->id : "-", line);
	else
		log_debug("%s %s %s: %s", call->svc->name, call->op->name,
		    call->id != NULL ? call->id : "-", line);
}

int
parley_call_request_end(struct parley_call *call, struct soap *soap)
{
	if (soap_body_end_in(soap) || soap_envelope_end_in(soap) || soap_end_recv(soap))
		return soap->error;
	call->stage = CALL_HANDLING;
	return 0;
}

int
parley_call_response_begin(struct parley_call *call, struct soap *soap)
{
	struct buf headers = BUF_INIT;
	int rc;

	call->stage = CALL_WRITING;
	/* Document/literal: no SOAP encoding attributes on the response. */
	soap->encodingStyle = NULL;
	if (envelope_write_reply_headers_to(&headers, call->env, call->op->output_action, call->id,
	    call->reply_dest) != 0) {
		buf_free(&headers);
		return soap->error = SOAP_EOM;
	}
	call->soap_out = NULL;
	soap->os = &call->soap_out;
	rc = soap_begin_send(soap);
	if (rc == 0)
		rc = soap_envelope_begin_out(soap);
	if (rc == 0 && headers.len > 0)
		rc = soap_send_raw(soap, headers.data, headers.len);
	if (rc == 0)
		rc = soap_body_begin_out(soap);
	buf_free(&headers);
	return rc;
}

int
parley_call_response_end(struct parley_call *call, struct soap *soap)
{
	int rc;

	rc = soap_body_end_out(soap);
	if (rc == 0)
		rc = soap_envelope_end_out(soap);
	if (rc == 0)
		rc = soap_end_send(soap);
	if (rc != 0)
		return rc;
	/* The string lives in soap's memory until soap_end: keep a copy. */
	if (call->soap_out == NULL || buf_puts(call->response, call->soap_out) != 0)
		return soap->error = SOAP_EOM;
	return 0;
}

void
call_release(struct parley_call *call)
{
	unsigned i;

	for (i = 0; i < call->n_callbacks; i++)
		buf_free(&call->callbacks[i].rec);
	call->n_callbacks = 0;
	outbox_partner_clear(&call->partner);
	call->partner_state = 0;
}

/* Find the conversation's partner: 0 with call->partner set, or PARLEY_ENOENT and others. */
static int
find_partner(struct parley_call *call)
{
	struct buf rec = BUF_INIT;
	int rc;

	if (call->partner_state == 1)
		return 0;
	if (call->partner_state == -1)
		return PARLEY_ENOENT;
	if (call->op->phase == PARLEY_PHASE_START)
		rc = outbox_partner_from(call->env, &call->partner);
	else if (call->store == NULL || call->id == NULL)
		rc = PARLEY_ENOENT;
	else if ((rc = store_partner_get(call->store, call->id, &rec)) == 0 &&
	    (rc = outbox_partner_decode(rec.data, rec.len, &call->partner)) == PARLEY_EIO)
		log_warnx("the partner record of conversation %s is damaged", call->id);
	buf_free(&rec);
	if (rc == 0)
		call->partner_state = 1;
	else if (rc == PARLEY_ENOENT)
		call->partner_state = -1;
	return rc;
}

int
parley_callback(struct parley_call *call, const char *action, const char *body_xml)
{
	struct call_callback *cb;
	struct outbox_entry e;
	struct envelope_dest dest;
	struct buf env = BUF_INIT;
	struct timespec ts;
	int rc;

	if (call->op->phase == PARLEY_PHASE_NONE)
		return PARLEY_ESTATE;
	if (action == NULL || action[0] == '\0' || body_xml == NULL)
		return PARLEY_EINVAL;
	if (call->n_callbacks >= PARLEY_CALLBACKS_MAX)
		return PARLEY_ELIMIT;
	if (!envelope_content_valid(body_xml))
		return PARLEY_EINVAL;
	if ((rc = find_partner(call)) != 0)
		return rc;
	cb = &call->callbacks[call->n_callbacks];
	if ((rc = outbox_message_id(cb->key)) != 0)
		return rc;
	dest.to = call->partner.address;
	dest.message_id = cb->key;
	dest.refparams = call->partner.refparams;
	if ((rc = envelope_write_message(&env, call->partner.soap, call->partner.wsa, &dest,
	    action, call->id, body_xml)) != 0)
		goto done;
	clock_gettime(CLOCK_REALTIME, &ts);
	memset(&e, 0, sizeof e);
	e.created_ms = e.next_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	e.soap = call->partner.soap;
	e.message_id = cb->key;
	e.address = call->partner.address;
	e.action = (char *)(uintptr_t)action;
	e.envelope = env.data;
	e.envelope_len = env.len;
	buf_reset(&cb->rec);
	if ((rc = outbox_entry_encode(&e, &cb->rec)) != 0) {
		buf_free(&cb->rec);
		goto done;
	}
	call->n_callbacks++;
done:
	buf_free(&env);
	return rc;
}
