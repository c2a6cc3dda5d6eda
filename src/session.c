/*
 * session: one connection's life (see session.h).
 */
#include "build-config.h"

#include "session.h"

#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authz.h"
#include "bridge.h"
#include "cgi.h"
#include "child_env.h"
#include "config.h"
#include "forks.h"
#include "handshake.h"
#include "http_serve.h"
#include "hub.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "pty.h"
#include "route.h"
#include "transport.h"
#include "upgrade.h"
#include "ws_frame.h"
#include "ws_error.h"

static void transport_closed(struct transport *t);
static void session_unref(struct session *s);
static void session_peer_gone(struct session *s, bool graceful);
static void session_finish(struct session *s);

static void session_ref(struct session *s)
{
    s->refs++;
}

/* Why the connection ends, for the access line: the first reason given stays. */
static void session_end_reason(struct session *s, const char *why)
{
    if (!s->end_reason)
        s->end_reason = why;
}

/* ---------------------------------------------------------------- the host's table */

static void table_add(struct session_host *h, struct session *s)
{
    s->prev = NULL;
    s->next = h->sessions;
    if (h->sessions)
        h->sessions->prev = s;
    h->sessions = s;
    h->nsessions++;
}

static void table_remove(struct session *s)
{
    struct session_host *h = s->host;

    if (s->prev)
        s->prev->next = s->next;
    else
        h->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    h->nsessions--;
    if (h->on_session_gone)
        h->on_session_gone(h);
}

/* The access line's record of a session that did not end as plain-HTTP requests. */
static void session_log_access(struct session *s)
{
    struct log_access a = {
        .conn = s->id,
        .remote_addr = s->peer,
        .remote_port = s->peer_port,
        .method = s->method[0] ? s->method : NULL,
        .path = s->path,
        .status = s->status,
        .duration_ms = uv_now(s->host->loop) - s->started_ms,
        .bytes_in = s->bytes_in,
        .bytes_out = s->bytes_out,
        .msgs_in = bridge_messages_in(s->br),
        .msgs_out = bridge_messages_out(s->br),
        .close_code = s->status == 101 ? bridge_close_code(s->br) : 0,
        .closed_by = bridge_closed_by(s->br),
        .program = s->has_child,
        .started = s->has_child && s->child->pid > 0,
        .exited = s->has_child && s->child->exited,
        .exit_status = s->has_child ? (int)s->child->exit_status : 0,
        .term_signal = s->has_child ? s->child->term_signal : 0,
        .end_reason = s->end_reason,
    };
    log_access_record(&a);
}

/* The --authorizer's answer for the last request is no more. */
static void authz_forget(struct session *s)
{
    if (s->authz) {
        authz_answer_free(s->authz);
        free(s->authz);
        s->authz = NULL;
    }
}

static void session_free(struct session *s)
{
    metrics_add(METRICS_CONNECTIONS_CLOSED, 1);
    if (s->status == 101) {
        metrics_add(METRICS_SESSIONS_CLOSED, 1);
        metrics_close_code(bridge_close_code(s->br));
    }
    s->bytes_out += bridge_bytes_out(s->br);
    http_serve_release(s); /* a response cut short gets its access line ("incomplete") */
    /* plain-HTTP requests had a line each (http_serve.c); one not answered yet gets one here */
    if (s->status != 0 || s->nrequests == 0)
        session_log_access(s);
    buf_unref(s->pending_buf);
    if (s->counted)
        forks_release();
    table_remove(s);
    hub_leave(s->member, s->host->shutting_down);
    bridge_release(s->br);
    if (s->hs) {
        handshake_free(s->hs);
        free(s->hs);
    }
    free(s->path);
    free(s->remote_host);
    authz_forget(s);
    free(s->child);
    free(s);
}

static void session_unref(struct session *s)
{
    if (--s->refs == 0)
        session_free(s);
}

static void timer_closed(uv_handle_t *h)
{
    session_unref(h->data);
}

static void child_closed(struct child *c)
{
    session_unref(c->data);
}

/* ---------------------------------------------------------------- closing */

/* --shared: this client leaves its program's hub (nothing is sent to it from there anymore). */
static void session_leave_hub(struct session *s)
{
    struct hub_member *m = s->member;

    s->member = NULL;
    hub_leave(m, s->host->shutting_down);
}

/* Closes the transport now (pending writes are cancelled). */
static void close_transport(struct session *s)
{
    if (s->t_closing)
        return;
    s->t_closing = true;
    s->phase = SESSION_DONE;
    s->t->ops->close(s->t, transport_closed);
    bridge_transport_closed(s->br); /* stdout is now read and dropped */
    session_leave_hub(s);
}

static void shutdown_done(struct transport *t)
{
    close_transport(t->data);
}

/* The one place socket reads start and stop: they run while no reason to pause is set. */
static void session_pause(struct session *s, unsigned reason, bool on)
{
    unsigned was = s->pause;

    s->pause = on ? was | reason : was & ~reason;
    if (s->t_closing || (was == 0) == (s->pause == 0))
        return;
    if (s->pause)
        s->t->ops->read_stop(s->t);
    else
        s->t->ops->read_start(s->t);
}

/* Closes the transport after what is queued has been sent. */
static void finish_transport(struct session *s)
{
    if (s->t_closing || s->t_shutdown)
        return;
    s->t_shutdown = true;
    bridge_discard(s->br);
    bridge_flush(s->br); /* a close reply collected during this read goes out first */
    session_pause(s, SESSION_PAUSE_PEER, true);
    if (s->t->ops->shutdown(s->t, shutdown_done) != 0)
        close_transport(s);
}

static void timer_fire(uv_timer_t *t);
static void http_error(struct session *s, int status, const char *why);

static void timer_set(struct session *s, enum session_timer_mode mode, uint64_t ms, uint64_t rep)
{
    s->timer_mode = (uint8_t)mode;
    uv_timer_start(&s->timer, timer_fire, ms, rep);
}

static void stop_child(struct session *s)
{
    if (s->has_child && !s->child->closing)
        child_stop(s->child);
}

/* Both sides done? Then close the child's handles and the timer. */
static void session_finish(struct session *s)
{
    if (!s->t_closing)
        return;
    if (s->has_child && !s->child->exited && s->child->pid > 0 && !s->child->closing)
        return; /* the kill ladder (or SIGKILL) runs; on_exit comes back here to reap */
    if (s->has_child && !s->child_done) {
        s->child_done = true;
        child_close(s->child);
    }
    if (!uv_is_closing((uv_handle_t *)&s->timer))
        uv_close((uv_handle_t *)&s->timer, timer_closed);
}

