/*
 * route: a URL path -> a file under a root directory, refusing every way
 * out of the root. Used by --dir (the script behind a WebSocket URL),
 * --cgidir and --staticdir. No libuv: plain system calls, unit-tested on a
 * real tree.
 *
 * The raw (still percent-encoded) path is walked one component at a time:
 *   - an empty component ("//", a trailing "/") is skipped;
 *   - each component is percent-decoded; a bad escape, or a decoded '/',
 *     '\\' or NUL, is refused (403): no encoded separators;
 *   - a component that starts with '.' is refused (403): hidden files, and
 *     "." and ".." in every spelling (raw or %2e);
 *   - a component that does not exist is 404;
 *   - a directory: go on. With ROUTE_WALK the first regular file ends the
 *     walk, the rest of the raw path is PATH_INFO; without it the file must
 *     be the last component (more after it: 404);
 *   - the final object's real path (symlinks resolved) must lie inside the
 *     root's real path: a symlink that leaves the root is 403;
 *   - anything that is not a regular file or directory (fifo, device,
 *     socket) is 403; with ROUTE_EXEC a file that is not executable is 403.
 * A path that ends on a directory returns ROUTE_DIRECTORY (st and file set),
 * so the caller decides (404 for --dir, index.html for static files).
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

enum route_flags {
    ROUTE_WALK = 1, /* stop at the first regular file: the rest is PATH_INFO */
    ROUTE_EXEC = 2, /* the file must be executable */
};

enum route_status {
    ROUTE_FILE = 0,      /* a regular file */
    ROUTE_DIRECTORY = 1, /* the path names a directory */
    ROUTE_NOT_FOUND = 404,
    ROUTE_FORBIDDEN = 403,
    ROUTE_ERROR = 500, /* out of memory, or an unexpected system error */
};

struct route {
    char *file;             /* real path of what was found (malloc'd; route_free) */
    struct stat st;         /* its stat */
    size_t script_len;      /* raw path bytes naming the file: SCRIPT_NAME = path[0, script_len) */
    const char *path_info;  /* the raw rest after the file (points into the path; "" if none) */
    size_t path_info_len;
    const char *why;        /* for the log, on refusal */
};

/*
 * root_real: the root directory's real path (realpath()), without a
 * trailing '/' (except for "/" itself). path: the raw URL path (before
 * '?'), must start with '/'. Returns a route_status; out->file is set for
 * ROUTE_FILE and ROUTE_DIRECTORY.
 */
enum route_status route_resolve(const char *root_real, const char *path, size_t len,
                                unsigned flags, struct route *out);
void route_free(struct route *r);

/* Is real (a real path) the directory dir_real or inside it? */
bool route_inside(const char *dir_real, const char *real);

#endif
