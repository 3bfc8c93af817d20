/*
 * inbound - mail smtpd took for a bounce-domain (SPOOL/inbound/ID): an
 * asynchronous bounce (DSN or a non-standard notice), an ARF/JMRP
 * complaint, or something else (an auto-reply: logged and dropped).
 * Runs on the thread pool.
 *
 * The original message is found from the VERP address the notice came to
 * (bounces+ID.HASH@bounce-domain, in the envelope first, then in the
 * To:/Delivered-To: headers); with a VERP key configured its HMAC must
 * verify, and a notice whose VERP address does not is a forgery: ignored
 * entirely (logged).  Next, a verified VERP address quoted in the body
 * (the attached original's Return-Path: how ARF and JMRP reports sent to
 * a fixed address map back).  Without VERP, our own Received: line in the
 * quoted original headers ("(Courser) with ESMTP id QUEUEID"), or an
 * X-Courser-Queue-Id header, gives the queue id (unverified).
 * Records: `rb` per failed recipient (`rs` for delayed/delivered/relayed
 * reports), `f` per complained-about recipient.  Suppressed: every
 * complainer, and hard-bounced recipients of a notice whose VERP verified
 * (or of any notice when no VERP key is configured): a forged DSN without
 * VERP must not be able to suppress an address.
 * Mail that came to a <bounce-processor>/<feedback-loop-processor>
 * address (rather than a plain bounce-domain) and is not recognised
 * (no DSN, ARF or JMRP: an auto-reply, a person) is forwarded unchanged
 * to its forward-unmatched-to addresses; a notice recognised but without
 * a recipient we could read to its forward-errors-to addresses.  The copy
 * is a new spool message with the null return path (a failure of it can
 * never come back here) announced to qmgr like a DSN; a forward address
 * that is itself a bounce address is skipped (it would loop).
 * A file that gave records is renamed inbound/.done-ID and removed once
 * acctd has acknowledged them (server.c); at start such files are put
 * back and processed again (at-least-once: records may repeat).  Other
 * files are removed once processed; one that cannot be read is removed
 * with an error (it would fail the same way forever).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "bounce_status.h"
#include "bounced.h"
#include "classify.h"
#include "log.h"
#include "pipe.h"
#include "report.h"
#include "spool.h"

#define INBOUND_MAX_MESSAGE (32u << 20)

struct inbound_orig {
    char id[128];
    int verp;                   /* a VERP address was present */
    int verified;               /* ... and its HMAC checked out */
};

/* inbound_verp_one - one candidate address: 1 verified/accepted, -1
 * forged, 0 not a VERP address. */
static int inbound_verp_one(struct bounced_ctx *c, const char *addr, struct inbound_orig *o)
{
    char id[64], hash[64];

    if (verp_sign_parse(addr, id, sizeof(id), hash, sizeof(hash)) < 0)
        return 0;
    o->verp = 1;
    if (c->key.len > 0 && !verp_sign_check(&c->key, id, hash))
        return -1;
    snprintf(o->id, sizeof(o->id), "%s", id);
    o->verified = c->key.len > 0;
    return 1;
}

/* inbound_header_values - To/Delivered-To/X-Original-To values of the
 * notice's own header block, checked as VERP candidates. */
static int inbound_verp_headers(struct bounced_ctx *c, const char *data, size_t len,
                                struct inbound_orig *o)
{
    static const char *const names[] = { "To:", "Delivered-To:", "X-Original-To:", "Envelope-To:" };
    const char *p = data, *end = data + len, *eol;
    char val[512];
    size_t i, n;
    int r;

    while (p < end && !(p[0] == '\r' || p[0] == '\n')) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            n = strlen(names[i]);
            if ((size_t)(eol - p) > n && strncasecmp(p, names[i], n) == 0) {
                size_t vl = (size_t)(eol - p) - n;
                if (vl >= sizeof(val))
                    vl = sizeof(val) - 1;
                memcpy(val, p + n, vl);
                val[vl] = '\0';
                val[strcspn(val, "\r")] = '\0';
                /* "Name <addr>" or a bare address */
                char *lt = strchr(val, '<');
                r = inbound_verp_one(c, lt ? lt : val + strspn(val, " \t"), o);
                if (r != 0)
                    return r;
            }
        }
        p = eol + 1;
    }
    return 0;
}

/* inbound_verp_body - a VERP address quoted anywhere in the notice (the
 * attached original's Return-Path, a DSN quoting the headers as text, a
 * JMRP report): only one whose HMAC verifies counts here, since quoted
 * text is not where the notice was sent. */
