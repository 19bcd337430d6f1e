/*
 * The original service's HTTP API over the batch job (docs/http.md): POST /trigger_report
 * starts a run through up_lifecycle, GET /get_report/{id} answers from up_lifecycle_state
 * (the CSV streamed from its file), GET /health. A libmicrohttpd server: a pool of
 * threads that never block serves the connections; a trigger or a Slurm query is answered
 * on a thread of its own while its connection waits suspended; every wait bounded. The only module
 * of the serve layer; it uses output, time and util.
 */
#ifndef UP_SERVE_H
#define UP_SERVE_H

#include <stddef.h>
#include "up_error.h"
#include "up_lifecycle.h"

/* The original's address. */
#define UP_SERVE_LISTEN_DEFAULT "127.0.0.1:8000"

/* The server's configuration; strings are the caller's and must outlive the server. */
struct up_serve_config {
    const char *listen;       /* "ADDR:PORT" or "[ADDR6]:PORT"; port 0: an ephemeral one */
    const char *token;        /* NULL: no authentication; else every request needs
                                 "Authorization: Bearer <token>" */
    unsigned max_connections; /* open connections in all */
    unsigned threads;         /* the pool's threads; 0: one per online CPU */
    unsigned max_per_client;  /* open connections per client address */
    unsigned timeout_s;       /* an idle connection is closed after this many seconds */
    size_t max_body;          /* request body cap in bytes (413 beyond) */
    int max_running;          /* reports Pending or Running at once (429 beyond) */
    int grace_s;              /* on SIGTERM/SIGINT, in-flight responses get this long */
    int quiet;                /* no start-up and shutdown lines */
    int access_fd;            /* the access log: one line per request (default 1) */
    struct up_trigger run;    /* how runs start: slurm, ranks, source, reports_dir, home,
                                 program, ctl, mpiexec, time_min, nodes, partition;
                                 now and report_id are per request */
};

/* Fills c with the defaults (listen UP_SERVE_LISTEN_DEFAULT, 512 connections, 256 per
 * client, 10 s timeout, 4096-byte bodies, 4 reports at once, 30 s grace, access log on
 * stdout); run is zeroed but for 2 ranks. */
void up_serve_defaults(struct up_serve_config *c);

/*
 * Reads a bearer token from the first line of path into out[n] (trailing whitespace
 * dropped). Returns UP_OK; UP_EUSAGE when the file cannot be read, the token is empty,
 * holds a control character or a space, or does not fit; err says why. A file readable by
 * others only gives a warning on stderr.
 */
enum up_code up_serve_read_token(const char *path, char *out, size_t n, char *err,
                                 size_t errlen) UP_WARN_UNUSED;

struct up_serve;

/*
 * Binds c->listen and starts serving. Refuses a non-loopback address without a token
 * (UP_EUSAGE). The reports folder is created if missing; the reports already Pending or
 * Running in it count towards max_running. Returns UP_OK with *out the server; UP_EUSAGE
 * (bad address or option), UP_EIO (cannot bind, reports folder), UP_ENOMEM, UP_EFAIL
 * (libmicrohttpd refused to start); err says why.
 */
enum up_code up_serve_start(const struct up_serve_config *c, struct up_serve **out, char *err,
                            size_t errlen) UP_WARN_UNUSED;

/* The port the server listens on (the ephemeral one when 0 was asked). */
int up_serve_port(const struct up_serve *s);

/* Housekeeping, to call about every second: reaps the local launchers it started. */
void up_serve_tick(struct up_serve *s);

/* Stops accepting, gives in-flight requests up to grace_s seconds, stops and frees s
 * (NULL is fine). Running reports are detached processes: they go on. */
void up_serve_stop(struct up_serve *s);

/*
 * Start, serve until SIGTERM or SIGINT (ignoring SIGPIPE's default for the sockets), stop.
 * The signal handlers are installed here and are reset in every program the server starts.
 * Returns UP_OK after a signal, or up_serve_start's code.
 */
enum up_code up_serve_run(const struct up_serve_config *c, char *err, size_t errlen) UP_WARN_UNUSED;

#endif
