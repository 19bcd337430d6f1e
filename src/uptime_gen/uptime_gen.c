/*
 * uptime_gen: a deterministic, seeded, streaming generator of realistic input files
 * (store_status.csv, menu_hours.csv, timezones.csv) with optional malformed rows.
 *
 * Every store draws from its own random streams, derived from the seed and the store's
 * index, so the output is byte-identical for identical arguments and memory stays flat:
 * stores are produced in groups of GROUP, whose polls are merged by time.  Malformed rows
 * come from a separate stream and are inserted between good rows, so --bad never changes
 * the good rows themselves: every bad row has exactly one defect and is rejected by SPEC
 * (conflicting zones come only after the store's valid zone row), so the report on
 * --bad F data equals the report on --bad 0 data with the same seed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "up_error.h"
#include "up_time.h"

#define GROUP 64
#define OUT_CAP ((size_t)1 << 20)
#define ROW_MAX ((size_t)1024)
#define ID_MAX 64
#define MAX_HOURS_ROWS 48

/* 2023-01-25 18:13:22.479220 UTC, the greatest poll of the real 2023 data. */
#define DEFAULT_END "2023-01-25 18:13:22.479220 UTC"

/* ---------------------------------------------------------------- random numbers */

struct rng {
    uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Independent xoshiro256** stream number `stream` of store `idx` under `seed`. */
static void rng_seed(struct rng *r, uint64_t seed, uint64_t idx, uint64_t stream)
{
    uint64_t x = seed;
    uint64_t a = splitmix64(&x);
    x = a ^ (idx * UINT64_C(0xD1B54A32D192ED03));
    uint64_t b = splitmix64(&x);
    x = b ^ (stream * UINT64_C(0xAEF17502108EF2D9));
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t v, int k)
{
    return (v << k) | (v >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform double in [0, 1). */
static double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n), n > 0 (the modulo bias is below 2^-40 for our n). */
static uint64_t rng_below(struct rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

static int rng_chance(struct rng *r, double p)
{
    return rng_unit(r) < p;
}

/* Index drawn from a table of integer weights. */
static int rng_weighted(struct rng *r, const int *w, int n)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    int x = (int)rng_below(r, (uint64_t)total);
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

/* ---------------------------------------------------------------- buffered output */

struct out {
    FILE *fp;
    char *path;
    char *buf;
    size_t len;
    int err; /* errno of the first failed write, 0 if none */
    int crlf;
    uint64_t rows; /* data rows written (bad ones included) */
    uint64_t bad;  /* malformed rows written */
};

static void out_flush(struct out *o)
{
    if (o->len > 0 && o->err == 0) {
        if (fwrite(o->buf, 1, o->len, o->fp) != o->len)
            o->err = errno != 0 ? errno : EIO;
    }
    o->len = 0;
}

/* Returns where the next row starts; at least ROW_MAX bytes are free there. */
static char *row_begin(struct out *o)
{
    if (OUT_CAP - o->len < ROW_MAX)
        out_flush(o);
    return o->buf + o->len;
}

static void row_end(struct out *o, char *p)
{
    if (o->crlf)
        *p++ = '\r';
    *p++ = '\n';
    o->len = (size_t)(p - o->buf);
    o->rows++;
}

static char *put_mem(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *put_str(char *p, const char *s)
{
    return put_mem(p, s, strlen(s));
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

/*
 * Instants and times of day come from the library's one formatter (up_clock.h); a row has
 * ROW_MAX bytes free, so UP_TIME_TEXT_MAX always fit. The real files trim trailing zeros
 * of the fraction (UP_FRAC_TRIM).
 */
static char *put_time(char *p, int64_t us, enum up_time_style style, enum up_time_frac frac)
{
    int k = up_format_time(us, style, frac, p, UP_TIME_TEXT_MAX);
    return k > 0 ? p + k : p;
}

/* Date part "YYYY-MM-DD" of instant us (malformed rows build on it). */
static char *put_date(char *p, int64_t us)
{
    char t[UP_TIME_TEXT_MAX];
    up_format_time(us, UP_TIME_SPACE, UP_FRAC_NONE, t, sizeof t);
    return put_mem(p, t, 10);
}

/* "HH:MM:SS" of instant us (malformed rows build on it). */
static char *put_clock(char *p, int64_t us)
{
    char t[UP_TIME_TEXT_MAX];
    up_format_time(us, UP_TIME_SPACE, UP_FRAC_NONE, t, sizeof t);
    return put_mem(p, t + 11, 8);
}

/* A time of day (microseconds since midnight): 0 = HH:MM:SS, 1 = HH:MM, 2 = with fraction. */
static char *put_tod(char *p, int64_t us, int fmt)
{
    char *start = p;
    int k = up_format_time_of_day(us, UP_FRAC_TRIM, p, UP_TIME_TEXT_MAX);
    p += k > 0 ? k : 0;
    if (fmt == 1 && us % UP_USEC_PER_MIN == 0)
        return start + 5;
    if (fmt == 2 && us % UP_USEC_PER_SEC == 0)
        return put_mem(p, ".000", 4);
    return p;
}

/* ---------------------------------------------------------------- malformed rows */

enum bad_kind {
    BAD_FIELDS_MORE,
    BAD_FIELDS_LESS,
    BAD_BLANK_LINE,
    BAD_QUOTING,
    BAD_EMPTY_ID,
    BAD_LONG_ID,
    BAD_CTRL_ID,
    BAD_UTF8,
    BAD_STATUS,
    BAD_TS_HOUR24,
    BAD_TS_DATE,
    BAD_TS_FRAC7,
    BAD_TS_SUFFIX,
    BAD_TS_LOWER,
    BAD_TS_MINUS0,
    BAD_TS_SEC60,
    BAD_TS_FORMAT,
    BAD_TS_EMPTY,
    BAD_TS_DOT,
    BAD_DAY_7,
    BAD_DAY_NAME,
    BAD_DAY_OTHER,
    BAD_TIME_25,
    BAD_TIME_24,
    BAD_TIME_SHORT,
    BAD_TIME_OTHER,
    BAD_ZONE_UNKNOWN,
    BAD_ZONE_CONFLICT,
    BAD_NKINDS
};

/* Names printed in the stderr summary. */
static const char *const bad_names[BAD_NKINDS] = {
    [BAD_FIELDS_MORE] = "extra_field",
    [BAD_FIELDS_LESS] = "missing_field",
    [BAD_BLANK_LINE] = "whitespace_line",
    [BAD_QUOTING] = "broken_quoting",
    [BAD_EMPTY_ID] = "empty_store_id",
    [BAD_LONG_ID] = "long_store_id",
    [BAD_CTRL_ID] = "control_in_store_id",
    [BAD_UTF8] = "invalid_utf8",
    [BAD_STATUS] = "bad_status",
    [BAD_TS_HOUR24] = "ts_hour_24",
    [BAD_TS_DATE] = "ts_bad_date",
    [BAD_TS_FRAC7] = "ts_7_digit_fraction",
    [BAD_TS_SUFFIX] = "ts_no_suffix",
    [BAD_TS_LOWER] = "ts_bad_utc_suffix",
    [BAD_TS_MINUS0] = "ts_bad_offset",
    [BAD_TS_SEC60] = "ts_second_60",
    [BAD_TS_FORMAT] = "ts_other_format",
    [BAD_TS_EMPTY] = "ts_empty",
    [BAD_TS_DOT] = "ts_dot_without_digits",
    [BAD_DAY_7] = "day_7",
    [BAD_DAY_NAME] = "day_name",
    [BAD_DAY_OTHER] = "day_other",
    [BAD_TIME_25] = "time_25h",
    [BAD_TIME_24] = "time_24_00",
    [BAD_TIME_SHORT] = "time_one_digit_hour",
    [BAD_TIME_OTHER] = "time_other",
    [BAD_ZONE_UNKNOWN] = "unknown_zone",
    [BAD_ZONE_CONFLICT] = "conflicting_zone",
};

enum file_idx { F_STATUS, F_HOURS, F_TZ, F_COUNT };

static uint64_t bad_counts[F_COUNT][BAD_NKINDS];

_Static_assert(sizeof(bad_names) / sizeof(bad_names[0]) == BAD_NKINDS, "one name per bad kind");

/* Kinds that can be made in each file. */
static const enum bad_kind generic_kinds[] = {BAD_FIELDS_MORE, BAD_FIELDS_LESS, BAD_BLANK_LINE,
                                              BAD_QUOTING,     BAD_EMPTY_ID,    BAD_LONG_ID,
                                              BAD_CTRL_ID,     BAD_UTF8};
static const enum bad_kind status_kinds[] = {
    BAD_STATUS,   BAD_STATUS,    BAD_TS_HOUR24, BAD_TS_DATE,   BAD_TS_FRAC7, BAD_TS_SUFFIX,
    BAD_TS_LOWER, BAD_TS_MINUS0, BAD_TS_SEC60,  BAD_TS_FORMAT, BAD_TS_EMPTY, BAD_TS_DOT};
static const enum bad_kind hours_kinds[] = {BAD_DAY_7,   BAD_DAY_NAME,   BAD_DAY_OTHER, BAD_TIME_25,
                                            BAD_TIME_24, BAD_TIME_SHORT, BAD_TIME_OTHER};
static const enum bad_kind tz_kinds[] = {BAD_ZONE_UNKNOWN, BAD_ZONE_UNKNOWN, BAD_ZONE_CONFLICT};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Half of the bad rows are of the kinds every file has, half specific to the file. */
static enum bad_kind pick_kind(struct rng *r, enum file_idx f)
{
    if (rng_chance(r, 0.5))
        return generic_kinds[rng_below(r, NELEM(generic_kinds))];
    switch (f) {
    case F_STATUS:
        return status_kinds[rng_below(r, NELEM(status_kinds))];
    case F_HOURS:
        return hours_kinds[rng_below(r, NELEM(hours_kinds))];
    default:
        return tz_kinds[rng_below(r, NELEM(tz_kinds))];
    }
}

/*
 * Writes the store_id column of a bad row: the store's own id, except for the store_id
 * kinds, which write a broken id (each row has exactly one defect).
 */
static char *put_bad_id(char *p, struct rng *r, enum bad_kind k, const char *id, size_t idlen)
{
    static const char *const ctrl[] = {"\x01", "\x7f", "\xc2\x85", "\t"};
    static const char *const utf8[] = {"\xff", "\xc3", "\xed\xa0\x80", "\xc0\xaf"};
    switch (k) {
    case BAD_EMPTY_ID:
        return rng_chance(r, 0.5) ? p : put_mem(p, "   ", 3);
    case BAD_LONG_ID:
        for (int i = 0; i < 129; i++)
            *p++ = (char)('0' + (i * 7 + (int)idlen) % 10);
        return p;
    case BAD_CTRL_ID: {
        size_t half = idlen / 2;
        p = put_mem(p, id, half);
        p = put_str(p, ctrl[rng_below(r, NELEM(ctrl))]);
        return put_mem(p, id + half, idlen - half);
    }
    case BAD_UTF8: {
        size_t half = idlen / 2;
        p = put_mem(p, id, half);
        p = put_str(p, utf8[rng_below(r, NELEM(utf8))]);
        return put_mem(p, id + half, idlen - half);
    }
    case BAD_QUOTING:
        *p++ = '"';
        p = put_mem(p, id, idlen);
        return put_mem(p, "\"x", 2);
    default:
        return put_mem(p, id, idlen);
    }
}

/*
 * Starts a malformed row of kind k in file f: counts it, and writes either a whole
 * whitespace-only line (returns NULL: the row is done) or the store id, bad or not per k
 * (returns where the next field goes).
 */
static char *bad_row_start(struct out *o, struct rng *r, enum file_idx f, enum bad_kind k,
                           const char *id, size_t idlen)
{
    char *p = row_begin(o);

    bad_counts[f][k]++;
    o->bad++;
    if (k == BAD_BLANK_LINE) {
        p = put_mem(p, " \t ", 1 + rng_below(r, 3));
        row_end(o, p);
        return NULL;
    }
    return put_bad_id(p, r, k, id, idlen);
}

/* Writes a malformed status row for store id, near instant t. */
static void write_bad_status(struct out *o, struct rng *r, const char *id, size_t idlen, int64_t t)
{
    enum bad_kind k = pick_kind(r, F_STATUS);
    char *p = bad_row_start(o, r, F_STATUS, k, id, idlen);
    if (!p)
        return;
    *p++ = ',';
    if (k == BAD_STATUS) {
        static const char *const st[] = {"unknown", "", "up", "activ", "inactive!", "0", "down"};
        p = put_str(p, st[rng_below(r, NELEM(st))]);
    } else {
        p = put_str(p, rng_chance(r, 0.8) ? "active" : "inactive");
    }
    if (k == BAD_FIELDS_LESS) {
        row_end(o, p);
        return;
    }
    *p++ = ',';
    switch (k) {
    case BAD_TS_HOUR24:
        p = put_date(p, t);
        p = put_mem(p, " 24:00:00 UTC", 13);
        break;
    case BAD_TS_DATE: {
        static const char *const dates[] = {"2023-02-30", "2023-02-29", "2023-04-31", "2023-13-01",
                                            "2023-00-10", "2023-06-00", "0000-01-01", "2023-1-22"};
        p = put_str(p, dates[rng_below(r, NELEM(dates))]);
        *p++ = ' ';
        p = put_clock(p, t);
        p = put_mem(p, " UTC", 4);
        break;
    }
    case BAD_TS_FRAC7:
        p = put_time(p, t, UP_TIME_SPACE, UP_FRAC_NONE);
        p = put_mem(p, ".1234567 UTC", 12);
        break;
    case BAD_TS_SUFFIX:
        p = put_time(p, t, rng_chance(r, 0.5) ? UP_TIME_SPACE : UP_TIME_T, UP_FRAC_TRIM);
        break;
    case BAD_TS_LOWER:
        p = put_time(p, t, UP_TIME_SPACE, UP_FRAC_TRIM);
        p = put_str(p, rng_chance(r, 0.5) ? " utc" : "  UTC");
        break;
    case BAD_TS_MINUS0:
        p = put_time(p, t, UP_TIME_T, UP_FRAC_TRIM);
        p = put_str(p, rng_chance(r, 0.5) ? "-00:00" : "+01:00");
        break;
    case BAD_TS_SEC60:
        p = put_date(p, t);
        p = put_mem(p, " 23:59:60 UTC", 13);
        break;
    case BAD_TS_FORMAT: {
        static const char *const f[] = {
            "1/22/2023 12:09", "2023/01/22 12:09:39 UTC",        "2023-01-22 12:09 UTC",
            "1674389379",      "2023-01-22 12:09:39.388884 GMT", "2023-01-22"};
        p = put_str(p, f[rng_below(r, NELEM(f))]);
        break;
    }
    case BAD_TS_EMPTY:
        break;
    case BAD_TS_DOT:
        p = put_time(p, t, UP_TIME_SPACE, UP_FRAC_NONE);
        p = put_mem(p, ". UTC", 5);
        break;
    default:
        p = put_time(p, t, UP_TIME_SPEC, UP_FRAC_TRIM);
        break;
    }
    if (k == BAD_FIELDS_MORE)
        p = put_str(p, rng_chance(r, 0.5) ? "," : ",extra");
    row_end(o, p);
}

/* Writes a malformed hours row for store id. */
static void write_bad_hours(struct out *o, struct rng *r, const char *id, size_t idlen)
{
    enum bad_kind k = pick_kind(r, F_HOURS);
    char *p = bad_row_start(o, r, F_HOURS, k, id, idlen);
    if (!p)
        return;
    *p++ = ',';
    switch (k) {
    case BAD_DAY_7:
        *p++ = '7';
        break;
    case BAD_DAY_NAME: {
        static const char *const d[] = {"Mon", "Tuesday", "sun"};
        p = put_str(p, d[rng_below(r, NELEM(d))]);
        break;
    }
    case BAD_DAY_OTHER: {
        static const char *const d[] = {"03", "3.0", "-1", "", "8", "1 2"};
        p = put_str(p, d[rng_below(r, NELEM(d))]);
        break;
    }
    default:
        *p++ = (char)('0' + rng_below(r, 7));
        break;
    }
    *p++ = ',';
    const char *bad_time = NULL;
    switch (k) {
    case BAD_TIME_25:
        bad_time = rng_chance(r, 0.5) ? "25:00:00" : "25:00";
        break;
    case BAD_TIME_24:
        bad_time = rng_chance(r, 0.5) ? "24:00:00" : "24:00";
        break;
    case BAD_TIME_SHORT:
        bad_time = rng_chance(r, 0.5) ? "9:00" : "9:00:00";
        break;
    case BAD_TIME_OTHER: {
        static const char *const t[] = {"12:60:00",         "12:00:60", "noon",      "",
                                        "12:00:00.1234567", "12.00",    "12:00:00.", "12:0"};
        bad_time = t[rng_below(r, NELEM(t))];
        break;
    }
    default:
        break;
    }
    int bad_in_end = bad_time != NULL && rng_chance(r, 0.5);
    p = put_str(p, bad_time != NULL && !bad_in_end ? bad_time : "10:00:00");
    if (k == BAD_FIELDS_LESS) {
        row_end(o, p);
        return;
    }
    *p++ = ',';
    p = put_str(p, bad_in_end ? bad_time : "22:00:00");
    if (k == BAD_FIELDS_MORE)
        p = put_str(p, ",x");
    row_end(o, p);
}

/* ---------------------------------------------------------------- stores */

static const char *const zones[] = {"America/Chicago",     "America/New_York",    "America/Denver",
                                    "America/Los_Angeles", "America/Boise",       "Asia/Beirut",
                                    "Asia/Kolkata",        "Australia/Lord_Howe", "Pacific/Chatham",
                                    "Europe/London",       "US/Central",          "UTC"};
static const int zone_weights[] = {34, 26, 6, 14, 3, 2, 2, 2, 2, 3, 3, 3};

/* Writes a malformed timezone row; `zone` is the store's valid zone or NULL. */
static void write_bad_tz(struct out *o, struct rng *r, const char *id, size_t idlen,
                         const char *zone)
{
    enum bad_kind k = pick_kind(r, F_TZ);
    if (k == BAD_ZONE_CONFLICT && zone == NULL)
        k = BAD_ZONE_UNKNOWN;
    char *p = bad_row_start(o, r, F_TZ, k, id, idlen);
    if (!p)
        return;
    if (k == BAD_FIELDS_LESS) {
        row_end(o, p);
        return;
    }
    *p++ = ',';
    if (k == BAD_ZONE_UNKNOWN) {
        static const char *const z[] = {
            "Mars/Olympus_Mons", "America/Chicag", "america/chicago", "", "../../etc/passwd", "CST",
            "America/Chicago/",  "Asia/Bombay2"};
        p = put_str(p, z[rng_below(r, NELEM(z))]);
    } else if (k == BAD_ZONE_CONFLICT) {
        const char *other = zone;
        while (strcmp(other, zone) == 0)
            other = zones[rng_below(r, NELEM(zones))];
        p = put_str(p, other);
    } else {
        p = put_str(p, zone != NULL ? zone : "America/New_York");
    }
    if (k == BAD_FIELDS_MORE)
        p = put_str(p, ",x");
    row_end(o, p);
}

enum id_mode { IDS_INT, IDS_UUID, IDS_MIXED };

struct config {
    const char *out_dir;
    int64_t stores;
    int64_t polls_per_day;
    int64_t days;
    int64_t end;
    uint64_t seed;
    double bad;
    enum id_mode ids;
    int bom;
    int crlf;
    int quiet; /* no summary on stderr */
};

/* The state of one store while its polls are merged with those of its group. */
struct store {
    char id[ID_MAX];
    size_t idlen;
    struct rng rp;  /* polls and their formatting */
    struct rng rb;  /* malformed status rows */
    int64_t t;      /* instant of the pending poll; INT64_MAX when exhausted */
    int status;     /* of the pending poll: 1 active, 0 inactive */
    int64_t base;   /* schedule the next poll is jittered around */
    int64_t step;   /* mean spacing of polls */
    int64_t jitter; /* polls land within base +- jitter */
    int64_t stop;   /* no poll after this instant */
    int force_end;  /* this store's last poll is exactly at --end */
    int single;     /* one poll only */
    int outage_left;
    int out_max;
    double p_out, p_blip, p_gap;
};

static void make_id(struct store *s, struct rng *r, enum id_mode mode)
{
    int uuid = mode == IDS_UUID || (mode == IDS_MIXED && rng_chance(r, 0.5));
    uint64_t a = rng_next(r);
    uint64_t b = rng_next(r);
    if (!uuid) {
        /* 58 to 63 significant bits, like the real ids (17 to 19 digits). */
        uint64_t v = a >> (1 + rng_below(r, 6));
        if (v == 0)
            v = 1;
        s->idlen = (size_t)(put_u64(s->id, v) - s->id);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    unsigned char bytes[16];
    for (int i = 0; i < 8; i++) {
        bytes[i] = (unsigned char)(a >> (8 * i));
        bytes[8 + i] = (unsigned char)(b >> (8 * i));
    }
    bytes[6] = (unsigned char)((bytes[6] & 0x0f) | 0x40);
    bytes[8] = (unsigned char)((bytes[8] & 0x3f) | 0x80);
    char *p = s->id;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[bytes[i] >> 4];
        *p++ = hex[bytes[i] & 15];
    }
    s->idlen = (size_t)(p - s->id);
}

struct hrow {
    int day;
    int64_t start, end; /* microseconds since midnight */
    int fmt;
};

#define HM(h, m) ((int64_t)((h)*60 + (m)) * UP_USEC_PER_MIN)
#define HMS(h, m, s) ((int64_t)((h)*3600 + (m)*60 + (s)) * UP_USEC_PER_SEC)

static int add_row(struct hrow *rows, int n, int day, int64_t start, int64_t end, int fmt)
{
    if (n >= MAX_HOURS_ROWS)
        return n;
    rows[n].day = day;
    rows[n].start = start;
    rows[n].end = end;
    rows[n].fmt = fmt;
    return n + 1;
}

/* Builds the store's hours rows; returns how many (0 = 24x7). */
static int make_hours(struct rng *r, struct hrow *rows)
{
    static const int64_t simple[][2] = {
        {HM(9, 0), HM(21, 0)},        {HM(10, 30), HMS(23, 59, 59)}, {HM(11, 0), HM(22, 0)},
        {HM(11, 0), HM(23, 0)},       {HM(10, 0), HM(22, 0)},        {HM(6, 0), HM(23, 59)},
        {HM(7, 0), HM(19, 0)},        {HM(11, 0), HM(20, 30)},       {HM(8, 0), HM(22, 0)},
        {HM(10, 0), HMS(23, 59, 59)}, {HM(11, 0), HM(21, 30)},       {HM(6, 0), HM(22, 0)},
        {HM(9, 0), HM(17, 0)}};
    static const int style_w[] = {10, 34, 10, 12, 10, 7, 3, 4, 3, 7};
    int style = rng_weighted(r, style_w, (int)NELEM(style_w));
    int n = 0;
    double p_closed = rng_chance(r, 0.3) ? 0.15 : 0.0;
    int fmt = rng_chance(r, 0.05) ? 1 : (rng_chance(r, 0.02) ? 2 : 0);
    if (style == 0)
        return 0;
    int t = (int)rng_below(r, NELEM(simple));
    int64_t weekend_shift = rng_chance(r, 0.3) ? HM(1, 0) : 0;
    for (int day = 0; day < 7; day++) {
        if (rng_chance(r, p_closed))
            continue;
        int64_t ws = day >= 5 ? weekend_shift : 0;
        switch (style) {
        case 1: /* one interval a day */
            n = add_row(rows, n, day, simple[t][0],
                        simple[t][1] + (simple[t][1] + ws < UP_USEC_PER_DAY ? ws : 0), fmt);
            break;
        case 2: /* all day, as most real stores */
            n = add_row(rows, n, day, 0, rng_chance(r, 0.5) ? HMS(23, 59, 0) : HMS(23, 59, 59),
                        fmt);
            break;
        case 3: /* lunch and dinner, sometimes breakfast too */
            if (t % 3 == 0)
                n = add_row(rows, n, day, HM(7, 0), HM(10, 0), fmt);
            n = add_row(rows, n, day, HM(11, 0) + (int64_t)(t % 2) * HM(0, 30), HM(14, 30), fmt);
            n = add_row(rows, n, day, HM(17, 0), HM(22, 0) + ws, fmt);
            break;
        case 4: /* overnight, split at midnight into two rows as in the real files */
            n = add_row(rows, n, day, HM(17, 0) + (int64_t)(t % 4) * HM(1, 0), HMS(23, 59, 59),
                        fmt);
            n = add_row(rows, n, (day + 1) % 7, 0, HM(1, 0) + (int64_t)(t % 3) * HM(1, 0), fmt);
            break;
        case 5: /* overnight as one row, end < start */
            n = add_row(rows, n, day, HM(18, 0) + (int64_t)(t % 4) * HM(1, 0),
                        HM(2, 0) + (int64_t)(t % 3) * HM(0, 30), fmt);
            break;
        case 6: /* start == end: 24 hours from start, on some days */
            if (rng_chance(r, 0.5))
                n = add_row(rows, n, day, HM(t % 2 == 0 ? 0 : 6, 0), HM(t % 2 == 0 ? 0 : 6, 0),
                            fmt);
            else
                n = add_row(rows, n, day, simple[t][0], simple[t][1], fmt);
            break;
        case 7: /* overlapping rows, or an identical repeat */
            n = add_row(rows, n, day, HM(9, 0), HM(17, 0), fmt);
            if (rng_chance(r, 0.5))
                n = add_row(rows, n, day, HM(12, 0), HM(21, 0), fmt);
            else
                n = add_row(rows, n, day, HM(9, 0), HM(17, 0), fmt);
            break;
        case 8: /* night hours that cross DST changes (02:30-03:15 is empty on spring-forward day)
                 */
            n = add_row(rows, n, day, t % 2 ? HM(1, 30) : HM(2, 30), t % 2 ? HM(3, 30) : HM(3, 15),
                        fmt);
            n = add_row(rows, n, day, HM(10, 0), HM(20, 0), fmt);
            break;
        default: { /* irregular: quarter hours, some overnight */
            int64_t s = (int64_t)rng_below(r, 96) * HM(0, 15);
            int64_t e =
                (int64_t)rng_below(r, 96) * HM(0, 15) + (rng_chance(r, 0.1) ? HMS(0, 0, 59) : 0);
            if (rng_chance(r, 0.05))
                e += 999999;
            n = add_row(rows, n, day, s, e, rng_chance(r, 0.1) ? 2 : fmt);
            break;
        }
        }
    }
    /* Real files list a store's rows in no particular day order. */
    if (rng_chance(r, 0.7)) {
        for (int i = n - 1; i > 0; i--) {
            int j = (int)rng_below(r, (uint64_t)i + 1);
            struct hrow tmp = rows[i];
            rows[i] = rows[j];
            rows[j] = tmp;
        }
    }
    return n;
}

/* Writes store_id, quoted or padded with spaces now and then (both valid per SPEC). */
static char *put_id_field(char *p, struct rng *r, const struct store *s)
{
    double u = rng_unit(r);
    if (u < 0.01) {
        *p++ = '"';
        p = put_mem(p, s->id, s->idlen);
        *p++ = '"';
    } else if (u < 0.013) {
        p = put_mem(p, " ", 1);
        p = put_mem(p, s->id, s->idlen);
        p = put_mem(p, " \t", 2);
    } else {
        p = put_mem(p, s->id, s->idlen);
    }
    return p;
}

static void write_hours(struct out *o, struct rng *r, struct rng *rbad, const struct config *c,
                        const struct store *s)
{
    struct hrow rows[MAX_HOURS_ROWS];
    int n = make_hours(r, rows);
    if (n == 0 && c->bad > 0 && rng_chance(rbad, c->bad))
        write_bad_hours(o, rbad, s->id, s->idlen); /* a 24x7 store whose only row is rejected */
    for (int i = 0; i < n; i++) {
        while (c->bad > 0 && rng_chance(rbad, c->bad))
            write_bad_hours(o, rbad, s->id, s->idlen);
        char *p = row_begin(o);
        p = put_id_field(p, r, s);
        *p++ = ',';
        *p++ = (char)('0' + rows[i].day);
        *p++ = ',';
        p = put_tod(p, rows[i].start, rows[i].fmt);
        *p++ = ',';
        p = put_tod(p, rows[i].end, rows[i].fmt);
        row_end(o, p);
    }
}

static void write_tz(struct out *o, struct rng *r, struct rng *rbad, const struct config *c,
                     const struct store *s)
{
    const char *zone = NULL;
    int has_zone = rng_chance(r, 0.9);
    if (has_zone)
        zone = zones[rng_weighted(r, zone_weights, (int)NELEM(zone_weights))];
    int repeats = has_zone && rng_chance(r, 0.02) ? 2 : (has_zone ? 1 : 0);
    /* Unknown zones may come before the valid row; conflicting ones only after it. */
    if (c->bad > 0 && rng_chance(rbad, c->bad))
        write_bad_tz(o, rbad, s->id, s->idlen, NULL);
    for (int i = 0; i < repeats; i++) {
        char *p = row_begin(o);
        p = put_id_field(p, r, s);
        *p++ = ',';
        p = put_str(p, zone);
        row_end(o, p);
    }
    if (c->bad > 0 && has_zone) {
        while (rng_chance(rbad, c->bad))
            write_bad_tz(o, rbad, s->id, s->idlen, zone);
    }
}

/* Draws the status of the next poll from the store's outage model. */
static int draw_status(struct store *s)
{
    if (s->outage_left > 0) {
        s->outage_left--;
        return 0;
    }
    if (rng_chance(&s->rp, s->p_out)) {
        s->outage_left = (int)rng_below(&s->rp, (uint64_t)s->out_max);
        return 0;
    }
    return rng_chance(&s->rp, s->p_blip) ? 0 : 1;
}

/* Moves the store to its next poll (or INT64_MAX when it has no more). */
static void poll_advance(struct store *s, const struct config *c)
{
    int64_t prev = s->t;
    if (s->single && prev != INT64_MIN) {
        s->t = INT64_MAX;
        return;
    }
    if (prev != INT64_MIN)
        s->base += s->step;
    if (s->p_gap > 0 && rng_chance(&s->rp, s->p_gap))
        s->base += (int64_t)(2 + rng_below(&s->rp, 30)) * UP_USEC_PER_HOUR;
    int64_t t = s->base - s->jitter + (int64_t)rng_below(&s->rp, (uint64_t)(2 * s->jitter + 1));
    if (rng_chance(&s->rp, 0.015))
        t -= t % UP_USEC_PER_SEC; /* a whole second: printed without a fraction */
    if (prev != INT64_MIN && t <= prev)
        t = prev + 1 + (int64_t)rng_below(&s->rp, (uint64_t)UP_USEC_PER_SEC);
    if (t > s->stop) {
        if (s->force_end && prev < c->end) {
            t = c->end;
            s->force_end = 0;
        } else {
            s->t = INT64_MAX;
            return;
        }
    }
    s->t = t;
    s->status = draw_status(s);
}

/* Draws a store's poll schedule and outage model; idx 0 always polls exactly at --end. */
static void store_init(struct store *s, struct rng *r, const struct config *c, int64_t idx)
{
    int64_t span = c->days * UP_USEC_PER_DAY;
    int64_t start = c->end - span;
    s->step = UP_USEC_PER_DAY / c->polls_per_day;
    if (rng_chance(r, 0.15) && idx != 0) /* sparse pollers */
        s->step *= (int64_t)(2 + rng_below(r, 5));
    s->jitter = s->step / 4 < 6 * UP_USEC_PER_MIN ? s->step / 4 : 6 * UP_USEC_PER_MIN;
    s->base = start + (int64_t)rng_below(r, (uint64_t)s->step);
    s->stop = c->end;
    s->single = 0;
    double u = rng_unit(r);
    if (idx != 0 && u < 0.04) /* a new store: starts polling late */
        s->base =
            c->end - (int64_t)rng_below(
                         r, (uint64_t)(span < 3 * UP_USEC_PER_DAY ? span : 3 * UP_USEC_PER_DAY));
    else if (idx != 0 && u < 0.07) /* stopped reporting a while ago */
        s->stop =
            c->end - UP_USEC_PER_HOUR - (int64_t)rng_below(r, (uint64_t)(3 * UP_USEC_PER_DAY));
    else if (idx != 0 && u < 0.08)
        s->single = 1;
    s->p_gap = rng_chance(r, 0.05) ? 0.02 : 0.0;
    static const int class_w[] = {55, 30, 12, 3};
    switch (rng_weighted(r, class_w, (int)NELEM(class_w))) {
    case 0:
        s->p_out = 0.003, s->p_blip = 0.005, s->out_max = 4;
        break;
    case 1:
        s->p_out = 0.02, s->p_blip = 0.04, s->out_max = 8;
        break;
    case 2:
        s->p_out = 0.08, s->p_blip = 0.1, s->out_max = 24;
        break;
    default:
        s->p_out = 0.0, s->p_blip = 0.9, s->out_max = 1;
        break;
    }
    s->outage_left = 0;
    s->force_end = idx == 0;
    s->t = INT64_MIN;
    poll_advance(s, c);
}

/* Writes one good status row for the store's pending poll, sometimes oddly formatted. */
static void put_status_row(struct out *o, struct store *s, int status, enum up_time_style style)
{
    struct rng *r = &s->rp;
    char *p = row_begin(o);
    p = put_id_field(p, r, s);
    *p++ = ',';
    double u = rng_unit(r);
    if (u < 0.002)
        p = put_str(p, status ? "Active" : "INACTIVE");
    else if (u < 0.003)
        p = put_str(p, status ? " active" : "inactive ");
    else if (u < 0.004)
        p = put_str(p, status ? "\"active\"" : "\"inactive\"");
    else
        p = put_str(p, status ? "active" : "inactive");
    *p++ = ',';
    p = put_time(p, s->t, style, UP_FRAC_TRIM);
    row_end(o, p);
}

static enum up_time_style draw_style(struct rng *r)
{
    double u = rng_unit(r);
    return u < 0.005 ? UP_TIME_ISO_Z : (u < 0.007 ? UP_TIME_ISO_PLUS : UP_TIME_SPEC);
}

static void write_status(struct out *o, struct store *s, const struct config *c)
{
    while (c->bad > 0 && rng_chance(&s->rb, c->bad))
        write_bad_status(o, &s->rb, s->id, s->idlen, s->t);
    put_status_row(o, s, s->status, draw_style(&s->rp));
    double u = rng_unit(&s->rp);
    if (u < 0.003) /* the same instant again with the other status: inactive wins */
        put_status_row(o, s, !s->status, draw_style(&s->rp));
    else if (u < 0.005) /* an exact repeat */
        put_status_row(o, s, s->status, draw_style(&s->rp));
}

/* ---------------------------------------------------------------- driver */

static int open_out(struct out *o, const char *dir, const char *name, const struct config *c,
                    const char *header)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    memset(o, 0, sizeof(*o));
    o->crlf = c->crlf;
    o->path = malloc(n);
    o->buf = malloc(OUT_CAP);
    if (o->path == NULL || o->buf == NULL) {
        fprintf(stderr, "uptime_gen: out of memory\n");
        return UP_ENOMEM;
    }
    int w = snprintf(o->path, n, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= n)
        return UP_EFAIL;
    o->fp = fopen(o->path, "wb");
    if (o->fp == NULL) {
        fprintf(stderr, "uptime_gen: cannot create %s: %s\n", o->path, strerror(errno));
        return UP_EIO;
    }
    char *p = row_begin(o);
    if (c->bom)
        p = put_mem(p, "\xef\xbb\xbf", 3);
    p = put_str(p, header);
    row_end(o, p);
    o->rows = 0;
    return UP_OK;
}

/* Flushes and closes; returns UP_EIO if any write or the close failed. */
static int close_out(struct out *o)
{
    int rc = UP_OK;
    if (o->fp != NULL) {
        out_flush(o);
        if (fclose(o->fp) != 0 && o->err == 0)
            o->err = errno != 0 ? errno : EIO;
        o->fp = NULL;
        if (o->err != 0) {
            fprintf(stderr, "uptime_gen: write error on %s: %s\n", o->path, strerror(o->err));
            rc = UP_EIO;
        }
    }
    free(o->buf);
    free(o->path);
    o->buf = NULL;
    o->path = NULL;
    return rc;
}

/* Stream numbers of a store's random generators. */
enum { RS_ID, RS_HOURS, RS_TZ, RS_POLL, RS_BAD_STATUS, RS_BAD_HOURS, RS_BAD_TZ, RS_MODEL };

static void generate(struct out *outs, const struct config *c, struct store *group)
{
    for (int64_t g0 = 0; g0 < c->stores; g0 += GROUP) {
        int n = c->stores - g0 < GROUP ? (int)(c->stores - g0) : GROUP;
        for (int i = 0; i < n; i++) {
            int64_t idx = g0 + i;
            struct store *s = &group[i];
            struct rng rid, rh, rt, rm, rbh, rbt;
            rng_seed(&rid, c->seed, (uint64_t)idx, RS_ID);
            rng_seed(&rh, c->seed, (uint64_t)idx, RS_HOURS);
            rng_seed(&rt, c->seed, (uint64_t)idx, RS_TZ);
            rng_seed(&rm, c->seed, (uint64_t)idx, RS_MODEL);
            rng_seed(&rbh, c->seed, (uint64_t)idx, RS_BAD_HOURS);
            rng_seed(&rbt, c->seed, (uint64_t)idx, RS_BAD_TZ);
            rng_seed(&s->rp, c->seed, (uint64_t)idx, RS_POLL);
            rng_seed(&s->rb, c->seed, (uint64_t)idx, RS_BAD_STATUS);
            make_id(s, &rid, c->ids);
            /* A few stores appear only in hours/timezones (counted, not reported). */
            int in_status = idx == 0 || !rng_chance(&rm, 0.02);
            write_hours(&outs[F_HOURS], &rh, &rbh, c, s);
            write_tz(&outs[F_TZ], &rt, &rbt, c, s);
            store_init(s, &rm, c, idx);
            if (!in_status)
                s->t = INT64_MAX;
        }
        /* Merge the group's polls by time, as the real file is roughly time-ordered. */
        for (;;) {
            int best = -1;
            for (int i = 0; i < n; i++) {
                if (group[i].t != INT64_MAX && (best < 0 || group[i].t < group[best].t))
                    best = i;
            }
            if (best < 0)
                break;
            write_status(&outs[F_STATUS], &group[best], c);
            poll_advance(&group[best], c);
        }
        if (outs[F_STATUS].err != 0 || outs[F_HOURS].err != 0 || outs[F_TZ].err != 0)
            return;
    }
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: uptime_gen -o DIR [options]\n"
            "Writes DIR/store_status.csv, DIR/menu_hours.csv and DIR/timezones.csv: realistic,\n"
            "deterministic (same arguments, same bytes) input for uptime_load.\n"
            "\n"
            "  -o, --output DIR              output directory, created if missing (--out too)\n"
            "      --stores N                number of stores (default 100)\n"
            "      --polls-per-store-day K   mean polls per store and day (default 24)\n"
            "      --days D                  days of polls before --end (default 8)\n"
            "      --end TS                  the latest poll, a SPEC timestamp\n"
            "                                (default \"" DEFAULT_END "\")\n"
            "      --seed S                  random seed, unsigned 64-bit (default 1)\n"
            "      --bad FRACTION            fraction of malformed rows per file, 0 <= F <= 0.9\n"
            "                                (default 0)\n"
            "      --ids int|uuid|mixed      store id style (default int; int uses the 2023\n"
            "                                hours header `day`, others `dayOfWeek`)\n"
            "      --bom                     start each file with a UTF-8 BOM\n"
            "      --crlf                    end lines with CRLF\n"
            "  -q, --quiet                   no summary (rows and malformed rows per kind, on\n"
            "                                stderr)\n"
            "  -h, --help                    this text\n"
            "\n"
            "Exit codes: 0 ok, 2 bad usage, 4 I/O error, 5 out of memory.\n");
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int bad_arg(const char *opt, const char *val, const char *what)
{
    fprintf(stderr, "uptime_gen: invalid %s '%s': %s\n", opt, val, what);
    fprintf(stderr, "Try 'uptime_gen --help'.\n");
    return UP_EUSAGE;
}

/* Parses the command line into c; returns UP_OK, UP_EUSAGE, or -1 after --help. */
static int parse_args(int argc, char **argv, struct config *c)
{
    /* Short options only where README's table gives them one meaning in every tool. */
    enum {
        OPT_STORES = 256,
        OPT_PPD,
        OPT_DAYS,
        OPT_END,
        OPT_SEED,
        OPT_BAD,
        OPT_IDS,
        OPT_BOM,
        OPT_CRLF
    };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"out", required_argument, NULL, 'o'},
        {"stores", required_argument, NULL, OPT_STORES},
        {"polls-per-store-day", required_argument, NULL, OPT_PPD},
        {"days", required_argument, NULL, OPT_DAYS},
        {"end", required_argument, NULL, OPT_END},
        {"seed", required_argument, NULL, OPT_SEED},
        {"bad", required_argument, NULL, OPT_BAD},
        {"ids", required_argument, NULL, OPT_IDS},
        {"bom", no_argument, NULL, OPT_BOM},
        {"crlf", no_argument, NULL, OPT_CRLF},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *end_arg = DEFAULT_END;
    memset(c, 0, sizeof(*c));
    c->stores = 100;
    c->polls_per_day = 24;
    c->days = 8;
    c->seed = 1;
    c->ids = IDS_INT;
    opterr = 0;
    for (;;) {
        int opt = getopt_long(argc, argv, ":o:qh", longopts, NULL);
        if (opt == -1)
            break;
        switch (opt) {
        case 'o':
            c->out_dir = optarg;
            break;
        case OPT_STORES:
            if (parse_i64(optarg, 1, INT64_C(100000000), &c->stores) != 0)
                return bad_arg("--stores", optarg, "expected an integer 1..100000000");
            break;
        case OPT_PPD:
            if (parse_i64(optarg, 1, 1440, &c->polls_per_day) != 0)
                return bad_arg("--polls-per-store-day", optarg, "expected an integer 1..1440");
            break;
        case OPT_DAYS:
            if (parse_i64(optarg, 1, 3650, &c->days) != 0)
                return bad_arg("--days", optarg, "expected an integer 1..3650");
            break;
        case OPT_END:
            end_arg = optarg;
            break;
        case OPT_SEED: {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 0);
            if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-')
                return bad_arg("--seed", optarg, "expected an unsigned 64-bit integer");
            c->seed = (uint64_t)v;
            break;
        }
        case OPT_BAD: {
            char *end = NULL;
            errno = 0;
            double v = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(v >= 0.0 && v <= 0.9))
                return bad_arg("--bad", optarg, "expected a fraction 0..0.9");
            c->bad = v;
            break;
        }
        case OPT_IDS:
            if (strcmp(optarg, "int") == 0)
                c->ids = IDS_INT;
            else if (strcmp(optarg, "uuid") == 0)
                c->ids = IDS_UUID;
            else if (strcmp(optarg, "mixed") == 0)
                c->ids = IDS_MIXED;
            else
                return bad_arg("--ids", optarg, "expected int, uuid or mixed");
            break;
        case OPT_BOM:
            c->bom = 1;
            break;
        case OPT_CRLF:
            c->crlf = 1;
            break;
        case 'q':
            c->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return -1;
        case ':':
            fprintf(stderr, "uptime_gen: option %s needs a value\nTry 'uptime_gen --help'.\n",
                    argv[optind - 1]);
            return UP_EUSAGE;
        default:
            fprintf(stderr, "uptime_gen: unknown option %s\nTry 'uptime_gen --help'.\n",
                    argv[optind - 1]);
            return UP_EUSAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "uptime_gen: unexpected argument '%s'\nTry 'uptime_gen --help'.\n",
                argv[optind]);
        return UP_EUSAGE;
    }
    if (c->out_dir == NULL) {
        fprintf(stderr, "uptime_gen: --output DIR is required\nTry 'uptime_gen --help'.\n");
        return UP_EUSAGE;
    }
    const char *why = NULL;
    if (up_parse_timestamp(end_arg, strlen(end_arg), &c->end, &why) != 0)
        return bad_arg("--end", end_arg, why);
    /* Keep every printed instant within years 0001..9999. */
    int64_t lo = up_days_from_civil(1, 1, 2) * UP_USEC_PER_DAY + c->days * UP_USEC_PER_DAY;
    if (c->end < lo)
        return bad_arg("--end", end_arg, "too early for --days");
    return UP_OK;
}

static void report_counts(const struct out *outs)
{
    static const char *const names[F_COUNT] = {"store_status.csv", "menu_hours.csv",
                                               "timezones.csv"};
    for (int f = 0; f < F_COUNT; f++) {
        fprintf(stderr, "uptime_gen: %s: %" PRIu64 " rows, %" PRIu64 " malformed", names[f],
                outs[f].rows, outs[f].bad);
        const char *sep = " (";
        for (int k = 0; k < BAD_NKINDS; k++) {
            if (bad_counts[f][k] == 0)
                continue;
            fprintf(stderr, "%s%s=%" PRIu64, sep, bad_names[k], bad_counts[f][k]);
            sep = ", ";
        }
        fprintf(stderr, "%s\n", outs[f].bad > 0 ? ")" : "");
    }
}

int main(int argc, char **argv)
{
    struct config c;
    struct out outs[F_COUNT];
    struct store *group = NULL;
    int rc = parse_args(argc, argv, &c);
    if (rc == -1)
        return fflush(stdout) == 0 ? UP_OK : UP_EIO;
    if (rc != UP_OK)
        return rc;
    memset(outs, 0, sizeof(outs));
    if (mkdir(c.out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "uptime_gen: cannot create directory %s: %s\n", c.out_dir, strerror(errno));
        return UP_EIO;
    }
    rc = open_out(&outs[F_STATUS], c.out_dir, "store_status.csv", &c,
                  "store_id,status,timestamp_utc");
    if (rc == UP_OK)
        rc = open_out(&outs[F_HOURS], c.out_dir, "menu_hours.csv", &c,
                      c.ids == IDS_INT ? "store_id,day,start_time_local,end_time_local"
                                       : "store_id,dayOfWeek,start_time_local,end_time_local");
    if (rc == UP_OK)
        rc = open_out(&outs[F_TZ], c.out_dir, "timezones.csv", &c, "store_id,timezone_str");
    if (rc != UP_OK)
        goto done;
    group = calloc(GROUP, sizeof(*group));
    if (group == NULL) {
        fprintf(stderr, "uptime_gen: out of memory\n");
        rc = UP_ENOMEM;
        goto done;
    }
    generate(outs, &c, group);
done:
    free(group);
    for (int f = 0; f < F_COUNT; f++) {
        int crc = close_out(&outs[f]);
        if (rc == UP_OK)
            rc = crc;
    }
    if (rc == UP_OK && !c.quiet)
        report_counts(outs);
    return rc;
}
