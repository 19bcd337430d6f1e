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

void up_dist_preopen(const char *db, struct up_store **conn)
{
    char err[ERRLEN];

    *conn = NULL;
    if (up_store_open(db, UP_STORE_READ, conn, err, sizeof err) != UP_OK) {
        up_store_close(*conn);
        *conn = NULL; /* up_dist_pin opens again and meets the same failure */
    }
}

enum up_code up_dist_pin(struct up_dist *d, struct up_plan *plan, const char *db,
                         up_dist_replan_fn replan, void *ctx, struct up_store **conn)
{
    char err[ERRLEN];
    int tries;

    for (tries = 1;; tries++) {
        enum up_code rc = UP_OK;
        int changed = 0;

        up_dist_bcast_now(d, plan);
        UP_MPI_CHECK(d->comm, MPI_Bcast(plan->token, sizeof plan->token, MPI_CHAR, 0, d->comm));
        if (!plan->has_now) {
            up_store_close(*conn); /* opened ahead (up_dist_preopen), nothing to read */
            *conn = NULL;
        } else {
            rc = *conn ? UP_OK : up_store_open(db, UP_STORE_READ, conn, err, sizeof err);
            if (rc == UP_OK)
                rc = up_store_read_at(*conn, plan->token, err, sizeof err);
            changed = rc != UP_OK && up_store_view_changed(*conn);
            /* Any other failure is the worker's to find again and agree on, in its own
             * phase (up_worker_run_on opens the source itself when conn is NULL). */
            if (rc != UP_OK) {
                up_store_close(*conn);
                *conn = NULL;
            }
        }
        UP_MPI_CHECK(d->comm, MPI_Allreduce(MPI_IN_PLACE, &changed, 1, MPI_INT, MPI_LOR, d->comm));
        /* After the last try, a rank that found the source changed is refused again by its
         * worker, whose message says why. */
        if (!changed || tries == UP_DIST_PIN_TRIES)
            return UP_OK;
        up_store_close(*conn);
        *conn = NULL;
        rc = UP_OK;
        if (d->rank == 0) {
            UP_LOG(WARN,
                   "the source changed between the plan's view and a rank's (%s): "
                   "planning again (try %d of %d)",
                   plan->token, tries + 1, UP_DIST_PIN_TRIES);
            rc = replan(ctx, plan, d->err, ERRLEN);
        }
        rc = up_dist_agree(d, rc);
        if (rc != UP_OK)
            return rc;
    }
}

/* ---- The streamed scatter: rank 0 never holds the platform's metadata. ---- */

/* Bytes of records per message; rank 0 holds one buffer, each rank one. */
#define META_CHUNK ((size_t)1 << 18)
#define TAG_META 13

/* Record kinds on the wire: a store, an hours row, a zone. Each record is the kind byte,
 * the id and its NUL, then: a store's weight (int64), a row's day, start and end (int32,
 * int64, int64), or a zone name and its NUL. An hours row of the same store as the record
 * before it (to the same rank) is REC_HOURS_SAME: the kind byte and the row, no id (a
 * store has about 7 rows: most of the bytes would be its id again). */
enum { REC_STORE = 'S', REC_HOURS = 'H', REC_HOURS_SAME = 'h', REC_HOURS_OF = 'N', REC_ZONE = 'Z' };
/* REC_HOURS_OF: the kind byte, the id and its NUL, a row count (uint32, 1 to
 * HOURS_PER_RECORD), then that many rows as in REC_HOURS: a store's rows in one record
 * when its backend passes them together (sink->hours_of). */
#define HOURS_PER_RECORD 4096
#define HOURS_ROW_BYTES 20
#define MAX_ID_BYTES 1024
#define MAX_ZONE_BYTES 128
#define MAX_RECORD (1 + MAX_ID_BYTES + 1 + MAX_ZONE_BYTES + 1)

/* A builder fed records in order: it rewinds its cursor as the kind changes. */
struct feeder {
    struct up_plan_builder *b;
    char last;
    int failed;
    char id[MAX_ID_BYTES + 1]; /* the id of the last hours row (for REC_HOURS_SAME) */
    int has_id;
};

/* Rows of another kind than the last ones: the builder's cursor starts over. */
static void feed_kind(struct feeder *fd, char kind)
{
    if (kind != fd->last) {
        up_plan_builder_rewind(fd->b);
        fd->last = kind;
    }
}

