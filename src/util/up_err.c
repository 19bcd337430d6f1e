#include "up_err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum up_code up_verrf(enum up_code rc, char *err, size_t errlen, const char *fmt, va_list ap)
{
    int saved = errno;

    if (err && errlen > 0 && vsnprintf(err, errlen, fmt, ap) < 0)
        err[0] = '\0';
    /* Callers often format strerror(errno) and then look at errno again. */
    errno = saved;
    return rc;
}

enum up_code up_errf(enum up_code rc, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rc = up_verrf(rc, err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

enum up_code up_errf_cat(enum up_code rc, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    size_t used;

    if (!err || errlen == 0)
        return rc;
    used = strnlen(err, errlen);
    if (used == errlen) {
        /* An unterminated buffer is full: terminate it, never read past it. */
        err[errlen - 1] = '\0';
        return rc;
    }
    if (used + 1 >= errlen)
        return rc;
    va_start(ap, fmt);
    rc = up_verrf(rc, err + used, errlen - used, fmt, ap);
    va_end(ap);
    return rc;
}
