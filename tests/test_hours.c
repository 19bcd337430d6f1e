/* Business hours to UTC intervals in real zones, DST changes worked out by hand. */
#include <stdio.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "test_util.h"
#include "up_hours.h"
#include "up_time.h"
#include "up_uptime.h"

#define H(x) ((int64_t)(x)*UP_USEC_PER_HOUR)
#define M(x) ((int64_t)(x)*UP_USEC_PER_MIN)

static struct up_tzdb *db;

static int suite_init(void)
{
    char err[256];
    /* The range spans every case below; zones answer outside it too. */
    db = up_tzdb_open(NULL, tu_utc(2023, 1, 1, 0, 0, 0), tu_utc(2023, 12, 31, 0, 0, 0), err,
                      sizeof err);
    if (!db)
        fprintf(stderr, "tzdb: %s\n", err);
    return db ? 0 : -1;
}

static int suite_clean(void)
{
    up_tzdb_free(db);
    return 0;
}

static const struct up_tz *zone(const char *name)
{
    char err[256];
    const struct up_tz *tz = up_tzdb_zone(db, name, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tz);
    return tz;
}

static void build(const struct up_hours_row *rows, size_t n, const char *tzname, int64_t now,
                  struct up_intervals *out)
{
    CU_ASSERT_EQUAL_FATAL(up_hours_intervals(rows, n, zone(tzname), now - UP_USEC_PER_WEEK, now, out),
                          UP_OK);
}

static int64_t total_in(const struct up_intervals *iv, int64_t lo, int64_t hi)
{
    int64_t sum = 0;
    size_t i;
    for (i = 0; i < iv->n; i++) {
        int64_t a = iv->v[i].lo > lo ? iv->v[i].lo : lo;
        int64_t b = iv->v[i].hi < hi ? iv->v[i].hi : hi;
        if (b > a)
            sum += b - a;
    }
    return sum;
}

/* Chicago, spring forward on Sunday 2023-03-12 at 02:00 CST (08:00 UTC) to 03:00 CDT. */
static void test_chicago_spring_week(void)
{
    struct up_hours_row rows[7];
    struct up_intervals iv = {0};
    int64_t now = tu_utc(2023, 3, 15, 12, 0, 0); /* Wednesday 07:00 CDT */
    int d;

    for (d = 0; d < 7; d++) {
        rows[d].day = d;
        rows[d].start_us = H(1);
        rows[d].end_us = H(4);
    }
    build(rows, 7, "America/Chicago", now, &iv);
    /* Local dates 03-07 (the day before 03-08 06:00 CST) through 03-15. */
    CU_ASSERT_EQUAL_FATAL(iv.n, 9);
    /* Before the change: 01:00-04:00 CST = 07:00-10:00 UTC. */
    CU_ASSERT_EQUAL(iv.v[0].lo, tu_utc(2023, 3, 7, 7, 0, 0));
    CU_ASSERT_EQUAL(iv.v[0].hi, tu_utc(2023, 3, 7, 10, 0, 0));
    /* The day itself: 01:00 CST = 07:00 UTC to 04:00 CDT = 09:00 UTC, two hours. */
    CU_ASSERT_EQUAL(iv.v[5].lo, tu_utc(2023, 3, 12, 7, 0, 0));
    CU_ASSERT_EQUAL(iv.v[5].hi, tu_utc(2023, 3, 12, 9, 0, 0));
    /* After: 01:00-04:00 CDT = 06:00-09:00 UTC. */
    CU_ASSERT_EQUAL(iv.v[6].lo, tu_utc(2023, 3, 13, 6, 0, 0));
    CU_ASSERT_EQUAL(iv.v[8].hi, tu_utc(2023, 3, 15, 9, 0, 0));
    /* Week [03-08 12:00, 03-15 12:00) UTC: 3 x 3 h (9th-11th) + 2 h + 3 x 3 h (13th-15th). */
    CU_ASSERT_EQUAL(total_in(&iv, now - UP_USEC_PER_WEEK, now), H(20));
    up_intervals_free(&iv);
}

/* A row inside the gap comes out backwards (08:30-08:15 UTC) and adds nothing. */
static void test_chicago_gap_row_is_empty(void)
{
    struct up_hours_row row = {6, H(2) + M(30), H(3) + M(15)};
    struct up_intervals iv = {0};

    build(&row, 1, "America/Chicago", tu_utc(2023, 3, 15, 12, 0, 0), &iv);
    CU_ASSERT_EQUAL(iv.n, 0);
    up_intervals_free(&iv);
}

