/*
 * outbox.c - the records of the outbox and of conversations' partners, and
 * the sender that posts due entries (outbox.h).
 *
 * Entry record format 1, integers big-endian:
 *   u8 format (1), u8 SOAP version (1 or 2), i64 created_ms, i64 next_ms,
 *   u32 attempts, then four strings, each u32 length and bytes: message ID,
 *   address, action, envelope. Nothing may follow; the first three carry no
 *   NUL.
 * Partner record format 1:
 *   u8 format (1), u8 SOAP version, u8 WS-Addressing version (1 or 2),
 *   u32 length and address, u32 length and reference parameters (0: none).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "holdings.h"
#include "idgen.h"
#include "log.h"
#include "outbox.h"
#include "parley.h"
#include "poster.h"
#include "record.h"
#include "store.h"

#define MAX_STRING (64u << 20)         /* no string of a record is longer */
#define MAX_DUE 32                     /* entries posted per look at the outboxes */
#define OUTBOX_HOST_MAX 264            /* "host:port" of an address, with its NUL */

/* ---- records -------------------------------------------------------------- */

static int
put_str(struct buf *b, const char *s, size_t n)
{
	if (record_put_u32(b, (uint32_t)n) != 0 || buf_append(b, s, n) != 0)
		return PARLEY_ENOMEM;
	return 0;
}

/*
 * A copy of the next string, NUL-terminated, in *out (NULL for an empty one
 * when empty_null). Returns 0, -1 when the record is short or the string
 * holds a NUL where text_only, or PARLEY_ENOMEM.
 */
static int
get_str(struct record_reader *r, char **out, size_t *lenp, int text_only, int empty_null)
{
	const unsigned char *s;
	uint32_t n;

	*out = NULL;
	if (record_get_u32(r, &n) != 0 || n > MAX_STRING || record_get_bytes(r, &s, n) != 0)
		return PARLEY_EIO;
	if (text_only && memchr(s, '\0', n) != NULL)
		return PARLEY_EIO;
	if (lenp != NULL)
		*lenp = n;
	if (n == 0 && empty_null)
		return 0;
	if ((*out = malloc((size_t)n + 1)) == NULL)
		return PARLEY_ENOMEM;
	memcpy(*out, s, n);
	(*out)[n] = '\0';
	return 0;
}

int
outbox_entry_encode(const struct outbox_entry *e, struct buf *out)
{
	size_t ml, al, cl;
	int rc;

	if (e->message_id == NULL || e->address == NULL || e->action == NULL ||
	    e->envelope == NULL || (e->soap != SOAP_V11 && e->soap != SOAP_V12))
		return PARLEY_EINVAL;
	ml = strlen(e->message_id);
	al = strlen(e->address);
	cl = strlen(e->action);
	if (ml == 0 || ml > MAX_STRING || al == 0 || al > MAX_STRING || cl > MAX_STRING ||
	    e->envelope_len > MAX_STRING)
		return PARLEY_EINVAL;
	if ((rc = buf_reserve(out, 40 + ml + al + cl + e->envelope_len)) != 0)
		return rc;
	rc = record_put_u8(out, OUTBOX_FORMAT);
	rc |= record_put_u8(out, (unsigned)e->soap);
	rc |= record_put_u64(out, (uint64_t)e->created_ms);
	rc |= record_put_u64(out, (uint64_t)e->next_ms);
	rc |= record_put_u32(out, e->attempts);
	rc |= put_str(out, e->message_id, ml);
	rc |= put_str(out, e->address, al);
	rc |= put_str(out, e->action, cl);
	rc |= put_str(out, e->envelope, e->envelope_len);
	return rc == 0 ? 0 : PARLEY_ENOMEM;
}

void
outbox_entry_clear(struct outbox_entry *e)
{
	free(e->message_id);
	free(e->address);
	free(e->action);
	free(e->envelope);
	memset(e, 0, sizeof *e);
}

