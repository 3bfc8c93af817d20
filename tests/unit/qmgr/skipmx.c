/*
 * Unit tests for the skip-mx action (qmgr/skipmx.c, result.c's hook) with
 * a fake clock: a matching reply from an MX host puts that host into the
 * queue's avoid list for its first retry-after interval, the recipient is
 * ready again at once (a t record, 4.x even for a 5xx), the next DELIVER
 * carries the list, the host comes back when its time is over, and a
 * reply that matches no skip-mx rule is deferred as usual.
 */
#include "qmgr_test.h"
#include "../../../qmgr/shaping.h"

#define T0 1800000000LL
#define NOW ((T0 + 1) * 1000)

static const char *conf =
    "host-name mta.test\n"
    "<smtp-pattern-list mx>\n reply /try another MX/ skip-mx\n</smtp-pattern-list>\n"
    "<domain *>\n max-rcpt-per-transaction 1\n retry-after 10m\n</domain>\n"
    "<domain sk.test>\n smtp-pattern-list mx\n</domain>\n";

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

/* reply - answer job j from the MX host mx with one reply for all. */
static void reply(struct qmgr *m, struct worker *w, const struct t_job *j, const char *mx,
                  unsigned code, const char *status, const char *text, int64_t now)
{
    struct msg_result r;
    struct result_rcpt rr[4];
    uint32_t i;

    memset(&r, 0, sizeof(r));
    memset(rr, 0, sizeof(rr));
    r.job_id = j->id;
    r.nrcpt = j->nrcpt;
    r.rcpts = rr;
    r.remote_mx = (char *)mx;
    r.remote_ip = (char *)"192.0.2.25";
    r.source_ip = (char *)"";
    r.esmtp_ext = (char *)"";
    for (i = 0; i < j->nrcpt && i < 4; i++) {
        rr[i].index = j->idx[i];
        rr[i].code = code;
        rr[i].text = (char *)text;
        strcpy(rr[i].status, status);
    }
    assert_int_equal(result_apply(m, w, &r, now), 0);
}

static struct qmsg *one(struct qmgr *m, unsigned id, const char *rcpt)
{
    struct qmsg *msg = t_message(m, t_qid(id), T0, NULL, rcpt, NULL);

    message_schedule(m, msg, NOW);
    return msg;
}

static void test_skip_then_next(void **state)
{
    struct qmgr m;
    struct worker *w;
    struct queue *q;
    struct qmsg *msg;

    t_init(&m, cfg);
    w = worker_add(&m, NULL, 1, 100);
    msg = one(&m, 1, "a@sk.test");
    q = msg->r[0].q;
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 1);
    assert_string_equal(t_jobs[0].skip_mx, "");
    /* a 421 that matches: the host is avoided, the recipient goes again now */
    reply(&m, w, &t_jobs[0], "mx1.sk.test", 421, "4.3.2", "421 4.3.2 busy, try another MX", NOW + 10);
    assert_true(skipmx_avoids(q, "MX1.sk.test", NOW + 10));
    assert_int_equal(t_nacct, 1);
    assert_string_equal(t_field(0, AF_TYPE), "t");
    schedule_run_timers(&m, NOW + 10);
    dispatch_run(&m, NOW + 10);
    assert_int_equal(t_njobs, 2);
    assert_string_equal(t_jobs[1].skip_mx, "mx1.sk.test");
    /* a 5xx from the second host that matches: kept queued, both avoided */
    reply(&m, w, &t_jobs[1], "mx2.sk.test", 550, "5.7.1", "550 5.7.1 no, try another MX", NOW + 20);
    assert_int_equal(msg->r[0].state == RS_READY || msg->r[0].state == RS_WAIT, 1);
    assert_string_equal(t_field(1, AF_TYPE), "t");
    assert_true(strncmp(t_field(1, AF_DSN_STATUS), "4.7.1", 5) == 0);
    schedule_run_timers(&m, NOW + 20);
    dispatch_run(&m, NOW + 20);
    assert_int_equal(t_njobs, 3);
    assert_string_equal(t_jobs[2].skip_mx, "mx1.sk.test,mx2.sk.test");
    {
        char *argv_q[] = { (char *)"show", (char *)"queues" };
        struct buf out;

        buf_init(&out, 1 << 16);
        assert_int_equal(control_run(&m, 2, argv_q, &out, NOW + 25), 0);
        assert_non_null(strstr(out.data, "skip-mx=mx1.sk.test(until "));
        assert_non_null(strstr(out.data, "skip-mx=mx2.sk.test(until "));
        buf_free(&out);
    }
    reply(&m, w, &t_jobs[2], "mx3.sk.test", 250, "2.0.0", "250 ok", NOW + 30);
    assert_string_equal(t_field(2, AF_TYPE), "d");
    /* retry-after 10m later mx1 is no longer avoided */
    assert_false(skipmx_avoids(q, "mx1.sk.test", NOW + 10 + 600000));
    msg = one(&m, 2, "b@sk.test");
    dispatch_run(&m, NOW + 10 + 600000);
    assert_int_equal(t_njobs, 4);
    assert_string_equal(t_jobs[3].skip_mx, "mx2.sk.test");
    qmgr_free(&m);
}

