/*
 * The one formatter of error messages: every function that fails writes its reason into
 * the caller's err[errlen] through up_errf, which never overflows and returns the code the
 * function then returns, so a failure is one line:
 *     return up_errf(UP_EIO, err, errlen, "cannot write %s: %s", path, strerror(errno));
 * Private to the library (src/util).
 */
#ifndef UP_ERR_H
#define UP_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include "up_error.h"

/*
 * Writes the printf-formatted message into err (at most errlen bytes, always
 * NUL-terminated; a longer message is cut, never overflows). err may be NULL or errlen 0:
 * nothing is written. errno is left as it was. Returns rc.
 */
enum up_code up_errf(enum up_code rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* up_errf with a va_list (for a module's own wrapper). Returns rc. */
enum up_code up_verrf(enum up_code rc, char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/*
 * Appends the formatted text to the message already in err, within the same errlen (a
 * full buffer is left as it is). Same guarantees as up_errf. Returns rc.
 */
enum up_code up_errf_cat(enum up_code rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
