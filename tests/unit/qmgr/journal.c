/*
 * Unit tests for qmgr/journal.c: record encoding and checksum, append and
 * replay, a torn or corrupt tail ending the replay, replay onto reloaded
 * messages (final recipients skipped, attempts and retry times restored,
 * records of unknown messages ignored), and compaction.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include "qmgr_test.h"

#define T0 1800000000LL
#define NOW ((T0 + 5) * 1000)

static char spool[96];

static int setup(void **state)
{
    snprintf(spool, sizeof(spool), "/tmp/qmgr-journal-XXXXXX");
    assert_non_null(mkdtemp(spool));
    return 0;
}

static int teardown(void **state)
{
    char cmd[160];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", spool);
    return system(cmd) == 0 ? 0 : -1;
}

static void jpath(char *out, size_t len)
{
    snprintf(out, len, "%s/state/journal", spool);
}

static off_t fsize(void)
{
    char p[160];
    struct stat st;

    jpath(p, sizeof(p));
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
}

static void test_codec(void **state)
{
    struct jrec a, b;
    unsigned char rec[JOURNAL_REC_SIZE];

    memset(&a, 0, sizeof(a));
    a.type = JR_RCPT;
    a.state = RS_WAIT;
    a.attempts = 513;
    a.index = 99999;
    a.next_ms = NOW + 123456;
    strcpy(a.qid, t_qid(1));
    assert_int_equal(journal_encode(&a, rec), 0);
    assert_int_equal(journal_decode(rec, &b), 0);
    assert_int_equal(b.type, JR_RCPT);
    assert_int_equal(b.state, RS_WAIT);
    assert_int_equal(b.attempts, 513);
    assert_int_equal(b.index, 99999);
    assert_int_equal(b.next_ms, NOW + 123456);
    assert_string_equal(b.qid, t_qid(1));
    rec[30] ^= 1;                           /* a flipped bit fails the CRC */
    assert_int_equal(journal_decode(rec, &b), -1);
    a.state = RS_READY;                     /* not a journaled state */
    assert_int_equal(journal_encode(&a, rec), 0);
    assert_int_equal(journal_decode(rec, &b), -1);
    strcpy(a.qid, "not-a-queue-id");
    assert_int_equal(journal_encode(&a, rec), -1);
}

static long nrec;
static struct jrec last;

static void count_cb(const struct jrec *r, void *arg)
{
    nrec++;
    last = *r;
}

static void append_n(struct journal *j, int n, int base)
{
    struct jrec r;
    int i;

    for (i = 0; i < n; i++) {
        memset(&r, 0, sizeof(r));
        r.type = JR_RCPT;
        r.state = RS_DELIVERED;
        r.index = (uint32_t)(base + i);
        strcpy(r.qid, t_qid(2));
        assert_int_equal(journal_append(j, &r), 0);
    }
}

static void test_replay_torn_tail(void **state)
{
    char err[256], p[160];
    struct journal *j = journal_open(spool, err, sizeof(err));
    int fd;

    assert_non_null(j);
    append_n(j, 3000, 0);       /* more than one 64 KB write and read chunk */
    assert_int_equal(journal_flush(j), 0);
    assert_int_equal(journal_sync(j), 0);
    journal_close(j);
    assert_int_equal(fsize(), 8 + 3000 * JOURNAL_REC_SIZE);

    j = journal_open(spool, err, sizeof(err));
    nrec = 0;
    assert_int_equal(journal_replay(j, count_cb, NULL), 3000);
    assert_int_equal(last.index, 2999);
    journal_close(j);

    /* a crash in the middle of a write: half a record at the end */
    jpath(p, sizeof(p));
    fd = open(p, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "JR\x01\x04garbage-garbage", 20), 20);
    close(fd);
    j = journal_open(spool, err, sizeof(err));
    nrec = 0;
    assert_int_equal(journal_replay(j, count_cb, NULL), 3000);
    journal_close(j);

    /* a corrupt record ends the replay there */
    fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 8 + 100 * JOURNAL_REC_SIZE + 10), 1);
    close(fd);
    j = journal_open(spool, err, sizeof(err));
    nrec = 0;
    assert_int_equal(journal_replay(j, count_cb, NULL), 100);
    assert_int_equal(last.index, 99);
    journal_close(j);
    assert_int_equal(unlink(p), 0);
}

/* build - the same two messages every time (as if reloaded from the spool). */
static void build(struct qmgr *m, struct config *cfg, struct journal *j)
{
    t_init(m, cfg);
    m->jr = j;
    (void)t_message(m, t_qid(10), T0, NULL, "a@x.test", "b@x.test", "c@y.test", NULL);
    (void)t_message(m, t_qid(11), T0, NULL, "d@x.test", NULL);
}

