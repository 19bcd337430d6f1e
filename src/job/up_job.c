/*
 * The report job across MPI ranks, read as its list of phases: rank 0 plans (status
 * Running, the source's view); Bcast of now; rank 0 streams each rank its share of the
 * metadata (up_dist_stream); every rank works on its own stores; the rows streamed to
 * rank 0 in chunks, rank by rank (or written by every rank itself, --parallel-write);
 * rank 0 publishes the CSV. Every phase ends in an agreement, so all ranks leave the same
 * way. The parts without MPI are up_plan.c and up_worker.c.
 */
#include "up_job.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "up_deadline.h"
#include "up_dist.h"
#include "up_job_int.h"
#include "up_log.h"
#include "up_report.h"
#include "up_status.h"
#include "up_time.h"
#include "up_watchdog.h"

#define ERRLEN UP_JOB_ERRLEN

/* One run of the job on one rank. */
struct job {
    struct up_job_opts *o;
    struct up_dist d;        /* the job's own communicator, rank, size and message */
    struct up_plan plan;     /* rank 0, until every rank has read its polls */
    struct up_share share;   /* this rank's stores */
    struct up_worker worker; /* this rank's results */
    struct up_store *conn;   /* this rank's reading connection, on the report's view */
    int64_t now;             /* the report's now, on every rank */
    int has_polls;           /* 0: no poll anywhere, the report is the header alone */
    int no_status;           /* rank 0: the status is not ours to write (id in use) */
    /* Rank 0, for the summary and the status: kept when the plan is freed. */
    int64_t stores, no_hours, no_zone, orphans, polls_total;
    double t_start, t_meta, t_scatter, t_gather, t_write;
    /* Rank 0's watchdog (--timeout) and what it reads from its own thread: the phase, and
     * what it may undo (the status, if this run's; the temporary report, once named). */
    struct up_watchdog *watchdog;
    atomic_int phase;       /* enum up_phase */
    atomic_int status_ours; /* the status file says Running for this run */
    atomic_int tmp_set;     /* tmp holds the temporary report's path */
    char tmp[PATH_MAX];
};

static void status_warn(enum up_code rc, const char *err)
{
    if (rc != UP_OK)
        UP_LOG(WARN, "%s", err);
}

/* ---- Phase 0 (all): every rank's pid and host, for the status file. ---- */

#define TAG_PROCS 14

/*
 * Every rank's pid and host on rank 0 (NULL elsewhere, and when out of memory: then they
 * are not recorded). The status file keeps them so that the lifecycle can name a rank that
 * dies later by its pid too (mpirun's own message names the rank and the node, and Open
 * MPI 4.1 prints its pid as 0). One small message per rank, at the start; collective.
 */
static struct up_rank_proc *gather_procs(struct job *j)
{
    struct up_rank_proc me, *all;
    int r;

    memset(&me, 0, sizeof me);
    me.pid = (long)getpid();
    if (gethostname(me.host, sizeof me.host) != 0)
        snprintf(me.host, sizeof me.host, "unknown");
    me.host[sizeof me.host - 1] = '\0';
    if (j->d.rank != 0) {
        UP_MPI_CHECK(j->d.comm, MPI_Send(&me, (int)sizeof me, MPI_BYTE, 0, TAG_PROCS, j->d.comm));
        return NULL;
    }
    all = calloc((size_t)j->d.size, sizeof *all);
    for (r = 1; r < j->d.size; r++) {
        struct up_rank_proc got;
        UP_MPI_CHECK(j->d.comm, MPI_Recv(&got, (int)sizeof got, MPI_BYTE, r, TAG_PROCS, j->d.comm,
                                         MPI_STATUS_IGNORE));
        got.host[sizeof got.host - 1] = '\0';
        if (all)
            all[r] = got;
    }
    if (all)
        all[0] = me;
    return all;
}

/* ---- Phase 1 (rank 0): the report id, status Running, the plan. ---- */

