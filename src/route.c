/*
 * route: URL path -> file under a root, with every escape refused (route.h).
 *
 * The walk keeps one directory descriptor and that directory's real path. A
 * URL component is one openat(O_PATH | O_NOFOLLOW) in it. A symlink is read
 * through its own descriptor and its target walked the same way, "." and ".."
 * by the real path: after ".." or an absolute target the directory is
 * reopened from its real path, beneath the root's descriptor when the path
 * is inside the root (beneath "/" when it is not: then the walk only goes on
 * to see whether it comes back in). So the real path always names the
 * directory held, and what is returned is what was checked.
 */
#include "build-config.h"

#include "route.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(SYS_openat2) && defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define HAVE_OPENAT2 1
#endif
#endif

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

struct walk {
    const char *root;    /* the root's real path */
    size_t rootlen;      /* 0 for "/" */
    int rootfd;          /* the root, O_PATH */
    int slashfd;         /* "/", opened when a symlink leads out of the root; else -1 */
    int dir;             /* the current directory, O_PATH */
    char real[PATH_MAX]; /* its real path without a trailing '/' ("" is "/") */
    size_t rlen;
    bool outside; /* real is not inside the root */
    bool no_openat2;
    int links;               /* symlinks followed so far */
    int obj;                 /* the last lookup ended on a non-directory: it (O_PATH); else -1 */
    char name[NAME_MAX + 1]; /* the non-directory's name in dir */
    struct stat st;          /* the last object looked up */
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static bool walk_inside(const struct walk *w)
{
    return w->rlen >= w->rootlen && memcmp(w->real, w->root, w->rootlen) == 0 &&
           (w->rlen == w->rootlen || w->real[w->rootlen] == '/');
}

#ifdef HAVE_OPENAT2
static bool openat2_missing; /* ENOSYS (an old kernel) or EPERM (a seccomp filter) once */
#endif

/* Opens the directory rel (a real path: no symlink, no "." or "..") under anchor, following no
 * symlink. A descriptor or -errno. */
static int open_beneath(struct walk *w, int anchor, const char *rel)
{
    int cur = anchor;

    if (!*rel)
        rel = ".";
#ifdef HAVE_OPENAT2
    if (!w->no_openat2 && !openat2_missing) {
        struct open_how how = {
            .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, anchor, rel, &how, sizeof how);
        if (fd >= 0)
            return (int)fd;
        if (errno != ENOSYS && errno != EPERM)
            return -errno;
        openat2_missing = true;
    }
#endif
    /* the portable walk: one O_NOFOLLOW component at a time */
    while (*rel) {
        char nm[NAME_MAX + 1];
        size_t n = strcspn(rel, "/");
        if (n > NAME_MAX) {
            if (cur != anchor)
                close(cur);
            return -ENAMETOOLONG;
        }
        memcpy(nm, rel, n);
        nm[n] = '\0';
        int fd = openat(cur, nm, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        if (cur != anchor)
            close(cur);
        if (fd < 0)
            return -e;
        cur = fd;
        rel += n;
        while (*rel == '/')
            rel++;
    }
    return cur != anchor ? cur : -EINVAL; /* rel was "." at least: not reached */
}

/* Reopens w->dir from w->real: beneath the root if the path is inside it, else beneath "/". */
static int reanchor(struct walk *w)
{
    bool inside = walk_inside(w);
    const char *rel = inside ? w->real + w->rootlen : w->real;
    int anchor = w->rootfd, fd;

    if (!inside) {
        if (w->slashfd < 0 && (w->slashfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
            return -errno;
        anchor = w->slashfd;
    }
    while (*rel == '/')
        rel++;
    if ((fd = open_beneath(w, anchor, rel)) < 0)
        return fd;
    close_fd(&w->dir);
    w->dir = fd;
    w->outside = !inside;
    return 0;
}

static int follow(struct walk *w, int link);

/* Looks name (n bytes: no '/', not "." or "..") up in w->dir. A directory becomes w->dir; anything
 * else is left in w->obj and w->name (w->dir is its parent); a symlink is followed. 0 or -errno. */
static int lookup(struct walk *w, const char *name, size_t n)
{
    char nm[NAME_MAX + 1];
    int fd;

    close_fd(&w->obj);
    if (n > NAME_MAX)
        return -ENAMETOOLONG;
    memcpy(nm, name, n);
    nm[n] = '\0';
    if ((fd = openat(w->dir, nm, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return -errno;
    if (fstat(fd, &w->st) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (S_ISLNK(w->st.st_mode))
        return follow(w, fd);
    if (!S_ISDIR(w->st.st_mode)) {
        w->obj = fd;
        memcpy(w->name, nm, n + 1);
        return 0;
    }
    if (w->rlen + 1 + n >= sizeof w->real) {
        close(fd);
        return -ENAMETOOLONG;
    }
    w->real[w->rlen++] = '/';
    memcpy(w->real + w->rlen, nm, n + 1);
    w->rlen += n;
    close_fd(&w->dir);
    w->dir = fd;
    if (w->outside && walk_inside(w))
        return reanchor(w); /* back into the root: hold it as found beneath the root */
    w->outside = !walk_inside(w);
    return 0;
}

/* Walks the target of the symlink link (consumed) from w->dir, as the kernel would. */
static int follow(struct walk *w, int link)
{
    char t[PATH_MAX];
    ssize_t tl = readlinkat(link, "", t, sizeof t);
    int rc = 0;

    close(link);
    if (tl < 0)
        return -errno;
    if ((size_t)tl >= sizeof t)
        return -ENAMETOOLONG;
    if (++w->links > ROUTE_MAX_LINKS)
        return -ELOOP;
    if (tl > 0 && t[0] == '/') {
        w->rlen = 0;
        w->real[0] = '\0';
        if ((rc = reanchor(w)) != 0)
            return rc;
    }
    for (size_t i = 0; i < (size_t)tl;) {
        while (i < (size_t)tl && t[i] == '/')
            i++;
        size_t start = i;
        while (i < (size_t)tl && t[i] != '/')
            i++;
        size_t n = i - start;
        if (n == 0 || (n == 1 && t[start] == '.'))
            continue;
        if (n == 2 && t[start] == '.' && t[start + 1] == '.') {
            while (w->rlen > 0 && w->real[w->rlen - 1] != '/')
                w->rlen--;
            if (w->rlen > 0)
                w->rlen--; /* the '/' before the last component; "/.." stays "/" */
            w->real[w->rlen] = '\0';
            if ((rc = reanchor(w)) != 0)
                return rc;
            continue;
        }
        if ((rc = lookup(w, t + start, n)) != 0)
            return rc;
        if (w->obj >= 0) /* a file: the target must end here, and without a '/' */
            return i < (size_t)tl ? -ENOTDIR : 0;
    }
    return fstat(w->dir, &w->st) == 0 ? 0 : -errno; /* the target names a directory */
}

/* Decodes path[start, end) into nm (cap bytes). Returns its length, or -1 with *st set. */
static long decode_component(char *nm, size_t cap, const char *path, size_t start, size_t end,
                             struct route *out, enum route_status *st)
{
    size_t o = 0;

    if (end - start + 1 > cap) {
        *st = refuse(out, ROUTE_NOT_FOUND, "path too long");
        return -1;
    }
    for (size_t k = start; k < end; k++) {
        char c = path[k];
        if (c == '%') {
            int hi = k + 2 < end ? hexval(path[k + 1]) : -1;
            int lo = hi >= 0 ? hexval(path[k + 2]) : -1;
            if (lo < 0) {
                *st = refuse(out, ROUTE_FORBIDDEN, "bad percent escape");
                return -1;
            }
            c = (char)(hi * 16 + lo);
            k += 2;
        }
        if (c == '/' || c == '\\' || c == '\0') {
            *st = refuse(out, ROUTE_FORBIDDEN, "encoded separator or NUL in the path");
            return -1;
        }
        nm[o++] = c;
    }
    nm[o] = '\0';
    if (nm[0] == '.') {
        *st = refuse(out, ROUTE_FORBIDDEN, "hidden file or dot segment");
        return -1;
    }
    return (long)o;
}

static enum route_status lookup_failed(struct route *out, const struct walk *w, int err)
{
    if (w->outside)
        return refuse(out, ROUTE_FORBIDDEN, "symlink leaves the directory");
    if (err == -ENOENT || err == -ENOTDIR || err == -ENAMETOOLONG || err == -ELOOP)
        return refuse(out, ROUTE_NOT_FOUND, "no such file");
    if (err == -EACCES)
        return refuse(out, ROUTE_FORBIDDEN, "permission denied");
    return refuse(out, ROUTE_ERROR, "lookup failed");
}

/* The walk of the URL path; the result in w (a file in w->obj, or the directory w->dir). */
static enum route_status walk_path(struct walk *w, const char *path, size_t len, unsigned flags,
                                   struct route *out)
{
    char nm[PATH_MAX];
    enum route_status st = ROUTE_NOT_FOUND;

    for (size_t i = 0; i < len;) {
        while (i < len && path[i] == '/')
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        long n = decode_component(nm, sizeof nm - w->rlen - 1, path, start, i, out, &st);
        if (n < 0)
            return st;
        int rc = lookup(w, nm, (size_t)n);
        if (rc != 0)
            return lookup_failed(out, w, rc);
        if (w->obj < 0)
            continue; /* a directory */
        if (!S_ISREG(w->st.st_mode))
            return refuse(out, ROUTE_FORBIDDEN, "not a regular file");
        if (!(flags & ROUTE_WALK) && i < len)
            return refuse(out, ROUTE_NOT_FOUND, "path continues after a file");
        out->script_len = i;
        out->path_info = path + i;
        out->path_info_len = len - i;
        return ROUTE_FILE;
    }
    out->script_len = len;
    return fstat(w->dir, &w->st) == 0 ? ROUTE_DIRECTORY : refuse(out, ROUTE_ERROR, "fstat failed");
}

/* ROUTE_OPEN: the checked file opened for reading by its name in the directory held, and proven
 * the same file (O_PATH opens no fifo or device, and reads nothing). */
static enum route_status open_for_reading(struct walk *w, struct route *out)
{
    struct stat st;
    int fd = openat(w->dir, w->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0)
        return refuse(out, errno == EACCES ? ROUTE_FORBIDDEN : ROUTE_NOT_FOUND,
                      errno == EACCES ? "permission denied" : "file vanished");
    if (fstat(fd, &st) != 0 || st.st_dev != w->st.st_dev || st.st_ino != w->st.st_ino) {
        close(fd);
        return refuse(out, ROUTE_NOT_FOUND, "file replaced during the lookup");
    }
    close_fd(&w->obj);
    w->obj = fd;
    w->st = st;
    return ROUTE_FILE;
}

static enum route_status finish(struct walk *w, enum route_status st, unsigned flags,
                                struct route *out)
{
    size_t nlen = st == ROUTE_FILE ? strlen(w->name) : 0;

    if (w->outside)
        return refuse(out, ROUTE_FORBIDDEN, "symlink leaves the directory");
    out->st = w->st;
    out->file = malloc(w->rlen + nlen + 2);
    if (!out->file)
        return refuse(out, ROUTE_ERROR, "out of memory");
    memcpy(out->file, w->real, w->rlen);
    if (st == ROUTE_DIRECTORY) {
        strcpy(out->file + w->rlen, w->rlen ? "" : "/");
        return ROUTE_DIRECTORY;
    }
    out->file[w->rlen] = '/';
    memcpy(out->file + w->rlen + 1, w->name, nlen + 1);
    out->name = out->file + w->rlen + 1;
    /* access() semantics (the real uid), on the name in the directory held */
    if ((flags & ROUTE_EXEC) && faccessat(w->dir, w->name, X_OK, 0) != 0)
        return refuse(out, ROUTE_FORBIDDEN, "not executable"); /* file stays set: route_free */
    if ((flags & ROUTE_OPEN) && (st = open_for_reading(w, out)) != ROUTE_FILE)
        return st;
    out->fd = w->obj;
    out->dirfd = w->dir;
    w->obj = w->dir = -1;
    return ROUTE_FILE;
}

enum route_status route_resolve(const char *root_real, const char *path, size_t len, unsigned flags,
                                struct route *out)
{
    struct walk *w;
    enum route_status st;

    memset(out, 0, sizeof *out);
    out->fd = out->dirfd = -1;
    out->path_info = path + len;
    if (len == 0 || path[0] != '/')
        return refuse(out, ROUTE_NOT_FOUND, "not an absolute path");
    if (strlen(root_real) >= PATH_MAX)
        return refuse(out, ROUTE_ERROR, "root path too long");
    if (!(w = malloc(sizeof *w))) /* PATH_MAX and more: not on the stack of a deep walk */
        return refuse(out, ROUTE_ERROR, "out of memory");
    w->root = root_real;
    w->rootlen = strcmp(root_real, "/") == 0 ? 0 : strlen(root_real);
    memcpy(w->real, root_real, w->rootlen);
    w->real[w->rootlen] = '\0';
    w->rlen = w->rootlen;
    w->slashfd = w->obj = w->dir = -1;
    w->outside = false;
    w->no_openat2 = flags & ROUTE_NO_OPENAT2;
    w->links = 0;
    w->name[0] = '\0';
    w->rootfd = open(root_real, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (w->rootfd < 0 || (w->dir = fcntl(w->rootfd, F_DUPFD_CLOEXEC, 0)) < 0)
        st = refuse(out, ROUTE_NOT_FOUND, "root directory is gone");
    else if ((st = walk_path(w, path, len, flags, out)) == ROUTE_FILE || st == ROUTE_DIRECTORY)
        st = finish(w, st, flags, out);
    close_fd(&w->obj);
    close_fd(&w->dir);
    close_fd(&w->slashfd);
    close_fd(&w->rootfd);
    free(w);
    return st;
}

void route_free(struct route *r)
{
    if (r->file) {
        close_fd(&r->fd);
        close_fd(&r->dirfd);
    }
    free(r->file);
    r->file = NULL;
    r->name = NULL;
}
