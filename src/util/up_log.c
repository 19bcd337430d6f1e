#include "up_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int log_rank;
static enum up_log_level log_min = UP_LOG_INFO;

void up_log_init(int rank, enum up_log_level min_level)
{
    log_rank = rank;
    log_min = min_level;
}

void up_log_print(enum up_log_level level, const char *file, int line, const char *fmt, ...)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    char stamp[32];
    char msg[2048];
    struct timespec now;
    struct tm tm;
    const char *base;
    va_list ap;

    if (level < log_min)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    if (strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        stamp[0] = '\0';
    base = strrchr(file, '/');
    base = base ? base + 1 : file;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One fprintf per line so lines of different ranks do not interleave mid-line. */
    fprintf(stderr, "%s.%03ldZ [%d] %s:%d %s: %s\n", stamp, now.tv_nsec / 1000000, log_rank, base,
            line, names[level], msg);
}
