#include "up_strpool.h"

#include <stdlib.h>
#include <string.h>

/* Strings go into blocks of this many bytes (one bigger block for a longer string). */
#define BLOCK_BYTES ((size_t)1 << 20)

struct up_strpool_block {
    struct up_strpool_block *next;
    size_t used, cap;
    char data[];
};

void up_strpool_init(struct up_strpool *p)
{
    p->blocks = NULL;
}

const char *up_strpool_add(struct up_strpool *p, const char *s, size_t len)
{
    struct up_strpool_block *b = p->blocks;

    if (len >= (size_t)-1 - sizeof *b)
        return NULL;
    if (!b || b->cap - b->used < len + 1) {
        size_t cap = len + 1 > BLOCK_BYTES ? len + 1 : BLOCK_BYTES;
        if (!(b = malloc(sizeof *b + cap)))
            return NULL;
        b->next = p->blocks;
        b->used = 0;
        b->cap = cap;
        p->blocks = b;
    }
    memcpy(b->data + b->used, s, len);
    b->data[b->used + len] = '\0';
    b->used += len + 1;
    return b->data + b->used - len - 1;
}

void up_strpool_free(struct up_strpool *p)
{
    while (p->blocks) {
        struct up_strpool_block *b = p->blocks;
        p->blocks = b->next;
        free(b);
    }
}