/* The rows of a REC_HOURS_OF record whose count starts at rec + len; returns the
 * record's length, or 0 if it is cut short or its count is out of range. */
static size_t feed_hours_of(struct feeder *fd, const char *id, const char *rec, size_t len,
                            size_t avail)
{
    struct up_hours_row rows[256];
    uint32_t n, k, m, i;
    const char *f;

    if (avail < len + 4)
        return 0;
    memcpy(&n, rec + len, 4);
    if (n == 0 || n > HOURS_PER_RECORD || avail - len - 4 < (size_t)n * HOURS_ROW_BYTES)
        return 0;
    f = rec + len + 4;
    for (k = 0; k < n && !fd->failed; k += m) {
        m = n - k < 256 ? n - k : 256;
        for (i = 0; i < m; i++, f += HOURS_ROW_BYTES) {
            int32_t day;
            memcpy(&day, f, 4);
            memcpy(&rows[i].start_us, f + 4, 8);
            memcpy(&rows[i].end_us, f + 12, 8);
            rows[i].day = day;
        }
        if (up_plan_builder_hours_of(fd->b, id, rows, m) != 0)
            fd->failed = 1;
    }
    return len + 4 + (size_t)n * HOURS_ROW_BYTES;
}

/* Feeds the record at rec (avail bytes); returns its length, or 0 if it is cut short. */
static size_t feed(struct feeder *fd, const char *rec, size_t avail)
{
    const char *id = rec + 1, *f;
    char kind = rec[0] == REC_HOURS_SAME || rec[0] == REC_HOURS_OF ? REC_HOURS : rec[0];
    size_t idlen, len;
    int bad = 0;

    if (avail < 2)
        return 0;
    if (rec[0] == REC_HOURS_SAME) {
        if (!fd->has_id)
            return 0;
        id = fd->id;
        f = rec + 1;
    } else {
        idlen = strnlen(id, avail - 1);
        if (idlen + 2 > avail || idlen > MAX_ID_BYTES)
            return 0;
        f = id + idlen + 1;
        if (rec[0] == REC_HOURS) {
            memcpy(fd->id, id, idlen + 1);
            fd->has_id = 1;
        }
    }
    len = (size_t)(f - rec);
    feed_kind(fd, kind);
    if (rec[0] == REC_HOURS_OF)
        return feed_hours_of(fd, id, rec, len, avail);
    switch (kind) {
    case REC_STORE: {
        int64_t w;
        if (avail < len + 8)
            return 0;
        memcpy(&w, f, 8);
        bad = up_plan_builder_store(fd->b, id, w);
        len += 8;
        break;
    }
    case REC_HOURS: {
        struct up_hours_row row;
        int32_t day;
        if (avail < len + 20)
            return 0;
        memcpy(&day, f, 4);
        memcpy(&row.start_us, f + 4, 8);
        memcpy(&row.end_us, f + 12, 8);
        row.day = day;
        bad = up_plan_builder_hours(fd->b, id, &row);
        len += 20;
        break;
    }
    case REC_ZONE: {
        size_t zl = strnlen(f, avail - len);
        if (len + zl + 1 > avail)
            return 0;
        bad = up_plan_builder_zone(fd->b, id, f);
        len += zl + 1;
        break;
    }
    default:
        return 0;
    }
    if (bad)
        fd->failed = 1;
    return len;
}

/* Rank 0's side: the destination of each row, the outgoing chunk, its own builder. */
struct streamer {
    struct up_dist *d;
    struct feeder own; /* rank 0's own stores */
    char *buf;         /* the chunk being filled: one of spare[] */
    char *spare[2];    /* two chunks: one filled while the other is on its way */
    MPI_Request sending;
    size_t used;
    int dest; /* the rank the buffer is for */
    /* the balance, in one pass over the stores */
    int64_t total, acc, nstores;
    int cur;      /* the rank taking stores */
    char **first; /* each rank's first store id (NULL: it has none) */
    int *with;    /* the ranks that have stores, ascending, nwith of them */
    int nwith;
    int oom;
    /* the last hours row's store and rank: the next row of both needs no id */
    char hours_id[MAX_ID_BYTES + 1];
    int hours_dest;
};

