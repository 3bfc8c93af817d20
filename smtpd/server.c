/*
 * server - smtpd's process-wide state: the loop, the listeners (inherited
 * from master in COURSER_LISTEN_FDS, one per smtp-listener in config
 * order, shared by every smtpd process; or bound here when run alone),
 * the current configuration and its references, signals, stop and reload.
 * Signals: SIGTERM/SIGINT stop accepting, let transactions in progress
 * finish (at most SMTPD_STOP_GRACE ms), answer 421 to idle sessions, exit 0.
 * SIGHUP reloads the configuration for new sessions (a bad file keeps the
 * old one).  Fatal (exit 1) on a bad configuration or listener at start.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "smtpd.h"
#include "log.h"
#include "net.h"
#include "parse.h"

#define SMTPD_STOP_GRACE 10000
#define SMTPD_MAX_LISTEN_FDS 64

struct smtpd_globals smtpd;

static uv_signal_t sig_term, sig_int, sig_hup;
static uv_timer_t stop_timer;
static int stop_timer_on;

struct smtpd_cfg *smtpd_cfg_get(void)
{
    smtpd.cfg->refs++;
    return smtpd.cfg;
}

void smtpd_cfg_put(struct smtpd_cfg *c)
{
    if (--c->refs == 0) {
        config_free(c->cfg);
        free(c);
    }
}

static struct smtpd_cfg *smtpd_cfg_load(const char *path)
{
    char err[1024];
    struct config *cfg;
    struct smtpd_cfg *c;

    if (config_load(path, &cfg, err, sizeof(err)) < 0) {
        msg_error("%s", err);
        return NULL;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        config_free(cfg);
        return NULL;
    }
    c->cfg = cfg;
    c->refs = 1;
    return c;
}

static void smtpd_walk_close(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* smtpd_maybe_exit - stopping and nothing left: leave the loop. */
static void smtpd_maybe_exit(void)
{
    static int done;

    if (!smtpd.stopping || smtpd.nsessions > 0 || done)
        return;
    done = 1;
    notify_stop();
    if (stop_timer_on) {
        uv_close((uv_handle_t *)&stop_timer, NULL);
        stop_timer_on = 0;
    }
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_hup, NULL);
}

void smtpd_session_gone(void)
{
    smtpd_maybe_exit();
}

static void smtpd_stop_timeout(uv_timer_t *t)
{
    struct session *s, *next;

    msg_info("stop: closing %zu sessions still busy", smtpd.nsessions);
    for (s = smtpd.sessions; s != NULL; s = next) {
        next = s->next;
        session_force_stop(s);
    }
}

static void smtpd_stop(void)
{
    struct session *s, *next;
    size_t i;

    if (smtpd.stopping)
        return;
    smtpd.stopping = 1;
    msg_info("stopping: %zu sessions", smtpd.nsessions);
    for (i = 0; i < smtpd.nlisteners; i++) {
        if (smtpd.listeners[i].open) {
            smtpd.listeners[i].open = 0;
            uv_close((uv_handle_t *)&smtpd.listeners[i].tcp, NULL);
        }
    }
    for (s = smtpd.sessions; s != NULL; s = next) {
        next = s->next;
        session_drain(s);
    }
    if (uv_timer_init(smtpd.loop, &stop_timer) == 0) {
        stop_timer_on = 1;
        uv_timer_start(&stop_timer, smtpd_stop_timeout, SMTPD_STOP_GRACE, 0);
        uv_unref((uv_handle_t *)&stop_timer);
    }
    smtpd_maybe_exit();
}

static void smtpd_reload(void)
{
    struct smtpd_cfg *c = smtpd_cfg_load(smtpd.config_path);

    char err[512];

    if (c == NULL) {
        msg_error("reload failed; keeping the running configuration");
        return;
    }
    if (config_digest_verify(c->cfg, err, sizeof(err)) < 0) {
        msg_error("reload: %s; keeping the running configuration", err);
        smtpd_cfg_put(c);
        return;
    }
    if (c->cfg->log_file[0] != '\0' && log_open_file(c->cfg->log_file) < 0)
        msg_error("cannot open log file %s: %s", c->cfg->log_file, strerror(errno));
    spool_set_sync(c->cfg->sync_msg_create);
    smtpd_cfg_put(smtpd.cfg);
    smtpd.cfg = c;
    msg_info("configuration reloaded");
}

static void smtpd_signal(uv_signal_t *h, int signum)
{
    if (signum == SIGHUP)
        smtpd_reload();
    else
        smtpd_stop();
}

static void smtpd_connection(uv_stream_t *server, int status)
{
    struct smtpd_listener *l = server->data;

    if (status < 0) {
        msg_warn("accept on %s: %s", l->name, uv_strerror(status));
        return;
    }
    if (!l->open || smtpd.stopping)
        return;
    session_accept(l);
}

