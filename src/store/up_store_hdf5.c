/*
 * The read-only HDF5 snapshot backend ("hdf5:PATH" or a path ending in ".h5"; the layout
 * is in up_snapshot.h). Each rank opens the file on its own (serial reads); a rank's
 * stores are one contiguous range of the sorted store table, so its polls are one
 * contiguous hyperslab, read in bounded batches. Consistent by construction: the file is
 * complete when it has its name and is never written again.
 */
#include <hdf5.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "up_buf.h"
#include "up_snapshot_format.h"
#include "up_source.h"
#include "up_store_int.h"
#include "up_time.h"

/* Stores per batch of a scan, and polls per batch of a rank's read (2.25 MiB: four
 * chunks of the poll datasets; the buffers stay in cache, and a rank touches little memory
 * that it does not need: a first touch costs a page fault, 2-3 us a page on a VM). */
#define STORE_BATCH ((uint64_t)1 << 16)
#define POLL_BATCH ((uint64_t)1 << 18)

/* Bytes of chunk cache per dataset: one chunk of 64 Ki 8-byte items (the writer's
 * default). Every read is a forward stream, so a chunk is needed again only across the
 * boundary of two batches; the library's default 1 MiB a dataset was memory each rank
 * first-touched (some 6 MiB on rank 0), kept for chunks never read again. */
#define CHUNK_CACHE ((size_t)1 << 19)

/* Longest store id (a store table whose ids are longer is corrupt). */
#define MAX_ID ((uint64_t)1 << 16)

struct h5_store {
    struct up_store base;
    hid_t file;
    char path[4096];
    int64_t now_us, lo_us, max_ts;
    uint64_t nstores, npolls, nhours;
    int64_t days;
    int32_t nzones;
    char **zones;              /* the zone table */
    struct up_hours_row *rows; /* one store's hours rows, for sink->hours_of */
    uint64_t rows_cap;
    int ids_checked; /* a whole scan found the ids ascending: later scans skip the check */
    hid_t d_id_off, d_id_bytes, d_poll_off, d_hours_off, d_zone, d_first, d_ts, d_active, d_day,
        d_start, d_end;
};

static struct h5_store *cast(struct up_store *st)
{
    return (struct h5_store *)st;
}

static int h5_accepts(const char *url)
{
    return up_source_kind(url) == UP_SOURCE_HDF5;
}

static enum up_code fail(struct h5_store *h, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "hdf5 %s: %s", h->path, what);
    return UP_EDB;
}

/* Reads n items from offset off of dataset d into buf (memtype); 0 or -1. */
static int read_slab(hid_t d, hid_t memtype, uint64_t off, uint64_t n, void *buf)
{
    hsize_t start[1] = {(hsize_t)off}, count[1] = {(hsize_t)n};
    hid_t fs, ms;
    int bad;

    if (n == 0)
        return 0;
    fs = H5Dget_space(d);
    ms = H5Screate_simple(1, count, NULL);
    bad = fs < 0 || ms < 0 ||
          H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
          H5Dread(d, memtype, ms, fs, H5P_DEFAULT, buf) < 0;
    H5Sclose(ms);
    H5Sclose(fs);
    return bad ? -1 : 0;
}

static int attr_i64(hid_t file, const char *name, int64_t *out)
{
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    int bad = a < 0 || H5Aread(a, H5T_NATIVE_INT64, out) < 0;

    if (a >= 0)
        H5Aclose(a);
    return bad ? -1 : 0;
}

/* Length of dataset d, or -1. */
static int64_t length(hid_t d)
{
    hid_t s = H5Dget_space(d);
    hsize_t dims[1] = {0};
    int ok = s >= 0 && H5Sget_simple_extent_ndims(s) == 1 &&
             H5Sget_simple_extent_dims(s, dims, NULL) == 1;

    if (s >= 0)
        H5Sclose(s);
    return ok ? (int64_t)dims[0] : -1;
}

/* Deflate cannot pack more than ~1032 bytes into one: a dataset that claims more items
 * than its stored bytes could hold, even compressed, has chunks that were never written (a
 * crafted or truncated file). Reading it would only give fill values, after allocating for
 * all of them. */
#define MAX_PACKING 1100

