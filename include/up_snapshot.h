/*
 * The HDF5 snapshot: everything a report needs, laid out as the ranks read it, written
 * once from a database with parallel HDF5 and read by the read-only "hdf5:" backend.
 * This header is the file format (names, version, layout) and the writer's entry point.
 *
 * Layout (schema version 1). N stores, P polls, H hours rows, Z zones; offsets arrays
 * have one more item than their table (item i..i+1 is the range of entry i):
 *
 *   /stores/id_offset     uint64 [N + 1]  store i's id = id_bytes[id_offset[i] ..)
 *   /stores/id_bytes      uint8  [..]     ids, byte-wise ascending, no separators
 *   /stores/poll_offset   uint64 [N + 1]  store i's polls = polls[poll_offset[i] ..)
 *   /stores/hours_offset  uint64 [N + 1]  store i's rows = hours[hours_offset[i] ..)
 *   /stores/zone          int32  [N]      index into /zones, -1: no valid zone row
 *   /stores/first_ts      int64  [N]      the store's earliest poll held (its existence)
 *   /polls/ts             int64  [P]      µs since the epoch, UTC, ascending per store
 *   /polls/active         uint8  [P]      1 active, 0 inactive
 *   /hours/day            int8   [H]      0 = Monday .. 6 = Sunday
 *   /hours/start_us       int64  [H]      µs since local midnight
 *   /hours/end_us         int64  [H]
 *   /zones/name_offset    uint64 [Z + 1]
 *   /zones/name_bytes     uint8  [..]
 *
 * Root attributes: schema_version, now_us (the snapshot's now), lo_us (now - days: every
 * poll in [lo_us, now_us] is held, plus each store's latest poll before lo_us), max_ts_us
 * (the greatest poll held, or INT64_MIN), days, stores, polls, hours_rows, zones, source
 * (password hidden), created (ISO 8601 UTC), chunk (0: contiguous), deflate.
 */
#ifndef UP_SNAPSHOT_H
#define UP_SNAPSHOT_H

#include <stdint.h>
#include "up_error.h"

#define UP_SNAPSHOT_SCHEMA 1

/* Days of polls a snapshot holds by default: a week for the report and one day of slack,
 * so that a report as of up to a day before the snapshot's now can be made from it. */
#define UP_SNAPSHOT_DEFAULT_DAYS 8

/* Items per chunk by default (docs/hdf5.md: the measurements behind it). */
#define UP_SNAPSHOT_DEFAULT_CHUNK ((uint64_t)1 << 16)

struct up_snapshot_opts {
    const char *db;  /* the source, opened read-only by every rank */
    const char *out; /* the file to write (made by rename from a temporary beside it) */
    int64_t now;     /* used when has_now */
    int has_now;     /* 0: the source's latest poll */
    int days;        /* 7 or more */
    uint64_t chunk;  /* items per chunk (each with a Fletcher-32 checksum); 0: contiguous */
    int deflate;     /* 0-9; needs chunk > 0 */
    int quiet;       /* no summary on stdout */
};

#endif
