/*
 * Streaming CSV input over libcsv (up_csvin.h).
 *
 * The file is split into physical lines here, and libcsv is fed one line at a
 * time, so that every record knows the physical line where it starts. The raw
 * bytes of a record that is still open (a quoted field spanning lines) are kept
 * until it completes; if it turns out to be broken, it is rejected on its start
 * line and the lines after that are parsed again, so that no valid row is lost.
 * Every buffer is an up_buf capped by UP_CSV_MAX_RECORD (the replay buffer by twice
 * that), so memory stays flat whatever the size of the file.
 */
#include "up_csvin.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "up_buf.h"
#include "up_deadline.h"
#include "up_err.h"
#include "up_rows.h"

/* Size of the fixed read buffer (decompressed bytes). 256 KiB: fewer system calls than
 * 64 KiB, measured a few percent faster on a 1 GB file, and still small. */
#define CSVIN_READ_BUF (256 * 1024)
/* Size of the compressed-input buffer of a gzip file. */
#define CSVIN_GZ_BUF (64 * 1024)
/* libcsv grows its field buffer linearly by this step; a large step keeps long fields cheap. */
#define CSVIN_CSV_BLOCK 16384
/* Bytes of input shown in rec->raw before it is cut with "...". */
#define CSVIN_RAW_MAX 200
/* Worst case of rec->raw: RAW_MAX bytes plus one escape, "..." and the NUL. */
#define CSVIN_RAW_BUF (CSVIN_RAW_MAX + 16)
/* Bytes kept of a line longer than the cap, enough to build its raw text. */
#define CSVIN_PREFIX_MAX (CSVIN_RAW_MAX + 8)
#define CSVIN_DETAIL_MAX 128
#define CSVIN_OPTIONS (CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)

/* One physical line handed out by the line source. */
struct csvin_line {
    const char *p; /* the line's bytes, terminator included (a prefix if overlong) */
    size_t n;      /* number of bytes at p */
    long no;       /* physical line number */
    int has_lf;    /* 0 only for a last line without final newline */
    int overlong;  /* the line is longer than UP_CSV_MAX_RECORD; p holds a prefix */
    int replayed;  /* p points into the replay buffer */
    int eof;       /* no line: end of input */
};

struct up_csvin {
    char *path;
    int fd;              /* the file, or 0 for "-" (standard input, not closed) */
    int own_fd;          /* fd is ours to close */
    int64_t size;        /* bytes of the file when it is a regular file, else -1 */
    int64_t nread;       /* bytes read from fd so far (compressed bytes for gzip) */
    int gz;              /* the input is gzip: rbuf is filled through zs */
    int gz_end;          /* the last gzip member ended and no input is left */
    int fd_eof;          /* read() returned 0 */
    int timed_out;       /* no input came before the run's --timeout (a pipe, a terminal) */
    z_stream zs;         /* gzip state (inflateInit2 done iff gz) */
    unsigned char *zbuf; /* compressed bytes not yet inflated */
    struct csv_parser csv;
    int csv_ready;

    /* Requested columns: col_idx[j] is the header index of column j. */
    size_t ncols;
    size_t *col_idx;
    /* Every accepted name of every column, flattened, with its header hits. */
    size_t nnames;
    const char **names;
    size_t *name_len;
    size_t *name_col;
    size_t *hit_cnt;
    size_t *hit_idx;
    size_t nhdr;
    int in_header;

    /* File reader: a fixed buffer and the current line (capped). */
    unsigned char *rbuf;
    size_t rpos, rlen;
    int eof;
    struct up_buf line; /* bytes; cap UP_CSV_MAX_RECORD */
    char prefix[CSVIN_PREFIX_MAX];
    size_t prefix_len;
    int deferred; /* the overlong line in prefix must be handed out again */

    /* Lines to parse again before reading on (after a broken multi-line record). */
    struct up_buf rp; /* bytes; cap 2 * UP_CSV_MAX_RECORD + 2 (see reject_broken) */
    size_t rp_pos;
    long next_no;

    /* The record being assembled: its raw lines and start line. */
    int pending;
    long rec_start;
    struct up_buf rec; /* bytes; cap UP_CSV_MAX_RECORD */

    /* Fields of the record being assembled. */
    size_t nfields;
    int row_done;
    int utf8_bad;
    int nomem;
    struct up_buf fbuf; /* the requested fields, each NUL-terminated */
    size_t *foff;
    size_t *flen;
    int *fset;
    const char **fptr;

    char raw[CSVIN_RAW_BUF];
    char detail[CSVIN_DETAIL_MAX];
};

/* The whitespace SPEC §5 trims: space, TAB, CR, LF, VT, FF. */
static int is_trim_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/*
 * libcsv's notion of space, used around unquoted fields and after closing
 * quotes. CR is one so that CRLF after a quoted field is not a strict error,
 * and LF is not one because it is the only record terminator.
 */
static int csv_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Only LF ends a record: a lone CR inside a line must not split it in two. */
static int csv_term(unsigned char c)
{
    return c == '\n';
}

/* The bytes of a byte buffer. */
static char *bytes(const struct up_buf *b)
{
    return b->p;
}

