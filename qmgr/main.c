/*
 * qmgr - Courser's queue manager: the one process that owns every queued
 * recipient's schedule.  This file is the loop: start-up (spool scan,
 * journal replay and compaction), the listening socket run_dir/qmgr.sock
 * and its connections dispatched by HELLO role (smtpd: MSG_NEW; smtp-out:
 * DELIVER/RESULT; master: CTL_REQUEST), the timer for the schedule heap,
 * batched fdatasync of the journal, signals and reload.
 *
 * Event-driven: after every event (new mail, RESULT, worker gone, timer)
 * the journal is written, dispatch runs over the runnable queues and the
 * one schedule timer is re-armed at the heap top.  Nothing polls.
 * SIGTERM/SIGINT: stop dispatching, wait for results in flight (and acctd
 * acknowledgements) up to 5 s, sync the journal, exit 0.
 * SIGHUP: reload the configuration; queues take their new settings.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include "acct_client.h"
#include "bounce_client.h"
#include "config.h"
#include "ipc_conn.h"
#include "log.h"
#include "net.h"
#include "parse.h"
#include "qmgr.h"
#include "shaping.h"

#define STOP_GRACE_MS  5000
#define SYNC_DELAY_MS  100
#define SWEEP_MS       (600 * 1000)    /* free idle queues this often */

struct peer {
    uint32_t role;              /* 0 until HELLO */
    struct worker *w;
};

static struct {
    uv_loop_t *loop;
    struct config *cfg;
    char cfg_path[PATH_MAX];
    struct qmgr m;
    uv_pipe_t server;
    int server_open;
    uv_timer_t sched, sync, stop, sweep, warm;
    uv_check_t jflush;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_work_t sync_req;
    int syncing;
    uint64_t sync_gen;
    int64_t stop_deadline;
    int smtpd_lost;             /* an smtpd connection dropped: rescan once */
} q;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- journal sync in the thread pool ------------------------------------ */
static void sync_work(uv_work_t *req)
{
    if (journal_sync(q.m.jr) < 0)
        msg_error("journal fdatasync: %s", strerror(errno));
}

static void after_event(void);
static void warm_fire(uv_timer_t *t);

static void sync_done(uv_work_t *req, int status)
{
    q.syncing = 0;
    journal_mark_synced(q.m.jr, q.sync_gen);
    after_event();
}

static void sync_fire(uv_timer_t *t)
{
    if (q.syncing || q.m.jr == NULL)
        return;
    (void)journal_flush(q.m.jr);
    q.sync_gen = journal_written(q.m.jr);
    q.syncing = 1;
    if (uv_queue_work(q.loop, &q.sync_req, sync_work, sync_done) != 0) {
        q.syncing = 0;
        (void)journal_sync(q.m.jr);
        journal_mark_synced(q.m.jr, q.sync_gen);
    }
}

/* jflush_fire - end of every loop turn: write what was journaled outside
 * after_event (the acctd/bounced acknowledgement marks), so a kill -9
 * does not make qmgr resend records the peers already have.  No syscall
 * when nothing is buffered. */
static void jflush_fire(uv_check_t *h)
{
    if (q.m.jr)
        (void)journal_flush(q.m.jr);
}

/* --- the schedule timer ------------------------------------------------- */
static void sched_fire(uv_timer_t *t)
{
    schedule_run_timers(&q.m, now_ms());
    after_event();
}

static void check_stop(void);

/* after_event - write the journal, dispatch, re-arm timers. */
static void after_event(void)
{
    int64_t next, now = now_ms();

    if (q.m.jr) {
        (void)journal_flush(q.m.jr);
        if (!q.syncing && journal_wants_compaction(q.m.jr)) {
            msg_info("compacting the journal");
            (void)journal_compact(q.m.jr, &q.m);
        }
        if (journal_dirty(q.m.jr) && !q.syncing && !uv_is_active((uv_handle_t *)&q.sync))
            (void)uv_timer_start(&q.sync, sync_fire, SYNC_DELAY_MS, 0);
    }
    dispatch_run(&q.m, now);
    if (q.m.warmup_dirty && !uv_is_active((uv_handle_t *)&q.warm))
        (void)uv_timer_start(&q.warm, warm_fire, 1000, 0);
    next = schedule_next_ms(&q.m);
    if (next < 0)
        (void)uv_timer_stop(&q.sched);
    else
        (void)uv_timer_start(&q.sched, sched_fire, next > now ? (uint64_t)(next - now) : 0, 0);
    if (q.m.stopping)
        check_stop();
}

