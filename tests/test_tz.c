/*
 * Tests of up_tz: real zones of the system tz database checked against the published
 * DST rules (every expected instant is worked out by hand in the comments), and
 * synthetic TZif files written here to pin down the POSIX footer grammar, TZif v1,
 * corrupt files and the tzdata.zi and fallback name checks.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_list.h"
#include "test_util.h"
#include "up_time.h"
#include "up_tz.h"

#define H (INT64_C(3600) * UP_USEC_PER_SEC)
#define M (INT64_C(60) * UP_USEC_PER_SEC)

/* Wall times are written with the same helper as instants: "as if the wall clock were UTC". */
#define WALL tu_utc

static void expect_us(int64_t got, int64_t want, const char *what, unsigned line)
{
    char msg[320], g[40], w[40];

    if (got == want) {
        CU_assertImplementation(CU_TRUE, line, "ok", __FILE__, "", CU_FALSE);
        return;
    }
    if (up_format_timestamp(got, g, sizeof g) < 0)
        snprintf(g, sizeof g, "?");
    if (up_format_timestamp(want, w, sizeof w) < 0)
        snprintf(w, sizeof w, "?");
    snprintf(msg, sizeof msg, "%s: expected %lld (%s), got %lld (%s)", what, (long long)want, w,
             (long long)got, g);
    CU_assertImplementation(CU_FALSE, line, msg, __FILE__, "", CU_FALSE);
}

#define EXPECT(got, want) expect_us((got), (want), #got, __LINE__)

/* A db of the system zones with a fast window around 2023 (the report's usual case). */
static struct up_tzdb *open_sys(int64_t lo, int64_t hi)
{
    char err[256] = "";
    struct up_tzdb *db = up_tzdb_open(NULL, lo, hi, err, sizeof err);

    if (!db)
        fprintf(stderr, "up_tzdb_open: %s\n", err);
    return db;
}

static const struct up_tz *zone(struct up_tzdb *db, const char *name)
{
    char err[256] = "";
    const struct up_tz *tz = up_tzdb_zone(db, name, err, sizeof err);

    if (!tz)
        fprintf(stderr, "up_tzdb_zone(%s): %s\n", name, err);
    return tz;
}

/*
 * America/Chicago 2023: US rules, DST from the second Sunday of March at 02:00 CST to
 * the first Sunday of November at 02:00 CDT. 2023-03-01 was a Wednesday, so the second
 * Sunday is 03-12, and 02:00 CST (-6) is 08:00 UTC. 2023-11-01 was a Wednesday too, so
 * the first Sunday is 11-05, and 02:00 CDT (-5) is 07:00 UTC.
 */
static void check_chicago_2023(const struct up_tz *tz)
{
    /* Offsets on both sides of the spring change. */
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 3, 12, 7, 59, 59)), -6 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 3, 12, 8, 0, 0)), -5 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 3, 12, 8, 0, 0) - 1), -6 * H);
    /* 07:59:59 UTC is 01:59:59 CST; 08:00 UTC is 03:00 CDT (02:xx never shows). */
    EXPECT(up_tz_utc_to_local(tz, tu_utc(2023, 3, 12, 7, 59, 59)), WALL(2023, 3, 12, 1, 59, 59));
    EXPECT(up_tz_utc_to_local(tz, tu_utc(2023, 3, 12, 8, 0, 0)), WALL(2023, 3, 12, 3, 0, 0));
    /* 01:59:59 CST + 6 h = 07:59:59 UTC. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 3, 12, 1, 59, 59)), tu_utc(2023, 3, 12, 7, 59, 59));
    /* The gap 02:00-03:00 is read with CST (-6): 02:00 -> 08:00, 02:30 -> 08:30 UTC. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 3, 12, 2, 0, 0)), tu_utc(2023, 3, 12, 8, 0, 0));
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 3, 12, 2, 30, 0)), tu_utc(2023, 3, 12, 8, 30, 0));
    /* 03:00 CDT (-5) is 08:00 UTC again. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 3, 12, 3, 0, 0)), tu_utc(2023, 3, 12, 8, 0, 0));

    /* Fall: -5 up to 07:00 UTC, -6 from it. */
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 11, 5, 6, 59, 59)), -5 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 11, 5, 7, 0, 0)), -6 * H);
    /* 06:59:59 UTC is 01:59:59 CDT, 07:00 UTC is 01:00 CST, 07:30 UTC is 01:30 CST. */
    EXPECT(up_tz_utc_to_local(tz, tu_utc(2023, 11, 5, 6, 59, 59)), WALL(2023, 11, 5, 1, 59, 59));
    EXPECT(up_tz_utc_to_local(tz, tu_utc(2023, 11, 5, 7, 0, 0)), WALL(2023, 11, 5, 1, 0, 0));
    EXPECT(up_tz_utc_to_local(tz, tu_utc(2023, 11, 5, 7, 30, 0)), WALL(2023, 11, 5, 1, 30, 0));
    /* 01:00-02:00 happens twice; fold=0 takes CDT: 01:30 CDT = 06:30 UTC. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 11, 5, 1, 30, 0)), tu_utc(2023, 11, 5, 6, 30, 0));
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 11, 5, 1, 0, 0)), tu_utc(2023, 11, 5, 6, 0, 0));
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 11, 5, 1, 59, 59)), tu_utc(2023, 11, 5, 6, 59, 59));
    /* 00:59 CDT = 05:59 UTC; 02:00 is only CST: 08:00 UTC. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 11, 5, 0, 59, 0)), tu_utc(2023, 11, 5, 5, 59, 0));
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 11, 5, 2, 0, 0)), tu_utc(2023, 11, 5, 8, 0, 0));
    /* Microseconds survive: 02:00:00.000001 CST = 08:00:00.000001 UTC. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 11, 5, 2, 0, 0) + 1),
           tu_utc(2023, 11, 5, 8, 0, 0) + 1);
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 11, 5, 2, 0, 0) - 1),
           tu_utc(2023, 11, 5, 7, 0, 0) - 1);
}

static void test_chicago(void)
{
    struct up_tzdb *db = open_sys(tu_utc(2023, 3, 5, 0, 0, 0), tu_utc(2023, 11, 12, 0, 0, 0));
    const struct up_tz *tz;

    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    tz = zone(db, "America/Chicago");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tz);
    check_chicago_2023(tz);
    up_tzdb_free(db);
}

/*
 * Australia/Lord_Howe: +10:30 standard, +11 DST, a 30-minute shift at 02:00 local.
 * DST ends the first Sunday of April: 2023-04-01 was a Saturday, so 2023-04-02 02:00
 * (+11) = 2023-04-01 15:00 UTC, and clocks go to 01:30 (+10:30).
 * DST starts the first Sunday of October: 2023-01-01 was a Sunday and 10-01 is 273 = 39*7
 * days later, a Sunday; 02:00 (+10:30) = 2023-09-30 15:30 UTC, clocks go to 02:30 (+11).
 */
