/*
 * bounce_client - final failures from qmgr to bounced over
 * run_dir/bounced.sock (DESIGN.md §2.7), and the VERP return path.
 *
 * Every `b` accounting record qmgr emits (a 5xx, an expiry, a local
 * refusal) is turned into a BOUNCE naming the spool file and recipient
 * index; bounced reads the rest from the spool file, so qmgr keeps that
 * file (removal is deferred here) until bounced acknowledges every
 * BOUNCE about it.  Frames go through an outbox: kept until acknowledged,
 * resent after a reconnect, the oldest dropped past 200000 (bounced down
 * for long; the file is then removed).
 * It also gives `b` and `t` records their category from the bounce
 * pattern database (DESIGN.md §2.6: qmgr classifies; the status-only
 * category of result.c is the fallback).
 * Suppressed recipients that smtpd accepted (reject-suppressed-recipients
 * no, or suppressed while queued) are bounced here before their first
 * delivery attempt (550 5.7.1, a `b` record; PowerMTA's
 * accept-invalid-recipients behaviour); the database is bounced's, read
 * here read-only.
 * Durability: each BOUNCE is also appended to qmgr's journal (JR_OUTBOX,
 * stream JS_BOUNCE) before result.c journals the recipient's final state,
 * and each acknowledgement moves the stream's mark (JR_ACKED; the outbox
 * reports them in order).  After a kill -9 of qmgr the BOUNCEs above the
 * mark are replayed (bounce_client_replay, then _replay_end pushes them
 * and re-creates the holds before the spool is looked at, so a finished
 * message's file is still kept until bounced has it): DSNs are
 * at-least-once across qmgr crashes.  A replayed BOUNCE whose file is
 * already gone (removed after the ack, before the mark reached the disk)
 * is acknowledged by bounced without a DSN.
 * Delay notices (bounce_client_delay, at the end of this file) use the
 * same outbox and spool hold with the BOUNCE_DELAY message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "bounce_client.h"
#include "bounce_patterns.h"
#include "bounce_proto.h"
#include "log.h"
#include "outbox.h"
#include "qmgr.h"
#include "suppress.h"
#include "verp_sign.h"

#define BOUNCE_UNACKED_MAX 200000
#define SUPPRESS_RETRY_MS  2000

/* One per BOUNCE in the outbox (its tag). */
struct bitem {
    struct hold *h;
    uint64_t rid;               /* journal record id */
};

/* A BOUNCE replayed from the journal, pushed at the end of the replay. */
struct breplay {
    uint64_t rid;
    size_t len;
    unsigned char *bytes;
};

struct hold {
    uint32_t count;             /* BOUNCEs not yet acknowledged */
    int remove_pending;         /* qmgr is done with the message */
    char qid[QUEUE_ID_SIZE];
};

static struct {
    struct outbox *ob;
    struct hmap holds;          /* qid -> struct hold */
    char spool_dir[PATH_MAX];
    struct verp_key key;
    char verp_domain[CFG_NAME_MAX];
    char mail_from[PROTO_ADDR_MAX];
    struct bounce_patterns *patterns;   /* categories of b and t records */
    struct suppress_db *sdb;    /* read-only; bounced writes it */
    char sdb_dir[PATH_MAX];
    int64_t sdb_retry;
    struct qmgr *m;
    int stopping;               /* outbox_free's drops are not acknowledgements */
    uint64_t rid_next, mark;    /* next record id; all below mark are done */
    struct breplay *rp;         /* replayed, not yet pushed */
    size_t nrp, caprp;
} bc;

/* bc_release - one BOUNCE about h's message is done: the last one lets
 * a finished message's spool file go. */
static void bc_release(struct hold *h)
{
    if (h == NULL || --h->count > 0)
        return;
    if (h->remove_pending && spool_remove(bc.spool_dir, h->qid) < 0)
        msg_error("%s: cannot remove spool file: %s", h->qid, strerror(errno));
    hmap_del(&bc.holds, h->qid);
    free(h);
}

