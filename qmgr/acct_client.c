/*
 * acct_client - accounting records to acctd over run_dir/acctd.sock.
 *
 * Each ACCT frame carries a sequence number as its reqid; acctd answers
 * ACCT_ACK with that reqid once the record is written.  Records stay in a
 * bounded ring until acknowledged and are all resent, in order, after a
 * reconnect (at-least-once: acctd may see a record twice).
 *
 * Durability (docs/accounting.md): every record is also appended to
 * qmgr's journal (JR_OUTBOX, stream JS_ACCT, with a 64-bit record id)
 * when it is queued, before result.c journals the recipient's final
 * state, and the ring's low-water mark is journaled (JR_ACKED) when the
 * head is acknowledged.  A kill -9 of qmgr thus loses no record: start-up
 * replays the records above the last mark into the ring (acct_client_
 * replay) and resends them; compaction rewrites them (acct_client_
 * pending).  The journal's group commit covers them; no extra fsync.
 * A replayed record is the same bytes, so its CSV line is identical
 * (same timeLogged): duplicates are exact and easy to drop downstream.
 *
 * When the ring is full (acctd down for long) the oldest records are
 * dropped with a warning rather than letting qmgr's memory grow without
 * bound; the mark moves past them.  Reconnects back off from 100 ms
 * doubling to 2 s.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "acct_client.h"
#include "ipc_conn.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "qmgr.h"

#define ACCT_UNACKED_MAX  200000
#define BACKOFF_MIN_MS    100
#define BACKOFF_MAX_MS    2000

struct pend {
    uint32_t seq;           /* the frame's reqid */
    int acked;
    uint64_t rid;           /* journal record id */
    size_t len;
    char *bytes;            /* one encoded ACCT frame */
};

static struct {
    uv_loop_t *loop;
    struct qmgr *m;
    char path[4096];
    struct ipc_conn *conn;
    uv_timer_t timer;
    int timer_init;
    unsigned backoff;
    int stopped;
    uint32_t seq;
    uint64_t rid_next;      /* id of the next record */
    uint64_t mark;          /* every record below it is acknowledged */
    struct pend *ring;
    size_t cap, head, n;    /* ring of unacknowledged records, ids ascending */
    uint64_t dropped;
} ac;

static void ac_connect(uv_timer_t *t);

static void ac_schedule(void)
{
    if (ac.stopped || !ac.timer_init)
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
    ring_at(0)->bytes = NULL;
    ac.head = (ac.head + 1) % ac.cap;
    ac.n--;
}

/* ac_mark - the low-water mark after the head moved. */
static uint64_t ac_mark(void)
{
    return ac.n > 0 ? ring_at(0)->rid : ac.rid_next;
}

