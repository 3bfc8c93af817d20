/*
 * bounced - the types shared by the bounce daemon's modules (this daemon
 * only):
 *   main.c       command line: daemon mode, --classify, --classify-reply
 *   server.c     loop, bounced.sock (qmgr: BOUNCE; master: CTL_REQUEST),
 *                the job queue, the inbound/ watch, outboxes to acctd/qmgr
 *   failure.c    a final failure from qmgr: suppression, DSN to the sender
 *   dsn_make.c   the RFC 3464 DSN text
 *   inbound.c    mail for a bounce-domain: async bounces and complaints
 *   original.c   the original message's fields from acctd's LMDB
 *   control.c    `mtactl suppression ...`
 *   classify.c and the parsers it calls: what a notice says
 *
 * Jobs run one at a time on libuv's thread pool (spool reads and writes,
 * fsync, LMDB write transactions), so the single-writer database and the
 * context below are only ever touched by one thread at a time; the loop
 * thread applies a job's results (acknowledgements, accounting records,
 * MSG_NEW for a DSN it spooled, control replies) when it comes back.
 */
#ifndef COURSER_BOUNCED_H
#define COURSER_BOUNCED_H

#include <stddef.h>
#include <stdint.h>
#include "acct.h"
#include "bounce_patterns.h"
#include "bounce_proto.h"
#include "buf.h"
#include "config.h"
#include "queueid.h"
#include "suppress.h"
#include "verp_sign.h"

struct bpipe;
struct acctdb;

struct bounced_ctx {
    struct config *cfg;
    struct bounce_patterns *patterns;
    struct suppress_db *sdb;
    struct verp_key key;
    struct bpipe *bounce_pipe;  /* NULL = none (pipe.h) */
    struct bpipe *fbl_pipe;
    struct acctdb *adb;         /* acctd's LMDB, read-only (original.c); NULL = not open */
};

enum bjob_kind { BJ_FAILURE, BJ_INBOUND, BJ_CTL };

/* An inbound file processed by a job: renamed to inbound/.done-QID, and
 * removed once acctd has acknowledged its records [first, last). */
struct bjob_file {
    char qid[QUEUE_ID_SIZE];
    size_t first, last;
};
#define INBOUND_DONE_PREFIX ".done-"

#define BJOB_BATCH_MAX 100     /* failures of one message in one job (one DSN) */
#define BJOB_GROUP_MAX 256     /* batches (messages) whose writes share one commit */

struct bjob {
    struct bjob *next;
    struct bjob *batch;         /* BJ_FAILURE: more failures of the same message */
    struct bjob *group;         /* BJ_FAILURE: the next batch (other message) of this run */
    enum bjob_kind kind;
    uint64_t conn_id;           /* who to answer (0 = nobody) */
    uint32_t reqid;
    struct msg_bounce ev;       /* BJ_FAILURE */
    uint32_t argc;              /* BJ_CTL */
    char **argv;
    /* results, applied on the loop thread */
    struct acct_record *recs;
    size_t nrecs, caprecs;
    char dsn_qid[QUEUE_ID_SIZE];  /* a DSN spooled: tell qmgr */
    struct buf reply;           /* BJ_CTL text */
    uint32_t status;
    struct buf pipe_b, pipe_f;  /* event lines for bounce-pipe / fbl-pipe */
    uint64_t pipe_b_size, pipe_f_size;  /* queue file sizes after appending */
    struct bjob_file *files;    /* BJ_INBOUND */
    size_t nfiles, capfiles;
    char (*fwd)[QUEUE_ID_SIZE]; /* BJ_INBOUND: forwarded copies spooled: tell qmgr */
    size_t nfwd, capfwd;
};

#define BJOB_PIPE_MAX (16u << 20)

/* Take ownership of *r (zeroed afterwards).  -1 when out of memory. */
int bjob_add_record(struct bjob *j, struct acct_record *r);
int bjob_add_file(struct bjob *j, const char *qid, size_t first, size_t last);
int bjob_add_forward(struct bjob *j, const char *qid);

/* failure.c: the batches j, j->group, ... (their suppression entries in
 * one LMDB transaction, their DSNs in one spool group commit). */
void failure_run(struct bounced_ctx *c, struct bjob *j);
/* inbound.c: process every file in SPOOL/inbound. */
void inbound_run(struct bounced_ctx *c, struct bjob *j);
/* At start: files processed but whose records acctd may not have taken
 * (inbound/.done-QID) are put back to be processed again. */
void inbound_recover(const char *spool_dir);
/* Process one inbound message (envelope + bytes); used by inbound_run and
 * the unit tests.  Returns the number of records made. */
struct spool_envelope;
int inbound_message(struct bounced_ctx *c, struct bjob *j, const struct spool_envelope *env,
                    const char *data, size_t len);
/* original.c: fill orig, timeQueued, vmta, vmtaPool, jobId, envId (and,
 * for the same recipient, dlvSourceIp, queue) of the message qid into the
 * empty fields of out.  1 = found, 0 = not (or no LMDB), -1 = no memory. */
int original_fill(struct bounced_ctx *c, const char *qid, const char *rcpt, struct acct_record *out);
void original_close(struct bounced_ctx *c);
/* control.c */
void bctl_run(struct bounced_ctx *c, struct bjob *j);
/* server.c: the daemon (`bounced -c FILE`); returns the exit status. */
int server_run(const char *config_path);
/* Build patterns and VERP key for cfg into c (cfg, sdb untouched).
 * 0, or -1 with err. */
int server_ctx_load(struct bounced_ctx *c, const struct config *cfg, char *err, size_t errlen);

#endif
