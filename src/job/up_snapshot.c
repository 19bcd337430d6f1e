/*
 * The snapshot writer: rank 0 streams the metadata out as for a report (now, then each
 * store, its hours and zone to the rank whose contiguous range holds it, in bounded
 * chunks); every rank reads its own stores' polls from the source and writes its own
 * hyperslab of every dataset with collective parallel HDF5 over MPI-IO. Rank 0 never
 * holds the platform's metadata nor a poll of another rank. The zone table is merged
 * across ranks. The file is written under a temporary name and renamed when every rank
 * has succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "up_deadline.h"
#include "up_dist.h"
#include "up_file.h"
#include "up_signal.h"
#include "up_job.h"
#include "up_snapshot.h"
#include "up_source.h"
#include "up_status.h"
#include "up_store.h"
#include "up_time.h"
#include "up_watchdog.h"

#define ERRLEN UP_JOB_ERRLEN

/* Polls one rank holds before writing them (9 bytes each). */
#define MAX_RANK_POLLS ((size_t)1 << 31)

/* Items one collective write moves per rank (bounded memory in HDF5 and MPI-IO). */
#define WRITE_ROUND ((uint64_t)1 << 22)

/* One rank's part of the snapshot. */
struct part {
    struct up_share share;
    uint64_t *poll_count; /* per store of the share */
    int64_t *first_ts;    /* per store: its earliest poll held (INT64_MAX: none) */
    struct up_buf ts;     /* int64_t */
    struct up_buf active; /* uint8_t */
    size_t cur;           /* the store whose polls are arriving */
    int64_t max_ts;
    char err[ERRLEN];
    enum up_code rc;
};

/* Offsets of this rank's items in each table, and the tables' totals. */
struct layout {
    uint64_t store_off, id_off, poll_off, hours_off;
    uint64_t stores, id_bytes, polls, hours;
};

struct snap {
    const struct up_snapshot_opts *o;
    struct up_dist d;
    struct up_plan plan;   /* rank 0 */
    struct up_store *conn; /* this rank's reading connection, on rank 0's view */
    struct part part;
    struct layout at;
    char *zone_names; /* the zone table, NUL-separated, on every rank */
    int zone_bytes;
    int32_t nzones;
    char tmp[PATH_MAX]; /* rank 0's temporary file name, broadcast */
    atomic_int tmp_set; /* rank 0: tmp names a file to remove (for the watchdog's thread) */
    struct up_watchdog *watchdog; /* rank 0, with --timeout */
    hid_t file;
    int64_t lo;
};

/* ---- Reading this rank's polls. ---- */

static int on_poll(void *ctx, const char *id, int64_t ts, int active)
{
    struct part *p = ctx;
    size_t n = UP_SHARE_N(&p->share);
    uint8_t a = (uint8_t)(active != 0);

    /* Backends hand back the ids' own pointers: a compare of pointers first. */
    while (p->cur < n && UP_SHARE_STORE(&p->share, p->cur)->id != id &&
           strcmp(UP_SHARE_STORE(&p->share, p->cur)->id, id) != 0)
        p->cur++;
    if (p->cur == n) {
        snprintf(p->err, sizeof p->err,
                 "the source returned a poll of store %s outside this rank's list", id);
        p->rc = UP_EDB;
        return 1;
    }
    if (up_buf_append(&p->ts, &ts, 1) != 0 || up_buf_append(&p->active, &a, 1) != 0) {
        snprintf(p->err, sizeof p->err,
                 "more than %zu polls on one rank, or out of memory: use more ranks",
                 MAX_RANK_POLLS);
        p->rc = UP_ENOMEM;
        return 1;
    }
    if (p->poll_count[p->cur]++ == 0)
        p->first_ts[p->cur] = ts;
    if (ts > p->max_ts)
        p->max_ts = ts;
    return 0;
}

/* A run of one store's polls at once (a backend that holds them side by side). */
static int on_polls(void *ctx, const char *id, const int64_t *ts, const uint8_t *active, size_t n)
{
    struct part *p = ctx;

    if (on_poll(ctx, id, ts[0], active[0]) != 0)
        return 1;
    if (n == 1)
        return 0;
    if (up_buf_append(&p->ts, ts + 1, n - 1) != 0 ||
        up_buf_append(&p->active, active + 1, n - 1) != 0) {
        snprintf(p->err, sizeof p->err,
                 "more than %zu polls on one rank, or out of memory: use more ranks",
                 MAX_RANK_POLLS);
        p->rc = UP_ENOMEM;
        return 1;
    }
    p->poll_count[p->cur] += n - 1;
    if (ts[n - 1] > p->max_ts)
        p->max_ts = ts[n - 1];
    return 0;
}

static enum up_code read_polls(struct snap *s)
{
    struct part *p = &s->part;
    struct up_store_sink sink = {NULL, NULL, NULL, on_poll, p, NULL, on_polls};
    size_t n = UP_SHARE_N(&p->share), i;
    struct up_store *st = s->conn;
    const char **ids;
    enum up_code rc = UP_OK;

