/*
 * Unit tests for bounced/failure.c: a 5.1.1 from qmgr suppresses the
 * recipient and spools a DSN (null return path, to the sender, NOTIFY
 * NEVER); NOTIFY=NEVER, the null sender and send-dsn no give no DSN; a
 * soft failure and an expiry suppress nobody; a gone spool file still
 * suppresses; max-dsn-per-sender-per-hour caps DSNs per sender; a group
 * of batches (several messages) gives every DSN and every entry in one
 * commit; a delay notice gives a delayed DSN to NOTIFY=DELAY only and
 * suppresses nobody.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "spool.h"
#include "../../../bounced/bounced.h"

static char dir[256];
static struct bounced_ctx ctx;
static struct config cfg;

static int setup(void **state)
{
    char err[512];

    snprintf(dir, sizeof(dir), "/tmp/courser-failure-XXXXXX");
    if (mkdtemp(dir) == NULL || spool_init_dirs(dir) < 0)
        return -1;
    spool_set_sync(0);
    memset(&ctx, 0, sizeof(ctx));
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.spool_dir, sizeof(cfg.spool_dir), "%s", dir);
    snprintf(cfg.host_name, sizeof(cfg.host_name), "courser.test");
    cfg.send_dsn = 1;
    ctx.cfg = &cfg;
    if (server_ctx_load(&ctx, &cfg, err, sizeof(err)) < 0)
        return -1;
    snprintf(err, sizeof(err), "%s/suppress", dir);
    ctx.sdb = suppress_open(err, 0, err, sizeof(err));
    return ctx.sdb ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[512];

    suppress_close(ctx.sdb);
    bounce_patterns_free(ctx.patterns);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* original - spool a message from `from` to `rcpt` with NOTIFY bits */
static void original(char qid[QUEUE_ID_SIZE], const char *from, const char *rcpt, uint32_t notify)
{
    static const char msg[] = "From: a@s.test\r\nSubject: hi\r\n\r\nhello\r\n";
    struct spool_envelope e;
    struct spool_rcpt r;

    memset(&e, 0, sizeof(e));
    memset(&r, 0, sizeof(r));
    queue_id_new(e.queue_id);
    e.time_queued = 1764633600;
    e.mail_from = (char *)from;
    r.addr = (char *)rcpt;
    r.notify = notify;
    e.rcpts = &r;
    e.nrcpt = 1;
    assert_int_equal(spool_commit(dir, &e, msg, sizeof(msg) - 1), 0);
    memcpy(qid, e.queue_id, QUEUE_ID_SIZE);
}

static void run(const char *qid, const char *rcpt, const char *status, const char *diag,
                int expired, struct bjob *j)
{
    memset(j, 0, sizeof(*j));
    snprintf(j->ev.queue_id, sizeof(j->ev.queue_id), "%s", qid);
    snprintf(j->ev.rcpt, sizeof(j->ev.rcpt), "%s", rcpt);
    snprintf(j->ev.status, sizeof(j->ev.status), "%s", status);
    snprintf(j->ev.category, sizeof(j->ev.category), "other");
    j->ev.expired = (uint32_t)expired;
    j->ev.diag = (char *)diag;
    failure_run(&ctx, j);
}

static void test_hard_with_dsn(void **state)
{
    char qid[QUEUE_ID_SIZE], path[PATH_MAX], err[256];
    struct spool_envelope d;
    struct suppress_entry se;
    struct bjob j;
    uint64_t off, len;

    original(qid, "a@s.test", "gone@d.test", 0);
    run(qid, "gone@d.test", "5.1.1", "550 5.1.1 no such user", 0, &j);
    assert_int_equal(suppress_get(ctx.sdb, "*", "gone@d.test", &se), 1);
    assert_string_equal(se.reason, "bad-mailbox");
    assert_string_equal(se.source, "b");
    assert_true(j.dsn_qid[0] != '\0');
    assert_int_equal(spool_msg_path(dir, j.dsn_qid, path, sizeof(path)), 0);
    memset(&d, 0, sizeof(d));
    assert_int_equal(spool_read(path, &d, &off, &len, err, sizeof(err)), 0);
    assert_true(d.mail_from == NULL || d.mail_from[0] == '\0');   /* the null sender */
    assert_int_equal(d.nrcpt, 1);
    assert_string_equal(d.rcpts[0].addr, "a@s.test");
    assert_int_equal(d.rcpts[0].notify, SPOOL_NOTIFY_NEVER);
    assert_true(len > 500);
    spool_envelope_free(&d);
}

