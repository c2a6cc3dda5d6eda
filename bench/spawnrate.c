/*
 * spawnrate: the ceiling for a connect rate. How many `cat` processes per
 * second posix_spawn can start and reap on this machine, with 1..N worker
 * processes in parallel (each: spawn cat with stdin at EOF, wait for it).
 *
 *   bench/spawnrate [WORKERS [SECONDS]]     default 1 worker, 2 s
 *
 * Prints "spawnrate workers=N: R spawns/s" and a JSON line
 * {"workers":N,"seconds":S,"spawns":T,"spawns_per_s":R}. Exits 1 when a
 * spawn failed.
 */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One worker: spawns and reaps for `seconds`, writes its count to fd. */
static void worker(double seconds, int fd)
{
    static char cat[] = "cat";
    char *argv[] = {cat, NULL};
    posix_spawn_file_actions_t fa;
    unsigned long n = 0;
    double end = now() + seconds;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", 0, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
    while (now() < end) {
        pid_t pid;
        if (posix_spawnp(&pid, "cat", &fa, NULL, argv, environ) != 0) {
            n = (unsigned long)-1; /* tells the parent a spawn failed */
            break;
        }
        waitpid(pid, NULL, 0);
        n++;
    }
    if (write(fd, &n, sizeof n) != (ssize_t)sizeof n)
        _exit(1);
    _exit(0);
}

int main(int argc, char **argv)
{
    int workers = argc > 1 ? atoi(argv[1]) : 1, p[2], failed = 0;
    double seconds = argc > 2 ? atof(argv[2]) : 2.0;
    unsigned long total = 0, n;

    if (seconds <= 0 || workers < 1 || pipe(p) != 0)
        return 2;
    double start = now();
    for (int i = 0; i < workers; i++)
        if (fork() == 0)
            worker(seconds, p[1]);
    close(p[1]);
    while (read(p[0], &n, sizeof n) == (ssize_t)sizeof n) {
        if (n == (unsigned long)-1)
            failed = 1;
        else
            total += n;
    }
    while (wait(NULL) > 0)
        ;
    double secs = now() - start, rate = (double)total / secs;
    printf("spawnrate workers=%d: %.0f spawns/s\n", workers, rate);
    printf("{\"workers\":%d,\"seconds\":%.3f,\"spawns\":%lu,\"spawns_per_s\":%.1f}\n", workers, secs,
           total, rate);
    if (failed)
        fprintf(stderr, "spawnrate: a spawn of cat failed\n");
    return failed;
}
