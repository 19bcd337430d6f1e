/*
 * The HDF5 snapshot reader (src/store/up_store_hdf5.c) on arbitrary files: the input is
 * written to a temporary file (mkstemp) and opened as "hdf5:<path>"; a snapshot that
 * opens is then read the way a report reads it (the store list, hours, zones, and the
 * polls of all its stores and of every other one), row by row and in the bulk forms. A damaged file must fail with a
 * message, never crash or read out of bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fuzz_util.h"
#include "up_store.h"
#include "up_time.h"

/* Stores whose polls are asked for (a fuzzed file may claim millions). */
#define MAX_IDS 4096

struct ids {
    char *v[MAX_IDS];
    size_t n;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    (void)fz_dir();
    return 0;
}

static int on_store(void *ctx, const char *id, int64_t weight)
{
    struct ids *s = ctx;

    (void)weight;
    FZ_CHECK(s->n == 0 || strcmp(s->v[s->n - 1], id) < 0, "stores come in ascending order");
    if (s->n == MAX_IDS)
        return 1; /* stops the scan: UP_EFAIL */
    s->v[s->n] = strdup(id);
    return s->v[s->n] ? (s->n++, 0) : 1;
}

static int on_hours(void *ctx, const char *id, const struct up_hours_row *row)
{
    (void)ctx;
    (void)id;
    FZ_CHECK(row->day >= 0 && row->day <= 6, "an hours row's day is 0-6");
    FZ_CHECK(row->start_us >= 0 && row->start_us < UP_USEC_PER_DAY && row->end_us >= 0 &&
                 row->end_us < UP_USEC_PER_DAY,
             "an hours row's times are within the day");
    return 0;
}

static int on_zone(void *ctx, const char *id, const char *zone)
{
    (void)ctx;
    (void)id;
    (void)zone;
    return 0;
}

static int on_poll(void *ctx, const char *id, int64_t ts, int active)
{
    (void)ctx;
    (void)id;
    (void)ts;
    FZ_CHECK(active == 0 || active == 1, "a poll is active or inactive");
    return 0;
}

/* The bulk forms a report's scatter and worker use: the same checks on every row. */
static int on_hours_of(void *ctx, const char *id, const struct up_hours_row *rows, size_t n)
{
    size_t k;

    FZ_CHECK(n >= 1, "a store's hours come as one or more rows");
    for (k = 0; k < n; k++)
        if (on_hours(ctx, id, &rows[k]) != 0)
            return 1;
    return 0;
}

static int on_polls(void *ctx, const char *id, const int64_t *ts, const uint8_t *active, size_t n)
{
    size_t k;

    (void)ctx;
    (void)id;
    FZ_CHECK(n >= 1, "a run of polls has one poll or more");
    for (k = 0; k < n; k++) {
        FZ_CHECK(active[k] == 0 || active[k] == 1, "a poll is active or inactive");
        FZ_CHECK(k == 0 || ts[k] > ts[k - 1], "a run of polls is strictly ascending");
    }
    return 0;
}

static void read_all(struct up_store *st)
{
    struct ids ids;
    struct up_store_sink sink = {on_store, on_hours, on_zone, on_poll, &ids, NULL, NULL};
    struct up_store_sink bulk = {on_store, on_hours, on_zone, on_poll, &ids, on_hours_of, on_polls};
    const char *half[MAX_IDS / 2 + 1];
    char err[1024];
    int64_t now = 0, lo;
    int any = 0;
    size_t i, k = 0;

    ids.n = 0;
    FZ_CHECK(up_store_max_ts(st, &now, &any, err, sizeof err) == UP_OK, err);
    lo = now - UP_USEC_PER_WEEK;
    if (up_store_stores(st, lo, now, &sink, err, sizeof err) == UP_OK) {
        (void)up_store_polls(st, (const char *const *)ids.v, ids.n, lo, now, &sink, err,
                             sizeof err);
        for (i = 0; i < ids.n; i += 2)
            half[k++] = ids.v[i];
        (void)up_store_polls(st, half, k, lo, now, &sink, err, sizeof err);
        (void)up_store_polls(st, (const char *const *)ids.v, ids.n, lo, now, &bulk, err,
                             sizeof err);
    }
    (void)up_store_hours(st, &sink, err, sizeof err);
    (void)up_store_hours(st, &bulk, err, sizeof err);
    (void)up_store_timezones(st, &sink, err, sizeof err);
    for (i = 0; i < ids.n; i++)
        free(ids.v[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1024], url[1100], err[1024];
    struct up_store *st = NULL;

    fz_temp(data, size, path, sizeof path);
    snprintf(url, sizeof url, "hdf5:%s", path);
    if (up_store_open(url, UP_STORE_READ, &st, err, sizeof err) == UP_OK)
        read_all(st);
    else
        FZ_CHECK(st == NULL && err[0] != '\0', "a refused file says why");
    up_store_close(st);
    unlink(path);
    return 0;
}
