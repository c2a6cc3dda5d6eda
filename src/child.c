/*
 * child: spawning, the kill ladder, reaping, and the CGI environment.
 */
#include "build-config.h"

#include "child.h"
#include "route.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The stop schedule (websocketd's): each step waits this long + closems. */
static const unsigned ladder_ms[] = {100, 250, 500};
static const int ladder_sig[] = {SIGINT, SIGTERM, SIGKILL};

static void handle_closed(uv_handle_t *h)
{
    struct child *c = h->data;

    if (--c->open == 0 && c->closing && c->on_closed)
        c->on_closed(c);
}

static void close_handle(struct child *c, uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, handle_closed);
}

void child_signal(struct child *c, int sig)
{
    if (c->pid > 0 && kill(-c->pid, sig) != 0 && errno != ESRCH)
        kill(c->pid, sig);
}

static void ladder_step(uv_timer_t *t)
{
    struct child *c = t->data;
    unsigned step = c->ladder;

    if (c->exited || step < 1 || step > 3)
        return;
    child_signal(c, ladder_sig[step - 1]);
    c->ladder++;
    if (c->ladder <= 3)
        uv_timer_start(&c->timer, ladder_step, (uint64_t)ladder_ms[c->ladder - 1] + c->closems, 0);
}

/* ---------------------------------------------------------------- reaping */

/*
 * One reaper per process (each --workers process runs one loop): SIGCHLD
 * through a uv_signal_t, waitpid(-1, WNOHANG) until nothing is left, and a
 * pid -> child table to find whose leader it was. A pid that is not in the
 * table (a leader whose session already closed, an orphan reparented to a
 * subreaper) is reaped and forgotten. libuv's own uv_spawn would instead
 * call waitpid() once per live process handle on every SIGCHLD.
 */
#define REAPER_BUCKETS 1024u

static struct {
    uv_signal_t sig;
    bool running;
    struct child *bucket[REAPER_BUCKETS];
} reaper;

static struct child **reaper_slot(int pid)
{
    return &reaper.bucket[(unsigned)pid % REAPER_BUCKETS];
}

static void reaper_add(struct child *c)
{
    struct child **slot = reaper_slot(c->pid);
    c->reap_next = *slot;
    *slot = c;
}

static struct child *reaper_take(int pid)
{
    for (struct child **pp = reaper_slot(pid); *pp; pp = &(*pp)->reap_next) {
        struct child *c = *pp;
        if (c->pid == pid) {
            *pp = c->reap_next;
            c->reap_next = NULL;
            return c;
        }
    }
    return NULL;
}

static void on_sigchld(uv_signal_t *h, int signum)
{
    pid_t pid;
    int st;

    (void)h;
    (void)signum;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        struct child *c = reaper_take(pid);
        if (!c)
            continue;
        c->exited = true;
        c->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
        c->term_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
        uv_timer_stop(&c->timer);
        c->ladder = 4;
        if (c->on_exit)
            c->on_exit(c);
    }
}

/* Starts the reaper on loop (once per process): 0 or a UV error. */
static int reaper_start(uv_loop_t *loop)
{
    int r;

    if (reaper.running)
        return 0;
    if ((r = uv_signal_init(loop, &reaper.sig)) != 0)
        return r;
    if ((r = uv_signal_start(&reaper.sig, on_sigchld, SIGCHLD)) != 0) {
        uv_close((uv_handle_t *)&reaper.sig, NULL);
        return r;
    }
    uv_unref((uv_handle_t *)&reaper.sig); /* sessions keep the loop alive, not the reaper */
    reaper.running = true;
    return 0;
}

void child_reaper_close(void)
{
    if (!reaper.running)
        return;
    reaper.running = false;
    uv_close((uv_handle_t *)&reaper.sig, NULL);
}

/* ---------------------------------------------------------------- spawning */

static int init_pipe(struct child *c, uv_loop_t *loop, uv_pipe_t *p)
{
    int r = uv_pipe_init(loop, p, 0);
    if (r)
        return r;
    p->data = c;
    c->open++;
    return 0;
}

