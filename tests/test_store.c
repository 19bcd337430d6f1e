/* The SQLite and in-memory backends through the storage interface, and the interface's
 * own rules: which backend takes a source, capabilities, read-only backends. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "test_store_util.h"
#include "up_deadline.h"
#include "up_store_mem.h"
#include "test_util.h"
#include "up_load.h"
#include "up_source.h"
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
    struct up_store_sink ss = sink_all(&s);
    const char *ids[] = {"0123", "123", "B", "a", "\xc3\xa9"};
    int64_t max = 0;
    int any = 0;

    fresh_url(path, sizeof path);
    st = open_rw(path);
    store_load_basic(st);
    up_store_close(st);

    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_max_ts(st, &max, &any, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(max, SEC(200));
    CU_ASSERT_EQUAL(any, 1);
    /* Every store with a poll at or before now, weighted by its poll count. */
    CU_ASSERT_EQUAL(up_store_stores(st, SEC(60), SEC(200), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "0123:1;123:1;B:1;a:2;\xc3\xa9:1;");
    /* As of 55 s only "123" (polled at 50 s) exists yet. */
    s.n = 0;
    s.text[0] = '\0';
    CU_ASSERT_EQUAL(up_store_stores(st, 0, SEC(55), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "123:1;");
    s.n = 0;
    s.text[0] = '\0';
    CU_ASSERT_EQUAL(up_store_hours(st, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:0:9-17;a:1:10-12;hoursonly:0:9-17;");
    s.n = 0;
    s.text[0] = '\0';
    CU_ASSERT_EQUAL(up_store_timezones(st, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:Asia/Kolkata;");
    /* Polls: window [90 s, 200 s] plus the latest before 90 s per store. */
    s.n = 0;
    s.text[0] = '\0';
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 5, SEC(90), SEC(200), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "0123@60=0;123@50=1;B@70=1;a@100=1;a@200=0;\xc3\xa9@80=1;");
    up_store_close(st);
}

/* A bulk poll sink: one "[" ... "]" per call, the polls as sink_poll writes them. */
static int sink_polls_of(void *ctx, const char *id, const int64_t *ts, const uint8_t *active,
                         size_t n)
{
    size_t k;

    sink_add(ctx, "[");
    for (k = 0; k < n; k++)
        sink_poll(ctx, id, ts[k], active[k]);
    sink_add(ctx, "]");
    return 0;
}

static void test_carry_in_is_only_the_latest(void)
{
    char path[512], err[512];
    struct up_store *st;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    const char *ids[] = {"s"};
    int i;

    fresh_url(path, sizeof path);
    st = open_rw(path);
    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    for (i = 1; i <= 10; i++)
        CU_ASSERT_EQUAL(up_store_put_status(st, "s", SEC(i * 10), i % 2, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
    /* lo = 75 s, now = 90 s: the carry-in is 70 s; 100 s is after now. */
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 1, SEC(75), SEC(90), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "s@70=1;s@80=0;s@90=1;");
    /* A poll exactly at lo is in the window, not a carry-in. */
    s.n = 0;
    s.text[0] = '\0';
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 1, SEC(80), SEC(80), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "s@70=1;s@80=0;");
    /* The bulk form, where a backend gives it: the same polls, one call for the store. */
    ss.polls_of = sink_polls_of;
    s.n = 0;
    s.text[0] = '\0';
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 1, SEC(75), SEC(90), &ss, err, sizeof err), UP_OK);
    if (strchr(s.text, '[')) {
        CU_ASSERT_STRING_EQUAL(s.text, "[s@70=1;s@80=0;s@90=1;]");
    } else {
        CU_ASSERT_STRING_EQUAL(s.text, "s@70=1;s@80=0;s@90=1;");
    }
    up_store_close(st);
}

/* Retention: every poll before TS goes but each store's latest one before it; stores
 * with nothing before TS are untouched; the store list and weights follow. */
static void test_prune_keeps_the_carry_in(void)
{
    char path[512], err[512];
    struct up_store *st;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    const char *ids[] = {"a", "b", "c"};
    int64_t deleted = -1;

    fresh_url(path, sizeof path);
    st = open_rw(path);
    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    /* a: 10 20 30 40 (two before 25 s go, 20 stays); b: 5 (alone before 25: stays);
     * c: 30 50 (nothing before 25). */
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(10), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(15), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(20), 0, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(30), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(40), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "b", SEC(5), 0, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "c", SEC(30), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "c", SEC(50), 0, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_prune(st, SEC(25), &deleted, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(deleted, 2);
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 3, SEC(0), SEC(100), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a@20=0;a@30=1;a@40=1;b@5=0;c@30=1;c@50=0;");
    sink_reset(&s);
    /* Weights are poll counts: a lost two. */
    CU_ASSERT_EQUAL(up_store_stores(st, 0, SEC(100), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:3;b:1;c:2;");
    sink_reset(&s);
    /* A store exists as of its (new) first poll: a as of 20 s. */
    CU_ASSERT_EQUAL(up_store_stores(st, 0, SEC(20), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:3;b:1;");
    /* Again: nothing left to delete. */
    CU_ASSERT_EQUAL(up_store_prune(st, SEC(25), &deleted, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(deleted, 0);
    up_store_close(st);
}

/* More polls than one multi-row INSERT holds (128), loaded twice, the second time with
 * one of them inactive and new polls after them: the stored rows and the summary are
 * those of one load of everything (duplicates merge, inactive wins, counts are exact). */
static void test_many_polls_reloaded(void)
{
    char path[512], err[512], want[64];
    struct up_store *st;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    const char *ids[] = {"p"};
    int i, load;

    fresh_url(path, sizeof path);
    st = open_rw(path);
    for (load = 0; load < 2; load++) {
        CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
        /* 300 polls of p at 1..300 s and one of q, interleaved as an export would. */
        for (i = 1; i <= 300; i++) {
            int active = !(load == 1 && i == 150);
            CU_ASSERT_EQUAL(up_store_put_status(st, "p", SEC(i), active, err, sizeof err), UP_OK);
            if (i == 7)
                CU_ASSERT_EQUAL(up_store_put_status(st, "q", SEC(7), 1, err, sizeof err), UP_OK);
        }
        if (load == 1)
            for (i = 301; i <= 310; i++)
                CU_ASSERT_EQUAL(up_store_put_status(st, "p", SEC(i), 1, err, sizeof err), UP_OK);
        CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
    }
    /* 310 polls of p (300 + 10 new), 1 of q. */
    CU_ASSERT_EQUAL(up_store_stores(st, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "p:310;q:1;");
    sink_reset(&s);
    /* The window [149 s, 151 s]: the carry-in 148 s, then 149..151 with 150 inactive. */
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 1, SEC(149), SEC(151), &ss, err, sizeof err), UP_OK);
    snprintf(want, sizeof want, "p@148=1;p@149=1;p@150=0;p@151=1;");
    CU_ASSERT_STRING_EQUAL(s.text, want);
    up_store_close(st);
}

static void test_reload_replaces_hours_and_upserts(void)
{
    char path[512], err[512];
    struct up_store *st;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    struct up_hours_row h3 = {6, SEC(1 * 3600), SEC(2 * 3600)};

    fresh_url(path, sizeof path);
    st = open_rw(path);
    store_load_basic(st);
    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "a", &h3, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_timezone(st, "a", "UTC", err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_hours(st, &ss, err, sizeof err), UP_OK);
    /* a's two rows are replaced as a whole; hoursonly, not in this load, keeps its row. */
    CU_ASSERT_STRING_EQUAL(s.text, "a:6:1-2;hoursonly:0:9-17;");
    s.n = 0;
    s.text[0] = '\0';
    CU_ASSERT_EQUAL(up_store_timezones(st, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:UTC;");
    up_store_close(st);
}

static void test_rollback_keeps_previous_data(void)
{
    char path[512], err[512];
    struct up_store *st;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);

    fresh_url(path, sizeof path);
    st = open_rw(path);
    store_load_basic(st);
    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "new", SEC(500), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_rollback(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_stores(st, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
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

    up_source_redact("postgresql://app:s3cret@db.example:5432/uptime", out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "postgresql://app:***@db.example:5432/uptime");
    up_source_redact("host=/tmp port=5433 password=s3cret dbname=uptime", out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "host=/tmp port=5433 password=*** dbname=uptime");
    up_source_redact("postgresql://app@db/uptime", out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "postgresql://app@db/uptime");
    up_source_redact("data/uptime.db", out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "data/uptime.db");
}

/* ---- SQLite's one view per report (suite "store" only: the in-memory backend has no
 * concurrent writer to pin against). ---- */

/* Runs sql on path with SQLite itself (what an older version of the loader left, the
 * journal mode); returns the first column of the last row, "" when none. */
static const char *raw_sql(const char *path, const char *sql)
{
    static char out[128];
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    const char *rest = sql;

    out[0] = '\0';
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    while (rest && *rest) {
        int r;
        CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db, rest, -1, &q, &rest), SQLITE_OK);
        if (!q)
            break;
        while ((r = sqlite3_step(q)) == SQLITE_ROW)
            snprintf(out, sizeof out, "%s",
                     sqlite3_column_text(q, 0) ? (const char *)sqlite3_column_text(q, 0) : "");
        CU_ASSERT_EQUAL(r, SQLITE_DONE);
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    return out;
}

/* A consumer that stops a poll scan at its second poll. */
static int stop_at_second(void *ctx, const char *id, int64_t ts, int active)
{
    (void)id;
    (void)ts;
    (void)active;
    return ++*(int *)ctx >= 2;
}

static void load_one_poll(struct up_store *w, const char *id, int64_t ts)
{
    char err[512];

    CU_ASSERT_EQUAL_FATAL(up_store_begin(w, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(w, id, ts, 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(w, err, sizeof err), UP_OK);
}

/* A load that commits after rank 0's up_store_snapshot is invisible to every later read
 * of rank 0; another connection opened after it cannot read that commit any more and is
 * refused with the generations named (the job then plans again); one given the new token
 * reads the new data. */
static void test_sqlite_one_view(void)
{
    const char *dir = tu_tmpdir();
    char path[600], file[512], err[512], tok[UP_STORE_TOKEN_MAX], tok2[UP_STORE_TOKEN_MAX];
    char hex[64];
    struct up_store *w, *r0, *r1, *r2, *r3;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    struct up_hours_row h = {2, SEC(3600), SEC(7200)};
    const char *a[] = {"a"};
    int seen = 0;
    const struct up_store_sink stop = {NULL, NULL, NULL, stop_at_second, &seen, NULL, NULL};
    int64_t max = 0, deleted = 0;
    int any = 0;

    snprintf(file, sizeof file, "%s/view.db", dir);
    snprintf(path, sizeof path, "sqlite:%s", file);
    w = open_rw(path);
    store_load_basic(w);
    /* The loader put the file in WAL mode and counted its load. */
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "PRAGMA journal_mode"), "wal");
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT generation FROM uptime_meta"), "1");
    snprintf(hex, sizeof hex, "%s", raw_sql(file, "SELECT db_id FROM uptime_meta"));
    CU_ASSERT_EQUAL(strlen(hex), 16);

    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &r0, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_snapshot(r0, tok, sizeof tok, err, sizeof err), UP_OK);
    snprintf(tok2, sizeof tok2, "sqlite:1-%s", hex);
    CU_ASSERT_STRING_EQUAL(tok, tok2);
    /* Pinned once: a second snapshot on the same connection is a usage error. */
    CU_ASSERT_EQUAL(up_store_snapshot(r0, tok2, sizeof tok2, err, sizeof err), UP_EUSAGE);

    /* A load commits while rank 0 holds its view (WAL: it does not wait for the reader). */
    CU_ASSERT_EQUAL_FATAL(up_store_begin(w, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(w, "a", &h, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(w, "a", SEC(300), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(w, "new", SEC(250), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(w, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT generation FROM uptime_meta"), "2");

    /* Rank 0 still reads the view it planned on, in every read. */
    CU_ASSERT_EQUAL(up_store_max_ts(r0, &max, &any, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(max, SEC(200));
    CU_ASSERT_EQUAL(up_store_stores(r0, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "0123:1;123:1;B:1;a:2;\xc3\xa9:1;");
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_hours(r0, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:0:9-17;a:1:10-12;hoursonly:0:9-17;");
    sink_reset(&s);
    /* ... also after a consumer stopped a read (the statement ends, not the view). */
    CU_ASSERT_EQUAL(up_store_polls(r0, a, 1, 0, SEC(1000), &stop, err, sizeof err), UP_EFAIL);
    CU_ASSERT_EQUAL(up_store_polls(r0, a, 1, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a@100=1;a@200=0;");
    sink_reset(&s);

    /* Another rank opened after the commit cannot read rank 0's commit: refused, with the
     * generations named, and no read of it runs afterwards. */
    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &r1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_view_changed(r1), 0);
    CU_ASSERT_EQUAL(up_store_read_at(r1, tok, err, sizeof err), UP_EDB);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "the database changed while the report started"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "load generation 2, expected 1"));
    CU_ASSERT_EQUAL(up_store_view_changed(r1), 1);
    CU_ASSERT_EQUAL(up_store_polls(r1, a, 1, 0, SEC(1000), &ss, err, sizeof err), UP_EDB);
    CU_ASSERT_STRING_EQUAL(s.text, "");
    up_store_close(r1);

    /* Planned again: a new view, its token, and a rank that reads it. */
    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &r2, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_snapshot(r2, tok2, sizeof tok2, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(strncmp(tok2, "sqlite:2-", 9), 0);
    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &r3, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_read_at(r3, tok2, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_view_changed(r3), 0);
    CU_ASSERT_EQUAL(up_store_polls(r3, a, 1, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a@100=1;a@200=0;a@300=1;");
    sink_reset(&s);
    /* A prune is a commit too: it moves the generation on. */
    CU_ASSERT_EQUAL(up_store_prune(w, SEC(150), &deleted, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT generation FROM uptime_meta"), "3");
    up_store_close(r3);
    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &r3, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_read_at(r3, tok2, err, sizeof err), UP_EDB);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "load generation 3, expected 2"));
    up_store_close(r3);

    /* Tokens that are not this backend's, or not well formed, never read anything. */
    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &r3, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_read_at(r3, "postgresql:1-00", err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_read_at(r3, "sqlite:", err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_read_at(r3, "sqlite:abc", err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_read_at(r3, "sqlite:3", err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_read_at(r3, "sqlite:03-abcd", err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_read_at(r3, "sqlite:0-abcd", err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_read_at(r3, "sqlite:3-XYZ", err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_read_at(r3, "sqlite:-3-ab", err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_view_changed(r3), 0);
    /* A database loaded anew at the same path is not the one of the token. */
    snprintf(tok2, sizeof tok2, "sqlite:3-%s",
             strcmp(hex, "0123456789abcdef") != 0 ? "0123456789abcdef" : "fedcba9876543210");
    CU_ASSERT_EQUAL(up_store_read_at(r3, tok2, err, sizeof err), UP_EDB);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "the database was replaced"));
    CU_ASSERT_EQUAL(up_store_view_changed(r3), 1);
    up_store_close(r3);
    up_store_close(r2);
    up_store_close(r0);
    up_store_close(w);
}

/* A database of an older version (rollback journal, no uptime_meta) is read with
 * generation 0, still one view per connection; its next load switches it to WAL and
 * starts the generation, which a reader pinned to "0" then sees as a change. */
static void test_sqlite_older_database(void)
{
    const char *dir = tu_tmpdir();
    char path[600], file[512], err[512], tok[UP_STORE_TOKEN_MAX];
    struct up_store *w, *r0, *r1;
    int64_t max = 0;
    int any = 0;

    snprintf(file, sizeof file, "%s/old.db", dir);
    snprintf(path, sizeof path, "sqlite:%s", file);
    w = open_rw(path);
    store_load_basic(w);
    up_store_close(w);
    /* This version makes 16 KiB pages; an older one made SQLite's default, 4 KiB. */
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "PRAGMA page_size"), "16384");
    raw_sql(file, "DROP TABLE uptime_meta; PRAGMA journal_mode = DELETE;");
    raw_sql(file, "PRAGMA page_size = 4096; VACUUM;");
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "PRAGMA journal_mode"), "delete");
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "PRAGMA page_size"), "4096");

    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &r0, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_snapshot(r0, tok, sizeof tok, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(tok, "sqlite:0");
    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &r1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_read_at(r1, tok, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_max_ts(r1, &max, &any, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(max, SEC(200));
    up_store_close(r1);
    up_store_close(r0);

    /* The next load (no reader now) switches the file to WAL and counts itself. */
    w = open_rw(path);
    load_one_poll(w, "a", SEC(300));
    up_store_close(w);
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "PRAGMA journal_mode"), "wal");
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "PRAGMA page_size"), "4096"); /* kept, not rewritten */
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT generation FROM uptime_meta"), "1");
    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &r1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_read_at(r1, tok, err, sizeof err), UP_EDB);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "load generation 1, expected 0"));
    up_store_close(r1);
}

/* Puts one poll (asserted). */
static void put(struct up_store *w, const char *id, int64_t ts, int active)
{
    char err[512];
    CU_ASSERT_EQUAL(up_store_put_status(w, id, ts, active, err, sizeof err), UP_OK);
}

/* up_store_stores as of now, up_store_polls of a, b, c and up_store_max_ts, as one text. */
static const char *read_all(const char *path, int64_t now)
{
    static struct sink s;
    struct up_store_sink ss = sink_all(&s);
    struct up_store *r = NULL;
    const char *ids[] = {"a", "b", "c", "d"};
    char err[512];
    int64_t max = 0;
    int any = 0;

    sink_reset(&s);
    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &r, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_stores(r, 0, now, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_polls(r, ids, 4, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_max_ts(r, &max, &any, err, sizeof err), UP_OK);
    sink_add(&s, "max %lld", (long long)(any ? max / UP_USEC_PER_SEC : -1));
    up_store_close(r);
    return s.text;
}

/*
 * Hourly loads into the recent table (docs/schema.md "Hourly loads"): the summary holds the
 * polls of store_status, uptime_recent_share the recent ones (per store: first instant and
 * count, and the latest instant), and every read gives what one load of all the polls
 * gives: a store first seen in a late hour, a duplicate inside an hour (inactive wins), a
 * reloaded recent poll, a late poll (its store's recent polls moved to store_status), then
 * a merge (a prune of nothing) that folds the share into the summary. Worked by hand.
 */
static void test_sqlite_hourly_share(void)
{
    const char *dir = tu_tmpdir();
    char path[600], file[512], fpath[600], ffile[512], err[512];
    const char *all = "a:5;b:2;c:3;a@10=1;a@15=0;a@20=1;a@30=0;a@40=1;b@5=1;b@10=0;"
                      "c@20=1;c@25=1;c@26=0;max 40";
    struct up_store *w;
    int64_t deleted = -1;

    snprintf(file, sizeof file, "%s/hourly.db", dir);
    snprintf(path, sizeof path, "sqlite:%s", file);
    w = open_rw(path);
    /* First load: a 10, 20; b 10 (to store_status). */
    CU_ASSERT_EQUAL_FATAL(up_store_begin(w, err, sizeof err), UP_OK);
    put(w, "a", SEC(10), 1);
    put(w, "a", SEC(20), 1);
    put(w, "b", SEC(10), 0);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(w, err, sizeof err), UP_OK);
    /* Hour 1: a 30 twice (active, inactive: one inactive poll), c 25 (a new store). */
    CU_ASSERT_EQUAL_FATAL(up_store_begin(w, err, sizeof err), UP_OK);
    put(w, "a", SEC(30), 1);
    put(w, "c", SEC(25), 1);
    put(w, "a", SEC(30), 0);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(w, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT count(*) FROM store_status_recent"), "2");
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT nrows FROM uptime_recent"), "2");
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT max_ts FROM uptime_recent_share"), "30000000");
    /* The summary is untouched: a (10, 20, 2), b; no row for c. */
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT group_concat(store_id || ',' || first_ts || ','"
                                         " || last_ts || ',' || npolls, ';') FROM store_summary"),
                           "a,10000000,20000000,2;b,10000000,10000000,1");
    CU_ASSERT_STRING_EQUAL(read_all(path, SEC(100)),
                           "a:3;b:1;c:1;a@10=1;a@20=1;a@30=0;b@10=0;c@25=1;max 30");
    /* c exists as of its first poll, 25 s. */
    CU_ASSERT_STRING_EQUAL(read_all(path, SEC(24)), "a:3;b:1;a@10=1;a@20=1;a@30=0;b@10=0;c@25=1;"
                                                    "max 30");
    /* Hour 2: a 30 again active (stored inactive: stays), a 40, c 26. */
    CU_ASSERT_EQUAL_FATAL(up_store_begin(w, err, sizeof err), UP_OK);
    put(w, "a", SEC(30), 1);
    put(w, "c", SEC(26), 0);
    put(w, "a", SEC(40), 1);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(w, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(read_all(path, SEC(100)), "a:4;b:1;c:2;a@10=1;a@20=1;a@30=0;a@40=1;"
                                                     "b@10=0;c@25=1;c@26=0;max 40");
    /* Late polls: a 15 (a's recent polls move to store_status), b 5 (b has none), c 20 (c
     * has no store_status poll: it stays in the recent table). */
    CU_ASSERT_EQUAL_FATAL(up_store_begin(w, err, sizeof err), UP_OK);
    put(w, "a", SEC(15), 0);
    put(w, "b", SEC(5), 1);
    put(w, "c", SEC(20), 1);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(w, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(read_all(path, SEC(100)), all);
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT group_concat(store_id || '@' || ts_utc, ';')"
                                         " FROM store_status_recent"),
                           "c@20000000;c@25000000;c@26000000");
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT group_concat(store_id || ',' || first_ts || ','"
                                         " || last_ts || ',' || npolls, ';') FROM store_summary"),
                           "a,10000000,40000000,5;b,5000000,10000000,2");
    /* The bound on store_status's instants: a's moved polls reach 40 s. */
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT main_max FROM uptime_recent_share"), "40000000");

    /* The same polls in one first load read the same. */
    snprintf(ffile, sizeof ffile, "%s/hourly-full.db", dir);
    snprintf(fpath, sizeof fpath, "sqlite:%s", ffile);
    {
        struct up_store *f = open_rw(fpath);
        CU_ASSERT_EQUAL_FATAL(up_store_begin(f, err, sizeof err), UP_OK);
        put(f, "c", SEC(26), 0);
        put(f, "a", SEC(40), 1);
        put(f, "a", SEC(30), 0);
        put(f, "b", SEC(10), 0);
        put(f, "a", SEC(15), 0);
        put(f, "c", SEC(20), 1);
        put(f, "a", SEC(10), 1);
        put(f, "b", SEC(5), 1);
        put(f, "a", SEC(20), 1);
        put(f, "c", SEC(25), 1);
        CU_ASSERT_EQUAL_FATAL(up_store_commit(f, err, sizeof err), UP_OK);
        up_store_close(f);
    }
    CU_ASSERT_STRING_EQUAL(read_all(fpath, SEC(100)), all);
    CU_ASSERT_STRING_EQUAL(read_all(fpath, SEC(19)), read_all(path, SEC(19)));

    /* A merge (a prune of nothing) folds the share into the summary. */
    CU_ASSERT_EQUAL(up_store_prune(w, SEC(1), &deleted, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(deleted, 0);
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT count(*) FROM store_status_recent"), "0");
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT coalesce(max_ts, 'null') ||"
                                         " coalesce(stores, 'null') FROM uptime_recent_share"),
                           "nullnull");
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT first_ts || ',' || last_ts || ',' || npolls"
                                         " FROM store_summary WHERE store_id = 'c'"),
                           "20000000,26000000,3");
    CU_ASSERT_STRING_EQUAL(read_all(path, SEC(100)), all);

    /* A database of the layout before (its summary held the recent polls, no share table),
     * made by hand from this one, then loaded by this version. */
    CU_ASSERT_EQUAL_FATAL(up_store_begin(w, err, sizeof err), UP_OK);
    put(w, "c", SEC(27), 1);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(w, err, sizeof err), UP_OK);
    up_store_close(w);
    /* What that version wrote for the same loads: c 27 in the recent table and counted in
     * the summary. */
    raw_sql(file, "DROP TABLE uptime_recent_share; UPDATE store_summary SET last_ts = 27000000,"
                  " npolls = 4 WHERE store_id = 'c';");
    w = open_rw(path);
    load_one_poll(w, "d", SEC(50));
    up_store_close(w);
    /* Its recent table was merged as it stood (not counted twice); d is recent. */
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT group_concat(store_id || '@' || ts_utc, ';')"
                                         " FROM store_status_recent"),
                           "d@50000000");
    CU_ASSERT_STRING_EQUAL(read_all(path, SEC(100)),
                           "a:5;b:2;c:4;d:1;a@10=1;a@15=0;a@20=1;a@30=0;a@40=1;b@5=1;b@10=0;"
                           "c@20=1;c@25=1;c@26=0;c@27=1;d@50=1;max 50");

    /* An older uptime_load writes an hour (d 60 inactive, a 50) its way: recent table,
     * counted in the summary, the generation moved on. Reads refuse (the summary and the
     * share would count d twice); the next load of this version repairs, then b 70. */
    raw_sql(file, "INSERT INTO store_status_recent VALUES ('d', 60000000, 0), ('a', 50000000, 1);"
                  "UPDATE uptime_recent SET nrows = nrows + 2;"
                  "UPDATE store_summary SET last_ts = 50000000, npolls = npolls + 1"
                  " WHERE store_id = 'a';"
                  "INSERT INTO store_summary VALUES ('d', 60000000, 60000000, 1);"
                  "UPDATE uptime_meta SET generation = generation + 1;");
    {
        struct sink t = {"", 0};
        struct up_store_sink ts = sink_all(&t);
        struct up_store *r = NULL;
        CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &r, err, sizeof err), UP_OK);
        CU_ASSERT_EQUAL(up_store_stores(r, 0, SEC(100), &ts, err, sizeof err), UP_EDB);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "an older uptime_load wrote"));
        up_store_close(r);
    }
    w = open_rw(path);
    load_one_poll(w, "b", SEC(70));
    up_store_close(w);
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT group_concat(store_id || '@' || ts_utc, ';')"
                                         " FROM store_status_recent"),
                           "b@70000000");
    CU_ASSERT_STRING_EQUAL(read_all(path, SEC(100)),
                           "a:6;b:3;c:4;d:2;a@10=1;a@15=0;a@20=1;a@30=0;a@40=1;a@50=1;b@5=1;"
                           "b@10=0;b@70=1;c@20=1;c@25=1;c@26=0;c@27=1;d@50=1;d@60=0;max 70");
}

/* store_meta's row of id: "zone|HEX(hours)" ("" for NULL parts, "-" for no row). */
static const char *meta_of(const char *file, const char *id)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT '-'; SELECT coalesce(timezone_str, '') || '|' || hex(hours) FROM store_meta"
             " WHERE store_id = '%s'",
             id);
    return raw_sql(file, sql);
}

/* Is store_meta marked as made at the database's generation? */
static const char *meta_state(const char *file)
{
    return raw_sql(file, "SELECT EXISTS (SELECT 1 FROM store_meta_state m, uptime_meta u"
                         " WHERE m.generation = u.generation)");
}

/* Hours rows packed 18 bytes each, big-endian int16 day, int64 start, int64 end (µs):
 * day 0 09:00-17:00 = 0, 32 400 000 000, 61 200 000 000. */
#define H_0_9_17                                                                                   \
    "0000"                                                                                         \
    "000000078B30C400"                                                                             \
    "0000000E3FCDE400"
#define H_1_10_12                                                                                  \
    "0001"                                                                                         \
    "0000000861C46800"                                                                             \
    "0000000A0EEBB000"

/*
 * store_meta (the hours and zones as reports read them) follows every load: made with the
 * first, rewritten for the stores a later load names, whole again after a load by an
 * older version (generation moved without it); reads fall back to business_hours and
 * store_timezone whenever it is not current, and a damaged row is an error, not a report.
 */
static void test_sqlite_store_meta(void)
{
    const char *dir = tu_tmpdir();
    char path[600], file[512], err[512];
    struct up_store *w, *r;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    struct up_hours_row h3 = {6, SEC(1 * 3600), SEC(2 * 3600)};

    snprintf(file, sizeof file, "%s/meta.db", dir);
    snprintf(path, sizeof path, "sqlite:%s", file);
    unlink(file);
    w = open_rw(path);
    store_load_basic(w);
    CU_ASSERT_STRING_EQUAL(meta_state(file), "1");
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT count(*) FROM store_meta"), "2");
    CU_ASSERT_STRING_EQUAL(meta_of(file, "a"), "Asia/Kolkata|" H_0_9_17 H_1_10_12);
    CU_ASSERT_STRING_EQUAL(meta_of(file, "hoursonly"), "|" H_0_9_17);
    CU_ASSERT_STRING_EQUAL(meta_of(file, "B"), "-");

    /* A later load: a zone for B, new hours for a; hoursonly's row is left as it was. */
    CU_ASSERT_EQUAL_FATAL(up_store_begin(w, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_timezone(w, "B", "Pacific/Chatham", err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(w, "a", &h3, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(w, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(meta_state(file), "1");
    CU_ASSERT_STRING_EQUAL(meta_of(file, "a"), "Asia/Kolkata|"
                                               "0006"
                                               "00000000D693A400"
                                               "00000001AD274800");
    CU_ASSERT_STRING_EQUAL(meta_of(file, "B"), "Pacific/Chatham|");
    CU_ASSERT_EQUAL(up_store_hours(w, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:6:1-2;hoursonly:0:9-17;");
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_timezones(w, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "B:Pacific/Chatham;a:Asia/Kolkata;");
    sink_reset(&s);

    /* A prune changes no hours: store_meta stays current. */
    {
        int64_t deleted = -1;
        CU_ASSERT_EQUAL(up_store_prune(w, SEC(250), &deleted, err, sizeof err), UP_OK);
        /* a's poll at 100 s; 200 s, its latest before 250 s, is kept (the carry-in). */
        CU_ASSERT_EQUAL(deleted, 1);
    }
    CU_ASSERT_STRING_EQUAL(meta_state(file), "1");
    up_store_close(w);

    /* What an older loader does: changes the tables of record and the generation only. */
    raw_sql(file, "UPDATE business_hours SET start_time_us = 28800000000"
                  " WHERE store_id = 'hoursonly';"
                  "DELETE FROM store_timezone WHERE store_id = 'B';"
                  "UPDATE uptime_meta SET generation = generation + 1;");
    CU_ASSERT_STRING_EQUAL(meta_state(file), "0");
    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &r, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_hours(r, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:6:1-2;hoursonly:0:8-17;");
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_timezones(r, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:Asia/Kolkata;");
    sink_reset(&s);
    up_store_close(r);
    /* A prune keeps it stale; the next load (one poll, no hours) makes it whole again. */
    w = open_rw(path);
    {
        int64_t deleted = -1;
        CU_ASSERT_EQUAL(up_store_prune(w, SEC(1), &deleted, err, sizeof err), UP_OK);
    }
    CU_ASSERT_STRING_EQUAL(meta_state(file), "0");
    load_one_poll(w, "a", SEC(300));
    up_store_close(w);
    CU_ASSERT_STRING_EQUAL(meta_state(file), "1");
    CU_ASSERT_STRING_EQUAL(meta_of(file, "hoursonly"), "|"
                                                       "0000"
                                                       "00000006B49D2000"
                                                       "0000000E3FCDE400");
    CU_ASSERT_STRING_EQUAL(meta_of(file, "B"), "-");

    /* A database made before store_meta reads from the two tables; its next load adds it. */
    raw_sql(file, "DROP TABLE store_meta; DROP TABLE store_meta_state;");
    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &r, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_hours(r, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:6:1-2;hoursonly:0:8-17;");
    sink_reset(&s);
    up_store_close(r);
    w = open_rw(path);
    load_one_poll(w, "a", SEC(400));
    up_store_close(w);
    CU_ASSERT_STRING_EQUAL(meta_state(file), "1");
    CU_ASSERT_STRING_EQUAL(raw_sql(file, "SELECT count(*) FROM store_meta"), "2");

    /* A damaged row: a clear error naming the store, no hours handed on. */
    raw_sql(file, "UPDATE store_meta SET hours = x'0001' WHERE store_id = 'hoursonly';");
    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &r, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_hours(r, &ss, err, sizeof err), UP_EDB);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "store_meta.hours of store hoursonly is damaged"));
    up_store_close(r);
}

/* A first load that fails leaves nothing: no file, journal, WAL or shared-memory index. */
static void test_sqlite_failed_first_load(void)
{
    const char *dir = tu_tmpdir();
    char path[512], name[600], err[512];
    const char *side[] = {"", "-journal", "-wal", "-shm"};
    struct up_store *w;
    size_t i;

    snprintf(path, sizeof path, "%s/first.db", dir);
    w = open_rw(path);
    CU_ASSERT_EQUAL_FATAL(up_store_begin(w, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(w, "a", SEC(100), 1, err, sizeof err), UP_OK);
    up_store_close(w);
    for (i = 0; i < sizeof side / sizeof side[0]; i++) {
        snprintf(name, sizeof name, "%s%s", path, side[i]);
        CU_ASSERT_EQUAL(access(name, F_OK), -1);
    }
    /* A committed one leaves the database, in WAL mode, and its emptied WAL. */
    w = open_rw(path);
    load_one_poll(w, "a", SEC(100));
    up_store_close(w);
    CU_ASSERT_EQUAL(access(path, F_OK), 0);
    snprintf(name, sizeof name, "%s-wal", path);
    {
        struct stat sb;
        CU_ASSERT_EQUAL(stat(name, &sb), 0);
        CU_ASSERT_EQUAL(sb.st_size, 0);
    }
}

/* A poll sink that, at its first store, starts a 1 s deadline and sleeps past it. */
static int late_polls_of(void *ctx, const char *id, const int64_t *ts, const uint8_t *active,
                         size_t n)
{
    int *calls = ctx;

    (void)id, (void)ts, (void)active, (void)n;
    if ((*calls)++ == 0) {
        up_deadline_set(1);
        usleep(1100 * 1000);
    }
    return 0;
}

static int late_poll(void *ctx, const char *id, int64_t ts, int active)
{
    (void)ctx, (void)id, (void)ts, (void)active;
    return 1; /* never called: the bulk member is set */
}

/*
 * The run's --timeout inside a statement: the deadline passes while the poll scan runs (in
 * the sink, after the first store), and the next store's statement is interrupted by
 * SQLite's progress handler, not left to run: the deadline's error, UP_ETIMEOUT (exit 8).
 */
static void test_sqlite_statement_deadline(void)
{
    char path[512], err[512];
    struct up_store *st;
    const char *ids[] = {"a", "b"};
    struct up_store_sink ss = {NULL, NULL, NULL, late_poll, NULL, NULL, late_polls_of};
    int calls = 0, i;

    fresh_url(path, sizeof path);
    st = open_rw(path);
    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    /* Enough rows that one store's scan takes more than PROGRESS_STEPS steps. */
    for (i = 1; i <= 5000; i++) {
        CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(i), 1, err, sizeof err), UP_OK);
        CU_ASSERT_EQUAL(up_store_put_status(st, "b", SEC(i), 0, err, sizeof err), UP_OK);
    }
    CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
    up_store_close(st);

    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &st, err, sizeof err), UP_OK);
    ss.ctx = &calls;
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 2, 0, SEC(6000), &ss, err, sizeof err), UP_ETIMEOUT);
    CU_ASSERT_EQUAL(calls, 1); /* store b never reached the sink */
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "read polls: timed out after 1 s (--timeout)"));
    up_deadline_set(0);
    up_store_close(st);
    /* Without the deadline the same read goes through (calls past 0: no new deadline). */
    CU_ASSERT_EQUAL_FATAL(up_store_open(path, UP_STORE_READ, &st, err, sizeof err), UP_OK);
    calls = 1;
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 2, 0, SEC(6000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(calls, 3);
    up_store_close(st);
}

/* ---- The interface's own rules (suite "store"). ---- */

/* A read-only stand-in for the coming HDF5 snapshot backend: it takes HDF5 sources, holds
 * one store with one poll at 100 s, and has no write ops. */
struct snap_store {
    struct up_store base;
};

static const struct up_store_ops snap_ops;

static int snap_accepts(const char *url)
{
    return up_source_kind(url) == UP_SOURCE_HDF5;
}

static enum up_code snap_open(const char *url, enum up_store_mode mode, struct up_store **out,
                              char *err, size_t errlen)
{
    struct snap_store *s;

    (void)url;
    CU_ASSERT_EQUAL(mode, UP_STORE_READ); /* the interface never asks it to write */
    s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return UP_ENOMEM;
    }
    s->base.ops = &snap_ops;
    *out = &s->base;
    return UP_OK;
}

static void snap_close(struct up_store *st)
{
    free(st);
}

static enum up_code snap_max_ts(struct up_store *st, int64_t *max, int *any, char *err,
                                size_t errlen)
{
    *max = SEC(100);
    *any = 1;
    return UP_OK;
}

static enum up_code snap_stores(struct up_store *st, int64_t lo, int64_t now,
                                const struct up_store_sink *sink, char *err, size_t errlen)
{
    return now >= SEC(100) && sink->store(sink->ctx, "snap", 1) != 0 ? UP_EFAIL : UP_OK;
}

static enum up_code snap_hours(struct up_store *st, const struct up_store_sink *sink, char *err,
                               size_t errlen)
{
    return UP_OK;
}

static enum up_code snap_timezones(struct up_store *st, const struct up_store_sink *sink, char *err,
                                   size_t errlen)
{
    return UP_OK;
}

static enum up_code snap_polls(struct up_store *st, const char *const *ids, size_t n, int64_t lo,
                               int64_t now, const struct up_store_sink *sink, char *err,
                               size_t errlen)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(ids[i], "snap") == 0 && now >= SEC(100) &&
            sink->poll(sink->ctx, "snap", SEC(100), 1) != 0)
            return UP_EFAIL;
    return UP_OK;
}

