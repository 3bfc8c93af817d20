/*
 * Unit tests for qmgr/control.c: `show queues` lists each non-empty queue
 * with queued/inflight counts and its earliest retry time; `status` gives
 * the totals; unknown commands fail.
 */
#include "qmgr_test.h"

#define T0 1800000000LL
#define NOW ((T0 + 1) * 1000)

static void test_control(void **state)
{
    struct config *cfg = t_config("<domain *>\n retry-after 1h\n</domain>\n");
    struct qmgr m;
    struct qmsg *msg;
    struct worker *w;
    struct buf out;
    char *argv_q[] = { (char *)"show", (char *)"queues" };
    char *argv_s[] = { (char *)"status" };
    char *argv_x[] = { (char *)"frobnicate" };
    struct msg_result r;
    struct result_rcpt rr;

    t_init(&m, cfg);
    buf_init(&out, 1 << 20);
    assert_int_equal(control_run(&m, 2, argv_q, &out, NOW), 0);
    assert_string_equal(out.data, "no queued mail\n");
    msg = t_message(&m, t_qid(1), T0, NULL, "a@b.test", "b@b.test", "c@a.test", NULL);
    message_schedule(&m, msg, NOW);
    w = worker_add(&m, NULL, 1, 1);
    dispatch_run(&m, NOW);          /* one slot: one job, to whichever queue first */
    assert_int_equal(t_njobs, 1);
    memset(&r, 0, sizeof(r));
    memset(&rr, 0, sizeof(rr));
    r.job_id = t_jobs[0].id;
    r.nrcpt = 1;
    r.rcpts = &rr;
    rr.index = t_jobs[0].idx[0];
    rr.code = 421;
    rr.text = (char *)"4.4.2 timeout";
    strcpy(rr.status, "4.4.2");
    assert_int_equal(result_apply(&m, w, &r, NOW), 0);
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 2);
    buf_reset(&out);
    assert_int_equal(control_run(&m, 2, argv_q, &out, NOW), 0);
    if (strcmp(t_jobs[0].domain, "a.test") == 0)
        assert_string_equal(out.data,
            "a.test/{default}  queued=1  inflight=0  retry-at=2027-01-15 09:00:01+0000  mode=normal  since=-  conns=1\n"
            "b.test/{default}  queued=2  inflight=2  retry-at=-  mode=normal  since=-  conns=1\n");
    else
        assert_string_equal(out.data,
            "a.test/{default}  queued=1  inflight=1  retry-at=-  mode=normal  since=-  conns=1\n"
            "b.test/{default}  queued=2  inflight=0  retry-at=2027-01-15 09:00:01+0000  mode=normal  since=-  conns=1\n");
    buf_reset(&out);
    assert_int_equal(control_run(&m, 1, argv_s, &out, NOW), 0);
    assert_non_null(strstr(out.data, "messages queued: 1\n"));
    assert_non_null(strstr(out.data, "recipients queued: 3\n"));
    /* b.test's job had 2 recipients; the result named one, the other is
     * deferred as "no result" */
    assert_non_null(strstr(out.data, strcmp(t_jobs[0].domain, "a.test") == 0
                           ? "deferred since start: 1\n" : "deferred since start: 2\n"));
    assert_non_null(strstr(out.data, "smtp-out workers: 1 (jobs 1 of 1 slots)\n"));
    buf_reset(&out);
    assert_int_equal(control_run(&m, 1, argv_x, &out, NOW), 1);
    buf_free(&out);
    qmgr_free(&m);
    t_reset();
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
