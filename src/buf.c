/*
 * buf.c - a growable byte buffer (buf.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "parley.h"

int
buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	/* One byte more than asked for keeps room for the trailing NUL. */
	if (extra > SIZE_MAX - b->len - 1)
		return PARLEY_ENOMEM;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return PARLEY_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) != 0)
		return PARLEY_ENOMEM;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	if (buf_reserve(b, 128) != 0)
		return PARLEY_ENOMEM;
	va_copy(aq, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, aq);
	va_end(aq);
	if (n < 0) {
		b->data[b->len] = '\0';
		return PARLEY_EINVAL;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (buf_reserve(b, (size_t)n) != 0) {
			b->data[b->len] = '\0';
			return PARLEY_ENOMEM;
		}
		va_copy(aq, ap);
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, aq);
		va_end(aq);
	}
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int
buf_put_xml(struct buf *b, const char *s)
{
	const char *run = s;
	const char *rep;

	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		default: continue;
		}
		if (buf_append(b, run, (size_t)(s - run)) != 0 || buf_puts(b, rep) != 0)
			return PARLEY_ENOMEM;
		run = s + 1;
	}
	return buf_append(b, run, (size_t)(s - run));
}

int
buf_put_json(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *run = p;
	char esc[8];

	for (; *p != '\0'; p++) {
		if (*p >= 0x20 && *p != '"' && *p != '\\')
			continue;
		if (buf_append(b, run, (size_t)(p - run)) != 0)
			return PARLEY_ENOMEM;
		if (*p == '"' || *p == '\\')
			snprintf(esc, sizeof esc, "\\%c", *p);
		else
			snprintf(esc, sizeof esc, "\\u%04x", *p);
		if (buf_puts(b, esc) != 0)
			return PARLEY_ENOMEM;
		run = p + 1;
	}
	return buf_append(b, run, (size_t)(p - run));
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

char *
buf_steal(struct buf *b)
{
	char *p = b->data;

	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
