/*
 * Unit tests of the HTTP front (up_serve.c): a real server on 127.0.0.1 with an ephemeral
 * port, in this process, over a reports folder whose status files the tests write by
 * hand, asked with a minimal HTTP/1.1 client of its own. Routing, ids (hostile ones
 * included), the answers of each state, the CSV's headers and bytes, the token, body
 * checks, the report limit (429) and the access log. No report is started: the runs
 * themselves are tests/e2e/test_serve.sh's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "test_util.h"
#include "up_serve.h"

#define TOKEN "s3cret-Token_1"

static char dir[4096];
static int log_pipe[2] = {-1, -1};

/* One answer: the status code, the raw header block and the body. */
struct answer {
    int code;
    char head[4096];
    char *body;
    size_t body_len;
};

static void answer_free(struct answer *a)
{
    free(a->body);
    a->body = NULL;
}

/* The value of header name (case-insensitive) in a->head into out; 1 if found. */
static int header(const struct answer *a, const char *name, char *out, size_t n)
{
    const char *p = a->head;
    size_t k = strlen(name);

    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, name, k) == 0 && p[k] == ':') {
            const char *v = p + k + 1, *end;
            while (*v == ' ')
                v++;
            end = strpbrk(v, "\r\n");
            snprintf(out, n, "%.*s", (int)(end ? end - v : (long)strlen(v)), v);
            return 1;
        }
    }
    return 0;
}

/* Sends raw (a whole request, "Connection: close" in it) to port and reads the answer to
 * the end. Returns 0, or -1 when no HTTP answer came (within 10 s). */
