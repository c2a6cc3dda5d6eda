/*
 * netsock: listening TCP sockets made by hand (before any fork, with SO_REUSEPORT when asked),
 * for the server's listeners and the --metrics endpoint. Below the server: calls nothing above.
 */
#include "netsock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A TCP socket bound to host:port, listening if listening; the fd, or -errno. */
int netsock_bind_tcp(const char *host, int port, bool reuseport, bool listening)
{
    struct addrinfo hints, *ai = NULL;
    char service[8];
    int fd, one = 1, zero = 0, err = 0;

    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &ai) != 0)
        return -EINVAL; /* config_parse checked every address */
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        err = -errno;
    } else {
        /* SO_REUSEADDR (as libuv sets it): connections of a previous server in TIME_WAIT do not
         * block a restart; a listening socket still does */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6) /* "::" takes IPv4 too */
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || (listening && listen(fd, 511) != 0)) {
            err = -errno;
            close(fd);
        }
    }
    freeaddrinfo(ai);
    return err ? err : fd;
}

int netsock_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}
