/*
 * Unit tests of route: a real tree in a mkdtemp directory (files, dirs, exec
 * bits, hidden files, a fifo, symlinks inside, out, out-and-back and into a
 * sibling whose name has the root's as a prefix), and every rule of route.h
 * checked with its exact status, script_len, path_info and real path, both
 * with openat2() and with the portable O_NOFOLLOW walk. Then the descriptor
 * API: what was checked is what is held, also after the tree changes, and no
 * descriptor is left open on any path.
 */
#include "build-config.h"

#include "route.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned mode_flags; /* ORed into every check: 0 or ROUTE_NO_OPENAT2 */

static char top[256];       /* the mkdtemp directory (real path) */
static char root[PATH_MAX]; /* top/root: the served directory */

static void die(const char *what)
{
    printf("Bail out! %s: %s\n", what, strerror(errno));
    exit(1);
}

static const char *at(const char *rel)
{
    static char buf[4][PATH_MAX];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, PATH_MAX, "%s/%s", top, rel);
    return b;
}

static void mkfile(const char *rel, mode_t mode)
{
    int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, "#!/bin/sh\nexit 0\n", 17) != 17 || close(fd) != 0)
        die(rel);
    if (chmod(at(rel), mode) != 0)
        die(rel);
}

static void mkdir_(const char *rel)
{
    if (mkdir(at(rel), 0755) != 0)
        die(rel);
}

static void link_(const char *target, const char *rel)
{
    if (symlink(target, at(rel)) != 0)
        die(rel);
}

static void build_tree(void)
{
    char tmpl[] = "/tmp/wsb-route-XXXXXX", real[PATH_MAX];
    if (!mkdtemp(tmpl) || !realpath(tmpl, real))
        die("mkdtemp");
    if (strlen(real) >= sizeof top) {
        errno = ENAMETOOLONG;
        die(real);
    }
    strcpy(top, real);
    snprintf(root, sizeof root, "%s/root", top);
    mkdir_("root");
    mkfile("root/script.sh", 0755);
    mkfile("root/plain.txt", 0644);
    mkfile("root/owner-x.sh", 0744);
    mkfile("root/sp ace.sh", 0755);
    mkfile("root/a%b.sh", 0755);
    mkfile("root/.hidden.sh", 0755);
    mkdir_("root/.hdir");
    mkfile("root/.hdir/x.sh", 0755);
    mkdir_("root/dir");
    mkfile("root/dir/sub.sh", 0755);
    mkfile("root/dir/index.html", 0644);
    mkdir_("root/dir/deeper");
    mkfile("root/dir/deeper/leaf.sh", 0755);
    if (mkfifo(at("root/fifo"), 0755) != 0)
        die("mkfifo");
    link_("script.sh", "root/link-in");
    link_("link-in", "root/link-chain");
    link_("dir", "root/link-dir-in");
    link_(at("root/script.sh"), "root/link-abs-in");
    link_("../outside/secret.sh", "root/link-out");
    link_("/bin/sh", "root/link-bin-sh");
    link_("../outside", "root/link-dir-out");
    link_("../rootevil/x.sh", "root/link-prefix");
    link_("nonexistent", "root/dangling");
    link_("loop", "root/loop");
    link_("../script.sh", "root/dir/up");
    link_(".", "root/self");
    link_("dir/deeper/", "root/link-slash-dir");
    link_("../outside/nothing", "root/dangling-out");
    link_(at("outside"), "root/link-abs-out");
    link_("../../root/dir/../script.sh", "root/dir/out-and-in");
    mkdir_("outside");
    mkfile("outside/secret.sh", 0755);
    link_("../root/script.sh", "outside/back");
    mkdir_("rootevil");
    mkfile("rootevil/x.sh", 0755);
}

static void rm_tree(void)
{
    char cmd[PATH_MAX + 32];
    /* only our own mkdtemp directory */
    if (strncmp(top, "/tmp/wsb-route-", 15) != 0)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    if (system(cmd) != 0)
        diag("could not remove %s", top);
}

struct want {
    enum route_status st;
    size_t script_len;     /* checked for FILE and DIRECTORY */
    const char *path_info; /* checked for FILE */
    const char *file;      /* relative to top, checked for FILE and DIRECTORY; NULL: not checked */
};

