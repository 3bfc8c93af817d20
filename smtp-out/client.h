/*
 * client.h - internals shared by client.c (connection set-up, I/O, idle,
 * close) and transaction.c (one message: MAIL, RCPT, DATA, body, results).
 * Only these two files include it; the rest of smtp-out sees the opaque
 * struct so_conn through smtp_out.h.
 */
#ifndef COURSER_SMTP_OUT_CLIENT_H
#define COURSER_SMTP_OUT_CLIENT_H

#include "smtp_out.h"

#define CONN_CHUNK        (64 * 1024)

enum conn_state {
    C_RESOLVING, C_CONNECTING, C_GREETING, C_EHLO, C_HELO,
    C_READY,            /* handed to the pool, between jobs */
    C_IDLE,             /* cached, waiting for a job */
    C_TXN,              /* RSET/MAIL/RCPT/DATA replies outstanding */
    C_BODY,             /* writing the message */
    C_DOT,              /* waiting for the reply to the final dot */
    C_QUIT, C_CLOSED
};

enum txn_kind { T_RSET, T_MAIL, T_RCPT, T_DATA };

struct so_sock {
    uv_tcp_t tcp;
    uv_connect_t creq;
    struct so_conn *conn;       /* NULL once detached (closing) */
};

struct so_write {
    uv_write_t req;
    size_t len;
    char data[];
};

struct saved_reply {
    int code;
    char *text;                 /* "250 2.1.5 Ok" style: code + text */
};

struct so_conn {
    uv_loop_t *loop;
    struct pool_group *g;
    struct so_sock *sock;
    uv_timer_t timer;
    enum conn_state state;
    /* identity, from the first job */
    char source_ip[SO_IP_MAX];
    char helo[SO_HOST_MAX];
    char domain[SO_HOST_MAX];
    char route[512];
    char *skip_mx;              /* hosts qmgr avoids (skip-mx), "a,b", or NULL */
    /* MX hosts that refused at greeting/EHLO/HELO while this connection
     * was set up: handed to the job it was made for (RESULT.refused) */
    struct result_refusal refused[SO_REFUSED_MAX];
    uint32_t nrefused;
    unsigned t_connect, t_cmd, t_data, max_msgs;
    /* connection attempts */
    struct resolve_req *rq;
    struct dest_addr *addrs;
    size_t naddrs, cur;
    char last_err[1024];
    char local_ip[SO_IP_MAX];
    int esmtp;
    struct smtp_ehlo ehlo;
    struct smtp_reply_parser rp;
    unsigned msgs;
    int no_reuse;               /* the server said 421: do not reuse */
    /* the transaction */
    struct so_job *job;
    struct message_src msg;
    size_t nsteps, next_send, next_reply;
    int with_rset;
    struct saved_reply mail, data;
    struct saved_reply *rcpt;
    size_t nrcpt;               /* entries of rcpt (the job may be gone) */
    size_t accepted;
    int discard_dot;            /* 354 with nothing accepted: send "." only */
    int body_inflight, body_done;
};

/* client.c */
const char *conn_peer(const struct so_conn *c, char *out, size_t outlen);
void conn_timer_start(struct so_conn *c, unsigned seconds, uv_timer_cb cb);
void conn_phase_timeout(uv_timer_t *t);
int conn_write(struct so_conn *c, const char *data, size_t len);
void conn_close(struct so_conn *c);

/* transaction.c */
void txn_reply(struct so_conn *c, const struct smtp_reply *r);
void txn_dot_reply(struct so_conn *c, const struct smtp_reply *r);
void conn_body_next(struct so_conn *c);
/* Fail the job in progress after a connection-level problem (timeout,
 * lost connection) and close; a cached connection that died before MAIL
 * was answered gives its job back to the pool instead. */
void conn_txn_abort(struct so_conn *c, const char *why);

#endif