/* Chicago, fall back on Sunday 2023-11-05 at 02:00 CDT (07:00 UTC) to 01:00 CST. */
static void test_chicago_fall_week(void)
{
    struct up_hours_row rows[2] = {{6, H(1), H(3)}, {0, H(1), H(3)}};
    struct up_intervals iv = {0};
    int64_t now = tu_utc(2023, 11, 8, 12, 0, 0);

    build(rows, 2, "America/Chicago", now, &iv);
    /* Local dates 10-31 .. 11-08 hold one Sunday (11-05) and one Monday (11-06). */
    CU_ASSERT_EQUAL_FATAL(iv.n, 2);
    /* 01:00 is ambiguous: fold=0 takes 01:00 CDT = 06:00 UTC; 03:00 CST = 09:00 UTC. */
    CU_ASSERT_EQUAL(iv.v[0].lo, tu_utc(2023, 11, 5, 6, 0, 0));
    CU_ASSERT_EQUAL(iv.v[0].hi, tu_utc(2023, 11, 5, 9, 0, 0));
    /* Monday 11-06 01:00-03:00 CST = 07:00-09:00 UTC. */
    CU_ASSERT_EQUAL(iv.v[1].lo, tu_utc(2023, 11, 6, 7, 0, 0));
    CU_ASSERT_EQUAL(iv.v[1].hi, tu_utc(2023, 11, 6, 9, 0, 0));
    CU_ASSERT_EQUAL(total_in(&iv, now - UP_USEC_PER_WEEK, now), H(5));
    up_intervals_free(&iv);
}

/* Kolkata, UTC+05:30, an overnight row Friday 22:00 to Saturday 02:00. */
static void test_kolkata_overnight(void)
{
    struct up_hours_row row = {4, H(22), H(2)};
    struct up_intervals iv = {0};
    int64_t now = tu_utc(2023, 3, 12, 0, 0, 0);

    build(&row, 1, "Asia/Kolkata", now, &iv);
    /* Local dates 03-04 .. 03-12 hold one Friday, 03-10. */
    CU_ASSERT_EQUAL_FATAL(iv.n, 1);
    /* 2023-03-10 22:00 IST = 16:30 UTC; 03-11 02:00 IST = 03-10 20:30 UTC. */
    CU_ASSERT_EQUAL(iv.v[0].lo, tu_utc(2023, 3, 10, 16, 30, 0));
    CU_ASSERT_EQUAL(iv.v[0].hi, tu_utc(2023, 3, 10, 20, 30, 0));
    up_intervals_free(&iv);
}

/* Lord Howe: +11 until 2023-04-02 02:00, then +10:30; a 24 h row that day lasts 24.5 h. */
static void test_lord_howe_24h_row(void)
{
    struct up_hours_row row = {6, 0, 0};
    struct up_intervals iv = {0};
    int64_t now = tu_utc(2023, 4, 3, 0, 0, 0);

    build(&row, 1, "Australia/Lord_Howe", now, &iv);
    /* Sunday 03-26 00:00 +11 = 03-25 13:00 UTC to 03-27 00:00 +11 = 03-26 13:00 UTC; Sunday
     * 04-02 00:00 +11 = 04-01 13:00 UTC to 04-03 00:00 +10:30 = 04-02 13:30 UTC. */
    CU_ASSERT_EQUAL_FATAL(iv.n, 2);
    CU_ASSERT_EQUAL(iv.v[0].lo, tu_utc(2023, 3, 25, 13, 0, 0));
    CU_ASSERT_EQUAL(iv.v[0].hi, tu_utc(2023, 3, 26, 13, 0, 0));
    CU_ASSERT_EQUAL(iv.v[1].lo, tu_utc(2023, 4, 1, 13, 0, 0));
    CU_ASSERT_EQUAL(iv.v[1].hi - iv.v[1].lo, H(24) + M(30));
    up_intervals_free(&iv);
}

