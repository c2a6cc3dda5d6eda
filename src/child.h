/*
 * child: the program behind one WebSocket session.
 *
 * child_spawn() starts it with posix_spawn (its own session and process
 * group, pid == pgid; default signal dispositions, nothing blocked),
 * stdin/stdout/stderr as pipes, the current directory unchanged (a program
 * from --dir or --cgidir: its own directory, see child_exec_checked), and the
 * environment child_env_build() makes. A program that cannot start is an
 * error return (the exec failure reaches the parent: UV_ENOENT, UV_EACCES),
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
 * The owner reads c->out and c->err itself (they are plain uv_pipe_t). The
 * leader is reaped by this module's SIGCHLD handler (one per process,
 * started by the first child_spawn); on_exit runs then. child_close()
 * closes every handle (also after a failed spawn); on_closed runs once all
 * are closed, and only then may the struct be freed.
 */
#ifndef CHILD_H
#define CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "buf.h"

#include "handshake.h"

struct child;
typedef void (*child_cb)(struct child *c);

struct child {
    void *data;         /* public: for the owner */
    child_cb on_exit;   /* the leader was reaped: exited/exit_status/term_signal are set */
    child_cb on_closed; /* every handle closed: the struct may be freed */

    /* public, read-only */
    int pid; /* == pgid; 0 before a successful spawn */
    bool exited;
    int64_t exit_status;
    int term_signal;
    uv_pipe_t in, out, err; /* stdin (we write), stdout and stderr (we read) */
    /* the reader's: the buffer its alloc callback handed out, owned until the read callback
     * that follows takes it (libuv calls the two in pairs); dropped at close */
    struct buf *rd_out, *rd_err;

    /* private */
    const char *exec_name; /* child_exec_checked(): a name in exec_dir, for the next spawn */
    int exec_dir;
    dev_t exec_dev;
    ino_t exec_ino;
    struct child *reap_next; /* the reaper's pid table */
    uv_timer_t timer;
    unsigned closems;
    unsigned open; /* handles initialised and not yet closed */
    uint8_t
        ladder; /* next kill-ladder step: 0 none started, 1 SIGINT, 2 SIGTERM, 3 SIGKILL, 4 done */
    bool in_closed, out_closed, err_closed, closing;
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

/* Closes the program's stdin (EOF). Idempotent. */
void child_close_stdin(struct child *c);
/* Closes our end of stdout / stderr (when the owner saw EOF). Idempotent. */
void child_close_stdout(struct child *c);
void child_close_stderr(struct child *c);

/* Starts the stop sequence described above. Idempotent; a no-op once reaped. */
void child_stop(struct child *c);

/* Sends sig to the process group now (ESRCH ignored). */
void child_signal(struct child *c, int sig);

/* Closes every handle (kills what is left of the group first). on_closed follows. */
void child_close(struct child *c);

/* The message for child_spawn()'s error: "Exec format error", "Permission denied". */
const char *child_strerror(int err);

/* "exit status 3", "killed by signal 9 (SIGKILL)", "running": into buf. */
const char *child_status_string(const struct child *c, char *buf, size_t len);

/* ---------------------------------------------------------------- environment */

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
 */
char **child_env_build(const struct child_env_request *r);

#endif
