/*
 * uptime_ctl: the report lifecycle's one implementation, for the scripts. jobs/trigger_report,
 * jobs/get_report and slurm/uptime_report.sbatch are thin wrappers over its commands, so
 * report ids, source strings and the status file are handled in C only (up_status,
 * up_source, up_lifecycle). A source is read from $UPTIME_DB (trigger_report also takes
 * --db, as its users type it), never passed on to a command line.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "up_error.h"
#include "up_lifecycle.h"
#include "up_source.h"
#include "up_status.h"

#define DEFAULT_DB "data/uptime.db"
#define DEFAULT_REPORTS "reports"
/* get_report's exit codes beyond the error enum (docs/lifecycle.md). */
#define EXIT_RUNNING 10
#define EXIT_FAILED 11
#define EXIT_UNKNOWN 12
/* --sbatch-arg may be given this many times. */
#define MAX_SBATCH_ARGS 32

static void usage(FILE *f)
{
    fputs("usage: uptime_ctl COMMAND [options] [arguments]\n"
          "The report lifecycle for jobs/trigger_report, jobs/get_report and\n"
          "slurm/uptime_report.sbatch (docs/lifecycle.md). The source is read from $UPTIME_DB.\n"
          "\n"
          "  trigger_report [options]      start a run (the options of jobs/trigger_report)\n"
          "  get_report [options] ID       the report's CSV, or its state as one JSON line\n"
          "  run_local -r DIR -i ID -- MPIRUN...   the local launcher's wrapper (internal)\n"
          "  batch_start -r DIR -i ID      the batch script: the allocation started\n"
          "  batch_end -r DIR -i ID --exit-code RC [--terminated] [--error TEXT]\n"
          "                                the batch script: srun ended; exits with its code\n"
          "  id new                        prints a new report id (a UUID)\n"
          "  id check ID                   exit 0 if ID is 1-64 of [A-Za-z0-9_-], else 2\n"
          "  source kind                   sqlite, postgresql, hdf5 or mem\n"
          "  source redact                 the source with its password hidden\n"
          "\n"
          "  -r, --reports-dir DIR  reports folder (default $UPTIME_REPORTS_DIR, else reports)\n"
          "  -i, --report-id ID     the report's id\n"
          "  -o, --output FILE      get_report: write the CSV to FILE\n"
          "  -n, --ranks N          trigger_report: MPI ranks (Slurm tasks), default 2\n"
          "  -d, --db URL           trigger_report: the source (default $UPTIME_DB, else\n"
          "                         " DEFAULT_DB ")\n"
          "  -N, --nodes K          trigger_report: Slurm nodes\n"
          "  -p, --partition P      trigger_report: Slurm partition\n"
          "  -h, --help             this help\n"
          "\n"
          "Exit: 0 success; 1 a run could not be started; 2 usage error or malformed id;\n"
          "4 I/O error; get_report: 10 pending or running, 11 failed, 12 unknown id.\n",
          f);
}

/* Long-only options. */
enum {
    OPT_SLURM = 256,
    OPT_NOW,
    OPT_TIME,
    OPT_SBATCH_ARG,
    OPT_EXIT_CODE,
    OPT_TERMINATED,
    OPT_ERROR,
    OPT_TIMEOUT,
    OPT_PARALLEL_WRITE
};

static const struct option longopts[] = {{"reports-dir", required_argument, NULL, 'r'},
                                         {"report-id", required_argument, NULL, 'i'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"ranks", required_argument, NULL, 'n'},
                                         {"db", required_argument, NULL, 'd'},
                                         {"nodes", required_argument, NULL, 'N'},
                                         {"partition", required_argument, NULL, 'p'},
                                         {"slurm", no_argument, NULL, OPT_SLURM},
                                         {"now", required_argument, NULL, OPT_NOW},
                                         {"timeout", required_argument, NULL, OPT_TIMEOUT},
                                         {"parallel-write", no_argument, NULL, OPT_PARALLEL_WRITE},
                                         {"time", required_argument, NULL, OPT_TIME},
                                         {"sbatch-arg", required_argument, NULL, OPT_SBATCH_ARG},
                                         {"exit-code", required_argument, NULL, OPT_EXIT_CODE},
                                         {"terminated", no_argument, NULL, OPT_TERMINATED},
                                         {"error", required_argument, NULL, OPT_ERROR},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};

