/* The store's functions over the backends' tables: which backend opens a source, what it
 * may do, and the checks every call goes through. */
#include "up_store_int.h"

#include <stdio.h>
#include <string.h>
#include "up_deadline.h"
#include "up_source.h"

/* The backends compiled in. Each accepts only its own kind of source, so the order does
 * not matter. */
static const struct up_store_ops *const builtin[] = {
#ifdef UPTIME_WITH_POSTGRESQL
    &up_store_pg_ops,
#endif
    &up_store_sqlite_ops,
#ifdef UPTIME_WITH_HDF5
    &up_store_hdf5_ops, /* read-only snapshots */
#endif
};

#define MAX_REGISTERED 8
static const struct up_store_ops *registered[MAX_REGISTERED];

#define WRITE_OPS(o)                                                                               \
    ((o)->begin && (o)->put_status && (o)->put_hours && (o)->put_timezone && (o)->commit &&        \
     (o)->rollback && (o)->prune)
#define ANY_WRITE_OP(o)                                                                            \
    ((o)->begin || (o)->put_status || (o)->put_hours || (o)->put_timezone || (o)->commit ||        \
     (o)->rollback || (o)->prune)
#define READ_OPS(o) ((o)->max_ts && (o)->stores && (o)->hours && (o)->timezones && (o)->polls)
#define ANY_READ_OP(o) ((o)->max_ts || (o)->stores || (o)->hours || (o)->timezones || (o)->polls)

/* A table whose ops match its caps exactly. */
static int consistent(const struct up_store_ops *o)
{
    int w = (o->caps & UP_STORE_CAP_WRITE) != 0, r = (o->caps & UP_STORE_CAP_READ) != 0;

    return o->name && o->accepts && o->open && o->close && (w ? WRITE_OPS(o) : !ANY_WRITE_OP(o)) &&
           (r ? READ_OPS(o) : !ANY_READ_OP(o)) && !o->snapshot == !o->read_at &&
           (r || !o->snapshot);
}

enum up_code up_store_register_backend(const struct up_store_ops *ops)
{
    size_t i, k = MAX_REGISTERED;

    if (!ops || !consistent(ops))
        return UP_EUSAGE;
    for (i = 0; i < MAX_REGISTERED; i++) {
        if (registered[i] == ops)
            return UP_OK;
        if (!registered[i] && k == MAX_REGISTERED)
            k = i;
    }
    if (k == MAX_REGISTERED)
        return UP_EUSAGE;
    registered[k] = ops;
    return UP_OK;
}

void up_store_unregister_backend(const struct up_store_ops *ops)
{
    size_t i;

    for (i = 0; i < MAX_REGISTERED; i++)
        if (registered[i] == ops)
            registered[i] = NULL;
}

const struct up_store_ops *up_store_backend_for(const char *url)
{
    size_t i;

    for (i = 0; i < MAX_REGISTERED; i++)
        if (registered[i] && registered[i]->accepts(url))
            return registered[i];
    for (i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (builtin[i]->accepts(url))
            return builtin[i];
    return NULL;
}

/* No backend of this build takes url: say which kind it is and why it is missing. */
static enum up_code no_backend(const char *url, const char *shown, char *err, size_t errlen)
{
    switch (up_source_kind(url)) {
    case UP_SOURCE_PG_URI:
    case UP_SOURCE_PG_KV:
        snprintf(err, errlen,
                 "%s is a PostgreSQL source, but this program was built without PostgreSQL"
                 " support (UPTIME_WITH_POSTGRESQL=OFF)",
                 shown);
        break;
    case UP_SOURCE_HDF5:
        snprintf(err, errlen,
                 "%s is an HDF5 snapshot, but this program was not built with HDF5 support"
                 " (no HDF5 backend)",
                 shown);
        break;
    case UP_SOURCE_MEM:
        snprintf(err, errlen,
                 "%s: no backend for in-memory sources in this program (the mem: backend is"
                 " linked into the unit tests only)",
                 shown);
        break;
    default:
        snprintf(err, errlen, "no storage backend accepts database %s", shown);
        break;
    }
    return UP_EUSAGE;
}

static enum up_code read_only(const char *shown, const char *backend, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "%s is read-only: the %s backend cannot load data (load into a SQLite or PostgreSQL"
             " database)",
             shown, backend);
    return UP_EUSAGE;
}

