/* uptime_load: validates the three CSV files and loads them into a database, atomically. */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "up_deadline.h"
#include "up_error.h"
#include "up_load.h"
#include "up_signal.h"
#include "up_source.h"
#include "up_store.h"
#include "up_time.h"

#define DEFAULT_DB "data/uptime.db"
#define DEFAULT_REJECTS "reports/load-rejects.csv"

static void usage(FILE *f)
{
    fputs("usage: uptime_load [options]\n"
          "Validates store_status.csv, menu_hours.csv and timezones.csv (or any of them) and\n"
          "loads them into the database in one transaction. Rejected rows are counted, listed\n"
          "in the rejects file and left out; valid rows always load. A table whose file is\n"
          "not given is left as it is.\n\n"
          "  -d, --db URL          database: PATH, sqlite:PATH, postgresql://... or a libpq\n"
          "                        conninfo (default $UPTIME_DB, else " DEFAULT_DB ")\n"
          "  -D, --dir DIR         folder holding the three files (all three are loaded;\n"
          "                        default . when no file is given)\n"
          "  -s, --status FILE     polls file (default DIR/store_status.csv)\n"
          "  -H, --hours FILE      business hours file (default DIR/menu_hours.csv)\n"
          "  -t, --timezones FILE  time zones file (default DIR/timezones.csv, else "
          "DIR/bq-results*.csv)\n"
          "                        FILE may be - (standard input, for one file) and may be\n"
          "                        gzip-compressed (read through zlib, whatever its name)\n"
          "      --rejects FILE    rejects CSV: file,line,reason,detail,value "
          "(default " DEFAULT_REJECTS ")\n"
          "      --no-rejects      do not write a rejects file\n"
          "      --progress        a progress line on stderr (default: when stderr is a\n"
          "                        terminal)\n"
          "      --no-progress     no progress line\n"
          "      --prune-before TS retention instead of a load: delete the polls before TS\n"
          "                        (a SPEC timestamp) but each store's latest one before it,\n"
          "                        in one transaction; reports with --now >= TS + 7 days are\n"
          "                        unchanged (SQLite: run VACUUM afterwards to shrink the file)\n"
          "      --timeout SEC     give up (exit 8, nothing loaded) once SEC seconds have\n"
          "                        passed, e.g. on a database server that stopped\n"
          "                        answering; 0: no limit (default 3600)\n"
          "  -q, --quiet           no summary on stdout\n"
          "  -h, --help            this help\n\n"
          "Exit: 0 loaded (even with rejected rows), 2 usage or fatal input (missing/empty file,\n"
          "missing column, damaged gzip data), 3 database error, 4 file I/O error, 5 out of\n"
          "memory, 7 time zone database missing or unreadable, 8 timed out (--timeout).\n",
          f);
}

/* The progress line (--progress): rewritten in place on stderr a few times a second. */
struct progress {
    double start; /* when the current file started */
    double last;  /* when the line was last written (0: never) */
    int file;     /* the file the line is about */
    int shown;    /* a line is on the screen (a newline is owed) */
};

static double mono_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Shortens a count: 812345 -> "812.3 k". */
static void human(double v, char *out, size_t n)
{
    if (v >= 1e6)
        snprintf(out, n, "%.2f M", v / 1e6);
    else if (v >= 1e4)
        snprintf(out, n, "%.1f k", v / 1e3);
    else
        snprintf(out, n, "%.0f", v);
}

static void on_progress(void *ctx, const struct up_load_progress *p)
{
    struct progress *pr = ctx;
    double now = mono_now(), dt;
    char rows[32], rate[32], pct[16] = "", eta[32] = "";

    if (p->committing) {
        fprintf(stderr, "\r\033[Kcommitting...");
        pr->shown = 1;
        return;
    }
    if (p->file != pr->file) {
        pr->file = p->file;
        pr->start = now;
        pr->last = 0;
    }
    /* A few times a second; the first call of a file always shows its name. */
    if (pr->last != 0 && now - pr->last < 0.2)
        return;
    pr->last = now;
    dt = now - pr->start;
    human((double)p->rows, rows, sizeof rows);
    human(dt > 0 ? (double)p->rows / dt : 0, rate, sizeof rate);
    if (p->bytes_total > 0) {
        double f = (double)p->bytes_done / (double)p->bytes_total;
        snprintf(pct, sizeof pct, " %3.0f%%", 100 * f);
        if (f > 0.01 && dt > 0.5)
            snprintf(eta, sizeof eta, ", ETA %.0f s", dt * (1 - f) / f);
    }
    fprintf(stderr, "\r\033[K%s%s: %s rows, %lld rejected, %s rows/s%s", p->path, pct, rows,
            (long long)p->rejected, rate, eta);
    pr->shown = 1;
}

