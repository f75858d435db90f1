/*
 * addrlist.c - comma-separated lists of addresses (addrlist.h).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addrlist.h"
#include "parley.h"

int
addrlist_split(const char *s, char out[][ADDRLIST_ITEM_MAX], unsigned cap, unsigned *n)
{
	const char *p = s, *end, *a, *b;
	size_t len;

	*n = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 0;
	for (;;) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		a = p;
		b = end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		len = (size_t)(b - a);
		if (len == 0 || len >= ADDRLIST_ITEM_MAX || *n >= cap)
			return PARLEY_EINVAL;
		memcpy(out[*n], a, len);
		out[*n][len] = '\0';
		(*n)++;
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

int
addrlist_host_port(const char *s, char *host, size_t hostlen, unsigned *port)
{
	const char *colon = strrchr(s, ':'), *h = s, *he;
	unsigned long v;
	char *end;

	if (colon == NULL || colon == s || colon[1] < '0' || colon[1] > '9')
		return PARLEY_EINVAL;
	he = colon;
	if (s[0] == '[') {
		if (colon[-1] != ']' || colon - s < 3)
			return PARLEY_EINVAL;
		h = s + 1;
		he = colon - 1;
	} else if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
		return PARLEY_EINVAL;
	}
	errno = 0;
	v = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535 || (size_t)(he - h) >= hostlen)
		return PARLEY_EINVAL;
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	*port = (unsigned)v;
	return 0;
}
