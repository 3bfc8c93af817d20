/*
 * Unit tests for the outbox streams kept in qmgr's journal (journal.c
 * JR_OUTBOX/JR_ACKED, acct_client.c, bounce_client.c): record codec,
 * replay of records larger than a read chunk, a truncated or corrupt
 * tail, acknowledgement marks (in order, out of order, repeated),
 * replay of what was not acknowledged, compaction keeping exactly that,
 * a replayed BOUNCE holding its finished message's spool file, and the
 * order result.c keeps: a recipient's record is in the journal before
 * its final or deferred state.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <uv.h>
#include "qmgr_test.h"
#include "bounce_proto.h"
#include "../../../qmgr/acct_client.h"
#include "../../../qmgr/bounce_client.h"

static char spool[96];

static int setup(void **state)
{
    snprintf(spool, sizeof(spool), "/tmp/qmgr-objrnl-XXXXXX");
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

static void jremove(void)
{
    char p[160];

    jpath(p, sizeof(p));
    (void)unlink(p);
}

static off_t fsize(void)
{
    char p[160];
    struct stat st;

    jpath(p, sizeof(p));
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
}

/* --- collecting replayed records ---------------------------------------- */
#define MAXREC 64
static struct {
    struct jrec r[MAXREC];
    unsigned char *data[MAXREC];
    long n;
} got;

static void got_reset(void)
{
    long i;

    for (i = 0; i < got.n && i < MAXREC; i++)
        free(got.data[i]);
    memset(&got, 0, sizeof(got));
}

static void collect_cb(const struct jrec *r, void *arg)
{
    if (got.n < MAXREC) {
        got.r[got.n] = *r;
        got.data[got.n] = NULL;
        if (r->type == JR_OUTBOX) {
            got.data[got.n] = malloc(r->len);
            assert_non_null(got.data[got.n]);
            memcpy(got.data[got.n], r->data, r->len);
        }
    }
    got.n++;
}

static void put_outbox(struct journal *j, uint8_t stream, uint64_t rid, const unsigned char *d, uint32_t len)
{
    struct jrec r;

    memset(&r, 0, sizeof(r));
    r.type = JR_OUTBOX;
    r.state = stream;
    r.rid = rid;
    r.len = len;
    r.data = d;
    strcpy(r.qid, t_qid(7));
    assert_int_equal(journal_append(j, &r), 0);
}

static void put_rcpt(struct journal *j, uint32_t index)
{
    struct jrec r;

    memset(&r, 0, sizeof(r));
    r.type = JR_RCPT;
    r.state = RS_DELIVERED;
    r.index = index;
    strcpy(r.qid, t_qid(7));
    assert_int_equal(journal_append(j, &r), 0);
}

static void test_codec(void **state)
{
    unsigned char rec[JOURNAL_REC_SIZE], d[3] = { 1, 2, 3 };
    struct jrec a, b;

    memset(&a, 0, sizeof(a));
    a.type = JR_OUTBOX;
    a.state = JS_BOUNCE;
    a.rid = 0x0102030405060708ull;
    a.len = 3;
    a.data = d;
    assert_int_equal(journal_encode(&a, rec), 0);
    assert_int_equal(journal_decode(rec, &b), 0);
    assert_int_equal(b.type, JR_OUTBOX);
    assert_int_equal(b.state, JS_BOUNCE);
    assert_true(b.rid == a.rid);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.qid, "");     /* no queue id given */

    a.type = JR_ACKED;
    a.state = JS_ACCT;
    assert_int_equal(journal_encode(&a, rec), 0);
    assert_int_equal(journal_decode(rec, &b), 0);
    assert_int_equal(b.type, JR_ACKED);
    assert_true(b.rid == a.rid);

    /* no such stream; an empty or oversized frame; no data */
    a.type = JR_OUTBOX;
    a.state = 9;
    assert_int_equal(journal_encode(&a, rec), -1);
    a.state = JS_ACCT;
    a.len = 0;
    assert_int_equal(journal_encode(&a, rec), -1);
    a.len = JOURNAL_DATA_MAX + 1;
    assert_int_equal(journal_encode(&a, rec), -1);
    a.len = 3;
    a.data = NULL;
    assert_int_equal(journal_encode(&a, rec), -1);
    /* a decoder check of its own: a stream byte changed after the CRC */
    a.data = d;
    assert_int_equal(journal_encode(&a, rec), 0);
    rec[3] = 7;
    assert_int_equal(journal_decode(rec, &b), -1);
}

