#include "up_store.h"

#include <stdio.h>

extern const struct up_store_ops up_store_sqlite_ops;

/* Order matters: the first backend that accepts a URL takes it; SQLite takes plain paths. */
const struct up_store_ops *const up_store_backends[] = {
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
