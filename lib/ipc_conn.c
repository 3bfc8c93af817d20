/*
 * ipc_conn - framed IPC over a libuv pipe.
 *
 * Outgoing frames accumulate in `out` while one uv_write of `wbuf` is in
 * flight; when it completes the two are swapped.  So a burst of sends
 * becomes one write(2) per loop turn instead of one per frame.
 * Lifecycle: the object is freed only in the uv close callback (STYLE.md
 * habit 4); on_close runs just before that, exactly once.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "ipc_conn.h"
#include "log.h"

#define IPC_CONN_READ_CHUNK   (64 * 1024)
#define IPC_CONN_MAX_PENDING  (64u * 1024 * 1024)

struct ipc_conn {
    uv_pipe_t pipe;
    uv_write_t wreq;
    ipc_frame_cb on_frame;
    ipc_close_cb on_close;
    void *data;
    struct buf in;
    struct buf out;         /* frames waiting for the next write */
    struct buf wbuf;        /* bytes of the write in flight */
    int writing;
    int closing;
    int close_after_flush;
    int opened;
};

struct ipc_conn *ipc_conn_new(uv_loop_t *loop, ipc_frame_cb on_frame,
                              ipc_close_cb on_close, void *data)
{
    struct ipc_conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    if (uv_pipe_init(loop, &c->pipe, 0) != 0) {
        free(c);
        return NULL;
    }
    c->pipe.data = c;
    c->on_frame = on_frame;
    c->on_close = on_close;
    c->data = data;
    buf_init(&c->in, IPC_MAX_PAYLOAD + IPC_HDR_LEN + IPC_CONN_READ_CHUNK);
    buf_init(&c->out, IPC_CONN_MAX_PENDING);
    buf_init(&c->wbuf, IPC_CONN_MAX_PENDING);
    return c;
}

static void conn_closed(uv_handle_t *h)
{
    struct ipc_conn *c = h->data;

    if (c->on_close)
        c->on_close(c);
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->wbuf);
    free(c);
}

void ipc_conn_close(struct ipc_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

void ipc_conn_close_after_flush(struct ipc_conn *c)
{
    if (!c->writing && c->out.len == 0)
        ipc_conn_close(c);
    else
        c->close_after_flush = 1;
}

int ipc_conn_closing(const struct ipc_conn *c)
{
    return c->closing;
}

void *ipc_conn_data(const struct ipc_conn *c)
{
    return c->data;
}

void ipc_conn_set_data(struct ipc_conn *c, void *data)
{
    c->data = data;
}

size_t ipc_conn_pending(const struct ipc_conn *c)
{
    return c->out.len + c->wbuf.len;
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct ipc_conn *c = h->data;

    if (buf_reserve(&c->in, IPC_CONN_READ_CHUNK) < 0) {
        b->base = NULL;
        b->len = 0;
        return;
    }
    b->base = c->in.data + c->in.len;
    b->len = IPC_CONN_READ_CHUNK;
}

static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct ipc_conn *c = s->data;
    struct ipc_frame f;
    size_t off = 0, used;
    int r;

    if (nread < 0) {
        if (nread != UV_EOF)
            msg_debug("ipc read: %s", uv_strerror((int)nread));
        ipc_conn_close(c);
        return;
    }
    if (nread == 0 || c->closing)
        return;
    c->in.len += (size_t)nread;
    while (!c->closing) {
        r = ipc_frame_parse(c->in.data + off, c->in.len - off, &f, &used);
        if (r == 0)
            break;
        if (r < 0) {
            msg_warn("ipc: malformed frame header; closing connection");
            ipc_conn_close(c);
            return;
        }
        off += used;
        c->on_frame(c, &f);
    }
    if (!c->closing)
        buf_consume(&c->in, off);
}

static int conn_start(struct ipc_conn *c)
{
    int r = uv_read_start((uv_stream_t *)&c->pipe, conn_alloc, conn_read);

    if (r == 0)
        c->opened = 1;
    return r == 0 ? 0 : -1;
}

int ipc_conn_open_fd(struct ipc_conn *c, int fd)
{
    if (uv_pipe_open(&c->pipe, fd) != 0)
        return -1;
    return conn_start(c);
}

int ipc_conn_accept(struct ipc_conn *c, uv_stream_t *server)
{
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0)
        return -1;
    return conn_start(c);
}

static void conn_flush(struct ipc_conn *c);

static void conn_written(uv_write_t *req, int status)
{
    struct ipc_conn *c = req->data;

    c->writing = 0;
    buf_reset(&c->wbuf);
    if (status < 0) {
        if (status != UV_ECANCELED)
            msg_debug("ipc write: %s", uv_strerror(status));
        ipc_conn_close(c);
        return;
    }
    if (c->closing)
        return;
    if (c->out.len > 0)
        conn_flush(c);
    else if (c->close_after_flush)
        ipc_conn_close(c);
}

static void conn_flush(struct ipc_conn *c)
{
    struct buf t;
    uv_buf_t b;

    if (c->writing || c->out.len == 0 || c->closing)
        return;
    t = c->wbuf;
    c->wbuf = c->out;
    c->out = t;
    buf_reset(&c->out);
    b = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->pipe, &b, 1, conn_written) != 0) {
        ipc_conn_close(c);
        return;
    }
    c->writing = 1;
}

int ipc_conn_send(struct ipc_conn *c, const struct buf *msg)
{
    if (c->closing || !c->opened)
        return -1;
    if (msg->len > IPC_CONN_MAX_PENDING - ipc_conn_pending(c))
        return -1;
    if (buf_append(&c->out, msg->data, msg->len) < 0)
        return -1;
    conn_flush(c);
    return c->closing ? -1 : 0;
}

int ipc_conn_send_empty(struct ipc_conn *c, uint16_t type, uint32_t reqid)
{
    struct buf b;
    size_t start;
    int r = -1;

    buf_init(&b, IPC_HDR_LEN);
    if (ipc_begin(&b, type, reqid, &start) == 0 && ipc_end(&b, start) == 0)
        r = ipc_conn_send(c, &b);
    buf_free(&b);
    return r;
}

long ipc_conn_peer_uid(const struct ipc_conn *c)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    uv_os_fd_t fd;

    if (uv_fileno((const uv_handle_t *)&c->pipe, &fd) != 0)
        return -1;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return -1;
    return (long)cred.uid;
}
