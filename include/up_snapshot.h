/*
 * The HDF5 snapshot writer's options (the format is in up_snapshot_format.h; the entry
 * point, up_snapshot_run, is in up_job.h with the other MPI jobs).
 */
#ifndef UP_SNAPSHOT_H
#define UP_SNAPSHOT_H

#include <stdint.h>
#include "up_error.h"
#include "up_snapshot_format.h"

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
    int timeout_s;   /* the run's --timeout in seconds (up_deadline); 0: no limit */
};

#endif
