/*
 * mgrsoap.h - the SOAP faces of the cluster: the manager's service
 * (wsdl/manager.wsdl, served at /parley/manager) and the node's service
 * (wsdl/node.wsdl, /parley/node), compiled into parleyd as builtins, and the
 * client calls nodes and managers make to each other with gSOAP.
 *
 * Each WSDL's generated gSOAP code is included, with static linkage, by one
 * file (mgrsoap.c, nodesoap.c), so it clashes with no other service's.
 */
#ifndef PARLEY_MGRSOAP_H
#define PARLEY_MGRSOAP_H

#include <stdint.h>

#include "manager.h"
#include "parley.h"

/*
 * Builtin services, for registry_add_builtin. The manager's handlers take
 * the struct manager * they were registered with; the node's take a
 * struct node_service *.
 */
extern const struct parley_module mgr_module;
extern const char mgr_wsdl[];
extern const struct parley_module node_module;
extern const char node_wsdl[];

#define MGR_PATH "/parley/manager"
#define NODE_PATH "/parley/node"

struct node_service {
	/* Answer a heartbeat; returns 0, or nonzero to answer with a fault. */
	int (*heartbeat)(void *arg, const struct mgr_heartbeat *hb, struct mgr_heartbeat_reply *reply);
	void *arg;
};

/*
 * A gSOAP context for outgoing calls, kept alive between calls (keep-alive
 * to the last host). One thread at a time uses a client.
 */
struct soap_client;

/* Make a client whose calls give up after timeout_ms. NULL when out of memory. */
struct soap_client *soap_client_new(unsigned timeout_ms);
void soap_client_free(struct soap_client *c);

/* Change the time limit of the next calls. */
void soap_client_set_timeout(struct soap_client *c, unsigned timeout_ms);

/*
 * Why the last call failed, in a sentence ("connection refused by
 * 127.0.0.1:8081", "timed out after 200 ms", the fault's reason...). The
 * string lives until the next call.
 */
const char *soap_client_error(const struct soap_client *c);

/*
 * The active manager's URL as named by the standby manager whose fault
 * ended the last call (that call returned PARLEY_ESTANDBY), else "". The
 * string lives until the next call.
 */
const char *soap_client_standby_at(const struct soap_client *c);

/*
 * Calls of the manager at manager_url (http://HOST:PORT/parley/manager).
 * Each returns 0; PARLEY_ENOENT where said; PARLEY_ETIMEDOUT; PARLEY_EIO when
 * the manager cannot be reached or its answer cannot be read; PARLEY_ESTANDBY
 * when it is a standby manager site (soap_client_standby_at may name the
 * active one); PARLEY_EFAULT when it answered with another fault
 * (soap_client_error says it). A call that
 * finds its kept-alive connection closed by the manager is made once more
 * on a new one (every call is idempotent). Outputs are filled only on
 * success. register_node fills at most *n_groups groups (the capacity) and
 * sets *n_groups to the number filled; register_conversations and
 * end_conversations with n 0 call nobody.
 */
int mgrclient_register_node(struct soap_client *c, const char *manager_url, const char *id,
    const char *address, const char *incarnation, int replicated,
    char manager_incarnation[MGR_INCARNATION_MAX],
    unsigned *heartbeat_interval_ms, struct mgr_group *groups, unsigned *n_groups);

/* Renew (manager_renew): granted has room for n; PARLEY_EFAULT when refused. */
int mgrclient_renew(struct soap_client *c, const char *manager_url, const char *node,
    const char *incarnation, const struct mgr_claim *claims, unsigned n,
    struct mgr_claim *granted, unsigned *n_granted, unsigned *lease_ms);

/* PARLEY_ENOENT when the manager knows no such group (out then holds the group alone). */
int mgrclient_locate(struct soap_client *c, const char *manager_url, const char *group,
    struct mgr_route *out);

int mgrclient_register_conversations(struct soap_client *c, const char *manager_url,
    const struct mgr_conv *convs, unsigned n);

int mgrclient_end_conversations(struct soap_client *c, const char *manager_url,
    const char *const *ids, const int64_t *ended_ms, unsigned n);

/* Copies of the manager's tables (ListNodes, ListGroups); the caller frees *out. */
int mgrclient_list_nodes(struct soap_client *c, const char *manager_url, struct mgr_node **out,
    unsigned *n);
int mgrclient_list_groups(struct soap_client *c, const char *manager_url, struct mgr_group **out,
    unsigned *n);

/*
 * ListConversations (manager_list_conversations): the conversations
 * matching f (NULL, or NULL fields, match all; f->session is a session's
 * ID or any of its conversations'), from offset, at most limit (at most
 * 1000: PARLEY_EINVAL above, and nobody is called), each with its session
 * and initiator; *total is how many match in all. The caller frees *out.
 * A session that is not a conversation ID is refused by the manager
 * (PARLEY_EFAULT, soap_client_error says why).
 */
int mgrclient_list_conversations(struct soap_client *c, const char *manager_url,
    const struct mgr_conv_filter *f, unsigned offset, unsigned limit, struct mgr_conv **out,
    unsigned *n, unsigned *total);

/*
 * The manager's Heartbeat call of one node at node_address (http://HOST:PORT;
 * the call goes to NODE_PATH there). Returns as the calls above; an answer
 * whose strings do not fit struct mgr_heartbeat_reply is PARLEY_EIO.
 */
int nodeclient_heartbeat(struct soap_client *c, const char *node_address,
    const struct mgr_heartbeat *hb, struct mgr_heartbeat_reply *reply);

/*
 * Clients for heartbeats, one per node (a kept-alive connection to each),
 * made on first use. nodeclient_pool_heartbeat is a mgr_heartbeat_fn whose
 * arg is the pool: it relies on the manager never calling one node twice at
 * once (manager.h), and may be called for different nodes at once.
 */
struct nodeclient_pool;

/* An empty pool; NULL when out of memory. */
struct nodeclient_pool *nodeclient_pool_new(void);

/* Close every client of the pool and free it; no call may be in flight. NULL is allowed. */
void nodeclient_pool_free(struct nodeclient_pool *p);

/*
 * Call node's Heartbeat at node->address with the node's client, within
 * timeout_ms. Returns 0 with reply filled, or a PARLEY_E code (the reason
 * is logged at debug level).
 */
int nodeclient_pool_heartbeat(void *pool, const struct mgr_node *node,
    const struct mgr_heartbeat *hb, struct mgr_heartbeat_reply *reply, unsigned timeout_ms);

#endif /* PARLEY_MGRSOAP_H */
