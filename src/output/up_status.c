#include "up_status.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>
#include "up_clock.h"
#include "up_file.h"
#include "up_source.h"
#include "up_time.h"

/* The lock is polled this often while another writer holds it. */
#define LOCK_POLL_MS 10

struct up_status {
    char *dir;
    char *id;
    char *lock; /* dir/.<id>.lock */
    int lock_fd;
    json_t *obj; /* the file's object as last read or written */
    struct up_status_info info;
};

static int lock_wait_ms = UP_STATUS_LOCK_WAIT_MS;

void up_status_set_lock_wait(int ms)
{
    lock_wait_ms = ms < 0 ? 0 : ms;
}

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

/* dir/<pre><id><post>, or NULL when out of memory. */
static char *path_join(const char *dir, const char *pre, const char *id, const char *post)
{
    size_t n = strlen(dir) + strlen(pre) + strlen(id) + strlen(post) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s%s%s", dir, pre, id, post);
    return p;
}

void up_now_iso(char *buf, size_t n)
{
    if (up_format_iso_ms(up_now_us(), buf, n) < 0 && n > 0)
        buf[0] = '\0';
}

const char *up_state_name(enum up_state s)
{
    switch (s) {
    case UP_STATE_PENDING:
        return "Pending";
    case UP_STATE_RUNNING:
        return "Running";
    case UP_STATE_COMPLETE:
        return "Complete";
    case UP_STATE_FAILED:
        return "Failed";
    case UP_STATE_NONE:
    case UP_STATE_OTHER:
        break;
    }
    return "";
}

/* ---- The answers ---- */

/* Appends s to buf[n] at *o as a JSON string literal (UTF-8 kept as it is, as jq does). */
static int put_json_string(const char *s, char *buf, size_t n, size_t *o)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        const char *piece = esc;
        size_t k;
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof esc, "\\%c", c);
        else if (c == '\n')
            piece = "\\n";
        else if (c == '\t')
            piece = "\\t";
        else if (c == '\r')
            piece = "\\r";
        else if (c < 0x20 || c == 0x7f)
            snprintf(esc, sizeof esc, "\\u%04x", c);
        else
            snprintf(esc, sizeof esc, "%c", c);
        k = strlen(piece);
        if (*o + k >= n)
            return -1;
        memcpy(buf + *o, piece, k);
        *o += k;
    }
    buf[*o] = '\0';
    return 0;
}

/* Appends text (no escaping) to buf[n] at *o. */
static int put_raw(const char *text, char *buf, size_t n, size_t *o)
{
    size_t k = strlen(text);
    if (*o + k >= n)
        return -1;
    memcpy(buf + *o, text, k + 1);
    *o += k;
    return 0;
}

int up_status_json_report_id(const char *id, char *buf, size_t n)
{
    size_t o = 0;
    if (n == 0)
        return -1;
    return put_raw("{\"report_id\": \"", buf, n, &o) || put_json_string(id, buf, n, &o) ||
                   put_raw("\"}", buf, n, &o)
               ? -1
               : 0;
}

int up_status_json_answer(enum up_state state, const char *error, char *buf, size_t n)
{
    size_t o = 0;
    if (n == 0)
        return -1;
    if (put_raw("{\"status\": \"", buf, n, &o) || put_raw(up_state_name(state), buf, n, &o) ||
        put_raw("\"", buf, n, &o))
        return -1;
    if (state == UP_STATE_FAILED &&
        (put_raw(", \"error\": \"", buf, n, &o) ||
         put_json_string(error ? error : "", buf, n, &o) || put_raw("\"", buf, n, &o)))
        return -1;
    return put_raw("}", buf, n, &o);
}

/* ---- Reading: the one place that knows each field's name and type ---- */

