/*
 * up_csvout: the one CSV field writer (RFC 4180). Each expected field below was worked
 * out by hand: quoted iff the value holds , " CR or LF, each " inside doubled.
 */
#include <stdio.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "up_csvout.h"

static const struct {
    const char *in;
    const char *out;
} cases[] = {
    {"", ""},
    {"abc", "abc"},
    {"a,b", "\"a,b\""},
    {",", "\",\""},
    {"say \"hi\"", "\"say \"\"hi\"\"\""},
    {"\"", "\"\"\"\""},
    {"a\nb", "\"a\nb\""},
    {"a\rb", "\"a\rb\""},
    {"line\r\n", "\"line\r\n\""},
    /* Spaces, TABs and non-ASCII need no quotes: the field is taken as it is. */
    {" lead", " lead"},
    {"trail ", "trail "},
    {"tab\there", "tab\there"},
    {"caf\xc3\xa9 1", "caf\xc3\xa9 1"},
    /* The rejects file's values: a raw record with its own quoting. */
    {"x,\"unterminated", "\"x,\"\"unterminated\""},
    {"\\x01bad", "\\x01bad"},
};

#define NCASES (sizeof cases / sizeof cases[0])

static void test_field_table(void)
{
    char buf[64];
    size_t i;

    for (i = 0; i < NCASES; i++) {
        size_t n = up_csvout_field(buf, sizeof buf, cases[i].in);
        CU_ASSERT_EQUAL(n, strlen(cases[i].out));
        CU_ASSERT_STRING_EQUAL(buf, cases[i].out);
        CU_ASSERT_EQUAL(up_csvout_needs_quotes(cases[i].in), cases[i].out[0] == '"');
    }
}

static void test_field_truncation(void)
{
    char buf[8];

    /* "\"a,b\"" is 5 bytes: 4 bytes of room hold 3 and the NUL; the length says 5. */
    memset(buf, 'x', sizeof buf);
    CU_ASSERT_EQUAL(up_csvout_field(buf, 4, "a,b"), 5);
    CU_ASSERT_STRING_EQUAL(buf, "\"a,");
    CU_ASSERT_EQUAL(buf[4], 'x');
    /* Exactly the field and its NUL fit. */
    CU_ASSERT_EQUAL(up_csvout_field(buf, 6, "a,b"), 5);
    CU_ASSERT_STRING_EQUAL(buf, "\"a,b\"");
    /* One byte less: cut. */
    CU_ASSERT_EQUAL(up_csvout_field(buf, 5, "a,b"), 5);
    CU_ASSERT_STRING_EQUAL(buf, "\"a,b");
    /* No room at all: only the length, as snprintf(NULL, 0, ...). */
    CU_ASSERT_EQUAL(up_csvout_field(NULL, 0, "say \"hi\""), 12);
}

static void test_put_same_bytes(void)
{
    char want[1024], got[1024];
    size_t wn = 0, gn, i;
    FILE *f = tmpfile();

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (i = 0; i < NCASES; i++) {
        CU_ASSERT_EQUAL(up_csvout_put(f, cases[i].in), 0);
        fputc(',', f);
        memcpy(want + wn, cases[i].out, strlen(cases[i].out));
        wn += strlen(cases[i].out);
        want[wn++] = ',';
    }
    rewind(f);
    gn = fread(got, 1, sizeof got, f);
    fclose(f);
    CU_ASSERT_EQUAL(gn, wn);
    CU_ASSERT_EQUAL(memcmp(got, want, wn), 0);
}

static void test_put_error(void)
{
    FILE *f = fopen("/dev/full", "w");

    if (!f)
        return; /* no /dev/full here: nothing to check */
    setvbuf(f, NULL, _IONBF, 0);
    CU_ASSERT_EQUAL(up_csvout_put(f, "plain"), -1);
    CU_ASSERT_EQUAL(up_csvout_put(f, "a,b"), -1);
    fclose(f);
}

int test_csvout_add(void)
{
    CU_pSuite s = CU_add_suite("csvout", NULL, NULL);

    if (!s || !CU_add_test(s, "quoting table", test_field_table) ||
        !CU_add_test(s, "field truncation", test_field_truncation) ||
        !CU_add_test(s, "file writer, same bytes", test_put_same_bytes) ||
        !CU_add_test(s, "write error", test_put_error))
        return CU_get_error();
    return CUE_SUCCESS;
}
