#include "up_strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    char *key; /* key and value share one allocation: "key\0value\0" */
    const char *value;
};

struct up_strmap {
    struct slot *slots;
    size_t cap; /* a power of two */
    size_t n;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

struct up_strmap *up_strmap_new(void)
{
    struct up_strmap *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cap = 64;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

void up_strmap_free(struct up_strmap *m)
{
    size_t i;
    if (!m)
        return;
    for (i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    free(m);
}

static struct slot *find(const struct up_strmap *m, const char *key)
{
    size_t i = (size_t)hash(key) & (m->cap - 1);
    while (m->slots[i].key && strcmp(m->slots[i].key, key) != 0)
        i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

const char *up_strmap_get(const struct up_strmap *m, const char *key)
{
    struct slot *s = find(m, key);
    return s->key ? s->value : NULL;
}

static int grow(struct up_strmap *m)
{
    struct up_strmap bigger = {NULL, m->cap * 2, m->n};
    size_t i;

    bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
    if (!bigger.slots)
        return -1;
    for (i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            *find(&bigger, m->slots[i].key) = m->slots[i];
    free(m->slots);
    *m = bigger;
    return 0;
}

int up_strmap_put(struct up_strmap *m, const char *key, const char *value)
{
    size_t klen = strlen(key), vlen = strlen(value);
    struct slot *s;
    char *mem;

    s = find(m, key);
    if (!s->key) {
        if (m->n >= UP_STRMAP_MAX_KEYS)
            return -1;
        if ((m->n + 1) * 4 > m->cap * 3) {
            if (grow(m) != 0)
                return -1;
            s = find(m, key);
        }
    }
    mem = malloc(klen + vlen + 2);
    if (!mem)
        return -1;
    memcpy(mem, key, klen + 1);
    memcpy(mem + klen + 1, value, vlen + 1);
    if (s->key)
        free(s->key);
    else
        m->n++;
    s->key = mem;
    s->value = mem + klen + 1;
    return 0;
}

void up_strmap_foreach(const struct up_strmap *m,
                       void (*fn)(void *ctx, const char *key, const char *value), void *ctx)
{
    size_t i;
    for (i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            fn(ctx, m->slots[i].key, m->slots[i].value);
}

size_t up_strmap_count(const struct up_strmap *m)
{
    return m->n;
}