static void close_fds(int *fd, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fd[i] >= 0) {
            close(fd[i]);
            fd[i] = -1;
        }
}

/*
 * posix_spawn (glibc: clone(CLONE_VM | CLONE_VFORK), no copy of our page
 * tables, which is what made uv_spawn's fork() cost grow with the server's
 * size) with: a new session (pid == pgid, as UV_PROCESS_DETACHED), every
 * signal at its default and none blocked (SIGPIPE is ignored here and
 * SIG_IGN survives exec), and the three pipe ends on 0, 1, 2. Every other
 * descriptor of ours is close-on-exec. The exec error comes back as the
 * return value (ENOENT, EACCES, ENOEXEC...). dir >= 0: the child changes to
 * that directory first and file is a name there (child_exec_checked).
 */
static int spawn(const char *file, int dir, char *const *argv, char *const *env, const int fd[3],
                 int *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    pid_t p;
    int r;

    if ((r = posix_spawn_file_actions_init(&fa)) != 0)
        return -r;
    if ((r = posix_spawnattr_init(&at)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -r;
    }
    sigemptyset(&none);
    sigfillset(&all);
    for (int i = 0; i < 3 && r == 0; i++)
        r = posix_spawn_file_actions_adddup2(&fa, fd[i], i);
    if (r == 0 && dir >= 0)
        r = posix_spawn_file_actions_addfchdir_np(&fa, dir); /* glibc >= 2.29 */
    if (r == 0)
        r = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                              POSIX_SPAWN_SETSIGDEF);
    if (r == 0)
        r = posix_spawnattr_setsigmask(&at, &none);
    if (r == 0)
        r = posix_spawnattr_setsigdefault(&at, &all);
    if (r == 0)
        r = posix_spawn(&p, file, &fa, &at, argv, env);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0)
        return -r;
    *pid = p;
    return 0;
}

void child_exec_checked(struct child *c, const struct route *rt)
{
    c->exec_name = rt->name;
    c->exec_dir = rt->dirfd;
    c->exec_dev = rt->st.st_dev;
    c->exec_ino = rt->st.st_ino;
}

/* child_exec_checked(): "./NAME" into buf if NAME in the directory is still the file checked
 * (0), else a UV error. */
