/* The unit test suites, one per module; each file test_<module>.c defines its adder. */
#ifndef TEST_LIST_H
#define TEST_LIST_H

#include <CUnit/CUnit.h>

/* Each adds one CUnit suite named after its module; returns 0 or a CUnit error. */
int test_buf_add(void);
int test_idtab_add(void);
int test_err_add(void);
int test_deadline_add(void);
int test_csvout_add(void);
int test_clock_add(void);
int test_time_add(void);
int test_tz_add(void);
int test_hours_add(void);
int test_uptime_add(void);
int test_csvin_add(void);
int test_rows_add(void);
int test_store_add(void);
int test_store_mem_add(void);
#ifdef UPTIME_WITH_POSTGRESQL
int test_store_pg_add(void);
#define UP_TEST_PG(X) X(store_pg)
#else
#define UP_TEST_PG(X) /* built without PostgreSQL: no suite */
#endif
int test_load_add(void);
int test_report_add(void);
int test_plan_add(void);
int test_worker_add(void);
int test_source_add(void);
int test_status_add(void);
int test_serve_add(void);

#define UP_TEST_LIST(X)                                                                        \
    X(buf) X(idtab) X(err) X(deadline) X(csvout) X(clock) X(time) X(tz) X(hours) X(uptime) X(csvin) X(rows) X(store) X(store_mem) UP_TEST_PG(X) X(load) X(report) X(plan) X(worker) X(source) X(status) X(serve)

#endif
