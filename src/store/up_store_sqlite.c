/* SQLite backend: the embedded default ("sqlite:PATH" or a plain path). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include "up_source.h"
#include "up_store_int.h"

/* The schema (docs/schema.md). WITHOUT ROWID keeps each table clustered by its key, so a
 * store's polls are one contiguous index range. */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS store_status ("
    " store_id TEXT NOT NULL, ts_utc INTEGER NOT NULL, active INTEGER NOT NULL,"
    " PRIMARY KEY (store_id, ts_utc)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS business_hours ("
    " store_id TEXT NOT NULL, day_of_week INTEGER NOT NULL,"
    " start_time_us INTEGER NOT NULL, end_time_us INTEGER NOT NULL,"
    " PRIMARY KEY (store_id, day_of_week, start_time_us, end_time_us)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS store_timezone ("
    " store_id TEXT NOT NULL PRIMARY KEY, timezone_str TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS store_summary ("
    " store_id TEXT NOT NULL PRIMARY KEY, first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL,"
    " npolls INTEGER NOT NULL) WITHOUT ROWID;";

struct sqlite_store {
    struct up_store base;
    sqlite3 *db;
    char *path;
    int load_any;  /* a poll was put in this load */
    int created;   /* the file did not exist when this connection opened it */
    int committed; /* a load committed through this connection */
    sqlite3_stmt *ins_status, *ins_hours, *ins_tz;
};

static struct sqlite_store *cast(struct up_store *st)
{
    return (struct sqlite_store *)st;
}

static const char *path_of(const char *url)
{
    return strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
}

static int sqlite_accepts(const char *url)
{
    return up_source_kind(url) == UP_SOURCE_SQLITE;
}

static enum up_code fail(struct sqlite_store *s, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "sqlite %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
    return UP_EDB;
}

static enum up_code exec(struct sqlite_store *s, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite %s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return UP_EDB;
    }
    return UP_OK;
}

static enum up_code prepare(struct sqlite_store *s, const char *sql, sqlite3_stmt **stmt, char *err,
                            size_t errlen)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, stmt, NULL) != SQLITE_OK) {
        if (strstr(sqlite3_errmsg(s->db), "no such table")) {
            snprintf(err, errlen, "sqlite %s: not an uptime database (%s); run uptime_load first",
                     s->path, sqlite3_errmsg(s->db));
            return UP_EDB;
        }
        return fail(s, "prepare", err, errlen);
    }
    return UP_OK;
}

static void sqlite_close(struct up_store *st)
{
    struct sqlite_store *s = cast(st);
    sqlite3_finalize(s->ins_status);
    sqlite3_finalize(s->ins_hours);
    sqlite3_finalize(s->ins_tz);
    sqlite3_close(s->db);
    /* A load that failed into a database it created leaves nothing behind. */
    if (s->created && !s->committed && s->path) {
        char journal[4096];
        unlink(s->path);
        if ((size_t)snprintf(journal, sizeof journal, "%s-journal", s->path) < sizeof journal)
            unlink(journal);
    }
    free(s->path);
    free(s);
}