/* 1 when d's stored bytes can hold its items; 0 otherwise. */
static int stored(hid_t d)
{
    hid_t t = H5Dget_type(d);
    size_t item = t >= 0 ? H5Tget_size(t) : 0;
    int64_t n = length(d);
    double raw, have = (double)H5Dget_storage_size(d);

    if (t >= 0)
        H5Tclose(t);
    if (n < 0 || item == 0)
        return 0;
    raw = (double)n * (double)item;
    return raw == 0 || have * MAX_PACKING >= raw;
}

static void h5_close(struct up_store *st)
{
    struct h5_store *h = cast(st);
    hid_t *d[] = {&h->d_id_off, &h->d_id_bytes, &h->d_poll_off, &h->d_hours_off,
                  &h->d_zone,   &h->d_first,    &h->d_ts,       &h->d_active,
                  &h->d_day,    &h->d_start,    &h->d_end};
    size_t i;
    int32_t z;

    for (i = 0; i < sizeof d / sizeof d[0]; i++)
        if (*d[i] >= 0)
            H5Dclose(*d[i]);
    if (h->file >= 0)
        H5Fclose(h->file);
    for (z = 0; h->zones && z < h->nzones; z++)
        free(h->zones[z]);
    free(h->zones);
    free(h->rows);
    free(h);
}

/* Reads the zone table whole (a few hundred names). */
static enum up_code read_zones(struct h5_store *h, char *err, size_t errlen)
{
    hid_t d_off = H5Dopen2(h->file, "/zones/name_offset", H5P_DEFAULT);
    hid_t d_bytes = H5Dopen2(h->file, "/zones/name_bytes", H5P_DEFAULT);
    uint64_t *off = NULL;
    char *bytes = NULL;
    enum up_code rc = UP_OK;
    int64_t nb;
    int32_t z;

    nb = d_bytes >= 0 ? length(d_bytes) : -1;
    if (d_off < 0 || nb < 0 || length(d_off) != (int64_t)h->nzones + 1) {
        rc = fail(h, "the zone table is missing or malformed", err, errlen);
        goto out;
    }
    if (!stored(d_off) || !stored(d_bytes)) {
        rc = fail(h, "the zone table claims more than the file holds", err, errlen);
        goto out;
    }
    off = malloc(((size_t)h->nzones + 1) * sizeof *off);
    bytes = malloc((size_t)nb + 1);
    h->zones = calloc((size_t)h->nzones + 1, sizeof *h->zones);
    if (!off || !bytes || !h->zones) {
        snprintf(err, errlen, "out of memory");
        rc = UP_ENOMEM;
        goto out;
    }
    if (read_slab(d_off, H5T_NATIVE_UINT64, 0, (uint64_t)h->nzones + 1, off) != 0 ||
        read_slab(d_bytes, H5T_NATIVE_UINT8, 0, (uint64_t)nb, bytes) != 0) {
        rc = fail(h, "cannot read the zone table", err, errlen);
        goto out;
    }
    for (z = 0; z < h->nzones; z++) {
        if (off[z] > off[z + 1] || off[z + 1] > (uint64_t)nb) {
            rc = fail(h, "the zone table is malformed", err, errlen);
            goto out;
        }
        h->zones[z] = strndup(bytes + off[z], (size_t)(off[z + 1] - off[z]));
        if (!h->zones[z]) {
            snprintf(err, errlen, "out of memory");
            rc = UP_ENOMEM;
            goto out;
        }
    }
out:
    free(off);
    free(bytes);
    if (d_off >= 0)
        H5Dclose(d_off);
    if (d_bytes >= 0)
        H5Dclose(d_bytes);
    return rc;
}

/* The first and closing item of each offsets table must be 0 and its table's length. */
static enum up_code check_totals(struct h5_store *h, char *err, size_t errlen)
{
    const struct {
        hid_t d;
        int64_t total;
    } t[] = {{h->d_id_off, length(h->d_id_bytes)},
             {h->d_poll_off, (int64_t)h->npolls},
             {h->d_hours_off, (int64_t)h->nhours}};
    size_t i;

    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint64_t first, last;
        if (read_slab(t[i].d, H5T_NATIVE_UINT64, 0, 1, &first) != 0 ||
            read_slab(t[i].d, H5T_NATIVE_UINT64, h->nstores, 1, &last) != 0)
            return fail(h, "cannot read the store table (corrupt file?)", err, errlen);
        if (first != 0 || t[i].total < 0 || last != (uint64_t)t[i].total)
            return fail(h, "offsets and counts do not add up", err, errlen);
    }
    return UP_OK;
}

