/*
 * workers: the supervisor of --workers=N server processes (workers.h).
 */
#include "build-config.h"

#include "workers.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "forks.h"
#include "log.h"
#include "metrics.h"
#include "sdnotify.h"
#include "server.h"
#include "tls.h"

#define WORKERS_MAX FORKS_WORKERS_MAX
#define CRASH_LOOP_MS 1000u

static unsigned nworkers = 1;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct worker {
    pid_t pid;
    uint64_t started_ms;
    bool listening; /* it said so: systemd is told READY=1 once all have */
};

static pid_t start_worker(const struct config *cfg, unsigned i, struct server_sockets *socks,
                          const sigset_t *old)
{
    pid_t supervisor = getpid();
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    /* the worker */
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* the supervisor killed: shut down gracefully */
    if (getppid() != supervisor)
        _exit(0); /* it died before prctl took effect: no signal will come, and nobody waits */
    forks_set_worker(i);
    metrics_set_worker(i);
    sdnotify_set_supervisor(supervisor);
    server_sockets_close(socks, (int)i); /* the other workers' are theirs */
    sigprocmask(SIG_SETMASK, old, NULL);
    struct config copy = *cfg;
    _exit(server_run(&copy, socks, i, nworkers));
}

/* Worker pid's listeners are open (SDNOTIFY_LISTENING_SIGNAL); all workers': READY=1, once. */
static void worker_listening(struct worker *w, unsigned n, pid_t pid, bool *ready)
{
    unsigned listening = 0;

    for (unsigned i = 0; i < n; i++) {
        if (w[i].pid == pid)
            w[i].listening = true;
        listening += w[i].pid > 0 && w[i].listening;
    }
    if (!*ready && listening == n) {
        char status[64];
        snprintf(status, sizeof status, "serving: %u workers", n);
        sdnotify_ready(status);
        *ready = true;
    }
}

/* The next signal; WATCHDOG=1 to systemd whenever it is due meanwhile. -1: none (EINTR). */
static int wait_signal(const sigset_t *set, siginfo_t *si, uint64_t watchdog_ms, uint64_t *next)
{
    struct timespec ts;
    uint64_t now;

    if (!watchdog_ms)
        return sigwaitinfo(set, si);
    now = now_ms();
    if (now >= *next) {
        sdnotify_watchdog();
        *next = now + watchdog_ms;
    }
    ts.tv_sec = (time_t)((*next - now) / 1000u);
    ts.tv_nsec = (long)((*next - now) % 1000u) * 1000000L;
    return sigtimedwait(set, si, &ts);
}

/* SIGHUP: the supervisor re-reads --config too (quietly: the first worker logs), so that a
 * worker started again later runs what the others run. *gen: the latest re-read, if any. */
static void reload_config(struct config *cfg, struct config *gen, bool *have_gen)
{
    struct config next;

    if (!cfg->config_file || config_reload(cfg, &next, true) != 0)
        return;
    config_apply(cfg, &next, true);
    if (*have_gen)
        config_free(gen);
    *gen = next;
    *have_gen = true;
}

static void signal_all(struct worker *w, unsigned n, int sig)
{
    for (unsigned i = 0; i < n; i++)
        if (w[i].pid > 0)
            kill(w[i].pid, sig);
}

