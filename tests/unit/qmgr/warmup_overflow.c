/*
 * Unit tests for warmup-overflow-virtual-mta (qmgr/warmup_overflow.c) with
 * a fake clock: what exceeds a cold vmta's daily cap leaves through the
 * warm vmta the same day (DELIVER and accounting name the warm vmta, the
 * pool field stays), only while the warm vmta has room under its own cap;
 * the directive's load errors.
 */
#include "qmgr_test.h"
#include "../../../qmgr/shaping.h"

#define T0 1800000000LL
#define NOW ((T0 + 1) * 1000)

static const char *conf =
    "host-name mta.test\n"
    "<virtual-mta cold>\n warmup-schedule 2\n warmup-overflow-virtual-mta warm\n</virtual-mta>\n"
    "<virtual-mta warm>\n</virtual-mta>\n"
    "<virtual-mta cold2>\n warmup-schedule 1\n warmup-overflow-virtual-mta small\n</virtual-mta>\n"
    "<virtual-mta small>\n warmup-schedule 2\n warmup-overflow-virtual-mta cold2\n</virtual-mta>\n"
    "<virtual-mta pd>\n <domain x.test>\n  warmup-schedule 2,4\n </domain>\n</virtual-mta>\n"
    "<virtual-mta pdo>\n warmup-overflow-virtual-mta warm\n"
    " <domain x.test>\n  warmup-schedule 1\n </domain>\n</virtual-mta>\n"
    "<domain *>\n max-smtp-out 20\n max-rcpt-per-transaction 1\n</domain>\n";

static struct config *cfg;

static int setup(void **state)
{
    cfg = t_config(conf);
    return 0;
}

static int teardown(void **state)
{
    t_reset();
    config_free(cfg);
    return 0;
}

static void ok(struct qmgr *m, struct worker *w, const struct t_job *j, int64_t now)
{
    struct msg_result r;
    struct result_rcpt rr;

    memset(&r, 0, sizeof(r));
    memset(&rr, 0, sizeof(rr));
    r.job_id = j->id;
    r.nrcpt = 1;
    r.rcpts = &rr;
    r.remote_mx = (char *)"mx.x.test";
    r.remote_ip = (char *)"192.0.2.25";
    r.source_ip = (char *)"";
    r.esmtp_ext = (char *)"";
    rr.index = j->idx[0];
    rr.code = 250;
    rr.text = (char *)"250 ok";
    strcpy(rr.status, "2.0.0");
    assert_int_equal(result_apply(m, w, &r, now), 0);
}

static size_t jobs_via(const char *vmta)
{
    size_t i, n = 0;

    for (i = 0; i < t_njobs; i++)
        n += strcmp(t_jobs[i].vmta, vmta) == 0;
    return n;
}

static void test_overflow(void **state)
{
    struct qmgr m;
    struct worker *w;
    struct qmsg *msg;
    size_t i, warm_acct = 0;

    t_init(&m, cfg);
    w = worker_add(&m, NULL, 1, 100);
    msg = t_message(&m, t_qid(1), T0, "cold", "a@x.test", "b@x.test", "c@x.test", "d@y.test",
                    "e@x.test", NULL);
    message_schedule(&m, msg, NOW);
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 5);
    assert_int_equal(jobs_via("cold"), 2);          /* today's cap */
    assert_int_equal(jobs_via("warm"), 3);          /* the rest, today */
    for (i = 0; i < t_njobs; i++)
        ok(&m, w, &t_jobs[i], NOW + 10);
    for (i = 0; i < t_nacct; i++)
        if (strcmp(t_field(i, AF_TYPE), "d") == 0 && strcmp(t_field(i, AF_VMTA), "warm") == 0)
            warm_acct++;
    assert_int_equal(warm_acct, 3);
    assert_int_equal(m.msgs.n, 0);
    qmgr_free(&m);
}