    up_buf_init(&p->ts, sizeof(int64_t), MAX_RANK_POLLS);
    up_buf_init(&p->active, 1, MAX_RANK_POLLS);
    p->max_ts = INT64_MIN;
    p->poll_count = calloc(n ? n : 1, sizeof *p->poll_count);
    p->first_ts = malloc((n ? n : 1) * sizeof *p->first_ts);
    ids = malloc((n ? n : 1) * sizeof *ids);
    if (!p->poll_count || !p->first_ts || !ids) {
        free(ids);
        snprintf(s->d.err, ERRLEN, "out of memory for %zu stores", n);
        return UP_ENOMEM;
    }
    for (i = 0; i < n; i++)
        p->first_ts[i] = INT64_MAX;
    if (n == 0 || !s->plan.has_now) {
        free(ids);
        return UP_OK;
    }
    for (i = 0; i < n; i++)
        ids[i] = UP_SHARE_STORE(&p->share, i)->id;
    /* Without a pinned connection (up_dist_pin could not make one) the rank opens its
     * own on the token, which fails here with the reason. */
    if (!st) {
        rc = up_store_open(s->o->db, UP_STORE_READ, &st, s->d.err, ERRLEN);
        if (rc == UP_OK)
            rc = up_store_read_at(st, s->plan.token, s->d.err, ERRLEN);
    }
    if (rc == UP_OK)
        rc = up_store_polls(st, ids, n, s->lo, s->plan.now, &sink, s->d.err, ERRLEN);
    if (p->rc != UP_OK) {
        rc = p->rc;
        snprintf(s->d.err, ERRLEN, "%s", p->err);
    }
    if (st != s->conn)
        up_store_close(st);
    free(ids);
    return rc;
}

/* ---- The layout: where each rank's items go (exclusive scans of the counts). ---- */

static void lay_out(struct snap *s)
{
    const struct up_share *sh = &s->part.share;
    uint64_t mine[4] = {UP_SHARE_N(sh), 0, s->part.ts.n, 0}, before[4] = {0, 0, 0, 0};
    uint64_t total[4];
    size_t i;

    /* The file holds each store's own hours rows; the share may keep equal sets once. */
    for (i = 0; i < UP_SHARE_N(sh); i++) {
        mine[1] += strlen(UP_SHARE_STORE(sh, i)->id);
        mine[3] += UP_SHARE_STORE(sh, i)->nhours;
    }
    UP_MPI_CHECK(s->d.comm, MPI_Exscan(mine, before, 4, MPI_UINT64_T, MPI_SUM, s->d.comm));
    if (s->d.rank == 0)
        memset(before, 0, sizeof before); /* MPI_Exscan leaves rank 0's result undefined */
    UP_MPI_CHECK(s->d.comm, MPI_Allreduce(mine, total, 4, MPI_UINT64_T, MPI_SUM, s->d.comm));
    s->at.store_off = before[0];
    s->at.id_off = before[1];
    s->at.poll_off = before[2];
    s->at.hours_off = before[3];
    s->at.stores = total[0];
    s->at.id_bytes = total[1];
    s->at.polls = total[2];
    s->at.hours = total[3];
}

/* ---- HDF5: datasets written collectively, each rank its own hyperslab. ---- */

/*
 * Creates the dataset name of n items of type (collective). Every dataset is chunked with
 * a Fletcher-32 checksum per chunk, so that a corrupt byte of a snapshot fails the read
 * instead of changing a report; compressible: the poll tables (shuffle + deflate when
 * asked for). chunk 0: contiguous, no checksums (for measurement).
 */
static hid_t create(struct snap *s, const char *name, hid_t type, uint64_t n, int chunked)
{
    hsize_t dims[1] = {(hsize_t)n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t d = H5I_INVALID_HID;

    if (space < 0 || dcpl < 0 || lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0)
        goto out;
    if (s->o->chunk > 0 && n > 0) {
        hsize_t chunk[1] = {(hsize_t)(s->o->chunk < n ? s->o->chunk : n)};
        if (H5Pset_chunk(dcpl, 1, chunk) < 0 ||
            (chunked && s->o->deflate > 0 &&
             (H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, (unsigned)s->o->deflate) < 0)) ||
            H5Pset_fletcher32(dcpl) < 0)
            goto out;
    }
    /* Nothing to fill: every item is written. */
    if (H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0 ||
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0)
        goto out;
    d = H5Dcreate2(s->file, name, type, space, lcpl, dcpl, H5P_DEFAULT);
out:
    if (d < 0)
        snprintf(s->d.err, ERRLEN, "cannot create dataset %s in %.512s", name, s->tmp);
    H5Sclose(space);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    return d;
}

/*
 * Writes items [off, off + n) of dataset d from buf (collective: every rank calls it, in
 * the same number of rounds, a rank with nothing left selecting nothing).
 */
