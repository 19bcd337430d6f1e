/*
 * PostgreSQL backend through libpq: "postgresql://...", "postgres://..." or a key=value
 * conninfo string. Loads go through COPY into temporary staging tables and are merged
 * in one transaction; reads stream through COPY ... TO STDOUT in binary, and every rank of
 * a report can read one exported snapshot.
 */
#include <libpq-fe.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "up_buf.h"
#include "up_source.h"
#include "up_store_int.h"

/* COPY data is sent in chunks of this size (libpq buffers more only if we let it). */
#define COPY_BUF 65536
/* Serialises the merge phase of concurrent loads (pg_advisory_xact_lock key). */
#define LOAD_LOCK "7596598254613"

/* The schema (docs/schema.md). Time stamps are bigint microseconds, as in SQLite, so both
 * backends do the same integer arithmetic; ids are COLLATE "C" so that every ORDER BY and
 * every index is byte-wise, whatever the database's default collation. */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS store_status ("
    " store_id text COLLATE \"C\" NOT NULL, ts_utc bigint NOT NULL, active boolean NOT NULL,"
    " CONSTRAINT store_status_pkey PRIMARY KEY (store_id, ts_utc) INCLUDE (active));"
    "ALTER TABLE store_status CLUSTER ON store_status_pkey;"
    "CREATE TABLE IF NOT EXISTS business_hours ("
    " store_id text COLLATE \"C\" NOT NULL, day_of_week smallint NOT NULL,"
    " start_time_us bigint NOT NULL, end_time_us bigint NOT NULL,"
    " PRIMARY KEY (store_id, day_of_week, start_time_us, end_time_us));"
    "CREATE TABLE IF NOT EXISTS store_timezone ("
    " store_id text COLLATE \"C\" NOT NULL PRIMARY KEY, timezone_str text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS store_summary ("
    " store_id text COLLATE \"C\" NOT NULL PRIMARY KEY, first_ts bigint NOT NULL,"
    " last_ts bigint NOT NULL, npolls bigint NOT NULL);";

/* Which staging table the open COPY feeds; the loader sends zones, then hours, then
 * polls, so the target changes at most twice per load. */
enum copy_kind { COPY_NONE, COPY_TZ, COPY_HOURS, COPY_STATUS };

struct pg_store {
    struct up_store base;
    PGconn *conn;
    char where[512]; /* the URL with any password hidden: the only form ever printed */
    enum copy_kind copy;
    int load_any; /* a poll was put in this load */
    char *buf;    /* COPY data not yet handed to libpq */
    size_t blen;
    /* Reading: from up_store_snapshot or up_store_read_at on, every read runs inside one
     * REPEATABLE READ transaction held until close (pinned); an error that aborts it loses
     * the view, and every later read then fails rather than read another one. */
    int pinned, pin_lost;
};

static struct pg_store *cast(struct up_store *st)
{
    return (struct pg_store *)st;
}

static int pg_accepts(const char *url)
{
    enum up_source_kind k = up_source_kind(url);
    return k == UP_SOURCE_PG_URI || k == UP_SOURCE_PG_KV;
}

/* libpq's messages span lines ("...failed: FATAL: ...\n\tIs the server running...");
 * logs and status files want one line. */
static void one_line(const char *msg, char *out, size_t n)
{
    size_t i = 0;
    int space = 0;

    if (n == 0)
        return;
    for (; *msg && i + 1 < n; msg++) {
        if (*msg == '\n' || *msg == '\r' || *msg == '\t' || *msg == ' ') {
            space = i > 0;
            continue;
        }
        if (space && i + 2 < n)
            out[i++] = ' ';
        space = 0;
        out[i++] = *msg;
    }
    out[i] = '\0';
}

/* Formats "postgresql <url>: <what>: <server or libpq message>"; returns UP_EDB. */
static enum up_code fail(struct pg_store *p, const char *what, const PGresult *res, char *err,
                         size_t errlen)
{
    char msg[1024];
    const char *m = res ? PQresultErrorMessage(res) : "";

    if (!m[0])
        m = p->conn ? PQerrorMessage(p->conn) : "";
    one_line(m[0] ? m : "unknown error", msg, sizeof msg);
    snprintf(err, errlen, "postgresql %s: %s: %s", p->where, what, msg);
    return UP_EDB;
}

/* Runs a command (or several, ';'-separated) that returns no rows. */
static enum up_code exec(struct pg_store *p, const char *sql, const char *what, char *err,
                         size_t errlen)
{
    PGresult *res = PQexec(p->conn, sql);
    enum up_code rc = UP_OK;

    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = fail(p, what, res, err, errlen);
    PQclear(res);
    return rc;
}

/* Leaves an open transaction after an error; harmless when there is none or the
 * connection is gone (the server then discards the transaction itself). */
static void abort_tx(struct pg_store *p)
{
    if (PQstatus(p->conn) == CONNECTION_OK && PQtransactionStatus(p->conn) != PQTRANS_IDLE)
        PQclear(PQexec(p->conn, "ROLLBACK"));
}

/* "CREATE TABLE IF NOT EXISTS ... already exists, skipping" must not reach stderr. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void pg_close(struct up_store *st)
{
    struct pg_store *p = cast(st);

    if (!p)
        return;
    if (p->conn)
        PQfinish(p->conn);
    free(p->buf);
    free(p);
}

/*
 * Connects with bounded waits unless the URL or the environment says otherwise: keywords
 * before "dbname" are overridden by the ones the expanded URL carries.
 */
static PGconn *connect_url(const char *url)
{
    const char *keys[8], *vals[8];
    int k = 0;

    if (!getenv("PGCONNECT_TIMEOUT")) {
        keys[k] = "connect_timeout";
        vals[k++] = "10";
    }
    /* A server or network that vanishes mid-run is noticed in about a minute rather
     * than after the kernel's two-hour keepalive default. */
    keys[k] = "keepalives_idle";
    vals[k++] = "20";
    keys[k] = "keepalives_interval";
    vals[k++] = "5";
    keys[k] = "keepalives_count";
    vals[k++] = "4";
    keys[k] = "tcp_user_timeout";
    vals[k++] = "60000";
    keys[k] = "fallback_application_name";
    vals[k++] = "uptime";
    keys[k] = "dbname";
    vals[k++] = url;
    keys[k] = NULL;
    vals[k] = NULL;
    return PQconnectdbParams(keys, vals, 1);
}

/* Creates the tables when one is missing. Only then does the load need CREATE on the
 * schema; later loads need only rights on the tables (docs/postgres.md). */
static enum up_code ensure_schema(struct pg_store *p, char *err, size_t errlen)
{
    PGresult *res;
    int missing;
    enum up_code rc;

    res = PQexec(p->conn, "SELECT to_regclass('store_status') IS NULL OR"
                          " to_regclass('business_hours') IS NULL OR"
                          " to_regclass('store_timezone') IS NULL OR"
                          " to_regclass('store_summary') IS NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        rc = fail(p, "schema check", res, err, errlen);
        PQclear(res);
        return rc;
    }
    missing = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!missing)
        return UP_OK;
    /* Two first loads at once: the lock makes the second see the first's tables. */
    rc = exec(p, "BEGIN; SELECT pg_advisory_xact_lock(" LOAD_LOCK ");", "create schema", err,
              errlen);
    if (rc == UP_OK)
        rc = exec(p, schema_sql, "create schema", err, errlen);
    if (rc == UP_OK)
        rc = exec(p, "COMMIT", "create schema", err, errlen);
    if (rc != UP_OK)
        abort_tx(p);
    return rc;
}

