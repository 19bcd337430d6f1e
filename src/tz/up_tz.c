/*
 * IANA time zones read straight from TZif files (RFC 8536) and the POSIX TZ footer,
 * with the PEP 495 fold=0 rule for wall-clock to UTC conversion.
 *
 * Everything inside this file works in whole seconds: TZif transitions and offsets are
 * whole seconds, and keeping seconds avoids overflowing int64 when a file carries a
 * "big bang" transition near -2^59. Microseconds appear only at the public edge.
 */
#include "up_tz.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "up_buf.h"
#include "up_err.h"
#include "up_time.h"

#define SECS_PER_HOUR INT64_C(3600)
#define SECS_PER_DAY INT64_C(86400)

/* RFC 8536 recommends offsets within about ±26 h; anything beyond is a corrupt file. */
#define MAX_UTOFF (26 * 3600)
/* Margin used around a wall time: wider than any offset, so transitions outside do not matter. */
#define WALL_MARGIN (27 * SECS_PER_HOUR)
/* Caps on what a TZif file may declare; real files stay far below (fat Chicago: ~240). */
#define MAX_TZIF_BYTES (1 << 20)
#define MAX_TIMECNT 100000
#define MAX_CHARCNT 4096
#define MAX_LEAPCNT 10000
#define MAX_FOOTER 512
/* Transition times beyond ±2^60 s are meaningless and would risk overflow in sums. */
#define MAX_TRANS_ABS (INT64_C(1) << 60)
/* tzdata.zi is about 110 KiB; names are few hundred. */
#define MAX_ZI_BYTES (16 << 20)
#define MAX_NAMES 20000
#define MAX_NAME_LEN 255
/* A fast window wider than this is not worth precomputing; the general path still answers. */
#define MAX_WINDOW_SECS (INT64_C(100) * 366 * SECS_PER_DAY)
/*
 * The window reaches four days past each end of [lo, hi]: business-hour wall times of a
 * report start up to two local days before its first instant, and a wall time needs the
 * transitions up to 27 h on either side of it.
 */
#define WINDOW_PAD (4 * SECS_PER_DAY)
/* Instants beyond this many seconds (about ±35,000 years) are clamped for footer rules. */
#define FOOTER_CLAMP (INT64_C(1) << 40)

/* One rule date of a POSIX TZ string: Mm.w.d, Jn or n, plus its time of day. */
struct rule_date {
    char kind; /* 'M', 'J' or 'N' (zero-based day of year) */
    int month, week, wday, day;
    int32_t secs; /* local time of the change, -167 h..167 h */
};

/* A parsed POSIX TZ footer. Offsets are UTC offsets, east positive (not POSIX's sign). */
struct footer {
    int present;
    int has_dst;
    int32_t std_off, dst_off;
    struct rule_date start, end;
};

struct up_tz {
    /* The TZif table: transition instants and the offset in force from each one on. */
    size_t ntrans;
    int64_t *trans;
    int32_t *trans_off;
    int32_t off0; /* time type 0, in force before the first transition */
    struct footer ft;
    /* The fast window: offset at win_lo and every change in (win_lo, win_hi]. */
    int64_t win_lo, win_hi; /* win_lo > win_hi means no window */
    int32_t win_off0;
    size_t nwin;
    int64_t *win_t;
    int32_t *win_off;
};

struct tz_entry {
    char *name;         /* owned */
    char *target;       /* owned; NULL for a Zone or a fallback name */
    struct up_tz *zone; /* loaded zone, NULL until first use */
    int owns_zone;      /* 1 if this entry frees zone (links borrow their target's) */
};

struct up_tzdb {
    char *dir;
    int have_zi; /* 0: tzdata.zi missing, names are checked against the files */
    int64_t lo_s, hi_s;
    struct up_buf names; /* struct tz_entry, sorted by name; at most MAX_NAMES */
};

