/*
 * warmup - daily caps per virtual MTA while its IPs warm up
 * (`warmup-schedule 50,100,500,...` in <virtual-mta>): day n of the plan
 * allows schedule[n-1] recipients through that vmta, counted over all its
 * queues; past the last step the vmta is warm (no cap).  Days are UTC
 * days; day 1 is `warmup-start`, else the first day qmgr sent through the
 * vmta.  What exceeds today's cap waits in its queues until midnight UTC
 * (the gate arms their wake-up).  The counters and first days live in
 * <spool>/state/warmup so a restart does not hand out today's cap again:
 * one line per vmta, "warmup 1 NAME FIRST_DAY DAY SENT", rewritten
 * (tmp + rename) at most once a second and at stop; after a crash the
 * last second's counts may be lost, so the cap can be passed by that many.
 *
 * DIAGNOSTICS: warmup_load skips (and logs) malformed lines; warmup_save
 * returns -1 with errno set when the file cannot be written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "log.h"
#include "parse.h"
#include "shaping.h"

#define DAY_MS 86400000LL

struct warmup {
    char name[2 * CFG_NAME_MAX + 2];    /* a vmta, or a queue "domain/vmta" (per-domain plan) */
    int64_t first_day;          /* -1 = not used yet */
    int64_t day;                /* day of `sent` */
    uint32_t sent;
};

static struct warmup *warmup_get(struct qmgr *m, const char *name, int create)
{
    struct warmup *w = hmap_get(&m->warmups, name);

    if (w != NULL || !create)
        return w;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    snprintf(w->name, sizeof(w->name), "%s", name);
    w->first_day = -1;
    w->day = -1;
    if (hmap_put(&m->warmups, w->name, w) < 0) {
        free(w);
        return NULL;
    }
    return w;
}

/* warmup_cap - today's cap of vmta v (UINT32_MAX = none); *dayn = its day. */
static uint32_t warmup_cap(const struct cfg_vmta *v, const struct warmup *w, int64_t today,
                           int64_t *dayn)
{
    int64_t start, n;

    *dayn = 0;
    if (v == NULL || v->nwarmup == 0)
        return UINT32_MAX;
    start = v->warmup_start_day >= 0 ? v->warmup_start_day
          : (w && w->first_day >= 0 ? w->first_day : today);
    n = today - start + 1;
    if (n < 1)
        n = 1;                  /* before the start date: day 1's cap */
    *dayn = n;
    return n > (int64_t)v->nwarmup ? UINT32_MAX : v->warmup[n - 1];
}

uint32_t warmup_left(struct qmgr *m, const char *vmta, int64_t now_ms, int64_t *wake_ms)
{
    const struct cfg_vmta *v = m->cfg ? config_find_vmta(m->cfg, vmta) : NULL;
    struct warmup *w;
    int64_t today = now_ms / DAY_MS, dayn;
    uint32_t cap, sent;

    if (v == NULL || v->nwarmup == 0)
        return UINT32_MAX;
    w = warmup_get(m, v->name, 0);
    cap = warmup_cap(v, w, today, &dayn);
    if (cap == UINT32_MAX)
        return UINT32_MAX;
    sent = w && w->day == today ? w->sent : 0;
    if (sent < cap)
        return cap - sent;
    if (wake_ms)
        *wake_ms = (today + 1) * DAY_MS;
    return 0;
}

/* plan_cap - today's cap of a per-queue plan (UINT32_MAX = none/done). */
static uint32_t plan_cap(const struct cfg_warmup_plan *p, const struct cfg_vmta *v,
                         const struct warmup *w, int64_t today, int64_t *dayn)
{
    int64_t start, n;

    *dayn = 0;
    if (p->n == 0)
        return UINT32_MAX;
    start = v && v->warmup_start_day >= 0 ? v->warmup_start_day
          : (w && w->first_day >= 0 ? w->first_day : today);
    n = today - start + 1;
    if (n < 1)
        n = 1;
    *dayn = n;
    return n > (int64_t)p->n ? UINT32_MAX : p->day[n - 1];
}

