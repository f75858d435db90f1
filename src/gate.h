/*
 * gate.h - one message at a time per conversation. A worker that finds its
 * conversation busy does not wait: its request joins the conversation's
 * queue and the worker goes back to other work; the worker that holds the
 * conversation takes the queued requests in order when it leaves.
 */
#ifndef PARLEY_GATE_H
#define PARLEY_GATE_H

/* Embedded in whatever the caller queues; the gate only links it. */
struct gate_waiter {
	struct gate_waiter *next;
};

struct gate;

/*
 * Make a gate whose queues hold at most max_queue waiters each. Returns 0 or
 * PARLEY_ENOMEM.
 */
int gate_create(struct gate **out, unsigned max_queue);

/* Free the gate; no conversation may be held. NULL is allowed. */
void gate_destroy(struct gate *g);

/*
 * Take conversation id for the caller. Returns 0 when the caller now holds
 * it; PARLEY_AGAIN when it is held by someone else and w was queued (the
 * holder will get w back from gate_leave, and w's owner then holds id);
 * PARLEY_ELIMIT when the queue is full (w not queued); PARLEY_ENOMEM.
 */
int gate_enter(struct gate *g, const char *id, struct gate_waiter *w);

/* Take id only if nobody holds it: 0, or PARLEY_AGAIN (nothing queued), or PARLEY_ENOMEM. */
int gate_try_enter(struct gate *g, const char *id);

/*
 * Leave id, which the caller holds. Returns the next waiter, whose owner now
 * holds id (the caller must see it handled), or NULL when id is free.
 */
struct gate_waiter *gate_leave(struct gate *g, const char *id);

/* The number of conversations held right now (for the status page). */
unsigned gate_held(struct gate *g);

#endif /* PARLEY_GATE_H */
