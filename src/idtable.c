/*
 * idtable: client ids -> a value (see idtable.h).
 */
#include "idtable.h"

#include <stdlib.h>
#include <string.h>

#define IDTABLE_MIN 16

/* Ids come in blocks of consecutive numbers: mixed so that they do not share one run. */
static size_t home(const struct idtable *t, uint64_t id)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdull;
    id ^= id >> 33;
    return (size_t)id & (t->cap - 1);
}

void idtable_init(struct idtable *t)
{
    memset(t, 0, sizeof *t);
}

void idtable_free(struct idtable *t)
{
    free(t->slots);
    idtable_init(t);
}

static size_t find(const struct idtable *t, uint64_t id)
{
    size_t i = home(t, id);

    while (t->slots[i].id && t->slots[i].id != id)
        i = (i + 1) & (t->cap - 1);
    return i;
}

static int grow(struct idtable *t)
{
    size_t cap = t->cap ? 2 * t->cap : IDTABLE_MIN;
    struct idtable_slot *old = t->slots, *s = calloc(cap, sizeof *s);
    size_t oldcap = t->cap;

    if (!s)
        return -1;
    t->slots = s;
    t->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].id)
            t->slots[find(t, old[i].id)] = old[i];
    free(old);
    return 0;
}

int idtable_put(struct idtable *t, uint64_t id, uint32_t value)
{
    size_t i;

    if (id == 0)
        return -1;
    if (2 * (t->n + 1) > t->cap && grow(t) != 0)
        return -1;
    i = find(t, id);
    if (!t->slots[i].id)
        t->n++;
    t->slots[i].id = id;
    t->slots[i].value = value;
    return 0;
}

/* Where id is (*at). false: not there. */
static bool lookup(const struct idtable *t, uint64_t id, size_t *at)
{
    if (!t->cap || id == 0)
        return false;
    *at = find(t, id);
    return t->slots[*at].id != 0;
}

bool idtable_get(const struct idtable *t, uint64_t id, uint32_t *value)
{
    size_t i;

    if (!lookup(t, id, &i))
        return false;
    if (value)
        *value = t->slots[i].value;
    return true;
}

/* Empties slot i and moves back the entries after it that a probe would no longer reach. */
static void remove_at(struct idtable *t, size_t i)
{
    size_t mask = t->cap - 1, j = i;

    t->slots[i].id = 0;
    t->n--;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->slots[j].id)
            return;
        size_t h = home(t, t->slots[j].id);
        /* the entry at j stays if its home lies cyclically in (i, j] */
        if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
            continue;
        t->slots[i] = t->slots[j];
        t->slots[j].id = 0;
        i = j;
    }
}

bool idtable_del(struct idtable *t, uint64_t id)
{
    size_t i;

    if (!lookup(t, id, &i))
        return false;
    remove_at(t, i);
    return true;
}

size_t idtable_del_value(struct idtable *t, uint32_t value, void (*each)(void *ctx, uint64_t id),
                         void *ctx)
{
    size_t gone = 0;

    /* a removal can move a later entry back into slot i: look at i again then */
    for (size_t i = 0; i < t->cap;) {
        uint64_t id = t->slots[i].id;
        if (id && t->slots[i].value == value) {
            remove_at(t, i);
            gone++;
            if (each)
                each(ctx, id);
            continue;
        }
        i++;
    }
    return gone;
}
