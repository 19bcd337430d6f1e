#include "up_clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Howard Hinnant's days_from_civil: exact for the whole proleptic Gregorian calendar. */
int64_t up_days_from_civil(int64_t y, int m, int d)
{
    int64_t era;
    int64_t yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void up_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int up_weekday(int64_t days)
{
    /* 1970-01-01 was a Thursday (3 when Monday is 0). */
    int64_t w = (days + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

int64_t up_days_of(int64_t us)
{
    int64_t d = us / UP_USEC_PER_DAY;
    return us % UP_USEC_PER_DAY < 0 ? d - 1 : d;
}

int64_t up_now_us(void)
{
    struct timespec ts;

    /* CLOCK_REALTIME cannot fail on a valid clock id and pointer. */
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * UP_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* Writes v as exactly k digits (v < 10^k) at p; returns the end. */
static char *put_digits(char *p, int64_t v, int k)
{
    int i;

    for (i = k - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + k;
}

/* Writes the fraction of usec (0..999999) at p; returns the end. */
static char *put_frac(char *p, int64_t usec, enum up_time_frac frac)
{
    char d[6];
    int k;

    switch (frac) {
    case UP_FRAC_NONE:
        return p;
    case UP_FRAC_MS:
        *p++ = '.';
        return put_digits(p, usec / 1000, 3);
    case UP_FRAC_US:
        *p++ = '.';
        return put_digits(p, usec, 6);
    case UP_FRAC_TRIM:
        if (usec == 0)
            return p;
        put_digits(d, usec, 6);
        for (k = 6; d[k - 1] == '0'; k--)
            ;
        *p++ = '.';
        memcpy(p, d, (size_t)k);
        return p + k;
    }
    return p;
}

/* Writes "HH:MM:SS" and the fraction of a time of day (0 <= us < one day) at p. */
static char *put_clock(char *p, int64_t us, enum up_time_frac frac)
{
    int64_t secs = us / UP_USEC_PER_SEC;

    p = put_digits(p, secs / 3600, 2);
    *p++ = ':';
    p = put_digits(p, secs / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, secs % 60, 2);
    return put_frac(p, us % UP_USEC_PER_SEC, frac);
}

/* Copies text[0..len) and a NUL into buf when it fits; else "" and -1. */
static int give(const char *text, size_t len, char *buf, size_t n)
{
    if (len >= n) {
        if (n > 0)
            buf[0] = '\0';
        return -1;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    return (int)len;
}

int up_format_time(int64_t us, enum up_time_style style, enum up_time_frac frac, char *buf,
                   size_t n)
{
    static const char *const zone[] = {" UTC", "Z", "+00:00", "", ""};
    char text[UP_TIME_TEXT_MAX];
    char *p = text;
    /* The remainder is taken apart from the day, so no product can overflow. */
    int64_t rem = us % UP_USEC_PER_DAY;
    int64_t y;
    int m, d;

    if (rem < 0)
        rem += UP_USEC_PER_DAY;
    up_civil_from_days(up_days_of(us), &y, &m, &d);
    if (y >= 0 && y <= 9999) {
        p = put_digits(p, y, 4);
    } else {
        /* Out of four digits (|us| allows about ±292,000 years): printf's own form. */
        int k = snprintf(p, 16, "%04lld", (long long)y);
        p += k > 0 && k < 16 ? k : 0;
    }
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = style == UP_TIME_SPEC || style == UP_TIME_SPACE ? ' ' : 'T';
    p = put_clock(p, rem, frac);
    if ((unsigned)style < sizeof zone / sizeof zone[0]) {
        size_t zl = strlen(zone[style]);
        memcpy(p, zone[style], zl);
        p += zl;
    }
    return give(text, (size_t)(p - text), buf, n);
}

int up_format_timestamp(int64_t us, char *buf, size_t n)
{
    return up_format_time(us, UP_TIME_SPEC, UP_FRAC_US, buf, n);
}

int up_format_iso_ms(int64_t us, char *buf, size_t n)
{
    return up_format_time(us, UP_TIME_ISO_Z, UP_FRAC_MS, buf, n);
}

int up_format_time_of_day(int64_t us, enum up_time_frac frac, char *buf, size_t n)
{
    char text[UP_TIME_TEXT_MAX];
    char *p;

    if (us < 0 || us >= UP_USEC_PER_DAY) {
        if (n > 0)
            buf[0] = '\0';
        return -1;
    }
    p = put_clock(text, us, frac);
    return give(text, (size_t)(p - text), buf, n);
}
