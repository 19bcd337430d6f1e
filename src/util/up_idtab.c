#include "up_idtab.h"

#include <stdlib.h>
#include <string.h>

/* The table's first size, in slots. */
#define FIRST_SLOTS ((size_t)4096)

void up_idtab_init(struct up_idtab *t, size_t max_ids, size_t max_bytes)
{
    memset(t, 0, sizeof *t);
    up_strpool_init(&t->pool);
    up_buf_init(&t->ents, sizeof(struct up_idtab_ent), max_ids < UINT32_MAX ? max_ids : UINT32_MAX);
    t->max_bytes = max_bytes;
}

void up_idtab_free(struct up_idtab *t)
{
    up_strpool_free(&t->pool);
    up_buf_free(&t->ents);
    free(t->slots);
    t->slots = NULL;
    t->nslots = 0;
    t->bytes = 0;
}

/* FNV-1a (as up_strmap); *len gets strlen(id): one pass for both. */
static uint32_t id_hash(const char *id, size_t *len)
{
    uint64_t h = 1469598103934665603u;
    const char *p;

    for (p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    *len = (size_t)(p - id);
    return (uint32_t)(h ^ (h >> 32));
}

/* Puts index i in the table (which has room). */
static void slot_put(struct up_idtab *t, uint32_t i)
{
    size_t k = (size_t)UP_IDTAB_AT(t, i)->hash & (t->nslots - 1);

    while (t->slots[k])
        k = (k + 1) & (t->nslots - 1);
    t->slots[k] = i + 1;
}

/* Doubles the table when one more id would fill it past 3/4. Returns 0 or -1. */
static int make_room(struct up_idtab *t)
{
    size_t n, i;
    uint32_t *slots;

    if (4 * (UP_IDTAB_N(t) + 1) <= 3 * t->nslots)
        return 0;
    n = t->nslots ? 2 * t->nslots : FIRST_SLOTS;
    if (n > SIZE_MAX / sizeof *slots || !(slots = calloc(n, sizeof *slots)))
        return -1;
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    for (i = 0; i < UP_IDTAB_N(t); i++)
        slot_put(t, (uint32_t)i);
    return 0;
}

int up_idtab_intern(struct up_idtab *t, const char *id, uint32_t *index)
{
    struct up_idtab_ent *e;
    size_t k, len;
    uint32_t h = id_hash(id, &len);

    if (t->nslots) {
        for (k = (size_t)h & (t->nslots - 1); t->slots[k]; k = (k + 1) & (t->nslots - 1)) {
            e = UP_IDTAB_AT(t, t->slots[k] - 1);
            if (e->hash == h && e->len == len && memcmp(e->id, id, len) == 0) {
                *index = t->slots[k] - 1;
                return 0;
            }
        }
    }
    /* New: room first everywhere, so that a failure leaves t as it was. */
    if (len >= UINT32_MAX || len + 1 > t->max_bytes - t->bytes ||
        up_buf_reserve(&t->ents, 1) != 0 || make_room(t) != 0)
        return -1;
    e = up_buf_push(&t->ents);
    if (!(e->id = up_strpool_add(&t->pool, id, len))) {
        t->ents.n--;
        return -1;
    }
    e->len = (uint32_t)len;
    e->hash = h;
    t->bytes += len + 1;
    *index = (uint32_t)(UP_IDTAB_N(t) - 1);
    slot_put(t, *index);
    return 1;
}
