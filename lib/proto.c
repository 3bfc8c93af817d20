/*
 * proto - encoders and validating decoders for every IPC message type.
 * Decoders check the frame type, bound every count and string, and reject
 * trailing bytes; on failure they free what they allocated and return -1.
 */
#include <stdlib.h>
#include <string.h>
#include "proto.h"
#include "queueid.h"

/* --- HELLO ---------------------------------------------------------- */
int msg_hello_encode(struct buf *out, const struct msg_hello *m)
{
    size_t st;

    if (ipc_begin(out, IPC_HELLO, 0, &st) < 0 || ipc_put_u32(out, m->role) < 0
        || ipc_put_u32(out, m->pid) < 0 || ipc_put_u32(out, m->slots) < 0)
        return -1;
    return ipc_end(out, st);
}

int msg_hello_decode(const struct ipc_frame *f, struct msg_hello *m)
{
    struct ipc_reader r;

    if (f->type != IPC_HELLO)
        return -1;
    ipc_reader_init(&r, f);
    m->role = ipc_get_u32(&r);
    m->pid = ipc_get_u32(&r);
    m->slots = ipc_get_u32(&r);
    if (ipc_reader_end(&r) < 0 || m->role < ROLE_SMTPD || m->role > ROLE_QMGR)
        return -1;
    return 0;
}

/* --- MSG_NEW -------------------------------------------------------- */
int msg_new_encode(struct buf *out, const struct msg_new *m)
{
    size_t st;

    if (ipc_begin(out, IPC_MSG_NEW, 0, &st) < 0 || ipc_put_str(out, m->queue_id) < 0)
        return -1;
    return ipc_end(out, st);
}

int msg_new_decode(const struct ipc_frame *f, struct msg_new *m)
{
    struct ipc_reader r;

    if (f->type != IPC_MSG_NEW)
        return -1;
    ipc_reader_init(&r, f);
    ipc_get_str(&r, m->queue_id, sizeof(m->queue_id));
    if (ipc_reader_end(&r) < 0 || !queue_id_valid(m->queue_id))
        return -1;
    return 0;
}

/* --- DELIVER -------------------------------------------------------- */
int msg_deliver_encode(struct buf *out, const struct msg_deliver *m)
{
    size_t st;
    uint32_t i;

    if (ipc_begin(out, IPC_DELIVER, 0, &st) < 0)
        return -1;
    if (ipc_put_u64(out, m->job_id) < 0 || ipc_put_str(out, m->queue_id) < 0
        || ipc_put_str(out, m->mail_from) < 0 || ipc_put_str(out, m->envid) < 0
        || ipc_put_u32(out, m->ret) < 0 || ipc_put_u32(out, m->body_8bit) < 0
        || ipc_put_str(out, m->vmta) < 0 || ipc_put_str(out, m->source_ip) < 0
        || ipc_put_str(out, m->helo_name) < 0 || ipc_put_str(out, m->domain) < 0
        || ipc_put_str(out, m->route) < 0 || ipc_put_u32(out, m->connect_timeout) < 0
        || ipc_put_u32(out, m->greeting_timeout) < 0 || ipc_put_u32(out, m->data_timeout) < 0
        || ipc_put_u32(out, m->idle_timeout) < 0
        || ipc_put_u32(out, m->max_msg_per_connection) < 0
        || ipc_put_str(out, m->skip_mx ? m->skip_mx : "") < 0 || ipc_put_u32(out, m->nrcpt) < 0)
        return -1;
    for (i = 0; i < m->nrcpt; i++)
        if (ipc_put_u32(out, m->rcpts[i].index) < 0 || ipc_put_str(out, m->rcpts[i].addr) < 0)
            return -1;
    return ipc_end(out, st);
}

void msg_deliver_free(struct msg_deliver *m)
{
    uint32_t i;

    free(m->mail_from);
    free(m->envid);
    free(m->vmta);
    free(m->source_ip);
    free(m->helo_name);
    free(m->domain);
    free(m->route);
    free(m->skip_mx);
    if (m->rcpts)
        for (i = 0; i < m->nrcpt; i++)
            free(m->rcpts[i].addr);
    free(m->rcpts);
    memset(m, 0, sizeof(*m));
}