/* Records bigger than the replay's read chunk, between fixed ones; then a
 * tail cut in the middle of a frame's data, then corrupt data. */
static void test_replay_big_and_torn(void **state)
{
    char err[256], p[160];
    size_t big = 700 * 1024, i;
    unsigned char *d = malloc(big);
    struct journal *j;
    off_t before_last;
    int fd;

    assert_non_null(d);
    for (i = 0; i < big; i++)
        d[i] = (unsigned char)(i * 7);
    j = journal_open(spool, err, sizeof(err));
    assert_non_null(j);
    put_rcpt(j, 0);
    put_outbox(j, JS_ACCT, 1, d, (uint32_t)big);
    put_rcpt(j, 1);
    put_outbox(j, JS_ACCT, 2, d, 100);
    assert_int_equal(journal_flush(j), 0);
    before_last = fsize();
    put_outbox(j, JS_BOUNCE, 3, d, 5000);
    assert_int_equal(journal_flush(j), 0);
    journal_close(j);

    j = journal_open(spool, err, sizeof(err));
    got_reset();
    assert_int_equal(journal_replay(j, collect_cb, NULL), 5);
    assert_int_equal(got.r[1].type, JR_OUTBOX);
    assert_int_equal(got.r[1].len, big);
    assert_memory_equal(got.data[1], d, big);
    assert_int_equal(got.r[2].index, 1);
    assert_int_equal(got.r[4].state, JS_BOUNCE);
    assert_memory_equal(got.data[4], d, 5000);
    journal_close(j);

    /* killed in the middle of the last frame's data: it is not replayed */
    jpath(p, sizeof(p));
    assert_int_equal(truncate(p, before_last + JOURNAL_REC_SIZE + 1000), 0);
    j = journal_open(spool, err, sizeof(err));
    got_reset();
    assert_int_equal(journal_replay(j, collect_cb, NULL), 4);
    journal_close(j);

    /* a flipped byte in the big frame's data ends the replay before it */
    fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\xff", 1, 8 + 2 * JOURNAL_REC_SIZE + 12345), 1);
    close(fd);
    j = journal_open(spool, err, sizeof(err));
    got_reset();
    assert_int_equal(journal_replay(j, collect_cb, NULL), 1);
    journal_close(j);
    got_reset();
    free(d);
    jremove();
}

static void acct_rec(struct acct_record *a, const char *rcpt)
{
    memset(a, 0, sizeof(*a));
    assert_int_equal(acct_set(a, AF_TYPE, "d"), 0);
    assert_int_equal(acct_set(a, AF_RCPT, rcpt), 0);
    assert_int_equal(acct_set(a, AF_QUEUE_ID, t_qid(9)), 0);
}

static void replay_hook(struct qmgr *m, const struct jrec *r)
{
    if (r->state == JS_ACCT)
        acct_client_replay(r);
    else
        bounce_client_replay(r);
}

static void pending_hook(struct qmgr *m, int (*put)(void *ctx, const struct jrec *r), void *ctx)
{
    acct_client_pending(put, ctx);
    bounce_client_pending(put, ctx);
}

/* reopen - a new qmgr's start-up: fresh client state, replay, compaction. */
static struct journal *reopen(struct qmgr *m, struct config *cfg, int compact)
{
    char err[256];
    struct journal *j = journal_open(spool, err, sizeof(err));

    assert_non_null(j);
    t_init(m, cfg);
    m->jr = j;
    m->journal_replay_outbox = replay_hook;
    m->journal_pending = pending_hook;
    assert_int_equal(acct_client_init(m), 0);
    m->loading = 1;
    assert_true(journal_replay(j, journal_apply, m) >= 0);
    m->loading = 0;
    if (compact)
        assert_int_equal(journal_compact(j, m), 0);
    return j;
}

