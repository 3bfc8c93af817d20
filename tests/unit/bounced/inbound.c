/*
 * Unit tests for bounced/inbound.c: an asynchronous DSN to a signed VERP
 * address gives an rb record with the original queue id and suppresses
 * the recipient; a forged VERP hash gives nothing; an ARF complaint gives
 * an f record mapped through the attached Return-Path and suppresses the
 * complainer; without VERP the DSN is recorded but, with a key set, not
 * trusted for suppression; delayed and delivered DSNs give rs records
 * (no suppression); an auto-reply is dropped, or, sent to a
 * <feedback-loop-processor> address, forwarded to forward-unmatched-to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "acctdb.h"
#include "spool.h"
#include "../../../bounced/bounced.h"

static const char *QID = "6619C5EB2AC68001A41000";
static char dir[256];
static struct bounced_ctx ctx;
static struct config cfg;
static char verp[256];

static int setup(void **state)
{
    char err[512];

    snprintf(dir, sizeof(dir), "/tmp/courser-inbound-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    memset(&ctx, 0, sizeof(ctx));
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.spool_dir, sizeof(cfg.spool_dir), "%s", dir);
    snprintf(cfg.verp_key, sizeof(cfg.verp_key), "unit-test-verp-key-123456");
    ctx.cfg = &cfg;
    if (server_ctx_load(&ctx, &cfg, err, sizeof(err)) < 0)
        return -1;
    snprintf(err, sizeof(err), "%s/suppress", dir);
    ctx.sdb = suppress_open(err, 0, err, sizeof(err));
    if (ctx.sdb == NULL)
        return -1;
    return verp_sign_encode(&ctx.key, QID, "bounce.test", verp, sizeof(verp));
}

static int teardown(void **state)
{
    char cmd[512];

    suppress_close(ctx.sdb);
    bounce_patterns_free(ctx.patterns);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *dsn_to(const char *to, const char *rcpt)
{
    static char m[2048];

    snprintf(m, sizeof(m),
             "From: MAILER-DAEMON@mx.dest.test\r\nTo: <%s>\r\nSubject: failure\r\nMIME-Version: 1.0\r\n"
             "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
             "--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
             "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.dest.test\r\n\r\n"
             "Final-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.1.1\r\n"
             "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n--B--\r\n", to, rcpt);
    return m;
}

static void env_for(struct spool_envelope *e, struct spool_rcpt *r, const char *rcpt)
{
    memset(e, 0, sizeof(*e));
    memset(r, 0, sizeof(*r));
    queue_id_new(e->queue_id);
    e->client_ip = (char *)"192.0.2.9";
    e->client_helo = (char *)"mx.dest.test";
    e->mail_from = (char *)"";
    r->addr = (char *)rcpt;
    e->rcpts = r;
    e->nrcpt = 1;
}

static struct bjob *job(void)
{
    struct bjob *j = calloc(1, sizeof(*j));

    assert_non_null(j);
    return j;
}

static void job_free(struct bjob *j)
{
    size_t i;

    for (i = 0; i < j->nrecs; i++)
        acct_record_free(&j->recs[i]);
    free(j->recs);
    free(j->fwd);
    free(j);
}

static void test_verp_dsn(void **state)
{
    struct spool_envelope e;
    struct spool_rcpt r;
    struct suppress_entry se;
    struct bjob *j = job();
    const char *m = dsn_to(verp, "later@dest.test");

    env_for(&e, &r, verp);
    assert_int_equal(inbound_message(&ctx, j, &e, m, strlen(m)), 1);
    assert_int_equal(j->nrecs, 1);
    assert_string_equal(j->recs[0].v[AF_TYPE], "rb");
    assert_string_equal(j->recs[0].v[AF_RCPT], "later@dest.test");
    assert_string_equal(j->recs[0].v[AF_QUEUE_ID], QID);
    assert_string_equal(j->recs[0].v[AF_BOUNCE_CAT], "bad-mailbox");
    assert_string_equal(j->recs[0].v[AF_DSN_STATUS], "5.1.1 (bad destination mailbox address)");
    assert_string_equal(j->recs[0].v[AF_FORMAT], "dsn");
    assert_string_equal(j->recs[0].v[AF_REP_SOURCE_IP], "192.0.2.9");
    assert_int_equal(suppress_get(ctx.sdb, "*", "later@dest.test", &se), 1);
    assert_string_equal(se.source, "rb");
    job_free(j);
}

static void test_forged(void **state)
{
    struct spool_envelope e;
    struct spool_rcpt r;
    struct bjob *j = job();
    char forged[256];
    const char *m;

    snprintf(forged, sizeof(forged), "bounces+%s.0123456789abcdef@bounce.test", QID);
    m = dsn_to(forged, "victim@dest.test");
    env_for(&e, &r, forged);
    assert_int_equal(inbound_message(&ctx, j, &e, m, strlen(m)), 0);
    assert_int_equal(j->nrecs, 0);
    assert_int_equal(suppress_get(ctx.sdb, "*", "victim@dest.test", NULL), 0);
    /* the forged address in a To: header, the envelope innocent */
    env_for(&e, &r, "postmaster@bounce.test");
    assert_int_equal(inbound_message(&ctx, j, &e, m, strlen(m)), 0);
    assert_int_equal(suppress_get(ctx.sdb, "*", "victim@dest.test", NULL), 0);
    job_free(j);
}

