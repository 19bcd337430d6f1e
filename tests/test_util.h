/* Small helpers shared by the unit tests. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdint.h>

/* Microseconds of a UTC civil time (tests write instants readably). */
int64_t tu_utc(int y, int mo, int d, int h, int mi, int s);

/* Creates a fresh temporary directory; returns a static path (valid until the next call). */
const char *tu_tmpdir(void);

/* Writes text to dir/name; returns the full path in a static buffer (next call overwrites). */
const char *tu_write_file(const char *dir, const char *name, const char *text);

#endif
