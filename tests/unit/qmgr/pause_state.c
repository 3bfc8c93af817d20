/*
 * Unit tests for pause_state.c: `pause queue`, `hold vmta` and `disable
 * source` given to one qmgr are in state/pauses when the command returns
 * and are back in a fresh qmgr that loads the file (a restart) — for
 * queues made after the load too; `resume`/`enable` are kept as well; a
 * malformed line is skipped.
 */
#include "qmgr_test.h"
#include "../../../qmgr/shaping.h"

#define T0 1800000000LL
#define NOW ((T0 + 1) * 1000)

static const char *conf =
    "host-name mta.test\n"
    "hold-domain held.test\n"
    "<virtual-mta v1>\n smtp-source-host 192.0.2.1 a.mta.test\n smtp-source-host 192.0.2.2 b.mta.test\n</virtual-mta>\n"
    "<virtual-mta v2>\n smtp-source-host 192.0.2.1 a.mta.test\n</virtual-mta>\n"
    "<domain *>\n max-rcpt-per-transaction 1\n</domain>\n";

static struct config *cfg;
static char path[64];

static int setup(void **state)
{
    int fd;

    cfg = t_config(conf);
    snprintf(path, sizeof(path), "/tmp/pause-state-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(close(fd), 0);
    assert_int_equal(unlink(path), 0);
    return 0;
}

static int teardown(void **state)
{
    t_reset();
    config_free(cfg);
    (void)unlink(path);
    return 0;
}

static void ctl(struct qmgr *m, const char *a, const char *b, const char *c, const char *d)
{
    char *argv[4] = { (char *)a, (char *)b, (char *)c, (char *)d };
    struct buf out;

    buf_init(&out, 1 << 16);
    assert_int_equal(control_run(m, d ? 4 : 3, argv, &out, NOW), 0);
    assert_null(strstr(out.data, "not saved"));
    buf_free(&out);
}

static struct queue *q_of(struct qmgr *m, unsigned id, const char *vmta, const char *rcpt)
{
    struct qmsg *msg = t_message(m, t_qid(id), T0, vmta, rcpt, NULL);

    message_schedule(m, msg, NOW);
    return msg->r[0].q;
}

static void test_restart(void **state)
{
    struct qmgr m;
    struct queue *q;
    FILE *fp;

    t_init(&m, cfg);
    m.pause_path = strdup(path);
    (void)q_of(&m, 1, "v1", "a@x.test");
    ctl(&m, "pause", "queue", "x.test", NULL);
    ctl(&m, "hold", "vmta", "v2", NULL);
    ctl(&m, "disable", "source", "192.0.2.2", "y.test");
    ctl(&m, "disable", "source", "192.0.2.1", "z.test");
    ctl(&m, "enable", "source", "192.0.2.1", "z.test");
    ctl(&m, "resume", "queue", "held.test", NULL);  /* an explicit resume beats hold-domain */
    qmgr_free(&m);

    /* a damaged line does not stop the rest */
    fp = fopen(path, "a");
    assert_non_null(fp);
    assert_true(fputs("pause 1 bad\nnonsense\n", fp) >= 0);
    assert_int_equal(fclose(fp), 0);

    t_init(&m, cfg);
    m.pause_path = strdup(path);
    assert_int_equal(pause_state_load(&m, NOW), 4);
    q = q_of(&m, 2, "v1", "b@x.test");
    assert_int_equal(q->shape->paused, 1);
    assert_string_equal(q->shape->pause_reason, "paused by mtactl");
    q = q_of(&m, 3, "v2", "c@w.test");              /* held vmta: every queue of it */
    assert_int_equal(q->shape->paused, 1);
    q = q_of(&m, 4, "v1", "d@y.test");
    assert_int_equal(q->shape->paused, 0);
    assert_true(backoff_ip_disabled(q, "192.0.2.2", NOW));
    assert_false(backoff_ip_disabled(q, "192.0.2.1", NOW));
    q = q_of(&m, 5, "v1", "e@z.test");
    assert_false(backoff_ip_disabled(q, "192.0.2.1", NOW));
    q = q_of(&m, 6, "v1", "f@held.test");
    assert_int_equal(q->shape->paused, 0);
    /* y.test sends from the IP left, only */
    (void)worker_add(&m, NULL, 1, 100);
    dispatch_run(&m, NOW);
    {
        size_t i, y = 0;

        for (i = 0; i < t_njobs; i++)
            if (strcmp(t_jobs[i].domain, "y.test") == 0) {
                assert_string_equal(t_jobs[i].source_ip, "192.0.2.1");
                y++;
            }
        assert_int_equal(y, 1);
    }
    qmgr_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
