#include "up_deadline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int limit_s;   /* 0: no limit */
static int64_t at_ms; /* the deadline, CLOCK_MONOTONIC milliseconds */

static int64_t mono_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int up_deadline_parse(const char *text, int *seconds)
{
    char *end = NULL;
    long v;

    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > UP_DEADLINE_MAX_S)
        return -1;
    *seconds = (int)v;
    return 0;
}

void up_deadline_set(int seconds)
{
    limit_s = seconds > 0 ? seconds : 0;
    at_ms = limit_s ? mono_ms() + (int64_t)limit_s * 1000 : 0;
}

int up_deadline_limit(void)
{
    return limit_s;
}

int64_t up_deadline_left_ms(void)
{
    return limit_s ? at_ms - mono_ms() : INT64_MAX;
}

int up_deadline_expired(void)
{
    return limit_s && mono_ms() >= at_ms;
}

enum up_code up_deadline_error(char *err, size_t errlen, const char *what)
{
    if (err && errlen > 0)
        snprintf(err, errlen, "%s: timed out after %d s (--timeout)", what, limit_s);
    return UP_ETIMEOUT;
}