/* The name entries (db->names.n of them). */
static struct tz_entry *ents(const struct up_tzdb *db)
{
    return db->names.p;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Adds with saturation: answers at the ends of int64 stay ordered instead of wrapping. */
static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* ---------------------------------------------------------------------------------- */
/* POSIX TZ strings                                                                    */

/* Reads an unsigned decimal of 1..maxdig digits within [lo, hi]; returns 0 or -1. */
static int parse_num(const char **p, const char *end, int maxdig, int lo, int hi, int *out)
{
    const char *s = *p;
    int v = 0, n = 0;

    while (s < end && *s >= '0' && *s <= '9' && n < maxdig) {
        v = v * 10 + (*s - '0');
        s++;
        n++;
    }
    if (n == 0 || v < lo || v > hi)
        return -1;
    if (s < end && *s >= '0' && *s <= '9')
        return -1;
    *p = s;
    *out = v;
    return 0;
}

/* Reads [+-]hh[:mm[:ss]] with hh <= maxh; stores signed seconds. */
static int parse_hms(const char **p, const char *end, int maxh, int32_t *out)
{
    const char *s = *p;
    int sign = 1, h, m = 0, sec = 0;

    if (s < end && (*s == '+' || *s == '-')) {
        sign = *s == '-' ? -1 : 1;
        s++;
    }
    if (parse_num(&s, end, 3, 0, maxh, &h) != 0)
        return -1;
    if (s < end && *s == ':') {
        s++;
        if (parse_num(&s, end, 2, 0, 59, &m) != 0)
            return -1;
        if (s < end && *s == ':') {
            s++;
            if (parse_num(&s, end, 2, 0, 59, &sec) != 0)
                return -1;
        }
    }
    *p = s;
    *out = (int32_t)(sign * (h * 3600 + m * 60 + sec));
    return 0;
}

/* Reads a zone abbreviation: three or more letters, or <...> of letters, digits, + and -. */
static int parse_abbr(const char **p, const char *end)
{
    const char *s = *p;
    size_t n = 0;

    if (s < end && *s == '<') {
        s++;
        while (s < end && *s != '>') {
            char c = *s;
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '-'))
                return -1;
            s++;
            n++;
        }
        if (s == end || n < 3)
            return -1;
        *p = s + 1;
        return 0;
    }
    while (s < end && ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))) {
        s++;
        n++;
    }
    if (n < 3)
        return -1;
    *p = s;
    return 0;
}

static int parse_rule_date(const char **p, const char *end, struct rule_date *r)
{
    const char *s = *p;

    memset(r, 0, sizeof *r);
    if (s < end && *s == 'M') {
        s++;
        r->kind = 'M';
        if (parse_num(&s, end, 2, 1, 12, &r->month) != 0 || s == end || *s++ != '.' ||
            parse_num(&s, end, 1, 1, 5, &r->week) != 0 || s == end || *s++ != '.' ||
            parse_num(&s, end, 1, 0, 6, &r->wday) != 0)
            return -1;
    } else if (s < end && *s == 'J') {
        s++;
        r->kind = 'J';
        if (parse_num(&s, end, 3, 1, 365, &r->day) != 0)
            return -1;
    } else {
        r->kind = 'N';
        if (parse_num(&s, end, 3, 0, 365, &r->day) != 0)
            return -1;
    }
    /* POSIX's default change time is 02:00; TZif v3 allows -167 h to 167 h. */
    r->secs = 2 * 3600;
    if (s < end && *s == '/') {
        s++;
        if (parse_hms(&s, end, 167, &r->secs) != 0)
            return -1;
    }
    *p = s;
    return 0;
}

