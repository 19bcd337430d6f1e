/*
 * Instants as int64_t microseconds since 1970-01-01 00:00:00 UTC: the proleptic Gregorian
 * calendar, the wall clock, and the one formatter of instants that every module uses
 * (report timestamps, status files, logs, generated input).
 */
#ifndef UP_CLOCK_H
#define UP_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include "up_model.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (any year, month 1-12, day 1-31). */
int64_t up_days_from_civil(int64_t y, int m, int d);

/* Inverse of up_days_from_civil. */
void up_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* Weekday of a day number: 0 = Monday ... 6 = Sunday (SPEC's dayOfWeek). */
int up_weekday(int64_t days);

/* Floor division of microseconds into days (correct for negative values). */
int64_t up_days_of(int64_t us);

/* The current time (CLOCK_REALTIME) in microseconds since the epoch. */
int64_t up_now_us(void);

/* What follows the date in a formatted instant: separator, then zone designator. */
enum up_time_style {
    UP_TIME_SPEC,     /* "YYYY-MM-DD HH:MM:SS[.f] UTC" (SPEC's timestamp_utc) */
    UP_TIME_ISO_Z,    /* "YYYY-MM-DDTHH:MM:SS[.f]Z" (ISO 8601) */
    UP_TIME_ISO_PLUS, /* "YYYY-MM-DDTHH:MM:SS[.f]+00:00" */
    UP_TIME_SPACE,    /* "YYYY-MM-DD HH:MM:SS[.f]", no zone */
    UP_TIME_T         /* "YYYY-MM-DDTHH:MM:SS[.f]", no zone */
};

/* The fraction of a second written (always cut, never rounded up to the next second). */
enum up_time_frac {
    UP_FRAC_NONE, /* none */
    UP_FRAC_MS,   /* ".mmm" */
    UP_FRAC_US,   /* ".ffffff" */
    UP_FRAC_TRIM  /* ".f" to ".ffffff" without trailing zeros; nothing on a whole second */
};

/* Bytes that hold every form of every int64_t instant, NUL included. */
#define UP_TIME_TEXT_MAX 40

/*
 * Formats instant us into buf (n bytes; UP_TIME_TEXT_MAX always suffice). Years 0000-9999
 * have four digits; others are written as printf's "%04lld" would. Returns the length
 * written (NUL not counted), or -1 if buf is too small (buf then holds "" when n > 0).
 */
int up_format_time(int64_t us, enum up_time_style style, enum up_time_frac frac, char *buf,
                   size_t n);

/* "YYYY-MM-DD HH:MM:SS.ffffff UTC" (UP_TIME_SPEC, UP_FRAC_US): 30 bytes, n >= 31. */
int up_format_timestamp(int64_t us, char *buf, size_t n);

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (UP_TIME_ISO_Z, UP_FRAC_MS): 24 bytes, n >= 25. */
int up_format_iso_ms(int64_t us, char *buf, size_t n);

/*
 * Formats a time of day, us microseconds since midnight (0 <= us < one day), as
 * "HH:MM:SS" followed by frac. Returns the length, or -1 if us is out of range or buf
 * is too small.
 */
int up_format_time_of_day(int64_t us, enum up_time_frac frac, char *buf, size_t n);

#endif
