/*
 * route - which virtual MTA and which queue a message's recipients go to
 * (issue 3; docs/routing.md).
 *
 * smtpd has already made the injection-time decision and written it in
 * the spool envelope (env.vmta: X-Virtual-MTA, pattern list, listener's
 * or client's <source> default-virtual-mta); a message without one takes
 * the global default-virtual-mta, else {default}.  Here:
 *   - a pool name picks a member by smooth weighted round robin
 *     (lib/pool.c), skipping members the vmta_usable hook says are paused
 *     or disabled; the choice is per message, so all its recipients share
 *     the member and accounting shows vmta + vmtaPool;
 *   - each recipient's queue is domain/vmta, unless the domain's merged
 *     settings say queue-to NAME: then NAME/vmta, shared by every domain
 *     that names it (with NAME's <domain> settings);
 *   - or unless a delivery of the domain reached a mail exchanger that
 *     matches the <mx-rollup-list> (route_learn_mx, fed by every result):
 *     then the rollup queue NAME/vmta.  qmgr does no DNS, so a rollup is
 *     learned from the first delivery, kept in memory (bounded) and
 *     forgotten on reload.
 * The decision is made once, when qmgr first loads the message, so a
 * reload changes routing only for messages that arrive after it.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "acct.h"
#include "log.h"
#include "pool.h"
#include "qmgr.h"

struct route_pool {
    struct pool_rr rr;
    char name[];
};

struct route_rollup {
    char *target;               /* the rollup queue's name */
    char domain[];
};

/* Learned rollups are bounded: past this many domains, new ones keep
 * their own queues (correct, only less shared). */
#define ROUTE_ROLLUPS_MAX 100000

struct usable_ctx {
    struct qmgr *m;
    const struct cfg_pool *pool;
};

static int member_usable(void *arg, size_t i)
{
    struct usable_ctx *c = arg;

    return c->m->vmta_usable == NULL || c->m->vmta_usable(c->m, c->pool->members[i]);
}

/* pool_state - the round-robin credits of a pool, created on first use. */
static struct route_pool *pool_state(struct qmgr *m, const char *name)
{
    struct route_pool *p = hmap_get(&m->rr, name);
    size_t len;

