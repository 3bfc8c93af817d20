/*
 * Unit tests for bounced/classify.c and its helpers: the status fallback
 * when no pattern matches, DSN vs prose vs X-Failed-Recipients, ARF and
 * JMRP feedback, RFC 3834 auto-replies, VERP and original-id extraction,
 * JSON escaping of hostile text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bounce_patterns.h"
#include "buf.h"
#include "../../../bounced/classify.h"
#include "../../../bounced/json.h"
#include "../../../bounced/verp.h"

static struct bounce_patterns *db;

static int setup(void **state)
{
    char err[256];

    db = bounce_patterns_new();
    if (!db || bounce_patterns_load_builtin(db, err, sizeof(err)) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    bounce_patterns_free(db);
    return 0;
}

static void classify(const char *msg, struct report *rep)
{
    report_init(rep);
    assert_int_equal(classify_message(db, msg, strlen(msg), rep), 0);
}

static void test_reply_and_status_fallback(void **state)
{
    struct report_rcpt r;
    struct bounce_patterns *empty = bounce_patterns_new();

    memset(&r, 0, sizeof(r));
    classify_reply(db, "550 5.1.1 <x@y.example>: Recipient address rejected: User unknown", &r);
    assert_string_equal(r.category, "bad-mailbox");
    assert_string_equal(r.status, "5.1.1");
    assert_true(r.hard);
    free(r.diag);
    /* text beats code */
    memset(&r, 0, sizeof(r));
    classify_reply(db, "550 5.1.1 blocked using bl.example.org", &r);
    assert_string_equal(r.category, "spam-related");
    assert_false(r.hard);
    free(r.diag);
    /* a soft failure is never hard, whatever the category */
    memset(&r, 0, sizeof(r));
    classify_reply(db, "450 4.1.1 mailbox temporarily unknown", &r);
    assert_string_equal(r.category, "bad-mailbox");
    assert_false(r.hard);
    free(r.diag);
    /* no pattern at all: the enhanced status decides; code alone -> other */
    memset(&r, 0, sizeof(r));
    classify_reply(empty, "552 5.2.2 zzz", &r);
    assert_string_equal(r.category, "quota-issues");
    free(r.diag);
    memset(&r, 0, sizeof(r));
    classify_reply(empty, "550 zzz", &r);
    assert_string_equal(r.status, "5.0.0");
    assert_string_equal(r.category, "other");
    free(r.diag);
    memset(&r, 0, sizeof(r));
    classify_reply(empty, "556 zzz", &r);                /* RFC 7505 null MX */
    assert_string_equal(r.status, "5.1.10");
    assert_string_equal(r.category, "bad-domain");
    free(r.diag);
    bounce_patterns_free(empty);
}

static const char dsn_msg[] =
    "From: MAILER-DAEMON@mx.example.org\r\n"
    "To: bounces+0123456789ABCDEF012345.abcdef@bounce.example.com\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n"
    "\r\n"
    "--B\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "I'm sorry to have to inform you...\r\n"
    "--B\r\n"
    "Content-Type: message/delivery-status\r\n"
    "\r\n"
    "Reporting-MTA: dns; mx.example.org\r\n"
    "\r\n"
    "Final-Recipient: rfc822; gone@example.net\r\n"
    "Action: failed\r\n"
    "Status: 5.0.0\r\n"
    "Diagnostic-Code: smtp; 550 mailbox full\r\n"
    "\r\n"
    "Final-Recipient: rfc822; ok@example.net\r\n"
    "Action: delivered\r\n"
    "Status: 2.0.0\r\n"
    "--B\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "X-Courser-Queue-Id: SHOULDNOTWIN\r\n"
    "Message-ID: <m1@example.com>\r\n"
    "\r\n"
    "hello\r\n"
    "--B--\r\n";

static void test_dsn(void **state)
{
    struct report rep;

    classify(dsn_msg, &rep);
    assert_int_equal(rep.type, REPORT_BOUNCE);
    assert_int_equal(rep.n, 2);
    assert_string_equal(rep.r[0].addr, "gone@example.net");
    assert_string_equal(rep.r[0].category, "quota-issues");   /* text refines 5.0.0 */
    assert_false(rep.r[0].hard);
    assert_int_equal(rep.r[1].type, REPORT_DELIVERED);
    assert_string_equal(rep.orig_id, "0123456789ABCDEF012345");   /* VERP first */
    report_free(&rep);
}

