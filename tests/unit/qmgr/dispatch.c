/*
 * Unit tests for qmgr/dispatch.c and the routing in message.c: jobs per
 * queue capped by max-smtp-out, recipients per job by
 * max-rcpt-per-transaction, worker slots, the worker that served a queue
 * preferred, lost workers' jobs requeued without counting an attempt,
 * pools and smtp-source-host rotation, queue names.
 */
#include "qmgr_test.h"

#define T0 1800000000LL
#define NOW ((T0 + 1) * 1000)

static const char *conf =
    "host-name mta.test\n"
    "<domain *>\n max-smtp-out 2\n max-rcpt-per-transaction 3\n</domain>\n"
    "<domain wide.test>\n max-smtp-out 50\n</domain>\n"
    "<virtual-mta v1>\n smtp-source-host 192.0.2.1 a.mta.test\n"
    " smtp-source-host 192.0.2.2 b.mta.test\n</virtual-mta>\n"
    "<virtual-mta v2>\n smtp-source-host 192.0.2.9 c.mta.test\n</virtual-mta>\n"
    "<virtual-mta-pool p>\n virtual-mta v1\n virtual-mta v2\n</virtual-mta-pool>\n";

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

static void ok_result(struct qmgr *m, struct worker *w, const struct t_job *j)
{
    struct msg_result r;
    struct result_rcpt rr[16];
    uint32_t i;

    memset(&r, 0, sizeof(r));
    memset(rr, 0, sizeof(rr));
    r.job_id = j->id;
    r.nrcpt = j->nrcpt;
    r.rcpts = rr;
    for (i = 0; i < j->nrcpt; i++) {
        rr[i].index = j->idx[i];
        rr[i].code = 250;
        rr[i].text = (char *)"ok";
        strcpy(rr[i].status, "2.0.0");
    }
    assert_int_equal(result_apply(m, w, &r, NOW), 0);
}

static void test_limits(void **state)
{
    struct qmgr m;
    struct qmsg *msg;
    struct worker *w;
    struct queue *q;

    t_init(&m, cfg);
    msg = t_message(&m, t_qid(1), T0, NULL, "1@d.test", "2@d.test", "3@d.test", "4@d.test",
                    "5@D.TEST", "6@d.test", "7@d.test", "8@d.test", "x@other.test", NULL);
    message_schedule(&m, msg, NOW);
    q = msg->r[0].q;
    assert_string_equal(q->name, "d.test/{default}");
    assert_ptr_equal(msg->r[4].q, q);
    assert_int_equal(q->nready, 8);
    /* no worker: mail waits */
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 0);
    w = worker_add(&m, NULL, 1, 10);
    dispatch_run(&m, NOW);
    /* d.test: 2 jobs (max-smtp-out) of 3 (max-rcpt-per-transaction); other.test: 1 */
    assert_int_equal(t_njobs, 3);
    assert_int_equal(q->jobs, 2);
    assert_int_equal(q->nready, 2);
    assert_int_equal(q->ninflight, 6);
    assert_int_equal(w->inflight, 3);
    {
        size_t i, nd = 0;
        for (i = 0; i < t_njobs; i++)
            if (strcmp(t_jobs[i].domain, "d.test") == 0) {
                assert_int_equal(t_jobs[i].nrcpt, 3);
                nd++;
            }
        assert_int_equal(nd, 2);
    }
    /* oldest recipients first, in envelope order */
    assert_int_equal(t_jobs[0].idx[0], 0);
    assert_int_equal(t_jobs[0].idx[2], 2);
    /* nothing more while at the limit */
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 3);
    ok_result(&m, w, &t_jobs[0]);
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 4);
    assert_int_equal(t_jobs[3].nrcpt, 2);
    assert_int_equal(t_jobs[3].idx[0], 6);
    assert_int_equal(q->nready, 0);
    /* other.test done: its queue is idle and swept; d.test is busy */
    assert_int_equal(m.queues.n, 2);
    {
        size_t i, other = 0, dsecond = 0;
        for (i = 1; i < 3; i++)
            if (strcmp(t_jobs[i].domain, "other.test") == 0)
                other = i;
            else
                dsecond = i;
        assert_true(other && dsecond);
        ok_result(&m, w, &t_jobs[other]);
        assert_int_equal(queue_sweep(&m), 1);
        assert_ptr_equal(hmap_get(&m.queues, "d.test/{default}"), q);
        assert_null(hmap_get(&m.queues, "other.test/{default}"));
        ok_result(&m, w, &t_jobs[dsecond]);
        ok_result(&m, w, &t_jobs[3]);
    }
    assert_int_equal(m.msgs.n, 0);
    assert_int_equal(queue_sweep(&m), 1);
    assert_int_equal(m.queues.n, 0);
    qmgr_free(&m);
}