static void transport_closed(struct transport *t)
{
    struct session *s = t->data;

    session_finish(s);
    session_unref(s);
}

static void session_peer_gone(struct session *s, bool graceful)
{
    bridge_discard(s->br);
    session_leave_hub(s);
    stop_child(s);
    if (graceful)
        finish_transport(s);
    else
        close_transport(s);
}

#define SESSION_PROBE_MS 5000u

/* The child's stdin can take no more data. */
static void session_stdin_dead(struct session *s)
{
    if (s->has_child)
        child_close_stdin(s->child);
}

/* The child is done (exit + stdout EOF): say so with a close frame. */
static void send_child_close(struct session *s)
{
    char reason[64];
    uint16_t code = WS_CLOSE_NORMAL;

    if (s->close_queued || s->phase != SESSION_WS)
        return;
    s->close_queued = true;
    session_end_reason(s, "program-exit");
    if (s->has_child && (s->child->term_signal || s->child->exit_status != 0)) {
        code = WS_CLOSE_INTERNAL_ERROR;
        child_status_string(s->child, reason, sizeof reason);
    } else {
        reason[0] = '\0';
    }
    log_debug(s->id, "child done (%s): closing with %u", reason[0] ? reason : "exit status 0",
              code);
    if (bridge_can_send(s->br)) {
        bridge_close(s->br, code, reason[0] ? reason : NULL);
        timer_set(s, SESSION_T_LINGER, (uint64_t)SESSION_LINGER_MS + s->host->cfg->closems, 0);
    } else if (bridge_finished(s->br)) {
        finish_transport(s);
    }
}

/* The child's stdout reached EOF (or was given up on). */
static void session_stdout_done(struct session *s)
{
    if (s->has_child && s->child->exited)
        send_child_close(s);
    else
        stop_child(s); /* closed its stdout but runs on: the session is over (websocketd) */
}

/* The server ends a WebSocket session: the stop sequence for the program, our close 1001 with
 * reason, then the peer's reply or the linger time. */
static void going_away(struct session *s, const char *reason)
{
    stop_child(s);
    if (bridge_can_send(s->br)) {
        s->close_queued = true;
        bridge_close(s->br, WS_CLOSE_GOING_AWAY, reason);
        bridge_discard(s->br);
        timer_set(s, SESSION_T_LINGER, (uint64_t)SESSION_LINGER_MS + s->host->cfg->closems, 0);
    }
    bridge_update_reads(s->br);
}

/* ---------------------------------------------------------------- the WebSocket phase's deadlines */

#define SESSION_HINT_MS 1000u /* a client message unanswered this long: the buffered-output hint */

/* May the lifetimes still end the session, and the hint be given? Not once a close is out
 * either way or the peer is gone: then the deadlines wait for nothing. */
static bool watch_may_close(const struct session *s)
{
    return !s->close_queued && !s->t_shutdown && !s->t_closing && bridge_can_send(s->br);
}

/* The timer for the earliest deadline (SESSION_T_WATCH), unless another mode holds it (our close
 * is out, the program's exit grace) or the session is ending. A deadline that moved later (a
 * message came) is left to the timer already set: it finds nothing due and comes back here. */
static void watch_arm(struct session *s)
{
    struct session_watch *w = &s->watch;
    uint64_t due = w->tick ? w->tick : UINT64_MAX, now;

    if (s->phase != SESSION_WS || s->t_closing ||
        (s->timer_mode != SESSION_T_NONE && s->timer_mode != SESSION_T_WATCH))
        return;
    if (watch_may_close(s)) {
        if (w->lifetime_ms && w->started + w->lifetime_ms < due)
            due = w->started + w->lifetime_ms;
        if (w->idle_ms && w->last_msg + w->idle_ms < due)
            due = w->last_msg + w->idle_ms;
        if (w->unanswered && w->unanswered + SESSION_HINT_MS < due)
            due = w->unanswered + SESSION_HINT_MS;
    }
    if (due == UINT64_MAX) {
        if (s->timer_mode == SESSION_T_WATCH) {
            uv_timer_stop(&s->timer);
            s->timer_mode = SESSION_T_NONE;
        }
        return;
    }
    if (s->timer_mode == SESSION_T_WATCH && w->due <= due)
        return;
    now = uv_now(s->host->loop);
    w->due = due;
    timer_set(s, SESSION_T_WATCH, due > now ? due - now : 0, 0);
}

/* Did data messages go either way since the last look? Then the idle time starts again, and a
 * client message that nothing answered yet starts the hint's second. Called after each socket
 * read and each completed write (exact), and when the timer fires (what neither showed). */
static void watch_look(struct session *s)
{
    struct session_watch *w = &s->watch;
    uint64_t in = bridge_messages_in(s->br), out = bridge_messages_out(s->br);

    if (in == w->seen_in && out == w->seen_out)
        return;
    w->last_msg = uv_now(s->host->loop);
    if (out != w->seen_out) {
        w->unanswered = 0;
    } else if (!w->unanswered && !w->hint_off) {
        w->unanswered = w->last_msg;
        watch_arm(s);
    }
    w->seen_in = in;
    w->seen_out = out;
}

/* The WebSocket phase begins (the bridge runs): the lifetime from now, --pingms's first ping. */
static void watch_start(struct session *s)
{
    const struct config *cfg = s->host->cfg;
    struct session_watch *w = &s->watch;

    uv_update_time(s->host->loop); /* the spawn took time: the lifetime starts at the 101 */
    memset(w, 0, sizeof *w);
    w->started = w->last_msg = uv_now(s->host->loop);
    s->last_rx_ms = w->started; /* --pingms: the peer's silence counts from its 101, not from
                                   before a spawn that took long */
    w->idle_ms = cfg->idle_timeout_ms;
    w->lifetime_ms = cfg->max_lifetime_ms;
    /* a terminal line-buffers; a shared program answers whom it likes */
    w->hint_off = cfg->pty || cfg->shared;
    w->tick = cfg->pingms ? w->started + cfg->pingms : 0;
    watch_arm(s);
}

/* --pingms's ping, or without it a probe while socket reads are stopped. false: the peer was
 * silent for 2 * --pingms and is dropped. */
