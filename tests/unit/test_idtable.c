/*
 * Unit tests of idtable: puts, gets and removals checked against a plain array, with ids in
 * blocks (as the cluster hands them out) and at random, through growth and backward shifts.
 */
#include <stdlib.h>
#include <string.h>

#include "idtable.h"
#include "tap.h"

#define N 5000

static uint64_t ids[N];
static uint32_t vals[N];
static bool in[N];

static void count_each(void *ctx, uint64_t id)
{
    (void)id;
    (*(size_t *)ctx)++;
}

/* Every id is there exactly when the array says so, with its value. */
static bool agrees(const struct idtable *t)
{
    size_t n = 0;

    for (size_t i = 0; i < N; i++) {
        uint32_t v;
        bool got = idtable_get(t, ids[i], &v);
        if (got != in[i] || (got && v != vals[i]))
            return false;
        n += in[i];
    }
    return n == t->n && 2 * t->n <= t->cap;
}

int main(void)
{
    struct idtable t;
    uint64_t seed = 7;
    size_t gone = 0, want = 0;

    idtable_init(&t);
    ok(!idtable_get(&t, 5, NULL) && !idtable_del(&t, 5), "an empty table has nothing");
    ok(idtable_put(&t, 0, 1) == -1 && t.n == 0, "id 0 refused");
    for (size_t i = 0; i < N; i++) {
        /* half in blocks of 1024 consecutive ids, half scattered */
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = i % 2 ? 1025 + i / 2 + (i / 2048) * 1024 * 7 : (seed >> 11) | 1;
        vals[i] = (uint32_t)(i % 7);
        in[i] = idtable_put(&t, ids[i], vals[i]) == 0;
    }
    ok(agrees(&t), "%d ids put, all found with their values (%zu slots)", N, t.cap);
    ok(idtable_put(&t, ids[3], 99) == 0 && t.n == N && idtable_get(&t, ids[3], &vals[3]) &&
           vals[3] == 99,
       "a put of an id already there replaces its value");
    for (size_t i = 0; i < N; i += 3) {
        bool was = in[i];
        in[i] = false;
        if (idtable_del(&t, ids[i]) != was)
            break;
    }
    ok(agrees(&t), "every third removed: the others still found (backward shifts)");
    ok(!idtable_del(&t, ids[0]), "a second removal finds nothing");
    for (size_t i = 0; i < N; i++)
        want += in[i] && vals[i] == 4;
    size_t n = idtable_del_value(&t, 4, count_each, &gone);
    for (size_t i = 0; i < N; i++)
        if (vals[i] == 4)
            in[i] = false;
    ok(n == want && gone == want && agrees(&t), "removed by value: %zu of %zu, the rest kept", n,
       want);
    for (size_t i = 0; i < N; i++)
        if (in[i])
            in[i] = !idtable_del(&t, ids[i]);
    ok(t.n == 0 && agrees(&t), "all removed: empty");
    idtable_free(&t);
    ok(t.cap == 0 && t.slots == NULL, "freed");
    return tap_done();
}
