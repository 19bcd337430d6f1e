/* up_errf: the one error formatter (the code passed through, truncation, appending). */
#include <errno.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "up_err.h"

static void test_format_and_code(void)
{
    char err[64];

    CU_ASSERT_EQUAL(up_errf(UP_EIO, err, sizeof err, "cannot write %s: %s", "r.csv", "No space"),
                    UP_EIO);
    CU_ASSERT_STRING_EQUAL(err, "cannot write r.csv: No space");
    CU_ASSERT_EQUAL(up_errf(UP_ENOMEM, err, sizeof err, "out of memory"), UP_ENOMEM);
    CU_ASSERT_STRING_EQUAL(err, "out of memory");
    CU_ASSERT_EQUAL(up_errf(UP_OK, err, sizeof err, "%s", ""), UP_OK);
    CU_ASSERT_STRING_EQUAL(err, "");
}

static void test_truncation(void)
{
    char err[8];

    memset(err, 'x', sizeof err);
    /* 7 bytes and the NUL: the rest of the message is cut, never written past err. */
    CU_ASSERT_EQUAL(up_errf(UP_EDB, err, sizeof err, "database %d failed", 12345), UP_EDB);
    CU_ASSERT_STRING_EQUAL(err, "databas");
    /* errlen 1: only the NUL fits. */
    memset(err, 'x', sizeof err);
    up_errf(UP_EFAIL, err, 1, "anything");
    CU_ASSERT_EQUAL(err[0], '\0');
    CU_ASSERT_EQUAL(err[1], 'x');
    /* No buffer at all: nothing written, the code still comes back. */
    memset(err, 'x', sizeof err);
    CU_ASSERT_EQUAL(up_errf(UP_ETZDB, err, 0, "anything"), UP_ETZDB);
    CU_ASSERT_EQUAL(err[0], 'x');
    CU_ASSERT_EQUAL(up_errf(UP_EUSAGE, NULL, 100, "anything"), UP_EUSAGE);
}

static void test_errno_kept(void)
{
    char err[32];

    errno = ENOSPC;
    up_errf(UP_EIO, err, sizeof err, "%s", strerror(errno));
    CU_ASSERT_EQUAL(errno, ENOSPC);
    up_errf_cat(UP_EIO, err, sizeof err, " again");
    CU_ASSERT_EQUAL(errno, ENOSPC);
}

static void test_append(void)
{
    char err[40];
    char small[12];

    up_errf(UP_EUSAGE, err, sizeof err, "missing column \"%s\"", "dayOfWeek");
    CU_ASSERT_EQUAL(up_errf_cat(UP_EUSAGE, err, sizeof err, " (or \"%s\")", "day"), UP_EUSAGE);
    CU_ASSERT_STRING_EQUAL(err, "missing column \"dayOfWeek\" (or \"day\")");
    /* An append that does not fit is cut at errlen - 1 like the first part. */
    up_errf(UP_EUSAGE, small, sizeof small, "abcdefgh");
    up_errf_cat(UP_EUSAGE, small, sizeof small, "12345");
    CU_ASSERT_STRING_EQUAL(small, "abcdefgh123");
    /* A full buffer stays as it is. */
    CU_ASSERT_EQUAL(up_errf_cat(UP_EIO, small, sizeof small, "more"), UP_EIO);
    CU_ASSERT_STRING_EQUAL(small, "abcdefgh123");
    /* An unterminated buffer is terminated, never read or written past its end. */
    memset(small, 'y', sizeof small);
    up_errf_cat(UP_EIO, small, sizeof small, "z");
    CU_ASSERT_EQUAL(small[sizeof small - 1], '\0');
    CU_ASSERT_EQUAL(small[0], 'y');
    CU_ASSERT_EQUAL(up_errf_cat(UP_EMPI, NULL, 0, "x"), UP_EMPI);
}

int test_err_add(void)
{
    CU_pSuite s = CU_add_suite("err", NULL, NULL);

    if (!s || !CU_add_test(s, "message and code", test_format_and_code) ||
        !CU_add_test(s, "truncation", test_truncation) ||
        !CU_add_test(s, "errno kept", test_errno_kept) || !CU_add_test(s, "append", test_append))
        return CU_get_error();
    return CUE_SUCCESS;
}
