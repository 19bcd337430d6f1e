/*
 * The worker: one rank's stores. Streams their polls from the rank's own connection and
 * computes each store as soon as its polls end, so only one store's polls are held at a
 * time. No MPI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "up_deadline.h"
#include "up_job_int.h"
#include "up_store.h"
#include "up_uptime.h"

double up_job_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void compute_store(struct up_worker *w, size_t i)
{
    const struct up_share_store *s = UP_SHARE_STORE(w->share, i);
    /* Not UP_BUF_AT(.., 0): a share without hours rows has p == NULL, and NULL + 0 is
     * undefined in C (UBSan's pointer-overflow). */
    const struct up_hours_row *rows = w->share->hours.p;
    struct up_poll *polls = w->polls.p;
    const struct up_tz *tz;
    double t0 = up_job_wall();
    size_t n;

    tz = up_tzdb_zone(w->tzdb, up_share_zone(w->share, s), w->err, sizeof w->err);
    if (!tz) {
        w->rc = UP_ETZDB;
        return;
    }
    if (up_hours_intervals(s->nhours ? rows + s->hours_off : NULL, s->nhours, tz, w->lo, w->now,
                           &w->iv) != UP_OK) {
        snprintf(w->err, sizeof w->err, "store %s: out of memory for business hours", s->id);
        w->rc = UP_ENOMEM;
        return;
    }
    n = up_polls_normalize(polls, w->polls.n);
    up_uptime_compute(polls, n, w->iv.v, w->iv.n, w->now, &w->out[i]);
    w->polls.n = 0;
    w->compute_s += up_job_wall() - t0;
}

/* Finishes every store before the one named id (NULL: all the rest); their polls are
 * complete because polls arrive in store order. */
static int advance_to(struct up_worker *w, const char *id)
{
    size_t n = UP_SHARE_N(w->share);

    /* Backends that hand back the caller's own id pointers save a compare per poll. */
    while (w->cur < n && (id == NULL || (UP_SHARE_STORE(w->share, w->cur)->id != id &&
                                         strcmp(UP_SHARE_STORE(w->share, w->cur)->id, id) != 0))) {
        compute_store(w, w->cur);
        if (w->rc != UP_OK)
            return 1;
        w->cur++;
        if (w->on_store)
            w->on_store(w->on_store_ctx, w->cur);
        if (up_deadline_expired()) { /* --timeout: stops the read too */
            char what[96];
            snprintf(what, sizeof what, "computing stores (%zu of %zu done)", w->cur, n);
            w->rc = up_deadline_error(w->err, sizeof w->err, what);
            return 1;
        }
    }
    if (id && w->cur == n) {
        snprintf(w->err, sizeof w->err,
                 "database returned a poll of store %s outside this rank's list", id);
        w->rc = UP_EDB;
        return 1;
    }
    return 0;
}

static int on_poll(void *ctx, const char *id, int64_t ts, int active)
{
    struct up_worker *w = ctx;
    struct up_poll *p;

    /* The common case, a poll of the store being collected, costs a pointer compare (the
     * backends hand back the ids' own pointers) and a store into room already there. */
    if (w->cur >= UP_SHARE_N(w->share) || UP_SHARE_STORE(w->share, w->cur)->id != id) {
        if (advance_to(w, id))
            return 1;
    }
    if (w->polls.n < w->polls.cap)
        p = UP_BUF_AT(&w->polls, struct up_poll, w->polls.n++);
    else
        p = up_buf_push(&w->polls);
    if (!p) {
        snprintf(w->err, sizeof w->err,
                 "store %s: more than %zu polls in the week, or out of memory", id,
                 UP_JOB_MAX_STORE_POLLS);
        w->rc = UP_ENOMEM;
        return 1;
    }
    p->ts = ts;
    p->active = active;
    w->polls_read++;
    return 0;
}

