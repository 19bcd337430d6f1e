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

/* Where a running job is; the status file's "phase" and a coarse "progress". */
enum up_phase {
    UP_PHASE_METADATA,  /* rank 0 reads the store list, hours and zones */
    UP_PHASE_COMPUTING, /* every rank reads its polls and computes its stores */
    UP_PHASE_WRITING,   /* rank 0 writes the CSV */
    UP_PHASE_DONE
};

/* What the job knows when it starts (rank 0). source is shown redacted. */
struct up_status_start {
    int ranks;
    long rank0_pid;
    const char *rank0_host;
    const char *source;
};

/* What a complete report records. */
struct up_status_done {
    int has_now;          /* 0: there was no poll, "now" is null */
    int64_t now;          /* µs, the report's now */
    int64_t stores;       /* stores reported */
    int64_t polls;        /* polls read by every rank */
};

/*
 * Typed transitions of dir/<id>.status.json, each a merge of its fields under the
 * report's lock (the same one the lifecycle scripts take). Return UP_OK or UP_EIO /
 * UP_ENOMEM with a message in err.
 */
/* -> Running: report_id, started, ranks, rank0_pid, rank0_host, source (redacted),
 * error null, phase metadata, progress 0. */
enum up_code up_status_running(const char *dir, const char *id, const struct up_status_start *s,
                               char *err, size_t errlen) UP_WARN_UNUSED;
/* phase, progress (0-100) and, when stores >= 0, the number of stores. */
enum up_code up_status_progress(const char *dir, const char *id, enum up_phase phase,
                                int percent, int64_t stores, char *err,
                                size_t errlen) UP_WARN_UNUSED;
/* -> Complete: finished, now, stores, polls, progress 100, phase done. */
enum up_code up_status_complete(const char *dir, const char *id, const struct up_status_done *d,
                                char *err, size_t errlen) UP_WARN_UNUSED;
/* -> Failed: error (why), finished. */
enum up_code up_status_failed(const char *dir, const char *id, const char *why, char *err,
                              size_t errlen) UP_WARN_UNUSED;

/* Current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (n >= 32). */
void up_now_iso(char *buf, size_t n);

#endif
