/* The uptime maths on hand-built intervals (no time zones involved). */
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "test_util.h"
#include "up_time.h"
#include "up_uptime.h"

#define SEC(x) ((int64_t)(x)*UP_USEC_PER_SEC)

/* Business hours 15:00-23:00 UTC (09:00-17:00 Chicago in January) on 2023-01-17..25. */
static size_t january_hours(struct up_interval *iv)
{
    int d;
    for (d = 17; d <= 25; d++) {
        iv[d - 17].lo = tu_utc(2023, 1, d, 15, 0, 0);
        iv[d - 17].hi = tu_utc(2023, 1, d, 23, 0, 0);
    }
    return 9;
}

/* SPEC §4, in integer microseconds. */
static void test_spec_worked_example(void)
{
    struct up_interval iv[9];
    size_t niv = january_hours(iv);
    struct up_poll p[2] = {{tu_utc(2023, 1, 25, 17, 5, 0), 0}, {tu_utc(2023, 1, 25, 17, 50, 0), 1}};
    int64_t now = tu_utc(2023, 1, 25, 18, 13, 22);
    struct up_result r;

    up_uptime_compute(p, 2, iv, niv, now, &r);
    /* Hour: active 17:50:00-18:13:22 = 1402 s; inactive 17:13:22-17:50 = 2198 s. */
    CU_ASSERT_EQUAL(r.up[UP_WIN_HOUR], SEC(1402));
    CU_ASSERT_EQUAL(r.down[UP_WIN_HOUR], SEC(2198));
    /* Day: 8 h of business time (17198 s on the 24th, 11602 s on the 25th); up 1402 s. */
    CU_ASSERT_EQUAL(r.up[UP_WIN_DAY], SEC(1402));
    CU_ASSERT_EQUAL(r.down[UP_WIN_DAY], SEC(8 * 3600 - 1402));
    /* Week: 7 x 8 h = 56 h; inactive extends back to the window's start. */
    CU_ASSERT_EQUAL(r.up[UP_WIN_WEEK], SEC(1402));
    CU_ASSERT_EQUAL(r.down[UP_WIN_WEEK], SEC(56 * 3600 - 1402));
}

static void test_polls_only_before_window(void)
{
    struct up_interval all = {INT64_MIN, INT64_MAX};
    int64_t now = tu_utc(2023, 1, 25, 0, 0, 0);
    struct up_poll p[2] = {{now - SEC(30 * 86400), 0}, {now - SEC(8 * 86400), 1}};
    struct up_result r;

    /* The carry-in poll (active, 8 days before now) holds through the whole week. */
    up_uptime_compute(p, 2, &all, 1, now, &r);
    CU_ASSERT_EQUAL(r.up[UP_WIN_HOUR], SEC(3600));
    CU_ASSERT_EQUAL(r.up[UP_WIN_DAY], SEC(86400));
    CU_ASSERT_EQUAL(r.up[UP_WIN_WEEK], SEC(7 * 86400));
    CU_ASSERT_EQUAL(r.down[UP_WIN_WEEK], 0);
}

static void test_single_poll_extends_both_ways(void)
{
    struct up_interval all = {INT64_MIN, INT64_MAX};
    int64_t now = tu_utc(2023, 1, 25, 0, 0, 0);
    struct up_poll p = {now - SEC(2 * 86400), 0};
    struct up_result r;

    up_uptime_compute(&p, 1, &all, 1, now, &r);
    CU_ASSERT_EQUAL(r.down[UP_WIN_WEEK], SEC(7 * 86400));
    CU_ASSERT_EQUAL(r.up[UP_WIN_WEEK], 0);
    CU_ASSERT_EQUAL(r.down[UP_WIN_HOUR], SEC(3600));
}

static void test_duplicate_timestamps_inactive_wins(void)
{
    struct up_interval all = {INT64_MIN, INT64_MAX};
    int64_t now = tu_utc(2023, 1, 25, 12, 0, 0);
    /* Out of order, and two polls at 11:30: active and inactive. */
    struct up_poll p[4] = {
        {now - SEC(1800), 1}, {now - SEC(7200), 1}, {now - SEC(1800), 0}, {now - SEC(1800), 1}};
    struct up_result r;
    size_t n = up_polls_normalize(p, 4);

    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(p[0].ts, now - SEC(7200));
    CU_ASSERT_EQUAL(p[1].active, 0);
    up_uptime_compute(p, n, &all, 1, now, &r);
    /* Hour: 11:00-11:30 active (from 10:00), 11:30-12:00 inactive. */
    CU_ASSERT_EQUAL(r.up[UP_WIN_HOUR], SEC(1800));
    CU_ASSERT_EQUAL(r.down[UP_WIN_HOUR], SEC(1800));
}

