/*
 * bounce_proto - the BOUNCE message qmgr sends bounced for every recipient
 * that failed for good (a 5xx, an expiry, a local refusal), and its codec.
 *
 * The message names the spool file and the recipient's index in it;
 * bounced reads sender, NOTIFY, ORCPT, RET and the original headers from
 * the spool file itself (qmgr keeps the file until bounced acknowledges:
 * BOUNCE_ACK with the same reqid).  The address travels too, so that the
 * suppression entry is made even when the file is gone.
 *
 * BOUNCE_DELAY (notify-of-delay-every) has the same fields and one more,
 * the time the recipient will be retried until; bounced answers it with
 * BOUNCE_ACK too (so the same outbox carries both) and sends a "delayed"
 * DSN, nothing else (no suppression, no pipe event).
 */
#ifndef COURSER_BOUNCE_PROTO_H
#define COURSER_BOUNCE_PROTO_H

#include <stdint.h>
#include "buf.h"
#include "ipc.h"
#include "proto.h"

struct msg_bounce {
    char queue_id[32];
    uint32_t rcpt_index;        /* in the spool envelope */
    uint32_t expired;           /* 1: bounce-after / retries ran out */
    uint64_t time_logged;       /* seconds since the epoch */
    char rcpt[PROTO_ADDR_MAX];
    char status[16];            /* "X.Y.Z" */
    char category[64];          /* qmgr's category from the status */
    char dsn_mta[PROTO_NAME_MAX]; /* "mx.example.com (192.0.2.1)" or "" */
    char *diag;                 /* "550 5.1.1 no such user", owned */
    uint32_t delayed;           /* 1: came as BOUNCE_DELAY (a 4.x.x status) */
    uint64_t retry_until;       /* BOUNCE_DELAY: seconds since the epoch */
};

/* BOUNCE, or BOUNCE_DELAY when m->delayed. */
int msg_bounce_encode(struct buf *out, uint32_t seq, const struct msg_bounce *m);
/* Validates every field: a queue id, an X.Y.Z status (4 or 5 class; 4
 * for BOUNCE_DELAY), no control bytes.  -1 on anything else (m then holds
 * nothing to free). */
int msg_bounce_decode(const struct ipc_frame *f, struct msg_bounce *m);
void msg_bounce_free(struct msg_bounce *m);

#endif