static void test_no_verp(void **state)
{
    struct spool_envelope e;
    struct spool_rcpt r;
    struct bjob *j = job();
    const char *m = dsn_to("postmaster@bounce.test", "other@dest.test");

    env_for(&e, &r, "postmaster@bounce.test");
    assert_int_equal(inbound_message(&ctx, j, &e, m, strlen(m)), 1);
    assert_null(j->recs[0].v[AF_QUEUE_ID]);
    /* recorded, but an unauthenticated notice suppresses nobody */
    assert_int_equal(suppress_get(ctx.sdb, "*", "other@dest.test", NULL), 0);
    job_free(j);
}

/* No VERP: our Received: line in the quoted headers names the message. */
static void test_received_id(void **state)
{
    struct spool_envelope e;
    struct spool_rcpt r;
    struct bjob *j = job();
    char m[3000];

    /* the notice's own Received: line (smtpd adds it) is not the original's */
    snprintf(m, sizeof(m), "Received: from mx.dest.test ([192.0.2.9])\r\n\tby courser.test (Courser) with "
             "ESMTP id 6619C5EB2AC68001A49999;\r\n\tWed, 02 Dec 2026 01:14:56 +0000\r\n%s",
             dsn_to("postmaster@bounce.test", "q@dest.test"));
    m[strlen(m) - strlen("--B--\r\n")] = '\0';
    strcat(m, "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
              "Received: from client.test ([127.0.0.1])\r\n\tby courser.test (Courser) with ESMTP id "
              "6619C5EB2AC68001A41000;\r\n\tWed, 02 Dec 2026 01:14:55 +0000\r\n"
              "Message-ID: <not-a-queue-id@x>\r\nSubject: x\r\n\r\n--B--\r\n");
    env_for(&e, &r, "postmaster@bounce.test");
    assert_int_equal(inbound_message(&ctx, j, &e, m, strlen(m)), 1);
    assert_string_equal(j->recs[0].v[AF_QUEUE_ID], QID);
    /* unverified: recorded, not trusted for suppression (a key is set) */
    assert_int_equal(suppress_get(ctx.sdb, "*", "q@dest.test", NULL), 0);
    job_free(j);
}

static void test_arf(void **state)
{
    struct spool_envelope e;
    struct spool_rcpt r;
    struct suppress_entry se;
    struct bjob *j = job();
    char m[2048];

    snprintf(m, sizeof(m),
             "From: fbl@isp.test\r\nTo: fbl@bounce.test\r\nSubject: report\r\nMIME-Version: 1.0\r\n"
             "Content-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n"
             "--F\r\nContent-Type: text/plain\r\n\r\nabuse report\r\n"
             "--F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n"
             "Original-Rcpt-To: <who@dest.test>\r\n\r\n"
             "--F\r\nContent-Type: message/rfc822\r\n\r\nReturn-Path: <%s>\r\nFrom: a@s.test\r\n"
             "To: who@dest.test\r\nSubject: x\r\n\r\nx\r\n--F--\r\n", verp);
    env_for(&e, &r, "fbl@bounce.test");
    assert_int_equal(inbound_message(&ctx, j, &e, m, strlen(m)), 1);
    assert_string_equal(j->recs[0].v[AF_TYPE], "f");
    assert_string_equal(j->recs[0].v[AF_RCPT], "who@dest.test");
    assert_string_equal(j->recs[0].v[AF_FEEDBACK_TYPE], "abuse");
    assert_string_equal(j->recs[0].v[AF_QUEUE_ID], QID);
    assert_string_equal(j->recs[0].v[AF_FORMAT], "arf");
    assert_int_equal(suppress_get(ctx.sdb, "*", "who@dest.test", &se), 1);
    assert_string_equal(se.reason, "complaint");
    job_free(j);
}

