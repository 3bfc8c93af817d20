/*
 * Unit tests for qmgr traffic shaping with a fake clock (no timers, no
 * network): GCRA arithmetic (ratelimit.c), the dispatch gate with
 * max-msg-rate / max-connect-rate / max-smtp-out and the connection
 * ledger (shaping.c), backoff enter/exit and its lowered limits, pattern
 * actions and the connect-failure pause with one probe (backoff.c), and
 * pause/resume/delete (control_shaping.c).
 */
#include "qmgr_test.h"
#include "../../../qmgr/shaping.h"

#define T0 1800000000LL
#define NOW ((T0 + 1) * 1000)

static const char *conf =
    "host-name mta.test\n"
    "<smtp-pattern-list lst>\n reply /^452 slow down/ mode=backoff,backoff-to-normal-after=30s\n"
    " reply /^250 .*welcome back/ mode=normal\n reply /^451 go away/ defer-queue\n"
    " reply /^450 nope/ bounce-rcpt\n reply /^550 5\\.7\\.1 blocked/ disable-source-ip,reenable-after=1h\n"
    "</smtp-pattern-list>\n"
    "<virtual-mta v1>\n smtp-source-host 192.0.2.1 a.mta.test\n smtp-source-host 192.0.2.2 b.mta.test\n"
    " <domain *>\n  smtp-pattern-list lst\n </domain>\n</virtual-mta>\n"
    "<virtual-mta cold>\n warmup-schedule 3, 5\n</virtual-mta>\n"
    "<virtual-mta v2>\n smtp-source-host 192.0.2.1 a.mta.test\n smtp-source-host 192.0.2.2 b.mta.test\n"
    " <domain *>\n  source-ip-max-smtp-out 192.0.2.0/24 1\n  source-ip-max-msg-rate 192.0.2.1 1/sec\n"
    " </domain>\n</virtual-mta>\n"
    "<virtual-mta dated>\n warmup-schedule 2,4,8\n warmup-start 2027-01-14\n</virtual-mta>\n"
    "<domain *>\n max-smtp-out 4\n max-rcpt-per-transaction 1\n retry-after 10m\n</domain>\n"
    "<domain rate.test>\n max-msg-rate 120/m\n max-connect-rate 60/m\n</domain>\n"
    "<domain burst.test>\n max-msg-rate 6/m\n max-msg-rate-burst 3\n</domain>\n"
    "<domain bo.test>\n max-smtp-out 10\n smtp-pattern-list lst\n backoff-to-normal-after 5m\n"
    " backoff-max-msg-rate 2/m\n</domain>\n";

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

/* reply - answer job j from w with one reply for every recipient. */
static void reply(struct qmgr *m, struct worker *w, const struct t_job *j, unsigned code,
                  const char *status, const char *text, int local, int64_t now)
{
    struct msg_result r;
    struct result_rcpt rr[16];
    uint32_t i;

    memset(&r, 0, sizeof(r));
    memset(rr, 0, sizeof(rr));
    r.job_id = j->id;
    r.nrcpt = j->nrcpt;
    r.rcpts = rr;
    r.local = local;
    r.remote_mx = (char *)"";
    r.remote_ip = (char *)"";
    r.source_ip = (char *)"192.0.2.1";
    r.esmtp_ext = (char *)"";
    for (i = 0; i < j->nrcpt; i++) {
        rr[i].index = j->idx[i];
        rr[i].code = code;
        rr[i].text = (char *)text;
        strcpy(rr[i].status, status);
    }
    assert_int_equal(result_apply(m, w, &r, now), 0);
}

