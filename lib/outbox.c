/*
 * outbox - reliable frame stream to a daemon socket (see outbox.h).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ipc_conn.h"
#include "log.h"
#include "net.h"
#include "outbox.h"
#include "proto.h"

#define OB_BACKOFF_MIN_MS 100
#define OB_BACKOFF_MAX_MS 2000

struct ob_item {
    uint32_t seq;
    int acked;
    void *tag;
    size_t len;
    char *bytes;            /* one encoded frame */
};

struct outbox {
    uv_loop_t *loop;
    char path[4096];
    char peer[32];
    uint32_t role;
    uint16_t ack_type;
    size_t max_pending;
    struct ipc_conn *conn;
    uv_timer_t *timer;      /* heap: closed asynchronously by outbox_free */
    unsigned backoff;
    int freeing;
    uint32_t seq;
    struct ob_item *ring;
    size_t cap, head, n;
    uint64_t dropped;
    outbox_done_fn done;
    void *done_arg;
};

static void ob_connect(uv_timer_t *t);

static struct ob_item *ob_at(struct outbox *ob, size_t i)
{
    return &ob->ring[(ob->head + i) % ob->cap];
}

static void ob_pop(struct outbox *ob, int acked)
{
    struct ob_item *it = ob_at(ob, 0);

    free(it->bytes);
    it->bytes = NULL;
    ob->head = (ob->head + 1) % ob->cap;
    ob->n--;
    if (ob->done)
        ob->done(it->tag, acked, ob->done_arg);
}

static void ob_schedule(struct outbox *ob)
{
    if (ob->freeing)
        return;
    (void)uv_timer_start(ob->timer, ob_connect, ob->backoff, 0);
    ob->backoff = ob->backoff * 2 > OB_BACKOFF_MAX_MS ? OB_BACKOFF_MAX_MS : ob->backoff * 2;
}

static int ob_send_item(struct outbox *ob, const struct ob_item *it)
{
    struct buf b;
    int rc;

    buf_init(&b, it->len);
    rc = buf_append(&b, it->bytes, it->len);
    if (rc == 0)
        rc = ipc_conn_send(ob->conn, &b);
    buf_free(&b);
    return rc;
}

/* ob_flush_unacked - without acknowledgements a frame handed to a live
 * connection is done. */
static void ob_flush_unacked(struct outbox *ob)
{
    if (ob->ack_type != 0)
        return;
    while (ob->n > 0 && ob_at(ob, 0)->acked)
        ob_pop(ob, 1);
}

static void ob_frame(struct ipc_conn *c, const struct ipc_frame *f)
{
    struct outbox *ob = ipc_conn_data(c);
    uint32_t off;

    if (ob->ack_type == 0 || f->type != ob->ack_type || ob->n == 0)
        return;
    off = f->reqid - ob_at(ob, 0)->seq;     /* sequence numbers wrap */
    if (off < ob->n)
        ob_at(ob, off)->acked = 1;
    while (ob->n > 0 && ob_at(ob, 0)->acked)
        ob_pop(ob, 1);
}

static void ob_closed(struct ipc_conn *c)
{
    struct outbox *ob = ipc_conn_data(c);

    ob->conn = NULL;
    if (ob->freeing) {
        free(ob);
        return;
    }
    {
        msg_warn("%s connection lost; %zu frames unacknowledged, reconnecting", ob->peer, ob->n);
        ob_schedule(ob);
    }
}

static void ob_connect(uv_timer_t *t)
{
    struct outbox *ob = t->data;
    struct msg_hello h = { ob->role, (uint32_t)getpid(), 0 };
    struct buf b;
    size_t i;
    int fd = net_connect_unix(ob->path);

    if (fd < 0) {
        ob_schedule(ob);
        return;
    }
    ob->conn = ipc_conn_new(ob->loop, ob_frame, ob_closed, ob);
    if (ob->conn == NULL) {
        close(fd);
        ob_schedule(ob);
        return;
    }
    if (ipc_conn_open_fd(ob->conn, fd) < 0) {
        close(fd);
        ipc_conn_close(ob->conn);
        return;
    }
    ob->backoff = OB_BACKOFF_MIN_MS;
    buf_init(&b, 64);
    if (msg_hello_encode(&b, &h) < 0 || ipc_conn_send(ob->conn, &b) < 0) {
        buf_free(&b);
        ipc_conn_close(ob->conn);
        return;
    }
    buf_free(&b);
    for (i = 0; i < ob->n; i++) {
        struct ob_item *it = ob_at(ob, i);

        if (it->acked)
            continue;
        if (ob_send_item(ob, it) < 0) {
            ipc_conn_close(ob->conn);
            return;
        }
        if (ob->ack_type == 0)
            it->acked = 1;
    }
    if (ob->n)
        msg_info("%s connected; sent %zu waiting frames", ob->peer, ob->n);
    ob_flush_unacked(ob);
}

