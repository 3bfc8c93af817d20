/*
 * message - queued messages in memory: loading a spool file's envelope,
 * routing each recipient to its destination queue (route.c), putting
 * recipients on their queue or timer, and removing the message once
 * every recipient is final (journal "done", then the spool file).
 *
 * A message holds its queue id and envelope strings once; each recipient
 * is a compact struct qrcpt pointing at its address in the envelope.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "bounce_client.h"
#include "log.h"
#include "qmgr.h"

/* message_rcpt_domain - lower-cased part after the last '@', "" if none. */
const char *message_rcpt_domain(const char *addr, char *out, size_t outlen)
{
    const char *at = strrchr(addr, '@');
    size_t i, n;

    out[0] = '\0';
    if (at == NULL || outlen == 0)
        return out;
    n = strlen(at + 1);
    if (n >= outlen)
        return out;
    for (i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)at[1 + i]);
    out[n] = '\0';
    /* a trailing dot names the same domain (RFC 1034 absolute form) */
    if (n > 0 && out[n - 1] == '.')
        out[n - 1] = '\0';
    return out;
}

void message_free(struct qmsg *msg)
{
    if (msg == NULL)
        return;
    spool_envelope_free(&msg->env);
    free(msg->vmta);
    free(msg->pool);
    free(msg->r);
    free(msg);
}

struct qmsg *message_add(struct qmgr *m, struct spool_envelope *env, uint64_t size)
{
    struct qmsg *msg = calloc(1, sizeof(*msg));
    char domain[PROTO_NAME_MAX];
    uint32_t i;

    if (msg == NULL)
        return NULL;
    msg->env = *env;
    memset(env, 0, sizeof(*env));
    memcpy(msg->qid, msg->env.queue_id, QUEUE_ID_SIZE);
    msg->size = size;
    if (msg->env.nrcpt > 0)
        msg->r = calloc(msg->env.nrcpt, sizeof(*msg->r));
    if ((msg->env.nrcpt > 0 && msg->r == NULL) || route_message_vmta(m, msg) < 0)
        goto fail;
    for (i = 0; i < msg->env.nrcpt; i++) {
        struct qrcpt *r = &msg->r[i];

        r->msg = msg;
        r->index = i;
        r->tn.idx = HEAP_NONE;
        r->state = RS_NEW;
        message_rcpt_domain(msg->env.rcpts[i].addr, domain, sizeof(domain));
        /* no domain: left without a queue; message_schedule bounces it */
        if (domain[0]) {
            r->q = route_queue(m, domain, msg->vmta);
            if (r->q == NULL)
                goto fail;
        }
    }
    msg->nleft = msg->env.nrcpt;
    if (hmap_put(&m->msgs, msg->qid, msg) < 0)
        goto fail;
    m->nrcpt_queued += msg->nleft;
    return msg;
fail:
    message_free(msg);
    return NULL;
}

int message_load(struct qmgr *m, const char *spool_dir, const char *qid,
                 struct qmsg **out, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct spool_envelope env;
    uint64_t off, len;

    *out = hmap_get(&m->msgs, qid);
    if (*out)
        return 0;
    if (spool_msg_path(spool_dir, qid, path, sizeof(path)) < 0) {
        snprintf(err, errlen, "spool path too long");
        return -1;
    }
    memset(&env, 0, sizeof(env));
    if (spool_read(path, &env, &off, &len, err, errlen) < 0)
        return -1;
    if (strcmp(env.queue_id, qid) != 0) {
        snprintf(err, errlen, "envelope names queue id %s", env.queue_id);
        spool_envelope_free(&env);
        return -1;
    }
    *out = message_add(m, &env, len);
    if (*out == NULL) {
        spool_envelope_free(&env);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 1;
}

void message_schedule(struct qmgr *m, struct qmsg *msg, int64_t now_ms)
{
    uint32_t i;

    for (i = 0; i < msg->env.nrcpt; i++) {
        struct qrcpt *r = &msg->r[i];

        if (r->state != RS_NEW && r->state != RS_WAIT)
            continue;
        if (bounce_client_drop_suppressed(m, r, now_ms))
            continue;   /* on the suppression list: bounced, never delivered */
        if (r->q == NULL) {
            result_bounce_local(m, r, now_ms, "5.1.3", "550 5.1.3 recipient address has no domain");
            continue;
        }
        /* a WAIT restored from the journal carries its time in tn.key
         * and was never counted in its queue */
        if (r->state == RS_WAIT && r->tn.key > now_ms) {
            r->state = RS_NEW;
            schedule_wait(m, r, r->tn.key);
        } else {
            r->state = RS_NEW;
            schedule_ready(m, r);
        }
    }
    message_check_done(m, msg);
}

void message_rcpt_final(struct qmgr *m, struct qrcpt *r)
{
    if (r->tn.idx != HEAP_NONE)
        heap_remove(&m->timers, &r->tn);
    if (r->msg->nleft > 0)
        r->msg->nleft--;
    if (m->nrcpt_queued > 0)
        m->nrcpt_queued--;
}

/* message_check_done - when no recipient is left, journal "done", remove
 * the spool file and forget the message.  Callers must not touch msg or
 * its recipients afterwards. */
int message_check_done(struct qmgr *m, struct qmsg *msg)
{
    if (msg->nleft > 0 || m->loading)
        return 0;
    journal_done(m, msg);
    if (m->remove_spool)
        m->remove_spool(m, msg->qid);
    hmap_del(&m->msgs, msg->qid);
    message_free(msg);
    return 1;
}
