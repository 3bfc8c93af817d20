/*
 * server - dkimsign's loop: accept smtp-out connections on
 * run_dir/dkimsign.sock, answer each IPC_DKIM_SIGN with one
 * IPC_DKIM_SIGNED (dkim_proto.h).  RSA signatures (about a millisecond
 * each) are made in libuv's thread pool; Ed25519 (tens of microseconds)
 * on the loop.  A request is refused unless its (domain, selector,
 * algorithm) is a configured key and its input is a DKIM-Signature of
 * that key (dkim_input_check).
 *
 * A connection that closes while its requests are in the pool is kept
 * (closed flag) until the last one comes back; replies to it are dropped.
 * SIGHUP reloads the configuration and the keys (keystore.c), then, with
 * dkim-check-dns, checks them against DNS (dnscheck.c); SIGTERM and
 * SIGINT stop accepting, let the pool drain, then exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "dkim_proto.h"
#include "dkimsign.h"
#include "ipc_conn.h"
#include "log.h"
#include "net.h"
#include "proto.h"

#define INFLIGHT_MAX 4096       /* requests in the pool, all connections */

struct server {
    uv_loop_t *loop;
    char conf_path[PATH_MAX];
    struct config *cfg;
    struct keystore ks;
    uv_pipe_t listener;
    uv_signal_t sig_term, sig_int, sig_hup;
    size_t inflight;
    int stopping;
    int log_inherited;          /* stderr is master's log file: keep it */
    struct timespec conf_mtime; /* of the main file when last loaded */
    unsigned long signed_ok, refused;
};

struct dconn {
    struct server *s;
    struct ipc_conn *c;         /* NULL once closed */
    unsigned inflight;
};

struct job {
    uv_work_t work;
    struct dconn *dc;
    struct ks_key *k;
    uint32_t reqid;
    unsigned char *input;
    size_t len;
    int rc;
    char sig[DKIM_SIG_B64_MAX];
    char err[256];
};

static void server_maybe_finish(struct server *s);
static void server_reload(struct server *s, int from_master);

/* conf_mtime - the main configuration file's mtime (0 if unknown). */
static struct timespec conf_mtime(const char *path)
{
    struct stat st;
    struct timespec zero = { 0, 0 };

    return stat(path, &st) == 0 ? st.st_mtim : zero;
}

/* conf_changed - whether the main file changed since it was loaded. */
static int conf_changed(const struct server *s)
{
    struct timespec t = conf_mtime(s->conf_path);

    return t.tv_sec != s->conf_mtime.tv_sec || t.tv_nsec != s->conf_mtime.tv_nsec;
}

static void dconn_put(struct dconn *dc)
{
    if (dc->c == NULL && dc->inflight == 0)
        free(dc);
}

static void reply(struct dconn *dc, uint32_t reqid, enum dkim_status st, const char *err,
                  const char *sig)
{
    struct buf b;

    if (dc->c == NULL)
        return;
    if (st == DKIM_ST_OK)
        dc->s->signed_ok++;
    else
        dc->s->refused++;
    buf_init(&b, 64 * 1024);
    if (dkim_sign_rep_encode(&b, reqid, st, err, sig) < 0 || ipc_conn_send(dc->c, &b) < 0) {
        msg_warn("cannot queue a reply to smtp-out; closing the connection");
        ipc_conn_close(dc->c);
    }
    buf_free(&b);
}

static void job_work(uv_work_t *w)
{
    struct job *j = w->data;

    j->rc = dkim_key_sign(j->k->key, j->input, j->len, j->sig, j->err, sizeof(j->err));
}

static void job_done(uv_work_t *w, int status)
{
    struct job *j = w->data;
    struct dconn *dc = j->dc;
    struct server *s = dc->s;

    if (status != 0)
        reply(dc, j->reqid, DKIM_ST_SIGN_FAILED, "cancelled", NULL);
    else if (j->rc < 0)
        reply(dc, j->reqid, DKIM_ST_SIGN_FAILED, j->err, NULL);
    else
        reply(dc, j->reqid, DKIM_ST_OK, NULL, j->sig);
    ks_key_release(j->k);
    free(j->input);
    free(j);
    dc->inflight--;
    s->inflight--;
    dconn_put(dc);
    server_maybe_finish(s);
}

