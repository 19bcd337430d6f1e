/* uptime_load's work end to end on small files: counts, rejects, atomicity, idempotence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "test_util.h"
#include "up_load.h"
#include "up_rows.h"
#include "up_store.h"
#include "up_time.h"

static const char *const tz_ok = "store_id,timezone_str\n";
static const char *const hours_ok = "store_id,dayOfWeek,start_time_local,end_time_local\n";

struct files {
    const char *dir;
    char status[512], hours[512], tz[512], rejects[512], db[512];
};

static void write_set(struct files *f, const char *status, const char *hours, const char *tz)
{
    f->dir = tu_tmpdir();
    snprintf(f->status, sizeof f->status, "%s", tu_write_file(f->dir, "store_status.csv", status));
    snprintf(f->hours, sizeof f->hours, "%s", tu_write_file(f->dir, "menu_hours.csv", hours));
    snprintf(f->tz, sizeof f->tz, "%s", tu_write_file(f->dir, "timezones.csv", tz));
    snprintf(f->rejects, sizeof f->rejects, "%s/rejects.csv", f->dir);
    snprintf(f->db, sizeof f->db, "%s/u.db", f->dir);
}

static enum up_code load(struct files *f, struct up_load_stats *stats, char *err, size_t errlen)
{
    struct up_load_opts o;
    memset(&o, 0, sizeof o);
    o.path[UP_FILE_STATUS] = f->status;
    o.path[UP_FILE_HOURS] = f->hours;
    o.path[UP_FILE_TZ] = f->tz;
    o.rejects_path = f->rejects;
    return up_load_run(f->db, &o, stats, err, errlen);
}

/* Reads the rejects file's line-number column (2nd) into a "4,5,6" string. */
static void reject_lines(const char *path, char *out, size_t n)
{
    FILE *fp = fopen(path, "r");
    char line[1024];
    size_t pos = 0;
    int first = 1;

    out[0] = '\0';
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    while (fgets(line, sizeof line, fp)) {
        char *c1 = strchr(line, ','), *c2;
        if (first) {
            CU_ASSERT_STRING_EQUAL(line, "file,line,reason,detail,value\n");
            first = 0;
            continue;
        }
        if (!c1 || !(c2 = strchr(c1 + 1, ',')))
            continue;
        pos += (size_t)snprintf(out + pos, n - pos, "%s%.*s", pos ? "," : "", (int)(c2 - c1 - 1),
                                c1 + 1);
    }
    fclose(fp);
}

#define SLOT(r) (5 + (int)(r)) /* row-level reasons follow the 5 CSV-level ones */

