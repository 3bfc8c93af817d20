/* Unit tests: smtpd's command line reader, verb recognition, MAIL/RCPT
 * argument parsing and xtext decoding (smtpd/command.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "../../../smtpd/command.h"
#include "spool.h"

/* feed - run all of s through a reader in pieces of `step` bytes (0 =
 * random sizes), collecting each result and line. */
struct fed {
    int results[32];
    char lines[32][CMD_TEXT_MAX + 1];
    int n;
};

static void feed(const char *s, size_t len, size_t step, struct fed *out)
{
    struct cmd_reader rd;
    size_t off = 0;

    memset(out, 0, sizeof(*out));
    cmd_reader_init(&rd);
    while (off < len) {
        size_t chunk = step ? step : 1 + (size_t)rand() % 7;
        size_t pos = 0, used;

        if (chunk > len - off)
            chunk = len - off;
        while (pos < chunk) {
            enum cmd_read_result r = cmd_read(&rd, s + off + pos, chunk - pos, &used);

            pos += used;
            if (r != CMD_MORE && out->n < 32) {
                out->results[out->n] = r;
                snprintf(out->lines[out->n], sizeof(out->lines[0]), "%s", rd.line);
                out->n++;
            }
        }
        off += chunk;
    }
}

static void test_reader_lines(void **state)
{
    static const char in[] = "EHLO a\r\nMAIL FROM:<x@y>\r\n\r\nQUIT\r\n";
    size_t steps[] = { 1, 2, 3, 5, 100, 0, 0, 0 };
    struct fed f;
    size_t i;

    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        feed(in, sizeof(in) - 1, steps[i], &f);
        assert_int_equal(f.n, 4);
        assert_int_equal(f.results[0], CMD_LINE);
        assert_string_equal(f.lines[0], "EHLO a");
        assert_string_equal(f.lines[1], "MAIL FROM:<x@y>");
        assert_string_equal(f.lines[2], "");
        assert_string_equal(f.lines[3], "QUIT");
    }
}

static void test_reader_bad_eol(void **state)
{
    struct fed f;
    static const char in[] = "NOOP\nNOOP\rX\r\nNOOP\r\r\nNOOP\r\n";

    feed(in, sizeof(in) - 1, 1, &f);
    assert_int_equal(f.n, 4);
    assert_int_equal(f.results[0], CMD_BAD_EOL);
    assert_int_equal(f.results[1], CMD_BAD_EOL);
    assert_int_equal(f.results[2], CMD_BAD_EOL);
    assert_int_equal(f.results[3], CMD_LINE);
    assert_string_equal(f.lines[3], "NOOP");
}

static void test_reader_nul(void **state)
{
    struct fed f;
    static const char in[] = "NO\0OP\r\nNOOP\r\n";

    feed(in, sizeof(in) - 1, 0, &f);
    assert_int_equal(f.n, 2);
    assert_int_equal(f.results[0], CMD_BAD_CHAR);
    assert_int_equal(f.results[1], CMD_LINE);
}

static void test_reader_length(void **state)
{
    char in[2048];
    struct fed f;

    /* exactly 512 octets incl. CRLF: accepted */
    memset(in, 'x', 510);
    memcpy(in + 510, "\r\n", 2);
    feed(in, 512, 0, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.results[0], CMD_LINE);
    assert_int_equal(strlen(f.lines[0]), 510);
    /* 513: refused, and the next line is still read correctly */
    memset(in, 'x', 511);
    memcpy(in + 511, "\r\nQUIT\r\n", 8);
    feed(in, 519, 0, &f);
    assert_int_equal(f.n, 2);
    assert_int_equal(f.results[0], CMD_TOO_LONG);
    assert_int_equal(f.results[1], CMD_LINE);
    assert_string_equal(f.lines[1], "QUIT");
    /* very long, fed byte by byte */
    memset(in, 'y', 2000);
    memcpy(in + 2000, "\r\n", 2);
    feed(in, 2002, 1, &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.results[0], CMD_TOO_LONG);
}

