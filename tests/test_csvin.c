/* Unit tests of up_csvin: header lookup, line numbers, rejects and recovery. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <CUnit/CUnit.h>
#include <zlib.h>

#include "test_list.h"
#include "test_util.h"
#include "up_csvin.h"

static const char *const ID_NAMES[] = {"store_id", NULL};
static const char *const STATUS_NAMES[] = {"status", NULL};
static const char *const TS_NAMES[] = {"timestamp_utc", NULL};
static const char *const DAY_NAMES[] = {"dayOfWeek", "day", NULL};
static const char *const START_NAMES[] = {"start_time_local", NULL};
static const char *const END_NAMES[] = {"end_time_local", NULL};

static const struct up_csv_column STATUS_COLS[] = {{ID_NAMES}, {STATUS_NAMES}, {TS_NAMES}};
static const struct up_csv_column HOURS_COLS[] = {
    {ID_NAMES}, {DAY_NAMES}, {START_NAMES}, {END_NAMES}};

#define HDR "store_id,status,timestamp_utc\n"

/* A file written into its own temporary directory, removed by tf_done. */
struct tfile {
    char dir[256];
    char path[512];
};

static void tf_write(struct tfile *tf, const char *text)
{
    snprintf(tf->dir, sizeof tf->dir, "%s", tu_tmpdir());
    snprintf(tf->path, sizeof tf->path, "%s", tu_write_file(tf->dir, "in.csv", text));
}

static void tf_done(struct tfile *tf)
{
    unlink(tf->path);
    rmdir(tf->dir);
}

/*
 * Reads a whole file and describes every record on one line of out:
 * "<line>:<f1>|<f2>|..." for a row, "<line>!<reason>: <detail>" for a reject.
 * Returns the code of up_csvin_open (err holds its message).
 */
static enum up_code dump(const char *path, const struct up_csv_column *cols, size_t ncols,
                         char *out, size_t outlen, char *err, size_t errlen)
{
    enum up_code code = UP_EFAIL;
    struct up_csvin *in = up_csvin_open(path, cols, ncols, &code, err, errlen);
    size_t used = 0;

    out[0] = '\0';
    if (!in)
        return code;
    for (;;) {
        struct up_csv_record rec;
        size_t j;
        int n;

        if (up_csvin_next(in, &rec, err, errlen) != UP_OK) {
            up_csvin_free(in);
            return UP_EIO;
        }
        if (rec.kind == UP_CSV_END)
            break;
        if (rec.kind == UP_CSV_REJECT) {
            n = snprintf(out + used, outlen - used, "%ld!%s: %s\n", rec.line,
                         up_csv_reject_name(rec.reason), rec.detail);
        } else {
            n = snprintf(out + used, outlen - used, "%ld:", rec.line);
            for (j = 0; j < ncols && n >= 0 && (size_t)n < outlen - used; j++) {
                /* The length must agree with the NUL-terminated text. */
                CU_ASSERT_EQUAL(strlen(rec.field[j]), rec.len[j]);
                n +=
                    snprintf(out + used + n, outlen - used - n, "%s%s", j ? "|" : "", rec.field[j]);
            }
            if (n >= 0 && (size_t)n < outlen - used)
                n += snprintf(out + used + n, outlen - used - n, "\n");
        }
        if (n < 0 || (size_t)n >= outlen - used) {
            CU_FAIL("dump buffer too small");
            break;
        }
        used += (size_t)n;
    }
    up_csvin_free(in);
    return UP_OK;
}

static char got[1 << 16];
static char errbuf[512];

/* Writes text, dumps it with the status columns and compares with expect. */
static void check_dump_cols(const char *text, const struct up_csv_column *cols, size_t ncols,
                            const char *expect)
{
    struct tfile tf;
    enum up_code code;

    tf_write(&tf, text);
    code = dump(tf.path, cols, ncols, got, sizeof got, errbuf, sizeof errbuf);
    CU_ASSERT_EQUAL(code, UP_OK);
    if (code != UP_OK)
        fprintf(stderr, "\nunexpected open failure: %s\n", errbuf);
    if (strcmp(got, expect) != 0)
        fprintf(stderr, "\nexpected:\n%s\ngot:\n%s\n", expect, got);
    CU_ASSERT_STRING_EQUAL(got, expect);
    tf_done(&tf);
}

