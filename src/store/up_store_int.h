/*
 * Private to the store module (curl's vtls.h / vtls_int.h split): the table of operations
 * each backend exports and the header every connection starts with. Callers use the
 * functions of include/up_store.h; only src/store/ and the tests' own backends include
 * this.
 */
#ifndef UP_STORE_INT_H
#define UP_STORE_INT_H

#include "up_store.h"

/*
 * One backend. Each backend file is all static and exports one const table. Every read
 * op is set iff caps has UP_STORE_CAP_READ, every write op iff it has UP_STORE_CAP_WRITE
 * (a read-only backend leaves the write ops NULL); up_store.c checks both before a call,
 * so a backend never sees a call it did not declare, nor a NULL sink member.
 */
struct up_store_ops {
    const char *name; /* "sqlite", "postgresql", ...: up_store_backend_name */
    unsigned caps;    /* UP_STORE_CAP_* */
    /* Returns 1 if url is this backend's own kind of source (up_source_kind), else 0;
     * never another backend's. */
    int (*accepts)(const char *url);
    /* Opens url (mode is WRITE only if caps has WRITE). On UP_OK *out is a connection
     * whose ops is this table; otherwise *out is NULL and err says why, with the
     * password hidden. */
    enum up_code (*open)(const char *url, enum up_store_mode mode, struct up_store **out, char *err,
                         size_t errlen);
    /* Frees st (never NULL), discarding an uncommitted load. */
    void (*close)(struct up_store *st);

    /* Writing: the contracts of up_store_begin ... up_store_rollback. */
    enum up_code (*begin)(struct up_store *st, char *err, size_t errlen);
    enum up_code (*put_status)(struct up_store *st, const char *id, int64_t ts, int active,
                               char *err, size_t errlen);
    enum up_code (*put_hours)(struct up_store *st, const char *id, const struct up_hours_row *row,
                              char *err, size_t errlen);
    enum up_code (*put_timezone)(struct up_store *st, const char *id, const char *zone, char *err,
                                 size_t errlen);
    enum up_code (*commit)(struct up_store *st, char *err, size_t errlen);
    enum up_code (*rollback)(struct up_store *st, char *err, size_t errlen);
    /* The contract of up_store_prune. */
    enum up_code (*prune)(struct up_store *st, int64_t before, int64_t *deleted, char *err,
                          size_t errlen);

    /* Reading: the contracts of up_store_max_ts ... up_store_polls; the sink member the
     * operation names is set. */
    enum up_code (*max_ts)(struct up_store *st, int64_t *max, int *any, char *err, size_t errlen);
    enum up_code (*stores)(struct up_store *st, int64_t lo, int64_t now,
                           const struct up_store_sink *sink, char *err, size_t errlen);
    enum up_code (*hours)(struct up_store *st, const struct up_store_sink *sink, char *err,
                          size_t errlen);
    enum up_code (*timezones)(struct up_store *st, const struct up_store_sink *sink, char *err,
                              size_t errlen);
    enum up_code (*polls)(struct up_store *st, const char *const *ids, size_t n, int64_t lo,
                          int64_t now, const struct up_store_sink *sink, char *err, size_t errlen);

    /* One view across connections (up_store_snapshot, up_store_read_at): both set or both
     * NULL (then the token is "" and reads are not pinned); only with READ. snapshot writes
     * the backend's own part of the token (printable, no NUL within toklen), read_at gets
     * that part back: up_store.c adds and checks the "<name>:" prefix. */
    enum up_code (*snapshot)(struct up_store *st, char *tok, size_t toklen, char *err,
                             size_t errlen);
    enum up_code (*read_at)(struct up_store *st, const char *tok, char *err, size_t errlen);
};

/* A connection. Each backend embeds this as the first member of its own struct and sets
 * ops; up_store_open fills source. */
struct up_store {
    const struct up_store_ops *ops;
    char source[512]; /* the source string, password hidden: the name in store messages */
    int view_changed; /* set by read_at when it refused because the source changed since
                       * the token was taken (up_store_view_changed) */
};

/* The built-in backends (up_store.c, each under its UPTIME_WITH_* option). */
extern const struct up_store_ops up_store_sqlite_ops;
#ifdef UPTIME_WITH_POSTGRESQL
extern const struct up_store_ops up_store_pg_ops;
#endif
#ifdef UPTIME_WITH_HDF5
extern const struct up_store_ops up_store_hdf5_ops; /* read-only */
#endif

/*
 * Adds a backend that is not built in (the tests' "mem:" backend, a test's read-only
 * stand-in): asked before the built-in ones, so it may stand in for a kind of source.
 * Registering the same table twice is a no-op. Returns UP_OK, or UP_EUSAGE if the table
 * contradicts its caps (a write op set without WRITE, ...) or 8 are registered already.
 * Not thread-safe: call it from main before anything opens a store.
 */
enum up_code up_store_register_backend(const struct up_store_ops *ops) UP_WARN_UNUSED;

/* Removes a backend added by up_store_register_backend (no-op if it is not there). */
void up_store_unregister_backend(const struct up_store_ops *ops);

/* Returns the backend up_store_open would use for url, or NULL when none takes it. */
const struct up_store_ops *up_store_backend_for(const char *url);

#endif
