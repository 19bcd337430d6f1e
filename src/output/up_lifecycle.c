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
#include "up_deadline.h"
#include "up_signal.h"
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

/* Removes what a run that did not finish left in dir: its partial CSV
 * (.<id>.csv.tmp.XXXXXX) and a status file's temporary (.<id>.status.json.tmp.XXXXXX) of a
 * writer killed while it wrote. Called with the report's lock held, so no writer of the
 * status is at work. unlink never follows a symlink. */
static void remove_partial(const char *dir, const char *id)
{
    static const char *const tails[] = {".csv.tmp.", ".status.json.tmp."};
    char prefix[UP_REPORT_ID_MAX + 24], path[PATH_MAX];
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t t;

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        for (t = 0; t < sizeof tails / sizeof tails[0]; t++) {
            size_t k = (size_t)snprintf(prefix, sizeof prefix, ".%s%s", id, tails[t]);
            int n;
            if (strncmp(e->d_name, prefix, k) != 0 || strlen(e->d_name) != k + 6)
                continue;
            n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (n > 0 && (size_t)n < sizeof path)
                unlink(path);
        }
    }
    closedir(d);
}

/* 1 if dir/<id>.csv is published: the job's rename of its finished report, the one atomic
 * step that makes a report complete (docs/lifecycle.md, "Cancelling and exit codes"). */
