#include "up_load.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "up_buf.h"
#include "up_csvin.h"
#include "up_err.h"
#include "up_rows.h"
#include "up_signal.h"
#include "up_strmap.h"
#include "up_time.h"
#include "up_tz.h"

/* Summary slots: CSV-level reasons keep their enum value; row-level ones follow. */
#define ROW_SLOT(r) (UP_CSV_REJ_FIELDS + (int)(r))

static const char *const file_label[UP_NFILES] = {"store_status", "menu_hours", "timezones"};

const char *up_load_reason_name(int i)
{
    if (i >= 1 && i <= UP_CSV_REJ_FIELDS)
        return up_csv_reject_name((enum up_csv_reject)i);
    if (i > UP_CSV_REJ_FIELDS && i <= ROW_SLOT(UP_ROW_TZ_CONFLICT))
        return up_row_reject_name((enum up_row_reject)(i - UP_CSV_REJ_FIELDS));
    return NULL;
}

/* Column sets of the three files (SPEC §1). */
static const char *const n_store_id[] = {"store_id", NULL};
static const char *const n_status[] = {"status", NULL};
static const char *const n_ts[] = {"timestamp_utc", NULL};
static const char *const n_day[] = {"dayOfWeek", "day", NULL};
static const char *const n_start[] = {"start_time_local", NULL};
static const char *const n_end[] = {"end_time_local", NULL};
static const char *const n_zone[] = {"timezone_str", NULL};

static const struct up_csv_column cols_status[] = {{n_store_id}, {n_status}, {n_ts}};
static const struct up_csv_column cols_hours[] = {{n_store_id}, {n_day}, {n_start}, {n_end}};
static const struct up_csv_column cols_tz[] = {{n_store_id}, {n_zone}};

static const struct up_csv_column *const file_cols[UP_NFILES] = {cols_status, cols_hours, cols_tz};
static const size_t file_ncols[UP_NFILES] = {3, 4, 2};

const struct up_csv_column *up_load_columns(int file, size_t *n)
{
    *n = file_ncols[file];
    return file_cols[file];
}

struct loader {
    struct up_store *st;
    const struct up_load_opts *opts;
    struct up_load_stats *stats;
    FILE *rejects;
    struct up_tzdb *tzdb;
    struct up_strmap *tz_first;  /* store -> first valid zone */
    struct up_strmap *hours_ok;  /* stores with a valid hours row */
    struct up_strmap *hours_bad; /* stores (valid id) with a rejected hours row */
    char *err;
    size_t errlen;
    struct pipe *pipe;        /* set: polls go to the writer thread's queue, not the store */
    struct up_csvin *pipe_in; /* the reader thread's file */
};

/*
 * The polls file is read and checked on a thread of its own while the main thread writes
 * the valid polls to the store: on two cores the load then takes the longer of the two
 * instead of their sum (measured: reading and checking was a third of the load's time).
 * The reader fills blocks of polls; a ring of PIPE_BLOCKS hands them over in order. Only
 * the main thread touches the store, so a backend needs no locking.
 */
#define PIPE_BLOCKS 4
#define BLOCK_ROWS 8192
#define BLOCK_ID_BYTES ((size_t)BLOCK_ROWS * 48)

struct block_row {
    size_t id_off;
    int64_t ts;
    int active;
};

struct block {
    size_t n;
    struct block_row rows[BLOCK_ROWS];
    struct up_buf ids; /* bytes: the ids, each NUL-terminated (cap: a record's size) */
};

struct pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct block blocks[PIPE_BLOCKS];
    size_t head, tail; /* blocks filled: [tail, head) (indices modulo PIPE_BLOCKS) */
    int done;          /* the reader finished (rc says how) */
    int stop;          /* the writer failed: the reader stops at its next block */
    enum up_code rc;   /* the reader's outcome */
    char err[1024];    /* the reader's message */
    struct block *cur; /* the block the reader fills (owned by the reader) */
};

/* Writes s[0..n) quoted as RFC 4180 does inside a quoted field ('"' doubled). */
static void put_doubled(FILE *f, const char *s, size_t n)
{
    const char *q;

    while (n > 0 && (q = memchr(s, '"', n)) != NULL) {
        fwrite(s, 1, (size_t)(q - s) + 1, f);
        fputc('"', f);
        n -= (size_t)(q - s) + 1;
        s = q + 1;
    }
    fwrite(s, 1, n, f);
}

