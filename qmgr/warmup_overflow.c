/*
 * warmup_overflow - `warmup-overflow-virtual-mta NAME` (in <virtual-mta>):
 * when a cold virtual MTA has used up today's warmup-schedule cap, its
 * queues' ready recipients move to the same domain's queue of the warm
 * virtual MTA NAME instead of waiting for the next day (PowerMTA's
 * cold-virtual-mta turned round: there the warm vmta lends its first N
 * messages per day to the cold one; here the cold one hands on what it
 * cannot send).  Only while NAME (and the queue there, with a per-domain
 * plan) has room under its own cap, so two vmtas that name each other do
 * not pass mail back and forth.  The cap used up may be the vmta's or the
 * queue's own (warmup-schedule in <domain>).
 *
 * Called by the shaping gate (shaping.c) when warmup_left is 0.  The move
 * is in memory only: a recipient's state (ready) does not change, so the
 * journal has nothing to record; after a restart the message is routed to
 * its own vmta again and moves again if the cap is still used up (the
 * counts survive restarts, warmup.c).  Accounting's vmta is the queue's
 * (the vmta the recipient left through, result.c); vmtaPool stays the
 * message's pool.  Recipients waiting for a retry move when they are
 * ready again.
 */
#include <stdio.h>
#include <string.h>
#include "log.h"
#include "shaping.h"

uint32_t warmup_overflow(struct qmgr *m, struct queue *q, int64_t now_ms)
{
    const struct cfg_vmta *v = m->cfg ? config_find_vmta(m->cfg, q->vmta) : NULL;
    char domain[PROTO_NAME_MAX];
    struct qrcpt *r;
    struct queue *nq;
    uint32_t n = 0;

    if (v == NULL || v->warmup_overflow[0] == '\0' || q->nready == 0
        || config_find_vmta(m->cfg, v->warmup_overflow) == NULL
        || warmup_left(m, v->warmup_overflow, now_ms, NULL) == 0)
        return 0;
    while ((r = q->ready_head) != NULL) {
        const char *d = message_rcpt_domain(r->msg->env.rcpts[r->index].addr, domain,
                                            sizeof(domain));

        nq = d ? route_queue(m, d, v->warmup_overflow) : NULL;
        if (nq == NULL || nq == q)
            break;              /* no memory: it waits here for tomorrow */
        if (warmup_queue_left(m, nq, now_ms, NULL) == 0)
            break;              /* that queue's own plan is used up too */
        rcpt_detach(m, r);
        r->q = nq;
        queue_ready_push(m, r);
        n++;
    }
    if (n)
        msg_info("queue %s: warm-up cap of virtual MTA %s reached; %u recipients move to "
                 "virtual MTA %s", q->name, q->vmta, n, v->warmup_overflow);
    return n;
}
