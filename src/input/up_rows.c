/* Validation of the input files' row values (up_rows.h): pure functions, no I/O. */
#include "up_rows.h"

#include <string.h>

/* Sets *why when the caller asked for it; reasons are static strings. */
static void set_why(const char **why, const char *text)
{
    if (why)
        *why = text;
}

/* ASCII-only lower case: the locale must not change what "active" means. */
static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Compares s[0..len) with a lower-case ASCII word, ignoring ASCII case. */
static int ascii_ieq(const char *s, size_t len, const char *word)
{
    size_t i, n = strlen(word);

    if (len != n)
        return 0;
    for (i = 0; i < n; i++)
        if (ascii_lower((unsigned char)s[i]) != (unsigned char)word[i])
            return 0;
    return 1;
}

const char *up_row_reject_name(enum up_row_reject reason)
{
    switch (reason) {
    case UP_ROW_OK:
        return "ok";
    case UP_ROW_STORE_ID:
        return "invalid store_id";
    case UP_ROW_STATUS:
        return "invalid status";
    case UP_ROW_TIMESTAMP:
        return "invalid timestamp_utc";
    case UP_ROW_DAY:
        return "invalid dayOfWeek";
    case UP_ROW_START:
        return "invalid start_time_local";
    case UP_ROW_END:
        return "invalid end_time_local";
    case UP_ROW_TIMEZONE:
        return "unknown timezone";
    case UP_ROW_TZ_CONFLICT:
        return "conflicting timezone";
    }
    return "unknown reason";
}

enum up_row_reject up_check_store_id(const char *s, size_t len, const char **why)
{
    size_t i;

    if (len == 0) {
        set_why(why, "empty store_id");
        return UP_ROW_STORE_ID;
    }
    if (len > UP_STORE_ID_MAX) {
        set_why(why, "store_id longer than 128 bytes");
        return UP_ROW_STORE_ID;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        /*
         * C0 controls and DEL are single bytes; C1 controls U+0080-009F are
         * C2 80..C2 9F. The input is valid UTF-8, so a C2 byte is always a
         * lead byte and its follower is inside the string.
         */
        if (c < 0x20 || c == 0x7F) {
            set_why(why, "control character in store_id");
            return UP_ROW_STORE_ID;
        }
        if (c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] <= 0x9F) {
            set_why(why, "control character in store_id");
            return UP_ROW_STORE_ID;
        }
    }
    set_why(why, "");
    return UP_ROW_OK;
}

enum up_row_reject up_check_status(const char *s, size_t len, int *active, const char **why)
{
    if (ascii_ieq(s, len, "active")) {
        *active = 1;
    } else if (ascii_ieq(s, len, "inactive")) {
        *active = 0;
    } else {
        set_why(why, "status is not active or inactive");
        return UP_ROW_STATUS;
    }
    set_why(why, "");
    return UP_ROW_OK;
}

/* Length of the valid UTF-8 sequence at s[0..n) (2 to 4), or 0 when it is not one (overlong
 * forms, surrogates and code points past U+10FFFF are not). s[0] >= 0x80. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned long cp, min;
    size_t need, k;

    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        need = 1;
        cp = s[0] & 0x1Fu;
        min = 0x80;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        need = 2;
        cp = s[0] & 0x0Fu;
        min = 0x800;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        need = 3;
        cp = s[0] & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    if (need >= n)
        return 0;
    for (k = 1; k <= need; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3Fu);
    }
    if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return need + 1;
}

size_t up_reject_escape(char *out, size_t outlen, const char *s, size_t n, size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;

    while (i < n) {
        unsigned c = u[i];
        size_t seq = 1, k;
        int escape = 0;

        if (c < 0x20 || c == 0x7F || c == '\\') {
            escape = 1;
        } else if (c >= 0x80) {
            seq = utf8_seq(u + i, n - i);
            if (seq == 0) {
                seq = 1;
                escape = 1;
            } else if (c == 0xC2 && u[i + 1] <= 0x9F) {
                escape = 1; /* a C1 control, U+0080-009F */
            }
        }
        if (o + (escape ? 4 * seq : seq) + 1 > outlen)
            break;
        for (k = 0; k < seq; k++) {
            if (escape) {
                out[o++] = '\\';
                out[o++] = 'x';
                out[o++] = hex[u[i + k] >> 4];
                out[o++] = hex[u[i + k] & 0xF];
            } else {
                out[o++] = (char)u[i + k];
            }
        }
        i += seq;
    }
    if (outlen > 0)
        out[o] = '\0';
    *used = i;
    return o;
}

enum up_row_reject up_check_day(const char *s, size_t len, int *day, const char **why)
{
    if (len != 1 || s[0] < '0' || s[0] > '6') {
        set_why(why, "dayOfWeek is not a single digit 0-6");
        return UP_ROW_DAY;
    }
    *day = s[0] - '0';
    set_why(why, "");
    return UP_ROW_OK;
}
