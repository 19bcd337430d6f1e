/* Report output: the CSV (SPEC §3) written to a temporary file and published atomically. */
#ifndef UP_REPORT_H
#define UP_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "up_error.h"
#include "up_model.h"

#define UP_REPORT_HEADER                                                                           \
    "store_id,uptime_last_hour,uptime_last_day,uptime_last_week,downtime_last_hour,"               \
    "downtime_last_day,downtime_last_week\n"

/* A report being written to a temporary file beside its final name. */
struct up_report_writer;

/* Creates dir/.<id>.csv.tmp; returns UP_OK or UP_EIO (message in err). */
enum up_code up_report_open(const char *dir, const char *id, struct up_report_writer **out,
                            char *err, size_t errlen) UP_WARN_UNUSED;

/* The temporary file's path (dir/.<id>.csv.tmp.XXXXXX), valid until commit or abort. */
const char *up_report_temp_path(const struct up_report_writer *w);

/* Appends one row: SPEC §3 quoting and %.2f of minutes (hour) or hours (day, week). */
void up_report_row(struct up_report_writer *w, const char *store_id, const struct up_result *r);

/* Appends n bytes of rows formatted elsewhere (up_report_format_row + '\n' each, e.g. by
 * another rank). A write error is reported by up_report_commit. */
void up_report_rows_raw(struct up_report_writer *w, const char *rows, size_t n);

/*
 * --parallel-write: rows written beside the writer, by other processes, each at its own
 * offset. up_report_expose flushes what w holds (the header) and gives the temporary
 * file's identity (device, inode) and the offset where the rows start. Another process
 * opens the file by its path with up_report_part_open: never through a symlink, and only
 * the regular file of that inode (and device, when check_dev: on rank 0's host; a network
 * file system numbers its devices per host), so a file put in its place is refused.
 * up_report_part_close fsyncs and closes; the writer's commit then publishes as usual.
 */
struct up_report_part;

enum up_code up_report_expose(struct up_report_writer *w, uint64_t *dev, uint64_t *ino,
                              int64_t *start, char *err, size_t errlen) UP_WARN_UNUSED;

enum up_code up_report_part_open(const char *path, uint64_t dev, uint64_t ino, int check_dev,
                                 struct up_report_part **out, char *err,
                                 size_t errlen) UP_WARN_UNUSED;

/* Writes n bytes of formatted rows at offset off. */
enum up_code up_report_part_write(struct up_report_part *p, const char *rows, size_t n, int64_t off,
                                  char *err, size_t errlen) UP_WARN_UNUSED;

/* fsync and close; frees p whatever happens. Accepts NULL (UP_OK). */
enum up_code up_report_part_close(struct up_report_part *p, char *err, size_t errlen);

/* Flushes, fsyncs and renames to dir/<id>.csv; frees w whatever happens. */
enum up_code up_report_commit(struct up_report_writer *w, char *err, size_t errlen) UP_WARN_UNUSED;

/* Removes the temporary file and frees w. Accepts NULL. */
void up_report_abort(struct up_report_writer *w);

/*
 * Writes d as C's "%.2f" would (the exact binary value rounded half to even; SPEC §5) into
 * out[n], fast for the report's values. Returns the length (out is NUL-terminated when it
 * is < n), like snprintf.
 */
int up_report_format_2dp(double d, char *out, size_t n);

/* Formats one report row into buf (no newline). Returns its length or -1 if too small. */
int up_report_format_row(char *buf, size_t n, const char *store_id, const struct up_result *r);

#endif
