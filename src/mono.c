/*
 * mono.c - the monotonic clock in milliseconds (mono.h).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <time.h>

#include "mono.h"
#include "parley.h"

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
mono_poll(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { fd, events, 0 };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - mono_ms();
		if (left <= 0)
			return PARLEY_ETIMEDOUT;
		n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return PARLEY_ETIMEDOUT;
		if (errno != EINTR)
			return PARLEY_EIO;
	}
}