/*
 * One field of the rejects file: s[0..n), whole (NUL bytes included), escaped by
 * up_reject_escape unless it is already (a CSV-level reject's raw text), and quoted when
 * it holds a comma or a quote. Escaped text never holds a line break, so one rejected row
 * is one line of the file.
 */
static void put_field(FILE *f, const char *s, size_t n, int escaped)
{
    char buf[4096];
    int quote = memchr(s, ',', n) != NULL || memchr(s, '"', n) != NULL;

    if (quote)
        fputc('"', f);
    if (escaped) {
        put_doubled(f, s, n);
    } else {
        while (n > 0) {
            size_t used, len = up_reject_escape(buf, sizeof buf, s, n, &used);
            if (quote)
                put_doubled(f, buf, len);
            else
                fwrite(buf, 1, len, f);
            s += used;
            n -= used;
        }
    }
    if (quote)
        fputc('"', f);
}

/* Counts a rejected row and lists it: value[0..len) is the offending text, raw bytes (a
 * field) or, when escaped, a CSV-level reject's text that up_csvin escaped already. */
static void reject_text(struct loader *L, int file, const char *path, long line, int slot,
                        const char *detail, const char *value, size_t len, int escaped)
{
    struct up_load_file_stats *fs = &L->stats->file[file];

    fs->rejected++;
    fs->by_reason[slot]++;
    if (!L->rejects)
        return;
    put_field(L->rejects, path, strlen(path), 0);
    fprintf(L->rejects, ",%ld,", line);
    put_field(L->rejects, up_load_reason_name(slot), strlen(up_load_reason_name(slot)), 0);
    fputc(',', L->rejects);
    put_field(L->rejects, detail ? detail : "", detail ? strlen(detail) : 0, 0);
    fputc(',', L->rejects);
    put_field(L->rejects, value, len, escaped);
    fputc('\n', L->rejects);
}

/* A row rejected for field col of r: the field whole, NUL bytes and all. */
static void reject(struct loader *L, int file, const char *path, const struct up_csv_record *r,
                   size_t col, int slot, const char *detail)
{
    reject_text(L, file, path, r->line, slot, detail, r->field[col], r->len[col], 0);
}

/* Checks a parsed row's store_id, then its other columns in header order (SPEC §5). */
struct check {
    size_t pos; /* position in the header */
    size_t col; /* requested column index */
};