static enum up_code plan(struct job *j, const struct up_rank_proc *procs)
{
    struct up_job_opts *o = j->o;
    struct up_status_start s;
    char host[256];

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
    s.procs = procs;
    s.nprocs = procs ? j->d.size : 0;
    /* A reports folder the status cannot be written to is found now, not after all the
     * computing: the report could not be published there either. */
    {
        enum up_code rc = up_status_running(o->reports_dir, o->report_id, &s, j->d.err, ERRLEN);
        if (rc != UP_OK) {
            /* Another run's status (id in use) or none at all: never marked Failed. */
            j->no_status = 1;
            return rc == UP_EUSAGE ? UP_EUSAGE : UP_EIO;
        }
        atomic_store(&j->status_ours, 1);
    }
    return up_plan_begin(&j->plan, o->db, o->has_now, o->now, j->d.err, ERRLEN);
}

/* Rank 0, when a rank found the source changed since the plan's view (up_dist_pin). */
static enum up_code replan(void *ctx, struct up_plan *p, char *err, size_t errlen)
{
    const struct up_job_opts *o = ctx;

    up_plan_free(p);
    up_plan_init(p);
    return up_plan_begin(p, o->db, o->has_now, o->now, err, errlen);
}

/* ---- Phase 2: contiguous ranges balanced by weight, packed and scattered. ---- */

/* ---- Phase 3's progress: stores computed on every rank, seen by rank 0. ---- */

/*
 * Each rank but 0 sends exactly PROGRESS_MSGS small messages to rank 0 over its life, the
 * k-th once it has computed k/PROGRESS_MSGS of its stores (the rest at its end, even when
 * it failed), so rank 0 knows how many to receive and no collective is needed per store.
 * Rank 0 takes them while it computes its own stores and while it waits for the others,
 * and rewrites the status file's progress at most every --progress-ms (500 ms).
 */
#define PROGRESS_MSGS 20
#define TAG_PROGRESS 12
/* Rank 0 looks for them, and at its own count, after every this many of its own stores:
 * an MPI_Iprobe runs the library's progress engine, and one after each store cost rank 0
 * some 0.6 us a store that no other rank paid (at 1 M stores on 2 ranks, rank 0 computed
 * for 1.28 s and rank 1 for 0.99 s). */
#define PROGRESS_PROBE_EVERY 256

struct progress {
    struct job *j;
    size_t n;                     /* this rank's stores */
    int sent;                     /* ranks but 0: messages sent */
    int64_t value[PROGRESS_MSGS]; /* their payloads, alive until the sends complete */
    MPI_Request req[PROGRESS_MSGS];
    int64_t *done_of; /* rank 0: the latest count of each rank */
    int64_t total;    /* rank 0: stores of the plan */
    int received;     /* rank 0 */
    double last_write;
};

static void progress_write(struct progress *p, int force)
{
    const struct up_job_opts *o = p->j->o;
    double now = up_job_wall();
    int64_t done = 0;
    char err[ERRLEN];
    int r;

    if (!force && now - p->last_write < (o->progress_ms > 0 ? o->progress_ms : 500) / 1e3)
        return;
    p->last_write = now;
    for (r = 0; r < p->j->d.size; r++)
        done += p->done_of[r];
    UP_LOG(DEBUG, "progress: %lld of %lld stores computed", (long long)done, (long long)p->total);
    /* 10 when the computing starts, 90 when the last store is done. */
    status_warn(up_status_progress(o->reports_dir, o->report_id, UP_PHASE_COMPUTING,
                                   (int)(10 + (p->total ? 80 * done / p->total : 80)), -1, err,
                                   sizeof err),
                err);
}

/* Rank 0: takes the progress messages that have arrived (all that remain, if block). */
static void progress_take(struct progress *p, int block)
{
    int want = PROGRESS_MSGS * (p->j->d.size - 1);

    while (p->received < want) {
        MPI_Status st;
        int64_t v;
        int any = 1;
        if (!block)
            UP_MPI_CHECK(p->j->d.comm,
                         MPI_Iprobe(MPI_ANY_SOURCE, TAG_PROGRESS, p->j->d.comm, &any, &st));
        if (!any)
            break;
        UP_MPI_CHECK(p->j->d.comm,
                     MPI_Recv(&v, 1, MPI_INT64_T, MPI_ANY_SOURCE, TAG_PROGRESS, p->j->d.comm, &st));
        p->received++;
        if (p->done_of) { /* without it (out of memory) the messages are still taken */
            p->done_of[st.MPI_SOURCE] = v;
            progress_write(p, 0);
        }
    }
}

