/*
 * Unit tests for qmgr/result.c: a RESULT's 2xx/4xx/5xx replies become
 * delivered / deferred / bounced recipients with the matching accounting
 * records (type, dsnAction, dsnStatus, dsnDiag, bounceCat, queue, ...),
 * expiry and the attempt cap bounce as message-expired, and a finished
 * message is removed.
 */
#include "qmgr_test.h"

#define T0 1800000000LL     /* time queued, seconds */
#define NOW ((T0 + 10) * 1000)

static const char *conf =
    "host-name mta.test\n"
    "<domain *>\n retry-after 1m,5m,20m\n retry-recipients-after 3m\n bounce-after 1h\n"
    " max-rcpt-per-transaction 10\n</domain>\n"
    "<domain capped.test>\n max-smtp-retries 2\n</domain>\n";

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

static struct msg_result *mkres(uint64_t job, uint32_t n, const uint32_t *codes, const char *const *texts)
{
    static struct msg_result r;
    static struct result_rcpt rr[16];
    uint32_t i;

    memset(&r, 0, sizeof(r));
    r.job_id = job;
    r.esmtp = 1;
    r.remote_mx = (char *)"mx1.dest.test";
    r.remote_ip = (char *)"192.0.2.7";
    r.source_ip = (char *)"198.51.100.1";
    r.esmtp_ext = (char *)"PIPELINING,8BITMIME";
    r.nrcpt = n;
    r.rcpts = rr;
    for (i = 0; i < n; i++) {
        rr[i].index = i;
        rr[i].code = codes[i];
        rr[i].text = (char *)texts[i];
        bounce_status_extract((int)codes[i], texts[i], rr[i].status, sizeof(rr[i].status));
    }
    return &r;
}

static size_t find_acct(const char *rcpt)
{
    size_t i;

    for (i = 0; i < t_nacct; i++)
        if (strcmp(t_field(i, AF_RCPT), rcpt) == 0)
            return i;
    fail_msg("no accounting record for %s", rcpt);
    return 0;
}

