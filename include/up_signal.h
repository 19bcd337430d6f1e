/* The signals that end a program (SIGTERM, SIGINT, SIGHUP): a temporary file removed and a
 * line on stderr on the way out, and windows in which they wait (an atomic publish). */
#ifndef UP_SIGNAL_H
#define UP_SIGNAL_H

#include <signal.h>

/*
 * Installs, for SIGTERM, SIGINT and SIGHUP (SIGHUP only when it is not ignored, as under
 * nohup or the lifecycle's wrapper), a handler that removes the file registered with
 * up_signal_cleanup (if any), writes "<who> got signal TERM from pid P<then>" on stderr
 * (who NULL: no line; "from pid P" only when a process sent it), and then ends the process
 * by the same signal, with its default action, so that a parent sees it killed by that
 * signal. Only async-signal-safe calls run in the handler. who and then are copied (cut
 * at 200 bytes each). Call it once, before any thread starts. Returns 0, or -1 with errno
 * set.
 */
int up_signal_catch(const char *who, const char *then);

/*
 * Registers path as the file the handler removes (NULL: none), copied while the signals
 * are held, so that the handler sees the old path or the new one, never half of either.
 * Register a temporary file right after it is made and before it may be left behind, with
 * the signals held across both (up_signal_hold), so that no signal falls in between.
 * Returns 0, or -1 (ENAMETOOLONG) for a path longer than PATH_MAX.
 */
int up_signal_cleanup(const char *path);

/* Holds (blocks) the three signals in the calling thread; *old gets the mask that
 * up_signal_release restores. A held signal waits: it is delivered on release. */
void up_signal_hold(sigset_t *old);

/* Restores the mask saved by up_signal_hold: a signal that arrived meanwhile is delivered
 * now (and, caught, ends the process). */
void up_signal_release(const sigset_t *old);

/* While the signals are held: takes (and so discards) those that arrived; returns the
 * first one taken, or 0 when none did. For a window after which the work they would stop
 * is already done. */
int up_signal_take(void);

/* The short name of sig ("TERM", "KILL", "SEGV", ...), or NULL when it has none here. */
const char *up_signal_name(int sig);

#endif
