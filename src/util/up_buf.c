#include "up_buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void up_buf_init(struct up_buf *b, size_t elem, size_t max)
{
    memset(b, 0, sizeof *b);
    b->elem = elem;
    b->max = max;
}

int up_buf_reserve(struct up_buf *b, size_t extra)
{
    size_t need, cap;
    void *p;

    if (extra > b->max || b->n > b->max - extra)
        return -1;
    need = b->n + extra;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    if (cap > b->max)
        cap = b->max;
    if (cap > SIZE_MAX / b->elem)
        return -1;
    p = realloc(b->p, cap * b->elem);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int up_buf_append(struct up_buf *b, const void *items, size_t count)
{
    if (count == 0)
        return 0;
    if (up_buf_reserve(b, count) != 0)
        return -1;
    memcpy((char *)b->p + b->n * b->elem, items, count * b->elem);
    b->n += count;
    return 0;
}

void *up_buf_push(struct up_buf *b)
{
    void *item;

    if (up_buf_reserve(b, 1) != 0)
        return NULL;
    item = (char *)b->p + b->n * b->elem;
    memset(item, 0, b->elem);
    b->n++;
    return item;
}

void *up_buf_take(struct up_buf *b)
{
    void *p = b->p;

    b->p = NULL;
    b->n = b->cap = 0;
    return p;
}

void up_buf_free(struct up_buf *b)
{
    if (!b)
        return;
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}
