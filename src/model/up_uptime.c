#include "up_uptime.h"

#include <stdlib.h>

static int cmp_poll(const void *a, const void *b)
{
    const struct up_poll *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return 0;
}

size_t up_polls_normalize(struct up_poll *polls, size_t n)
{
    size_t i, w;

    /* Strictly ascending (the usual case): nothing to sort or merge. */
    for (w = 1; w < n; w++)
        if (polls[w].ts <= polls[w - 1].ts)
            break;
    if (w >= n)
        return n;
    for (i = w; i < n; i++)
        if (polls[i].ts < polls[i - 1].ts)
            break;
    if (i < n) {
        qsort(polls, n, sizeof polls[0], cmp_poll);
        w = 1;
    }
    /* polls[0..w) are strictly ascending. */
    w--;
    for (i = w + 1; i < n; i++) {
        if (polls[i].ts == polls[w].ts)
            polls[w].active = polls[w].active && polls[i].active; /* inactive wins */
        else
            polls[++w] = polls[i];
    }
    return w + 1;
}

/*
 * Adds to *up / *down the measure of [lo, hi) ∩ iv split by the status step function.
 * Segment k is [ts_k, ts_{k+1}) with poll k's status; segment 0 reaches back to -inf
 * and the last one forward to +inf.
 */
static void measure(const struct up_poll *p, size_t m, const struct up_interval *iv, size_t niv,
                    int64_t lo, int64_t hi, int64_t *up, int64_t *down)
{
    size_t j, k = 0, a0 = 0, a1 = m;

    /* The last poll at or before lo (or the first one): the windows but the week start
     * near the end of the polls, found by halving instead of walking. */
    while (a1 - a0 > 1) {
        size_t mid = a0 + (a1 - a0) / 2;
        if (p[mid].ts <= lo)
            a0 = mid;
        else
            a1 = mid;
    }
    k = a0;
    for (j = 0; j < niv; j++) {
        int64_t a = iv[j].lo > lo ? iv[j].lo : lo;
        int64_t b = iv[j].hi < hi ? iv[j].hi : hi;
        int64_t t;
        if (a >= b)
            continue;
        while (k + 1 < m && p[k + 1].ts <= a)
            k++;
        t = a;
        while (t < b) {
            int64_t seg_end = k + 1 < m ? p[k + 1].ts : INT64_MAX;
            int64_t e = seg_end < b ? seg_end : b;
            if (p[k].active)
                *up += e - t;
            else
                *down += e - t;
            t = e;
            if (e == seg_end)
                k++;
        }
    }
}

void up_uptime_compute(const struct up_poll *polls, size_t n, const struct up_interval *iv,
                       size_t niv, int64_t now, struct up_result *out)
{
    static const int64_t len[UP_NWIN] = {UP_USEC_PER_HOUR, UP_USEC_PER_DAY, UP_USEC_PER_WEEK};
    size_t m = n;
    int w;

    /* Polls after now are not yet received. */
    while (m > 0 && polls[m - 1].ts > now)
        m--;
    for (w = 0; w < UP_NWIN; w++) {
        out->up[w] = out->down[w] = 0;
        if (m > 0)
            measure(polls, m, iv, niv, now - len[w], now, &out->up[w], &out->down[w]);
    }
}
