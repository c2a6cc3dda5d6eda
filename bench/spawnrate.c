/*
 * spawnrate: the ceiling for a connect rate. How many `cat` processes per
 * second posix_spawn can start and reap on this machine, with 1..N worker
 * processes in parallel (each: spawn cat with stdin at EOF, wait for it).
 *
 *   bench/spawnrate [SECONDS] [WORKERS]     default 2 s, 1 worker
 *
 * Prints "spawnrate workers=N: R spawns/s".
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
        if (posix_spawnp(&pid, "cat", &fa, NULL, argv, environ) != 0)
            break;
        waitpid(pid, NULL, 0);
        n++;
    }
    if (write(fd, &n, sizeof n) != (ssize_t)sizeof n)
        _exit(1);
    _exit(0);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    int workers = argc > 2 ? atoi(argv[2]) : 1, p[2];
    unsigned long total = 0, n;

    if (seconds <= 0 || workers < 1 || pipe(p) != 0)
        return 2;
    double start = now();
    for (int i = 0; i < workers; i++)
        if (fork() == 0)
            worker(seconds, p[1]);
    close(p[1]);
    while (read(p[0], &n, sizeof n) == (ssize_t)sizeof n)
        total += n;
    while (wait(NULL) > 0)
        ;
    printf("spawnrate workers=%d: %.0f spawns/s\n", workers, (double)total / (now() - start));
    return 0;
}
