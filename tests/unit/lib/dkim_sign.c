/* Unit tests: DKIM-Signature construction (lib/dkim_sign.c): header
 * parsing and its bounds, identity addresses, h= with over-signing and
 * bottom-up instances, folding below 78 columns, the header-hash input,
 * dkimsign's input check, and the IPC codec (lib/dkim_proto.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dkim_proto.h"
#include "dkim_sign.h"

static struct dkim_headers h;

static const char msg1[] =
    "Received: from x\r\n"
    "From: \"Doe, John\" <john@Mail.Example.COM>\r\n"
    "To: a@example.org,\r\n"
    "  b@example.org\r\n"
    "Subject: first\r\n"
    "Subject:  second\r\n"
    "X-Other: 1\r\n"
    "\r\n"
    "body\r\n";

static void test_headers_parse(void **state)
{
    char err[256];

    assert_int_equal(dkim_headers_parse(msg1, strlen(msg1), &h, err, sizeof(err)), 0);
    assert_int_equal(h.n, 6);
    assert_int_equal(h.body_off, strlen(msg1) - 6);
    assert_int_equal(h.f[2].len, strlen("To: a@example.org,\r\n  b@example.org\r\n"));
    assert_int_equal(dkim_headers_count(&h, "SUBJECT"), 2);
    assert_non_null(dkim_headers_find(&h, "x-other"));
    /* No empty line: all header, empty body. */
    assert_int_equal(dkim_headers_parse("A: b\r\n", 6, &h, err, sizeof(err)), 0);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.body_off, 6);
    assert_int_equal(dkim_headers_parse(" cont\r\n", 7, &h, err, sizeof(err)), -1);
    assert_int_equal(dkim_headers_parse("no colon here\r\n\r\n", 17, &h, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no field name"));
}

static void test_headers_bounds(void **state)
{
    size_t n = (DKIM_HEADERS_MAX + 1) * 6, i;
    char *m = malloc(n + 2), err[256];

    for (i = 0; i <= DKIM_HEADERS_MAX; i++)
        memcpy(m + i * 6, "X: y\r\n", 6);
    memcpy(m + n, "\r\n", 2);
    assert_int_equal(dkim_headers_parse(m, n + 2, &h, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "more than 1000"));
    free(m);
    m = malloc(DKIM_HEADER_BYTES + 100);
    memcpy(m, "X: ", 3);
    memset(m + 3, 'a', DKIM_HEADER_BYTES + 90);
    assert_int_equal(dkim_headers_parse(m, DKIM_HEADER_BYTES + 93, &h, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "larger than"));
    free(m);
}

static void expect_domain(const char *v, const char *want)
{
    char d[256];
    int rc = dkim_address_domain(v, strlen(v), d, sizeof(d));

    if (want == NULL) {
        if (rc == 0)
            fail_msg("'%s' gave '%s', expected failure", v, d);
        return;
    }
    if (rc != 0 || strcmp(d, want) != 0)
        fail_msg("'%s' gave %s, expected '%s'", v, rc ? "failure" : d, want);
}

static void test_address_domain(void **state)
{
    expect_domain(" john@Example.COM", "example.com");
    expect_domain(" John Doe <john@example.com>", "example.com");
    expect_domain(" \"Doe, <x@evil.com>\" <john@good.com>", "good.com");
    expect_domain(" john@good.com (from x@evil.com)", "good.com");
    expect_domain(" (x@evil.com) <john@good.com.>", "good.com");
    expect_domain(" a@one.com, b@two.com", "one.com");
    expect_domain(" Team: a@team.com, b@x.com;", "team.com");
    expect_domain(" John\r\n <john@folded.example>", "folded.example");
    expect_domain(" no address", NULL);
    expect_domain(" <john@[192.0.2.1]>", NULL);
    expect_domain(" jean@caf\xc3\xa9.fr", NULL);
    expect_domain(" <john@>", NULL);
}

static void test_identity(void **state)
{
    static const char m[] = "From: a@from.example\r\nSender: s@sender.example\r\n\r\n";
    char err[128], d[256];

    assert_int_equal(dkim_headers_parse(m, strlen(m), &h, err, sizeof(err)), 0);
    assert_int_equal(dkim_identity_domain(&h, d, sizeof(d)), 0);
    assert_string_equal(d, "sender.example");
    assert_int_equal(dkim_headers_parse(m, 22, &h, err, sizeof(err)), 0);
    assert_int_equal(dkim_identity_domain(&h, d, sizeof(d)), 0);
    assert_string_equal(d, "from.example");
}

/* tag - the value of tag name in a (folded) header, whitespace removed. */
static void tag(const char *hdr, const char *name, char *out, size_t outlen)
{
    char pat[16];
    const char *p;
    size_t o = 0;

    snprintf(pat, sizeof(pat), " %s=", name);
    p = strstr(hdr, pat);
    if (p == NULL) {
        snprintf(pat, sizeof(pat), "\n %s=", name);
        p = strstr(hdr, pat);
    }
    assert_non_null(p);
    for (p = strchr(p, '=') + 1; *p && *p != ';' && o + 1 < outlen; p++)
        if (*p != ' ' && *p != '\r' && *p != '\n' && *p != '\t')
            out[o++] = *p;
    out[o] = '\0';
}

static void check_lines(const char *hdr)
{
    const char *p = hdr, *e;

    while ((e = strstr(p, "\r\n")) != NULL) {
        if (e - p >= 78)
            fail_msg("line of %d characters: %.*s", (int)(e - p), (int)(e - p), p);
        p = e + 2;
        if (*p != '\0' && *p != ' ')
            fail_msg("continuation line does not start with a blank");
    }
    assert_int_equal(*p, '\0');
}

static void test_prepare_and_finish(void **state)
{
    struct dkim_sig_params sp = {
        .domain = "example.com", .selector = "sel-2026", .alg = DKIM_ALG_RSA_SHA256,
        .hcanon = DKIM_CANON_RELAXED, .bcanon = DKIM_CANON_SIMPLE, .identity = "@mail.example.com",
        .extra_headers = "X-Other, received", .oversign = 1, .timestamp = 1700000000,
        .expire_after = 86400,
    };
    unsigned char bh[DKIM_BH_LEN];
    struct dkim_sig sig;
    char err[256], v[1024], b64[700];
    const char *in;

    memset(bh, 0xab, sizeof(bh));
    assert_int_equal(dkim_headers_parse(msg1, strlen(msg1), &h, err, sizeof(err)), 0);
    assert_int_equal(dkim_sig_prepare(&sp, &h, bh, &sig, err, sizeof(err)), 0);
    tag(sig.header.data, "h", v, sizeof(v));
    /* from once + 1, subject twice + 1, to once + 1, absent over-signed
     * names once, x-other and received as often as they occur. */
    assert_string_equal(v, "from:from:sender:reply-to:subject:subject:subject:date:to:to:cc:"
                        "mime-version:content-type:content-transfer-encoding:list-unsubscribe:"
                        "list-unsubscribe-post:x-other:received");
    tag(sig.header.data, "c", v, sizeof(v));
    assert_string_equal(v, "relaxed/simple");
    tag(sig.header.data, "i", v, sizeof(v));
    assert_string_equal(v, "@mail.example.com");
    tag(sig.header.data, "x", v, sizeof(v));
    assert_string_equal(v, "1700086400");
    tag(sig.header.data, "bh", v, sizeof(v));
    assert_string_equal(v, "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=");
    /* Input: instances bottom-up (second Subject first), then the
     * DKIM-Signature itself, relaxed, without CRLF, ending in b=. */
    in = sig.input.data;
    {
        static const char want[] = "from:\"Doe, John\" <john@Mail.Example.COM>\r\n"
            "subject:second\r\nsubject:first\r\nto:a@example.org, b@example.org\r\n"
            "x-other:1\r\nreceived:from x\r\ndkim-signature:v=1; a=rsa-sha256; ";
        assert_int_equal(strncmp(in, want, sizeof(want) - 1), 0);
        assert_null(strstr(in + sizeof(want) - 1, "\r\n"));
    }
    assert_int_equal(memcmp(in + sig.input.len - 3, " b=", 3), 0);
    assert_int_equal(dkim_input_check((const unsigned char *)in, sig.input.len, "example.com",
                                      "sel-2026", DKIM_ALG_RSA_SHA256, err, sizeof(err)), 0);
    assert_int_equal(dkim_input_check((const unsigned char *)in, sig.input.len, "example.net",
                                      "sel-2026", DKIM_ALG_RSA_SHA256, err, sizeof(err)), -1);
    assert_int_equal(dkim_input_check((const unsigned char *)in, sig.input.len, "example.com",
                                      "sel", DKIM_ALG_RSA_SHA256, err, sizeof(err)), -1);
    assert_int_equal(dkim_input_check((const unsigned char *)in, sig.input.len, "example.com",
                                      "sel-2026", DKIM_ALG_ED25519_SHA256, err, sizeof(err)), -1);
    assert_int_equal(dkim_input_check((const unsigned char *)"hello", 5, "example.com",
                                      "sel-2026", DKIM_ALG_RSA_SHA256, err, sizeof(err)), -1);
    memset(b64, 'A', 683);
    b64[683] = '=';
    b64[684] = '\0';
    assert_int_equal(dkim_sig_finish(&sig, b64), 0);
    check_lines(sig.header.data);
    tag(sig.header.data, "b", v, sizeof(v));
    assert_string_equal(v, b64);
    dkim_sig_free(&sig);
}

static void test_simple_input_and_no_from(void **state)
{
    struct dkim_sig_params sp = {
        .domain = "example.com", .selector = "s", .alg = DKIM_ALG_ED25519_SHA256,
        .hcanon = DKIM_CANON_SIMPLE, .bcanon = DKIM_CANON_SIMPLE, .oversign = 0,
    };
    static const char m[] = "To: x@y.z\r\n\r\n";
    unsigned char bh[DKIM_BH_LEN] = { 0 };
    struct dkim_sig sig;
    char err[256];

    assert_int_equal(dkim_headers_parse(msg1, strlen(msg1), &h, err, sizeof(err)), 0);
    assert_int_equal(dkim_sig_prepare(&sp, &h, bh, &sig, err, sizeof(err)), 0);
    /* simple: fields byte for byte, the DKIM-Signature folded as built. */
    assert_int_equal(strncmp(sig.input.data, "From: \"Doe, John\"", 17), 0);
    assert_non_null(strstr(sig.input.data, "To: a@example.org,\r\n  b@example.org\r\nDKIM-Signature: v=1;"));
    assert_int_equal(memcmp(sig.input.data + sig.input.len - 2, "b=", 2), 0);
    assert_int_equal(dkim_input_check((const unsigned char *)sig.input.data, sig.input.len,
                                      "example.com", "s", DKIM_ALG_ED25519_SHA256, err,
                                      sizeof(err)), 0);
    dkim_sig_free(&sig);
    assert_int_equal(dkim_headers_parse(m, strlen(m), &h, err, sizeof(err)), 0);
    assert_int_equal(dkim_sig_prepare(&sp, &h, bh, &sig, err, sizeof(err)), -1);
    assert_string_equal(err, "message has no From header");
    dkim_sig_free(&sig);
    sp.domain = "bad;domain";
    assert_int_equal(dkim_sig_prepare(&sp, &h, bh, &sig, err, sizeof(err)), -1);
    dkim_sig_free(&sig);
}

/* Found by tests/fuzz/dkim_fuzz.c: an h= longer than a domain name made
 * dkimsign refuse our own input. */
static void test_long_hlist_passes_check(void **state)
{
    struct dkim_sig_params sp = {
        .domain = "example.com", .selector = "s", .alg = DKIM_ALG_RSA_SHA256,
        .hcanon = DKIM_CANON_RELAXED, .bcanon = DKIM_CANON_RELAXED, .oversign = 1,
    };
    unsigned char bh[DKIM_BH_LEN] = { 0 };
    struct dkim_sig sig;
    struct buf m;
    char err[256];
    int i;

    buf_init(&m, 1 << 20);
    buf_append_str(&m, "From: a@example.com\r\n");
    for (i = 0; i < 60; i++)
        buf_printf(&m, "Subject: %d\r\n", i);
    buf_append_str(&m, "\r\n");
    assert_int_equal(dkim_headers_parse(m.data, m.len, &h, err, sizeof(err)), 0);
    assert_int_equal(dkim_sig_prepare(&sp, &h, bh, &sig, err, sizeof(err)), 0);
    assert_int_equal(dkim_input_check((const unsigned char *)sig.input.data, sig.input.len,
                                      "example.com", "s", DKIM_ALG_RSA_SHA256, err, sizeof(err)), 0);
    dkim_sig_free(&sig);
    buf_free(&m);
}

static void test_proto(void **state)
{
    struct dkim_sign_req req;
    struct dkim_sign_rep rep;
    struct ipc_frame f;
    struct buf b;
    size_t used;
    char *big = malloc(DKIM_INPUT_MAX + 1);

    buf_init(&b, IPC_MAX_PAYLOAD);
    memset(big, 'x', DKIM_INPUT_MAX + 1);
    assert_int_equal(dkim_sign_req_encode(&b, 9, "example.com", "s1", DKIM_ALG_RSA_SHA256,
                                          "a\r\nb\0c", 6), 0);
    assert_int_equal(ipc_frame_parse(b.data, b.len, &f, &used), 1);
    assert_int_equal(f.reqid, 9);
    assert_int_equal(dkim_sign_req_decode(&f, &req), 0);
    assert_string_equal(req.domain, "example.com");
    assert_string_equal(req.selector, "s1");
    assert_int_equal(req.input_len, 6);
    assert_memory_equal(req.input, "a\r\nb\0c", 6);
    /* Truncated anywhere: refused. */
    for (size_t cut = IPC_HDR_LEN; cut < b.len; cut++) {
        struct ipc_frame t = f;
        t.len = cut - IPC_HDR_LEN;
        assert_int_equal(dkim_sign_req_decode(&t, &req), -1);
    }
    buf_reset(&b);
    assert_int_equal(dkim_sign_req_encode(&b, 1, "d", "s", DKIM_ALG_RSA_SHA256, big,
                                          DKIM_INPUT_MAX + 1), -1);
    assert_int_equal(dkim_sign_req_encode(&b, 1, "d", "s", DKIM_ALG_RSA_SHA256, big,
                                          DKIM_INPUT_MAX), 0);
    assert_int_equal(ipc_frame_parse(b.data, b.len, &f, &used), 1);
    assert_int_equal(dkim_sign_req_decode(&f, &req), 0);
    /* Unknown algorithm; trailing byte. */
    buf_reset(&b);
    assert_int_equal(dkim_sign_req_encode(&b, 1, "d", "s", (enum dkim_alg)7, "x", 1), 0);
    assert_int_equal(ipc_frame_parse(b.data, b.len, &f, &used), 1);
    assert_int_equal(dkim_sign_req_decode(&f, &req), -1);
    /* Replies. */
    buf_reset(&b);
    assert_int_equal(dkim_sign_rep_encode(&b, 3, DKIM_ST_OK, NULL, "AbC+/="), 0);
    assert_int_equal(ipc_frame_parse(b.data, b.len, &f, &used), 1);
    assert_int_equal(dkim_sign_rep_decode(&f, &rep), 0);
    assert_string_equal(rep.sig, "AbC+/=");
    buf_reset(&b);
    assert_int_equal(dkim_sign_rep_encode(&b, 3, DKIM_ST_OK, NULL, "bad;sig"), 0);
    assert_int_equal(ipc_frame_parse(b.data, b.len, &f, &used), 1);
    assert_int_equal(dkim_sign_rep_decode(&f, &rep), -1);
    buf_reset(&b);
    assert_int_equal(dkim_sign_rep_encode(&b, 3, DKIM_ST_KEY_FAILED, "x.pem: missing", NULL), 0);
    assert_int_equal(ipc_frame_parse(b.data, b.len, &f, &used), 1);
    assert_int_equal(dkim_sign_rep_decode(&f, &rep), 0);
    assert_int_equal(rep.status, DKIM_ST_KEY_FAILED);
    assert_string_equal(rep.error, "x.pem: missing");
    buf_reset(&b);
    assert_int_equal(dkim_sign_rep_encode(&b, 3, (enum dkim_status)99, "x", NULL), 0);
    assert_int_equal(ipc_frame_parse(b.data, b.len, &f, &used), 1);
    assert_int_equal(dkim_sign_rep_decode(&f, &rep), -1);
    buf_free(&b);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_parse),
        cmocka_unit_test(test_headers_bounds),
        cmocka_unit_test(test_address_domain),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_prepare_and_finish),
        cmocka_unit_test(test_simple_input_and_no_from),
        cmocka_unit_test(test_long_hlist_passes_check),
        cmocka_unit_test(test_proto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
