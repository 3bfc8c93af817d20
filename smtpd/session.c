/*
 * session - one inbound SMTP connection: accept, greeting, reading and
 * batching (pipelining), timers, transaction reset, close.
 *
 * Input: every complete command in what was read is handled in order
 * (verbs.c); the replies of one read batch leave in one write.  While a
 * spool commit is in flight, or the client does not read its replies,
 * reading stops and unprocessed bytes wait in `in` (bounded).
 * Lifecycle (STYLE.md habit 4): session_close marks the session closing
 * and closes its two handles; it is freed in the last close callback, or
 * when a commit still running on the thread pool comes back.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "smtpd.h"
#include "log.h"
#include "net.h"

static void session_process(struct session *s);
static void session_flush(struct session *s);
static void session_update_reading(struct session *s);

/* session_free - the last reference is gone: release memory. */
static void session_free(struct session *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else if (smtpd.sessions == s)
        smtpd.sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    smtpd.nsessions--;
    session_txn_reset(s);
    buf_free(&s->in);
    buf_free(&s->out);
    buf_free(&s->wbuf);
    buf_free(&s->msg);
    free(s->rcpts);
    if (s->cfg)
        smtpd_cfg_put(s->cfg);
    free(s);
    smtpd_session_gone();
}

static void session_handle_closed(uv_handle_t *h)
{
    struct session *s = h->data;

    if (--s->handles_open == 0 && !s->work_pending)
        session_free(s);
}

void session_close(struct session *s)
{
    if (s->closing)
        return;
    s->closing = 1;
    uv_close((uv_handle_t *)&s->timer, session_handle_closed);
    uv_close((uv_handle_t *)&s->tcp, session_handle_closed);
}

void session_close_after_flush(struct session *s)
{
    s->close_after_flush = 1;
    session_update_reading(s);
    if (!s->writing && s->out.len == 0)
        session_close(s);
}

static void session_vreply(struct session *s, const char *fmt, va_list ap)
{
    if (s->closing)
        return;
    if (buf_vprintf(&s->out, fmt, ap) < 0 || buf_append(&s->out, "\r\n", 2) < 0) {
        /* The client pipelines far more than it reads: give up on it. */
        msg_warn("%s: reply buffer full; dropping connection", s->client_ip);
        session_close(s);
    }
}

void session_reply(struct session *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    session_vreply(s, fmt, ap);
    va_end(ap);
}

void session_error(struct session *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    session_vreply(s, fmt, ap);
    va_end(ap);
    s->errors++;
    if (s->set.max_errors != 0 && s->errors >= s->set.max_errors && !s->close_after_flush) {
        msg_info("%s: too many errors (%u); disconnecting", s->client_ip, s->errors);
        session_reply(s, "421 4.7.0 %s Too many errors", s->cfg->cfg->host_name);
        session_close_after_flush(s);
    }
}

/* session_txn_reset - the one place a transaction ends (accepted,
 * refused, RSET, HELO, close): forget envelope and message. */
void session_txn_reset(struct session *s)
{
    uint32_t i;

    for (i = 0; i < s->nrcpt; i++) {
        free(s->rcpts[i].addr);
        free(s->rcpts[i].orcpt);
    }
    s->nrcpt = 0;
    s->qid[0] = '\0';
    memset(&s->mail, 0, sizeof(s->mail));
    memset(&s->env, 0, sizeof(s->env));
    buf_free(&s->msg);  /* up to max-message-size: do not keep it idle */
    s->msg_hdr_len = 0;
    if (s->state != SS_CONNECTED)
        s->state = SS_READY;
    if (s->draining && !s->closing && !s->close_after_flush) {
        session_reply(s, "421 4.3.2 %s Service shutting down", s->cfg->cfg->host_name);
        session_close_after_flush(s);
    }
}

static void session_timeout(uv_timer_t *t)
{
    struct session *s = t->data;

    if (s->closing)
        return;
    if (s->close_after_flush) {
        session_close(s);       /* the client does not even read the 421 */
        return;
    }
    msg_info("%s: %s timeout", s->client_ip, s->state == SS_DATA ? "data" : "command");
    session_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->cfg->cfg->host_name);
    session_close_after_flush(s);
    session_flush(s);
    if (!s->closing)
        uv_timer_start(&s->timer, session_timeout, 10000, 0);
}

void session_set_timer(struct session *s)
{
    uint64_t secs;

    if (s->closing || s->close_after_flush)
        return;
    if (s->state == SS_COMMIT) {
        uv_timer_stop(&s->timer);
        return;
    }
    secs = s->state == SS_DATA ? s->set.smtp_data_timeout : s->set.smtp_command_timeout;
    if (secs == 0)
        secs = 300;
    uv_timer_start(&s->timer, session_timeout, secs * 1000, 0);
}

