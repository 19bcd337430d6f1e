/*
 * Rank 0's plan: now, the reported stores with their weights, hours and zones, the
 * balance into contiguous ranges, and a rank's share of it. No MPI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "up_job_int.h"
#include "up_store.h"
#include "up_strmap.h"

/* Stores of one plan (ids of 1 KiB at most: well inside rank 0's memory at this cap). */
#define MAX_PLAN_STORES ((size_t)1 << 32)

void up_plan_init(struct up_plan *p)
{
    memset(p, 0, sizeof *p);
    up_buf_init(&p->store, sizeof(struct up_plan_store), MAX_PLAN_STORES);
    up_strpool_init(&p->ids);
    up_buf_init(&p->hours, sizeof(struct up_hours_row), MAX_PLAN_STORES);
    up_buf_init(&p->zones, sizeof(char *), UP_JOB_MAX_ZONES);
}

void up_plan_free(struct up_plan *p)
{
    size_t i;

    if (!p)
        return;
    up_strpool_free(&p->ids);
    for (i = 0; i < p->zones.n; i++)
        free(*UP_BUF_AT(&p->zones, char *, i));
    up_buf_free(&p->store);
    up_buf_free(&p->hours);
    up_buf_free(&p->zones);
    up_store_close(p->pin);
    p->pin = NULL;
}

/* The merge-join of the hours and zone rows (sorted by store id) onto the store list. */
struct reader {
    struct up_plan *p;
    size_t cur;                /* cursor into the store list */
    struct up_strmap *orphans; /* ids with hours or a zone but no poll */
    const char *failed;        /* what ran out, for the message */
    /* The builder's sharing of hours: a store whose rows equal an earlier store's points
     * at those (most stores keep one of a few thousand weekly patterns), so a rank holds
     * each distinct set of rows once. */
    int share_hours;
    size_t open;  /* the store whose rows are the last ones appended; SIZE_MAX: none */
    size_t *seen; /* open addressing: store index + 1 of each distinct set, 0: empty */
    size_t seen_cap, seen_n;
};

static uint64_t rows_hash(const struct up_hours_row *h, size_t n)
{
    uint64_t x = 1469598103934665603u;
    size_t i;

    for (i = 0; i < n; i++) {
        uint64_t v[3] = {(uint64_t)h[i].day, (uint64_t)h[i].start_us, (uint64_t)h[i].end_us};
        int k;
        for (k = 0; k < 3; k++) {
            x ^= v[k];
            x *= 1099511628211u;
            x ^= x >> 29;
        }
    }
    return x;
}

static int rows_equal(const struct up_hours_row *a, const struct up_hours_row *b, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (a[i].day != b[i].day || a[i].start_us != b[i].start_us || a[i].end_us != b[i].end_us)
            return 0;
    return 1;
}

/* Places store index k (+1) in the table t of cap slots (a power of two). */
static void seen_put(size_t *t, size_t cap, uint64_t hash, size_t k)
{
    size_t i = (size_t)hash & (cap - 1);

    while (t[i])
        i = (i + 1) & (cap - 1);
    t[i] = k + 1;
}

/*
 * The open store's rows are complete: when an earlier store has the same rows, the open
 * store points at them and its own copy (the end of the rows) is dropped; otherwise it
 * is remembered. Out of memory for the table only means no sharing.
 */
