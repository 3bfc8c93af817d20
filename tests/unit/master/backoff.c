/* Unit tests: master's restart backoff and crash-loop give-up
 * (master/backoff.c), and the COURSER_LISTEN_FDS value (master/spawn.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "../../../master/backoff.h"
#include "../../../master/spawn.h"

static void test_delays_double_to_cap(void **state)
{
    static const int64_t expect[] = { 100, 200, 400, 800, 1600, 3200, 6400, 12800,
                                      25600, 30000 };
    struct backoff b;
    uint64_t now = 1000000;
    size_t i;

    (void)state;
    backoff_init(&b);
    /* each instance runs 1 s, then crashes; restarted after the delay */
    for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        backoff_started(&b, now);
        now += 1000;
        assert_int_equal(backoff_crashed(&b, now), expect[i]);
        now += (uint64_t)expect[i];
    }
    assert_int_equal(b.gave_up, 0);
}

static void test_long_run_resets_delay(void **state)
{
    struct backoff b;
    uint64_t now = 5000;
    int i;

    (void)state;
    backoff_init(&b);
    /* 9 quick crashes ... */
    for (i = 0; i < 9; i++) {
        backoff_started(&b, now);
        now += 10;
        assert_true(backoff_crashed(&b, now) > 0);
        now += 30000;
    }
    /* ... then one instance runs just under 60 s: still quick, 10th */
    backoff_started(&b, now);
    now += BACKOFF_STABLE_MS - 1;
    assert_int_equal(backoff_crashed(&b, now), 30000);
    now += 30000;
    /* this one runs exactly 60 s: stable, back to 100 ms, count reset */
    backoff_started(&b, now);
    now += BACKOFF_STABLE_MS;
    assert_int_equal(backoff_crashed(&b, now), 100);
    /* so 9 more quick crashes are still tolerated */
    for (i = 0; i < 9; i++) {
        backoff_started(&b, now);
        now += 10;
        assert_true(backoff_crashed(&b, now) > 0);
    }
    assert_int_equal(b.gave_up, 0);
}

/* A daemon that dies at once, restarted exactly after each delay (what
 * master does): the 11th crash gives up, and it stays given up. */
static void test_gives_up_on_crash_loop(void **state)
{
    struct backoff b;
    uint64_t now = 0;
    int64_t d;
    int i;

    (void)state;
    backoff_init(&b);
    for (i = 0; i < 10; i++) {
        backoff_started(&b, now);
        now += 5;
        d = backoff_crashed(&b, now);
        assert_true(d > 0);
        now += (uint64_t)d;
    }
    backoff_started(&b, now);
    assert_int_equal(backoff_crashed(&b, now + 5), -1);
    assert_int_equal(b.gave_up, 1);
    assert_int_equal(backoff_crashed(&b, now + 999999), -1);
}

/* Crashes after 61 s of running each: never a loop, always 100 ms. */
static void test_stable_crashes_never_give_up(void **state)
{
    struct backoff b;
    uint64_t now = 0;
    int i;

    (void)state;
    backoff_init(&b);
    for (i = 0; i < 100; i++) {
        backoff_started(&b, now);
        now += 61000;
        assert_int_equal(backoff_crashed(&b, now), 100);
        now += 100;
    }
    assert_int_equal(b.gave_up, 0);
}

static void test_fds_env(void **state)
{
    char out[64];

    (void)state;
    assert_int_equal(spawn_fds_env(0, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(spawn_fds_env(1, out, sizeof(out)), 0);
    assert_string_equal(out, "3");
    assert_int_equal(spawn_fds_env(3, out, sizeof(out)), 0);
    assert_string_equal(out, "3,4,5");
    assert_int_equal(spawn_fds_env(10, out, sizeof(out)), 0);
    assert_string_equal(out, "3,4,5,6,7,8,9,10,11,12");
    /* does not fit: refused, never truncated */
    assert_int_equal(spawn_fds_env(3, out, 5), -1);
    assert_int_equal(spawn_fds_env(SPAWN_MAX_FDS + 1, out, sizeof(out)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delays_double_to_cap),
        cmocka_unit_test(test_long_run_resets_delay),
        cmocka_unit_test(test_gives_up_on_crash_loop),
        cmocka_unit_test(test_stable_crashes_never_give_up),
        cmocka_unit_test(test_fds_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
