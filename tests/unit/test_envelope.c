/*
 * test_envelope.c - the SOAP envelope reader and the reply and fault writers:
 * every WS-Addressing fixture in tests/fixtures/wsa, limits and hostile XML,
 * and the written faults parsed back with libxml2's DOM.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "envelope.h"
#include "parley.h"
#include "unit.h"

#define S11_OPEN "<S:Envelope xmlns:S=\"" NS_SOAP11 "\" xmlns:wsa=\"" NS_WSA10 "\"" \
	" xmlns:pc=\"" NS_PC "\">"
#define S12_OPEN "<S:Envelope xmlns:S=\"" NS_SOAP12 "\" xmlns:wsa=\"" NS_WSA10 "\"" \
	" xmlns:pc=\"" NS_PC "\">"
#define WSA_MIN "<wsa:Action>urn:act</wsa:Action><wsa:MessageID>urn:id</wsa:MessageID>"
#define BODY_END "<S:Body><m:op xmlns:m=\"urn:m\"/></S:Body></S:Envelope>"

#define AXIS_MSGID "uuid:920C5190-0B8F-11D9-8CED-F22EDEEBF7E5"
#define AXIS_TO "http://localhost:8081/axis/services/BankPort"
#define AXIS_ACTION "http://ws.apache.org/tests/action"
#define AXIS_REPLY "http://example.com/fabrikam/acct"
#define AXIS_FAULT "http://example.com/fabrikam/fault"
#define AXIS_BODY_NS "http://localhost:8081/axis/services/BankPort"
#define NOTINROLE "invalid-notinrole"

#define BP12_ACTION "http://example.org/wsaTestService/wsaTestPortType/echo1Request"
#define BP12_MSGID "urn:uuid:6388dfec-a8d3-47a3-ae8f-be5b643e5a60"
#define BP12_TO "http://localhost:$PORT/jaxws-bp12test1192/Test1192"

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

/* Read a fixture under $top_srcdir/tests/fixtures/wsa; the caller frees it. */
static char *
slurp(const char *rel, size_t *len)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	FILE *fp;
	char *data = NULL;
	long n;

	snprintf(path, sizeof path, "%s/tests/fixtures/wsa/%s", top != NULL ? top : ".", rel);
	fp = fopen(path, "rb");
	if (fp == NULL) {
		fprintf(stderr, "cannot open %s (is top_srcdir set?)\n", path);
		return NULL;
	}
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0)
		goto fail;
	data = malloc((size_t)n + 1);
	if (data == NULL || fread(data, 1, (size_t)n, fp) != (size_t)n)
		goto fail;
	data[n] = '\0';
	*len = (size_t)n;
	fclose(fp);
	return data;

fail:
	free(data);
	fclose(fp);
	return NULL;
}

/* Read a fixture into env; returns envelope_read's code, or 99 if unreadable. */
static int
read_fixture(const char *rel, struct envelope *env, struct fault *f)
{
	size_t len;
	char *data = slurp(rel, &len);
	int rc;

	if (data == NULL)
		return 99;
	rc = envelope_read(data, len, NULL, env, f);
	free(data);
	return rc;
}

static int
read_str(const char *xml, const struct envelope_limits *lim, struct envelope *env,
    struct fault *f)
{
	return envelope_read(xml, strlen(xml), lim, env, f);
}

/* Equal strings, or both NULL; says what differs, since CUnit cannot. */
static int
same(const char *what, const char *got, const char *want)
{
	if (got == NULL && want == NULL)
		return 1;
	if (got != NULL && want != NULL && strcmp(got, want) == 0)
		return 1;
	fprintf(stderr, "\n    %s is %s%s%s, expected %s%s%s\n", what,
	    got ? "\"" : "", got ? got : "NULL", got ? "\"" : "",
	    want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
	return 0;
}

static int
contains(const char *s, const char *part)
{
	if (s != NULL && strstr(s, part) != NULL)
		return 1;
	fprintf(stderr, "\n    \"%s\" does not contain \"%s\"\n", s ? s : "NULL", part);
	return 0;
}

struct expect {
	enum soap_version soap;
	enum wsa_version wsa;
	const char *message_id;
	const char *to;
	const char *action;
	const char *reply_to;
	const char *fault_to;
	const char *from;
	const char *relates_to;
	unsigned header_count;
	const char *body_ns;
	const char *body_name;
};

/* The fixture parses, with exactly the values in x. */
static void
check_ok(const char *rel, const struct expect *x)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc;

	rc = read_fixture(rel, &env, &f);
	if (rc != 0)
		fprintf(stderr, "\n    %s: rc %d, reason \"%s\"\n", rel, rc,
		    rc == PARLEY_EFAULT ? f.reason : "");
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(env.soap, x->soap);
	CU_ASSERT_EQUAL(env.wsa, x->wsa);
	CU_ASSERT(same("MessageID", env.message_id, x->message_id));
	CU_ASSERT(same("To", env.to, x->to));
	CU_ASSERT(same("Action", env.action, x->action));
	CU_ASSERT(same("ReplyTo", env.reply_to, x->reply_to));
	CU_ASSERT(same("FaultTo", env.fault_to, x->fault_to));
	CU_ASSERT(same("From", env.from, x->from));
	CU_ASSERT(same("RelatesTo", env.relates_to, x->relates_to));
	CU_ASSERT_EQUAL(env.header_count, x->header_count);
	CU_ASSERT(same("body ns", env.body_ns, x->body_ns));
	CU_ASSERT(same("body name", env.body_name, x->body_name));
	CU_ASSERT_PTR_NULL(env.conversation_id);
	envelope_clear(&env);
	CU_ASSERT_PTR_NULL(env.store.data);
}

/* The fault expected from a message. */
struct expect_fault {
	enum fault_code code;
	const char *subcode_ns;
	const char *subcode;
	const char *subsubcode;
	const char *problem_ns;
	const char *problem;
};

static void
check_fault_of(const char *what, int rc, const struct fault *f, const struct expect_fault *x)
{
	if (rc != PARLEY_EFAULT)
		fprintf(stderr, "\n    %s: rc %d, expected a fault\n", what, rc);
	CU_ASSERT_EQUAL(rc, PARLEY_EFAULT);
	if (rc != PARLEY_EFAULT)
		return;
	CU_ASSERT_EQUAL(f->code, x->code);
	CU_ASSERT(same("subcode ns", f->subcode_ns, x->subcode_ns));
	CU_ASSERT(same("subcode", f->subcode, x->subcode));
	CU_ASSERT(same("subsubcode", f->subsubcode, x->subsubcode));
	CU_ASSERT(same("problem header ns", f->problem_header_ns, x->problem_ns));
	CU_ASSERT(same("problem header", f->problem_header, x->problem));
	CU_ASSERT(f->reason[0] != '\0');
}

static void
check_fixture_fault(const char *rel, const struct expect_fault *x)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_fixture(rel, &env, &f);

	check_fault_of(rel, rc, &f, x);
	envelope_clear(&env);
}

static void
check_card10(const char *rel, const char *header)
{
	check_fixture_fault(rel, &(struct expect_fault){ FAULT_SENDER, NS_WSA10,
	    "InvalidAddressingHeader", "InvalidCardinality", NS_WSA10, header });
}

/* ------------------------------------------------------------------------
 * axis2/valid-messages
 * ------------------------------------------------------------------------ */

static void
test_valid_final(void)
{
	check_ok("axis2/valid-messages/final/soapmessage.xml", &(struct expect){
	    SOAP_V11, WSA_10, AXIS_MSGID, AXIS_TO, AXIS_ACTION, AXIS_REPLY, AXIS_FAULT,
	    WSA10_ANONYMOUS, "http://some.previous.message", 10, AXIS_BODY_NS, "getBalance" });
}

/*
 * The blocks without a role are for this node; the copies with the custom
 * role are skipped, though Axis2's test configures its node in that role.
 */
static void
test_valid_final_customrole(void)
{
	check_ok("axis2/valid-messages/final/soapmessage.customrole.xml", &(struct expect){
	    SOAP_V11, WSA_10, NOTINROLE, "soapenv:mustUnderstand=\"0\">" NOTINROLE, NOTINROLE,
	    NOTINROLE, NOTINROLE, NOTINROLE, NOTINROLE, 8, AXIS_BODY_NS, "getBalance" });
}

static void
test_valid_final_customrole12(void)
{
	check_ok("axis2/valid-messages/final/soapmessage.customrole.soap12.xml", &(struct expect){
	    SOAP_V12, WSA_10, NOTINROLE, "soapenv:mustUnderstand=\"0\">" NOTINROLE, NOTINROLE,
	    NOTINROLE, NOTINROLE, NOTINROLE, NOTINROLE, 8, AXIS_BODY_NS, "getBalance" });
}

static void
test_valid_submission(void)
{
	check_ok("axis2/valid-messages/submission/soapmessage.xml", &(struct expect){
	    SOAP_V11, WSA_2004, AXIS_MSGID, AXIS_TO, AXIS_ACTION, AXIS_REPLY, AXIS_FAULT,
	    WSA2004_ANONYMOUS, "http://some.previous.message", 8, AXIS_BODY_NS, "getBalance" });
}

static void
test_valid_submission_customrole(void)
{
	check_ok("axis2/valid-messages/submission/soapmessage.customrole.xml", &(struct expect){
	    SOAP_V11, WSA_2004, NOTINROLE, "soapenv:mustUnderstand=\"0\">" NOTINROLE, NOTINROLE,
	    NOTINROLE, NOTINROLE, NOTINROLE, NOTINROLE, 8, AXIS_BODY_NS, "getBalance" });
}

/* ------------------------------------------------------------------------
 * axis2/invalid-cardinality-messages
 * ------------------------------------------------------------------------ */

#define CARD_FINAL "axis2/invalid-cardinality-messages/final/invalidCardinality"
#define CARD_SUB "axis2/invalid-cardinality-messages/submission/invalidCardinality"

static void
test_card_final_action(void)
{
	check_card10(CARD_FINAL "ActionMessage.xml", "Action");
}

static void
test_card_final_faultto(void)
{
	check_card10(CARD_FINAL "FaultToMessage.xml", "FaultTo");
}

static void
test_card_final_from(void)
{
	check_card10(CARD_FINAL "FromMessage.xml", "From");
}

/* The first MessageID stays readable, for the fault's RelatesTo. */
static void
test_card_final_messageid(void)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_fixture(CARD_FINAL "MessageIDMessage.xml", &env, &f);

	check_fault_of("MessageID", rc, &f, &(struct expect_fault){ FAULT_SENDER, NS_WSA10,
	    "InvalidAddressingHeader", "InvalidCardinality", NS_WSA10, "MessageID" });
	CU_ASSERT(same("MessageID", env.message_id, AXIS_MSGID));
	CU_ASSERT_EQUAL(env.wsa, WSA_10);
	envelope_clear(&env);
}

