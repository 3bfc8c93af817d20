/*
 * Unit tests for bounced/dsn_make.c: the DSN is RFC 3464 shaped (read back
 * with bounced's own DSN parser), its lines are CRLF and at most 998
 * bytes, hostile diagnostics cannot inject headers, RET=FULL attaches
 * the message, and missing inputs are refused.
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
#include "../../../bounced/dsn_make.h"

static const char ORIG[] = "Received: from x\r\n\tby y\r\nFrom: a@sender.test\r\nTo: gone@dest.test\r\n"
                           "Subject: hi\r\nMessage-ID: <m1@sender.test>\r\n\r\nbody line\r\n";

static void base(struct dsn_input *in, struct dsn_rcpt *r)
{
    memset(r, 0, sizeof(*r));
    r->addr = "gone@dest.test";
    r->orcpt = "rfc822;Gone@Dest.test";
    r->status = "5.1.1";
    r->diag = "550 5.1.1 <gone@dest.test>: Recipient address rejected: User unknown";
    r->remote_mta = "mx.dest.test";
    memset(in, 0, sizeof(*in));
    in->host_name = "courser.test";
    in->to = "a@sender.test";
    in->orig_qid = "6619C5EB2AC68001A41000";
    in->dsn_qid = "6619C5EB2AC68001A42000";
    in->envid = "job-42";
    in->arrival = 1764633600;
    in->now = 1764633700;
    in->orig = ORIG;
    in->origlen = sizeof(ORIG) - 1;
    in->rcpts = r;
    in->nrcpt = 1;
}

/* lines_ok - CRLF everywhere, no bare CR/LF, each line <= 998 bytes */
static void lines_ok(const struct buf *b)
{
    size_t i, col = 0;

    for (i = 0; i < b->len; i++) {
        if (b->data[i] == '\r') {
            assert_true(i + 1 < b->len && b->data[i + 1] == '\n');
            i++;
            col = 0;
            continue;
        }
        assert_true(b->data[i] != '\n');
        col++;
        assert_true(col <= 998);
    }
}

static void test_shape(void **state)
{
    struct dsn_input in;
    struct dsn_rcpt r;
    struct buf b;
    struct report rep;
    struct bounce_patterns *db = bounce_patterns_new();
    char err[256];

    assert_non_null(db);
    assert_int_equal(bounce_patterns_load_builtin(db, err, sizeof(err)), 0);
    base(&in, &r);
    buf_init(&b, 1 << 20);
    assert_int_equal(dsn_make(&b, &in), 0);
    lines_ok(&b);
    assert_non_null(strstr(b.data, "Content-Type: multipart/report; report-type=delivery-status;"));
    assert_non_null(strstr(b.data, "\r\nTo: <a@sender.test>\r\n"));
    assert_non_null(strstr(b.data, "\r\nAuto-Submitted: auto-replied\r\n"));
    assert_non_null(strstr(b.data, "\r\nReporting-MTA: dns; courser.test\r\n"));
    assert_non_null(strstr(b.data, "\r\nOriginal-Envelope-Id: job-42\r\n"));
    assert_non_null(strstr(b.data, "\r\nArrival-Date: Tue, 02 Dec 2025 00:00:00 +0000\r\n"));
    assert_non_null(strstr(b.data, "\r\nFinal-Recipient: rfc822; gone@dest.test\r\n"));
    assert_non_null(strstr(b.data, "\r\nOriginal-Recipient: rfc822;Gone@Dest.test\r\n"));
    assert_non_null(strstr(b.data, "\r\nAction: failed\r\nStatus: 5.1.1\r\n"));
    assert_non_null(strstr(b.data, "\r\nRemote-MTA: dns; mx.dest.test\r\n"));
    assert_non_null(strstr(b.data, "\r\nDiagnostic-Code: smtp; 550 5.1.1 <gone@dest.test>"));
    assert_non_null(strstr(b.data, "Content-Type: text/rfc822-headers\r\n\r\nReceived: from x\r\n"));
    assert_non_null(strstr(b.data, "Message-ID: <m1@sender.test>\r\n\r\n--"));
    assert_null(strstr(b.data, "body line"));       /* headers only by default */
    assert_non_null(strstr(b.data, "--6619C5EB2AC68001A42000/courser.test--\r\n"));
    /* bounced's own parser reads it back as the bounce it is */
    report_init(&rep);
    assert_int_equal(classify_message(db, b.data, b.len, &rep), 0);
    assert_int_equal(rep.type, REPORT_BOUNCE);
    assert_int_equal(rep.n, 1);
    assert_string_equal(rep.r[0].addr, "gone@dest.test");
    assert_string_equal(rep.r[0].status, "5.1.1");
    assert_string_equal(rep.r[0].category, "bad-mailbox");
    assert_int_equal(rep.r[0].hard, 1);
    report_free(&rep);
    buf_free(&b);
    bounce_patterns_free(db);
}