static bool watch_tick(struct session *s, uint64_t now)
{
    unsigned pingms = s->host->cfg->pingms;

    if (!pingms) {
        s->watch.tick = 0;
        /* Our socket is not read, so a peer that closed with data still unsent (its FIN
         * waits behind a full window) would never be seen: data sent to a closed socket is
         * answered with a reset, which the transport reports (transport.h, read_stop). */
        if (s->pause & SESSION_PAUSE_QUEUE) {
            s->watch.tick = now + SESSION_PROBE_MS;
            if (bridge_can_send(s->br) && s->t->ops->write_queue_size(s->t) == 0)
                bridge_ping(s->br);
        }
        return true;
    }
    s->watch.tick = now + pingms;
    if (s->pause & SESSION_PAUSE_QUEUE)
        s->last_rx_ms = now; /* we stopped reading: silence is ours */
    if (now - s->last_rx_ms >= 2ull * pingms) {
        log_info(s->id, "peer silent for %" PRIu64 " ms: dropping", now - s->last_rx_ms);
        session_end_reason(s, "ping-timeout");
        session_peer_gone(s, false);
        return false;
    }
    if (bridge_can_send(s->br))
        bridge_ping(s->br);
    return true;
}

/* --idle-timeout or --max-lifetime: this client's session ends (with --shared, this client's
 * only): why for the access line, reason in our close frame. */
static void expire(struct session *s, const char *why, const char *reason)
{
    log_info(s->id, "%s: closing with 1001", reason);
    session_end_reason(s, why);
    session_leave_hub(s);
    going_away(s, reason);
}

/* A client message went to the program a second ago and nothing came back while it runs: its
 * output may wait in its stdio buffer (a pipe is not a terminal). Said once per session. */
static void watch_hint(struct session *s, uint64_t now)
{
    struct session_watch *w = &s->watch;

    w->unanswered = 0;
    if (!s->has_child || s->child->pid <= 0 || s->child->exited || s->stdout_eof)
        return;
    if (child_stdin_queued(s->child) > 0) {
        w->unanswered = now; /* the program has not taken it: not its output that waits */
        return;
    }
    w->hint_off = true;
    if (s->host->cfg->unbuffered)
        log_info(s->id, "program output may be buffered (--unbuffered does not reach every "
                        "program); see --pty");
    else
        log_info(s->id, "program output may be buffered; see --unbuffered");
}

static void watch_fire(struct session *s, uint64_t now)
{
    struct session_watch *w = &s->watch;
    char reason[64];

    watch_look(s);
    if (w->tick && now >= w->tick && !watch_tick(s, now))
        return;
    if (!watch_may_close(s))
        return;
    if (w->lifetime_ms && now >= w->started + w->lifetime_ms) {
        snprintf(reason, sizeof reason, "session lifetime of %u ms reached", w->lifetime_ms);
        expire(s, "max-lifetime", reason);
    } else if (w->idle_ms && now >= w->last_msg + w->idle_ms) {
        snprintf(reason, sizeof reason, "idle for %u ms", w->idle_ms);
        expire(s, "idle-timeout", reason);
    } else if (w->unanswered && now >= w->unanswered + SESSION_HINT_MS) {
        watch_hint(s, now);
    }
}

/* ---------------------------------------------------------------- the bridge's reports */

static void on_bridge_peer_gone(void *ctx, bool graceful)
{
    struct session *s = ctx;

    /* graceful without the peer's close: it broke the protocol, our close is out */
    session_end_reason(s, bridge_close_received(s->br) ? "client-close"
                          : graceful                   ? "protocol-error"
                                                       : "client-gone");
    session_peer_gone(ctx, graceful);
}

static void on_bridge_stdout_done(void *ctx)
{
    struct session *s = ctx;

    s->stdout_eof = true;
    session_stdout_done(s);
}

static void on_bridge_stdin_dead(void *ctx)
{
    session_stdin_dead(ctx);
}

/* Backpressure: socket reads stop or resume. While stopped, a peer that left is only seen
 * through what the kernel learns, so without --pingms something is sent now and then. */
static void on_bridge_reads_paused(void *ctx, bool paused)
{
    struct session *s = ctx;

    session_pause(s, SESSION_PAUSE_QUEUE, paused);
    if (paused && !s->host->cfg->pingms && !s->watch.tick) {
        s->watch.tick = uv_now(s->host->loop) + SESSION_PROBE_MS;
        watch_arm(s);
    } else if (!paused && !s->host->cfg->pingms) {
        s->watch.tick = 0; /* a timer set for it finds nothing due and goes on to the next */
    }
}

/* Ends the session with our close (code, reason) and lets the close handshake run out; the
 * program's output is dropped from now on. */
static void session_close_with(struct session *s, uint16_t code, const char *reason)
{
    if (!s->close_queued && bridge_can_send(s->br)) {
        s->close_queued = true;
        bridge_close(s->br, code, reason);
        bridge_discard(s->br);
        timer_set(s, SESSION_T_LINGER, (uint64_t)SESSION_LINGER_MS + s->host->cfg->closems, 0);
    } else if (bridge_finished(s->br)) {
        finish_transport(s);
    }
}

/* --framing: the program's output broke the framing (logged by the bridge): close 1011 with
 * the reason, and stop the program. */
static void on_bridge_bad_output(void *ctx, const char *reason)
{
    struct session *s = ctx;

    session_end_reason(s, "bad-output");
    session_close_with(s, WS_CLOSE_INTERNAL_ERROR, reason);
    stop_child(s);
}

static void on_bridge_hold(void *ctx)
{
    session_ref(ctx);
}

static void on_bridge_release(void *ctx)
{
    session_unref(ctx);
}

static void on_bridge_drained(void *ctx)
{
    struct session *s = ctx;

    watch_look(s); /* a message may have gone out */
    hub_drained(s->member);
}

static const struct bridge_events session_bridge_events = {
    .peer_gone = on_bridge_peer_gone,
    .stdout_done = on_bridge_stdout_done,
    .stdin_dead = on_bridge_stdin_dead,
    .bad_output = on_bridge_bad_output,
    .reads_paused = on_bridge_reads_paused,
    .hold = on_bridge_hold,
    .release = on_bridge_release,
    .drained = on_bridge_drained,
};

/* --shared: the hub ends this client (its program exited, or the client fell too far
 * behind). It has left the hub already. */
static void on_hub_close(void *ctx, uint16_t code, const char *reason)
{
    struct session *s = ctx;

    s->member = NULL;
    session_ref(s);
    session_close_with(s, code, reason);
    session_unref(s);
}

