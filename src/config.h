/*
 * config: the websocketd-compatible command line, parsed once into one
 * struct that nothing changes afterwards.
 *
 * Syntax (websocketd's): -x and --x are the same flag; values as --x=v or
 * --x v; boolean flags take no value (--binary, or --binary=true/false);
 * parsing stops at the first argument that is not a flag: it and the rest
 * are COMMAND and its arguments. "--" also ends the flags.
 *
 * --config=FILE: the same options, one a line, read before the command line's, which win
 * (a repeatable or list option given on the command line replaces the file's values):
 *
 *     # a comment (whole lines only: '#' inside a value is part of it)
 *     port=8080              name=value, spaces around '=' ignored ("--port=8080" too)
 *     binary                 a boolean alone is on (binary=false: off)
 *     header=X-A: 1          repeatable options: once a line
 *     command=prog 'a b' c   COMMAND and its arguments, split as sh(1) splits words:
 *                            '...' literal, "..." with \" \\ \$ \` escapes, \x outside
 *                            quotes; no expansion. COMMAND on the command line wins.
 *
 * Blank lines are skipped; a line ends at LF (a CR before it is dropped). Errors name the
 * file and the line ("wsbridge.conf:12: unknown option 'prot' (did you mean 'port'?)"); the
 * file must be text (no NUL byte) of at most CONFIG_FILE_MAX bytes. help, version, license
 * and config itself cannot be given there.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "framing.h"
#include "log.h"
#include "pmd.h"
#include "proxy.h"

/* Exit codes (websocketd's). */
enum config_exit {
    CONFIG_EXIT_OK = 0,         /* --help, --version, --license */
    CONFIG_EXIT_BAD = 1,        /* bad configuration */
    CONFIG_EXIT_UNKNOWN_FLAG = 2,
    CONFIG_EXIT_LISTEN = 3,     /* cannot listen */
    CONFIG_EXIT_DEVCONSOLE = 4, /* --devconsole with --staticdir or --cgidir */
};

/* Largest --config file. */
#define CONFIG_FILE_MAX (1u << 20)

/* Largest values of the millisecond options and the header limits. */
#define CONFIG_MS_MAX 3600000u              /* one hour */
#define CONFIG_LIFETIME_MAX 604800000u /* --idle-timeout, --max-lifetime: one week */
#define CONFIG_HEADER_BYTES_MAX (1u << 20)  /* --max-header-bytes: 1 MiB */
#define CONFIG_HEADERS_MAX 10000u           /* --max-headers */

/* One address to listen on, from --address (config_parse resolves host names). */
struct config_address {
    const char *given; /* the --address value it came from (IPv6 without brackets) */
    char host[64];     /* numeric: "127.0.0.1", "::1", "fe80::1%eth0" */
    bool v6;
    bool optional;     /* one of a host name's several addresses: skipped if this system
                          lacks it (EADDRNOTAVAIL, EAFNOSUPPORT) */
};

enum config_shared {
    CONFIG_SHARED_OFF = 0,   /* a program per connection (websocketd) */
    CONFIG_SHARED_BROADCAST, /* --shared */
    CONFIG_SHARED_ADDRESSED, /* --shared=addressed */
};

struct config_header {
    const char *line; /* "Name: value", as given */
};

struct config {
    /* listeners */
    int port;                  /* 0 -> 80, or 443 with ssl (resolved by config_parse) */
    const char **addresses;    /* --address, repeatable; NULL-terminated; empty = all interfaces */
    size_t naddresses;
    struct config_address *listen; /* the addresses resolved, duplicates dropped; nlisten 0 when
                                      no --address: all interfaces */
    size_t nlisten;
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
    unsigned closems;          /* added to each kill-ladder step; at most CONFIG_MS_MAX */
    unsigned pingms;           /* 0 = no pings; at most CONFIG_MS_MAX */
    unsigned idle_timeout_ms;  /* --idle-timeout: no data message either way for this long
                                  closes a session with 1001; 0 = off (the default) */
    unsigned max_lifetime_ms;  /* --max-lifetime: a session lasts at most this long; 0 = off */
    uint64_t maxframesize;     /* largest inbound message; 0 = unlimited */
    bool binary;
    bool passstderr;
    enum framing_mode framing; /* --framing (framing.h), default lines */
    bool deflate;              /* --deflate (default on): negotiate permessage-deflate */
    const char *deflate_params; /* --deflate-params=LIST as given, or NULL */
    struct pmd_policy pmd;     /* both, parsed (pmd.h) */
    bool pty;                  /* --pty: the program runs on a pseudo-terminal */
    bool unbuffered;           /* --unbuffered: line-buffering variables in its environment */
    const char *stdbuf_lib;    /* --unbuffered: the libstdbuf.so found, else NULL */
    const char *trust_proxy_list; /* --trust-proxy=LIST as given, or NULL */
    struct proxy_trust trust_proxy; /* parsed; n == 0: no proxy trusted */
    unsigned handshake_timeout_ms; /* --handshake-timeout, default 10000; 0: no limit on a
                                      request's arrival nor on an idle keep-alive connection */
    unsigned cgi_timeout_ms;   /* --cgi-timeout: a CGI script silent this long is stopped (>= 1) */
    unsigned workers;          /* --workers: server processes (default: the CPUs) */
    size_t max_header_bytes;   /* --max-header-bytes, default 16384, 1..CONFIG_HEADER_BYTES_MAX */
    unsigned max_headers;      /* --max-headers, default 100, 1..CONFIG_HEADERS_MAX */

