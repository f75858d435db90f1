/*
 * soapenv.c - the one global gSOAP namespace table of the process.
 *
 * Debian's libgsoap refers to a global `namespaces` even when every generated
 * table is renamed (soapcpp2 -n). It stays empty: the container gives each
 * context the table of the module it dispatches to, with soap_set_namespaces.
 */
#include "config.h"

#include "envH.h"

struct Namespace namespaces[] = { { NULL, NULL, NULL, NULL } };