static void test_rejected_rows_and_line_numbers(void)
{
    struct files f;
    struct up_load_stats st;
    char err[512], lines[256];

    write_set(&f,
              "store_id,status,timestamp_utc\n"       /* 1 */
              "s1,active,2023-01-25 10:00:00 UTC\n"   /* 2 ok */
              "s1,ACTIVE,2023-01-25 11:00:00.5 UTC\n" /* 3 ok */
              "s2,unknown,2023-01-25 10:00:00 UTC\n"  /* 4 status */
              "s3,active,2023-02-30 10:00:00 UTC\n"   /* 5 timestamp */
              ",active,2023-01-25 10:00:00 UTC\n"     /* 6 store_id */
              "s4,active\n"                           /* 7 field count */
              "\n"                                    /* 8 skipped */
              "s5,bogus,2023-13-01 00:00:00 UTC\n"    /* 9 status before timestamp */
              "s6,inactive,2023-01-25T10:00:00Z\n",   /* 10 ok */
              hours_ok, tz_ok);
    CU_ASSERT_EQUAL_FATAL(load(&f, &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(st.file[UP_FILE_STATUS].rows, 8);
    CU_ASSERT_EQUAL(st.file[UP_FILE_STATUS].loaded, 3);
    CU_ASSERT_EQUAL(st.file[UP_FILE_STATUS].rejected, 5);
    CU_ASSERT_EQUAL(st.file[UP_FILE_STATUS].by_reason[SLOT(UP_ROW_STATUS)], 2);
    CU_ASSERT_EQUAL(st.file[UP_FILE_STATUS].by_reason[SLOT(UP_ROW_TIMESTAMP)], 1);
    CU_ASSERT_EQUAL(st.file[UP_FILE_STATUS].by_reason[SLOT(UP_ROW_STORE_ID)], 1);
    reject_lines(f.rejects, lines, sizeof lines);
    CU_ASSERT_STRING_EQUAL(lines, "4,5,6,7,9");
}

static void test_columns_checked_left_to_right(void)
{
    struct files f;
    struct up_load_stats st;
    char err[512];

    /* timestamp_utc comes first in this header, so it is the reported reason. */
    write_set(&f,
              "timestamp_utc,extra,store_id,status\n"
              "2023-13-01 00:00:00 UTC,x,s1,bogus\n"
              "2023-01-25 10:00:00 UTC,y,s1,Inactive\n",
              "end_time_local,store_id,start_time_local,day\n"
              "25:00,h1,09:00,9\n"
              "17:00,h1,09:00,3\n",
              tz_ok);
    CU_ASSERT_EQUAL_FATAL(load(&f, &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(st.file[UP_FILE_STATUS].by_reason[SLOT(UP_ROW_TIMESTAMP)], 1);
    CU_ASSERT_EQUAL(st.file[UP_FILE_STATUS].loaded, 1);
    CU_ASSERT_EQUAL(st.file[UP_FILE_HOURS].by_reason[SLOT(UP_ROW_END)], 1);
    CU_ASSERT_EQUAL(st.file[UP_FILE_HOURS].loaded, 1);
}

static void test_timezone_rules(void)
{
    struct files f;
    struct up_load_stats st;
    char err[512], lines[256];

    write_set(&f, "store_id,status,timestamp_utc\n", hours_ok,
              "store_id,timezone_str\n"
              "a,America/Denver\n"    /* 2 first valid wins */
              "a,America/Denver\n"    /* 3 identical repeat is fine */
              "a,Asia/Tokyo\n"        /* 4 conflicting timezone */
              "b,Mars/Olympus\n"      /* 5 unknown */
              "b,UTC\n"               /* 6 b's first valid row */
              "c,US/Central\n"        /* 7 a Link name */
              "d,posix/UTC\n"         /* 8 not a Zone or Link name */
              "e,america/chicago\n"); /* 9 case-sensitive */
    CU_ASSERT_EQUAL_FATAL(load(&f, &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(st.file[UP_FILE_TZ].rows, 8);
    CU_ASSERT_EQUAL(st.file[UP_FILE_TZ].loaded, 4);
    CU_ASSERT_EQUAL(st.file[UP_FILE_TZ].by_reason[SLOT(UP_ROW_TZ_CONFLICT)], 1);
    CU_ASSERT_EQUAL(st.file[UP_FILE_TZ].by_reason[SLOT(UP_ROW_TIMEZONE)], 3);
    CU_ASSERT_EQUAL(st.tz_stores, 3);
    reject_lines(f.rejects, lines, sizeof lines);
    CU_ASSERT_STRING_EQUAL(lines, "4,5,8,9");
}

static void test_hours_all_rejected_counted(void)
{
    struct files f;
    struct up_load_stats st;
    char err[512];

    write_set(&f, "store_id,status,timestamp_utc\n",
              "store_id,day,start_time_local,end_time_local\n"
              "h1,Mon,09:00,17:00\n" /* all of h1's rows are bad: 24x7 */
              "h1,03,09:00,17:00\n"
              "h2,1,9:00,17:00\n" /* h2 has one bad and one good row */
              "h2,1,09:00,17:00\n",
              tz_ok);
    CU_ASSERT_EQUAL_FATAL(load(&f, &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(st.hours_stores, 1);
    CU_ASSERT_EQUAL(st.hours_all_rejected, 1);
    CU_ASSERT_EQUAL(st.file[UP_FILE_HOURS].by_reason[SLOT(UP_ROW_DAY)], 2);
    CU_ASSERT_EQUAL(st.file[UP_FILE_HOURS].by_reason[SLOT(UP_ROW_START)], 1);
}

/* Writes n bytes (NUL bytes and all) to path. */
static void write_bytes(const char *path, const char *bytes, size_t n)
{
    FILE *fp = fopen(path, "wb");

    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    CU_ASSERT_EQUAL(fwrite(bytes, 1, n, fp), n);
    fclose(fp);
}

/* Reads path whole into out[n] (NUL-terminated); returns its length. */
static size_t read_all(const char *path, char *out, size_t n)
{
    FILE *fp = fopen(path, "rb");
    size_t len;

    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    len = fread(out, 1, n - 1, fp);
    out[len] = '\0';
    fclose(fp);
    return len;
}

/*
 * Values with control bytes, C1 controls, invalid UTF-8, NUL bytes and backslashes reach the
 * rejects file escaped as \xNN, whole (past a NUL), one rejected row per line; row-level
 * and CSV-level rejects alike. Expected bytes worked out by hand from up_rows.h's rules.
 */
static void test_rejects_escaped(void)
{
    static const char status[] =
        "store_id,status,timestamp_utc\n"              /* 1 */
        "s\x1b[31m1,active,2023-01-25 10:00:00 UTC\n"  /* 2 ESC in store_id */
        "s2,act\tive,2023-01-25 10:00:00 UTC\n"        /* 3 TAB inside a status */
        "s3,\"inactive\rX\",2023-01-25 10:00:00 UTC\n" /* 4 CR inside a quoted status */
        "s4,active,2023-01-25 10:00:00 UTC\0junk\n"    /* 5 NUL: the rest is kept */
        "s5,\xC2\x9b"
        "31mactive,2023-01-25 10:00:00 UTC\n"      /* 6 C1 CSI, as UTF-8 */
        "s\0x,active,2023-01-25 10:00:00 UTC\n"    /* 7 NUL in store_id */
        "s6,\\active,2023-01-25 10:00:00 UTC\n"    /* 8 a backslash */
        "s7,\"a,\"\"b\",2023-01-25 10:00:00 UTC\n" /* 9 comma and quote: CSV-quoted */
        "s8\x1b,\xff\x9b,t\n"                      /* 10 invalid UTF-8 (CSV level) */
        "s9,active,2023-01-25 11:00:00 UTC\n";     /* 11 ok */
    static const char tz[] = "store_id,timezone_str\n"
                             "s9,America/Chicago\0evil\n"; /* 2 NUL in a zone name */
    static const char want[] =
        "file,line,reason,detail,value\n"
        "T/timezones.csv,2,unknown timezone,not a Zone or Link name of the tz database,"
        "America/Chicago\\x00evil\n"
        "T/store_status.csv,2,invalid store_id,control character in store_id,s\\x1b[31m1\n"
        "T/store_status.csv,3,invalid status,status is not active or inactive,act\\x09ive\n"
        "T/store_status.csv,4,invalid status,status is not active or inactive,inactive\\x0dX\n"
        "T/store_status.csv,5,invalid timestamp_utc,must end in ' UTC',"
        "2023-01-25 10:00:00 UTC\\x00junk\n"
        "T/store_status.csv,6,invalid status,status is not active or inactive,"
        "\\xc2\\x9b31mactive\n"
        "T/store_status.csv,7,invalid store_id,control character in store_id,s\\x00x\n"
        "T/store_status.csv,8,invalid status,status is not active or inactive,\\x5cactive\n"
        "T/store_status.csv,9,invalid status,status is not active or inactive,\"a,\"\"b\"\n"
        "T/store_status.csv,10,invalid UTF-8,field 2: byte 0xff at offset 0,"
        "\"s8\\x1b,\\xff\\x9b,t\"\n";
    struct files f;
    struct up_load_stats st;
    char err[512], got[4096], expect[4096];
    const char *p;
    size_t len, o = 0;

    write_set(&f, "", hours_ok, "");
    write_bytes(f.status, status, sizeof status - 1);
    write_bytes(f.tz, tz, sizeof tz - 1);
    CU_ASSERT_EQUAL_FATAL(load(&f, &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(st.file[UP_FILE_STATUS].loaded, 1);
    CU_ASSERT_EQUAL(st.file[UP_FILE_STATUS].rejected, 9);
    /* The expected text names the files by their folder, which is the test's own. */
    for (p = want; *p && o + strlen(f.dir) + 1 < sizeof expect; p++) {
        if (*p == 'T' && p[1] == '/' && (p == want || p[-1] == '\n'))
            o += (size_t)snprintf(expect + o, sizeof expect - o, "%s", f.dir);
        else
            expect[o++] = *p;
    }
    expect[o] = '\0';
    len = read_all(f.rejects, got, sizeof got);
    CU_ASSERT_STRING_EQUAL(got, expect);
    /* No control byte at all, C1 or C0, reached the file. */
    for (o = 0; o < len; o++) {
        unsigned char c = (unsigned char)got[o];
        CU_ASSERT_FALSE_FATAL((c < 0x20 && c != '\n') || c == 0x7f ||
                              (c == 0xC2 && (unsigned char)got[o + 1] <= 0x9F) ||
                              (c >= 0x80 && c <= 0x9F));
    }
}

static void test_fatal_inputs_write_nothing(void)
{
    struct files f;
    struct up_load_stats st;
    struct stat sb;
    char err[512];

    write_set(&f, "store_id,status,timestamp_utc\ns1,active,2023-01-25 10:00:00 UTC\n", hours_ok,
              tz_ok);
    snprintf(f.hours, sizeof f.hours, "%s/no_such_file.csv", f.dir);
    CU_ASSERT_EQUAL(load(&f, &st, err, sizeof err), UP_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no_such_file.csv"));
    CU_ASSERT_NOT_EQUAL(stat(f.db, &sb), 0);
    CU_ASSERT_NOT_EQUAL(stat(f.rejects, &sb), 0);

    write_set(&f, "store_id,timestamp_utc\ns1,2023-01-25 10:00:00 UTC\n", hours_ok, tz_ok);
    CU_ASSERT_EQUAL(load(&f, &st, err, sizeof err), UP_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "status"));
    CU_ASSERT_NOT_EQUAL(stat(f.db, &sb), 0);

    write_set(&f, "", hours_ok, tz_ok);
    CU_ASSERT_EQUAL(load(&f, &st, err, sizeof err), UP_EUSAGE);
    CU_ASSERT_NOT_EQUAL(stat(f.db, &sb), 0);

    /* The rejects file cannot be written: the load fails and leaves no database. */
    write_set(&f, "store_id,status,timestamp_utc\ns1,active,2023-01-25 10:00:00 UTC\n", hours_ok,
              tz_ok);
    snprintf(f.rejects, sizeof f.rejects, "/proc/no/such/dir/rejects.csv");
    CU_ASSERT_EQUAL(load(&f, &st, err, sizeof err), UP_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "rejects"));
    CU_ASSERT_NOT_EQUAL(stat(f.db, &sb), 0);

    /* An unwritable database: a folder in the way. */
    write_set(&f, "store_id,status,timestamp_utc\n", hours_ok, tz_ok);
    snprintf(f.db, sizeof f.db, "%s", f.dir);
    CU_ASSERT_EQUAL(load(&f, &st, err, sizeof err), UP_EDB);
    CU_ASSERT_NOT_EQUAL(stat(f.rejects, &sb), 0);
}

static int dump_poll(void *ctx, const char *id, int64_t ts, int active)
{
    char *s = ctx;
    size_t n = strlen(s);
    snprintf(s + n, 4096 - n, "%s@%lld=%d;", id, (long long)ts, active);
    return 0;
}

static int dump_store(void *ctx, const char *id, int64_t npolls)
{
    char *s = ctx;
    size_t n = strlen(s);
    snprintf(s + n, 4096 - n, "%s:%lld;", id, (long long)npolls);
    return 0;
}

static int dump_hours(void *ctx, const char *id, const struct up_hours_row *h)
{
    char *s = ctx;
    size_t n = strlen(s);
    snprintf(s + n, 4096 - n, "%s:%d:%lld-%lld;", id, h->day, (long long)h->start_us,
             (long long)h->end_us);
    return 0;
}

static void dump(const char *db, char *out)
{
    struct up_store *st = NULL;
    const char *ids[] = {"s1", "s2"};
    const struct up_store_sink sink = {dump_store, dump_hours, NULL, dump_poll, out, NULL, NULL};
    char err[512];

    out[0] = '\0';
    CU_ASSERT_EQUAL_FATAL(up_store_open(db, UP_STORE_READ, &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_stores(st, 0, INT64_MAX, &sink, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_polls(st, ids, 2, 0, INT64_MAX, &sink, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_hours(st, &sink, err, sizeof err), UP_OK);
    up_store_close(st);
}

static void test_load_twice_changes_nothing(void)
{
    struct files f;
    struct up_load_stats st;
    char err[512], once[4096], twice[4096];

    write_set(&f,
              "store_id,status,timestamp_utc\n"
              "s1,active,2023-01-25 10:00:00 UTC\n"
              "s1,inactive,2023-01-25 10:00:00 UTC\n"
              "s2,active,2023-01-25 10:00:00 UTC\n",
              "store_id,dayOfWeek,start_time_local,end_time_local\n"
              "s1,0,09:00,17:00\n"
              "s1,0,09:00,17:00\n"
              "s1,1,22:00,02:00\n",
              "store_id,timezone_str\ns1,Asia/Kolkata\n");
    CU_ASSERT_EQUAL_FATAL(load(&f, &st, err, sizeof err), UP_OK);
    dump(f.db, once);
    CU_ASSERT_EQUAL_FATAL(load(&f, &st, err, sizeof err), UP_OK);
    dump(f.db, twice);
    CU_ASSERT_STRING_EQUAL(once, twice);
    /* The duplicate poll merged with inactive winning; duplicate hours rows stored once. */
    CU_ASSERT_PTR_NOT_NULL(strstr(once, "s1@1674640800000000=0;"));
    CU_ASSERT_PTR_NULL(strstr(once, "s1@1674640800000000=1;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(once, "s1:1;s2:1;"));
}

/* Any subset of the files loads; the tables of the others stay as they were. */
static void test_subset_of_files(void)
{
    struct files f;
    struct up_load_stats st;
    struct up_load_opts o;
    char err[512], before[4096], after[4096];

    write_set(&f, "store_id,status,timestamp_utc\ns1,active,2023-01-25 10:00:00 UTC\n",
              "store_id,dayOfWeek,start_time_local,end_time_local\ns1,0,09:00,17:00\n",
              "store_id,timezone_str\ns1,Asia/Kolkata\n");
    CU_ASSERT_EQUAL_FATAL(load(&f, &st, err, sizeof err), UP_OK);
    dump(f.db, before);
    /* Polls alone: one new poll of s1 and one of s2; the hours of s1 stay. */
    snprintf(f.status, sizeof f.status, "%s",
             tu_write_file(f.dir, "more.csv",
                           "store_id,status,timestamp_utc\n"
                           "s1,inactive,2023-01-25 11:00:00 UTC\n"
                           "s2,active,2023-01-25 11:00:00 UTC\n"));
    memset(&o, 0, sizeof o);
    o.path[UP_FILE_STATUS] = f.status;
    CU_ASSERT_EQUAL_FATAL(up_load_run(f.db, &o, &st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(st.file[UP_FILE_STATUS].loaded, 2);
    CU_ASSERT_EQUAL(st.file[UP_FILE_HOURS].rows, 0);
    dump(f.db, after);
    CU_ASSERT_STRING_EQUAL(before, "s1:1;s1@1674640800000000=1;s1:0:32400000000-61200000000;");
    CU_ASSERT_STRING_EQUAL(after, "s1:2;s2:1;s1@1674640800000000=1;s1@1674644400000000=0;"
                                  "s2@1674644400000000=1;s1:0:32400000000-61200000000;");
    /* No file at all, or standard input for two files: usage errors. */
    memset(&o, 0, sizeof o);
    CU_ASSERT_EQUAL(up_load_run(f.db, &o, &st, err, sizeof err), UP_EUSAGE);
    o.path[UP_FILE_STATUS] = "-";
    o.path[UP_FILE_HOURS] = "-";
    CU_ASSERT_EQUAL(up_load_run(f.db, &o, &st, err, sizeof err), UP_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "standard input"));
}

int test_load_add(void)
{
    CU_pSuite s = CU_add_suite("load", NULL, NULL);

    if (!s ||
        !CU_add_test(s, "rejected rows and line numbers", test_rejected_rows_and_line_numbers) ||
        !CU_add_test(s, "columns checked left to right", test_columns_checked_left_to_right) ||
        !CU_add_test(s, "timezone rules", test_timezone_rules) ||
        !CU_add_test(s, "rejected values escaped", test_rejects_escaped) ||
        !CU_add_test(s, "hours all rejected", test_hours_all_rejected_counted) ||
        !CU_add_test(s, "fatal inputs write nothing", test_fatal_inputs_write_nothing) ||
        !CU_add_test(s, "load twice changes nothing", test_load_twice_changes_nothing) ||
        !CU_add_test(s, "any subset of the files", test_subset_of_files))
        return CU_get_error();
    return CUE_SUCCESS;
}
