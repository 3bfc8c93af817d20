/*
 * queue_notify - smtpd's connection to qmgr: HELLO{ROLE_SMTPD}, then one
 * MSG_NEW{queue id} per committed message.
 *
 * Notices never block a session: while qmgr is unreachable they wait in a
 * bounded ring and go out on reconnect (backoff 100 ms doubling to 2 s).
 * Bytes handed to the connection may still be lost when it drops, so the
 * last NOTIFY_RECENT ids sent are sent again after every reconnect; qmgr
 * dedupes by queue id.  A notice that falls out of the full ring is only
 * delayed, never lost: the file is in the spool, and qmgr scans the spool
 * when it starts.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "smtpd.h"
#include "ipc_conn.h"
#include "log.h"
#include "net.h"
#include "proto.h"

#define NOTIFY_PENDING_MAX 65536
#define NOTIFY_RECENT      256
#define NOTIFY_BACKOFF_MIN 100
#define NOTIFY_BACKOFF_MAX 2000

struct id_ring {
    char (*ids)[QUEUE_ID_SIZE];
    size_t cap, head, count;
};

static struct {
    uv_loop_t *loop;
    char path[PATH_MAX];
    struct ipc_conn *conn;
    int connected;              /* HELLO sent on conn */
    uv_timer_t timer;
    int timer_init;
    uint64_t backoff;
    int stopping;
    struct id_ring pending;     /* not yet handed to a connection */
    struct id_ring recent;      /* handed over last: resent on reconnect */
} nt;

static char pend_mem[NOTIFY_PENDING_MAX][QUEUE_ID_SIZE];
static char recent_mem[NOTIFY_RECENT][QUEUE_ID_SIZE];

/* ring_push - append; a full ring drops its oldest entry. */
static int ring_push(struct id_ring *r, const char *id)
{
    int dropped = 0;

    if (r->count == r->cap) {
        r->head = (r->head + 1) % r->cap;
        r->count--;
        dropped = 1;
    }
    snprintf(r->ids[(r->head + r->count) % r->cap], QUEUE_ID_SIZE, "%s", id);
    r->count++;
    return dropped;
}

static void notify_schedule(void);

/* notify_send - one MSG_NEW on the live connection.  0 or -1. */
static int notify_send(const char *id)
{
    struct msg_new m;
    struct buf b;
    int r;

    if (nt.conn == NULL || !nt.connected)
        return -1;
    snprintf(m.queue_id, sizeof(m.queue_id), "%s", id);
    buf_init(&b, 256);
    r = msg_new_encode(&b, &m) == 0 ? ipc_conn_send(nt.conn, &b) : -1;
    buf_free(&b);
    return r;
}

/* notify_drain - hand every pending notice to the connection. */
static void notify_drain(void)
{
    while (nt.pending.count > 0) {
        const char *id = nt.pending.ids[nt.pending.head];

        if (notify_send(id) < 0)
            return;
        ring_push(&nt.recent, id);
        nt.pending.head = (nt.pending.head + 1) % nt.pending.cap;
        nt.pending.count--;
    }
}

static void notify_frame(struct ipc_conn *c, const struct ipc_frame *f)
{
    /* qmgr sends smtpd nothing today; anything is ignored. */
}

static void notify_closed(struct ipc_conn *c)
{
    if (c != nt.conn)
        return;
    nt.conn = NULL;
    nt.connected = 0;
    if (!nt.stopping) {
        msg_warn("lost connection to qmgr; %zu notices waiting", nt.pending.count);
        notify_schedule();
    }
}

static void notify_connect(void)
{
    struct msg_hello h = { ROLE_SMTPD, (uint32_t)getpid(), 0 };
    struct buf b;
    size_t i;
    int fd, r;

    if (nt.stopping || nt.conn != NULL)
        return;
    fd = net_connect_unix(nt.path);
    if (fd < 0) {
        notify_schedule();
        return;
    }
    nt.conn = ipc_conn_new(nt.loop, notify_frame, notify_closed, NULL);
    if (nt.conn == NULL || ipc_conn_open_fd(nt.conn, fd) < 0) {
        close(fd);
        if (nt.conn != NULL)
            ipc_conn_close(nt.conn);    /* notify_closed reschedules */
        else
            notify_schedule();
        return;
    }
    buf_init(&b, 256);
    r = msg_hello_encode(&b, &h) == 0 ? ipc_conn_send(nt.conn, &b) : -1;
    buf_free(&b);
    if (r < 0) {
        ipc_conn_close(nt.conn);
        return;
    }
    nt.connected = 1;
    nt.backoff = 0;
    msg_debug("connected to qmgr");
    for (i = 0; i < nt.recent.count; i++)
        if (notify_send(nt.recent.ids[(nt.recent.head + i) % nt.recent.cap]) < 0)
            break;
    notify_drain();
}

static void notify_timer(uv_timer_t *t)
{
    notify_connect();
}

static void notify_schedule(void)
{
    if (nt.stopping || !nt.timer_init || uv_is_active((uv_handle_t *)&nt.timer))
        return;
    nt.backoff = nt.backoff == 0 ? NOTIFY_BACKOFF_MIN : nt.backoff * 2;
    if (nt.backoff > NOTIFY_BACKOFF_MAX)
        nt.backoff = NOTIFY_BACKOFF_MAX;
    uv_timer_start(&nt.timer, notify_timer, nt.backoff, 0);
}

void notify_init(uv_loop_t *loop, const char *run_dir)
{
    nt.loop = loop;
    if (snprintf(nt.path, sizeof(nt.path), "%s/qmgr.sock", run_dir) >= (int)sizeof(nt.path))
        msg_fatal("run-dir path too long: %s", run_dir);
    nt.pending.ids = pend_mem;
    nt.pending.cap = NOTIFY_PENDING_MAX;
    nt.recent.ids = recent_mem;
    nt.recent.cap = NOTIFY_RECENT;
    if (uv_timer_init(loop, &nt.timer) != 0)
        msg_fatal("uv_timer_init failed");
    nt.timer_init = 1;
    notify_connect();
}

void notify_new(const char *qid)
{
    if (nt.pending.cap == 0)
        return;                 /* notify_init not called: nobody to tell */
    if (ring_push(&nt.pending, qid))
        msg_warn("qmgr notice queue full; oldest notice left to qmgr's spool scan");
    if (nt.conn != NULL && nt.connected)
        notify_drain();
}

size_t notify_pending(void)
{
    return nt.pending.count + (nt.conn != NULL ? ipc_conn_pending(nt.conn) : 0);
}

void notify_stop(void)
{
    nt.stopping = 1;
    if (nt.timer_init) {
        uv_timer_stop(&nt.timer);
        uv_close((uv_handle_t *)&nt.timer, NULL);
        nt.timer_init = 0;
    }
    if (nt.conn != NULL)
        ipc_conn_close_after_flush(nt.conn);
}