static void
test_card_final_replyto(void)
{
	check_card10(CARD_FINAL "ReplyToMessage.xml", "ReplyTo");
}

static void
test_card_final_to(void)
{
	check_card10(CARD_FINAL "ToMessage.xml", "To");
}

/* The submission has its own fault subcode and no InvalidCardinality. */
static void
check_card_sub(const char *rel, const char *header)
{
	check_fixture_fault(rel, &(struct expect_fault){ FAULT_SENDER, NS_WSA2004,
	    "InvalidMessageInformationHeader", NULL, NS_WSA2004, header });
}

static void
test_card_sub_action(void)
{
	check_card_sub(CARD_SUB "ActionMessage.xml", "Action");
}

static void
test_card_sub_faultto(void)
{
	check_card_sub(CARD_SUB "FaultToMessage.xml", "FaultTo");
}

static void
test_card_sub_from(void)
{
	check_card_sub(CARD_SUB "FromMessage.xml", "From");
}

static void
test_card_sub_messageid(void)
{
	check_card_sub(CARD_SUB "MessageIDMessage.xml", "MessageID");
}

static void
test_card_sub_replyto(void)
{
	check_card_sub(CARD_SUB "ReplyToMessage.xml", "ReplyTo");
}

static void
test_card_sub_to(void)
{
	check_card_sub(CARD_SUB "ToMessage.xml", "To");
}

/* ------------------------------------------------------------------------
 * axis2/omitted-header-messages
 * ------------------------------------------------------------------------ */

#define OMIT_FINAL "axis2/omitted-header-messages/final/"
#define OMIT_SUB "axis2/omitted-header-messages/submission/"

static void
check_required(const char *rel, enum wsa_version v, const char *header)
{
	if (v == WSA_10)
		check_fixture_fault(rel, &(struct expect_fault){ FAULT_SENDER, NS_WSA10,
		    "MessageAddressingHeaderRequired", NULL, NS_WSA10, header });
	else
		check_fixture_fault(rel, &(struct expect_fault){ FAULT_SENDER, NS_WSA2004,
		    "MessageInformationHeaderRequired", NULL, NS_WSA2004, header });
}

static void
test_omit_final_action(void)
{
	check_required(OMIT_FINAL "noActionMessage.xml", WSA_10, "Action");
}

static void
test_omit_final_messageid(void)
{
	check_required(OMIT_FINAL "noMessageIDMessage.xml", WSA_10, "MessageID");
}

static void
test_omit_final_faultto(void)
{
	check_ok(OMIT_FINAL "noFaultToMessage.xml", &(struct expect){
	    SOAP_V11, WSA_10, AXIS_MSGID, AXIS_TO, AXIS_ACTION, AXIS_REPLY, NULL,
	    WSA10_ANONYMOUS, NULL, 7, AXIS_BODY_NS, "getBalance" });
}

static void
test_omit_final_from(void)
{
	check_ok(OMIT_FINAL "noFromMessage.xml", &(struct expect){
	    SOAP_V11, WSA_10, AXIS_MSGID, AXIS_TO, AXIS_ACTION, AXIS_REPLY, AXIS_FAULT,
	    NULL, NULL, 7, AXIS_BODY_NS, "getBalance" });
}

static void
test_omit_final_replyto(void)
{
	check_ok(OMIT_FINAL "noReplyToMessage.xml", &(struct expect){
	    SOAP_V11, WSA_10, AXIS_MSGID, AXIS_TO, AXIS_ACTION, NULL, AXIS_FAULT,
	    WSA10_ANONYMOUS, NULL, 7, AXIS_BODY_NS, "getBalance" });
}

/* wsa:To is optional in WS-Addressing 1.0: anonymous is implied. */
static void
test_omit_final_to(void)
{
	check_ok(OMIT_FINAL "noToMessage.xml", &(struct expect){
	    SOAP_V11, WSA_10, AXIS_MSGID, NULL, AXIS_ACTION, AXIS_REPLY, AXIS_FAULT,
	    WSA10_ANONYMOUS, NULL, 5, AXIS_BODY_NS, "getBalance" });
}

static void
test_omit_sub_action(void)
{
	check_required(OMIT_SUB "noActionMessage.xml", WSA_2004, "Action");
}

static void
test_omit_sub_messageid(void)
{
	check_required(OMIT_SUB "noMessageIDMessage.xml", WSA_2004, "MessageID");
}

static void
test_omit_sub_messageid_replyto_faultto(void)
{
	check_required(OMIT_SUB "noMessageIDNoReplyToNoFaultToMessage.xml", WSA_2004,
	    "MessageID");
}

/* The submission requires wsa:To. */
static void
test_omit_sub_to(void)
{
	check_required(OMIT_SUB "noToMessage.xml", WSA_2004, "To");
}

static void
test_omit_sub_faultto(void)
{
	check_ok(OMIT_SUB "noFaultToMessage.xml", &(struct expect){
	    SOAP_V11, WSA_2004, AXIS_MSGID, AXIS_TO, AXIS_ACTION, AXIS_REPLY, NULL,
	    WSA2004_ANONYMOUS, NULL, 7, AXIS_BODY_NS, "getBalance" });
}

static void
test_omit_sub_from(void)
{
	check_ok(OMIT_SUB "noFromMessage.xml", &(struct expect){
	    SOAP_V11, WSA_2004, AXIS_MSGID, AXIS_TO, AXIS_ACTION, AXIS_REPLY, AXIS_FAULT,
	    NULL, NULL, 7, AXIS_BODY_NS, "getBalance" });
}

static void
test_omit_sub_replyto(void)
{
	check_ok(OMIT_SUB "noReplyToMessage.xml", &(struct expect){
	    SOAP_V11, WSA_2004, AXIS_MSGID, AXIS_TO, AXIS_ACTION, NULL, AXIS_FAULT,
	    WSA2004_ANONYMOUS, NULL, 7, AXIS_BODY_NS, "getBalance" });
}

/* ------------------------------------------------------------------------
 * axis2: mustUnderstand, roles, endpoint references
 * ------------------------------------------------------------------------ */

/* Submission headers with mustUnderstand="1" are understood here. */
static void
test_must_understand_wsa(void)
{
	check_ok("axis2/mustUnderstandTest.xml", &(struct expect){
	    SOAP_V11, WSA_2004, "123456-7890", "http://www.to.org/service/",
	    "http://www.actions.org/action", "http://www.replyTo.org/service/", NULL,
	    "http://www.from.org/service/", "http://www.relatesTo.org/service/", 8, NULL, NULL });
}

/* Every block is for urn:test:role: none is read or counted. */
static void
test_soap11_role(void)
{
	check_ok("axis2/soap11roleTest.xml", &(struct expect){
	    SOAP_V11, WSA_NONE, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL });
}

static void
test_soap12_role(void)
{
	check_ok("axis2/soap12roleTest.xml", &(struct expect){
	    SOAP_V12, WSA_NONE, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL });
}

/* wsa:Reference0..4 are other elements of the WS-Addressing namespace. */
static void
test_epr(void)
{
	check_ok("axis2/eprTest.xml", &(struct expect){
	    SOAP_V11, WSA_2004, "urn:test:123", "http://www.to.org/service/",
	    "http://www.actions.org/action", WSA2004_ANONYMOUS, NULL, NULL, NULL, 9, NULL, NULL });
}

/* ------------------------------------------------------------------------
 * axis2/fault-messages: read as requests, and compared with ours
 * ------------------------------------------------------------------------ */

static void
test_fault_fixture_11_invalid(void)
{
	check_ok("axis2/fault-messages/soap11/InvalidAddressingHeader.xml", &(struct expect){
	    SOAP_V11, WSA_10, "uuid:D1C0B91E-0109-4000-E000-02ACC0A8015E", WSA10_ANONYMOUS,
	    NS_WSA10 "/fault", NULL, NULL, NULL, "urn:uuid:9a35afc8-7be6-4a41-ba64-92a44f73a3d7",
	    5, NS_SOAP11, "Fault" });
}

static void
test_fault_fixture_11_required(void)
{
	check_ok("axis2/fault-messages/soap11/MessageAddressingHeaderRequired.xml",
	    &(struct expect){ SOAP_V11, WSA_10, "uuid:D1C0C3DF-0109-4000-E000-02ACC0A8015E",
	    WSA10_ANONYMOUS, NS_WSA10 "/fault", NULL, NULL, NULL,
	    "urn:uuid:32119abf-94c4-48e0-bda5-3daaaa90771e", 5, NS_SOAP11, "Fault" });
}

static void
test_fault_fixture_12_invalid(void)
{
	check_ok("axis2/fault-messages/soap12/InvalidAddressingHeader.xml", &(struct expect){
	    SOAP_V12, WSA_10, "uuid:D1C0C55C-0109-4000-E000-02ACC0A8015E", WSA10_ANONYMOUS,
	    NS_WSA10 "/fault", NULL, NULL, NULL, "urn:uuid:53eb42ea-b3e5-4e47-991a-61223652e6c8",
	    4, NS_SOAP12, "Fault" });
}

static void
test_fault_fixture_12_required(void)
{
	check_ok("axis2/fault-messages/soap12/MessageAddressingHeaderRequired.xml",
	    &(struct expect){ SOAP_V12, WSA_10, "uuid:D1C0CE6F-0109-4000-E000-02ACC0A8015E",
	    WSA10_ANONYMOUS, NS_WSA10 "/fault", NULL, NULL, NULL,
	    "urn:uuid:c96e0172-c25e-4a6e-a90d-a1fe93e141f0", 4, NS_SOAP12, "Fault" });
}

/* ------------------------------------------------------------------------
 * wsi-bp12 and w3c-interop
 * ------------------------------------------------------------------------ */

/*
 * WS-I BP 1.2 test 1192: WS-Addressing headers with mustUnderstand="1" are
 * understood. Its wsa:FaultTo holds text and no wsa:Address: there is no
 * address to keep, and the message is still accepted.
 */
static void
test_bp12_faultto_mu(void)
{
	check_ok("wsi-bp12/test1192/wsa-faultto-mustunderstand.xml", &(struct expect){
	    SOAP_V11, WSA_10, BP12_MSGID, BP12_TO, BP12_ACTION, WSA10_ANONYMOUS, NULL, NULL,
	    NULL, 5, "http://example.org/echo", "echoIn1" });
}

static void
test_bp12_msgid_mu(void)
{
	check_ok("wsi-bp12/test1192/wsa-msgid-mustunderstand.xml", &(struct expect){
	    SOAP_V11, WSA_10, BP12_MSGID, BP12_TO, BP12_ACTION, WSA10_ANONYMOUS, NULL, NULL,
	    NULL, 5, "http://example.org/echo", "echoIn1" });
}

