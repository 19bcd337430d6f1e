/*
 * Strict parsing of SPEC timestamps and times of day. The calendar and the formatting of
 * instants are up_clock.h's (included here, so a parser's caller has both).
 */
#ifndef UP_TIME_H
#define UP_TIME_H

#include <stddef.h>
#include <stdint.h>
#include "up_clock.h"
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

#endif
