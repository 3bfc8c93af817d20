/*
 * job - a delivery job's end: its RESULT to qmgr (one entry per
 * recipient), the log line per recipient, and the bookkeeping of jobs in
 * flight.  Kept apart from main.c so unit tests can link client and pool
 * code without the daemon's main().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ipc_conn.h"
#include "log.h"
#include "smtp_out.h"

struct job_ctx job_ctx;

const char *job_spool_dir(void)
{
    return job_ctx.spool_dir;
}

static void qmgr_send_result(const struct msg_result *res)
{
    struct buf b;

    buf_init(&b, IPC_MAX_PAYLOAD + IPC_HDR_LEN);
    if (msg_result_encode(&b, res) < 0)
        msg_error("job %llu: RESULT does not fit in a frame", (unsigned long long)res->job_id);
    else if (ipc_conn_send(job_ctx.qmgr, &b) < 0)
        msg_warn("job %llu: cannot queue RESULT to qmgr", (unsigned long long)res->job_id);
    buf_free(&b);
}

void job_finish(struct so_job *j, struct msg_result *res)
{
    uint32_t i;
    char text[256];

    for (i = 0; i < res->nrcpt; i++) {
        log_escape(text, sizeof(text), res->rcpts[i].text, strlen(res->rcpts[i].text));
        msg_info("%s: to=<%s> job=%llu relay=%s[%s] code=%u status=%s%s: %s",
                 j->d.queue_id, j->d.rcpts[i].addr, (unsigned long long)j->d.job_id,
                 res->remote_mx, res->remote_ip, res->rcpts[i].code, res->rcpts[i].status,
                 res->local ? " (local)" : "", text);
    }
    res->nrefused = j->nrefused;
    res->refused = j->refused;
    if (job_ctx.qmgr != NULL && j->gen == job_ctx.gen && !ipc_conn_closing(job_ctx.qmgr))
        qmgr_send_result(res);
    res->nrefused = 0;
    res->refused = NULL;
    for (i = 0; i < j->nrefused; i++) {
        free(j->refused[i].mx);
        free(j->refused[i].reply);
    }
    free(j->refused);
    job_ctx.inflight--;
    msg_deliver_free(&j->d);
    free(j->dkim_hdr);
    free(j);
}

void job_fail_local(struct so_job *j, int code, const char *status, const char *text,
                    const char *remote_mx, const char *remote_ip)
{
    struct msg_result res;
    struct result_rcpt *rr = calloc(j->d.nrcpt ? j->d.nrcpt : 1, sizeof(*rr));
    char *full = malloc(strlen(status) + strlen(text) + 2);
    uint32_t i;

    if (rr == NULL || full == NULL)
        msg_fatal("smtp-out: out of memory");
    sprintf(full, "%s %s", status, text);
    memset(&res, 0, sizeof(res));
    res.job_id = j->d.job_id;
    res.local = 1;
    res.remote_mx = (char *)remote_mx;
    res.remote_ip = (char *)remote_ip;
    res.source_ip = (char *)"";
    res.esmtp_ext = (char *)"";
    res.nrcpt = j->d.nrcpt;
    res.rcpts = rr;
    for (i = 0; i < j->d.nrcpt; i++) {
        rr[i].index = j->d.rcpts[i].index;
        rr[i].code = (uint32_t)code;
        snprintf(rr[i].status, sizeof(rr[i].status), "%s", status);
        rr[i].text = full;
    }
    job_finish(j, &res);
    free(full);
    free(rr);
}

/* A job we will not run: answer at once without counting it in flight. */
void job_refuse(struct msg_deliver *d, const char *why)
{
    struct so_job *j = calloc(1, sizeof(*j));

    if (j == NULL)
        msg_fatal("smtp-out: out of memory");
    j->d = *d;
    j->gen = job_ctx.gen;
    job_ctx.inflight++;
    job_fail_local(j, 451, "4.3.2", why, "", "");
}