/* Already in order (the usual case, taken without sorting): duplicates at the start, in
 * the middle and at the end merge with inactive winning; a strictly ascending list is
 * left as it is. */
static void test_normalize_in_order(void)
{
    struct up_poll a[6] = {{10, 1}, {10, 1}, {20, 1}, {30, 1}, {30, 0}, {40, 1}};
    struct up_poll b[4] = {{10, 1}, {20, 0}, {30, 1}, {30, 0}};
    struct up_poll c[3] = {{5, 0}, {6, 1}, {7, 0}};
    struct up_poll d[2] = {{5, 0}, {5, 1}};
    size_t n;

    n = up_polls_normalize(a, 6);
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT(a[0].ts == 10 && a[0].active == 1);
    CU_ASSERT(a[1].ts == 20 && a[1].active == 1);
    CU_ASSERT(a[2].ts == 30 && a[2].active == 0);
    CU_ASSERT(a[3].ts == 40 && a[3].active == 1);
    n = up_polls_normalize(b, 4);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT(b[1].ts == 20 && b[1].active == 0);
    CU_ASSERT(b[2].ts == 30 && b[2].active == 0);
    n = up_polls_normalize(c, 3);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT(c[0].ts == 5 && c[1].ts == 6 && c[2].ts == 7 && c[1].active == 1);
    n = up_polls_normalize(d, 2);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT(d[0].ts == 5 && d[0].active == 0);
    CU_ASSERT_EQUAL(up_polls_normalize(d, 0), 0);
}

static void test_polls_after_now_ignored(void)
{
    struct up_interval all = {INT64_MIN, INT64_MAX};
    int64_t now = tu_utc(2023, 1, 25, 12, 0, 0);
    struct up_poll p[3] = {{now - SEC(600), 1}, {now, 0}, {now + SEC(60), 0}};
    struct up_result r;

    /* The poll at now starts a segment outside [now - 1h, now); the later one is unseen. */
    up_uptime_compute(p, 3, &all, 1, now, &r);
    CU_ASSERT_EQUAL(r.up[UP_WIN_HOUR], SEC(3600));
    CU_ASSERT_EQUAL(r.down[UP_WIN_HOUR], 0);
    /* Only a poll after now: nothing is known yet, so nothing is measured. */
    up_uptime_compute(p + 2, 1, &all, 1, now, &r);
    CU_ASSERT_EQUAL(r.up[UP_WIN_WEEK] + r.down[UP_WIN_WEEK], 0);
}

static void test_poll_at_window_start_and_gaps(void)
{
    int64_t now = tu_utc(2023, 1, 25, 12, 0, 0);
    /* Business 11:00-11:20 and 11:40-12:30; polls: inactive at 11:00 exactly, active 11:50. */
    struct up_interval iv[2] = {{now - SEC(3600), now - SEC(2400)},
                                {now - SEC(1200), now + SEC(1800)}};
    struct up_poll p[3] = {{now - SEC(7200), 1}, {now - SEC(3600), 0}, {now - SEC(600), 1}};
    struct up_result r;

    up_uptime_compute(p, 3, iv, 2, now, &r);
    /* Inactive 11:00-11:20 and 11:40-11:50 = 30 min; active 11:50-12:00 = 10 min. */
    CU_ASSERT_EQUAL(r.down[UP_WIN_HOUR], SEC(1800));
    CU_ASSERT_EQUAL(r.up[UP_WIN_HOUR], SEC(600));
    /* The day adds nothing more: no business time before 11:00. */
    CU_ASSERT_EQUAL(r.down[UP_WIN_DAY], SEC(1800));
    CU_ASSERT_EQUAL(r.up[UP_WIN_DAY], SEC(600));
}

int test_uptime_add(void)
{
    CU_pSuite s = CU_add_suite("uptime", NULL, NULL);

    if (!s || !CU_add_test(s, "SPEC 4 worked example", test_spec_worked_example) ||
        !CU_add_test(s, "polls only before the window", test_polls_only_before_window) ||
        !CU_add_test(s, "single poll", test_single_poll_extends_both_ways) ||
        !CU_add_test(s, "duplicate timestamps", test_duplicate_timestamps_inactive_wins) ||
        !CU_add_test(s, "polls already in order", test_normalize_in_order) ||
        !CU_add_test(s, "polls after now", test_polls_after_now_ignored) ||
        !CU_add_test(s, "poll at window start", test_poll_at_window_start_and_gaps))
        return CU_get_error();
    return CUE_SUCCESS;
}