static void test_gcra(void **state)
{
    struct rate_limit rl = { 0 };
    struct cfg_rate r = { .count = 600, .period = 3600, .set = 1 };    /* one per 6 s */
    struct cfg_rate u = { 0 };
    struct cfg_rate odd = { .count = 83, .period = 600, .set = 1 };
    int64_t wake = 0, t = NOW;
    uint32_t sent = 0, i;

    assert_int_equal(rate_avail(&rl, &u, 1, t, 7, &wake), 7);          /* unlimited */
    assert_int_equal(rate_avail(&rl, &r, 1, t, 10, &wake), 1);         /* smooth: one */
    rate_take(&rl, &r, t, 1);
    assert_int_equal(rate_avail(&rl, &r, 1, t + 5999, 10, &wake), 0);
    assert_int_equal(wake, t + 6000);
    assert_int_equal(rate_avail(&rl, &r, 1, t + 6000, 10, &wake), 1);
    /* idle for an hour: still only one at once with burst 1 (no hour's quota at once) */
    assert_int_equal(rate_avail(&rl, &r, 1, t + 3600000, 600, &wake), 1);
    /* burst 5 after idling: five at once, then back to the spacing */
    assert_int_equal(rate_avail(&rl, &r, 5, t + 3600000, 600, &wake), 5);
    rate_take(&rl, &r, t + 3600000, 5);
    assert_int_equal(rate_avail(&rl, &r, 5, t + 3600000, 600, &wake), 0);
    assert_int_equal(wake, t + 3600000 + 6000);
    /* 83/10m over a simulated hour, asking exactly when told to: 6 * 83
     * (+1 for the first at t = 0), never two within 7.228915 s */
    memset(&rl, 0, sizeof(rl));
    {
        int64_t last = -1;

        for (t = NOW; t < NOW + 3600000;) {
            if (rate_avail(&rl, &odd, 1, t, 1, &wake) == 1) {
                rate_take(&rl, &odd, t, 1);
                if (last >= 0)
                    assert_true(t - last >= 7228);
                last = t;
                sent++;
            } else {
                assert_true(wake > t);
                t = wake;
            }
        }
    }
    assert_true(sent >= 6 * 83 && sent <= 6 * 83 + 1);
    /* volume: 1 MB/s: a 2 MB message blocks the next for 2 s */
    {
        struct rate_limit vl = { 0 };
        struct cfg_rate v = { .count = 1 << 20, .period = 1, .set = 1 };

        assert_int_equal(rate_volume_ok(&vl, &v, NOW, &wake), 1);
        rate_volume_charge(&vl, &v, NOW, 2 << 20);
        assert_int_equal(rate_volume_ok(&vl, &v, NOW + 1999, &wake), 0);
        assert_true(wake >= NOW + 2000 && wake <= NOW + 2001);
        assert_int_equal(rate_volume_ok(&vl, &v, NOW + 2001, &wake), 1);
    }
    for (i = 0; i < 3; i++)
        (void)i;
}

/* queue_msg - one message with n recipients at dom. */
static struct qmsg *queue_msg(struct qmgr *m, unsigned id, const char *dom, unsigned n)
{
    char a[8][64];
    struct qmsg *msg;
    unsigned i;

    assert_true(n <= 8);
    for (i = 0; i < n; i++)
        snprintf(a[i], sizeof(a[i]), "r%u@%s", i, dom);
    msg = t_message(m, t_qid(id), T0, NULL, n > 0 ? a[0] : NULL, n > 1 ? a[1] : NULL,
                    n > 2 ? a[2] : NULL, n > 3 ? a[3] : NULL, n > 4 ? a[4] : NULL,
                    n > 5 ? a[5] : NULL, n > 6 ? a[6] : NULL, n > 7 ? a[7] : NULL, NULL);
    message_schedule(m, msg, NOW);
    return msg;
}

