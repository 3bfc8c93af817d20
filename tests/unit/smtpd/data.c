/* Unit tests: smtpd's DATA stream parser (smtpd/data.c): dot-unstuffing,
 * end-of-data detection across arbitrary chunk boundaries, bare LF / CR
 * detection (SMTP smuggling), line-length and size limits.  Random inputs
 * are checked against a simple whole-buffer reference decoder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "../../../smtpd/data.h"

struct run {
    int done;
    size_t used;        /* bytes consumed in total */
    unsigned flags;
    struct buf out;
    uint64_t size;
};

/* run_split - feed len bytes in chunks of `step` (0 = random 1..9). */
static void run_split(const char *s, size_t len, size_t step, size_t max_line,
                      size_t max_size, struct run *r)
{
    struct data_parser dp;
    size_t off = 0, used;

    memset(r, 0, sizeof(*r));
    buf_init(&r->out, max_size);
    data_parser_init(&dp, &r->out, max_line);
    while (off < len && !r->done) {
        size_t chunk = step ? step : 1 + (size_t)rand() % 9;

        if (chunk > len - off)
            chunk = len - off;
        r->done = data_feed(&dp, s + off, chunk, &used);
        assert_true(used <= chunk);
        if (!r->done)
            assert_int_equal(used, chunk);
        off += used;
    }
    r->used = off;
    r->flags = dp.flags;
    r->size = dp.size;
}

static void check(const char *s, size_t len, int done, size_t used, unsigned flags,
                  const char *out, size_t outlen)
{
    size_t steps[] = { 1, 2, 3, 4, 7, 64, 100000, 0, 0, 0, 0, 0 };
    size_t i;
    struct run r;

    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        run_split(s, len, steps[i], 1000, 1 << 20, &r);
        assert_int_equal(r.done, done);
        if (done)
            assert_int_equal(r.used, used ? used : len);
        assert_int_equal(r.flags, flags);
        if (out != NULL) {
            assert_int_equal(r.out.len, outlen);
            assert_memory_equal(r.out.data ? r.out.data : "", out, outlen);
        }
        buf_free(&r.out);
    }
}

#define CHECK(in, done, used, flags, out) \
    check(in, sizeof(in) - 1, done, used, flags, out, (out) ? sizeof(out) - 1 : 0)

static void test_basic(void **state)
{
    CHECK("Subject: x\r\n\r\nbody\r\n.\r\n", 1, 0, 0, "Subject: x\r\n\r\nbody\r\n");
    CHECK(".\r\n", 1, 0, 0, "");                            /* empty message */
    CHECK("a\r\n.\r\nQUIT\r\n", 1, 6, 0, "a\r\n");          /* rest: commands */
    CHECK("a\r\n.", 0, 0, 0, "a\r\n");                      /* not yet ended */
    CHECK("a\r\n.\r", 0, 0, 0, "a\r\n");
}

static void test_unstuff(void **state)
{
    CHECK("..\r\n.\r\n", 1, 0, 0, ".\r\n");
    CHECK("..x\r\n...\r\n.a.\r\n.\r\n", 1, 0, 0, ".x\r\n..\r\na.\r\n");
    CHECK("a.\r\nb\r\n.\r\n", 1, 0, 0, "a.\r\nb\r\n");
    CHECK("x\r\n. \r\n.\r\n", 1, 0, 0, "x\r\n \r\n");
}

static void test_bare(void **state)
{
    /* SMTP smuggling forms: none of them ends the data */
    CHECK("a\n.\nMAIL FROM:<e@x>\r\n.\r\n", 1, 0, 1, NULL);
    CHECK("a\r\n.\nMAIL\r\n.\r\n", 1, 0, 1, NULL);
    CHECK("a\r.\rMAIL\r\n.\r\n", 1, 0, 1, NULL);
    CHECK("a\n.\r\nMAIL\r\n.\r\n", 1, 0, 1, NULL);
    CHECK("a\r.\r\nMAIL\r\n.\r\n", 1, 0, 1, NULL);
    CHECK("a\r\n.\r.\r\n.\r\n", 1, 0, 1, NULL);
    CHECK("a\n.\n", 0, 0, 1, NULL);
    CHECK("a\rb\r\n.\r\n", 1, 0, 1, NULL);
    CHECK("\n\r\n.\r\n", 1, 0, 1, NULL);
    CHECK("a\r\r\n.\r\n", 1, 0, 1, NULL);
}