/* (Re)starts libcsv in a clean state: after a strict error its state is unusable. */
static void csv_restart(struct up_csvin *in)
{
    if (in->csv_ready)
        csv_free(&in->csv);
    /* csv_init fails only for a NULL parser. */
    (void)csv_init(&in->csv, CSVIN_OPTIONS);
    csv_set_space_func(&in->csv, csv_space);
    csv_set_term_func(&in->csv, csv_term);
    csv_set_blk_size(&in->csv, CSVIN_CSV_BLOCK);
    in->csv_ready = 1;
}

/*
 * Checks s[0..n) as UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
 * Returns 0, or -1 with a description of the first fault in msg.
 */
static int utf8_check(const unsigned char *s, size_t n, char *msg, size_t msglen)
{
    size_t i = 0;

    /* ASCII, eight bytes at a time, until the first byte with its high bit set. */
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & UINT64_C(0x8080808080808080))
            break;
        i += 8;
    }
    while (i < n) {
        unsigned c = s[i];
        unsigned long cp, min;
        size_t need, k;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC0 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            snprintf(msg, msglen, "byte 0x%02x at offset %zu", c, i);
            return -1;
        }
        for (k = 1; k <= need; k++) {
            if (i + k >= n || (s[i + k] & 0xC0) != 0x80) {
                snprintf(msg, msglen, "truncated sequence at offset %zu", i);
                return -1;
            }
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min) {
            snprintf(msg, msglen, "overlong encoding at offset %zu", i);
            return -1;
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            snprintf(msg, msglen, "surrogate U+%04lX at offset %zu", cp, i);
            return -1;
        }
        if (cp > 0x10FFFF) {
            snprintf(msg, msglen, "code point above U+10FFFF at offset %zu", i);
            return -1;
        }
        i += need + 1;
    }
    return 0;
}

/* Length of a line without its terminator (LF, and a CR before it). */
static size_t content_len(const char *p, size_t n)
{
    if (n > 0 && p[n - 1] == '\n')
        n--;
    if (n > 0 && p[n - 1] == '\r')
        n--;
    return n;
}

/*
 * Builds a printable copy of a line's start into out (CSVIN_RAW_BUF bytes), escaped as
 * every value of the rejects file is (up_reject_escape: controls, C1, bytes that are not
 * UTF-8 and the backslash become \xNN), so that a reject can be shown on a terminal or in
 * a log; more than CSVIN_RAW_MAX bytes, or a line known to be cut (cut != 0), end in "...".
 */
static void make_raw(char *out, const char *line, size_t n, int cut)
{
    size_t used, o;

    n = content_len(line, n);
    o = up_reject_escape(out, CSVIN_RAW_MAX + 1, line, n, &used);
    if (cut || used < n)
        memcpy(out + o, "...", 4);
}

/* Keeps the start of an overlong line (for its raw text), up to CSVIN_PREFIX_MAX. */
static void prefix_add(struct up_csvin *in, const char *p, size_t n)
{
    size_t room = sizeof in->prefix - in->prefix_len;

    if (n > room)
        n = room;
    memcpy(in->prefix + in->prefix_len, p, n);
    in->prefix_len += n;
}

/*
 * Waits for input on what may block (a pipe, a terminal, a socket: not a regular file)
 * until the run's --timeout (up_deadline): 0 when read() may go on (input, its end, an
 * error read() will name, or no limit), -1 with timed_out set when the limit passed first.
 */
static int wait_input(struct up_csvin *in)
{
    for (;;) {
        int64_t left = up_deadline_left_ms();
        struct pollfd p;
        int r;

        if (left == INT64_MAX)
            return 0;
        if (left <= 0) {
            in->timed_out = 1;
            return -1;
        }
        p.fd = in->fd;
        p.events = POLLIN;
        p.revents = 0;
        r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r > 0 || (r < 0 && errno != EINTR))
            return 0;
    }
}

/* read() without EINTR, bounded by the run's --timeout when the input may block; counts
 * the bytes. Returns the count, 0 at the end, -1 on error (errno; ETIMEDOUT with
 * timed_out set when the limit passed). */