static void bc_done(void *tag, int acked, void *arg)
{
    struct bitem *it = tag;
    struct hold *h = it ? it->h : NULL;

    if (it && !bc.stopping) {
        /* acknowledged, or dropped past BOUNCE_UNACKED_MAX: done either way;
         * the outbox reports frames in order, so this is the new mark */
        bc.mark = it->rid + 1;
        journal_acked(bc.m, JS_BOUNCE, bc.mark);
    }
    free(it);
    bc_release(h);
}

void bounce_client_reconfigure(const struct config *cfg)
{
    char err[512];
    struct verp_key k;
    struct bounce_patterns *db = bounce_patterns_new();

    if (db == NULL
        || (cfg->bounce_patterns[0] && bounce_patterns_load_file(db, cfg->bounce_patterns, err, sizeof(err)) < 0)
        || bounce_patterns_load_builtin(db, err, sizeof(err)) < 0) {
        msg_error("bounce patterns: %s; %s", db ? err : "out of memory",
                  bc.patterns ? "keeping the previous ones" : "categories from the status only");
        bounce_patterns_free(db);
    } else {
        bounce_patterns_free(bc.patterns);
        bc.patterns = db;
    }

    snprintf(bc.spool_dir, sizeof(bc.spool_dir), "%s", cfg->spool_dir);
    if (config_suppression_dir(cfg, bc.sdb_dir, sizeof(bc.sdb_dir)) < 0)
        bc.sdb_dir[0] = '\0';
    if (bc.sdb) {           /* reopened on the next look-up, maybe elsewhere */
        suppress_close(bc.sdb);
        bc.sdb = NULL;
    }
    bc.sdb_retry = 0;
    snprintf(bc.verp_domain, sizeof(bc.verp_domain), "%s", verp_domain(cfg));
    if (verp_key_load(cfg, &k, err, sizeof(err)) < 0)
        msg_error("%s; VERP return paths are not used", err);
    bc.key = k;
}

int bounce_client_start(uv_loop_t *loop, struct qmgr *m, const struct config *cfg)
{
    char path[PATH_MAX];

    memset(&bc, 0, sizeof(bc));
    bc.m = m;
    hmap_init(&bc.holds);
    bounce_client_reconfigure(cfg);
    if (snprintf(path, sizeof(path), "%s/bounced.sock", cfg->run_dir) >= (int)sizeof(path))
        return -1;
    bc.ob = outbox_new(loop, path, ROLE_QMGR, IPC_BOUNCE_ACK, BOUNCE_UNACKED_MAX, "bounced");
    if (bc.ob == NULL)
        return -1;
    outbox_on_done(bc.ob, bc_done, NULL);
    return 0;
}

static int bc_encode(struct buf *out, uint32_t seq, const void *arg)
{
    return msg_bounce_encode(out, seq, arg);
}

/* bc_rcpt_index - r's index in the envelope: the first recipient with
 * that address (duplicates of one address share a fate anyway). */
static int bc_rcpt_index(const struct qmsg *msg, const char *addr, uint32_t *index)
{
    uint32_t i;

    for (i = 0; i < msg->env.nrcpt; i++)
        if (strcmp(msg->env.rcpts[i].addr, addr) == 0) {
            *index = i;
            return 0;
        }
    return -1;
}

/* bc_hold - the hold of qid, made if needed. */
static struct hold *bc_hold(const char *qid)
{
    struct hold *h = hmap_get(&bc.holds, qid);

    if (h != NULL)
        return h;
    if (!queue_id_valid(qid) || (h = calloc(1, sizeof(*h))) == NULL)
        return NULL;
    memcpy(h->qid, qid, QUEUE_ID_SIZE);
    if (hmap_put(&bc.holds, h->qid, h) < 0) {
        free(h);
        return NULL;
    }
    return h;
}

