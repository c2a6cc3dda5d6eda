/*
 * child: spawning, the program's stdio, the stderr logger, the kill ladder, reaping.
 */
#include "build-config.h"

#include "child.h"
#include "log.h"
#include "metrics.h"
#include "pty.h"
#include "route.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
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
        metrics_program_end((int)c->exit_status, c->term_signal);
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
 * The signals whose disposition is not the default here (a handler or SIG_IGN), as a mask of
 * bit (signal - 1): the ones the child must set back before it may receive a signal, found in
 * /proc/self/status (SigCgt, SigIgn) with three system calls; every signal when that cannot
 * be read.
 */
static uint64_t signals_to_reset(void)
{
    char buf[4096];
    uint64_t mask = 0;
    int found = 0;
    ssize_t n;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return UINT64_MAX;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return UINT64_MAX;
    buf[n] = '\0';
    for (char *line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (strncmp(line, "SigIgn:", 7) == 0 || strncmp(line, "SigCgt:", 7) == 0) {
            mask |= strtoull(line + 7, NULL, 16);
            found++;
        }
    return found == 2 ? mask : UINT64_MAX;
}

/*
 * The child of spawn(), between vfork() and exec: it runs on our stack and in our memory, with
 * every signal blocked, and may only make system calls and write *err. Never returns.
 */
static _Noreturn void exec_child(const char *file, int dir, char *const *argv, char *const *env,
                                 const int fd[3], const char *tty, uint64_t reset,
                                 volatile int *err)
{
    struct sigaction dfl;
    sigset_t none;
    int i;

    /* a handler of ours must not run here once signals are unblocked (it would act on our
     * loop); an ignored signal must not stay ignored in the program (SIG_IGN survives exec) */
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (i = 1; i < NSIG && i <= 64; i++)
        if ((reset >> (i - 1)) & 1)
            sigaction(i, &dfl, NULL); /* SIGKILL, SIGSTOP, libc's own: refused, harmless */
    if (setsid() < 0)
        goto fail;
    if (tty) {
        /* opened after setsid(), without O_NOCTTY: a session leader without a terminal that
         * opens one gets it as its controlling terminal, its group as the foreground group */
        int t = open(tty, O_RDWR);
        if (t < 0 || (t != 0 && dup2(t, 0) != 0) || dup2(0, 1) != 1 || dup2(0, 2) != 2)
            goto fail;
        if (t > 2)
            close(t);
    } else {
        for (i = 0; i < 3; i++)
            if (fd[i] == i ? fcntl(i, F_SETFD, 0) != 0 : dup2(fd[i], i) != i)
                goto fail; /* dup2() onto itself would leave close-on-exec set */
    }
    if (dir >= 0 && fchdir(dir) != 0)
        goto fail;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
        goto fail;
    execve(file, argv, env);
fail:
    *err = errno ? errno : EINVAL;
    _exit(127);
}

/*
 * vfork() and exec: no copy of our page tables (what made uv_spawn's fork() cost grow with the
 * server's size) and, unlike glibc's posix_spawn, no stack mapped and unmapped per child (the
 * unmap's TLB shootdown reaches the other CPUs) and only the signals that need it set back to
 * their default, not all 64 (a system call each in the child: on this project's VMs about
 * 4 us, a quarter of a millisecond per spawn). The child gets a new session (pid == pgid, as
 * UV_PROCESS_DETACHED), every signal at its default and none blocked, and the three pipe ends on
 * 0, 1, 2 (tty: the terminal on all three). Every other descriptor of ours is close-on-exec.
 * The exec error comes back as the return value (ENOENT, EACCES, ENOEXEC...), the child reaped.
 * dir >= 0: the child changes to that directory first and file is a name there
 * (child_exec_checked).
 */
static int spawn(const char *file, int dir, char *const *argv, char *const *env, const int fd[3],
                 const char *tty, int *pid)
{
    uint64_t reset = signals_to_reset();
    volatile int err = 0;
    sigset_t all, old;
    pid_t p;
    int e;

    sigfillset(&all);
    if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0)
        return UV_EINVAL;
    p = vfork();
    if (p == 0)
        exec_child(file, dir, argv, env, fd, tty, reset, &err);
    /* here the child has exec'd or exited; until then it wrote our memory (errno too) */
    e = p < 0 ? errno : err;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (p < 0)
        return -e;
    if (e != 0) {
        while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
            ;
        return -e;
    }
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

void child_use_pty(struct child *c, bool binary, unsigned cols, unsigned rows)
{
    c->pty = true;
    c->pty_binary = binary;
    c->pty_cols = (unsigned short)(cols ? cols : PTY_DEFAULT_COLS);
    c->pty_rows = (unsigned short)(rows ? rows : PTY_DEFAULT_ROWS);
}

static void close_stream(struct child *c, enum child_stream st);

/* A new pseudo-terminal in the modes pty_termios() gives and the size asked for: the master
 * (non-blocking, close-on-exec) into *master, the slave's name into name, and the slave opened
 * here (O_NOCTTY: it does not become ours) into *slave. 0 or -errno. */
static int open_pty(const struct child *c, int *master, int *slave, char *name, size_t cap)
{
    struct winsize ws = {.ws_row = c->pty_rows, .ws_col = c->pty_cols};
    struct termios t;
    int r;

    *slave = -1;
    if ((*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
        return -errno;
    if (grantpt(*master) != 0 || unlockpt(*master) != 0 ||
        (errno = ptsname_r(*master, name, cap)) != 0)
        goto fail;
    if ((*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
        goto fail;
    if (tcgetattr(*slave, &t) != 0)
        goto fail;
    pty_termios(&t, c->pty_binary);
    if (tcsetattr(*slave, TCSANOW, &t) != 0 || ioctl(*slave, TIOCSWINSZ, &ws) != 0)
        goto fail;
    return 0;

fail:
    r = -errno;
    close_fds((int[]){*master, *slave}, 2);
    *master = *slave = -1;
    return r;
}

/*
 * --pty: the program's stdin, stdout and stderr are the slave side of a new pseudo-terminal,
 * its controlling terminal. We hold the master twice: c->out reads it, c->in (a dup) writes it,
 * so the rest of this module (and its users) see the same two streams as with pipes; there is
 * no stderr stream (c->err is closed at once: it is the same terminal). Our copy of the slave
 * is closed once the program has its own, so the last close of the slave by the program (and
 * whatever it started on it) reads as EIO on the master: EOF, after what was still buffered.
 */
static int spawn_pty(struct child *c, const char *file, int dir, char *const *argv,
                     char *const *env, int checked)
{
    char tty[64];
    int master = -1, slave = -1, in = -1, r, pid = 0;

    close_stream(c, CHILD_STDERR);
    if ((r = open_pty(c, &master, &slave, tty, sizeof tty)) != 0)
        return r;
    if ((r = checked) == 0)
        r = spawn(file, dir, argv, env, NULL, tty, &pid);
    close_fds(&slave, 1);
    if (r == 0) {
        c->pid = pid;
        reaper_add(c);
        if ((in = fcntl(master, F_DUPFD_CLOEXEC, 0)) < 0)
            r = -errno;
    }
    if (r == 0 && (r = uv_pipe_open(&c->out, master)) == 0)
        master = -1;
    if (r == 0 && (r = uv_pipe_open(&c->in, in)) == 0)
        in = -1;
    close_fds((int[]){master, in}, 2); /* the caller's child_close() stops a leader that did
                                          start */
    return r;
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
    c->in_pending = 0;
    c->in_eof = c->logging = false;
    c->reading[0] = c->reading[1] = false;

    r = uv_timer_init(loop, &c->timer);
    if (r)
        goto fail;
    c->timer.data = c;
    c->open++;
    if ((r = init_pipe(c, loop, &c->in)) || (r = init_pipe(c, loop, &c->out)) ||
        (r = init_pipe(c, loop, &c->err)))
        goto fail;
    if ((r = reaper_start(loop)) != 0)
        goto fail;
    if (c->pty) {
        if ((r = spawn_pty(c, file, dir, argv, env, checked)) != 0)
            goto fail; /* spawn_pty closed its descriptors; the pipes' are all -1 */
        return 0;
    }
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        r = -errno;
        goto fail;
    }
    if (checked != 0) { /* a failed spawn like any other: the handles are initialised */
        r = checked;
        goto fail;
    }
    r = spawn(file, dir, argv, env, (const int[3]){in[0], out[1], err[1]}, NULL, &pid);
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
    metrics_add(METRICS_SPAWN_FAILURES, 1);
    return r;
}

/* ---------------------------------------------------------------- stdin */

/*
 * --pty: closing our end of the master says nothing to the program (we still read it); the
 * terminal's way to say "end of input" is its EOF character (VEOF, ^D): in canonical mode it
 * makes the program's read() return 0 at the start of a line, and line editors (readline, a
 * shell) take it as EOF on an empty line. Written once, at once (never queued after writes the
 * stop sequence cancels); a full terminal (EAGAIN) means the program reads nothing anyway.
 */
static void pty_send_eof(struct child *c)
{
    struct termios t;
    int fd;

    if (!c->pty || c->exited || c->pid <= 0 || uv_fileno((uv_handle_t *)&c->in, &fd) != 0)
        return;
    if (tcgetattr(fd, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE &&
        write(fd, &t.c_cc[VEOF], 1) < 0)
        log_debug(c->log_conn, "pty: cannot write EOF: %s", strerror(errno));
}

static void stdin_close_now(struct child *c)
{
    if (c->in_closed)
        return;
    pty_send_eof(c);
    c->in_closed = true;
    close_handle(c, (uv_handle_t *)&c->in);
}

static void write_done(uv_write_t *req, int status)
{
    struct child_write *w = req->data;
    struct child *c = w->c;

    c->in_pending--;
    w->cb(w, status);
    /* c lives on: the stdin handle, not yet closed (its close callback follows this one) */
    if (c->in_eof && (c->in_pending == 0 || (status < 0 && status != UV_ECANCELED)))
        stdin_close_now(c);
}

int child_write(struct child *c, struct child_write *w, const uv_buf_t *bufs, unsigned n,
                child_write_cb cb)
{
    int r;

    if (!child_stdin_open(c))
        return UV_EPIPE;
    w->c = c;
    w->cb = cb;
    w->uv.data = w;
    /* libuv runs the callback from the loop, also for a write done at once */
    r = uv_write(&w->uv, (uv_stream_t *)&c->in, bufs, n, write_done);
    if (r == 0)
        c->in_pending++;
    return r;
}

size_t child_stdin_queued(const struct child *c)
{
    return c->in_closed ? 0 : uv_stream_get_write_queue_size((const uv_stream_t *)&c->in);
}

bool child_stdin_open(const struct child *c)
{
    return c->pid > 0 && !c->in_closed && !c->in_eof && !c->closing;
}

void child_close_stdin(struct child *c)
{
    if (c->in_pending > 0 && !c->in_closed)
        c->in_eof = true;
    else
        stdin_close_now(c);
}

/* ---------------------------------------------------------------- stdout, stderr */

static uv_stream_t *pipe_of(struct child *c, enum child_stream st)
{
    return (uv_stream_t *)(st == CHILD_STDOUT ? &c->out : &c->err);
}

static bool *closed_flag(struct child *c, enum child_stream st)
{
    return st == CHILD_STDOUT ? &c->out_closed : &c->err_closed;
}

static void log_line(void *ctx, const char *line, size_t len)
{
    struct child *c = ctx;

    log_bytes(LOG_ERROR, c->log_conn, c->log_prefix, line, len); /* a NUL does not end it */
}

/* The logger's reads: a pool buffer each, the partial line is kept by child_errlines. */
static void log_read(struct child *c, ssize_t nread, struct buf *b)
{
    if (nread > 0 && b)
        child_errlines_feed(&c->errlines, (const char *)b->data, (size_t)nread, log_line, c);
    buf_unref(b);
    if (nread < 0) {
        child_errlines_finish(&c->errlines, log_line, c);
        child_close_stderr(c);
    }
}

static void read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    struct child *c = h->data;
    enum child_stream st = h == (uv_handle_t *)&c->out ? CHILD_STDOUT : CHILD_STDERR;
    size_t off = 0;
    struct buf *b;

    (void)suggested;
    if (st == CHILD_STDERR && c->logging)
        b = buf_get();
    else
        b = c->io->on_alloc(c, st, &off);
    buf_unref(c->rd[st]); /* a read handed a buffer and never delivered (never, with libuv) */
    c->rd[st] = b;
    c->rd_off[st] = off;
    *out =
        b ? uv_buf_init((char *)b->data + off, (unsigned)(BUF_SIZE - off)) : uv_buf_init(NULL, 0);
}

static void read_done(uv_stream_t *s, ssize_t nread, const uv_buf_t *ub)
{
    struct child *c = s->data;
    enum child_stream st = s == (uv_stream_t *)&c->out ? CHILD_STDOUT : CHILD_STDERR;
    struct buf *b = c->rd[st]; /* read_alloc's: handed on with its reference */
    size_t off = b ? c->rd_off[st] : 0;

    (void)ub;
    c->rd[st] = NULL;
    if (nread == UV_EIO && c->pty)
        nread = UV_EOF; /* the master, once no process holds the slave open */
    if (nread < 0 && c->reading[st]) {
        uv_read_stop(s);
        c->reading[st] = false;
    }
    if (st == CHILD_STDERR && c->logging)
        log_read(c, nread, b);
    else
        c->io->on_read(c, st, nread, b, off);
}

bool child_stream_open(const struct child *c, enum child_stream st)
{
    return c->pid > 0 && !c->closing && !(st == CHILD_STDOUT ? c->out_closed : c->err_closed);
}

int child_read_start(struct child *c, enum child_stream st)
{
    int r;

    if (c->reading[st])
        return 0;
    if (!child_stream_open(c, st))
        return UV_EPIPE;
    if ((r = uv_read_start(pipe_of(c, st), read_alloc, read_done)) == 0)
        c->reading[st] = true;
    return r;
}

void child_read_stop(struct child *c, enum child_stream st)
{
    if (!c->reading[st])
        return;
    c->reading[st] = false;
    uv_read_stop(pipe_of(c, st));
}

static void close_stream(struct child *c, enum child_stream st)
{
    bool *closed = closed_flag(c, st);

    if (*closed)
        return;
    *closed = true;
    c->reading[st] = false;
    close_handle(c, (uv_handle_t *)pipe_of(c, st));
}

void child_close_stdout(struct child *c)
{
    close_stream(c, CHILD_STDOUT);
}

void child_close_stderr(struct child *c)
{
    close_stream(c, CHILD_STDERR);
}

int child_log_stderr(struct child *c, unsigned long conn, const char *prefix)
{
    c->log_conn = conn;
    if (c->pty)
        return 0; /* stderr is the terminal: its lines come with stdout's */
    c->log_prefix = prefix;
    c->logging = true;
    return child_read_start(c, CHILD_STDERR);
}

int child_pty_resize(struct child *c, unsigned cols, unsigned rows)
{
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    int fd;

    if (!c->pty)
        return UV_EINVAL;
    if (!child_stream_open(c, CHILD_STDOUT) || uv_fileno((uv_handle_t *)&c->out, &fd) != 0)
        return UV_EPIPE;
    /* the kernel sends SIGWINCH to the terminal's foreground process group */
    return ioctl(fd, TIOCSWINSZ, &ws) == 0 ? 0 : -errno;
}

/* ---------------------------------------------------------------- stderr lines */

static void errline_out(child_line_fn fn, void *ctx, const char *p, size_t n)
{
    if (n > 0 && p[n - 1] == '\r')
        n--;
    fn(ctx, p, n > CHILD_ERRLINE_MAX ? CHILD_ERRLINE_MAX : n);
}

/* Appends a piece of the current line (no '\n' in it). false: out of memory (it was logged
 * as a line of its own, cut). */
static bool errline_add(struct child_errlines *l, const char *p, size_t n, child_line_fn fn,
                        void *ctx)
{
    /* CHILD_ERRLINE_MAX + 1: one byte more tells a line that is too long (or a '\r' to drop) */
    size_t room = CHILD_ERRLINE_MAX + 1 - l->len, k = n < room ? n : room;

    if (!l->buf && !(l->buf = malloc(CHILD_ERRLINE_MAX + 1))) {
        fn(ctx, p, n > CHILD_ERRLINE_MAX ? CHILD_ERRLINE_MAX : n);
        l->skip = true;
        return false;
    }
    memcpy(l->buf + l->len, p, k);
    l->len += k;
    if (l->len > CHILD_ERRLINE_MAX) { /* too long: out now, the rest of the line is dropped */
        fn(ctx, l->buf, CHILD_ERRLINE_MAX);
        l->len = 0;
        l->skip = true;
    }
    return true;
}

void child_errlines_feed(struct child_errlines *l, const char *p, size_t n, child_line_fn fn,
                         void *ctx)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t seg = nl ? (size_t)(nl - p) : n;

        if (l->skip) {
            /* dropping the rest of a cut line */
        } else if (nl && l->len == 0) {
            errline_out(fn, ctx, p, seg); /* a whole line in this piece: no copy */
        } else if (errline_add(l, p, seg, fn, ctx) && nl && !l->skip) {
            errline_out(fn, ctx, l->buf, l->len);
            l->len = 0;
        }
        if (!nl)
            break;
        l->skip = false;
        p = nl + 1;
        n -= seg + 1;
    }
    if (l->len == 0) {
        free(l->buf);
        l->buf = NULL;
    }
}

void child_errlines_finish(struct child_errlines *l, child_line_fn fn, void *ctx)
{
    if (l->len > 0 && !l->skip)
        fn(ctx, l->buf, l->len); /* no '\n' came: a '\r' at its end is data */
    free(l->buf);
    l->buf = NULL;
    l->len = 0;
    l->skip = false;
}

/* ---------------------------------------------------------------- stopping */

void child_stop(struct child *c)
{
    stdin_close_now(c);
    if (c->exited || c->ladder != 0 || c->pid <= 0 || c->closing)
        return;
    c->ladder = 1;
    uv_timer_start(&c->timer, ladder_step, (uint64_t)ladder_ms[0] + c->closems, 0);
}

/*
 * --pty: a job-control shell puts each job in a process group of its own, outside the leader's
 * group that child_signal() reaches; they all stay in the leader's session (sid == pid). Every
 * process of that session still alive gets SIGKILL ("a session's processes never outlive
 * it"; a program that left the session with setsid() is out of reach, as with pipes).
 */
static void kill_session(pid_t sid)
{
    DIR *d = opendir("/proc");
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char path[64], stat[512], *p;
        long pid = strtol(e->d_name, &p, 10);
        int fd, session;
        ssize_t n;

        if (*p || pid <= 0 || snprintf(path, sizeof path, "/proc/%ld/stat", pid) >= 64)
            continue;
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            continue;
        n = read(fd, stat, sizeof stat - 1);
        close(fd);
        if (n <= 0)
            continue;
        stat[n] = '\0';
        /* "pid (comm) state ppid pgrp session ...": comm may hold anything, even ") " */
        if ((p = strrchr(stat, ')')) != NULL && sscanf(p + 1, " %*c %*d %*d %d", &session) == 1 &&
            session == sid)
            kill((pid_t)pid, SIGKILL);
    }
    closedir(d);
}

void child_close(struct child *c)
{
    if (c->closing)
        return;
    c->closing = true;
    /* Whatever is left in the group (background grandchildren) goes with the session. */
    if (c->pid > 0)
        child_signal(c, SIGKILL);
    if (c->pid > 0 && c->pty)
        kill_session(c->pid);
    if (c->pid > 0 && !c->exited)
        reaper_take(c->pid); /* still running (shutdown timeout): SIGKILL was sent, and the
                                reaper waits for it unnamed: on_exit will not come */
    stdin_close_now(c);
    child_close_stdout(c);
    child_close_stderr(c);
    if (c->logging) /* what the program said last, even without a newline */
        child_errlines_finish(&c->errlines, log_line, c);
    for (int i = 0; i < 2; i++) {
        buf_unref(c->rd[i]); /* a read handed a buffer and never delivered (never, with libuv) */
        c->rd[i] = NULL;
    }
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
