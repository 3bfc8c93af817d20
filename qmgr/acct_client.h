/*
 * acct_client - qmgr's connection to acctd (see acct_client.c).
 */
#ifndef COURSER_QMGR_ACCT_CLIENT_H
#define COURSER_QMGR_ACCT_CLIENT_H

#include <uv.h>
#include "acct.h"

struct qmgr;
struct jrec;

/* Set up the ring (before the journal replay); records are journaled in m->jr. */
int acct_client_init(struct qmgr *m);
/* Connect (and resend what the replay put back). */
int acct_client_start(uv_loop_t *loop, const char *socket_path);
/* Queue one record (journaled, kept until acctd acknowledges it). */
void acct_client_send(const struct acct_record *r);
/* acctd acknowledged reqid (repeats and unknown ids are ignored). */
void acct_client_ack(uint32_t reqid);
/* Start-up: a replayed JR_OUTBOX/JR_ACKED record of stream JS_ACCT. */
void acct_client_replay(const struct jrec *r);
/* Compaction: write the mark and every unacknowledged record with put. */
void acct_client_pending(int (*put)(void *ctx, const struct jrec *r), void *ctx);
size_t acct_client_unacked(void);
void acct_client_stop(void);

#endif
