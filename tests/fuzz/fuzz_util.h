/*
 * What the fuzz targets share: a private temporary folder (removed at exit) and input
 * files written into it, for the readers that take a path (CSV, TZif, HDF5).
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points (a C file declares them itself: there is no header). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The process's own folder ($TMPDIR or /tmp, mkdtemp), made on first use and removed
 * with everything in it at exit. Aborts when it cannot be made. */
const char *fz_dir(void);

/* Writes data[0..size) to path (created or truncated); aborts on failure. */
void fz_write(const char *path, const void *data, size_t size);

/* Writes data[0..size) to a new file of fz_dir() made by mkstemp; its path goes to
 * path[0..n). The caller unlinks it. Aborts on failure. */
void fz_temp(const void *data, size_t size, char *path, size_t n);

/* Makes folder dir/sub (and its parents below dir); aborts on failure. */
void fz_mkdirs(const char *dir, const char *sub);

/* Stops the run with a message: a broken promise of the code under test, which
 * libFuzzer reports as a crash and saves the input of. */
#define FZ_CHECK(cond, what)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fz_fail(__FILE__, __LINE__, #cond, what);                                              \
    } while (0)
void fz_fail(const char *file, int line, const char *cond, const char *what);

#endif