static void get_text(json_t *obj, const char *key, char *out, size_t n)
{
    json_t *v = json_object_get(obj, key);

    out[0] = '\0';
    if (json_is_string(v))
        snprintf(out, n, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
}

/* A pid, written as a number (or, by older scripts, a string); 0 when absent. */
static long get_pid(json_t *obj, const char *key)
{
    char text[32], *end;
    long v;

    get_text(obj, key, text, sizeof text);
    errno = 0;
    v = strtol(text, &end, 10);
    return text[0] && *end == '\0' && errno == 0 && v > 0 ? v : 0;
}

static void parse_info(json_t *obj, int exists, struct up_status_info *in)
{
    enum up_state s;
    char launcher[16];
    json_t *code;

    memset(in, 0, sizeof *in);
    in->exists = exists;
    get_text(obj, "status", in->status, sizeof in->status);
    in->state = in->status[0] ? UP_STATE_OTHER : UP_STATE_NONE;
    for (s = UP_STATE_PENDING; s <= UP_STATE_FAILED; s++)
        if (strcmp(in->status, up_state_name(s)) == 0)
            in->state = s;
    get_text(obj, "error", in->error, sizeof in->error);
    get_text(obj, "launcher", launcher, sizeof launcher);
    in->launcher = strcmp(launcher, "local") == 0   ? UP_LAUNCHER_LOCAL
                   : strcmp(launcher, "slurm") == 0 ? UP_LAUNCHER_SLURM
                                                    : UP_LAUNCHER_NONE;
    get_text(obj, "host", in->host, sizeof in->host);
    in->mpirun.pid = get_pid(obj, "pid");
    get_text(obj, "pid_start", in->mpirun.start, sizeof in->mpirun.start);
    in->wrapper.pid = get_pid(obj, "wrapper_pid");
    get_text(obj, "wrapper_pid_start", in->wrapper.start, sizeof in->wrapper.start);
    in->rank0_pid = get_pid(obj, "rank0_pid");
    get_text(obj, "rank0_host", in->rank0_host, sizeof in->rank0_host);
    get_text(obj, "log", in->log, sizeof in->log);
    get_text(obj, "slurm_job_id", in->slurm_job_id, sizeof in->slurm_job_id);
    code = json_object_get(obj, "job_code");
    if (json_is_integer(code) && json_integer_value(code) > 0 && json_integer_value(code) < 256)
        in->job_code = (int)json_integer_value(code);
    code = json_object_get(obj, "exit_code");
    if (json_is_integer(code)) {
        in->has_exit_code = 1;
        in->exit_code = (int)json_integer_value(code);
    }
}

/* A status file is a few hundred bytes; anything this big is not one. */
#define STATUS_FILE_MAX (1024 * 1024)

/* Loads path: *obj a JSON object (empty when the file is missing), *exists set. One read
 * of the whole file (never through a symbolic link), parsed from memory: get_report and
 * the HTTP server call this for every answer. Returns UP_OK, UP_EIO (exists but unreadable
 * or not an object) or UP_ENOMEM. */
static enum up_code load(const char *path, json_t **obj, int *exists, char *err, size_t errlen)
{
    json_error_t je;
    struct stat sb;
    char stack[8192], *buf = stack;
    size_t used = 0, cap = sizeof stack;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    const char *why = NULL;

    *obj = NULL;
    *exists = fd >= 0 || errno != ENOENT;
    if (!*exists) {
        *obj = json_object();
        goto done;
    }
    if (fd < 0 || fstat(fd, &sb) != 0) {
        why = strerror(errno);
        goto done;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size > STATUS_FILE_MAX) {
        why = S_ISREG(sb.st_mode) ? "larger than 1 MiB" : "not a regular file";
        goto done;
    }
    if ((size_t)sb.st_size >= cap) {
        cap = (size_t)sb.st_size + 1;
        buf = malloc(cap);
        if (!buf) {
            close(fd);
            snprintf(err, errlen, "out of memory");
            return UP_ENOMEM;
        }
    }
    for (;;) {
        ssize_t r = read(fd, buf + used, cap - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            why = strerror(errno);
            goto done;
        }
        if (r == 0)
            break;
        used += (size_t)r;
        if (used == cap) { /* grew since fstat: a writer does not do that (rename) */
            why = "changed while read";
            goto done;
        }
    }
    *obj = json_loadb(buf, used, 0, &je);
    if (!json_is_object(*obj))
        why = *obj ? "not a JSON object" : je.text;
done:
    if (fd >= 0)
        close(fd);
    if (buf != stack)
        free(buf);
    if (why) {
        snprintf(err, errlen, "cannot read status file %s: %s", path, why);
        json_decref(*obj);
        *obj = NULL;
        return UP_EIO;
    }
    if (!*obj) {
        snprintf(err, errlen, "out of memory");
        return UP_ENOMEM;
    }
    return UP_OK;
}

enum up_code up_status_read(const char *dir, const char *id, struct up_status_info *info, char *err,
                            size_t errlen)
{
    char *path = path_join(dir, "", id, ".status.json");
    json_t *obj = NULL;
    int exists = 0;
    enum up_code rc;

    memset(info, 0, sizeof *info);
    if (!path) {
        snprintf(err, errlen, "out of memory");
        return UP_ENOMEM;
    }
    rc = load(path, &obj, &exists, err, errlen);
    if (rc == UP_OK)
        parse_info(obj, exists, info);
    json_decref(obj);
    free(path);
    return rc;
}

/* ---- The lock and the held file ---- */

void up_status_close(struct up_status *st)
{
    if (!st)
        return;
    if (st->lock_fd >= 0) {
        /* The lock file lives only while it is held: removed before the lock is released,
         * so a writer that opened it meanwhile sees it gone and opens the new one (see
         * take_lock). A finished report leaves no lock file behind. */
        unlink(st->lock);
        close(st->lock_fd); /* releases the flock */
    }
    json_decref(st->obj);
    free(st->dir);
    free(st->id);
    free(st->lock);
    free(st);
}

/*
 * Takes path's flock, waiting at most lock_wait_ms. The holder removes the file before it
 * releases the lock, so a lock had on a file that is no longer the one at path is stale:
 * it is dropped and the new file locked instead.
 */
static enum up_code take_lock(const char *path, int *fd_out, char *err, size_t errlen)
{
    struct timespec pause = {0, LOCK_POLL_MS * 1000000L};
    struct stat held, named;
    int fd, waited = 0;

    for (;;) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) {
            snprintf(err, errlen, "cannot open lock file %s: %s", path, strerror(errno));
            return UP_EIO;
        }
        while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK && errno != EINTR) {
                snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
                close(fd);
                return UP_EIO;
            }
            if (waited >= lock_wait_ms) {
                snprintf(err, errlen, "cannot lock %s: another writer has held it for %.1f s", path,
                         lock_wait_ms / 1000.0);
                close(fd);
                return UP_EIO;
            }
            nanosleep(&pause, NULL);
            waited += LOCK_POLL_MS;
        }
        if (fstat(fd, &held) == 0 && stat(path, &named) == 0 && held.st_dev == named.st_dev &&
            held.st_ino == named.st_ino)
            break;
        close(fd);
    }
    *fd_out = fd;
    return UP_OK;
}

