/* One logging macro: UTC time, MPI rank, file:line, level; to stderr. */
#ifndef UP_LOG_H
#define UP_LOG_H

enum up_log_level { UP_LOG_DEBUG, UP_LOG_INFO, UP_LOG_WARN, UP_LOG_ERROR };

/* Sets the rank printed in every line and the lowest level printed (default INFO). */
void up_log_init(int rank, enum up_log_level min_level);

/* Prints one line; use through UP_LOG. */
void up_log_print(enum up_log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define UP_LOG(level, ...) up_log_print(UP_LOG_##level, __FILE__, __LINE__, __VA_ARGS__)

#endif