static int cmp_check(const void *a, const void *b)
{
    const struct check *x = a, *y = b;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static void column_order(const struct up_csvin *in, size_t ncols, struct check *order)
{
    size_t i;
    /* Column 0 is always store_id, checked first; the rest by header position. */
    for (i = 1; i < ncols; i++) {
        order[i - 1].col = i;
        order[i - 1].pos = up_csvin_column_pos(in, i);
    }
    qsort(order, ncols - 1, sizeof order[0], cmp_check);
}

struct status_row {
    int active;
    int64_t ts;
};

static enum up_row_reject check_status_col(const struct up_csv_record *r, size_t col,
                                           struct status_row *out, const char **why)
{
    if (col == 1)
        return up_check_status(r->field[1], r->len[1], &out->active, why);
    if (up_parse_timestamp(r->field[2], r->len[2], &out->ts, why) != 0)
        return UP_ROW_TIMESTAMP;
    return UP_ROW_OK;
}

static enum up_row_reject check_hours_col(const struct up_csv_record *r, size_t col,
                                          struct up_hours_row *out, const char **why)
{
    if (col == 1)
        return up_check_day(r->field[1], r->len[1], &out->day, why);
    if (col == 2)
        return up_parse_time_of_day(r->field[2], r->len[2], &out->start_us, why) == 0
                   ? UP_ROW_OK
                   : UP_ROW_START;
    return up_parse_time_of_day(r->field[3], r->len[3], &out->end_us, why) == 0 ? UP_ROW_OK
                                                                                : UP_ROW_END;
}

static enum up_code note_store(struct up_strmap *m, const char *id, struct loader *L)
{
    if (up_strmap_get(m, id))
        return UP_OK;
    if (up_strmap_put(m, id, "") != 0)
        return up_errf(UP_ENOMEM, L->err, L->errlen, "out of memory");
    return UP_OK;
}

/* Records between two progress reports: the callback looks at the clock, and this keeps
 * that off the per-row path. */
#define PROGRESS_EVERY 16384

/* Hands the progress of file (or, file < 0, of the commit) to the caller's callback. */
static void report_progress(struct loader *L, int file, struct up_csvin *in)
{
    struct up_load_progress p;

    if (!L->opts->progress)
        return;
    memset(&p, 0, sizeof p);
    p.file = file;
    p.bytes_total = -1;
    if (file >= 0) {
        const struct up_load_file_stats *fs = &L->stats->file[file];
        p.path = L->opts->path[file];
        up_csvin_progress(in, &p.bytes_done, &p.bytes_total);
        p.rows = fs->rows;
        p.loaded = fs->loaded;
        p.rejected = fs->rejected;
    } else {
        p.committing = 1;
    }
    L->opts->progress(L->opts->progress_ctx, &p);
}

/* The reader's side: the block being filled, once the writer has freed it. Returns NULL
 * when the writer stopped. */
static struct block *pipe_claim(struct pipe *q)
{
    struct block *b;

    pthread_mutex_lock(&q->mu);
    while (q->head - q->tail == PIPE_BLOCKS && !q->stop)
        pthread_cond_wait(&q->cv, &q->mu);
    b = q->stop ? NULL : &q->blocks[q->head % PIPE_BLOCKS];
    pthread_mutex_unlock(&q->mu);
    if (b) {
        b->n = 0;
        b->ids.n = 0;
    }
    return b;
}

/* Hands the filled block to the writer. */
static void pipe_publish(struct pipe *q)
{
    pthread_mutex_lock(&q->mu);
    q->head++;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* One valid poll: to the store, or into the writer's queue. */
static enum up_code put_poll(struct loader *L, const char *id, size_t len, int64_t ts, int active)
{
    struct pipe *q = L->pipe;
    struct block_row *r;

    if (!q)
        return up_store_put_status(L->st, id, ts, active, L->err, L->errlen);
    if ((!q->cur || q->cur->n == BLOCK_ROWS || q->cur->ids.n + len + 1 > BLOCK_ID_BYTES) &&
        q->cur) {
        pipe_publish(q);
        q->cur = NULL;
    }
    if (!q->cur && !(q->cur = pipe_claim(q)))
        return up_errf(UP_EFAIL, L->err, L->errlen, "stopped: the store failed");
    r = &q->cur->rows[q->cur->n++];
    r->id_off = q->cur->ids.n;
    r->ts = ts;
    r->active = active;
    if (up_buf_append(&q->cur->ids, id, len + 1) != 0)
        return up_errf(UP_ENOMEM, L->err, L->errlen, "out of memory");
    return UP_OK;
}

/* Loads one file's records; the per-file work is in the switch. */
static enum up_code load_file(struct loader *L, int file, struct up_csvin *in)
{
    struct up_load_file_stats *fs = &L->stats->file[file];
    const char *path = up_csvin_path(in);
    struct check order[4];
    size_t ncols = file_ncols[file];
    struct up_csv_record r;
    enum up_code rc;

    column_order(in, ncols, order);
    report_progress(L, file, in);
    for (;;) {
        enum up_row_reject bad = UP_ROW_OK;
        const char *why = NULL;
        size_t k;

        rc = up_csvin_next(in, &r, L->err, L->errlen);
        if (rc != UP_OK)
            return rc;
        if (r.kind == UP_CSV_END) {
            report_progress(L, file, in);
            return UP_OK;
        }
        if (++fs->rows % PROGRESS_EVERY == 0)
            report_progress(L, file, in);
        if (r.kind == UP_CSV_REJECT) {
            reject_text(L, file, path, r.line, (int)r.reason, r.detail, r.raw, strlen(r.raw), 1);
            continue;
        }
        bad = up_check_store_id(r.field[0], r.len[0], &why);
        if (bad != UP_ROW_OK) {
            reject(L, file, path, &r, 0, ROW_SLOT(bad), why);
            continue;
        }
        if (file == UP_FILE_STATUS) {
            struct status_row row;
            for (k = 0; k < ncols - 1 && bad == UP_ROW_OK; k++)
                if ((bad = check_status_col(&r, order[k].col, &row, &why)) != UP_ROW_OK)
                    reject(L, file, path, &r, order[k].col, ROW_SLOT(bad), why);
            if (bad != UP_ROW_OK)
                continue;
            rc = put_poll(L, r.field[0], r.len[0], row.ts, row.active);
        } else if (file == UP_FILE_HOURS) {
            struct up_hours_row row;
            for (k = 0; k < ncols - 1 && bad == UP_ROW_OK; k++)
                if ((bad = check_hours_col(&r, order[k].col, &row, &why)) != UP_ROW_OK)
                    reject(L, file, path, &r, order[k].col, ROW_SLOT(bad), why);
            if (bad != UP_ROW_OK) {
                rc = note_store(L->hours_bad, r.field[0], L);
                if (rc != UP_OK)
                    return rc;
                continue;
            }
            rc = note_store(L->hours_ok, r.field[0], L);
            if (rc == UP_OK)
                rc = up_store_put_hours(L->st, r.field[0], &row, L->err, L->errlen);
        } else {
            const char *zone = r.field[1];
            const char *first;
            /* A NUL byte inside the field would hide the rest of it from a C string. */
            if (strlen(zone) != r.len[1] || !up_tzdb_known(L->tzdb, zone)) {
                reject(L, file, path, &r, 1, ROW_SLOT(UP_ROW_TIMEZONE),
                       "not a Zone or Link name of the tz database");
                continue;
            }
            first = up_strmap_get(L->tz_first, r.field[0]);
            if (first) {
                /* The first valid row wins; identical repeats are fine. */
                if (strcmp(first, zone) != 0) {
                    char detail[300];
                    snprintf(detail, sizeof detail, "store already has timezone %s", first);
                    reject(L, file, path, &r, 1, ROW_SLOT(UP_ROW_TZ_CONFLICT), detail);
                } else {
                    fs->loaded++;
                }
                continue;
            }
            if (up_strmap_put(L->tz_first, r.field[0], zone) != 0)
                return up_errf(UP_ENOMEM, L->err, L->errlen, "out of memory");
            rc = up_store_put_timezone(L->st, r.field[0], zone, L->err, L->errlen);
        }
        if (rc != UP_OK)
            return rc;
        fs->loaded++;
    }
}

/* 1 if fd is still the file at path (not removed or replaced by a sweep meanwhile). */
static int still_named(int fd, const char *path)
{
    struct stat held, named;

    return fstat(fd, &held) == 0 && lstat(path, &named) == 0 && held.st_dev == named.st_dev &&
           held.st_ino == named.st_ino;
}

/*
 * Creates the rejects file's temporary twin, exclusively (mkstemp: never a guessable
 * name that a link could redirect), beside the final path so that rename publishes it.
 * Its mode is what fopen would have given (0666 less the umask). The file is registered
 * with up_signal_cleanup as soon as it exists (SIGTERM, SIGINT or SIGHUP remove it) and
 * stays flock'ed while the load lives: the lock is what tells a later load's sweep
 * (sweep_stale) that its owner is alive. Returns the stream, or NULL with errno set.
 */
static FILE *open_rejects_tmp(const char *final, char *tmp, size_t tmplen)
{
    mode_t mask;
    FILE *f;
    int fd = -1, tries;

    for (tries = 0; tries < 8; tries++) {
        sigset_t held;

        if ((size_t)snprintf(tmp, tmplen, "%s.tmp.XXXXXX", final) >= tmplen) {
            errno = ENAMETOOLONG;
            tmp[0] = '\0';
            return NULL;
        }
        /* Held, so that no signal falls between the file's creation and its registration. */
        up_signal_hold(&held);
        fd = mkstemp(tmp);
        if (fd >= 0 && up_signal_cleanup(tmp) != 0) {
            close(fd);
            unlink(tmp);
            fd = -1;
        }
        up_signal_release(&held);
        if (fd < 0) {
            tmp[0] = '\0';
            return NULL;
        }
        /* Another load's sweep may have found the file unlocked in the instant before this
         * flock and removed it: then make another. A filesystem without locks (flock
         * fails otherwise) leaves it unlocked, and every sweep there leaves it alone. */
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 ? still_named(fd, tmp) : errno != EWOULDBLOCK)
            break;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        up_signal_cleanup(NULL);
        tmp[0] = '\0';
        errno = EAGAIN;
        return NULL;
    }
    mask = umask(0);
    umask(mask);
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || fchmod(fd, 0666 & ~mask) != 0 ||
        !(f = fdopen(fd, "w"))) {
        int e = errno;
        close(fd);
        unlink(tmp);
        up_signal_cleanup(NULL);
        tmp[0] = '\0';
        errno = e;
        return NULL;
    }
    return f;
}

