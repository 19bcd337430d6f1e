/* Source strings: kind, redaction after libpq's grammar (a table of hostile strings whose
 * expected outputs are worked out by hand), passwords never in a truncated output, and
 * absolute paths that never touch a conninfo string. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <CUnit/CUnit.h>
#include "test_list.h"
#include "up_source.h"

struct redact_case {
    const char *in;
    const char *want;
    const char *secret; /* a byte string that must never appear in any output */
};

/* Each expected output follows libpq (fe-connect.c conninfo_parse, conninfo_uri_parse):
 * what libpq would take as the password is hidden, the rest is kept byte for byte. */
static const struct redact_case cases[] = {
    /* The issue's examples. */
    {"host=db password='se cret' dbname=x", "host=db password=*** dbname=x", "cret"},
    {"password = SECRET", "password = ***", "SECRET"},
    {"password='SE CRET'", "password=***", "CRET"},
    {"postgresql://u@h/db?password=abc&sslmode=require",
     "postgresql://u@h/db?password=***&sslmode=require", "abc"},
    {"postgresql://postgres:SECRET@127.0.0.1:55432/uptime_test",
     "postgresql://postgres:***@127.0.0.1:55432/uptime_test", "SECRET"},
    /* key=value: quotes, backslash escapes, whitespace. */
    {"password='it\\'s se\\\\cret' host=h", "password=*** host=h", "cret"},
    {"password=a\\ b host=h", "password=*** host=h", "a\\"},
    {"password=a=b host=h", "password=*** host=h", "a=b"},
    {"host=h\tpassword=\tX1Y\ndbname=d", "host=h\tpassword=\t***\ndbname=d", "X1Y"},
    {"host=h password=abc\\", "host=h password=***", "abc"},
    /* libpq skips whitespace after '=': the password of "password= host=h" is "host=h". */
    {"password= host=h", "password= ***", NULL},
    {"password='' host=h", "password=*** host=h", NULL},
    {"host=h password=", "host=h password=", NULL},
    {"password=first host=h password=second", "password=*** host=h password=***", "first"},
    {"password=first host=h password=second", "password=*** host=h password=***", "second"},
    {"sslpassword=keypw host=h", "sslpassword=*** host=h", "keypw"},
    /* libpq refuses these; the strings still reach messages, so their secret is hidden. */
    {"PASSWORD=Upper host=h", "PASSWORD=*** host=h", "Upper"},
    {"host=db password=se cret dbname=x", "host=db password=*** dbname=x", "cret"},
    {"password='a'tail dbname=x", "password=*** dbname=x", "tail"},
    {"password SECRET dbname=x", "password*** dbname=x", "SECRET"},
    {"host=h password='unterminated rest", "host=h password=***", "rest"},
    /* Values that only look like secrets are kept. */
    {"dbname='password=x' host=h", "dbname='password=x' host=h", NULL},
    {"host=/tmp port=5433 dbname=uptime user=app", "host=/tmp port=5433 dbname=uptime user=app",
     NULL},
    /* URIs: the userinfo password, whatever it holds. */
    {"postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db", "p%40ss"},
    {"postgresql://u:p@ss@h/db", "postgresql://u:***@h/db", "ss@"},
    {"postgresql://u:pa:ss@h/db", "postgresql://u:***@h/db", "pa:ss"},
    {"postgresql://u:pa/ss@h/db", "postgresql://u:***@h/db", "pa/ss"},
    {"postgresql://u:pa?ss@h/db", "postgresql://u:***@h/db", "pa?ss"},
    {"postgresql://u:pa=ss@h/db", "postgresql://u:***@h/db", "pa=ss"},
    {"postgresql://u:pa ss@h/db", "postgresql://u:***@h/db", "pa ss"},
    {"postgresql://u:@h/db", "postgresql://u:@h/db", NULL},
    {"postgres://u:pw@h", "postgres://u:***@h", NULL},
    {"postgresql://u:pw@[::1]:5432/db", "postgresql://u:***@[::1]:5432/db", NULL},
    {"postgresql://u:pw@h1:5432,h2:5433/db?target_session_attrs=any",
     "postgresql://u:***@h1:5432,h2:5433/db?target_session_attrs=any", NULL},
    /* URIs: query parameters, every one after the password kept. */
    {"postgresql://u:pw@h/db?sslmode=require&password=x1&application_name=a%20b",
     "postgresql://u:***@h/db?sslmode=require&password=***&application_name=a%20b", "x1"},
    {"postgresql://h/db?pass%77ord=x2&sslmode=require",
     "postgresql://h/db?pass%77ord=***&sslmode=require", "x2"},
    {"postgresql://h/db?password=ab&cd&sslmode=require",
     "postgresql://h/db?password=***&sslmode=require", "cd"},
    {"postgresql://h/db?sslpassword=k3&password=k4",
     "postgresql://h/db?sslpassword=***&password=***", "k3"},
    {"postgresql://u@h/db?application_name=a@b", "postgresql://u@h/db?application_name=a@b", NULL},
    {"postgresql://u@h:5432/db", "postgresql://u@h:5432/db", NULL},
    /* A mistyped scheme is no libpq URI, but its password is someone's password. */
    {"postgressql://u:pw5@h/db", "postgressql://u:***@h/db", "pw5"},
    /* Not PostgreSQL: unchanged. */
    {"data/uptime.db", "data/uptime.db", NULL},
    {"sqlite:/var/lib/up.db", "sqlite:/var/lib/up.db", NULL},
    {"mem:basic", "mem:basic", NULL},
};