static void test_overflow_capped(void **state)
{
    struct qmgr m;
    struct qmsg *msg;

    t_init(&m, cfg);
    (void)worker_add(&m, NULL, 1, 100);
    msg = t_message(&m, t_qid(2), T0, "cold2", "a@x.test", "b@x.test", "c@x.test", "d@x.test",
                    "e@x.test", NULL);
    message_schedule(&m, msg, NOW);
    dispatch_run(&m, NOW);
    /* cold2 sends 1, small takes the rest but sends only its 2; neither
     * hands mail back to the other once both are full */
    assert_int_equal(jobs_via("cold2"), 1);
    assert_int_equal(jobs_via("small"), 2);
    assert_int_equal(t_njobs, 3);
    dispatch_run(&m, NOW + 1000);
    assert_int_equal(t_njobs, 3);
    qmgr_free(&m);
}

static size_t jobs_to(const char *dom, const char *vmta)
{
    size_t i, n = 0;

    for (i = 0; i < t_njobs; i++)
        n += strcmp(t_jobs[i].domain, dom) == 0 && strcmp(t_jobs[i].vmta, vmta) == 0;
    return n;
}

/* warmup-schedule in <domain>: a cap per queue, the vmta's other queues free */
static void test_domain_plan(void **state)
{
    struct qmgr m;
    struct qmsg *msg;
    struct buf out;
    char *argv_v[] = { (char *)"show", (char *)"vmtas" };

    t_init(&m, cfg);
    (void)worker_add(&m, NULL, 1, 100);
    msg = t_message(&m, t_qid(3), T0, "pd", "a@x.test", "b@x.test", "c@x.test", "d@y.test",
                    "e@y.test", "f@y.test", NULL);
    message_schedule(&m, msg, NOW);
    dispatch_run(&m, NOW);
    assert_int_equal(jobs_to("x.test", "pd"), 2);       /* day 1 of x.test/pd */
    assert_int_equal(jobs_to("y.test", "pd"), 3);       /* no plan */
    buf_init(&out, 1 << 16);
    assert_int_equal(control_run(&m, 2, argv_v, &out, NOW), 0);
    assert_non_null(strstr(out.data, "queue x.test/pd  warm-up day 1 of 2  cap=2  sent-today=2  remaining=0"));
    buf_reset(&out);
    {
        char *argv_s[] = { (char *)"show", (char *)"settings", (char *)"x.test/pd" };

        assert_int_equal(control_run(&m, 3, argv_s, &out, NOW), 0);
        assert_non_null(strstr(out.data, "warmup-schedule (this queue): 2,4\n"));
    }
    buf_free(&out);
    /* the next day: day 2's cap */
    shaping_run_timers(&m, NOW + 86400000);
    dispatch_run(&m, NOW + 86400000);
    assert_int_equal(jobs_to("x.test", "pd"), 3);
    /* with an overflow vmta: the queue's cap used up, the rest goes warm */
    msg = t_message(&m, t_qid(4), T0, "pdo", "a@x.test", "b@x.test", "c@x.test", NULL);
    message_schedule(&m, msg, NOW + 86400000);
    dispatch_run(&m, NOW + 86400000);
    assert_int_equal(jobs_to("x.test", "pdo"), 1);
    assert_int_equal(jobs_to("x.test", "warm"), 2);
    qmgr_free(&m);
}

static void test_config_errors(void **state)
{
    static const struct { const char *text, *err; } bad[] = {
        { "<virtual-mta a>\nwarmup-overflow-virtual-mta a\n</virtual-mta>\n", "into itself" },
        { "<virtual-mta a>\nwarmup-overflow-virtual-mta nope\n</virtual-mta>\n", "no such <virtual-mta>" },
        { "warmup-overflow-virtual-mta a\n", "not allowed" },
    };
    char path[] = "/tmp/wo-test-XXXXXX", err[512];
    struct config *c;
    size_t i;
    int fd;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_true(write(fd, bad[i].text, strlen(bad[i].text)) == (ssize_t)strlen(bad[i].text));
        assert_int_equal(close(fd), 0);
        err[0] = '\0';
        assert_int_equal(config_load(path, &c, err, sizeof(err)), -1);
        if (strstr(err, bad[i].err) == NULL)
            fail_msg("%s: got '%s', want '%s'", bad[i].text, err, bad[i].err);
        (void)unlink(path);
        strcpy(path, "/tmp/wo-test-XXXXXX");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_plan, setup, teardown),
        cmocka_unit_test(test_config_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