static void test_gate_rates(void **state)
{
    struct qmgr m;
    struct worker *w1, *w2;
    struct queue *q;
    int64_t t;
    size_t i, before;

    t_init(&m, cfg);
    w1 = worker_add(&m, NULL, 1, 1);
    w2 = worker_add(&m, NULL, 2, 100);
    q = queue_msg(&m, 1, "rate.test", 8)->r[0].q;
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 1);               /* 120/m: one now, next in 0.5 s */
    assert_int_equal(schedule_next_ms(&m), NOW + 500);
    dispatch_run(&m, NOW + 499);
    assert_int_equal(t_njobs, 1);
    schedule_run_timers(&m, NOW + 500);
    dispatch_run(&m, NOW + 500);
    /* a second connection is due only at 1 s (60/m connect rate): the
     * first is still busy, so nothing goes */
    assert_int_equal(t_njobs, 1);
    assert_int_equal(schedule_next_ms(&m), NOW + 1000);
    schedule_run_timers(&m, NOW + 1000);
    dispatch_run(&m, NOW + 1000);
    assert_int_equal(t_njobs, 2);
    assert_int_equal(shaping_conns(q, NOW + 1000), 2);
    /* job 0 ends well: its connection is cached; the next job reuses it
     * on the same worker without a connect token */
    reply(&m, t_jobs[0].w, &t_jobs[0], 250, "2.0.0", "250 ok", 0, NOW + 1200);
    dispatch_run(&m, NOW + 1500);
    assert_int_equal(t_njobs, 3);
    assert_ptr_equal(t_jobs[2].w, t_jobs[0].w);
    assert_int_equal(shaping_conns(q, NOW + 1500), 2);
    /* over a simulated minute: never more than 1 recipient per 0.5 s */
    before = t_njobs;
    for (t = NOW + 1500; t < NOW + 4000; t += 50) {
        for (i = 0; i < t_njobs; i++)
            if (t_jobs[i].nrcpt && t_jobs[i].id) {
                /* answer every job at once */
                struct job *j = worker_find_job(t_jobs[i].w, t_jobs[i].id);
                if (j)
                    reply(&m, t_jobs[i].w, &t_jobs[i], 250, "2.0.0", "250 ok", 0, t);
            }
        schedule_run_timers(&m, t);
        dispatch_run(&m, t);
    }
    /* 2.5 s at 2/s: 5 more (or 4 when the edge falls just so) */
    assert_true(t_njobs - before >= 4 && t_njobs - before <= 5);
    (void)w1;
    (void)w2;
    qmgr_free(&m);
}

static void test_burst_and_conns(void **state)
{
    struct qmgr m;
    struct worker *w;
    struct queue *q;

    t_init(&m, cfg);
    w = worker_add(&m, NULL, 1, 100);
    q = queue_msg(&m, 1, "burst.test", 8)->r[0].q;
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 3);               /* burst 3, then one per 10 s */
    dispatch_run(&m, NOW + 9999);
    assert_int_equal(t_njobs, 3);
    schedule_run_timers(&m, NOW + 10000);
    dispatch_run(&m, NOW + 10000);
    assert_int_equal(t_njobs, 4);
    /* other.test: max-smtp-out 4 counts cached connections too */
    {
        struct queue *o = queue_msg(&m, 2, "other.test", 8)->r[0].q;
        size_t k = t_njobs, i;

        dispatch_run(&m, NOW + 10000);
        assert_int_equal(t_njobs, k + 4);
        /* all four end well: their connections stay cached, still count
         * against max-smtp-out, and the next jobs reuse them */
        for (i = k; i < k + 4; i++)
            reply(&m, w, &t_jobs[i], 250, "2.0.0", "250 ok", 0, NOW + 10100);
        assert_int_equal(shaping_conns(o, NOW + 10100), 4);
        dispatch_run(&m, NOW + 10100);
        assert_int_equal(t_njobs, k + 8);       /* the four cached ones reused */
        assert_int_equal(shaping_conns(o, NOW + 10100), 4);
    }
    (void)q;
    qmgr_free(&m);
}

