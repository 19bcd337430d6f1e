/*
 * The HDF5 snapshot's file format, shared by its writer (src/job/up_snapshot.c) and its
 * read-only backend (src/store/up_store_hdf5.c): everything a report needs, laid out as
 * the ranks read it. docs/hdf5.md says the same for other tools.
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
#ifndef UP_SNAPSHOT_FORMAT_H
#define UP_SNAPSHOT_FORMAT_H

/* The version a reader accepts; any change to a dataset's name, type or meaning is a new
 * version (docs/hdf5.md "Version rule"). */
#define UP_SNAPSHOT_SCHEMA 1

#endif
