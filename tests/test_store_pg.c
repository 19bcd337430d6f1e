/*
 * The PostgreSQL backend through the storage interface, against a real server: the URL
 * comes from UPTIME_TEST_PG (scripts/pg-server.sh env). Run alone without it, the suite
 * starts the project's private server itself; if that fails it fails under CI (CI set)
 * and skips otherwise. Each test works in a schema of its own, dropped at its end.
 */
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "test_store_util.h"
#include "up_deadline.h"
#include "up_store.h"
#include "up_store_int.h"
#include "up_time.h"

#define SEC(x) ((int64_t)(x)*UP_USEC_PER_SEC)

/* ---- The server and a schema per test. ---- */

static char base_url[1024];
static int base_state; /* 0 not looked up, 1 found, -1 none */

/* Runs scripts/pg-server.sh start + env (the source tree is two levels above the data). */
static int start_private_server(void)
{
    char cmd[2048], line[1024];
    const char *q1, *q2;
    FILE *f;
    int found = 0;

    snprintf(cmd, sizeof cmd,
             "'%s/../../scripts/pg-server.sh' start >&2 &&"
             " '%s/../../scripts/pg-server.sh' env",
             UP_TEST_DATA, UP_TEST_DATA);
    f = popen(cmd, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        q1 = strchr(line, '\'');
        q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
        if (strstr(line, "UPTIME_TEST_PG=") && q1 && q2 && (size_t)(q2 - q1) < sizeof base_url) {
            snprintf(base_url, sizeof base_url, "%.*s", (int)(q2 - q1 - 1), q1 + 1);
            found = 1;
        }
    }
    if (pclose(f) != 0 || !found)
        return -1;
    fprintf(stderr,
            "store_pg: started the private server (%s); scripts/pg-server.sh stop ends it\n",
            base_url);
    return 0;
}

/* Returns 1 if a server is available. Without one: a failure under CI, a skip elsewhere. */
static int have_pg(void)
{
    const char *env = getenv("UPTIME_TEST_PG");

    if (base_state == 0) {
        if (env && env[0]) {
            snprintf(base_url, sizeof base_url, "%s", env);
            base_state = 1;
        } else {
            base_state = start_private_server() == 0 ? 1 : -1;
        }
    }
    if (base_state > 0)
        return 1;
    if (getenv("CI")) {
        CU_FAIL("no PostgreSQL: UPTIME_TEST_PG is unset and scripts/pg-server.sh start failed"
                " (CI is set, so this is a failure, not a skip)");
    } else {
        static int told;
        if (!told++)
            fprintf(stderr, "store_pg: SKIPPED: no PostgreSQL server (set UPTIME_TEST_PG)\n");
    }
    return 0;
}

/* The base URL with extra parameters: a URI gets ?k=v&..., a conninfo " k=v". */
static void url_with(char *out, size_t n, const char *params_uri, const char *params_kv)
{
    if (strstr(base_url, "://"))
        snprintf(out, n, "%s%c%s", base_url, strchr(base_url, '?') ? '&' : '?', params_uri);
    else
        snprintf(out, n, "%s %s", base_url, params_kv);
}

struct pgtest {
    char schema[64];
    char url[1400]; /* the base URL with search_path = schema */
    PGconn *admin;  /* for set-up, inspection and sabotage */
};

static int admin_exec(struct pgtest *t, const char *sql)
{
    PGresult *res = PQexec(t->admin, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "store_pg: %s: %s", sql, PQerrorMessage(t->admin));
    PQclear(res);
    return ok;
}

static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A fresh schema; returns 0 (and the test should return) when there is no server. */
static int pg_setup(struct pgtest *t)
{
    static int seq;
    char sql[256];

    memset(t, 0, sizeof *t);
    if (!have_pg())
        return 0;
    snprintf(t->schema, sizeof t->schema, "up_unit_%ld_%d", (long)getpid(), ++seq);
    {
        char params_uri[256], params_kv[256];
        snprintf(params_uri, sizeof params_uri, "options=-csearch_path%%3D%s&application_name=%s",
                 t->schema, t->schema);
        snprintf(params_kv, sizeof params_kv, "options='-csearch_path=%s' application_name=%s",
                 t->schema, t->schema);
        url_with(t->url, sizeof t->url, params_uri, params_kv);
    }
    t->admin = PQconnectdb(base_url);
    if (PQstatus(t->admin) != CONNECTION_OK) {
        fprintf(stderr, "store_pg: %s", PQerrorMessage(t->admin));
        CU_FAIL("cannot connect to UPTIME_TEST_PG");
        PQfinish(t->admin);
        t->admin = NULL;
        return 0;
    }
    PQsetNoticeProcessor(t->admin, quiet_notice, NULL);
    snprintf(sql, sizeof sql,
             "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s; SET search_path = %s", t->schema,
             t->schema, t->schema);
    CU_ASSERT_FATAL(admin_exec(t, sql));
    return 1;
}

static void pg_teardown(struct pgtest *t)
{
    char sql[128];

    if (!t->admin)
        return;
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", t->schema);
    admin_exec(t, sql);
    PQfinish(t->admin);
    t->admin = NULL;
}

/* One value of a query on the admin connection, as text ("" on error). */
static const char *admin_value(struct pgtest *t, const char *sql)
{
    static char out[256];
    PGresult *res = PQexec(t->admin, sql);

    out[0] = '\0';
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        snprintf(out, sizeof out, "%s", PQgetvalue(res, 0, 0));
    else
        fprintf(stderr, "store_pg: %s: %s", sql, PQerrorMessage(t->admin));
    PQclear(res);
    return out;
}

static struct up_store *open_mode(const char *url, enum up_store_mode mode)
{
    struct up_store *st = NULL;
    char err[512];
    enum up_code rc = up_store_open(url, mode, &st, err, sizeof err);

