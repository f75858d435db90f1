/*
 * echo_server.c - the raw gSOAP baseline of bench/run: the AddItem-shaped
 * operation of echo.h, served the way gSOAP's documentation serves for
 * throughput: a pool of threads, each with its own context, taking accepted
 * sockets from a queue and serving each connection with HTTP keep-alive.
 * It answers count = qty and keeps no state: what gSOAP alone costs.
 *
 *   echo_server [-l host:port] [-w workers] [-k max_keep_alive] [-s]
 */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "echoH.h"
#include "echo.nsmap"
#include "wsaapi.h"

#define QUEUE_MAX 1024
#define ECHO_RESPONSE_ACTION "urn:parley:bench:echo/AddItemResponse"

/* Accepted sockets waiting for a worker: a ring guarded by one mutex. */
static SOAP_SOCKET queue[QUEUE_MAX];
static unsigned queue_head, queue_len;
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_nonempty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t queue_nonfull = PTHREAD_COND_INITIALIZER;

static void
enqueue(SOAP_SOCKET s)
{
	pthread_mutex_lock(&queue_lock);
	while (queue_len == QUEUE_MAX)
		pthread_cond_wait(&queue_nonfull, &queue_lock);
	queue[(queue_head + queue_len) % QUEUE_MAX] = s;
	queue_len++;
	pthread_cond_signal(&queue_nonempty);
	pthread_mutex_unlock(&queue_lock);
}

static SOAP_SOCKET
dequeue(void)
{
	SOAP_SOCKET s;

	pthread_mutex_lock(&queue_lock);
	while (queue_len == 0)
		pthread_cond_wait(&queue_nonempty, &queue_lock);
	s = queue[queue_head];
	queue_head = (queue_head + 1) % QUEUE_MAX;
	queue_len--;
	pthread_cond_signal(&queue_nonfull);
	pthread_mutex_unlock(&queue_lock);
	return s;
}

/*
 * Called by soap_serve between two requests of one keep-alive connection:
 * without it, a connection's per-request memory is freed only when it closes.
 */
static int
serve_loop(struct soap *soap)
{
	soap_destroy(soap);
	soap_end(soap);
	return SOAP_OK;
}

static void *
worker(void *arg)
{
	struct soap *soap = arg;

	for (;;) {
		soap->socket = dequeue();
		soap->fserveloop = serve_loop;
		/* A closed or timed-out connection ends soap_serve; nothing to report. */
		(void)soap_serve(soap);
		soap_destroy(soap);
		soap_end(soap);
		soap_closesock(soap);
	}
	return NULL;
}

int
e__AddItem(struct soap *soap, char *item, int qty, int *count)
{
	if (soap_wsa_check(soap) != SOAP_OK)
		return soap->error;
	if (item == NULL || *item == '\0' || qty < 1)
		return soap_wsa_sender_fault(soap, "item must be given and qty be at least 1", NULL);
	*count = qty;
	/* No MessageID of its own, as parleyd's answer: RelatesTo, Action and the echoed header. */
	return soap_wsa_reply(soap, NULL, ECHO_RESPONSE_ACTION);
}

/* wsa5.h declares SOAP_ENV__Fault as a one-way operation (faults sent to a FaultTo): refuse it. */
int
SOAP_ENV__Fault(struct soap *soap, char *faultcode, char *faultstring, char *faultactor,
    struct SOAP_ENV__Detail *detail, struct SOAP_ENV__Code *code, struct SOAP_ENV__Reason *reason,
    char *node, char *role, struct SOAP_ENV__Detail *detail12)
{
	(void)faultcode;
	(void)faultstring;
	(void)faultactor;
	(void)detail;
	(void)code;
	(void)reason;
	(void)node;
	(void)role;
	(void)detail12;
	return soap_sender_fault(soap, "this endpoint takes no faults", NULL);
}

static void
usage(void)
{
	fprintf(stderr, "usage: echo_server [-l host:port] [-w workers] [-k max_keep_alive] [-s]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct soap *soap;
	char host[256] = "127.0.0.1";
	const char *listen = "127.0.0.1:8081", *colon;
	int workers = 16, max_keep_alive = 0, store = 0, port, ch, i;

	while ((ch = getopt(argc, argv, "k:l:sw:")) != -1) {
		switch (ch) {
		case 'k':
			max_keep_alive = atoi(optarg);
			break;
		case 'l':
			listen = optarg;
			break;
		case 's':
			store = 1;
			break;
		case 'w':
			workers = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	colon = strrchr(listen, ':');
	if (colon == NULL || (size_t)(colon - listen) >= sizeof host || workers < 1 || max_keep_alive < 0)
		usage();
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	port = atoi(colon + 1);

	signal(SIGPIPE, SIG_IGN);
	/* -s buffers a whole response to learn its length; by default gSOAP counts it in a first pass. */
	soap = soap_new1(SOAP_IO_KEEPALIVE | (store ? SOAP_IO_STORE : 0));
	if (soap == NULL || soap_register_plugin(soap, soap_wsa) != SOAP_OK) {
		fprintf(stderr, "echo_server: cannot make a gSOAP context\n");
		return 1;
	}
	/* 0: a connection stays open as long as the client keeps it (gSOAP's default closes after 100). */
	soap->max_keep_alive = max_keep_alive;
	soap->recv_timeout = 30;
	soap->send_timeout = 30;
	soap->bind_flags = SO_REUSEADDR;
	if (!soap_valid_socket(soap_bind(soap, host, port, 1024))) {
		soap_print_fault(soap, stderr);
		return 1;
	}
	if (getsockname(soap->master, (struct sockaddr *)&ss, &sl) == 0)
		port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
		    : ((struct sockaddr_in *)&ss)->sin_port);
	for (i = 0; i < workers; i++) {
		struct soap *copy = soap_copy(soap);
		pthread_t t;

		if (copy == NULL || pthread_create(&t, NULL, worker, copy) != 0) {
			fprintf(stderr, "echo_server: cannot start worker %d\n", i);
			return 1;
		}
		pthread_detach(t);
	}
	fprintf(stderr, "echo_server: listening on %s:%d, %d workers, max_keep_alive %d, %s\n",
	    host, port, workers, max_keep_alive, store ? "SOAP_IO_STORE" : "length counted");
	for (;;) {
		if (!soap_valid_socket(soap_accept(soap))) {
			soap_print_fault(soap, stderr);
			continue;
		}
		enqueue(soap->socket);
		/* The worker owns the socket now. */
		soap->socket = SOAP_INVALID_SOCKET;
	}
	return 0;
}