/* A run of one store's polls at once (a backend that holds them side by side). */
static int on_polls(void *ctx, const char *id, const int64_t *ts, const uint8_t *active, size_t n)
{
    struct up_worker *w = ctx;
    struct up_poll *p;
    size_t k;

    if (w->cur >= UP_SHARE_N(w->share) || UP_SHARE_STORE(w->share, w->cur)->id != id) {
        if (advance_to(w, id))
            return 1;
    }
    if (up_buf_reserve(&w->polls, n) != 0) {
        snprintf(w->err, sizeof w->err,
                 "store %s: more than %zu polls in the week, or out of memory", id,
                 UP_JOB_MAX_STORE_POLLS);
        w->rc = UP_ENOMEM;
        return 1;
    }
    p = UP_BUF_AT(&w->polls, struct up_poll, w->polls.n);
    for (k = 0; k < n; k++) {
        p[k].ts = ts[k];
        p[k].active = active[k];
    }
    w->polls.n += n;
    w->polls_read += (int64_t)n;
    return 0;
}

enum up_code up_worker_run(struct up_worker *w, const struct up_share *share, const char *db,
                           const char *tzdir, int64_t now, int has_polls, char *err, size_t errlen)
{
    w->on_store = NULL;
    w->on_store_ctx = NULL;
    return up_worker_run_at(w, share, db, NULL, tzdir, now, has_polls, err, errlen);
}

enum up_code up_worker_run_on(struct up_worker *w, const struct up_share *share,
                              struct up_store *conn, const char *db, const char *token,
                              const char *tzdir, int64_t now, int has_polls, char *err,
                              size_t errlen)
{
    struct up_store_sink sink = {NULL, NULL, NULL, on_poll, NULL, NULL, on_polls};
    size_t n = UP_SHARE_N(share), i;
    struct up_store *st = NULL;
    const char **ids = NULL;
    enum up_code rc;
    double t0 = up_job_wall();

    {
        void (*on_store)(void *, size_t) = w->on_store;
        void *ctx = w->on_store_ctx;
        memset(w, 0, sizeof *w);
        w->on_store = on_store;
        w->on_store_ctx = ctx;
    }
    w->share = share;
    w->now = now;
    w->lo = now - UP_USEC_PER_WEEK;
    up_buf_init(&w->polls, sizeof(struct up_poll), UP_JOB_MAX_STORE_POLLS);
    w->out = calloc(n ? n : 1, sizeof *w->out);
    if (!w->out) {
        snprintf(err, errlen, "out of memory for %zu results", n);
        return UP_ENOMEM;
    }
    if (!has_polls)
        return UP_OK;
    /* Zones are prepared for the report's range: the week, a day before for overnight
     * rows, and a margin after now. Every rank opens them, even one without stores, so
     * that a node without a tz database fails the same way whatever its share. */
    w->tzdb =
        up_tzdb_open(tzdir, w->lo - 2 * UP_USEC_PER_DAY, now + 2 * UP_USEC_PER_DAY, err, errlen);
    if (!w->tzdb)
        return UP_ETZDB;
    if (n == 0)
        return UP_OK;
    ids = malloc(n * sizeof *ids);
    if (!ids) {
        snprintf(err, errlen, "out of memory");
        return UP_ENOMEM;
    }
    for (i = 0; i < n; i++)
        ids[i] = UP_SHARE_STORE(share, i)->id;
    sink.ctx = w;
    if (conn) {
        st = conn;
        rc = UP_OK;
    } else {
        rc = up_store_open(db, UP_STORE_READ, &st, err, errlen);
        if (rc == UP_OK)
            rc = up_store_read_at(st, token, err, errlen);
    }
    if (rc == UP_OK)
        rc = up_store_polls(st, ids, n, w->lo, now, &sink, err, errlen);
    if (rc == UP_OK)
        advance_to(w, NULL);
    if (w->rc != UP_OK) {
        /* The consumer's own reason beats the store's "stopped by its consumer". */
        rc = w->rc;
        snprintf(err, errlen, "%s", w->err);
    }
    if (st != conn)
        up_store_close(st);
    free(ids);
    w->read_s = up_job_wall() - t0 - w->compute_s;
    return rc;
}

enum up_code up_worker_run_at(struct up_worker *w, const struct up_share *share, const char *db,
                              const char *token, const char *tzdir, int64_t now, int has_polls,
                              char *err, size_t errlen)
{
    return up_worker_run_on(w, share, NULL, db, token, tzdir, now, has_polls, err, errlen);
}

void up_worker_free(struct up_worker *w)
{
    if (!w)
        return;
    up_intervals_free(&w->iv);
    up_tzdb_free(w->tzdb);
    up_buf_free(&w->polls);
    free(w->out);
    w->out = NULL;
    w->tzdb = NULL;
}
