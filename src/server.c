/*
 * server: listeners, signals, the session table, graceful shutdown.
 */
#include "build-config.h"

#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netdb.h>
#include <netinet/in.h>
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
#include "hub.h"
#include "log.h"
#include "netsock.h"
#include "metrics.h"
#include "redirect.h"
#include "sdnotify.h"
#include "session.h"
#include "tls.h"

static void maybe_done(struct server *srv);

/* A session left the table: at shutdown, the last one ends the server. */
static void session_gone(struct session_host *h)
{
    struct server *srv = h->data;

    if (srv->host.shutting_down)
        maybe_done(srv);
}

/* ---------------------------------------------------------------- out of descriptors */

/* A connection dropped for want of descriptors: logged at most once a second, with a count. */
static void out_of_fds(struct server *srv, int err)
{
    uint64_t now = uv_now(srv->loop);

    if (srv->fds_logged && now - srv->fds_logged_ms < 1000) {
        srv->fds_suppressed++;
        return;
    }
    if (srv->fds_suppressed)
        log_error(0,
                  "accept: %s: new connections are dropped (%u more times since the last "
                  "message); raise the open file limit (ulimit -n) or lower --maxforks",
                  uv_strerror(err), srv->fds_suppressed);
    else
        log_error(0,
                  "accept: %s: new connections are dropped; raise the open file limit "
                  "(ulimit -n) or lower --maxforks",
                  uv_strerror(err));
    srv->fds_logged = true;
    srv->fds_logged_ms = now;
    srv->fds_suppressed = 0;
}

static void watch_reserve(struct server *srv);

static void reserve_poll_closed(uv_handle_t *h)
{
    struct server *srv = h->data;

    close(srv->reserve_fd);
    srv->reserve_fd = -1;
    if (!srv->host.shutting_down)
        watch_reserve(srv);
}

static void on_reserve_closed(uv_poll_t *h, int status, int events)
{
    struct server *srv = h->data;

    (void)status;
    (void)events;
    out_of_fds(srv, UV_EMFILE);
    srv->reserve_watched = false;
    uv_close((uv_handle_t *)h, reserve_poll_closed);
}

/*
 * libuv keeps one spare descriptor (uv_loop_t's emfile_fd); when accept() fails with EMFILE it
 * closes it, accepts and closes every pending connection, and opens it again, without telling
 * the connection callback. To see that happen, the spare becomes the write end of a pipe whose
 * read end is watched: libuv's close is its hang-up. Skipped (nothing watched) when the spare
 * or two more descriptors are not there; tried again at the next accepted connection.
 */
static void watch_reserve(struct server *srv)
{
    int p[2];

    if (srv->reserve_watched || srv->reserve_fd >= 0 || srv->host.shutting_down ||
        srv->loop->emfile_fd < 0 || pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
        return;
    if (dup3(p[1], srv->loop->emfile_fd, O_CLOEXEC) < 0 ||
        uv_poll_init(srv->loop, &srv->reserve_poll, p[0]) != 0) {
        close(p[0]);
        close(p[1]);
        return;
    }
    close(p[1]);
    srv->reserve_fd = p[0];
    srv->reserve_poll.data = srv;
    srv->reserve_watched = true;
    uv_poll_start(&srv->reserve_poll, UV_READABLE | UV_DISCONNECT, on_reserve_closed);
}

/* The server, when a new connection is to be taken; NULL after a failure or at shutdown. */
static struct server *accepting(uv_stream_t *listener, int status)
{
    struct server *srv = listener->data;

    if (status == UV_EMFILE || status == UV_ENFILE) {
        out_of_fds(srv, status);
        return NULL;
    }
    if (status < 0) {
        log_error(0, "accept: %s", uv_strerror(status));
        return NULL;
    }
    watch_reserve(srv);
    return srv->host.shutting_down ? NULL : srv;
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct server *srv = accepting(listener, status);
    struct transport *t;
    int r;

    if (!srv)
        return;
    r = server_accept_transport(srv, listener, &t);
    if (r) {
        log_error(0, "accept: %s", uv_strerror(r));
        return;
    }
    session_start(&srv->host, t);
}

static void on_redirect_connection(uv_stream_t *listener, int status)
{
    struct server *srv = accepting(listener, status);
    struct transport *t;
    int r;

    if (!srv)
        return;
    r = transport_tcp_accept(listener, &t);
    if (r) {
        log_error(0, "redirect: accept: %s", uv_strerror(r));
        return;
    }
    redirect_accept(&srv->redir, t);
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

/* ---------------------------------------------------------------- TCP listening sockets */

/* --workers: the kernel picks one of our n sockets at random for each new connection. Only
 * indexes 0..n-1 are chosen: a stranger's socket in the group (same user, SO_REUSEPORT) would
 * come after ours, which stay open in the supervisor, so it never gets a connection. */
static void spread_over(int fd, unsigned n)
{
    struct sock_filter code[] = {
        {BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)(SKF_AD_OFF + SKF_AD_RANDOM)},
        {BPF_ALU | BPF_MOD | BPF_K, 0, 0, n},
        {BPF_RET | BPF_A, 0, 0, 0},
    };
    struct sock_fprog prog = {sizeof code / sizeof code[0], code};

    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) != 0)
        log_errno(LOG_DEBUG, 0, errno, "SO_ATTACH_REUSEPORT_CBPF (the kernel spreads by hash)");
}

