/*
 * control_shaping - the mtactl commands that steer delivery (relayed by
 * master to qmgr as CTL_REQUEST):
 *   pause queue DOMAIN[/VMTA]     stop dispatching (mail stays queued)
 *   resume queue DOMAIN[/VMTA]    dispatch again (also ends hold-domain)
 *   schedule DOMAIN[/VMTA]        retry now: waiting recipients become
 *                                 ready, a queue-wide retry pause ends
 *   delete --queue Q | --rcpt ADDR | --job J   bounce queued recipients ("deleted
 *                                 by administrator", one `b` record each)
 *   set queue --mode=normal|backoff DOMAIN[/VMTA]
 *   hold|release vmta V           pause / resume every queue of a vmta
 *                                 (PowerMTA FAQ's `pmta hold`)
 *   disable|enable source IP DOMAIN[/VMTA] [--reenable-after=T]
 *                                 stop / restart using a source IP there
 *   show settings DOMAIN[/VMTA] [--vmta V]   the effective limits
 *   show vmtas                    warm-up day, cap and remaining per vmta
 * and the per-queue state text of `show queues`.  Arguments come from the
 * control socket (root or master's uid only) but are still bounded and
 * escaped on output.  A pause or source disable given for a domain also
 * applies to its queues created later; they are kept in state/pauses
 * (pause_state.c) and survive a qmgr restart.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "acct.h"
#include "log.h"
#include "parse.h"
#include "shaping.h"
#include "smtp_patterns.h"


/* queue_matches - q is named by spec: "domain/vmta", "domain" (all its
 * vmtas) or a star followed by "/vmta" (every queue of that vmta). */
static int queue_matches(const struct queue *q, const char *spec)
{
    if (spec[0] == '*' && spec[1] == '/')
        return strcasecmp(q->vmta, spec + 2) == 0;
    return strcasecmp(q->name, spec) == 0 || strcasecmp(q->domain, spec) == 0;
}

void control_apply_pauses(struct qmgr *m, struct queue *q, int64_t now_ms)
{
    /* a queue held only by hold-domain follows the configuration (reload) */
    if (q->shape->paused && strcmp(q->shape->pause_reason, "hold-domain") == 0) {
        q->shape->paused = 0;
        q->shape->pause_reason[0] = '\0';
        queue_mark_runnable(m, q);
    }
    struct qpause *p = hmap_get(&m->pauses, q->name);
    char anyv[PROTO_NAME_MAX + 3];

    if (p == NULL)
        p = hmap_get(&m->pauses, q->domain);
    if (p == NULL && snprintf(anyv, sizeof(anyv), "*/%s", q->vmta) < (int)sizeof(anyv)) {
        for (size_t i = 2; anyv[i]; i++)
            anyv[i] = (char)(anyv[i] >= 'A' && anyv[i] <= 'Z' ? anyv[i] + 32 : anyv[i]);
        p = hmap_get(&m->pauses, anyv);
    }
    if (now_ms == 0)
        now_ms = (int64_t)time(NULL) * 1000;
    if (p != NULL) {
        if (p->paused && !q->shape->paused)
            q->shape->paused_since = now_ms;
        q->shape->paused = (uint8_t)p->paused;
        snprintf(q->shape->pause_reason, sizeof(q->shape->pause_reason), "%s",
                 p->paused ? "paused by mtactl" : "");
        if (!p->paused)
            queue_mark_runnable(m, q);
    } else if (!q->shape->paused && m->cfg && config_is_held_domain(m->cfg, q->domain)) {
        q->shape->paused = 1;
        q->shape->paused_since = now_ms;
        snprintf(q->shape->pause_reason, sizeof(q->shape->pause_reason), "hold-domain");
    }
}

int control_vmta_usable(struct qmgr *m, const char *vmta)
{
    char key[PROTO_NAME_MAX + 3];
    struct qpause *p;
    size_t i;

    if (snprintf(key, sizeof(key), "*/%s", vmta) >= (int)sizeof(key))
        return 1;
    for (i = 2; key[i]; i++)
        key[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
    p = hmap_get(&m->pauses, key);
    return p == NULL || !p->paused;
}

static int spec_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > 2 * PROTO_NAME_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return 0;
    return 1;
}

struct each_ctx {
    struct qmgr *m;
    const char *spec;
    int64_t now;
    int op;
    unsigned n;
    const char *ip;             /* disable/enable source */
    uint32_t reenable;          /* seconds, 0 = never */
};