static void test_verbs(void **state)
{
    const char *arg;

    assert_int_equal(cmd_verb_parse("ehlo foo.bar", &arg), VERB_EHLO);
    assert_string_equal(arg, "foo.bar");
    assert_int_equal(cmd_verb_parse("MAIL FROM:<>", &arg), VERB_MAIL);
    assert_string_equal(arg, "FROM:<>");
    assert_int_equal(cmd_verb_parse("QUIT", &arg), VERB_QUIT);
    assert_string_equal(arg, "");
    assert_int_equal(cmd_verb_parse("rSeT", &arg), VERB_RSET);
    assert_int_equal(cmd_verb_parse("DATAX", &arg), VERB_UNKNOWN);
    assert_int_equal(cmd_verb_parse("", &arg), VERB_UNKNOWN);
    assert_int_equal(cmd_verb_parse(" MAIL", &arg), VERB_UNKNOWN);
    assert_int_equal(cmd_verb_parse("STARTTLS", &arg), VERB_STARTTLS);
    assert_int_equal(cmd_verb_parse("BDAT 100 LAST", &arg), VERB_BDAT);
}

static void test_mail_ok(void **state)
{
    struct mail_args m;

    assert_int_equal(cmd_parse_mail("FROM:<a@b.example>", &m), ARG_OK);
    assert_string_equal(m.addr, "a@b.example");
    assert_int_equal(m.has_size, 0);
    assert_int_equal(cmd_parse_mail("from:<>", &m), ARG_OK);
    assert_string_equal(m.addr, "");
    assert_int_equal(cmd_parse_mail("FROM: <a@b>", &m), ARG_OK);
    assert_int_equal(cmd_parse_mail("FROM:<@r1,@r2:a@b.c>", &m), ARG_OK);
    assert_string_equal(m.addr, "a@b.c");
    assert_int_equal(cmd_parse_mail("FROM:<\"john doe\"@b.c>", &m), ARG_OK);
    assert_string_equal(m.addr, "\"john doe\"@b.c");
    assert_int_equal(cmd_parse_mail("FROM:<a@[192.0.2.1]>", &m), ARG_OK);
    assert_int_equal(cmd_parse_mail(
        "FROM:<a@b.c> SIZE=12345 BODY=8BITMIME RET=HDRS ENVID=QQ+2B1+3D", &m), ARG_OK);
    assert_int_equal(m.has_size, 1);
    assert_true(m.size == 12345);
    assert_int_equal(m.body_8bit, 1);
    assert_int_equal(m.ret, SPOOL_RET_HDRS);
    assert_string_equal(m.envid, "QQ+1=");
    assert_int_equal(cmd_parse_mail("FROM:<a@b.c>  body=7bit  ret=full", &m), ARG_OK);
    assert_int_equal(m.body_8bit, 0);
    assert_int_equal(m.ret, SPOOL_RET_FULL);
}

