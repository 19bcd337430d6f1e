#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "up_time.h"

int64_t tu_utc(int y, int mo, int d, int h, int mi, int s)
{
    return up_days_from_civil(y, mo, d) * UP_USEC_PER_DAY +
           ((int64_t)h * 3600 + (int64_t)mi * 60 + s) * UP_USEC_PER_SEC;
}

const char *tu_tmpdir(void)
{
    static char path[256];
    const char *base = getenv("TMPDIR");

    snprintf(path, sizeof path, "%s/up_unit.XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        abort();
    }
    return path;
}

const char *tu_write_file(const char *dir, const char *name, const char *text)
{
    static char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(text, 1, strlen(text), f) != strlen(text) || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}
