/*
 * server - the bounce daemon's loop (DESIGN.md §2.7).
 *
 *   bounced.sock   qmgr connects (ROLE_QMGR) and sends BOUNCE for every
 *                  final failure; each is answered BOUNCE_ACK once the
 *                  suppression entry and the DSN are durable, and qmgr
 *                  keeps the original's spool file until then.  master
 *                  connects (ROLE_MASTER) with `mtactl suppression ...`.
 *   SPOOL/inbound  mail smtpd took for a bounce-domain, watched with
 *                  inotify (uv_fs_event): no polling; scanned at start.
 *   acctd.sock     rb, rs and f records (outbox: resent until acknowledged)
 *   qmgr.sock      MSG_NEW for each DSN spooled (ROLE_BOUNCED)
 *   bounce-pipe, fbl-pipe   programs fed every event as JSON (pipe.c)
 *
 * Work runs as a FIFO of jobs, one at a time on the thread pool (see
 * bounced.h).  SIGHUP: the new configuration is taken between jobs (a
 * bad file keeps the old one).  SIGTERM/SIGINT: stop taking work, finish
 * the running job, wait up to 5 s for acctd and qmgr to take what is
 * queued for them, exit 0.  Jobs still queued are dropped: qmgr resends
 * unacknowledged BOUNCEs to the next bounced, inbound files stay on disk.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include "bounced.h"
#include "ipc_conn.h"
#include "log.h"
#include "net.h"
#include "outbox.h"
#include "parse.h"
#include "pipe.h"
#include "proto.h"
#include "spool.h"

#define STOP_GRACE_MS     5000
#define OUTBOX_MAX        200000
/* Above qmgr's own bound on unacknowledged BOUNCEs (200000), so a
 * backlog never makes bounced drop the connection (which would make qmgr
 * resend, i.e. duplicate, everything queued); memory ~1 KiB per job. */
#define JOBS_MAX          250000
#define BATCH_WAIT_MS     20        /* an idle queue's first failure waits for its siblings */

struct bconn {
    struct bconn *prev, *next;
    struct ipc_conn *c;
    uint64_t id;
    uint32_t role;              /* 0 until HELLO */
};

static struct {
    uv_loop_t *loop;
    char cfg_path[PATH_MAX];
    struct config *pending_cfg; /* reloaded, applied between jobs */
    struct bounced_ctx ctx;
    uv_pipe_t server;
    int server_open;
    struct bconn *conns;
    uint64_t next_conn_id;
    struct bjob *head, *tail;
    size_t njobs;
    struct bjob *running;
    uv_work_t work;
    struct outbox *acct, *qmgr;
    uv_fs_event_t watch;
    int watching;
    int inbound_waiting;        /* an inbound scan is queued, not started */
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t stop, kick;
    int stopping;
    uint64_t stop_deadline;
} B;

int bjob_add_record(struct bjob *j, struct acct_record *r)
{
    if (j->nrecs == j->caprecs) {
        size_t cap = j->caprecs ? j->caprecs * 2 : 4;
        void *p = realloc(j->recs, cap * sizeof(*j->recs));

        if (p == NULL)
            return -1;
        j->recs = p;
        j->caprecs = cap;
    }
    j->recs[j->nrecs++] = *r;
    memset(r, 0, sizeof(*r));
    return 0;
}

int bjob_add_file(struct bjob *j, const char *qid, size_t first, size_t last)
{
    if (j->nfiles == j->capfiles) {
        size_t cap = j->capfiles ? j->capfiles * 2 : 8;
        void *p = realloc(j->files, cap * sizeof(*j->files));

        if (p == NULL)
            return -1;
        j->files = p;
        j->capfiles = cap;
    }
    snprintf(j->files[j->nfiles].qid, sizeof(j->files[j->nfiles].qid), "%s", qid);
    j->files[j->nfiles].first = first;
    j->files[j->nfiles].last = last;
    j->nfiles++;
    return 0;
}

/* A processed inbound file waiting for acctd to take its records. */
struct ftoken {
    size_t left;
    int lost;                   /* a record was dropped: keep the file */
    char path[PATH_MAX + 64];
};

