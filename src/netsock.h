#ifndef NETSOCK_H
#define NETSOCK_H

#include <stdbool.h>

/* A TCP socket bound to host (numeric) and port, listening (backlog 511) if listening; close-on-
 * exec, non-blocking, SO_REUSEADDR, SO_REUSEPORT if reuseport. The fd, or -errno. */
int netsock_bind_tcp(const char *host, int port, bool reuseport, bool listening);
/* The local port of a bound socket (0 if unknown). */
int netsock_port(int fd);

#endif