static void test_prose_bounces(void **state)
{
    static const char postfix[] =
        "From: MAILER-DAEMON@a.example\nTo: sender@b.example\nSubject: Undelivered Mail\n\n"
        "This is the mail system at host a.example.\n\n"
        "<rcpt1@c.example>: host mx.c.example[192.0.2.1] said: 550 5.1.1 <rcpt1@c.example>:\n"
        "    Recipient address rejected: User unknown (in reply to RCPT TO command)\n"
        "<rcpt2@c.example>: host mx.c.example[192.0.2.1] said: 552 5.2.2 Mailbox full\n\n"
        "--- Below this line is a copy of the message.\n\n"
        "From: sender@b.example\nTo: other@d.example\n\nhi\n";
    static const char exim[] =
        "From: Mail Delivery System <Mailer-Daemon@e.example>\nTo: s@b.example\n"
        "X-Failed-Recipients: who@f.example\nSubject: Mail delivery failed\n\n"
        "This message was created automatically by mail delivery software.\n\n"
        "  who@f.example\n    SMTP error from remote mail server after RCPT TO:<who@f.example>:\n"
        "    550 No such user here\n\n"
        "------ This is a copy of the message, including all the headers. ------\n"
        "To: who@f.example\n";
    static const char qmail[] =
        "From: MAILER-DAEMON@q.example\nTo: s@b.example\nSubject: failure notice\n\n"
        "Hi. This is the qmail-send program at q.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n\n"
        "<nobody@g.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
        "--- Below this line is a copy of the message.\n";
    struct report rep;

    classify(postfix, &rep);
    assert_int_equal(rep.type, REPORT_BOUNCE);
    assert_int_equal(rep.n, 2);
    assert_string_equal(rep.r[0].addr, "rcpt1@c.example");
    assert_string_equal(rep.r[0].category, "bad-mailbox");
    assert_string_equal(rep.r[0].status, "5.1.1");
    assert_string_equal(rep.r[1].category, "quota-issues");   /* its own paragraph */
    report_free(&rep);
    classify(exim, &rep);
    assert_int_equal(rep.n, 1);
    assert_string_equal(rep.r[0].addr, "who@f.example");
    assert_string_equal(rep.r[0].category, "bad-mailbox");
    report_free(&rep);
    classify(qmail, &rep);
    assert_int_equal(rep.n, 1);
    assert_string_equal(rep.r[0].addr, "nobody@g.example");
    assert_string_equal(rep.r[0].status, "5.1.1");
    assert_true(rep.r[0].hard);
    report_free(&rep);
}

static void test_feedback(void **state)
{
    static const char arf[] =
        "From: fbl@isp.example\nSubject: FW: x\n"
        "Content-Type: multipart/report; report-type=feedback-report; boundary=X\n\n"
        "--X\nContent-Type: text/plain\n\nabuse report\n"
        "--X\nContent-Type: message/feedback-report\n\n"
        "Feedback-Type: Opt-Out\nOriginal-Rcpt-To: <u1@isp.example>\nOriginal-Rcpt-To: u2@isp.example\n"
        "--X\nContent-Type: message/rfc822\n\nTo: other@isp.example\nX-Courser-Queue-Id: 0123456789ABCDEF012345\n\nspam\n--X--\n";
    static const char jmrp[] =
        "From: staff@hotmail.com\nSubject: complaint\nContent-Type: multipart/mixed; boundary=J\n\n"
        "--J\nContent-Type: message/rfc822\n\n"
        "X-HmXmrOriginalRecipient: victim@hotmail.example\nTo: someone@hotmail.example\n\nx\n--J--\n";
    struct report rep;

    classify(arf, &rep);
    assert_int_equal(rep.type, REPORT_FEEDBACK);
    assert_string_equal(rep.feedback_type, "opt-out");
    assert_int_equal(rep.n, 2);
    assert_string_equal(rep.r[0].addr, "u1@isp.example");
    assert_string_equal(rep.r[1].addr, "u2@isp.example");
    assert_string_equal(rep.orig_id, "0123456789ABCDEF012345");
    report_free(&rep);
    classify(jmrp, &rep);
    assert_int_equal(rep.type, REPORT_FEEDBACK);
    assert_string_equal(rep.feedback_type, "abuse");
    assert_int_equal(rep.n, 1);
    assert_string_equal(rep.r[0].addr, "victim@hotmail.example");
    report_free(&rep);
}