static void progress_send(struct progress *p, int64_t done)
{
    p->value[p->sent] = done;
    UP_MPI_CHECK(p->j->d.comm, MPI_Isend(&p->value[p->sent], 1, MPI_INT64_T, 0, TAG_PROGRESS,
                                         p->j->d.comm, &p->req[p->sent]));
    p->sent++;
}

/* The worker's hook, after each store. */
static void progress_on_store(void *ctx, size_t done)
{
    struct progress *p = ctx;

    if (p->j->d.rank == 0) {
        if (p->done_of)
            p->done_of[0] = (int64_t)done;
        if (done % PROGRESS_PROBE_EVERY == 0) {
            progress_take(p, 0);
            /* Its own stores count too: on one rank no message ever comes. */
            if (p->done_of)
                progress_write(p, 0);
        }
        return;
    }
    /* The k-th message once done reaches ceil(k n / PROGRESS_MSGS). */
    while (p->sent < PROGRESS_MSGS && done * PROGRESS_MSGS >= (size_t)(p->sent + 1) * p->n)
        progress_send(p, (int64_t)done);
}

/* Every rank, after its worker (whatever happened): the ranks but 0 send what is left
 * and complete their sends; rank 0 receives everything. */
static void progress_end(struct progress *p, int64_t done)
{
    if (p->j->d.rank == 0) {
        if (p->done_of)
            p->done_of[0] = done;
        progress_take(p, 1);
        if (p->done_of)
            progress_write(p, 1); /* every rank's last count, whatever the interval */
        return;
    }
    while (p->sent < PROGRESS_MSGS)
        progress_send(p, done);
    UP_MPI_CHECK(p->j->d.comm, MPI_Waitall(PROGRESS_MSGS, p->req, MPI_STATUSES_IGNORE));
}

/* ---- Phase 4: the rows to rank 0, streamed rank by rank, which is store order. ---- */

/* Bytes of formatted rows per message: rank 0 holds two of them, whatever the platform. */
#define ROWS_CHUNK ((size_t)1 << 20)
#define TAG_ROWS 11

/* Longest row: a 128-byte id quoted with every byte doubled, six values, commas. */
#define MAX_ROW 512

/* Appends store i's row and its newline to the chunk buf of *used bytes (MAX_ROW free). */
static void put_row(const struct job *j, size_t i, char *buf, size_t *used)
{
    int len = up_report_format_row(buf + *used, MAX_ROW - 1, UP_SHARE_STORE(&j->share, i)->id,
                                   &j->worker.out[i]);

    if (len < 0)
        abort(); /* ids are at most 128 bytes: a row always fits */
    *used += (size_t)len;
    buf[(*used)++] = '\n';
}

/* Every rank formats its own rows (the work is shared) and sends them in chunks, ending
 * with an empty message. */
static void send_rows(struct job *j, char *buf)
{
    size_t n = UP_SHARE_N(&j->share), i, used = 0;

    for (i = 0; i < n; i++) {
        if (ROWS_CHUNK - used < MAX_ROW) {
            UP_MPI_CHECK(j->d.comm, MPI_Send(buf, (int)used, MPI_CHAR, 0, TAG_ROWS, j->d.comm));
            used = 0;
        }
        put_row(j, i, buf, &used);
    }
    if (used > 0)
        UP_MPI_CHECK(j->d.comm, MPI_Send(buf, (int)used, MPI_CHAR, 0, TAG_ROWS, j->d.comm));
    UP_MPI_CHECK(j->d.comm, MPI_Send(buf, 0, MPI_CHAR, 0, TAG_ROWS, j->d.comm));
}