static ssize_t read_fd(struct up_csvin *in, void *buf, size_t n)
{
    ssize_t r;

    if (in->size < 0 && wait_input(in) != 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    do
        r = read(in->fd, buf, n);
    while (r < 0 && errno == EINTR);
    if (r > 0)
        in->nread += r;
    return r;
}

/*
 * Inflates gzip input into buf (at most n bytes). Returns the bytes produced (0 only at
 * the clean end of the last member), -1 with a message on a read error (UP_EIO) or -2 on
 * damaged or truncated data (UP_EUSAGE: the input is unreadable, like a missing file).
 * Concatenated members (gzip's own "cat a.gz b.gz") are read one after the other.
 */
static ssize_t gz_read(struct up_csvin *in, unsigned char *buf, size_t n, char *err, size_t errlen)
{
    in->zs.next_out = buf;
    in->zs.avail_out = (uInt)n;
    while (in->zs.avail_out == n && !in->gz_end) {
        int z;

        if (in->zs.avail_in == 0 && !in->fd_eof) {
            ssize_t r = read_fd(in, in->zbuf, CSVIN_GZ_BUF);
            if (r < 0) {
                up_errf(UP_EIO, err, errlen, "%s: read error: %s", in->path, strerror(errno));
                return -1;
            }
            if (r == 0)
                in->fd_eof = 1;
            in->zs.next_in = in->zbuf;
            in->zs.avail_in = (uInt)r;
        }
        z = inflate(&in->zs, Z_NO_FLUSH);
        if (z == Z_STREAM_END) {
            /* Another member may follow; only the end of the input ends the data. */
            if (in->zs.avail_in == 0 && !in->fd_eof) {
                ssize_t r = read_fd(in, in->zbuf, CSVIN_GZ_BUF);
                if (r < 0) {
                    up_errf(UP_EIO, err, errlen, "%s: read error: %s", in->path, strerror(errno));
                    return -1;
                }
                in->fd_eof = r == 0;
                in->zs.next_in = in->zbuf;
                in->zs.avail_in = (uInt)r;
            }
            if (in->zs.avail_in == 0 && in->fd_eof)
                in->gz_end = 1;
            else if (inflateReset(&in->zs) != Z_OK)
                goto damaged;
            continue;
        }
        if (z == Z_BUF_ERROR && in->zs.avail_in == 0 && in->fd_eof) {
            up_errf(UP_EUSAGE, err, errlen,
                    "%s: truncated gzip data (the input ends inside a compressed stream,"
                    " after %lld compressed bytes)",
                    in->path, (long long)in->nread);
            return -2;
        }
        if (z != Z_OK && z != Z_BUF_ERROR)
            goto damaged;
    }
    return (ssize_t)(n - in->zs.avail_out);
damaged:
    up_errf(UP_EUSAGE, err, errlen, "%s: damaged gzip data near compressed byte %lld: %s", in->path,
            (long long)in->nread, in->zs.msg ? in->zs.msg : "invalid data");
    return -2;
}

/* Reads at most n bytes of content into buf: 0 only at the end. Returns the count or -1
 * (UP_EIO) / -2 (UP_EUSAGE) with the message in err. */
static ssize_t read_some(struct up_csvin *in, unsigned char *buf, size_t n, char *err,
                         size_t errlen)
{
    ssize_t r;

    if (in->gz)
        return gz_read(in, buf, n, err, errlen);
    r = read_fd(in, buf, n);
    if (r < 0) {
        up_errf(UP_EIO, err, errlen, "%s: read error: %s", in->path, strerror(errno));
        return -1;
    }
    return r;
}

/* The input did not come before the run's --timeout: UP_ETIMEOUT, naming the input. */
static enum up_code timed_out(const struct up_csvin *in, char *err, size_t errlen)
{
    char what[600];

    snprintf(what, sizeof what, "%.500s: waiting for input", in->path);
    return up_deadline_error(err, errlen, what);
}

/* Refills the read buffer; sets eof at the end of the input (rlen is 0 only then). */
static enum up_code fill(struct up_csvin *in, char *err, size_t errlen)
{
    ssize_t r = read_some(in, in->rbuf, CSVIN_READ_BUF, err, errlen);

    if (r < 0 && in->timed_out)
        return timed_out(in, err, errlen);
    if (r < 0)
        return r == -1 ? UP_EIO : UP_EUSAGE;
    in->rpos = 0;
    in->rlen = (size_t)r;
    if (r == 0)
        in->eof = 1;
    return UP_OK;
}

/*
 * Opens the input: a file, or standard input for "-"; gzip data (by its magic bytes, not
 * its name) is inflated on the way. Reads the first bytes into rbuf, at least 3 unless the
 * input is shorter, so that a BOM is seen whole even through a pipe.
 */
static enum up_code open_input(struct up_csvin *in, const char *path, char *err, size_t errlen)
{
    struct stat sb;
    unsigned char magic[2] = {0, 0};
    size_t have = 0;

    in->size = -1;
    if (strcmp(path, "-") == 0) {
        in->fd = STDIN_FILENO;
    } else {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0)
            return up_errf(UP_EUSAGE, err, errlen, "%s: cannot open: %s", path, strerror(errno));
        in->own_fd = 1;
    }
    if (fstat(in->fd, &sb) == 0 && S_ISREG(sb.st_mode))
        in->size = (int64_t)sb.st_size;
    else if (in->own_fd && S_ISDIR(sb.st_mode))
        return up_errf(UP_EUSAGE, err, errlen, "%s: cannot read: %s", path, strerror(EISDIR));
    /* The first two bytes say whether this is gzip (1f 8b); a pipe may hand them out
     * one at a time. */
    while (have < 2) {
        ssize_t r = read_fd(in, magic + have, 2 - have);
        if (r < 0 && in->timed_out)
            return timed_out(in, err, errlen);
        if (r < 0)
            return up_errf(UP_EUSAGE, err, errlen, "%s: cannot read: %s", path, strerror(errno));
        if (r == 0)
            break;
        have += (size_t)r;
    }
    if (have == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        in->zbuf = malloc(CSVIN_GZ_BUF);
        if (!in->zbuf)
            return up_errf(UP_ENOMEM, err, errlen, "%s: out of memory", path);
        /* 16 + MAX_WBITS: a gzip wrapper, not zlib's. */
        if (inflateInit2(&in->zs, 16 + MAX_WBITS) != Z_OK)
            return up_errf(UP_ENOMEM, err, errlen, "%s: cannot start zlib", path);
        in->gz = 1;
        memcpy(in->zbuf, magic, 2);
        in->zs.next_in = in->zbuf;
        in->zs.avail_in = 2;
        in->rlen = 0;
    } else {
        /* Both bytes copied; only the first have of them count. */
        in->rbuf[0] = magic[0];
        in->rbuf[1] = magic[1];
        in->rlen = have;
        if (have < 2)
            in->eof = 1;
    }
    while (in->rlen < 3 && !in->eof) {
        ssize_t r = read_some(in, in->rbuf + in->rlen, CSVIN_READ_BUF - in->rlen, err, errlen);
        if (r < 0 && in->timed_out)
            return timed_out(in, err, errlen);
        if (r < 0)
            return UP_EUSAGE;
        if (r == 0)
            in->eof = 1;
        in->rlen += (size_t)r;
    }
    in->rpos = 0;
    return UP_OK;
}

