/*
 * child: the program behind one WebSocket session.
 *
 * child_spawn() starts it with posix_spawn (its own session and process
 * group, pid == pgid; default signal dispositions, nothing blocked),
 * stdin/stdout/stderr as pipes, the current directory unchanged (a program
 * from --dir or --cgidir: its own directory, see child_exec_checked), and the
 * environment the caller built (child_env.h). A program that cannot start
 * is an error return (the exec failure reaches the parent: UV_ENOENT, UV_EACCES),
 * never a child that dies later. posix_spawn is glibc's vfork-style clone:
 * unlike fork() (uv_spawn), its cost does not grow with the server's memory.
 *
 * Stopping (child_stop, websocketd's schedule): stdin is closed; if the
 * program is still running after 100 ms + closems it gets SIGINT, after
 * another 250 ms + closems SIGTERM, after another 500 ms + closems SIGKILL.
 * Signals go to the whole process group (kill(-pgid, sig)), so
 * grandchildren are stopped too; each step is skipped once the leader has
 * been reaped. After the leader exits, whatever is left in its group
 * (background grandchildren) is killed with SIGKILL when the session ends
 * (child_close): a session's processes never outlive it. The window in
 * which the pgid could be reused is the time between the leader's reaping
 * and child_close(), which the session keeps short.
 *
 * --pty (child_use_pty before child_spawn): stdin, stdout and stderr are
 * one pseudo-terminal, the program's controlling terminal (its session
 * leader is the program), in the modes pty_termios() gives. The owner sees
 * the same streams: child_write() writes the terminal, CHILD_STDOUT reads
 * everything the program prints (stdout and stderr alike; there is no
 * CHILD_STDERR, child_log_stderr is a no-op), EOF when no process holds the
 * terminal open any more. Closing stdin writes the terminal's EOF
 * character (^D) instead; the stop sequence is the same; child_close() also
 * kills what is left of the program's session (job-control shells put jobs
 * in groups of their own) and hangs the terminal up.
 *
 * Its stdio is this module's: the owner writes stdin with child_write()
 * (completion and queue size), reads stdout and stderr through the
 * callbacks of a struct child_io_settings (pause/resume with
 * child_read_start/stop), or hands stderr to the line logger
 * (child_log_stderr). Nothing else touches the pipes. The leader is
 * reaped by this module's SIGCHLD handler (one per process, started by the
 * first child_spawn); on_exit runs then. child_close() closes every handle
 * (also after a failed spawn); on_closed runs once all are closed, and
 * only then may the struct be freed.
 */
#ifndef CHILD_H
#define CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "buf.h"

struct child;
typedef void (*child_cb)(struct child *c);

/* Queue marks for every queue between a child and the socket (its stdin, the socket's send
 * queue that its stdout fills): above HIGH the side that feeds the queue stops being read,
 * below LOW it is read again. */
#define CHILD_HIGH_WATER (256u * 1024u)
#define CHILD_LOW_WATER (64u * 1024u)

/* A line of stderr longer than this is logged cut to this length (child_errlines). */
#define CHILD_ERRLINE_MAX 1500u

enum child_stream { CHILD_STDOUT = 0, CHILD_STDERR = 1 };

/*
 * The reader of stdout and stderr: set c->io before child_read_start(); the settings must
 * outlive the child. Both callbacks run from the loop, in pairs (on_alloc, then on_read).
 */
struct child_io_settings {
    /* Room for the next read of stream st: returns the buffer that owns it, with one
     * reference for this read, and *off: the bytes will land at b->data[*off..BUF_SIZE)
     * (*off < BUF_SIZE). NULL: no buffer now (on_read follows with UV_ENOBUFS). */
    struct buf *(*on_alloc)(struct child *c, enum child_stream st, size_t *off);
    /* nread > 0: bytes at b->data[off..off+nread). 0: nothing this time. < 0: UV_EOF or an
     * error; reading of st has stopped, the pipe is still open (child_close_stdout/err).
     * b carries on_alloc's reference, now the callee's (keep it or buf_unref it); NULL when
     * no buffer was handed out. */
    void (*on_read)(struct child *c, enum child_stream st, ssize_t nread, struct buf *b,
                    size_t off);
};

/* ---------------------------------------------------------------- stderr lines (pure) */

