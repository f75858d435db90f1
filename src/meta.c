/*
 * meta.c - a conversation's metadata (store.h) and its stored record (meta.h).
 *
 * Record format 1, all integers big-endian:
 *   u8 format (1), u8 state, u8 service length, service bytes,
 *   i64 created_ms, i64 last_access_ms, u64 seq, i64 ended_ms,
 *   u32 max_age_s, u32 max_idle_s, u32 bean_version,
 *   u8 has start_msgid, [u32 length, start_msgid bytes],
 *   u8 ring_len, ring_len times (u64 hash, u64 seq).
 * Nothing may follow. Strings carry no NUL.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "parley.h"
#include "record.h"

void
conv_meta_clear(struct conv_meta *m)
{
	free(m->start_msgid);
	memset(m, 0, sizeof *m);
}

int
conv_meta_expired(const struct conv_meta *m, int64_t now_ms)
{
	if (m->max_age_s != 0 && now_ms - m->created_ms >= (int64_t)m->max_age_s * 1000)
		return 1;
	if (m->max_idle_s != 0 && now_ms - m->last_access_ms >= (int64_t)m->max_idle_s * 1000)
		return 2;
	return 0;
}

int
conv_meta_encode(const struct conv_meta *m, struct buf *out)
{
	const char *end;
	size_t slen, mlen = 0;
	unsigned i;
	int rc;

	end = memchr(m->service, '\0', sizeof m->service);
	if (end == NULL || m->ring_len > STORE_RING_MAX ||
	    (m->state != CONV_LIVE && m->state != CONV_ENDED && m->state != CONV_EXPIRED))
		return PARLEY_EINVAL;
	slen = (size_t)(end - m->service);
	if (m->start_msgid != NULL) {
		mlen = strlen(m->start_msgid);
		if (mlen > UINT32_MAX)
			return PARLEY_EINVAL;
	}
	if ((rc = buf_reserve(out, 64 + slen + mlen + m->ring_len * 16u)) != 0)
		return rc;
	/* Appends cannot fail after the reserve above; the checks keep it honest. */
	rc = record_put_u8(out, CONV_META_FORMAT);
	rc |= record_put_u8(out, (unsigned)m->state);
	rc |= record_put_u8(out, (unsigned)slen);
	rc |= buf_append(out, m->service, slen);
	rc |= record_put_u64(out, (uint64_t)m->created_ms);
	rc |= record_put_u64(out, (uint64_t)m->last_access_ms);
	rc |= record_put_u64(out, m->seq);
	rc |= record_put_u64(out, (uint64_t)m->ended_ms);
	rc |= record_put_u32(out, m->max_age_s);
	rc |= record_put_u32(out, m->max_idle_s);
	rc |= record_put_u32(out, m->bean_version);
	rc |= record_put_u8(out, m->start_msgid != NULL);
	if (m->start_msgid != NULL) {
		rc |= record_put_u32(out, (uint32_t)mlen);
		rc |= buf_append(out, m->start_msgid, mlen);
	}
	rc |= record_put_u8(out, m->ring_len);
	for (i = 0; i < m->ring_len; i++) {
		rc |= record_put_u64(out, m->ring_hash[i]);
		rc |= record_put_u64(out, m->ring_seq[i]);
	}
	return rc == 0 ? 0 : PARLEY_ENOMEM;
}

int
conv_meta_decode(const void *data, size_t len, struct conv_meta *m)
{
	struct record_reader r = { data, len };
	const unsigned char *s;
	unsigned format, state, slen, has_msgid, ring_len, i;
	uint32_t mlen;
	int rc = PARLEY_EIO;

	memset(m, 0, sizeof *m);
	if (record_get_u8(&r, &format) != 0 || format != CONV_META_FORMAT)
		goto fail;
	if (record_get_u8(&r, &state) != 0 ||
	    (state != CONV_LIVE && state != CONV_ENDED && state != CONV_EXPIRED))
		goto fail;
	m->state = (enum conv_state)state;
	if (record_get_u8(&r, &slen) != 0 || slen >= STORE_SERVICE_MAX ||
	    record_get_bytes(&r, &s, slen) != 0 || memchr(s, '\0', slen) != NULL)
		goto fail;
	memcpy(m->service, s, slen);
	if (record_get_i64(&r, &m->created_ms) != 0 ||
	    record_get_i64(&r, &m->last_access_ms) != 0 || record_get_u64(&r, &m->seq) != 0 ||
	    record_get_i64(&r, &m->ended_ms) != 0 || record_get_u32(&r, &m->max_age_s) != 0 ||
	    record_get_u32(&r, &m->max_idle_s) != 0 || record_get_u32(&r, &m->bean_version) != 0)
		goto fail;
	if (record_get_u8(&r, &has_msgid) != 0 || has_msgid > 1)
		goto fail;
	if (has_msgid) {
		if (record_get_u32(&r, &mlen) != 0 || record_get_bytes(&r, &s, mlen) != 0 ||
		    memchr(s, '\0', mlen) != NULL)
			goto fail;
		m->start_msgid = malloc((size_t)mlen + 1);
		if (m->start_msgid == NULL) {
			rc = PARLEY_ENOMEM;
			goto fail;
		}
		memcpy(m->start_msgid, s, mlen);
		m->start_msgid[mlen] = '\0';
	}
	if (record_get_u8(&r, &ring_len) != 0 || ring_len > STORE_RING_MAX)
		goto fail;
	m->ring_len = ring_len;
	for (i = 0; i < ring_len; i++)
		if (record_get_u64(&r, &m->ring_hash[i]) != 0 ||
		    record_get_u64(&r, &m->ring_seq[i]) != 0)
			goto fail;
	if (r.left != 0)
		goto fail;
	return 0;

fail:
	conv_meta_clear(m);
	return rc;
}
