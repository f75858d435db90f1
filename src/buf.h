/*
 * buf.h - a growable byte buffer: the one way Parley builds responses, keys
 * and records in memory. A buf owns its bytes; the bytes are always followed
 * by a NUL that is not counted in len, so text can be used as a C string.
 */
#ifndef PARLEY_BUF_H
#define PARLEY_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;     /* NULL until the first append */
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

/* Make room for at least extra more bytes. Returns 0 or PARLEY_ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);

/* Append len bytes. Returns 0 or PARLEY_ENOMEM (b unchanged). */
int buf_append(struct buf *b, const void *data, size_t len);

/* Append a NUL-terminated string. Returns 0 or PARLEY_ENOMEM. */
int buf_puts(struct buf *b, const char *s);

/* Append printf-formatted text. Returns 0 or PARLEY_ENOMEM (b unchanged). */
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/*
 * Append s with the five XML special characters escaped, for use in element
 * content and in attribute values. Returns 0 or PARLEY_ENOMEM.
 */
int buf_put_xml(struct buf *b, const char *s);

/* Append s as the contents of a JSON string (without quotes). */
int buf_put_json(struct buf *b, const char *s);

/* Forget the contents, keep the memory. */
void buf_reset(struct buf *b);

/* Release the memory; b is empty and reusable afterwards. */
void buf_free(struct buf *b);

/*
 * Take the bytes out of b: returns the NUL-terminated data (the caller frees
 * it) and leaves b empty. Returns NULL when b never held anything.
 */
char *buf_steal(struct buf *b);

#endif /* PARLEY_BUF_H */
