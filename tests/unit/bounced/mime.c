/*
 * Unit tests for bounced/mime.c: header unfolding, LF vs CRLF, nested
 * multiparts, base64 and quoted-printable bodies, truncated input, the
 * nesting limit, parameters and encoded-words.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../../bounced/mime.h"

/* to_crlf - the same message with CRLF line ends */
static char *to_crlf(const char *s)
{
    char *out = malloc(strlen(s) * 2 + 1), *o = out;

    assert_non_null(out);
    for (; *s; s++) {
        if (*s == '\n')
            *o++ = '\r';
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

static const char nested[] =
    "From: MAILER-DAEMON@example.org\n"
    "Subject: Undelivered\n"
    "  Mail\n"
    "Content-Type: multipart/report; report-type=delivery-status;\n"
    "\tboundary=\"OUTER\"\n"
    "\n"
    "preamble text\n"
    "--OUTER\n"
    "Content-Type: multipart/alternative; boundary=INNER\n"
    "\n"
    "--INNER\n"
    "Content-Type: text/plain\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "VXNlciB1bmtub3du\n"
    "--INNER\n"
    "Content-Type: text/html\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "<p>caf=C3=A9 =\n"
    "soft</p>\n"
    "--INNER--\n"
    "--OUTER\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Final-Recipient: rfc822; a@example.net\n"
    "--OUTER\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Message-ID: <orig@example.com>\n"
    "\n"
    "body\n"
    "--OUTER--\n"
    "epilogue\n";

static void check_nested(struct mime_part *root)
{
    struct mime_part *alt, *txt, *html, *ds, *msg;

    assert_non_null(root);
    assert_string_equal(root->ctype, "multipart/report");
    assert_string_equal(mime_header(root, "subject"), "Undelivered Mail");
    assert_non_null(strstr(root->body, "preamble text"));
    alt = root->child;
    assert_non_null(alt);
    assert_string_equal(alt->ctype, "multipart/alternative");
    txt = alt->child;
    assert_non_null(txt);
    assert_string_equal(txt->body, "User unknown");
    html = txt->next;
    assert_non_null(html);
    assert_string_equal(html->body, "<p>caf\xc3\xa9 soft</p>");
    ds = alt->next;
    assert_non_null(ds);
    assert_string_equal(ds->ctype, "message/delivery-status");
    assert_string_equal(ds->body, "Final-Recipient: rfc822; a@example.net");
    msg = ds->next;
    assert_non_null(msg);
    assert_string_equal(msg->ctype, "message/rfc822");
    assert_non_null(msg->child);
    assert_string_equal(mime_header(msg->child, "Message-ID"), "<orig@example.com>");
    assert_string_equal(msg->child->body, "body");
    assert_null(msg->next);
    assert_ptr_equal(msg->child->parent, msg);
}

static void test_nested_lf(void **state)
{
    struct mime_part *root = mime_parse(nested, strlen(nested));

    check_nested(root);
    mime_free(root);
}

static void test_nested_crlf(void **state)
{
    char *crlf = to_crlf(nested);
    struct mime_part *root = mime_parse(crlf, strlen(crlf));

    check_nested(root);
    mime_free(root);
    free(crlf);
}

/* every prefix of the message parses without crashing; the partial last
 * part is kept */
static void test_truncated(void **state)
{
    size_t n;
    struct mime_part *root;
    const char *cut = strstr(nested, "Final-Recipient");

    for (n = 0; n <= strlen(nested); n++) {
        root = mime_parse(nested, n);
        assert_non_null(root);
        mime_free(root);
    }
    root = mime_parse(nested, (size_t)(cut - nested) + 20);
    assert_non_null(root->child);
    assert_non_null(root->child->next);
    assert_string_equal(root->child->next->ctype, "message/delivery-status");
    assert_string_equal(root->child->next->body, "Final-Recipient: rfc");
    mime_free(root);
}

static void test_depth_limit(void **state)
{
    char *msg = malloc(64 * 1024), *p = msg;
    struct mime_part *root, *q;
    int i, depth = 0;

    assert_non_null(msg);
    for (i = 0; i < 100; i++)
        p += sprintf(p, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
    p += sprintf(p, "Content-Type: text/plain\n\ndeep\n");
    root = mime_parse(msg, (size_t)(p - msg));
    assert_non_null(root);
    for (q = root; q->child; q = q->child)
        depth++;
    assert_true(depth <= MIME_MAX_DEPTH);
    mime_free(root);
    free(msg);
}

/* a chain of attached messages, each with a large body: parsed to the
 * depth limit, with the copies bounded by the byte budget */
static void test_rfc822_chain(void **state)
{
    size_t big = 200 * 1024, n = 0;
    char *msg = malloc(big + 64 * 1024), *p = msg;
    struct mime_part *root, *q;
    int i;

    assert_non_null(msg);
    for (i = 0; i < 60; i++)
        p += sprintf(p, "Content-Type: message/rfc822\n\n");
    p += sprintf(p, "Subject: leaf\n\n");
    memset(p, 'x', big);
    p += big;
    root = mime_parse(msg, (size_t)(p - msg));
    assert_non_null(root);
    for (q = root; q; q = q->child)
        n += q->blen;
    assert_true(n <= 4 * (size_t)(p - msg) + 65536);
    mime_free(root);
    free(msg);
}

static void test_no_mime(void **state)
{
    static const char m[] = "From MAILER-DAEMON Thu Apr 29 2010\nFrom: x@y.z\nSubject: t\n\nHi.\nbye\n";
    static const char nohdr[] = "just text\nmore\n";
    struct mime_part *root = mime_parse(m, strlen(m));

    assert_string_equal(root->ctype, "text/plain");
    assert_string_equal(mime_header(root, "From"), "x@y.z");
    assert_string_equal(root->body, "Hi.\nbye\n");
    mime_free(root);
    root = mime_parse(nohdr, strlen(nohdr));
    assert_int_equal(root->nhdrs, 0);
    assert_string_equal(root->body, "just text\nmore\n");
    mime_free(root);
    root = mime_parse("", 0);
    assert_non_null(root);
    mime_free(root);
}

static void test_boundary_missing(void **state)
{
    static const char m[] = "Content-Type: multipart/report; boundary=\"nowhere\"\n\n"
                            "Final-Recipient: rfc822; a@b.c\nAction: failed\n";
    struct mime_part *root = mime_parse(m, strlen(m));

    assert_null(root->child);
    assert_non_null(strstr(root->body, "Final-Recipient"));   /* kept as text */
    mime_free(root);
}

static void test_lost_fold_indent(void **state)
{
    static const char m[] = "Content-Type: multipart/alternative;\nboundary=\"B\"\n\n--B\n\nx\n--B--\n";
    struct mime_part *root = mime_parse(m, strlen(m));

    assert_non_null(root->child);
    assert_string_equal(root->child->body, "x");
    mime_free(root);
}

static void test_helpers(void **state)
{
    char out[128];

    assert_int_equal(mime_param("text/plain; charset=\"a\\\"b\"; x=1", "charset", out, sizeof(out)), 0);
    assert_string_equal(out, "a\"b");
    assert_int_equal(mime_param("text/plain; X = y", "x", out, sizeof(out)), 0);
    assert_string_equal(out, "y");
    assert_int_equal(mime_param("text/plain", "x", out, sizeof(out)), -1);
    assert_int_equal(mime_base64_decode("aGVs\nbG8=", 9, out), 5);
    assert_string_equal(out, "hello");
    assert_int_equal(mime_qp_decode("a=3Db=\nc=ZZ", 11, out), 7);
    assert_string_equal(out, "a=bc=ZZ");
    mime_decode_words("=?UTF-8?B?T3V0IG9m?= =?iso-8859-1?Q?_Office?= x", out, sizeof(out));
    assert_string_equal(out, "Out of Office x");
    mime_decode_words("=?broken", out, sizeof(out));
    assert_string_equal(out, "=?broken");
    mime_decode_words("0123456789", out, 5);
    assert_string_equal(out, "0123");
}

static void test_nul_and_binary(void **state)
{
    static const char m[] = "Subject: a\0b\n\nbody\0\xff\xfe";
    struct mime_part *root = mime_parse(m, sizeof(m) - 1);

    assert_non_null(root);
    assert_string_equal(mime_header(root, "Subject"), "a b");
    assert_int_equal(root->blen, 7);
    mime_free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_lf),
        cmocka_unit_test(test_nested_crlf),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_rfc822_chain),
        cmocka_unit_test(test_no_mime),
        cmocka_unit_test(test_boundary_missing),
        cmocka_unit_test(test_lost_fold_indent),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_nul_and_binary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
