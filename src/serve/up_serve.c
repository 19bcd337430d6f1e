#include "up_serve.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "up_clock.h"
#include "up_log.h"
#include "up_source.h"
#include "up_status.h"
#include "up_time.h"

/* A route's path as the client sends it, at most this long (3 bytes per escaped id byte). */
#define PATH_SHOWN_MAX 200
#define GET_PREFIX "/get_report/"
/* Reports remembered as Pending or Running (only max_running are started by us; more may
 * be found in the folder at start-up). */
#define RUNNING_CAP 4096
/* Local launchers to reap (each is a child until its run ends). */
#define CHILDREN_CAP 4096
/* Our threads for slow requests: the lifecycle's deepest path (a Slurm query) needs
 * ~150 KiB. */
#define THREAD_STACK (1024 * 1024)
/* Bytes of an over-long body without Content-Length read and dropped before the 413. */
#define DISCARD_MAX (1024 * 1024)
/* A status-file writer of ours waits at most this long for a report's lock. */
#define LOCK_WAIT_MS 5000

struct up_serve {
    struct up_serve_config c;
    char dir[PATH_MAX]; /* the reports folder, absolute */
    struct MHD_Daemon *d;
    int listen_fd, port;
    atomic_int in_flight, stopping;
    atomic_int slow;    /* requests answered on a thread of their own (slow_start) */
    pthread_mutex_t mu; /* guards running, children */
    char (*running)[UP_REPORT_ID_MAX + 1];
    int n_running, n_reserved;
    pid_t *children;
    int n_children;
};

/* One request, from its first call to its completion. */
struct req {
    int64_t t0;
    char client[INET6_ADDRSTRLEN];
    char method[16];
    char path[PATH_SHOWN_MAX + 1]; /* printable bytes only, for the access log */
    int route_checked;
    int too_big;
    size_t body_len, discarded;
    char *body; /* POST /trigger_report only, max_body + 1 bytes */
    unsigned code;
    uint64_t bytes;
    /* A slow request (slow_start): its answer is made on a thread of its own while the
     * connection is suspended, kept here, and queued when libmicrohttpd calls back. */
    int suspended;
    int failed; /* the answer could not be made: close the connection */
    struct MHD_Response *answer;
    unsigned answer_code;
    char id[UP_REPORT_ID_MAX + 1]; /* get_report: the decoded id */
};

/* ---- Small helpers ---- */

static int fits(int n, size_t size)
{
    return n >= 0 && (size_t)n < size;
}

/* s with every byte outside printable ASCII as \xNN, cut at n - 1 bytes. */
static void printable(const char *s, char *out, size_t n)
{
    size_t k = 0;

    for (; *s && k + 5 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
            k += (size_t)snprintf(out + k, n - k, "\\x%02x", ch);
        else
            out[k++] = (char)ch;
    }
    out[k] = '\0';
}

/* Decodes the raw id of a URL (%XX escapes) into out; 0 if it is a valid report id. Any
 * escape that is not two hex digits, or decodes to a byte outside the id alphabet (a '/',
 * a '.', a NUL), makes it malformed. */
static int decode_id(const char *raw, char out[UP_REPORT_ID_MAX + 1])
{
    size_t k = 0;

    for (; *raw; raw++) {
        unsigned v;
        if (k >= UP_REPORT_ID_MAX)
            return -1;
        if (*raw == '%') {
            char hex[3] = {0};
            char *end;
            if (!raw[1] || !raw[2])
                return -1;
            hex[0] = raw[1];
            hex[1] = raw[2];
            v = (unsigned)strtoul(hex, &end, 16);
            if (*end || hex[0] == '+' || hex[0] == '-' || hex[0] == ' ')
                return -1;
            raw += 2;
        } else {
            v = (unsigned char)*raw;
        }
        if (v == 0)
            return -1;
        out[k++] = (char)v;
    }
    out[k] = '\0';
    return up_report_id_valid(out) ? 0 : -1;
}

/* ---- Responses ---- */

/* Queues resp on con, or, for a suspended request, keeps it for the call after the resume
 * (libmicrohttpd takes answers only from its own callback). */
static enum MHD_Result queue(struct MHD_Connection *con, struct req *r, unsigned code,
                             struct MHD_Response *resp)
{
    if (r->suspended) {
        r->answer = resp;
        r->answer_code = code;
        return MHD_YES;
    }
    {
        enum MHD_Result ok = MHD_queue_response(con, code, resp);
        MHD_destroy_response(resp);
        return ok;
    }
}

