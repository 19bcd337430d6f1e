/* Unit tests of up_rows: store_id, status and day checks, and reject names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <CUnit/CUnit.h>

#include "test_list.h"
#include "test_util.h"
#include "up_csvin.h"
#include "up_rows.h"

/* Checks a NUL-free store_id given as a C string. */
static enum up_row_reject store_id(const char *s)
{
    const char *why = NULL;
    enum up_row_reject r = up_check_store_id(s, strlen(s), &why);

    CU_ASSERT_PTR_NOT_NULL(why);
    return r;
}

static void test_store_id(void)
{
    char id[UP_STORE_ID_MAX + 2];
    const char *why = NULL;

    CU_ASSERT_EQUAL(store_id("f0a1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b"), UP_ROW_OK);
    CU_ASSERT_EQUAL(store_id("0123"), UP_ROW_OK);
    CU_ASSERT_EQUAL(store_id("8419537941919820732"), UP_ROW_OK);
    /* U+00A0 (C2 A0) is not a control character; inner spaces are kept. */
    CU_ASSERT_EQUAL(store_id("a\xC2\xA0z"), UP_ROW_OK);
    CU_ASSERT_EQUAL(store_id("store 1"), UP_ROW_OK);
    CU_ASSERT_EQUAL(store_id("caf\xC3\xA9"), UP_ROW_OK);
    CU_ASSERT_EQUAL(store_id("\xC2\xA0"), UP_ROW_OK);

    CU_ASSERT_EQUAL(up_check_store_id("", 0, &why), UP_ROW_STORE_ID);
    CU_ASSERT_STRING_EQUAL(why, "empty store_id");

    memset(id, 'x', sizeof id);
    CU_ASSERT_EQUAL(up_check_store_id(id, UP_STORE_ID_MAX, &why), UP_ROW_OK);
    CU_ASSERT_EQUAL(up_check_store_id(id, UP_STORE_ID_MAX + 1, &why), UP_ROW_STORE_ID);
    CU_ASSERT_STRING_EQUAL(why, "store_id longer than 128 bytes");
    /* 64 two-byte characters are 128 bytes: the limit is in bytes. */
    for (size_t i = 0; i < 64; i++)
        memcpy(id + 2 * i, "\xC3\xA9", 2);
    CU_ASSERT_EQUAL(up_check_store_id(id, 128, &why), UP_ROW_OK);
    memcpy(id + 128, "x", 1);
    CU_ASSERT_EQUAL(up_check_store_id(id, 129, &why), UP_ROW_STORE_ID);

    /* Controls: C0, DEL, C1 (U+0080, U+0085, U+009F). */
    CU_ASSERT_EQUAL(store_id("a\tb"), UP_ROW_STORE_ID);
    CU_ASSERT_EQUAL(store_id("a\rb"), UP_ROW_STORE_ID);
    CU_ASSERT_EQUAL(store_id("a\x1f"), UP_ROW_STORE_ID);
    CU_ASSERT_EQUAL(store_id("a\x7f"), UP_ROW_STORE_ID);
    CU_ASSERT_EQUAL(store_id("a\xC2\x80"), UP_ROW_STORE_ID);
    CU_ASSERT_EQUAL(store_id("a\xC2\x85z"), UP_ROW_STORE_ID);
    CU_ASSERT_EQUAL(store_id("\xC2\x9F"), UP_ROW_STORE_ID);
    CU_ASSERT_EQUAL(up_check_store_id("a\tb", 3, &why), UP_ROW_STORE_ID);
    CU_ASSERT_STRING_EQUAL(why, "control character in store_id");
    /* U+0000 inside the given length is a control character too. */
    CU_ASSERT_EQUAL(up_check_store_id("a\0b", 3, &why), UP_ROW_STORE_ID);
    /* why may be NULL. */
    CU_ASSERT_EQUAL(up_check_store_id("", 0, NULL), UP_ROW_STORE_ID);
}

/* Checks a status given as a C string; *active is left at -1 on a reject. */
static enum up_row_reject status(const char *s, int *active)
{
    const char *why = NULL;
    enum up_row_reject r;

    *active = -1;
    r = up_check_status(s, strlen(s), active, &why);
    CU_ASSERT_PTR_NOT_NULL(why);
    return r;
}

static void test_status(void)
{
    int a;

    CU_ASSERT_EQUAL(status("active", &a), UP_ROW_OK);
    CU_ASSERT_EQUAL(a, 1);
    CU_ASSERT_EQUAL(status("ACTIVE", &a), UP_ROW_OK);
    CU_ASSERT_EQUAL(a, 1);
    CU_ASSERT_EQUAL(status("inactive", &a), UP_ROW_OK);
    CU_ASSERT_EQUAL(a, 0);
    CU_ASSERT_EQUAL(status("InAcTiVe", &a), UP_ROW_OK);
    CU_ASSERT_EQUAL(a, 0);

    CU_ASSERT_EQUAL(status("activ", &a), UP_ROW_STATUS);
    CU_ASSERT_EQUAL(a, -1);
    CU_ASSERT_EQUAL(status("actived", &a), UP_ROW_STATUS);
    CU_ASSERT_EQUAL(status("1", &a), UP_ROW_STATUS);
    CU_ASSERT_EQUAL(status("0", &a), UP_ROW_STATUS);
    CU_ASSERT_EQUAL(status("", &a), UP_ROW_STATUS);
    CU_ASSERT_EQUAL(status("in active", &a), UP_ROW_STATUS);
    CU_ASSERT_EQUAL(status("true", &a), UP_ROW_STATUS);
    /* Only ASCII letters fold: a dotless or Turkish I does not make "actIve". */
    CU_ASSERT_EQUAL(status("act\xC4\xB1ve", &a), UP_ROW_STATUS);
    /* The caller trims; the check itself does not. */
    CU_ASSERT_EQUAL(status(" active", &a), UP_ROW_STATUS);
    /* The given length counts, not the NUL. */
    CU_ASSERT_EQUAL(up_check_status("activeX", 6, &a, NULL), UP_ROW_OK);
    CU_ASSERT_EQUAL(a, 1);
}

