/*
 * idtable: a set of client ids (1 to 2^64-1), each with a small value, pure:
 * no libuv, no I/O. An open-addressing hash with linear probing, kept at most
 * half full (so a lookup is short whatever the ids); a removal shifts the
 * run after it back, so there are no tombstones and the table never fills
 * with dead slots. --shared=addressed --redis: the owner's record of the
 * clients of other instances (id -> the instance it joined through).
 */
#ifndef IDTABLE_H
#define IDTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idtable_slot {
    uint64_t id; /* 0: empty */
    uint32_t value;
};

struct idtable {
    struct idtable_slot *slots;
    size_t cap, n; /* cap: 0 or a power of two */
};

/* An empty table (no memory until the first put). */
void idtable_init(struct idtable *t);
/* Frees the slots; t is empty again. */
void idtable_free(struct idtable *t);
/* id (> 0) -> value, replacing the value of an id already there. 0, or -1 when out of memory
 * (t unchanged). */
int idtable_put(struct idtable *t, uint64_t id, uint32_t value);
/* The value of id in *value (may be NULL). false: id is not there. */
bool idtable_get(const struct idtable *t, uint64_t id, uint32_t *value);
/* Removes id. false: it was not there. */
bool idtable_del(struct idtable *t, uint64_t id);
/* Removes every id whose value is value, calling each(ctx, id) for it (after its removal; each
 * may not touch t). Returns how many went. */
size_t idtable_del_value(struct idtable *t, uint32_t value, void (*each)(void *ctx, uint64_t id),
                         void *ctx);

#endif