/* Reads the next physical line of the file into in->line (or a prefix if overlong). */
static enum up_code read_file_line(struct up_csvin *in, struct csvin_line *ln, char *err,
                                   size_t errlen)
{
    int got = 0;
    enum up_code rc;

    in->prefix_len = 0;
    in->line.n = 0;
    /* A line that lies whole in the read buffer is handed out where it is, uncopied. */
    if (in->rpos < in->rlen) {
        const unsigned char *s = in->rbuf + in->rpos;
        const unsigned char *lf = memchr(s, '\n', in->rlen - in->rpos);

        if (lf && (size_t)(lf - s) + 1 <= UP_CSV_MAX_RECORD) {
            ln->p = (const char *)s;
            ln->n = (size_t)(lf - s) + 1;
            ln->has_lf = 1;
            ln->no = in->next_no++;
            in->rpos += ln->n;
            return UP_OK;
        }
    }
    for (;;) {
        const unsigned char *s;
        const unsigned char *lf;
        size_t avail, chunk;

        if (in->rpos == in->rlen) {
            if (in->eof)
                break;
            rc = fill(in, err, errlen);
            if (rc != UP_OK)
                return rc;
            if (in->rlen == 0)
                break;
        }
        s = in->rbuf + in->rpos;
        avail = in->rlen - in->rpos;
        lf = memchr(s, '\n', avail);
        chunk = lf ? (size_t)(lf - s) + 1 : avail;
        got = 1;
        if (!ln->overlong && chunk > UP_CSV_MAX_RECORD - in->line.n) {
            /* Past the cap only a prefix is kept and the rest is skipped. */
            ln->overlong = 1;
            prefix_add(in, bytes(&in->line), in->line.n);
        }
        if (ln->overlong)
            prefix_add(in, (const char *)s, chunk);
        else if (up_buf_append(&in->line, s, chunk) != 0)
            /* Within the cap (checked above), so only memory can fail. */
            return up_errf(UP_ENOMEM, err, errlen, "%s: out of memory", in->path);
        in->rpos += chunk;
        if (lf) {
            ln->has_lf = 1;
            break;
        }
    }
    if (!got) {
        ln->eof = 1;
        return UP_OK;
    }
    if (ln->overlong) {
        ln->p = in->prefix;
        ln->n = in->prefix_len;
    } else {
        ln->p = bytes(&in->line);
        ln->n = in->line.n;
    }
    ln->no = in->next_no++;
    return UP_OK;
}

/* Hands out the next physical line: replayed lines first, then a deferred one, then the file. */
static enum up_code next_line(struct up_csvin *in, struct csvin_line *ln, char *err, size_t errlen)
{
    memset(ln, 0, sizeof *ln);
    if (in->rp_pos < in->rp.n) {
        const char *s = bytes(&in->rp) + in->rp_pos;
        size_t left = in->rp.n - in->rp_pos;
        const char *lf = memchr(s, '\n', left);

        ln->p = s;
        ln->n = lf ? (size_t)(lf - s) + 1 : left;
        ln->has_lf = lf != NULL;
        ln->replayed = 1;
        ln->no = in->next_no++;
        in->rp_pos += ln->n;
        return UP_OK;
    }
    if (in->deferred) {
        in->deferred = 0;
        ln->p = in->prefix;
        ln->n = in->prefix_len;
        ln->has_lf = 1;
        ln->overlong = 1;
        ln->no = in->next_no++;
        return UP_OK;
    }
    return read_file_line(in, ln, err, errlen);
}

/*
 * Puts p[0..n) in front of the lines still to replay. p never points into the
 * replay buffer. The result never exceeds twice the cap: see reject_broken.
 */
