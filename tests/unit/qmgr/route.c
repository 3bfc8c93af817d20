/*
 * Unit tests: qmgr's routing (qmgr/route.c): a pool's members in the
 * proportion of their weights over 1,000 messages, paused members
 * skipped through the vmta_usable hook, queues per (domain, vmta),
 * queue-to sharing one queue (and its settings) between domains, and
 * the decision being kept across a reconfigure (only new messages see a
 * new config).
 */
#include "qmgr_test.h"
#include "../../../qmgr/shaping.h"

static const char *conf =
    "<virtual-mta a>\n smtp-source-host 127.0.0.11 a.test\n</virtual-mta>\n"
    "<virtual-mta b>\n smtp-source-host 127.0.0.12 b.test\n</virtual-mta>\n"
    "<virtual-mta c>\n smtp-source-host 127.0.0.13 c.test\n</virtual-mta>\n"
    "<virtual-mta-pool p>\n virtual-mta a weight=6\n virtual-mta b weight=3\n"
    " virtual-mta c\n</virtual-mta-pool>\n"
    "<domain hotmail.test>\n queue-to ms.rollup\n</domain>\n"
    "<domain outlook.test>\n queue-to MS.rollup\n</domain>\n"
    "<domain ms.rollup>\n route [127.0.0.2]:2600\n max-smtp-out 3\n</domain>\n";

static const char *paused;

static int usable(struct qmgr *m, const char *vmta)
{
    return paused == NULL || strcmp(vmta, paused) != 0;
}

static void count_members(struct qmgr *m, unsigned base, unsigned n, unsigned cnt[3])
{
    unsigned i;

    for (i = 0; i < n; i++) {
        struct qmsg *msg = t_message(m, t_qid(base + i), 1, "p", "r@x.test", NULL);
        assert_string_equal(msg->pool, "p");
        assert_true(msg->vmta[0] >= 'a' && msg->vmta[0] <= 'c');
        cnt[msg->vmta[0] - 'a']++;
        assert_string_equal(msg->r[0].q->vmta, msg->vmta);
    }
}

static void test_pool_weights(void **state)
{
    struct config *cfg = t_config(conf);
    struct qmgr m;
    unsigned cnt[3] = { 0, 0, 0 };

    t_init(&m, cfg);
    count_members(&m, 0, 1000, cnt);
    /* 6:3:1 exactly (smooth weighted round robin is exact per cycle) */
    assert_int_equal(cnt[0], 600);
    assert_int_equal(cnt[1], 300);
    assert_int_equal(cnt[2], 100);
    /* b paused: a and c share 6:1 */
    m.vmta_usable = usable;
    paused = "b";
    memset(cnt, 0, sizeof(cnt));
    count_members(&m, 1000, 700, cnt);
    assert_int_equal(cnt[1], 0);
    assert_true(cnt[0] >= 599 && cnt[0] <= 601);
    paused = NULL;
    qmgr_free(&m);
    config_free(cfg);
}

/* `mtactl hold vmta b` (control_shaping) takes b out of its pools through
 * the default vmta_usable hook; release puts it back. */
static void test_pool_hold_vmta(void **state)
{
    struct config *cfg = t_config(conf);
    struct qmgr m;
    struct buf out;
    unsigned cnt[3] = { 0, 0, 0 };
    char *hold[] = { "hold", "vmta", "B" }, *release[] = { "release", "vmta", "b" };

    t_init(&m, cfg);
    assert_non_null(m.vmta_usable);
    buf_init(&out, 1 << 16);
    assert_int_equal(control_shaping(&m, 3, hold, &out, 1000), 0);
    count_members(&m, 0, 700, cnt);
    assert_int_equal(cnt[1], 0);
    assert_true(cnt[0] >= 599 && cnt[0] <= 601);
    assert_int_equal(control_shaping(&m, 3, release, &out, 2000), 0);
    memset(cnt, 0, sizeof(cnt));
    count_members(&m, 700, 1000, cnt);
    assert_true(cnt[1] >= 299 && cnt[1] <= 301);
    buf_free(&out);
    qmgr_free(&m);
    config_free(cfg);
}

static void test_queues(void **state)
{
    struct config *cfg = t_config(conf);
    struct qmgr m;
    struct qmsg *x, *y;

    t_init(&m, cfg);
    x = t_message(&m, t_qid(1), 1, "a", "u@HOTMAIL.test", "v@outlook.test", "w@gmail.test", NULL);
    y = t_message(&m, t_qid(2), 1, "b", "u@hotmail.test", NULL);
    /* hotmail and outlook share the ms.rollup queue of that vmta */
    assert_ptr_equal(x->r[0].q, x->r[1].q);
    assert_string_equal(x->r[0].q->name, "ms.rollup/a");
    assert_int_equal(x->r[0].q->s.max_smtp_out, 3);
    assert_string_equal(x->r[0].q->s.route, "[127.0.0.2]:2600");
    assert_string_equal(x->r[2].q->name, "gmail.test/a");
    /* another vmta: another queue */
    assert_string_equal(y->r[0].q->name, "ms.rollup/b");
    assert_true(y->r[0].q != x->r[0].q);
    qmgr_free(&m);
    config_free(cfg);
}

/* After a reconfigure, queued messages keep their vmta; new ones route
 * with the new config. */