/* 1 if name is <base>.tmp.XXXXXX, the rejects file's temporary twin as mkstemp names it. */
static int is_tmp_name(const char *name, const char *base)
{
    size_t k = strlen(base), i;

    if (strncmp(name, base, k) != 0 || strncmp(name + k, ".tmp.", 5) != 0 ||
        strlen(name + k + 5) != 6)
        return 0;
    for (i = k + 5; name[i]; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
              (name[i] >= '0' && name[i] <= '9')))
            return 0;
    return 1;
}

/*
 * Removes the temporary rejects files that killed loads left beside final (a SIGKILL, a
 * crash, a power cut: no handler ran). Only names of the temporary's pattern
 * (<final>.tmp.XXXXXX), only regular files of this user, opened without following a
 * symlink, and only when no live load holds the file's lock (a load locks its temporary
 * from its creation to its rename: open_rejects_tmp). Returns how many were removed.
 */
static int64_t sweep_stale(const char *final)
{
    char dir[4096], path[4096];
    const char *slash = strrchr(final, '/'), *base = slash ? slash + 1 : final;
    struct dirent *e;
    int64_t removed = 0;
    DIR *d;

    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == final)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - final) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - final), final);
    else
        return 0;
    d = opendir(dir);
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        int fd;

        if (!is_tmp_name(e->d_name, base) ||
            (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path)
            continue;
        /* O_NOFOLLOW: a symlink of that name is not followed (and left); O_NONBLOCK: a
         * FIFO planted there does not block the open. */
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            continue;
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_uid == geteuid() &&
            flock(fd, LOCK_EX | LOCK_NB) == 0 && still_named(fd, path) && unlink(path) == 0)
            removed++;
        close(fd);
    }
    closedir(d);
    return removed;
}

