/*
 * The store ids one load names, interned: each distinct id gets the next index (0, 1, 2,
 * ... in order of first appearance), and its bytes are kept at a stable address until
 * up_idtab_free, in blocks of many ids (no malloc per id). Both database backends'
 * loaders keep their per-store records in arrays indexed the same way. Open addressing
 * over FNV-1a, at most 3/4 full. Private to the library (src/util).
 */
#ifndef UP_IDTAB_H
#define UP_IDTAB_H

#include <stddef.h>
#include <stdint.h>
#include "up_buf.h"
#include "up_strpool.h"

struct up_idtab {
    struct up_strpool pool;  /* the ids' bytes */
    struct up_buf ents;      /* per index: struct up_idtab_ent */
    uint32_t *slots;         /* index + 1, 0 free */
    size_t nslots;           /* a power of two (0 before the first id) */
    size_t bytes, max_bytes; /* bytes of ids held (NULs included), their cap */
};

/* An interned id: its copy, length and hash. */
struct up_idtab_ent {
    const char *id; /* NUL-terminated */
    uint32_t len;   /* strlen(id) */
    uint32_t hash;
};

/* Makes t empty: at most max_ids ids (<= UINT32_MAX) of max_bytes bytes in all. */
void up_idtab_init(struct up_idtab *t, size_t max_ids, size_t max_bytes);

/* Frees every id and the table; t is empty again (its caps kept). */
void up_idtab_free(struct up_idtab *t);

/*
 * Sets *index to id's index. Returns 1 when id is new (given the next index), 0 when it
 * was known, -1 when memory runs out or a cap is reached (t is unchanged then).
 */
int up_idtab_intern(struct up_idtab *t, const char *id, uint32_t *index);

/* Number of ids held. */
#define UP_IDTAB_N(t) ((t)->ents.n)

/* The entry of index i (i < UP_IDTAB_N). */
#define UP_IDTAB_AT(t, i) UP_BUF_AT(&(t)->ents, struct up_idtab_ent, i)

#endif