static int published(const char *dir, const char *id)
{
    char path[PATH_MAX];
    struct stat sb;

    return fits(snprintf(path, sizeof path, "%s/%s.csv", dir, id), sizeof path) &&
           lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/*
 * The verdict from outside on a run that ended without recording its own (st held, status
 * Pending or Running): a published CSV makes it Complete (the job was killed between its
 * rename and its Complete); else it is Failed with why, and its partial files are removed.
 * Returns the state now recorded (or meant to be, when the write failed: warned on stderr,
 * prefixed by who).
 */
static enum up_state settle(struct up_status *st, const char *dir, const char *id, const char *why,
                            const char *who)
{
    char err[512];

    if (published(dir, id)) {
        if (up_status_published(st, err, sizeof err) != UP_OK)
            fprintf(stderr, "%s: warning: %s\n", who, err);
        return UP_STATE_COMPLETE;
    }
    if (up_status_fail(st, why, err, sizeof err) != UP_OK)
        fprintf(stderr, "%s: warning: %s\n", who, err);
    remove_partial(dir, id);
    return UP_STATE_FAILED;
}

/* ---- What died: the run's log and the ranks the job recorded ---- */

/* The run's log is read from its end: the launcher's last words are there. */
#define LOG_TAIL (256 * 1024)

/* The last LOG_TAIL bytes of path into a new NUL-terminated buffer (NUL bytes in it made
 * spaces), or NULL. */
static char *log_tail(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    char *buf = NULL;
    size_t used = 0, i;

    if (fd < 0)
        return NULL;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        (sb.st_size > LOG_TAIL && lseek(fd, sb.st_size - LOG_TAIL, SEEK_SET) < 0) ||
        !(buf = malloc(LOG_TAIL + 1))) {
        close(fd);
        return NULL;
    }
    for (;;) {
        ssize_t r = read(fd, buf + used, LOG_TAIL - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        used += (size_t)r;
        if (used == LOG_TAIL)
            break;
    }
    close(fd);
    for (i = 0; i < used; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[used] = '\0';
    return buf;
}

/* Reads a decimal number at *p (advanced past it). Returns 0, or -1 when none is there. */
static int take_num(const char **p, long *v)
{
    char *end;

    errno = 0;
    *v = strtol(*p, &end, 10);
    if (end == *p || errno != 0)
        return -1;
    *p = end;
    return 0;
}

/* Skips the literal lit at *p. Returns 0, or -1 when it is not there. */
static int take_lit(const char **p, const char *lit)
{
    size_t k = strlen(lit);

    if (strncmp(*p, lit, k) != 0)
        return -1;
    *p += k;
    return 0;
}

/* Copies the word at *p (up to a space, '(' , ')' or ':' or the line's end) into out[n]. */
static int take_word(const char **p, char *out, size_t n)
{
    size_t k = strcspn(*p, " ():\n");

    if (k == 0 || k >= n)
        return -1;
    memcpy(out, *p, k);
    out[k] = '\0';
    *p += k;
    return 0;
}

/* A rank's end as a launcher or the rank itself wrote it in the log. */
struct rank_death {
    long rank, pid; /* pid 0: not known */
    char host[64];
    int sig;     /* the signal it died of, or the one it got (note) */
    long sender; /* note: the pid that sent it, 0 when not known */
};

/*
 * mpirun's message on a rank that died of a signal (Open MPI 4: "mpirun noticed that
 * process rank 1 with PID 0 on node vm exited on signal 9 (Killed).", the PID 0 its own
 * bug) or srun's ("srun: error: node1: task 1: Killed"). The first one of the log.
 */
static int find_killed(const char *log, struct rank_death *d)
{
    const char *p;

    memset(d, 0, sizeof *d);
    for (p = strstr(log, "noticed that process rank "); p;
         p = strstr(p + 1, "noticed that process rank ")) {
        const char *q = p + strlen("noticed that process rank ");
        long sig;
        if (take_num(&q, &d->rank) == 0 && take_lit(&q, " with PID ") == 0 &&
            take_num(&q, &d->pid) == 0 && take_lit(&q, " on node ") == 0 &&
            take_word(&q, d->host, sizeof d->host) == 0 &&
            take_lit(&q, " exited on signal ") == 0 && take_num(&q, &sig) == 0) {
            d->sig = (int)sig;
            return 1;
        }
    }
    for (p = strstr(log, "srun: error: "); p; p = strstr(p + 1, "srun: error: ")) {
        static const struct {
            const char *text;
            int sig;
        } how[] = {{"Killed", SIGKILL},  {"Terminated", SIGTERM}, {"Segmentation fault", SIGSEGV},
                   {"Aborted", SIGABRT}, {"Bus error", SIGBUS},   {"Interrupt", SIGINT},
                   {"Hangup", SIGHUP}};
        const char *q = p + strlen("srun: error: ");
        size_t i;
        memset(d, 0, sizeof *d);
        if (take_word(&q, d->host, sizeof d->host) != 0 || take_lit(&q, ": task ") != 0 ||
            take_num(&q, &d->rank) != 0 || take_lit(&q, ": ") != 0)
            continue;
        for (i = 0; i < sizeof how / sizeof how[0]; i++)
            if (strncmp(q, how[i].text, strlen(how[i].text)) == 0) {
                d->sig = how[i].sig;
                return 1;
            }
    }
    return 0;
}

/* The note of a rank that got an ending signal (up_signal_catch in uptime_report: "uptime_report:
 * rank 0 (pid 7033 on vm) got signal TERM from pid 7026"): the first one of the log, or
 * the one of rank want (>= 0). */
static int find_note(const char *log, long want, struct rank_death *d)
{
    static const char mark[] = "uptime_report: rank ";
    const char *p;

    for (p = strstr(log, mark); p; p = strstr(p + 1, mark)) {
        const char *q = p + strlen(mark);
        char name[16];
        int sig;
        memset(d, 0, sizeof *d);
        if (take_num(&q, &d->rank) != 0 || take_lit(&q, " (pid ") != 0 ||
            take_num(&q, &d->pid) != 0 || take_lit(&q, " on ") != 0 ||
            take_word(&q, d->host, sizeof d->host) != 0 || take_lit(&q, ") got signal ") != 0 ||
            take_word(&q, name, sizeof name) != 0)
            continue;
        for (sig = 1; sig < 32; sig++)
            if (up_signal_name(sig) && strcmp(up_signal_name(sig), name) == 0)
                break;
        if (sig == 32)
            continue;
        d->sig = sig;
        if (take_lit(&q, " from pid ") != 0 || take_num(&q, &d->sender) != 0)
            d->sender = 0;
        if (want < 0 || d->rank == want)
            return 1;
    }
    return 0;
}

/* "TERM", or "37" for a signal without a name here. */
static const char *sig_text(int sig, char *buf, size_t n)
{
    const char *name = up_signal_name(sig);

    if (name)
        return name;
    snprintf(buf, n, "%d", sig);
    return buf;
}

/* " by mpirun (pid M)" or " from pid X" for the sender of a note, "" when unknown. */
static void sender_text(long sender, long launcher, const char *launcher_name, char *out, size_t n)
{
    if (sender > 0 && sender == launcher)
        snprintf(out, n, " from %s (pid %ld)", launcher_name, launcher);
    else if (sender > 0)
        snprintf(out, n, " from pid %ld", sender);
    else
        out[0] = '\0';
}

/*
 * Why a run ended without a verdict, as far as can be known, into why[n]: the rank that
 * died of a signal (the launcher's message in log, its pid from the status file when the
 * launcher does not give it), else the rank that got an ending signal (its own note), else
 * the launcher's own end. launcher is "mpirun" or "srun", lpid its pid (0: not known),
 * status its wait status (-1: not known) and code its exit code as the shell gives it.
 * Returns 1 when a rank is named.
 */
static int death_reason(const struct up_status *st, const char *log, const char *launcher,
                        long lpid, int code, char *why, size_t n)
{
    char *text = log && log[0] ? log_tail(log) : NULL;
    struct rank_death d, note;
    char signame[16], from[64] = "", who[160];
    int named = 0;

    if (text && find_killed(text, &d)) {
        struct up_rank_proc p;
        /* mpirun's pid is Open MPI 4.1's 0, srun gives none: the job's record of that rank
         * has it, and the host as the rank saw it (Slurm's node name may differ). */
        if (d.pid <= 0 && up_status_rank_proc(st, (int)d.rank, &p)) {
            d.pid = p.pid;
            if (p.host[0])
                snprintf(d.host, sizeof d.host, "%s", p.host);
        }
        if (find_note(text, d.rank, &note) && note.sig == d.sig)
            sender_text(note.sender, lpid, launcher, from, sizeof from);
        if (d.pid > 0)
            snprintf(who, sizeof who, "rank %ld (pid %ld on %s)", d.rank, d.pid, d.host);
        else
            snprintf(who, sizeof who, "rank %ld (on %s)", d.rank, d.host);
        snprintf(why, n, "killed: %s was killed by signal %s%s; %s exited with code %d", who,
                 sig_text(d.sig, signame, sizeof signame), from, launcher, code);
        named = 1;
    } else if (text && find_note(text, -1, &note)) {
        sender_text(note.sender, lpid, launcher, from, sizeof from);
        snprintf(why, n, "killed: rank %ld (pid %ld on %s) got signal %s%s; %s exited with code %d",
                 note.rank, note.pid, note.host, sig_text(note.sig, signame, sizeof signame), from,
                 launcher, code);
        named = 1;
    }
    free(text);
    return named;
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
    if (t->timeout)
        bad |= add(&a, "--timeout") | add(&a, t->timeout);
    if (t->parallel_write)
        bad |= add(&a, "--parallel-write");
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
    if (t->timeout) {
        int s;
        if (up_deadline_parse(t->timeout, &s) != 0) {
            snprintf(err, errlen, "invalid --timeout '%s': 0 (no limit) to %d seconds", t->timeout,
                     UP_DEADLINE_MAX_S);
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
        if (t->timeout)
            bad |= add(&a, "--timeout") | add(&a, t->timeout);
        if (t->parallel_write)
            bad |= add(&a, "--parallel-write");
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
    char host[256], why[PATH_MAX + 1024], name[16];
    int go[2], status = 0, rc, code, i;
    enum up_state state;
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
        /* Open MPI's mpirun, told to stop (SIGTERM, SIGINT), sends the ranks SIGCONT, then
         * SIGTERM and SIGKILL odls_base_sigkill_timeout seconds apart (1 by default), so
         * the ranks would go on for a second and might publish a report already cancelled.
         * 0: they are stopped at once (the ranks keep nothing to clean up: the wrapper
         * does it). An explicit setting is kept. */
        setenv("OMPI_MCA_odls_base_sigkill_timeout", "0", 0);
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
    fflush(stdout);

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
    /* The report's state decides, and the exit code follows it: 0 exactly when the report
     * is Complete. The CSV's rename is the one atomic step: a run killed after it (mpirun
     * stopped while the ranks finalized, rank 0 killed before it wrote Complete) is
     * complete; one killed before it is Failed, and its partial files go. */
    state = in.state;
    if (state == UP_STATE_PENDING || state == UP_STATE_RUNNING || state == UP_STATE_NONE ||
        state == UP_STATE_OTHER) {
        char log[PATH_MAX];
        if (in.log[0])
            snprintf(log, sizeof log, "%s", in.log);
        else
            snprintf(log, sizeof log, "%s/%s.log", dir, id);
        if (WIFSIGNALED(status))
            snprintf(why, sizeof why, "killed (mpirun pid %ld ended by signal %s)", (long)pid,
                     sig_text(WTERMSIG(status), name, sizeof name));
        else if (death_reason(st, log, "mpirun", (long)pid, rc, why, sizeof why))
            ;
        else if (rc != 0)
            snprintf(why, sizeof why,
                     "killed or crashed: mpirun (pid %ld) exited with code %d before the "
                     "job recorded a result (see %s)",
                     (long)pid, rc, log);
        else
            snprintf(why, sizeof why,
                     "mpirun (pid %ld) exited with code 0 but the job recorded no result "
                     "(see %s)",
                     (long)pid, log);
        state = settle(st, dir, id, why, "trigger_report");
    } else if (state == UP_STATE_FAILED) {
        remove_partial(dir, id);
    }
    code = state == UP_STATE_COMPLETE ? 0 : rc != 0 ? rc : 1;
    if (up_status_exit_code(st, code, err, errlen) != UP_OK)
        fprintf(stderr, "trigger_report: warning: %s\n", err);
    if (code != rc)
        printf("trigger_report: mpirun exited with code %d; status %s, exit code %d%s\n", rc,
               up_status_info(st)->status, code,
               state == UP_STATE_COMPLETE ? " (the report was published before mpirun ended)" : "");
    else
        printf("trigger_report: mpirun exited with code %d; status %s\n", rc,
               up_status_info(st)->status);
    up_status_close(st);
    return code;
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
        else if (published(dir, id))
            snprintf(why, sizeof why, "published"); /* settle records Complete */
        else if (terminated)
            /* Cancelled, timed out or shut down: until this script ends Slurm shows the
             * job as COMPLETING, its final state (CANCELLED, TIMEOUT, ...) only after. The
             * status file keeps Running; get_report records that final state as the
             * reason. */
            fprintf(stderr, "uptime_report.sbatch: terminated by Slurm; jobs/get_report will "
                            "record why\n");
        else if (death_reason(st, up_status_info(st)->log, "srun", 0, rc, why, sizeof why))
            ;
        else if (rc != 0)
            snprintf(why, sizeof why,
                     "job step (srun) exited with code %d before the job recorded a result "
                     "(see the job log)",
                     rc);
        else
            snprintf(why, sizeof why,
                     "job step (srun) exited with code 0 but the job recorded no result");
        if (why[0])
            s = settle(st, dir, id, why, "uptime_report.sbatch");
    }
    if (s == UP_STATE_COMPLETE) {
        rc = 0; /* the report is published: the run succeeded, whatever srun said after */
    } else {
        int job = up_status_info(st)->job_code;
        remove_partial(dir, id);
        /* The job failed and said with which code; srun's signal came after, ending the
         * ranks that were still finalizing (--kill-on-bad-exit): the job's code it is. */
        if (job > 0 && rc > 128 && !terminated) {
            fprintf(stderr,
                    "uptime_report.sbatch: srun ended with %d after the job had failed with "
                    "exit code %d; recording %d\n",
                    rc, job, job);
            rc = job;
        }
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
        /* A CSV published by a job killed before its Complete makes the report complete. */
        if (published(dir, id)) {
            if (up_status_published(st, err, sizeof err) != UP_OK)
                if (snprintf(s->warning, sizeof s->warning, "could not record the verdict: %s",
                             err) < 0)
                    s->warning[0] = '\0';
        } else {
            if (up_status_fail(st, why, err, sizeof err) != UP_OK)
                if (snprintf(s->warning, sizeof s->warning, "could not record the verdict: %s",
                             err) < 0)
                    s->warning[0] = '\0';
            remove_partial(dir, id);
        }
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

enum up_code up_lifecycle_state_of(const char *dir, const char *id, const struct up_status_info *in,
                                   struct up_report_state *s, char *err, size_t errlen)
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
