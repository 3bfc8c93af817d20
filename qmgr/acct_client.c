/*
 * acct_client - accounting records to acctd over run_dir/acctd.sock.
 *
 * Each ACCT frame carries a sequence number as its reqid; acctd answers
 * ACCT_ACK with that reqid once the record is written.  Records stay in a
 * bounded ring until acknowledged and are all resent, in order, after a
 * reconnect (at-least-once: acctd may see a record twice).  When the ring
 * is full (acctd down for long) the oldest records are dropped with a
 * warning rather than letting qmgr's memory grow without bound.
 * Reconnects back off from 100 ms doubling to 2 s.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "acct_client.h"
#include "ipc_conn.h"
#include "log.h"
#include "net.h"
#include "proto.h"

#define ACCT_UNACKED_MAX  200000
#define BACKOFF_MIN_MS    100
#define BACKOFF_MAX_MS    2000

struct pend {
    uint32_t seq;
    int acked;
    size_t len;
    char *bytes;            /* one encoded ACCT frame */
};

static struct {
    uv_loop_t *loop;
    char path[4096];
    struct ipc_conn *conn;
    uv_timer_t timer;
    unsigned backoff;
    int stopped;
    uint32_t seq;
    struct pend *ring;
    size_t cap, head, n;    /* ring of unacknowledged records */
    uint64_t dropped;
} ac;

static void ac_connect(uv_timer_t *t);

static void ac_schedule(void)
{
    if (ac.stopped)
        return;
    (void)uv_timer_start(&ac.timer, ac_connect, ac.backoff, 0);
    ac.backoff = ac.backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ac.backoff * 2;
}

static struct pend *ring_at(size_t i)
{
    return &ac.ring[(ac.head + i) % ac.cap];
}

static void ring_pop(void)
{
    free(ring_at(0)->bytes);
    ac.head = (ac.head + 1) % ac.cap;
    ac.n--;
}

static int ac_send_bytes(const struct pend *p)
{
    struct buf b;
    int rc;

    buf_init(&b, p->len);
    rc = buf_append(&b, p->bytes, p->len);
    if (rc == 0)
        rc = ipc_conn_send(ac.conn, &b);
    buf_free(&b);
    return rc;
}

static void ac_frame(struct ipc_conn *c, const struct ipc_frame *f)
{
    uint32_t off;

    if (f->type != IPC_ACCT_ACK || ac.n == 0)
        return;
    off = f->reqid - ring_at(0)->seq;   /* sequence numbers wrap */
    if (off < ac.n)
        ring_at(off)->acked = 1;
    while (ac.n > 0 && ring_at(0)->acked)
        ring_pop();
}

static void ac_closed(struct ipc_conn *c)
{
    ac.conn = NULL;
    if (!ac.stopped) {
        msg_warn("acctd connection lost; %zu records unacknowledged, reconnecting", ac.n);
        ac_schedule();
    }
}

static void ac_connect(uv_timer_t *t)
{
    struct msg_hello h = { ROLE_QMGR, (uint32_t)getpid(), 0 };
    struct buf b;
    size_t i;
    int fd = net_connect_unix(ac.path);

    if (fd < 0) {
        ac_schedule();
        return;
    }
    ac.conn = ipc_conn_new(ac.loop, ac_frame, ac_closed, NULL);
    if (ac.conn == NULL) {
        close(fd);
        ac_schedule();
        return;
    }
    if (ipc_conn_open_fd(ac.conn, fd) < 0) {
        close(fd);
        ipc_conn_close(ac.conn);
        return;
    }
    ac.backoff = BACKOFF_MIN_MS;
    buf_init(&b, 64);
    if (msg_hello_encode(&b, &h) < 0 || ipc_conn_send(ac.conn, &b) < 0) {
        buf_free(&b);
        ipc_conn_close(ac.conn);
        return;
    }
    buf_free(&b);
    for (i = 0; i < ac.n; i++)
        if (!ring_at(i)->acked && ac_send_bytes(ring_at(i)) < 0) {
            ipc_conn_close(ac.conn);
            return;
        }
    if (ac.n)
        msg_info("acctd connected; resent %zu records", ac.n);
}

int acct_client_start(uv_loop_t *loop, const char *socket_path)
{
    memset(&ac, 0, sizeof(ac));
    ac.loop = loop;
    if (strlen(socket_path) >= sizeof(ac.path))
        return -1;
    strcpy(ac.path, socket_path);
    ac.cap = 1024;
    ac.ring = calloc(ac.cap, sizeof(*ac.ring));
    if (ac.ring == NULL || uv_timer_init(loop, &ac.timer) != 0)
        return -1;
    ac.backoff = BACKOFF_MIN_MS;
    ac_connect(&ac.timer);
    return 0;
}

static int ring_grow(void)
{
    size_t cap = ac.cap * 2, i;
    struct pend *r = calloc(cap, sizeof(*r));

    if (r == NULL)
        return -1;
    for (i = 0; i < ac.n; i++)
        r[i] = *ring_at(i);
    free(ac.ring);
    ac.ring = r;
    ac.cap = cap;
    ac.head = 0;
    return 0;
}

void acct_client_send(const struct acct_record *r)
{
    struct buf b;
    struct pend *p;
    size_t len;

    if (ac.ring == NULL)
        return;
    if (ac.n >= ACCT_UNACKED_MAX) {
        if (ac.dropped++ % 10000 == 0)
            msg_warn("acctd: %zu records unacknowledged; dropping the oldest", ac.n);
        ring_pop();
    }
    if (ac.n == ac.cap && ring_grow() < 0) {
        msg_warn("acctd: out of memory; accounting record dropped");
        return;
    }
    buf_init(&b, IPC_MAX_PAYLOAD);
    if (msg_acct_encode(&b, ac.seq, r) < 0) {
        buf_free(&b);
        msg_warn("acctd: accounting record too large; dropped");
        return;
    }
    p = ring_at(ac.n);
    p->seq = ac.seq++;
    p->acked = 0;
    p->bytes = buf_steal(&b, &len);
    p->len = len;
    ac.n++;
    if (ac.conn && !ipc_conn_closing(ac.conn) && ac_send_bytes(p) < 0)
        ipc_conn_close(ac.conn);
}

size_t acct_client_unacked(void)
{
    return ac.n;
}

void acct_client_stop(void)
{
    ac.stopped = 1;
    if (ac.conn)
        ipc_conn_close(ac.conn);
    uv_close((uv_handle_t *)&ac.timer, NULL);
    while (ac.n > 0)
        ring_pop();
}
