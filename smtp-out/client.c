/*
 * client - the SMTP client state machine of one outbound connection.
 *
 * A connection is opened for a connpool group (source ip, helo name,
 * destination): resolve, then try the addresses in order (bind to the
 * source ip, TCP_NODELAY, connect), greeting, EHLO (HELO when EHLO gets a
 * 5xx).  A greeting other than 2xx, a refused or timed-out connect, or a
 * failed EHLO/HELO moves on to the next address; when none is left the
 * pool fails one waiting job with 421 4.4.1 (local).
 *
 * Once ready the pool hands it jobs one at a time; transaction.c runs
 * each message.  An unsolicited reply or EOF on a cached connection
 * closes it.  QUIT when the pool says so (idle time over, message limit,
 * shutdown).
 * Every phase runs under one uv timer (connect, greeting/command, data
 * timeouts from the job).  Handles are freed only in close callbacks;
 * the TCP handle lives in a separate allocation (so_sock) so a failed
 * attempt can be closed while the connection object moves on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "net.h"
#include "client.h"

static void conn_try_next(struct so_conn *c);

struct pool_group *conn_group(const struct so_conn *c) { return c->g; }
int conn_reusable(const struct so_conn *c)
{
    return !c->no_reuse && (c->max_msgs == 0 || c->msgs < c->max_msgs);
}
int conn_usable(const struct so_conn *c)
{
    return c->state == C_READY || c->state == C_IDLE;
}

const char *conn_peer(const struct so_conn *c, char *out, size_t outlen)
{
    const struct dest_addr *a = c->addrs && c->cur < c->naddrs ? &c->addrs[c->cur] : NULL;

    if (a == NULL)
        snprintf(out, outlen, "%s", c->domain);
    else
        snprintf(out, outlen, "%s[%s]:%u", a->host, a->ip, a->port);
    return out;
}

/* ---- sockets, writes, timer ---------------------------------------- */

static void sock_closed(uv_handle_t *h)
{
    free(h->data);
}

static void sock_close(struct so_conn *c)
{
    struct so_sock *s = c->sock;

    if (s == NULL)
        return;
    c->sock = NULL;
    s->conn = NULL;
    uv_close((uv_handle_t *)&s->tcp, sock_closed);
}

void conn_timer_start(struct so_conn *c, unsigned seconds, uv_timer_cb cb)
{
    uv_timer_start(&c->timer, cb, (uint64_t)(seconds ? seconds : 1) * 1000, 0);
}

static void conn_write_done(uv_write_t *req, int status);

int conn_write(struct so_conn *c, const char *data, size_t len)
{
    struct so_write *w;

    if (c->sock == NULL)
        return -1;
    w = malloc(sizeof(*w) + len);
    if (w == NULL)
        return -1;
    memcpy(w->data, data, len);
    w->len = len;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->sock->tcp, &b, 1, conn_write_done) != 0) {
        free(w);
        return -1;
    }
    return 0;
}

/* ---- connection set-up --------------------------------------------- */

static void conn_fail_all(struct so_conn *c)
{
    const struct dest_addr *a = c->naddrs > 0 ? &c->addrs[c->naddrs - 1] : NULL;

    pool_conn_failed(c, 421, "4.4.1", c->last_err[0] ? c->last_err : "no usable address",
                     a ? a->host : "", a ? a->ip : "");
    conn_close(c);
}

/* This address failed for reason; remember it and move on. */
static void conn_attempt_failed(struct so_conn *c, const char *fmt, const char *reason)
{
    char peer[SO_HOST_MAX + SO_IP_MAX + 16];

    snprintf(c->last_err, sizeof(c->last_err), fmt, conn_peer(c, peer, sizeof(peer)), reason);
    msg_info("%s", c->last_err);
    sock_close(c);
    smtp_reply_reset(&c->rp);
    c->cur++;
    conn_try_next(c);
}

void conn_phase_timeout(uv_timer_t *t)
{
    struct so_conn *c = t->data;
    static const char *const what[] = {
        [C_CONNECTING] = "connect", [C_GREETING] = "receiving the initial server greeting",
        [C_EHLO] = "sending EHLO", [C_HELO] = "sending HELO",
    };

    switch (c->state) {
    case C_CONNECTING:
        conn_attempt_failed(c, "connect to %s: %s", "connection timed out");
        break;
    case C_GREETING: case C_EHLO: case C_HELO:
        conn_attempt_failed(c, "conversation with %s timed out while %s", what[c->state]);
        break;
    case C_TXN: case C_BODY: case C_DOT:
        conn_txn_abort(c, "timed out");
        break;
    case C_IDLE:
        conn_quit(c);
        break;
    default:
        conn_close(c);
        break;
    }
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char rbuf[64 * 1024];    /* consumed before the callback returns */

    b->base = rbuf;
    b->len = sizeof(rbuf);
}