static void check_lord_howe_2023(const struct up_tz *tz)
{
    const int64_t h1030 = 10 * H + 30 * M;

    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 4, 1, 14, 59, 59)), 11 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 4, 1, 15, 0, 0)), h1030);
    EXPECT(up_tz_utc_to_local(tz, tu_utc(2023, 4, 1, 14, 59, 59)), WALL(2023, 4, 2, 1, 59, 59));
    EXPECT(up_tz_utc_to_local(tz, tu_utc(2023, 4, 1, 15, 0, 0)), WALL(2023, 4, 2, 1, 30, 0));
    /* 01:30-02:00 happens twice: 01:45 fold=0 is +11 -> 14:45 UTC (not 15:15). */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 4, 2, 1, 45, 0)), tu_utc(2023, 4, 1, 14, 45, 0));
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 4, 2, 1, 30, 0)), tu_utc(2023, 4, 1, 14, 30, 0));
    /* 01:29 is before the overlap (+11): 14:29; 02:00 is only +10:30: 15:30 UTC. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 4, 2, 1, 29, 0)), tu_utc(2023, 4, 1, 14, 29, 0));
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 4, 2, 2, 0, 0)), tu_utc(2023, 4, 1, 15, 30, 0));

    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 9, 30, 15, 29, 59)), h1030);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 9, 30, 15, 30, 0)), 11 * H);
    EXPECT(up_tz_utc_to_local(tz, tu_utc(2023, 9, 30, 15, 29, 59)), WALL(2023, 10, 1, 1, 59, 59));
    EXPECT(up_tz_utc_to_local(tz, tu_utc(2023, 9, 30, 15, 30, 0)), WALL(2023, 10, 1, 2, 30, 0));
    /* The gap 02:00-02:30 is read with +10:30: 02:15 -> 15:45 UTC, 02:00 -> 15:30. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 10, 1, 2, 15, 0)), tu_utc(2023, 9, 30, 15, 45, 0));
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 10, 1, 2, 0, 0)), tu_utc(2023, 9, 30, 15, 30, 0));
    /* 02:30 is +11: 15:30 UTC; 01:59 is +10:30: 15:29 UTC. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 10, 1, 2, 30, 0)), tu_utc(2023, 9, 30, 15, 30, 0));
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 10, 1, 1, 59, 0)), tu_utc(2023, 9, 30, 15, 29, 0));
}

static void test_lord_howe(void)
{
    struct up_tzdb *db = open_sys(tu_utc(2023, 3, 28, 0, 0, 0), tu_utc(2023, 4, 6, 0, 0, 0));
    const struct up_tz *tz;

    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    tz = zone(db, "Australia/Lord_Howe");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tz);
    check_lord_howe_2023(tz);
    up_tzdb_free(db);
}

/*
 * Pacific/Chatham: +12:45 standard, +13:45 DST (New Zealand's rules 45 minutes later).
 * DST ended 2023-04-02 at 03:45 (+13:45) = 2023-04-01 14:00 UTC, clocks to 02:45.
 * DST started 2023-09-24 (last Sunday of September) at 02:45 (+12:45) = 2023-09-23
 * 14:00 UTC, clocks to 03:45.
 */
