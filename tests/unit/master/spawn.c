/* Unit tests: master/spawn.c starts a real child: the passed sockets land
 * on fds 3, 4, ... named by COURSER_LISTEN_FDS, nothing else leaks, and an
 * exec failure is reported to the caller. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/wait.h>
#include <linux/close_range.h>
#include <cmocka.h>
#include "../../../master/spawn.h"

static void read_all(int fd, char *out, size_t outlen)
{
    size_t off = 0;
    ssize_t n;

    while (off + 1 < outlen && (n = read(fd, out + off, outlen - 1 - off)) > 0)
        off += (size_t)n;
    out[off] = '\0';
}

static void test_fds_renumbered(void **state)
{
    /* The child writes to fd 3 and fd 4 (the two passed pipes' write ends)
     * and reports whether fd 5 or the parent's extra pipe is open. */
    char *const argv[] = { "/bin/sh", "-c",
        "echo \"env=$COURSER_LISTEN_FDS\" >&3; echo second >&4; "
        "for i in 5 6 7 8 9 10 11 12; do [ -e /proc/$$/fd/$i ] && echo leak$i >&3; done; true", NULL };
    int a[2], b[2], extra[2], fds[2];
    struct spawn_req r;
    char err[256], out[256];
    pid_t pid;
    int st;

    (void)state;
    /* like master at start-up: whatever the test runner passed us stays here */
    assert_int_equal(close_range(3, ~0u, CLOSE_RANGE_CLOEXEC), 0);
    /* master marks every descriptor close-on-exec; spawn must still pass
     * the chosen ones, and its temporary copies must not leak */
    assert_int_equal(pipe2(a, O_CLOEXEC), 0);
    assert_int_equal(pipe2(b, O_CLOEXEC), 0);
    assert_int_equal(pipe2(extra, O_CLOEXEC), 0);
    fds[0] = b[1];  /* deliberately crossed: b first */
    fds[1] = a[1];
    memset(&r, 0, sizeof(r));
    r.path = "/bin/sh";
    r.argv = argv;
    r.fds = fds;
    r.nfds = 2;
    pid = spawn_daemon(&r, err, sizeof(err));
    assert_true(pid > 0);
    close(a[1]);
    close(b[1]);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    read_all(b[0], out, sizeof(out));
    assert_string_equal(out, "env=3,4\n");
    read_all(a[0], out, sizeof(out));
    assert_string_equal(out, "second\n");
    close(a[0]);
    close(b[0]);
    close(extra[0]);
    close(extra[1]);
}

static void test_exec_failure_reported(void **state)
{
    char *const argv[] = { "/nonexistent/courser-daemon", NULL };
    struct spawn_req r;
    char err[256];
    int st;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.path = argv[0];
    r.argv = argv;
    assert_int_equal(spawn_daemon(&r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/courser-daemon: No such file or directory"));
    (void)wait(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fds_renumbered),
        cmocka_unit_test(test_exec_failure_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