static enum MHD_Result send_buf(struct MHD_Connection *con, struct up_serve *s, struct req *r,
                                unsigned code, const char *type, const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);

    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (code == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (atomic_load(&s->stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->code = code;
    r->bytes = len;
    return queue(con, r, code, resp);
}

/* {"detail": "<msg>"}: FastAPI's error body, which the original's clients know. */
static enum MHD_Result send_detail(struct MHD_Connection *con, struct up_serve *s, struct req *r,
                                   unsigned code, const char *extra_header, const char *extra_value,
                                   const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static enum MHD_Result send_detail(struct MHD_Connection *con, struct up_serve *s, struct req *r,
                                   unsigned code, const char *extra_header, const char *extra_value,
                                   const char *fmt, ...)
{
    char msg[2048], body[4096];
    json_t *str;
    char *esc;
    va_list ap;
    int n;
    struct MHD_Response *resp;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    str = json_string(msg);
    if (!str) /* not UTF-8: shown as printable ASCII */
    {
        char shown[sizeof msg];
        printable(msg, shown, sizeof shown);
        str = json_string(shown);
    }
    esc = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
    json_decref(str);
    n = snprintf(body, sizeof body, "{\"detail\": %s}\n", esc ? esc : "\"\"");
    free(esc);
    if (!fits(n, sizeof body))
        n = snprintf(body, sizeof body, "{\"detail\": \"\"}\n");
    resp = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (extra_header)
        MHD_add_response_header(resp, extra_header, extra_value);
    if (code == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (atomic_load(&s->stopping) || code == MHD_HTTP_CONTENT_TOO_LARGE)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->code = code;
    r->bytes = (uint64_t)n;
    return queue(con, r, code, resp);
}

/* ---- Reports Pending or Running, children to reap ---- */

/* Drops the remembered reports that are no longer Pending or Running (the lifecycle's
 * verdict on a dead run is recorded on the way). Under s->mu. */
static void prune_running(struct up_serve *s)
{
    int i = 0;

    while (i < s->n_running) {
        struct up_report_state st;
        char err[256];
        int keep = up_lifecycle_state(s->dir, s->running[i], &st, err, sizeof err) == UP_OK &&
                   (st.answer == UP_ANSWER_PENDING || st.answer == UP_ANSWER_RUNNING);
        if (keep) {
            i++;
            continue;
        }
        memmove(s->running[i], s->running[s->n_running - 1], sizeof s->running[i]);
        s->n_running--;
    }
}

static void remember_running(struct up_serve *s, const char *id)
{
    if (s->n_running < RUNNING_CAP)
        snprintf(s->running[s->n_running++], sizeof s->running[0], "%s", id);
}

/* The reports of the folder that say Pending or Running (a restart finds its own). */
static void scan_running(struct up_serve *s)
{
    DIR *d = opendir(s->dir);
    struct dirent *e;
    static const char suffix[] = ".status.json";

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char id[UP_REPORT_ID_MAX + 1], err[256];
        size_t len = strlen(e->d_name), k = sizeof suffix - 1;
        struct up_status_info *in;
        if (len <= k || len - k > UP_REPORT_ID_MAX || strcmp(e->d_name + len - k, suffix) != 0)
            continue;
        memcpy(id, e->d_name, len - k);
        id[len - k] = '\0';
        if (!up_report_id_valid(id))
            continue;
        in = malloc(sizeof *in);
        if (!in)
            break;
        if (up_status_read(s->dir, id, in, err, sizeof err) == UP_OK &&
            (in->state == UP_STATE_PENDING || in->state == UP_STATE_RUNNING))
            remember_running(s, id);
        free(in);
    }
    closedir(d);
    prune_running(s);
}

void up_serve_tick(struct up_serve *s)
{
    int i = 0;

    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    while (i < s->n_children) {
        int status;
        pid_t r = waitpid(s->children[i], &status, WNOHANG);
        if (r == 0) {
            i++;
            continue;
        }
        s->children[i] = s->children[--s->n_children];
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- The endpoints ---- */

static enum MHD_Result trigger(struct MHD_Connection *con, struct up_serve *s, struct req *r)
{
    struct up_trigger t = s->c.run;
    char id[UP_REPORT_ID_MAX + 1], err[2048], answer[128], now[64] = "";
    enum up_code rc;
    size_t i;
    int n;

    /* An optional JSON object naming "now"; nothing else. */
    for (i = 0; i < r->body_len && strchr(" \t\r\n", r->body[i]); i++)
        ;
    if (i < r->body_len) {
        json_error_t je;
        json_t *root = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je), *v;
        const char *key;
        if (!root || !json_is_object(root)) {
            json_decref(root);
            return send_detail(con, s, r, MHD_HTTP_BAD_REQUEST, NULL, NULL,
                               "the body must be empty or a JSON object such as "
                               "{\"now\": \"2023-01-25 18:13:22 UTC\"}");
        }
        json_object_foreach(root, key, v)
        {
            if (strcmp(key, "now") != 0) {
                json_decref(root);
                return send_detail(con, s, r, MHD_HTTP_BAD_REQUEST, NULL, NULL,
                                   "unknown field in the body: only \"now\" is accepted");
            }
            if (json_is_null(v))
                continue;
            if (!json_is_string(v) || json_string_length(v) >= sizeof now) {
                json_decref(root);
                return send_detail(con, s, r, MHD_HTTP_BAD_REQUEST, NULL, NULL,
                                   "\"now\" must be a timestamp string such as "
                                   "\"2023-01-25 18:13:22 UTC\"");
            }
            snprintf(now, sizeof now, "%s", json_string_value(v));
        }
        json_decref(root);
        if (now[0]) {
            int64_t us;
            const char *why;
            if (up_parse_timestamp(now, strlen(now), &us, &why) != 0)
                return send_detail(con, s, r, MHD_HTTP_BAD_REQUEST, NULL, NULL,
                                   "invalid \"now\": %s", why);
            t.now = now;
        }
    }

    /* A slot among max_running, reserved before the (slow) start and kept if it starts. */
    pthread_mutex_lock(&s->mu);
    if (s->n_running + s->n_reserved >= s->c.max_running)
        prune_running(s);
    if (s->n_running + s->n_reserved >= s->c.max_running) {
        int running = s->n_running + s->n_reserved;
        pthread_mutex_unlock(&s->mu);
        return send_detail(con, s, r, MHD_HTTP_TOO_MANY_REQUESTS, MHD_HTTP_HEADER_RETRY_AFTER, "5",
                           "%d reports are pending or running (at most %d at once); retry later",
                           running, s->c.max_running);
    }
    s->n_reserved++;
    pthread_mutex_unlock(&s->mu);

    rc = up_lifecycle_trigger(&t, id, err, sizeof err);

    pthread_mutex_lock(&s->mu);
    s->n_reserved--;
    if (rc == UP_OK)
        remember_running(s, id);
    pthread_mutex_unlock(&s->mu);
    if (rc != UP_OK) {
        UP_LOG(ERROR, "trigger_report: %s", err);
        return send_detail(con, s, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
                           "the report could not be started: %s", err);
    }
    if (!t.slurm) {
        /* The local launcher is our child until the run ends: reaped by up_serve_tick. */
        struct up_status_info *in = malloc(sizeof *in);
        if (in && up_status_read(s->dir, id, in, err, sizeof err) == UP_OK && in->wrapper.pid > 0) {
            pthread_mutex_lock(&s->mu);
            if (s->n_children < CHILDREN_CAP)
                s->children[s->n_children++] = (pid_t)in->wrapper.pid;
            pthread_mutex_unlock(&s->mu);
        }
        free(in);
    }
    UP_LOG(INFO, "report %s started (%s, %d ranks%s%s)", id, t.slurm ? "Slurm" : "local", t.ranks,
           t.now ? ", now " : "", t.now ? t.now : "");
    if (up_status_json_report_id(id, answer, sizeof answer - 1) != 0)
        return MHD_NO;
    n = (int)strlen(answer);
    answer[n++] = '\n';
    return send_buf(con, s, r, MHD_HTTP_OK, "application/json", answer, (size_t)n);
}

/* The CSV, streamed from its file by libmicrohttpd (sendfile), never read whole. */
static enum MHD_Result send_csv(struct MHD_Connection *con, struct up_serve *s, struct req *r,
                                const char *id)
{
    char path[PATH_MAX], disp[UP_REPORT_ID_MAX + 48];
    struct MHD_Response *resp;
    struct stat sb;
    int fd;

    if (!fits(snprintf(path, sizeof path, "%s/%s.csv", s->dir, id), sizeof path))
        return send_detail(con, s, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
                           "reports folder path too long");
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        UP_LOG(ERROR, "report %s is complete but %s cannot be read: %s", id, path, strerror(e));
        return send_detail(con, s, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
                           "report %s is complete but its CSV cannot be read", id);
    }
    resp = MHD_create_response_from_fd64((uint64_t)sb.st_size, fd);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.csv\"", id);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/csv");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    if (atomic_load(&s->stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->code = MHD_HTTP_OK;
    r->bytes = (uint64_t)sb.st_size;
    return queue(con, r, MHD_HTTP_OK, resp);
}

/* The answer for report id from its state st: the CSV, its state, or why not. */
static enum MHD_Result send_state(struct MHD_Connection *con, struct up_serve *s, struct req *r,
                                  const char *id, const struct up_report_state *st)
{
    char answer[4096];
    int n;

    if (st->warning[0])
        UP_LOG(WARN, "report %s: %s", id, st->warning);
    switch (st->answer) {
    case UP_ANSWER_COMPLETE:
        return send_csv(con, s, r, id);
    case UP_ANSWER_PENDING:
    case UP_ANSWER_RUNNING:
    case UP_ANSWER_FAILED:
        n = up_status_json_answer(st->answer == UP_ANSWER_PENDING   ? UP_STATE_PENDING
                                  : st->answer == UP_ANSWER_RUNNING ? UP_STATE_RUNNING
                                                                    : UP_STATE_FAILED,
                                  st->error, answer, sizeof answer - 1);
        if (n != 0)
            return send_detail(con, s, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
                               "answer too long");
        n = (int)strlen(answer);
        answer[n++] = '\n';
        return send_buf(con, s, r, MHD_HTTP_OK, "application/json", answer, (size_t)n);
    case UP_ANSWER_UNKNOWN:
        return send_detail(con, s, r, MHD_HTTP_NOT_FOUND, NULL, NULL, "unknown report id '%s'", id);
    case UP_ANSWER_BROKEN:
    default:
        UP_LOG(ERROR, "report %s: %s", id, st->error);
        return send_detail(con, s, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "%s", st->error);
    }
}

/* The answer for report id, its status file read here (and a Slurm query when it needs
 * one: the slow path). */
static enum MHD_Result answer_report(struct MHD_Connection *con, struct up_serve *s, struct req *r,
                                     const char *id)
{
    struct up_report_state *st = malloc(sizeof *st);
    enum MHD_Result ok;
    char err[256];

    if (!st)
        return MHD_NO;
    if (up_lifecycle_state(s->dir, id, st, err, sizeof err) != UP_OK)
        ok = send_detail(con, s, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "%s", err);
    else
        ok = send_state(con, s, r, id, st);
    free(st);
    return ok;
}

/* ---- Slow requests: answered on a thread of their own, the connection suspended ---- */

struct slow {
    struct MHD_Connection *con;
    struct up_serve *s;
    struct req *r;
    int trigger; /* POST /trigger_report; else GET /get_report/{r->id} */
};

static void *slow_main(void *arg)
{
    struct slow *w = arg;
    struct up_serve *s = w->s;
    struct req *r = w->r;
    enum MHD_Result ok = w->trigger ? trigger(w->con, s, r) : answer_report(w->con, s, r, r->id);

    if (ok != MHD_YES || !r->answer)
        r->failed = 1;
    /* From here on r belongs to libmicrohttpd again (it may complete and free it). */
    MHD_resume_connection(w->con);
    free(w);
    atomic_fetch_sub(&s->slow, 1);
    return NULL;
}

/* Suspends con and answers the request on a new thread (the pool's threads serve every
 * other connection meanwhile); when no thread can be made, here. */
static enum MHD_Result slow_start(struct MHD_Connection *con, struct up_serve *s, struct req *r,
                                  int is_trigger)
{
    struct slow *w = malloc(sizeof *w);
    pthread_attr_t attr;
    pthread_t t;
    int started = 0;

    if (!w)
        return is_trigger ? trigger(con, s, r) : answer_report(con, s, r, r->id);
    w->con = con;
    w->s = s;
    w->r = r;
    w->trigger = is_trigger;
    r->suspended = 1;
    atomic_fetch_add(&s->slow, 1);
    MHD_suspend_connection(con);
    if (pthread_attr_init(&attr) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, THREAD_STACK);
        started = pthread_create(&t, &attr, slow_main, w) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!started)
        slow_main(w);
    return MHD_YES;
}

/* The answer a slow request's thread made, queued once its connection is resumed. */
static enum MHD_Result slow_finish(struct MHD_Connection *con, struct req *r)
{
    struct MHD_Response *resp = r->answer;
    enum MHD_Result ok;

    r->answer = NULL;
    if (r->failed || !resp) {
        if (resp)
            MHD_destroy_response(resp);
        return MHD_NO;
    }
    ok = MHD_queue_response(con, r->answer_code, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result get_report(struct MHD_Connection *con, struct up_serve *s, struct req *r,
                                  const char *raw_id)
{
    /* Refused before any file is looked at: the id is the only part of a path we build. */
    if (decode_id(raw_id, r->id) != 0)
        return send_detail(con, s, r, MHD_HTTP_BAD_REQUEST, NULL, NULL,
                           "malformed report id: expected " UP_REPORT_ID_RULE);
    /* One read of the status file; a Slurm report still Pending or Running on paper needs
     * scontrol to answer: a thread of its own. Anything unusual: answer_report's path. */
    {
        struct up_status_info *in = malloc(sizeof *in);
        struct up_report_state *st = malloc(sizeof *st);
        enum MHD_Result ok;
        char err[256];

        if (!in || !st || up_status_read(s->dir, r->id, in, err, sizeof err) != UP_OK) {
            free(in);
            free(st);
            return answer_report(con, s, r, r->id);
        }
        if (in->launcher == UP_LAUNCHER_SLURM &&
            (in->state == UP_STATE_PENDING || in->state == UP_STATE_RUNNING)) {
            free(in);
            free(st);
            return slow_start(con, s, r, 0);
        }
        if (up_lifecycle_state_of(s->dir, r->id, in, st, err, sizeof err) != UP_OK)
            ok = send_detail(con, s, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "%s", err);
        else
            ok = send_state(con, s, r, r->id, st);
        free(in);
        free(st);
        return ok;
    }
}

/* ---- Requests ---- */

/* 1 if the request carries "Authorization: Bearer <token>" (compared in constant time). */
static int authorized(struct MHD_Connection *con, const struct up_serve *s)
{
    const char *h =
        MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *tok = s->c.token, *got;
    size_t i, lt, lg;
    unsigned char diff = 0;

    if (!tok)
        return 1;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    got = h + 7 + strspn(h + 7, " ");
    lt = strlen(tok);
    lg = strlen(got);
    for (i = 0; i < lt; i++)
        diff |= (unsigned char)(tok[i] ^ (i < lg ? got[i] : 0));
    return diff == 0 && lg == lt;
}

enum route { ROUTE_NONE, ROUTE_HEALTH, ROUTE_TRIGGER, ROUTE_GET };

static enum route route_of(const char *url)
{
    if (strcmp(url, "/health") == 0)
        return ROUTE_HEALTH;
    if (strcmp(url, "/trigger_report") == 0)
        return ROUTE_TRIGGER;
    if (strncmp(url, GET_PREFIX, sizeof GET_PREFIX - 1) == 0)
        return ROUTE_GET;
    return ROUTE_NONE;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct up_serve *s = cls;
    struct req *r = *con_cls;
    enum route rt = route_of(url);
    int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

    if (!r) {
        const union MHD_ConnectionInfo *ci;
        const char *cl;
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        atomic_fetch_add(&s->in_flight, 1);
        r->t0 = up_now_us();
        printable(method, r->method, sizeof r->method);
        printable(url, r->path, sizeof r->path);
        ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        snprintf(r->client, sizeof r->client, "-");
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                          r->client, sizeof r->client);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                          r->client, sizeof r->client);
        }
        cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            unsigned long long v;
            errno = 0;
            v = strtoull(cl, &end, 10);
            if (*end || errno || v > s->c.max_body)
                r->too_big = 1;
        }
        if (rt == ROUTE_TRIGGER && strcmp(method, "POST") == 0) {
            r->body = malloc(s->c.max_body + 1);
            if (!r->body)
                return MHD_NO;
        }
        /* Answered before any body is read: authentication, path, method, declared size. */
        if (!authorized(con, s))
            return send_detail(con, s, r, MHD_HTTP_UNAUTHORIZED, NULL, NULL, "Not authenticated");
        if (rt == ROUTE_NONE)
            return send_detail(con, s, r, MHD_HTTP_NOT_FOUND, NULL, NULL, "Not Found");
        if (rt == ROUTE_TRIGGER && strcmp(method, "POST") != 0)
            return send_detail(con, s, r, MHD_HTTP_METHOD_NOT_ALLOWED, MHD_HTTP_HEADER_ALLOW,
                               "POST", "Method Not Allowed");
        if (rt != ROUTE_TRIGGER && !is_get)
            return send_detail(con, s, r, MHD_HTTP_METHOD_NOT_ALLOWED, MHD_HTTP_HEADER_ALLOW,
                               "GET, HEAD", "Method Not Allowed");
        if (r->too_big)
            return send_detail(con, s, r, MHD_HTTP_CONTENT_TOO_LARGE, NULL, NULL,
                               "request body larger than %zu bytes", s->c.max_body);
        return MHD_YES;
    }
    if (r->suspended)
        return slow_finish(con, r);
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        /* libmicrohttpd answers only before the body or after it: a body without a length
         * that grows past the cap is discarded up to DISCARD_MAX more, then the connection
         * is closed. */
        if (r->too_big || !r->body || r->body_len + n > s->c.max_body) {
            r->too_big = 1;
            r->discarded += n;
            return r->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
        }
        memcpy(r->body + r->body_len, upload, n);
        r->body_len += n;
        return MHD_YES;
    }
    if (r->too_big)
        return send_detail(con, s, r, MHD_HTTP_CONTENT_TOO_LARGE, NULL, NULL,
                           "request body larger than %zu bytes", s->c.max_body);
    switch (rt) {
    case ROUTE_HEALTH:
        return send_buf(con, s, r, MHD_HTTP_OK, "application/json", "{\"ok\": true}\n", 13);
    case ROUTE_TRIGGER:
        /* Starting a run forks and execs, or waits for sbatch: never on the pool. */
        return slow_start(con, s, r, 1);
    case ROUTE_GET:
        return get_report(con, s, r, url + sizeof GET_PREFIX - 1);
    case ROUTE_NONE:
    default:
        return MHD_NO;
    }
}

