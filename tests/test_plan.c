/*
 * Rank 0's plan without MPI: the balance of weighted stores into contiguous ranges, the
 * wire format of a rank's share (packed field by field, unpacked back), and the plan read
 * from a source (now, store order, hours and zones merged on, orphans counted).
 */
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "test_util.h"
#include "up_job_int.h"
#include "up_store.h"

/* A plan of n stores "s0".."s(n-1)" with the given weights, no hours, default zone. */
static void plan_of(struct up_plan *p, const int64_t *w, size_t n)
{
    size_t i;

    up_plan_init(p);
    for (i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "s%zu", i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(up_plan_push_store(p, id, w[i]));
    }
}

static void expect_cuts(const int64_t *w, size_t n, int size, const size_t *want)
{
    struct up_plan p;
    size_t cut[8];
    int r;

    plan_of(&p, w, n);
    up_plan_balance(&p, size, cut);
    for (r = 0; r <= size; r++)
        CU_ASSERT_EQUAL(cut[r], want[r]);
    up_plan_free(&p);
}

static void test_balance(void)
{
    /* Total 10, two ranks: rank 1 starts past weight 5, so the heavy store is alone. */
    const int64_t heavy[] = {5, 1, 1, 1, 1, 1};
    const size_t two[] = {0, 1, 6};
    /* Three ranks: targets 3 and 6; nothing fits under 3, so rank 0 gets no store, rank 1
     * takes stores 0-1 (weight 6) and rank 2 the rest. */
    const size_t three[] = {0, 0, 2, 6};
    /* Even weights split evenly. */
    const int64_t even[] = {2, 2, 2, 2};
    const size_t even2[] = {0, 2, 4};
    const size_t even4[] = {0, 1, 2, 3, 4};
    /* More ranks than stores: some ranks get none; the ranges still cover every store. */
    const int64_t pair[] = {1, 1};
    const size_t pair4[] = {0, 0, 1, 1, 2};
    const size_t one[] = {0, 6};

    expect_cuts(heavy, 6, 2, two);
    expect_cuts(heavy, 6, 3, three);
    expect_cuts(heavy, 6, 1, one);
    expect_cuts(even, 4, 2, even2);
    expect_cuts(even, 4, 4, even4);
    expect_cuts(pair, 2, 4, pair4);
    expect_cuts(NULL, 0, 3, (const size_t[]){0, 0, 0, 0});
}

/* A plan handed over as a share: every entry rewritten in the same memory (the first
 * three overlap their old selves), ids, zones and rows kept, the plan left empty. */
static void test_adopt(void)
{
    const struct up_hours_row rows[] = {{2, 8 * UP_USEC_PER_HOUR, 12 * UP_USEC_PER_HOUR}};
    struct up_plan p;
    struct up_share sh;
    char err[256], id[16];
    char **z;
    size_t i, n = 1000;

    up_plan_init(&p);
    z = up_buf_push(&p.zones);
    CU_ASSERT_PTR_NOT_NULL_FATAL(z);
    *z = strdup("Pacific/Chatham");
    CU_ASSERT_EQUAL_FATAL(up_buf_append(&p.hours, rows, 1), 0);
    for (i = 0; i < n; i++) {
        struct up_plan_store *st;
        snprintf(id, sizeof id, "s%04zu", i);
        st = up_plan_push_store(&p, id, (int64_t)i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(st);
        if (i % 3 == 1) {
            st->zone = 0;
            st->hours_off = 0;
            st->nhours = 1;
        }
    }
    CU_ASSERT_EQUAL_FATAL(up_share_adopt(&sh, &p, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(UP_PLAN_N(&p), 0);
    CU_ASSERT_EQUAL(p.zones.n, 0);
    CU_ASSERT_EQUAL_FATAL(UP_SHARE_N(&sh), n);
    for (i = 0; i < n; i++) {
        const struct up_share_store *st = UP_SHARE_STORE(&sh, i);
        snprintf(id, sizeof id, "s%04zu", i);
        CU_ASSERT_STRING_EQUAL(st->id, id);
        CU_ASSERT_EQUAL(st->zone_index, i % 3 == 1 ? 0 : -1);
        CU_ASSERT_EQUAL(st->nhours, i % 3 == 1 ? 1u : 0u);
        CU_ASSERT_EQUAL(st->hours_off, 0);
        CU_ASSERT_STRING_EQUAL(up_share_zone(&sh, st),
                               i % 3 == 1 ? "Pacific/Chatham" : UP_DEFAULT_ZONE);
    }
    CU_ASSERT_EQUAL(UP_BUF_AT(&sh.hours, struct up_hours_row, 0)->start_us, 8 * UP_USEC_PER_HOUR);
    up_share_free(&sh);
    up_plan_free(&p);
}

static void put(const char *db)
{
    const struct up_hours_row mon = {0, 9 * UP_USEC_PER_HOUR, 17 * UP_USEC_PER_HOUR};
    const struct up_hours_row tue = {1, 9 * UP_USEC_PER_HOUR, 17 * UP_USEC_PER_HOUR};
    struct up_store *st = NULL;
    char err[256];

    CU_ASSERT_EQUAL_FATAL(up_store_open(db, UP_STORE_WRITE, &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "b", tu_utc(2023, 1, 20, 10, 0, 0), 1, err, 256),
                    UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "b", tu_utc(2023, 1, 20, 11, 0, 0), 0, err, 256),
                    UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", tu_utc(2023, 1, 21, 12, 0, 0), 1, err, 256),
                    UP_OK);
    /* A store whose only poll is after --now is not reported. */
    CU_ASSERT_EQUAL(up_store_put_status(st, "c", tu_utc(2023, 1, 25, 0, 0, 0), 1, err, 256), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "a", &mon, err, 256), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "a", &tue, err, 256), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "orphan", &mon, err, 256), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_timezone(st, "b", "Asia/Kolkata", err, 256), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_timezone(st, "orphan", "UTC", err, 256), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_timezone(st, "zoneonly", "UTC", err, 256), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
    up_store_close(st);
}