uint32_t warmup_queue_left(struct qmgr *m, const struct queue *q, int64_t now_ms, int64_t *wake_ms)
{
    const struct cfg_vmta *v;
    const struct warmup *w;
    int64_t today = now_ms / DAY_MS, dayn;
    uint32_t cap, sent;

    if (q->s.warmup_plan.n == 0)
        return UINT32_MAX;
    v = m->cfg ? config_find_vmta(m->cfg, q->vmta) : NULL;
    w = warmup_get(m, q->name, 0);
    cap = plan_cap(&q->s.warmup_plan, v, w, today, &dayn);
    if (cap == UINT32_MAX)
        return UINT32_MAX;
    sent = w && w->day == today ? w->sent : 0;
    if (sent < cap)
        return cap - sent;
    if (wake_ms)
        *wake_ms = (today + 1) * DAY_MS;
    return 0;
}

/* count - add n to counter w for today. */
static void count(struct qmgr *m, struct warmup *w, uint32_t n, int64_t today)
{
    if (w->first_day < 0)
        w->first_day = today;
    if (w->day != today) {
        w->day = today;
        w->sent = 0;
    }
    w->sent = w->sent + n < w->sent ? UINT32_MAX : w->sent + n;
    m->warmup_dirty = 1;
}

void warmup_queue_count(struct qmgr *m, const struct queue *q, uint32_t n, int64_t now_ms)
{
    struct warmup *w;

    if (q->s.warmup_plan.n == 0 || strlen(q->name) >= sizeof(w->name)
        || (w = warmup_get(m, q->name, 1)) == NULL)
        return;
    count(m, w, n, now_ms / DAY_MS);
}

void warmup_count(struct qmgr *m, const char *vmta, uint32_t n, int64_t now_ms)
{
    const struct cfg_vmta *v = m->cfg ? config_find_vmta(m->cfg, vmta) : NULL;
    struct warmup *w;
    int64_t today = now_ms / DAY_MS;

    if (v == NULL || v->nwarmup == 0 || (w = warmup_get(m, v->name, 1)) == NULL)
        return;
    if (w->first_day < 0)
        w->first_day = today;
    if (w->day != today) {
        w->day = today;
        w->sent = 0;
    }
    w->sent = w->sent > UINT32_MAX - n ? UINT32_MAX : w->sent + n;
    m->warmup_dirty = 1;
}

struct save_ctx {
    FILE *fp;
    int err;
};

static void save_cb(void *val, void *arg)
{
    const struct warmup *w = val;
    struct save_ctx *c = arg;

    if (fprintf(c->fp, "warmup 1 %s %lld %lld %u\n", w->name, (long long)w->first_day,
                (long long)w->day, w->sent) < 0)
        c->err = 1;
}

int warmup_save(struct qmgr *m, const char *path)
{
    char tmp[PATH_MAX + 8];
    struct save_ctx c = { 0 };

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    c.fp = fopen(tmp, "w");
    if (c.fp == NULL)
        return -1;
    hmap_each(&m->warmups, save_cb, &c);
    if (fclose(c.fp) != 0 || c.err || rename(tmp, path) < 0) {
        (void)unlink(tmp);
        return -1;
    }
    m->warmup_dirty = 0;
    return 0;
}

/* signed_field - "-1" or a day number. */
static int signed_field(const char *s, int64_t *out)
{
    uint64_t v;

    if (strcmp(s, "-1") == 0) {
        *out = -1;
        return 0;
    }
    if (parse_u64(s, 0, 10000000, &v) < 0)
        return -1;
    *out = (int64_t)v;
    return 0;
}