static enum up_code pg_open(const char *url, enum up_store_mode mode, struct up_store **out,
                            char *err, size_t errlen)
{
    struct pg_store *p = calloc(1, sizeof *p);
    const char *enc;
    enum up_code rc;
    PGresult *res;

    *out = NULL;
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return UP_ENOMEM;
    }
    p->base.ops = &up_store_pg_ops;
    up_source_redact(url, p->where, sizeof p->where);
    p->conn = connect_url(url);
    if (!p->conn) {
        snprintf(err, errlen, "postgresql %s: out of memory", p->where);
        rc = UP_ENOMEM;
        goto fail;
    }
    if (PQstatus(p->conn) != CONNECTION_OK) {
        rc = fail(p, "cannot connect", NULL, err, errlen);
        goto fail;
    }
    PQsetNoticeProcessor(p->conn, quiet_notice, NULL);
    /* Ids go in and come out as the same bytes only without encoding conversion. */
    if (PQsetClientEncoding(p->conn, "UTF8") != 0) {
        rc = fail(p, "set client encoding UTF8", NULL, err, errlen);
        goto fail;
    }
    enc = PQparameterStatus(p->conn, "server_encoding");
    if (!enc || (strcmp(enc, "UTF8") != 0 && strcmp(enc, "SQL_ASCII") != 0)) {
        snprintf(err, errlen, "postgresql %s: database encoding is %s; uptime needs UTF8", p->where,
                 enc ? enc : "unknown");
        rc = UP_EDB;
        goto fail;
    }
    if (mode == UP_STORE_WRITE) {
        rc = ensure_schema(p, err, errlen);
        if (rc != UP_OK)
            goto fail;
        p->buf = malloc(COPY_BUF);
        if (!p->buf) {
            snprintf(err, errlen, "out of memory");
            rc = UP_ENOMEM;
            goto fail;
        }
    } else {
        /* Read-only sessions; no JIT: it compiled each report query for 0.17-0.31 s,
         * more than the metadata reads take without it (docs/postgres.md). */
        rc = exec(p, "SET default_transaction_read_only = on; SET jit = off", "set read-only", err,
                  errlen);
        if (rc != UP_OK)
            goto fail;
        /* Fail now, with a clear message, if a table is not there or not readable. From
         * the catalog, taking no lock: a session that holds a table locked delays the
         * reads of that table only, not the open. */
        res =
            PQexec(p->conn, "SELECT t, to_regclass(t) IS NULL FROM unnest(ARRAY['store_status',"
                            " 'business_hours', 'store_timezone', 'store_summary']) AS t"
                            " WHERE to_regclass(t) IS NULL OR NOT has_table_privilege(t, 'SELECT')"
                            " LIMIT 1");
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 2) {
            rc = fail(p, "schema check", res, err, errlen);
        } else if (PQntuples(res) > 0 && PQgetvalue(res, 0, 1)[0] == 't') {
            snprintf(err, errlen,
                     "postgresql %s: not an uptime database (relation \"%s\" does not exist);"
                     " run uptime_load first",
                     p->where, PQgetvalue(res, 0, 0));
            rc = UP_EDB;
        } else if (PQntuples(res) > 0) {
            snprintf(err, errlen, "postgresql %s: schema check: permission denied for table %s",
                     p->where, PQgetvalue(res, 0, 0));
            rc = UP_EDB;
        }
        PQclear(res);
        if (rc != UP_OK)
            goto fail;
    }
    *out = &p->base;
    return UP_OK;
fail:
    pg_close(&p->base);
    return rc;
}

/* ---- Loading. ---- */

static enum up_code pg_begin(struct up_store *st, char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    enum up_code rc;

    p->load_any = 0;
    p->copy = COPY_NONE;
    p->blen = 0;
    /* Staging tables live in this session only and vanish at commit or rollback. */
    rc = exec(p,
              "BEGIN;"
              "CREATE TEMP TABLE up_tz_stage (seq bigint GENERATED ALWAYS AS IDENTITY,"
              " store_id text COLLATE \"C\" NOT NULL, timezone_str text NOT NULL) ON COMMIT DROP;"
              "CREATE TEMP TABLE up_hours_stage (store_id text COLLATE \"C\" NOT NULL,"
              " day_of_week smallint NOT NULL, start_time_us bigint NOT NULL,"
              " end_time_us bigint NOT NULL) ON COMMIT DROP;"
              "CREATE TEMP TABLE up_status_stage (store_id text COLLATE \"C\" NOT NULL,"
              " ts_utc bigint NOT NULL, active boolean NOT NULL) ON COMMIT DROP;",
              "begin load", err, errlen);
    if (rc != UP_OK)
        abort_tx(p);
    return rc;
}