static void test_reconfigure(void **state)
{
    struct config *cfg = t_config(conf);
    struct config *cfg2 = t_config(
        "<virtual-mta a>\n</virtual-mta>\n<virtual-mta c>\n</virtual-mta>\n"
        "<virtual-mta-pool p>\n virtual-mta c\n</virtual-mta-pool>\n");
    struct qmgr m;
    struct qmsg *x, *y;

    t_init(&m, cfg);
    x = t_message(&m, t_qid(1), 1, "p", "u@gmail.test", NULL);
    assert_string_equal(x->vmta, "a");
    qmgr_reconfigure(&m, cfg2);
    y = t_message(&m, t_qid(2), 1, "p", "u@gmail.test", NULL);
    assert_string_equal(x->vmta, "a");
    assert_string_equal(x->r[0].q->name, "gmail.test/a");
    assert_string_equal(y->vmta, "c");
    /* and hotmail has no queue-to any more */
    y = t_message(&m, t_qid(3), 1, "a", "u@hotmail.test", NULL);
    assert_string_equal(y->r[0].q->name, "hotmail.test/a");
    qmgr_free(&m);
    config_free(cfg);
    config_free(cfg2);
}

/* <mx-rollup-list>: after a delivery of a.test reached a matching MX,
 * new a.test mail shares the rollup queue with b.test; the rollup queue
 * delivers by its recipients' domain; disable-mx-rollup and a reload. */
static const char *rconf =
    "<virtual-mta v>\n</virtual-mta>\n"
    "<mx-rollup-list>\n mx *.mx.shared.test Shared.Rollup\n</mx-rollup-list>\n"
    "<domain shared.rollup>\n max-smtp-out 2\n</domain>\n"
    "<domain own.test>\n disable-mx-rollup yes\n</domain>\n";

static void test_mx_rollup(void **state)
{
    struct config *cfg = t_config(rconf);
    struct config *cfg2 = t_config("<virtual-mta v>\n</virtual-mta>\n");
    struct qmgr m;
    struct qmsg *x, *y;

    t_init(&m, cfg);
    x = t_message(&m, t_qid(1), 1, "v", "u@a.test", "u@b.test", "u@own.test", "u@c.test", NULL);
    assert_string_equal(x->r[0].q->name, "a.test/v");
    route_learn_mx(&m, x->r[0].q, "mx1.MX.shared.test");
    route_learn_mx(&m, x->r[1].q, "mx2.mx.shared.test");
    route_learn_mx(&m, x->r[2].q, "mx1.mx.shared.test");     /* disabled: no */
    route_learn_mx(&m, x->r[3].q, "mx.other.test");          /* no match */
    y = t_message(&m, t_qid(2), 1, "v", "w@a.test", "w@b.test", "w@own.test", "w@c.test", NULL);
    assert_string_equal(y->r[0].q->name, "shared.rollup/v");
    assert_ptr_equal(y->r[0].q, y->r[1].q);
    assert_true(y->r[0].q->mx_rollup);
    assert_int_equal(y->r[0].q->s.max_smtp_out, 2);
    assert_string_equal(y->r[2].q->name, "own.test/v");
    assert_string_equal(y->r[3].q->name, "c.test/v");
    /* results of the rollup queue teach nothing new */
    route_learn_mx(&m, y->r[0].q, "mx.other.test");
    /* the rollup queue's job goes to its recipients' domain for the MX */
    {
        size_t i, found = 0;
        assert_non_null(worker_add(&m, NULL, 1, 10));
        message_schedule(&m, x, 1000);
        message_schedule(&m, y, 1000);
        dispatch_run(&m, 1000);
        for (i = 0; i < t_njobs; i++)
            if (t_jobs[i].nrcpt == 2) {
                assert_string_equal(t_jobs[i].domain, "a.test");
                found++;
            }
        assert_int_equal(found, 1);
    }
    /* a reload forgets what was learned */
    qmgr_reconfigure(&m, cfg2);
    y = t_message(&m, t_qid(3), 1, "v", "z@a.test", NULL);
    assert_string_equal(y->r[0].q->name, "a.test/v");
    qmgr_free(&m);
    config_free(cfg);
    config_free(cfg2);
}

/* show message: the decision, the member, each recipient's queue, escaped. */
static void test_show_message(void **state)
{
    struct config *cfg = t_config(conf);
    struct qmgr m;
    struct qmsg *x;
    struct buf out;

    t_init(&m, cfg);
    x = t_message(&m, t_qid(7), 1, "p", "u@hotmail.test", "ev\x01il@gmail.test", NULL);
    buf_init(&out, 1 << 20);
    assert_int_equal(show_message(&m, x->qid, &out), 0);
    assert_non_null(strstr(out.data, "routing:   'p' named at injection"));
    assert_non_null(strstr(out.data, "vmta:      a (member of pool p)"));
    assert_non_null(strstr(out.data, "job:       job7"));
    assert_non_null(strstr(out.data, "<u@hotmail.test>  queue=ms.rollup/a  new  attempts=0"));
    assert_non_null(strstr(out.data, "queue=gmail.test/a"));
    assert_null(strchr(out.data, '\x01'));
    buf_reset(&out);
    assert_int_equal(show_message(&m, "nope\n", &out), 1);
    assert_non_null(strstr(out.data, "no queued message"));
    assert_null(strstr(out.data, "nope\n"));
    buf_free(&out);
    qmgr_free(&m);
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_weights),
        cmocka_unit_test(test_pool_hold_vmta),
        cmocka_unit_test(test_queues),
        cmocka_unit_test(test_reconfigure),
        cmocka_unit_test(test_mx_rollup),
        cmocka_unit_test(test_show_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
