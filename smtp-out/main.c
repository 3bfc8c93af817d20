/*
 * smtp-out - Courser's delivery daemon: main loop, the connection to qmgr,
 * jobs in (DELIVER) and results out (RESULT), slots, signals.
 *
 * Started by master as `smtp-out -c courser.conf`.  Connects to
 * run_dir/qmgr.sock, says HELLO{ROLE_SMTP_OUT, pid, slots} and then takes
 * DELIVER jobs; each gets exactly one RESULT with one entry per recipient.
 * At most `slots` jobs are in progress; a job over the limit is answered
 * 451 4.3.2 (local) at once (qmgr should never send one).
 * If the qmgr connection drops, jobs in flight still finish (their results
 * are dropped: qmgr requeues a lost worker's jobs) and we reconnect with
 * backoff 100 ms doubling to 2 s.
 * SIGTERM/SIGINT: stop taking jobs, let those in flight finish for up to
 * 5 s, QUIT the cached connections, exit 0.  SIGHUP: reload the config
 * (slots and dns-server apply to new work after a restart only; DKIM
 * settings and keys apply to the next job: sign.c reads them per job).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "config.h"
#include "ipc_conn.h"
#include "log.h"
#include "net.h"
#include "queueid.h"
#include "smtp_out.h"

#define STOP_GRACE_MS     5000
#define BACKOFF_MIN_MS    100
#define BACKOFF_MAX_MS    2000

static struct {
    uv_loop_t *loop;
    struct config *cfg;
    char cfg_path[4096];
    unsigned backoff_ms;
    uv_timer_t reconnect;
    uv_timer_t stop_timer;
    uint64_t stop_started;
    uv_signal_t sig_term, sig_int, sig_hup;
    uint32_t slots;
    int stopping;
} so;

static void qmgr_on_deliver(const struct ipc_frame *f)
{
    struct msg_deliver d;
    struct so_job *j;

    memset(&d, 0, sizeof(d));
    if (msg_deliver_decode(f, &d) < 0) {
        msg_warn("qmgr: malformed DELIVER; closing connection");
        ipc_conn_close(job_ctx.qmgr);
        return;
    }
    if (d.nrcpt == 0 || !queue_id_valid(d.queue_id) || d.domain[0] == '\0') {
        msg_warn("qmgr: DELIVER job %llu without recipients, queue id or domain",
                 (unsigned long long)d.job_id);
        job_refuse(&d, "invalid delivery job");
        return;
    }
    if (so.stopping) {
        job_refuse(&d, "delivery agent shutting down");
        return;
    }
    if (job_ctx.inflight >= so.slots) {
        msg_warn("qmgr: job %llu over the %u slots", (unsigned long long)d.job_id, so.slots);
        job_refuse(&d, "too many deliveries in progress");
        return;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        msg_fatal("smtp-out: out of memory");
    j->d = d;
    j->gen = job_ctx.gen;
    job_ctx.inflight++;
    sign_submit(j, so.cfg);
}

static void qmgr_on_frame(struct ipc_conn *c, const struct ipc_frame *f)
{
    if (f->type == IPC_DELIVER)
        qmgr_on_deliver(f);
    else
        msg_warn("qmgr: unexpected frame type %u ignored", f->type);
}

static void qmgr_connect(uv_timer_t *t);

static void qmgr_schedule_reconnect(void)
{
    if (so.stopping)
        return;
    uv_timer_start(&so.reconnect, qmgr_connect, so.backoff_ms, 0);
    so.backoff_ms = so.backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : so.backoff_ms * 2;
}

static void qmgr_on_close(struct ipc_conn *c)
{
    if (job_ctx.qmgr == c) {
        job_ctx.qmgr = NULL;
        job_ctx.gen++;               /* results of jobs in flight are lost */
        if (!so.stopping)
            msg_warn("lost connection to qmgr; reconnecting");
        qmgr_schedule_reconnect();
    }
}

static void qmgr_connect(uv_timer_t *t)
{
    char path[4200];
    struct msg_hello h = { ROLE_SMTP_OUT, (uint32_t)getpid(), 0 };
    struct buf b;
    int fd;

    snprintf(path, sizeof(path), "%s/qmgr.sock", so.cfg->run_dir);
    fd = net_connect_unix(path);
    if (fd < 0) {
        msg_debug("connect %s: %s", path, strerror(errno));
        qmgr_schedule_reconnect();
        return;
    }
    job_ctx.qmgr = ipc_conn_new(so.loop, qmgr_on_frame, qmgr_on_close, NULL);
    if (job_ctx.qmgr == NULL || ipc_conn_open_fd(job_ctx.qmgr, fd) < 0) {
        msg_error("qmgr connection set-up failed");
        close(fd);
        if (job_ctx.qmgr != NULL)
            ipc_conn_close(job_ctx.qmgr);
        qmgr_schedule_reconnect();
        return;
    }
    job_ctx.gen++;
    h.slots = so.slots;
    buf_init(&b, 1024);
    if (msg_hello_encode(&b, &h) < 0 || ipc_conn_send(job_ctx.qmgr, &b) < 0)
        ipc_conn_close(job_ctx.qmgr);
    buf_free(&b);
    so.backoff_ms = BACKOFF_MIN_MS;
    msg_info("connected to qmgr (%u slots)", so.slots);
}