static void test_backoff(void **state)
{
    struct qmgr m;
    struct worker *w;
    struct queue *q;
    struct qmsg *msg;
    struct buf out;
    char *argv_q[] = { (char *)"show", (char *)"queues" };
    size_t k;
    int64_t at;

    t_init(&m, cfg);
    w = worker_add(&m, NULL, 1, 100);
    msg = queue_msg(&m, 1, "bo.test", 8);
    q = msg->r[0].q;
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 8);               /* 8 connections, no rate */
    (void)queue_msg(&m, 2, "bo.test", 8);       /* more mail waits behind them */
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 10);              /* max-smtp-out 10 */
    assert_int_equal(q->shape->mode, QM_NORMAL);
    /* a list rule: backoff with its own return time (30 s) */
    reply(&m, w, &t_jobs[0], 452, "4.3.1", "452 slow down please", 0, NOW + 100);
    assert_int_equal(q->shape->mode, QM_BACKOFF);
    assert_int_equal(q->shape->backoff_until, NOW + 100 + 30000);
    assert_int_equal(q->shape->backoff_conns, 5);       /* half of max-smtp-out 10 */
    assert_int_equal(q->shape->backoff_rate.count, 2);  /* backoff-max-msg-rate 2/m */
    assert_int_equal(shaping_max_conns(q), 5);
    buf_init(&out, 1 << 16);
    assert_int_equal(control_run(&m, 2, argv_q, &out, NOW + 200), 0);
    assert_non_null(strstr(out.data, "mode=backoff"));
    assert_non_null(strstr(out.data, "reason=\"452 slow down please (lst /^452 slow down/)\""));
    /* the deferred recipient waits twice retry-after (10m) in backoff, +-10% */
    assert_int_equal(msg->r[t_jobs[0].idx[0]].state, RS_WAIT);
    at = msg->r[t_jobs[0].idx[0]].tn.key;
    assert_true(at >= NOW + 100 + 1080000 && at <= NOW + 100 + 1320000);
    /* the built-in list: 421 4.7.0 refreshes backoff, the time is the
     * queue's backoff-to-normal-after (5m) */
    reply(&m, w, &t_jobs[1], 421, "4.7.0", "421 4.7.0 Try again later", 0, NOW + 300);
    assert_int_equal(q->shape->backoff_until, NOW + 300 + 300000);
    /* 8 jobs still busy, 2 connections idle in the cache: backoff's limit
     * of 5 means none of them is used */
    k = t_njobs;
    dispatch_run(&m, NOW + 400);
    assert_int_equal(t_njobs, k);
    assert_int_equal(shaping_conns(q, NOW + 400), 10);
    /* mode=normal rule on a 250 */
    reply(&m, w, &t_jobs[2], 250, "2.0.0", "250 2.0.0 welcome back", 0, NOW + 500);
    assert_int_equal(q->shape->mode, QM_NORMAL);
    /* back to backoff; time passes: normal again by itself */
    reply(&m, w, &t_jobs[3], 421, "4.7.0", "421 4.7.0 Try again later", 0, NOW + 600);
    assert_int_equal(q->shape->mode, QM_BACKOFF);
    /* half of max-smtp-out again (more than that were open) */
    assert_int_equal(shaping_max_conns(q), 5);
    backoff_tick(&m, q, NOW + 600 + 300000);
    assert_int_equal(q->shape->mode, QM_NORMAL);
    buf_free(&out);
    qmgr_free(&m);
}