static enum up_code flush_copy(struct pg_store *p, char *err, size_t errlen)
{
    if (p->blen == 0)
        return UP_OK;
    if (PQputCopyData(p->conn, p->buf, (int)p->blen) != 1)
        return fail(p, "COPY", NULL, err, errlen);
    p->blen = 0;
    return UP_OK;
}

/* Ends the open COPY and collects its outcome (the server checks the rows here). */
static enum up_code end_copy(struct pg_store *p, const char *abort_msg, char *err, size_t errlen)
{
    enum up_code rc = UP_OK;
    PGresult *res;

    if (p->copy == COPY_NONE)
        return UP_OK;
    p->copy = COPY_NONE;
    if (!abort_msg)
        rc = flush_copy(p, err, errlen);
    p->blen = 0;
    if (PQputCopyEnd(p->conn, rc == UP_OK ? abort_msg : "load failed") != 1 && rc == UP_OK)
        rc = fail(p, "end COPY", NULL, err, errlen);
    while ((res = PQgetResult(p->conn)) != NULL) {
        if (rc == UP_OK && !abort_msg && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = fail(p, "COPY", res, err, errlen);
        PQclear(res);
        /* A dead connection keeps returning an error result: stop. */
        if (PQstatus(p->conn) != CONNECTION_OK)
            break;
    }
    return rc;
}

static enum up_code start_copy(struct pg_store *p, enum copy_kind kind, char *err, size_t errlen)
{
    static const char *const sql[] = {
        [COPY_TZ] = "COPY up_tz_stage (store_id, timezone_str) FROM STDIN",
        [COPY_HOURS] = "COPY up_hours_stage FROM STDIN",
        [COPY_STATUS] = "COPY up_status_stage FROM STDIN",
    };
    enum up_code rc;
    PGresult *res;

    if (p->copy == kind)
        return UP_OK;
    rc = end_copy(p, NULL, err, errlen);
    if (rc != UP_OK)
        return rc;
    res = PQexec(p->conn, sql[kind]);
    if (PQresultStatus(res) != PGRES_COPY_IN)
        rc = fail(p, "start COPY", res, err, errlen);
    else
        p->copy = kind;
    PQclear(res);
    return rc;
}

static enum up_code put_bytes(struct pg_store *p, const char *s, size_t n, char *err, size_t errlen)
{
    enum up_code rc;

    while (n > 0) {
        size_t k = COPY_BUF - p->blen;
        if (k == 0) {
            rc = flush_copy(p, err, errlen);
            if (rc != UP_OK)
                return rc;
            continue;
        }
        if (k > n)
            k = n;
        memcpy(p->buf + p->blen, s, k);
        p->blen += k;
        s += k;
        n -= k;
    }
    return UP_OK;
}

/* One field in COPY's text format: backslash and the separators are escaped; every other
 * byte (commas, quotes, any UTF-8) goes as it is. */
static enum up_code put_text(struct pg_store *p, const char *s, char *err, size_t errlen)
{
    enum up_code rc = UP_OK;
    const char *run = s;

    for (; *s && rc == UP_OK; s++) {
        const char *esc = NULL;
        switch (*s) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        default:
            continue;
        }
        rc = put_bytes(p, run, (size_t)(s - run), err, errlen);
        if (rc == UP_OK)
            rc = put_bytes(p, esc, 2, err, errlen);
        run = s + 1;
    }
    if (rc == UP_OK)
        rc = put_bytes(p, run, strlen(run), err, errlen);
    return rc;
}

static enum up_code pg_put_status(struct up_store *st, const char *id, int64_t ts, int active,
                                  char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    char tail[48];
    enum up_code rc;

    p->load_any = 1;
    rc = start_copy(p, COPY_STATUS, err, errlen);
    if (rc == UP_OK)
        rc = put_text(p, id, err, errlen);
    snprintf(tail, sizeof tail, "\t%lld\t%c\n", (long long)ts, active ? 't' : 'f');
    if (rc == UP_OK)
        rc = put_bytes(p, tail, strlen(tail), err, errlen); /* numbers: no escaping */
    return rc;
}

static enum up_code pg_put_hours(struct up_store *st, const char *id,
                                 const struct up_hours_row *row, char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    char tail[80];
    enum up_code rc;

    rc = start_copy(p, COPY_HOURS, err, errlen);
    if (rc == UP_OK)
        rc = put_text(p, id, err, errlen);
    snprintf(tail, sizeof tail, "\t%d\t%lld\t%lld\n", row->day, (long long)row->start_us,
             (long long)row->end_us);
    if (rc == UP_OK)
        rc = put_bytes(p, tail, strlen(tail), err, errlen); /* numbers: no escaping */
    return rc;
}

static enum up_code pg_put_timezone(struct up_store *st, const char *id, const char *zone,
                                    char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    enum up_code rc;

    rc = start_copy(p, COPY_TZ, err, errlen);
    if (rc == UP_OK)
        rc = put_text(p, id, err, errlen);
    if (rc == UP_OK)
        rc = put_bytes(p, "\t", 1, err, errlen);
    if (rc == UP_OK)
        rc = put_text(p, zone, err, errlen);
    if (rc == UP_OK)
        rc = put_bytes(p, "\n", 1, err, errlen);
    return rc;
}

/* Before the merge: statistics on the stages so the planner sizes its joins, memory
 * for sorting a few million staged polls without spilling, and the lock that
 * serialises the merge phase of concurrent loads. */