struct outbox *outbox_new(uv_loop_t *loop, const char *socket_path, uint32_t role,
                          uint16_t ack_type, size_t max_pending, const char *peer_name)
{
    struct outbox *ob = calloc(1, sizeof(*ob));

    if (ob == NULL)
        return NULL;
    if (strlen(socket_path) >= sizeof(ob->path))
        goto fail;
    strcpy(ob->path, socket_path);
    snprintf(ob->peer, sizeof(ob->peer), "%s", peer_name);
    ob->loop = loop;
    ob->role = role;
    ob->ack_type = ack_type;
    ob->max_pending = max_pending ? max_pending : 1;
    ob->cap = 64;
    ob->ring = calloc(ob->cap, sizeof(*ob->ring));
    ob->timer = calloc(1, sizeof(*ob->timer));
    if (ob->ring == NULL || ob->timer == NULL || uv_timer_init(loop, ob->timer) != 0)
        goto fail;
    ob->timer->data = ob;
    ob->backoff = OB_BACKOFF_MIN_MS;
    ob_connect(ob->timer);
    return ob;
fail:
    free(ob->ring);
    free(ob->timer);
    free(ob);
    return NULL;
}

void outbox_on_done(struct outbox *ob, outbox_done_fn fn, void *arg)
{
    ob->done = fn;
    ob->done_arg = arg;
}

static int ob_grow(struct outbox *ob)
{
    size_t cap = ob->cap * 2, i;
    struct ob_item *r = calloc(cap, sizeof(*r));

    if (r == NULL)
        return -1;
    for (i = 0; i < ob->n; i++)
        r[i] = *ob_at(ob, i);
    free(ob->ring);
    ob->ring = r;
    ob->cap = cap;
    ob->head = 0;
    return 0;
}

int outbox_push(struct outbox *ob, outbox_encode_fn enc, const void *arg, void *tag)
{
    struct ob_item *it;
    struct buf b;
    size_t len;

    if (ob->n == ob->cap && ob->n < ob->max_pending && ob_grow(ob) < 0)
        return -1;
    buf_init(&b, IPC_MAX_PAYLOAD + IPC_HDR_LEN);
    if (enc(&b, ob->seq, arg) < 0) {
        buf_free(&b);
        return -1;
    }
    if (ob->n >= ob->max_pending || ob->n == ob->cap) {
        if (ob->dropped++ % 10000 == 0)
            msg_warn("%s: %zu frames unacknowledged; dropping the oldest", ob->peer, ob->n);
        ob_pop(ob, 0);
    }
    it = ob_at(ob, ob->n);
    it->seq = ob->seq++;
    it->acked = 0;
    it->tag = tag;
    it->bytes = buf_steal(&b, &len);
    it->len = len;
    if (it->bytes == NULL)
        return -1;
    ob->n++;
    if (ob->conn && !ipc_conn_closing(ob->conn)) {
        if (ob_send_item(ob, it) < 0)
            ipc_conn_close(ob->conn);
        else if (ob->ack_type == 0)
            it->acked = 1;
    }
    ob_flush_unacked(ob);
    return 0;
}

size_t outbox_pending(const struct outbox *ob)
{
    return ob->n;
}

void outbox_set_seq(struct outbox *ob, uint32_t seq)
{
    if (ob->n == 0)
        ob->seq = seq;
}

void outbox_each(const struct outbox *ob,
                 void (*fn)(void *tag, const void *bytes, size_t len, void *arg), void *arg)
{
    size_t i;

    for (i = 0; i < ob->n; i++) {
        const struct ob_item *it = &ob->ring[(ob->head + i) % ob->cap];

        fn(it->tag, it->bytes, it->len, arg);
    }
}

int outbox_connected(const struct outbox *ob)
{
    return ob->conn != NULL && !ipc_conn_closing(ob->conn);
}

static void ob_timer_closed(uv_handle_t *h)
{
    free(h);
}

void outbox_free(struct outbox *ob)
{
    if (ob == NULL)
        return;
    ob->freeing = 1;
    while (ob->n > 0)
        ob_pop(ob, 0);
    uv_close((uv_handle_t *)ob->timer, ob_timer_closed);
    free(ob->ring);
    ob->ring = NULL;
    /* the connection's close callback frees ob (it runs after this) */
    if (ob->conn)
        ipc_conn_close(ob->conn);
    else
        free(ob);
}