static void check_chatham_2023(const struct up_tz *tz)
{
    const int64_t h1245 = 12 * H + 45 * M, h1345 = 13 * H + 45 * M;

    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 4, 1, 13, 59, 59)), h1345);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 4, 1, 14, 0, 0)), h1245);
    EXPECT(up_tz_utc_to_local(tz, tu_utc(2023, 4, 1, 13, 59, 59)), WALL(2023, 4, 2, 3, 44, 59));
    EXPECT(up_tz_utc_to_local(tz, tu_utc(2023, 4, 1, 14, 0, 0)), WALL(2023, 4, 2, 2, 45, 0));
    /* 03:00 happens twice; fold=0 is +13:45: 03:00 - 13:45 = 04-01 13:15 UTC (not 14:15). */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 4, 2, 3, 0, 0)), tu_utc(2023, 4, 1, 13, 15, 0));
    /* 03:45 exists once, at +12:45: 15:00 UTC. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 4, 2, 3, 45, 0)), tu_utc(2023, 4, 1, 15, 0, 0));

    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 9, 23, 13, 59, 59)), h1245);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 9, 23, 14, 0, 0)), h1345);
    EXPECT(up_tz_utc_to_local(tz, tu_utc(2023, 9, 23, 13, 59, 59)), WALL(2023, 9, 24, 2, 44, 59));
    EXPECT(up_tz_utc_to_local(tz, tu_utc(2023, 9, 23, 14, 0, 0)), WALL(2023, 9, 24, 3, 45, 0));
    /* 03:00 is in the gap 02:45-03:45, read with +12:45: 09-23 14:15 UTC. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 9, 24, 3, 0, 0)), tu_utc(2023, 9, 23, 14, 15, 0));
    /* 03:45 is +13:45: 14:00 UTC; 02:44 is +12:45: 13:59 UTC. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 9, 24, 3, 45, 0)), tu_utc(2023, 9, 23, 14, 0, 0));
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 9, 24, 2, 44, 0)), tu_utc(2023, 9, 23, 13, 59, 0));
}

static void test_chatham(void)
{
    struct up_tzdb *db = open_sys(tu_utc(2023, 9, 18, 0, 0, 0), tu_utc(2023, 9, 27, 0, 0, 0));
    const struct up_tz *tz;

    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    tz = zone(db, "Pacific/Chatham");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tz);
    check_chatham_2023(tz);
    up_tzdb_free(db);
}

/* Asia/Kolkata has been +05:30 without DST since 1945. */
static void check_kolkata(const struct up_tz *tz)
{
    const int64_t h0530 = 5 * H + 30 * M;

    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 3, 12, 8, 0, 0)), h0530);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 11, 5, 7, 0, 0)), h0530);
    EXPECT(up_tz_offset_at(tz, tu_utc(2150, 7, 1, 0, 0, 0)), h0530);
    /* 12:00 UTC is 17:30 local; local 10:00 is 04:30 UTC. */
    EXPECT(up_tz_utc_to_local(tz, tu_utc(2023, 3, 12, 12, 0, 0)), WALL(2023, 3, 12, 17, 30, 0));
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 11, 5, 10, 0, 0)), tu_utc(2023, 11, 5, 4, 30, 0));
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 3, 12, 2, 30, 0)), tu_utc(2023, 3, 11, 21, 0, 0));
}

static void test_kolkata(void)
{
    struct up_tzdb *db = open_sys(tu_utc(2023, 3, 5, 0, 0, 0), tu_utc(2023, 3, 14, 0, 0, 0));
    const struct up_tz *tz;

    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    tz = zone(db, "Asia/Kolkata");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tz);
    check_kolkata(tz);
    up_tzdb_free(db);
}

static void test_names(void)
{
    static const char *const unknown[] = {"",
                                          "America/Nowhere",
                                          "posix/America/Chicago",
                                          "right/America/Chicago",
                                          "../etc/passwd",
                                          "/usr/share/zoneinfo/America/Chicago",
                                          "localtime",
                                          "posixrules",
                                          "america/chicago",
                                          "America/Chicago/",
                                          "America//Chicago",
                                          "America"};
    struct up_tzdb *db = open_sys(tu_utc(2023, 3, 5, 0, 0, 0), tu_utc(2023, 3, 14, 0, 0, 0));
    const struct up_tz *a, *b, *link, *utc;
    char err[256];
    size_t i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    CU_ASSERT_TRUE(up_tzdb_known(db, "America/Chicago"));
    CU_ASSERT_TRUE(up_tzdb_known(db, "US/Central"));
    CU_ASSERT_TRUE(up_tzdb_known(db, "UTC"));
    CU_ASSERT_TRUE(up_tzdb_known(db, "Etc/UTC"));
    CU_ASSERT_TRUE(up_tzdb_known(db, "Asia/Kolkata"));
    CU_ASSERT_TRUE(up_tzdb_known(db, "Asia/Calcutta"));
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        err[0] = 0;
        if (up_tzdb_known(db, unknown[i]))
            fprintf(stderr, "expected unknown: \"%s\"\n", unknown[i]);
        CU_ASSERT_FALSE(up_tzdb_known(db, unknown[i]));
        CU_ASSERT_PTR_NULL(up_tzdb_zone(db, unknown[i], err, sizeof err));
        /* The message names the bad value. */
        CU_ASSERT_PTR_NOT_NULL(strstr(err, unknown[i]));
    }
    /* One zone object per name: the second lookup is the cached one. */
    a = zone(db, "America/Chicago");
    b = zone(db, "America/Chicago");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_EQUAL(a, b);
    /* The link behaves exactly like its target, and is cached too. */
    link = zone(db, "US/Central");
    CU_ASSERT_PTR_NOT_NULL_FATAL(link);
    CU_ASSERT_PTR_EQUAL(link, zone(db, "US/Central"));
    check_chicago_2023(link);
    /* UTC: offset 0 at any time, both directions are the identity. */
    utc = zone(db, "UTC");
    CU_ASSERT_PTR_NOT_NULL_FATAL(utc);
    EXPECT(up_tz_offset_at(utc, tu_utc(2023, 3, 12, 8, 0, 0)), 0);
    EXPECT(up_tz_offset_at(utc, tu_utc(1, 1, 1, 0, 0, 0)), 0);
    EXPECT(up_tz_offset_at(utc, tu_utc(9999, 12, 31, 23, 59, 59)), 0);
    EXPECT(up_tz_local_to_utc(utc, WALL(2023, 3, 12, 2, 30, 0)), tu_utc(2023, 3, 12, 2, 30, 0));
    /* Asia/Calcutta is a link to Asia/Kolkata. */
    a = zone(db, "Asia/Calcutta");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    check_kolkata(a);
    up_tzdb_free(db);
    up_tzdb_free(NULL);
}

