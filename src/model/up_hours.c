#include "up_hours.h"

#include <stdlib.h>
#include "up_buf.h"
#include "up_time.h"

/*
 * Appends [lo, hi) by up_buf's growth rule and cap (UP_HOURS_MAX_INTERVALS). The list
 * keeps its public fields, which the worker and the tests read, so the buffer is a view.
 */
static int push(struct up_intervals *out, int64_t lo, int64_t hi)
{
    struct up_buf b;
    struct up_interval *iv;

    up_buf_init(&b, sizeof *out->v, UP_HOURS_MAX_INTERVALS);
    b.p = out->v;
    b.n = out->n;
    b.cap = out->cap;
    iv = up_buf_push(&b);
    out->v = b.p;
    out->cap = b.cap;
    if (!iv)
        return -1;
    iv->lo = lo;
    iv->hi = hi;
    out->n = b.n;
    return 0;
}

static int cmp_interval(const void *a, const void *b)
{
    const struct up_interval *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return (x->hi > y->hi) - (x->hi < y->hi);
}

enum up_code up_hours_intervals(const struct up_hours_row *rows, size_t nrows,
                                const struct up_tz *tz, int64_t week_lo, int64_t now,
                                struct up_intervals *out)
{
    int64_t first, last, d;
    size_t i, w;

    out->n = 0;
    if (nrows == 0)
        return push(out, INT64_MIN, INT64_MAX) == 0 ? UP_OK : UP_ENOMEM;

    /* The day before the week's first local date holds overnight rows reaching into it. */
    first = up_days_of(up_tz_utc_to_local(tz, week_lo)) - 1;
    last = up_days_of(up_tz_utc_to_local(tz, now));
    for (d = first; d <= last; d++) {
        int wd = up_weekday(d);
        int64_t midnight = d * UP_USEC_PER_DAY;
        for (i = 0; i < nrows; i++) {
            int64_t lo, hi, end_wall;
            if (rows[i].day != wd)
                continue;
            if (rows[i].end_us > rows[i].start_us)
                end_wall = midnight + rows[i].end_us;
            else /* overnight; start == end is a whole 24 hours */
                end_wall = midnight + UP_USEC_PER_DAY + rows[i].end_us;
            /* Each end is converted on its own date, so a DST change inside is exact. */
            lo = up_tz_local_to_utc(tz, midnight + rows[i].start_us);
            hi = up_tz_local_to_utc(tz, end_wall);
            if (hi <= lo)
                continue; /* emptied or reversed by a DST gap: adds nothing (SPEC §5) */
            if (push(out, lo, hi) != 0)
                return UP_ENOMEM;
        }
    }
    if (out->n < 2)
        return UP_OK;
    /* Rows in key order give intervals in order already (days ascending, each day's rows
     * by start): sorting is then only a check. */
    for (i = 1; i < out->n; i++)
        if (cmp_interval(&out->v[i - 1], &out->v[i]) > 0)
            break;
    if (i < out->n)
        qsort(out->v, out->n, sizeof out->v[0], cmp_interval);
    /* Union: overlapping or touching rows are counted once. */
    w = 0;
    for (i = 1; i < out->n; i++) {
        if (out->v[i].lo <= out->v[w].hi) {
            if (out->v[i].hi > out->v[w].hi)
                out->v[w].hi = out->v[i].hi;
        } else {
            out->v[++w] = out->v[i];
        }
    }
    out->n = w + 1;
    return UP_OK;
}

void up_intervals_free(struct up_intervals *iv)
{
    if (!iv)
        return;
    free(iv->v);
    iv->v = NULL;
    iv->n = iv->cap = 0;
}
