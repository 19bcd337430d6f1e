/*
 * PostgreSQL backend through libpq: "postgresql://...", "postgres://..." or a key=value
 * conninfo string. Loads go through COPY into temporary staging tables and are merged
 * in one transaction; reads stream through a cursor, a batch of rows at a time.
 */
#include <libpq-fe.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "up_buf.h"
#include "up_source.h"
#include "up_store_int.h"

/* Rows per FETCH: big enough that round trips do not matter, small enough to keep a
 * rank's memory flat whatever its range holds. */
#define FETCH_ROWS "10000"
/* COPY data is sent in chunks of this size (libpq buffers more only if we let it). */
#define COPY_BUF 65536
/* The id list of one rank travels as one text[] parameter; PostgreSQL caps a value at
 * 1 GB, we stop well before. */
#define MAX_IDS_BYTES ((size_t)256 << 20)
/* Serialises the merge phase of concurrent loads (pg_advisory_xact_lock key). */
#define LOAD_LOCK "7596598254613"

#define CURSOR_FOR "DECLARE up_cur NO SCROLL CURSOR FOR "

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
        rc = exec(p, "SET default_transaction_read_only = on", "set read-only", err, errlen);
        if (rc != UP_OK)
            goto fail;
        /* Fail now, with a clear message, if the tables are not there. */
        res = PQexec(p->conn, "SELECT 1 FROM store_status, business_hours, store_timezone,"
                              " store_summary LIMIT 0");
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            if (state && strcmp(state, "42P01") == 0) {
                char msg[512];
                one_line(PQresultErrorMessage(res), msg, sizeof msg);
                snprintf(err, errlen,
                         "postgresql %s: not an uptime database (%s); run uptime_load first",
                         p->where, msg);
                rc = UP_EDB;
            } else {
                rc = fail(p, "schema check", res, err, errlen);
            }
            PQclear(res);
            goto fail;
        }
        PQclear(res);
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

static enum up_code pg_commit(struct up_store *st, char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    enum up_code rc;

    rc = end_copy(p, NULL, err, errlen);
    if (rc == UP_OK)
        rc = exec(p, merge_prep_sql, "merge", err, errlen);
    if (rc == UP_OK && p->load_any) {
        PGresult *res = PQexec(p->conn, "SELECT EXISTS (SELECT 1 FROM store_status)");
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
            rc = fail(p, "merge", res, err, errlen);
        else
            rc = exec(p, PQgetvalue(res, 0, 0)[0] == 't' ? status_merge_sql : status_first_sql,
                      "merge polls", err, errlen);
        PQclear(res);
    }
    if (rc == UP_OK)
        rc = exec(p, merge_rest_sql, "merge", err, errlen);
    if (rc == UP_OK && p->load_any)
        rc = exec(p, summary_sql, "store summary", err, errlen);
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

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* Called per row of a cursor with the caller's sink and the scan's own state (NULL but for
 * the polls); a negative return is a malformed value, positive the consumer's stop. */
typedef int (*row_fn)(PGresult *res, int i, const struct up_store_sink *sink, void *state);

/*
 * Runs "DECLARE up_cur ... FOR <query>" and fetches it in batches inside one read-only
 * transaction, so only FETCH_ROWS rows are in memory at a time, on both sides.
 */
static enum up_code cursor_scan(struct pg_store *p, const char *declare_sql, int nparams,
                                const char *const *params, int ncols, row_fn row,
                                const struct up_store_sink *sink, void *state, const char *what,
                                char *err, size_t errlen)
{
    PGresult *res = NULL;
    enum up_code rc;
    int i, n, r;

    rc = exec(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", what, err, errlen);
    if (rc != UP_OK)
        return rc;
    res = PQexecParams(p->conn, declare_sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = fail(p, what, res, err, errlen);
        goto out;
    }
    for (;;) {
        PQclear(res);
        res = PQexec(p->conn, "FETCH FORWARD " FETCH_ROWS " FROM up_cur");
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != ncols) {
            rc = fail(p, what, res, err, errlen);
            goto out;
        }
        n = PQntuples(res);
        if (n == 0)
            break;
        for (i = 0; i < n; i++) {
            r = row(res, i, sink, state);
            if (r < 0) {
                snprintf(err, errlen, "postgresql %s: %s: malformed or out-of-order row", p->where,
                         what);
                rc = UP_EDB;
                goto out;
            }
            if (r > 0) {
                snprintf(err, errlen, "postgresql %s: %s: scan stopped by its consumer", p->where,
                         what);
                rc = UP_EFAIL;
                goto out;
            }
        }
    }
    rc = exec(p, "CLOSE up_cur; COMMIT", what, err, errlen);
out:
    PQclear(res);
    if (rc != UP_OK)
        abort_tx(p);
    return rc;
}

static enum up_code pg_max_ts(struct up_store *st, int64_t *max, int *any, char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    enum up_code rc = UP_OK;
    PGresult *res;

    res = PQexec(p->conn, "SELECT MAX(last_ts), COUNT(*) > 0 FROM store_summary");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 2) {
        rc = fail(p, "max timestamp", res, err, errlen);
    } else {
        *any = PQgetvalue(res, 0, 1)[0] == 't';
        *max = 0;
        if (*any && parse_i64(PQgetvalue(res, 0, 0), max) != 0) {
            snprintf(err, errlen, "postgresql %s: max timestamp: not an integer", p->where);
            rc = UP_EDB;
        }
    }
    PQclear(res);
    return rc;
}

