/*
 * mono.h - the monotonic clock in milliseconds, for deadlines, timeouts and
 * leases: it does not jump when the wall clock is set.
 */
#ifndef PARLEY_MONO_H
#define PARLEY_MONO_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t mono_ms(void);

/*
 * Wait until fd is ready for events (poll(2)'s) or the mono_ms() deadline
 * passes. Returns 0 when it is ready (also on POLLERR/POLLHUP: the next call
 * on fd says which), PARLEY_ETIMEDOUT, or PARLEY_EIO when poll fails.
 */
int mono_poll(int fd, short events, int64_t deadline);

#endif /* PARLEY_MONO_H */
