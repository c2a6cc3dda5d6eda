/*
 * server: listeners, signals, the session table, graceful shutdown.
 */
#include "build-config.h"

#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"
#include "log.h"
#include "session.h"

void server_add_session(struct server *srv, struct session *s)
{
    s->prev = NULL;
    s->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = s;
    srv->sessions = s;
    srv->nsessions++;
}

static void maybe_done(struct server *srv);

void server_remove_session(struct server *srv, struct session *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    srv->nsessions--;
    if (srv->shutting_down)
        maybe_done(srv);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct server *srv = listener->data;

    if (status < 0) {
        log_error(0, "accept: %s", uv_strerror(status));
        return;
    }
    if (srv->shutting_down)
        return;
    session_accept(srv, listener);
}

static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    log_info(0, "open file limit: %llu", (unsigned long long)rl.rlim_cur);
}

/* "[::1]" -> "::1"; "" or NULL -> NULL. */
static int listen_one(struct server *srv, const char *addr, bool quiet_fail)
{
    const struct config *cfg = srv->cfg;
    struct sockaddr_storage ss;
    char host[64];
    uv_tcp_t *tcp = &srv->listeners[srv->nlisteners];
    int r;
    bool v6;
    int want = srv->port ? srv->port : cfg->port;

    snprintf(host, sizeof host, "%s", addr);
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n >= 2 && host[n - 1] == ']') {
            memmove(host, host + 1, n - 2);
            host[n - 2] = '\0';
        }
    }
    v6 = strchr(host, ':') != NULL;
    if (v6)
        r = uv_ip6_addr(host, want, (struct sockaddr_in6 *)&ss);
    else
        r = uv_ip4_addr(host, want, (struct sockaddr_in *)&ss);
    if (r) {
        log_fatal(0, "bad --address '%s': %s", addr, uv_strerror(r));
        return r;
    }
    uv_tcp_init(srv->loop, tcp);
    tcp->data = srv;
    srv->nlisteners++;
    r = uv_tcp_bind(tcp, (struct sockaddr *)&ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)tcp, 511, on_connection);
    if (r) {
        if (!quiet_fail)
            log_fatal(0, "cannot listen on %s port %d: %s", addr, want, uv_strerror(r));
        return r;
    }
    int len = sizeof ss;
    uv_tcp_getsockname(tcp, (struct sockaddr *)&ss, &len);
    int port =
        ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    srv->port = port; /* --port=0: every listener on the port the kernel chose first */
    if (v6)
        log_info(0, "listening on ws://[%s]:%d/", host, port);
    else
        log_info(0, "listening on ws://%s:%d/", host, port);
    return 0;
}

static void close_listeners(struct server *srv)
{
    for (unsigned i = 0; i < srv->nlisteners; i++)
        if (!uv_is_closing((uv_handle_t *)&srv->listeners[i]))
            uv_close((uv_handle_t *)&srv->listeners[i], NULL);
}

static void close_server_handles(struct server *srv)
{
    close_listeners(srv);
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    uv_close((uv_handle_t *)&srv->shutdown_timer, NULL);
}

static void maybe_done(struct server *srv)
{
    if (srv->nsessions == 0 && !uv_is_closing((uv_handle_t *)&srv->sigint)) {
        log_info(0, "all sessions ended: exiting");
        close_server_handles(srv);
    }
}

static void give_up(uv_timer_t *t)
{
    struct server *srv = t->data;

    log_error(0, "shutdown: %u sessions did not end after SIGKILL: exiting anyway", srv->nsessions);
    srv->gave_up = true;
    uv_stop(srv->loop);
}

static void force_all(struct server *srv)
{
    struct session *s, *next;

    if (srv->forced)
        return;
    srv->forced = true;
    /* Every group got SIGKILL: wait for the reaping, a little. */
    uv_timer_start(&srv->shutdown_timer, give_up, 2000, 0);
    for (s = srv->sessions; s; s = next) {
        next = s->next;
        session_kill(s);
    }
}

static void shutdown_timeout(uv_timer_t *t)
{
    struct server *srv = t->data;

    log_error(0, "shutdown: %u sessions still open: killing them", srv->nsessions);
    force_all(srv);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *srv = h->data;
    struct session *s, *next;

    if (srv->shutting_down) {
        log_info(0, "signal %d again: stopping now", signum);
        force_all(srv);
        return;
    }
    srv->shutting_down = true;
    log_info(0, "signal %d: shutting down (%u sessions)", signum, srv->nsessions);
    close_listeners(srv);
    uv_timer_start(&srv->shutdown_timer, shutdown_timeout, SERVER_SHUTDOWN_MS + srv->cfg->closems,
                   0);
    for (s = srv->sessions; s; s = next) {
        next = s->next;
        session_shutdown(s);
    }
    maybe_done(srv);
}

int server_run(const struct config *cfg)
{
    struct server srv;
    unsigned n, ok = 0;
    int rc = 0;
    uint64_t seed;

    memset(&srv, 0, sizeof srv);
    srv.cfg = cfg;
    srv.loop = uv_default_loop();
    snprintf(srv.software, sizeof srv.software, "wsbridge/%s", PACKAGE_VERSION);
    if (uv_random(NULL, NULL, &seed, sizeof seed, 0, NULL) != 0)
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    srv.unique_base = seed;

    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    log_debug(0, "memory per idle session: %zu bytes (session + transport)", session_memory());

    n = cfg->naddresses ? (unsigned)cfg->naddresses : 2;
    srv.listeners = calloc(n, sizeof *srv.listeners);
    if (!srv.listeners)
        return CONFIG_EXIT_BAD;
    if (cfg->naddresses) {
        for (size_t i = 0; i < cfg->naddresses; i++)
            if (listen_one(&srv, cfg->addresses[i], false) == 0)
                ok++;
        if (ok != cfg->naddresses)
            rc = CONFIG_EXIT_LISTEN;
    } else {
        /* All interfaces: "::" (dual stack where the system allows), and 0.0.0.0 if "::" could
         * not take IPv4 too (or IPv6 is off). */
        if (listen_one(&srv, "[::]", true) == 0)
            ok++;
        if (listen_one(&srv, "0.0.0.0", ok != 0) == 0)
            ok++;
        if (ok == 0)
            rc = CONFIG_EXIT_LISTEN;
    }

    uv_signal_init(srv.loop, &srv.sigint);
    uv_signal_init(srv.loop, &srv.sigterm);
    uv_timer_init(srv.loop, &srv.shutdown_timer);
    srv.sigint.data = srv.sigterm.data = srv.shutdown_timer.data = &srv;
    if (rc == 0) {
        uv_signal_start(&srv.sigint, on_signal, SIGINT);
        uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
        uv_run(srv.loop, UV_RUN_DEFAULT);
    } else {
        close_server_handles(&srv);
    }
    if (!srv.gave_up && uv_run(srv.loop, UV_RUN_DEFAULT) == 0)
        uv_loop_close(srv.loop);
    free(srv.listeners);
    bridge_pool_drain();
    return rc;
}
