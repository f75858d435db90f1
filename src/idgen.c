/*
 * idgen.c - conversation IDs from getrandom(2) (idgen.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
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

/* Write 128 random bits as IDGEN_RANDOM_CHARS characters and a NUL at out. */
static int
random_part(char *out)
{
	unsigned char raw[16];
	size_t got = 0, i, o = 0;
	unsigned acc = 0;
	int bits = 0;

	while (got < sizeof raw) {
		ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return PARLEY_EIO;
		}
		got += (size_t)n;
	}
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
idgen_make(const char *group, char out[IDGEN_ID_MAX])
{
	size_t glen;

	out[0] = '\0';
	if (!idgen_group_valid(group))
		return PARLEY_EINVAL;
	glen = strlen(group);
	memcpy(out, group, glen);
	out[glen] = '.';
	if (random_part(out + glen + 1) != 0) {
		out[0] = '\0';
		return PARLEY_EIO;
	}
	return 0;
}

int
idgen_make_member(const char *other, char out[IDGEN_ID_MAX])
{
	size_t slen;

	out[0] = '\0';
	if (idgen_session(other, out, IDGEN_SESSION_MAX) != 0)
		return PARLEY_EINVAL;
	slen = strlen(out);
	out[slen] = '.';
	if (random_part(out + slen + 1) != 0) {
		out[0] = '\0';
		return PARLEY_EIO;
	}
	return 0;
}

/* Return 1 when the n bytes at p are base32 characters of ours, else 0. */
static int
all_b32(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] == '\0' || strchr(b32, p[i]) == NULL)
			return 0;
	return 1;
}

int
idgen_valid(const char *id)
{
	const char *dot, *r;
	char group[IDGEN_GROUP_MAX + 1];
	size_t glen;

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
	r = dot + 1;
	if (!all_b32(r, IDGEN_RANDOM_CHARS))
		return 0;
	r += IDGEN_RANDOM_CHARS;
	if (*r == '\0')
		return 1;
	return r[0] == '.' && all_b32(r + 1, IDGEN_RANDOM_CHARS) &&
	    r[1 + IDGEN_RANDOM_CHARS] == '\0';
}

int
idgen_session(const char *id, char *session, size_t len)
{
	size_t slen;

	if (!idgen_valid(id))
		return PARLEY_EINVAL;
	slen = (size_t)(strchr(id, '.') - id) + 1 + IDGEN_RANDOM_CHARS;
	if (slen + 1 > len)
		return PARLEY_EINVAL;
	memcpy(session, id, slen);
	session[slen] = '\0';
	return 0;
}

int
idgen_joined(const char *id)
{
	return idgen_valid(id) && strchr(id, '.')[1 + IDGEN_RANDOM_CHARS] == '.';
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

void
idgen_session_key(const char *id, char out[IDGEN_SESSION_MAX])
{
	if (idgen_session(id, out, IDGEN_SESSION_MAX) != 0)
		snprintf(out, IDGEN_SESSION_MAX, "%s", id);
}