static void conn_on_reply(struct so_conn *c, const struct smtp_reply *r);

static void conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct so_sock *s = st->data;
    struct so_conn *c = s->conn;
    size_t off = 0, used;
    int r;

    if (c == NULL || nread == 0)
        return;
    if (nread < 0) {
        const char *why = nread == UV_EOF ? "lost connection" : uv_strerror((int)nread);
        switch (c->state) {
        case C_GREETING: case C_EHLO: case C_HELO:
            conn_attempt_failed(c, "%s: %s while talking", why);
            break;
        case C_TXN: case C_BODY: case C_DOT:
            conn_txn_abort(c, "lost connection");
            break;
        default:
            conn_close(c);
        }
        return;
    }
    while (off < (size_t)nread && s->conn == c && c->sock == s) {
        r = smtp_reply_feed(&c->rp, b->base + off, (size_t)nread - off, &used);
        off += used;
        if (r == 0)
            break;
        if (r < 0) {
            if (c->state == C_GREETING || c->state == C_EHLO || c->state == C_HELO)
                conn_attempt_failed(c, "%s: %s", "malformed SMTP reply");
            else if (c->state == C_TXN || c->state == C_BODY || c->state == C_DOT)
                conn_txn_abort(c, "malformed SMTP reply");
            else
                conn_close(c);
            return;
        }
        conn_on_reply(c, &c->rp.r);
        if (s->conn == c && c->sock == s)
            smtp_reply_reset(&c->rp);
    }
}

static void conn_connected(uv_connect_t *req, int status)
{
    struct so_sock *s = req->data;
    struct so_conn *c = s->conn;
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    if (c == NULL)
        return;
    if (status < 0) {
        conn_attempt_failed(c, "connect to %s: %s", uv_strerror(status));
        return;
    }
    if (uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &len) != 0
        || net_ntop((struct sockaddr *)&ss, c->local_ip, sizeof(c->local_ip)) < 0)
        c->local_ip[0] = '\0';
    if (uv_read_start((uv_stream_t *)&s->tcp, conn_alloc, conn_read) != 0) {
        conn_attempt_failed(c, "connect to %s: %s", "read start failed");
        return;
    }
    c->state = C_GREETING;
    conn_timer_start(c, c->t_cmd, conn_phase_timeout);
}

static void conn_try_next(struct so_conn *c)
{
    struct sockaddr_storage dst, src;
    socklen_t dlen, slen;
    struct so_sock *s;
    int r;

    for (; c->cur < c->naddrs; c->cur++) {
        const struct dest_addr *a = &c->addrs[c->cur];
        if (net_sockaddr(a->ip, a->port, &dst, &dlen) < 0)
            continue;
        if (c->source_ip[0] != '\0') {
            if (net_sockaddr(c->source_ip, 0, &src, &slen) < 0 || src.ss_family != dst.ss_family)
                continue;   /* cannot reach this family from the vmta's address */
        }
        s = calloc(1, sizeof(*s));
        if (s == NULL)
            msg_fatal("smtp-out: out of memory");
        uv_tcp_init(c->loop, &s->tcp);
        s->tcp.data = s;
        s->creq.data = s;
        s->conn = c;
        c->sock = s;
        if (c->source_ip[0] != '\0'
            && (r = uv_tcp_bind(&s->tcp, (struct sockaddr *)&src, 0)) != 0) {
            snprintf(c->last_err, sizeof(c->last_err), "bind to source %s: %s",
                     c->source_ip, uv_strerror(r));
            sock_close(c);
            continue;
        }
        uv_tcp_nodelay(&s->tcp, 1);
        r = uv_tcp_connect(&s->creq, &s->tcp, (struct sockaddr *)&dst, conn_connected);
        if (r != 0) {
            snprintf(c->last_err, sizeof(c->last_err), "connect to %s[%s]:%u: %s",
                     a->host, a->ip, a->port, uv_strerror(r));
            sock_close(c);
            continue;
        }
        c->state = C_CONNECTING;
        conn_timer_start(c, c->t_connect, conn_phase_timeout);
        return;
    }
    conn_fail_all(c);
}

