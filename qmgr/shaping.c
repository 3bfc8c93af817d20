/*
 * shaping - the gate every job passes in dispatch: queue pauses, the
 * queue's rates (max-msg-rate, max-data-volume-rate, max-connect-rate)
 * and its connections (max-smtp-out), each in the queue's mode (normal or
 * backoff); the connection ledger; the heap of queue wake-ups.
 *
 * Why a ledger: smtp-out keeps a finished connection open (for
 * max(connection-idle-timeout, 2 s), smtp-out/connpool.c) for the next
 * job of the same pool key, and there are several smtp-out processes.
 * Counting jobs in flight would let a job sent to another worker open a
 * new connection while the first worker's idle one is still open, and
 * every such job would be a new connection that max-connect-rate never
 * saw.  So qmgr keeps, per queue, one entry per connection smtp-out may
 * have open: busy (a job) or idle until alive_until (it may still be
 * open: it counts against max-smtp-out) and reusable until reuse_until
 * (earlier, so a job sent to it finds it still open).  qmgr learns of a
 * job's end after smtp-out, so its idle window starts later than the
 * real one: the ledger never counts fewer connections than exist.  A job
 * that reuses an entry goes to the same worker with the same source IP
 * (the pool key), which is what lets smtp-out reuse the connection.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "net.h"
#include "shaping.h"

#define IDLE_FLOOR_S    2       /* smtp-out's POOL_IDLE_FLOOR */
#define REUSE_MARGIN_MS 500     /* stop reusing before smtp-out's idle timer fires */
#define ALIVE_SLACK_MS  1000    /* QUIT and close after smtp-out's timer */

struct qshape *shaping_new(struct qmgr *m, struct queue *q)
{
    struct qshape *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->q = q;
    s->wake.idx = HEAP_NONE;
    s->climit = CL_UNKNOWN;
    q->shape = s;
    return s;
}

void shaping_free(struct qmgr *m, struct queue *q)
{
    struct qshape *s = q->shape;

    if (s == NULL)
        return;
    if (s->wake.idx != HEAP_NONE)
        heap_remove(&m->qwake, &s->wake);
    free(s->vc);
    free(s->disabled);
    free(s->skipmx);
    free(s->hrl);
    free(s);
    q->shape = NULL;
}

/* arm - wake q at t (the earliest of its pending reasons). */
static void arm(struct qmgr *m, struct qshape *s, int64_t t)
{
    if (s->wake.idx != HEAP_NONE && s->wake.key <= t)
        return;
    if (heap_update(&m->qwake, &s->wake, t) < 0)
        msg_fatal("out of memory (queue wake-up heap)");
}

void shaping_run_timers(struct qmgr *m, int64_t now_ms)
{
    struct hnode *n;

    while ((n = heap_top(&m->qwake)) != NULL && n->key <= now_ms) {
        struct qshape *s = container_of(n, struct qshape, wake);

        heap_remove(&m->qwake, n);
        queue_mark_runnable(m, s->q);
    }
}

int64_t shaping_next_ms(const struct qmgr *m)
{
    struct hnode *n = heap_top(&m->qwake);

    return n ? n->key : -1;
}

uint32_t shaping_max_conns(const struct queue *q)
{
    const struct qshape *s = q->shape;
    uint32_t n = q->s.max_smtp_out ? q->s.max_smtp_out : 1;

    if (s && s->mode == QM_BACKOFF && s->backoff_conns && s->backoff_conns < n)
        n = s->backoff_conns;
    if (s && s->probing)
        n = 1;
    return n;
}

const struct cfg_rate *shaping_msg_rate(const struct queue *q)
{
    return q->shape && q->shape->mode == QM_BACKOFF ? &q->shape->backoff_rate : &q->s.msg_rate;
}

const struct cfg_rate *shaping_connect_rate(const struct queue *q)
{
    if (q->shape && q->shape->mode == QM_BACKOFF && q->s.backoff_connect_rate.set)
        return &q->s.backoff_connect_rate;
    return &q->s.connect_rate;
}

const struct cfg_rate *shaping_volume_rate(const struct queue *q)
{
    if (q->shape && q->shape->mode == QM_BACKOFF && q->s.backoff_volume_rate.set)
        return &q->s.backoff_volume_rate;
    return &q->s.volume_rate;
}

static int vconn_alive(const struct vconn *v, int64_t now_ms)
{
    return v->used && (v->busy || now_ms < v->alive_until);
}