int warmup_load(struct qmgr *m, const char *path)
{
    FILE *fp = fopen(path, "r");
    char line[512], *f[6], *save = NULL;
    int nf, nline = 0, loaded = 0;
    uint64_t sent;

    if (fp == NULL)
        return errno == ENOENT ? 0 : -1;
    while (fgets(line, sizeof(line), fp) != NULL) {
        struct warmup *w;
        int64_t first, day;

        nline++;
        line[strcspn(line, "\n")] = '\0';
        for (nf = 0; nf < 6 && (f[nf] = strtok_r(nf ? NULL : line, " ", &save)) != NULL; nf++)
            ;
        if (nf != 6 || strcmp(f[0], "warmup") != 0 || strcmp(f[1], "1") != 0
            || strlen(f[2]) >= 2 * CFG_NAME_MAX + 2 || signed_field(f[3], &first) < 0
            || signed_field(f[4], &day) < 0 || parse_u64(f[5], 0, UINT32_MAX, &sent) < 0) {
            msg_warn("%s:%d: malformed line ignored", path, nline);
            continue;
        }
        w = warmup_get(m, f[2], 1);
        if (w == NULL)
            break;
        w->first_day = first;
        w->day = day;
        w->sent = (uint32_t)sent;
        loaded++;
    }
    (void)fclose(fp);
    return loaded;
}

static void free_cb(void *val, void *arg)
{
    free(val);
}

void warmup_free(struct qmgr *m)
{
    hmap_each(&m->warmups, free_cb, NULL);
    hmap_free(&m->warmups);
}

struct describe_ctx {
    struct qmgr *m;
    int64_t now;
    struct buf *out;
};

/* describe_queue_cb - a queue with its own plan (warmup-schedule in <domain>). */
static void describe_queue_cb(void *val, void *arg)
{
    const struct queue *q = val;
    struct describe_ctx *c = arg;
    const struct warmup *w;
    int64_t today = c->now / DAY_MS, dayn;
    uint32_t cap, sent;

    char esc[4 * (2 * CFG_NAME_MAX + 2)];

    if (q->s.warmup_plan.n == 0)
        return;
    log_escape(esc, sizeof(esc), q->name, strlen(q->name));     /* domains come from mail */
    w = warmup_get(c->m, q->name, 0);
    cap = plan_cap(&q->s.warmup_plan, config_find_vmta(c->m->cfg, q->vmta), w, today, &dayn);
    sent = w && w->day == today ? w->sent : 0;
    if (cap == UINT32_MAX)
        (void)buf_printf(c->out, "  queue %s  warm: plan of %u days done  sent-today=%u\n", esc,
                         q->s.warmup_plan.n, sent);
    else
        (void)buf_printf(c->out, "  queue %s  warm-up day %lld of %u  cap=%u  sent-today=%u  remaining=%u\n",
                         esc, (long long)dayn, q->s.warmup_plan.n, cap, sent,
                         sent < cap ? cap - sent : 0);
}

/* warmup_describe - `show vmtas`: every vmta, with its plan's day, cap and
 * what is left today. */
void warmup_describe(struct qmgr *m, int64_t now_ms, struct buf *out)
{
    int64_t today = now_ms / DAY_MS, dayn;
    size_t i;

    if (m->cfg == NULL || m->cfg->nvmtas == 0) {
        (void)buf_append_str(out, "no virtual MTAs configured\n");
        return;
    }
    for (i = 0; i < m->cfg->nvmtas; i++) {
        const struct cfg_vmta *v = &m->cfg->vmtas[i];
        const struct warmup *w = warmup_get(m, v->name, 0);
        uint32_t cap = warmup_cap(v, w, today, &dayn);
        uint32_t sent = w && w->day == today ? w->sent : 0;

        if (v->nwarmup == 0)
            (void)buf_printf(out, "%s  warm (no warmup-schedule)\n", v->name);
        else if (cap == UINT32_MAX)
            (void)buf_printf(out, "%s  warm: warm-up plan of %u days done (day %lld)  sent-today=%u\n",
                             v->name, v->nwarmup, (long long)dayn, sent);
        else
            (void)buf_printf(out, "%s  warm-up day %lld of %u  cap=%u  sent-today=%u  remaining=%u%s\n",
                             v->name, (long long)dayn, v->nwarmup, cap, sent,
                             sent < cap ? cap - sent : 0,
                             v->warmup_start_day < 0 && (w == NULL || w->first_day < 0)
                             ? "  (day 1 starts with the first message)" : "");
    }
    {
        struct describe_ctx c = { m, now_ms, out };

        hmap_each(&m->queues, describe_queue_cb, &c);
    }
}