enum up_code up_status_open(const char *dir, const char *id, struct up_status **out, char *err,
                            size_t errlen)
{
    struct up_status *st = calloc(1, sizeof *st);
    char *path = NULL;
    enum up_code rc = UP_ENOMEM;
    int exists = 0;

    *out = NULL;
    if (!st)
        goto fail;
    st->lock_fd = -1;
    st->dir = strdup(dir);
    st->id = strdup(id);
    st->lock = path_join(dir, ".", id, ".lock");
    path = path_join(dir, "", id, ".status.json");
    if (!st->dir || !st->id || !st->lock || !path)
        goto fail;
    rc = take_lock(st->lock, &st->lock_fd, err, errlen);
    if (rc != UP_OK)
        goto out;
    rc = load(path, &st->obj, &exists, err, errlen);
    if (rc == UP_EIO) {
        /* A damaged file (a full disk, a hand edit) must not stop every later update:
         * the writers start a new object, as a rename would replace it anyway. */
        st->obj = json_object();
        rc = st->obj ? UP_OK : UP_ENOMEM;
    }
    if (rc != UP_OK)
        goto fail;
    parse_info(st->obj, exists, &st->info);
    *out = st;
    st = NULL;
    goto out;
fail:
    if (rc == UP_ENOMEM)
        snprintf(err, errlen, "out of memory");
out:
    up_status_close(st);
    free(path);
    return rc;
}

