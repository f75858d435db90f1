/*
 * nodelay.h - TCP_NODELAY on the sockets of libraries that do not set it
 * (nodelay.c). This file is private to the project's sources.
 */
#ifndef PARLEY_NODELAY_H
#define PARLEY_NODELAY_H

/*
 * Return 1. Calling it is what links nodelay.c, and with it the connect()
 * and accept() that set TCP_NODELAY, into a program from libparley.a.
 */
int nodelay_linked(void);

#endif /* PARLEY_NODELAY_H */
