/* Validation of the three input files' rows (SPEC §1 and §5); pure, no I/O. */
#ifndef UP_ROWS_H
#define UP_ROWS_H

#include <stddef.h>
#include <stdint.h>

#define UP_STORE_ID_MAX 128

/* Why a row's content is rejected (after the CSV-level checks of up_csvin). */
enum up_row_reject {
    UP_ROW_OK = 0,
    UP_ROW_STORE_ID,   /* empty, longer than 128 bytes, or a control character */
    UP_ROW_STATUS,     /* not active/inactive */
    UP_ROW_TIMESTAMP,  /* timestamp_utc not in a SPEC format, or not a real instant */
    UP_ROW_DAY,        /* dayOfWeek not a single digit 0-6 */
    UP_ROW_START,      /* start_time_local not a valid time of day */
    UP_ROW_END,        /* end_time_local not a valid time of day */
    UP_ROW_TIMEZONE,   /* not a Zone or Link name of the tz database */
    UP_ROW_TZ_CONFLICT /* a store's later row names another zone than its first valid one */
};

/* Static short name of a reason, e.g. "invalid timestamp_utc". */
const char *up_row_reject_name(enum up_row_reject reason);

/*
 * Checks a trimmed store_id (s[0..len)): 1..128 bytes, no U+0000-001F or U+007F-009F
 * (s is valid UTF-8). Returns UP_ROW_OK or UP_ROW_STORE_ID with *why set.
 */
enum up_row_reject up_check_store_id(const char *s, size_t len, const char **why);

/* Parses status, ASCII case-insensitive "active"/"inactive": *active = 1/0. */
enum up_row_reject up_check_status(const char *s, size_t len, int *active, const char **why);

/* Parses a day of week: exactly one digit 0-6 (0 = Monday). */
enum up_row_reject up_check_day(const char *s, size_t len, int *day, const char **why);

#endif