static void test_mail_bad(void **state)
{
    struct mail_args m;
    char big[600];

    assert_int_equal(cmd_parse_mail("FROM:a@b.c", &m), ARG_BAD_ADDR);
    assert_int_equal(cmd_parse_mail("TO:<a@b.c>", &m), ARG_SYNTAX);
    assert_int_equal(cmd_parse_mail("FROM:<a b@c>", &m), ARG_BAD_ADDR);
    assert_int_equal(cmd_parse_mail("FROM:<a@b.c", &m), ARG_BAD_ADDR);
    assert_int_equal(cmd_parse_mail("FROM:<a@>", &m), ARG_BAD_ADDR);
    assert_int_equal(cmd_parse_mail("FROM:<a@.b>", &m), ARG_BAD_ADDR);
    assert_int_equal(cmd_parse_mail("FROM:<abc>", &m), ARG_BAD_ADDR);
    assert_int_equal(cmd_parse_mail("FROM:<\"unterminated@b.c>", &m), ARG_BAD_ADDR);
    assert_int_equal(cmd_parse_mail("FROM:<a@b.c>x", &m), ARG_BAD_ADDR);
    assert_int_equal(cmd_parse_mail("FROM:<a@b.c> SIZE=", &m), ARG_SYNTAX);
    assert_int_equal(cmd_parse_mail("FROM:<a@b.c> SIZE=12x", &m), ARG_SYNTAX);
    assert_int_equal(cmd_parse_mail("FROM:<a@b.c> SIZE=99999999999999999999999", &m), ARG_SYNTAX);
    assert_int_equal(cmd_parse_mail("FROM:<a@b.c> SIZE=1 SIZE=2", &m), ARG_SYNTAX);
    assert_int_equal(cmd_parse_mail("FROM:<a@b.c> BODY=BINARYMIME", &m), ARG_SYNTAX);
    assert_int_equal(cmd_parse_mail("FROM:<a@b.c> RET=ALL", &m), ARG_SYNTAX);
    assert_int_equal(cmd_parse_mail("FROM:<a@b.c> ENVID=a+zz", &m), ARG_SYNTAX);
    assert_int_equal(cmd_parse_mail("FROM:<a@b.c> ENVID=a+0D", &m), ARG_SYNTAX);
    assert_int_equal(cmd_parse_mail("FROM:<a@b.c> AUTH=<>", &m), ARG_UNKNOWN_PARAM);
    assert_int_equal(cmd_parse_mail("FROM:<a@b.c> SMTPUTF8", &m), ARG_UNKNOWN_PARAM);
    assert_int_equal(cmd_parse_mail("FROM:<a@b.c> =x", &m), ARG_SYNTAX);
    /* path longer than 256 */
    memcpy(big, "FROM:<", 6);
    memset(big + 6, 'a', 300);
    memcpy(big + 306, "@b.c>", 6);
    assert_int_equal(cmd_parse_mail(big, &m), ARG_BAD_ADDR);
    /* ENVID longer than 100 */
    memcpy(big, "FROM:<a@b> ENVID=", 17);
    memset(big + 17, 'e', 101);
    big[118] = '\0';
    assert_int_equal(cmd_parse_mail(big, &m), ARG_SYNTAX);
    /* 8-bit in an address: no SMTPUTF8 */
    assert_int_equal(cmd_parse_mail("FROM:<\xc3\xa9@b.c>", &m), ARG_BAD_ADDR);
}