static const char merge_prep_sql[] =
    "SET LOCAL work_mem = '256MB';"
    "ANALYZE up_status_stage; ANALYZE up_hours_stage; ANALYZE up_tz_stage;"
    "SELECT pg_advisory_xact_lock(" LOAD_LOCK ");";

/* Polls (SPEC §2): duplicates within the load merge with bool_and (inactive wins);
 * inserting in key order keeps the heap clustered by (store_id, ts_utc). Into an empty
 * table this is all. */
#define STATUS_INSERT                                                                              \
    "INSERT INTO store_status (store_id, ts_utc, active)"                                          \
    " SELECT store_id, ts_utc, bool_and(active) FROM up_status_stage g"                            \
    " GROUP BY store_id, ts_utc"
static const char status_first_sql[] = STATUS_INSERT " ORDER BY store_id, ts_utc;";

/* Into a table with polls: a stored poll the load sees inactive becomes inactive, and
 * only new (store_id, ts_utc) are inserted. Not INSERT ... ON CONFLICT DO UPDATE: that
 * writes a new version of every row a reload repeats (bloat) and measured five times
 * slower on a reload of 1.7 million polls. */
static const char status_merge_sql[] =
    "UPDATE store_status s SET active = false FROM up_status_stage g"
    " WHERE NOT g.active AND s.active AND s.store_id = g.store_id AND s.ts_utc = "
    "g.ts_utc;" STATUS_INSERT " HAVING NOT EXISTS (SELECT 1 FROM store_status s"
    " WHERE s.store_id = g.store_id AND s.ts_utc = g.ts_utc) ORDER BY store_id, ts_utc;";

/* Hours: a store named in the load has its rows replaced whole (identical rows stored
 * once). Zones: upsert, the last row of the load winning. */
static const char merge_rest_sql[] =
    "DELETE FROM business_hours WHERE store_id IN (SELECT store_id FROM up_hours_stage);"
    "INSERT INTO business_hours (store_id, day_of_week, start_time_us, end_time_us)"
    " SELECT DISTINCT store_id, day_of_week, start_time_us, end_time_us FROM up_hours_stage"
    " ON CONFLICT DO NOTHING;"
    "INSERT INTO store_timezone (store_id, timezone_str)"
    " SELECT DISTINCT ON (store_id) store_id, timezone_str FROM up_tz_stage"
    " ORDER BY store_id, seq DESC"
    " ON CONFLICT (store_id) DO UPDATE SET timezone_str = excluded.timezone_str;";

/* Only the stores this load touched get a new summary row. */
static const char summary_sql[] =
    "INSERT INTO store_summary (store_id, first_ts, last_ts, npolls)"
    " SELECT store_id, min(ts_utc), max(ts_utc), count(*) FROM store_status"
    " WHERE store_id IN (SELECT DISTINCT store_id FROM up_status_stage) GROUP BY store_id"
    " ON CONFLICT (store_id) DO UPDATE SET first_ts = excluded.first_ts,"
    " last_ts = excluded.last_ts, npolls = excluded.npolls;";

/*
 * Into an empty table, the primary key is dropped, the polls inserted in key order and the
 * key built again from them by one sort: measured twice as fast on 5 M polls (11.6 s +
 * 2.8 s against 28.4 s) as inserting every poll into the index. ALTER TABLE needs the
 * table's owner; a role that may only write gets the plain insert (the savepoint undoes
 * the attempt). The summary of a first load is every store's, with no list to check.
 */
static const char status_first_fast_sql[] =
    "ALTER TABLE store_status DROP CONSTRAINT store_status_pkey;" STATUS_INSERT
    " ORDER BY store_id, ts_utc;"
    "ALTER TABLE store_status ADD CONSTRAINT store_status_pkey"
    " PRIMARY KEY (store_id, ts_utc) INCLUDE (active);"
    "ALTER TABLE store_status CLUSTER ON store_status_pkey;";
static const char summary_first_sql[] =
    "INSERT INTO store_summary (store_id, first_ts, last_ts, npolls)"
    " SELECT store_id, min(ts_utc), max(ts_utc), count(*) FROM store_status GROUP BY store_id"
    " ON CONFLICT (store_id) DO UPDATE SET first_ts = excluded.first_ts,"
    " last_ts = excluded.last_ts, npolls = excluded.npolls;";

/* The polls of a first load (store_status empty): the fast way, else the plain insert. */
static enum up_code merge_first(struct pg_store *p, char *err, size_t errlen)
{
    enum up_code rc = exec(p, "SAVEPOINT up_first", "merge polls", err, errlen);

    if (rc != UP_OK)
        return rc;
    if (exec(p, status_first_fast_sql, "merge polls", err, errlen) == UP_OK)
        return exec(p, "RELEASE SAVEPOINT up_first", "merge polls", err, errlen);
    rc = exec(p, "ROLLBACK TO SAVEPOINT up_first", "merge polls", err, errlen);
    return rc == UP_OK ? exec(p, status_first_sql, "merge polls", err, errlen) : rc;
}