/*
 * Years far past any transition table exercise the footer. 2150-03-01: 127 years after
 * 2023-03-01 (a Wednesday) with 31 leap days between (2024..2148 by fours, minus 2100):
 * 127*365 + 31 = 46386 days = 6626 weeks + 4 days, so a Sunday. The second Sunday of
 * March 2150 is then the 8th (DST from 08:00 UTC); 2150-11-01 is 245 = 35*7 days after
 * 03-01, a Sunday, so DST ends 2150-11-01 07:00 UTC.
 */
static void test_far_years(void)
{
    struct up_tzdb *db = open_sys(tu_utc(2150, 2, 26, 0, 0, 0), tu_utc(2150, 3, 7, 0, 0, 0));
    const struct up_tz *chi, *lhi;
    int64_t off;

    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    chi = zone(db, "America/Chicago");
    lhi = zone(db, "Australia/Lord_Howe");
    CU_ASSERT_PTR_NOT_NULL_FATAL(chi);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lhi);
    EXPECT(up_tz_offset_at(chi, tu_utc(2150, 7, 1, 12, 0, 0)), -5 * H);
    EXPECT(up_tz_offset_at(chi, tu_utc(2150, 1, 1, 12, 0, 0)), -6 * H);
    EXPECT(up_tz_offset_at(chi, tu_utc(2150, 3, 8, 7, 59, 59)), -6 * H);
    EXPECT(up_tz_offset_at(chi, tu_utc(2150, 3, 8, 8, 0, 0)), -5 * H);
    EXPECT(up_tz_offset_at(chi, tu_utc(2150, 11, 1, 6, 59, 59)), -5 * H);
    EXPECT(up_tz_offset_at(chi, tu_utc(2150, 11, 1, 7, 0, 0)), -6 * H);
    /* Gap and overlap of 2150 as in 2023: 02:30 -> 08:30 UTC, 01:30 -> 06:30 UTC. */
    EXPECT(up_tz_local_to_utc(chi, WALL(2150, 3, 8, 2, 30, 0)), tu_utc(2150, 3, 8, 8, 30, 0));
    EXPECT(up_tz_local_to_utc(chi, WALL(2150, 11, 1, 1, 30, 0)), tu_utc(2150, 11, 1, 6, 30, 0));
    /* Lord Howe in 2150: southern summer is DST (+11), winter is +10:30. */
    EXPECT(up_tz_offset_at(lhi, tu_utc(2150, 1, 1, 0, 0, 0)), 11 * H);
    EXPECT(up_tz_offset_at(lhi, tu_utc(2150, 7, 1, 0, 0, 0)), 10 * H + 30 * M);
    EXPECT(up_tz_offset_at(lhi, tu_utc(2150, 12, 31, 0, 0, 0)), 11 * H);

    /*
     * Year 1 is before Chicago's first transition: time type 0, local mean time -5:50:36
     * (tzdata: "Zone America/Chicago -5:50:36 - LMT 1883 Nov 18 12:09:24").
     */
    off = -(5 * H + 50 * M + 36 * UP_USEC_PER_SEC);
    EXPECT(up_tz_offset_at(chi, tu_utc(1, 1, 1, 0, 0, 0)), off);
    EXPECT(up_tz_local_to_utc(chi, WALL(1, 1, 1, 0, 0, 0)), tu_utc(1, 1, 1, 0, 0, 0) - off);
    EXPECT(up_tz_utc_to_local(chi, tu_utc(1, 1, 1, 12, 0, 0)), tu_utc(1, 1, 1, 12, 0, 0) + off);
    /*
     * Railway time: LMT ended 1883-11-18 at 12:09:24 local, which is 12:09:24 + 5:50:36 =
     * 18:00:00 UTC, when CST (-6) began. The first transition, read on the slow path.
     */
    EXPECT(up_tz_offset_at(chi, tu_utc(1883, 11, 18, 17, 59, 59)), off);
    EXPECT(up_tz_offset_at(chi, tu_utc(1883, 11, 18, 18, 0, 0)), -6 * H);
    EXPECT(up_tz_utc_to_local(chi, tu_utc(1883, 11, 18, 17, 59, 59)),
           WALL(1883, 11, 18, 12, 9, 23));
    /* Clocks went back 9:24: 12:05 happened twice, fold=0 takes LMT (17:55:36 UTC). */
    EXPECT(up_tz_local_to_utc(chi, WALL(1883, 11, 18, 12, 5, 0)), tu_utc(1883, 11, 18, 17, 55, 36));
    EXPECT(up_tz_local_to_utc(chi, WALL(1883, 11, 18, 12, 9, 24)), tu_utc(1883, 11, 18, 18, 9, 24));
    /* Year 9999 follows the footer: July is CDT, the last second of the year is CST. */
    EXPECT(up_tz_offset_at(chi, tu_utc(9999, 7, 1, 0, 0, 0)), -5 * H);
    EXPECT(up_tz_offset_at(chi, tu_utc(9999, 12, 31, 23, 59, 59)), -6 * H);
    EXPECT(up_tz_local_to_utc(chi, WALL(9999, 12, 31, 23, 59, 59)), tu_utc(10000, 1, 1, 5, 59, 59));
    /* Lord Howe in year 9999: January is DST. Year 1 is LMT, within a day of UTC. */
    EXPECT(up_tz_offset_at(lhi, tu_utc(9999, 1, 15, 0, 0, 0)), 11 * H);
    off = up_tz_offset_at(lhi, tu_utc(1, 1, 1, 0, 0, 0));
    CU_ASSERT(off > 9 * H && off < 12 * H);
    /* The ends of int64 must not crash or wrap. */
    CU_ASSERT(up_tz_local_to_utc(chi, INT64_MAX) > 0);
    CU_ASSERT(up_tz_local_to_utc(chi, INT64_MIN) < 0);
    CU_ASSERT(up_tz_utc_to_local(lhi, INT64_MAX) > 0);
    CU_ASSERT(up_tz_utc_to_local(lhi, INT64_MIN) < 0);
    off = up_tz_offset_at(lhi, INT64_MAX);
    CU_ASSERT(off >= 10 * H && off <= 11 * H);
    up_tzdb_free(db);
}

