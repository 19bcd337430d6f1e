/*
 * SQLite backend: the embedded default ("sqlite:PATH" or a plain path). The loader keeps
 * the file in WAL mode and bumps a load generation in each load's transaction, so that
 * the connections of one report read one commit (up_store_snapshot, docs/schema.md).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include "up_buf.h"
#include "up_deadline.h"
#include "up_idtab.h"
#include "up_source.h"
#include "up_store_int.h"

/* The load generation's table: one row (see bump_sql). */
#define META_TABLE_SQL                                                                             \
    "CREATE TABLE IF NOT EXISTS uptime_meta ("                                                     \
    " one INTEGER PRIMARY KEY CHECK (one = 1), generation INTEGER NOT NULL,"                       \
    " db_id TEXT NOT NULL);"

/*
 * The recent polls (docs/schema.md "Hourly loads"): a load whose polls of a store are all
 * newer than every poll the database holds for it (its summary's last_ts) appends them
 * here instead of to store_status. store_status is clustered by (store_id, ts): an hour
 * of polls, one per store, lands on nearly every leaf of it, and inserting it there read,
 * journalled and rewrote the whole table (4.6 s for 140 k polls into 19 M). This table
 * is small and written in key order. Invariant: a store's polls here are newer than all
 * of its polls in store_status, so the two tables never hold the same poll and a store's
 * polls are those of store_status followed by those of this table. uptime_recent counts
 * its rows; past RECENT_MAX a load first merges it into store_status, in its transaction.
 * store_polls is the logical content: both tables.
 */
#define RECENT_SQL                                                                                 \
    "CREATE TABLE IF NOT EXISTS store_status_recent ("                                             \
    " store_id TEXT NOT NULL, ts_utc INTEGER NOT NULL, active INTEGER NOT NULL,"                   \
    " PRIMARY KEY (store_id, ts_utc)) WITHOUT ROWID;"                                              \
    "CREATE TABLE IF NOT EXISTS uptime_recent ("                                                   \
    " one INTEGER PRIMARY KEY CHECK (one = 1), nrows INTEGER NOT NULL);"                           \
    "CREATE VIEW IF NOT EXISTS store_polls (store_id, ts_utc, active) AS"                          \
    " SELECT store_id, ts_utc, active FROM store_status UNION ALL"                                 \
    " SELECT store_id, ts_utc, active FROM store_status_recent;" RECENT_SHARE_SQL                  \
    "CREATE VIEW IF NOT EXISTS store_summary_all (store_id, first_ts, last_ts, npolls) AS"         \
    " SELECT store_id, MIN(f), MAX(l), SUM(n) FROM (SELECT store_id, first_ts f, last_ts l,"       \
    " npolls n FROM store_summary UNION ALL SELECT store_id, MIN(ts_utc), MAX(ts_utc), COUNT(*)"   \
    " FROM store_status_recent GROUP BY store_id) GROUP BY store_id;"

/*
 * The recent table's share of the summary (docs/schema.md "Hourly loads"): store_summary
 * holds, per store, its polls in store_status only, and the recent polls are folded in
 * when the table is merged into store_status. An hourly load then writes no summary row
 * (128 k B-tree updates, 0.22-0.34 s of the 0.8 s an hour took); it rewrites instead this
 * one row: max_ts, the greatest instant the recent table received since its last merge
 * (NULL: none), and stores, per store with recent polls, their first instant and count
 * (SHARE_* below), in id order — what a reader adds to the summary to list the stores,
 * weigh them and find now, exactly as if the summary held them. A database without this
 * table is of the version before, whose summary held the recent polls too.
 * store_summary_all (a view) is the summary of both tables. main_max is a bound on every
 * instant in store_status (NULL: not known yet): a load sends a store's polls newer than it
 * to the recent table without looking the store up in the summary. generation is the load
 * generation of this version's last commit: when uptime_meta's differs, an older
 * uptime_load (which knows none of this) wrote since, and neither the summary nor the share
 * can be trusted: readers refuse, the next load of this version repairs (repair_summary).
 */
#define SHARE_STAMP_SQL                                                                            \
    "UPDATE uptime_recent_share SET generation = (SELECT generation FROM uptime_meta"              \
    " WHERE one = 1) WHERE one = 1;"
#define RECENT_SHARE_SQL                                                                           \
    "CREATE TABLE IF NOT EXISTS uptime_recent_share ("                                             \
    " one INTEGER PRIMARY KEY CHECK (one = 1), max_ts INTEGER, stores BLOB, main_max INTEGER,"     \
    " generation INTEGER);"

/*
 * The metadata as a report reads it (docs/schema.md "store_meta"): one row per store with
 * hours or a zone, its zone and its business_hours rows packed in key order (18 bytes a
 * row: int16 day, int64 start, int64 end, big-endian, as PostgreSQL's store_meta). Rank 0
 * reads 1 M rows instead of 8 M at a million stores. business_hours and store_timezone
 * stay the tables of record; each load rewrites the rows of the stores its hours or zones
 * name. store_meta_state holds the load generation the table was last made at: a reader
 * uses store_meta only when that is the database's generation, so a load by an older
 * version (which bumps the generation but does not know store_meta) sends reports back
 * to the two tables until the next load of this version makes store_meta whole again.
 */
#define STORE_META_SQL                                                                             \
    "CREATE TABLE IF NOT EXISTS store_meta ("                                                      \
    " store_id TEXT NOT NULL PRIMARY KEY, timezone_str TEXT, hours BLOB) WITHOUT ROWID;"           \
    "CREATE TABLE IF NOT EXISTS store_meta_state ("                                                \
    " one INTEGER PRIMARY KEY CHECK (one = 1), generation INTEGER NOT NULL);"

/* Bytes of one packed hours row in store_meta.hours. */
#define META_ROW 18

/* Rows the recent table may hold before a load merges it into store_status (about a day
 * of hourly polls of 160 k stores). */
#define RECENT_MAX ((int64_t)1 << 22)

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
    " npolls INTEGER NOT NULL) WITHOUT ROWID;" RECENT_SQL META_TABLE_SQL STORE_META_SQL;

/* The load generation: one row, made by the first load of this version (db_id random, so
 * that a database deleted and loaded again is not taken for the old one) and bumped by
 * every load and prune inside its own transaction, committed with it. A reader that sees
 * one generation sees one commit. A database of an older version has no row until its
 * next load: its generation reads as 0. */
static const char bump_sql[] = META_TABLE_SQL
    "INSERT INTO uptime_meta (one, generation, db_id) VALUES (1, 1, lower(hex(randomblob(8))))"
    " ON CONFLICT (one) DO UPDATE SET generation = generation + 1;";

/* The WAL file is truncated to this when a checkpoint empties it (and to 0 when the
 * loader closes the database), so one big load does not leave its size on disk. */
#define WAL_KEEP_BYTES (64 << 20)

/* The page size of a database this backend creates (see sqlite_open). */
#define NEW_PAGE_SIZE "16384"

/* Polls go to SQLite BATCH_ROWS at a time, in one multi-row INSERT: measured three times
 * faster than one INSERT per poll (1.8 M polls: 0.98 s against 3.2 s), the per-statement
 * costs (step, cursor open and close, halt) being paid once per batch. 3 * 128
 * parameters stay below SQLite's oldest limit (999). */
#define BATCH_ROWS 128
/* Polls are held (up to this many) until the commit and written in (store_id, ts) order:
 * an export comes in time order, each poll of another store, and inserting polls as they
 * come makes every insert visit a random leaf of the B-tree (cache misses: the descent
 * led the profile), and a load bigger than the page cache sweep the whole table again
 * with every batch (19 M polls in 4 M batches: 70 s, 10 s of it in the kernel). In key
 * order every leaf is written once. 16 bytes a poll: 19 M polls hold 305 MB; the cap
 * (512 MB) only splits bigger loads into several sorted runs. */
#define CHUNK_ROWS ((size_t)1 << 25)
/* Stores one load may give polls (the summary's bookkeeping), as up_strmap's cap. */
#define MAX_STORES ((size_t)1 << 27)

/* One hours row held until the commit: its store's index in stores[], the row. */
struct held_hours {
    uint32_t store;
    int32_t day;
    int64_t start, end;
};

/* Hours rows one load may hold (24 bytes each). */
#define MAX_HOURS ((size_t)1 << 27)

/* Hours rows per multi-row INSERT (4 parameters each: 512, below SQLite's oldest limit). */
#define HOURS_BATCH 128

/* One poll waiting in the chunk: its store's index in stores[], its instant and status. */
struct chunk_row {
    uint32_t store;
    int32_t active;
    int64_t ts;
};

/* A store this load gave polls, and what the load changed of its summary row: the new
 * polls' first and last instants and count, or recount = 1 when the count is unknown
 * (a batch met polls already stored) and the row is computed from its polls at commit. */
struct load_store {
    const char *id; /* NUL-terminated, kept by the load's up_idtab (never moved) */
    uint32_t len;   /* strlen(id) */
    int64_t first, last, n;
    int recount;
    int main_only;      /* its polls go to store_status for the rest of this load */
    int64_t rfirst, rn; /* the polls it added to the recent table: first instant, count */
    int rrecount;       /* a batch of them met stored recent polls: counted from the table */
    int dropped;        /* its recent polls were moved to store_status: no share left */
};

/* The statements that write polls into one of the two tables. */
struct poll_writer {
    sqlite3_stmt *ins_one;      /* INSERT OR IGNORE of one poll */
    sqlite3_stmt *ins_many;     /* INSERT OR IGNORE of BATCH_ROWS polls */
    sqlite3_stmt *upd_inactive; /* a stored poll seen inactive becomes inactive */
    int recent;                 /* 1: store_status_recent */
};

struct sqlite_store {
    struct up_store base;
    sqlite3 *db;
    char *path;
    int load_any;  /* a poll was put in this load */
    int created;   /* the file did not exist when this connection opened it */
    int wal;       /* created: switched to WAL after its first commit */
    int committed; /* a load committed through this connection */
    int pinned;    /* reads run in one read transaction (sqlite_snapshot, sqlite_read_at) */
    int pin_lost;  /* that transaction ended, or read_at refused: no read may run */
    sqlite3_stmt *ins_hours, *ins_tz;
    sqlite3_stmt *ins_touch;               /* a store whose store_meta row this load rewrites */
    struct poll_writer to_main, to_recent; /* store_status, store_status_recent */
    sqlite3_stmt *last_of;     /* the summary from a store on, in id order (summary_last) */
    int last_at;               /* last_of is on a row (1), to be sought (0), done (-1) */
    sqlite3_stmt *move_one[2]; /* a store's recent polls into store_status, then gone */
    int64_t recent_rows;       /* rows of store_status_recent (uptime_recent.nrows) */
    int64_t recent_max;        /* uptime_recent_share.max_ts, when recent_any */
    int recent_any;            /* the recent table received a poll since its last merge */
    int64_t main_max;          /* uptime_recent_share.main_max, when main_known */
    int main_known;
    int share_stale;              /* an older uptime_load wrote since (SHARE_STAMP_SQL) */
    struct up_buf share;          /* uptime_recent_share.stores as the load began (bytes) */
    int all_main;                 /* every poll of this load goes to store_status */
    int meta_current;             /* store_meta is of the generation the load began at */
    struct up_buf stores;         /* struct load_store, in order of first appearance */
    struct up_idtab ids;          /* the stores' ids: index i is stores[i] */
    uint32_t *rank;               /* rank[i]: store i's place in byte-wise id order */
    size_t nranked;               /* stores ranked so far (rank is valid below it) */
    struct up_buf chunk;          /* struct chunk_row: polls not yet written */
    struct up_buf hours;          /* struct held_hours: this load's hours rows */
    sqlite3_stmt *ins_hours_many; /* HOURS_BATCH rows into business_hours */
    size_t *count;                /* counting sort: per rank, twice (next and end) */
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

/* A statement the run's --timeout interrupted (past_deadline): the deadline's error. */
static enum up_code timed_out(struct sqlite_store *s, const char *what, char *err, size_t errlen)
{
    char where[600];

