/* Unit tests: IPC framing and the proto codecs (lib/ipc.c, lib/proto.c).
 * Truncated, oversized, garbage and trailing-data frames must be refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ipc.h"
#include "proto.h"

static void test_frame_roundtrip(void **state)
{
    struct buf b;
    struct ipc_frame f;
    struct ipc_reader r;
    size_t st, used;
    char s[16];

    buf_init(&b, 1 << 20);
    assert_int_equal(ipc_begin(&b, 42, 7, &st), 0);
    assert_int_equal(ipc_put_u32(&b, 0xdeadbeef), 0);
    assert_int_equal(ipc_put_u64(&b, 0x0102030405060708ull), 0);
    assert_int_equal(ipc_put_str(&b, "hello"), 0);
    assert_int_equal(ipc_end(&b, st), 0);
    assert_int_equal(ipc_frame_parse(b.data, b.len, &f, &used), 1);
    assert_int_equal(used, b.len);
    assert_int_equal(f.type, 42);
    assert_int_equal(f.reqid, 7);
    ipc_reader_init(&r, &f);
    assert_int_equal(ipc_get_u32(&r), 0xdeadbeef);
    assert_true(ipc_get_u64(&r) == 0x0102030405060708ull);
    ipc_get_str(&r, s, sizeof(s));
    assert_string_equal(s, "hello");
    assert_int_equal(ipc_reader_end(&r), 0);
    buf_free(&b);
}

static void test_frame_truncated(void **state)
{
    struct buf b;
    struct ipc_frame f;
    size_t st, used, cut;

    buf_init(&b, 1 << 20);
    ipc_begin(&b, 1, 0, &st);
    ipc_put_str(&b, "abcdef");
    ipc_end(&b, st);
    for (cut = 0; cut < b.len; cut++)
        assert_int_equal(ipc_frame_parse(b.data, cut, &f, &used), 0);
    buf_free(&b);
}

static void test_frame_oversized_and_garbage(void **state)
{
    unsigned char h[IPC_HDR_LEN] = { 0x7f, 0xff, 0xff, 0xff, 0, 1, 0, 1, 0, 0, 0, 0 };
    unsigned char bad_version[IPC_HDR_LEN] = { 0, 0, 0, 0, 0, 9, 0, 1, 0, 0, 0, 0 };
    const char garbage[] = "GET / HTTP/1.0\r\n\r\n";
    struct ipc_frame f;
    size_t used;

    assert_int_equal(ipc_frame_parse(h, sizeof(h), &f, &used), -1);
    assert_int_equal(ipc_frame_parse(bad_version, sizeof(bad_version), &f, &used), -1);
    assert_int_equal(ipc_frame_parse(garbage, sizeof(garbage) - 1, &f, &used), -1);
}

static void test_reader_rejects_trailing_and_short(void **state)
{
    struct buf b;
    struct ipc_frame f;
    struct ipc_reader r;
    size_t st, used;

    buf_init(&b, 1 << 20);
    ipc_begin(&b, 1, 0, &st);
    ipc_put_u32(&b, 1);
    ipc_put_u32(&b, 2);
    ipc_end(&b, st);
    ipc_frame_parse(b.data, b.len, &f, &used);
    ipc_reader_init(&r, &f);
    ipc_get_u32(&r);
    assert_int_equal(ipc_reader_end(&r), -1);       /* trailing u32 */
    ipc_reader_init(&r, &f);
    ipc_get_u64(&r);
    ipc_get_u32(&r);                                 /* past the end */
    assert_int_equal(ipc_reader_end(&r), -1);
    buf_free(&b);
}

