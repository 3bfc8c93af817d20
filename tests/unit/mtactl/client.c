/* Unit tests: mtactl's control-socket client (mtactl/client.c) against a
 * real UNIX socket served by a forked child: request/reply round trip,
 * connection refused, and the reply timeout. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <cmocka.h>
#include "../../../mtactl/client.h"
#include "buf.h"
#include "ipc.h"
#include "net.h"
#include "proto.h"

static char dir[256], sock[300];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/courser-mtactl-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(sock, sizeof(sock), "%s/control.sock", dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[512];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* serve_one - child: accept one connection, read one CTL_REQUEST and
 * answer status 3 with the argv joined (or never answer). */
static void serve_one(int lfd, int answer)
{
    struct msg_ctl_request req;
    struct ipc_frame f;
    struct buf in, out;
    char text[1024] = "";
    size_t used;
    ssize_t n;
    uint32_t i;
    int c;

    /* the listener is non-blocking (lib/net.c): a child that got here
     * before the client connected saw EAGAIN and exited, and the client
     * then got "connection refused" or EOF (a flaky test) */
    if (fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) & ~O_NONBLOCK) < 0)
        _exit(1);
    c = accept(lfd, NULL, NULL);
    if (c < 0)
        _exit(1);
    buf_init(&in, 1 << 20);
    buf_init(&out, 1 << 20);
    for (;;) {
        if (buf_reserve(&in, 4096) < 0)
            _exit(1);
        n = read(c, in.data + in.len, 4096);
        if (n <= 0)
            _exit(1);
        in.len += (size_t)n;
        if (ipc_frame_parse(in.data, in.len, &f, &used) == 1)
            break;
    }
    if (msg_ctl_request_decode(&f, &req) < 0)
        _exit(1);
    for (i = 0; i < req.argc; i++) {
        strncat(text, req.argv[i], sizeof(text) - strlen(text) - 2);
        strcat(text, i + 1 < req.argc ? " " : "\n");
    }
    strncat(text, "second line\n", sizeof(text) - strlen(text) - 1);
    if (!answer) {
        sleep(3);
        _exit(0);
    }
    if (msg_ctl_reply_encode(&out, f.reqid, 3, text) < 0 || write(c, out.data, out.len) < 0)
        _exit(1);
    _exit(0);
}

static pid_t start_server(int answer)
{
    int lfd = net_listen_unix(sock);
    pid_t pid;

    assert_true(lfd >= 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* blocking accept in the child */
        serve_one(lfd, answer);
    }
    close(lfd);
    return pid;
}

static void test_round_trip(void **state)
{
    char *argv[] = { "show", "queues" };
    char err[256], *text = NULL;
    uint32_t status = 0;
    pid_t pid = start_server(1);
    int st;

    (void)state;
    assert_int_equal(client_request(sock, 2, argv, 5000, &status, &text, err, sizeof(err)), 0);
    assert_int_equal(status, 3);
    assert_string_equal(text, "show queues\nsecond line\n");
    free(text);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_no_server(void **state)
{
    char *argv[] = { "status" };
    char err[512], *text = NULL;
    uint32_t status;

    (void)state;
    assert_int_equal(client_request(sock, 1, argv, 1000, &status, &text, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot connect to "));
    assert_non_null(strstr(err, "control.sock: No such file or directory (is courser running?)"));
}

static void test_timeout(void **state)
{
    char *argv[] = { "status" };
    char err[512], *text = NULL;
    uint32_t status;
    pid_t pid = start_server(0);
    int st;

    (void)state;
    assert_int_equal(client_request(sock, 1, argv, 300, &status, &text, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no reply from master"));
    kill(pid, SIGKILL);
    (void)waitpid(pid, &st, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