/* The reader thread: the polls file through load_file, into the queue. */
static void *reader_main(void *arg)
{
    struct loader *R = arg;
    struct pipe *q = R->pipe;
    enum up_code rc = load_file(R, UP_FILE_STATUS, R->pipe_in);

    if (rc == UP_OK && q->cur && q->cur->n > 0)
        pipe_publish(q);
    q->cur = NULL;
    pthread_mutex_lock(&q->mu);
    q->done = 1;
    q->rc = rc;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* The writer's side of loading the polls file: every block the reader fills, to the
 * store, in order. Returns the first failure of either side, its message in err. */
static enum up_code load_polls_threaded(struct loader *L, struct up_csvin *in)
{
    struct pipe *q = calloc(1, sizeof *q);
    struct loader R = *L;
    enum up_code rc = UP_OK;
    pthread_t th;
    size_t i;

    if (!q)
        return up_errf(UP_ENOMEM, L->err, L->errlen, "out of memory");
    for (i = 0; i < PIPE_BLOCKS; i++)
        up_buf_init(&q->blocks[i].ids, 1, BLOCK_ID_BYTES);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    R.pipe = q;
    R.pipe_in = in;
    R.err = q->err;
    R.errlen = sizeof q->err;
    if (pthread_create(&th, NULL, reader_main, &R) != 0) {
        /* No thread: the same work on this one. */
        rc = load_file(L, UP_FILE_STATUS, in);
        goto out;
    }
    for (;;) {
        struct block *b;

        pthread_mutex_lock(&q->mu);
        while (q->tail == q->head && !q->done)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->tail == q->head) {
            pthread_mutex_unlock(&q->mu);
            break;
        }
        b = &q->blocks[q->tail % PIPE_BLOCKS];
        pthread_mutex_unlock(&q->mu);
        for (i = 0; i < b->n && rc == UP_OK; i++)
            rc = up_store_put_status(L->st, (const char *)b->ids.p + b->rows[i].id_off,
                                     b->rows[i].ts, b->rows[i].active, L->err, L->errlen);
        pthread_mutex_lock(&q->mu);
        q->tail++;
        if (rc != UP_OK)
            q->stop = 1;
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
        if (rc != UP_OK)
            break;
    }
    pthread_join(th, NULL);
    if (rc == UP_OK && q->rc != UP_OK)
        rc = up_errf(q->rc, L->err, L->errlen, "%s", q->err);
out:
    for (i = 0; i < PIPE_BLOCKS; i++)
        up_buf_free(&q->blocks[i].ids);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
    return rc;
}