static void test_no_dsn(void **state)
{
    char qid[QUEUE_ID_SIZE];
    struct bjob j;

    original(qid, "a@s.test", "n1@d.test", SPOOL_NOTIFY_NEVER);
    run(qid, "n1@d.test", "5.1.1", "550 5.1.1 unknown", 0, &j);
    assert_int_equal(j.dsn_qid[0], '\0');
    assert_int_equal(suppress_get(ctx.sdb, "*", "n1@d.test", NULL), 1);
    original(qid, "a@s.test", "n2@d.test", SPOOL_NOTIFY_SUCCESS | SPOOL_NOTIFY_DELAY);
    run(qid, "n2@d.test", "5.1.1", "550 5.1.1 unknown", 0, &j);
    assert_int_equal(j.dsn_qid[0], '\0');
    original(qid, "", "n3@d.test", 0);          /* never a bounce of a bounce */
    run(qid, "n3@d.test", "5.1.1", "550 5.1.1 unknown", 0, &j);
    assert_int_equal(j.dsn_qid[0], '\0');
    cfg.send_dsn = 0;
    original(qid, "a@s.test", "n4@d.test", SPOOL_NOTIFY_FAILURE);
    run(qid, "n4@d.test", "5.1.1", "550 5.1.1 unknown", 0, &j);
    cfg.send_dsn = 1;
    assert_int_equal(j.dsn_qid[0], '\0');
    /* the file is gone: no DSN, the suppression still happens */
    run("6619C5EB2AC68001A41000", "n5@d.test", "5.1.1", "550 5.1.1 unknown", 0, &j);
    assert_int_equal(j.dsn_qid[0], '\0');
    assert_int_equal(suppress_get(ctx.sdb, "*", "n5@d.test", NULL), 1);
}

static void test_soft(void **state)
{
    char qid[QUEUE_ID_SIZE];
    struct bjob j;

    original(qid, "a@s.test", "full@d.test", 0);
    run(qid, "full@d.test", "5.2.2", "552 5.2.2 mailbox full", 0, &j);
    assert_int_equal(suppress_get(ctx.sdb, "*", "full@d.test", NULL), 0);
    assert_true(j.dsn_qid[0] != '\0');
    original(qid, "a@s.test", "late@d.test", 0);
    run(qid, "late@d.test", "4.4.7", "421 4.4.7 delivery time expired", 1, &j);
    assert_int_equal(suppress_get(ctx.sdb, "*", "late@d.test", NULL), 0);
    assert_true(j.dsn_qid[0] != '\0');
    original(qid, "a@s.test", "spam@d.test", 0);
    run(qid, "spam@d.test", "5.7.1", "550 5.7.1 message rejected as spam", 0, &j);
    assert_int_equal(suppress_get(ctx.sdb, "*", "spam@d.test", NULL), 0);
}

static void test_rate_limit(void **state)
{
    char qid[QUEUE_ID_SIZE];
    struct bjob j;
    int i, sent = 0;

    cfg.max_dsn_per_sender = 2;
    for (i = 0; i < 4; i++) {
        original(qid, "busy@s.test", "x@d.test", 0);
        run(qid, "x@d.test", "5.1.1", "550 5.1.1 unknown", 0, &j);
        sent += j.dsn_qid[0] != '\0';
    }
    assert_int_equal(sent, 2);
    original(qid, "other@s.test", "x@d.test", 0);     /* another sender has its own budget */
    run(qid, "x@d.test", "5.1.1", "550 5.1.1 unknown", 0, &j);
    assert_true(j.dsn_qid[0] != '\0');
    cfg.max_dsn_per_sender = 0;
}

