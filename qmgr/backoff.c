/*
 * backoff - how a queue reacts to what the remote side says: the queue's
 * <smtp-pattern-list> and Courser's built-in ISP rules (lib/
 * smtp_patterns.c) switch it between normal and backoff mode, defer it as
 * a whole, bounce it, disable a source IP; a destination that cannot be
 * reached pauses the whole queue for its retry interval, then one probe
 * connection decides; a delivery may end backoff.
 *
 * Backoff lowers the pressure and never raises it: its connection limit
 * is fixed at entry to at most the connections open at that moment (and
 * by default half of max-smtp-out), its rate to backoff-max-msg-rate or
 * half of max-msg-rate, or, with no rate configured, half of what the
 * queue sent in the last minute.  Unlike PowerMTA, it ends by default
 * (backoff-to-normal-after 1h after the last backoff reply).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "smtp_patterns.h"
#include "shaping.h"

/* half_rate - the same rate at half the count (never below 1/period*2). */
static struct cfg_rate half_rate(const struct cfg_rate *r)
{
    struct cfg_rate h = *r;

    if (h.count >= 2)
        h.count /= 2;
    else
        h.period = h.period * 2 > h.period ? h.period * 2 : h.period;
    return h;
}

void backoff_enter(struct qmgr *m, struct queue *q, const char *why, uint32_t to_normal_after,
                   int64_t now_ms)
{
    struct qshape *s = q->shape;
    uint32_t open, cap, seen;
    uint32_t after = to_normal_after ? to_normal_after : q->s.backoff_to_normal_after;

    if (s == NULL)
        return;
    snprintf(s->mode_reason, sizeof(s->mode_reason), "%s", why);
    /* every backoff reply pushes the return to normal further out */
    s->backoff_until = after ? now_ms + 1000LL * after : 0;
    if (s->mode == QM_BACKOFF)
        return;
    s->mode = QM_BACKOFF;
    s->mode_since = now_ms;
    open = shaping_conns(q, now_ms);
    cap = q->s.backoff_max_smtp_out ? q->s.backoff_max_smtp_out
        : (q->s.max_smtp_out / 2 ? q->s.max_smtp_out / 2 : 1);
    if (cap > q->s.max_smtp_out)
        cap = q->s.max_smtp_out;
    if (cap > open)
        cap = open ? open : 1;          /* never more connections than before */
    s->backoff_conns = cap;
    seen = shaping_seen_minute(q, now_ms);
    if (q->s.backoff_msg_rate.set)
        s->backoff_rate = q->s.backoff_msg_rate;
    else if (q->s.msg_rate.count)
        s->backoff_rate = half_rate(&q->s.msg_rate);
    else {
        s->backoff_rate.count = seen / 2 ? seen / 2 : 1;
        s->backoff_rate.period = 60;
    }
    s->backoff_rate.set = 1;
    {
        char esc[SHAPE_REASON_MAX * 4];

        log_escape(esc, sizeof(esc), why, strlen(why));
        msg_info("queue %s: backoff mode (max %u connections, %llu/%us): %s", q->name, cap,
                 (unsigned long long)s->backoff_rate.count, s->backoff_rate.period, esc);
    }
}

void backoff_leave(struct qmgr *m, struct queue *q, const char *why, int64_t now_ms)
{
    struct qshape *s = q->shape;

    if (s == NULL || s->mode == QM_NORMAL)
        return;
    s->mode = QM_NORMAL;
    s->mode_since = now_ms;
    snprintf(s->mode_reason, sizeof(s->mode_reason), "%s", why);
    s->backoff_until = 0;
    /* the backoff rate's debt must not slow the normal rate down */
    s->msg_rl.tat_us = 0;
    s->conn_rl.tat_us = 0;
    {
        char esc[SHAPE_REASON_MAX * 4];

        log_escape(esc, sizeof(esc), why, strlen(why));
        msg_info("queue %s: normal mode (%s)", q->name, esc);
    }
    queue_mark_runnable(m, q);
}

void backoff_tick(struct qmgr *m, struct queue *q, int64_t now_ms)
{
    struct qshape *s = q->shape;
    uint32_t i;

    if (s == NULL)
        return;
    if (s->mode == QM_BACKOFF && s->backoff_until && now_ms >= s->backoff_until)
        backoff_leave(m, q, "backoff-to-normal-after", now_ms);
    for (i = 0; i < s->ndisabled;) {
        if (s->disabled[i].until && now_ms >= s->disabled[i].until) {
            msg_info("queue %s: source IP %s re-enabled", q->name, s->disabled[i].ip);
            s->disabled[i] = s->disabled[--s->ndisabled];
        } else
            i++;
    }
}

int backoff_ip_disabled(const struct queue *q, const char *ip, int64_t now_ms)
{
    const struct qshape *s = q->shape;
    uint32_t i;

    for (i = 0; s && ip && i < s->ndisabled; i++)
        if (strcmp(s->disabled[i].ip, ip) == 0
            && (s->disabled[i].until == 0 || now_ms < s->disabled[i].until))
            return 1;
    return 0;
}

/* defer_queue - the whole queue waits (retry mode) for seconds. */
static void defer_queue(struct qmgr *m, struct queue *q, uint32_t seconds, const char *why,
                        int64_t now_ms)
{
    struct qshape *s = q->shape;
    int64_t until = now_ms + schedule_jitter(1000LL * seconds,
                                             m->random ? m->random(m) : (uint32_t)random());

    if (until > s->retry_until) {
        s->retry_until = until;
        snprintf(s->retry_reason, sizeof(s->retry_reason), "%s", why);
    }
}