static int replay_prepend(struct up_csvin *in, const char *p, size_t n)
{
    size_t rest = in->rp.n - in->rp_pos;

    if (n == 0)
        return 0;
    /* The lines already handed out are dropped first, so only n + rest bytes count. */
    if (in->rp_pos > 0 && rest > 0)
        memmove(bytes(&in->rp), bytes(&in->rp) + in->rp_pos, rest);
    in->rp.n = rest;
    in->rp_pos = 0;
    if (up_buf_reserve(&in->rp, n) != 0)
        return -1;
    if (rest > 0)
        memmove(bytes(&in->rp) + n, bytes(&in->rp), rest);
    memcpy(bytes(&in->rp), p, n);
    in->rp.n = n + rest;
    return 0;
}

/* Fills rec as a reject of the pending (or given) line. */
static void set_reject(struct up_csvin *in, struct up_csv_record *rec, long line,
                       enum up_csv_reject reason)
{
    rec->kind = UP_CSV_REJECT;
    rec->line = line;
    rec->reason = reason;
    rec->detail = in->detail;
    rec->raw = in->raw;
}

/*
 * Rejects the pending record for broken quoting or size, then arranges for the
 * lines after its start line to be parsed again: those may be valid rows that
 * an unclosed quote swallowed. The pending record holds lines that came either
 * all from the replay buffer (then the new replay content is a part of the old
 * one) or partly from the file (then the old replay was empty), so the replay
 * buffer never needs more than the record plus one line.
 */
static enum up_code reject_broken(struct up_csvin *in, struct up_csv_record *rec,
                                  enum up_csv_reject reason, char *err, size_t errlen)
{
    const char *rb = bytes(&in->rec);
    const char *lf = memchr(rb, '\n', in->rec.n);
    size_t first = lf ? (size_t)(lf - rb) + 1 : in->rec.n;

    make_raw(in->raw, rb, first, 0);
    set_reject(in, rec, in->rec_start, reason);
    if (replay_prepend(in, rb + first, in->rec.n - first) != 0)
        return up_errf(UP_ENOMEM, err, errlen, "%s: out of memory", in->path);
    in->next_no = in->rec_start + 1;
    in->pending = 0;
    in->rec.n = 0;
    csv_restart(in);
    return UP_OK;
}

/* Stores a requested field's trimmed bytes; a column asked for twice shares one copy. */
static void store_field(struct up_csvin *in, size_t idx, const char *s, size_t n)
{
    size_t j, k;

    for (j = 0; j < in->ncols; j++) {
        if (in->col_idx[j] != idx)
            continue;
        for (k = 0; k < j; k++)
            if (in->col_idx[k] == idx)
                break;
        if (k < j) {
            in->foff[j] = in->foff[k];
            in->flen[j] = in->flen[k];
            in->fset[j] = 1;
            continue;
        }
        if (up_buf_reserve(&in->fbuf, n + 1) != 0) {
            in->nomem = 1;
            return;
        }
        memcpy(bytes(&in->fbuf) + in->fbuf.n, s, n);
        bytes(&in->fbuf)[in->fbuf.n + n] = '\0';
        in->foff[j] = in->fbuf.n;
        in->flen[j] = n;
        in->fset[j] = 1;
        in->fbuf.n += n + 1;
    }
}

/* Counts a header name against every accepted column name. */
static void match_header(struct up_csvin *in, size_t idx, const char *s, size_t n)
{
    size_t k;

    for (k = 0; k < in->nnames; k++) {
        if (in->name_len[k] != n || memcmp(in->names[k], s, n) != 0)
            continue;
        if (in->hit_cnt[k] == 0)
            in->hit_idx[k] = idx;
        in->hit_cnt[k]++;
    }
}

/* libcsv field callback: trims, checks UTF-8 in field order, keeps what is needed. */
static void on_field(void *field, size_t n, void *data)
{
    struct up_csvin *in = data;
    const char *s = field ? field : "";
    size_t idx = in->nfields++;

    while (n > 0 && is_trim_space((unsigned char)s[0]))
        s++, n--;
    while (n > 0 && is_trim_space((unsigned char)s[n - 1]))
        n--;
    if (in->in_header) {
        match_header(in, idx, s, n);
        return;
    }
    if (!in->utf8_bad) {
        char why[96];

        if (utf8_check((const unsigned char *)s, n, why, sizeof why) != 0) {
            in->utf8_bad = 1;
            snprintf(in->detail, sizeof in->detail, "field %zu: %s", idx + 1, why);
        }
    }
    store_field(in, idx, s, n);
}

/* libcsv record callback. */
static void on_row(int c, void *data)
{
    struct up_csvin *in = data;

    (void)c;
    in->row_done = 1;
}

/* Resets the per-record state when a new record starts on line no. */
static void begin_record(struct up_csvin *in, long no)
{
    size_t j;

    in->pending = 1;
    in->rec_start = no;
    in->rec.n = 0;
    in->nfields = 0;
    in->row_done = 0;
    in->utf8_bad = 0;
    in->nomem = 0;
    in->fbuf.n = 0;
    for (j = 0; j < in->ncols; j++)
        in->fset[j] = 0;
}

/*
 * Feeds one physical line to libcsv. Returns 0, 1 on a strict parse error
 * (detail filled), or -1 when libcsv ran out of memory.
 */