    if (rc != UP_OK)
        fprintf(stderr, "store_pg: open: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, UP_OK);
    CU_ASSERT_STRING_EQUAL(up_store_backend_name(st), "postgresql");
    return st;
}

static void test_roundtrip_and_order(void)
{
    struct pgtest t;
    struct up_store *st;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    const char *ids[] = {"0123", "123", "B", "a", "\xc3\xa9"};
    char err[512];
    int64_t max = 0;
    int any = 0;

    if (!pg_setup(&t))
        return;
    st = open_mode(t.url, UP_STORE_WRITE);
    store_load_basic(st);
    up_store_close(st);

    st = open_mode(t.url, UP_STORE_READ);
    CU_ASSERT_EQUAL(up_store_max_ts(st, &max, &any, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(max, SEC(200));
    CU_ASSERT_EQUAL(any, 1);
    CU_ASSERT_EQUAL(up_store_stores(st, SEC(60), SEC(200), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "0123:1;123:1;B:1;a:2;\xc3\xa9:1;");
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_stores(st, 0, SEC(55), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "123:1;");
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_hours(st, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:0:9-17;a:1:10-12;hoursonly:0:9-17;");
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_timezones(st, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:Asia/Kolkata;");
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 5, SEC(90), SEC(200), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "0123@60=0;123@50=1;B@70=1;a@100=1;a@200=0;\xc3\xa9@80=1;");
    /* A reader cannot write: the session is read-only. */
    CU_ASSERT_NOT_EQUAL(up_store_begin(st, err, sizeof err), UP_OK);
    up_store_close(st);
    /* The tables are keyed and ordered byte-wise whatever the database's collation. */
    CU_ASSERT_STRING_EQUAL(admin_value(&t, "SELECT string_agg(store_id, ',' ORDER BY store_id)"
                                           " FROM store_summary"),
                           "0123,123,B,a,\xc3\xa9");
    pg_teardown(&t);
}

/* Ids with every character COPY's text format or an array literal treats specially. */
static void test_special_ids(void)
{
    static const char *const ids[] = {
        "\"", "\"q\"", "'",   ",",   "C,1", "NULL",
        "\\", "\\.",   "\\N", "a b", "{x}", "\xe6\x97\xa5\xe6\x9c\xac",
    };
    const size_t n = sizeof ids / sizeof ids[0];
    struct pgtest t;
    struct up_store *st;
    struct sink s = {"", 0}, want = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    struct up_hours_row h = {2, SEC(3600), SEC(7200)};
    char err[512];
    size_t i;

    if (!pg_setup(&t))
        return;
    st = open_mode(t.url, UP_STORE_WRITE);
    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    for (i = 0; i < n; i++)
        CU_ASSERT_EQUAL(up_store_put_timezone(st, ids[i], "Europe/Paris", err, sizeof err), UP_OK);
    for (i = 0; i < n; i++)
        CU_ASSERT_EQUAL(up_store_put_hours(st, ids[i], &h, err, sizeof err), UP_OK);
    for (i = 0; i < n; i++)
        CU_ASSERT_EQUAL(up_store_put_status(st, ids[i], SEC(10 + i), (int)(i % 2), err, sizeof err),
                        UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
    up_store_close(st);

    /* ids[] is in byte-wise order already. */
    for (i = 1; i < n; i++)
        CU_ASSERT(strcmp(ids[i - 1], ids[i]) < 0);
    st = open_mode(t.url, UP_STORE_READ);
    for (i = 0; i < n; i++)
        sink_add(&want, "%s@%zu=%d;", ids[i], 10 + i, (int)(i % 2));
    CU_ASSERT_EQUAL(
        up_store_polls(st, (const char *const *)ids, n, SEC(0), SEC(100), &ss, err, sizeof err),
        UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, want.text);
    sink_reset(&s);
    sink_reset(&want);
    for (i = 0; i < n; i++)
        sink_add(&want, "%s:1;", ids[i]);
    CU_ASSERT_EQUAL(up_store_stores(st, 0, SEC(100), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, want.text);
    sink_reset(&s);
    sink_reset(&want);
    for (i = 0; i < n; i++)
        sink_add(&want, "%s:Europe/Paris;", ids[i]);
    CU_ASSERT_EQUAL(up_store_timezones(st, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, want.text);
    sink_reset(&s);
    sink_reset(&want);
    for (i = 0; i < n; i++)
        sink_add(&want, "%s:2:1-2;", ids[i]);
    CU_ASSERT_EQUAL(up_store_hours(st, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, want.text);
    up_store_close(st);
    pg_teardown(&t);
}

static void test_carry_in_is_only_the_latest(void)
{
    struct pgtest t;
    struct up_store *st;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    const char *ids[] = {"s"};
    char err[512];
    int i;

    if (!pg_setup(&t))
        return;
    st = open_mode(t.url, UP_STORE_WRITE);
    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    for (i = 1; i <= 10; i++)
        CU_ASSERT_EQUAL(up_store_put_status(st, "s", SEC(i * 10), i % 2, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 1, SEC(75), SEC(90), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "s@70=1;s@80=0;s@90=1;");
    /* A poll exactly at lo is in the window, not a carry-in. */
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 1, SEC(80), SEC(80), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "s@70=1;s@80=0;");
    /* Nothing before lo: no carry-in; a store without polls: nothing at all. */
    sink_reset(&s);
    {
        const char *two[] = {"none", "s"};
        CU_ASSERT_EQUAL(up_store_polls(st, two, 2, SEC(5), SEC(20), &ss, err, sizeof err), UP_OK);
    }
    CU_ASSERT_STRING_EQUAL(s.text, "s@10=1;s@20=0;");
    up_store_close(st);
    pg_teardown(&t);
}

static void test_merge_across_loads(void)
{
    struct pgtest t;
    struct up_store *st;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    const char *ids[] = {"a", "b"};
    char err[512];
    int active[] = {1, 0, 1};
    int i;

    if (!pg_setup(&t))
        return;
    st = open_mode(t.url, UP_STORE_WRITE);
    /* a@200: active, then inactive, then active again in three loads: inactive stays. */
    for (i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
        CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(200), active[i], err, sizeof err), UP_OK);
        CU_ASSERT_EQUAL(up_store_put_status(st, "b", SEC(100 + i), 1, err, sizeof err), UP_OK);
        CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
    }
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 2, SEC(0), SEC(300), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a@200=0;b@100=1;b@101=1;b@102=1;");
    /* The summary follows every load. */
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_stores(st, 0, SEC(300), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:1;b:3;");
    CU_ASSERT_STRING_EQUAL(admin_value(&t, "SELECT first_ts || '-' || last_ts FROM store_summary"
                                           " WHERE store_id = 'b'"),
                           "100000000-102000000");
    up_store_close(st);
    pg_teardown(&t);
}

/* The relfilenodes of the four tables a first load writes, in name order: a TRUNCATE gives
 * a table a new one, so a change says the load took the COPY ... FREEZE way. */
static void relfiles(struct pgtest *t, char *out, size_t n)
{
    snprintf(out, n, "%s",
             admin_value(t, "SELECT string_agg(relfilenode::text, ',' ORDER BY relname)"
                            " FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
                            " AND relname IN ('business_hours', 'store_status', 'store_summary',"
                            " 'store_timezone')"));
}

/* Each table's summary of a load's outcome, as text: the summary rows (seconds), and
 * store_meta's zone and packed hours length per store. */
#define SUMMARY_SQL                                                                                \
    "SELECT string_agg(store_id || ':' || first_ts / 1000000 || '-' || last_ts / 1000000 || ':'"   \
    " || npolls, ',' ORDER BY store_id) FROM store_summary"
#define META_SQL                                                                                   \
    "SELECT string_agg(store_id || ':' || coalesce(timezone_str, '-') || ':'"                      \
    " || coalesce(length(hours), 0), ',' ORDER BY store_id) FROM store_meta"

/* Polls, hours and zones of the load both tests below start from, out of order, with
 * duplicates inside the load: a@100 active then inactive (inactive wins), a@300 and b@100
 * twice active, b's zone given twice (the last wins), b's day-2 row twice (stored once). */
static void load_unsorted(struct up_store *st)
{
    struct up_hours_row a0 = {0, SEC(9 * 3600), SEC(17 * 3600)};
    struct up_hours_row b2 = {2, SEC(10 * 3600), SEC(11 * 3600)};
    struct up_hours_row b1 = {1, SEC(8 * 3600), SEC(9 * 3600)};
    char err[512];

    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_timezone(st, "b", "UTC", err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_timezone(st, "a", "Asia/Kolkata", err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_timezone(st, "b", "Europe/Paris", err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "b", &b2, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "a", &a0, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "b", &b1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "b", &b2, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(300), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "b", SEC(100), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(100), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(200), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(100), 0, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "b", SEC(50), 0, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(300), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "b", SEC(100), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "c", SEC(10), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
}

/* What load_unsorted leaves, worked out by hand. */
static void check_unsorted(struct pgtest *t, struct up_store *st)
{
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    const char *ids[] = {"a", "b", "c"};
    char err[512];

    CU_ASSERT_EQUAL(up_store_polls(st, ids, 3, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a@100=0;a@200=1;a@300=1;b@50=0;b@100=1;c@10=1;");
    CU_ASSERT_STRING_EQUAL(admin_value(t, SUMMARY_SQL), "a:100-300:3,b:50-100:2,c:10-10:1");
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_hours(st, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:0:9-17;b:1:8-9;b:2:10-11;");
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_timezones(st, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:Asia/Kolkata;b:Europe/Paris;");
    CU_ASSERT_STRING_EQUAL(admin_value(t, META_SQL), "a:Asia/Kolkata:18,b:Europe/Paris:36");
    /* Packed as the server packs them: 9 h = 32 400 000 000 µs, 17 h = 61 200 000 000. */
    CU_ASSERT_STRING_EQUAL(admin_value(t, "SELECT hours = int2send(0::int2) ||"
                                          " int8send(32400000000) || int8send(61200000000)"
                                          " FROM store_meta WHERE store_id = 'a'"),
                           "t");
    CU_ASSERT_STRING_EQUAL(admin_value(t, "SELECT count(*) FROM business_hours"), "3");
}

/* A first load into the empty tables: copied straight in (each table truncated, so a new
 * relfilenode), sorted and merged by the client, the key rebuilt and marked for CLUSTER,
 * store_meta made from the held rows. */
static void test_first_load_copies_straight(void)
{
    struct pgtest t;
    struct up_store *st;
    char before[256], after[512];

    if (!pg_setup(&t))
        return;
    st = open_mode(t.url, UP_STORE_WRITE); /* makes the tables */
    relfiles(&t, before, sizeof before);
    load_unsorted(st);
    CU_ASSERT_STRING_NOT_EQUAL(before, "");
    /* Every table truncated and copied: none keeps its relfilenode. */
    snprintf(after, sizeof after,
             "SELECT count(*) FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
             " AND relfilenode IN (%s)",
             before);
    CU_ASSERT_STRING_EQUAL(admin_value(&t, after), "0");
    check_unsorted(&t, st);
    CU_ASSERT_STRING_EQUAL(admin_value(&t, "SELECT indisclustered AND indisprimary FROM pg_index"
                                           " WHERE indexrelid = 'store_status_pkey'::regclass"),
                           "t");
    up_store_close(st);
    pg_teardown(&t);
}

/* A second load into those tables goes through the stage: duplicates inside it and against
 * stored polls merge (inactive wins both ways), the summary widens by the new polls only,
 * the hours of a store it names are replaced, store_meta follows. */
static void test_second_load_merges(void)
{
    struct pgtest t;
    struct up_store *st;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    struct up_hours_row b3 = {3, SEC(1 * 3600), SEC(2 * 3600)};
    const char *ids[] = {"a", "b", "c", "d"};
    char err[512], before[256], after[256];

    if (!pg_setup(&t))
        return;
    st = open_mode(t.url, UP_STORE_WRITE);
    load_unsorted(st);
    relfiles(&t, before, sizeof before);
    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "b", &b3, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(400), 1, err, sizeof err),
                    UP_OK); /* new, last */
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(200), 0, err, sizeof err), UP_OK); /* 1 -> 0 */
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(100), 1, err, sizeof err),
                    UP_OK); /* stays 0 */
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(50), 1, err, sizeof err),
                    UP_OK); /* new, first */
    CU_ASSERT_EQUAL(up_store_put_status(st, "d", SEC(5), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "d", SEC(5), 0, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "c", SEC(10), 1, err, sizeof err), UP_OK); /* again */
    CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
    relfiles(&t, after, sizeof after);
    CU_ASSERT_STRING_EQUAL(before, after); /* merged into the tables, none truncated */
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 4, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a@50=1;a@100=0;a@200=0;a@300=1;a@400=1;b@50=0;b@100=1;"
                                   "c@10=1;d@5=0;");
    CU_ASSERT_STRING_EQUAL(admin_value(&t, SUMMARY_SQL), "a:50-400:5,b:50-100:2,c:10-10:1,d:5-5:1");
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_hours(st, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:0:9-17;b:3:1-2;");
    CU_ASSERT_STRING_EQUAL(admin_value(&t, META_SQL), "a:Asia/Kolkata:18,b:Europe/Paris:18");
    up_store_close(st);
    pg_teardown(&t);
}

/* With UPTIME_PG_HOLD_ROWS=2 the same first load goes to the stage in sorted runs of two
 * rows (duplicates across runs: a@100, a@300, b@100, b's day-2 row) and the server
 * merges it: the same outcome, the tables not truncated. */
static void test_load_in_runs(void)
{
    struct pgtest t;
    struct up_store *st;
    char before[256], after[256];

    if (!pg_setup(&t))
        return;
    st = open_mode(t.url, UP_STORE_WRITE);
    relfiles(&t, before, sizeof before);
    CU_ASSERT_EQUAL_FATAL(setenv("UPTIME_PG_HOLD_ROWS", "2", 1), 0);
    load_unsorted(st);
    unsetenv("UPTIME_PG_HOLD_ROWS");
    relfiles(&t, after, sizeof after);
    CU_ASSERT_STRING_EQUAL(before, after);
    check_unsorted(&t, st);
    up_store_close(st);
    pg_teardown(&t);
}

static void test_reload_replaces_hours_and_upserts(void)
{
    struct pgtest t;
    struct up_store *st;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    struct up_hours_row h3 = {6, SEC(1 * 3600), SEC(2 * 3600)};
    char err[512];

    if (!pg_setup(&t))
        return;
    st = open_mode(t.url, UP_STORE_WRITE);
    store_load_basic(st);
    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_timezone(st, "a", "UTC", err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "a", &h3, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "a", &h3, err, sizeof err), UP_OK); /* stored once */
    CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_hours(st, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:6:1-2;hoursonly:0:9-17;");
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_timezones(st, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:UTC;");
    up_store_close(st);
    pg_teardown(&t);
}

static void test_rollback_keeps_previous_data(void)
{
    struct pgtest t;
    struct up_store *st;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    struct up_hours_row h = {3, SEC(3600), SEC(7200)};
    char err[512];

    if (!pg_setup(&t))
        return;
    st = open_mode(t.url, UP_STORE_WRITE);
    store_load_basic(st);
    /* Rolled back with a COPY still open, in each of the three kinds. */
    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_timezone(st, "a", "UTC", err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "a", &h, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "new", SEC(500), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_rollback(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_stores(st, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "0123:1;123:1;B:1;a:2;\xc3\xa9:1;");
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_timezones(st, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:Asia/Kolkata;");
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_hours(st, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:0:9-17;a:1:10-12;hoursonly:0:9-17;");
    /* The connection is usable for the next load. */
    store_load_basic(st);
    up_store_close(st);
    pg_teardown(&t);
}

/* The server side of the connection dies during the COPY: the load fails with the
 * server's reason and nothing of it is stored. */
static void test_connection_lost_mid_load(void)
{
    struct pgtest t;
    struct up_store *st;
    char err[512], sql[256];
    enum up_code rc = UP_OK;
    int i;

    if (!pg_setup(&t))
        return;
    st = open_mode(t.url, UP_STORE_WRITE);
    store_load_basic(st);
    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    for (i = 0; i < 1000 && rc == UP_OK; i++)
        rc = up_store_put_status(st, "lost", SEC(1000 + i), 1, err, sizeof err);
    CU_ASSERT_EQUAL(rc, UP_OK);
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
             " WHERE application_name = '%s'",
             t.schema);
    CU_ASSERT_STRING_EQUAL(admin_value(&t, sql), "1");
    for (i = 0; i < 200000 && rc == UP_OK; i++)
        rc = up_store_put_status(st, "lost", SEC(5000 + i), 1, err, sizeof err);
    if (rc == UP_OK)
        rc = up_store_commit(st, err, sizeof err);
    CU_ASSERT_EQUAL(rc, UP_EDB);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "postgresql postgresql://"));
    CU_ASSERT_PTR_NULL(strchr(err, '\n'));
    CU_ASSERT_EQUAL(up_store_rollback(st, err, sizeof err), UP_OK);
    up_store_close(st);
    CU_ASSERT_STRING_EQUAL(admin_value(&t, "SELECT count(*) FROM store_status"), "6");
    CU_ASSERT_STRING_EQUAL(
        admin_value(&t, "SELECT count(*) FROM store_summary WHERE store_id = 'lost'"), "0");
    pg_teardown(&t);
}

/* More rows than one FETCH and than one COPY buffer: streamed in order, none lost. */
struct counter {
    char last_id[16];
    int64_t last_ts;
    long rows, disorder;
};

static int on_count(void *ctx, const char *id, int64_t ts, int active)
{
    struct counter *c = ctx;
    int cmp = strcmp(id, c->last_id);

    (void)active;
    if (cmp < 0 || (cmp == 0 && ts <= c->last_ts))
        c->disorder++;
    snprintf(c->last_id, sizeof c->last_id, "%s", id);
    c->last_ts = ts;
    c->rows++;
    return 0;
}

static void test_streams_many_rows(void)
{
    const char *ids[] = {"s1", "s2", "s3"};
    struct counter c = {"", 0, 0, 0};
    const struct up_store_sink cs = {NULL, NULL, NULL, on_count, &c, NULL, NULL};
    struct pgtest t;
    struct up_store *st;
    char err[512];
    enum up_code rc = UP_OK;
    int i, k;

    if (!pg_setup(&t))
        return;
    st = open_mode(t.url, UP_STORE_WRITE);
    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    /* Written in reverse time order: the backend orders them. */
    for (k = 2; k >= 0; k--)
        for (i = 15000; i > 0 && rc == UP_OK; i--)
            rc = up_store_put_status(st, ids[k], SEC(i), 1, err, sizeof err);
    CU_ASSERT_EQUAL(rc, UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
    up_store_close(st);
    st = open_mode(t.url, UP_STORE_READ);
    /* Window [100 s, 14000 s] plus a carry-in each: 13902 per store. */
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 3, SEC(100), SEC(14000), &cs, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(c.rows, 3 * 13902);
    CU_ASSERT_EQUAL(c.disorder, 0);
    up_store_close(st);
    pg_teardown(&t);
}

static int stop_at_second(void *ctx, const char *id, int64_t ts, int active)
{
    (void)id;
    (void)ts;
    (void)active;
    return ++*(int *)ctx >= 2;
}

static void test_open_and_read_errors(void)
{
    struct pgtest t;
    struct up_store *st = NULL;
    char err[512], url[1400];
    const char *ids[] = {"0123", "123"};
    struct timespec t0, t1;
    enum up_code rc;
    int seen = 0;
    const struct up_store_sink stop = {NULL, NULL, NULL, stop_at_second, &seen, NULL, NULL};

    if (!pg_setup(&t))
        return;
    /* A closed port: refused at once, the password never shown. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = up_store_open("postgresql://app:s3cret@127.0.0.1:1/uptime", UP_STORE_READ, &st, err,
                       sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CU_ASSERT_EQUAL(rc, UP_EDB);
    CU_ASSERT_PTR_NULL(st);
    CU_ASSERT(t1.tv_sec - t0.tv_sec < 5);
    CU_ASSERT_PTR_NULL(strstr(err, "s3cret"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "app:***@127.0.0.1:1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot connect"));
    CU_ASSERT_PTR_NULL(strchr(err, '\n'));
    /* The same in key=value form. */
    rc = up_store_open("host=127.0.0.1 port=1 password=s3cret dbname=uptime", UP_STORE_WRITE, &st,
                       err, sizeof err);
    CU_ASSERT_EQUAL(rc, UP_EDB);
    CU_ASSERT_PTR_NULL(strstr(err, "s3cret"));
    /* A database that does not exist: the server says which. */
    if (strstr(base_url, "://")) {
        char *slash = strrchr(base_url, '/');
        snprintf(url, sizeof url, "%.*s/no_such_db_uptime", (int)(slash - base_url), base_url);
    } else {
        snprintf(url, sizeof url, "%s dbname=no_such_db_uptime", base_url);
    }
    rc = up_store_open(url, UP_STORE_READ, &st, err, sizeof err);
    CU_ASSERT_EQUAL(rc, UP_EDB);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no_such_db_uptime"));
    /* A schema without the tables: not an uptime database. */
    rc = up_store_open(t.url, UP_STORE_READ, &st, err, sizeof err);
    CU_ASSERT_EQUAL(rc, UP_EDB);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not an uptime database"));
    /* A malformed URI is the backend's, and an error. */
    rc = up_store_open("postgresql://[::1", UP_STORE_READ, &st, err, sizeof err);
    CU_ASSERT_EQUAL(rc, UP_EDB);
    /* A consumer that stops the scan: UP_EFAIL, and the connection is still usable. */
    st = open_mode(t.url, UP_STORE_WRITE);
    store_load_basic(st);
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 2, SEC(0), SEC(300), &stop, err, sizeof err), UP_EFAIL);
    seen = 0;
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 2, SEC(0), SEC(300), &stop, err, sizeof err), UP_EFAIL);
    up_store_close(st);
    pg_teardown(&t);
}

/* Every rank reads one view: a load that commits after rank 0's up_store_snapshot is
 * invisible to rank 0's later reads and to every connection that read_at its token, and
 * visible to a connection without it. */
static void test_snapshot_across_connections(void)
{
    struct pgtest t;
    struct up_store *w, *r0, *r1, *r2, *r3;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    struct up_hours_row h = {2, SEC(3600), SEC(7200)};
    const char *a[] = {"a"};
    char err[512], tok[UP_STORE_TOKEN_MAX], tok2[UP_STORE_TOKEN_MAX], small[8];
    int64_t max = 0;
    int any = 0, seen = 0;
    const struct up_store_sink stop = {NULL, NULL, NULL, stop_at_second, &seen, NULL, NULL};

    if (!pg_setup(&t))
        return;
    w = open_mode(t.url, UP_STORE_WRITE);
    store_load_basic(w);
    r0 = open_mode(t.url, UP_STORE_READ);
    CU_ASSERT_EQUAL(up_store_snapshot(r0, small, sizeof small, err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL_FATAL(up_store_snapshot(r0, tok, sizeof tok, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(strncmp(tok, "postgresql:", 11), 0);
    CU_ASSERT(strlen(tok) > 11);
    /* Pinned once: a second snapshot on the same connection is a usage error. */
    CU_ASSERT_EQUAL(up_store_snapshot(r0, tok2, sizeof tok2, err, sizeof err), UP_EUSAGE);

    /* A load commits: a poll after the latest, a new store, a's hours replaced. */
    CU_ASSERT_EQUAL_FATAL(up_store_begin(w, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(w, "a", &h, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(w, "a", SEC(300), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(w, "new", SEC(250), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(w, err, sizeof err), UP_OK);

    /* Rank 0 still reads the view it planned on. */
    CU_ASSERT_EQUAL(up_store_max_ts(r0, &max, &any, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(max, SEC(200));
    CU_ASSERT_EQUAL(up_store_stores(r0, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "0123:1;123:1;B:1;a:2;\xc3\xa9:1;");
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_hours(r0, &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a:0:9-17;a:1:10-12;hoursonly:0:9-17;");
    sink_reset(&s);
    /* Another rank opened after the commit reads the same view through the token... */
    r1 = open_mode(t.url, UP_STORE_READ);
    CU_ASSERT_EQUAL_FATAL(up_store_read_at(r1, tok, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_polls(r1, a, 1, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a@100=1;a@200=0;");
    sink_reset(&s);
    /* ... and keeps it after a consumer stopped a read. */
    CU_ASSERT_EQUAL(up_store_polls(r1, a, 1, 0, SEC(1000), &stop, err, sizeof err), UP_EFAIL);
    CU_ASSERT_EQUAL(up_store_polls(r1, a, 1, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a@100=1;a@200=0;");
    sink_reset(&s);
    /* Without the token, the load is there. */
    r2 = open_mode(t.url, UP_STORE_READ);
    CU_ASSERT_EQUAL(up_store_read_at(r2, "", err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_polls(r2, a, 1, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "a@100=1;a@200=0;a@300=1;");
    sink_reset(&s);
    /* Tokens of another backend, or that are no snapshot name, never reach SQL. */
    CU_ASSERT_EQUAL(up_store_read_at(r2, "sqlite:1", err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(up_store_read_at(r2, "postgresql:", err, sizeof err), UP_EUSAGE);
    CU_ASSERT_EQUAL(
        up_store_read_at(r2, "postgresql:1'; DROP TABLE store_status; --", err, sizeof err),
        UP_EUSAGE);
    CU_ASSERT_STRING_EQUAL(admin_value(&t, "SELECT count(*) FROM store_status"), "8");
    up_store_close(r2);
    /* Once rank 0's connection is gone, so is its view: a clear error, not another view. */
    up_store_close(r0);
    r3 = open_mode(t.url, UP_STORE_READ);
    CU_ASSERT_EQUAL(up_store_read_at(r3, tok, err, sizeof err), UP_EDB);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "snapshot"));
    /* A read after that fails too: a connection given a token never reads another view. */
    CU_ASSERT_EQUAL(up_store_polls(r3, a, 1, 0, SEC(1000), &ss, err, sizeof err), UP_EDB);
    CU_ASSERT_STRING_EQUAL(s.text, "");
    up_store_close(r3);
    up_store_close(r1);
    up_store_close(w);
    pg_teardown(&t);
}

/* The polls read takes the range of the ids and matches the list: stores of the range that
 * are not asked for are skipped, an empty list reads nothing, unknown ids give nothing. */
static void test_polls_range_and_list(void)
{
    struct pgtest t;
    struct up_store *st;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    const char *sparse[] = {"0123", "\xc3\xa9"};
    const char *unknown[] = {"00", "a0", "zz"};
    char err[512];

    if (!pg_setup(&t))
        return;
    st = open_mode(t.url, UP_STORE_WRITE);
    store_load_basic(st);
    up_store_close(st);
    st = open_mode(t.url, UP_STORE_READ);
    CU_ASSERT_EQUAL(up_store_polls(st, sparse, 2, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "0123@60=0;\xc3\xa9@80=1;");
    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_polls(st, sparse, 0, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "");
    CU_ASSERT_EQUAL(up_store_polls(st, unknown, 3, 0, SEC(1000), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "");
    /* Carry-in and window of a store polled before and after lo; one polled only before
     * lo gives its carry-in alone; a window that ends before a store's first poll gives
     * nothing for it. */
    {
        const char *all[] = {"0123", "123", "B", "a", "\xc3\xa9"};
        CU_ASSERT_EQUAL(up_store_polls(st, all, 5, SEC(150), SEC(1000), &ss, err, sizeof err),
                        UP_OK);
        CU_ASSERT_STRING_EQUAL(s.text, "0123@60=0;123@50=1;B@70=1;a@100=1;a@200=0;\xc3\xa9@80=1;");
        sink_reset(&s);
        CU_ASSERT_EQUAL(up_store_polls(st, all, 5, SEC(55), SEC(65), &ss, err, sizeof err), UP_OK);
        CU_ASSERT_STRING_EQUAL(s.text, "0123@60=0;123@50=1;");
    }
    up_store_close(st);
    pg_teardown(&t);
}

/*
 * Under a deadline (--timeout) every wait is bounded. A live server keeping the reader or
 * the loader waiting on a lock cancels the statement itself just before the deadline
 * (the statement_timeout and lock_timeout set for it), the call fails with UP_ETIMEOUT
 * naming the step, and the session stays usable: the load rolls back, nothing changes.
 * (A server that stops answering altogether: e2e test_hung_server.)
 */
static void test_deadline_bounds_waits(void)
{
    struct pgtest t;
    struct up_store *st;
    struct sink s = {"", 0};
    struct up_store_sink ss = sink_all(&s);
    const char *ids[] = {"0123", "123", "B", "a", "\xc3\xa9"};
    char err[768], sql[256];
    int64_t max = 0;
    int any = 0;
    PGconn *locker;
    PGresult *res;
    time_t t0;
    enum up_code rc;

    if (!pg_setup(&t))
        return;
    up_deadline_set(60);
    /* Within the deadline: a load and a read as ever (the server's timeouts set). */
    st = open_mode(t.url, UP_STORE_WRITE);
    store_load_basic(st);
    up_store_close(st);
    st = open_mode(t.url, UP_STORE_READ);
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 5, SEC(90), SEC(200), &ss, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "0123@60=0;123@50=1;B@70=1;a@100=1;a@200=0;\xc3\xa9@80=1;");
    up_store_close(st);

    /* Another session holds the polls' tables (store_status and status_pack, which the
     * read takes them from) and the loads' merge lock. */
    locker = PQconnectdb(t.url);
    CU_ASSERT_EQUAL_FATAL(PQstatus(locker), CONNECTION_OK);
    PQsetNoticeProcessor(locker, quiet_notice, NULL);
    res = PQexec(locker, "BEGIN; LOCK TABLE store_status, status_pack IN ACCESS EXCLUSIVE MODE;"
                         " SELECT pg_advisory_xact_lock(7596598254613)");
    CU_ASSERT_EQUAL(PQresultStatus(res), PGRES_TUPLES_OK);
    PQclear(res);

    up_deadline_set(2);
    t0 = time(NULL);
    st = open_mode(t.url, UP_STORE_READ);
    rc = up_store_polls(st, ids, 5, SEC(90), SEC(200), &ss, err, sizeof err);
    CU_ASSERT_EQUAL(rc, UP_ETIMEOUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, ": read polls: timed out after 2 s (--timeout)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "the server cancelled it"));
    CU_ASSERT(time(NULL) - t0 <= 4);
    up_store_close(st);

    up_deadline_set(2);
    t0 = time(NULL);
    st = open_mode(t.url, UP_STORE_WRITE);
    rc = up_store_begin(st, err, sizeof err);
    if (rc == UP_OK)
        rc = up_store_put_status(st, "late", SEC(5000), 1, err, sizeof err);
    if (rc == UP_OK)
        rc = up_store_commit(st, err, sizeof err);
    CU_ASSERT_EQUAL(rc, UP_ETIMEOUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, ": merge: timed out after 2 s (--timeout)"));
    CU_ASSERT(time(NULL) - t0 <= 4);
    CU_ASSERT_EQUAL(up_store_rollback(st, err, sizeof err), UP_OK);
    up_store_close(st);
    /* Past the deadline nothing is started at all. */
    st = open_mode(t.url, UP_STORE_READ);
    while (!up_deadline_expired())
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    CU_ASSERT_EQUAL(up_store_max_ts(st, &max, &any, err, sizeof err), UP_ETIMEOUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "timed out after 2 s (--timeout)"));
    up_store_close(st);
    up_deadline_set(0);

    PQclear(PQexec(locker, "ROLLBACK"));
    PQfinish(locker);
    CU_ASSERT_STRING_EQUAL(
        admin_value(&t, "SELECT count(*) FROM store_summary WHERE store_id = 'late'"), "0");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'",
             t.schema);
    CU_ASSERT_STRING_EQUAL(admin_value(&t, sql), "0");
    pg_teardown(&t);
}

/* status_pack's rows as "id:bucket:polls", and how many rows differ from store_status
 * packed afresh (both ways): "0" when the loader kept it exact. */
#define PACK_ROWS_SQL                                                                              \
    "SELECT string_agg(store_id || ':' || bucket || ':' || length(polls) / 8, ','"                 \
    " ORDER BY store_id, bucket) FROM status_pack"
#define PACK_FRESH                                                                                 \
    "SELECT store_id, ts_utc >> 36, string_agg(int8send(ts_utc * 2 + active::int), ''::bytea"      \
    " ORDER BY ts_utc) FROM store_status GROUP BY 1, 2"
#define PACK_DIFF_SQL                                                                              \
    "SELECT count(*) FROM ((SELECT * FROM status_pack EXCEPT ALL " PACK_FRESH ") UNION ALL"        \
    " (" PACK_FRESH " EXCEPT ALL SELECT * FROM status_pack)) d"

/* Seconds s as an instant. Buckets are 2^36 us = 68 719.476736 s: bucket k starts at
 * k * 68719.476736 s (1: 68 719.48, 2: 137 438.95, 5: 343 597.38, 6: 412 316.86, 7:
 * 481 036.34). */
static void put_polls(struct up_store *st, const char *const *ids, const int64_t *sec,
                      const int *active, int n)
{
    char err[512];
    int i;

    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    for (i = 0; i < n; i++)
        CU_ASSERT_EQUAL(up_store_put_status(st, ids[i], SEC(sec[i]), active[i], err, sizeof err),
                        UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
}

/* The polls of ids in [lo, now] (seconds) as a report reads them, on a fresh read
 * connection (which reads status_pack when there is one). */
static const char *read_polls(struct pgtest *t, const char *const *ids, size_t n, int64_t lo,
                              int64_t now)
{
    static struct sink s;
    struct up_store_sink ss = sink_all(&s);
    struct up_store *st = open_mode(t->url, UP_STORE_READ);
    char err[512];

    sink_reset(&s);
    CU_ASSERT_EQUAL(up_store_polls(st, ids, n, SEC(lo), SEC(now), &ss, err, sizeof err), UP_OK);
    up_store_close(st);
    return s.text;
}

/*
 * The packed polls, worked out by hand: which bucket each poll is in, the carry-in from
 * the last bucket before the window's or from the window's own first bucket, a poll at
 * now kept and one after it not, a store whose only poll is before now's read; then a
 * second load (through the stage: a poll between two stored ones, one turned inactive, a
 * new store) and a prune (a bucket left empty goes), each leaving status_pack equal to
 * store_status packed afresh.
 */
static void test_packed_polls(void)
{
    static const char *const pid[] = {"p", "p", "p", "p", "p", "p", "q", "r", "u"};
    static const int64_t psec[] = {137440, 343600, 343700, 412320, 412400,
                                   481040, 68720,  343620, 481050};
    static const int pact[] = {1, 0, 1, 1, 0, 1, 0, 1, 1};
    static const char *const nid[] = {"p", "p", "v"};
    static const int64_t nsec[] = {343650, 412320, 412330};
    static const int nact[] = {1, 0, 1};
    const char *ids[] = {"p", "q", "r", "u", "v"};
    struct pgtest t;
    struct up_store *st;
    int64_t deleted = 0;
    char err[512];

    if (!pg_setup(&t))
        return;
    st = open_mode(t.url, UP_STORE_WRITE);
    put_polls(st, pid, psec, pact, 9);
    CU_ASSERT_STRING_EQUAL(admin_value(&t, PACK_ROWS_SQL),
                           "p:2:1,p:5:2,p:6:2,p:7:1,q:1:1,r:5:1,u:7:1");
    CU_ASSERT_STRING_EQUAL(admin_value(&t, PACK_DIFF_SQL), "0");
    /* lo inside bucket 5: p's carry-in and r's only poll are in lo's own bucket; q's is
     * four buckets back; p@412400 is at now, p@481040 after it; u has no poll by now. */
    CU_ASSERT_STRING_EQUAL(read_polls(&t, ids, 4, 343660, 412400),
                           "p@343600=0;p@343700=1;p@412320=1;p@412400=0;q@68720=0;r@343620=1;");
    /* lo just after bucket 6 began: p's carry-in is the last poll of bucket 5. */
    CU_ASSERT_STRING_EQUAL(read_polls(&t, ids, 4, 412317, 481040),
                           "p@343700=1;p@412320=1;p@412400=0;p@481040=1;q@68720=0;r@343620=1;");
    /* lo at p's first poll: it is in the window; no carry-in for p. */
    CU_ASSERT_STRING_EQUAL(read_polls(&t, ids, 4, 137440, 343600),
                           "p@137440=1;p@343600=0;q@68720=0;");

    put_polls(st, nid, nsec, nact, 3);
    CU_ASSERT_STRING_EQUAL(admin_value(&t, PACK_ROWS_SQL),
                           "p:2:1,p:5:3,p:6:2,p:7:1,q:1:1,r:5:1,u:7:1,v:6:1");
    CU_ASSERT_STRING_EQUAL(admin_value(&t, PACK_DIFF_SQL), "0");
    CU_ASSERT_STRING_EQUAL(read_polls(&t, ids, 5, 343660, 412400),
                           "p@343650=1;p@343700=1;p@412320=0;p@412400=0;q@68720=0;r@343620=1;"
                           "v@412330=1;");

    /* Before 412000 s each store keeps its latest poll: p@343700; bucket 2 is empty. */
    CU_ASSERT_EQUAL(up_store_prune(st, SEC(412000), &deleted, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(deleted, 3);
    CU_ASSERT_STRING_EQUAL(admin_value(&t, PACK_ROWS_SQL),
                           "p:5:1,p:6:2,p:7:1,q:1:1,r:5:1,u:7:1,v:6:1");
    CU_ASSERT_STRING_EQUAL(admin_value(&t, PACK_DIFF_SQL), "0");
    CU_ASSERT_STRING_EQUAL(read_polls(&t, ids, 5, 412317, 481040),
                           "p@343700=1;p@412320=0;p@412400=0;p@481040=1;q@68720=0;r@343620=1;"
                           "v@412330=1;");
    CU_ASSERT_STRING_EQUAL(admin_value(&t, "SELECT current FROM status_pack_state"), "t");

    /* A write to store_status by anything but the loader (here by hand; an older
     * uptime_load likewise) marks status_pack stale: reads take store_status, which has
     * the change; the next load fills status_pack again whole. */
    CU_ASSERT(admin_exec(&t, "UPDATE store_status SET active = true WHERE store_id = 'q'"));
    CU_ASSERT_STRING_EQUAL(admin_value(&t, "SELECT current FROM status_pack_state"), "f");
    CU_ASSERT_STRING_EQUAL(read_polls(&t, ids, 5, 412317, 481040),
                           "p@343700=1;p@412320=0;p@412400=0;p@481040=1;q@68720=1;r@343620=1;"
                           "v@412330=1;");
    put_polls(st, nid + 2, nsec + 2, nact + 2, 1);
    CU_ASSERT_STRING_EQUAL(admin_value(&t, "SELECT current FROM status_pack_state"), "t");
    CU_ASSERT_STRING_EQUAL(admin_value(&t, PACK_DIFF_SQL), "0");
    CU_ASSERT_STRING_EQUAL(read_polls(&t, ids, 5, 412317, 481040),
                           "p@343700=1;p@412320=0;p@412400=0;p@481040=1;q@68720=1;r@343620=1;"
                           "v@412330=1;");
    up_store_close(st);
    pg_teardown(&t);
}

static void test_accepts(void)
{
    const struct up_store_ops *pg = &up_store_pg_ops;

    CU_ASSERT(pg->accepts("postgresql://u@h/db"));
    CU_ASSERT(pg->accepts("postgres://h/db"));
    CU_ASSERT(pg->accepts("host=/tmp dbname=x"));
    CU_ASSERT(!pg->accepts("data/uptime.db"));
    CU_ASSERT(!pg->accepts("sqlite:data/uptime.db"));
    CU_ASSERT(!pg->accepts("hdf5:snap"));
    CU_ASSERT(!pg->accepts("mem:x"));
    /* A conninfo string never becomes a file name: PostgreSQL takes it, SQLite never. */
    CU_ASSERT_PTR_EQUAL(up_store_backend_for("host=/tmp dbname=x"), pg);
    CU_ASSERT_PTR_EQUAL(up_store_backend_for("postgresql://u@h/db"), pg);
    CU_ASSERT(!up_store_sqlite_ops.accepts("host=/tmp dbname=x"));
}

int test_store_pg_add(void)
{
    CU_pSuite s = CU_add_suite("store_pg", NULL, NULL);

    if (!s || !CU_add_test(s, "accepts URIs and conninfo", test_accepts) ||
        !CU_add_test(s, "round trip, byte-wise order", test_roundtrip_and_order) ||
        !CU_add_test(s, "ids with COPY and array specials", test_special_ids) ||
        !CU_add_test(s, "carry-in is the latest poll only", test_carry_in_is_only_the_latest) ||
        !CU_add_test(s, "duplicates merge across loads", test_merge_across_loads) ||
        !CU_add_test(s, "a first load is copied straight in", test_first_load_copies_straight) ||
        !CU_add_test(s, "a second load merges through the stage", test_second_load_merges) ||
        !CU_add_test(s, "a load in sorted runs (UPTIME_PG_HOLD_ROWS)", test_load_in_runs) ||
        !CU_add_test(s, "reload replaces hours, upserts zones",
                     test_reload_replaces_hours_and_upserts) ||
        !CU_add_test(s, "rollback keeps previous data", test_rollback_keeps_previous_data) ||
        !CU_add_test(s, "connection lost mid-load", test_connection_lost_mid_load) ||
        !CU_add_test(s, "streams more than a batch", test_streams_many_rows) ||
        !CU_add_test(s, "open and read errors", test_open_and_read_errors) ||
        !CU_add_test(s, "one snapshot across connections", test_snapshot_across_connections) ||
        !CU_add_test(s, "polls: a range matched to the list", test_polls_range_and_list) ||
        !CU_add_test(s, "a deadline bounds every wait", test_deadline_bounds_waits) ||
        !CU_add_test(s, "packed polls: buckets, carry-in, merge, prune, stale", test_packed_polls))
        return CU_get_error();
    return CUE_SUCCESS;
}