static void test_connect_failure_and_pause(void **state)
{
    struct qmgr m;
    struct worker *w;
    struct queue *q;
    struct qmsg *msg;
    struct buf out;
    char *pause[] = { (char *)"pause", (char *)"queue", (char *)"dead.test" };
    char *resume[] = { (char *)"resume", (char *)"queue", (char *)"dead.test" };
    char *del[] = { (char *)"delete", (char *)"--rcpt", (char *)"r7@dead.test" };
    size_t k;
    int64_t until;

    t_init(&m, cfg);
    w = worker_add(&m, NULL, 1, 100);
    msg = queue_msg(&m, 1, "dead.test", 8);
    q = msg->r[0].q;
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 4);                       /* max-smtp-out 4 */
    reply(&m, w, &t_jobs[0], 421, "4.4.1", "4.4.1 connect to x: Connection refused", 1, NOW + 10);
    until = q->shape->retry_until;
    assert_true(until >= NOW + 10 + 540000 && until <= NOW + 10 + 660000);  /* retry-after 10m */
    assert_string_equal(shaping_mode_name(q, NOW + 20), "retry");
    {
        char *sq[] = { (char *)"show", (char *)"queues", (char *)"--mode=retry" };
        char *sn[] = { (char *)"show", (char *)"queues", (char *)"--mode=normal" };
        struct buf b;

        buf_init(&b, 1 << 16);
        assert_int_equal(control_run(&m, 3, sq, &b, NOW + 20), 0);
        assert_non_null(strstr(b.data, "dead.test/{default}  queued=8"));
        assert_non_null(strstr(b.data, "mode=retry"));
        assert_non_null(strstr(b.data, "reason=\"4.4.1 connect to x: Connection refused\""));
        buf_reset(&b);
        assert_int_equal(control_run(&m, 3, sn, &b, NOW + 20), 0);
        assert_string_equal(b.data, "no queue in mode normal\n");
        buf_free(&b);
    }
    /* the other jobs end (failed too): nothing new while the queue waits */
    for (k = 1; k < 4; k++)
        reply(&m, w, &t_jobs[k], 421, "4.4.1", "4.4.1 connect to x: refused", 1, NOW + 20);
    dispatch_run(&m, NOW + 30);
    assert_int_equal(t_njobs, 4);
    assert_int_equal(q->shape->retry_until, until);     /* the same wait, counted once */
    assert_int_equal(q->shape->conn_failures, 1);
    /* the pause ends: exactly one probe connection */
    until = q->shape->retry_until;
    schedule_run_timers(&m, until);
    dispatch_run(&m, until);
    assert_int_equal(t_njobs, 5);
    assert_int_equal(q->shape->probing, 1);
    dispatch_run(&m, until + 1);
    assert_int_equal(t_njobs, 5);
    /* the remote answers: probing ends, the queue opens up again */
    reply(&m, w, &t_jobs[4], 250, "2.0.0", "250 ok", 0, until + 100);
    assert_int_equal(q->shape->probing, 0);
    assert_int_equal(q->shape->conn_failures, 0);
    dispatch_run(&m, until + 100);
    assert_true(t_njobs > 6);
    /* pause: nothing goes; delete bounces with a b record; resume */
    buf_init(&out, 1 << 16);
    k = t_njobs;
    assert_int_equal(control_run(&m, 3, pause, &out, until + 200), 0);
    assert_string_equal(shaping_mode_name(q, until + 200), "paused");
    for (size_t i = 5; i < k; i++)
        reply(&m, w, &t_jobs[i], 451, "4.3.0", "451 later", 0, until + 300);
    dispatch_run(&m, until + 400);
    assert_int_equal(t_njobs, k);
    buf_reset(&out);
    assert_int_equal(control_run(&m, 3, del, &out, until + 500), 0);
    assert_non_null(strstr(out.data, "deleted 1 recipients"));
    assert_string_equal(t_field(t_nacct - 1, AF_TYPE), "b");
    assert_string_equal(t_field(t_nacct - 1, AF_RCPT), "r7@dead.test");
    assert_non_null(strstr(t_field(t_nacct - 1, AF_DSN_DIAG), "deleted by administrator"));
    buf_reset(&out);
    assert_int_equal(control_run(&m, 3, resume, &out, until + 600), 0);
    assert_string_equal(shaping_mode_name(q, until + 600), "normal");
    buf_free(&out);
    qmgr_free(&m);
}

