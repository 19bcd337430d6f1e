/*
 * up_clock: the one formatter of instants and times of day, and the clock. Expected texts
 * were worked out by hand (2023-01-25 18:13:22.479220 UTC is 1674670402479220 µs, see
 * test_time.c) and, for the far years, checked against GNU date -u -d @SECONDS.
 */
#include <string.h>
#include <time.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "up_clock.h"
#include "up_time.h"

#define T0 INT64_C(1674670402479220) /* 2023-01-25 18:13:22.479220 UTC */

static const struct {
    int64_t us;
    enum up_time_style style;
    enum up_time_frac frac;
    const char *want;
} cases[] = {
    {T0, UP_TIME_SPEC, UP_FRAC_US, "2023-01-25 18:13:22.479220 UTC"},
    {T0, UP_TIME_ISO_Z, UP_FRAC_MS, "2023-01-25T18:13:22.479Z"},
    {T0, UP_TIME_ISO_PLUS, UP_FRAC_TRIM, "2023-01-25T18:13:22.47922+00:00"},
    {T0, UP_TIME_SPACE, UP_FRAC_NONE, "2023-01-25 18:13:22"},
    {T0, UP_TIME_T, UP_FRAC_US, "2023-01-25T18:13:22.479220"},
    {T0, UP_TIME_SPEC, UP_FRAC_TRIM, "2023-01-25 18:13:22.47922 UTC"},
    /* A whole second: TRIM writes no fraction at all, the others their zeros. */
    {T0 - 479220, UP_TIME_SPEC, UP_FRAC_TRIM, "2023-01-25 18:13:22 UTC"},
    {T0 - 479220, UP_TIME_ISO_Z, UP_FRAC_MS, "2023-01-25T18:13:22.000Z"},
    {T0 - 479219, UP_TIME_SPEC, UP_FRAC_TRIM, "2023-01-25 18:13:22.000001 UTC"},
    /* Fractions are cut, never rounded up into the next second. */
    {T0 + 520779, UP_TIME_ISO_Z, UP_FRAC_MS, "2023-01-25T18:13:22.999Z"},
    {T0 + 520779, UP_TIME_SPACE, UP_FRAC_NONE, "2023-01-25 18:13:22"},
    {0, UP_TIME_ISO_Z, UP_FRAC_MS, "1970-01-01T00:00:00.000Z"},
    /* Before the epoch the day is floored: -1 µs is the last instant of 1969. */
    {-1, UP_TIME_SPEC, UP_FRAC_US, "1969-12-31 23:59:59.999999 UTC"},
    {-1, UP_TIME_ISO_Z, UP_FRAC_MS, "1969-12-31T23:59:59.999Z"},
    /* 253402300800 s is 10000-01-01; year 0 and -1 as printf's %04lld writes them. */
    {INT64_C(253402300800000000) - 1, UP_TIME_SPEC, UP_FRAC_US, "9999-12-31 23:59:59.999999 UTC"},
    {INT64_C(253402300800000000), UP_TIME_SPEC, UP_FRAC_NONE, "10000-01-01 00:00:00 UTC"},
    {INT64_C(-62167219200000000), UP_TIME_ISO_Z, UP_FRAC_NONE, "0000-01-01T00:00:00Z"},
    {INT64_C(-62198755200000000), UP_TIME_ISO_Z, UP_FRAC_NONE, "-001-01-01T00:00:00Z"},
    /* The ends of int64_t: no overflow, and within UP_TIME_TEXT_MAX. */
    {INT64_MAX, UP_TIME_ISO_Z, UP_FRAC_US, "294247-01-10T04:00:54.775807Z"},
    {INT64_MIN, UP_TIME_ISO_PLUS, UP_FRAC_US, "-290308-12-21T19:59:05.224192+00:00"},
};

static void test_format_table(void)
{
    char buf[UP_TIME_TEXT_MAX];
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = up_format_time(cases[i].us, cases[i].style, cases[i].frac, buf, sizeof buf);
        CU_ASSERT_EQUAL(n, (int)strlen(cases[i].want));
        CU_ASSERT_STRING_EQUAL(buf, cases[i].want);
    }
}

static void test_named_forms(void)
{
    char buf[UP_TIME_TEXT_MAX];

    CU_ASSERT_EQUAL(up_format_timestamp(T0, buf, sizeof buf), 30);
    CU_ASSERT_STRING_EQUAL(buf, "2023-01-25 18:13:22.479220 UTC");
    /* The status file's and the log's form. */
    CU_ASSERT_EQUAL(up_format_iso_ms(T0, buf, sizeof buf), 24);
    CU_ASSERT_STRING_EQUAL(buf, "2023-01-25T18:13:22.479Z");
}

