/*
 * The report lifecycle (docs/lifecycle.md) in one implementation: starting a run, here
 * under mpirun or as a Slurm batch job; the local wrapper that watches mpirun; the batch
 * script's steps; and a report's state as get_report gives it, with the verdict on a run
 * that died without saying so. jobs/trigger_report, jobs/get_report and
 * slurm/uptime_report.sbatch reach it through uptime_ctl; the coming HTTP front calls it
 * directly. Every status write goes through up_status (its typed transitions, its lock).
 */
#ifndef UP_LIFECYCLE_H
#define UP_LIFECYCLE_H

#include <stddef.h>
#include "up_error.h"
#include "up_status.h"

/* A report run to start. Strings are the caller's; NULL means the default given. */
struct up_trigger {
    int slurm;                /* 1: sbatch slurm/uptime_report.sbatch; 0: mpirun here */
    int ranks;                /* MPI ranks (Slurm tasks), >= 1 */
    const char *source;       /* the database; a relative path is made absolute */
    const char *now;          /* --now as given, or NULL */
    const char *timeout;      /* the job's --timeout as given (seconds), or NULL: its default */
    int parallel_write;       /* the job's --parallel-write */
    const char *reports_dir;  /* created if missing, made absolute */
    const char *report_id;    /* NULL: a new UUID */
    const char *home;         /* the project folder (jobs/, slurm/) */
    const char *program;      /* uptime_report */
    const char *ctl;          /* uptime_ctl, for the local wrapper and the batch script */
    const char *mpiexec;      /* NULL: "mpirun" */
    int time_min;             /* Slurm time limit; 0: 30 minutes */
    int nodes;                /* Slurm nodes; 0: Slurm decides */
    const char *partition;    /* NULL: the cluster's default */
    char *const *sbatch_args; /* more sbatch options */
    size_t n_sbatch_args;
};

/*
 * Starts a run and returns once it is recorded: the status file exists (Running and
 * mpirun's pid for a local run, Pending and the job id for Slurm). The source reaches the
 * run only through the environment ($UPTIME_DB, exported by name to sbatch), never on a
 * command line: the run's environment is this process's with UPTIME_DB, UPTIME_HOME,
 * UPTIME_REPORT and UPTIME_CTL set, built for exec; this process's own is left unchanged,
 * so that a threaded caller (the HTTP server) may call this from any thread. The id goes
 * to id_out. Returns UP_OK; UP_EUSAGE for a malformed or
 * already used id; UP_EFAIL when the run could not be started (program missing, sbatch
 * refused: the status file then says Failed); UP_EIO for the reports folder. err says why.
 */
enum up_code up_lifecycle_trigger(const struct up_trigger *t, char id_out[UP_REPORT_ID_MAX + 1],
                                  char *err, size_t errlen) UP_WARN_UNUSED;

/*
 * The local wrapper (run detached by the trigger): under the report's lock, starts argv
 * (mpirun ...) and records its pid, then waits for it; if it ended without the job's
 * verdict, records Complete when the CSV is published (the job was killed after its
 * rename), else Failed naming what died (the log's end, the ranks the job recorded) and
 * removes the partial files; records exit_code. Prints one line on stdout (the run's log).
 * Returns the run's exit code, 0 exactly when the report is Complete: else mpirun's (128 +
 * signal when killed), or 1 when that was 0; -1 with err set when the status file could
 * not be kept.
 */
int up_lifecycle_run_local(const char *dir, const char *id, char *const argv[], char *err,
                           size_t errlen);

/* The batch script, when the allocation starts: status Running with the Slurm fields. */
enum up_code up_lifecycle_batch_start(const char *dir, const char *id, const struct up_batch *b,
                                      char *err, size_t errlen) UP_WARN_UNUSED;

/*
 * The batch script, after srun returned rc (terminated: Slurm sent SIGTERM, i.e. scancel
 * or the time limit). Records Failed unless the job wrote its verdict (or Slurm ended it:
 * get_report records that reason), with reason when not NULL or "" (the script refused to
 * start the step, and says why) or naming the task that died; records Complete instead
 * when the CSV is published (the job was killed after its rename); removes the partial
 * files, records exit_code. Returns the script's exit code: 0 when the report is
 * Complete, else rc, or 1 when that was 0; -1 with err set.
 */
int up_lifecycle_batch_end(const char *dir, const char *id, int rc, int terminated,
                           const char *reason, char *err, size_t errlen);

/* What get_report answers. */
enum up_answer {
    UP_ANSWER_COMPLETE, /* the CSV is dir/<id>.csv */
    UP_ANSWER_PENDING,
    UP_ANSWER_RUNNING,
    UP_ANSWER_FAILED,  /* error says why */
    UP_ANSWER_UNKNOWN, /* no status file and no CSV */
    UP_ANSWER_BROKEN   /* the status file cannot be read, or says what no version knows */
};

struct up_report_state {
    enum up_answer answer;
    char error[2048];  /* FAILED: the reason; BROKEN: what is wrong */
    char warning[512]; /* a warning for stderr ("" when none) */
};

/*
 * A report's state. For a Pending or Running report, checks that the run still exists
 * (local: its pids with their start times, on the machine that started it; Slurm:
 * scontrol, then the jobcomp file) and, if it does not, records Failed with the reason
 * under the lock (only if the job has not written its own verdict meanwhile) and removes
 * a partial CSV. id must be valid (up_report_id_valid). Returns UP_OK (s filled) or
 * UP_ENOMEM.
 */
enum up_code up_lifecycle_state(const char *dir, const char *id, struct up_report_state *s,
                                char *err, size_t errlen) UP_WARN_UNUSED;
/* The same from a status already read (up_status_read returned UP_OK): for a caller that
 * looked at it first (the HTTP server, to answer a report that may need Slurm on a thread
 * of its own). Runs Slurm commands only for a Slurm report still Pending or Running. */
enum up_code up_lifecycle_state_of(const char *dir, const char *id, const struct up_status_info *in,
                                   struct up_report_state *s, char *err,
                                   size_t errlen) UP_WARN_UNUSED;

#endif
