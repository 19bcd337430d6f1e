/* Timestamp and time-of-day parsing per SPEC §1/§5, and calendar maths. */
#include <string.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "up_time.h"

static int ts_ok(const char *s, int64_t *out)
{
    const char *why = NULL;
    int r = up_parse_timestamp(s, strlen(s), out, &why);
    if (r != 0)
        CU_ASSERT_PTR_NOT_NULL(why);
    return r == 0;
}

static int tod_ok(const char *s, int64_t *out)
{
    const char *why = NULL;
    return up_parse_time_of_day(s, strlen(s), out, &why) == 0;
}

static void test_epoch_and_real_values(void)
{
    int64_t v = -1;

    CU_ASSERT_TRUE(ts_ok("1970-01-01 00:00:00 UTC", &v));
    CU_ASSERT_EQUAL(v, 0);
    /* 2023-01-01 is 19358 days after the epoch (1672531200 s); +24 days, 18:13:22 = 65602 s. */
    CU_ASSERT_TRUE(ts_ok("2023-01-25 18:13:22.47922 UTC", &v));
    CU_ASSERT_EQUAL(v, INT64_C(1674670402479220));
    CU_ASSERT_TRUE(ts_ok("2023-01-25T18:13:22.47922Z", &v));
    CU_ASSERT_EQUAL(v, INT64_C(1674670402479220));
    CU_ASSERT_TRUE(ts_ok("2023-01-25T18:13:22.479220+00:00", &v));
    CU_ASSERT_EQUAL(v, INT64_C(1674670402479220));
    CU_ASSERT_TRUE(ts_ok("2023-01-25 18:13:22 UTC", &v));
    CU_ASSERT_EQUAL(v, INT64_C(1674670402000000));
    /* One fraction digit is tenths; six are microseconds. */
    CU_ASSERT_TRUE(ts_ok("2023-01-25 18:13:22.5 UTC", &v));
    CU_ASSERT_EQUAL(v, INT64_C(1674670402500000));
    CU_ASSERT_TRUE(ts_ok("2023-01-25 18:13:22.000001 UTC", &v));
    CU_ASSERT_EQUAL(v, INT64_C(1674670402000001));
    /* Leap day 2024 exists; the extreme years are accepted. */
    CU_ASSERT_TRUE(ts_ok("2024-02-29 00:00:00 UTC", &v));
    CU_ASSERT_TRUE(ts_ok("0001-01-01 00:00:00 UTC", &v));
    CU_ASSERT_EQUAL(v, INT64_C(-719162) * UP_USEC_PER_DAY);
    CU_ASSERT_TRUE(ts_ok("9999-12-31 23:59:59.999999 UTC", &v));
    CU_ASSERT_EQUAL(v, INT64_C(2932897) * UP_USEC_PER_DAY - 1);
}

static void test_rejected_timestamps(void)
{
    static const char *const bad[] = {
        "",
        "2023-01-25",
        "2023-01-25 18:13:22",      /* no zone designator */
        "2023-01-25 18:13:22 utc",  /* UTC must be uppercase */
        "2023-01-25 18:13:22  UTC", /* exactly one space */
        "2023-01-25 18:13:22UTC",
        "2023-01-25 18:13:22. UTC", /* '.' needs digits */
        "2023-01-25 18:13:22.1234567 UTC",
        "2023-01-25 18:13 UTC",   /* seconds are required */
        "2023-1-25 18:13:22 UTC", /* fixed width */
        "2023-01-25 8:13:22 UTC",
        "2023-02-29 00:00:00 UTC", /* 2023 is not a leap year */
        "2023-04-31 00:00:00 UTC",
        "2023-13-01 00:00:00 UTC",
        "2023-00-10 00:00:00 UTC",
        "2023-01-00 00:00:00 UTC",
        "0000-01-01 00:00:00 UTC", /* years 0001-9999 */
        "2023-01-25 24:00:00 UTC", /* no hour 24 */
        "2023-01-25 23:60:00 UTC",
        "2023-01-25 23:59:60 UTC", /* no leap second */
        "2023-01-25t18:13:22Z",    /* 'T' uppercase */
        "2023-01-25T18:13:22z",
        "2023-01-25T18:13:22-00:00", /* only +00:00 */
        "2023-01-25T18:13:22+01:00",
        "2023-01-25T18:13:22",
        "2023-01-25T18:13:22 UTC",
        "2023-01-25 18:13:22Z",
        "+023-01-25 18:13:22 UTC",
        "2023-01-25 18:13:22.1x UTC",
        "2023-01-25 18:13:22 UTC x",
        "２023-01-25 18:13:22 UTC", /* non-ASCII digit */
    };
    size_t i;
    int64_t v;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = NULL;
        int r = up_parse_timestamp(bad[i], strlen(bad[i]), &v, &why);
        if (r == 0)
            CU_FAIL_FATAL("a malformed timestamp was accepted");
        CU_ASSERT_PTR_NOT_NULL(why);
    }
}