/*
 * A db whose fast window is nowhere near the instants (slow path), and one with no
 * window at all (lo > hi), must agree with narrow windows around every instant.
 */
static void test_ranges(void)
{
    static const char *const names[] = {
        "America/Chicago", "Australia/Lord_Howe", "Pacific/Chatham",  "Asia/Kolkata",
        "US/Central",      "Europe/Dublin",       "America/Sao_Paulo"};
    static const int dates[][3] = {{2023, 3, 12}, {2023, 4, 2},   {2023, 9, 24}, {2023, 10, 1},
                                   {2023, 11, 5}, {2023, 10, 29}, {2150, 3, 8},  {1950, 6, 1},
                                   {2037, 11, 1}, {2038, 3, 14}};
    struct up_tzdb *far = open_sys(tu_utc(1900, 1, 1, 0, 0, 0), tu_utc(1900, 1, 10, 0, 0, 0));
    struct up_tzdb *none = open_sys(1, 0);
    size_t d, n;
    unsigned bad = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(far);
    CU_ASSERT_PTR_NOT_NULL_FATAL(none);
    /* The slow path answers the hand-checked cases too. */
    check_chicago_2023(zone(far, "America/Chicago"));
    check_lord_howe_2023(zone(none, "Australia/Lord_Howe"));
    check_chatham_2023(zone(far, "Pacific/Chatham"));
    for (d = 0; d < sizeof dates / sizeof dates[0]; d++) {
        int64_t mid = tu_utc(dates[d][0], dates[d][1], dates[d][2], 12, 0, 0);
        struct up_tzdb *narrow = open_sys(mid - 4 * UP_USEC_PER_DAY, mid + 5 * UP_USEC_PER_DAY);

        CU_ASSERT_PTR_NOT_NULL_FATAL(narrow);
        for (n = 0; n < sizeof names / sizeof names[0]; n++) {
            const struct up_tz *a = zone(narrow, names[n]), *b = zone(far, names[n]);
            const struct up_tz *c = zone(none, names[n]);
            int64_t t;

            CU_ASSERT_PTR_NOT_NULL_FATAL(a);
            CU_ASSERT_PTR_NOT_NULL_FATAL(b);
            CU_ASSERT_PTR_NOT_NULL_FATAL(c);
            /* Every 7.5 minutes over six days, plus odd microseconds. */
            for (t = mid - 3 * UP_USEC_PER_DAY; t < mid + 3 * UP_USEC_PER_DAY;
                 t += 450 * UP_USEC_PER_SEC + 1) {
                if (up_tz_offset_at(a, t) != up_tz_offset_at(b, t) ||
                    up_tz_offset_at(a, t) != up_tz_offset_at(c, t) ||
                    up_tz_local_to_utc(a, t) != up_tz_local_to_utc(b, t) ||
                    up_tz_local_to_utc(a, t) != up_tz_local_to_utc(c, t))
                    bad++;
            }
        }
        up_tzdb_free(narrow);
    }
    CU_ASSERT_EQUAL(bad, 0);
    up_tzdb_free(far);
    up_tzdb_free(none);
}

/* ---------------------------------------------------------------------------------- */
/* Synthetic TZif files                                                                */

static void put32(unsigned char **p, int64_t v)
{
    uint32_t u = (uint32_t)v;

    (*p)[0] = (unsigned char)(u >> 24);
    (*p)[1] = (unsigned char)(u >> 16);
    (*p)[2] = (unsigned char)(u >> 8);
    (*p)[3] = (unsigned char)u;
    *p += 4;
}

