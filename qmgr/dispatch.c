/*
 * dispatch - smtp-out workers and delivery jobs: which worker gets the
 * next job (the one that last served the queue, so it can reuse its
 * cached connection, else the one with most free slots), building one
 * DELIVER per message from that message's ready recipients of the queue
 * (at most max-rcpt-per-transaction), the per-queue limit of jobs in
 * flight (max-smtp-out), and requeueing a lost worker's jobs.
 *
 * Dispatch only walks the runnable list: queues that have ready
 * recipients.  It is run after each event that can free capacity or make
 * recipients ready (new mail, RESULT, timer, new worker).
 */
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "bounce_client.h"
#include "qmgr.h"
#include "shaping.h"

#define WATCHDOG_SLACK_S 600    /* MX fallbacks, DNS, queueing at smtp-out */

struct worker *worker_add(struct qmgr *m, void *conn, uint32_t pid, uint32_t slots)
{
    struct worker *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->conn = conn;
    w->pid = pid;
    w->slots = slots ? slots : 1;
    w->next = m->workers;
    m->workers = w;
    return w;
}

struct job *worker_find_job(struct worker *w, uint64_t job_id)
{
    struct job *j;

    for (j = w->jobs; j; j = j->next)
        if (j->id == job_id)
            return j;
    return NULL;
}

static void forget_worker_cb(void *val, void *arg)
{
    struct queue *q = val;

    if (q->last_worker == arg)
        q->last_worker = NULL;
}

