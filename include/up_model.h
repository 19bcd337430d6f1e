/*
 * The domain's plain records and units, at the bottom of every layer: a poll, a business
 * hours row, a UTC interval, a store's result, the three windows, the default zone and
 * the microsecond constants. No functions; every other header may include this one.
 */
#ifndef UP_MODEL_H
#define UP_MODEL_H

#include <stdint.h>

/* Every instant and duration of the project is an int64_t of microseconds (UTC). */
#define UP_USEC_PER_SEC INT64_C(1000000)
#define UP_USEC_PER_MIN (INT64_C(60) * UP_USEC_PER_SEC)
#define UP_USEC_PER_HOUR (INT64_C(3600) * UP_USEC_PER_SEC)
#define UP_USEC_PER_DAY (INT64_C(86400) * UP_USEC_PER_SEC)
#define UP_USEC_PER_WEEK (INT64_C(7) * UP_USEC_PER_DAY)

/* Zone of a store without a valid timezone row (SPEC §2). */
#define UP_DEFAULT_ZONE "America/Chicago"

/* One poll of a store. */
struct up_poll {
    int64_t ts; /* µs since the epoch, UTC */
    int active; /* 1 active, 0 inactive */
};

/* One menu_hours row: day 0 = Monday .. 6 = Sunday; times in µs since local midnight. */
struct up_hours_row {
    int day;
    int64_t start_us;
    int64_t end_us;
};

/* A half-open UTC interval [lo, hi) in µs. */
struct up_interval {
    int64_t lo;
    int64_t hi;
};

/* Windows of the report: 0 = last hour, 1 = last day, 2 = last week. */
enum { UP_WIN_HOUR, UP_WIN_DAY, UP_WIN_WEEK, UP_NWIN };

/* A store's result: µs of business time up and down in each window. */
struct up_result {
    int64_t up[UP_NWIN];
    int64_t down[UP_NWIN];
};

#endif
