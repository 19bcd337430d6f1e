/*
 * The report job across MPI ranks, read as its list of phases: rank 0 plans (status
 * Running, metadata); Bcast of now; Scatterv of each rank's share; every rank works on
 * its own stores; Gatherv of the results; rank 0 publishes the CSV. Every phase ends in
 * an agreement, so all ranks leave the same way. The parts without MPI are up_plan.c
 * and up_worker.c.
 */
#include "up_job.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "up_dist.h"
#include "up_job_int.h"
#include "up_log.h"
#include "up_report.h"
#include "up_status.h"
#include "up_time.h"

#define ERRLEN UP_JOB_ERRLEN

/* One run of the job on one rank. */
struct job {
    struct up_job_opts *o;
    struct up_dist d;         /* the job's own communicator, rank, size and message */
    MPI_Datatype result_type; /* struct up_result */
    struct up_plan plan;      /* rank 0 */
    struct up_share share;    /* this rank's stores */
    struct up_worker worker;  /* this rank's results */
    struct up_result *all;    /* rank 0: every store's result, in store order */
    int64_t polls_total;      /* rank 0 */
    double t_start, t_meta, t_scatter, t_gather, t_write;
};

static void status_warn(enum up_code rc, const char *err)
{
    if (rc != UP_OK)
        UP_LOG(WARN, "%s", err);
}

/* ---- Phase 1 (rank 0): the report id, status Running, the plan. ---- */

static enum up_code plan(struct job *j)
{
    struct up_job_opts *o = j->o;
    struct up_status_start s;
    char host[256], err[ERRLEN];

    if (o->report_id[0] == '\0')
        up_report_new_id(o->report_id);
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    if (mkdir(o->reports_dir, 0777) != 0 && errno != EEXIST) {
        snprintf(j->d.err, ERRLEN, "cannot create reports folder %s: %s", o->reports_dir,
                 strerror(errno));
        return UP_EIO;
    }
    s.ranks = j->d.size;
    s.rank0_pid = (long)getpid();
    s.rank0_host = host;
    s.source = o->db;
    status_warn(up_status_running(o->reports_dir, o->report_id, &s, err, sizeof err), err);
    return up_plan_read_pinned(&j->plan, o->db, o->has_now, o->now, j->d.err, ERRLEN);
}

/* ---- Phase 2: contiguous ranges balanced by weight, packed and scattered. ---- */

/* ---- Phase 4: the results to rank 0, in rank order, which is store order. ---- */

static enum up_code gather(struct job *j)
{
    int n = (int)UP_SHARE_N(&j->share), *counts = NULL, *displs = NULL, r;
    enum up_code rc = UP_OK;

    if (j->d.rank == 0) {
        counts = calloc((size_t)j->d.size, sizeof *counts);
        displs = calloc((size_t)j->d.size, sizeof *displs);
        j->all = malloc(UP_PLAN_N(&j->plan) ? UP_PLAN_N(&j->plan) * sizeof *j->all : 1);
        if (!counts || !displs || !j->all) {
            snprintf(j->d.err, ERRLEN, "out of memory for %zu results", UP_PLAN_N(&j->plan));
            rc = UP_ENOMEM;
        }
    }
    rc = up_dist_agree(&j->d, rc);
    if (rc != UP_OK)
        goto out;
    UP_MPI_CHECK(j->d.comm, MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, 0, j->d.comm));
    if (j->d.rank == 0)
        for (r = 1; r < j->d.size; r++)
            displs[r] = displs[r - 1] + counts[r - 1];
    UP_MPI_CHECK(j->d.comm, MPI_Gatherv(j->worker.out, n, j->result_type, j->all, counts, displs,
                                        j->result_type, 0, j->d.comm));
    UP_MPI_CHECK(j->d.comm, MPI_Reduce(&j->worker.polls_read, &j->polls_total, 1, MPI_INT64_T,
                                       MPI_SUM, 0, j->d.comm));
    {
        /* The slowest rank's read and compute times are the job's. */
        double mine[2] = {j->worker.read_s, j->worker.compute_s}, max[2] = {0, 0};
        UP_MPI_CHECK(j->d.comm, MPI_Reduce(mine, max, 2, MPI_DOUBLE, MPI_MAX, 0, j->d.comm));
        j->worker.read_s = max[0];
        j->worker.compute_s = max[1];
    }
out:
    free(counts);
    free(displs);
    return rc;
}

/* ---- Phase 5 (rank 0): the CSV, atomically, then the status. ---- */

static void summary(const struct job *j)
{
    const struct up_plan *p = &j->plan;
    int64_t no_hours = 0, no_zone = 0;
    char now_text[40] = "(no polls)";
    size_t i;

    for (i = 0; i < UP_PLAN_N(p); i++) {
        no_hours += UP_PLAN_STORE(p, i)->nhours == 0;
        no_zone += UP_PLAN_STORE(p, i)->zone < 0;
    }
    if (p->has_now)
        up_format_timestamp(p->now, now_text, sizeof now_text);
    printf("report %s -> %s/%s.csv\n", j->o->report_id, j->o->reports_dir, j->o->report_id);
    printf("  now %s; %zu stores reported, %lld polls read, %d ranks\n", now_text, UP_PLAN_N(p),
           (long long)j->polls_total, j->d.size);
    printf("  %lld stores without hours (open 24x7), %lld without timezone (%s), "
           "%lld with hours or timezone but no poll (not reported)\n",
           (long long)no_hours, (long long)no_zone, UP_DEFAULT_ZONE, (long long)p->orphans);
    printf("  time: metadata %.3f s, scatter %.3f s, reads %.3f s, compute %.3f s, "
           "gather %.3f s, write %.3f s, total %.3f s\n",
           j->t_meta, j->t_scatter, j->worker.read_s, j->worker.compute_s, j->t_gather, j->t_write,
           up_job_wall() - j->t_start);
}

