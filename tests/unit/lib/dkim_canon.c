/* Unit tests: DKIM canonicalization (lib/dkim_canon.c) against RFC 6376
 * §3.4.5's example and the tricky cases: empty bodies, trailing
 * whitespace and empty lines, missing final CRLF, lone CR, 8-bit bytes,
 * a CRLF split across chunks, very long lines; every input is also fed
 * one byte at a time and must hash the same. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include "dkim_canon.h"
#include "dkim_key.h"

static void sha256(const void *p, size_t n, unsigned char out[32])
{
    unsigned int len = 0;

    assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
}

/* body_hash - canonicalize in chunks of `chunk` bytes (0 = all at once). */
static void body_hash(enum dkim_canon c, const char *in, size_t n, size_t chunk,
                      unsigned char bh[32])
{
    struct dkim_body b;
    size_t off = 0;

    assert_int_equal(dkim_body_init(&b, c), 0);
    if (chunk == 0)
        chunk = n ? n : 1;
    while (off < n) {
        size_t k = n - off < chunk ? n - off : chunk;
        assert_int_equal(dkim_body_update(&b, in + off, k), 0);
        off += k;
    }
    assert_int_equal(dkim_body_final(&b, bh), 0);
}

/* expect_body - canonical form of in must be want, whatever the chunking. */
static void expect_body(enum dkim_canon c, const char *in, size_t n, const char *want,
                        size_t wlen)
{
    unsigned char got[32], exp[32];
    size_t chunks[] = { 0, 1, 2, 3, 7, 64 };
    size_t i;

    sha256(want, wlen, exp);
    for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        body_hash(c, in, n, chunks[i], got);
        if (memcmp(got, exp, 32) != 0)
            fail_msg("%s body of '%.*s' (chunk %zu) is not '%.*s'", dkim_canon_name(c), (int)n,
                     in, chunks[i], (int)wlen, want);
    }
}
#define BODY(c, in, want) expect_body(c, in, sizeof(in) - 1, want, sizeof(want) - 1)

static void test_rfc_example_body(void **state)
{
    /* RFC 6376 §3.4.5 */
    BODY(DKIM_CANON_RELAXED, " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n");
    BODY(DKIM_CANON_SIMPLE, " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n");
}

static void test_rfc_example_headers(void **state)
{
    struct buf b;

    buf_init(&b, 4096);
    assert_int_equal(dkim_canon_header(DKIM_CANON_RELAXED, "A: X\r\n", 6, 1, &b), 0);
    assert_int_equal(dkim_canon_header(DKIM_CANON_RELAXED, "B : Y\t\r\n\tZ  \r\n", 14, 1, &b), 0);
    assert_string_equal(b.data, "a:X\r\nb:Y Z\r\n");
    buf_reset(&b);
    assert_int_equal(dkim_canon_header(DKIM_CANON_SIMPLE, "A: X\r\n", 6, 1, &b), 0);
    assert_int_equal(dkim_canon_header(DKIM_CANON_SIMPLE, "B : Y\t\r\n\tZ  \r\n", 14, 1, &b), 0);
    assert_string_equal(b.data, "A: X\r\nB : Y\t\r\n\tZ  \r\n");
    buf_free(&b);
}