static void close_hours(struct reader *r)
{
    struct up_plan *p = r->p;
    struct up_plan_store *s;
    const struct up_hours_row *rows, *all = p->hours.p;
    uint64_t hash;
    size_t i;

    if (!r->share_hours || r->open == SIZE_MAX)
        return;
    s = UP_PLAN_STORE(p, r->open);
    r->open = SIZE_MAX;
    if (s->nhours == 0 || s->hours_off + s->nhours != p->hours.n)
        return;
    rows = all + s->hours_off;
    hash = rows_hash(rows, s->nhours);
    for (i = (size_t)hash & (r->seen_cap - 1); r->seen_cap && r->seen[i];
         i = (i + 1) & (r->seen_cap - 1)) {
        const struct up_plan_store *o = UP_PLAN_STORE(p, r->seen[i] - 1);
        if (o->nhours == s->nhours && rows_equal(all + o->hours_off, rows, s->nhours)) {
            p->hours.n -= s->nhours;
            s->hours_off = o->hours_off;
            return;
        }
    }
    if (2 * (r->seen_n + 1) > r->seen_cap) {
        size_t cap = r->seen_cap ? 2 * r->seen_cap : 1024, k;
        size_t *t = calloc(cap, sizeof *t);
        if (!t)
            return;
        for (k = 0; k < r->seen_cap; k++)
            if (r->seen[k]) {
                const struct up_plan_store *o = UP_PLAN_STORE(p, r->seen[k] - 1);
                seen_put(t, cap, rows_hash(all + o->hours_off, o->nhours), r->seen[k] - 1);
            }
        free(r->seen);
        r->seen = t;
        r->seen_cap = cap;
    }
    seen_put(r->seen, r->seen_cap, hash, (size_t)(s - UP_PLAN_STORE(p, 0)));
    r->seen_n++;
}

/* Before rows of the store under the cursor are appended: the store before is done. */
static void open_hours(struct reader *r)
{
    if (r->share_hours && r->open != r->cur) {
        close_hours(r);
        r->open = r->cur;
    }
}

struct up_plan_store *up_plan_push_store(struct up_plan *p, const char *id, int64_t weight)
{
    struct up_plan_store *s = up_buf_push(&p->store);

    if (!s)
        return NULL;
    if (!(s->id = up_strpool_add(&p->ids, id, strlen(id)))) {
        p->store.n--;
        return NULL;
    }
    s->weight = weight;
    s->zone = -1;
    p->total_weight += weight;
    return s;
}

static int on_store(void *ctx, const char *id, int64_t weight)
{
    struct reader *r = ctx;

    if (!up_plan_push_store(r->p, id, weight)) {
        r->failed = "the store list";
        return 1;
    }
    return 0;
}

/*
 * Moves the cursor to id. Returns 1 when id is a reported store (cursor on it), 0 when
 * it only appears in hours or zones (counted once as an orphan), -1 out of memory.
 */
static int seek(struct reader *r, const char *id)
{
    int c = 1;

    while (r->cur < r->p->store.n && (c = strcmp(UP_PLAN_STORE(r->p, r->cur)->id, id)) < 0)
        r->cur++;
    if (r->cur < r->p->store.n && c == 0)
        return 1;
    if (!up_strmap_get(r->orphans, id) && up_strmap_put(r->orphans, id, "") != 0)
        return -1;
    return 0;
}

/* n >= 1 rows of one store at once: one seek, one append. */
static int on_hours_of(void *ctx, const char *id, const struct up_hours_row *rows, size_t n)
{
    struct reader *r = ctx;
    struct up_plan_store *s;
    int found = seek(r, id);

    if (found <= 0) {
        r->failed = found < 0 ? "the orphan list" : NULL;
        return found < 0;
    }
    open_hours(r);
    s = UP_PLAN_STORE(r->p, r->cur);
    if (n > UP_JOB_MAX_STORE_HOURS - s->nhours || up_buf_append(&r->p->hours, rows, n) != 0) {
        r->failed = "the hours rows";
        return 1;
    }
    if (s->nhours == 0)
        s->hours_off = r->p->hours.n - n;
    s->nhours += (uint32_t)n;
    return 0;
}

static int on_hours(void *ctx, const char *id, const struct up_hours_row *row)
{
    return on_hours_of(ctx, id, row, 1);
}

/* Index of zone in the plan's table, added when new; -1 when the table is full. */
static int32_t intern_zone(struct up_plan *p, const char *zone)
{
    char **z;
    size_t i;

    for (i = 0; i < p->zones.n; i++)
        if (strcmp(*UP_BUF_AT(&p->zones, char *, i), zone) == 0)
            return (int32_t)i;
    z = up_buf_push(&p->zones);
    if (!z)
        return -1;
    if (!(*z = strdup(zone))) {
        p->zones.n--;
        return -1;
    }
    return (int32_t)(p->zones.n - 1);
}