static void listen_failed(const char *host, int port, bool redirect, int err)
{
    bool v6 = strchr(host, ':') != NULL;
    const char *flag = redirect ? "--redirport" : "--port";

    if (err == EADDRINUSE)
        log_fatal(0,
                  "cannot listen on %s%s%s port %d: address already in use (another program "
                  "is listening there)",
                  v6 ? "[" : "", host, v6 ? "]" : "", port);
    else if (err == EACCES && port > 0 && port < 1024)
        log_fatal(0,
                  "cannot listen on %s%s%s port %d: permission denied: ports below 1024 need "
                  "root or CAP_NET_BIND_SERVICE; choose another with %s",
                  v6 ? "[" : "", host, v6 ? "]" : "", port, flag);
    else
        log_fatal(0, "cannot listen on %s%s%s port %d (%s): %s", v6 ? "[" : "", host, v6 ? "]" : "",
                  port, flag, strerror(err));
}

static int add_socket(struct server_sockets *ss, int fd, unsigned worker, bool redirect)
{
    struct server_socket *a = realloc(ss->s, (ss->n + 1) * sizeof *a);

    if (!a) {
        close(fd);
        return -ENOMEM;
    }
    ss->s = a;
    ss->s[ss->n++] = (struct server_socket){fd, worker, redirect};
    return 0;
}

/*
 * One socket per worker on host:port (the kernel's choice with port 0, returned in *port).
 * Several workers: each socket has SO_REUSEPORT, and a plain bind first proves that nobody
 * else listens there (SO_REUSEPORT alone would share the port with another server of ours);
 * it stays bound, not listening, until ours listen. 0 or -errno.
 */
static int open_address(struct server_sockets *ss, const char *host, int *port, unsigned nworkers,
                        bool redirect)
{
    int probe = -1, first = -1, r = 0;

    if (nworkers > 1 && *port != 0 && (probe = netsock_bind_tcp(host, *port, false, false)) < 0)
        return probe;
    for (unsigned w = 0; w < nworkers && r == 0; w++) {
        int fd = netsock_bind_tcp(host, *port, nworkers > 1, true);
        if (fd < 0) {
            r = fd;
            break;
        }
        if (w == 0) {
            first = fd;
            *port = netsock_port(fd); /* --port=0: the other workers bind the kernel's choice */
        }
        r = add_socket(ss, fd, w, redirect);
    }
    if (r == 0 && nworkers > 1)
        spread_over(first, nworkers);
    if (probe >= 0)
        close(probe);
    return r;
}

