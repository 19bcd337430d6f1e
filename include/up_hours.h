/* Business hours: a store's local weekly rows to merged UTC intervals (SPEC §2). */
#ifndef UP_HOURS_H
#define UP_HOURS_H

#include <stddef.h>
#include <stdint.h>
#include "up_error.h"
#include "up_model.h"
#include "up_tz.h"

/* A growable interval list, reused from store to store (cap: UP_HOURS_MAX_INTERVALS). */
struct up_intervals {
    struct up_interval *v;
    size_t n;
    size_t cap;
};

/* Each local day adds one interval per row of its weekday: 2^20 (16 MiB) is far beyond
 * any real store's hours, and bounds what a hostile hours file can cost. */
#define UP_HOURS_MAX_INTERVALS (1u << 20)

/*
 * Computes B(store) for a report whose week window starts at week_lo and ends at now:
 * for each local date d from localdate(week_lo) - 1 to localdate(now) and each row with
 * day == weekday(d), [L(d, start), L(d', end)) with d' = d if end > start else d + 1
 * (start == end: 24 hours); empty or backwards results add nothing; the union is
 * written to out sorted and merged (no overlaps, no touching intervals).
 * nrows == 0 means open all the time: out = { [INT64_MIN, INT64_MAX) }.
 * Returns UP_OK, or UP_ENOMEM when memory runs out or the list would pass
 * UP_HOURS_MAX_INTERVALS (out keeps the intervals made so far).
 */
enum up_code up_hours_intervals(const struct up_hours_row *rows, size_t nrows,
                                const struct up_tz *tz, int64_t week_lo, int64_t now,
                                struct up_intervals *out) UP_WARN_UNUSED;

/* Frees the list's storage and zeroes it. Accepts NULL. */
void up_intervals_free(struct up_intervals *iv);

#endif