/* Retention (--prune-before): one transaction in the store. */
static enum up_code prune(const char *db, const char *ts_text, int quiet, char *err, size_t errlen)
{
    struct up_store *st = NULL;
    const char *why = NULL;
    int64_t before, deleted = 0;
    enum up_code rc;

    if (up_parse_timestamp(ts_text, strlen(ts_text), &before, &why) != 0) {
        snprintf(err, errlen, "--prune-before: '%s' is not a timestamp (%s)", ts_text,
                 why ? why : "SPEC format");
        return UP_EUSAGE;
    }
    rc = up_store_open(db, UP_STORE_WRITE, &st, err, errlen);
    if (rc == UP_OK)
        rc = up_store_prune(st, before, &deleted, err, errlen);
    up_store_close(st);
    if (rc == UP_OK && !quiet) {
        char shown[1024]; /* the source as every message names it: password hidden */
        up_source_redact(db, shown, sizeof shown);
        printf("uptime_load: pruned %s: %lld polls before %s deleted (each store's latest one"
               " before it kept)\n",
               shown, (long long)deleted, ts_text);
    }
    return rc;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* timezones.csv, else the real dataset's bq-results*.csv, else the default name (missing). */
static char *find_timezones(const char *dir)
{
    char *p = join(dir, "timezones.csv");
    char *pattern;
    glob_t g;

    if (!p || access(p, F_OK) == 0)
        return p;
    pattern = join(dir, "bq-results*.csv");
    if (pattern && glob(pattern, 0, NULL, &g) == 0) {
        if (g.gl_pathc > 0) {
            free(p);
            p = strdup(g.gl_pathv[0]);
        }
        globfree(&g);
    }
    free(pattern);
    return p;
}

/* Options with no short form (README "Options": one meaning per short option). */
enum { OPT_REJECTS = 256, OPT_NO_REJECTS, OPT_PROGRESS, OPT_NO_PROGRESS, OPT_PRUNE, OPT_TIMEOUT };

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"db", required_argument, NULL, 'd'},
                                             {"dir", required_argument, NULL, 'D'},
                                             {"status", required_argument, NULL, 's'},
                                             {"hours", required_argument, NULL, 'H'},
                                             {"timezones", required_argument, NULL, 't'},
                                             {"rejects", required_argument, NULL, OPT_REJECTS},
                                             {"no-rejects", no_argument, NULL, OPT_NO_REJECTS},
                                             {"progress", no_argument, NULL, OPT_PROGRESS},
                                             {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
                                             {"prune-before", required_argument, NULL, OPT_PRUNE},
                                             {"timeout", required_argument, NULL, OPT_TIMEOUT},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *db = getenv("UPTIME_DB");
    const char *dir = NULL, *prune_ts = NULL;
    const char *given[UP_NFILES] = {NULL, NULL, NULL};
    struct progress pr = {0, 0, -1, 0};
    int progress = -1; /* -1: when stderr is a terminal */
    char *owned[UP_NFILES] = {NULL, NULL, NULL};
    struct up_load_opts opts;
    struct up_load_stats stats;
    char err[1024] = "";
    enum up_code rc;
    int quiet = 0, any_given, c, i, timeout = UP_DEADLINE_DEFAULT_S;

    memset(&opts, 0, sizeof opts);
    opts.rejects_path = DEFAULT_REJECTS;
    while ((c = getopt_long(argc, argv, "d:D:s:H:t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'D':
            dir = optarg;
            break;
        case 's':
            given[UP_FILE_STATUS] = optarg;
            break;
        case 'H':
            given[UP_FILE_HOURS] = optarg;
            break;
        case 't':
            given[UP_FILE_TZ] = optarg;
            break;
        case OPT_REJECTS:
            opts.rejects_path = optarg;
            break;
        case OPT_NO_REJECTS:
            opts.rejects_path = NULL;
            break;
        case OPT_PROGRESS:
            progress = 1;
            break;
        case OPT_NO_PROGRESS:
            progress = 0;
            break;
        case OPT_PRUNE:
            prune_ts = optarg;
            break;
        case OPT_TIMEOUT:
            if (up_deadline_parse(optarg, &timeout) != 0) {
                fprintf(stderr,
                        "uptime_load: --timeout needs 0 (no limit) to %d seconds, not '%s'\n",
                        UP_DEADLINE_MAX_S, optarg);
                return UP_EUSAGE;
            }
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return UP_OK;
        default:
            usage(stderr);
            return UP_EUSAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "uptime_load: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return UP_EUSAGE;
    }
    if (!db || !*db)
        db = DEFAULT_DB;
    up_deadline_set(timeout); /* every wait of the run on the database ends by then */
    any_given = given[UP_FILE_STATUS] || given[UP_FILE_HOURS] || given[UP_FILE_TZ];
    if (prune_ts) {
        if (any_given || dir) {
            fprintf(stderr, "uptime_load: --prune-before is a run of its own: give no input"
                            " file with it\n");
            return UP_EUSAGE;
        }
        rc = prune(db, prune_ts, quiet, err, sizeof err);
        if (rc != UP_OK) {
            fprintf(stderr, "uptime_load: %s\n", err);
            fprintf(stderr, "uptime_load: nothing pruned (exit %d: %s)\n", (int)rc,
                    up_strerror(rc));
        }
        return (int)rc;
    }
    /* Files given one by one are the load; a folder (or nothing at all) means all three,
     * the ones given overriding the folder's. */
    if (!any_given || dir) {
        if (!dir)
            dir = ".";
        owned[UP_FILE_STATUS] = given[UP_FILE_STATUS] ? NULL : join(dir, "store_status.csv");
        owned[UP_FILE_HOURS] = given[UP_FILE_HOURS] ? NULL : join(dir, "menu_hours.csv");
        owned[UP_FILE_TZ] = given[UP_FILE_TZ] ? NULL : find_timezones(dir);
        for (i = 0; i < UP_NFILES; i++) {
            if (!given[i] && !owned[i]) {
                fprintf(stderr, "uptime_load: out of memory\n");
                rc = UP_ENOMEM;
                goto out;
            }
        }
    }
    for (i = 0; i < UP_NFILES; i++)
        opts.path[i] = given[i] ? given[i] : owned[i];
    if (progress < 0)
        progress = isatty(STDERR_FILENO);
    if (progress) {
        opts.progress = on_progress;
        opts.progress_ctx = &pr;
    }
    /* SIGTERM, SIGINT, SIGHUP: the temporary rejects file removed, nothing committed. */
    if (up_signal_catch("uptime_load:", "; stopped, nothing loaded") != 0)
        fprintf(stderr, "uptime_load: warning: cannot catch signals: %s\n", strerror(errno));
    rc = up_load_run(db, &opts, &stats, err, sizeof err);
    if (pr.shown)
        fputs("\r\033[K", stderr);
    if (stats.signal_in_commit)
        fprintf(stderr,
                "uptime_load: signal %s arrived while the load was committing: it is "
                "complete\n",
                up_signal_name(stats.signal_in_commit) ? up_signal_name(stats.signal_in_commit)
                                                       : "?");
    if (rc != UP_OK) {
        fprintf(stderr, "uptime_load: %s\n", err);
        fprintf(stderr, "uptime_load: nothing loaded (exit %d: %s)\n", (int)rc, up_strerror(rc));
        goto out;
    }
    if (!quiet) {
        char shown[1024]; /* the source as every message names it: password hidden */
        up_source_redact(db, shown, sizeof shown);
        printf("uptime_load: loaded into %s\n", shown);
        up_load_print_summary(&stats, &opts, stdout);
    }
out:
    for (i = 0; i < UP_NFILES; i++)
        free(owned[i]);
    return (int)rc;
}
