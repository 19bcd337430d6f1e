/*
 * The watchdog: one thread per job, asleep on a condition variable until its time comes
 * or the job disarms it.
 */
#include "up_watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct up_watchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    struct timespec at;
    int stopped;
    void (*fire)(void *ctx);
    void *ctx;
    int code;
};

static void *watch(void *arg)
{
    struct up_watchdog *w = arg;

    pthread_mutex_lock(&w->mu);
    while (!w->stopped) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &w->at) == ETIMEDOUT && !w->stopped) {
            /* The lock stays held: up_watchdog_stop waits for the end of the process. */
            w->fire(w->ctx);
            _exit(w->code);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

struct up_watchdog *up_watchdog_start(long long after_ms, void (*fire)(void *ctx), void *ctx,
                                      int code)
{
    struct up_watchdog *w = calloc(1, sizeof *w);
    pthread_condattr_t ca;
    sigset_t all, old;
    int ok;

    if (!w)
        return NULL;
    w->fire = fire;
    w->ctx = ctx;
    w->code = code;
    clock_gettime(CLOCK_MONOTONIC, &w->at);
    w->at.tv_sec += (time_t)(after_ms / 1000);
    w->at.tv_nsec += (long)(after_ms % 1000) * 1000000L;
    if (w->at.tv_nsec >= 1000000000L) {
        w->at.tv_sec++;
        w->at.tv_nsec -= 1000000000L;
    }
    if (pthread_condattr_init(&ca) != 0) {
        free(w);
        return NULL;
    }
    ok =
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&w->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!ok) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    /* Signals stay with the job's own thread (its handlers, MPI's). */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    ok = pthread_create(&w->thread, NULL, watch, w) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!ok) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    return w;
}

void up_watchdog_stop(struct up_watchdog *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopped = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
