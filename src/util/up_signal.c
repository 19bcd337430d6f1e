#include "up_signal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The handler's state, set up before it can run: only read in it. */
static char cleanup_path[PATH_MAX];
static volatile sig_atomic_t cleanup_set;
static char note_who[201], note_then[201];
static volatile sig_atomic_t note_on;

static const int caught[] = {SIGTERM, SIGINT, SIGHUP};
#define N_CAUGHT (sizeof caught / sizeof caught[0])

const char *up_signal_name(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {{SIGHUP, "HUP"},   {SIGINT, "INT"},   {SIGQUIT, "QUIT"}, {SIGILL, "ILL"},
                 {SIGABRT, "ABRT"}, {SIGBUS, "BUS"},   {SIGFPE, "FPE"},   {SIGKILL, "KILL"},
                 {SIGUSR1, "USR1"}, {SIGSEGV, "SEGV"}, {SIGUSR2, "USR2"}, {SIGPIPE, "PIPE"},
                 {SIGALRM, "ALRM"}, {SIGTERM, "TERM"}, {SIGXCPU, "XCPU"}, {SIGXFSZ, "XFSZ"},
                 {SIGSYS, "SYS"},   {SIGTRAP, "TRAP"}};
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig)
            return names[i].name;
    return NULL;
}

/* Appends s to buf[n] at *o (async-signal-safe: no locale, no allocation). */
static void put_text(char *buf, size_t n, size_t *o, const char *s)
{
    while (*s && *o + 1 < n)
        buf[(*o)++] = *s++;
}

static void put_num(char *buf, size_t n, size_t *o, long v)
{
    char digits[24];
    size_t k = 0;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

    do {
        digits[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u && k < sizeof digits);
    if (v < 0 && *o + 1 < n)
        buf[(*o)++] = '-';
    while (k > 0 && *o + 1 < n)
        buf[(*o)++] = digits[--k];
}

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
    int saved = errno;

    (void)ctx;
    if (cleanup_set)
        unlink(cleanup_path);
    if (note_on) {
        char msg[512];
        size_t o = 0;
        const char *name = up_signal_name(sig);
        put_text(msg, sizeof msg, &o, note_who);
        put_text(msg, sizeof msg, &o, " got signal ");
        if (name)
            put_text(msg, sizeof msg, &o, name);
        else
            put_num(msg, sizeof msg, &o, sig);
        /* si_code <= 0: sent by a process (kill, sigqueue), which si_pid names. */
        if (si && si->si_code <= 0 && si->si_pid > 0) {
            put_text(msg, sizeof msg, &o, " from pid ");
            put_num(msg, sizeof msg, &o, (long)si->si_pid);
        }
        put_text(msg, sizeof msg, &o, note_then);
        msg[o++] = '\n';
        if (write(STDERR_FILENO, msg, o) < 0) {
            /* Nothing more can be done on the way out. */
        }
    }
    /* SA_RESETHAND restored the default action; the signal, blocked while this runs, is
     * delivered again as soon as the handler returns and ends the process. */
    raise(sig);
    errno = saved;
}

static void copy_cut(char *dst, size_t n, const char *src)
{
    size_t k = src ? strlen(src) : 0;

    if (k >= n)
        k = n - 1;
    if (k)
        memcpy(dst, src, k);
    dst[k] = '\0';
}

int up_signal_catch(const char *who, const char *then)
{
    struct sigaction sa;
    size_t i;

    copy_cut(note_who, sizeof note_who, who);
    copy_cut(note_then, sizeof note_then, then);
    note_on = who != NULL;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < N_CAUGHT; i++)
        sigaddset(&sa.sa_mask, caught[i]);
    for (i = 0; i < N_CAUGHT; i++) {
        struct sigaction old;
        if (sigaction(caught[i], NULL, &old) != 0)
            return -1;
        if (old.sa_handler == SIG_IGN && !(old.sa_flags & SA_SIGINFO))
            continue; /* ignored (nohup, the lifecycle's wrapper): stays ignored */
        if (sigaction(caught[i], &sa, NULL) != 0)
            return -1;
    }
    return 0;
}

static void caught_set(sigset_t *s)
{
    size_t i;

    sigemptyset(s);
    for (i = 0; i < N_CAUGHT; i++)
        sigaddset(s, caught[i]);
}

void up_signal_hold(sigset_t *old)
{
    sigset_t s;

    caught_set(&s);
    pthread_sigmask(SIG_BLOCK, &s, old);
}

void up_signal_release(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

int up_signal_take(void)
{
    struct timespec zero = {0, 0};
    sigset_t s;
    int first = 0, sig;

    caught_set(&s);
    while ((sig = sigtimedwait(&s, NULL, &zero)) > 0)
        if (!first)
            first = sig;
    return first;
}

int up_signal_cleanup(const char *path)
{
    sigset_t old;
    size_t k = path ? strlen(path) : 0;

    if (k >= sizeof cleanup_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    up_signal_hold(&old);
    cleanup_set = 0;
    if (path) {
        memcpy(cleanup_path, path, k + 1);
        cleanup_set = 1;
    }
    up_signal_release(&old);
    return 0;
}