const struct up_status_info *up_status_info(const struct up_status *st)
{
    return &st->info;
}

/* Merges f into the held object and replaces the file (temporary file, rename). */
static enum up_code set_fields(struct up_status *st, const struct up_status_field *f, size_t n,
                               char *err, size_t errlen)
{
    char tail[48], *path = path_join(st->dir, "", st->id, ".status.json"), *tmp = NULL;
    enum up_code rc = UP_ENOMEM;
    size_t i;
    char *text;
    int fd = -1;

    snprintf(tail, sizeof tail, ".status.json.tmp.XXXXXX");
    tmp = path_join(st->dir, ".", st->id, tail);
    if (!path || !tmp)
        goto nomem;
    for (i = 0; i < n; i++) {
        json_t *v = f[i].is_null ? json_null()
                    : f[i].s     ? json_string(f[i].s)
                                 : json_integer((json_int_t)f[i].i);
        /* A message that is not valid UTF-8 is still stored, as a placeholder. */
        if (!v && f[i].s)
            v = json_string("(message not valid UTF-8)");
        if (!v || json_object_set_new(st->obj, f[i].key, v) != 0)
            goto nomem;
    }
    rc = UP_EIO;
    /* Made exclusively (mkstemp), never through a guessable name. */
    fd = up_file_temp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create status file %s: %s", tmp, strerror(errno));
        goto out;
    }
    /* One write of the whole text: json_dumpfd writes each token on its own (a status
     * file was some 120 write calls, rewritten five times or more by every report). */
    text = json_dumps(st->obj, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text) {
        close(fd);
        unlink(tmp);
        rc = UP_ENOMEM;
        goto nomem;
    }
    if (up_file_write_all(fd, text, strlen(text)) != 0 || close(fd) != 0) {
        snprintf(err, errlen, "cannot write status file %s: %s", tmp, strerror(errno));
        free(text);
        unlink(tmp);
        goto out;
    }
    free(text);
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot publish status file %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    parse_info(st->obj, 1, &st->info);
    rc = UP_OK;
    goto out;
nomem:
    snprintf(err, errlen, "out of memory");
out:
    free(path);
    free(tmp);
    return rc;
}

enum up_code up_status_update(const char *dir, const char *id, const struct up_status_field *f,
                              size_t n, char *err, size_t errlen)
{
    struct up_status *st = NULL;
    enum up_code rc = up_status_open(dir, id, &st, err, errlen);

    if (rc == UP_OK)
        rc = set_fields(st, f, n, err, errlen);
    up_status_close(st);
    return rc;
}

/* ---- The lifecycle's transitions ---- */

static const char *launcher_name(enum up_launcher l)
{
    return l == UP_LAUNCHER_SLURM ? "slurm" : l == UP_LAUNCHER_LOCAL ? "local" : "";
}

enum up_code up_status_submitted(struct up_status *st, const struct up_submit *s, char *err,
                                 size_t errlen)
{
    char submitted[40], source[1024];
    enum up_state state = s->launcher == UP_LAUNCHER_SLURM ? UP_STATE_PENDING : UP_STATE_RUNNING;

    up_now_iso(submitted, sizeof submitted);
    up_source_redact(s->source, source, sizeof source);
    {
        const struct up_status_field f[] = {
            {"report_id", st->id, 0, 0},
            {"status", up_state_name(state), 0, 0},
            {"launcher", launcher_name(s->launcher), 0, 0},
            {"submitted", submitted, 0, 0},
            {"ranks", NULL, s->ranks, 0},
            {"source", source, 0, 0},
            {"log", s->log, 0, 0},
            {"host", s->host, 0, 0},
            {"error", NULL, 0, 1},
            {"now", s->now, 0, 0},
        };
        return set_fields(st, f, sizeof f / sizeof f[0] - (s->now ? 0 : 1), err, errlen);
    }
}

