/* The SQLite backend through the storage interface. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "test_store_util.h"
#include "up_store_mem.h"
#include "test_util.h"
#include "up_store.h"
#include "up_time.h"
#include "up_uptime.h"

#define SEC(x) ((int64_t)(x)*UP_USEC_PER_SEC)

/* The conformance tests below run against SQLite (suite "store") and the in-memory
 * backend (suite "store_mem"): the same calls must give the same answers. */
static int use_mem;

/* A new, empty database of the suite's backend. */
static void fresh_url(char *url, size_t n)
{
    static int serial;

    if (use_mem)
        snprintf(url, n, "mem:t%d", ++serial);
    else
        snprintf(url, n, "sqlite:%s/t.db", tu_tmpdir());
}

static int suite_sqlite(void)
{
    use_mem = 0;
    return 0;
}

static int suite_mem(void)
{
    use_mem = 1;
    return 0;
}

static int suite_mem_clean(void)
{
    up_store_mem_reset();
    return 0;
}

static struct up_store *open_rw(const char *path)
{
    struct up_store *st = NULL;
    char err[512];
    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_WRITE, &st, err, sizeof err), UP_OK);
    return st;
}

static void test_roundtrip_and_order(void)
{
    char path[512], err[512];
    struct up_store *st;
    struct sink s = {"", 0};
    const char *ids[] = {"0123", "123", "B", "a", "\xc3\xa9"};
    int64_t max = 0;
    int any = 0;

    fresh_url(path, sizeof path);
    st = open_rw(path);
    store_load_basic(st);
    up_store_close(st);

    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(st->ops->max_ts(st, &max, &any, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(max, SEC(200));
    CU_ASSERT_EQUAL(any, 1);
    /* Every store with a poll at or before now, weighted by its poll count. */
    CU_ASSERT_EQUAL(st->ops->stores(st, SEC(60), SEC(200), sink_store, &s, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "0123:1;123:1;B:1;a:2;\xc3\xa9:1;");
    /* As of 55 s only "123" (polled at 50 s) exists yet. */
    s.n = 0;
    s.text[0] = '\0';
    CU_ASSERT_EQUAL(st->ops->stores(st, 0, SEC(55), sink_store, &s, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "123:1;");
    s.n = 0;
    s.text[0] = '\0';
    CU_ASSERT_EQUAL(st->ops->hours(st, sink_hours, &s, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:0:9-17;a:1:10-12;hoursonly:0:9-17;");
    s.n = 0;
    s.text[0] = '\0';
    CU_ASSERT_EQUAL(st->ops->timezones(st, sink_tz, &s, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:Asia/Kolkata;");
    /* Polls: window [90 s, 200 s] plus the latest before 90 s per store. */
    s.n = 0;
    s.text[0] = '\0';
    CU_ASSERT_EQUAL(st->ops->polls(st, ids, 5, SEC(90), SEC(200), sink_poll, &s, err, sizeof err),
                    UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "0123@60=0;123@50=1;B@70=1;a@100=1;a@200=0;\xc3\xa9@80=1;");
    up_store_close(st);
}

static void test_carry_in_is_only_the_latest(void)
{
    char path[512], err[512];
    struct up_store *st;
    struct sink s = {"", 0};
    const char *ids[] = {"s"};
    int i;

    fresh_url(path, sizeof path);
    st = open_rw(path);
    CU_ASSERT_EQUAL_FATAL(st->ops->begin(st, err, sizeof err), UP_OK);
    for (i = 1; i <= 10; i++)
        CU_ASSERT_EQUAL(st->ops->put_status(st, "s", SEC(i * 10), i % 2, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(st->ops->commit(st, err, sizeof err), UP_OK);
    /* lo = 75 s, now = 90 s: the carry-in is 70 s; 100 s is after now. */
    CU_ASSERT_EQUAL(st->ops->polls(st, ids, 1, SEC(75), SEC(90), sink_poll, &s, err, sizeof err),
                    UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "s@70=1;s@80=0;s@90=1;");
    /* A poll exactly at lo is in the window, not a carry-in. */
    s.n = 0;
    s.text[0] = '\0';
    CU_ASSERT_EQUAL(st->ops->polls(st, ids, 1, SEC(80), SEC(80), sink_poll, &s, err, sizeof err),
                    UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "s@70=1;s@80=0;");
    up_store_close(st);
}

static void test_reload_replaces_hours_and_upserts(void)
{
    char path[512], err[512];
    struct up_store *st;
    struct sink s = {"", 0};
    struct up_hours_row h3 = {6, SEC(1 * 3600), SEC(2 * 3600)};

    fresh_url(path, sizeof path);
    st = open_rw(path);
    store_load_basic(st);
    CU_ASSERT_EQUAL_FATAL(st->ops->begin(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(st->ops->put_hours(st, "a", &h3, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(st->ops->put_timezone(st, "a", "UTC", err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(st->ops->commit(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(st->ops->hours(st, sink_hours, &s, err, sizeof err), UP_OK);
    /* a's two rows are replaced as a whole; hoursonly, not in this load, keeps its row. */
    CU_ASSERT_STRING_EQUAL(s.text, "a:6:1-2;hoursonly:0:9-17;");
    s.n = 0;
    s.text[0] = '\0';
    CU_ASSERT_EQUAL(st->ops->timezones(st, sink_tz, &s, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:UTC;");
    up_store_close(st);
}

static void test_rollback_keeps_previous_data(void)
{
    char path[512], err[512];
    struct up_store *st;
    struct sink s = {"", 0};

    fresh_url(path, sizeof path);
    st = open_rw(path);
    store_load_basic(st);
    CU_ASSERT_EQUAL_FATAL(st->ops->begin(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(st->ops->put_status(st, "new", SEC(500), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(st->ops->rollback(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(st->ops->stores(st, 0, SEC(1000), sink_store, &s, err, sizeof err), UP_OK);
    CU_ASSERT_PTR_NULL(strstr(s.text, "new"));
    up_store_close(st);
}

static void test_open_errors(void)
{
    const char *dir = tu_tmpdir();
    char path[512], err[512];
    struct up_store *st = NULL;
    FILE *f;

    snprintf(path, sizeof path, "%s/missing.db", dir);
    CU_ASSERT_EQUAL(up_store_open(path, UP_STORE_READ, &st, err, sizeof err), UP_EDB);
    CU_ASSERT_PTR_NULL(st);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing.db"));
    /* A file that is not a database at all. */
    snprintf(path, sizeof path, "%s/junk.db", dir);
    f = fopen(path, "w");
    fputs("this is not sqlite, just text long enough to have a header page........", f);
    fclose(f);
    CU_ASSERT_EQUAL(up_store_open(path, UP_STORE_READ, &st, err, sizeof err), UP_EDB);
    /* A SQLite file without the uptime tables. */
    snprintf(path, sizeof path, "%s/empty.db", dir);
    f = fopen(path, "w");
    fclose(f);
    CU_ASSERT_EQUAL(up_store_open(path, UP_STORE_READ, &st, err, sizeof err), UP_EDB);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not an uptime database"));
    CU_ASSERT_EQUAL(up_store_open("sqlite:", UP_STORE_READ, &st, err, sizeof err), UP_EUSAGE);
}

static void test_redact(void)
{
    char out[256];

    up_store_redact("postgresql://app:s3cret@db.example:5432/uptime", out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "postgresql://app:***@db.example:5432/uptime");
    up_store_redact("host=/tmp port=5433 password=s3cret dbname=uptime", out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "host=/tmp port=5433 password=*** dbname=uptime");
    up_store_redact("postgresql://app@db/uptime", out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "postgresql://app@db/uptime");
    up_store_redact("data/uptime.db", out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "data/uptime.db");
}

int test_store_add(void)
{
    CU_pSuite s = CU_add_suite("store", suite_sqlite, NULL);

    if (!s || !CU_add_test(s, "round trip, byte-wise order", test_roundtrip_and_order) ||
        !CU_add_test(s, "carry-in is the latest poll only", test_carry_in_is_only_the_latest) ||
        !CU_add_test(s, "reload replaces hours, upserts zones",
                     test_reload_replaces_hours_and_upserts) ||
        !CU_add_test(s, "rollback keeps previous data", test_rollback_keeps_previous_data) ||
        !CU_add_test(s, "open errors", test_open_errors) ||
        !CU_add_test(s, "passwords hidden", test_redact))
        return CU_get_error();
    return CUE_SUCCESS;
}

int test_store_mem_add(void)
{
    CU_pSuite s = CU_add_suite("store_mem", suite_mem, suite_mem_clean);

    if (!s || !CU_add_test(s, "round trip, byte-wise order", test_roundtrip_and_order) ||
        !CU_add_test(s, "carry-in is the latest poll only", test_carry_in_is_only_the_latest) ||
        !CU_add_test(s, "reload replaces hours, upserts zones",
                     test_reload_replaces_hours_and_upserts) ||
        !CU_add_test(s, "rollback keeps previous data", test_rollback_keeps_previous_data))
        return CU_get_error();
    return CUE_SUCCESS;
}