    if (p != NULL)
        return p;
    len = strlen(name);
    p = calloc(1, sizeof(*p) + len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p->name, name, len + 1);
    if (hmap_put(&m->rr, p->name, p) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

/* route_pick_member - the next member of pool; NULL without memory. */
const char *route_pick_member(struct qmgr *m, const struct cfg_pool *pool)
{
    struct usable_ctx c = { m, pool };
    struct route_pool *st = pool_state(m, pool->name);
    long i;

    if (st == NULL)
        return NULL;
    i = pool_rr_pick(&st->rr, pool->weights, pool->nmembers, member_usable, &c);
    return i < 0 ? NULL : pool->members[i];
}

int route_message_vmta(struct qmgr *m, struct qmsg *msg)
{
    const char *name = "{default}", *member;
    const struct cfg_pool *pool;

    if (msg->env.vmta && msg->env.vmta[0])
        name = msg->env.vmta;
    else if (m->cfg && m->cfg->default_vmta[0])
        name = m->cfg->default_vmta;
    pool = m->cfg ? config_find_pool(m->cfg, name) : NULL;
    if (pool && pool->nmembers > 0) {
        member = route_pick_member(m, pool);
        if (member == NULL)
            return -1;
        msg->pool = strdup(pool->name);
        msg->vmta = strdup(member);
        if (msg->pool == NULL)
            return -1;
    } else {
        msg->vmta = strdup(name);
    }
    return msg->vmta ? 0 : -1;
}

struct queue *route_queue(struct qmgr *m, const char *domain, const char *vmta)
{
    struct queue *q = queue_get(m, domain, vmta);
    char target[PROTO_NAME_MAX];
    size_t i, n;

    /* queue_get merged the domain's settings once; an idle queue made
     * just to read its queue-to or rollup is freed by the next
     * queue_sweep.  queue-to, written by the operator, beats a rollup. */
    if (q == NULL)
        return NULL;
    if (q->s.queue_to[0] == '\0') {
        struct route_rollup *r = q->s.disable_mx_rollup ? NULL : hmap_get(&m->rollups, domain);
        struct queue *rq;
        if (r == NULL)
            return q;
        rq = queue_get(m, r->target, vmta);
        if (rq != NULL)
            rq->mx_rollup = 1;
        return rq;
    }
    n = strlen(q->s.queue_to);
    if (n >= sizeof(target))
        return q;
    for (i = 0; i <= n; i++)
        target[i] = (char)tolower((unsigned char)q->s.queue_to[i]);
    return queue_get(m, target, vmta);
}

static void free_rollup_cb(void *val, void *arg)
{
    struct route_rollup *r = val;

    free(r->target);
    free(r);
}

void route_learn_mx(struct qmgr *m, const struct queue *q, const char *mx)
{
    struct route_rollup *r;
    const char *target;
    size_t len;

    if (m->cfg == NULL || q == NULL || q->mx_rollup || q->s.disable_mx_rollup
        || q->s.queue_to[0] != '\0' || mx == NULL || mx[0] == '\0' || m->cfg->nrollups == 0)
        return;
    target = config_mx_rollup(m->cfg, mx);
    r = hmap_get(&m->rollups, q->domain);
    if (r != NULL && (target == NULL || strcasecmp(r->target, target) != 0)) {
        /* the domain's MX changed: its next mail is queued anew */
        (void)hmap_del(&m->rollups, q->domain);
        free_rollup_cb(r, NULL);
        r = NULL;
    }
    if (target == NULL || r != NULL || m->rollups.n >= ROUTE_ROLLUPS_MAX)
        return;
    len = strlen(q->domain);
    r = malloc(sizeof(*r) + len + 1);
    if (r == NULL)
        return;
    memcpy(r->domain, q->domain, len + 1);
    r->target = strdup(target);
    for (char *c = r->target; c != NULL && *c != '\0'; c++)
        *c = (char)tolower((unsigned char)*c);
    if (r->target == NULL || hmap_put(&m->rollups, r->domain, r) < 0) {
        free_rollup_cb(r, NULL);
        return;
    }
    msg_info("%s: new mail rolls up into queue %s/%s (mail exchanger %s)", q->domain,
             r->target, q->vmta, mx);
}

void route_reconfigure(struct qmgr *m)
{
    hmap_each(&m->rollups, free_rollup_cb, NULL);
    hmap_free(&m->rollups);
    hmap_init(&m->rollups);
}

/* wants_receipts - whether some <acct-file> takes `r` records: they cost
 * one accounting event per recipient, so only when asked for. */
static int wants_receipts(const struct config *cfg)
{
    size_t i;

    for (i = 0; cfg != NULL && i < cfg->nacct_files; i++)
        if (cfg->acct_files[i].records & ACCT_REC_R)
            return 1;
    return 0;
}

void route_emit_receipts(struct qmgr *m, const struct qmsg *msg, int64_t now_ms)
{
    const struct spool_envelope *e = &msg->env;
    struct acct_record a;
    char t[64], src[PROTO_NAME_MAX * 2 + 8];
    uint32_t i;
    int rc;

    if (m->emit_acct == NULL || !wants_receipts(m->cfg))
        return;
    for (i = 0; i < e->nrcpt; i++) {
        const struct qrcpt *r = &msg->r[i];
        memset(&a, 0, sizeof(a));
        rc = acct_set(&a, AF_TYPE, "r");
        acct_format_time(now_ms / 1000, t, sizeof(t));
        rc |= acct_set(&a, AF_TIME_LOGGED, t);
        acct_format_time((long long)e->time_queued, t, sizeof(t));
        rc |= acct_set(&a, AF_TIME_QUEUED, t);
        rc |= acct_set(&a, AF_ORIG, e->mail_from ? e->mail_from : "");
        rc |= acct_set(&a, AF_RCPT, e->rcpts[i].addr);
        rc |= acct_set(&a, AF_ORCPT, e->rcpts[i].orcpt);
        rc |= acct_set(&a, AF_SRC_TYPE, "smtp");
        snprintf(src, sizeof(src), "%s (%s)", e->client_helo ? e->client_helo : "",
                 e->client_ip ? e->client_ip : "");
        rc |= acct_set(&a, AF_SRC_MTA, src);
        rc |= acct_set(&a, AF_VMTA, msg->vmta);
        rc |= acct_set(&a, AF_VMTA_POOL, msg->pool);
        rc |= acct_set(&a, AF_JOB_ID, e->job_id);
        rc |= acct_set(&a, AF_ENV_ID, e->envid);
        rc |= acct_set(&a, AF_QUEUE, r->q ? r->q->name : NULL);
        rc |= acct_set(&a, AF_QUEUE_ID, msg->qid);
        if (rc != 0)
            msg_warn("%s: out of memory building a receipt record", msg->qid);
        else
            m->emit_acct(m, &a);
        acct_record_free(&a);
    }
}

static void free_pool_cb(void *val, void *arg)
{
    struct route_pool *p = val;

    pool_rr_free(&p->rr);
    free(p);
}

void route_free(struct qmgr *m)
{
    hmap_each(&m->rr, free_pool_cb, NULL);
    route_reconfigure(m);
}
