/*
 * proto - the messages Courser's processes exchange, and their codecs.
 *
 * Every message type has a struct, an encoder that appends one frame to a
 * buffer, and a decoder that validates every field (lengths, counts, that
 * addresses hold no control bytes) and rejects trailing data.  Decoded
 * structs own their memory; free them with the matching *_free.
 *
 * Who talks to whom (sockets under run-dir, created by master):
 *   qmgr.sock    smtpd -> qmgr        HELLO, MSG_NEW
 *                smtp-out <-> qmgr    HELLO, DELIVER (qmgr->), RESULT (->qmgr)
 *                master <-> qmgr      HELLO, CTL_REQUEST, CTL_REPLY
 *   acctd.sock   qmgr -> acctd        HELLO, ACCT (reqid = sequence), ACCT_ACK
 *   control.sock mtactl <-> master    CTL_REQUEST, CTL_REPLY
 *   bounced.sock qmgr -> bounced      HELLO, BOUNCE (reqid = sequence), BOUNCE_ACK
 *                master <-> bounced   HELLO, CTL_REQUEST, CTL_REPLY (suppression)
 *   qmgr.sock    bounced -> qmgr      HELLO, MSG_NEW (a DSN it spooled)
 *   acctd.sock   bounced -> acctd     HELLO, ACCT (rb, f records), ACCT_ACK
 */
#ifndef COURSER_PROTO_H
#define COURSER_PROTO_H

#include <stdint.h>
#include "buf.h"
#include "ipc.h"
#include "acct.h"

enum ipc_type {
    IPC_HELLO = 1,
    IPC_MSG_NEW = 2,
    IPC_DELIVER = 3,
    IPC_RESULT = 4,
    IPC_ACCT = 5,
    IPC_ACCT_ACK = 6,
    IPC_CTL_REQUEST = 7,
    IPC_CTL_REPLY = 8,
    /* bounce_proto.h (qmgr -> bounced); numbered apart from the rest so
     * that types added elsewhere meanwhile do not collide */
    IPC_BOUNCE = 20,
    IPC_BOUNCE_ACK = 21,
    IPC_BOUNCE_DELAY = 22,      /* a delay notice (NOTIFY=DELAY); answered with IPC_BOUNCE_ACK */
};

enum ipc_role {
    ROLE_SMTPD = 1,
    ROLE_SMTP_OUT = 2,
    ROLE_MASTER = 3,
    ROLE_BOUNCED = 4,
    ROLE_QMGR = 5,
};

#define PROTO_ADDR_MAX   512    /* an envelope address, RFC 5321 path max 256 */
#define PROTO_NAME_MAX   256    /* vmta names, host names, domains */
#define PROTO_TEXT_MAX   4096   /* an SMTP reply text, a diagnostic */
#define PROTO_RCPT_MAX   10000  /* recipients in one job or result */
#define PROTO_ARGV_MAX   64

/* HELLO: the first frame on every connection to qmgr or acctd. */
struct msg_hello {
    uint32_t role;          /* enum ipc_role */
    uint32_t pid;
    uint32_t slots;         /* smtp-out: concurrent deliveries it accepts */
};
int msg_hello_encode(struct buf *out, const struct msg_hello *m);
int msg_hello_decode(const struct ipc_frame *f, struct msg_hello *m);

/* MSG_NEW: smtpd made spool file `queue_id` durable. */
struct msg_new {
    char queue_id[32];
};
int msg_new_encode(struct buf *out, const struct msg_new *m);
int msg_new_decode(const struct ipc_frame *f, struct msg_new *m);

/* DELIVER: qmgr asks smtp-out to deliver one message to recipients of one
 * destination.  smtp-out reads the message from the spool file. */