static void test_sources_and_hold(void **state)
{
    struct qmgr m;
    struct worker *w;
    struct queue *q;
    struct qmsg *msg;
    struct buf out;
    char *dis[] = { (char *)"disable", (char *)"source", (char *)"192.0.2.2", (char *)"src.test" };
    char *ena[] = { (char *)"enable", (char *)"source", (char *)"192.0.2.2", (char *)"src.test" };
    char *hold[] = { (char *)"hold", (char *)"vmta", (char *)"v1" };
    char *rel[] = { (char *)"release", (char *)"vmta", (char *)"v1" };
    size_t i, k;

    t_init(&m, cfg);
    w = worker_add(&m, NULL, 1, 100);
    msg = t_message(&m, t_qid(1), T0, "v1", "a@src.test", "b@src.test", "c@src.test",
                    "d@src.test", "e@src.test", "f@src.test", NULL);
    message_schedule(&m, msg, NOW);
    q = msg->r[0].q;
    buf_init(&out, 1 << 16);
    assert_int_equal(control_run(&m, 4, dis, &out, NOW), 0);
    assert_non_null(strstr(out.data, "disabled source 192.0.2.2 for src.test: 1 queue"));
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 4);
    for (i = 0; i < t_njobs; i++)
        assert_string_equal(t_jobs[i].source_ip, "192.0.2.1");
    /* a 550 5.7.1 blocked from 192.0.2.1: the pattern disables it too;
     * with both out the queue waits, and shows it */
    reply(&m, w, &t_jobs[0], 550, "5.7.1", "550 5.7.1 blocked", 0, NOW + 10);
    assert_int_equal(backoff_ip_disabled(q, "192.0.2.1", NOW + 10), 1);
    for (i = 1; i < 4; i++)
        reply(&m, w, &t_jobs[i], 250, "2.0.0", "250 ok", 0, NOW + 20);
    k = t_njobs;
    dispatch_run(&m, NOW + 5000);               /* cached connections gone, no IP left */
    assert_int_equal(t_njobs, k);
    buf_reset(&out);
    assert_int_equal(control_run(&m, 4, ena, &out, NOW + 5000), 0);
    dispatch_run(&m, NOW + 5000);
    assert_int_equal(t_njobs, k + 2);           /* the two recipients left */
    assert_string_equal(t_jobs[k].source_ip, "192.0.2.2");
    assert_string_equal(t_jobs[k + 1].source_ip, "192.0.2.2");
    /* reenable-after=1h brings 192.0.2.1 back */
    assert_int_equal(backoff_ip_disabled(q, "192.0.2.1", NOW + 10 + 3600000), 0);
    /* hold vmta: new mail waits until release */
    buf_reset(&out);
    assert_int_equal(control_run(&m, 3, hold, &out, NOW + 6000), 0);
    assert_string_equal(shaping_mode_name(q, NOW + 6000), "paused");
    msg = t_message(&m, t_qid(2), T0, "v1", "g@src.test", "h@other.test", NULL);
    message_schedule(&m, msg, NOW + 6000);
    assert_string_equal(shaping_mode_name(msg->r[1].q, NOW + 6000), "paused");  /* new queue too */
    dispatch_run(&m, NOW + 6200);
    assert_int_equal(t_njobs, k + 2);
    buf_reset(&out);
    assert_int_equal(control_run(&m, 3, rel, &out, NOW + 6300), 0);
    assert_non_null(strstr(out.data, "resumed */v1: 2 queues"));
    dispatch_run(&m, NOW + 6300);
    assert_int_equal(t_njobs, k + 4);
    buf_free(&out);
    qmgr_free(&m);
}

static void answer_all(struct qmgr *m, struct worker *w, size_t from, int64_t now)
{
    size_t i;

    for (i = from; i < t_njobs; i++)
        if (worker_find_job(w, t_jobs[i].id))
            reply(m, w, &t_jobs[i], 250, "2.0.0", "250 ok", 0, now);
}

