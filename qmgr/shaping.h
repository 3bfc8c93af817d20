/*
 * shaping.h - qmgr's traffic shaping (issue 4): per-queue rate limiters
 * (GCRA), the connection ledger that keeps max-smtp-out and
 * max-connect-rate exact across all smtp-out workers, queue modes
 * (normal/backoff), pauses (manual, hold-domain, connect failure,
 * defer-queue) and the reactions to replies (smtp-pattern-list).
 * Only qmgr sources include this header.
 *
 *   ratelimit.c  pure GCRA arithmetic on a caller's clock (unit-tested)
 *   shaping.c    the dispatch gate, the connection ledger, the queue
 *                wake-up heap, effective limits per mode
 *   backoff.c    reactions to results: patterns, mode changes, pauses
 *   control_shaping.c  mtactl pause/resume/schedule/delete/show settings
 */
#ifndef COURSER_QMGR_SHAPING_H
#define COURSER_QMGR_SHAPING_H

#include <stdint.h>
#include "config.h"
#include "qmgr.h"

/* --- ratelimit.c ----------------------------------------------------------
 * GCRA ("virtual scheduling"): tat is the theoretical arrival time of the
 * next unit.  A unit conforms at now when tat - tau <= now, tau =
 * (burst - 1) * T, T = period / count.  So with burst 1 units are spaced
 * exactly T apart: a 600/h queue sends one every 6 s, never an hour's
 * quota in one second; an idle queue earns at most `burst` units. */
struct rate_limit {
    int64_t tat_us;             /* 0 = never used */
};
/* Units (<= want) that may go at now_ms; 0 and *wake_ms when none. An
 * unlimited rate (count 0) returns want. Does not consume. */
uint32_t rate_avail(const struct rate_limit *rl, const struct cfg_rate *r, uint32_t burst,
                    int64_t now_ms, uint32_t want, int64_t *wake_ms);
/* Consume n units at now_ms (after rate_avail said they may go). */
void rate_take(struct rate_limit *rl, const struct cfg_rate *r, int64_t now_ms, uint32_t n);
/* Volume: whether cost may start now (tat <= now), else *wake_ms; and charge it. */
int rate_volume_ok(const struct rate_limit *rl, const struct cfg_rate *r, int64_t now_ms,
                   int64_t *wake_ms);
void rate_volume_charge(struct rate_limit *rl, const struct cfg_rate *r, int64_t now_ms,
                        uint64_t cost);

/* --- per-queue state (shaping.c) ------------------------------------------ */
enum qmode { QM_NORMAL = 0, QM_BACKOFF = 1 };

/* One connection qmgr believes smtp-out has open (or may still have) for
 * this queue: busy with a job, or idle in smtp-out's cache until
 * reuse_until (qmgr may send it a job) / alive_until (it may still be
 * open: counts against max-smtp-out).  See shaping.c for why. */
struct vconn {
    struct worker *w;
    uint32_t host;              /* smtp-source-host index: part of smtp-out's pool key */
    uint32_t msgs;              /* jobs it ran (max-msg-per-connection) */
    int64_t reuse_until, alive_until;
    uint8_t busy, used;
};

#define SHAPE_REASON_MAX 256
#define SHAPE_DISABLED_MAX 16
#define SHAPE_SKIPMX_MAX 16         /* = smtp-out's SO_MX_MAX */
#define SHAPE_MX_HOST_MAX 256

struct qshape {
    struct queue *q;
    struct hnode wake;          /* m->qwake: when a limit or pause ends */
    struct rate_limit msg_rl, conn_rl, vol_rl;
    uint8_t mode;               /* enum qmode */
    uint8_t paused;             /* mtactl pause / hold-domain */
    uint8_t probing;            /* after a connect-failure pause: one connection */
    int64_t mode_since, paused_since;
    int64_t backoff_until;      /* ms; 0 = never (backoff-to-normal-after never) */
    char mode_reason[SHAPE_REASON_MAX];     /* the reply that caused backoff */
    char pause_reason[SHAPE_REASON_MAX];    /* "paused by mtactl", "hold-domain", ... */
    int64_t retry_until;        /* queue-wide retry pause (connect failure, defer-queue) */
    char retry_reason[SHAPE_REASON_MAX];
    uint32_t conn_failures;     /* consecutive connect failures (retry-after index) */
    uint32_t backoff_conns;     /* max-smtp-out in backoff, fixed at entry */
    struct cfg_rate backoff_rate;   /* max-msg-rate in backoff, fixed at entry */
    uint16_t seen[60];          /* recipients attempted per second, last minute */
    int64_t seen_sec;
    struct vconn *vc;
    uint32_t nvc;
    /* disabled source IPs: allocated on first use (SHAPE_DISABLED_MAX),
     * so the common queue stays small (10,000s of queues) */
    struct disabled_ip { char ip[64]; int64_t until; } *disabled;
    uint32_t ndisabled;
    /* MX hosts avoided after a skip-mx reply (skipmx.c), allocated on
     * first use (SHAPE_SKIPMX_MAX) */
    struct skipped_mx { char host[SHAPE_MX_HOST_MAX]; int64_t until; } *skipmx;
    uint32_t nskipmx;
    /* the mx-/ip-connection-limit line of the queue's learned mail
     * exchanger (connlimit.c): >= 0, CL_NONE, CL_UNKNOWN */
    int16_t climit;
    /* source-ip-max-msg-rate / -connect-rate per smtp-source-host index,
     * allocated when the queue has such limits */
    struct host_rl { struct rate_limit msg, conn; } *hrl;
    uint32_t nhrl;
};
/* A free slot in s->disabled (allocating the array), or NULL. */
struct disabled_ip *shaping_disabled_slot(struct qshape *s);