static void inbound_verp_body(struct bounced_ctx *c, const char *data, size_t len,
                              struct inbound_orig *o)
{
    const char *p = data, *end = data + len, *hit;
    char tok[256];
    size_t n;
    struct inbound_orig t;

    while (p < end && (hit = memmem(p, (size_t)(end - p), "bounces+", 8)) != NULL) {
        n = strcspn(hit, " \t\r\n<>\"';,");
        if (n > (size_t)(end - hit))
            n = (size_t)(end - hit);
        if (n < sizeof(tok)) {
            memcpy(tok, hit, n);
            tok[n] = '\0';
            memset(&t, 0, sizeof(t));
            if (inbound_verp_one(c, tok, &t) == 1) {
                *o = t;
                return;
            }
        }
        p = hit + 8;
    }
}

/* inbound_received_id - the queue id in our own Received: line, quoted
 * by most notices with the original's headers: "by HOST (Courser) with
 * ESMTP id QUEUEID;" (smtpd/envelope.c).  Unverified, like a Message-ID. */
static int inbound_received_id(const char *data, size_t len, const char *self, char *out,
                               size_t outlen)
{
    static const char mark[] = "(Courser) with ";
    const char *p = data, *end = data + len, *hit, *id, *body;
    char cand[QUEUE_ID_SIZE];
    size_t n;

    /* the notice's own header block holds the Received: line our smtpd
     * added when it took the notice: only the body quotes the original */
    body = memmem(data, len, "\n\r\n", 3);
    if (body == NULL)
        body = memmem(data, len, "\n\n", 2);
    if (body == NULL)
        return -1;
    p = body;
    while ((hit = memmem(p, (size_t)(end - p), mark, sizeof(mark) - 1)) != NULL) {
        id = hit + sizeof(mark) - 1;
        while (id < end && *id != ' ' && *id != '\n' && id - hit < 40)   /* SMTP, ESMTP, ESMTPS ... */
            id++;
        if (end - id > 4 && memcmp(id, " id ", 4) == 0) {
            id += 4;
            for (n = 0; n + 1 < sizeof(cand) && id + n < end && ((id[n] >= '0' && id[n] <= '9')
                                                               || (id[n] >= 'A' && id[n] <= 'F')); n++)
                cand[n] = id[n];
            cand[n] = '\0';
            if (queue_id_valid(cand) && n < outlen && strcmp(cand, self) != 0) {
                memcpy(out, cand, n + 1);
                return 0;
            }
        }
        p = hit + 1;
    }
    return -1;
}

/* inbound_find_orig - see the header comment.  -1: forged. */
static int inbound_find_orig(struct bounced_ctx *c, const struct spool_envelope *env,
                             const char *data, size_t len, const struct report *rep,
                             struct inbound_orig *o)
{
    uint32_t i;
    int r;

    memset(o, 0, sizeof(*o));
    for (i = 0; i < env->nrcpt; i++)
        if ((r = inbound_verp_one(c, env->rcpts[i].addr, o)) != 0)
            return r;
    if ((r = inbound_verp_headers(c, data, len, o)) != 0)
        return r;
    inbound_verp_body(c, data, len, o);
    if (o->id[0])
        return 0;
    if (inbound_received_id(data, len, env->queue_id, o->id, sizeof(o->id)) == 0)
        return 0;
    /* X-Courser-Queue-Id of the attached original; a Message-ID is no
     * queue id and is not reported as one */
    if (queue_id_valid(rep->orig_id))
        snprintf(o->id, sizeof(o->id), "%s", rep->orig_id);
    return 0;
}

static const char *inbound_format(const char *data, size_t len, int feedback)
{
    size_t hl = len < 65536 ? len : 65536;
    const char *hit = memmem(data, hl, "report-type=", 12);

    if (hit == NULL)
        hit = memmem(data, hl, "Report-Type=", 12);
    if (feedback)
        return hit ? "arf" : "jmrp";
    return hit ? "dsn" : "text";
}

static int inbound_set(struct acct_record *a, enum acct_field f, const char *v)
{
    return v && v[0] ? acct_set(a, f, v) : 0;
}

/* inbound_record - one rb/rs/f record.  The original's fields (orig,
 * vmta, jobId, dlvSourceIp, ...) come from accounting (original.c); when
 * the original is unknown, orig is the address the notice came to, as in
 * PowerMTA ("originator, taken from report's recipient address"). */
