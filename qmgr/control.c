/*
 * control - qmgr's answers to master's CTL_REQUEST (mtactl commands):
 *   show queues [--mode=normal|backoff|paused|retry | --paused]
 *                 one line per queue with recipients queued, in flight,
 *                 its earliest retry time, mode, since, reason (shaping)
 *   status        totals: messages/recipients queued, in flight, and the
 *                 delivered/bounced/deferred counters since start
 * Queue names come from recipient domains (untrusted): they are escaped.
 * The earliest retry per queue is found by one pass over the timer heap;
 * a control command may cost O(recipients), the delivery path never does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "acct.h"
#include "log.h"
#include "qmgr.h"
#include "shaping.h"

struct show_ctx {
    struct queue **qs;
    size_t n, cap;
};

static void collect_cb(void *val, void *arg)
{
    struct show_ctx *c = arg;
    struct queue *q = val;

    if (q->nready + q->nwait + q->ninflight == 0 && q->jobs == 0)
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct queue **qs = realloc(c->qs, cap * sizeof(*qs));
        if (qs == NULL)
            return;
        c->qs = qs;
        c->cap = cap;
    }
    c->qs[c->n++] = q;
}

static int cmp_queue(const void *a, const void *b)
{
    return strcmp((*(struct queue *const *)a)->name, (*(struct queue *const *)b)->name);
}

/* show_queues - one line per non-empty queue, sorted by name; the
 * earliest retry of each queue comes from one pass over the timer heap. */
static int show_queues(struct qmgr *m, struct buf *out, int64_t now_ms, const char *mode)
{
    struct show_ctx c;
    struct hmap mins;
    int64_t *mn;
    size_t i, shown = 0;
    uint32_t k;

    memset(&c, 0, sizeof(c));
    hmap_init(&mins);
    hmap_each(&m->queues, collect_cb, &c);
    if (c.n > 1)
        qsort(c.qs, c.n, sizeof(*c.qs), cmp_queue);
    /* earliest WAIT time per queue: a parallel array indexed by position,
     * found through a temporary name -> slot map */
    mn = calloc(c.n ? c.n : 1, sizeof(*mn));
    if (mn == NULL) {
        free(c.qs);
        (void)buf_append_str(out, "out of memory\n");
        return 1;
    }
    for (i = 0; i < c.n; i++)
        if (hmap_put(&mins, c.qs[i]->name, &mn[i]) < 0)
            break;
    for (k = 0; k < m->timers.n; k++) {
        struct qrcpt *r = container_of(m->timers.a[k], struct qrcpt, tn);
        int64_t *slot;

        if (r->state != RS_WAIT || r->q == NULL)
            continue;
        slot = hmap_get(&mins, r->q->name);
        if (slot && (*slot == 0 || r->tn.key < *slot))
            *slot = r->tn.key;
    }
    if (c.n == 0)
        (void)buf_append_str(out, "no queued mail\n");
    for (i = 0; i < c.n; i++) {
        struct queue *q = c.qs[i];

        if (mode && strcmp(shaping_mode_name(q, now_ms), mode) != 0)
            continue;       /* show queues --mode=M / --paused */
        shown++;
        char name[2 * PROTO_NAME_MAX + 64], t[64] = "-";

        log_escape(name, sizeof(name), q->name, strlen(q->name));
        if (mn[i])
            acct_format_time(mn[i] / 1000, t, sizeof(t));
        (void)buf_printf(out, "%s  queued=%u  inflight=%u  retry-at=%s  ",
                         name, q->nready + q->nwait + q->ninflight, q->ninflight, t);
        shaping_describe(q, now_ms, out);
    }
    if (mode && shown == 0 && c.n > 0)
        (void)buf_printf(out, "no queue in mode %s\n", mode);
    hmap_free(&mins);
    free(mn);
    free(c.qs);
    return 0;
}

static int show_status(struct qmgr *m, struct buf *out, int64_t now_ms)
{
    struct worker *w;
    uint32_t nw = 0, slots = 0, busy = 0;

    for (w = m->workers; w; w = w->next) {
        nw++;
        slots += w->slots;
        busy += w->inflight;
    }
    (void)buf_printf(out,
                     "messages queued: %zu\n"
                     "recipients queued: %llu\n"
                     "recipients in flight: %llu\n"
                     "queues: %zu\n"
                     "smtp-out workers: %u (jobs %u of %u slots)\n"
                     "delivered since start: %llu\n"
                     "bounced since start: %llu\n"
                     "deferred since start: %llu\n",
                     m->msgs.n, (unsigned long long)m->nrcpt_queued,
                     (unsigned long long)m->nrcpt_inflight, m->queues.n, nw, busy, slots,
                     (unsigned long long)m->st.delivered, (unsigned long long)m->st.bounced,
                     (unsigned long long)m->st.deferred);
    shaping_status(m, now_ms, out);
    return 0;
}

int control_run(struct qmgr *m, int argc, char **argv, struct buf *out, int64_t now_ms)
{
    int rc;

    if (argc == 1 && strcmp(argv[0], "status") == 0)
        return show_status(m, out, now_ms);
    if (argc == 2 && strcmp(argv[0], "show") == 0
        && (strcmp(argv[1], "queues") == 0 || strcmp(argv[1], "queue") == 0))
        return show_queues(m, out, now_ms, NULL);
    if (argc == 3 && strcmp(argv[0], "show") == 0 && strcmp(argv[1], "message") == 0)
        return show_message(m, argv[2], out);
    if (argc == 3 && strcmp(argv[0], "show") == 0 && strcmp(argv[1], "queues") == 0) {
        static const char *const modes[] = { "normal", "backoff", "paused", "retry" };
        const char *mode = strcmp(argv[2], "--paused") == 0 ? "paused" : NULL;
        size_t k;

        for (k = 0; mode == NULL && k < sizeof(modes) / sizeof(modes[0]); k++)
            if (strncmp(argv[2], "--mode=", 7) == 0 && strcmp(argv[2] + 7, modes[k]) == 0)
                mode = modes[k];
        if (mode)
            return show_queues(m, out, now_ms, mode);
    }
    rc = control_shaping(m, argc, argv, out, now_ms);
    if (rc >= 0)
        return rc;
    (void)buf_append_str(out, "qmgr: unknown command (try: status, show queues, show message ID, "
                         "show settings D, pause|resume queue D, schedule D, "
                         "delete --queue D|--rcpt A, set queue --mode=M D)\n");
    return 1;
}
