/*
 * dsn - RFC 3464 §2.3 per-recipient field parsing.  Real DSNs are sloppy:
 * blank lines between recipient blocks go missing, Original-Recipient comes
 * without Final-Recipient, fields repeat.  So records are split on the
 * recipient fields themselves as well as on blank lines.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "dsn.h"
#include "mime.h"

struct dsn_rec {
    const char *final, *orig, *actual, *action, *status, *diag, *rmta;
};

/* dsn_flush - turn a record into a report entry; returns 1 if added */
static int dsn_flush(struct dsn_rec *d, struct report *rep)
{
    char addr[REPORT_ADDR_LEN];
    struct report_rcpt *r;
    const char *src = NULL;
    int ok = 0;

    if (d->final && report_addr_clean(d->final, addr, sizeof(addr)) == 0)
        src = d->final;
    else if (d->orig && report_addr_clean(d->orig, addr, sizeof(addr)) == 0)
        src = d->orig;
    else if (d->actual && report_addr_clean(d->actual, addr, sizeof(addr)) == 0)
        src = d->actual;
    if (src && (r = report_add(rep, addr)) != NULL) {
        size_t i;
        if (d->action) {
            for (i = 0; d->action[i] && d->action[i] != ' ' && d->action[i] != '('
                        && i + 1 < sizeof(r->action); i++)
                r->action[i] = (char)tolower((unsigned char)d->action[i]);
            r->action[i] = '\0';
        }
        if (d->status && report_status_parse(d->status, r->status, sizeof(r->status)) < 0)
            r->status[0] = '\0';
        if (d->diag && *d->diag)
            report_set_diag(r, d->diag, strlen(d->diag));
        /* "deliverable": Postfix's and Sendmail's address-verification
         * reports (sendmail -bv), not in RFC 3464 but common */
        if (strcmp(r->action, "delivered") == 0 || strcmp(r->action, "relayed") == 0
            || strcmp(r->action, "expanded") == 0 || strcmp(r->action, "deliverable") == 0)
            r->type = REPORT_DELIVERED;
        else if (r->status[0] == '2' && strcmp(r->action, "failed") != 0)
            r->type = REPORT_DELIVERED;
        else
            r->type = REPORT_BOUNCE;
        ok = 1;
    }
    memset(d, 0, sizeof(*d));
    return ok;
}

static int dsn_is(const struct mime_hdr *h, const char *name)
{
    return strcasecmp(h->name, name) == 0;
}

int dsn_parse(const char *text, size_t len, struct report *rep)
{
    struct dsn_rec d = { 0 };
    struct mime_hdr *hdrs;
    size_t nh, off = 0, used, i;
    int added = 0;

    /* A record never spans a blank line, so each block is freed as soon
     * as it has been read: any number of recipients in bounded memory. */
    while (off < len) {
        while (off < len) {                 /* skip blank-looking lines */
            const char *nl = memchr(text + off, '\n', len - off);
            size_t e = nl ? (size_t)(nl - text) : len, k = off;
            while (k < e && (text[k] == ' ' || text[k] == '\t'))
                k++;
            if (k != e)
                break;
            off = e + 1;
        }
        if (off >= len)
            break;
        used = mime_headers_parse(text + off, len - off, &hdrs, &nh);
        if (nh == 0) {
            const char *nl = memchr(text + off, '\n', len - off);     /* not a field line */
            mime_headers_free(hdrs, 0);
            off = nl ? (size_t)(nl - text) + 1 : len;
            continue;
        }
        for (i = 0; i < nh; i++) {
            const struct mime_hdr *h = &hdrs[i];
            if (dsn_is(h, "Final-Recipient")) {
                if (d.final)
                    added += dsn_flush(&d, rep);
                d.final = h->value;
            } else if (dsn_is(h, "Original-Recipient")) {
                /* Original- may follow Final-Recipient in the same record */
                if (d.orig || (d.final && (d.action || d.status || d.diag)))
                    added += dsn_flush(&d, rep);
                d.orig = h->value;
            } else if (dsn_is(h, "X-Actual-Recipient")) {
                d.actual = h->value;
            } else if (dsn_is(h, "Action")) {
                d.action = h->value;
            } else if (dsn_is(h, "Status")) {
                d.status = h->value;
            } else if (dsn_is(h, "Diagnostic-Code")) {
                if (!d.diag || !*d.diag)
                    d.diag = h->value;
            } else if (dsn_is(h, "Remote-MTA")) {
                d.rmta = h->value;
            }
        }
        if (d.final || d.orig)              /* block end closes a record */
            added += dsn_flush(&d, rep);
        else
            memset(&d, 0, sizeof(d));       /* per-message block */
        mime_headers_free(hdrs, nh);
        off += used ? used : len - off;
    }
    return added;
}
