/* Report rows (SPEC §3/§5 formatting), atomic publication and status files. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "test_util.h"
#include "up_report.h"
#include "up_status.h"

static struct up_result result(int64_t uh, int64_t ud, int64_t uw, int64_t dh, int64_t dd,
                               int64_t dw)
{
    struct up_result r = {{uh, ud, uw}, {dh, dd, dw}};
    return r;
}

static void test_row_format(void)
{
    char buf[512];
    /* SPEC §4: 1402 s up in the hour = 23.3666.. min; 2198 s = 36.6333.. min; 1402 s =
     * 0.3894 h; 27398 s = 7.6105 h; 200198 s = 55.6105 h. */
    struct up_result r = result(1402000000, 1402000000, 1402000000, 2198000000,
                                INT64_C(27398000000), INT64_C(200198000000));

    CU_ASSERT_TRUE(up_report_format_row(buf, sizeof buf, "S", &r) > 0);
    CU_ASSERT_STRING_EQUAL(buf, "S,23.37,0.39,0.39,36.63,7.61,55.61");
}

static void test_binary_ties(void)
{
    char buf[512];
    /* 0.125 h = 450 s and 0.125 min = 7.5 s are exact binary values: %.2f rounds the tie to
     * 0.12; 23.875 h (85950 s) likewise to 23.88 (SPEC §5). */
    struct up_result r = result(7500000, 450000000, INT64_C(85950000000), 0, 0, 0);

    CU_ASSERT_TRUE(up_report_format_row(buf, sizeof buf, "x", &r) > 0);
    CU_ASSERT_STRING_EQUAL(buf, "x,0.12,0.12,23.88,0.00,0.00,0.00");
}

static void test_quoting(void)
{
    char buf[512];
    struct up_result z = result(0, 0, 0, 0, 0, 0);

    up_report_format_row(buf, sizeof buf, "a,b", &z);
    CU_ASSERT_STRING_EQUAL(buf, "\"a,b\",0.00,0.00,0.00,0.00,0.00,0.00");
    up_report_format_row(buf, sizeof buf, "say \"hi\"", &z);
    CU_ASSERT_STRING_EQUAL(buf, "\"say \"\"hi\"\"\",0.00,0.00,0.00,0.00,0.00,0.00");
    /* Spaces and non-ASCII need no quotes. */
    up_report_format_row(buf, sizeof buf, "caf\xc3\xa9 1", &z);
    CU_ASSERT_STRING_EQUAL(buf, "caf\xc3\xa9 1,0.00,0.00,0.00,0.00,0.00,0.00");
    CU_ASSERT_EQUAL(up_report_format_row(buf, 8, "abcdef", &z), -1);
}

static void test_report_ids(void)
{
    char id[37];

    CU_ASSERT_TRUE(up_report_id_valid("3f2a9c1e-0b7d-4e5f-9a8b-1c2d3e4f5a6b"));
    CU_ASSERT_TRUE(up_report_id_valid("nightly_2023"));
    CU_ASSERT_FALSE(up_report_id_valid(""));
    CU_ASSERT_FALSE(up_report_id_valid("../etc/passwd"));
    CU_ASSERT_FALSE(up_report_id_valid("a/b"));
    CU_ASSERT_FALSE(up_report_id_valid(".hidden"));
    CU_ASSERT_FALSE(up_report_id_valid("x y"));
    CU_ASSERT_FALSE(
        up_report_id_valid("0123456789012345678901234567890123456789012345678901234567890123X"));
    up_report_new_id(id);
    CU_ASSERT_EQUAL(strlen(id), 36);
    CU_ASSERT_TRUE(up_report_id_valid(id));
}

