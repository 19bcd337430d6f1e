/*
 * The worker without MPI: one rank's share computed over the in-memory source, the polls
 * streamed store by store (carry-in included), results in the share's order; and its
 * failures (a zone the tz database does not know, a poll of a store outside the share).
 * Expected values are worked out by hand in the comments.
 */
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "test_util.h"
#include "up_job_int.h"
#include "up_store.h"

#define MIN_US (60 * UP_USEC_PER_SEC)
#define HOUR_US UP_USEC_PER_HOUR

/* now = 2023-01-25 18:00:00 UTC. */
static int64_t now_us(void)
{
    return tu_utc(2023, 1, 25, 18, 0, 0);
}

static void put_polls(const char *db)
{
    const int64_t now = now_us();
    struct up_store *st = NULL;
    char err[256];

    CU_ASSERT_EQUAL_FATAL(up_store_open(db, UP_STORE_WRITE, &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    /* a: active 2 h before now, inactive 30 min before now. */
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", now - 2 * HOUR_US, 1, err, 256), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", now - 30 * MIN_US, 0, err, 256), UP_OK);
    /* b: inactive 8 days before now (the carry-in, before the week), active 12 h before. */
    CU_ASSERT_EQUAL(up_store_put_status(st, "b", now - 8 * UP_USEC_PER_DAY, 0, err, 256), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "b", now - 12 * HOUR_US, 1, err, 256), UP_OK);
    /* z: polled, but not in the share below. */
    CU_ASSERT_EQUAL(up_store_put_status(st, "z", now - HOUR_US, 1, err, 256), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
    up_store_close(st);
}

/* A share of the given ids, open 24x7 (no hours rows) in zone. */
static void share_of(struct up_share *sh, const char *const *ids, size_t n, const char *zone)
{
    struct up_plan p;
    char err[256];
    size_t i;
    char **z;

    up_plan_init(&p);
    z = up_buf_push(&p.zones);
    CU_ASSERT_PTR_NOT_NULL_FATAL(z);
    *z = strdup(zone);
    for (i = 0; i < n; i++) {
        struct up_plan_store *s = up_plan_push_store(&p, ids[i], 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        s->zone = 0;
    }
    CU_ASSERT_EQUAL_FATAL(up_share_adopt(sh, &p, err, sizeof err), UP_OK);
    up_plan_free(&p);
}

static void test_compute_share(void)
{
    const char *const ids[] = {"a", "b"};
    struct up_share sh;
    struct up_worker w;
    char err[256] = "";

    put_polls("mem:worker");
    share_of(&sh, ids, 2, "UTC");
    CU_ASSERT_EQUAL_FATAL(up_worker_run(&w, &sh, "mem:worker", NULL, now_us(), 1, err, sizeof err),
                          UP_OK);
    /* a, open all the time; before its first poll a store has that poll's status.
     *   hour [now-1h, now): up until now-30m, down after: 30 min / 30 min.
     *   day: up from now-24h to now-30m = 23.5 h, down 0.5 h.
     *   week: up 7 d - 30 min = 167.5 h, down 0.5 h. */
    CU_ASSERT_EQUAL(w.out[0].up[UP_WIN_HOUR], 30 * MIN_US);
    CU_ASSERT_EQUAL(w.out[0].down[UP_WIN_HOUR], 30 * MIN_US);
    CU_ASSERT_EQUAL(w.out[0].up[UP_WIN_DAY], 23 * HOUR_US + 30 * MIN_US);
    CU_ASSERT_EQUAL(w.out[0].down[UP_WIN_DAY], 30 * MIN_US);
    CU_ASSERT_EQUAL(w.out[0].up[UP_WIN_WEEK], 167 * HOUR_US + 30 * MIN_US);
    CU_ASSERT_EQUAL(w.out[0].down[UP_WIN_WEEK], 30 * MIN_US);
    /* b: the carry-in (inactive, 8 days back) rules until now-12h, active after.
     *   hour: up 60 min. day: down 12 h, up 12 h. week: down 7 d - 12 h = 156 h, up 12 h. */
    CU_ASSERT_EQUAL(w.out[1].up[UP_WIN_HOUR], HOUR_US);
    CU_ASSERT_EQUAL(w.out[1].down[UP_WIN_HOUR], 0);
    CU_ASSERT_EQUAL(w.out[1].up[UP_WIN_DAY], 12 * HOUR_US);
    CU_ASSERT_EQUAL(w.out[1].down[UP_WIN_DAY], 12 * HOUR_US);
    CU_ASSERT_EQUAL(w.out[1].up[UP_WIN_WEEK], 12 * HOUR_US);
    CU_ASSERT_EQUAL(w.out[1].down[UP_WIN_WEEK], 156 * HOUR_US);
    /* Four polls read: a's two, b's carry-in and its poll in the week; z is not ours. */
    CU_ASSERT_EQUAL(w.polls_read, 4);
    up_worker_free(&w);

    /* No poll anywhere: nothing is read, every result is zero. */
    CU_ASSERT_EQUAL_FATAL(up_worker_run(&w, &sh, "mem:worker", NULL, now_us(), 0, err, sizeof err),
                          UP_OK);
    CU_ASSERT_EQUAL(w.out[1].down[UP_WIN_WEEK], 0);
    CU_ASSERT_EQUAL(w.polls_read, 0);
    up_worker_free(&w);
    up_share_free(&sh);
}

static void test_failures(void)
{
    const char *const ids[] = {"a", "b"};
    struct up_share sh;
    struct up_worker w;
    char err[256] = "";

    put_polls("mem:worker");
    /* A zone the tz database does not list fails the rank with the name in the message. */
    share_of(&sh, ids, 2, "Mars/Olympus_Mons");
    CU_ASSERT_EQUAL(up_worker_run(&w, &sh, "mem:worker", NULL, now_us(), 1, err, sizeof err),
                    UP_ETZDB);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "Mars/Olympus_Mons"));
    up_worker_free(&w);
    up_share_free(&sh);

    /* A tz database folder that does not exist fails even a rank without stores. */
    share_of(&sh, ids, 0, "UTC");
    CU_ASSERT_EQUAL(
        up_worker_run(&w, &sh, "mem:worker", "/nonexistent/zoneinfo", now_us(), 1, err, sizeof err),
        UP_ETZDB);
    up_worker_free(&w);
    up_share_free(&sh);

    /* A source that does not open is the store's error. */
    share_of(&sh, ids, 2, "UTC");
    CU_ASSERT_EQUAL(up_worker_run(&w, &sh, "mem:nosuch", NULL, now_us(), 1, err, sizeof err),
                    UP_EDB);
    up_worker_free(&w);
    up_share_free(&sh);
}

int test_worker_add(void)
{
    CU_pSuite s = CU_add_suite("worker", NULL, NULL);
    if (!s || !CU_add_test(s, "compute a share over a source", test_compute_share) ||
        !CU_add_test(s, "failures of a rank", test_failures))
        return CU_get_error();
    return CUE_SUCCESS;
}
