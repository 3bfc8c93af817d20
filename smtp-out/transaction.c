/*
 * transaction - one message on a ready connection: [RSET] MAIL RCPT...
 * DATA, with PIPELINING all in one write (RFC 2920) and the replies matched
 * in order, without it one command per reply; then the body in chunks,
 * the last chunk and ".\r\n" in one write (no Nagle wait, BENCH.md).
 * Results: a recipient gets MAIL's reply if MAIL failed, else its RCPT
 * reply if that failed, else the reply to DATA (or to the final dot).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bounce_status.h"
#include "log.h"
#include "client.h"

/* ---- the transaction ------------------------------------------------ */

static enum txn_kind txn_kind_of(const struct so_conn *c, size_t step)
{
    if (c->with_rset && step == 0)
        return T_RSET;
    step -= (size_t)c->with_rset;
    if (step == 0)
        return T_MAIL;
    if (step <= c->job->d.nrcpt)
        return T_RCPT;
    return T_DATA;
}

/* Append the command of step to out. */
static int txn_cmd(struct so_conn *c, size_t step, struct buf *out)
{
    const struct msg_deliver *d = &c->job->d;
    size_t i;
    uint32_t notify = 0, idx;
    const char *orcpt = NULL;

    switch (txn_kind_of(c, step)) {
    case T_RSET:
        return buf_append_str(out, "RSET\r\n");
    case T_MAIL:
        return message_mail_cmd(out, d, &c->ehlo, c->msg.len + c->msg.prefix_len);
    case T_DATA:
        return buf_append_str(out, "DATA\r\n");
    case T_RCPT:
        i = step - (size_t)c->with_rset - 1;
        idx = d->rcpts[i].index;
        if (c->msg.notify != NULL && idx < c->msg.nrcpt) {
            notify = c->msg.notify[idx];
            orcpt = c->msg.orcpt[idx];
        }
        return message_rcpt_cmd(out, d->rcpts[i].addr, notify, orcpt, &c->ehlo);
    }
    return -1;
}

static void saved_set(struct so_conn *c, struct saved_reply *s, int code, const char *text)
{
    char *t = malloc(strlen(text) + 8);

    if (t == NULL)
        msg_fatal("smtp-out: out of memory");
    sprintf(t, "%03d %s", code, text);
    /* RFC 5321 3.8: 421 means the server is closing the channel */
    if (code == 421)
        c->no_reuse = 1;
    free(s->text);
    s->text = t;
    s->code = code;
}

static void txn_free(struct so_conn *c)
{
    size_t i;

    free(c->mail.text);
    free(c->data.text);
    if (c->rcpt != NULL)
        for (i = 0; i < c->nrcpt; i++)
            free(c->rcpt[i].text);
    free(c->rcpt);
    c->rcpt = NULL;
    memset(&c->mail, 0, sizeof(c->mail));
    memset(&c->data, 0, sizeof(c->data));
    message_close(&c->msg);
    c->job = NULL;
}

static void result_fill(struct so_conn *c, struct msg_result *res, struct result_rcpt *rr,
                        const char *local_text)
{
    const struct msg_deliver *d = &c->job->d;
    const struct dest_addr *a = c->addrs && c->cur < c->naddrs ? &c->addrs[c->cur] : NULL;
    uint32_t i;

    memset(res, 0, sizeof(*res));
    res->job_id = d->job_id;
    /* local only if some recipient gets the made-up reply: a connection
     * lost after MAIL was refused still reports the server's verdict */
    res->local = 0;
    res->esmtp = (uint32_t)c->esmtp;
    res->remote_mx = (char *)(a ? a->host : "");
    res->remote_ip = (char *)(a ? a->ip : "");
    res->source_ip = c->local_ip;
    res->esmtp_ext = c->ehlo.keywords;
    res->nrcpt = d->nrcpt;
    res->rcpts = rr;
    for (i = 0; i < d->nrcpt; i++) {
        const struct saved_reply *s;
        if (c->mail.code != 0 && c->mail.code / 100 != 2)
            s = &c->mail;
        else if (c->rcpt[i].code != 0 && c->rcpt[i].code / 100 != 2)
            s = &c->rcpt[i];
        else if (local_text == NULL)
            s = &c->data;
        else
            s = NULL;
        rr[i].index = d->rcpts[i].index;
        if (s != NULL && s->code != 0) {
            rr[i].code = (uint32_t)s->code;
            rr[i].text = s->text + 4;
            bounce_status_extract(s->code, s->text, rr[i].status, sizeof(rr[i].status));
        } else {
            res->local = 1;
            rr[i].code = 421;
            rr[i].text = (char *)(local_text ? local_text : "no reply");
            snprintf(rr[i].status, sizeof(rr[i].status), "4.4.2");
        }
    }
}

