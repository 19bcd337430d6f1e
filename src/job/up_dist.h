/*
 * The MPI plumbing that the job and the snapshot writer share (private to src/job): a
 * communicator of their own, the failure agreement, and the scatter of rank 0's plan as
 * one share per rank. Every function here is collective over d->comm.
 */
#ifndef UP_DIST_H
#define UP_DIST_H

#include <mpi.h>
#include "up_error.h"
#include "up_job_int.h"
#include "up_log.h"

/* Every MPI call is checked; one that fails cannot be agreed on, so it aborts the job
 * (IOR's MPI_CHECK): logged with MPI_Error_string, file and line. */
#define UP_MPI_CHECK(comm, call)                                                                   \
    do {                                                                                           \
        int mpi_rc_ = (call);                                                                      \
        if (mpi_rc_ != MPI_SUCCESS) {                                                              \
            char mpi_msg_[MPI_MAX_ERROR_STRING];                                                   \
            int mpi_len_ = 0;                                                                      \
            MPI_Error_string(mpi_rc_, mpi_msg_, &mpi_len_);                                        \
            UP_LOG(ERROR, "MPI call %s failed: %s", #call, mpi_msg_);                              \
            MPI_Abort(comm, UP_EMPI);                                                              \
        }                                                                                          \
    } while (0)

struct up_dist {
    MPI_Comm comm; /* a duplicate of the caller's communicator, errors returned */
    int rank, size;
    char err[UP_JOB_ERRLEN]; /* this rank's message; after a failed agreement, the job's */
};

/* Duplicates caller into d->comm (MPI_ERRORS_RETURN) and fills rank and size. */
void up_dist_begin(struct up_dist *d, MPI_Comm caller);

/* Frees d->comm. */
void up_dist_end(struct up_dist *d);

/*
 * Agreement: every rank offers rc; the first (lowest) failing rank is found with an
 * MPI_MIN all-reduce and broadcasts its code and message, so every rank returns the same
 * code and rank 0 holds the message in d->err (prefixed "rank N: " when N != 0). One
 * message buffer per rank, whatever the number of ranks. Returns UP_OK when none failed.
 */
enum up_code up_dist_agree(struct up_dist *d, enum up_code rc) UP_WARN_UNUSED;

/* Every rank learns rank 0's plan->now and plan->has_now. */
void up_dist_bcast_now(struct up_dist *d, struct up_plan *plan);

/* Rank 0 plans again on a new view of the source (up_dist_pin): frees and refills p,
 * with a message in err on failure. */
typedef enum up_code (*up_dist_replan_fn)(void *ctx, struct up_plan *p, char *err, size_t errlen);

/*
 * Called by the ranks but 0 while rank 0 plans: opens db for reading into *conn (a new
 * PostgreSQL connection, the HDF5 library's first use and the file's datasets:
 * milliseconds that otherwise come after the plan); nothing is read, and the view is taken
 * later by up_dist_pin. When the open fails (up_dist_pin opens again and meets the
 * failure in its own phase), *conn = NULL. Not collective.
 */
void up_dist_preopen(const char *db, struct up_store **conn);

/* Times up_dist_pin plans before it gives up on a source that keeps changing. */
#define UP_DIST_PIN_TRIES 3

/*
 * One view for every rank, right after rank 0's plan took it: every rank learns now,
 * has_now and the view's token, then opens db read-only into *conn (or takes the
 * connection up_dist_preopen left there; *conn is NULL or such a connection on entry)
 * pinned to that view (up_store_read_at). When the source changed between rank 0's view
 * and a rank's own (up_store_view_changed: a SQLite load committed in between), rank 0
 * plans again through replan(ctx) and every rank pins again, UP_DIST_PIN_TRIES times in
 * all, each new try logged. A rank that fails for another reason (or still finds the source changed
 * after the last try) gets *conn = NULL: its worker opens db on the token itself and fails there,
 * agreed in the worker's phase as before. Returns UP_OK, or the agreed code of a failed replan;
 * *conn is closed by the caller (up_store_close) either way.
 */
enum up_code up_dist_pin(struct up_dist *d, struct up_plan *plan, const char *db,
                         up_dist_replan_fn replan, void *ctx,
                         struct up_store **conn) UP_WARN_UNUSED;

/* What the streamed scatter counts on the way, summed on rank 0 (for the summary). */
struct up_dist_counts {
    int64_t stores;   /* stores reported */
    int64_t no_hours; /* of them without hours rows (open 24x7) */
    int64_t no_zone;  /* of them without a zone row (the default zone) */
    int64_t orphans;  /* ids with hours or a zone but no poll */
};

/*
 * The scatter without a whole plan on rank 0: rank 0 (after up_plan_begin) scans its
 * pinned connection's store list twice (the total weight, then each store to the rank
 * the running balance gives) and its hours and zones once, and sends every row, in
 * 256 KiB chunks, to the rank whose range holds its store; each rank builds its own share
 * from what it receives. Rank 0 holds one chunk and its own share, never the platform.
 * Collective; returns the agreed code; counts are rank 0's sums.
 */
enum up_code up_dist_stream(struct up_dist *d, struct up_plan *plan, struct up_share *share,
                            struct up_dist_counts *counts) UP_WARN_UNUSED;

#endif
