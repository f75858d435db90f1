/*
 * directory.h - private to the manager: its tables in Berkeley DB. One
 * transactional environment of the manager's own holds three btrees, nodes
 * (ID -> address, incarnation, registered), groups (name -> primary,
 * secondary, epoch) and conversations (ID -> group, service, reply-to,
 * created, ended). Only directory.c includes <db.h>; what the records mean
 * is manager.c's business.
 */
#ifndef PARLEY_DIRECTORY_H
#define PARLEY_DIRECTORY_H

#include <stddef.h>

#include "manager.h"

struct directory;

/*
 * Open (creating, and recovering after a crash) the tables in home, which is
 * made if missing. The directory's lock file keeps a second opener, in this
 * process or another, out. Returns 0, or PARLEY_EIO / PARLEY_EINVAL /
 * PARLEY_ENOMEM with a message saying what to do in err, with *out NULL.
 */
int directory_open(struct directory **out, const char *home, char *err, size_t errlen);

/* Checkpoint and close. NULL is allowed. */
void directory_close(struct directory *d);

/*
 * Call node_cb for every stored node (only id, address, incarnation and
 * registered_ms are filled) and group_cb for every group, in key order. A
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
 * Call cb for every stored conversation, in ID order, in batches read with
 * no lock held while cb runs (cb may call into the directory; it sees a
 * conversation changed meanwhile as it is when its batch is read). cb
 * returns 0 to go on, nonzero to stop (the value is returned). A damaged
 * record is logged and skipped. Returns 0, PARLEY_EIO or PARLEY_ENOMEM.
 */
int directory_scan_conversations(struct directory *d,
    int (*cb)(void *arg, const struct mgr_conv *c), void *arg);

/*
 * Checkpoint when enough log has been written since the last one (or a
 * minute has passed), removing log files no longer needed. Cheap when there
 * is nothing to do. Returns 0 or PARLEY_EIO.
 */
int directory_checkpoint(struct directory *d);

#endif /* PARLEY_DIRECTORY_H */
