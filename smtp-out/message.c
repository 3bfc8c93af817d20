/*
 * message - what smtp-out sends of a message: the MAIL FROM / RCPT TO
 * command lines with the ESMTP parameters the server offered (SIZE,
 * BODY=8BITMIME, DSN's RET/ENVID/NOTIFY/ORCPT), and the message bytes read
 * from the spool file in chunks and dot-stuffed (RFC 5321 4.5.2) with the
 * stuffing state carried across chunk boundaries.
 *
 * The spool holds the message dot-unstuffed with CRLF line ends; the file
 * is opened read-only (only qmgr removes spool files).  Reads are pread(2)
 * of at most one chunk on the loop thread: spool files were just written
 * and sit in the page cache, as in Postfix's smtp client.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "spool.h"
#include "smtp_out.h"

void dotstuff_init(struct dotstuff *ds)
{
    ds->bol = 1;
    ds->last[0] = ds->last[1] = '\0';
    ds->seen = 0;
}

int dotstuff_chunk(struct dotstuff *ds, const char *in, size_t n, struct buf *out)
{
    size_t i, start = 0;

    if (buf_reserve(out, n + n / 64 + 8) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (ds->bol && in[i] == '.') {
            /* copy the run before the dot, then the extra dot */
            if (buf_append(out, in + start, i - start) < 0 || buf_append(out, ".", 1) < 0)
                return -1;
            start = i;
        }
        ds->bol = (in[i] == '\n');
    }
    if (buf_append(out, in + start, n - start) < 0)
        return -1;
    if (n >= 2) {
        ds->last[0] = in[n - 2];
        ds->last[1] = in[n - 1];
    } else if (n == 1) {
        ds->last[0] = ds->last[1];
        ds->last[1] = in[0];
    }
    ds->seen += n;
    return 0;
}

int dotstuff_end(struct dotstuff *ds, struct buf *out)
{
    int crlf = ds->seen >= 2 && ds->last[0] == '\r' && ds->last[1] == '\n';

    if (ds->seen > 0 && !crlf && buf_append(out, "\r\n", 2) < 0)
        return -1;
    return buf_append(out, ".\r\n", 3);
}

/* xtext (RFC 3461 4): '+', '=' and bytes outside 33..126 as "+XX". */
static int message_xtext(struct buf *out, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        int r = (c < 33 || c > 126 || c == '+' || c == '=')
            ? buf_printf(out, "+%02X", c) : buf_append(out, s, 1);
        if (r < 0)
            return -1;
    }
    return 0;
}

int message_mail_cmd(struct buf *out, const struct msg_deliver *d, const struct smtp_ehlo *e,
                     uint64_t size)
{
    if (buf_printf(out, "MAIL FROM:<%s>", d->mail_from) < 0)
        return -1;
    if ((e->ext & SMTP_EXT_SIZE) && buf_printf(out, " SIZE=%llu", (unsigned long long)size) < 0)
        return -1;
    if (d->body_8bit && (e->ext & SMTP_EXT_8BITMIME) && buf_append_str(out, " BODY=8BITMIME") < 0)
        return -1;
    if (e->ext & SMTP_EXT_DSN) {
        if (d->ret == SPOOL_RET_FULL && buf_append_str(out, " RET=FULL") < 0)
            return -1;
        if (d->ret == SPOOL_RET_HDRS && buf_append_str(out, " RET=HDRS") < 0)
            return -1;
        if (d->envid != NULL && d->envid[0] != '\0'
            && (buf_append_str(out, " ENVID=") < 0 || message_xtext(out, d->envid) < 0))
            return -1;
    }
    return buf_append(out, "\r\n", 2);
}

static int message_rcpt_tail(struct buf *out, const char *orcpt, const struct smtp_ehlo *e);