/* The access log: one line per request, written whole in one write(2). */
static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct up_serve *s = cls;
    struct req *r = *con_cls;
    char stamp[UP_TIME_TEXT_MAX], line[512];
    static const char *const why[] = {"",          " error",      " timeout",
                                      " shutdown", " read-error", " client-aborted"};
    int64_t us;
    int n;

    if (!r)
        return;
    us = up_now_us() - r->t0;
    up_format_iso_ms(r->t0, stamp, sizeof stamp);
    n = snprintf(line, sizeof line, "%s %s \"%s %s\" %u %llu %lld.%03lldms%s\n", stamp, r->client,
                 r->method, r->path, r->code, (unsigned long long)r->bytes, (long long)(us / 1000),
                 (long long)(us % 1000),
                 (unsigned)toe < sizeof why / sizeof why[0] ? why[toe] : " aborted");
    if (n > 0 && s->c.access_fd >= 0) {
        size_t len = fits(n, sizeof line) ? (size_t)n : sizeof line - 1;
        if (!fits(n, sizeof line))
            line[len - 1] = '\n';
        if (write(s->c.access_fd, line, len) < 0) {
            /* Nothing to do: the log is best effort, the answer has gone. */
        }
    }
    if (r->answer)
        MHD_destroy_response(r->answer);
    free(r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

/* The identity unescaper: the handler sees the raw path and decodes the id itself, so that
 * "%00" or "%2F" cannot turn into a shorter or different path behind its back. */
static size_t no_unescape(void *cls, struct MHD_Connection *con, char *s)
{
    return strlen(s);
}

/* The format attribute lets the compiler check the vsnprintf below (clang's
 * -Wformat-nonliteral); microhttpd's formats are its own literals. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[1024];
    size_t n;

    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    UP_LOG(WARN, "microhttpd: %s", msg);
}

/* ---- Start and stop ---- */

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) ==
               127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