static void acct_done(void *tag, int acked, void *arg)
{
    struct ftoken *t = tag;

    if (t == NULL)
        return;
    if (!acked)
        t->lost = 1;        /* kept: processed again at the next start */
    if (--t->left > 0)
        return;
    if (!t->lost && unlink(t->path) < 0 && errno != ENOENT)
        msg_error("cannot remove %s: %s", t->path, strerror(errno));
    free(t);
}

int bjob_add_forward(struct bjob *j, const char *qid)
{
    if (j->nfwd == j->capfwd) {
        size_t cap = j->capfwd ? j->capfwd * 2 : 8;
        void *n = reallocarray(j->fwd, cap, sizeof(*j->fwd));

        if (n == NULL)
            return -1;
        j->fwd = n;
        j->capfwd = cap;
    }
    snprintf(j->fwd[j->nfwd++], QUEUE_ID_SIZE, "%s", qid);
    return 0;
}

static void bjob_free(struct bjob *j)
{
    size_t i;
    uint32_t k;

    if (j->batch)
        bjob_free(j->batch);
    if (j->group)
        bjob_free(j->group);
    msg_bounce_free(&j->ev);
    for (i = 0; i < j->nrecs; i++)
        acct_record_free(&j->recs[i]);
    free(j->recs);
    for (k = 0; k < j->argc; k++)
        free(j->argv[k]);
    free(j->argv);
    buf_free(&j->reply);
    buf_free(&j->pipe_b);
    buf_free(&j->pipe_f);
    free(j->files);
    free(j->fwd);
    free(j);
}

static struct bconn *conn_find(uint64_t id)
{
    struct bconn *b;

    for (b = B.conns; b; b = b->next)
        if (b->id == id)
            return b;
    return NULL;
}