/* The job is over (normally or by a local failure); report and free it. */
static void txn_finish(struct so_conn *c, const char *local_text)
{
    struct msg_result res;
    struct result_rcpt *rr = calloc(c->job->d.nrcpt ? c->job->d.nrcpt : 1, sizeof(*rr));
    struct so_job *j = c->job;

    if (rr == NULL)
        msg_fatal("smtp-out: out of memory");
    uv_timer_stop(&c->timer);
    result_fill(c, &res, rr, local_text);
    job_finish(j, &res);
    free(rr);
    txn_free(c);
    c->msgs++;
    c->state = C_READY;     /* the caller closes it on a local failure */
}

void conn_txn_abort(struct so_conn *c, const char *why)
{
    char peer[SO_HOST_MAX + SO_IP_MAX + 16], text[1200];
    static const char *const phase[] = {
        [T_RSET] = "sending RSET", [T_MAIL] = "sending MAIL FROM",
        [T_RCPT] = "sending RCPT TO", [T_DATA] = "sending DATA",
    };
    const char *ph;

    /* A cached connection the server dropped before taking MAIL: retry the
     * job on a fresh connection instead of failing it. */
    if (c->state == C_TXN && c->msgs > 0 && !c->job->requeued
        && c->next_reply <= (size_t)c->with_rset) {
        struct so_job *j = c->job;
        j->requeued = 1;
        txn_free(c);
        pool_requeue(j);
        conn_close(c);
        return;
    }
    ph = c->state == C_BODY ? "sending message body"
        : c->state == C_DOT ? "waiting for the end of data reply"
        : phase[txn_kind_of(c, c->next_reply)];
    snprintf(text, sizeof(text), "4.4.2 %s with %s while %s", why,
             conn_peer(c, peer, sizeof(peer)), ph);
    msg_info("%s", text + 6);
    txn_finish(c, text);
    conn_close(c);
}

static void txn_send_next(struct so_conn *c)
{
    struct buf b;

    buf_init(&b, 64 * 1024 + 2048);
    if (txn_cmd(c, c->next_send, &b) < 0 || conn_write(c, b.data, b.len) < 0) {
        buf_free(&b);
        conn_txn_abort(c, "write failed");
        return;
    }
    buf_free(&b);
    c->next_send++;
    conn_timer_start(c, c->t_cmd, conn_phase_timeout);
}

void conn_body_next(struct so_conn *c)
{
    struct buf b;
    char err[256];
    int r;

    buf_init(&b, 4 * CONN_CHUNK);
    if (c->discard_dot) {
        r = 1;
        buf_append_str(&b, ".\r\n");
    } else {
        r = message_next(&c->msg, &b, CONN_CHUNK, err, sizeof(err));
    }
    if (r < 0) {
        msg_error("queue %s: %s", c->job->d.queue_id, err);
        buf_free(&b);
        /* the server has a partial message: drop the connection so it
         * is never delivered, and retry later */
        conn_txn_abort(c, "local spool read error");
        return;
    }
    c->body_done = (r == 1);
    c->body_inflight = 1;
    if (conn_write(c, b.data, b.len) < 0) {
        buf_free(&b);
        conn_txn_abort(c, "write failed");
        return;
    }
    buf_free(&b);
    conn_timer_start(c, c->t_data, conn_phase_timeout);
}