/* --port's or --redirport's sockets on every address. 0 or CONFIG_EXIT_LISTEN (logged). */
static int open_kind(const struct config *cfg, struct server_sockets *ss, unsigned nworkers,
                     bool redirect)
{
    int port = redirect ? cfg->redirport : ss->port ? ss->port : cfg->port;
    unsigned before = ss->n;
    int r;

    if (!cfg->nlisten) {
        /* all interfaces: "::" takes IPv4 too; 0.0.0.0 where IPv6 is not available */
        r = open_address(ss, "::", &port, nworkers, redirect);
        if (r == -EAFNOSUPPORT || r == -EADDRNOTAVAIL)
            r = open_address(ss, "0.0.0.0", &port, nworkers, redirect);
        if (r) {
            listen_failed(r == -EAFNOSUPPORT ? "0.0.0.0" : "::", port, redirect, -r);
            return CONFIG_EXIT_LISTEN;
        }
    }
    for (size_t i = 0; i < cfg->nlisten; i++) {
        const struct config_address *a = &cfg->listen[i];
        r = open_address(ss, a->host, &port, nworkers, redirect);
        if (r && a->optional && (r == -EAFNOSUPPORT || r == -EADDRNOTAVAIL)) {
            log_debug(0, "--address=%s: %s is not available here: skipped", a->given, a->host);
            continue;
        }
        if (r) {
            listen_failed(a->host, port, redirect, -r);
            return CONFIG_EXIT_LISTEN;
        }
    }
    if (ss->n == before) {
        log_fatal(0, "no address to listen on");
        return CONFIG_EXIT_LISTEN;
    }
    if (!redirect)
        ss->port = port;
    return 0;
}

bool server_uses_tcp(const struct config *cfg)
{
    /* websocketd: --unixsocket alone is the only listener */
    return !cfg->unixsocket || cfg->naddresses || cfg->port_set;
}

unsigned server_processes(const struct config *cfg)
{
    /* --unixsocket alone: one listener that only one process can own */
    if (cfg->workers > 1 && (server_uses_tcp(cfg) || sdnotify_listen_fds(NULL) > 0))
        return cfg->workers;
    return 1;
}

/*
 * Socket activation: systemd's sockets instead of --port, --address, --unixsocket, --redirport.
 * Each worker gets a descriptor of each: one accept queue, shared (systemd made one socket).
 */
static int open_activated(const struct config *cfg, const struct sdnotify_socket *p, int n,
                          unsigned nworkers, struct server_sockets *ss)
{
    if (cfg->port_set || cfg->naddresses || cfg->unixsocket || cfg->redirport)
        log_info(0,
                 "socket activation: %d sockets from systemd; --port, --address, --unixsocket "
                 "and --redirport are not used",
                 n);
    ss->activated = true;
    for (int i = 0; i < n; i++) {
        if (!p[i].unix_sock && !p[i].redirect && !ss->port)
            ss->port = netsock_port(p[i].fd);
        log_debug(0, "socket activation: descriptor %d (%s)", p[i].fd, p[i].name);
        for (unsigned w = 0; w < nworkers; w++) {
            int fd = w == 0 ? p[i].fd : fcntl(p[i].fd, F_DUPFD_CLOEXEC, 3);
            if (fd < 0 || add_socket(ss, fd, w, p[i].redirect) != 0) {
                log_errno(LOG_FATAL, 0, fd < 0 ? errno : ENOMEM, "socket activation");
                return CONFIG_EXIT_LISTEN;
            }
            ss->s[ss->n - 1].unix_sock = p[i].unix_sock;
        }
    }
    return 0;
}

int server_sockets_open(const struct config *cfg, unsigned nworkers, struct server_sockets *ss)
{
    const struct sdnotify_socket *passed;
    int rc = 0, npassed = sdnotify_listen_fds(&passed);

    memset(ss, 0, sizeof *ss);
    if (npassed < 0)
        return CONFIG_EXIT_LISTEN;
    if (npassed > 0) {
        rc = open_activated(cfg, passed, npassed, nworkers, ss);
        if (rc)
            server_sockets_close(ss, -1);
        return rc;
    }
    if (!server_uses_tcp(cfg))
        return 0;
    rc = open_kind(cfg, ss, nworkers, false);
    if (rc == 0 && cfg->redirport)
        rc = open_kind(cfg, ss, nworkers, true);
    if (rc)
        server_sockets_close(ss, -1);
    return rc;
}

