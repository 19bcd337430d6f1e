/*
 * The input files' field parsers on arbitrary bytes: timestamp_utc, times of day,
 * status, dayOfWeek, store_id (src/input/up_rows.c, src/tz/up_time.c) and zone names
 * (src/tz/up_tz.c's name checks, with and without tzdata.zi). Each input goes to every
 * parser. Beyond not crashing, each accepted value must survive a round trip through the
 * project's own formatter, and each answer must be one the header promises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "up_rows.h"
#include "up_time.h"
#include "up_tz.h"

/* The system database (tzdata.zi lists the names), and a folder without tzdata.zi where
 * names are files that start with "TZif" (the fallback check). */
static struct up_tzdb *sys_db, *bare_db;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512], path[1024];
    static const char tzif[] = "TZif2";
    const char *dir = fz_dir();

    (void)argc;
    (void)argv;
    sys_db = up_tzdb_open("/usr/share/zoneinfo", 0, 0, err, sizeof err);
    FZ_CHECK(sys_db != NULL, err);
    fz_mkdirs(dir, "bare/Etc");
    snprintf(path, sizeof path, "%s/bare/Etc/Short", dir);
    fz_write(path, tzif, sizeof tzif - 1); /* known by its magic, too short to load */
    snprintf(path, sizeof path, "%s/bare/Text", dir);
    fz_write(path, "not a zone\n", 11);
    snprintf(path, sizeof path, "%s/bare", dir);
    bare_db = up_tzdb_open(path, 0, 0, err, sizeof err);
    FZ_CHECK(bare_db != NULL, err);
    return 0;
}

/* Every form of an accepted instant must parse back to that instant. */
static void timestamp_round_trip(int64_t us)
{
    static const enum up_time_style styles[] = {UP_TIME_SPEC, UP_TIME_ISO_Z, UP_TIME_ISO_PLUS};
    static const enum up_time_frac fracs[] = {UP_FRAC_NONE, UP_FRAC_US, UP_FRAC_TRIM};
    char buf[UP_TIME_TEXT_MAX];
    size_t i, j;

    for (i = 0; i < sizeof styles / sizeof styles[0]; i++) {
        for (j = 0; j < sizeof fracs / sizeof fracs[0]; j++) {
            int64_t back = 0;
            const char *why = NULL;
            int n = up_format_time(us, styles[i], fracs[j], buf, sizeof buf);

            FZ_CHECK(n > 0, "an accepted timestamp formats");
            if (fracs[j] == UP_FRAC_NONE && us % UP_USEC_PER_SEC != 0)
                continue; /* the fraction is cut: another instant */
            FZ_CHECK(up_parse_timestamp(buf, (size_t)n, &back, &why) == 0, buf);
            FZ_CHECK(back == us, buf);
        }
    }
}

static void fields(const char *s, size_t len)
{
    const char *why = NULL;
    int64_t us = 0;
    int v = -1;
    char buf[UP_TIME_TEXT_MAX];

    if (up_parse_timestamp(s, len, &us, &why) == 0)
        timestamp_round_trip(us);
    else
        FZ_CHECK(why != NULL, "a rejected timestamp has a reason");

    why = NULL;
    if (up_parse_time_of_day(s, len, &us, &why) == 0) {
        int64_t back = -1;
        int n;

        FZ_CHECK(us >= 0 && us < UP_USEC_PER_DAY, "a time of day is within the day");
        n = up_format_time_of_day(us, UP_FRAC_US, buf, sizeof buf);
        FZ_CHECK(n > 0, "an accepted time of day formats");
        FZ_CHECK(up_parse_time_of_day(buf, (size_t)n, &back, &why) == 0 && back == us, buf);
    } else {
        FZ_CHECK(why != NULL, "a rejected time of day has a reason");
    }

    if (up_check_status(s, len, &v, &why) == UP_ROW_OK)
        FZ_CHECK(v == 0 || v == 1, "status is active or inactive");
    if (up_check_day(s, len, &v, &why) == UP_ROW_OK)
        FZ_CHECK(v >= 0 && v <= 6, "dayOfWeek is 0-6");
    (void)up_check_store_id(s, len, &why);
}

/* A zone name is a C string: the bytes up to the first NUL. */
static void zone_name(const char *s, size_t len)
{
    char *name = malloc(len + 1), err[512];
    struct up_tzdb *dbs[2] = {sys_db, bare_db};
    size_t i;

    if (!name)
        return;
    memcpy(name, s, len);
    name[len] = '\0';
    for (i = 0; i < 2; i++) {
        int known = up_tzdb_known(dbs[i], name);
        const struct up_tz *tz = up_tzdb_zone(dbs[i], name, err, sizeof err);

        /* A zone is handed out only for a name the database knows. */
        FZ_CHECK(!tz || known, name);
        if (tz)
            (void)up_tz_local_to_utc(tz, up_tz_utc_to_local(tz, 0));
    }
    free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* libFuzzer hands a heap copy of exactly size bytes: a read past a field's end is a
     * heap-buffer-overflow. */
    fields((const char *)data, size);
    zone_name((const char *)data, size);
    return 0;
}