/* --- warm-up counters (warmup.c): saved at most once a second ------------ */
static void warmup_path(char *out, size_t n)
{
    if (snprintf(out, n, "%s/state/warmup", q.cfg->spool_dir) >= (int)n)
        out[0] = '\0';
}

static void warm_fire(uv_timer_t *t)
{
    char path[PATH_MAX];

    warmup_path(path, sizeof(path));
    if (path[0] && q.m.warmup_dirty && warmup_save(&q.m, path) < 0)
        msg_error("%s: %s", path, strerror(errno));
}

static void sweep_fire(uv_timer_t *t)
{
    size_t n = queue_sweep(&q.m);

    if (n)
        msg_debug("freed %zu idle queues", n);
}

/* --- hooks for the core -------------------------------------------------- */
static int hook_deliver(struct qmgr *m, struct worker *w, const struct msg_deliver *d)
{
    struct buf b;
    int rc;

    buf_init(&b, IPC_MAX_PAYLOAD + IPC_HDR_LEN);
    rc = msg_deliver_encode(&b, d);
    if (rc == 0)
        rc = ipc_conn_send(w->conn, &b);
    buf_free(&b);
    if (rc < 0)
        ipc_conn_close(w->conn);    /* its close requeues the jobs */
    return rc;
}

static void hook_acct(struct qmgr *m, const struct acct_record *r)
{
    struct acct_record c = *r;      /* shallow: bounceCat may be replaced */

    bounce_client_categorize(&c);
    acct_client_send(&c);
    bounce_client_acct(m, &c);
}

/* The journal holds acctd's and bounced's unacknowledged frames too. */
static void hook_replay_outbox(struct qmgr *m, const struct jrec *r)
{
    if (r->state == JS_ACCT)
        acct_client_replay(r);
    else
        bounce_client_replay(r);
}

static void hook_pending(struct qmgr *m, int (*put)(void *ctx, const struct jrec *r), void *ctx)
{
    acct_client_pending(put, ctx);
    bounce_client_pending(put, ctx);
}

static void hook_remove(struct qmgr *m, const char *qid)
{
    bounce_client_remove_spool(qid);    /* kept while bounced needs it */
}

/* --- connections ---------------------------------------------------------- */
static void rescan_cb(const char *qid, void *arg)
{
    struct qmsg *msg;
    char err[512];
    int r;

    /* finished, its file kept only until bounced has read it */
    if (bounce_client_holding(qid))
        return;
    r = message_load(&q.m, q.cfg->spool_dir, qid, &msg, err, sizeof(err));

    if (r < 0)
        msg_error("%s: cannot load: %s", qid, err);
    else if (r == 1) {
        message_schedule(&q.m, msg, now_ms());
        (*(int *)arg)++;
    }
}

/* smtpd_arrived - an smtpd said HELLO.  If one died since the last check
 * (its connection dropped), it may have committed files it never
 * announced (killed between spool_commit and MSG_NEW), and left tmp/
 * files behind: look once, now that master has restarted it.  This is the
 * only spool scan after start-up, and it runs on this event only. */
static void smtpd_arrived(void)
{
    int n = 0;

    (void)tmpclean_run(q.cfg->spool_dir);
    if (!q.smtpd_lost)
        return;
    q.smtpd_lost = 0;
    if (spool_scan(q.cfg->spool_dir, rescan_cb, &n) < 0)
        msg_error("scan %s: %s", q.cfg->spool_dir, strerror(errno));
    if (n > 0) {
        msg_info("found %d messages an smtpd committed but did not announce", n);
        after_event();
    }
}

static void on_hello(struct ipc_conn *c, struct peer *p, const struct ipc_frame *f)
{
    struct msg_hello h;

    if (msg_hello_decode(f, &h) < 0 || h.role == ROLE_QMGR) {
        msg_warn("connection without a valid HELLO; closing it");
        ipc_conn_close(c);
        return;
    }
    p->role = h.role;
    if (h.role == ROLE_SMTPD || h.role == ROLE_BOUNCED)
        smtpd_arrived();
    if (h.role == ROLE_SMTP_OUT) {
        if (h.slots == 0 || h.slots > 100000) {
            msg_warn("smtp-out pid %u offers %u slots; closing", h.pid, h.slots);
            ipc_conn_close(c);
            return;
        }
        p->w = worker_add(&q.m, c, h.pid, h.slots);
        if (p->w == NULL) {
            ipc_conn_close(c);
            return;
        }
        msg_info("smtp-out pid %u connected with %u slots", h.pid, h.slots);
        after_event();
    }
}

