/*
 * failure - what bounced does with a final failure qmgr reports (runs on
 * the thread pool): classify the reply with the full pattern database;
 * put a hard bounce on the suppression list; and send the sender an RFC
 * 3464 DSN when send-dsn is on, the sender is not the null sender (never
 * a bounce of a bounce) nor an address at a bounce-domain, and the
 * recipient's NOTIFY asked for failures (or said nothing: RFC 3461 4.1),
 * at most max-dsn-per-sender-per-hour DSNs per sender address.
 * The DSN is spooled like any message, with the null return path, and
 * qmgr is told of it when the job comes back.  Failures of one message
 * that arrive together (one delivery's results) are one job, a batch,
 * and get one DSN listing every recipient.  The batches queued when a job
 * starts (up to BJOB_GROUP_MAX messages) run as one group: their
 * suppression entries go into one LMDB write transaction and their DSNs
 * into one spool group commit (spool_batch_*: two syncfs calls instead of
 * a fdatasync and a directory fsync per DSN), all durable before any of
 * them is acknowledged — a burst of failures is processed at thousands a
 * second instead of a few hundred (bench/bounced_burst.sh).
 * A delay notice (BOUNCE_DELAY, notify-of-delay-every) gives only a
 * "delayed" DSN, and only to a recipient whose NOTIFY named DELAY: no
 * classification, no suppression, no bounce-pipe event.
 * Failures: a spool file already gone means no DSN (logged); a spool
 * write error too (logged; the suppression entry is still made).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "bounced.h"
#include "classify.h"
#include "dsn_make.h"
#include "log.h"
#include "pipe.h"
#include "spool.h"

#define FAILURE_HDR_READ (256u << 10)     /* original bytes read for its headers */
#define FAILURE_DSN_MAX  (DSN_FULL_MAX + (1u << 20))
#define FAILURE_BATCH_MAX BJOB_BATCH_MAX
#define FAILURE_GROUP_BYTES (64u << 20)   /* DSN bytes held for one group commit */

/* What the batches of one run write together. */
struct failure_group {
    int batched;                    /* more than one batch: group commit */
    struct spool_batch dsns;
    size_t dsn_bytes;
    struct bjob *dsn_heads[BJOB_GROUP_MAX];   /* whose dsn_qid awaits the commit */
    size_t ndsn;
    struct suppress_item *items;    /* hard bounces, put in one transaction */
    size_t nitems, capitems;
};

/* failure_read_original - the first want bytes of the message (all of it
 * when want >= its length).  NULL when the file cannot be read. */