static int feed_line(struct up_csvin *in, const struct csvin_line *ln)
{
    size_t used = csv_parse(&in->csv, ln->p, ln->n, on_field, on_row, in);
    const char *what;

    /*
     * A last line without newline gets one, so that every record ends the same
     * way. LF never causes a strict error, so a short count here means memory.
     */
    if (used == ln->n && !ln->has_lf && csv_parse(&in->csv, "\n", 1, on_field, on_row, in) != 1)
        return -1;
    if (in->nomem)
        return -1;
    if (used == ln->n)
        return 0;
    if (csv_error(&in->csv) != CSV_EPARSE)
        return -1;
    what = ln->p[used] == '"' ? "stray quote" : "text after closing quote";
    if (ln->no == in->rec_start)
        snprintf(in->detail, sizeof in->detail, "%s at byte %zu", what, used + 1);
    else
        snprintf(in->detail, sizeof in->detail, "%s at line %ld byte %zu", what, ln->no, used + 1);
    return 1;
}

/* Turns a completed record into a row, or a UTF-8 / field count reject; rb[0..rn) are
 * the record's raw bytes (its first line is shown in a reject). */
static void finish_record_raw(struct up_csvin *in, struct up_csv_record *rec, const char *rb,
                              size_t rn)
{
    size_t j;

    in->pending = 0;
    rec->line = in->rec_start;
    if (in->in_header) {
        rec->kind = UP_CSV_ROW;
        return;
    }
    if (in->utf8_bad || in->nfields != in->nhdr) {
        const char *lf = memchr(rb, '\n', rn);
        size_t first = lf ? (size_t)(lf - rb) + 1 : rn;

        make_raw(in->raw, rb, first, 0);
        if (in->utf8_bad) {
            set_reject(in, rec, in->rec_start, UP_CSV_REJ_UTF8);
        } else {
            snprintf(in->detail, sizeof in->detail, "%zu field%s, expected %zu", in->nfields,
                     in->nfields == 1 ? "" : "s", in->nhdr);
            set_reject(in, rec, in->rec_start, UP_CSV_REJ_FIELDS);
        }
        return;
    }
    for (j = 0; j < in->ncols; j++) {
        in->fptr[j] = bytes(&in->fbuf) + in->foff[j];
    }
    rec->kind = UP_CSV_ROW;
    rec->field = in->fptr;
    rec->len = in->flen;
}

/* finish_record_raw over the record assembled in in->rec. */
static void finish_record(struct up_csvin *in, struct up_csv_record *rec)
{
    finish_record_raw(in, rec, bytes(&in->rec), in->rec.n);
}

/*
 * The fast path for a complete line without any '"' (nearly every line of a real
 * export): with no quote, libcsv (strict, LF the only terminator) would split it at
 * every comma and nothing else, so the fields are cut here directly, with the same
 * trimming, UTF-8 check and field count as on_field and finish_record apply. Saves
 * libcsv's per-byte callbacks and the copy of the line (measured: parsing 1.77 M polls
 * took about a third of the load's time through libcsv).
 */
static void split_line(struct up_csvin *in, const struct csvin_line *ln, size_t clen,
                       struct up_csv_record *rec)
{
    const char *s = ln->p, *end = ln->p + clen;

    begin_record(in, ln->no);
    for (;;) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *stop = comma ? comma : end;

        on_field((void *)(uintptr_t)s, (size_t)(stop - s), in);
        if (!comma)
            break;
        s = comma + 1;
    }
    finish_record_raw(in, rec, ln->p, ln->n);
}

/* Is every byte of s[0..n) whitespace (the terminator already removed)? */
static int all_space(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!is_trim_space((unsigned char)s[i]))
            return 0;
    return 1;
}