enum up_code up_status_wrapper(struct up_status *st, const struct up_proc_id *w, char *err,
                               size_t errlen)
{
    const struct up_status_field f[] = {
        {"wrapper_pid", NULL, w->pid, 0},
        {"wrapper_pid_start", w->start, 0, 0},
    };
    return set_fields(st, f, sizeof f / sizeof f[0], err, errlen);
}

enum up_code up_status_launched(struct up_status *st, const struct up_proc_id *mpirun,
                                const struct up_proc_id *w, char *err, size_t errlen)
{
    const struct up_status_field f[] = {
        {"pid", NULL, mpirun->pid, 0},
        {"pid_start", mpirun->start, 0, 0},
        {"wrapper_pid", NULL, w->pid, 0},
        {"wrapper_pid_start", w->start, 0, 0},
    };
    return set_fields(st, f, sizeof f / sizeof f[0], err, errlen);
}

/* A Slurm job id as a number when it is one (it always is; an array job's "12_3" is
 * not). */
static struct up_status_field job_id_field(const char *key, const char *job_id)
{
    struct up_status_field f = {key, job_id, 0, 0};
    char *end;
    long long v;

    errno = 0;
    v = strtoll(job_id, &end, 10);
    if (job_id[0] >= '0' && job_id[0] <= '9' && *end == '\0' && errno == 0) {
        f.s = NULL;
        f.i = v;
    }
    return f;
}

enum up_code up_status_slurm_job(struct up_status *st, const char *job_id, char *err, size_t errlen)
{
    const struct up_status_field f[] = {job_id_field("slurm_job_id", job_id)};
    return set_fields(st, f, 1, err, errlen);
}

enum up_code up_status_batch_running(struct up_status *st, const struct up_batch *b, char *err,
                                     size_t errlen)
{
    const struct up_status_field f[] = {
        {"report_id", st->id, 0, 0},
        {"status", up_state_name(UP_STATE_RUNNING), 0, 0},
        {"launcher", launcher_name(UP_LAUNCHER_SLURM), 0, 0},
        job_id_field("slurm_job_id", b->job_id),
        {"slurm_nodes", b->nodes, 0, 0},
        {"batch_host", b->host, 0, 0},
        {"ranks", NULL, b->ranks, 0},
        {"error", NULL, 0, 1},
    };
    return set_fields(st, f, sizeof f / sizeof f[0], err, errlen);
}

enum up_code up_status_fail(struct up_status *st, const char *why, char *err, size_t errlen)
{
    char finished[40];

    up_now_iso(finished, sizeof finished);
    {
        const struct up_status_field f[] = {
            {"status", up_state_name(UP_STATE_FAILED), 0, 0},
            {"error", why, 0, 0},
            {"finished", finished, 0, 0},
        };
        return set_fields(st, f, sizeof f / sizeof f[0], err, errlen);
    }
}

enum up_code up_status_exit_code(struct up_status *st, int code, char *err, size_t errlen)
{
    const struct up_status_field f[] = {{"exit_code", NULL, code, 0}};
    return set_fields(st, f, 1, err, errlen);
}

static const char *phase_name(enum up_phase p);

enum up_code up_status_published(struct up_status *st, char *err, size_t errlen)
{
    char finished[40];

    up_now_iso(finished, sizeof finished);
    {
        const struct up_status_field f[] = {
            {"status", up_state_name(UP_STATE_COMPLETE), 0, 0},
            {"error", NULL, 0, 1},
            {"finished", finished, 0, 0},
            {"progress", NULL, 100, 0},
            {"phase", phase_name(UP_PHASE_DONE), 0, 0},
        };
        return set_fields(st, f, sizeof f / sizeof f[0], err, errlen);
    }
}

