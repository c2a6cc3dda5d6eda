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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"
#include "log.h"
#include "redirect.h"
#include "session.h"
#include "workers.h"
#include "tls.h"

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

/* The server, when a new connection is to be taken; NULL after a failure or at shutdown. */
static struct server *accepting(uv_stream_t *listener, int status)
{
    struct server *srv = listener->data;

    if (status < 0) {
        log_error(0, "accept: %s", uv_strerror(status));
        return NULL;
    }
    return srv->shutting_down ? NULL : srv;
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct server *srv = accepting(listener, status);
    if (srv)
        session_accept(srv, listener);
}

static void on_redirect_connection(uv_stream_t *listener, int status)
{
    struct server *srv = accepting(listener, status);
    if (srv)
        redirect_accept(srv, listener);
}

int server_accept_transport(struct server *srv, uv_stream_t *listener, struct transport **out)
{
    struct transport *inner;
    int r;

    if (listener->type == UV_NAMED_PIPE)
        return transport_pipe_accept(listener, out);
    r = transport_tcp_accept(listener, &inner);
    if (r || !srv->ssl_ctx) {
        *out = inner;
        return r;
    }
    r = transport_tls_new(srv->loop, srv->ssl_ctx, inner, out);
    if (r)
        inner->ops->close(inner, NULL);
    return r;
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

void server_address_host(const char *addr, char *host, size_t len)
{
    snprintf(host, len, "%s", addr);
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n >= 2 && host[n - 1] == ']') {
            memmove(host, host + 1, n - 2);
            host[n - 2] = '\0';
        }
    }
}

static int listen_one(struct server *srv, const char *addr, bool quiet_fail, bool redirect)
{
    const struct config *cfg = srv->cfg;
    struct sockaddr_storage ss;
    char host[64];
    uv_tcp_t *tcp = &srv->listeners[srv->nlisteners];
    int r;
    bool v6;
    int want = redirect ? cfg->redirport : srv->port ? srv->port : cfg->port;

    server_address_host(addr, host, sizeof host);
    v6 = strchr(host, ':') != NULL;
    if (v6)
        r = uv_ip6_addr(host, want, (struct sockaddr_in6 *)&ss);
    else
        r = uv_ip4_addr(host, want, (struct sockaddr_in *)&ss);
    if (r) {
        log_fatal(0, "bad --address '%s': %s", addr, uv_strerror(r));
        return r;
    }
    if (workers_count() > 1) {
        /* --workers: every worker binds the port beside the others (SO_REUSEPORT) and the
         * kernel spreads the connections over them */
        uv_os_fd_t fd;
        int one = 1;
        uv_tcp_init_ex(srv->loop, tcp, v6 ? AF_INET6 : AF_INET);
        if (uv_fileno((uv_handle_t *)tcp, &fd) == 0)
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    } else {
        uv_tcp_init(srv->loop, tcp);
    }
    tcp->data = srv;
    srv->nlisteners++;
    r = uv_tcp_bind(tcp, (struct sockaddr *)&ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)tcp, 511, redirect ? on_redirect_connection : on_connection);
    if (r) {
        if (!quiet_fail)
            log_fatal(0, "cannot listen on %s port %d: %s", addr, want, uv_strerror(r));
        return r;
    }
    int len = sizeof ss;
    uv_tcp_getsockname(tcp, (struct sockaddr *)&ss, &len);
    int port =
        ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    if (redirect) {
        log_info(0, "redirecting http://%s%s%s:%d/ to port %d", v6 ? "[" : "", host, v6 ? "]" : "",
                 port, srv->port);
        return 0;
    }
    srv->port = port; /* --port=0: every listener on the port the kernel chose first */
    /* --workers: every worker listens; the first one says so */
    log_msg(workers_index() ? LOG_DEBUG : LOG_INFO, 0, "listening on %s://%s%s%s:%d/",
            cfg->ssl ? "wss" : "ws", v6 ? "[" : "", host, v6 ? "]" : "", port);
    return 0;
}

/* Is a server answering on the Unix socket at path? (A refused connection: a stale file.) */
static bool unix_alive(const char *path)
{
    struct sockaddr_un sa;
    /* non-blocking: a live server with a full backlog answers EAGAIN instead of hanging us */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    bool alive;

    if (fd < 0)
        return true; /* cannot tell: leave the file alone */
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    alive = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 || errno != ECONNREFUSED;
    close(fd);
    return alive;
}

static int listen_unix(struct server *srv)
{
    const char *path = srv->cfg->unixsocket;
    struct sockaddr_un sa;
    struct stat st;
    int r;

    if (strlen(path) >= sizeof sa.sun_path) {
        log_fatal(0, "--unixsocket=%s: path too long (at most %zu bytes)", path,
                  sizeof sa.sun_path - 1);
        return UV_ENAMETOOLONG;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            log_fatal(0, "--unixsocket=%s: exists and is not a socket", path);
            return UV_EEXIST;
        }
        if (unix_alive(path)) {
            log_fatal(0, "--unixsocket=%s: another server is listening there", path);
            return UV_EADDRINUSE;
        }
        log_info(0, "removing the stale socket %s", path);
        if (unlink(path) != 0 && errno != ENOENT) {
            log_errno(LOG_FATAL, 0, errno, "--unixsocket=%s: cannot remove", path);
            return UV_EACCES;
        }
    }
    uv_pipe_init(srv->loop, &srv->unix_listener, 0);
    srv->unix_listener.data = srv;
    srv->unix_open = true;
    r = uv_pipe_bind(&srv->unix_listener, path);
    if (r == 0) {
        srv->unix_bound = true;
        if (lstat(path, &st) == 0) {
            srv->unix_dev = (uint64_t)st.st_dev;
            srv->unix_ino = (uint64_t)st.st_ino;
        }
        r = uv_listen((uv_stream_t *)&srv->unix_listener, 511, on_connection);
    }
    if (r) {
        log_fatal(0, "cannot listen on %s: %s", path, uv_strerror(r));
        return r;
    }
    log_info(0, "listening on unix:%s", path);
    return 0;
}

