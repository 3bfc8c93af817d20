/*
 * result - applying a RESULT from smtp-out to each recipient of its job:
 * 2xx final delivered (acct d), 5xx final bounced (acct b), 4xx deferred
 * (acct t) with the next attempt from the queue's retry-after list, or
 * bounced as expired (acct b, bounceCat message-expired) once
 * bounce-after has passed or max-smtp-retries attempts were made.
 * Each final or deferred recipient's accounting record (and, for a
 * bounce, its BOUNCE) is queued first, which journals it (acct_client.c,
 * bounce_client.c), and only then is the new state journaled: in the
 * append-only journal the record always precedes the state, so after a
 * kill -9 a recipient is at worst delivered twice, and a state that
 * survived always has its record replayed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bounce_client.h"
#include "bounce_status.h"
#include "log.h"
#include "qmgr.h"
#include "shaping.h"
#include "smtp_patterns.h"

#define EXPIRED_STATUS "4.4.7"

static int set_fmt(struct acct_record *a, enum acct_field f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_fmt(struct acct_record *a, enum acct_field f, const char *fmt, ...)
{
    char tmp[PROTO_TEXT_MAX + 64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    return acct_set(a, f, tmp);
}

static int nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

int result_acct_fill(struct acct_record *a, const struct qrcpt *r, const char *type,
                     const char *action, const char *status, const char *diag,
                     const struct msg_result *res, int64_t now_ms)
{
    const struct qmsg *msg = r->msg;
    const struct spool_rcpt *sr = &msg->env.rcpts[r->index];
    char t[64];
    int rc = 0;
    long long queued = (long long)msg->env.time_queued, now = now_ms / 1000;

    memset(a, 0, sizeof(*a));
    rc |= acct_set(a, AF_TYPE, type);
    acct_format_time(now, t, sizeof(t));
    rc |= acct_set(a, AF_TIME_LOGGED, t);
    acct_format_time(queued, t, sizeof(t));
    rc |= acct_set(a, AF_TIME_QUEUED, t);
    rc |= acct_set(a, AF_ORIG, msg->env.mail_from ? msg->env.mail_from : "");
    rc |= acct_set(a, AF_RCPT, sr->addr);
    if (nonempty(sr->orcpt))
        rc |= acct_set(a, AF_ORCPT, sr->orcpt);
    rc |= acct_set(a, AF_DSN_ACTION, action);
    rc |= set_fmt(a, AF_DSN_STATUS, "%s (%s)", status, bounce_status_text(status));
    rc |= set_fmt(a, AF_DSN_DIAG, "smtp;%s", diag);
    if (res && nonempty(res->remote_mx))
        rc |= set_fmt(a, AF_DSN_MTA, "%s (%s)", res->remote_mx,
                      res->remote_ip ? res->remote_ip : "");
    if (type[0] == 'b' || type[0] == 't')
        rc |= acct_set(a, AF_BOUNCE_CAT, bounce_status_category(status));
    rc |= acct_set(a, AF_SRC_TYPE, "smtp");
    rc |= set_fmt(a, AF_SRC_MTA, "%s (%s)", msg->env.client_helo ? msg->env.client_helo : "",
                  msg->env.client_ip ? msg->env.client_ip : "");
    rc |= acct_set(a, AF_DLV_TYPE, "smtp");
    if (res && nonempty(res->source_ip))
        rc |= acct_set(a, AF_DLV_SOURCE_IP, res->source_ip);
    if (res && nonempty(res->remote_ip))
        rc |= acct_set(a, AF_DLV_DESTINATION_IP, res->remote_ip);
    if (res && res->esmtp)
        rc |= acct_set(a, AF_DLV_ESMTP_AVAILABLE, nonempty(res->esmtp_ext) ? res->esmtp_ext : "");
    rc |= set_fmt(a, AF_DLV_SIZE, "%llu", (unsigned long long)msg->size);
    /* the vmta it left through: warmup-overflow-virtual-mta may have
     * moved it from the message's */
    rc |= acct_set(a, AF_VMTA, r->q && r->q->vmta ? r->q->vmta : msg->vmta);
    if (msg->pool)
        rc |= acct_set(a, AF_VMTA_POOL, msg->pool);
    if (nonempty(msg->env.job_id))
        rc |= acct_set(a, AF_JOB_ID, msg->env.job_id);
    if (nonempty(msg->env.envid))
        rc |= acct_set(a, AF_ENV_ID, msg->env.envid);
    if (r->q)
        rc |= acct_set(a, AF_QUEUE, r->q->name);
    rc |= acct_set(a, AF_QUEUE_ID, msg->qid);
    rc |= set_fmt(a, AF_TOTAL_SECONDS_QUEUED, "%lld", now > queued ? now - queued : 0);
    return rc ? -1 : 0;
}

static void result_emit(struct qmgr *m, const struct qrcpt *r, const char *type,
                        const char *action, const char *status, const char *diag,
                        const struct msg_result *res, int64_t now_ms)
{
    struct acct_record a;

    if (result_acct_fill(&a, r, type, action, status, diag, res, now_ms) < 0)
        msg_warn("%s: out of memory building an accounting record", r->msg->qid);
    else if (m->emit_acct)
        m->emit_acct(m, &a);
    acct_record_free(&a);
}

