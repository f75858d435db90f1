/*
 * directory.h - private to the manager: its tables in Berkeley DB. One
 * transactional environment of the manager's own holds three btrees, nodes
 * (ID -> address, incarnation, registered), groups (name -> primary,
 * secondary, epoch) and conversations (ID -> group, service, reply-to,
 * created, ended, from). Only directory.c includes <db.h>; what the records mean
 * is manager.c's business.
 */
#ifndef PARLEY_DIRECTORY_H
#define PARLEY_DIRECTORY_H

#include <stddef.h>

#include "manager.h"

struct directory;

/*
 * A manager site's replication: the tables' environment is a Replication
 * Manager group of all the manager sites, with elections on. Strings are
 * copied.
 */
struct directory_repl {
	const char *listen;                      /* this site's listener, HOST:PORT */
	const char *sites;                       /* the other sites' listeners, comma-separated */
	unsigned heartbeat_ms;                   /* replication heartbeats; 0: 200 */
	unsigned ack_timeout_ms;                 /* how long a commit waits for a quorum; 0: 500 */
};

/*
 * Open (creating, and recovering after a crash) the tables in home, which is
 * made if missing. The directory's lock file keeps a second opener, in this
 * process or another, out. With repl NULL the tables are this process's
 * alone and usable at once. With repl, the environment joins the manager
 * sites' replication group (the site with the lowest listener, as a string,
 * creates it) and Berkeley DB elects its master; the tables are usable only
 * between directory_activate and directory_deactivate, on the master (every
 * other call returns PARLEY_ESTANDBY), and every commit needs the
 * acknowledgement of a quorum of the sites (PARLEY_ENOTACKED when it did
 * not get it: the change is stored here but may be lost). Returns 0, or
 * PARLEY_EIO / PARLEY_EINVAL / PARLEY_ENOMEM with a message saying what to do
 * in err, with *out NULL.
 */
int directory_open(struct directory **out, const char *home, const struct directory_repl *repl,
    char *err, size_t errlen);

/* 1 when the tables are replicated (opened with a struct directory_repl). */
int directory_replicated(const struct directory *d);

/*
 * 1 while Berkeley DB says this site is the master of the replicated
 * tables; always 1 when they are not replicated. Cheap, lock-free.
 */
int directory_is_master(const struct directory *d);

/*
 * On the master: open the tables (creating them), so that the calls below
 * work. Returns 0, PARLEY_ESTANDBY when this site is not master, or
 * PARLEY_EIO. Not replicated: does nothing.
 */
int directory_activate(struct directory *d);

/*
 * Close the tables (waiting for calls in flight): the site is a standby.
 * Not replicated: does nothing.
 */
void directory_deactivate(struct directory *d);

/*
 * Write a small record named key (a quorum must acknowledge it): it proves
 * that this site was still the master a majority follows after the call
 * began. Returns 0, PARLEY_ESTANDBY, PARLEY_ENOTACKED or PARLEY_EIO. Not
 * replicated: returns 0 and writes nothing.
 */
int directory_touch(struct directory *d, const char *key);

/*
 * Record url as the active manager's (on the master), or read the one
 * recorded into out (len bytes; "" when none is known), on any site.
 * Return 0 or a PARLEY_E code (set: as directory_touch).
 */
int directory_set_active_url(struct directory *d, const char *url);
int directory_active_url(struct directory *d, char *out, size_t len);

/* Checkpoint and close. NULL is allowed. */
void directory_close(struct directory *d);

/*
 * Call node_cb for every stored node (only id, address, incarnation,
 * registered_ms and replicated are filled) and group_cb for every group, in key order. A
 * callback returns 0 to go on, nonzero to stop (the value is returned); it
 * must not call into the directory. A damaged record is logged and skipped.
 * Returns 0, PARLEY_EIO or PARLEY_ENOMEM.
 */
int directory_load(struct directory *d, int (*node_cb)(void *arg, const struct mgr_node *n),
    int (*group_cb)(void *arg, const struct mgr_group *g), void *arg);

/*
 * Store node (when not NULL) and the n groups in one transaction, synced to
 * disk before it returns. Records with the same keys are replaced. Returns 0,
 * PARLEY_EINVAL for a record that does not fit, or PARLEY_EIO; nothing is
 * stored on failure.
 */
int directory_put_registration(struct directory *d, const struct mgr_node *node,
    const struct mgr_group *groups, unsigned n);

/*
 * Change n conversations in one transaction. For each i in order, merge is
 * called with the ID ids[i], the stored record (NULL when there is none) and
 * rec, to fill with the record to store; it returns 1 to store rec, 0 to
 * leave the conversation as it is, or a negative PARLEY_E code to abort.
 * When the transaction loses a deadlock, it is run again from the start and
 * merge is called again for every i: merge must only record what it decides
 * under i, never accumulate. The commit is written to the operating system
 * but not synced (a conversation record survives a crash of the process,
 * not necessarily of the machine). Returns 0, merge's failure, or PARLEY_EIO;
 * nothing is stored on failure.
 */
int directory_merge_conversations(struct directory *d, const char *const *ids, unsigned n,
    int (*merge)(void *arg, unsigned i, const struct mgr_conv *old, struct mgr_conv *rec),
    void *arg);

/*
 * Call cb for every stored conversation whose ID is first or after it (NULL
 * or "": every one), in ID order, in batches read with no lock held while
 * cb runs (cb may call into the directory; it sees a conversation changed
 * meanwhile as it is when its batch is read). cb returns 0 to go on,
 * nonzero to stop (the value is returned). A damaged record is logged and
 * skipped. Records of an older format are read with what they lack empty
 * (a conversation recorded before the partner's wsa:From was kept has
 * from ""). Returns 0, PARLEY_EINVAL for a first longer than any ID,
 * PARLEY_EIO or PARLEY_ENOMEM.
 */
int directory_scan_conversations(struct directory *d, const char *first,
    int (*cb)(void *arg, const struct mgr_conv *c), void *arg);

/*
 * Checkpoint when enough log has been written since the last one (or a
 * minute has passed), removing log files no longer needed. Cheap when there
 * is nothing to do. Returns 0 or PARLEY_EIO.
 */
int directory_checkpoint(struct directory *d);

#endif /* PARLEY_DIRECTORY_H */