struct deliver_rcpt {
    uint32_t index;         /* recipient's index in the spool envelope */
    char *addr;
};
struct msg_deliver {
    uint64_t job_id;
    char queue_id[32];
    char *mail_from;        /* "" for the null sender */
    char *envid;            /* DSN ENVID or "" */
    uint32_t ret;           /* 0 none, 1 FULL, 2 HDRS */
    uint32_t body_8bit;     /* BODY=8BITMIME was given */
    char *vmta;
    char *source_ip;        /* "" = let the kernel choose */
    char *helo_name;
    char *domain;           /* destination domain (the queue's domain) */
    char *route;            /* "" = MX lookup, else "host:port[,host:port...]" */
    uint32_t connect_timeout;   /* seconds */
    uint32_t greeting_timeout;
    uint32_t data_timeout;
    uint32_t idle_timeout;      /* keep the connection cached this long */
    uint32_t max_msg_per_connection; /* 0 = unlimited */
    /* skip-mx (IPC version 2): MX host names the queue avoids now,
     * comma-separated, "" for none.  smtp-out connects to none of them;
     * with every MX host listed it fails the job with 451 4.4.1 (local),
     * and qmgr's RESULT.remote_mx of a skip-mx reply fills the list. */
    char *skip_mx;
    uint32_t nrcpt;
    struct deliver_rcpt *rcpts;
};
int msg_deliver_encode(struct buf *out, const struct msg_deliver *m);
int msg_deliver_decode(const struct ipc_frame *f, struct msg_deliver *m);
void msg_deliver_free(struct msg_deliver *m);

/* RESULT: one outcome per recipient of a DELIVER job. */
struct result_rcpt {
    uint32_t index;
    uint32_t code;          /* SMTP reply code, e.g. 250, 451, 550 */
    char status[16];        /* enhanced status "X.Y.Z" (derived when absent) */
    char *text;             /* full reply text, lines joined by " " */
};
struct msg_result {
    uint64_t job_id;
    uint32_t local;         /* 1 when Courser made up the reply (connect
                               failure, DNS error, timeout), 0 when the
                               remote server gave it */
    uint32_t esmtp;         /* the remote offered ESMTP */
    char *remote_mx;        /* the MX host name tried last, or "" */
    char *remote_ip;        /* its IP, or "" */
    char *source_ip;        /* our local IP, or "" */
    char *esmtp_ext;        /* e.g. "PIPELINING,8BITMIME,SIZE" or "" */
    /* (IPC version 2) MX hosts that refused the connection this job's
     * delivery used or tried, before any transaction: a greeting other
     * than 2xx, EHLO and HELO refused.  smtp-out moved on to the next
     * address by itself; qmgr matches them against skip-mx rules. */
    uint32_t nrefused;
    struct result_refusal {
        char *mx;           /* the MX host name */
        char *reply;        /* "CODE TEXT" */
    } *refused;
    uint32_t nrcpt;
    struct result_rcpt *rcpts;
};
#define PROTO_REFUSED_MAX 32
int msg_result_encode(struct buf *out, const struct msg_result *m);
int msg_result_decode(const struct ipc_frame *f, struct msg_result *m);
void msg_result_free(struct msg_result *m);

/* ACCT: one accounting record; reqid carries the sender's sequence number,
 * acknowledged by ACCT_ACK with the same reqid once acctd has written it. */
int msg_acct_encode(struct buf *out, uint32_t seq, const struct acct_record *r);
int msg_acct_decode(const struct ipc_frame *f, struct acct_record *r);

/* CTL_REQUEST: a command line (mtactl argv without program and options). */
struct msg_ctl_request {
    uint32_t argc;
    char **argv;
};
int msg_ctl_request_encode(struct buf *out, uint32_t reqid, int argc, char *const argv[]);
int msg_ctl_request_decode(const struct ipc_frame *f, struct msg_ctl_request *m);
void msg_ctl_request_free(struct msg_ctl_request *m);

/* CTL_REPLY: status 0 = ok, else failure; text is the output to print
 * (may hold many lines: the only string field allowed to contain LF). */
struct msg_ctl_reply {
    uint32_t status;
    char *text;
};
int msg_ctl_reply_encode(struct buf *out, uint32_t reqid, uint32_t status, const char *text);
int msg_ctl_reply_decode(const struct ipc_frame *f, struct msg_ctl_reply *m);
void msg_ctl_reply_free(struct msg_ctl_reply *m);

#endif
