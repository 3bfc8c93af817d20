/*
 * qmgr - the queue manager's shared types: messages, compact recipient
 * records, destination queues, workers, jobs, and the one `struct qmgr`
 * that owns them.  Only the qmgr sources include this header.
 *
 * The core (message, queue, schedule, dispatch, result) works on a
 * struct qmgr and a caller-supplied clock; everything that touches the
 * outside world goes through the hooks at the end of struct qmgr, so unit
 * tests drive it without a libuv loop.  main.c fills the hooks with the
 * real IPC, timers and journal.
 */
#ifndef COURSER_QMGR_H
#define COURSER_QMGR_H

#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include "acct.h"
#include "buf.h"
#include "ipc.h"
#include "config.h"
#include "proto.h"
#include "spool.h"

/* --- hash map: string key -> pointer (keys are owned by the values) --- */
struct hentry {
    struct hentry *next;
    const char *key;
    void *val;
};
struct hmap {
    struct hentry **b;
    size_t nb, n;
};
void hmap_init(struct hmap *h);
void *hmap_get(const struct hmap *h, const char *key);
int hmap_put(struct hmap *h, const char *key, void *val);     /* -1 no memory */
void *hmap_del(struct hmap *h, const char *key);
/* Iterate: call fn for every value. */
void hmap_each(const struct hmap *h, void (*fn)(void *val, void *arg), void *arg);
void hmap_free(struct hmap *h);

/* --- intrusive binary min-heap keyed by time (ms since the epoch) --- */
#define HEAP_NONE UINT32_MAX
struct hnode {
    int64_t key;
    uint32_t idx;           /* position in the heap, HEAP_NONE if not in */
};
struct heap {
    struct hnode **a;
    uint32_t n, cap;
};
void heap_init(struct heap *h);
int heap_push(struct heap *h, struct hnode *x, int64_t key);
void heap_remove(struct heap *h, struct hnode *x);
int heap_update(struct heap *h, struct hnode *x, int64_t key);  /* push or move */
struct hnode *heap_top(const struct heap *h);
void heap_free(struct heap *h);

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* --- recipients ------------------------------------------------------- */
enum rcpt_state {
    RS_NEW = 0,         /* loaded, not scheduled yet */
    RS_READY,           /* on its queue's ready list */
    RS_WAIT,            /* waiting for its retry time */
    RS_INFLIGHT,        /* part of a job at a worker */
    RS_DELIVERED,       /* final */
    RS_BOUNCED,         /* final */
};
#define RF_EXPIRE 1     /* expired while in flight: bounce unless delivered */
#define RF_DELETE 2     /* deleted by mtactl while in flight: bounce unless delivered */
/* bits 4-7 of qrcpt.flags: delay notices sent + 1 (bounce_client.c); RF_* stay in 0-3 */

struct qmsg;
struct queue;

/* One per recipient: ~64 bytes; the address lives in the message's
 * envelope (stored once).  Every non-final scheduled recipient is in the
 * timer heap: READY/INFLIGHT at its expiry, WAIT at min(retry, expiry). */
struct qrcpt {
    struct qmsg *msg;
    struct queue *q;
    struct qrcpt *prev, *next;  /* queue's ready list */
    struct hnode tn;            /* timer heap node */
    uint32_t index;             /* in the spool envelope */
    uint16_t attempts;
    uint8_t state;              /* enum rcpt_state */
    uint8_t flags;              /* RF_* */
};

struct qmsg {
    char qid[QUEUE_ID_SIZE];
    struct spool_envelope env;  /* strings held once */
    uint64_t size;              /* message bytes */
    char *vmta;                 /* resolved virtual-mta (a pool member) */
    char *pool;                 /* the pool it came from, or NULL */
    uint32_t nleft;             /* recipients not final */
    struct qrcpt *r;            /* env.nrcpt records */
};

/* --- destination queues ------------------------------------------------ */
struct worker;

struct queue {
    char *name;                 /* "domain/vmta" (hash key) */
    char *domain, *vmta;        /* point into name's storage copy */
    struct cfg_domain_settings s;
    struct qrcpt *ready_head, *ready_tail;
    uint32_t nready, nwait, ninflight;  /* recipients */
    uint32_t jobs;              /* jobs in flight (vs s.max_smtp_out) */
    uint32_t host_rr;           /* smtp-source-host rotation */
    struct worker *last_worker; /* served it last: reuse its connection */
    int mx_rollup;              /* an <mx-rollup-list> queue: domains vary */
    struct queue *run_next;     /* runnable list */
    int on_run;
    struct qshape *shape;       /* traffic shaping state (shaping.h) */
};