/* --- context --------------------------------------------------------------- */
int server_ctx_load(struct bounced_ctx *c, const struct config *cfg, char *err, size_t errlen)
{
    struct bounce_patterns *db = bounce_patterns_new();
    char line[600];
    int n;

    if (db == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (cfg->hard_bounce_categories[0]) {
        n = snprintf(line, sizeof(line), "hard-bounce-categories %s\n", cfg->hard_bounce_categories);
        if (bounce_patterns_load_text(db, line, (size_t)n, "hard-bounce-categories", err, errlen) < 0)
            goto fail;
    }
    if ((cfg->bounce_patterns[0] && bounce_patterns_load_file(db, cfg->bounce_patterns, err, errlen) < 0)
        || bounce_patterns_load_builtin(db, err, errlen) < 0
        || verp_key_load(cfg, &c->key, err, errlen) < 0)
        goto fail;
    if (c->patterns)
        bounce_patterns_free(c->patterns);
    c->patterns = db;
    return 0;
fail:
    bounce_patterns_free(db);
    return -1;
}

/* --- the job queue ---------------------------------------------------------- */
static void jobs_next(void);

static void job_work(uv_work_t *w)
{
    struct bjob *j = w->data;

    switch (j->kind) {
    case BJ_FAILURE: failure_run(&B.ctx, j); break;
    case BJ_INBOUND: inbound_run(&B.ctx, j); break;
    case BJ_CTL: bctl_run(&B.ctx, j); break;
    }
    /* the events are durable before the job's results go out */
    if (j->pipe_b.len && B.ctx.bounce_pipe)
        (void)bpipe_append(B.ctx.bounce_pipe, j->pipe_b.data, j->pipe_b.len, &j->pipe_b_size);
    if (j->pipe_f.len && B.ctx.fbl_pipe)
        (void)bpipe_append(B.ctx.fbl_pipe, j->pipe_f.data, j->pipe_f.len, &j->pipe_f_size);
}

static int enc_acct(struct buf *out, uint32_t seq, const void *arg)
{
    return msg_acct_encode(out, seq, arg);
}

static int enc_new(struct buf *out, uint32_t seq, const void *arg)
{
    struct msg_new m;

    memset(&m, 0, sizeof(m));
    snprintf(m.queue_id, sizeof(m.queue_id), "%s", (const char *)arg);
    return msg_new_encode(out, &m);
}

/* conn_qmgr - a live qmgr connection: BOUNCE sequence numbers are
 * qmgr's and survive its reconnects, so one can be acknowledged on the
 * connection that replaced the one it came on. */
static struct bconn *conn_qmgr(void)
{
    struct bconn *b;

    for (b = B.conns; b; b = b->next)
        if (b->role == ROLE_QMGR && !ipc_conn_closing(b->c))
            return b;
    return NULL;
}

static void job_reply(struct bjob *j)
{
    struct bconn *b = conn_find(j->conn_id);
    struct buf out;

    if (j->kind == BJ_FAILURE && (b == NULL || ipc_conn_closing(b->c)))
        b = conn_qmgr();
    if (b == NULL || ipc_conn_closing(b->c))
        return;     /* qmgr resends an unacknowledged BOUNCE after reconnecting */
    if (j->kind == BJ_FAILURE) {
        if (ipc_conn_send_empty(b->c, IPC_BOUNCE_ACK, j->reqid) < 0)
            ipc_conn_close(b->c);
        return;
    }
    buf_init(&out, IPC_MAX_PAYLOAD + IPC_HDR_LEN);
    if (msg_ctl_reply_encode(&out, j->reqid, j->status, j->reply.data ? j->reply.data : "") < 0
        || ipc_conn_send(b->c, &out) < 0)
        ipc_conn_close(b->c);
    else
        ipc_conn_close_after_flush(b->c);
    buf_free(&out);
}

static void job_done(uv_work_t *w, int status)
{
    struct bjob *j = w->data, *g;
    struct ftoken **tags = j->nrecs ? calloc(j->nrecs, sizeof(*tags)) : NULL;
    size_t i, f;

    B.running = NULL;
    if (status != 0)
        msg_warn("job cancelled");
    if (j->pipe_b_size && B.ctx.bounce_pipe)
        bpipe_committed(B.ctx.bounce_pipe, j->pipe_b_size);
    if (j->pipe_f_size && B.ctx.fbl_pipe)
        bpipe_committed(B.ctx.fbl_pipe, j->pipe_f_size);
    for (f = 0; tags && f < j->nfiles; f++) {
        /* records of an inbound file: the file goes once all are taken */
        struct ftoken *t = calloc(1, sizeof(*t));

        if (t == NULL)
            continue;       /* the file stays: processed again at the next start */
        t->left = j->files[f].last - j->files[f].first;
        snprintf(t->path, sizeof(t->path), "%s/" SPOOL_INBOUND_DIR "/" INBOUND_DONE_PREFIX "%s",
                 B.ctx.cfg->spool_dir, j->files[f].qid);
        for (i = j->files[f].first; i < j->files[f].last && i < j->nrecs; i++)
            tags[i] = t;
    }
    for (i = 0; i < j->nrecs; i++)
        if (outbox_push(B.acct, enc_acct, &j->recs[i], tags ? tags[i] : NULL) < 0) {
            msg_error("accounting record dropped (too large or out of memory)");
            if (tags && tags[i])
                acct_done(tags[i], 0, NULL);
        }
    free(tags);
    for (g = j; g; g = g->group)
        if (g->dsn_qid[0] && outbox_push(B.qmgr, enc_new, g->dsn_qid, NULL) < 0)
            msg_error("%s: cannot tell qmgr of the DSN (found at its next spool scan)", g->dsn_qid);
    for (i = 0; i < j->nfwd; i++)
        if (outbox_push(B.qmgr, enc_new, j->fwd[i], NULL) < 0)
            msg_error("%s: cannot tell qmgr of the forwarded copy (found at its next spool scan)",
                      j->fwd[i]);
    if (j->kind != BJ_INBOUND) {
        struct bjob *b;

        for (g = j; g; g = g->group)
            for (b = g; b; b = b->batch)
                job_reply(b);
    }
    bjob_free(j);
    jobs_next();
}

static void apply_pending_cfg(void)
{
    struct bounced_ctx tmp;
    char err[1024];

    if (B.pending_cfg == NULL)
        return;
    memset(&tmp, 0, sizeof(tmp));
    if (server_ctx_load(&tmp, B.pending_cfg, err, sizeof(err)) < 0) {
        msg_error("reload: %s; keeping the running configuration", err);
        config_free(B.pending_cfg);
    } else {
        if (strcmp(B.pending_cfg->bounce_pipe, B.ctx.cfg->bounce_pipe) != 0
            || strcmp(B.pending_cfg->fbl_pipe, B.ctx.cfg->fbl_pipe) != 0)
            msg_warn("reload: bounce-pipe and fbl-pipe changes take effect after a restart");
        bounce_patterns_free(B.ctx.patterns);
        B.ctx.patterns = tmp.patterns;
        B.ctx.key = tmp.key;
        original_close(&B.ctx);     /* the acct-file (its LMDB) may have moved */
        config_free(B.ctx.cfg);
        B.ctx.cfg = B.pending_cfg;
        msg_info("configuration reloaded");
    }
    B.pending_cfg = NULL;
}

static void check_stop(void);

static size_t batch_len(const struct bjob *j)
{
    size_t n = 0;

    for (; j; j = j->batch)
        n++;
    return n;
}

static void batch_append(struct bjob *head, struct bjob *x)
{
    while (head->batch)
        head = head->batch;
    head->batch = x;
}

/* tail_differs - whether any job queued after x is not a failure of x's
 * message (x just came off the head). */
static int tail_differs(const struct bjob *x)
{
    const struct bjob *q;

    for (q = B.head; q; q = q->next)
        if (q->kind != BJ_FAILURE || strcmp(q->ev.queue_id, x->ev.queue_id) != 0
            || q->ev.delayed != x->ev.delayed)
            return 1;
    return 0;
}

/* take_batch - the failures of j's message queued right behind it join
 * j's batch (one delivery's failures: one DSN). */
static void take_batch(struct bjob *j)
{
    struct bjob *last = j;
    size_t n = 1;

    while (B.head && B.head->kind == BJ_FAILURE && n < BJOB_BATCH_MAX
           && strcmp(B.head->ev.queue_id, j->ev.queue_id) == 0
           && B.head->ev.delayed == j->ev.delayed) {    /* one DSN, one kind */
        last->batch = B.head;
        last = B.head;
        B.head = B.head->next;
        last->next = NULL;
        B.njobs--;
        n++;
    }
    if (B.head == NULL)
        B.tail = NULL;
}

static void jobs_next(void)
{
    struct bjob *j;

    if (B.running)
        return;
    if (B.stopping) {
        check_stop();
        return;
    }
    if ((j = B.head) == NULL) {
        if (B.ctx.bounce_pipe)      /* no job: the queue files may be truncated */
            bpipe_idle(B.ctx.bounce_pipe);
        if (B.ctx.fbl_pipe)
            bpipe_idle(B.ctx.fbl_pipe);
        return;
    }
    apply_pending_cfg();
    B.head = j->next;
    if (B.head == NULL)
        B.tail = NULL;
    B.njobs--;
    if (j->kind == BJ_INBOUND)
        B.inbound_waiting = 0;
    if (j->kind == BJ_FAILURE) {
        struct bjob *g = j;
        size_t ng = 1;

        take_batch(j);
        /* the next messages' failures already queued join this run: one
         * LMDB transaction and one spool group commit for all of them; a
         * message already in the group (its frames came interleaved with
         * another's) joins its batch, so it still gets one DSN */
        while (B.head && B.head->kind == BJ_FAILURE && ng < BJOB_GROUP_MAX) {
            struct bjob *x = B.head, *m;

            B.head = x->next;
            x->next = NULL;
            B.njobs--;
            for (m = j; m; m = m->group)
                if (strcmp(m->ev.queue_id, x->ev.queue_id) == 0 && m->ev.delayed == x->ev.delayed
                    && batch_len(m) < BJOB_BATCH_MAX)
                    break;
            if (m != NULL) {
                batch_append(m, x);
                continue;
            }
            if (B.tail && B.tail->kind == BJ_FAILURE
                && strcmp(B.tail->ev.queue_id, x->ev.queue_id) == 0 && !tail_differs(x)) {
                /* the newest message: the rest of its failures may still
                 * be on the way; it leads the next run instead */
                x->next = B.head;
                B.head = x;
                if (B.tail == NULL)
                    B.tail = x;
                B.njobs++;
                break;
            }
            g->group = x;
            g = x;
            take_batch(g);
            ng++;
        }
        if (B.head == NULL)
            B.tail = NULL;
    }
    B.running = j;
    B.work.data = j;
    if (uv_queue_work(B.loop, &B.work, job_work, job_done) != 0) {
        /* cannot happen with a live loop; run it here rather than lose it */
        job_work(&B.work);
        job_done(&B.work, 0);
    }
}

static void kick_fire(uv_timer_t *t)
{
    jobs_next();
}

/* jobs_push - queue j.  An idle queue starts after a short wait when j
 * is a failure: qmgr sends one delivery's failures as separate frames,
 * and those that arrive meanwhile join j's batch (one DSN).  While a job
 * runs, the queue fills anyway. */
static void jobs_push(struct bjob *j)
{
    j->next = NULL;
    if (B.tail)
        B.tail->next = j;
    else
        B.head = j;
    B.tail = j;
    B.njobs++;
    if (B.running || uv_is_active((uv_handle_t *)&B.kick))
        return;
    if (uv_timer_start(&B.kick, kick_fire, j->kind == BJ_FAILURE ? BATCH_WAIT_MS : 0, 0) != 0)
        jobs_next();
}

static struct bjob *bjob_new(enum bjob_kind kind)
{
    struct bjob *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return NULL;
    j->kind = kind;
    buf_init(&j->reply, IPC_MAX_PAYLOAD - 1024);
    buf_init(&j->pipe_b, BJOB_PIPE_MAX);
    buf_init(&j->pipe_f, BJOB_PIPE_MAX);
    return j;
}

/* --- inbound/ ------------------------------------------------------------ */
static void inbound_schedule(void)
{
    struct bjob *j;

    if (B.inbound_waiting || B.stopping)
        return;
    j = bjob_new(BJ_INBOUND);
    if (j == NULL) {
        msg_error("out of memory scheduling an inbound scan");
        return;
    }
    B.inbound_waiting = 1;
    jobs_push(j);
}

static void on_inbound(uv_fs_event_t *h, const char *name, int events, int status)
{
    if (status < 0)
        msg_warn("watching the inbound folder: %s", uv_strerror(status));
    inbound_schedule();
}

/* --- connections ------------------------------------------------------- */
static void on_bounce(struct bconn *b, const struct ipc_frame *f)
{
    struct bjob *j = bjob_new(BJ_FAILURE);

    if (j == NULL) {
        msg_error("out of memory; closing the qmgr connection");
        ipc_conn_close(b->c);
        return;
    }
    if (msg_bounce_decode(f, &j->ev) < 0) {
        /* acknowledged and dropped: resending it would fail forever */
        msg_warn("malformed BOUNCE %u from qmgr dropped", f->reqid);
        bjob_free(j);
        if (ipc_conn_send_empty(b->c, IPC_BOUNCE_ACK, f->reqid) < 0)
            ipc_conn_close(b->c);
        return;
    }
    if (B.njobs >= JOBS_MAX) {
        /* not acknowledged: qmgr resends after the reconnect */
        msg_warn("%zu jobs queued; dropping the qmgr connection to slow it down", B.njobs);
        bjob_free(j);
        ipc_conn_close(b->c);
        return;
    }
    j->conn_id = b->id;
    j->reqid = f->reqid;
    jobs_push(j);
}

static void on_ctl(struct bconn *b, const struct ipc_frame *f)
{
    struct msg_ctl_request req;
    struct bjob *j;

    if (msg_ctl_request_decode(f, &req) < 0) {
        ipc_conn_close(b->c);
        return;
    }
    j = bjob_new(BJ_CTL);
    if (j == NULL) {
        msg_ctl_request_free(&req);
        ipc_conn_close(b->c);
        return;
    }
    j->argc = req.argc;
    j->argv = req.argv;     /* the job owns them now */
    j->conn_id = b->id;
    j->reqid = f->reqid;
    jobs_push(j);
}

static void on_frame(struct ipc_conn *c, const struct ipc_frame *f)
{
    struct bconn *b = ipc_conn_data(c);
    struct msg_hello h;

    if (b->role == 0) {
        if (msg_hello_decode(f, &h) < 0 || (h.role != ROLE_QMGR && h.role != ROLE_MASTER)) {
            msg_warn("connection without a valid HELLO; closing it");
            ipc_conn_close(c);
            return;
        }
        b->role = h.role;
        return;
    }
    if (b->role == ROLE_QMGR && (f->type == IPC_BOUNCE || f->type == IPC_BOUNCE_DELAY))
        on_bounce(b, f);
    else if (b->role == ROLE_MASTER && f->type == IPC_CTL_REQUEST)
        on_ctl(b, f);
    else {
        msg_warn("unexpected frame type %u from role %u; closing", f->type, b->role);
        ipc_conn_close(c);
    }
}

static void on_close(struct ipc_conn *c)
{
    struct bconn *b = ipc_conn_data(c);

    if (b->prev)
        b->prev->next = b->next;
    else
        B.conns = b->next;
    if (b->next)
        b->next->prev = b->prev;
    free(b);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct bconn *b;

    if (status < 0)
        return;
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return;
    b->id = ++B.next_conn_id;
    b->c = ipc_conn_new(B.loop, on_frame, on_close, b);
    if (b->c == NULL) {
        free(b);
        return;
    }
    b->next = B.conns;
    if (B.conns)
        B.conns->prev = b;
    B.conns = b;
    if (ipc_conn_accept(b->c, server) < 0)
        ipc_conn_close(b->c);
}

/* --- signals, stop ------------------------------------------------------- */
static void finish(void)
{
    msg_info("stopped: %zu accounting records and %zu notices not yet taken",
             outbox_pending(B.acct), outbox_pending(B.qmgr));
    suppress_close(B.ctx.sdb);
    original_close(&B.ctx);
    exit(0);
}

static void check_stop(void)
{
    if (B.running)
        return;
    if ((outbox_pending(B.acct) == 0 && outbox_pending(B.qmgr) == 0)
        || uv_now(B.loop) >= B.stop_deadline)
        finish();
}

static void stop_fire(uv_timer_t *t)
{
    check_stop();
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct config *cfg;
    char err[1024];

    if (signum == SIGHUP) {
        if (config_load(B.cfg_path, &cfg, err, sizeof(err)) < 0) {
            msg_error("reload failed, keeping the old configuration: %s", err);
            return;
        }
        if (B.pending_cfg)
            config_free(B.pending_cfg);
        B.pending_cfg = cfg;
        if (!B.running)
            apply_pending_cfg();
        return;
    }
    if (B.stopping)
        return;
    B.stopping = 1;
    B.stop_deadline = uv_now(B.loop) + STOP_GRACE_MS;
    msg_info("stopping");
    if (B.server_open) {
        uv_close((uv_handle_t *)&B.server, NULL);
        B.server_open = 0;
    }
    if (B.watching) {
        (void)uv_fs_event_stop(&B.watch);
        B.watching = 0;
    }
    (void)uv_timer_start(&B.stop, stop_fire, 0, 100);
}

static int listen_fd(void)
{
    const char *s = getenv("COURSER_LISTEN_FDS");
    char path[PATH_MAX];
    uint64_t fd;
    int f;

    if (s && s[0]) {
        if (parse_u64(s, 3, 65535, &fd) < 0)
            msg_fatal("COURSER_LISTEN_FDS: expected one fd, got '%.32s'", s);
        return (int)fd;
    }
    if (snprintf(path, sizeof(path), "%s/bounced.sock", B.ctx.cfg->run_dir) >= (int)sizeof(path))
        msg_fatal("run-dir path too long");
    f = net_listen_unix(path);
    if (f < 0)
        msg_fatal("listen %s: %s", path, strerror(errno));
    return f;
}

static void start_outboxes(void)
{
    char path[PATH_MAX];

    if (snprintf(path, sizeof(path), "%s/acctd.sock", B.ctx.cfg->run_dir) >= (int)sizeof(path)
        || (B.acct = outbox_new(B.loop, path, ROLE_BOUNCED, IPC_ACCT_ACK, OUTBOX_MAX, "acctd")) == NULL)
        msg_fatal("cannot set up the acctd client");
    if (snprintf(path, sizeof(path), "%s/qmgr.sock", B.ctx.cfg->run_dir) >= (int)sizeof(path)
        || (B.qmgr = outbox_new(B.loop, path, ROLE_BOUNCED, 0, OUTBOX_MAX, "qmgr")) == NULL)
        msg_fatal("cannot set up the qmgr client");
}

static void start_watch(void)
{
    char path[PATH_MAX];
    int rc;

    if (snprintf(path, sizeof(path), "%s/" SPOOL_INBOUND_DIR, B.ctx.cfg->spool_dir) >= (int)sizeof(path))
        msg_fatal("spool path too long");
    if ((rc = uv_fs_event_init(B.loop, &B.watch)) != 0
        || (rc = uv_fs_event_start(&B.watch, on_inbound, path, 0)) != 0)
        msg_fatal("cannot watch %s: %s", path, uv_strerror(rc));
    B.watching = 1;
}

int server_run(const char *config_path)
{
    char err[1024], dir[PATH_MAX];
    int fd;

    if (strlen(config_path) >= sizeof(B.cfg_path))
        msg_fatal("configuration path too long");
    strcpy(B.cfg_path, config_path);
    if (config_load(B.cfg_path, &B.ctx.cfg, err, sizeof(err)) < 0)
        msg_fatal("%s", err);
    if (B.ctx.cfg->log_file[0] && log_open_file(B.ctx.cfg->log_file) < 0)
        msg_fatal("open %s: %s", B.ctx.cfg->log_file, strerror(errno));
    signal(SIGPIPE, SIG_IGN);
    spool_set_sync(B.ctx.cfg->sync_msg_create);
    if (spool_init_dirs(B.ctx.cfg->spool_dir) < 0)
        msg_fatal("spool %s: %s", B.ctx.cfg->spool_dir, strerror(errno));
    if (server_ctx_load(&B.ctx, B.ctx.cfg, err, sizeof(err)) < 0)
        msg_fatal("%s", err);
    if (config_suppression_dir(B.ctx.cfg, dir, sizeof(dir)) < 0)
        msg_fatal("suppression-db path too long");
    B.ctx.sdb = suppress_open(dir, 0, err, sizeof(err));
    if (B.ctx.sdb == NULL)
        msg_fatal("%s", err);

    B.loop = uv_default_loop();
    inbound_recover(B.ctx.cfg->spool_dir);
    start_outboxes();
    outbox_on_done(B.acct, acct_done, NULL);
    B.ctx.bounce_pipe = bpipe_open(B.loop, B.ctx.cfg->spool_dir, "bounce-pipe", B.ctx.cfg->bounce_pipe);
    B.ctx.fbl_pipe = bpipe_open(B.loop, B.ctx.cfg->spool_dir, "fbl-pipe", B.ctx.cfg->fbl_pipe);
    fd = listen_fd();
    if (uv_pipe_init(B.loop, &B.server, 0) != 0 || uv_pipe_open(&B.server, fd) != 0
        || uv_listen((uv_stream_t *)&B.server, 256, on_connection) != 0)
        msg_fatal("cannot listen on the bounced socket (fd %d)", fd);
    B.server_open = 1;
    start_watch();
    if (uv_timer_init(B.loop, &B.stop) != 0 || uv_timer_init(B.loop, &B.kick) != 0
        || uv_signal_init(B.loop, &B.sig_term) != 0 || uv_signal_init(B.loop, &B.sig_int) != 0
        || uv_signal_init(B.loop, &B.sig_hup) != 0
        || uv_signal_start(&B.sig_term, on_signal, SIGTERM) != 0
        || uv_signal_start(&B.sig_int, on_signal, SIGINT) != 0
        || uv_signal_start(&B.sig_hup, on_signal, SIGHUP) != 0)
        msg_fatal("cannot set up timers and signals");
    msg_info("started: suppression database %s, %zu bounce patterns, VERP key %s",
             dir, bounce_patterns_count(B.ctx.patterns), B.ctx.key.len ? "loaded" : "not set");
    inbound_schedule();
    (void)uv_run(B.loop, UV_RUN_DEFAULT);
    finish();
    return 0;
}
