/* Unit tests: the accounting LMDB (acctd/acctdb.c): write batches, look up
 * by queue id, recipient (case-insensitive) and job, sequence continuing
 * across a reopen, read-only opening of an empty database. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "acctdb.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/courser-acctdb-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[512];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

struct found {
    char lines[8][128];
    int n;
};

static void collect(const char *line, size_t len, void *arg)
{
    struct found *f = arg;

    assert_true(f->n < 8 && len < 128);
    memcpy(f->lines[f->n], line, len);
    f->lines[f->n][len] = '\0';
    f->n++;
}

static int lookup(struct acctdb *db, enum acctdb_index idx, const char *key, struct found *f)
{
    char err[256];

    memset(f, 0, sizeof(*f));
    int n = acctdb_lookup(db, idx, key, collect, f, err, sizeof(err));
    if (n < 0)
        print_message("lookup: %s\n", err);
    return n;
}

static void test_round_trip(void **state)
{
    char path[300], err[256];
    struct acctdb *db;
    struct found f;
    struct acctdb_item items[] = {
        { "d,line1", "QID1", "Alice@Example.COM", "job7" },
        { "t,line2", "QID2", "bob@example.com", NULL },
        { "d,line3", "QID1", "bob@example.com", "job7" },
    };
    struct acctdb_item more[] = { { "b,line4", "QID3", "alice@example.com", "" } };

    (void)state;
    snprintf(path, sizeof(path), "%s/acct.lmdb", dir);
    /* read-only before anything exists: refused (no environment) */
    assert_int_equal(acctdb_open(&db, path, 0, 1, err, sizeof(err)), -1);

    assert_int_equal(acctdb_open(&db, path, 1 << 20, 0, err, sizeof(err)), 0);
    assert_int_equal(lookup(db, ACCTDB_BY_RCPT, "alice@example.com", &f), 0);
    assert_int_equal(acctdb_put(db, items, 3, err, sizeof(err)), 0);
    assert_int_equal(lookup(db, ACCTDB_BY_QUEUE_ID, "QID1", &f), 2);
    assert_string_equal(f.lines[0], "d,line1");
    assert_string_equal(f.lines[1], "d,line3");
    assert_int_equal(lookup(db, ACCTDB_BY_RCPT, "ALICE@example.com", &f), 1);
    assert_string_equal(f.lines[0], "d,line1");
    assert_int_equal(lookup(db, ACCTDB_BY_RCPT, "bob@example.com", &f), 2);
    assert_string_equal(f.lines[0], "t,line2");
    assert_int_equal(lookup(db, ACCTDB_BY_JOB, "job7", &f), 2);
    assert_int_equal(lookup(db, ACCTDB_BY_JOB, "nojob", &f), 0);
    assert_int_equal(lookup(db, ACCTDB_BY_QUEUE_ID, "", &f), 0);
    acctdb_close(db);

    /* reopen: the sequence continues, old records stay */
    assert_int_equal(acctdb_open(&db, path, 1 << 20, 0, err, sizeof(err)), 0);
    assert_int_equal(acctdb_put(db, more, 1, err, sizeof(err)), 0);
    acctdb_close(db);
    assert_int_equal(acctdb_open(&db, path, 0, 1, err, sizeof(err)), 0);
    assert_int_equal(lookup(db, ACCTDB_BY_RCPT, "alice@example.com", &f), 2);
    assert_string_equal(f.lines[0], "d,line1");
    assert_string_equal(f.lines[1], "b,line4");
    assert_int_equal(lookup(db, ACCTDB_BY_QUEUE_ID, "QID3", &f), 1);
    acctdb_close(db);
}

/* acctdb_parse_line: RFC 4180 cells back into fields, damage refused. */
static void test_parse_line(void **state)
{
    struct acct_record r;
    char many[AF_COUNT * 2 + 8];
    const char *l1 = "d,,,a@x.test,\"b,\"\"q\"\"\",";
    int i;

    (void)state;
    assert_int_equal(acctdb_parse_line(l1, strlen(l1), &r), 0);
    assert_string_equal(r.v[AF_TYPE], "d");
    assert_null(r.v[AF_TIME_LOGGED]);
    assert_string_equal(r.v[AF_ORIG], "a@x.test");
    assert_string_equal(r.v[AF_RCPT], "b,\"q\"");
    assert_null(r.v[AF_ORCPT]);
    acct_record_free(&r);
    /* only the first len bytes count */
    assert_int_equal(acctdb_parse_line("rb,zzz", 2, &r), 0);
    assert_string_equal(r.v[AF_TYPE], "rb");
    assert_null(r.v[AF_TIME_LOGGED]);
    acct_record_free(&r);
    assert_int_equal(acctdb_parse_line("d,\"open", 7, &r), -1);
    assert_int_equal(acctdb_parse_line("d,\"a\"b", 6, &r), -1);
    assert_int_equal(acctdb_parse_line("d,a\"b", 5, &r), -1);
    assert_int_equal(acctdb_parse_line("d\0x", 3, &r), -1);
    assert_int_equal(acctdb_parse_line("\"\0\"", 3, &r), -1);     /* found by the fuzz target */
    for (i = 0; i < AF_COUNT; i++)
        assert_null(r.v[i]);
    /* AF_COUNT fields fit, one more does not */
    memset(many, ',', sizeof(many));
    assert_int_equal(acctdb_parse_line(many, AF_COUNT - 1, &r), 0);
    acct_record_free(&r);
    assert_int_equal(acctdb_parse_line(many, AF_COUNT, &r), -1);
}

static void test_map_grows(void **state)
{
    char path[300], err[256], line[2048];
    struct acctdb_item it[64];
    struct acctdb *db;
    struct found f;
    int i, round;

    (void)state;
    snprintf(path, sizeof(path), "%s/small.lmdb", dir);
    /* 64 KiB map: far too small for 1000 x 2 KiB lines; must grow */
    assert_int_equal(acctdb_open(&db, path, 64 * 1024, 0, err, sizeof(err)), 0);
    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    for (i = 0; i < 64; i++) {
        it[i].line = line;
        it[i].queue_id = "Q";
        it[i].rcpt = NULL;
        it[i].job_id = NULL;
    }
    for (round = 0; round < 16; round++)
        assert_int_equal(acctdb_put(db, it, 64, err, sizeof(err)), 0);
    memset(&f, 0, sizeof(f));
    acctdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_grows, setup, teardown),
        cmocka_unit_test(test_parse_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