/* --- workers and jobs ---------------------------------------------------- */
struct job {
    uint64_t id;
    struct worker *w;
    struct queue *q;
    struct qmsg *m;
    struct job *next;           /* worker's list */
    struct hnode wd;            /* watchdog (job heap) */
    uint32_t nrcpt;
    struct qrcpt **rcpts;
    int32_t vc;                 /* connection ledger slot (shaping.c), -1 none */
    uint32_t host;              /* smtp-source-host index used */
};

struct worker {
    void *conn;                 /* struct ipc_conn *, opaque to the core */
    uint32_t pid, slots, inflight;
    int broken;                 /* a send failed: no more jobs */
    struct job *jobs;
    struct worker *next;
};

struct journal;
struct jrec;

struct qmgr_stats {
    uint64_t delivered, bounced, deferred;
};

struct qmgr {
    struct config *cfg;
    struct hmap msgs;           /* qid -> struct qmsg */
    struct hmap queues;         /* name -> struct queue */
    struct hmap rr;             /* pool name -> struct route_pool (route.c) */
    struct hmap rollups;        /* domain -> struct route_rollup (route.c) */
    struct heap timers;         /* recipients */
    struct heap watchdogs;      /* jobs */
    struct heap qwake;          /* queues waiting for a rate, a pause (shaping.c) */
    struct hmap pauses;         /* mtactl pause/resume: "domain[/vmta]" -> struct qpause */
    /* mtactl disable source, kept for restarts and later queues
     * (pause_state.c); pause_path NULL = not persisted (tests) */
    struct pause_disable { char spec[2 * 256 + 2]; char ip[64]; int64_t until; } *pdis;
    size_t npdis;
    char *pause_path;
    struct hmap warmups;        /* vmta name -> struct warmup (warmup.c) */
    int warmup_dirty;           /* counters changed since the last save */
    struct queue *run_head, *run_tail;
    struct worker *workers;
    uint64_t next_job_id;
    uint64_t nrcpt_queued;      /* non-final recipients */
    uint64_t nrcpt_inflight;
    struct qmgr_stats st;
    struct journal *jr;         /* NULL: no persistence (tests) */
    int stopping;               /* no new dispatch */
    int loading;                /* start-up: done messages are not removed yet */

    /* hooks (NULL = do nothing) */
    void *hook_arg;
    int (*send_deliver)(struct qmgr *m, struct worker *w, const struct msg_deliver *d);
    void (*emit_acct)(struct qmgr *m, const struct acct_record *r);
    void (*remove_spool)(struct qmgr *m, const char *qid);
    uint32_t (*random)(struct qmgr *m);
    /* Whether a pool member may take new mail (not paused/disabled);
     * NULL = every member may.  route.c skips the others. */
    int (*vmta_usable)(struct qmgr *m, const char *vmta);
    /* The outbox streams (acct_client.c, bounce_client.c) in the journal:
     * a replayed JR_OUTBOX/JR_ACKED, and at compaction the records still
     * unacknowledged, written with put(ctx, record). */
    void (*journal_replay_outbox)(struct qmgr *m, const struct jrec *r);
    void (*journal_pending)(struct qmgr *m, int (*put)(void *ctx, const struct jrec *r),
                            void *ctx);
};

/* qmgr core lifetime (queue.c) */
void qmgr_init(struct qmgr *m, struct config *cfg);
void qmgr_free(struct qmgr *m);
/* Re-read every queue's settings after a reload. */
void qmgr_reconfigure(struct qmgr *m, struct config *cfg);

/* queue.c */
struct queue *queue_get(struct qmgr *m, const char *domain, const char *vmta);
void queue_ready_push(struct qmgr *m, struct qrcpt *r);
void queue_ready_remove(struct qrcpt *r);
void queue_mark_runnable(struct qmgr *m, struct queue *q);
/* Free idle queues (nothing queued, nothing in flight); returns how many. */
size_t queue_sweep(struct qmgr *m);