static enum up_code h5_open(const char *url, enum up_store_mode mode, struct up_store **out,
                            char *err, size_t errlen)
{
    extern const struct up_store_ops up_store_hdf5_ops;
    const char *path = strncmp(url, "hdf5:", 5) == 0 ? url + 5 : url;
    struct h5_store *h = calloc(1, sizeof *h);
    int64_t version = 0, zones = 0, stores = 0, polls = 0, hours = 0;
    struct {
        hid_t *d;
        const char *name;
    } sets[] = {{NULL, "/stores/id_offset"},   {NULL, "/stores/id_bytes"},
                {NULL, "/stores/poll_offset"}, {NULL, "/stores/hours_offset"},
                {NULL, "/stores/zone"},        {NULL, "/stores/first_ts"},
                {NULL, "/polls/ts"},           {NULL, "/polls/active"},
                {NULL, "/hours/day"},          {NULL, "/hours/start_us"},
                {NULL, "/hours/end_us"}};
    hid_t dapl = H5I_INVALID_HID;
    enum up_code rc;
    size_t i;

    *out = NULL;
    (void)mode; /* up_store_open refuses WRITE: this backend has no write ops */
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return UP_ENOMEM;
    }
    h->base.ops = &up_store_hdf5_ops;
    snprintf(h->path, sizeof h->path, "%s", path);
    sets[0].d = &h->d_id_off;
    sets[1].d = &h->d_id_bytes;
    sets[2].d = &h->d_poll_off;
    sets[3].d = &h->d_hours_off;
    sets[4].d = &h->d_zone;
    sets[5].d = &h->d_first;
    sets[6].d = &h->d_ts;
    sets[7].d = &h->d_active;
    sets[8].d = &h->d_day;
    sets[9].d = &h->d_start;
    sets[10].d = &h->d_end;
    for (i = 0; i < sizeof sets / sizeof sets[0]; i++)
        *sets[i].d = H5I_INVALID_HID;
    /* HDF5 prints its own error stack; our message says the same in one line. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    h->file = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : H5I_INVALID_HID;
    if (h->file < 0) {
        rc = fail(h, "cannot open (missing, unreadable or not an HDF5 file)", err, errlen);
        goto bad;
    }
    if (attr_i64(h->file, "schema_version", &version) != 0 || version != UP_SNAPSHOT_SCHEMA ||
        attr_i64(h->file, "now_us", &h->now_us) != 0 ||
        attr_i64(h->file, "lo_us", &h->lo_us) != 0 ||
        attr_i64(h->file, "max_ts_us", &h->max_ts) != 0 ||
        attr_i64(h->file, "days", &h->days) != 0 || attr_i64(h->file, "stores", &stores) != 0 ||
        attr_i64(h->file, "polls", &polls) != 0 || attr_i64(h->file, "hours_rows", &hours) != 0 ||
        attr_i64(h->file, "zones", &zones) != 0 || stores < 0 || polls < 0 || hours < 0 ||
        zones < 0 || zones > INT32_MAX) {
        rc = fail(h, "not an uptime snapshot of schema version 1", err, errlen);
        goto bad;
    }
    dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dapl < 0 || H5Pset_chunk_cache(dapl, 521, CHUNK_CACHE, H5D_CHUNK_CACHE_W0_DEFAULT) < 0) {
        rc = fail(h, "cannot make a dataset access list", err, errlen);
        goto bad;
    }
    h->nstores = (uint64_t)stores;
    h->npolls = (uint64_t)polls;
    h->nhours = (uint64_t)hours;
    h->nzones = (int32_t)zones;
    for (i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        *sets[i].d = H5Dopen2(h->file, sets[i].name, dapl);
        if (*sets[i].d < 0) {
            char what[128];
            snprintf(what, sizeof what, "dataset %s is missing", sets[i].name);
            rc = fail(h, what, err, errlen);
            goto bad;
        }
    }
    if (length(h->d_id_off) != stores + 1 || length(h->d_poll_off) != stores + 1 ||
        length(h->d_hours_off) != stores + 1 || length(h->d_zone) != stores ||
        length(h->d_first) != stores || length(h->d_ts) != polls || length(h->d_active) != polls ||
        length(h->d_day) != hours || length(h->d_start) != hours || length(h->d_end) != hours) {
        rc = fail(h, "dataset lengths disagree with the attributes", err, errlen);
        goto bad;
    }
    for (i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (!stored(*sets[i].d)) {
            char what[160];
            snprintf(what, sizeof what,
                     "dataset %s claims %lld items but the file holds too few bytes for them",
                     sets[i].name, (long long)length(*sets[i].d));
            rc = fail(h, what, err, errlen);
            goto bad;
        }
    rc = check_totals(h, err, errlen);
    if (rc == UP_OK)
        rc = read_zones(h, err, errlen);
    if (rc != UP_OK)
        goto bad;
    H5Pclose(dapl);
    *out = &h->base;
    return UP_OK;
bad:
    if (dapl >= 0)
        H5Pclose(dapl);
    h5_close(&h->base);
    return rc;
}

static enum up_code h5_max_ts(struct up_store *st, int64_t *max, int *any, char *err, size_t errlen)
{
    struct h5_store *h = cast(st);

    (void)err;
    (void)errlen;
    *any = h->max_ts != INT64_MIN;
    *max = *any ? h->max_ts : 0;
    return UP_OK;
}

/* A report as of now reads [lo, now] and each store's latest poll before lo: the snapshot
 * must hold all of it. */
