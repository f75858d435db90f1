/*
 * repl.h - replication of one store's environment with Berkeley DB's
 * Replication Manager (repl.c). This file is private to the store: only
 * store.c includes it. The store keeps its databases and their handles;
 * this part keeps the group: sites, roles, acknowledgements and events.
 */
#ifndef PARLEY_REPL_H
#define PARLEY_REPL_H

#include <db.h>

#include "store.h"

struct repl;

/*
 * Configure env (created, not yet open) for replication as cfg says, and
 * make the state that follows it. owner is the store handed to cfg->event;
 * neither env nor owner is owned by the state. Strings of cfg are copied.
 * Returns 0 with *out set, PARLEY_EINVAL or PARLEY_ENOMEM (with a message in
 * err), or PARLEY_EIO when Berkeley DB refused a setting.
 */
int repl_create(struct repl **out, DB_ENV *env, struct store *owner,
    const struct store_repl *cfg, char *err, size_t errlen);

/*
 * Start replication on the open environment in the configured role. A
 * client whose helper does not answer yet keeps trying on a thread of its
 * own, and this returns 0 at once. Returns 0 or PARLEY_EIO with err set.
 */
int repl_start(struct repl *r, char *err, size_t errlen);

/* Take one Berkeley DB event for r's environment (the store's event callback). */
void repl_event(struct repl *r, u_int32_t event, void *info);

/*
 * Make the environment master. Returns 0 or PARLEY_EIO with err set.
 * The caller opens the databases afterwards.
 */
int repl_promote(struct repl *r, char *err, size_t errlen);

/*
 * Make the environment a client again; the caller closed its databases.
 * Returns 0 or PARLEY_EIO with err set.
 */
int repl_demote(struct repl *r, char *err, size_t errlen);

/* 1 while the environment is master (and has not met another master). */
int repl_is_master(struct repl *r);

/* 1 once a client has caught up (since it started or was demoted). */
int repl_is_synced(struct repl *r);

/* Call right before a commit, on the committing thread. */
void repl_commit_begin(void);

/*
 * Call right after a commit that returned 0, on the same thread: 1 when
 * the commit did not get the acknowledgements it needed, else 0.
 */
int repl_commit_failed(void);

/* Count a write transaction that ended with rc (0 or PARLEY_ENOTACKED count). */
void repl_count(struct repl *r, int rc);

/* As store_set_secondaries, on r's environment. */
int repl_set_secondaries(struct repl *r, const char *const *hosts, const unsigned *ports,
    size_t n, char *err, size_t errlen);

/*
 * Commit without waiting for acknowledgements (on 1) or with the configured
 * policy again (on 0): a promoted store's own bookkeeping (opening its
 * databases) must not wait for a copy that may be the frozen old master.
 * Returns 0 or PARLEY_EIO.
 */
int repl_quiet_acks(struct repl *r, int on);

/* Fill out with r's state (as store_repl_stats). Returns 0 or PARLEY_EIO. */
int repl_stats(struct repl *r, struct store_repl_stats *out);

/*
 * Stop what r runs besides Berkeley DB's own threads (a client's retries to
 * join). Call before closing the environment, which stops replication.
 */
void repl_stop(struct repl *r);

/* Free r (after the environment is closed). NULL is allowed. */
void repl_free(struct repl *r);

#endif /* PARLEY_REPL_H */
