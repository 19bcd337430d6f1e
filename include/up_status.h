/*
 * The report lifecycle's state: report ids and the per-report status file
 * DIR/<id>.status.json. This module is the only code that spells the file's field names
 * (docs/lifecycle.md, "The status file", has the schema); every writer -- the job, the
 * trigger, the local wrapper, the batch script, get_report's verdicts -- goes through its
 * typed transitions, each a merge under the report's lock DIR/.<id>.lock (flock).
 */
#ifndef UP_STATUS_H
#define UP_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include "up_error.h"

#define UP_REPORT_ID_MAX 64
/* The id alphabet, as messages state it. */
#define UP_REPORT_ID_RULE "1-64 of [A-Za-z0-9_-]"
/* How long a writer waits for the report's lock before it gives up with UP_EIO. */
#define UP_STATUS_LOCK_WAIT_MS 10000

/* Sets how long writers wait for a report's lock from now on (default
 * UP_STATUS_LOCK_WAIT_MS); for callers that must answer quickly, and for the tests. */
void up_status_set_lock_wait(int ms);

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
 * Sets fields in dir/<id>.status.json (a JSON object), keeping the fields already there,
 * under the report's lock, by writing a temporary file and renaming it. The generic merge
 * under the typed transitions below; callers outside this module use those. Returns
 * UP_OK, UP_EIO (lock not had within UP_STATUS_LOCK_WAIT_MS, file not writable) or
 * UP_ENOMEM, with a message in err.
 */
enum up_code up_status_update(const char *dir, const char *id, const struct up_status_field *f,
                              size_t n, char *err, size_t errlen) UP_WARN_UNUSED;

/* ---- Reading ---- */

/* A report's status ("status"); UP_STATE_NONE when the file or the field is missing. */
enum up_state {
    UP_STATE_NONE,
    UP_STATE_PENDING,  /* "Pending": queued in Slurm */
    UP_STATE_RUNNING,  /* "Running" */
    UP_STATE_COMPLETE, /* "Complete": the CSV is published */
    UP_STATE_FAILED,   /* "Failed", with "error" */
    UP_STATE_OTHER     /* a status this version does not know (kept in info.status) */
};

/* Returns the status file's spelling of s ("Pending", ...; "" for NONE and OTHER). */
const char *up_state_name(enum up_state s);

enum up_launcher { UP_LAUNCHER_NONE, UP_LAUNCHER_LOCAL, UP_LAUNCHER_SLURM };

/* A process as the status file names it: its pid and its start time (/proc/PID/stat
 * field 22, clock ticks after boot), so that a recycled pid is not taken for it. pid 0:
 * not recorded; start "": not recorded. */
struct up_proc_id {
    long pid;
    char start[32];
};

/* What the lifecycle reads from a status file (absent fields are 0 or ""). */
struct up_status_info {
    int exists; /* the file exists */
    enum up_state state;
    char status[32];           /* "status" as written */
    char error[2048];          /* "error" when Failed */
    enum up_launcher launcher; /* "launcher" */
    char host[256];            /* "host": where the trigger ran */
    struct up_proc_id mpirun;  /* "pid", "pid_start" (the local launcher's mpirun) */
    struct up_proc_id wrapper; /* "wrapper_pid", "wrapper_pid_start" */
    long rank0_pid;            /* "rank0_pid" */
    char rank0_host[256];      /* "rank0_host" */
    char log[1024];            /* "log": the run's log file */
    char slurm_job_id[32];     /* "slurm_job_id" */
    int has_exit_code;
    int exit_code; /* "exit_code": mpirun's or srun's */
    int job_code;  /* "job_code": the code the job itself failed with (0: none recorded) */
};

/*
 * Reads dir/<id>.status.json into info without the lock (writers replace the file
 * atomically, so a reader sees one version or the next). A missing file is UP_OK with
 * info->exists 0. Returns UP_EIO when the file exists but cannot be read or is not a JSON
 * object.
 */
enum up_code up_status_read(const char *dir, const char *id, struct up_status_info *info, char *err,
                            size_t errlen) UP_WARN_UNUSED;

/*
 * The lifecycle's answers as one JSON line into buf[n] (the same bytes for the scripts and
 * the coming HTTP front): {"report_id": "<id>"} for a new report, and {"status": "Pending"},
 * {"status": "Running"} or {"status": "Failed", "error": "<why>"} for get_report (error
 * is used for Failed only). Return 0, or -1 if buf is too small.
 */
int up_status_json_report_id(const char *id, char *buf, size_t n);
int up_status_json_answer(enum up_state state, const char *error, char *buf, size_t n);

/* ---- A status file held under its lock: read, decide, write, release ---- */

struct up_status;

/*
 * Takes dir/.<id>.lock (created if missing; waits at most UP_STATUS_LOCK_WAIT_MS) and
 * reads the status file. *st is the caller's, released with up_status_close. The lock
 * file is opened close-on-exec: a process started while it is held does not inherit it.
 * Returns UP_OK, UP_EIO (folder not writable, lock not had in time) or UP_ENOMEM.
 */
enum up_code up_status_open(const char *dir, const char *id, struct up_status **st, char *err,
                            size_t errlen) UP_WARN_UNUSED;

/* The held file's contents as of the last open or transition. */
const struct up_status_info *up_status_info(const struct up_status *st);

/* Releases the lock and frees st (NULL is fine). */
void up_status_close(struct up_status *st);

/* What the trigger knows of a new report. */
struct up_submit {
    enum up_launcher launcher; /* local: status Running; slurm: Pending */
    int ranks;
    const char *source; /* shown with its password hidden (up_source_redact) */
    const char *now;    /* --now as given, or NULL */
    const char *log;    /* the run's log file */
    const char *host;   /* where the trigger runs (pids are checked only there) */
};

