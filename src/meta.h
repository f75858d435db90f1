/*
 * meta.h - the stored form of a conversation's metadata (struct conv_meta in
 * store.h): an explicit, versioned binary record, never a dump of the struct.
 * This file is private to the store.
 */
#ifndef PARLEY_META_H
#define PARLEY_META_H

#include <stddef.h>

#include "buf.h"
#include "store.h"

/* The first byte of every record; a decoder refuses any other. */
#define CONV_META_FORMAT 1

/*
 * Append the record of m to out. Returns 0, PARLEY_EINVAL when m cannot be
 * stored (service not NUL-terminated, unknown state, ring_len over
 * STORE_RING_MAX), or PARLEY_ENOMEM; out may then hold part of a record.
 */
int conv_meta_encode(const struct conv_meta *m, struct buf *out);

/*
 * Decode the len bytes at data into m, which must hold nothing to release
 * (zeroed or cleared). Returns 0, PARLEY_EIO when the bytes are not a
 * well-formed record of a known format (m then holds nothing to release), or
 * PARLEY_ENOMEM. The caller owns m->start_msgid afterwards.
 */
int conv_meta_decode(const void *data, size_t len, struct conv_meta *m);

#endif /* PARLEY_META_H */