static const struct up_store_ops snap_ops = {
    .name = "snapshot",
    .caps = UP_STORE_CAP_READ,
    .accepts = snap_accepts,
    .open = snap_open,
    .close = snap_close,
    .max_ts = snap_max_ts,
    .stores = snap_stores,
    .hours = snap_hours,
    .timezones = snap_timezones,
    .polls = snap_polls,
};

/* Loads valid one-row files into db through the real loader. */
static enum up_code load_into(const char *db, char *err, size_t errlen)
{
    const char *dir = tu_tmpdir();
    char status[512], hours[512], tz[512];
    struct up_load_opts o;
    struct up_load_stats stats;

    snprintf(status, sizeof status, "%s",
             tu_write_file(dir, "store_status.csv",
                           "store_id,status,timestamp_utc\ns1,active,2023-01-25 10:00:00 UTC\n"));
    snprintf(hours, sizeof hours, "%s",
             tu_write_file(dir, "menu_hours.csv",
                           "store_id,dayOfWeek,start_time_local,end_time_local\n"
                           "s1,0,09:00,17:00\n"));
    snprintf(tz, sizeof tz, "%s",
             tu_write_file(dir, "timezones.csv", "store_id,timezone_str\ns1,UTC\n"));
    memset(&o, 0, sizeof o);
    o.path[UP_FILE_STATUS] = status;
    o.path[UP_FILE_HOURS] = hours;
    o.path[UP_FILE_TZ] = tz;
    return up_load_run(db, &o, &stats, err, errlen);
}

