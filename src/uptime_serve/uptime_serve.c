/* uptime_serve: the original service's HTTP API over the batch job (docs/http.md). Thin
 * main: parse, run (until SIGTERM or SIGINT), return the code. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "up_error.h"
#include "up_log.h"
#include "up_serve.h"

#define DEFAULT_DB "data/uptime.db"
#define DEFAULT_REPORTS "reports"
/* Bytes of a bearer token, newline included. */
#define TOKEN_MAX 1024

static void usage(FILE *f)
{
    fputs("usage: uptime_serve [options]\n"
          "Serves POST /trigger_report, GET /get_report/{id} and GET /health over the batch\n"
          "job (docs/http.md). Reports start as jobs/trigger_report starts them: mpirun here,\n"
          "or a Slurm batch job with --slurm. Runs until SIGTERM or SIGINT; running reports go\n"
          "on.\n\n"
          "      --listen ADDR:PORT    where to listen (default " UP_SERVE_LISTEN_DEFAULT
          "; port 0:\n"
          "                            an ephemeral one, logged); a non-loopback address\n"
          "                            needs --token-file\n"
          "  -d, --db URL              the source of every report (default $UPTIME_DB, else\n"
          "                            " DEFAULT_DB "); prefer UPTIME_DB for a password\n"
          "  -n, --ranks N             MPI ranks (Slurm tasks) of each report (default 2)\n"
          "  -r, --reports-dir DIR     reports folder (default $UPTIME_REPORTS_DIR, "
          "else " DEFAULT_REPORTS ")\n"
          "      --slurm               reports run as Slurm batch jobs\n"
          "      --time MIN            Slurm time limit (default 30)\n"
          "  -N, --nodes K             Slurm nodes\n"
          "  -p, --partition P         Slurm partition\n"
          "      --sbatch-arg ARG      extra sbatch option, repeatable (--sbatch-arg=--hold)\n"
          "      --token-file FILE     every request needs 'Authorization: Bearer <token>',\n"
          "                            the token being FILE's first line\n"
          "      --max-connections N   open connections in all (default 512)\n"
          "      --threads N           threads serving the connections (default: one per CPU)\n"
          "      --max-per-client N    open connections per client address (default 256)\n"
          "      --timeout SEC         idle connections are closed after SEC (default 10)\n"
          "      --max-body BYTES      request body cap (default 4096; 413 beyond)\n"
          "      --max-running N       reports pending or running at once (default 4; 429\n"
          "                            with Retry-After beyond)\n"
          "      --grace SEC           on SIGTERM, in-flight responses get SEC (default 30)\n"
          "  -q, --quiet               no start-up and shutdown lines (the access log stays)\n"
          "  -v, --verbose             debug logging\n"
          "  -h, --help                this help\n\n"
          "The access log (one line per request) goes to stdout, messages to stderr.\n"
          "Environment: UPTIME_REPORT, UPTIME_CTL (default: beside this program), UPTIME_HOME\n"
          "(the project folder, for jobs/ and slurm/), MPIEXEC, SLURM_CONF.\n"
          "Exit: 0 stopped by a signal; 1 could not start; 2 usage error; 4 cannot listen.\n",
          f);
}

enum {
    OPT_LISTEN = 256,
    OPT_SLURM,
    OPT_TIME,
    OPT_TOKEN_FILE,
    OPT_MAX_CONN,
    OPT_THREADS,
    OPT_MAX_PER_CLIENT,
    OPT_TIMEOUT,
    OPT_MAX_BODY,
    OPT_MAX_RUNNING,
    OPT_GRACE,
    OPT_SBATCH_ARG
};
/* --sbatch-arg may be given this many times. */
#define MAX_SBATCH_ARGS 32

