/*
 * The whole loader (src/input/up_load.c: the CSV reader, the row checks, the reader
 * thread, the rejects file) into the in-memory backend (src/store/up_store_mem.c).
 *
 * Input: one flags byte, then the polls, hours and zones files one after the other, each
 * ended by a line "%%%%" (a missing part is an empty file). Flags: bits 0-2 which files
 * are given (none set: all three), bit 3 a rejects file, bit 4 a progress callback.
 * Beyond not crashing, the loader keeps its promises (up_load.h, README): a failed load
 * leaves the data as it was, and loading the same files twice changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fuzz_util.h"
#include "up_load.h"
#include "up_store.h"
#include "up_store_mem.h"
#include "up_time.h"

#define DB "mem:fuzz"
#define SEP "\n%%%%\n"

static char tzdir[1024], rejects[1024];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* A small tz database of names only (the loader checks names, it loads no zone):
     * reading the system's 110 KiB tzdata.zi on every load would be most of the work. */
    static const char zi[] = "# version fuzz\n"
                             "Z America/Chicago -5:50:36 - LMT 1883 N 18 12:9:24\n"
                             "Z America/New_York -4:56:2 - LMT 1883 N 18 12:3:58\n"
                             "Z Asia/Kolkata 5:53:28 - LMT 1854 Jun 28\n"
                             "Z Etc/UTC 0 - UTC\n"
                             "L America/Chicago US/Central\n"
                             "L Etc/UTC UTC\n";
    char path[1100];

    (void)argc;
    (void)argv;
    snprintf(tzdir, sizeof tzdir, "%s/tz", fz_dir());
    fz_mkdirs(fz_dir(), "tz");
    snprintf(path, sizeof path, "%s/tzdata.zi", tzdir);
    fz_write(path, zi, sizeof zi - 1);
    snprintf(rejects, sizeof rejects, "%s/out/rejects.csv", fz_dir());
    if (up_store_register_backend(&up_store_mem_ops) != UP_OK)
        abort();
    return 0;
}

/* FNV-1a over what a report would read back. */
struct digest {
    uint64_t h;
};

static void mix(struct digest *d, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < n; i++)
        d->h = (d->h ^ b[i]) * UINT64_C(0x100000001b3);
}

static void mix_str(struct digest *d, const char *s)
{
    mix(d, s, strlen(s) + 1);
}

/* The ids of the stores scan, for the polls read. */
struct ids {
    char **v;
    size_t n, cap;
    struct digest *d;
};

static int on_store(void *ctx, const char *id, int64_t weight)
{
    struct ids *s = ctx;

    mix_str(s->d, id);
    mix(s->d, &weight, sizeof weight);
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return 1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n] = strdup(id);
    return s->v[s->n++] ? 0 : 1;
}

static int on_hours(void *ctx, const char *id, const struct up_hours_row *row)
{
    struct digest *d = ((struct ids *)ctx)->d;

    mix_str(d, id);
    mix(d, &row->day, sizeof row->day);
    mix(d, &row->start_us, sizeof row->start_us);
    mix(d, &row->end_us, sizeof row->end_us);
    return 0;
}

static int on_zone(void *ctx, const char *id, const char *zone)
{
    struct digest *d = ((struct ids *)ctx)->d;

    mix_str(d, id);
    mix_str(d, zone);
    return 0;
}

static int on_poll(void *ctx, const char *id, int64_t ts, int active)
{
    struct digest *d = ((struct ids *)ctx)->d;

    mix_str(d, id);
    mix(d, &ts, sizeof ts);
    mix(d, &active, sizeof active);
    return 0;
}

/* Everything a report as of the latest poll reads, digested; a data set that does not
 * exist reads as an empty one (a failed first load may leave one, empty). */
