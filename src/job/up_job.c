/*
 * The report job: rank 0 reads the metadata and splits the sorted stores into contiguous
 * ranges balanced by poll count; every rank streams its own polls and computes its
 * stores; rank 0 gathers the results in order and publishes the CSV.
 */
#include "up_job.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "up_hours.h"
#include "up_log.h"
#include "up_report.h"
#include "up_status.h"
#include "up_store.h"
#include "up_strmap.h"
#include "up_time.h"
#include "up_tz.h"
#include "up_uptime.h"

#define ERRLEN 1024
/* Polls of one store held at once (a week of polls every second is 604,800). */
#define MAX_STORE_POLLS (1u << 24)

/* Every MPI call is checked; a failing one cannot be agreed on, so it aborts the job. */
#define MPI_CHECK(call)                                                                            \
    do {                                                                                           \
        int mpi_rc_ = (call);                                                                      \
        if (mpi_rc_ != MPI_SUCCESS) {                                                              \
            char mpi_msg_[MPI_MAX_ERROR_STRING];                                                   \
            int mpi_len_ = 0;                                                                      \
            MPI_Error_string(mpi_rc_, mpi_msg_, &mpi_len_);                                        \
            UP_LOG(ERROR, "MPI call %s failed: %s", #call, mpi_msg_);                              \
            MPI_Abort(MPI_COMM_WORLD, UP_EMPI);                                                    \
        }                                                                                          \
    } while (0)

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- A growable byte buffer for the scatter (capped at INT_MAX: an MPI count). ---- */

struct bytes {
    char *p;
    size_t n, cap;
};

static int bytes_put(struct bytes *b, const void *data, size_t len)
{
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;
        while (cap < b->n + len)
            cap *= 2;
        if (cap > (size_t)INT_MAX)
            cap = (size_t)INT_MAX;
        if (b->n + len > cap)
            return -1;
        p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
    return 0;
}

/* ---- Rank 0's view of the stores. ---- */

struct meta {
    size_t n, cap;
    char **id;
    int64_t *weight;   /* polls in the week window + 1: the work a store brings */
    const char **zone; /* interned zone name, NULL: the default */
    size_t *h_off;     /* first row in hours[] */
    uint32_t *h_n;
    struct up_hours_row *hours;
    size_t nhours, hcap;
    char **zones; /* interned distinct names */
    size_t nzones;
    size_t cur;                /* merge-join cursor */
    struct up_strmap *orphans; /* stores with hours or a zone but no poll */
    int64_t total_weight;
    int oom;
};

/* Resizes the array *pp (of elem-byte items) to cap items; 0, or -1 leaving it as it was. */
static int grow(void *pp, size_t elem, size_t cap)
{
    void **p = pp;
    void *q = realloc(*p, cap * elem);

    if (!q)
        return -1;
    *p = q;
    return 0;
}

static int meta_add_store(void *ctx, const char *id, int64_t npolls)
{
    struct meta *m = ctx;

    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        /* Each array keeps its old block if a later one fails: meta_free frees them all. */
        if (grow(&m->id, sizeof *m->id, cap) || grow(&m->weight, sizeof *m->weight, cap) ||
            grow(&m->zone, sizeof *m->zone, cap) || grow(&m->h_off, sizeof *m->h_off, cap) ||
            grow(&m->h_n, sizeof *m->h_n, cap)) {
            m->oom = 1;
            return 1;
        }
        m->cap = cap;
    }
    m->id[m->n] = strdup(id);
    if (!m->id[m->n]) {
        m->oom = 1;
        return 1;
    }
    m->weight[m->n] = npolls;
    m->zone[m->n] = NULL;
    m->h_off[m->n] = 0;
    m->h_n[m->n] = 0;
    m->total_weight += npolls;
    m->n++;
    return 0;
}

/*
 * Moves the merge-join cursor to id (rows arrive sorted by store_id). Returns 1 when id
 * is a reported store (cursor on it), 0 when it only appears in hours/timezones.
 */
