/*
 * Unit tests for qmgr/schedule.c and heap.c: retry-after list semantics
 * (last value repeats, the recipient-level floor), jitter bounds, expiry
 * time, and the timer heap ordering under removal and re-keying.
 */
#include "qmgr_test.h"

static void test_retry_delay(void **state)
{
    struct cfg_domain_settings s;

    memset(&s, 0, sizeof(s));
    s.retry_after[0] = 60;
    s.retry_after[1] = 300;
    s.retry_after[2] = 1200;
    s.nretry = 3;
    s.retry_recipients_after = 600;
    assert_int_equal(schedule_retry_delay(&s, 1, 0), 60);
    assert_int_equal(schedule_retry_delay(&s, 2, 0), 300);
    assert_int_equal(schedule_retry_delay(&s, 3, 0), 1200);
    assert_int_equal(schedule_retry_delay(&s, 4, 0), 1200);     /* last repeats */
    assert_int_equal(schedule_retry_delay(&s, 1000, 0), 1200);
    assert_int_equal(schedule_retry_delay(&s, 0, 0), 60);
    /* recipient-level 4xx: floor retry-recipients-after */
    assert_int_equal(schedule_retry_delay(&s, 1, 1), 600);
    assert_int_equal(schedule_retry_delay(&s, 3, 1), 1200);
    s.nretry = 1;
    assert_int_equal(schedule_retry_delay(&s, 5, 0), 60);
}

static void test_jitter(void **state)
{
    uint32_t rnds[] = { 0, 1, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu };
    size_t i;
    int64_t d = 600000, j;

    for (i = 0; i < sizeof(rnds) / sizeof(rnds[0]); i++) {
        j = schedule_jitter(d, rnds[i]);
        assert_true(j >= d - d / 10);
        assert_true(j <= d + d / 10);
    }
    assert_int_equal(schedule_jitter(d, 0), 540000);
    assert_int_equal(schedule_jitter(d, 0x80000000u), 600000);
    assert_true(schedule_jitter(d, 0xffffffffu) >= 659999);
    assert_int_equal(schedule_jitter(0, 123), 0);
    /* spread: 1000 random draws cover both sides of the delay */
    {
        int lo = 0, hi = 0;
        for (i = 0; i < 1000; i++) {
            j = schedule_jitter(d, (uint32_t)random() ^ ((uint32_t)random() << 16));
            assert_true(j >= 540000 && j <= 660000);
            lo += j < d;
            hi += j > d;
        }
        assert_true(lo > 100 && hi > 100);
    }
}

static void test_expiry(void **state)
{
    struct config *cfg = t_config("<domain *>\n bounce-after 2h\n</domain>\n"
                                  "<domain quick.test>\n bounce-after 10m\n</domain>\n");
    struct qmgr m;
    struct qmsg *msg;

    t_init(&m, cfg);
    msg = t_message(&m, t_qid(1), 1800000000, NULL, "a@slow.test", "b@quick.test", NULL);
    assert_int_equal(rcpt_expiry_ms(&msg->r[0]), (1800000000LL + 7200) * 1000);
    assert_int_equal(rcpt_expiry_ms(&msg->r[1]), (1800000000LL + 600) * 1000);
    /* a wait past expiry is cut to expiry */
    message_schedule(&m, msg, 1800000000LL * 1000);
    schedule_wait(&m, &msg->r[1], (1800000000LL + 3600) * 1000);
    assert_int_equal(msg->r[1].tn.key, (1800000000LL + 600) * 1000);
    assert_int_equal(msg->r[1].q->nwait, 1);
    assert_int_equal(msg->r[1].q->nready, 0);
    assert_int_equal(schedule_next_ms(&m), (1800000000LL + 600) * 1000);
    schedule_run_timers(&m, (1800000000LL + 600) * 1000 - 1);
    assert_int_equal(msg->r[1].state, RS_WAIT);
    schedule_run_timers(&m, (1800000000LL + 600) * 1000);
    assert_int_equal(msg->r[1].state, RS_BOUNCED);
    assert_int_equal(msg->r[1].q->nwait, 0);
    assert_int_equal(msg->r[0].state, RS_READY);
    /* ready but never dispatched (no worker): expires too */
    schedule_run_timers(&m, (1800000000LL + 7200) * 1000);
    assert_int_equal(t_nremoved, 1);
    assert_int_equal(t_nacct, 2);
    qmgr_free(&m);
    config_free(cfg);
}

struct item {
    struct hnode n;
    int64_t v;
};

static void test_heap(void **state)
{
    struct heap h;
    static struct item it[500];
    int64_t last = -1;
    int i, n = 0;

    heap_init(&h);
    for (i = 0; i < 500; i++) {
        it[i].n.idx = HEAP_NONE;
        assert_int_equal(heap_push(&h, &it[i].n, (i * 7919) % 1000), 0);
    }
    for (i = 0; i < 500; i += 3)
        heap_remove(&h, &it[i].n);
    for (i = 1; i < 500; i += 5)
        if (i % 3 != 0)
            assert_int_equal(heap_update(&h, &it[i].n, 5000 - i), 0);
    heap_remove(&h, &it[0].n);      /* already out: no-op */
    while (heap_top(&h)) {
        struct hnode *t = heap_top(&h);
        assert_true(t->key >= last);
        last = t->key;
        heap_remove(&h, t);
        assert_int_equal(t->idx, HEAP_NONE);
        n++;
    }
    assert_int_equal(n, 500 - 167);
    heap_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_delay),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_heap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
