/*
 * PostgreSQL backend through libpq: "postgresql://...", "postgres://..." or a key=value
 * conninfo string. Loads go through COPY into temporary staging tables and are merged
 * in one transaction; reads stream through COPY ... TO STDOUT in binary, and every rank of
 * a report can read one exported snapshot. libpq runs nonblocking: every wait for the
 * server is a poll() bounded by the run's deadline (up_deadline.h, --timeout).
 */
#include <libpq-fe.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "up_buf.h"
#include "up_idtab.h"
#include "up_deadline.h"
#include "up_source.h"
#include "up_store_int.h"

/* COPY data is sent in chunks of this size, each sent before the next is queued (libpq
 * would otherwise buffer a whole load in memory when the server is slower than the file). */
#define COPY_BUF 65536
/* Serialises the merge phase of concurrent loads (pg_advisory_xact_lock key). */
#define LOAD_LOCK "7596598254613"
/* The server's own statement and lock timeouts end this much before the run's deadline,
 * so that a live but slow server cancels the statement itself (the session stays usable
 * for a clean rollback) before the client gives up on it. */
#define SERVER_MARGIN_MS 500

/* status_pack's buckets: 2^PACK_SHIFT microseconds (about 19 hours) each. */
#define PACK_SHIFT 36
#define PACK_SHIFT_S "36"

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

/* What the open COPY feeds (every one binary, sent at commit from the rows held): a
 * staging table, or in a first load a table itself (FREEZE). */
enum copy_kind {
    COPY_NONE,
    COPY_TZ,
    COPY_HOURS,
    COPY_STATUS,
    COPY_FIRST,
    COPY_SUMMARY,
    COPY_TZ_FIRST,
    COPY_HOURS_FIRST,
    COPY_META_FIRST,
    COPY_PACK_FIRST
};

/* One poll held for the commit: its store's index in the load's store list, its instant
 * and status (16 bytes). */
struct held_row {
    uint32_t store;
    int32_t active;
    int64_t ts;
};

/* One business-hours row held for the commit (store: as in struct held_row). */
struct held_hours {
    uint32_t store;
    int32_t day;
    int64_t start, end;
};

/* A store the load names: its id in the load's id bytes, its zone, and its polls'
 * summary once they are sorted. */
struct load_store {
    const char *id; /* NUL-terminated, kept by pg_store.ids (never moved) */
    uint32_t len;
    size_t zone; /* 1 + offset into pg_store.zones of its zone (the last one put); 0: none */
    int64_t first, last, n;
};

/* Polls held at most (512 MB); past it, or short of memory, the held polls go to the
 * staging table as a sorted run and the load is merged by the server (docs/postgres.md). */
#define HELD_MAX ((size_t)1 << 25)
/* Stores one load may give polls, and the bytes of their ids. */
#define LOAD_STORES_MAX ((size_t)1 << 27)
#define LOAD_ID_BYTES_MAX ((size_t)1 << 34)

struct pg_store {
    struct up_store base;
    PGconn *conn;    /* NULL once a timeout closed it: every later call fails at once */
    char where[512]; /* the URL with any password hidden: the only form ever printed */
    int write;       /* opened to load: the server's lock_timeout is bounded too */
    enum copy_kind copy;
    int load_any; /* a poll was put in this load */
    /* The load's polls, held to be sorted by (store_id, ts) and merged (duplicates:
     * inactive wins) here rather than by the server; see pg_commit. */
    struct up_buf held;    /* struct held_row */
    struct up_buf lstores; /* struct load_store, in order of first appearance */
    struct up_idtab ids;   /* the stores' ids: index i is lstores[i] */
    int spilled;           /* a sorted run of polls went to the staging table already */
    struct up_buf hheld;   /* struct held_hours */
    struct up_buf zones;   /* bytes: the zones put, each NUL-terminated */
    int hours_spilled;     /* held hours went to the staging table already */
    int zone_any;          /* a zone was put in this load */
    char *buf;             /* COPY data not yet handed to libpq */
    size_t blen;
    /* Reading: from up_store_snapshot or up_store_read_at on, every read runs inside one
     * REPEATABLE READ transaction held until close (pinned); an error that aborts it loses
     * the view, and every later read then fails rather than read another one. */
    int pinned, pin_lost;
    /* The session's own statement_timeout and lock_timeout (ms, 0: none) when it opened
     * (the role's, the database's, options= in the string): the deadline only shortens
     * them. */
    int64_t own_stmt_ms, own_lock_ms;
    /* store_meta is there and readable: hours and zones are read from it (one row per
     * store) instead of business_hours and store_timezone. */
    int meta;
    /* status_pack is there and readable: the polls are read from it (docs/postgres.md). */
    int pack;
    /* The store list of the last up_store_stores on a pinned view (records: int64 weight,
     * id, NUL), kept for one identical call: rank 0 lists the stores twice (weights, then
     * the shares) and a pinned view cannot change in between. The plan's ids and weights,
     * which rank 0 holds anyway (DESIGN.md "Memory"); capped, past the cap not kept. */
    struct up_buf stores;
    int64_t stores_now;
    int stores_kept;
    /* The polls read decodes each store's polls (carry-in, then window) into these, grown
     * as needed and kept for the connection's life, to hand them over in one call. */
    int64_t *poll_ts;
    uint8_t *poll_active;
    size_t poll_cap;
};

/* Cap on the kept store list: 1 M stores take about 28 MB. */
#define STORES_KEPT_MAX ((size_t)256 << 20)

static struct pg_store *cast(struct up_store *st)
{
    return (struct pg_store *)st;
}

/* Lets go of the load's held polls and store list. */
static void held_free(struct pg_store *p)
{
    up_buf_free(&p->held);
    up_buf_free(&p->lstores);
    up_idtab_free(&p->ids);
    up_buf_free(&p->hheld);
    up_buf_free(&p->zones);
    p->hours_spilled = p->zone_any = 0;
    p->spilled = 0;
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

/* ---- Bounded waits. ---- */

static int64_t mono_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* poll()'s timeout for a wait of ms (INT64_MAX: no limit). */
static int poll_ms(int64_t ms)
{
    return ms == INT64_MAX ? -1 : ms > INT_MAX ? INT_MAX : ms < 0 ? 0 : (int)ms;
}

/*
 * A server can stop answering while its kernel still acknowledges every packet (a
 * stopped process, a paused machine): TCP keepalives and tcp_user_timeout never fire
 * then, and a blocking libpq call would wait forever. So the connection is nonblocking
 * and every wait below is a poll() bounded by the run's deadline; when it passes, the
 * connection is closed without waiting for the server (whose backend ends the session's
 * transaction once it sees the socket closed) and the call fails with UP_ETIMEOUT.
 */

/* Closes the connection in the middle of whatever it was doing (PQfinish does not wait
 * on a nonblocking connection). */
static void drop(struct pg_store *p)
{
    if (p->conn)
        PQfinish(p->conn);
    p->conn = NULL;
    p->copy = COPY_NONE;
    if (p->pinned)
        p->pin_lost = 1;
}

static enum up_code timed_out(struct pg_store *p, const char *what, char *err, size_t errlen)
{
    char ctx[768];

    drop(p);
    snprintf(ctx, sizeof ctx, "postgresql %.512s: %.200s", p->where, what);
    return up_deadline_error(err, errlen, ctx);
}

/* Every call after a timeout closed the connection. */
static enum up_code closed(const struct pg_store *p, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "postgresql %s: %s: the connection was closed after a timeout", p->where,
             what);
    return UP_ETIMEOUT;
}

/* A statement the server cancelled at the timeouts set for the deadline (query_canceled,
 * lock_not_available, with the deadline at hand): the run's timeout, not a database
 * error. A session's own shorter timeout, long before the deadline, stays a database
 * error. */
static int server_timeout(const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    return state && (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0) &&
           up_deadline_left_ms() < SERVER_MARGIN_MS + 1000;
}

/* Formats "postgresql <url>: <what>: <server or libpq message>"; returns UP_EDB (or
 * UP_ETIMEOUT for a statement the server cancelled at the deadline). */
static enum up_code fail(struct pg_store *p, const char *what, const PGresult *res, char *err,
                         size_t errlen)
{
    char msg[1024];
    const char *m = res ? PQresultErrorMessage(res) : "";

    if (!m[0])
        m = p->conn ? PQerrorMessage(p->conn) : "";
    one_line(m[0] ? m : "unknown error", msg, sizeof msg);
    if (server_timeout(res)) {
        char ctx[768];
        size_t k;
        snprintf(ctx, sizeof ctx, "postgresql %.512s: %.200s", p->where, what);
        up_deadline_error(err, errlen, ctx);
        k = strlen(err);
        if (k < errlen)
            snprintf(err + k, errlen - k, " (the server cancelled it: %s)", msg);
        return UP_ETIMEOUT;
    }
    snprintf(err, errlen, "postgresql %s: %s: %s", p->where, what, msg);
    return UP_EDB;
}

/* Waits until the socket is readable (or writable, with out) or the deadline passes.
 * Returns UP_OK, UP_ETIMEOUT (the connection closed) or UP_EDB. */
static enum up_code wait_io(struct pg_store *p, int out, const char *what, char *err, size_t errlen)
{
    struct pollfd fd;

    fd.fd = PQsocket(p->conn);
    fd.events = (short)(POLLIN | (out ? POLLOUT : 0));
    if (fd.fd < 0)
        return fail(p, what, NULL, err, errlen);
    for (;;) {
        int64_t left = up_deadline_left_ms();
        int r;
        if (left <= 0)
            return timed_out(p, what, err, errlen);
        fd.revents = 0;
        r = poll(&fd, 1, poll_ms(left));
        if (r > 0)
            return UP_OK;
        if (r < 0 && errno != EINTR) {
            snprintf(err, errlen, "postgresql %s: %s: poll: %s", p->where, what, strerror(errno));
            return UP_EDB;
        }
    }
}

/* Sends everything libpq holds for the server (a command, COPY data), taking in what
 * the server sends meanwhile so that neither side waits on the other. */
static enum up_code flush_out(struct pg_store *p, const char *what, char *err, size_t errlen)
{
    for (;;) {
        int r = PQflush(p->conn);
        enum up_code rc;
        if (r == 0)
            return UP_OK;
        if (r < 0)
            return fail(p, what, NULL, err, errlen);
        rc = wait_io(p, 1, what, err, errlen);
        if (rc != UP_OK)
            return rc;
        if (!PQconsumeInput(p->conn))
            return fail(p, what, NULL, err, errlen);
    }
}

/* The next result of the command in flight (*res NULL: there is no more). */
static enum up_code next_result(struct pg_store *p, const char *what, PGresult **res, char *err,
                                size_t errlen)
{
    *res = NULL;
    while (PQisBusy(p->conn)) {
        enum up_code rc = wait_io(p, 0, what, err, errlen);
        if (rc != UP_OK)
            return rc;
        if (!PQconsumeInput(p->conn))
            return fail(p, what, NULL, err, errlen);
    }
    *res = PQgetResult(p->conn);
    return UP_OK;
}

/* Collects the results of the command in flight to the last one. The first whose status
 * is not ok (-1: none is checked) becomes the error when rc is UP_OK; rc is returned
 * otherwise, its message kept. */
static enum up_code drain(struct pg_store *p, enum up_code rc, int ok, const char *what, char *err,
                          size_t errlen)
{
    char scratch[256];

    while (p->conn) {
        PGresult *res;
        enum up_code w = next_result(p, what, &res, rc == UP_OK ? err : scratch,
                                     rc == UP_OK ? errlen : sizeof scratch);
        if (w != UP_OK)
            return rc == UP_OK ? w : rc;
        if (!res)
            break;
        if (rc == UP_OK && ok >= 0 && PQresultStatus(res) != (ExecStatusType)ok)
            rc = fail(p, what, res, err, errlen);
        PQclear(res);
        /* A dead connection keeps returning an error result: stop. */
        if (PQstatus(p->conn) != CONNECTION_OK)
            break;
    }
    return rc;
}

static int64_t shorter(int64_t own, int64_t ms)
{
    return own > 0 && own < ms ? own : ms;
}

/* "SET statement_timeout = N; [SET lock_timeout = N; ]" ending the server's own waits
 * SERVER_MARGIN_MS before the deadline (never after the session's own timeouts). Returns
 * 0 when there is no deadline (nothing to set), else 1. */
static int limits(const struct pg_store *p, char *buf, size_t n)
{
    int64_t left = up_deadline_left_ms(), ms;
    int k;

    if (left == INT64_MAX)
        return 0;
    ms = left - SERVER_MARGIN_MS;
    ms = ms < 1 ? 1 : ms > INT_MAX ? INT_MAX : ms; /* the settings' range */
    k = snprintf(buf, n, "SET statement_timeout = %lld; ", (long long)shorter(p->own_stmt_ms, ms));
    if (p->write && k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, "SET lock_timeout = %lld; ",
                 (long long)shorter(p->own_lock_ms, ms));
    return 1;
}

/*
 * Runs sql as PQexec would, with every wait bounded: one or more commands (nparams 0), or
 * one command with text parameters. *res is the last result, whose status says how the
 * command went (a COPY result ends the wait: the caller carries on the COPY). timed sets
 * the server's own timeouts first (limits); not for a command that must run in an aborted
 * transaction (ROLLBACK ...) or alone in its string (VACUUM), nor with parameters.
 * Returns UP_OK with *res set, or an error (the wait's, a lost connection) with *res NULL.
 */