static void conn_resolved(void *arg, const struct dest_addr *a, size_t n,
                          const struct resolve_fail *fail)
{
    struct so_conn *c = arg;

    c->rq = NULL;
    if (fail != NULL) {
        pool_conn_failed(c, fail->code, fail->status, fail->text, "", "");
        conn_close(c);
        return;
    }
    c->addrs = calloc(n, sizeof(*a));
    if (c->addrs == NULL)
        msg_fatal("smtp-out: out of memory");
    memcpy(c->addrs, a, n * sizeof(*a));
    /* skip-mx: qmgr avoids these MX hosts for now; with none left the
     * queue waits as for a destination that cannot be reached */
    c->naddrs = route_skip_hosts(c->addrs, n, c->skip_mx);
    c->cur = 0;
    if (c->naddrs == 0) {
        char text[600];

        snprintf(text, sizeof(text), "every MX host is skipped for now (skip-mx): %.500s",
                 c->skip_mx);
        pool_conn_failed(c, 451, "4.4.1", text, "", "");
        conn_close(c);
        return;
    }
    conn_try_next(c);
}

static void conn_freed(uv_handle_t *h);

struct so_conn *conn_new(uv_loop_t *loop, struct pool_group *g, const struct so_job *j)
{
    struct so_conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->loop = loop;
    c->g = g;
    snprintf(c->source_ip, sizeof(c->source_ip), "%s", j->d.source_ip);
    snprintf(c->helo, sizeof(c->helo), "%s",
             j->d.helo_name[0] != '\0' ? j->d.helo_name : job_ctx.host_name);
    snprintf(c->domain, sizeof(c->domain), "%s", j->d.domain);
    snprintf(c->route, sizeof(c->route), "%s", j->d.route);
    if (j->d.skip_mx != NULL && j->d.skip_mx[0] != '\0'
        && (c->skip_mx = strdup(j->d.skip_mx)) == NULL) {
        free(c);
        return NULL;
    }
    c->t_connect = j->d.connect_timeout ? j->d.connect_timeout : 120;
    c->t_cmd = j->d.greeting_timeout ? j->d.greeting_timeout : 300;
    c->t_data = j->d.data_timeout ? j->d.data_timeout : 600;
    c->max_msgs = j->d.max_msg_per_connection;
    smtp_reply_init(&c->rp);
    c->msg.fd = -1;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->state = C_RESOLVING;
    c->rq = resolve_start(c->domain, c->route, conn_resolved, c);
    if (c->rq == NULL) {
        /* the timer handle is the loop's until its close callback: free
         * c there, not now */
        uv_close((uv_handle_t *)&c->timer, conn_freed);
        return NULL;
    }
    return c;
}

/* ---- greeting, EHLO, HELO ------------------------------------------- */

/* conn_note_refusal - the current MX host refused the set-up with r; kept
 * for the job the connection is for (qmgr's skip-mx rules). */
static void conn_note_refusal(struct so_conn *c, const struct smtp_reply *r)
{
    const struct dest_addr *a = c->addrs && c->cur < c->naddrs ? &c->addrs[c->cur] : NULL;
    struct result_refusal *f;
    char reply[512];

    if (a == NULL || c->nrefused >= SO_REFUSED_MAX)
        return;
    snprintf(reply, sizeof(reply), "%d %s", r->code, r->text);
    reply[strcspn(reply, "\r\n")] = '\0';    /* IPC strings hold no CR/LF */
    f = &c->refused[c->nrefused];
    f->mx = strdup(a->host);
    f->reply = strdup(reply);
    if (f->mx == NULL || f->reply == NULL) {
        free(f->mx);
        free(f->reply);
        return;
    }
    c->nrefused++;
}

void conn_give_refusals(struct so_conn *c, struct so_job *j)
{
    struct result_refusal *n;
    uint32_t i;

    if (c->nrefused == 0)
        return;
    n = realloc(j->refused, (j->nrefused + c->nrefused) * sizeof(*n));
    if (n == NULL)
        return;
    j->refused = n;
    for (i = 0; i < c->nrefused; i++)
        j->refused[j->nrefused++] = c->refused[i];
    c->nrefused = 0;
}

