/*
 * record.h - private: the big-endian integer fields that the stored binary
 * records are made of (meta.c, outbox.c, directory.c), written to a buf and
 * read back with bounds checked. What a record holds, and its format byte,
 * stay with the file that owns the record.
 */
#ifndef PARLEY_RECORD_H
#define PARLEY_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Append v to b in 1, 4 or 8 bytes, most significant first. 0 or PARLEY_ENOMEM. */
int record_put_u8(struct buf *b, unsigned v);
int record_put_u32(struct buf *b, uint32_t v);
int record_put_u64(struct buf *b, uint64_t v);

/* A read position in a record: the bytes not read yet. */
struct record_reader {
	const unsigned char *p;
	size_t left;
};

/*
 * Take the next n bytes (*out points at them, in the record) or the next
 * field into *v. Each returns 0, or -1 when the record holds fewer bytes
 * (the reader and *out or *v are then unchanged).
 */
int record_get_bytes(struct record_reader *r, const unsigned char **out, size_t n);
int record_get_u8(struct record_reader *r, unsigned *v);
int record_get_u32(struct record_reader *r, uint32_t *v);
int record_get_u64(struct record_reader *r, uint64_t *v);
int record_get_i64(struct record_reader *r, int64_t *v);

#endif /* PARLEY_RECORD_H */