static enum up_code write_slab(struct snap *s, hid_t d, hid_t memtype, const void *buf, size_t elem,
                               uint64_t off, uint64_t n, const char *name)
{
    uint64_t rounds = (n + WRITE_ROUND - 1) / WRITE_ROUND, max_rounds = 0, r;
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER), fs = H5Dget_space(d);
    enum up_code rc = UP_OK;

    UP_MPI_CHECK(s->d.comm,
                 MPI_Allreduce(&rounds, &max_rounds, 1, MPI_UINT64_T, MPI_MAX, s->d.comm));
    if (dxpl < 0 || fs < 0 || H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0)
        rc = UP_EIO;
    for (r = 0; r < max_rounds; r++) {
        uint64_t done = r * WRITE_ROUND, k = done < n ? n - done : 0;
        hsize_t start[1] = {(hsize_t)(off + done)}, count[1];
        hid_t ms;

        if (k > WRITE_ROUND)
            k = WRITE_ROUND;
        count[0] = (hsize_t)(k ? k : 1);
        ms = H5Screate_simple(1, count, NULL);
        if (k == 0) {
            H5Sselect_none(ms);
            H5Sselect_none(fs);
        } else {
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        }
        /* Every rank makes the call even after a failure, so no rank waits alone. */
        if (H5Dwrite(d, memtype, ms, fs, dxpl, (const char *)buf + done * elem) < 0)
            rc = UP_EIO;
        H5Sclose(ms);
    }
    if (rc != UP_OK)
        snprintf(s->d.err, ERRLEN, "cannot write dataset %s of %.512s", name, s->tmp);
    H5Sclose(fs);
    H5Pclose(dxpl);
    return rc;
}

/* Creates name and writes this rank's items into it; -1 on failure (message in err). */
static enum up_code put(struct snap *s, const char *name, hid_t filetype, hid_t memtype,
                        const void *buf, size_t elem, uint64_t off, uint64_t n, uint64_t total,
                        int chunked)
{
    hid_t d = create(s, name, filetype, total, chunked);
    enum up_code rc;

    /* A failed create on one rank is agreed before anyone writes. */
    rc = up_dist_agree(&s->d, d < 0 ? UP_EIO : UP_OK);
    if (rc == UP_OK)
        rc = up_dist_agree(&s->d, write_slab(s, d, memtype, buf, elem, off, n, name));
    if (d >= 0)
        H5Dclose(d);
    return rc;
}

/* An offsets table of a per-store count: this rank's entries start at base; the last
 * rank also writes the closing total. */
static uint64_t *offsets(const struct snap *s, uint64_t base, const uint64_t *count, size_t n,
                         uint64_t *nout)
{
    int last = s->d.rank == s->d.size - 1;
    uint64_t *v = malloc((n + 1) * sizeof *v);
    size_t i;

    if (!v)
        return NULL;
    for (i = 0; i < n; i++) {
        v[i] = base;
        base += count[i];
    }
    v[n] = base;
    *nout = n + (size_t)last;
    return v;
}

static enum up_code put_stores(struct snap *s)
{
    const struct up_share *sh = &s->part.share;
    size_t n = UP_SHARE_N(sh), i, len;
    uint64_t *idlen = malloc((n ? n : 1) * sizeof *idlen);
    uint64_t *hcount = malloc((n ? n : 1) * sizeof *hcount);
    int32_t *zone = malloc((n ? n : 1) * sizeof *zone);
    uint64_t *id_off = NULL, *poll_off = NULL, *hours_off = NULL, k = 0;
    struct up_buf bytes;
    enum up_code rc = UP_OK;