static int inbound_record(struct bounced_ctx *c, struct bjob *j, const char *type,
                          const struct spool_envelope *env, const struct report *rep,
                          const struct report_rcpt *r, const struct inbound_orig *o,
                          const char *format)
{
    struct acct_record a;
    char t[64], tmp[REPORT_DIAG_MAX + 64];
    int rc = 0;

    memset(&a, 0, sizeof(a));
    rc |= acct_set(&a, AF_TYPE, type);
    acct_format_time((long long)time(NULL), t, sizeof(t));
    rc |= acct_set(&a, AF_TIME_LOGGED, t);
    rc |= acct_set(&a, AF_RCPT, r->addr);
    if (type[0] == 'f') {
        rc |= inbound_set(&a, AF_FEEDBACK_TYPE, rep->feedback_type[0] ? rep->feedback_type : "abuse");
    } else {
        rc |= inbound_set(&a, AF_DSN_ACTION, r->action[0] ? r->action
                          : type[1] == 's' ? "delivered" : "failed");
        if (r->status[0]) {
            snprintf(tmp, sizeof(tmp), "%s (%s)", r->status, bounce_status_text(r->status));
            rc |= acct_set(&a, AF_DSN_STATUS, tmp);
        }
        if (r->diag) {
            snprintf(tmp, sizeof(tmp), "smtp;%s", r->diag);
            rc |= acct_set(&a, AF_DSN_DIAG, tmp);
        }
        if (type[1] == 'b')     /* rs reports no failure: no category */
            rc |= inbound_set(&a, AF_BOUNCE_CAT, r->category);
    }
    rc |= acct_set(&a, AF_SRC_TYPE, "smtp");
    snprintf(tmp, sizeof(tmp), "%s (%s)", env->client_helo ? env->client_helo : "",
             env->client_ip ? env->client_ip : "");
    rc |= acct_set(&a, AF_SRC_MTA, tmp);
    rc |= inbound_set(&a, AF_QUEUE_ID, o->id);
    rc |= acct_set(&a, AF_FORMAT, format);
    rc |= inbound_set(&a, AF_REP_SOURCE_IP, env->client_ip);
    if (rc == 0 && original_fill(c, o->id, r->addr, &a) == 0 && env->nrcpt > 0)
        rc |= inbound_set(&a, AF_ORIG, env->rcpts[0].addr);
    if (rc == 0 && bjob_add_record(j, &a) == 0)
        return 0;
    acct_record_free(&a);
    return -1;
}

static void inbound_suppress(struct bounced_ctx *c, const char *addr, const char *reason,
                             const char *source, const char *detail)
{
    struct suppress_entry e;

    memset(&e, 0, sizeof(e));
    e.time = (int64_t)time(NULL);
    snprintf(e.reason, sizeof(e.reason), "%s", reason);
    snprintf(e.source, sizeof(e.source), "%s", source);
    snprintf(e.detail, sizeof(e.detail), "%s", detail);
    if (c->sdb == NULL || suppress_put(c->sdb, "*", addr, &e) < 0)
        msg_error("cannot add <%s> to the suppression list", addr);
}

/* inbound_forward - spool data unchanged to the n addresses in to[]. */
static void inbound_forward(struct bounced_ctx *c, struct bjob *j, const struct spool_envelope *env,
                            const char *data, size_t len, char (*to)[CFG_NAME_MAX], size_t n,
                            const char *why)
{
    struct spool_envelope d;
    struct spool_rcpt r[CFG_PROC_FORWARD_MAX];
    char qid[QUEUE_ID_SIZE];
    size_t i, k = 0;

    for (i = 0; i < n && k < CFG_PROC_FORWARD_MAX; i++) {
        if (config_is_bounce_address(c->cfg, to[i])) {
            msg_warn("%s: forward address <%s> is a bounce address: skipped (it would loop)",
                     env->queue_id, to[i]);
            continue;
        }
        memset(&r[k], 0, sizeof(r[k]));
        r[k].addr = to[i];
        r[k].notify = SPOOL_NOTIFY_NEVER;
        k++;
    }
    if (k == 0)
        return;
    queue_id_new(qid);
    memset(&d, 0, sizeof(d));
    memcpy(d.queue_id, qid, QUEUE_ID_SIZE);
    d.time_queued = (uint64_t)time(NULL);
    d.client_ip = env->client_ip ? env->client_ip : (char *)"127.0.0.1";
    d.client_helo = env->client_helo ? env->client_helo : c->cfg->host_name;
    d.listener = (char *)"bounced";
    d.mail_from = (char *)"";
    d.body_8bit = env->body_8bit;
    d.nrcpt = (uint32_t)k;
    d.rcpts = r;
    if (spool_commit(c->cfg->spool_dir, &d, data, len) < 0) {
        msg_error("%s: cannot spool the forwarded copy: %s", env->queue_id, strerror(errno));
        return;
    }
    if (bjob_add_forward(j, qid) < 0)
        msg_error("%s: out of memory (qmgr finds %s at its next spool scan)", env->queue_id, qid);
    msg_info("%s: %s notice forwarded as %s to %zu address(es)", env->queue_id, why, qid, k);
}

