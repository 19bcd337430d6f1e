/* nftw is an XSI function. */
#define _XOPEN_SOURCE 700
#include "test_util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "up_time.h"

/* The folders made by tu_tmpdir, removed with their contents when the process exits
 * normally (set UP_KEEP_TMP to keep them for a look after a failure). */
#define TMPDIRS_MAX 256
static char made[TMPDIRS_MAX][256];
static int n_made;
static pid_t owner;

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tmpdirs(void)
{
    int i;

    /* A forked child's exit does not remove its parent's folders. */
    if (getpid() != owner || getenv("UP_KEEP_TMP"))
        return;
    for (i = 0; i < n_made; i++)
        nftw(made[i], remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

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
    if (n_made == 0) {
        owner = getpid();
        atexit(remove_tmpdirs);
    }
    if (n_made < TMPDIRS_MAX)
        snprintf(made[n_made++], sizeof made[0], "%s", path);
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
