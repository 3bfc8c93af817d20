/*
 * bounce_proto - codec of the BOUNCE and BOUNCE_DELAY messages (see
 * bounce_proto.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "bounce_proto.h"
#include "queueid.h"

int msg_bounce_encode(struct buf *out, uint32_t seq, const struct msg_bounce *m)
{
    size_t st;

    if (ipc_begin(out, m->delayed ? IPC_BOUNCE_DELAY : IPC_BOUNCE, seq, &st) < 0
        || ipc_put_str(out, m->queue_id) < 0
        || ipc_put_u32(out, m->rcpt_index) < 0 || ipc_put_u32(out, m->expired) < 0
        || ipc_put_u64(out, m->time_logged) < 0 || ipc_put_str(out, m->rcpt) < 0
        || ipc_put_str(out, m->status) < 0 || ipc_put_str(out, m->category) < 0
        || ipc_put_str(out, m->dsn_mta) < 0 || ipc_put_str(out, m->diag) < 0)
        return -1;
    if (m->delayed && ipc_put_u64(out, m->retry_until) < 0)
        return -1;
    return ipc_end(out, st);
}

/* status_ok - "C.S.D" with C 4 or 5, S and D 1-3 digits (RFC 3463). */
static int status_ok(const char *s)
{
    int i, n;

    if ((s[0] != '4' && s[0] != '5') || s[1] != '.')
        return 0;
    s += 2;
    for (i = 0; i < 2; i++) {
        for (n = 0; isdigit((unsigned char)*s) && n < 4; n++)
            s++;
        if (n == 0 || n > 3 || *s != (i == 0 ? '.' : '\0'))
            return 0;
        if (i == 0)
            s++;
    }
    return 1;
}

/* category_ok - lower-case letters and '-' only (a category name). */
static int category_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || *s == '-'))
            return 0;
    return 1;
}

int msg_bounce_decode(const struct ipc_frame *f, struct msg_bounce *m)
{
    struct ipc_reader r;

    memset(m, 0, sizeof(*m));
    if (f->type != IPC_BOUNCE && f->type != IPC_BOUNCE_DELAY)
        return -1;
    m->delayed = f->type == IPC_BOUNCE_DELAY;
    ipc_reader_init(&r, f);
    ipc_get_str(&r, m->queue_id, sizeof(m->queue_id));
    m->rcpt_index = ipc_get_u32(&r);
    m->expired = ipc_get_u32(&r);
    m->time_logged = ipc_get_u64(&r);
    ipc_get_str(&r, m->rcpt, sizeof(m->rcpt));
    ipc_get_str(&r, m->status, sizeof(m->status));
    ipc_get_str(&r, m->category, sizeof(m->category));
    ipc_get_str(&r, m->dsn_mta, sizeof(m->dsn_mta));
    m->diag = ipc_get_strdup(&r, PROTO_TEXT_MAX);
    if (m->delayed)
        m->retry_until = ipc_get_u64(&r);
    if (ipc_reader_end(&r) < 0 || !queue_id_valid(m->queue_id) || m->rcpt[0] == '\0'
        || !status_ok(m->status) || !category_ok(m->category) || m->expired > 1
        || (m->delayed && (m->status[0] != '4' || m->expired))) {
        msg_bounce_free(m);
        return -1;
    }
    return 0;
}

void msg_bounce_free(struct msg_bounce *m)
{
    free(m->diag);
    m->diag = NULL;
}
