/*
 * rcpt_policy - smtpd's two recipient checks of issue 6:
 *   - suppression: a RCPT on the suppression list is refused with 550
 *     (reject-suppressed-recipients, per <source>; default yes).  The
 *     LMDB database is bounced's; smtpd opens it read-only, lazily (it
 *     may not exist yet: retried at most every 2 s) and looks up the
 *     global list and the sender domain's list.  A database that cannot
 *     be read refuses nothing (logged once per failure streak): mail
 *     flow beats suppression.
 *   - bounce-domain: mail for a bounce-domain (or a processor's
 *     address-list) is for bounced, spooled to
 *     SPOOL/inbound instead of being queued; such recipients and others
 *     are not mixed in one transaction (452: the client sends them again
 *     in the next one, RFC 5321 3.3).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "smtpd.h"
#include "suppress.h"

#define POLICY_RETRY_MS 2000

static struct {
    struct suppress_db *db;
    char dir[PATH_MAX];
    uint64_t next_try;
    int failing;
} rp;

/* rcpt_is_inbound - a bounce-domain's, or a <bounce-processor>'s or
 * <feedback-loop-processor>'s address-list's. */
int rcpt_is_inbound(const struct session *s, const char *addr)
{
    return cmd_addr_domain(addr)[0] != '\0' && config_is_bounce_address(s->cfg->cfg, addr);
}

int txn_is_inbound(const struct session *s)
{
    return s->nrcpt > 0 && rcpt_is_inbound(s, s->rcpts[0].addr);
}

/* policy_db - the database of the session's configuration, or NULL. */
static struct suppress_db *policy_db(const struct session *s)
{
    char dir[PATH_MAX], err[512];
    uint64_t now = uv_now(smtpd.loop);

    if (config_suppression_dir(s->cfg->cfg, dir, sizeof(dir)) < 0)
        return NULL;
    if (rp.db && strcmp(dir, rp.dir) != 0) {     /* reloaded elsewhere */
        suppress_close(rp.db);
        rp.db = NULL;
    }
    if (rp.db || now < rp.next_try)
        return rp.db;
    rp.db = suppress_open(dir, 1, err, sizeof(err));
    if (rp.db == NULL) {
        rp.next_try = now + POLICY_RETRY_MS;
        msg_debug("%s (suppression not checked yet)", err);
        return NULL;
    }
    snprintf(rp.dir, sizeof(rp.dir), "%s", dir);
    return rp.db;
}

int rcpt_suppressed(const struct session *s, const char *addr, char *reply, size_t replylen)
{
    struct suppress_entry e;
    struct suppress_db *db;
    char day[16], esc[CMD_PATH_MAX * 4];
    time_t t;
    struct tm tm;
    int r, hard;

    if (!s->set.reject_suppressed || (db = policy_db(s)) == NULL)
        return 0;
    r = suppress_check(db, addr, cmd_addr_domain(s->mail.addr), &e);
    if (r < 0) {
        if (!rp.failing)
            msg_error("suppression database %s: look-up failed; not refusing", rp.dir);
        rp.failing = 1;
        return 0;
    }
    rp.failing = 0;
    if (r == 0)
        return 0;
    t = (time_t)e.time;
    if (gmtime_r(&t, &tm) == NULL || strftime(day, sizeof(day), "%Y-%m-%d", &tm) == 0)
        snprintf(day, sizeof(day), "?");
    /* a recipient problem reads as one (5.1.1); a complaint or an
     * operator's entry is a policy refusal (5.7.1) */
    hard = strcmp(e.reason, "bad-mailbox") == 0 || strcmp(e.reason, "bad-domain") == 0
        || strcmp(e.reason, "inactive-mailbox") == 0;
    log_escape(esc, sizeof(esc), addr, strlen(addr));
    snprintf(reply, replylen, "550 %s <%s>: recipient is on the suppression list (%s, %s)",
             hard ? "5.1.1" : "5.7.1", esc, e.reason, day);
    return 1;
}