static enum up_code pg_commit(struct up_store *st, char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    enum up_code rc;
    int first = 0;

    rc = end_copy(p, NULL, err, errlen);
    if (rc == UP_OK)
        rc = exec(p, merge_prep_sql, "merge", err, errlen);
    if (rc == UP_OK && p->load_any) {
        PGresult *res = PQexec(p->conn, "SELECT EXISTS (SELECT 1 FROM store_status)");
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            rc = fail(p, "merge", res, err, errlen);
        } else {
            first = PQgetvalue(res, 0, 0)[0] != 't';
            rc = first ? merge_first(p, err, errlen)
                       : exec(p, status_merge_sql, "merge polls", err, errlen);
        }
        PQclear(res);
    }
    if (rc == UP_OK)
        rc = exec(p, merge_rest_sql, "merge", err, errlen);
    if (rc == UP_OK && p->load_any)
        rc = exec(p, first ? summary_first_sql : summary_sql, "store summary", err, errlen);
    if (rc == UP_OK)
        rc = exec(p, "COMMIT", "commit", err, errlen);
    if (rc != UP_OK)
        return rc; /* the loader rolls back */
    /* Fresh planner statistics for the readers, and a visibility map for store_status so
     * the readers' index-only scans never visit the table (a third faster on 1.9 million
     * polls). After the commit, so a failure here (a role that may write but not vacuum
     * only gets a warning) cannot undo the load. */
    PQclear(PQexec(p->conn, "VACUUM (ANALYZE) store_status"));
    PQclear(PQexec(p->conn, "ANALYZE store_summary, business_hours, store_timezone"));
    return UP_OK;
}

/* Retention (up_store_prune): one statement; per store, `keep` is its latest poll before
 * `before`, every earlier one is deleted, and the summary loses what was deleted (its
 * first poll is now `keep`). Serialised with the merge phase of loads. */
static const char prune_sql[] =
    "WITH keep AS (SELECT store_id, max(ts_utc) AS k FROM store_status"
    "  WHERE ts_utc < $1::bigint GROUP BY store_id),"
    " del AS (DELETE FROM store_status s USING keep"
    "  WHERE s.store_id = keep.store_id AND s.ts_utc < keep.k RETURNING s.store_id),"
    " cnt AS (SELECT store_id, count(*) AS n FROM del GROUP BY store_id),"
    " upd AS (UPDATE store_summary m SET npolls = m.npolls - cnt.n, first_ts = keep.k"
    "  FROM cnt JOIN keep USING (store_id) WHERE m.store_id = cnt.store_id)"
    " SELECT coalesce(sum(n), 0) FROM cnt";

