/*
 * Unit test for qmgr at volume: 100,000 queued recipients over 1,000
 * domains load, schedule, dispatch (bounded by max-smtp-out and worker
 * slots), take their results and drain, within a time budget; the
 * per-recipient record stays compact.
 */
#include <time.h>
#include "qmgr_test.h"

#define T0 1800000000LL
#define NOW ((T0 + 1) * 1000)
#define NMSG 10000
#define PER 10

static double secs(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sink_send(struct qmgr *m, struct worker *w, const struct msg_deliver *d)
{
    return 0;
}

struct pending {
    uint64_t id;
    struct worker *w;
};

static void test_scale(void **state)
{
    struct config *cfg = t_config("<domain *>\n max-smtp-out 5\n</domain>\n");
    struct qmgr m;
    struct worker *w;
    double t = secs();
    unsigned i, k;
    uint64_t done = 0;

    assert_true(sizeof(struct qrcpt) <= 64);
    t_init(&m, cfg);
    m.send_deliver = sink_send;
    m.emit_acct = NULL;
    for (i = 0; i < NMSG; i++) {
        struct spool_envelope e;
        char a[64];

        memset(&e, 0, sizeof(e));
        snprintf(e.queue_id, sizeof(e.queue_id), "%013X%06X%03X", 0x1000000u + i, 77u, i & 0xfff);
        e.time_queued = T0;
        e.mail_from = strdup("s@o.test");
        e.rcpts = calloc(PER, sizeof(*e.rcpts));
        for (k = 0; k < PER; k++) {
            snprintf(a, sizeof(a), "u%u@d%u.test", i, (i * PER + k) % 1000);
            e.rcpts[k].addr = strdup(a);
        }
        e.nrcpt = PER;
        message_schedule(&m, message_add(&m, &e, 100), NOW);
    }
    assert_int_equal(m.nrcpt_queued, NMSG * PER);
    assert_int_equal(m.queues.n, 1000);
    print_message("load+schedule %u recipients: %.2fs\n", NMSG * PER, secs() - t);
    w = worker_add(&m, NULL, 1, 100000);
    /* deliver everything: dispatch, answer every job 250, repeat */
    t = secs();
    for (;;) {
        struct job *j;
        dispatch_run(&m, NOW);
        if (w->jobs == NULL)
            break;
        /* per queue at most max-smtp-out jobs are out */
        for (j = w->jobs; j; j = j->next)
            assert_true(j->q->jobs <= 5);
        while ((j = w->jobs) != NULL) {
            struct msg_result r;
            struct result_rcpt rr[PER];

            memset(&r, 0, sizeof(r));
            memset(rr, 0, sizeof(rr));
            r.job_id = j->id;
            r.nrcpt = j->nrcpt;
            r.rcpts = rr;
            for (k = 0; k < j->nrcpt; k++) {
                rr[k].index = j->rcpts[k]->index;
                rr[k].code = 250;
                strcpy(rr[k].status, "2.0.0");
            }
            done += j->nrcpt;
            assert_int_equal(result_apply(&m, w, &r, NOW), 0);
        }
    }
    print_message("dispatch+results: %.2fs\n", secs() - t);
    assert_int_equal(done, NMSG * PER);
    assert_int_equal(m.nrcpt_queued, 0);
    assert_int_equal(m.msgs.n, 0);
    assert_int_equal(m.st.delivered, NMSG * PER);
    qmgr_free(&m);
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
