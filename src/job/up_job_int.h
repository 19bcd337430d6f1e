/*
 * The report job's parts that need no MPI (private to src/job): rank 0's plan (now, the
 * store list, its metadata, the balance), a rank's share of it, and the
 * worker (one rank's stores: stream their polls, compute each store). up_job.c strings
 * them together with MPI; the unit tests drive them directly.
 */
#ifndef UP_JOB_INT_H
#define UP_JOB_INT_H

#include <stddef.h>
#include <stdint.h>
#include "up_buf.h"
#include "up_error.h"
#include "up_hours.h"
#include "up_model.h"
#include "up_store.h"
#include "up_strpool.h"
#include "up_tz.h"

/* Length of every error message buffer of the job (the agreement broadcasts one). */
#define UP_JOB_ERRLEN 1024

/* Polls of one store held at once (a week of polls every second is 604,800). */
#define UP_JOB_MAX_STORE_POLLS ((size_t)1 << 24)

/* Distinct zone names of a plan (the tz database lists some 600). */
#define UP_JOB_MAX_ZONES ((size_t)1 << 16)

/* Hours rows of one store, and of a whole plan. */
#define UP_JOB_MAX_STORE_HOURS ((size_t)1 << 20)

/* ---- Rank 0's plan. ---- */

/* One reported store as rank 0 knows it (parallel to the plan's hours rows). */
struct up_plan_store {
    const char *id;  /* in the plan's pool */
    int64_t weight;  /* polls in the week window (or an estimate): the work it brings */
    int32_t zone;    /* index into up_plan.zones, -1: the default zone */
    uint32_t nhours; /* its rows are hours[hours_off .. hours_off + nhours) */
    size_t hours_off;
};

struct up_plan {
    int has_now;           /* 0: no poll at all, the report is the header alone */
    int64_t now;           /* the report's now (µs) */
    struct up_buf store;   /* struct up_plan_store, byte-wise ascending ids */
    struct up_strpool ids; /* the stores' ids */
    struct up_buf hours;   /* struct up_hours_row */
    struct up_buf zones;   /* char *, distinct zone names */
    int64_t total_weight;
    int64_t orphans; /* stores with hours or a zone but no poll (not reported) */
    /* up_plan_read_pinned: the planning connection, held open because its view is the one
     * every rank reads, and the token naming that view ("": the source cannot pin one). */
    struct up_store *pin;
    char token[UP_STORE_TOKEN_MAX];
};

/* Number of stores of a plan, and store i. */
#define UP_PLAN_N(p) ((p)->store.n)
#define UP_PLAN_STORE(p, i) UP_BUF_AT(&(p)->store, struct up_plan_store, i)

/* Makes p an empty plan. */
void up_plan_init(struct up_plan *p);

/* Appends a store (its id copied into the plan's pool), zone -1 and no hours rows;
 * NULL when a cap is passed or memory runs out (p unchanged). */
struct up_plan_store *up_plan_push_store(struct up_plan *p, const char *id, int64_t weight);

/*
 * Reads the plan from the source db (opened read-only here and closed again): now (the
 * given one when has_now, else the latest poll), the stores with a poll at or before now
 * with their weights, and their hours rows and zones merge-joined on. Returns UP_OK, or
 * the store's code / UP_ENOMEM with a message in err. p is freed by up_plan_free either
 * way.
 */
enum up_code up_plan_read(struct up_plan *p, const char *db, int has_now, int64_t now, char *err,
                          size_t errlen) UP_WARN_UNUSED;

/*
 * As up_plan_read, with every read on one view of db (up_store_snapshot): its token is
 * left in p->token for the other ranks' up_worker_run_at, and the connection stays open
 * in p->pin until up_plan_free, which must come after every rank has begun reading.
 */
enum up_code up_plan_read_pinned(struct up_plan *p, const char *db, int has_now, int64_t now,
                                 char *err, size_t errlen) UP_WARN_UNUSED;

/*
 * Begins a plan read in pieces (the streamed scatter): opens db read-only on one view
 * (its token in p->token, the connection kept in p->pin for the scans that follow) and
 * sets now (the given one when has_now, else the latest poll). Returns UP_OK or the
 * store's code with a message in err.
 */
enum up_code up_plan_begin(struct up_plan *p, const char *db, int has_now, int64_t now, char *err,
                           size_t errlen) UP_WARN_UNUSED;

/*
 * Builds a plan from rows fed in store order: every store first (ascending ids), then
 * after up_plan_builder_rewind the hours rows, then after another rewind the zones;
 * rows of ids that are not stores of this plan are counted once as orphans
 * (p->orphans, set by up_plan_builder_free). The feeding functions return 0, or -1 when
 * a cap is passed or memory runs out (up_plan_builder_failed says which list).
 */
struct up_plan_builder;
struct up_plan_builder *up_plan_builder_new(struct up_plan *p);
int up_plan_builder_store(struct up_plan_builder *b, const char *id, int64_t weight);
int up_plan_builder_hours(struct up_plan_builder *b, const char *id,
                          const struct up_hours_row *row);