uint32_t shaping_conns(const struct queue *q, int64_t now_ms)
{
    const struct qshape *s = q->shape;
    uint32_t i, n = 0;

    for (i = 0; s && i < s->nvc; i++)
        n += vconn_alive(&s->vc[i], now_ms);
    return n;
}

/* seen_roll - bring the per-second ring up to now. */
static void seen_roll(struct qshape *s, int64_t now_ms)
{
    int64_t sec = now_ms / 1000, k;

    if (sec - s->seen_sec >= 60) {
        memset(s->seen, 0, sizeof(s->seen));
    } else {
        for (k = s->seen_sec + 1; k <= sec; k++)
            s->seen[k % 60] = 0;
    }
    if (sec > s->seen_sec)
        s->seen_sec = sec;
}

uint32_t shaping_seen_minute(const struct queue *q, int64_t now_ms)
{
    struct qshape *s = q->shape;
    uint32_t i, n = 0;

    if (s == NULL)
        return 0;
    seen_roll(s, now_ms);
    for (i = 0; i < 60; i++)
        n += s->seen[i];
    return n;
}

/* ip_limit - the source-ip-max-* entry of ls for ip (longest prefix), or NULL. */
static const struct cfg_ip_limit *ip_limit(const struct cfg_ip_limits *ls, const char *ip)
{
    const struct cfg_ip_limit *best = NULL;
    struct sockaddr_storage ss;
    socklen_t len;
    uint32_t i;

    if (ls->n == 0 || net_sockaddr(ip, 0, &ss, &len) < 0)
        return NULL;
    for (i = 0; i < ls->n; i++)
        if (cidr_match(&ls->l[i].cidr, (struct sockaddr *)&ss)
            && (best == NULL || ls->l[i].cidr.prefix > best->cidr.prefix))
            best = &ls->l[i];
    return best;
}

static int has_ip_limits(const struct queue *q)
{
    return q->s.src_max_conns.n || q->s.src_msg_rate.n || q->s.src_connect_rate.n;
}

/* host_rl - the per-source-IP rate state of host h (grown as needed). */
static struct host_rl *host_rl(struct qshape *s, uint32_t h)
{
    if (h >= s->nhrl) {
        uint32_t n = h + 1 > 8 ? h + 1 : 8;
        struct host_rl *nh = realloc(s->hrl, n * sizeof(*nh));

        if (nh == NULL)
            return NULL;
        memset(nh + s->nhrl, 0, (n - s->nhrl) * sizeof(*nh));
        s->hrl = nh;
        s->nhrl = n;
    }
    return &s->hrl[h];
}

/* host_msg_avail - recipients source IP h may take now under
 * source-ip-max-msg-rate (want if none applies); 0 and *wake if none. */
static uint32_t host_msg_avail(struct qshape *s, const struct queue *q, uint32_t h, const char *ip,
                               int64_t now_ms, uint32_t want, int64_t *wake)
{
    const struct cfg_ip_limit *l = ip_limit(&q->s.src_msg_rate, ip);
    struct host_rl *r;

    if (l == NULL || l->rate.count == 0)
        return want;
    r = host_rl(s, h);
    return r ? rate_avail(&r->msg, &l->rate, 1, now_ms, want, wake) : 0;
}

static uint32_t host_conns(const struct qshape *s, uint32_t h, int64_t now_ms)
{
    uint32_t i, n = 0;

    for (i = 0; i < s->nvc; i++)
        n += s->vc[i].host == h && vconn_alive(&s->vc[i], now_ms);
    return n;
}

/* host_new_conn_ok - whether source IP h may open one more connection:
 * source-ip-max-smtp-out and source-ip-max-connect-rate. */
static int host_new_conn_ok(struct qshape *s, const struct queue *q, uint32_t h, const char *ip,
                            int64_t now_ms, int64_t *wake)
{
    const struct cfg_ip_limit *c = ip_limit(&q->s.src_max_conns, ip);
    const struct cfg_ip_limit *r = ip_limit(&q->s.src_connect_rate, ip);
    struct host_rl *hr;

    if (c && c->n && host_conns(s, h, now_ms) >= c->n)
        return 0;               /* a job's end or an idle connection's makes q runnable */
    if (r == NULL || r->rate.count == 0)
        return 1;
    hr = host_rl(s, h);
    return hr != NULL && rate_avail(&hr->conn, &r->rate, 1, now_ms, 1, wake) > 0;
}

