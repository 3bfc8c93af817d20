/* Unit tests: smtp-out's message stream (smtp-out/message.c): dot-stuffing
 * with lines split across chunk boundaries at every position, the end of
 * data, and the MAIL/RCPT parameters chosen from the EHLO keywords. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "spool.h"
#include "../../../smtp-out/smtp_out.h"

static const char in[] =
    ".first line starts with a dot\r\n"
    "normal\r\n"
    "..two dots\r\n"
    ".\r\n"
    "a.b\r\n"
    "\r\n"
    ".";
static const char want[] =
    "..first line starts with a dot\r\n"
    "normal\r\n"
    "...two dots\r\n"
    "..\r\n"
    "a.b\r\n"
    "\r\n"
    "..\r\n"            /* no final CRLF in the input: one is added */
    ".\r\n";

static void test_dotstuff_every_split(void **state)
{
    size_t n = sizeof(in) - 1, cut, cut2;
    struct dotstuff ds;
    struct buf out;

    for (cut = 0; cut <= n; cut++) {
        for (cut2 = cut; cut2 <= n; cut2 += 3) {
            buf_init(&out, 1 << 16);
            dotstuff_init(&ds);
            assert_int_equal(dotstuff_chunk(&ds, in, cut, &out), 0);
            assert_int_equal(dotstuff_chunk(&ds, in + cut, cut2 - cut, &out), 0);
            assert_int_equal(dotstuff_chunk(&ds, in + cut2, n - cut2, &out), 0);
            assert_int_equal(dotstuff_end(&ds, &out), 0);
            assert_int_equal(out.len, sizeof(want) - 1);
            assert_memory_equal(out.data, want, out.len);
            buf_free(&out);
        }
    }
}

static void test_dotstuff_byte_by_byte(void **state)
{
    size_t i;
    struct dotstuff ds;
    struct buf out;

    buf_init(&out, 1 << 16);
    dotstuff_init(&ds);
    for (i = 0; i < sizeof(in) - 1; i++)
        assert_int_equal(dotstuff_chunk(&ds, in + i, 1, &out), 0);
    assert_int_equal(dotstuff_end(&ds, &out), 0);
    assert_int_equal(out.len, sizeof(want) - 1);
    assert_memory_equal(out.data, want, out.len);
    buf_free(&out);
}

static void test_dotstuff_end_variants(void **state)
{
    struct dotstuff ds;
    struct buf out;

    /* ends with CRLF: no extra line end */
    buf_init(&out, 1024);
    dotstuff_init(&ds);
    dotstuff_chunk(&ds, "a\r", 2, &out);
    dotstuff_chunk(&ds, "\n", 1, &out);
    dotstuff_end(&ds, &out);
    assert_string_equal(out.data, "a\r\n.\r\n");
    buf_free(&out);
    /* empty message */
    buf_init(&out, 1024);
    dotstuff_init(&ds);
    dotstuff_end(&ds, &out);
    assert_string_equal(out.data, ".\r\n");
    buf_free(&out);
    /* a full buffer is an error, not an overflow */
    buf_init(&out, 4);
    dotstuff_init(&ds);
    assert_int_equal(dotstuff_chunk(&ds, "hello world\r\n", 13, &out), -1);
    buf_free(&out);
}

static void test_mail_rcpt_params(void **state)
{
    struct msg_deliver d;
    struct smtp_ehlo e;
    struct buf b;

    memset(&d, 0, sizeof(d));
    d.mail_from = "a@src.test";
    d.envid = "id+1=x";
    d.ret = SPOOL_RET_HDRS;
    d.body_8bit = 1;
    memset(&e, 0, sizeof(e));
    buf_init(&b, 4096);
    /* nothing offered: plain commands */
    assert_int_equal(message_mail_cmd(&b, &d, &e, 1234), 0);
    assert_string_equal(b.data, "MAIL FROM:<a@src.test>\r\n");
    buf_reset(&b);
    assert_int_equal(message_rcpt_cmd(&b, "b@d.test", SPOOL_NOTIFY_FAILURE, "rfc822;b@d.test", &e), 0);
    assert_string_equal(b.data, "RCPT TO:<b@d.test>\r\n");
    /* SIZE, 8BITMIME and DSN offered */
    e.ext = SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_DSN;
    buf_reset(&b);
    assert_int_equal(message_mail_cmd(&b, &d, &e, 1234), 0);
    assert_string_equal(b.data, "MAIL FROM:<a@src.test> SIZE=1234 BODY=8BITMIME RET=HDRS ENVID=id+2B1+3Dx\r\n");
    buf_reset(&b);
    assert_int_equal(message_rcpt_cmd(&b, "b@d.test", SPOOL_NOTIFY_FAILURE | SPOOL_NOTIFY_DELAY,
                                      "rfc822;b@d.test", &e), 0);
    assert_string_equal(b.data, "RCPT TO:<b@d.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;b@d.test\r\n");
    buf_reset(&b);
    assert_int_equal(message_rcpt_cmd(&b, "c@d.test", SPOOL_NOTIFY_NEVER, NULL, &e), 0);
    assert_string_equal(b.data, "RCPT TO:<c@d.test> NOTIFY=NEVER\r\n");
    /* null sender, 7bit */
    d.mail_from = "";
    d.body_8bit = 0;
    d.ret = 0;
    d.envid = "";
    buf_reset(&b);
    assert_int_equal(message_mail_cmd(&b, &d, &e, 10), 0);
    assert_string_equal(b.data, "MAIL FROM:<> SIZE=10\r\n");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dotstuff_every_split),
        cmocka_unit_test(test_dotstuff_byte_by_byte),
        cmocka_unit_test(test_dotstuff_end_variants),
        cmocka_unit_test(test_mail_rcpt_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
