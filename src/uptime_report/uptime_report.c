/* uptime_report: the MPI batch job. Thin main: init, parse, run, finalize. */
#include <errno.h>
#include <getopt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "up_deadline.h"
#include "up_job.h"
#include "up_log.h"
#include "up_signal.h"
#include "up_time.h"

static void usage(FILE *f)
{
    fputs("usage: mpirun -n N uptime_report [options]\n"
          "Computes every store's uptime and downtime inside business hours over the last\n"
          "hour, day and week, and writes REPORTS/<report_id>.csv plus its status file.\n\n"
          "  -d, --db URL          database: PATH, sqlite:PATH, postgresql://... or a libpq\n"
          "                        conninfo (default $UPTIME_DB, else data/uptime.db)\n"
          "  -i, --report-id ID    report id, 1-64 of [A-Za-z0-9_-] (default: a new UUID)\n"
          "  -r, --reports-dir DIR where reports go (default reports)\n"
          "      --now TS          report as of TS (SPEC timestamp, e.g. '2023-01-25 18:13:22 "
          "UTC');\n"
          "                        later polls are ignored (default: the latest poll)\n"
          "      --progress-ms MS  least time between two progress updates of the status\n"
          "                        file while the stores are computed (default 500)\n"
          "      --timeout SEC     fail the run (exit 8, status Failed, no CSV) once SEC\n"
          "                        seconds have passed, whatever it waits on (a database\n"
          "                        server that stopped answering...); 0: no limit\n"
          "                        (default 3600)\n"
          "      --parallel-write  every rank writes its own rows into the CSV (pwrite at\n"
          "                        offsets from an exclusive scan of their sizes) instead\n"
          "                        of sending them to rank 0; the same bytes. For large\n"
          "                        reports on a file system every node shares\n"
          "  -q, --quiet           no run summary\n"
          "  -v, --verbose         debug logging\n"
          "  -h, --help            this help\n\n"
          "Exit: 0 complete, 1 job failed, 2 usage error, 3 database error, 4 file I/O error,\n"
          "5 out of memory, 6 MPI error, 7 time zone database error, 8 timed out (--timeout).\n",
          f);
}

/* Options with no short form (each short option means one thing in every program:
 * README "Options"). */
enum { OPT_NOW = 256, OPT_PROGRESS_MS, OPT_TIMEOUT, OPT_PARALLEL_WRITE };

/* Parses the command line (same on every rank). Returns -1 to continue, else an exit code. */
static int parse(int argc, char **argv, struct up_job_opts *o, int rank, int *verbose)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"report-id", required_argument, NULL, 'i'},
        {"reports-dir", required_argument, NULL, 'r'},
        {"now", required_argument, NULL, OPT_NOW},
        {"progress-ms", required_argument, NULL, OPT_PROGRESS_MS},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"parallel-write", no_argument, NULL, OPT_PARALLEL_WRITE},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *why = NULL;
    int c;

    o->db = getenv("UPTIME_DB");
    if (!o->db || !*o->db)
        o->db = "data/uptime.db";
    o->reports_dir = "reports";
    o->timeout_s = UP_DEADLINE_DEFAULT_S;
    opterr = rank == 0;
    while ((c = getopt_long(argc, argv, "d:i:r:qvh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->db = optarg;
            break;
        case 'i':
            if (!up_report_id_valid(optarg)) {
                if (rank == 0)
                    fprintf(stderr,
                            "uptime_report: invalid report id '%s': use 1-64 of "
                            "[A-Za-z0-9_-]\n",
                            optarg);
                return UP_EUSAGE;
            }
            snprintf(o->report_id, sizeof o->report_id, "%s", optarg);
            break;
        case 'r':
            o->reports_dir = optarg;
            break;
        case OPT_NOW:
            if (up_parse_timestamp(optarg, strlen(optarg), &o->now, &why) != 0) {
                if (rank == 0)
                    fprintf(stderr, "uptime_report: invalid --now '%s': %s\n", optarg, why);
                return UP_EUSAGE;
            }
            o->has_now = 1;
            break;
        case OPT_PROGRESS_MS: {
            char *end = NULL;
            long v;
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || v < 1 || v > 3600000) {
                if (rank == 0)
                    fprintf(stderr,
                            "uptime_report: --progress-ms needs 1 to 3600000 milliseconds, "
                            "not '%s'\n",
                            optarg);
                return UP_EUSAGE;
            }
            o->progress_ms = (int)v;
            break;
        }
        case OPT_TIMEOUT:
            if (up_deadline_parse(optarg, &o->timeout_s) != 0) {
                if (rank == 0)
                    fprintf(stderr,
                            "uptime_report: --timeout needs 0 (no limit) to %d seconds, not '%s'\n",
                            UP_DEADLINE_MAX_S, optarg);
                return UP_EUSAGE;
            }
            break;
        case OPT_PARALLEL_WRITE:
            o->parallel_write = 1;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'v':
            *verbose = 1;
            break;
        case 'h':
            if (rank == 0)
                usage(stdout);
            return UP_OK;
        default:
            if (rank == 0)
                usage(stderr);
            return UP_EUSAGE;
        }
    }
    if (optind != argc) {
        if (rank == 0)
            fprintf(stderr, "uptime_report: unexpected argument '%s'\n", argv[optind]);
        return UP_EUSAGE;
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct up_job_opts opts;
    int rank = 0, verbose = 0, code, provided;

    /* FUNNELED: the job's watchdog (--timeout) is a thread of its own that never calls
     * MPI. */
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "uptime_report: MPI_Init failed\n");
        return UP_EMPI;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    {
        /* A rank ended by SIGTERM, SIGINT or SIGHUP (mpirun stopping the job, scancel) says
         * so in the run's log, with its pid, host and the sender: the lifecycle names it in
         * the Failed reason. The rank still ends at once, by that signal. */
        char host[64], who[160];
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "unknown");
        host[sizeof host - 1] = '\0';
        snprintf(who, sizeof who, "uptime_report: rank %d (pid %ld on %s)", rank, (long)getpid(),
                 host);
        up_signal_catch(who, "");
    }
    memset(&opts, 0, sizeof opts);
    code = parse(argc, argv, &opts, rank, &verbose);
    if (code < 0) {
        up_log_init(rank, verbose ? UP_LOG_DEBUG : UP_LOG_INFO);
        code = (int)up_job_run(&opts, MPI_COMM_WORLD);
    }
    MPI_Finalize();
    return code;
}
