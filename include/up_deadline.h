/*
 * The run's time limit (--timeout of uptime_report, uptime_snapshot and uptime_load): one
 * deadline per process, which every wait on a database server and every phase of a job
 * checks, so that a server that stops answering fails the run at a known time instead of
 * hanging it (docs/lifecycle.md, "Time limit").
 */
#ifndef UP_DEADLINE_H
#define UP_DEADLINE_H

#include <stddef.h>
#include <stdint.h>
#include "up_error.h"

/* The programs' default --timeout, in seconds: generous for any report or load measured
 * (bench/README.md), short of a day. */
#define UP_DEADLINE_DEFAULT_S 3600

/* The longest --timeout accepted: 30 days. */
#define UP_DEADLINE_MAX_S 2592000

/*
 * Parses a --timeout value: a whole number of seconds, 0 (no limit) to UP_DEADLINE_MAX_S.
 * Returns 0 with *seconds set, or -1 for anything else ("", "5s", "-1", "1e3").
 */
int up_deadline_parse(const char *text, int *seconds);

/*
 * Starts the limit: seconds > 0 from now (CLOCK_MONOTONIC); 0 clears it (no limit, the
 * state before any call). Not thread-safe: call it before starting threads that wait.
 */
void up_deadline_set(int seconds);

/* The seconds given to up_deadline_set (0: no limit). */
int up_deadline_limit(void);

/* Milliseconds left before the deadline (0 or less: passed); INT64_MAX without a limit. */
int64_t up_deadline_left_ms(void);

/* Returns 1 when a limit is set and has passed, else 0. Cheap: callable per row. */
int up_deadline_expired(void);

/*
 * Writes "<what>: timed out after N s (--timeout)" into err (what says where: the source
 * and the step, or the job's phase) and returns UP_ETIMEOUT.
 */
enum up_code up_deadline_error(char *err, size_t errlen, const char *what);

#endif