/* pick_host - the next smtp-source-host not disabled for q and within
 * its source-ip-max-* limits; *avail clamps the recipients.  -1 if the
 * vmta has none (system's choice), -2 if none may go now (*wake: the
 * earliest a rate allows, 0 if only a connection's end can). */
static int32_t pick_host(struct qmgr *m, struct queue *q, int64_t now_ms, uint32_t *avail,
                         int64_t *wake)
{
    const struct cfg_vmta *v = m->cfg ? config_find_vmta(m->cfg, q->vmta) : NULL;
    int limits = has_ip_limits(q);
    uint32_t i, n;
    int64_t w;

    *wake = 0;
    if (v == NULL || v->nhosts == 0)
        return connlimit_ok(m, q, "", now_ms, wake) ? -1 : -2;
    for (i = 0; i < v->nhosts; i++) {
        uint32_t h = (q->host_rr + i) % (uint32_t)v->nhosts;
        const char *ip = v->hosts[h].ip;

        if (backoff_ip_disabled(q, ip, now_ms))
            continue;
        if (!connlimit_ok(m, q, ip, now_ms, wake))
            continue;           /* mx-/ip-connection-limit of this source IP */
        if (limits) {
            w = 0;
            n = host_msg_avail(q->shape, q, h, ip, now_ms, *avail, &w);
            if (n == 0 || !host_new_conn_ok(q->shape, q, h, ip, now_ms, &w)) {
                if (w && (*wake == 0 || w < *wake))
                    *wake = w;
                continue;
            }
            *avail = n;
        }
        q->host_rr = h + 1;
        return (int32_t)h;
    }
    return -2;
}

/* earliest_reenable - when the first disabled source IP comes back, or 0. */
static int64_t earliest_reenable(const struct qshape *s)
{
    int64_t t = 0;
    uint32_t i;

    for (i = 0; i < s->ndisabled; i++)
        if (s->disabled[i].until && (t == 0 || s->disabled[i].until < t))
            t = s->disabled[i].until;
    return t;
}

int shaping_gate(struct qmgr *m, struct queue *q, int64_t now_ms, struct shape_grant *g)
{
    struct qshape *s = q->shape;
    uint32_t want = q->s.max_rcpt_per_transaction, i, alive = 0, busy = 0, maxc, left, avail;
    int64_t wake = 0, idle_min = 0, ip_wake = 0;
    int32_t host;

    memset(g, 0, sizeof(*g));
    g->vc = -1;
    g->host = -1;
    if (want == 0 || want > PROTO_RCPT_MAX)
        want = PROTO_RCPT_MAX;
    g->max_rcpt = want;
    if (s == NULL)
        return 1;
    backoff_tick(m, q, now_ms);
    if (s->paused)
        return 0;               /* mtactl resume makes it runnable */
    if (s->retry_until > now_ms) {
        arm(m, s, s->retry_until);
        return 0;
    }
    if (s->retry_until) {
        /* the pause is over: a queue that could not connect sends one
         * probe connection first (no thundering herd) */
        s->retry_until = 0;
        s->retry_reason[0] = '\0';
        if (s->conn_failures)
            s->probing = 1;
    }
    /* the vmta's warm-up cap for today (all its queues together) */
    left = warmup_left(m, q->vmta, now_ms, &wake);
    if (left > 0) {
        /* and the queue's own plan (warmup-schedule in <domain>) */
        uint32_t qleft = warmup_queue_left(m, q, now_ms, &wake);

        if (qleft < left)
            left = qleft;
    }
    if (left == 0) {
        /* warmup-overflow-virtual-mta: the rest goes through a warm vmta */
        (void)warmup_overflow(m, q, now_ms);
        arm(m, s, wake);
        return 0;
    }
    if (left < want)
        want = left;
    g->max_rcpt = rate_avail(&s->msg_rl, shaping_msg_rate(q),
                             s->mode == QM_BACKOFF ? 1 : q->s.msg_burst, now_ms, want, &wake);
    if (g->max_rcpt == 0) {
        arm(m, s, wake);
        return 0;
    }
    if (!rate_volume_ok(&s->vol_rl, shaping_volume_rate(q), now_ms, &wake)) {
        arm(m, s, wake);
        return 0;
    }
    for (i = 0; i < s->nvc; i++) {
        struct vconn *v = &s->vc[i];

        if (!vconn_alive(v, now_ms))
            continue;
        alive++;
        if (v->busy) {
            busy++;
            continue;
        }
        if (idle_min == 0 || v->alive_until < idle_min)
            idle_min = v->alive_until;
        if (g->vc < 0 && now_ms < v->reuse_until && !v->w->broken && v->w->inflight < v->w->slots) {
            const struct cfg_vmta *vm = m->cfg ? config_find_vmta(m->cfg, q->vmta) : NULL;

            if (vm && v->host < vm->nhosts && backoff_ip_disabled(q, vm->hosts[v->host].ip, now_ms))
                continue;
            if (vm && v->host < vm->nhosts && has_ip_limits(q)) {
                int64_t w = 0;
                uint32_t n = host_msg_avail(s, q, v->host, vm->hosts[v->host].ip, now_ms,
                                            g->max_rcpt, &w);

                if (n == 0) {
                    if (w && (ip_wake == 0 || w < ip_wake))
                        ip_wake = w;
                    continue;
                }
                g->max_rcpt = n;
            }
            g->vc = (int32_t)i;
        }
    }
    /* in backoff (or probing) the limit can be below the connections
     * still cached: cached ones beyond it stay unused until they close */
    maxc = shaping_max_conns(q);
    if (busy >= maxc)
        return 0;               /* a job's end makes q runnable */
    if (g->vc >= 0) {
        g->w = s->vc[g->vc].w;
        g->host = (int32_t)s->vc[g->vc].host;
        return 1;
    }
    if (alive >= maxc) {
        /* busy ones: job_free makes q runnable; idle ones: their end */
        if (idle_min)
            arm(m, s, idle_min);
        return 0;
    }
    if (s->probing && q->jobs > 0)
        return 0;
    if (rate_avail(&s->conn_rl, shaping_connect_rate(q),
                   s->mode == QM_BACKOFF ? 1 : q->s.connect_burst, now_ms, 1, &wake) == 0) {
        arm(m, s, wake);
        return 0;
    }
    avail = g->max_rcpt;
    host = pick_host(m, q, now_ms, &avail, &wake);
    if (host == -2) {
        /* every source IP disabled or at its source-ip-max-* limits */
        int64_t t = earliest_reenable(s);

        if (wake && (t == 0 || wake < t))
            t = wake;
        if (ip_wake && (t == 0 || ip_wake < t))
            t = ip_wake;
        if (idle_min && (t == 0 || idle_min < t))
            t = idle_min;
        if (t)
            arm(m, s, t);
        return 0;
    }
    g->host = host;
    g->max_rcpt = avail;
    return 1;
}