static void test_time_of_day(void)
{
    int64_t v = -1;

    CU_ASSERT_TRUE(tod_ok("00:00", &v));
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_TRUE(tod_ok("09:00", &v));
    CU_ASSERT_EQUAL(v, INT64_C(9) * UP_USEC_PER_HOUR);
    CU_ASSERT_TRUE(tod_ok("23:59:59", &v));
    CU_ASSERT_EQUAL(v, UP_USEC_PER_DAY - UP_USEC_PER_SEC);
    CU_ASSERT_TRUE(tod_ok("23:59:59.999999", &v));
    CU_ASSERT_EQUAL(v, UP_USEC_PER_DAY - 1);
    CU_ASSERT_TRUE(tod_ok("10:30:15.25", &v));
    CU_ASSERT_EQUAL(v, (INT64_C(10) * 3600 + 30 * 60 + 15) * UP_USEC_PER_SEC + 250000);

    CU_ASSERT_FALSE(tod_ok("9:00", &v));
    CU_ASSERT_FALSE(tod_ok("24:00", &v));
    CU_ASSERT_FALSE(tod_ok("24:00:00", &v));
    CU_ASSERT_FALSE(tod_ok("12:60", &v));
    CU_ASSERT_FALSE(tod_ok("12:00:60", &v));
    CU_ASSERT_FALSE(tod_ok("12:00:0", &v));
    CU_ASSERT_FALSE(tod_ok("12:00:00.", &v));
    CU_ASSERT_FALSE(tod_ok("12:00:00.1234567", &v));
    CU_ASSERT_FALSE(tod_ok("12:00 PM", &v));
    CU_ASSERT_FALSE(tod_ok("1200", &v));
    CU_ASSERT_FALSE(tod_ok("", &v));
    CU_ASSERT_FALSE(tod_ok("12.00", &v));
}

static void test_calendar(void)
{
    int64_t y;
    int m, d;

    CU_ASSERT_EQUAL(up_days_from_civil(1970, 1, 1), 0);
    CU_ASSERT_EQUAL(up_days_from_civil(2023, 1, 1), 19358);
    CU_ASSERT_EQUAL(up_days_from_civil(2000, 3, 1), 11017);
    up_civil_from_days(19382, &y, &m, &d);
    CU_ASSERT_TRUE(y == 2023 && m == 1 && d == 25);
    up_civil_from_days(-719162, &y, &m, &d);
    CU_ASSERT_TRUE(y == 1 && m == 1 && d == 1);
    /* 1970-01-01 Thursday (3); 2023-01-25 Wednesday (2); 2023-03-12 Sunday (6). */
    CU_ASSERT_EQUAL(up_weekday(0), 3);
    CU_ASSERT_EQUAL(up_weekday(19382), 2);
    CU_ASSERT_EQUAL(up_weekday(up_days_from_civil(2023, 3, 12)), 6);
    CU_ASSERT_EQUAL(up_weekday(-1), 2);
    CU_ASSERT_EQUAL(up_days_of(-1), -1);
    CU_ASSERT_EQUAL(up_days_of(UP_USEC_PER_DAY), 1);
}

static void test_format(void)
{
    char buf[40];

    CU_ASSERT_EQUAL(up_format_timestamp(INT64_C(1674670402479220), buf, sizeof buf), 30);
    CU_ASSERT_STRING_EQUAL(buf, "2023-01-25 18:13:22.479220 UTC");
    CU_ASSERT_EQUAL(up_format_timestamp(0, buf, 10), -1);
}

int test_time_add(void)
{
    CU_pSuite s = CU_add_suite("time", NULL, NULL);

    if (!s || !CU_add_test(s, "epoch and real values", test_epoch_and_real_values) ||
        !CU_add_test(s, "rejected timestamps", test_rejected_timestamps) ||
        !CU_add_test(s, "time of day", test_time_of_day) ||
        !CU_add_test(s, "calendar", test_calendar) || !CU_add_test(s, "format", test_format))
        return CU_get_error();
    return CUE_SUCCESS;
}
