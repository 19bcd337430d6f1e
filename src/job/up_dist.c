/*
 * The MPI plumbing shared by the report job and the snapshot writer: the job's own
 * communicator, the failure agreement, and the scatter of the plan.
 */
#include "up_dist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRLEN UP_JOB_ERRLEN

void up_dist_begin(struct up_dist *d, MPI_Comm caller)
{
    memset(d, 0, sizeof *d);
    d->comm = MPI_COMM_NULL;
    UP_MPI_CHECK(caller, MPI_Comm_dup(caller, &d->comm));
    UP_MPI_CHECK(d->comm, MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN));
    UP_MPI_CHECK(d->comm, MPI_Comm_rank(d->comm, &d->rank));
    UP_MPI_CHECK(d->comm, MPI_Comm_size(d->comm, &d->size));
}

void up_dist_end(struct up_dist *d)
{
    if (d->comm != MPI_COMM_NULL)
        MPI_Comm_free(&d->comm);
}

enum up_code up_dist_agree(struct up_dist *d, enum up_code rc)
{
    int mine = rc != UP_OK ? d->rank : d->size, first = 0, code = (int)rc;

    UP_MPI_CHECK(d->comm, MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm));
    if (first == d->size)
        return UP_OK;
    if (d->rank == first && d->err[0] == '\0')
        snprintf(d->err, ERRLEN, "%s", up_strerror(rc));
    UP_MPI_CHECK(d->comm, MPI_Bcast(&code, 1, MPI_INT, first, d->comm));
    UP_MPI_CHECK(d->comm, MPI_Bcast(d->err, ERRLEN, MPI_CHAR, first, d->comm));
    d->err[ERRLEN - 1] = '\0';
    if (first != 0 && d->rank == 0) {
        char msg[ERRLEN];
        memcpy(msg, d->err, ERRLEN);
        snprintf(d->err, ERRLEN, "rank %d: %.*s", first, ERRLEN - 16, msg);
    }
    return (enum up_code)code;
}

void up_dist_bcast_now(struct up_dist *d, struct up_plan *plan)
{
    int64_t hdr[2] = {plan->now, plan->has_now};

    UP_MPI_CHECK(d->comm, MPI_Bcast(hdr, 2, MPI_INT64_T, 0, d->comm));
    plan->now = hdr[0];
    plan->has_now = (int)hdr[1];
}

static enum up_code pack_all(struct up_dist *d, const struct up_plan *plan, struct up_buf *packed,
                             int *counts, int *displs)
{
    size_t *cut = calloc((size_t)d->size + 1, sizeof *cut);
    enum up_code rc = UP_OK;
    int r;

    if (!cut) {
        snprintf(d->err, ERRLEN, "out of memory");
        return UP_ENOMEM;
    }
    up_plan_balance(plan, d->size, cut);
    for (r = 0; r < d->size && rc == UP_OK; r++) {
        displs[r] = (int)packed->n;
        rc = up_plan_pack(plan, cut[r], cut[r + 1], packed, d->err, ERRLEN);
        counts[r] = (int)packed->n - displs[r];
    }
    free(cut);
    return rc;
}

enum up_code up_dist_scatter(struct up_dist *d, const struct up_plan *plan, struct up_share *share)
{
    struct up_buf packed;
    int *counts = NULL, *displs = NULL, mycount = 0;
    char *mine = NULL;
    enum up_code rc = UP_OK;

    up_buf_init(&packed, 1, (size_t)INT32_MAX);
    if (d->rank == 0) {
        counts = calloc((size_t)d->size, sizeof *counts);
        displs = calloc((size_t)d->size, sizeof *displs);
        if (!counts || !displs) {
            snprintf(d->err, ERRLEN, "out of memory");
            rc = UP_ENOMEM;
        } else {
            rc = pack_all(d, plan, &packed, counts, displs);
        }
    }
    rc = up_dist_agree(d, rc);
    if (rc != UP_OK)
        goto out;
    UP_MPI_CHECK(d->comm, MPI_Scatter(counts, 1, MPI_INT, &mycount, 1, MPI_INT, 0, d->comm));
    mine = malloc(mycount ? (size_t)mycount : 1);
    if (!mine) {
        snprintf(d->err, ERRLEN, "out of memory for %d bytes of store metadata", mycount);
        rc = UP_ENOMEM;
    }
    rc = up_dist_agree(d, rc);
    if (rc != UP_OK)
        goto out;
    UP_MPI_CHECK(d->comm, MPI_Scatterv(packed.p, counts, displs, MPI_CHAR, mine, mycount, MPI_CHAR,
                                       0, d->comm));
    rc = up_share_unpack(share, mine, (size_t)mycount, d->err, ERRLEN);
    mine = NULL; /* the share owns it now */
out:
    free(mine);
    free(counts);
    free(displs);
    up_buf_free(&packed);
    return rc;
}
