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

struct hb_client {
	struct hb_client *next;
	char node[MGR_ID_MAX];
	pthread_mutex_t mu;           /* one call at a time on this client */
	struct soap_client *client;
};

struct cluster {
	char self[MGR_ID_MAX];
	struct locator *locator;      /* this node's, or NULL for a node that is only a manager */
	pthread_mutex_t mu;           /* the list of clients */
	struct hb_client *clients;
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
	pthread_mutex_init(&c->mu, NULL);
	c->service.heartbeat = node_heartbeat;
	c->service.arg = c;
	*out = c;
	return 0;
}

void
cluster_destroy(struct cluster *c)
{
	struct hb_client *h, *next;

	if (c == NULL)
		return;
	for (h = c->clients; h != NULL; h = next) {
		next = h->next;
		soap_client_free(h->client);
		pthread_mutex_destroy(&h->mu);
		free(h);
	}
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

/* The client kept for node, made on first use. */
static struct hb_client *
client_of(struct cluster *c, const char *node, unsigned timeout_ms)
{
	struct hb_client *h;

	pthread_mutex_lock(&c->mu);
	for (h = c->clients; h != NULL; h = h->next)
		if (strcmp(h->node, node) == 0)
			break;
	if (h == NULL && (h = calloc(1, sizeof *h)) != NULL) {
		h->client = soap_client_new(timeout_ms);
		if (h->client == NULL) {
			free(h);
			h = NULL;
		} else {
			snprintf(h->node, sizeof h->node, "%s", node);
			pthread_mutex_init(&h->mu, NULL);
			h->next = c->clients;
			c->clients = h;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return h;
}

int
cluster_heartbeat(void *arg, const struct mgr_node *node, const struct mgr_heartbeat *hb,
    struct mgr_heartbeat_reply *reply, unsigned timeout_ms)
{
	struct cluster *c = arg;
	struct hb_client *h;
	int rc;

	/* This node's own heartbeat needs no network. */
	if (strcmp(node->id, c->self) == 0)
		return node_heartbeat(c, hb, reply);
	h = client_of(c, node->id, timeout_ms);
	if (h == NULL)
		return PARLEY_ENOMEM;
	pthread_mutex_lock(&h->mu);
	soap_client_set_timeout(h->client, timeout_ms);
	rc = nodeclient_heartbeat(h->client, node->address, hb, reply);
	pthread_mutex_unlock(&h->mu);
	return rc;
}