int
outbox_entry_decode(const void *data, size_t len, struct outbox_entry *e)
{
	struct record_reader r = { data, len };
	unsigned format, soap;
	int rc;

	memset(e, 0, sizeof *e);
	if (record_get_u8(&r, &format) != 0 || format != OUTBOX_FORMAT ||
	    record_get_u8(&r, &soap) != 0 || (soap != SOAP_V11 && soap != SOAP_V12) ||
	    record_get_i64(&r, &e->created_ms) != 0 ||
	    record_get_i64(&r, &e->next_ms) != 0 || record_get_u32(&r, &e->attempts) != 0)
		return PARLEY_EIO;
	e->soap = (enum soap_version)soap;
	if ((rc = get_str(&r, &e->message_id, NULL, 1, 0)) != 0 ||
	    (rc = get_str(&r, &e->address, NULL, 1, 0)) != 0 ||
	    (rc = get_str(&r, &e->action, NULL, 1, 0)) != 0 ||
	    (rc = get_str(&r, &e->envelope, &e->envelope_len, 0, 0)) != 0)
		goto fail;
	if (r.left != 0 || e->message_id[0] == '\0' || e->address[0] == '\0') {
		rc = PARLEY_EIO;
		goto fail;
	}
	return 0;
fail:
	outbox_entry_clear(e);
	return rc == PARLEY_ENOMEM ? PARLEY_ENOMEM : PARLEY_EIO;
}

int
outbox_partner_encode(const struct outbox_partner *p, struct buf *out)
{
	size_t al, rl;
	int rc;

	if (p->address == NULL || (p->soap != SOAP_V11 && p->soap != SOAP_V12) ||
	    (p->wsa != WSA_10 && p->wsa != WSA_2004))
		return PARLEY_EINVAL;
	al = strlen(p->address);
	rl = p->refparams != NULL ? strlen(p->refparams) : 0;
	if (al == 0 || al > MAX_STRING || rl > MAX_STRING)
		return PARLEY_EINVAL;
	rc = record_put_u8(out, OUTBOX_PARTNER_FORMAT);
	rc |= record_put_u8(out, (unsigned)p->soap);
	rc |= record_put_u8(out, (unsigned)p->wsa);
	rc |= put_str(out, p->address, al);
	rc |= put_str(out, p->refparams != NULL ? p->refparams : "", rl);
	return rc == 0 ? 0 : PARLEY_ENOMEM;
}

void
outbox_partner_clear(struct outbox_partner *p)
{
	free(p->address);
	free(p->refparams);
	memset(p, 0, sizeof *p);
}

int
outbox_partner_decode(const void *data, size_t len, struct outbox_partner *p)
{
	struct record_reader r = { data, len };
	unsigned format, soap, wsa;
	int rc;

	memset(p, 0, sizeof *p);
	if (record_get_u8(&r, &format) != 0 || format != OUTBOX_PARTNER_FORMAT ||
	    record_get_u8(&r, &soap) != 0 || (soap != SOAP_V11 && soap != SOAP_V12) ||
	    record_get_u8(&r, &wsa) != 0 || (wsa != WSA_10 && wsa != WSA_2004))
		return PARLEY_EIO;
	p->soap = (enum soap_version)soap;
	p->wsa = (enum wsa_version)wsa;
	if ((rc = get_str(&r, &p->address, NULL, 1, 0)) != 0 ||
	    (rc = get_str(&r, &p->refparams, NULL, 1, 1)) != 0)
		goto fail;
	if (r.left != 0 || p->address[0] == '\0') {
		rc = PARLEY_EIO;
		goto fail;
	}
	return 0;
fail:
	outbox_partner_clear(p);
	return rc == PARLEY_ENOMEM ? PARLEY_ENOMEM : PARLEY_EIO;
}

enum outbox_address
outbox_address_kind(const char *address, enum wsa_version wsa)
{
	struct poster_url u;

	if (address == NULL || strcmp(address, wsa == WSA_2004 ? WSA2004_ANONYMOUS :
	    WSA10_ANONYMOUS) == 0)
		return OUTBOX_ANONYMOUS;
	if (wsa == WSA_10 && strcmp(address, WSA10_NONE) == 0)
		return OUTBOX_NONE;
	if (poster_parse(address, &u) == 0)
		return OUTBOX_HTTP;
	return OUTBOX_UNUSABLE;
}