static void test_warmup(void **state)
{
    struct qmgr m, m2;
    struct worker *w;
    struct qmsg *msg;
    struct buf out;
    char *argv_v[] = { (char *)"show", (char *)"vmtas" };
    char path[128];
    int64_t midnight = (NOW / 86400000 + 1) * 86400000, wake = 0;
    size_t k;

    /* 2027-01-14 is day 1 of "dated": today (01-15) is day 2, cap 4 */
    assert_int_equal(config_find_vmta(cfg, "dated")->warmup_start_day, 20832);
    t_init(&m, cfg);
    w = worker_add(&m, NULL, 1, 100);
    assert_int_equal(warmup_left(&m, "dated", NOW, &wake), 4);
    assert_int_equal(warmup_left(&m, "v1", NOW, &wake), UINT32_MAX);    /* no plan */
    /* "cold": day 1 (its first message), cap 3 over all its queues */
    msg = t_message(&m, t_qid(1), T0, "cold", "a@x.test", "b@x.test", "c@x.test", "d@y.test",
                    "e@y.test", "f@y.test", "g@y.test", "h@y.test", NULL);
    message_schedule(&m, msg, NOW);
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 3);
    assert_int_equal(warmup_left(&m, "cold", NOW, &wake), 0);
    assert_int_equal(wake, midnight);
    answer_all(&m, w, 0, NOW + 10);
    dispatch_run(&m, NOW + 20);
    assert_int_equal(t_njobs, 3);               /* waits for tomorrow */
    assert_int_equal(schedule_next_ms(&m), midnight);
    buf_init(&out, 1 << 16);
    assert_int_equal(control_run(&m, 2, argv_v, &out, NOW + 30), 0);
    assert_non_null(strstr(out.data, "cold  warm-up day 1 of 2  cap=3  sent-today=3  remaining=0\n"));
    assert_non_null(strstr(out.data, "dated  warm-up day 2 of 3  cap=4  sent-today=0  remaining=4\n"));
    assert_non_null(strstr(out.data, "v1  warm (no warmup-schedule)\n"));
    /* the counters survive a restart */
    snprintf(path, sizeof(path), "%s/warmup", t_dir);
    assert_int_equal(warmup_save(&m, path), 0);
    assert_int_equal(m.warmup_dirty, 0);
    t_init(&m2, cfg);
    assert_int_equal(warmup_load(&m2, path), 1);
    assert_int_equal(warmup_left(&m2, "cold", NOW + 40, &wake), 0);
    assert_int_equal(warmup_left(&m2, "cold", midnight, &wake), 5);     /* day 2 */
    qmgr_free(&m2);
    (void)unlink(path);
    /* midnight: day 2, cap 5 */
    schedule_run_timers(&m, midnight);
    k = t_njobs;
    dispatch_run(&m, midnight);
    assert_int_equal(t_njobs, k + 5);
    answer_all(&m, w, k, midnight + 10);
    dispatch_run(&m, midnight + 20);
    assert_int_equal(t_njobs, k + 5);
    /* day 3: the plan is done, no cap */
    assert_int_equal(warmup_left(&m, "cold", midnight + 86400000, &wake), UINT32_MAX);
    buf_free(&out);
    qmgr_free(&m);
}

static void test_delete_job(void **state)
{
    struct qmgr m;
    struct qmsg *a, *b;
    struct buf out;
    char *pause[] = { (char *)"pause", (char *)"queue", (char *)"j.test" };
    char *del[] = { (char *)"delete", (char *)"--job", (char *)"J1" };

    t_init(&m, cfg);
    (void)worker_add(&m, NULL, 1, 100);
    buf_init(&out, 1 << 16);
    assert_int_equal(control_run(&m, 3, pause, &out, NOW), 0);
    a = t_message(&m, t_qid(1), T0, NULL, "a@j.test", "b@j.test", NULL);
    free(a->env.job_id);                        /* t_message sets "job7" */
    a->env.job_id = strdup("J1");
    b = t_message(&m, t_qid(2), T0, NULL, "c@j.test", NULL);
    free(b->env.job_id);
    b->env.job_id = strdup("J2");
    message_schedule(&m, a, NOW);
    message_schedule(&m, b, NOW);
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 0);               /* paused */
    buf_reset(&out);
    assert_int_equal(control_run(&m, 3, del, &out, NOW + 1), 0);
    assert_non_null(strstr(out.data, "deleted 2 recipients"));
    assert_int_equal(t_nacct, 2);
    assert_string_equal(t_field(0, AF_TYPE), "b");
    assert_string_equal(t_field(1, AF_JOB_ID), "J1");
    assert_int_equal(m.msgs.n, 1);              /* J1's message is gone, J2's stays */
    assert_int_equal(t_nremoved, 1);
    buf_free(&out);
    qmgr_free(&m);
}