static void on_msg_new(struct ipc_conn *c, const struct ipc_frame *f)
{
    struct msg_new mn;
    struct qmsg *msg;
    char err[512];
    int r;

    if (msg_new_decode(f, &mn) < 0) {
        msg_warn("smtpd: malformed MSG_NEW; closing connection");
        ipc_conn_close(c);
        return;
    }
    r = message_load(&q.m, q.cfg->spool_dir, mn.queue_id, &msg, err, sizeof(err));
    if (r < 0) {
        char path[PATH_MAX];

        /* a notice resent after a reconnect for mail already finished */
        if (spool_msg_path(q.cfg->spool_dir, mn.queue_id, path, sizeof(path)) == 0
            && access(path, F_OK) < 0 && errno == ENOENT)
            msg_debug("%s: notice for a message no longer queued", mn.queue_id);
        else
            msg_error("%s: cannot load: %s", mn.queue_id, err);
        return;
    }
    if (r == 0)
        return;     /* duplicate notice (smtpd resends after reconnect) */
    msg_debug("%s: queued, %u recipients, vmta %s", msg->qid, msg->env.nrcpt, msg->vmta);
    route_emit_receipts(&q.m, msg, now_ms());
    message_schedule(&q.m, msg, now_ms());
    after_event();
}

static void on_result(struct ipc_conn *c, struct peer *p, const struct ipc_frame *f)
{
    struct msg_result res;

    if (msg_result_decode(f, &res) < 0) {
        msg_warn("smtp-out pid %u: malformed RESULT; closing connection", p->w->pid);
        ipc_conn_close(c);
        return;
    }
    if (result_apply(&q.m, p->w, &res, now_ms()) < 0)
        msg_warn("smtp-out pid %u: RESULT for unknown job %llu", p->w->pid,
                 (unsigned long long)res.job_id);
    msg_result_free(&res);
    after_event();
}

static void on_ctl(struct ipc_conn *c, const struct ipc_frame *f)
{
    struct msg_ctl_request req;
    struct buf text, out;
    uint32_t status;

    if (msg_ctl_request_decode(f, &req) < 0) {
        ipc_conn_close(c);
        return;
    }
    buf_init(&text, IPC_MAX_PAYLOAD - 1024);
    buf_init(&out, IPC_MAX_PAYLOAD + IPC_HDR_LEN);
    status = (uint32_t)control_run(&q.m, (int)req.argc, req.argv, &text, now_ms());
    if (msg_ctl_reply_encode(&out, f->reqid, status, text.data ? text.data : "") < 0
        || ipc_conn_send(c, &out) < 0)
        ipc_conn_close(c);
    else
        ipc_conn_close_after_flush(c);
    buf_free(&text);
    buf_free(&out);
    msg_ctl_request_free(&req);
    after_event();      /* resume, schedule, delete change what can go */
}

static void on_frame(struct ipc_conn *c, const struct ipc_frame *f)
{
    struct peer *p = ipc_conn_data(c);

    if (p->role == 0) {
        on_hello(c, p, f);
        return;
    }
    if ((p->role == ROLE_SMTPD || p->role == ROLE_BOUNCED) && f->type == IPC_MSG_NEW)
        on_msg_new(c, f);
    else if (p->role == ROLE_SMTP_OUT && f->type == IPC_RESULT)
        on_result(c, p, f);
    else if (p->role == ROLE_MASTER && f->type == IPC_CTL_REQUEST)
        on_ctl(c, f);
    else {
        msg_warn("unexpected frame type %u from role %u; closing", f->type, p->role);
        ipc_conn_close(c);
    }
}

static void on_close(struct ipc_conn *c)
{
    struct peer *p = ipc_conn_data(c);

    if (p->w) {
        msg_info("smtp-out pid %u disconnected; requeueing its %u jobs", p->w->pid,
                 p->w->inflight);
        worker_remove(&q.m, p->w, now_ms());
        p->w = NULL;
        free(p);
        after_event();
        return;
    }
    if ((p->role == ROLE_SMTPD || p->role == ROLE_BOUNCED) && !q.m.stopping)
        q.smtpd_lost = 1;
    free(p);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct peer *p;
    struct ipc_conn *c;

    if (status < 0)
        return;
    p = calloc(1, sizeof(*p));
    c = p ? ipc_conn_new(q.loop, on_frame, on_close, p) : NULL;
    if (c == NULL) {
        free(p);
        msg_warn("out of memory accepting a connection");
        return;
    }
    if (ipc_conn_accept(c, server) < 0)
        ipc_conn_close(c);
}

