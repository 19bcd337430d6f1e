#include "up_report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "up_csvout.h"
#include "up_err.h"
#include "up_file.h"

struct up_report_writer {
    FILE *f;
    char *tmp;
    char *final;
    char *dir;
};

static char *path_join(const char *dir, const char *a, const char *b, const char *c)
{
    size_t n = strlen(dir) + strlen(a) + strlen(b) + strlen(c) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s%s%s", dir, a, b, c);
    return p;
}

enum up_code up_report_open(const char *dir, const char *id, struct up_report_writer **out,
                            char *err, size_t errlen)
{
    struct up_report_writer *w = calloc(1, sizeof *w);
    int fd;

    *out = NULL;
    /* A name of our own, made exclusively: a file or symlink planted at a guessable name
     * in a shared reports folder is never opened. */
    if (!w || !(w->tmp = path_join(dir, ".", id, ".csv.tmp.XXXXXX")) ||
        !(w->final = path_join(dir, "", id, ".csv")) || !(w->dir = strdup(dir))) {
        up_report_abort(w);
        return up_errf(UP_ENOMEM, err, errlen, "out of memory");
    }
    fd = up_file_temp(w->tmp);
    w->f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!w->f) {
        up_errf(UP_EIO, err, errlen, "cannot create report %s: %s", w->tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(w->tmp);
        }
        free(w->tmp);
        w->tmp = NULL;
        up_report_abort(w);
        return UP_EIO;
    }
    setvbuf(w->f, NULL, _IOFBF, 1 << 20);
    fputs(UP_REPORT_HEADER, w->f);
    *out = w;
    return UP_OK;
}

const char *up_report_temp_path(const struct up_report_writer *w)
{
    return w->tmp;
}