/* Binds "ADDR:PORT" / "[ADDR6]:PORT"; the socket is close-on-exec (runs started by the
 * server must not hold the port). Returns the fd, or -1 with err. */
static int bind_listen(const struct up_serve_config *c, int *v6, char *err, size_t errlen)
{
    char host[256], port[8];
    const char *colon, *l = c->listen;
    struct addrinfo hints, *res = NULL, *ai;
    size_t hl;
    int fd = -1, one = 1, g;

    if (l[0] == '[') {
        const char *close_b = strchr(l, ']');
        if (!close_b || close_b[1] != ':') {
            snprintf(err, errlen, "--listen '%s': expected ADDR:PORT or [ADDR6]:PORT", l);
            return -1;
        }
        hl = (size_t)(close_b - l - 1);
        memcpy(host, l + 1, hl < sizeof host ? hl : 0);
        colon = close_b + 1;
    } else {
        colon = strrchr(l, ':');
        hl = colon ? (size_t)(colon - l) : 0;
        if (colon)
            memcpy(host, l, hl < sizeof host ? hl : 0);
    }
    if (!colon || hl == 0 || hl >= sizeof host || !colon[1] || strlen(colon + 1) > 5 ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) || atol(colon + 1) > 65535) {
        snprintf(err, errlen, "--listen '%s': expected ADDR:PORT (port 0-65535) or [ADDR6]:PORT",
                 l);
        return -1;
    }
    host[hl] = '\0';
    snprintf(port, sizeof port, "%s", colon + 1);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    g = getaddrinfo(host, port, &hints, &res);
    if (g != 0) {
        snprintf(err, errlen, "--listen '%s': %s", l, gai_strerror(g));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        if (!c->token && !is_loopback(ai->ai_addr)) {
            snprintf(err, errlen,
                     "--listen '%s' is not a loopback address: give --token-file so that "
                     "every request needs a bearer token",
                     l);
            freeaddrinfo(res);
            return -1;
        }
    }
    for (ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", l, strerror(errno));
            close(fd);
            fd = -1;
            continue;
        }
        *v6 = ai->ai_family == AF_INET6;
    }
    freeaddrinfo(res);
    return fd;
}

