/*
 * soapenv.h - soapcpp2 input for the process-wide gSOAP "env" module.
 *
 * libgsoap calls a few global functions that soapcpp2 generates for every
 * interface (soap_getheader, soap_putheader, soap_fault, soap_getelement...).
 * Each service module carries its own copies, hidden inside its shared
 * object; the node's executable gets these, generated at build time into
 * gen/env/ with `soapcpp2 -c -L -x -w -penv`. The header is empty because the
 * container reads and writes SOAP headers itself, never through gSOAP.
 */

struct SOAP_ENV__Header
{
};
