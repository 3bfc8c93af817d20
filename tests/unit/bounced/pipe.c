/*
 * Unit tests for bounced/pipe.c: the JSON event line (escaping of hostile
 * text), a queue file's torn tail being cut at open, and delivery to a
 * program that acknowledges every line (/bin/cat echoes each one back)
 * until nothing is pending, with the acknowledged offset saved.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <uv.h>

#include "../../../bounced/pipe.h"

static char dir[256];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/courser-pipe-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_event(void **state)
{
    struct buf b;

    buf_init(&b, 1 << 16);
    assert_int_equal(bpipe_event(&b, "b", 1764633600, "x@d.test", "bad-mailbox", 1, "5.1.1",
                                 "550 \"no\"\r\nX: y\x01", "QID", NULL, ""), 0);
    assert_string_equal(b.data, "{\"type\":\"b\",\"time\":1764633600,\"hard\":true,\"rcpt\":\"x@d.test\","
                                "\"category\":\"bad-mailbox\",\"status\":\"5.1.1\","
                                "\"diag\":\"550 \\\"no\\\"\\u000d\\u000aX: y\\u0001\",\"queue_id\":\"QID\"}\n");
    buf_reset(&b);
    assert_int_equal(bpipe_event(&b, "f", 5, "c@d.test", "complaint", -1, NULL, NULL, NULL, "abuse", NULL), 0);
    assert_null(strstr(b.data, "hard"));
    assert_non_null(strstr(b.data, "\"feedback_type\":\"abuse\""));
    buf_free(&b);
}

static void run_until_idle(uv_loop_t *l, struct bpipe *p)
{
    int i;

    for (i = 0; i < 400 && bpipe_pending(p) > 0; i++) {
        (void)uv_run(l, UV_RUN_NOWAIT);
        usleep(5000);
    }
}

/* static: libuv's SIGCHLD handler (installed by uv_spawn) uses the loop
 * after this test returns, when the shell of teardown's system() exits */
static uv_loop_t loop;

static void test_deliver(void **state)
{
    struct bpipe *p;
    struct buf b;
    uint64_t size = 0;
    char path[600];
    unsigned char off[8];
    int fd, i;

    /* a torn last line from a crash is cut off at open */
    snprintf(path, sizeof(path), "%s/pipe", dir);
    assert_int_equal(mkdir(path, 0750), 0);
    snprintf(path, sizeof(path), "%s/pipe/t.jsonl", dir);
    fd = open(path, O_WRONLY | O_CREAT, 0640);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{\"a\":1}\n{\"tor", 13), 13);
    close(fd);
    signal(SIGPIPE, SIG_IGN);   /* as in the daemon */
    assert_int_equal(uv_loop_init(&loop), 0);
    p = bpipe_open(&loop, dir, "t", "/bin/cat");
    assert_non_null(p);
    assert_int_equal(bpipe_pending(p), 8);
    buf_init(&b, 1 << 20);
    for (i = 0; i < 300; i++)       /* more than one 64 KiB window */
        assert_int_equal(bpipe_event(&b, "b", i, "x@d.test", "bad-mailbox", 1, "5.1.1",
                                     "550 5.1.1 a reasonably long diagnostic text from a remote server",
                                     "QID", NULL, "s@x.test"), 0);
    assert_int_equal(bpipe_append(p, b.data, b.len, &size), 0);
    assert_int_equal(size, 8 + b.len);
    bpipe_committed(p, size);
    run_until_idle(&loop, p);
    assert_int_equal(bpipe_pending(p), 0);
    snprintf(path, sizeof(path), "%s/pipe/t.offset", dir);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, off, 8), 8);
    close(fd);
    assert_int_equal(((uint64_t)off[4] << 24 | (uint64_t)off[5] << 16 | (uint64_t)off[6] << 8 | off[7]), size);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event),
        cmocka_unit_test_setup_teardown(test_deliver, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
