/*
 * schedule - recipient timers: retry times from the queue's retry-after
 * list (last value repeats) with +-10% jitter so a burst of deferrals does
 * not come back as one burst, expiry at time-queued + bounce-after, and
 * the job watchdogs.  Every non-final recipient sits in one min-heap keyed
 * by the next moment something must happen to it, so the loop only ever
 * looks at the heap top: no periodic scan of the queues.
 */
#include <stdlib.h>
#include "log.h"
#include "qmgr.h"
#include "shaping.h"

int64_t rcpt_expiry_ms(const struct qrcpt *r)
{
    int64_t t = (int64_t)r->msg->env.time_queued;

    if (r->q)
        t += r->q->s.bounce_after;
    return t * 1000;
}

uint32_t schedule_retry_delay(const struct cfg_domain_settings *s, uint32_t attempts,
                              int rcpt_level)
{
    uint32_t n = s->nretry ? s->nretry : 1, i = attempts ? attempts - 1 : 0;
    uint32_t d = s->nretry ? s->retry_after[i < n ? i : n - 1] : 600;

    if (rcpt_level && d < s->retry_recipients_after)
        d = s->retry_recipients_after;
    return d;
}

int64_t schedule_jitter(int64_t delay_ms, uint32_t rnd)
{
    int64_t span = delay_ms / 5;    /* 20% wide window centred on delay */

    if (delay_ms <= 0)
        return 0;
    return delay_ms - delay_ms / 10 + (int64_t)(((uint64_t)rnd * (uint64_t)span) >> 32);
}

/* rcpt_detach - take r out of its current state's list and counters (the
 * heap is left alone). */
void rcpt_detach(struct qmgr *m, struct qrcpt *r)
{
    switch (r->state) {
    case RS_READY:
        queue_ready_remove(r);
        break;
    case RS_WAIT:
        if (r->q && r->q->nwait > 0)
            r->q->nwait--;
        break;
    case RS_INFLIGHT:
        if (r->q && r->q->ninflight > 0)
            r->q->ninflight--;
        if (m->nrcpt_inflight > 0)
            m->nrcpt_inflight--;
        break;
    default:
        break;
    }
    r->state = RS_NEW;
}

void schedule_wait(struct qmgr *m, struct qrcpt *r, int64_t next_ms)
{
    int64_t exp = rcpt_expiry_ms(r);

    rcpt_detach(m, r);
    r->state = RS_WAIT;
    r->q->nwait++;
    if (heap_update(&m->timers, &r->tn, next_ms < exp ? next_ms : exp) < 0)
        msg_fatal("out of memory (timer heap)");
}

void schedule_ready(struct qmgr *m, struct qrcpt *r)
{
    rcpt_detach(m, r);
    queue_ready_push(m, r);
    if (heap_update(&m->timers, &r->tn, rcpt_expiry_ms(r)) < 0)
        msg_fatal("out of memory (timer heap)");
}

/* schedule_fire - r's timer is due: retry, or expire. */
static void schedule_fire(struct qmgr *m, struct qrcpt *r, int64_t now_ms)
{
    struct qmsg *msg = r->msg;

    heap_remove(&m->timers, &r->tn);
    if (r->state == RS_INFLIGHT) {
        /* the job's result (or its watchdog) finishes it as expired */
        r->flags |= RF_EXPIRE;
        return;
    }
    if (now_ms >= rcpt_expiry_ms(r)) {
        result_expire(m, r, now_ms, NULL);
        message_check_done(m, msg);
        return;
    }
    if (r->state == RS_WAIT)
        schedule_ready(m, r);
    else    /* READY before expiry: cannot happen, keep it timed */
        (void)heap_update(&m->timers, &r->tn, rcpt_expiry_ms(r));
}

void schedule_run_timers(struct qmgr *m, int64_t now_ms)
{
    struct hnode *n;

    while ((n = heap_top(&m->timers)) != NULL && n->key <= now_ms)
        schedule_fire(m, container_of(n, struct qrcpt, tn), now_ms);
    while ((n = heap_top(&m->watchdogs)) != NULL && n->key <= now_ms) {
        struct job *j = container_of(n, struct job, wd);

        msg_warn("job %llu (%s, %s) got no result in time; requeued",
                 (unsigned long long)j->id, j->m->qid, j->q->name);
        job_requeue(m, j, now_ms);
    }
    shaping_run_timers(m, now_ms);
}

int64_t schedule_next_ms(const struct qmgr *m)
{
    struct hnode *a = heap_top(&m->timers), *b = heap_top(&m->watchdogs);
    int64_t t = a && b ? (a->key < b->key ? a->key : b->key) : a ? a->key : b ? b->key : -1;
    int64_t s = shaping_next_ms(m);

    return t < 0 || (s >= 0 && s < t) ? s : t;
}
