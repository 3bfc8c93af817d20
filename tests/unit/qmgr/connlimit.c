/*
 * Unit tests for mx-connection-limit / ip-connection-limit (qmgr/
 * connlimit.c) with a fake clock: connections per local source IP to the
 * matching mail exchangers, all queues together; a queue that has not
 * learned its MX counts against every line; another source IP has its own
 * count; a queue whose MX matches no line is not limited; the config lines
 * parse and refuse bad values.
 */
#include "qmgr_test.h"
#include "../../../qmgr/shaping.h"

#define T0 1800000000LL
#define NOW ((T0 + 1) * 1000)

static const char *conf =
    "host-name mta.test\n"
    "mx-connection-limit *.mx.test 2\n"
    "ip-connection-limit 198.51.100.0/24 1\n"
    "<virtual-mta v1>\n smtp-source-host 192.0.2.1 a.mta.test\n</virtual-mta>\n"
    "<virtual-mta v2>\n smtp-source-host 192.0.2.1 a.mta.test\n</virtual-mta>\n"
    "<virtual-mta v3>\n smtp-source-host 192.0.2.3 c.mta.test\n</virtual-mta>\n"
    "<domain *>\n max-smtp-out 10\n max-rcpt-per-transaction 1\n retry-after 10m\n</domain>\n";

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

static void ok(struct qmgr *m, struct worker *w, const struct t_job *j, const char *mx,
               const char *ip, int64_t now)
{
    struct msg_result r;
    struct result_rcpt rr;

    memset(&r, 0, sizeof(r));
    memset(&rr, 0, sizeof(rr));
    r.job_id = j->id;
    r.nrcpt = 1;
    r.rcpts = &rr;
    r.remote_mx = (char *)mx;
    r.remote_ip = (char *)ip;
    r.source_ip = (char *)j->source_ip;
    r.esmtp_ext = (char *)"";
    rr.index = j->idx[0];
    rr.code = 250;
    rr.text = (char *)"250 ok";
    strcpy(rr.status, "2.0.0");
    assert_int_equal(result_apply(m, w, &r, now), 0);
}

static struct qmsg *msg_n(struct qmgr *m, unsigned id, const char *vmta, const char *dom)
{
    char a[6][64];
    struct qmsg *msg;
    unsigned i;

    for (i = 0; i < 6; i++)
        snprintf(a[i], sizeof(a[i]), "r%u@%s", i, dom);
    msg = t_message(m, t_qid(id), T0, vmta, a[0], a[1], a[2], a[3], a[4], a[5], NULL);
    message_schedule(m, msg, NOW);
    return msg;
}

static size_t jobs_to(const char *dom, size_t from)
{
    size_t i, n = 0;

    for (i = from; i < t_njobs; i++)
        n += strcmp(t_jobs[i].domain, dom) == 0;
    return n;
}

static void test_limits(void **state)
{
    struct qmgr m;
    struct worker *w;
    struct queue *qa, *qb, *qc;

    assert_int_equal(cfg->nconn_limits, 2);
    assert_int_equal(config_conn_limit_find(cfg, "MX1.mx.test", "192.0.2.25"), 0);
    assert_int_equal(config_conn_limit_find(cfg, "mx.other.test", "198.51.100.7"), 1);
    assert_int_equal(config_conn_limit_find(cfg, "mx.other.test", "192.0.2.25"), -1);
    t_init(&m, cfg);
    w = worker_add(&m, NULL, 1, 100);
    qa = msg_n(&m, 1, "v1", "a.test")->r[0].q;
    /* not learned: counts against every line, and the ip line allows 1 */
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 1);
    assert_int_equal(qa->shape->climit, CL_UNKNOWN);
    /* learned: a.test's MX is *.mx.test (2 per source IP) */
    ok(&m, w, &t_jobs[0], "mx1.mx.test", "192.0.2.25", NOW + 10);
    assert_int_equal(qa->shape->climit, 0);
    dispatch_run(&m, NOW + 20);
    assert_int_equal(t_njobs, 3);               /* the cached one reused + one new */
    assert_int_equal(shaping_conns(qa, NOW + 20), 2);
    /* b.test via v2: same source IP, not learned: no room on line 0 */
    qb = msg_n(&m, 2, "v2", "b.test")->r[0].q;
    dispatch_run(&m, NOW + 30);
    assert_int_equal(jobs_to("b.test", 0), 0);
    /* c.test via v3: another source IP, its own count */
    qc = msg_n(&m, 3, "v3", "c.test")->r[0].q;
    dispatch_run(&m, NOW + 40);
    assert_int_equal(jobs_to("c.test", 0), 1);
    /* c.test's MX matches no line: no longer limited by them */
    ok(&m, w, &t_jobs[3], "mx.c.test", "192.0.2.26", NOW + 50);
    assert_int_equal(qc->shape->climit, CL_NONE);
    dispatch_run(&m, NOW + 60);
    assert_true(jobs_to("c.test", 0) >= 5);
    /* a.test's connections end (no reuse after their idle time): b.test goes */
    ok(&m, w, &t_jobs[1], "mx1.mx.test", "192.0.2.25", NOW + 70);
    ok(&m, w, &t_jobs[2], "mx1.mx.test", "192.0.2.25", NOW + 70);
    {
        size_t k = t_njobs;

        dispatch_run(&m, NOW + 60000);
        assert_true(jobs_to("b.test", k) + jobs_to("a.test", k) <= 2);
        assert_true(jobs_to("b.test", k) + jobs_to("a.test", k) >= 1);
    }
    assert_true(shaping_conns(qa, NOW + 60000) + shaping_conns(qb, NOW + 60000) <= 2);
    qmgr_free(&m);
}

static void test_parse_errors(void **state)
{
    static const struct { const char *text, *err; } bad[] = {
        { "mx-connection-limit *.x.test\n", "expected MX-PATTERN N" },
        { "mx-connection-limit *.x.test 0\n", "not a number between 1 and 100000" },
        { "ip-connection-limit 300.1.1.1/8 4\n", "not a CIDR or IP address" },
        { "mx-connection-limit bad/name 4\n", "not a host name pattern" },
        { "<domain x.test>\nmx-connection-limit *.x.test 4\n</domain>\n", "not allowed" },
    };
    char path[] = "/tmp/connlimit-test-XXXXXX", err[512];
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
        strcpy(path, "/tmp/connlimit-test-XXXXXX");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test(test_parse_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