static void test_redact_table(void)
{
    char out[512];
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        up_source_redact(cases[i].in, out, sizeof out);
        if (strcmp(out, cases[i].want) != 0)
            fprintf(stderr, "\nredact(\"%s\") = \"%s\", expected \"%s\"\n", cases[i].in, out,
                    cases[i].want);
        CU_ASSERT_STRING_EQUAL(out, cases[i].want);
        if (cases[i].secret)
            CU_ASSERT_PTR_NULL(strstr(out, cases[i].secret));
    }
}

/* Every output length: a prefix of the full answer, terminated, never a secret byte run. */
static void test_redact_truncated(void)
{
    char full[512], out[512];
    size_t i, n;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        up_source_redact(cases[i].in, full, sizeof full);
        for (n = 1; n <= strlen(full) + 1; n++) {
            memset(out, 'Z', sizeof out);
            up_source_redact(cases[i].in, out, n);
            CU_ASSERT_TRUE(strlen(out) < n);
            CU_ASSERT_EQUAL(strncmp(out, full, strlen(out)), 0);
            if (cases[i].secret)
                CU_ASSERT_PTR_NULL(strstr(out, cases[i].secret));
        }
    }
    up_source_redact("postgresql://u:SECRET@h/db", out, 18);
    CU_ASSERT_STRING_EQUAL(out, "postgresql://u:");
    up_source_redact("postgresql://u:SECRET@h/db", out, 0); /* n = 0 writes nothing */
}

/* Longer than the redactor's stack buffer: the same grammar on the heap. */
static void test_redact_long(void)
{
    size_t n = 5000;
    char *in = malloc(n + 64), *out = malloc(n + 64);

    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    memcpy(in, "host=h password=", 16);
    memset(in + 16, 'x', n);
    snprintf(in + 16 + n, 48, " dbname=d");
    up_source_redact(in, out, n + 64);
    CU_ASSERT_STRING_EQUAL(out, "host=h password=*** dbname=d");
    CU_ASSERT_TRUE(up_source_has_password(in));
    free(in);
    free(out);
}

static void test_has_password(void)
{
    CU_ASSERT_TRUE(up_source_has_password("host=h password='a b'"));
    CU_ASSERT_TRUE(up_source_has_password("postgresql://u:pw@h/db"));
    CU_ASSERT_TRUE(up_source_has_password("postgresql://h/db?password=x"));
    CU_ASSERT_FALSE(up_source_has_password("postgresql://u@h/db"));
    CU_ASSERT_FALSE(up_source_has_password("postgresql://u:@h/db"));
    CU_ASSERT_FALSE(up_source_has_password("host=h dbname=d"));
    CU_ASSERT_FALSE(up_source_has_password("data/uptime.db"));
}

