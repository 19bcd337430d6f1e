#include "up_store.h"

#include <stdio.h>
#include <string.h>
#include "up_source.h"

extern const struct up_store_ops up_store_pg_ops;
extern const struct up_store_ops up_store_sqlite_ops;
extern const struct up_store_ops up_store_mem_ops;

/* Order matters: the first backend that accepts a URL takes it; SQLite takes plain paths,
 * so PostgreSQL (URIs and key=value conninfo strings) asks first. */
const struct up_store_ops *const up_store_backends[] = {
    &up_store_pg_ops,
    &up_store_mem_ops, /* "mem:NAME", the tests' in-memory backend */
    &up_store_sqlite_ops,
    NULL,
};

enum up_code up_store_open(const char *url, enum up_store_mode mode, struct up_store **out,
                           char *err, size_t errlen)
{
    size_t i;

    *out = NULL;
    for (i = 0; up_store_backends[i]; i++)
        if (up_store_backends[i]->accepts(url))
            return up_store_backends[i]->open(url, mode, out, err, errlen);
    snprintf(err, errlen, "no storage backend accepts database '%s'", url);
    return UP_EUSAGE;
}

void up_store_close(struct up_store *st)
{
    if (st)
        st->ops->close(st);
}

void up_store_redact(const char *url, char *out, size_t n)
{
    up_source_redact(url, out, n);
}

enum up_code up_store_begin(struct up_store *st, char *err, size_t errlen)
{
    return st->ops->begin(st, err, errlen);
}

enum up_code up_store_put_status(struct up_store *st, const char *id, int64_t ts, int active,
                                 char *err, size_t errlen)
{
    return st->ops->put_status(st, id, ts, active, err, errlen);
}

enum up_code up_store_put_hours(struct up_store *st, const char *id,
                                const struct up_hours_row *row, char *err, size_t errlen)
{
    return st->ops->put_hours(st, id, row, err, errlen);
}

enum up_code up_store_put_timezone(struct up_store *st, const char *id, const char *zone,
                                   char *err, size_t errlen)
{
    return st->ops->put_timezone(st, id, zone, err, errlen);
}

enum up_code up_store_commit(struct up_store *st, char *err, size_t errlen)
{
    return st->ops->commit(st, err, errlen);
}

enum up_code up_store_rollback(struct up_store *st, char *err, size_t errlen)
{
    return st->ops->rollback(st, err, errlen);
}

enum up_code up_store_max_ts(struct up_store *st, int64_t *max, int *any, char *err,
                             size_t errlen)
{
    return st->ops->max_ts(st, max, any, err, errlen);
}

enum up_code up_store_stores(struct up_store *st, int64_t lo, int64_t now,
                             const struct up_store_sink *sink, char *err, size_t errlen)
{
    return st->ops->stores(st, lo, now, sink->store, sink->ctx, err, errlen);
}

enum up_code up_store_hours(struct up_store *st, const struct up_store_sink *sink, char *err,
                            size_t errlen)
{
    return st->ops->hours(st, sink->hours, sink->ctx, err, errlen);
}

enum up_code up_store_timezones(struct up_store *st, const struct up_store_sink *sink,
                                char *err, size_t errlen)
{
    return st->ops->timezones(st, sink->zone, sink->ctx, err, errlen);
}

enum up_code up_store_polls(struct up_store *st, const char *const *ids, size_t n, int64_t lo,
                            int64_t now, const struct up_store_sink *sink, char *err,
                            size_t errlen)
{
    return st->ops->polls(st, ids, n, lo, now, sink->poll, sink->ctx, err, errlen);
}
