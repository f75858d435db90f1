/*
 * mono.h - the monotonic clock in milliseconds, for deadlines, timeouts and
 * leases: it does not jump when the wall clock is set.
 */
#ifndef PARLEY_MONO_H
#define PARLEY_MONO_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t mono_ms(void);

#endif /* PARLEY_MONO_H */