int msg_deliver_decode(const struct ipc_frame *f, struct msg_deliver *m)
{
    struct ipc_reader r;
    uint32_t i, n;

    memset(m, 0, sizeof(*m));
    if (f->type != IPC_DELIVER)
        return -1;
    ipc_reader_init(&r, f);
    m->job_id = ipc_get_u64(&r);
    ipc_get_str(&r, m->queue_id, sizeof(m->queue_id));
    m->mail_from = ipc_get_strdup(&r, PROTO_ADDR_MAX);
    m->envid = ipc_get_strdup(&r, PROTO_TEXT_MAX);
    m->ret = ipc_get_u32(&r);
    m->body_8bit = ipc_get_u32(&r);
    m->vmta = ipc_get_strdup(&r, PROTO_NAME_MAX);
    m->source_ip = ipc_get_strdup(&r, PROTO_NAME_MAX);
    m->helo_name = ipc_get_strdup(&r, PROTO_NAME_MAX);
    m->domain = ipc_get_strdup(&r, PROTO_NAME_MAX);
    m->route = ipc_get_strdup(&r, PROTO_TEXT_MAX);
    m->connect_timeout = ipc_get_u32(&r);
    m->greeting_timeout = ipc_get_u32(&r);
    m->data_timeout = ipc_get_u32(&r);
    m->idle_timeout = ipc_get_u32(&r);
    m->max_msg_per_connection = ipc_get_u32(&r);
    m->skip_mx = ipc_get_strdup(&r, PROTO_TEXT_MAX);
    n = ipc_get_count(&r, PROTO_RCPT_MAX);
    if (!r.failed && n > 0) {
        m->rcpts = calloc(n, sizeof(*m->rcpts));
        if (m->rcpts == NULL)
            r.failed = 1;
        else
            m->nrcpt = n;
    }
    for (i = 0; i < m->nrcpt && !r.failed; i++) {
        m->rcpts[i].index = ipc_get_u32(&r);
        m->rcpts[i].addr = ipc_get_strdup(&r, PROTO_ADDR_MAX);
    }
    if (ipc_reader_end(&r) < 0 || !queue_id_valid(m->queue_id) || m->nrcpt == 0
        || m->ret > 2) {
        msg_deliver_free(m);
        return -1;
    }
    return 0;
}

/* --- RESULT --------------------------------------------------------- */
int msg_result_encode(struct buf *out, const struct msg_result *m)
{
    size_t st;
    uint32_t i;

    if (ipc_begin(out, IPC_RESULT, 0, &st) < 0)
        return -1;
    if (ipc_put_u64(out, m->job_id) < 0 || ipc_put_u32(out, m->local) < 0
        || ipc_put_u32(out, m->esmtp) < 0 || ipc_put_str(out, m->remote_mx) < 0
        || ipc_put_str(out, m->remote_ip) < 0 || ipc_put_str(out, m->source_ip) < 0
        || ipc_put_str(out, m->esmtp_ext) < 0 || ipc_put_u32(out, m->nrefused) < 0)
        return -1;
    for (i = 0; i < m->nrefused; i++)
        if (ipc_put_str(out, m->refused[i].mx) < 0 || ipc_put_str(out, m->refused[i].reply) < 0)
            return -1;
    if (ipc_put_u32(out, m->nrcpt) < 0)
        return -1;
    for (i = 0; i < m->nrcpt; i++) {
        const struct result_rcpt *rr = &m->rcpts[i];
        if (ipc_put_u32(out, rr->index) < 0 || ipc_put_u32(out, rr->code) < 0
            || ipc_put_str(out, rr->status) < 0 || ipc_put_str(out, rr->text) < 0)
            return -1;
    }
    return ipc_end(out, st);
}

void msg_result_free(struct msg_result *m)
{
    uint32_t i;

    free(m->remote_mx);
    free(m->remote_ip);
    free(m->source_ip);
    free(m->esmtp_ext);
    if (m->refused)
        for (i = 0; i < m->nrefused; i++) {
            free(m->refused[i].mx);
            free(m->refused[i].reply);
        }
    free(m->refused);
    if (m->rcpts)
        for (i = 0; i < m->nrcpt; i++)
            free(m->rcpts[i].text);
    free(m->rcpts);
    memset(m, 0, sizeof(*m));
}

int msg_result_decode(const struct ipc_frame *f, struct msg_result *m)
{
    struct ipc_reader r;
    uint32_t i, n;

    memset(m, 0, sizeof(*m));
    if (f->type != IPC_RESULT)
        return -1;
    ipc_reader_init(&r, f);
    m->job_id = ipc_get_u64(&r);
    m->local = ipc_get_u32(&r);
    m->esmtp = ipc_get_u32(&r);
    m->remote_mx = ipc_get_strdup(&r, PROTO_NAME_MAX);
    m->remote_ip = ipc_get_strdup(&r, PROTO_NAME_MAX);
    m->source_ip = ipc_get_strdup(&r, PROTO_NAME_MAX);
    m->esmtp_ext = ipc_get_strdup(&r, PROTO_TEXT_MAX);
    n = ipc_get_count(&r, PROTO_REFUSED_MAX);
    if (!r.failed && n > 0) {
        m->refused = calloc(n, sizeof(*m->refused));
        if (m->refused == NULL)
            r.failed = 1;
        else
            m->nrefused = n;
    }
    for (i = 0; i < m->nrefused && !r.failed; i++) {
        m->refused[i].mx = ipc_get_strdup(&r, PROTO_NAME_MAX);
        m->refused[i].reply = ipc_get_strdup(&r, PROTO_TEXT_MAX);
    }
    n = ipc_get_count(&r, PROTO_RCPT_MAX);
    if (!r.failed && n > 0) {
        m->rcpts = calloc(n, sizeof(*m->rcpts));
        if (m->rcpts == NULL)
            r.failed = 1;
        else
            m->nrcpt = n;
    }
    for (i = 0; i < m->nrcpt && !r.failed; i++) {
        struct result_rcpt *rr = &m->rcpts[i];
        rr->index = ipc_get_u32(&r);
        rr->code = ipc_get_u32(&r);
        ipc_get_str(&r, rr->status, sizeof(rr->status));
        rr->text = ipc_get_strdup(&r, PROTO_TEXT_MAX);
        if (rr->code < 200 || rr->code > 599)
            r.failed = 1;
    }
    if (ipc_reader_end(&r) < 0) {
        msg_result_free(m);
        return -1;
    }
    return 0;
}

