/*
 * authz: runs the --authorizer for one request and reports its answer.
 *
 * One process per request: PROGRAM is started (child.c: its own process
 * group, the stop ladder, reaping) with the request's CGI environment, its
 * stdin closed at once (no byte of the request reaches it: the headers are
 * in the environment, a body is never read), its stderr logged line by
 * line with the connection's id, its stdout read up to AUTHZ_ANSWER_MAX
 * bytes. Once it has exited and its stdout is at EOF, the answer is parsed
 * (authz_answer.h) and handed to the caller. Why a process per request
 * rather than a long-running helper: any script is an authorizer (a shell
 * script, curl against an auth service), a crash or a leak in it touches
 * one request, and its environment is the request's; the cost is a spawn
 * per handshake (the connect row of doc/PERFORMANCE.md).
 *
 * Bounded: at most lim->max_running authorizers run at once in this
 * process; more requests wait in a FIFO queue of at most AUTHZ_QUEUE_MAX
 * (beyond it authz_start() refuses with UV_EBUSY). The time limit
 * lim->timeout_ms runs from authz_start(), queueing included: when it
 * passes, the answer is 503 and the authorizer is stopped (stdin closed,
 * SIGINT, SIGTERM, SIGKILL to its group: child_stop). Output longer than
 * AUTHZ_ANSWER_MAX is a 500 at once, and the authorizer is stopped too. A
 * running authorizer holds its slot until it has been reaped.
 */
#ifndef AUTHZ_H
#define AUTHZ_H

#include <uv.h>

#include "authz_answer.h"

#define AUTHZ_QUEUE_MAX 1024u /* requests waiting for a slot, per process */

struct authz_limits {
    const char *file;     /* the program (absolute path) */
    unsigned timeout_ms;  /* >= 1 */
    unsigned max_running; /* >= 1 */
    unsigned closems;     /* the stop ladder's --closems */
};

/*
 * The caller's side of one authorization. on_answer runs exactly once, from the loop (never
 * inside authz_start): a is the decision, the callee's to keep by copying the struct and
 * zeroing *a (then authz_answer_free() is the callee's), else freed after the call. on_done
 * runs exactly once, after on_answer, when the process has been reaped and every handle is
 * closed: data may be freed then (the caller's references end there).
 */
struct authz_events {
    void (*on_answer)(void *data, struct authz_answer *a);
    void (*on_done)(void *data);
};

/*
 * Starts an authorization, or queues it: env is the program's environment (child_env_build's;
 * taken: freed here in every case), conn the connection id for the log; lim is copied
 * (lim->file must outlive it), ev must outlive it. 0: ev's callbacks follow. Else nothing follows:
 * UV_EBUSY (the queue is full: answer 503), or the spawn's UV error (answer 500; child_strerror
 * names it).
 */
int authz_start(uv_loop_t *loop, const struct authz_limits *lim, char **env, unsigned long conn,
                const struct authz_events *ev, void *data);

/* Shutdown: every authorization not answered yet gets its 503 now (on_answer runs inside this
 * call) and its authorizer is stopped (the stop ladder) or taken out of the queue. */
void authz_cancel_all(void);

/* Authorizers running (spawned, not yet reaped) and queued in this process. */
unsigned authz_running(void);
unsigned authz_queued(void);

#endif
