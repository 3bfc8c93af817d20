/*
 * Unit tests for lib/parse.c: every value syntax, its limits, overflow,
 * and that *out is left untouched on failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "parse.h"

static void test_u64(void **state)
{
    uint64_t v = 7;

    assert_int_equal(parse_u64("0", 0, 10, &v), 0);
    assert_true(v == 0);
    assert_int_equal(parse_u64("42", 0, 100, &v), 0);
    assert_true(v == 42);
    assert_int_equal(parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    v = 7;
    assert_int_equal(parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -1);
    assert_int_equal(parse_u64("", 0, 10, &v), -1);
    assert_int_equal(parse_u64("-1", 0, 10, &v), -1);
    assert_int_equal(parse_u64("+1", 0, 10, &v), -1);
    assert_int_equal(parse_u64(" 1", 0, 10, &v), -1);
    assert_int_equal(parse_u64("1 ", 0, 10, &v), -1);
    assert_int_equal(parse_u64("1x", 0, 10, &v), -1);
    assert_int_equal(parse_u64("11", 0, 10, &v), -1);
    assert_int_equal(parse_u64("4", 5, 10, &v), -1);
    assert_int_equal(parse_u64(NULL, 0, 10, &v), -1);
    assert_true(v == 7);
}

static void test_interval(void **state)
{
    static const struct { const char *s; uint64_t v; } ok[] = {
        { "0", 0 }, { "90", 90 }, { "30s", 30 }, { "10m", 600 }, { "10M", 600 },
        { "4h", 14400 }, { "2d", 172800 }, { "1w", 604800 }, { "4d12h", 388800 },
        { "1w2d12h", 604800 + 2 * 86400 + 12 * 3600 }, { "300s", 300 }, { "1h1m1s", 3661 },
    };
    static const char *const bad[] = {
        "", "m", "10x", "4d30", "1h-", "-1h", " 1h", "1h ", "h1", "1.5h",
        "99999999999999999999s", "30600000000000w", "18446744073709551615s1s",
    };
    size_t i;
    uint64_t v;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        v = 12345;
        assert_int_equal(parse_interval(ok[i].s, &v), 0);
        assert_true(v == ok[i].v);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 12345;
        assert_int_equal(parse_interval(bad[i], &v), -1);
        assert_true(v == 12345);
    }
}

static void test_size(void **state)
{
    static const struct { const char *s; uint64_t v; } ok[] = {
        { "0", 0 }, { "512", 512 }, { "1b", 1 }, { "10k", 10240 }, { "10K", 10240 },
        { "20M", 20ULL << 20 }, { "20MB", 20ULL << 20 }, { "1g", 1ULL << 30 },
        { "2t", 2ULL << 40 },
    };
    static const char *const bad[] = {
        "", "k", "10x", "10 k", "-1", "1.5M", "20MBB", "1bb", "16777216t",
    };
    size_t i;
    uint64_t v;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(parse_size(ok[i].s, &v), 0);
        assert_true(v == ok[i].v);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 3;
        assert_int_equal(parse_size(bad[i], &v), -1);
        assert_true(v == 3);
    }
}

static void test_bool(void **state)
{
    static const char *const yes[] = { "yes", "YES", "true", "True", "on", "1" };
    static const char *const no[] = { "no", "No", "false", "FALSE", "off", "0" };
    static const char *const bad[] = { "", "maybe", "y", "n", "2", "yes " };
    size_t i;
    int b;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        b = 5;
        assert_int_equal(parse_bool(yes[i], &b), 0);
        assert_int_equal(b, 1);
        assert_int_equal(parse_bool(no[i], &b), 0);
        assert_int_equal(b, 0);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = 5;
        assert_int_equal(parse_bool(bad[i], &b), -1);
        assert_int_equal(b, 5);
    }
}

static void test_rate(void **state)
{
    uint64_t c = 1, p = 1;

    assert_int_equal(parse_rate("600/h", &c, &p), 0);
    assert_true(c == 600 && p == 3600);
    assert_int_equal(parse_rate("83/10m", &c, &p), 0);
    assert_true(c == 83 && p == 600);
    assert_int_equal(parse_rate("1/s", &c, &p), 0);
    assert_true(c == 1 && p == 1);
    assert_int_equal(parse_rate("5/2d", &c, &p), 0);
    assert_true(c == 5 && p == 172800);
    assert_int_equal(parse_rate("unlimited", &c, &p), 0);
    assert_true(c == 0 && p == 0);
    c = p = 9;
    assert_int_equal(parse_rate("5/0m", &c, &p), -1);
    assert_int_equal(parse_rate("5/w", &c, &p), -1);
    assert_int_equal(parse_rate("5/h/", &c, &p), -1);
    assert_int_equal(parse_rate("5h", &c, &p), -1);
    assert_int_equal(parse_rate("/h", &c, &p), -1);
    assert_int_equal(parse_rate("5/", &c, &p), -1);
    assert_int_equal(parse_rate("", &c, &p), -1);
    assert_true(c == 9 && p == 9);
}

static void test_hostport(void **state)
{
    char host[64] = "untouched";
    char tiny[4] = "abc";
    uint16_t port = 1;

    assert_int_equal(parse_hostport("1.2.3.4:25", host, sizeof(host), &port), 0);
    assert_string_equal(host, "1.2.3.4");
    assert_int_equal(port, 25);
    assert_int_equal(parse_hostport("[::1]:2525", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 2525);
    assert_int_equal(parse_hostport("[1.2.3.4]:587", host, sizeof(host), &port), 0);
    assert_string_equal(host, "1.2.3.4");
    assert_int_equal(parse_hostport("mx.example.com:65535", host, sizeof(host), &port), 0);
    assert_string_equal(host, "mx.example.com");
    assert_int_equal(port, 65535);

    strcpy(host, "untouched");
    port = 1;
    assert_int_equal(parse_hostport("::1:25", host, sizeof(host), &port), -1);
    assert_int_equal(parse_hostport("host", host, sizeof(host), &port), -1);
    assert_int_equal(parse_hostport("host:0", host, sizeof(host), &port), -1);
    assert_int_equal(parse_hostport("host:65536", host, sizeof(host), &port), -1);
    assert_int_equal(parse_hostport("host:", host, sizeof(host), &port), -1);
    assert_int_equal(parse_hostport(":25", host, sizeof(host), &port), -1);
    assert_int_equal(parse_hostport("[::1]25", host, sizeof(host), &port), -1);
    assert_int_equal(parse_hostport("[]:25", host, sizeof(host), &port), -1);
    assert_int_equal(parse_hostport("[zz]:25", host, sizeof(host), &port), -1);
    assert_int_equal(parse_hostport("[::1:25", host, sizeof(host), &port), -1);
    assert_int_equal(parse_hostport("ho st:25", host, sizeof(host), &port), -1);
    assert_int_equal(parse_hostport("a/b:25", host, sizeof(host), &port), -1);
    assert_string_equal(host, "untouched");
    assert_int_equal(port, 1);
    assert_int_equal(parse_hostport("abcd:25", tiny, sizeof(tiny), &port), -1);
    assert_string_equal(tiny, "abc");
    assert_int_equal(parse_hostport("abc:25", tiny, sizeof(tiny), &port), 0);
    assert_string_equal(tiny, "abc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u64),
        cmocka_unit_test(test_interval),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_hostport),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
