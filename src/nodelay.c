/*
 * nodelay.c - TCP_NODELAY on every TCP socket this process connects or accepts.
 *
 * Berkeley DB's replication manager never sets it on its sockets, so each
 * acknowledgement waits for Nagle's algorithm and the peer's delayed ACK
 * (about 40 ms: 23 acknowledged commits a second). The library offers no
 * hook, so connect() and accept() are defined here and call the next
 * definition (libc's, or a sanitizer's that calls libc's) through
 * dlsym(RTLD_NEXT). An executable's own definitions come first in symbol
 * lookup, so libdb's calls land here once this object is linked in: the
 * store calls nodelay_linked() for that reason (libparley.a is an archive).
 * libdb 5.3 calls accept(), not accept4(). The project's own sockets set
 * TCP_NODELAY already, so applying it to every TCP socket changes nothing
 * for them.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>

#include "nodelay.h"

/*
 * With _GNU_SOURCE glibc declares the address arguments as transparent
 * unions (__CONST_SOCKADDR_ARG); the definitions below must match.
 */
#ifdef __USE_GNU
#define SOCKADDR_PTR(a) ((a).__sockaddr__)
#else
#define SOCKADDR_PTR(a) (a)
#endif

typedef int (*connect_fn)(int, __CONST_SOCKADDR_ARG, socklen_t);
typedef int (*accept_fn)(int, __SOCKADDR_ARG, socklen_t *);

/*
 * Set TCP_NODELAY on fd when it is a TCP socket, leaving errno as it was:
 * the caller's result, not this option, is what its caller looks at.
 */
static void
set_nodelay(int fd)
{
	int saved = errno, one = 1, domain = 0, type = 0;
	socklen_t len = sizeof domain;

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
	    (domain == AF_INET || domain == AF_INET6)) {
		len = sizeof type;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM)
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	errno = saved;
}

/*
 * The next definition of name. Resolved on first use and kept: threads may
 * race to resolve it, and they all store the same pointer.
 */
static void *
next_fn(_Atomic(void *) *slot, const char *name)
{
	void *fn = atomic_load_explicit(slot, memory_order_acquire);

	if (fn == NULL) {
		fn = dlsym(RTLD_NEXT, name);
		atomic_store_explicit(slot, fn, memory_order_release);
	}
	return fn;
}

int
connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	static _Atomic(void *) next;
	connect_fn fn = (connect_fn)next_fn(&next, "connect");
	const struct sockaddr *sa = SOCKADDR_PTR(addr);

	if (fn == NULL) {
		errno = ENOSYS;
		return -1;
	}
	/* Set before connecting: the first segment already goes out without delay. */
	if (sa != NULL && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6))
		set_nodelay(fd);
	return fn(fd, addr, len);
}

int
accept(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
	static _Atomic(void *) next;
	accept_fn fn = (accept_fn)next_fn(&next, "accept");
	int s;

	if (fn == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if ((s = fn(fd, addr, len)) >= 0)
		set_nodelay(s);
	return s;
}

int
nodelay_linked(void)
{
	return 1;
}
