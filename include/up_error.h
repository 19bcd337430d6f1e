/* Error codes of the uptime library; each value is also a program exit code. */
#ifndef UP_ERROR_H
#define UP_ERROR_H

#if defined(__GNUC__)
#define UP_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define UP_WARN_UNUSED
#endif

/* The documented exit codes of uptime_load and uptime_report (README "Exit codes"). */
enum up_code {
    UP_OK = 0,      /* success (rejected rows do not make a load fail) */
    UP_EFAIL = 1,   /* the job failed for a reason not listed below */
    UP_EUSAGE = 2,  /* bad command line, or fatal input: missing/empty file, missing column */
    UP_EDB = 3,     /* the database could not be opened, read or written */
    UP_EIO = 4,     /* a file (report, status, rejects) could not be written */
    UP_ENOMEM = 5,  /* out of memory, or an input value beyond a documented cap */
    UP_EMPI = 6,    /* an MPI call failed */
    UP_ETZDB = 7,   /* the time zone database is missing or unreadable, or lacks a zone */
    UP_ETIMEOUT = 8 /* the run's --timeout passed (a server stopped answering, or too slow) */
};

/* Returns a static, human-readable name for code (never NULL). */
const char *up_strerror(enum up_code code);

#endif