static enum up_code covers(struct h5_store *h, int64_t lo, int64_t now, char *err, size_t errlen)
{
    char want_lo[40], want_now[40], have_lo[40], have_now[40];

    if (h->max_ts == INT64_MIN || (lo >= h->lo_us && now <= h->now_us))
        return UP_OK;
    up_format_timestamp(lo, want_lo, sizeof want_lo);
    up_format_timestamp(now, want_now, sizeof want_now);
    up_format_timestamp(h->lo_us, have_lo, sizeof have_lo);
    up_format_timestamp(h->now_us, have_now, sizeof have_now);
    snprintf(err, errlen,
             "hdf5 %s: a report as of %s needs the polls from %s, but the snapshot holds "
             "[%s, %s] (%" PRId64 " days): take a snapshot that covers it",
             h->path, want_now, want_lo, have_lo, have_now, h->days);
    return UP_EUSAGE;
}

/* 1 if off[0..n] never decreases. Each store's range of a batch then lies inside the
 * batch's, which is all that was read: a damaged file must not send a read past it. */
static int ascending(const uint64_t *off, uint64_t n)
{
    uint64_t i;

    for (i = 0; i < n; i++)
        if (off[i + 1] < off[i])
            return 0;
    return 1;
}

/* Store ids [from, from + n): offsets (n + 1) and bytes read into b; id i is
 * bytes[off[i] - off[0] ..). */
struct id_batch {
    uint64_t *off;
    char *bytes;
    size_t cap_bytes;
};

static int read_ids(struct h5_store *h, uint64_t from, uint64_t n, struct id_batch *b)
{
    uint64_t len;

    if (read_slab(h->d_id_off, H5T_NATIVE_UINT64, from, n + 1, b->off) != 0 ||
        !ascending(b->off, n))
        return -1;
    len = b->off[n] - b->off[0];
    if (len + 1 > b->cap_bytes) {
        char *p = realloc(b->bytes, (size_t)len + 1);
        if (!p)
            return -1;
        b->bytes = p;
        b->cap_bytes = (size_t)len + 1;
    }
    return read_slab(h->d_id_bytes, H5T_NATIVE_UINT8, b->off[0], len, b->bytes);
}

/* Copies id i of the batch (0-based within it) to out[MAX_ID + 1]; -1 if malformed. */
static int batch_id(const struct id_batch *b, uint64_t i, char *out)
{
    uint64_t a = b->off[i] - b->off[0], z = b->off[i + 1] - b->off[0];

    if (z < a || z - a > MAX_ID)
        return -1;
    memcpy(out, b->bytes + a, (size_t)(z - a));
    out[z - a] = '\0';
    return 0;
}