/* smtpd_inherited_fds - parse COURSER_LISTEN_FDS ("3,4,5").  Returns the
 * count, 0 when the variable is absent, -1 when malformed. */
static int smtpd_inherited_fds(int *fds, int max)
{
    const char *v = getenv("COURSER_LISTEN_FDS");
    char num[16];
    uint64_t fd;
    int n = 0;

    if (v == NULL || v[0] == '\0')
        return 0;
    while (*v != '\0') {
        size_t len = strcspn(v, ",");

        if (len == 0 || len >= sizeof(num) || n >= max)
            return -1;
        memcpy(num, v, len);
        num[len] = '\0';
        if (parse_u64(num, 0, 65535, &fd) < 0)
            return -1;
        fds[n++] = (int)fd;
        v += len;
        if (*v == ',')
            v++;
    }
    return n;
}

static void smtpd_listen(void)
{
    const struct config *cfg = smtpd.cfg->cfg;
    int fds[SMTPD_MAX_LISTEN_FDS], n;
    size_t i;

    n = smtpd_inherited_fds(fds, SMTPD_MAX_LISTEN_FDS);
    if (n < 0)
        msg_fatal("COURSER_LISTEN_FDS is malformed");
    if (n > 0 && (size_t)n != cfg->nlisteners)
        msg_fatal("COURSER_LISTEN_FDS has %d sockets for %zu smtp-listeners", n,
                  cfg->nlisteners);
    if (cfg->nlisteners == 0)
        msg_fatal("no smtp-listener configured");
    smtpd.listeners = calloc(cfg->nlisteners, sizeof(*smtpd.listeners));
    if (smtpd.listeners == NULL)
        msg_fatal("out of memory");
    smtpd.nlisteners = cfg->nlisteners;
    for (i = 0; i < cfg->nlisteners; i++) {
        struct smtpd_listener *l = &smtpd.listeners[i];
        const struct cfg_listener *cl = &cfg->listeners[i];
        int fd = n > 0 ? fds[i] : net_listen_tcp(cl->ip, cl->port);

        if (fd < 0)
            msg_fatal("listen on %s:%u: %s", cl->ip, cl->port, strerror(errno));
        snprintf(l->name, sizeof(l->name), "%s:%u", cl->ip, cl->port);
        snprintf(l->source, sizeof(l->source), "%s", cl->source);
        if (net_set_nonblock(fd) < 0 || uv_tcp_init(smtpd.loop, &l->tcp) != 0
            || uv_tcp_open(&l->tcp, fd) != 0)
            msg_fatal("listener %s: cannot adopt fd %d", l->name, fd);
        l->tcp.data = l;
        if (uv_listen((uv_stream_t *)&l->tcp, 4096, smtpd_connection) != 0)
            msg_fatal("listen on %s failed", l->name);
        l->open = 1;
        msg_info("listening on %s%s", l->name, n > 0 ? " (inherited)" : "");
    }
}

static void smtpd_signals(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (uv_signal_init(smtpd.loop, &sig_term) != 0 || uv_signal_init(smtpd.loop, &sig_int) != 0
        || uv_signal_init(smtpd.loop, &sig_hup) != 0
        || uv_signal_start(&sig_term, smtpd_signal, SIGTERM) != 0
        || uv_signal_start(&sig_int, smtpd_signal, SIGINT) != 0
        || uv_signal_start(&sig_hup, smtpd_signal, SIGHUP) != 0)
        msg_fatal("cannot install signal handlers");
}

int smtpd_run(const char *config_path)
{
    const struct config *cfg;

    smtpd.config_path = config_path;
    if ((smtpd.cfg = smtpd_cfg_load(smtpd.config_path)) == NULL)
        return 1;
    cfg = smtpd.cfg->cfg;
    if (cfg->log_file[0] != '\0' && log_open_file(cfg->log_file) < 0)
        msg_fatal("cannot open log file %s: %s", cfg->log_file, strerror(errno));
    spool_set_sync(cfg->sync_msg_create);
    if (spool_init_dirs(cfg->spool_dir) < 0)
        msg_fatal("spool %s: %s", cfg->spool_dir, strerror(errno));
    smtpd.loop = uv_default_loop();
    smtpd_signals();
    smtpd_listen();
    notify_init(smtpd.loop, cfg->run_dir);
    uv_run(smtpd.loop, UV_RUN_DEFAULT);
    uv_walk(smtpd.loop, smtpd_walk_close, NULL);
    uv_run(smtpd.loop, UV_RUN_DEFAULT);
    msg_info("stopped");
    return 0;
}
