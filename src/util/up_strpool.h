/*
 * Strings copied into large blocks, each at a stable address until the pool is freed:
 * no malloc (and its 16-byte header and rounding) per string, one free for all. For the
 * millions of store ids a load or a report holds. Private to the library (src/util).
 */
#ifndef UP_STRPOOL_H
#define UP_STRPOOL_H

#include <stddef.h>

struct up_strpool_block;

struct up_strpool {
    struct up_strpool_block *blocks; /* newest first */
};

/* Makes p empty. */
void up_strpool_init(struct up_strpool *p);

/* A copy of s[0..len) and a NUL; NULL when memory runs out (p unchanged). */
const char *up_strpool_add(struct up_strpool *p, const char *s, size_t len);

/* Frees every string; p is empty again. */
void up_strpool_free(struct up_strpool *p);

#endif