static enum up_code sqlite_open(const char *url, enum up_store_mode mode, struct up_store **out,
                                char *err, size_t errlen)
{
    struct sqlite_store *s = calloc(1, sizeof *s);
    int flags =
        mode == UP_STORE_WRITE ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    enum up_code rc;

    *out = NULL;
    if (!s || !(s->path = strdup(path_of(url)))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return UP_ENOMEM;
    }
    s->base.ops = &up_store_sqlite_ops;
    if (s->path[0] == '\0') {
        snprintf(err, errlen, "empty SQLite database path in '%s'", url);
        rc = UP_EUSAGE;
        goto fail;
    }
    if (mode == UP_STORE_WRITE) {
        struct stat sb;
        s->created = stat(s->path, &sb) != 0 && errno == ENOENT;
    }
    if (sqlite3_open_v2(s->path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = fail(s, "cannot open", err, errlen);
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 10000);
    if (mode == UP_STORE_WRITE) {
        /* A load is one transaction: with the default 2 MiB cache SQLite spills dirty
         * pages through the journal long before the commit. 256 MiB keeps a few million
         * polls' index pages in memory. */
        rc = exec(s, "PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;", err, errlen);
        if (rc != UP_OK)
            goto fail;
    } else {
        /* Fail now, with a clear message, if the file is not an uptime database. */
        sqlite3_stmt *probe = NULL;
        rc = prepare(
            s, "SELECT 1 FROM store_status, business_hours, store_timezone, store_summary LIMIT 0",
            &probe, err, errlen);
        sqlite3_finalize(probe);
        if (rc != UP_OK)
            goto fail;
    }
    *out = &s->base;
    return UP_OK;
fail:
    sqlite_close(&s->base);
    return rc;
}

static enum up_code sqlite_begin(struct up_store *st, char *err, size_t errlen)
{
    struct sqlite_store *s = cast(st);
    enum up_code rc;

    s->load_any = 0;
    /* The schema is created inside the load's transaction: a failed first load leaves no
     * empty database behind. */
    rc = exec(s, "BEGIN IMMEDIATE;", err, errlen);
    if (rc == UP_OK)
        rc = exec(s, schema_sql, err, errlen);
    if (rc != UP_OK)
        return rc;
    rc = exec(s,
              "CREATE TEMP TABLE IF NOT EXISTS hours_stage (store_id TEXT NOT NULL,"
              " day_of_week INTEGER NOT NULL, start_time_us INTEGER NOT NULL,"
              " end_time_us INTEGER NOT NULL);"
              "DELETE FROM hours_stage;",
              err, errlen);
    if (rc != UP_OK)
        return rc;
    if (!s->ins_status &&
        (rc = prepare(s,
                      "INSERT INTO store_status (store_id, ts_utc, active) VALUES (?1, ?2, ?3)"
                      " ON CONFLICT (store_id, ts_utc) DO UPDATE"
                      " SET active = store_status.active AND excluded.active",
                      &s->ins_status, err, errlen)) != UP_OK)
        return rc;
    if (!s->ins_hours && (rc = prepare(s, "INSERT INTO hours_stage VALUES (?1, ?2, ?3, ?4)",
                                       &s->ins_hours, err, errlen)) != UP_OK)
        return rc;
    if (!s->ins_tz &&
        (rc = prepare(s,
                      "INSERT INTO store_timezone (store_id, timezone_str) VALUES (?1, ?2)"
                      " ON CONFLICT (store_id) DO UPDATE SET timezone_str = excluded.timezone_str",
                      &s->ins_tz, err, errlen)) != UP_OK)
        return rc;
    return UP_OK;
}

static enum up_code step_done(struct sqlite_store *s, sqlite3_stmt *stmt, char *err, size_t errlen)
{
    int r = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (r != SQLITE_DONE)
        return fail(s, "insert", err, errlen);
    return UP_OK;
}

static enum up_code sqlite_put_status(struct up_store *st, const char *id, int64_t ts, int active,
                                      char *err, size_t errlen)
{
    struct sqlite_store *s = cast(st);

    s->load_any = 1;
    sqlite3_bind_text(s->ins_status, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s->ins_status, 2, ts);
    sqlite3_bind_int(s->ins_status, 3, active != 0);
    return step_done(s, s->ins_status, err, errlen);
}

static enum up_code sqlite_put_hours(struct up_store *st, const char *id,
                                     const struct up_hours_row *row, char *err, size_t errlen)
{
    struct sqlite_store *s = cast(st);

    sqlite3_bind_text(s->ins_hours, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s->ins_hours, 2, row->day);
    sqlite3_bind_int64(s->ins_hours, 3, row->start_us);
    sqlite3_bind_int64(s->ins_hours, 4, row->end_us);
    return step_done(s, s->ins_hours, err, errlen);
}

static enum up_code sqlite_put_timezone(struct up_store *st, const char *id, const char *zone,
                                        char *err, size_t errlen)
{
    struct sqlite_store *s = cast(st);

    sqlite3_bind_text(s->ins_tz, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s->ins_tz, 2, zone, -1, SQLITE_STATIC);
    return step_done(s, s->ins_tz, err, errlen);
}

static enum up_code sqlite_commit(struct up_store *st, char *err, size_t errlen)
{
    struct sqlite_store *s = cast(st);
    enum up_code rc;

    /* A store named in this load has its hours replaced as a whole. */
    rc = exec(s,
              "DELETE FROM business_hours WHERE store_id IN (SELECT store_id FROM hours_stage);"
              "INSERT OR IGNORE INTO business_hours SELECT * FROM hours_stage;"
              "DELETE FROM hours_stage;",
              err, errlen);
    /* The per-store summary lets a report list its stores without scanning every poll.
     * Rebuilt whole: simple, and cheap next to the load itself. */
    if (rc == UP_OK && s->load_any)
        rc = exec(s,
                  "DELETE FROM store_summary;"
                  "INSERT INTO store_summary SELECT store_id, MIN(ts_utc), MAX(ts_utc), COUNT(*)"
                  " FROM store_status GROUP BY store_id;",
                  err, errlen);
    if (rc == UP_OK)
        rc = exec(s, "COMMIT;", err, errlen);
    if (rc == UP_OK)
        s->committed = 1;
    return rc;
}

static enum up_code sqlite_rollback(struct up_store *st, char *err, size_t errlen)
{
    struct sqlite_store *s = cast(st);
    if (sqlite3_get_autocommit(s->db))
        return UP_OK;
    return exec(s, "ROLLBACK;", err, errlen);
}

static enum up_code sqlite_max_ts(struct up_store *st, int64_t *max, int *any, char *err,
                                  size_t errlen)
{
    struct sqlite_store *s = cast(st);
    sqlite3_stmt *q = NULL;
    enum up_code rc;
    int r;

    rc = prepare(s, "SELECT MAX(last_ts), COUNT(*) > 0 FROM store_summary", &q, err, errlen);
    if (rc != UP_OK)
        return rc;
    r = sqlite3_step(q);
    if (r != SQLITE_ROW) {
        rc = fail(s, "max timestamp", err, errlen);
    } else {
        *any = sqlite3_column_int(q, 1);
        *max = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    return rc;
}

/* Hands one row of a query to the sink; returns the sink's answer (non-zero: stop). */
typedef int (*row_fn)(sqlite3_stmt *q, const struct up_store_sink *sink);

/* Runs a query whose rows go to row; stops on a non-zero return. */
static enum up_code scan(struct sqlite_store *s, sqlite3_stmt *q, row_fn row,
                         const struct up_store_sink *sink, char *err, size_t errlen)
{
    int r;

    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        if (row(q, sink) != 0) {
            snprintf(err, errlen, "sqlite %s: scan stopped by its consumer", s->path);
            return UP_EFAIL;
        }
    }
    if (r != SQLITE_DONE)
        return fail(s, "read", err, errlen);
    return UP_OK;
}

static int row_store(sqlite3_stmt *q, const struct up_store_sink *sink)
{
    return sink->store(sink->ctx, (const char *)sqlite3_column_text(q, 0),
                       sqlite3_column_int64(q, 1));
}

static enum up_code sqlite_stores(struct up_store *st, int64_t lo, int64_t now,
                                  const struct up_store_sink *sink, char *err, size_t errlen)
{
    struct sqlite_store *s = cast(st);
    sqlite3_stmt *q = NULL;
    enum up_code rc;

    /* The weight is the store's whole poll count: with polls spread evenly over time it is
     * proportional to the week's, and it needs no scan of the polls. */
    (void)lo;
    rc = prepare(
        s, "SELECT store_id, npolls FROM store_summary WHERE first_ts <= ?1 ORDER BY store_id", &q,
        err, errlen);
    if (rc != UP_OK)
        return rc;
    sqlite3_bind_int64(q, 1, now);
    rc = scan(s, q, row_store, sink, err, errlen);
    sqlite3_finalize(q);
    return rc;
}

static int row_hours(sqlite3_stmt *q, const struct up_store_sink *sink)
{
    struct up_hours_row h;
    h.day = sqlite3_column_int(q, 1);
    h.start_us = sqlite3_column_int64(q, 2);
    h.end_us = sqlite3_column_int64(q, 3);
    return sink->hours(sink->ctx, (const char *)sqlite3_column_text(q, 0), &h);
}

static enum up_code sqlite_hours(struct up_store *st, const struct up_store_sink *sink, char *err,
                                 size_t errlen)
{
    struct sqlite_store *s = cast(st);
    sqlite3_stmt *q = NULL;
    enum up_code rc;

    rc = prepare(s,
                 "SELECT store_id, day_of_week, start_time_us, end_time_us FROM business_hours"
                 " ORDER BY store_id",
                 &q, err, errlen);
    if (rc != UP_OK)
        return rc;
    rc = scan(s, q, row_hours, sink, err, errlen);
    sqlite3_finalize(q);
    return rc;
}

static int row_tz(sqlite3_stmt *q, const struct up_store_sink *sink)
{
    return sink->zone(sink->ctx, (const char *)sqlite3_column_text(q, 0),
                      (const char *)sqlite3_column_text(q, 1));
}

static enum up_code sqlite_timezones(struct up_store *st, const struct up_store_sink *sink,
                                     char *err, size_t errlen)
{
    struct sqlite_store *s = cast(st);
    sqlite3_stmt *q = NULL;
    enum up_code rc;

    rc = prepare(s, "SELECT store_id, timezone_str FROM store_timezone ORDER BY store_id", &q, err,
                 errlen);
    if (rc != UP_OK)
        return rc;
    rc = scan(s, q, row_tz, sink, err, errlen);
    sqlite3_finalize(q);
    return rc;
}

static enum up_code sqlite_polls(struct up_store *st, const char *const *ids, size_t n, int64_t lo,
                                 int64_t now, const struct up_store_sink *sink, char *err,
                                 size_t errlen)
{
    struct sqlite_store *s = cast(st);
    sqlite3_stmt *q = NULL;
    enum up_code rc;
    size_t i;
    int r = SQLITE_DONE;

    /* Per store, two index seeks: the carry-in (latest before lo) and the window. The
     * inner SELECT is uncorrelated (bound parameters), so it runs once per store. */
    rc = prepare(s,
                 "SELECT ts_utc, active FROM store_status WHERE store_id = ?1 AND ts_utc <= ?3"
                 " AND ts_utc >= COALESCE((SELECT MAX(ts_utc) FROM store_status"
                 " WHERE store_id = ?1 AND ts_utc < ?2), ?2) ORDER BY ts_utc",
                 &q, err, errlen);
    if (rc != UP_OK)
        return rc;
    sqlite3_bind_int64(q, 2, lo);
    sqlite3_bind_int64(q, 3, now);
    for (i = 0; i < n && rc == UP_OK; i++) {
        sqlite3_bind_text(q, 1, ids[i], -1, SQLITE_STATIC);
        while ((r = sqlite3_step(q)) == SQLITE_ROW) {
            if (sink->poll(sink->ctx, ids[i], sqlite3_column_int64(q, 0),
                           sqlite3_column_int(q, 1)) != 0) {
                snprintf(err, errlen, "sqlite %s: poll scan stopped by its consumer", s->path);
                rc = UP_EFAIL;
                break;
            }
        }
        if (rc == UP_OK && r != SQLITE_DONE)
            rc = fail(s, "read polls", err, errlen);
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    return rc;
}

const struct up_store_ops up_store_sqlite_ops = {
    .name = "sqlite",
    .caps = UP_STORE_CAP_READ | UP_STORE_CAP_WRITE,
    .accepts = sqlite_accepts,
    .open = sqlite_open,
    .close = sqlite_close,
    .begin = sqlite_begin,
    .put_status = sqlite_put_status,
    .put_hours = sqlite_put_hours,
    .put_timezone = sqlite_put_timezone,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .max_ts = sqlite_max_ts,
    .stores = sqlite_stores,
    .hours = sqlite_hours,
    .timezones = sqlite_timezones,
    .polls = sqlite_polls,
};