int inbound_message(struct bounced_ctx *c, struct bjob *j, const struct spool_envelope *env,
                    const char *data, size_t len)
{
    const struct cfg_processor *pr = env->nrcpt > 0 && env->rcpts[0].addr
        ? config_processor_for(c->cfg, env->rcpts[0].addr) : NULL;
    struct report rep;
    struct inbound_orig o;
    const char *format, *type;
    char esc[REPORT_ADDR_LEN * 4], detail[256];
    size_t i;
    int made = 0, feedback;

    report_init(&rep);
    if (classify_message(c->patterns, data, len, &rep) < 0)
        msg_warn("%s: out of memory classifying; using what was found", env->queue_id);
    if (inbound_find_orig(c, env, data, len, &rep, &o) < 0) {
        msg_warn("%s: forged notice ignored: its VERP address does not verify (client %s)",
                 env->queue_id, env->client_ip ? env->client_ip : "?");
        report_free(&rep);
        return 0;
    }
    feedback = rep.type == REPORT_FEEDBACK;
    format = inbound_format(data, len, feedback);
    if (rep.type != REPORT_BOUNCE && rep.type != REPORT_DELIVERED && !feedback) {
        if (pr != NULL && pr->nforward_unmatched > 0)
            inbound_forward(c, j, env, data, len, pr->forward_unmatched, pr->nforward_unmatched,
                            "unmatched");
        else
            msg_info("%s: %s notice (%zu recipients) from %s dropped", env->queue_id,
                     rep.type == REPORT_AUTOREPLY ? "auto-reply" : "unrecognised", rep.n,
                     env->client_ip ? env->client_ip : "?");
        report_free(&rep);
        return 0;
    }
    if (rep.n == 0 && pr != NULL && pr->nforward_errors > 0)
        inbound_forward(c, j, env, data, len, pr->forward_errors, pr->nforward_errors,
                        "unparsable");
    for (i = 0; i < rep.n; i++) {
        struct report_rcpt *r = &rep.r[i];
        int fb = feedback || r->type == REPORT_FEEDBACK;
        int failed = !fb && rep.type != REPORT_DELIVERED && r->type != REPORT_DELIVERED
            && r->type != REPORT_AUTOREPLY && (r->action[0] == '\0' || strcmp(r->action, "failed") == 0);

        if (!fb && r->type == REPORT_AUTOREPLY)
            continue;
        type = fb ? "f" : failed ? "rb" : "rs";
        if (inbound_record(c, j, type, env, &rep, r, &o, format) == 0)
            made++;
        if (fb ? c->fbl_pipe != NULL : c->bounce_pipe != NULL) {
            if (bpipe_event(fb ? &j->pipe_f : &j->pipe_b, type, (int64_t)time(NULL), r->addr,
                            fb ? "complaint" : r->category, fb ? -1 : r->hard, r->status, r->diag,
                            o.id, fb ? (rep.feedback_type[0] ? rep.feedback_type : "abuse") : NULL,
                            NULL) < 0)
                msg_warn("%s: pipe event dropped (too large)", env->queue_id);
        }
        log_escape(esc, sizeof(esc), r->addr, strlen(r->addr));
        if (fb) {
            snprintf(detail, sizeof(detail), "%s %s", rep.feedback_type[0] ? rep.feedback_type : "abuse",
                     o.id);
            inbound_suppress(c, r->addr, "complaint", "f", detail);
        } else if (failed && r->hard && (o.verified || c->key.len == 0)) {
            snprintf(detail, sizeof(detail), "%s %s", r->status, o.id);
            inbound_suppress(c, r->addr, r->category ? r->category : "other", "rb", detail);
        }
        msg_info("%s: %s record rcpt=<%s> orig=%s%s category=%s%s", env->queue_id, type, esc,
                 o.id[0] ? o.id : "?", o.verified ? " (verp ok)" : "",
                 fb ? "complaint" : r->category ? r->category : "?",
                 fb || (failed && r->hard && (o.verified || c->key.len == 0)) ? ", suppressed" : "");
    }
    report_free(&rep);
    return made;
}

