/*
 * dsn_make - building the RFC 3464 DSN (see dsn_make.h).
 *
 * Every value that came from outside (the remote's reply, addresses, the
 * envelope id) is written as printable ASCII: other bytes become '?', and
 * long values are folded at blanks, so the report can neither break its
 * own header structure nor exceed the 998-byte line limit (RFC 5322 2.1.1).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "dsn_make.h"

#define DSN_FOLD 76
#define DSN_VALUE_MAX 4000

/* put_date - RFC 5322 date in UTC. */
/* fmt_date - RFC 5322 date-time of t, UTC. */
static int fmt_date(char *d, size_t dlen, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(d, dlen, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
        return -1;
    return 0;
}

static int put_date(struct buf *out, const char *name, int64_t t)
{
    char d[64];

    if (fmt_date(d, sizeof(d), t) < 0)
        return -1;
    return buf_printf(out, "%s: %s\r\n", name, d);
}

/* put_clean - s as printable ASCII, at most max bytes, folded: a blank
 * past DSN_FOLD columns becomes CRLF + blank (a continuation line). */
static int put_clean(struct buf *out, const char *s, size_t col, size_t max)
{
    size_t i, n = strlen(s);
    char c;

    if (n > max)
        n = max;
    for (i = 0; i < n; i++) {
        c = s[i];
        if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7e)
            c = c == '\t' ? ' ' : '?';
        if (c == ' ' && col > DSN_FOLD) {
            if (buf_append(out, "\r\n ", 3) < 0)
                return -1;
            col = 1;
            continue;
        }
        /* a run without blanks is cut hard before the line limit */
        if (col >= 990) {
            if (buf_append(out, "\r\n ", 3) < 0)
                return -1;
            col = 1;
        }
        if (buf_append(out, &c, 1) < 0)
            return -1;
        col++;
    }
    return 0;
}

static int put_field(struct buf *out, const char *name, const char *prefix, const char *value)
{
    size_t col = strlen(name) + 2 + strlen(prefix);

    if (buf_printf(out, "%s: %s", name, prefix) < 0 || put_clean(out, value, col, DSN_VALUE_MAX) < 0)
        return -1;
    return buf_append(out, "\r\n", 2);
}

size_t dsn_header_len(const char *msg, size_t len)
{
    size_t i;

    if (len >= 2 && msg[0] == '\r' && msg[1] == '\n')
        return 2;
    for (i = 0; i + 3 < len; i++)
        if (msg[i] == '\r' && msg[i + 1] == '\n' && msg[i + 2] == '\r' && msg[i + 3] == '\n')
            return i + 4;
    return len;
}

int dsn_has_8bit(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return 1;
    return 0;
}

static int put_human(struct buf *out, const struct dsn_input *in)
{
    size_t i;

    if (buf_printf(out, "Content-Description: Notification\r\n"
                        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
                        "This is the mail system at host %s.\r\n\r\n", in->host_name) < 0)
        return -1;
    if (in->delayed) {
        char until[64];

        if (in->retry_until <= 0 || fmt_date(until, sizeof(until), in->retry_until) < 0)
            snprintf(until, sizeof(until), "its delivery time runs out");
        if (buf_printf(out, "Your message could not be delivered yet to the recipients\r\n"
                            "below. The mail system will keep trying until\r\n%s.\r\n"
                            "You do not need to send it again.\r\n\r\n", until) < 0)
            return -1;
    } else if (buf_append_str(out, "I'm sorry to have to inform you that your message could not\r\n"
                                   "be delivered to one or more recipients. The recipients and\r\n"
                                   "the reasons are listed below.\r\n\r\n") < 0) {
        return -1;
    }
    for (i = 0; i < in->nrcpt; i++) {
        const struct dsn_rcpt *r = &in->rcpts[i];

        if (buf_append_str(out, "<") < 0 || put_clean(out, r->addr, 1, 512) < 0
            || buf_append_str(out, ">: ") < 0)
            return -1;
        if (r->expired && buf_append_str(out, "delivery time expired; last error: ") < 0)
            return -1;
        if (put_clean(out, r->diag && r->diag[0] ? r->diag : r->status, 40, DSN_VALUE_MAX) < 0
            || buf_append_str(out, "\r\n\r\n") < 0)
            return -1;
    }
    return 0;
}

