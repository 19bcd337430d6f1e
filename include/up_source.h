/*
 * Database source strings, handled in one place: what kind of source a string names,
 * the same string with its password hidden (for every message, log and status file), and
 * a file path made absolute for a job that runs elsewhere. Pure string grammar: no
 * backend is needed to classify or redact, so a build without PostgreSQL still hides a
 * PostgreSQL password.
 */
#ifndef UP_SOURCE_H
#define UP_SOURCE_H

#include <stddef.h>

enum up_source_kind {
    UP_SOURCE_SQLITE, /* "sqlite:PATH" or a plain path */
    UP_SOURCE_PG_URI, /* "postgresql://..." or "postgres://..." (libpq URI) */
    UP_SOURCE_PG_KV,  /* a libpq key=value conninfo string (it holds an '=') */
    UP_SOURCE_HDF5,   /* "hdf5:PATH" or a path ending in ".h5" */
    UP_SOURCE_MEM     /* "mem:NAME", the tests' in-memory backend */
};

/* The kind of source s names (every string is one of them: a path at worst). */
enum up_source_kind up_source_kind(const char *s);

/* Returns a static name of kind: "sqlite", "postgresql", "hdf5", "mem". */
const char *up_source_kind_name(enum up_source_kind kind);

/*
 * Copies s to out[n] with every secret replaced by "***", following libpq's own grammar
 * (fe-connect.c) so that what libpq takes as a password is what is hidden:
 * - key=value (any string with '='): the value of each "password" and "sslpassword" key,
 *   whitespace allowed around '=', single-quoted ('se cret', with \' and \\ escapes) or
 *   not (up to unescaped whitespace);
 * - URI ("postgresql://", "postgres://", and any other "scheme://"): the userinfo password
 *   (up to the last '@' before the query, so a raw '@', '/', ':' or '?' in it never shows)
 *   and every "password"/"sslpassword" query parameter, %-decoded keys, each other
 *   parameter kept; %XX escapes are copied as they are.
 * Where libpq would refuse the string (a word without '=', an unterminated quote,
 * "PASSWORD=" in capitals), what follows a secret keyword is hidden all the same. Other
 * kinds are copied unchanged. Writes at most n bytes, always terminated when n > 0; a
 * truncated result is a prefix of the whole one and never holds a byte of a secret.
 */
void up_source_redact(const char *s, char *out, size_t n);

/* Returns 1 if s holds a secret that up_source_redact would hide (an empty password is
 * none), else 0. */
int up_source_has_password(const char *s);

/*
 * Copies s to out[n] with a relative file path made absolute against the current
 * working directory ("db" -> "/cwd/db", "sqlite:db" -> "sqlite:/cwd/db", "hdf5:s" ->
 * "hdf5:/cwd/s"), for a job that runs in another folder or on another node. PostgreSQL
 * sources (a URI or any key=value conninfo) and mem sources are copied unchanged. Returns 0, or -1
 * if out is too small or the working directory cannot be read.
 */
int up_source_absolute(const char *s, char *out, size_t n);

#endif