/* ac_advance - pop acknowledged records at the head; journal the mark. */
static void ac_advance(void)
{
    int popped = 0;

    while (ac.n > 0 && ring_at(0)->acked) {
        ring_pop();
        popped = 1;
    }
    if (popped) {
        ac.mark = ac_mark();
        journal_acked(ac.m, JS_ACCT, ac.mark);
    }
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

void acct_client_ack(uint32_t reqid)
{
    uint32_t off;

    if (ac.n == 0)
        return;
    off = reqid - ring_at(0)->seq;      /* sequence numbers wrap */
    if (off < ac.n)
        ring_at(off)->acked = 1;        /* a repeated ack changes nothing */
    ac_advance();
}

static void ac_frame(struct ipc_conn *c, const struct ipc_frame *f)
{
    if (f->type == IPC_ACCT_ACK)
        acct_client_ack(f->reqid);
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

int acct_client_init(struct qmgr *m)
{
    memset(&ac, 0, sizeof(ac));
    ac.m = m;
    ac.cap = 1024;
    ac.ring = calloc(ac.cap, sizeof(*ac.ring));
    ac.backoff = BACKOFF_MIN_MS;
    return ac.ring == NULL ? -1 : 0;
}

int acct_client_start(uv_loop_t *loop, const char *socket_path)
{
    ac.loop = loop;
    if (ac.ring == NULL || strlen(socket_path) >= sizeof(ac.path))
        return -1;
    strcpy(ac.path, socket_path);
    if (uv_timer_init(loop, &ac.timer) != 0)
        return -1;
    ac.timer_init = 1;
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

/* ac_enqueue - encode r, keep it in the ring under record id rid and
 * send it if connected.  Returns the ring entry or NULL (dropped). */
static struct pend *ac_enqueue(const struct acct_record *r, uint64_t rid)
{
    struct buf b;
    struct pend *p;
    size_t len;

    if (ac.ring == NULL)
        return NULL;
    if (ac.n >= ACCT_UNACKED_MAX) {
        if (ac.dropped++ % 10000 == 0)
            msg_warn("acctd: %zu records unacknowledged; dropping the oldest", ac.n);
        ring_pop();
        ac.mark = ac_mark();
        journal_acked(ac.m, JS_ACCT, ac.mark);
    }
    if (ac.n == ac.cap && ring_grow() < 0) {
        msg_warn("acctd: out of memory; accounting record dropped");
        return NULL;
    }
    buf_init(&b, IPC_MAX_PAYLOAD);
    if (msg_acct_encode(&b, ac.seq, r) < 0) {
        buf_free(&b);
        msg_warn("acctd: accounting record too large; dropped");
        return NULL;
    }
    p = ring_at(ac.n);
    p->seq = ac.seq++;
    p->acked = 0;
    p->rid = rid;
    p->bytes = buf_steal(&b, &len);
    p->len = len;
    if (p->bytes == NULL)
        return NULL;
    ac.n++;
    if (rid >= ac.rid_next)
        ac.rid_next = rid + 1;
    if (ac.conn && !ipc_conn_closing(ac.conn) && ac_send_bytes(p) < 0)
        ipc_conn_close(ac.conn);
    return p;
}

void acct_client_send(const struct acct_record *r)
{
    struct pend *p = ac_enqueue(r, ac.rid_next);

    /* in the journal before the caller journals the final state */
    if (p && journal_outbox(ac.m, JS_ACCT, p->rid, r->v[AF_QUEUE_ID], p->bytes, p->len) < 0)
        msg_warn("%s: accounting record not journaled; a crash now would lose it",
                 r->v[AF_QUEUE_ID] ? r->v[AF_QUEUE_ID] : "-");
}

void acct_client_replay(const struct jrec *rec)
{
    struct ipc_frame f;
    struct acct_record r;
    size_t used;

    if (rec->state != JS_ACCT || ac.ring == NULL)
        return;
    if (rec->type == JR_ACKED) {
        while (ac.n > 0 && ring_at(0)->rid < rec->rid)
            ring_pop();
        if (rec->rid > ac.mark)
            ac.mark = rec->rid;
        if (rec->rid > ac.rid_next)
            ac.rid_next = rec->rid;
        return;
    }
    if (rec->type != JR_OUTBOX || rec->rid < ac.mark)
        return;
    /* our own bytes, CRC-checked; still parsed strictly */
    if (ipc_frame_parse(rec->data, rec->len, &f, &used) != 1 || used != rec->len
        || f.type != IPC_ACCT || msg_acct_decode(&f, &r) < 0) {
        msg_warn("journal: unreadable accounting record %llu dropped", (unsigned long long)rec->rid);
        return;
    }
    /* the ring keeps ids ascending: a record journaled twice (compaction
     * racing nothing, but be strict) replaces nothing */
    if (ac.n == 0 || rec->rid > ring_at(ac.n - 1)->rid)
        (void)ac_enqueue(&r, rec->rid);
    acct_record_free(&r);
}

void acct_client_pending(int (*put)(void *ctx, const struct jrec *r), void *ctx)
{
    struct jrec rec;
    size_t i;

    memset(&rec, 0, sizeof(rec));
    rec.type = JR_ACKED;
    rec.state = JS_ACCT;
    rec.rid = ac_mark();
    if (put(ctx, &rec) < 0)
        return;
    for (i = 0; i < ac.n; i++) {
        const struct pend *p = ring_at(i);

        memset(&rec, 0, sizeof(rec));
        rec.type = JR_OUTBOX;
        rec.state = JS_ACCT;
        rec.rid = p->rid;
        rec.len = (uint32_t)p->len;
        rec.data = (const unsigned char *)p->bytes;
        if (put(ctx, &rec) < 0)
            return;
    }
}

size_t acct_client_unacked(void)
{
    return ac.n;
}

void acct_client_stop(void)
{
    /* what is still unacknowledged stays in the journal: the next qmgr
     * resends it */
    ac.stopped = 1;
    if (ac.conn)
        ipc_conn_close(ac.conn);
    if (ac.timer_init)
        uv_close((uv_handle_t *)&ac.timer, NULL);
    ac.timer_init = 0;
    while (ac.n > 0)
        ring_pop();
    free(ac.ring);              /* a later send finds no ring and drops */
    ac.ring = NULL;
    ac.cap = ac.head = 0;
}
