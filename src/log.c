/*
 * log.c - the node's log (log.h). Lines go to stderr with a timestamp in the
 * foreground and to syslog as a daemon; one write per line keeps lines from
 * several threads whole.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/*
 * Set once at start-up, before threads exist; the level may change on SIGHUP,
 * where a racing reader seeing the old or new value is harmless.
 */
static int log_to_stderr = 1;
static volatile int log_level = LOG_LEVEL_INFO;

void
log_init(const char *ident, int to_stderr, int level)
{
	log_to_stderr = to_stderr;
	log_level = level;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(int level)
{
	log_level = level;
}

int
log_enabled(int level)
{
	return level <= log_level;
}

static void
log_emit(int level, const char *errtext, const char *fmt, va_list ap)
{
	static const char *names[] = { "warning", "info", "debug" };
	static const int prio[] = { LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char msg[2048];
	char line[2200];
	struct timespec ts;
	struct tm tm;
	int n;

	n = vsnprintf(msg, sizeof msg, fmt, ap);
	if (n < 0)
		return;
	if (errtext != NULL) {
		size_t used = strlen(msg);
		snprintf(msg + used, sizeof msg - used, ": %s", errtext);
	}
	if (!log_to_stderr) {
		syslog(prio[level], "%s", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: %s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    ts.tv_nsec / 1000000, names[level], msg);
	if (n > 0) {
		size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
		ssize_t w = write(STDERR_FILENO, line, len);
		(void)w;
	}
}

void
log_vwrite(int level, const char *fmt, va_list ap)
{
	if (level > log_level)
		return;
	log_emit(level, NULL, fmt, ap);
}

void
log_warn(const char *fmt, ...)
{
	char errtext[256];
	va_list ap;
	int saved = errno;

	snprintf(errtext, sizeof errtext, "%s", strerror(saved));
	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARN, errtext, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARN, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_level < LOG_LEVEL_INFO)
		return;
	va_start(ap, fmt);
	log_emit(LOG_LEVEL_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_level < LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	log_emit(LOG_LEVEL_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	char errtext[256];
	va_list ap;

	snprintf(errtext, sizeof errtext, "%s", strerror(errno));
	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARN, errtext, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARN, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
