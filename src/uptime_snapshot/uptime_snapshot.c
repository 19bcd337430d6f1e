/* uptime_snapshot: writes the HDF5 snapshot of a source with parallel HDF5. Thin main. */
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
    fputs("usage: mpirun -n N uptime_snapshot --output FILE.h5 [options]\n"
          "Writes everything a report needs (stores, their polls of the last DAYS days plus\n"
          "each store's latest earlier poll, hours, zones) to an HDF5 file that\n"
          "uptime_report reads with --db hdf5:FILE.h5 (or any path ending in .h5).\n\n"
          "  -d, --db URL          the source: PATH, sqlite:PATH, postgresql://... or a libpq\n"
          "                        conninfo (default $UPTIME_DB, else data/uptime.db)\n"
          "  -o, --output FILE     the snapshot (--out also accepted); written to a temporary\n"
          "                        name beside it and renamed when complete\n"
          "      --now TS          the snapshot's now (default: the latest poll)\n"
          "      --days D          days of polls before now, 7 or more (default 8)\n"
          "      --chunk N         items per HDF5 chunk, each with a checksum (default 65536;\n"
          "                        0: contiguous, no checksums)\n"
          "      --deflate L       shuffle + deflate level 1-9 of chunked polls (default 0)\n"
          "      --timeout SEC     fail the run (exit 8, no file) once SEC seconds have\n"
          "                        passed; 0: no limit (default 3600)\n"
          "  -q, --quiet           no summary\n"
          "  -v, --verbose         debug logging\n"
          "  -h, --help            this help\n\n"
          "Exit: 0 written, 2 usage error, 3 database error, 4 file I/O error, 5 out of\n"
          "memory, 6 MPI error, 8 timed out (--timeout).\n",
          f);
}

enum { OPT_NOW = 256, OPT_DAYS, OPT_CHUNK, OPT_DEFLATE, OPT_TIMEOUT };

static int number(const char *s, long long lo, long long hi, long long *out)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Parses the command line (same on every rank). Returns -1 to continue, else an exit code. */
static int parse(int argc, char **argv, struct up_snapshot_opts *o, int rank, int *verbose)
{
    static const struct option longopts[] = {{"db", required_argument, NULL, 'd'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"now", required_argument, NULL, OPT_NOW},
                                             {"days", required_argument, NULL, OPT_DAYS},
                                             {"chunk", required_argument, NULL, OPT_CHUNK},
                                             {"deflate", required_argument, NULL, OPT_DEFLATE},
                                             {"timeout", required_argument, NULL, OPT_TIMEOUT},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"verbose", no_argument, NULL, 'v'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *why = NULL, *bad = NULL;
    long long v;
    int c;

    o->db = getenv("UPTIME_DB");
    if (!o->db || !*o->db)
        o->db = "data/uptime.db";
    o->days = UP_SNAPSHOT_DEFAULT_DAYS;
    o->chunk = UP_SNAPSHOT_DEFAULT_CHUNK;
    o->timeout_s = UP_DEADLINE_DEFAULT_S;
    opterr = rank == 0;
    while ((c = getopt_long(argc, argv, "d:o:qvh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->db = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case OPT_NOW:
            if (up_parse_timestamp(optarg, strlen(optarg), &o->now, &why) != 0) {
                if (rank == 0)
                    fprintf(stderr, "uptime_snapshot: invalid --now '%s': %s\n", optarg, why);
                return UP_EUSAGE;
            }
            o->has_now = 1;
            break;
        case OPT_DAYS:
            if (number(optarg, 7, 3650, &v) != 0)
                bad = "--days needs a number of days from 7 to 3650";
            o->days = (int)v;
            break;
        case OPT_CHUNK:
            if (number(optarg, 0, INT64_C(1) << 30, &v) != 0)
                bad = "--chunk needs a number of polls from 0 to 2^30";
            o->chunk = (uint64_t)v;
            break;
        case OPT_DEFLATE:
            if (number(optarg, 0, 9, &v) != 0)
                bad = "--deflate needs a level from 0 to 9";
            o->deflate = (int)v;
            break;
        case OPT_TIMEOUT:
            if (up_deadline_parse(optarg, &o->timeout_s) != 0)
                bad = "--timeout needs 0 (no limit) to 2592000 seconds";
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
        if (bad) {
            if (rank == 0)
                fprintf(stderr, "uptime_snapshot: %s, not '%s'\n", bad, optarg);
            return UP_EUSAGE;
        }
    }
    if (optind != argc)
        bad = "unexpected argument";
    else if (!o->out || !*o->out)
        bad = "--output FILE is required";
    else if (o->deflate > 0 && o->chunk == 0)
        bad = "--deflate needs --chunk";
    if (bad) {
        if (rank == 0)
            fprintf(stderr, "uptime_snapshot: %s\n", bad);
        return UP_EUSAGE;
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct up_snapshot_opts opts;
    int rank = 0, verbose = 0, code, provided;

    /* FUNNELED: the job's watchdog (--timeout) is a thread of its own that never calls
     * MPI. */
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "uptime_snapshot: MPI_Init failed\n");
        return UP_EMPI;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    {
        /* A rank ended by SIGTERM, SIGINT or SIGHUP (mpirun ending the job after another
         * rank died, scancel) says so, and rank 0 removes the temporary file it made. */
        char host[64], who[160];
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "unknown");
        host[sizeof host - 1] = '\0';
        snprintf(who, sizeof who, "uptime_snapshot: rank %d (pid %ld on %s)", rank,
                 (long)getpid(), host);
        up_signal_catch(who, rank == 0 ? "; its temporary file (if made) removed" : "");
    }
    memset(&opts, 0, sizeof opts);
    code = parse(argc, argv, &opts, rank, &verbose);
    if (code < 0) {
        up_log_init(rank, verbose ? UP_LOG_DEBUG : UP_LOG_INFO);
        code = (int)up_snapshot_run(&opts, MPI_COMM_WORLD);
    }
    MPI_Finalize();
    return code;
}