static int row_store(PGresult *res, int i, const struct up_store_sink *sink, void *state)
{
    int64_t npolls;

    (void)state;
    if (parse_i64(PQgetvalue(res, i, 1), &npolls) != 0)
        return -1;
    return sink->store(sink->ctx, PQgetvalue(res, i, 0), npolls) != 0;
}

static enum up_code pg_stores(struct up_store *st, int64_t lo, int64_t now,
                              const struct up_store_sink *sink, char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    char nowbuf[32];
    const char *params[1] = {nowbuf};

    /* As in SQLite, the weight is the whole poll count, read from the summary. */
    (void)lo;
    snprintf(nowbuf, sizeof nowbuf, "%lld", (long long)now);
    return cursor_scan(p,
                       CURSOR_FOR "SELECT store_id, npolls FROM store_summary"
                                  " WHERE first_ts <= $1::bigint ORDER BY store_id COLLATE \"C\"",
                       1, params, 2, row_store, sink, NULL, "list stores", err, errlen);
}

static int row_hours(PGresult *res, int i, const struct up_store_sink *sink, void *state)
{
    struct up_hours_row h;
    int64_t day;

    (void)state;
    if (parse_i64(PQgetvalue(res, i, 1), &day) != 0 || day < 0 || day > 6 ||
        parse_i64(PQgetvalue(res, i, 2), &h.start_us) != 0 ||
        parse_i64(PQgetvalue(res, i, 3), &h.end_us) != 0)
        return -1;
    h.day = (int)day;
    return sink->hours(sink->ctx, PQgetvalue(res, i, 0), &h) != 0;
}

static enum up_code pg_hours(struct up_store *st, const struct up_store_sink *sink, char *err,
                             size_t errlen)
{
    return cursor_scan(cast(st),
                       CURSOR_FOR "SELECT store_id, day_of_week, start_time_us, end_time_us"
                                  " FROM business_hours ORDER BY store_id COLLATE \"C\","
                                  " day_of_week, start_time_us, end_time_us",
                       0, NULL, 4, row_hours, sink, NULL, "read hours", err, errlen);
}

static int row_tz(PGresult *res, int i, const struct up_store_sink *sink, void *state)
{
    (void)state;
    return sink->zone(sink->ctx, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)) != 0;
}

static enum up_code pg_timezones(struct up_store *st, const struct up_store_sink *sink, char *err,
                                 size_t errlen)
{
    return cursor_scan(cast(st),
                       CURSOR_FOR "SELECT store_id, timezone_str FROM store_timezone"
                                  " ORDER BY store_id COLLATE \"C\"",
                       0, NULL, 2, row_tz, sink, NULL, "read time zones", err, errlen);
}

/* The rank's ids as a text[] literal: {"a","b\"c"}; quotes and backslashes escaped.
 * Returns it (the caller frees it), or NULL when it would pass MAX_IDS_BYTES or memory
 * runs out. */