static const struct hub_member_events session_hub_events = {
    .close = on_hub_close,
};

/* --shared: the client's messages go to its hub (none once it left). */
static void on_sink_begin(void *ctx, bool text)
{
    hub_in_begin(((struct session *)ctx)->member, text);
}

static void on_sink_data(void *ctx, const uint8_t *p, size_t n, struct buf *owner)
{
    (void)owner; /* copied: a message is written to stdin whole */
    hub_in_data(((struct session *)ctx)->member, p, n);
}

static void on_sink_end(void *ctx)
{
    hub_in_end(((struct session *)ctx)->member);
}

static size_t on_sink_queued(void *ctx)
{
    return hub_in_queued(((struct session *)ctx)->member);
}

static const struct bridge_sink session_sink = {
    .begin = on_sink_begin,
    .data = on_sink_data,
    .end = on_sink_end,
    .queued = on_sink_queued,
};

#define SESSION_SHARED_MESSAGE_MAX (1u << 20) /* --shared without --maxframesize */
#define SESSION_SHARED_SNDBUF (128 * 1024)    /* --shared: a client's kernel send buffer */

/* --shared: joins the hub of file (hub_join); env is taken. */
static int session_join(struct session *s, const char *file, char *const *argv, char **env,
                        const struct route *rt)
{
    const struct config *cfg = s->host->cfg;
    struct hub_options ho = {
        .loop = s->host->loop,
        .binary = cfg->binary,
        .addressed = cfg->shared == CONFIG_SHARED_ADDRESSED,
        .framing = cfg->framing,
        .slow = cfg->slow_close ? HUB_SLOW_CLOSE : HUB_SLOW_DROP,
        .queue = (size_t)cfg->slow_client_queue,
        .linger_ms = cfg->shared_linger_ms,
        .closems = cfg->closems,
        .redis = cfg->redis,
    };

    hub_configure(&ho);
    return hub_join(&s->member, file, argv, env, rt, s->id, &session_hub_events, s);
}

static void on_child_exit(struct child *c)
{
    struct session *s = c->data;
    char st[64];

    log_debug(s->id, "child %d: %s", c->pid, child_status_string(c, st, sizeof st));
    session_ref(s);
    if (s->phase == SESSION_WS && !s->close_queued) {
        if (s->stdout_eof)
            send_child_close(s);
        else
            timer_set(s, SESSION_T_EXIT_GRACE, 100 + (uint64_t)s->host->cfg->closems, 0);
    }
    session_finish(s);
    session_unref(s);
}

static void session_child_exited(struct session *s)
{
    session_ref(s);
    session_finish(s);
    session_unref(s);
}

void session_shutdown(struct session *s)
{
    session_end_reason(s, "shutdown");
    authz_cancel_all(); /* every request still being decided: 503, its authorizer stopped */
    if (s->phase == SESSION_WS) {
        going_away(s, "server shutting down");
        return;
    }
    close_transport(s);
}

void session_kill(struct session *s)
{
    session_ref(s);
    session_end_reason(s, "shutdown");
    if (s->has_child && s->child->pid > 0)
        child_signal(s->child, SIGKILL);
    close_transport(s);
    session_finish(s);
    session_unref(s);
}

static void timer_fire(uv_timer_t *t)
{
    struct session *s = t->data;
    uint64_t now = uv_now(s->host->loop);

    session_ref(s);
    switch ((enum session_timer_mode)s->timer_mode) {
    case SESSION_T_HANDSHAKE:
        log_info(s->id, "handshake not complete after %u ms: closing",
                 s->host->cfg->handshake_timeout_ms);
        session_end_reason(s, "handshake-timeout");
        http_error(s, 408, "handshake timeout");
        break;
    case SESSION_T_WATCH:
        s->timer_mode = SESSION_T_NONE;
        watch_fire(s, now);
        watch_arm(s); /* unless what fired ended the session or took the timer */
        break;
    case SESSION_T_EXIT_GRACE:
        /* The leader is gone but something in its group holds stdout open. */
        log_debug(s->id, "stdout still open after the program exited: giving up on it");
        if (s->has_child && s->child->pid > 0)
            child_signal(s->child, SIGTERM);
        bridge_stdout_eof(s->br);
        send_child_close(s);
        break;
    case SESSION_T_LINGER:
        session_end_reason(s, "close-timeout");
        close_transport(s);
        break;
    case SESSION_T_IDLE:
        log_debug(s->id, "keep-alive connection idle: closing");
        session_end_reason(s, "keep-alive-idle");
        close_transport(s);
        break;
    case SESSION_T_SEND:
        http_serve_timeout(s);
        break;
    case SESSION_T_NONE:
        break;
    }
    session_unref(s);
}

/* ---------------------------------------------------------------- HTTP phase */

struct owned_write {
    struct transport_write w;
    struct session *s;
    size_t len;
    char data[];
};

static void owned_write_done(struct transport_write *w, int status)
{
    struct owned_write *o = w->data;
    struct session *s = o->s;

    if (status == 0)
        s->bytes_out += o->len;
    if (status == 0 && s->status == 101 && s->req_start_ns) { /* the 101 is out */
        metrics_handshake((uv_hrtime() - s->req_start_ns) / 1000);
        s->req_start_ns = 0;
    }
    free(o);
    session_unref(s);
}

/* Sends an HTTP response (copied). */
static int send_response(struct session *s, const char *data, size_t len)
{
    struct owned_write *o = malloc(sizeof *o + len);
    uv_buf_t b;
    int r;

    if (!o)
        return UV_ENOMEM;
    memcpy(o->data, data, len);
    o->s = s;
    o->len = len;
    o->w.cb = owned_write_done;
    o->w.data = o;
    b = uv_buf_init(o->data, (unsigned)len);
    r = s->t->ops->write(s->t, &o->w, &b, 1);
    if (r) {
        free(o);
        return r;
    }
    session_ref(s);
    return 0;
}

/* Sends out[0..n) (an error response; nothing when n <= 0), then the connection ends. */
static void send_error(struct session *s, int status, const char *out, int n)
{
    s->status = status;
    metrics_status(status);
    session_end_reason(s, "refused");
    /* closed once the response is out, or after the linger time whatever the peer does */
    timer_set(s, SESSION_T_LINGER, SESSION_LINGER_MS, 0);
    if (n > 0)
        send_response(s, out, (size_t)n);
    finish_transport(s);
}