/* The record machine shared by the header and the data rows. */
static enum up_code read_record(struct up_csvin *in, struct up_csv_record *rec, char *err,
                                size_t errlen)
{
    for (;;) {
        struct csvin_line ln;
        enum up_code rc = next_line(in, &ln, err, errlen);
        int st;

        if (rc != UP_OK)
            return rc;
        if (ln.eof) {
            if (!in->pending) {
                rec->kind = UP_CSV_END;
                return UP_OK;
            }
            snprintf(in->detail, sizeof in->detail, "unterminated quote");
            return reject_broken(in, rec, UP_CSV_REJ_SYNTAX, err, errlen);
        }
        if (!in->pending) {
            size_t clen = content_len(ln.p, ln.n);

            if (ln.overlong) {
                make_raw(in->raw, ln.p, ln.n, 1);
                snprintf(in->detail, sizeof in->detail, "line longer than %d bytes",
                         UP_CSV_MAX_RECORD);
                set_reject(in, rec, ln.no, UP_CSV_REJ_TOO_LONG);
                return UP_OK;
            }
            if (clen == 0)
                continue;
            if (all_space(ln.p, clen)) {
                make_raw(in->raw, ln.p, ln.n, 0);
                snprintf(in->detail, sizeof in->detail, "line holds only whitespace");
                set_reject(in, rec, ln.no, UP_CSV_REJ_BLANK);
                return UP_OK;
            }
            if (!in->in_header && !memchr(ln.p, '"', clen)) {
                split_line(in, &ln, clen, rec);
                if (in->nomem)
                    return up_errf(UP_ENOMEM, err, errlen, "%s: out of memory", in->path);
                return UP_OK;
            }
            begin_record(in, ln.no);
        } else if (ln.overlong) {
            /* The overlong line is handed out again once the record's lines are replayed. */
            in->deferred = 1;
            snprintf(in->detail, sizeof in->detail, "quoted field still open after %d bytes",
                     UP_CSV_MAX_RECORD);
            return reject_broken(in, rec, UP_CSV_REJ_TOO_LONG, err, errlen);
        } else if (ln.n > UP_CSV_MAX_RECORD - in->rec.n) {
            /* This line must be parsed again after the record's own lines. */
            if (ln.replayed) {
                in->rp_pos -= ln.n;
            } else if (replay_prepend(in, ln.p, ln.n) != 0) {
                return up_errf(UP_ENOMEM, err, errlen, "%s: out of memory", in->path);
            }
            snprintf(in->detail, sizeof in->detail, "quoted field still open after %d bytes",
                     UP_CSV_MAX_RECORD);
            return reject_broken(in, rec, UP_CSV_REJ_TOO_LONG, err, errlen);
        }
        /* The cap was checked above, so this cannot fail for size. */
        if (up_buf_append(&in->rec, ln.p, ln.n) != 0)
            return up_errf(UP_ENOMEM, err, errlen, "%s: out of memory", in->path);
        st = feed_line(in, &ln);
        if (st < 0)
            return up_errf(UP_ENOMEM, err, errlen, "%s: out of memory while parsing line %ld",
                           in->path, ln.no);
        if (st > 0)
            return reject_broken(in, rec, UP_CSV_REJ_SYNTAX, err, errlen);
        if (in->row_done) {
            finish_record(in, rec);
            return UP_OK;
        }
    }
}

/* Allocates the per-column arrays and flattens the accepted names. */
static int setup_columns(struct up_csvin *in, const struct up_csv_column *cols, size_t ncols)
{
    size_t j, k, t = 0;

    for (j = 0; j < ncols; j++)
        for (k = 0; cols[j].names[k]; k++)
            t++;
    in->ncols = ncols;
    in->nnames = t;
    in->col_idx = calloc(ncols, sizeof *in->col_idx);
    in->foff = calloc(ncols, sizeof *in->foff);
    in->flen = calloc(ncols, sizeof *in->flen);
    in->fset = calloc(ncols, sizeof *in->fset);
    in->fptr = calloc(ncols, sizeof *in->fptr);
    in->names = calloc(t, sizeof *in->names);
    in->name_len = calloc(t, sizeof *in->name_len);
    in->name_col = calloc(t, sizeof *in->name_col);
    in->hit_cnt = calloc(t, sizeof *in->hit_cnt);
    in->hit_idx = calloc(t, sizeof *in->hit_idx);
    if (!in->col_idx || !in->foff || !in->flen || !in->fset || !in->fptr || !in->names ||
        !in->name_len || !in->name_col || !in->hit_cnt || !in->hit_idx)
        return -1;
    t = 0;
    for (j = 0; j < ncols; j++) {
        for (k = 0; cols[j].names[k]; k++, t++) {
            in->names[t] = cols[j].names[k];
            in->name_len[t] = strlen(cols[j].names[k]);
            in->name_col[t] = j;
        }
    }
    return 0;
}

/*
 * Chooses each column's header index: the first accepted name present wins,
 * and only that name must not appear twice. Returns UP_OK or UP_EUSAGE.
 */
static enum up_code choose_columns(struct up_csvin *in, long line, char *err, size_t errlen)
{
    size_t j, t = 0;

    for (j = 0; j < in->ncols; j++) {
        size_t first = t, k;
        int found = 0;

        for (; t < in->nnames && in->name_col[t] == j; t++) {
            if (found || in->hit_cnt[t] == 0)
                continue;
            found = 1;
            if (in->hit_cnt[t] > 1)
                return up_errf(UP_EUSAGE, err, errlen,
                               "%s: column \"%s\" appears %zu times in the header (line %ld)",
                               in->path, in->names[t], in->hit_cnt[t], line);
            in->col_idx[j] = in->hit_idx[t];
        }
        if (!found) {
            up_errf(UP_EUSAGE, err, errlen, "%s: missing column \"%s\"", in->path,
                    in->names[first]);
            for (k = first + 1; k < t; k++)
                up_errf_cat(UP_EUSAGE, err, errlen, " (or \"%s\")", in->names[k]);
            return up_errf_cat(UP_EUSAGE, err, errlen, " in the header (line %ld)", line);
        }
    }
    return UP_OK;
}

/* Reads and checks the header record. */
static enum up_code read_header(struct up_csvin *in, char *err, size_t errlen)
{
    struct up_csv_record rec;
    enum up_code rc;

