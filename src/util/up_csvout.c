#include "up_csvout.h"

#include <string.h>

int up_csvout_needs_quotes(const char *s)
{
    return strpbrk(s, ",\"\r\n") != NULL;
}

size_t up_csvout_field(char *buf, size_t n, const char *s)
{
    size_t pos = 0;
    int quote = up_csvout_needs_quotes(s);

    /* Counts every byte, stores those that fit before the NUL's place. */
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (pos + 1 < n)                                                                           \
            buf[pos] = (c);                                                                        \
        pos++;                                                                                     \
    } while (0)
    if (quote)
        PUT('"');
    for (; *s; s++) {
        if (quote && *s == '"')
            PUT('"');
        PUT(*s);
    }
    if (quote)
        PUT('"');
#undef PUT
    if (n > 0)
        buf[pos < n ? pos : n - 1] = '\0';
    return pos;
}

int up_csvout_put(FILE *f, const char *s)
{
    if (!up_csvout_needs_quotes(s))
        return fputs(s, f) < 0 ? -1 : 0;
    if (fputc('"', f) == EOF)
        return -1;
    for (; *s; s++) {
        if (*s == '"' && fputc('"', f) == EOF)
            return -1;
        if (fputc(*s, f) == EOF)
            return -1;
    }
    return fputc('"', f) == EOF ? -1 : 0;
}