void server_sockets_close(struct server_sockets *ss, int keep_worker)
{
    bool left = false;

    for (unsigned i = 0; i < ss->n; i++) {
        if (ss->s[i].fd >= 0 && (keep_worker < 0 || ss->s[i].worker != (unsigned)keep_worker)) {
            close(ss->s[i].fd);
            ss->s[i].fd = -1;
        }
        left |= ss->s[i].fd >= 0;
    }
    if (!left) {
        free(ss->s);
        ss->s = NULL;
        ss->n = 0;
    }
}

/* so's descriptor, which h has taken (r: 0, or why uv_*_open() failed), listening on cb. 0, or a
 * UV error (logged). */
static int take_listener(uv_stream_t *h, int r, struct server_socket *so, uv_connection_cb cb)
{
    if (r)
        close(so->fd);
    so->fd = -1; /* the handle's now */
    if (r == 0)
        r = uv_listen(h, 511, cb);
    if (r)
        log_fatal(0, "cannot listen: %s", uv_strerror(r));
    return r;
}

/* A Unix socket systemd passed into the loop (it stays systemd's file: never unlinked). */
static int listen_passed_unix(struct server *srv, struct server_socket *so)
{
    uv_pipe_t *p = &srv->pipes[srv->npipes];
    char path[256];
    size_t len = sizeof path;

    uv_pipe_init(srv->loop, p, 0);
    p->data = srv;
    srv->npipes++;
    if (take_listener((uv_stream_t *)p, uv_pipe_open(p, so->fd), so, on_connection))
        return -1;
    if (uv_pipe_getsockname(p, path, &len) != 0)
        snprintf(path, sizeof path, "?");
    log_msg(srv->host.worker ? LOG_DEBUG : LOG_INFO, 0, "listening on unix:%s", path);
    return 0;
}

/* This worker's sockets into the loop, each saying where it listens. */
static int listen_sockets(struct server *srv, struct server_sockets *ss)
{
    const struct config *cfg = srv->cfg;

    srv->port = srv->redir.port = ss->port; /* the redirects name it */
    for (unsigned i = 0; i < ss->n; i++) {
        struct server_socket *so = &ss->s[i];
        uv_tcp_t *tcp = &srv->listeners[srv->nlisteners];
        struct sockaddr_storage sa;
        int len = sizeof sa;
        char host[INET6_ADDRSTRLEN] = "?";

        if (so->fd < 0 || so->worker != srv->host.worker)
            continue;
        if (so->unix_sock) {
            if (listen_passed_unix(srv, so) != 0)
                return CONFIG_EXIT_LISTEN;
            continue;
        }
        uv_tcp_init(srv->loop, tcp);
        tcp->data = srv;
        srv->nlisteners++;
        if (take_listener((uv_stream_t *)tcp, uv_tcp_open(tcp, so->fd), so,
                          so->redirect ? on_redirect_connection : on_connection))
            return CONFIG_EXIT_LISTEN;
        uv_tcp_getsockname(tcp, (struct sockaddr *)&sa, &len);
        bool v6 = sa.ss_family == AF_INET6;
        if (v6)
            uv_ip6_name((struct sockaddr_in6 *)&sa, host, sizeof host);
        else
            uv_ip4_name((struct sockaddr_in *)&sa, host, sizeof host);
        int port = ntohs(v6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                            : ((struct sockaddr_in *)&sa)->sin_port);
        if (so->redirect) {
            srv->nredirect++;
            log_info(0, "redirecting http://%s%s%s:%d/ to port %d", v6 ? "[" : "", host,
                     v6 ? "]" : "", port, srv->port);
            continue;
        }
        /* --workers: every worker listens; the first one says so */
        log_msg(srv->host.worker ? LOG_DEBUG : LOG_INFO, 0, "listening on %s://%s%s%s:%d/",
                cfg->ssl ? "wss" : "ws", v6 ? "[" : "", host, v6 ? "]" : "", port);
    }
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
    for (unsigned i = 0; i < srv->npipes; i++)
        if (!uv_is_closing((uv_handle_t *)&srv->pipes[i]))
            uv_close((uv_handle_t *)&srv->pipes[i], NULL);
    unlink_unix(srv); /* no longer accepting: a new server may take the path */
    redirect_close_all(&srv->redir);
    metrics_stop();
}