static void test_mixed_result(void **state)
{
    struct qmgr m;
    struct qmsg *msg;
    struct worker *w;
    static const uint32_t codes[3] = { 250, 550, 451 };
    static const char *const texts[3] = { "2.0.0 Ok: queued", "5.1.1 no such user",
                                          "4.2.1 try later" };
    size_t a;

    t_init(&m, cfg);
    msg = t_message(&m, t_qid(1), T0, NULL, "a@dest.test", "b@dest.test", "c@Dest.Test", NULL);
    message_schedule(&m, msg, NOW);
    w = worker_add(&m, NULL, 11, 10);
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 1);
    assert_int_equal(t_jobs[0].nrcpt, 3);
    assert_string_equal(t_jobs[0].domain, "dest.test");
    assert_string_equal(t_jobs[0].helo, "mta.test");
    assert_int_equal(m.nrcpt_inflight, 3);

    assert_int_equal(result_apply(&m, w, mkres(t_jobs[0].id, 3, codes, texts), NOW), 0);
    assert_int_equal(msg->r[0].state, RS_DELIVERED);
    assert_int_equal(msg->r[1].state, RS_BOUNCED);
    assert_int_equal(msg->r[2].state, RS_WAIT);
    assert_int_equal(msg->r[2].attempts, 1);
    assert_int_equal(m.st.delivered, 1);
    assert_int_equal(m.st.bounced, 1);
    assert_int_equal(m.st.deferred, 1);
    assert_int_equal(m.nrcpt_queued, 1);
    assert_int_equal(m.nrcpt_inflight, 0);
    assert_int_equal(t_nacct, 3);

    a = find_acct("a@dest.test");
    assert_string_equal(t_field(a, AF_TYPE), "d");
    assert_string_equal(t_field(a, AF_DSN_ACTION), "delivered");
    assert_string_equal(t_field(a, AF_DSN_STATUS), "2.0.0 (success)");
    assert_string_equal(t_field(a, AF_DSN_DIAG), "smtp;250 2.0.0 Ok: queued");
    assert_string_equal(t_field(a, AF_DSN_MTA), "mx1.dest.test (192.0.2.7)");
    assert_null(t_field(a, AF_BOUNCE_CAT));
    assert_string_equal(t_field(a, AF_ORIG), "sender@origin.test");
    assert_string_equal(t_field(a, AF_SRC_TYPE), "smtp");
    assert_string_equal(t_field(a, AF_SRC_MTA), "client.test (127.0.0.1)");
    assert_string_equal(t_field(a, AF_DLV_TYPE), "smtp");
    assert_string_equal(t_field(a, AF_DLV_SOURCE_IP), "198.51.100.1");
    assert_string_equal(t_field(a, AF_DLV_DESTINATION_IP), "192.0.2.7");
    assert_string_equal(t_field(a, AF_DLV_ESMTP_AVAILABLE), "PIPELINING,8BITMIME");
    assert_string_equal(t_field(a, AF_DLV_SIZE), "1234");
    assert_string_equal(t_field(a, AF_VMTA), "{default}");
    assert_string_equal(t_field(a, AF_JOB_ID), "job7");
    assert_string_equal(t_field(a, AF_QUEUE), "dest.test/{default}");
    assert_string_equal(t_field(a, AF_QUEUE_ID), t_qid(1));
    assert_string_equal(t_field(a, AF_TOTAL_SECONDS_QUEUED), "10");
    assert_string_equal(t_field(a, AF_TIME_QUEUED), "2027-01-15 08:00:00+0000");
    assert_string_equal(t_field(a, AF_TIME_LOGGED), "2027-01-15 08:00:10+0000");

    a = find_acct("b@dest.test");
    assert_string_equal(t_field(a, AF_TYPE), "b");
    assert_string_equal(t_field(a, AF_DSN_ACTION), "failed");
    assert_string_equal(t_field(a, AF_DSN_STATUS), "5.1.1 (bad destination mailbox address)");
    assert_string_equal(t_field(a, AF_DSN_DIAG), "smtp;550 5.1.1 no such user");
    assert_string_equal(t_field(a, AF_BOUNCE_CAT), "bad-mailbox");

    a = find_acct("c@Dest.Test");
    assert_string_equal(t_field(a, AF_TYPE), "t");
    assert_string_equal(t_field(a, AF_DSN_ACTION), "delayed");
    assert_string_equal(t_field(a, AF_DSN_STATUS), "4.2.1 (mailbox disabled, not accepting messages)");
    assert_non_null(t_field(a, AF_BOUNCE_CAT));

    /* recipient-level 4xx (others fared differently): floor 3m over 1m */
    assert_int_equal(msg->r[2].tn.key, NOW + 180000);
    assert_int_equal(t_nremoved, 0);

    /* the retry: ready at its time, delivered, message removed */
    schedule_run_timers(&m, NOW + 179999);
    assert_int_equal(msg->r[2].state, RS_WAIT);
    schedule_run_timers(&m, NOW + 180000);
    assert_int_equal(msg->r[2].state, RS_READY);
    dispatch_run(&m, NOW + 180000);
    assert_int_equal(t_njobs, 2);
    assert_int_equal(t_jobs[1].nrcpt, 1);
    assert_int_equal(t_jobs[1].idx[0], 2);
    {
        static const uint32_t ok[1] = { 250 };
        static const char *const okt[1] = { "Ok" };
        struct msg_result *r = mkres(t_jobs[1].id, 1, ok, okt);

        r->rcpts[0].index = 2;
        assert_int_equal(result_apply(&m, w, r, NOW + 181000), 0);
    }
    assert_int_equal(t_nremoved, 1);
    assert_string_equal(t_removed[0], t_qid(1));
    assert_int_equal(m.msgs.n, 0);
    assert_int_equal(m.nrcpt_queued, 0);
    assert_string_equal(t_field(3, AF_DSN_DIAG), "smtp;250 Ok");
    assert_string_equal(t_field(3, AF_DSN_STATUS), "2.0.0 (success)");
    /* unknown job */
    assert_int_equal(result_apply(&m, w, mkres(999, 1, codes, texts), NOW), -1);
    qmgr_free(&m);
}