/* Removes the socket file, if it is still the one we bound (not a successor's). */
static void unlink_unix(struct server *srv)
{
    struct stat st;

    if (!srv->unix_bound)
        return;
    srv->unix_bound = false;
    if (lstat(srv->cfg->unixsocket, &st) == 0 && (uint64_t)st.st_dev == srv->unix_dev &&
        (uint64_t)st.st_ino == srv->unix_ino && unlink(srv->cfg->unixsocket) != 0)
        log_errno(LOG_ERROR, 0, errno, "cannot remove %s", srv->cfg->unixsocket);
}

static void close_listeners(struct server *srv)
{
    for (unsigned i = 0; i < srv->nlisteners; i++)
        if (!uv_is_closing((uv_handle_t *)&srv->listeners[i]))
            uv_close((uv_handle_t *)&srv->listeners[i], NULL);
    if (srv->unix_open && !uv_is_closing((uv_handle_t *)&srv->unix_listener))
        uv_close((uv_handle_t *)&srv->unix_listener, NULL);
    unlink_unix(srv); /* no longer accepting: a new server may take the path */
    redirect_close_all(srv);
}

static void close_server_handles(struct server *srv)
{
    close_listeners(srv);
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    uv_close((uv_handle_t *)&srv->sighup, NULL);
    uv_close((uv_handle_t *)&srv->shutdown_timer, NULL);
    child_reaper_close();
    transport_tcp_cleanup();
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

/* One listener per --address (all interfaces when none): CONFIG_EXIT_LISTEN unless all bound. */
static int listen_all(struct server *srv, bool redirect)
{
    const struct config *cfg = srv->cfg;
    unsigned ok = 0;

    if (cfg->naddresses) {
        for (size_t i = 0; i < cfg->naddresses; i++)
            if (listen_one(srv, cfg->addresses[i], false, redirect) == 0)
                ok++;
        return ok == cfg->naddresses ? 0 : CONFIG_EXIT_LISTEN;
    }
    /* All interfaces: "::" (dual stack where the system allows), and 0.0.0.0 if "::" could not
     * take IPv4 too (or IPv6 is off). */
    if (listen_one(srv, "[::]", true, redirect) == 0)
        ok++;
    if (listen_one(srv, "0.0.0.0", ok != 0, redirect) == 0)
        ok++;
    return ok ? 0 : CONFIG_EXIT_LISTEN;
}

static void on_sighup(uv_signal_t *h, int signum)
{
    struct server *srv = h->data;
    const struct config *cfg = srv->cfg;

    (void)signum;
    if (!srv->ssl_ctx) {
        /* nothing to reload, but never the default action (death): a supervisor passes it on */
        log_info(0, "SIGHUP: nothing to reload without --ssl");
        return;
    }
    if (tls_ctx_reload(&srv->ssl_ctx, cfg->sslcert, cfg->sslkey, cfg->sslca) == 0)
        log_info(0, "SIGHUP: certificate and key reloaded from %s and %s", cfg->sslcert,
                 cfg->sslkey);
    else
        log_error(0, "SIGHUP: reload failed: the previous certificate and key stay in use");
}

int server_run(const struct config *cfg)
{
    struct server srv;
    unsigned n;
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

    if (cfg->ssl) {
        srv.ssl_ctx = tls_ctx_new(cfg->sslcert, cfg->sslkey, cfg->sslca);
        if (!srv.ssl_ctx) {
            log_fatal(0, "cannot use --sslcert=%s --sslkey=%s", cfg->sslcert, cfg->sslkey);
            return CONFIG_EXIT_BAD;
        }
    }
    n = cfg->naddresses ? (unsigned)cfg->naddresses : 2;
    srv.listeners = calloc(2 * n, sizeof *srv.listeners); /* --port's and --redirport's */
    if (!srv.listeners) {
        SSL_CTX_free(srv.ssl_ctx);
        return CONFIG_EXIT_BAD;
    }
    /* websocketd: --unixsocket alone is the only listener */
    if (cfg->unixsocket && workers_index() == 0 && listen_unix(&srv) != 0)
        rc = CONFIG_EXIT_LISTEN;
    if (rc == 0 && (!cfg->unixsocket || cfg->naddresses || cfg->port_set))
        rc = listen_all(&srv, false);
    if (rc == 0 && cfg->redirport) {
        unsigned before = srv.nlisteners;
        rc = listen_all(&srv, true);
        srv.nredirect = srv.nlisteners - before;
    }

    uv_signal_init(srv.loop, &srv.sigint);
    uv_signal_init(srv.loop, &srv.sigterm);
    uv_signal_init(srv.loop, &srv.sighup);
    uv_timer_init(srv.loop, &srv.shutdown_timer);
    srv.sigint.data = srv.sigterm.data = srv.sighup.data = srv.shutdown_timer.data = &srv;
    if (rc == 0) {
        uv_signal_start(&srv.sigint, on_signal, SIGINT);
        uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
        uv_signal_start(&srv.sighup, on_sighup, SIGHUP);
        uv_run(srv.loop, UV_RUN_DEFAULT);
    } else {
        close_server_handles(&srv);
    }
    if (!srv.gave_up && uv_run(srv.loop, UV_RUN_DEFAULT) == 0)
        uv_loop_close(srv.loop);
    unlink_unix(&srv);
    free(srv.listeners);
    SSL_CTX_free(srv.ssl_ctx);
    bridge_pool_drain();
    return rc;
}
