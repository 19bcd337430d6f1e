#include "up_status.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>
#include "up_source.h"
#include "up_time.h"

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

static const char *phase_name(enum up_phase p)
{
    switch (p) {
    case UP_PHASE_METADATA:
        return "metadata";
    case UP_PHASE_COMPUTING:
        return "reading and computing";
    case UP_PHASE_WRITING:
        return "writing";
    case UP_PHASE_DONE:
        return "done";
    }
    return "unknown";
}

enum up_code up_status_running(const char *dir, const char *id, const struct up_status_start *s,
                               char *err, size_t errlen)
{
    char started[40], source[1024];

    up_now_iso(started, sizeof started);
    up_source_redact(s->source, source, sizeof source);
    {
        const struct up_status_field f[] = {
            {"report_id", id, 0, 0},
            {"status", "Running", 0, 0},
            {"started", started, 0, 0},
            {"ranks", NULL, s->ranks, 0},
            {"rank0_pid", NULL, s->rank0_pid, 0},
            {"rank0_host", s->rank0_host, 0, 0},
            {"source", source, 0, 0},
            {"error", NULL, 0, 1},
            {"phase", phase_name(UP_PHASE_METADATA), 0, 0},
            {"progress", NULL, 0, 0},
        };
        return up_status_update(dir, id, f, sizeof f / sizeof f[0], err, errlen);
    }
}

enum up_code up_status_progress(const char *dir, const char *id, enum up_phase phase,
                                int percent, int64_t stores, char *err, size_t errlen)
{
    const struct up_status_field f[] = {
        {"phase", phase_name(phase), 0, 0},
        {"progress", NULL, percent, 0},
        {"stores", NULL, stores, 0},
    };
    return up_status_update(dir, id, f, stores >= 0 ? 3 : 2, err, errlen);
}

enum up_code up_status_complete(const char *dir, const char *id, const struct up_status_done *d,
                                char *err, size_t errlen)
{
    char finished[40], now_text[40] = "";

    up_now_iso(finished, sizeof finished);
    if (d->has_now)
        up_format_timestamp(d->now, now_text, sizeof now_text);
    {
        const struct up_status_field f[] = {
            {"status", "Complete", 0, 0},
            {"finished", finished, 0, 0},
            {"now", d->has_now ? now_text : NULL, 0, !d->has_now},
            {"stores", NULL, d->stores, 0},
            {"polls", NULL, d->polls, 0},
            {"progress", NULL, 100, 0},
            {"phase", phase_name(UP_PHASE_DONE), 0, 0},
        };
        return up_status_update(dir, id, f, sizeof f / sizeof f[0], err, errlen);
    }
}

enum up_code up_status_failed(const char *dir, const char *id, const char *why, char *err,
                              size_t errlen)
{
    char finished[40];

    up_now_iso(finished, sizeof finished);
    {
        const struct up_status_field f[] = {
            {"status", "Failed", 0, 0},
            {"error", why, 0, 0},
            {"finished", finished, 0, 0},
        };
        return up_status_update(dir, id, f, sizeof f / sizeof f[0], err, errlen);
    }
}