/* Makes the rejects file's folder when it is missing (the default is reports/). */
static void make_parent(const char *path)
{
    char dir[4096];
    char *slash;

    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return;
    slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return;
    *slash = '\0';
    /* A failure shows up as the rejects file's own, clearer, error. */
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return;
}

/* Counts stores whose hours rows were all rejected (they are open 24x7). */
struct count_ctx {
    const struct up_strmap *ok;
    int64_t n;
};

static void count_missing(void *ctx, const char *key, const char *value)
{
    struct count_ctx *c = ctx;
    (void)value;
    if (!up_strmap_get(c->ok, key))
        c->n++;
}

static int64_t all_rejected(struct loader *L)
{
    struct count_ctx c = {L->hours_ok, 0};
    up_strmap_foreach(L->hours_bad, count_missing, &c);
    return c.n;
}

enum up_code up_load_run(const char *db_url, const struct up_load_opts *opts,
                         struct up_load_stats *stats, char *err, size_t errlen)
{
    struct up_store *st = NULL;
    struct loader L = {NULL, opts, stats, NULL, NULL, NULL, NULL, NULL, err, errlen, NULL, NULL};
    struct up_csvin *in[UP_NFILES] = {NULL, NULL, NULL};
    char tmp_rejects[4096] = "";
    enum up_code rc = UP_OK;
    sigset_t held;
    int began = 0, holding = 0;
    int i;

    int nfiles = 0, nstdin = 0;