static void test_rcpt(void **state)
{
    struct rcpt_args r;

    assert_int_equal(cmd_parse_rcpt("TO:<x@y.z>", &r), ARG_OK);
    assert_string_equal(r.addr, "x@y.z");
    assert_int_equal(r.notify, 0);
    assert_string_equal(r.orcpt, "");
    assert_int_equal(cmd_parse_rcpt("to:<Postmaster>", &r), ARG_OK);
    assert_string_equal(r.addr, "Postmaster");
    assert_int_equal(cmd_parse_rcpt("TO:<x@y.z> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+2Bb@c", &r),
                     ARG_OK);
    assert_int_equal(r.notify, SPOOL_NOTIFY_SUCCESS | SPOOL_NOTIFY_DELAY);
    assert_string_equal(r.orcpt, "rfc822;a+b@c");
    assert_int_equal(cmd_parse_rcpt("TO:<x@y.z> NOTIFY=never", &r), ARG_OK);
    assert_int_equal(r.notify, SPOOL_NOTIFY_NEVER);

    assert_int_equal(cmd_parse_rcpt("TO:<>", &r), ARG_BAD_ADDR);
    assert_int_equal(cmd_parse_rcpt("TO:<user>", &r), ARG_BAD_ADDR);
    assert_int_equal(cmd_parse_rcpt("FROM:<x@y.z>", &r), ARG_SYNTAX);
    assert_int_equal(cmd_parse_rcpt("TO:<x@y.z> NOTIFY=NEVER,SUCCESS", &r), ARG_SYNTAX);
    assert_int_equal(cmd_parse_rcpt("TO:<x@y.z> NOTIFY=SUCCESS,", &r), ARG_SYNTAX);
    assert_int_equal(cmd_parse_rcpt("TO:<x@y.z> NOTIFY=SUCCESS,SUCCESS", &r), ARG_SYNTAX);
    assert_int_equal(cmd_parse_rcpt("TO:<x@y.z> NOTIFY=", &r), ARG_SYNTAX);
    assert_int_equal(cmd_parse_rcpt("TO:<x@y.z> NOTIFY=BOUNCE", &r), ARG_SYNTAX);
    assert_int_equal(cmd_parse_rcpt("TO:<x@y.z> ORCPT=rfc822", &r), ARG_SYNTAX);
    assert_int_equal(cmd_parse_rcpt("TO:<x@y.z> ORCPT=;a@b", &r), ARG_SYNTAX);
    assert_int_equal(cmd_parse_rcpt("TO:<x@y.z> ORCPT=rfc822;", &r), ARG_SYNTAX);
    assert_int_equal(cmd_parse_rcpt("TO:<x@y.z> ORCPT=rfc822;a+0Ab", &r), ARG_SYNTAX);
    assert_int_equal(cmd_parse_rcpt("TO:<x@y.z> FOO=BAR", &r), ARG_UNKNOWN_PARAM);
}

static void test_xtext(void **state)
{
    char out[16];

    assert_int_equal(cmd_xtext_decode("abc", 3, out, sizeof(out)), 0);
    assert_string_equal(out, "abc");
    assert_int_equal(cmd_xtext_decode("a+2Bb+3D", 8, out, sizeof(out)), 0);
    assert_string_equal(out, "a+b=");
    assert_int_equal(cmd_xtext_decode("", 0, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(cmd_xtext_decode("a+2b", 4, out, sizeof(out)), -1);   /* lower hex */
    assert_int_equal(cmd_xtext_decode("a+2", 3, out, sizeof(out)), -1);    /* truncated */
    assert_int_equal(cmd_xtext_decode("a+", 2, out, sizeof(out)), -1);
    assert_int_equal(cmd_xtext_decode("a=b", 3, out, sizeof(out)), -1);
    assert_int_equal(cmd_xtext_decode("a b", 3, out, sizeof(out)), -1);
    assert_int_equal(cmd_xtext_decode("a+00", 4, out, sizeof(out)), -1);   /* NUL */
    assert_int_equal(cmd_xtext_decode("0123456789abcdef", 16, out, sizeof(out)), -1);
    assert_int_equal(cmd_xtext_decode("0123456789abcde", 15, out, sizeof(out)), 0);
}

static void test_helo_domain(void **state)
{
    assert_true(cmd_helo_ok("mail.example.com"));
    assert_true(cmd_helo_ok("[192.0.2.1]"));
    assert_false(cmd_helo_ok(""));
    assert_false(cmd_helo_ok("a b"));
    assert_false(cmd_helo_ok("a\x01"));
    assert_string_equal(cmd_addr_domain("a@b.c"), "b.c");
    assert_string_equal(cmd_addr_domain("\"a@x\"@b.c"), "b.c");
    assert_string_equal(cmd_addr_domain("postmaster"), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_lines),
        cmocka_unit_test(test_reader_bad_eol),
        cmocka_unit_test(test_reader_nul),
        cmocka_unit_test(test_reader_length),
        cmocka_unit_test(test_verbs),
        cmocka_unit_test(test_mail_ok),
        cmocka_unit_test(test_mail_bad),
        cmocka_unit_test(test_rcpt),
        cmocka_unit_test(test_xtext),
        cmocka_unit_test(test_helo_domain),
    };

    srand(12345);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