enum { OP_PAUSE, OP_RESUME, OP_SCHEDULE, OP_NORMAL, OP_BACKOFF, OP_DISABLE, OP_ENABLE };

/* source_ip - disable (until now+reenable, or for good) or enable ip for q. */
static void source_ip(struct qshape *s, const char *ip, int disable, uint32_t reenable, int64_t now)
{
    uint32_t i;

    for (i = 0; i < s->ndisabled; i++)
        if (strcmp(s->disabled[i].ip, ip) == 0)
            break;
    if (!disable) {
        if (i < s->ndisabled)
            s->disabled[i] = s->disabled[--s->ndisabled];
        return;
    }
    if (i == s->ndisabled) {
        struct disabled_ip *d = shaping_disabled_slot(s);

        if (d == NULL)
            return;
        snprintf(d->ip, sizeof(d->ip), "%s", ip);
    }
    s->disabled[i].until = reenable ? now + 1000LL * reenable : 0;
}

static void each_queue_cb(void *val, void *arg)
{
    struct queue *q = val;
    struct each_ctx *c = arg;
    struct qshape *s = q->shape;

    if (s == NULL || !queue_matches(q, c->spec))
        return;
    c->n++;
    switch (c->op) {
    case OP_PAUSE:
        if (!s->paused)
            s->paused_since = c->now;
        s->paused = 1;
        snprintf(s->pause_reason, sizeof(s->pause_reason), "paused by mtactl");
        break;
    case OP_RESUME:
        s->paused = 0;
        s->pause_reason[0] = '\0';
        queue_mark_runnable(c->m, q);
        break;
    case OP_SCHEDULE:
        s->retry_until = 0;
        s->retry_reason[0] = '\0';
        s->conn_failures = 0;
        s->probing = 0;
        queue_mark_runnable(c->m, q);
        break;
    case OP_NORMAL:
        backoff_leave(c->m, q, "set by mtactl", c->now);
        break;
    case OP_BACKOFF:
        backoff_enter(c->m, q, "set by mtactl", 0, c->now);
        break;
    case OP_DISABLE:
    case OP_ENABLE:
        source_ip(s, c->ip, c->op == OP_DISABLE, c->reenable, c->now);
        queue_mark_runnable(c->m, q);
        break;
    }
}

int control_pause_remember(struct qmgr *m, const char *spec, int paused)
{
    char key[2 * PROTO_NAME_MAX + 2];
    struct qpause *p;
    size_t i, n = strlen(spec);

    if (n >= sizeof(key))
        return -1;
    for (i = 0; i <= n; i++)
        key[i] = (char)(spec[i] >= 'A' && spec[i] <= 'Z' ? spec[i] + 32 : spec[i]);
    p = hmap_get(&m->pauses, key);
    if (p == NULL) {
        p = calloc(1, sizeof(*p));
        if (p == NULL)
            return -1;
        memcpy(p->key, key, n + 1);
        if (hmap_put(&m->pauses, p->key, p) < 0) {
            free(p);
            return -1;
        }
    }
    p->paused = paused;
    return 0;
}

/* saved - make the command durable (state/pauses) and say so if not. */
static void saved(struct qmgr *m, struct buf *out, int64_t now)
{
    if (pause_state_save(m, now) < 0) {
        msg_error("%s: %s (the change holds until qmgr restarts)", m->pause_path, strerror(errno));
        (void)buf_printf(out, "warning: not saved (%s): lost if qmgr restarts\n", strerror(errno));
    }
}

/* set_pause - remember the pause for queues made later, apply it now. */
static int set_pause(struct qmgr *m, const char *spec, int paused, struct buf *out, int64_t now)
{
    struct each_ctx c = { .m = m, .spec = spec, .now = now, .op = paused ? OP_PAUSE : OP_RESUME };
    char esc[2 * PROTO_NAME_MAX + 64];

    if (control_pause_remember(m, spec, paused) < 0)
        return buf_append_str(out, "out of memory\n"), 1;
    hmap_each(&m->queues, each_queue_cb, &c);
    log_escape(esc, sizeof(esc), spec, strlen(spec));
    msg_info("mtactl: %s queue %s (%u queues now)", paused ? "pause" : "resume", esc, c.n);
    (void)buf_printf(out, "%s %s: %u queue%s\n", paused ? "paused" : "resumed", esc, c.n,
                     c.n == 1 ? "" : "s");
    saved(m, out, now);
    return 0;
}