void txn_reply(struct so_conn *c, const struct smtp_reply *r)
{
    size_t step = c->next_reply++;
    enum txn_kind k = txn_kind_of(c, step);
    int pipelined = (c->ehlo.ext & SMTP_EXT_PIPELINING) != 0;
    size_t i;

    switch (k) {
    case T_RSET:
        break;
    case T_MAIL:
        saved_set(c, &c->mail, r->code, r->text);
        if (r->code / 100 != 2 && !pipelined) {
            txn_finish(c, NULL);
            pool_conn_ready(c);
            return;
        }
        break;
    case T_RCPT:
        i = step - (size_t)c->with_rset - 1;
        saved_set(c, &c->rcpt[i], r->code, r->text);
        if (r->code / 100 == 2)
            c->accepted++;
        if (!pipelined && i + 1 == c->job->d.nrcpt && c->accepted == 0) {
            txn_finish(c, NULL);
            pool_conn_ready(c);
            return;
        }
        break;
    case T_DATA:
        saved_set(c, &c->data, r->code, r->text);
        if (r->code == 354) {
            c->discard_dot = c->accepted == 0 || c->mail.code / 100 != 2;
            c->state = C_BODY;
            conn_body_next(c);
            return;
        }
        txn_finish(c, NULL);
        pool_conn_ready(c);
        return;
    }
    if (!pipelined)
        txn_send_next(c);
    else
        conn_timer_start(c, c->t_cmd, conn_phase_timeout);
}

void conn_start_job(struct so_conn *c, struct so_job *j)
{
    char err[512], text[600];
    struct buf b;
    size_t s;

    uv_timer_stop(&c->timer);
    c->job = j;
    conn_give_refusals(c, j);   /* the first job on a new connection reports them */
    c->rcpt = calloc(j->d.nrcpt ? j->d.nrcpt : 1, sizeof(*c->rcpt));
    if (c->rcpt == NULL)
        msg_fatal("smtp-out: out of memory");
    c->nrcpt = j->d.nrcpt;
    c->accepted = 0;
    c->discard_dot = c->body_inflight = c->body_done = 0;
    if (message_open(&c->msg, job_spool_dir(), j->d.queue_id,
                     (c->ehlo.ext & SMTP_EXT_DSN) != 0, err, sizeof(err)) < 0) {
        msg_error("queue %s: %s", j->d.queue_id, err);
        snprintf(text, sizeof(text), "4.3.0 cannot read the queued message: %s", err);
        c->job = NULL;
        free(c->rcpt);
        c->rcpt = NULL;
        job_fail_local(j, 451, "4.3.0", text, "", "");
        c->state = C_READY;
        pool_conn_ready(c);
        return;
    }
    c->msg.prefix = j->dkim_hdr;
    c->msg.prefix_len = j->dkim_len;
    c->with_rset = c->msgs > 0;
    c->nsteps = (size_t)c->with_rset + 1 + j->d.nrcpt + 1;
    c->next_send = c->next_reply = 0;
    c->state = C_TXN;
    if (!(c->ehlo.ext & SMTP_EXT_PIPELINING)) {
        txn_send_next(c);
        return;
    }
    /* RFC 2920: everything up to and including DATA in one write */
    buf_init(&b, (size_t)64 * 1024 * 1024);
    for (s = 0; s < c->nsteps; s++)
        if (txn_cmd(c, s, &b) < 0)
            break;
    if (s < c->nsteps || conn_write(c, b.data, b.len) < 0) {
        buf_free(&b);
        conn_txn_abort(c, "write failed");
        return;
    }
    buf_free(&b);
    c->next_send = c->nsteps;
    conn_timer_start(c, c->t_cmd, conn_phase_timeout);
}

/* The reply to the final dot (RFC 5321 4.1.1.4): the verdict for every
 * accepted recipient. */
void txn_dot_reply(struct so_conn *c, const struct smtp_reply *r)
{
    /* with nothing accepted, the replies that count were RCPT's or MAIL's */
    if (!c->discard_dot)
        saved_set(c, &c->data, r->code, r->text);
    txn_finish(c, NULL);
    pool_conn_ready(c);
}
