/*
 * main: wiring only -- the command line, then the server, then the exit code.
 */
#include "build-config.h"

#include "config.h"
#include "log.h"
#include "server.h"
#include "workers.h"

int main(int argc, char **argv)
{
    struct config cfg;
    int rc = config_parse(&cfg, argc, argv);

    if (rc >= 0)
        return rc;
    log_set_level(cfg.loglevel);
    /* --unixsocket alone: one listener that only one process can own */
    if (cfg.workers > 1 && (!cfg.unixsocket || cfg.naddresses || cfg.port_set))
        rc = workers_run(&cfg);
    else
        rc = server_run(&cfg);
    config_free(&cfg);
    return rc;
}