/* vconn_slot - a free ledger entry (dead or never used). */
static int32_t vconn_slot(struct qshape *s, int64_t now_ms)
{
    uint32_t i;
    struct vconn *nv;

    for (i = 0; i < s->nvc; i++)
        if (!vconn_alive(&s->vc[i], now_ms))
            return (int32_t)i;
    nv = realloc(s->vc, (s->nvc + 1) * sizeof(*nv));
    if (nv == NULL)
        return -1;
    s->vc = nv;
    memset(&s->vc[s->nvc], 0, sizeof(*nv));
    return (int32_t)s->nvc++;
}

void shaping_commit(struct qmgr *m, struct queue *q, struct job *j, const struct shape_grant *g,
                    int64_t now_ms)
{
    struct qshape *s = q->shape;
    int32_t k = g->vc;

    j->vc = -1;
    if (s == NULL)
        return;
    rate_take(&s->msg_rl, shaping_msg_rate(q), now_ms, j->nrcpt);
    warmup_count(m, q->vmta, j->nrcpt, now_ms);
    warmup_queue_count(m, q, j->nrcpt, now_ms);
    rate_volume_charge(&s->vol_rl, shaping_volume_rate(q), now_ms, j->m->size);
    seen_roll(s, now_ms);
    {
        uint32_t v = s->seen[(now_ms / 1000) % 60] + j->nrcpt;

        s->seen[(now_ms / 1000) % 60] = (uint16_t)(v > UINT16_MAX ? UINT16_MAX : v);
    }
    if (has_ip_limits(q) && j->host != UINT32_MAX) {
        const struct cfg_vmta *vm = m->cfg ? config_find_vmta(m->cfg, q->vmta) : NULL;
        struct host_rl *hr = vm && j->host < vm->nhosts ? host_rl(s, j->host) : NULL;

        if (hr) {
            const struct cfg_ip_limit *l = ip_limit(&q->s.src_msg_rate, vm->hosts[j->host].ip);

            if (l)
                rate_take(&hr->msg, &l->rate, now_ms, j->nrcpt);
            l = ip_limit(&q->s.src_connect_rate, vm->hosts[j->host].ip);
            if (l && k < 0)
                rate_take(&hr->conn, &l->rate, now_ms, 1);
        }
    }
    if (k < 0) {
        rate_take(&s->conn_rl, shaping_connect_rate(q), now_ms, 1);
        k = vconn_slot(s, now_ms);
        if (k < 0)
            msg_fatal("out of memory (connection ledger)");
        s->vc[k].w = j->w;
        s->vc[k].host = j->host;
        s->vc[k].msgs = 0;
    }
    s->vc[k].used = 1;
    s->vc[k].busy = 1;
    s->vc[k].msgs++;
    j->vc = k;
}