static void http_error(struct session *s, int status, const char *why)
{
    const struct config *cfg = s->host->cfg;
    char *extra = upgrade_header_lines(cfg->headers, cfg->headers_http);
    size_t cap = 1024 + (extra ? strlen(extra) : 0);
    char *out = malloc(cap);

    log_debug(s->id, "%d %s: %s", status, handshake_status_text(status), why ? why : "");
    send_error(s, status, out, out ? handshake_write_error(status, extra, out, cap) : 0);
    free(out);
    free(extra);
}

static void session_timer(struct session *s, enum session_timer_mode mode, uint64_t ms)
{
    timer_set(s, mode, ms, 0);
}

static void session_http_error(struct session *s, int status, const char *why)
{
    http_error(s, status, why);
}

/* --trust-proxy: the client a trusted proxy's headers name (proxy.h); false: the peer is. Per
 * request, so one keep-alive connection from a proxy can carry many clients. */
static bool forwarded_client(const struct session *s, char *addr, size_t len, int *port)
{
    struct proxy_scan ps;

    if (s->host->cfg->trust_proxy.n == 0)
        return false;
    proxy_scan_init(&ps, &s->host->cfg->trust_proxy, s->peer);
    for (unsigned i = 0; i < s->hs->nheaders; i++)
        proxy_scan_header(&ps, s->hs->headers[i].name, s->hs->headers[i].value);
    return proxy_scan_result(&ps, addr, len, port);
}

static uint64_t session_unique_id(const struct session *s)
{
    /* splitmix64 of a per-process random base and the connection id */
    uint64_t z = s->host->unique_base + s->id * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (z ^ (z >> 31)) >> 1;
}

static void session_env_request(struct session *s, struct child_env_request *req, char *client,
                                size_t client_len)
{
    const struct config *cfg = s->host->cfg;
    int client_port = 0;
    bool fwd = forwarded_client(s, client, client_len, &client_port);

    if (fwd) /* REMOTE_HOST: --reverselookup looked up the proxy, so the client's address */
        log_info(s->id, "client %s port %d, forwarded by %s:%d", client, client_port, s->peer,
                 s->peer_port);
    memset(req, 0, sizeof *req);
    req->server_software = s->host->software;
    req->passenv = cfg->passenv;
    req->remote_addr = fwd ? client : s->peer;
    req->remote_port = fwd ? client_port : s->peer_port;
    req->remote_host = fwd ? NULL : s->remote_host;
    req->ssl_client_s_dn = transport_tls_subject(s->t); /* NULL: not TLS (the Unix socket) */
    req->https = req->ssl_client_s_dn != NULL;
    req->script_name = "/";
    req->path = s->hs->path;
    req->path_len = s->hs->path_len;
    req->query = s->hs->query;
    req->url = s->hs->url;
    req->headers = s->hs->headers;
    req->nheaders = s->hs->nheaders;
    req->unique_id = session_unique_id(s);
    req->remote_user = s->authz ? s->authz->remote_user : NULL;
    req->extra_env = s->authz ? s->authz->env : NULL;
}

static struct child *session_child(struct session *s)
{
    if (!s->child)
        s->child = calloc(1, sizeof *s->child);
    return s->child;
}

static int session_spawn(struct session *s, const char *file, char *const *argv, char **env,
                         child_cb on_exit)
{
    int r;

    if (!session_child(s))
        return UV_ENOMEM;
    s->child->data = s;
    s->child->on_exit = on_exit;
    s->child->on_closed = child_closed;
    s->has_child = true;
    session_ref(s); /* released in child_closed */
    r = child_spawn(s->child, s->host->loop, file, argv, env, s->host->cfg->closems);
    return r;
}

/* The upgrade decision's policy, from the configuration. */
static void upgrade_policy_of(const struct config *cfg, struct upgrade_policy *p)
{
    p->origins = cfg->origins;
    p->sameorigin = cfg->sameorigin;
    p->headers = cfg->headers;
    p->headers_ws = cfg->headers_ws;
    p->deflate = &cfg->pmd;
    p->subprotocols = cfg->subprotocols;
    p->subprotocol_required = cfg->subprotocol_required;
}

