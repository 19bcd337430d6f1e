/*
 * The job's last resort when its --timeout has passed and a rank still does not stop (a
 * wait no deadline reaches: a hung file system, a stuck peer): a thread of its own that,
 * unless disarmed in time, records why and ends the process, so that mpirun (or srun)
 * ends every other rank. Private to src/job; no MPI (the thread never calls it).
 */
#ifndef UP_WATCHDOG_H
#define UP_WATCHDOG_H

/* Seconds a job is given after its deadline to fail the ordinary way, through its
 * agreement, before the watchdog ends it. */
#define UP_WATCHDOG_GRACE_S 10

struct up_watchdog;

/*
 * Starts a thread that waits after_ms milliseconds (CLOCK_MONOTONIC); unless
 * up_watchdog_stop came first, it then calls fire(ctx) and ends the process with
 * _exit(code). fire runs on that thread, concurrently with the stuck one: it may only
 * write files (the status, a log line) and read what the job publishes for it
 * atomically. Returns NULL when the thread cannot start (the job then runs without one).
 */
struct up_watchdog *up_watchdog_start(long long after_ms, void (*fire)(void *ctx), void *ctx,
                                      int code);

/*
 * Disarms w and frees it. When w is firing already this never returns (the process is
 * ending): call it before anything that must not happen after the watchdog's verdict
 * (publishing the report). Accepts NULL.
 */
void up_watchdog_stop(struct up_watchdog *w);

#endif
