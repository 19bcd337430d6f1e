/*
 * The whole report job on MPI_COMM_SELF over the in-memory backend: no mpirun, no
 * database. The golden data (tests/data/golden, worked out by hand) loads through the
 * real loader; the job must give expected.csv byte for byte, and fail cleanly.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <CUnit/Basic.h>
#include "test_util.h"
#include "up_job.h"
#include "up_report.h"
#include "up_load.h"
#include "up_store_mem.h"
#include "up_time.h"

#define GOLDEN UP_TEST_DATA "/golden"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

static void load_golden(const char *db)
{
    struct up_load_opts o;
    struct up_load_stats stats;
    char err[512];

    memset(&o, 0, sizeof o);
    o.path[UP_FILE_STATUS] = GOLDEN "/store_status.csv";
    o.path[UP_FILE_HOURS] = GOLDEN "/menu_hours.csv";
    o.path[UP_FILE_TZ] = GOLDEN "/timezones.csv";
    CU_ASSERT_EQUAL_FATAL(up_load_run(db, &o, &stats, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(stats.file[UP_FILE_STATUS].loaded, 8);
}

static enum up_code run(const char *db, const char *dir, const char *id, const char *now)
{
    struct up_job_opts o;
    const char *why;

    memset(&o, 0, sizeof o);
    o.db = db;
    o.reports_dir = dir;
    o.quiet = 1;
    snprintf(o.report_id, sizeof o.report_id, "%s", id);
    if (now) {
        CU_ASSERT_EQUAL_FATAL(up_parse_timestamp(now, strlen(now), &o.now, &why), 0);
        o.has_now = 1;
    }
    return up_job_run(&o, MPI_COMM_SELF);
}

static void expect_report(const char *dir, const char *id, const char *want_path)
{
    char path[512];
    char *got, *want;

    snprintf(path, sizeof path, "%s/%s.csv", dir, id);
    got = slurp(path);
    want = slurp(want_path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_PTR_NOT_NULL_FATAL(want);
    CU_ASSERT_STRING_EQUAL(got, want);
    free(got);
    free(want);
}

static void test_golden_report(void)
{
    const char *dir = tu_tmpdir();

    up_store_mem_reset();
    load_golden("mem:golden");
    CU_ASSERT_EQUAL_FATAL(run("mem:golden", dir, "g", NULL), UP_OK);
    expect_report(dir, "g", GOLDEN "/expected.csv");
    /* The same instant given explicitly changes nothing. */
    CU_ASSERT_EQUAL_FATAL(run("mem:golden", dir, "g2", "2023-01-25 18:13:22 UTC"), UP_OK);
    expect_report(dir, "g2", GOLDEN "/expected.csv");
    up_store_mem_reset();
}

static void test_loading_twice_changes_nothing(void)
{
    const char *dir = tu_tmpdir();

    up_store_mem_reset();
    load_golden("mem:twice");
    load_golden("mem:twice");
    CU_ASSERT_EQUAL_FATAL(run("mem:twice", dir, "t", NULL), UP_OK);
    expect_report(dir, "t", GOLDEN "/expected.csv");
    up_store_mem_reset();
}

