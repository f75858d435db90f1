/*
 * cluster.c - how parleyd joins its node to the cluster: the heartbeat
 * function the embedded manager calls (a direct call for this node, SOAP for
 * the others, each over a kept-alive client of its own) and the node's own
 * SOAP service that answers heartbeats.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "locator.h"
#include "manager.h"
#include "mgrsoap.h"
#include "parley.h"

struct cluster {
	char self[MGR_ID_MAX];
	struct locator *locator;      /* this node's, or NULL for a node that is only a manager */
	pthread_mutex_t mu;           /* guards locator */
	struct nodeclient_pool *clients;
	struct node_service service;
};

/*
 * The node service's heartbeat (a remote manager calling this node): through
 * the lock, so that the locator cannot go away under a call.
 */
static int
node_heartbeat(void *arg, const struct mgr_heartbeat *hb, struct mgr_heartbeat_reply *reply)
{
	struct cluster *c = arg;
	int rc = PARLEY_ESTATE;

	pthread_mutex_lock(&c->mu);
	if (c->locator != NULL)
		rc = locator_heartbeat(c->locator, hb, reply);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int
cluster_create(struct cluster **out, const char *self, struct locator *locator)
{
	struct cluster *c = calloc(1, sizeof *c);

	*out = NULL;
	if (c == NULL)
		return PARLEY_ENOMEM;
	snprintf(c->self, sizeof c->self, "%s", self);
	c->locator = locator;
	c->clients = nodeclient_pool_new();
	if (c->clients == NULL) {
		free(c);
		return PARLEY_ENOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	c->service.heartbeat = node_heartbeat;
	c->service.arg = c;
	*out = c;
	return 0;
}

void
cluster_destroy(struct cluster *c)
{
	if (c == NULL)
		return;
	nodeclient_pool_free(c->clients);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void
cluster_set_locator(struct cluster *c, struct locator *locator)
{
	pthread_mutex_lock(&c->mu);
	c->locator = locator;
	pthread_mutex_unlock(&c->mu);
}

struct node_service *
cluster_node_service(struct cluster *c)
{
	return &c->service;
}

int
cluster_heartbeat(void *arg, const struct mgr_node *node, const struct mgr_heartbeat *hb,
    struct mgr_heartbeat_reply *reply, unsigned timeout_ms)
{
	struct cluster *c = arg;

	/* This node's own heartbeat needs no network. */
	if (strcmp(node->id, c->self) == 0)
		return node_heartbeat(c, hb, reply);
	return nodeclient_pool_heartbeat(c->clients, node, hb, reply, timeout_ms);
}