struct opts {
    const char *dir, *id, *output, *db, *now, *timeout, *partition, *error;
    long ranks, time_min, nodes, exit_code;
    int slurm, terminated, has_exit_code, has_slurm_only, parallel_write;
    char *sbatch_args[MAX_SBATCH_ARGS];
    size_t n_sbatch_args;
    int help;
};

static const char *cmd = "uptime_ctl"; /* the command, as messages name it */

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (strcmp(cmd, "trigger_report") == 0 || strcmp(cmd, "get_report") == 0)
        fprintf(stderr, "\ntry 'jobs/%s --help'\n", cmd);
    else
        fprintf(stderr, "\ntry 'uptime_ctl --help'\n");
    return UP_EUSAGE;
}

/* s as a number of at most digits digits, 1 or more; -1 if it is not one. */
static long positive(const char *s, int digits)
{
    char *end;
    long v;

    if (!s[0] || s[0] < '1' || s[0] > '9' || strlen(s) > (size_t)digits)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    return *end || errno ? -1 : v;
}

/* Parses argv (after the command); the first argument not an option is at *first. Returns
 * -1 to go on, else an exit code. */
static int parse(int argc, char **argv, struct opts *o, int *first)
{
    int c;

    memset(o, 0, sizeof *o);
    o->ranks = 2;
    o->exit_code = 0;
    o->dir = getenv("UPTIME_REPORTS_DIR");
    if (!o->dir || !*o->dir)
        o->dir = DEFAULT_REPORTS;
    o->db = getenv("UPTIME_DB");
    if (!o->db || !*o->db)
        o->db = DEFAULT_DB;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":r:i:o:n:d:N:p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            o->dir = optarg;
            break;
        case 'i':
            o->id = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'n':
            o->ranks = positive(optarg, 6);
            if (o->ranks < 0)
                return usage_error("-n needs a positive number of ranks, not '%s'", optarg);
            break;
        case 'd':
            o->db = optarg;
            break;
        case 'N':
            o->nodes = positive(optarg, 6);
            o->has_slurm_only = 1;
            if (o->nodes < 0)
                return usage_error("--nodes needs a positive number, not '%s'", optarg);
            break;
        case 'p':
            o->partition = optarg;
            o->has_slurm_only = 1;
            break;
        case OPT_SLURM:
            o->slurm = 1;
            break;
        case OPT_NOW:
            o->now = optarg;
            break;
        case OPT_TIMEOUT:
            o->timeout = optarg;
            break;
        case OPT_PARALLEL_WRITE:
            o->parallel_write = 1;
            break;
        case OPT_TIME:
            o->time_min = positive(optarg, 7);
            o->has_slurm_only = 1;
            if (o->time_min < 0)
                return usage_error("--time needs a positive number of minutes, not '%s'", optarg);
            break;
        case OPT_SBATCH_ARG:
            if (o->n_sbatch_args >= MAX_SBATCH_ARGS)
                return usage_error("at most 32 --sbatch-arg");
            o->sbatch_args[o->n_sbatch_args++] = optarg;
            o->has_slurm_only = 1;
            break;
        case OPT_EXIT_CODE:
            o->exit_code = strcmp(optarg, "0") == 0 ? 0 : positive(optarg, 3);
            o->has_exit_code = 1;
            if (o->exit_code < 0)
                return usage_error("--exit-code needs an exit code, not '%s'", optarg);
            break;
        case OPT_TERMINATED:
            o->terminated = 1;
            break;
        case OPT_ERROR:
            o->error = optarg;
            break;
        case 'h':
            o->help = 1;
            break;
        case ':':
            return usage_error("%s needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    *first = optind;
    return -1;
}

/* ---- trigger_report ---- */

static int do_trigger(int argc, char **argv)
{
    struct opts o;
    struct up_trigger t;
    char id[UP_REPORT_ID_MAX + 1], err[2048], program[PATH_MAX], self[PATH_MAX], answer[128];
    const char *home = getenv("UPTIME_HOME");
    enum up_code rc;
    int first, r;
    ssize_t n;

    r = parse(argc, argv, &o, &first);
    if (r >= 0)
        return r;
    if (o.help) {
        usage(stdout);
        return UP_OK;
    }
    if (first < argc)
        return usage_error("unknown option '%s'", argv[first]);
    if (!o.db[0])
        return usage_error("--db is empty");
    if (!o.dir[0])
        return usage_error("--reports-dir is empty");
    if (!o.slurm && o.has_slurm_only)
        return usage_error("--time, --nodes, --partition and --sbatch-arg need --slurm");
    if (!home || !*home) {
        fprintf(stderr, "%s: UPTIME_HOME is not set (run jobs/trigger_report)\n", cmd);
        return UP_EFAIL;
    }
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "%s: cannot find myself: %s\n", cmd, strerror(errno));
        return UP_EFAIL;
    }
    self[n] = '\0';
    if (getenv("UPTIME_REPORT") && *getenv("UPTIME_REPORT"))
        snprintf(program, sizeof program, "%s", getenv("UPTIME_REPORT"));
    else
        snprintf(program, sizeof program, "%s/build/uptime_report", home);
    memset(&t, 0, sizeof t);
    t.slurm = o.slurm;
    t.ranks = (int)o.ranks;
    t.source = o.db;
    t.now = o.now;
    t.timeout = o.timeout;
    t.parallel_write = o.parallel_write;
    t.reports_dir = o.dir;
    t.report_id = o.id;
    t.home = home;
    t.program = program;
    t.ctl = self;
    t.mpiexec = getenv("MPIEXEC") && *getenv("MPIEXEC") ? getenv("MPIEXEC") : NULL;
    t.time_min = (int)o.time_min;
    t.nodes = (int)o.nodes;
    t.partition = o.partition;
    t.sbatch_args = o.sbatch_args;
    t.n_sbatch_args = o.n_sbatch_args;
    rc = up_lifecycle_trigger(&t, id, err, sizeof err);
    if (rc == UP_EUSAGE)
        return usage_error("%s", err);
    if (rc != UP_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return UP_EFAIL;
    }
    if (up_status_json_report_id(id, answer, sizeof answer) != 0) {
        fprintf(stderr, "%s: report id too long\n", cmd);
        return UP_EFAIL;
    }
    printf("%s\n", answer);
    return UP_OK;
}