void up_serve_defaults(struct up_serve_config *c)
{
    memset(c, 0, sizeof *c);
    c->listen = UP_SERVE_LISTEN_DEFAULT;
    c->max_connections = 512;
    c->max_per_client = 256;
    c->timeout_s = 10;
    c->max_body = 4096;
    c->max_running = 4;
    c->grace_s = 30;
    c->access_fd = 1;
    c->run.ranks = 2;
}

enum up_code up_serve_read_token(const char *path, char *out, size_t n, char *err, size_t errlen)
{
    struct stat sb;
    size_t len, i;
    FILE *f = fopen(path, "r");

    if (!f) {
        snprintf(err, errlen, "cannot read token file %s: %s", path, strerror(errno));
        return UP_EUSAGE;
    }
    if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077))
        fprintf(stderr, "uptime_serve: warning: token file %s is readable by others\n", path);
    if (!fgets(out, (int)n, f))
        out[0] = '\0';
    fclose(f);
    len = strlen(out);
    if (len == n - 1 && out[len - 1] != '\n') {
        snprintf(err, errlen, "token in %s is longer than %zu bytes", path, n - 2);
        return UP_EUSAGE;
    }
    while (len > 0 && strchr(" \t\r\n", out[len - 1]))
        out[--len] = '\0';
    for (i = 0; i < len; i++)
        if ((unsigned char)out[i] <= 0x20 || out[i] == 0x7f) {
            snprintf(err, errlen, "token in %s holds a space or a control character", path);
            return UP_EUSAGE;
        }
    if (len == 0) {
        snprintf(err, errlen, "token file %s is empty", path);
        return UP_EUSAGE;
    }
    return UP_OK;
}