int up_report_format_2dp(double d, char *out, size_t n)
{
    uint64_t m, num, q, rem, half;
    int exp, s;
    double f;

    /* Exactly printf's "%.2f" (the binary value rounded half to even): d = m * 2^(exp-53)
     * with a 53-bit m, so 100 d = 100 m * 2^-s and 100 m < 2^60 fits a uint64_t. The
     * report's values (0 to 168 hours, 0 to 60 minutes) always take this path; anything
     * else goes to snprintf. Ten times faster than snprintf (bench/README.md). */
    if (!(d >= 0.0 && d < 1e9))
        return snprintf(out, n, "%.2f", d);
    f = frexp(d, &exp);
    m = (uint64_t)ldexp(f, 53);
    s = 53 - exp;
    num = m * 100u;
    if (d == 0.0 || s >= 64) {
        q = 0; /* below 2^-11: rounds to 0.00 */
    } else if (s <= 0) {
        return snprintf(out, n, "%.2f", d);
    } else {
        q = num >> s;
        rem = num & ((UINT64_C(1) << s) - 1);
        half = UINT64_C(1) << (s - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
    }
    {
        char tmp[24];
        size_t len = 0, i;
        uint64_t whole = q / 100;

        tmp[len++] = (char)('0' + q % 10);
        tmp[len++] = (char)('0' + q / 10 % 10);
        tmp[len++] = '.';
        do {
            tmp[len++] = (char)('0' + whole % 10);
            whole /= 10;
        } while (whole);
        if (len + 1 > n)
            return (int)len;
        for (i = 0; i < len; i++)
            out[i] = tmp[len - 1 - i];
        out[len] = '\0';
        return (int)len;
    }
}

int up_report_format_row(char *buf, size_t n, const char *store_id, const struct up_result *r)
{
    /* SPEC §5 quotes an id only when it holds , or "; up_csvout's CR and LF never occur in a
     * valid id (no control characters), so its one rule is SPEC's. */
    size_t pos = up_csvout_field(buf, n, store_id);
    int k;

    if (pos >= n)
        return -1;
    {
        const double v[6] = {
            (double)r->up[UP_WIN_HOUR] / 6e7,    (double)r->up[UP_WIN_DAY] / 3.6e9,
            (double)r->up[UP_WIN_WEEK] / 3.6e9,  (double)r->down[UP_WIN_HOUR] / 6e7,
            (double)r->down[UP_WIN_DAY] / 3.6e9, (double)r->down[UP_WIN_WEEK] / 3.6e9};
        for (k = 0; k < 6; k++) {
            int len;
            if (pos + 1 >= n)
                return -1;
            buf[pos++] = ',';
            len = up_report_format_2dp(v[k], buf + pos, n - pos);
            if (len < 0 || (size_t)len >= n - pos)
                return -1;
            pos += (size_t)len;
        }
    }
    return (int)pos;
}

void up_report_row(struct up_report_writer *w, const char *store_id, const struct up_result *r)
{
    char buf[512];
    int len = up_report_format_row(buf, sizeof buf, store_id, r);
    /* An id is at most 128 bytes, so 512 always fits; never write a cut row. */
    if (len < 0)
        abort();
    buf[len] = '\n';
    fwrite(buf, 1, (size_t)len + 1, w->f);
}

void up_report_rows_raw(struct up_report_writer *w, const char *rows, size_t n)
{
    fwrite(rows, 1, n, w->f);
}

enum up_code up_report_expose(struct up_report_writer *w, uint64_t *dev, uint64_t *ino,
                              int64_t *start, char *err, size_t errlen)
{
    struct stat st;
    off_t at;

    if (fflush(w->f) != 0 || ferror(w->f) || fstat(fileno(w->f), &st) != 0 ||
        (at = ftello(w->f)) < 0)
        return up_errf(UP_EIO, err, errlen, "cannot write report %s: %s", w->tmp, strerror(errno));
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    *start = (int64_t)at;
    return UP_OK;
}

struct up_report_part {
    int fd;
    char *path;
};

enum up_code up_report_part_open(const char *path, uint64_t dev, uint64_t ino, int check_dev,
                                 struct up_report_part **out, char *err, size_t errlen)
{
    struct up_report_part *p = calloc(1, sizeof *p);
    struct stat st;

    *out = NULL;
    if (!p || !(p->path = strdup(path))) {
        free(p);
        return up_errf(UP_ENOMEM, err, errlen, "out of memory");
    }
    p->fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (p->fd < 0 || fstat(p->fd, &st) != 0) {
        up_errf(UP_EIO, err, errlen, "cannot open report %s for its rows: %s", path,
                strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_ino != ino ||
        (check_dev && (uint64_t)st.st_dev != dev)) {
        up_errf(UP_EIO, err, errlen,
                "report %s is not the file rank 0 created (replaced?): its rows are not "
                "written",
                path);
        goto fail;
    }
    *out = p;
    return UP_OK;
fail:
    if (p->fd >= 0)
        close(p->fd);
    free(p->path);
    free(p);
    return UP_EIO;
}

enum up_code up_report_part_write(struct up_report_part *p, const char *rows, size_t n, int64_t off,
                                  char *err, size_t errlen)
{
    while (n > 0) {
        ssize_t k = pwrite(p->fd, rows, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return up_errf(UP_EIO, err, errlen, "cannot write report %s: %s", p->path,
                           k < 0 ? strerror(errno) : "nothing written");
        rows += k;
        n -= (size_t)k;
        off += k;
    }
    return UP_OK;
}

enum up_code up_report_part_close(struct up_report_part *p, char *err, size_t errlen)
{
    enum up_code rc = UP_OK;

    if (!p)
        return UP_OK;
    if (fsync(p->fd) != 0)
        rc = up_errf(UP_EIO, err, errlen, "cannot write report %s: %s", p->path, strerror(errno));
    if (close(p->fd) != 0 && rc == UP_OK)
        rc = up_errf(UP_EIO, err, errlen, "cannot write report %s: %s", p->path, strerror(errno));
    free(p->path);
    free(p);
    return rc;
}

static void writer_free(struct up_report_writer *w)
{
    free(w->tmp);
    free(w->final);
    free(w->dir);
    free(w);
}

enum up_code up_report_commit(struct up_report_writer *w, char *err, size_t errlen)
{
    int bad = fflush(w->f) != 0 || ferror(w->f) || fsync(fileno(w->f)) != 0;
    int saved = errno;

    bad |= fclose(w->f) != 0;
    w->f = NULL;
    if (bad) {
        up_errf(UP_EIO, err, errlen, "cannot write report %s: %s", w->tmp,
                strerror(saved ? saved : errno));
        up_report_abort(w);
        return UP_EIO;
    }
    if (rename(w->tmp, w->final) != 0) {
        up_errf(UP_EIO, err, errlen, "cannot publish report %s: %s", w->final, strerror(errno));
        up_report_abort(w);
        return UP_EIO;
    }
    up_file_sync_dir(w->final);
    writer_free(w);
    return UP_OK;
}

void up_report_abort(struct up_report_writer *w)
{
    if (!w)
        return;
    if (w->f)
        fclose(w->f);
    if (w->tmp)
        unlink(w->tmp);
    writer_free(w);
}
