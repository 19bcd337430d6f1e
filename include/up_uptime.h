/* The uptime maths: polls x business intervals x windows -> integer µs sums. Pure. */
#ifndef UP_UPTIME_H
#define UP_UPTIME_H

#include <stddef.h>
#include <stdint.h>
#include "up_hours.h"

#define UP_HOUR_US INT64_C(3600000000)
#define UP_DAY_US INT64_C(86400000000)
#define UP_WEEK_US INT64_C(604800000000)

/* One poll. */
struct up_poll {
    int64_t ts; /* µs since the epoch, UTC */
    int active; /* 1 active, 0 inactive */
};

/* Windows: 0 = last hour, 1 = last day, 2 = last week. */
enum { UP_WIN_HOUR, UP_WIN_DAY, UP_WIN_WEEK, UP_NWIN };

/* A store's result: µs of business time up and down in each window. */
struct up_result {
    int64_t up[UP_NWIN];
    int64_t down[UP_NWIN];
};

/*
 * Sorts polls by time and merges equal timestamps (inactive wins) in place.
 * Returns the new count.
 */
size_t up_polls_normalize(struct up_poll *polls, size_t n);

/*
 * Computes the six sums for one store. polls: sorted, unique timestamps (see
 * up_polls_normalize), n >= 1; polls after now are ignored. iv: sorted, disjoint.
 * s(t) = status of the latest poll at or before t; before the first poll, the first
 * poll's status. Windows are [now - len, now).
 */
void up_uptime_compute(const struct up_poll *polls, size_t n, const struct up_interval *iv,
                       size_t niv, int64_t now, struct up_result *out);

#endif
