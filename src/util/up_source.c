#include "up_source.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

enum up_source_kind up_source_kind(const char *s)
{
    if (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0)
        return UP_SOURCE_PG_URI;
    if (strncmp(s, "mem:", 4) == 0)
        return UP_SOURCE_MEM;
    if (strncmp(s, "hdf5:", 5) == 0)
        return UP_SOURCE_HDF5;
    if (strncmp(s, "sqlite:", 7) == 0)
        return UP_SOURCE_SQLITE;
    /* libpq's own test (recognized_connection_string): a conninfo string holds an '='. */
    if (strchr(s, '=') != NULL)
        return UP_SOURCE_PG_KV;
    if (has_suffix(s, ".h5"))
        return UP_SOURCE_HDF5;
    return UP_SOURCE_SQLITE;
}

const char *up_source_kind_name(enum up_source_kind kind)
{
    switch (kind) {
    case UP_SOURCE_SQLITE:
        return "sqlite";
    case UP_SOURCE_PG_URI:
    case UP_SOURCE_PG_KV:
        return "postgresql";
    case UP_SOURCE_HDF5:
        return "hdf5";
    case UP_SOURCE_MEM:
        return "mem";
    }
    return "unknown";
}

/* The first implementation, moved from the store module as it was (known leaks: see the
 * structure issue); replaced by the libpq grammar. */
void up_source_redact(const char *url, char *out, size_t n)
{
    const char *scheme = strstr(url, "://");
    const char *at, *colon, *pw;

    snprintf(out, n, "%s", url);
    if (scheme) {
        at = strchr(scheme + 3, '@');
        colon = strchr(scheme + 3, ':');
        if (at && colon && colon < at)
            snprintf(out, n, "%.*s:***%s", (int)(colon - url), url, at);
    }
    pw = strstr(out, "password=");
    if (pw) {
        size_t start = (size_t)(pw - out) + 9;
        const char *end = strchr(out + start, ' ');
        char tail[1024];
        snprintf(tail, sizeof tail, "%s", end ? end : "");
        snprintf(out + start, n - start, "***%s", tail);
    }
}

int up_source_has_password(const char *s)
{
    char buf[4096];
    up_source_redact(s, buf, sizeof buf);
    return strcmp(buf, s) != 0;
}

int up_source_absolute(const char *s, char *out, size_t n)
{
    enum up_source_kind k = up_source_kind(s);
    const char *prefix = "", *path = s;
    char cwd[4096];
    int len;

    if (k == UP_SOURCE_SQLITE || k == UP_SOURCE_HDF5) {
        if (strncmp(s, "sqlite:", 7) == 0 || strncmp(s, "hdf5:", 5) == 0) {
            path = strchr(s, ':') + 1;
            prefix = s;
        }
        if (path[0] != '/') {
            if (!getcwd(cwd, sizeof cwd))
                return -1;
            len = snprintf(out, n, "%.*s%s/%s", (int)(path - prefix), prefix, cwd, path);
            return len < 0 || (size_t)len >= n ? -1 : 0;
        }
    }
    len = snprintf(out, n, "%s", s);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}