/* bc_push - hold ev's spool file, queue ev under record id rid and, when
 * journal is set, journal it (before the caller journals the final
 * state).  -1: nothing queued. */
static int bc_push(const struct msg_bounce *ev, uint64_t rid, int journal)
{
    struct hold *h = bc_hold(ev->queue_id);
    struct bitem *it = calloc(1, sizeof(*it));
    struct buf b;
    int rc = 0;

    if (h == NULL || it == NULL) {
        free(it);
        return -1;
    }
    h->count++;
    it->h = h;
    it->rid = rid;
    outbox_set_seq(bc.ob, (uint32_t)rid);   /* see outbox.h: acks across qmgr restarts */
    if (outbox_push(bc.ob, bc_encode, ev, it) < 0) {
        free(it);
        bc_release(h);
        return -1;
    }
    if (rid >= bc.rid_next)
        bc.rid_next = rid + 1;
    if (!journal)
        return 0;
    buf_init(&b, IPC_MAX_PAYLOAD + IPC_HDR_LEN);
    if (msg_bounce_encode(&b, 0, ev) < 0
        || journal_outbox(bc.m, JS_BOUNCE, rid, ev->queue_id, b.data, b.len) < 0) {
        msg_warn("%s: BOUNCE for <%s> not journaled; a crash now would lose it", ev->queue_id, ev->rcpt);
        rc = 0;     /* it is queued all the same */
    }
    buf_free(&b);
    return rc;
}

void bounce_client_replay(const struct jrec *rec)
{
    struct breplay *p;
    size_t i, k;

    if (rec->state != JS_BOUNCE)
        return;
    if (rec->type == JR_ACKED) {
        for (k = 0; k < bc.nrp && bc.rp[k].rid < rec->rid; k++)
            free(bc.rp[k].bytes);
        for (i = k; i < bc.nrp; i++)
            bc.rp[i - k] = bc.rp[i];
        bc.nrp -= k;
        if (rec->rid > bc.mark)
            bc.mark = rec->rid;
        if (rec->rid > bc.rid_next)
            bc.rid_next = rec->rid;
        return;
    }
    if (rec->type != JR_OUTBOX || rec->rid < bc.mark
        || (bc.nrp > 0 && rec->rid <= bc.rp[bc.nrp - 1].rid))
        return;
    if (bc.nrp == bc.caprp) {
        size_t cap = bc.caprp ? bc.caprp * 2 : 64;
        void *n = realloc(bc.rp, cap * sizeof(*bc.rp));

        if (n == NULL) {
            msg_error("journal: out of memory replaying a BOUNCE; one DSN may be missing");
            return;
        }
        bc.rp = n;
        bc.caprp = cap;
    }
    p = &bc.rp[bc.nrp];
    if ((p->bytes = malloc(rec->len)) == NULL) {
        msg_error("journal: out of memory replaying a BOUNCE; one DSN may be missing");
        return;
    }
    memcpy(p->bytes, rec->data, rec->len);
    p->len = rec->len;
    p->rid = rec->rid;
    bc.nrp++;
    if (rec->rid >= bc.rid_next)
        bc.rid_next = rec->rid + 1;
}

size_t bounce_client_replay_end(void)
{
    struct ipc_frame f;
    struct msg_bounce ev;
    size_t i, used, n = 0;
    uint64_t rid = bc.mark;

    /* numbered again from the mark without gaps: the outbox's sequence
     * numbers must be consecutive, and they are the record ids */
    if (bc.nrp > 0 && bc.rp[0].rid > rid)
        rid = bc.rp[0].rid;
    for (i = 0; i < bc.nrp; i++) {
        struct breplay *p = &bc.rp[i];

        /* our own bytes, CRC-checked; still parsed strictly */
        if (ipc_frame_parse(p->bytes, p->len, &f, &used) != 1 || used != p->len
            || (f.type != IPC_BOUNCE && f.type != IPC_BOUNCE_DELAY) || msg_bounce_decode(&f, &ev) < 0) {
            msg_warn("journal: unreadable BOUNCE %llu dropped", (unsigned long long)p->rid);
        } else {
            if (bc.ob == NULL || bc_push(&ev, rid, 0) < 0)
                msg_warn("%s: replayed BOUNCE for <%s> cannot be queued", ev.queue_id, ev.rcpt);
            else {
                n++;
                rid++;
            }
            msg_bounce_free(&ev);
        }
        free(p->bytes);
    }
    free(bc.rp);
    bc.rp = NULL;
    bc.nrp = bc.caprp = 0;
    return n;
}