static void fill(struct bjob *j, const char *qid, const char *rcpt, const char *status,
                 const char *diag)
{
    memset(j, 0, sizeof(*j));
    j->kind = BJ_FAILURE;
    snprintf(j->ev.queue_id, sizeof(j->ev.queue_id), "%s", qid);
    snprintf(j->ev.rcpt, sizeof(j->ev.rcpt), "%s", rcpt);
    snprintf(j->ev.status, sizeof(j->ev.status), "%s", status);
    snprintf(j->ev.category, sizeof(j->ev.category), "other");
    j->ev.diag = (char *)diag;
}

static void test_group(void **state)
{
    enum { N = 40 };
    static struct bjob j[N];
    char qid[QUEUE_ID_SIZE], rcpt[N][64], path[PATH_MAX];
    int i;

    spool_set_sync(1);      /* the group commit's real syncfs path */
    for (i = 0; i < N; i++) {
        snprintf(rcpt[i], sizeof(rcpt[i]), "g%d@d.test", i);
        original(qid, "a@s.test", rcpt[i], i == 7 ? SPOOL_NOTIFY_NEVER : 0);
        fill(&j[i], qid, rcpt[i], "5.1.1", "550 5.1.1 no such user");
        if (i > 0)
            j[i - 1].group = &j[i];
    }
    failure_run(&ctx, &j[0]);
    spool_set_sync(0);
    for (i = 0; i < N; i++) {
        assert_int_equal(suppress_get(ctx.sdb, "*", rcpt[i], NULL), 1);
        if (i == 7) {
            assert_int_equal(j[i].dsn_qid[0], '\0');
            continue;
        }
        assert_true(j[i].dsn_qid[0] != '\0');
        assert_int_equal(spool_msg_path(dir, j[i].dsn_qid, path, sizeof(path)), 0);
        assert_int_equal(access(path, R_OK), 0);
    }
}

static void test_delay_notice(void **state)
{
    char qid[QUEUE_ID_SIZE], path[PATH_MAX], err[256];
    struct spool_envelope d;
    struct bjob j;
    uint64_t off, len;

    original(qid, "a@s.test", "wait@d.test", SPOOL_NOTIFY_DELAY | SPOOL_NOTIFY_FAILURE);
    fill(&j, qid, "wait@d.test", "4.2.0", "451 4.2.0 busy");
    j.ev.delayed = 1;
    j.ev.retry_until = 1764999999;
    failure_run(&ctx, &j);
    assert_true(j.dsn_qid[0] != '\0');
    assert_int_equal(suppress_get(ctx.sdb, "*", "wait@d.test", NULL), 0);
    assert_int_equal(spool_msg_path(dir, j.dsn_qid, path, sizeof(path)), 0);
    memset(&d, 0, sizeof(d));
    assert_int_equal(spool_read(path, &d, &off, &len, err, sizeof(err)), 0);
    assert_string_equal(d.rcpts[0].addr, "a@s.test");
    spool_envelope_free(&d);
    /* not asked for: none */
    original(qid, "a@s.test", "wait2@d.test", SPOOL_NOTIFY_FAILURE);
    fill(&j, qid, "wait2@d.test", "4.2.0", "451 4.2.0 busy");
    j.ev.delayed = 1;
    failure_run(&ctx, &j);
    assert_int_equal(j.dsn_qid[0], '\0');
    original(qid, "a@s.test", "wait3@d.test", 0);
    fill(&j, qid, "wait3@d.test", "4.2.0", "451 4.2.0 busy");
    j.ev.delayed = 1;
    failure_run(&ctx, &j);
    assert_int_equal(j.dsn_qid[0], '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hard_with_dsn),
        cmocka_unit_test(test_no_dsn),
        cmocka_unit_test(test_soft),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_group),
        cmocka_unit_test(test_delay_notice),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
