/*
 * dkim_client - asynchronous dkimsign client for smtp-out (see
 * dkim_client.h).  Pending requests sit in a small hash by request id; a
 * one-second timer expires them and paces reconnection.
 */
#include "dkim_client.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc_conn.h"
#include "log.h"
#include "net.h"
#include "proto.h"

#define BUCKETS 256
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

struct pending {
    struct pending *next;
    uint32_t reqid;
    uint64_t deadline;
    dkim_client_cb cb;
    void *arg;
};

struct dkim_client {
    uv_loop_t *loop;
    char path[PATH_MAX];
    struct ipc_conn *conn;
    uv_timer_t timer;
    uint64_t backoff, retry_at;
    uint32_t next_reqid;
    struct pending *bucket[BUCKETS];
    size_t npending;
};

static struct pending *take(struct dkim_client *c, uint32_t reqid)
{
    struct pending **pp = &c->bucket[reqid % BUCKETS], *p;

    for (; (p = *pp) != NULL; pp = &p->next)
        if (p->reqid == reqid) {
            *pp = p->next;
            c->npending--;
            return p;
        }
    return NULL;
}

/* fail_where - call back (UNAVAILABLE) every request with deadline <= limit. */
static void fail_where(struct dkim_client *c, uint64_t limit, const char *why)
{
    struct pending *list = NULL, *p, **pp;
    size_t i;

    /* Detach first: a callback may send or cancel requests. */
    for (i = 0; i < BUCKETS; i++)
        for (pp = &c->bucket[i]; (p = *pp) != NULL;) {
            if (p->deadline <= limit) {
                *pp = p->next;
                c->npending--;
                p->next = list;
                list = p;
            } else {
                pp = &p->next;
            }
        }
    while ((p = list) != NULL) {
        list = p->next;
        p->cb(p->arg, DKIM_ST_UNAVAILABLE, why, NULL);
        free(p);
    }
}

static void on_frame(struct ipc_conn *conn, const struct ipc_frame *f)
{
    struct dkim_client *c = ipc_conn_data(conn);
    struct dkim_sign_rep rep;
    struct pending *p;

    if (c == NULL)
        return;
    if (f->type != IPC_DKIM_SIGNED || dkim_sign_rep_decode(f, &rep) < 0) {
        msg_warn("dkimsign: malformed reply; closing the connection");
        ipc_conn_close(conn);
        return;
    }
    if ((p = take(c, f->reqid)) == NULL)
        return;                 /* cancelled or timed out */
    p->cb(p->arg, (int)rep.status, rep.error, rep.status == DKIM_ST_OK ? rep.sig : NULL);
    free(p);
}

static void on_close(struct ipc_conn *conn)
{
    struct dkim_client *c = ipc_conn_data(conn);

    if (c == NULL)
        return;                 /* dkim_client_free'd */
    c->conn = NULL;
    c->retry_at = uv_now(c->loop) + c->backoff;
    fail_where(c, UINT64_MAX, "connection to dkimsign lost");
}

static void on_tick(uv_timer_t *t)
{
    struct dkim_client *c = t->data;

    fail_where(c, uv_now(c->loop), "no reply from dkimsign in time");
}

/* connect_now - (re)connect unless backing off.  0 when connected. */
static int connect_now(struct dkim_client *c)
{
    struct msg_hello h = { ROLE_SMTP_OUT, (uint32_t)getpid(), 0 };
    struct buf b;
    int fd;

    if (c->conn != NULL)
        return ipc_conn_closing(c->conn) ? -1 : 0;
    if (uv_now(c->loop) < c->retry_at)
        return -1;
    fd = net_connect_unix(c->path);
    if (fd < 0) {
        msg_warn("cannot connect to dkimsign at %s: %s", c->path, strerror(errno));
        c->retry_at = uv_now(c->loop) + c->backoff;
        c->backoff = c->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff * 2;
        return -1;
    }
    if ((c->conn = ipc_conn_new(c->loop, on_frame, on_close, c)) == NULL) {
        close(fd);
        return -1;
    }
    if (ipc_conn_open_fd(c->conn, fd) < 0) {
        ipc_conn_close(c->conn);
        return -1;
    }
    c->backoff = BACKOFF_MIN_MS;
    buf_init(&b, 4096);
    if (msg_hello_encode(&b, &h) < 0 || ipc_conn_send(c->conn, &b) < 0)
        ipc_conn_close(c->conn);
    buf_free(&b);
    return c->conn != NULL && !ipc_conn_closing(c->conn) ? 0 : -1;
}

struct dkim_client *dkim_client_new(uv_loop_t *loop, const char *path)
{
    struct dkim_client *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->loop = loop;
    snprintf(c->path, sizeof(c->path), "%s", path);
    c->backoff = BACKOFF_MIN_MS;
    c->next_reqid = 1;
    if (uv_timer_init(loop, &c->timer) != 0 || uv_timer_start(&c->timer, on_tick, 1000, 1000) != 0) {
        free(c);
        return NULL;
    }
    uv_unref((uv_handle_t *)&c->timer);     /* the client alone keeps no loop alive */
    c->timer.data = c;
    return c;
}

uint32_t dkim_client_sign(struct dkim_client *c, const struct dkim_key_ref *key,
                          const struct buf *input, dkim_client_cb cb, void *arg)
{
    struct pending *p;
    struct buf b;
    uint32_t id;

    if (connect_now(c) < 0 || (p = calloc(1, sizeof(*p))) == NULL)
        return 0;
    id = c->next_reqid++;
    if (c->next_reqid == 0)
        c->next_reqid = 1;
    buf_init(&b, IPC_MAX_PAYLOAD + IPC_HDR_LEN);
    if (dkim_sign_req_encode(&b, id, key->domain, key->selector, key->alg, input->data,
                             input->len) < 0 || ipc_conn_send(c->conn, &b) < 0) {
        buf_free(&b);
        free(p);
        return 0;
    }
    buf_free(&b);
    p->reqid = id;
    p->deadline = uv_now(c->loop) + DKIM_CLIENT_TIMEOUT_MS;
    p->cb = cb;
    p->arg = arg;
    p->next = c->bucket[id % BUCKETS];
    c->bucket[id % BUCKETS] = p;
    c->npending++;
    return id;
}

void dkim_client_cancel(struct dkim_client *c, uint32_t reqid)
{
    free(take(c, reqid));
}

size_t dkim_client_pending(const struct dkim_client *c)
{
    return c->npending;
}

static void timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void dkim_client_free(struct dkim_client *c)
{
    struct pending *p;
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < BUCKETS; i++)
        while ((p = c->bucket[i]) != NULL) {
            c->bucket[i] = p->next;
            free(p);
        }
    if (c->conn != NULL) {
        ipc_conn_set_data(c->conn, NULL);   /* c is gone before its close callback */
        ipc_conn_close(c->conn);
    }
    uv_close((uv_handle_t *)&c->timer, timer_closed);
}
