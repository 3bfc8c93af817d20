/* Unit tests: smtp-out's destination logic (smtp-out/route.c): route
 * strings, null MX (RFC 7505), MX ordering with random tie-break. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "../../../smtp-out/smtp_out.h"

static void test_route_parse(void **state)
{
    struct route_host h[8];

    assert_int_equal(route_parse("mx.example.com", h, 8), 1);
    assert_string_equal(h[0].host, "mx.example.com");
    assert_int_equal(h[0].port, 25);
    assert_int_equal(h[0].literal, 0);

    assert_int_equal(route_parse("127.0.0.2:2525, [10.0.0.1]:26,[::1]:27,b.test", h, 8), 4);
    assert_string_equal(h[0].host, "127.0.0.2");
    assert_int_equal(h[0].port, 2525);
    assert_int_equal(h[0].literal, 1);
    assert_string_equal(h[1].host, "10.0.0.1");
    assert_int_equal(h[1].port, 26);
    assert_int_equal(h[1].literal, 1);
    assert_string_equal(h[2].host, "::1");
    assert_int_equal(h[2].port, 27);
    assert_int_equal(h[2].literal, 1);
    assert_string_equal(h[3].host, "b.test");
    assert_int_equal(h[3].port, 25);

    assert_int_equal(route_parse("[192.0.2.1]", h, 8), 1);
    assert_int_equal(h[0].port, 25);
    assert_int_equal(h[0].literal, 1);
    assert_int_equal(route_parse("2001:db8::1", h, 8), 1);
    assert_string_equal(h[0].host, "2001:db8::1");
    assert_int_equal(h[0].literal, 1);
}

static void test_route_parse_bad(void **state)
{
    static const char *const bad[] = {
        "", "a.test:0", "a.test:65536", "a.test:x", "[notanip]:25", "[1.2.3.4", "[1.2.3.4]x",
        "a b.test", "a.test,", ",a.test", "a..test", "-a.test", "a.test:25:26",
        "host;rm -rf", "[]:25",
    };
    struct route_host h[8];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(route_parse(bad[i], h, 8), -1);
    /* more hosts than room */
    assert_int_equal(route_parse("a.test,b.test,c.test", h, 2), -1);
    assert_int_equal(route_parse(NULL, h, 8), -1);
}

static void test_null_mx(void **state)
{
    struct mx_entry e[2];

    memset(e, 0, sizeof(e));
    strcpy(e[0].host, "");
    assert_int_equal(mx_check_null(e, 1), MX_NULL);
    strcpy(e[0].host, ".");
    assert_int_equal(mx_check_null(e, 1), MX_NULL);
    strcpy(e[0].host, "mx.test");
    assert_int_equal(mx_check_null(e, 1), MX_OK);
    /* "." among other MX records is not a null MX (RFC 7505 3: the only RR) */
    strcpy(e[0].host, ".");
    strcpy(e[1].host, "mx.test");
    assert_int_equal(mx_check_null(e, 2), MX_OK);
    assert_int_equal(mx_check_null(e, 0), MX_OK);
}

static unsigned seq[16];
static size_t seq_pos;
static unsigned fake_rnd(void)
{
    return seq[seq_pos++ % 16];
}

static void test_mx_sort(void **state)
{
    struct mx_entry e[5];
    static const char *const names[] = { "c20", "a10", "b10", "d5", "e20" };
    static const unsigned pref[] = { 20, 10, 10, 5, 20 };
    size_t i;

    for (i = 0; i < 5; i++) {
        strcpy(e[i].host, names[i]);
        e[i].pref = pref[i];
    }
    /* random keys: c20=9 a10=7 b10=3 d5=1 e20=2 -> b10 before a10, e20 before c20 */
    seq[0] = 9; seq[1] = 7; seq[2] = 3; seq[3] = 1; seq[4] = 2;
    seq_pos = 0;
    mx_sort(e, 5, fake_rnd);
    assert_string_equal(e[0].host, "d5");
    assert_string_equal(e[1].host, "b10");
    assert_string_equal(e[2].host, "a10");
    assert_string_equal(e[3].host, "e20");
    assert_string_equal(e[4].host, "c20");
    /* other keys swap the equal ones, never across preferences */
    seq[0] = 1; seq[1] = 1; seq[2] = 5; seq[3] = 9; seq[4] = 0;
    seq_pos = 0;
    mx_sort(e, 5, fake_rnd);
    assert_string_equal(e[0].host, "d5");
    assert_true(e[1].pref == 10 && e[2].pref == 10);
    assert_true(e[3].pref == 20 && e[4].pref == 20);
    /* keys go by position in the array as the first sort left it */
    assert_string_equal(e[1].host, "b10");
    assert_string_equal(e[3].host, "c20");
}

static unsigned real_rnd(void)
{
    return (unsigned)rand();
}

static void test_mx_sort_spreads(void **state)
{
    struct mx_entry e[2];
    int first_a = 0, i;

    /* with the real generator both equal-preference hosts come first
     * sometimes (load spreading, RFC 5321 5.1) */
    for (i = 0; i < 200; i++) {
        strcpy(e[0].host, "a");
        strcpy(e[1].host, "b");
        e[0].pref = e[1].pref = 10;
        mx_sort(e, 2, real_rnd);
        first_a += strcmp(e[0].host, "a") == 0;
    }
    assert_true(first_a > 20 && first_a < 180);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_parse),
        cmocka_unit_test(test_route_parse_bad),
        cmocka_unit_test(test_null_mx),
        cmocka_unit_test(test_mx_sort),
        cmocka_unit_test(test_mx_sort_spreads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
