/*
 * sdnotify: socket activation and notifications to systemd (sdnotify.h).
 */
#include "build-config.h"

#include "sdnotify.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"

static struct sdnotify_socket *sockets;
static int nsockets = -2; /* -2: not looked at yet */
static pid_t supervisor;  /* in a worker: the supervisor, which alone notifies systemd */

#ifdef HAVE_LIBSYSTEMD

/* One passed descriptor checked and described; 0, or -1 after logging why. */
static int take_socket(struct sdnotify_socket *s, int fd, const char *name)
{
    s->fd = fd;
    s->name = name;
    if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) > 0) {
        s->unix_sock = false;
        s->redirect = strcmp(name, "redirect") == 0;
    } else if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0) {
        s->unix_sock = true; /* never a redirect: there is no https:// URL to a Unix socket */
    } else {
        log_fatal(0,
                  "socket activation: descriptor %d (%s) is not a listening TCP or Unix stream "
                  "socket (ListenStream= in the socket unit; Accept=no)",
                  fd, name);
        return -1;
    }
    /* systemd passes them inheritable: no program of ours may hold a listener */
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        log_errno(LOG_FATAL, 0, errno, "socket activation: descriptor %d", fd);
        return -1;
    }
    return 0;
}

static int listen_fds(void)
{
    char **names = NULL;
    int n = sd_listen_fds_with_names(1, &names), rc = 0;

    if (n < 0) {
        log_errno(LOG_FATAL, 0, -n, "socket activation: LISTEN_FDS");
        return -1;
    }
    if (n > 0 && !(sockets = calloc((size_t)n, sizeof *sockets)))
        rc = -1;
    for (int i = 0; i < n; i++) {
        char *name = names && names[i] ? names[i] : NULL;
        if (rc == 0 && name)
            names[i] = NULL; /* ours now: the sockets' names live until exit */
        else if (rc == 0 && !(name = strdup("unknown")))
            rc = -1;
        if (rc == 0)
            rc = take_socket(&sockets[i], SD_LISTEN_FDS_START + i, name);
    }
    if (names)
        for (int i = 0; i < n; i++)
            free(names[i]);
    free(names);
    return rc < 0 ? -1 : n;
}

bool sdnotify_enabled(void)
{
    const char *s = getenv("NOTIFY_SOCKET");
    return s && *s;
}

static void notify(const char *state)
{
    int r;

    if (supervisor || !sdnotify_enabled())
        return;
    r = sd_notify(0, state);
    if (r < 0)
        log_errno(LOG_DEBUG, 0, -r, "sd_notify %s", state);
}

uint64_t sdnotify_watchdog_ms(void)
{
    uint64_t usec = 0;

    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    return usec / 2000 ? usec / 2000 : 1;
}

#else /* no libsystemd */

static int listen_fds(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

    if (pid && fds && strtol(pid, NULL, 10) == (long)getpid()) {
        log_fatal(0,
                  "socket activation: systemd passed %s sockets, but this wsbridge was built "
                  "without libsystemd (configure --with-systemd)",
                  fds);
        return -1;
    }
    return 0;
}

bool sdnotify_enabled(void)
{
    return false;
}

static void notify(const char *state)
{
    (void)state;
}

uint64_t sdnotify_watchdog_ms(void)
{
    return 0;
}

#endif

int sdnotify_listen_fds(const struct sdnotify_socket **out)
{
    if (nsockets == -2)
        nsockets = listen_fds();
    if (out)
        *out = sockets;
    return nsockets;
}

void sdnotify_set_supervisor(pid_t pid)
{
    supervisor = pid;
}

void sdnotify_listening(const char *status)
{
    if (supervisor)
        kill(supervisor, SDNOTIFY_LISTENING_SIGNAL);
    else
        sdnotify_ready(status);
}

/* "HEAD\nSTATUS=status" into one message: systemd takes the lines of one datagram at once. */
static void notify_with_status(const char *head, const char *status)
{
    char msg[512];

    if (status)
        snprintf(msg, sizeof msg, "%s\nSTATUS=%s", head, status);
    else
        snprintf(msg, sizeof msg, "%s", head);
    notify(msg);
}

void sdnotify_ready(const char *status)
{
    notify_with_status("READY=1", status);
}

void sdnotify_stopping(const char *status)
{
    notify_with_status("STOPPING=1", status);
}

void sdnotify_reloading(void)
{
    struct timespec ts;
    char msg[64];

    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000u);
    notify(msg);
}

void sdnotify_status(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    int n;

    if (!sdnotify_enabled())
        return;
    memcpy(msg, "STATUS=", 7);
    va_start(ap, fmt);
    n = vsnprintf(msg + 7, sizeof msg - 7, fmt, ap);
    va_end(ap);
    if (n >= 0)
        notify(msg);
}

void sdnotify_watchdog(void)
{
    notify("WATCHDOG=1");
}