/* " Inactive " in a file arrives trimmed and is then valid. */
static void test_status_from_file(void)
{
    static const char *const id[] = {"store_id", NULL};
    static const char *const st[] = {"status", NULL};
    static const struct up_csv_column cols[] = {{id}, {st}};
    char dir[256], err[256];
    const char *path;
    struct up_csvin *in;
    struct up_csv_record rec;
    enum up_code code;
    int a = -1;
    const char *why = NULL;

    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    path = tu_write_file(dir, "s.csv", "store_id,status\nS, Inactive \t\n");
    in = up_csvin_open(path, cols, 2, &code, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    CU_ASSERT_EQUAL_FATAL(up_csvin_next(in, &rec, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(rec.kind, UP_CSV_ROW);
    CU_ASSERT_EQUAL(up_check_store_id(rec.field[0], rec.len[0], &why), UP_ROW_OK);
    CU_ASSERT_EQUAL(up_check_status(rec.field[1], rec.len[1], &a, &why), UP_ROW_OK);
    CU_ASSERT_EQUAL(a, 0);
    up_csvin_free(in);
    unlink(path);
    rmdir(dir);
}

static enum up_row_reject day(const char *s, int *d)
{
    const char *why = NULL;
    enum up_row_reject r;

    *d = -1;
    r = up_check_day(s, strlen(s), d, &why);
    CU_ASSERT_PTR_NOT_NULL(why);
    return r;
}

static void test_day(void)
{
    int d, i;
    char s[2] = {0, 0};

    for (i = 0; i <= 6; i++) {
        s[0] = (char)('0' + i);
        CU_ASSERT_EQUAL(day(s, &d), UP_ROW_OK);
        CU_ASSERT_EQUAL(d, i);
    }
    CU_ASSERT_EQUAL(day("7", &d), UP_ROW_DAY);
    CU_ASSERT_EQUAL(d, -1);
    CU_ASSERT_EQUAL(day("9", &d), UP_ROW_DAY);
    CU_ASSERT_EQUAL(day("-1", &d), UP_ROW_DAY);
    CU_ASSERT_EQUAL(day("03", &d), UP_ROW_DAY);
    CU_ASSERT_EQUAL(day("Mon", &d), UP_ROW_DAY);
    CU_ASSERT_EQUAL(day("3.0", &d), UP_ROW_DAY);
    CU_ASSERT_EQUAL(day("+3", &d), UP_ROW_DAY);
    CU_ASSERT_EQUAL(day("", &d), UP_ROW_DAY);
    CU_ASSERT_EQUAL(day("a", &d), UP_ROW_DAY);
    CU_ASSERT_EQUAL(day(" 3", &d), UP_ROW_DAY);
    /* Fullwidth digit three (U+FF13) is not an ASCII digit. */
    CU_ASSERT_EQUAL(day("\xEF\xBC\x93", &d), UP_ROW_DAY);
}

static void test_names(void)
{
    CU_ASSERT_STRING_EQUAL(up_row_reject_name(UP_ROW_STORE_ID), "invalid store_id");
    CU_ASSERT_STRING_EQUAL(up_row_reject_name(UP_ROW_STATUS), "invalid status");
    CU_ASSERT_STRING_EQUAL(up_row_reject_name(UP_ROW_TIMESTAMP), "invalid timestamp_utc");
    CU_ASSERT_STRING_EQUAL(up_row_reject_name(UP_ROW_DAY), "invalid dayOfWeek");
    CU_ASSERT_STRING_EQUAL(up_row_reject_name(UP_ROW_START), "invalid start_time_local");
    CU_ASSERT_STRING_EQUAL(up_row_reject_name(UP_ROW_END), "invalid end_time_local");
    CU_ASSERT_STRING_EQUAL(up_row_reject_name(UP_ROW_TIMEZONE), "unknown timezone");
    CU_ASSERT_STRING_EQUAL(up_row_reject_name(UP_ROW_TZ_CONFLICT), "conflicting timezone");
    CU_ASSERT_PTR_NOT_NULL(up_row_reject_name((enum up_row_reject)99));
}

int test_rows_add(void)
{
    CU_pSuite s = CU_add_suite("rows", NULL, NULL);

    if (!s)
        return CU_get_error();
    if (!CU_add_test(s, "store_id", test_store_id) || !CU_add_test(s, "status", test_status) ||
        !CU_add_test(s, "status trimmed by csvin", test_status_from_file) ||
        !CU_add_test(s, "dayOfWeek", test_day) || !CU_add_test(s, "reject names", test_names))
        return CU_get_error();
    return CUE_SUCCESS;
}
