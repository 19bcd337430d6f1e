/* The report lifecycle's state: report ids and the per-report status file. */
#ifndef UP_STATUS_H
#define UP_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include "up_error.h"

#define UP_REPORT_ID_MAX 64

/* Returns 1 if id is a safe report id: 1-64 of [A-Za-z0-9_-] (no dots, no slashes). */
int up_report_id_valid(const char *id);

/* Writes a new random UUID (36 characters + NUL) to out. */
void up_report_new_id(char out[37]);

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