static void test_acct_replay(void **state)
{
    struct config *cfg = t_config("");
    struct acct_record a;
    struct qmgr m;
    struct journal *j;
    char rcpt[32];
    int i;

    jremove();
    j = reopen(&m, cfg, 0);
    for (i = 0; i < 10; i++) {          /* sequence numbers 0..9 */
        snprintf(rcpt, sizeof(rcpt), "r%d@x.test", i);
        acct_rec(&a, rcpt);
        acct_client_send(&a);
        acct_record_free(&a);
    }
    assert_int_equal(acct_client_unacked(), 10);
    acct_client_ack(0);
    acct_client_ack(1);
    acct_client_ack(1);                 /* repeated: nothing more */
    acct_client_ack(4);                 /* out of order: kept until 2, 3 come */
    acct_client_ack(77);                /* unknown */
    assert_int_equal(acct_client_unacked(), 8);
    assert_int_equal(journal_flush(j), 0);
    acct_client_stop();                 /* like kill -9: nothing more written */
    qmgr_free(&m);
    journal_close(j);

    /* the next qmgr gets the 8 back (4 was acknowledged but not below the mark) */
    j = reopen(&m, cfg, 1);
    assert_int_equal(acct_client_unacked(), 8);
    /* new records continue after the replayed ids; acks use new sequence numbers */
    acct_rec(&a, "new@x.test");
    acct_client_send(&a);
    acct_record_free(&a);
    /* replayed records take fresh sequence numbers as they enter the
     * ring (rid 0 and 1 took 0 and 1 before their mark dropped them):
     * 0..6 acknowledge rids 2..6 */
    for (i = 0; i < 7; i++)
        acct_client_ack((uint32_t)i);
    assert_int_equal(acct_client_unacked(), 4);
    assert_int_equal(journal_flush(j), 0);
    acct_client_stop();
    qmgr_free(&m);
    journal_close(j);

    /* compacted file plus marks: 7, 8, 9 and the new one */
    j = reopen(&m, cfg, 1);
    assert_int_equal(acct_client_unacked(), 4);
    for (i = 0; i < 64; i++)
        acct_client_ack((uint32_t)i);
    assert_int_equal(acct_client_unacked(), 0);
    assert_int_equal(journal_flush(j), 0);
    acct_client_stop();
    qmgr_free(&m);
    journal_close(j);

    j = reopen(&m, cfg, 1);
    assert_int_equal(acct_client_unacked(), 0);
    acct_client_stop();
    qmgr_free(&m);
    journal_close(j);
    config_free(cfg);
    jremove();
}

static void test_bounce_replay_holds(void **state)
{
    char conf[512], err[256];
    struct config *cfg;
    struct qmgr m;
    struct journal *j;
    struct msg_bounce ev;
    struct buf b;
    uv_loop_t *loop = uv_default_loop();

    snprintf(conf, sizeof(conf), "spool %s\nrun-dir %s\n", spool, spool);
    cfg = t_config(conf);
    jremove();
    /* a journal as a crashed qmgr left it: two BOUNCEs, the first acknowledged */
    j = journal_open(spool, err, sizeof(err));
    assert_non_null(j);
    memset(&ev, 0, sizeof(ev));
    strcpy(ev.queue_id, t_qid(3));
    strcpy(ev.rcpt, "gone@x.test");
    strcpy(ev.status, "5.1.1");
    strcpy(ev.category, "bad-mailbox");
    ev.diag = (char *)"550 5.1.1 no such user";
    buf_init(&b, IPC_MAX_PAYLOAD + IPC_HDR_LEN);
    assert_int_equal(msg_bounce_encode(&b, 0, &ev), 0);
    put_outbox(j, JS_BOUNCE, 0, (const unsigned char *)b.data, (uint32_t)b.len);
    strcpy(ev.queue_id, t_qid(4));
    buf_reset(&b);
    assert_int_equal(msg_bounce_encode(&b, 0, &ev), 0);
    put_outbox(j, JS_BOUNCE, 1, (const unsigned char *)b.data, (uint32_t)b.len);
    {
        struct jrec r;

        memset(&r, 0, sizeof(r));
        r.type = JR_ACKED;
        r.state = JS_BOUNCE;
        r.rid = 1;
        assert_int_equal(journal_append(j, &r), 0);
    }
    assert_int_equal(journal_flush(j), 0);
    journal_close(j);
    buf_free(&b);

    t_init(&m, cfg);
    assert_int_equal(bounce_client_start(loop, &m, cfg), 0);
    j = reopen(&m, cfg, 0);
    assert_int_equal(bounce_client_replay_end(), 1);
    assert_int_equal(bounce_client_unacked(), 1);
    assert_int_equal(journal_compact(j, &m), 0);
    /* the message finished before the crash: its file stays for bounced */
    bounce_client_remove_spool(t_qid(4));
    assert_int_equal(bounce_client_holding(t_qid(4)), 1);
    assert_int_equal(bounce_client_holding(t_qid(3)), 0);
    bounce_client_stop();
    acct_client_stop();
    qmgr_free(&m);
    journal_close(j);

    /* the compacted journal still holds exactly that BOUNCE */
    j = journal_open(spool, err, sizeof(err));
    got_reset();
    assert_true(journal_replay(j, collect_cb, NULL) >= 2);
    {
        long i, outbox = 0;

        for (i = 0; i < got.n && i < MAXREC; i++)
            if (got.r[i].type == JR_OUTBOX && got.r[i].state == JS_BOUNCE) {
                outbox++;
                assert_true(got.r[i].rid == 1);
                assert_string_equal(got.r[i].qid, t_qid(4));
            }
        assert_int_equal(outbox, 1);
    }
    got_reset();
    journal_close(j);
    (void)uv_run(loop, UV_RUN_NOWAIT);      /* let the closed handles go */
    config_free(cfg);
    jremove();
}