static void test_read_only_backend(void)
{
    struct up_store *st = NULL;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    const struct up_hours_row h = {0, 0, SEC(3600)};
    const char *ids[] = {"snap"};
    char err[512];
    int64_t max = 0;
    int any = 0;

    CU_ASSERT_EQUAL_FATAL(up_store_register_backend(&snap_ops), UP_OK);
    CU_ASSERT_EQUAL(up_store_register_backend(&snap_ops), UP_OK); /* twice: a no-op */
    CU_ASSERT_PTR_EQUAL(up_store_backend_for("hdf5:/data/snap"), &snap_ops);
    CU_ASSERT_PTR_EQUAL(up_store_backend_for("snap.h5"), &snap_ops);
    /* Opening it to write fails at once, saying the source is read-only. */
    err[0] = '\0';
    CU_ASSERT_EQUAL(up_store_open("hdf5:/data/snap", UP_STORE_WRITE, &st, err, sizeof err),
                    UP_EUSAGE);
    CU_ASSERT_PTR_NULL(st);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hdf5:/data/snap is read-only: "));
    /* uptime_load says so too (the message comes from the store, through the loader). */
    err[0] = '\0';
    CU_ASSERT_EQUAL(load_into("snap.h5", err, sizeof err), UP_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "snap.h5 is read-only: "));
    /* Opened to read: it reads, and every loading function refuses with the same reason. */
    CU_ASSERT_EQUAL_FATAL(up_store_open("snap.h5", UP_STORE_READ, &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_caps(st), UP_STORE_CAP_READ);
    CU_ASSERT_STRING_EQUAL(up_store_backend_name(st), "snapshot");
    err[0] = '\0';
    CU_ASSERT_EQUAL(up_store_begin(st, err, sizeof err), UP_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "snap.h5 is read-only: "));
    CU_ASSERT_EQUAL(up_store_put_status(st, "snap", SEC(200), 1, err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "snap", &h, err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_put_timezone(st, "snap", "UTC", err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_commit(st, err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_rollback(st, err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_max_ts(st, &max, &any, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(max, SEC(100));
    CU_ASSERT_EQUAL(any, 1);
    CU_ASSERT_EQUAL(up_store_stores(st, 0, SEC(200), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 1, 0, SEC(200), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "snap:1;snap@100=1;");
    up_store_close(st);
    up_store_unregister_backend(&snap_ops);
    CU_ASSERT_PTR_NOT_EQUAL(up_store_backend_for("snap.h5"), &snap_ops);
}

/* A kind of source no backend of this build takes: a clear error, not a SQLite file. The
 * checks run for the kinds this build leaves out (HDF5 without its backend, PostgreSQL
 * with UPTIME_WITH_POSTGRESQL=OFF). */
static void test_kind_not_built_in(void)
{
    struct up_store *st = NULL;
    char err[512];

    if (!up_store_backend_for("hdf5:/data/snap")) {
        CU_ASSERT_EQUAL(up_store_open("hdf5:/data/snap", UP_STORE_READ, &st, err, sizeof err),
                        UP_EUSAGE);
        CU_ASSERT_PTR_NULL(st);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "not built with HDF5 support"));
        CU_ASSERT_EQUAL(up_store_open("snap.h5", UP_STORE_WRITE, &st, err, sizeof err), UP_EUSAGE);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "snap.h5 is an HDF5 snapshot"));
        CU_ASSERT_EQUAL(load_into("snap.h5", err, sizeof err), UP_EUSAGE);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "not built with HDF5 support"));
    }
    if (!up_store_backend_for("postgresql://app:s3cret@db/uptime")) {
        /* Its sources are named as such, the password hidden. */
        CU_ASSERT_EQUAL(
            up_store_open("postgresql://app:s3cret@db/uptime", UP_STORE_READ, &st, err, sizeof err),
            UP_EUSAGE);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "built without PostgreSQL support"));
        CU_ASSERT_PTR_NULL(strstr(err, "s3cret"));
        CU_ASSERT_EQUAL(
            up_store_open("host=db dbname=uptime", UP_STORE_WRITE, &st, err, sizeof err),
            UP_EUSAGE);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "built without PostgreSQL support"));
    }
    /* A test-only kind in a program without the tests' backend. */
    up_store_unregister_backend(&up_store_mem_ops);
    CU_ASSERT_EQUAL(up_store_open("mem:x", UP_STORE_READ, &st, err, sizeof err), UP_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "linked into the unit tests only"));
    CU_ASSERT_EQUAL_FATAL(up_store_register_backend(&up_store_mem_ops), UP_OK);
}