static uint64_t dump(void)
{
    struct digest d = {UINT64_C(0xcbf29ce484222325)};
    struct ids ids = {NULL, 0, 0, &d};
    struct up_store_sink sink = {on_store, on_hours, on_zone, on_poll, &ids, NULL, NULL};
    struct up_store *st = NULL;
    char err[512];
    int64_t max = 0;
    int any = 0;
    size_t i;

    if (up_store_open(DB, UP_STORE_READ, &st, err, sizeof err) != UP_OK)
        return d.h;
    FZ_CHECK(up_store_max_ts(st, &max, &any, err, sizeof err) == UP_OK, err);
    if (any)
        mix(&d, &max, sizeof max);
    FZ_CHECK(up_store_stores(st, max - UP_USEC_PER_WEEK, max, &sink, err, sizeof err) == UP_OK,
             err);
    FZ_CHECK(up_store_hours(st, &sink, err, sizeof err) == UP_OK, err);
    FZ_CHECK(up_store_timezones(st, &sink, err, sizeof err) == UP_OK, err);
    FZ_CHECK(up_store_polls(st, (const char *const *)ids.v, ids.n, max - UP_USEC_PER_WEEK, max,
                            &sink, err, sizeof err) == UP_OK,
             err);
    up_store_close(st);
    for (i = 0; i < ids.n; i++)
        free(ids.v[i]);
    free(ids.v);
    return d.h;
}

static void on_progress(void *ctx, const struct up_load_progress *p)
{
    (void)ctx;
    /* The row being read when the callback comes is counted, not yet sorted. */
    FZ_CHECK(p->committing ||
                 (p->loaded >= 0 && p->rejected >= 0 && p->loaded + p->rejected <= p->rows),
             "a file's loaded and rejected rows are among those read");
}

/* The first s[0..n) in p[0..len), or NULL (memmem is a GNU extension). */
static const uint8_t *find(const uint8_t *p, size_t len, const char *s, size_t n)
{
    size_t i;

    for (i = 0; len >= n && i <= len - n; i++)
        if (memcmp(p + i, s, n) == 0)
            return p + i;
    return NULL;
}

/* Part k of the input: up to and including the newline before its "%%%%" line. */
static const uint8_t *part(const uint8_t *data, size_t size, int k, size_t *len)
{
    const uint8_t *p = data, *end = data + size;
    size_t sep = sizeof SEP - 1;

    for (;;) {
        const uint8_t *s = find(p, (size_t)(end - p), SEP, sep);
        if (k == 0) {
            *len = s ? (size_t)(s - p) + 1 : (size_t)(end - p);
            return p;
        }
        if (!s) {
            *len = 0;
            return end;
        }
        p = s + sep;
        k--;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct up_load_opts o;
    struct up_load_stats stats;
    char path[UP_NFILES][1024], err[1024];
    unsigned flags;
    enum up_code rc;
    uint64_t empty, first;
    int i;

    if (size < 1)
        return 0;
    flags = data[0];
    if ((flags & 7) == 0)
        flags |= 7;
    memset(&o, 0, sizeof o);
    o.tzdir = tzdir;
    o.rejects_path = (flags & 8) ? rejects : NULL;
    o.progress = (flags & 16) ? on_progress : NULL;
    for (i = 0; i < UP_NFILES; i++) {
        size_t n;
        const uint8_t *p = part(data + 1, size - 1, i, &n);
        fz_temp(p, n, path[i], sizeof path[i]);
        if (flags & (1u << i))
            o.path[i] = path[i];
    }
    up_store_mem_reset();
    empty = dump();
    rc = up_load_run(DB, &o, &stats, err, sizeof err);
    first = dump();
    if (rc != UP_OK) {
        FZ_CHECK(first == empty, "a failed load leaves the data as it was");
    } else {
        for (i = 0; i < UP_NFILES; i++) {
            const struct up_load_file_stats *fs = &stats.file[i];
            FZ_CHECK(fs->rows == fs->loaded + fs->rejected, "every row is loaded or rejected");
        }
        rc = up_load_run(DB, &o, &stats, err, sizeof err);
        FZ_CHECK(rc == UP_OK, err);
        FZ_CHECK(dump() == first, "loading the same files twice changes nothing");
    }
    up_store_mem_reset();
    for (i = 0; i < UP_NFILES; i++)
        unlink(path[i]);
    return 0;
}