static void session_written(uv_write_t *req, int status)
{
    struct session *s = req->data;

    s->writing = 0;
    buf_reset(&s->wbuf);
    if (status < 0) {
        if (status != UV_ECANCELED)
            msg_debug("%s: write: %s", s->client_ip, uv_strerror(status));
        session_close(s);
        return;
    }
    if (s->closing)
        return;
    if (s->out.len > 0)
        session_flush(s);
    else if (s->close_after_flush)
        session_close(s);
    session_update_reading(s);
}

/* session_flush - write the batched replies: one write per batch. */
static void session_flush(struct session *s)
{
    struct buf t;
    uv_buf_t b;

    if (s->writing || s->closing || s->out.len == 0)
        return;
    t = s->wbuf;
    s->wbuf = s->out;
    s->out = t;
    buf_reset(&s->out);
    b = uv_buf_init(s->wbuf.data, (unsigned)s->wbuf.len);
    s->wreq.data = s;
    if (uv_write(&s->wreq, (uv_stream_t *)&s->tcp, &b, 1, session_written) != 0) {
        session_close(s);
        return;
    }
    s->writing = 1;
}

static void session_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct session *s = h->data;

    if (buf_reserve(&s->in, SESSION_READ_CHUNK) < 0) {
        b->base = NULL;
        b->len = 0;
        return;
    }
    b->base = s->in.data + s->in.len;
    b->len = SESSION_READ_CHUNK;
}

static void session_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct session *s = st->data;

    if (s->closing)
        return;
    if (nread < 0) {
        if (nread != UV_EOF) {
            msg_debug("%s: read: %s", s->client_ip, uv_strerror((int)nread));
            session_close(s);
            return;
        }
        if (s->state >= SS_MAIL)
            msg_info("%s: lost connection in %s", s->client_ip,
                     s->state == SS_DATA ? "DATA" : "a transaction");
        /* A half-close still gets the replies to what it sent. */
        session_close_after_flush(s);
        return;
    }
    if (nread == 0)
        return;
    s->in.len += (size_t)nread;
    if (s->in.len < s->in.cap)
        s->in.data[s->in.len] = '\0';
    session_set_timer(s);
    session_process(s);
}

/* session_update_reading - read only when we can take more input. */
static void session_update_reading(struct session *s)
{
    int want;

    if (s->closing)
        return;
    want = !s->close_after_flush && s->state != SS_COMMIT
        && s->out.len + s->wbuf.len < SESSION_OUT_HIGH;
    if (want && !s->reading) {
        if (s->in_off < s->in.len) {
            session_process(s);     /* bytes that arrived while paused */
            return;
        }
        if (uv_read_start((uv_stream_t *)&s->tcp, session_alloc, session_read) != 0) {
            session_close(s);
            return;
        }
        s->reading = 1;
    } else if (!want && s->reading) {
        uv_read_stop((uv_stream_t *)&s->tcp);
        s->reading = 0;
    }
}

/* session_step - handle what the buffered input holds next.  Returns 0
 * when more input is needed, 1 to go on. */
static int session_step(struct session *s)
{
    const char *p = s->in.data + s->in_off;
    size_t n = s->in.len - s->in_off, used = 0;
    enum cmd_read_result r;

    if (s->state == SS_DATA) {
        int done = data_feed(&s->dp, p, n, &used);

        s->in_off += used;
        if (done)
            verbs_data_end(s);
        return done;
    }
    r = cmd_read(&s->rd, p, n, &used);
    s->in_off += used;
    switch (r) {
    case CMD_MORE:
        return 0;
    case CMD_LINE:
        verbs_dispatch(s, s->rd.line);
        break;
    case CMD_TOO_LONG:
        session_error(s, "500 5.5.2 Line too long");
        break;
    case CMD_BAD_EOL:
        session_error(s, "500 5.5.2 Bare LF/CR in command not allowed (RFC 5321 2.3.8)");
        break;
    case CMD_BAD_CHAR:
        session_error(s, "500 5.5.2 NUL byte in command not allowed");
        break;
    }
    return 1;
}

/* session_process - every complete command (or the DATA stream) in the
 * buffered input, then one write of the replies. */
static void session_process(struct session *s)
{
    while (!s->closing && !s->close_after_flush && s->state != SS_COMMIT
           && s->in_off < s->in.len)
        if (!session_step(s))
            break;
    if (s->closing)
        return;
    if (s->in_off == s->in.len || s->close_after_flush) {
        buf_reset(&s->in);
        s->in_off = 0;
    } else if (s->in_off > 0 && s->state != SS_COMMIT) {
        buf_consume(&s->in, s->in_off);
        s->in_off = 0;
    }
    session_flush(s);
    session_update_reading(s);
    session_set_timer(s);
}

