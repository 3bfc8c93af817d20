/*
 * client - blocking control-socket client for mtactl (see client.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "buf.h"
#include "client.h"
#include "ipc.h"
#include "net.h"
#include "proto.h"

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait_fd - poll for events until the deadline: 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
    struct pollfd p = { .fd = fd, .events = events };
    long long left;
    int r;

    for (;;) {
        left = deadline - now_ms();
        if (left <= 0)
            return 0;
        r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static int send_all(int fd, const char *p, size_t n, long long deadline, char *err,
                    size_t errlen)
{
    ssize_t w;
    int r;

    while (n > 0) {
        w = write(fd, p, n);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if ((r = wait_fd(fd, POLLOUT, deadline)) <= 0) {
                snprintf(err, errlen, r == 0 ? "timed out sending the request"
                                             : "poll: %s", strerror(errno));
                return -1;
            }
            continue;
        }
        if (w < 0) {
            snprintf(err, errlen, "cannot send the request: %s", strerror(errno));
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* read_reply - read until one complete frame is in in. */
static int read_reply(int fd, struct buf *in, struct ipc_frame *f, long long deadline,
                      char *err, size_t errlen)
{
    size_t used;
    ssize_t n;
    int r;

    for (;;) {
        r = ipc_frame_parse(in->data ? in->data : "", in->len, f, &used);
        if (r > 0)
            return 0;
        if (r < 0) {
            snprintf(err, errlen, "malformed reply from master");
            return -1;
        }
        if (buf_reserve(in, 65536) < 0) {
            snprintf(err, errlen, "reply too large");
            return -1;
        }
        n = read(fd, in->data + in->len, 65536);
        if (n > 0) {
            in->len += (size_t)n;
            in->data[in->len] = '\0';
            continue;
        }
        if (n == 0) {
            snprintf(err, errlen, "master closed the connection without replying");
            return -1;
        }
        if (errno != EAGAIN && errno != EINTR) {
            snprintf(err, errlen, "read: %s", strerror(errno));
            return -1;
        }
        if ((r = wait_fd(fd, POLLIN, deadline)) <= 0) {
            snprintf(err, errlen, r == 0 ? "no reply from master within %d s" : "poll failed",
                     CLIENT_TIMEOUT_MS / 1000);
            return -1;
        }
    }
}

int client_request(const char *path, int argc, char *const argv[], int timeout_ms,
                   uint32_t *status, char **text, char *err, size_t errlen)
{
    long long deadline = now_ms() + timeout_ms;
    struct msg_ctl_reply rep;
    struct ipc_frame f;
    struct buf out, in;
    int fd, rc = -1;

    fd = net_connect_unix(path);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot connect to %s: %s%s", path, strerror(e),
                 e == ENOENT || e == ECONNREFUSED ? " (is courser running?)" : "");
        return -1;
    }
    buf_init(&out, IPC_MAX_PAYLOAD);
    buf_init(&in, IPC_MAX_PAYLOAD + IPC_HDR_LEN + 65536);
    if (msg_ctl_request_encode(&out, 1, argc, argv) < 0) {
        snprintf(err, errlen, "command too long");
        goto done;
    }
    if (send_all(fd, out.data, out.len, deadline, err, errlen) < 0
        || read_reply(fd, &in, &f, deadline, err, errlen) < 0)
        goto done;
    if (f.type != IPC_CTL_REPLY || msg_ctl_reply_decode(&f, &rep) < 0) {
        snprintf(err, errlen, "malformed reply from master");
        goto done;
    }
    *status = rep.status;
    *text = rep.text;
    rep.text = NULL;
    rc = 0;
done:
    buf_free(&out);
    buf_free(&in);
    close(fd);
    return rc;
}