    up_buf_init(&bytes, 1, SIZE_MAX);
    if (!idlen || !hcount || !zone)
        rc = UP_ENOMEM;
    for (i = 0; rc == UP_OK && i < n; i++) {
        const struct up_share_store *st = UP_SHARE_STORE(sh, i);
        len = strlen(st->id);
        idlen[i] = len;
        hcount[i] = st->nhours;
        zone[i] = st->zone_index;
        if (up_buf_append(&bytes, st->id, len) != 0)
            rc = UP_ENOMEM;
    }
    if (rc == UP_OK && (!(id_off = offsets(s, s->at.id_off, idlen, n, &k)) ||
                        !(poll_off = offsets(s, s->at.poll_off, s->part.poll_count, n, &k)) ||
                        !(hours_off = offsets(s, s->at.hours_off, hcount, n, &k))))
        rc = UP_ENOMEM;
    if (rc != UP_OK)
        snprintf(s->d.err, ERRLEN, "out of memory laying out %zu stores", n);
    rc = up_dist_agree(&s->d, rc);
    if (rc == UP_OK)
        rc = put(s, "/stores/id_offset", H5T_STD_U64LE, H5T_NATIVE_UINT64, id_off, 8,
                 s->at.store_off, k, s->at.stores + 1, 0);
    if (rc == UP_OK)
        rc = put(s, "/stores/id_bytes", H5T_STD_U8LE, H5T_NATIVE_UINT8, bytes.p, 1, s->at.id_off,
                 bytes.n, s->at.id_bytes, 0);
    if (rc == UP_OK)
        rc = put(s, "/stores/poll_offset", H5T_STD_U64LE, H5T_NATIVE_UINT64, poll_off, 8,
                 s->at.store_off, k, s->at.stores + 1, 0);
    if (rc == UP_OK)
        rc = put(s, "/stores/hours_offset", H5T_STD_U64LE, H5T_NATIVE_UINT64, hours_off, 8,
                 s->at.store_off, k, s->at.stores + 1, 0);
    if (rc == UP_OK)
        rc = put(s, "/stores/zone", H5T_STD_I32LE, H5T_NATIVE_INT32, zone, 4, s->at.store_off, n,
                 s->at.stores, 0);
    if (rc == UP_OK)
        rc = put(s, "/stores/first_ts", H5T_STD_I64LE, H5T_NATIVE_INT64, s->part.first_ts, 8,
                 s->at.store_off, n, s->at.stores, 0);
    free(idlen);
    free(hcount);
    free(zone);
    free(id_off);
    free(poll_off);
    free(hours_off);
    up_buf_free(&bytes);
    return rc;
}

static enum up_code put_hours(struct snap *s)
{
    const struct up_share *sh = &s->part.share;
    size_t n = 0, i, k, at = 0;
    int8_t *day = NULL;
    int64_t *start = NULL, *end = NULL;
    enum up_code rc = UP_OK;

    for (i = 0; i < UP_SHARE_N(sh); i++)
        n += UP_SHARE_STORE(sh, i)->nhours;
    day = malloc(n ? n : 1);
    start = malloc((n ? n : 1) * sizeof *start);
    end = malloc((n ? n : 1) * sizeof *end);
    if (!day || !start || !end) {
        snprintf(s->d.err, ERRLEN, "out of memory for %zu hours rows", n);
        rc = UP_ENOMEM;
    }
    /* Store by store: a store whose rows equal an earlier store's points at them in the
     * share, and gets its own copy in the file. */
    for (i = 0; rc == UP_OK && i < UP_SHARE_N(sh); i++) {
        const struct up_share_store *st = UP_SHARE_STORE(sh, i);
        for (k = 0; k < st->nhours; k++, at++) {
            const struct up_hours_row *h =
                UP_BUF_AT(&sh->hours, struct up_hours_row, st->hours_off + k);
            day[at] = (int8_t)h->day;
            start[at] = h->start_us;
            end[at] = h->end_us;
        }
    }
    rc = up_dist_agree(&s->d, rc);
    if (rc == UP_OK)
        rc = put(s, "/hours/day", H5T_STD_I8LE, H5T_NATIVE_INT8, day, 1, s->at.hours_off, n,
                 s->at.hours, 0);
    if (rc == UP_OK)
        rc = put(s, "/hours/start_us", H5T_STD_I64LE, H5T_NATIVE_INT64, start, 8, s->at.hours_off,
                 n, s->at.hours, 0);
    if (rc == UP_OK)
        rc = put(s, "/hours/end_us", H5T_STD_I64LE, H5T_NATIVE_INT64, end, 8, s->at.hours_off, n,
                 s->at.hours, 0);
    free(day);
    free(start);
    free(end);
    return rc;
}

/* The zone table: rank 0 writes it, the others take part with empty selections. Names
 * are stored without their NULs; the offsets count name bytes. */
static enum up_code put_zones(struct snap *s)
{
    uint64_t *off = malloc(((size_t)s->nzones + 1) * sizeof *off), bytes = 0, src = 0;
    char *names = malloc(s->zone_bytes > 0 ? (size_t)s->zone_bytes : 1);
    int me = s->d.rank == 0;
    enum up_code rc = UP_OK;
    int32_t z;

    if (!off || !names) {
        snprintf(s->d.err, ERRLEN, "out of memory");
        rc = UP_ENOMEM;
    }
    for (z = 0; rc == UP_OK && z < s->nzones; z++) {
        size_t len = strlen(s->zone_names + src);
        memcpy(names + bytes, s->zone_names + src, len);
        off[z] = bytes;
        bytes += len;
        src += len + 1;
    }
    if (rc == UP_OK)
        off[s->nzones] = bytes;
    rc = up_dist_agree(&s->d, rc);
    if (rc == UP_OK)
        rc = put(s, "/zones/name_offset", H5T_STD_U64LE, H5T_NATIVE_UINT64, off, 8, 0,
                 me ? (uint64_t)s->nzones + 1 : 0, (uint64_t)s->nzones + 1, 0);
    if (rc == UP_OK)
        rc = put(s, "/zones/name_bytes", H5T_STD_U8LE, H5T_NATIVE_UINT8, names, 1, 0,
                 me ? bytes : 0, bytes, 0);
    free(off);
    free(names);
    return rc;
}

