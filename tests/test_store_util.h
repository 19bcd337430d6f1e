/* Shared by the storage suites (one per backend): callbacks that write what they see as
 * text, and the basic data set both suites load. */
#ifndef TEST_STORE_UTIL_H
#define TEST_STORE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "up_store.h"

struct sink {
    char text[8192];
    size_t n;
};

/* Appends printf-style text (cut at the buffer's end). */
void sink_add(struct sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empties s. */
void sink_reset(struct sink *s);

/* Callbacks for the read operations; ctx is a struct sink. */
int sink_store(void *ctx, const char *id, int64_t npolls);               /* "id:npolls;" */
int sink_hours(void *ctx, const char *id, const struct up_hours_row *h); /* "id:day:h-h;" */
int sink_tz(void *ctx, const char *id, const char *zone);                /* "id:zone;" */
int sink_poll(void *ctx, const char *id, int64_t ts, int active);        /* "id@seconds=active;" */

/* The read sink whose every member is the callback above, writing to s. */
struct up_store_sink sink_all(struct sink *s);

/*
 * Loads, in the loader's order (zones, hours, polls), stores "0123", "123", "B", "a",
 * "é" with one poll each (a: two, one of them given three times with mixed statuses),
 * hours for "a" and "hoursonly", and a zone for "a". Asserts every step.
 */
void store_load_basic(struct up_store *st);

#endif
