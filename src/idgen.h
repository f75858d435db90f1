/*
 * idgen.h - conversation IDs: 128 random bits from the operating system,
 * written in lower-case base32 after the name of the group that made them,
 * "GROUP.xxxxxxxxxxxxxxxxxxxxxxxxxx", so any node can tell a conversation's
 * group without asking anyone. A conversation that joined the session of
 * another has the session's ID with 128 bits of its own after a second dot,
 * "GROUP.SESSION.MEMBER": its group and its session (the bean it shares,
 * which is also what one-message-at-a-time is counted on) are read from the
 * ID alone, on any node, with no lookup.
 */
#ifndef PARLEY_IDGEN_H
#define PARLEY_IDGEN_H

#include <stddef.h>

#define IDGEN_GROUP_MAX 32          /* bytes of a group name, without NUL */
#define IDGEN_RANDOM_CHARS 26       /* base32 characters for 128 bits */
#define IDGEN_SESSION_MAX (IDGEN_GROUP_MAX + 1 + IDGEN_RANDOM_CHARS + 1)
#define IDGEN_ID_MAX (IDGEN_SESSION_MAX + IDGEN_RANDOM_CHARS + 1)

/*
 * Return 1 when name is a valid group name: 1 to IDGEN_GROUP_MAX characters
 * of [a-z0-9-], not starting with '-'; else 0.
 */
int idgen_group_valid(const char *name);

/*
 * Write a new ID for group into out (IDGEN_ID_MAX bytes). Returns 0,
 * PARLEY_EINVAL for an invalid group, or PARLEY_EIO when the operating system
 * gave no random bytes (out is then an empty string).
 */
int idgen_make(const char *group, char out[IDGEN_ID_MAX]);

/*
 * Write into out (IDGEN_ID_MAX bytes) a new ID for a conversation joining
 * the session of conversation other: other's session, a dot and new random
 * characters. Returns 0, PARLEY_EINVAL when other is not a valid ID, or
 * PARLEY_EIO (out is then an empty string).
 */
int idgen_make_member(const char *other, char out[IDGEN_ID_MAX]);

/*
 * Return 1 when id has the form of an ID (a valid group, a dot and 26
 * base32 characters, and maybe one more dot and 26 more), else 0. Says
 * nothing of whether it exists.
 */
int idgen_valid(const char *id);

/*
 * Copy the session part of a valid id into session (len bytes): the ID
 * itself when it joined no other, else the ID without its member part.
 * Returns 0, or PARLEY_EINVAL when id is not valid or len is too small.
 */
int idgen_session(const char *id, char *session, size_t len);

/*
 * Write the key of id's session into out: idgen_session's for a valid ID,
 * else id itself (cut to fit), so that a string of any other form (none is
 * made, but stores and tests may hold them) is a session of its own.
 */
void idgen_session_key(const char *id, char out[IDGEN_SESSION_MAX]);

/* Return 1 when a valid id is a joined conversation's (it names another's session), else 0. */
int idgen_joined(const char *id);

/*
 * Copy the group part of a valid id into group (len bytes). Returns 0, or
 * PARLEY_EINVAL when id is not valid or len is too small.
 */
int idgen_group(const char *id, char *group, size_t len);

#endif /* PARLEY_IDGEN_H */
