/* Report output: the CSV (SPEC §3) published atomically, and the per-report status file. */
#ifndef UP_REPORT_H
#define UP_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "up_error.h"
#include "up_uptime.h"

#define UP_REPORT_HEADER                                                                           \
    "store_id,uptime_last_hour,uptime_last_day,uptime_last_week,downtime_last_hour,"               \
    "downtime_last_day,downtime_last_week\n"

#define UP_REPORT_ID_MAX 64

/* Returns 1 if id is a safe report id: 1-64 of [A-Za-z0-9_-] (no dots, no slashes). */
int up_report_id_valid(const char *id);

/* Writes a new random UUID (36 characters + NUL) to out. */
void up_report_new_id(char out[37]);

/* A report being written to a temporary file beside its final name. */
struct up_report_writer;

/* Creates dir/.<id>.csv.tmp; returns UP_OK or UP_EIO (message in err). */
enum up_code up_report_open(const char *dir, const char *id, struct up_report_writer **out,
                            char *err, size_t errlen) UP_WARN_UNUSED;

/* Appends one row: SPEC §3 quoting and %.2f of minutes (hour) or hours (day, week). */
void up_report_row(struct up_report_writer *w, const char *store_id, const struct up_result *r);

/* Flushes, fsyncs and renames to dir/<id>.csv; frees w whatever happens. */
enum up_code up_report_commit(struct up_report_writer *w, char *err, size_t errlen) UP_WARN_UNUSED;

/* Removes the temporary file and frees w. Accepts NULL. */
void up_report_abort(struct up_report_writer *w);

/* Formats one report row into buf (no newline). Returns its length or -1 if too small. */
int up_report_format_row(char *buf, size_t n, const char *store_id, const struct up_result *r);

/* One field of a status file: a string (s), an integer (i, when s is NULL and !is_null)
 * or JSON null. */
struct up_status_field {
    const char *key;
    const char *s;
    int64_t i;
    int is_null;
};

/*
 * Sets fields in dir/<id>.status.json (a JSON object), keeping the fields already there
 * (e.g. those the trigger script wrote), by writing a temporary file and renaming it.
 * Returns UP_OK or UP_EIO.
 */
enum up_code up_status_update(const char *dir, const char *id, const struct up_status_field *f,
                              size_t n, char *err, size_t errlen) UP_WARN_UNUSED;

/* Current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (n >= 32). */
void up_now_iso(char *buf, size_t n);

#endif
