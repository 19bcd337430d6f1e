/*
 * The TZif reader (src/tz/up_tz.c: RFC 8536 v1-v4 files and the POSIX TZ footer) on
 * arbitrary files, then every public query on the zone it makes. The file is read the way
 * a report reads its zones: as dir/<name>, a name that tzdata.zi lists (and a link to it).
 *
 * Beyond not crashing: a zone prepared for a report's range answers from a precomputed
 * window, one prepared for a range too wide for a window answers from the general path,
 * and the two must agree on every instant and wall time of the range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "up_time.h"
#include "up_tz.h"

static char dir[1024], zone_path[1100];

/* Report-like ranges: a January week (no change in most zones), the March and the
 * October-November weeks where most zones change. */
static const struct {
    int y, m, d;
} ranges[] = {{2023, 1, 16}, {2023, 3, 8}, {2023, 10, 26}};
#define RANGE_DAYS 11

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char zi[] = "Z Fuzz/Zone 0 - FZ\nL Fuzz/Zone Fuzz/Link\n";
    char path[1100];

    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "%s/tz", fz_dir());
    fz_mkdirs(fz_dir(), "tz/Fuzz");
    snprintf(path, sizeof path, "%s/tzdata.zi", dir);
    fz_write(path, zi, sizeof zi - 1);
    snprintf(zone_path, sizeof zone_path, "%s/Fuzz/Zone", dir);
    return 0;
}

static int64_t day_us(int y, int m, int d)
{
    return up_days_from_civil(y, m, d) * UP_USEC_PER_DAY;
}

/* Queries at the ends of time: no answer is checked, none may crash or overflow. */
static void extremes(const struct up_tz *tz, const uint8_t *data, size_t size)
{
    int64_t probes[] = {INT64_MIN, INT64_MIN + 1,    -(INT64_C(1) << 62), -1,        0,
                        1,         INT64_C(1) << 62, INT64_MAX - 1,       INT64_MAX, 0};
    size_t i;

    if (size >= 8)
        memcpy(&probes[9], data + size - 8, 8);
    for (i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        (void)up_tz_offset_at(tz, probes[i]);
        (void)up_tz_utc_to_local(tz, probes[i]);
        (void)up_tz_local_to_utc(tz, probes[i]);
    }
}

/* The windowed and the general answers over one range, every quarter of an hour. */
static void compare(const struct up_tz *win, const struct up_tz *gen, int64_t lo, int64_t hi)
{
    const int64_t step = 15 * 60 * UP_USEC_PER_SEC;
    int64_t t;

    for (t = lo - 2 * UP_USEC_PER_DAY; t <= hi + 2 * UP_USEC_PER_DAY; t += step) {
        if (up_tz_offset_at(win, t) != up_tz_offset_at(gen, t) ||
            up_tz_utc_to_local(win, t) != up_tz_utc_to_local(gen, t) ||
            up_tz_local_to_utc(win, t) != up_tz_local_to_utc(gen, t)) {
            char what[UP_TIME_TEXT_MAX];
            up_format_timestamp(t, what, sizeof what);
            fz_fail(__FILE__, __LINE__, "windowed == general", what);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    struct up_tzdb *gen_db;
    const struct up_tz *gen;
    size_t r;

    fz_write(zone_path, data, size);
    /* A range wider than 100 years gets no window: every answer takes the general path. */
    gen_db = up_tzdb_open(dir, INT64_MIN / 4, INT64_MAX / 4, err, sizeof err);
    FZ_CHECK(gen_db != NULL, err);
    gen = up_tzdb_zone(gen_db, "Fuzz/Zone", err, sizeof err);
    if (gen)
        extremes(gen, data, size);
    for (r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        int64_t lo = day_us(ranges[r].y, ranges[r].m, ranges[r].d);
        int64_t hi = lo + RANGE_DAYS * UP_USEC_PER_DAY;
        struct up_tzdb *db = up_tzdb_open(dir, lo, hi, err, sizeof err);
        const struct up_tz *win, *link;

        FZ_CHECK(db != NULL, err);
        win = up_tzdb_zone(db, "Fuzz/Zone", err, sizeof err);
        FZ_CHECK((win == NULL) == (gen == NULL), "a file loads whatever the range");
        link = up_tzdb_zone(db, "Fuzz/Link", err, sizeof err);
        FZ_CHECK(link == win, "a link shares its target's zone");
        if (win) {
            compare(win, gen, lo, hi);
            if (r == 0)
                extremes(win, data, size);
        }
        up_tzdb_free(db);
    }
    up_tzdb_free(gen_db);
    return 0;
}