enum up_code up_store_open(const char *url, enum up_store_mode mode, struct up_store **out,
                           char *err, size_t errlen)
{
    const struct up_store_ops *ops = up_store_backend_for(url);
    char shown[sizeof((struct up_store *)0)->source];
    enum up_code rc;

    *out = NULL;
    up_source_redact(url, shown, sizeof shown);
    if (!ops)
        return no_backend(url, shown, err, errlen);
    if (mode == UP_STORE_WRITE && !(ops->caps & UP_STORE_CAP_WRITE))
        return read_only(shown, ops->name, err, errlen);
    if (mode == UP_STORE_READ && !(ops->caps & UP_STORE_CAP_READ)) {
        snprintf(err, errlen, "%s is write-only: the %s backend cannot be read", shown, ops->name);
        return UP_EUSAGE;
    }
    rc = ops->open(url, mode, out, err, errlen);
    if (rc != UP_OK) {
        *out = NULL;
        return rc;
    }
    memcpy((*out)->source, shown, sizeof shown);
    (*out)->view_changed = 0;
    return UP_OK;
}

void up_store_close(struct up_store *st)
{
    if (st)
        st->ops->close(st);
}

unsigned up_store_caps(const struct up_store *st)
{
    return st->ops->caps;
}

const char *up_store_backend_name(const struct up_store *st)
{
    return st->ops->name;
}

/* The run's --timeout (up_deadline), for every backend: one whose waits are not bounded
 * otherwise (SQLite, HDF5) is stopped at its next call, a load at its next row. */
static enum up_code in_time(const struct up_store *st, const char *doing, const char *object,
                            char *err, size_t errlen)
{
    char what[700];

    if (!up_deadline_expired())
        return UP_OK;
    snprintf(what, sizeof what, "%s: %s%s", st->source, doing, object);
    return up_deadline_error(err, errlen, what);
}

/* Every loading function starts here: a read-only backend has no write ops. doing: the
 * step, for a timeout (NULL: no deadline, for a rollback). */
static enum up_code can_write(const struct up_store *st, const char *doing, char *err,
                              size_t errlen)
{
    if (!(st->ops->caps & UP_STORE_CAP_WRITE))
        return read_only(st->source, st->ops->name, err, errlen);
    return doing ? in_time(st, doing, "", err, errlen) : UP_OK;
}

/* Every read function starts here: the backend reads and the sink has the member the
 * operation calls (member != 0). */
static enum up_code can_read(const struct up_store *st, int member, const char *what, char *err,
                             size_t errlen)
{
    if (!(st->ops->caps & UP_STORE_CAP_READ)) {
        snprintf(err, errlen, "%s is write-only: the %s backend cannot be read", st->source,
                 st->ops->name);
        return UP_EUSAGE;
    }
    if (!member) {
        snprintf(err, errlen, "%s: reading %s needs a sink for it", st->source, what);
        return UP_EUSAGE;
    }
    return in_time(st, "read ", what, err, errlen);
}

enum up_code up_store_begin(struct up_store *st, char *err, size_t errlen)
{
    enum up_code rc = can_write(st, "begin load", err, errlen);
    return rc != UP_OK ? rc : st->ops->begin(st, err, errlen);
}

enum up_code up_store_put_status(struct up_store *st, const char *id, int64_t ts, int active,
                                 char *err, size_t errlen)
{
    enum up_code rc = can_write(st, "load polls", err, errlen);
    return rc != UP_OK ? rc : st->ops->put_status(st, id, ts, active, err, errlen);
}

enum up_code up_store_put_hours(struct up_store *st, const char *id, const struct up_hours_row *row,
                                char *err, size_t errlen)
{
    enum up_code rc = can_write(st, "load business hours", err, errlen);
    return rc != UP_OK ? rc : st->ops->put_hours(st, id, row, err, errlen);
}

enum up_code up_store_put_timezone(struct up_store *st, const char *id, const char *zone, char *err,
                                   size_t errlen)
{
    enum up_code rc = can_write(st, "load time zones", err, errlen);
    return rc != UP_OK ? rc : st->ops->put_timezone(st, id, zone, err, errlen);
}

enum up_code up_store_commit(struct up_store *st, char *err, size_t errlen)
{
    enum up_code rc = can_write(st, "commit", err, errlen);
    return rc != UP_OK ? rc : st->ops->commit(st, err, errlen);
}

enum up_code up_store_rollback(struct up_store *st, char *err, size_t errlen)
{
    enum up_code rc = can_write(st, NULL, err, errlen);
    return rc != UP_OK ? rc : st->ops->rollback(st, err, errlen);
}