static int meta_seek(struct meta *m, const char *id)
{
    int c = 1;

    while (m->cur < m->n && (c = strcmp(m->id[m->cur], id)) < 0)
        m->cur++;
    if (m->cur < m->n && c == 0)
        return 1;
    if (!up_strmap_get(m->orphans, id) && up_strmap_put(m->orphans, id, "") != 0)
        return -1;
    return 0;
}

static int meta_add_hours(void *ctx, const char *id, const struct up_hours_row *row)
{
    struct meta *m = ctx;
    int found = meta_seek(m, id);

    if (found <= 0) {
        m->oom = found < 0;
        return found < 0;
    }
    if (m->nhours == m->hcap) {
        size_t cap = m->hcap ? m->hcap * 2 : 4096;
        struct up_hours_row *h = realloc(m->hours, cap * sizeof *h);
        if (!h) {
            m->oom = 1;
            return 1;
        }
        m->hours = h;
        m->hcap = cap;
    }
    if (m->h_n[m->cur] == 0)
        m->h_off[m->cur] = m->nhours;
    m->hours[m->nhours++] = *row;
    m->h_n[m->cur]++;
    return 0;
}

static const char *intern_zone(struct meta *m, const char *zone)
{
    size_t i;
    char **z;

    for (i = 0; i < m->nzones; i++)
        if (strcmp(m->zones[i], zone) == 0)
            return m->zones[i];
    z = realloc(m->zones, (m->nzones + 1) * sizeof *z);
    if (!z)
        return NULL;
    m->zones = z;
    if (!(m->zones[m->nzones] = strdup(zone)))
        return NULL;
    return m->zones[m->nzones++];
}

static int meta_add_tz(void *ctx, const char *id, const char *zone)
{
    struct meta *m = ctx;
    int found = meta_seek(m, id);

    if (found <= 0) {
        m->oom = found < 0;
        return found < 0;
    }
    m->zone[m->cur] = intern_zone(m, zone);
    if (!m->zone[m->cur]) {
        m->oom = 1;
        return 1;
    }
    return 0;
}

static void meta_free(struct meta *m)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        free(m->id[i]);
    for (i = 0; i < m->nzones; i++)
        free(m->zones[i]);
    free(m->id);
    free(m->weight);
    free(m->zone);
    free(m->h_off);
    free(m->h_n);
    free(m->hours);
    free(m->zones);
    up_strmap_free(m->orphans);
    memset(m, 0, sizeof *m);
}

/* Reads now, the stores, their hours and zones (rank 0 only). */
static enum up_code read_meta(const struct up_job_opts *o, struct meta *m, int64_t *now, int *any,
                              char *err)
{
    struct up_store *st = NULL;
    enum up_code rc;
    int64_t lo;

    rc = up_store_open(o->db, UP_STORE_READ, &st, err, ERRLEN);
    if (rc != UP_OK)
        return rc;
    if (o->has_now) {
        *now = o->now;
        *any = 1;
    } else {
        rc = st->ops->max_ts(st, now, any, err, ERRLEN);
        if (rc != UP_OK || !*any)
            goto out;
    }
    lo = *now - UP_USEC_PER_WEEK;
    m->orphans = up_strmap_new();
    if (!m->orphans) {
        snprintf(err, ERRLEN, "out of memory");
        rc = UP_ENOMEM;
        goto out;
    }
    rc = st->ops->stores(st, lo, *now, meta_add_store, m, err, ERRLEN);
    if (rc == UP_OK) {
        m->cur = 0;
        rc = st->ops->hours(st, meta_add_hours, m, err, ERRLEN);
    }
    if (rc == UP_OK) {
        m->cur = 0;
        rc = st->ops->timezones(st, meta_add_tz, m, err, ERRLEN);
    }
    if (m->oom) {
        snprintf(err, ERRLEN, "out of memory reading the store list");
        rc = UP_ENOMEM;
    }
out:
    up_store_close(st);
    return rc;
}

/* ---- What each rank gets: its stores' ids, zones and hours, serialised. ---- */

struct rank_store {
    const char *id;
    const char *zone;
    const struct up_hours_row *hours;
    uint32_t nhours;
};