/* inbound_read - the message bytes of a spool file; NULL with err. */
static char *inbound_read(const char *path, size_t *len, char *err, size_t errlen)
{
    uint64_t off, mlen;
    size_t n = 0;
    ssize_t r;
    char *data;
    int fd = spool_open_message(path, &off, &mlen, err, errlen);

    if (fd < 0)
        return NULL;
    if (mlen > INBOUND_MAX_MESSAGE) {
        snprintf(err, errlen, "message of %llu bytes is too large", (unsigned long long)mlen);
        (void)close(fd);
        return NULL;
    }
    data = malloc((size_t)mlen + 1);
    if (data == NULL) {
        snprintf(err, errlen, "out of memory");
        (void)close(fd);
        return NULL;
    }
    while (n < mlen) {
        r = pread(fd, data + n, (size_t)mlen - n, (off_t)(off + n));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    (void)close(fd);
    if (n != mlen) {
        snprintf(err, errlen, "short read");
        free(data);
        return NULL;
    }
    data[n] = '\0';
    *len = n;
    return data;
}

static void inbound_file(struct bounced_ctx *c, struct bjob *j, const char *qid)
{
    char path[PATH_MAX], err[256];
    struct spool_envelope env;
    uint64_t off, mlen;
    size_t len = 0;
    char *data = NULL;

    if (spool_inbound_path(c->cfg->spool_dir, qid, path, sizeof(path)) < 0)
        return;
    memset(&env, 0, sizeof(env));
    if (spool_read(path, &env, &off, &mlen, err, sizeof(err)) < 0
        || (data = inbound_read(path, &len, err, sizeof(err))) == NULL) {
        if (errno == ENOENT)
            return;
        msg_error("%s: unreadable inbound message removed: %s", qid, err);
    } else {
        size_t first = j->nrecs;
        char done[PATH_MAX + 16];

        (void)inbound_message(c, j, &env, data, len);
        /* with records: kept (hidden) until acctd has them, so a crash
         * before that processes the file again instead of losing them */
        if (j->nrecs > first
            && snprintf(done, sizeof(done), "%s/" SPOOL_INBOUND_DIR "/" INBOUND_DONE_PREFIX "%s",
                        c->cfg->spool_dir, qid) < (int)sizeof(done)
            && bjob_add_file(j, qid, first, j->nrecs) == 0) {
            if (rename(path, done) == 0)
                goto out;
            j->nfiles--;
            msg_error("%s: cannot rename %s: %s", qid, path, strerror(errno));
        }
    }
    if (unlink(path) < 0 && errno != ENOENT)
        msg_error("%s: cannot remove %s: %s", qid, path, strerror(errno));
out:
    free(data);
    spool_envelope_free(&env);
}

void inbound_recover(const char *spool_dir)
{
    char dirp[PATH_MAX], from[PATH_MAX + 300], to[PATH_MAX + 300];
    const size_t pl = strlen(INBOUND_DONE_PREFIX);
    struct dirent *d;
    DIR *dir;
    int n = 0;

    if (snprintf(dirp, sizeof(dirp), "%s/" SPOOL_INBOUND_DIR, spool_dir) >= (int)sizeof(dirp)
        || (dir = opendir(dirp)) == NULL)
        return;
    while ((d = readdir(dir)) != NULL) {
        if (strncmp(d->d_name, INBOUND_DONE_PREFIX, pl) != 0 || !queue_id_valid(d->d_name + pl))
            continue;
        snprintf(from, sizeof(from), "%s/%s", dirp, d->d_name);
        snprintf(to, sizeof(to), "%s/%s", dirp, d->d_name + pl);
        if (rename(from, to) == 0)
            n++;
    }
    closedir(dir);
    if (n)
        msg_info("%d inbound messages whose records acctd may not have taken: processing them again", n);
}

void inbound_run(struct bounced_ctx *c, struct bjob *j)
{
    char path[PATH_MAX];
    struct dirent *d;
    DIR *dir;

    if (snprintf(path, sizeof(path), "%s/" SPOOL_INBOUND_DIR, c->cfg->spool_dir) >= (int)sizeof(path))
        return;
    dir = opendir(path);
    if (dir == NULL) {
        if (errno != ENOENT)
            msg_error("cannot read %s: %s", path, strerror(errno));
        return;
    }
    while ((d = readdir(dir)) != NULL)
        if (queue_id_valid(d->d_name))
            inbound_file(c, j, d->d_name);
    closedir(dir);
}