typedef void (*child_line_fn)(void *ctx, const char *line, size_t len);

/*
 * The stderr line cutter: lines are cut at '\n', one '\r' before it is dropped, a line is
 * whole however the reads split it, and a line longer than CHILD_ERRLINE_MAX gives only its
 * first CHILD_ERRLINE_MAX bytes (at the moment they are known; the rest up to '\n' is
 * dropped). Memory: a partial line is held in a heap buffer of CHILD_ERRLINE_MAX + 1 bytes
 * taken when needed and freed once no partial line is left. Zero-initialise.
 */
struct child_errlines {
    char *buf;  /* the partial line, or NULL */
    size_t len; /* bytes in buf */
    bool skip;  /* the current line was cut: drop up to '\n' */
};

/* Feeds n bytes; fn(ctx, line, len) for every line (or cut line) complete. */
void child_errlines_feed(struct child_errlines *l, const char *p, size_t n, child_line_fn fn,
                         void *ctx);
/* At EOF: the partial line, if any, is given to fn; l is empty again (nothing held). */
void child_errlines_finish(struct child_errlines *l, child_line_fn fn, void *ctx);

/* ---------------------------------------------------------------- the child */

struct child_write;
typedef void (*child_write_cb)(struct child_write *w, int status);

/* A write to stdin: owned by the caller, valid until its callback. */
struct child_write {
    uv_write_t uv;     /* private */
    struct child *c;   /* private */
    child_write_cb cb; /* private */
    void *data;        /* public: for the caller */
};

struct child {
    void *data;         /* public: for the owner */
    child_cb on_exit;   /* the leader was reaped: exited/exit_status/term_signal are set */
    child_cb on_closed; /* every handle closed: the struct may be freed */
    const struct child_io_settings *io; /* public: the reader (before child_read_start) */

    /* public, read-only */
    int pid; /* == pgid; 0 before a successful spawn */
    bool exited;
    int64_t exit_status;
    int term_signal;

    /* private */
    uv_pipe_t in, out, err; /* stdin (we write), stdout and stderr (we read) */
    /* the buffer a read's alloc handed out (and where), owned until the read callback that
     * follows takes it (libuv calls the two in pairs); dropped at close */
    struct buf *rd[2];
    size_t rd_off[2];
    struct child_errlines errlines; /* the stderr logger (child_log_stderr) */
    const char *log_prefix;
    unsigned long log_conn;
    bool pty, pty_binary; /* child_use_pty() */
    unsigned short pty_cols, pty_rows;
    const char *exec_name; /* child_exec_checked(): a name in exec_dir, for the next spawn */
    int exec_dir;
    dev_t exec_dev;
    ino_t exec_ino;
    struct child *reap_next; /* the reaper's pid table */
    uv_timer_t timer;
    unsigned closems;
    unsigned open;       /* handles initialised and not yet closed */
    unsigned in_pending; /* child_write()s whose callback has not run */
    uint8_t
        ladder; /* next kill-ladder step: 0 none started, 1 SIGINT, 2 SIGTERM, 3 SIGKILL, 4 done */
    bool in_closed, out_closed, err_closed, closing;
    bool in_eof;     /* child_close_stdin() waits for the pending writes */
    bool reading[2]; /* uv_read_start()ed */
    bool logging;    /* stderr goes to the logger, not to io */
};

/*
 * Initialises c and starts file with argv and env (NULL-terminated) on
 * loop. 0 on success; else a UV error, and the caller must still call
 * child_close() (on_closed follows). on_exit/on_closed/data must be set
 * before the call.
 */
int child_spawn(struct child *c, uv_loop_t *loop, const char *file, char *const *argv,
                char *const *env, unsigned closems);

/*
 * Makes child_spawn() start the program on a new pseudo-terminal (see above): binary picks
 * the terminal modes (pty_termios), cols x rows its window size (0: 80 x 24). Before
 * child_spawn(); c keeps it.
 */
void child_use_pty(struct child *c, bool binary, unsigned cols, unsigned rows);

/* --pty: the terminal's window size is now cols x rows (1..65535); the program's foreground
 * process group gets SIGWINCH. 0, or UV_EINVAL (no pty), UV_EPIPE (closed), a UV error. */
int child_pty_resize(struct child *c, unsigned cols, unsigned rows);