static void emit_to_client(struct qmgr *m, const struct acct_record *r)
{
    acct_client_send(r);
}

/* A RESULT for three recipients (250, 550, 451): in the journal each
 * recipient's JR_OUTBOX comes before its JR_RCPT. */
static void test_record_before_state(void **state)
{
    static const char *const rcpts[3] = { "a@dest.test", "b@dest.test", "c@dest.test" };
    static struct result_rcpt rr[3];
    struct config *cfg = t_config("<domain *>\n retry-after 1m\n</domain>\n");
    struct msg_result res;
    struct qmgr m;
    struct journal *j;
    struct qmsg *msg;
    struct worker *w;
    long i, k, seen_rcpt[3] = { -1, -1, -1 }, seen_rec[3] = { -1, -1, -1 };

    jremove();
    j = reopen(&m, cfg, 0);
    m.emit_acct = emit_to_client;
    msg = t_message(&m, t_qid(5), 1800000000, NULL, rcpts[0], rcpts[1], rcpts[2], NULL);
    message_schedule(&m, msg, 1800000010000LL);
    w = worker_add(&m, NULL, 11, 10);
    dispatch_run(&m, 1800000010000LL);
    assert_int_equal(t_njobs, 1);
    memset(&res, 0, sizeof(res));
    res.job_id = t_jobs[0].id;
    res.nrcpt = 3;
    res.rcpts = rr;
    for (i = 0; i < 3; i++) {
        rr[i].index = (uint32_t)i;
        rr[i].code = i == 0 ? 250 : i == 1 ? 550 : 451;
        rr[i].text = (char *)(i == 0 ? "2.0.0 ok" : i == 1 ? "5.1.1 no" : "4.2.1 later");
        bounce_status_extract((int)rr[i].code, rr[i].text, rr[i].status, sizeof(rr[i].status));
    }
    assert_int_equal(result_apply(&m, w, &res, 1800000011000LL), 0);
    assert_int_equal(acct_client_unacked(), 3);
    assert_int_equal(journal_flush(j), 0);
    acct_client_stop();
    qmgr_free(&m);
    journal_close(j);

    j = journal_open(spool, (char[256]){0}, 256);
    assert_non_null(j);
    got_reset();
    assert_true(journal_replay(j, collect_cb, NULL) >= 6);
    for (i = 0; i < got.n && i < MAXREC; i++) {
        if (got.r[i].type == JR_RCPT && got.r[i].index < 3)
            seen_rcpt[got.r[i].index] = i;
        if (got.r[i].type == JR_OUTBOX)
            for (k = 0; k < 3; k++)
                if (memmem(got.data[i], got.r[i].len, rcpts[k], strlen(rcpts[k])))
                    seen_rec[k] = i;
    }
    for (k = 0; k < 3; k++) {
        assert_true(seen_rec[k] >= 0);
        assert_true(seen_rcpt[k] > seen_rec[k]);
    }
    got_reset();
    journal_close(j);
    config_free(cfg);
    jremove();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec),
        cmocka_unit_test(test_replay_big_and_torn),
        cmocka_unit_test(test_acct_replay),
        cmocka_unit_test(test_bounce_replay_holds),
        cmocka_unit_test(test_record_before_state),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
