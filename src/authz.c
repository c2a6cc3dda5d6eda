/*
 * authz: the --authorizer, one process per request (see authz.h).
 */
#include "build-config.h"

#include "authz.h"

#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "log.h"

struct authz {
    struct child child;
    uv_timer_t timer;
    uv_loop_t *loop;
    struct authz_limits lim;       /* a copy */
    const struct authz_events *ev; /* NULL: the caller was told of a failure, nothing follows */
    void *data;
    unsigned long conn;
    char **env;                  /* until the spawn */
    char *out;                   /* stdout, AUTHZ_ANSWER_MAX + 1 bytes once anything came */
    size_t len;                  /* bytes in out */
    struct authz *prev, *next;   /* the queue */
    struct authz *wprev, *wnext; /* every authorization not answered yet */
    bool queued, spawned, exited, out_eof, answered, slot, timer_closed, child_closed;
    bool broken; /* its output cannot be read: the answer is a 500 */
};

/* This process's authorizers: those running hold a slot, the others wait in a FIFO. */
static struct {
    unsigned running, nqueued;
    struct authz *head, *tail;
    struct authz *waiting; /* not answered yet (authz_cancel_all) */
} authz_state;

unsigned authz_running(void)
{
    return authz_state.running;
}

unsigned authz_queued(void)
{
    return authz_state.nqueued;
}

static void queue_push(struct authz *z)
{
    z->queued = true;
    z->prev = authz_state.tail;
    z->next = NULL;
    if (authz_state.tail)
        authz_state.tail->next = z;
    else
        authz_state.head = z;
    authz_state.tail = z;
    authz_state.nqueued++;
}

static void queue_remove(struct authz *z)
{
    if (z->prev)
        z->prev->next = z->next;
    else
        authz_state.head = z->next;
    if (z->next)
        z->next->prev = z->prev;
    else
        authz_state.tail = z->prev;
    z->queued = false;
    authz_state.nqueued--;
}

/* ---------------------------------------------------------------- the end */

static void maybe_free(struct authz *z)
{
    if (!z->timer_closed || (z->spawned && !z->child_closed))
        return;
    if (z->ev)
        z->ev->on_done(z->data);
    free(z->env);
    free(z->out);
    free(z);
}

static void timer_closed(uv_handle_t *h)
{
    struct authz *z = h->data;

    z->timer_closed = true;
    maybe_free(z);
}

static void child_closed(struct child *c)
{
    struct authz *z = c->data;

    z->child_closed = true;
    maybe_free(z);
}

/* Answered and reaped (or never started): close what is open. */
static void maybe_close(struct authz *z)
{
    if (!z->answered || (z->spawned && !z->exited && z->child.pid > 0))
        return;
    if (z->spawned && !z->child.closing)
        child_close(&z->child); /* kills what is left of its group */
    if (!uv_is_closing((uv_handle_t *)&z->timer))
        uv_close((uv_handle_t *)&z->timer, timer_closed);
}

static void deliver(struct authz *z, struct authz_answer *a)
{
    if (z->wprev)
        z->wprev->wnext = z->wnext;
    else if (authz_state.waiting == z)
        authz_state.waiting = z->wnext;
    if (z->wnext)
        z->wnext->wprev = z->wprev;
    z->wprev = z->wnext = NULL;
    z->answered = true;
    uv_timer_stop(&z->timer);
    if (z->ev)
        z->ev->on_answer(z->data, a);
    authz_answer_free(a);
}

/* A decision without the authorizer's answer (timeout, too much output, no memory). */
static void deliver_refusal(struct authz *z, int status, const char *reason)
{
    struct authz_answer a;

    memset(&a, 0, sizeof a);
    authz_answer_refuse(&a, status, reason);
    deliver(z, &a);
}

/* Exited and its stdout at EOF: the answer. */
static void maybe_answer(struct authz *z)
{
    struct authz_answer a;

    if (z->answered || !z->exited || !z->out_eof)
        return;
    if (z->broken)
        deliver_refusal(z, 500, "the authorizer's output cannot be read");
    else if (authz_answer_parse(z->out ? z->out : "", z->len, false, (int)z->child.exit_status,
                                z->child.term_signal, &a) != 0)
        deliver_refusal(z, 500, "out of memory");
    else
        deliver(z, &a);
}

/* ---------------------------------------------------------------- the process */

static void start_queued(void);

static void authz_exited(struct child *c)
{
    struct authz *z = c->data;

    z->exited = true;
    if (z->slot) {
        z->slot = false;
        authz_state.running--;
    }
    maybe_answer(z);
    maybe_close(z);
    start_queued();
}

static struct buf *out_alloc(struct child *c, enum child_stream st, size_t *off)
{
    (void)c;
    (void)st;
    *off = 0;
    return buf_get();
}