/* The pool's default size: one thread per online CPU (1 to 64). */
static unsigned online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

enum up_code up_serve_start(const struct up_serve_config *c, struct up_serve **out, char *err,
                            size_t errlen)
{
    struct up_serve *s;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    unsigned flags, threads;
    int v6 = 0;

    *out = NULL;
    if (c->max_running < 1 || c->max_connections < 1 || c->max_per_client < 1 || c->timeout_s < 1 ||
        c->run.ranks < 1 || !c->run.source || !c->run.reports_dir || !c->run.home ||
        !c->run.program || !c->run.ctl) {
        snprintf(err, errlen, "incomplete server configuration");
        return UP_EUSAGE;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return UP_ENOMEM;
    }
    s->c = *c;
    s->listen_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    s->running = calloc(RUNNING_CAP, sizeof *s->running);
    s->children = calloc(CHILDREN_CAP, sizeof *s->children);
    if (!s->running || !s->children) {
        snprintf(err, errlen, "out of memory");
        up_serve_stop(s);
        return UP_ENOMEM;
    }
    if (mkdir(c->run.reports_dir, 0777) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create reports folder %s: %s", c->run.reports_dir,
                 strerror(errno));
        up_serve_stop(s);
        return UP_EIO;
    }
    if (!realpath(c->run.reports_dir, s->dir)) {
        snprintf(err, errlen, "reports folder %s: %s", c->run.reports_dir, strerror(errno));
        up_serve_stop(s);
        return UP_EIO;
    }
    s->c.run.reports_dir = s->dir;
    /* Status requests answer quickly; a writer of ours gives up on a lock held longer. */
    up_status_set_lock_wait(LOCK_WAIT_MS);
    scan_running(s);

    s->listen_fd = bind_listen(c, &v6, err, errlen);
    if (s->listen_fd < 0) {
        enum up_code rc = strstr(err, "cannot listen") ? UP_EIO : UP_EUSAGE;
        up_serve_stop(s);
        return rc;
    }
    if (getsockname(s->listen_fd, (struct sockaddr *)&ss, &sl) == 0)
        s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    /* A pool of threads, each with its own epoll set: a status answer or the start of a
     * sendfile takes microseconds, and a few threads that never block serve many
     * connections with less waiting than a thread each (bench/README.md "HTTP server").
     * What may block (a trigger, a Slurm query) goes to a thread of its own (slow_start). */
    threads = c->threads ? c->threads : online_cpus();
    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ITC | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
        MHD_OPTION_CONNECTION_LIMIT, c->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        c->max_per_client, MHD_OPTION_CONNECTION_TIMEOUT, c->timeout_s, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "libmicrohttpd could not start on %s", c->listen);
        up_serve_stop(s);
        return UP_EFAIL;
    }
    *out = s;
    return UP_OK;
}

