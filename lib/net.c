/*
 * net - CIDR ranges, sockaddr helpers and socket set-up shared by every
 * network daemon (see net.h).
 *
 * Owns: cidr_parse/cidr_match (used by config's <source> blocks and
 * smtpd's relay checks), the listening sockets master creates and hands
 * down, and the client side of the UNIX control/IPC sockets.  Failures
 * return -1 with errno set so the caller can log strerror(errno).
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define NET_BACKLOG 4096

/* cidr_mask - clear the host bits so that "10.1.2.3/8" means 10.0.0.0/8. */
static void cidr_mask(struct cidr *c)
{
    unsigned bytes = c->family == AF_INET ? 4 : 16;
    unsigned i;

    for (i = 0; i < bytes; i++) {
        unsigned bit0 = i * 8;
        if (bit0 >= c->prefix)
            c->addr[i] = 0;
        else if (c->prefix - bit0 < 8)
            c->addr[i] &= (unsigned char)(0xff << (8 - (c->prefix - bit0)));
    }
}

int cidr_parse(const char *s, struct cidr *out)
{
    char ip[64];
    const char *slash;
    size_t len;
    struct cidr c;
    unsigned long prefix;
    char *end;

    if (s == NULL)
        return -1;
    memset(&c, 0, sizeof(c));
    slash = strchr(s, '/');
    len = slash ? (size_t)(slash - s) : strlen(s);
    if (len == 0 || len >= sizeof(ip))
        return -1;
    memcpy(ip, s, len);
    ip[len] = '\0';
    if (strcmp(ip, "0") == 0) {
        c.family = AF_INET;     /* PowerMTA's "0/0": all of IPv4 */
    } else if (inet_pton(AF_INET, ip, c.addr) == 1) {
        c.family = AF_INET;
    } else if (inet_pton(AF_INET6, ip, c.addr) == 1) {
        c.family = AF_INET6;
    } else {
        return -1;
    }
    c.prefix = c.family == AF_INET ? 32 : 128;
    if (slash != NULL) {
        if (slash[1] < '0' || slash[1] > '9')
            return -1;
        errno = 0;
        prefix = strtoul(slash + 1, &end, 10);
        if (errno != 0 || *end != '\0' || prefix > c.prefix)
            return -1;
        c.prefix = (unsigned)prefix;
    } else if (strcmp(ip, "0") == 0) {
        return -1;
    }
    cidr_mask(&c);
    *out = c;
    return 0;
}

/* prefix_equal - whether the first bits bits of a and b agree. */
static int prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;

    if (memcmp(a, b, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    return ((a[full] ^ b[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

int cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
    static const unsigned char v4mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
    const unsigned char *a;

    if (c == NULL || sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET) {
        if (c->family != AF_INET)
            return 0;
        a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
        return prefix_equal(a, c->addr, c->prefix);
    }
    if (sa->sa_family != AF_INET6)
        return 0;
    a = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (c->family == AF_INET6)
        return prefix_equal(a, c->addr, c->prefix);
    /* An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d;
     * IPv4 ranges must still match it. */
    if (memcmp(a, v4mapped, sizeof(v4mapped)) != 0)
        return 0;
    return prefix_equal(a + 12, c->addr, c->prefix);
}

int net_sockaddr(const char *ip, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;

    if (ip == NULL || ss == NULL || len == NULL) {
        errno = EINVAL;
        return -1;
    }
    memset(&sin, 0, sizeof(sin));
    memset(&sin6, 0, sizeof(sin6));
    if (inet_pton(AF_INET, ip, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons(port);
        memset(ss, 0, sizeof(*ss));
        memcpy(ss, &sin, sizeof(sin));
        *len = sizeof(sin);
        return 0;
    }
    if (inet_pton(AF_INET6, ip, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(port);
        memset(ss, 0, sizeof(*ss));
        memcpy(ss, &sin6, sizeof(sin6));
        *len = sizeof(sin6);
        return 0;
    }
    errno = EINVAL;
    return -1;
}

int net_ntop(const struct sockaddr *sa, char *out, size_t outlen)
{
    const void *a;
    int family;

    if (sa == NULL || out == NULL || outlen == 0) {
        errno = EINVAL;
        return -1;
    }
    family = sa->sa_family;
    if (family == AF_INET)
        a = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (family == AF_INET6)
        a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    else {
        errno = EAFNOSUPPORT;
        return -1;
    }
    if (outlen > (socklen_t)-1)
        outlen = (socklen_t)-1;
    return inet_ntop(family, a, out, (socklen_t)outlen) ? 0 : -1;
}

uint16_t net_port(const struct sockaddr *sa)
{
    if (sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

int net_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -1;
    if (fl & O_NONBLOCK)
        return 0;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

/* close_keep_errno - close fd on an error path without losing errno. */
static int close_keep_errno(int fd)
{
    int e = errno;

    (void)close(fd);
    errno = e;
    return -1;
}

/* The socket is deliberately not close-on-exec: master creates it and
 * passes it to the daemon it execs (COURSER_LISTEN_FDS). */
int net_listen_tcp(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1;

    if (net_sockaddr(ip, port, &ss, &len) < 0)
        return -1;
    fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        return close_keep_errno(fd);
    /* "::" and "0.0.0.0" are separate listeners in the config; without
     * V6ONLY the second bind would fail with EADDRINUSE. */
    if (ss.ss_family == AF_INET6
        && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        return close_keep_errno(fd);
    /* Inherited by accepted sockets on Linux: SMTP replies are small and
     * pipelined, Nagle only adds latency. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        return close_keep_errno(fd);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, NET_BACKLOG) < 0
        || net_set_nonblock(fd) < 0)
        return close_keep_errno(fd);
    return fd;
}

/* unix_addr - fill sun from path; ENAMETOOLONG if it does not fit. */
static int unix_addr(const char *path, struct sockaddr_un *sun)
{
    size_t n;

    if (path == NULL) {
        errno = EINVAL;
        return -1;
    }
    n = strlen(path);
    memset(sun, 0, sizeof(*sun));
    if (n == 0 || n >= sizeof(sun->sun_path)) {
        errno = n == 0 ? EINVAL : ENAMETOOLONG;
        return -1;
    }
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n + 1);
    return 0;
}

/* unix_remove_stale - unlink path if it is a socket nobody listens on.
 * A live socket (another instance running) gives EADDRINUSE; a file that
 * is not a socket is never removed (EEXIST). */
static int unix_remove_stale(const char *path, const struct sockaddr_un *sun)
{
    struct stat st;
    int fd, rc;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISSOCK(st.st_mode)) {
        errno = EEXIST;
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
    (void)close(fd);
    if (rc == 0) {
        errno = EADDRINUSE;
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT)
        return -1;
    return 0;
}

int net_listen_unix(const char *path)
{
    struct sockaddr_un sun;
    mode_t old;
    int fd, rc;

    if (unix_addr(path, &sun) < 0 || unix_remove_stale(path, &sun) < 0)
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    /* bind creates the file with the umask applied: narrow it so the
     * socket is never world-accessible, even for an instant. */
    old = umask(0117);
    rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    (void)umask(old);
    if (rc < 0)
        return close_keep_errno(fd);
    if (chmod(path, 0660) < 0 || listen(fd, NET_BACKLOG) < 0 || net_set_nonblock(fd) < 0) {
        int e = errno;
        (void)unlink(path);
        (void)close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int net_connect_unix(const char *path)
{
    struct sockaddr_un sun;
    int fd;

    if (unix_addr(path, &sun) < 0)
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || net_set_nonblock(fd) < 0)
        return close_keep_errno(fd);
    return fd;
}
