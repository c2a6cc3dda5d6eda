/*
 * buf: reference-counted byte buffers, the owners of every byte that
 * outlives the call that delivered it.
 *
 * Ownership rule of the whole server: a function that takes bytes which
 * it (or a write it queues) keeps past its return also takes the buffer
 * that owns them, and takes its own reference on that owner. The bytes may
 * lie anywhere inside owner->data; nothing ever recovers an owner from a
 * pointer to its bytes.
 *
 * Buffers come from a free list (a freed buffer is reused by the next
 * buf_get(); at most BUF_POOL_KEEP stay on the list), so a steady load does
 * not go back to malloc, and an idle connection holds none.
 */
#ifndef BUF_H
#define BUF_H

#include <stdint.h>

#define BUF_SIZE (64u * 1024u)
#define BUF_POOL_KEEP 64u

struct buf {
    unsigned refs;
    struct buf *next; /* the free list's */
    uint8_t data[BUF_SIZE];
};

/* A buffer with one reference (the caller's), or NULL when out of memory. */
struct buf *buf_get(void);
/* One more reference on b. */
void buf_ref(struct buf *b);
/* Drops one reference; the last one returns b to the free list. NULL is ignored. */
void buf_unref(struct buf *b);
/* Frees the free list (at exit, for leak checkers). Buffers still referenced are not touched. */
void buf_pool_drain(void);

#endif
