/*
 * In-memory backend ("mem:NAME"): the storage semantics without a database, for unit
 * tests of the loader and of the whole job on MPI_COMM_SELF (like IOR's DUMMY backend).
 * Named data sets live until up_store_mem_reset; one process only.
 */
#include "up_store_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "up_buf.h"
#include "up_source.h"

/* Items per list of a data set or a load: far beyond any test, and a cap all the same. */
#define MEM_MAX_ITEMS ((size_t)1 << 26)

struct mem_poll {
    char *id;
    int64_t ts;
    int active;
};

struct mem_hours {
    char *id;
    struct up_hours_row row;
};

struct mem_tz {
    char *id;
    char *zone;
};

/* Three lists of rows: a data set's, or a load's until it commits. */
struct mem_rows {
    struct up_buf polls; /* struct mem_poll; in a data set sorted by (id, ts), unique */
    struct up_buf hours; /* struct mem_hours; in a data set sorted by id */
    struct up_buf tz;    /* struct mem_tz; in a data set sorted by id, unique */
};

struct mem_data {
    char *name;
    struct mem_rows rows;
    struct mem_data *next;
};

struct mem_store {
    struct up_store base;
    struct mem_data *d;
    struct mem_rows load; /* this load's rows, until commit */
};

static struct mem_data *datasets;

static void rows_init(struct mem_rows *r)
{
    up_buf_init(&r->polls, sizeof(struct mem_poll), MEM_MAX_ITEMS);
    up_buf_init(&r->hours, sizeof(struct mem_hours), MEM_MAX_ITEMS);
    up_buf_init(&r->tz, sizeof(struct mem_tz), MEM_MAX_ITEMS);
}

/* Frees the rows and their strings; r stays usable (empty). */
static void rows_free(struct mem_rows *r)
{
    size_t i;

    for (i = 0; i < r->polls.n; i++)
        free(UP_BUF_AT(&r->polls, struct mem_poll, i)->id);
    for (i = 0; i < r->hours.n; i++)
        free(UP_BUF_AT(&r->hours, struct mem_hours, i)->id);
    for (i = 0; i < r->tz.n; i++) {
        free(UP_BUF_AT(&r->tz, struct mem_tz, i)->id);
        free(UP_BUF_AT(&r->tz, struct mem_tz, i)->zone);
    }
    up_buf_free(&r->polls);
    up_buf_free(&r->hours);
    up_buf_free(&r->tz);
}

void up_store_mem_reset(void)
{
    while (datasets) {
        struct mem_data *d = datasets;
        datasets = d->next;
        rows_free(&d->rows);
        free(d->name);
        free(d);
    }
}

static int mem_accepts(const char *url)
{
    return up_source_kind(url) == UP_SOURCE_MEM;
}

static struct mem_store *cast(struct up_store *st)
{
    return (struct mem_store *)st;
}

static enum up_code mem_open(const char *url, enum up_store_mode mode, struct up_store **out,
                             char *err, size_t errlen)
{
    const char *name = url + 4;
    struct mem_data *d;
    struct mem_store *s;

    *out = NULL;
    for (d = datasets; d; d = d->next)
        if (strcmp(d->name, name) == 0)
            break;
    if (!d && mode == UP_STORE_READ) {
        snprintf(err, errlen, "no in-memory database '%s'", name);
        return UP_EDB;
    }
    if (!d) {
        d = calloc(1, sizeof *d);
        if (!d || !(d->name = strdup(name))) {
            free(d);
            snprintf(err, errlen, "out of memory");
            return UP_ENOMEM;
        }
        rows_init(&d->rows);
        d->next = datasets;
        datasets = d;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return UP_ENOMEM;
    }
    s->base.ops = &up_store_mem_ops;
    s->d = d;
    rows_init(&s->load);
    *out = &s->base;
    return UP_OK;
}

static void mem_close(struct up_store *st)
{
    struct mem_store *s = cast(st);
    rows_free(&s->load);
    free(s);
}