/* --- start-up ------------------------------------------------------------- */
static void scan_cb(const char *qid, void *arg)
{
    struct qmsg *msg;
    char err[512];

    if (message_load(&q.m, q.cfg->spool_dir, qid, &msg, err, sizeof(err)) < 0)
        msg_error("%s: cannot load: %s", qid, err);
}

static void schedule_cb(void *val, void *arg)
{
    message_schedule(&q.m, val, *(int64_t *)arg);
}

static void startup_load(void)
{
    char err[512];
    long nrec;
    size_t nbounce;
    int n;
    int64_t now;

    q.m.jr = journal_open(q.cfg->spool_dir, err, sizeof(err));
    if (q.m.jr == NULL)
        msg_fatal("journal: %s", err);
    /* mtactl pauses before the scan makes the queues (pause_state.c) */
    if (asprintf(&q.m.pause_path, "%s/state/pauses", q.cfg->spool_dir) < 0)
        msg_fatal("out of memory");
    if ((n = pause_state_load(&q.m, now_ms())) < 0)
        msg_error("%s: %s (mtactl pauses not restored)", q.m.pause_path, strerror(errno));
    else if (n > 0)
        msg_info("restored %d mtactl pause/disable entries from %s", n, q.m.pause_path);
    q.m.loading = 1;
    n = spool_scan(q.cfg->spool_dir, scan_cb, NULL);
    if (n < 0)
        msg_fatal("scan %s: %s", q.cfg->spool_dir, strerror(errno));
    nrec = journal_replay(q.m.jr, journal_apply, &q.m);
    if (nrec < 0)
        msg_fatal("journal replay: %s", strerror(errno));
    /* before scheduling: a finished message's file stays for its BOUNCEs */
    nbounce = bounce_client_replay_end();
    q.m.loading = 0;
    if (journal_compact(q.m.jr, &q.m) < 0)
        msg_fatal("journal compaction failed");
    {
        char path[PATH_MAX];

        warmup_path(path, sizeof(path));
        if (path[0] && warmup_load(&q.m, path) < 0)
            msg_error("%s: %s (warm-up counters start at 0)", path, strerror(errno));
    }
    now = now_ms();
    hmap_each(&q.m.msgs, schedule_cb, &now);
    msg_info("started: %zu messages, %llu recipients queued (%ld journal records replayed; "
             "%zu accounting records and %zu BOUNCEs to resend)",
             q.m.msgs.n, (unsigned long long)q.m.nrcpt_queued, nrec, acct_client_unacked(), nbounce);
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
    if (snprintf(path, sizeof(path), "%s/qmgr.sock", q.cfg->run_dir) >= (int)sizeof(path))
        msg_fatal("run-dir path too long");
    f = net_listen_unix(path);
    if (f < 0)
        msg_fatal("listen %s: %s", path, strerror(errno));
    return f;
}

/* --- signals and stop ----------------------------------------------------- */
static void finish(void)
{
    warm_fire(NULL);
    if (q.m.jr) {
        (void)journal_flush(q.m.jr);
        if (journal_sync(q.m.jr) < 0)
            msg_error("journal fdatasync: %s", strerror(errno));
    }
    msg_info("stopped: %llu recipients queued, %zu accounting records unacknowledged",
             (unsigned long long)q.m.nrcpt_queued, acct_client_unacked());
    exit(0);
}

static void check_stop(void)
{
    if (q.syncing)
        return;     /* the worker thread uses the journal fd */
    if (q.m.nrcpt_inflight == 0 && acct_client_unacked() == 0 && bounce_client_unacked() == 0)
        finish();
    if (now_ms() >= q.stop_deadline)
        finish();
}

static void stop_fire(uv_timer_t *t)
{
    check_stop();
    (void)uv_timer_start(&q.stop, stop_fire, 100, 0);
}