static int on_zone(void *ctx, const char *id, const char *zone)
{
    struct reader *r = ctx;
    int found = seek(r, id);

    if (found <= 0) {
        r->failed = found < 0 ? "the orphan list" : NULL;
        return found < 0;
    }
    UP_PLAN_STORE(r->p, r->cur)->zone = intern_zone(r->p, zone);
    if (UP_PLAN_STORE(r->p, r->cur)->zone < 0) {
        r->failed = "the zone names";
        return 1;
    }
    return 0;
}

static enum up_code plan_read(struct up_plan *p, const char *db, int has_now, int64_t now, int pin,
                              char *err, size_t errlen)
{
    const struct up_store_sink sink = {on_store, on_hours, on_zone, NULL, NULL, on_hours_of, NULL};
    struct up_store_sink s = sink;
    struct reader r = {.p = p, .open = SIZE_MAX};
    struct up_store *st = NULL;
    enum up_code rc;

    s.ctx = &r;
    rc = up_store_open(db, UP_STORE_READ, &st, err, errlen);
    if (rc != UP_OK)
        return rc;
    if (pin) {
        rc = up_store_snapshot(st, p->token, sizeof p->token, err, errlen);
        if (rc != UP_OK)
            goto out;
    }
    p->has_now = has_now;
    p->now = now;
    if (!has_now) {
        rc = up_store_max_ts(st, &p->now, &p->has_now, err, errlen);
        if (rc != UP_OK || !p->has_now)
            goto out;
    }
    r.orphans = up_strmap_new();
    if (!r.orphans) {
        snprintf(err, errlen, "out of memory");
        rc = UP_ENOMEM;
        goto out;
    }
    rc = up_store_stores(st, p->now - UP_USEC_PER_WEEK, p->now, &s, err, errlen);
    if (rc == UP_OK) {
        r.cur = 0;
        rc = up_store_hours(st, &s, err, errlen);
    }
    if (rc == UP_OK) {
        r.cur = 0;
        rc = up_store_timezones(st, &s, err, errlen);
    }
    if (r.failed) {
        snprintf(err, errlen, "out of memory (or past its cap) reading %s", r.failed);
        rc = UP_ENOMEM;
    }
    p->orphans = (int64_t)up_strmap_count(r.orphans);
out:
    up_strmap_free(r.orphans);
    if (pin && rc == UP_OK)
        p->pin = st;
    else
        up_store_close(st);
    return rc;
}

enum up_code up_plan_begin(struct up_plan *p, const char *db, int has_now, int64_t now, char *err,
                           size_t errlen)
{
    struct up_store *st = NULL;
    enum up_code rc;

    rc = up_store_open(db, UP_STORE_READ, &st, err, errlen);
    if (rc != UP_OK)
        return rc;
    rc = up_store_snapshot(st, p->token, sizeof p->token, err, errlen);
    p->has_now = has_now;
    p->now = now;
    if (rc == UP_OK && !has_now)
        rc = up_store_max_ts(st, &p->now, &p->has_now, err, errlen);
    if (rc != UP_OK) {
        up_store_close(st);
        return rc;
    }
    p->pin = st;
    return UP_OK;
}

struct up_plan_builder {
    struct reader r;
};

struct up_plan_builder *up_plan_builder_new(struct up_plan *p)
{
    struct up_plan_builder *b = calloc(1, sizeof *b);

    if (!b)
        return NULL;
    b->r.p = p;
    b->r.share_hours = 1;
    b->r.open = SIZE_MAX;
    b->r.orphans = up_strmap_new();
    if (!b->r.orphans) {
        free(b);
        return NULL;
    }
    return b;
}

int up_plan_builder_store(struct up_plan_builder *b, const char *id, int64_t weight)
{
    return on_store(&b->r, id, weight) ? -1 : 0;
}

int up_plan_builder_hours(struct up_plan_builder *b, const char *id, const struct up_hours_row *row)
{
    return on_hours(&b->r, id, row) ? -1 : 0;
}

int up_plan_builder_hours_of(struct up_plan_builder *b, const char *id,
                             const struct up_hours_row *rows, size_t n)
{
    return on_hours_of(&b->r, id, rows, n) ? -1 : 0;
}

int up_plan_builder_zone(struct up_plan_builder *b, const char *id, const char *zone)
{
    return on_zone(&b->r, id, zone) ? -1 : 0;
}

void up_plan_builder_rewind(struct up_plan_builder *b)
{
    close_hours(&b->r);
    b->r.cur = 0;
}

