/*
 * envelope.h - reads the SOAP envelope's headers (WS-Addressing 1.0 and the
 * 2004/08 submission, the conversation ID) and writes reply headers and SOAP
 * faults. The body is not read here: the service's generated code reads it.
 */
#ifndef PARLEY_ENVELOPE_H
#define PARLEY_ENVELOPE_H

#include <stddef.h>

#include "buf.h"

#define NS_SOAP11   "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_SOAP12   "http://www.w3.org/2003/05/soap-envelope"
#define NS_WSA10    "http://www.w3.org/2005/08/addressing"
#define NS_WSA2004  "http://schemas.xmlsoap.org/ws/2004/08/addressing"
#define NS_PC       "urn:parley:conversation"

#define WSA10_ANONYMOUS   NS_WSA10 "/anonymous"
#define WSA10_NONE        NS_WSA10 "/none"
#define WSA2004_ANONYMOUS NS_WSA2004 "/role/anonymous"

enum soap_version { SOAP_V11 = 1, SOAP_V12 = 2 };
enum wsa_version { WSA_NONE = 0, WSA_10 = 1, WSA_2004 = 2 };

/* Limits applied while reading; 0 means the default named beside it. */
struct envelope_limits {
	unsigned max_headers;       /* header blocks in SOAP-ENV:Header; default 32 */
	unsigned max_depth;         /* element nesting anywhere in the message; default 64 */
	size_t max_value;           /* bytes of one header value; default 2048 */
};

/*
 * What envelope_read found. Every string is NUL-terminated, trimmed of XML
 * white space, and points into the envelope's own storage (valid until
 * envelope_clear); NULL means the header was absent.
 */
struct envelope {
	enum soap_version soap;
	enum wsa_version wsa;             /* WSA_NONE when no WS-Addressing header was seen */
	const char *action;               /* wsa:Action */
	const char *message_id;           /* wsa:MessageID */
	const char *to;                   /* wsa:To */
	const char *reply_to;             /* wsa:ReplyTo/wsa:Address */
	const char *fault_to;             /* wsa:FaultTo/wsa:Address */
	const char *from;                 /* wsa:From/wsa:Address */
	/*
	 * The children of each EPR's wsa:ReferenceParameters as standalone XML
	 * (every element declares the prefixes it uses; in WS-Addressing 1.0
	 * each top-level element carries wsa:IsReferenceParameter="true"), ready
	 * to be sent as header blocks to that EPR; NULL when it has none.
	 */
	const char *reply_to_params;
	const char *fault_to_params;
	const char *from_params;
	const char *relates_to;           /* the first wsa:RelatesTo */
	const char *conversation_id;      /* pc:ConversationID */
	const char *join_id;              /* pc:JoinConversation: the conversation whose session a start joins */
	int conversation_refparam;        /* 1 when it carried wsa:IsReferenceParameter "true"/"1" */
	unsigned header_count;            /* header blocks targeted at this node */
	const char *body_ns;              /* namespace URI of the Body's first child; NULL if Body is empty */
	const char *body_name;            /* its local name */
	size_t header_from;               /* the message's bytes [header_from, header_to) are the */
	size_t header_to;                 /* Header, which a second reader may skip; 0, 0 when none */
	struct buf store;                 /* private: the bytes the strings above point into */
};

/*
 * A SOAP fault to answer with. The code is Sender/Receiver (SOAP 1.2 names;
 * Client/Server in 1.1) or one of the SOAP-level codes; subcode and
 * subsubcode are qualified names in the namespaces given. Strings are static
 * or owned by whoever filled the fault, except reason, which is copied in.
 */
enum fault_code {
	FAULT_SENDER = 0,
	FAULT_RECEIVER,
	FAULT_VERSION_MISMATCH,
	FAULT_MUST_UNDERSTAND
};

struct fault {
	enum fault_code code;
	const char *subcode_ns;           /* e.g. NS_WSA10 or NS_PC; NULL for none */
	const char *subcode;              /* local name, e.g. "InvalidAddressingHeader" */
	const char *subsubcode;           /* local name in subcode_ns, e.g. "InvalidCardinality" */
	char reason[512];                 /* English text for faultstring / Reason */
	const char *problem_header_ns;    /* wsa:ProblemHeaderQName detail: namespace ... */
	const char *problem_header;       /* ... and local name of the header at fault */
	const char *problem_action;       /* wsa:ProblemAction detail: the action not supported */
	const char *not_understood_ns;    /* MustUnderstand: the header not understood */
	const char *not_understood;
	int http_status;                  /* 0: chosen from the code and SOAP version */
};

/*
 * Fill f with code, subcode (in subcode_ns) and a printf-formatted reason,
 * clearing every other field. Returns PARLEY_EFAULT, for callers to return.
 */
