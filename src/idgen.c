/*
 * idgen.c - conversation IDs from getrandom(2) (idgen.h).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "idgen.h"
#include "parley.h"

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

int
idgen_group_valid(const char *name)
{
	size_t n = 0;

	if (name == NULL || name[0] == '-')
		return 0;
	for (; name[n] != '\0'; n++) {
		char c = name[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return n >= 1 && n <= IDGEN_GROUP_MAX;
}

int
idgen_make(const char *group, char out[IDGEN_ID_MAX])
{
	unsigned char raw[16];
	size_t got = 0, glen, i, o;
	unsigned acc = 0;
	int bits = 0;

	out[0] = '\0';
	if (!idgen_group_valid(group))
		return PARLEY_EINVAL;
	while (got < sizeof raw) {
		ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return PARLEY_EIO;
		}
		got += (size_t)n;
	}
	glen = strlen(group);
	memcpy(out, group, glen);
	out[glen] = '.';
	o = glen + 1;
	/* 128 bits make 25 full 5-bit groups and 3 bits left, padded to a 26th. */
	for (i = 0; i < sizeof raw; i++) {
		acc = (acc << 8) | raw[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return 0;
}

int
idgen_valid(const char *id)
{
	const char *dot;
	char group[IDGEN_GROUP_MAX + 1];
	size_t glen, i;

	if (id == NULL)
		return 0;
	dot = strchr(id, '.');
	if (dot == NULL)
		return 0;
	glen = (size_t)(dot - id);
	if (glen == 0 || glen > IDGEN_GROUP_MAX)
		return 0;
	memcpy(group, id, glen);
	group[glen] = '\0';
	if (!idgen_group_valid(group))
		return 0;
	for (i = 0; dot[1 + i] != '\0'; i++)
		if (strchr(b32, dot[1 + i]) == NULL)
			return 0;
	return i == IDGEN_RANDOM_CHARS;
}

int
idgen_group(const char *id, char *group, size_t len)
{
	size_t glen;

	if (!idgen_valid(id))
		return PARLEY_EINVAL;
	glen = (size_t)(strchr(id, '.') - id);
	if (glen + 1 > len)
		return PARLEY_EINVAL;
	memcpy(group, id, glen);
	group[glen] = '\0';
	return 0;
}