static void out_read(struct child *c, enum child_stream st, ssize_t nread, struct buf *b,
                     size_t off)
{
    struct authz *z = c->data;

    (void)st;
    if (nread > 0 && !z->answered) {
        size_t room = AUTHZ_ANSWER_MAX - z->len, n = (size_t)nread;
        if (!z->out && !(z->out = malloc(AUTHZ_ANSWER_MAX + 1))) {
            deliver_refusal(z, 500, "out of memory");
            child_stop(c);
        } else if (n > room) {
            log_error(z->conn, "authorizer: more than %u bytes of output: stopping it",
                      AUTHZ_ANSWER_MAX);
            deliver_refusal(z, 500, "the authorizer's output is too long");
            child_close_stdout(c); /* more writes get EPIPE */
            child_stop(c);
        } else {
            memcpy(z->out + z->len, b->data + off, n);
            z->len += n;
        }
    } else if (nread < 0) {
        z->out_eof = true;
        child_close_stdout(c);
        maybe_answer(z);
        maybe_close(z);
    }
    buf_unref(b);
}

static const struct child_io_settings authz_io = {
    .on_alloc = out_alloc,
    .on_read = out_read,
};

static int spawn(struct authz *z)
{
    char *argv[2] = {(char *)z->lim.file, NULL};
    int r;

    z->child.data = z;
    z->child.on_exit = authz_exited;
    z->child.on_closed = child_closed;
    z->child.io = &authz_io;
    z->spawned = true; /* child_close follows in every case */
    r = child_spawn(&z->child, z->loop, z->lim.file, argv, z->env, z->lim.closems);
    free(z->env);
    z->env = NULL;
    if (r)
        return r;
    z->slot = true;
    authz_state.running++;
    log_debug(z->conn, "authorizer %s started, pid %d", z->lim.file, z->child.pid);
    child_close_stdin(&z->child);
    if ((r = child_read_start(&z->child, CHILD_STDOUT)) == 0)
        r = child_log_stderr(&z->child, z->conn, "authorizer stderr");
    if (r) {
        log_error(z->conn, "authorizer: cannot read its output: %s", uv_strerror(r));
        z->broken = z->out_eof = true; /* a 500 once it is reaped */
        child_stop(&z->child);
    }
    return 0;
}

/* Slots freed: the oldest waiting requests start. */
static void start_queued(void)
{
    while (authz_state.head && authz_state.running < authz_state.head->lim.max_running) {
        struct authz *z = authz_state.head;
        int r;

        queue_remove(z);
        if ((r = spawn(z)) != 0) {
            log_error(z->conn, "cannot start the authorizer %s: %s", z->lim.file,
                      child_strerror(r));
            deliver_refusal(z, 500, "the authorizer cannot start");
            child_close(&z->child);
            maybe_close(z);
        }
    }
}

/* Answers 503 now and stops the authorizer (the stop ladder) or takes it out of the queue. */
static void give_up(struct authz *z, const char *reason)
{
    if (z->queued)
        queue_remove(z);
    deliver_refusal(z, 503, reason);
    if (z->spawned && !z->exited)
        child_stop(&z->child); /* authz_exited closes it */
    maybe_close(z);
}

static void on_timeout(uv_timer_t *t)
{
    struct authz *z = t->data;

    if (z->answered)
        return;
    log_error(z->conn, "authorizer: no answer after %u ms%s: 503", z->lim.timeout_ms,
              z->queued ? " (still waiting for a slot)" : "");
    give_up(z, "the authorizer timed out");
}

void authz_cancel_all(void)
{
    while (authz_state.waiting)
        give_up(authz_state.waiting, "the server is shutting down");
}

int authz_start(uv_loop_t *loop, const struct authz_limits *lim, char **env, unsigned long conn,
                const struct authz_events *ev, void *data)
{
    struct authz *z;
    int r;

    if (authz_state.running >= lim->max_running && authz_state.nqueued >= AUTHZ_QUEUE_MAX) {
        free(env);
        return UV_EBUSY;
    }
    z = calloc(1, sizeof *z);
    if (!z) {
        free(env);
        return UV_ENOMEM;
    }
    z->loop = loop;
    z->lim = *lim;
    z->env = env;
    z->conn = conn;
    z->data = data;
    uv_timer_init(loop, &z->timer);
    z->timer.data = z;
    uv_timer_start(&z->timer, on_timeout, lim->timeout_ms, 0);
    if (authz_state.running >= lim->max_running) {
        log_debug(conn, "authorizer: %u running, waiting for a slot", authz_state.running);
        queue_push(z);
    } else if ((r = spawn(z)) != 0) {
        z->answered = true; /* nothing follows for the caller */
        child_close(&z->child);
        maybe_close(z);
        return r;
    }
    z->ev = ev;
    z->wnext = authz_state.waiting;
    if (z->wnext)
        z->wnext->wprev = z;
    authz_state.waiting = z;
    return 0;
}
