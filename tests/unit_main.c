/* Runs the CUnit suites: all of them, or the ones named on the command line. */
#include <stdio.h>
#include <string.h>
#include <CUnit/Basic.h>
#include "test_list.h"
#include "up_store_mem.h"

struct suite_entry {
    const char *name;
    int (*add)(void);
};

#define UP_TEST_ENTRY(n) {#n, test_##n##_add},
static const struct suite_entry suites[] = {UP_TEST_LIST(UP_TEST_ENTRY)};

int main(int argc, char **argv)
{
    size_t i;
    int j;
    unsigned failures;

    /* The in-memory backend is the tests' own: the programs do not contain it. */
    if (up_store_register_backend(&up_store_mem_ops) != UP_OK) {
        fprintf(stderr, "cannot register the in-memory storage backend\n");
        return 2;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    for (i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        int wanted = argc < 2;
        for (j = 1; j < argc; j++)
            if (strcmp(argv[j], suites[i].name) == 0)
                wanted = 1;
        if (wanted && suites[i].add() != CUE_SUCCESS) {
            fprintf(stderr, "cannot add suite %s: %s\n", suites[i].name, CU_get_error_msg());
            CU_cleanup_registry();
            return 2;
        }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    /* CU_basic_run_tests returns success even when tests fail: count them. */
    failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
