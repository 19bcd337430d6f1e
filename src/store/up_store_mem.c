/*
 * In-memory backend ("mem:NAME"): the storage semantics without a database, for unit
 * tests of the loader and of the whole job on MPI_COMM_SELF (like IOR's DUMMY backend).
 * Named data sets live until up_store_mem_reset; one process only.
 */
#include "up_store_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A growable array of fixed-size items. */
struct vec {
    void *v;
    size_t n, cap, size;
};

struct mem_data {
    char *name;
    struct vec polls; /* struct mem_poll, sorted by (id, ts), unique */
    struct vec hours; /* struct mem_hours, sorted by id */
    struct vec tz;    /* struct mem_tz, sorted by id, unique */
    struct mem_data *next;
};

struct mem_store {
    struct up_store base;
    struct mem_data *d;
    struct vec polls, hours, tz; /* this load's rows, until commit */
    int in_load;
};

static struct mem_data *datasets;

static void *vec_push(struct vec *a)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        void *v = realloc(a->v, cap * a->size);
        if (!v)
            return NULL;
        a->v = v;
        a->cap = cap;
    }
    return (char *)a->v + a->size * a->n++;
}

static void free_polls(struct vec *a)
{
    struct mem_poll *p = a->v;
    size_t i;
    for (i = 0; i < a->n; i++)
        free(p[i].id);
    free(a->v);
    memset(a, 0, sizeof *a);
    a->size = sizeof(struct mem_poll);
}

static void free_hours(struct vec *a)
{
    struct mem_hours *h = a->v;
    size_t i;
    for (i = 0; i < a->n; i++)
        free(h[i].id);
    free(a->v);
    memset(a, 0, sizeof *a);
    a->size = sizeof(struct mem_hours);
}

static void free_tz(struct vec *a)
{
    struct mem_tz *t = a->v;
    size_t i;
    for (i = 0; i < a->n; i++) {
        free(t[i].id);
        free(t[i].zone);
    }
    free(a->v);
    memset(a, 0, sizeof *a);
    a->size = sizeof(struct mem_tz);
}

void up_store_mem_reset(void)
{
    while (datasets) {
        struct mem_data *d = datasets;
        datasets = d->next;
        free_polls(&d->polls);
        free_hours(&d->hours);
        free_tz(&d->tz);
        free(d->name);
        free(d);
    }
}

static int mem_accepts(const char *url)
{
    return strncmp(url, "mem:", 4) == 0;
}

static struct mem_store *cast(struct up_store *st)
{
    return (struct mem_store *)st;
}

static enum up_code mem_open(const char *url, enum up_store_mode mode, struct up_store **out,
                             char *err, size_t errlen)
{
    extern const struct up_store_ops up_store_mem_ops;
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
        d->polls.size = sizeof(struct mem_poll);
        d->hours.size = sizeof(struct mem_hours);
        d->tz.size = sizeof(struct mem_tz);
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
    s->polls.size = sizeof(struct mem_poll);
    s->hours.size = sizeof(struct mem_hours);
    s->tz.size = sizeof(struct mem_tz);
    *out = &s->base;
    return UP_OK;
}

static void mem_close(struct up_store *st)
{
    struct mem_store *s = cast(st);
    free_polls(&s->polls);
    free_hours(&s->hours);
    free_tz(&s->tz);
    free(s);
}

static enum up_code mem_begin(struct up_store *st, char *err, size_t errlen)
{
    struct mem_store *s = cast(st);
    (void)err;
    (void)errlen;
    s->in_load = 1;
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
    struct mem_poll *p = vec_push(&cast(st)->polls);
    if (!p)
        return oom(err, errlen);
    p->ts = ts;
    p->active = active;
    if (!(p->id = strdup(id))) {
        cast(st)->polls.n--;
        return oom(err, errlen);
    }
    return UP_OK;
}