static void put64(unsigned char **p, int64_t v)
{
    put32(p, (int64_t)((uint64_t)v >> 32));
    put32(p, (int64_t)((uint64_t)v & 0xffffffffu));
}

static unsigned char *put_block(unsigned char *p, int version, int wide, size_t nt,
                                const int64_t *times, const unsigned char *idx, size_t ntypes,
                                const int32_t *offs)
{
    size_t i;

    memcpy(p, "TZif", 4);
    p[4] = (unsigned char)(version == 1 ? 0 : '0' + version);
    memset(p + 5, 0, 15);
    p += 20;
    put32(&p, 0);           /* isutcnt */
    put32(&p, 0);           /* isstdcnt */
    put32(&p, 0);           /* leapcnt */
    put32(&p, (int64_t)nt); /* timecnt */
    put32(&p, (int64_t)ntypes);
    put32(&p, 4); /* charcnt: "TST\0" */
    for (i = 0; i < nt; i++) {
        if (wide)
            put64(&p, times[i]);
        else
            put32(&p, times[i]);
    }
    for (i = 0; i < nt; i++)
        *p++ = idx[i];
    for (i = 0; i < ntypes; i++) {
        put32(&p, offs[i]);
        *p++ = 0;
        *p++ = 0;
    }
    memcpy(p, "TST", 4);
    return p + 4;
}

/* Writes a TZif file dir/name: version 1 (32-bit block only) or 2+ with a footer. */
static void write_tzif(const char *dir, const char *name, int version, size_t nt,
                       const int64_t *times, const unsigned char *idx, size_t ntypes,
                       const int32_t *offs, const char *footer)
{
    unsigned char buf[4096], *p = buf;
    char path[512];
    FILE *f;

    p = put_block(p, version, 0, nt, times, idx, ntypes, offs);
    if (version >= 2) {
        p = put_block(p, version, 1, nt, times, idx, ntypes, offs);
        *p++ = '\n';
        memcpy(p, footer, strlen(footer));
        p += strlen(footer);
        *p++ = '\n';
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(buf, 1, (size_t)(p - buf), f), (size_t)(p - buf));
    CU_ASSERT_EQUAL(fclose(f), 0);
}

/* Writes a zone with no transitions, one time type and the given footer. */
static void write_rule_zone(const char *dir, const char *name, int32_t off0, const char *footer)
{
    write_tzif(dir, name, 2, 0, NULL, NULL, 1, &off0, footer);
}

static void remove_in(const char *dir, const char *name)
{
    char path[512];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    remove(path);
}