/* a greeting refusal smtp-out reports (it moved on by itself) */
static void test_refusal(void **state)
{
    struct qmgr m;
    struct worker *w;
    struct qmsg *msg;
    struct msg_result r;
    struct result_rcpt rr;
    struct queue *q;
    struct result_refusal f[2] = { { "mx1.sk.test", "421 4.3.2 busy, try another MX" },
                                   { "mx2.sk.test", "421 4.3.2 plain busy" } };

    t_init(&m, cfg);
    w = worker_add(&m, NULL, 1, 100);
    msg = one(&m, 5, "g@sk.test");
    q = msg->r[0].q;                    /* the message is gone after its 250 */
    dispatch_run(&m, NOW);
    memset(&r, 0, sizeof(r));
    memset(&rr, 0, sizeof(rr));
    r.job_id = t_jobs[0].id;
    r.nrcpt = 1;
    r.rcpts = &rr;
    r.remote_mx = (char *)"mx3.sk.test";
    r.remote_ip = (char *)"192.0.2.3";
    r.source_ip = (char *)"";
    r.esmtp_ext = (char *)"";
    r.nrefused = 2;
    r.refused = f;
    rr.index = t_jobs[0].idx[0];
    rr.code = 250;
    rr.text = (char *)"250 ok";
    strcpy(rr.status, "2.0.0");
    assert_int_equal(result_apply(&m, w, &r, NOW + 10), 0);
    assert_true(skipmx_avoids(q, "mx1.sk.test", NOW + 10));
    assert_false(skipmx_avoids(q, "mx2.sk.test", NOW + 10));    /* no rule */
    assert_false(skipmx_avoids(q, "mx3.sk.test", NOW + 10));
    qmgr_free(&m);
}

static void test_no_rule_defers(void **state)
{
    struct qmgr m;
    struct worker *w;
    struct qmsg *msg;

    t_init(&m, cfg);
    w = worker_add(&m, NULL, 1, 100);
    msg = one(&m, 3, "c@other.test");           /* no smtp-pattern-list */
    dispatch_run(&m, NOW);
    reply(&m, w, &t_jobs[0], "mx1.other.test", 421, "4.3.2", "421 4.3.2 busy, try another MX", NOW + 10);
    assert_false(skipmx_avoids(msg->r[0].q, "mx1.other.test", NOW + 10));
    assert_int_equal(msg->r[0].state, RS_WAIT);
    assert_true(msg->r[0].tn.key >= NOW + 10 + 540000);     /* retry-after 10m, jittered */
    /* a bogus MX name from smtp-out is not taken into the list */
    msg = one(&m, 4, "d@sk.test");
    dispatch_run(&m, NOW + 20);
    reply(&m, w, &t_jobs[1], "bad,name", 421, "4.3.2", "421 4.3.2 busy, try another MX", NOW + 30);
    assert_int_equal(msg->r[0].state, RS_WAIT);
    assert_false(skipmx_avoids(msg->r[0].q, "bad,name", NOW + 30));
    qmgr_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_skip_then_next, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_rule_defers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