static void conn_setup_reply(struct so_conn *c, const struct smtp_reply *r)
{
    char line[SO_HOST_MAX + 16];

    if (r->code / 100 != 2 && !(c->state == C_EHLO && r->code / 100 == 5))
        conn_note_refusal(c, r);        /* not EHLO's 5xx: HELO comes next */
    if (c->state == C_GREETING) {
        if (r->code / 100 != 2) {
            conn_attempt_failed(c, "%s refused to talk to me: %s", r->text);
            return;
        }
        snprintf(line, sizeof(line), "EHLO %s\r\n", c->helo);
        c->state = C_EHLO;
    } else if (c->state == C_EHLO) {
        if (r->code == 250) {
            c->esmtp = 1;
            smtp_ehlo_parse(r, &c->ehlo);
            goto ready;
        }
        if (r->code / 100 != 5) {
            conn_attempt_failed(c, "%s refused EHLO: %s", r->text);
            return;
        }
        snprintf(line, sizeof(line), "HELO %s\r\n", c->helo);
        c->state = C_HELO;
    } else {
        if (r->code / 100 == 2)
            goto ready;
        conn_attempt_failed(c, "%s refused HELO: %s", r->text);
        return;
    }
    if (conn_write(c, line, strlen(line)) < 0) {
        conn_attempt_failed(c, "%s: %s", "write failed");
        return;
    }
    conn_timer_start(c, c->t_cmd, conn_phase_timeout);
    return;
ready:
    uv_timer_stop(&c->timer);
    c->state = C_READY;
    pool_conn_ready(c);
}

static void conn_write_done(uv_write_t *req, int status)
{
    struct so_write *w = (struct so_write *)req;
    struct so_sock *s = req->handle->data;
    struct so_conn *c = s->conn;

    free(w);
    if (c == NULL)
        return;
    if (status < 0) {
        if (c->state == C_TXN || c->state == C_BODY || c->state == C_DOT)
            conn_txn_abort(c, "lost connection");
        else if (c->state == C_QUIT || c->state == C_IDLE || c->state == C_READY)
            conn_close(c);
        else
            conn_attempt_failed(c, "%s: %s", uv_strerror(status));
        return;
    }
    if (c->state == C_QUIT) {
        /* QUIT is out; the 221 changes nothing, but give it a moment so
         * the server sees an orderly close */
        conn_timer_start(c, 1, conn_phase_timeout);
        return;
    }
    if (c->state == C_BODY && c->body_inflight) {
        c->body_inflight = 0;
        if (c->body_done) {
            c->state = C_DOT;
            conn_timer_start(c, c->t_data, conn_phase_timeout);
        } else {
            conn_body_next(c);
        }
    }
}

static void conn_on_reply(struct so_conn *c, const struct smtp_reply *r)
{
    char buf[256];

    switch (c->state) {
    case C_GREETING: case C_EHLO: case C_HELO:
        conn_setup_reply(c, r);
        break;
    case C_TXN:
        txn_reply(c, r);
        break;
    case C_DOT:
        txn_dot_reply(c, r);
        break;
    case C_QUIT:
        conn_close(c);
        break;
    default:
        /* unsolicited (e.g. "421 idle timeout") on a cached connection */
        msg_debug("unsolicited reply from %s: %d", conn_peer(c, buf, sizeof(buf)), r->code);
        conn_close(c);
        break;
    }
}

/* ---- idle, quit, close ---------------------------------------------- */

void conn_idle(struct so_conn *c, unsigned seconds)
{
    c->state = C_IDLE;
    conn_timer_start(c, seconds, conn_phase_timeout);
}

void conn_quit(struct so_conn *c)
{
    if (c->sock == NULL || (c->state != C_IDLE && c->state != C_READY)) {
        conn_close(c);
        return;
    }
    c->state = C_QUIT;
    uv_timer_stop(&c->timer);
    if (conn_write(c, "QUIT\r\n", 6) < 0)
        conn_close(c);
}

static void conn_freed(uv_handle_t *h)
{
    struct so_conn *c = h->data;
    uint32_t i;

    smtp_reply_free(&c->rp);
    free(c->addrs);
    free(c->skip_mx);
    for (i = 0; i < c->nrefused; i++) {
        free(c->refused[i].mx);
        free(c->refused[i].reply);
    }
    free(c);
}

void conn_close(struct so_conn *c)
{
    if (c->state == C_CLOSED)
        return;
    if (c->job != NULL)
        msg_panic("smtp-out: closing a connection with a job");
    c->state = C_CLOSED;
    resolve_cancel(c->rq);
    c->rq = NULL;
    sock_close(c);
    uv_timer_stop(&c->timer);
    pool_conn_gone(c);
    uv_close((uv_handle_t *)&c->timer, conn_freed);
}