static void close_server_handles(struct server *srv)
{
    close_listeners(srv);
    if (srv->reserve_watched) {
        srv->reserve_watched = false;
        uv_close((uv_handle_t *)&srv->reserve_poll, reserve_poll_closed);
    }
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    uv_close((uv_handle_t *)&srv->sighup, NULL);
    uv_close((uv_handle_t *)&srv->shutdown_timer, NULL);
    uv_close((uv_handle_t *)&srv->watchdog, NULL);
    child_reaper_close();
    transport_tcp_cleanup();
}

static void maybe_done(struct server *srv)
{
    if (srv->host.nsessions == 0 && !uv_is_closing((uv_handle_t *)&srv->sigint)) {
        log_info(0, "all sessions ended: exiting");
        close_server_handles(srv);
    }
}

static void give_up(uv_timer_t *t)
{
    struct server *srv = t->data;

    log_error(0, "shutdown: %u sessions did not end after SIGKILL: exiting anyway",
              srv->host.nsessions);
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
    for (s = srv->host.sessions; s; s = next) {
        next = s->next;
        session_kill(s);
    }
}

static void shutdown_timeout(uv_timer_t *t)
{
    struct server *srv = t->data;

    log_error(0, "shutdown: %u sessions still open: killing them", srv->host.nsessions);
    force_all(srv);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *srv = h->data;
    struct session *s, *next;

    if (srv->host.shutting_down) {
        log_info(0, "signal %d again: stopping now", signum);
        force_all(srv);
        return;
    }
    srv->host.shutting_down = true;
    log_info(0, "signal %d: shutting down (%u sessions)", signum, srv->host.nsessions);
    if (srv->host.nworkers == 1) {
        char status[64];
        snprintf(status, sizeof status, "shutting down: %u sessions", srv->host.nsessions);
        sdnotify_stopping(status);
    }
    close_listeners(srv);
    uv_timer_start(&srv->shutdown_timer, shutdown_timeout, SERVER_SHUTDOWN_MS + srv->cfg->closems,
                   0);
    for (s = srv->host.sessions; s; s = next) {
        next = s->next;
        session_shutdown(s);
    }
    /* shared programs left lingering (no client) stop now, and their Redis connections close */
    hub_shutdown_all();
    maybe_done(srv);
}

/* --config's file read again; what needs no restart applies to what starts from now on. */
static void reload_config(struct server *srv)
{
    struct config next;
    bool quiet = srv->host.worker != 0; /* the first worker speaks for all: the same file */

    if (config_reload(&srv->live, &next, quiet) != 0) {
        log_msg(quiet ? LOG_DEBUG : LOG_ERROR, 0,
                "SIGHUP: %s not applied: the running configuration stays", srv->live.config_file);
        return;
    }
    config_apply(&srv->live, &next, quiet);
    log_set_level(srv->live.loglevel);
    if (srv->have_gen) /* nothing points into it any more: live took next's values */
        config_free(&srv->gen);
    srv->gen = next;
    srv->have_gen = true;
}

static void on_sighup(uv_signal_t *h, int signum)
{
    struct server *srv = h->data;
    const struct config *cfg = srv->cfg;
    bool notify = srv->host.nworkers == 1; /* under --workers the supervisor tells systemd */

    (void)signum;
    if (!srv->ssl_ctx && !cfg->config_file) {
        /* nothing to reload, but never the default action (death): a supervisor passes it on */
        log_info(0, "SIGHUP: nothing to reload without --ssl or --config");
        return;
    }
    if (notify)
        sdnotify_reloading();
    if (cfg->config_file)
        reload_config(srv);
    if (srv->ssl_ctx && tls_ctx_reload(&srv->ssl_ctx, cfg->sslcert, cfg->sslkey, cfg->sslca) == 0)
        log_info(0, "SIGHUP: certificate and key reloaded from %s and %s", cfg->sslcert,
                 cfg->sslkey);
    else if (srv->ssl_ctx)
        log_error(0, "SIGHUP: reload failed: the previous certificate and key stay in use");
    if (notify)
        sdnotify_ready("configuration reloaded");
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    sdnotify_watchdog();
}