int message_rcpt_cmd(struct buf *out, const char *addr, uint32_t notify, const char *orcpt,
                     const struct smtp_ehlo *e)
{
    if (buf_printf(out, "RCPT TO:<%s>", addr) < 0)
        return -1;
    if ((e->ext & SMTP_EXT_DSN) && notify != 0) {
        static const struct { uint32_t bit; const char *name; } kw[] = {
            { SPOOL_NOTIFY_SUCCESS, "SUCCESS" }, { SPOOL_NOTIFY_FAILURE, "FAILURE" },
            { SPOOL_NOTIFY_DELAY, "DELAY" },
        };
        const char *sep = "";
        size_t k;
        if (buf_append_str(out, " NOTIFY=") < 0)
            return -1;
        if (notify & SPOOL_NOTIFY_NEVER)
            return buf_append_str(out, "NEVER") < 0 ? -1
                : message_rcpt_tail(out, orcpt, e);
        for (k = 0; k < sizeof(kw) / sizeof(kw[0]); k++) {
            if (!(notify & kw[k].bit))
                continue;
            if (buf_printf(out, "%s%s", sep, kw[k].name) < 0)
                return -1;
            sep = ",";
        }
    }
    return message_rcpt_tail(out, orcpt, e);
}

/* ORCPT (if any) and the line end of a RCPT command. */
static int message_rcpt_tail(struct buf *out, const char *orcpt, const struct smtp_ehlo *e)
{
    if ((e->ext & SMTP_EXT_DSN) && orcpt != NULL && orcpt[0] != '\0') {
        /* the spool keeps ORCPT as given ("rfc822;addr", already xtext) */
        if (buf_append_str(out, " ORCPT=") < 0 || buf_append_str(out, orcpt) < 0)
            return -1;
    }
    return buf_append(out, "\r\n", 2);
}

int message_open(struct message_src *m, const char *spool_dir, const char *qid,
                 int want_dsn, char *err, size_t errlen)
{
    char path[4096];
    struct spool_envelope e;
    uint64_t off, len;
    uint32_t i;

    memset(m, 0, sizeof(*m));
    m->fd = -1;
    if (spool_msg_path(spool_dir, qid, path, sizeof(path)) < 0) {
        snprintf(err, errlen, "spool path too long");
        return -1;
    }
    if (want_dsn) {
        memset(&e, 0, sizeof(e));
        if (spool_read(path, &e, &off, &len, err, errlen) < 0)
            return -1;
        m->notify = calloc(e.nrcpt ? e.nrcpt : 1, sizeof(*m->notify));
        m->orcpt = calloc(e.nrcpt ? e.nrcpt : 1, sizeof(*m->orcpt));
        if (m->notify == NULL || m->orcpt == NULL) {
            spool_envelope_free(&e);
            message_close(m);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        m->nrcpt = e.nrcpt;
        for (i = 0; i < e.nrcpt; i++) {
            m->notify[i] = e.rcpts[i].notify;
            m->orcpt[i] = e.rcpts[i].orcpt;     /* take ownership */
            e.rcpts[i].orcpt = NULL;
        }
        spool_envelope_free(&e);
    }
    m->fd = spool_open_message(path, &m->off, &m->len, err, errlen);
    if (m->fd < 0) {
        message_close(m);
        return -1;
    }
    dotstuff_init(&m->ds);
    return 0;
}

int message_next(struct message_src *m, struct buf *out, size_t chunk, char *err, size_t errlen)
{
    char *tmp;
    size_t want;
    ssize_t n;

    if (m->prefix_len > 0 && !m->prefix_sent) {
        /* Header lines never start with '.', but stuffing keeps the
         * line-start state right for the message's first byte. */
        if (dotstuff_chunk(&m->ds, m->prefix, m->prefix_len, out) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        m->prefix_sent = 1;
    }
    if (m->pos < m->len) {
        want = m->len - m->pos < chunk ? (size_t)(m->len - m->pos) : chunk;
        tmp = malloc(want);
        if (tmp == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        do
            n = pread(m->fd, tmp, want, (off_t)(m->off + m->pos));
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
            snprintf(err, errlen, "spool read: %s", n < 0 ? strerror(errno) : "unexpected end of file");
            free(tmp);
            return -1;
        }
        if (dotstuff_chunk(&m->ds, tmp, (size_t)n, out) < 0) {
            free(tmp);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        free(tmp);
        m->pos += (uint64_t)n;
    }
    if (m->pos < m->len)
        return 0;
    if (dotstuff_end(&m->ds, out) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 1;
}

void message_close(struct message_src *m)
{
    uint32_t i;

    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
    if (m->orcpt != NULL)
        for (i = 0; i < m->nrcpt; i++)
            free(m->orcpt[i]);
    free(m->orcpt);
    free(m->notify);
    m->orcpt = NULL;
    m->notify = NULL;
    m->nrcpt = 0;
}