/* Attributes are collective metadata: every rank writes the same value. */
static int attr_i64(hid_t file, const char *name, int64_t v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(file, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int bad = a < 0 || H5Awrite(a, H5T_NATIVE_INT64, &v) < 0;

    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return bad;
}

static int attr_str(hid_t file, const char *name, const char *v)
{
    hid_t sp = H5Screate(H5S_SCALAR), t = H5Tcopy(H5T_C_S1);
    hid_t a = H5I_INVALID_HID;
    int bad = 1;

    if (t >= 0 && H5Tset_size(t, strlen(v) + 1) >= 0 && H5Tset_strpad(t, H5T_STR_NULLTERM) >= 0)
        a = H5Acreate2(file, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0)
        bad = H5Awrite(a, t, v) < 0;
    if (a >= 0)
        H5Aclose(a);
    H5Tclose(t);
    H5Sclose(sp);
    return bad;
}

static enum up_code put_attributes(struct snap *s, int64_t max_ts)
{
    char source[1024], created[40];
    int bad;

    up_source_redact(s->o->db, source, sizeof source);
    if (s->d.rank == 0)
        up_now_iso(created, sizeof created);
    UP_MPI_CHECK(s->d.comm, MPI_Bcast(created, sizeof created, MPI_CHAR, 0, s->d.comm));
    bad = attr_i64(s->file, "schema_version", UP_SNAPSHOT_SCHEMA) ||
          attr_i64(s->file, "now_us", s->plan.has_now ? s->plan.now : INT64_MIN) ||
          attr_i64(s->file, "lo_us", s->plan.has_now ? s->lo : INT64_MIN) ||
          attr_i64(s->file, "max_ts_us", max_ts) || attr_i64(s->file, "days", s->o->days) ||
          attr_i64(s->file, "stores", (int64_t)s->at.stores) ||
          attr_i64(s->file, "polls", (int64_t)s->at.polls) ||
          attr_i64(s->file, "hours_rows", (int64_t)s->at.hours) ||
          attr_i64(s->file, "zones", s->nzones) ||
          attr_i64(s->file, "chunk", (int64_t)s->o->chunk) ||
          attr_i64(s->file, "deflate", s->o->deflate) || attr_str(s->file, "source", source) ||
          attr_str(s->file, "created", created);
    if (bad)
        snprintf(s->d.err, ERRLEN, "cannot write the attributes of %.512s", s->tmp);
    return bad ? UP_EIO : UP_OK;
}

/* ---- The phases. ---- */

/* Rank 0: a new file beside the target, created exclusively; its name to every rank. */
static enum up_code make_tmp(struct snap *s)
{
    enum up_code rc = UP_OK;

    if (s->d.rank == 0) {
        int n = snprintf(s->tmp, sizeof s->tmp, "%s.tmp.XXXXXX", s->o->out), fd;
        sigset_t old;
        /* Made and registered with the ending signals held: SIGTERM, SIGINT or SIGHUP
         * (mpirun stopping the job after a rank died, scancel) then removes it. */
        up_signal_hold(&old);
        if (n < 0 || (size_t)n >= sizeof s->tmp) {
            snprintf(s->d.err, ERRLEN, "output path too long: %.512s", s->o->out);
            rc = UP_EUSAGE;
        } else if ((fd = up_file_temp(s->tmp)) < 0) {
            snprintf(s->d.err, ERRLEN, "cannot create %.512s: %s", s->tmp, strerror(errno));
            s->tmp[0] = '\0';
            rc = UP_EIO;
        } else {
            close(fd);
            atomic_store(&s->tmp_set, 1);
            up_signal_cleanup(s->tmp);
        }
        up_signal_release(&old);
    }
    rc = up_dist_agree(&s->d, rc);
    if (rc == UP_OK)
        UP_MPI_CHECK(s->d.comm, MPI_Bcast(s->tmp, sizeof s->tmp, MPI_CHAR, 0, s->d.comm));
    /* Every rank opens the file with MPI-IO, which may create it again after rank 0
     * removed it on a signal: each rank removes it on its own signal too. */
    if (rc == UP_OK && s->d.rank != 0)
        up_signal_cleanup(s->tmp);
    return rc;
}

static enum up_code open_file(struct snap *s)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    enum up_code rc = UP_OK;

    /* The 1.10 file format: checksums on every piece of metadata too. */
    if (fapl < 0 || H5Pset_fapl_mpio(fapl, s->d.comm, MPI_INFO_NULL) < 0 ||
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110) < 0 ||
        H5Pset_all_coll_metadata_ops(fapl, 1) < 0 || H5Pset_coll_metadata_write(fapl, 1) < 0) {
        rc = UP_EIO;
    } else {
        /* Truncates the file rank 0 made with mkstemp: the name is ours alone. */
        s->file = H5Fcreate(s->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        if (s->file < 0)
            rc = UP_EIO;
    }
    if (rc != UP_OK)
        snprintf(s->d.err, ERRLEN, "cannot open %.512s with parallel HDF5", s->tmp);
    H5Pclose(fapl);
    return up_dist_agree(&s->d, rc);
}

