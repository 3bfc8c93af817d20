/*
 * route_vmta - the injection-time routing decision of a message (issue 3;
 * docs/routing.md), made once the whole message is in: which virtual MTA
 * or pool it goes through, and its job id.  Precedence, as PowerMTA's
 * (notes §2.1):
 *   1. the X-Virtual-MTA header, if the source has process-x-virtual-mta;
 *      an unknown name goes to invalid-virtual-mta-fallback if set, else
 *      is refused (reject-invalid-virtual-mta, default yes: 550 5.7.1),
 *      else (reject-invalid-virtual-mta no) the header is ignored;
 *   2. the first matching rule of the source's <pattern-list>;
 *   3. default-virtual-mta of the merged <source> settings (the listener's
 *      named source is merged last, so it beats the client's IP source);
 *      `by-smtp-source-ip` = the vmta whose smtp-source-host is the local
 *      address the client connected to;
 *   4. the global default-virtual-mta (else qmgr's {default}).
 * The name is written into the spool envelope (qmgr resolves a pool to a
 * member) and logged with the reason.  X-Virtual-MTA and the job-id
 * header are removed from the message unless retain-x-virtual-mta /
 * retain-x-job: they are instructions to us, not to the recipient.
 *
 * route_decide is a pure function on its inputs (unit-tested); route_
 * session applies it to a session at the end of DATA.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "log.h"
#include "smtpd.h"
#include "route_vmta.h"

#define ROUTE_CUTS_MAX 32       /* headers removed per message; more stay */

/* printable - v with anything but graphic ASCII replaced by '?' (it goes
 * into an SMTP reply and a log line). */
static void printable(char *out, size_t outlen, const char *v)
{
    size_t i;

    for (i = 0; v[i] != '\0' && i + 1 < outlen; i++)
        out[i] = isgraph((unsigned char)v[i]) ? v[i] : '?';
    if (outlen > 0)
        out[i < outlen ? i : outlen - 1] = '\0';
}

/* job_ok - a job id: one token of graphic ASCII (PowerMTA: no blanks). */
static int job_ok(const char *v)
{
    size_t i;

    for (i = 0; v[i] != '\0'; i++)
        if (!isgraph((unsigned char)v[i]) || v[i] == ',')
            return 0;
    return i > 0;
}