static void
test_bp12_replyto_mu(void)
{
	check_ok("wsi-bp12/test1192/wsa-replyto-mustunderstand.xml", &(struct expect){
	    SOAP_V11, WSA_10, BP12_MSGID, BP12_TO, BP12_ACTION, WSA10_ANONYMOUS, NULL, NULL,
	    NULL, 5, "http://example.org/echo", "echoIn1" });
}

static void
test_bp12_to_mu(void)
{
	check_ok("wsi-bp12/test1192/wsa-to-mustunderstand.xml", &(struct expect){
	    SOAP_V11, WSA_10, BP12_MSGID, BP12_TO, BP12_ACTION, WSA10_ANONYMOUS, NULL, NULL,
	    NULL, 4, "http://example.org/echo", "echoIn1" });
}

static void
test_bp12_version_mismatch(void)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_fixture("wsi-bp12/test119x/wsa-version-mismatch.xml", &env, &f);

	check_fault_of("version mismatch", rc, &f, &(struct expect_fault){
	    FAULT_VERSION_MISMATCH, NULL, NULL, NULL, NULL, NULL });
	CU_ASSERT_EQUAL(env.soap, SOAP_V11);
	CU_ASSERT(contains(f.reason, "http://schemas.xmlsoap.org/soap/envelopesss/"));
	envelope_clear(&env);
}

static void
test_bp12_without_messageid(void)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_fixture("wsi-bp12/test119x/wsa-without-messageid.xml", &env, &f);

	check_fault_of("no MessageID", rc, &f, &(struct expect_fault){ FAULT_SENDER, NS_WSA10,
	    "MessageAddressingHeaderRequired", NULL, NS_WSA10, "MessageID" });
	CU_ASSERT(same("Action", env.action, BP12_ACTION));
	envelope_clear(&env);
}

/* A WSDL is well-formed XML but no Envelope. */
static void
test_w3c_wsdl_is_not_envelope(void)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_fixture("w3c-interop/wsaTestService.wsdl", &env, &f);

	check_fault_of("wsdl", rc, &f, &(struct expect_fault){ FAULT_SENDER, NULL, NULL, NULL,
	    NULL, NULL });
	CU_ASSERT(contains(f.reason, "{http://schemas.xmlsoap.org/wsdl/}definitions"));
	envelope_clear(&env);
}

/* ------------------------------------------------------------------------
 * Synthetic messages
 * ------------------------------------------------------------------------ */

static void
check_conversation(const char *attr, const char *id, int refparam)
{
	char xml[1024];
	struct envelope env = { 0 };
	struct fault f;
	int rc;

	snprintf(xml, sizeof xml, S11_OPEN "<S:Header>" WSA_MIN
	    "<pc:ConversationID%s>\n\t%s \n</pc:ConversationID></S:Header>" BODY_END, attr, id);
	rc = read_str(xml, NULL, &env, &f);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(same("conversation", env.conversation_id, id));
	CU_ASSERT_EQUAL(env.conversation_refparam, refparam);
	CU_ASSERT_EQUAL(env.header_count, 3);
	CU_ASSERT(same("body", env.body_name, "op"));
	envelope_clear(&env);
}

static void
test_conversation_refparam_true(void)
{
	check_conversation(" wsa:IsReferenceParameter=\"true\"", "c-1", 1);
}

/* "1", and the attribute in the submission namespace, are accepted too. */
static void
test_conversation_refparam_one(void)
{
	check_conversation(" xmlns:w4=\"" NS_WSA2004 "\" w4:IsReferenceParameter=\" 1 \"",
	    "c-2", 1);
}

static void
test_conversation_refparam_absent(void)
{
	check_conversation("", "c-3", 0);
}

static void
test_conversation_refparam_false(void)
{
	check_conversation(" wsa:IsReferenceParameter=\"false\"", "c-4", 0);
}

/* A plain SOAP client may send the conversation without WS-Addressing. */
static void
test_conversation_without_wsa(void)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_str(S11_OPEN "<S:Header><pc:ConversationID>c-5</pc:ConversationID>"
	    "</S:Header>" BODY_END, NULL, &env, &f);

	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(env.wsa, WSA_NONE);
	CU_ASSERT(same("conversation", env.conversation_id, "c-5"));
	CU_ASSERT_EQUAL(env.header_count, 1);
	envelope_clear(&env);
}

static void
test_conversation_duplicated(void)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_str(S11_OPEN "<S:Header><pc:ConversationID>a</pc:ConversationID>"
	    "<pc:ConversationID>b</pc:ConversationID></S:Header>" BODY_END, NULL, &env, &f);

	check_fault_of("duplicated conversation", rc, &f, &(struct expect_fault){ FAULT_SENDER,
	    NS_WSA10, "InvalidAddressingHeader", "InvalidCardinality", NS_PC, "ConversationID" });
	envelope_clear(&env);
}

static void
test_soap12(void)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_str(S12_OPEN "<S:Header>" WSA_MIN "<wsa:To>urn:to</wsa:To>"
	    "<wsa:ReplyTo><wsa:Address>urn:reply</wsa:Address></wsa:ReplyTo></S:Header>"
	    BODY_END, NULL, &env, &f);

	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(env.soap, SOAP_V12);
	CU_ASSERT_EQUAL(env.wsa, WSA_10);
	CU_ASSERT(same("Action", env.action, "urn:act"));
	CU_ASSERT(same("MessageID", env.message_id, "urn:id"));
	CU_ASSERT(same("To", env.to, "urn:to"));
	CU_ASSERT(same("ReplyTo", env.reply_to, "urn:reply"));
	CU_ASSERT_EQUAL(env.header_count, 4);
	CU_ASSERT(same("body ns", env.body_ns, "urn:m"));
	envelope_clear(&env);
}

static void
test_no_header(void)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_str(S11_OPEN BODY_END, NULL, &env, &f);

	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(env.wsa, WSA_NONE);
	CU_ASSERT_EQUAL(env.header_count, 0);
	CU_ASSERT_PTR_NULL(env.action);
	CU_ASSERT(same("body ns", env.body_ns, "urn:m"));
	CU_ASSERT(same("body name", env.body_name, "op"));
	envelope_clear(&env);
}

static void
test_empty_body(void)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_str(S12_OPEN "<S:Body>\n  </S:Body></S:Envelope>", NULL, &env, &f);

	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NULL(env.body_ns);
	CU_ASSERT_PTR_NULL(env.body_name);
	envelope_clear(&env);
}

/* An unqualified body element is allowed; its namespace is "". */
static void
test_unqualified_body(void)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_str(S11_OPEN "<S:Body><op/></S:Body></S:Envelope>", NULL, &env, &f);

	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(same("body ns", env.body_ns, ""));
	CU_ASSERT(same("body name", env.body_name, "op"));
	envelope_clear(&env);
}

static void check_sender(const char *what, const char *xml, const struct envelope_limits *lim,
    const char *reason_part);

/*
 * The whole Body is checked: the service's gSOAP code, which reads it next,
 * lets through what XML forbids (a regression: an item stored with an
 * unpaired surrogate made every later answer of its conversation invalid).
 */
static void
test_body_checked(void)
{
#define OP_OPEN S11_OPEN "<S:Body><m:op xmlns:m=\"urn:m\">"
#define OP_CLOSE "</m:op></S:Body></S:Envelope>"
	check_sender("tag mismatch", OP_OPEN "<a></b>" OP_CLOSE, NULL,
	    "Opening and ending tag mismatch");
	check_sender("surrogate reference", OP_OPEN "x&#xD800;y" OP_CLOSE, NULL, "malformed XML");
	check_sender("NUL reference", OP_OPEN "&#0;" OP_CLOSE, NULL, "malformed XML");
	check_sender("reference out of Unicode", OP_OPEN "&#x110000;" OP_CLOSE, NULL,
	    "malformed XML");
	check_sender("undeclared entity", OP_OPEN "&nope;" OP_CLOSE, NULL, "nope");
	check_sender("not UTF-8", OP_OPEN "caf\xe9" OP_CLOSE, NULL, "malformed XML");
	check_sender("content after the Envelope", OP_OPEN OP_CLOSE "<extra/>", NULL,
	    "content after the end of the Envelope");
	check_sender("a Header after the Body", OP_OPEN "</m:op></S:Body><S:Header/></S:Envelope>",
	    NULL, "after the Body");
	check_sender("the Body never closes", OP_OPEN "</m:op>", NULL, "premature end of data");
#undef OP_OPEN
#undef OP_CLOSE
}

/* The Header's byte range, which dispatch cuts out before gSOAP reads the rest. */
static void
test_header_range(void)
{
	static const char msg[] = "<?xml version=\"1.0\"?>\n<S:Envelope xmlns:S=\"" NS_SOAP11 "\">"
	    "<S:Header><pc:ConversationID xmlns:pc=\"" NS_PC "\">x</pc:ConversationID>"
	    "</S:Header>\n<S:Body><m:op xmlns:m=\"urn:m\"/></S:Body></S:Envelope>";
	static const char bare[] = "<S:Envelope xmlns:S=\"" NS_SOAP11 "\"><S:Body><m:op "
	    "xmlns:m=\"urn:m\"/></S:Body></S:Envelope>";
	struct envelope env = { 0 };
	struct fault f;
	const char *from = strstr(msg, "<S:Header>");
	const char *to = strstr(msg, "</S:Header>") + strlen("</S:Header>");

	CU_ASSERT_EQUAL_FATAL(read_str(msg, NULL, &env, &f), 0);
	CU_ASSERT_EQUAL(env.header_from, (size_t)(from - msg));
	CU_ASSERT_EQUAL(env.header_to, (size_t)(to - msg));
	envelope_clear(&env);
	CU_ASSERT_EQUAL_FATAL(read_str(bare, NULL, &env, &f), 0);
	CU_ASSERT_EQUAL(env.header_from, 0);
	CU_ASSERT_EQUAL(env.header_to, 0);
	envelope_clear(&env);
}

static void
check_sender(const char *what, const char *xml, const struct envelope_limits *lim,
    const char *reason_part)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_str(xml, lim, &env, &f);

	check_fault_of(what, rc, &f, &(struct expect_fault){ FAULT_SENDER, NULL, NULL, NULL,
	    NULL, NULL });
	if (rc == PARLEY_EFAULT)
		CU_ASSERT(contains(f.reason, reason_part));
	envelope_clear(&env);
}