static enum up_code pg_prune(struct up_store *st, int64_t before, int64_t *deleted, char *err,
                             size_t errlen)
{
    struct pg_store *p = cast(st);
    char bbuf[32];
    const char *params[1] = {bbuf};
    enum up_code rc;
    PGresult *res;

    snprintf(bbuf, sizeof bbuf, "%lld", (long long)before);
    rc = exec(p, "BEGIN; SELECT pg_advisory_xact_lock(" LOAD_LOCK ");", "prune", err, errlen);
    if (rc != UP_OK) {
        abort_tx(p);
        return rc;
    }
    res = PQexecParams(p->conn, prune_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        rc = fail(p, "prune", res, err, errlen);
    else
        *deleted = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (rc == UP_OK)
        rc = exec(p, "COMMIT", "prune", err, errlen);
    if (rc != UP_OK) {
        *deleted = 0;
        abort_tx(p);
        return rc;
    }
    /* As after a load: the freed space becomes reusable and the readers' index-only scans
     * keep their visibility map. Best effort, after the commit. */
    PQclear(PQexec(p->conn, "VACUUM (ANALYZE) store_status"));
    return UP_OK;
}

static enum up_code pg_rollback(struct up_store *st, char *err, size_t errlen)
{
    struct pg_store *p = cast(st);

    (void)end_copy(p, "load rolled back", err, errlen);
    /* Without a connection there is nothing to undo: the server discards an open
     * transaction whose client is gone. */
    if (PQstatus(p->conn) != CONNECTION_OK || PQtransactionStatus(p->conn) == PQTRANS_IDLE)
        return UP_OK;
    return exec(p, "ROLLBACK", "rollback", err, errlen);
}

/* ---- Reading. ---- */

/*
 * Every read is one COPY (SELECT ...) TO STDOUT in binary: rows stream as the server
 * produces them (no cursor round trips, no result set held on either side), integers
 * arrive as 8 bytes instead of text to parse. libpq allocates each row's message, so
 * the polls query sends one row per store (its window as one int8[]), not one per poll.
 * Measured against the cursor of 10 000-row FETCHes it replaced: docs/postgres.md.
 */

/* A read that is not pinned runs in a transaction of its own; a pinned one in the held
 * transaction, unless an earlier error lost it. */
static enum up_code read_begin(struct pg_store *p, const char *what, char *err, size_t errlen)
{
    if (p->pin_lost) {
        snprintf(err, errlen,
                 "postgresql %s: %s: the report's snapshot was lost to an earlier error", p->where,
                 what);
        return UP_EDB;
    }
    if (p->pinned)
        return UP_OK;
    return exec(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", what, err, errlen);
}

/* Ends what read_begin began: commits an own transaction; after an error that aborted
 * the held one, the view is lost. */
static enum up_code read_end(struct pg_store *p, enum up_code rc, const char *what, char *err,
                             size_t errlen)
{
    if (rc == UP_OK)
        return p->pinned ? UP_OK : exec(p, "COMMIT", what, err, errlen);
    if (p->pinned && PQstatus(p->conn) == CONNECTION_OK &&
        PQtransactionStatus(p->conn) == PQTRANS_INTRANS)
        return rc; /* a consumer's stop: the transaction, and the view, are intact */
    abort_tx(p);
    if (p->pinned)
        p->pin_lost = 1;
    return rc;
}

static uint32_t be32(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static int64_t be64(const char *s)
{
    return (int64_t)((uint64_t)be32(s) << 32 | be32(s + 4));
}

/* One field of a binary COPY row; v is NULL for an SQL NULL, else NUL-terminated. */
struct bfield {
    char *v;
    int32_t len;
};

/* A binary COPY being read: the current message and the position in it. */
struct bcopy {
    char *msg; /* from PQgetCopyData (PQfreemem); libpq ends it with a NUL */
    int len, pos;
    int header, trailer; /* the file header, the end marker were read */
    int saved_at;        /* position of a byte overwritten by a NUL, or -1 */
    char saved;
};

/* PGCOPY's signature, flags and header extension length (docs: COPY, binary format). */
static const char bcopy_sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};

/* Next row of c into f[0..nf). Returns 1 (a row; its text fields NUL-terminated in place
 * until the next call), 0 (the end marker), -1 (malformed data), -2 (the server ended the
 * COPY early or the connection failed: PQgetResult says why). */
static int bcopy_next(struct pg_store *p, struct bcopy *c, struct bfield *f, int nf)
{
    int i, n;

    if (c->saved_at >= 0) {
        c->msg[c->saved_at] = c->saved;
        c->saved_at = -1;
    }
    while (!c->msg || c->pos >= c->len) {
        PQfreemem(c->msg);
        c->msg = NULL;
        c->len = PQgetCopyData(p->conn, &c->msg, 0);
        c->pos = 0;
        if (c->len < 0)
            return -2; /* the end marker must come first */
        if (!c->header) {
            if (c->len < 19 || memcmp(c->msg, bcopy_sig, sizeof bcopy_sig) != 0)
                return -1;
            c->pos = 19 + (int)be32(c->msg + 15);
            if (c->pos < 19 || c->pos > c->len)
                return -1;
            c->header = 1;
        }
    }
    if (c->len - c->pos < 2)
        return -1;
    n = (int16_t)(((unsigned char)c->msg[c->pos] << 8) | (unsigned char)c->msg[c->pos + 1]);
    c->pos += 2;
    if (n == -1) {
        c->trailer = 1;
        return 0;
    }
    if (n != nf)
        return -1;
    for (i = 0; i < nf; i++) {
        int32_t len;
        if (c->len - c->pos < 4)
            return -1;
        len = (int32_t)be32(c->msg + c->pos);
        c->pos += 4;
        if (len == -1) {
            f[i].v = NULL;
            f[i].len = 0;
            continue;
        }
        if (len < 0 || c->len - c->pos < len)
            return -1;
        f[i].v = c->msg + c->pos;
        f[i].len = len;
        c->pos += len;
    }
    /* Every length is read: the byte after a field (the next field's length, the next
     * row, or libpq's final NUL) may become its terminator. Text never holds a NUL. */
    for (i = 0; i < nf; i++) {
        if (!f[i].v)
            continue;
        if (f[i].v + f[i].len == c->msg + c->pos && c->pos < c->len) {
            c->saved_at = c->pos;
            c->saved = c->msg[c->pos];
        }
        f[i].v[f[i].len] = '\0';
    }
    return 1;
}

/* Called per row with the caller's sink and the scan's own state; a negative return is a
 * malformed or out-of-order row, positive the consumer's stop. */
typedef int (*row_fn)(const struct bfield *f, const struct up_store_sink *sink, void *state);

/*
 * Runs "COPY (<query>) TO STDOUT (FORMAT binary)" (nf columns) and hands each row to row.
 * Whatever stops the rows, the COPY is read to its end, so the connection (and a pinned
 * view) stays usable.
 */
static enum up_code copy_scan(struct pg_store *p, const char *sql, int nf, row_fn row,
                              const struct up_store_sink *sink, void *state, const char *what,
                              char *err, size_t errlen)
{
    struct bcopy c = {NULL, 0, 0, 0, 0, -1, 0};
    struct bfield f[4];
    PGresult *res;
    enum up_code rc;
    char *rest;
    int r = 0;

    rc = read_begin(p, what, err, errlen);
    if (rc != UP_OK)
        return rc;
    res = PQexec(p->conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        rc = fail(p, what, res, err, errlen);
        PQclear(res);
        return read_end(p, rc, what, err, errlen);
    }
    PQclear(res);
    while ((r = bcopy_next(p, &c, f, nf)) > 0) {
        r = row(f, sink, state);
        if (r != 0)
            break;
    }
    if (r < 0 && r != -2) {
        snprintf(err, errlen, "postgresql %s: %s: malformed or out-of-order row", p->where, what);
        rc = UP_EDB;
    } else if (r > 0) {
        snprintf(err, errlen, "postgresql %s: %s: scan stopped by its consumer", p->where, what);
        rc = UP_EFAIL;
    }
    PQfreemem(c.msg);
    while (PQgetCopyData(p->conn, &rest, 0) >= 0)
        PQfreemem(rest);
    while ((res = PQgetResult(p->conn)) != NULL) {
        if (rc == UP_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = fail(p, what, res, err, errlen);
        PQclear(res);
        if (PQstatus(p->conn) != CONNECTION_OK)
            break;
    }
    if (rc == UP_OK && (r == -2 || !c.trailer))
        rc = fail(p, what, NULL, err, errlen);
    return read_end(p, rc, what, err, errlen);
}

/* An int8 field. */
static int get_i64(const struct bfield *f, int64_t *out)
{
    if (!f->v || f->len != 8)
        return -1;
    *out = be64(f->v);
    return 0;
}

static enum up_code pg_max_ts(struct up_store *st, int64_t *max, int *any, char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    enum up_code rc;
    PGresult *res;

    rc = read_begin(p, "max timestamp", err, errlen);
    if (rc != UP_OK)
        return rc;
    res = PQexec(p->conn, "SELECT MAX(last_ts), COUNT(*) > 0 FROM store_summary");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 2) {
        rc = fail(p, "max timestamp", res, err, errlen);
    } else {
        char *end;
        *any = PQgetvalue(res, 0, 1)[0] == 't';
        *max = 0;
        errno = 0;
        if (*any)
            *max = (int64_t)strtoll(PQgetvalue(res, 0, 0), &end, 10);
        if (*any && (errno != 0 || *end != '\0')) {
            snprintf(err, errlen, "postgresql %s: max timestamp: not an integer", p->where);
            rc = UP_EDB;
        }
    }
    PQclear(res);
    return read_end(p, rc, "max timestamp", err, errlen);
}

static int row_store(const struct bfield *f, const struct up_store_sink *sink, void *state)
{
    int64_t npolls;

    (void)state;
    if (get_i64(&f[0], &npolls) != 0 || !f[1].v)
        return -1;
    return sink->store(sink->ctx, f[1].v, npolls) != 0;
}

static enum up_code pg_stores(struct up_store *st, int64_t lo, int64_t now,
                              const struct up_store_sink *sink, char *err, size_t errlen)
{
    char sql[256];

    /* As in SQLite, the weight is the whole poll count, read from the summary. */
    (void)lo;
    snprintf(sql, sizeof sql,
             "COPY (SELECT npolls, store_id FROM store_summary WHERE first_ts <= %lld"
             " ORDER BY store_id COLLATE \"C\") TO STDOUT (FORMAT binary)",
             (long long)now);
    return copy_scan(cast(st), sql, 2, row_store, sink, NULL, "list stores", err, errlen);
}

static int row_hours(const struct bfield *f, const struct up_store_sink *sink, void *state)
{
    struct up_hours_row h;
    int day;

    (void)state;
    if (!f[0].v || f[0].len != 2 || get_i64(&f[1], &h.start_us) != 0 ||
        get_i64(&f[2], &h.end_us) != 0 || !f[3].v)
        return -1;
    day = (int16_t)(((unsigned char)f[0].v[0] << 8) | (unsigned char)f[0].v[1]);
    if (day < 0 || day > 6)
        return -1;
    h.day = day;
    return sink->hours(sink->ctx, f[3].v, &h) != 0;
}

static enum up_code pg_hours(struct up_store *st, const struct up_store_sink *sink, char *err,
                             size_t errlen)
{
    return copy_scan(cast(st),
                     "COPY (SELECT day_of_week, start_time_us, end_time_us, store_id"
                     " FROM business_hours ORDER BY store_id COLLATE \"C\","
                     " day_of_week, start_time_us, end_time_us) TO STDOUT (FORMAT binary)",
                     4, row_hours, sink, NULL, "read hours", err, errlen);
}

static int row_tz(const struct bfield *f, const struct up_store_sink *sink, void *state)
{
    (void)state;
    if (!f[0].v || !f[1].v)
        return -1;
    return sink->zone(sink->ctx, f[1].v, f[0].v) != 0;
}

static enum up_code pg_timezones(struct up_store *st, const struct up_store_sink *sink, char *err,
                                 size_t errlen)
{
    return copy_scan(cast(st),
                     "COPY (SELECT timezone_str, store_id FROM store_timezone"
                     " ORDER BY store_id COLLATE \"C\") TO STDOUT (FORMAT binary)",
                     2, row_tz, sink, NULL, "read time zones", err, errlen);
}

/* The state of a polls scan: the caller's ids, the next one to match, the window. */
struct polls_state {
    const char *const *ids;
    size_t n, k;
    int64_t lo, now;
};

/* Element type of the window array: int8 (pg_type.oid of bigint). */
#define INT8_OID 20

/* Polls travel as ts * 2 + active: one int8 each (every SPEC instant, years 1-9999, is
 * within +-2^58 microseconds, so doubling cannot overflow). */
static int emit_poll(const struct up_store_sink *sink, const char *id, int64_t v)
{
    int64_t ts = (v - (v & 1)) / 2;
    return sink->poll(sink->ctx, id, ts, (int)(v & 1)) != 0;
}

/*
 * One store: its carry-in poll (NULL: none) and its window polls as an int8[] (NULL:
 * none), its id last. The id is matched against the caller's list (a store of the range
 * that is not in the list is skipped); the order is checked, not trusted: ids ascending,
 * the carry-in before lo, the window in [lo, now] strictly ascending.
 */
static int row_polls(const struct bfield *f, const struct up_store_sink *sink, void *state)
{
    struct polls_state *ps = state;
    const char *id;
    int64_t v, prev;
    int32_t i, n;
    int c = 1;

    if (!f[2].v)
        return -1;
    while (ps->k < ps->n && (c = strcmp(ps->ids[ps->k], f[2].v)) < 0)
        ps->k++;
    if (ps->k > 0 && strcmp(ps->ids[ps->k - 1], f[2].v) >= 0 && c != 0)
        return -1; /* not ascending */
    if (ps->k == ps->n || c != 0)
        return 0; /* in the range, not in the list */
    id = ps->ids[ps->k++];
    prev = INT64_MIN;
    if (f[0].v) {
        if (get_i64(&f[0], &v) != 0 || (v - (v & 1)) / 2 >= ps->lo)
            return -1;
        if (emit_poll(sink, id, v))
            return 1;
        prev = v;
    }
    if (!f[1].v)
        return 0;
    /* int8[] in binary: ndim, has-null flag, element type, then per dimension its length
     * and lower bound, then per element its length (8) and value. */
    if (f[1].len < 12 || be32(f[1].v + 8) != INT8_OID)
        return -1;
    if (be32(f[1].v) == 0)
        return 0;
    if (be32(f[1].v) != 1 || f[1].len < 20)
        return -1;
    n = (int32_t)be32(f[1].v + 12);
    if (n < 0 || (f[1].len - 20) / 12 != n || (f[1].len - 20) % 12 != 0)
        return -1;
    for (i = 0; i < n; i++) {
        const char *e = f[1].v + 20 + (size_t)i * 12;
        if (be32(e) != 8)
            return -1;
        v = be64(e + 4);
        if (v <= prev || (v - (v & 1)) / 2 < ps->lo || (v - (v & 1)) / 2 > ps->now)
            return -1;
        if (emit_poll(sink, id, v))
            return 1;
        prev = v;
    }
    return 0;
}

static enum up_code pg_polls(struct up_store *st, const char *const *ids, size_t n, int64_t lo,
                             int64_t now, const struct up_store_sink *sink, char *err,
                             size_t errlen)
{
    struct pg_store *p = cast(st);
    struct polls_state ps = {ids, n, 0, lo, now};
    char *first = NULL, *last = NULL, *sql = NULL;
    enum up_code rc = UP_OK;
    int len;

    if (n == 0)
        return UP_OK;
    first = PQescapeLiteral(p->conn, ids[0], strlen(ids[0]));
    last = PQescapeLiteral(p->conn, ids[n - 1], strlen(ids[n - 1]));
    if (!first || !last) {
        rc = fail(p, "read polls", NULL, err, errlen);
        goto out;
    }
    /* The caller's stores are one sorted range of store_summary (the plan is read from it;
     * on a pinned connection from the very same view), so the query takes the range, not
     * a list: two literals whatever the rank's share, and row_polls matches the rows
     * against the list. Per store, in the order of store_summary's key: the carry-in (the
     * latest poll before lo: one backward index seek, only for a store polled before lo)
     * and the window (one forward index range, only for a store polled since lo), each
     * from the primary key of store_status alone (index-only scans; ARRAY(... ORDER BY)
     * takes the index order, where array_agg would follow whatever order the plan has).
     * Seeks rather than one range scan of the whole range: a range scan reads the range's
     * whole history, which in production is months for a window of a week. */
    len = snprintf(NULL, 0, "%s%s%s%s", first, first, last, last) + 1024;
    sql = malloc((size_t)len);
    if (!sql) {
        snprintf(err, errlen, "postgresql %s: out of memory", p->where);
        rc = UP_ENOMEM;
        goto out;
    }
    snprintf(sql, (size_t)len,
             "COPY (SELECT"
             " CASE WHEN s.first_ts < %lld THEN (SELECT c.ts_utc * 2 + c.active::int"
             "  FROM store_status c WHERE c.store_id = s.store_id AND c.ts_utc < %lld"
             "  ORDER BY c.ts_utc DESC LIMIT 1) END,"
             " CASE WHEN s.last_ts >= %lld THEN ARRAY(SELECT w.ts_utc * 2 + w.active::int"
             "  FROM store_status w WHERE w.store_id = s.store_id"
             "  AND w.ts_utc >= %lld AND w.ts_utc <= %lld ORDER BY w.ts_utc) END,"
             " s.store_id"
             " FROM store_summary s WHERE s.store_id >= %s AND s.store_id <= %s"
             " AND s.first_ts <= %lld ORDER BY s.store_id COLLATE \"C\") TO STDOUT (FORMAT binary)",
             (long long)lo, (long long)lo, (long long)lo, (long long)lo, (long long)now, first,
             last, (long long)now);
    rc = copy_scan(p, sql, 3, row_polls, sink, &ps, "read polls", err, errlen);
out:
    PQfreemem(first);
    PQfreemem(last);
    free(sql);
    return rc;
}

/* ---- One view for every rank. ---- */

/* Token characters of pg_export_snapshot(): hexadecimal digits and dashes
 * ("00000003-0000001B-1"). Checked before the token is spelled into SQL. */
static int snapshot_name_ok(const char *s)
{
    size_t n = strspn(s, "0123456789ABCDEFabcdef-");
    return n > 0 && n < 64 && s[n] == '\0';
}

static enum up_code pg_snapshot(struct up_store *st, char *tok, size_t toklen, char *err,
                                size_t errlen)
{
    struct pg_store *p = cast(st);
    enum up_code rc;
    PGresult *res;

    if (p->pinned || p->pin_lost) {
        snprintf(err, errlen, "postgresql %s: the connection's reads are pinned already", p->where);
        return UP_EUSAGE;
    }
    /* The transaction every read of this connection then runs in; its snapshot, exported,
     * is the one every other rank imports. It lives until the connection closes. */
    rc = exec(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "snapshot", err, errlen);
    if (rc != UP_OK)
        return rc;
    res = PQexec(p->conn, "SELECT pg_export_snapshot()");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 1) {
        rc = fail(p, "export snapshot", res, err, errlen);
    } else if (!snapshot_name_ok(PQgetvalue(res, 0, 0)) ||
               strlen(PQgetvalue(res, 0, 0)) >= toklen) {
        snprintf(err, errlen, "postgresql %s: export snapshot: unexpected name", p->where);
        rc = UP_EDB;
    } else {
        memcpy(tok, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)) + 1);
        p->pinned = 1;
    }
    PQclear(res);
    if (rc != UP_OK)
        abort_tx(p);
    return rc;
}

