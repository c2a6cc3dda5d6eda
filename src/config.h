/*
 * config: the websocketd-compatible command line, parsed once into one
 * struct that nothing changes afterwards.
 *
 * Syntax (websocketd's): -x and --x are the same flag; values as --x=v or
 * --x v; boolean flags take no value (--binary, or --binary=true/false);
 * parsing stops at the first argument that is not a flag: it and the rest
 * are COMMAND and its arguments. "--" also ends the flags.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "proxy.h"

/* Exit codes (websocketd's). */
enum config_exit {
    CONFIG_EXIT_OK = 0,         /* --help, --version, --license */
    CONFIG_EXIT_BAD = 1,        /* bad configuration */
    CONFIG_EXIT_UNKNOWN_FLAG = 2,
    CONFIG_EXIT_LISTEN = 3,     /* cannot listen */
    CONFIG_EXIT_DEVCONSOLE = 4, /* --devconsole with --staticdir or --cgidir */
};

struct config_header {
    const char *line; /* "Name: value", as given */
};

struct config {
    /* listeners */
    int port;                  /* 0 -> 80, or 443 with ssl (resolved by config_parse) */
    const char **addresses;    /* --address, repeatable; NULL-terminated; empty = all interfaces */
    size_t naddresses;
    const char *unixsocket;    /* --unixsocket=PATH or NULL */
    bool ssl;
    const char *sslcert, *sslkey, *sslca;
    int redirport;             /* 0 = none */

    /* what to serve */
    char **command;            /* argv of COMMAND (NULL-terminated), NULL in --dir mode */
    const char *command_path;  /* COMMAND resolved on PATH (absolute) */
    const char *dir, *staticdir, *cgidir;
    bool devconsole;

    /* sessions */
    unsigned maxforks;         /* 0 = unlimited */
    unsigned closems;          /* added to each kill-ladder step */
    unsigned pingms;           /* 0 = no pings */
    uint64_t maxframesize;     /* largest inbound message; 0 = unlimited */
    bool binary;
    bool passstderr;
    const char *trust_proxy_list; /* --trust-proxy=LIST as given, or NULL */
    struct proxy_trust trust_proxy; /* parsed; n == 0: no proxy trusted */
    unsigned handshake_timeout_ms; /* --handshake-timeout, default 10000 */
    unsigned cgi_timeout_ms;   /* --cgi-timeout: a CGI script silent this long is stopped */
    unsigned workers;          /* --workers: server processes (default: the CPUs) */
    size_t max_header_bytes;   /* --max-header-bytes, default 16384 */
    unsigned max_headers;      /* --max-headers, default 100 */

    /* environment */
    const char **passenv;      /* names, NULL-terminated; default PATH, LD_LIBRARY_PATH */
    bool reverselookup;

    /* origin policy */
    const char **origins;      /* --origin list entries, NULL-terminated; NULL = any */
    bool sameorigin;

    /* extra response headers: all / 101 only / plain HTTP only (NULL-terminated) */
    const char **headers, **headers_ws, **headers_http;

    enum log_level loglevel;

    /* private */
    bool port_set;
    char **owned; /* strings config_parse allocated (NULL-terminated) */
};

/*
 * Parses argv into c. Returns -1 when the program should go on, or an exit
 * code (enum config_exit) after printing help/version/license to stdout or
 * the reason for a failure to stderr; c is then already released. On -1, c
 * owns what it points to until config_free().
 */
int config_parse(struct config *c, int argc, char **argv);
void config_free(struct config *c);

/* The --help text (kept true to the man page). */
void config_usage(FILE *out);

#endif