    memset(&rec, 0, sizeof rec);
    in->in_header = 1;
    rc = read_record(in, &rec, err, errlen);
    in->in_header = 0;
    if (rc == UP_EIO)
        return UP_EUSAGE;
    if (rc != UP_OK)
        return rc;
    if (rec.kind == UP_CSV_END)
        return up_errf(UP_EUSAGE, err, errlen, "%s: empty file (no header line)", in->path);
    if (rec.kind == UP_CSV_REJECT)
        return up_errf(UP_EUSAGE, err, errlen, "%s: line %ld: bad header: %s (%s)", in->path,
                       rec.line, up_csv_reject_name(rec.reason), rec.detail);
    in->nhdr = in->nfields;
    return choose_columns(in, rec.line, err, errlen);
}

struct up_csvin *up_csvin_open(const char *path, const struct up_csv_column *cols, size_t ncols,
                               enum up_code *code, char *err, size_t errlen)
{
    struct up_csvin *in = NULL;
    enum up_code rc = UP_ENOMEM;
    size_t j;

    up_errf(UP_OK, err, errlen, "%s", "");
    if (!path || !cols || ncols == 0) {
        rc = up_errf(UP_EUSAGE, err, errlen, "up_csvin_open: no file or no columns given");
        goto fail;
    }
    for (j = 0; j < ncols; j++) {
        if (!cols[j].names || !cols[j].names[0]) {
            rc = up_errf(UP_EUSAGE, err, errlen, "%s: column %zu has no name", path, j + 1);
            goto fail;
        }
    }
    in = calloc(1, sizeof *in);
    if (!in)
        goto fail_nomem;
    up_buf_init(&in->line, 1, UP_CSV_MAX_RECORD);
    up_buf_init(&in->rec, 1, UP_CSV_MAX_RECORD);
    /* The replay buffer holds a record's lines after its first plus one more line. */
    up_buf_init(&in->rp, 1, 2 * (size_t)UP_CSV_MAX_RECORD + 2);
    /* Distinct requested fields are part of one record, so they fit in the cap. */
    up_buf_init(&in->fbuf, 1, (size_t)UP_CSV_MAX_RECORD + ncols + 2);
    in->path = strdup(path);
    in->rbuf = malloc(CSVIN_READ_BUF);
    if (!in->path || !in->rbuf || setup_columns(in, cols, ncols) != 0)
        goto fail_nomem;
    in->next_no = 1;
    rc = open_input(in, path, err, errlen);
    if (rc != UP_OK)
        goto fail;
    csv_restart(in);
    /* A UTF-8 byte order mark is not part of the first header name. */
    if (in->rlen >= 3 && memcmp(in->rbuf, "\xEF\xBB\xBF", 3) == 0)
        in->rpos = 3;
    rc = read_header(in, err, errlen);
    if (rc != UP_OK)
        goto fail;
    if (code)
        *code = UP_OK;
    return in;

fail_nomem:
    rc = up_errf(UP_ENOMEM, err, errlen, "%s: out of memory", path);
fail:
    up_csvin_free(in);
    if (code)
        *code = rc;
    return NULL;
}

enum up_code up_csvin_next(struct up_csvin *in, struct up_csv_record *rec, char *err, size_t errlen)
{
    rec->kind = UP_CSV_END;
    rec->line = 0;
    rec->reason = UP_CSV_REJ_NONE;
    rec->detail = "";
    rec->raw = "";
    rec->field = NULL;
    rec->len = NULL;
    in->nomem = 0;
    return read_record(in, rec, err, errlen);
}

size_t up_csvin_column_pos(const struct up_csvin *in, size_t col)
{
    /* An out-of-range column has no position; SIZE_MAX sorts after every real one. */
    if (!in || col >= in->ncols)
        return SIZE_MAX;
    return in->col_idx[col];
}

void up_csvin_progress(const struct up_csvin *in, int64_t *done, int64_t *total)
{
    *done = in ? in->nread : 0;
    *total = in ? in->size : -1;
}

const char *up_csvin_path(const struct up_csvin *in)
{
    return in ? in->path : NULL;
}

const char *up_csv_reject_name(enum up_csv_reject reason)
{
    switch (reason) {
    case UP_CSV_REJ_NONE:
        return "none";
    case UP_CSV_REJ_SYNTAX:
        return "broken quoting";
    case UP_CSV_REJ_TOO_LONG:
        return "record too long";
    case UP_CSV_REJ_BLANK:
        return "whitespace-only line";
    case UP_CSV_REJ_UTF8:
        return "invalid UTF-8";
    case UP_CSV_REJ_FIELDS:
        return "wrong field count";
    }
    return "unknown reason";
}

void up_csvin_free(struct up_csvin *in)
{
    if (!in)
        return;
    if (in->csv_ready)
        csv_free(&in->csv);
    if (in->own_fd)
        close(in->fd);
    if (in->gz)
        inflateEnd(&in->zs);
    free(in->zbuf);
    free(in->fptr);
    free(in->fset);
    free(in->flen);
    free(in->foff);
    up_buf_free(&in->fbuf);
    up_buf_free(&in->rec);
    up_buf_free(&in->rp);
    up_buf_free(&in->line);
    free(in->rbuf);
    free(in->hit_idx);
    free(in->hit_cnt);
    free(in->name_col);
    free(in->name_len);
    free(in->names);
    free(in->col_idx);
    free(in->path);
    free(in);
}