static void stop_tick(uv_timer_t *t)
{
    pool_shutdown();
    if ((job_ctx.inflight == 0 && pool_conn_count() == 0)
        || uv_now(so.loop) - so.stop_started >= STOP_GRACE_MS) {
        unsigned long sgn, hits, def, uns;
        if (job_ctx.inflight > 0)
            msg_warn("stopping with %u deliveries unfinished (qmgr will retry them)", job_ctx.inflight);
        sign_stats(&sgn, &hits, &def, &uns);
        msg_info("stopped: DKIM: %lu messages signed (%lu body hashes from the cache), "
                 "%lu deferred, %lu sent short of a signature", sgn, hits, def, uns);
        exit(0);
    }
}

static void on_stop_signal(uv_signal_t *s, int signum)
{
    if (so.stopping)
        return;
    so.stopping = 1;
    so.stop_started = uv_now(so.loop);
    msg_info("signal %d: stopping (%u deliveries in flight)", signum, job_ctx.inflight);
    uv_timer_stop(&so.reconnect);
    uv_timer_start(&so.stop_timer, stop_tick, 0, 50);
}

static void on_hup(uv_signal_t *s, int signum)
{
    struct config *cfg;
    char err[1024];

    if (config_load(so.cfg_path, &cfg, err, sizeof(err)) < 0) {
        msg_error("reload failed, keeping the old configuration: %s", err);
        return;
    }
    if (config_digest_verify(cfg, err, sizeof(err)) < 0) {
        msg_error("reload: %s; keeping the running configuration", err);
        config_free(cfg);
        return;
    }
    config_free(so.cfg);
    so.cfg = cfg;
    snprintf(job_ctx.spool_dir, sizeof(job_ctx.spool_dir), "%s", cfg->spool_dir);
    snprintf(job_ctx.host_name, sizeof(job_ctx.host_name), "%s", cfg->host_name);
    msg_info("configuration reloaded");
}

static void usage(void)
{
    fprintf(stderr, "usage: smtp-out -c /path/to/courser.conf [-v]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    char err[1024];
    int opt;

    log_init("smtp-out");
    while ((opt = getopt(argc, argv, "c:v")) != -1) {
        if (opt == 'c')
            snprintf(so.cfg_path, sizeof(so.cfg_path), "%s", optarg);
        else if (opt == 'v')
            log_set_verbose(1);
        else
            usage();
    }
    if (so.cfg_path[0] == '\0')
        usage();
    if (config_load(so.cfg_path, &so.cfg, err, sizeof(err)) < 0)
        msg_fatal("%s", err);
    if (so.cfg->log_file[0] != '\0' && log_open_file(so.cfg->log_file) < 0)
        msg_fatal("open log file %s: %s", so.cfg->log_file, strerror(errno));
    snprintf(job_ctx.spool_dir, sizeof(job_ctx.spool_dir), "%s", so.cfg->spool_dir);
    snprintf(job_ctx.host_name, sizeof(job_ctx.host_name), "%s", so.cfg->host_name);
    signal(SIGPIPE, SIG_IGN);
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    so.slots = so.cfg->smtp_out_slots ? so.cfg->smtp_out_slots : 200;
    so.loop = uv_default_loop();
    if (resolve_init(so.loop, so.cfg->dns_server_ip, so.cfg->dns_server_port) < 0)
        msg_fatal("cannot initialise the DNS resolver");
    pool_init(so.loop);
    if (sign_init(so.loop, so.cfg->run_dir) < 0)
        msg_fatal("smtp-out: out of memory");
    uv_timer_init(so.loop, &so.reconnect);
    uv_timer_init(so.loop, &so.stop_timer);
    uv_signal_init(so.loop, &so.sig_term);
    uv_signal_init(so.loop, &so.sig_int);
    uv_signal_init(so.loop, &so.sig_hup);
    uv_signal_start(&so.sig_term, on_stop_signal, SIGTERM);
    uv_signal_start(&so.sig_int, on_stop_signal, SIGINT);
    uv_signal_start(&so.sig_hup, on_hup, SIGHUP);
    so.backoff_ms = BACKOFF_MIN_MS;
    qmgr_connect(&so.reconnect);
    msg_info("started");
    uv_run(so.loop, UV_RUN_DEFAULT);
    return 0;
}
