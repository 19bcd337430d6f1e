#include "up_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sources up to this length are redacted with a mask on the stack; longer ones allocate. */
#define UP_SOURCE_STACK 2048

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

enum up_source_kind up_source_kind(const char *s)
{
    if (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0)
        return UP_SOURCE_PG_URI;
    if (strncmp(s, "mem:", 4) == 0)
        return UP_SOURCE_MEM;
    if (strncmp(s, "hdf5:", 5) == 0)
        return UP_SOURCE_HDF5;
    if (strncmp(s, "sqlite:", 7) == 0)
        return UP_SOURCE_SQLITE;
    /* libpq's own test (recognized_connection_string): a conninfo string holds an '='. */
    if (strchr(s, '=') != NULL)
        return UP_SOURCE_PG_KV;
    if (has_suffix(s, ".h5"))
        return UP_SOURCE_HDF5;
    return UP_SOURCE_SQLITE;
}

const char *up_source_kind_name(enum up_source_kind kind)
{
    switch (kind) {
    case UP_SOURCE_SQLITE:
        return "sqlite";
    case UP_SOURCE_PG_URI:
    case UP_SOURCE_PG_KV:
        return "postgresql";
    case UP_SOURCE_HDF5:
        return "hdf5";
    case UP_SOURCE_MEM:
        return "mem";
    }
    return "unknown";
}

/* libpq's isspace() in conninfo_parse, without the locale. */
static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/*
 * 1 if the n bytes at k name a secret keyword: "password" or "sslpassword" (the two
 * options libpq marks as secret, dispchar "*"). libpq's keywords are case-sensitive and it
 * refuses "PASSWORD", but such a string still reaches messages before libpq refuses it,
 * so any case counts here. With decode, %XX escapes are decoded first (URI query keys).
 */
static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)lower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int secret_key(const char *k, size_t n, int decode)
{
    char key[16];
    size_t i, m = 0;

    for (i = 0; i < n; i++) {
        int c = (unsigned char)k[i];
        if (decode && c == '%' && i + 2 < n && hex_digit(k[i + 1]) >= 0 &&
            hex_digit(k[i + 2]) >= 0) {
            c = hex_digit(k[i + 1]) * 16 + hex_digit(k[i + 2]);
            i += 2;
        }
        if (m + 1 >= sizeof key)
            return 0;
        key[m++] = (char)lower(c);
    }
    key[m] = '\0';
    return strcmp(key, "password") == 0 || strcmp(key, "sslpassword") == 0;
}

/*
 * Marks the bytes of every secret value of a key=value conninfo string, following libpq's
 * conninfo_parse: whitespace between pairs and around '='; a value is either single-quoted
 * (backslash escapes any byte, up to the closing quote) or runs to the next unescaped
 * whitespace (backslash escapes there too). Where libpq would stop with a syntax error the
 * scan goes on, more cautiously than libpq: a word without '=' after a secret value (the
 * tail of "password=se cret") or after a bare secret keyword is hidden too, and an
 * unterminated quote hides the rest of the string.
 */
static void mask_kv(const char *s, size_t len, char *mask)
{
    size_t i = 0, last_end = 0;
    int hiding = 0; /* the previous token was a secret: hide stray words that follow */

    while (i < len) {
        size_t k0, k1, v0;
        while (i < len && is_space(s[i]))
            i++;
        if (i >= len)
            break;
        k0 = i;
        while (i < len && s[i] != '=' && !is_space(s[i]))
            i++;
        k1 = i;
        while (i < len && is_space(s[i]))
            i++;
        if (i >= len || s[i] != '=') {
            /* A word without '=': libpq refuses the string ("missing \"=\" after"). */
            if (hiding) {
                memset(mask + last_end, 1, k1 - last_end);
                last_end = k1;
            } else if (secret_key(s + k0, k1 - k0, 0)) {
                hiding = 1;
                last_end = k1;
            }
            i = k1;
            continue;
        }
        i++; /* '=' */
        while (i < len && is_space(s[i]))
            i++;
        v0 = i;
        if (i < len && s[i] == '\'') {
            i++;
            while (i < len && s[i] != '\'') {
                if (s[i] == '\\' && i + 1 < len)
                    i++;
                i++;
            }
            if (i < len)
                i++; /* the closing quote */
        } else {
            while (i < len && !is_space(s[i])) {
                if (s[i] == '\\' && i + 1 < len)
                    i++;
                i++;
            }
        }
        hiding = secret_key(s + k0, k1 - k0, 0);
        if (hiding) {
            memset(mask + v0, 1, i - v0);
            last_end = i;
        }
    }
}

/*
 * Marks the secrets of a URI ("scheme://[user[:password]@]hosts[/db][?k=v&...]"), after
 * libpq's conninfo_uri_parse_options:
 * - the userinfo password: libpq's userinfo ends at the first '@' met before any '/'; the
 *   password runs from the first ':' to it. A password holding a raw '@' or '/' (libpq
 *   misreads both) is hidden up to the last '@' before the query too, so no piece of it
 *   shows;
 * - every "password" (or "sslpassword") query parameter, its key %-decoded as libpq does,
 *   its value up to the next '&' that starts a real key=value pair.
 * Everything else is kept byte for byte, %XX escapes included.
 */
