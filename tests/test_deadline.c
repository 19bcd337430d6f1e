/* up_deadline: the run's --timeout (parsing, the clock, the message and its code). */
#include <stdint.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "up_deadline.h"

static void test_parse(void)
{
    int s = -1;

    CU_ASSERT_EQUAL(up_deadline_parse("0", &s), 0);
    CU_ASSERT_EQUAL(s, 0);
    CU_ASSERT_EQUAL(up_deadline_parse("3600", &s), 0);
    CU_ASSERT_EQUAL(s, 3600);
    CU_ASSERT_EQUAL(up_deadline_parse("2592000", &s), 0);
    CU_ASSERT_EQUAL(s, UP_DEADLINE_MAX_S);
    s = 7;
    /* Anything but a whole number of seconds in range is refused, s left as it was. */
    CU_ASSERT_EQUAL(up_deadline_parse("", &s), -1);
    CU_ASSERT_EQUAL(up_deadline_parse("-1", &s), -1);
    CU_ASSERT_EQUAL(up_deadline_parse("+5", &s), -1);
    CU_ASSERT_EQUAL(up_deadline_parse(" 5", &s), -1);
    CU_ASSERT_EQUAL(up_deadline_parse("5s", &s), -1);
    CU_ASSERT_EQUAL(up_deadline_parse("1e3", &s), -1);
    CU_ASSERT_EQUAL(up_deadline_parse("2592001", &s), -1);
    CU_ASSERT_EQUAL(up_deadline_parse("99999999999999999999", &s), -1);
    CU_ASSERT_EQUAL(up_deadline_parse(NULL, &s), -1);
    CU_ASSERT_EQUAL(s, 7);
}

static void test_clock(void)
{
    int64_t left;

    up_deadline_set(0);
    CU_ASSERT_EQUAL(up_deadline_limit(), 0);
    CU_ASSERT_EQUAL(up_deadline_left_ms(), INT64_MAX);
    CU_ASSERT_FALSE(up_deadline_expired());
    up_deadline_set(100);
    left = up_deadline_left_ms();
    CU_ASSERT_EQUAL(up_deadline_limit(), 100);
    CU_ASSERT(left > 99000 && left <= 100000);
    CU_ASSERT_FALSE(up_deadline_expired());
    up_deadline_set(-5); /* no limit, as 0 */
    CU_ASSERT_EQUAL(up_deadline_limit(), 0);
    CU_ASSERT_FALSE(up_deadline_expired());
}

static void test_message(void)
{
    char err[128], tiny[12];

    up_deadline_set(5);
    CU_ASSERT_EQUAL(up_deadline_error(err, sizeof err, "postgresql x: read polls"), UP_ETIMEOUT);
    CU_ASSERT_STRING_EQUAL(err, "postgresql x: read polls: timed out after 5 s (--timeout)");
    CU_ASSERT_EQUAL(up_deadline_error(tiny, sizeof tiny, "computing stores"), UP_ETIMEOUT);
    CU_ASSERT_STRING_EQUAL(tiny, "computing s");
    CU_ASSERT_EQUAL(up_deadline_error(NULL, 0, "x"), UP_ETIMEOUT);
    CU_ASSERT_STRING_EQUAL(up_strerror(UP_ETIMEOUT), "timed out (--timeout)");
    CU_ASSERT_EQUAL(UP_ETIMEOUT, 8); /* README's exit code */
    up_deadline_set(0);
}

int test_deadline_add(void)
{
    CU_pSuite s = CU_add_suite("deadline", NULL, NULL);

    if (!s || !CU_add_test(s, "parsing --timeout", test_parse) ||
        !CU_add_test(s, "the clock", test_clock) ||
        !CU_add_test(s, "the message and its code", test_message))
        return CU_get_error();
    return CUE_SUCCESS;
}
