/* The status file: typed transitions and the fields each writes, merges that keep the
 * other writers' fields, reading, and the report's lock shared with other processes. */
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "test_util.h"
#include "up_status.h"

static json_t *load(const char *dir, const char *id)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.status.json", dir, id);
    return json_load_file(path, 0, NULL);
}

static const char *str(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : "(absent)";
}

static long long num(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The trigger's, the wrapper's and the job's transitions in their order, each keeping the
 * fields of the others. */
static void test_local_lifecycle(void)
{
    const char *dir = tu_tmpdir();
    struct up_status *st = NULL;
    struct up_submit sub = {
        UP_LAUNCHER_LOCAL,         3,          "postgresql://app:SECRET@db/uptime",
        "2023-01-25 18:13:22 UTC", "/r/x.log", "node1"};
    struct up_proc_id w = {4242, "777"}, m = {4243, "778"};
    static const struct up_rank_proc procs[3] = {{4250, "node1"}, {4251, "node1"}, {977, "node2"}};
    struct up_status_start start = {3, 4250, "node1", "host=db password='se cret'", procs, 3};
    struct up_rank_proc p;
    struct up_status_done done = {1, tu_utc(2023, 1, 25, 18, 13, 22), 12, 345};
    char err[256];
    json_t *j;

    CU_ASSERT_EQUAL_FATAL(up_status_open(dir, "r1", &st, err, sizeof err), UP_OK);
    CU_ASSERT_FALSE(up_status_info(st)->exists);
    CU_ASSERT_EQUAL(up_status_submitted(st, &sub, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_status_wrapper(st, &w, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_status_info(st)->state, UP_STATE_RUNNING);
    CU_ASSERT_EQUAL(up_status_info(st)->launcher, UP_LAUNCHER_LOCAL);
    CU_ASSERT_EQUAL(up_status_info(st)->wrapper.pid, 4242);
    up_status_close(st);

    j = load(dir, "r1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(str(j, "report_id"), "r1");
    CU_ASSERT_STRING_EQUAL(str(j, "status"), "Running");
    CU_ASSERT_STRING_EQUAL(str(j, "launcher"), "local");
    CU_ASSERT_EQUAL(num(j, "ranks"), 3);
    CU_ASSERT_STRING_EQUAL(str(j, "source"), "postgresql://app:***@db/uptime");
    CU_ASSERT_STRING_EQUAL(str(j, "now"), "2023-01-25 18:13:22 UTC");
    CU_ASSERT_STRING_EQUAL(str(j, "log"), "/r/x.log");
    CU_ASSERT_STRING_EQUAL(str(j, "host"), "node1");
    CU_ASSERT_EQUAL(strlen(str(j, "submitted")), 24); /* 2023-01-25T18:13:22.123Z */
    CU_ASSERT_TRUE(json_is_null(json_object_get(j, "error")));
    CU_ASSERT_EQUAL(num(j, "wrapper_pid"), 4242);
    CU_ASSERT_STRING_EQUAL(str(j, "wrapper_pid_start"), "777");
    json_decref(j);

    CU_ASSERT_EQUAL_FATAL(up_status_open(dir, "r1", &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_status_launched(st, &m, &w, err, sizeof err), UP_OK);
    up_status_close(st);
    CU_ASSERT_EQUAL(up_status_running(dir, "r1", &start, err, sizeof err), UP_OK);
    /* Every rank's pid and host, for a verdict that names the one that died. */
    CU_ASSERT_EQUAL_FATAL(up_status_open(dir, "r1", &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_status_rank_proc(st, 2, &p), 1);
    CU_ASSERT_EQUAL(p.pid, 977);
    CU_ASSERT_STRING_EQUAL(p.host, "node2");
    CU_ASSERT_EQUAL(up_status_rank_proc(st, 0, &p), 1);
    CU_ASSERT_EQUAL(p.pid, 4250);
    CU_ASSERT_EQUAL(up_status_rank_proc(st, 3, &p), 0);
    CU_ASSERT_EQUAL(up_status_rank_proc(st, -1, &p), 0);
    up_status_close(st);
    CU_ASSERT_EQUAL(up_status_progress(dir, "r1", UP_PHASE_COMPUTING, 10, 12, err, sizeof err),
                    UP_OK);
    CU_ASSERT_EQUAL(up_status_complete(dir, "r1", &done, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_status_open(dir, "r1", &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_status_exit_code(st, 0, err, sizeof err), UP_OK);
    up_status_close(st);

    j = load(dir, "r1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(str(j, "status"), "Complete");
    CU_ASSERT_STRING_EQUAL(str(j, "source"), "host=db password=***");
    CU_ASSERT_STRING_EQUAL(str(j, "launcher"), "local"); /* the trigger's, kept */
    CU_ASSERT_STRING_EQUAL(str(j, "log"), "/r/x.log");
    CU_ASSERT_EQUAL(num(j, "pid"), 4243);
    CU_ASSERT_STRING_EQUAL(str(j, "pid_start"), "778");
    CU_ASSERT_EQUAL(num(j, "rank0_pid"), 4250);
    CU_ASSERT_EQUAL(json_integer_value(json_array_get(json_object_get(j, "rank_pids"), 1)), 4251);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(j, "rank_hosts"), 2)),
                           "node2");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "rank_pids")), 3);
    /* The job's now replaces the trigger's --now as given. */
    CU_ASSERT_STRING_EQUAL(str(j, "now"), "2023-01-25 18:13:22.000000 UTC");
    CU_ASSERT_EQUAL(num(j, "stores"), 12);
    CU_ASSERT_EQUAL(num(j, "polls"), 345);
    CU_ASSERT_EQUAL(num(j, "progress"), 100);
    CU_ASSERT_STRING_EQUAL(str(j, "phase"), "done");
    CU_ASSERT_EQUAL(num(j, "exit_code"), 0);
    CU_ASSERT_EQUAL(strlen(str(j, "finished")), 24);
    json_decref(j);
}

/* A run killed between the CSV's rename and the job's Complete: the verdict from outside
 * records Complete, keeping what the job wrote before. */
static void test_published(void)
{
    const char *dir = tu_tmpdir();
    struct up_status_start start = {2, 4250, "node1", "u.db", NULL, 0};
    struct up_status *st = NULL;
    char err[256];
    json_t *j;

    CU_ASSERT_EQUAL(up_status_running(dir, "p1", &start, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_status_progress(dir, "p1", UP_PHASE_WRITING, 90, 7, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_status_open(dir, "p1", &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_status_published(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_status_info(st)->state, UP_STATE_COMPLETE);
    CU_ASSERT_EQUAL(up_status_exit_code(st, 0, err, sizeof err), UP_OK);
    up_status_close(st);
    j = load(dir, "p1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(str(j, "status"), "Complete");
    CU_ASSERT_TRUE(json_is_null(json_object_get(j, "error")));
    CU_ASSERT_EQUAL(num(j, "progress"), 100);
    CU_ASSERT_STRING_EQUAL(str(j, "phase"), "done");
    CU_ASSERT_EQUAL(num(j, "stores"), 7);
    CU_ASSERT_EQUAL(num(j, "exit_code"), 0);
    CU_ASSERT_EQUAL(strlen(str(j, "finished")), 24);
    CU_ASSERT_PTR_NULL(json_object_get(j, "rank_pids")); /* not given: not written */
    json_decref(j);
}

static void test_slurm_lifecycle(void)
{
    const char *dir = tu_tmpdir();
    struct up_status *st = NULL;
    struct up_submit sub = {UP_LAUNCHER_SLURM, 4, "/data/u.db", NULL, "/r/s.log", "login1"};
    struct up_batch b = {"1234", "node[1-2]", "node1", 4};
    struct up_status_info in;
    char err[256];
    json_t *j;

    CU_ASSERT_EQUAL_FATAL(up_status_open(dir, "s1", &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_status_submitted(st, &sub, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_status_slurm_job(st, "1234", err, sizeof err), UP_OK);
    up_status_close(st);
    j = load(dir, "s1");
    CU_ASSERT_STRING_EQUAL(str(j, "status"), "Pending");
    CU_ASSERT_EQUAL(num(j, "slurm_job_id"), 1234); /* a number, as jq's tonumber gave */
    CU_ASSERT_PTR_NULL(json_object_get(j, "now")); /* not given: absent */
    json_decref(j);

    CU_ASSERT_EQUAL_FATAL(up_status_open(dir, "s1", &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_status_batch_running(st, &b, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_status_fail(st, "Slurm job 1234 FAILED with exit code 3:0", err, sizeof err),
                    UP_OK);
    CU_ASSERT_EQUAL(up_status_exit_code(st, 3, err, sizeof err), UP_OK);
    up_status_close(st);

    CU_ASSERT_EQUAL_FATAL(up_status_read(dir, "s1", &in, err, sizeof err), UP_OK);
    CU_ASSERT_TRUE(in.exists);
    CU_ASSERT_EQUAL(in.state, UP_STATE_FAILED);
    CU_ASSERT_STRING_EQUAL(in.error, "Slurm job 1234 FAILED with exit code 3:0");
    CU_ASSERT_EQUAL(in.launcher, UP_LAUNCHER_SLURM);
    CU_ASSERT_STRING_EQUAL(in.slurm_job_id, "1234");
    CU_ASSERT_STRING_EQUAL(in.host, "login1");
    CU_ASSERT_TRUE(in.has_exit_code);
    CU_ASSERT_EQUAL(in.exit_code, 3);
    j = load(dir, "s1");
    CU_ASSERT_STRING_EQUAL(str(j, "slurm_nodes"), "node[1-2]");
    CU_ASSERT_STRING_EQUAL(str(j, "batch_host"), "node1");
    json_decref(j);

    /* A job id that is no number stays a string. */
    CU_ASSERT_EQUAL_FATAL(up_status_open(dir, "s2", &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_status_slurm_job(st, "77_3", err, sizeof err), UP_OK);
    up_status_close(st);
    j = load(dir, "s2");
    CU_ASSERT_STRING_EQUAL(str(j, "slurm_job_id"), "77_3");
    json_decref(j);
}

/* A field this module does not know (another version's, a site's) survives every write. */
static void test_foreign_fields(void)
{
    const char *dir = tu_tmpdir();
    char path[512], err[256];
    struct up_status_start start = {2, 1, "h", "u.db", NULL, 0};
    FILE *f;
    json_t *j;

    snprintf(path, sizeof path, "%s/f1.status.json", dir);
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("{\"status\": \"Running\", \"site_ticket\": \"OPS-12\", \"pid\": \"99\"}", f);
    fclose(f);
    CU_ASSERT_EQUAL(up_status_running(dir, "f1", &start, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_status_failed(dir, "f1", "boom", err, sizeof err), UP_OK);
    j = load(dir, "f1");
    CU_ASSERT_STRING_EQUAL(str(j, "site_ticket"), "OPS-12");
    CU_ASSERT_STRING_EQUAL(str(j, "error"), "boom");
    CU_ASSERT_STRING_EQUAL(str(j, "status"), "Failed");
    json_decref(j);
    {
        /* The job's own verdict carries the code its ranks exit with; a plain one none. */
        struct up_status_info *in = malloc(sizeof *in);
        CU_ASSERT_PTR_NOT_NULL_FATAL(in);
        CU_ASSERT_EQUAL(up_status_job_failed(dir, "f2", "no tz database", 7, err, sizeof err),
                        UP_OK);
        CU_ASSERT_EQUAL(up_status_read(dir, "f2", in, err, sizeof err), UP_OK);
        CU_ASSERT_EQUAL(in->state, UP_STATE_FAILED);
        CU_ASSERT_EQUAL(in->job_code, 7);
        CU_ASSERT_STRING_EQUAL(in->error, "no tz database");
        CU_ASSERT_EQUAL(up_status_read(dir, "f1", in, err, sizeof err), UP_OK);
        CU_ASSERT_EQUAL(in->job_code, 0);
        free(in);
    }
}

static void test_read(void)
{
    const char *dir = tu_tmpdir();
    struct up_status_info in;
    char err[256];

    CU_ASSERT_EQUAL(up_status_read(dir, "none", &in, err, sizeof err), UP_OK);
    CU_ASSERT_FALSE(in.exists);
    CU_ASSERT_EQUAL(in.state, UP_STATE_NONE);
    tu_write_file(dir, "bad.status.json", "{\"status\": \"Runn");
    CU_ASSERT_EQUAL(up_status_read(dir, "bad", &in, err, sizeof err), UP_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad.status.json"));
    tu_write_file(dir, "odd.status.json", "{\"status\": \"Paused\", \"pid\": \"123\"}");
    CU_ASSERT_EQUAL(up_status_read(dir, "odd", &in, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(in.state, UP_STATE_OTHER);
    CU_ASSERT_STRING_EQUAL(in.status, "Paused");
    CU_ASSERT_EQUAL(in.mpirun.pid, 123); /* older scripts wrote some numbers as strings */
    CU_ASSERT_STRING_EQUAL(up_state_name(UP_STATE_PENDING), "Pending");
    /* A damaged file does not block the writers: the next transition starts afresh. */
    CU_ASSERT_EQUAL(up_status_failed(dir, "bad", "x", err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_status_read(dir, "bad", &in, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(in.state, UP_STATE_FAILED);
    /* A folder that does not exist: a clear I/O error. */
    CU_ASSERT_EQUAL(up_status_failed("/nonexistent/dir", "x", "y", err, sizeof err), UP_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/dir/.x.lock"));
}

/* Another process holds DIR/.ID.lock as flock(1) does for the scripts: a writer waits for
 * it, and gives up with a clear error after the bounded wait. */
static pid_t hold_lock(const char *dir, const char *id, int ms, int then_unlink)
{
    char path[512];
    int ready[2];
    pid_t pid;
    char c;

    snprintf(path, sizeof path, "%s/.%s.lock", dir, id);
    if (pipe(ready) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0666);
        if (fd < 0 || flock(fd, LOCK_EX) != 0)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        nanosleep(&t, NULL);
        if (then_unlink)
            unlink(path); /* as up_status does before it releases the lock */
        _exit(0);
    }
    close(ready[1]);
    if (pid < 0 || read(ready[0], &c, 1) != 1) {
        close(ready[0]);
        return -1;
    }
    close(ready[0]);
    return pid;
}

static void test_lock(void)
{
    const char *dir = tu_tmpdir();
    struct up_status_info in;
    struct timespec t0;
    char err[256], path[512];
    pid_t holder;
    int wstatus;

    /* Held for 300 ms: the job's transition waits, then writes. */
    holder = hold_lock(dir, "l1", 300, 0);
    CU_ASSERT_TRUE_FATAL(holder > 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CU_ASSERT_EQUAL(up_status_failed(dir, "l1", "after the lock", err, sizeof err), UP_OK);
    CU_ASSERT_TRUE(ms_since(&t0) >= 250);
    waitpid(holder, &wstatus, 0);
    CU_ASSERT_EQUAL(up_status_read(dir, "l1", &in, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(in.error, "after the lock");

    /* Held longer than the wait: UP_EIO naming the lock, the file untouched. */
    up_status_set_lock_wait(200);
    holder = hold_lock(dir, "l1", 2000, 0);
    CU_ASSERT_TRUE_FATAL(holder > 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CU_ASSERT_EQUAL(up_status_failed(dir, "l1", "too early", err, sizeof err), UP_EIO);
    CU_ASSERT_TRUE(ms_since(&t0) < 1500);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, ".l1.lock"));
    kill(holder, SIGKILL);
    waitpid(holder, &wstatus, 0);
    up_status_set_lock_wait(UP_STATUS_LOCK_WAIT_MS);
    CU_ASSERT_EQUAL(up_status_read(dir, "l1", &in, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(in.error, "after the lock");

    /* The lock dies with its holder: a writer after a killed one gets it at once. */
    CU_ASSERT_EQUAL(up_status_failed(dir, "l1", "after the kill", err, sizeof err), UP_OK);

    /* A holder that removes the file before releasing (as every up_status writer does):
     * the waiter, which had opened the old file, locks the new one and writes. */
    holder = hold_lock(dir, "l2", 300, 1);
    CU_ASSERT_TRUE_FATAL(holder > 0);
    CU_ASSERT_EQUAL(up_status_failed(dir, "l2", "after the unlink", err, sizeof err), UP_OK);
    waitpid(holder, &wstatus, 0);
    CU_ASSERT_EQUAL(up_status_read(dir, "l2", &in, err, sizeof err), UP_OK);
    CU_ASSERT_STRING_EQUAL(in.error, "after the unlink");
    /* No lock file is left behind. */
    snprintf(path, sizeof path, "%s/.l1.lock", dir);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/.l2.lock", dir);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
}

/* The answers, byte for byte as docs/lifecycle.md gives them. */
static void test_answers(void)
{
    char buf[256];

    CU_ASSERT_EQUAL(up_status_json_report_id("nightly_1", buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "{\"report_id\": \"nightly_1\"}");
    CU_ASSERT_EQUAL(up_status_json_answer(UP_STATE_RUNNING, NULL, buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "{\"status\": \"Running\"}");
    CU_ASSERT_EQUAL(up_status_json_answer(UP_STATE_PENDING, "ignored", buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "{\"status\": \"Pending\"}");
    CU_ASSERT_EQUAL(
        up_status_json_answer(UP_STATE_FAILED, "say \"no\"\\\n\x01 caf\xc3\xa9", buf, sizeof buf),
        0);
    CU_ASSERT_STRING_EQUAL(
        buf, "{\"status\": \"Failed\", \"error\": \"say \\\"no\\\"\\\\\\n\\u0001 caf\xc3\xa9\"}");
    CU_ASSERT_EQUAL(up_status_json_answer(UP_STATE_FAILED, "x", buf, 20), -1);
}

int test_status_add(void)
{
    CU_pSuite s = CU_add_suite("status", NULL, NULL);

    if (!s || !CU_add_test(s, "local lifecycle transitions", test_local_lifecycle) ||
        !CU_add_test(s, "Slurm lifecycle transitions", test_slurm_lifecycle) ||
        !CU_add_test(s, "published before Complete", test_published) ||
        !CU_add_test(s, "merge keeps foreign fields", test_foreign_fields) ||
        !CU_add_test(s, "reading", test_read) || !CU_add_test(s, "answers", test_answers) ||
        !CU_add_test(s, "lock shared with other processes", test_lock))
        return CU_get_error();
    return CUE_SUCCESS;
}
