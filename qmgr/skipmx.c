/*
 * skipmx - the smtp-pattern-list `skip-mx` action: which MX hosts a queue
 * avoids for now, and what qmgr tells smtp-out about them.
 *
 * Only smtp-out resolves MX records, so qmgr learns the MX host from the
 * RESULT (remote_mx) whose reply matched a skip-mx rule, remembers it for
 * the queue's first retry-after interval, and puts the list into every
 * DELIVER of the queue (msg_deliver.skip_mx).  smtp-out leaves those hosts
 * out of its MX walk; when that leaves nothing it fails the job with a
 * local 451 4.4.1, which pauses the queue like a destination that cannot
 * be reached (backoff.c), so a queue whose every MX said "go elsewhere"
 * waits instead of spinning.  The recipients of the matching reply are
 * retried at once (result.c), on the next MX host.
 *
 * Called by result.c (skipmx_add) and dispatch.c (skipmx_list), and by
 * control_shaping.c for `show queues`.  The list is allocated on first use
 * (most queues never have one) and freed with the queue's shaping state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "log.h"
#include "shaping.h"
#include "smtp_patterns.h"

/* skipmx_purge - drop the entries whose time is over. */
static void skipmx_purge(struct qshape *s, int64_t now_ms)
{
    uint32_t i;

    for (i = 0; i < s->nskipmx;) {
        if (now_ms >= s->skipmx[i].until)
            s->skipmx[i] = s->skipmx[--s->nskipmx];
        else
            i++;
    }
}

/* skipmx_host_ok - an MX host name as smtp-out reports it: letters,
 * digits, '-', '_', '.', bounded (it ends up in a comma list). */
static int skipmx_host_ok(const char *h)
{
    size_t i, n = strnlen(h, SHAPE_MX_HOST_MAX);

    if (n == 0 || n >= SHAPE_MX_HOST_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

int skipmx_add(struct queue *q, const char *host, int64_t now_ms)
{
    struct qshape *s = q->shape;
    uint32_t i, secs;
    int64_t until;

    if (s == NULL || host == NULL || !skipmx_host_ok(host))
        return -1;
    skipmx_purge(s, now_ms);
    secs = shaping_retry_delay(q, 1, 0, 0);
    until = now_ms + 1000LL * (secs ? secs : 600);
    for (i = 0; i < s->nskipmx; i++)
        if (strcasecmp(s->skipmx[i].host, host) == 0) {
            s->skipmx[i].until = until;
            return 0;
        }
    if (s->skipmx == NULL) {
        s->skipmx = calloc(SHAPE_SKIPMX_MAX, sizeof(*s->skipmx));
        if (s->skipmx == NULL)
            return -1;
    }
    if (s->nskipmx >= SHAPE_SKIPMX_MAX)
        return -1;      /* smtp-out looks at no more MX hosts than this anyway */
    snprintf(s->skipmx[s->nskipmx].host, sizeof(s->skipmx[0].host), "%s", host);
    s->skipmx[s->nskipmx].until = until;
    s->nskipmx++;
    msg_info("queue %s: skipping MX host %s for %us (skip-mx)", q->name, host, secs);
    return 0;
}

const char *skipmx_list(struct queue *q, int64_t now_ms, char *out, size_t outlen)
{
    struct qshape *s = q->shape;
    size_t n = 0;
    uint32_t i;
    int k;

    if (outlen == 0)
        return "";
    out[0] = '\0';
    if (s == NULL || s->nskipmx == 0)
        return out;
    skipmx_purge(s, now_ms);
    for (i = 0; i < s->nskipmx; i++) {
        k = snprintf(out + n, outlen - n, "%s%s", n ? "," : "", s->skipmx[i].host);
        if (k < 0 || (size_t)k >= outlen - n) {
            out[n] = '\0';      /* the list is bounded so that this cannot happen */
            break;
        }
        n += (size_t)k;
    }
    return out;
}

int skipmx_avoids(const struct queue *q, const char *host, int64_t now_ms)
{
    const struct qshape *s = q ? q->shape : NULL;
    uint32_t i;

    for (i = 0; s && host && i < s->nskipmx; i++)
        if (now_ms < s->skipmx[i].until && strcasecmp(s->skipmx[i].host, host) == 0)
            return 1;
    return 0;
}

int64_t skipmx_next_expiry(const struct queue *q)
{
    const struct qshape *s = q->shape;
    int64_t t = 0;
    uint32_t i;

    for (i = 0; s && i < s->nskipmx; i++)
        if (t == 0 || s->skipmx[i].until < t)
            t = s->skipmx[i].until;
    return t;
}

/* skipmx_refusals - MX hosts that refused smtp-out's connection before
 * any transaction (RESULT.refused: greeting, EHLO, HELO).  smtp-out moved
 * on by itself; a refusal matching a skip-mx rule (the queue's list, then
 * the built-in one) makes the queue avoid that host, like a reply within
 * a transaction does.  Other actions are not taken for them: the
 * delivery went on elsewhere. */
void skipmx_refusals(struct qmgr *m, struct queue *q, const struct msg_result *res,
                     int64_t now_ms)
{
    const struct smtp_pattern_list *l;
    const struct smtp_pattern_rule *r;
    uint32_t i;

    if (q == NULL || m->cfg == NULL)
        return;
    for (i = 0; i < res->nrefused; i++) {
        const char *reply = res->refused[i].reply ? res->refused[i].reply : "";

        l = config_find_smtp_list(m->cfg, q->s.smtp_pattern_list);
        r = smtp_patterns_match(l, reply, strlen(reply));
        if (r == NULL && q->s.use_default_smtp_patterns)
            r = smtp_patterns_match(smtp_patterns_builtin(), reply, strlen(reply));
        if (r != NULL && (r->actions & SPA_SKIP_MX) && res->refused[i].mx)
            (void)skipmx_add(q, res->refused[i].mx, now_ms);
    }
}
