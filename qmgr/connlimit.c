/*
 * connlimit - `mx-connection-limit` and `ip-connection-limit` (global):
 * connections from one local source IP to the mail exchangers a line
 * matches, all queues together (PowerMTA counts them per source IP per
 * MX).  Enforced in the dispatch gate (shaping.c's pick_host) for every
 * new connection; a reused connection is already counted.
 *
 * qmgr does no DNS: a queue's mail exchanger is learned from its results
 * (the MX host and address that answered last, connlimit_learn).  Until a
 * queue has learned it, and after a reload, its connections count against
 * every line and it opens one only when every line has room — so the
 * limit holds from the first connection, at the price of caution for a
 * queue's very first connection.  The counts come from the connection
 * ledger (busy and cached connections of every queue), walked when a
 * queue wants a new connection; a queue held by a limit looks again after
 * CONNLIMIT_RECHECK_MS, since another queue's connection ending does not
 * wake it.
 */
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "shaping.h"

#define CONNLIMIT_RECHECK_MS 200

void connlimit_forget(struct queue *q)
{
    if (q->shape)
        q->shape->climit = CL_UNKNOWN;
}

void connlimit_learn(struct qmgr *m, struct queue *q, const char *mx, const char *ip)
{
    struct qshape *s = q ? q->shape : NULL;
    int l;

    if (s == NULL || m->cfg == NULL || m->cfg->nconn_limits == 0
        || ((mx == NULL || mx[0] == '\0') && (ip == NULL || ip[0] == '\0')))
        return;
    l = config_conn_limit_find(m->cfg, mx, ip);
    s->climit = l >= 0 ? (int16_t)l : CL_NONE;
}

struct count_ctx {
    struct qmgr *m;
    const char *ip;             /* the source IP asked about ("" = system's choice) */
    int64_t now;
    uint32_t *per_line;         /* connections per line (nconn_limits entries) */
    uint32_t unknown;           /* of queues that have not learned their MX */
};

/* vconn_ip - the source IP of ledger entry v of q ("" = system's choice). */
static const char *vconn_ip(struct qmgr *m, const struct queue *q, const struct vconn *v)
{
    const struct cfg_vmta *vm = config_find_vmta(m->cfg, q->vmta);

    return vm && v->host < vm->nhosts ? vm->hosts[v->host].ip : "";
}

static void count_cb(void *val, void *arg)
{
    struct queue *q = val;
    struct count_ctx *c = arg;
    const struct qshape *s = q->shape;
    uint32_t i, n = 0;

    if (s == NULL || s->climit == CL_NONE || s->nvc == 0)
        return;
    for (i = 0; i < s->nvc; i++) {
        const struct vconn *v = &s->vc[i];

        if (v->used && (v->busy || c->now < v->alive_until)
            && strcmp(vconn_ip(c->m, q, v), c->ip) == 0)
            n++;
    }
    if (s->climit == CL_UNKNOWN)
        c->unknown += n;
    else if (s->climit >= 0 && (size_t)s->climit < c->m->cfg->nconn_limits)
        c->per_line[s->climit] += n;
}

int connlimit_ok(struct qmgr *m, struct queue *q, const char *ip, int64_t now_ms,
                 int64_t *wake)
{
    const struct qshape *s = q->shape;
    uint32_t stack[64], *per_line;
    struct count_ctx c;
    size_t nl, i;
    int ok = 1;

    if (s == NULL || m->cfg == NULL || (nl = m->cfg->nconn_limits) == 0 || s->climit == CL_NONE)
        return 1;
    per_line = nl <= 64 ? stack : calloc(nl, sizeof(*per_line));
    if (per_line == NULL)
        return 0;               /* no memory: no new connection now, try again */
    memset(per_line, 0, nl * sizeof(*per_line));
    memset(&c, 0, sizeof(c));
    c.m = m;
    c.ip = ip ? ip : "";
    c.now = now_ms;
    c.per_line = per_line;
    hmap_each(&m->queues, count_cb, &c);
    for (i = 0; i < nl && ok; i++)
        if ((s->climit == CL_UNKNOWN || (size_t)s->climit == i)
            && per_line[i] + c.unknown >= m->cfg->conn_limits[i].n)
            ok = 0;
    if (per_line != stack)
        free(per_line);
    if (!ok && wake && (*wake == 0 || now_ms + CONNLIMIT_RECHECK_MS < *wake))
        *wake = now_ms + CONNLIMIT_RECHECK_MS;
    return ok;
}