static enum up_code mem_begin(struct up_store *st, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    rows_free(&cast(st)->load);
    return UP_OK;
}

static enum up_code oom(char *err, size_t errlen)
{
    snprintf(err, errlen, "out of memory");
    return UP_ENOMEM;
}

static enum up_code mem_put_status(struct up_store *st, const char *id, int64_t ts, int active,
                                   char *err, size_t errlen)
{
    struct up_buf *b = &cast(st)->load.polls;
    struct mem_poll *p = up_buf_push(b);

    if (!p)
        return oom(err, errlen);
    p->ts = ts;
    p->active = active;
    p->id = strdup(id);
    if (!p->id) {
        b->n--;
        return oom(err, errlen);
    }
    return UP_OK;
}

static enum up_code mem_put_hours(struct up_store *st, const char *id,
                                  const struct up_hours_row *row, char *err, size_t errlen)
{
    struct up_buf *b = &cast(st)->load.hours;
    struct mem_hours *h = up_buf_push(b);

    if (!h)
        return oom(err, errlen);
    h->row = *row;
    h->id = strdup(id);
    if (!h->id) {
        b->n--;
        return oom(err, errlen);
    }
    return UP_OK;
}

static enum up_code mem_put_timezone(struct up_store *st, const char *id, const char *zone,
                                     char *err, size_t errlen)
{
    struct up_buf *b = &cast(st)->load.tz;
    struct mem_tz *t = up_buf_push(b);

    if (!t)
        return oom(err, errlen);
    t->id = strdup(id);
    t->zone = strdup(zone);
    if (!t->id || !t->zone) {
        free(t->id);
        free(t->zone);
        b->n--;
        return oom(err, errlen);
    }
    return UP_OK;
}

static int cmp_poll(const void *a, const void *b)
{
    const struct mem_poll *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    return (x->ts > y->ts) - (x->ts < y->ts);
}

static int cmp_hours(const void *a, const void *b)
{
    const struct mem_hours *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    if (x->row.day != y->row.day)
        return x->row.day - y->row.day;
    if (x->row.start_us != y->row.start_us)
        return (x->row.start_us > y->row.start_us) - (x->row.start_us < y->row.start_us);
    return (x->row.end_us > y->row.end_us) - (x->row.end_us < y->row.end_us);
}

static int cmp_hours_id(const void *a, const void *b)
{
    return strcmp(((const struct mem_hours *)a)->id, ((const struct mem_hours *)b)->id);
}

/* Appends src's items to dst, which takes over their strings; src is left empty. */
static int move_rows(struct up_buf *dst, struct up_buf *src)
{
    if (up_buf_append(dst, src->p, src->n) != 0)
        return -1;
    src->n = 0;
    return 0;
}

static enum up_code mem_commit(struct up_store *st, char *err, size_t errlen)
{
    struct mem_store *s = cast(st);
    struct mem_data *d = s->d;
    struct mem_poll *p;
    struct mem_hours *h, *staged;
    struct mem_tz *t;
    size_t i, w, nstaged;