static int pack_store(struct bytes *b, const struct meta *m, size_t i)
{
    const char *zone = m->zone[i] ? m->zone[i] : UP_DEFAULT_ZONE;
    uint32_t n = m->h_n[i];

    return bytes_put(b, m->id[i], strlen(m->id[i]) + 1) || bytes_put(b, zone, strlen(zone) + 1) ||
           bytes_put(b, &n, sizeof n) ||
           (n && bytes_put(b, m->hours + m->h_off[i], n * sizeof(struct up_hours_row)));
}

/* Splits the buffer back into records that point into it (hours copied out aligned). */
static int unpack(const char *buf, size_t len, struct rank_store **out, size_t *nout,
                  struct up_hours_row **hours_out)
{
    size_t pos = 0, n = 0, cap = 0, nh = 0, hcap = 0;
    struct rank_store *v = NULL;
    struct up_hours_row *h = NULL;
    size_t i;

    while (pos < len) {
        struct rank_store s;
        uint32_t k;
        s.id = buf + pos;
        pos += strlen(s.id) + 1;
        s.zone = buf + pos;
        pos += strlen(s.zone) + 1;
        memcpy(&k, buf + pos, sizeof k);
        pos += sizeof k;
        s.nhours = k;
        if (nh + k > hcap) {
            struct up_hours_row *h2;
            hcap = (nh + k) * 2 + 64;
            h2 = realloc(h, hcap * sizeof *h2);
            if (!h2)
                goto oom;
            h = h2;
        }
        memcpy(h + nh, buf + pos, k * sizeof *h);
        pos += k * sizeof *h;
        s.hours = (const struct up_hours_row *)(uintptr_t)nh; /* fixed up below */
        nh += k;
        if (n == cap) {
            struct rank_store *v2;
            cap = cap ? cap * 2 : 256;
            v2 = realloc(v, cap * sizeof *v2);
            if (!v2)
                goto oom;
            v = v2;
        }
        v[n++] = s;
    }
    for (i = 0; i < n; i++)
        v[i].hours = h + (size_t)(uintptr_t)v[i].hours;
    *out = v;
    *nout = n;
    *hours_out = h;
    return 0;
oom:
    free(v);
    free(h);
    return -1;
}

/* ---- The per-rank work: stream polls, compute each store as its polls end. ---- */

struct worker {
    const struct rank_store *stores;
    size_t n;
    size_t cur; /* store whose polls are being collected */
    struct up_poll *polls;
    size_t npolls, pcap;
    struct up_tzdb *tzdb;
    struct up_intervals iv;
    int64_t now, lo;
    int64_t *out; /* 6 sums per store */
    int64_t polls_read;
    double compute_s;
    enum up_code rc;
    char *err;
};

static void compute_store(struct worker *w, size_t i)
{
    const struct rank_store *s = &w->stores[i];
    struct up_result r;
    const struct up_tz *tz;
    double t0 = wall();
    size_t n;
    int k;

    tz = up_tzdb_zone(w->tzdb, s->zone, w->err, ERRLEN);
    if (!tz) {
        w->rc = UP_EFAIL;
        return;
    }
    if (up_hours_intervals(s->hours, s->nhours, tz, w->lo, w->now, &w->iv) != UP_OK) {
        snprintf(w->err, ERRLEN, "store %s: out of memory for business hours", s->id);
        w->rc = UP_ENOMEM;
        return;
    }
    n = up_polls_normalize(w->polls, w->npolls);
    up_uptime_compute(w->polls, n, w->iv.v, w->iv.n, w->now, &r);
    for (k = 0; k < UP_NWIN; k++) {
        w->out[i * 6 + (size_t)k] = r.up[k];
        w->out[i * 6 + 3 + (size_t)k] = r.down[k];
    }
    w->npolls = 0;
    w->compute_s += wall() - t0;
}