static void test_header_cases(void **state)
{
    struct buf b;

    buf_init(&b, 4096);
    /* No CRLF wanted (the DKIM-Signature itself), folded, value-less. */
    assert_int_equal(dkim_canon_header(DKIM_CANON_RELAXED, "Subject:  a \r\n  b\r\n", 19, 0, &b), 0);
    assert_string_equal(b.data, "subject:a b");
    buf_reset(&b);
    assert_int_equal(dkim_canon_header(DKIM_CANON_RELAXED, "X-Empty:   \r\n", 13, 1, &b), 0);
    assert_string_equal(b.data, "x-empty:\r\n");
    buf_reset(&b);
    assert_int_equal(dkim_canon_header(DKIM_CANON_SIMPLE, "Subject: x", 10, 1, &b), 0);
    assert_string_equal(b.data, "Subject: x\r\n");
    buf_reset(&b);
    /* 8-bit bytes pass unchanged. */
    assert_int_equal(dkim_canon_header(DKIM_CANON_RELAXED, "Subject: caf\xc3\xa9\r\n", 16, 1, &b), 0);
    assert_string_equal(b.data, "subject:caf\xc3\xa9\r\n");
    buf_reset(&b);
    assert_int_equal(dkim_canon_header(DKIM_CANON_RELAXED, "no colon\r\n", 10, 1, &b), -1);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_empty_bodies(void **state)
{
    unsigned char bh[32];
    char b64[64];

    BODY(DKIM_CANON_SIMPLE, "", "\r\n");
    BODY(DKIM_CANON_RELAXED, "", "");
    BODY(DKIM_CANON_SIMPLE, "\r\n\r\n\r\n", "\r\n");
    BODY(DKIM_CANON_RELAXED, "\r\n\r\n", "");
    BODY(DKIM_CANON_RELAXED, " \t\r\n  \r\n", "");
    /* The well-known bh= values of an empty body. */
    body_hash(DKIM_CANON_SIMPLE, "", 0, 0, bh);
    assert_int_equal(dkim_base64(bh, 32, b64, sizeof(b64)), 0);
    assert_string_equal(b64, "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
    body_hash(DKIM_CANON_RELAXED, "", 0, 0, bh);
    assert_int_equal(dkim_base64(bh, 32, b64, sizeof(b64)), 0);
    assert_string_equal(b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

static void test_trailing_whitespace_and_lines(void **state)
{
    BODY(DKIM_CANON_RELAXED, "a \t \r\nb\t\tc \r\n", "a\r\nb c\r\n");
    BODY(DKIM_CANON_SIMPLE, "a \t \r\nb\t\tc \r\n", "a \t \r\nb\t\tc \r\n");
    /* Empty lines in the middle stay; only trailing ones go. */
    BODY(DKIM_CANON_RELAXED, "a\r\n\r\n \r\nb\r\n\r\n \r\n", "a\r\n\r\n\r\nb\r\n");
    BODY(DKIM_CANON_SIMPLE, "a\r\n\r\n\r\nb\r\n\r\n", "a\r\n\r\n\r\nb\r\n");
    /* A whitespace-only last line is content for simple. */
    BODY(DKIM_CANON_SIMPLE, "a\r\n \r\n\r\n", "a\r\n \r\n");
    /* Leading whitespace is kept (as one SP when relaxed). */
    BODY(DKIM_CANON_RELAXED, "\t\t x\r\n", " x\r\n");
}

static void test_missing_final_crlf(void **state)
{
    BODY(DKIM_CANON_SIMPLE, "abc", "abc\r\n");
    BODY(DKIM_CANON_RELAXED, "abc  ", "abc\r\n");
    BODY(DKIM_CANON_RELAXED, "a\r\n\r\nb", "a\r\n\r\nb\r\n");
    BODY(DKIM_CANON_SIMPLE, "a\r\n\r\n ", "a\r\n\r\n \r\n");
}

static void test_lone_cr_lf_and_8bit(void **state)
{
    BODY(DKIM_CANON_RELAXED, "a\rb\r\n", "a\rb\r\n");
    BODY(DKIM_CANON_RELAXED, "a \r b\r\n", "a \r b\r\n");
    BODY(DKIM_CANON_SIMPLE, "a\nb\r\n", "a\nb\r\n");
    BODY(DKIM_CANON_SIMPLE, "x\r", "x\r\r\n");
    BODY(DKIM_CANON_RELAXED, "\xc3\xa9t\xc3\xa9  \xff\x80\r\n\x00z\r\n", "\xc3\xa9t\xc3\xa9 \xff\x80\r\n\x00z\r\n");
}

static void test_very_long_line(void **state)
{
    size_t n = 3 * 1024 * 1024, i, o = 0;
    char *in = malloc(n), *want = malloc(n);
    unsigned char got[32], exp[32];

    assert_non_null(in);
    assert_non_null(want);
    /* "xxxx   xxxx   ..." with no line end at all. */
    for (i = 0; i < n; i++)
        in[i] = (i % 7) < 4 ? 'x' : ' ';
    for (i = 0; i < n; i++) {
        if (in[i] == ' ' && (o > 0 && want[o - 1] == ' '))
            continue;
        want[o++] = in[i];
    }
    while (o > 0 && want[o - 1] == ' ')
        o--;
    want[o++] = '\r';
    want[o++] = '\n';
    sha256(want, o, exp);
    body_hash(DKIM_CANON_RELAXED, in, n, 4096, got);
    assert_memory_equal(got, exp, 32);
    body_hash(DKIM_CANON_RELAXED, in, n, 0, got);
    assert_memory_equal(got, exp, 32);
    free(in);
    free(want);
}

static void test_many_empty_lines(void **state)
{
    /* 100000 held-back empty lines, then content: all written. */
    size_t n = 100000 * 2 + 3, i;
    char *in = malloc(n), *want = malloc(n + 2);
    unsigned char got[32], exp[32];

    assert_non_null(in);
    for (i = 0; i < 100000; i++)
        memcpy(in + 2 * i, "\r\n", 2);
    memcpy(in + 200000, "end", 3);
    memcpy(want, in, n);
    memcpy(want + n, "\r\n", 2);
    sha256(want, n + 2, exp);
    body_hash(DKIM_CANON_SIMPLE, in, n, 1000, got);
    assert_memory_equal(got, exp, 32);
    free(in);
    free(want);
}

static void test_parse_names(void **state)
{
    assert_int_equal(dkim_canon_parse("relaxed", 7), DKIM_CANON_RELAXED);
    assert_int_equal(dkim_canon_parse("Simple", 6), DKIM_CANON_SIMPLE);
    assert_int_equal(dkim_canon_parse("relax", 5), -1);
    assert_string_equal(dkim_canon_name(DKIM_CANON_RELAXED), "relaxed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_example_body),
        cmocka_unit_test(test_rfc_example_headers),
        cmocka_unit_test(test_header_cases),
        cmocka_unit_test(test_empty_bodies),
        cmocka_unit_test(test_trailing_whitespace_and_lines),
        cmocka_unit_test(test_missing_final_crlf),
        cmocka_unit_test(test_lone_cr_lf_and_8bit),
        cmocka_unit_test(test_very_long_line),
        cmocka_unit_test(test_many_empty_lines),
        cmocka_unit_test(test_parse_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
