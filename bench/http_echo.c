/*
 * http_echo.c - the container's HTTP server with a handler that echoes the
 * request body, to measure the server alone with wrk. Not part of make
 * check: build it with `make bench/http_echo`, then for example
 *   bench/http_echo -l 127.0.0.1:8080 -w 4 &
 *   BODY=add_plain.xml wrk -t2 -c16 -d10s -s post.lua http://127.0.0.1:8080/counter
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "parley.h"
#include "server.h"

/* Set by the signal handler only; a program's flag, not the library's state. */
static volatile sig_atomic_t quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static int
echo(void *arg, void *worker, struct exchange *x)
{
	(void)arg;
	(void)worker;
	x->content_type = "text/xml; charset=utf-8";
	if (x->req.body != NULL && buf_append(&x->body, x->req.body, x->req.body_len) != 0)
		return PARLEY_ENOMEM;
	return 0;
}

int
main(int argc, char **argv)
{
	struct server_config cfg;
	struct server_hooks hooks = { echo, NULL, NULL, NULL };
	struct server_stats st;
	struct server *s;
	struct sigaction sa;
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	char err[256];
	int ch;

	memset(&cfg, 0, sizeof cfg);
	cfg.listen = "127.0.0.1:8080";
	while ((ch = getopt(argc, argv, "c:l:w:")) != -1) {
		switch (ch) {
		case 'c':
			cfg.max_connections = (unsigned)atoi(optarg);
			break;
		case 'l':
			cfg.listen = optarg;
			break;
		case 'w':
			cfg.workers = (unsigned)atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: http_echo [-l host:port] [-w workers] [-c max_connections]\n");
			return 2;
		}
	}
	log_init("http_echo", 1, LOG_LEVEL_INFO);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (server_start(&s, &cfg, &hooks, err, sizeof err) != 0)
		fatalx("%s", err);
	log_info("listening on %s", server_address(s));
	while (!quit) {
		nanosleep(&tick, NULL);
		server_tick(s);
	}
	server_get_stats(s, &st);
	log_info("accepted %llu, requests %llu, timeouts %llu, refused %llu",
	    (unsigned long long)st.accepted, (unsigned long long)st.requests,
	    (unsigned long long)st.timeouts, (unsigned long long)st.refused);
	server_stop(s, 1000);
	return 0;
}