/* --- ACCT ----------------------------------------------------------- */
int msg_acct_encode(struct buf *out, uint32_t seq, const struct acct_record *rec)
{
    size_t st;
    uint32_t i, n = 0;

    for (i = 0; i < AF_COUNT; i++)
        if (rec->v[i])
            n++;
    if (ipc_begin(out, IPC_ACCT, seq, &st) < 0 || ipc_put_u32(out, n) < 0)
        return -1;
    for (i = 0; i < AF_COUNT; i++)
        if (rec->v[i] && (ipc_put_u32(out, i) < 0 || ipc_put_str(out, rec->v[i]) < 0))
            return -1;
    return ipc_end(out, st);
}

int msg_acct_decode(const struct ipc_frame *f, struct acct_record *rec)
{
    struct ipc_reader r;
    uint32_t i, n, field;

    memset(rec, 0, sizeof(*rec));
    if (f->type != IPC_ACCT)
        return -1;
    ipc_reader_init(&r, f);
    n = ipc_get_count(&r, AF_COUNT);
    for (i = 0; i < n && !r.failed; i++) {
        field = ipc_get_u32(&r);
        if (field >= AF_COUNT || rec->v[field] != NULL) {
            r.failed = 1;
            break;
        }
        rec->v[field] = ipc_get_strdup(&r, PROTO_TEXT_MAX);
    }
    if (ipc_reader_end(&r) < 0 || rec->v[AF_TYPE] == NULL) {
        acct_record_free(rec);
        return -1;
    }
    return 0;
}

/* --- CTL ------------------------------------------------------------ */
int msg_ctl_request_encode(struct buf *out, uint32_t reqid, int argc, char *const argv[])
{
    size_t st;
    int i;

    if (argc < 0 || argc > PROTO_ARGV_MAX)
        return -1;
    if (ipc_begin(out, IPC_CTL_REQUEST, reqid, &st) < 0 || ipc_put_u32(out, (uint32_t)argc) < 0)
        return -1;
    for (i = 0; i < argc; i++)
        if (ipc_put_str(out, argv[i]) < 0)
            return -1;
    return ipc_end(out, st);
}

void msg_ctl_request_free(struct msg_ctl_request *m)
{
    uint32_t i;

    if (m->argv)
        for (i = 0; i < m->argc; i++)
            free(m->argv[i]);
    free(m->argv);
    memset(m, 0, sizeof(*m));
}

int msg_ctl_request_decode(const struct ipc_frame *f, struct msg_ctl_request *m)
{
    struct ipc_reader r;
    uint32_t i, n;

    memset(m, 0, sizeof(*m));
    if (f->type != IPC_CTL_REQUEST)
        return -1;
    ipc_reader_init(&r, f);
    n = ipc_get_count(&r, PROTO_ARGV_MAX);
    m->argv = calloc(n + 1, sizeof(char *));
    if (m->argv == NULL)
        return -1;
    m->argc = n;
    for (i = 0; i < n && !r.failed; i++)
        m->argv[i] = ipc_get_strdup(&r, PROTO_TEXT_MAX);
    if (ipc_reader_end(&r) < 0) {
        msg_ctl_request_free(m);
        return -1;
    }
    return 0;
}

int msg_ctl_reply_encode(struct buf *out, uint32_t reqid, uint32_t status, const char *text)
{
    size_t st;

    if (ipc_begin(out, IPC_CTL_REPLY, reqid, &st) < 0 || ipc_put_u32(out, status) < 0
        || ipc_put_str(out, text) < 0)
        return -1;
    return ipc_end(out, st);
}

void msg_ctl_reply_free(struct msg_ctl_reply *m)
{
    free(m->text);
    memset(m, 0, sizeof(*m));
}

int msg_ctl_reply_decode(const struct ipc_frame *f, struct msg_ctl_reply *m)
{
    struct ipc_reader r;

    memset(m, 0, sizeof(*m));
    if (f->type != IPC_CTL_REPLY)
        return -1;
    ipc_reader_init(&r, f);
    m->status = ipc_get_u32(&r);
    m->text = ipc_get_textdup(&r, IPC_MAX_PAYLOAD);
    if (ipc_reader_end(&r) < 0) {
        msg_ctl_reply_free(m);
        return -1;
    }
    return 0;
}