/* Sends the chunk and fills the other one meanwhile (the receiver parses one chunk while
 * the next is on its way). */
static void flush(struct streamer *s)
{
    if (s->used == 0)
        return;
    UP_MPI_CHECK(s->d->comm, MPI_Wait(&s->sending, MPI_STATUS_IGNORE));
    UP_MPI_CHECK(s->d->comm, MPI_Isend(s->buf, (int)s->used, MPI_CHAR, s->dest, TAG_META,
                                       s->d->comm, &s->sending));
    s->buf = s->buf == s->spare[0] ? s->spare[1] : s->spare[0];
    s->used = 0;
}

/* len (<= META_CHUNK) bytes of the chunk for rank dest, sending the chunk first when it
 * is for another rank or full; NULL out of memory (already failed: the other ranks only
 * wait for the end). */
static char *reserve(struct streamer *s, int dest, size_t len)
{
    char *p;

    if (!s->spare[0] || !s->spare[1])
        return NULL;
    if (dest != s->dest || META_CHUNK - s->used < len) {
        flush(s);
        s->dest = dest;
    }
    p = s->buf + s->used;
    s->used += len;
    return p;
}

/* A record for rank dest: rank 0's own go straight to its builder; the others' are sent
 * when the destination changes or the chunk is full (rows come in id order, so one
 * destination at a time). */
static void put_record(struct streamer *s, int dest, const char *rec, size_t len)
{
    if (dest == 0) {
        if (s->own.b)
            feed(&s->own, rec, len);
        return;
    }
    char *p = reserve(s, dest, len);

    if (p)
        memcpy(p, rec, len);
}

static size_t record(char *rec, char kind, const char *id, const void *f, size_t flen)
{
    size_t n = strnlen(id, MAX_ID_BYTES);

    rec[0] = kind;
    memcpy(rec + 1, id, n);
    rec[1 + n] = '\0';
    memcpy(rec + 2 + n, f, flen);
    return 2 + n + flen;
}

static int count_store(void *ctx, const char *id, int64_t weight)
{
    struct streamer *s = ctx;

    (void)id;
    s->total += weight;
    s->nstores++;
    return 0;
}

/* Rank r starts once the prefix weight would pass r/size of the total (up_plan_balance's
 * rule, in one pass). */
static int send_store(void *ctx, const char *id, int64_t weight)
{
    struct streamer *s = ctx;
    char rec[MAX_RECORD];

    while (s->cur + 1 < s->d->size &&
           s->acc + weight > (int64_t)((double)s->total * (s->cur + 1) / s->d->size))
        s->cur++;
    s->acc += weight;
    if (!s->first[s->cur] && !(s->first[s->cur] = strdup(id)))
        s->oom = 1;
    put_record(s, s->cur, rec, record(rec, REC_STORE, id, &weight, sizeof weight));
    return 0;
}

/* The rank whose range holds id: the last rank with stores whose first id is <= id (ids
 * before every range go to rank 0, which counts them as orphans). */
static int owner(const struct streamer *s, const char *id)
{
    int lo = 0, hi = s->nwith; /* the first of with[] whose first id is > id */

    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(s->first[s->with[mid]], id) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : s->with[lo - 1];
}

static int send_hours(void *ctx, const char *id, const struct up_hours_row *row)
{
    struct streamer *s = ctx;
    char rec[MAX_RECORD], f[20];
    int32_t day = row->day;

    int dest;

    memcpy(f, &day, 4);
    memcpy(f + 4, &row->start_us, 8);
    memcpy(f + 12, &row->end_us, 8);
    if (s->hours_dest >= 0 && strcmp(id, s->hours_id) == 0) {
        /* Rows of one store are consecutive, and so go to one rank. */
        rec[0] = REC_HOURS_SAME;
        memcpy(rec + 1, f, sizeof f);
        put_record(s, s->hours_dest, rec, 1 + sizeof f);
        return 0;
    }
    dest = owner(s, id);
    put_record(s, dest, rec, record(rec, REC_HOURS, id, f, sizeof f));
    s->hours_dest = dest;
    {
        size_t n = strnlen(id, MAX_ID_BYTES);
        memcpy(s->hours_id, id, n);
        s->hours_id[n] = '\0';
    }
    return 0;
}