int up_serve_port(const struct up_serve *s)
{
    return s ? s->port : 0;
}

void up_serve_stop(struct up_serve *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    if (s->d) {
        /* No new connection from here; in-flight requests get grace_s to finish. */
        MHD_socket fd = MHD_quiesce_daemon(s->d);
        int64_t until = up_now_us() + (int64_t)s->c.grace_s * 1000000;
        if (fd != MHD_INVALID_SOCKET && fd == s->listen_fd) {
            close(fd);
            s->listen_fd = -1;
        }
        while (atomic_load(&s->in_flight) > 0 && up_now_us() < until) {
            struct timespec t = {0, 20 * 1000000L};
            nanosleep(&t, NULL);
        }
        /* A suspended connection must be resumed before the daemon stops: its thread's
         * work is bounded (a Slurm command's limit, a lock's wait), so wait for it. */
        while (atomic_load(&s->slow) > 0) {
            struct timespec t = {0, 20 * 1000000L};
            nanosleep(&t, NULL);
        }
        MHD_stop_daemon(s->d);
    }
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    up_serve_tick(s);
    pthread_mutex_destroy(&s->mu);
    free(s->running);
    free(s->children);
    free(s);
}

/* ---- The signal loop ---- */

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    int e = errno;
    if (write(sig_pipe[1], &b, 1) < 0) {
        /* The pipe is full: a stop is already on its way. */
    }
    errno = e;
}

