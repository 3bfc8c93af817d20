/*
 * smtpd - the types shared by smtpd's modules (this daemon only):
 *   main.c          command line
 *   server.c        loop, listeners, signals, stop, reload, config references
 *   session.c       one SMTP connection: I/O, timers, the state machine
 *   verbs.c         the verb table {verb, check, proceed} and replies
 *   command.c       command line reader and argument parsers (command.h)
 *   data.c          DATA stream parser (data.h)
 *   envelope.c      spool envelope and Received: header of a transaction
 *   route_vmta.c    the virtual MTA and job id of a message (route_vmta.h)
 *   commit.c        spool_commit on the thread pool
 *   queue_notify.c  MSG_NEW notices to qmgr, kept until a connection exists
 *   rcpt_policy.c   suppression look-ups and bounce-domain recipients
 */
#ifndef SMTPD_SMTPD_H
#define SMTPD_SMTPD_H

#include <stdint.h>
#include <uv.h>
#include "buf.h"
#include "config.h"
#include "queueid.h"
#include "spool.h"
#include "command.h"
#include "data.h"

/* A loaded configuration shared by the sessions that started under it:
 * a reload swaps smtpd.cfg, the old one lives until its last session. */
struct smtpd_cfg {
    struct config *cfg;
    unsigned refs;
};

struct smtpd_listener {
    uv_tcp_t tcp;
    char name[96];                  /* "ip:port" as configured */
    char source[CFG_NAME_MAX];      /* listener's source=NAME, or "" */
    int open;
};

struct session;

struct smtpd_globals {
    uv_loop_t *loop;
    const char *config_path;
    struct smtpd_cfg *cfg;          /* current; new sessions take a ref */
    struct smtpd_listener *listeners;
    size_t nlisteners;
    struct session *sessions;       /* doubly linked list of live sessions */
    size_t nsessions;
    int stopping;                   /* SIGTERM seen: draining */
};

extern struct smtpd_globals smtpd;

/* server.c */
int smtpd_run(const char *config_path);
struct smtpd_cfg *smtpd_cfg_get(void);
void smtpd_cfg_put(struct smtpd_cfg *c);
/* Called by session.c when a session is freed (the stop logic waits). */
void smtpd_session_gone(void);

/* The session states (STYLE.md habit 3: one enum). */
enum session_state {
    SS_CONNECTED = 0,   /* greeted, no HELO/EHLO yet */
    SS_READY,           /* HELO/EHLO done, no transaction */
    SS_MAIL,            /* MAIL accepted, no recipient yet */
    SS_RCPT,            /* at least one recipient accepted */
    SS_DATA,            /* receiving the message */
    SS_COMMIT,          /* spool write in flight; input paused */
};

/* Bounds of one session's memory. */
#define SESSION_READ_CHUNK  (16 * 1024)
#define SESSION_IN_MAX      (2 * SESSION_READ_CHUNK + CMD_LINE_MAX)
#define SESSION_OUT_HIGH    (64 * 1024)     /* stop reading past this */
#define SESSION_OUT_MAX     (1024 * 1024)
/* max-message-size 0 means "unlimited"; memory still needs a bound. */
#define SESSION_MSG_HARD_MAX (512ull * 1024 * 1024)
#define SESSION_RECEIVED_MAX 2048

struct session {
    struct session *prev, *next;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_work_t work;
    int handles_open;           /* tcp + timer until their close callbacks */
    int closing;                /* uv_close called: callbacks must bail */
    int close_after_flush;      /* QUIT, 421: close once out is written */
    int writing;
    int reading;
    int work_pending;           /* commit in flight: do not free */
    int draining;               /* SIGTERM: leave after this transaction */

    struct smtpd_cfg *cfg;
    struct cfg_source_settings set;
    char source[CFG_NAME_MAX];  /* the <source> name recorded in the spool */
    char listener[96];
    char client_ip[64];
    char helo[256];
    int esmtp;
    enum session_state state;
    unsigned errors;

    struct cmd_reader rd;
    struct data_parser dp;
    struct buf in;              /* read but not yet processed */
    size_t in_off;
    struct buf out;             /* replies of this read batch */
    struct buf wbuf;            /* the write in flight */

    /* the transaction */
    char qid[QUEUE_ID_SIZE];
    struct mail_args mail;
    struct spool_rcpt *rcpts;
    uint32_t nrcpt, rcap;
    struct buf msg;             /* Received: header + unstuffed message */
    size_t msg_hdr_len;
    uint64_t msg_max;           /* the size limit of the body */
    struct spool_envelope env;  /* borrowed pointers, built for commit */
    char route_vmta[CFG_NAME_MAX];  /* route_vmta.c's decision, "" = none */
    char job_id[256];           /* X-Job (process-x-job), "" = none */
    char x_envid[101];          /* X-Envid (process-x-envid), "" = none */
    char route_why[2048];       /* the decision and why, for the log line */
    int commit_rc;
    int commit_errno;
};

/* session.c */
void session_accept(struct smtpd_listener *l);
void session_reply(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A client error reply; closes with 421 4.7.0 past max-errors. */
void session_error(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void session_close(struct session *s);
void session_close_after_flush(struct session *s);
void session_txn_reset(struct session *s);
void session_set_timer(struct session *s);
/* SIGTERM: idle sessions get 421 now, busy ones after their transaction. */
void session_drain(struct session *s);
/* Stop grace period over: 421 and close whatever is not committing. */
void session_force_stop(struct session *s);
void session_commit_done(struct session *s);

/* verbs.c */
void verbs_dispatch(struct session *s, const char *line);
/* DATA ended (data parser done): decide, and commit or refuse. */
void verbs_data_end(struct session *s);

/* envelope.c */
int envelope_received(struct session *s);
void envelope_build(struct session *s);

/* commit.c */
int commit_start(struct session *s);

/* rcpt_policy.c */
/* Whether addr is at a bounce-domain / the transaction is for bounced. */
int rcpt_is_inbound(const struct session *s, const char *addr);
int txn_is_inbound(const struct session *s);
/* 1 and the 550 reply in reply when addr is suppressed, else 0. */
int rcpt_suppressed(const struct session *s, const char *addr, char *reply, size_t replylen);

/* queue_notify.c */
void notify_init(uv_loop_t *loop, const char *run_dir);
void notify_new(const char *qid);
void notify_stop(void);
size_t notify_pending(void);

#endif