void worker_remove(struct qmgr *m, struct worker *w, int64_t now_ms)
{
    struct worker **pp;

    while (w->jobs)
        job_requeue(m, w->jobs, now_ms);
    for (pp = &m->workers; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    hmap_each(&m->queues, forget_worker_cb, w);
    shaping_worker_gone(m, w);
    free(w);
}

void job_free(struct qmgr *m, struct job *j)
{
    struct job **pp;

    heap_remove(&m->watchdogs, &j->wd);
    for (pp = &j->w->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    if (j->w->inflight > 0)
        j->w->inflight--;
    if (j->q->jobs > 0)
        j->q->jobs--;
    queue_mark_runnable(m, j->q);
    free(j->rcpts);
    free(j);
}

void job_requeue(struct qmgr *m, struct job *j, int64_t now_ms)
{
    struct qmsg *msg = j->m;
    uint32_t i;

    for (i = 0; i < j->nrcpt; i++) {
        struct qrcpt *r = j->rcpts[i];

        if (r->state != RS_INFLIGHT)
            continue;
        if ((r->flags & RF_EXPIRE) || now_ms >= rcpt_expiry_ms(r))
            result_expire(m, r, now_ms, NULL);
        else
            schedule_ready(m, r);
    }
    shaping_job_end(m, j, 0, now_ms);
    job_free(m, j);
    message_check_done(m, msg);
}

static struct worker *dispatch_pick_worker(struct qmgr *m, struct queue *q)
{
    struct worker *w, *best = NULL;

    if (q->last_worker && !q->last_worker->broken
        && q->last_worker->inflight < q->last_worker->slots)
        return q->last_worker;
    for (w = m->workers; w; w = w->next)
        if (!w->broken && w->inflight < w->slots
            && (best == NULL || w->slots - w->inflight > best->slots - best->inflight))
            best = w;
    return best;
}

/* dispatch_collect - up to max ready recipients of r0's message in q,
 * starting at r0 so the oldest ready recipient always goes first. */
static uint32_t dispatch_collect(struct queue *q, struct qrcpt *r0, struct qrcpt **out, uint32_t max)
{
    struct qmsg *msg = r0->msg;
    uint32_t n = 0, k, i, nr = msg->env.nrcpt;

    for (k = 0; k < nr && n < max; k++) {
        i = (r0->index + k) % nr;
        if (msg->r[i].q == q && msg->r[i].state == RS_READY)
            out[n++] = &msg->r[i];
    }
    return n;
}

/* dispatch_route - source IP and EHLO name: the vmta's smtp-source-host
 * entries in rotation, or the one the shaping gate chose (host >= 0: the
 * connection being reused, or the next IP not disabled). */
static void dispatch_route(struct qmgr *m, struct queue *q, struct msg_deliver *d, struct job *j,
                           int32_t host)
{
    const struct cfg_vmta *v = m->cfg ? config_find_vmta(m->cfg, q->vmta) : NULL;

    d->source_ip = (char *)"";
    d->helo_name = m->cfg ? m->cfg->host_name : (char *)"localhost";
    if (v && v->nhosts > 0) {
        uint32_t k = host >= 0 && (size_t)host < v->nhosts ? (uint32_t)host
                     : q->host_rr++ % (uint32_t)v->nhosts;
        const struct cfg_source_host *h = &v->hosts[k];

        j->host = k;
        d->source_ip = (char *)h->ip;
        d->helo_name = (char *)(h->hostname[0] ? h->hostname : d->helo_name);
    }
}

/* dispatch_one - send one job for q's oldest ready recipient to w, as
 * the shaping gate allowed (g: recipients, source host, connection). */
static int dispatch_one(struct qmgr *m, struct queue *q, struct worker *w,
                        const struct shape_grant *g, int64_t now_ms)
{
    struct qrcpt *r0 = q->ready_head;
    struct qmsg *msg = r0->msg;
    uint32_t max = g->max_rcpt, i;
    struct msg_deliver d;
    char rdomain[PROTO_NAME_MAX];
    char skip[SHAPE_SKIPMX_MAX * SHAPE_MX_HOST_MAX];
    struct job *j = calloc(1, sizeof(*j));
    int rc = -1;

    if (max == 0 || max > PROTO_RCPT_MAX)
        max = PROTO_RCPT_MAX;
    if (max > q->nready)
        max = q->nready;
    memset(&d, 0, sizeof(d));
    if (j == NULL || (j->rcpts = calloc(max, sizeof(*j->rcpts))) == NULL
        || (d.rcpts = calloc(max, sizeof(*d.rcpts))) == NULL)
        goto out;
    j->id = m->next_job_id++;
    j->w = w;
    j->q = q;
    j->m = msg;
    j->wd.idx = HEAP_NONE;
    j->vc = -1;
    j->nrcpt = dispatch_collect(q, r0, j->rcpts, max);

    d.job_id = j->id;
    memcpy(d.queue_id, msg->qid, QUEUE_ID_SIZE);
    d.mail_from = (char *)bounce_client_mail_from(msg, q);     /* VERP when `verp yes` */
    d.envid = msg->env.envid ? msg->env.envid : (char *)"";
    d.ret = msg->env.ret;
    d.body_8bit = msg->env.body_8bit;
    d.vmta = q->vmta;           /* the message's, unless warm-up overflow moved it */
    dispatch_route(m, q, &d, j, g->host);
    d.domain = q->domain;
    /* a rollup queue has no domain of its own: its recipients' domains
     * share their MX, so the first one's MX serves them all */
    if (q->mx_rollup && q->s.route[0] == '\0')
        d.domain = (char *)message_rcpt_domain(msg->env.rcpts[r0->index].addr, rdomain,
                                               sizeof(rdomain));
    d.route = q->s.route;
    d.skip_mx = (char *)skipmx_list(q, now_ms, skip, sizeof(skip));
    d.connect_timeout = q->s.connect_timeout;
    d.greeting_timeout = q->s.greeting_timeout;
    d.data_timeout = q->s.data_termination_timeout > q->s.data_send_timeout
        ? q->s.data_termination_timeout : q->s.data_send_timeout;
    d.idle_timeout = q->s.idle_timeout;
    d.max_msg_per_connection = q->s.max_msg_per_connection;
    d.nrcpt = j->nrcpt;
    for (i = 0; i < j->nrcpt; i++) {
        d.rcpts[i].index = j->rcpts[i]->index;
        d.rcpts[i].addr = msg->env.rcpts[j->rcpts[i]->index].addr;
    }
    if (m->send_deliver && m->send_deliver(m, w, &d) < 0) {
        msg_warn("cannot send job to smtp-out pid %u; not using it any more", w->pid);
        w->broken = 1;
        goto out;
    }
    for (i = 0; i < j->nrcpt; i++) {
        rcpt_detach(m, j->rcpts[i]);
        j->rcpts[i]->state = RS_INFLIGHT;
        q->ninflight++;
        m->nrcpt_inflight++;
    }
    if (heap_push(&m->watchdogs, &j->wd, now_ms + 1000LL * ((int64_t)q->s.connect_timeout
                  + q->s.greeting_timeout + q->s.data_send_timeout
                  + q->s.data_termination_timeout + WATCHDOG_SLACK_S)) < 0)
        msg_fatal("out of memory (watchdog heap)");
    j->next = w->jobs;
    w->jobs = j;
    w->inflight++;
    q->jobs++;
    q->last_worker = w;
    shaping_commit(m, q, j, g, now_ms);
    j = NULL;
    rc = 0;
out:
    if (j) {
        free(j->rcpts);
        free(j);
    }
    free(d.rcpts);
    return rc;
}

static void run_push_front(struct qmgr *m, struct queue *q)
{
    q->on_run = 1;
    q->run_next = m->run_head;
    m->run_head = q;
    if (m->run_tail == NULL)
        m->run_tail = q;
}

/* dispatch_run - one job per runnable queue per round (round-robin
 * across queues), until no queue can go or no worker has a free slot. */
void dispatch_run(struct qmgr *m, int64_t now_ms)
{
    struct queue *q;
    struct worker *w;
    struct shape_grant g;

    if (m->stopping)
        return;
    while ((q = m->run_head) != NULL) {
        m->run_head = q->run_next;
        if (m->run_head == NULL)
            m->run_tail = NULL;
        q->on_run = 0;
        q->run_next = NULL;
        if (q->nready == 0)
            continue;
        /* at the limit: job_free puts it back when a job ends */
        if (q->s.max_smtp_out && q->jobs >= q->s.max_smtp_out)
            continue;
        /* paused, rate-limited or at its connection limit: the gate
         * arms the queue's wake-up (or a job's end makes it runnable) */
        if (!shaping_gate(m, q, now_ms, &g))
            continue;
        w = g.w ? g.w : dispatch_pick_worker(m, q);
        if (w == NULL || dispatch_one(m, q, w, &g, now_ms) < 0) {
            run_push_front(m, q);
            return;
        }
        queue_mark_runnable(m, q);
    }
}