static void test_rs(void **state)
{
    struct spool_envelope e;
    struct spool_rcpt r;
    struct bjob *j = job();
    char m[2048];
    const char *fmt = "From: MAILER-DAEMON@mx.test\r\nTo: <%s>\r\nSubject: report\r\nMIME-Version: 1.0\r\n"
                      "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
                      "--B\r\nContent-Type: text/plain\r\n\r\nreport\r\n--B\r\n"
                      "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.test\r\n\r\n"
                      "Final-Recipient: rfc822; slow@dest.test\r\nAction: %s\r\nStatus: %s\r\n"
                      "Diagnostic-Code: smtp; %s\r\n\r\n--B--\r\n";

    env_for(&e, &r, verp);
    snprintf(m, sizeof(m), fmt, verp, "delayed", "4.4.1", "421 4.4.1 connection timed out");
    assert_int_equal(inbound_message(&ctx, j, &e, m, strlen(m)), 1);
    assert_string_equal(j->recs[0].v[AF_TYPE], "rs");
    assert_string_equal(j->recs[0].v[AF_DSN_ACTION], "delayed");
    assert_null(j->recs[0].v[AF_BOUNCE_CAT]);
    snprintf(m, sizeof(m), fmt, verp, "delivered", "2.0.0", "250 ok");
    assert_int_equal(inbound_message(&ctx, j, &e, m, strlen(m)), 1);
    assert_string_equal(j->recs[1].v[AF_TYPE], "rs");
    assert_string_equal(j->recs[1].v[AF_DSN_ACTION], "delivered");
    assert_string_equal(j->recs[1].v[AF_QUEUE_ID], QID);
    assert_int_equal(suppress_get(ctx.sdb, "*", "slow@dest.test", NULL), 0);
    job_free(j);
}

static void test_autoreply(void **state)
{
    struct spool_envelope e;
    struct spool_rcpt r;
    struct bjob *j = job();
    const char *m = "From: me@dest.test\r\nTo: x@bounce.test\r\nSubject: Out of office\r\n"
                    "Auto-Submitted: auto-replied\r\n\r\nI am away until Monday.\r\n";

    env_for(&e, &r, verp);
    assert_int_equal(inbound_message(&ctx, j, &e, m, strlen(m)), 0);
    assert_int_equal(j->nrecs, 0);
    job_free(j);
}

