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
 *   - a symlink is followed by route itself (absolute or relative target,
 *     "." and ".." in it, at most ROUTE_MAX_LINKS of them, more: 404); the
 *     final object's real path must lie inside the root's real path: a
 *     symlink that leaves the root is 403, and so is anything missing out
 *     there (404 would tell which names exist outside); out and back in is
 *     judged by where it ends;
 *   - anything that is not a regular file or directory (fifo, device,
 *     socket) is 403; with ROUTE_EXEC a file that is not executable is 403.
 * A path that ends on a directory returns ROUTE_DIRECTORY (st and file set),
 * so the caller decides (404 for --dir, index.html for static files).
 *
 * Atomic: the walk is done on descriptors, never by re-reading a path
 * string. The root is opened once per call; each URL component is opened
 * with openat(O_PATH | O_NOFOLLOW) in the directory descriptor the previous
 * one gave; a symlink's target is read from the link itself, and where it
 * lands (a real path) is reopened from the root's descriptor with openat2
 * (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) where the
 * kernel has it, an O_NOFOLLOW walk where it does not. The result carries
 * the descriptors of what was checked: serve and execute those (fd; dirfd +
 * name), never file, which is for logs, SCRIPT_FILENAME and the MIME type.
 * A directory swapped for a symlink after the check changes nothing for the
 * caller. What stays path-based is a program's own name in dirfd, at its
 * exec (see child_exec_checked in child.h).
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

enum route_flags {
    ROUTE_WALK = 1,       /* stop at the first regular file: the rest is PATH_INFO */
    ROUTE_EXEC = 2,       /* the file must be executable */
    ROUTE_OPEN = 4,       /* a file found is opened for reading: fd is O_RDONLY, not O_PATH */
    ROUTE_NO_OPENAT2 = 8, /* tests: walk with openat() even where openat2() exists */
};

#define ROUTE_MAX_LINKS 40 /* symlinks followed in one lookup, as the kernel's limit */

enum route_status {
    ROUTE_FILE = 0,      /* a regular file */
    ROUTE_DIRECTORY = 1, /* the path names a directory */
    ROUTE_NOT_FOUND = 404,
    ROUTE_FORBIDDEN = 403,
    ROUTE_ERROR = 500, /* out of memory, or an unexpected system error */
};

/*
 * A zeroed struct route is empty: route_free() on it is a no-op. The
 * descriptors are >= 0 only while file is set, and route_free() closes them;
 * a caller that keeps one sets the field to -1 first.
 */
struct route {
    char *file;            /* real path of what was found (malloc'd; route_free) */
    int fd;                /* ROUTE_FILE: the file checked (O_PATH, O_RDONLY with ROUTE_OPEN),
                              close-on-exec; else -1 */
    int dirfd;             /* ROUTE_FILE: the directory holding it (O_PATH); else -1 */
    const char *name;      /* ROUTE_FILE: its name in dirfd (the last component of file) */
    struct stat st;        /* its stat (fstat of fd, or of the directory) */
    size_t script_len;     /* raw path bytes naming the file: SCRIPT_NAME = path[0, script_len) */
    const char *path_info; /* the raw rest after the file (points into the path; "" if none) */
    size_t path_info_len;
    const char *why; /* for the log, on refusal */
};

/*
 * root_real: the root directory's real path (realpath()), without a
 * trailing '/' (except for "/" itself). path: the raw URL path (before
 * '?'), must start with '/'. Returns a route_status; out->file is set for
 * ROUTE_FILE and ROUTE_DIRECTORY (and for ROUTE_FORBIDDEN "not executable"),
 * out->fd, out->dirfd and out->name for ROUTE_FILE only. Always call
 * route_free() afterwards.
 */
enum route_status route_resolve(const char *root_real, const char *path, size_t len, unsigned flags,
                                struct route *out);
/* Closes the descriptors and frees file; r is empty afterwards. */
void route_free(struct route *r);

/* Is real (a real path) the directory dir_real or inside it? */
bool route_inside(const char *dir_real, const char *real);

#endif