struct bc_put_ctx {
    int (*put)(void *ctx, const struct jrec *r);
    void *ctx;
    int failed;
};

static void bc_pending_cb(void *tag, const void *bytes, size_t len, void *arg)
{
    struct bc_put_ctx *c = arg;
    const struct bitem *it = tag;
    struct jrec rec;

    if (c->failed || it == NULL)
        return;
    memset(&rec, 0, sizeof(rec));
    rec.type = JR_OUTBOX;
    rec.state = JS_BOUNCE;
    rec.rid = it->rid;
    rec.len = (uint32_t)len;
    rec.data = bytes;
    snprintf(rec.qid, sizeof(rec.qid), "%s", it->h ? it->h->qid : "");
    if (c->put(c->ctx, &rec) < 0)
        c->failed = 1;
}

void bounce_client_pending(int (*put)(void *ctx, const struct jrec *r), void *ctx)
{
    struct bc_put_ctx c = { put, ctx, 0 };
    struct jrec rec;

    memset(&rec, 0, sizeof(rec));
    rec.type = JR_ACKED;
    rec.state = JS_BOUNCE;
    rec.rid = bc.mark;      /* the held frames all have ids >= mark */
    if (put(ctx, &rec) < 0 || bc.ob == NULL)
        return;
    outbox_each(bc.ob, bc_pending_cb, &c);
}

void bounce_client_categorize(struct acct_record *r)
{
    const char *type = r->v[AF_TYPE], *st = r->v[AF_DSN_STATUS], *diag = r->v[AF_DSN_DIAG];
    const char *cat = r->v[AF_BOUNCE_CAT], *found;
    char subj[PROTO_TEXT_MAX + 32];
    int n;

    if (bc.patterns == NULL || type == NULL || (strcmp(type, "b") != 0 && strcmp(type, "t") != 0)
        || st == NULL || diag == NULL || (cat && strcmp(cat, "message-expired") == 0))
        return;
    /* the rules' subject: "X.Y.Z TEXT" (bounce_patterns.h) */
    if (strncasecmp(diag, "smtp;", 5) == 0)
        diag += 5;
    n = snprintf(subj, sizeof(subj), "%.*s %s", (int)strcspn(st, " "), st, diag);
    if (n < 0)
        return;
    found = bounce_patterns_match(bc.patterns, subj, strnlen(subj, sizeof(subj)));
    if (found)
        r->v[AF_BOUNCE_CAT] = (char *)found;    /* the database outlives the record */
}