struct bq_ctx {
    struct queue *q;
    struct qrcpt **r;
    size_t n, cap;
};

static void bq_collect(void *val, void *arg)
{
    struct qmsg *msg = val;
    struct bq_ctx *c = arg;
    uint32_t i;

    for (i = 0; i < msg->env.nrcpt; i++) {
        struct qrcpt *r = &msg->r[i];

        if (r->q != c->q || (r->state != RS_READY && r->state != RS_WAIT))
            continue;
        if (c->n == c->cap) {
            size_t nc = c->cap ? c->cap * 2 : 64;
            struct qrcpt **nr = realloc(c->r, nc * sizeof(*nr));
            if (nr == NULL)
                return;
            c->r = nr;
            c->cap = nc;
        }
        c->r[c->n++] = r;
    }
}

/* bounce_queue - every waiting recipient of q bounces with reply
 * (collected first: bouncing frees messages, the map must not change
 * while it is walked). */
static void bounce_queue(struct qmgr *m, struct queue *q, const char *reply, int64_t now_ms)
{
    struct bq_ctx c = { .q = q };
    char status[16] = "5.0.0", diag[PROTO_TEXT_MAX];
    size_t i;

    hmap_each(&m->msgs, bq_collect, &c);
    snprintf(diag, sizeof(diag), "554 5.0.0 queue bounced upon: %s", reply);
    for (i = 0; i < c.n; i++) {
        struct qmsg *msg = c.r[i]->msg;

        result_bounce_local(m, c.r[i], now_ms, status, diag);
        message_check_done(m, msg);
    }
    if (c.n)
        msg_info("queue %s: bounced %zu recipients (bounce-queue)", q->name, c.n);
    free(c.r);
}

unsigned backoff_on_reply(struct qmgr *m, struct queue *q, const char *reply,
                          const char *source_ip, int64_t now_ms)
{
    const struct smtp_pattern_list *l = m->cfg ? config_find_smtp_list(m->cfg, q->s.smtp_pattern_list)
                                               : NULL;
    const struct smtp_pattern_rule *r = smtp_patterns_match(l, reply, strlen(reply));
    struct qshape *s = q->shape;
    char why[SHAPE_REASON_MAX];

    /* the built-in rules only match 4xx/5xx: spare every 250 the regexes */
    if (r == NULL && q->s.use_default_smtp_patterns && reply[0] != '2') {
        l = smtp_patterns_builtin();
        r = smtp_patterns_match(l, reply, strlen(reply));
    }
    if (r == NULL || s == NULL)
        return 0;
    snprintf(why, sizeof(why), "%.150s (%.30s /%.60s/)", reply, l->name, r->src);
    if (r->actions & SPA_BACKOFF)
        backoff_enter(m, q, why, r->to_normal_after, now_ms);
    if (r->actions & SPA_NORMAL)
        backoff_leave(m, q, why, now_ms);
    if (r->actions & SPA_DEFER_QUEUE)
        defer_queue(m, q, shaping_retry_delay(q, 1, 0, 0), why, now_ms);
    if ((r->actions & SPA_DISABLE_SOURCE_IP) && source_ip && source_ip[0]
        && !backoff_ip_disabled(q, source_ip, now_ms)) {
        struct disabled_ip *d = shaping_disabled_slot(s);

        if (d != NULL) {
            snprintf(d->ip, sizeof(d->ip), "%s", source_ip);
            d->until = r->reenable_after ? now_ms + 1000LL * r->reenable_after : 0;
            msg_info("queue %s: source IP %s disabled", q->name, source_ip);
        }
    }
    if (r->actions & SPA_BOUNCE_QUEUE)
        bounce_queue(m, q, reply, now_ms);
    return r->actions;
}

void backoff_on_result(struct qmgr *m, struct queue *q, const struct msg_result *res,
                       int64_t now_ms)
{
    struct qshape *s = q->shape;
    const char *st = res->nrcpt ? res->rcpts[0].status : "";
    char why[SHAPE_REASON_MAX];
    uint32_t i, d;

    if (s == NULL)
        return;
    if (res->local && (strcmp(st, "4.4.1") == 0 || strcmp(st, "4.4.3") == 0)) {
        /* cannot connect (or resolve): the destination, not this message,
         * is the problem; the whole queue waits, then one probe goes.
         * Jobs that were already out fail the same way: they count once. */
        if (s->retry_until > now_ms)
            return;
        snprintf(why, sizeof(why), "%.200s", res->rcpts[0].text ? res->rcpts[0].text : st);
        if (st[4] == '3') {
            d = q->s.retry_after_dns_error ? q->s.retry_after_dns_error : 60;
        } else {
            d = shaping_retry_delay(q, s->conn_failures + 1, 0, 0);
            if (s->conn_failures < UINT32_MAX)
                s->conn_failures++;
        }
        defer_queue(m, q, d, why, now_ms);
        s->probing = 0;
        {
            char esc[SHAPE_REASON_MAX * 4];

            log_escape(esc, sizeof(esc), why, strlen(why));
            msg_info("queue %s: cannot connect; queue waits %us: %s", q->name, d, esc);
        }
        return;
    }
    if (res->local)
        return;
    /* the remote answered */
    s->conn_failures = 0;
    s->probing = 0;
    if (s->mode == QM_BACKOFF && q->s.backoff_to_normal_after_delivery)
        for (i = 0; i < res->nrcpt; i++)
            if (res->rcpts[i].code >= 200 && res->rcpts[i].code < 300) {
                backoff_leave(m, q, "backoff-to-normal-after-delivery", now_ms);
                break;
            }
}
