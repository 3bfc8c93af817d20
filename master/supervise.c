/*
 * supervise - master's daemon table: start every daemon in order (dkimsign,
 * acctd, bounced, qmgr, smtp-out, smtpd), restart one that exits unexpectedly after the
 * backoff delay (backoff.c), give up on a crash loop, reload the
 * configuration, and stop everything in reverse order on SIGTERM
 * (smtpd first so no new mail arrives while the rest drains).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "log.h"
#include "master.h"
#include "spawn.h"

#define STOP_GRACE_MS 15000

static const char *const kind_names[DK_COUNT] = {
    [DK_DKIMSIGN] = "dkimsign", [DK_ACCTD] = "acctd", [DK_BOUNCED] = "bounced", [DK_QMGR] = "qmgr",
    [DK_SMTP_OUT] = "smtp-out", [DK_SMTPD] = "smtpd",
};

static const char *const state_names[] = {
    [DS_STOPPED] = "stopped", [DS_RUNNING] = "running",
    [DS_BACKOFF] = "restarting", [DS_FAILED] = "failed (gave up)",
    [DS_STOPPING] = "stopping",
};

const char *daemon_kind_name(enum daemon_kind k)
{
    return k < DK_COUNT ? kind_names[k] : "?";
}

int supervise_init(struct master *m)
{
    size_t n[DK_COUNT] = {
        [DK_DKIMSIGN] = 1, [DK_ACCTD] = 1, [DK_BOUNCED] = 1, [DK_QMGR] = 1,
        [DK_SMTP_OUT] = m->cfg->smtp_out_processes, [DK_SMTPD] = m->cfg->smtpd_processes,
    };
    size_t total = 0, i, j, k = 0;

    for (i = 0; i < DK_COUNT; i++)
        total += n[i];
    m->procs = calloc(total, sizeof(*m->procs));
    if (m->procs == NULL)
        return -1;
    m->nprocs = total;
    for (i = 0; i < DK_COUNT; i++)
        for (j = 0; j < n[i]; j++, k++) {
            struct daemon_proc *d = &m->procs[k];
            d->m = m;
            d->kind = (enum daemon_kind)i;
            d->index = (unsigned)j;
            backoff_init(&d->bo);
            if (uv_timer_init(m->loop, &d->timer) != 0)
                return -1;
            d->timer.data = d;
        }
    if (uv_timer_init(m->loop, &m->stop_timer) != 0)
        return -1;
    m->stop_timer.data = m;
    return 0;
}

/* proc_fds - the sockets a daemon of this kind inherits. */
static size_t proc_fds(struct master *m, enum daemon_kind k, const int **fds)
{
    switch (k) {
    case DK_SMTPD:
        *fds = m->tcp_fds;
        return m->ntcp;
    case DK_QMGR:
        *fds = &m->qmgr_fd;
        return 1;
    case DK_ACCTD:
        *fds = &m->acctd_fd;
        return 1;
    case DK_DKIMSIGN:
        *fds = &m->dkim_fd;
        return 1;
    case DK_BOUNCED:
        *fds = &m->bounced_fd;
        return 1;
    default:
        *fds = NULL;
        return 0;
    }
}

static void proc_start(struct daemon_proc *d);

static void proc_restart_timer(uv_timer_t *t)
{
    struct daemon_proc *d = t->data;

    if (d->m->stopping || d->state != DS_BACKOFF)
        return;
    d->restarts++;
    proc_start(d);
}

/* proc_schedule - arm the restart after a failure (crash or failed exec). */
static void proc_schedule(struct daemon_proc *d, const char *why)
{
    const char *name = daemon_kind_name(d->kind);
    int64_t delay = backoff_crashed(&d->bo, uv_now(d->m->loop));

    if (delay < 0) {
        d->state = DS_FAILED;
        msg_error("%s%s; giving up restarting %s (more than %u crashes in a row, "
                  "each within %us of its start)",
                  name, why, name, BACKOFF_MAX_CRASHES, BACKOFF_STABLE_MS / 1000);
        return;
    }
    msg_warn("%s%s; restarting in %.1fs", name, why, (double)delay / 1000.0);
    d->state = DS_BACKOFF;
    if (uv_timer_start(&d->timer, proc_restart_timer, (uint64_t)delay, 0) != 0)
        msg_error("%s: cannot arm restart timer", name);
}

