/*
 * main: wiring only -- the command line, then the server, then the exit code.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>

#include "config.h"
#include "handshake.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "workers.h"

/*
 * 0, 1 and 2 must be open before anything else is: a socket or pipe of ours
 * numbered 0-2 would be clobbered by the dup2() that gives a child its
 * stdin, stdout and stderr (started from a daemon with them closed).
 */
static void open_standard_fds(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) < 0)
            break;
}

int main(int argc, char **argv)
{
    struct config cfg;
    int rc;

    open_standard_fds();
    rc = config_parse(&cfg, argc, argv);

    if (rc >= 0)
        return rc;
    log_set_level(cfg.loglevel);
    log_set_format(cfg.logformat);
    if (handshake_selftest() != 0) { /* OpenSSL's set-up, once, before workers fork */
        log_error(0, "libcrypto cannot compute Sec-WebSocket-Accept (SHA-1)");
        config_free(&cfg);
        return 1;
    }
    unsigned n = server_processes(&cfg);
    struct server_sockets socks;
    /* every listener is open before anything says "listening" or a worker starts */
    rc = server_sockets_open(&cfg, n, &socks);
    if (rc == 0 && (rc = metrics_open(&cfg)) != 0)
        server_sockets_close(&socks, -1);
    if (rc == 0)
        rc = n > 1 ? workers_run(&cfg, &socks) : server_run(&cfg, &socks, 0, 1);
    server_sockets_close(&socks, -1);
    metrics_close();
    config_free(&cfg);
    return rc;
}