static void test_posix_rules(void)
{
    char dir[256], err[256];
    struct up_tzdb *db;
    const struct up_tz *tz;
    static const char *const files[] = {"AllDst", "Jul", "Long", "South", "tzdata.zi"};
    size_t i;

    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    tu_write_file(dir, "tzdata.zi",
                  "# version test\nZ AllDst -5 - EST\nZ Jul 2 - XXX\nZ Long 0 - STD\n"
                  "Z South 0 - X\nR X 1 2 - - - - -\n");
    /*
     * "EST5EDT4,0/0,J365/25" is DST all year (RFC 8536 3.3.1): DST starts on day 0 at
     * 00:00 EST and ends after 25:00 EDT on 31 December, which is the next start.
     */
    write_rule_zone(dir, "AllDst", -5 * 3600, "EST5EDT4,0/0,J365/25");
    /*
     * "XXX-2YYY,J60/-1,300/26": +2 standard, +3 DST by default. J60 is 1 March even in a
     * leap year, so in 2024 DST starts 1 March 00:00 - 1 h = 29 Feb 23:00 +2 = 21:00 UTC.
     * Zero-based day 300 of 2024 (Jan 31 + Feb 29 + ... + Sep 30 = 274 days before
     * 1 Oct) is 27 October; 26:00 +3 is 28 Oct 02:00 +3 = 27 Oct 23:00 UTC. In 2023 (not
     * leap) J60 is 1 March too (21:00 UTC on 28 Feb), day 300 is 28 October, so DST ends
     * 29 Oct 02:00 +3 = 28 Oct 23:00 UTC.
     */
    write_rule_zone(dir, "Jul", 2 * 3600, "XXX-2YYY,J60/-1,300/26");
    /*
     * "STD0DST,M3.1.0/167,M10.1.0/-2": the first Sunday of March 2023 is the 5th;
     * +167 h is 11 March 23:00 UTC. The first Sunday of October 2023 is the 1st; -2 h
     * is 30 September 22:00 +1 = 21:00 UTC.
     */
    write_rule_zone(dir, "Long", 0, "STD0DST,M3.1.0/167,M10.1.0/-2");
    /*
     * "<-03>3<-02>,M10.5.0/0,M2.3.0/0": southern hemisphere, -3 standard, -2 DST (the
     * default one hour). The last Sunday of October 2023 is the 29th (1 Oct was a
     * Sunday): 00:00 -3 = 03:00 UTC. The third Sunday of February 2024 is the 18th
     * (4th, 11th, 18th: 1 Feb 2024 was a Thursday): 00:00 -2 = 02:00 UTC.
     */
    write_rule_zone(dir, "South", -3 * 3600, "<-03>3<-02>,M10.5.0/0,M2.3.0/0");

    db = up_tzdb_open(dir, tu_utc(2023, 6, 1, 0, 0, 0), tu_utc(2023, 6, 10, 0, 0, 0), err,
                      sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    /* Only Z lines name zones; the R line's "X" is a rule name. */
    CU_ASSERT_FALSE(up_tzdb_known(db, "X"));

    tz = zone(db, "AllDst");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tz);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 1, 1, 0, 30, 0)), -4 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 6, 15, 0, 0, 0)), -4 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 12, 31, 23, 0, 0)), -4 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2024, 1, 1, 5, 0, 0)), -4 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2024, 12, 31, 12, 0, 0)), -4 * H);
    EXPECT(up_tz_local_to_utc(tz, WALL(2024, 1, 1, 0, 30, 0)), tu_utc(2024, 1, 1, 4, 30, 0));

    tz = zone(db, "Jul");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tz);
    EXPECT(up_tz_offset_at(tz, tu_utc(2024, 2, 29, 20, 59, 59)), 2 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2024, 2, 29, 21, 0, 0)), 3 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2024, 10, 27, 22, 59, 59)), 3 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2024, 10, 27, 23, 0, 0)), 2 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 2, 28, 20, 59, 59)), 2 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 2, 28, 21, 0, 0)), 3 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 10, 28, 22, 59, 59)), 3 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 10, 28, 23, 0, 0)), 2 * H);
    /* Gap 23:00-24:00 on 29 Feb 2024: 23:30 read with +2 is 21:30 UTC. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2024, 2, 29, 23, 30, 0)), tu_utc(2024, 2, 29, 21, 30, 0));
    /* Overlap 01:00-02:00 on 28 Oct 2024: 01:30 with +3 is 22:30 UTC on the 27th. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2024, 10, 28, 1, 30, 0)), tu_utc(2024, 10, 27, 22, 30, 0));
    EXPECT(up_tz_local_to_utc(tz, WALL(2024, 10, 28, 2, 0, 0)), tu_utc(2024, 10, 28, 0, 0, 0));

    tz = zone(db, "Long");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tz);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 3, 11, 22, 59, 59)), 0);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 3, 11, 23, 0, 0)), 1 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 9, 30, 20, 59, 59)), 1 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 9, 30, 21, 0, 0)), 0);
    /* Gap 23:00-24:00 on 11 March: 23:30 read with +0. Overlap 21:00-22:00 on 30 Sep. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 3, 11, 23, 30, 0)), tu_utc(2023, 3, 11, 23, 30, 0));
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 9, 30, 21, 30, 0)), tu_utc(2023, 9, 30, 20, 30, 0));

    tz = zone(db, "South");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tz);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 10, 29, 2, 59, 59)), -3 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 10, 29, 3, 0, 0)), -2 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2024, 1, 1, 0, 0, 0)), -2 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2024, 2, 18, 1, 59, 59)), -2 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2024, 2, 18, 2, 0, 0)), -3 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2023, 6, 1, 0, 0, 0)), -3 * H);
    /* Gap 00:00-01:00 on 29 Oct: 00:30 read with -3 is 03:30 UTC. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2023, 10, 29, 0, 30, 0)), tu_utc(2023, 10, 29, 3, 30, 0));
    /* Overlap 23:00-24:00 on 17 Feb 2024: 23:30 with -2 is 01:30 UTC on the 18th. */
    EXPECT(up_tz_local_to_utc(tz, WALL(2024, 2, 17, 23, 30, 0)), tu_utc(2024, 2, 18, 1, 30, 0));
    up_tzdb_free(db);
    for (i = 0; i < sizeof files / sizeof files[0]; i++)
        remove_in(dir, files[i]);
    CU_ASSERT_EQUAL(rmdir(dir), 0);
}