/* A 101 verdict: the program is found, counted, started; then the 101 goes out. */
static void upgrade(struct session *s, struct buf *owner, uint8_t *rest, size_t rest_len)
{
    const struct config *cfg = s->host->cfg;
    struct upgrade_policy policy;
    struct upgrade_verdict v;
    struct child_env_request req;
    char **env;
    int r;
    struct route rt;
    const char *file = cfg->command_path;
    char *const *argv = cfg->command;
    char *dir_argv[2];

    upgrade_policy_of(cfg, &policy);
    policy.headers_authz = s->authz ? (const char *const *)s->authz->headers : NULL;
    r = upgrade_decide(&policy, s->hs, &v);
    if (r) {
        http_error(s, 500, ws_error_message(r));
        return;
    }
    if (v.status != 101) {
        const struct handshake_header *o = handshake_find(s->hs, "Origin");
        const struct handshake_header *sp = handshake_find(s->hs, "Sec-WebSocket-Protocol");
        log_info(s->id, "upgrade refused: %d (%s; Origin '%s', Sec-WebSocket-Protocol '%s')",
                 v.status, v.reason, o ? o->value : "(none)", sp ? sp->value : "(none)");
        http_error(s, v.status, v.reason);
        return;
    }
    if (!cfg->shared && !session_child(s)) {
        upgrade_verdict_free(&v);
        http_error(s, 500, "out of memory");
        return;
    }
    memset(&rt, 0, sizeof rt);
    if (cfg->dir) {
        /* --dir: the URL names the script; refused before anything runs */
        enum route_status rs =
            route_resolve(cfg->dir, s->hs->path, s->hs->path_len, ROUTE_WALK | ROUTE_EXEC, &rt);
        if (rs != ROUTE_FILE) {
            int code = rs == ROUTE_DIRECTORY ? 404 : (int)rs;
            const char *why = rs == ROUTE_DIRECTORY ? "a directory" : rt.why;
            log_info(s->id, "no script for %s: %d (%s)", s->path ? s->path : "-", code, why);
            route_free(&rt);
            upgrade_verdict_free(&v);
            http_error(s, code, why);
            return;
        }
        file = rt.file;
        dir_argv[0] = rt.file;
        dir_argv[1] = NULL;
        argv = dir_argv;
        /* run the file checked, not rt.file again (B4); the hub checks its own (hub_join) */
        if (!cfg->shared)
            child_exec_checked(s->child, &rt);
    } else if (!cfg->command || !cfg->command_path) {
        upgrade_verdict_free(&v);
        http_error(s, 404, "no program to serve"); /* only --staticdir/--cgidir */
        return;
    }
    if (!forks_acquire(cfg->maxforks)) {
        log_info(s->id, "--maxforks=%u reached: 429", cfg->maxforks);
        route_free(&rt);
        upgrade_verdict_free(&v);
        http_error(s, 429, "maxforks");
        return;
    }
    s->counted = true; /* released when the session ends */
    char client[PROXY_ADDR_MAX];
    session_env_request(s, &req, client, sizeof client);
    req.subprotocol = v.subprotocol;
    if (cfg->dir) {
        req.script_name = s->hs->path;
        req.script_name_len = rt.script_len;
        req.path_info = rt.path_info;
        req.path_info_len = rt.path_info_len;
        req.script_filename = rt.file;
    }
    req.stdbuf_lib = cfg->stdbuf_lib; /* --unbuffered, else NULL */
    if (cfg->pty) {
        unsigned cols = PTY_DEFAULT_COLS, rows = PTY_DEFAULT_ROWS;

        req.term = cfg->binary ? "xterm-256color" : "dumb"; /* a line is not a screen */
        pty_size_from_query(s->hs->query, &cols, &rows);
        child_use_pty(s->child, cfg->binary, cols, rows);
    }
    env = child_env_build(&req);
    if (!env) {
        route_free(&rt);
        upgrade_verdict_free(&v);
        http_error(s, 500, "out of memory");
        return;
    }

    /* Spawn first: a program that cannot start is a 500, never a 101 then a drop. */
    if (cfg->shared) {
        r = session_join(s, file, argv, env, cfg->dir ? &rt : NULL);
    } else {
        r = session_spawn(s, file, argv, env, on_child_exit);
        free(env);
    }
    if (r) {
        log_error(s->id, "cannot start %s: %s", file, child_strerror(r));
        route_free(&rt);
        upgrade_verdict_free(&v);
        http_error(s, 500, child_strerror(r));
        return;
    }
    if (!cfg->shared)
        log_debug(s->id, "started %s, pid %d", file, s->child->pid);
    route_free(&rt);

    r = send_response(s, v.response, v.response_len);
    upgrade_verdict_free(&v);
    if (r != 0) {
        log_error(s->id, "cannot send the 101 response");
        s->status = 500;
        session_peer_gone(s, false);
        return;
    }
    s->status = 101;
    metrics_add(METRICS_SESSIONS, 1);
    metrics_status(101);
    handshake_free(s->hs);
    free(s->hs);
    s->hs = NULL;
    s->phase = SESSION_WS;
    uv_timer_stop(&s->timer);
    s->timer_mode = SESSION_T_NONE;
    struct bridge_options bo = {.binary = cfg->binary,
                                .passstderr = cfg->passstderr,
                                .framing = cfg->framing,
                                .pty = cfg->pty,
                                .max_message = cfg->maxframesize,
                                .conn = s->id,
                                .deflate = v.deflate,
                                .pmd = v.pmd,
                                .pmd_policy = &cfg->pmd};
    if (cfg->shared) {
        if (!bo.max_message)
            bo.max_message = SESSION_SHARED_MESSAGE_MAX; /* each message is held whole */
        if (s->t->ops->send_buffer) /* else a stuck client holds up to 4 MiB in the kernel */
            s->t->ops->send_buffer(s->t, SESSION_SHARED_SNDBUF);
        r = bridge_start_member(&s->br, s->t, &bo, &session_bridge_events, s, &session_sink, s);
        if (r == 0)
            hub_attach(s->member, s->br);
    } else {
        r = bridge_start(&s->br, s->child, s->t, &bo, &session_bridge_events, s);
    }
    if (r != 0) {
        log_error(s->id, "cannot read the program's output");
        session_peer_gone(s, false);
        return;
    }
    watch_start(s);
    if (rest_len) {
        bridge_socket_data(s->br, owner, rest, rest_len);
        watch_look(s);
    }
}

static void upgrade_and_go(struct session *s, struct buf *owner, uint8_t *rest, size_t rest_len)
{
    upgrade(s, owner, rest, rest_len);
    if (s->phase == SESSION_WS && !s->t_closing && !s->t_shutdown) {
        session_pause(s, SESSION_PAUSE_DECIDING | SESSION_PAUSE_HELD | SESSION_PAUSE_BODY, false);
        bridge_update_reads(s->br);
    }
}

/* --authorizer: the request waits (socket reads paused) for the answer, its bytes held. */
struct authorizing {
    struct session *s;
    struct buf *rbuf; /* holds the bytes behind the request's headers */
    uint8_t *rest;
    size_t rest_len;
    bool upgrade; /* else a plain HTTP request (--authorizer-scope=all) */
};

/* A refusal: the authorizer's status, headers and body, then the connection ends. */
static void authz_refuse(struct session *s, const struct authz_answer *a)
{
    const struct config *cfg = s->host->cfg;
    char *extra = upgrade_header_lines(cfg->headers, cfg->headers_http);
    size_t cap = authz_answer_refusal_size(a, extra);
    char *out = malloc(cap);

    log_info(s->id, "authorizer: %d (%s)", a->status, a->reason);
    send_error(s, a->status, out, out ? authz_answer_write_refusal(a, extra, out, cap) : 0);
    free(out);
    free(extra);
}

static void authorized(void *data, struct authz_answer *a)
{
    struct authorizing *w = data;
    struct session *s = w->s;

    if (s->phase != SESSION_HTTP || s->t_closing || s->t_shutdown)
        return; /* answered meanwhile (--handshake-timeout), or the peer left */
    if (a->status != 0) {
        authz_refuse(s, a);
        return;
    }
    log_debug(s->id, "authorizer: allowed%s%s", a->remote_user ? ", REMOTE_USER=" : "",
              a->remote_user ? a->remote_user : "");
    authz_forget(s);
    if (!(s->authz = malloc(sizeof *s->authz))) {
        http_error(s, 500, "out of memory");
        return;
    }
    *s->authz = *a; /* taken (authz.h) */
    memset(a, 0, sizeof *a);
    if (w->upgrade) {
        upgrade_and_go(s, w->rbuf, w->rest, w->rest_len);
    } else {
        session_pause(s, SESSION_PAUSE_DECIDING, false);
        http_serve(s, w->rbuf, w->rest, w->rest_len, cgi_start);
    }
}

