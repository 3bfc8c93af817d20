/*
 * show_message - `mtactl show message QUEUE-ID`: one queued message's
 * routing decision and its recipients' state (issue 3).
 *
 * The decision has two parts: the name smtpd chose at injection and wrote
 * in the spool envelope (X-Virtual-MTA, pattern list or <source> default:
 * smtpd's log line for the queue id says which, "vmta=NAME (why)"), or
 * none, in which case qmgr used the global default; then the pool member
 * qmgr picked and each recipient's queue (domain/vmta, queue-to, rollup).
 * Everything printed that came from outside (addresses, helo, ids) is
 * escaped; at most SHOW_RCPTS_MAX recipients are listed.
 */
#include <stdio.h>
#include <string.h>
#include "acct.h"
#include "log.h"
#include "qmgr.h"

#define SHOW_RCPTS_MAX 200

static const char *const state_names[] = {
    [RS_NEW] = "new", [RS_READY] = "ready", [RS_WAIT] = "waiting",
    [RS_INFLIGHT] = "in flight", [RS_DELIVERED] = "delivered", [RS_BOUNCED] = "bounced",
};

/* esc - log_escape into one of a few static buffers ("" for NULL). */
static const char *esc(const char *s)
{
    static char b[4][1024];
    static int k;
    char *o = b[k++ & 3];

    if (s == NULL)
        return "";
    return log_escape(o, sizeof(b[0]), s, strlen(s));
}

int show_message(struct qmgr *m, const char *qid, struct buf *out)
{
    const struct qmsg *msg = hmap_get(&m->msgs, qid);
    const struct spool_envelope *e;
    char t[64];
    uint32_t i;

    if (msg == NULL) {
        (void)buf_printf(out, "qmgr: no queued message %s (delivered, bounced or unknown)\n",
                         esc(qid));
        return 1;
    }
    e = &msg->env;
    acct_format_time((int64_t)e->time_queued, t, sizeof(t));
    (void)buf_printf(out, "message %s\n  queued:    %s, %llu bytes, from <%s>\n", msg->qid, t,
                     (unsigned long long)msg->size, esc(e->mail_from));
    (void)buf_printf(out, "  client:    %s [%s] on %s, <source %s>\n", esc(e->client_helo),
                     esc(e->client_ip), esc(e->listener), esc(e->source));
    if (e->vmta != NULL && e->vmta[0] != '\0')
        (void)buf_printf(out, "  routing:   '%s' named at injection (smtpd's log line for this "
                         "id gives the reason)\n", esc(e->vmta));
    else
        (void)buf_printf(out, "  routing:   none named at injection: %s\n",
                         m->cfg && m->cfg->default_vmta[0] ? "the global default-virtual-mta"
                         : "{default}");
    (void)buf_printf(out, "  vmta:      %s", esc(msg->vmta));
    if (msg->pool != NULL)
        (void)buf_printf(out, " (member of pool %s)", esc(msg->pool));
    (void)buf_printf(out, "\n  job:       %s\n  envid:     %s\n", e->job_id ? esc(e->job_id) : "-",
                     e->envid ? esc(e->envid) : "-");
    (void)buf_printf(out, "  recipients: %u, %u not final\n", e->nrcpt, msg->nleft);
    for (i = 0; i < e->nrcpt && i < SHOW_RCPTS_MAX; i++) {
        const struct qrcpt *r = &msg->r[i];
        (void)buf_printf(out, "    <%s>  queue=%s  %s  attempts=%u", esc(e->rcpts[i].addr),
                         r->q ? esc(r->q->name) : "-",
                         r->state < sizeof(state_names) / sizeof(state_names[0])
                         ? state_names[r->state] : "?", r->attempts);
        if (r->state == RS_WAIT && r->tn.key > 0) {
            acct_format_time(r->tn.key / 1000, t, sizeof(t));
            (void)buf_printf(out, "  next=%s", t);
        }
        (void)buf_append_str(out, "\n");
    }
    if (e->nrcpt > SHOW_RCPTS_MAX)
        (void)buf_printf(out, "    ... and %u more\n", e->nrcpt - SHOW_RCPTS_MAX);
    return 0;
}