static int checked_name(const struct child *c, char *buf, size_t cap)
{
    struct stat st;

    if (fstatat(c->exec_dir, c->exec_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return -errno;
    if (S_ISLNK(st.st_mode))
        return UV_ELOOP;
    if (st.st_dev != c->exec_dev || st.st_ino != c->exec_ino)
        return UV_ENOENT;
    if ((size_t)snprintf(buf, cap, "./%s", c->exec_name) >= cap)
        return UV_ENAMETOOLONG;
    return 0;
}

int child_spawn(struct child *c, uv_loop_t *loop, const char *file, char *const *argv,
                char *const *env, unsigned closems)
{
    /* [0] stdin read end (theirs), [1] its write end (ours); then stdout's and stderr's
     * read end (ours) and write end (theirs) */
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    int r, pid = 0, dir = -1, checked = 0;
    char name[NAME_MAX + 3];

    if (c->exec_name) { /* one spawn only: taken now, whatever happens next */
        dir = c->exec_dir;
        checked = checked_name(c, name, sizeof name);
        c->exec_name = NULL;
        file = name;
    }

    c->pid = 0;
    c->exited = false;
    c->exit_status = 0;
    c->term_signal = 0;
    c->closems = closems;
    c->open = 0;
    c->ladder = 0;
    c->reap_next = NULL;
    c->in_closed = c->out_closed = c->err_closed = c->closing = false;

    r = uv_timer_init(loop, &c->timer);
    if (r)
        return r;
    c->timer.data = c;
    c->open++;
    if ((r = init_pipe(c, loop, &c->in)) || (r = init_pipe(c, loop, &c->out)) ||
        (r = init_pipe(c, loop, &c->err)))
        return r;
    if ((r = reaper_start(loop)) != 0)
        return r;
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        r = -errno;
        goto fail;
    }
    if (checked != 0) { /* a failed spawn like any other: the handles are initialised */
        r = checked;
        goto fail;
    }
    r = spawn(file, dir, argv, env, (const int[3]){in[0], out[1], err[1]}, &pid);
    close_fds((int[]){in[0], out[1], err[1]}, 3);
    in[0] = out[1] = err[1] = -1;
    if (r != 0)
        goto fail;
    c->pid = pid;
    reaper_add(c);
    /* uv_pipe_open makes our ends non-blocking; the child's stay blocking */
    if ((r = uv_pipe_open(&c->in, in[1])) != 0)
        goto fail;
    in[1] = -1;
    if ((r = uv_pipe_open(&c->out, out[0])) != 0)
        goto fail;
    out[0] = -1;
    if ((r = uv_pipe_open(&c->err, err[0])) != 0)
        goto fail;
    return 0;

fail:
    /* the caller's child_close() stops a leader that did start */
    close_fds((int[]){in[0], in[1], out[0], out[1], err[0], err[1]}, 6);
    return r;
}

void child_close_stdin(struct child *c)
{
    if (c->in_closed)
        return;
    c->in_closed = true;
    close_handle(c, (uv_handle_t *)&c->in);
}

void child_close_stdout(struct child *c)
{
    if (c->out_closed)
        return;
    c->out_closed = true;
    close_handle(c, (uv_handle_t *)&c->out);
}

void child_close_stderr(struct child *c)
{
    if (c->err_closed)
        return;
    c->err_closed = true;
    close_handle(c, (uv_handle_t *)&c->err);
}

void child_stop(struct child *c)
{
    child_close_stdin(c);
    if (c->exited || c->ladder != 0 || c->pid <= 0 || c->closing)
        return;
    c->ladder = 1;
    uv_timer_start(&c->timer, ladder_step, (uint64_t)ladder_ms[0] + c->closems, 0);
}

void child_close(struct child *c)
{
    if (c->closing)
        return;
    c->closing = true;
    /* Whatever is left in the group (background grandchildren) goes with the session. */
    if (c->pid > 0)
        child_signal(c, SIGKILL);
    if (c->pid > 0 && !c->exited)
        reaper_take(c->pid); /* still running (shutdown timeout): SIGKILL was sent, and the
                                reaper waits for it unnamed: on_exit will not come */
    child_close_stdin(c);
    child_close_stdout(c);
    child_close_stderr(c);
    buf_unref(c->rd_out); /* a read handed a buffer and never delivered (never, with libuv) */
    buf_unref(c->rd_err);
    c->rd_out = c->rd_err = NULL;
    close_handle(c, (uv_handle_t *)&c->timer);
    if (c->open == 0 && c->on_closed)
        c->on_closed(c);
}

const char *child_strerror(int err)
{
    /* libuv's table lacks some errno values a spawn can return (ENOEXEC: "Unknown system
     * error -8"); on Unix its codes are -errno apart from its own, which are far below */
    return err < 0 && err > -512 ? strerror(-err) : uv_strerror(err);
}

const char *child_status_string(const struct child *c, char *buf, size_t len)
{
    if (!c->exited)
        snprintf(buf, len, c->pid > 0 ? "running" : "not started");
    else if (c->term_signal)
        snprintf(buf, len, "killed by signal %d (SIG%s)", c->term_signal,
                 sigabbrev_np(c->term_signal) ? sigabbrev_np(c->term_signal) : "?");
    else
        snprintf(buf, len, "exit status %" PRId64, c->exit_status);
    return buf;
}

/* ---------------------------------------------------------------- environment */

struct envbuf {
    char *data;
    size_t len, cap;
    size_t *offs;
    size_t n, ncap;
    bool failed;
};

static void eb_reserve(struct envbuf *b, size_t more)
{
    if (b->failed || b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return;
    }
    b->data = p;
    b->cap = cap;
}

static void eb_raw(struct envbuf *b, const char *s, size_t n)
{
    eb_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* Starts a new variable "NAME=". */
static void eb_begin(struct envbuf *b, const char *name)
{
    if (b->n == b->ncap) {
        size_t ncap = b->ncap ? b->ncap * 2 : 64;
        size_t *p = realloc(b->offs, ncap * sizeof *p);
        if (!p) {
            b->failed = true;
            return;
        }
        b->offs = p;
        b->ncap = ncap;
    }
    b->offs[b->n++] = b->len;
    eb_raw(b, name, strlen(name));
    eb_raw(b, "=", 1);
}

static void eb_end(struct envbuf *b)
{
    eb_raw(b, "", 1);
}

static void eb_value(struct envbuf *b, const char *v, size_t n)
{
    /* CR, LF and other control characters in a value become spaces. */
    eb_reserve(b, n);
    if (b->failed)
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        b->data[b->len++] = (ch < 0x20 && ch != '\t') || ch == 0x7f ? ' ' : (char)ch;
    }
}

static void eb_set(struct envbuf *b, const char *name, const char *value)
{
    eb_begin(b, name);
    eb_value(b, value, strlen(value));
    eb_end(b);
}

static void eb_setn(struct envbuf *b, const char *name, const char *value, size_t n)
{
    eb_begin(b, name);
    eb_value(b, value, n);
    eb_end(b);
}

static bool is_tchar(unsigned char ch)
{
    return isalnum(ch) || (ch && strchr("!#$%&'*+-.^`|~", ch));
}

/* Header names we pass as HTTP_*: RFC 9110 tokens without '_', and not Proxy. */
static bool header_passes(const char *name, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)name[i]))
            return false; /* '_' is not a tchar here: dropped, as nginx does */
    return !(n == 5 && strncasecmp(name, "Proxy", 5) == 0);
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* PATH_INFO is percent-decoded (CGI/1.1, and what websocketd does). */
static void eb_decoded(struct envbuf *b, const char *s, size_t n)
{
    eb_reserve(b, n);
    if (b->failed)
        return;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        unsigned char ch = (unsigned char)s[i];
        if (ch == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            ch = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        b->data[b->len++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
}

static void server_name_port(const struct child_env_request *r, struct envbuf *b)
{
    const char *host = "";
    size_t hn = 0;
    const char *port = NULL;
    size_t pn = 0;

    for (unsigned i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, "Host") == 0) {
            host = r->headers[i].value;
            hn = r->headers[i].value_len;
            break;
        }
    const char *colon = NULL;
    if (hn && host[0] == '[') {
        const char *close = memchr(host, ']', hn);
        if (close && close + 1 < host + hn && close[1] == ':')
            colon = close + 1;
    } else {
        colon = memrchr(host, ':', hn);
    }
    if (colon) {
        port = colon + 1;
        pn = (size_t)(host + hn - port);
        hn = (size_t)(colon - host);
    }
    eb_setn(b, "SERVER_NAME", host, hn);
    if (pn)
        eb_setn(b, "SERVER_PORT", port, pn);
    else
        eb_set(b, "SERVER_PORT", r->https ? "443" : "80");
}

static void http_headers(const struct child_env_request *r, struct envbuf *b)
{
    for (unsigned i = 0; i < r->nheaders; i++) {
        const struct handshake_header *h = &r->headers[i];
        bool seen = false;

        if (!header_passes(h->name, h->name_len))
            continue;
        for (unsigned j = 0; j < i && !seen; j++)
            seen = r->headers[j].name_len == h->name_len &&
                   strcasecmp(r->headers[j].name, h->name) == 0;
        if (seen)
            continue; /* joined into the first occurrence */
        eb_begin(b, "HTTP_");
        b->len--; /* eb_begin wrote "HTTP_=": drop the '=' and append the name */
        eb_reserve(b, h->name_len + 1);
        if (b->failed)
            return;
        for (size_t k = 0; k < h->name_len; k++) {
            char ch = (char)toupper((unsigned char)h->name[k]);
            b->data[b->len++] = ch == '-' ? '_' : ch;
        }
        b->data[b->len++] = '=';
        eb_value(b, h->value, h->value_len);
        for (unsigned j = i + 1; j < r->nheaders; j++)
            if (r->headers[j].name_len == h->name_len &&
                strcasecmp(r->headers[j].name, h->name) == 0) {
                eb_raw(b, ", ", 2);
                eb_value(b, r->headers[j].value, r->headers[j].value_len);
            }
        eb_end(b);
    }
}

char **child_env_build(const struct child_env_request *r)
{
    struct envbuf b = {0};
    char num[32];

    eb_set(&b, "SERVER_SOFTWARE", r->server_software);
    for (const char *const *p = r->passenv; p && *p; p++) {
        const char *v = getenv(*p);
        if (v)
            eb_set(&b, *p, v);
    }
    eb_set(&b, "REMOTE_ADDR", r->remote_addr);
    eb_set(&b, "REMOTE_HOST", r->remote_host ? r->remote_host : r->remote_addr);
    server_name_port(r, &b);
    eb_set(&b, "SERVER_PROTOCOL", "HTTP/1.1");
    eb_set(&b, "GATEWAY_INTERFACE", "CGI/1.1");
    eb_set(&b, "REQUEST_METHOD", r->method ? r->method : "GET");
    eb_begin(&b, "SCRIPT_NAME");
    eb_decoded(&b, r->script_name,
               r->script_name_len ? r->script_name_len : strlen(r->script_name));
    eb_end(&b);
    if (r->script_filename)
        eb_set(&b, "SCRIPT_FILENAME", r->script_filename);
    eb_begin(&b, "PATH_INFO");
    if (r->path_info)
        eb_decoded(&b, r->path_info, r->path_info_len);
    else
        eb_decoded(&b, r->path, r->path_len);
    eb_end(&b);
    eb_begin(&b, "PATH_TRANSLATED");
    eb_decoded(&b, r->path, r->path_len);
    eb_end(&b);
    eb_set(&b, "QUERY_STRING", r->query);
    eb_set(&b, "AUTH_TYPE", "");
    eb_set(&b, "CONTENT_LENGTH", r->content_length ? r->content_length : "");
    eb_set(&b, "CONTENT_TYPE", r->content_type ? r->content_type : "");
    eb_set(&b, "REMOTE_IDENT", "");
    eb_set(&b, "REMOTE_USER", "");
    snprintf(num, sizeof num, "%" PRIu64, r->unique_id);
    eb_set(&b, "UNIQUE_ID", num);
    snprintf(num, sizeof num, "%d", r->remote_port);
    eb_set(&b, "REMOTE_PORT", num);
    eb_set(&b, "REQUEST_URI", r->url);
    if (r->https)
        eb_set(&b, "HTTPS", "on");
    if (r->https) /* mod_ssl's names; SUCCESS: --sslca verified it */
        eb_set(&b, "SSL_CLIENT_VERIFY",
               r->ssl_client_s_dn && *r->ssl_client_s_dn ? "SUCCESS" : "NONE");
    if (r->ssl_client_s_dn && *r->ssl_client_s_dn)
        eb_set(&b, "SSL_CLIENT_S_DN", r->ssl_client_s_dn);
    http_headers(r, &b);

    if (b.failed) {
        free(b.data);
        free(b.offs);
        return NULL;
    }
    /* One block: the pointer array, then the strings. */
    size_t head = (b.n + 1) * sizeof(char *);
    char **env = malloc(head + b.len);
    if (env) {
        char *strings = (char *)env + head;
        memcpy(strings, b.data, b.len);
        for (size_t i = 0; i < b.n; i++)
            env[i] = strings + b.offs[i];
        env[b.n] = NULL;
    }
    free(b.data);
    free(b.offs);
    return env;
}
