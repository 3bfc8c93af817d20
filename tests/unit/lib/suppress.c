/* Unit tests: the suppression store (lib/suppress.c): put/get/check with
 * scopes and case folding, delete, listing, a read-only reader seeing the
 * writer's changes, batch puts, and the value codec's refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "suppress.h"

static char dir[256];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/courser-suppress-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct suppress_entry entry(const char *reason, const char *source, int64_t t)
{
    struct suppress_entry e;

    memset(&e, 0, sizeof(e));
    e.time = t;
    snprintf(e.reason, sizeof(e.reason), "%s", reason);
    snprintf(e.source, sizeof(e.source), "%s", source);
    snprintf(e.detail, sizeof(e.detail), "5.1.1 QID");
    return e;
}

static void test_put_get(void **state)
{
    char err[512];
    struct suppress_db *db = suppress_open(dir, 0, err, sizeof(err));
    struct suppress_entry e = entry("bad-mailbox", "b", 1764633600), got;

    assert_non_null(db);
    assert_int_equal(suppress_get(db, "*", "x@example.com", &got), 0);
    assert_int_equal(suppress_put(db, "*", "John.Doe@Example.COM", &e), 0);
    assert_int_equal(suppress_get(db, "*", "john.doe@example.com", &got), 1);
    assert_int_equal(got.time, 1764633600);
    assert_string_equal(got.reason, "bad-mailbox");
    assert_string_equal(got.source, "b");
    assert_string_equal(got.detail, "5.1.1 QID");
    assert_int_equal(suppress_get(db, "*", "<JOHN.DOE@example.com>", NULL), 1);
    /* scopes: an entry for one sender domain only */
    e = entry("complaint", "f", 5);
    assert_int_equal(suppress_put(db, "shop.test", "jane@example.com", &e), 0);
    assert_int_equal(suppress_check(db, "jane@example.com", "shop.test", &got), 1);
    assert_string_equal(got.reason, "complaint");
    assert_int_equal(suppress_check(db, "jane@example.com", "other.test", &got), 0);
    assert_int_equal(suppress_check(db, "jane@example.com", NULL, &got), 0);
    assert_int_equal(suppress_check(db, "john.doe@example.com", "other.test", &got), 1);
    /* replace */
    e = entry("inactive-mailbox", "rb", 7);
    assert_int_equal(suppress_put(db, "*", "john.doe@example.com", &e), 0);
    assert_int_equal(suppress_get(db, "*", "john.doe@example.com", &got), 1);
    assert_string_equal(got.reason, "inactive-mailbox");
    /* delete */
    assert_int_equal(suppress_del(db, "*", "JOHN.doe@example.com"), 1);
    assert_int_equal(suppress_del(db, "*", "john.doe@example.com"), 0);
    assert_int_equal(suppress_get(db, "*", "john.doe@example.com", &got), 0);
    /* bad keys are refused, not stored */
    assert_int_equal(suppress_put(db, "*", "no-at-sign", &e), -1);
    assert_int_equal(suppress_put(db, "*", "a b@example.com", &e), -1);
    assert_int_equal(suppress_put(db, "*", "a\r\n@example.com", &e), -1);
    assert_int_equal(suppress_put(db, "", "a@example.com", &e), -1);
    suppress_close(db);
}

static int count_cb(const char *scope, const char *addr, const struct suppress_entry *e, void *arg)
{
    char *seen = arg;

    strcat(seen, scope);
    strcat(seen, "|");
    strcat(seen, addr);
    strcat(seen, ";");
    return 0;
}

static void test_each_and_reader(void **state)
{
    char err[512], seen[1024] = "";
    struct suppress_db *w = suppress_open(dir, 0, err, sizeof(err)), *r;
    struct suppress_entry e = entry("bad-domain", "b", 1);

    assert_non_null(w);
    r = suppress_open(dir, 1, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(suppress_get(r, "*", "b@x.test", NULL), 0);
    assert_int_equal(suppress_put(w, "*", "b@x.test", &e), 0);
    assert_int_equal(suppress_put(w, "*", "a@x.test", &e), 0);
    assert_int_equal(suppress_put(w, "d.test", "c@x.test", &e), 0);
    /* the reader's reused transaction sees later commits */
    assert_int_equal(suppress_get(r, "*", "b@x.test", NULL), 1);
    assert_int_equal(suppress_put(r, "*", "z@x.test", &e), -1);    /* read-only */
    assert_int_equal(suppress_each(r, NULL, count_cb, seen), 3);
    assert_string_equal(seen, "*|a@x.test;*|b@x.test;d.test|c@x.test;");
    seen[0] = '\0';
    assert_int_equal(suppress_each(r, "D.test", count_cb, seen), 1);
    assert_string_equal(seen, "d.test|c@x.test;");
    seen[0] = '\0';
    assert_int_equal(suppress_each(r, "nothing.test", count_cb, seen), 0);
    suppress_close(r);
    suppress_close(w);
}

static void test_many(void **state)
{
    char err[512], addrs[500][32];
    struct suppress_item items[500];
    struct suppress_db *db = suppress_open(dir, 0, err, sizeof(err));
    size_t i;

    assert_non_null(db);
    for (i = 0; i < 500; i++) {
        snprintf(addrs[i], sizeof(addrs[i]), "user%zu@bulk.test", i);
        memset(&items[i], 0, sizeof(items[i]));
        items[i].scope = "*";
        items[i].addr = addrs[i];
        items[i].e = entry("manual", "import", (int64_t)i);
    }
    snprintf(addrs[7], sizeof(addrs[7]), "broken");     /* skipped, not fatal */
    assert_int_equal(suppress_put_many(db, items, 500), 499);
    assert_int_equal(suppress_get(db, "*", "user499@bulk.test", NULL), 1);
    assert_int_equal(suppress_get(db, "*", "user7@bulk.test", NULL), 0);
    suppress_close(db);
}

static void test_open_missing_readonly(void **state)
{
    char err[512], path[300];

    snprintf(path, sizeof(path), "%s/none", dir);
    assert_null(suppress_open(path, 1, err, sizeof(err)));
    assert_non_null(strstr(err, path));
}

static void test_value_codec(void **state)
{
    struct suppress_entry e = entry("spam-related", "rb", -5), d;
    unsigned char buf[400];
    int n = suppress_value_encode(&e, buf, sizeof(buf));
    int i;

    assert_true(n > 9);
    assert_int_equal(suppress_value_decode(buf, (size_t)n, &d), 0);
    assert_int_equal(d.time, -5);
    assert_string_equal(d.reason, "spam-related");
    /* every truncation and one trailing byte are refused */
    for (i = 0; i < n; i++)
        assert_int_equal(suppress_value_decode(buf, (size_t)i, &d), -1);
    buf[n] = 0;
    assert_int_equal(suppress_value_decode(buf, (size_t)n + 1, &d), -1);
    /* a control byte in a string, a wrong version */
    buf[10] = '\n';
    assert_int_equal(suppress_value_decode(buf, (size_t)n, &d), -1);
    assert_int_equal(suppress_value_encode(&e, buf, sizeof(buf)), n);
    buf[0] = 9;
    assert_int_equal(suppress_value_decode(buf, (size_t)n, &d), -1);
    assert_int_equal(suppress_value_encode(&e, buf, 12), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_and_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_missing_readonly, setup, teardown),
        cmocka_unit_test(test_value_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