/* Each backend takes its own kind of source and no other. */
static void test_each_backend_its_own_kind(void)
{
    const struct up_store_ops *sq = &up_store_sqlite_ops, *mem = &up_store_mem_ops;
    static const char *const others[] = {
        "postgresql://u@h/db", "postgres://h/db", "host=/tmp dbname=x", "hdf5:x", "x.h5", "mem:x"};
    size_t i;

    CU_ASSERT(sq->accepts("data/uptime.db"));
    CU_ASSERT(sq->accepts("sqlite:data/uptime.db"));
    CU_ASSERT(mem->accepts("mem:x"));
    CU_ASSERT(!mem->accepts("data/uptime.db"));
    for (i = 0; i < sizeof others / sizeof others[0]; i++)
        CU_ASSERT(!sq->accepts(others[i]));
    for (i = 0; i + 1 < sizeof others / sizeof others[0]; i++)
        CU_ASSERT(!mem->accepts(others[i]));
    CU_ASSERT_PTR_EQUAL(up_store_backend_for("data/uptime.db"), sq);
    CU_ASSERT_PTR_EQUAL(up_store_backend_for("mem:x"), mem);
    /* HDF5 snapshots: no backend, or a read-only one. */
    CU_ASSERT(!up_store_backend_for("hdf5:x") ||
              !(up_store_backend_for("hdf5:x")->caps & UP_STORE_CAP_WRITE));
#ifdef UPTIME_WITH_POSTGRESQL
    CU_ASSERT_PTR_EQUAL(up_store_backend_for("host=/tmp dbname=x"), &up_store_pg_ops);
#else
    CU_ASSERT_PTR_NULL(up_store_backend_for("host=/tmp dbname=x"));
#endif
}