static void
test_malformed(void)
{
	check_sender("mismatch", S11_OPEN "\n<S:Header>\n<x:a xmlns:x=\"urn:x\"></x:b>\n"
	    "</S:Header>" BODY_END, NULL, "malformed XML at line 3: Opening and ending tag "
	    "mismatch");
	check_sender("empty", "", NULL, "malformed XML at line 1: the document is empty");
	check_sender("blank", " \n", NULL, "the document is empty");
	check_sender("truncated", S11_OPEN "\n<S:Header>", NULL,
	    "malformed XML at line 2: premature end of data");
	check_sender("truncated value", S11_OPEN "<S:Header><wsa:Action>urn:a", NULL,
	    "premature end of data");
	check_sender("undefined prefix", S11_OPEN "<S:Header><q:a/></S:Header>" BODY_END, NULL,
	    "Namespace prefix q");
}

static void
test_doctype(void)
{
	check_sender("doctype", "<?xml version=\"1.0\"?>\n<!DOCTYPE S:Envelope [\n"
	    "<!ENTITY x \"y\">]>" S11_OPEN BODY_END, NULL,
	    "DTDs are not allowed in SOAP messages");
	check_sender("external", "<!DOCTYPE S:Envelope SYSTEM \"file:///etc/passwd\">"
	    S11_OPEN BODY_END, NULL, "DTDs are not allowed");
}

/*
 * Billion laughs: the DOCTYPE is refused before its declarations are read,
 * so no entity is declared, let alone expanded; without a DTD an entity
 * reference is an error.
 */
static void
test_billion_laughs(void)
{
	check_sender("laughs", "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n"
	    "<!ENTITY lol \"lol\">\n"
	    "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	    "<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
	    "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	    "<!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
	    "<!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
	    "<!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
	    "<!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
	    "<!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
	    "<!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
	    "]>\n" S11_OPEN "<S:Header><wsa:Action>&lol9;</wsa:Action></S:Header>" BODY_END,
	    NULL, "DTDs are not allowed");
	check_sender("undeclared entity", S11_OPEN "<S:Header><wsa:Action>&lol9;</wsa:Action>"
	    "</S:Header>" BODY_END, NULL, "Entity 'lol9' not defined");
}

static void
test_processing_instruction(void)
{
	check_sender("pi", S11_OPEN "<?evil data?>" BODY_END, NULL,
	    "processing instructions are not allowed");
}

static void
test_structure(void)
{
	check_sender("no body", S11_OPEN "<S:Header/></S:Envelope>", NULL, "no Body");
	check_sender("not envelope", "<S:Body xmlns:S=\"" NS_SOAP11 "\"/>", NULL,
	    "not a SOAP Envelope");
	check_sender("stray element", S11_OPEN "<x:y xmlns:x=\"urn:x\"/>" BODY_END, NULL,
	    "unexpected element {urn:x}y");
	check_sender("two headers", S11_OPEN "<S:Header/><S:Header/>" BODY_END, NULL,
	    "second Header");
}

static void
test_unqualified_header(void)
{
	check_sender("unqualified", S11_OPEN "<S:Header><Foo/></S:Header>" BODY_END, NULL,
	    "Foo is not namespace-qualified");
}

static void
test_bad_must_understand_value(void)
{
	check_sender("mU=yes", S11_OPEN "<S:Header><x:Foo xmlns:x=\"urn:x\" "
	    "S:mustUnderstand=\"yes\"/></S:Header>" BODY_END, NULL, "mustUnderstand=\"yes\"");
}

static void
check_must_understand(const char *xml, enum soap_version soap)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_str(xml, NULL, &env, &f);

	check_fault_of("mustUnderstand", rc, &f, &(struct expect_fault){
	    FAULT_MUST_UNDERSTAND, NULL, NULL, NULL, NULL, NULL });
	CU_ASSERT_EQUAL(env.soap, soap);
	CU_ASSERT(same("not understood ns", f.not_understood_ns, "urn:x"));
	CU_ASSERT(same("not understood", f.not_understood, "Foo"));
	CU_ASSERT(contains(f.reason, "header {urn:x}Foo must be understood"));
	envelope_clear(&env);
}

static void
check_ignored(const char *xml, unsigned header_count)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_str(xml, NULL, &env, &f);

	if (rc != 0)
		fprintf(stderr, "\n    unexpected fault: %s\n", f.reason);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(env.header_count, header_count);
	CU_ASSERT(same("Action", env.action, "urn:act"));
	envelope_clear(&env);
}

#define FOO_MU(attrs) "<x:Foo xmlns:x=\"urn:x\" " attrs ">bar</x:Foo>"

static void
test_must_understand_unknown(void)
{
	check_must_understand(S11_OPEN "<S:Header>" WSA_MIN FOO_MU("S:mustUnderstand=\"1\"")
	    "</S:Header>" BODY_END, SOAP_V11);
	check_must_understand(S11_OPEN "<S:Header>" FOO_MU("S:mustUnderstand=\"true\" "
	    "S:actor=\"http://schemas.xmlsoap.org/soap/actor/next\"") "</S:Header>" BODY_END,
	    SOAP_V11);
	check_must_understand(S12_OPEN "<S:Header>" FOO_MU("S:mustUnderstand=\"true\"")
	    "</S:Header>" BODY_END, SOAP_V12);
	check_must_understand(S12_OPEN "<S:Header>" FOO_MU("S:mustUnderstand=\"1\" "
	    "S:role=\"http://www.w3.org/2003/05/soap-envelope/role/next\"") "</S:Header>"
	    BODY_END, SOAP_V12);
	check_must_understand(S12_OPEN "<S:Header>" FOO_MU("S:mustUnderstand=\"1\" "
	    "S:role=\"http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver\"")
	    "</S:Header>" BODY_END, SOAP_V12);
	/* An empty role is taken as no role. */
	check_must_understand(S12_OPEN "<S:Header>" FOO_MU("S:mustUnderstand=\"1\" "
	    "S:role=\"\"") "</S:Header>" BODY_END, SOAP_V12);
}

/* The same header for another role (or none) is skipped, and not counted. */
static void
test_must_understand_other_role(void)
{
	check_ignored(S11_OPEN "<S:Header>" WSA_MIN FOO_MU("S:mustUnderstand=\"1\" "
	    "S:actor=\"urn:other\"") "</S:Header>" BODY_END, 2);
	check_ignored(S12_OPEN "<S:Header>" WSA_MIN FOO_MU("S:mustUnderstand=\"1\" "
	    "S:role=\"http://www.w3.org/2003/05/soap-envelope/role/none\"") "</S:Header>"
	    BODY_END, 2);
	/* SOAP 1.2 has no actor: this block has no role, and is not mandatory. */
	check_ignored(S12_OPEN "<S:Header>" WSA_MIN "<x:Foo xmlns:x=\"urn:x\" xmlns:s11=\""
	    NS_SOAP11 "\" s11:mustUnderstand=\"1\" s11:actor=\"urn:other\"/></S:Header>"
	    BODY_END, 3);
	/* Not mandatory: ignored, but counted. */
	check_ignored(S11_OPEN "<S:Header>" WSA_MIN FOO_MU("S:mustUnderstand=\"0\"")
	    "</S:Header>" BODY_END, 3);
}

/* SOAP processes mustUnderstand before anything else in the headers. */
static void
test_must_understand_first(void)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_str(S11_OPEN "<S:Header>" WSA_MIN "<wsa:MessageID>urn:2</wsa:MessageID>"
	    FOO_MU("S:mustUnderstand=\"1\"") "</S:Header>" BODY_END, NULL, &env, &f);

	CU_ASSERT_EQUAL(rc, PARLEY_EFAULT);
	CU_ASSERT_EQUAL(f.code, FAULT_MUST_UNDERSTAND);
	CU_ASSERT_PTR_NULL(f.subcode);
	envelope_clear(&env);
}

/* Of two WS-Addressing problems, the first in the message is reported. */
static void
test_first_addressing_problem(void)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_str(S11_OPEN "<S:Header>" WSA_MIN "<wsa:To>a</wsa:To><wsa:To>b</wsa:To>"
	    "<wsa:Action>urn:2</wsa:Action></S:Header>" BODY_END, NULL, &env, &f);

	check_fault_of("two problems", rc, &f, &(struct expect_fault){ FAULT_SENDER, NS_WSA10,
	    "InvalidAddressingHeader", "InvalidCardinality", NS_WSA10, "To" });
	envelope_clear(&env);
}

static void
test_mixed_versions(void)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_str(S11_OPEN "<S:Header>" WSA_MIN "<w4:To xmlns:w4=\"" NS_WSA2004 "\">"
	    "urn:to</w4:To></S:Header>" BODY_END, NULL, &env, &f);

	check_fault_of("mixed", rc, &f, &(struct expect_fault){ FAULT_SENDER, NS_WSA10,
	    "InvalidAddressingHeader", NULL, NS_WSA2004, "To" });
	CU_ASSERT(contains(f.reason, "mixes WS-Addressing versions"));
	envelope_clear(&env);
}

/* RelatesTo may repeat; the first is kept. */
static void
test_relates_to_repeats(void)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_str(S11_OPEN "<S:Header>" WSA_MIN "<wsa:RelatesTo>urn:r1</wsa:RelatesTo>"
	    "<wsa:RelatesTo RelationshipType=\"urn:t\">urn:r2</wsa:RelatesTo></S:Header>"
	    BODY_END, NULL, &env, &f);

	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(same("RelatesTo", env.relates_to, "urn:r1"));
	CU_ASSERT_EQUAL(env.header_count, 4);
	envelope_clear(&env);
}

static void
test_escapes_and_cdata(void)
{
	struct envelope env = { 0 };
	struct fault f;
	int rc = read_str(S11_OPEN "<S:Header><wsa:Action>urn:a?x=1&amp;y=&#x32; &lt;z&gt;"
	    "</wsa:Action><wsa:MessageID><![CDATA[ urn:id&<> ]]></wsa:MessageID>"
	    "<wsa:To>\n<!-- note -->urn:to</wsa:To></S:Header>" BODY_END, NULL, &env, &f);

	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(same("Action", env.action, "urn:a?x=1&y=2 <z>"));
	CU_ASSERT(same("MessageID", env.message_id, "urn:id&<>"));
	CU_ASSERT(same("To", env.to, "urn:to"));
	envelope_clear(&env);
}

static void
test_too_many_headers(void)
{
	struct envelope_limits lim = { 2, 0, 0 };
	struct envelope env = { 0 };
	struct fault f;
	const char *ok = S11_OPEN "<S:Header>" WSA_MIN FOO_MU("S:actor=\"urn:o\"")
	    "</S:Header>" BODY_END;

	check_sender("3 headers", S11_OPEN "<S:Header>" WSA_MIN "<wsa:To>u</wsa:To>"
	    "</S:Header>" BODY_END, &lim, "this node accepts at most 2 (max_headers)");
	/* Blocks for other roles do not count. */
	CU_ASSERT_EQUAL(read_str(ok, &lim, &env, &f), 0);
	envelope_clear(&env);
}

