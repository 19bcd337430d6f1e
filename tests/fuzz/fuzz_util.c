/* Helpers shared by the fuzz targets (fuzz_util.h). */
#include "fuzz_util.h"

#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[512];

/* Removes path and, when it is a folder, what it holds (no symbolic link is followed). */
static void rm_tree(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;

    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
        while ((e = readdir(d)) != NULL) {
            char sub[1024];
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < sizeof sub)
                rm_tree(sub);
        }
        closedir(d);
    }
    remove(path);
}

static void rm_dir(void)
{
    if (dir[0])
        rm_tree(dir);
}

const char *fz_dir(void)
{
    const char *base;

    if (dir[0])
        return dir;
    base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/up_fuzz.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(rm_dir);
    return dir;
}

void fz_write(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");

    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

void fz_temp(const void *data, size_t size, char *path, size_t n)
{
    int fd;
    size_t done = 0;

    if ((size_t)snprintf(path, n, "%s/in.XXXXXX", fz_dir()) >= n)
        abort();
    fd = mkstemp(path);
    if (fd < 0) {
        perror("fuzz: mkstemp");
        abort();
    }
    while (done < size) {
        ssize_t k = write(fd, (const char *)data + done, size - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            perror(path);
            abort();
        }
        done += (size_t)k;
    }
    if (close(fd) != 0)
        abort();
}

void fz_mkdirs(const char *base, const char *sub)
{
    char path[1024];
    size_t i, n;

    n = (size_t)snprintf(path, sizeof path, "%s/%s", base, sub);
    if (n >= sizeof path)
        abort();
    for (i = strlen(base) + 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            perror(path);
            abort();
        }
        if (i < n)
            path[i] = '/';
    }
}

void fz_fail(const char *file, int line, const char *cond, const char *what)
{
    fprintf(stderr, "%s:%d: broken promise: %s (%s)\n", file, line, what, cond);
    abort();
}
