/* Unit tests of up_rows: store_id, status and day checks, reject names, and the rejects
 * file's escaping. */
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

/* up_reject_escape of s[0..n) with room to spare: checks the text and that all was used. */
static void escaped(const char *s, size_t n, const char *want)
{
    char out[256];
    size_t used = 99, len = up_reject_escape(out, sizeof out, s, n, &used);

    CU_ASSERT_STRING_EQUAL(out, want);
    CU_ASSERT_EQUAL(len, strlen(want));
    CU_ASSERT_EQUAL(used, n);
}

#define ESC(lit, want) escaped(lit, sizeof(lit) - 1, want)

static void test_reject_escape(void)
{
    char out[16];
    size_t used;

    /* Printable ASCII and valid UTF-8 stay as they are. */
    ESC("", "");
    ESC("store 1,\"x\"", "store 1,\"x\"");
    ESC("caf\xC3\xA9", "caf\xC3\xA9");
    ESC("\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"); /* U+1F600, four bytes */
    ESC("\xC2\xA0", "\xC2\xA0");                 /* U+00A0, the first after the C1 range */
    /* C0 controls and DEL: ESC (0x1b), CR, TAB, LF, NUL -- the whole value, past the NUL. */
    ESC("a\x1b[31mb", "a\\x1b[31mb");
    ESC("x\ry\tz\n", "x\\x0dy\\x09z\\x0a");
    ESC("a\0b\0", "a\\x00b\\x00");
    ESC("\x7f\x01\x1f", "\\x7f\\x01\\x1f");
    /* The backslash itself, so that a literal "\x1b" reads back as four characters. */
    ESC("\\x1b", "\\x5cx1b");
    /* C1 controls as UTF-8 (U+0080, U+0085, U+009B, U+009F): both bytes. */
    ESC("\xC2\x80", "\\xc2\\x80");
    ESC("a\xC2\x85z", "a\\xc2\\x85z");
    ESC("\xC2\x9B"
        "31m",
        "\\xc2\\x9b31m");
    ESC("\xC2\x9F", "\\xc2\\x9f");
    /* Bytes 0x80-0x9F outside a UTF-8 sequence (raw C1) and other invalid UTF-8, one by one:
     * a lone continuation, a lone lead, an overlong '/', a surrogate U+D800, past U+10FFFF,
     * a sequence cut by the end, 0xFF. */
    ESC("\x85", "\\x85");
    ESC("a\x9b"
        "b",
        "a\\x9bb");
    ESC("\xC3z", "\\xc3z");
    ESC("\xC0\xAF", "\\xc0\\xaf");
    ESC("\xED\xA0\x80", "\\xed\\xa0\\x80");
    ESC("\xF4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
    ESC("\xE2\x82", "\\xe2\\x82");
    ESC("\xE2\x82\xAC", "\xE2\x82\xAC"); /* the same, whole: U+20AC */
    ESC("\xFF", "\\xff");

    /* Whole units only, and room for the NUL: "ab" + "\x1b" needs 7 bytes. */
    CU_ASSERT_EQUAL(up_reject_escape(out, 7, "ab\x1b", 3, &used), 6);
    CU_ASSERT_STRING_EQUAL(out, "ab\\x1b");
    CU_ASSERT_EQUAL(used, 3);
    CU_ASSERT_EQUAL(up_reject_escape(out, 6, "ab\x1b", 3, &used), 2);
    CU_ASSERT_STRING_EQUAL(out, "ab");
    CU_ASSERT_EQUAL(used, 2);
    CU_ASSERT_EQUAL(up_reject_escape(out, 6, "\x1b", 1, &used), 4);
    CU_ASSERT_STRING_EQUAL(out, "\\x1b");
    CU_ASSERT_EQUAL(used, 1);
    /* A C1 control is one unit of 8 bytes: never cut between its two escapes. */
    CU_ASSERT_EQUAL(up_reject_escape(out, 9, "a\xC2\x85", 3, &used), 1);
    CU_ASSERT_STRING_EQUAL(out, "a");
    CU_ASSERT_EQUAL(used, 1);
    /* A valid sequence is not cut either: U+20AC needs 4 bytes with the NUL. */
    CU_ASSERT_EQUAL(up_reject_escape(out, 3, "\xE2\x82\xAC", 3, &used), 0);
    CU_ASSERT_STRING_EQUAL(out, "");
    CU_ASSERT_EQUAL(used, 0);
    /* No room at all: nothing written, nothing used. */
    out[0] = 'q';
    CU_ASSERT_EQUAL(up_reject_escape(out, 0, "a", 1, &used), 0);
    CU_ASSERT_EQUAL(out[0], 'q');
    CU_ASSERT_EQUAL(used, 0);
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
        !CU_add_test(s, "dayOfWeek", test_day) || !CU_add_test(s, "reject names", test_names) ||
        !CU_add_test(s, "rejects file escaping", test_reject_escape))
        return CU_get_error();
    return CUE_SUCCESS;
}
