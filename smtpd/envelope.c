/*
 * envelope - what a finished transaction records: the Received: header
 * put in front of the message (RFC 5321 4.4) when DATA starts, and the
 * spool envelope handed to spool_commit.
 *
 * The envelope borrows the session's strings (nothing is copied; the
 * session outlives the commit), so it must never be passed to
 * spool_envelope_free.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "smtpd.h"

/* envelope_date - RFC 5322 date-time in UTC, C locale names. */
static void envelope_date(char *out, size_t outlen)
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const mons[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    time_t now = time(NULL);
    struct tm tm;

    if (gmtime_r(&now, &tm) == NULL) {
        snprintf(out, outlen, "Thu, 01 Jan 1970 00:00:00 +0000");
        return;
    }
    snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
             tm.tm_mday, mons[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
}

/* envelope_received - start s->msg with our trace header; sets
 * msg_hdr_len.  Names only the recipient of a single-recipient message
 * (the others must not learn who else got it). */
int envelope_received(struct session *s)
{
    char date[64], forpart[CMD_PATH_MAX + 16] = "";
    const char *v6 = strchr(s->client_ip, ':') ? "IPv6:" : "";

    s->msg_hdr_len = 0;
    if (!s->set.add_received_header)
        return 0;
    envelope_date(date, sizeof(date));
    if (s->nrcpt == 1)
        snprintf(forpart, sizeof(forpart), "\r\n\tfor <%s>", s->rcpts[0].addr);
    if (buf_printf(&s->msg, "Received: from %s ([%s%s])\r\n\tby %s (Courser) with %s id %s%s;"
                   "\r\n\t%s\r\n", s->helo, v6, s->client_ip, s->cfg->cfg->host_name,
                   s->esmtp ? "ESMTP" : "SMTP", s->qid, forpart, date) < 0)
        return -1;
    s->msg_hdr_len = s->msg.len;
    return 0;
}

void envelope_build(struct session *s)
{
    struct spool_envelope *e = &s->env;
    const char *vmta = s->route_vmta;   /* route_session decided */

    memset(e, 0, sizeof(*e));
    memcpy(e->queue_id, s->qid, sizeof(e->queue_id));
    e->time_queued = (uint64_t)time(NULL);
    e->client_ip = s->client_ip;
    e->client_helo = s->helo;
    e->listener = s->listener;
    e->source = s->source;
    e->vmta = vmta[0] != '\0' ? (char *)vmta : NULL;
    e->job_id = s->job_id[0] != '\0' ? s->job_id : NULL;
    e->mail_from = s->mail.addr;
    e->envid = s->mail.has_envid ? s->mail.envid : s->x_envid[0] != '\0' ? s->x_envid : NULL;
    e->ret = (uint32_t)s->mail.ret;
    e->body_8bit = (uint32_t)s->mail.body_8bit;
    e->nrcpt = s->nrcpt;
    e->rcpts = s->rcpts;
}