int workers_run(const struct config *cfg0, struct server_sockets *socks)
{
    struct config cfg = *cfg0, gen; /* cfg: as the workers have it after each SIGHUP */
    bool have_gen = false;
    struct worker w[WORKERS_MAX];
    sigset_t set, old;
    int rc = 0;
    unsigned alive = 0, n = cfg.workers;
    bool stopping = false, ready = false;
    uint64_t watchdog_ms = sdnotify_watchdog_ms(), watchdog_next = 0;

    if (n > WORKERS_MAX)
        n = WORKERS_MAX;
    nworkers = n;
    /* one set of session ticket keys for every worker: a ticket resumes whichever one accepts */
    if (cfg.ssl && tls_ticket_keys_init() != 0)
        return CONFIG_EXIT_BAD;
    int r = forks_share();
    if (r) {
        log_fatal(0, "workers: the shared --maxforks count: %s", strerror(-r));
        return CONFIG_EXIT_BAD;
    }
    if ((r = metrics_share(n)) != 0) {
        log_fatal(0, "workers: the shared --metrics counters: %s", strerror(-r));
        forks_unshare();
        return CONFIG_EXIT_BAD;
    }
    /* Programs orphaned by a dying worker are reaped here rather than left to init. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SDNOTIFY_LISTENING_SIGNAL); /* a worker is listening */
    sigprocmask(SIG_BLOCK, &set, &old);
    log_info(0, "starting %u workers", n);
    memset(w, 0, sizeof w);
    for (unsigned i = 0; i < n; i++) {
        w[i].pid = start_worker(&cfg, i, socks, &old);
        w[i].started_ms = now_ms();
        if (w[i].pid < 0) {
            log_fatal(0, "fork: %s", strerror(errno));
            stopping = true;
            rc = CONFIG_EXIT_BAD;
            signal_all(w, i, SIGTERM);
            n = i;
            break;
        }
        alive++;
    }

    while (alive > 0) {
        siginfo_t si;
        int sig = wait_signal(&set, &si, watchdog_ms, &watchdog_next);
        if (sig < 0)
            continue; /* EINTR, or the watchdog's time */
        if (sig == SDNOTIFY_LISTENING_SIGNAL) {
            worker_listening(w, n, si.si_pid, &ready);
        } else if (sig == SIGHUP) {
            if (ready) /* the workers read the file again; systemd waits for READY=1 */
                sdnotify_reloading();
            signal_all(w, n, SIGHUP);
            reload_config(&cfg, &gen, &have_gen);
            if (ready)
                sdnotify_ready(NULL);
        } else if (sig == SIGINT || sig == SIGTERM) {
            log_info(0, "signal %d: stopping %u workers", sig, alive);
            if (!stopping)
                sdnotify_stopping("stopping the workers");
            stopping = true;
            server_sockets_close(socks, -1); /* new connections: refused, not queued */
            signal_all(w, n, sig);           /* a second signal: the workers stop at once */
        } else if (sig == SIGCHLD) {
            pid_t pid;
            int st;
            while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
                unsigned i;
                for (i = 0; i < n && w[i].pid != pid; i++)
                    ;
                if (i == n)
                    continue; /* an orphaned program, reparented to us */
                w[i].pid = 0;
                alive--;
                forks_worker_gone(i);
                metrics_worker_gone(i);
                int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                if (stopping) {
                    if (code != 0 && rc == 0)
                        rc = code;
                    continue;
                }
                if (code == CONFIG_EXIT_LISTEN || now_ms() - w[i].started_ms < CRASH_LOOP_MS) {
                    log_fatal(0, "worker %u (pid %d) ended at start (%s %d): stopping", i, pid,
                              WIFEXITED(st) ? "exit status" : "signal",
                              WIFEXITED(st) ? code : WTERMSIG(st));
                    rc = code == CONFIG_EXIT_LISTEN ? CONFIG_EXIT_LISTEN : CONFIG_EXIT_BAD;
                    stopping = true;
                    server_sockets_close(socks, -1);
                    signal_all(w, n, SIGTERM);
                    continue;
                }
                log_error(0, "worker %u (pid %d) died (%s %d): starting it again", i, pid,
                          WIFEXITED(st) ? "exit status" : "signal",
                          WIFEXITED(st) ? code : WTERMSIG(st));
                w[i].pid = start_worker(&cfg, i, socks, &old);
                w[i].started_ms = now_ms();
                w[i].listening = false;
                if (w[i].pid > 0)
                    alive++;
            }
        }
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    server_sockets_close(socks, -1);
    forks_unshare();
    if (have_gen)
        config_free(&gen);
    log_info(0, "all workers ended");
    return rc;
}