/* message.c */
/* Load spool file qid: 1 = loaded (*out), 0 = already known, -1 = error. */
int message_load(struct qmgr *m, const char *spool_dir, const char *qid,
                 struct qmsg **out, char *err, size_t errlen);
/* Build a message from an envelope already read (takes ownership of env). */
struct qmsg *message_add(struct qmgr *m, struct spool_envelope *env, uint64_t size);
/* Put every non-final recipient on its queue or timer. */
void message_schedule(struct qmgr *m, struct qmsg *msg, int64_t now_ms);
/* Called when a recipient became final; removes the message when done. */
void message_rcpt_final(struct qmgr *m, struct qrcpt *r);
/* Remove the message if every recipient is final: 1 = freed. */
int message_check_done(struct qmgr *m, struct qmsg *msg);
void message_free(struct qmsg *msg);
const char *message_rcpt_domain(const char *addr, char *out, size_t outlen);

/* route.c: the virtual MTA of a message, the queue of a recipient */
int route_message_vmta(struct qmgr *m, struct qmsg *msg);
struct queue *route_queue(struct qmgr *m, const char *domain, const char *vmta);
const char *route_pick_member(struct qmgr *m, const struct cfg_pool *pool);
void route_free(struct qmgr *m);
/* A delivery of queue q's mail reached mail exchanger mx: learn whether
 * q's domain rolls up (<mx-rollup-list>). */
void route_learn_mx(struct qmgr *m, const struct queue *q, const char *mx);
/* `r` (receipt) accounting records of a newly arrived message, one per
 * recipient, if an <acct-file> takes them: the routing decision as made. */
void route_emit_receipts(struct qmgr *m, const struct qmsg *msg, int64_t now_ms);
/* After a reload: forget what was learned under the old rollup list. */
void route_reconfigure(struct qmgr *m);

/* schedule.c */
int64_t rcpt_expiry_ms(const struct qrcpt *r);
/* Seconds to wait after the attempts-th failure (attempts >= 1). */
uint32_t schedule_retry_delay(const struct cfg_domain_settings *s, uint32_t attempts,
                              int rcpt_level);
/* delay_ms jittered by +-10% using rnd (uniform 32 bits). */
int64_t schedule_jitter(int64_t delay_ms, uint32_t rnd);
/* The queue of name "domain/vmta", or NULL. */
struct queue *queue_find(struct qmgr *m, const char *name);
/* Put r in WAIT until next_ms (or expire it at its expiry when earlier). */
void schedule_wait(struct qmgr *m, struct qrcpt *r, int64_t next_ms);
/* Take r out of its state's list and counters (not the heap). */
void rcpt_detach(struct qmgr *m, struct qrcpt *r);
/* Make r ready now (requeue without counting an attempt). */
void schedule_ready(struct qmgr *m, struct qrcpt *r);
/* Process every timer due at now_ms (retries, expiries, job watchdogs). */
void schedule_run_timers(struct qmgr *m, int64_t now_ms);
/* Earliest pending timer, or -1. */
int64_t schedule_next_ms(const struct qmgr *m);

/* dispatch.c */
struct worker *worker_add(struct qmgr *m, void *conn, uint32_t pid, uint32_t slots);
/* Connection lost: requeue its jobs now, forget it. */
void worker_remove(struct qmgr *m, struct worker *w, int64_t now_ms);
struct job *worker_find_job(struct worker *w, uint64_t job_id);
void dispatch_run(struct qmgr *m, int64_t now_ms);
void job_free(struct qmgr *m, struct job *j);
/* Requeue (or expire) the recipients of a lost job and free it. */
void job_requeue(struct qmgr *m, struct job *j, int64_t now_ms);

/* result.c */
/* Apply a RESULT from w.  Returns 0, or -1 for an unknown job. */
int result_apply(struct qmgr *m, struct worker *w, const struct msg_result *res, int64_t now_ms);
/* Bounce r as expired (4.4.7 message-expired). */
void result_expire(struct qmgr *m, struct qrcpt *r, int64_t now_ms, const char *why);
/* Bounce r with a locally made reply (status "5.x.x", diag "550 ..."). */
void result_bounce_local(struct qmgr *m, struct qrcpt *r, int64_t now_ms,
                         const char *status, const char *diag);