/* Resolves path (its first len bytes; len < 0: all) and checks everything want says. */
static void check_n(const char *path, long len, unsigned flags, struct want w)
{
    struct route r;
    size_t n = len < 0 ? strlen(path) : (size_t)len;
    const char *fl = flags == (ROUTE_WALK | ROUTE_EXEC) ? "walk|exec"
                     : flags == ROUTE_WALK              ? "walk"
                     : flags == ROUTE_EXEC              ? "exec"
                                                        : "plain";
    enum route_status st = route_resolve(root, path, n, flags | mode_flags, &r);

    if (!ok(st == w.st, "%s [%.*s]: %d", fl, (int)n, path, (int)w.st))
        diag("  got %d (%s)", (int)st, r.why ? r.why : "no reason");
    if (st == ROUTE_FILE || st == ROUTE_DIRECTORY) {
        is_int(r.script_len, w.script_len, "  script_len %zu", w.script_len);
        if (w.file) {
            const char *want_file = *w.file ? at(w.file) : top;
            if (!ok(r.file && strcmp(r.file, want_file) == 0, "  real path %s", w.file))
                diag("  got %s", r.file ? r.file : "(null)");
        }
        ok(r.st.st_mode != 0, "  st is filled");
    }
    if (st == ROUTE_FILE) {
        struct stat fst;
        ok(r.fd >= 0 && fstat(r.fd, &fst) == 0 && fst.st_ino == r.st.st_ino &&
               fst.st_dev == r.st.st_dev && S_ISREG(fst.st_mode),
           "  fd is the file found");
        ok(r.dirfd >= 0 && r.name && fstatat(r.dirfd, r.name, &fst, AT_SYMLINK_NOFOLLOW) == 0 &&
               fst.st_ino == r.st.st_ino,
           "  name in dirfd is the file found");
    } else {
        ok(r.fd == -1 && r.dirfd == -1, "  no descriptor unless a file");
    }
    if (st == ROUTE_FILE && w.path_info) {
        size_t wl = strlen(w.path_info);
        ok(r.path_info == path + r.script_len, "  path_info points into the path");
        is_mem(r.path_info, r.path_info_len, w.path_info, wl, "  path_info [%s]", w.path_info);
    }
    if (st != ROUTE_FILE && st != ROUTE_DIRECTORY)
        ok(r.why != NULL && *r.why, "  a reason for the log");
    route_free(&r); /* also after a refusal: a set file must not leak (ASan) */
    ok(r.file == NULL, "  route_free clears file");
}

static void check(const char *path, unsigned flags, struct want w)
{
    check_n(path, -1, flags, w);
}

#define WX (ROUTE_WALK | ROUTE_EXEC)
#define FILE_(len, pi, f) ((struct want){ROUTE_FILE, len, pi, f})
#define DIR_(len, f) ((struct want){ROUTE_DIRECTORY, len, NULL, f})
#define E404 ((struct want){ROUTE_NOT_FOUND, 0, NULL, NULL})
#define E403 ((struct want){ROUTE_FORBIDDEN, 0, NULL, NULL})

static void test_inside(void)
{
    ok(route_inside("/a/b", "/a/b"), "inside: the directory itself");
    ok(route_inside("/a/b", "/a/b/c"), "inside: a child");
    ok(route_inside("/a/b", "/a/b/c/d"), "inside: a grandchild");
    ok(!route_inside("/a/b", "/a/bc"), "not inside: a sibling with the name as prefix");
    ok(!route_inside("/a/b", "/a"), "not inside: the parent");
    ok(!route_inside("/a/b", "/x/a/b"), "not inside: elsewhere");
    ok(route_inside("/", "/etc/passwd"), "inside /: everything");
}

static void test_found(void)
{
    check("/script.sh", WX, FILE_(10, "", "root/script.sh"));
    check("/script.sh/", WX, FILE_(10, "/", "root/script.sh"));
    check("/script.sh/a/b", WX, FILE_(10, "/a/b", "root/script.sh"));
    /* PATH_INFO is data: raw, not decoded, dots allowed, nothing behind it is looked up */
    check("/script.sh/x%20y/../.git", WX, FILE_(10, "/x%20y/../.git", "root/script.sh"));
    check("/dir/sub.sh", WX, FILE_(11, "", "root/dir/sub.sh"));
    check("/dir/sub.sh/more", WX, FILE_(11, "/more", "root/dir/sub.sh"));
    check("//dir//sub.sh//x", WX, FILE_(13, "//x", "root/dir/sub.sh"));
    check("/dir/deeper/leaf.sh", WX, FILE_(19, "", "root/dir/deeper/leaf.sh"));
    check("/sp%20ace.sh/p", WX, FILE_(12, "/p", "root/sp ace.sh"));
    check("/a%25b.sh", WX, FILE_(9, "", "root/a%b.sh"));
    check("/%73cript.sh", WX, FILE_(12, "", "root/script.sh"));
    check("/owner-x.sh", WX, FILE_(11, "", "root/owner-x.sh"));
    /* only the first len bytes count: the rest (a query, a NUL-less buffer) is not read */
    check_n("/script.sh/xyz", 10, WX, FILE_(10, "", "root/script.sh"));
    check_n("/dir/sub.sh?q=1", 11, WX, FILE_(11, "", "root/dir/sub.sh"));
}

