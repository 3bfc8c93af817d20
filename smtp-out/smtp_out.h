/*
 * smtp_out.h - interfaces between the modules of the delivery daemon
 * (bin/smtp-out).  Only smtp-out/ includes this header.
 *
 *   main.c     loop, qmgr connection, jobs in, slots, signals
 *   job.c      a job's end: RESULT out, log lines, jobs in flight
 *   route.c    pure logic: route strings, MX ordering, null MX (tested)
 *   resolve.c  c-ares on the libuv loop: MX then A/AAAA -> address list
 *   connpool.c connections per (source ip, helo, destination) and the jobs
 *              waiting for them
 *   client.c   one connection: resolve, connect, greeting, EHLO, idle, QUIT
 *   transaction.c  one message on it: MAIL, RCPT, DATA, body, results
 *   message.c  MAIL/RCPT parameters and the dot-stuffed message stream
 *   sign.c     the DKIM stage: a job's signatures from dkimsign, before
 *              it joins the pool
 */
#ifndef COURSER_SMTP_OUT_H
#define COURSER_SMTP_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "buf.h"
#include "proto.h"
#include "smtp_reply.h"

#define SO_HOST_MAX 256
#define SO_IP_MAX   64
#define SO_MX_MAX   16          /* MX hosts we look at, in preference order */
#define SO_ADDR_MAX 32          /* addresses we try for one connection */
#define SO_REFUSED_MAX 8        /* refusals reported per connection */
#define SO_KEY_MAX  (3 * SO_HOST_MAX + 600 + PROTO_TEXT_MAX)  /* + skip-mx list */

/* ---- a delivery job (main.c) ---------------------------------------- */
struct so_job {
    struct msg_deliver d;
    uint64_t gen;               /* qmgr connection it came from */
    char key[SO_KEY_MAX];       /* connpool key */
    int requeued;               /* retried once after a stale cached conn */
    struct result_refusal *refused; /* from the connection set up for it (RESULT) */
    uint32_t nrefused;
    char *dkim_hdr;             /* DKIM-Signature header(s) to send first, or NULL */
    size_t dkim_len;
    struct so_job *next;        /* in a connpool wait queue */
};

/* job.c: state shared with main.c */
struct ipc_conn;
struct job_ctx {
    struct ipc_conn *qmgr;      /* NULL while disconnected */
    uint64_t gen;               /* bumped on every qmgr (re)connect */
    uint32_t inflight;          /* jobs received and not yet finished */
    char spool_dir[4096];
    char host_name[SO_HOST_MAX];    /* EHLO name when a job has none */
};
extern struct job_ctx job_ctx;

/* Send the RESULT of j (if its qmgr connection is still the current one),
 * with the MX refusals j holds, and free j. */
void job_finish(struct so_job *j, struct msg_result *res);
/* Every recipient of j gets the same locally made reply (local=1). */
void job_fail_local(struct so_job *j, int code, const char *status, const char *text,
                    const char *remote_mx, const char *remote_ip);
/* Answer a DELIVER we will not run (451 4.3.2 local); takes d's memory. */
void job_refuse(struct msg_deliver *d, const char *why);
/* The spool directory of the current configuration. */
const char *job_spool_dir(void);

/* ---- sign.c: the DKIM stage ------------------------------------------ */
struct config;
/* Connect lazily to run_dir/dkimsign.sock.  -1 if out of memory. */
int sign_init(uv_loop_t *loop, const char *run_dir);
/* Sign j if its (vmta, domain) settings say dkim-sign, then pool_submit
 * it; or fail it (dkim-fail-action defer).  cfg is only read during the
 * call. */
void sign_submit(struct so_job *j, const struct config *cfg);
void sign_stats(unsigned long *signed_msgs, unsigned long *cache_hits, unsigned long *deferred,
                unsigned long *unsigned_sent);
void sign_shutdown(void);

/* ---- route.c: pure logic -------------------------------------------- */
struct dest_addr {
    char host[SO_HOST_MAX];     /* MX or route host name (or the literal) */
    char ip[SO_IP_MAX];
    uint16_t port;
};

struct route_host {
    char host[SO_HOST_MAX];     /* name, or bare literal address */
    uint16_t port;
    int literal;                /* host is an IP address: no DNS */
};

/* "host[:port][,host[:port]...]": host a name, a literal IPv4, "[ip]" or
 * "[ipv6]".  Port 25 when absent.  Returns the count (1..max) or -1. */
int route_parse(const char *route, struct route_host *out, size_t max);

struct mx_entry {
    char host[SO_HOST_MAX];
    unsigned pref;
    unsigned rnd;               /* tie-break among equal preference */
};
enum mx_verdict { MX_OK = 0, MX_NULL = 1 };
/* Whether host is in list ("a,b,c", case-insensitive; NULL = empty). */
int route_host_listed(const char *list, const char *host);
/* Keep the addresses of a[0..n) whose host is not in skip; returns how
 * many are left (in order, compacted in place). */