static void test_reader_rejects_bad_strings(void **state)
{
    struct buf b;
    struct ipc_frame f;
    struct ipc_reader r;
    size_t st, used;
    char small[4];
    char *d;

    buf_init(&b, 1 << 20);
    ipc_begin(&b, 1, 0, &st);
    ipc_put_strn(&b, "a\r\nb", 4);
    ipc_end(&b, st);
    ipc_frame_parse(b.data, b.len, &f, &used);
    ipc_reader_init(&r, &f);
    d = ipc_get_strdup(&r, 100);
    assert_null(d);
    assert_int_equal(ipc_reader_end(&r), -1);
    ipc_reader_init(&r, &f);
    d = ipc_get_textdup(&r, 100);                    /* text may hold lines */
    assert_non_null(d);
    free(d);
    ipc_reader_init(&r, &f);
    ipc_get_str(&r, small, sizeof(small));           /* too long for dst */
    assert_int_equal(ipc_reader_end(&r), -1);
    buf_reset(&b);
    ipc_begin(&b, 1, 0, &st);
    ipc_put_strn(&b, "a\0b", 3);
    ipc_end(&b, st);
    ipc_frame_parse(b.data, b.len, &f, &used);
    ipc_reader_init(&r, &f);
    assert_null(ipc_get_textdup(&r, 100));
    buf_free(&b);
}

static void test_deliver_roundtrip(void **state)
{
    struct deliver_rcpt rc[2] = { { 0, "a@x.test" }, { 3, "b@x.test" } };
    struct msg_deliver m = { 0 }, d;
    struct buf b;
    struct ipc_frame f;
    size_t used;

    m.job_id = 99;
    strcpy(m.queue_id, "0005F1A2B3C4D0012340001");
    m.queue_id[22] = '\0';
    m.mail_from = "s@y.test";
    m.domain = "x.test";
    m.route = "[127.0.0.2]:2525";
    m.skip_mx = "mx1.x.test,mx2.x.test";
    m.nrcpt = 2;
    m.rcpts = rc;
    m.ret = 1;
    buf_init(&b, 1 << 20);
    assert_int_equal(msg_deliver_encode(&b, &m), 0);
    assert_int_equal(ipc_frame_parse(b.data, b.len, &f, &used), 1);
    assert_int_equal(msg_deliver_decode(&f, &d), 0);
    assert_true(d.job_id == 99);
    assert_string_equal(d.queue_id, m.queue_id);
    assert_string_equal(d.mail_from, "s@y.test");
    assert_string_equal(d.vmta, "");
    assert_string_equal(d.skip_mx, "mx1.x.test,mx2.x.test");
    assert_int_equal(d.nrcpt, 2);
    assert_int_equal(d.rcpts[1].index, 3);
    assert_string_equal(d.rcpts[1].addr, "b@x.test");
    msg_deliver_free(&d);
    /* any truncation of the payload is refused */
    for (size_t cut = IPC_HDR_LEN; cut < b.len; cut++) {
        struct ipc_frame t = f;
        t.len = cut - IPC_HDR_LEN;
        assert_int_equal(msg_deliver_decode(&t, &d), -1);
    }
    /* the wrong frame type is refused */
    f.type = IPC_RESULT;
    assert_int_equal(msg_deliver_decode(&f, &d), -1);
    buf_free(&b);
}

static void test_result_bad_code(void **state)
{
    struct result_rcpt rr = { 0, 999, "5.0.0", "bogus" };
    struct msg_result m = { 0 }, d;
    struct buf b;
    struct ipc_frame f;
    size_t used;

    m.nrcpt = 1;
    m.rcpts = &rr;
    buf_init(&b, 1 << 20);
    assert_int_equal(msg_result_encode(&b, &m), 0);
    ipc_frame_parse(b.data, b.len, &f, &used);
    assert_int_equal(msg_result_decode(&f, &d), -1);
    rr.code = 550;
    buf_reset(&b);
    assert_int_equal(msg_result_encode(&b, &m), 0);
    ipc_frame_parse(b.data, b.len, &f, &used);
    assert_int_equal(msg_result_decode(&f, &d), 0);
    assert_int_equal(d.rcpts[0].code, 550);
    assert_string_equal(d.rcpts[0].text, "bogus");
    assert_int_equal(d.nrefused, 0);
    msg_result_free(&d);
    /* refusals at set-up (skip-mx): carried, and bounded */
    {
        struct result_refusal f2[2] = { { "mx1.x.test", "421 4.3.2 busy" }, { "mx2.x.test", "554 no" } };

        m.nrefused = 2;
        m.refused = f2;
        buf_reset(&b);
        assert_int_equal(msg_result_encode(&b, &m), 0);
        ipc_frame_parse(b.data, b.len, &f, &used);
        assert_int_equal(msg_result_decode(&f, &d), 0);
        assert_int_equal(d.nrefused, 2);
        assert_string_equal(d.refused[1].mx, "mx2.x.test");
        assert_string_equal(d.refused[0].reply, "421 4.3.2 busy");
        msg_result_free(&d);
        m.nrefused = PROTO_REFUSED_MAX + 1;
        m.refused = calloc(m.nrefused, sizeof(*m.refused));
        assert_non_null(m.refused);
        buf_reset(&b);
        assert_int_equal(msg_result_encode(&b, &m), 0);
        ipc_frame_parse(b.data, b.len, &f, &used);
        assert_int_equal(msg_result_decode(&f, &d), -1);
        free(m.refused);
    }
    buf_free(&b);
}