/* Parses a whole footer string s[0..len); an empty one means "no footer". */
static int parse_footer(const char *s, size_t len, struct footer *f)
{
    const char *p = s, *end = s + len;
    int32_t v;

    memset(f, 0, sizeof *f);
    if (len == 0)
        return 0;
    if (parse_abbr(&p, end) != 0 || parse_hms(&p, end, 24, &v) != 0)
        return -1;
    f->present = 1;
    f->std_off = -v;
    f->dst_off = f->std_off;
    if (p == end)
        return 0;
    if (parse_abbr(&p, end) != 0)
        return -1;
    f->has_dst = 1;
    f->dst_off = f->std_off + 3600;
    if (p < end && *p != ',') {
        if (parse_hms(&p, end, 24, &v) != 0)
            return -1;
        f->dst_off = -v;
    }
    if (p == end) {
        /* No rule: tzcode falls back to the US rules, and so do we. */
        f->start = (struct rule_date){'M', 3, 2, 0, 0, 2 * 3600};
        f->end = (struct rule_date){'M', 11, 1, 0, 0, 2 * 3600};
        return 0;
    }
    if (*p++ != ',' || parse_rule_date(&p, end, &f->start) != 0 || p == end || *p++ != ',' ||
        parse_rule_date(&p, end, &f->end) != 0 || p != end)
        return -1;
    return 0;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Day number (days since 1970-01-01) on which rule r falls in year y. */
static int64_t rule_day(const struct rule_date *r, int64_t y)
{
    int64_t jan1 = up_days_from_civil(y, 1, 1);

    if (r->kind == 'J')
        /* Jn never counts 29 February, so days from March on shift by one in leap years. */
        return jan1 + r->day - 1 + (is_leap(y) && r->day >= 60 ? 1 : 0);
    if (r->kind == 'N')
        return jan1 + r->day;
    {
        int64_t first = up_days_from_civil(y, r->month, 1);
        int64_t next = r->month == 12 ? up_days_from_civil(y + 1, 1, 1)
                                      : up_days_from_civil(y, r->month + 1, 1);
        /* up_weekday counts from Monday; POSIX d counts from Sunday. */
        int wd_first = (up_weekday(first) + 1) % 7;
        int64_t day = first + (r->wday - wd_first + 7) % 7 + 7 * (int64_t)(r->week - 1);

        while (day >= next)
            day -= 7;
        return day;
    }
}

/* UTC instants of the DST start and end of year y. */
static void footer_year(const struct footer *f, int64_t y, int64_t *start, int64_t *end)
{
    /* The start is given in standard time, the end in daylight time. */
    *start = rule_day(&f->start, y) * SECS_PER_DAY + f->start.secs - f->std_off;
    *end = rule_day(&f->end, y) * SECS_PER_DAY + f->end.secs - f->dst_off;
}

static int64_t clamp_footer(int64_t t)
{
    return t > FOOTER_CLAMP ? FOOTER_CLAMP : t < -FOOTER_CLAMP ? -FOOTER_CLAMP : t;
}

static int64_t year_of(const struct footer *f, int64_t t)
{
    int64_t y;
    int m, d;

    up_civil_from_days(floor_div(clamp_footer(t) + f->std_off, SECS_PER_DAY), &y, &m, &d);
    return y;
}

/* Offset the footer rule gives at instant t. */
static int32_t footer_offset(const struct footer *f, int64_t t)
{
    int64_t y, s[5], e[5];
    int i;

    if (!f->has_dst)
        return f->std_off;
    t = clamp_footer(t);
    y = year_of(f, t);
    for (i = 0; i < 5; i++)
        footer_year(f, y - 2 + i, &s[i], &e[i]);
    /*
     * Rule times up to ±167 h can push a change into a neighbouring year, so DST periods
     * starting in the two previous years are tried too. A period runs from a year's start
     * to that year's end (northern) or to the next year's end (southern).
     */
    for (i = 0; i < 4; i++) {
        int64_t stop = s[i] < e[i] ? e[i] : e[i + 1];
        if (t >= s[i] && t < stop)
            return f->dst_off;
    }
    return f->std_off;
}

/* ---------------------------------------------------------------------------------- */
/* General offsets and transitions                                                    */

/* Offset at instant t (seconds) from the table and footer, without the fast window. */
static int32_t offset_general(const struct up_tz *tz, int64_t t)
{
    size_t lo, hi;

    if (tz->ntrans == 0)
        return tz->ft.present ? footer_offset(&tz->ft, t) : tz->off0;
    if (t < tz->trans[0])
        return tz->off0;
    if (t > tz->trans[tz->ntrans - 1])
        return tz->ft.present ? footer_offset(&tz->ft, t) : tz->trans_off[tz->ntrans - 1];
    /* The last transition at or before t. */
    lo = 0;
    hi = tz->ntrans - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return tz->trans_off[lo];
}

static void sort_small(int64_t *a, size_t n)
{
    size_t i, j;

    for (i = 1; i < n; i++) {
        int64_t v = a[i];
        for (j = i; j > 0 && a[j - 1] > v; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

/*
 * Finds the first instant T in (t, limit] at which the offset changes; stores T and the
 * new offset and returns 1, or returns 0 if the offset stays put through limit.
 */
static int next_change(const struct up_tz *tz, int64_t t, int64_t limit, int64_t *when,
                       int32_t *after)
{
    size_t n = tz->ntrans;

    if (n > 0 && t < tz->trans[n - 1]) {
        size_t lo = 0, hi = n - 1, i;
        /* The first table transition after t. */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (tz->trans[mid] > t)
                hi = mid;
            else
                lo = mid + 1;
        }
        for (i = lo; i < n && tz->trans[i] <= limit; i++) {
            int32_t before = i == 0 ? tz->off0 : tz->trans_off[i - 1];
            /* Changes of abbreviation or isdst alone do not move the clock. */
            if (tz->trans_off[i] != before) {
                *when = tz->trans[i];
                *after = tz->trans_off[i];
                return 1;
            }
        }
        if (i < n)
            return 0;
        t = tz->trans[n - 1];
    }
    if (!tz->ft.present || !tz->ft.has_dst) {
        /* Only the switch from the table to a fixed footer offset remains possible. */
        if (n > 0 && tz->ft.present && t <= tz->trans[n - 1] && tz->trans[n - 1] < limit &&
            tz->ft.std_off != tz->trans_off[n - 1]) {
            *when = tz->trans[n - 1] + 1;
            *after = tz->ft.std_off;
            return 1;
        }
        return 0;
    }
    while (t < limit && t < FOOTER_CLAMP) {
        int64_t cand[9], y = year_of(&tz->ft, t), span_end;
        size_t nc = 0, i;

        /*
         * Candidates of years y-1..y+2 cover every change up to the start of year y+2:
         * a rule cannot move a change by more than about eight days out of its year.
         */
        for (i = 0; i < 4; i++)
            footer_year(&tz->ft, y - 1 + (int64_t)i, &cand[2 * i], &cand[2 * i + 1]);
        nc = 8;
        if (n > 0 && tz->trans[n - 1] >= t)
            cand[nc++] = tz->trans[n - 1] + 1;
        sort_small(cand, nc);
        span_end = up_days_from_civil(y + 2, 1, 1) * SECS_PER_DAY - tz->ft.std_off;
        for (i = 0; i < nc; i++) {
            int32_t a, b;
            if (cand[i] <= t || (i > 0 && cand[i] == cand[i - 1]))
                continue;
            if (cand[i] > limit || cand[i] > span_end)
                break;
            a = offset_general(tz, cand[i] - 1);
            b = offset_general(tz, cand[i]);
            if (a != b) {
                *when = cand[i];
                *after = b;
                return 1;
            }
        }
        t = span_end;
    }
    return 0;
}

/* PEP 495 fold=0: the offset a wall time w (seconds) is read with, general path. */
static int32_t wall_offset_general(const struct up_tz *tz, int64_t w)
{
    int64_t t = w - WALL_MARGIN, when;
    int32_t off = offset_general(tz, t), prev = off, after;

    /*
     * Every transition T at or before w - 27 h already has w >= T + max(a, b), so the
     * offset in force at that point is where the scan starts.
     */
    while (next_change(tz, t, w + WALL_MARGIN, &when, &after)) {
        int32_t hi = prev > after ? prev : after;
        if (w >= when + hi)
            off = after;
        prev = after;
        t = when;
    }
    return off;
}

/* ---------------------------------------------------------------------------------- */
/* Public queries                                                                      */

static int32_t offset_secs(const struct up_tz *tz, int64_t t)
{
    if (t >= tz->win_lo && t <= tz->win_hi) {
        int32_t off = tz->win_off0;
        size_t i;
        for (i = 0; i < tz->nwin && tz->win_t[i] <= t; i++)
            off = tz->win_off[i];
        return off;
    }
    return offset_general(tz, t);
}

int64_t up_tz_offset_at(const struct up_tz *tz, int64_t utc_us)
{
    return (int64_t)offset_secs(tz, floor_div(utc_us, UP_USEC_PER_SEC)) * UP_USEC_PER_SEC;
}

int64_t up_tz_utc_to_local(const struct up_tz *tz, int64_t utc_us)
{
    return sat_add(utc_us, up_tz_offset_at(tz, utc_us));
}

int64_t up_tz_local_to_utc(const struct up_tz *tz, int64_t local_us)
{
    /* w < T + max(a, b) in µs is the same as floor(w / 1 s) < T + max(a, b) in seconds. */
    int64_t w = floor_div(local_us, UP_USEC_PER_SEC);
    int32_t off;

    if (tz->win_lo <= tz->win_hi && w >= tz->win_lo + WALL_MARGIN &&
        w <= tz->win_hi - WALL_MARGIN) {
        size_t i;
        int32_t prev = tz->win_off0;
        off = prev;
        for (i = 0; i < tz->nwin && tz->win_t[i] - MAX_UTOFF <= w; i++) {
            int32_t hi = prev > tz->win_off[i] ? prev : tz->win_off[i];
            if (w >= tz->win_t[i] + hi)
                off = tz->win_off[i];
            prev = tz->win_off[i];
        }
    } else {
        off = wall_offset_general(tz, w);
    }
    return sat_add(local_us, -(int64_t)off * UP_USEC_PER_SEC);
}

/* ---------------------------------------------------------------------------------- */
/* TZif files                                                                          */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int64_t be64(const unsigned char *p)
{
    uint64_t v = (uint64_t)be32(p) << 32 | be32(p + 4);

    /* Two's complement conversion without implementation-defined casts. */
    return v <= (uint64_t)INT64_MAX ? (int64_t)v : -(int64_t)(~v) - 1;
}

static int32_t sbe32(const unsigned char *p)
{
    uint32_t v = be32(p);

    return v <= (uint32_t)INT32_MAX ? (int32_t)v : -(int32_t)(~v) - 1;
}

struct tzif_hdr {
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

/* Reads a 44-byte header at buf[*pos] and checks the counts against the caps. */
static int read_hdr(const unsigned char *buf, size_t len, size_t *pos, struct tzif_hdr *h,
                    int *version, int strict)
{
    const unsigned char *p = buf + *pos;

    if (len - *pos < 44 || memcmp(p, "TZif", 4) != 0)
        return -1;
    *version = p[4] == 0 ? 1 : p[4] - '0';
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    /* A v2+ file's v1 block is skipped, and slim writers may leave it nearly empty. */
    if ((strict && (h->typecnt == 0 || h->charcnt == 0)) || h->typecnt > 256 ||
        h->timecnt > MAX_TIMECNT || h->charcnt > MAX_CHARCNT || h->leapcnt > MAX_LEAPCNT ||
        (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
        (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
        return -1;
    *pos += 44;
    return 0;
}

static size_t block_len(const struct tzif_hdr *h, size_t tsize)
{
    return (size_t)h->timecnt * tsize + h->timecnt + (size_t)h->typecnt * 6 + h->charcnt +
           (size_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

/* Fills tz's table and footer from a TZif image; returns 0 or -1 with a reason in *why. */
static int parse_tzif(const unsigned char *buf, size_t len, struct up_tz *tz, const char **why)
{
    struct tzif_hdr h;
    size_t pos = 0, tsize = 4, i;
    int version;
    const unsigned char *times, *idx, *types;
    int32_t offs[256];

    if (read_hdr(buf, len, &pos, &h, &version, 0) != 0) {
        *why = "bad TZif header";
        return -1;
    }
    if (version >= 2) {
        /* The 64-bit block after the version 1 block is the one to trust. */
        size_t skip = block_len(&h, 4);
        if (len - pos < skip) {
            *why = "truncated TZif v1 block";
            return -1;
        }
        pos += skip;
        if (read_hdr(buf, len, &pos, &h, &version, 1) != 0) {
            *why = "bad TZif v2 header";
            return -1;
        }
        tsize = 8;
    } else if (h.typecnt == 0 || h.charcnt == 0) {
        *why = "TZif without time types";
        return -1;
    }
    if (len - pos < block_len(&h, tsize)) {
        *why = "truncated TZif data";
        return -1;
    }
    times = buf + pos;
    idx = times + (size_t)h.timecnt * tsize;
    types = idx + h.timecnt;
    for (i = 0; i < h.typecnt; i++) {
        const unsigned char *tt = types + 6 * i;
        offs[i] = sbe32(tt);
        if (offs[i] < -MAX_UTOFF || offs[i] > MAX_UTOFF || tt[5] >= h.charcnt) {
            *why = "bad TZif time type";
            return -1;
        }
    }
    tz->off0 = offs[0];
    tz->ntrans = h.timecnt;
    if (h.timecnt > 0) {
        tz->trans = malloc(h.timecnt * sizeof *tz->trans);
        tz->trans_off = malloc(h.timecnt * sizeof *tz->trans_off);
        if (!tz->trans || !tz->trans_off) {
            *why = "out of memory";
            return -1;
        }
    }
    for (i = 0; i < h.timecnt; i++) {
        int64_t t = tsize == 8 ? be64(times + 8 * i) : (int64_t)sbe32(times + 4 * i);
        if (t < -MAX_TRANS_ABS || t > MAX_TRANS_ABS || (i > 0 && t <= tz->trans[i - 1]) ||
            idx[i] >= h.typecnt) {
            *why = "bad TZif transition";
            return -1;
        }
        tz->trans[i] = t;
        tz->trans_off[i] = offs[idx[i]];
    }
    pos += block_len(&h, tsize);
    if (version >= 2) {
        /* The footer is "\n" TZ "\n"; a missing one means no rule after the table. */
        const unsigned char *nl;
        size_t flen;
        if (len - pos < 2 || buf[pos] != '\n') {
            *why = "bad TZif footer";
            return -1;
        }
        pos++;
        nl = memchr(buf + pos, '\n', len - pos);
        flen = nl ? (size_t)(nl - (buf + pos)) : 0;
        if (!nl || flen > MAX_FOOTER || parse_footer((const char *)buf + pos, flen, &tz->ft) != 0) {
            *why = "bad TZ string in TZif footer";
            return -1;
        }
    }
    return 0;
}

/* Reads a whole regular file of at most cap bytes; returns a malloc'd buffer or NULL. */
static unsigned char *read_file(const char *path, size_t cap, size_t *len, const char **why,
                                int *missing)
{
    FILE *f = NULL;
    unsigned char *buf = NULL;
    size_t n = 0, size, got;
    struct stat st;

    *missing = 0;
    f = fopen(path, "rb");
    if (!f) {
        *missing = errno == ENOENT;
        *why = *missing ? "no such file" : "cannot open";
        goto fail;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        *why = "not a regular file";
        goto fail;
    }
    if (st.st_size < 0 || (uintmax_t)st.st_size > cap) {
        *why = "file too large";
        goto fail;
    }
    size = (size_t)st.st_size;
    buf = malloc(size + 1);
    if (!buf) {
        *why = "out of memory";
        goto fail;
    }
    /* Asking for one byte more than the size notices a file that grew meanwhile. */
    while (n < size + 1 && (got = fread(buf + n, 1, size + 1 - n, f)) > 0)
        n += got;
    if (ferror(f) || n != size) {
        *why = "read error or file changed while reading";
        goto fail;
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
fail:
    free(buf);
    if (f)
        fclose(f);
    return NULL;
}

static void tz_free(struct up_tz *tz)
{
    if (!tz)
        return;
    free(tz->trans);
    free(tz->trans_off);
    free(tz->win_t);
    free(tz->win_off);
    free(tz);
}

/* Precomputes the offset at lo and every change in (lo, hi] for the fast path. */
static int build_window(struct up_tz *tz, int64_t lo, int64_t hi)
{
    int64_t t, when;
    int32_t after;
    size_t n = 0;

    tz->win_lo = 1;
    tz->win_hi = 0;
    if (lo > hi || hi - lo > MAX_WINDOW_SECS)
        return 0;
    for (t = lo; next_change(tz, t, hi, &when, &after); t = when)
        n++;
    if (n > 0) {
        tz->win_t = malloc(n * sizeof *tz->win_t);
        tz->win_off = malloc(n * sizeof *tz->win_off);
        if (!tz->win_t || !tz->win_off)
            return -1;
    }
    tz->nwin = 0;
    for (t = lo; tz->nwin < n && next_change(tz, t, hi, &when, &after); t = when) {
        tz->win_t[tz->nwin] = when;
        tz->win_off[tz->nwin] = after;
        tz->nwin++;
    }
    tz->win_off0 = offset_general(tz, lo);
    tz->win_lo = lo;
    tz->win_hi = hi;
    return 0;
}

static struct up_tz *tz_load(const struct up_tzdb *db, const char *name, char *err, size_t errlen)
{
    char path[4096];
    unsigned char *buf = NULL;
    size_t len = 0;
    const char *why = "";
    struct up_tz *tz = NULL;
    int n, missing;

    n = snprintf(path, sizeof path, "%s/%s", db->dir, name);
    if (n < 0 || (size_t)n >= sizeof path) {
        up_errf(UP_ETZDB, err, errlen, "timezone %s: path too long", name);
        return NULL;
    }
    buf = read_file(path, MAX_TZIF_BYTES, &len, &why, &missing);
    if (!buf) {
        up_errf(UP_ETZDB, err, errlen, "cannot read timezone file %s: %s", path, why);
        goto fail;
    }
    tz = calloc(1, sizeof *tz);
    if (!tz) {
        up_errf(UP_ENOMEM, err, errlen, "timezone %s: out of memory", name);
        goto fail;
    }
    if (parse_tzif(buf, len, tz, &why) != 0) {
        up_errf(UP_ETZDB, err, errlen, "corrupt timezone file %s: %s", path, why);
        goto fail;
    }
    if (build_window(tz, db->lo_s, db->hi_s) != 0) {
        up_errf(UP_ENOMEM, err, errlen, "timezone %s: out of memory", name);
        goto fail;
    }
    free(buf);
    return tz;
fail:
    tz_free(tz);
    free(buf);
    return NULL;
}

/* ---------------------------------------------------------------------------------- */
/* The database of names                                                               */

/* A safe relative file name: components of [A-Za-z0-9._+-], none empty, "." or "..". */
static int name_ok(const char *name)
{
    const char *p = name, *comp = name;
    size_t len = strlen(name);

    if (len == 0 || len > MAX_NAME_LEN)
        return 0;
    for (;; p++) {
        char c = *p;
        if (c == '/' || c == 0) {
            size_t cl = (size_t)(p - comp);
            if (cl == 0 || (cl == 1 && comp[0] == '.') ||
                (cl == 2 && comp[0] == '.' && comp[1] == '.'))
                return 0;
            if (c == 0)
                return 1;
            comp = p + 1;
            continue;
        }
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '+' || c == '-'))
            return 0;
    }
}

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct tz_entry *)a)->name, ((const struct tz_entry *)b)->name);
}

static struct tz_entry *find_entry(const struct up_tzdb *db, const char *name)
{
    struct tz_entry key;

    if (db->names.n == 0)
        return NULL;
    key.name = (char *)name;
    return bsearch(&key, ents(db), db->names.n, sizeof key, ent_cmp);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* Adds a name (and link target) to the unsorted entry array; returns 0 or -1 (cap, memory). */
static int add_entry(struct up_tzdb *db, const char *name, size_t nlen, const char *target,
                     size_t tlen)
{
    struct tz_entry *e = up_buf_push(&db->names);

    if (!e)
        return -1;
    e->name = dup_n(name, nlen);
    e->target = target ? dup_n(target, tlen) : NULL;
    if (!e->name || (target && !e->target)) {
        free(e->name);
        free(e->target);
        db->names.n--;
        return -1;
    }
    return 0;
}

/* Splits the next whitespace-separated field of line[*pos..len). */
static int next_field(const char *line, size_t len, size_t *pos, const char **f, size_t *flen)
{
    size_t p = *pos, s;

    while (p < len && (line[p] == ' ' || line[p] == '\t'))
        p++;
    s = p;
    while (p < len && line[p] != ' ' && line[p] != '\t')
        p++;
    if (p == s)
        return -1;
    *f = line + s;
    *flen = p - s;
    *pos = p;
    return 0;
}

/* Loads the Zone and Link names of tzdata.zi text; returns 0 or -1 with err set. */
static int load_zi(struct up_tzdb *db, const char *text, size_t len, char *err, size_t errlen)
{
    size_t pos = 0, i, out;
    struct tz_entry *e;

    while (pos < len) {
        const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - line) : len - pos, p = 1;
        const char *f1, *f2;
        size_t l1, l2;

        pos += llen + (nl ? 1 : 0);
        if (llen < 2 || (line[0] != 'Z' && line[0] != 'L') || (line[1] != ' ' && line[1] != '\t'))
            continue;
        if (next_field(line, llen, &p, &f1, &l1) != 0)
            continue;
        if (line[0] == 'Z') {
            f2 = NULL;
            l2 = 0;
        } else {
            /* L <target> <name>: the name is the third field. */
            const char *tmp;
            size_t tl;
            if (next_field(line, llen, &p, &tmp, &tl) != 0)
                continue;
            f2 = f1;
            l2 = l1;
            f1 = tmp;
            l1 = tl;
        }
        if (l1 > MAX_NAME_LEN || l2 > MAX_NAME_LEN)
            continue;
        if (add_entry(db, f1, l1, f2, l2) != 0) {
            if (db->names.n >= MAX_NAMES)
                up_errf(UP_ETZDB, err, errlen, "tzdata.zi in %s: more than %d names", db->dir,
                        MAX_NAMES);
            else
                up_errf(UP_ENOMEM, err, errlen, "tzdata.zi in %s: out of memory", db->dir);
            return -1;
        }
        /* Names that could escape the directory are dropped rather than trusted. */
        e = &ents(db)[db->names.n - 1];
        if (!name_ok(e->name) || (f2 && !name_ok(e->target))) {
            free(e->name);
            free(e->target);
            db->names.n--;
        }
    }
    e = ents(db);
    if (db->names.n > 0)
        qsort(e, db->names.n, sizeof *e, ent_cmp);
    /* A name listed twice (never in real tzdata.zi) keeps a single entry. */
    for (i = 0, out = 0; i < db->names.n; i++) {
        if (out > 0 && strcmp(e[out - 1].name, e[i].name) == 0) {
            free(e[i].name);
            free(e[i].target);
            continue;
        }
        e[out++] = e[i];
    }
    db->names.n = out;
    return 0;
}

struct up_tzdb *up_tzdb_open(const char *dir, int64_t lo_us, int64_t hi_us, char *err,
                             size_t errlen)
{
    struct up_tzdb *db = NULL;
    char path[4096];
    unsigned char *zi = NULL;
    size_t zilen = 0;
    const char *why = "";
    struct stat st;
    int n, missing = 0;

    if (!dir || !*dir) {
        const char *env = getenv("TZDIR");
        dir = env && *env ? env : "/usr/share/zoneinfo";
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        up_errf(UP_ETZDB, err, errlen, "timezone directory %s: not a readable directory", dir);
        return NULL;
    }
    db = calloc(1, sizeof *db);
    if (db)
        up_buf_init(&db->names, sizeof(struct tz_entry), MAX_NAMES);
    if (!db || !(db->dir = dup_n(dir, strlen(dir)))) {
        up_errf(UP_ENOMEM, err, errlen, "timezone directory %s: out of memory", dir);
        goto fail;
    }
    db->lo_s = floor_div(lo_us, UP_USEC_PER_SEC) - WINDOW_PAD;
    db->hi_s = floor_div(hi_us, UP_USEC_PER_SEC) + 1 + WINDOW_PAD;
    n = snprintf(path, sizeof path, "%s/tzdata.zi", dir);
    if (n < 0 || (size_t)n >= sizeof path) {
        up_errf(UP_ETZDB, err, errlen, "timezone directory %s: path too long", dir);
        goto fail;
    }
    zi = read_file(path, MAX_ZI_BYTES, &zilen, &why, &missing);
    if (zi) {
        db->have_zi = 1;
        if (load_zi(db, (const char *)zi, zilen, err, errlen) != 0)
            goto fail;
    } else if (!missing) {
        /* A tzdata.zi that exists but cannot be read is an error, not a missing list. */
        up_errf(UP_ETZDB, err, errlen, "cannot read %s: %s", path, why);
        goto fail;
    }
    free(zi);
    return db;
fail:
    free(zi);
    up_tzdb_free(db);
    return NULL;
}

void up_tzdb_free(struct up_tzdb *db)
{
    size_t i;

    if (!db)
        return;
    for (i = 0; i < db->names.n; i++) {
        struct tz_entry *e = &ents(db)[i];
        if (e->owns_zone)
            tz_free(e->zone);
        free(e->name);
        free(e->target);
    }
    up_buf_free(&db->names);
    free(db->dir);
    free(db);
}

/* Without tzdata.zi: a safe name of a file that starts with the TZif magic. */
static int fallback_known(const struct up_tzdb *db, const char *name)
{
    char path[4096];
    char magic[4];
    FILE *f;
    struct stat st;
    int n, ok = 0;

    /* The same names tzdata.zi never lists: the posix/ and right/ trees and aliases. */
    if (!name_ok(name) || strncmp(name, "posix/", 6) == 0 || strncmp(name, "right/", 6) == 0 ||
        strcmp(name, "localtime") == 0 || strcmp(name, "posixrules") == 0)
        return 0;
    n = snprintf(path, sizeof path, "%s/%s", db->dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return 0;
    f = fopen(path, "rb");
    if (!f)
        return 0;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && fread(magic, 1, 4, f) == 4 &&
        memcmp(magic, "TZif", 4) == 0)
        ok = 1;
    fclose(f);
    return ok;
}

int up_tzdb_known(const struct up_tzdb *db, const char *name)
{
    if (!db || !name)
        return 0;
    if (db->have_zi)
        return find_entry(db, name) != NULL;
    return find_entry(db, name) != NULL || fallback_known(db, name);
}

/* Inserts a loaded fallback name in sorted position; returns the entry or NULL. */
static struct tz_entry *insert_fallback(struct up_tzdb *db, const char *name)
{
    struct tz_entry e;
    size_t pos = 0;

    if (add_entry(db, name, strlen(name), NULL, 0) != 0)
        return NULL;
    e = ents(db)[db->names.n - 1];
    while (pos < db->names.n - 1 && strcmp(ents(db)[pos].name, name) < 0)
        pos++;
    memmove(&ents(db)[pos + 1], &ents(db)[pos], (db->names.n - 1 - pos) * sizeof e);
    ents(db)[pos] = e;
    return &ents(db)[pos];
}

const struct up_tz *up_tzdb_zone(struct up_tzdb *db, const char *name, char *err, size_t errlen)
{
    struct tz_entry *e, *t;
    struct up_tz *tz;

    if (!db || !name) {
        up_errf(UP_ETZDB, err, errlen, "unknown timezone");
        return NULL;
    }
    e = find_entry(db, name);
    if (e && e->zone)
        return e->zone;
    if (!e) {
        if (db->have_zi || !fallback_known(db, name)) {
            up_errf(UP_ETZDB, err, errlen, "unknown timezone: %s", name);
            return NULL;
        }
        tz = tz_load(db, name, err, errlen);
        if (!tz)
            return NULL;
        e = insert_fallback(db, name);
        if (!e) {
            tz_free(tz);
            up_errf(UP_ENOMEM, err, errlen, "timezone %s: out of memory", name);
            return NULL;
        }
        e->zone = tz;
        e->owns_zone = 1;
        return tz;
    }
    /* A link borrows its target's zone, which is the same data under another name. */
    t = e->target ? find_entry(db, e->target) : NULL;
    if (t && !t->target) {
        if (!t->zone) {
            t->zone = tz_load(db, t->name, err, errlen);
            if (!t->zone)
                return NULL;
            t->owns_zone = 1;
        }
        e->zone = t->zone;
        return e->zone;
    }
    /* A Zone, or a link whose target is not a listed Zone: read the name's own file. */
    e->zone = tz_load(db, e->name, err, errlen);
    if (!e->zone)
        return NULL;
    e->owns_zone = 1;
    return e->zone;
}
