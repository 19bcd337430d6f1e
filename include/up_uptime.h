/* The uptime maths: polls x business intervals x windows -> integer µs sums. Pure. */
#ifndef UP_UPTIME_H
#define UP_UPTIME_H

#include <stddef.h>
#include <stdint.h>
#include "up_model.h"

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