static void test_small_buffer(void)
{
    char buf[UP_TIME_TEXT_MAX];

    /* 30 bytes and the NUL need 31. */
    CU_ASSERT_EQUAL(up_format_timestamp(T0, buf, 31), 30);
    memset(buf, 'x', sizeof buf);
    CU_ASSERT_EQUAL(up_format_timestamp(T0, buf, 30), -1);
    CU_ASSERT_STRING_EQUAL(buf, "");
    CU_ASSERT_EQUAL(buf[1], 'x'); /* nothing written past the empty string */
    CU_ASSERT_EQUAL(up_format_iso_ms(T0, buf, 24), -1);
    CU_ASSERT_EQUAL(up_format_time(T0, UP_TIME_SPEC, UP_FRAC_US, NULL, 0), -1);
}

static void test_time_of_day(void)
{
    char buf[UP_TIME_TEXT_MAX];

    CU_ASSERT_EQUAL(up_format_time_of_day(0, UP_FRAC_TRIM, buf, sizeof buf), 8);
    CU_ASSERT_STRING_EQUAL(buf, "00:00:00");
    CU_ASSERT_EQUAL(up_format_time_of_day(UP_USEC_PER_DAY - 1, UP_FRAC_US, buf, sizeof buf), 15);
    CU_ASSERT_STRING_EQUAL(buf, "23:59:59.999999");
    up_format_time_of_day(9 * UP_USEC_PER_HOUR + 500000, UP_FRAC_TRIM, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "09:00:00.5");
    up_format_time_of_day(17 * UP_USEC_PER_HOUR + 30 * UP_USEC_PER_MIN, UP_FRAC_MS, buf,
                          sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "17:30:00.000");
    /* 24:00 is not a time of day (SPEC §5), nor is anything negative. */
    CU_ASSERT_EQUAL(up_format_time_of_day(UP_USEC_PER_DAY, UP_FRAC_NONE, buf, sizeof buf), -1);
    CU_ASSERT_EQUAL(up_format_time_of_day(-1, UP_FRAC_NONE, buf, sizeof buf), -1);
    CU_ASSERT_EQUAL(up_format_time_of_day(0, UP_FRAC_NONE, buf, 8), -1);
}

/* What the formatter writes in a SPEC or ISO form, the strict parser reads back exactly. */
static void test_round_trip(void)
{
    static const enum up_time_style styles[] = {UP_TIME_SPEC, UP_TIME_ISO_Z, UP_TIME_ISO_PLUS};
    char buf[UP_TIME_TEXT_MAX];
    int64_t us = INT64_C(-62135596800000000); /* 0001-01-01, SPEC's first instant */
    const char *why;
    int i, k;

    for (i = 0; i < 2000; i++) {
        for (k = 0; k < 3; k++) {
            int64_t back = -1;
            int n =
                up_format_time(us, styles[k], i % 2 ? UP_FRAC_US : UP_FRAC_TRIM, buf, sizeof buf);
            CU_ASSERT_FATAL(n > 0);
            CU_ASSERT_EQUAL(up_parse_timestamp(buf, (size_t)n, &back, &why), 0);
            CU_ASSERT_EQUAL(back, us);
        }
        /* About 461 days and a changing number of µs a step: 2,500 years, every field moves. */
        us += INT64_C(39876543211234) + i;
    }
}

static void test_now(void)
{
    int64_t a = up_now_us();
    int64_t t = (int64_t)time(NULL) * UP_USEC_PER_SEC;
    int64_t b = up_now_us();

    CU_ASSERT_TRUE(b >= a);
    /* The same clock as time(): within a couple of seconds of it. */
    CU_ASSERT_TRUE(a > t - 2 * UP_USEC_PER_SEC && a < t + 2 * UP_USEC_PER_SEC);
}

int test_clock_add(void)
{
    CU_pSuite s = CU_add_suite("clock", NULL, NULL);

    if (!s || !CU_add_test(s, "format table", test_format_table) ||
        !CU_add_test(s, "timestamp and iso_ms", test_named_forms) ||
        !CU_add_test(s, "buffer too small", test_small_buffer) ||
        !CU_add_test(s, "time of day", test_time_of_day) ||
        !CU_add_test(s, "round trip through the parser", test_round_trip) ||
        !CU_add_test(s, "now", test_now))
        return CU_get_error();
    return CUE_SUCCESS;
}