/* SIGPIPE from a peer gone mid-sendfile: handled (not ignored), so that the programs the
 * server starts get the default action back at exec. */
static void on_sigpipe(int sig)
{
}

enum up_code up_serve_run(const struct up_serve_config *c, char *err, size_t errlen)
{
    struct sigaction sa;
    struct up_serve *s = NULL;
    enum up_code rc;
    unsigned char sig = 0;

    if (pipe(sig_pipe) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return UP_EFAIL;
    }
    fcntl(sig_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(sig_pipe[1], F_SETFD, FD_CLOEXEC);
    fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_sigpipe;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGPIPE, &sa, NULL);

    rc = up_serve_start(c, &s, err, errlen);
    if (rc != UP_OK)
        goto out;
    if (!c->quiet) {
        char shown[1024];
        up_source_redact(c->run.source, shown, sizeof shown);
        UP_LOG(INFO, "listening on %s (port %d); reports in %s; source %s; %s, %d ranks", c->listen,
               s->port, s->dir, shown, c->run.slurm ? "Slurm" : "local mpirun", c->run.ranks);
    }
    for (;;) {
        struct pollfd p = {sig_pipe[0], POLLIN, 0};
        int r = poll(&p, 1, 1000);
        up_serve_tick(s);
        if (r > 0 && read(sig_pipe[0], &sig, 1) == 1)
            break;
    }
    if (!c->quiet)
        UP_LOG(INFO, "signal %d: stopping (running reports go on)", (int)sig);
    up_serve_stop(s);
out:
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    return rc;
}
