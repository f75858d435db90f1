/*
 * repsite.h - what the store's replication (repl.c) and the manager's
 * (directory.c) do alike to a Replication Manager environment: name a site,
 * and tell the messages they expect from the ones to log.
 * Included only where <db.h> is.
 */
#ifndef PARLEY_REPSITE_H
#define PARLEY_REPSITE_H

#include <db.h>

/*
 * Name a site of env's group (created, not yet started): which is
 * DB_LOCAL_SITE (this environment's listener) or DB_BOOTSTRAP_HELPER (a site
 * to ask for the group); creator adds DB_GROUP_CREATOR (the first site of a
 * new group). Returns 0 or Berkeley DB's error.
 */
int repsite_add(DB_ENV *env, const char *host, unsigned port, u_int32_t which, int creator);

/*
 * Whether msg, from an environment's error callback, is one the callers
 * expect and handle themselves: the lockout report Berkeley DB prints under
 * DB_REP_CONF_NOWAIT before returning DB_REP_LOCKOUT, which is retried.
 */
int repsite_expected(const char *msg);

/* Milliseconds as Berkeley DB's timeouts want them (microseconds). */
u_int32_t repsite_us(unsigned ms);

#endif /* PARLEY_REPSITE_H */