/* What the batch script knows when the allocation starts. */
struct up_batch {
    const char *job_id; /* SLURM_JOB_ID */
    const char *nodes;  /* SLURM_JOB_NODELIST */
    const char *host;   /* the batch script's host */
    int ranks;          /* SLURM_NTASKS */
};

/*
 * Typed transitions of a held status file; each merges its fields, writes the file
 * (temporary file, rename) and refreshes up_status_info. Return UP_OK, UP_EIO or
 * UP_ENOMEM with a message in err.
 */
/* The trigger: report_id, status (Running or Pending), launcher, submitted, ranks,
 * source, log, host, error null, and now when given. */
enum up_code up_status_submitted(struct up_status *st, const struct up_submit *s, char *err,
                                 size_t errlen) UP_WARN_UNUSED;
/* The trigger, local launcher: wrapper_pid, wrapper_pid_start. */
enum up_code up_status_wrapper(struct up_status *st, const struct up_proc_id *wrapper, char *err,
                               size_t errlen) UP_WARN_UNUSED;
/* The local wrapper: pid, pid_start (mpirun), wrapper_pid, wrapper_pid_start. */
enum up_code up_status_launched(struct up_status *st, const struct up_proc_id *mpirun,
                                const struct up_proc_id *wrapper, char *err,
                                size_t errlen) UP_WARN_UNUSED;
/* The trigger, Slurm launcher: slurm_job_id (a number when it is one). */
enum up_code up_status_slurm_job(struct up_status *st, const char *job_id, char *err,
                                 size_t errlen) UP_WARN_UNUSED;
/* The batch script: report_id, status Running, launcher slurm, slurm_job_id, slurm_nodes,
 * batch_host, ranks, error null. */
enum up_code up_status_batch_running(struct up_status *st, const struct up_batch *b, char *err,
                                     size_t errlen) UP_WARN_UNUSED;
/* -> Failed: error (why), finished. Callers that judge a run from outside (wrapper, batch
 * script, get_report) first check that the job has not written its own verdict, and that
 * the CSV was not published (then up_status_published). */
enum up_code up_status_fail(struct up_status *st, const char *why, char *err,
                            size_t errlen) UP_WARN_UNUSED;
/* The wrapper or batch script: exit_code, the run's (0 exactly when Complete). */
enum up_code up_status_exit_code(struct up_status *st, int code, char *err,
                                 size_t errlen) UP_WARN_UNUSED;
/* A verdict from outside on a run whose CSV is published (the rename, the report's one
 * atomic step, happened) but whose job ended before it recorded Complete (killed between
 * the two): -> Complete, finished, progress 100, phase done, error null. The counts the
 * job would have written (now, stores, polls) stay as they were. */
enum up_code up_status_published(struct up_status *st, char *err, size_t errlen) UP_WARN_UNUSED;

/* Where one rank of the job runs, as the job records it (rank_pids, rank_hosts). */
struct up_rank_proc {
    long pid;
    char host[64];
};

/* At most this many ranks are recorded (a status file stays small whatever the job). */
#define UP_STATUS_RANKS_MAX 16384

/* Rank rank's pid and host as the job recorded them into *out. Returns 1, or 0 when they
 * are not recorded (an older job, a rank past UP_STATUS_RANKS_MAX, a job that died first). */
int up_status_rank_proc(const struct up_status *st, int rank, struct up_rank_proc *out);

/* ---- The job's transitions (rank 0), each one open, merge, close ---- */

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
    /* Every rank's pid and host, rank by rank (nprocs of them), recorded so that a verdict
     * from outside can name the process that died; NULL: not recorded. */
    const struct up_rank_proc *procs;
    int nprocs;
};

/* What a complete report records. */
struct up_status_done {
    int has_now;    /* 0: there was no poll, "now" is null */
    int64_t now;    /* µs, the report's now */
    int64_t stores; /* stores reported */
    int64_t polls;  /* polls read by every rank */
};

/*
 * Typed transitions of dir/<id>.status.json, each a merge of its fields under the
 * report's lock (the same one the lifecycle takes). Return UP_OK or UP_EIO /
 * UP_ENOMEM with a message in err.
 */
/* -> Running: report_id, started, ranks, rank0_pid, rank0_host, source (redacted),
 * error null, phase metadata, progress 0, and rank_pids, rank_hosts (arrays, rank by rank,
 * the first UP_STATUS_RANKS_MAX) when s->procs is given. */
enum up_code up_status_running(const char *dir, const char *id, const struct up_status_start *s,
                               char *err, size_t errlen) UP_WARN_UNUSED;
/* phase, progress (0-100) and, when stores >= 0, the number of stores. */
enum up_code up_status_progress(const char *dir, const char *id, enum up_phase phase, int percent,
                                int64_t stores, char *err, size_t errlen) UP_WARN_UNUSED;
/* -> Complete: finished, now, stores, polls, progress 100, phase done. */
enum up_code up_status_complete(const char *dir, const char *id, const struct up_status_done *d,
                                char *err, size_t errlen) UP_WARN_UNUSED;
/* -> Failed: error (why), finished. */
enum up_code up_status_failed(const char *dir, const char *id, const char *why, char *err,
                              size_t errlen) UP_WARN_UNUSED;
/* The same, by the job itself: also job_code, the code its ranks exit with (> 0), which the
 * launcher's end records when mpirun or srun ended by a signal only after that verdict
 * (srun's --kill-on-bad-exit ending the ranks still finalizing). */
enum up_code up_status_job_failed(const char *dir, const char *id, const char *why, int code,
                                  char *err, size_t errlen) UP_WARN_UNUSED;

/* Current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (n >= 32). */
void up_now_iso(char *buf, size_t n);

#endif