/* One store as a scan sees it (pointers valid during the callback). */
struct h5_row {
    const char *id;
    int64_t first_ts;
    uint64_t npolls;
    int32_t zone;
    uint64_t nhours;
    const int8_t *day;
    const int64_t *start, *end;
};

typedef enum up_code (*row_fn)(struct h5_store *h, const struct h5_row *r,
                               const struct up_store_sink *sink, int64_t now, char *err,
                               size_t errlen);

/* The per-store tables of one batch, and its hours rows. */
struct scan_batch {
    struct id_batch ids;
    int64_t *first;
    int32_t *zone;
    uint64_t *poll_off, *hours_off;
    int8_t *day;
    int64_t *start, *end;
    uint64_t hours_cap;
};

/* What a scan reads besides the ids (each scan reads only its own tables). */
enum { SCAN_POLLS = 1, SCAN_ZONES = 2, SCAN_HOURS = 4 };

static int read_batch(struct h5_store *h, uint64_t from, uint64_t k, unsigned what,
                      struct scan_batch *b)
{
    uint64_t nh;

    if (read_ids(h, from, k, &b->ids) != 0 ||
        ((what & SCAN_POLLS) &&
         (read_slab(h->d_first, H5T_NATIVE_INT64, from, k, b->first) != 0 ||
          read_slab(h->d_poll_off, H5T_NATIVE_UINT64, from, k + 1, b->poll_off) != 0)) ||
        ((what & SCAN_ZONES) && read_slab(h->d_zone, H5T_NATIVE_INT32, from, k, b->zone) != 0))
        return -1;
    if (!(what & SCAN_HOURS))
        return 0;
    if (read_slab(h->d_hours_off, H5T_NATIVE_UINT64, from, k + 1, b->hours_off) != 0 ||
        !ascending(b->hours_off, k) || b->hours_off[k] > h->nhours)
        return -1;
    nh = b->hours_off[k] - b->hours_off[0];
    if (nh > b->hours_cap) {
        int8_t *d = realloc(b->day, (size_t)nh);
        int64_t *s = d ? realloc(b->start, (size_t)nh * sizeof *s) : NULL;
        int64_t *e = s ? realloc(b->end, (size_t)nh * sizeof *e) : NULL;
        if (d)
            b->day = d;
        if (s)
            b->start = s;
        if (!e)
            return -1;
        b->end = e;
        b->hours_cap = nh;
    }
    return read_slab(h->d_day, H5T_NATIVE_INT8, b->hours_off[0], nh, b->day) != 0 ||
                   read_slab(h->d_start, H5T_NATIVE_INT64, b->hours_off[0], nh, b->start) != 0 ||
                   read_slab(h->d_end, H5T_NATIVE_INT64, b->hours_off[0], nh, b->end) != 0
               ? -1
               : 0;
}