static int ask_raw(int port, const char *raw, size_t len, struct answer *a)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 10};
    size_t used = 0, cap = 65536;
    char *buf = malloc(cap), *sep = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(a, 0, sizeof *a);
    if (!buf || fd < 0) {
        free(buf);
        return -1;
    }
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        send(fd, raw, len, MSG_NOSIGNAL) != (ssize_t)len) {
        close(fd);
        free(buf);
        return -1;
    }
    for (;;) {
        ssize_t r;
        if (used == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        r = recv(fd, buf + used, cap - used, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        used += (size_t)r;
    }
    close(fd);
    for (size_t i = 0; !sep && i + 4 <= used; i++)
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
            sep = buf + i;
    if (!sep) {
        free(buf);
        return -1;
    }
    /* The header block as a string (the buffer itself is not terminated). */
    snprintf(a->head, sizeof a->head, "%.*s", (int)(sep - buf), buf);
    if (sscanf(a->head, "HTTP/1.1 %d", &a->code) != 1) {
        free(buf);
        return -1;
    }
    a->body_len = used - (size_t)(sep + 4 - buf);
    a->body = malloc(a->body_len + 1);
    if (a->body) {
        memcpy(a->body, sep + 4, a->body_len);
        a->body[a->body_len] = '\0';
    }
    free(buf);
    return a->body ? 0 : -1;
}

/* method path with optional headers (each ending "\r\n") and body. */
static int ask(int port, const char *method, const char *path, const char *headers,
               const char *body, struct answer *a)
{
    char req[8192];
    int n =
        snprintf(req, sizeof req,
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                 "Content-Length: %zu\r\n\r\n%s",
                 method, path, headers ? headers : "", body ? strlen(body) : 0, body ? body : "");
    return n > 0 && (size_t)n < sizeof req ? ask_raw(port, req, (size_t)n, a) : -1;
}

static struct up_serve *start(const char *token, int max_running)
{
    struct up_serve_config c;
    struct up_serve *s = NULL;
    char err[512];

    up_serve_defaults(&c);
    c.listen = "127.0.0.1:0";
    c.token = token;
    c.quiet = 1;
    c.max_body = 256;
    c.max_running = max_running;
    c.access_fd = log_pipe[1];
    c.run.source = "/nonexistent/uptime.db";
    c.run.reports_dir = dir;
    c.run.home = "/nonexistent";
    c.run.program = "/nonexistent/uptime_report";
    c.run.ctl = "/nonexistent/uptime_ctl";
    if (up_serve_start(&c, &s, err, sizeof err) != UP_OK) {
        fprintf(stderr, "up_serve_start: %s\n", err);
        return NULL;
    }
    return s;
}

/* Status files written by hand: the states a client can meet. */
static int suite_init(void)
{
    char host[256] = "", text[1024];
    pid_t dead = fork();

    if (dead == 0)
        _exit(0);
    if (dead < 0 || waitpid(dead, NULL, 0) != dead || pipe(log_pipe) != 0)
        return -1;
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    gethostname(host, sizeof host - 1);
    tu_write_file(dir, "done.status.json", "{\"report_id\": \"done\", \"status\": \"Complete\"}\n");
    tu_write_file(dir, "done.csv", "store_id,uptime_last_hour(in minutes)\r\nA,60\r\n");
    tu_write_file(dir, "bad.status.json",
                  "{\"report_id\": \"bad\", \"status\": \"Failed\", "
                  "\"error\": \"no such table: \\\"store_status\\\"\\nline 2\"}\n");
    snprintf(text, sizeof text,
             "{\"report_id\": \"busy\", \"status\": \"Running\", \"rank0_pid\": %ld, "
             "\"rank0_host\": \"%s\"}\n",
             (long)getpid(), host);
    tu_write_file(dir, "busy.status.json", text);
    snprintf(text, sizeof text,
             "{\"report_id\": \"gone\", \"status\": \"Running\", \"rank0_pid\": %ld, "
             "\"rank0_host\": \"%s\"}\n",
             (long)dead, host);
    tu_write_file(dir, "gone.status.json", text);
    tu_write_file(dir, "queued.status.json",
                  "{\"report_id\": \"queued\", \"status\": \"Pending\"}\n");
    tu_write_file(dir, "junk.status.json", "not json at all");
    return 0;
}

static int suite_clean(void)
{
    close(log_pipe[0]);
    close(log_pipe[1]);
    return 0;
}

static void test_health_and_routes(void)
{
    struct up_serve *s = start(NULL, 4);
    struct answer a;
    char v[256];
    int port;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    port = up_serve_port(s);
    CU_ASSERT(port > 0);
    CU_ASSERT_EQUAL_FATAL(ask(port, "GET", "/health", NULL, NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 200);
    CU_ASSERT(header(&a, "Content-Type", v, sizeof v) && strcmp(v, "application/json") == 0);
    answer_free(&a);

    /* Wrong methods: 405 naming the one allowed. */
    CU_ASSERT_EQUAL_FATAL(ask(port, "GET", "/trigger_report", NULL, NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 405);
    CU_ASSERT(header(&a, "Allow", v, sizeof v) && strcmp(v, "POST") == 0);
    answer_free(&a);
    CU_ASSERT_EQUAL_FATAL(ask(port, "DELETE", "/get_report/done", NULL, NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 405);
    CU_ASSERT(header(&a, "Allow", v, sizeof v) && strcmp(v, "GET, HEAD") == 0);
    answer_free(&a);

    /* Other paths: 404 with a JSON body. */
    CU_ASSERT_EQUAL_FATAL(ask(port, "GET", "/get_report", NULL, NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 404);
    CU_ASSERT(header(&a, "Content-Type", v, sizeof v) && strcmp(v, "application/json") == 0);
    CU_ASSERT(a.body && a.body[0] == '{');
    answer_free(&a);
    CU_ASSERT_EQUAL_FATAL(ask(port, "GET", "/", NULL, NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 404);
    answer_free(&a);
    up_serve_stop(s);
}

static void test_states(void)
{
    struct up_serve *s = start(NULL, 4);
    struct answer a;
    char v[256];
    int port;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    port = up_serve_port(s);

    /* Complete: the file's bytes, as an attachment named after the id. */
    CU_ASSERT_EQUAL_FATAL(ask(port, "GET", "/get_report/done", NULL, NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 200);
    CU_ASSERT(header(&a, "Content-Type", v, sizeof v) && strcmp(v, "text/csv") == 0);
    CU_ASSERT(header(&a, "Content-Disposition", v, sizeof v) &&
              strcmp(v, "attachment; filename=\"done.csv\"") == 0);
    CU_ASSERT(header(&a, "Content-Length", v, sizeof v) && strcmp(v, "45") == 0);
    CU_ASSERT_EQUAL(a.body_len, 45);
    CU_ASSERT(a.body && strcmp(a.body, "store_id,uptime_last_hour(in minutes)\r\nA,60\r\n") == 0);
    answer_free(&a);

    /* Failed: the reason, JSON-escaped. */
    CU_ASSERT_EQUAL_FATAL(ask(port, "GET", "/get_report/bad", NULL, NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 200);
    CU_ASSERT_STRING_EQUAL(
        a.body,
        "{\"status\": \"Failed\", \"error\": \"no such table: \\\"store_status\\\"\\nline 2\"}\n");
    answer_free(&a);

    /* Running: its rank 0 (this process) is alive. Pending as written. */
    CU_ASSERT_EQUAL_FATAL(ask(port, "GET", "/get_report/busy", NULL, NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 200);
    CU_ASSERT_STRING_EQUAL(a.body, "{\"status\": \"Running\"}\n");
    answer_free(&a);
    CU_ASSERT_EQUAL_FATAL(ask(port, "GET", "/get_report/queued", NULL, NULL, &a), 0);
    CU_ASSERT_STRING_EQUAL(a.body, "{\"status\": \"Pending\"}\n");
    answer_free(&a);

    /* Running on paper, but its process is gone: Failed, with the pid. */
    CU_ASSERT_EQUAL_FATAL(ask(port, "GET", "/get_report/gone", NULL, NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 200);
    CU_ASSERT(a.body && strstr(a.body, "\"status\": \"Failed\"") &&
              strstr(a.body, "no longer running"));
    answer_free(&a);

    /* Unknown: 404; an unreadable status file: 500 naming it. */
    CU_ASSERT_EQUAL_FATAL(ask(port, "GET", "/get_report/nosuchid", NULL, NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 404);
    CU_ASSERT(a.body && strstr(a.body, "unknown report id 'nosuchid'"));
    answer_free(&a);
    CU_ASSERT_EQUAL_FATAL(ask(port, "GET", "/get_report/junk", NULL, NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 500);
    CU_ASSERT(a.body && strstr(a.body, "junk.status.json"));
    answer_free(&a);
    up_serve_stop(s);
}

static void test_hostile_ids(void)
{
    static const char *const bad[] = {
        "..%2F..%2Fetc%2Fpasswd", "..%2f..%2fetc%2fpasswd", "%2E%2E", "..", "a%00b", "a%2Fb",
        "a.csv", "a%20b", "%",
        /* 65 characters: one too many */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    struct up_serve *s = start(NULL, 4);
    struct answer a;
    char path[256];
    size_t i;
    int port;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    port = up_serve_port(s);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/get_report/%s", bad[i]);
        CU_ASSERT_EQUAL_FATAL(ask(port, "GET", path, NULL, NULL, &a), 0);
        if (a.code != 400)
            fprintf(stderr, "\n  id '%s': %d\n", bad[i], a.code);
        CU_ASSERT_EQUAL(a.code, 400);
        CU_ASSERT(a.body && strstr(a.body, "malformed report id"));
        answer_free(&a);
    }
    /* Percent-encoded letters of the alphabet are the id they spell; 64 characters fit. */
    CU_ASSERT_EQUAL_FATAL(ask(port, "GET", "/get_report/%64%6Fne", NULL, NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 200);
    CU_ASSERT_EQUAL(a.body_len, 45);
    answer_free(&a);
    CU_ASSERT_EQUAL_FATAL(
        ask(port, "GET",
            "/get_report/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL,
            NULL, &a),
        0);
    CU_ASSERT_EQUAL(a.code, 404);
    answer_free(&a);
    up_serve_stop(s);
}

static void test_token(void)
{
    struct up_serve *s = start(TOKEN, 4);
    struct answer a;
    char v[256];
    int port;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    port = up_serve_port(s);
    CU_ASSERT_EQUAL_FATAL(ask(port, "GET", "/get_report/done", NULL, NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 401);
    CU_ASSERT(header(&a, "WWW-Authenticate", v, sizeof v) && strncmp(v, "Bearer", 6) == 0);
    CU_ASSERT(a.body && !strstr(a.body, "A,60"));
    answer_free(&a);
    CU_ASSERT_EQUAL_FATAL(
        ask(port, "GET", "/get_report/done", "Authorization: Bearer s3cret-Token_2\r\n", NULL, &a),
        0);
    CU_ASSERT_EQUAL(a.code, 401);
    answer_free(&a);
    CU_ASSERT_EQUAL_FATAL(
        ask(port, "GET", "/get_report/done", "Authorization: Bearer " TOKEN "x\r\n", NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 401);
    answer_free(&a);
    CU_ASSERT_EQUAL_FATAL(ask(port, "POST", "/trigger_report", NULL, NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 401);
    answer_free(&a);
    CU_ASSERT_EQUAL_FATAL(
        ask(port, "GET", "/get_report/done", "Authorization: Bearer " TOKEN "\r\n", NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 200);
    CU_ASSERT_EQUAL(a.body_len, 45);
    answer_free(&a);
    up_serve_stop(s);
}

static void test_trigger_bodies(void)
{
    static const char *const bad[] = {"[1]",
                                      "{\"now\": 5}",
                                      "{\"ranks\": 4}",
                                      "{\"now\": \"yesterday\"}",
                                      "{\"now\": \"2023-01-25 18:13:22 UTC\", \"now\": null}",
                                      "{"};
    struct up_serve *s = start(NULL, 4);
    struct answer a;
    char big[400];
    size_t i;
    int port;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    port = up_serve_port(s);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL_FATAL(ask(port, "POST", "/trigger_report", NULL, bad[i], &a), 0);
        if (a.code != 400)
            fprintf(stderr, "\n  body '%s': %d\n", bad[i], a.code);
        CU_ASSERT_EQUAL(a.code, 400);
        answer_free(&a);
    }
    /* Beyond max_body (256 here): 413, nothing started. */
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = '{';
    big[sizeof big - 2] = '}';
    CU_ASSERT_EQUAL_FATAL(ask(port, "POST", "/trigger_report", NULL, big, &a), 0);
    CU_ASSERT_EQUAL(a.code, 413);
    answer_free(&a);
    up_serve_stop(s);
}

/* "busy" and "queued" count as running: with room for 2, a trigger gets 429. */
static void test_too_many(void)
{
    struct up_serve *s = start(NULL, 2);
    struct answer a;
    char v[64];

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL_FATAL(ask(up_serve_port(s), "POST", "/trigger_report", NULL, NULL, &a), 0);
    CU_ASSERT_EQUAL(a.code, 429);
    CU_ASSERT(header(&a, "Retry-After", v, sizeof v) && atoi(v) > 0);
    CU_ASSERT(a.body && strstr(a.body, "at most 2 at once"));
    answer_free(&a);
    up_serve_stop(s);
}

/* One access-log line per request: client, method, path, code, bytes. */
static void test_access_log(void)
{
    struct up_serve *s;
    struct answer a;
    char buf[8192];
    ssize_t n;
    int fl;

    /* Drop what earlier tests logged. */
    fl = fcntl(log_pipe[0], F_GETFL);
    fcntl(log_pipe[0], F_SETFL, fl | O_NONBLOCK);
    while (read(log_pipe[0], buf, sizeof buf) > 0)
        ;
    s = start(NULL, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL_FATAL(ask(up_serve_port(s), "GET", "/get_report/done", NULL, NULL, &a), 0);
    answer_free(&a);
    CU_ASSERT_EQUAL_FATAL(ask(up_serve_port(s), "GET", "/get_report/..", NULL, NULL, &a), 0);
    answer_free(&a);
    up_serve_stop(s);
    n = read(log_pipe[0], buf, sizeof buf - 1);
    CU_ASSERT_FATAL(n > 0);
    buf[n > 0 ? n : 0] = '\0';
    CU_ASSERT(strstr(buf, " 127.0.0.1 \"GET /get_report/done\" 200 45 ") != NULL);
    CU_ASSERT(strstr(buf, " 127.0.0.1 \"GET /get_report/..\" 400 ") != NULL);
    CU_ASSERT_EQUAL(strchr(strchr(buf, '\n') + 1, '\n')[1], '\0');
    fcntl(log_pipe[0], F_SETFL, fl);
}

int test_serve_add(void)
{
    CU_pSuite s = CU_add_suite("serve", suite_init, suite_clean);

    if (!s || !CU_add_test(s, "health, 405 with Allow, 404 elsewhere", test_health_and_routes) ||
        !CU_add_test(s, "Complete, Failed, Running, Pending, dead, unknown, broken", test_states) ||
        !CU_add_test(s, "hostile and percent-encoded ids", test_hostile_ids) ||
        !CU_add_test(s, "bearer token", test_token) ||
        !CU_add_test(s, "trigger bodies: 400 and 413", test_trigger_bodies) ||
        !CU_add_test(s, "the running limit: 429 with Retry-After", test_too_many) ||
        !CU_add_test(s, "one access-log line per request", test_access_log))
        return CU_get_error();
    return CUE_SUCCESS;
}