/* A delay notice: Action: delayed, Will-Retry-Until, headers only even
 * with RET=FULL (RFC 3461 4.3), and bounced's parser reads it as a
 * delayed report, not a bounce. */
static void test_delayed(void **state)
{
    struct dsn_input in;
    struct dsn_rcpt r;
    struct buf b;
    struct report rep;
    struct bounce_patterns *db = bounce_patterns_new();
    char err[256];

    assert_non_null(db);
    assert_int_equal(bounce_patterns_load_builtin(db, err, sizeof(err)), 0);
    base(&in, &r);
    r.status = "4.2.0";
    r.diag = "451 4.2.0 mailbox busy, try later";
    in.delayed = 1;
    in.retry_until = 1764633600 + 4 * 86400 + 12 * 3600;
    in.full = 1;
    buf_init(&b, 1 << 20);
    assert_int_equal(dsn_make(&b, &in), 0);
    lines_ok(&b);
    assert_non_null(strstr(b.data, "\r\nSubject: Delayed Mail (still being retried)\r\n"));
    assert_non_null(strstr(b.data, "keep trying until\r\nSat, 06 Dec 2025 12:00:00 +0000.\r\n"));
    assert_non_null(strstr(b.data, "\r\nAction: delayed\r\nStatus: 4.2.0\r\n"));
    assert_non_null(strstr(b.data, "\r\nWill-Retry-Until: Sat, 06 Dec 2025 12:00:00 +0000\r\n"));
    assert_null(strstr(b.data, "Action: failed"));
    assert_non_null(strstr(b.data, "Content-Type: text/rfc822-headers\r\n"));
    assert_null(strstr(b.data, "body line"));
    report_init(&rep);
    assert_int_equal(classify_message(db, b.data, b.len, &rep), 0);
    assert_int_equal(rep.n, 1);
    assert_string_equal(rep.r[0].action, "delayed");
    assert_string_equal(rep.r[0].status, "4.2.0");
    report_free(&rep);
    buf_free(&b);
    bounce_patterns_free(db);
}

static void test_hostile_diag(void **state)
{
    struct dsn_input in;
    struct dsn_rcpt r;
    struct buf b;
    char diag[5000];

    base(&in, &r);
    memset(diag, 'A', sizeof(diag) - 1);
    diag[sizeof(diag) - 1] = '\0';
    memcpy(diag, "550 \r\nX-Injected: 1\r\n\x01\xff", 24);
    r.diag = diag;
    buf_init(&b, 1 << 20);
    assert_int_equal(dsn_make(&b, &in), 0);
    lines_ok(&b);
    assert_null(strstr(b.data, "\r\nX-Injected"));
    assert_non_null(strstr(b.data, "550 ??X-Injected: 1"));
    buf_free(&b);
}

static void test_full(void **state)
{
    struct dsn_input in;
    struct dsn_rcpt r;
    struct buf b;

    base(&in, &r);
    in.full = 1;
    in.envid = NULL;
    r.orcpt = NULL;
    buf_init(&b, 1 << 20);
    assert_int_equal(dsn_make(&b, &in), 0);
    lines_ok(&b);
    assert_non_null(strstr(b.data, "Content-Type: message/rfc822\r\n\r\nReceived: from x"));
    assert_non_null(strstr(b.data, "body line\r\n--"));
    assert_null(strstr(b.data, "Original-Envelope-Id"));
    assert_null(strstr(b.data, "Original-Recipient"));
    buf_free(&b);
    /* no original at all: two parts only */
    base(&in, &r);
    in.orig = NULL;
    in.origlen = 0;
    buf_init(&b, 1 << 20);
    assert_int_equal(dsn_make(&b, &in), 0);
    assert_null(strstr(b.data, "rfc822-headers"));
    buf_free(&b);
}

static void test_refused(void **state)
{
    struct dsn_input in;
    struct dsn_rcpt r;
    struct buf b;

    base(&in, &r);
    in.to = "";                     /* never a DSN to the null sender */
    buf_init(&b, 1 << 20);
    assert_int_equal(dsn_make(&b, &in), -1);
    base(&in, &r);
    in.nrcpt = 0;
    assert_int_equal(dsn_make(&b, &in), -1);
    buf_free(&b);
    base(&in, &r);
    buf_init(&b, 200);              /* the buffer's limit is honoured */
    assert_int_equal(dsn_make(&b, &in), -1);
    buf_free(&b);
}

static void test_header_len(void **state)
{
    assert_int_equal(dsn_header_len("A: b\r\n\r\nbody", 13), 8);
    assert_int_equal(dsn_header_len("\r\nbody", 6), 2);
    assert_int_equal(dsn_header_len("A: b\r\n", 6), 6);
    assert_int_equal(dsn_has_8bit("abc", 3), 0);
    assert_int_equal(dsn_has_8bit("a\xc3\xa9", 3), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_delayed),
        cmocka_unit_test(test_hostile_diag),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_header_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