/* n >= 1 consecutive hours rows of one store at once. */
int up_plan_builder_hours_of(struct up_plan_builder *b, const char *id,
                             const struct up_hours_row *rows, size_t n);
int up_plan_builder_zone(struct up_plan_builder *b, const char *id, const char *zone);
void up_plan_builder_rewind(struct up_plan_builder *b);
const char *up_plan_builder_failed(const struct up_plan_builder *b);
void up_plan_builder_free(struct up_plan_builder *b);

/* Frees everything p holds (closing p->pin) and empties it. Accepts NULL. */
void up_plan_free(struct up_plan *p);

/*
 * Cuts n stores of the given weights into size contiguous ranges of about equal weight:
 * rank r gets [cut[r], cut[r + 1]) (cut has size + 1 items, cut[0] = 0, cut[size] = n).
 * Rank r starts at the first store whose prefix weight passes r/size of the total.
 */
void up_plan_balance(const struct up_plan *p, int size, size_t *cut);

/* ---- One rank's share: what it gets from the scatter. ---- */

/* 24 bytes a store: a rank holds one per store of its share, a million on one rank. */
struct up_share_store {
    const char *id;     /* in the plan's pool */
    size_t hours_off;   /* rows hours[hours_off .. hours_off + nhours) */
    int32_t zone_index; /* in the plan's zone table, -1: the default (no zone row) */
    uint32_t nhours;
};

struct up_share {
    struct up_plan *plan; /* the plan whose ids and zone names the stores use (owned) */
    struct up_buf store;  /* struct up_share_store, in store order */
    struct up_buf hours;  /* struct up_hours_row */
};

#define UP_SHARE_N(s) ((s)->store.n)
#define UP_SHARE_STORE(s, i) UP_BUF_AT(&(s)->store, struct up_share_store, i)

/* The zone name of store st of s (UP_DEFAULT_ZONE when it has no zone row). */
const char *up_share_zone(const struct up_share *s, const struct up_share_store *st);

/*
 * Makes p's stores the share s: s takes p's stores (each entry
 * rewritten as a share's in the same memory), ids, hours rows and zone names (p is left
 * an empty plan, to free as usual). For a rank's own part of a streamed plan
 * (up_dist_stream). Returns UP_OK or UP_ENOMEM (message in err; p then keeps what it
 * had).
 */
enum up_code up_share_adopt(struct up_share *s, struct up_plan *p, char *err,
                            size_t errlen) UP_WARN_UNUSED;

/* Frees the share. Accepts NULL. */
void up_share_free(struct up_share *s);

/* ---- The worker: one rank's stores. ---- */

struct up_worker {
    const struct up_share *share;
    int64_t now, lo;       /* the week window [lo, now] */
    struct up_result *out; /* one per store of the share, in its order (owned) */
    int64_t polls_read;
    double read_s, compute_s; /* wall time streaming polls, and computing */
    /* Called after each store is computed with the number done so far (NULL: none):
     * up_worker_run_at and up_worker_run_on keep what the caller set (set both, or zero
     * them), up_worker_run clears them. */
    void (*on_store)(void *ctx, size_t done);
    void *on_store_ctx;
    /* private */
    size_t cur;
    struct up_buf polls; /* struct up_poll of the store being collected */
    struct up_tzdb *tzdb;
    struct up_intervals iv;
    enum up_code rc;
    char err[UP_JOB_ERRLEN]; /* the consumer's own reason, kept apart from the store's */
};

/*
 * Computes every store of share as of now: opens the tz database (tzdir, NULL: the
 * default) prepared for the report's range and its own read-only connection to db,
 * streams the share's polls (the week plus each store's carry-in poll) and computes each
 * store as its polls end, into w->out. With has_polls = 0 (no poll anywhere) nothing is
 * read and every result is zero. Returns UP_OK or a code with a message in err; w is
 * freed by up_worker_free either way.
 */
enum up_code up_worker_run(struct up_worker *w, const struct up_share *share, const char *db,
                           const char *tzdir, int64_t now, int has_polls, char *err,
                           size_t errlen) UP_WARN_UNUSED;

/* As up_worker_run, reading the view token names (up_plan_read_pinned's p->token; "" or
 * NULL: none) through up_store_read_at. */
enum up_code up_worker_run_at(struct up_worker *w, const struct up_share *share, const char *db,
                              const char *token, const char *tzdir, int64_t now, int has_polls,
                              char *err, size_t errlen) UP_WARN_UNUSED;

/* As up_worker_run_at, reading through conn when it is not NULL (a connection already
 * pinned to the report's view, up_dist_pin; left open), else opening db on token's view. */
enum up_code up_worker_run_on(struct up_worker *w, const struct up_share *share,
                              struct up_store *conn, const char *db, const char *token,
                              const char *tzdir, int64_t now, int has_polls, char *err,
                              size_t errlen) UP_WARN_UNUSED;

/* Frees what the worker holds. Accepts NULL. */
void up_worker_free(struct up_worker *w);

/* Monotonic wall-clock seconds, for the run summary. */
double up_job_wall(void);

#endif