/* Finishes every store before the one named id (their polls are complete). */
static int advance_to(struct worker *w, const char *id)
{
    while (w->cur < w->n && (id == NULL || strcmp(w->stores[w->cur].id, id) != 0)) {
        compute_store(w, w->cur);
        if (w->rc != UP_OK)
            return 1;
        w->cur++;
    }
    if (id && w->cur == w->n) {
        snprintf(w->err, ERRLEN, "database returned a poll of store %s outside this rank's list",
                 id);
        w->rc = UP_EDB;
        return 1;
    }
    return 0;
}

static int on_poll(void *ctx, const char *id, int64_t ts, int active)
{
    struct worker *w = ctx;

    if (advance_to(w, id))
        return 1;
    if (w->npolls == w->pcap) {
        size_t cap = w->pcap ? w->pcap * 2 : 1024;
        struct up_poll *p;
        if (cap > MAX_STORE_POLLS) {
            snprintf(w->err, ERRLEN, "store %s has more than %u polls in the week", id,
                     MAX_STORE_POLLS);
            w->rc = UP_ENOMEM;
            return 1;
        }
        p = realloc(w->polls, cap * sizeof *p);
        if (!p) {
            snprintf(w->err, ERRLEN, "out of memory reading polls of store %s", id);
            w->rc = UP_ENOMEM;
            return 1;
        }
        w->polls = p;
        w->pcap = cap;
    }
    w->polls[w->npolls].ts = ts;
    w->polls[w->npolls].active = active;
    w->npolls++;
    w->polls_read++;
    return 0;
}

static enum up_code run_rank(const struct up_job_opts *o, struct worker *w, double *read_s)
{
    struct up_store *st = NULL;
    const char **ids = NULL;
    enum up_code rc;
    double t0 = wall();
    size_t i;

    /* Zones are prepared for the report's range: the week, a day before for overnight
     * rows, and a margin after now. */
    w->tzdb = up_tzdb_open(o->tzdir, w->lo - 2 * UP_USEC_PER_DAY, w->now + 2 * UP_USEC_PER_DAY, w->err, ERRLEN);
    if (!w->tzdb)
        return UP_EFAIL;
    if (w->n == 0)
        return UP_OK;
    ids = malloc(w->n * sizeof *ids);
    if (!ids) {
        snprintf(w->err, ERRLEN, "out of memory");
        return UP_ENOMEM;
    }
    for (i = 0; i < w->n; i++)
        ids[i] = w->stores[i].id;
    rc = up_store_open(o->db, UP_STORE_READ, &st, w->err, ERRLEN);
    if (rc == UP_OK)
        rc = st->ops->polls(st, ids, w->n, w->lo, w->now, on_poll, w, w->err, ERRLEN);
    if (rc != UP_OK && w->rc != UP_OK)
        rc = w->rc; /* the consumer's own reason beats "stopped by its consumer" */
    if (rc == UP_OK) {
        advance_to(w, NULL);
        rc = w->rc;
    }
    up_store_close(st);
    free(ids);
    *read_s = wall() - t0 - w->compute_s;
    return rc;
}

/* ---- Agreement and messages. ---- */

/* All ranks learn the worst code; rank 0 gets the first failing rank's message. */
static enum up_code agree(enum up_code rc, char *err, int rank, int size, MPI_Comm comm)
{
    int mine = (int)rc, worst = 0;
    char *all = NULL;
    int r;

    MPI_CHECK(MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, comm));
    if (worst == UP_OK)
        return UP_OK;
    if (rank == 0) {
        all = malloc((size_t)size * ERRLEN);
        if (!all)
            MPI_Abort(comm, UP_ENOMEM);
    }
    MPI_CHECK(MPI_Gather(err, ERRLEN, MPI_CHAR, all, ERRLEN, MPI_CHAR, 0, comm));
    if (rank == 0) {
        if (rc == UP_OK || err[0] == '\0') {
            for (r = 0; r < size; r++) {
                const char *msg = all + (size_t)r * ERRLEN;
                if (msg[0] != '\0') {
                    int k = snprintf(err, ERRLEN, "rank %d: ", r);
                    size_t room = ERRLEN - (size_t)k - 1;
                    size_t len = strnlen(msg, room);
                    memcpy(err + k, msg, len);
                    err[(size_t)k + len] = '\0';
                    break;
                }
            }
        }
        free(all);
    }
    return (enum up_code)worst;
}