struct sched_ctx {
    const char *spec;
    struct qrcpt **r;
    size_t n, cap;
    const char *rcpt;           /* delete --rcpt */
    const char *job;            /* delete --job */
    int waiting_only;
};

static void collect_rcpts_cb(void *val, void *arg)
{
    struct qmsg *msg = val;
    struct sched_ctx *c = arg;
    uint32_t i;

    for (i = 0; i < msg->env.nrcpt; i++) {
        struct qrcpt *r = &msg->r[i];

        if (r->state == RS_DELIVERED || r->state == RS_BOUNCED || r->q == NULL)
            continue;
        if (c->waiting_only && r->state != RS_WAIT)
            continue;
        if (c->spec && !queue_matches(r->q, c->spec))
            continue;
        if (c->rcpt && strcasecmp(msg->env.rcpts[r->index].addr, c->rcpt) != 0)
            continue;
        if (c->job && (msg->env.job_id == NULL || strcmp(msg->env.job_id, c->job) != 0))
            continue;
        if (c->n == c->cap) {
            size_t nc = c->cap ? c->cap * 2 : 64;
            struct qrcpt **nr = realloc(c->r, nc * sizeof(*nr));
            if (nr == NULL)
                return;
            c->r = nr;
            c->cap = nc;
        }
        c->r[c->n++] = r;
    }
}

static int do_schedule(struct qmgr *m, const char *spec, struct buf *out, int64_t now)
{
    struct each_ctx e = { .m = m, .spec = spec, .now = now, .op = OP_SCHEDULE };
    struct sched_ctx c = { .spec = spec, .waiting_only = 1 };
    char esc[2 * PROTO_NAME_MAX + 64];
    size_t i;

    hmap_each(&m->queues, each_queue_cb, &e);
    hmap_each(&m->msgs, collect_rcpts_cb, &c);
    for (i = 0; i < c.n; i++)
        schedule_ready(m, c.r[i]);
    free(c.r);
    log_escape(esc, sizeof(esc), spec, strlen(spec));
    (void)buf_printf(out, "scheduled %s: %u queues, %zu recipients made ready\n", esc, e.n, c.n);
    return 0;
}

static int do_delete(struct qmgr *m, const char *queue, const char *rcpt, const char *job,
                     struct buf *out, int64_t now)
{
    struct sched_ctx c = { .spec = queue, .rcpt = rcpt, .job = job };
    size_t i, deleted = 0, later = 0;

    hmap_each(&m->msgs, collect_rcpts_cb, &c);
    for (i = 0; i < c.n; i++) {
        struct qrcpt *r = c.r[i];
        struct qmsg *msg = r->msg;

        if (r->state == RS_INFLIGHT) {
            r->flags |= RF_DELETE;      /* its result decides: delivered, or deleted */
            later++;
            continue;
        }
        result_bounce_local(m, r, now, "5.0.0", "550 5.0.0 deleted by administrator");
        deleted++;
        /* c.r holds each message's recipients together, so a message
         * freed here has no later entry in c.r */
        (void)message_check_done(m, msg);
    }
    free(c.r);
    if (m->jr)
        (void)journal_flush(m->jr);
    msg_info("mtactl: deleted %zu recipients (%zu in flight: deleted unless delivered)", deleted, later);
    (void)buf_printf(out, "deleted %zu recipients; %zu in flight will be deleted unless delivered\n",
                     deleted, later);
    return 0;
}

static void fmt_rate(char *out, size_t n, const struct cfg_rate *r)
{
    if (r->count == 0)
        snprintf(out, n, "unlimited");
    else
        snprintf(out, n, "%llu/%us", (unsigned long long)r->count, r->period);
}

