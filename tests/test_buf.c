/* up_buf: the capped growable array (growth, the cap, hand-over, free). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "up_buf.h"

static void test_push_and_grow(void)
{
    struct up_buf b;
    size_t i;

    up_buf_init(&b, sizeof(int64_t), 1000);
    CU_ASSERT_PTR_NULL(b.p);
    CU_ASSERT_EQUAL(b.n, 0);
    for (i = 0; i < 1000; i++) {
        int64_t *v = up_buf_push(&b);
        CU_ASSERT_PTR_NOT_NULL_FATAL(v);
        CU_ASSERT_EQUAL(*v, 0); /* a pushed item starts zeroed */
        *v = (int64_t)i * 3;
    }
    CU_ASSERT_EQUAL(b.n, 1000);
    /* Doubling from 64 is clamped to the cap: never more room than max items. */
    CU_ASSERT_EQUAL(b.cap, 1000);
    for (i = 0; i < 1000; i++)
        CU_ASSERT_EQUAL(*UP_BUF_AT(&b, int64_t, i), (int64_t)i * 3);
    up_buf_free(&b);
    CU_ASSERT_PTR_NULL(b.p);
    CU_ASSERT_EQUAL(b.n, 0);
    CU_ASSERT_EQUAL(b.cap, 0);
    CU_ASSERT_EQUAL(b.elem, sizeof(int64_t)); /* free keeps elem and max for reuse */
    CU_ASSERT_EQUAL(b.max, 1000);
}

static void test_cap(void)
{
    struct up_buf b;
    const char abc[] = "abc";
    void *before;

    up_buf_init(&b, 1, 5);
    CU_ASSERT_EQUAL(up_buf_append(&b, abc, 3), 0);
    before = b.p;
    /* 3 + 3 > 5: refused, and the buffer is as it was. */
    CU_ASSERT_EQUAL(up_buf_append(&b, abc, 3), -1);
    CU_ASSERT_EQUAL(b.n, 3);
    CU_ASSERT_PTR_EQUAL(b.p, before);
    CU_ASSERT_EQUAL(memcmp(b.p, "abc", 3), 0);
    /* Exactly up to the cap is fine; one more is not. */
    CU_ASSERT_EQUAL(up_buf_append(&b, "de", 2), 0);
    CU_ASSERT_EQUAL(b.n, 5);
    CU_ASSERT_EQUAL(memcmp(b.p, "abcde", 5), 0);
    CU_ASSERT_PTR_NULL(up_buf_push(&b));
    CU_ASSERT_EQUAL(up_buf_reserve(&b, 1), -1);
    CU_ASSERT_EQUAL(up_buf_reserve(&b, 0), 0);
    CU_ASSERT_EQUAL(up_buf_append(&b, abc, 0), 0); /* nothing to add is never refused */
    CU_ASSERT_EQUAL(b.n, 5);
    /* An extra larger than the cap, or one that would wrap n + extra, is refused. */
    CU_ASSERT_EQUAL(up_buf_reserve(&b, SIZE_MAX), -1);
    up_buf_free(&b);

    /* A cap of zero items holds nothing. */
    up_buf_init(&b, 8, 0);
    CU_ASSERT_PTR_NULL(up_buf_push(&b));
    CU_ASSERT_PTR_NULL(b.p);
    up_buf_free(&b);

    /* Items so big that cap * elem would overflow size_t: refused, not wrapped. */
    up_buf_init(&b, SIZE_MAX / 16, 1000);
    CU_ASSERT_EQUAL(up_buf_reserve(&b, 100), -1);
    CU_ASSERT_PTR_NULL(b.p);
    up_buf_free(&b);
}

static void test_take(void)
{
    struct up_buf b;
    int *v;

    up_buf_init(&b, sizeof(int), 10);
    CU_ASSERT_PTR_NULL(up_buf_take(&b)); /* nothing yet */
    *(int *)up_buf_push(&b) = 7;
    *(int *)up_buf_push(&b) = 8;
    v = up_buf_take(&b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(v[0], 7);
    CU_ASSERT_EQUAL(v[1], 8);
    CU_ASSERT_PTR_NULL(b.p);
    CU_ASSERT_EQUAL(b.n, 0);
    free(v);
    /* The emptied buffer is usable again. */
    CU_ASSERT_PTR_NOT_NULL(up_buf_push(&b));
    CU_ASSERT_EQUAL(b.n, 1);
    up_buf_free(&b);
    up_buf_free(NULL);
}

int test_buf_add(void)
{
    CU_pSuite s = CU_add_suite("buf", NULL, NULL);

    if (!s || !CU_add_test(s, "push and grow", test_push_and_grow) ||
        !CU_add_test(s, "cap (toobig)", test_cap) || !CU_add_test(s, "take", test_take))
        return CU_get_error();
    return CUE_SUCCESS;
}
