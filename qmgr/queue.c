/*
 * queue - destination queues ("domain/vmta"): their merged settings, the
 * list of recipients ready to go, the in-flight counters, and the list of
 * runnable queues that dispatch works through (so dispatch never scans
 * idle queues).  Also the lifetime of struct qmgr itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "qmgr.h"
#include "shaping.h"

void qmgr_init(struct qmgr *m, struct config *cfg)
{
    memset(m, 0, sizeof(*m));
    m->cfg = cfg;
    hmap_init(&m->msgs);
    hmap_init(&m->queues);
    hmap_init(&m->rr);
    heap_init(&m->timers);
    heap_init(&m->watchdogs);
    heap_init(&m->qwake);
    hmap_init(&m->pauses);
    hmap_init(&m->warmups);
    m->vmta_usable = control_vmta_usable;  /* held vmtas are skipped in pools */
    m->next_job_id = 1;
}

static void free_msg_cb(void *val, void *arg)
{
    message_free(val);
}

static void free_queue_cb(void *val, void *arg)
{
    struct queue *q = val;

    shaping_free(arg, q);
    free(q->name);
    free(q);
}

static void free_ptr_cb(void *val, void *arg)
{
    free(val);
}

void qmgr_free(struct qmgr *m)
{
    struct worker *w, *wn;
    struct job *j, *jn;

    for (w = m->workers; w; w = wn) {
        wn = w->next;
        for (j = w->jobs; j; j = jn) {
            jn = j->next;
            free(j->rcpts);
            free(j);
        }
        free(w);
    }
    hmap_each(&m->msgs, free_msg_cb, NULL);
    hmap_each(&m->queues, free_queue_cb, m);
    route_free(m);
    hmap_each(&m->pauses, free_ptr_cb, NULL);
    hmap_free(&m->pauses);
    pause_state_free(m);
    warmup_free(m);
    hmap_free(&m->msgs);
    hmap_free(&m->queues);
    hmap_free(&m->rr);
    heap_free(&m->timers);
    heap_free(&m->watchdogs);
    heap_free(&m->qwake);
}

static void queue_settings(const struct config *cfg, struct queue *q)
{
    config_domain_settings(cfg, q->vmta, q->domain, &q->s);
    if (q->s.nretry == 0) {         /* never: the table gives 1 entry */
        q->s.retry_after[0] = 600;
        q->s.nretry = 1;
    }
}

static void reconf_cb(void *val, void *arg)
{
    struct qmgr *m = arg;
    struct queue *q = val;

    queue_settings(m->cfg, q);
    if (q->shape) {
        control_apply_pauses(m, q, 0);      /* hold-domain lines may have changed */
        connlimit_forget(q);                /* so may mx-/ip-connection-limit lines */
    }
}

void qmgr_reconfigure(struct qmgr *m, struct config *cfg)
{
    m->cfg = cfg;
    hmap_each(&m->queues, reconf_cb, m);
    route_reconfigure(m);
}

/* queue_get - the queue for domain (lower-case) via vmta, created on first use. */
struct queue *queue_get(struct qmgr *m, const char *domain, const char *vmta)
{
    char key[PROTO_NAME_MAX * 2 + 2];
    struct queue *q;
    size_t dl = strlen(domain), vl = strlen(vmta);
    int n = snprintf(key, sizeof(key), "%s/%s", domain, vmta);

    if (n < 0 || (size_t)n >= sizeof(key))
        return NULL;
    q = hmap_get(&m->queues, key);
    if (q)
        return q;
    q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    /* One allocation: "domain/vmta\0domain\0vmta\0" */
    q->name = malloc((size_t)n + 1 + dl + 1 + vl + 1);
    if (q->name == NULL) {
        free(q);
        return NULL;
    }
    memcpy(q->name, key, (size_t)n + 1);
    q->domain = q->name + n + 1;
    memcpy(q->domain, domain, dl + 1);
    q->vmta = q->domain + dl + 1;
    memcpy(q->vmta, vmta, vl + 1);
    queue_settings(m->cfg, q);
    if (shaping_new(m, q) == NULL || hmap_put(&m->queues, q->name, q) < 0) {
        shaping_free(m, q);
        free(q->name);
        free(q);
        return NULL;
    }
    control_apply_pauses(m, q, 0);
    pause_state_apply(m, q, (int64_t)time(NULL) * 1000);
    return q;
}

struct queue *queue_find(struct qmgr *m, const char *name)
{
    return hmap_get(&m->queues, name);
}

void queue_mark_runnable(struct qmgr *m, struct queue *q)
{
    if (q->on_run || q->nready == 0)
        return;
    q->on_run = 1;
    q->run_next = NULL;
    if (m->run_tail)
        m->run_tail->run_next = q;
    else
        m->run_head = q;
    m->run_tail = q;
}

void queue_ready_push(struct qmgr *m, struct qrcpt *r)
{
    struct queue *q = r->q;

    r->state = RS_READY;
    r->next = NULL;
    r->prev = q->ready_tail;
    if (q->ready_tail)
        q->ready_tail->next = r;
    else
        q->ready_head = r;
    q->ready_tail = r;
    q->nready++;
    queue_mark_runnable(m, q);
}

void queue_ready_remove(struct qrcpt *r)
{
    struct queue *q = r->q;

    if (r->state != RS_READY)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else
        q->ready_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        q->ready_tail = r->prev;
    r->prev = r->next = NULL;
    q->nready--;
}

static void sweep_cb(void *val, void *arg)
{
    struct queue *q = val;
    struct qmgr *m = arg;

    if (q->nready || q->nwait || q->ninflight || q->jobs || q->on_run)
        return;
    /* a queue in backoff or retry keeps that memory of the destination
     * while it lasts (the sweep runs on the wall clock, like main.c) */
    if (q->shape && shaping_remembers(q, (int64_t)time(NULL) * 1000))
        return;
    /* its open connections count against mx-/ip-connection-limit */
    if (q->shape && m->cfg && m->cfg->nconn_limits && shaping_conns(q, (int64_t)time(NULL) * 1000))
        return;
    hmap_del(&m->queues, q->name);
    shaping_free(m, q);
    free(q->name);
    free(q);
}

/* queue_sweep - free queues with nothing queued or in flight, so a
 * stream of one-off domains does not grow the table forever.  Recipients
 * that are already final may keep a stale queue pointer: it is only ever
 * compared, never followed, once a recipient is final. */
size_t queue_sweep(struct qmgr *m)
{
    size_t before = m->queues.n;

    hmap_each(&m->queues, sweep_cb, m);
    return before - m->queues.n;
}
