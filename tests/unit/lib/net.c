/*
 * Unit tests for lib/net.c: CIDR parsing and matching (IPv4, IPv6,
 * IPv4-mapped peers), sockaddr helpers, and real loopback sockets: TCP
 * listen + connect, UNIX listen (mode 0660, stale and live sockets, files
 * that are not sockets), UNIX connect.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net.h"

static struct sockaddr_storage addr(const char *ip)
{
    struct sockaddr_storage ss;
    socklen_t len;

    assert_int_equal(net_sockaddr(ip, 25, &ss, &len), 0);
    return ss;
}

static int matches(const char *cidr, const char *ip)
{
    struct cidr c;
    struct sockaddr_storage ss = addr(ip);

    assert_int_equal(cidr_parse(cidr, &c), 0);
    return cidr_match(&c, (struct sockaddr *)&ss);
}

static void test_cidr_parse(void **state)
{
    static const char *const bad[] = {
        "", "0", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/8x", "10.0.0.0/-1",
        "abc", "::1/129", "10.0.0/8", "1.2.3.4/ 8", "1.2.3.4/8/8",
    };
    struct cidr c;
    size_t i;

    assert_int_equal(cidr_parse("10.1.2.3/8", &c), 0);
    assert_int_equal(c.family, AF_INET);
    assert_int_equal(c.prefix, 8);
    assert_int_equal(c.addr[0], 10);
    assert_int_equal(c.addr[1], 0);     /* host bits cleared */
    assert_int_equal(cidr_parse("10.1.2.3/12", &c), 0);
    assert_int_equal(c.addr[1], 0);
    assert_int_equal(cidr_parse("10.31.2.3/12", &c), 0);
    assert_int_equal(c.addr[1], 16);
    assert_int_equal(cidr_parse("127.0.0.1", &c), 0);
    assert_int_equal(c.prefix, 32);
    assert_int_equal(cidr_parse("0/0", &c), 0);
    assert_int_equal(c.family, AF_INET);
    assert_int_equal(c.prefix, 0);
    assert_int_equal(cidr_parse("::/0", &c), 0);
    assert_int_equal(c.family, AF_INET6);
    assert_int_equal(cidr_parse("2001:db8::/32", &c), 0);
    assert_int_equal(c.prefix, 32);
    assert_int_equal(cidr_parse("::1", &c), 0);
    assert_int_equal(c.prefix, 128);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c.prefix = 77;
        assert_int_equal(cidr_parse(bad[i], &c), -1);
        assert_int_equal(c.prefix, 77);
    }
}

static void test_cidr_match(void **state)
{
    assert_true(matches("10.0.0.0/8", "10.255.1.2"));
    assert_false(matches("10.0.0.0/8", "11.0.0.1"));
    assert_true(matches("10.16.0.0/12", "10.31.255.255"));
    assert_false(matches("10.16.0.0/12", "10.32.0.0"));
    assert_true(matches("0/0", "203.0.113.9"));
    assert_true(matches("192.0.2.7", "192.0.2.7"));
    assert_false(matches("192.0.2.7", "192.0.2.8"));
    assert_true(matches("2001:db8::/32", "2001:db8:1::5"));
    assert_false(matches("2001:db8::/32", "2001:db9::5"));
    assert_true(matches("::/0", "::1"));
    /* families never mix, except IPv4-mapped peers on dual-stack sockets */
    assert_false(matches("::/0", "10.0.0.1"));
    assert_false(matches("0/0", "::1"));
    assert_true(matches("10.0.0.0/8", "::ffff:10.1.2.3"));
    assert_false(matches("10.0.0.0/8", "::ffff:11.1.2.3"));
    assert_false(cidr_match(NULL, NULL));
}

static void test_sockaddr(void **state)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char buf[64];

    assert_int_equal(net_sockaddr("192.0.2.1", 2525, &ss, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_int_equal(net_port((struct sockaddr *)&ss), 2525);
    assert_int_equal(net_ntop((struct sockaddr *)&ss, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "192.0.2.1");
    assert_int_equal(net_sockaddr("2001:db8::1", 25, &ss, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    assert_int_equal(net_ntop((struct sockaddr *)&ss, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2001:db8::1");
    assert_int_equal(net_ntop((struct sockaddr *)&ss, buf, 4), -1);
    assert_int_equal(net_sockaddr("localhost", 25, &ss, &len), -1);
    assert_int_equal(net_sockaddr("[::1]", 25, &ss, &len), -1);
}

static void test_listen_tcp(void **state)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int lfd, cfd, afd;

    lfd = net_listen_tcp("127.0.0.1", 0);
    assert_true(lfd >= 0);
    assert_true(fcntl(lfd, F_GETFL) & O_NONBLOCK);
    assert_false(fcntl(lfd, F_GETFD) & FD_CLOEXEC);     /* master hands it down */
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
    assert_true(net_port((struct sockaddr *)&ss) != 0);
    cfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(cfd >= 0);
    assert_int_equal(connect(cfd, (struct sockaddr *)&ss, len), 0);
    afd = accept(lfd, NULL, NULL);
    assert_true(afd >= 0);
    close(afd);
    close(cfd);
    /* the same port again while it is open */
    errno = 0;
    assert_int_equal(net_listen_tcp("127.0.0.1", net_port((struct sockaddr *)&ss)), -1);
    assert_int_equal(errno, EADDRINUSE);
    close(lfd);
    errno = 0;
    assert_int_equal(net_listen_tcp("not-an-ip", 25), -1);
    assert_int_equal(errno, EINVAL);
    lfd = net_listen_tcp("::1", 0);
    if (lfd >= 0)               /* hosts without IPv6 loopback skip this */
        close(lfd);
}

static void test_unix(void **state)
{
    char dir[] = "/tmp/courser-net-XXXXXX", path[256], longpath[200];
    struct stat st;
    int lfd, lfd2, cfd, afd, fd;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/s.sock", dir);
    lfd = net_listen_unix(path);
    assert_true(lfd >= 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0660);

    cfd = net_connect_unix(path);
    assert_true(cfd >= 0);
    assert_true(fcntl(cfd, F_GETFL) & O_NONBLOCK);
    afd = accept(lfd, NULL, NULL);
    assert_true(afd >= 0);
    assert_int_equal(write(cfd, "x", 1), 1);
    close(afd);
    close(cfd);

    /* a live socket is not stolen */
    errno = 0;
    assert_int_equal(net_listen_unix(path), -1);
    assert_int_equal(errno, EADDRINUSE);
    /* a stale one (listener gone, file left) is replaced */
    close(lfd);
    lfd2 = net_listen_unix(path);
    assert_true(lfd2 >= 0);
    close(lfd2);
    unlink(path);
    errno = 0;
    assert_int_equal(net_connect_unix(path), -1);
    assert_int_equal(errno, ENOENT);

    /* a regular file is never removed */
    fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    errno = 0;
    assert_int_equal(net_listen_unix(path), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(stat(path, &st), 0);
    unlink(path);

    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    errno = 0;
    assert_int_equal(net_listen_unix(longpath), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    assert_int_equal(net_connect_unix(longpath), -1);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_parse),
        cmocka_unit_test(test_cidr_match),
        cmocka_unit_test(test_sockaddr),
        cmocka_unit_test(test_listen_tcp),
        cmocka_unit_test(test_unix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
