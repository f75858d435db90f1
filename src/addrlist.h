/*
 * addrlist.h - private: comma-separated lists of addresses in the
 * configuration ("http://a:1/parley/manager,http://b:2/parley/manager",
 * "10.0.0.1:7000,10.0.0.2:7000"): the manager URLs a node tries in turn,
 * and the replication listeners of the other manager sites.
 */
#ifndef PARLEY_ADDRLIST_H
#define PARLEY_ADDRLIST_H

#include <stddef.h>

#define ADDRLIST_MAX 8                 /* items in one list */
#define ADDRLIST_ITEM_MAX 288          /* one item, with its NUL */

/*
 * Split s at commas into out (at most cap items), each trimmed of spaces and
 * tabs, and set *n. An empty s gives no items. Returns 0, or PARLEY_EINVAL
 * when an item is empty, longer than ADDRLIST_ITEM_MAX - 1 bytes, or there
 * are more than cap items; out and *n are then undefined.
 */
int addrlist_split(const char *s, char out[][ADDRLIST_ITEM_MAX], unsigned cap, unsigned *n);

/*
 * Split "HOST:PORT" (HOST may be a bracketed IPv6 address, given back
 * without its brackets) into host (hostlen bytes) and *port (1..65535).
 * Returns 0 or PARLEY_EINVAL.
 */
int addrlist_host_port(const char *s, char *host, size_t hostlen, unsigned *port);

#endif /* PARLEY_ADDRLIST_H */
