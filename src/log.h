/*
 * log.h - the node's log: stderr in the foreground, syslog as a daemon.
 * log_warn appends strerror(errno); the level is checked before formatting,
 * so debug lines cost nothing when they are off.
 */
#ifndef PARLEY_LOG_H
#define PARLEY_LOG_H

#include <stdarg.h>

enum log_level { LOG_LEVEL_WARN = 0, LOG_LEVEL_INFO = 1, LOG_LEVEL_DEBUG = 2 };

/*
 * Set where lines go and which are kept. Called once at start-up (and on
 * SIGHUP for the level) before worker threads log; to_stderr 0 means syslog
 * under ident.
 */
void log_init(const char *ident, int to_stderr, int level);
void log_set_level(int level);

/* Return nonzero when lines of this level are written. */
int log_enabled(int level);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_vwrite(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Log at warning level with errno's text, then exit(1). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Log at warning level, then exit(1). */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif /* PARLEY_LOG_H */