static enum up_code query_x(struct pg_store *p, const char *sql, int nparams,
                            const char *const *params, const char *what, int timed, PGresult **res,
                            char *err, size_t errlen)
{
    char lim[128];
    char *full = NULL;
    PGresult *last = NULL, *r;
    enum up_code rc;
    int sent;

    *res = NULL;
    if (!p->conn)
        return closed(p, what, err, errlen);
    if (up_deadline_expired())
        return timed_out(p, what, err, errlen);
    if (timed && nparams == 0 && limits(p, lim, sizeof lim)) {
        size_t n = strlen(lim) + strlen(sql) + 1;
        full = malloc(n);
        if (!full) {
            snprintf(err, errlen, "postgresql %s: %s: out of memory", p->where, what);
            return UP_ENOMEM;
        }
        snprintf(full, n, "%s%s", lim, sql);
    }
    if (nparams > 0)
        sent = PQsendQueryParams(p->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    else
        sent = PQsendQuery(p->conn, full ? full : sql);
    free(full);
    if (!sent)
        return fail(p, what, NULL, err, errlen);
    rc = flush_out(p, what, err, errlen);
    while (rc == UP_OK) {
        ExecStatusType s;
        rc = next_result(p, what, &r, err, errlen);
        if (rc != UP_OK || !r)
            break;
        PQclear(last);
        last = r;
        s = PQresultStatus(r);
        if (s == PGRES_COPY_IN || s == PGRES_COPY_OUT || s == PGRES_COPY_BOTH ||
            PQstatus(p->conn) == CONNECTION_BAD)
            break;
    }
    if (rc == UP_OK && !last)
        rc = fail(p, what, NULL, err, errlen);
    if (rc != UP_OK) {
        PQclear(last);
        return rc;
    }
    *res = last;
    return UP_OK;
}

static enum up_code query(struct pg_store *p, const char *sql, const char *what, int timed,
                          PGresult **res, char *err, size_t errlen)
{
    return query_x(p, sql, 0, NULL, what, timed, res, err, errlen);
}

/* Runs a command (or several, ';'-separated) that returns no rows we need. */
/* The boolean in the first column of a query's one row, into *out (0 on failure). */
static enum up_code query_bool(struct pg_store *p, const char *sql, const char *what, int timed,
                               int *out, char *err, size_t errlen)
{
    PGresult *res;
    enum up_code rc = query(p, sql, what, timed, &res, err, errlen);

    *out = 0;
    if (rc != UP_OK)
        return rc;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 1)
        rc = fail(p, what, res, err, errlen);
    else
        *out = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return rc;
}

static enum up_code exec(struct pg_store *p, const char *sql, const char *what, int timed,
                         char *err, size_t errlen)
{
    PGresult *res;
    enum up_code rc = query(p, sql, what, timed, &res, err, errlen);

    if (rc != UP_OK)
        return rc;
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = fail(p, what, res, err, errlen);
    PQclear(res);
    return rc;
}

/* Runs a command whose outcome does not matter (best effort: ROLLBACK, VACUUM). */
static void exec_quiet(struct pg_store *p, const char *sql)
{
    char scratch[256];
    PGresult *res;

    if (query(p, sql, sql, 0, &res, scratch, sizeof scratch) == UP_OK)
        PQclear(res);
}

/* Leaves an open transaction after an error; harmless when there is none or the
 * connection is gone (the server then discards the transaction itself). */
static void abort_tx(struct pg_store *p)
{
    if (p->conn && PQstatus(p->conn) == CONNECTION_OK &&
        PQtransactionStatus(p->conn) != PQTRANS_IDLE)
        exec_quiet(p, "ROLLBACK");
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
    up_buf_free(&p->stores);
    held_free(p);
    free(p->poll_ts);
    free(p->poll_active);
    free(p);
}

/* ---- Connecting. ---- */

/* connect_timeout as libpq reads it (the string's, else PGCONNECT_TIMEOUT, else ours):
 * milliseconds, 0 for none; less than 2 s counts as 2 s. */
static int64_t connect_limit_ms(PGconn *conn)
{
    PQconninfoOption *opts = PQconninfo(conn), *o;
    int64_t ms = 0;

    for (o = opts; o && o->keyword; o++) {
        if (strcmp(o->keyword, "connect_timeout") == 0 && o->val && o->val[0]) {
            char *end;
            long long s;
            errno = 0;
            s = strtoll(o->val, &end, 10);
            if (errno == 0 && *end == '\0' && s > 0)
                ms = (s < 2 ? 2 : s > INT_MAX / 1000 ? INT_MAX / 1000 : s) * 1000;
        }
    }
    PQconninfoFree(opts);
    return ms;
}

/*
 * Connects with every wait bounded. The keywords before "dbname" are defaults that the
 * expanded string overrides (and connect_timeout PGCONNECT_TIMEOUT too); client_encoding,
 * after it, is ours whatever the string says: ids go in and come out as the same bytes
 * only without encoding conversion. libpq enforces connect_timeout only in its blocking
 * calls, so it is kept here, over the whole attempt (all the string's hosts together),
 * beside the run's deadline.
 */
static enum up_code connect_bounded(struct pg_store *p, const char *url, char *err, size_t errlen)
{
    const char *keys[10], *vals[10];
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    int64_t limit, start;
    int k = 0;

    if (!getenv("PGCONNECT_TIMEOUT")) {
        keys[k] = "connect_timeout";
        vals[k++] = "10";
    }
    /* A server or network that vanishes mid-run is noticed in about a minute rather
     * than after the kernel's two-hour keepalive default. (A server that stops answering
     * while its kernel still does is caught by the deadline alone.) */
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
    keys[k] = "client_encoding";
    vals[k++] = "UTF8";
    keys[k] = NULL;
    vals[k] = NULL;
    p->conn = PQconnectStartParams(keys, vals, 1);
    if (!p->conn) {
        snprintf(err, errlen, "postgresql %s: out of memory", p->where);
        return UP_ENOMEM;
    }
    if (PQstatus(p->conn) == CONNECTION_BAD)
        return fail(p, "cannot connect", NULL, err, errlen);
    limit = connect_limit_ms(p->conn);
    start = mono_ms();
    for (;;) {
        int64_t left = up_deadline_left_ms(), spent = mono_ms() - start, wait = left;
        struct pollfd fd;
        int r;

        if (st == PGRES_POLLING_OK)
            return UP_OK;
        if (st == PGRES_POLLING_FAILED)
            return fail(p, "cannot connect", NULL, err, errlen);
        if (left <= 0)
            return timed_out(p, "connect", err, errlen);
        if (limit > 0 && spent >= limit) {
            snprintf(err, errlen,
                     "postgresql %s: cannot connect: timeout expired (connect_timeout %lld s)",
                     p->where, (long long)(limit / 1000));
            return UP_EDB;
        }
        if (limit > 0 && limit - spent < wait)
            wait = limit - spent;
        fd.fd = PQsocket(p->conn);
        fd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        fd.revents = 0;
        r = fd.fd < 0 ? 1 : poll(&fd, 1, poll_ms(wait));
        if (r < 0 && errno != EINTR) {
            snprintf(err, errlen, "postgresql %s: connect: poll: %s", p->where, strerror(errno));
            return UP_EDB;
        }
        if (r > 0)
            st = PQconnectPoll(p->conn);
    }
}

/* Creates the tables when one is missing. Only then does the load need CREATE on the
 * schema; later loads need only rights on the tables (docs/postgres.md). */
static enum up_code ensure_schema(struct pg_store *p, char *err, size_t errlen)
{
    int missing;
    enum up_code rc;

    rc = query_bool(p,
                    "SELECT to_regclass('store_status') IS NULL OR"
                    " to_regclass('business_hours') IS NULL OR"
                    " to_regclass('store_timezone') IS NULL OR"
                    " to_regclass('store_summary') IS NULL",
                    "schema check", 0, &missing, err, errlen);
    if (rc != UP_OK || !missing)
        return rc;
    /* Two first loads at once: the lock makes the second see the first's tables. */
    rc = exec(p, "BEGIN; SELECT pg_advisory_xact_lock(" LOAD_LOCK ");", "create schema", 1, err,
              errlen);
    if (rc == UP_OK)
        rc = exec(p, schema_sql, "create schema", 1, err, errlen);
    if (rc == UP_OK)
        rc = exec(p, "COMMIT", "create schema", 0, err, errlen);
    if (rc != UP_OK)
        abort_tx(p);
    return rc;
}

/* The session's own statement_timeout and lock_timeout, which the deadline's may only
 * shorten (read when there is a deadline). */
static enum up_code own_timeouts(struct pg_store *p, char *err, size_t errlen)
{
    PGresult *res;
    enum up_code rc;
    int i;

    rc = query(p,
               "SELECT name, setting FROM pg_settings"
               " WHERE name IN ('lock_timeout', 'statement_timeout')",
               "read the session's timeouts", 0, &res, err, errlen);
    if (rc != UP_OK)
        return rc;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 2)
        rc = fail(p, "read the session's timeouts", res, err, errlen);
    for (i = 0; rc == UP_OK && i < PQntuples(res); i++) {
        int64_t ms = strtoll(PQgetvalue(res, i, 1), NULL, 10); /* milliseconds */
        if (strcmp(PQgetvalue(res, i, 0), "statement_timeout") == 0)
            p->own_stmt_ms = ms;
        else
            p->own_lock_ms = ms;
    }
    PQclear(res);
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
    p->write = mode == UP_STORE_WRITE;
    up_buf_init(&p->stores, 1, STORES_KEPT_MAX);
    up_buf_init(&p->held, sizeof(struct held_row), HELD_MAX);
    up_buf_init(&p->lstores, sizeof(struct load_store), LOAD_STORES_MAX);
    up_idtab_init(&p->ids, LOAD_STORES_MAX, LOAD_ID_BYTES_MAX);
    up_buf_init(&p->hheld, sizeof(struct held_hours), HELD_MAX);
    up_buf_init(&p->zones, 1, LOAD_ID_BYTES_MAX);
    up_source_redact(url, p->where, sizeof p->where);
    rc = connect_bounded(p, url, err, errlen);
    if (rc != UP_OK)
        goto fail;
    PQsetNoticeProcessor(p->conn, quiet_notice, NULL);
    if (PQsetnonblocking(p->conn, 1) != 0) {
        rc = fail(p, "set nonblocking", NULL, err, errlen);
        goto fail;
    }
    /* client_encoding=UTF8 went with the connection; options=-c... could have changed it. */
    enc = PQparameterStatus(p->conn, "client_encoding");
    if (!enc || strcmp(enc, "UTF8") != 0) {
        rc = exec(p, "SET client_encoding = 'UTF8'", "set client encoding UTF8", 0, err, errlen);
        if (rc != UP_OK)
            goto fail;
    }
    enc = PQparameterStatus(p->conn, "server_encoding");
    if (!enc || (strcmp(enc, "UTF8") != 0 && strcmp(enc, "SQL_ASCII") != 0)) {
        snprintf(err, errlen, "postgresql %s: database encoding is %s; uptime needs UTF8", p->where,
                 enc ? enc : "unknown");
        rc = UP_EDB;
        goto fail;
    }
    if (up_deadline_limit() > 0) {
        rc = own_timeouts(p, err, errlen);
        if (rc != UP_OK)
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
        rc = exec(p, "SET default_transaction_read_only = on; SET jit = off", "set read-only", 0,
                  err, errlen);
        if (rc != UP_OK)
            goto fail;
        /* Fail now, with a clear message, if a table is not there or not readable. From
         * the catalog, taking no lock: a session that holds a table locked delays the
         * reads of that table only, not the open. */
        rc = query(p,
                   "SELECT t, to_regclass(t) IS NULL FROM unnest(ARRAY['store_status',"
                   " 'business_hours', 'store_timezone', 'store_summary']) AS t"
                   " WHERE to_regclass(t) IS NULL OR NOT has_table_privilege(t, 'SELECT')"
                   " LIMIT 1",
                   "schema check", 0, &res, err, errlen);
        if (rc != UP_OK)
            goto fail;
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
        rc = query(p,
                   "SELECT CASE WHEN to_regclass('store_meta') IS NULL THEN false"
                   " ELSE has_table_privilege(to_regclass('store_meta'), 'SELECT') END,"
                   " CASE WHEN to_regclass('status_pack') IS NULL"
                   " OR to_regclass('status_pack_state') IS NULL THEN false"
                   " ELSE has_table_privilege(to_regclass('status_pack'), 'SELECT')"
                   " AND has_table_privilege(to_regclass('status_pack_state'), 'SELECT') END",
                   "schema check", 0, &res, err, errlen);
        if (rc != UP_OK)
            goto fail;
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 2) {
            rc = fail(p, "schema check", res, err, errlen);
        } else {
            p->meta = PQgetvalue(res, 0, 0)[0] == 't';
            p->pack = PQgetvalue(res, 0, 1)[0] == 't' && !getenv("UPTIME_PG_NO_PACK");
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

/* Rows of each kind a load holds: HELD_MAX, or UPTIME_PG_HOLD_ROWS when it is a number
 * from 1 to HELD_MAX (less memory on the client; the server then merges the load). */
static size_t hold_rows(void)
{
    const char *v = getenv("UPTIME_PG_HOLD_ROWS");
    char *end;
    long long n;

    if (!v || !*v)
        return HELD_MAX;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno != 0 || *end || n < 1 || (unsigned long long)n > HELD_MAX)
        return HELD_MAX;
    return (size_t)n;
}