/* One zone name of some rank's table, while the tables are merged. */
struct zone_ref {
    const char *name;
    size_t seq;                /* position in the ranks' tables laid end to end (rank order) */
    struct zone_ref *leader;   /* the entry of the name's first use */
    int32_t global;            /* on a leader: the name's index in the merged table */
    int mine;                  /* 1: of this rank's table, at index local */
    int32_t local;
};

static int by_name_seq(const void *a, const void *b)
{
    const struct zone_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int by_first(const void *a, const void *b)
{
    const struct zone_ref *x = *(const struct zone_ref *const *)a;
    const struct zone_ref *y = *(const struct zone_ref *const *)b;

    return (x->seq > y->seq) - (x->seq < y->seq);
}

/*
 * The zone table of the file. Each rank's share names the zones of its own stores, in
 * the order its stores first use them; every rank gathers all those tables (a few KiB)
 * and merges them in rank order, keeping each name at its first use. Ranks hold
 * contiguous ranges of the sorted stores, so the table lists the zones in the order the
 * stores first use them, whatever the number of ranks. Each store's zone index is then
 * turned into the merged table's.
 */
static enum up_code share_zones(struct snap *s)
{
    const struct up_buf *own = s->part.share.plan ? &s->part.share.plan->zones : NULL;
    size_t nown = own ? own->n : 0, nall = 0, i, k, pos;
    int *len = calloc((size_t)s->d.size, sizeof *len), *at = calloc((size_t)s->d.size, sizeof *at);
    int32_t *to = malloc((nown ? nown : 1) * sizeof *to);
    struct zone_ref *ref = NULL, **firsts = NULL;
    struct up_buf mine, all, names;
    long long total = 0;
    enum up_code rc = UP_OK;
    int r, my_len;

    up_buf_init(&mine, 1, INT_MAX);
    up_buf_init(&all, 1, INT_MAX);
    up_buf_init(&names, 1, INT_MAX);
    if (!len || !at || !to)
        rc = UP_ENOMEM;
    for (i = 0; rc == UP_OK && i < nown; i++) {
        const char *name = *UP_BUF_AT(own, char *, i);
        if (up_buf_append(&mine, name, strlen(name) + 1) != 0)
            rc = UP_ENOMEM;
    }
    if (rc != UP_OK)
        snprintf(s->d.err, ERRLEN, "out of memory for the zone table");
    rc = up_dist_agree(&s->d, rc);
    if (rc != UP_OK)
        goto out;
    my_len = (int)mine.n;
    UP_MPI_CHECK(s->d.comm, MPI_Allgather(&my_len, 1, MPI_INT, len, 1, MPI_INT, s->d.comm));
    for (r = 0; r < s->d.size; r++) {
        at[r] = (int)total;
        total += len[r];
    }
    if (total > INT_MAX) {
        snprintf(s->d.err, ERRLEN, "the ranks' zone tables pass %d bytes", INT_MAX);
        rc = UP_ENOMEM;
    } else if (up_buf_reserve(&all, (size_t)total + 1) != 0) {
        snprintf(s->d.err, ERRLEN, "out of memory for the zone table");
        rc = UP_ENOMEM;
    }
    rc = up_dist_agree(&s->d, rc);
    if (rc != UP_OK)
        goto out;
    UP_MPI_CHECK(s->d.comm, MPI_Allgatherv(mine.p, my_len, MPI_CHAR, all.p, len, at, MPI_CHAR,
                                           s->d.comm));
    for (pos = 0; pos < (size_t)total; pos += strlen((char *)all.p + pos) + 1)
        nall++;
    ref = malloc((nall ? nall : 1) * sizeof *ref);
    firsts = malloc((nall ? nall : 1) * sizeof *firsts);
    if (!ref || !firsts) {
        snprintf(s->d.err, ERRLEN, "out of memory for the zone table");
        rc = UP_ENOMEM;
    }
    for (r = 0, pos = 0, k = 0; rc == UP_OK && r < s->d.size; r++) {
        int32_t local = 0;
        for (; pos < (size_t)at[r] + (size_t)len[r]; pos += strlen(ref[k - 1].name) + 1) {
            ref[k].name = (const char *)all.p + pos;
            ref[k].seq = k;
            ref[k].mine = r == s->d.rank;
            ref[k].local = local++;
            k++;
        }
    }
    if (rc == UP_OK) {
        size_t nd = 0;
        /* Equal names side by side, each run led by its first use. */
        qsort(ref, nall, sizeof *ref, by_name_seq);
        for (i = 0; i < nall; i++) {
            if (i == 0 || strcmp(ref[i].name, ref[i - 1].name) != 0)
                firsts[nd++] = &ref[i];
            ref[i].leader = firsts[nd - 1];
        }
        /* The leaders in order of first use are the merged table. */
        qsort(firsts, nd, sizeof *firsts, by_first);
        for (i = 0; i < nd; i++)
            firsts[i]->global = (int32_t)i;
        if (nd > UP_JOB_MAX_ZONES) {
            snprintf(s->d.err, ERRLEN, "more than %zu distinct zones", UP_JOB_MAX_ZONES);
            rc = UP_ENOMEM;
        }
        for (i = 0; rc == UP_OK && i < nd; i++)
            if (up_buf_append(&names, firsts[i]->name, strlen(firsts[i]->name) + 1) != 0)
                rc = UP_ENOMEM;
        /* This rank's indexes into the merged table: its names' leaders'. */
        for (i = 0; rc == UP_OK && i < nall; i++)
            if (ref[i].mine)
                to[ref[i].local] = ref[i].leader->global;
        s->nzones = (int32_t)nd;
    }
    if (rc == UP_OK) {
        for (i = 0; i < UP_SHARE_N(&s->part.share); i++) {
            struct up_share_store *st = UP_SHARE_STORE(&s->part.share, i);
            if (st->zone_index >= 0)
                st->zone_index = to[st->zone_index];
        }
        s->zone_bytes = (int)names.n;
        s->zone_names = up_buf_take(&names);
    } else if (!s->d.err[0]) {
        snprintf(s->d.err, ERRLEN, "out of memory for the zone table");
    }
    rc = up_dist_agree(&s->d, rc);
out:
    up_buf_free(&mine);
    up_buf_free(&all);
    up_buf_free(&names);
    free(ref);
    free(firsts);
    free(len);
    free(at);
    free(to);
    return rc;
}

/* Rank 0: fsync the file, rename it into place, fsync its folder. */
static enum up_code publish(struct snap *s)
{
    int fd = open(s->tmp, O_RDONLY | O_NOFOLLOW);

    if (fd < 0 || fsync(fd) != 0) {
        snprintf(s->d.err, ERRLEN, "cannot sync %.512s: %s", s->tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return UP_EIO;
    }
    close(fd);
    {
        /* The rename and forgetting the temporary go together: a signal in between would
         * remove the published file's old name (nothing) or keep a temporary. */
        sigset_t old;
        int e = 0;
        up_signal_hold(&old);
        if (rename(s->tmp, s->o->out) != 0)
            e = errno;
        else
            up_signal_cleanup(NULL);
        up_signal_release(&old);
        if (e) {
            snprintf(s->d.err, ERRLEN, "cannot rename %.400s to %.400s: %s", s->tmp, s->o->out,
                     strerror(e));
            return UP_EIO;
        }
    }
    s->tmp[0] = '\0';
    up_file_sync_dir(s->o->out);
    return UP_OK;
}

static enum up_code write_all(struct snap *s)
{
    struct part *p = &s->part;
    int64_t max_ts = INT64_MIN;
    enum up_code rc;

    UP_MPI_CHECK(s->d.comm, MPI_Allreduce(&p->max_ts, &max_ts, 1, MPI_INT64_T, MPI_MAX, s->d.comm));
    lay_out(s);
    rc = make_tmp(s);
    if (rc == UP_OK)
        rc = open_file(s);
    if (rc != UP_OK)
        return rc;
    rc = put_stores(s);
    if (rc == UP_OK)
        rc = put_hours(s);
    if (rc == UP_OK)
        rc = put_zones(s);
    if (rc == UP_OK)
        rc = put(s, "/polls/ts", H5T_STD_I64LE, H5T_NATIVE_INT64, p->ts.p, 8, s->at.poll_off,
                 p->ts.n, s->at.polls, 1);
    if (rc == UP_OK)
        rc = put(s, "/polls/active", H5T_STD_U8LE, H5T_NATIVE_UINT8, p->active.p, 1, s->at.poll_off,
                 p->active.n, s->at.polls, 1);
    if (rc == UP_OK)
        rc = up_dist_agree(&s->d, put_attributes(s, max_ts));
    if (H5Fclose(s->file) < 0 && rc == UP_OK) {
        snprintf(s->d.err, ERRLEN, "cannot close %.512s", s->tmp);
        rc = UP_EIO;
    }
    s->file = H5I_INVALID_HID;
    return up_dist_agree(&s->d, rc);
}

/* Rank 0, when a rank found the source changed since the plan's view (up_dist_pin). */
static enum up_code replan(void *ctx, struct up_plan *p, char *err, size_t errlen)
{
    const struct up_snapshot_opts *o = ctx;

    up_plan_free(p);
    up_plan_init(p);
    return up_plan_begin(p, o->db, o->has_now, o->now, err, errlen);
}

/* Rank 0's watchdog: the deadline and its grace have passed and the run has not ended.
 * Says so and removes the temporary file; the watchdog then ends the process, and mpirun
 * the other ranks. */
static void snap_expired(void *ctx)
{
    struct snap *s = ctx;
    char why[ERRLEN];
    size_t k;

    up_deadline_error(why, sizeof why, "snapshot");
    k = strlen(why);
    snprintf(why + k, sizeof why - k, "; a rank was still busy %d s later: the run was ended",
             UP_WATCHDOG_GRACE_S);
    UP_LOG(ERROR, "%s", why);
    if (atomic_load(&s->tmp_set))
        unlink(s->tmp);
}

enum up_code up_snapshot_run(const struct up_snapshot_opts *o, MPI_Comm caller)
{
    struct snap s;
    enum up_code rc = UP_OK;
    double t0 = up_job_wall(), t_read = 0, t_write = 0;
    int final;

    memset(&s, 0, sizeof s);
    s.o = o;
    s.file = H5I_INVALID_HID;
    up_plan_init(&s.plan);
    up_dist_begin(&s.d, caller);
    /* Every rank's deadline starts here, within moments of the others'. */
    up_deadline_set(o->timeout_s);
    if (s.d.rank == 0 && o->timeout_s > 0)
        s.watchdog = up_watchdog_start(((long long)o->timeout_s + UP_WATCHDOG_GRACE_S) * 1000,
                                       snap_expired, &s, UP_ETIMEOUT);
    /* HDF5 prints its own error stack; ours say the same in one line. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (o->days < 7) {
        snprintf(s.d.err, ERRLEN, "--days must be 7 or more (a report reads a week)");
        rc = UP_EUSAGE;
    } else if (s.d.rank == 0) {
        rc = up_plan_begin(&s.plan, o->db, o->has_now, o->now, s.d.err, ERRLEN);
    }
    rc = up_dist_agree(&s.d, rc);
    if (rc != UP_OK)
        goto done;
    /* Every rank reads the view rank 0 planned on, each on a connection pinned to it now:
     * a snapshot taken during a load holds the database before it or after it, never a
     * mix. */
    rc = up_dist_pin(&s.d, &s.plan, o->db, replan, (void *)o, &s.conn);
    if (rc != UP_OK)
        goto done;
    s.lo = s.plan.now - (int64_t)o->days * UP_USEC_PER_DAY;
    {
        struct up_dist_counts counts;
        rc = up_dist_stream(&s.d, &s.plan, &s.part.share, &counts);
    }
    if (rc == UP_OK)
        rc = share_zones(&s);
    if (rc == UP_OK)
        rc = read_polls(&s);
    up_store_close(s.conn);
    s.conn = NULL;
    /* Past the deadline, no rank starts the collective writes. */
    if (rc == UP_OK && up_deadline_expired())
        rc = up_deadline_error(s.d.err, ERRLEN, "reading polls");
    rc = up_dist_agree(&s.d, rc);
    t_read = up_job_wall() - t0;
    if (rc == UP_OK)
        rc = write_all(&s);
    if (rc == UP_OK && s.d.rank == 0) {
        /* The file is whole: from here on the watchdog must not remove it. */
        up_watchdog_stop(s.watchdog);
        s.watchdog = NULL;
        rc = publish(&s);
    }
    t_write = up_job_wall() - t0 - t_read;

done:
    up_watchdog_stop(s.watchdog);
    s.watchdog = NULL;
    if (s.d.rank == 0) {
        if (rc != UP_OK) {
            UP_LOG(ERROR, "%s", s.d.err);
            if (s.tmp[0])
                unlink(s.tmp);
            up_signal_cleanup(NULL);
        } else if (!o->quiet) {
            char now_text[40] = "(no polls)";
            if (s.plan.has_now)
                up_format_timestamp(s.plan.now, now_text, sizeof now_text);
            printf("snapshot %s: now %s, %d days; %llu stores, %llu polls, %llu hours rows, "
                   "%d zones, %d ranks\n",
                   o->out, now_text, o->days, (unsigned long long)s.at.stores,
                   (unsigned long long)s.at.polls, (unsigned long long)s.at.hours, s.nzones,
                   s.d.size);
            printf("  time: plan and reads %.3f s, write %.3f s, total %.3f s\n", t_read, t_write,
                   up_job_wall() - t0);
        }
    }
    final = (int)rc;
    UP_MPI_CHECK(s.d.comm, MPI_Bcast(&final, 1, MPI_INT, 0, s.d.comm));
    /* Rank 0 has renamed the file or removed it. */
    if (s.d.rank != 0)
        up_signal_cleanup(NULL);
    if (s.file >= 0)
        H5Fclose(s.file);
    up_share_free(&s.part.share);
    up_buf_free(&s.part.ts);
    up_buf_free(&s.part.active);
    free(s.part.poll_count);
    free(s.part.first_ts);
    free(s.zone_names);
    up_store_close(s.conn);
    up_plan_free(&s.plan);
    up_dist_end(&s.d);
    up_deadline_set(0);
    return (enum up_code) final;
}