static void result1(struct qmgr *m, struct worker *w, uint64_t job, uint32_t idx, uint32_t code)
{
    struct msg_result r;
    struct result_rcpt rr;

    memset(&r, 0, sizeof(r));
    memset(&rr, 0, sizeof(rr));
    r.job_id = job;
    r.nrcpt = 1;
    r.rcpts = &rr;
    rr.index = idx;
    rr.code = code;
    rr.text = (char *)"text";
    assert_int_equal(result_apply(m, w, &r, NOW), 0);
}

static void test_restart(void **state)
{
    struct config *cfg = t_config("<domain *>\n retry-after 7m\n max-rcpt-per-transaction 1\n</domain>\n");
    char err[256];
    struct journal *j = journal_open(spool, err, sizeof(err));
    struct qmgr m;
    struct qmsg *a, *b;
    struct worker *w;
    struct jrec stray;
    size_t i;
    off_t before;
    int64_t next_c;

    assert_non_null(j);
    build(&m, cfg, j);
    a = hmap_get(&m.msgs, t_qid(10));
    b = hmap_get(&m.msgs, t_qid(11));
    message_schedule(&m, a, NOW);
    message_schedule(&m, b, NOW);
    w = worker_add(&m, NULL, 1, 100);
    dispatch_run(&m, NOW);
    assert_int_equal(t_njobs, 4);   /* one recipient per job */
    for (i = 0; i < 4; i++) {
        uint32_t idx = t_jobs[i].idx[0];
        const char *dom = t_jobs[i].domain;

        if (strcmp(dom, "y.test") == 0)
            result1(&m, w, t_jobs[i].id, idx, 421);         /* c: deferred */
        else if (idx == 1)
            result1(&m, w, t_jobs[i].id, idx, 550);         /* b: bounced */
        else
            result1(&m, w, t_jobs[i].id, idx, 250);         /* a, d: delivered */
    }
    assert_int_equal(t_nremoved, 1);                        /* message 11 done */
    next_c = a->r[2].tn.key;
    /* a record for a message no longer in the spool */
    memset(&stray, 0, sizeof(stray));
    stray.type = JR_RCPT;
    stray.state = RS_DELIVERED;
    strcpy(stray.qid, t_qid(99));
    assert_int_equal(journal_append(j, &stray), 0);
    assert_int_equal(journal_flush(j), 0);
    qmgr_free(&m);
    journal_close(j);

    /* restart: both spool files still there (11's removal may not have
     * happened before the crash); replay the journal onto them */
    j = journal_open(spool, err, sizeof(err));
    build(&m, cfg, j);
    m.loading = 1;
    assert_int_equal(journal_replay(j, journal_apply, &m), 6);
    m.loading = 0;
    a = hmap_get(&m.msgs, t_qid(10));
    b = hmap_get(&m.msgs, t_qid(11));
    assert_int_equal(a->r[0].state, RS_DELIVERED);
    assert_int_equal(a->r[1].state, RS_BOUNCED);
    assert_int_equal(a->r[2].state, RS_WAIT);
    assert_int_equal(a->r[2].attempts, 1);
    assert_int_equal(a->r[2].tn.key, next_c);
    assert_int_equal(a->nleft, 1);
    assert_int_equal(b->nleft, 0);
    assert_int_equal(m.nrcpt_queued, 1);
    before = fsize();
    assert_int_equal(journal_compact(j, &m), 0);
    /* live state only: 3 records of message 10, 1 of message 11 */
    assert_int_equal(fsize(), 8 + 4 * JOURNAL_REC_SIZE);
    assert_true(fsize() < before);
    assert_false(journal_wants_compaction(j));
    t_reset();
    message_schedule(&m, b, NOW);           /* all final: done, removed */
    assert_int_equal(t_nremoved, 1);
    message_schedule(&m, a, NOW);
    assert_int_equal(a->r[2].state, RS_WAIT);
    assert_int_equal(a->r[2].q->nwait, 1);
    assert_int_equal(schedule_next_ms(&m), next_c);
    assert_int_equal(journal_flush(j), 0);
    qmgr_free(&m);
    journal_close(j);

    /* and again from the compacted file (+ the done record of 11) */
    j = journal_open(spool, err, sizeof(err));
    build(&m, cfg, j);
    m.loading = 1;
    assert_int_equal(journal_replay(j, journal_apply, &m), 5);
    m.loading = 0;
    a = hmap_get(&m.msgs, t_qid(10));
    assert_int_equal(a->r[0].state, RS_DELIVERED);
    assert_int_equal(a->r[1].state, RS_BOUNCED);
    assert_int_equal(a->r[2].attempts, 1);
    assert_int_equal(((struct qmsg *)hmap_get(&m.msgs, t_qid(11)))->nleft, 0);
    qmgr_free(&m);
    journal_close(j);
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec),
        cmocka_unit_test(test_replay_torn_tail),
        cmocka_unit_test(test_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