static enum up_code pg_begin(struct up_store *st, char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    enum up_code rc;

    p->load_any = 0;
    held_free(p);
    p->held.max = p->hheld.max = hold_rows();
    p->copy = COPY_NONE;
    p->blen = 0;
    /* Staging tables live in this session only and vanish at commit or rollback. The
     * server's timeouts, set here for the session, bound each COPY that follows. */
    rc = exec(p,
              "BEGIN;"
              "CREATE TEMP TABLE up_tz_stage (seq bigint GENERATED ALWAYS AS IDENTITY,"
              " store_id text COLLATE \"C\" NOT NULL, timezone_str text NOT NULL) ON COMMIT DROP;"
              "CREATE TEMP TABLE up_hours_stage (store_id text COLLATE \"C\" NOT NULL,"
              " day_of_week smallint NOT NULL, start_time_us bigint NOT NULL,"
              " end_time_us bigint NOT NULL) ON COMMIT DROP;"
              "CREATE TEMP TABLE up_status_stage (store_id text COLLATE \"C\" NOT NULL,"
              " ts_utc bigint NOT NULL, active boolean NOT NULL) ON COMMIT DROP;",
              "begin load", 1, err, errlen);
    if (rc != UP_OK)
        abort_tx(p);
    return rc;
}

/* PGCOPY's signature (docs: COPY, binary format): the loader's binary COPY sends it, the
 * reader checks it. */
static const char bcopy_sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};

/* What each COPY loads, as messages name the step. */
static const char *const copy_what[] = {
    [COPY_NONE] = "COPY",
    [COPY_TZ] = "COPY of time zones",
    [COPY_HOURS] = "COPY of business hours",
    [COPY_STATUS] = "COPY of polls",
    [COPY_FIRST] = "COPY of polls",
    [COPY_SUMMARY] = "COPY of the store summary",
    [COPY_TZ_FIRST] = "COPY of time zones",
    [COPY_HOURS_FIRST] = "COPY of business hours",
    [COPY_META_FIRST] = "COPY of the store metadata",
    [COPY_PACK_FIRST] = "COPY of the packed polls",
};

/* Hands the buffered COPY data to libpq and sends it before taking more (libpq, being
 * nonblocking, would otherwise keep a whole load in memory for a slow server). */
static enum up_code flush_copy(struct pg_store *p, char *err, size_t errlen)
{
    const char *what = copy_what[p->copy];
    enum up_code rc;
    int r;

    if (p->blen == 0)
        return UP_OK;
    if (!p->conn)
        return closed(p, what, err, errlen);
    while ((r = PQputCopyData(p->conn, p->buf, (int)p->blen)) == 0) {
        rc = flush_out(p, what, err, errlen); /* libpq's buffer is full */
        if (rc != UP_OK)
            return rc;
    }
    if (r != 1)
        return fail(p, what, NULL, err, errlen);
    p->blen = 0;
    return flush_out(p, what, err, errlen);
}

/* Ends the open COPY and collects its outcome (the server checks the rows here). */
static enum up_code end_copy(struct pg_store *p, const char *abort_msg, char *err, size_t errlen)
{
    const char *what = copy_what[p->copy];
    enum up_code rc = UP_OK;
    int r;

    if (p->copy == COPY_NONE)
        return UP_OK;
    if (!abort_msg)
        rc = flush_copy(p, err, errlen);
    p->copy = COPY_NONE;
    p->blen = 0;
    if (!p->conn)
        return rc; /* a timeout closed it */
    while ((r = PQputCopyEnd(p->conn, rc == UP_OK ? abort_msg : "load failed")) == 0) {
        char scratch[256];
        enum up_code f =
            flush_out(p, what, rc == UP_OK ? err : scratch, rc == UP_OK ? errlen : sizeof scratch);
        if (f != UP_OK)
            return rc == UP_OK ? f : rc;
    }
    if (r != 1 && rc == UP_OK)
        rc = fail(p, what, NULL, err, errlen);
    if (p->conn && rc == UP_OK)
        rc = flush_out(p, what, err, errlen);
    return drain(p, rc, abort_msg ? -1 : PGRES_COMMAND_OK, what, err, errlen);
}

static enum up_code start_copy(struct pg_store *p, enum copy_kind kind, char *err, size_t errlen)
{
    static const char *const sql[] = {
        [COPY_TZ] = "COPY up_tz_stage (store_id, timezone_str) FROM STDIN (FORMAT binary)",
        [COPY_HOURS] = "COPY up_hours_stage FROM STDIN (FORMAT binary)",
        [COPY_STATUS] = "COPY up_status_stage FROM STDIN (FORMAT binary)",
        [COPY_FIRST] = "COPY store_status (store_id, ts_utc, active) FROM STDIN"
                       " (FORMAT binary, FREEZE)",
        [COPY_SUMMARY] = "COPY store_summary (store_id, first_ts, last_ts, npolls) FROM STDIN"
                         " (FORMAT binary, FREEZE)",
        [COPY_TZ_FIRST] = "COPY store_timezone (store_id, timezone_str) FROM STDIN"
                          " (FORMAT binary, FREEZE)",
        [COPY_HOURS_FIRST] = "COPY business_hours (store_id, day_of_week, start_time_us,"
                             " end_time_us) FROM STDIN (FORMAT binary, FREEZE)",
        [COPY_META_FIRST] = "COPY store_meta (store_id, timezone_str, hours) FROM STDIN"
                            " (FORMAT binary, FREEZE)",
        [COPY_PACK_FIRST] = "COPY status_pack (store_id, bucket, polls) FROM STDIN"
                            " (FORMAT binary, FREEZE)",
    };
    enum up_code rc;
    PGresult *res;