void session_commit_done(struct session *s)
{
    s->work_pending = 0;
    if (s->closing) {
        if (s->handles_open == 0)
            session_free(s);
        return;
    }
    if (s->commit_rc == 0) {
        char from[CMD_PATH_MAX * 4 + 8];

        log_escape(from, sizeof(from), s->mail.addr, strlen(s->mail.addr));
        msg_info("%s: from=<%s> size=%zu nrcpt=%u client=%s %s", s->qid, from,
                 s->msg.len - s->msg_hdr_len, s->nrcpt, s->client_ip, s->route_why);
        session_reply(s, "250 2.0.0 Ok: queued as %s", s->qid);
        if (!txn_is_inbound(s))
            notify_new(s->qid);     /* inbound/ is bounced's: it watches the folder */
    } else {
        msg_error("%s: spool commit failed: %s", s->qid, strerror(s->commit_errno));
        session_reply(s, "451 4.3.0 Queue write failed");
    }
    s->state = SS_READY;
    session_txn_reset(s);
    session_process(s);
}

void session_drain(struct session *s)
{
    if (s->closing || s->close_after_flush)
        return;
    s->draining = 1;
    if (s->state == SS_CONNECTED || s->state == SS_READY) {
        session_reply(s, "421 4.3.2 %s Service shutting down", s->cfg->cfg->host_name);
        session_close_after_flush(s);
        session_flush(s);
    }
}

void session_force_stop(struct session *s)
{
    if (s->closing)
        return;
    if (s->state == SS_COMMIT) {
        s->draining = 1;        /* the write finishes, then 421 */
        return;
    }
    if (!s->close_after_flush) {
        session_reply(s, "421 4.3.2 %s Service shutting down", s->cfg->cfg->host_name);
        session_close_after_flush(s);
        session_flush(s);
    }
    if (!s->closing)            /* a client that does not read: 1 s more */
        uv_timer_start(&s->timer, session_timeout, 1000, 0);
}

/* session_source_name - the <source> recorded in the spool: the
 * listener's named source, else the most specific matching range. */
static void session_source_name(struct session *s, const struct smtpd_listener *l,
                                const struct sockaddr *peer)
{
    const struct config *cfg = s->cfg->cfg;
    unsigned best = 0;
    int found = 0;
    size_t i;

    if (l->source[0] != '\0') {
        snprintf(s->source, sizeof(s->source), "%s", l->source);
        return;
    }
    for (i = 0; i < cfg->nsources; i++) {
        const struct cfg_source *src = &cfg->sources[i];
        unsigned key;

        if (!src->is_cidr || !cidr_match(&src->cidr, peer))
            continue;
        key = src->cidr.family == AF_INET ? src->cidr.prefix + 96 : src->cidr.prefix;
        if (!found || key >= best) {
            best = key;
            found = 1;
            snprintf(s->source, sizeof(s->source), "%s", src->name);
        }
    }
}

/* session_start - a connection was accepted: settings, greeting. */
static void session_start(struct session *s, struct smtpd_listener *l)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &len) != 0
        || net_ntop((struct sockaddr *)&ss, s->client_ip, sizeof(s->client_ip)) < 0) {
        session_close(s);
        return;
    }
    (void)uv_tcp_nodelay(&s->tcp, 1);
    snprintf(s->listener, sizeof(s->listener), "%s", l->name);
    config_source_settings(s->cfg->cfg, (struct sockaddr *)&ss, l->source, &s->set);
    session_source_name(s, l, (struct sockaddr *)&ss);
    msg_debug("connect from %s on %s", s->client_ip, s->listener);
    if (!s->set.smtp_service || smtpd.stopping) {
        msg_info("%s: smtp-service is off for this source; refused", s->client_ip);
        session_reply(s, "421 4.3.2 Service not available");
        session_close_after_flush(s);
    } else {
        session_reply(s, "220 %s ESMTP Courser", s->cfg->cfg->host_name);
    }
    session_flush(s);
    session_update_reading(s);
    session_set_timer(s);
}

void session_accept(struct smtpd_listener *l)
{
    struct session *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        msg_error("accept: out of memory");
        return;
    }
    if (uv_tcp_init(smtpd.loop, &s->tcp) != 0 || uv_timer_init(smtpd.loop, &s->timer) != 0)
        msg_panic("uv handle init failed");
    s->tcp.data = s->timer.data = s;
    s->handles_open = 2;
    s->cfg = smtpd_cfg_get();
    buf_init(&s->in, SESSION_IN_MAX);
    buf_init(&s->out, SESSION_OUT_MAX);
    buf_init(&s->wbuf, SESSION_OUT_MAX);
    buf_init(&s->msg, 0);
    cmd_reader_init(&s->rd);
    s->next = smtpd.sessions;
    if (s->next)
        s->next->prev = s;
    smtpd.sessions = s;
    smtpd.nsessions++;
    if (uv_accept((uv_stream_t *)&l->tcp, (uv_stream_t *)&s->tcp) != 0) {
        /* Another smtpd process took it (shared listening socket). */
        session_close(s);
        return;
    }
    session_start(s, l);
}