    /* Room first, so nothing below can fail half-way through the merge. */
    if (up_buf_reserve(&d->rows.polls, s->load.polls.n) != 0 ||
        up_buf_reserve(&d->rows.hours, s->load.hours.n) != 0 ||
        up_buf_reserve(&d->rows.tz, s->load.tz.n) != 0)
        return oom(err, errlen);
    /* Hours: drop the rows of every store named in this load, then add the new ones. */
    staged = s->load.hours.p;
    nstaged = s->load.hours.n;
    if (nstaged)
        qsort(staged, nstaged, sizeof *staged, cmp_hours);
    h = d->rows.hours.p;
    for (i = w = 0; i < d->rows.hours.n; i++) {
        struct mem_hours key = h[i];
        if (nstaged && bsearch(&key, staged, nstaged, sizeof *staged, cmp_hours_id)) {
            free(h[i].id);
            continue;
        }
        h[w++] = h[i];
    }
    d->rows.hours.n = w;
    /* Polls, hours and zones join the data (room reserved above); then each is sorted and
     * merged. */
    if (move_rows(&d->rows.polls, &s->load.polls) || move_rows(&d->rows.hours, &s->load.hours) ||
        move_rows(&d->rows.tz, &s->load.tz))
        return oom(err, errlen);
    p = d->rows.polls.p;
    if (d->rows.polls.n)
        qsort(p, d->rows.polls.n, sizeof *p, cmp_poll);
    for (i = w = 0; i < d->rows.polls.n; i++) {
        if (w > 0 && cmp_poll(&p[w - 1], &p[i]) == 0) {
            p[w - 1].active = p[w - 1].active && p[i].active; /* inactive wins */
            free(p[i].id);
        } else {
            p[w++] = p[i];
        }
    }
    d->rows.polls.n = w;
    h = d->rows.hours.p;
    if (d->rows.hours.n)
        qsort(h, d->rows.hours.n, sizeof *h, cmp_hours);
    for (i = w = 0; i < d->rows.hours.n; i++) {
        if (w > 0 && cmp_hours(&h[w - 1], &h[i]) == 0)
            free(h[i].id);
        else
            h[w++] = h[i];
    }
    d->rows.hours.n = w;
    /* Zones: a stable sort keeps the order of arrival; the last row of a store wins. */
    t = d->rows.tz.p;
    for (i = 1; i < d->rows.tz.n; i++) { /* insertion sort: stable */
        struct mem_tz key = t[i];
        size_t j = i;
        while (j > 0 && strcmp(t[j - 1].id, key.id) > 0) {
            t[j] = t[j - 1];
            j--;
        }
        t[j] = key;
    }
    for (i = w = 0; i < d->rows.tz.n; i++) {
        if (w > 0 && strcmp(t[w - 1].id, t[i].id) == 0) {
            free(t[w - 1].id);
            free(t[w - 1].zone);
            t[w - 1] = t[i];
        } else {
            t[w++] = t[i];
        }
    }
    d->rows.tz.n = w;
    return UP_OK;
}

static enum up_code mem_rollback(struct up_store *st, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    rows_free(&cast(st)->load);
    return UP_OK;
}

/* Retention (up_store_prune): in each store's sorted polls, those before its latest poll
 * before `before` go. */
static enum up_code mem_prune(struct up_store *st, int64_t before, int64_t *deleted, char *err,
                              size_t errlen)
{
    struct mem_data *d = cast(st)->d;
    struct mem_poll *p = d->rows.polls.p;
    size_t i = 0, w = 0, j, k;
    (void)err;
    (void)errlen;

    while (i < d->rows.polls.n) {
        for (j = i; j < d->rows.polls.n && strcmp(p[j].id, p[i].id) == 0; j++)
            ;
        /* The store's polls are p[i..j); k: its first poll at or after `before`. */
        for (k = i; k < j && p[k].ts < before; k++)
            ;
        if (k > i + 1) {
            size_t drop;
            for (drop = i; drop < k - 1; drop++)
                free(p[drop].id);
            *deleted += (int64_t)(k - 1 - i);
            i = k - 1;
        }
        for (; i < j; i++)
            p[w++] = p[i];
    }
    d->rows.polls.n = w;
    return UP_OK;
}

static enum up_code mem_max_ts(struct up_store *st, int64_t *max, int *any, char *err,
                               size_t errlen)
{
    struct mem_data *d = cast(st)->d;
    struct mem_poll *p = d->rows.polls.p;
    size_t i;
    (void)err;
    (void)errlen;

    *any = d->rows.polls.n > 0;
    *max = 0;
    for (i = 0; i < d->rows.polls.n; i++)
        if (i == 0 || p[i].ts > *max)
            *max = p[i].ts;
    return UP_OK;
}

