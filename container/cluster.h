/*
 * cluster.h - parleyd's glue between the manager, the locator and the
 * cluster's SOAP faces: the heartbeat function the embedded manager calls
 * and the node service that answers heartbeats.
 */
#ifndef PARLEY_CLUSTER_H
#define PARLEY_CLUSTER_H

struct cluster;
struct locator;
struct mgr_node;
struct mgr_heartbeat;
struct mgr_heartbeat_reply;
struct node_service;

/* Make the glue for node self (locator may be NULL on a manager-only node). */
int cluster_create(struct cluster **out, const char *self, struct locator *locator);
void cluster_destroy(struct cluster *c);

/*
 * Set (or, before the locator goes, clear) the locator that answers this
 * node's heartbeats; safe while heartbeats run.
 */
void cluster_set_locator(struct cluster *c, struct locator *locator);

/* The context to register the node's builtin service with (NODE_PATH). */
struct node_service *cluster_node_service(struct cluster *c);

/*
 * The manager's heartbeat function (mgr_heartbeat_fn, arg = the cluster):
 * this node directly, others over SOAP with a client kept per node.
 */
int cluster_heartbeat(void *arg, const struct mgr_node *node, const struct mgr_heartbeat *hb,
    struct mgr_heartbeat_reply *reply, unsigned timeout_ms);

#endif /* PARLEY_CLUSTER_H */