/* Every store in order, STORE_BATCH stores per read of each table: fn for each. */
static enum up_code h5_scan(struct h5_store *h, unsigned what, row_fn fn,
                            const struct up_store_sink *sink, int64_t now, char *err, size_t errlen)
{
    struct scan_batch b;
    char *id = malloc(MAX_ID + 1), *prev = malloc(MAX_ID + 1);
    enum up_code rc = UP_OK;
    uint64_t from, k, i;

    memset(&b, 0, sizeof b);
    b.ids.off = malloc((STORE_BATCH + 1) * sizeof *b.ids.off);
    b.first = malloc(STORE_BATCH * sizeof *b.first);
    b.zone = malloc(STORE_BATCH * sizeof *b.zone);
    b.poll_off = malloc((STORE_BATCH + 1) * sizeof *b.poll_off);
    b.hours_off = malloc((STORE_BATCH + 1) * sizeof *b.hours_off);
    if (!id || !prev || !b.ids.off || !b.first || !b.zone || !b.poll_off || !b.hours_off) {
        snprintf(err, errlen, "out of memory");
        rc = UP_ENOMEM;
        goto out;
    }
    for (from = 0; rc == UP_OK && from < h->nstores; from += k) {
        k = h->nstores - from < STORE_BATCH ? h->nstores - from : STORE_BATCH;
        if (read_batch(h, from, k, what, &b) != 0) {
            rc = fail(h, "cannot read the store table", err, errlen);
            break;
        }
        for (i = 0; rc == UP_OK && i < k; i++) {
            struct h5_row r;
            int polls = (what & SCAN_POLLS) != 0, zones = (what & SCAN_ZONES) != 0;
            int hours = (what & SCAN_HOURS) != 0;
            uint64_t ho = hours ? b.hours_off[i] - b.hours_off[0] : 0;
            if (batch_id(&b.ids, i, id) != 0) {
                rc = fail(h, "the store table is malformed", err, errlen);
                break;
            }
            if (!h->ids_checked && from + i > 0 && strcmp(prev, id) >= 0) {
                rc = fail(h, "store ids are not in ascending byte order", err, errlen);
                break;
            }
            if ((polls && b.poll_off[i + 1] < b.poll_off[i]) ||
                (hours && b.hours_off[i + 1] < b.hours_off[i]) ||
                (zones && (b.zone[i] < -1 || b.zone[i] >= h->nzones))) {
                rc = fail(h, "the store table is malformed", err, errlen);
                break;
            }
            memset(&r, 0, sizeof r);
            r.id = id;
            r.first_ts = polls ? b.first[i] : 0;
            r.npolls = polls ? b.poll_off[i + 1] - b.poll_off[i] : 0;
            r.zone = zones ? b.zone[i] : -1;
            r.nhours = hours ? b.hours_off[i + 1] - b.hours_off[i] : 0;
            r.day = hours ? b.day + ho : NULL;
            r.start = hours ? b.start + ho : NULL;
            r.end = hours ? b.end + ho : NULL;
            rc = fn(h, &r, sink, now, err, errlen);
            if (!h->ids_checked)
                memcpy(prev, id, strlen(id) + 1);
        }
    }
    if (rc == UP_OK)
        h->ids_checked = 1;
out:
    free(id);
    free(prev);
    free(b.ids.off);
    free(b.ids.bytes);
    free(b.first);
    free(b.zone);
    free(b.poll_off);
    free(b.hours_off);
    free(b.day);
    free(b.start);
    free(b.end);
    return rc;
}

static enum up_code stopped(struct h5_store *h, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "hdf5 %s: %s stopped by its consumer", h->path, what);
    return UP_EFAIL;
}

static enum up_code one_store(struct h5_store *h, const struct h5_row *r,
                              const struct up_store_sink *sink, int64_t now, char *err,
                              size_t errlen)
{
    if (r->first_ts > now)
        return UP_OK; /* no poll yet at the report's now */
    if (sink->store(sink->ctx, r->id, (int64_t)r->npolls) != 0)
        return stopped(h, "store scan", err, errlen);
    return UP_OK;
}

static enum up_code h5_stores(struct up_store *st, int64_t lo, int64_t now,
                              const struct up_store_sink *sink, char *err, size_t errlen)
{
    struct h5_store *h = cast(st);
    enum up_code rc = covers(h, lo, now, err, errlen);

    if (rc != UP_OK)
        return rc;
    return h5_scan(h, SCAN_POLLS, one_store, sink, now, err, errlen);
}

static enum up_code one_zone(struct h5_store *h, const struct h5_row *r,
                             const struct up_store_sink *sink, int64_t now, char *err,
                             size_t errlen)
{
    (void)now;
    if (r->zone >= 0 && sink->zone(sink->ctx, r->id, h->zones[r->zone]) != 0)
        return stopped(h, "zone scan", err, errlen);
    return UP_OK;
}

static enum up_code h5_timezones(struct up_store *st, const struct up_store_sink *sink, char *err,
                                 size_t errlen)
{
    return h5_scan(cast(st), SCAN_ZONES, one_zone, sink, 0, err, errlen);
}