static void test_directories(void)
{
    check("/", WX, DIR_(1, "root"));
    check("/", 0, DIR_(1, "root"));
    check("/dir", WX, DIR_(4, "root/dir"));
    check("/dir/", 0, DIR_(5, "root/dir"));
    check("//dir//deeper//", 0, DIR_(15, "root/dir/deeper"));
    check("/link-dir-in/", 0, DIR_(13, "root/dir"));
}

static void test_not_found(void)
{
    check("/missing", WX, E404);
    check("/missing", 0, E404);
    check("/dir/missing/x", WX, E404);
    check("/dir/deeper/missing.sh", WX, E404);
    check("", WX, E404);
    check("script.sh", WX, E404); /* not absolute */
    check("/dangling", WX, E404);
    check("/loop", WX, E404);
    /* without ROUTE_WALK a file must be the last component */
    check("/plain.txt/x", 0, E404);
    check("/dir/index.html/", 0, E404);
    /* a component longer than NAME_MAX, a path longer than PATH_MAX */
    char big[PATH_MAX + 64];
    big[0] = '/';
    memset(big + 1, 'a', 300);
    big[301] = '\0';
    check(big, WX, E404);
    for (size_t i = 0; i + 2 < sizeof big; i += 2)
        big[i] = '/', big[i + 1] = 'd';
    big[sizeof big - 1] = '\0';
    check(big, WX, E404);
}

static void test_forbidden(void)
{
    /* not executable, not regular */
    check("/plain.txt", WX, E403);
    check("/plain.txt", ROUTE_EXEC, E403);
    check("/plain.txt", 0, FILE_(10, "", "root/plain.txt"));
    check("/plain.txt/x", ROUTE_WALK, FILE_(10, "/x", "root/plain.txt"));
    check("/dir/index.html", WX, E403);
    check("/fifo", WX, E403);
    check("/fifo", 0, E403);
    check("/fifo/x", WX, E403);

    /* hidden files and dot segments, in every spelling */
    check("/.hidden.sh", WX, E403);
    check("/.hidden.sh", 0, E403);
    check("/.hdir/x.sh", WX, E403);
    check("/%2ehidden.sh", WX, E403);
    check("/%2Ehdir/x.sh", WX, E403);
    check("/.", WX, E403);
    check("/./script.sh", WX, E403);
    check("/dir/../script.sh", WX, E403);
    check("/dir/..", 0, E403);
    check("/dir/%2e%2e/script.sh", WX, E403);
    check("/dir/%2E%2E/script.sh", WX, E403);
    check("/dir/.%2e/script.sh", WX, E403);
    check("/dir/%2e./script.sh", WX, E403);
    check("/../root/script.sh", WX, E403);
    check("/.nonexistent", WX, E403); /* refused before it is looked up */

    /* encoded separators, NUL and bad escapes */
    check("/dir%2fsub.sh", WX, E403);
    check("/dir%2Fsub.sh", WX, E403);
    check("/dir%5csub.sh", WX, E403);
    check("/dir%5Csub.sh", WX, E403);
    check("/script.sh%00", WX, E403);
    check("/script.sh%00.txt", 0, E403);
    check("/%2e%2e%2fetc/passwd", WX, E403);
    check("/bad%zz", WX, E403);
    check("/bad%2", WX, E403);
    check("/bad%", WX, E403);
    check("/%", WX, E403);
    check("/bad%g0", WX, E403);
    /* the escape may not borrow bytes past len */
    check_n("/script.sh%41", 11, WX, E403);
    check_n("/x%2e", 3, WX, E403);

    /* symlinks */
    check("/link-in", WX, FILE_(8, "", "root/script.sh"));
    check("/link-chain/p", WX, FILE_(11, "/p", "root/script.sh"));
    check("/link-abs-in", WX, FILE_(12, "", "root/script.sh"));
    check("/link-dir-in/sub.sh/x", WX, FILE_(19, "/x", "root/dir/sub.sh"));
    check("/link-out", WX, E403);
    check("/link-out", 0, E403);
    check("/link-out/x", WX, E403);
    check("/link-bin-sh", WX, E403);
    check("/link-dir-out", 0, E403);
    check("/link-dir-out/", 0, E403);
    check("/link-dir-out/secret.sh", WX, E403);
    check("/link-dir-out/secret.sh/x", WX, E403);
    check("/link-prefix", WX, E403);
    check("/link-dir-out/..", 0, E403);
    /* through a symlink out of the root a missing name answers like an existing one: no
     * existence oracle outside (B4) */
    check("/link-dir-out/no-such-file", WX, E403);
    check("/link-dir-out/no-such-file", 0, E403);
    /* out and back in: the object served is inside */
    check("/link-dir-out/back", WX, FILE_(18, "", "root/script.sh"));
    check("/dir/out-and-in", WX, FILE_(15, "", "root/script.sh"));
    /* ".." and "." inside a target, a trailing '/' on a directory's */
    check("/dir/up/x", WX, FILE_(7, "/x", "root/script.sh"));
    check("/self/self/dir/sub.sh", WX, FILE_(21, "", "root/dir/sub.sh"));
    check("/self/", 0, DIR_(6, "root"));
    check("/link-slash-dir/leaf.sh", WX, FILE_(23, "", "root/dir/deeper/leaf.sh"));
    /* missing out there is 403 too, also at the end of a link; an absolute link out */
    check("/dangling-out", WX, E403);
    check("/link-abs-out/secret.sh", WX, E403);
    check("/link-abs-out/", 0, E403);

    /* permissions only bind a non-root user */
    if (geteuid() != 0) {
        mkdir_("root/locked");
        mkfile("root/locked/x.sh", 0755);
        if (chmod(at("root/locked"), 0) != 0)
            die("chmod");
        check("/locked/x.sh", WX, E403);
        if (chmod(at("root/locked"), 0755) != 0)
            die("chmod");
    } else {
        ok(1, "# SKIP a directory without permissions binds no root user");
    }
}