/* ---- get_report ---- */

/* Writes the CSV to out (stdout when out is NULL). Returns 0 or UP_EIO. */
static int copy_csv(const char *csv, const char *out)
{
    FILE *in = fopen(csv, "rb"), *to;
    char buf[65536];
    size_t n;
    int bad = 0;

    if (!in) {
        fprintf(stderr, "%s: cannot read %s: %s\n", cmd, csv, strerror(errno));
        return UP_EIO;
    }
    to = out ? fopen(out, "wb") : stdout;
    if (!to) {
        fprintf(stderr, "%s: cannot write %s\n", cmd, out);
        fclose(in);
        return UP_EIO;
    }
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, to) != n)
            bad = 1;
    bad |= ferror(in);
    fclose(in);
    bad |= out ? fclose(to) != 0 : fflush(to) != 0;
    if (bad) {
        fprintf(stderr, "%s: cannot write %s\n", cmd, out ? out : "the CSV to stdout");
        return UP_EIO;
    }
    return UP_OK;
}

static int do_get(int argc, char **argv)
{
    struct opts o;
    struct up_report_state s;
    char err[512], csv[PATH_MAX];
    const char *id;
    int first, r;

    r = parse(argc, argv, &o, &first);
    if (r >= 0)
        return r;
    if (o.help) {
        usage(stdout);
        return UP_OK;
    }
    if (first >= argc)
        return usage_error("missing report id");
    if (first + 1 < argc)
        return usage_error("expected exactly one report id");
    id = argv[first];
    /* The id becomes part of a path: anything but the id alphabet is refused before any
     * file is looked at, so '../etc/passwd' never leaves the reports folder. */
    if (!up_report_id_valid(id))
        return usage_error("malformed report id '%s': expected " UP_REPORT_ID_RULE, id);
    if (up_lifecycle_state(o.dir, id, &s, err, sizeof err) != UP_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return UP_ENOMEM;
    }
    if (s.warning[0])
        fprintf(stderr, "%s: warning: %s\n", cmd, s.warning);
    switch (s.answer) {
    case UP_ANSWER_COMPLETE:
        snprintf(csv, sizeof csv, "%s/%s.csv", o.dir, id);
        if (access(csv, R_OK) != 0) {
            fprintf(stderr, "%s: report %s is Complete but %s is missing or unreadable\n", cmd, id,
                    csv);
            return UP_EIO;
        }
        return copy_csv(csv, o.output);
    case UP_ANSWER_PENDING:
    case UP_ANSWER_RUNNING:
    case UP_ANSWER_FAILED: {
        /* error is at most 2 KiB: escaped, 6 bytes a byte at worst */
        static char answer[6 * sizeof s.error + 64];
        enum up_state st = s.answer == UP_ANSWER_PENDING   ? UP_STATE_PENDING
                           : s.answer == UP_ANSWER_RUNNING ? UP_STATE_RUNNING
                                                           : UP_STATE_FAILED;
        if (up_status_json_answer(st, s.error, answer, sizeof answer) != 0) {
            fprintf(stderr, "%s: answer too long\n", cmd);
            return UP_EIO;
        }
        printf("%s\n", answer);
        return st == UP_STATE_FAILED ? EXIT_FAILED : EXIT_RUNNING;
    }
    case UP_ANSWER_UNKNOWN:
        fprintf(stderr, "%s: unknown report id '%s' (no %s/%s.status.json)\n", cmd, id, o.dir, id);
        return EXIT_UNKNOWN;
    case UP_ANSWER_BROKEN:
        break;
    }
    fprintf(stderr, "%s: %s\n", cmd, s.error);
    return UP_EIO;
}