static enum up_code stopped(char *err, size_t errlen)
{
    snprintf(err, errlen, "in-memory scan stopped by its consumer");
    return UP_EFAIL;
}

static enum up_code mem_stores(struct up_store *st, int64_t lo, int64_t now,
                               const struct up_store_sink *sink, char *err, size_t errlen)
{
    struct mem_data *d = cast(st)->d;
    struct mem_poll *p = d->rows.polls.p;
    size_t i = 0, j;
    (void)lo;

    while (i < d->rows.polls.n) {
        for (j = i; j < d->rows.polls.n && strcmp(p[j].id, p[i].id) == 0; j++)
            ;
        /* Polls of a store are sorted: its first one decides whether it exists yet. */
        if (p[i].ts <= now && sink->store(sink->ctx, p[i].id, (int64_t)(j - i)) != 0)
            return stopped(err, errlen);
        i = j;
    }
    return UP_OK;
}

static enum up_code mem_hours_scan(struct up_store *st, const struct up_store_sink *sink, char *err,
                                   size_t errlen)
{
    struct mem_data *d = cast(st)->d;
    struct mem_hours *h = d->rows.hours.p;
    size_t i;

    for (i = 0; i < d->rows.hours.n; i++)
        if (sink->hours(sink->ctx, h[i].id, &h[i].row) != 0)
            return stopped(err, errlen);
    return UP_OK;
}

static enum up_code mem_timezones(struct up_store *st, const struct up_store_sink *sink, char *err,
                                  size_t errlen)
{
    struct mem_data *d = cast(st)->d;
    struct mem_tz *t = d->rows.tz.p;
    size_t i;

    for (i = 0; i < d->rows.tz.n; i++)
        if (sink->zone(sink->ctx, t[i].id, t[i].zone) != 0)
            return stopped(err, errlen);
    return UP_OK;
}

static enum up_code mem_polls(struct up_store *st, const char *const *ids, size_t n, int64_t lo,
                              int64_t now, const struct up_store_sink *sink, char *err,
                              size_t errlen)
{
    struct mem_data *d = cast(st)->d;
    struct mem_poll *p = d->rows.polls.p;
    size_t k;

    for (k = 0; k < n; k++) {
        size_t a = 0, b = d->rows.polls.n, i, first;
        /* Lower bound of the store's polls. */
        while (a < b) {
            size_t mid = a + (b - a) / 2;
            if (strcmp(p[mid].id, ids[k]) < 0)
                a = mid + 1;
            else
                b = mid;
        }
        first = a;
        for (i = first; i < d->rows.polls.n && strcmp(p[i].id, ids[k]) == 0 && p[i].ts < lo; i++)
            ;
        /* The carry-in is the last poll before lo, then the window [lo, now]. */
        if (i > first && sink->poll(sink->ctx, ids[k], p[i - 1].ts, p[i - 1].active) != 0)
            return stopped(err, errlen);
        for (; i < d->rows.polls.n && strcmp(p[i].id, ids[k]) == 0 && p[i].ts <= now; i++)
            if (sink->poll(sink->ctx, ids[k], p[i].ts, p[i].active) != 0)
                return stopped(err, errlen);
    }
    return UP_OK;
}

const struct up_store_ops up_store_mem_ops = {
    .name = "memory",
    .caps = UP_STORE_CAP_READ | UP_STORE_CAP_WRITE,
    .accepts = mem_accepts,
    .open = mem_open,
    .close = mem_close,
    .begin = mem_begin,
    .put_status = mem_put_status,
    .put_hours = mem_put_hours,
    .put_timezone = mem_put_timezone,
    .commit = mem_commit,
    .rollback = mem_rollback,
    .prune = mem_prune,
    .max_ts = mem_max_ts,
    .stores = mem_stores,
    .hours = mem_hours_scan,
    .timezones = mem_timezones,
    .polls = mem_polls,
};
