#include "up_time.h"

#include <string.h>

/* Reads exactly n ASCII digits at s; returns the value or -1. */
static int digits(const char *s, int n)
{
    int v = 0;
    int i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/*
 * Parses "HH:MM:SS[.f{1,6}]" at s[0..len) from position *pos; with allow_short,
 * "HH:MM" alone is accepted too. Advances *pos past what it read.
 */
static int parse_clock(const char *s, size_t len, size_t *pos, int allow_short, int64_t *out,
                       const char **why)
{
    size_t p = *pos;
    int hh, mm, ss = 0;
    int64_t frac = 0;

    if (len - p < 5 || s[p + 2] != ':') {
        *why = "time must be HH:MM:SS";
        return -1;
    }
    hh = digits(s + p, 2);
    mm = digits(s + p + 3, 2);
    if (hh < 0 || mm < 0) {
        *why = "hour and minute must be two digits";
        return -1;
    }
    p += 5;
    if (p < len && s[p] == ':') {
        if (len - p < 3 || (ss = digits(s + p + 1, 2)) < 0) {
            *why = "seconds must be two digits";
            return -1;
        }
        p += 3;
        if (p < len && s[p] == '.') {
            int n = 0;
            p++;
            while (p < len && s[p] >= '0' && s[p] <= '9') {
                if (++n > 6) {
                    *why = "more than 6 fraction digits";
                    return -1;
                }
                frac = frac * 10 + (s[p] - '0');
                p++;
            }
            if (n == 0) {
                *why = "'.' must be followed by 1 to 6 digits";
                return -1;
            }
            for (; n < 6; n++)
                frac *= 10;
        }
    } else if (!allow_short) {
        *why = "seconds missing";
        return -1;
    }
    if (hh > 23) {
        *why = "hour out of range 00-23";
        return -1;
    }
    if (mm > 59) {
        *why = "minute out of range 00-59";
        return -1;
    }
    if (ss > 59) {
        *why = "second out of range 00-59";
        return -1;
    }
    *out = ((int64_t)hh * 3600 + mm * 60 + ss) * UP_USEC_PER_SEC + frac;
    *pos = p;
    return 0;
}

int up_parse_timestamp(const char *s, size_t len, int64_t *out, const char **why)
{
    int y, mo, d;
    size_t pos = 11;
    int64_t tod;

    *why = "not a timestamp";
    if (len < 19 || s[4] != '-' || s[7] != '-') {
        *why = "date must be YYYY-MM-DD";
        return -1;
    }
    y = digits(s, 4);
    mo = digits(s + 5, 2);
    d = digits(s + 8, 2);
    if (y < 0 || mo < 0 || d < 0) {
        *why = "date must be YYYY-MM-DD digits";
        return -1;
    }
    if (y < 1) {
        *why = "year out of range 0001-9999";
        return -1;
    }
    if (mo < 1 || mo > 12) {
        *why = "month out of range";
        return -1;
    }
    if (d < 1 || d > days_in_month(y, mo)) {
        *why = "day does not exist in that month";
        return -1;
    }
    if (s[10] != ' ' && s[10] != 'T') {
        *why = "date and time must be separated by ' ' or 'T'";
        return -1;
    }
    if (parse_clock(s, len, &pos, 0, &tod, why) != 0)
        return -1;
    if (s[10] == ' ') {
        if (len - pos != 4 || memcmp(s + pos, " UTC", 4) != 0) {
            *why = "must end in ' UTC'";
            return -1;
        }
    } else {
        if (!((len - pos == 1 && s[pos] == 'Z') ||
              (len - pos == 6 && memcmp(s + pos, "+00:00", 6) == 0))) {
            *why = "ISO 8601 form must end in 'Z' or '+00:00'";
            return -1;
        }
    }
    *out = up_days_from_civil(y, mo, d) * UP_USEC_PER_DAY + tod;
    return 0;
}

int up_parse_time_of_day(const char *s, size_t len, int64_t *out, const char **why)
{
    size_t pos = 0;

    if (parse_clock(s, len, &pos, 1, out, why) != 0)
        return -1;
    if (pos != len) {
        *why = "trailing characters after the time";
        return -1;
    }
    return 0;
}
