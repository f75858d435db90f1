/*
 * gate.c - one message at a time per conversation (gate.h): a hash table of
 * the conversations being worked on, split into stripes with a lock each so
 * that workers on different conversations rarely meet.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "parley.h"

#define STRIPES 64

struct held {
	struct held *next;
	struct gate_waiter *head;
	struct gate_waiter *tail;
	unsigned waiting;
	char id[];
};

struct stripe {
	pthread_mutex_t lock;
	struct held *list;
};

struct gate {
	unsigned max_queue;
	atomic_uint held;
	struct stripe stripes[STRIPES];
};

static uint64_t
hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct stripe *
stripe_of(struct gate *g, const char *id)
{
	return &g->stripes[hash(id) % STRIPES];
}

static struct held **
find(struct stripe *s, const char *id)
{
	struct held **pp;

	for (pp = &s->list; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0)
			return pp;
	return pp;
}

int
gate_create(struct gate **out, unsigned max_queue)
{
	struct gate *g;
	int i;

	*out = NULL;
	g = calloc(1, sizeof *g);
	if (g == NULL)
		return PARLEY_ENOMEM;
	g->max_queue = max_queue;
	atomic_init(&g->held, 0);
	for (i = 0; i < STRIPES; i++)
		pthread_mutex_init(&g->stripes[i].lock, NULL);
	*out = g;
	return 0;
}

void
gate_destroy(struct gate *g)
{
	int i;

	if (g == NULL)
		return;
	for (i = 0; i < STRIPES; i++) {
		struct held *h, *next;
		for (h = g->stripes[i].list; h != NULL; h = next) {
			next = h->next;
			free(h);
		}
		pthread_mutex_destroy(&g->stripes[i].lock);
	}
	free(g);
}

/* Add a held entry for id at *pp; the stripe is locked. */
static int
hold(struct gate *g, struct held **pp, const char *id)
{
	size_t len = strlen(id);
	struct held *h = malloc(sizeof *h + len + 1);

	if (h == NULL)
		return PARLEY_ENOMEM;
	h->next = NULL;
	h->head = h->tail = NULL;
	h->waiting = 0;
	memcpy(h->id, id, len + 1);
	*pp = h;
	atomic_fetch_add(&g->held, 1);
	return 0;
}

int
gate_enter(struct gate *g, const char *id, struct gate_waiter *w)
{
	struct stripe *s = stripe_of(g, id);
	struct held **pp, *h;
	int rc;

	pthread_mutex_lock(&s->lock);
	pp = find(s, id);
	if (*pp == NULL) {
		rc = hold(g, pp, id);
		goto out;
	}
	h = *pp;
	if (h->waiting >= g->max_queue) {
		rc = PARLEY_ELIMIT;
		goto out;
	}
	w->next = NULL;
	if (h->tail != NULL)
		h->tail->next = w;
	else
		h->head = w;
	h->tail = w;
	h->waiting++;
	rc = PARLEY_AGAIN;
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int
gate_try_enter(struct gate *g, const char *id)
{
	struct stripe *s = stripe_of(g, id);
	struct held **pp;
	int rc;

	pthread_mutex_lock(&s->lock);
	pp = find(s, id);
	rc = *pp == NULL ? hold(g, pp, id) : PARLEY_AGAIN;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

struct gate_waiter *
gate_leave(struct gate *g, const char *id)
{
	struct stripe *s = stripe_of(g, id);
	struct held **pp, *h;
	struct gate_waiter *w = NULL;

	pthread_mutex_lock(&s->lock);
	pp = find(s, id);
	h = *pp;
	if (h == NULL)
		goto out;
	if (h->head != NULL) {
		w = h->head;
		h->head = w->next;
		if (h->head == NULL)
			h->tail = NULL;
		h->waiting--;
		w->next = NULL;
		goto out;
	}
	*pp = h->next;
	free(h);
	atomic_fetch_sub(&g->held, 1);
out:
	pthread_mutex_unlock(&s->lock);
	return w;
}

unsigned
gate_held(struct gate *g)
{
	return atomic_load(&g->held);
}
