/*
 * metrics: the server's counters, and --metrics=ADDR:PORT, a Prometheus
 * endpoint (text exposition format 0.0.4) on a listener of its own.
 *
 * Counting: each process has one slot of counters (struct metrics_slot)
 * and is its only writer, so an increment is a plain load, add and store
 * (relaxed atomics: no lock prefix, no torn read by the process that
 * renders). The events are counted where they happen: connections and
 * sessions, HTTP statuses, close codes and handshake latency in
 * session.c (plain-HTTP statuses in http_serve.c), programs' exits and
 * spawn failures in child.c, WebSocket bytes and messages in bridge.c.
 * Without --metrics the counters still run, in the process's own slot,
 * and nobody reads them: an add per event.
 *
 * --workers: metrics_share() (the supervisor, before the fork) maps one
 * slot per worker in memory shared by all (MAP_SHARED | MAP_ANONYMOUS);
 * worker i writes slot i (metrics_set_worker), and worker 0 serves the
 * endpoint, reading every slot. A worker that dies keeps its counts (its
 * replacement goes on counting in the same slot, so totals never go
 * down); its open connections and sessions are counted closed
 * (metrics_worker_gone).
 *
 * Exposition: every family is the sum over the workers (wsbridge_...);
 * with more than one worker each family is given again per worker as
 * wsbridge_worker_...{worker="N"} (a separate name, so that sum() over
 * either never counts twice). Families: connections_total,
 * connections_open, sessions_total (101 answered), sessions_open,
 * http_responses_total{status}, spawn_failures_total,
 * program_exits_total{code}, program_signals_total{signal},
 * close_codes_total{code}, websocket_bytes_total{direction="in"|"out"},
 * websocket_messages_total{direction}, and the histogram
 * handshake_duration_seconds (the request's first byte read -> the 101
 * written).
 *
 * The endpoint: GET or HEAD /metrics -> 200 with the exposition; any
 * other path 404, other methods 405; Connection: close after each
 * answer. A request must arrive within METRICS_REQUEST_MS and fit the
 * header limits (431 beyond); at most METRICS_CONNS_MAX connections are
 * served at once (more are closed at once).
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"

#define METRICS_REQUEST_MS 10000u
#define METRICS_CONNS_MAX 16u
#define METRICS_STATUS_MAX 600u /* statuses 100-599 counted each; others as "other" */
#define METRICS_CLOSE_MAX 5000u /* close codes 1000-4999 counted each; others as "other" */
#define METRICS_SIGNAL_MAX 65u  /* signals 1-64 */
#define METRICS_HS_BUCKETS 14u  /* handshake histogram buckets, +Inf not counted */

enum metrics_counter {
    METRICS_CONNECTIONS,        /* accepted */
    METRICS_CONNECTIONS_CLOSED, /* freed */
    METRICS_SESSIONS,           /* 101 answered */
    METRICS_SESSIONS_CLOSED,    /* ended after a 101 */
    METRICS_SPAWN_FAILURES,
    METRICS_WS_BYTES_IN,
    METRICS_WS_BYTES_OUT,
    METRICS_WS_MSGS_IN,
    METRICS_WS_MSGS_OUT,
    METRICS_HS_COUNT,
    METRICS_HS_SUM_US, /* microseconds */
    METRICS_NCOUNTERS,
};

/* One process's counters. */
struct metrics_slot {
    uint64_t c[METRICS_NCOUNTERS];
    uint64_t hs_bucket[METRICS_HS_BUCKETS]; /* not cumulative: [i] counts le[i-1] < t <= le[i] */
    uint64_t status[METRICS_STATUS_MAX];    /* [0]: other */
    uint64_t exit_code[256];
    uint64_t signal[METRICS_SIGNAL_MAX];    /* [0]: other */
    uint64_t close_code[METRICS_CLOSE_MAX]; /* [0]: other */
};

/* This process's slot (never NULL). */
extern struct metrics_slot *metrics_mine;

/* The single writer's increment: no lock, no torn value for a reader in another process. */
static inline void metrics_bump(uint64_t *p, uint64_t n)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline void metrics_add(enum metrics_counter c, uint64_t n)
{
    metrics_bump(&metrics_mine->c[c], n);
}

/* An HTTP response (101 included) with status. */
static inline void metrics_status(int status)
{
    metrics_bump(
        &metrics_mine->status[status >= 100 && status < (int)METRICS_STATUS_MAX ? status : 0], 1);
}

/* A WebSocket session ended with close code (ours, else the peer's, 1006 for none). */
static inline void metrics_close_code(unsigned code)
{
    metrics_bump(&metrics_mine->close_code[code >= 1000 && code < METRICS_CLOSE_MAX ? code : 0], 1);
}

/* A program was reaped: its exit status, or the signal that killed it (term_signal != 0). */
static inline void metrics_program_end(int exit_status, int term_signal)
{
    if (term_signal)
        metrics_bump(&metrics_mine->signal[term_signal > 0 && term_signal < (int)METRICS_SIGNAL_MAX
                                               ? term_signal
                                               : 0],
                     1);
    else
        metrics_bump(&metrics_mine->exit_code[exit_status & 255], 1);
}

/* A handshake took us microseconds (request start -> 101 written). */
void metrics_handshake(uint64_t us);

/*
 * The exposition of n slots (the sums, then per worker when n > 1) into a malloc'ed buffer:
 * returns it (*len bytes, NUL-terminated) or NULL when out of memory. Pure.
 */
char *metrics_render(const struct metrics_slot *slots, unsigned n, size_t *len);

/* The upper bounds of the histogram's buckets, in seconds, as the exposition writes them. */
extern const char *const metrics_hs_le[METRICS_HS_BUCKETS];

/* ---------------------------------------------------------------- the endpoint */

/* main(): binds and listens on --metrics (when given) before any worker starts; logs
 * "metrics on http://ADDR:PORT/metrics". 0, or CONFIG_EXIT_LISTEN after logging why. */
int metrics_open(const struct config *cfg);
/* Supervisor, before forking n workers: the shared slots (only when --metrics is on). 0 or
 * -errno. */
int metrics_share(unsigned n);
/* In worker index (after fork): counts in its slot; only worker 0 keeps the listener. */
void metrics_set_worker(unsigned index);
/* Supervisor: worker index died: its open connections and sessions are counted closed. */
void metrics_worker_gone(unsigned index);
/* The server (worker 0, or the single process): serves the endpoint on loop. 0 or a UV error
 * (logged). Nothing to do without --metrics. */
int metrics_serve(uv_loop_t *loop);
/* Shutdown: the listener and its connections are closed (their handles' close callbacks run on
 * the loop). */
void metrics_stop(void);
/* At exit: closes the listening socket if no loop took it, unmaps the shared slots. */
void metrics_close(void);

#endif