static void status(const struct up_job_opts *o, const struct up_status_field *f, size_t n)
{
    char err[ERRLEN];
    if (up_status_update(o->reports_dir, o->report_id, f, n, err, sizeof err) != UP_OK)
        UP_LOG(WARN, "%s", err);
}

static void status_failed(const struct up_job_opts *o, const char *why)
{
    char when[40];
    up_now_iso(when, sizeof when);
    {
        const struct up_status_field f[] = {
            {"status", "Failed", 0, 0},
            {"error", why, 0, 0},
            {"finished", when, 0, 0},
        };
        status(o, f, sizeof f / sizeof f[0]);
    }
}

/* Splits stores into size contiguous ranges of about equal weight: cut[r]..cut[r+1]. */
static void balance(const struct meta *m, int size, size_t *cut)
{
    int64_t acc = 0;
    size_t i = 0;
    int r;

    cut[0] = 0;
    for (r = 1; r < size; r++) {
        /* Rank r starts at the first store whose prefix weight reaches r/size of the total. */
        int64_t target = (int64_t)((double)m->total_weight * r / size);
        while (i < m->n && acc + m->weight[i] <= target) {
            acc += m->weight[i];
            i++;
        }
        cut[r] = i;
    }
    cut[size] = m->n;
}

enum up_code up_job_run(struct up_job_opts *o, MPI_Comm comm)
{
    struct meta m;
    struct worker w;
    char err[ERRLEN] = "";
    int rank, size, any = 0;
    enum up_code rc = UP_OK;
    double t_start = wall(), t_meta = 0, t_scatter = 0, t_read = 0, t_gather = 0, t_write = 0;
    double t0;
    int64_t now = 0, hdr[2];
    struct bytes packed = {NULL, 0, 0};
    int *counts = NULL, *displs = NULL, mycount = 0;
    char *mine = NULL;
    struct rank_store *stores = NULL;
    struct up_hours_row *hours = NULL;
    size_t nstores = 0, *cut = NULL;
    int64_t *results = NULL, polls_total = 0, *all_results = NULL;
    struct up_report_writer *rep = NULL;
    char started[40], now_text[40] = "", host[256], source[1024];
    size_t i;

    memset(&m, 0, sizeof m);
    memset(&w, 0, sizeof w);
    MPI_CHECK(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(comm, &rank));
    MPI_CHECK(MPI_Comm_size(comm, &size));
    up_now_iso(started, sizeof started);

