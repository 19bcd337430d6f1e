/* up_idtab: store ids interned for a load (indexes in order of first appearance, stable
 * copies, the caps). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "up_idtab.h"
#include "up_strpool.h"

static void test_indexes_in_first_order(void)
{
    struct up_idtab t;
    uint32_t i = 99;
    /* Ids a byte apart, a prefix of another, an empty one, bytes >= 0x80. */
    const char *ids[] = {"b", "a", "ab", "", "\xc3\xa9", "a\"b,c"};
    size_t k;

    up_idtab_init(&t, 100, 1000);
    CU_ASSERT_EQUAL(UP_IDTAB_N(&t), 0);
    for (k = 0; k < 6; k++) {
        CU_ASSERT_EQUAL(up_idtab_intern(&t, ids[k], &i), 1);
        CU_ASSERT_EQUAL(i, k);
    }
    /* Known ids keep their index, in any order. */
    for (k = 6; k-- > 0;) {
        CU_ASSERT_EQUAL(up_idtab_intern(&t, ids[k], &i), 0);
        CU_ASSERT_EQUAL(i, k);
    }
    CU_ASSERT_EQUAL(UP_IDTAB_N(&t), 6);
    for (k = 0; k < 6; k++) {
        CU_ASSERT_STRING_EQUAL(UP_IDTAB_AT(&t, k)->id, ids[k]);
        CU_ASSERT_EQUAL(UP_IDTAB_AT(&t, k)->len, strlen(ids[k]));
        CU_ASSERT_PTR_NOT_EQUAL(UP_IDTAB_AT(&t, k)->id, ids[k]); /* a copy */
    }
    /* "b" 2, "a" 2, "ab" 3, "" 1, "\xc3\xa9" 3, "a\"b,c" 6: bytes with the NULs. */
    CU_ASSERT_EQUAL(t.bytes, 17);
    up_idtab_free(&t);
    CU_ASSERT_EQUAL(UP_IDTAB_N(&t), 0);
    /* Empty again, and usable. */
    CU_ASSERT_EQUAL(up_idtab_intern(&t, "ab", &i), 1);
    CU_ASSERT_EQUAL(i, 0);
    up_idtab_free(&t);
}

/* 200 000 ids: the table doubles past 3072, 6144, ... and the copies fill several 1 MiB
 * blocks; every copy stays where it was first put. */
static void test_growth_keeps_copies(void)
{
    static const char *first[200000];
    struct up_idtab t;
    char id[64];
    uint32_t i, k;

    up_idtab_init(&t, 1u << 27, SIZE_MAX);
    for (k = 0; k < 200000; k++) {
        snprintf(id, sizeof id, "store-%u-%0*u", k, (int)(k % 20), k);
        CU_ASSERT_EQUAL_FATAL(up_idtab_intern(&t, id, &i), 1);
        CU_ASSERT_EQUAL(i, k);
        first[k] = UP_IDTAB_AT(&t, k)->id;
    }
    CU_ASSERT(t.nslots >= 4 * 200000 / 3);
    for (k = 0; k < 200000; k++) {
        snprintf(id, sizeof id, "store-%u-%0*u", k, (int)(k % 20), k);
        CU_ASSERT_EQUAL_FATAL(up_idtab_intern(&t, id, &i), 0);
        CU_ASSERT_EQUAL(i, k);
        CU_ASSERT_PTR_EQUAL(UP_IDTAB_AT(&t, k)->id, first[k]);
        CU_ASSERT_STRING_EQUAL(first[k], id);
    }
    up_idtab_free(&t);
}

/* Past either cap a new id is refused and the table is as it was; known ids still
 * answer. */
/* The pool under the table (and under a plan's ids): copies that stay where they are as
 * blocks fill, one longer than a block, bytes copied exactly (an embedded prefix only). */
static void test_strpool(void)
{
    struct up_strpool p;
    static char big[(1 << 20) + 100];
    const char *first, *long_one, *last = NULL;
    char id[32];
    int i;

    up_strpool_init(&p);
    first = up_strpool_add(&p, "abc,def", 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    CU_ASSERT_STRING_EQUAL(first, "abc");
    memset(big, 'x', sizeof big - 1);
    long_one = up_strpool_add(&p, big, sizeof big - 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(long_one);
    CU_ASSERT_EQUAL(strlen(long_one), sizeof big - 1);
    for (i = 0; i < 100000; i++) { /* ~1.2 MB: more than one block */
        snprintf(id, sizeof id, "store-%06d", i);
        last = up_strpool_add(&p, id, strlen(id));
        CU_ASSERT_PTR_NOT_NULL_FATAL(last);
    }
    CU_ASSERT_STRING_EQUAL(first, "abc");
    CU_ASSERT_EQUAL(long_one[sizeof big - 2], 'x');
    CU_ASSERT_STRING_EQUAL(last, "store-099999");
    CU_ASSERT_STRING_EQUAL(up_strpool_add(&p, "", 0), "");
    up_strpool_free(&p);
    CU_ASSERT_PTR_NULL(p.blocks);
}

static void test_caps(void)
{
    struct up_idtab t;
    uint32_t i = 7;

    up_idtab_init(&t, 2, 1000);
    CU_ASSERT_EQUAL(up_idtab_intern(&t, "a", &i), 1);
    CU_ASSERT_EQUAL(up_idtab_intern(&t, "b", &i), 1);
    i = 7;
    CU_ASSERT_EQUAL(up_idtab_intern(&t, "c", &i), -1);
    CU_ASSERT_EQUAL(i, 7);
    CU_ASSERT_EQUAL(UP_IDTAB_N(&t), 2);
    CU_ASSERT_EQUAL(up_idtab_intern(&t, "b", &i), 0);
    CU_ASSERT_EQUAL(i, 1);
    up_idtab_free(&t);

    /* 6 bytes, NULs included: "abc" and "d" fill them; then not even "e". */
    up_idtab_init(&t, 100, 6);
    CU_ASSERT_EQUAL(up_idtab_intern(&t, "abc", &i), 1);
    CU_ASSERT_EQUAL(up_idtab_intern(&t, "d", &i), 1);
    CU_ASSERT_EQUAL(t.bytes, 6);
    CU_ASSERT_EQUAL(up_idtab_intern(&t, "e", &i), -1);
    CU_ASSERT_EQUAL(UP_IDTAB_N(&t), 2);
    CU_ASSERT_EQUAL(up_idtab_intern(&t, "abc", &i), 0);
    CU_ASSERT_EQUAL(i, 0);
    up_idtab_free(&t);
}

int test_idtab_add(void)
{
    CU_pSuite s = CU_add_suite("idtab", NULL, NULL);

    if (!s ||
        !CU_add_test(s, "indexes in order of first appearance", test_indexes_in_first_order) ||
        !CU_add_test(s, "the string pool under the table", test_strpool) ||
        !CU_add_test(s, "growth keeps every copy in place", test_growth_keeps_copies) ||
        !CU_add_test(s, "caps on ids and bytes", test_caps))
        return CU_get_error();
    return CUE_SUCCESS;
}