size_t route_skip_hosts(struct dest_addr *a, size_t n, const char *skip);
/* RFC 7505: a single MX with exchange "." (or "") means no mail. */
enum mx_verdict mx_check_null(const struct mx_entry *e, size_t n);
/* Order by preference, random among equal preference (RFC 5321 5.1);
 * rnd() supplies the randomness (tests pass a fixed sequence). */
void mx_sort(struct mx_entry *e, size_t n, unsigned (*rnd)(void));

/* ---- resolve.c ------------------------------------------------------ */
struct resolve_fail {
    int code;                   /* 451, 550, 556 */
    char status[16];
    char text[512];
};
typedef void (*resolve_cb)(void *arg, const struct dest_addr *a, size_t n,
                           const struct resolve_fail *fail);
struct resolve_req;

int resolve_init(uv_loop_t *loop, const char *server_ip, uint16_t port);
void resolve_shutdown(void);
/* Resolve route (if non-empty) else the MX of domain.  cb runs once, later
 * (never from inside this call), unless cancelled.  NULL on no memory. */
struct resolve_req *resolve_start(const char *domain, const char *route,
                                  resolve_cb cb, void *arg);
void resolve_cancel(struct resolve_req *r);

/* ---- message.c ------------------------------------------------------ */
/* Dot-stuffing across chunk boundaries (RFC 5321 4.5.2). */
struct dotstuff {
    int bol;                    /* next byte starts a line */
    char last[2];               /* last two input bytes */
    uint64_t seen;
};
void dotstuff_init(struct dotstuff *ds);
/* Append n input bytes to out, stuffed.  -1 if out is full. */
int dotstuff_chunk(struct dotstuff *ds, const char *in, size_t n, struct buf *out);
/* Append the end of data: CRLF if the input did not end with one, ".\r\n". */
int dotstuff_end(struct dotstuff *ds, struct buf *out);

struct smtp_ehlo;
/* Append "MAIL FROM:<...> [SIZE=] [BODY=8BITMIME] [RET= ENVID=]\r\n" and
 * one "RCPT TO:<...> [NOTIFY= ORCPT=]\r\n" per recipient.  notify/orcpt
 * per recipient may be NULL (no DSN data).  -1 if out is full. */
int message_mail_cmd(struct buf *out, const struct msg_deliver *d, const struct smtp_ehlo *e,
                     uint64_t size);
int message_rcpt_cmd(struct buf *out, const char *addr, uint32_t notify, const char *orcpt,
                     const struct smtp_ehlo *e);

/* A message opened from the spool, streamed in chunks. */
struct message_src {
    int fd;
    uint64_t off, len, pos;
    const char *prefix;         /* sent before the message (DKIM-Signature), or NULL */
    size_t prefix_len;
    int prefix_sent;
    struct dotstuff ds;
    /* DSN data of the envelope, by spool recipient index (only read when
     * the server offers DSN) */
    uint32_t nrcpt;
    uint32_t *notify;
    char **orcpt;
};
int message_open(struct message_src *m, const char *spool_dir, const char *qid,
                 int want_dsn, char *err, size_t errlen);
/* Append up to chunk input bytes, stuffed, to out; at the end also the
 * terminating ".\r\n".  Returns 1 when the end was appended, 0 if more
 * follow, -1 on a read error (err filled). */
int message_next(struct message_src *m, struct buf *out, size_t chunk, char *err, size_t errlen);
void message_close(struct message_src *m);

/* ---- client.c / connpool.c ------------------------------------------ */
struct so_conn;
/* Hand the connection's set-up refusals to j (each is reported once). */
void conn_give_refusals(struct so_conn *c, struct so_job *j);
struct pool_group;

/* connpool.c */
void pool_init(uv_loop_t *loop);
void pool_submit(struct so_job *j);
/* Connection callbacks from client.c. */
void pool_conn_ready(struct so_conn *c);            /* free for a job */
void pool_conn_failed(struct so_conn *c, int code, const char *status, const char *text,
                      const char *mx, const char *ip);
void pool_conn_gone(struct so_conn *c);             /* about to be freed */
/* Put j back at the head of its key's queue (stale cached connection). */
void pool_requeue(struct so_job *j);
/* Close idle connections (QUIT) and refuse new connects.  Returns the
 * number of connections still open. */
size_t pool_shutdown(void);
size_t pool_conn_count(void);
size_t pool_connects_total(void);

/* client.c */
struct so_conn *conn_new(uv_loop_t *loop, struct pool_group *g, const struct so_job *j);
void conn_start_job(struct so_conn *c, struct so_job *j);
/* Cache an idle connection for `seconds`, then QUIT. */
void conn_idle(struct so_conn *c, unsigned seconds);
void conn_quit(struct so_conn *c);
struct pool_group *conn_group(const struct so_conn *c);
/* Another message may go on c: no 421 seen, max-msg-per-connection not
 * reached. */
int conn_reusable(const struct so_conn *c);
int conn_usable(const struct so_conn *c);

#endif