static int
partner_set(struct outbox_partner *p, const struct envelope *env, const char *address,
    const char *refparams)
{
	memset(p, 0, sizeof *p);
	p->soap = env->soap;
	p->wsa = env->wsa;
	if ((p->address = strdup(address)) == NULL ||
	    (refparams != NULL && (p->refparams = strdup(refparams)) == NULL)) {
		outbox_partner_clear(p);
		return PARLEY_ENOMEM;
	}
	return 0;
}

int
outbox_partner_from(const struct envelope *env, struct outbox_partner *p)
{
	memset(p, 0, sizeof *p);
	if (env->wsa == WSA_NONE)
		return PARLEY_ENOENT;
	if (outbox_address_kind(env->reply_to, env->wsa) == OUTBOX_HTTP)
		return partner_set(p, env, env->reply_to, env->reply_to_params);
	if (env->from != NULL && outbox_address_kind(env->from, env->wsa) == OUTBOX_HTTP)
		return partner_set(p, env, env->from, env->from_params);
	return PARLEY_ENOENT;
}

int
outbox_message_id(char out[OUTBOX_MSGID_MAX])
{
	unsigned char r[16];
	size_t got = 0;
	ssize_t n;

	out[0] = '\0';
	while (got < sizeof r) {
		n = getrandom(r + got, sizeof r - got, 0);
		if (n <= 0)
			return PARLEY_EIO;
		got += (size_t)n;
	}
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(out, OUTBOX_MSGID_MAX, "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
	    r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
	return 0;
}

/* ---- the sender ------------------------------------------------------------ */

struct due {
	char group[IDGEN_GROUP_MAX + 1];
	struct buf key;
	struct buf rec;
};

struct outbox {
	struct holdings *holdings;
	struct outbox_config cfg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int stop;
	atomic_uint_fast64_t delivered, retried, given_up, deferred;
	atomic_uint pending;
	/* one look: the sender's thread alone uses these */
	struct due due[MAX_DUE];
	unsigned n_due;
	/* the hosts that did not answer in this look: their other entries wait */
	char dead[MAX_DUE][OUTBOX_HOST_MAX];
	unsigned n_dead;
	unsigned group_first;           /* the first due entry of the group being read */
	unsigned seen, group_seen;      /* entries seen in all, and before this group */
	int64_t now;
	const char *group;
};

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
collect_one(void *arg, const void *key, size_t klen, const void *data, size_t len)
{
	struct outbox *ob = arg;
	struct outbox_entry e;
	struct due *d;
	int64_t next;

	if (key == NULL) {
		/* The store reads the group again from its first entry. */
		ob->n_due = ob->group_first;
		ob->seen = ob->group_seen;
		return 0;
	}
	ob->seen++;
	/* A damaged entry is taken as due: send_one drops it, with a warning. */
	next = outbox_entry_decode(data, len, &e) == 0 ? e.next_ms : ob->now;
	outbox_entry_clear(&e);
	if (next > ob->now || ob->n_due == MAX_DUE)
		return 0;
	d = &ob->due[ob->n_due];
	buf_reset(&d->key);
	buf_reset(&d->rec);
	if (buf_append(&d->key, key, klen) != 0 || buf_append(&d->rec, data, len) != 0)
		return 0;
	snprintf(d->group, sizeof d->group, "%s", ob->group);
	ob->n_due++;
	return 0;
}

static int
collect_group(void *arg, const char *group, struct store *st)
{
	struct outbox *ob = arg;
	int rc;

	ob->group = group;
	ob->group_first = ob->n_due;
	ob->group_seen = ob->seen;
	if ((rc = store_outbox_scan(st, collect_one, ob)) != 0 && rc != PARLEY_ESTATE)
		log_debug("outbox: reading group %s: %s", group, parley_strerror(rc));
	return 0;
}

/* The delay before attempt number attempts + 1 (attempts >= 1 failed already). */
static uint64_t
backoff_ms(const struct outbox_config *cfg, uint32_t attempts)
{
	uint64_t d = cfg->retry_min_ms;
	uint32_t i;

	for (i = 1; i < attempts && d < cfg->retry_max_ms; i++)
		d *= 2;
	return d < cfg->retry_max_ms ? d : cfg->retry_max_ms;
}

/* Copy the "host:port" of an http:// address into out (OUTBOX_HOST_MAX bytes). */
static void
address_host(const char *address, char *out)
{
	const char *p = strncmp(address, "http://", 7) == 0 ? address + 7 : address;
	size_t n = strcspn(p, "/?#");

	if (n >= OUTBOX_HOST_MAX)
		n = OUTBOX_HOST_MAX - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

static int
host_dead(const struct outbox *ob, const char *host)
{
	unsigned i;

	for (i = 0; i < ob->n_dead; i++)
		if (strcmp(ob->dead[i], host) == 0)
			return 1;
	return 0;
}

/*
 * Post one due entry and record what came of it in its group's store. A
 * host that did not answer at all (no connection, or no status in time) is
 * not tried again in the same look: its other entries are rescheduled as
 * failed, so one dead partner costs the others one timeout per look, not
 * one per entry.
 */
static void
send_one(struct outbox *ob, struct due *d)
{
	struct outbox_entry e;
	struct store *st = NULL;
	struct holding *ref = NULL;
	struct buf rec = BUF_INIT;
	char err[256], ctype[600];
	char host[OUTBOX_HOST_MAX];
	int status = 0, rc, delivered;
	int64_t now;

	if ((rc = outbox_entry_decode(d->rec.data, d->rec.len, &e)) != 0) {
		if (rc == PARLEY_EIO && holdings_acquire(ob->holdings, d->group, &st, &ref) == 0) {
			if (store_outbox_delete(st, d->key.data, d->key.len) == 0)
				log_warnx("outbox: group %s held a damaged entry (%zu bytes); dropped",
				    d->group, d->rec.len);
			holdings_release(ref);
		}
		return;
	}
	if (e.soap == SOAP_V12)
		snprintf(ctype, sizeof ctype, "application/soap+xml; charset=utf-8; action=\"%.500s\"",
		    e.action);
	else
		snprintf(ctype, sizeof ctype, "text/xml; charset=utf-8");
	address_host(e.address, host);
	if (host_dead(ob, host)) {
		atomic_fetch_add(&ob->deferred, 1);
		rc = PARLEY_EIO;
		snprintf(err, sizeof err, "%.200s did not answer a moment ago", host);
	} else {
		rc = poster_post(e.address, ctype, e.soap == SOAP_V11 ? e.action : NULL,
		    e.envelope, e.envelope_len, ob->cfg.timeout_ms, &status, err, sizeof err);
		if (rc != 0 && ob->n_dead < MAX_DUE)
			memcpy(ob->dead[ob->n_dead++], host, sizeof host);
	}
	delivered = rc == 0 && status >= 200 && status < 300;
	if (rc == 0 && !delivered)
		snprintf(err, sizeof err, "answered HTTP %d", status);
	/* The group may have moved while the post ran: then its new primary sends it. */
	if (holdings_acquire(ob->holdings, d->group, &st, &ref) != 0)
		goto done;
	now = wall_ms();
	if (delivered) {
		if (store_outbox_delete(st, d->key.data, d->key.len) == 0) {
			atomic_fetch_add(&ob->delivered, 1);
			log_debug("outbox: delivered %s to %s", e.message_id, e.address);
		}
		goto done;
	}
	e.attempts++;
	if ((uint64_t)(now - e.created_ms) >= ob->cfg.ttl_ms) {
		if (store_outbox_delete(st, d->key.data, d->key.len) == 0) {
			atomic_fetch_add(&ob->given_up, 1);
			log_warnx("outbox: gave up on message %s to %s after %u attempts in %lld s "
			    "(callback_ttl): %s", e.message_id, e.address, e.attempts,
			    (long long)((now - e.created_ms) / 1000), err);
		}
		goto done;
	}
	e.next_ms = now + (int64_t)backoff_ms(&ob->cfg, e.attempts);
	if (outbox_entry_encode(&e, &rec) == 0 &&
	    store_outbox_replace(st, d->key.data, d->key.len, rec.data, rec.len) == 0) {
		atomic_fetch_add(&ob->retried, 1);
		log_debug("outbox: message %s to %s failed (%s); attempt %u in %lld ms",
		    e.message_id, e.address, err, e.attempts + 1, (long long)(e.next_ms - now));
	}
done:
	holdings_release(ref);
	buf_free(&rec);
	outbox_entry_clear(&e);
}

static void *
sender_main(void *arg)
{
	struct outbox *ob = arg;
	struct timespec until;
	unsigned i;

	pthread_mutex_lock(&ob->mu);
	while (!ob->stop) {
		pthread_mutex_unlock(&ob->mu);
		ob->now = wall_ms();
		ob->n_due = 0;
		ob->seen = 0;
		ob->n_dead = 0;
		(void)holdings_each(ob->holdings, collect_group, ob);
		atomic_store(&ob->pending, ob->seen);
		for (i = 0; i < ob->n_due; i++) {
			pthread_mutex_lock(&ob->mu);
			if (ob->stop) {
				pthread_mutex_unlock(&ob->mu);
				break;
			}
			pthread_mutex_unlock(&ob->mu);
			send_one(ob, &ob->due[i]);
		}
		pthread_mutex_lock(&ob->mu);
		/* A full batch means more may be due: look again at once. */
		if (ob->n_due == MAX_DUE || ob->stop)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += ob->cfg.poll_ms / 1000;
		until.tv_nsec += (long)(ob->cfg.poll_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&ob->cond, &ob->mu, &until);
	}
	pthread_mutex_unlock(&ob->mu);
	return NULL;
}

int
outbox_start(struct outbox **out, struct holdings *h, const struct outbox_config *cfg)
{
	struct outbox *ob;
	pthread_condattr_t ca;
	int rc = PARLEY_EIO;

	*out = NULL;
	if ((ob = calloc(1, sizeof *ob)) == NULL)
		return PARLEY_ENOMEM;
	ob->holdings = h;
	ob->cfg = *cfg;
	if (ob->cfg.retry_min_ms == 0)
		ob->cfg.retry_min_ms = 1000;
	if (ob->cfg.retry_max_ms < ob->cfg.retry_min_ms)
		ob->cfg.retry_max_ms = ob->cfg.retry_min_ms;
	if (ob->cfg.timeout_ms == 0)
		ob->cfg.timeout_ms = 5000;
	if (ob->cfg.poll_ms == 0)
		ob->cfg.poll_ms = 100;
	if (pthread_mutex_init(&ob->mu, NULL) != 0)
		goto fail_free;
	if (pthread_condattr_init(&ca) != 0)
		goto fail_mu;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&ob->cond, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		goto fail_mu;
	}
	pthread_condattr_destroy(&ca);
	if (pthread_create(&ob->thread, NULL, sender_main, ob) != 0)
		goto fail_cond;
	*out = ob;
	return 0;
fail_cond:
	pthread_cond_destroy(&ob->cond);
fail_mu:
	pthread_mutex_destroy(&ob->mu);
fail_free:
	free(ob);
	return rc;
}

void
outbox_stop(struct outbox *ob)
{
	unsigned i;

	if (ob == NULL)
		return;
	pthread_mutex_lock(&ob->mu);
	ob->stop = 1;
	pthread_cond_signal(&ob->cond);
	pthread_mutex_unlock(&ob->mu);
	pthread_join(ob->thread, NULL);
	for (i = 0; i < MAX_DUE; i++) {
		buf_free(&ob->due[i].key);
		buf_free(&ob->due[i].rec);
	}
	pthread_cond_destroy(&ob->cond);
	pthread_mutex_destroy(&ob->mu);
	free(ob);
}

void
outbox_get_stats(struct outbox *ob, struct outbox_stats *st)
{
	memset(st, 0, sizeof *st);
	if (ob == NULL)
		return;
	st->delivered = atomic_load(&ob->delivered);
	st->retried = atomic_load(&ob->retried);
	st->deferred = atomic_load(&ob->deferred);
	st->given_up = atomic_load(&ob->given_up);
	st->pending = atomic_load(&ob->pending);
}