/* A root given as "/": components append as "/name". */
static void test_slash_root(void)
{
    struct route r;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/root/script.sh/pi", top);
    enum route_status st = route_resolve("/", path, strlen(path), WX, &r);
    is_int(st, ROUTE_FILE, "root /: a file by its absolute path");
    is_int(r.script_len, strlen(path) - 3, "root /: script_len");
    ok(r.file && strcmp(r.file, at("root/script.sh")) == 0, "root /: real path");
    route_free(&r);
    st = route_resolve("/", "/", 1, 0, &r);
    is_int(st, ROUTE_DIRECTORY, "root /: / is the directory");
    ok(r.file && strcmp(r.file, "/") == 0, "root /: its real path is /");
    route_free(&r);
}

/* The root itself disappears under a running server. */
static void test_root_gone(void)
{
    struct route r;
    char gone[PATH_MAX];
    snprintf(gone, sizeof gone, "%s/no-such-root", top);
    is_int(route_resolve(gone, "/script.sh", 10, WX, &r), ROUTE_NOT_FOUND, "a missing root: 404");
    route_free(&r);
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* The descriptor API: flags of what is returned, ROUTE_OPEN, and a zeroed struct. */
static void test_descriptors(void)
{
    struct route r;
    char buf[16] = "";
    int fl;

    is_int(route_resolve(root, "/script.sh", 10, WX | mode_flags, &r), ROUTE_FILE, "fd: a script");
    fl = fcntl(r.fd, F_GETFL);
    ok(fl >= 0 && (fl & O_PATH), "fd: O_PATH without ROUTE_OPEN (an exec-only file is fine)");
    ok(fcntl(r.fd, F_GETFD) == FD_CLOEXEC && fcntl(r.dirfd, F_GETFD) == FD_CLOEXEC,
       "fd, dirfd: close-on-exec");
    ok(r.name && strcmp(r.name, "script.sh") == 0 && r.name > r.file && r.name[-1] == '/',
       "name: the last component of file");
    route_free(&r);
    ok(r.file == NULL && r.fd == -1 && r.dirfd == -1, "route_free closes and clears");
    route_free(&r); /* twice: a no-op */

    is_int(route_resolve(root, "/link-in", 8, ROUTE_OPEN | mode_flags, &r), ROUTE_FILE,
           "ROUTE_OPEN: through a symlink");
    fl = fcntl(r.fd, F_GETFL);
    ok(fl >= 0 && !(fl & O_PATH) && (fl & O_ACCMODE) == O_RDONLY, "ROUTE_OPEN: fd is O_RDONLY");
    ok(pread(r.fd, buf, 9, 0) == 9 && memcmp(buf, "#!/bin/sh", 9) == 0,
       "ROUTE_OPEN: fd reads the file");
    ok(strcmp(r.name, "script.sh") == 0, "ROUTE_OPEN: name is the real file's");
    route_free(&r);
    is_int(route_resolve(root, "/fifo", 5, ROUTE_OPEN | mode_flags, &r), ROUTE_FORBIDDEN,
           "ROUTE_OPEN: a fifo is refused, not opened (no hang)");
    route_free(&r);
    if (geteuid() != 0) {
        mkfile("root/unreadable.txt", 0200);
        is_int(route_resolve(root, "/unreadable.txt", 15, ROUTE_OPEN | mode_flags, &r),
               ROUTE_FORBIDDEN, "ROUTE_OPEN: an unreadable file is 403");
        ok(r.fd == -1, "ROUTE_OPEN: and no descriptor");
        route_free(&r);
        unlink(at("root/unreadable.txt"));
    } else {
        ok(1, "# SKIP permissions bind no root user");
        ok(1, "# SKIP permissions bind no root user");
    }

    is_int(route_resolve(root, "/dir/", 5, mode_flags, &r), ROUTE_DIRECTORY, "a directory");
    ok(r.fd == -1 && r.dirfd == -1 && r.name == NULL, "a directory: no descriptors, no name");
    route_free(&r);

    /* a zeroed struct (a caller that never resolved): route_free must not close descriptor 0 */
    memset(&r, 0, sizeof r);
    route_free(&r);
    ok(fcntl(0, F_GETFD) >= 0 || errno != EBADF, "route_free of a zeroed struct closes nothing");
}

/* The race of B4, stepped by hand: the check and the use are the same objects, whatever the
 * tree becomes in between. */
static void test_swap_after_check(void)
{
    struct route r, s;
    char buf[32] = "";
    struct stat st;

    mkdir_("root/sw");
    mkfile("root/sw/f.sh", 0755);
    mkdir_("outside/sw");
    int fd = open(at("outside/sw/f.sh"), O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd < 0 || write(fd, "OUTSIDE\n", 8) != 8 || close(fd) != 0)
        die("outside/sw/f.sh");

    is_int(route_resolve(root, "/sw/f.sh", 8, WX | mode_flags, &r), ROUTE_FILE, "swap: checked");
    is_int(route_resolve(root, "/sw/f.sh", 8, ROUTE_OPEN | mode_flags, &s), ROUTE_FILE,
           "swap: opened");
    /* the directory is swapped for a symlink out of the root */
    if (rename(at("root/sw"), at("root/sw-moved")) != 0)
        die("rename");
    link_("../outside/sw", "root/sw");
    ok(fstatat(r.dirfd, r.name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == r.st.st_ino,
       "swap: dirfd + name still name the checked file");
    ok(pread(s.fd, buf, 9, 0) == 9 && memcmp(buf, "#!/bin/sh", 9) == 0,
       "swap: the opened fd reads the inside file, not the outside one");
    route_free(&r);
    route_free(&s);
    check("/sw/f.sh", WX, E403);
    check("/sw/f.sh", ROUTE_OPEN, E403);
    /* cleaned up, so that the next mode builds it again */
    if (unlink(at("root/sw")) != 0 || unlink(at("root/sw-moved/f.sh")) != 0 ||
        rmdir(at("root/sw-moved")) != 0 || unlink(at("outside/sw/f.sh")) != 0 ||
        rmdir(at("outside/sw")) != 0)
        die("cleanup");
}

static void run_all(void)
{
    test_found();
    test_directories();
    test_not_found();
    test_forbidden();
    test_descriptors();
    test_swap_after_check();
}

int main(void)
{
    int fds;

    build_tree();
    fds = open_fds();
    test_inside();
    diag("with openat2 where the kernel has it");
    run_all();
    diag("with the portable O_NOFOLLOW walk");
    mode_flags = ROUTE_NO_OPENAT2;
    run_all();
    mode_flags = 0;
    test_slash_root();
    test_root_gone();
    is_int(open_fds(), fds, "no descriptor left open by any of the above");
    rm_tree();
    return tap_done();
}