/* All of one store's rows at once: rank 0's own to its builder as they are, another
 * rank's in REC_HOURS_OF records. */
static int send_hours_of(void *ctx, const char *id, const struct up_hours_row *rows, size_t n)
{
    struct streamer *s = ctx;
    size_t idlen = strnlen(id, MAX_ID_BYTES), k, m, i;
    int dest = owner(s, id);

    s->hours_dest = -1; /* a later REC_HOURS_SAME would follow the wrong record */
    if (dest == 0) {
        if (s->own.b && !s->own.failed) {
            feed_kind(&s->own, REC_HOURS);
            if (up_plan_builder_hours_of(s->own.b, id, rows, n) != 0)
                s->own.failed = 1;
        }
        return 0;
    }
    for (k = 0; k < n; k += m) {
        uint32_t c;
        char *p;
        m = n - k < HOURS_PER_RECORD ? n - k : HOURS_PER_RECORD;
        p = reserve(s, dest, 1 + idlen + 1 + 4 + m * HOURS_ROW_BYTES);
        if (!p)
            return 0;
        c = (uint32_t)m;
        *p++ = REC_HOURS_OF;
        memcpy(p, id, idlen);
        p[idlen] = '\0';
        p += idlen + 1;
        memcpy(p, &c, 4);
        p += 4;
        for (i = k; i < k + m; i++, p += HOURS_ROW_BYTES) {
            int32_t day = rows[i].day;
            memcpy(p, &day, 4);
            memcpy(p + 4, &rows[i].start_us, 8);
            memcpy(p + 12, &rows[i].end_us, 8);
        }
    }
    return 0;
}

static int send_zone(void *ctx, const char *id, const char *zone)
{
    struct streamer *s = ctx;
    char rec[MAX_RECORD], z[MAX_ZONE_BYTES + 1];
    size_t zl = strnlen(zone, MAX_ZONE_BYTES);

    memcpy(z, zone, zl);
    z[zl] = '\0';
    put_record(s, owner(s, id), rec, record(rec, REC_ZONE, id, z, zl + 1));
    return 0;
}

/* Rank 0: the three scans of its planning connection, streamed out; then an empty
 * message to every other rank. */
static enum up_code stream_out(struct up_dist *d, struct up_plan *plan, struct streamer *s)
{
    struct up_store_sink sink = {count_store, send_hours, send_zone, NULL, s, send_hours_of, NULL};
    int64_t lo = plan->now - UP_USEC_PER_WEEK;
    enum up_code rc = UP_OK;
    int r;

    s->sending = MPI_REQUEST_NULL;
    s->spare[0] = malloc(META_CHUNK);
    s->spare[1] = malloc(META_CHUNK);
    s->buf = s->spare[0];
    s->first = calloc((size_t)d->size, sizeof *s->first);
    s->with = calloc((size_t)d->size, sizeof *s->with);
    if (!s->spare[0] || !s->spare[1] || !s->first || !s->with) {
        snprintf(d->err, ERRLEN, "out of memory");
        rc = UP_ENOMEM;
    }
    /* Pass 1 sums the weights for the balance; pass 2 sends the stores. */
    if (rc == UP_OK && plan->has_now)
        rc = up_store_stores(plan->pin, lo, plan->now, &sink, d->err, ERRLEN);
    sink.store = send_store;
    if (rc == UP_OK && plan->has_now)
        rc = up_store_stores(plan->pin, lo, plan->now, &sink, d->err, ERRLEN);
    if (rc == UP_OK)
        for (r = 0; r < d->size; r++)
            if (s->first[r])
                s->with[s->nwith++] = r;
    if (rc == UP_OK && plan->has_now)
        rc = up_store_hours(plan->pin, &sink, d->err, ERRLEN);
    if (rc == UP_OK && plan->has_now)
        rc = up_store_timezones(plan->pin, &sink, d->err, ERRLEN);
    if (s->spare[0] && s->spare[1])
        flush(s);
    UP_MPI_CHECK(d->comm, MPI_Wait(&s->sending, MPI_STATUS_IGNORE));
    /* Every rank waits for this, whatever happened above. */
    for (r = 1; r < d->size; r++)
        UP_MPI_CHECK(d->comm, MPI_Send(s->buf, 0, MPI_CHAR, r, TAG_META, d->comm));
    if (rc == UP_OK && s->own.b && (s->oom || s->own.failed)) {
        snprintf(d->err, ERRLEN, "out of memory (or past its cap) building rank 0's share%s%s",
                 up_plan_builder_failed(s->own.b) ? ": " : "",
                 up_plan_builder_failed(s->own.b) ? up_plan_builder_failed(s->own.b) : "");
        rc = UP_ENOMEM;
    }
    return rc;
}