static void authorize_done(void *data)
{
    struct authorizing *w = data;

    buf_unref(w->rbuf);
    session_unref(w->s);
    free(w);
}

static const struct authz_events authorize_events = {
    .on_answer = authorized,
    .on_done = authorize_done,
};

/* Runs the --authorizer on the request in s->hs (reads paused); what follows is authorized()'s.
 * false: there is no authorizer, the caller goes on. */
static bool authorize(struct session *s, struct buf *owner, uint8_t *rest, size_t rest_len,
                      bool upgrade)
{
    const struct config *cfg = s->host->cfg;
    struct authz_limits lim = {cfg->authorizer_path, cfg->authorizer_timeout_ms,
                               cfg->authorizer_max, cfg->closems};
    struct child_env_request req;
    char client[PROXY_ADDR_MAX];
    struct authorizing *w;
    char **env;
    int r;

    if (!cfg->authorizer_path)
        return false;
    session_pause(s, SESSION_PAUSE_DECIDING, true);
    session_env_request(s, &req, client, sizeof client);
    req.method = s->hs->method;
    env = child_env_build(&req);
    w = calloc(1, sizeof *w);
    if (!env || !w) {
        free(env);
        free(w);
        http_error(s, 500, "out of memory");
        return true;
    }
    *w = (struct authorizing){s, owner, rest, rest_len, upgrade};
    r = authz_start(s->host->loop, &lim, env, s->id, &authorize_events, w);
    if (r) {
        free(w);
        log_error(s->id, "authorizer: %s",
                  r == UV_EBUSY ? "too many requests waiting" : child_strerror(r));
        http_error(s, r == UV_EBUSY ? 503 : 500, "authorizer");
        return true;
    }
    if (owner)
        buf_ref(owner);
    session_ref(s);
    return true;
}

/* The upgrade's last asynchronous step (the --authorizer), then the upgrade. */
static void authorize_upgrade(struct session *s, struct buf *owner, uint8_t *rest, size_t rest_len)
{
    if (!authorize(s, owner, rest, rest_len, true))
        upgrade_and_go(s, owner, rest, rest_len);
}

/* --reverselookup: REMOTE_HOST by reverse DNS, asynchronously, before the spawn. */
struct lookup {
    uv_getnameinfo_t req;
    struct session *s;
    struct buf *rbuf; /* holds the bytes behind the handshake */
    uint8_t *rest;
    size_t rest_len;
};

static void lookup_done(uv_getnameinfo_t *req, int status, const char *host, const char *service);

