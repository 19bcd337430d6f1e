/* The report job across MPI ranks (DESIGN.md "The job"): the only module that speaks MPI. */
#ifndef UP_JOB_H
#define UP_JOB_H

#include <mpi.h>
#include <stdint.h>
#include "up_error.h"
#include "up_snapshot.h"
#include "up_status.h"

struct up_job_opts {
    const char *db;                       /* database URL, opened read-only by every rank */
    const char *reports_dir;              /* where rank 0 writes <id>.csv and <id>.status.json */
    char report_id[UP_REPORT_ID_MAX + 1]; /* rank 0's value is used by all */
    int64_t now;                          /* used when has_now */
    int has_now;
    const char *tzdir;  /* NULL: $TZDIR or /usr/share/zoneinfo */
    int quiet;          /* no run summary on stdout */
    int progress_ms;    /* least time between two progress writes; 0: 500 ms */
    int timeout_s;      /* the run's --timeout in seconds (up_deadline); 0: no limit */
    int parallel_write; /* every rank writes its own rows into the CSV (--parallel-write) */
};

/*
 * Runs one report. Collective: every rank of comm must call it with the same options.
 * Returns the same code on every rank: UP_OK, or the first failing rank's code; on
 * failure rank 0 has logged the reason, marked the status file Failed and left no CSV.
 * With timeout_s, the process's deadline (up_deadline_set) starts now on every rank: a
 * rank past it fails its phase with UP_ETIMEOUT, agreed as any failure; a job still not
 * ended UP_WATCHDOG_GRACE_S later is ended by rank 0's watchdog (status Failed, no
 * temporary file, the process exits with UP_ETIMEOUT, so mpirun ends the others). The
 * caller must have initialised MPI with at least MPI_THREAD_FUNNELED for that thread.
 */
enum up_code up_job_run(struct up_job_opts *opts, MPI_Comm comm);

/*
 * Writes an HDF5 snapshot of opts->db (up_snapshot.h) with parallel HDF5 over comm: each
 * rank reads its own range of stores and writes its own hyperslabs; rank 0 renames the
 * temporary file into place once all have succeeded. Collective; returns the same code on
 * every rank (the first failing rank's), with the reason logged by rank 0; a failed run
 * leaves no file at opts->out.
 */
enum up_code up_snapshot_run(const struct up_snapshot_opts *opts, MPI_Comm comm);

#endif