static void test_autoreply_and_unknown(void **state)
{
    static const char vac[] = "From: Boss <boss@corp.example>\nTo: s@b.example\n"
                              "Subject: =?UTF-8?Q?Out_of_Office?=\nAuto-Submitted: auto-replied\n\n"
                              "I am away until Monday.\n";
    static const char plain[] = "From: friend@x.example\nTo: s@b.example\nSubject: lunch?\n\nAt noon.\n";
    struct report rep;

    classify(vac, &rep);
    assert_int_equal(rep.type, REPORT_AUTOREPLY);
    assert_int_equal(rep.n, 1);
    assert_string_equal(rep.r[0].addr, "boss@corp.example");
    report_free(&rep);
    classify(plain, &rep);
    assert_int_equal(rep.type, REPORT_UNKNOWN);
    assert_int_equal(rep.n, 0);
    report_free(&rep);
}

static void test_verp(void **state)
{
    char id[64], hash[64];

    assert_int_equal(verp_decode("<bounces+ABC123.h4sh@b.example>", id, sizeof(id), hash, sizeof(hash)), 0);
    assert_string_equal(id, "ABC123");
    assert_string_equal(hash, "h4sh");
    assert_int_equal(verp_decode("bounces+ABC123@b.example", id, sizeof(id), hash, sizeof(hash)), -1);
    assert_int_equal(verp_decode("bounces+.h@b.example", id, sizeof(id), hash, sizeof(hash)), -1);
    assert_int_equal(verp_decode("bounces+A-B.h@b.example", id, sizeof(id), hash, sizeof(hash)), -1);
    assert_int_equal(verp_decode("other+ABC.h@b.example", id, sizeof(id), hash, sizeof(hash)), -1);
}

static void test_orig_id(void **state)
{
    static const char quoted[] =
        "From: MAILER-DAEMON@a.example\nMessage-ID: <notice@a.example>\nSubject: failure notice\n\n"
        "<x@b.example>:\nSorry, no mailbox here by that name.\n\n"
        "--- Below this line is a copy of the message.\n\n"
        "Message-ID: <orig-1@c.example>\nTo: x@b.example\n\nhi\n";
    static const char attached[] =
        "From: MAILER-DAEMON@a.example\nSubject: Undelivered\nContent-Type: multipart/mixed; boundary=Q\n\n"
        "--Q\nContent-Type: text/plain\n\n<x@b.example>: 550 user unknown\n"
        "--Q\nContent-Type: text/rfc822-headers\n\n"
        "Message-ID: <orig-2@c.example>\nX-Courser-Queue-Id: 0123456789ABCDEF012345\n--Q--\n";
    struct report rep;

    classify(quoted, &rep);
    assert_string_equal(rep.orig_id, "orig-1@c.example");
    report_free(&rep);
    classify(attached, &rep);
    assert_string_equal(rep.orig_id, "0123456789ABCDEF012345");
    assert_int_equal(rep.n, 1);
    report_free(&rep);
}

/* empty text parts right at the explanation buffer's growth boundary
 * (fuzzer finding: the closing newline was written past the buffer) */
static void test_empty_parts(void **state)
{
    char msg[4096], *p = msg;
    struct report rep;
    int pad, i;

    for (pad = 240; pad < 270; pad++) {
        p = msg;
        p += sprintf(p, "From: MAILER-DAEMON@a.example\nContent-Type: multipart/mixed; boundary=E\n\n"
                        "--E\nContent-Type: text/plain\n\n");
        memset(p, 'a', (size_t)pad);
        p += pad;
        p += sprintf(p, "\n");
        for (i = 0; i < 4; i++)
            p += sprintf(p, "--E\nContent-Type: text/plain\n\n");
        p += sprintf(p, "--E--\n");
        report_init(&rep);
        assert_int_equal(classify_message(db, msg, (size_t)(p - msg), &rep), 0);
        report_free(&rep);
    }
}

static void test_json(void **state)
{
    struct buf b;
    static const char in[] = "a\"b\\c\n\x01\xc3\xa9\xff\xe2\x82";

    buf_init(&b, 1024);
    assert_int_equal(json_append_string(&b, in, sizeof(in) - 1), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\u000a\\u0001\xc3\xa9\\u00ff\\u00e2\\u0082\"");
    buf_free(&b);
    buf_init(&b, 4);
    assert_int_equal(json_append_string(&b, "abcdef", 6), -1);   /* bounded */
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_and_status_fallback),
        cmocka_unit_test(test_dsn),
        cmocka_unit_test(test_prose_bounces),
        cmocka_unit_test(test_feedback),
        cmocka_unit_test(test_autoreply_and_unknown),
        cmocka_unit_test(test_verp),
        cmocka_unit_test(test_orig_id),
        cmocka_unit_test(test_empty_parts),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