static int put_status(struct buf *out, const struct dsn_input *in)
{
    size_t i;

    if (buf_append_str(out, "Content-Description: Delivery report\r\n"
                            "Content-Type: message/delivery-status\r\n\r\n") < 0
        || put_field(out, "Reporting-MTA", "dns; ", in->host_name) < 0
        || put_field(out, "X-Courser-Queue-ID", "", in->orig_qid) < 0
        || (in->envid && in->envid[0] && put_field(out, "Original-Envelope-Id", "", in->envid) < 0)
        || put_date(out, "Arrival-Date", in->arrival) < 0)
        return -1;
    for (i = 0; i < in->nrcpt; i++) {
        const struct dsn_rcpt *r = &in->rcpts[i];

        if (buf_append_str(out, "\r\n") < 0 || put_field(out, "Final-Recipient", "rfc822; ", r->addr) < 0)
            return -1;
        if (r->orcpt && r->orcpt[0]) {
            /* ORCPT is "addr-type;xtext" already (RFC 3461 4.2) */
            if (strchr(r->orcpt, ';') ? put_field(out, "Original-Recipient", "", r->orcpt) < 0
                                      : put_field(out, "Original-Recipient", "rfc822; ", r->orcpt) < 0)
                return -1;
        }
        if (buf_append_str(out, in->delayed ? "Action: delayed\r\n" : "Action: failed\r\n") < 0
            || put_field(out, "Status", "", r->status) < 0)
            return -1;
        if (r->remote_mta && r->remote_mta[0] && put_field(out, "Remote-MTA", "dns; ", r->remote_mta) < 0)
            return -1;
        if (r->diag && r->diag[0] && put_field(out, "Diagnostic-Code", "smtp; ", r->diag) < 0)
            return -1;
        if (put_date(out, "Last-Attempt-Date", in->now) < 0)
            return -1;
        if (in->delayed && in->retry_until > 0 && put_date(out, "Will-Retry-Until", in->retry_until) < 0)
            return -1;
    }
    return 0;
}

int dsn_make(struct buf *out, const struct dsn_input *in)
{
    char boundary[128];
    size_t hl;
    int full;

    if (in->host_name == NULL || in->to == NULL || in->to[0] == '\0' || in->orig_qid == NULL
        || in->dsn_qid == NULL || in->nrcpt == 0)
        return -1;
    snprintf(boundary, sizeof(boundary), "%s/%s", in->dsn_qid, in->host_name);
    /* RFC 3461 4.3: RET=FULL applies to failures; a delay gets headers */
    full = in->full && !in->delayed && in->orig && in->origlen <= DSN_FULL_MAX;
    if (put_date(out, "Date", in->now) < 0)
        return -1;
    if (in->from && in->from[0]) {
        if (buf_append_str(out, "From: Mail Delivery System <") < 0
            || put_clean(out, in->from, 30, 512) < 0 || buf_append_str(out, ">\r\n") < 0)
            return -1;
    } else if (buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", in->host_name) < 0)
        return -1;
    if (buf_append_str(out, "To: <") < 0 || put_clean(out, in->to, 5, 512) < 0
        || buf_append_str(out, ">\r\n") < 0
        || buf_append_str(out, in->delayed ? "Subject: Delayed Mail (still being retried)\r\n"
                                           : "Subject: Undelivered Mail Returned to Sender\r\n") < 0
        || buf_printf(out, "Message-ID: <%s@%s>\r\n", in->dsn_qid, in->host_name) < 0
        || buf_append_str(out, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n") < 0
        || buf_printf(out, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
                           "\tboundary=\"%s\"\r\n\r\n"
                           "This is a MIME-encapsulated message.\r\n\r\n--%s\r\n", boundary, boundary) < 0
        || put_human(out, in) < 0
        || buf_printf(out, "--%s\r\n", boundary) < 0
        || put_status(out, in) < 0
        || buf_append_str(out, "\r\n") < 0)
        return -1;
    if (in->orig && in->origlen > 0) {
        hl = full ? in->origlen : dsn_header_len(in->orig, in->origlen);
        if (buf_printf(out, "--%s\r\nContent-Description: %s\r\nContent-Type: %s\r\n%s\r\n", boundary,
                       full ? "Undelivered Message"
                            : in->delayed ? "Delayed Message Headers" : "Undelivered Message Headers",
                       full ? "message/rfc822" : "text/rfc822-headers",
                       dsn_has_8bit(in->orig, hl) ? "Content-Transfer-Encoding: 8bit\r\n" : "") < 0
            || buf_append(out, in->orig, hl) < 0)
            return -1;
        if ((hl < 2 || in->orig[hl - 2] != '\r' || in->orig[hl - 1] != '\n')
            && buf_append_str(out, "\r\n") < 0)
            return -1;
        if (!full && (hl < 4 || memcmp(in->orig + hl - 4, "\r\n\r\n", 4) != 0)
            && buf_append_str(out, "\r\n") < 0)
            return -1;
    }
    return buf_printf(out, "--%s--\r\n", boundary);
}