void shaping_job_end(struct qmgr *m, struct job *j, int reusable, int64_t now_ms)
{
    struct qshape *s = j->q->shape;
    struct vconn *v;
    int64_t idle;

    if (s == NULL || j->vc < 0 || (uint32_t)j->vc >= s->nvc)
        return;
    v = &s->vc[j->vc];
    j->vc = -1;
    v->busy = 0;
    idle = 1000LL * (j->q->s.idle_timeout > IDLE_FLOOR_S ? j->q->s.idle_timeout : IDLE_FLOOR_S);
    if (j->q->s.max_msg_per_connection && v->msgs >= j->q->s.max_msg_per_connection)
        reusable = 0;
    if (reusable) {
        v->reuse_until = now_ms + idle - REUSE_MARGIN_MS;
        v->alive_until = now_ms + idle + ALIVE_SLACK_MS;
    } else {
        /* smtp-out is closing it (QUIT, or it failed): gone soon */
        v->reuse_until = 0;
        v->alive_until = now_ms + ALIVE_SLACK_MS;
    }
}

static void worker_gone_cb(void *val, void *arg)
{
    struct queue *q = val;
    uint32_t i;

    for (i = 0; q->shape && i < q->shape->nvc; i++)
        if (q->shape->vc[i].w == arg)
            memset(&q->shape->vc[i], 0, sizeof(q->shape->vc[i]));
}

void shaping_worker_gone(struct qmgr *m, struct worker *w)
{
    hmap_each(&m->queues, worker_gone_cb, w);
}

uint32_t shaping_retry_delay(const struct queue *q, uint32_t attempts, int rcpt_level,
                             int dns_error)
{
    const struct cfg_domain_settings *s = &q->s;
    uint32_t d, i = attempts ? attempts - 1 : 0;

    if (dns_error)
        return s->retry_after_dns_error ? s->retry_after_dns_error : 60;
    if (q->shape && q->shape->mode == QM_BACKOFF) {
        if (s->nbackoff_retry == 0) {
            d = schedule_retry_delay(s, attempts, rcpt_level);
            return d > UINT32_MAX / 2 ? UINT32_MAX : 2 * d;
        }
        d = s->backoff_retry_after[i < s->nbackoff_retry ? i : s->nbackoff_retry - 1];
        if (rcpt_level && d < s->retry_recipients_after)
            d = s->retry_recipients_after;
        return d;
    }
    return schedule_retry_delay(s, attempts, rcpt_level);
}

const char *shaping_mode_name(const struct queue *q, int64_t now_ms)
{
    const struct qshape *s = q->shape;

    if (s == NULL)
        return "normal";
    if (s->paused)
        return "paused";
    if (s->retry_until > now_ms)
        return "retry";
    return s->mode == QM_BACKOFF ? "backoff" : "normal";
}

int shaping_remembers(const struct queue *q, int64_t now_ms)
{
    const struct qshape *s = q->shape;
    uint32_t i;

    if (s == NULL)
        return 0;
    if (s->mode == QM_BACKOFF && (s->backoff_until == 0 || s->backoff_until > now_ms))
        return 1;
    if (s->retry_until > now_ms)
        return 1;
    for (i = 0; i < s->ndisabled; i++)
        if (s->disabled[i].until == 0 || s->disabled[i].until > now_ms)
            return 1;
    if (skipmx_next_expiry(q) > now_ms)
        return 1;
    return 0;
}

struct disabled_ip *shaping_disabled_slot(struct qshape *s)
{
    if (s->disabled == NULL) {
        s->disabled = calloc(SHAPE_DISABLED_MAX, sizeof(*s->disabled));
        if (s->disabled == NULL)
            return NULL;
    }
    if (s->ndisabled >= SHAPE_DISABLED_MAX)
        return NULL;
    return &s->disabled[s->ndisabled++];
}