    if (p->copy == kind)
        return UP_OK;
    rc = end_copy(p, NULL, err, errlen);
    if (rc != UP_OK)
        return rc;
    rc = query(p, sql[kind], copy_what[kind], 0, &res, err, errlen);
    if (rc != UP_OK)
        return rc;
    if (PQresultStatus(res) != PGRES_COPY_IN)
        rc = fail(p, copy_what[kind], res, err, errlen);
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

/* ---- The load's polls: held, sorted and merged here, sent at commit. ---- */

/* The index of store id in the load's store list, added when new. Returns 0, or -1
 * when memory runs out or a cap is reached. */
static int store_index(struct pg_store *p, const char *id, uint32_t *out)
{
    const struct up_idtab_ent *t;
    struct load_store *e;
    int added;

    /* Room first: the two lists grow together, index for index. */
    if (up_buf_reserve(&p->lstores, 1) != 0 || (added = up_idtab_intern(&p->ids, id, out)) < 0)
        return -1;
    if (added) {
        t = UP_IDTAB_AT(&p->ids, *out);
        e = up_buf_push(&p->lstores);
        e->id = t->id;
        e->len = t->len;
    }
    return 0;
}

/* A store's id and its index, for ranking the stores by id. */
struct by_id {
    const char *id;
    uint32_t i;
};

/* Byte-wise, as COLLATE "C" (strcmp compares unsigned bytes). */
static int cmp_by_id(const void *a, const void *b)
{
    return strcmp(((const struct by_id *)a)->id, ((const struct by_id *)b)->id);
}

/* Orders held rows by store rank, then time. */
static int cmp_held(const void *a, const void *b)
{
    const struct held_row *x = a, *y = b;

    if (x->store != y->store)
        return (x->store > y->store) - (x->store < y->store);
    return (x->ts > y->ts) - (x->ts < y->ts);
}

static int cmp_held_ts(const void *a, const void *b)
{
    const struct held_row *x = a, *y = b;

    return (x->ts > y->ts) - (x->ts < y->ts);
}

/* Bits of the rank sorted per radix pass: 2048 buckets stay in the CPU's caches. */
#define RADIX_BITS 11

/*
 * Sorts rows[0..n) by rank (their store member), stably, with a least significant digit
 * radix sort into a second buffer (2 passes up to 4 M stores): each store's polls keep
 * their arrival order, so an export in time order needs no sort by time after it (as
 * the SQLite backend's radix_by_rank). Returns 0, or -1 (nothing done) without memory
 * for the buffer.
 */
static int radix_by_rank(struct held_row *rows, size_t n, size_t nranks)
{
    struct held_row *tmp = malloc(n * sizeof *tmp), *src = rows, *dst = tmp, *t;
    size_t cnt[(size_t)1 << RADIX_BITS], i, d;
    const size_t mask = ((size_t)1 << RADIX_BITS) - 1;
    unsigned bits = 0, shift;

    if (!tmp)
        return -1;
    while (bits < 32 && ((size_t)1 << bits) < nranks)
        bits++;
    for (shift = 0; shift < bits; shift += RADIX_BITS) {
        size_t sum = 0;

        memset(cnt, 0, sizeof cnt);
        for (i = 0; i < n; i++)
            cnt[(src[i].store >> shift) & mask]++;
        for (d = 0; d <= mask; d++) {
            size_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (i = 0; i < n; i++)
            dst[cnt[(src[i].store >> shift) & mask]++] = src[i];
        t = src;
        src = dst;
        dst = t;
    }
    if (src != rows)
        memcpy(rows, src, n * sizeof *rows);
    free(tmp);
    return 0;
}

/*
 * Ranks the load's stores by id, byte-wise as COLLATE "C" (strcmp compares unsigned
 * bytes): rank[i] is store i's place, order[r] the store of rank r. The caller frees both.
 */
static enum up_code rank_stores(struct pg_store *p, uint32_t **order, uint32_t **rank, char *err,
                                size_t errlen)
{
    size_t ns = p->lstores.n, i;
    struct by_id *by = malloc((ns ? ns : 1) * sizeof *by);

    *order = malloc((ns ? ns : 1) * sizeof **order);
    *rank = malloc((ns ? ns : 1) * sizeof **rank);
    if (!by || !*order || !*rank) {
        free(by);
        free(*order);
        free(*rank);
        *order = *rank = NULL;
        snprintf(err, errlen, "postgresql %s: out of memory", p->where);
        return UP_ENOMEM;
    }
    for (i = 0; i < ns; i++) {
        by[i].id = UP_BUF_AT(&p->lstores, struct load_store, i)->id;
        by[i].i = (uint32_t)i;
    }
    qsort(by, ns, sizeof *by, cmp_by_id);
    for (i = 0; i < ns; i++) {
        (*order)[i] = by[i].i;
        (*rank)[by[i].i] = (uint32_t)i;
    }
    free(by);
    return UP_OK;
}

/*
 * Sorts the held polls by (store_id, ts) and merges duplicates (one row, inactive if any
 * was: SPEC's rule, whatever their order), so the server gets distinct keys in key order
 * and has nothing left to sort or group. Each row's store member becomes its store's
 * rank (rank_stores). Every store's first, last and n are then its polls' in this run
 * (n = 0: none).
 */
static void sort_held(struct pg_store *p, const uint32_t *order, const uint32_t *rank)
{
    struct held_row *rows = p->held.p;
    size_t n = p->held.n, ns = p->lstores.n, i, k, start;

    for (i = 0; i < n; i++)
        rows[i].store = rank[rows[i].store];
    if (radix_by_rank(rows, n, ns) != 0) {
        qsort(rows, n, sizeof *rows, cmp_held); /* no memory for the second buffer */
    } else {
        for (start = 0; start < n; start = i) {
            int sorted = 1;
            for (i = start + 1; i < n && rows[i].store == rows[start].store; i++)
                sorted &= rows[i - 1].ts <= rows[i].ts;
            if (!sorted)
                qsort(rows + start, i - start, sizeof *rows, cmp_held_ts);
        }
    }
    for (i = 1, k = 0; i < n; i++) {
        if (rows[i].store == rows[k].store && rows[i].ts == rows[k].ts)
            rows[k].active &= rows[i].active;
        else
            rows[++k] = rows[i];
    }
    p->held.n = n = n ? k + 1 : 0;
    for (i = 0; i < ns; i++)
        UP_BUF_AT(&p->lstores, struct load_store, i)->n = 0;
    for (i = 0; i < n; i++) {
        struct load_store *e = UP_BUF_AT(&p->lstores, struct load_store, order[rows[i].store]);
        if (e->n++ == 0)
            e->first = rows[i].ts;
        e->last = rows[i].ts;
    }
}

static void be16(char *b, uint16_t v)
{
    b[0] = (char)(v >> 8);
    b[1] = (char)v;
}

static void be32put(char *b, uint32_t v)
{
    be16(b, (uint16_t)(v >> 16));
    be16(b + 2, (uint16_t)v);
}

static void be64put(char *b, uint64_t v)
{
    be32put(b, (uint32_t)(v >> 32));
    be32put(b + 4, (uint32_t)v);
}

/* A text field of a binary COPY tuple: its length, then its bytes as they are (the
 * server checks them as UTF-8 as it does text input). */
static enum up_code put_bin_text(struct pg_store *p, const char *s, uint32_t len, char *err,
                                 size_t errlen)
{
    char h[4];
    enum up_code rc;

    be32put(h, len);
    rc = put_bytes(p, h, sizeof h, err, errlen);
    return rc == UP_OK ? put_bytes(p, s, len, err, errlen) : rc;
}

/* An int8 field of a binary COPY tuple. */
static void bin_int8(char *b, int64_t v)
{
    be32put(b, 8);
    be64put(b + 4, (uint64_t)v);
}

/* Opens a binary COPY of kind and sends its header (signature, flags, no extension). */
static enum up_code copy_begin(struct pg_store *p, enum copy_kind kind, char *err, size_t errlen)
{
    char head[19];
    enum up_code rc = start_copy(p, kind, err, errlen);

    memcpy(head, bcopy_sig, sizeof bcopy_sig);
    memset(head + sizeof bcopy_sig, 0, 8);
    return rc == UP_OK ? put_bytes(p, head, sizeof head, err, errlen) : rc;
}

/* Sends the binary COPY's trailer (a tuple of -1 fields) and ends it. */
static enum up_code copy_finish(struct pg_store *p, char *err, size_t errlen)
{
    enum up_code rc = put_bytes(p, "\377\377", 2, err, errlen);

    return rc == UP_OK ? end_copy(p, NULL, err, errlen) : rc;
}

/* A tuple's field count. */
static enum up_code put_nfields(struct pg_store *p, int n, char *err, size_t errlen)
{
    char b[2];

    be16(b, (uint16_t)n);
    return put_bytes(p, b, sizeof b, err, errlen);
}

/*
 * Sends the sorted, merged held polls through one binary COPY: into the staging table
 * (COPY_STATUS) or, in a first load, into store_status itself (COPY_FIRST). Binary: no
 * number to format or parse, and the id's bytes go as they are.
 */
static enum up_code copy_polls(struct pg_store *p, enum copy_kind kind, const uint32_t *order,
                               char *err, size_t errlen)
{
    const struct held_row *rows = p->held.p;
    enum up_code rc = copy_begin(p, kind, err, errlen);
    char tail[17];
    size_t i;

    for (i = 0; i < p->held.n && rc == UP_OK; i++) {
        const struct load_store *e =
            UP_BUF_AT(&p->lstores, struct load_store, order[rows[i].store]);
        rc = put_nfields(p, 3, err, errlen);
        if (rc == UP_OK)
            rc = put_bin_text(p, e->id, e->len, err, errlen);
        bin_int8(tail, rows[i].ts);
        be32put(tail + 12, 1);
        tail[16] = rows[i].active ? 1 : 0;
        if (rc == UP_OK)
            rc = put_bytes(p, tail, sizeof tail, err, errlen);
    }
    return rc == UP_OK ? copy_finish(p, err, errlen) : rc;
}

/* The store summary of a first load, from the held polls (every store's first, last and
 * count), in key order, through one binary COPY into store_summary. */
static enum up_code copy_summary(struct pg_store *p, const uint32_t *order, char *err,
                                 size_t errlen)
{
    enum up_code rc = copy_begin(p, COPY_SUMMARY, err, errlen);
    char nums[36];
    size_t i;

    for (i = 0; i < p->lstores.n && rc == UP_OK; i++) {
        const struct load_store *e = UP_BUF_AT(&p->lstores, struct load_store, order[i]);
        if (e->n == 0)
            continue;
        rc = put_nfields(p, 4, err, errlen);
        if (rc == UP_OK)
            rc = put_bin_text(p, e->id, e->len, err, errlen);
        bin_int8(nums, e->first);
        bin_int8(nums + 12, e->last);
        bin_int8(nums + 24, e->n);
        if (rc == UP_OK)
            rc = put_bytes(p, nums, sizeof nums, err, errlen);
    }
    return rc == UP_OK ? copy_finish(p, err, errlen) : rc;
}

/* The bucket of status_pack that instant t falls in: floor(t / 2^PACK_SHIFT), as the
 * server's ts_utc >> PACK_SHIFT gives it. */
static int64_t pack_bucket(int64_t t)
{
    return t >= 0 ? t >> PACK_SHIFT : -((-(t + 1)) >> PACK_SHIFT) - 1;
}

/* status_pack of a first load, from the held polls (sorted and merged): one row per store
 * and bucket, in key order, its polls as PACK_POLLS packs them (8 bytes each, big-endian
 * ts_utc * 2 + active, in time order). */
static enum up_code copy_pack(struct pg_store *p, const uint32_t *order, char *err, size_t errlen)
{
    const struct held_row *rows = p->held.p;
    enum up_code rc = copy_begin(p, COPY_PACK_FIRST, err, errlen);
    size_t i = 0, j;

    while (i < p->held.n && rc == UP_OK) {
        const struct load_store *e =
            UP_BUF_AT(&p->lstores, struct load_store, order[rows[i].store]);
        int64_t b = pack_bucket(rows[i].ts);
        char head[16], v[8];
        for (j = i + 1;
             j < p->held.n && rows[j].store == rows[i].store && pack_bucket(rows[j].ts) == b; j++)
            ;
        rc = put_nfields(p, 3, err, errlen);
        if (rc == UP_OK)
            rc = put_bin_text(p, e->id, e->len, err, errlen);
        bin_int8(head, b);
        be32put(head + 12, (uint32_t)(8 * (j - i)));
        if (rc == UP_OK)
            rc = put_bytes(p, head, sizeof head, err, errlen);
        for (; i < j && rc == UP_OK; i++) {
            be64put(v, (uint64_t)(rows[i].ts * 2 + (rows[i].active ? 1 : 0)));
            rc = put_bytes(p, v, sizeof v, err, errlen);
        }
    }
    return rc == UP_OK ? copy_finish(p, err, errlen) : rc;
}

/* The held polls as a sorted run into the staging table, to make room (the cap, or
 * memory short): the server then merges the load (pg_commit). */
static enum up_code spill(struct pg_store *p, char *err, size_t errlen)
{
    uint32_t *order, *rank;
    enum up_code rc = rank_stores(p, &order, &rank, err, errlen);

    if (rc != UP_OK)
        return rc;
    sort_held(p, order, rank);
    rc = copy_polls(p, COPY_STATUS, order, err, errlen);
    free(order);
    free(rank);
    p->held.n = 0;
    p->spilled = 1;
    return rc;
}

static enum up_code pg_put_status(struct up_store *st, const char *id, int64_t ts, int active,
                                  char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    struct held_row *r;
    uint32_t i;

    p->load_any = 1;
    if (store_index(p, id, &i) != 0) {
        snprintf(err, errlen, "postgresql %s: out of memory (or more than %zu stores in a load)",
                 p->where, LOAD_STORES_MAX);
        return UP_ENOMEM;
    }
    r = up_buf_push(&p->held);
    if (!r && p->held.n > 0) {
        enum up_code rc = spill(p, err, errlen);
        if (rc != UP_OK)
            return rc;
        r = up_buf_push(&p->held);
    }
    if (!r) {
        snprintf(err, errlen, "postgresql %s: out of memory", p->where);
        return UP_ENOMEM;
    }
    r->store = i;
    r->active = active != 0;
    r->ts = ts;
    return UP_OK;
}

/* Orders held hours rows by key: store rank, day, start, end. */
static int cmp_hours(const void *a, const void *b)
{
    const struct held_hours *x = a, *y = b;

    if (x->store != y->store)
        return (x->store > y->store) - (x->store < y->store);
    if (x->day != y->day)
        return (x->day > y->day) - (x->day < y->day);
    if (x->start != y->start)
        return (x->start > y->start) - (x->start < y->start);
    return (x->end > y->end) - (x->end < y->end);
}

/* Sorts the held hours rows in key order and drops repeats (identical rows are stored
 * once); each row's store member becomes its store's rank. */
static void sort_hours(struct pg_store *p, const uint32_t *rank)
{
    struct held_hours *h = p->hheld.p;
    size_t n = p->hheld.n, i, k;

    if (n == 0)
        return;
    for (i = 0; i < n; i++)
        h[i].store = rank[h[i].store];
    qsort(h, n, sizeof *h, cmp_hours);
    for (i = 1, k = 0; i < n; i++)
        if (cmp_hours(&h[i], &h[k]) != 0)
            h[++k] = h[i];
    p->hheld.n = n ? k + 1 : 0;
}

/* The store of a held row: store is a rank when order is set, else an index. */
static const struct load_store *held_store(const struct pg_store *p, const uint32_t *order,
                                           uint32_t store)
{
    return UP_BUF_AT(&p->lstores, struct load_store, order ? order[store] : store);
}

/* The held hours rows through one binary COPY: into the stage (COPY_HOURS) or, in a
 * first load, business_hours (COPY_HOURS_FIRST, sorted). order: as row_store. */
static enum up_code copy_hours(struct pg_store *p, enum copy_kind kind, const uint32_t *order,
                               char *err, size_t errlen)
{
    const struct held_hours *h = p->hheld.p;
    enum up_code rc = copy_begin(p, kind, err, errlen);
    char nums[30];
    size_t i;

    for (i = 0; i < p->hheld.n && rc == UP_OK; i++) {
        const struct load_store *e = held_store(p, order, h[i].store);
        rc = put_nfields(p, 4, err, errlen);
        if (rc == UP_OK)
            rc = put_bin_text(p, e->id, e->len, err, errlen);
        be32put(nums, 2);
        be16(nums + 4, (uint16_t)h[i].day);
        bin_int8(nums + 6, h[i].start);
        bin_int8(nums + 18, h[i].end);
        if (rc == UP_OK)
            rc = put_bytes(p, nums, sizeof nums, err, errlen);
    }
    return rc == UP_OK ? copy_finish(p, err, errlen) : rc;
}

/* Each store's zone (the last one put) through one binary COPY, in rank order: into the
 * stage (COPY_TZ) or, in a first load, store_timezone (COPY_TZ_FIRST). */
static enum up_code copy_zones(struct pg_store *p, enum copy_kind kind, const uint32_t *order,
                               char *err, size_t errlen)
{
    enum up_code rc = copy_begin(p, kind, err, errlen);
    size_t i;

    for (i = 0; i < p->lstores.n && rc == UP_OK; i++) {
        const struct load_store *e = held_store(p, order, (uint32_t)i);
        const char *zone = (const char *)p->zones.p + e->zone - 1;
        if (!e->zone)
            continue;
        rc = put_nfields(p, 2, err, errlen);
        if (rc == UP_OK)
            rc = put_bin_text(p, e->id, e->len, err, errlen);
        if (rc == UP_OK)
            rc = put_bin_text(p, zone, (uint32_t)strlen(zone), err, errlen);
    }
    return rc == UP_OK ? copy_finish(p, err, errlen) : rc;
}

/* store_meta of a first load, from the held hours (sorted) and zones: one row per store
 * with either, in key order, its hours packed as the server's META_HOURS packs them (18
 * bytes a row: int2 day, int8 start, int8 end, big-endian), NULL where it has none. */
static enum up_code copy_meta(struct pg_store *p, const uint32_t *order, char *err, size_t errlen)
{
    const struct held_hours *h = p->hheld.p;
    enum up_code rc = copy_begin(p, COPY_META_FIRST, err, errlen);
    size_t r, j = 0, k;

    for (r = 0; r < p->lstores.n && rc == UP_OK; r++) {
        const struct load_store *e = held_store(p, order, (uint32_t)r);
        char len[4], packed[18];
        for (k = j; k < p->hheld.n && h[k].store == r; k++)
            ;
        if (!e->zone && k == j)
            continue;
        rc = put_nfields(p, 3, err, errlen);
        if (rc == UP_OK)
            rc = put_bin_text(p, e->id, e->len, err, errlen);
        if (rc == UP_OK && e->zone) {
            const char *zone = (const char *)p->zones.p + e->zone - 1;
            rc = put_bin_text(p, zone, (uint32_t)strlen(zone), err, errlen);
        } else if (rc == UP_OK) {
            be32put(len, UINT32_MAX); /* -1: NULL */
            rc = put_bytes(p, len, sizeof len, err, errlen);
        }
        be32put(len, k == j ? UINT32_MAX : (uint32_t)(18 * (k - j)));
        if (rc == UP_OK)
            rc = put_bytes(p, len, sizeof len, err, errlen);
        for (; j < k && rc == UP_OK; j++) {
            be16(packed, (uint16_t)h[j].day);
            be64put(packed + 2, (uint64_t)h[j].start);
            be64put(packed + 10, (uint64_t)h[j].end);
            rc = put_bytes(p, packed, sizeof packed, err, errlen);
        }
    }
    return rc == UP_OK ? copy_finish(p, err, errlen) : rc;
}

/* The held hours into the staging table, to make room (unsorted: the server's merge
 * takes them as they are). */
static enum up_code spill_hours(struct pg_store *p, char *err, size_t errlen)
{
    enum up_code rc = copy_hours(p, COPY_HOURS, NULL, err, errlen);

    p->hheld.n = 0;
    p->hours_spilled = 1;
    return rc;
}

static enum up_code pg_put_hours(struct up_store *st, const char *id,
                                 const struct up_hours_row *row, char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    struct held_hours *h;
    uint32_t i;

    if (store_index(p, id, &i) != 0) {
        snprintf(err, errlen, "postgresql %s: out of memory (or more than %zu stores in a load)",
                 p->where, LOAD_STORES_MAX);
        return UP_ENOMEM;
    }
    h = up_buf_push(&p->hheld);
    if (!h && p->hheld.n > 0) {
        enum up_code rc = spill_hours(p, err, errlen);
        if (rc != UP_OK)
            return rc;
        h = up_buf_push(&p->hheld);
    }
    if (!h) {
        snprintf(err, errlen, "postgresql %s: out of memory", p->where);
        return UP_ENOMEM;
    }
    h->store = i;
    h->day = row->day;
    h->start = row->start_us;
    h->end = row->end_us;
    return UP_OK;
}

/* A store's zone: held, the last one put winning (as the upsert at commit would). */
static enum up_code pg_put_timezone(struct up_store *st, const char *id, const char *zone,
                                    char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    size_t off = p->zones.n;
    uint32_t i;

    if (store_index(p, id, &i) != 0 || up_buf_append(&p->zones, zone, strlen(zone) + 1) != 0) {
        snprintf(err, errlen, "postgresql %s: out of memory (or more than %zu stores in a load)",
                 p->where, LOAD_STORES_MAX);
        return UP_ENOMEM;
    }
    UP_BUF_AT(&p->lstores, struct load_store, i)->zone = off + 1;
    p->zone_any = 1;
    return UP_OK;
}

/* Before the merge: memory for sorting without spilling, and the lock that serialises
 * the merge phase of concurrent loads. (A stage, when used, is analysed once filled, so
 * that the planner sizes its joins.) */
static const char merge_prep_sql[] = "SET LOCAL work_mem = '256MB';"
                                     "SET LOCAL uptime.pack_kept = on;"
                                     "SELECT pg_advisory_xact_lock(" LOAD_LOCK ");";

/* Polls (SPEC §2) through the stage: duplicates within the load merge with bool_and
 * (inactive wins; the client has merged them already, except across the sorted runs of a
 * load too big to hold); inserting in key order keeps the heap clustered by (store_id,
 * ts_utc). Into an empty table this is all. */
#define STATUS_INSERT                                                                              \
    "INSERT INTO store_status (store_id, ts_utc, active)"                                          \
    " SELECT store_id, ts_utc, bool_and(active) FROM up_status_stage g"                            \
    " GROUP BY store_id, ts_utc"
static const char status_first_sql[] = STATUS_INSERT " ORDER BY store_id, ts_utc;";

/*
 * Into a table with polls: a stored poll the load sees inactive becomes inactive, and
 * only new (store_id, ts_utc) are inserted. Not INSERT ... ON CONFLICT DO UPDATE: that
 * writes a new version of every row a reload repeats (bloat) and measured five times
 * slower on a reload of 1.7 million polls. The summary of each store the insert gave
 * polls widens by them and counts them (the rows RETURNING names): the cost follows the
 * new polls, where recounting the stores read all their stored polls (an hour into 19 M
 * polls touches nearly every store).
 */
#define STATUS_UPDATE                                                                              \
    "UPDATE store_status s SET active = false FROM up_status_stage g"                              \
    " WHERE NOT g.active AND s.active AND s.store_id = g.store_id AND s.ts_utc = g.ts_utc"
#define STATUS_NEW                                                                                 \
    "ins AS (" STATUS_INSERT " HAVING NOT EXISTS (SELECT 1 FROM store_status s"                    \
    " WHERE s.store_id = g.store_id AND s.ts_utc = g.ts_utc) ORDER BY store_id, ts_utc"            \
    " RETURNING store_id, ts_utc)"
#define SUMMARY_WIDEN                                                                              \
    "INSERT INTO store_summary AS m (store_id, first_ts, last_ts, npolls)"                         \
    " SELECT store_id, min(ts_utc), max(ts_utc), count(*) FROM ins GROUP BY store_id"              \
    " ORDER BY store_id ON CONFLICT (store_id) DO UPDATE SET"                                      \
    " first_ts = least(m.first_ts, excluded.first_ts),"                                            \
    " last_ts = greatest(m.last_ts, excluded.last_ts), npolls = m.npolls + excluded.npolls"
static const char status_merge_sql[] = STATUS_UPDATE ";WITH " STATUS_NEW " " SUMMARY_WIDEN ";";

/*
 * status_pack: the polls of store_status a second time, laid out for the reports' read
 * (docs/postgres.md): one row per store and bucket of 2^36 us (about 19 hours), its polls
 * packed into one bytea, 8 bytes a poll (int8send(ts_utc * 2 + active), in time order).
 * A report then reads 8-10 rows of a store for its week instead of one index entry
 * per poll (server time for half of 160 k stores: 0.4-0.5 s against 2.1-3.1 s).
 * store_status stays the table of record; the loader rewrites, in the load's transaction,
 * every bucket whose polls the load (or a prune) changed. A database from before it gets
 * it, filled from store_status, at its next load of polls (by a role that may create
 * tables and triggers; until then reports read store_status as before).
 *
 * Any other write to store_status (an older uptime_load, an UPDATE by hand) leaves it
 * behind: a statement trigger on store_status then marks it stale (status_pack_state),
 * unless the writing transaction says it keeps status_pack itself (uptime.pack_kept, set
 * by this loader). Reports read store_status while it is stale; the next load fills it
 * again whole. The trigger's function runs as its owner, so that a writer who may not
 * update status_pack_state can still write store_status.
 */
#define PACK_TABLE_SQL                                                                             \
    "DROP TABLE IF EXISTS status_pack;"                                                            \
    "CREATE TABLE status_pack (store_id text COLLATE \"C\" NOT NULL, bucket bigint NOT NULL,"      \
    " polls bytea NOT NULL, PRIMARY KEY (store_id, bucket));"                                      \
    "CREATE TABLE IF NOT EXISTS status_pack_state (current boolean NOT NULL);"                     \
    "DELETE FROM status_pack_state; INSERT INTO status_pack_state VALUES (true);"                  \
    "DO $d$BEGIN EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I.uptime_pack_stale()"            \
    " RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp"     \
    " AS $b$BEGIN IF coalesce(current_setting('uptime.pack_kept', true), '') <> 'on' THEN"         \
    " UPDATE %1$I.status_pack_state SET current = false WHERE current; END IF; RETURN NULL;"       \
    " END$b$$f$, current_schema()); END$d$;"                                                       \
    "DROP TRIGGER IF EXISTS status_pack_stale ON store_status;"                                    \
    "CREATE TRIGGER status_pack_stale AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"                \
    " ON store_status FOR EACH STATEMENT EXECUTE FUNCTION uptime_pack_stale();"
/* status_pack filled again whole: after a first load through the stage, or when stale. */
#define PACK_REFILL_SQL                                                                            \
    "DELETE FROM status_pack;" PACK_FILL_SQL "UPDATE status_pack_state SET current = true;"
#define PACK_POLLS "string_agg(int8send(s.ts_utc * 2 + s.active::int), ''::bytea ORDER BY s.ts_utc)"
/* The buckets a statement changed, collected for pack_rebuild_sql. */
#define PACK_TOUCH_SQL                                                                             \
    "CREATE TEMP TABLE IF NOT EXISTS up_pack_touch (store_id text COLLATE \"C\" NOT NULL,"         \
    " bucket bigint NOT NULL) ON COMMIT DROP;"
#define PACK_TOUCHED(rel)                                                                          \
    "INSERT INTO up_pack_touch SELECT DISTINCT store_id, ts_utc >> " PACK_SHIFT_S " FROM " rel
#define PACK_FILL_SQL                                                                              \
    "INSERT INTO status_pack (store_id, bucket, polls)"                                            \
    " SELECT s.store_id, s.ts_utc >> " PACK_SHIFT_S ", " PACK_POLLS " FROM store_status s"         \
    " GROUP BY 1, 2 ORDER BY 1, 2;"
/* Every touched bucket written again from store_status (one index range each), or
 * dropped when it has no poll left. */
static const char pack_rebuild_sql[] =
    "ANALYZE up_pack_touch;"
    "DELETE FROM status_pack k USING up_pack_touch t"
    " WHERE k.store_id = t.store_id AND k.bucket = t.bucket;"
    "INSERT INTO status_pack (store_id, bucket, polls)"
    " SELECT t.store_id, t.bucket, a.polls"
    " FROM (SELECT DISTINCT store_id, bucket FROM up_pack_touch) t,"
    " LATERAL (SELECT " PACK_POLLS " AS polls FROM store_status s WHERE s.store_id = t.store_id"
    " AND s.ts_utc >= t.bucket << " PACK_SHIFT_S " AND s.ts_utc < (t.bucket + 1) << " PACK_SHIFT_S
    ") a"
    " WHERE a.polls IS NOT NULL ORDER BY 1, 2;"
    "TRUNCATE up_pack_touch;";
/* status_merge_sql, with the buckets it changed collected and rewritten. */
static const char status_merge_pack_sql[] = PACK_TOUCH_SQL
    "WITH u AS (" STATUS_UPDATE
    " RETURNING s.store_id, s.ts_utc) " PACK_TOUCHED("u") ";WITH " STATUS_NEW
                                                          ", sm AS (" SUMMARY_WIDEN
                                                          ") " PACK_TOUCHED("ins") ";";

/* Hours: a store named in the load has its rows replaced whole (identical rows stored
 * once); a plain insert in key order, since after the DELETE no staged row can meet a
 * stored one (ON CONFLICT DO NOTHING's speculative insertion took twice as long: 1.0
 * against 0.52 s for 86 k rows). Zones: upsert, the last row of the load winning. */
static const char merge_rest_sql[] =
    "DELETE FROM business_hours WHERE store_id IN (SELECT store_id FROM up_hours_stage);"
    "INSERT INTO business_hours (store_id, day_of_week, start_time_us, end_time_us)"
    " SELECT DISTINCT store_id, day_of_week, start_time_us, end_time_us FROM up_hours_stage"
    " ORDER BY 1, 2, 3, 4;"
    "INSERT INTO store_timezone (store_id, timezone_str)"
    " SELECT DISTINCT ON (store_id) store_id, timezone_str FROM up_tz_stage"
    " ORDER BY store_id, seq DESC"
    " ON CONFLICT (store_id) DO UPDATE SET timezone_str = excluded.timezone_str;";

/*
 * store_meta: one row per store with hours or a zone, both as the reports read them (the
 * zone, and the store's hours rows packed into one bytea of 18 bytes each: int2 day, int8
 * start, int8 end, big-endian, in primary-key order). Rank 0 then reads 160 k rows for the
 * hours instead of 1.3 M (docs/postgres.md). The loader keeps it, in the load's
 * transaction, for every store the load names in its hours or zones; business_hours and
 * store_timezone stay the tables of record. A database from before it gets it, filled
 * from those two, at its next load (by a role that may create tables; until then
 * reports read the two tables as before).
 */
#define META_HOURS                                                                                 \
    "string_agg(int2send(day_of_week) || int8send(start_time_us) || int8send(end_time_us),"        \
    " ''::bytea ORDER BY day_of_week, start_time_us, end_time_us)"
#define META_TABLE_SQL                                                                             \
    "CREATE TABLE store_meta (store_id text COLLATE \"C\" NOT NULL PRIMARY KEY,"                   \
    " timezone_str text, hours bytea);"
static const char meta_create_sql[] = META_TABLE_SQL
    "INSERT INTO store_meta (store_id, timezone_str, hours)"
    " SELECT coalesce(h.store_id, z.store_id), z.timezone_str, h.hours"
    " FROM (SELECT store_id, " META_HOURS " AS hours FROM business_hours GROUP BY store_id) h"
    " FULL JOIN store_timezone z ON z.store_id = h.store_id ORDER BY 1;";
static const char meta_merge_sql[] =
    "INSERT INTO store_meta (store_id, timezone_str, hours)"
    " SELECT k.store_id,"
    " (SELECT z.timezone_str FROM store_timezone z WHERE z.store_id = k.store_id),"
    " (SELECT " META_HOURS " FROM business_hours b WHERE b.store_id = k.store_id)"
    " FROM (SELECT store_id FROM up_hours_stage UNION SELECT store_id FROM up_tz_stage) k"
    " ORDER BY 1"
    " ON CONFLICT (store_id) DO UPDATE SET timezone_str = excluded.timezone_str,"
    " hours = excluded.hours;";

/*
 * Runs sql under a savepoint: *done = 1 when it went through, 0 when it failed and the
 * savepoint undid it (a role without the right; the load goes on), with UP_OK either
 * way. A timeout or a lost connection is returned as it is: nothing can be undone then.
 */
static enum up_code exec_or_undo(struct pg_store *p, const char *sql, const char *what, int *done,
                                 char *err, size_t errlen)
{
    enum up_code rc = exec(p, "SAVEPOINT up_try", what, 0, err, errlen);

    *done = 0;
    if (rc != UP_OK)
        return rc;
    rc = exec(p, sql, what, 1, err, errlen);
    if (rc == UP_OK) {
        *done = 1;
        return exec(p, "RELEASE SAVEPOINT up_try", what, 0, err, errlen);
    }
    if (rc == UP_ETIMEOUT || !p->conn)
        return rc;
    return exec(p, "ROLLBACK TO SAVEPOINT up_try", what, 0, err, errlen);
}

/* store_meta: kept up to date, or created and filled when the database has none yet.
 * A role that may not create it loads without it (the savepoint undoes the attempt). */
static enum up_code merge_meta(struct pg_store *p, char *err, size_t errlen)
{
    enum up_code rc;
    int missing, done;

    rc = query_bool(p, "SELECT to_regclass('store_meta') IS NULL", "store metadata", 0, &missing,
                    err, errlen);
    if (rc != UP_OK)
        return rc;
    if (!missing)
        return exec(p, meta_merge_sql, "store metadata", 1, err, errlen);
    return exec_or_undo(p, meta_create_sql, "store metadata", &done, err, errlen);
}

/* The primary key of store_status, built again by one sort after a bulk insert. The sort
 * gets memory to run in: with the default maintenance_work_mem (64 MB) the build of
 * 1.76 M polls' key took 8.8 s, with 1 GB 1.5 s (the sort only takes what it needs). */
#define STATUS_KEY_SQL                                                                             \
    "SET LOCAL maintenance_work_mem = '1GB';"                                                      \
    "ALTER TABLE store_status ADD CONSTRAINT store_status_pkey"                                    \
    " PRIMARY KEY (store_id, ts_utc) INCLUDE (active);"                                            \
    "ALTER TABLE store_status CLUSTER ON store_status_pkey;"

/*
 * Into an empty table, the primary key is dropped, the polls inserted in key order and the
 * key built again from them by one sort: measured twice as fast on 5 M polls (11.6 s +
 * 2.8 s against 28.4 s) as inserting every poll into the index. ALTER TABLE needs the
 * table's owner; a role that may only write gets the plain insert (the savepoint undoes
 * the attempt). The summary of a first load is every store's, with no list to check.
 * (The way of a first load whose polls fit in memory is load_first; this one takes the
 * rest: a role that may not truncate or alter, a load too big to hold.)
 */
static const char status_first_fast_sql[] =
    "ALTER TABLE store_status DROP CONSTRAINT store_status_pkey;" STATUS_INSERT
    " ORDER BY store_id, ts_utc;" STATUS_KEY_SQL;
static const char summary_first_sql[] =
    "INSERT INTO store_summary (store_id, first_ts, last_ts, npolls)"
    " SELECT store_id, min(ts_utc), max(ts_utc), count(*) FROM store_status GROUP BY store_id"
    " ORDER BY store_id ON CONFLICT (store_id) DO UPDATE SET first_ts = excluded.first_ts,"
    " last_ts = excluded.last_ts, npolls = excluded.npolls;";

/* The polls of a first load (store_status empty) from the stage: the fast way, else the
 * plain insert. */
static enum up_code merge_first(struct pg_store *p, char *err, size_t errlen)
{
    int done;
    enum up_code rc = exec_or_undo(p, status_first_fast_sql, "merge polls", &done, err, errlen);

    return rc == UP_OK && !done ? exec(p, status_first_sql, "merge polls", 1, err, errlen) : rc;
}

/*
 * A first load (store_status and store_summary empty) whose polls are all held, sorted
 * and merged: both tables truncated in a subtransaction of the load, the polls copied
 * straight into store_status and the summary (computed here) into store_summary, each
 * with COPY ... FREEZE (rows written frozen and, since PostgreSQL 14, their pages marked
 * all-visible: no stage, no server sort or grouping, nothing left for VACUUM to do), and
 * the primary key built by one sort after the copy. TRUNCATE and ALTER TABLE take an
 * ACCESS EXCLUSIVE lock, as the key's rebuild did before; the tables were empty, so
 * what a reader with an older snapshot sees of them is the same before and after.
 * *done = 0 when the role may not truncate or alter the tables (the savepoint undoes the
 * attempt and the caller takes the stage); the polls are still held then.
 */
static enum up_code load_first(struct pg_store *p, const uint32_t *order, int pack_missing,
                               int *done, char *err, size_t errlen)
{
    enum up_code rc = exec(p, "SAVEPOINT up_first", "merge polls", 0, err, errlen);

    *done = 0;
    if (rc != UP_OK)
        return rc;
    rc = exec(p,
              pack_missing ? "TRUNCATE store_status, store_summary;" PACK_TABLE_SQL
                             "ALTER TABLE store_status DROP CONSTRAINT store_status_pkey;"
                           : "TRUNCATE store_status, store_summary, status_pack;"
                             "UPDATE status_pack_state SET current = true;"
                             "ALTER TABLE store_status DROP CONSTRAINT store_status_pkey;",
              "merge polls", 1, err, errlen);
    if (rc != UP_OK) {
        if (rc == UP_ETIMEOUT || !p->conn)
            return rc;
        return exec(p, "ROLLBACK TO SAVEPOINT up_first", "merge polls", 0, err, errlen);
    }
    rc = copy_polls(p, COPY_FIRST, order, err, errlen);
    if (rc == UP_OK)
        rc = copy_summary(p, order, err, errlen);
    if (rc == UP_OK)
        rc = copy_pack(p, order, err, errlen);
    if (rc == UP_OK)
        rc = exec(p, STATUS_KEY_SQL, "build the polls' primary key", 1, err, errlen);
    if (rc == UP_OK)
        rc = exec(p, "RELEASE SAVEPOINT up_first", "merge polls", 0, err, errlen);
    *done = rc == UP_OK;
    return rc;
}

/*
 * The load's polls: sorted and merged here; into an empty database straight into the
 * tables (load_first), else through the stage and the server's merge, the summary with
 * it. *fast says load_first did it all.
 */
static enum up_code merge_polls(struct pg_store *p, const uint32_t *order, int *fast, char *err,
                                size_t errlen)
{
    PGresult *res;
    enum up_code rc;
    int no_polls = 0, no_summary = 0, pack_missing = 0, pack_current = 0, made;

    *fast = 0;
    rc = query(p,
               "SELECT NOT EXISTS (SELECT 1 FROM store_status),"
               " NOT EXISTS (SELECT 1 FROM store_summary),"
               " to_regclass('status_pack') IS NULL OR to_regclass('status_pack_state') IS NULL",
               "merge", 1, &res, err, errlen);
    if (rc == UP_OK) {
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 3)
            rc = fail(p, "merge", res, err, errlen);
        else {
            no_polls = PQgetvalue(res, 0, 0)[0] == 't';
            no_summary = PQgetvalue(res, 0, 1)[0] == 't';
            pack_missing = PQgetvalue(res, 0, 2)[0] == 't';
        }
        PQclear(res);
    }
    if (rc == UP_OK && !pack_missing)
        rc = query_bool(p, "SELECT coalesce(bool_and(current), false) FROM status_pack_state",
                        "merge", 1, &pack_current, err, errlen);
    if (rc == UP_OK && no_polls && no_summary && !p->spilled)
        rc = load_first(p, order, pack_missing, fast, err, errlen);
    if (rc == UP_OK && !*fast && p->held.n > 0)
        rc = copy_polls(p, COPY_STATUS, order, err, errlen);
    if (rc != UP_OK || *fast)
        return rc;
    rc = exec(p, "ANALYZE up_status_stage", "merge polls", 1, err, errlen);
    if (rc == UP_OK && no_polls) {
        rc = merge_first(p, err, errlen);
        if (rc == UP_OK)
            rc = exec(p, summary_first_sql, "store summary", 1, err, errlen);
    } else if (rc == UP_OK && pack_current) {
        rc = exec(p, status_merge_pack_sql, "merge polls", 1, err, errlen);
        if (rc == UP_OK)
            return exec(p, pack_rebuild_sql, "packed polls", 1, err, errlen);
    } else if (rc == UP_OK) {
        rc = exec(p, status_merge_sql, "merge polls", 1, err, errlen);
    }
    /* A first load through the stage, or status_pack stale or missing: filled whole. */
    if (rc != UP_OK)
        return rc;
    if (!pack_missing)
        return exec(p, PACK_REFILL_SQL, "packed polls", 1, err, errlen);
    /* A database without it gets it, filled from store_status; a role that may not create
     * it loads without it (reports then read store_status). */
    return exec_or_undo(p, PACK_TABLE_SQL PACK_FILL_SQL, "packed polls", &made, err, errlen);
}

/*
 * A first load of hours and zones (business_hours and store_timezone empty, store_meta
 * empty or missing) whose rows are all held: the three tables truncated (store_meta
 * created when missing) in a subtransaction, and the sorted rows copied into them with
 * COPY ... FREEZE, store_meta computed here. At 160 k stores the server's merge took
 * 9.1 s for the hours and 2.4 s for store_meta. *done = 0 when the role may not truncate
 * or create them (the savepoint undoes the attempt; the caller takes the stage).
 */
static enum up_code load_meta_first(struct pg_store *p, const uint32_t *order, int meta_missing,
                                    int *done, char *err, size_t errlen)
{
    enum up_code rc = exec(p, "SAVEPOINT up_meta_first", "store metadata", 0, err, errlen);

    *done = 0;
    if (rc != UP_OK)
        return rc;
    rc = exec(p,
              meta_missing ? "TRUNCATE business_hours, store_timezone;" META_TABLE_SQL
                           : "TRUNCATE business_hours, store_timezone, store_meta",
              "merge", 1, err, errlen);
    if (rc != UP_OK) {
        if (rc == UP_ETIMEOUT || !p->conn)
            return rc;
        return exec(p, "ROLLBACK TO SAVEPOINT up_meta_first", "merge", 0, err, errlen);
    }
    if (p->hheld.n > 0)
        rc = copy_hours(p, COPY_HOURS_FIRST, order, err, errlen);
    if (rc == UP_OK && p->zone_any)
        rc = copy_zones(p, COPY_TZ_FIRST, order, err, errlen);
    if (rc == UP_OK)
        rc = copy_meta(p, order, err, errlen);
    if (rc == UP_OK)
        rc = exec(p, "RELEASE SAVEPOINT up_meta_first", "merge", 0, err, errlen);
    *done = rc == UP_OK;
    return rc;
}

/* The load's hours and zones (sorted by sort_hours): into empty tables by
 * load_meta_first, else through the stages and the server's merge (which also keeps or
 * makes store_meta). */
static enum up_code merge_hours(struct pg_store *p, const uint32_t *order, char *err, size_t errlen)
{
    enum up_code rc = UP_OK;
    int fast = 0;