static enum up_code one_hours(struct h5_store *h, const struct h5_row *r,
                              const struct up_store_sink *sink, int64_t now, char *err,
                              size_t errlen)
{
    uint64_t k;

    (void)now;
    if (r->nhours == 0)
        return UP_OK;
    if (sink->hours_of && r->nhours > h->rows_cap) {
        struct up_hours_row *p = realloc(h->rows, (size_t)r->nhours * sizeof *p);
        if (!p) {
            snprintf(err, errlen, "out of memory");
            return UP_ENOMEM;
        }
        h->rows = p;
        h->rows_cap = r->nhours;
    }
    for (k = 0; k < r->nhours; k++) {
        struct up_hours_row row;
        if (r->day[k] < 0 || r->day[k] > 6 || r->start[k] < 0 || r->start[k] >= UP_USEC_PER_DAY ||
            r->end[k] < 0 || r->end[k] >= UP_USEC_PER_DAY)
            return fail(h, "an hours row out of range", err, errlen);
        row.day = r->day[k];
        row.start_us = r->start[k];
        row.end_us = r->end[k];
        if (sink->hours_of)
            h->rows[k] = row;
        else if (sink->hours(sink->ctx, r->id, &row) != 0)
            return stopped(h, "hours scan", err, errlen);
    }
    if (sink->hours_of && sink->hours_of(sink->ctx, r->id, h->rows, (size_t)r->nhours) != 0)
        return stopped(h, "hours scan", err, errlen);
    return UP_OK;
}

static enum up_code h5_hours(struct up_store *st, const struct up_store_sink *sink, char *err,
                             size_t errlen)
{
    return h5_scan(cast(st), SCAN_HOURS, one_hours, sink, 0, err, errlen);
}