/* s as a whole number in [1, max]; -1 if it is not one. */
static long number(const char *s, long max)
{
    char *end;
    long v;

    if (!s[0] || s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    return *end || errno || v < 1 || v > max ? -1 : v;
}

/* Paths of the programs the server starts. */
struct paths {
    char self_dir[PATH_MAX], program[PATH_MAX], ctl[PATH_MAX], home[PATH_MAX];
};

/* out = value if set, else dir/name (dir when name is NULL). Returns 0, or -1 if it does not
 * fit. */
static int path_or(char *out, size_t n, const char *value, const char *dir, const char *name)
{
    int r = value && *value ? snprintf(out, n, "%s", value)
            : name          ? snprintf(out, n, "%s/%s", dir, name)
                            : snprintf(out, n, "%s", dir);
    return r >= 0 && (size_t)r < n ? 0 : -1;
}

static int find_paths(struct paths *p)
{
    ssize_t n = readlink("/proc/self/exe", p->self_dir, sizeof p->self_dir - 1);
    char *slash;
    int bad = 0;

    if (n <= 0)
        return -1;
    p->self_dir[n] = '\0';
    slash = strrchr(p->self_dir, '/');
    if (slash)
        *slash = '\0';
    bad |= path_or(p->program, sizeof p->program, getenv("UPTIME_REPORT"), p->self_dir,
                   "uptime_report");
    bad |= path_or(p->ctl, sizeof p->ctl, getenv("UPTIME_CTL"), p->self_dir, "uptime_ctl");
    bad |= path_or(p->home, sizeof p->home, getenv("UPTIME_HOME"), UP_SOURCE_DIR, NULL);
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"db", required_argument, NULL, 'd'},
        {"ranks", required_argument, NULL, 'n'},
        {"reports-dir", required_argument, NULL, 'r'},
        {"slurm", no_argument, NULL, OPT_SLURM},
        {"time", required_argument, NULL, OPT_TIME},
        {"nodes", required_argument, NULL, 'N'},
        {"partition", required_argument, NULL, 'p'},
        {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
        {"max-connections", required_argument, NULL, OPT_MAX_CONN},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"max-per-client", required_argument, NULL, OPT_MAX_PER_CLIENT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"max-body", required_argument, NULL, OPT_MAX_BODY},
        {"max-running", required_argument, NULL, OPT_MAX_RUNNING},
        {"grace", required_argument, NULL, OPT_GRACE},
        {"sbatch-arg", required_argument, NULL, OPT_SBATCH_ARG},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct up_serve_config c;
    struct paths p;
    static char token[TOKEN_MAX];
    static char *sbatch_args[MAX_SBATCH_ARGS];
    const char *token_file = NULL, *e, *mpiexec = getenv("MPIEXEC");
    char err[2048];
    int ch, verbose = 0, slurm_only = 0;
    long v;
    enum up_code rc;

    up_serve_defaults(&c);
    e = getenv("UPTIME_DB");
    c.run.source = e && *e ? e : DEFAULT_DB;
    e = getenv("UPTIME_REPORTS_DIR");
    c.run.reports_dir = e && *e ? e : DEFAULT_REPORTS;
    while ((ch = getopt_long(argc, argv, "d:n:r:N:p:qvh", longopts, NULL)) != -1) {
        v = 0;
        switch (ch) {
        case OPT_LISTEN:
            c.listen = optarg;
            break;
        case 'd':
            c.run.source = optarg;
            break;
        case 'n':
        case 'N':
        case OPT_TIME:
        case OPT_MAX_CONN:
        case OPT_THREADS:
        case OPT_MAX_PER_CLIENT:
        case OPT_TIMEOUT:
        case OPT_MAX_BODY:
        case OPT_MAX_RUNNING:
        case OPT_GRACE:
            v = number(optarg, ch == OPT_MAX_BODY ? 1L << 24 : ch == OPT_THREADS ? 256 : 1000000);
            if (v < 0) {
                fprintf(stderr, "uptime_serve: %s needs a positive number, not '%s'\n",
                        argv[optind - 1], optarg);
                return UP_EUSAGE;
            }
            if (ch == 'n')
                c.run.ranks = (int)v;
            else if (ch == 'N')
                c.run.nodes = (int)v;
            else if (ch == OPT_TIME)
                c.run.time_min = (int)v;
            else if (ch == OPT_MAX_CONN)
                c.max_connections = (unsigned)v;
            else if (ch == OPT_THREADS)
                c.threads = (unsigned)v;
            else if (ch == OPT_MAX_PER_CLIENT)
                c.max_per_client = (unsigned)v;
            else if (ch == OPT_TIMEOUT)
                c.timeout_s = (unsigned)v;
            else if (ch == OPT_MAX_BODY)
                c.max_body = (size_t)v;
            else if (ch == OPT_MAX_RUNNING)
                c.max_running = (int)v;
            else
                c.grace_s = (int)v;
            slurm_only |= ch == 'N' || ch == OPT_TIME;
            break;
        case 'r':
            c.run.reports_dir = optarg;
            break;
        case OPT_SLURM:
            c.run.slurm = 1;
            break;
        case 'p':
            c.run.partition = optarg;
            slurm_only = 1;
            break;
        case OPT_SBATCH_ARG:
            if (c.run.n_sbatch_args >= MAX_SBATCH_ARGS) {
                fprintf(stderr, "uptime_serve: at most %d --sbatch-arg\n", MAX_SBATCH_ARGS);
                return UP_EUSAGE;
            }
            sbatch_args[c.run.n_sbatch_args++] = optarg;
            c.run.sbatch_args = sbatch_args;
            slurm_only = 1;
            break;
        case OPT_TOKEN_FILE:
            token_file = optarg;
            break;
        case 'q':
            c.quiet = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return UP_OK;
        default:
            fprintf(stderr, "try 'uptime_serve --help'\n");
            return UP_EUSAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "uptime_serve: unexpected argument '%s'\ntry 'uptime_serve --help'\n",
                argv[optind]);
        return UP_EUSAGE;
    }
    if (slurm_only && !c.run.slurm) {
        fprintf(stderr,
                "uptime_serve: --time, --nodes, --partition and --sbatch-arg need --slurm\n");
        return UP_EUSAGE;
    }
    if (!c.run.source[0] || !c.run.reports_dir[0]) {
        fprintf(stderr, "uptime_serve: --db and --reports-dir must not be empty\n");
        return UP_EUSAGE;
    }
    up_log_init(0, verbose ? UP_LOG_DEBUG : UP_LOG_INFO);
    if (token_file) {
        rc = up_serve_read_token(token_file, token, sizeof token, err, sizeof err);
        if (rc != UP_OK) {
            fprintf(stderr, "uptime_serve: %s\n", err);
            return rc;
        }
        c.token = token;
    }
    if (find_paths(&p) != 0) {
        fprintf(stderr, "uptime_serve: cannot find my own folder\n");
        return UP_EFAIL;
    }
    c.run.program = p.program;
    c.run.ctl = p.ctl;
    c.run.home = p.home;
    c.run.mpiexec = mpiexec && *mpiexec ? mpiexec : NULL;
    rc = up_serve_run(&c, err, sizeof err);
    if (rc != UP_OK)
        fprintf(stderr, "uptime_serve: %s\n", err);
    return rc;
}
