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
#include "replies.h"
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

struct soap *
parley_bean_soap(struct parley_call *call)
{
	struct soap *soap;

	if (call->op->phase == PARLEY_PHASE_NONE)
		return NULL;
	if (call->bean_soap != NULL)
		return call->bean_soap;
	/*
	 * A context of its own: the handler's is between the request it read
	 * and the response it will write, and a read or write resets the state
	 * those depend on (the SOAP version, the namespace stack, temporaries).
	 */
	soap = soap_new1(SOAP_ENC_PLAIN | SOAP_XML_STRICT | SOAP_XML_TREE | SOAP_C_UTFSTRING);
	if (soap == NULL)
		return NULL;
	/* The same bounds the request is read with: a stored bean may be damaged. */
	soap->maxlevel = 64;
	soap->maxoccurs = 100000;
	soap->encodingStyle = NULL;
	if (call->svc->module != NULL && soap_set_namespaces(soap, call->svc->module->namespaces) != 0) {
		soap_free(soap);
		return NULL;
	}
	call->bean_soap = soap;
	return soap;
}

/* The PARLEY_E code for gSOAP error code err of the bean context, in a read or write. */
static int
bean_soap_code(const struct parley_call *call, int err, const char *what)
{
	const char **s;

	if (err == SOAP_EOM)
		return PARLEY_ENOMEM;
	if (log_enabled(LOG_LEVEL_DEBUG)) {
		soap_set_fault(call->bean_soap);
		s = soap_faultstring(call->bean_soap);
		log_debug("%s %s %s: the bean could not be %s: %s (gSOAP error %d)", call->svc->name,
		    call->op->name, call->id != NULL ? call->id : "-", what,
		    s != NULL && *s != NULL ? *s : "?", err);
	}
	return PARLEY_EINVAL;
}

int
parley_bean_read_begin(struct parley_call *call)
{
	struct soap *soap = NULL;
	int rc = 0;

	if (call->op->phase == PARLEY_PHASE_NONE)
		rc = PARLEY_ESTATE;
	else if (call->bean_in_len == 0)
		rc = PARLEY_ENOENT;
	else if ((soap = parley_bean_soap(call)) == NULL)
		rc = PARLEY_ENOMEM;
	else if (call->bean_xml.data == NULL &&
	    buf_append(&call->bean_xml, call->bean_in, call->bean_in_len) != 0)
		rc = PARLEY_ENOMEM;
	if (rc == 0) {
		/* A NUL among the bytes ends gSOAP's input early: the read then fails. */
		soap->is = call->bean_xml.data;
		if (soap_begin_recv(soap) != SOAP_OK) {
			rc = bean_soap_code(call, soap->error, "read");
			soap->is = NULL;
		}
	}
	call->bean_soap_rc = rc;
	call->bean_soap_state = rc == 0 ? BEAN_SOAP_READING : BEAN_SOAP_IDLE;
	return rc;
}

int
parley_bean_read_end(struct parley_call *call, int got)
{
	struct soap *soap = call->bean_soap;
	int rc = 0;

	if (call->bean_soap_rc != 0)
		return call->bean_soap_rc;
	if (call->bean_soap_state != BEAN_SOAP_READING)
		return PARLEY_ESTATE;
	call->bean_soap_state = BEAN_SOAP_IDLE;
	if (!got)
		rc = bean_soap_code(call, soap->error != SOAP_OK ? soap->error : SOAP_TAG_MISMATCH,
		    "read");
	else if (soap_end_recv(soap) != SOAP_OK)
		rc = bean_soap_code(call, soap->error, "read");
	soap->is = NULL;
	return rc;
}

