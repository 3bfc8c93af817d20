/* Unit tests: the resumable SMTP reply parser and EHLO keywords
 * (lib/smtp_reply.c).  Replies split at every byte must parse the same;
 * overlong lines, too many lines and garbage must be refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "smtp_reply.h"

/* Feed s in pieces of step bytes; returns the feed result of the last
 * call and the total bytes consumed in *used_total. */
static int feed_steps(struct smtp_reply_parser *p, const char *s, size_t len, size_t step,
                      size_t *used_total)
{
    size_t off = 0, used;
    int r = 0;

    *used_total = 0;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        r = smtp_reply_feed(p, s + off, n, &used);
        *used_total += used;
        if (r != 0)
            return r;
        off += n;
    }
    return r;
}

static void test_single_line(void **state)
{
    struct smtp_reply_parser p;
    size_t used;

    smtp_reply_init(&p);
    assert_int_equal(smtp_reply_feed(&p, "250 2.0.0 Ok\r\n", 14, &used), 1);
    assert_int_equal(used, 14);
    assert_int_equal(p.r.code, 250);
    assert_string_equal(p.r.text, "2.0.0 Ok");
    assert_int_equal(p.r.nlines, 1);
    smtp_reply_reset(&p);
    /* a bare code, and a bare LF line end */
    assert_int_equal(smtp_reply_feed(&p, "354\n", 4, &used), 1);
    assert_int_equal(p.r.code, 354);
    assert_string_equal(p.r.text, "");
    smtp_reply_free(&p);
}

static const char ehlo[] =
    "250-mx.example.com Hello\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 10240000\r\n"
    "250-8BITMIME\r\n"
    "250-dsn\r\n"
    "250-AUTH=LOGIN PLAIN\r\n"
    "250-bad_keyword\r\n"
    "250 ENHANCEDSTATUSCODES\r\n"
    "221 next reply\r\n";

static void check_ehlo(struct smtp_reply_parser *p)
{
    struct smtp_ehlo e;

    assert_int_equal(p->r.code, 250);
    assert_int_equal(p->r.nlines, 8);
    assert_string_equal(smtp_reply_line(&p->r, 0), "mx.example.com Hello");
    assert_string_equal(smtp_reply_line(&p->r, 2), "SIZE 10240000");
    assert_string_equal(smtp_reply_line(&p->r, 99), "");
    assert_string_equal(p->r.text, "mx.example.com Hello PIPELINING SIZE 10240000 8BITMIME dsn "
                                   "AUTH=LOGIN PLAIN bad_keyword ENHANCEDSTATUSCODES");
    smtp_ehlo_parse(&p->r, &e);
    assert_true(e.ext & SMTP_EXT_PIPELINING);
    assert_true(e.ext & SMTP_EXT_SIZE);
    assert_true(e.ext & SMTP_EXT_8BITMIME);
    assert_true(e.ext & SMTP_EXT_DSN);
    assert_true(e.ext & SMTP_EXT_ENHANCEDSTATUSCODES);
    assert_false(e.ext & SMTP_EXT_STARTTLS);
    assert_false(e.ext & SMTP_EXT_CHUNKING);
    assert_true(e.size_max == 10240000);
    assert_string_equal(e.keywords, "PIPELINING,SIZE,8BITMIME,DSN,AUTH,ENHANCEDSTATUSCODES");
}

static void test_multiline_every_split(void **state)
{
    struct smtp_reply_parser p;
    size_t step, used, first_len = strlen(ehlo) - strlen("221 next reply\r\n");

    for (step = 1; step <= strlen(ehlo); step++) {
        smtp_reply_init(&p);
        assert_int_equal(feed_steps(&p, ehlo, strlen(ehlo), step, &used), 1);
        assert_int_equal(used, first_len);  /* the next reply is left alone */
        check_ehlo(&p);
        /* the rest is the next reply */
        smtp_reply_reset(&p);
        assert_int_equal(smtp_reply_feed(&p, ehlo + used, strlen(ehlo) - used, &used), 1);
        assert_int_equal(p.r.code, 221);
        assert_string_equal(p.r.text, "next reply");
        smtp_reply_free(&p);
    }
}

static void test_pipelined_replies(void **state)
{
    const char s[] = "250 2.1.0 Ok\r\n550 5.1.1 No such user\r\n250 2.1.5 Ok\r\n354 go\r\n";
    struct smtp_reply_parser p;
    const int codes[] = { 250, 550, 250, 354 };
    size_t off = 0, used;
    int i;

    smtp_reply_init(&p);
    for (i = 0; i < 4; i++) {
        assert_int_equal(smtp_reply_feed(&p, s + off, strlen(s) - off, &used), 1);
        assert_int_equal(p.r.code, codes[i]);
        off += used;
        smtp_reply_reset(&p);
    }
    assert_int_equal(off, strlen(s));
    assert_int_equal(smtp_reply_feed(&p, "", 0, &used), 0);
    smtp_reply_free(&p);
}