/*
 * Makes the next child_spawn() on c run the file that route_resolve() checked
 * (rt: a ROUTE_FILE result, kept alive and unfreed until child_spawn
 * returns) instead of looking file up again: the program starts in rt's
 * directory (rt->dirfd, the directory checked, whatever its path names by
 * then) and is executed as "./NAME" there, after one more check that NAME in
 * it is still the file checked (else UV_ELOOP when it became a symlink,
 * UV_ENOENT otherwise). file and argv[0] stay what the caller passes (the
 * real path, for logs and SCRIPT_FILENAME).
 *
 * Why not fexecve()/execveat() on rt->fd, which would leave no window at
 * all: for a #! script the interpreter gets "/dev/fd/N" as the script's
 * path ($0, sys.argv[0], __FILE__), so `dirname "$0"` and imports next to
 * the script break, and N must stay open (not close-on-exec) in the
 * program. Here $0 is "./NAME" in its own directory: meaningful. What
 * stays path-based is NAME itself inside the checked directory, between
 * the check and the exec: replacing it takes write access to that directory,
 * where one could as well put a program of one's own. The cost: the program
 * starts in its directory, not in the server's (CGI's usual convention).
 */
struct route;
void child_exec_checked(struct child *c, const struct route *rt);

/*
 * The reaper: a SIGCHLD handler on the loop that reaps every child of this
 * process (waitpid(-1)) and runs on_exit for the leaders it knows. It does
 * not keep the loop alive. The first child_spawn() starts it; the owner of
 * the loop calls child_reaper_close() before its last uv_run (when no child
 * is left, or none is waited for).
 */
void child_reaper_close(void);

/* ---------------------------------------------------------------- stdio */

/*
 * Queues bufs (in order, after earlier writes) to the program's stdin; the buffers must stay
 * valid until cb. 0: cb(w, status) runs exactly once, later (never inside this call), status 0
 * or a UV error (UV_ECANCELED when stdin was closed first, UV_EPIPE when the program closed
 * it). Else a UV error (stdin closed: UV_EPIPE), and cb never runs.
 */
int child_write(struct child *c, struct child_write *w, const uv_buf_t *bufs, unsigned n,
                child_write_cb cb);
/* Bytes accepted by child_write() and not yet handed to the pipe. */
size_t child_stdin_queued(const struct child *c);
/* child_write() would be accepted: spawned, stdin neither closed nor closing. */
bool child_stdin_open(const struct child *c);
/* EOF on the program's stdin: after the pending writes (they complete first; a write that
 * fails closes it at once), or now when none is pending. Later writes are refused.
 * Idempotent. */
void child_close_stdin(struct child *c);

/* Starts (resumes) delivering stream st to c->io. Idempotent. 0 or a UV error. */
int child_read_start(struct child *c, enum child_stream st);
/* Pauses it (backpressure). Idempotent. */
void child_read_stop(struct child *c, enum child_stream st);
/* The pipe of st is open: spawned, not closed by us, the child not closing. */
bool child_stream_open(const struct child *c, enum child_stream st);
/* Closes our end of stdout / stderr (when the owner saw EOF). Idempotent. */
void child_close_stdout(struct child *c);
void child_close_stderr(struct child *c);

/*
 * The stderr logger: reads stderr itself (c->io is not called for it) and logs every line
 * (child_errlines) at ERROR as "<prefix>: <line>" with connection id conn (log.c escapes
 * control bytes). At EOF (or an error) the partial line is logged and stderr closed; at
 * child_close() too. prefix must outlive c. 0 or a UV error.
 */
int child_log_stderr(struct child *c, unsigned long conn, const char *prefix);

/* ---------------------------------------------------------------- stopping */

/* Starts the stop sequence described above (stdin is closed now: pending writes are
 * cancelled). Idempotent; a no-op once reaped. */
void child_stop(struct child *c);

/* Sends sig to the process group now (ESRCH ignored). */
void child_signal(struct child *c, int sig);

/* Closes every handle (kills what is left of the group first). on_closed follows. */
void child_close(struct child *c);

/* The message for child_spawn()'s error: "Exec format error", "Permission denied". */
const char *child_strerror(int err);

/* "exit status 3", "killed by signal 9 (SIGKILL)", "running": into buf. */
const char *child_status_string(const struct child *c, char *buf, size_t len);

#endif
