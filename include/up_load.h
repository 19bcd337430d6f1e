/* uptime_load's work: three CSV files validated row by row into a store, atomically. */
#ifndef UP_LOAD_H
#define UP_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include "up_error.h"
#include "up_store.h"

enum { UP_FILE_STATUS, UP_FILE_HOURS, UP_FILE_TZ, UP_NFILES };

struct up_csv_column;

/* The columns of file (UP_FILE_*) as the loader reads them (SPEC §1), *n of them. */
const struct up_csv_column *up_load_columns(int file, size_t *n);

/* Reasons counted in the summary: the CSV-level ones, then the row-level ones. */
#define UP_LOAD_NREASONS 16

/* Where a load is, for a progress display (up_load_opts.progress). */
struct up_load_progress {
    int file;            /* UP_FILE_* being read; -1 once every file is read */
    const char *path;    /* its path as given ("-": standard input) */
    int64_t bytes_done;  /* bytes read from it (compressed bytes for gzip) */
    int64_t bytes_total; /* its size, or -1 when unknown (a pipe) */
    int64_t rows;        /* records read from it so far */
    int64_t loaded;      /* of which loaded */
    int64_t rejected;    /* of which rejected */
    int committing;      /* 1: every file is read, the store is committing */
};

struct up_load_opts {
    /* The input files, any subset (at least one): a NULL file is not read, and its table
     * is left as it is. "-" is standard input (for one file at most); gzip input is
     * inflated (up_csvin_open). */
    const char *path[UP_NFILES];
    const char *rejects_path; /* rejects CSV, written atomically; NULL: none */
    const char *tzdir;        /* NULL: $TZDIR or /usr/share/zoneinfo */
    /* Called every few thousand records and once before the commit; NULL: none. It only
     * reports (the load cannot be stopped from it). */
    void (*progress)(void *ctx, const struct up_load_progress *p);
    void *progress_ctx;
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
    int64_t stale_removed;      /* temporary rejects files of killed loads removed (the sweep) */
    int signal_in_commit;       /* a SIGTERM/SIGINT/SIGHUP that arrived during the commit, or 0 */
};

/* Static name of summary reason i (0 <= i < UP_LOAD_NREASONS), or NULL for unused slots. */
const char *up_load_reason_name(int i);

/*
 * Loads the given files (any subset of the three, at least one) into the database db_url
 * (opened for writing, schema created when absent) in one transaction (all or nothing).
 * Fatal input problems (no file, standard input named twice, missing or empty file,
 * missing or doubled column) return UP_EUSAGE before the database is opened; damaged
 * gzip data found later returns UP_EUSAGE too, and nothing is loaded. Rejected rows are
 * counted in stats and written to the rejects file; they do not make the load fail. On
 * failure nothing is committed and no rejects file is left. Message in err.
 *
 * The rejects file is written to <rejects>.tmp.XXXXXX (mkstemp), locked (flock) while
 * the load lives and registered with up_signal_cleanup, so that a program that called
 * up_signal_catch removes it on SIGTERM, SIGINT or SIGHUP; such temporaries that killed
 * loads left (SIGKILL: no handler ran) are removed first, when no live load holds them
 * (stats->stale_removed). The commit and the rename are one step for those signals: one
 * that arrives meanwhile waits, and is taken once both are done (stats->signal_in_commit).
 * One load at a time per process (the signal handler knows one temporary).
 */
enum up_code up_load_run(const char *db_url, const struct up_load_opts *opts,
                         struct up_load_stats *stats, char *err, size_t errlen) UP_WARN_UNUSED;

/* Prints the summary (one line per file read, then store counts) to f. */
void up_load_print_summary(const struct up_load_stats *stats, const struct up_load_opts *opts,
                           void *f);

#endif