static void test_garbage(void **state)
{
    static const char *const bad[] = {
        "HTTP/1.0 200 OK\r\n", "25\r\n", "2500 x\r\n", "250x\r\n", "650 no\r\n",
        "150 no\r\n", "\r\n", "250-a\r\n251 b\r\n", "abc", /* 3rd case: no line end */
    };
    struct smtp_reply_parser p;
    size_t i, used;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]) - 1; i++) {
        smtp_reply_init(&p);
        assert_int_equal(smtp_reply_feed(&p, bad[i], strlen(bad[i]), &used), -1);
        /* stays failed */
        assert_int_equal(smtp_reply_feed(&p, "250 ok\r\n", 8, &used), -1);
        smtp_reply_free(&p);
    }
    smtp_reply_init(&p);
    assert_int_equal(smtp_reply_feed(&p, "abc", 3, &used), 0);   /* incomplete line */
    assert_int_equal(smtp_reply_feed(&p, "\r\n", 2, &used), -1);
    smtp_reply_free(&p);
}

static void test_control_bytes_escaped(void **state)
{
    const char s[] = "550 bad\x01text\x7f\0x\r\n";
    struct smtp_reply_parser p;
    size_t used;

    smtp_reply_init(&p);
    assert_int_equal(smtp_reply_feed(&p, s, sizeof(s) - 1, &used), 1);
    assert_string_equal(p.r.text, "bad?text??x");
    smtp_reply_free(&p);
}

static void test_overlong_line(void **state)
{
    struct smtp_reply_parser p;
    char *s = malloc(SMTP_REPLY_LINE_MAX + 16);
    size_t used;

    /* exactly at the limit: accepted */
    memset(s, 'a', SMTP_REPLY_LINE_MAX + 16);
    memcpy(s, "250 ", 4);
    memcpy(s + SMTP_REPLY_LINE_MAX, "\r\n", 2);
    smtp_reply_init(&p);
    assert_int_equal(smtp_reply_feed(&p, s, SMTP_REPLY_LINE_MAX + 2, &used), 1);
    assert_int_equal(strlen(p.r.text), SMTP_REPLY_LINE_MAX - 4);
    smtp_reply_free(&p);
    /* one byte more: refused, even when fed byte by byte */
    memset(s, 'a', SMTP_REPLY_LINE_MAX + 16);
    memcpy(s, "250 ", 4);
    memcpy(s + SMTP_REPLY_LINE_MAX + 1, "\r\n", 2);
    smtp_reply_init(&p);
    assert_int_equal(feed_steps(&p, s, SMTP_REPLY_LINE_MAX + 3, 1, &used), -1);
    smtp_reply_free(&p);
    free(s);
}

static void test_too_many_lines(void **state)
{
    struct smtp_reply_parser p;
    char line[32];
    size_t i, used;
    int r = 0;

    smtp_reply_init(&p);
    for (i = 0; i < SMTP_REPLY_LINES_MAX; i++) {
        snprintf(line, sizeof(line), "250-line %zu\r\n", i);
        r = smtp_reply_feed(&p, line, strlen(line), &used);
        assert_int_equal(r, 0);
    }
    assert_int_equal(smtp_reply_feed(&p, "250 last\r\n", 10, &used), -1);
    smtp_reply_free(&p);
    /* 64 lines including the last one are fine */
    smtp_reply_init(&p);
    for (i = 0; i < SMTP_REPLY_LINES_MAX - 1; i++) {
        snprintf(line, sizeof(line), "250-line %zu\r\n", i);
        assert_int_equal(smtp_reply_feed(&p, line, strlen(line), &used), 0);
    }
    assert_int_equal(smtp_reply_feed(&p, "250 last\r\n", 10, &used), 1);
    assert_int_equal(p.r.nlines, SMTP_REPLY_LINES_MAX);
    smtp_reply_free(&p);
}

static void test_ehlo_not_250(void **state)
{
    struct smtp_reply_parser p;
    struct smtp_ehlo e;
    size_t used;

    smtp_reply_init(&p);
    assert_int_equal(smtp_reply_feed(&p, "502-x\r\n502 PIPELINING\r\n", 23, &used), 1);
    smtp_ehlo_parse(&p.r, &e);
    assert_int_equal(e.ext, 0);
    assert_string_equal(e.keywords, "");
    smtp_reply_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_line),
        cmocka_unit_test(test_multiline_every_split),
        cmocka_unit_test(test_pipelined_replies),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_control_bytes_escaped),
        cmocka_unit_test(test_overlong_line),
        cmocka_unit_test(test_too_many_lines),
        cmocka_unit_test(test_ehlo_not_250),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