/* Rank 0: its own rows, then each rank's chunks as they arrive, the next one received
 * while this one is written. A write error does not stop the receiving (no rank waits
 * forever); up_report_commit reports it. */
static void write_rows(struct job *j, struct up_report_writer *rep, char *buf[2])
{
    size_t i;
    int r;

    for (i = 0; i < UP_SHARE_N(&j->share); i++)
        up_report_row(rep, UP_SHARE_STORE(&j->share, i)->id, &j->worker.out[i]);
    for (r = 1; r < j->d.size; r++) {
        MPI_Request req;
        MPI_Status st;
        int cur = 0, count = 0;

        UP_MPI_CHECK(j->d.comm,
                     MPI_Irecv(buf[cur], (int)ROWS_CHUNK, MPI_CHAR, r, TAG_ROWS, j->d.comm, &req));
        for (;;) {
            UP_MPI_CHECK(j->d.comm, MPI_Wait(&req, &st));
            UP_MPI_CHECK(j->d.comm, MPI_Get_count(&st, MPI_CHAR, &count));
            if (count == 0)
                break;
            UP_MPI_CHECK(j->d.comm, MPI_Irecv(buf[1 - cur], (int)ROWS_CHUNK, MPI_CHAR, r, TAG_ROWS,
                                              j->d.comm, &req));
            up_report_rows_raw(rep, buf[cur], (size_t)count);
            cur = 1 - cur;
        }
    }
}

/* ---- Phase 4 with --parallel-write: every rank writes its own rows into the report. ---- */

/*
 * This rank's rows formatted into buf chunk by chunk: counted (part NULL), or written at
 * at + their offset among this rank's rows. Returns the bytes; on a write error, -1 with
 * the reason in the job's message.
 */
static int64_t own_rows(struct job *j, char *buf, struct up_report_part *part, int64_t at)
{
    size_t n = UP_SHARE_N(&j->share), i, used = 0;
    int64_t total = 0;

    for (i = 0;; i++) {
        if (i == n || ROWS_CHUNK - used < MAX_ROW) {
            if (part && used > 0 &&
                up_report_part_write(part, buf, used, at + total, j->d.err, ERRLEN) != UP_OK)
                return -1;
            total += (int64_t)used;
            used = 0;
            if (i == n)
                return total;
        }
        put_row(j, i, buf, &used);
    }
}

/*
 * The same bytes as the gather: each rank's rows start where the rows of the ranks before
 * it end (an exclusive scan of their byte counts, after the header rank 0 wrote). Rank 0
 * sends the temporary file's name (mkstemp's) and identity; every rank opens it for its
 * rows, refusing any other file (up_report_part_open), writes them with pwrite and fsyncs.
 * Each rank formats its rows twice (to count them, then to write them) so that none holds
 * more than one chunk of them. Rank 0 then publishes as after the gather.
 */
static enum up_code write_parts(struct job *j, struct up_report_writer *rep, char *buf)
{
    char path[PATH_MAX] = "", host0[256] = "", host[256] = "", scratch[ERRLEN];
    uint64_t id[2] = {0, 0};
    int64_t start = 0, mine, before = 0;
    struct up_report_part *part = NULL;
    enum up_code rc = UP_OK, closed;

    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    if (j->d.rank == 0) {
        rc = up_report_expose(rep, &id[0], &id[1], &start, j->d.err, ERRLEN);
        snprintf(path, sizeof path, "%s", up_report_temp_path(rep));
        memcpy(host0, host, sizeof host0);
    }
    rc = up_dist_agree(&j->d, rc);
    if (rc != UP_OK)
        return rc;
    UP_MPI_CHECK(j->d.comm, MPI_Bcast(path, sizeof path, MPI_CHAR, 0, j->d.comm));
    UP_MPI_CHECK(j->d.comm, MPI_Bcast(host0, sizeof host0, MPI_CHAR, 0, j->d.comm));
    UP_MPI_CHECK(j->d.comm, MPI_Bcast(id, 2, MPI_UINT64_T, 0, j->d.comm));
    UP_MPI_CHECK(j->d.comm, MPI_Bcast(&start, 1, MPI_INT64_T, 0, j->d.comm));
    mine = own_rows(j, buf, NULL, 0);
    UP_MPI_CHECK(j->d.comm, MPI_Exscan(&mine, &before, 1, MPI_INT64_T, MPI_SUM, j->d.comm));
    if (j->d.rank == 0)
        before = 0; /* MPI_Exscan leaves rank 0's undefined */
    if (mine > 0) {
        rc = up_report_part_open(path, id[0], id[1], strcmp(host, host0) == 0, &part, j->d.err,
                                 ERRLEN);
        if (rc == UP_OK && own_rows(j, buf, part, start + before) < 0)
            rc = UP_EIO;
        closed = up_report_part_close(part, rc == UP_OK ? j->d.err : scratch, ERRLEN);
        if (rc == UP_OK)
            rc = closed;
    }
    return up_dist_agree(&j->d, rc);
}

