/*
 * Streaming CSV input over libcsv: header found by name, physical line numbers,
 * one record at a time, malformed records reported (never guessed at).
 */
#ifndef UP_CSVIN_H
#define UP_CSVIN_H

#include <stddef.h>
#include <stdint.h>
#include "up_error.h"

/* Longest accepted record, in bytes (a longer one is a rejected row). */
#define UP_CSV_MAX_RECORD (1024 * 1024)

struct up_csvin;

/*
 * One column the caller wants. names[] lists accepted header names in order of
 * preference (e.g. {"dayOfWeek", "day", NULL}): the first present one is used.
 */
struct up_csv_column {
    const char *const *names;
};

/* What up_csvin_next produced. */
enum up_csv_kind {
    UP_CSV_ROW,    /* a record with the header's field count, all fields valid UTF-8 */
    UP_CSV_REJECT, /* a malformed record; see reason */
    UP_CSV_END     /* no more records */
};

/* Reasons at the CSV level, checked in this order (SPEC §5). */
enum up_csv_reject {
    UP_CSV_REJ_NONE = 0,
    UP_CSV_REJ_SYNTAX,   /* broken quoting (libcsv strict error or unterminated quote) */
    UP_CSV_REJ_TOO_LONG, /* record longer than UP_CSV_MAX_RECORD */
    UP_CSV_REJ_BLANK,    /* a line holding only whitespace */
    UP_CSV_REJ_UTF8,     /* a field is not valid UTF-8 */
    UP_CSV_REJ_FIELDS    /* field count differs from the header's */
};

/* A record handed out by up_csvin_next; valid until the next call. */
struct up_csv_record {
    enum up_csv_kind kind;
    long line;                 /* physical line where the record starts (header = 1) */
    enum up_csv_reject reason; /* for UP_CSV_REJECT */
    const char *detail;        /* for UP_CSV_REJECT: short text, e.g. "3 fields, expected 4" */
    const char *raw; /* for UP_CSV_REJECT: the record's first line, NUL-terminated, truncated */
    /* For UP_CSV_ROW: one entry per requested column, trimmed of ASCII whitespace
     * (space, TAB, CR, LF, VT, FF), NUL-terminated, in the caller's column order. */
    const char *const *field;
    const size_t *len;
};

/*
 * Opens path ("-" is standard input, read but never closed) and reads its header (a
 * leading UTF-8 BOM is dropped; header names are trimmed and matched exactly). Input
 * that starts with gzip's magic bytes is inflated on the way, whatever its name
 * (concatenated members too); line numbers count decompressed lines. Fatal (returns
 * NULL, UP_EUSAGE in *code, message in err): missing/unreadable file, empty file (no
 * header record), a required column missing or named twice, a header that does not
 * parse, damaged gzip data.
 */
struct up_csvin *up_csvin_open(const char *path, const struct up_csv_column *cols, size_t ncols,
                               enum up_code *code, char *err, size_t errlen);

/*
 * Reads the next record into *rec. Returns UP_OK (check rec->kind), UP_EIO on a read
 * error, or UP_EUSAGE when gzip data turns out damaged or truncated (message in err).
 * Empty lines are skipped and produce nothing.
 */
enum up_code up_csvin_next(struct up_csvin *in, struct up_csv_record *rec, char *err,
                           size_t errlen) UP_WARN_UNUSED;

/* Returns the 0-based position in the header of requested column col (for SPEC §5's
 * "other columns left to right" order of checks). */
size_t up_csvin_column_pos(const struct up_csvin *in, size_t col);

/* How far the reading is: *done = bytes read from the file so far (compressed bytes for
 * gzip), *total = the file's size, or -1 when unknown (a pipe). For progress reports. */
void up_csvin_progress(const struct up_csvin *in, int64_t *done, int64_t *total);

/* Returns the path given to up_csvin_open. */
const char *up_csvin_path(const struct up_csvin *in);

/* Static short name of a reason, e.g. "broken quoting". */
const char *up_csv_reject_name(enum up_csv_reject reason);

/* Closes the file and frees in. Accepts NULL. */
void up_csvin_free(struct up_csvin *in);

#endif