/* result_final - r is delivered or bounced for good. */
static void result_final(struct qmgr *m, struct qrcpt *r, int state)
{
    rcpt_detach(m, r);
    r->state = (uint8_t)state;
    message_rcpt_final(m, r);
    journal_rcpt(m, r, 0);
    if (state == RS_DELIVERED)
        m->st.delivered++;
    else
        m->st.bounced++;
}

void result_expire(struct qmgr *m, struct qrcpt *r, int64_t now_ms, const char *why)
{
    char diag[256];

    snprintf(diag, sizeof(diag), "421 %s %s (%u attempts)", EXPIRED_STATUS,
             why ? why : "delivery time expired", r->attempts);
    {
        struct acct_record a;

        if (result_acct_fill(&a, r, "b", "failed", EXPIRED_STATUS, diag, NULL, now_ms) == 0
            && acct_set(&a, AF_BOUNCE_CAT, "message-expired") == 0 && m->emit_acct)
            m->emit_acct(m, &a);
        acct_record_free(&a);
    }
    result_final(m, r, RS_BOUNCED);
}

void result_bounce_local(struct qmgr *m, struct qrcpt *r, int64_t now_ms,
                         const char *status, const char *diag)
{
    result_emit(m, r, "b", "failed", status, diag, NULL, now_ms);
    result_final(m, r, RS_BOUNCED);
}

/* result_diag - "CODE TEXT", without repeating a code the text starts with. */
static void result_diag(char *out, size_t outlen, const struct result_rcpt *rr)
{
    const char *t = rr->text ? rr->text : "";
    char code[8];

    snprintf(code, sizeof(code), "%03u", rr->code % 1000);
    if (strncmp(t, code, 3) == 0 && (t[3] == ' ' || t[3] == '-' || t[3] == '\0'))
        snprintf(out, outlen, "%s", t);
    else
        snprintf(out, outlen, "%s %s", code, t);
}

/* result_transient - a 4xx for r: defer it, or bounce it when out of time
 * or attempts. */
static void result_transient(struct qmgr *m, struct qrcpt *r, const char *status,
                             const char *diag, const struct msg_result *res,
                             int rcpt_level, int64_t now_ms)
{
    const struct cfg_domain_settings *s = &r->q->s;
    int64_t next;

    if (r->attempts < UINT16_MAX)
        r->attempts++;
    if ((r->flags & RF_EXPIRE) || now_ms >= rcpt_expiry_ms(r)) {
        result_expire(m, r, now_ms, NULL);
        return;
    }
    if (s->max_smtp_retries && r->attempts >= s->max_smtp_retries) {
        struct acct_record a;

        if (result_acct_fill(&a, r, "b", "failed", status, diag, res, now_ms) == 0
            && acct_set(&a, AF_BOUNCE_CAT, "message-expired") == 0 && m->emit_acct)
            m->emit_acct(m, &a);
        acct_record_free(&a);
        result_final(m, r, RS_BOUNCED);
        return;
    }
    next = now_ms + schedule_jitter(1000LL * shaping_retry_delay(r->q, r->attempts, rcpt_level,
                                        res && res->local && strcmp(status, "4.4.3") == 0),
                                    m->random ? m->random(m) : (uint32_t)random());
    result_emit(m, r, "t", "delayed", status, diag, res, now_ms);
    schedule_wait(m, r, next);
    journal_rcpt(m, r, next);
    m->st.deferred++;
    bounce_client_delay(m, r, status, diag, res ? res->remote_mx : NULL, now_ms);  /* NOTIFY=DELAY */
}

static int result_rcpt_level(const struct msg_result *res, const struct result_rcpt *rr,
                             const char *status);

/* result_skip_mx - r's reply matched a skip-mx rule: a transient failure
 * (t record) retried now rather than after retry-after. */
static void result_skip_mx(struct qmgr *m, struct qrcpt *r, const char *status,
                           const char *diag, const struct msg_result *res, int64_t now_ms)
{
    char st[16];

    if (r->attempts < UINT16_MAX)
        r->attempts++;
    if ((r->flags & RF_EXPIRE) || now_ms >= rcpt_expiry_ms(r)) {
        result_expire(m, r, now_ms, NULL);
        return;
    }
    /* a 5xx that skip-mx keeps queued is reported as what it is for now */
    snprintf(st, sizeof(st), "%s", status);
    if (st[0] == '5')
        st[0] = '4';
    schedule_wait(m, r, now_ms);
    journal_rcpt(m, r, now_ms);
    m->st.deferred++;
    result_emit(m, r, "t", "delayed", st, diag, res, now_ms);
}

/* result_one - apply one recipient's reply; rcpt_level < 0: decide from
 * the result (see result_rcpt_level). */
