/*
 * sdnotify: wsbridge under systemd -- socket activation and the service
 * manager's notifications, from libsystemd (built in when configure finds
 * it; --without-systemd leaves it out).
 *
 * Socket activation: the listening sockets systemd passes (LISTEN_FDS and
 * LISTEN_PID naming this process, LISTEN_FDNAMES their FileDescriptorName=)
 * are taken once, by the first sdnotify_listen_fds() call, which unsets
 * those variables: the programs wsbridge runs never see them, and a second
 * call returns the same sockets. Each must be a listening stream socket,
 * TCP (IPv4 or IPv6) or a Unix socket; they are made close-on-exec so that
 * no program inherits one. A socket named "redirect" is a --redirport
 * listener (answers with a redirect), every other one serves.
 *
 * Notifications (NOTIFY_SOCKET, sd_notify(3)): READY=1 once every listener
 * is open, RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 at
 * shutdown, STATUS= lines in between; WATCHDOG=1 every half of
 * WATCHDOG_USEC when the unit sets WatchdogSec=. They go from the main
 * process only (the supervisor under --workers). Without NOTIFY_SOCKET, or
 * without libsystemd, every notification does nothing.
 *
 * Not thread-safe (wsbridge has one thread per process).
 */
#ifndef SDNOTIFY_H
#define SDNOTIFY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A worker to its supervisor: "my listeners are open". A real-time signal: each one is queued
 * with its sender's PID (two SIGUSR1 at once would arrive as one). */
#define SDNOTIFY_LISTENING_SIGNAL (SIGRTMIN)

struct sdnotify_socket {
    int fd;
    bool unix_sock;   /* AF_UNIX, else TCP */
    bool redirect;    /* named "redirect": a --redirport listener */
    const char *name; /* LISTEN_FDNAMES' name ("unknown" when none was given) */
};

/*
 * The sockets systemd passed: their count (0: none, not activated), *out
 * (may be NULL) pointing at them until exit; or -1 after logging why (a
 * socket that is not a listening stream socket, LISTEN_FDS set in a build
 * without libsystemd, ...): the server cannot start (exit status 3).
 */
int sdnotify_listen_fds(const struct sdnotify_socket **out);

/* Whether a service manager listens to our notifications (NOTIFY_SOCKET is set and we have
 * libsystemd). */
bool sdnotify_enabled(void);

/* In a --workers worker: the supervisor's PID. From then on this process sends systemd
 * nothing: sdnotify_listening() tells the supervisor instead (SDNOTIFY_LISTENING_SIGNAL). */
void sdnotify_set_supervisor(pid_t supervisor);
/* Every listener of this process is open: READY=1 with STATUS=status; in a worker,
 * SDNOTIFY_LISTENING_SIGNAL to the supervisor, which sends READY=1 once each worker has. */
void sdnotify_listening(const char *status);

/* READY=1 with STATUS=status (NULL: none). */
void sdnotify_ready(const char *status);
/* RELOADING=1 (with MONOTONIC_USEC, for Type=notify-reload). */
void sdnotify_reloading(void);
/* STOPPING=1 with STATUS=status (NULL: none). */
void sdnotify_stopping(const char *status);
/* STATUS=, printf-style. */
void sdnotify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The interval at which WATCHDOG=1 is due in milliseconds: half of WATCHDOG_USEC (at least
 * 1), or 0 when no watchdog is asked for (or not for this process: WATCHDOG_PID). */
uint64_t sdnotify_watchdog_ms(void);
/* WATCHDOG=1. */
void sdnotify_watchdog(void);

#endif