static int reverse_lookup(struct session *s, struct buf *owner, uint8_t *rest, size_t rest_len)
{
    struct sockaddr_storage ss;
    struct lookup *l;
    int r;

    if (uv_ip4_addr(s->peer, s->peer_port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(s->peer, s->peer_port, (struct sockaddr_in6 *)&ss) != 0)
        return UV_EINVAL;
    l = calloc(1, sizeof *l);
    if (!l)
        return UV_ENOMEM;
    l->s = s;
    l->req.data = l;
    l->rest = rest;
    l->rest_len = rest_len;
    r = uv_getnameinfo(s->host->loop, &l->req, lookup_done, (struct sockaddr *)&ss, NI_NAMEREQD);
    if (r) {
        free(l);
        return r;
    }
    l->rbuf = owner;
    buf_ref(owner);
    session_ref(s);
    return 0;
}

static void lookup_done(uv_getnameinfo_t *req, int status, const char *host, const char *service)
{
    struct lookup *l = req->data;
    struct session *s = l->s;

    (void)service;
    if (status == 0 && host && strcmp(host, s->peer) != 0)
        s->remote_host = strdup(host);
    else
        log_debug(s->id, "reverse lookup of %s: %s", s->peer, status ? uv_strerror(status) : "-");
    if (s->phase == SESSION_HTTP && !s->t_closing && !s->t_shutdown)
        authorize_upgrade(s, l->rbuf, l->rest, l->rest_len);
    buf_unref(l->rbuf);
    free(l);
    session_unref(s);
}

/* data[0..len) lies in owner's bytes; whoever keeps any of it takes a reference on owner. */
static void http_data(struct session *s, struct buf *owner, uint8_t *data, size_t len)
{
    size_t consumed = 0;
    enum handshake_status st = handshake_execute(s->hs, (const char *)data, len, &consumed);
    int code;

    if (st == HANDSHAKE_NEED_MORE)
        return;
    if (s->hs->url && !s->path)
        s->path = strndup(s->hs->path ? s->hs->path : s->hs->url,
                          s->hs->path ? s->hs->path_len : s->hs->url_len);
    if (s->hs->method)
        snprintf(s->method, sizeof s->method, "%s", s->hs->method);
    if (st == HANDSHAKE_ERROR) {
        log_info(s->id, "bad request: %d (%s)", s->hs->status, s->hs->reason);
        http_error(s, s->hs->status ? s->hs->status : 400, s->hs->reason);
        return;
    }
    if (!handshake_wants_websocket(s->hs)) {
        /* Reads go on (no epoll churn per keep-alive request): what comes during the response
         * is the body's (CGI) or is kept for after it (http_serve_body). */
        if (!s->host->cfg->authorize_http ||
            !authorize(s, owner, data + consumed, len - consumed, false))
            http_serve(s, owner, data + consumed, len - consumed, cgi_start);
        return;
    }
    if ((code = handshake_check(s->hs)) != 0) {
        log_info(s->id, "bad handshake: %d (%s)", code, s->hs->reason);
        http_error(s, code, s->hs->reason);
        return;
    }
    /* Reads pause while the decision waits for a lookup or an authorizer (authorize() pauses
     * them itself); decided here and now (the common case), a pause would only stop and
     * restart them in this same call (with TLS an extra loop turn, and two epoll_ctl calls
     * when libuv re-arms the socket). */
    if (s->host->cfg->reverselookup) {
        session_pause(s, SESSION_PAUSE_DECIDING, true); /* until the decision is made */
        if (reverse_lookup(s, owner, data + consumed, len - consumed) == 0)
            return; /* upgrade() follows in lookup_done() */
    }
    authorize_upgrade(s, owner, data + consumed, len - consumed);
}

static void handshake_limits_of(const struct session_host *host, struct handshake_limits *lim)
{
    lim->max_body_bytes = 0; /* HANDSHAKE_MAX_BODY_BYTES_DEFAULT */
    lim->max_header_bytes = host->cfg->max_header_bytes ? host->cfg->max_header_bytes
                                                        : HANDSHAKE_MAX_HEADER_BYTES_DEFAULT;
    lim->max_headers =
        host->cfg->max_headers ? host->cfg->max_headers : HANDSHAKE_MAX_HEADERS_DEFAULT;
}

static struct buf *session_take_pending(struct session *s, uint8_t **data, size_t *len)
{
    struct buf *b = s->pending_buf;

    *data = s->pending;
    *len = s->pending_len;
    s->pending_buf = NULL;
    s->pending = NULL;
    s->pending_len = 0;
    /* the held bytes are the taker's now: nothing waits any more (it may hold others again) */
    session_pause(s, SESSION_PAUSE_HELD, false);
    return b;
}

static void session_http_next(struct session *s, bool keep_alive)
{
    struct handshake_limits lim;
    uint8_t *data;
    size_t len;
    struct buf *b = session_take_pending(s, &data, &len);

    free(s->path);
    s->path = NULL;
    s->req_start_ns = len ? uv_hrtime() : 0; /* a pipelined request started already */
    authz_forget(s);
    if (!keep_alive || s->peer_eof || s->host->shutting_down || s->t_closing || s->t_shutdown) {
        buf_unref(b);
        finish_transport(s);
        return;
    }
    handshake_free(s->hs);
    handshake_limits_of(s->host, &lim);
    handshake_init(s->hs, &lim);
    /* a pipelined request's rest must come within the handshake time; an idle one may wait as
     * long */
    if (s->host->cfg->handshake_timeout_ms)
        timer_set(s, len ? SESSION_T_HANDSHAKE : SESSION_T_IDLE, s->host->cfg->handshake_timeout_ms,
                  0);
    else
        uv_timer_stop(&s->timer);
    session_ref(s);
    if (len)
        http_data(s, b, data, len);
    buf_unref(b);
    if (s->phase == SESSION_HTTP && !s->resp && !s->t_closing && !s->t_shutdown)
        session_pause(s, SESSION_PAUSE_HELD | SESSION_PAUSE_BODY, false); /* the next request */
    session_unref(s);
}

/* ---------------------------------------------------------------- socket reads */

static struct buf *sock_alloc(struct transport *t)
{
    (void)t;
    return buf_get();
}

/* b's reference is ours (transport.h): what keeps any of its bytes takes its own. */
static void sock_read(struct transport *t, ssize_t nread, struct buf *b)
{
    struct session *s = t->data;

    session_ref(s);
    if (nread == UV_EOF && s->peer_eof) {
        /* said again (transport.h: a stopped socket reports its hangup): already handled */
    } else if (nread == UV_EOF && s->phase == SESSION_HTTP && s->resp && http_serve_peer_eof(s)) {
        s->peer_eof = true; /* no next request can come: the connection ends after this one */
        session_pause(s, SESSION_PAUSE_PEER, true);
    } else if (nread < 0) {
        if (nread != UV_EOF)
            log_debug(s->id, "read: %s", uv_strerror((int)nread));
        if (s->phase == SESSION_WS && !bridge_close_received(s->br))
            log_debug(s->id, "peer disconnected without a close frame");
        session_end_reason(s, s->phase == SESSION_WS && bridge_close_received(s->br)
                                  ? "client-close"
                                  : "client-gone");
        session_peer_gone(s, false);
    } else if (nread > 0 && !s->t_closing) {
        s->bytes_in += (uint64_t)nread;
        s->last_rx_ms = uv_now(s->host->loop);
        if (s->phase == SESSION_HTTP && s->resp) {
            http_serve_body(s, b, b->data, (size_t)nread); /* a CGI request body */
        } else if (s->phase == SESSION_HTTP) {
            if (!s->req_start_ns) /* a request's first bytes: its handshake time starts */
                s->req_start_ns = uv_hrtime();
            http_data(s, b, b->data, (size_t)nread);
        } else if (s->phase == SESSION_WS) {
            bridge_socket_data(s->br, b, b->data, (size_t)nread);
            watch_look(s); /* a message may have come in */
        }
    }
    buf_unref(b);
    session_unref(s);
}

/* ---------------------------------------------------------------- accept */

static const struct session_ops session_ops = {
    .ref = session_ref,
    .unref = session_unref,
    .pause = session_pause,
    .peer_gone = session_peer_gone,
    .timer = session_timer,
    .http_error = session_http_error,
    .http_next = session_http_next,
    .take_pending = session_take_pending,
    .child = session_child,
    .spawn = session_spawn,
    .child_exited = session_child_exited,
    .env_request = session_env_request,
};

void session_start(struct session_host *host, struct transport *t)
{
    struct session *s;
    struct handshake_limits lim;
    int r;

    s = calloc(1, sizeof *s);
    if (s)
        s->hs = calloc(1, sizeof *s->hs);
    handshake_limits_of(host, &lim);
    if (!s || !s->hs || handshake_init(s->hs, &lim) != 0) {
        log_error(0, "accept: out of memory");
        if (s)
            free(s->hs);
        free(s);
        t->ops->close(t, NULL);
        return;
    }
    s->host = host;
    s->ops = &session_ops;
    /* unique across --workers: worker w of n numbers w+1, w+1+n, ... */
    s->id = host->next_id++ * host->nworkers + host->worker + 1;
    s->refs = 2; /* the transport and the timer */
    s->t = t;
    t->data = s;
    t->alloc_cb = sock_alloc;
    t->read_cb = sock_read;
    s->started_ms = s->last_rx_ms = uv_now(host->loop);
    if (t->ops->peer(t, s->peer, sizeof s->peer, &s->peer_port) != 0)
        snprintf(s->peer, sizeof s->peer, "unknown");
    table_add(host, s);
    metrics_add(METRICS_CONNECTIONS, 1);
    uv_timer_init(host->loop, &s->timer);
    s->timer.data = s;
    log_debug(s->id, "connection from %s:%d", s->peer, s->peer_port);
    if (host->cfg->handshake_timeout_ms)
        timer_set(s, SESSION_T_HANDSHAKE, host->cfg->handshake_timeout_ms, 0);
    r = t->ops->read_start(t);
    if (r) {
        log_error(s->id, "read: %s", uv_strerror(r));
        close_transport(s);
    }
}

size_t session_memory(void)
{
    return sizeof(struct session) + transport_tcp_size();
}
