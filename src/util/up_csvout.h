/*
 * The one CSV field writer (RFC 4180), used by the report and the rejects file: a field is
 * written as it is unless it holds a comma, a double quote, CR or LF; then it is enclosed
 * in double quotes and each double quote inside is doubled. Spaces, TABs and non-ASCII
 * bytes are written as they are. For the report this is SPEC §5's rule ("quoted only if
 * it contains , or \""): a valid store_id holds no CR or LF. Private to the library.
 */
#ifndef UP_CSVOUT_H
#define UP_CSVOUT_H

#include <stddef.h>
#include <stdio.h>

/* Returns 1 if the NUL-terminated s must be quoted (holds , " CR or LF), else 0. */
int up_csvout_needs_quotes(const char *s);

/*
 * Writes s as one CSV field into buf (at most n bytes, NUL-terminated when n > 0). Returns
 * the length of the whole field (quotes included, NUL not), as snprintf does: a result
 * >= n means buf was too small and holds a cut field.
 */
size_t up_csvout_field(char *buf, size_t n, const char *s);

/* Writes s as one CSV field to f. Returns 0, or -1 when f reports a write error. */
int up_csvout_put(FILE *f, const char *s);

#endif