/* ---- The wrapper and the batch script's steps ---- */

/* -r and -i, both required and the id valid. Returns -1 to go on, else an exit code. */
static int need_dir_id(const struct opts *o)
{
    if (!o->id)
        return usage_error("--report-id is required");
    if (!up_report_id_valid(o->id))
        return usage_error("malformed report id '%s': expected " UP_REPORT_ID_RULE, o->id);
    return -1;
}

static int do_run_local(int argc, char **argv)
{
    struct opts o;
    char err[1024];
    int first, r;

    r = parse(argc, argv, &o, &first);
    if (r >= 0)
        return r;
    r = need_dir_id(&o);
    if (r >= 0)
        return r;
    if (first >= argc)
        return usage_error("run_local needs a command after --");
    if (up_lifecycle_run_local(o.dir, o.id, argv + first, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return UP_EIO;
    }
    return UP_OK;
}

static int do_batch(int argc, char **argv, int start)
{
    struct opts o;
    struct up_batch b;
    char err[1024], host[256];
    const char *ntasks = getenv("SLURM_NTASKS");
    int first, r;

    r = parse(argc, argv, &o, &first);
    if (r >= 0)
        return r;
    r = need_dir_id(&o);
    if (r >= 0)
        return r;
    if (!start) {
        if (!o.has_exit_code)
            return usage_error("batch_end needs --exit-code");
        r = up_lifecycle_batch_end(o.dir, o.id, (int)o.exit_code, o.terminated, o.error, err,
                                   sizeof err);
        if (r < 0) {
            fprintf(stderr, "%s: %s\n", cmd, err);
            return o.exit_code ? (int)o.exit_code : UP_EIO;
        }
        return r;
    }
    b.job_id = getenv("SLURM_JOB_ID");
    if (!b.job_id || !*b.job_id) {
        fprintf(stderr, "%s: not inside a Slurm job (no SLURM_JOB_ID)\n", cmd);
        return UP_EUSAGE;
    }
    b.nodes = getenv("SLURM_JOB_NODELIST") ? getenv("SLURM_JOB_NODELIST") : "";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    b.host = host;
    b.ranks = ntasks && positive(ntasks, 6) > 0 ? (int)positive(ntasks, 6) : 1;
    r = up_lifecycle_batch_start(o.dir, o.id, &b, err, sizeof err);
    if (r != UP_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return r == UP_EUSAGE ? UP_EUSAGE : UP_EIO;
    }
    return UP_OK;
}

/* ---- ids and sources ---- */

static int do_id(int argc, char **argv)
{
    char id[37];

    if (argc == 2 && strcmp(argv[1], "new") == 0) {
        up_report_new_id(id);
        printf("%s\n", id);
        return UP_OK;
    }
    if (argc == 3 && strcmp(argv[1], "check") == 0) {
        if (up_report_id_valid(argv[2]))
            return UP_OK;
        fprintf(stderr, "malformed report id '%s': expected " UP_REPORT_ID_RULE "\n", argv[2]);
        return UP_EUSAGE;
    }
    return usage_error("usage: uptime_ctl id new | id check ID");
}

static int do_source(int argc, char **argv)
{
    const char *db = getenv("UPTIME_DB");
    char shown[4096];

    if (!db || !*db)
        db = DEFAULT_DB;
    if (argc == 2 && strcmp(argv[1], "kind") == 0) {
        printf("%s\n", up_source_kind_name(up_source_kind(db)));
        return UP_OK;
    }
    if (argc == 2 && strcmp(argv[1], "redact") == 0) {
        up_source_redact(db, shown, sizeof shown);
        printf("%s\n", shown);
        return UP_OK;
    }
    return usage_error("usage: uptime_ctl source kind | source redact (of $UPTIME_DB)");
}

int main(int argc, char **argv)
{
    const char *c = argc > 1 ? argv[1] : "";

    if (strcmp(c, "-h") == 0 || strcmp(c, "--help") == 0) {
        usage(stdout);
        return UP_OK;
    }
    if (strcmp(c, "trigger_report") == 0 || strcmp(c, "get_report") == 0)
        cmd = c;
    if (strcmp(c, "trigger_report") == 0)
        return do_trigger(argc - 1, argv + 1);
    if (strcmp(c, "get_report") == 0)
        return do_get(argc - 1, argv + 1);
    /* The wrapper speaks for trigger_report in the run's log. */
    if (strcmp(c, "run_local") == 0) {
        cmd = "trigger_report";
        return do_run_local(argc - 1, argv + 1);
    }
    if (strcmp(c, "batch_start") == 0 || strcmp(c, "batch_end") == 0) {
        cmd = "uptime_report.sbatch";
        return do_batch(argc - 1, argv + 1, strcmp(c, "batch_start") == 0);
    }
    if (strcmp(c, "id") == 0)
        return do_id(argc - 1, argv + 1);
    if (strcmp(c, "source") == 0)
        return do_source(argc - 1, argv + 1);
    usage(stderr);
    return UP_EUSAGE;
}