int fault_set(struct fault *f, enum fault_code code, const char *subcode_ns,
    const char *subcode, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Read the envelope in buf (len bytes, not necessarily NUL-terminated): its
 * headers, the name of the Body's first child, and the rest only to check
 * that the whole message is well-formed XML in UTF-8 (the Body is read again
 * by the service's gSOAP code, which is more lenient). On success returns 0
 * with env filled.
 * On bad input returns PARLEY_EFAULT with fault filled and env->soap set to
 * the version to answer in (SOAP_V11 when it could not be told):
 *  - XML that is not well formed, a DTD, or no Envelope/Body: Sender fault
 *    with the parser's message and line;
 *  - an Envelope in another namespace: VersionMismatch;
 *  - more than max_headers header blocks: Sender fault;
 *  - a duplicated wsa:To, Action, MessageID, ReplyTo, FaultTo, From or
 *    pc:ConversationID: wsa:InvalidAddressingHeader / wsa:InvalidCardinality;
 *  - WS-Addressing 1.0 headers without wsa:Action or wsa:MessageID (every
 *    Parley operation has a response), or submission headers without wsa:To,
 *    wsa:Action or wsa:MessageID: wsa:MessageAddressingHeaderRequired;
 *  - headers of both WS-Addressing versions: wsa:InvalidAddressingHeader;
 *  - a header block with mustUnderstand true, targeted at this node (no
 *    role/actor, "next" or "ultimateReceiver") that is not a WS-Addressing or
 *    Parley header: MustUnderstand, naming it. It wins over the WS-Addressing
 *    faults above, as SOAP requires.
 * When the request uses the 2004/08 submission, the WS-Addressing faults
 * take that version's names: wsa:InvalidMessageInformationHeader (no
 * subsubcode) and wsa:MessageInformationHeaderRequired, in NS_WSA2004.
 * Header blocks targeted at other roles are skipped and not counted.
 * fault->not_understood_ns and not_understood point into env's storage.
 * Returns PARLEY_ENOMEM when memory runs out. env must be zeroed or cleared
 * before the call; on failure it may hold partial results until cleared.
 * Safe to call from many threads at once.
 */
int envelope_read(const char *buf, size_t len, const struct envelope_limits *lim,
    struct envelope *env, struct fault *fault);

/* Release what envelope_read stored; env is zeroed and reusable. */
void envelope_clear(struct envelope *env);

/*
 * Append the reply's header blocks for a request read into req (req may be
 * NULL when the request could not be read): wsa:Action set to action (when
 * the request used WS-Addressing, in its version), wsa:RelatesTo the
 * request's MessageID, and pc:ConversationID when conversation_id is not
 * NULL. Writes the whole <SOAP-ENV:Header> element; the caller's envelope
 * must bind the SOAP-ENV prefix; nothing is written when there is no block
 * to write. Returns 0, or PARLEY_ENOMEM with out as it was.
 */
int envelope_write_reply_headers(struct buf *out, const struct envelope *req,
    const char *action, const char *conversation_id);

/*
 * Where an answer goes when it does not go back on the request's
 * connection (a wsa:ReplyTo or wsa:FaultTo with an address): the headers
 * say wsa:To address, carry the answer's own wsa:MessageID, and echo the
 * EPR's reference parameters (as struct envelope keeps them).
 */
struct envelope_dest {
	const char *to;
	const char *message_id;
	const char *refparams;            /* NULL: none */
};

/*
 * envelope_write_reply_headers for an answer sent to dest (NULL: as
 * envelope_write_reply_headers): wsa:To, wsa:Action, wsa:MessageID,
 * wsa:RelatesTo, the reference parameters and pc:ConversationID. The
 * WS-Addressing headers are written only when the request used
 * WS-Addressing. Returns 0, or PARLEY_ENOMEM with out as it was.
 */
int envelope_write_reply_headers_to(struct buf *out, const struct envelope *req,
    const char *action, const char *conversation_id, const struct envelope_dest *dest);

/*
 * envelope_write_fault for a fault sent to dest (NULL: as
 * envelope_write_fault), with the headers of envelope_write_reply_headers_to.
 */
int envelope_write_fault_to(struct buf *out, enum soap_version soap,
    const struct envelope *req, const char *conversation_id, const struct fault *f,
    const struct envelope_dest *dest);

/*
 * Append a whole envelope of a message that answers no request (a
 * callback): wsa:To dest->to, wsa:Action action, wsa:MessageID
 * dest->message_id and the reference parameters in WS-Addressing version
 * wsa, pc:ConversationID when conversation_id is not NULL, and body_xml,
 * which must be well-formed XML content, as the Body's content. Returns 0,
 * PARLEY_EINVAL when wsa is WSA_NONE, or PARLEY_ENOMEM; out is as it was
 * on failure.
 */
int envelope_write_message(struct buf *out, enum soap_version soap, enum wsa_version wsa,
    const struct envelope_dest *dest, const char *action, const char *conversation_id,
    const char *body_xml);

/*
 * Append a whole fault envelope in the given SOAP version (an XML
 * declaration, Envelope, reply headers as above with the WS-Addressing fault
 * action, and the Fault with code, subcodes, reason and detail). req and
 * conversation_id may be NULL. Returns 0, or PARLEY_ENOMEM with out as it
 * was.
 */
int envelope_write_fault(struct buf *out, enum soap_version soap,
    const struct envelope *req, const char *conversation_id, const struct fault *f);

/*
 * Whether xml is well-formed XML content (what an element may hold: text
 * and elements, each prefix declared, no DTD): 1 or 0. For content a
 * handler gives, checked with libxml2.
 */
int envelope_content_valid(const char *xml);

/* The HTTP status for a fault: 500, or 400 for a SOAP 1.2 Sender fault. */
int fault_http_status(enum soap_version soap, const struct fault *f);

/* The HTTP Content-Type for a SOAP version. */
const char *envelope_content_type(enum soap_version soap);

#endif /* PARLEY_ENVELOPE_H */