    if ((p->hheld.n > 0 || p->zone_any) && !p->hours_spilled) {
        PGresult *res;
        int empty = 0, meta_missing = 0;
        rc = query(p,
                   "SELECT NOT EXISTS (SELECT 1 FROM business_hours)"
                   " AND NOT EXISTS (SELECT 1 FROM store_timezone),"
                   " to_regclass('store_meta') IS NULL",
                   "merge", 1, &res, err, errlen);
        if (rc != UP_OK)
            return rc;
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 2) {
            rc = fail(p, "merge", res, err, errlen);
        } else {
            empty = PQgetvalue(res, 0, 0)[0] == 't';
            meta_missing = PQgetvalue(res, 0, 1)[0] == 't';
        }
        PQclear(res);
        if (rc == UP_OK && empty && !meta_missing)
            rc = query_bool(p, "SELECT NOT EXISTS (SELECT 1 FROM store_meta)", "merge", 1, &empty,
                            err, errlen);
        if (rc == UP_OK && empty)
            rc = load_meta_first(p, order, meta_missing, &fast, err, errlen);
    }
    if (rc != UP_OK || fast)
        return rc;
    if (p->hheld.n > 0)
        rc = copy_hours(p, COPY_HOURS, order, err, errlen);
    if (rc == UP_OK && p->zone_any)
        rc = copy_zones(p, COPY_TZ, order, err, errlen);
    if (rc == UP_OK)
        rc = exec(p, "ANALYZE up_hours_stage; ANALYZE up_tz_stage", "merge", 1, err, errlen);
    if (rc == UP_OK)
        rc = exec(p, merge_rest_sql, "merge", 1, err, errlen);
    return rc == UP_OK ? merge_meta(p, err, errlen) : rc;
}

