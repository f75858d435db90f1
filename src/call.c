/*
 * call.c - the handler API of parley.h: what a service's handler and its
 * generated glue can ask of the message they are handling.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "envH.h"

#include "call.h"
#include "envelope.h"
#include "log.h"
#include "parley.h"

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

int
parley_join(struct parley_call *call, const char *other)
{
	if (call->op->phase != PARLEY_PHASE_START || call->join == NULL || call->joined ||
	    call->bean_set || call->stage != CALL_HANDLING)
		return PARLEY_ESTATE;
	if (other == NULL)
		return PARLEY_EINVAL;
	return call->join(call->join_ctx, call, other);
}

const char *
parley_session_id(const struct parley_call *call)
{
	return call->op->phase == PARLEY_PHASE_NONE ? NULL : call->session_id;
}

const char *
parley_session_initiator(const struct parley_call *call)
{
	return call->op->phase == PARLEY_PHASE_NONE ? NULL : call->initiator;
}

unsigned
parley_session_live(const struct parley_call *call)
{
	return call->op->phase == PARLEY_PHASE_NONE ? 0 : call->session_live;
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
	if (envelope_write_reply_headers(&headers, call->env, call->op->output_action, call->id) != 0) {
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
