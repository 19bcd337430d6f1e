/* uptime_load's work: three CSV files validated row by row into a store, atomically. */
#ifndef UP_LOAD_H
#define UP_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include "up_error.h"
#include "up_store.h"

enum { UP_FILE_STATUS, UP_FILE_HOURS, UP_FILE_TZ, UP_NFILES };

/* Reasons counted in the summary: the CSV-level ones, then the row-level ones. */
#define UP_LOAD_NREASONS 16

struct up_load_opts {
    const char *path[UP_NFILES]; /* the three input files */
    const char *rejects_path;    /* rejects CSV, written atomically; NULL: none */
    const char *tzdir;           /* NULL: $TZDIR or /usr/share/zoneinfo */
};

struct up_load_file_stats {
    int64_t rows;     /* records read after the header (rejected ones included) */
    int64_t loaded;   /* valid rows handed to the store */
    int64_t rejected; /* rows rejected */
    int64_t by_reason[UP_LOAD_NREASONS];
};

struct up_load_stats {
    struct up_load_file_stats file[UP_NFILES];
    int64_t hours_stores;       /* stores with at least one valid hours row */
    int64_t hours_all_rejected; /* stores whose hours rows were all rejected (24x7) */
    int64_t tz_stores;          /* stores with a valid timezone row */
};

/* Static name of summary reason i (0 <= i < UP_LOAD_NREASONS), or NULL for unused slots. */
const char *up_load_reason_name(int i);

/*
 * Loads the three files into the database db_url (opened for writing, schema created
 * when absent) in one transaction (all or nothing). Fatal input problems (missing or
 * empty file, missing or doubled column) return UP_EUSAGE before the database is
 * opened. Rejected rows are counted in stats and written to the rejects
 * file; they do not make the load fail. On failure nothing is committed and no rejects
 * file is left. Message in err.
 */
enum up_code up_load_run(const char *db_url, const struct up_load_opts *opts,
                         struct up_load_stats *stats, char *err, size_t errlen) UP_WARN_UNUSED;

/* Prints the summary (one line per file, then store counts) to f. */
void up_load_print_summary(const struct up_load_stats *stats, const struct up_load_opts *opts,
                           void *f);

#endif
