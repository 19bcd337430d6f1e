#include "test_store_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <CUnit/CUnit.h>
#include "up_time.h"

#define SEC(x) ((int64_t)(x)*UP_USEC_PER_SEC)

void sink_add(struct sink *s, const char *fmt, ...)
{
    va_list ap;
    int k;

    va_start(ap, fmt);
    k = vsnprintf(s->text + s->n, sizeof s->text - s->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        s->n += (size_t)k;
    if (s->n >= sizeof s->text)
        s->n = sizeof s->text - 1;
}

void sink_reset(struct sink *s)
{
    s->n = 0;
    s->text[0] = '\0';
}

int sink_store(void *ctx, const char *id, int64_t npolls)
{
    sink_add(ctx, "%s:%lld;", id, (long long)npolls);
    return 0;
}

int sink_hours(void *ctx, const char *id, const struct up_hours_row *h)
{
    sink_add(ctx, "%s:%d:%lld-%lld;", id, h->day, (long long)(h->start_us / UP_USEC_PER_HOUR),
             (long long)(h->end_us / UP_USEC_PER_HOUR));
    return 0;
}

int sink_tz(void *ctx, const char *id, const char *zone)
{
    sink_add(ctx, "%s:%s;", id, zone);
    return 0;
}

int sink_poll(void *ctx, const char *id, int64_t ts, int active)
{
    sink_add(ctx, "%s@%lld=%d;", id, (long long)(ts / UP_USEC_PER_SEC), active);
    return 0;
}

struct up_store_sink sink_all(struct sink *s)
{
    struct up_store_sink k = {sink_store, sink_hours, sink_tz, sink_poll, s, NULL, NULL};
    return k;
}

void store_load_basic(struct up_store *st)
{
    char err[512];
    struct up_hours_row h1 = {0, SEC(9 * 3600), SEC(17 * 3600)};
    struct up_hours_row h2 = {1, SEC(10 * 3600), SEC(12 * 3600)};

    CU_ASSERT_EQUAL_FATAL(up_store_begin(st, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_timezone(st, "a", "Asia/Kolkata", err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "a", &h1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "a", &h2, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_hours(st, "hoursonly", &h1, err, sizeof err), UP_OK);
    /* Byte-wise order: "0123" < "123" < "B" < "a" < "é" (0xC3). */
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(100), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "123", SEC(50), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "0123", SEC(60), 0, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "B", SEC(70), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "\xc3\xa9", SEC(80), 1, err, sizeof err), UP_OK);
    /* A duplicate poll merges: inactive wins whatever the order. */
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(200), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(200), 0, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL(up_store_put_status(st, "a", SEC(200), 1, err, sizeof err), UP_OK);
    CU_ASSERT_EQUAL_FATAL(up_store_commit(st, err, sizeof err), UP_OK);
}