static void proc_start(struct daemon_proc *d)
{
    struct master *m = d->m;
    const char *name = daemon_kind_name(d->kind);
    char path[PATH_MAX + 64], err[512];
    char *argv[] = { path, "-c", m->conf_path, NULL };
    struct spawn_req r;
    int fds[2], logfd = -1;
    pid_t pid;

    if (snprintf(path, sizeof(path), "%s/%s", m->bin_dir, name) >= (int)sizeof(path)) {
        msg_error("%s: program path too long", name);
        d->state = DS_FAILED;
        return;
    }
    memset(&r, 0, sizeof(r));
    r.path = path;
    r.argv = argv;
    r.nfds = proc_fds(m, d->kind, &r.fds);
    r.drop = m->drop;
    r.uid = m->uid;
    r.gid = m->gid;
    if (d->kind == DK_DKIMSIGN) {
        /* dkim-user cannot open the log file (the daemons' user owns
         * it), so dkimsign gets it open as its second descriptor. */
        r.uid = m->dkim_uid;
        r.gid = m->dkim_gid;
        fds[0] = m->dkim_fd;
        if (m->cfg->log_file[0] != '\0'
            && (logfd = open(m->cfg->log_file, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
            msg_warn("dkimsign: cannot open %s for it: %s", m->cfg->log_file, strerror(errno));
        fds[1] = logfd;
        r.fds = fds;
        r.nfds = logfd >= 0 ? 2 : 1;
    }
    backoff_started(&d->bo, uv_now(m->loop));
    pid = spawn_daemon(&r, err, sizeof(err));
    if (logfd >= 0)
        (void)close(logfd);
    if (pid < 0) {
        char why[600];
        snprintf(why, sizeof(why), ": cannot start: %s", err);
        proc_schedule(d, why);
        return;
    }
    d->pid = pid;
    d->state = DS_RUNNING;
    d->started_ms = uv_now(m->loop);
    msg_info("started %s[%ld]", name, (long)pid);
}

void supervise_start_all(struct master *m)
{
    size_t i;

    /* procs is laid out in start order (enum daemon_kind). */
    for (i = 0; i < m->nprocs; i++)
        proc_start(&m->procs[i]);
}

static void stop_phase_run(struct master *m);

/* master_finish - the last daemon is gone: remove what master created in
 * run-dir and leave the loop (main returns 0). */
static void master_finish(struct master *m)
{
    control_stop(m);
    (void)unlink(m->control_path);
    (void)unlink(m->qmgr_path);
    (void)unlink(m->acctd_path);
    (void)unlink(m->dkim_path);
    (void)unlink(m->bounced_path);
    (void)unlink(m->pidfile);
    msg_info("stopped");
    uv_stop(m->loop);
}

/* proc_crashed - a daemon exited without being asked to. */
static void proc_crashed(struct daemon_proc *d, pid_t pid, int status)
{
    char why[128];

    if (WIFSIGNALED(status))
        snprintf(why, sizeof(why), "[%ld] killed by signal %d", (long)pid, WTERMSIG(status));
    else
        snprintf(why, sizeof(why), "[%ld] exited with status %d", (long)pid,
                 WEXITSTATUS(status));
    proc_schedule(d, why);
}

void supervise_reap(struct master *m)
{
    struct daemon_proc *d;
    int status;
    pid_t pid;
    size_t i;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (i = 0; i < m->nprocs; i++)
            if (m->procs[i].pid == pid)
                break;
        if (i == m->nprocs)
            continue;       /* a child whose exec failed (already reported) */
        d = &m->procs[i];
        d->pid = 0;
        if (m->stopping || d->state == DS_STOPPING) {
            d->state = DS_STOPPED;
            msg_info("%s[%ld] stopped", daemon_kind_name(d->kind), (long)pid);
        } else {
            proc_crashed(d, pid, status);
        }
    }
    if (m->stopping)
        stop_phase_run(m);
}

/* listeners_equal - whether a reload changed the TCP listeners (the
 * sockets were created at start; changing them needs a restart). */
static int listeners_equal(const struct config *a, const struct config *b)
{
    size_t i;

    if (a->nlisteners != b->nlisteners)
        return 0;
    for (i = 0; i < a->nlisteners; i++)
        if (strcmp(a->listeners[i].ip, b->listeners[i].ip) != 0
            || a->listeners[i].port != b->listeners[i].port)
            return 0;
    return 1;
}

int supervise_reload(struct master *m, char *err, size_t errlen)
{
    struct config *cfg;
    size_t i;

    if (m->stopping) {
        snprintf(err, errlen, "courser is stopping");
        return -1;
    }
    if (config_load(m->conf_path, &cfg, err, errlen) < 0) {
        msg_error("reload: %s; keeping the running configuration", err);
        return -1;
    }
    /* the daemons apply the file only if they read what was checked here */
    if (config_digest_publish(cfg, err, errlen) < 0) {
        msg_error("reload: %s; keeping the running configuration", err);
        config_free(cfg);
        return -1;
    }
    if (!listeners_equal(m->cfg, cfg))
        msg_warn("reload: smtp-listener changes take effect only after a restart");
    if (cfg->smtpd_processes != m->cfg->smtpd_processes
        || cfg->smtp_out_processes != m->cfg->smtp_out_processes)
        msg_warn("reload: process count changes take effect only after a restart");
    if (strcmp(cfg->run_dir, m->cfg->run_dir) != 0 || strcmp(cfg->spool_dir, m->cfg->spool_dir) != 0
        || strcmp(cfg->user, m->cfg->user) != 0)
        msg_warn("reload: run-dir, spool-dir and user changes take effect only after a restart");
    if (strcmp(cfg->log_file, m->cfg->log_file) != 0 && log_open_file(cfg->log_file) < 0)
        msg_error("reload: cannot open log file %s: %s", cfg->log_file, strerror(errno));
    config_free(m->cfg);
    m->cfg = cfg;
    for (i = 0; i < m->nprocs; i++)
        if (m->procs[i].pid > 0 && kill(m->procs[i].pid, SIGHUP) < 0)
            msg_warn("reload: kill %ld: %s", (long)m->procs[i].pid, strerror(errno));
    msg_info("reloaded %s", m->conf_path);
    return 0;
}

/* Shutdown order: the reverse of the start order. */
/* dkimsign stops after smtp-out, which may still sign while it drains;
 * bounced after qmgr, which hands it failures until the end. */
static const enum daemon_kind stop_order[] = { DK_SMTPD, DK_SMTP_OUT, DK_DKIMSIGN, DK_QMGR,
                                               DK_BOUNCED, DK_ACCTD };
#define STOP_PHASES ((int)(sizeof(stop_order) / sizeof(stop_order[0])))

static void stop_timeout(uv_timer_t *t)
{
    struct master *m = t->data;
    size_t i;

    for (i = 0; i < m->nprocs; i++) {
        struct daemon_proc *d = &m->procs[i];
        if (d->kind == stop_order[m->stop_phase] && d->pid > 0) {
            msg_warn("%s[%ld] did not stop within %ds; killing it",
                     daemon_kind_name(d->kind), (long)d->pid, STOP_GRACE_MS / 1000);
            if (kill(d->pid, SIGKILL) < 0 && errno != ESRCH)
                msg_warn("kill %ld: %s", (long)d->pid, strerror(errno));
        }
    }
}

/* stop_phase_run - signal the current phase's daemons, or move on to the
 * next phase once they are all gone.  Called on start of the shutdown and
 * after every reaped child. */
static void stop_phase_run(struct master *m)
{
    size_t i, alive;

    while (m->stop_phase < STOP_PHASES) {
        alive = 0;
        for (i = 0; i < m->nprocs; i++) {
            struct daemon_proc *d = &m->procs[i];
            if (d->kind != stop_order[m->stop_phase])
                continue;
            if (d->pid > 0 && d->state != DS_STOPPING) {
                d->state = DS_STOPPING;
                if (kill(d->pid, SIGTERM) < 0 && errno != ESRCH)
                    msg_warn("kill %ld: %s", (long)d->pid, strerror(errno));
                if (uv_timer_start(&m->stop_timer, stop_timeout, STOP_GRACE_MS, 0) != 0)
                    msg_warn("cannot arm the stop timer");
            }
            if (d->pid > 0)
                alive++;
        }
        if (alive > 0)
            return;
        (void)uv_timer_stop(&m->stop_timer);
        m->stop_phase++;
    }
    master_finish(m);
}

void supervise_shutdown(struct master *m)
{
    size_t i;

    if (m->stopping)
        return;
    m->stopping = 1;
    m->stop_phase = 0;
    msg_info("stopping");
    for (i = 0; i < m->nprocs; i++) {
        (void)uv_timer_stop(&m->procs[i].timer);
        if (m->procs[i].pid == 0)
            m->procs[i].state = DS_STOPPED;
    }
    stop_phase_run(m);
}

static void format_duration(uint64_t s, char *out, size_t outlen)
{
    if (s >= 86400)
        snprintf(out, outlen, "%llud%lluh%llum", (unsigned long long)(s / 86400),
                 (unsigned long long)(s % 86400 / 3600), (unsigned long long)(s % 3600 / 60));
    else if (s >= 3600)
        snprintf(out, outlen, "%lluh%llum%llus", (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60), (unsigned long long)(s % 60));
    else if (s >= 60)
        snprintf(out, outlen, "%llum%llus", (unsigned long long)(s / 60),
                 (unsigned long long)(s % 60));
    else
        snprintf(out, outlen, "%llus", (unsigned long long)s);
}

void supervise_status(struct master *m, struct buf *out)
{
    uint64_t now = uv_now(m->loop);
    char up[64], name[32];
    size_t i;

    format_duration((now - m->start_ms) / 1000, up, sizeof(up));
    (void)buf_printf(out, "courser %s, pid %ld, up %s, config %s\n", COURSER_VERSION,
                     (long)getpid(), up, m->conf_path);
    (void)buf_printf(out, "%-12s %-8s %-18s %-8s %s\n", "daemon", "pid", "state", "restarts",
                     "uptime");
    for (i = 0; i < m->nprocs; i++) {
        struct daemon_proc *d = &m->procs[i];
        if (d->kind == DK_SMTPD || d->kind == DK_SMTP_OUT)
            snprintf(name, sizeof(name), "%s#%u", daemon_kind_name(d->kind), d->index);
        else
            snprintf(name, sizeof(name), "%s", daemon_kind_name(d->kind));
        if (d->state == DS_RUNNING)
            format_duration((now - d->started_ms) / 1000, up, sizeof(up));
        else
            snprintf(up, sizeof(up), "-");
        (void)buf_printf(out, "%-12s %-8ld %-18s %-8u %s\n", name, (long)d->pid,
                         state_names[d->state], d->restarts, up);
    }
}
