/*
 * Storage: where the loader writes polls, hours and zones and the report job reads them,
 * behind one set of functions whatever the backend (SQLite, PostgreSQL, ...), chosen by
 * the source string (up_source.h). The backends' table lives in src/store/up_store_int.h.
 */
#ifndef UP_STORE_H
#define UP_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "up_error.h"
#include "up_model.h"

/* A connection to one source; opened by up_store_open, freed by up_store_close. */
struct up_store;

enum up_store_mode { UP_STORE_READ, UP_STORE_WRITE };

/* What a backend can do (up_store_caps); a read-only backend (an HDF5 snapshot) has no
 * WRITE, and every loading function then fails with UP_EUSAGE. */
enum up_store_cap {
    UP_STORE_CAP_READ = 1u << 0,  /* up_store_max_ts, _stores, _hours, _timezones, _polls */
    UP_STORE_CAP_WRITE = 1u << 1, /* up_store_begin, _put_*, _commit, _rollback, _prune */
};

/* Receives the rows of a read; one struct for every read operation (only the member the
 * operation names is called, and it must not be NULL). A non-zero return stops the read
 * with UP_EFAIL. The strings passed are valid only during the call. */
struct up_store_sink {
    /* up_store_stores: a store and its weight (poll count in [lo, now], or an estimate). */
    int (*store)(void *ctx, const char *id, int64_t weight);
    /* up_store_hours: one business-hours row. */
    int (*hours)(void *ctx, const char *id, const struct up_hours_row *row);
    /* up_store_timezones: one store's zone name. */
    int (*zone)(void *ctx, const char *id, const char *zone);
    /* up_store_polls: one poll. id is equal to one of the ids asked for (backends that can
     * pass that very pointer do, so a consumer may compare pointers before strings). */
    int (*poll)(void *ctx, const char *id, int64_t ts, int active);
    void *ctx;
    /* Optional bulk forms, after ctx so that a sink written without them stays valid. A
     * backend holding a store's rows side by side (an HDF5 snapshot) passes them in one
     * call to the member that is set instead of one call per row to hours / poll; the
     * rows, their order and the id are the same either way. */
    /* up_store_hours: n >= 1 consecutive rows of one store. */
    int (*hours_of)(void *ctx, const char *id, const struct up_hours_row *rows, size_t n);
    /* up_store_polls: n >= 1 consecutive polls of one store, ts strictly ascending,
     * active[k] 0 or 1. */
    int (*polls_of)(void *ctx, const char *id, const int64_t *ts, const uint8_t *active,
                    size_t n);
};

/*
 * Opens the backend whose kind of source url is ("sqlite:PATH" or a plain path,
 * "postgresql://...", a key=value conninfo, ...). On UP_OK *out is a connection the caller
 * closes with up_store_close; otherwise *out is NULL and err says why, the source always
 * with its password hidden. UP_EUSAGE: no backend of this build takes url (a kind not
 * compiled in: "built without PostgreSQL support", "not built with HDF5 support"), or
 * mode is UP_STORE_WRITE on a read-only backend ("<source> is read-only: ..."). Else the
 * backend's error (UP_EDB: cannot connect, not an uptime database, ...). Each rank that
 * reads opens its own connection.
 */
enum up_code up_store_open(const char *url, enum up_store_mode mode, struct up_store **out,
                           char *err, size_t errlen) UP_WARN_UNUSED;

/* Closes st; a load begun and not committed is discarded. Accepts NULL. */
void up_store_close(struct up_store *st);

/* Returns the backend's UP_STORE_CAP_* bits. */
unsigned up_store_caps(const struct up_store *st);

/* Returns the backend's static name: "sqlite", "postgresql", ... (never NULL). */
const char *up_store_backend_name(const struct up_store *st);

/*
 * Loading, on a connection opened with UP_STORE_WRITE: begin; put rows; commit (all or
 * nothing) or rollback. Each returns UP_OK, UP_EUSAGE on a read-only backend, or the
 * backend's error (UP_EDB, UP_ENOMEM), with the message in err. After a failure the
 * caller rolls back.
 */
enum up_code up_store_begin(struct up_store *st, char *err, size_t errlen) UP_WARN_UNUSED;
/* One poll; a duplicate (store_id, ts) merges, inactive wins. */
enum up_code up_store_put_status(struct up_store *st, const char *id, int64_t ts, int active,
                                 char *err, size_t errlen) UP_WARN_UNUSED;
/* One hours row, staged: at commit every store named in this load has its hours replaced
 * as a whole (identical rows stored once). */
enum up_code up_store_put_hours(struct up_store *st, const char *id, const struct up_hours_row *row,
                                char *err, size_t errlen) UP_WARN_UNUSED;