/* What the gate allows for one job. */
struct shape_grant {
    struct worker *w;           /* NULL: dispatch picks (new connection) */
    int32_t vc;                 /* ledger slot to reuse, -1 = new connection */
    int32_t host;               /* smtp-source-host index, -1 = rotate */
    uint32_t max_rcpt;
};

struct qshape *shaping_new(struct qmgr *m, struct queue *q);
void shaping_free(struct qmgr *m, struct queue *q);
/* Whether q may get a job now; else arms q's wake-up and returns 0. */
int shaping_gate(struct qmgr *m, struct queue *q, int64_t now_ms, struct shape_grant *g);
/* The job was sent: consume rate tokens, occupy the ledger slot. */
void shaping_commit(struct qmgr *m, struct queue *q, struct job *j, const struct shape_grant *g,
                    int64_t now_ms);
/* The job ended (result, lost worker, watchdog); reusable: the
 * connection may take more mail (no connection-level failure). */
void shaping_job_end(struct qmgr *m, struct job *j, int reusable, int64_t now_ms);
/* A worker went away: its connections are gone. */
void shaping_worker_gone(struct qmgr *m, struct worker *w);
/* Queues whose wake-up is due become runnable. */
void shaping_run_timers(struct qmgr *m, int64_t now_ms);
int64_t shaping_next_ms(const struct qmgr *m);
/* Open connections (busy + maybe cached) of q at now. */
uint32_t shaping_conns(const struct queue *q, int64_t now_ms);
/* Effective limits of q in its mode. */
uint32_t shaping_max_conns(const struct queue *q);
const struct cfg_rate *shaping_msg_rate(const struct queue *q);
const struct cfg_rate *shaping_connect_rate(const struct queue *q);
const struct cfg_rate *shaping_volume_rate(const struct queue *q);
/* Recipients attempted in the last 60 s. */
uint32_t shaping_seen_minute(const struct queue *q, int64_t now_ms);
/* Seconds to wait after a 4xx (mode, DNS errors, rcpt-level floor). */
uint32_t shaping_retry_delay(const struct queue *q, uint32_t attempts, int rcpt_level,
                             int dns_error);
const char *shaping_mode_name(const struct queue *q, int64_t now_ms);
/* Whether q holds state worth keeping though it is empty (backoff,
 * retry wait, disabled IPs, a pause). */
int shaping_remembers(const struct queue *q, int64_t now_ms);

/* --- backoff.c ------------------------------------------------------------ */
void backoff_enter(struct qmgr *m, struct queue *q, const char *why, uint32_t to_normal_after,
                   int64_t now_ms);
void backoff_leave(struct qmgr *m, struct queue *q, const char *why, int64_t now_ms);
/* Apply the queue's patterns to one reply; returns the SPA_* actions done
 * or left to the caller (SPA_BOUNCE_RCPT). */
unsigned backoff_on_reply(struct qmgr *m, struct queue *q, const char *reply,
                          const char *source_ip, int64_t now_ms);
/* Whole-result reactions: connect failures pause the queue, a remote
 * answer ends probing, a delivery may end backoff. */
void backoff_on_result(struct qmgr *m, struct queue *q, const struct msg_result *res,
                       int64_t now_ms);
/* Periodic checks at dispatch: backoff-to-normal-after, re-enabled IPs. */
void backoff_tick(struct qmgr *m, struct queue *q, int64_t now_ms);
/* Whether source IP is disabled for q now. */
/* --- pause_state.c (mtactl pauses across restarts) ----------------------- */
struct qpause {
    char key[2 * PROTO_NAME_MAX + 2];   /* "domain", "domain/vmta" or "*\/vmta", lower case */
    int paused;
};
#define PAUSE_DISABLE_MAX 4096
/* control_shaping.c: the pause entry for spec (made on first use). */
int control_pause_remember(struct qmgr *m, const char *spec, int paused);
/* Remember (disable) or forget (enable) `disable source ip spec`. */
void pause_state_disable_note(struct qmgr *m, const char *spec, const char *ip, int disable,
                              int64_t until_ms);