static void test_caps_and_names(void)
{
    char path[512], err[512];
    struct up_store *st;

    snprintf(path, sizeof path, "sqlite:%s/caps.db", tu_tmpdir());
    st = open_rw(path);
    CU_ASSERT_EQUAL(up_store_caps(st), UP_STORE_CAP_READ | UP_STORE_CAP_WRITE);
    CU_ASSERT_STRING_EQUAL(up_store_backend_name(st), "sqlite");
    up_store_close(st);
    CU_ASSERT_EQUAL_FATAL(up_store_open("mem:caps", UP_STORE_WRITE, &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_caps(st), UP_STORE_CAP_READ | UP_STORE_CAP_WRITE);
    CU_ASSERT_STRING_EQUAL(up_store_backend_name(st), "memory");
    up_store_close(st);
    up_store_mem_reset();
}

/* A table that contradicts its caps is refused: the interface relies on them. */
static void test_register_checks_caps(void)
{
    struct up_store_ops bad = snap_ops;

    bad.caps = UP_STORE_CAP_READ | UP_STORE_CAP_WRITE; /* claims writing, has no write op */
    CU_ASSERT_EQUAL(up_store_register_backend(&bad), UP_EUSAGE);
    bad = up_store_mem_ops;
    bad.caps = UP_STORE_CAP_READ; /* claims read-only, has write ops */
    CU_ASSERT_EQUAL(up_store_register_backend(&bad), UP_EUSAGE);
    bad = snap_ops;
    bad.polls = NULL; /* claims reading, lacks a read op */
    CU_ASSERT_EQUAL(up_store_register_backend(&bad), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_register_backend(NULL), UP_EUSAGE);
    CU_ASSERT_PTR_NOT_EQUAL(up_store_backend_for("snap.h5"), &snap_ops);
}

/* A read needs the sink member it calls. */
static void test_sink_member_required(void)
{
    char err[512];
    struct up_store *st;
    const struct up_store_sink none = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    const char *ids[] = {"a"};

    CU_ASSERT_EQUAL_FATAL(up_store_open("mem:sink", UP_STORE_WRITE, &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_stores(st, 0, 1, &none, err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_hours(st, &none, err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_timezones(st, &none, err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 1, 0, 1, &none, err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 1, 0, 1, NULL, err, sizeof err), UP_EUSAGE);
    up_store_close(st);
    up_store_mem_reset();
}

int test_store_add(void)
{
    CU_pSuite s = CU_add_suite("store", suite_sqlite, NULL);

    if (!s || !CU_add_test(s, "round trip, byte-wise order", test_roundtrip_and_order) ||
        !CU_add_test(s, "carry-in is the latest poll only", test_carry_in_is_only_the_latest) ||
        !CU_add_test(s, "prune keeps the carry-in", test_prune_keeps_the_carry_in) ||
        !CU_add_test(s, "many polls reloaded", test_many_polls_reloaded) ||
        !CU_add_test(s, "reload replaces hours, upserts zones",
                     test_reload_replaces_hours_and_upserts) ||
        !CU_add_test(s, "rollback keeps previous data", test_rollback_keeps_previous_data) ||
        !CU_add_test(s, "open errors", test_open_errors) ||
        !CU_add_test(s, "passwords hidden", test_redact) ||
        !CU_add_test(s, "read-only backend", test_read_only_backend) ||
        !CU_add_test(s, "kind of source not built in", test_kind_not_built_in) ||
        !CU_add_test(s, "each backend takes its own kind", test_each_backend_its_own_kind) ||
        !CU_add_test(s, "capabilities and names", test_caps_and_names) ||
        !CU_add_test(s, "backend tables checked", test_register_checks_caps) ||
        !CU_add_test(s, "read needs its sink member", test_sink_member_required) ||
        !CU_add_test(s, "sqlite: one view per report", test_sqlite_one_view) ||
        !CU_add_test(s, "sqlite: a database of an older version", test_sqlite_older_database) ||
        !CU_add_test(s, "sqlite: store_meta follows the loads", test_sqlite_store_meta) ||
        !CU_add_test(s, "sqlite: hourly loads, the recent table's share",
                     test_sqlite_hourly_share) ||
        !CU_add_test(s, "sqlite: a failed first load leaves no file",
                     test_sqlite_failed_first_load) ||
        !CU_add_test(s, "sqlite: a statement past the deadline is interrupted",
                     test_sqlite_statement_deadline))
        return CU_get_error();
    return CUE_SUCCESS;
}

int test_store_mem_add(void)
{
    CU_pSuite s = CU_add_suite("store_mem", suite_mem, suite_mem_clean);

    if (!s || !CU_add_test(s, "round trip, byte-wise order", test_roundtrip_and_order) ||
        !CU_add_test(s, "carry-in is the latest poll only", test_carry_in_is_only_the_latest) ||
        !CU_add_test(s, "prune keeps the carry-in", test_prune_keeps_the_carry_in) ||
        !CU_add_test(s, "many polls reloaded", test_many_polls_reloaded) ||
        !CU_add_test(s, "reload replaces hours, upserts zones",
                     test_reload_replaces_hours_and_upserts) ||
        !CU_add_test(s, "rollback keeps previous data", test_rollback_keeps_previous_data))
        return CU_get_error();
    return CUE_SUCCESS;
}