static enum up_code pg_commit(struct up_store *st, char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    enum up_code rc;
    int fast = 0;

    uint32_t *order = NULL, *rank = NULL;

    rc = end_copy(p, NULL, err, errlen);
    if (rc == UP_OK)
        rc = exec(p, merge_prep_sql, "merge", 1, err, errlen);
    if (rc == UP_OK)
        rc = rank_stores(p, &order, &rank, err, errlen);
    if (rc == UP_OK && p->load_any) {
        sort_held(p, order, rank);
        rc = merge_polls(p, order, &fast, err, errlen);
    }
    if (rc == UP_OK) {
        sort_hours(p, rank);
        rc = merge_hours(p, order, err, errlen);
    }
    free(order);
    free(rank);
    held_free(p);
    if (rc == UP_OK) {
        rc = exec(p, "COMMIT", "commit", 0, err, errlen);
        if (rc == UP_ETIMEOUT) {
            size_t k = strlen(err);
            if (k < errlen)
                snprintf(err + k, errlen - k,
                         "; the server may have committed the load before it stopped answering");
        }
    }
    if (rc != UP_OK)
        return rc; /* the loader rolls back */
    /* Fresh planner statistics for the readers, and a visibility map for store_status so
     * the readers' index-only scans never visit the table (a third faster on 1.9 million
     * polls; after a COPY ... FREEZE the map is set already and VACUUM skips every page).
     * After the commit, so a failure here (a role that may write but not vacuum only gets
     * a warning; a timeout closes the connection) cannot undo the load. */
    exec_quiet(p, "VACUUM (ANALYZE) store_status");
    exec_quiet(p, "ANALYZE store_summary, business_hours, store_timezone");
    exec_quiet(p, "VACUUM (ANALYZE) store_meta");
    exec_quiet(p, "VACUUM (ANALYZE) status_pack");
    return UP_OK;
}

/* Retention (up_store_prune): one statement; per store, `keep` is its latest poll before
 * `before`, every earlier one is deleted, and the summary loses what was deleted (its
 * first poll is now `keep`). Serialised with the merge phase of loads. */
#define PRUNE_SQL(touch)                                                                           \
    "WITH keep AS (SELECT store_id, max(ts_utc) AS k FROM store_status"                            \
    "  WHERE ts_utc < $1::bigint GROUP BY store_id),"                                              \
    " del AS (DELETE FROM store_status s USING keep"                                               \
    "  WHERE s.store_id = keep.store_id AND s.ts_utc < keep.k RETURNING s.store_id, "              \
    "s.ts_utc)," touch " cnt AS (SELECT store_id, count(*) AS n FROM del GROUP BY store_id),"      \
    " upd AS (UPDATE store_summary m SET npolls = m.npolls - cnt.n, first_ts = keep.k"             \
    "  FROM cnt JOIN keep USING (store_id) WHERE m.store_id = cnt.store_id)"                       \
    " SELECT coalesce(sum(n), 0) FROM cnt"
static const char prune_sql[] = PRUNE_SQL("");
/* With status_pack: the buckets that lost polls are collected, then rewritten. */
static const char prune_pack_sql[] = PRUNE_SQL(" tch AS (" PACK_TOUCHED("del") "),");

