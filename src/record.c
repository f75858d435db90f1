/*
 * record.c - big-endian fields of the stored binary records (record.h).
 */
#include "config.h"

#include "record.h"

int
record_put_u8(struct buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	return buf_append(b, &c, 1);
}

int
record_put_u32(struct buf *b, uint32_t v)
{
	unsigned char p[4];

	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return buf_append(b, p, sizeof p);
}

int
record_put_u64(struct buf *b, uint64_t v)
{
	unsigned char p[8];
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (56 - 8 * i));
	return buf_append(b, p, sizeof p);
}

int
record_get_bytes(struct record_reader *r, const unsigned char **out, size_t n)
{
	if (r->left < n)
		return -1;
	*out = r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

int
record_get_u8(struct record_reader *r, unsigned *v)
{
	const unsigned char *p;

	if (record_get_bytes(r, &p, 1) != 0)
		return -1;
	*v = p[0];
	return 0;
}

int
record_get_u32(struct record_reader *r, uint32_t *v)
{
	const unsigned char *p;

	if (record_get_bytes(r, &p, 4) != 0)
		return -1;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return 0;
}

int
record_get_u64(struct record_reader *r, uint64_t *v)
{
	const unsigned char *p;
	uint64_t u = 0;
	int i;

	if (record_get_bytes(r, &p, 8) != 0)
		return -1;
	for (i = 0; i < 8; i++)
		u = u << 8 | p[i];
	*v = u;
	return 0;
}

int
record_get_i64(struct record_reader *r, int64_t *v)
{
	uint64_t u;

	if (record_get_u64(r, &u) != 0)
		return -1;
	*v = (int64_t)u;
	return 0;
}