/* The remembered source disables that name q (a queue just made). */
void pause_state_apply(struct qmgr *m, struct queue *q, int64_t now_ms);
/* Write m->pause_path now (durable).  0, or -1 with errno. */
int pause_state_save(struct qmgr *m, int64_t now_ms);
/* Read it (before the spool scan).  Entries loaded, or -1 with errno. */
int pause_state_load(struct qmgr *m, int64_t now_ms);
void pause_state_free(struct qmgr *m);

/* --- connlimit.c --------------------------------------------------------- */
#define CL_NONE     (-1)        /* the queue's MX matches no line */
#define CL_UNKNOWN  (-2)        /* not learned yet (or reloaded): counts against every line */
/* The answering MX host / address of a result: which line applies to q. */
void connlimit_learn(struct qmgr *m, struct queue *q, const char *mx, const char *ip);
/* After a reload: line numbers may have changed. */
void connlimit_forget(struct queue *q);
/* Whether q may open one more connection from source ip; else *wake
 * (earlier only) is when to look again. */
int connlimit_ok(struct qmgr *m, struct queue *q, const char *ip, int64_t now_ms,
                 int64_t *wake);

/* --- skipmx.c ------------------------------------------------------------ */
/* Avoid MX host for q's first retry-after interval.  -1 if the name is not
 * a host name, the list is full or out of memory. */
int skipmx_add(struct queue *q, const char *host, int64_t now_ms);
/* The hosts q avoids now, comma-separated, into out (for DELIVER). */
const char *skipmx_list(struct queue *q, int64_t now_ms, char *out, size_t outlen);
/* RESULT.refused (greeting/EHLO refusals) matching skip-mx rules. */
void skipmx_refusals(struct qmgr *m, struct queue *q, const struct msg_result *res,
                     int64_t now_ms);
/* Whether q avoids host now. */
int skipmx_avoids(const struct queue *q, const char *host, int64_t now_ms);
/* When the first avoided host comes back, or 0. */
int64_t skipmx_next_expiry(const struct queue *q);

int backoff_ip_disabled(const struct queue *q, const char *ip, int64_t now_ms);

/* --- warmup.c -------------------------------------------------------------- */
/* Recipients vmta may still send today (UINT32_MAX: no cap); 0 and
 * *wake_ms (next UTC midnight) when today's cap is used up. */
uint32_t warmup_left(struct qmgr *m, const char *vmta, int64_t now_ms, int64_t *wake_ms);
void warmup_count(struct qmgr *m, const char *vmta, uint32_t n, int64_t now_ms);
/* The same for the queue's own plan (warmup-schedule in <domain>),
 * counted per queue (domain/vmta) in the same state file. */
uint32_t warmup_queue_left(struct qmgr *m, const struct queue *q, int64_t now_ms, int64_t *wake_ms);
void warmup_queue_count(struct qmgr *m, const struct queue *q, uint32_t n, int64_t now_ms);
/* warmup_overflow.c: q's vmta is at today's cap; move q's ready
 * recipients to its warmup-overflow-virtual-mta.  How many moved. */
uint32_t warmup_overflow(struct qmgr *m, struct queue *q, int64_t now_ms);
int warmup_save(struct qmgr *m, const char *path);
/* Number of vmtas loaded, -1 on a read error (a missing file is 0). */
int warmup_load(struct qmgr *m, const char *path);
void warmup_free(struct qmgr *m);
void warmup_describe(struct qmgr *m, int64_t now_ms, struct buf *out);

/* --- control_shaping.c ---------------------------------------------------- */
int control_shaping(struct qmgr *m, int argc, char **argv, struct buf *out, int64_t now_ms);
/* status lines: recipients held in paused queues, queues per mode. */
void shaping_status(struct qmgr *m, int64_t now_ms, struct buf *out);
/* The state part of a `show queues` line. */
void shaping_describe(struct queue *q, int64_t now_ms, struct buf *out);
/* The pause state of a new queue, or of every queue after a reload:
 * mtactl pauses/resumes first, then hold-domain. */
void control_apply_pauses(struct qmgr *m, struct queue *q, int64_t now_ms);
/* control_vmta_usable - 0 when `mtactl hold vmta V` holds vmta: the pool
 * picker (route.c, the qmgr vmta_usable hook) then skips that member. */
int control_vmta_usable(struct qmgr *m, const char *vmta);

#endif