static void
test_too_deep(void)
{
	struct envelope_limits lim = { 0, 6, 0 };
	struct envelope env = { 0 };
	struct fault f;
	const char *six = S11_OPEN "<S:Header>" WSA_MIN "<x:a xmlns:x=\"urn:x\"><x:b><x:c>"
	    "<x:d/></x:c></x:b></x:a></S:Header>" BODY_END;

	CU_ASSERT_EQUAL(read_str(six, &lim, &env, &f), 0);
	envelope_clear(&env);
	check_sender("7 deep", S11_OPEN "<S:Header>" WSA_MIN "<x:a xmlns:x=\"urn:x\"><x:b><x:c>"
	    "<x:d><x:e/></x:d></x:c></x:b></x:a></S:Header>" BODY_END, &lim,
	    "more than 6 deep (max_depth)");
	/* The default limit, 64. */
	{
		struct buf b = BUF_INIT;
		int i;

		buf_puts(&b, S11_OPEN "<S:Header>" WSA_MIN "<x:a xmlns:x=\"urn:x\">");
		for (i = 0; i < 70; i++)
			buf_puts(&b, "<x:a>");
		for (i = 0; i < 70; i++)
			buf_puts(&b, "</x:a>");
		buf_puts(&b, "</x:a></S:Header>" BODY_END);
		check_sender("73 deep", b.data, NULL, "more than 64 deep");
		buf_free(&b);
	}
}

static void
test_value_limit(void)
{
	struct envelope_limits lim = { 0, 0, 16 };
	struct envelope env = { 0 };
	struct fault f;

	CU_ASSERT_EQUAL(read_str(S11_OPEN "<S:Header><wsa:Action>urn:act</wsa:Action>"
	    "<wsa:MessageID>urn:0123456789ab</wsa:MessageID></S:Header>" BODY_END, &lim,
	    &env, &f), 0);
	CU_ASSERT(same("MessageID", env.message_id, "urn:0123456789ab"));
	envelope_clear(&env);
	check_sender("17 bytes", S11_OPEN "<S:Header><wsa:Action>urn:act</wsa:Action>"
	    "<wsa:MessageID>urn:0123456789abc</wsa:MessageID></S:Header>" BODY_END, &lim,
	    "wsa:MessageID is longer than 16 bytes (max_value)");
	check_sender("address", S11_OPEN "<S:Header>" WSA_MIN "<wsa:ReplyTo><wsa:Address>"
	    "http://example.com/reply</wsa:Address></wsa:ReplyTo></S:Header>" BODY_END, &lim,
	    "wsa:ReplyTo is longer than 16 bytes");
}

/* Regression guard: values and bodies that cross the parser's 64 KiB slices. */
static void
test_large_message(void)
{
	struct envelope_limits lim = { 0, 0, 200000 };
	struct envelope env = { 0 };
	struct fault f;
	struct buf b = BUF_INIT;
	size_t i;
	int rc;

	buf_puts(&b, S11_OPEN "<S:Header>" WSA_MIN "<wsa:To>");
	for (i = 0; i < 100000; i++)
		buf_puts(&b, "t");
	buf_puts(&b, "</wsa:To></S:Header><S:Body><m:op xmlns:m=\"urn:m\">");
	for (i = 0; i < 50000; i++)
		buf_puts(&b, "<v>12345</v>");
	buf_puts(&b, "</m:op></S:Body></S:Envelope>");
	rc = envelope_read(b.data, b.len, &lim, &env, &f);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(env.to);
	if (env.to != NULL)
		CU_ASSERT_EQUAL(strlen(env.to), 100000);
	CU_ASSERT(same("body", env.body_name, "op"));
	envelope_clear(&env);
	buf_free(&b);
}

struct worker {
	const char *data;
	size_t len;
	int failures;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < 200; i++) {
		struct envelope env = { 0 };
		struct fault f;

		if (envelope_read(w->data, w->len, NULL, &env, &f) != 0 ||
		    env.message_id == NULL || strcmp(env.message_id, AXIS_MSGID) != 0)
			w->failures++;
		envelope_clear(&env);
	}
	return NULL;
}

/* Worker threads read envelopes at the same time. */
static void
test_threads(void)
{
	struct worker w[4];
	pthread_t t[4];
	size_t len;
	char *data = slurp("axis2/valid-messages/final/soapmessage.xml", &len);
	int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	for (i = 0; i < 4; i++) {
		w[i] = (struct worker){ data, len, 0 };
		CU_ASSERT_EQUAL(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CU_ASSERT_EQUAL(w[i].failures, 0);
	}
	free(data);
}

/* ------------------------------------------------------------------------
 * Writers
 * ------------------------------------------------------------------------ */

/* Read a small request into env; the caller clears it. */
static void
request(const char *xml, struct envelope *env)
{
	struct fault f;

	CU_ASSERT_EQUAL(read_str(xml, NULL, env, &f), 0);
}

#define REQ10 S11_OPEN "<S:Header>" WSA_MIN "</S:Header>" BODY_END
#define REQ2004 S11_OPEN "<S:Header><w:Action xmlns:w=\"" NS_WSA2004 "\">urn:act</w:Action>" \
	"<w:MessageID xmlns:w=\"" NS_WSA2004 "\">urn:id</w:MessageID>" \
	"<w:To xmlns:w=\"" NS_WSA2004 "\">urn:to</w:To></S:Header>" BODY_END

static void
test_reply_headers_wsa10(void)
{
	struct envelope req = { 0 };
	struct buf out = BUF_INIT;

	request(REQ10, &req);
	CU_ASSERT_EQUAL(envelope_write_reply_headers(&out, &req, "urn:reply", "c-1"), 0);
	CU_ASSERT(same("reply headers", out.data, "<SOAP-ENV:Header>"
	    "<wsa:Action xmlns:wsa=\"" NS_WSA10 "\">urn:reply</wsa:Action>"
	    "<wsa:RelatesTo xmlns:wsa=\"" NS_WSA10 "\">urn:id</wsa:RelatesTo>"
	    "<pc:ConversationID xmlns:pc=\"" NS_PC "\">c-1</pc:ConversationID>"
	    "</SOAP-ENV:Header>"));
	buf_free(&out);
	envelope_clear(&req);
}

static void
test_reply_headers_wsa10_without_id(void)
{
	struct envelope req = { 0 };
	struct buf out = BUF_INIT;

	request(REQ10, &req);
	req.message_id = NULL;
	CU_ASSERT_EQUAL(envelope_write_reply_headers(&out, &req, "urn:reply", NULL), 0);
	CU_ASSERT(same("reply headers", out.data, "<SOAP-ENV:Header>"
	    "<wsa:Action xmlns:wsa=\"" NS_WSA10 "\">urn:reply</wsa:Action>"
	    "<wsa:RelatesTo xmlns:wsa=\"" NS_WSA10 "\">" NS_WSA10 "/unspecified</wsa:RelatesTo>"
	    "</SOAP-ENV:Header>"));
	buf_free(&out);
	envelope_clear(&req);
}

static void
test_reply_headers_submission(void)
{
	struct envelope req = { 0 };
	struct buf out = BUF_INIT;

	request(REQ2004, &req);
	CU_ASSERT_EQUAL(envelope_write_reply_headers(&out, &req, "urn:reply", NULL), 0);
	CU_ASSERT(same("reply headers", out.data, "<SOAP-ENV:Header>"
	    "<wsa:Action xmlns:wsa=\"" NS_WSA2004 "\">urn:reply</wsa:Action>"
	    "<wsa:RelatesTo xmlns:wsa=\"" NS_WSA2004 "\">urn:id</wsa:RelatesTo>"
	    "</SOAP-ENV:Header>"));
	/* Without a MessageID the submission has nothing to relate to. */
	buf_reset(&out);
	req.message_id = NULL;
	CU_ASSERT_EQUAL(envelope_write_reply_headers(&out, &req, "urn:reply", NULL), 0);
	CU_ASSERT(same("reply headers", out.data, "<SOAP-ENV:Header>"
	    "<wsa:Action xmlns:wsa=\"" NS_WSA2004 "\">urn:reply</wsa:Action>"
	    "</SOAP-ENV:Header>"));
	buf_free(&out);
	envelope_clear(&req);
}

/* Plain SOAP clients get no WS-Addressing headers, and no empty Header. */
static void
test_reply_headers_plain(void)
{
	struct envelope req = { 0 };
	struct buf out = BUF_INIT;

	request(S11_OPEN BODY_END, &req);
	CU_ASSERT_EQUAL(envelope_write_reply_headers(&out, &req, "urn:reply", "c-9"), 0);
	CU_ASSERT(same("reply headers", out.data, "<SOAP-ENV:Header>"
	    "<pc:ConversationID xmlns:pc=\"" NS_PC "\">c-9</pc:ConversationID>"
	    "</SOAP-ENV:Header>"));
	buf_reset(&out);
	buf_puts(&out, "before");
	CU_ASSERT_EQUAL(envelope_write_reply_headers(&out, &req, "urn:reply", NULL), 0);
	CU_ASSERT(same("nothing", out.data, "before"));
	CU_ASSERT_EQUAL(out.len, 6);
	buf_reset(&out);
	CU_ASSERT_EQUAL(envelope_write_reply_headers(&out, NULL, "urn:reply", NULL), 0);
	CU_ASSERT_EQUAL(out.len, 0);
	buf_free(&out);
	envelope_clear(&req);
}

/* ---- DOM helpers for reading written documents back ---- */

static xmlNodePtr
child(xmlNodePtr parent, const char *ns, const char *name)
{
	xmlNodePtr c;

	if (parent == NULL)
		return NULL;
	for (c = parent->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, name) != 0)
			continue;
		if (ns == NULL ? c->ns == NULL :
		    c->ns != NULL && strcmp((const char *)c->ns->href, ns) == 0)
			return c;
	}
	return NULL;
}

/* The trimmed text of node into out ("" when node is NULL). */
static const char *
text(xmlNodePtr node, char *out, size_t size)
{
	xmlChar *s;
	const char *p;
	size_t n;

	out[0] = '\0';
	if (node == NULL || (s = xmlNodeGetContent(node)) == NULL)
		return out;
	for (p = (const char *)s; *p == ' ' || *p == '\n' || *p == '\t'; p++)
		continue;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\n' || p[n - 1] == '\t'))
		n--;
	snprintf(out, size, "%.*s", (int)n, p);
	xmlFree(s);
	return out;
}