static void test_retry_list_and_expiry(void **state)
{
    struct qmgr m;
    struct qmsg *msg;
    struct worker *w;
    static const uint32_t codes[1] = { 421 };
    static const char *const texts[1] = { "4.4.2 connection dropped" };
    int64_t now = NOW;
    int64_t expect[] = { 60, 300, 1200, 1200 };
    int i;

    t_init(&m, cfg);
    msg = t_message(&m, t_qid(2), T0, NULL, "x@slow.test", NULL);
    message_schedule(&m, msg, now);
    w = worker_add(&m, NULL, 11, 10);
    for (i = 0; i < 4; i++) {
        dispatch_run(&m, now);
        assert_int_equal(t_njobs, (size_t)i + 1);
        assert_int_equal(result_apply(&m, w, mkres(t_jobs[i].id, 1, codes, texts), now), 0);
        assert_int_equal(msg->r[0].state, RS_WAIT);
        assert_int_equal(msg->r[0].attempts, i + 1);
        /* connection-level 4xx: the list, last value repeating (rnd = middle) */
        assert_int_equal(msg->r[0].tn.key, now + expect[i] * 1000);
        now = msg->r[0].tn.key;
        schedule_run_timers(&m, now);
        assert_int_equal(msg->r[0].state, RS_READY);
    }
    /* past bounce-after (1h): the next 4xx bounces as expired */
    now = (T0 + 3600) * 1000;
    dispatch_run(&m, now);
    assert_int_equal(result_apply(&m, w, mkres(t_jobs[4].id, 1, codes, texts), now), 0);
    assert_int_equal(t_nremoved, 1);
    assert_string_equal(t_field(t_nacct - 1, AF_TYPE), "b");
    assert_string_equal(t_field(t_nacct - 1, AF_BOUNCE_CAT), "message-expired");
    assert_string_equal(t_field(t_nacct - 1, AF_DSN_STATUS), "4.4.7 (delivery time expired)");
    assert_string_equal(t_field(t_nacct - 1, AF_DSN_ACTION), "failed");
    qmgr_free(&m);
}

static void test_expiry_timer_and_inflight(void **state)
{
    struct qmgr m;
    struct qmsg *msg;
    struct worker *w;
    static const uint32_t codes[2] = { 451, 250 };
    static const char *const texts[2] = { "4.3.0 later", "2.0.0 ok" };

    t_init(&m, cfg);
    msg = t_message(&m, t_qid(3), T0, NULL, "a@e.test", "b@e.test", NULL);
    message_schedule(&m, msg, NOW);
    w = worker_add(&m, NULL, 11, 10);
    /* a retry that would land after expiry is expired at expiry */
    dispatch_run(&m, NOW);
    assert_int_equal(result_apply(&m, w, mkres(t_jobs[0].id, 2, codes, texts),
                                  (T0 + 3590) * 1000), 0);
    assert_int_equal(msg->r[0].state, RS_WAIT);
    assert_int_equal(msg->r[0].tn.key, (T0 + 3600) * 1000);
    assert_int_equal(schedule_next_ms(&m), (T0 + 3600) * 1000);
    schedule_run_timers(&m, (T0 + 3600) * 1000);
    assert_int_equal(t_nremoved, 1);
    assert_string_equal(t_field(t_nacct - 1, AF_BOUNCE_CAT), "message-expired");
    assert_string_equal(t_field(t_nacct - 1, AF_RCPT), "a@e.test");

    /* in flight at expiry: flagged, bounced when the 4xx comes back */
    msg = t_message(&m, t_qid(4), T0, NULL, "c@e.test", "d@e.test", NULL);
    /* dispatched late enough that its watchdog (~30 min) is after expiry */
    message_schedule(&m, msg, (T0 + 3000) * 1000);
    dispatch_run(&m, (T0 + 3000) * 1000);
    assert_int_equal(t_njobs, 2);
    schedule_run_timers(&m, (T0 + 3600) * 1000);
    assert_true(msg->r[0].flags & RF_EXPIRE);
    assert_int_equal(msg->r[0].state, RS_INFLIGHT);
    {
        size_t before = t_nacct;

        assert_int_equal(result_apply(&m, w, mkres(t_jobs[1].id, 2, codes, texts),
                                      (T0 + 3601) * 1000), 0);
        assert_int_equal(t_nacct, before + 2);
        assert_string_equal(t_field(before, AF_TYPE), "b");
        assert_string_equal(t_field(before, AF_BOUNCE_CAT), "message-expired");
        assert_string_equal(t_field(before + 1, AF_TYPE), "d");     /* 2xx still counts */
    }
    assert_int_equal(t_nremoved, 2);
    /* lost job at expiry: its watchdog expires the recipients */
    msg = t_message(&m, t_qid(5), T0, NULL, "e@e.test", NULL);
    message_schedule(&m, msg, (T0 + 3000) * 1000);
    dispatch_run(&m, (T0 + 3000) * 1000);
    schedule_run_timers(&m, (T0 + 3600) * 1000);
    assert_int_equal(msg->r[0].state, RS_INFLIGHT);
    schedule_run_timers(&m, schedule_next_ms(&m));
    assert_int_equal(t_nremoved, 3);
    assert_int_equal(m.nrcpt_queued, 0);
    qmgr_free(&m);
}