static void test_atomic_publish(void)
{
    const char *dir = tu_tmpdir();
    struct up_report_writer *w = NULL;
    struct up_result z = result(60000000, 0, 0, 0, 0, 0);
    char err[256], path[512], buf[256];
    struct stat sb;
    FILE *f;
    size_t n;

    CU_ASSERT_EQUAL_FATAL(up_report_open(dir, "r1", &w, err, sizeof err), UP_OK);
    up_report_row(w, "s1", &z);
    snprintf(path, sizeof path, "%s/r1.csv", dir);
    /* Nothing under the final name until commit. */
    CU_ASSERT_NOT_EQUAL(stat(path, &sb), 0);
    CU_ASSERT_EQUAL_FATAL(up_report_commit(w, err, sizeof err), UP_OK);
    f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    CU_ASSERT_STRING_EQUAL(buf, UP_REPORT_HEADER "s1,1.00,0.00,0.00,0.00,0.00,0.00\n");
    snprintf(path, sizeof path, "%s/.r1.csv.tmp", dir);
    CU_ASSERT_NOT_EQUAL(stat(path, &sb), 0);

    /* An aborted report leaves neither file. */
    CU_ASSERT_EQUAL_FATAL(up_report_open(dir, "r2", &w, err, sizeof err), UP_OK);
    up_report_row(w, "s1", &z);
    up_report_abort(w);
    snprintf(path, sizeof path, "%s/r2.csv", dir);
    CU_ASSERT_NOT_EQUAL(stat(path, &sb), 0);
    snprintf(path, sizeof path, "%s/.r2.csv.tmp", dir);
    CU_ASSERT_NOT_EQUAL(stat(path, &sb), 0);

    /* An unwritable folder is a clear I/O error. */
    CU_ASSERT_EQUAL(up_report_open("/nonexistent/dir", "r3", &w, err, sizeof err), UP_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/dir"));
}

/* --parallel-write's parts: rows written at offsets by other writers, into the very file
 * the writer created and nothing else. */
static void test_parts(void)
{
    const char *dir = tu_tmpdir();
    struct up_report_writer *w = NULL;
    struct up_report_part *p = NULL, *q = NULL;
    char err[512], tmp[512], other[512], path[600], buf[512];
    uint64_t dev = 0, ino = 0;
    int64_t start = -1;
    const char *row1 = "s1,1.00,0.00,0.00,0.00,0.00,0.00\n";
    const char *row2 = "\"a,b\",0.50,0.00,0.00,0.00,0.00,0.00\n";
    struct stat sb;
    FILE *f;
    size_t n;

    CU_ASSERT_EQUAL_FATAL(up_report_open(dir, "pw", &w, err, sizeof err), UP_OK);
    snprintf(tmp, sizeof tmp, "%s", up_report_temp_path(w));
    CU_ASSERT_EQUAL_FATAL(up_report_expose(w, &dev, &ino, &start, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(start, (int64_t)strlen(UP_REPORT_HEADER));
    CU_ASSERT_EQUAL_FATAL(stat(tmp, &sb), 0);
    CU_ASSERT_EQUAL(ino, (uint64_t)sb.st_ino);
    CU_ASSERT_EQUAL(dev, (uint64_t)sb.st_dev);

    /* Another inode, a symlink to the file, or a file of another device: refused, the
     * reason naming the path. */
    CU_ASSERT_EQUAL(up_report_part_open(tmp, dev, ino + 1, 1, &p, err, sizeof err), UP_EIO);
    CU_ASSERT_PTR_NULL(p);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, tmp));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not the file rank 0 created"));
    CU_ASSERT_EQUAL(up_report_part_open(tmp, dev + 1, ino, 1, &p, err, sizeof err), UP_EIO);
    /* ... but a device number is only compared on the writer's own host. */
    CU_ASSERT_EQUAL_FATAL(up_report_part_open(tmp, dev + 1, ino, 0, &p, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_report_part_close(p, err, sizeof err), UP_OK);
    p = NULL;
    snprintf(path, sizeof path, "%s/link", dir);
    CU_ASSERT_EQUAL_FATAL(symlink(tmp, path), 0);
    CU_ASSERT_EQUAL(up_report_part_open(path, dev, ino, 1, &p, err, sizeof err), UP_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot open report"));

    /* The rows of two writers at their offsets, the second one first. */
    CU_ASSERT_EQUAL_FATAL(up_report_part_open(tmp, dev, ino, 1, &p, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_report_part_open(tmp, dev, ino, 1, &q, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(
        up_report_part_write(q, row2, strlen(row2), start + (int64_t)strlen(row1), err, sizeof err),
        UP_OK);
    CU_ASSERT_EQUAL(up_report_part_write(p, row1, strlen(row1), start, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_report_part_close(q, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_report_part_close(p, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_report_part_close(NULL, err, sizeof err), UP_OK);

    /* A file renamed over the temporary name: the part is refused. */
    snprintf(other, sizeof other, "%s", tu_write_file(dir, "planted", "x\n"));
    snprintf(path, sizeof path, "%s.keep", tmp);
    CU_ASSERT_EQUAL_FATAL(rename(tmp, path), 0);
    CU_ASSERT_EQUAL_FATAL(rename(other, tmp), 0);
    p = NULL;
    CU_ASSERT_EQUAL(up_report_part_open(tmp, dev, ino, 1, &p, err, sizeof err), UP_EIO);
    CU_ASSERT_PTR_NULL(p);
    CU_ASSERT_EQUAL_FATAL(rename(path, tmp), 0);

    CU_ASSERT_EQUAL_FATAL(up_report_commit(w, err, sizeof err), UP_OK);
    snprintf(path, sizeof path, "%s/pw.csv", dir);
    f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    CU_ASSERT_STRING_EQUAL(buf, UP_REPORT_HEADER "s1,1.00,0.00,0.00,0.00,0.00,0.00\n"
                                                 "\"a,b\",0.50,0.00,0.00,0.00,0.00,0.00\n");
}

static void test_status_merge(void)
{
    const char *dir = tu_tmpdir();
    const struct up_status_field first[] = {{"status", "Pending", 0, 0},
                                            {"launcher", "local", 0, 0}};
    const struct up_status_field second[] = {
        {"status", "Running", 0, 0}, {"ranks", NULL, 4, 0}, {"error", NULL, 0, 1}};
    char err[256], path[512];
    json_t *j;

    CU_ASSERT_EQUAL_FATAL(up_status_update(dir, "r1", first, 2, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_status_update(dir, "r1", second, 3, err, sizeof err), UP_OK);
    snprintf(path, sizeof path, "%s/r1.status.json", dir);
    j = json_load_file(path, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "status")), "Running");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "launcher")), "local");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "ranks")), 4);
    CU_ASSERT_TRUE(json_is_null(json_object_get(j, "error")));
    json_decref(j);
}

/* The fast formatter equals printf's "%.2f" on every value a report can hold: each
 * microsecond count of an hour in minutes, a spread of the week in hours, and random ones
 * (the expected text is the C library's own, the reference the SPEC names). */
static void check_2dp(double d, int *bad)
{
    char want[64], got[64];

    snprintf(want, sizeof want, "%.2f", d);
    up_report_format_2dp(d, got, sizeof got);
    if (strcmp(want, got) != 0 && (*bad)++ < 5)
        fprintf(stderr, "%.17g: printf %s, fast %s\n", d, want, got);
}

static void test_format_2dp(void)
{
    uint64_t x = 88172645463325252u;
    int64_t us;
    int bad = 0, i;

    for (us = 0; us <= INT64_C(3600000000); us += 997)
        check_2dp((double)us / 6e7, &bad);
    for (us = 0; us <= INT64_C(604800000000); us += INT64_C(123456789))
        check_2dp((double)us / 3.6e9, &bad);
    for (i = 0; i < 500000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        check_2dp((double)(int64_t)(x % UINT64_C(604800000001)) / 3.6e9, &bad);
        check_2dp((double)(int64_t)(x % UINT64_C(3600000001)) / 6e7, &bad);
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* Exact binary ties go to the even digit (SPEC §5). */
    {
        char b[16];
        up_report_format_2dp(0.125, b, sizeof b);
        CU_ASSERT_STRING_EQUAL(b, "0.12");
        up_report_format_2dp(23.875, b, sizeof b);
        CU_ASSERT_STRING_EQUAL(b, "23.88");
        up_report_format_2dp(0.0, b, sizeof b);
        CU_ASSERT_STRING_EQUAL(b, "0.00");
        up_report_format_2dp(168.0, b, sizeof b);
        CU_ASSERT_STRING_EQUAL(b, "168.00");
        /* Too small a buffer: the length it needs, as snprintf returns it. */
        CU_ASSERT_EQUAL(up_report_format_2dp(168.0, b, 4), 6);
    }
}

int test_report_add(void)
{
    CU_pSuite s = CU_add_suite("report", NULL, NULL);

    if (!s || !CU_add_test(s, "row format (SPEC 4)", test_row_format) ||
        !CU_add_test(s, "binary ties", test_binary_ties) ||
        !CU_add_test(s, "fast %.2f equals printf's", test_format_2dp) ||
        !CU_add_test(s, "quoting", test_quoting) ||
        !CU_add_test(s, "report ids", test_report_ids) ||
        !CU_add_test(s, "atomic publish", test_atomic_publish) ||
        !CU_add_test(s, "parts written beside the writer (--parallel-write)", test_parts) ||
        !CU_add_test(s, "status file merge", test_status_merge))
        return CU_get_error();
    return CUE_SUCCESS;
}
