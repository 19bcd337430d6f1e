/* Strict parsing of SPEC timestamps and times of day, and proleptic Gregorian calendar maths. */
#ifndef UP_TIME_H
#define UP_TIME_H

#include <stddef.h>
#include <stdint.h>
#include "up_model.h"

/*
 * Parses a timestamp_utc field (already trimmed, s[0..len), not NUL-terminated):
 * "YYYY-MM-DD HH:MM:SS[.f{1,6}] UTC" or "YYYY-MM-DDTHH:MM:SS[.f{1,6}]" + "Z" | "+00:00".
 * On success stores microseconds since 1970-01-01 00:00:00 UTC in *out and returns 0.
 * On failure returns -1 and sets *why to a static reason (never NULL).
 */
int up_parse_timestamp(const char *s, size_t len, int64_t *out, const char **why);

/*
 * Parses a time of day "HH:MM" or "HH:MM:SS[.f{1,6}]", 00:00:00 to 23:59:59.999999.
 * On success stores microseconds since midnight in *out and returns 0; else -1 and *why.
 */
int up_parse_time_of_day(const char *s, size_t len, int64_t *out, const char **why);

/* Days since 1970-01-01 of a proleptic Gregorian date (any year, month 1-12, day 1-31). */
int64_t up_days_from_civil(int64_t y, int m, int d);

/* Inverse of up_days_from_civil. */
void up_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* Weekday of a day number: 0 = Monday ... 6 = Sunday (SPEC's dayOfWeek). */
int up_weekday(int64_t days);

/* Floor division of microseconds into days (correct for negative values). */
int64_t up_days_of(int64_t us);

/*
 * Formats us as "YYYY-MM-DD HH:MM:SS.ffffff UTC" into buf (n >= 32).
 * Returns the length written, or -1 if buf is too small.
 */
int up_format_timestamp(int64_t us, char *buf, size_t n);

#endif