    /* Phase 1 (rank 0): the report id, its status file, the metadata. */
    if (rank == 0) {
        if (o->report_id[0] == '\0')
            up_report_new_id(o->report_id);
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "unknown");
        host[sizeof host - 1] = '\0';
        up_store_redact(o->db, source, sizeof source);
        if (mkdir(o->reports_dir, 0777) != 0 && errno != EEXIST) {
            snprintf(err, ERRLEN, "cannot create reports folder %s: %s", o->reports_dir,
                     strerror(errno));
            rc = UP_EIO;
        } else {
            const struct up_status_field f[] = {
                {"report_id", o->report_id, 0, 0},
                {"status", "Running", 0, 0},
                {"started", started, 0, 0},
                {"ranks", NULL, size, 0},
                {"rank0_pid", NULL, (int64_t)getpid(), 0},
                {"rank0_host", host, 0, 0},
                {"source", source, 0, 0},
                {"error", NULL, 0, 1},
                {"phase", "metadata", 0, 0},
                {"progress", NULL, 0, 0},
            };
            status(o, f, sizeof f / sizeof f[0]);
            rc = read_meta(o, &m, &now, &any, err);
        }
    }
    MPI_CHECK(MPI_Bcast(o->report_id, sizeof o->report_id, MPI_CHAR, 0, comm));
    rc = agree(rc, err, rank, size, comm);
    if (rc != UP_OK)
        goto fail;
    hdr[0] = now;
    hdr[1] = any;
    MPI_CHECK(MPI_Bcast(hdr, 2, MPI_INT64_T, 0, comm));
    now = hdr[0];
    any = (int)hdr[1];
    t_meta = wall() - t_start;

    /* Phase 2: contiguous ranges balanced by poll count, scattered. */
    t0 = wall();
    counts = calloc((size_t)size, sizeof *counts);
    displs = calloc((size_t)size, sizeof *displs);
    cut = calloc((size_t)size + 1, sizeof *cut);
    if (!counts || !displs || !cut) {
        snprintf(err, ERRLEN, "out of memory");
        rc = UP_ENOMEM;
    }
    if (rank == 0 && rc == UP_OK) {
        int r;
        balance(&m, size, cut);
        for (r = 0; r < size && rc == UP_OK; r++) {
            displs[r] = (int)packed.n;
            for (i = cut[r]; i < cut[r + 1]; i++) {
                if (pack_store(&packed, &m, i) != 0) {
                    snprintf(err, ERRLEN,
                             "store metadata larger than an MPI message (2 GiB) or out of memory");
                    rc = UP_ENOMEM;
                    break;
                }
            }
            counts[r] = (int)packed.n - displs[r];
        }
    }
    rc = agree(rc, err, rank, size, comm);
    if (rc != UP_OK)
        goto fail;
    MPI_CHECK(MPI_Scatter(counts, 1, MPI_INT, &mycount, 1, MPI_INT, 0, comm));
    mine = malloc(mycount ? (size_t)mycount : 1);
    if (!mine)
        MPI_Abort(comm, UP_ENOMEM);
    MPI_CHECK(MPI_Scatterv(packed.p, counts, displs, MPI_CHAR, mine, mycount, MPI_CHAR, 0, comm));
    if (unpack(mine, (size_t)mycount, &stores, &nstores, &hours) != 0) {
        snprintf(err, ERRLEN, "out of memory unpacking %d bytes of store metadata", mycount);
        rc = UP_ENOMEM;
    }
    t_scatter = wall() - t0;

    /* Phase 3 (every rank): own connection, own polls, own stores. */
    if (rank == 0 && rc == UP_OK) {
        /* Progress by phase: the reads are nearly all of the work. */
        const struct up_status_field f[] = {
            {"phase", "reading and computing", 0, 0},
            {"progress", NULL, 10, 0},
            {"stores", NULL, (int64_t)m.n, 0},
        };
        status(o, f, sizeof f / sizeof f[0]);
    }
    if (rc == UP_OK) {
        w.stores = stores;
        w.n = nstores;
        w.now = now;
        w.lo = now - UP_USEC_PER_WEEK;
        w.err = err;
        w.rc = UP_OK;
        results = calloc(nstores ? nstores * 6 : 1, sizeof *results);
        w.out = results;
        if (!results) {
            snprintf(err, ERRLEN, "out of memory for %zu results", nstores);
            rc = UP_ENOMEM;
        } else if (any) {
            rc = run_rank(o, &w, &t_read);
        }
    }
    rc = agree(rc, err, rank, size, comm);
    if (rc != UP_OK)
        goto fail;

    /* Phase 4: results to rank 0, in rank order, which is store order. */
    t0 = wall();
    {
        int n6 = (int)(nstores * 6);
        MPI_CHECK(MPI_Gather(&n6, 1, MPI_INT, counts, 1, MPI_INT, 0, comm));
        if (rank == 0) {
            int r;
            displs[0] = 0;
            for (r = 1; r < size; r++)
                displs[r] = displs[r - 1] + counts[r - 1];
            all_results = malloc(m.n ? m.n * 6 * sizeof *all_results : 1);
            if (!all_results)
                MPI_Abort(comm, UP_ENOMEM);
        }
        MPI_CHECK(MPI_Gatherv(results, n6, MPI_INT64_T, all_results, counts, displs, MPI_INT64_T, 0,
                              comm));
        MPI_CHECK(MPI_Reduce(&w.polls_read, &polls_total, 1, MPI_INT64_T, MPI_SUM, 0, comm));
    }
    t_gather = wall() - t0;
    {
        /* The slowest rank's compute time is the job's. */
        double mine_c = w.compute_s, mine_r = t_read, max_c = 0, max_r = 0;
        MPI_CHECK(MPI_Reduce(&mine_c, &max_c, 1, MPI_DOUBLE, MPI_MAX, 0, comm));
        MPI_CHECK(MPI_Reduce(&mine_r, &max_r, 1, MPI_DOUBLE, MPI_MAX, 0, comm));
        w.compute_s = max_c;
        t_read = max_r;
    }

    /* Phase 5 (rank 0): the CSV, atomically, then the status. */
    if (rank == 0) {
        const struct up_status_field writing[] = {
            {"phase", "writing", 0, 0},
            {"progress", NULL, 90, 0},
        };
        status(o, writing, sizeof writing / sizeof writing[0]);
        t0 = wall();
        if (!any)
            UP_LOG(WARN, "no valid poll in %s: the report holds the header only", o->db);
        rc = up_report_open(o->reports_dir, o->report_id, &rep, err, ERRLEN);
        if (rc == UP_OK) {
            for (i = 0; i < m.n; i++) {
                struct up_result r;
                int k;
                for (k = 0; k < UP_NWIN; k++) {
                    r.up[k] = all_results[i * 6 + (size_t)k];
                    r.down[k] = all_results[i * 6 + 3 + (size_t)k];
                }
                up_report_row(rep, m.id[i], &r);
            }
            rc = up_report_commit(rep, err, ERRLEN);
        }
        t_write = wall() - t0;
        if (any)
            up_format_timestamp(now, now_text, sizeof now_text);
        if (rc == UP_OK) {
            char finished[40];
            int64_t no_hours = 0, no_zone = 0;
            for (i = 0; i < m.n; i++) {
                no_hours += m.h_n[i] == 0;
                no_zone += m.zone[i] == NULL;
            }
            up_now_iso(finished, sizeof finished);
            {
                const struct up_status_field f[] = {
                    {"status", "Complete", 0, 0},
                    {"finished", finished, 0, 0},
                    {"now", any ? now_text : NULL, 0, !any},
                    {"stores", NULL, (int64_t)m.n, 0},
                    {"polls", NULL, polls_total, 0},
                    {"progress", NULL, 100, 0},
                    {"phase", "done", 0, 0},
                };
                status(o, f, sizeof f / sizeof f[0]);
            }
            if (!o->quiet) {
                printf("report %s -> %s/%s.csv\n", o->report_id, o->reports_dir, o->report_id);
                printf("  now %s; %zu stores reported, %lld polls read, %d ranks\n",
                       any ? now_text : "(no polls)", m.n, (long long)polls_total, size);
                printf("  %lld stores without hours (open 24x7), %lld without timezone (%s), "
                       "%lld with hours or timezone but no poll (not reported)\n",
                       (long long)no_hours, (long long)no_zone, UP_DEFAULT_ZONE,
                       (long long)up_strmap_count(m.orphans));
                printf("  time: metadata %.3f s, scatter %.3f s, reads %.3f s, compute %.3f s, "
                       "gather %.3f s, write %.3f s, total %.3f s\n",
                       t_meta, t_scatter, t_read, w.compute_s, t_gather, t_write, wall() - t_start);
            }
        } else {
            UP_LOG(ERROR, "%s", err);
            status_failed(o, err);
        }
    }
    {
        int final = (int)rc;
        MPI_CHECK(MPI_Bcast(&final, 1, MPI_INT, 0, comm));
        rc = (enum up_code) final;
    }
    goto out;

fail:
    if (rank == 0) {
        UP_LOG(ERROR, "%s", err);
        status_failed(o, err);
    }
out:
    up_intervals_free(&w.iv);
    up_tzdb_free(w.tzdb);
    free(w.polls);
    free(results);
    free(all_results);
    free(stores);
    free(hours);
    free(mine);
    free(packed.p);
    free(counts);
    free(displs);
    free(cut);
    meta_free(&m);
    return rc;
}