static enum up_code publish(struct job *j)
{
    const struct up_job_opts *o = j->o;
    struct up_report_writer *rep = NULL;
    struct up_status_done done;
    char err[ERRLEN];
    double t0 = up_job_wall();
    enum up_code rc;
    size_t i;

    status_warn(
        up_status_progress(o->reports_dir, o->report_id, UP_PHASE_WRITING, 90, -1, err, sizeof err),
        err);
    if (!j->plan.has_now)
        UP_LOG(WARN, "no valid poll in the source: the report holds the header only");
    rc = up_report_open(o->reports_dir, o->report_id, &rep, j->d.err, ERRLEN);
    if (rc != UP_OK)
        return rc;
    for (i = 0; i < UP_PLAN_N(&j->plan); i++)
        up_report_row(rep, UP_PLAN_STORE(&j->plan, i)->id, &j->all[i]);
    rc = up_report_commit(rep, j->d.err, ERRLEN);
    j->t_write = up_job_wall() - t0;
    if (rc != UP_OK)
        return rc;
    done.has_now = j->plan.has_now;
    done.now = j->plan.now;
    done.stores = (int64_t)UP_PLAN_N(&j->plan);
    done.polls = j->polls_total;
    status_warn(up_status_complete(o->reports_dir, o->report_id, &done, err, sizeof err), err);
    if (!o->quiet)
        summary(j);
    return UP_OK;
}

/* ---- The job. ---- */

static enum up_code job_begin(struct job *j, struct up_job_opts *o, MPI_Comm caller)
{
    int blocklen[2] = {UP_NWIN, UP_NWIN};
    MPI_Aint disp[2] = {offsetof(struct up_result, up), offsetof(struct up_result, down)};
    MPI_Datatype types[2] = {MPI_INT64_T, MPI_INT64_T};

    memset(j, 0, sizeof *j);
    j->o = o;
    j->t_start = up_job_wall();
    j->result_type = MPI_DATATYPE_NULL;
    up_plan_init(&j->plan);
    up_dist_begin(&j->d, caller);
    UP_MPI_CHECK(j->d.comm, MPI_Type_create_struct(2, blocklen, disp, types, &j->result_type));
    UP_MPI_CHECK(j->d.comm, MPI_Type_commit(&j->result_type));
    return UP_OK;
}

static void job_end(struct job *j)
{
    up_worker_free(&j->worker);
    up_share_free(&j->share);
    up_plan_free(&j->plan);
    free(j->all);
    if (j->result_type != MPI_DATATYPE_NULL)
        MPI_Type_free(&j->result_type);
    up_dist_end(&j->d);
}

enum up_code up_job_run(struct up_job_opts *o, MPI_Comm caller)
{
    struct job j;
    enum up_code rc = UP_OK;
    double t0;
    char err[ERRLEN];
    int final;

    job_begin(&j, o, caller);
    if (j.d.rank == 0)
        rc = plan(&j);
    UP_MPI_CHECK(j.d.comm, MPI_Bcast(o->report_id, sizeof o->report_id, MPI_CHAR, 0, j.d.comm));
    rc = up_dist_agree(&j.d, rc);
    if (rc != UP_OK)
        goto done;
    up_dist_bcast_now(&j.d, &j.plan);
    /* Every rank reads the view rank 0 planned on (its connection stays open until
     * job_end, after every rank's reads). */
    UP_MPI_CHECK(j.d.comm, MPI_Bcast(j.plan.token, sizeof j.plan.token, MPI_CHAR, 0, j.d.comm));
    j.t_meta = up_job_wall() - j.t_start;

    t0 = up_job_wall();
    rc = up_dist_scatter(&j.d, &j.plan, &j.share);
    j.t_scatter = up_job_wall() - t0;
    if (rc == UP_OK && j.d.rank == 0)
        status_warn(up_status_progress(o->reports_dir, o->report_id, UP_PHASE_COMPUTING, 10,
                                       (int64_t)UP_PLAN_N(&j.plan), err, sizeof err),
                    err);
    if (rc == UP_OK)
        rc = up_worker_run_at(&j.worker, &j.share, o->db, j.plan.token, o->tzdir, j.plan.now,
                              j.plan.has_now, j.d.err, ERRLEN);
    rc = up_dist_agree(&j.d, rc);
    if (rc != UP_OK)
        goto done;

    t0 = up_job_wall();
    rc = gather(&j);
    j.t_gather = up_job_wall() - t0;
    if (rc == UP_OK && j.d.rank == 0)
        rc = publish(&j);

done:
    if (rc != UP_OK && j.d.rank == 0) {
        UP_LOG(ERROR, "%s", j.d.err);
        status_warn(up_status_failed(o->reports_dir, o->report_id, j.d.err, err, sizeof err), err);
    }
    final = (int)rc;
    UP_MPI_CHECK(j.d.comm, MPI_Bcast(&final, 1, MPI_INT, 0, j.d.comm));
    job_end(&j);
    return (enum up_code) final;
}
