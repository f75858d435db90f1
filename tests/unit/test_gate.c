/*
 * test_gate.c - one message at a time per conversation: holding, queueing in
 * order, the queue limit, and many threads passing one conversation around.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "gate.h"
#include "parley.h"
#include "unit.h"

static void
test_hold_and_queue(void)
{
	struct gate *g;
	struct gate_waiter a, b;

	CU_ASSERT_EQUAL_FATAL(gate_create(&g, 2), 0);
	CU_ASSERT_EQUAL(gate_enter(g, "x", &a), 0);
	CU_ASSERT_EQUAL(gate_held(g), 1);
	CU_ASSERT_EQUAL(gate_try_enter(g, "x"), PARLEY_AGAIN);
	CU_ASSERT_EQUAL(gate_try_enter(g, "y"), 0);
	CU_ASSERT_EQUAL(gate_held(g), 2);
	CU_ASSERT_EQUAL(gate_enter(g, "x", &a), PARLEY_AGAIN);
	CU_ASSERT_EQUAL(gate_enter(g, "x", &b), PARLEY_AGAIN);
	/* First in, first out: a then b, then x is free. */
	CU_ASSERT_PTR_EQUAL(gate_leave(g, "x"), &a);
	CU_ASSERT_PTR_EQUAL(gate_leave(g, "x"), &b);
	CU_ASSERT_PTR_NULL(gate_leave(g, "x"));
	CU_ASSERT_EQUAL(gate_held(g), 1);
	CU_ASSERT_PTR_NULL(gate_leave(g, "y"));
	CU_ASSERT_EQUAL(gate_held(g), 0);
	CU_ASSERT_EQUAL(gate_try_enter(g, "x"), 0);
	CU_ASSERT_PTR_NULL(gate_leave(g, "x"));
	gate_destroy(g);
}

static void
test_queue_limit(void)
{
	struct gate *g;
	struct gate_waiter w[3];

	CU_ASSERT_EQUAL_FATAL(gate_create(&g, 2), 0);
	CU_ASSERT_EQUAL(gate_try_enter(g, "c"), 0);
	CU_ASSERT_EQUAL(gate_enter(g, "c", &w[0]), PARLEY_AGAIN);
	CU_ASSERT_EQUAL(gate_enter(g, "c", &w[1]), PARLEY_AGAIN);
	CU_ASSERT_EQUAL(gate_enter(g, "c", &w[2]), PARLEY_ELIMIT);
	CU_ASSERT_PTR_EQUAL(gate_leave(g, "c"), &w[0]);
	/* One left the queue, so one more fits. */
	CU_ASSERT_EQUAL(gate_enter(g, "c", &w[2]), PARLEY_AGAIN);
	CU_ASSERT_PTR_EQUAL(gate_leave(g, "c"), &w[1]);
	CU_ASSERT_PTR_EQUAL(gate_leave(g, "c"), &w[2]);
	CU_ASSERT_PTR_NULL(gate_leave(g, "c"));
	gate_destroy(g);
}

/*
 * Threads take turns on one conversation the way workers do: whoever holds it
 * runs its own work and every queued item; a counter bumped without atomics
 * would lose counts if two ever held it at once.
 */
struct work {
	struct gate_waiter w;
	int unused;
};

struct shared {
	struct gate *g;
	long counter;
	atomic_int inside;
	atomic_int overlap;
};

static void
run_one(struct shared *s)
{
	if (atomic_fetch_add(&s->inside, 1) != 0)
		atomic_fetch_add(&s->overlap, 1);
	s->counter++;
	atomic_fetch_sub(&s->inside, 1);
}

static void *
taker(void *arg)
{
	struct shared *s = arg;
	static struct work items[8][2000];
	static atomic_int next_slot;
	int slot = atomic_fetch_add(&next_slot, 1);
	int i;

	for (i = 0; i < 2000; i++) {
		struct work *mine = &items[slot][i];
		struct gate_waiter *next;
		int rc = gate_enter(s->g, "conv", &mine->w);

		if (rc == PARLEY_AGAIN)
			continue;           /* the holder runs it */
		CU_ASSERT_EQUAL(rc, 0);
		run_one(s);
		while ((next = gate_leave(s->g, "conv")) != NULL)
			run_one(s);
	}
	return NULL;
}

static void
test_threads(void)
{
	struct shared s;
	pthread_t t[8];
	int i;

	memset(&s, 0, sizeof s);
	CU_ASSERT_EQUAL_FATAL(gate_create(&s.g, 100000), 0);
	for (i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, taker, &s);
	for (i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(s.counter, 8 * 2000);
	CU_ASSERT_EQUAL(atomic_load(&s.overlap), 0);
	CU_ASSERT_EQUAL(gate_held(s.g), 0);
	gate_destroy(s.g);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "hold, queue in order, release", test_hold_and_queue },
		{ "the queue limit", test_queue_limit },
		{ "8 threads on one conversation: every item runs once, never two at a time",
		  test_threads },
		{ NULL, NULL }
	};

	return unit_run("gate", tests);
}