static enum up_code gather(struct job *j, struct up_report_writer **rep)
{
    const struct up_job_opts *o = j->o;
    char *buf[2] = {NULL, NULL}, err[ERRLEN];
    enum up_code rc = UP_OK;

    int two = j->d.rank == 0 && !o->parallel_write; /* rank 0 receives while it writes */

    /* Buffers and the temporary report first, agreed, so that the stream cannot fail. */
    buf[0] = malloc(ROWS_CHUNK);
    if (two)
        buf[1] = malloc(ROWS_CHUNK);
    if (!buf[0] || (two && !buf[1])) {
        snprintf(j->d.err, ERRLEN, "out of memory for the rows' buffers");
        rc = UP_ENOMEM;
    } else if (j->d.rank == 0) {
        status_warn(up_status_progress(o->reports_dir, o->report_id, UP_PHASE_WRITING, 90, -1, err,
                                       sizeof err),
                    err);
        if (!j->has_polls)
            UP_LOG(WARN, "no valid poll in the source: the report holds the header only");
        atomic_store(&j->phase, UP_PHASE_WRITING);
        rc = up_report_open(o->reports_dir, o->report_id, rep, j->d.err, ERRLEN);
        if (rc == UP_OK && (size_t)snprintf(j->tmp, sizeof j->tmp, "%s",
                                            up_report_temp_path(*rep)) < sizeof j->tmp)
            atomic_store(&j->tmp_set, 1);
    }
    /* Past the deadline, a rank does not start the stream of rows. */
    if (rc == UP_OK && up_deadline_expired())
        rc = up_deadline_error(j->d.err, ERRLEN, "gathering the results");
    rc = up_dist_agree(&j->d, rc);
    if (rc == UP_OK && o->parallel_write)
        rc = write_parts(j, *rep, buf[0]);
    else if (rc == UP_OK && j->d.rank == 0)
        write_rows(j, *rep, buf);
    else if (rc == UP_OK)
        send_rows(j, buf[0]);
    free(buf[0]);
    free(buf[1]);
    if (rc != UP_OK)
        return rc;
    UP_MPI_CHECK(j->d.comm, MPI_Reduce(&j->worker.polls_read, &j->polls_total, 1, MPI_INT64_T,
                                       MPI_SUM, 0, j->d.comm));
    {
        /* The slowest rank's read and compute times are the job's. */
        double mine[2] = {j->worker.read_s, j->worker.compute_s}, max[2] = {0, 0};
        UP_MPI_CHECK(j->d.comm, MPI_Reduce(mine, max, 2, MPI_DOUBLE, MPI_MAX, 0, j->d.comm));
        j->worker.read_s = max[0];
        j->worker.compute_s = max[1];
    }
    return UP_OK;
}

/* ---- Phase 5 (rank 0): fsync and rename the CSV, then the status. ---- */

