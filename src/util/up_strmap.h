/* A string-to-string hash map (open addressing), for per-load bookkeeping. */
#ifndef UP_STRMAP_H
#define UP_STRMAP_H

#include <stddef.h>

struct up_strmap;

/*
 * Most keys a map holds (curl dynbuf's "toobig" for the table): 2^27 stores is far beyond
 * any platform, and stops the slot table (16 bytes a slot, at most 3/4 full) at 4 GiB.
 */
#define UP_STRMAP_MAX_KEYS ((size_t)1 << 27)

/* Returns an empty map, or NULL when out of memory. Free with up_strmap_free. */
struct up_strmap *up_strmap_new(void);

/* Frees the map and its copies of keys and values. Accepts NULL. */
void up_strmap_free(struct up_strmap *m);

/* Returns the value stored under key, or NULL. */
const char *up_strmap_get(const struct up_strmap *m, const char *key);

/*
 * Stores copies of key and value (replacing an earlier value). Returns 0, or -1 when
 * memory runs out or a new key would pass UP_STRMAP_MAX_KEYS (the map is unchanged).
 */
int up_strmap_put(struct up_strmap *m, const char *key, const char *value);

/* Calls fn(ctx, key, value) for every key, in no particular order. */
void up_strmap_foreach(const struct up_strmap *m,
                       void (*fn)(void *ctx, const char *key, const char *value), void *ctx);

/* Number of keys. */
size_t up_strmap_count(const struct up_strmap *m);

#endif