/* on_sign - one request: check, then sign inline (Ed25519) or queue (RSA). */
static void on_sign(struct dconn *dc, const struct ipc_frame *f)
{
    struct server *s = dc->s;
    struct dkim_sign_req req;
    struct ks_key *k;
    struct job *j;
    char err[512], esel[128], edom[300], sig[DKIM_SIG_B64_MAX];

    if (dkim_sign_req_decode(f, &req) < 0) {
        reply(dc, f->reqid, DKIM_ST_BAD_REQUEST, "malformed sign request", NULL);
        return;
    }
    k = keystore_find(&s->ks, s->cfg, req.domain, req.selector, req.alg, time(NULL));
    if (k == NULL && conf_changed(s)) {
        /* smtp-out may have reloaded a new selector before we got SIGHUP:
         * read the configuration again if its file changed. */
        msg_info("unknown key %s._domainkey.%s requested: reloading the configuration",
                 log_escape(esel, sizeof(esel), req.selector, strlen(req.selector)),
                 log_escape(edom, sizeof(edom), req.domain, strlen(req.domain)));
        server_reload(s, 0);
        k = keystore_find(&s->ks, s->cfg, req.domain, req.selector, req.alg, time(NULL));
    }
    if (k == NULL) {
        log_escape(esel, sizeof(esel), req.selector, strlen(req.selector));
        log_escape(edom, sizeof(edom), req.domain, strlen(req.domain));
        snprintf(err, sizeof(err), "no %s key %s._domainkey.%s is configured",
                 dkim_alg_keytype(req.alg), esel, edom);
        msg_warn("refused: %s", err);
        reply(dc, f->reqid, DKIM_ST_UNKNOWN_KEY, err, NULL);
        return;
    }
    if (k->key == NULL) {
        reply(dc, f->reqid, DKIM_ST_KEY_FAILED, k->error, NULL);
        return;
    }
    if (dkim_input_check(req.input, req.input_len, req.domain, req.selector, req.alg, err,
                         sizeof(err)) < 0) {
        msg_warn("refused a request for %s._domainkey.%s: %s", k->selector, k->domain, err);
        reply(dc, f->reqid, DKIM_ST_BAD_REQUEST, err, NULL);
        return;
    }
    if (req.alg == DKIM_ALG_ED25519_SHA256) {
        if (dkim_key_sign(k->key, req.input, req.input_len, sig, err, sizeof(err)) < 0)
            reply(dc, f->reqid, DKIM_ST_SIGN_FAILED, err, NULL);
        else
            reply(dc, f->reqid, DKIM_ST_OK, NULL, sig);
        return;
    }
    if (s->inflight >= INFLIGHT_MAX) {
        reply(dc, f->reqid, DKIM_ST_BUSY, "too many requests in flight", NULL);
        return;
    }
    if ((j = calloc(1, sizeof(*j))) == NULL || (j->input = malloc(req.input_len)) == NULL) {
        free(j);
        reply(dc, f->reqid, DKIM_ST_BUSY, "out of memory", NULL);
        return;
    }
    memcpy(j->input, req.input, req.input_len);
    j->len = req.input_len;
    j->reqid = f->reqid;
    j->dc = dc;
    j->k = k;
    j->work.data = j;
    ks_key_hold(k);
    if (uv_queue_work(s->loop, &j->work, job_work, job_done) != 0) {
        ks_key_release(k);
        free(j->input);
        free(j);
        reply(dc, f->reqid, DKIM_ST_BUSY, "cannot queue work", NULL);
        return;
    }
    dc->inflight++;
    s->inflight++;
}

static void conn_frame(struct ipc_conn *c, const struct ipc_frame *f)
{
    struct dconn *dc = ipc_conn_data(c);
    struct msg_hello h;

    switch (f->type) {
    case IPC_HELLO:
        if (msg_hello_decode(f, &h) < 0) {
            msg_warn("malformed HELLO; closing the connection");
            ipc_conn_close(c);
            return;
        }
        msg_debug("client connected: role %u pid %u", h.role, h.pid);
        return;
    case IPC_DKIM_SIGN:
        on_sign(dc, f);
        return;
    default:
        msg_warn("unexpected frame type %u; closing the connection", f->type);
        ipc_conn_close(c);
    }
}

static void conn_closed(struct ipc_conn *c)
{
    struct dconn *dc = ipc_conn_data(c);

    dc->c = NULL;
    dconn_put(dc);
}

static void on_accept(uv_stream_t *server, int status)
{
    struct server *s = server->data;
    struct dconn *dc;

    if (status < 0) {
        msg_warn("accept: %s", uv_strerror(status));
        return;
    }
    if ((dc = calloc(1, sizeof(*dc))) == NULL)
        return;
    dc->s = s;
    if ((dc->c = ipc_conn_new(s->loop, conn_frame, conn_closed, dc)) == NULL) {
        free(dc);
        return;
    }
    if (ipc_conn_accept(dc->c, server) < 0)
        ipc_conn_close(dc->c);
}

static void dnscheck_finished(void *arg)
{
    struct server *s = arg;

    s->inflight--;
    server_maybe_finish(s);
}

/* server_dnscheck - dkim-check-dns: counted in flight, so a stop waits
 * for it (the check holds key references). */