/* d_line - a stored accounting line (every field, acct_field order). */
static void d_line(char *out, size_t outlen, const char *rcpt, const char *src_ip)
{
    const char *v[AF_COUNT] = { 0 };
    size_t o = 0;
    int i;

    v[AF_TYPE] = "d";
    v[AF_TIME_QUEUED] = "2026-12-01 10:00:00+0000";
    v[AF_ORIG] = "news@shop.test";
    v[AF_RCPT] = rcpt;
    v[AF_DLV_SOURCE_IP] = src_ip;
    v[AF_VMTA] = "vmta-a";
    v[AF_VMTA_POOL] = "pool-1";
    v[AF_JOB_ID] = "job-42";
    v[AF_QUEUE] = "dest.test/vmta-a";
    v[AF_QUEUE_ID] = QID;
    for (i = 0; i < AF_COUNT; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%s%s", i ? "," : "", v[i] ? v[i] : "");
    assert_true(o < outlen);
}

/* With acctd's LMDB, an rb record gets the original's orig, vmta, pool,
 * job and queued time, and dlvSourceIp/queue from the same recipient's
 * d record only; without a match, orig is the notice's envelope
 * recipient (PowerMTA's definition). */
static void test_original_fields(void **state)
{
    struct cfg_acct_file af;
    struct acctdb *db;
    struct acctdb_item it[2];
    struct spool_envelope e;
    struct spool_rcpt r;
    struct bjob *j;
    char l1[1024], l2[1024], err[256], lmdb[PATH_MAX];
    const char *m;

    memset(&af, 0, sizeof(af));
    snprintf(af.path, sizeof(af.path), "%s/acct.csv", dir);
    assert_int_equal(acctdb_dir_for(af.path, lmdb, sizeof(lmdb)), 0);
    assert_int_equal(acctdb_open(&db, lmdb, 1 << 20, 0, err, sizeof(err)), 0);
    d_line(l1, sizeof(l1), "other@dest.test", "192.0.2.77");
    d_line(l2, sizeof(l2), "gone@dest.test", "192.0.2.55");
    it[0] = (struct acctdb_item){ l1, (char *)QID, (char *)"other@dest.test", (char *)"job-42" };
    it[1] = (struct acctdb_item){ l2, (char *)QID, (char *)"gone@dest.test", (char *)"job-42" };
    assert_int_equal(acctdb_put(db, it, 2, err, sizeof(err)), 0);
    acctdb_close(db);
    cfg.acct_files = &af;
    cfg.nacct_files = 1;

    j = job();
    m = dsn_to(verp, "GONE@dest.test");
    env_for(&e, &r, verp);
    assert_int_equal(inbound_message(&ctx, j, &e, m, strlen(m)), 1);
    assert_string_equal(j->recs[0].v[AF_ORIG], "news@shop.test");
    assert_string_equal(j->recs[0].v[AF_VMTA], "vmta-a");
    assert_string_equal(j->recs[0].v[AF_VMTA_POOL], "pool-1");
    assert_string_equal(j->recs[0].v[AF_JOB_ID], "job-42");
    assert_string_equal(j->recs[0].v[AF_TIME_QUEUED], "2026-12-01 10:00:00+0000");
    assert_string_equal(j->recs[0].v[AF_DLV_SOURCE_IP], "192.0.2.55");
    assert_string_equal(j->recs[0].v[AF_QUEUE], "dest.test/vmta-a");
    job_free(j);

    /* a recipient the original had no record for: message fields only */
    j = job();
    m = dsn_to(verp, "stranger@dest.test");
    assert_int_equal(inbound_message(&ctx, j, &e, m, strlen(m)), 1);
    assert_string_equal(j->recs[0].v[AF_ORIG], "news@shop.test");
    assert_null(j->recs[0].v[AF_DLV_SOURCE_IP]);
    assert_null(j->recs[0].v[AF_QUEUE]);
    job_free(j);

    /* no original: orig is the address the notice came to */
    j = job();
    m = dsn_to("x@bounce.test", "who@dest.test");
    env_for(&e, &r, "x@bounce.test");
    assert_int_equal(inbound_message(&ctx, j, &e, m, strlen(m)), 1);
    assert_string_equal(j->recs[0].v[AF_ORIG], "x@bounce.test");
    assert_null(j->recs[0].v[AF_VMTA]);
    job_free(j);
    original_close(&ctx);
    cfg.acct_files = NULL;
    cfg.nacct_files = 0;
}

/* An auto-reply to a processor's address goes to its forward-unmatched-to
 * addresses (never to one that is itself a bounce address), unchanged and
 * with the null sender; one to a plain bounce address is still dropped. */
static void test_forward_unmatched(void **state)
{
    static char fwd[2][CFG_NAME_MAX] = { "ops@ops.test", "loop@proc.test" };
    static char addrs[1][CFG_NAME_MAX] = { "fbl@proc.test" };
    static char doms[1][CFG_NAME_MAX] = { "proc.test" };
    struct cfg_processor pr;
    struct spool_envelope e, got;
    struct spool_rcpt r;
    struct bjob *j = job();
    const char *m = "From: me@dest.test\r\nTo: fbl@proc.test\r\nSubject: Out of office\r\n"
                    "Auto-Submitted: auto-replied\r\n\r\nI am away until Monday.\r\n";
    char path[PATH_MAX], err[256];
    uint64_t off, mlen;

    memset(&pr, 0, sizeof(pr));
    pr.feedback = 1;
    pr.forward_unmatched = fwd;
    pr.nforward_unmatched = 2;
    pr.addresses = addrs;
    pr.naddresses = 1;
    pr.domains = doms;      /* "loop@proc.test" is a processor address: skipped */
    pr.ndomains = 1;
    cfg.processors = &pr;
    cfg.nprocessors = 1;
    assert_int_equal(spool_init_dirs(dir), 0);
    env_for(&e, &r, "fbl@proc.test");
    assert_int_equal(inbound_message(&ctx, j, &e, m, strlen(m)), 0);
    assert_int_equal(j->nrecs, 0);
    assert_int_equal(j->nfwd, 1);
    assert_int_equal(spool_msg_path(dir, j->fwd[0], path, sizeof(path)), 0);
    memset(&got, 0, sizeof(got));
    assert_int_equal(spool_read(path, &got, &off, &mlen, err, sizeof(err)), 0);
    assert_string_equal(got.mail_from, "");
    assert_int_equal(got.nrcpt, 1);
    assert_string_equal(got.rcpts[0].addr, "ops@ops.test");
    assert_int_equal(mlen, strlen(m));
    spool_envelope_free(&got);
    job_free(j);
    /* a plain bounce-domain address: no processor, dropped */
    j = job();
    env_for(&e, &r, verp);
    assert_int_equal(inbound_message(&ctx, j, &e, m, strlen(m)), 0);
    assert_int_equal(j->nfwd, 0);
    job_free(j);
    cfg.processors = NULL;
    cfg.nprocessors = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verp_dsn),
        cmocka_unit_test(test_forged),
        cmocka_unit_test(test_no_verp),
        cmocka_unit_test(test_received_id),
        cmocka_unit_test(test_arf),
        cmocka_unit_test(test_rs),
        cmocka_unit_test(test_autoreply),
        cmocka_unit_test(test_forward_unmatched),
        cmocka_unit_test(test_original_fields),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