/* Index of the first store whose id is >= id (binary search, one small read a step). */
static enum up_code lower_bound(struct h5_store *h, const char *id, uint64_t *out, char *err,
                                size_t errlen)
{
    struct id_batch b = {NULL, NULL, 0};
    uint64_t off[2], lo = 0, hi = h->nstores;
    char *mid_id = malloc(MAX_ID + 1);
    enum up_code rc = UP_OK;

    b.off = off;
    if (!mid_id) {
        snprintf(err, errlen, "out of memory");
        return UP_ENOMEM;
    }
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (read_ids(h, mid, 1, &b) != 0 || batch_id(&b, 0, mid_id) != 0) {
            rc = fail(h, "cannot read the store table", err, errlen);
            break;
        }
        if (strcmp(mid_id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *out = lo;
    free(mid_id);
    free(b.bytes);
    return rc;
}

/*
 * Emits store id's polls p[0..n): its latest before lo (carry-in), then [lo, now].
 * Returns 0, 1 when the consumer stopped, -1 when the polls are not strictly ascending or
 * a status is neither 0 nor 1 (a corrupt snapshot).
 */
static int emit(const struct up_store_sink *sink, const char *id, const int64_t *ts,
                const uint8_t *active, uint64_t n, int64_t lo, int64_t now)
{
    uint64_t j = 0, a;

    for (j = 0; j < n; j++)
        if (active[j] > 1 || (j > 0 && ts[j] <= ts[j - 1]))
            return -1;
    j = 0;
    while (j < n && ts[j] < lo)
        j++;
    a = j > 0 ? j - 1 : 0; /* the carry-in, then the window */
    while (j < n && ts[j] <= now)
        j++;
    if (j == a)
        return 0;
    if (sink->polls_of)
        return sink->polls_of(sink->ctx, id, ts + a, active + a, (size_t)(j - a)) != 0;
    for (; a < j; a++)
        if (sink->poll(sink->ctx, id, ts[a], active[a]) != 0)
            return 1;
    return 0;
}

static enum up_code missing(struct h5_store *h, const char *id, char *err, size_t errlen)
{
    snprintf(err, errlen, "hdf5 %s: store %s is not in the snapshot", h->path, id);
    return UP_EDB;
}

/*
 * The ids are sorted: they lie in the table range [first, end) found by two binary
 * searches (the whole range when they are one rank's share of a report as of the
 * snapshot's now; with gaps for stores that had no poll yet at an earlier now). The
 * range is read in batches of stores and of polls, and each table store that is asked
 * for has its polls emitted.
 */
static enum up_code h5_polls(struct up_store *st, const char *const *ids, size_t n, int64_t lo,
                             int64_t now, const struct up_store_sink *sink, char *err,
                             size_t errlen)
{
    struct h5_store *h = cast(st);
    struct id_batch b = {NULL, NULL, 0};
    uint64_t first = 0, end = 0, *poff = NULL, at, want = 4096;
    size_t j = 0;
    int64_t *ts = NULL;
    uint8_t *active = NULL;
    char *id = malloc(MAX_ID + 1);
    enum up_code rc = covers(h, lo, now, err, errlen);

    if (rc != UP_OK || n == 0)
        goto out;
    if (!id)
        goto oom;
    rc = lower_bound(h, ids[0], &first, err, errlen);
    if (rc == UP_OK)
        rc = lower_bound(h, ids[n - 1], &end, err, errlen);
    if (rc != UP_OK)
        goto out;
    if (end >= h->nstores || end - first + 1 < n) {
        rc = missing(h, end >= h->nstores ? ids[n - 1] : ids[0], err, errlen);
        goto out;
    }
    end++;
    b.off = malloc((STORE_BATCH + 1) * sizeof *b.off);
    poff = malloc((STORE_BATCH + 1) * sizeof *poff);
    ts = malloc(POLL_BATCH * sizeof *ts);
    active = malloc(POLL_BATCH);
    if (!b.off || !poff || !ts || !active)
        goto oom;
    for (at = first; rc == UP_OK && at < end && j < n;) {
        uint64_t k = end - at < want ? end - at : want, i, m, base;

        /* The poll offsets of up to `want` stores, then the ids of those whose polls fit
         * one poll batch (at least one store): only what the batch uses is read. */
        if (read_slab(h->d_poll_off, H5T_NATIVE_UINT64, at, k + 1, poff) != 0) {
            rc = fail(h, "cannot read the store table", err, errlen);
            break;
        }
        for (m = 1; m < k && poff[m + 1] - poff[0] <= POLL_BATCH; m++)
            ;
        if (!ascending(poff, m) || poff[m] > h->npolls) {
            rc = fail(h, "the poll offsets are malformed", err, errlen);
            break;
        }
        if (read_ids(h, at, m, &b) != 0) {
            rc = fail(h, "cannot read the store table", err, errlen);
            break;
        }
        /* The next batch asks for twice the stores this one took (more when all fit). */
        want = m < k ? 2 * m : 2 * k;
        if (want > STORE_BATCH)
            want = STORE_BATCH;
        if (want < 64)
            want = 64;
        base = poff[0];
        if (poff[m] - base > POLL_BATCH) {
            /* One store with more polls than a batch: a buffer of its own size. */
            int64_t *t2 = realloc(ts, (size_t)(poff[m] - base) * sizeof *ts);
            uint8_t *a2 = t2 ? realloc(active, (size_t)(poff[m] - base)) : NULL;
            if (t2)
                ts = t2;
            if (!a2)
                goto oom;
            active = a2;
        }
        if (read_slab(h->d_ts, H5T_NATIVE_INT64, base, poff[m] - base, ts) != 0 ||
            read_slab(h->d_active, H5T_NATIVE_UINT8, base, poff[m] - base, active) != 0) {
            rc = fail(h, "cannot read the polls", err, errlen);
            break;
        }
        for (i = 0; i < m && j < n; i++) {
            int c, e;
            if (batch_id(&b, i, id) != 0) {
                rc = fail(h, "the store table is malformed", err, errlen);
                break;
            }
            c = strcmp(id, ids[j]);
            if (c > 0) {
                rc = missing(h, ids[j], err, errlen);
                break;
            }
            if (c < 0)
                continue; /* a store not asked for */
            /* The caller's own pointer: its consumer may compare pointers first. */
            e = emit(sink, ids[j], ts + (poff[i] - base), active + (poff[i] - base),
                     poff[i + 1] - poff[i], lo, now);
            if (e != 0) {
                rc = e > 0 ? stopped(h, "poll read", err, errlen)
                           : fail(h, "polls out of order or with a bad status", err, errlen);
                break;
            }
            j++;
        }
        at += m;
    }
    if (rc == UP_OK && j < n)
        rc = missing(h, ids[j], err, errlen);
    goto out;
oom:
    snprintf(err, errlen, "out of memory reading polls");
    rc = UP_ENOMEM;
out:
    free(id);
    free(b.off);
    free(b.bytes);
    free(poff);
    free(ts);
    free(active);
    return rc;
}

const struct up_store_ops up_store_hdf5_ops = {
    .name = "hdf5",
    .caps = UP_STORE_CAP_READ,
    .accepts = h5_accepts,
    .open = h5_open,
    .close = h5_close,
    .max_ts = h5_max_ts,
    .stores = h5_stores,
    .hours = h5_hours,
    .timezones = h5_timezones,
    .polls = h5_polls,
};