    memset(stats, 0, sizeof *stats);
    for (i = 0; i < UP_NFILES; i++) {
        if (!opts->path[i])
            continue;
        nfiles++;
        nstdin += strcmp(opts->path[i], "-") == 0;
    }
    if (nfiles == 0)
        return up_errf(UP_EUSAGE, err, errlen, "no input file given");
    if (nstdin > 1)
        return up_errf(UP_EUSAGE, err, errlen, "standard input (-) can feed only one file");
    /* Every fatal input problem is found before the store is touched. */
    for (i = 0; i < UP_NFILES; i++) {
        if (!opts->path[i])
            continue;
        in[i] = up_csvin_open(opts->path[i], file_cols[i], file_ncols[i], &rc, err, errlen);
        if (!in[i])
            goto out;
    }
    /* Only the time zones file needs the tz database: polls alone load without it. */
    if (in[UP_FILE_TZ]) {
        L.tzdb = up_tzdb_open(opts->tzdir, 0, 0, err, errlen);
        if (!L.tzdb) {
            rc = UP_ETZDB;
            goto out;
        }
    }
    L.tz_first = up_strmap_new();
    L.hours_ok = up_strmap_new();
    L.hours_bad = up_strmap_new();
    if (!L.tz_first || !L.hours_ok || !L.hours_bad) {
        rc = up_errf(UP_ENOMEM, err, errlen, "out of memory");
        goto out;
    }
    rc = up_store_open(db_url, UP_STORE_WRITE, &st, err, errlen);
    if (rc != UP_OK)
        goto out;
    L.st = st;
    rc = up_store_begin(st, err, errlen);
    if (rc != UP_OK)
        goto out;
    began = 1;
    if (opts->rejects_path) {
        make_parent(opts->rejects_path);
        stats->stale_removed = sweep_stale(opts->rejects_path);
        L.rejects = open_rejects_tmp(opts->rejects_path, tmp_rejects, sizeof tmp_rejects);
        if (!L.rejects) {
            rc = up_errf(UP_EIO, err, errlen, "cannot write rejects file %s: %s",
                         opts->rejects_path, strerror(errno));
            goto out;
        }
        fputs("file,line,reason,detail,value\n", L.rejects);
    }
    /* One transaction: the order of the files does not matter to a reader. */
    {
        static const int order[UP_NFILES] = {UP_FILE_TZ, UP_FILE_HOURS, UP_FILE_STATUS};
        for (i = 0; i < UP_NFILES && rc == UP_OK; i++) {
            if (!in[order[i]])
                continue;
            if (order[i] == UP_FILE_STATUS)
                rc = load_polls_threaded(&L, in[order[i]]);
            else
                rc = load_file(&L, order[i], in[order[i]]);
        }
    }
    if (rc != UP_OK)
        goto out;
    report_progress(&L, -1, NULL);
    stats->hours_stores = (int64_t)up_strmap_count(L.hours_ok);
    stats->tz_stores = (int64_t)up_strmap_count(L.tz_first);
    stats->hours_all_rejected = all_rejected(&L);
    if (L.rejects) {
        /* ferror catches a write that failed in an earlier automatic flush. The stream stays
         * open (its lock held) until the rename. */
        int bad = fflush(L.rejects) != 0 || ferror(L.rejects) || fsync(fileno(L.rejects)) != 0;
        if (bad) {
            rc = up_errf(UP_EIO, err, errlen, "cannot write rejects file %s: %s", tmp_rejects,
                         strerror(errno));
            goto out;
        }
    }
    /* The commit and the rejects file's rename are one step for the signals: one that
     * arrives meanwhile waits, and is then taken, since the load it asked to stop is done
     * (stats->signal_in_commit). Before this point a signal ends the load with nothing
     * committed and the temporary removed. */
    up_signal_hold(&held);
    holding = 1;
    rc = up_store_commit(st, err, errlen);
    if (rc != UP_OK)
        goto out;
    began = 0;
    if (tmp_rejects[0] && rename(tmp_rejects, opts->rejects_path) != 0) {
        /* The data is committed; only the rejects report is missing. Say so. */
        rc = up_errf(UP_EIO, err, errlen, "loaded, but cannot publish rejects file %s: %s",
                     opts->rejects_path, strerror(errno));
        goto out;
    }
    tmp_rejects[0] = '\0';
out:
    if (began) {
        char rb[256];
        if (up_store_rollback(st, rb, sizeof rb) != UP_OK)
            fprintf(stderr, "uptime_load: rollback: %s\n", rb);
    }
    if (tmp_rejects[0])
        unlink(tmp_rejects);
    if (L.rejects)
        fclose(L.rejects); /* after the rename or the unlink: the lock covered the file */
    /* Renamed or removed: from now on a signal has nothing to remove. */
    up_signal_cleanup(NULL);
    if (holding) {
        stats->signal_in_commit = up_signal_take();
        up_signal_release(&held);
    }
    up_strmap_free(L.tz_first);
    up_strmap_free(L.hours_ok);
    up_strmap_free(L.hours_bad);
    up_tzdb_free(L.tzdb);
    for (i = 0; i < UP_NFILES; i++)
        up_csvin_free(in[i]);
    up_store_close(st);
    return rc;
}

void up_load_print_summary(const struct up_load_stats *stats, const struct up_load_opts *opts,
                           void *fp)
{
    FILE *f = fp;
    int i, k;

    for (i = 0; i < UP_NFILES; i++) {
        const struct up_load_file_stats *fs = &stats->file[i];
        if (!opts->path[i])
            continue;
        fprintf(f, "%-12s %s: %lld rows, %lld loaded, %lld rejected", file_label[i], opts->path[i],
                (long long)fs->rows, (long long)fs->loaded, (long long)fs->rejected);
        if (fs->rejected) {
            const char *sep = " (";
            for (k = 0; k < UP_LOAD_NREASONS; k++) {
                if (!fs->by_reason[k])
                    continue;
                fprintf(f, "%s%s: %lld", sep, up_load_reason_name(k), (long long)fs->by_reason[k]);
                sep = ", ";
            }
            fputc(')', f);
        }
        fputc('\n', f);
    }
    /* A load of polls alone says nothing of hours or zones. */
    if (opts->path[UP_FILE_HOURS] || opts->path[UP_FILE_TZ])
        fprintf(f,
                "stores: %lld with hours, %lld whose hours rows were all rejected (open 24x7), "
                "%lld with a timezone\n",
                (long long)stats->hours_stores, (long long)stats->hours_all_rejected,
                (long long)stats->tz_stores);
    if (opts->rejects_path)
        fprintf(f, "rejects: %s\n", opts->rejects_path);
    if (stats->stale_removed)
        fprintf(f, "removed %lld temporary rejects file%s left by killed loads\n",
                (long long)stats->stale_removed, stats->stale_removed == 1 ? "" : "s");
}