static void mask_uri(const char *s, size_t len, char *mask)
{
    const char *sep = strstr(s, "://");
    size_t start, i, colon, at = 0, q;
    int found = 0;

    if (!sep)
        return;
    start = (size_t)(sep - s) + 3;
    for (i = start; i < len && s[i] != '@' && s[i] != '/'; i++)
        ;
    if (i < len && s[i] == '@') {
        found = 1;
        at = i;
    }
    for (q = start; q < len && s[q] != '?'; q++)
        ;
    for (i = start; i < q; i++)
        if (s[i] == '@' && (!found || i > at)) {
            found = 1;
            at = i;
        }
    if (found) {
        for (colon = start; colon < at && s[colon] != ':'; colon++)
            ;
        if (colon < at)
            memset(mask + colon + 1, 1, at - colon - 1);
    }

    for (i = start; i < len; i++) {
        size_t k0, k1, v1;
        if (s[i] != '?' && s[i] != '&')
            continue;
        k0 = i + 1;
        for (k1 = k0; k1 < len && s[k1] != '=' && s[k1] != '&'; k1++)
            ;
        if (k1 >= len || s[k1] != '=' || !secret_key(s + k0, k1 - k0, 1))
            continue;
        v1 = k1 + 1;
        for (;;) {
            size_t j;
            while (v1 < len && s[v1] != '&')
                v1++;
            if (v1 >= len)
                break;
            /* A raw '&' inside the password: the next piece is no key=value pair. */
            for (j = v1 + 1; j < len && s[j] != '&' && s[j] != '='; j++)
                ;
            if (j < len && s[j] == '=')
                break;
            v1 = j;
        }
        memset(mask + k1 + 1, 1, v1 - k1 - 1);
        i = v1 - 1;
    }
}

/* Copies s to out[n], each run of masked bytes replaced by "***"; always terminated. */
static void emit(const char *s, size_t len, const char *mask, char *out, size_t n)
{
    size_t i, o = 0;

    if (n == 0)
        return;
    for (i = 0; i < len; i++) {
        const char *piece = s + i;
        size_t k = 1;
        if (mask[i]) {
            if (i > 0 && mask[i - 1])
                continue;
            piece = "***";
            k = 3;
        }
        if (o + k >= n)
            break; /* truncated: only whole pieces, never a masked byte */
        memcpy(out + o, piece, k);
        o += k;
    }
    out[o] = '\0';
}

/* The mask of s's secret bytes (1 = hide) into mask[len]; 1 if any byte is secret. */
static int mask_source(const char *s, size_t len, char *mask)
{
    size_t i;

    memset(mask, 0, len);
    if (up_source_kind(s) == UP_SOURCE_PG_KV)
        mask_kv(s, len, mask);
    else if (strstr(s, "://") != NULL)
        /* Any scheme: a mistyped "postgressql://u:pw@h" is still someone's password. */
        mask_uri(s, len, mask);
    for (i = 0; i < len; i++)
        if (mask[i])
            return 1;
    return 0;
}

void up_source_redact(const char *s, char *out, size_t n)
{
    size_t len = strlen(s);
    char stack[UP_SOURCE_STACK], *mask = len <= sizeof stack ? stack : malloc(len);

    if (!mask) {
        /* Without a mask nothing can be shown safely. */
        snprintf(out, n, "(source not shown: out of memory)");
        return;
    }
    mask_source(s, len, mask);
    emit(s, len, mask, out, n);
    if (mask != stack)
        free(mask);
}

int up_source_has_password(const char *s)
{
    size_t len = strlen(s);
    char stack[UP_SOURCE_STACK], *mask = len <= sizeof stack ? stack : malloc(len);
    int any;

    if (!mask)
        return 1;
    any = mask_source(s, len, mask);
    if (mask != stack)
        free(mask);
    return any;
}

int up_source_absolute(const char *s, char *out, size_t n)
{
    enum up_source_kind k = up_source_kind(s);
    const char *path = s;
    size_t plen = 0; /* the length of a "sqlite:" or "hdf5:" prefix */
    char cwd[4096];
    int len;

    if ((k == UP_SOURCE_SQLITE || k == UP_SOURCE_HDF5) && strstr(s, "://") == NULL) {
        if (strncmp(s, "sqlite:", 7) == 0 || strncmp(s, "hdf5:", 5) == 0) {
            path = strchr(s, ':') + 1;
            plen = (size_t)(path - s);
        }
        if (path[0] != '\0' && path[0] != '/') {
            if (!getcwd(cwd, sizeof cwd))
                return -1;
            len = snprintf(out, n, "%.*s%s/%s", (int)plen, s, cwd, path);
            return len < 0 || (size_t)len >= n ? -1 : 0;
        }
    }
    len = snprintf(out, n, "%s", s);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}