static void test_acct_roundtrip_and_duplicates(void **state)
{
    struct acct_record r = { 0 }, d;
    struct buf b;
    struct ipc_frame f;
    size_t used, st;

    acct_set(&r, AF_TYPE, "d");
    acct_set(&r, AF_RCPT, "a@x.test");
    acct_set(&r, AF_DSN_DIAG, "smtp;250 ok, \"fine\"");
    buf_init(&b, 1 << 20);
    assert_int_equal(msg_acct_encode(&b, 5, &r), 0);
    ipc_frame_parse(b.data, b.len, &f, &used);
    assert_int_equal(f.reqid, 5);
    assert_int_equal(msg_acct_decode(&f, &d), 0);
    assert_string_equal(d.v[AF_RCPT], "a@x.test");
    assert_null(d.v[AF_ORIG]);
    acct_record_free(&d);
    /* a field given twice is refused */
    buf_reset(&b);
    ipc_begin(&b, IPC_ACCT, 1, &st);
    ipc_put_u32(&b, 2);
    ipc_put_u32(&b, AF_TYPE);
    ipc_put_str(&b, "d");
    ipc_put_u32(&b, AF_TYPE);
    ipc_put_str(&b, "b");
    ipc_end(&b, st);
    ipc_frame_parse(b.data, b.len, &f, &used);
    assert_int_equal(msg_acct_decode(&f, &d), -1);
    /* an unknown field index is refused */
    buf_reset(&b);
    ipc_begin(&b, IPC_ACCT, 1, &st);
    ipc_put_u32(&b, 1);
    ipc_put_u32(&b, AF_COUNT + 3);
    ipc_put_str(&b, "x");
    ipc_end(&b, st);
    ipc_frame_parse(b.data, b.len, &f, &used);
    assert_int_equal(msg_acct_decode(&f, &d), -1);
    acct_record_free(&r);
    buf_free(&b);
}

static void test_ctl_roundtrip(void **state)
{
    char *argv[] = { "show", "queues" };
    struct msg_ctl_request q;
    struct msg_ctl_reply p;
    struct buf b;
    struct ipc_frame f;
    size_t used;

    buf_init(&b, 1 << 20);
    assert_int_equal(msg_ctl_request_encode(&b, 9, 2, argv), 0);
    ipc_frame_parse(b.data, b.len, &f, &used);
    assert_int_equal(msg_ctl_request_decode(&f, &q), 0);
    assert_int_equal(q.argc, 2);
    assert_string_equal(q.argv[1], "queues");
    msg_ctl_request_free(&q);
    buf_reset(&b);
    assert_int_equal(msg_ctl_reply_encode(&b, 9, 0, "line1\nline2\n"), 0);
    ipc_frame_parse(b.data, b.len, &f, &used);
    assert_int_equal(msg_ctl_reply_decode(&f, &p), 0);
    assert_string_equal(p.text, "line1\nline2\n");
    msg_ctl_reply_free(&p);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_roundtrip),
        cmocka_unit_test(test_frame_truncated),
        cmocka_unit_test(test_frame_oversized_and_garbage),
        cmocka_unit_test(test_reader_rejects_trailing_and_short),
        cmocka_unit_test(test_reader_rejects_bad_strings),
        cmocka_unit_test(test_deliver_roundtrip),
        cmocka_unit_test(test_result_bad_code),
        cmocka_unit_test(test_acct_roundtrip_and_duplicates),
        cmocka_unit_test(test_ctl_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