static void test_attempt_cap(void **state)
{
    struct qmgr m;
    struct qmsg *msg;
    struct worker *w;
    static const uint32_t codes[1] = { 450 };
    static const char *const texts[1] = { "4.7.0 greylisted" };
    int64_t now = NOW;

    t_init(&m, cfg);
    msg = t_message(&m, t_qid(6), T0, NULL, "u@capped.test", NULL);
    message_schedule(&m, msg, now);
    w = worker_add(&m, NULL, 11, 10);
    dispatch_run(&m, now);
    assert_int_equal(result_apply(&m, w, mkres(t_jobs[0].id, 1, codes, texts), now), 0);
    assert_int_equal(msg->r[0].state, RS_WAIT);
    now = msg->r[0].tn.key;
    schedule_run_timers(&m, now);
    dispatch_run(&m, now);
    assert_int_equal(result_apply(&m, w, mkres(t_jobs[1].id, 1, codes, texts), now), 0);
    assert_int_equal(t_nremoved, 1);
    assert_string_equal(t_field(1, AF_TYPE), "b");
    assert_string_equal(t_field(1, AF_BOUNCE_CAT), "message-expired");
    assert_string_equal(t_field(1, AF_DSN_STATUS), "4.7.0 (other or undefined security status)");
    qmgr_free(&m);
}

static void test_missing_rcpt_and_nodomain(void **state)
{
    struct qmgr m;
    struct qmsg *msg;
    struct worker *w;
    static const uint32_t codes[1] = { 250 };
    static const char *const texts[1] = { "ok" };

    t_init(&m, cfg);
    msg = t_message(&m, t_qid(7), T0, NULL, "a@f.test", "b@f.test", "nodomain", NULL);
    message_schedule(&m, msg, NOW);
    assert_int_equal(msg->r[2].state, RS_BOUNCED);
    assert_string_equal(t_field(0, AF_DSN_STATUS), "5.1.3 (bad destination mailbox address syntax)");
    w = worker_add(&m, NULL, 11, 10);
    dispatch_run(&m, NOW);
    /* the worker answers for one recipient only: the other is deferred */
    assert_int_equal(result_apply(&m, w, mkres(t_jobs[0].id, 1, codes, texts), NOW), 0);
    assert_int_equal(msg->r[0].state, RS_DELIVERED);
    assert_int_equal(msg->r[1].state, RS_WAIT);
    assert_int_equal(msg->r[1].attempts, 1);
    qmgr_free(&m);
}

static void test_dsn_texts(void **state)
{
    assert_string_equal(bounce_status_text("2.0.0"), "success");
    assert_string_equal(bounce_status_text("5.1.1"), "bad destination mailbox address");
    assert_string_equal(bounce_status_text("5.1.10"), "recipient address has null MX");
    assert_string_equal(bounce_status_text("4.4.7"), "delivery time expired");
    assert_string_equal(bounce_status_text("4.9.9"), "transient failure");
    assert_string_equal(bounce_status_text(""), "other undefined status");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_result),
        cmocka_unit_test(test_retry_list_and_expiry),
        cmocka_unit_test(test_expiry_timer_and_inflight),
        cmocka_unit_test(test_attempt_cap),
        cmocka_unit_test(test_missing_rcpt_and_nodomain),
        cmocka_unit_test(test_dsn_texts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