static void test_failure_leaves_no_report(void)
{
    const char *dir = tu_tmpdir();
    char path[512];
    char *status;
    struct stat sb;

    up_store_mem_reset();
    CU_ASSERT_EQUAL(run("mem:nothing-here", dir, "f", NULL), UP_EDB);
    snprintf(path, sizeof path, "%s/f.csv", dir);
    CU_ASSERT_NOT_EQUAL(stat(path, &sb), 0);
    snprintf(path, sizeof path, "%s/f.status.json", dir);
    status = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(status);
    CU_ASSERT_PTR_NOT_NULL(strstr(status, "\"Failed\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(status, "nothing-here"));
    free(status);
}

static void test_before_every_poll_is_header_only(void)
{
    const char *dir = tu_tmpdir();
    char path[512];
    char *got;

    up_store_mem_reset();
    load_golden("mem:early");
    CU_ASSERT_EQUAL_FATAL(run("mem:early", dir, "e", "2023-01-01 00:00:00 UTC"), UP_OK);
    snprintf(path, sizeof path, "%s/e.csv", dir);
    got = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_STRING_EQUAL(got, UP_REPORT_HEADER);
    free(got);
    up_store_mem_reset();
}

/*
 * A source that changes between rank 0's view and a rank's own, as a SQLite load that
 * commits right then does: the in-memory backend with numbered views, whose first
 * flaky_refusals up_store_read_at calls are refused as changed (up_store_view_changed).
 */
static struct up_store_ops flaky_ops;
static int flaky_refusals, flaky_views, flaky_read_ats;

static int flaky_accepts(const char *url)
{
    return strncmp(url, "mem:flaky", 9) == 0;
}

static enum up_code flaky_open(const char *url, enum up_store_mode mode, struct up_store **out,
                               char *err, size_t errlen)
{
    enum up_code rc = up_store_mem_ops.open(url, mode, out, err, errlen);

    if (rc == UP_OK)
        (*out)->ops = &flaky_ops;
    return rc;
}

static enum up_code flaky_snapshot(struct up_store *st, char *tok, size_t toklen, char *err,
                                   size_t errlen)
{
    (void)st;
    (void)err;
    (void)errlen;
    snprintf(tok, toklen, "%d", ++flaky_views);
    return UP_OK;
}

static enum up_code flaky_read_at(struct up_store *st, const char *tok, char *err, size_t errlen)
{
    flaky_read_ats++;
    if (flaky_refusals > 0) {
        flaky_refusals--;
        st->view_changed = 1;
        snprintf(err, errlen, "the database changed while the report started (view %s)", tok);
        return UP_EDB;
    }
    return UP_OK;
}

static void flaky_register(void)
{
    flaky_ops = up_store_mem_ops;
    flaky_ops.name = "flaky";
    flaky_ops.accepts = flaky_accepts;
    flaky_ops.open = flaky_open;
    flaky_ops.snapshot = flaky_snapshot;
    flaky_ops.read_at = flaky_read_at;
    /* Asked before the in-memory backend, which takes every mem: source. */
    up_store_unregister_backend(&up_store_mem_ops);
    CU_ASSERT_EQUAL_FATAL(up_store_register_backend(&flaky_ops), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_register_backend(&up_store_mem_ops), UP_OK);
}

/* The source changed between rank 0's plan and the ranks' views: the job plans again on a
 * new view (up_dist_pin) and gives the report; one that keeps changing fails after
 * UP_DIST_PIN_TRIES plans with the store's reason, and leaves no report. */
static void test_source_changed_plans_again(void)
{
    const char *dir = tu_tmpdir();
    char path[512];
    char *status;
    struct stat sb;

    up_store_mem_reset();
    flaky_register();
    load_golden("mem:flaky");
    flaky_views = flaky_read_ats = 0;
    flaky_refusals = 1;
    CU_ASSERT_EQUAL(run("mem:flaky", dir, "again", NULL), UP_OK);
    expect_report(dir, "again", GOLDEN "/expected.csv");
    CU_ASSERT_EQUAL(flaky_views, 2);
    CU_ASSERT_EQUAL(flaky_read_ats, 2);

    flaky_views = flaky_read_ats = 0;
    flaky_refusals = 1000;
    CU_ASSERT_EQUAL(run("mem:flaky", dir, "moving", NULL), UP_EDB);
    CU_ASSERT_EQUAL(flaky_views, 3);
    /* Three pins, then the worker's own try on the last view, refused again. */
    CU_ASSERT_EQUAL(flaky_read_ats, 4);
    snprintf(path, sizeof path, "%s/moving.csv", dir);
    CU_ASSERT_NOT_EQUAL(stat(path, &sb), 0);
    snprintf(path, sizeof path, "%s/moving.status.json", dir);
    status = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(status);
    CU_ASSERT_PTR_NOT_NULL(strstr(status, "\"Failed\""));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(status, "the database changed while the report started (view 3)"));
    free(status);
    flaky_refusals = 0;
    up_store_unregister_backend(&flaky_ops);
    up_store_mem_reset();
}

int main(int argc, char **argv)
{
    CU_pSuite s;
    unsigned failures;

    if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
        return 2;
    /* The in-memory backend is the tests' own: the programs do not contain it. */
    if (up_store_register_backend(&up_store_mem_ops) != UP_OK) {
        fprintf(stderr, "cannot register the in-memory storage backend\n");
        MPI_Finalize();
        return 2;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    s = CU_add_suite("job", NULL, NULL);
    if (!s || !CU_add_test(s, "golden report on MPI_COMM_SELF", test_golden_report) ||
        !CU_add_test(s, "loading twice changes nothing", test_loading_twice_changes_nothing) ||
        !CU_add_test(s, "a failure leaves no report", test_failure_leaves_no_report) ||
        !CU_add_test(s, "--now before every poll", test_before_every_poll_is_header_only) ||
        !CU_add_test(s, "a source changed under the plan: planned again",
                     test_source_changed_plans_again)) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    /* CU_basic_run_tests returns success even when tests fail: count them. */
    failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    MPI_Finalize();
    return failures ? 1 : 0;
}