static void test_kind(void)
{
    CU_ASSERT_EQUAL(up_source_kind("postgresql://h/db"), UP_SOURCE_PG_URI);
    CU_ASSERT_EQUAL(up_source_kind("postgres://h/db"), UP_SOURCE_PG_URI);
    CU_ASSERT_EQUAL(up_source_kind("host=db.example dbname=uptime user=app"), UP_SOURCE_PG_KV);
    CU_ASSERT_EQUAL(up_source_kind("dbname=uptime"), UP_SOURCE_PG_KV);
    CU_ASSERT_EQUAL(up_source_kind("data/uptime.db"), UP_SOURCE_SQLITE);
    CU_ASSERT_EQUAL(up_source_kind("sqlite:a=b.db"), UP_SOURCE_SQLITE);
    CU_ASSERT_EQUAL(up_source_kind("snap.h5"), UP_SOURCE_HDF5);
    CU_ASSERT_EQUAL(up_source_kind("hdf5:snap"), UP_SOURCE_HDF5);
    CU_ASSERT_EQUAL(up_source_kind("mem:x"), UP_SOURCE_MEM);
    CU_ASSERT_STRING_EQUAL(up_source_kind_name(UP_SOURCE_PG_KV), "postgresql");
    CU_ASSERT_STRING_EQUAL(up_source_kind_name(UP_SOURCE_SQLITE), "sqlite");
}

static void test_absolute(void)
{
    char cwd[4096], want[8192], out[8192];

    CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
    /* The issue's bug 2: a key=value conninfo is no path. */
    CU_ASSERT_EQUAL(up_source_absolute("host=db.example dbname=uptime user=app", out, sizeof out),
                    0);
    CU_ASSERT_STRING_EQUAL(out, "host=db.example dbname=uptime user=app");
    CU_ASSERT_EQUAL(up_source_absolute("postgresql://u@h/db", out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(out, "postgresql://u@h/db");
    CU_ASSERT_EQUAL(up_source_absolute("mem:basic", out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(out, "mem:basic");
    CU_ASSERT_EQUAL(up_source_absolute("/srv/up.db", out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(out, "/srv/up.db");

    CU_ASSERT_EQUAL(up_source_absolute("data/uptime.db", out, sizeof out), 0);
    snprintf(want, sizeof want, "%s/data/uptime.db", cwd);
    CU_ASSERT_STRING_EQUAL(out, want);
    CU_ASSERT_EQUAL(up_source_absolute("sqlite:u.db", out, sizeof out), 0);
    snprintf(want, sizeof want, "sqlite:%s/u.db", cwd);
    CU_ASSERT_STRING_EQUAL(out, want);
    CU_ASSERT_EQUAL(up_source_absolute("hdf5:s.h5", out, sizeof out), 0);
    snprintf(want, sizeof want, "hdf5:%s/s.h5", cwd);
    CU_ASSERT_STRING_EQUAL(out, want);
    CU_ASSERT_EQUAL(up_source_absolute("s.h5", out, sizeof out), 0);
    snprintf(want, sizeof want, "%s/s.h5", cwd);
    CU_ASSERT_STRING_EQUAL(out, want);
    /* Too small a buffer is an error, never a cut path. */
    CU_ASSERT_EQUAL(up_source_absolute("data/uptime.db", out, 5), -1);
}

int test_source_add(void)
{
    CU_pSuite s = CU_add_suite("source", NULL, NULL);

    if (!s || !CU_add_test(s, "redaction: hostile strings", test_redact_table) ||
        !CU_add_test(s, "redaction: every truncation", test_redact_truncated) ||
        !CU_add_test(s, "redaction: long source", test_redact_long) ||
        !CU_add_test(s, "has_password", test_has_password) || !CU_add_test(s, "kind", test_kind) ||
        !CU_add_test(s, "absolute path, never a conninfo", test_absolute))
        return CU_get_error();
    return CUE_SUCCESS;
}