static void summary(const struct job *j)
{
    char now_text[40] = "(no polls)";

    if (j->has_polls)
        up_format_timestamp(j->now, now_text, sizeof now_text);
    printf("report %s -> %s/%s.csv\n", j->o->report_id, j->o->reports_dir, j->o->report_id);
    printf("  now %s; %lld stores reported, %lld polls read, %d ranks\n", now_text,
           (long long)j->stores, (long long)j->polls_total, j->d.size);
    printf("  %lld stores without hours (open 24x7), %lld without timezone (%s), "
           "%lld with hours or timezone but no poll (not reported)\n",
           (long long)j->no_hours, (long long)j->no_zone, UP_DEFAULT_ZONE, (long long)j->orphans);
    printf("  time: metadata %.3f s, scatter %.3f s, reads %.3f s, compute %.3f s, "
           "gather and write %.3f s, sync %.3f s, total %.3f s\n",
           j->t_meta, j->t_scatter, j->worker.read_s, j->worker.compute_s, j->t_gather, j->t_write,
           up_job_wall() - j->t_start);
}

static enum up_code publish(struct job *j, struct up_report_writer *rep)
{
    const struct up_job_opts *o = j->o;
    struct up_status_done done;
    char err[ERRLEN];
    double t0 = up_job_wall();
    enum up_code rc;

    /* The report is whole: from here on the watchdog must not say otherwise. */
    up_watchdog_stop(j->watchdog);
    j->watchdog = NULL;
    rc = up_report_commit(rep, j->d.err, ERRLEN);
    j->t_write = up_job_wall() - t0;
    if (rc != UP_OK)
        return rc;
    done.has_now = j->has_polls;
    done.now = j->now;
    done.stores = j->stores;
    done.polls = j->polls_total;
    status_warn(up_status_complete(o->reports_dir, o->report_id, &done, err, sizeof err), err);
    if (!o->quiet)
        summary(j);
    return UP_OK;
}

/* Rank 0 closes its planning connection once every rank has read on its view. */
static void plan_done(struct job *j)
{
    up_plan_free(&j->plan);
}

/* ---- The job. ---- */

/* What the job was doing, for the watchdog's message (enum up_phase order). */
static const char *const phase_doing[] = {"planning", "reading polls and computing",
                                          "writing the report", "done"};

/* Rank 0's watchdog: the deadline and its grace have passed and the job has not ended.
 * Says so, marks the status Failed (if it is this run's) and removes the temporary
 * report; the watchdog then ends the process, and mpirun the other ranks. */
static void job_expired(void *ctx)
{
    struct job *j = ctx;
    char why[ERRLEN], err[ERRLEN];
    size_t k;

    up_deadline_error(why, sizeof why, phase_doing[atomic_load(&j->phase)]);
    k = strlen(why);
    snprintf(why + k, sizeof why - k, "; a rank was still busy %d s later: the job was ended",
             UP_WATCHDOG_GRACE_S);
    UP_LOG(ERROR, "%s", why);
    if (atomic_load(&j->status_ours))
        status_warn(up_status_job_failed(j->o->reports_dir, j->o->report_id, why, UP_ETIMEOUT, err,
                                         sizeof err),
                    err);
    if (atomic_load(&j->tmp_set))
        unlink(j->tmp);
}

static void job_begin(struct job *j, struct up_job_opts *o, MPI_Comm caller)
{
    memset(j, 0, sizeof *j);
    j->o = o;
    j->t_start = up_job_wall();
    up_plan_init(&j->plan);
    up_dist_begin(&j->d, caller);
    atomic_store(&j->phase, UP_PHASE_METADATA);
    /* Every rank's deadline starts here, within moments of the others'. */
    up_deadline_set(o->timeout_s);
    if (j->d.rank == 0 && o->timeout_s > 0)
        j->watchdog = up_watchdog_start(((long long)o->timeout_s + UP_WATCHDOG_GRACE_S) * 1000,
                                        job_expired, j, UP_ETIMEOUT);
}

static void job_end(struct job *j)
{
    up_watchdog_stop(j->watchdog);
    j->watchdog = NULL;
    up_deadline_set(0);
    up_store_close(j->conn);
    up_worker_free(&j->worker);
    up_share_free(&j->share);
    up_plan_free(&j->plan);
    up_dist_end(&j->d);
}

