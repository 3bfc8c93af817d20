/*
 * route_vmta - smtpd's routing decision at the end of DATA (route_vmta.c).
 */
#ifndef SMTPD_ROUTE_VMTA_H
#define SMTPD_ROUTE_VMTA_H

#include <stddef.h>
#include "buf.h"
#include "config.h"

/* rcpt-to rules look at this many recipients at most (a message may have
 * up to max-rcpt-per-message; matching every one of 100000 is not worth
 * the CPU at DATA). */
#define SMTPD_ROUTE_RCPTS_MAX 1000
#define ROUTE_ENVID_MAX 100     /* RFC 3461 4.4: ENVID is at most 100 characters */

struct route_input {
    const struct config *cfg;
    const struct cfg_source_settings *set;  /* merged for this session */
    const char *source_name;                /* for the log: the <source> */
    const char *mail_from;
    const char *const *rcpts;
    size_t nrcpts;
    struct buf *msg;                        /* headers removed in place */
    size_t hdr_off;                         /* where the client's headers start */
    const char *local_ip;                   /* the address the client connected to */
};

struct route_decision {
    char vmta[CFG_NAME_MAX];    /* "" = none: qmgr's {default} */
    char job_id[256];           /* "" = none */
    char envid[ROUTE_ENVID_MAX + 1];    /* X-Envid (process-x-envid), "" = none */
    char why[CFG_NAME_MAX + 128];
    char reject[CFG_NAME_MAX + 96];  /* the SMTP reply when refused */
};

/* 0 and *out, or -1 with out->reject: refuse the message. */
int route_decide(const struct route_input *in, struct route_decision *out);

struct session;
/* Decide for s (sets s->route_vmta, s->job_id); -1 with the reply. */
int route_session(struct session *s, char *reply, size_t replylen);

#endif