static char *id_array(const char *const *ids, size_t n)
{
    struct up_buf b;
    const char *s;
    size_t i;
    int bad = 0;

    up_buf_init(&b, 1, MAX_IDS_BYTES);
    bad |= up_buf_append(&b, "{", 1);
    for (i = 0; i < n && !bad; i++) {
        if (i > 0)
            bad |= up_buf_append(&b, ",", 1);
        bad |= up_buf_append(&b, "\"", 1);
        for (s = ids[i]; *s && !bad; s++) {
            if (*s == '"' || *s == '\\')
                bad |= up_buf_append(&b, "\\", 1);
            bad |= up_buf_append(&b, s, 1);
        }
        bad |= up_buf_append(&b, "\"", 1);
    }
    bad |= up_buf_append(&b, "}", 2); /* with the terminating NUL */
    if (bad) {
        up_buf_free(&b);
        return NULL;
    }
    return up_buf_take(&b);
}

/* The state of a polls scan: the ids the rows point into, and the order check. */
struct polls_state {
    const char *const *ids;
    size_t n;
    int64_t last_ord, last_ts; /* the previous row, to check the order */
};

static int row_poll(PGresult *res, int i, const struct up_store_sink *sink, void *state)
{
    struct polls_state *pc = state;
    int64_t ord, ts;
    const char *a = PQgetvalue(res, i, 2);

    if (parse_i64(PQgetvalue(res, i, 0), &ord) != 0 || ord < 1 || (uint64_t)ord > pc->n ||
        parse_i64(PQgetvalue(res, i, 1), &ts) != 0 || (a[0] != 't' && a[0] != 'f'))
        return -1;
    /* The plan's order is relied on, not requested (see pg_polls): check it. */
    if (ord < pc->last_ord || (ord == pc->last_ord && ts <= pc->last_ts))
        return -1;
    pc->last_ord = ord;
    pc->last_ts = ts;
    return sink->poll(sink->ctx, pc->ids[ord - 1], ts, a[0] == 't') != 0;
}

static enum up_code pg_polls(struct up_store *st, const char *const *ids, size_t n, int64_t lo,
                             int64_t now, const struct up_store_sink *sink, char *err,
                             size_t errlen)
{
    struct pg_store *p = cast(st);
    struct polls_state pc = {ids, n, 0, 0};
    char lobuf[32], nowbuf[32];
    const char *params[3];
    char *arr;
    enum up_code rc;

    if (n == 0)
        return UP_OK;
    arr = id_array(ids, n);
    if (!arr) {
        snprintf(err, errlen, "postgresql %s: out of memory for the id list of %zu stores",
                 p->where, n);
        return UP_ENOMEM;
    }
    snprintf(lobuf, sizeof lobuf, "%lld", (long long)lo);
    snprintf(nowbuf, sizeof nowbuf, "%lld", (long long)now);
    params[0] = arr;
    params[1] = lobuf;
    params[2] = nowbuf;
    /* One query for the rank: per store two index seeks, the carry-in (latest before lo)
     * and the window [lo, now]. Rows come back as the id's position in the caller's list,
     * which is byte-wise sorted, so that order is the (store_id, ts) order. No outer ORDER
     * BY: the plan can only be a nested loop over unnest (in array order) of an append of
     * two per-store ordered scans (LATERAL; each subquery orders its own rows, which the
     * primary key index gives for free), and a cursor never runs in parallel, so rows
     * already come in order; an outer ORDER BY made the server sort the rank's whole
     * result (an on-disk sort of 1.7 million rows, half the read time). row_poll checks
     * the order and fails the read if it ever breaks. */
    rc = cursor_scan(p,
                     CURSOR_FOR
                     "SELECT s.ord, w.ts_utc, w.active"
                     " FROM unnest($1::text[]) WITH ORDINALITY AS s(id, ord)"
                     " CROSS JOIN LATERAL ("
                     "  (SELECT ts_utc, active FROM store_status"
                     "    WHERE store_id = s.id AND ts_utc < $2::bigint"
                     "    ORDER BY ts_utc DESC LIMIT 1)"
                     "  UNION ALL"
                     "  (SELECT ts_utc, active FROM store_status"
                     "    WHERE store_id = s.id AND ts_utc >= $2::bigint AND ts_utc <= $3::bigint"
                     "    ORDER BY ts_utc)"
                     " ) AS w",
                     3, params, 3, row_poll, sink, &pc, "read polls", err, errlen);
    free(arr);
    return rc;
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
};
