/*
 * A growable array with a mandatory cap (curl's dynbuf and its `toobig`): one growth
 * rule for every list the project builds, so no list grows without bound and no caller
 * writes its own doubling loop. Private to the library (src/util).
 */
#ifndef UP_BUF_H
#define UP_BUF_H

#include <stddef.h>

/* Items of elem bytes; at most max items. Zero-initialise with up_buf_init. */
struct up_buf {
    void *p;     /* the items; NULL until the first growth */
    size_t n;    /* items in use */
    size_t cap;  /* items allocated */
    size_t elem; /* bytes per item */
    size_t max;  /* cap on n (the "too big" limit) */
};

/* Makes b an empty buffer of elem-byte items holding at most max items. */
void up_buf_init(struct up_buf *b, size_t elem, size_t max);

/*
 * Makes room for extra more items (doubling, from 64). Returns 0, or -1 when n + extra
 * would pass the cap or memory runs out; b is unchanged then.
 */
int up_buf_reserve(struct up_buf *b, size_t extra);

/* Appends count items copied from items (after up_buf_reserve). Returns 0 or -1. */
int up_buf_append(struct up_buf *b, const void *items, size_t count);

/* Returns a pointer to a new item at the end, zeroed, or NULL (cap or memory). */
void *up_buf_push(struct up_buf *b);

/* Address of item i (i < n). */
#define UP_BUF_AT(b, type, i) (&((type *)(b)->p)[i])

/* Hands the items to the caller (who frees them with free) and empties b. */
void *up_buf_take(struct up_buf *b);

/* Frees the items and empties b (keeps elem and max). Accepts NULL. */
void up_buf_free(struct up_buf *b);

#endif