static int name_is(const struct pl_header *h, const char *name)
{
    size_t n = strlen(name);

    return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

/* vmta_by_ip - the first vmta with an smtp-source-host equal to ip. */
static const char *vmta_by_ip(const struct config *cfg, const char *ip)
{
    unsigned char want[16], have[16];
    int fam = ip != NULL && strchr(ip, ':') ? AF_INET6 : AF_INET;
    size_t i, k, len = fam == AF_INET6 ? 16 : 4;

    if (ip == NULL || inet_pton(fam, ip, want) != 1)
        return NULL;
    for (i = 0; i < cfg->nvmtas; i++)
        for (k = 0; k < cfg->vmtas[i].nhosts; k++)
            if (inet_pton(fam, cfg->vmtas[i].hosts[k].ip, have) == 1
                && memcmp(want, have, len) == 0)
                return cfg->vmtas[i].name;
    return NULL;
}

int route_decide(const struct route_input *in, struct route_decision *out)
{
    const struct cfg_source_settings *set = in->set;
    const struct config *cfg = in->cfg;
    struct pl_header h;
    struct { size_t start, len; } cuts[ROUTE_CUTS_MAX];
    size_t ncuts = 0, off = in->hdr_off, i;
    char xvmta[CFG_NAME_MAX] = "", esc[CFG_NAME_MAX];
    int have_xvmta = 0, have_job = 0;
    const char *hdrs = in->msg->data ? in->msg->data : "";
    size_t hlen = in->msg->len;

    memset(out, 0, sizeof(*out));
    /* 1. the headers we act on (no walk at all when none is processed) */
    while ((set->process_x_virtual_mta || set->process_x_job || set->process_x_envid)
           && pattern_list_next_header(hdrs, hlen, &off, &h)) {
        int cut = 0;
        if (set->process_x_virtual_mta && name_is(&h, "x-virtual-mta")) {
            if (!have_xvmta && pattern_list_unfold(h.value, h.value_len, xvmta,
                                                   sizeof(xvmta)) < 0)
                snprintf(xvmta, sizeof(xvmta), "(too long)");
            have_xvmta = 1;
            cut = !set->retain_x_virtual_mta;
        } else if (set->process_x_envid && name_is(&h, "x-envid")) {
            if (out->envid[0] == '\0' && (pattern_list_unfold(h.value, h.value_len, out->envid,
                                                             sizeof(out->envid)) < 0
                                          || !job_ok(out->envid)))
                out->envid[0] = '\0';       /* too long or not one token: none */
            cut = 1;
        } else if (set->process_x_job && name_is(&h, set->jobid_header)) {
            if (!have_job && (pattern_list_unfold(h.value, h.value_len, out->job_id,
                                                  sizeof(out->job_id)) < 0
                              || !job_ok(out->job_id)))
                out->job_id[0] = '\0';      /* not a usable id: none */
            have_job = 1;
            cut = !set->retain_x_job;
        }
        if (cut && ncuts < ROUTE_CUTS_MAX) {
            cuts[ncuts].start = h.start;
            cuts[ncuts++].len = h.len;
        }
    }
    if (have_xvmta && xvmta[0] == '\0' && set->allow_empty_x_virtual_mta)
        snprintf(xvmta, sizeof(xvmta), "{default}");
    if (have_xvmta) {
        printable(esc, sizeof(esc), xvmta);
        if (xvmta[0] != '\0' && config_vmta_exists(cfg, xvmta)) {
            snprintf(out->vmta, sizeof(out->vmta), "%s", xvmta);
            snprintf(out->why, sizeof(out->why), "X-Virtual-MTA header");
        } else if (cfg->invalid_vmta_fallback[0] != '\0') {
            snprintf(out->vmta, sizeof(out->vmta), "%s", cfg->invalid_vmta_fallback);
            snprintf(out->why, sizeof(out->why),
                     "invalid-virtual-mta-fallback (X-Virtual-MTA '%s' is unknown)", esc);
        } else if (set->reject_invalid_virtual_mta) {
            snprintf(out->reject, sizeof(out->reject),
                     "550 5.7.1 Unknown virtual MTA in X-Virtual-MTA header: '%s'", esc);
            return -1;
        }
        /* else: reject-invalid-virtual-mta no: as if there were no header */
    }
    /* 2. the source's pattern list */
    if (out->vmta[0] == '\0' && set->pattern_list[0] != '\0') {
        const struct pattern_list *pl = config_find_pattern_list(cfg, set->pattern_list);
        struct pl_subject subj = { in->mail_from, in->rcpts, in->nrcpts,
                                   hdrs + in->hdr_off, hlen - in->hdr_off };
        const struct pl_rule *r = pattern_list_match(pl, &subj);
        if (r != NULL) {
            snprintf(out->vmta, sizeof(out->vmta), "%s", r->vmta);
            snprintf(out->why, sizeof(out->why), "pattern-list %s, rule at line %d",
                     pl->name, r->line);
        }
    }
    /* 3. the merged <source> default (by-smtp-source-ip: no vmta has the
     * local address as its source: on to the global default) */
    if (out->vmta[0] == '\0' && strcmp(set->default_vmta, "by-smtp-source-ip") == 0) {
        const char *v = vmta_by_ip(cfg, in->local_ip);
        if (v != NULL) {
            snprintf(out->vmta, sizeof(out->vmta), "%s", v);
            snprintf(out->why, sizeof(out->why), "by-smtp-source-ip %s (<source %s>)",
                     in->local_ip, in->source_name && in->source_name[0] ? in->source_name : "?");
        }
    } else if (out->vmta[0] == '\0' && set->default_vmta[0] != '\0') {
        snprintf(out->vmta, sizeof(out->vmta), "%s", set->default_vmta);
        snprintf(out->why, sizeof(out->why), "default-virtual-mta of <source %s>",
                 in->source_name && in->source_name[0] ? in->source_name : "?");
    }
    /* 4. the global default */
    if (out->vmta[0] == '\0' && cfg->default_vmta[0] != '\0') {
        snprintf(out->vmta, sizeof(out->vmta), "%s", cfg->default_vmta);
        snprintf(out->why, sizeof(out->why), "global default-virtual-mta");
    } else if (out->vmta[0] == '\0') {
        snprintf(out->why, sizeof(out->why), "no virtual MTA configured: {default}");
    }
    /* remove the instruction headers, last first so offsets stay valid */
    for (i = ncuts; i-- > 0;) {
        char *d = in->msg->data;
        memmove(d + cuts[i].start, d + cuts[i].start + cuts[i].len,
                in->msg->len - cuts[i].start - cuts[i].len);
        in->msg->len -= cuts[i].len;
        d[in->msg->len] = '\0';
    }
    return 0;
}

/* local_ip - the address the client connected to; IPv4-mapped IPv6 is
 * written as IPv4 (smtp-source-host lists plain IPv4). */
static const char *local_ip(struct session *s, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    const void *a;
    int fam;

    if (uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &len) != 0)
        return NULL;
    if (ss.ss_family == AF_INET) {
        fam = AF_INET;
        a = &((struct sockaddr_in *)&ss)->sin_addr;
    } else {
        const struct in6_addr *a6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        fam = IN6_IS_ADDR_V4MAPPED(a6) ? AF_INET : AF_INET6;
        a = fam == AF_INET ? (const void *)&a6->s6_addr[12] : (const void *)a6;
    }
    return inet_ntop(fam, a, out, (socklen_t)outlen);
}