static void server_dnscheck(struct server *s)
{
    int r;

    if (!s->cfg->dkim_check_dns)
        return;
    r = dnscheck_start(s->loop, s->cfg, &s->ks, dnscheck_finished, s);
    if (r < 0)
        msg_error("dkim-check-dns: cannot start the DNS check of the keys");
    else if (r > 0)
        s->inflight++;
}

/* server_reload - from_master: a SIGHUP after master validated the file,
 * so apply only what master checked (config_reload.c); else an on-demand
 * reload for a key smtp-out already has (it verified the same file). */
static void server_reload(struct server *s, int from_master)
{
    struct keystore ks = { 0 };
    struct config *cfg;
    char err[1024];
    size_t failed;

    s->conf_mtime = conf_mtime(s->conf_path);
    if (config_load(s->conf_path, &cfg, err, sizeof(err)) < 0) {
        msg_error("reload: %s; keeping the running configuration and keys", err);
        return;
    }
    if (from_master && config_digest_verify(cfg, err, sizeof(err)) < 0) {
        msg_error("reload: %s; keeping the running configuration and keys", err);
        config_free(cfg);
        return;
    }
    if (!s->log_inherited && strcmp(cfg->log_file, s->cfg->log_file) != 0
        && log_open_file(cfg->log_file) < 0)
        msg_error("cannot open log file %s: %s", cfg->log_file, strerror(errno));
    failed = keystore_load(&ks, cfg, &s->ks, time(NULL));
    keystore_free(&s->ks);      /* requests in flight keep their own reference */
    s->ks = ks;
    config_free(s->cfg);
    s->cfg = cfg;
    msg_info("reloaded: %zu DKIM keys, %zu failed to load", ks.n, failed);
    server_dnscheck(s);
}

static void server_maybe_finish(struct server *s)
{
    if (!s->stopping || s->inflight > 0)
        return;
    msg_info("stopped: %lu signatures, %lu requests refused", s->signed_ok, s->refused);
    uv_stop(s->loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *s = h->data;

    if (signum == SIGHUP) {
        msg_info("SIGHUP: reloading the configuration and the keys");
        server_reload(s, 1);
        return;
    }
    if (s->stopping)
        return;
    s->stopping = 1;
    uv_close((uv_handle_t *)&s->listener, NULL);
    server_maybe_finish(s);
}

static void signal_start(struct server *s, uv_signal_t *h, int signum)
{
    if (uv_signal_init(s->loop, h) != 0 || uv_signal_start(h, on_signal, signum) != 0)
        msg_fatal("cannot handle signal %d", signum);
    h->data = s;
}

/* pool_size - one signing thread per CPU (libuv's default is 4). */
static void pool_size(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    char v[16];

    if (getenv("UV_THREADPOOL_SIZE") != NULL)
        return;
    snprintf(v, sizeof(v), "%ld", n < 2 ? 2 : n > 64 ? 64 : n);
    (void)setenv("UV_THREADPOOL_SIZE", v, 1);
}

int dkimsign_run(const char *conf_path, struct config *cfg, int listen_fd, int log_inherited)
{
    static struct server s;
    char path[PATH_MAX + 32];
    size_t failed;

    pool_size();
    s.loop = uv_default_loop();
    snprintf(s.conf_path, sizeof(s.conf_path), "%s", conf_path);
    s.conf_mtime = conf_mtime(conf_path);
    s.cfg = cfg;
    s.log_inherited = log_inherited;
    (void)signal(SIGPIPE, SIG_IGN);
    failed = keystore_load(&s.ks, cfg, NULL, time(NULL));
    if (listen_fd < 0) {
        if (snprintf(path, sizeof(path), "%s/dkimsign.sock", cfg->run_dir) >= (int)sizeof(path))
            msg_fatal("run-dir too long");
        if ((listen_fd = net_listen_unix(path)) < 0)
            msg_fatal("cannot listen on %s: %s", path, strerror(errno));
    }
    if (uv_pipe_init(s.loop, &s.listener, 0) != 0 || uv_pipe_open(&s.listener, listen_fd) != 0)
        msg_fatal("cannot use the listening socket");
    s.listener.data = &s;
    if (uv_listen((uv_stream_t *)&s.listener, 128, on_accept) != 0)
        msg_fatal("cannot listen");
    signal_start(&s, &s.sig_term, SIGTERM);
    signal_start(&s, &s.sig_int, SIGINT);
    signal_start(&s, &s.sig_hup, SIGHUP);
    msg_info("started: %zu DKIM keys, %zu failed to load", s.ks.n, failed);
    server_dnscheck(&s);
    (void)uv_run(s.loop, UV_RUN_DEFAULT);
    keystore_free(&s.ks);
    config_free(s.cfg);
    return 0;
}
