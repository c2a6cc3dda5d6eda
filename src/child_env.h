/*
 * child_env: the environment a program started for a request sees (CGI/1.1,
 * RFC 3875, as websocketd sets it): pure, no libuv, no I/O besides getenv().
 */
#ifndef CHILD_ENV_H
#define CHILD_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct handshake_header; /* handshake.h */

struct child_env_request {
    const char *server_software; /* "wsbridge/0.1.0" */
    const char *const *passenv;  /* parent variable names to keep (NULL-terminated) */
    const char *remote_addr;     /* "127.0.0.1" */
    int remote_port;
    const char *remote_host; /* reverse DNS name, or NULL (then remote_addr) */
    bool https;
    const char *ssl_client_s_dn; /* verified client certificate's subject, "" or NULL: none */
    const char *method;          /* "GET" when NULL */
    const char *script_name;     /* raw URL of the script: "/" for COMMAND mode */
    size_t script_name_len;      /* 0: strlen(script_name) */
    const char *path;            /* raw request path (before '?'): PATH_TRANSLATED */
    size_t path_len;
    const char *path_info; /* raw rest after the script (--dir, CGI); NULL: path */
    size_t path_info_len;
    const char *script_filename; /* the script's file (--dir, CGI): SCRIPT_FILENAME, or NULL */
    const char *content_length;  /* CGI request body: "" when NULL */
    const char *content_type;
    const char *query;                      /* raw query ("" when none) */
    const char *url;                        /* raw request target */
    const struct handshake_header *headers; /* as received */
    unsigned nheaders;
    uint64_t unique_id;
    const char *stdbuf_lib; /* --unbuffered: libstdbuf.so's path (child_env_build), or NULL */
    const char *term;       /* TERM for a --pty program (unless passenv gives one), or NULL */
    const char *subprotocol; /* the one negotiated (SEC_WEBSOCKET_PROTOCOL), or NULL */
    const char *remote_user; /* REMOTE_USER (the --authorizer's Remote-User), or NULL: "" */
    /* "NAME=value" from the --authorizer (AUTHZ_*), NULL-terminated, or NULL; a passenv
     * variable of the same name is not passed */
    char *const *extra_env;
};

/*
 * Builds the CGI environment (NULL-terminated "NAME=value" array in one
 * allocation: free() it). The parent's environment is dropped except the
 * passenv names. Request headers become HTTP_<NAME> (uppercased, '-' ->
 * '_'), repeated names joined with ", ", CR/LF/other controls in values ->
 * space, with this hygiene: a "Proxy" header is dropped (httpoxy: no
 * HTTP_PROXY); a name that is not an RFC 9110 token is dropped; a name
 * containing '_' is dropped (as nginx does), so "X_A" can never shadow or
 * impersonate "X-A". Returns NULL when out of memory.
 *
 * stdbuf_lib (--unbuffered): what makes ordinary programs flush per line on
 * a pipe: LD_PRELOAD=stdbuf_lib (after a passed LD_PRELOAD's entries) with
 * _STDBUF_O=L, as `stdbuf -oL` sets them (C stdio of dynamically linked
 * programs: its stdout line-buffered; stderr is unbuffered already and left
 * so), and PYTHONUNBUFFERED=1. These replace a passed variable of the same
 * name. Runtimes that need nothing: node (synchronous writes to pipes), Go,
 * Rust (LineWriter), Java's println (autoflush); none exists for Ruby and
 * Perl. term: TERM=term unless TERM is passed.
 */
char **child_env_build(const struct child_env_request *r);

#endif