/* One store's zone (upsert; the last one of a load wins). */
enum up_code up_store_put_timezone(struct up_store *st, const char *id, const char *zone, char *err,
                                   size_t errlen) UP_WARN_UNUSED;
/* Makes the load visible to readers, all of it or (on error) none. */
enum up_code up_store_commit(struct up_store *st, char *err, size_t errlen) UP_WARN_UNUSED;
/* Discards the load; UP_OK when there is nothing to discard. */
enum up_code up_store_rollback(struct up_store *st, char *err, size_t errlen) UP_WARN_UNUSED;

/*
 * Retention, on a connection opened with UP_STORE_WRITE and outside a load: deletes every
 * poll before `before` except each store's latest one before it (the carry-in a later
 * report needs), and updates the store summary, in one transaction of its own (all or
 * nothing). A report with now >= before + 7 days reads exactly the polls it read before
 * (the week window starts at or after `before`), so its output is unchanged. *deleted
 * receives the number of polls deleted. Returns UP_OK, UP_EUSAGE on a read-only backend,
 * or the backend's error.
 */
enum up_code up_store_prune(struct up_store *st, int64_t before, int64_t *deleted, char *err,
                            size_t errlen) UP_WARN_UNUSED;

/* Longest read token of up_store_snapshot, its NUL included. */
#define UP_STORE_TOKEN_MAX 128

/*
 * One view of the data for every connection of a report (every rank reads the same
 * commit, whatever a concurrent load does). On the connection that plans (rank 0), call
 * up_store_snapshot before its first read: every later read of st sees one view, and tok
 * (toklen >= UP_STORE_TOKEN_MAX) receives a short printable string naming it,
 * "<backend>:<name>", to hand to the other connections; each calls up_store_read_at(tok)
 * right after opening and then reads that same view. st must stay open until every
 * other connection has called up_store_read_at (PostgreSQL: the exported snapshot lives
 * as long as its transaction; SQLite: a read transaction, which another connection cannot
 * join but only check: see up_store_view_changed). A backend that cannot pin a view
 * writes "" and reads as before. Returns UP_OK, UP_EUSAGE (toklen too small), or the
 * backend's error.
 */
enum up_code up_store_snapshot(struct up_store *st, char *tok, size_t toklen, char *err,
                               size_t errlen) UP_WARN_UNUSED;
/* Pins every later read of st to the view tok names (from up_store_snapshot on another
 * connection, still open); "" or NULL: no-op. Before any read of st. Returns UP_OK,
 * UP_EUSAGE for a token of another backend or one this backend cannot take, or the
 * backend's error (UP_EDB: the view is gone, its connection closed, the data changed).
 * After a refusal no read of st runs (each fails with UP_EDB). */
enum up_code up_store_read_at(struct up_store *st, const char *tok, char *err,
                              size_t errlen) UP_WARN_UNUSED;

/* Returns 1 when up_store_read_at on st failed because the source changed since the
 * token was taken (SQLite: a load committed in between, the backend cannot read an older
 * commit), so a new token (a new up_store_snapshot) may succeed; else 0. Accepts NULL. */
int up_store_view_changed(const struct up_store *st);

/*
 * Reading. Each returns UP_OK, UP_EFAIL when a sink member stopped the read, UP_EUSAGE
 * when the sink lacks the member the operation calls, or the backend's error (UP_EDB).
 */
/* The greatest poll timestamp in *max; *any = 0 (and *max = 0) when there is no poll. */
enum up_code up_store_max_ts(struct up_store *st, int64_t *max, int *any, char *err,
                             size_t errlen) UP_WARN_UNUSED;
/* Stores with a poll at or before now, byte-wise ascending, to sink->store with a weight
 * for balancing the ranks: their poll count in [lo, now], or an estimate of it. */
enum up_code up_store_stores(struct up_store *st, int64_t lo, int64_t now,
                             const struct up_store_sink *sink, char *err,
                             size_t errlen) UP_WARN_UNUSED;
/* Every hours row to sink->hours, ordered by store_id byte-wise. */
enum up_code up_store_hours(struct up_store *st, const struct up_store_sink *sink, char *err,
                            size_t errlen) UP_WARN_UNUSED;
/* Every timezone row to sink->zone, ordered by store_id byte-wise. */
enum up_code up_store_timezones(struct up_store *st, const struct up_store_sink *sink, char *err,
                                size_t errlen) UP_WARN_UNUSED;
/* Polls of the stores ids[0..n) (sorted byte-wise, distinct) to sink->poll in (store_id,
 * ts) order: those in [lo, now] plus, per store, the latest one before lo (carry-in).
 * Never a store's whole history; streams without holding the result set. */
enum up_code up_store_polls(struct up_store *st, const char *const *ids, size_t n, int64_t lo,
                            int64_t now, const struct up_store_sink *sink, char *err,
                            size_t errlen) UP_WARN_UNUSED;

#endif
