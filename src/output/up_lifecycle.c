#include "up_lifecycle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "up_clock.h"
#include "up_source.h"
#include "up_time.h"

/* Output of scontrol or sbatch kept (their answers are a few hundred bytes). */
#define CAPTURE_MAX 65536
/* sbatch and scontrol get this long (seconds) before they are killed; $UPTIME_SLURM_TIMEOUT
 * overrides it. Slurm's own MessageTimeout is 10 s, and a client retries a few times. */
#define SLURM_CMD_TIMEOUT_S 60
/* The jobcomp file is read from its end: a job's line is among the last ones. */
#define JOBCOMP_TAIL (4 * 1024 * 1024)

/* 1 if snprintf's result n means a whole output in size bytes. */
static int fits(int n, size_t size)
{
    return n >= 0 && (size_t)n < size;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

static void hostname(char *buf, size_t n)
{
    if (gethostname(buf, n) != 0)
        snprintf(buf, n, "unknown");
    buf[n - 1] = '\0';
}

/* ---- Processes ---- */

/* The start time of pid (/proc/PID/stat field 22) into out, "" if it is gone or a
 * zombie. */
static void proc_start(long pid, char *out, size_t n)
{
    char path[64], buf[1024], *p, *field;
    FILE *f;
    size_t len;
    int i;

    out[0] = '\0';
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return;
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    /* The command name may hold spaces and parentheses: fields start after the last ')'. */
    p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return;
    p += 2;
    if (*p == 'Z' || *p == 'X')
        return;
    for (i = 3; i < 22 && p; i++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    if (!p)
        return;
    field = p;
    len = strcspn(field, " ");
    if (len == 0 || len >= n)
        return;
    memcpy(out, field, len);
    out[len] = '\0';
}

/* 1 if pid runs and, when want is not "", started at want. */
static int pid_alive(long pid, const char *want)
{
    char got[32];

    if (pid <= 0)
        return 0;
    proc_start(pid, got, sizeof got);
    return got[0] && (!want[0] || strcmp(want, got) == 0);
}

static void self_proc(struct up_proc_id *p, long pid)
{
    p->pid = pid;
    proc_start(pid, p->start, sizeof p->start);
}

/* Seconds a Slurm command may take: $UPTIME_SLURM_TIMEOUT (1-86400) or the default. */
static int command_timeout_s(void)
{
    const char *v = getenv("UPTIME_SLURM_TIMEOUT");
    char *end;
    long t;

    if (!v || !*v)
        return SLURM_CMD_TIMEOUT_S;
    errno = 0;
    t = strtol(v, &end, 10);
    return *end || errno || t < 1 || t > 86400 ? SLURM_CMD_TIMEOUT_S : (int)t;
}

/*
 * Runs argv with stdin from /dev/null and stdout (and stderr when with_err) into out[n]
 * (terminated, the rest dropped); in env when it is not NULL (argv[0] then a path), else in
 * this process's environment. The command runs in its own process group and gets
 * command_timeout_s(): then the group is sent SIGTERM, and SIGKILL 2 s later. Returns the
 * exit status as the shell gives it (128 + signal); -1 when it could not be started or
 * timed out, with the reason in out.
 */
static int run_capture_env(char *const argv[], char *const env[], int with_err, char *out, size_t n)
{
    int fds[2], status = 0, limit_s = command_timeout_s(), timed_out = 0;
    int64_t deadline, killed_at = 0;
    size_t used = 0;
    pid_t pid;

    out[0] = '\0';
    if (pipe(fds) != 0) {
        snprintf(out, n, "pipe: %s", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(out, n, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        setpgid(0, 0);
        if (null >= 0) {
            dup2(null, 0);
            if (!with_err)
                dup2(null, 2);
        }
        dup2(fds[1], 1);
        if (with_err)
            dup2(fds[1], 2);
        close(fds[0]);
        if (env)
            execve(argv[0], argv, env);
        else
            execvp(argv[0], argv);
        fprintf(stdout, "cannot run %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); /* both sides: the group exists before either goes on */
    close(fds[1]);
    deadline = up_now_us() + (int64_t)limit_s * 1000000;
    for (;;) {
        char chunk[4096];
        struct pollfd pf = {.fd = fds[0], .events = POLLIN};
        int64_t now = up_now_us(), left = (killed_at ? killed_at + 2000000 : deadline) - now;
        ssize_t r;
        int p;

        if (left <= 0) {
            if (killed_at)
                break; /* SIGKILLed: whatever still holds the pipe open is not ours to wait on */
            timed_out = 1;
            killed_at = now;
            kill(-pid, SIGTERM);
            continue;
        }
        p = poll(&pf, 1, (int)(left / 1000 + 1));
        if (p < 0 && errno == EINTR)
            continue;
        if (p < 0)
            break;
        if (p == 0)
            continue;
        r = read(fds[0], chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (used + 1 < n) {
            size_t k = (size_t)r < n - 1 - used ? (size_t)r : n - 1 - used;
            memcpy(out + used, chunk, k);
            used += k;
        }
    }
    out[used] = '\0';
    close(fds[0]);
    if (killed_at)
        kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (timed_out) {
        snprintf(out, n,
                 "%s did not answer within %d s (killed; $UPTIME_SLURM_TIMEOUT sets the limit)",
                 argv[0], limit_s);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_capture(char *const argv[], int with_err, char *out, size_t n)
{
    return run_capture_env(argv, NULL, with_err, out, n);
}

static const char *signal_name(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {{SIGHUP, "HUP"},   {SIGINT, "INT"},   {SIGQUIT, "QUIT"}, {SIGILL, "ILL"},
                 {SIGABRT, "ABRT"}, {SIGBUS, "BUS"},   {SIGFPE, "FPE"},   {SIGKILL, "KILL"},
                 {SIGUSR1, "USR1"}, {SIGSEGV, "SEGV"}, {SIGUSR2, "USR2"}, {SIGPIPE, "PIPE"},
                 {SIGALRM, "ALRM"}, {SIGTERM, "TERM"}, {SIGXCPU, "XCPU"}};
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig)
            return names[i].name;
    return NULL;
}

/* Removes dir/.<id>.csv.tmp.XXXXXX, the partial CSV of a run that did not finish
 * (unlink never follows a symlink). */
static void remove_partial(const char *dir, const char *id)
{
    char prefix[UP_REPORT_ID_MAX + 16], path[PATH_MAX];
    size_t k = (size_t)snprintf(prefix, sizeof prefix, ".%s.csv.tmp.", id);
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        int n;
        if (strncmp(e->d_name, prefix, k) != 0 || strlen(e->d_name) != k + 6)
            continue;
        n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (n > 0 && (size_t)n < sizeof path)
            unlink(path);
    }
    closedir(d);
}

/* ---- Starting a run ---- */

/* mkdir -p. Returns 0 or -1 (errno set). */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX], *p;
    int n = snprintf(buf, sizeof buf, "%s", path);

    if (n < 0 || (size_t)n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

/* 1 if name is an executable file in $PATH (or a path to one); its path goes to buf[n]. */
static int in_path(const char *name, char *buf, size_t n)
{
    const char *path = getenv("PATH"), *p;

    if (strchr(name, '/'))
        return fits(snprintf(buf, n, "%s", name), n) && access(name, X_OK) == 0;
    for (p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t k = strcspn(p, ":");
        int r = snprintf(buf, n, "%.*s/%s", (int)k, k ? p : ".", name);
        if (fits(r, n) && access(buf, X_OK) == 0)
            return 1;
        p += k + (p[k] == ':');
    }
    return 0;
}

/* The run's environment: this process's, with UPTIME_DB, UPTIME_HOME, UPTIME_REPORT and
 * UPTIME_CTL replaced. Built before fork, so that neither this process's environment is
 * changed (setenv is unsafe beside other threads, e.g. in the HTTP server) nor the child
 * allocates. NULL when out of memory; freed with env_free. */
static const char *const run_vars[] = {"UPTIME_DB", "UPTIME_HOME", "UPTIME_REPORT", "UPTIME_CTL"};
#define N_RUN_VARS (sizeof run_vars / sizeof run_vars[0])

static void env_free(char **env)
{
    size_t i;

    if (!env)
        return;
    for (i = 0; i < N_RUN_VARS; i++)
        free(env[i]);
    free(env);
}

static char **env_for_run(const char *const values[N_RUN_VARS])
{
    extern char **environ;
    size_t n = 0, k, i, j;
    char **env;

    while (environ && environ[n])
        n++;
    /* Our own variables first (env[0..3], freed by env_free), then the others. */
    env = calloc(n + N_RUN_VARS + 1, sizeof *env);
    if (!env)
        return NULL;
    for (i = 0; i < N_RUN_VARS; i++) {
        size_t len = strlen(run_vars[i]) + strlen(values[i]) + 2;
        env[i] = malloc(len);
        if (!env[i]) {
            env_free(env);
            return NULL;
        }
        snprintf(env[i], len, "%s=%s", run_vars[i], values[i]);
    }
    for (k = N_RUN_VARS, j = 0; j < n; j++) {
        int ours = 0;
        for (i = 0; i < N_RUN_VARS; i++) {
            size_t l = strlen(run_vars[i]);
            ours |= strncmp(environ[j], run_vars[i], l) == 0 && environ[j][l] == '=';
        }
        if (!ours)
            env[k++] = environ[j];
    }
    env[k] = NULL;
    return env;
}

/* A growable argv, capped: the trigger's command lines have a known, small shape. */
struct argv_buf {
    char *v[96];
    char num[4][24]; /* numbers formatted for v */
    size_t n, nums;
};

static int add(struct argv_buf *a, const char *s)
{
    if (a->n + 1 >= sizeof a->v / sizeof a->v[0])
        return -1;
    a->v[a->n++] = (char *)s;
    a->v[a->n] = NULL;
    return 0;
}

static int add_num(struct argv_buf *a, long v)
{
    if (a->nums >= sizeof a->num / sizeof a->num[0])
        return -1;
    snprintf(a->num[a->nums], sizeof a->num[0], "%ld", v);
    return add(a, a->num[a->nums++]);
}

/* The local launcher: the wrapper (jobs/trigger_report --run-local, which sets up Open MPI's
 * environment) detached in a session of its own, its output in the log. Returns its pid,
 * or -1 (errno set). */
static pid_t start_wrapper(char *const argv[], char *const env[], const char *log)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    /* setsid: the terminal's hang-up or Ctrl-C does not reach the run; SIGHUP ignored as
     * nohup does. */
    setsid();
    signal(SIGHUP, SIG_IGN);
    {
        int null = open("/dev/null", O_RDONLY);
        /* A new id's log: created exclusively, never through a planted name or symlink. */
        int out = open(log, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
        if (null < 0 || out < 0)
            _exit(127);
        dup2(null, 0);
        dup2(out, 1);
        dup2(out, 2);
        close(null);
        close(out);
    }
    execve(argv[0], argv, env);
    fprintf(stderr, "trigger_report: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* The job id in sbatch --parsable's answer ("123" or "123;cluster", after any warning
 * lines): the last line, up to ';'. */
static void parse_job_id(char *out)
{
    size_t n = strlen(out);
    char *line;

    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    line = strrchr(out, '\n');
    line = line ? line + 1 : out;
    memmove(out, line, strlen(line) + 1);
    out[strcspn(out, ";")] = '\0';
}

/* Submits the batch job (status Pending written, lock held) as sbatch (its path) in env;
 * records its id or Failed. */
static enum up_code submit_slurm(const struct up_trigger *t, struct up_status *st, const char *dir,
                                 const char *id, const char *log, const char *sbatch,
                                 char *const env[], char *err, size_t errlen)
{
    struct argv_buf a = {{0}, {{0}}, 0, 0};
    char name[UP_REPORT_ID_MAX + 16], script[PATH_MAX], out[CAPTURE_MAX], why[1024];
    size_t i;
    int bad = 0, code;

    snprintf(name, sizeof name, "uptime-%s", id);
    if (!fits(snprintf(script, sizeof script, "%s/slurm/uptime_report.sbatch", t->home),
              sizeof script)) {
        snprintf(err, errlen, "project folder path too long: %s", t->home);
        return UP_EUSAGE;
    }
    bad |= add(&a, sbatch) | add(&a, "--parsable") | add(&a, "--job-name") | add(&a, name);
    bad |= add(&a, "--ntasks") | add_num(&a, t->ranks) | add(&a, "--time");
    bad |= add_num(&a, t->time_min > 0 ? t->time_min : 30);
    bad |= add(&a, "--output") | add(&a, log) | add(&a, "--error") | add(&a, log);
    bad |= add(&a, "--chdir") | add(&a, dir);
    /* Names only: the values (the source among them) stay out of every command line. */
    bad |= add(&a, "--export") | add(&a, "ALL,UPTIME_DB,UPTIME_HOME,UPTIME_REPORT,UPTIME_CTL");
    if (t->nodes > 0)
        bad |= add(&a, "--nodes") | add_num(&a, t->nodes);
    if (t->partition)
        bad |= add(&a, "--partition") | add(&a, t->partition);
    for (i = 0; i < t->n_sbatch_args; i++)
        bad |= add(&a, t->sbatch_args[i]);
    bad |= add(&a, script) | add(&a, "--reports-dir") | add(&a, dir);
    bad |= add(&a, "--report-id") | add(&a, id);
    if (t->now)
        bad |= add(&a, "--now") | add(&a, t->now);
    if (bad) {
        snprintf(err, errlen, "too many sbatch options");
        return UP_EUSAGE;
    }
    code = run_capture_env(a.v, env, 1, out, sizeof out);
    if (code != 0) {
        size_t k = strlen(out);
        while (k > 0 && (out[k - 1] == '\n' || out[k - 1] == '\r'))
            out[--k] = '\0';
        snprintf(why, sizeof why, "sbatch failed: %s", out);
        if (up_status_fail(st, why, err, errlen) != UP_OK)
            fprintf(stderr, "trigger_report: warning: %s\n", err);
        snprintf(err, errlen, "report %s: %s", id, why);
        return UP_EFAIL;
    }
    parse_job_id(out);
    return up_status_slurm_job(st, out, err, errlen);
}

enum up_code up_lifecycle_trigger(const struct up_trigger *t, char id_out[UP_REPORT_ID_MAX + 1],
                                  char *err, size_t errlen)
{
    char dir[PATH_MAX], source[PATH_MAX + 16], log[PATH_MAX], path[PATH_MAX], host[256];
    char wrapper[PATH_MAX], sbatch[PATH_MAX];
    const char *values[N_RUN_VARS];
    char **env = NULL;
    struct up_status *st = NULL;
    struct up_submit sub;
    struct up_proc_id w;
    enum up_code rc;
    int i;

    if (t->now) {
        /* Refused here, not found out by the run ("killed or crashed") later. */
        int64_t us;
        const char *why = NULL;
        if (up_parse_timestamp(t->now, strlen(t->now), &us, &why) != 0) {
            snprintf(err, errlen, "invalid --now '%s': %s", t->now, why);
            return UP_EUSAGE;
        }
    }
    if (t->report_id) {
        if (!up_report_id_valid(t->report_id)) {
            snprintf(err, errlen, "malformed report id '%s': expected " UP_REPORT_ID_RULE,
                     t->report_id);
            return UP_EUSAGE;
        }
        snprintf(id_out, UP_REPORT_ID_MAX + 1, "%s", t->report_id);
    } else {
        char uuid[37];
        up_report_new_id(uuid);
        snprintf(id_out, UP_REPORT_ID_MAX + 1, "%s", uuid);
    }
    if (t->slurm) {
        if (!in_path("sbatch", sbatch, sizeof sbatch)) {
            snprintf(err, errlen, "sbatch not found (install slurm-wlm)");
            return UP_EFAIL;
        }
        /* sbatch itself would retry a missing configuration file for a minute. */
        if (getenv("SLURM_CONF") && access(getenv("SLURM_CONF"), R_OK) != 0) {
            snprintf(err, errlen, "SLURM_CONF=%s is not readable", getenv("SLURM_CONF"));
            return UP_EFAIL;
        }
    }
    if (access(t->program, X_OK) != 0) {
        snprintf(err, errlen, "%s is not built (run scripts/build.sh, or set UPTIME_REPORT)",
                 t->program);
        return UP_EFAIL;
    }
    if (make_dirs(t->reports_dir) != 0 || !realpath(t->reports_dir, dir)) {
        snprintf(err, errlen, "cannot create reports folder %s: %s", t->reports_dir,
                 strerror(errno));
        return UP_EFAIL;
    }
    if (access(dir, W_OK) != 0) {
        snprintf(err, errlen, "reports folder %s is not writable", dir);
        return UP_EFAIL;
    }
    /* The run may start in another folder, or on another node: a path made absolute; a
     * PostgreSQL source as it is. It travels in the environment only. */
    if (up_source_absolute(t->source, source, sizeof source) != 0) {
        snprintf(err, errlen, "the source is too long, or the working folder unreadable");
        return UP_EUSAGE;
    }
    if (!fits(snprintf(log, sizeof log, "%s/%s.log", dir, id_out), sizeof log) ||
        !fits(snprintf(path, sizeof path, "%s/%s.csv", dir, id_out), sizeof path)) {
        snprintf(err, errlen, "reports folder path too long: %s", dir);
        return UP_EUSAGE;
    }
    values[0] = source;
    values[1] = t->home;
    values[2] = t->program;
    values[3] = t->ctl;
    env = env_for_run(values);
    if (!env) {
        snprintf(err, errlen, "out of memory");
        return UP_ENOMEM;
    }
    hostname(host, sizeof host);

    /* Held until every field of ours is written: the wrapper and the batch script wait
     * for it before they start the job. */
    rc = up_status_open(dir, id_out, &st, err, errlen);
    if (rc != UP_OK) {
        env_free(env);
        return rc == UP_ENOMEM ? rc : UP_EFAIL;
    }
    if (up_status_info(st)->exists || access(path, F_OK) == 0) {
        up_status_close(st);
        env_free(env);
        snprintf(err, errlen, "report id '%s' is already used in %s", id_out, dir);
        return UP_EUSAGE;
    }
    sub.launcher = t->slurm ? UP_LAUNCHER_SLURM : UP_LAUNCHER_LOCAL;
    sub.ranks = t->ranks;
    sub.source = source;
    sub.now = t->now;
    sub.log = log;
    sub.host = host;
    rc = up_status_submitted(st, &sub, err, errlen);
    if (rc != UP_OK)
        goto out;
    if (t->slurm) {
        rc = submit_slurm(t, st, dir, id_out, log, sbatch, env, err, errlen);
        goto out;
    }
    {
        struct argv_buf a = {{0}, {{0}}, 0, 0};
        int bad = 0;
        bad |= !fits(snprintf(wrapper, sizeof wrapper, "%s/jobs/trigger_report", t->home),
                     sizeof wrapper);
        bad |= add(&a, wrapper) | add(&a, "--run-local") | add(&a, "--reports-dir") | add(&a, dir) |
               add(&a, "--report-id") | add(&a, id_out) | add(&a, "--");
        bad |= add(&a, t->mpiexec ? t->mpiexec : "mpirun") | add(&a, "-n") | add_num(&a, t->ranks) |
               add(&a, t->program);
        bad |= add(&a, "--reports-dir") | add(&a, dir) | add(&a, "--report-id") | add(&a, id_out);
        if (t->now)
            bad |= add(&a, "--now") | add(&a, t->now);
        w.pid = bad ? -1 : start_wrapper(a.v, env, log);
        if (w.pid < 0) {
            char why[PATH_MAX + 64], e[256];
            snprintf(why, sizeof why, "cannot start %s: %s", wrapper,
                     bad ? "command line too long" : strerror(errno));
            if (up_status_fail(st, why, e, sizeof e) != UP_OK)
                fprintf(stderr, "trigger_report: warning: %s\n", e);
            snprintf(err, errlen, "%s", why);
            rc = UP_EFAIL;
            goto out;
        }
        self_proc(&w, w.pid);
        rc = up_status_wrapper(st, &w, err, errlen);
    }
out:
    up_status_close(st);
    env_free(env);
    if (rc != UP_OK || t->slurm)
        return rc;
    /* The wrapper records mpirun's pid as soon as it has the lock (some 50 ms): wait for
     * it, so that the status file names the pid when the trigger returns. */
    for (i = 0; i < 250; i++) {
        struct up_status_info in;
        char e[256];
        if (up_status_read(dir, id_out, &in, e, sizeof e) == UP_OK && in.mpirun.pid > 0)
            break;
        if (!pid_alive(w.pid, w.start))
            break;
        sleep_ms(20);
    }
    return UP_OK;
}

/* ---- The local wrapper ---- */

int up_lifecycle_run_local(const char *dir, const char *id, char *const argv[], char *err,
                           size_t errlen)
{
    struct up_status *st = NULL;
    struct up_status_info in;
    struct up_proc_id m, w;
    char host[256], why[1024];
    int go[2], status = 0, rc, i;
    pid_t pid;

    /* Waits until the trigger has written its fields. */
    if (up_status_open(dir, id, &st, err, errlen) != UP_OK)
        return -1;
    if (pipe(go) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        up_status_close(st);
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        char c;
        /* mpirun starts only once its pid is recorded (it may end at once). */
        close(go[1]);
        if (read(go[0], &c, 1) != 1)
            _exit(1);
        close(go[0]);
        execvp(argv[0], argv);
        fprintf(stderr, "trigger_report: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(go[0]);
    if (pid < 0) {
        snprintf(why, sizeof why, "cannot start %s: %s", argv[0], strerror(errno));
        close(go[1]);
        if (up_status_fail(st, why, err, errlen) != UP_OK)
            fprintf(stderr, "trigger_report: warning: %s\n", err);
        up_status_close(st);
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    self_proc(&m, pid);
    self_proc(&w, (long)getpid());
    if (up_status_launched(st, &m, &w, err, errlen) != UP_OK)
        fprintf(stderr, "trigger_report: warning: %s\n", err);
    up_status_close(st);
    st = NULL;
    if (write(go[1], "g", 1) != 1)
        fprintf(stderr, "trigger_report: cannot start %s: %s\n", argv[0], strerror(errno));
    close(go[1]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

    /* A rank 0 that outlives mpirun (SIGKILL of mpirun alone) may still write: let it
     * end (10 s at most). */
    hostname(host, sizeof host);
    if (up_status_read(dir, id, &in, err, errlen) == UP_OK && in.rank0_pid > 0 &&
        strcmp(in.rank0_host, host) == 0)
        for (i = 0; i < 100 && pid_alive(in.rank0_pid, ""); i++)
            sleep_ms(100);

    if (up_status_open(dir, id, &st, err, errlen) != UP_OK)
        return -1;
    in = *up_status_info(st);
    if (rc != 0 || in.state != UP_STATE_COMPLETE) {
        if (in.state != UP_STATE_FAILED && in.state != UP_STATE_COMPLETE) {
            const char *sig = rc > 128 ? signal_name(rc - 128) : NULL;
            if (rc > 128 && sig)
                snprintf(why, sizeof why, "killed (mpirun pid %ld ended by signal %s)", (long)pid,
                         sig);
            else if (rc > 128)
                snprintf(why, sizeof why, "killed (mpirun pid %ld ended by signal %d)", (long)pid,
                         rc - 128);
            else if (rc != 0)
                snprintf(why, sizeof why,
                         "killed or crashed: mpirun (pid %ld) exited with code %d before the "
                         "job recorded a result (see %s/%s.log)",
                         (long)pid, rc, dir, id);
            else
                snprintf(why, sizeof why,
                         "mpirun (pid %ld) exited with code 0 but the job recorded no result "
                         "(see %s/%s.log)",
                         (long)pid, dir, id);
            if (up_status_fail(st, why, err, errlen) != UP_OK)
                fprintf(stderr, "trigger_report: warning: %s\n", err);
        }
        remove_partial(dir, id);
    }
    if (up_status_exit_code(st, rc, err, errlen) != UP_OK)
        fprintf(stderr, "trigger_report: warning: %s\n", err);
    printf("trigger_report: mpirun exited with code %d; status %s\n", rc,
           up_status_info(st)->status);
    up_status_close(st);
    return rc;
}

/* ---- The batch script's steps ---- */

enum up_code up_lifecycle_batch_start(const char *dir, const char *id, const struct up_batch *b,
                                      char *err, size_t errlen)
{
    struct up_status *st = NULL;
    enum up_code rc = up_status_open(dir, id, &st, err, errlen);

    if (rc == UP_OK) {
        const struct up_status_info *in = up_status_info(st);
        /* An id runs once: a job submitted again for an ended report (by hand, or queued by
         * an sbatch that timed out after the trigger had given up) does not run. */
        if (in->state == UP_STATE_COMPLETE || in->state == UP_STATE_FAILED) {
            snprintf(err, errlen, "report %s already ended (%s): a report id runs once", id,
                     in->status);
            rc = UP_EUSAGE;
        } else {
            rc = up_status_batch_running(st, b, err, errlen);
        }
    }
    up_status_close(st);
    return rc;
}

int up_lifecycle_batch_end(const char *dir, const char *id, int rc, int terminated,
                           const char *reason, char *err, size_t errlen)
{
    struct up_status *st = NULL;
    enum up_state s;
    char why[1024] = "";

    if (up_status_open(dir, id, &st, err, errlen) != UP_OK)
        return -1;
    s = up_status_info(st)->state;
    if (s != UP_STATE_COMPLETE && s != UP_STATE_FAILED) {
        if (reason && reason[0])
            snprintf(why, sizeof why, "%s", reason);
        else if (terminated)
            /* Cancelled, timed out or shut down: until this script ends Slurm shows the
             * job as COMPLETING, its final state (CANCELLED, TIMEOUT, ...) only after. The
             * status file keeps Running; get_report records that final state as the
             * reason. */
            fprintf(stderr, "uptime_report.sbatch: terminated by Slurm; jobs/get_report will "
                            "record why\n");
        else if (rc != 0)
            snprintf(why, sizeof why,
                     "job step (srun) exited with code %d before the job recorded a result "
                     "(see the job log)",
                     rc);
        else
            snprintf(why, sizeof why,
                     "job step (srun) exited with code 0 but the job recorded no result");
        if (why[0] && up_status_fail(st, why, err, errlen) != UP_OK)
            fprintf(stderr, "uptime_report.sbatch: warning: %s\n", err);
    }
    if (up_status_info(st)->state != UP_STATE_COMPLETE) {
        remove_partial(dir, id);
        if (rc == 0)
            rc = 1;
    }
    if (up_status_exit_code(st, rc, err, errlen) != UP_OK)
        fprintf(stderr, "uptime_report.sbatch: warning: %s\n", err);
    up_status_close(st);
    return rc;
}

/* ---- A report's state ---- */

/* The value of " KEY=" in a Slurm record line ("JobId=5 JobState=RUNNING ...") into out. */
static int slurm_field(const char *line, const char *key, char *out, size_t n)
{
    char pat[32];
    const char *p;
    size_t k;

    snprintf(pat, sizeof pat, "%s=", key);
    for (p = strstr(line, pat); p; p = strstr(p + 1, pat))
        if (p == line || p[-1] == ' ')
            break;
    if (!p)
        return 0;
    p += strlen(pat);
    k = strcspn(p, " \n");
    if (k >= n)
        k = n - 1;
    memcpy(out, p, k);
    out[k] = '\0';
    return 1;
}

/* The jobcomp file (jobcomp/filetxt) of the cluster, from "scontrol show config". */
static int jobcomp_file(char *out, size_t n)
{
    char *argv[] = {"scontrol", "show", "config", NULL};
    char buf[CAPTURE_MAX], *line;

    if (run_capture(argv, 0, buf, sizeof buf) != 0)
        return 0;
    /* "JobCompLoc              = /tmp/uptime-slurm/jobcomp.log" */
    for (line = buf; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char *p = line;
        size_t k;
        if (strncmp(p, "JobCompLoc", 10) != 0 || (p[10] != ' ' && p[10] != '='))
            continue;
        p += 10 + strspn(p + 10, " ");
        if (*p != '=')
            return 0;
        p += 1 + strspn(p + 1, " ");
        k = strcspn(p, " \n");
        if (k == 0 || k >= n)
            return 0;
        memcpy(out, p, k);
        out[k] = '\0';
        return 1;
    }
    return 0;
}

/* The last line of the jobcomp file about job jid into out. */
static int jobcomp_line(const char *file, const char *jid, char *out, size_t n)
{
    char pat[48], *buf = NULL, *p, *found = NULL;
    FILE *f = fopen(file, "r");
    long size;
    size_t len;

    if (!f)
        return 0;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > JOBCOMP_TAIL)
        fseek(f, size - JOBCOMP_TAIL, SEEK_SET);
    else
        fseek(f, 0, SEEK_SET);
    buf = malloc(JOBCOMP_TAIL + 1);
    if (!buf) {
        fclose(f);
        return 0;
    }
    len = fread(buf, 1, JOBCOMP_TAIL, f);
    fclose(f);
    buf[len] = '\0';
    snprintf(pat, sizeof pat, "JobId=%s ", jid);
    for (p = buf; (p = strstr(p, pat)) != NULL; p++)
        if (p == buf || p[-1] == '\n')
            found = p;
    if (found)
        snprintf(out, n, "%.*s", (int)strcspn(found, "\n"), found);
    free(buf);
    return found != NULL;
}

/* Slurm's state and exit code of job jid: from slurmctld while it keeps the job
 * (MinJobAge), else from the jobcomp file. Returns 0 when Slurm does not know it. */
static int slurm_job(const char *jid, char *state, size_t ns, char *code, size_t nc)
{
    char out[CAPTURE_MAX], loc[PATH_MAX];
    char *argv[] = {"scontrol", "-o", "show", "job", (char *)jid, NULL};

    snprintf(code, nc, "-");
    if (run_capture(argv, 0, out, sizeof out) == 0 && slurm_field(out, "JobState", state, ns)) {
        slurm_field(out, "ExitCode", code, nc);
        return 1;
    }
    if (jobcomp_file(loc, sizeof loc) && jobcomp_line(loc, jid, out, sizeof out) &&
        slurm_field(out, "JobState", state, ns)) {
        slurm_field(out, "ExitCode", code, nc);
        return 1;
    }
    return 0;
}

static int one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

/* Why a Slurm job that recorded no result ended. */
static void slurm_reason(const char *jid, const char *state, const char *code, char *out, size_t n)
{
    if (strcmp(state, "CANCELLED") == 0)
        snprintf(out, n, "cancelled (Slurm job %s CANCELLED)", jid);
    else if (strcmp(state, "TIMEOUT") == 0)
        snprintf(out, n, "time limit reached (Slurm job %s TIMEOUT)", jid);
    else if (strcmp(state, "NODE_FAIL") == 0)
        snprintf(out, n, "node failure (Slurm job %s NODE_FAIL)", jid);
    else if (strcmp(state, "OUT_OF_MEMORY") == 0)
        snprintf(out, n, "out of memory (Slurm job %s OUT_OF_MEMORY)", jid);
    else if (strcmp(state, "FAILED") == 0)
        snprintf(out, n, "Slurm job %s FAILED with exit code %s", jid, code);
    else if (strcmp(state, "COMPLETED") == 0)
        snprintf(out, n, "Slurm job %s COMPLETED without recording a result", jid);
    else
        snprintf(out, n, "Slurm job %s ended: %s (exit code %s)", jid, state, code);
}

/* 1 if a process of a local run is alive, or cannot be checked from here. */
static int local_alive(const struct up_status_info *in)
{
    const char *host = in->launcher == UP_LAUNCHER_LOCAL ? in->host : in->rank0_host;
    char me[256];

    /* Another machine's pids cannot be checked from here: trust the file. A report run by
     * hand (mpirun ... uptime_report) says where through rank0_host. */
    hostname(me, sizeof me);
    if (!host[0] || strcmp(host, me) != 0)
        return 1;
    if (in->launcher == UP_LAUNCHER_LOCAL) {
        if (pid_alive(in->wrapper.pid, in->wrapper.start))
            return 1;
        if (in->mpirun.pid > 0 && pid_alive(in->mpirun.pid, in->mpirun.start))
            return 1;
    }
    return in->rank0_pid > 0 && pid_alive(in->rank0_pid, "");
}

static void answer_from(const struct up_status_info *in, const char *dir, const char *id,
                        struct up_report_state *s)
{
    switch (in->state) {
    case UP_STATE_COMPLETE:
        s->answer = UP_ANSWER_COMPLETE;
        break;
    case UP_STATE_FAILED:
        s->answer = UP_ANSWER_FAILED;
        snprintf(s->error, sizeof s->error, "%s", in->error);
        break;
    case UP_STATE_PENDING:
        s->answer = UP_ANSWER_PENDING;
        break;
    case UP_STATE_RUNNING:
        s->answer = UP_ANSWER_RUNNING;
        break;
    case UP_STATE_NONE:
    case UP_STATE_OTHER:
        s->answer = UP_ANSWER_BROKEN;
        snprintf(s->error, sizeof s->error,
                 "status file %s/%s.status.json has no known status "
                 "('%s')",
                 dir, id, in->status);
        break;
    }
}

/* Records Failed (why) unless the job wrote its verdict meanwhile or, for a local run, a
 * process of it turned up (the trigger was between its writes); then answers from the
 * file. */
static void verdict(const char *dir, const char *id, const char *why, struct up_report_state *s)
{
    struct up_status *st = NULL;
    const struct up_status_info *in;
    char err[512];

    if (up_status_open(dir, id, &st, err, sizeof err) != UP_OK) {
        if (snprintf(s->warning, sizeof s->warning, "%s; the verdict is not recorded", err) < 0)
            s->warning[0] = '\0';
        s->answer = UP_ANSWER_FAILED;
        snprintf(s->error, sizeof s->error, "%s", why);
        return;
    }
    in = up_status_info(st);
    if ((in->state == UP_STATE_RUNNING || in->state == UP_STATE_PENDING) &&
        (in->launcher == UP_LAUNCHER_SLURM || !local_alive(in))) {
        if (up_status_fail(st, why, err, sizeof err) != UP_OK)
            if (snprintf(s->warning, sizeof s->warning, "could not record the verdict: %s", err) <
                0)
                s->warning[0] = '\0';
        remove_partial(dir, id);
    }
    answer_from(up_status_info(st), dir, id, s);
    if (s->answer == UP_ANSWER_FAILED && !s->error[0])
        snprintf(s->error, sizeof s->error, "%s", why);
    up_status_close(st);
}

enum up_code up_lifecycle_state(const char *dir, const char *id, struct up_report_state *s,
                                char *err, size_t errlen)
{
    struct up_status_info in;
    enum up_code rc;

    memset(s, 0, sizeof *s);
    rc = up_status_read(dir, id, &in, s->error, sizeof s->error);
    if (rc == UP_ENOMEM) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    if (rc != UP_OK) {
        s->answer = UP_ANSWER_BROKEN;
        return UP_OK;
    }
    return up_lifecycle_state_of(dir, id, &in, s, err, errlen);
}

enum up_code up_lifecycle_state_of(const char *dir, const char *id,
                                   const struct up_status_info *in, struct up_report_state *s,
                                   char *err, size_t errlen)
{
    char csv[PATH_MAX], why[512];

    (void)err;
    (void)errlen;
    memset(s, 0, sizeof *s);
    if (!in->exists) {
        /* A CSV published without a status file (copied in by hand) is complete. */
        snprintf(csv, sizeof csv, "%s/%s.csv", dir, id);
        s->answer = access(csv, F_OK) == 0 ? UP_ANSWER_COMPLETE : UP_ANSWER_UNKNOWN;
        return UP_OK;
    }
    answer_from(in, dir, id, s);
    if (s->answer != UP_ANSWER_PENDING && s->answer != UP_ANSWER_RUNNING)
        return UP_OK;

    if (in->launcher == UP_LAUNCHER_SLURM) {
        static const char *const pending[] = {"PENDING",      "CONFIGURING", "RESV_DEL_HOLD",
                                              "SPECIAL_EXIT", "SUSPENDED",   NULL};
        static const char *const running[] = {"RUNNING",  "COMPLETING", "STAGE_OUT", "SIGNALING",
                                              "RESIZING", "STOPPED",    NULL};
        char state[64], code[32];
        /* Not yet recorded: the trigger is between sbatch and its write (it holds the
         * lock). */
        if (!in->slurm_job_id[0])
            return UP_OK;
        if (!slurm_job(in->slurm_job_id, state, sizeof state, code, sizeof code)) {
            snprintf(s->warning, sizeof s->warning,
                     "Slurm does not know job %s (or cannot be reached); trusting the status "
                     "file",
                     in->slurm_job_id);
        } else if (one_of(state, pending) || strncmp(state, "REQUEUED", 8) == 0) {
            s->answer = UP_ANSWER_PENDING;
        } else if (one_of(state, running)) {
            /* The batch script may not have written Running yet. */
            s->answer = UP_ANSWER_RUNNING;
        } else {
            slurm_reason(in->slurm_job_id, state, code, why, sizeof why);
            verdict(dir, id, why, s);
        }
        return UP_OK;
    }
    if (!local_alive(in)) {
        long pid = in->mpirun.pid > 0  ? in->mpirun.pid
                   : in->rank0_pid > 0 ? in->rank0_pid
                                      : in->wrapper.pid;
        if (pid > 0)
            snprintf(why, sizeof why, "killed (pid %ld no longer running)", pid);
        else
            snprintf(why, sizeof why, "killed (pid ? no longer running)");
        verdict(dir, id, why, s);
    }
    return UP_OK;
}