    snprintf(where, sizeof where, "sqlite %s: %s", s->path, what);
    return up_deadline_error(err, errlen, where);
}

static enum up_code fail(struct sqlite_store *s, const char *what, char *err, size_t errlen)
{
    if (sqlite3_errcode(s->db) == SQLITE_INTERRUPT && up_deadline_expired())
        return timed_out(s, what, err, errlen);
    snprintf(err, errlen, "sqlite %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
    return UP_EDB;
}

static enum up_code exec(struct sqlite_store *s, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    int r = sqlite3_exec(s->db, sql, NULL, NULL, &msg);

    if (r != SQLITE_OK) {
        if (r == SQLITE_INTERRUPT && up_deadline_expired()) {
            sqlite3_free(msg);
            return timed_out(s, "a statement", err, errlen);
        }
        snprintf(err, errlen, "sqlite %s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return UP_EDB;
    }
    return UP_OK;
}

/* SQLite's virtual-machine steps between two looks at the deadline (a look is one
 * clock_gettime: nothing beside a step's cost). */
#define PROGRESS_STEPS 10000

/*
 * The run's --timeout inside a statement: up_store checks it before each call, and a
 * statement that outlasts it (a long scan, a load's summary update, a slow disk) is
 * interrupted here (SQLITE_INTERRUPT; an interrupted write rolls the load back) and fails
 * with the deadline's message. Off around COMMIT and ROLLBACK: those run to their end.
 */
static int past_deadline(void *ctx)
{
    (void)ctx;
    return up_deadline_expired();
}

/* The deadline's watch on (on = 1) or off for this connection's statements. */
static void watch_deadline(struct sqlite_store *s, int on)
{
    sqlite3_progress_handler(s->db, on ? PROGRESS_STEPS : 0, on ? past_deadline : NULL, s);
}

/* COMMIT or ROLLBACK (sql), out of the deadline's reach: once begun, it runs to its end. */
static enum up_code end_transaction(struct sqlite_store *s, const char *sql, char *err,
                                    size_t errlen)
{
    enum up_code rc;

    watch_deadline(s, 0);
    rc = exec(s, sql, err, errlen);
    watch_deadline(s, 1);
    return rc;
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

/* Forgets this load's stores and polls not yet written. */
static void load_reset(struct sqlite_store *s)
{
    up_idtab_free(&s->ids);
    up_buf_free(&s->stores);
    up_buf_free(&s->chunk);
    up_buf_free(&s->hours);
    free(s->rank);
    free(s->count);
    s->rank = NULL;
    s->count = NULL;
    s->nranked = 0;
}

static void writer_free(struct poll_writer *w)
{
    sqlite3_finalize(w->ins_one);
    sqlite3_finalize(w->ins_many);
    sqlite3_finalize(w->upd_inactive);
}

static void sqlite_close(struct up_store *st)
{
    struct sqlite_store *s = cast(st);
    load_reset(s);
    up_buf_free(&s->share);
    writer_free(&s->to_main);
    writer_free(&s->to_recent);
    sqlite3_finalize(s->last_of);
    sqlite3_finalize(s->move_one[0]);
    sqlite3_finalize(s->move_one[1]);
    sqlite3_finalize(s->ins_hours);
    sqlite3_finalize(s->ins_hours_many);
    sqlite3_finalize(s->ins_tz);
    sqlite3_finalize(s->ins_touch);
    sqlite3_close(s->db);
    /* A load that failed into a database it created leaves nothing behind: neither the
     * file nor its journal, WAL or shared-memory index (kept by SQLITE_FCNTL_PERSIST_WAL). */
    if (s->created && !s->committed && s->path) {
        static const char *const side[] = {"-journal", "-wal", "-shm"};
        char name[4096];
        size_t i;

        unlink(s->path);
        for (i = 0; i < sizeof side / sizeof side[0]; i++)
            if ((size_t)snprintf(name, sizeof name, "%s%s", s->path, side[i]) < sizeof name)
                unlink(name);
    }
    free(s->path);
    free(s);
}

/*
 * A connection that writes puts the file in WAL mode (kept in the file; a database of an
 * older version, in rollback mode, is switched by its next load): readers then keep their
 * view while a load commits, and a load never waits for a report. The WAL and its
 * shared-memory index are kept when the loader closes (emptied, PERSIST_WAL): a reader
 * that cannot write the folder can open a WAL database only when both files exist.
 */
static enum up_code use_wal(struct sqlite_store *s, char *err, size_t errlen)
{
    sqlite3_stmt *q = NULL;
    const char *mode;
    int persist = 1, r;
    enum up_code rc;

    rc = prepare(s, "PRAGMA journal_mode = WAL", &q, err, errlen);
    if (rc != UP_OK)
        return rc;
    r = sqlite3_step(q);
    mode = r == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
    if (r != SQLITE_ROW) {
        snprintf(err, errlen,
                 "sqlite %s: cannot switch to WAL journal mode: %s (the first load of a database "
                 "made by an older version needs it alone for a moment: is a report reading it?)",
                 s->path, sqlite3_errmsg(s->db));
        rc = UP_EDB;
    } else if (!mode || strcmp(mode, "wal") != 0) {
        snprintf(err, errlen, "sqlite %s: cannot switch to WAL journal mode (it stays '%s')",
                 s->path, mode ? mode : "?");
        rc = UP_EDB;
    }
    sqlite3_finalize(q);
    if (rc != UP_OK)
        return rc;
    if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite %s: cannot keep the WAL file", s->path);
        return UP_EDB;
    }
    return UP_OK;
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
    up_buf_init(&s->stores, sizeof(struct load_store), MAX_STORES);
    up_idtab_init(&s->ids, MAX_STORES, SIZE_MAX);
    up_buf_init(&s->chunk, sizeof(struct chunk_row), CHUNK_ROWS);
    up_buf_init(&s->hours, sizeof(struct held_hours), MAX_HOURS);
    up_buf_init(&s->share, 1, (size_t)INT32_MAX);
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
    watch_deadline(s, 1);
    if (mode == UP_STORE_WRITE) {
        /* A new database gets 16 KiB pages (SQLite's default is 4 KiB): a report reads
         * every poll of the week in key order, and with four times fewer pages it makes
         * four times fewer reads of the file and page-cache lookups (bench/README.md,
         * "Fifth round"). It must be set before the first write, which the switch to WAL
         * is; on an existing database the pragma changes nothing. Before cache_size: a
         * cache size in KiB is turned into pages at the page size of the moment (set
         * after, 256 MiB became 1 GiB of 16 KiB pages). */
        rc = exec(s, "PRAGMA page_size = " NEW_PAGE_SIZE ";", err, errlen);
        /* A load is one transaction: with the default 2 MiB cache SQLite spills dirty
         * pages through the journal long before the commit. 256 MiB keeps a few million
         * polls' index pages in memory. */
        if (rc == UP_OK)
            rc = exec(s, "PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;", err, errlen);
        /* A database this load creates stays in rollback mode until its first commit
         * (sqlite_commit): a new file's pages are written once, where WAL would write them
         * twice (the log, then the checkpoint: 5.9 GB of log for a million stores). Its
         * rollback journal holds only what the file had before, nothing; a load killed on
         * the way leaves a hot journal the next opening rolls back to an empty file. */
        if (rc == UP_OK && !s->created)
            rc = use_wal(s, err, errlen);
        if (rc == UP_OK) {
            char sql[64];
            snprintf(sql, sizeof sql, "PRAGMA journal_size_limit = %d;", WAL_KEEP_BYTES);
            rc = exec(s, sql, err, errlen);
        }
        if (rc != UP_OK)
            goto fail;
    } else {
        /* Fail now, with a clear message, if the file is not an uptime database. */
        sqlite3_stmt *probe = NULL;
        rc = prepare(
            s, "SELECT 1 FROM store_status, business_hours, store_timezone, store_summary LIMIT 0",
            &probe, err, errlen);
        sqlite3_finalize(probe);
        if (rc != UP_OK) {
            int code = sqlite3_errcode(s->db);
            /* A WAL database needs its -shm and -wal files, which a reader creates when
             * they are missing: not in a folder it cannot write. */
            if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN)
                snprintf(err, errlen,
                         "sqlite %s: cannot read it: %s (a WAL database in a folder this user "
                         "cannot write is readable only with the -wal and -shm files uptime_load "
                         "leaves beside it: were they removed? the next load puts them back)",
                         s->path, sqlite3_errmsg(s->db));
            goto fail;
        }
    }
    *out = &s->base;
    return UP_OK;
fail:
    sqlite_close(&s->base);
    return rc;
}

/* Prepares the statements writing polls into table (once per connection). */
static enum up_code prepare_writer(struct sqlite_store *s, struct poll_writer *w, const char *table,
                                   char *err, size_t errlen)
{
    char sql[128 + BATCH_ROWS * 12];
    enum up_code rc = UP_OK;
    size_t n;
    int k;

    w->recent = strcmp(table, "store_status_recent") == 0;
    if (!w->ins_one) {
        snprintf(sql, sizeof sql,
                 "INSERT OR IGNORE INTO %s (store_id, ts_utc, active) VALUES (?1, ?2, ?3)", table);
        rc = prepare(s, sql, &w->ins_one, err, errlen);
    }
    if (rc == UP_OK && !w->upd_inactive) {
        snprintf(sql, sizeof sql,
                 "UPDATE %s SET active = 0 WHERE store_id = ?1 AND ts_utc = ?2 AND active <> 0",
                 table);
        rc = prepare(s, sql, &w->upd_inactive, err, errlen);
    }
    if (rc == UP_OK && !w->ins_many) {
        n = (size_t)snprintf(sql, sizeof sql,
                             "INSERT OR IGNORE INTO %s (store_id, ts_utc, active) VALUES (?,?,?)",
                             table);
        for (k = 1; k < BATCH_ROWS; k++)
            n += (size_t)snprintf(sql + n, sizeof sql - n, ",(?,?,?)");
        rc = prepare(s, sql, &w->ins_many, err, errlen);
    }
    return rc;
}

/* Whether the database has every table names lists (NULL-terminated), read inside the
 * caller's transaction. */
static enum up_code has_tables(struct sqlite_store *s, const char *const *names, int *has,
                               char *err, size_t errlen)
{
    sqlite3_stmt *q = NULL;
    enum up_code rc;

    *has = 1;
    rc = prepare(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", &q,
                 err, errlen);
    for (; rc == UP_OK && *has && *names; names++) {
        sqlite3_bind_text(q, 1, *names, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW)
            *has = sqlite3_column_int(q, 0) > 0;
        else
            rc = fail(s, "read the schema", err, errlen);
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    if (rc != UP_OK)
        *has = 0;
    return rc;
}

/* Whether the database has the table name. */
static enum up_code has_table(struct sqlite_store *s, const char *name, int *has, char *err,
                              size_t errlen)
{
    const char *names[] = {name, NULL};

    return has_tables(s, names, has, err, errlen);
}

/* Whether the database has the recent table (a database of an older version has not,
 * until its next load). */
static enum up_code has_recent(struct sqlite_store *s, int *has, char *err, size_t errlen)
{
    return has_table(s, "store_status_recent", has, err, errlen);
}

/* s->recent_rows from uptime_recent (0 without the table or its row). */
static enum up_code read_recent_rows(struct sqlite_store *s, char *err, size_t errlen)
{
    sqlite3_stmt *q = NULL;
    enum up_code rc;
    int has, r;

    s->recent_rows = 0;
    rc = has_recent(s, &has, err, errlen);
    if (rc != UP_OK || !has)
        return rc;
    rc = prepare(s, "SELECT nrows FROM uptime_recent WHERE one = 1", &q, err, errlen);
    if (rc != UP_OK)
        return rc;
    r = sqlite3_step(q);
    if (r == SQLITE_ROW)
        s->recent_rows = sqlite3_column_int64(q, 0);
    else if (r != SQLITE_DONE)
        rc = fail(s, "read the recent polls' count", err, errlen);
    sqlite3_finalize(q);
    return rc;
}

/* One entry of uptime_recent_share.stores: a store's id (not NUL-terminated), its recent
 * polls' first instant and count. Encoded as: varint id length, the id, 8 bytes of first
 * (big-endian), varint count (varint: 7 bits a byte, low first, high bit = more). */
struct share_entry {
    const char *id;
    size_t len;
    int64_t first, n;
};

/* Writes v as a varint at p (up to 10 bytes); returns the bytes written. */
static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t k = 0;

    do {
        p[k++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return k;
}

static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    unsigned shift = 0;

    *v = 0;
    while (*p < end && shift < 64) {
        unsigned char c = *(*p)++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return 0;
        shift += 7;
    }
    return -1;
}

/* Appends one entry; returns 0, or -1 out of memory. */
static int share_put(struct up_buf *b, const char *id, size_t len, int64_t first, int64_t n)
{
    unsigned char *p;
    int i;

    if (len > SIZE_MAX - 28 || up_buf_reserve(b, len + 28) != 0)
        return -1;
    p = (unsigned char *)b->p + b->n;
    p += put_varint(p, len);
    memcpy(p, id, len);
    p += len;
    for (i = 7; i >= 0; i--, first = (int64_t)((uint64_t)first >> 8))
        p[i] = (unsigned char)((uint64_t)first & 0xff);
    p += 8;
    p += put_varint(p, (uint64_t)n);
    b->n = (size_t)(p - (unsigned char *)b->p);
    return 0;
}

/* Reads the entry at *p (< end) and moves past it; returns 0, or -1 when it is damaged. */
static int share_next(const unsigned char **p, const unsigned char *end, struct share_entry *e)
{
    uint64_t len, n, f = 0;
    int i;

    if (get_varint(p, end, &len) != 0 || len == 0 || len > (uint64_t)(end - *p) ||
        (uint64_t)(end - *p) - len < 8)
        return -1;
    e->id = (const char *)*p;
    e->len = (size_t)len;
    *p += len;
    for (i = 0; i < 8; i++)
        f = f << 8 | *(*p)++;
    e->first = (int64_t)f;
    if (get_varint(p, end, &n) != 0 || n == 0 || n > INT64_MAX)
        return -1;
    e->n = (int64_t)n;
    return 0;
}

/* Byte-wise order of an entry's id and id[0..n) (as strcmp). */
static int share_cmp(const struct share_entry *e, const char *id, size_t n)
{
    int c = memcmp(e->id, id, e->len < n ? e->len : n);
    return c ? c : (e->len > n) - (e->len < n);
}

/* s->recent_max, s->recent_any and (want_stores) s->share from uptime_recent_share (none
 * without the table). */
static enum up_code read_recent_share(struct sqlite_store *s, int want_stores, char *err,
                                      size_t errlen)
{
    sqlite3_stmt *q = NULL;
    enum up_code rc;
    int has, r;

    s->recent_any = 0;
    s->recent_max = 0;
    s->main_known = 0;
    s->share_stale = 0;
    s->share.n = 0;
    rc = has_table(s, "uptime_recent_share", &has, err, errlen);
    if (rc != UP_OK || !has)
        return rc;
    /* Without uptime_meta (not a database this version made) there is nothing to compare. */
    rc = has_table(s, "uptime_meta", &has, err, errlen);
    if (rc != UP_OK)
        return rc;
    rc = prepare(s,
                 !has ? "SELECT max_ts, main_max, 0, stores FROM uptime_recent_share WHERE one = 1"
                      : "SELECT max_ts, main_max, generation IS NOT (SELECT generation FROM"
                        " uptime_meta WHERE one = 1), stores FROM uptime_recent_share"
                        " WHERE one = 1",
                 &q, err, errlen);
    if (rc != UP_OK)
        return rc;
    r = sqlite3_step(q);
    if (r == SQLITE_ROW)
        s->share_stale = sqlite3_column_int(q, 2);
    if (r == SQLITE_ROW && sqlite3_column_type(q, 1) != SQLITE_NULL) {
        s->main_known = 1;
        s->main_max = sqlite3_column_int64(q, 1);
    }
    if (r == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
        s->recent_any = 1;
        s->recent_max = sqlite3_column_int64(q, 0);
        if (want_stores) { /* (the blob is read only when asked for) */
            const void *b = sqlite3_column_blob(q, 3);
            size_t n = (size_t)sqlite3_column_bytes(q, 3);
            if (n && up_buf_append(&s->share, b, n) != 0) {
                snprintf(err, errlen, "sqlite %s: out of memory", s->path);
                rc = UP_ENOMEM;
            }
        }
    } else if (r != SQLITE_ROW && r != SQLITE_DONE) {
        rc = fail(s, "read the recent polls' share of the summary", err, errlen);
    }
    sqlite3_finalize(q);
    return rc;
}

/*
 * Merges the recent table into store_status (in key order, every poll new there: the
 * invariant) and empties it. fold: the summary does not hold the recent polls yet
 * (uptime_recent_share exists): their count and last instant are added to their stores'
 * rows first, one pass over the recent table in key order; 0 for a database of the
 * layout before, whose summary holds them already.
 */
static enum up_code compact_recent(struct sqlite_store *s, int fold, char *err, size_t errlen)
{
    enum up_code rc = UP_OK;

    if (s->recent_rows == 0 && !s->recent_any)
        return UP_OK;
    if (fold)
        rc = exec(
            s,
            "INSERT INTO store_summary (store_id, first_ts, last_ts, npolls)"
            " SELECT store_id, MIN(ts_utc), MAX(ts_utc), COUNT(*) FROM store_status_recent"
            " WHERE true GROUP BY store_id ORDER BY store_id"
            " ON CONFLICT (store_id) DO UPDATE SET first_ts = MIN(first_ts, excluded.first_ts),"
            " last_ts = MAX(last_ts, excluded.last_ts), npolls = npolls + excluded.npolls;"
            "UPDATE uptime_recent_share SET main_max = MAX(main_max, COALESCE(max_ts, main_max)),"
            " max_ts = NULL, stores = NULL WHERE one = 1;",
            err, errlen);
    if (rc != UP_OK)
        return rc;
    rc = exec(s,
              "INSERT INTO store_status (store_id, ts_utc, active)"
              " SELECT store_id, ts_utc, active FROM store_status_recent ORDER BY store_id, ts_utc;"
              "DELETE FROM store_status_recent;"
              "INSERT OR REPLACE INTO uptime_recent (one, nrows) VALUES (1, 0);",
              err, errlen);
    if (rc == UP_OK) {
        size_t i;
        if (s->recent_any && s->recent_max > s->main_max)
            s->main_max = s->recent_max;
        s->recent_rows = 0;
        s->recent_any = 0;
        s->share.n = 0;
        /* What this load added to the recent table is merged too. */
        for (i = 0; i < s->stores.n; i++) {
            struct load_store *e = UP_BUF_AT(&s->stores, struct load_store, i);
            e->rn = 0;
            e->rrecount = 0;
        }
    }
    return rc;
}

static enum up_code step_done(struct sqlite_store *s, sqlite3_stmt *stmt, char *err, size_t errlen)
{
    int r = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (r != SQLITE_DONE)
        return fail(s, "insert", err, errlen);
    return UP_OK;
}

/*
 * An older uptime_load committed after this version (share_stale): it counted its recent
 * polls in the summary and may have moved some to store_status without main_max, so the
 * layout's rules may not hold. Made right again from the polls themselves: the recent
 * table merged into store_status (a poll in both merges, inactive wins), the summary
 * rebuilt from store_status, the share emptied, main_max from the summary. Seconds at 19 M
 * polls, once.
 */
static enum up_code repair_summary(struct sqlite_store *s, char *err, size_t errlen)
{
    sqlite3_stmt *q = NULL, *upd = NULL;
    enum up_code rc;
    int r = SQLITE_DONE;

    rc = prepare(s, "SELECT store_id, ts_utc FROM store_status_recent WHERE active = 0", &q, err,
                 errlen);
    if (rc == UP_OK)
        rc = prepare(s,
                     "UPDATE store_status SET active = 0 WHERE store_id = ?1 AND ts_utc = ?2"
                     " AND active <> 0",
                     &upd, err, errlen);
    while (rc == UP_OK && (r = sqlite3_step(q)) == SQLITE_ROW) {
        sqlite3_bind_value(upd, 1, sqlite3_column_value(q, 0));
        sqlite3_bind_int64(upd, 2, sqlite3_column_int64(q, 1));
        rc = step_done(s, upd, err, errlen);
    }
    if (rc == UP_OK && r != SQLITE_DONE)
        rc = fail(s, "read the recent polls", err, errlen);
    sqlite3_finalize(q);
    sqlite3_finalize(upd);
    if (rc == UP_OK)
        rc = exec(s,
                  "INSERT OR IGNORE INTO store_status (store_id, ts_utc, active)"
                  " SELECT store_id, ts_utc, active FROM store_status_recent"
                  " ORDER BY store_id, ts_utc;"
                  "DELETE FROM store_status_recent;"
                  "INSERT OR REPLACE INTO uptime_recent (one, nrows) VALUES (1, 0);"
                  "DELETE FROM store_summary;"
                  "INSERT INTO store_summary (store_id, first_ts, last_ts, npolls)"
                  " SELECT store_id, MIN(ts_utc), MAX(ts_utc), COUNT(*) FROM store_status"
                  " GROUP BY store_id;"
                  "UPDATE uptime_recent_share SET max_ts = NULL, stores = NULL,"
                  " main_max = (SELECT MAX(last_ts) FROM store_summary) WHERE one = 1;",
                  err, errlen);
    if (rc == UP_OK) {
        s->recent_rows = 0;
        s->recent_any = 0;
        s->share.n = 0;
        s->share_stale = 0;
        s->main_known = 0; /* read again below */
    }
    return rc;
}

static enum up_code sqlite_begin(struct up_store *st, char *err, size_t errlen)
{
    struct sqlite_store *s = cast(st);
    enum up_code rc;
    int folded = 0;

    s->load_any = 0;
    /* The schema is created inside the load's transaction: a failed first load leaves no
     * empty database behind. */
    rc = exec(s, "BEGIN IMMEDIATE;", err, errlen);
    /* Was the recent table's share kept out of the summary (uptime_recent_share)? Asked
     * before the schema makes the table. */
    if (rc == UP_OK)
        rc = has_table(s, "uptime_recent_share", &folded, err, errlen);
    if (rc == UP_OK)
        rc = exec(s, schema_sql, err, errlen);
    if (rc != UP_OK)
        return rc;
    rc = exec(s,
              "CREATE TEMP TABLE IF NOT EXISTS meta_touched (store_id TEXT NOT NULL PRIMARY KEY)"
              " WITHOUT ROWID;"
              "DELETE FROM meta_touched;",
              err, errlen);
    if (rc != UP_OK)
        return rc;
    load_reset(s);
    s->all_main = 0;
    rc = prepare_writer(s, &s->to_main, "store_status", err, errlen);
    if (rc == UP_OK)
        rc = prepare_writer(s, &s->to_recent, "store_status_recent", err, errlen);
    if (rc == UP_OK && !s->last_of)
        rc = prepare(s,
                     "SELECT store_id, last_ts FROM store_summary WHERE store_id >= ?1"
                     " ORDER BY store_id",
                     &s->last_of, err, errlen);
    if (rc == UP_OK && !s->move_one[0])
        rc =
            prepare(s,
                    "INSERT INTO store_status (store_id, ts_utc, active)"
                    " SELECT store_id, ts_utc, active FROM store_status_recent WHERE store_id = ?1",
                    &s->move_one[0], err, errlen);
    if (rc == UP_OK && !s->move_one[1])
        rc = prepare(s, "DELETE FROM store_status_recent WHERE store_id = ?1", &s->move_one[1], err,
                     errlen);
    if (rc == UP_OK)
        rc = read_recent_rows(s, err, errlen);
    /* A database of the layout before: its recent polls are in the summary already; merged
     * now, once, the summary then is that of store_status as this layout wants. */
    if (rc == UP_OK && !folded)
        rc = compact_recent(s, 0, err, errlen);
    if (rc == UP_OK)
        rc = read_recent_share(s, 1, err, errlen);
    if (rc == UP_OK && s->share_stale) {
        rc = repair_summary(s, err, errlen);
        if (rc == UP_OK)
            rc = read_recent_share(s, 1, err, errlen);
    }
    if (rc != UP_OK)
        return rc;
    /* A first load (no polls stored yet) goes to store_status as a whole. */
    if (rc == UP_OK) {
        sqlite3_stmt *q = NULL;
        rc = prepare(s, "SELECT EXISTS (SELECT 1 FROM store_summary)", &q, err, errlen);
        if (rc == UP_OK) {
            if (sqlite3_step(q) != SQLITE_ROW)
                rc = fail(s, "read the summary", err, errlen);
            else
                s->all_main = sqlite3_column_int(q, 0) == 0;
            /* No polls: every one this load writes raises main_max from nothing. */
            if (s->all_main) {
                s->main_known = 1;
                s->main_max = INT64_MIN;
            }
        }
        sqlite3_finalize(q);
        if (rc != UP_OK)
            return rc;
    }
    /* Is store_meta current? If not, the commit makes it whole (update_meta) and the
     * stores this load names need not be noted in meta_touched. */
    {
        sqlite3_stmt *q = NULL;
        rc = prepare(s,
                     "SELECT EXISTS (SELECT 1 FROM store_meta_state m, uptime_meta u"
                     " WHERE m.one = 1 AND u.one = 1 AND m.generation = u.generation)",
                     &q, err, errlen);
        if (rc == UP_OK && sqlite3_step(q) != SQLITE_ROW)
            rc = fail(s, "read store_meta_state", err, errlen);
        if (rc == UP_OK)
            s->meta_current = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
        if (rc != UP_OK)
            return rc;
    }
    if (!s->ins_hours &&
        (rc = prepare(s, "INSERT OR IGNORE INTO business_hours VALUES (?1, ?2, ?3, ?4)",
                      &s->ins_hours, err, errlen)) != UP_OK)
        return rc;
    if (!s->ins_hours_many) {
        char sql[96 + HOURS_BATCH * 12];
        size_t n = (size_t)snprintf(sql, sizeof sql,
                                    "INSERT OR IGNORE INTO business_hours VALUES (?,?,?,?)");
        int k;
        for (k = 1; k < HOURS_BATCH; k++)
            n += (size_t)snprintf(sql + n, sizeof sql - n, ",(?,?,?,?)");
        rc = prepare(s, sql, &s->ins_hours_many, err, errlen);
        if (rc != UP_OK)
            return rc;
    }
    if (!s->ins_tz &&
        (rc = prepare(s,
                      "INSERT INTO store_timezone (store_id, timezone_str) VALUES (?1, ?2)"
                      " ON CONFLICT (store_id) DO UPDATE SET timezone_str = excluded.timezone_str",
                      &s->ins_tz, err, errlen)) != UP_OK)
        return rc;
    if (!s->ins_touch &&
        (rc = prepare(s, "INSERT OR IGNORE INTO meta_touched (store_id) VALUES (?1)", &s->ins_touch,
                      err, errlen)) != UP_OK)
        return rc;
    return UP_OK;
}

/* The index in stores[] of store id, added when new. Returns 0, or -1 when memory runs
 * out or MAX_STORES is reached. */
static int store_index(struct sqlite_store *s, const char *id, uint32_t *out)
{
    const struct up_idtab_ent *t;
    struct load_store *e;
    int added;

    /* Room first: the two lists grow together, index for index. */
    if (up_buf_reserve(&s->stores, 1) != 0 || (added = up_idtab_intern(&s->ids, id, out)) < 0)
        return -1;
    if (added) {
        t = UP_IDTAB_AT(&s->ids, *out);
        e = up_buf_push(&s->stores);
        e->id = t->id;
        e->len = t->len;
        e->first = INT64_MAX;
        e->last = INT64_MIN;
    }
    return 0;
}

/* A store to rank: the first 8 bytes of its id as a big-endian number (0-padded: a
 * shorter id sorts first, as with strcmp), its id. */
struct rank_key {
    uint64_t key;
    const struct load_store *e;
};

/* Orders stores by id, byte-wise: the prefix decides most pairs without reading the id
 * (128 k ids: the qsort of pointers with strcmp missed the cache on every compare). */
static int cmp_store(const void *a, const void *b)
{
    const struct rank_key *x = a, *y = b;

    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->e->len <= 8 && y->e->len <= 8 ? 0 : strcmp(x->e->id + 8, y->e->id + 8);
}

/* Gives every store its rank in id order; only when stores came since the last time
 * (an export's first hour names nearly every store, so this runs once or twice). */
static int rank_stores(struct sqlite_store *s)
{
    const struct load_store *base = s->stores.p;
    struct rank_key *order;
    size_t n = s->stores.n, i, k;
    uint32_t *rank;

    if (s->nranked == n)
        return 0;
    order = malloc(n * sizeof *order);
    rank = malloc(n * sizeof *rank);
    if (!order || !rank) {
        free(order);
        free(rank);
        return -1;
    }
    for (i = 0; i < n; i++) {
        const unsigned char *id = (const unsigned char *)base[i].id;
        uint64_t key = 0;
        for (k = 0; k < 8; k++)
            key = key << 8 | (k < base[i].len ? id[k] : 0);
        order[i].key = key;
        order[i].e = base + i;
    }
    qsort(order, n, sizeof *order, cmp_store);
    for (i = 0; i < n; i++)
        rank[order[i].e - base] = (uint32_t)i;
    free(order);
    free(s->rank);
    free(s->count);
    s->rank = rank;
    s->count = NULL;
    s->nranked = n;
    return 0;
}

/* A poll the table already held (INSERT OR IGNORE skipped it): inactive wins. */
static enum up_code merge_inactive(struct sqlite_store *s, const struct poll_writer *w,
                                   const char *id, int64_t ts, char *err, size_t errlen)
{
    sqlite3_bind_text(w->upd_inactive, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(w->upd_inactive, 2, ts);
    return step_done(s, w->upd_inactive, err, errlen);
}

/* Counts a poll that is new in the table in its store's summary change. */
static void count_new(struct load_store *e, int64_t ts)
{
    if (ts < e->first)
        e->first = ts;
    if (ts > e->last)
        e->last = ts;
    e->n++;
}

/* Counts a poll that is new in the recent table in its store's share. */
static void count_recent(struct load_store *e, int64_t ts)
{
    if (e->rn == 0 || ts < e->rfirst)
        e->rfirst = ts;
    e->rn++;
}

/*
 * Writes rows[0..n) (n <= BATCH_ROWS). A full batch goes as one INSERT OR IGNORE; when it
 * inserted every row (the usual case: new polls) each is counted in its store's summary.
 * When some were already stored (a reload, or a duplicate inside the batch), which ones
 * is unknown: their stores are recounted at commit, and every inactive poll of the batch
 * is applied to the stored row (inactive wins; a no-op for a row the batch just inserted
 * inactive). A partial batch goes row by row, each one's outcome known. Polls written to
 * the recent table are counted in the store's share (RECENT_SHARE_SQL), not its summary.
 */
static enum up_code write_batch(struct sqlite_store *s, const struct poll_writer *w,
                                const struct chunk_row *rows, size_t n, char *err, size_t errlen)
{
    struct load_store *st = s->stores.p;
    enum up_code rc = UP_OK;
    size_t i;

    if (n == BATCH_ROWS) {
        int all_new;

        for (i = 0; i < BATCH_ROWS; i++) {
            sqlite3_bind_text(w->ins_many, 3 * (int)i + 1, st[rows[i].store].id,
                              (int)st[rows[i].store].len, SQLITE_STATIC);
            sqlite3_bind_int64(w->ins_many, 3 * (int)i + 2, rows[i].ts);
            sqlite3_bind_int(w->ins_many, 3 * (int)i + 3, rows[i].active);
        }
        rc = step_done(s, w->ins_many, err, errlen);
        if (rc != UP_OK)
            return rc;
        if (w->recent)
            s->recent_rows += sqlite3_changes(s->db);
        all_new = sqlite3_changes(s->db) == BATCH_ROWS;
        for (i = 0; i < BATCH_ROWS && rc == UP_OK; i++) {
            struct load_store *e = &st[rows[i].store];
            if (all_new) {
                if (w->recent)
                    count_recent(e, rows[i].ts);
                else
                    count_new(e, rows[i].ts);
                continue;
            }
            if (w->recent)
                e->rrecount = 1;
            else
                e->recount = 1;
            if (!rows[i].active)
                rc = merge_inactive(s, w, e->id, rows[i].ts, err, errlen);
        }
        return rc;
    }
    for (i = 0; i < n && rc == UP_OK; i++) {
        struct load_store *e = &st[rows[i].store];
        sqlite3_bind_text(w->ins_one, 1, e->id, (int)e->len, SQLITE_STATIC);
        sqlite3_bind_int64(w->ins_one, 2, rows[i].ts);
        sqlite3_bind_int(w->ins_one, 3, rows[i].active);
        rc = step_done(s, w->ins_one, err, errlen);
        if (rc != UP_OK)
            break;
        if (sqlite3_changes(s->db) == 1) {
            if (w->recent) {
                s->recent_rows++;
                count_recent(e, rows[i].ts);
            } else {
                count_new(e, rows[i].ts);
            }
        } else if (!rows[i].active) {
            rc = merge_inactive(s, w, e->id, rows[i].ts, err, errlen);
        }
    }
    return rc;
}

/* Writes rows[0..n) through w, BATCH_ROWS at a time. */
static enum up_code write_rows(struct sqlite_store *s, const struct poll_writer *w,
                               const struct chunk_row *rows, size_t n, char *err, size_t errlen)
{
    enum up_code rc = UP_OK;
    size_t i;

    for (i = 0; i < n && rc == UP_OK; i += BATCH_ROWS)
        rc = write_batch(s, w, rows + i, n - i < BATCH_ROWS ? n - i : BATCH_ROWS, err, errlen);
    return rc;
}

/* Moves store e's recent polls into store_status (they are newer than its polls there),
 * so that a poll of this load that may equal a stored one meets it in one table. */
static enum up_code move_store(struct sqlite_store *s, struct load_store *e, char *err,
                               size_t errlen)
{
    enum up_code rc;

    e->main_only = 1;
    if (s->recent_rows == 0)
        return UP_OK;
    sqlite3_bind_text(s->move_one[0], 1, e->id, (int)e->len, SQLITE_STATIC);
    rc = step_done(s, s->move_one[0], err, errlen);
    if (rc != UP_OK)
        return rc;
    if (sqlite3_changes(s->db) == 0)
        return UP_OK;
    /* The summary holds none of them: the store's row is made again from store_status,
     * and it has no share left. */
    e->recount = 1;
    e->dropped = 1;
    sqlite3_bind_text(s->move_one[1], 1, e->id, (int)e->len, SQLITE_STATIC);
    rc = step_done(s, s->move_one[1], err, errlen);
    if (rc == UP_OK)
        s->recent_rows -= sqlite3_changes(s->db);
    return rc;
}

/* Steps of the summary cursor before summary_last seeks instead. */
#define SUMMARY_SKIP 32

/*
 * The summary's last_ts of store id (found = 0: the store has no polls). Called with ids
 * in ascending order, it walks the summary with one cursor, stepping over the stores the
 * load did not touch and seeking only past a gap of SUMMARY_SKIP rows: an hour that names
 * most stores reads the summary in order (a point lookup per store took twice as long),
 * a load of a few stores seeks each.
 */
static enum up_code summary_last(struct sqlite_store *s, const char *id, int *found, int64_t *last,
                                 char *err, size_t errlen)
{
    int k, c = 1, r;

    *found = 0;
    if (s->last_at < 0)
        return UP_OK; /* the summary ended before an earlier id: none after it */
    for (k = 0; s->last_at && k < SUMMARY_SKIP; k++) {
        c = strcmp((const char *)sqlite3_column_text(s->last_of, 0), id);
        if (c >= 0)
            break;
        r = sqlite3_step(s->last_of);
        if (r == SQLITE_DONE) {
            s->last_at = -1;
            return UP_OK;
        }
        if (r != SQLITE_ROW) {
            s->last_at = 0;
            return fail(s, "read the summary", err, errlen);
        }
    }
    if (!s->last_at || c < 0 || k == SUMMARY_SKIP) {
        sqlite3_reset(s->last_of);
        sqlite3_bind_text(s->last_of, 1, id, -1, SQLITE_TRANSIENT);
        r = sqlite3_step(s->last_of);
        s->last_at = r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? -1 : 0;
        if (r == SQLITE_DONE)
            return UP_OK;
        if (r != SQLITE_ROW)
            return fail(s, "read the summary", err, errlen);
        c = strcmp((const char *)sqlite3_column_text(s->last_of, 0), id);
    }
    if (c == 0) {
        *found = 1;
        *last = sqlite3_column_int64(s->last_of, 1);
    }
    return UP_OK;
}

/* s->main_max from the summary (which covers store_status), for a database whose
 * uptime_recent_share does not hold it yet: one scan of the summary, once. */
static enum up_code summary_max(struct sqlite_store *s, char *err, size_t errlen)
{
    sqlite3_stmt *q = NULL;
    enum up_code rc = prepare(s, "SELECT MAX(last_ts) FROM store_summary", &q, err, errlen);

    if (rc == UP_OK && sqlite3_step(q) != SQLITE_ROW)
        rc = fail(s, "read the summary", err, errlen);
    if (rc == UP_OK) {
        s->main_max =
            sqlite3_column_type(q, 0) == SQLITE_NULL ? INT64_MIN : sqlite3_column_int64(q, 0);
        s->main_known = 1;
    }
    sqlite3_finalize(q);
    return rc;
}

/*
 * Writes sorted rows[0..n) (each store's polls together, by time), each store's into one
 * table: store_status_recent when all of them are newer than the store's last poll in the
 * database (its summary's last_ts, as of the load's start: none can equal a stored poll,
 * and they keep the recent table's invariant), store_status otherwise, after the store's
 * recent polls are moved there. A first load, or one that would take the recent table
 * past RECENT_MAX, merges it into store_status and writes everything there.
 */
static enum up_code route_and_write(struct sqlite_store *s, struct chunk_row *rows, size_t n,
                                    char *err, size_t errlen)
{
    struct load_store *st = s->stores.p;
    struct chunk_row *recent;
    size_t i, j, nm = 0, nr = 0;
    enum up_code rc = UP_OK;

    if (!s->all_main && s->recent_rows + (int64_t)n > RECENT_MAX) {
        rc = compact_recent(s, 1, err, errlen);
        s->all_main = 1;
    }
    if (rc == UP_OK && s->all_main) {
        for (i = 0; i < n; i++)
            if (rows[i].ts > s->main_max)
                s->main_max = rows[i].ts;
        return write_rows(s, &s->to_main, rows, n, err, errlen);
    }
    if (rc == UP_OK && !s->main_known)
        rc = summary_max(s, err, errlen);
    if (rc != UP_OK)
        return rc;
    if (!(recent = malloc(n * sizeof *recent))) {
        snprintf(err, errlen, "sqlite %s: out of memory", s->path);
        return UP_ENOMEM;
    }
    for (i = 0; i < n && rc == UP_OK; i = j) {
        struct load_store *e = &st[rows[i].store];
        int to_recent = 0;

        for (j = i + 1; j < n && rows[j].store == rows[i].store; j++)
            ;
        if (!e->main_only && rows[i].ts > s->main_max) {
            to_recent = 1; /* newer than every poll of store_status: no lookup */
        } else if (!e->main_only) {
            int found;
            int64_t last;

            rc = summary_last(s, e->id, &found, &last, err, errlen);
            to_recent = !found || rows[i].ts > last; /* a store without polls, or newer */
            if (rc == UP_OK && !to_recent)
                rc = move_store(s, e, err, errlen);
        }
        if (to_recent) {
            if (!s->recent_any || rows[j - 1].ts > s->recent_max)
                s->recent_max = rows[j - 1].ts;
            s->recent_any = 1;
            memcpy(recent + nr, rows + i, (j - i) * sizeof *rows);
            nr += j - i;
        } else {
            /* Its moved recent polls are at most recent_max. */
            if (rows[j - 1].ts > s->main_max)
                s->main_max = rows[j - 1].ts;
            if (e->dropped && s->recent_any && s->recent_max > s->main_max)
                s->main_max = s->recent_max;
            memmove(rows + nm, rows + i, (j - i) * sizeof *rows);
            nm += j - i;
        }
    }
    sqlite3_reset(s->last_of);
    s->last_at = 0;
    if (rc == UP_OK)
        rc = write_rows(s, &s->to_main, rows, nm, err, errlen);
    if (rc == UP_OK)
        rc = write_rows(s, &s->to_recent, recent, nr, err, errlen);
    free(recent);
    return rc;
}

/* Orders a store's polls by time. */
static int cmp_row_ts(const void *a, const void *b)
{
    const struct chunk_row *x = a, *y = b;
    return (x->ts > y->ts) - (x->ts < y->ts);
}

/* Bits of the store rank sorted per radix pass: 2048 buckets, whose write positions stay
 * in the CPU's caches. */
#define RADIX_BITS 11

/*
 * Sorts rows[0..n) by their store's rank, stably (each store's polls keep their arrival
 * order: an export in time order needs no sort by time after it), with a least
 * significant digit radix sort into a second buffer: 2 passes up to 4 M stores. The
 * in-place counting sort it replaced sent every row to a random one of ~160 k buckets
 * (a cache miss per swap, and every store's polls then needed a qsort): flush_chunk was
 * 24 % of a 19 M-poll first load's samples. Returns 0, or -1 (nothing done) without
 * memory for the buffer (16 bytes a row).
 */
static int radix_by_rank(const struct sqlite_store *s, struct chunk_row *rows, size_t n)
{
    struct chunk_row *tmp = malloc(n * sizeof *tmp), *src = rows, *dst = tmp, *t;
    size_t cnt[(size_t)1 << RADIX_BITS], i, d;
    const size_t mask = ((size_t)1 << RADIX_BITS) - 1;
    unsigned bits = 0, shift;

    if (!tmp)
        return -1;
    while (bits < 32 && ((size_t)1 << bits) < s->nranked)
        bits++;
    for (shift = 0; shift < bits; shift += RADIX_BITS) {
        size_t sum = 0;

        memset(cnt, 0, sizeof cnt);
        for (i = 0; i < n; i++)
            cnt[(s->rank[src[i].store] >> shift) & mask]++;
        for (d = 0; d <= mask; d++) {
            size_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (i = 0; i < n; i++)
            dst[cnt[(s->rank[src[i].store] >> shift) & mask]++] = src[i];
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
 * Writes the chunk's polls in (store_id, ts) order: an in-place counting sort by store
 * rank (American flag sort: no second copy of the chunk), then each store's polls by time
 * unless they already are (an export in time order mostly keeps them so). The outcome does
 * not depend on the order: duplicates merge to the same row whatever their order, and
 * the summary's min, max and count do not depend on it.
 */
static enum up_code flush_chunk(struct sqlite_store *s, char *err, size_t errlen)
{
    struct chunk_row *rows = s->chunk.p;
    size_t n = s->chunk.n, i, sum = 0, k, *next, *end;
    enum up_code rc = UP_OK;
    int sorted;

    if (n == 0)
        return UP_OK;
    if (rank_stores(s) != 0 ||
        (!s->count && !(s->count = malloc(2 * s->nranked * sizeof *s->count)))) {
        snprintf(err, errlen, "sqlite %s: out of memory", s->path);
        return UP_ENOMEM;
    }
    next = s->count;
    end = s->count + s->nranked;
    memset(next, 0, s->nranked * sizeof *next);
    for (i = 0; i < n; i++)
        next[s->rank[rows[i].store]]++;
    for (k = 0; k < s->nranked; k++) {
        size_t c = next[k];
        next[k] = sum;
        sum += c;
        end[k] = sum;
    }
    sorted = radix_by_rank(s, rows, n) == 0;
    for (k = 0; k < s->nranked; k++) {
        size_t start = k ? end[k - 1] : 0;
        while (!sorted && next[k] < end[k]) {
            struct chunk_row r = rows[next[k]];
            size_t c = s->rank[r.store];
            if (c == k) {
                next[k]++;
                continue;
            }
            rows[next[k]] = rows[next[c]];
            rows[next[c]++] = r;
        }
        for (i = start + 1; i < end[k] && rows[i - 1].ts <= rows[i].ts; i++)
            ;
        if (i < end[k])
            qsort(rows + start, end[k] - start, sizeof *rows, cmp_row_ts);
    }
    /* Duplicates inside the chunk are now side by side: one row each, inactive if any
     * was (the merge rule), so that a batch's rows are distinct and one that meets no
     * stored poll is known to be all new (a recount of its stores avoided: an hour of
     * 133 k polls with 689 duplicates made 61 k stores recounted, 1.4 s). */
    for (i = 1, k = 0; i < n; i++) {
        if (rows[i].store == rows[k].store && rows[i].ts == rows[k].ts)
            rows[k].active &= rows[i].active;
        else
            rows[++k] = rows[i];
    }
    n = k + 1;
    rc = route_and_write(s, rows, n, err, errlen);
    s->chunk.n = 0;
    return rc;
}

static enum up_code sqlite_put_status(struct up_store *st, const char *id, int64_t ts, int active,
                                      char *err, size_t errlen)
{
    struct sqlite_store *s = cast(st);
    struct chunk_row *r;
    uint32_t i;

    s->load_any = 1;
    /* Short of memory for a bigger chunk: write what is held (a sorted run) and go on. */
    if (s->chunk.n == s->chunk.cap && s->chunk.n > 0 && up_buf_reserve(&s->chunk, 1) != 0) {
        enum up_code rc = flush_chunk(s, err, errlen);
        if (rc != UP_OK)
            return rc;
    }
    if (store_index(s, id, &i) != 0 || !(r = up_buf_push(&s->chunk))) {
        snprintf(err, errlen, "sqlite %s: out of memory (or more than %zu stores)", s->path,
                 MAX_STORES);
        return UP_ENOMEM;
    }
    r->store = i;
    r->active = active != 0;
    r->ts = ts;
    return s->chunk.n == CHUNK_ROWS ? flush_chunk(s, err, errlen) : UP_OK;
}

static enum up_code sqlite_put_hours(struct up_store *st, const char *id,
                                     const struct up_hours_row *row, char *err, size_t errlen)
{
    struct sqlite_store *s = cast(st);
    struct held_hours *h;
    uint32_t i;

    /* Held, and written sorted at the commit (write_hours). */
    if (store_index(s, id, &i) != 0 || !(h = up_buf_push(&s->hours))) {
        snprintf(err, errlen, "sqlite %s: out of memory (or more than %zu hours rows)", s->path,
                 MAX_HOURS);
        return UP_ENOMEM;
    }
    h->store = i;
    h->day = row->day;
    h->start = row->start_us;
    h->end = row->end_us;
    return UP_OK;
}

static enum up_code sqlite_put_timezone(struct up_store *st, const char *id, const char *zone,
                                        char *err, size_t errlen)
{
    struct sqlite_store *s = cast(st);

    enum up_code rc;

    sqlite3_bind_text(s->ins_tz, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s->ins_tz, 2, zone, -1, SQLITE_STATIC);
    rc = step_done(s, s->ins_tz, err, errlen);
    if (rc != UP_OK || !s->meta_current)
        return rc;
    sqlite3_bind_text(s->ins_touch, 1, id, -1, SQLITE_STATIC);
    return step_done(s, s->ins_touch, err, errlen);
}

/* Big-endian packing of store_meta.hours. */
static void put_be(unsigned char *p, uint64_t v, int bytes)
{
    int i;

    for (i = bytes - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

static uint64_t get_be(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* Writes one store's store_meta row (nothing when it has neither hours nor a zone). */
static enum up_code meta_row(struct sqlite_store *s, sqlite3_stmt *ins, const char *id,
                             const char *zone, const struct up_buf *packed, char *err,
                             size_t errlen)
{
    if (!zone && packed->n == 0)
        return UP_OK;
    sqlite3_bind_text(ins, 1, id, -1, SQLITE_STATIC);
    if (zone)
        sqlite3_bind_text(ins, 2, zone, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(ins, 2);
    if (packed->n)
        sqlite3_bind_blob(ins, 3, packed->p, (int)packed->n, SQLITE_STATIC);
    else
        sqlite3_bind_null(ins, 3);
    return step_done(s, ins, err, errlen);
}

/* Packs one hours row of q (columns day, start, end from col on) onto packed. */
static int pack_hours(sqlite3_stmt *q, int col, struct up_buf *packed)
{
    unsigned char row[META_ROW];

    put_be(row, (uint64_t)sqlite3_column_int(q, col), 2);
    put_be(row + 2, (uint64_t)sqlite3_column_int64(q, col + 1), 8);
    put_be(row + 10, (uint64_t)sqlite3_column_int64(q, col + 2), 8);
    return up_buf_append(packed, row, META_ROW);
}

/*
 * store_meta made whole (it is empty): business_hours and store_timezone read in key order
 * side by side and merged by store, one row written per store, in key order. The per-store
 * query it replaces for this case (every store put in meta_touched, then a join with a
 * zone lookup per store) took ~2 s of CPU at 160 k stores on a first load.
 */
static enum up_code meta_rebuild(struct sqlite_store *s, sqlite3_stmt *ins, char *err,
                                 size_t errlen)
{
    sqlite3_stmt *h = NULL, *z = NULL;
    struct up_buf packed, id;
    enum up_code rc;
    int rh = SQLITE_DONE, rz = SQLITE_DONE;

    up_buf_init(&packed, 1, (size_t)INT32_MAX);
    up_buf_init(&id, 1, (size_t)INT32_MAX);
    rc = prepare(s,
                 "SELECT store_id, day_of_week, start_time_us, end_time_us FROM business_hours"
                 " ORDER BY store_id, day_of_week, start_time_us, end_time_us",
                 &h, err, errlen);
    if (rc == UP_OK)
        rc = prepare(s, "SELECT store_id, timezone_str FROM store_timezone ORDER BY store_id", &z,
                     err, errlen);
    if (rc == UP_OK) {
        rh = sqlite3_step(h);
        rz = sqlite3_step(z);
    }
    while (rc == UP_OK && (rh == SQLITE_ROW || rz == SQLITE_ROW)) {
        const char *hid = rh == SQLITE_ROW ? (const char *)sqlite3_column_text(h, 0) : NULL;
        const char *zid = rz == SQLITE_ROW ? (const char *)sqlite3_column_text(z, 0) : NULL;
        int c = !hid ? 1 : !zid ? -1 : strcmp(hid, zid);
        const char *cur = c <= 0 ? hid : zid;
        size_t len = strlen(cur);
        const char *zone = NULL;

        id.n = 0;
        packed.n = 0;
        if (up_buf_append(&id, cur, len + 1) != 0) {
            rc = UP_ENOMEM;
            break;
        }
        /* The store's hours rows (h is on its first one when c <= 0). */
        while (c <= 0 && rh == SQLITE_ROW &&
               strcmp((const char *)sqlite3_column_text(h, 0), id.p) == 0) {
            if (pack_hours(h, 1, &packed) != 0) {
                rc = UP_ENOMEM;
                break;
            }
            rh = sqlite3_step(h);
        }
        if (rc != UP_OK)
            break;
        if (rh != SQLITE_ROW && rh != SQLITE_DONE) {
            rc = fail(s, "read hours", err, errlen);
            break;
        }
        if (c >= 0)
            zone = (const char *)sqlite3_column_text(z, 1);
        rc = meta_row(s, ins, id.p, zone, &packed, err, errlen);
        if (rc == UP_OK && c >= 0) {
            rz = sqlite3_step(z);
            if (rz != SQLITE_ROW && rz != SQLITE_DONE)
                rc = fail(s, "read zones", err, errlen);
        }
    }
    if (rc == UP_OK &&
        ((rh != SQLITE_ROW && rh != SQLITE_DONE) || (rz != SQLITE_ROW && rz != SQLITE_DONE)))
        rc = fail(s, "read hours and zones", err, errlen);
    if (rc == UP_ENOMEM)
        snprintf(err, errlen, "sqlite %s: out of memory", s->path);
    up_buf_free(&packed);
    up_buf_free(&id);
    sqlite3_finalize(h);
    sqlite3_finalize(z);
    return rc;
}

/*
 * store_meta made again for the stores this load's hours or zones named (meta_touched),
 * or whole when it was not made at the database's generation (a database of an older
 * version, or loaded by one since). Runs inside the load's transaction, after the hours
 * merge and before the generation is bumped.
 */
static enum up_code update_meta(struct sqlite_store *s, char *err, size_t errlen)
{
    sqlite3_stmt *q = NULL, *ins = NULL;
    struct up_buf packed;
    char *cur = NULL, *cur_zone = NULL;
    int current = s->meta_current, r;
    enum up_code rc = UP_OK;

    up_buf_init(&packed, 1, (size_t)INT32_MAX);
    if (rc == UP_OK)
        rc = exec(s,
                  current ? "DELETE FROM store_meta WHERE store_id IN"
                            " (SELECT store_id FROM meta_touched);"
                          : "DELETE FROM store_meta;",
                  err, errlen);
    if (rc == UP_OK && !current) {
        rc =
            prepare(s, "INSERT INTO store_meta (store_id, timezone_str, hours) VALUES (?1, ?2, ?3)",
                    &ins, err, errlen);
        if (rc == UP_OK)
            rc = meta_rebuild(s, ins, err, errlen);
        sqlite3_finalize(ins);
        up_buf_free(&packed);
        if (rc == UP_OK)
            rc = exec(s, "DELETE FROM meta_touched;", err, errlen);
        return rc;
    }
    /* One pass in key order: each store's zone and its hours rows in primary-key order
     * (both index ranges, no sort). */
    if (rc == UP_OK)
        rc = prepare(s,
                     "SELECT t.store_id, (SELECT z.timezone_str FROM store_timezone z"
                     " WHERE z.store_id = t.store_id), h.day_of_week, h.start_time_us,"
                     " h.end_time_us FROM meta_touched t LEFT JOIN business_hours h"
                     " ON h.store_id = t.store_id"
                     " ORDER BY t.store_id, h.day_of_week, h.start_time_us, h.end_time_us",
                     &q, err, errlen);
    if (rc == UP_OK)
        rc =
            prepare(s, "INSERT INTO store_meta (store_id, timezone_str, hours) VALUES (?1, ?2, ?3)",
                    &ins, err, errlen);
    while (rc == UP_OK && (r = sqlite3_step(q)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(q, 0);
        const char *zone = (const char *)sqlite3_column_text(q, 1);
        unsigned char row[META_ROW];

        if (!cur || strcmp(cur, id) != 0) {
            if (cur)
                rc = meta_row(s, ins, cur, cur_zone, &packed, err, errlen);
            free(cur);
            free(cur_zone);
            cur = strdup(id);
            cur_zone = zone ? strdup(zone) : NULL;
            packed.n = 0;
            if (!cur || (zone && !cur_zone)) {
                snprintf(err, errlen, "sqlite %s: out of memory", s->path);
                rc = UP_ENOMEM;
            }
        }
        if (rc == UP_OK && sqlite3_column_type(q, 2) != SQLITE_NULL) {
            put_be(row, (uint64_t)sqlite3_column_int(q, 2), 2);
            put_be(row + 2, (uint64_t)sqlite3_column_int64(q, 3), 8);
            put_be(row + 10, (uint64_t)sqlite3_column_int64(q, 4), 8);
            if (up_buf_append(&packed, row, META_ROW) != 0) {
                snprintf(err, errlen, "sqlite %s: out of memory", s->path);
                rc = UP_ENOMEM;
            }
        }
    }
    if (rc == UP_OK && r != SQLITE_DONE)
        rc = fail(s, "read hours and zones", err, errlen);
    if (rc == UP_OK && cur)
        rc = meta_row(s, ins, cur, cur_zone, &packed, err, errlen);
    free(cur);
    free(cur_zone);
    up_buf_free(&packed);
    sqlite3_finalize(q);
    sqlite3_finalize(ins);
    if (rc == UP_OK)
        rc = exec(s, "DELETE FROM meta_touched;", err, errlen);
    return rc;
}

/*
 * The per-store summary lets a report list its stores without scanning every poll. Only
 * the stores this load gave polls in store_status change: new polls widen [first_ts,
 * last_ts] and add to npolls; a store whose new polls are unknown (see write_batch), or
 * whose recent polls were moved, is recounted from its own polls in store_status (one
 * index range). The recent polls are in the share (write_share) until the table is
 * merged. It was rebuilt whole before: 2-3 s on 19 M polls for an hourly load of 140 k.
 */
static enum up_code update_summary(struct sqlite_store *s, char *err, size_t errlen)
{
    sqlite3_stmt *add = NULL, *recount = NULL;
    uint32_t *order = NULL;
    enum up_code rc;
    size_t i;

    /* In id order, as the summary's B-tree (in the stores' order of appearance, each
     * upsert went to another page: 0.3-0.5 s for an hour's 128 k stores). */
    if (rank_stores(s) != 0 || !(order = malloc((s->stores.n + 1) * sizeof *order))) {
        snprintf(err, errlen, "sqlite %s: out of memory", s->path);
        return UP_ENOMEM;
    }
    for (i = 0; i < s->stores.n; i++)
        order[s->rank[i]] = (uint32_t)i;
    rc = prepare(s,
                 "INSERT INTO store_summary (store_id, first_ts, last_ts, npolls)"
                 " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (store_id) DO UPDATE"
                 " SET first_ts = MIN(first_ts, excluded.first_ts),"
                 " last_ts = MAX(last_ts, excluded.last_ts), npolls = npolls + excluded.npolls",
                 &add, err, errlen);
    if (rc == UP_OK)
        rc = prepare(s,
                     "INSERT OR REPLACE INTO store_summary (store_id, first_ts, last_ts, npolls)"
                     " SELECT store_id, MIN(ts_utc), MAX(ts_utc), COUNT(*) FROM store_status"
                     " WHERE store_id = ?1 GROUP BY store_id",
                     &recount, err, errlen);
    for (i = 0; i < s->stores.n && rc == UP_OK; i++) {
        const struct load_store *e = UP_BUF_AT(&s->stores, struct load_store, order[i]);
        if (e->recount) {
            sqlite3_bind_text(recount, 1, e->id, (int)e->len, SQLITE_STATIC);
            rc = step_done(s, recount, err, errlen);
        } else if (e->n > 0) {
            sqlite3_bind_text(add, 1, e->id, (int)e->len, SQLITE_STATIC);
            sqlite3_bind_int64(add, 2, e->first);
            sqlite3_bind_int64(add, 3, e->last);
            sqlite3_bind_int64(add, 4, e->n);
            rc = step_done(s, add, err, errlen);
        }
    }
    free(order);
    sqlite3_finalize(add);
    sqlite3_finalize(recount);
    return rc;
}

/* The next entry of the share as the load began: 1 (in *e), 0 at its end, -1 damaged. */
static int share_step(const unsigned char **p, const unsigned char *end, struct share_entry *e)
{
    if (*p >= end)
        return 0;
    return share_next(p, end, e) == 0 ? 1 : -1;
}

/*
 * uptime_recent_share made again (RECENT_SHARE_SQL): the share the load began with, merged
 * in id order with what this load added to the recent table (one pass, the stores in rank
 * order); a store whose recent polls were moved has none left, one whose batch met stored
 * recent polls is counted from its own index range of the table.
 */
static enum up_code write_share(struct sqlite_store *s, char *err, size_t errlen)
{
    const unsigned char *p = s->share.p, *end = p ? p + s->share.n : p;
    sqlite3_stmt *count = NULL, *put = NULL;
    struct share_entry old;
    struct up_buf out;
    uint32_t *order = NULL;
    enum up_code rc = UP_OK;
    int have = 0, oom = 0;
    size_t i;

    up_buf_init(&out, 1, (size_t)INT32_MAX);
    if (s->recent_rows == 0) {
        /* No recent polls left (every store's moved): the summary holds them all. */
        if (s->recent_any && s->recent_max > s->main_max)
            s->main_max = s->recent_max;
        s->recent_any = 0;
    }
    if (s->recent_rows == 0 || !s->recent_any) {
        rc = prepare(s,
                     "INSERT OR REPLACE INTO uptime_recent_share (one, max_ts, stores, main_max)"
                     " VALUES (1, NULL, NULL, ?1)",
                     &put, err, errlen);
        if (rc == UP_OK) {
            if (s->main_known)
                sqlite3_bind_int64(put, 1, s->main_max);
            rc = step_done(s, put, err, errlen);
        }
        sqlite3_finalize(put);
        return rc;
    }
    if (rank_stores(s) != 0 || !(order = malloc((s->stores.n + 1) * sizeof *order))) {
        snprintf(err, errlen, "sqlite %s: out of memory", s->path);
        return UP_ENOMEM;
    }
    /* Room for about the whole row at once (a hint: past the cap, it grows as it goes). */
    (void)up_buf_reserve(&out, s->share.n + s->stores.n * 32);
    for (i = 0; i < s->stores.n; i++)
        order[s->rank[i]] = (uint32_t)i;
    rc = prepare(s, "SELECT MIN(ts_utc), COUNT(*) FROM store_status_recent WHERE store_id = ?1",
                 &count, err, errlen);
    have = share_step(&p, end, &old);
    for (i = 0; i < s->stores.n && rc == UP_OK && have >= 0 && !oom; i++) {
        const struct load_store *e = UP_BUF_AT(&s->stores, struct load_store, order[i]);
        int64_t first = 0, n = 0;
        int c = 1;

        if (!e->rn && !e->rrecount && !e->dropped)
            continue;
        while (have == 1 && (c = share_cmp(&old, e->id, e->len)) < 0) {
            oom = share_put(&out, old.id, old.len, old.first, old.n) != 0;
            have = share_step(&p, end, &old);
        }
        if (have == 1 && c == 0) {
            first = old.first;
            n = old.n;
            have = share_step(&p, end, &old);
        }
        if (e->dropped) {
            n = 0;
        } else if (e->rrecount) {
            sqlite3_bind_text(count, 1, e->id, (int)e->len, SQLITE_STATIC);
            if (sqlite3_step(count) == SQLITE_ROW) {
                first = sqlite3_column_int64(count, 0);
                n = sqlite3_column_int64(count, 1);
            } else {
                rc = fail(s, "count a store's recent polls", err, errlen);
            }
            sqlite3_reset(count);
        } else {
            if (n == 0 || e->rfirst < first)
                first = e->rfirst;
            n += e->rn;
        }
        if (rc == UP_OK && n > 0 && !oom)
            oom = share_put(&out, e->id, e->len, first, n) != 0;
    }
    while (rc == UP_OK && have == 1 && !oom) {
        oom = share_put(&out, old.id, old.len, old.first, old.n) != 0;
        have = share_step(&p, end, &old);
    }
    if (rc == UP_OK && have < 0) {
        snprintf(err, errlen, "sqlite %s: uptime_recent_share.stores is damaged", s->path);
        rc = UP_EDB;
    }
    if (rc == UP_OK && oom) {
        snprintf(err, errlen, "sqlite %s: out of memory", s->path);
        rc = UP_ENOMEM;
    }
    if (rc == UP_OK)
        rc = prepare(s,
                     "INSERT OR REPLACE INTO uptime_recent_share (one, max_ts, stores, main_max)"
                     " VALUES (1, ?1, ?2, ?3)",
                     &put, err, errlen);
    if (rc == UP_OK) {
        sqlite3_bind_int64(put, 1, s->recent_max);
        if (s->main_known)
            sqlite3_bind_int64(put, 3, s->main_max);
        sqlite3_bind_blob(put, 2, out.p ? out.p : "", (int)out.n, SQLITE_STATIC);
        rc = step_done(s, put, err, errlen);
    }
    sqlite3_finalize(count);
    sqlite3_finalize(put);
    up_buf_free(&out);
    free(order);
    return rc;
}

/* Orders held hours rows by (store id, day, start, end); store holds the store's rank. */
static int cmp_hours(const void *a, const void *b)
{
    const struct held_hours *x = a, *y = b;

    if (x->store != y->store)
        return x->store < y->store ? -1 : 1;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/*
 * The held hours rows into business_hours: sorted by key, identical rows once; each store
 * named has its stored rows deleted first (only when the table has any), and is noted in
 * meta_touched when store_meta is current; then the rows go in key order, HOURS_BATCH per
 * INSERT. It replaced a temporary stage merged by INSERT … SELECT in file order: 1.3 M
 * rows of 160 k stores took 1.7 s into the stage and 2.5 s into the table (random leaves).
 */
static enum up_code write_hours(struct sqlite_store *s, char *err, size_t errlen)
{
    struct held_hours *h = s->hours.p;
    const struct load_store *st;
    sqlite3_stmt *q = NULL, *del = NULL;
    size_t n = s->hours.n, i, k, b;
    uint32_t *order = NULL;
    enum up_code rc;
    int any = 0;

    if (rank_stores(s) != 0 || !(order = malloc((s->stores.n + 1) * sizeof *order))) {
        snprintf(err, errlen, "sqlite %s: out of memory", s->path);
        return UP_ENOMEM;
    }
    for (i = 0; i < s->stores.n; i++)
        order[s->rank[i]] = (uint32_t)i;
    /* Sorted by rank (ids byte-wise), then back to store indices. */
    for (i = 0; i < n; i++)
        h[i].store = s->rank[h[i].store];
    if (n > 1)
        qsort(h, n, sizeof *h, cmp_hours);
    for (i = 1, k = 0; i < n; i++)
        if (cmp_hours(&h[i], &h[k]) != 0)
            h[++k] = h[i];
    n = k + 1;
    for (i = 0; i < n; i++)
        h[i].store = order[h[i].store];
    free(order);
    st = s->stores.p;
    rc = prepare(s, "SELECT EXISTS (SELECT 1 FROM business_hours)", &q, err, errlen);
    if (rc == UP_OK && sqlite3_step(q) != SQLITE_ROW)
        rc = fail(s, "read the hours", err, errlen);
    if (rc == UP_OK)
        any = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (rc == UP_OK && any)
        rc = prepare(s, "DELETE FROM business_hours WHERE store_id = ?1", &del, err, errlen);
    for (i = 0; i < n && rc == UP_OK && (any || s->meta_current); i++) {
        const struct load_store *e = &st[h[i].store];
        if (i > 0 && h[i].store == h[i - 1].store)
            continue;
        if (any) {
            sqlite3_bind_text(del, 1, e->id, (int)e->len, SQLITE_STATIC);
            rc = step_done(s, del, err, errlen);
        }
        if (rc == UP_OK && s->meta_current) {
            sqlite3_bind_text(s->ins_touch, 1, e->id, (int)e->len, SQLITE_STATIC);
            rc = step_done(s, s->ins_touch, err, errlen);
        }
    }
    sqlite3_finalize(del);
    for (i = 0; i < n && rc == UP_OK; i += b) {
        sqlite3_stmt *ins = n - i >= HOURS_BATCH ? s->ins_hours_many : s->ins_hours;
        b = n - i >= HOURS_BATCH ? HOURS_BATCH : 1;
        for (k = 0; k < b; k++) {
            const struct held_hours *r = &h[i + k];
            sqlite3_bind_text(ins, 4 * (int)k + 1, st[r->store].id, (int)st[r->store].len,
                              SQLITE_STATIC);
            sqlite3_bind_int(ins, 4 * (int)k + 2, r->day);
            sqlite3_bind_int64(ins, 4 * (int)k + 3, r->start);
            sqlite3_bind_int64(ins, 4 * (int)k + 4, r->end);
        }
        rc = step_done(s, ins, err, errlen);
    }
    s->hours.n = 0;
    return rc;
}

static enum up_code sqlite_commit(struct up_store *st, char *err, size_t errlen)
{
    struct sqlite_store *s = cast(st);
    enum up_code rc;

    rc = flush_chunk(s, err, errlen);
    /* A store named in this load has its hours replaced as a whole. meta_touched only when
     * store_meta is current (else it is made whole), the delete only when there are hours. */
    if (rc == UP_OK && s->hours.n)
        rc = write_hours(s, err, errlen);
    if (rc == UP_OK)
        rc = update_meta(s, err, errlen);
    if (rc == UP_OK && s->load_any)
        rc = update_summary(s, err, errlen);
    if (rc == UP_OK && s->load_any) {
        char sql[96];
        snprintf(sql, sizeof sql,
                 "INSERT OR REPLACE INTO uptime_recent (one, nrows) VALUES (1, %lld);",
                 (long long)s->recent_rows);
        rc = exec(s, sql, err, errlen);
    }
    /* No recent polls left (every store's moved): the summary holds them all. */
    if (rc == UP_OK && s->load_any)
        rc = write_share(s, err, errlen);
    if (rc == UP_OK)
        rc = exec(s, bump_sql, err, errlen);
    if (rc == UP_OK)
        rc = exec(s, SHARE_STAMP_SQL, err, errlen);
    if (rc == UP_OK)
        rc = exec(s,
                  "INSERT OR REPLACE INTO store_meta_state (one, generation)"
                  " SELECT 1, generation FROM uptime_meta WHERE one = 1;",
                  err, errlen);
    if (rc == UP_OK)
        rc = end_transaction(s, "COMMIT;", err, errlen);
    if (rc == UP_OK)
        s->committed = 1;
    /* A database this load created goes to WAL now (see sqlite_open). The load has
     * committed: should a reader already hold the file (for longer than the busy
     * timeout), it stays in rollback mode, readable, and the next load switches it. */
    if (rc == UP_OK && s->created && !s->wal) {
        char why[256];
        s->wal = use_wal(s, why, sizeof why) == UP_OK &&
                 exec(s, "SELECT count(*) FROM sqlite_master;", why, sizeof why) == UP_OK;
    }
    return rc;
}

static enum up_code sqlite_rollback(struct up_store *st, char *err, size_t errlen)
{
    struct sqlite_store *s = cast(st);
    load_reset(s);
    if (sqlite3_get_autocommit(s->db))
        return UP_OK;
    return end_transaction(s, "ROLLBACK;", err, errlen);
}

/*
 * Retention (up_store_prune): per store whose first poll is before `before` (from the
 * summary), one index range deleted below its latest poll before `before`; the summary's
 * first_ts becomes that poll and npolls drops by what was deleted. The ids are read first:
 * the summary is updated while they are walked.
 */
static enum up_code sqlite_prune(struct up_store *st, int64_t before, int64_t *deleted, char *err,
                                 size_t errlen)
{
    struct sqlite_store *s = cast(st);
    sqlite3_stmt *list = NULL, *del = NULL, *upd = NULL;
    struct up_buf ids;
    enum up_code rc;
    size_t i;
    int r, folded = 0;

    up_buf_init(&ids, sizeof(char *), MAX_STORES);
    rc = exec(s, "BEGIN IMMEDIATE;", err, errlen);
    if (rc != UP_OK)
        return rc;
    /* The recent polls are merged first: a store's latest poll before `before` may be
     * there, and its older polls in store_status. */
    rc = read_recent_rows(s, err, errlen);
    if (rc == UP_OK)
        rc = has_table(s, "uptime_recent_share", &folded, err, errlen);
    if (rc == UP_OK)
        rc = read_recent_share(s, 0, err, errlen);
    /* After an older version's load the share cannot be folded: made right first. */
    if (rc == UP_OK && s->share_stale)
        rc = repair_summary(s, err, errlen);
    if (rc == UP_OK)
        rc = compact_recent(s, folded, err, errlen);
    if (rc == UP_OK)
        rc = prepare(s, "SELECT store_id FROM store_summary WHERE first_ts < ?1", &list, err,
                     errlen);
    if (rc == UP_OK)
        rc = prepare(s,
                     "DELETE FROM store_status WHERE store_id = ?1 AND ts_utc < (SELECT"
                     " MAX(ts_utc) FROM store_status WHERE store_id = ?1 AND ts_utc < ?2)",
                     &del, err, errlen);
    if (rc == UP_OK)
        rc = prepare(s,
                     "UPDATE store_summary SET npolls = npolls - ?2, first_ts = (SELECT"
                     " MIN(ts_utc) FROM store_status WHERE store_id = ?1) WHERE store_id = ?1",
                     &upd, err, errlen);
    if (rc == UP_OK) {
        sqlite3_bind_int64(list, 1, before);
        while ((r = sqlite3_step(list)) == SQLITE_ROW) {
            char **slot = up_buf_push(&ids);
            if (!slot || !(*slot = strdup((const char *)sqlite3_column_text(list, 0)))) {
                if (slot)
                    ids.n--;
                rc = UP_ENOMEM;
                snprintf(err, errlen, "sqlite %s: out of memory", s->path);
                break;
            }
        }
        if (rc == UP_OK && r != SQLITE_DONE)
            rc = fail(s, "list stores to prune", err, errlen);
    }
    for (i = 0; i < ids.n && rc == UP_OK; i++) {
        const char *id = *UP_BUF_AT(&ids, char *, i);
        int n;

        sqlite3_bind_text(del, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(del, 2, before);
        rc = step_done(s, del, err, errlen);
        n = rc == UP_OK ? sqlite3_changes(s->db) : 0;
        if (n == 0)
            continue;
        *deleted += n;
        sqlite3_bind_text(upd, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(upd, 2, n);
        rc = step_done(s, upd, err, errlen);
    }
    for (i = 0; i < ids.n; i++)
        free(*UP_BUF_AT(&ids, char *, i));
    up_buf_free(&ids);
    sqlite3_finalize(list);
    sqlite3_finalize(del);
    sqlite3_finalize(upd);
    /* A prune changes no hours or zones: store_meta stays as current as it was. */
    if (rc == UP_OK)
        rc = exec(s,
                  STORE_META_SQL
                  "UPDATE store_meta_state SET generation = generation + 1"
                  " WHERE one = 1 AND generation = (SELECT generation FROM uptime_meta"
                  " WHERE one = 1);",
                  err, errlen);
    if (rc == UP_OK)
        rc = exec(s, bump_sql, err, errlen);
    if (rc == UP_OK && folded)
        rc = exec(s, SHARE_STAMP_SQL, err, errlen);
    if (rc == UP_OK)
        rc = end_transaction(s, "COMMIT;", err, errlen);
    if (rc != UP_OK) {
        *deleted = 0;
        if (!sqlite3_get_autocommit(s->db))
            (void)end_transaction(s, "ROLLBACK;", NULL, 0);
    } else {
        s->committed = 1;
    }
    return rc;
}

/* ---- One view for every connection of a report. ---- */

/* Longest database id kept in a token (the loader writes 16 hexadecimal digits). */
#define DB_ID_MAX 32

/* Before every read: a pinned connection reads only inside its read transaction. An
 * error that ended it (SQLite rolls back on some, such as a full disk or no memory) or a
 * refused read_at leaves no view to read. */
static enum up_code check_view(struct sqlite_store *s, char *err, size_t errlen)
{
    if (s->pinned && !s->pin_lost && sqlite3_get_autocommit(s->db))
        s->pin_lost = 1;
    if (s->pin_lost) {
        snprintf(err, errlen,
                 "sqlite %s: the report's view of the database was lost to an earlier error",
                 s->path);
        return UP_EDB;
    }
    return UP_OK;
}

/* Reads the load generation and database id (gen 0 and "" without uptime_meta: a
 * database of an older version) inside the read transaction begun by the caller; the
 * first read here starts it, so the generation is that of the commit every later read of
 * this connection sees. */
static enum up_code read_generation(struct sqlite_store *s, int64_t *gen, char *id, size_t idlen,
                                    char *err, size_t errlen)
{
    sqlite3_stmt *q = NULL;
    enum up_code rc;
    int r, has;

    *gen = 0;
    id[0] = '\0';
    rc = has_table(s, "uptime_meta", &has, err, errlen);
    if (rc != UP_OK || !has)
        return rc;
    rc = prepare(s, "SELECT generation, db_id FROM uptime_meta WHERE one = 1", &q, err, errlen);
    if (rc != UP_OK)
        return rc;
    r = sqlite3_step(q);
    if (r == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(q, 1);
        size_t n = v ? strspn(v, "0123456789abcdef") : 0;

        *gen = sqlite3_column_int64(q, 0);
        if (*gen < 1 || n == 0 || v[n] != '\0' || n >= idlen) {
            snprintf(err, errlen, "sqlite %s: uptime_meta holds no valid load generation", s->path);
            rc = UP_EDB;
        } else {
            memcpy(id, v, n + 1);
        }
    } else if (r != SQLITE_DONE) {
        rc = fail(s, "read the load generation", err, errlen);
    }
    sqlite3_finalize(q);
    return rc;
}

/* The token's text for a generation: "<generation>-<db_id>", or "0" for a database of an
 * older version. Returns 0, or -1 when it does not fit in n bytes. */
static int format_token(char *tok, size_t n, int64_t gen, const char *id)
{
    int len = id[0] ? snprintf(tok, n, "%lld-%s", (long long)gen, id) : snprintf(tok, n, "0");
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

/* Begins the read transaction every later read of this connection runs in (a deferred
 * BEGIN: it takes its view at its first read, the generation's) and reads the generation
 * it sees. The transaction lasts until the connection closes; SQLite keeps the pages of
 * its commit (in WAL mode: a checkpoint stops short of them; in rollback mode: a load
 * waits for the commit until the reader is done, up to the busy timeout). */
static enum up_code pin(struct sqlite_store *s, int64_t *gen, char *id, size_t idlen, char *err,
                        size_t errlen)
{
    enum up_code rc;

    if (s->pinned || s->pin_lost) {
        snprintf(err, errlen, "sqlite %s: the connection's reads are pinned already", s->path);
        return UP_EUSAGE;
    }
    rc = exec(s, "BEGIN;", err, errlen);
    if (rc == UP_OK)
        rc = read_generation(s, gen, id, idlen, err, errlen);
    if (rc != UP_OK) {
        if (!sqlite3_get_autocommit(s->db))
            (void)end_transaction(s, "ROLLBACK;", NULL, 0);
        return rc;
    }
    s->pinned = 1;
    return UP_OK;
}

static enum up_code sqlite_snapshot(struct up_store *st, char *tok, size_t toklen, char *err,
                                    size_t errlen)
{
    struct sqlite_store *s = cast(st);
    char id[DB_ID_MAX + 1];
    int64_t gen;
    enum up_code rc;

    rc = pin(s, &gen, id, sizeof id, err, errlen);
    if (rc == UP_OK && format_token(tok, toklen, gen, id) != 0) {
        snprintf(err, errlen, "sqlite %s: the read token does not fit", s->path);
        rc = UP_EDB;
    }
    return rc;
}

/*
 * SQLite cannot open an older commit on another connection: this one reads the latest,
 * and is refused (UP_EDB, st->view_changed set) unless that is the commit the token names.
 * A load that committed in between makes the generation differ; the job then plans again
 * on a new view (up_dist_pin).
 */
static enum up_code sqlite_read_at(struct up_store *st, const char *tok, char *err, size_t errlen)
{
    struct sqlite_store *s = cast(st);
    char id[DB_ID_MAX + 1], mine[UP_STORE_TOKEN_MAX];
    const char *dash = strchr(tok, '-');
    size_t idn = dash ? strlen(dash + 1) : 0;
    long long want;
    int64_t gen;
    char *end;
    enum up_code rc;

    /* "0", or "<generation>-<db_id>": anything else is no token of ours. */
    errno = 0;
    want = strtoll(tok, &end, 10);
    if (tok[0] < '0' || tok[0] > '9' || (tok[0] == '0' && end != tok + 1) || errno != 0 ||
        (dash ? (end != dash || want == 0 || idn == 0 || idn > DB_ID_MAX ||
                 strspn(dash + 1, "0123456789abcdef") != idn)
              : (*end != '\0' || want != 0))) {
        snprintf(err, errlen, "sqlite %s: '%s' is not a SQLite read token", s->path, tok);
        return UP_EUSAGE;
    }
    rc = pin(s, &gen, id, sizeof id, err, errlen);
    if (rc != UP_OK) {
        if (rc != UP_EUSAGE)
            s->pin_lost = 1;
        return rc;
    }
    if (format_token(mine, sizeof mine, gen, id) == 0 && strcmp(mine, tok) == 0)
        return UP_OK;
    /* Another commit: no read of this connection may see it. */
    (void)end_transaction(s, "ROLLBACK;", NULL, 0);
    s->pin_lost = 1;
    s->base.view_changed = 1;
    if (dash && id[0] && strcmp(id, dash + 1) != 0)
        snprintf(err, errlen,
                 "sqlite %s: the database was replaced while the report started: database id "
                 "%s, expected %s",
                 s->path, id, dash + 1);
    else
        snprintf(err, errlen,
                 "sqlite %s: the database changed while the report started: load generation "
                 "%lld, expected %lld (a load committed between the planning rank's view and "
                 "this connection's)",
                 s->path, (long long)gen, want);
    return UP_EDB;
}

/* A reader's answer to share_stale: no report from a summary that cannot be trusted. */
static enum up_code stale_error(struct sqlite_store *s, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "sqlite %s: an older uptime_load wrote to this database after this version's last"
             " load; its summary cannot be trusted: load any file with this version's uptime_load"
             " (it repairs the summary), then report again",
             s->path);
    return UP_EDB;
}

static enum up_code sqlite_max_ts(struct up_store *st, int64_t *max, int *any, char *err,
                                  size_t errlen)
{
    struct sqlite_store *s = cast(st);
    sqlite3_stmt *q = NULL;
    enum up_code rc;
    int r;

    rc = check_view(s, err, errlen);
    if (rc != UP_OK)
        return rc;
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
    /* The recent polls are not in the summary yet (RECENT_SHARE_SQL): their latest instant
     * is kept beside it. */
    if (rc == UP_OK)
        rc = read_recent_share(s, 0, err, errlen);
    if (rc == UP_OK && s->share_stale)
        rc = stale_error(s, err, errlen);
    if (rc == UP_OK && s->recent_any && (!*any || s->recent_max > *max)) {
        *max = s->recent_max;
        *any = 1;
    }
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

/* Hands one store to the sink when its first poll is at or before now; 0 or the sink's
 * answer. */
static int share_emit(const struct up_store_sink *sink, const char *id, int64_t first, int64_t n,
                      int64_t now)
{
    return first <= now ? sink->store(sink->ctx, id, n) : 0;
}

/*
 * The stores with the recent table's share (RECENT_SHARE_SQL): the summary and the share,
 * both in id order, merged; a store's first poll is its summary's when it has a row (its
 * recent polls are newer), its weight the sum of both counts. One more pass over the
 * share's bytes beside the summary's scan (an hour of 128 k stores: ~5 MB).
 */
static enum up_code stores_with_share(struct sqlite_store *s, int64_t now,
                                      const struct up_store_sink *sink, char *err, size_t errlen)
{
    const unsigned char *p = s->share.p, *end = p + s->share.n;
    struct share_entry e;
    sqlite3_stmt *q = NULL;
    struct up_buf id;
    enum up_code rc;
    int have, r = SQLITE_DONE, stop = 0;

    up_buf_init(&id, 1, (size_t)INT32_MAX);
    rc = prepare(s, "SELECT store_id, npolls, first_ts FROM store_summary ORDER BY store_id", &q,
                 err, errlen);
    have = share_step(&p, end, &e);
    while (rc == UP_OK && !stop && have >= 0 && (r = sqlite3_step(q)) == SQLITE_ROW) {
        const char *sid = (const char *)sqlite3_column_text(q, 0);
        int64_t n = sqlite3_column_int64(q, 1), first = sqlite3_column_int64(q, 2);
        int c = 1;

        while (!stop && have == 1 &&
               (c = share_cmp(&e, sid, (size_t)sqlite3_column_bytes(q, 0))) < 0) {
            id.n = 0;
            if (up_buf_append(&id, e.id, e.len) != 0 || up_buf_append(&id, "", 1) != 0) {
                rc = UP_ENOMEM;
                break;
            }
            stop = share_emit(sink, id.p, e.first, e.n, now);
            have = share_step(&p, end, &e);
        }
        if (have == 1 && c == 0) {
            n += e.n;
            have = share_step(&p, end, &e);
        }
        if (rc == UP_OK && !stop)
            stop = share_emit(sink, sid, first, n, now);
    }
    if (rc == UP_OK && !stop && have >= 0 && r != SQLITE_ROW && r != SQLITE_DONE)
        rc = fail(s, "read", err, errlen);
    while (rc == UP_OK && !stop && have == 1) {
        id.n = 0;
        if (up_buf_append(&id, e.id, e.len) != 0 || up_buf_append(&id, "", 1) != 0) {
            rc = UP_ENOMEM;
            break;
        }
        stop = share_emit(sink, id.p, e.first, e.n, now);
        have = share_step(&p, end, &e);
    }
    if (rc == UP_ENOMEM) {
        snprintf(err, errlen, "sqlite %s: out of memory", s->path);
    } else if (rc == UP_OK && stop) {
        snprintf(err, errlen, "sqlite %s: scan stopped by its consumer", s->path);
        rc = UP_EFAIL;
    } else if (rc == UP_OK && have < 0) {
        snprintf(err, errlen, "sqlite %s: uptime_recent_share.stores is damaged", s->path);
        rc = UP_EDB;
    }
    up_buf_free(&id);
    sqlite3_finalize(q);
    return rc;
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
    rc = check_view(s, err, errlen);
    if (rc == UP_OK)
        rc = read_recent_share(s, 1, err, errlen);
    if (rc == UP_OK && s->share_stale)
        rc = stale_error(s, err, errlen);
    if (rc != UP_OK)
        return rc;
    if (s->share.n)
        return stores_with_share(s, now, sink, err, errlen);
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

/* Is store_meta made at this view's generation (see STORE_META_SQL)? Read inside the
 * connection's read transaction, as every read. */
static enum up_code meta_current(struct sqlite_store *s, int *yes, char *err, size_t errlen)
{
    static const char *const tables[] = {"store_meta", "store_meta_state", "uptime_meta", NULL};
    sqlite3_stmt *q = NULL;
    enum up_code rc;
    int has;

    *yes = 0;
    rc = has_tables(s, tables, &has, err, errlen);
    if (rc == UP_OK && has) {
        rc = prepare(s,
                     "SELECT EXISTS (SELECT 1 FROM store_meta_state m, uptime_meta u"
                     " WHERE m.one = 1 AND u.one = 1 AND m.generation = u.generation)",
                     &q, err, errlen);
        if (rc == UP_OK && sqlite3_step(q) != SQLITE_ROW)
            rc = fail(s, "read store_meta_state", err, errlen);
        if (rc == UP_OK)
            *yes = sqlite3_column_int(q, 0);
    }
    sqlite3_finalize(q);
    return rc;
}

/* The hours from store_meta: each store's packed rows unpacked, to hours_of in one call
 * when the sink has it. */
static enum up_code meta_hours(struct sqlite_store *s, const struct up_store_sink *sink, char *err,
                               size_t errlen)
{
    sqlite3_stmt *q = NULL;
    struct up_buf rows;
    enum up_code rc;
    int r = SQLITE_DONE;

    up_buf_init(&rows, sizeof(struct up_hours_row), (size_t)INT32_MAX / META_ROW);
    rc = prepare(s,
                 "SELECT store_id, hours FROM store_meta WHERE hours IS NOT NULL"
                 " ORDER BY store_id",
                 &q, err, errlen);
    while (rc == UP_OK && (r = sqlite3_step(q)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(q, 0);
        const unsigned char *b = sqlite3_column_blob(q, 1);
        size_t len = (size_t)sqlite3_column_bytes(q, 1), n = len / META_ROW, k;
        int stop = 0;

        if (len == 0 || len % META_ROW != 0 || !b) {
            snprintf(err, errlen,
                     "sqlite %s: store_meta.hours of store %.200s is damaged (%zu bytes, not a"
                     " multiple of %d)",
                     s->path, id ? id : "?", len, META_ROW);
            rc = UP_EDB;
            break;
        }
        rows.n = 0;
        if (up_buf_reserve(&rows, n) != 0) {
            snprintf(err, errlen, "sqlite %s: out of memory", s->path);
            rc = UP_ENOMEM;
            break;
        }
        for (k = 0; k < n; k++, b += META_ROW) {
            struct up_hours_row *h = up_buf_push(&rows);
            h->day = (int)(int16_t)get_be(b, 2);
            h->start_us = (int64_t)get_be(b + 2, 8);
            h->end_us = (int64_t)get_be(b + 10, 8);
        }
        if (sink->hours_of) {
            stop = sink->hours_of(sink->ctx, id, rows.p, n);
        } else {
            for (k = 0; k < n && !stop; k++)
                stop = sink->hours(sink->ctx, id, UP_BUF_AT(&rows, struct up_hours_row, k));
        }
        if (stop) {
            snprintf(err, errlen, "sqlite %s: scan stopped by its consumer", s->path);
            rc = UP_EFAIL;
        }
    }
    if (rc == UP_OK && r != SQLITE_DONE)
        rc = fail(s, "read", err, errlen);
    up_buf_free(&rows);
    sqlite3_finalize(q);
    return rc;
}

static enum up_code sqlite_hours(struct up_store *st, const struct up_store_sink *sink, char *err,
                                 size_t errlen)
{
    struct sqlite_store *s = cast(st);
    sqlite3_stmt *q = NULL;
    enum up_code rc;
    int meta = 0;

    rc = check_view(s, err, errlen);
    if (rc == UP_OK)
        rc = meta_current(s, &meta, err, errlen);
    if (rc != UP_OK)
        return rc;
    if (meta)
        return meta_hours(s, sink, err, errlen);
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

    int meta = 0;

    rc = check_view(s, err, errlen);
    if (rc == UP_OK)
        rc = meta_current(s, &meta, err, errlen);
    if (rc != UP_OK)
        return rc;
    rc = prepare(s,
                 meta ? "SELECT store_id, timezone_str FROM store_meta"
                        " WHERE timezone_str IS NOT NULL ORDER BY store_id"
                      : "SELECT store_id, timezone_str FROM store_timezone ORDER BY store_id",
                 &q, err, errlen);
    if (rc != UP_OK)
        return rc;
    rc = scan(s, q, row_tz, sink, err, errlen);
    sqlite3_finalize(q);
    return rc;
}

/* Polls one store may have in a report's week (and its carry-in), read newest first. */
#define MAX_STORE_POLLS ((size_t)1 << 26)

/*
 * The polls of each store with no recent polls: one index seek to (id, now), then
 * backwards through the window down to the first poll before lo (the carry-in), where
 * the scan stops; the rows are turned into time order for the sink. Seeking the carry-in
 * on its own costs a second index seek per store: ~2.9 us each, 8-12 % of the reads at
 * 160 k stores (bench/README.md, "Fifth round").
 */
static enum up_code polls_newest_first(struct sqlite_store *s, const char *const *ids, size_t n,
                                       int64_t lo, int64_t now, const struct up_store_sink *sink,
                                       char *err, size_t errlen)
{
    sqlite3_stmt *q = NULL;
    struct up_buf ts, act;
    enum up_code rc;
    size_t i, k, m;
    int r = SQLITE_DONE;

    up_buf_init(&ts, sizeof(int64_t), MAX_STORE_POLLS);
    up_buf_init(&act, 1, MAX_STORE_POLLS);
    rc = prepare(s,
                 "SELECT ts_utc, active FROM store_status WHERE store_id = ?1 AND ts_utc <= ?2"
                 " ORDER BY ts_utc DESC",
                 &q, err, errlen);
    if (rc == UP_OK)
        sqlite3_bind_int64(q, 2, now);
    for (i = 0; i < n && rc == UP_OK; i++) {
        int64_t *t;
        uint8_t *a;

        sqlite3_bind_text(q, 1, ids[i], -1, SQLITE_STATIC);
        ts.n = act.n = 0;
        while ((r = sqlite3_step(q)) == SQLITE_ROW) {
            int64_t v = sqlite3_column_int64(q, 0);
            if ((ts.n == ts.cap && up_buf_reserve(&ts, 1) != 0) ||
                (act.n == act.cap && up_buf_reserve(&act, 1) != 0)) {
                snprintf(err, errlen,
                         "sqlite %s: store %s: more than %zu polls in the week, or "
                         "out of memory",
                         s->path, ids[i], MAX_STORE_POLLS);
                rc = UP_ENOMEM;
                break;
            }
            *UP_BUF_AT(&ts, int64_t, ts.n++) = v;
            *UP_BUF_AT(&act, uint8_t, act.n++) = sqlite3_column_int(q, 1) != 0;
            if (v < lo) /* the carry-in: older polls do not count */
                break;
        }
        if (rc == UP_OK && r != SQLITE_ROW && r != SQLITE_DONE)
            rc = fail(s, "read polls", err, errlen);
        sqlite3_reset(q);
        if (rc != UP_OK || ts.n == 0)
            continue;
        /* Into time order. */
        m = ts.n;
        t = ts.p;
        a = act.p;
        for (k = 0; k < m / 2; k++) {
            int64_t tv = t[k];
            uint8_t av = a[k];
            t[k] = t[m - 1 - k];
            t[m - 1 - k] = tv;
            a[k] = a[m - 1 - k];
            a[m - 1 - k] = av;
        }
        if (sink->polls_of) {
            if (sink->polls_of(sink->ctx, ids[i], t, a, m) != 0)
                rc = UP_EFAIL;
        } else {
            for (k = 0; k < m && rc == UP_OK; k++)
                if (sink->poll(sink->ctx, ids[i], t[k], a[k]) != 0)
                    rc = UP_EFAIL;
        }
        if (rc == UP_EFAIL)
            snprintf(err, errlen, "sqlite %s: poll scan stopped by its consumer", s->path);
    }
    sqlite3_finalize(q);
    up_buf_free(&ts);
    up_buf_free(&act);
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
    int r = SQLITE_DONE, recent = 0;

    rc = check_view(s, err, errlen);
    if (rc != UP_OK)
        return rc;
    /* Does this view hold recent polls? (read inside the connection's read transaction,
     * as every read: one commit's answer). */
    rc = has_recent(s, &recent, err, errlen);
    if (rc == UP_OK && recent) {
        rc = prepare(s, "SELECT EXISTS (SELECT 1 FROM store_status_recent)", &q, err, errlen);
        if (rc == UP_OK && sqlite3_step(q) != SQLITE_ROW)
            rc = fail(s, "read polls", err, errlen);
        recent = rc == UP_OK && sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
        q = NULL;
    }
    if (rc != UP_OK)
        return rc;
    if (!recent)
        return polls_newest_first(s, ids, n, lo, now, sink, err, errlen);
    /* With recent polls, per store and table two index seeks: the carry-in (latest before
     * lo) and the window, merged by time. The inner SELECTs are uncorrelated (bound
     * parameters), so they run once per store. The carry-in is the recent table's when it
     * has one (its polls are newer than the store's in store_status). */
    rc = prepare(s,
                 "SELECT ts_utc, active FROM store_status WHERE store_id = ?1 AND ts_utc <= ?3"
                 " AND ts_utc >= COALESCE((SELECT MAX(ts_utc) FROM store_status_recent"
                 " WHERE store_id = ?1 AND ts_utc < ?2), (SELECT MAX(ts_utc) FROM store_status"
                 " WHERE store_id = ?1 AND ts_utc < ?2), ?2)"
                 " UNION ALL SELECT ts_utc, active FROM store_status_recent"
                 " WHERE store_id = ?1 AND ts_utc <= ?3"
                 " AND ts_utc >= COALESCE((SELECT MAX(ts_utc) FROM store_status_recent"
                 " WHERE store_id = ?1 AND ts_utc < ?2), ?2) ORDER BY 1",
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
    .prune = sqlite_prune,
    .max_ts = sqlite_max_ts,
    .stores = sqlite_stores,
    .hours = sqlite_hours,
    .timezones = sqlite_timezones,
    .polls = sqlite_polls,
    .snapshot = sqlite_snapshot,
    .read_at = sqlite_read_at,
};
