#include "up_status.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

int up_report_id_valid(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++) {
        char c = id[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return n >= 1 && n <= UP_REPORT_ID_MAX;
}

void up_report_new_id(char out[37])
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

static char *path_join(const char *dir, const char *a, const char *b, const char *c)
{
    size_t n = strlen(dir) + strlen(a) + strlen(b) + strlen(c) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s%s%s", dir, a, b, c);
    return p;
}

void up_now_iso(char *buf, size_t n)
{
    struct timespec ts;
    struct tm tm;
    char base[24];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        base[0] = '\0';
    snprintf(buf, n, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

enum up_code up_status_update(const char *dir, const char *id, const struct up_status_field *f,
                              size_t n, char *err, size_t errlen)
{
    char *path = path_join(dir, "", id, ".status.json");
    char *tmp = NULL;
    json_t *obj = NULL;
    enum up_code rc = UP_EIO;
    char tail[48];
    size_t i;

    snprintf(tail, sizeof tail, ".status.json.tmp.%ld", (long)getpid());
    tmp = path_join(dir, ".", id, tail);
    if (!path || !tmp) {
        snprintf(err, errlen, "out of memory");
        rc = UP_ENOMEM;
        goto out;
    }
    obj = json_load_file(path, 0, NULL);
    if (!json_is_object(obj)) {
        json_decref(obj);
        obj = json_object();
    }
    if (!obj) {
        snprintf(err, errlen, "out of memory");
        rc = UP_ENOMEM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        json_t *v = f[i].is_null ? json_null()
                    : f[i].s     ? json_string(f[i].s)
                                 : json_integer((json_int_t)f[i].i);
        /* A message that is not valid UTF-8 is still stored, with bad bytes replaced. */
        if (!v && f[i].s)
            v = json_string("(message not valid UTF-8)");
        if (!v || json_object_set_new(obj, f[i].key, v) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = UP_ENOMEM;
            goto out;
        }
    }
    if (json_dump_file(obj, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
        snprintf(err, errlen, "cannot write status file %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot publish status file %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = UP_OK;
out:
    json_decref(obj);
    free(path);
    free(tmp);
    return rc;
}