/* Resolve the QName q in the scope of node to "{ns}local" in out. */
static const char *
resolve(xmlDocPtr doc, xmlNodePtr node, const char *q, char *out, size_t size)
{
	const char *colon = strchr(q, ':');
	char prefix[64];
	xmlNsPtr ns;

	if (colon == NULL) {
		ns = xmlSearchNs(doc, node, NULL);
		snprintf(out, size, "{%s}%s", ns ? (const char *)ns->href : "", q);
		return out;
	}
	snprintf(prefix, sizeof prefix, "%.*s", (int)(colon - q), q);
	ns = xmlSearchNs(doc, node, (const xmlChar *)prefix);
	snprintf(out, size, "{%s}%s", ns ? (const char *)ns->href : "?unbound?", colon + 1);
	return out;
}

/* The QName in node's text, resolved. */
static const char *
qname_text(xmlDocPtr doc, xmlNodePtr node, char *out, size_t size)
{
	char t[512];

	if (node == NULL) {
		snprintf(out, size, "(missing)");
		return out;
	}
	return resolve(doc, node, text(node, t, sizeof t), out, size);
}

static xmlDocPtr
parse(const struct buf *b)
{
	xmlDocPtr doc;

	CU_ASSERT_PTR_NOT_NULL(b->data);
	if (b->data == NULL)
		return NULL;
	doc = xmlReadMemory(b->data, (int)b->len, NULL, NULL, XML_PARSE_NONET);
	if (doc == NULL)
		fprintf(stderr, "\n    not well-formed: %s\n", b->data);
	CU_ASSERT_PTR_NOT_NULL(doc);
	return doc;
}

static xmlNodePtr
envelope_of(xmlDocPtr doc, const char *soap_ns)
{
	xmlNodePtr root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;

	CU_ASSERT_PTR_NOT_NULL(root);
	if (root == NULL)
		return NULL;
	CU_ASSERT_STRING_EQUAL(root->name, "Envelope");
	CU_ASSERT(root->ns != NULL && strcmp((const char *)root->ns->href, soap_ns) == 0);
	return root;
}

/* Escaping: the values read back from a written document are the originals. */
static void
test_reply_headers_escaped(void)
{
	static const char action[] = "urn:a?x=1&y=<2>";
	static const char conv[] = "\"c'&<id>";
	struct envelope req = { 0 };
	struct buf out = BUF_INIT;
	xmlDocPtr doc;
	xmlNodePtr h;
	char t[256];

	request(REQ10, &req);
	buf_puts(&out, "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"" NS_SOAP11 "\">");
	CU_ASSERT_EQUAL(envelope_write_reply_headers(&out, &req, action, conv), 0);
	CU_ASSERT(contains(out.data, "urn:a?x=1&amp;y=&lt;2&gt;"));
	CU_ASSERT(contains(out.data, "&quot;c&apos;&amp;&lt;id&gt;"));
	buf_puts(&out, "<SOAP-ENV:Body/></SOAP-ENV:Envelope>");
	doc = parse(&out);
	h = child(envelope_of(doc, NS_SOAP11), NS_SOAP11, "Header");
	CU_ASSERT(same("Action", text(child(h, NS_WSA10, "Action"), t, sizeof t), action));
	CU_ASSERT(same("conversation", text(child(h, NS_PC, "ConversationID"), t, sizeof t),
	    conv));
	xmlFreeDoc(doc);
	buf_free(&out);
	envelope_clear(&req);
}

static struct fault
cardinality_fault(void)
{
	struct fault f;

	fault_set(&f, FAULT_SENDER, NS_WSA10, "InvalidAddressingHeader",
	    "the message has more than one wsa:MessageID header & <that> is wrong");
	f.subsubcode = "InvalidCardinality";
	f.problem_header_ns = NS_WSA10;
	f.problem_header = "MessageID";
	return f;
}

static void
test_fault11_wsa(void)
{
	struct envelope req = { 0 };
	struct fault f = cardinality_fault();
	struct buf out = BUF_INIT;
	xmlDocPtr doc;
	xmlNodePtr env, h, fault, fd;
	char t[600], q[600];

	request(REQ10, &req);
	CU_ASSERT_EQUAL(envelope_write_fault(&out, SOAP_V11, &req, "c-1", &f), 0);
	CU_ASSERT(strncmp(out.data, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 38) == 0);
	doc = parse(&out);
	env = envelope_of(doc, NS_SOAP11);
	h = child(env, NS_SOAP11, "Header");
	CU_ASSERT(same("Action", text(child(h, NS_WSA10, "Action"), t, sizeof t),
	    NS_WSA10 "/fault"));
	CU_ASSERT(same("RelatesTo", text(child(h, NS_WSA10, "RelatesTo"), t, sizeof t),
	    "urn:id"));
	CU_ASSERT(same("conversation", text(child(h, NS_PC, "ConversationID"), t, sizeof t),
	    "c-1"));
	fd = child(child(h, NS_WSA10, "FaultDetail"), NS_WSA10, "ProblemHeaderQName");
	CU_ASSERT(same("FaultDetail", qname_text(doc, fd, q, sizeof q),
	    "{" NS_WSA10 "}MessageID"));
	fault = child(child(env, NS_SOAP11, "Body"), NS_SOAP11, "Fault");
	CU_ASSERT_PTR_NOT_NULL(fault);
	CU_ASSERT(same("faultcode", qname_text(doc, child(fault, NULL, "faultcode"), q,
	    sizeof q), "{" NS_WSA10 "}InvalidAddressingHeader"));
	CU_ASSERT(same("faultstring", text(child(fault, NULL, "faultstring"), t, sizeof t),
	    "the message has more than one wsa:MessageID header & <that> is wrong "
	    "(InvalidCardinality)"));
	/* SOAP 1.1 keeps detail for the Body: the header problem went to FaultDetail. */
	CU_ASSERT_PTR_NULL(child(fault, NULL, "detail"));
	xmlFreeDoc(doc);
	buf_free(&out);
	envelope_clear(&req);
}

static void
test_fault12_wsa(void)
{
	struct envelope req = { 0 };
	struct fault f = cardinality_fault();
	struct buf out = BUF_INIT;
	xmlDocPtr doc;
	xmlNodePtr env, h, fault, code, sub, text_node;
	char t[600], q[600];
	xmlChar *lang;

	request(REQ10, &req);
	CU_ASSERT_EQUAL(envelope_write_fault(&out, SOAP_V12, &req, NULL, &f), 0);
	doc = parse(&out);
	env = envelope_of(doc, NS_SOAP12);
	h = child(env, NS_SOAP12, "Header");
	CU_ASSERT(same("Action", text(child(h, NS_WSA10, "Action"), t, sizeof t),
	    NS_WSA10 "/fault"));
	CU_ASSERT_PTR_NULL(child(h, NS_WSA10, "FaultDetail"));
	CU_ASSERT_PTR_NULL(child(h, NS_PC, "ConversationID"));
	fault = child(child(env, NS_SOAP12, "Body"), NS_SOAP12, "Fault");
	code = child(fault, NS_SOAP12, "Code");
	CU_ASSERT(same("Code", qname_text(doc, child(code, NS_SOAP12, "Value"), q, sizeof q),
	    "{" NS_SOAP12 "}Sender"));
	sub = child(code, NS_SOAP12, "Subcode");
	CU_ASSERT(same("Subcode", qname_text(doc, child(sub, NS_SOAP12, "Value"), q, sizeof q),
	    "{" NS_WSA10 "}InvalidAddressingHeader"));
	sub = child(sub, NS_SOAP12, "Subcode");
	CU_ASSERT(same("Subsubcode", qname_text(doc, child(sub, NS_SOAP12, "Value"), q,
	    sizeof q), "{" NS_WSA10 "}InvalidCardinality"));
	text_node = child(child(fault, NS_SOAP12, "Reason"), NS_SOAP12, "Text");
	CU_ASSERT(same("Reason", text(text_node, t, sizeof t), f.reason));
	lang = text_node != NULL ? xmlNodeGetLang(text_node) : NULL;
	CU_ASSERT(same("xml:lang", (const char *)lang, "en"));
	xmlFree(lang);
	CU_ASSERT(same("Detail", qname_text(doc, child(child(fault, NS_SOAP12, "Detail"),
	    NS_WSA10, "ProblemHeaderQName"), q, sizeof q), "{" NS_WSA10 "}MessageID"));
	xmlFreeDoc(doc);
	buf_free(&out);
	envelope_clear(&req);
}

/* A fault read from a request is written back: MustUnderstand in SOAP 1.2. */
static void
test_fault12_must_understand(void)
{
	struct envelope req = { 0 };
	struct fault f;
	struct buf out = BUF_INIT;
	xmlDocPtr doc;
	xmlNodePtr env, h, nu, code;
	xmlChar *qn;
	char t[600], q[600];

	CU_ASSERT_EQUAL(read_str(S12_OPEN "<S:Header>" WSA_MIN FOO_MU("S:mustUnderstand=\"1\"")
	    "</S:Header>" BODY_END, NULL, &req, &f), PARLEY_EFAULT);
	CU_ASSERT_EQUAL(envelope_write_fault(&out, req.soap, &req, NULL, &f), 0);
	CU_ASSERT_EQUAL(fault_http_status(req.soap, &f), 500);
	doc = parse(&out);
	env = envelope_of(doc, NS_SOAP12);
	h = child(env, NS_SOAP12, "Header");
	CU_ASSERT(same("Action", text(child(h, NS_WSA10, "Action"), t, sizeof t),
	    NS_WSA10 "/soap/fault"));
	CU_ASSERT(same("RelatesTo", text(child(h, NS_WSA10, "RelatesTo"), t, sizeof t),
	    "urn:id"));
	nu = child(h, NS_SOAP12, "NotUnderstood");
	CU_ASSERT_PTR_NOT_NULL(nu);
	qn = nu != NULL ? xmlGetProp(nu, (const xmlChar *)"qname") : NULL;
	CU_ASSERT_PTR_NOT_NULL(qn);
	if (qn != NULL)
		CU_ASSERT(same("NotUnderstood", resolve(doc, nu, (const char *)qn, q, sizeof q),
		    "{urn:x}Foo"));
	xmlFree(qn);
	code = child(child(child(env, NS_SOAP12, "Body"), NS_SOAP12, "Fault"), NS_SOAP12, "Code");
	CU_ASSERT(same("Code", qname_text(doc, child(code, NS_SOAP12, "Value"), q, sizeof q),
	    "{" NS_SOAP12 "}MustUnderstand"));
	CU_ASSERT_PTR_NULL(child(code, NS_SOAP12, "Subcode"));
	xmlFreeDoc(doc);
	buf_free(&out);
	envelope_clear(&req);
}