/* Chatham: +12:45 until 2023-09-24 02:45, then +13:45. */
static void test_chatham_spring(void)
{
    struct up_hours_row row = {6, H(2), H(4)};
    struct up_intervals iv = {0};
    int64_t now = tu_utc(2023, 9, 25, 0, 0, 0);

    build(&row, 1, "Pacific/Chatham", now, &iv);
    /* Local dates 09-17 .. 09-25 hold Sundays 09-17 (standard time all day: 02:00-04:00
     * +12:45 = 09-16 13:15-15:15 UTC) and 09-24: 02:00 +12:45 = 09-23 13:15 UTC to
     * 04:00 +13:45 = 09-23 14:15 UTC, one hour of business. */
    CU_ASSERT_EQUAL_FATAL(iv.n, 2);
    CU_ASSERT_EQUAL(iv.v[0].lo, tu_utc(2023, 9, 16, 13, 15, 0));
    CU_ASSERT_EQUAL(iv.v[0].hi, tu_utc(2023, 9, 16, 15, 15, 0));
    CU_ASSERT_EQUAL(iv.v[1].lo, tu_utc(2023, 9, 23, 13, 15, 0));
    CU_ASSERT_EQUAL(iv.v[1].hi, tu_utc(2023, 9, 23, 14, 15, 0));
    up_intervals_free(&iv);
}

/* Overlapping and touching rows are counted once. */
static void test_overlapping_rows_union(void)
{
    struct up_hours_row rows[4] = {
        {2, H(9), H(12)}, {2, H(11), H(14)}, {2, H(14), H(15)}, {2, H(10), H(11)}};
    struct up_intervals iv = {0};
    int64_t now = tu_utc(2023, 1, 26, 0, 0, 0); /* Thursday; Wednesday is 01-25 */

    build(rows, 4, "UTC", now, &iv);
    CU_ASSERT_EQUAL_FATAL(iv.n, 2); /* Wednesdays 01-18 and 01-25 */
    CU_ASSERT_EQUAL(iv.v[1].lo, tu_utc(2023, 1, 25, 9, 0, 0));
    CU_ASSERT_EQUAL(iv.v[1].hi, tu_utc(2023, 1, 25, 15, 0, 0));
    up_intervals_free(&iv);
}

static void test_no_rows_is_always_open(void)
{
    struct up_intervals iv = {0};

    build(NULL, 0, "America/Chicago", tu_utc(2023, 1, 26, 0, 0, 0), &iv);
    CU_ASSERT_EQUAL_FATAL(iv.n, 1);
    CU_ASSERT_EQUAL(iv.v[0].lo, INT64_MIN);
    CU_ASSERT_EQUAL(iv.v[0].hi, INT64_MAX);
    up_intervals_free(&iv);
}

/* SPEC §4 from the rows: every day 09:00-17:00 in Chicago. */
static void test_spec_example_from_rows(void)
{
    struct up_hours_row rows[7];
    struct up_intervals iv = {0};
    struct up_poll p[2] = {{tu_utc(2023, 1, 25, 17, 5, 0), 0}, {tu_utc(2023, 1, 25, 17, 50, 0), 1}};
    int64_t now = tu_utc(2023, 1, 25, 18, 13, 22);
    struct up_result r;
    int d;

    for (d = 0; d < 7; d++) {
        rows[d].day = d;
        rows[d].start_us = H(9);
        rows[d].end_us = H(17);
    }
    build(rows, 7, "America/Chicago", now, &iv);
    up_uptime_compute(p, 2, iv.v, iv.n, now, &r);
    CU_ASSERT_EQUAL(r.up[UP_WIN_HOUR], 1402 * UP_USEC_PER_SEC);
    CU_ASSERT_EQUAL(r.down[UP_WIN_HOUR], 2198 * UP_USEC_PER_SEC);
    CU_ASSERT_EQUAL(r.down[UP_WIN_DAY], (8 * 3600 - 1402) * UP_USEC_PER_SEC);
    CU_ASSERT_EQUAL(r.down[UP_WIN_WEEK], (56 * 3600 - 1402) * UP_USEC_PER_SEC);
    up_intervals_free(&iv);
}

int test_hours_add(void)
{
    CU_pSuite s = CU_add_suite("hours", suite_init, suite_clean);

    if (!s || !CU_add_test(s, "Chicago spring-forward week", test_chicago_spring_week) ||
        !CU_add_test(s, "Chicago gap row is empty", test_chicago_gap_row_is_empty) ||
        !CU_add_test(s, "Chicago fall-back week", test_chicago_fall_week) ||
        !CU_add_test(s, "Kolkata overnight row", test_kolkata_overnight) ||
        !CU_add_test(s, "Lord Howe 24 h row", test_lord_howe_24h_row) ||
        !CU_add_test(s, "Chatham spring forward", test_chatham_spring) ||
        !CU_add_test(s, "overlapping rows", test_overlapping_rows_union) ||
        !CU_add_test(s, "no rows: 24x7", test_no_rows_is_always_open) ||
        !CU_add_test(s, "SPEC 4 from rows", test_spec_example_from_rows))
        return CU_get_error();
    return CUE_SUCCESS;
}