static char *failure_read_original(const char *path, size_t want, size_t *got, uint64_t *total)
{
    uint64_t off, len;
    char err[256], *data;
    size_t n = 0;
    ssize_t r;
    int fd = spool_open_message(path, &off, &len, err, sizeof(err));

    if (fd < 0)
        return NULL;
    *total = len;
    if (want > len)
        want = (size_t)len;
    data = malloc(want + 1);
    if (data == NULL) {
        (void)close(fd);
        return NULL;
    }
    while (n < want) {
        r = pread(fd, data + n, want - n, (off_t)(off + n));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    (void)close(fd);
    data[n] = '\0';
    *got = n;
    return data;
}

/* The DSN rate limit: per sender address (hashed; two senders whose
 * hashes collide share a budget, which errs towards fewer DSNs) and
 * hour window.  Touched only by the job thread. */
#define RATE_SLOTS 65536
static struct { uint64_t h; int64_t hour; uint32_t n; } rate[RATE_SLOTS];

static int failure_rate_ok(struct bounced_ctx *c, const char *sender, int64_t now)
{
    uint64_t h = 1469598103934665603ull;
    int64_t hour = now / 3600;
    const char *p;
    size_t i;

    if (c->cfg->max_dsn_per_sender == 0)
        return 1;
    for (p = sender; *p; p++)
        h = (h ^ (unsigned char)tolower((unsigned char)*p)) * 1099511628211ull;
    i = (size_t)(h % RATE_SLOTS);
    if (rate[i].h != h || rate[i].hour != hour) {
        rate[i].h = h;
        rate[i].hour = hour;
        rate[i].n = 0;
    }
    if (rate[i].n >= c->cfg->max_dsn_per_sender)
        return 0;
    rate[i].n++;
    return 1;
}

/* failure_wants_dsn - the sender and NOTIFY rules above. */
static int failure_wants_dsn(struct bounced_ctx *c, const struct spool_envelope *env,
                             const struct spool_rcpt *r, int delayed)
{
    if (!c->cfg->send_dsn || env->mail_from == NULL || env->mail_from[0] == '\0')
        return 0;
    if (config_is_bounce_address(c->cfg, env->mail_from))
        return 0;
    if (delayed)        /* RFC 3461 4.1: delays only when asked for */
        return (r->notify & SPOOL_NOTIFY_DELAY) && !(r->notify & SPOOL_NOTIFY_NEVER);
    if (r->notify == 0)
        return 1;
    return (r->notify & SPOOL_NOTIFY_FAILURE) && !(r->notify & SPOOL_NOTIFY_NEVER);
}

/* failure_dsn - build and spool one DSN for the n members of the batch
 * in mem[] (same message); 0 and head->dsn_qid set, or -1. */
static int failure_dsn(struct bounced_ctx *c, struct failure_group *g, struct bjob *head,
                       struct bjob **mem, size_t n, const struct spool_envelope *env,
                       const char *path)
{
    struct spool_envelope d;
    struct spool_rcpt dr;
    struct dsn_rcpt rc[FAILURE_BATCH_MAX];
    char mta[FAILURE_BATCH_MAX][PROTO_NAME_MAX];
    struct dsn_input in;
    struct buf out;
    uint64_t total = 0;
    size_t got = 0, i;
    /* RFC 3461 4.3: RET=FULL is for failures; a delay returns headers */
    int full = env->ret == SPOOL_RET_FULL && !head->ev.delayed, rcode;
    char *orig = failure_read_original(path, full ? DSN_FULL_MAX + 1 : FAILURE_HDR_READ, &got, &total);
    char qid[QUEUE_ID_SIZE];

    memset(rc, 0, sizeof(rc));
    for (i = 0; i < n; i++) {
        const struct msg_bounce *ev = &mem[i]->ev;
        const struct spool_rcpt *sr = &env->rcpts[ev->rcpt_index];

        rc[i].addr = sr->addr;
        rc[i].orcpt = sr->orcpt;
        rc[i].status = ev->status;
        rc[i].diag = ev->diag;
        /* accounting's "mx.example.com (192.0.2.1)": Remote-MTA is "dns; NAME" */
        snprintf(mta[i], sizeof(mta[i]), "%.*s", (int)strcspn(ev->dsn_mta, " "), ev->dsn_mta);
        rc[i].remote_mta = mta[i];
        rc[i].expired = (int)ev->expired;
    }
    queue_id_new(qid);
    memset(&in, 0, sizeof(in));
    in.host_name = c->cfg->host_name;
    in.from = c->cfg->postmaster[0] ? c->cfg->postmaster : NULL;
    in.to = env->mail_from;
    in.orig_qid = env->queue_id;
    in.dsn_qid = qid;
    in.envid = env->envid;
    in.arrival = (int64_t)env->time_queued;
    in.now = (int64_t)time(NULL);
    in.orig = orig;
    in.origlen = got;
    in.full = full && orig && got == total;
    in.rcpts = rc;
    in.nrcpt = n;
    in.delayed = (int)head->ev.delayed;
    in.retry_until = (int64_t)head->ev.retry_until;
    buf_init(&out, FAILURE_DSN_MAX);
    rcode = dsn_make(&out, &in);
    if (rcode == 0) {
        memset(&d, 0, sizeof(d));
        memset(&dr, 0, sizeof(dr));
        memcpy(d.queue_id, qid, QUEUE_ID_SIZE);
        d.time_queued = (uint64_t)in.now;
        d.client_ip = (char *)"127.0.0.1";
        d.client_helo = c->cfg->host_name;
        d.listener = (char *)"bounced";
        d.vmta = env->vmta;
        d.mail_from = (char *)"";
        d.body_8bit = dsn_has_8bit(out.data, out.len);
        dr.addr = env->mail_from;
        dr.notify = SPOOL_NOTIFY_NEVER;
        d.nrcpt = 1;
        d.rcpts = &dr;
        if (g->batched && g->ndsn < BJOB_GROUP_MAX && g->dsn_bytes + out.len <= FAILURE_GROUP_BYTES) {
            rcode = spool_batch_add(&g->dsns, c->cfg->spool_dir, &d, out.data, out.len);
            if (rcode == 0) {
                g->dsn_heads[g->ndsn++] = head;
                g->dsn_bytes += out.len;
            }
        } else {
            rcode = spool_commit(c->cfg->spool_dir, &d, out.data, out.len);
        }
        if (rcode < 0)
            msg_error("%s: cannot spool the DSN: %s", env->queue_id, strerror(errno));
        else
            memcpy(head->dsn_qid, qid, QUEUE_ID_SIZE);   /* cleared if the group commit fails */
    } else {
        msg_error("%s: cannot build the DSN (too large?)", env->queue_id);
    }
    buf_free(&out);
    free(orig);
    return rcode;
}

/* failure_suppress - a hard bounce goes on the global list. */
static void failure_suppress(struct bounced_ctx *c, struct failure_group *g, const struct bjob *j,
                             const char *category)
{
    struct suppress_entry e;

    if (g->nitems == g->capitems && g->capitems < BJOB_GROUP_MAX * FAILURE_BATCH_MAX) {
        size_t cap = g->capitems ? g->capitems * 2 : 64;
        void *p = reallocarray(g->items, cap, sizeof(*g->items));

        if (p != NULL) {
            g->items = p;
            g->capitems = cap;
        }
    }
    if (g->nitems < g->capitems) {
        struct suppress_item *it = &g->items[g->nitems++];

        memset(it, 0, sizeof(*it));
        it->scope = "*";
        it->addr = j->ev.rcpt;      /* the job outlives the group */
        it->e.time = (int64_t)(j->ev.time_logged ? j->ev.time_logged : (uint64_t)time(NULL));
        snprintf(it->e.reason, sizeof(it->e.reason), "%s", category);
        snprintf(it->e.source, sizeof(it->e.source), "b");
        snprintf(it->e.detail, sizeof(it->e.detail), "%s %s", j->ev.status, j->ev.queue_id);
        return;
    }
    memset(&e, 0, sizeof(e));
    e.time = (int64_t)(j->ev.time_logged ? j->ev.time_logged : (uint64_t)time(NULL));
    snprintf(e.reason, sizeof(e.reason), "%s", category);
    snprintf(e.source, sizeof(e.source), "b");
    snprintf(e.detail, sizeof(e.detail), "%s %s", j->ev.status, j->ev.queue_id);
    if (c->sdb == NULL || suppress_put(c->sdb, "*", j->ev.rcpt, &e) < 0)
        msg_error("%s: cannot add <%s> to the suppression list", j->ev.queue_id, j->ev.rcpt);
}

/* failure_one - classify and suppress one member; 1 if hard. */
static int failure_one(struct bounced_ctx *c, struct failure_group *g, struct bjob *j,
                       const char **category)
{
    struct report_rcpt r;
    int hard;

    memset(&r, 0, sizeof(r));
    classify_reply(c->patterns, j->ev.diag ? j->ev.diag : j->ev.status, &r);
    *category = j->ev.expired ? "message-expired" : r.category ? r.category : j->ev.category;
    hard = !j->ev.expired && j->ev.status[0] == '5' && bounce_patterns_is_hard(c->patterns, *category);
    free(r.diag);
    if (hard)
        failure_suppress(c, g, j, *category);
    return hard;
}

/* failure_batch - one message's failures (j and its batch); pipe events
 * go to pj's buffer (one append for the whole group). */
static void failure_batch(struct bounced_ctx *c, struct failure_group *g, struct bjob *j,
                          struct bjob *pj)
{
    struct bjob *all[FAILURE_BATCH_MAX], *want[FAILURE_BATCH_MAX], *b;
    const char *cat[FAILURE_BATCH_MAX];
    int hard[FAILURE_BATCH_MAX];
    struct spool_envelope env;
    char path[PATH_MAX], err[256], esc[PROTO_ADDR_MAX * 4];
    uint64_t off, len;
    size_t n = 0, nwant = 0, i;
    int dsn = 0;

    for (b = j; b && n < FAILURE_BATCH_MAX; b = b->batch)
        all[n++] = b;
    for (i = 0; i < n; i++) {
        if (j->ev.delayed) {
            hard[i] = 0;
            cat[i] = "delayed";
        } else {
            hard[i] = failure_one(c, g, all[i], &cat[i]);
        }
    }
    memset(&env, 0, sizeof(env));
    if (spool_msg_path(c->cfg->spool_dir, j->ev.queue_id, path, sizeof(path)) < 0
        || spool_read(path, &env, &off, &len, err, sizeof(err)) < 0) {
        msg_warn("%s: no DSN: the spool file is gone", j->ev.queue_id);
    } else {
        for (i = 0; i < n; i++) {
            const struct msg_bounce *ev = &all[i]->ev;

            if (ev->rcpt_index >= env.nrcpt || strcasecmp(env.rcpts[ev->rcpt_index].addr, ev->rcpt) != 0)
                msg_warn("%s: recipient %u is not <%s>; no DSN for it", ev->queue_id, ev->rcpt_index,
                         ev->rcpt);
            else if (failure_wants_dsn(c, &env, &env.rcpts[ev->rcpt_index], (int)ev->delayed))
                want[nwant++] = all[i];
        }
        if (nwant > 0 && !failure_rate_ok(c, env.mail_from, (int64_t)time(NULL))) {
            log_escape(esc, sizeof(esc), env.mail_from, strlen(env.mail_from));
            msg_warn("%s: no DSN to <%s>: max-dsn-per-sender-per-hour (%u) reached", j->ev.queue_id,
                     esc, c->cfg->max_dsn_per_sender);
        } else if (nwant > 0) {
            dsn = failure_dsn(c, g, j, want, nwant, &env, path) == 0;
        }
    }
    for (i = 0; i < n; i++) {
        if (c->bounce_pipe && !j->ev.delayed
            && bpipe_event(&pj->pipe_b, "b", (int64_t)time(NULL), all[i]->ev.rcpt, cat[i], hard[i],
                           all[i]->ev.status, all[i]->ev.diag, all[i]->ev.queue_id, NULL,
                           env.mail_from) < 0)
            msg_warn("%s: bounce-pipe event dropped (too large)", all[i]->ev.queue_id);
        log_escape(esc, sizeof(esc), all[i]->ev.rcpt, strlen(all[i]->ev.rcpt));
        msg_info("%s: rcpt=<%s> status=%s category=%s %s%s%s%s", all[i]->ev.queue_id, esc,
                 all[i]->ev.status, cat[i],
                 j->ev.delayed ? "still queued" : hard[i] ? "hard, suppressed" : "soft",
                 dsn ? ", DSN " : "", dsn ? j->dsn_qid : "", dsn ? " to the sender" : "");
    }
    spool_envelope_free(&env);
}

void failure_run(struct bounced_ctx *c, struct bjob *j)
{
    struct failure_group grp, *g = &grp;
    struct bjob *b;
    size_t i;
    long put;

    memset(g, 0, sizeof(*g));
    g->batched = j->group != NULL;
    spool_batch_init(&g->dsns);
    for (b = j; b; b = b->group)
        failure_batch(c, g, b, j);
    if (g->nitems > 0) {
        put = c->sdb ? suppress_put_many(c->sdb, g->items, g->nitems) : -1;
        if (put != (long)g->nitems)
            msg_error("cannot add %zu hard bounces to the suppression list (%ld added)",
                      g->nitems, put < 0 ? 0 : put);
    }
    if (g->ndsn > 0 && spool_batch_commit(&g->dsns, c->cfg->spool_dir) < 0) {
        msg_error("cannot spool %zu DSNs: %s", g->ndsn, strerror(errno));
        for (i = 0; i < g->ndsn; i++)
            g->dsn_heads[i]->dsn_qid[0] = '\0';
    }
    spool_batch_free(&g->dsns);
    free(g->items);
}