static void check_dump(const char *text, const char *expect)
{
    check_dump_cols(text, STATUS_COLS, 3, expect);
}

/* Expects up_csvin_open to fail with UP_EUSAGE and a message naming the file and word. */
static void check_fatal(const char *text, const struct up_csv_column *cols, size_t ncols,
                        const char *word)
{
    struct tfile tf;
    enum up_code code = UP_OK;
    struct up_csvin *in;

    tf_write(&tf, text);
    in = up_csvin_open(tf.path, cols, ncols, &code, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NULL(in);
    CU_ASSERT_EQUAL(code, UP_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, tf.path));
    if (word) {
        if (!strstr(errbuf, word))
            fprintf(stderr, "\nmessage \"%s\" does not name \"%s\"\n", errbuf, word);
        CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, word));
    }
    up_csvin_free(in);
    tf_done(&tf);
}

static void test_lf_and_path(void)
{
    struct tfile tf;
    enum up_code code;
    struct up_csvin *in;

    check_dump(HDR "A,active,t1\nB,inactive,t2\n", "2:A|active|t1\n3:B|inactive|t2\n");
    tf_write(&tf, HDR);
    in = up_csvin_open(tf.path, STATUS_COLS, 3, &code, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    CU_ASSERT_EQUAL(code, UP_OK);
    CU_ASSERT_STRING_EQUAL(up_csvin_path(in), tf.path);
    up_csvin_free(in);
    up_csvin_free(NULL);
    tf_done(&tf);
}

static void test_bom_crlf(void)
{
    /* The BOM is not part of "store_id"; CR never reaches a field. */
    check_dump("\xEF\xBB\xBF"
               "store_id,status,timestamp_utc\r\nA,active,t1\r\n\"B\",\"inactive\"  ,\"t2\"\r\n",
               "2:A|active|t1\n3:B|inactive|t2\n");
    /* A BOM later in the file is ordinary (valid) text. */
    check_dump(HDR "\xEF\xBB\xBF"
                   "A,active,t1\n",
               "2:\xEF\xBB\xBF"
               "A|active|t1\n");
}

static void test_quoted(void)
{
    check_dump(HDR "\"a,b\",\"x\"\"y\",\"\"\"t\"\"\"\n", "2:a,b|x\"y|\"t\"\n");
    /* A quoted field spanning lines is one record, numbered by its first line. */
    check_dump(HDR "\"multi\nline\",active,t1\nB,active,t2\n",
               "2:multi\nline|active|t1\n4:B|active|t2\n");
    check_dump(HDR "\"multi\r\n\r\nline\",active,\"t\r\n1\"\r\nB,active,t2\r\n",
               "2:multi\r\n\r\nline|active|t\r\n1\n6:B|active|t2\n");
}

static void test_column_order(void)
{
    struct tfile tf;
    enum up_code code;
    struct up_csvin *in;

    check_dump("extra,timestamp_utc,foo,status,store_id,bar\ne,t1,f,active,S1,b\n",
               "2:S1|active|t1\n");
    /* Header positions drive the order of the caller's column checks. */
    tf_write(&tf, "extra,timestamp_utc,foo,status,store_id,bar\n");
    in = up_csvin_open(tf.path, STATUS_COLS, 3, &code, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    CU_ASSERT_EQUAL(up_csvin_column_pos(in, 0), 4);
    CU_ASSERT_EQUAL(up_csvin_column_pos(in, 1), 3);
    CU_ASSERT_EQUAL(up_csvin_column_pos(in, 2), 1);
    CU_ASSERT_EQUAL(up_csvin_column_pos(in, 3), SIZE_MAX);
    up_csvin_free(in);
    tf_done(&tf);
    /* Header names are case-sensitive: "Status" is an extra column. */
    check_dump("Status,store_id,status,timestamp_utc\nX,S1,inactive,t1\n", "2:S1|inactive|t1\n");
}

static void test_day_preference(void)
{
    check_dump_cols("store_id,day,dayOfWeek,start_time_local,end_time_local\nS,5,3,09:00,17:00\n",
                    HOURS_COLS, 4, "2:S|3|09:00|17:00\n");
    check_dump_cols("store_id,day,start_time_local,end_time_local\nS,5,09:00,17:00\n", HOURS_COLS,
                    4, "2:S|5|09:00|17:00\n");
    /* Only the chosen name must be unique: "day" twice is harmless next to dayOfWeek. */
    check_dump_cols(
        "day,store_id,day,dayOfWeek,start_time_local,end_time_local\n1,S,2,6,09:00,17:00\n",
        HOURS_COLS, 4, "2:S|6|09:00|17:00\n");
    check_fatal("dayOfWeek,store_id,dayOfWeek,start_time_local,end_time_local\n", HOURS_COLS, 4,
                "\"dayOfWeek\" appears 2 times");
    check_fatal("day,store_id,day,start_time_local,end_time_local\n", HOURS_COLS, 4,
                "\"day\" appears 2 times");
    check_fatal("store_id,start_time_local,end_time_local\n", HOURS_COLS, 4,
                "missing column \"dayOfWeek\" (or \"day\")");
}

static void test_fatal_files(void)
{
    char path[600];
    struct tfile tf;
    enum up_code code = UP_OK;
    struct up_csvin *in;

    snprintf(tf.dir, sizeof tf.dir, "%s", tu_tmpdir());
    snprintf(path, sizeof path, "%s/missing.csv", tf.dir);
    in = up_csvin_open(path, STATUS_COLS, 3, &code, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NULL(in);
    CU_ASSERT_EQUAL(code, UP_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, path));
    /* A directory opens but cannot be read. */
    code = UP_OK;
    in = up_csvin_open(tf.dir, STATUS_COLS, 3, &code, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NULL(in);
    CU_ASSERT_EQUAL(code, UP_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, tf.dir));
    rmdir(tf.dir);

    check_fatal("", STATUS_COLS, 3, "empty file");
    check_fatal("\xEF\xBB\xBF", STATUS_COLS, 3, "empty file");
    check_fatal("\n\r\n\n", STATUS_COLS, 3, "empty file");
    check_fatal("\xEF\xBB\xBF\n", STATUS_COLS, 3, "empty file");
    check_fatal("store_id,timestamp_utc\nA,t1\n", STATUS_COLS, 3, "missing column \"status\"");
    check_fatal("store_id,status,store_id,timestamp_utc\n", STATUS_COLS, 3,
                "\"store_id\" appears 2 times");
    /* Names match after trimming, so these are duplicates too. */
    check_fatal("store_id,status, store_id\t,timestamp_utc\n", STATUS_COLS, 3,
                "\"store_id\" appears 2 times");
    check_fatal("store_id,\"status,timestamp_utc\nA,active,t1\n", STATUS_COLS, 3, "broken quoting");
    check_fatal("store_id,st\"atus,timestamp_utc\n", STATUS_COLS, 3, "broken quoting");
    /* A whitespace-only first line is where the header should be. */
    check_fatal(" \t\n" HDR, STATUS_COLS, 3, "whitespace-only line");
}

static void test_empty_and_blank_lines(void)
{
    /* Empty lines are skipped but still counted; a header may follow empty lines. */
    check_dump("\n\r\n" HDR "\nA,active,t1\n\r\n\nB,inactive,t2\n\n",
               "5:A|active|t1\n8:B|inactive|t2\n");
    check_dump(HDR "A,active,t1\n  \t\nB,inactive,t2\n \v\f\r\n\r\r\n",
               "2:A|active|t1\n3!whitespace-only line: line holds only whitespace\n4:B|inactive|t2\n"
               "5!whitespace-only line: line holds only whitespace\n"
               "6!whitespace-only line: line holds only whitespace\n");
    /* Separators alone are fields: three empty ones (the caller rejects the store_id). */
    check_dump(HDR ",,\n , ,\t\n", "2:||\n3:||\n");
}

static void test_field_count(void)
{
    check_dump(HDR "A,active\nB,active,t,extra\nC\nD,active,t\n",
               "2!wrong field count: 2 fields, expected 3\n"
               "3!wrong field count: 4 fields, expected 3\n"
               "4!wrong field count: 1 field, expected 3\n"
               "5:D|active|t\n");
    /* Extra header columns count too. */
    check_dump("store_id,x,status,timestamp_utc\nA,1,active,t\nB,active,t\n",
               "2:A|active|t\n3!wrong field count: 3 fields, expected 4\n");
}

static void test_utf8(void)
{
    check_dump(HDR "A\xff,active,t\n"
                   "\xC0\xAF,active,t\n"
                   "A,\xE2\x82,t\n"
                   "A,active,\xE2\x82\n"
                   "\xED\xA0\x80,active,t\n"
                   "\xF4\x90\x80\x80,active,t\n"
                   "\xE0\x80\xAF,active,t\n"
                   "A,\x80,t\n"
                   "caf\xC3\xA9,\xE2\x82\xAC,\xF0\x9F\x98\x80\n",
               "2!invalid UTF-8: field 1: byte 0xff at offset 1\n"
               "3!invalid UTF-8: field 1: overlong encoding at offset 0\n"
               "4!invalid UTF-8: field 2: truncated sequence at offset 0\n"
               "5!invalid UTF-8: field 3: truncated sequence at offset 0\n"
               "6!invalid UTF-8: field 1: surrogate U+D800 at offset 0\n"
               "7!invalid UTF-8: field 1: code point above U+10FFFF at offset 0\n"
               "8!invalid UTF-8: field 1: overlong encoding at offset 0\n"
               "9!invalid UTF-8: field 2: byte 0x80 at offset 0\n"
               "10:caf\xC3\xA9|\xE2\x82\xAC|\xF0\x9F\x98\x80\n");
    /* An unused column must be valid UTF-8 as well. */
    check_dump("store_id,x,status,timestamp_utc\nA,\xfe,active,t\n",
               "2!invalid UTF-8: field 2: byte 0xfe at offset 0\n");
}

static void test_broken_quoting(void)
{
    check_dump(HDR "12\"3,active,t1\n\"12\"3,active,t1\n\"1\" \"2\",active,t1\nB,active,t2\n",
               "2!broken quoting: stray quote at byte 3\n"
               "3!broken quoting: text after closing quote at byte 5\n"
               "4!broken quoting: stray quote at byte 5\n"
               "5:B|active|t2\n");
    /* An unclosed quote swallows to the end; only its own line is lost. */
    check_dump(HDR "A,active,t1\n\"B,active,t2\nC,active,t3\n\nD,inactive,t4\n",
               "2:A|active|t1\n3!broken quoting: unterminated quote\n4:C|active|t3\n"
               "6:D|inactive|t4\n");
    /* Swallowing that ends in a strict error on a later line: the same recovery. */
    check_dump(HDR "\"B,active,t2\nC,active,t3\n\"D\",inactive,t4\nE,active,t5\n",
               "2!broken quoting: text after closing quote at line 4 byte 2\n"
               "3:C|active|t3\n4:D|inactive|t4\n5:E|active|t5\n");
    /* Replayed lines can themselves hold a broken record, and a legal multi-line one. */
    check_dump(HDR "\"a\nb,\"c\n\",t\n\"x\n",
               "2!broken quoting: text after closing quote at line 3 byte 4\n"
               "3:b|c|t\n"
               "5!broken quoting: unterminated quote\n");
}

static void test_check_order(void)
{
    /* Bad UTF-8 and a wrong field count: UTF-8 is reported. */
    check_dump(HDR "A\xff,active\n", "2!invalid UTF-8: field 1: byte 0xff at offset 1\n");
    /* Broken quoting and bad UTF-8: quoting is reported. */
    check_dump(HDR "A\xff,act\"ive,t\n", "2!broken quoting: stray quote at byte 7\n");
}

static void test_trimming(void)
{
    check_dump(" \tstore_id\v,\fstatus , \"timestamp_utc\"\t\r\n"
               "\v A\f,\tactive\v,\" t1 \"\f\r\n"
               "\"\v B\t\",\f\"inactive\"\v,\"\n t2\r\n\"\n",
               "2:A|active|t1\n3:B|inactive|t2\n");
}

static void test_no_final_newline(void)
{
    check_dump(HDR "A,active,t1", "2:A|active|t1\n");
    check_dump(HDR "A,active,\"t1\"", "2:A|active|t1\n");
    check_dump(HDR "A,active,t1\r", "2:A|active|t1\n");
    check_dump(HDR "A,active,\"t1", "2!broken quoting: unterminated quote\n");
    check_dump(HDR "\"A,active,t1\nB,active,t2", "2!broken quoting: unterminated quote\n"
                                                 "3:B|active|t2\n");
}

static void test_raw(void)
{
    struct tfile tf;
    enum up_code code;
    struct up_csvin *in;
    struct up_csv_record rec;
    char text[1024];
    size_t i;

    /* Control bytes and invalid UTF-8 are escaped; the terminator is not shown. */
    tf_write(&tf, HDR "A\x01,\xff\xC2\x85\xC3\xA9,t,x\r\n\"q\nr\"\n");
    in = up_csvin_open(tf.path, STATUS_COLS, 3, &code, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    CU_ASSERT_EQUAL(up_csvin_next(in, &rec, errbuf, sizeof errbuf), UP_OK);
    CU_ASSERT_EQUAL(rec.kind, UP_CSV_REJECT);
    CU_ASSERT_EQUAL(rec.reason, UP_CSV_REJ_UTF8);
    CU_ASSERT_STRING_EQUAL(rec.raw, "A\\x01,\\xff\\xc2\\x85\xC3\xA9,t,x");
    /* A multi-line record shows its first line. */
    CU_ASSERT_EQUAL(up_csvin_next(in, &rec, errbuf, sizeof errbuf), UP_OK);
    CU_ASSERT_EQUAL(rec.kind, UP_CSV_REJECT);
    CU_ASSERT_EQUAL(rec.line, 3);
    CU_ASSERT_EQUAL(rec.reason, UP_CSV_REJ_FIELDS);
    CU_ASSERT_STRING_EQUAL(rec.raw, "\"q");
    CU_ASSERT_EQUAL(up_csvin_next(in, &rec, errbuf, sizeof errbuf), UP_OK);
    CU_ASSERT_EQUAL(rec.kind, UP_CSV_END);
    up_csvin_free(in);
    tf_done(&tf);

    /* A long line is cut to 200 bytes and marked. */
    memcpy(text, HDR, strlen(HDR));
    for (i = 0; i < 300; i++)
        text[strlen(HDR) + i] = 'x';
    memcpy(text + strlen(HDR) + 300, "\n", 2);
    tf_write(&tf, text);
    in = up_csvin_open(tf.path, STATUS_COLS, 3, &code, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    CU_ASSERT_EQUAL(up_csvin_next(in, &rec, errbuf, sizeof errbuf), UP_OK);
    CU_ASSERT_EQUAL(rec.reason, UP_CSV_REJ_FIELDS);
    CU_ASSERT_EQUAL(strlen(rec.raw), 203);
    CU_ASSERT_STRING_EQUAL(rec.raw + 200, "...");
    up_csvin_free(in);
    tf_done(&tf);
}

/* Allocates a test text of size bytes (the caller frees). */
static char *big_text(size_t size)
{
    char *s = malloc(size);

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

static void test_too_long(void)
{
    const size_t huge = 3 * (size_t)UP_CSV_MAX_RECORD;
    size_t rows = 1200, i, o = 0;
    char *s = big_text(huge + rows * 1100 + 256);
    char expect[256];

    /* One line of 3 MiB: rejected, the next line still loads. */
    o = (size_t)snprintf(s, 64, "%sA,active,", HDR);
    memset(s + o, 'y', huge);
    o += huge;
    memcpy(s + o, "\nB,active,t2\n", 14);
    snprintf(expect, sizeof expect,
             "2!record too long: line longer than %d bytes\n"
             "3:B|active|t2\n",
             UP_CSV_MAX_RECORD);
    check_dump(s, expect);

    /*
     * An unclosed quote on line 2 swallows 1200 lines of 1000 bytes, past the
     * cap: line 2 is rejected and all the swallowed rows still load.
     */
    o = (size_t)snprintf(s, 64, "%s\"open,active,t\n", HDR);
    for (i = 0; i < rows; i++) {
        int n = snprintf(s + o, 64, "S%04zu,active,", i);
        o += (size_t)n;
        memset(s + o, 't', 1000 - (size_t)n - 1);
        o += 1000 - (size_t)n - 1;
        s[o++] = '\n';
    }
    s[o] = '\0';
    {
        struct tfile tf;
        enum up_code code;
        struct up_csvin *in;
        struct up_csv_record rec;
        long want = 3;

        tf_write(&tf, s);
        in = up_csvin_open(tf.path, STATUS_COLS, 3, &code, errbuf, sizeof errbuf);
        CU_ASSERT_PTR_NOT_NULL_FATAL(in);
        CU_ASSERT_EQUAL(up_csvin_next(in, &rec, errbuf, sizeof errbuf), UP_OK);
        CU_ASSERT_EQUAL(rec.kind, UP_CSV_REJECT);
        CU_ASSERT_EQUAL(rec.reason, UP_CSV_REJ_TOO_LONG);
        CU_ASSERT_EQUAL(rec.line, 2);
        CU_ASSERT_STRING_EQUAL(rec.raw, "\"open,active,t");
        for (;;) {
            char id[32];

            CU_ASSERT_EQUAL_FATAL(up_csvin_next(in, &rec, errbuf, sizeof errbuf), UP_OK);
            if (rec.kind != UP_CSV_ROW)
                break;
            CU_ASSERT_EQUAL(rec.line, want);
            snprintf(id, sizeof id, "S%04ld", want - 3);
            CU_ASSERT_STRING_EQUAL(rec.field[0], id);
            CU_ASSERT_EQUAL(rec.len[2], 1000 - 13 - 1);
            want++;
        }
        CU_ASSERT_EQUAL(rec.kind, UP_CSV_END);
        CU_ASSERT_EQUAL(want, 3 + (long)rows);
        up_csvin_free(in);
        tf_done(&tf);
    }

    /* An overlong line inside an open quote: both are rejected, line 3 survives. */
    o = (size_t)snprintf(s, 64, "%s\"open,active,t\nC,active,t3\n", HDR);
    memset(s + o, 'z', huge);
    o += huge;
    memcpy(s + o, "\nD,active,t5\n", 14);
    snprintf(expect, sizeof expect,
             "2!record too long: quoted field still open after %d bytes\n"
             "3:C|active|t3\n"
             "4!record too long: line longer than %d bytes\n"
             "5:D|active|t5\n",
             UP_CSV_MAX_RECORD, UP_CSV_MAX_RECORD);
    check_dump(s, expect);
    free(s);
}

/* A line without a quote is cut at commas in place, one with a quote goes through libcsv:
 * the same fields, trimming, rejects and line numbers either way. */
static void test_fast_path_same_as_libcsv(void)
{
    static const char *const plain = HDR " A ,\tactive\t, t1 \r\n"
                                         "B,inactive\n"
                                         "C,active,t3,extra\n"
                                         "D,,\n"
                                         "E,\xC3\x28,t5\n";
    static const char *const quoted = HDR "\" A \",\tactive\t, t1 \r\n"
                                          "\"B\",inactive\n"
                                          "C,\"active\",t3,extra\n"
                                          "D,,\"\"\n"
                                          "E,\xC3\x28,\"t5\"\n";
    static const char *const expect = "2:A|active|t1\n"
                                      "3!wrong field count: 2 fields, expected 3\n"
                                      "4!wrong field count: 4 fields, expected 3\n"
                                      "5:D||\n"
                                      "6!invalid UTF-8: field 2: truncated sequence at offset 0\n";

    check_dump(plain, expect);
    check_dump(quoted, expect);
}

/* Writes text gzip-compressed (members members, the text split between them). */
static void write_gz(const char *path, const char *text, int members)
{
    size_t n = strlen(text), per = n / (size_t)members + 1, off = 0;
    int k;

    for (k = 0; k < members; k++) {
        gzFile gz = gzopen(path, k == 0 ? "wb" : "ab");
        size_t len = off + per > n ? n - off : per;
        CU_ASSERT_PTR_NOT_NULL_FATAL(gz);
        if (len > 0)
            CU_ASSERT_EQUAL(gzwrite(gz, text + off, (unsigned)len), (int)len);
        CU_ASSERT_EQUAL(gzclose(gz), Z_OK);
        off += len;
    }
}

/* gzip input, whatever the name, one member or several; a truncated one is an error. */
static void test_gzip(void)
{
    static const char *const text = HDR "A,active,t1\n\nB,inactive,t2\n\"C\nD\",active,t3\n";
    static const char *const expect = "2:A|active|t1\n4:B|inactive|t2\n5:C\nD|active|t3\n";
    char dir[256], path[512];
    enum up_code code = UP_OK;
    struct up_csvin *in;
    struct up_csv_record rec;
    FILE *f;
    long size;
    int members;

    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    snprintf(path, sizeof path, "%s/in.csv", dir);
    for (members = 1; members <= 3; members++) {
        write_gz(path, text, members);
        CU_ASSERT_EQUAL(dump(path, STATUS_COLS, 3, got, sizeof got, errbuf, sizeof errbuf), UP_OK);
        CU_ASSERT_STRING_EQUAL(got, expect);
    }
    /* Cut the single-member file short: the header still reads, the rest is an error. */
    write_gz(path, text, 1);
    f = fopen(path, "rb+");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(truncate(path, size - 6), 0);
    in = up_csvin_open(path, STATUS_COLS, 3, &code, errbuf, sizeof errbuf);
    if (in) {
        enum up_code rc;
        do
            rc = up_csvin_next(in, &rec, errbuf, sizeof errbuf);
        while (rc == UP_OK && rec.kind != UP_CSV_END);
        CU_ASSERT_EQUAL(rc, UP_EUSAGE);
        up_csvin_free(in);
    } else {
        CU_ASSERT_EQUAL(code, UP_EUSAGE);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "truncated gzip data"));
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, path));
    unlink(path);
    rmdir(dir);
}

static void test_reject_names(void)
{
    CU_ASSERT_STRING_EQUAL(up_csv_reject_name(UP_CSV_REJ_SYNTAX), "broken quoting");
    CU_ASSERT_STRING_EQUAL(up_csv_reject_name(UP_CSV_REJ_TOO_LONG), "record too long");
    CU_ASSERT_STRING_EQUAL(up_csv_reject_name(UP_CSV_REJ_BLANK), "whitespace-only line");
    CU_ASSERT_STRING_EQUAL(up_csv_reject_name(UP_CSV_REJ_UTF8), "invalid UTF-8");
    CU_ASSERT_STRING_EQUAL(up_csv_reject_name(UP_CSV_REJ_FIELDS), "wrong field count");
    CU_ASSERT_PTR_NOT_NULL(up_csv_reject_name((enum up_csv_reject)99));
}

int test_csvin_add(void)
{
    CU_pSuite s = CU_add_suite("csvin", NULL, NULL);

    if (!s)
        return CU_get_error();
    if (!CU_add_test(s, "LF input and path", test_lf_and_path) ||
        !CU_add_test(s, "BOM and CRLF", test_bom_crlf) ||
        !CU_add_test(s, "quoted fields", test_quoted) ||
        !CU_add_test(s, "columns in any order, extra columns", test_column_order) ||
        !CU_add_test(s, "dayOfWeek preferred to day", test_day_preference) ||
        !CU_add_test(s, "fatal files and headers", test_fatal_files) ||
        !CU_add_test(s, "empty and blank lines", test_empty_and_blank_lines) ||
        !CU_add_test(s, "field count", test_field_count) ||
        !CU_add_test(s, "invalid UTF-8", test_utf8) ||
        !CU_add_test(s, "broken quoting and recovery", test_broken_quoting) ||
        !CU_add_test(s, "order of checks", test_check_order) ||
        !CU_add_test(s, "trimming", test_trimming) ||
        !CU_add_test(s, "no final newline", test_no_final_newline) ||
        !CU_add_test(s, "raw text of rejects", test_raw) ||
        !CU_add_test(s, "too long records", test_too_long) ||
        !CU_add_test(s, "reject names", test_reject_names) ||
        !CU_add_test(s, "fast path same as libcsv", test_fast_path_same_as_libcsv) ||
        !CU_add_test(s, "gzip input", test_gzip))
        return CU_get_error();
    return CUE_SUCCESS;
}
