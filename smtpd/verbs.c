/*
 * verbs - what smtpd does with each SMTP command: the verb table
 * {verb, check, proceed} (OpenSMTPD's shape), where check refuses a
 * command out of sequence and proceed parses its argument and replies.
 * Also the end of DATA: which reply, commit or refuse.
 *
 * Replies follow RFC 5321 with RFC 3463 enhanced codes: 500 5.5.2
 * unknown/overlong, 501 5.5.4 syntax, 501 5.1.7 / 5.1.3 bad sender /
 * recipient address, 502 5.5.1 not implemented, 503 5.5.1 bad sequence,
 * 555 5.5.4 unknown MAIL/RCPT parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "smtpd.h"
#include "route_vmta.h"
#include "log.h"

struct verb_entry {
    enum cmd_verb verb;
    int (*check)(struct session *s);
    void (*proceed)(struct session *s, const char *arg);
};

static const char *host(const struct session *s)
{
    return s->cfg->cfg->host_name;
}

/* check_any - HELO, EHLO, RSET, NOOP, QUIT, ... are valid in any state. */
static int check_any(struct session *s)
{
    return 0;
}

static int check_mail(struct session *s)
{
    if (s->state == SS_CONNECTED) {
        session_error(s, "503 5.5.1 Error: send HELO/EHLO first");
        return -1;
    }
    if (s->state != SS_READY) {
        session_error(s, "503 5.5.1 Error: nested MAIL command");
        return -1;
    }
    return 0;
}

static int check_rcpt(struct session *s)
{
    if (s->state != SS_MAIL && s->state != SS_RCPT) {
        session_error(s, "503 5.5.1 Error: need MAIL command");
        return -1;
    }
    return 0;
}

static int check_data(struct session *s)
{
    if (s->state == SS_MAIL) {
        session_error(s, "554 5.5.1 Error: no valid recipients");
        return -1;
    }
    if (s->state != SS_RCPT) {
        session_error(s, "503 5.5.1 Error: need RCPT command");
        return -1;
    }
    return 0;
}

