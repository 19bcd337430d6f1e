#include "up_store.h"

#include <stdio.h>
#include <string.h>

extern const struct up_store_ops up_store_pg_ops;
extern const struct up_store_ops up_store_sqlite_ops;
extern const struct up_store_ops up_store_mem_ops;

/* Order matters: the first backend that accepts a URL takes it; SQLite takes plain paths,
 * so PostgreSQL (URIs and key=value conninfo strings) asks first. */
const struct up_store_ops *const up_store_backends[] = {
    &up_store_pg_ops,
    &up_store_mem_ops, /* "mem:NAME", the tests' in-memory backend */
    &up_store_sqlite_ops,
    NULL,
};

enum up_code up_store_open(const char *url, enum up_store_mode mode, struct up_store **out,
                           char *err, size_t errlen)
{
    size_t i;

    *out = NULL;
    for (i = 0; up_store_backends[i]; i++)
        if (up_store_backends[i]->accepts(url))
            return up_store_backends[i]->open(url, mode, out, err, errlen);
    snprintf(err, errlen, "no storage backend accepts database '%s'", url);
    return UP_EUSAGE;
}

void up_store_close(struct up_store *st)
{
    if (st)
        st->ops->close(st);
}

void up_store_redact(const char *url, char *out, size_t n)
{
    const char *scheme = strstr(url, "://");
    const char *at, *colon, *pw;

    snprintf(out, n, "%s", url);
    /* URI form: scheme://user:password@host/... */
    if (scheme) {
        at = strchr(scheme + 3, '@');
        colon = strchr(scheme + 3, ':');
        if (at && colon && colon < at)
            snprintf(out, n, "%.*s:***%s", (int)(colon - url), url, at);
    }
    /* Key/value form: ... password=secret ... */
    pw = strstr(out, "password=");
    if (pw) {
        size_t start = (size_t)(pw - out) + 9;
        const char *end = strchr(out + start, ' ');
        char tail[1024];
        snprintf(tail, sizeof tail, "%s", end ? end : "");
        snprintf(out + start, n - start, "***%s", tail);
    }
}
