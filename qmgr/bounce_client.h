/*
 * bounce_client - qmgr's side of bounced (see bounce_client.c).
 */
#ifndef COURSER_QMGR_BOUNCE_CLIENT_H
#define COURSER_QMGR_BOUNCE_CLIENT_H

#include <stdint.h>
#include <uv.h>
#include "acct.h"
#include "config.h"

struct qmgr;
struct qmsg;
struct queue;

int bounce_client_start(uv_loop_t *loop, struct qmgr *m, const struct config *cfg);
/* Take the VERP key and spool folder of a reloaded configuration. */
void bounce_client_reconfigure(const struct config *cfg);
/* Replace a `b`/`t` record's bounceCat by the pattern database's verdict
 * on its reply (r is a shallow copy: only that pointer changes, to a
 * string owned by the database, valid until the next reload). */
void bounce_client_categorize(struct acct_record *r);
/* Called with every accounting record qmgr makes: a `b` record becomes a
 * BOUNCE to bounced. */
void bounce_client_acct(struct qmgr *m, const struct acct_record *r);
/* Remove a finished message's spool file, or keep it until bounced has
 * acknowledged every BOUNCE about it. */
void bounce_client_remove_spool(const char *qid);
/* Whether qid is such a finished message whose file is kept for bounced
 * (a spool rescan must not load it again). */
int bounce_client_holding(const char *qid);
/* MAIL FROM for a delivery of msg via queue q: the signed VERP address
 * when the queue says `verp yes` and a key and domain are configured,
 * else the envelope sender.  Valid until the next call. */
const char *bounce_client_mail_from(const struct qmsg *msg, const struct queue *q);
/* If r's address is on the suppression list (global or the sender
 * domain's), bounce it (5.7.1, no delivery) and return 1; else 0. */
struct qrcpt;
int bounce_client_drop_suppressed(struct qmgr *m, struct qrcpt *r, int64_t now_ms);
/* Start-up, journal replay: a JR_OUTBOX/JR_ACKED record of stream
 * JS_BOUNCE (kept until _replay_end). */
struct jrec;
void bounce_client_replay(const struct jrec *r);
/* After the replay, before messages are scheduled: queue the BOUNCEs not
 * acknowledged before the crash and hold their spool files; returns how many. */
size_t bounce_client_replay_end(void);
/* Compaction: write the stream's mark and every unacknowledged BOUNCE. */
void bounce_client_pending(int (*put)(void *ctx, const struct jrec *r), void *ctx);
/* Delay notices (notify-of-delay-every): called by result.c after r got
 * a 4xx and was rescheduled.  When r asked for NOTIFY=DELAY and has been
 * queued another whole interval since the last notice, send bounced a
 * BOUNCE_DELAY (it spools a "delayed" DSN).  remote_mx may be NULL. */
void bounce_client_delay(struct qmgr *m, struct qrcpt *r, const char *status, const char *diag,
                         const char *remote_mx, int64_t now_ms);
size_t bounce_client_unacked(void);
void bounce_client_stop(void);

#endif