static void test_slots_and_worker_loss(void **state)
{
    struct qmgr m;
    struct qmsg *msg;
    struct worker *w1, *w2;
    struct queue *q;

    t_init(&m, cfg);
    msg = t_message(&m, t_qid(2), T0, NULL, "1@wide.test", "2@wide.test", "3@wide.test",
                    "4@wide.test", "5@wide.test", "6@wide.test", "7@wide.test", NULL);
    /* one job per message and queue: max-rcpt-per-transaction 3 -> 3 jobs */
    message_schedule(&m, msg, NOW);
    q = msg->r[0].q;
    w1 = worker_add(&m, NULL, 1, 1);
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 1);               /* one slot */
    assert_ptr_equal(t_jobs[0].w, w1);
    w2 = worker_add(&m, NULL, 2, 5);
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 3);
    assert_ptr_equal(t_jobs[1].w, w2);
    assert_ptr_equal(t_jobs[2].w, w2);
    assert_int_equal(q->nready, 0);
    /* w2 goes away: its 4 recipients are ready again, no attempt counted */
    worker_remove(&m, w2, NOW);
    assert_int_equal(q->nready, 4);
    assert_int_equal(q->ninflight, 3);
    assert_int_equal(m.nrcpt_inflight, 3);
    assert_int_equal(msg->r[3].attempts, 0);
    assert_int_equal(msg->r[3].state, RS_READY);
    assert_int_equal(t_nacct, 0);
    assert_null(q->last_worker);                /* forgotten with w2 */
    ok_result(&m, w1, &t_jobs[0]);
    w2 = worker_add(&m, NULL, 3, 5);
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 5);
    /* w1's connection is idle in its cache: the next job reuses it
     * (shaping.c's ledger); the one after needs a new connection and
     * goes to the worker with most free slots */
    assert_ptr_equal(t_jobs[3].w, w1);
    assert_ptr_equal(t_jobs[4].w, w2);
    qmgr_free(&m);
}

static void test_prefer_last_worker(void **state)
{
    struct qmgr m;
    struct qmsg *msg;
    struct worker *a, *b;

    t_init(&m, cfg);
    msg = t_message(&m, t_qid(9), T0, NULL, "1@wide.test", "2@wide.test", "3@wide.test",
                    "4@wide.test", NULL);
    message_schedule(&m, msg, NOW);
    a = worker_add(&m, NULL, 1, 3);
    m.stopping = 1;                             /* stopping: no dispatch at all */
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 0);
    m.stopping = 0;
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 2);               /* 3 + 1 recipients, both to a */
    assert_ptr_equal(t_jobs[1].w, a);
    ok_result(&m, a, &t_jobs[0]);
    b = worker_add(&m, NULL, 2, 100);
    /* new mail for the queue goes to a (its cached connection), not b */
    msg = t_message(&m, t_qid(10), T0, NULL, "5@wide.test", NULL);
    message_schedule(&m, msg, NOW);
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 3);
    assert_ptr_equal(t_jobs[2].w, a);
    (void)b;
    qmgr_free(&m);
}

static void test_routing(void **state)
{
    struct qmgr m;
    struct qmsg *a, *b, *c;
    struct worker *w;

    t_init(&m, cfg);
    a = t_message(&m, t_qid(3), T0, "p", "1@r.test", NULL);
    b = t_message(&m, t_qid(4), T0, "p", "1@r.test", NULL);
    c = t_message(&m, t_qid(5), T0, "v1", "1@r.test", "2@r.test", "3@r.test", "4@r.test", NULL);
    assert_string_equal(a->vmta, "v1");
    assert_string_equal(a->pool, "p");
    assert_string_equal(b->vmta, "v2");
    assert_string_equal(a->r[0].q->name, "r.test/v1");
    assert_string_equal(b->r[0].q->name, "r.test/v2");
    assert_null(c->pool);
    message_schedule(&m, a, NOW);
    message_schedule(&m, b, NOW);
    message_schedule(&m, c, NOW);
    w = worker_add(&m, NULL, 1, 10);
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 3);   /* r.test/v1: a + c (2 of max-smtp-out 2); r.test/v2: b */
    {
        size_t i, v1 = 0;
        for (i = 0; i < t_njobs; i++) {
            if (strcmp(t_jobs[i].vmta, "v2") == 0) {
                assert_string_equal(t_jobs[i].source_ip, "192.0.2.9");
                assert_string_equal(t_jobs[i].helo, "c.mta.test");
            } else {
                /* v1's two source hosts in rotation */
                assert_string_equal(t_jobs[i].source_ip, v1 ? "192.0.2.2" : "192.0.2.1");
                assert_string_equal(t_jobs[i].helo, v1 ? "b.mta.test" : "a.mta.test");
                v1++;
            }
        }
        assert_int_equal(v1, 2);
    }
    (void)w;
    qmgr_free(&m);
}

static void test_domain(void **state)
{
    char d[64];

    assert_string_equal(message_rcpt_domain("a@b@Ex.COM", d, sizeof(d)), "ex.com");
    assert_string_equal(message_rcpt_domain("a@ex.com.", d, sizeof(d)), "ex.com");
    assert_string_equal(message_rcpt_domain("postmaster", d, sizeof(d)), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_slots_and_worker_loss),
        cmocka_unit_test(test_prefer_last_worker),
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_domain),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
