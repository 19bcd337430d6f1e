/* uptime_load: validates the three CSV files and loads them into a database, atomically. */
#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "up_error.h"
#include "up_load.h"
#include "up_source.h"

#define DEFAULT_DB "data/uptime.db"
#define DEFAULT_REJECTS "reports/load-rejects.csv"

static void usage(FILE *f)
{
    fputs("usage: uptime_load [options]\n"
          "Validates store_status.csv, menu_hours.csv and timezones.csv and loads them into\n"
          "the database in one transaction. Rejected rows are counted, listed in the rejects\n"
          "file and left out; valid rows always load.\n\n"
          "  -d, --db URL          database: PATH, sqlite:PATH, postgresql://... or a libpq\n"
          "                        conninfo (default $UPTIME_DB, else " DEFAULT_DB ")\n"
          "  -D, --dir DIR         folder holding the three files (default .)\n"
          "  -s, --status FILE     polls file (default DIR/store_status.csv)\n"
          "  -H, --hours FILE      business hours file (default DIR/menu_hours.csv)\n"
          "  -t, --timezones FILE  time zones file (default DIR/timezones.csv, else "
          "DIR/bq-results*.csv)\n"
          "      --rejects FILE    rejects CSV: file,line,reason,detail,value "
          "(default " DEFAULT_REJECTS ")\n"
          "      --no-rejects      do not write a rejects file\n"
          "  -q, --quiet           no summary on stdout\n"
          "  -h, --help            this help\n\n"
          "Exit: 0 loaded (even with rejected rows), 2 usage or fatal input (missing/empty file,\n"
          "missing column), 3 database error, 4 file I/O error, 5 out of memory, 7 time zone\n"
          "database missing or unreadable.\n",
          f);
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
enum { OPT_REJECTS = 256, OPT_NO_REJECTS };

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"db", required_argument, NULL, 'd'},
                                             {"dir", required_argument, NULL, 'D'},
                                             {"status", required_argument, NULL, 's'},
                                             {"hours", required_argument, NULL, 'H'},
                                             {"timezones", required_argument, NULL, 't'},
                                             {"rejects", required_argument, NULL, OPT_REJECTS},
                                             {"no-rejects", no_argument, NULL, OPT_NO_REJECTS},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *db = getenv("UPTIME_DB");
    const char *dir = ".";
    const char *given[UP_NFILES] = {NULL, NULL, NULL};
    char *owned[UP_NFILES] = {NULL, NULL, NULL};
    struct up_load_opts opts;
    struct up_load_stats stats;
    char err[1024] = "";
    enum up_code rc;
    int quiet = 0, c, i;

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
    owned[UP_FILE_STATUS] = given[UP_FILE_STATUS] ? NULL : join(dir, "store_status.csv");
    owned[UP_FILE_HOURS] = given[UP_FILE_HOURS] ? NULL : join(dir, "menu_hours.csv");
    owned[UP_FILE_TZ] = given[UP_FILE_TZ] ? NULL : find_timezones(dir);
    for (i = 0; i < UP_NFILES; i++) {
        opts.path[i] = given[i] ? given[i] : owned[i];
        if (!opts.path[i]) {
            fprintf(stderr, "uptime_load: out of memory\n");
            rc = UP_ENOMEM;
            goto out;
        }
    }
    rc = up_load_run(db, &opts, &stats, err, sizeof err);
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
