/*
 * forks: the --maxforks count (see forks.h).
 */
#include "build-config.h"

#include "forks.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

struct fork_counts {
    unsigned total;
    unsigned per_worker[FORKS_WORKERS_MAX];
};

/* Process-wide by nature (it counts the process's children, and its workers' with
 * --workers), so it lives here once rather than being threaded through every caller. */
static struct fork_counts local_counts;
static struct fork_counts *counts = &local_counts;
static unsigned my_index;

bool forks_acquire(unsigned max)
{
    unsigned cur = __atomic_load_n(&counts->total, __ATOMIC_RELAXED);

    do {
        if (max && cur >= max)
            return false;
    } while (!__atomic_compare_exchange_n(&counts->total, &cur, cur + 1, true, __ATOMIC_ACQ_REL,
                                          __ATOMIC_RELAXED));
    __atomic_add_fetch(&counts->per_worker[my_index], 1, __ATOMIC_RELAXED);
    return true;
}

void forks_release(void)
{
    __atomic_sub_fetch(&counts->per_worker[my_index], 1, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&counts->total, 1, __ATOMIC_ACQ_REL);
}

int forks_share(void)
{
    struct fork_counts *c =
        mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (c == MAP_FAILED)
        return -errno;
    memset(c, 0, sizeof *c);
    counts = c;
    return 0;
}

void forks_set_worker(unsigned index)
{
    my_index = index < FORKS_WORKERS_MAX ? index : 0;
}

void forks_worker_gone(unsigned index)
{
    __atomic_sub_fetch(&counts->total, counts->per_worker[index], __ATOMIC_ACQ_REL);
    counts->per_worker[index] = 0;
}

void forks_unshare(void)
{
    if (counts != &local_counts)
        munmap(counts, sizeof *counts);
    counts = &local_counts;
}