/* A request that could not be read: no headers at all, SOAP-ENV:Client. */
static void
test_fault11_plain(void)
{
	struct fault f;
	struct buf out = BUF_INIT;
	xmlDocPtr doc;
	xmlNodePtr env, fault;
	char t[600], q[600];

	fault_set(&f, FAULT_SENDER, NULL, NULL, "malformed XML at line %d: %s", 3, "oops");
	CU_ASSERT_EQUAL(envelope_write_fault(&out, SOAP_V11, NULL, NULL, &f), 0);
	doc = parse(&out);
	env = envelope_of(doc, NS_SOAP11);
	CU_ASSERT_PTR_NULL(child(env, NS_SOAP11, "Header"));
	fault = child(child(env, NS_SOAP11, "Body"), NS_SOAP11, "Fault");
	CU_ASSERT(same("faultcode", qname_text(doc, child(fault, NULL, "faultcode"), q,
	    sizeof q), "{" NS_SOAP11 "}Client"));
	CU_ASSERT(same("faultstring", text(child(fault, NULL, "faultstring"), t, sizeof t),
	    "malformed XML at line 3: oops"));
	xmlFreeDoc(doc);
	buf_free(&out);
}

static void
test_fault_version_mismatch(void)
{
	struct envelope req = { 0 };
	struct fault f;
	struct buf out = BUF_INIT;
	xmlDocPtr doc;
	xmlNodePtr env, up, se;
	xmlChar *qn;
	char q[600];
	int found11 = 0, found12 = 0;

	CU_ASSERT_EQUAL(read_fixture("wsi-bp12/test119x/wsa-version-mismatch.xml", &req, &f),
	    PARLEY_EFAULT);
	CU_ASSERT_EQUAL(envelope_write_fault(&out, req.soap, &req, NULL, &f), 0);
	CU_ASSERT_EQUAL(fault_http_status(req.soap, &f), 500);
	doc = parse(&out);
	env = envelope_of(doc, NS_SOAP11);
	CU_ASSERT(same("faultcode", qname_text(doc, child(child(child(env, NS_SOAP11, "Body"),
	    NS_SOAP11, "Fault"), NULL, "faultcode"), q, sizeof q), "{" NS_SOAP11
	    "}VersionMismatch"));
	up = child(child(env, NS_SOAP11, "Header"), NS_SOAP12, "Upgrade");
	CU_ASSERT_PTR_NOT_NULL(up);
	for (se = up != NULL ? up->children : NULL; se != NULL; se = se->next) {
		if (se->type != XML_ELEMENT_NODE)
			continue;
		qn = xmlGetProp(se, (const xmlChar *)"qname");
		if (qn != NULL) {
			resolve(doc, se, (const char *)qn, q, sizeof q);
			found11 |= strcmp(q, "{" NS_SOAP11 "}Envelope") == 0;
			found12 |= strcmp(q, "{" NS_SOAP12 "}Envelope") == 0;
		}
		xmlFree(qn);
	}
	CU_ASSERT(found11 && found12);
	xmlFreeDoc(doc);
	buf_free(&out);
	envelope_clear(&req);
}

/* Parley's own subcode, as the container writes for an unknown conversation. */
static void
test_fault11_conversation(void)
{
	struct envelope req = { 0 };
	struct fault f;
	struct buf out = BUF_INIT;
	xmlDocPtr doc;
	xmlNodePtr env, h;
	char t[600], q[600];

	request(REQ10, &req);
	fault_set(&f, FAULT_SENDER, NS_PC, "UnknownConversation", "no conversation %s", "c-7");
	CU_ASSERT_EQUAL(envelope_write_fault(&out, SOAP_V11, &req, "c-7", &f), 0);
	CU_ASSERT(contains(out.data, "<faultcode xmlns:pc=\"" NS_PC "\">pc:UnknownConversation"
	    "</faultcode>"));
	doc = parse(&out);
	env = envelope_of(doc, NS_SOAP11);
	h = child(env, NS_SOAP11, "Header");
	CU_ASSERT(same("Action", text(child(h, NS_WSA10, "Action"), t, sizeof t),
	    NS_WSA10 "/soap/fault"));
	CU_ASSERT(same("faultcode", qname_text(doc, child(child(child(env, NS_SOAP11, "Body"),
	    NS_SOAP11, "Fault"), NULL, "faultcode"), q, sizeof q),
	    "{" NS_PC "}UnknownConversation"));
	xmlFreeDoc(doc);
	buf_free(&out);
	envelope_clear(&req);
}

static void
test_fault12_problem_action(void)
{
	struct envelope req = { 0 };
	struct fault f;
	struct buf out = BUF_INIT;
	xmlDocPtr doc;
	xmlNodePtr env, pa;
	char t[600];

	request(REQ10, &req);
	fault_set(&f, FAULT_SENDER, NS_WSA10, "ActionNotSupported", "no operation for %s",
	    req.action);
	f.problem_action = req.action;
	CU_ASSERT_EQUAL(envelope_write_fault(&out, SOAP_V12, &req, NULL, &f), 0);
	CU_ASSERT_EQUAL(fault_http_status(SOAP_V12, &f), 400);
	doc = parse(&out);
	env = envelope_of(doc, NS_SOAP12);
	pa = child(child(child(child(env, NS_SOAP12, "Body"), NS_SOAP12, "Fault"), NS_SOAP12,
	    "Detail"), NS_WSA10, "ProblemAction");
	CU_ASSERT(same("ProblemAction", text(child(pa, NS_WSA10, "Action"), t, sizeof t),
	    "urn:act"));
	xmlFreeDoc(doc);
	buf_free(&out);
	envelope_clear(&req);
}

/* A submission request is answered in the submission's namespace. */
static void
test_fault12_submission(void)
{
	struct envelope req = { 0 };
	struct fault f;
	struct buf out = BUF_INIT;
	xmlDocPtr doc;
	xmlNodePtr env, h, code, sub;
	char t[600], q[600];
	int rc;

	rc = read_fixture(CARD_SUB "ToMessage.xml", &req, &f);
	CU_ASSERT_EQUAL(rc, PARLEY_EFAULT);
	CU_ASSERT_EQUAL(envelope_write_fault(&out, SOAP_V12, &req, NULL, &f), 0);
	doc = parse(&out);
	env = envelope_of(doc, NS_SOAP12);
	h = child(env, NS_SOAP12, "Header");
	CU_ASSERT(same("Action", text(child(h, NS_WSA2004, "Action"), t, sizeof t),
	    NS_WSA2004 "/fault"));
	CU_ASSERT(same("RelatesTo", text(child(h, NS_WSA2004, "RelatesTo"), t, sizeof t),
	    AXIS_MSGID));
	code = child(child(child(env, NS_SOAP12, "Body"), NS_SOAP12, "Fault"), NS_SOAP12, "Code");
	sub = child(code, NS_SOAP12, "Subcode");
	CU_ASSERT(same("Subcode", qname_text(doc, child(sub, NS_SOAP12, "Value"), q, sizeof q),
	    "{" NS_WSA2004 "}InvalidMessageInformationHeader"));
	CU_ASSERT_PTR_NULL(child(sub, NS_SOAP12, "Subcode"));
	xmlFreeDoc(doc);
	buf_free(&out);
	envelope_clear(&req);
}

/*
 * Our faults against Axis2's examples: the same resolved codes and
 * problem header, wherever the prefixes are.
 */