    /* --shared: one program per endpoint for every client (hub.h) */
    enum config_shared shared;
    const char *slow_client;    /* --slow-client=drop|close as given (default drop) */
    bool slow_close;            /* --slow-client=close */
    uint64_t slow_client_queue; /* --slow-client-queue: bytes a client may lag (default 1 MiB) */
    unsigned shared_linger_ms;  /* --shared-linger: the program outlives its last client */
    const char *redis;          /* --redis=URL: one program across instances (cluster.h) */

    /* environment */
    const char **passenv;      /* names, NULL-terminated; default PATH, LD_LIBRARY_PATH */
    bool reverselookup;

    /* origin policy */
    const char **origins;      /* --origin list entries, NULL-terminated; NULL = any (never
                                  empty: an empty --origin is refused) */
    bool sameorigin;

    /* subprotocols */
    const char **subprotocols; /* --subprotocol list, server preference order; NULL = none */
    bool subprotocol_required; /* --subprotocol-required: 400 when none is in common */

    /* --authorizer */
    const char *authorizer;         /* PROGRAM as given, or NULL: none */
    const char *authorizer_path;    /* resolved (absolute) */
    const char *authorizer_scope;   /* "upgrade" (default) or "all" */
    bool authorize_http;            /* --authorizer-scope=all: plain HTTP requests too */
    unsigned authorizer_timeout_ms; /* default 5000 */
    unsigned authorizer_max;        /* authorizers running at once per process, default 16 */

    /* extra response headers: all / 101 only / plain HTTP only (NULL-terminated) */
    const char **headers, **headers_ws, **headers_http;

    enum log_level loglevel;
    enum log_format logformat; /* --logformat, default text */
    const char *metrics;       /* --metrics=ADDR:PORT as given, or NULL: no endpoint */
    char metrics_host[64];     /* numeric; "127.0.0.1" when only a port was given */
    int metrics_port;

    const char *config_file; /* --config=FILE, or NULL */

    /* private */
    int argc; /* as given to config_parse: config_reload() parses them again */
    char **argv;
    bool port_set;
    bool workers_set;
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

/*
 * SIGHUP: parses cur's command line again, with its --config file as it is now, into next
 * (which then owns what it points to, until config_free). 0, or -1 after logging why at ERROR
 * (DEBUG when quiet) with the file and line (next is then released).
 */
int config_reload(const struct config *cur, struct config *next, bool quiet);

/*
 * Takes into live, from next (a config_reload() result), every option that takes effect
 * without a restart: --maxforks, --closems, --maxframesize, --binary, --passstderr,
 * --idle-timeout, --max-lifetime (for sessions that start afterwards), COMMAND
 * (when both have one), --trust-proxy, --handshake-timeout, --cgi-timeout, --max-header-bytes,
 * --max-headers, --passenv, --reverselookup, --origin, --sameorigin, --header, --header-ws,
 * --header-http, --loglevel. All of them, changed or not: live then points into next for
 * those, so next must outlive live's use of them (the one before may then be freed); the
 * others still point where they did. Logs each change at INFO and each changed option that
 * needs a restart (the rest: listeners, TLS files, --dir, --workers, --pingms...) at ERROR;
 * all at DEBUG when quiet. Returns how many options changed and were applied.
 */
unsigned config_apply(struct config *live, const struct config *next, bool quiet);

/* The --help text (kept true to the man page). */
void config_usage(FILE *out);

#endif
