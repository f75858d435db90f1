/*
 * echo.h - the raw gSOAP baseline of bench/: one document/literal operation
 * of the cart's AddItem shape (item, qty -> count), with WS-Addressing 1.0
 * and the pc:ConversationID header. soapcpp2 makes gen/echo/ from this file
 * at build time; bench/echo/echo_server.c serves it.
 */
#import "wsa5.h"

//gsoap e service name:      echo
//gsoap e service protocol:  SOAP1.1
//gsoap e service style:     document
//gsoap e service encoding:  literal
//gsoap e service namespace: urn:parley:bench:echo
//gsoap e schema namespace:  urn:parley:bench:echo
//gsoap e schema form:       qualified

//gsoap pc schema namespace: urn:parley:conversation
//gsoap pc schema form:      qualified

/* The conversation header, read from the request and echoed in the answer. */
mutable struct SOAP_ENV__Header {
	char *pc__ConversationID 0;
};

//gsoap e service method-action: AddItem urn:parley:bench:echo/AddItem
int e__AddItem(char *item, int qty, int *count);
