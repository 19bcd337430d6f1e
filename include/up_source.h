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
    UP_SOURCE_SQLITE,   /* "sqlite:PATH" or a plain path */
    UP_SOURCE_PG_URI,   /* "postgresql://..." or "postgres://..." (libpq URI) */
    UP_SOURCE_PG_KV,    /* a libpq key=value conninfo string (it holds an '=') */
    UP_SOURCE_HDF5,     /* "hdf5:PATH" or a path ending in ".h5" */
    UP_SOURCE_MEM       /* "mem:NAME", the tests' in-memory backend */
};

/* The kind of source s names (every string is one of them: a path at worst). */
enum up_source_kind up_source_kind(const char *s);

/* Returns a static name of kind: "sqlite", "postgresql", "hdf5", "mem". */
const char *up_source_kind_name(enum up_source_kind kind);

/*
 * Copies s to out[n] with the password hidden ("***"), following libpq's grammar: in a
 * URI the userinfo password and any "password" query parameter (every other part kept,
 * percent-encoding untouched); in a key=value string the value of every "password" key,
 * quoted or not, with backslash escapes and spaces around '='. Other kinds are copied
 * unchanged. Never writes more than n bytes; a truncated result never holds a byte of the
 * password.
 */
void up_source_redact(const char *s, char *out, size_t n);

/* Returns 1 if s holds a password that up_source_redact would hide, else 0. */
int up_source_has_password(const char *s);

/*
 * Copies s to out[n] with a relative file path made absolute against the current
 * working directory ("db" -> "/cwd/db", "sqlite:db" -> "sqlite:/cwd/db"); PostgreSQL
 * and mem sources are copied unchanged. Returns 0, or -1 if out is too small or the
 * working directory cannot be read.
 */
int up_source_absolute(const char *s, char *out, size_t n);

#endif