/* Ranks but 0: records until the empty message, into the builder. */
static enum up_code stream_in(struct up_dist *d, struct feeder *fd)
{
    char *buf = malloc(META_CHUNK);
    char scratch[1];
    enum up_code rc = UP_OK;

    if (!buf) {
        snprintf(d->err, ERRLEN, "out of memory for the metadata's buffer");
        rc = UP_ENOMEM;
    }
    for (;;) {
        MPI_Status st;
        int count = 0;
        size_t pos = 0, len;
        /* Without a buffer the messages are still taken (and dropped), so rank 0 ends. */
        UP_MPI_CHECK(d->comm, MPI_Recv(buf ? buf : scratch, buf ? (int)META_CHUNK : 0, MPI_CHAR, 0,
                                       TAG_META, d->comm, &st));
        UP_MPI_CHECK(d->comm, MPI_Get_count(&st, MPI_CHAR, &count));
        if (count == 0)
            break;
        while (buf && fd->b && pos < (size_t)count) {
            len = feed(fd, buf + pos, (size_t)count - pos);
            if (len == 0) {
                snprintf(d->err, ERRLEN, "store metadata cut short in a message from rank 0");
                rc = UP_EFAIL;
                break;
            }
            pos += len;
        }
    }
    if (rc == UP_OK && fd->b && fd->failed) {
        snprintf(d->err, ERRLEN, "out of memory (or past its cap) building this rank's share%s%s",
                 up_plan_builder_failed(fd->b) ? ": " : "",
                 up_plan_builder_failed(fd->b) ? up_plan_builder_failed(fd->b) : "");
        rc = UP_ENOMEM;
    }
    free(buf);
    return rc;
}

enum up_code up_dist_stream(struct up_dist *d, struct up_plan *plan, struct up_share *share,
                            struct up_dist_counts *counts)
{
    struct up_plan mine;
    struct streamer s;
    enum up_code rc = UP_OK;
    int64_t local[4] = {0, 0, 0, 0}, sum[4] = {0, 0, 0, 0};
    size_t i;
    int r;

    memset(&s, 0, sizeof s);
    memset(counts, 0, sizeof *counts);
    up_plan_init(&mine);
    s.d = d;
    s.own.last = REC_STORE;
    s.hours_dest = -1;
    s.own.b = up_plan_builder_new(&mine);
    if (!s.own.b) {
        snprintf(d->err, ERRLEN, "out of memory");
        rc = UP_ENOMEM;
    }
    {
        /* Both sides run even after a failure here, so that no rank waits for the other. */
        enum up_code got = d->rank == 0 ? stream_out(d, plan, &s) : stream_in(d, &s.own);
        if (rc == UP_OK)
            rc = got;
    }
    up_plan_builder_free(s.own.b);
    if (s.first)
        for (r = 0; r < d->size; r++)
            free(s.first[r]);
    free(s.first);
    free(s.with);
    free(s.spare[0]);
    free(s.spare[1]);
    local[0] = (int64_t)UP_PLAN_N(&mine);
    for (i = 0; i < UP_PLAN_N(&mine); i++) {
        local[1] += UP_PLAN_STORE(&mine, i)->nhours == 0;
        local[2] += UP_PLAN_STORE(&mine, i)->zone < 0;
    }
    local[3] = mine.orphans;
    /* This rank's share is the plan its builder made: handed over, not packed again. */
    if (rc == UP_OK)
        rc = up_share_adopt(share, &mine, d->err, ERRLEN);
    up_plan_free(&mine);
    rc = up_dist_agree(d, rc);
    UP_MPI_CHECK(d->comm, MPI_Reduce(local, sum, 4, MPI_INT64_T, MPI_SUM, 0, d->comm));
    counts->stores = sum[0];
    counts->no_hours = sum[1];
    counts->no_zone = sum[2];
    counts->orphans = sum[3];
    return rc;
}