static enum up_code mem_put_hours(struct up_store *st, const char *id,
                                  const struct up_hours_row *row, char *err, size_t errlen)
{
    struct mem_hours *h = vec_push(&cast(st)->hours);
    if (!h)
        return oom(err, errlen);
    h->row = *row;
    if (!(h->id = strdup(id))) {
        cast(st)->hours.n--;
        return oom(err, errlen);
    }
    return UP_OK;
}

static enum up_code mem_put_timezone(struct up_store *st, const char *id, const char *zone,
                                     char *err, size_t errlen)
{
    struct mem_tz *t = vec_push(&cast(st)->tz);
    if (!t)
        return oom(err, errlen);
    t->id = strdup(id);
    t->zone = strdup(zone);
    if (!t->id || !t->zone) {
        free(t->id);
        free(t->zone);
        cast(st)->tz.n--;
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
static int vec_move(struct vec *dst, struct vec *src)
{
    if (dst->n + src->n > dst->cap) {
        size_t cap = dst->n + src->n;
        void *v = realloc(dst->v, cap * dst->size);
        if (!v)
            return -1;
        dst->v = v;
        dst->cap = cap;
    }
    memcpy((char *)dst->v + dst->n * dst->size, src->v, src->n * src->size);
    dst->n += src->n;
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

    /* Hours: drop the rows of every store named in this load, then add the new ones. */
    staged = s->hours.v;
    nstaged = s->hours.n;
    qsort(staged, nstaged, sizeof *staged, cmp_hours);
    h = d->hours.v;
    for (i = w = 0; i < d->hours.n; i++) {
        struct mem_hours key = h[i];
        if (nstaged && bsearch(&key, staged, nstaged, sizeof *staged, cmp_hours_id)) {
            free(h[i].id);
            continue;
        }
        h[w++] = h[i];
    }
    d->hours.n = w;
    /* Polls, hours and zones join the data; then each is sorted and merged. */
    if (vec_move(&d->polls, &s->polls) || vec_move(&d->hours, &s->hours) ||
        vec_move(&d->tz, &s->tz))
        return oom(err, errlen);
    p = d->polls.v;
    qsort(p, d->polls.n, sizeof *p, cmp_poll);
    for (i = w = 0; i < d->polls.n; i++) {
        if (w > 0 && cmp_poll(&p[w - 1], &p[i]) == 0) {
            p[w - 1].active = p[w - 1].active && p[i].active; /* inactive wins */
            free(p[i].id);
        } else {
            p[w++] = p[i];
        }
    }
    d->polls.n = w;
    h = d->hours.v;
    qsort(h, d->hours.n, sizeof *h, cmp_hours);
    for (i = w = 0; i < d->hours.n; i++) {
        if (w > 0 && cmp_hours(&h[w - 1], &h[i]) == 0)
            free(h[i].id);
        else
            h[w++] = h[i];
    }
    d->hours.n = w;
    /* Zones: a stable sort keeps the order of arrival; the last row of a store wins. */
    t = d->tz.v;
    for (i = 1; i < d->tz.n; i++) { /* insertion sort: stable */
        struct mem_tz key = t[i];
        size_t j = i;
        while (j > 0 && strcmp(t[j - 1].id, key.id) > 0) {
            t[j] = t[j - 1];
            j--;
        }
        t[j] = key;
    }
    for (i = w = 0; i < d->tz.n; i++) {
        if (w > 0 && strcmp(t[w - 1].id, t[i].id) == 0) {
            free(t[w - 1].id);
            free(t[w - 1].zone);
            t[w - 1] = t[i];
        } else {
            t[w++] = t[i];
        }
    }
    d->tz.n = w;
    s->in_load = 0;
    return UP_OK;
}

static enum up_code mem_rollback(struct up_store *st, char *err, size_t errlen)
{
    struct mem_store *s = cast(st);
    (void)err;
    (void)errlen;
    free_polls(&s->polls);
    free_hours(&s->hours);
    free_tz(&s->tz);
    s->in_load = 0;
    return UP_OK;
}

static enum up_code mem_max_ts(struct up_store *st, int64_t *max, int *any, char *err,
                               size_t errlen)
{
    struct mem_data *d = cast(st)->d;
    struct mem_poll *p = d->polls.v;
    size_t i;
    (void)err;
    (void)errlen;

    *any = d->polls.n > 0;
    *max = 0;
    for (i = 0; i < d->polls.n; i++)
        if (i == 0 || p[i].ts > *max)
            *max = p[i].ts;
    return UP_OK;
}

static enum up_code stopped(char *err, size_t errlen)
{
    snprintf(err, errlen, "in-memory scan stopped by its consumer");
    return UP_EFAIL;
}

static enum up_code mem_stores(struct up_store *st, int64_t lo, int64_t now, up_store_list_cb cb,
                               void *ctx, char *err, size_t errlen)
{
    struct mem_data *d = cast(st)->d;
    struct mem_poll *p = d->polls.v;
    size_t i = 0, j;
    (void)lo;

    while (i < d->polls.n) {
        for (j = i; j < d->polls.n && strcmp(p[j].id, p[i].id) == 0; j++)
            ;
        /* Polls of a store are sorted: its first one decides whether it exists yet. */
        if (p[i].ts <= now && cb(ctx, p[i].id, (int64_t)(j - i)) != 0)
            return stopped(err, errlen);
        i = j;
    }
    return UP_OK;
}

static enum up_code mem_hours_scan(struct up_store *st, up_hours_cb cb, void *ctx, char *err,
                                   size_t errlen)
{
    struct mem_data *d = cast(st)->d;
    struct mem_hours *h = d->hours.v;
    size_t i;

    for (i = 0; i < d->hours.n; i++)
        if (cb(ctx, h[i].id, &h[i].row) != 0)
            return stopped(err, errlen);
    return UP_OK;
}

static enum up_code mem_timezones(struct up_store *st, up_tz_cb cb, void *ctx, char *err,
                                  size_t errlen)
{
    struct mem_data *d = cast(st)->d;
    struct mem_tz *t = d->tz.v;
    size_t i;

    for (i = 0; i < d->tz.n; i++)
        if (cb(ctx, t[i].id, t[i].zone) != 0)
            return stopped(err, errlen);
    return UP_OK;
}

static enum up_code mem_polls(struct up_store *st, const char *const *ids, size_t n, int64_t lo,
                              int64_t now, up_poll_cb cb, void *ctx, char *err, size_t errlen)
{
    struct mem_data *d = cast(st)->d;
    struct mem_poll *p = d->polls.v;
    size_t k;

    for (k = 0; k < n; k++) {
        size_t a = 0, b = d->polls.n, i, first;
        /* Lower bound of the store's polls. */
        while (a < b) {
            size_t mid = a + (b - a) / 2;
            if (strcmp(p[mid].id, ids[k]) < 0)
                a = mid + 1;
            else
                b = mid;
        }
        first = a;
        for (i = first; i < d->polls.n && strcmp(p[i].id, ids[k]) == 0 && p[i].ts < lo; i++)
            ;
        /* The carry-in is the last poll before lo, then the window [lo, now]. */
        if (i > first && cb(ctx, ids[k], p[i - 1].ts, p[i - 1].active) != 0)
            return stopped(err, errlen);
        for (; i < d->polls.n && strcmp(p[i].id, ids[k]) == 0 && p[i].ts <= now; i++)
            if (cb(ctx, ids[k], p[i].ts, p[i].active) != 0)
                return stopped(err, errlen);
    }
    return UP_OK;
}

const struct up_store_ops up_store_mem_ops = {
    .name = "memory",
    .accepts = mem_accepts,
    .open = mem_open,
    .close = mem_close,
    .begin = mem_begin,
    .put_status = mem_put_status,
    .put_hours = mem_put_hours,
    .put_timezone = mem_put_timezone,
    .commit = mem_commit,
    .rollback = mem_rollback,
    .max_ts = mem_max_ts,
    .stores = mem_stores,
    .hours = mem_hours_scan,
    .timezones = mem_timezones,
    .polls = mem_polls,
};