static void fmt_list(char *out, size_t n, const uint32_t *l, uint32_t k)
{
    size_t used = 0;
    uint32_t i;

    out[0] = '\0';
    for (i = 0; i < k && used < n; i++) {
        int w = snprintf(out + used, n - used, "%s%us", i ? "," : "", l[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* show_settings - effective settings of DOMAIN via VMTA: those of the
 * live queue (in its mode) if there is one, else the merged config. */
static int show_settings(struct qmgr *m, const char *spec, const char *vmta, struct buf *out,
                         int64_t now)
{
    char domain[PROTO_NAME_MAX + 1], name[2 * PROTO_NAME_MAX + 2], a[64], b[64], c[64];
    char esc[2 * PROTO_NAME_MAX + 64], lst[CFG_RETRY_MAX * 12];
    const char *slash = strchr(spec, '/');
    struct cfg_domain_settings s;
    struct queue *q;
    size_t dl = slash ? (size_t)(slash - spec) : strlen(spec), i;

    if (dl == 0 || dl > PROTO_NAME_MAX)
        return buf_append_str(out, "bad domain\n"), 1;
    for (i = 0; i < dl; i++)
        domain[i] = (char)(spec[i] >= 'A' && spec[i] <= 'Z' ? spec[i] + 32 : spec[i]);
    domain[dl] = '\0';
    if (slash)
        vmta = slash + 1;
    if (vmta == NULL || vmta[0] == '\0')
        vmta = m->cfg && m->cfg->default_vmta[0] ? m->cfg->default_vmta : "{default}";
    snprintf(name, sizeof(name), "%s/%s", domain, vmta);
    q = queue_find(m, name);
    if (q)
        s = q->s;
    else
        config_domain_settings(m->cfg, vmta, domain, &s);
    log_escape(esc, sizeof(esc), name, strlen(name));
    (void)buf_printf(out, "queue %s (%s)\n", esc, q ? "active" : "no mail queued: from the configuration");
    (void)buf_printf(out, "  mode: %s\n", q ? shaping_mode_name(q, now) : "normal");
    fmt_rate(a, sizeof(a), &s.msg_rate);
    fmt_rate(b, sizeof(b), &s.connect_rate);
    fmt_rate(c, sizeof(c), &s.volume_rate);
    (void)buf_printf(out, "  max-smtp-out: %u\n  max-msg-rate: %s (burst %u)\n"
                     "  max-connect-rate: %s (burst %u)\n  max-data-volume-rate: %s bytes\n",
                     s.max_smtp_out, a, s.msg_burst, b, s.connect_burst, c);
    (void)buf_printf(out, "  max-msg-per-connection: %u\n  max-rcpt-per-transaction: %u\n",
                     s.max_msg_per_connection, s.max_rcpt_per_transaction);
    fmt_list(lst, sizeof(lst), s.retry_after, s.nretry);
    (void)buf_printf(out, "  retry-after: %s\n  retry-recipients-after: %us\n"
                     "  retry-after-dns-error: %us\n  bounce-after: %us\n  max-smtp-retries: %u\n",
                     lst, s.retry_recipients_after, s.retry_after_dns_error, s.bounce_after,
                     s.max_smtp_retries);
    if (s.backoff_max_smtp_out)
        snprintf(a, sizeof(a), "%u", s.backoff_max_smtp_out);
    else
        snprintf(a, sizeof(a), "derived (%u)", s.max_smtp_out / 2 ? s.max_smtp_out / 2 : 1);
    if (s.backoff_msg_rate.set)
        fmt_rate(b, sizeof(b), &s.backoff_msg_rate);
    else
        snprintf(b, sizeof(b), "derived (half)");
    fmt_list(lst, sizeof(lst), s.backoff_retry_after, s.nbackoff_retry);
    if (s.nbackoff_retry == 0)
        snprintf(lst, sizeof(lst), "twice retry-after");
    (void)buf_printf(out, "  backoff-max-smtp-out: %s\n  backoff-max-msg-rate: %s\n"
                     "  backoff-retry-after: %s\n", a, b, lst);
    if (s.backoff_to_normal_after)
        (void)buf_printf(out, "  backoff-to-normal-after: %us\n", s.backoff_to_normal_after);
    else
        (void)buf_append_str(out, "  backoff-to-normal-after: never\n");
    (void)buf_printf(out, "  backoff-to-normal-after-delivery: %s\n",
                     s.backoff_to_normal_after_delivery ? "yes" : "no");
    log_escape(esc, sizeof(esc), s.smtp_pattern_list, strlen(s.smtp_pattern_list));
    (void)buf_printf(out, "  smtp-pattern-list: %s\n  use-default-smtp-patterns: %s\n",
                     s.smtp_pattern_list[0] ? esc : "(none)",
                     s.use_default_smtp_patterns ? "yes (" SMTP_PATTERNS_BUILTIN_NAME ")" : "no");
    (void)buf_printf(out, "  connection-idle-timeout: %us\n  connect-timeout: %us\n",
                     s.idle_timeout, s.connect_timeout);
    if (s.warmup_plan.n) {
        char plan[CFG_WARMUP_MAX * 11 + 1];
        size_t used = 0;
        uint32_t k;

        plan[0] = '\0';
        for (k = 0; k < s.warmup_plan.n && used < sizeof(plan); k++) {
            int w = snprintf(plan + used, sizeof(plan) - used, "%s%u", k ? "," : "",
                             s.warmup_plan.day[k]);
            if (w < 0)
                break;
            used += (size_t)w;
        }
        (void)buf_printf(out, "  warmup-schedule (this queue): %s\n", plan);
    }
    if (q && q->shape && q->shape->mode == QM_BACKOFF) {
        fmt_rate(b, sizeof(b), &q->shape->backoff_rate);
        (void)buf_printf(out, "  now in backoff: max %u connections, max-msg-rate %s\n",
                         q->shape->backoff_conns, b);
    }
    return 0;
}

int control_shaping(struct qmgr *m, int argc, char **argv, struct buf *out, int64_t now_ms)
{
    const char *queue = NULL, *rcpt = NULL, *vmta = NULL, *job = NULL;
    int i;

    if (argc == 3 && strcmp(argv[1], "queue") == 0 && spec_ok(argv[2])
        && (strcmp(argv[0], "pause") == 0 || strcmp(argv[0], "resume") == 0))
        return set_pause(m, argv[2], argv[0][0] == 'p', out, now_ms);
    if (argc == 3 && strcmp(argv[1], "vmta") == 0 && spec_ok(argv[2])
        && strlen(argv[2]) <= PROTO_NAME_MAX
        && (strcmp(argv[0], "hold") == 0 || strcmp(argv[0], "release") == 0)) {
        char spec[PROTO_NAME_MAX + 3];

        snprintf(spec, sizeof(spec), "*/%s", argv[2]);
        return set_pause(m, spec, argv[0][0] == 'h', out, now_ms);
    }
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "source") == 0 && spec_ok(argv[2])
        && spec_ok(argv[3]) && strlen(argv[2]) < 64
        && (strcmp(argv[0], "disable") == 0 || strcmp(argv[0], "enable") == 0)) {
        struct each_ctx c = { .m = m, .spec = argv[3], .now = now_ms, .ip = argv[2],
                              .op = argv[0][0] == 'd' ? OP_DISABLE : OP_ENABLE };
        char esc[2 * PROTO_NAME_MAX + 64], eip[256];
        uint64_t secs = 0;

        if (argc == 5 && (c.op != OP_DISABLE || strncmp(argv[4], "--reenable-after=", 17) != 0
                          || parse_interval(argv[4] + 17, &secs) < 0 || secs == 0
                          || secs > 30 * 86400))
            return buf_append_str(out, "usage: disable source IP DOMAIN[/VMTA] "
                                  "[--reenable-after=INTERVAL]\n"), 1;
        c.reenable = (uint32_t)secs;
        hmap_each(&m->queues, each_queue_cb, &c);
        pause_state_disable_note(m, argv[3], argv[2], c.op == OP_DISABLE,
                                 secs ? now_ms + 1000LL * (int64_t)secs : 0);
        log_escape(esc, sizeof(esc), argv[3], strlen(argv[3]));
        log_escape(eip, sizeof(eip), argv[2], strlen(argv[2]));
        msg_info("mtactl: %s source %s for %s (%u queues)", argv[0], eip, esc, c.n);
        (void)buf_printf(out, "%sd source %s for %s: %u queue%s\n", argv[0], eip, esc, c.n,
                         c.n == 1 ? "" : "s");
        saved(m, out, now_ms);
        return 0;
    }
    if (argc == 2 && strcmp(argv[0], "schedule") == 0 && spec_ok(argv[1]))
        return do_schedule(m, argv[1], out, now_ms);
    if (argc >= 3 && strcmp(argv[0], "delete") == 0) {
        for (i = 1; i + 1 < argc; i += 2) {
            if (strcmp(argv[i], "--queue") == 0 && spec_ok(argv[i + 1]))
                queue = argv[i + 1];
            else if (strcmp(argv[i], "--rcpt") == 0 && spec_ok(argv[i + 1]))
                rcpt = argv[i + 1];
            else if (strcmp(argv[i], "--job") == 0 && spec_ok(argv[i + 1]))
                job = argv[i + 1];
            else
                break;
        }
        if (i == argc && (queue || rcpt || job))
            return do_delete(m, queue, rcpt, job, out, now_ms);
        (void)buf_append_str(out, "usage: delete --queue DOMAIN[/VMTA] | --rcpt ADDRESS | --job ID\n");
        return 1;
    }
    if (argc == 4 && strcmp(argv[0], "set") == 0 && strcmp(argv[1], "queue") == 0
        && spec_ok(argv[3])
        && (strcmp(argv[2], "--mode=normal") == 0 || strcmp(argv[2], "--mode=backoff") == 0)) {
        struct each_ctx c = { .m = m, .spec = argv[3], .now = now_ms,
                              .op = argv[2][7] == 'n' ? OP_NORMAL : OP_BACKOFF };

        hmap_each(&m->queues, each_queue_cb, &c);
        (void)buf_printf(out, "%u queues set to %s\n", c.n, argv[2] + 7);
        return 0;
    }
    if (argc == 2 && strcmp(argv[0], "show") == 0 && strcmp(argv[1], "vmtas") == 0) {
        warmup_describe(m, now_ms, out);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[0], "show") == 0 && strcmp(argv[1], "settings") == 0
        && spec_ok(argv[2])) {
        if (argc == 5 && strcmp(argv[3], "--vmta") == 0 && spec_ok(argv[4]))
            vmta = argv[4];
        else if (argc != 3)
            return buf_append_str(out, "usage: show settings DOMAIN[/VMTA] [--vmta V]\n"), 1;
        return show_settings(m, argv[2], vmta, out, now_ms);
    }
    return -1;      /* not a shaping command */
}

static void fmt_time(char *out, size_t n, int64_t ms)
{
    if (ms <= 0)
        snprintf(out, n, "-");
    else
        acct_format_time(ms / 1000, out, n);
}

/* shaping_describe - "mode=M since=T conns=N [until=T] [reason="..."]\n"
 * for show queues; the reason is a remote server's text: escaped. */
void shaping_describe(struct queue *q, int64_t now_ms, struct buf *out)
{
    struct qshape *s = q->shape;
    const char *mode = shaping_mode_name(q, now_ms), *why = "";
    char t[64], u[64], esc[SHAPE_REASON_MAX * 4];
    int64_t since = 0, until = 0;
    uint32_t i;

    if (s == NULL) {
        (void)buf_append_str(out, "mode=normal\n");
        return;
    }
    if (s->paused) {
        since = s->paused_since;
        why = s->pause_reason;
    } else if (s->retry_until > now_ms) {
        until = s->retry_until;
        why = s->retry_reason;
    } else {
        since = s->mode_since;
        why = s->mode_reason;
        if (s->mode == QM_BACKOFF)
            until = s->backoff_until;
    }
    fmt_time(t, sizeof(t), since);
    (void)buf_printf(out, "mode=%s  since=%s  conns=%u", mode, t, shaping_conns(q, now_ms));
    if (s->mode == QM_BACKOFF && strcmp(mode, "backoff") != 0)
        (void)buf_append_str(out, "  (backoff)");
    if (until) {
        fmt_time(u, sizeof(u), until);
        (void)buf_printf(out, "  until=%s", u);
    }
    for (i = 0; i < s->ndisabled; i++) {
        log_escape(esc, sizeof(esc), s->disabled[i].ip, strlen(s->disabled[i].ip));
        (void)buf_printf(out, "  disabled-ip=%s", esc);
    }
    for (i = 0; i < s->nskipmx; i++)
        if (s->skipmx[i].until > now_ms) {
            fmt_time(u, sizeof(u), s->skipmx[i].until);
            (void)buf_printf(out, "  skip-mx=%s(until %s)", s->skipmx[i].host, u);
        }
    if (why[0]) {
        log_escape(esc, sizeof(esc), why, strlen(why));
        (void)buf_printf(out, "  reason=\"%s\"", esc);
    }
    (void)buf_append_str(out, "\n");
}

struct status_ctx {
    int64_t now;
    uint64_t held;
    unsigned paused, backoff, retry;
};

static void status_cb(void *val, void *arg)
{
    struct queue *q = val;
    struct status_ctx *c = arg;

    if (q->shape == NULL)
        return;
    if (q->shape->paused) {
        c->paused++;
        c->held += q->nready + q->nwait;
    }
    if (q->shape->mode == QM_BACKOFF)
        c->backoff++;
    if (q->shape->retry_until > c->now)
        c->retry++;
}

void shaping_status(struct qmgr *m, int64_t now_ms, struct buf *out)
{
    struct status_ctx c = { .now = now_ms };

    hmap_each(&m->queues, status_cb, &c);
    (void)buf_printf(out, "recipients held (paused queues): %llu\n"
                     "queues paused: %u, in backoff: %u, waiting to retry: %u\n",
                     (unsigned long long)c.held, c.paused, c.backoff, c.retry);
}
