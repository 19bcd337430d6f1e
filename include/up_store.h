/*
 * Storage interface: one table of operations per backend (SQLite, PostgreSQL, ...),
 * chosen by the database URL. Used by uptime_load (write) and uptime_report (read).
 */
#ifndef UP_STORE_H
#define UP_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "up_error.h"
#include "up_model.h"

struct up_store_ops;

/* A connection. Each backend embeds this as the first member of its own struct. */
struct up_store {
    const struct up_store_ops *ops;
};

enum up_store_mode { UP_STORE_READ, UP_STORE_WRITE };

/* Callbacks of the read operations; a non-zero return stops the scan with UP_EFAIL. */
typedef int (*up_store_list_cb)(void *ctx, const char *id, int64_t npolls);
typedef int (*up_hours_cb)(void *ctx, const char *id, const struct up_hours_row *row);
typedef int (*up_tz_cb)(void *ctx, const char *id, const char *zone);
typedef int (*up_poll_cb)(void *ctx, const char *id, int64_t ts, int active);

struct up_store_ops {
    const char *name;
    /* Returns 1 if this backend handles url. */
    int (*accepts)(const char *url);
    enum up_code (*open)(const char *url, enum up_store_mode mode, struct up_store **out, char *err,
                         size_t errlen);
    void (*close)(struct up_store *st);

    /* Loading: begin; put rows; commit (all or nothing) or rollback. */
    enum up_code (*begin)(struct up_store *st, char *err, size_t errlen);
    /* Duplicate (store_id, ts): inactive wins. */
    enum up_code (*put_status)(struct up_store *st, const char *id, int64_t ts, int active,
                               char *err, size_t errlen);
    /* Staged; at commit every store named in this load has its hours replaced whole. */
    enum up_code (*put_hours)(struct up_store *st, const char *id, const struct up_hours_row *row,
                              char *err, size_t errlen);
    /* Upsert. */
    enum up_code (*put_timezone)(struct up_store *st, const char *id, const char *zone, char *err,
                                 size_t errlen);
    enum up_code (*commit)(struct up_store *st, char *err, size_t errlen);
    enum up_code (*rollback)(struct up_store *st, char *err, size_t errlen);

    /* Reading. Greatest poll timestamp; *any = 0 when there is no poll. */
    enum up_code (*max_ts)(struct up_store *st, int64_t *max, int *any, char *err, size_t errlen);
    /* Stores with a poll at or before now, byte-wise ascending, with a weight for
     * balancing the ranks: their poll count in [lo, now], or an estimate of it. */
    enum up_code (*stores)(struct up_store *st, int64_t lo, int64_t now, up_store_list_cb cb,
                           void *ctx, char *err, size_t errlen);
    /* Every hours row, ordered by store_id byte-wise. */
    enum up_code (*hours)(struct up_store *st, up_hours_cb cb, void *ctx, char *err, size_t errlen);
    /* Every timezone row, ordered by store_id byte-wise. */
    enum up_code (*timezones)(struct up_store *st, up_tz_cb cb, void *ctx, char *err,
                              size_t errlen);
    /* Polls of the stores ids[0..n) (sorted byte-wise, distinct), in (store_id, ts)
     * order: those in [lo, now] plus, per store, the latest one before lo (carry-in).
     * Never a store's whole history; streams without holding the result set. */
    enum up_code (*polls)(struct up_store *st, const char *const *ids, size_t n, int64_t lo,
                          int64_t now, up_poll_cb cb, void *ctx, char *err, size_t errlen);
};

/* Receives the rows of a read; one struct for every read operation (only the member the
 * operation names is called). A non-zero return stops the read with UP_EFAIL. */
struct up_store_sink {
    /* up_store_stores: a store and its weight (poll count in [lo, now], or an estimate). */
    int (*store)(void *ctx, const char *id, int64_t weight);
    /* up_store_hours: one business-hours row. */
    int (*hours)(void *ctx, const char *id, const struct up_hours_row *row);
    /* up_store_timezones: one store's zone name. */
    int (*zone)(void *ctx, const char *id, const char *zone);
    /* up_store_polls: one poll. */
    int (*poll)(void *ctx, const char *id, int64_t ts, int active);
    void *ctx;
};

/* Loading (UP_STORE_WRITE): begin; put rows; commit (all or nothing) or rollback. */
enum up_code up_store_begin(struct up_store *st, char *err, size_t errlen) UP_WARN_UNUSED;
/* One poll; a duplicate (store_id, ts) merges, inactive wins. */
enum up_code up_store_put_status(struct up_store *st, const char *id, int64_t ts, int active,
                                 char *err, size_t errlen) UP_WARN_UNUSED;
/* One hours row, staged: at commit every store named in this load has its hours replaced. */
enum up_code up_store_put_hours(struct up_store *st, const char *id,
                                const struct up_hours_row *row, char *err,
                                size_t errlen) UP_WARN_UNUSED;
/* One store's zone (upsert). */
enum up_code up_store_put_timezone(struct up_store *st, const char *id, const char *zone,
                                   char *err, size_t errlen) UP_WARN_UNUSED;
enum up_code up_store_commit(struct up_store *st, char *err, size_t errlen) UP_WARN_UNUSED;
enum up_code up_store_rollback(struct up_store *st, char *err, size_t errlen) UP_WARN_UNUSED;

/* Reading. The greatest poll timestamp in *max; *any = 0 when there is no poll. */
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
enum up_code up_store_timezones(struct up_store *st, const struct up_store_sink *sink,
                                char *err, size_t errlen) UP_WARN_UNUSED;
/* Polls of the stores ids[0..n) (sorted byte-wise, distinct) to sink->poll in (store_id,
 * ts) order: those in [lo, now] plus, per store, the latest one before lo (carry-in).
 * Never a store's whole history; streams without holding the result set. */
enum up_code up_store_polls(struct up_store *st, const char *const *ids, size_t n, int64_t lo,
                            int64_t now, const struct up_store_sink *sink, char *err,
                            size_t errlen) UP_WARN_UNUSED;

/* The backends compiled in, NULL-terminated. */
extern const struct up_store_ops *const up_store_backends[];

/*
 * Opens the backend that accepts url ("sqlite:PATH", a plain path, ...). Returns UP_OK,
 * UP_EUSAGE for a URL no backend takes, or the backend's error; message in err.
 */
enum up_code up_store_open(const char *url, enum up_store_mode mode, struct up_store **out,
                           char *err, size_t errlen) UP_WARN_UNUSED;

/* Copies url to out with any password replaced by "***" (for logs and status files). */
void up_store_redact(const char *url, char *out, size_t n);

/* Closes st. Accepts NULL. */
void up_store_close(struct up_store *st);

#endif
