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

/*
 * The rejects file's text of a value (README "The rejects file"), the one escaping of both
 * the CSV-level rejects (a line's raw text) and the row-level ones (a field). s[0..n) may
 * hold any bytes, NUL included. Every byte that could act on a terminal, break a line or
 * hide what the input held is written as \xNN (two lower-case hex digits): C0 controls
 * and DEL (NUL, TAB, CR, LF, ESC among them); both bytes of a C1 control (U+0080-009F,
 * C2 80..C2 9F); every byte that is not part of a valid UTF-8 sequence (a lone 0x80-0x9F
 * among them: C1 bytes outside UTF-8 are escaped as invalid UTF-8); and the backslash
 * itself (\x5c), so that the text reads back unambiguously. Valid UTF-8 sequences
 * otherwise stay as they are.
 *
 * Writes as many whole units (a byte or a UTF-8 sequence, escaped or not) as fit in
 * out[outlen] with room for the NUL (a unit takes at most 8 bytes), NUL-terminates out
 * when outlen > 0, sets *used to the input bytes written (n when all of s fit), and
 * returns the length written. Call it again from s + *used for the rest.
 */
size_t up_reject_escape(char *out, size_t outlen, const char *s, size_t n, size_t *used);

#endif
