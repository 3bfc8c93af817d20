/* Unit tests: the BOUNCE message codec (lib/bounce_proto.c): round trip,
 * and refusal of bad statuses, categories, queue ids, control bytes,
 * truncated and trailing data. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "bounce_proto.h"

static void sample(struct msg_bounce *m)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->queue_id, sizeof(m->queue_id), "6619C5EB2AC68001A41000");
    m->rcpt_index = 3;
    m->expired = 0;
    m->time_logged = 1764633600;
    snprintf(m->rcpt, sizeof(m->rcpt), "gone@dest.test");
    snprintf(m->status, sizeof(m->status), "5.1.1");
    snprintf(m->category, sizeof(m->category), "bad-mailbox");
    snprintf(m->dsn_mta, sizeof(m->dsn_mta), "mx.dest.test (192.0.2.1)");
    m->diag = (char *)"550 5.1.1 no such user";
}

/* encode m and decode it again: the decoder's return */
static int cycle(const struct msg_bounce *m, struct msg_bounce *out, size_t cut, int extra)
{
    struct buf b;
    struct ipc_frame f;
    size_t used;
    int rc;

    buf_init(&b, 1 << 20);
    assert_int_equal(msg_bounce_encode(&b, 77, m), 0);
    assert_int_equal(ipc_frame_parse(b.data, b.len, &f, &used), 1);
    assert_int_equal(f.reqid, 77);
    if (cut)
        f.len -= cut;
    if (extra) {
        /* one trailing byte inside the frame: rebuild with a bigger payload */
        unsigned char *p = malloc(f.len + 1);
        memcpy(p, f.payload, f.len);
        p[f.len] = 0;
        f.payload = p;
        f.len++;
    }
    rc = msg_bounce_decode(&f, out);
    if (extra)
        free((void *)f.payload);
    buf_free(&b);
    return rc;
}

static void test_roundtrip(void **state)
{
    struct msg_bounce m, d;

    sample(&m);
    assert_int_equal(cycle(&m, &d, 0, 0), 0);
    assert_string_equal(d.queue_id, m.queue_id);
    assert_int_equal(d.rcpt_index, 3);
    assert_true(d.time_logged == 1764633600);
    assert_string_equal(d.rcpt, "gone@dest.test");
    assert_string_equal(d.status, "5.1.1");
    assert_string_equal(d.category, "bad-mailbox");
    assert_string_equal(d.dsn_mta, "mx.dest.test (192.0.2.1)");
    assert_string_equal(d.diag, "550 5.1.1 no such user");
    msg_bounce_free(&d);
}

static void test_refusals(void **state)
{
    static const char *bad_status[] = { "2.0.0", "5.1", "5.1.1.1", "5..1", "x.1.1", "5.1234.1", "" };
    struct msg_bounce m, d;
    size_t i;

    for (i = 0; i < sizeof(bad_status) / sizeof(bad_status[0]); i++) {
        sample(&m);
        snprintf(m.status, sizeof(m.status), "%s", bad_status[i]);
        assert_int_equal(cycle(&m, &d, 0, 0), -1);
    }
    sample(&m);
    snprintf(m.category, sizeof(m.category), "Bad Mailbox");
    assert_int_equal(cycle(&m, &d, 0, 0), -1);
    sample(&m);
    snprintf(m.queue_id, sizeof(m.queue_id), "../../etc/passwd");
    assert_int_equal(cycle(&m, &d, 0, 0), -1);
    sample(&m);
    m.rcpt[0] = '\0';
    assert_int_equal(cycle(&m, &d, 0, 0), -1);
    sample(&m);
    m.expired = 2;
    assert_int_equal(cycle(&m, &d, 0, 0), -1);
    sample(&m);
    m.diag = (char *)"550 bad\r\nX-Injected: yes";
    assert_int_equal(cycle(&m, &d, 0, 0), -1);
    sample(&m);
    assert_int_equal(cycle(&m, &d, 1, 0), -1);
    assert_int_equal(cycle(&m, &d, 0, 1), -1);
}

/* BOUNCE_DELAY: the same fields plus retry_until; a 4.x.x status only. */
static void test_delay(void **state)
{
    struct msg_bounce m, d;
    struct buf b;
    struct ipc_frame f;
    size_t used;

    sample(&m);
    m.delayed = 1;
    m.retry_until = 1764999999;
    snprintf(m.status, sizeof(m.status), "4.2.0");
    snprintf(m.category, sizeof(m.category), "other");
    buf_init(&b, 1 << 20);
    assert_int_equal(msg_bounce_encode(&b, 5, &m), 0);
    assert_int_equal(ipc_frame_parse(b.data, b.len, &f, &used), 1);
    assert_int_equal(f.type, IPC_BOUNCE_DELAY);
    buf_free(&b);
    assert_int_equal(cycle(&m, &d, 0, 0), 0);
    assert_int_equal(d.delayed, 1);
    assert_int_equal(d.retry_until, 1764999999);
    assert_string_equal(d.status, "4.2.0");
    msg_bounce_free(&d);
    assert_int_equal(cycle(&m, &d, 8, 0), -1);      /* retry_until cut off */
    assert_int_equal(cycle(&m, &d, 0, 1), -1);
    snprintf(m.status, sizeof(m.status), "5.1.1");  /* a delay is never permanent */
    assert_int_equal(cycle(&m, &d, 0, 0), -1);
    /* a plain BOUNCE still decodes as not delayed */
    sample(&m);
    assert_int_equal(cycle(&m, &d, 0, 0), 0);
    assert_int_equal(d.delayed, 0);
    msg_bounce_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_delay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