static enum up_code pg_read_at(struct up_store *st, const char *tok, char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    char sql[160];
    enum up_code rc;

    if (p->pinned || p->pin_lost) {
        snprintf(err, errlen, "postgresql %s: the connection's reads are pinned already", p->where);
        return UP_EUSAGE;
    }
    if (!snapshot_name_ok(tok)) {
        snprintf(err, errlen, "postgresql %s: '%s' is not a PostgreSQL snapshot name", p->where,
                 tok);
        return UP_EUSAGE;
    }
    snprintf(sql, sizeof sql,
             "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '%s'", tok);
    rc = exec(p, sql, "import the planning rank's snapshot (is its connection gone?)", err, errlen);
    if (rc != UP_OK) {
        abort_tx(p);
        p->pin_lost = 1; /* no read of this connection may see another view */
        return rc;
    }
    p->pinned = 1;
    return UP_OK;
}

const struct up_store_ops up_store_pg_ops = {
    .name = "postgresql",
    .caps = UP_STORE_CAP_READ | UP_STORE_CAP_WRITE,
    .accepts = pg_accepts,
    .open = pg_open,
    .close = pg_close,
    .begin = pg_begin,
    .put_status = pg_put_status,
    .put_hours = pg_put_hours,
    .put_timezone = pg_put_timezone,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .prune = pg_prune,
    .max_ts = pg_max_ts,
    .stores = pg_stores,
    .hours = pg_hours,
    .timezones = pg_timezones,
    .polls = pg_polls,
    .snapshot = pg_snapshot,
    .read_at = pg_read_at,
};