static void result_one(struct qmgr *m, struct qrcpt *r, const struct result_rcpt *rr,
                       const struct msg_result *res, int rcpt_level, int64_t now_ms)
{
    char status[16], diag[PROTO_TEXT_MAX + 16];
    unsigned act = 0;

    if (rr->status[0])
        snprintf(status, sizeof(status), "%s", rr->status);
    else
        bounce_status_extract((int)rr->code, rr->text ? rr->text : "", status, sizeof(status));
    result_diag(diag, sizeof(diag), rr);
    if (rcpt_level < 0)
        rcpt_level = result_rcpt_level(res, rr, status);
    /* the queue's smtp-pattern-list acts on what the remote side said */
    if (!res->local && r->q)
        act = backoff_on_reply(m, r->q, diag, res->source_ip, now_ms);
    if ((act & SPA_BOUNCE_RCPT) && rr->code >= 400 && rr->code < 500 && rcpt_level) {
        result_emit(m, r, "b", "failed", status, diag, res, now_ms);
        result_final(m, r, RS_BOUNCED);
        return;
    }
    if ((r->flags & RF_DELETE) && (rr->code < 200 || rr->code >= 300)) {
        result_bounce_local(m, r, now_ms, "5.0.0", "550 5.0.0 deleted by administrator");
        return;
    }
    /* skip-mx: even a 5xx keeps the mail queued; it goes again at once,
     * to an MX host the queue does not avoid (skipmx.c) */
    if ((act & SPA_SKIP_MX) && rr->code >= 400 && res->remote_mx
        && skipmx_add(r->q, res->remote_mx, now_ms) == 0) {
        result_skip_mx(m, r, status, diag, res, now_ms);
        return;
    }
    if (rr->code >= 200 && rr->code < 300) {
        result_emit(m, r, "d", "delivered", status, diag, res, now_ms);
        result_final(m, r, RS_DELIVERED);
    } else if (rr->code >= 500 && rr->code < 600) {
        result_emit(m, r, "b", "failed", status, diag, res, now_ms);
        result_final(m, r, RS_BOUNCED);
    } else {
        result_transient(m, r, status, diag, res, rcpt_level, now_ms);
    }
}

/* result_rcpt_level - whether the 4xx replies are about recipients (RCPT
 * refused while the transaction went on) rather than the connection or
 * the message: some recipients fared differently, or the status names an
 * address or mailbox problem (X.1.x, X.2.x). */
static int result_rcpt_level(const struct msg_result *res, const struct result_rcpt *rr,
                             const char *status)
{
    uint32_t i;

    if (res->local)
        return 0;
    if (status[0] && (strncmp(status + 1, ".1.", 3) == 0 || strncmp(status + 1, ".2.", 3) == 0))
        return 1;
    for (i = 0; i < res->nrcpt; i++)
        if (res->rcpts[i].code / 100 != rr->code / 100)
            return 1;
    return 0;
}

static struct qrcpt *job_rcpt(struct job *j, uint32_t hint, uint32_t index)
{
    uint32_t i;

    if (hint < j->nrcpt && j->rcpts[hint]->index == index)
        return j->rcpts[hint];
    for (i = 0; i < j->nrcpt; i++)
        if (j->rcpts[i]->index == index)
            return j->rcpts[i];
    return NULL;
}

int result_apply(struct qmgr *m, struct worker *w, const struct msg_result *res, int64_t now_ms)
{
    struct job *j = worker_find_job(w, res->job_id);
    struct qmsg *msg;
    struct result_rcpt missing;
    uint32_t i;
    int reusable;

    if (j == NULL)
        return -1;
    msg = j->m;
    skipmx_refusals(m, j->q, res, now_ms);
    backoff_on_result(m, j->q, res, now_ms);
    for (i = 0; i < res->nrcpt; i++) {
        struct qrcpt *r = job_rcpt(j, i, res->rcpts[i].index);

        if (r == NULL || r->state != RS_INFLIGHT) {
            msg_warn("job %llu: result for recipient %u that is not in the job",
                     (unsigned long long)j->id, res->rcpts[i].index);
            continue;
        }
        result_one(m, r, &res->rcpts[i], res, -1, now_ms);
    }
    /* a recipient the worker did not answer for: try it again later */
    memset(&missing, 0, sizeof(missing));
    missing.code = 451;
    snprintf(missing.status, sizeof(missing.status), "4.3.0");
    missing.text = (char *)"4.3.0 no result from smtp-out for this recipient";
    for (i = 0; i < j->nrcpt; i++)
        if (j->rcpts[i]->state == RS_INFLIGHT)
            result_one(m, j->rcpts[i], &missing, res, 0, now_ms);
    route_learn_mx(m, j->q, res->remote_mx);
    if (!res->local)
        connlimit_learn(m, j->q, res->remote_mx, res->remote_ip);
    /* smtp-out ends a connection after a local failure or a 421 */
    reusable = !res->local;
    for (i = 0; i < res->nrcpt; i++)
        if (res->rcpts[i].code == 421)
            reusable = 0;
    /* smtp-out keeps a connection to an MX host now skipped */
    if (reusable && skipmx_avoids(j->q, res->remote_mx, now_ms))
        reusable = 0;
    shaping_job_end(m, j, reusable, now_ms);
    job_free(m, j);
    if (m->jr)
        (void)journal_flush(m->jr);
    message_check_done(m, msg);
    return 0;
}
