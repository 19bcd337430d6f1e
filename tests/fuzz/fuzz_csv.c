/*
 * The CSV reader (src/input/up_csvin.c) on arbitrary files: header matching, quoting,
 * multi-line and broken records, overlong lines, UTF-8 checks, gzip input. The first
 * byte picks the column set (the three input files' own); the rest is the file. Beyond
 * not crashing, every record must keep the header's promises (up_csvin.h).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "fuzz_util.h"
#include "up_csvin.h"
#include "up_load.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    (void)fz_dir();
    return 0;
}

/* An independent UTF-8 check (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i], need, k;
        unsigned long cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            need = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            need = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            need = 3, cp = c & 0x07;
        else
            return 0;
        if (n - i <= need)
            return 0;
        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
    }
    return 1;
}

static int trim_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void check_row(const struct up_csv_record *r, size_t ncols)
{
    size_t j;

    for (j = 0; j < ncols; j++) {
        const unsigned char *f = (const unsigned char *)r->field[j];
        size_t n = r->len[j];

        FZ_CHECK(f != NULL, "every requested field is there");
        FZ_CHECK(f[n] == '\0', "a field is NUL-terminated at its length");
        FZ_CHECK(utf8_ok(f, n), "a row's fields are valid UTF-8");
        FZ_CHECK(n == 0 || (!trim_space(f[0]) && !trim_space(f[n - 1])),
                 "a field is trimmed of ASCII whitespace");
    }
}

static void check_reject(const struct up_csv_record *r)
{
    FZ_CHECK(r->reason > UP_CSV_REJ_NONE && r->reason <= UP_CSV_REJ_FIELDS, "a known reason");
    FZ_CHECK(r->detail != NULL && r->raw != NULL, "a reject has a detail and its raw text");
    FZ_CHECK(strlen(r->raw) < 1024, "the raw text is cut");
    FZ_CHECK(strcmp(up_csv_reject_name(r->reason), "") != 0, "a reason has a name");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1024], err[512];
    struct up_csvin *in;
    struct up_csv_record rec;
    enum up_code code = UP_OK;
    const struct up_csv_column *cols;
    size_t set, ncols, j;
    long prev = 1;
    int64_t done, total;

    if (size < 1)
        return 0;
    set = data[0] % UP_NFILES;
    cols = up_load_columns((int)set, &ncols);
    fz_temp(data + 1, size - 1, path, sizeof path);
    in = up_csvin_open(path, cols, ncols, &code, err, sizeof err);
    if (!in) {
        FZ_CHECK(code != UP_OK && err[0] != '\0', "a refused file says why");
        unlink(path);
        return 0;
    }
    for (j = 0; j < ncols; j++)
        (void)up_csvin_column_pos(in, j);
    for (;;) {
        code = up_csvin_next(in, &rec, err, sizeof err);
        if (code != UP_OK || rec.kind == UP_CSV_END)
            break;
        /* Records come in file order, each on a line of its own after the header's. */
        FZ_CHECK(rec.line > prev, "line numbers increase");
        prev = rec.line;
        if (rec.kind == UP_CSV_ROW)
            check_row(&rec, ncols);
        else
            check_reject(&rec);
    }
    up_csvin_progress(in, &done, &total);
    FZ_CHECK(total == (int64_t)size - 1 && done <= total, "progress counts the file's bytes");
    up_csvin_free(in);
    unlink(path);
    return 0;
}