const char *up_plan_builder_failed(const struct up_plan_builder *b)
{
    return b->r.failed;
}

void up_plan_builder_free(struct up_plan_builder *b)
{
    if (!b)
        return;
    close_hours(&b->r);
    b->r.p->orphans = (int64_t)up_strmap_count(b->r.orphans);
    up_strmap_free(b->r.orphans);
    free(b->r.seen);
    free(b);
}

enum up_code up_plan_read(struct up_plan *p, const char *db, int has_now, int64_t now, char *err,
                          size_t errlen)
{
    return plan_read(p, db, has_now, now, 0, err, errlen);
}

enum up_code up_plan_read_pinned(struct up_plan *p, const char *db, int has_now, int64_t now,
                                 char *err, size_t errlen)
{
    return plan_read(p, db, has_now, now, 1, err, errlen);
}

void up_plan_balance(const struct up_plan *p, int size, size_t *cut)
{
    size_t n = p->store.n, i = 0;
    int64_t acc = 0;
    int r;

    cut[0] = 0;
    for (r = 1; r < size; r++) {
        int64_t target = (int64_t)((double)p->total_weight * r / size);
        while (i < n && acc + UP_PLAN_STORE(p, i)->weight <= target) {
            acc += UP_PLAN_STORE(p, i)->weight;
            i++;
        }
        cut[r] = i;
    }
    cut[size] = n;
}

enum up_code up_share_adopt(struct up_share *s, struct up_plan *p, char *err, size_t errlen)
{
    struct up_plan *own = malloc(sizeof *own);
    size_t i, n = UP_PLAN_N(p);
    char *base = p->store.p;

    memset(s, 0, sizeof *s);
    if (!own) {
        snprintf(err, errlen, "out of memory for the share of %zu stores", n);
        return UP_ENOMEM;
    }
    /* Entry i is rewritten at 24 i, which ends at or before entry i + 1 begins (32 (i + 1)),
     * after entry i was read: front to back, no entry is overwritten before it is read. */
    for (i = 0; i < n; i++) {
        struct up_plan_store ps;
        struct up_share_store st;
        memcpy(&ps, base + i * sizeof ps, sizeof ps);
        st.id = ps.id;
        st.hours_off = ps.hours_off;
        st.zone_index = ps.zone;
        st.nhours = ps.nhours;
        memcpy(base + i * sizeof st, &st, sizeof st);
    }
    s->store = p->store;
    s->store.elem = sizeof(struct up_share_store);
    s->store.max = MAX_PLAN_STORES;
    s->store.cap = s->store.cap * sizeof(struct up_plan_store) / sizeof(struct up_share_store);
    if (n > 0 && n < s->store.cap) {
        void *smaller = realloc(base, n * sizeof(struct up_share_store));
        if (smaller) {
            s->store.p = smaller;
            s->store.cap = n;
        }
    }
    /* The rows move as they are; the ids and zone names stay where they are, in the plan s
     * owns. */
    s->hours = p->hours;
    *own = *p;
    up_buf_init(&own->store, sizeof(struct up_plan_store), MAX_PLAN_STORES);
    up_buf_init(&own->hours, sizeof(struct up_hours_row), MAX_PLAN_STORES);
    own->pin = NULL;
    s->plan = own;
    up_buf_init(&p->store, sizeof(struct up_plan_store), MAX_PLAN_STORES);
    up_strpool_init(&p->ids);
    up_buf_init(&p->hours, sizeof(struct up_hours_row), MAX_PLAN_STORES);
    up_buf_init(&p->zones, sizeof(char *), UP_JOB_MAX_ZONES);
    return UP_OK;
}

const char *up_share_zone(const struct up_share *s, const struct up_share_store *st)
{
    if (st->zone_index < 0)
        return UP_DEFAULT_ZONE;
    return *UP_BUF_AT(&s->plan->zones, char *, (size_t)st->zone_index);
}

void up_share_free(struct up_share *s)
{
    if (!s)
        return;
    if (s->plan) {
        up_plan_free(s->plan);
        free(s->plan);
    }
    up_buf_free(&s->store);
    up_buf_free(&s->hours);
    memset(s, 0, sizeof *s);
}