enum up_code up_job_run(struct up_job_opts *o, MPI_Comm caller)
{
    struct job j;
    struct up_report_writer *rep = NULL;
    struct progress prog;
    enum up_code rc = UP_OK;
    double t0;
    char err[ERRLEN];
    int final;

    job_begin(&j, o, caller);
    {
        struct up_rank_proc *procs = gather_procs(&j);
        if (j.d.rank == 0)
            rc = plan(&j, procs);
        else
            up_dist_preopen(o->db, &j.conn);
        free(procs);
    }
    UP_MPI_CHECK(j.d.comm, MPI_Bcast(o->report_id, sizeof o->report_id, MPI_CHAR, 0, j.d.comm));
    rc = up_dist_agree(&j.d, rc);
    if (rc != UP_OK)
        goto done;
    /* Every rank reads the view rank 0 planned on (its connection stays open until every
     * rank has read), each on a connection pinned to it now, before the scatter. */
    rc = up_dist_pin(&j.d, &j.plan, o->db, replan, o, &j.conn);
    if (rc != UP_OK)
        goto done;
    j.now = j.plan.now;
    j.has_polls = j.plan.has_now;
    j.t_meta = up_job_wall() - j.t_start;

    t0 = up_job_wall();
    {
        struct up_dist_counts counts;
        rc = up_dist_stream(&j.d, &j.plan, &j.share, &counts);
        j.stores = counts.stores;
        j.no_hours = counts.no_hours;
        j.no_zone = counts.no_zone;
        j.orphans = counts.orphans;
    }
    j.t_scatter = up_job_wall() - t0;
    atomic_store(&j.phase, UP_PHASE_COMPUTING);
    if (rc == UP_OK && j.d.rank == 0)
        status_warn(up_status_progress(o->reports_dir, o->report_id, UP_PHASE_COMPUTING, 10,
                                       j.stores, err, sizeof err),
                    err);
    memset(&prog, 0, sizeof prog);
    prog.j = &j;
    prog.last_write = up_job_wall(); /* the 10 just written */
    prog.n = UP_SHARE_N(&j.share);
    prog.total = j.stores;
    if (j.d.rank == 0) {
        prog.done_of = calloc((size_t)j.d.size, sizeof *prog.done_of);
        if (!prog.done_of && rc == UP_OK) {
            snprintf(j.d.err, ERRLEN, "out of memory");
            rc = UP_ENOMEM;
        }
    }
    j.worker.on_store = progress_on_store;
    j.worker.on_store_ctx = &prog;
    if (rc == UP_OK)
        rc = up_worker_run_on(&j.worker, &j.share, j.conn, o->db, j.plan.token, o->tzdir,
                              j.plan.now, j.plan.has_now, j.d.err, ERRLEN);
    up_store_close(j.conn);
    j.conn = NULL;
    progress_end(&prog, (int64_t)j.worker.cur);
    free(prog.done_of);
    rc = up_dist_agree(&j.d, rc);
    if (rc != UP_OK)
        goto done;
    if (j.d.rank == 0)
        plan_done(&j);

    t0 = up_job_wall();
    rc = gather(&j, &rep);
    j.t_gather = up_job_wall() - t0;
    if (rc == UP_OK && j.d.rank == 0) {
        rc = publish(&j, rep);
        rep = NULL; /* freed by up_report_commit */
    }

done:
    if (rc != UP_OK && j.d.rank == 0) {
        /* Agreed: the verdict is the job's own, not the watchdog's. */
        up_watchdog_stop(j.watchdog);
        j.watchdog = NULL;
        UP_LOG(ERROR, "%s", j.d.err);
        /* The temporary CSV goes first: on a full file system its room is what the
         * status needs to say Failed. */
        up_report_abort(rep);
        rep = NULL;
        if (!j.no_status)
            status_warn(up_status_job_failed(o->reports_dir, o->report_id, j.d.err, (int)rc, err,
                                             sizeof err),
                        err);
    }
    up_report_abort(rep);
    final = (int)rc;
    UP_MPI_CHECK(j.d.comm, MPI_Bcast(&final, 1, MPI_INT, 0, j.d.comm));
    job_end(&j);
    return (enum up_code) final;
}