static void
compare_fault11(const char *rel, const struct fault *f)
{
	struct buf ours = BUF_INIT, theirs = BUF_INIT;
	xmlDocPtr d1, d2;
	xmlNodePtr e1, e2;
	char q1[600], q2[600];
	size_t len;
	char *data = slurp(rel, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	buf_append(&theirs, data, len);
	free(data);
	CU_ASSERT_EQUAL(envelope_write_fault(&ours, SOAP_V11, NULL, NULL, f), 0);
	d1 = parse(&theirs);
	d2 = parse(&ours);
	e1 = envelope_of(d1, NS_SOAP11);
	e2 = envelope_of(d2, NS_SOAP11);
	qname_text(d1, child(child(child(e1, NS_SOAP11, "Body"), NS_SOAP11, "Fault"), NULL,
	    "faultcode"), q1, sizeof q1);
	qname_text(d2, child(child(child(e2, NS_SOAP11, "Body"), NS_SOAP11, "Fault"), NULL,
	    "faultcode"), q2, sizeof q2);
	CU_ASSERT(same(rel, q2, q1));
	qname_text(d1, child(child(child(e1, NS_SOAP11, "Header"), NS_WSA10, "FaultDetail"),
	    NS_WSA10, "ProblemHeaderQName"), q1, sizeof q1);
	qname_text(d2, child(child(child(e2, NS_SOAP11, "Header"), NS_WSA10, "FaultDetail"),
	    NS_WSA10, "ProblemHeaderQName"), q2, sizeof q2);
	CU_ASSERT(same(rel, q2, q1));
	xmlFreeDoc(d1);
	xmlFreeDoc(d2);
	buf_free(&ours);
	buf_free(&theirs);
}

static void
test_fault_shape_axis2_11(void)
{
	struct fault f;

	fault_set(&f, FAULT_SENDER, NS_WSA10, "InvalidAddressingHeader", "bad wsa:To");
	f.problem_header_ns = NS_WSA10;
	f.problem_header = "To";
	compare_fault11("axis2/fault-messages/soap11/InvalidAddressingHeader.xml", &f);
	fault_set(&f, FAULT_SENDER, NS_WSA10, "MessageAddressingHeaderRequired", "no wsa:Action");
	f.problem_header_ns = NS_WSA10;
	f.problem_header = "Action";
	compare_fault11("axis2/fault-messages/soap11/MessageAddressingHeaderRequired.xml", &f);
}

static void
test_fault_shape_axis2_12(void)
{
	struct buf ours = BUF_INIT, theirs = BUF_INIT;
	struct fault f;
	xmlDocPtr d[2];
	xmlNodePtr fault, code;
	char q[2][3][600];
	size_t len;
	char *data = slurp("axis2/fault-messages/soap12/InvalidAddressingHeader.xml", &len);
	int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	buf_append(&theirs, data, len);
	free(data);
	fault_set(&f, FAULT_SENDER, NS_WSA10, "InvalidAddressingHeader", "bad wsa:To");
	f.problem_header_ns = NS_WSA10;
	f.problem_header = "To";
	CU_ASSERT_EQUAL(envelope_write_fault(&ours, SOAP_V12, NULL, NULL, &f), 0);
	d[0] = parse(&theirs);
	d[1] = parse(&ours);
	for (i = 0; i < 2; i++) {
		fault = child(child(envelope_of(d[i], NS_SOAP12), NS_SOAP12, "Body"), NS_SOAP12,
		    "Fault");
		code = child(fault, NS_SOAP12, "Code");
		qname_text(d[i], child(code, NS_SOAP12, "Value"), q[i][0], sizeof q[i][0]);
		qname_text(d[i], child(child(code, NS_SOAP12, "Subcode"), NS_SOAP12, "Value"),
		    q[i][1], sizeof q[i][1]);
		qname_text(d[i], child(child(fault, NS_SOAP12, "Detail"), NS_WSA10,
		    "ProblemHeaderQName"), q[i][2], sizeof q[i][2]);
	}
	CU_ASSERT(same("Code", q[1][0], q[0][0]));
	CU_ASSERT(same("Subcode", q[1][1], q[0][1]));
	CU_ASSERT(same("Detail", q[1][2], q[0][2]));
	CU_ASSERT(same("Detail", q[1][2], "{" NS_WSA10 "}To"));
	xmlFreeDoc(d[0]);
	xmlFreeDoc(d[1]);
	buf_free(&ours);
	buf_free(&theirs);
}

static void
test_fault_reason_escaped(void)
{
	struct fault f;
	struct buf out = BUF_INIT;
	xmlDocPtr doc;
	xmlNodePtr env;
	char t[600];

	fault_set(&f, FAULT_RECEIVER, NULL, NULL, "a <b> & \"c\" ]]> 'd'");
	CU_ASSERT_EQUAL(envelope_write_fault(&out, SOAP_V12, NULL, NULL, &f), 0);
	doc = parse(&out);
	env = envelope_of(doc, NS_SOAP12);
	CU_ASSERT(same("Reason", text(child(child(child(child(env, NS_SOAP12, "Body"),
	    NS_SOAP12, "Fault"), NS_SOAP12, "Reason"), NS_SOAP12, "Text"), t, sizeof t),
	    "a <b> & \"c\" ]]> 'd'"));
	xmlFreeDoc(doc);
	buf_free(&out);
}

static void
test_fault_set(void)
{
	struct fault f;
	char big[700];

	memset(&f, 0x5a, sizeof f);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CU_ASSERT_EQUAL(fault_set(&f, FAULT_RECEIVER, NS_PC, "Busy", "%s", big), PARLEY_EFAULT);
	CU_ASSERT_EQUAL(f.code, FAULT_RECEIVER);
	CU_ASSERT(same("subcode", f.subcode, "Busy"));
	CU_ASSERT_EQUAL(strlen(f.reason), sizeof f.reason - 1);
	CU_ASSERT_PTR_NULL(f.subsubcode);
	CU_ASSERT_PTR_NULL(f.problem_header);
	CU_ASSERT_PTR_NULL(f.problem_action);
	CU_ASSERT_PTR_NULL(f.not_understood);
	CU_ASSERT_EQUAL(f.http_status, 0);
}

static void
test_http_status_and_content_type(void)
{
	struct fault f;

	fault_set(&f, FAULT_SENDER, NULL, NULL, "x");
	CU_ASSERT_EQUAL(fault_http_status(SOAP_V11, &f), 500);
	CU_ASSERT_EQUAL(fault_http_status(SOAP_V12, &f), 400);
	f.code = FAULT_RECEIVER;
	CU_ASSERT_EQUAL(fault_http_status(SOAP_V12, &f), 500);
	f.code = FAULT_VERSION_MISMATCH;
	CU_ASSERT_EQUAL(fault_http_status(SOAP_V12, &f), 500);
	f.code = FAULT_MUST_UNDERSTAND;
	CU_ASSERT_EQUAL(fault_http_status(SOAP_V12, &f), 500);
	f.http_status = 503;
	CU_ASSERT_EQUAL(fault_http_status(SOAP_V11, &f), 503);
	CU_ASSERT_STRING_EQUAL(envelope_content_type(SOAP_V11), "text/xml; charset=utf-8");
	CU_ASSERT_STRING_EQUAL(envelope_content_type(SOAP_V12),
	    "application/soap+xml; charset=utf-8");
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "axis2 valid final", test_valid_final },
		{ "axis2 valid final, custom role", test_valid_final_customrole },
		{ "axis2 valid final, custom role, SOAP 1.2", test_valid_final_customrole12 },
		{ "axis2 valid submission", test_valid_submission },
		{ "axis2 valid submission, custom role", test_valid_submission_customrole },
		{ "axis2 cardinality final Action", test_card_final_action },
		{ "axis2 cardinality final FaultTo", test_card_final_faultto },
		{ "axis2 cardinality final From", test_card_final_from },
		{ "axis2 cardinality final MessageID", test_card_final_messageid },
		{ "axis2 cardinality final ReplyTo", test_card_final_replyto },
		{ "axis2 cardinality final To", test_card_final_to },
		{ "axis2 cardinality submission Action", test_card_sub_action },
		{ "axis2 cardinality submission FaultTo", test_card_sub_faultto },
		{ "axis2 cardinality submission From", test_card_sub_from },
		{ "axis2 cardinality submission MessageID", test_card_sub_messageid },
		{ "axis2 cardinality submission ReplyTo", test_card_sub_replyto },
		{ "axis2 cardinality submission To", test_card_sub_to },
		{ "axis2 omitted final Action", test_omit_final_action },
		{ "axis2 omitted final MessageID", test_omit_final_messageid },
		{ "axis2 omitted final FaultTo", test_omit_final_faultto },
		{ "axis2 omitted final From", test_omit_final_from },
		{ "axis2 omitted final ReplyTo", test_omit_final_replyto },
		{ "axis2 omitted final To", test_omit_final_to },
		{ "axis2 omitted submission Action", test_omit_sub_action },
		{ "axis2 omitted submission MessageID", test_omit_sub_messageid },
		{ "axis2 omitted submission MessageID, ReplyTo, FaultTo",
		    test_omit_sub_messageid_replyto_faultto },
		{ "axis2 omitted submission To", test_omit_sub_to },
		{ "axis2 omitted submission FaultTo", test_omit_sub_faultto },
		{ "axis2 omitted submission From", test_omit_sub_from },
		{ "axis2 omitted submission ReplyTo", test_omit_sub_replyto },
		{ "axis2 mustUnderstand on WS-Addressing headers", test_must_understand_wsa },
		{ "axis2 SOAP 1.1 actor", test_soap11_role },
		{ "axis2 SOAP 1.2 role", test_soap12_role },
		{ "axis2 EPR", test_epr },
		{ "axis2 fault example 1.1 InvalidAddressingHeader", test_fault_fixture_11_invalid },
		{ "axis2 fault example 1.1 HeaderRequired", test_fault_fixture_11_required },
		{ "axis2 fault example 1.2 InvalidAddressingHeader", test_fault_fixture_12_invalid },
		{ "axis2 fault example 1.2 HeaderRequired", test_fault_fixture_12_required },
		{ "BP 1.2 FaultTo mustUnderstand", test_bp12_faultto_mu },
		{ "BP 1.2 MessageID mustUnderstand", test_bp12_msgid_mu },
		{ "BP 1.2 ReplyTo mustUnderstand", test_bp12_replyto_mu },
		{ "BP 1.2 To mustUnderstand", test_bp12_to_mu },
		{ "BP 1.2 version mismatch", test_bp12_version_mismatch },
		{ "BP 1.2 without MessageID", test_bp12_without_messageid },
		{ "W3C interop WSDL is no envelope", test_w3c_wsdl_is_not_envelope },
		{ "conversation, IsReferenceParameter true", test_conversation_refparam_true },
		{ "conversation, IsReferenceParameter 1", test_conversation_refparam_one },
		{ "conversation, no IsReferenceParameter", test_conversation_refparam_absent },
		{ "conversation, IsReferenceParameter false", test_conversation_refparam_false },
		{ "conversation without WS-Addressing", test_conversation_without_wsa },
		{ "conversation duplicated", test_conversation_duplicated },
		{ "SOAP 1.2", test_soap12 },
		{ "no Header", test_no_header },
		{ "empty Body", test_empty_body },
		{ "unqualified body element", test_unqualified_body },
		{ "the whole Body is checked", test_body_checked },
		{ "the Header's byte range", test_header_range },
		{ "malformed XML", test_malformed },
		{ "DOCTYPE refused", test_doctype },
		{ "billion laughs", test_billion_laughs },
		{ "processing instruction refused", test_processing_instruction },
		{ "envelope structure", test_structure },
		{ "unqualified header block", test_unqualified_header },
		{ "bad mustUnderstand value", test_bad_must_understand_value },
		{ "unknown mustUnderstand header", test_must_understand_unknown },
		{ "mustUnderstand header for another role", test_must_understand_other_role },
		{ "MustUnderstand before WS-Addressing faults", test_must_understand_first },
		{ "first WS-Addressing problem reported", test_first_addressing_problem },
		{ "mixed WS-Addressing versions", test_mixed_versions },
		{ "RelatesTo repeats", test_relates_to_repeats },
		{ "escapes and CDATA in values", test_escapes_and_cdata },
		{ "max_headers", test_too_many_headers },
		{ "max_depth", test_too_deep },
		{ "max_value", test_value_limit },
		{ "values and body over 64 KiB", test_large_message },
		{ "concurrent reads", test_threads },
		{ "reply headers, WS-Addressing 1.0", test_reply_headers_wsa10 },
		{ "reply headers, 1.0 without MessageID", test_reply_headers_wsa10_without_id },
		{ "reply headers, submission", test_reply_headers_submission },
		{ "reply headers, plain SOAP", test_reply_headers_plain },
		{ "reply headers escaped", test_reply_headers_escaped },
		{ "fault SOAP 1.1, WS-Addressing", test_fault11_wsa },
		{ "fault SOAP 1.2, WS-Addressing", test_fault12_wsa },
		{ "fault SOAP 1.2, MustUnderstand", test_fault12_must_understand },
		{ "fault SOAP 1.1, plain", test_fault11_plain },
		{ "fault VersionMismatch", test_fault_version_mismatch },
		{ "fault SOAP 1.1, conversation subcode", test_fault11_conversation },
		{ "fault SOAP 1.2, ProblemAction", test_fault12_problem_action },
		{ "fault SOAP 1.2, submission", test_fault12_submission },
		{ "fault shape as Axis2's, SOAP 1.1", test_fault_shape_axis2_11 },
		{ "fault shape as Axis2's, SOAP 1.2", test_fault_shape_axis2_12 },
		{ "fault reason escaped", test_fault_reason_escaped },
		{ "fault_set", test_fault_set },
		{ "HTTP status and content type", test_http_status_and_content_type },
		{ NULL, NULL }
	};
	int rc;

	rc = unit_run("envelope", tests);
	xmlCleanupParser();
	return rc;
}
