#include "up_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "up_clock.h"

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
    char stamp[UP_TIME_TEXT_MAX];
    char msg[2048];
    const char *base;
    va_list ap;

    if (level < log_min)
        return;
    up_format_iso_ms(up_now_us(), stamp, sizeof stamp);
    base = strrchr(file, '/');
    base = base ? base + 1 : file;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One fprintf per line so lines of different ranks do not interleave mid-line. */
    fprintf(stderr, "%s [%d] %s:%d %s: %s\n", stamp, log_rank, base, line, names[level], msg);
}