static void test_source_ip_limits(void **state)
{
    struct qmgr m;
    struct worker *w;
    struct qmsg *msg;
    size_t i;

    t_init(&m, cfg);
    w = worker_add(&m, NULL, 1, 100);
    msg = t_message(&m, t_qid(1), T0, "v2", "a@s.test", "b@s.test", "c@s.test", "d@s.test",
                    "e@s.test", NULL);
    message_schedule(&m, msg, NOW);
    dispatch_run(&m, NOW);
    /* max-smtp-out 4, but one connection per source IP */
    assert_int_equal(t_njobs, 2);
    assert_string_not_equal(t_jobs[0].source_ip, t_jobs[1].source_ip);
    for (i = 0; i < 2; i++)
        if (strcmp(t_jobs[i].source_ip, "192.0.2.1") == 0)
            reply(&m, w, &t_jobs[i], 250, "2.0.0", "250 ok", 0, NOW + 10);
    /* 192.0.2.1's connection is free, but its 1/sec rate is not: wait */
    dispatch_run(&m, NOW + 20);
    assert_int_equal(t_njobs, 2);
    assert_int_equal(schedule_next_ms(&m), NOW + 1000);
    schedule_run_timers(&m, NOW + 1000);
    dispatch_run(&m, NOW + 1000);
    assert_int_equal(t_njobs, 3);
    assert_string_equal(t_jobs[2].source_ip, "192.0.2.1");
    assert_ptr_equal(t_jobs[2].w, w);
    qmgr_free(&m);
}

static void test_hold_reload(void **state)
{
    struct qmgr m;
    struct qmsg *msg;
    struct queue *q;
    struct config *held = t_config("hold-domain [*.]h.test\n");
    char *resume[] = { (char *)"resume", (char *)"queue", (char *)"x.h.test" };
    struct buf out;

    t_init(&m, cfg);
    (void)worker_add(&m, NULL, 1, 100);
    msg = t_message(&m, t_qid(1), T0, NULL, "a@h.test", "b@x.h.test", NULL);
    message_schedule(&m, msg, NOW);
    q = msg->r[0].q;
    /* a reload that adds hold-domain holds the live queues too */
    qmgr_reconfigure(&m, held);
    assert_string_equal(shaping_mode_name(q, NOW), "paused");
    assert_string_equal(shaping_mode_name(msg->r[1].q, NOW), "paused");
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 0);
    /* mtactl resume wins over hold-domain, also across reloads */
    buf_init(&out, 4096);
    assert_int_equal(control_run(&m, 3, resume, &out, NOW), 0);
    qmgr_reconfigure(&m, held);
    assert_string_equal(shaping_mode_name(msg->r[1].q, NOW), "normal");
    /* a reload without the line releases what it held */
    qmgr_reconfigure(&m, cfg);
    assert_string_equal(shaping_mode_name(q, NOW), "normal");
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 2);
    buf_free(&out);
    qmgr_free(&m);
    config_free(held);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gcra),
        cmocka_unit_test_setup_teardown(test_gate_rates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_and_conns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_failure_and_pause, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sources_and_hold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_warmup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_ip_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_reload, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