void bounce_client_acct(struct qmgr *m, const struct acct_record *r)
{
    const char *qid = r->v[AF_QUEUE_ID], *st = r->v[AF_DSN_STATUS], *diag = r->v[AF_DSN_DIAG];
    const char *cat = r->v[AF_BOUNCE_CAT];
    struct msg_bounce ev;
    struct qmsg *msg;

    if (bc.ob == NULL || r->v[AF_TYPE] == NULL || strcmp(r->v[AF_TYPE], "b") != 0 || qid == NULL
        || r->v[AF_RCPT] == NULL || (msg = hmap_get(&m->msgs, qid)) == NULL)
        return;
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.queue_id, sizeof(ev.queue_id), "%s", qid);
    if (bc_rcpt_index(msg, r->v[AF_RCPT], &ev.rcpt_index) < 0)
        return;
    snprintf(ev.rcpt, sizeof(ev.rcpt), "%s", r->v[AF_RCPT]);
    /* "5.1.1 (bad destination ...)" -> "5.1.1"; "smtp;550 ..." -> "550 ..." */
    snprintf(ev.status, sizeof(ev.status), "%.*s", st ? (int)strcspn(st, " ") : 0, st ? st : "");
    if (ev.status[0] != '4' && ev.status[0] != '5')
        snprintf(ev.status, sizeof(ev.status), "5.0.0");
    snprintf(ev.category, sizeof(ev.category), "%s", cat && cat[0] ? cat : "other");
    ev.expired = cat && strcmp(cat, "message-expired") == 0;
    ev.time_logged = (uint64_t)time(NULL);
    if (r->v[AF_DSN_MTA])
        snprintf(ev.dsn_mta, sizeof(ev.dsn_mta), "%s", r->v[AF_DSN_MTA]);
    ev.diag = (char *)(diag && strncasecmp(diag, "smtp;", 5) == 0 ? diag + 5 : diag ? diag : "");
    if (bc_push(&ev, bc.rid_next, 1) < 0)
        msg_warn("%s: BOUNCE for <%s> cannot be queued; bounced does not see it", qid, ev.rcpt);
}

void bounce_client_remove_spool(const char *qid)
{
    struct hold *h = bc.ob ? hmap_get(&bc.holds, qid) : NULL;

    if (h && h->count > 0) {
        h->remove_pending = 1;
        return;
    }
    if (spool_remove(bc.spool_dir, qid) < 0)
        msg_error("%s: cannot remove spool file: %s", qid, strerror(errno));
}

int bounce_client_holding(const char *qid)
{
    struct hold *h = bc.ob ? hmap_get(&bc.holds, qid) : NULL;

    return h != NULL && h->remove_pending;
}

const char *bounce_client_mail_from(const struct qmsg *msg, const struct queue *q)
{
    const char *from = msg->env.mail_from ? msg->env.mail_from : "";

    if (from[0] == '\0' || q == NULL || !q->s.verp || bc.key.len == 0 || bc.verp_domain[0] == '\0')
        return from;
    if (verp_sign_encode(&bc.key, msg->qid, bc.verp_domain, bc.mail_from, sizeof(bc.mail_from)) < 0)
        return from;
    return bc.mail_from;
}

/* bc_db - the suppression database, opened lazily (bounced creates it). */
static struct suppress_db *bc_db(int64_t now_ms)
{
    char err[512];

    if (bc.sdb || bc.sdb_dir[0] == '\0' || now_ms < bc.sdb_retry)
        return bc.sdb;
    bc.sdb = suppress_open(bc.sdb_dir, 1, err, sizeof(err));
    if (bc.sdb == NULL)
        bc.sdb_retry = now_ms + SUPPRESS_RETRY_MS;
    return bc.sdb;
}

int bounce_client_drop_suppressed(struct qmgr *m, struct qrcpt *r, int64_t now_ms)
{
    const struct qmsg *msg = r->msg;
    const char *addr = msg->env.rcpts[r->index].addr;
    const char *at = msg->env.mail_from ? strrchr(msg->env.mail_from, '@') : NULL;
    struct suppress_db *db;
    struct suppress_entry e;
    char diag[PROTO_ADDR_MAX + 160], day[16];
    time_t t;
    struct tm tm;

    if (bc.ob == NULL || (db = bc_db(now_ms)) == NULL
        || suppress_check(db, addr, at ? at + 1 : NULL, &e) != 1)
        return 0;
    t = (time_t)e.time;
    if (gmtime_r(&t, &tm) == NULL || strftime(day, sizeof(day), "%Y-%m-%d", &tm) == 0)
        snprintf(day, sizeof(day), "?");
    snprintf(diag, sizeof(diag), "550 5.7.1 <%s>: recipient is on the suppression list (%s, %s)",
             addr, e.reason, day);
    msg_info("%s: <%s> is suppressed (%s); bounced without delivery", msg->qid, addr, e.reason);
    result_bounce_local(m, r, now_ms, "5.7.1", diag);
    return 1;
}