int up_status_rank_proc(const struct up_status *st, int rank, struct up_rank_proc *out)
{
    json_t *pid = json_array_get(json_object_get(st->obj, "rank_pids"), (size_t)rank);
    json_t *host = json_array_get(json_object_get(st->obj, "rank_hosts"), (size_t)rank);

    memset(out, 0, sizeof *out);
    if (rank < 0 || !json_is_integer(pid) || json_integer_value(pid) <= 0)
        return 0;
    out->pid = (long)json_integer_value(pid);
    if (json_is_string(host))
        snprintf(out->host, sizeof out->host, "%s", json_string_value(host));
    return 1;
}

/* Sets rank_pids and rank_hosts on the held object (written by the next set_fields). */
static enum up_code set_rank_procs(struct up_status *st, const struct up_rank_proc *p, int n,
                                   char *err, size_t errlen)
{
    json_t *pids = json_array(), *hosts = json_array();
    int i, bad = !pids || !hosts;

    if (n > UP_STATUS_RANKS_MAX)
        n = UP_STATUS_RANKS_MAX;
    for (i = 0; i < n && !bad; i++) {
        json_t *h = json_string(p[i].host);
        bad |= json_array_append_new(pids, json_integer((json_int_t)p[i].pid)) != 0;
        bad |= json_array_append_new(hosts, h ? h : json_string("?")) != 0;
    }
    if (!bad) {
        bad |= json_object_set(st->obj, "rank_pids", pids) != 0;
        bad |= json_object_set(st->obj, "rank_hosts", hosts) != 0;
    }
    json_decref(pids);
    json_decref(hosts);
    if (bad) {
        snprintf(err, errlen, "out of memory");
        return UP_ENOMEM;
    }
    return UP_OK;
}

/* ---- The job's transitions ---- */

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
            {"status", up_state_name(UP_STATE_RUNNING), 0, 0},
            {"started", started, 0, 0},
            {"ranks", NULL, s->ranks, 0},
            {"rank0_pid", NULL, s->rank0_pid, 0},
            {"rank0_host", s->rank0_host, 0, 0},
            {"source", source, 0, 0},
            {"error", NULL, 0, 1},
            {"phase", phase_name(UP_PHASE_METADATA), 0, 0},
            {"progress", NULL, 0, 0},
        };
        struct up_status *st = NULL;
        const struct up_status_info *in;
        enum up_code rc = up_status_open(dir, id, &st, err, errlen);

        /* The claim of the id, under the report's lock: a run may start on a status its
         * launcher wrote (Pending or Running, no job yet), never on one that another job
         * has started, finished or failed. A refused run touches nothing. */
        if (rc == UP_OK) {
            in = up_status_info(st);
            if (in->exists && (in->rank0_pid > 0 || in->state == UP_STATE_COMPLETE ||
                               in->state == UP_STATE_FAILED || in->state == UP_STATE_OTHER)) {
                snprintf(err, errlen,
                         "report id '%s' is already used in %s (status %s%s): choose a new id", id,
                         dir, in->status[0] ? in->status : "unknown",
                         in->rank0_pid > 0 ? ", a job started on it" : "");
                rc = UP_EUSAGE;
            }
        }
        if (rc == UP_OK && s->procs)
            rc = set_rank_procs(st, s->procs, s->nprocs, err, errlen);
        if (rc == UP_OK)
            rc = set_fields(st, f, sizeof f / sizeof f[0], err, errlen);
        up_status_close(st);
        return rc;
    }
}

enum up_code up_status_progress(const char *dir, const char *id, enum up_phase phase, int percent,
                                int64_t stores, char *err, size_t errlen)
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
            {"status", up_state_name(UP_STATE_COMPLETE), 0, 0},
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
    return up_status_job_failed(dir, id, why, 0, err, errlen);
}

enum up_code up_status_job_failed(const char *dir, const char *id, const char *why, int code,
                                  char *err, size_t errlen)
{
    struct up_status *st = NULL;
    enum up_code rc = up_status_open(dir, id, &st, err, errlen);

    if (rc == UP_OK)
        rc = up_status_fail(st, why, err, errlen);
    if (rc == UP_OK && code > 0) {
        const struct up_status_field f[] = {{"job_code", NULL, code, 0}};
        rc = set_fields(st, f, 1, err, errlen);
    }
    up_status_close(st);
    return rc;
}