static enum up_code pg_prune(struct up_store *st, int64_t before, int64_t *deleted, char *err,
                             size_t errlen)
{
    struct pg_store *p = cast(st);
    char bbuf[32];
    const char *params[1] = {bbuf};
    enum up_code rc;
    PGresult *res = NULL;
    int pack = 0;

    snprintf(bbuf, sizeof bbuf, "%lld", (long long)before);
    /* The server's timeouts, set with the lock, bound the statement that follows. */
    rc = exec(p,
              "BEGIN; SET LOCAL uptime.pack_kept = on;"
              " SELECT pg_advisory_xact_lock(" LOAD_LOCK ");",
              "prune", 1, err, errlen);
    if (rc != UP_OK) {
        abort_tx(p);
        return rc;
    }
    rc = query_bool(p,
                    "SELECT to_regclass('status_pack') IS NOT NULL"
                    " AND to_regclass('status_pack_state') IS NOT NULL",
                    "prune", 0, &pack, err, errlen);
    if (rc == UP_OK && pack)
        rc = exec(p, PACK_TOUCH_SQL, "prune", 0, err, errlen);
    if (rc == UP_OK)
        rc =
            query_x(p, pack ? prune_pack_sql : prune_sql, 1, params, "prune", 0, &res, err, errlen);
    if (rc == UP_OK) {
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
            rc = fail(p, "prune", res, err, errlen);
        else
            *deleted = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
    if (rc == UP_OK && pack)
        rc = exec(p, pack_rebuild_sql, "prune", 1, err, errlen);
    if (rc == UP_OK)
        rc = exec(p, "COMMIT", "prune", 0, err, errlen);
    if (rc != UP_OK) {
        *deleted = 0;
        abort_tx(p);
        return rc;
    }
    /* As after a load: the freed space becomes reusable and the readers' index-only scans
     * keep their visibility map. Best effort, after the commit. */
    exec_quiet(p, "VACUUM (ANALYZE) store_status");
    if (pack)
        exec_quiet(p, "VACUUM (ANALYZE) status_pack");
    return UP_OK;
}

static enum up_code pg_rollback(struct up_store *st, char *err, size_t errlen)
{
    struct pg_store *p = cast(st);

    (void)end_copy(p, "load rolled back", err, errlen);
    held_free(p);
    /* Without a connection there is nothing to undo: the server discards an open
     * transaction whose client is gone. */
    if (!p->conn || PQstatus(p->conn) != CONNECTION_OK ||
        PQtransactionStatus(p->conn) == PQTRANS_IDLE)
        return UP_OK;
    return exec(p, "ROLLBACK", "rollback", 0, err, errlen);
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
    return exec(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", what, 0, err, errlen);
}

/* Ends what read_begin began: commits an own transaction; after an error that aborted
 * the held one, the view is lost. */
static enum up_code read_end(struct pg_store *p, enum up_code rc, const char *what, char *err,
                             size_t errlen)
{
    if (rc == UP_OK)
        return p->pinned ? UP_OK : exec(p, "COMMIT", what, 0, err, errlen);
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
    enum up_code rc; /* why a wait for the next message failed (bcopy_next's -3) */
};

/* The next COPY OUT message into *msg, as PQgetCopyData (length, -1 at the end, -2 on
 * failure), waiting for it within the deadline; -3 when the wait failed (*rc and err say
 * why; a timeout closed the connection). */
static int get_copy(struct pg_store *p, char **msg, const char *what, enum up_code *rc, char *err,
                    size_t errlen)
{
    int n;

    if (!p->conn) {
        *rc = closed(p, what, err, errlen);
        return -3;
    }
    while ((n = PQgetCopyData(p->conn, msg, 1)) == 0) {
        *rc = wait_io(p, 0, what, err, errlen);
        if (*rc != UP_OK)
            return -3;
        if (!PQconsumeInput(p->conn))
            return -2;
    }
    return n;
}

/* Next row of c into f[0..nf). Returns 1 (a row; its text fields NUL-terminated in place
 * until the next call), 0 (the end marker), -1 (malformed data), -2 (the server ended the
 * COPY early or the connection failed: PQgetResult says why), -3 (the wait failed: c->rc,
 * with the message in err). */
static int bcopy_next(struct pg_store *p, struct bcopy *c, struct bfield *f, int nf,
                      const char *what, char *err, size_t errlen)
{
    int i, n;

    if (c->saved_at >= 0) {
        c->msg[c->saved_at] = c->saved;
        c->saved_at = -1;
    }
    while (!c->msg || c->pos >= c->len) {
        PQfreemem(c->msg);
        c->msg = NULL;
        c->len = get_copy(p, &c->msg, what, &c->rc, err, errlen);
        c->pos = 0;
        if (c->len == -3)
            return -3;
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
    struct bcopy c = {NULL, 0, 0, 0, 0, -1, 0, UP_OK};
    struct bfield f[4];
    char scratch[256];
    PGresult *res;
    enum up_code rc;
    char *rest;
    int r = 0;

    rc = read_begin(p, what, err, errlen);
    if (rc != UP_OK)
        return rc;
    /* The server's statement_timeout, set with the COPY, bounds it. */
    rc = query(p, sql, what, 1, &res, err, errlen);
    if (rc != UP_OK)
        return read_end(p, rc, what, err, errlen);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        rc = fail(p, what, res, err, errlen);
        PQclear(res);
        return read_end(p, rc, what, err, errlen);
    }
    PQclear(res);
    while ((r = bcopy_next(p, &c, f, nf, what, err, errlen)) > 0) {
        r = row(f, sink, state);
        if (r != 0)
            break;
    }
    if (r == -3) {
        rc = c.rc;
    } else if (r < 0 && r != -2) {
        snprintf(err, errlen, "postgresql %s: %s: malformed or out-of-order row", p->where, what);
        rc = UP_EDB;
    } else if (r > 0) {
        snprintf(err, errlen, "postgresql %s: %s: scan stopped by its consumer", p->where, what);
        rc = UP_EFAIL;
    }
    PQfreemem(c.msg);
    while (get_copy(p, &rest, what, &c.rc, rc == UP_OK ? err : scratch,
                    rc == UP_OK ? errlen : sizeof scratch) >= 0)
        PQfreemem(rest);
    if (rc == UP_OK && !p->conn)
        rc = c.rc; /* the rest timed out */
    rc = drain(p, rc, PGRES_COMMAND_OK, what, err, errlen);
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
    rc = query(p, "SELECT MAX(last_ts), COUNT(*) > 0 FROM store_summary", "max timestamp", 1, &res,
               err, errlen);
    if (rc != UP_OK) {
        /* the wait failed: err says why */
    } else if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
               PQnfields(res) != 2) {
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

/* state: the list being kept, or NULL; a list past its cap is let go (read again). */
static int row_store(const struct bfield *f, const struct up_store_sink *sink, void *state)
{
    struct up_buf *kept = state;
    int64_t npolls;

    if (get_i64(&f[0], &npolls) != 0 || !f[1].v)
        return -1;
    if (kept && kept->elem &&
        (up_buf_reserve(kept, 8 + (size_t)f[1].len + 1) != 0 ||
         up_buf_append(kept, &npolls, 8) != 0 ||
         up_buf_append(kept, f[1].v, (size_t)f[1].len + 1) != 0)) {
        up_buf_free(kept);
        kept->elem = 0; /* marks "not kept" for the rest of this scan */
    }
    return sink->store(sink->ctx, f[1].v, npolls) != 0;
}

/* The kept list, to the sink; then let go. */
static enum up_code replay_stores(struct pg_store *p, const struct up_store_sink *sink, char *err,
                                  size_t errlen)
{
    const char *r = p->stores.p, *end = r + p->stores.n;
    enum up_code rc = UP_OK;

    while (r < end) {
        int64_t w;
        memcpy(&w, r, 8);
        if (sink->store(sink->ctx, r + 8, w) != 0) {
            snprintf(err, errlen, "postgresql %s: list stores: scan stopped by its consumer",
                     p->where);
            rc = UP_EFAIL;
            break;
        }
        r += 8 + strlen(r + 8) + 1;
    }
    up_buf_free(&p->stores);
    p->stores_kept = 0;
    return rc;
}

static enum up_code pg_stores(struct up_store *st, int64_t lo, int64_t now,
                              const struct up_store_sink *sink, char *err, size_t errlen)
{
    struct pg_store *p = cast(st);
    struct up_buf *kept = NULL;
    enum up_code rc;
    char sql[256];

    /* As in SQLite, the weight is the whole poll count, read from the summary. */
    (void)lo;
    if (p->stores_kept && p->stores_now == now && p->pinned && !p->pin_lost)
        return replay_stores(p, sink, err, errlen);
    up_buf_free(&p->stores);
    p->stores_kept = 0;
    if (p->pinned) {
        kept = &p->stores;
        up_buf_init(kept, 1, STORES_KEPT_MAX);
    }
    snprintf(sql, sizeof sql,
             "COPY (SELECT npolls, store_id FROM store_summary WHERE first_ts <= %lld"
             " ORDER BY store_id COLLATE \"C\") TO STDOUT (FORMAT binary)",
             (long long)now);
    rc = copy_scan(p, sql, 2, row_store, sink, kept, "list stores", err, errlen);
    if (rc == UP_OK && kept && kept->elem) {
        p->stores_kept = 1;
        p->stores_now = now;
    } else {
        up_buf_free(&p->stores);
        up_buf_init(&p->stores, 1, STORES_KEPT_MAX);
    }
    return rc;
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

/* A store's hours packed in store_meta: 18 bytes per row (int2 day, int8 start, int8 end). */
#define META_ROW 18

/* A store's rows for sink->hours_of. */
struct hours_state {
    struct up_hours_row *rows;
    size_t cap;
};

/* One store's packed hours: to sink->hours_of in one call when it is set (and the rows
 * fit in memory), else row by row to sink->hours. */
static int row_meta_hours(const struct bfield *f, const struct up_store_sink *sink, void *state)
{
    struct hours_state *hs = state;
    struct up_hours_row h;
    const char *r;
    size_t n, k;
    int bulk, day;

    if (!f[0].v || f[0].len == 0 || f[0].len % META_ROW != 0 || !f[1].v)
        return -1;
    n = (size_t)f[0].len / META_ROW;
    bulk = sink->hours_of != NULL;
    if (bulk && n > hs->cap) {
        struct up_hours_row *g = realloc(hs->rows, n * sizeof *g);
        if (g) {
            hs->rows = g;
            hs->cap = n;
        } else {
            bulk = 0;
        }
    }
    for (k = 0, r = f[0].v; k < n; k++, r += META_ROW) {
        day = (int16_t)(((unsigned char)r[0] << 8) | (unsigned char)r[1]);
        if (day < 0 || day > 6)
            return -1;
        h.day = day;
        h.start_us = be64(r + 2);
        h.end_us = be64(r + 10);
        if (bulk)
            hs->rows[k] = h;
        else if (sink->hours(sink->ctx, f[1].v, &h) != 0)
            return 1;
    }
    return bulk && sink->hours_of(sink->ctx, f[1].v, hs->rows, n) != 0;
}

static enum up_code pg_hours(struct up_store *st, const struct up_store_sink *sink, char *err,
                             size_t errlen)
{
    if (cast(st)->meta) {
        struct hours_state hs = {NULL, 0};
        enum up_code rc =
            copy_scan(cast(st),
                      "COPY (SELECT hours, store_id FROM store_meta WHERE hours IS NOT NULL"
                      " ORDER BY store_id COLLATE \"C\") TO STDOUT (FORMAT binary)",
                      2, row_meta_hours, sink, &hs, "read hours", err, errlen);
        free(hs.rows);
        return rc;
    }
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
    if (cast(st)->meta)
        return copy_scan(cast(st),
                         "COPY (SELECT timezone_str, store_id FROM store_meta"
                         " WHERE timezone_str IS NOT NULL ORDER BY store_id COLLATE \"C\")"
                         " TO STDOUT (FORMAT binary)",
                         2, row_tz, sink, NULL, "read time zones", err, errlen);
    return copy_scan(cast(st),
                     "COPY (SELECT timezone_str, store_id FROM store_timezone"
                     " ORDER BY store_id COLLATE \"C\") TO STDOUT (FORMAT binary)",
                     2, row_tz, sink, NULL, "read time zones", err, errlen);
}

/* The state of a polls scan: the caller's ids, the next one to match, the window; the
 * connection whose buffers the polls are decoded into, and need when growing them failed. */
struct polls_state {
    const char *const *ids;
    size_t n, k;
    int64_t lo, now;
    struct pg_store *p;
    size_t nomem;
    int stale; /* status_pack is stale in the view read: read store_status instead */
};

/* Element type of the window array: int8 (pg_type.oid of bigint). */
#define INT8_OID 20
/* Element type of the packed window's array: bytea. */
#define BYTEA_OID 17

/* Polls travel as ts * 2 + active: one int8 each (every SPEC instant, years 1-9999, is
 * within +-2^58 microseconds, so doubling cannot overflow). */
static int64_t poll_ts_of(int64_t v)
{
    return (v - (v & 1)) / 2;
}

/* Room for need polls in the connection's decode buffers; -1 when out of memory. */
static int polls_room(struct pg_store *p, size_t need)
{
    size_t cap = p->poll_cap ? p->poll_cap : 1024;
    int64_t *ts;
    uint8_t *active;

    if (need <= p->poll_cap)
        return 0;
    while (cap < need)
        cap *= 2; /* need < 2^28 (a field is under 2^31 bytes, 12 a poll) */
    ts = realloc(p->poll_ts, cap * sizeof *ts);
    if (!ts)
        return -1;
    p->poll_ts = ts;
    active = realloc(p->poll_active, cap);
    if (!active)
        return -1;
    p->poll_active = active;
    p->poll_cap = cap;
    return 0;
}

/* An array field in binary of elements of type oid, empty or of one dimension: ndim,
 * has-null flag, element type, then (one dimension) its length and lower bound, the
 * elements from byte 20 on. *n: how many (0 when empty). 0, or -1 when malformed. */
static int array_header(const struct bfield *f, uint32_t oid, int32_t *n)
{
    *n = 0;
    if (f->len < 12 || be32(f->v + 8) != oid)
        return -1;
    if (be32(f->v) == 0)
        return f->len == 12 ? 0 : -1;
    if (be32(f->v) != 1 || f->len < 20)
        return -1;
    *n = (int32_t)be32(f->v + 12);
    return *n < 0 ? -1 : 0;
}

/* The row's id (v, NULL: malformed) matched against the caller's list: 1 and *id the
 * caller's pointer when it is the next one, 0 for a store of the range that is not in the
 * list, -1 when the ids do not ascend. */
static int match_id(struct polls_state *ps, const char *v, const char **id)
{
    int c = 1;

    if (!v)
        return -1;
    while (ps->k < ps->n && (c = strcmp(ps->ids[ps->k], v)) < 0)
        ps->k++;
    if (ps->k > 0 && strcmp(ps->ids[ps->k - 1], v) >= 0 && c != 0)
        return -1; /* not ascending */
    if (ps->k == ps->n || c != 0)
        return 0; /* in the range, not in the list */
    *id = ps->ids[ps->k++];
    return 1;
}

/* Hands a store's decoded polls to the sink: in one polls_of call (the caller's own id
 * pointer), or to sink->poll one by one when it is unset. */
static int hand_polls(const struct up_store_sink *sink, const char *id, const int64_t *ts,
                      const uint8_t *active, size_t m)
{
    size_t k;

    if (m == 0)
        return 0;
    if (sink->polls_of)
        return sink->polls_of(sink->ctx, id, ts, active, m) != 0;
    for (k = 0; k < m; k++)
        if (sink->poll(sink->ctx, id, ts[k], active[k]) != 0)
            return 1;
    return 0;
}

/*
 * One store: its carry-in poll (NULL: none) and its window polls as an int8[] (NULL:
 * none), its id last. The id is matched against the caller's list (a store of the range
 * that is not in the list is skipped); the order is checked, not trusted: ids ascending,
 * the carry-in before lo, the window in [lo, now] strictly ascending. The store's polls
 * are decoded and checked as a whole, then handed to sink->polls_of in one call (the
 * caller's own id pointer), or to sink->poll one by one when it is unset.
 */
static int row_polls(const struct bfield *f, const struct up_store_sink *sink, void *state)
{
    struct polls_state *ps = state;
    struct pg_store *p = ps->p;
    const char *id, *e;
    int64_t v, t, prev;
    int64_t *ts;
    uint8_t *active;
    int32_t i, n = 0;
    size_t m = 0;
    int c;

    c = match_id(ps, f[2].v, &id);
    if (c <= 0)
        return c;
    /* Per element its length (8) and value. */
    if (f[1].v && (array_header(&f[1], INT8_OID, &n) != 0 ||
                   (n > 0 && ((f[1].len - 20) / 12 != n || (f[1].len - 20) % 12 != 0))))
        return -1;
    if ((size_t)n + 1 > p->poll_cap && polls_room(p, (size_t)n + 1) != 0) {
        ps->nomem = (size_t)n + 1;
        return 1;
    }
    ts = p->poll_ts;
    active = p->poll_active;
    prev = INT64_MIN;
    if (f[0].v) {
        if (get_i64(&f[0], &v) != 0)
            return -1;
        t = poll_ts_of(v);
        if (t >= ps->lo)
            return -1;
        ts[0] = t;
        active[0] = (uint8_t)(v & 1);
        m = 1;
    }
    for (i = 0; i < n; i++) {
        e = f[1].v + 20 + (size_t)i * 12;
        if (be32(e) != 8)
            return -1;
        v = be64(e + 4);
        t = poll_ts_of(v);
        if (t <= prev || t < ps->lo || t > ps->now)
            return -1;
        ts[m] = t;
        active[m++] = (uint8_t)(v & 1);
        prev = t;
    }
    return hand_polls(sink, id, ts, active, m);
}

/* One store's window polls, per row s of store_summary: ARRAY(WINDOW_HEAD bounds
 * WINDOW_TAIL), where bounds are those of ts_utc its summary does not already
 * guarantee. */
#define WINDOW_HEAD                                                                                \
    "ARRAY(SELECT w.ts_utc * 2 + w.active::int FROM store_status w"                                \
    " WHERE w.store_id = s.store_id"
#define WINDOW_TAIL " ORDER BY w.ts_utc)"

/* The polls query (pg_polls): lo, lo, lo, lo, now, now, lo, lo, now, first id, last id,
 * now. */
#define POLLS_SQL                                                                                  \
    "COPY (SELECT"                                                                                 \
    " CASE WHEN s.first_ts < %lld THEN (SELECT c.ts_utc * 2 + c.active::int"                       \
    "  FROM store_status c WHERE c.store_id = s.store_id AND c.ts_utc < %lld"                      \
    "  ORDER BY c.ts_utc DESC LIMIT 1) END,"                                                       \
    " CASE WHEN s.last_ts < %lld THEN NULL"                                                        \
    "  WHEN s.first_ts >= %lld AND s.last_ts <= %lld THEN " WINDOW_HEAD WINDOW_TAIL                \
    "  WHEN s.last_ts <= %lld THEN " WINDOW_HEAD " AND w.ts_utc >= %lld" WINDOW_TAIL               \
    "  ELSE " WINDOW_HEAD " AND w.ts_utc >= %lld AND w.ts_utc <= %lld" WINDOW_TAIL " END,"         \
    " s.store_id"                                                                                  \
    " FROM store_summary s WHERE s.store_id >= %s AND s.store_id <= %s"                            \
    " AND s.first_ts <= %lld ORDER BY s.store_id COLLATE \"C\") TO STDOUT (FORMAT binary)"

/* A store's packed polls being decoded: the carry-in (the latest poll before lo) goes to
 * index 0, the window's polls from index 1 on. */
struct unpack {
    int64_t *ts;
    uint8_t *active;
    size_t m;        /* next window index */
    int carry;       /* index 0 holds a carry-in */
    int64_t prev;    /* the last instant decoded: every poll after it */
    int64_t lo, now; /* the window */
};

/* Decodes len bytes of packed polls (PACK_POLLS: 8 bytes each) into u; before_lo: every
 * one must be before lo (the bucket before the window's). -1 when malformed or out of
 * order. */
static int unpack(struct unpack *u, const char *b, int32_t len, int before_lo)
{
    int32_t i;

    if (len % 8 != 0)
        return -1;
    for (i = 0; i < len; i += 8) {
        int64_t v = be64(b + i), t = poll_ts_of(v);
        if (t <= u->prev || (before_lo && t >= u->lo))
            return -1;
        u->prev = t;
        if (t < u->lo) {
            u->ts[0] = t;
            u->active[0] = (uint8_t)(v & 1);
            u->carry = 1;
        } else if (t <= u->now) {
            u->ts[u->m] = t;
            u->active[u->m++] = (uint8_t)(v & 1);
        }
    }
    return 0;
}

/*
 * One store read from status_pack: the packed polls of its last bucket before the
 * window's first (NULL: none read), the packed buckets from the window's first to its
 * last as a bytea[] (NULL: none read), its id last. As row_polls, but a bucket holds the
 * polls of its whole span: those before lo give the carry-in (the latest of them), those
 * after now are not the report's. The order is checked, not trusted (ids ascending,
 * instants strictly ascending across the row).
 */
static int row_pack(const struct bfield *f, const struct up_store_sink *sink, void *state)
{
    struct polls_state *ps = state;
    struct pg_store *p = ps->p;
    struct unpack u;
    const char *id, *e;
    int32_t i, n = 0, len, pos;
    size_t need;
    int c;

    if (!f[2].v && !f[0].v && !f[1].v) {
        ps->stale = 1; /* PACK_SQL's mark: no store rows follow */
        return 0;
    }
    c = match_id(ps, f[2].v, &id);
    if (c <= 0)
        return c;
    /* Per element its length and bytes (read below). */
    if (f[1].v && (array_header(&f[1], BYTEA_OID, &n) != 0 || (n > 0 && n > (f[1].len - 20) / 4)))
        return -1;
    need = (size_t)(f[0].v ? f[0].len : 0) / 8 + (size_t)(f[1].v ? f[1].len : 0) / 8 + 2;
    if (need > p->poll_cap && polls_room(p, need) != 0) {
        ps->nomem = need;
        return 1;
    }
    u.ts = p->poll_ts;
    u.active = p->poll_active;
    u.m = 1;
    u.carry = 0;
    u.prev = INT64_MIN;
    u.lo = ps->lo;
    u.now = ps->now;
    if (f[0].v && unpack(&u, f[0].v, f[0].len, 1) != 0)
        return -1;
    for (i = 0, pos = 20; i < n; i++) {
        if (f[1].len - pos < 4)
            return -1;
        e = f[1].v + pos;
        len = (int32_t)be32(e);
        if (len < 0 || f[1].len - pos - 4 < len || unpack(&u, e + 4, len, 0) != 0)
            return -1;
        pos += 4 + len;
    }
    if (n > 0 && pos != f[1].len)
        return -1;
    if (u.carry)
        return hand_polls(sink, id, u.ts, u.active, u.m);
    return hand_polls(sink, id, u.ts + 1, u.active + 1, u.m - 1);
}

/* The polls query from status_pack (pg_polls): lo's bucket's start, lo's bucket, lo's
 * bucket's start, lo's bucket, now's bucket, first id, last id, now. Per store, in the
 * order of store_summary's key: the last bucket before lo's (one backward index seek,
 * only for a store polled before lo's bucket: the carry-in is its last poll unless lo's
 * own bucket has one before lo) and the buckets from lo's to now's (one forward index
 * range, only for a store polled since lo's bucket began). */
#define PACK_SQL                                                                                   \
    "COPY (SELECT NULL::bytea, NULL::bytea[], NULL::text FROM status_pack_state WHERE NOT current" \
    " UNION ALL (SELECT"                                                                           \
    " CASE WHEN s.first_ts < %lld THEN (SELECT c.polls FROM status_pack c"                         \
    "  WHERE c.store_id = s.store_id AND c.bucket < %lld ORDER BY c.bucket DESC LIMIT 1) END,"     \
    " CASE WHEN s.last_ts >= %lld THEN ARRAY(SELECT w.polls FROM status_pack w"                    \
    "  WHERE w.store_id = s.store_id AND w.bucket >= %lld AND w.bucket <= %lld"                    \
    "  ORDER BY w.bucket) END,"                                                                    \
    " s.store_id"                                                                                  \
    " FROM store_summary s WHERE (SELECT bool_and(current) FROM status_pack_state)"                \
    " AND s.store_id >= %s AND s.store_id <= %s"                                                   \
    " AND s.first_ts <= %lld ORDER BY s.store_id COLLATE \"C\")) TO STDOUT (FORMAT binary)"

static enum up_code pg_polls(struct up_store *st, const char *const *ids, size_t n, int64_t lo,
                             int64_t now, const struct up_store_sink *sink, char *err,
                             size_t errlen)
{
    struct pg_store *p = cast(st);
    struct polls_state ps = {ids, n, 0, lo, now, p, 0, 0};
    char *first = NULL, *last = NULL, *sql = NULL;
    enum up_code rc = UP_OK;
    int len;

    if (n == 0)
        return UP_OK;
    if (!p->conn)
        return closed(p, "read polls", err, errlen);
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
     * A bound of the window that the store's summary already satisfies (first_ts >= lo,
     * last_ts <= now) is left out of its scan: PostgreSQL checks every key of an index
     * scan on every entry, and with two keys fewer the window costs ~15 % less server
     * time. row_polls still fails a poll outside [lo, now] (a stale summary).
     * Seeks rather than one range scan of the whole range: a range scan reads the range's
     * whole history, which in production is months for a window of a week. */
    len = snprintf(NULL, 0, "%s%s%s%s", first, first, last, last) + 2048;
    sql = malloc((size_t)len);
    if (!sql) {
        snprintf(err, errlen, "postgresql %s: out of memory", p->where);
        rc = UP_ENOMEM;
        goto out;
    }
    /* From status_pack when it is there and current in the view read; else (the query's
     * mark, ps.stale, in that same view) from store_status, the table of record. */
    if (p->pack) {
        int64_t lob = pack_bucket(lo), start = lob * ((int64_t)1 << PACK_SHIFT);
        snprintf(sql, (size_t)len, PACK_SQL, (long long)start, (long long)lob, (long long)start,
                 (long long)lob, (long long)pack_bucket(now), first, last, (long long)now);
        rc = copy_scan(p, sql, 3, row_pack, sink, &ps, "read polls", err, errlen);
    }
    if (rc == UP_OK && (!p->pack || ps.stale)) {
        snprintf(sql, (size_t)len, POLLS_SQL, (long long)lo, (long long)lo, (long long)lo,
                 (long long)lo, (long long)now, (long long)now, (long long)lo, (long long)lo,
                 (long long)now, first, last, (long long)now);
        ps.k = 0;
        rc = copy_scan(p, sql, 3, row_polls, sink, &ps, "read polls", err, errlen);
    }
    if (ps.nomem) {
        snprintf(err, errlen, "postgresql %s: read polls: out of memory for %zu polls of a store",
                 p->where, ps.nomem);
        rc = UP_ENOMEM;
    }
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
    rc = exec(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "snapshot", 0, err, errlen);
    if (rc != UP_OK)
        return rc;
    rc = query(p, "SELECT pg_export_snapshot()", "export snapshot", 0, &res, err, errlen);
    if (rc != UP_OK) {
        /* the wait failed: err says why */
    } else if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
               PQnfields(res) != 1) {
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
    rc = exec(p, sql, "import the planning rank's snapshot (is its connection gone?)", 0, err,
              errlen);
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