enum up_code up_store_prune(struct up_store *st, int64_t before, int64_t *deleted, char *err,
                            size_t errlen)
{
    enum up_code rc = can_write(st, "prune", err, errlen);

    *deleted = 0;
    return rc != UP_OK ? rc : st->ops->prune(st, before, deleted, err, errlen);
}

enum up_code up_store_max_ts(struct up_store *st, int64_t *max, int *any, char *err, size_t errlen)
{
    enum up_code rc = can_read(st, 1, "the latest poll", err, errlen);
    return rc != UP_OK ? rc : st->ops->max_ts(st, max, any, err, errlen);
}

enum up_code up_store_stores(struct up_store *st, int64_t lo, int64_t now,
                             const struct up_store_sink *sink, char *err, size_t errlen)
{
    enum up_code rc = can_read(st, sink && sink->store, "stores", err, errlen);
    return rc != UP_OK ? rc : st->ops->stores(st, lo, now, sink, err, errlen);
}

enum up_code up_store_hours(struct up_store *st, const struct up_store_sink *sink, char *err,
                            size_t errlen)
{
    enum up_code rc = can_read(st, sink && sink->hours, "hours", err, errlen);
    return rc != UP_OK ? rc : st->ops->hours(st, sink, err, errlen);
}

enum up_code up_store_timezones(struct up_store *st, const struct up_store_sink *sink, char *err,
                                size_t errlen)
{
    enum up_code rc = can_read(st, sink && sink->zone, "time zones", err, errlen);
    return rc != UP_OK ? rc : st->ops->timezones(st, sink, err, errlen);
}

enum up_code up_store_polls(struct up_store *st, const char *const *ids, size_t n, int64_t lo,
                            int64_t now, const struct up_store_sink *sink, char *err, size_t errlen)
{
    enum up_code rc = can_read(st, sink && sink->poll, "polls", err, errlen);
    return rc != UP_OK ? rc : st->ops->polls(st, ids, n, lo, now, sink, err, errlen);
}

enum up_code up_store_snapshot(struct up_store *st, char *tok, size_t toklen, char *err,
                               size_t errlen)
{
    size_t k = strlen(st->ops->name), i;
    enum up_code rc;

    if (!tok || toklen < UP_STORE_TOKEN_MAX) {
        snprintf(err, errlen, "%s: a read token needs %d bytes", st->source, UP_STORE_TOKEN_MAX);
        return UP_EUSAGE;
    }
    tok[0] = '\0';
    rc = can_read(st, 1, "a snapshot", err, errlen);
    if (rc != UP_OK || !st->ops->snapshot)
        return rc;
    memcpy(tok, st->ops->name, k);
    tok[k] = ':';
    rc = st->ops->snapshot(st, tok + k + 1, UP_STORE_TOKEN_MAX - k - 1, err, errlen);
    if (rc != UP_OK) {
        tok[0] = '\0';
        return rc;
    }
    /* The token crosses MPI as a string and may reach a message: printable ASCII only. */
    for (i = k + 1; i < UP_STORE_TOKEN_MAX && tok[i] >= '!' && tok[i] <= '~'; i++)
        ;
    if (i == k + 1 || i == UP_STORE_TOKEN_MAX || tok[i] != '\0') {
        snprintf(err, errlen, "%s: the %s backend gave a malformed read token", st->source,
                 st->ops->name);
        tok[0] = '\0';
        return UP_EDB;
    }
    return UP_OK;
}

enum up_code up_store_read_at(struct up_store *st, const char *tok, char *err, size_t errlen)
{
    size_t k = strlen(st->ops->name);
    enum up_code rc;

    if (!tok || !tok[0])
        return UP_OK;
    rc = can_read(st, 1, "a snapshot", err, errlen);
    if (rc != UP_OK)
        return rc;
    if (!st->ops->read_at || strncmp(tok, st->ops->name, k) != 0 || tok[k] != ':' || !tok[k + 1] ||
        strlen(tok) >= UP_STORE_TOKEN_MAX) {
        snprintf(err, errlen, "%s: read token '%.*s' is not one the %s backend gave", st->source,
                 UP_STORE_TOKEN_MAX, tok, st->ops->name);
        return UP_EUSAGE;
    }
    return st->ops->read_at(st, tok + k + 1, err, errlen);
}

int up_store_view_changed(const struct up_store *st)
{
    return st ? st->view_changed : 0;
}