static void on_signal(uv_signal_t *s, int signum)
{
    char err[1024];
    struct config *cfg;

    if (signum == SIGHUP) {
        if (config_load(q.cfg_path, &cfg, err, sizeof(err)) < 0) {
            msg_error("reload failed, keeping the old configuration: %s", err);
            return;
        }
        if (config_digest_verify(cfg, err, sizeof(err)) < 0) {
            msg_error("reload: %s; keeping the running configuration", err);
            config_free(cfg);
            return;
        }
        qmgr_reconfigure(&q.m, cfg);
        bounce_client_reconfigure(cfg);
        config_free(q.cfg);
        q.cfg = cfg;
        msg_info("configuration reloaded");
        after_event();
        return;
    }
    if (q.m.stopping)
        return;
    msg_info("stopping: waiting for %llu recipients in flight",
             (unsigned long long)q.m.nrcpt_inflight);
    q.m.stopping = 1;
    q.stop_deadline = now_ms() + STOP_GRACE_MS;
    if (q.server_open) {
        uv_close((uv_handle_t *)&q.server, NULL);
        q.server_open = 0;
    }
    (void)uv_timer_start(&q.stop, stop_fire, 0, 0);
}

static void usage(void)
{
    fprintf(stderr, "usage: qmgr -c FILE [-v]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    char err[1024], path[PATH_MAX];
    int c, fd;

    log_init("qmgr");
    while ((c = getopt(argc, argv, "c:v")) != -1) {
        if (c == 'c') {
            if (strlen(optarg) >= sizeof(q.cfg_path))
                usage();
            strcpy(q.cfg_path, optarg);
        } else if (c == 'v')
            log_set_verbose(1);
        else
            usage();
    }
    if (q.cfg_path[0] == '\0')
        usage();
    if (config_load(q.cfg_path, &q.cfg, err, sizeof(err)) < 0)
        msg_fatal("%s", err);
    if (q.cfg->log_file[0] && log_open_file(q.cfg->log_file) < 0)
        msg_fatal("open %s: %s", q.cfg->log_file, strerror(errno));
    signal(SIGPIPE, SIG_IGN);
    srandom((unsigned)(getpid() ^ time(NULL)));
    if (spool_init_dirs(q.cfg->spool_dir) < 0)
        msg_fatal("spool %s: %s", q.cfg->spool_dir, strerror(errno));

    q.loop = uv_default_loop();
    qmgr_init(&q.m, q.cfg);
    q.m.send_deliver = hook_deliver;
    q.m.emit_acct = hook_acct;
    q.m.remove_spool = hook_remove;
    q.m.journal_replay_outbox = hook_replay_outbox;
    q.m.journal_pending = hook_pending;
    if (bounce_client_start(q.loop, &q.m, q.cfg) < 0 || acct_client_init(&q.m) < 0)
        msg_fatal("cannot set up the bounced and acctd clients");
    startup_load();

    if (snprintf(path, sizeof(path), "%s/acctd.sock", q.cfg->run_dir) >= (int)sizeof(path)
        || acct_client_start(q.loop, path) < 0)
        msg_fatal("cannot set up the acctd client");
    fd = listen_fd();
    if (uv_pipe_init(q.loop, &q.server, 0) != 0 || uv_pipe_open(&q.server, fd) != 0
        || uv_listen((uv_stream_t *)&q.server, 4096, on_connection) != 0)
        msg_fatal("cannot listen on the qmgr socket (fd %d)", fd);
    q.server_open = 1;
    if (uv_timer_init(q.loop, &q.sched) != 0 || uv_timer_init(q.loop, &q.sync) != 0
        || uv_timer_init(q.loop, &q.stop) != 0 || uv_timer_init(q.loop, &q.sweep) != 0
        || uv_timer_init(q.loop, &q.warm) != 0
        || uv_check_init(q.loop, &q.jflush) != 0 || uv_check_start(&q.jflush, jflush_fire) != 0
        || uv_timer_start(&q.sweep, sweep_fire, SWEEP_MS, SWEEP_MS) != 0
        || uv_signal_init(q.loop, &q.sig_term) != 0 || uv_signal_init(q.loop, &q.sig_int) != 0
        || uv_signal_init(q.loop, &q.sig_hup) != 0
        || uv_signal_start(&q.sig_term, on_signal, SIGTERM) != 0
        || uv_signal_start(&q.sig_int, on_signal, SIGINT) != 0
        || uv_signal_start(&q.sig_hup, on_signal, SIGHUP) != 0)
        msg_fatal("cannot set up timers and signals");
    after_event();
    uv_run(q.loop, UV_RUN_DEFAULT);
    finish();
    return 0;
}