/* Every listener is open: systemd hears it (or the supervisor does), and the watchdog starts. */
static void notify_ready(struct server *srv, const struct server_sockets *ss)
{
    char status[128];
    uint64_t ms = srv->host.nworkers == 1 ? sdnotify_watchdog_ms() : 0;

    if (ss->activated)
        snprintf(status, sizeof status, "serving on %u sockets from systemd",
                 srv->nlisteners + srv->npipes);
    else if (srv->nlisteners)
        snprintf(status, sizeof status, "serving on port %d", srv->port);
    else
        snprintf(status, sizeof status, "serving on unix:%s", srv->cfg->unixsocket);
    sdnotify_listening(status);
    if (ms) {
        sdnotify_watchdog();
        uv_timer_start(&srv->watchdog, on_watchdog, ms, ms);
    }
}

int server_run(const struct config *cfg, struct server_sockets *ss, unsigned worker,
               unsigned nworkers)
{
    struct server srv;
    unsigned n;
    int rc = 0;
    uint64_t seed;

    memset(&srv, 0, sizeof srv);
    srv.live = *cfg; /* a shallow copy: cfg keeps what it points to */
    srv.cfg = &srv.live;
    cfg = &srv.live;
    srv.redir.loop = srv.host.loop = uv_default_loop();
    srv.redir.cfg = cfg;
    srv.host.cfg = cfg;
    srv.host.software = srv.software;
    srv.host.worker = worker;
    srv.host.nworkers = nworkers ? nworkers : 1;
    srv.host.on_session_gone = session_gone;
    srv.host.data = &srv;
    srv.loop = uv_default_loop();
    snprintf(srv.software, sizeof srv.software, "wsbridge/%s", PACKAGE_VERSION);
    if (uv_random(NULL, NULL, &seed, sizeof seed, 0, NULL) != 0)
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    srv.host.unique_base = seed;

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
    n = 0;
    for (unsigned i = 0; i < ss->n; i++)
        n += ss->s[i].fd >= 0 && ss->s[i].worker == srv.host.worker;
    srv.listeners = calloc(n ? n : 1, sizeof *srv.listeners); /* --port's, then --redirport's */
    srv.pipes = calloc(n ? n : 1, sizeof *srv.pipes);
    if (!srv.listeners || !srv.pipes) {
        free(srv.listeners);
        free(srv.pipes);
        SSL_CTX_free(srv.ssl_ctx);
        return CONFIG_EXIT_BAD;
    }
    srv.reserve_fd = -1;
    rc = listen_sockets(&srv, ss);
    if (rc == 0)
        watch_reserve(&srv);
    if (rc == 0 && cfg->unixsocket && !ss->activated && srv.host.worker == 0 &&
        listen_unix(&srv) != 0)
        rc = CONFIG_EXIT_LISTEN;
    if (rc == 0 && srv.host.worker == 0 && metrics_serve(srv.loop) != 0)
        rc = CONFIG_EXIT_LISTEN;

    uv_signal_init(srv.loop, &srv.sigint);
    uv_signal_init(srv.loop, &srv.sigterm);
    uv_signal_init(srv.loop, &srv.sighup);
    uv_timer_init(srv.loop, &srv.shutdown_timer);
    uv_timer_init(srv.loop, &srv.watchdog);
    srv.sigint.data = srv.sigterm.data = srv.sighup.data = srv.shutdown_timer.data = &srv;
    if (rc == 0) {
        uv_signal_start(&srv.sigint, on_signal, SIGINT);
        uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
        uv_signal_start(&srv.sighup, on_sighup, SIGHUP);
        notify_ready(&srv, ss);
        uv_run(srv.loop, UV_RUN_DEFAULT);
    } else {
        close_server_handles(&srv);
    }
    if (!srv.gave_up && uv_run(srv.loop, UV_RUN_DEFAULT) == 0)
        uv_loop_close(srv.loop);
    unlink_unix(&srv);
    free(srv.listeners);
    free(srv.pipes);
    if (srv.have_gen)
        config_free(&srv.gen);
    SSL_CTX_free(srv.ssl_ctx);
    bridge_pool_drain();
    return rc;
}