static void test_plan_read(void)
{
    struct up_plan p;
    char err[256];

    put("mem:plan");
    up_plan_init(&p);
    /* now = the latest poll when none is given. */
    CU_ASSERT_EQUAL_FATAL(up_plan_read(&p, "mem:plan", 0, 0, err, sizeof err), UP_OK);
    CU_ASSERT_TRUE(p.has_now);
    CU_ASSERT_EQUAL(p.now, tu_utc(2023, 1, 25, 0, 0, 0));
    CU_ASSERT_EQUAL(UP_PLAN_N(&p), 3);
    up_plan_free(&p);

    up_plan_init(&p);
    CU_ASSERT_EQUAL_FATAL(
        up_plan_read(&p, "mem:plan", 1, tu_utc(2023, 1, 22, 0, 0, 0), err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(p.now, tu_utc(2023, 1, 22, 0, 0, 0));
    CU_ASSERT_EQUAL_FATAL(UP_PLAN_N(&p), 2);
    CU_ASSERT_STRING_EQUAL(UP_PLAN_STORE(&p, 0)->id, "a");
    CU_ASSERT_STRING_EQUAL(UP_PLAN_STORE(&p, 1)->id, "b");
    CU_ASSERT_EQUAL(UP_PLAN_STORE(&p, 0)->nhours, 2);
    CU_ASSERT_EQUAL(UP_PLAN_STORE(&p, 0)->zone, -1);
    CU_ASSERT_EQUAL(UP_PLAN_STORE(&p, 1)->nhours, 0);
    CU_ASSERT_EQUAL_FATAL(UP_PLAN_STORE(&p, 1)->zone, 0);
    CU_ASSERT_STRING_EQUAL(*UP_BUF_AT(&p.zones, char *, 0), "Asia/Kolkata");
    CU_ASSERT_EQUAL(UP_BUF_AT(&p.hours, struct up_hours_row, 1)->day, 1);
    /* "orphan" has hours and a zone, "zoneonly" a zone: two stores, each counted once. */
    CU_ASSERT_EQUAL(p.orphans, 2);
    CU_ASSERT_EQUAL(p.total_weight, UP_PLAN_STORE(&p, 0)->weight + UP_PLAN_STORE(&p, 1)->weight);
    up_plan_free(&p);

    /* A source that does not open is the store's error, with its message. */
    up_plan_init(&p);
    CU_ASSERT_EQUAL(up_plan_read(&p, "mem:nosuchdata", 0, 0, err, sizeof err), UP_EDB);
    CU_ASSERT_NOT_EQUAL(err[0], '\0');
    up_plan_free(&p);
}

/*
 * The builder keeps each distinct set of hours rows once per rank: a store whose rows
 * equal an earlier store's (same rows, same count) points at them; any difference (a
 * row, a prefix of the set) keeps its own. Rows come as the streamed scatter sends them:
 * one by one and in bulk.
 */
static void test_builder_shares_hours(void)
{
    const struct up_hours_row a[2] = {{1, 9 * 3600000000LL, 17 * 3600000000LL},
                                      {2, 9 * 3600000000LL, 17 * 3600000000LL}};
    const struct up_hours_row b[2] = {{1, 9 * 3600000000LL, 17 * 3600000000LL},
                                      {2, 9 * 3600000000LL, 18 * 3600000000LL}};
    struct up_plan p;
    struct up_plan_builder *bl;
    const struct up_hours_row *rows;
    const char *ids[] = {"a", "b", "c", "d", "e", "f"};
    size_t i;

    up_plan_init(&p);
    bl = up_plan_builder_new(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bl);
    for (i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(up_plan_builder_store(bl, ids[i], 1), 0);
    up_plan_builder_rewind(bl);
    CU_ASSERT_EQUAL(up_plan_builder_hours_of(bl, "a", a, 2), 0); /* new: rows 0-1 */
    CU_ASSERT_EQUAL(up_plan_builder_hours(bl, "b", &a[0]), 0);   /* a's, row by row */
    CU_ASSERT_EQUAL(up_plan_builder_hours(bl, "b", &a[1]), 0);
    CU_ASSERT_EQUAL(up_plan_builder_hours_of(bl, "c", b, 2), 0); /* one end differs */
    CU_ASSERT_EQUAL(up_plan_builder_hours_of(bl, "d", a, 1), 0); /* a prefix of a's */
    CU_ASSERT_EQUAL(up_plan_builder_hours_of(bl, "e", b, 2), 0); /* c's */
    /* f: no rows */
    up_plan_builder_rewind(bl);
    CU_ASSERT_EQUAL(up_plan_builder_zone(bl, "a", "Asia/Kolkata"), 0);
    up_plan_builder_free(bl);
    CU_ASSERT_EQUAL(p.hours.n, 5); /* a's two, c's two, d's one */
    rows = p.hours.p;
    CU_ASSERT_EQUAL(UP_PLAN_STORE(&p, 1)->hours_off, UP_PLAN_STORE(&p, 0)->hours_off);
    CU_ASSERT_EQUAL(UP_PLAN_STORE(&p, 1)->nhours, 2);
    CU_ASSERT_EQUAL(UP_PLAN_STORE(&p, 4)->hours_off, UP_PLAN_STORE(&p, 2)->hours_off);
    CU_ASSERT_NOT_EQUAL(UP_PLAN_STORE(&p, 2)->hours_off, UP_PLAN_STORE(&p, 0)->hours_off);
    CU_ASSERT_NOT_EQUAL(UP_PLAN_STORE(&p, 3)->hours_off, UP_PLAN_STORE(&p, 0)->hours_off);
    CU_ASSERT_EQUAL(UP_PLAN_STORE(&p, 3)->nhours, 1);
    CU_ASSERT_EQUAL(UP_PLAN_STORE(&p, 5)->nhours, 0);
    for (i = 0; i < 5; i++) {
        const struct up_plan_store *st = UP_PLAN_STORE(&p, i);
        const struct up_hours_row *want = i == 2 || i == 4 ? b : a;
        size_t k;
        for (k = 0; k < st->nhours; k++) {
            CU_ASSERT_EQUAL(rows[st->hours_off + k].day, want[k].day);
            CU_ASSERT_EQUAL(rows[st->hours_off + k].start_us, want[k].start_us);
            CU_ASSERT_EQUAL(rows[st->hours_off + k].end_us, want[k].end_us);
        }
    }
    CU_ASSERT_EQUAL(UP_PLAN_STORE(&p, 0)->zone, 0);
    up_plan_free(&p);
}

int test_plan_add(void)
{
    CU_pSuite s = CU_add_suite("plan", NULL, NULL);
    if (!s || !CU_add_test(s, "balance into contiguous ranges", test_balance) ||
        !CU_add_test(s, "a plan adopted as a share, in place", test_adopt) ||
        !CU_add_test(s, "read the plan from a source", test_plan_read) ||
        !CU_add_test(s, "the builder keeps each set of hours rows once", test_builder_shares_hours))
        return CU_get_error();
    return CUE_SUCCESS;
}