/* ---- delay notices (notify-of-delay-every; issue 6) -------------------
 * How many notices a recipient has had is kept in the high nibble of
 * qrcpt.flags, as count + 1 (0 = not counted yet), so qrcpt does not
 * grow.  It is not journaled: a recipient counted for the first time
 * after a qmgr restart (attempts > 1) is taken to have had every notice
 * due so far, so a restart never repeats one (at worst the one falling
 * due across the restart is skipped). */
#define DELAY_SHIFT 4
#define DELAY_MAX   14          /* count + 1 must fit the nibble */
_Static_assert(((RF_EXPIRE | RF_DELETE) >> DELAY_SHIFT) == 0, "RF_* flags collide with the delay count (qmgr.h)");

void bounce_client_delay(struct qmgr *m, struct qrcpt *r, const char *status, const char *diag,
                         const char *remote_mx, int64_t now_ms)
{
    const struct qmsg *msg = r->msg;
    const struct spool_rcpt *sr = &msg->env.rcpts[r->index];
    uint32_t every = r->q ? r->q->s.notify_delay_every : 0;
    int64_t age = now_ms / 1000 - (int64_t)msg->env.time_queued;
    unsigned due, sent = (unsigned)(r->flags >> DELAY_SHIFT);
    struct msg_bounce ev;

    if (bc.ob == NULL || every == 0 || !(sr->notify & SPOOL_NOTIFY_DELAY)
        || (sr->notify & SPOOL_NOTIFY_NEVER) || msg->env.mail_from == NULL
        || msg->env.mail_from[0] == '\0' || status == NULL || status[0] != '4')
        return;
    due = age > 0 ? (unsigned)((uint64_t)age / every) : 0;
    if (due > DELAY_MAX)
        due = DELAY_MAX;
    if (sent == 0)              /* first look: see the comment above */
        sent = (r->attempts > 1 ? due : 0) + 1;
    if (due + 1 <= sent) {
        r->flags = (uint8_t)((r->flags & ((1u << DELAY_SHIFT) - 1)) | (sent << DELAY_SHIFT));
        return;
    }
    r->flags = (uint8_t)((r->flags & ((1u << DELAY_SHIFT) - 1)) | ((due + 1) << DELAY_SHIFT));
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.queue_id, sizeof(ev.queue_id), "%s", msg->qid);
    ev.rcpt_index = r->index;
    ev.delayed = 1;
    ev.retry_until = (uint64_t)(rcpt_expiry_ms(r) / 1000);
    ev.time_logged = (uint64_t)(now_ms / 1000);
    snprintf(ev.rcpt, sizeof(ev.rcpt), "%s", sr->addr);
    snprintf(ev.status, sizeof(ev.status), "%.*s", (int)strcspn(status, " "), status);
    snprintf(ev.category, sizeof(ev.category), "other");
    if (remote_mx && remote_mx[0])
        snprintf(ev.dsn_mta, sizeof(ev.dsn_mta), "%s", remote_mx);
    ev.diag = (char *)(diag ? diag : "");
    /* same path as a final failure: the spool file is held, the notice
     * journaled (replayed after a qmgr crash) until bounced acknowledges */
    if (bc_push(&ev, bc.rid_next, 1) < 0)
        msg_warn("%s: out of memory; no delay notice for <%s>", msg->qid, ev.rcpt);
}

size_t bounce_client_unacked(void)
{
    return bc.ob ? outbox_pending(bc.ob) : 0;
}

void bounce_client_stop(void)
{
    bc.stopping = 1;        /* what is unacknowledged stays in the journal */
    if (bc.ob)
        outbox_free(bc.ob);
    bc.ob = NULL;
    suppress_close(bc.sdb);
    bc.sdb = NULL;
    bounce_patterns_free(bc.patterns);
    bc.patterns = NULL;
}