int route_session(struct session *s, char *reply, size_t replylen)
{
    const char *rcpts[SMTPD_ROUTE_RCPTS_MAX];
    struct route_input in;
    struct route_decision d;
    char esc[CFG_NAME_MAX * 4], lip[64];
    uint32_t i, n = s->nrcpt < SMTPD_ROUTE_RCPTS_MAX ? s->nrcpt : SMTPD_ROUTE_RCPTS_MAX;

    for (i = 0; i < n; i++)
        rcpts[i] = s->rcpts[i].addr;
    memset(&in, 0, sizeof(in));
    in.cfg = s->cfg->cfg;
    in.set = &s->set;
    in.source_name = s->source;
    in.mail_from = s->mail.addr;
    in.rcpts = rcpts;
    in.nrcpts = n;
    in.msg = &s->msg;
    in.hdr_off = s->msg_hdr_len;
    in.local_ip = local_ip(s, lip, sizeof(lip));
    if (route_decide(&in, &d) < 0) {
        msg_info("%s: refused: %s client=%s", s->qid, d.reject, s->client_ip);
        snprintf(reply, replylen, "%s", d.reject);
        return -1;
    }
    snprintf(s->route_vmta, sizeof(s->route_vmta), "%s", d.vmta);
    snprintf(s->job_id, sizeof(s->job_id), "%s", d.job_id);
    snprintf(s->x_envid, sizeof(s->x_envid), "%s", d.envid);
    /* logged with the message's one "queued" line (session.c) */
    log_escape(esc, sizeof(esc), d.job_id, strlen(d.job_id));
    snprintf(s->route_why, sizeof(s->route_why), "vmta=%s (%s)%s%s",
             d.vmta[0] ? d.vmta : "{default}", d.why, d.job_id[0] ? " job=" : "", esc);
    return 0;
}