static int helo_common(struct session *s, const char *arg, int esmtp)
{
    if (!cmd_helo_ok(arg)) {
        session_error(s, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
        return -1;
    }
    snprintf(s->helo, sizeof(s->helo), "%s", arg);
    s->esmtp = esmtp;
    s->state = SS_READY;
    session_txn_reset(s);   /* RFC 5321 4.1.4: HELO/EHLO reset the state */
    return s->close_after_flush ? -1 : 0;
}

static void proceed_helo(struct session *s, const char *arg)
{
    if (helo_common(s, arg, 0) == 0)
        session_reply(s, "250 %s", host(s));
}

static void proceed_ehlo(struct session *s, const char *arg)
{
    uint64_t max = s->set.max_message_size;

    if (helo_common(s, arg, 1) < 0)
        return;
    if (max == 0 || max > SESSION_MSG_HARD_MAX)
        max = SESSION_MSG_HARD_MAX;
    session_reply(s, "250-%s\r\n250-PIPELINING\r\n250-SIZE %llu\r\n250-8BITMIME\r\n"
                  "250-ENHANCEDSTATUSCODES\r\n250 DSN", host(s), (unsigned long long)max);
}

static uint64_t body_max(const struct session *s)
{
    uint64_t max = s->set.max_message_size;

    return max == 0 || max > SESSION_MSG_HARD_MAX ? SESSION_MSG_HARD_MAX : max;
}

static void proceed_mail(struct session *s, const char *arg)
{
    switch (cmd_parse_mail(arg, &s->mail)) {
    case ARG_OK:
        break;
    case ARG_BAD_ADDR:
        session_error(s, "501 5.1.7 Bad sender address syntax");
        return;
    case ARG_UNKNOWN_PARAM:
        session_error(s, "555 5.5.4 Unsupported MAIL parameter");
        return;
    default:
        session_error(s, "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]");
        return;
    }
    if (s->mail.has_size && s->mail.size > body_max(s)) {
        session_reply(s, "552 5.3.4 Message size exceeds fixed limit");
        session_txn_reset(s);
        return;
    }
    if (s->draining) {
        session_reply(s, "421 4.3.2 %s Service shutting down", host(s));
        session_close_after_flush(s);
        return;
    }
    queue_id_new(s->qid);
    s->state = SS_MAIL;
    session_reply(s, "250 2.1.0 Ok");
}

/* rcpt_allowed - relaying: the source may relay, or the domain is ours. */
static int rcpt_allowed(const struct session *s, const char *addr)
{
    const char *domain = cmd_addr_domain(addr);

    if (s->set.always_allow_relaying)
        return 1;
    if (domain[0] == '\0')
        return 1;           /* <postmaster> (RFC 5321 4.5.1) */
    return config_is_relay_domain(s->cfg->cfg, domain);
}

static int rcpt_add(struct session *s, const struct rcpt_args *ra)
{
    struct spool_rcpt *r;

    if (s->nrcpt == s->rcap) {
        uint32_t ncap = s->rcap ? s->rcap * 2 : 8;
        void *p = realloc(s->rcpts, ncap * sizeof(*s->rcpts));

        if (p == NULL)
            return -1;
        s->rcpts = p;
        s->rcap = ncap;
    }
    r = &s->rcpts[s->nrcpt];
    r->addr = strdup(ra->addr);
    r->orcpt = ra->orcpt[0] ? strdup(ra->orcpt) : NULL;
    r->notify = ra->notify;
    if (r->addr == NULL || (ra->orcpt[0] && r->orcpt == NULL)) {
        free(r->addr);
        free(r->orcpt);
        return -1;
    }
    s->nrcpt++;
    return 0;
}

static void proceed_rcpt(struct session *s, const char *arg)
{
    struct rcpt_args ra;
    uint32_t max = s->set.max_rcpt_per_message;
    char esc[CMD_PATH_MAX * 4];

    switch (cmd_parse_rcpt(arg, &ra)) {
    case ARG_OK:
        break;
    case ARG_BAD_ADDR:
        session_error(s, "501 5.1.3 Bad recipient address syntax");
        return;
    case ARG_UNKNOWN_PARAM:
        session_error(s, "555 5.5.4 Unsupported RCPT parameter");
        return;
    default:
        session_error(s, "501 5.5.4 Syntax: RCPT TO:<address> [parameters]");
        return;
    }
    if ((max != 0 && s->nrcpt >= max) || s->nrcpt >= SPOOL_MAX_RCPTS) {
        session_reply(s, "452 4.5.3 Too many recipients");
        return;
    }
    if (s->nrcpt > 0 && rcpt_is_inbound(s, ra.addr) != txn_is_inbound(s)) {
        session_reply(s, "452 4.5.3 Send mail for bounce domains in a transaction of its own");
        return;
    }
    if (rcpt_is_inbound(s, ra.addr)) {
        /* a bounce or complaint for bounced: never relayed, never suppressed */
    } else if (!rcpt_allowed(s, ra.addr)) {
        log_escape(esc, sizeof(esc), ra.addr, strlen(ra.addr));
        msg_info("%s: relaying denied: client=%s rcpt=<%s>", s->qid, s->client_ip, esc);
        session_error(s, "550 5.7.1 Relaying denied");
        return;
    }
    if (cmd_addr_domain(ra.addr)[0] == '\0') {
        /* <postmaster> (RFC 5321 4.5.1): deliver to the configured
         * postmaster; a domain-less address would have no queue. */
        const struct config *cfg = s->cfg->cfg;
        int n = cfg->postmaster[0] != '\0'
            ? snprintf(ra.addr, sizeof(ra.addr), "%s", cfg->postmaster)
            : snprintf(ra.addr, sizeof(ra.addr), "postmaster@%s", cfg->host_name);

        if (n < 0 || (size_t)n >= sizeof(ra.addr)) {
            session_reply(s, "451 4.3.0 Local error: postmaster address too long");
            return;
        }
    }
    if (!rcpt_is_inbound(s, ra.addr)) {
        char why[CMD_PATH_MAX * 4 + 128];

        if (rcpt_suppressed(s, ra.addr, why, sizeof(why))) {
            log_escape(esc, sizeof(esc), ra.addr, strlen(ra.addr));
            msg_info("%s: suppressed recipient refused: client=%s rcpt=<%s>", s->qid,
                     s->client_ip, esc);
            session_reply(s, "%s", why);
            return;
        }
    }
    if (rcpt_add(s, &ra) < 0) {
        session_reply(s, "452 4.3.1 Insufficient system storage");
        return;
    }
    s->state = SS_RCPT;
    session_reply(s, "250 2.1.5 Ok");
}

static void proceed_data(struct session *s, const char *arg)
{
    uint32_t maxline = s->set.max_line_length;

    if (arg[0] != '\0') {
        session_error(s, "501 5.5.4 Syntax: DATA");
        return;
    }
    s->msg_max = body_max(s);
    buf_init(&s->msg, (size_t)s->msg_max + SESSION_RECEIVED_MAX);
    if (envelope_received(s) < 0) {
        session_reply(s, "451 4.3.0 Local error building the Received: header");
        session_txn_reset(s);
        return;
    }
    /* The limit counts the client's bytes, not our header. */
    s->msg.max = s->msg_hdr_len + (size_t)s->msg_max;
    data_parser_init(&s->dp, &s->msg, maxline);
    s->state = SS_DATA;
    session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void proceed_rset(struct session *s, const char *arg)
{
    session_reply(s, "250 2.0.0 Ok");
    session_txn_reset(s);
}

static void proceed_noop(struct session *s, const char *arg)
{
    session_reply(s, "250 2.0.0 Ok");
}

static void proceed_quit(struct session *s, const char *arg)
{
    session_reply(s, "221 2.0.0 Bye");
    session_close_after_flush(s);
}

static void proceed_vrfy(struct session *s, const char *arg)
{
    if (arg[0] == '\0') {
        session_error(s, "501 5.5.4 Syntax: VRFY address");
        return;
    }
    session_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void proceed_help(struct session *s, const char *arg)
{
    session_reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
}

static void proceed_not_implemented(struct session *s, const char *arg)
{
    session_error(s, "502 5.5.1 Command not implemented");
}

static const struct verb_entry verb_table[] = {
    { VERB_HELO, check_any, proceed_helo },
    { VERB_EHLO, check_any, proceed_ehlo },
    { VERB_MAIL, check_mail, proceed_mail },
    { VERB_RCPT, check_rcpt, proceed_rcpt },
    { VERB_DATA, check_data, proceed_data },
    { VERB_RSET, check_any, proceed_rset },
    { VERB_NOOP, check_any, proceed_noop },
    { VERB_QUIT, check_any, proceed_quit },
    { VERB_VRFY, check_any, proceed_vrfy },
    { VERB_HELP, check_any, proceed_help },
    { VERB_EXPN, check_any, proceed_not_implemented },
    { VERB_BDAT, check_any, proceed_not_implemented },      /* CHUNKING not offered */
    { VERB_STARTTLS, check_any, proceed_not_implemented },  /* not offered yet */
    { VERB_AUTH, check_any, proceed_not_implemented },      /* not offered yet */
    { VERB_ETRN, check_any, proceed_not_implemented },
    { VERB_TURN, check_any, proceed_not_implemented },
};

void verbs_dispatch(struct session *s, const char *line)
{
    const char *arg;
    enum cmd_verb v = cmd_verb_parse(line, &arg);
    size_t i;

    for (i = 0; i < sizeof(verb_table) / sizeof(verb_table[0]); i++) {
        if (verb_table[i].verb != v)
            continue;
        if (verb_table[i].check(s) == 0)
            verb_table[i].proceed(s, arg);
        return;
    }
    session_error(s, "500 5.5.2 Error: command not recognized");
}

void verbs_data_end(struct session *s)
{
    char esc[CMD_PATH_MAX * 4];

    log_escape(esc, sizeof(esc), s->mail.addr, strlen(s->mail.addr));
    if (s->dp.flags != 0) {
        const char *why;

        if (s->dp.flags & DATA_BARE_EOL) {
            why = "bare LF/CR";
            session_reply(s, "550 5.6.0 Bare LF/CR in message not allowed (RFC 5321 2.3.8)");
        } else if (s->dp.flags & DATA_TOO_BIG) {
            why = "message too big";
            session_reply(s, "552 5.3.4 Message size exceeds fixed limit");
        } else {
            why = "line too long";
            session_reply(s, "550 5.6.0 Message line too long");
        }
        msg_info("%s: refused (%s): from=<%s> size=%llu client=%s", s->qid, why, esc,
                 (unsigned long long)s->dp.size, s->client_ip);
        session_txn_reset(s);
        return;
    }
    {
        char reply[512];
        if (route_session(s, reply, sizeof(reply)) < 0) {
            session_reply(s, "%s", reply);
            session_txn_reset(s);
            return;
        }
    }
    envelope_build(s);
    s->state = SS_COMMIT;
    if (commit_start(s) < 0) {
        msg_error("%s: cannot queue the spool write", s->qid);
        session_reply(s, "451 4.3.0 Queue write failed");
        s->state = SS_READY;
        session_txn_reset(s);
    }
}
