/*
 * main: wiring only -- the command line, then the server, then the exit code.
 */
#include "build-config.h"

#include "config.h"
#include "log.h"
#include "server.h"

int main(int argc, char **argv)
{
    struct config cfg;
    int rc = config_parse(&cfg, argc, argv);

    if (rc >= 0)
        return rc;
    log_set_level(cfg.loglevel);
    rc = server_run(&cfg);
    config_free(&cfg);
    return rc;
}
