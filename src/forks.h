/*
 * forks: the --maxforks count, the programs (WebSocket and CGI) running now.
 *
 * One count for the whole server: in a single process a plain counter; with
 * --workers, a counter in memory shared by the workers (forks_share()
 * before they are forked), each worker's share kept apart so that a worker
 * that dies gives its slots back (forks_worker_gone()). Lock-free: taken
 * and given back with atomic operations.
 *
 * A slot is taken before a program is started (forks_acquire) and given
 * back once its session or CGI response is over (forks_release), exactly
 * once per slot taken.
 */
#ifndef FORKS_H
#define FORKS_H

#include <stdbool.h>

#define FORKS_WORKERS_MAX 256u

/* Takes a slot unless max are taken (max 0: unlimited). */
bool forks_acquire(unsigned max);
/* Gives back a slot this process took. */
void forks_release(void);

/* Supervisor: maps the shared count for up to FORKS_WORKERS_MAX workers. 0, or -errno. */
int forks_share(void);
/* In worker index (after fork): its slots are counted as its share. */
void forks_set_worker(unsigned index);
/* Supervisor: worker index is gone; its slots are free again. */
void forks_worker_gone(unsigned index);
/* Supervisor: back to a count of this process's own (the shared map is unmapped). */
void forks_unshare(void);

#endif
