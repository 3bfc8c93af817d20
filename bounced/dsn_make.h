/*
 * dsn_make - the RFC 3464 delivery status notification bounced sends to
 * the sender of a failed message: multipart/report (RFC 6522) with a
 * human-readable part, a message/delivery-status part (one per-recipient
 * block per failed recipient) and the original's headers
 * (text/rfc822-headers) or, for RET=FULL, the whole original
 * (message/rfc822); or, for a delay notice, the same with Action: delayed
 * and Will-Retry-Until (RFC 3464 2.3.3, 2.3.9).  Pure: text in, text out,
 * so it is unit-tested alone.
 */
#ifndef COURSER_BOUNCED_DSN_MAKE_H
#define COURSER_BOUNCED_DSN_MAKE_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"

#define DSN_FULL_MAX (10u << 20)    /* RET=FULL of a larger message: headers only */

struct dsn_rcpt {
    const char *addr;           /* Final-Recipient */
    const char *orcpt;          /* ORCPT as given ("rfc822;a@b"), or NULL */
    const char *status;         /* "5.1.1" */
    const char *diag;           /* "550 5.1.1 no such user", or NULL */
    const char *remote_mta;     /* "mx.example.com (192.0.2.1)" or NULL */
    int expired;                /* gave up (bounce-after) rather than refused */
};

struct dsn_input {
    const char *host_name;      /* Reporting-MTA and the From: domain */
    const char *from;           /* From: address; NULL = MAILER-DAEMON@host_name */
    const char *to;             /* the original envelope sender */
    const char *orig_qid;
    const char *dsn_qid;        /* the DSN's own queue id (Message-ID, boundary) */
    const char *envid;          /* Original-Envelope-Id, or NULL */
    int64_t arrival;            /* original's time queued */
    int64_t now;
    const char *orig;           /* original message bytes (CRLF), or NULL */
    size_t origlen;             /* how many of them are here */
    int full;                   /* orig is the whole message: attach it */
    const struct dsn_rcpt *rcpts;
    size_t nrcpt;
    int delayed;                /* a delay notice: Action: delayed, still retried */
    int64_t retry_until;        /* delayed: Will-Retry-Until, 0 = not given */
};

/* Append the DSN message (CRLF lines, each at most 998 bytes) to out.
 * 0, or -1 when out's limit is reached or an input is missing. */
int dsn_make(struct buf *out, const struct dsn_input *in);
/* The header block of a message: bytes up to and including the first
 * empty line (all of it when there is none). */
size_t dsn_header_len(const char *msg, size_t len);
/* Whether any byte is 8-bit (the DSN then goes out BODY=8BITMIME). */
int dsn_has_8bit(const char *p, size_t n);

#endif