static void test_line_length(void **state)
{
    char in[3000];
    struct run r;

    memset(in, 'x', 998);
    memcpy(in + 998, "\r\n.\r\n", 5);
    run_split(in, 1003, 0, 1000, 1 << 20, &r);
    assert_int_equal(r.done, 1);
    assert_int_equal(r.flags, 0);
    assert_int_equal(r.out.len, 1000);
    buf_free(&r.out);

    memset(in, 'x', 999);
    memcpy(in + 999, "\r\n.\r\n", 5);
    run_split(in, 1004, 0, 1000, 1 << 20, &r);
    assert_int_equal(r.done, 1);
    assert_int_equal(r.flags, DATA_LINE_TOO_LONG);
    buf_free(&r.out);

    /* a stuffed dot counts: it is on the wire */
    in[0] = '.';
    memset(in + 1, 'x', 998);
    memcpy(in + 999, "\r\n.\r\n", 5);
    run_split(in, 1004, 1, 1000, 1 << 20, &r);
    assert_int_equal(r.flags, DATA_LINE_TOO_LONG);
    buf_free(&r.out);

    /* 0 = no limit */
    memset(in, 'x', 2500);
    memcpy(in + 2500, "\r\n.\r\n", 5);
    run_split(in, 2505, 0, 0, 1 << 20, &r);
    assert_int_equal(r.flags, 0);
    buf_free(&r.out);
}

static void test_size(void **state)
{
    char in[200];
    struct run r;

    memset(in, 'y', 98);
    memcpy(in + 98, "\r\n.\r\n", 5);
    run_split(in, 103, 0, 1000, 100, &r);          /* exactly 100 bytes: fits */
    assert_int_equal(r.flags, 0);
    assert_int_equal(r.out.len, 100);
    buf_free(&r.out);
    run_split(in, 103, 0, 1000, 99, &r);           /* one too many */
    assert_int_equal(r.done, 1);
    assert_int_equal(r.used, 103);                  /* still read to the end */
    assert_int_equal(r.flags, DATA_TOO_BIG);
    assert_true(r.size == 100);
    assert_true(r.out.len <= 99);
    buf_free(&r.out);
}

/* reference - decode a whole buffer the simple way.  Returns the end
 * offset (after ".\r\n") or 0, and fills flags/out as the parser should. */
static size_t reference(const char *s, size_t len, size_t max_line, unsigned *flags,
                        char *out, size_t *outlen)
{
    size_t i, end = 0, body, start, ll = 0;

    for (i = 0; i + 3 <= len; i++) {
        if (memcmp(s + i, ".\r\n", 3) == 0 && (i == 0 || (i >= 2 && memcmp(s + i - 2, "\r\n", 2) == 0))) {
            end = i + 3;
            break;
        }
    }
    *flags = 0;
    *outlen = 0;
    if (end == 0)
        return 0;
    body = end - 3;
    for (i = 0; i < body; i++) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
            *flags |= DATA_BARE_EOL;
        if (s[i] == '\r' && (i + 1 >= body || s[i + 1] != '\n'))
            *flags |= DATA_BARE_EOL;
    }
    for (i = 0; i < end; i++) {
        if (++ll > max_line)
            *flags |= DATA_LINE_TOO_LONG;
        if (s[i] == '\n')
            ll = 0;
    }
    for (start = 0, i = 0; i < body; i++) {
        if (i == start && s[i] == '.')
            continue;
        out[(*outlen)++] = s[i];
        if (s[i] == '\n')
            start = i + 1;
    }
    return end;
}

static void test_random_vs_reference(void **state)
{
    static const char alpha[] = "aaaa..\r\r\n\n";
    char in[400], ref[400];
    size_t iter, n, i, reflen, end;
    unsigned rflags;
    struct run r;

    for (iter = 0; iter < 20000; iter++) {
        n = (size_t)rand() % 60;
        for (i = 0; i < n; i++)
            in[i] = alpha[rand() % (sizeof(alpha) - 1)];
        if (rand() % 2) {
            memcpy(in + n, "\r\n.\r\n", 5);
            n += 5;
        }
        end = reference(in, n, 12, &rflags, ref, &reflen);
        run_split(in, n, 0, 12, 1 << 20, &r);
        assert_int_equal(r.done, end != 0);
        if (end == 0) {
            buf_free(&r.out);
            continue;
        }
        if (r.used != end) {
            fprintf(stderr, "input:");
            for (i = 0; i < n; i++)
                fprintf(stderr, " %02x", (unsigned char)in[i]);
            fprintf(stderr, "\n");
        }
        assert_int_equal(r.used, end);
        /* the flags that depend only on the data up to the end */
        assert_int_equal(r.flags & DATA_BARE_EOL, rflags & DATA_BARE_EOL);
        if (!(rflags & DATA_BARE_EOL)) {
            assert_int_equal(r.flags, rflags);
        }
        if (rflags == 0) {      /* a refused message is not kept */
            assert_int_equal(r.out.len, reflen);
            assert_memory_equal(r.out.data ? r.out.data : "", ref, reflen);
        }
        buf_free(&r.out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_unstuff),
        cmocka_unit_test(test_bare),
        cmocka_unit_test(test_line_length),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_random_vs_reference),
    };

    srand(4242);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