/* TZif v1 files, corrupt files and the fallback name check without tzdata.zi. */
static void test_tzif_files(void)
{
    /* +1 h until 1e9 s (2001-09-09 01:46:40 UTC), +2 h until 1.1e9 s, +1 h, +2 h from 1.2e9. */
    static const int64_t times[] = {1000000000, 1100000000, 1200000000};
    static const unsigned char idx[] = {1, 0, 1};
    static const int32_t offs[] = {3600, 7200};
    static const char *const files[] = {"V1", "Text", "Bad", "Huge", "Trunc", "BadFooter", "Mixed"};
    char dir[256], err[256], path[512];
    unsigned char hdr[64];
    struct up_tzdb *db;
    const struct up_tz *tz;
    FILE *f;
    int64_t t;
    size_t i;

    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    write_tzif(dir, "V1", 1, 3, times, idx, 2, offs, "");
    tu_write_file(dir, "Text", "this is not a TZif file\n");
    tu_write_file(dir, "Bad", "TZif2 but nothing follows");
    /* A header claiming 2^32-1 transitions must be refused, not allocated. */
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr, "TZif", 4);
    memset(hdr + 32, 0xff, 4);
    hdr[39] = 1;
    hdr[43] = 4;
    snprintf(path, sizeof path, "%s/Huge", dir);
    f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(hdr, 1, 44, f), 44);
    CU_ASSERT_EQUAL(fclose(f), 0);
    /* A v1 file cut in the middle of its transition times. */
    write_tzif(dir, "Trunc", 1, 3, times, idx, 2, offs, "");
    snprintf(path, sizeof path, "%s/Trunc", dir);
    CU_ASSERT_EQUAL(truncate(path, 50), 0);
    write_rule_zone(dir, "BadFooter", 0, "EST5EDT,M3.2.0");
    /* v2 table (+1 h, then +2 h from 1e9) followed by a fixed footer of +3 h. */
    write_tzif(dir, "Mixed", 2, 1, times, idx, 2, offs, "<+03>-3");

    /* No tzdata.zi: names are files that start with "TZif". */
    db = up_tzdb_open(dir, 0, INT64_C(1100000000) * UP_USEC_PER_SEC, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    CU_ASSERT_TRUE(up_tzdb_known(db, "V1"));
    CU_ASSERT_TRUE(up_tzdb_known(db, "Bad"));
    CU_ASSERT_FALSE(up_tzdb_known(db, "Text"));
    CU_ASSERT_FALSE(up_tzdb_known(db, "Nowhere"));
    CU_ASSERT_FALSE(up_tzdb_known(db, "../V1"));
    CU_ASSERT_FALSE(up_tzdb_known(db, ""));
    CU_ASSERT_FALSE(up_tzdb_known(db, "."));
    CU_ASSERT_FALSE(up_tzdb_known(db, "v1"));

    tz = zone(db, "V1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tz);
    CU_ASSERT_PTR_EQUAL(tz, zone(db, "V1"));
    t = INT64_C(1000000000) * UP_USEC_PER_SEC;
    EXPECT(up_tz_offset_at(tz, tu_utc(1, 1, 1, 0, 0, 0)), 1 * H);
    EXPECT(up_tz_offset_at(tz, t - 1), 1 * H);
    EXPECT(up_tz_offset_at(tz, t), 2 * H);
    EXPECT(up_tz_offset_at(tz, INT64_C(1150000000) * UP_USEC_PER_SEC), 1 * H);
    /* Without a footer the last type stays in force for ever. */
    EXPECT(up_tz_offset_at(tz, tu_utc(9999, 1, 1, 0, 0, 0)), 2 * H);
    /* Wall times t+1h..t+2h are a gap: t + 1.5 h is read with +1 h, giving t + 30 min. */
    EXPECT(up_tz_local_to_utc(tz, t + 90 * M), t + 30 * M);
    EXPECT(up_tz_local_to_utc(tz, t + 2 * H), t);
    /* At 1.1e9 s the clock goes back from +2 h to +1 h: t2 + 1.5 h is read with +2 h. */
    t = INT64_C(1100000000) * UP_USEC_PER_SEC;
    EXPECT(up_tz_local_to_utc(tz, t + 90 * M), t - 30 * M);
    EXPECT(up_tz_local_to_utc(tz, t + 2 * H), t + 1 * H);

    tz = zone(db, "Mixed");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tz);
    t = INT64_C(1000000000) * UP_USEC_PER_SEC;
    EXPECT(up_tz_offset_at(tz, t - 1), 1 * H);
    EXPECT(up_tz_offset_at(tz, t), 2 * H);
    /* The footer takes over right after the last transition. */
    EXPECT(up_tz_offset_at(tz, t + UP_USEC_PER_SEC), 3 * H);
    EXPECT(up_tz_offset_at(tz, tu_utc(2100, 1, 1, 0, 0, 0)), 3 * H);

    for (i = 2; i < sizeof files / sizeof files[0] - 1; i++) {
        err[0] = 0;
        CU_ASSERT_PTR_NULL(up_tzdb_zone(db, files[i], err, sizeof err));
        CU_ASSERT(err[0] != 0);
    }
    CU_ASSERT_PTR_NULL(up_tzdb_zone(db, "Text", err, sizeof err));
    up_tzdb_free(db);

    /* A directory that does not exist is an error with a message. */
    snprintf(path, sizeof path, "%s/none", dir);
    err[0] = 0;
    CU_ASSERT_PTR_NULL(up_tzdb_open(path, 0, 0, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, path));

    for (i = 0; i < sizeof files / sizeof files[0]; i++)
        remove_in(dir, files[i]);
    CU_ASSERT_EQUAL(rmdir(dir), 0);
}

int test_tz_add(void)
{
    CU_pSuite s = CU_add_suite("tz", NULL, NULL);

    if (!s)
        return CU_get_error();
    if (!CU_add_test(s, "America/Chicago 2023 changes", test_chicago) ||
        !CU_add_test(s, "Australia/Lord_Howe 30-minute changes", test_lord_howe) ||
        !CU_add_test(s, "Pacific/Chatham +12:45/+13:45", test_chatham) ||
        !CU_add_test(s, "Asia/Kolkata fixed +05:30", test_kolkata) ||
        !CU_add_test(s, "names, links and the zone cache", test_names) ||
        !CU_add_test(s, "footer years 2150, 1 and 9999", test_far_years) ||
        !CU_add_test(s, "fast window agrees with slow path", test_ranges) ||
        !CU_add_test(s, "POSIX rules of synthetic zones", test_posix_rules) ||
        !CU_add_test(s, "TZif v1, corrupt files, fallback names", test_tzif_files))
        return CU_get_error();
    return CUE_SUCCESS;
}