/* Fill an accounting record for recipient r. */
int result_acct_fill(struct acct_record *a, const struct qrcpt *r, const char *type,
                     const char *action, const char *status, const char *diag,
                     const struct msg_result *res, int64_t now_ms);

/* journal.c */
enum jrec_type {
    JR_RCPT = 1, JR_DONE = 2,
    JR_OUTBOX = 3,              /* a frame another daemon must acknowledge */
    JR_ACKED = 4,               /* every JR_OUTBOX of the stream below rid is done */
};
/* The outbox streams kept in the journal (jrec.state of JR_OUTBOX/ACKED). */
enum jrec_stream { JS_ACCT = 1, JS_BOUNCE = 2 };
struct jrec {
    uint8_t type;               /* enum jrec_type */
    uint8_t state;              /* RS_WAIT, RS_DELIVERED, RS_BOUNCED; the stream */
    uint16_t attempts;
    uint32_t index;
    int64_t next_ms;
    char qid[QUEUE_ID_SIZE];    /* JR_OUTBOX: may be empty */
    uint64_t rid;               /* JR_OUTBOX, JR_ACKED: record id in the stream */
    uint32_t len;               /* JR_OUTBOX: bytes at data (an encoded frame) */
    const unsigned char *data;  /* valid during the replay callback only */
};
#define JOURNAL_REC_SIZE 48
#define JOURNAL_DATA_MAX (IPC_MAX_PAYLOAD + IPC_HDR_LEN)
/* Fixed part of a record (a JR_OUTBOX's data follows it; its CRC is in
 * the fixed part, checked by the replay). */
int journal_encode(const struct jrec *r, unsigned char out[JOURNAL_REC_SIZE]);
int journal_decode(const unsigned char in[JOURNAL_REC_SIZE], struct jrec *r);
/* Append the whole record (fixed part and data) to out. */
int journal_put(struct buf *out, const struct jrec *r);
struct journal *journal_open(const char *spool_dir, char *err, size_t errlen);
void journal_close(struct journal *j);
/* Read every valid record in order; a torn or corrupt tail ends the
 * replay.  Returns the number of records, -1 on an I/O error. */
long journal_replay(struct journal *j, void (*fn)(const struct jrec *r, void *arg), void *arg);
int journal_append(struct journal *j, const struct jrec *r);
int journal_flush(struct journal *j);       /* write(2) buffered records */
int journal_sync(struct journal *j);        /* fdatasync (blocking) */
int journal_dirty(const struct journal *j); /* written since the last sync */
void journal_mark_synced(struct journal *j, uint64_t upto);
uint64_t journal_written(const struct journal *j);
/* Rewrite with only the live state of m (new file, fsync, rename): the
 * recipients' states and, through m->journal_pending, the outboxes'
 * unacknowledged records. */
int journal_compact(struct journal *j, struct qmgr *m);
int journal_wants_compaction(const struct journal *j);
/* Journal the state of a recipient / a finished message (no-op if m->jr is NULL). */
void journal_rcpt(struct qmgr *m, const struct qrcpt *r, int64_t next_ms);
void journal_done(struct qmgr *m, const struct qmsg *msg);
/* Journal a frame of an outbox stream before it counts as sent (JR_OUTBOX),
 * and the stream's acknowledgement mark (JR_ACKED): no-ops without m->jr.
 * -1 when the record cannot be buffered. */
int journal_outbox(struct qmgr *m, uint8_t stream, uint64_t rid, const char *qid,
                   const void *data, size_t len);
void journal_acked(struct qmgr *m, uint8_t stream, uint64_t mark);
/* Apply replayed records to loaded messages (start-up); JR_OUTBOX and
 * JR_ACKED go to m->journal_replay_outbox. */
void journal_apply(const struct jrec *r, void *arg);

/* tmpclean.c */
/* Remove tmp/ files whose writer process is gone; returns how many. */
int tmpclean_run(const char *spool_dir);

/* control.c */
/* Answer argv into out; returns the CTL_REPLY status (0 = ok). */
int control_run(struct qmgr *m, int argc, char **argv, struct buf *out, int64_t now_ms);
/* show_message.c: `show message QUEUE-ID` (1 = not found) */
int show_message(struct qmgr *m, const char *qid, struct buf *out);

#endif
