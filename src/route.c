/*
 * route: URL path -> file under a root, with every escape refused (route.h).
 */
#include "build-config.h"

#include "route.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool route_inside(const char *dir_real, const char *real)
{
    size_t n = strlen(dir_real);

    if (n == 1 && dir_real[0] == '/')
        return real[0] == '/';
    return strncmp(real, dir_real, n) == 0 && (real[n] == '\0' || real[n] == '/');
}

static enum route_status refuse(struct route *out, enum route_status st, const char *why)
{
    out->why = why;
    return st;
}

/* Decodes path[start, end) as one component after buf[0, at) + '/'. Returns the new length, or
 * 0 with out->why set. */
static size_t append_component(char *buf, size_t at, size_t cap, const char *path, size_t start,
                               size_t end, struct route *out, enum route_status *st)
{
    size_t o = at;

    if (at + 1 + (end - start) + 1 > cap) {
        *st = refuse(out, ROUTE_NOT_FOUND, "path too long");
        return 0;
    }
    buf[o++] = '/';
    for (size_t k = start; k < end; k++) {
        char c = path[k];
        if (c == '%') {
            int hi = k + 2 < end ? hexval(path[k + 1]) : -1;
            int lo = hi >= 0 ? hexval(path[k + 2]) : -1;
            if (lo < 0) {
                *st = refuse(out, ROUTE_FORBIDDEN, "bad percent escape");
                return 0;
            }
            c = (char)(hi * 16 + lo);
            k += 2;
        }
        if (c == '/' || c == '\\' || c == '\0') {
            *st = refuse(out, ROUTE_FORBIDDEN, "encoded separator or NUL in the path");
            return 0;
        }
        buf[o++] = c;
    }
    buf[o] = '\0';
    if (buf[at + 1] == '.') {
        *st = refuse(out, ROUTE_FORBIDDEN, "hidden file or dot segment");
        return 0;
    }
    return o;
}

enum route_status route_resolve(const char *root_real, const char *path, size_t len,
                                unsigned flags, struct route *out)
{
    char buf[PATH_MAX];
    size_t blen = strlen(root_real), i = 0;
    enum route_status st = ROUTE_NOT_FOUND;
    bool found_file = false, outside = false, symlinks = false, walked = false;

    memset(out, 0, sizeof *out);
    out->path_info = path + len;
    if (len == 0 || path[0] != '/')
        return refuse(out, ROUTE_NOT_FOUND, "not an absolute path");
    if (blen >= sizeof buf)
        return refuse(out, ROUTE_ERROR, "root path too long");
    memcpy(buf, root_real, blen + 1);
    if (blen == 1 && buf[0] == '/')
        blen = 0; /* components append "/name" */
    while (i < len && !found_file) {
        while (i < len && path[i] == '/')
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        blen = append_component(buf, blen, sizeof buf, path, start, i, out, &st);
        if (blen == 0)
            return st;
        walked = true;
        /* lstat first: with no symlink on the way the path is already the real one, and the
         * realpath() below (a readlink per component) is not needed */
        int rc = lstat(buf, &out->st);
        bool is_link = rc == 0 && S_ISLNK(out->st.st_mode);
        if (is_link) {
            symlinks = true;
            rc = stat(buf, &out->st);
        }
        if (rc != 0) {
            if (outside)
                return refuse(out, ROUTE_FORBIDDEN, "symlink leaves the directory");
            if (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG || errno == ELOOP)
                return refuse(out, ROUTE_NOT_FOUND, "no such file");
            if (errno == EACCES)
                return refuse(out, ROUTE_FORBIDDEN, "permission denied");
            return refuse(out, ROUTE_ERROR, "stat failed");
        }
        if (S_ISDIR(out->st.st_mode)) {
            /* Walking through a symlink out of the root: what is missing out there is 403 like
             * what exists (404 would tell which names exist outside); what leads back in is
             * judged by its real path at the end. */
            if (is_link) {
                char *real = realpath(buf, NULL);
                outside = !real || !route_inside(root_real, real);
                free(real);
            }
            continue;
        }
        if (!S_ISREG(out->st.st_mode))
            return refuse(out, ROUTE_FORBIDDEN, "not a regular file");
        found_file = true;
        if (!(flags & ROUTE_WALK) && i < len)
            return refuse(out, ROUTE_NOT_FOUND, "path continues after a file");
        out->script_len = i;
        out->path_info = path + i;
        out->path_info_len = len - i;
    }

    if (!walked && stat(blen ? buf : "/", &out->st) != 0) /* the path is the root itself */
        return refuse(out, ROUTE_NOT_FOUND, "root directory is gone");
    char *real = symlinks ? realpath(blen ? buf : "/", NULL) : strdup(blen ? buf : "/");
    if (!real)
        return refuse(out, errno == ENOMEM ? ROUTE_ERROR : ROUTE_NOT_FOUND, "realpath failed");
    if (!route_inside(root_real, real)) {
        free(real);
        return refuse(out, ROUTE_FORBIDDEN, "symlink leaves the directory");
    }
    out->file = real;
    if (!found_file) {
        out->script_len = len;
        return ROUTE_DIRECTORY;
    }
    if ((flags & ROUTE_EXEC) && access(real, X_OK) != 0) {
        out->why = "not executable";
        return ROUTE_FORBIDDEN; /* out->file stays set: route_free releases it */
    }
    return ROUTE_FILE;
}

void route_free(struct route *r)
{
    free(r->file);
    r->file = NULL;
}