int
parley_bean_write_begin(struct parley_call *call)
{
	struct soap *soap = NULL;
	int rc = 0;

	if (call->op->phase == PARLEY_PHASE_NONE)
		rc = PARLEY_ESTATE;
	else if ((soap = parley_bean_soap(call)) == NULL)
		rc = PARLEY_ENOMEM;
	if (rc == 0) {
		call->bean_soap_out = NULL;
		soap->os = &call->bean_soap_out;
		/* What a previous write left (its pointer table) goes, as soap_write_TYPE does. */
		soap_free_temp(soap);
		if (soap_begin_send(soap) != SOAP_OK) {
			rc = bean_soap_code(call, soap->error, "written");
			soap->os = NULL;
		}
	}
	call->bean_soap_rc = rc;
	call->bean_soap_state = rc == 0 ? BEAN_SOAP_WRITING : BEAN_SOAP_IDLE;
	return rc;
}

int
parley_bean_write_end(struct parley_call *call, int put)
{
	struct soap *soap = call->bean_soap;
	const char *xml;
	int rc = 0;

	if (call->bean_soap_rc != 0)
		return call->bean_soap_rc;
	if (call->bean_soap_state != BEAN_SOAP_WRITING)
		return PARLEY_ESTATE;
	call->bean_soap_state = BEAN_SOAP_IDLE;
	if (!put)
		rc = bean_soap_code(call, soap->error != SOAP_OK ? soap->error : SOAP_EOM, "written");
	else if (soap_end_send(soap) != SOAP_OK)
		rc = bean_soap_code(call, soap->error, "written");
	xml = call->bean_soap_out;
	soap->os = NULL;
	call->bean_soap_out = NULL;
	if (rc != 0)
		return rc;
	if (xml == NULL)
		return PARLEY_ENOMEM;
	/* The string is in the bean context's memory: parley_bean_set keeps a copy. */
	return parley_bean_set(call, xml, strlen(xml));
}

void
call_end_soap(struct parley_call *call)
{
	if (call->bean_soap != NULL) {
		soap_destroy(call->bean_soap);
		soap_end(call->bean_soap);
		soap_free(call->bean_soap);
		call->bean_soap = NULL;
	}
	buf_free(&call->bean_xml);
	call->bean_soap_out = NULL;
	call->bean_soap_state = BEAN_SOAP_IDLE;
}

int
parley_expiry_get(const struct parley_call *call, uint32_t *max_age_s, uint32_t *max_idle_s)
{
	if (call->op->phase == PARLEY_PHASE_NONE) {
		*max_age_s = *max_idle_s = 0;
		return PARLEY_ESTATE;
	}
	*max_age_s = call->max_age_s;
	*max_idle_s = call->max_idle_s;
	return 0;
}

int
parley_expiry_set(struct parley_call *call, uint32_t max_age_s, uint32_t max_idle_s)
{
	if (call->op->phase == PARLEY_PHASE_NONE)
		return PARLEY_ESTATE;
	call->max_age_s = max_age_s;
	call->max_idle_s = max_idle_s;
	return 0;
}

int64_t
parley_expires_at_ms(const struct parley_call *call)
{
	int64_t at = 0, idle;

	if (call->op->phase == PARLEY_PHASE_NONE || call->op->phase == PARLEY_PHASE_FINISH ||
	    call->finish)
		return 0;
	/* As conv_meta_expired judges: expired once now - start >= max_age. */
	if (call->max_age_s != 0)
		at = call->created_ms + (int64_t)call->max_age_s * 1000;
	if (call->max_idle_s != 0) {
		idle = call->now_ms + (int64_t)call->max_idle_s * 1000;
		if (at == 0 || idle < at)
			at = idle;
	}
	return at;
}

int
parley_finish(struct parley_call *call)
{
	if (call->op->phase == PARLEY_PHASE_NONE || call->op->phase == PARLEY_PHASE_START)
		return PARLEY_ESTATE;
	call->finish = 1;
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
	/* An address callback_allow does not admit (now) is no partner. */
	if (rc == 0 && !replies_allowed(call->callback_allow, call->partner.address)) {
		outbox_partner_clear(&call->partner);
		rc = PARLEY_ENOENT;
	}
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
