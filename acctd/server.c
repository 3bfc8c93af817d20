/*
 * server - acctd's loop: accept producers (HELLO first), collect the ACCT
 * records of one loop turn into a batch, and at the end of the turn (a
 * uv_check handle) write each file's lines with one write(2) and
 * acknowledge every record of the batch (ACCT_ACK, same reqid).  The LMDB
 * copy is written afterwards in the thread pool, one transaction per
 * batch, one batch in flight; it is not part of the acknowledgement.
 *
 * Invariant that makes the batch's connection pointers safe: frames are
 * read in libuv's poll phase, the batch is flushed in the check phase of
 * the same turn, and a closed connection is freed only in the closing
 * phase after that.
 *
 * If a file cannot be written, the batch is not acknowledged and its
 * connections are closed: the producers keep the records and resend them
 * when they reconnect (at-least-once; a partly written batch can repeat
 * lines).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "acctd.h"
#include "csv.h"
#include "ipc_conn.h"
#include "log.h"
#include "net.h"
#include "proto.h"

#define ACCTD_LINE_MAX (256u * 1024)

struct acctd;

struct acctd_conn {
    struct acctd *a;
    int hello;
};

struct ack {
    struct ipc_conn *conn;
    uint32_t reqid;
};

struct db_batch {
    uv_work_t work;
    struct acctdb_item *items;
    size_t n, cap;
    int failed;
    char err[256];
};

struct acctd {
    uv_loop_t *loop;
    char conf_path[PATH_MAX];
    struct config *cfg;
    struct acct_out *outs;
    size_t nouts;
    unsigned all_records;       /* union of the files' masks: LMDB takes these */
    struct acctdb *db;
    struct ack *acks;
    size_t nacks, capacks;
    struct db_batch *db_next;   /* collecting */
    struct db_batch *db_busy;   /* in the thread pool */
    size_t db_mark;             /* db_next's items before this batch */
    int stopping;
    uv_pipe_t server;
    uv_check_t check;
    uv_signal_t sig_term, sig_int, sig_hup;
};

static int all_fields[AF_COUNT];

void acctd_db_dir(const struct config *cfg, char *out, size_t outlen)
{
    if (cfg->nacct_files == 0 || acctdb_dir_for(cfg->acct_files[0].path, out, outlen) < 0)
        out[0] = '\0';
}

static void outs_free(struct acctd *a)
{
    size_t i;

    for (i = 0; i < a->nouts; i++)
        acctfile_free(&a->outs[i]);
    free(a->outs);
    a->outs = NULL;
    a->nouts = 0;
}

/* outs_open - one acct_out per <acct-file>.  A file that cannot be opened
 * is logged and retried at every flush. */
static int outs_open(struct acctd *a, const struct config *cfg)
{
    char err[512];
    size_t i;

    a->outs = calloc(cfg->nacct_files ? cfg->nacct_files : 1, sizeof(*a->outs));
    if (a->outs == NULL)
        return -1;
    a->all_records = 0;
    for (i = 0; i < cfg->nacct_files; i++) {
        if (acctfile_init(&a->outs[i], &cfg->acct_files[i], err, sizeof(err)) < 0)
            msg_error("%s", err);
        a->all_records |= a->outs[i].records;
        a->nouts++;
    }
    return 0;
}

static void batch_free(struct db_batch *b)
{
    size_t i;

    if (b == NULL)
        return;
    for (i = 0; i < b->n; i++) {
        free(b->items[i].line);
        free(b->items[i].queue_id);
        free(b->items[i].rcpt);
        free(b->items[i].job_id);
    }
    free(b->items);
    free(b);
}

/* db_truncate - forget the items of a batch that was not acknowledged
 * (their producers resend them). */
static void db_truncate(struct db_batch *b, size_t keep)
{
    if (b == NULL)
        return;
    while (b->n > keep) {
        b->n--;
        free(b->items[b->n].line);
        free(b->items[b->n].queue_id);
        free(b->items[b->n].rcpt);
        free(b->items[b->n].job_id);
    }
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* db_add - queue r for the LMDB: the line holds every field. */
static void db_add(struct acctd *a, const struct acct_record *r)
{
    struct acctdb_item *it;
    struct buf line;
    struct db_batch *b;

    if (a->db == NULL)
        return;
    if (a->db_next == NULL && (a->db_next = calloc(1, sizeof(*a->db_next))) == NULL)
        return;
    b = a->db_next;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        void *p = realloc(b->items, cap * sizeof(*b->items));
        if (p == NULL)
            return;
        b->items = p;
        b->cap = cap;
    }
    buf_init(&line, ACCTD_LINE_MAX);
    if (csv_append_record(&line, r, all_fields, AF_COUNT) < 0) {
        buf_free(&line);
        return;
    }
    it = &b->items[b->n];
    it->line = buf_steal(&line, NULL);
    if (it->line == NULL && (it->line = strdup("")) == NULL)
        return;
    it->queue_id = dup_or_null(r->v[AF_QUEUE_ID]);
    it->rcpt = dup_or_null(r->v[AF_RCPT]);
    it->job_id = dup_or_null(r->v[AF_JOB_ID]);
    b->n++;
}

static void db_work(uv_work_t *w)
{
    struct db_batch *b = w->data;
    struct acctd *a = w->loop->data;

    b->failed = acctdb_put(a->db, b->items, b->n, b->err, sizeof(b->err)) < 0;
}

static void acctd_finish(struct acctd *a);
static void db_submit(struct acctd *a);

static void db_done(uv_work_t *w, int status)
{
    struct db_batch *b = w->data;
    struct acctd *a = w->loop->data;

    if (b->failed)
        msg_error("accounting LMDB: %zu records not indexed: %s", b->n, b->err);
    batch_free(b);
    a->db_busy = NULL;
    db_submit(a);
    if (a->stopping && a->db_busy == NULL)
        acctd_finish(a);
}

static void db_submit(struct acctd *a)
{
    if (a->db_busy != NULL || a->db_next == NULL || a->db_next->n == 0)
        return;
    a->db_busy = a->db_next;
    a->db_next = NULL;
    a->db_busy->work.data = a->db_busy;
    if (uv_queue_work(a->loop, &a->db_busy->work, db_work, db_done) != 0) {
        msg_error("accounting LMDB: cannot queue work");
        batch_free(a->db_busy);
        a->db_busy = NULL;
    }
}

/* send_acks - one buffer per run of acknowledgements to a connection. */
static void send_acks(struct acctd *a)
{
    struct buf b;
    size_t i = 0, j, st;

    buf_init(&b, IPC_MAX_PAYLOAD);
    while (i < a->nacks) {
        buf_reset(&b);
        for (j = i; j < a->nacks && a->acks[j].conn == a->acks[i].conn; j++)
            if (ipc_begin(&b, IPC_ACCT_ACK, a->acks[j].reqid, &st) < 0 || ipc_end(&b, st) < 0)
                break;
        if (!ipc_conn_closing(a->acks[i].conn) && ipc_conn_send(a->acks[i].conn, &b) < 0)
            msg_warn("cannot send acknowledgements");
        i = j > i ? j : i + 1;
    }
    buf_free(&b);
}

static void batch_flush(struct acctd *a)
{
    char err[512];
    time_t now = time(NULL);
    size_t i;
    int failed = 0;

    if (a->nacks == 0)
        return;
    for (i = 0; i < a->nouts; i++)
        if (acctfile_flush(&a->outs[i], now, err, sizeof(err)) < 0) {
            msg_error("accounting: %s; %zu records not acknowledged", err, a->nacks);
            failed = 1;
        }
    if (failed) {
        /* Unacknowledged records are resent after the reconnect; lines
         * already written to a healthy file are dropped from the others'
         * queues so they are not written twice by this process. */
        for (i = 0; i < a->nouts; i++)
            buf_reset(&a->outs[i].pending);
        for (i = 0; i < a->nacks; i++)
            ipc_conn_close(a->acks[i].conn);
        db_truncate(a->db_next, a->db_mark);
    } else {
        send_acks(a);
    }
    a->nacks = 0;
    db_submit(a);
    a->db_mark = a->db_next ? a->db_next->n : 0;
}

static void on_check(uv_check_t *h)
{
    batch_flush(h->data);
}

static int ack_add(struct acctd *a, struct ipc_conn *c, uint32_t reqid)
{
    if (a->nacks == a->capacks) {
        size_t cap = a->capacks ? a->capacks * 2 : 256;
        void *p = realloc(a->acks, cap * sizeof(*a->acks));
        if (p == NULL)
            return -1;
        a->acks = p;
        a->capacks = cap;
    }
    a->acks[a->nacks].conn = c;
    a->acks[a->nacks].reqid = reqid;
    a->nacks++;
    return 0;
}

static void on_record(struct acctd *a, struct ipc_conn *c, const struct ipc_frame *f)
{
    struct acct_record r;
    unsigned bit;
    size_t i;

    if (msg_acct_decode(f, &r) < 0) {
        /* Acknowledged and dropped: a record that can never be decoded
         * would otherwise be resent forever. */
        msg_warn("malformed accounting record %u dropped", f->reqid);
        (void)ack_add(a, c, f->reqid);
        return;
    }
    bit = acctfile_type_bit(r.v[AF_TYPE]);
    if (bit == 0) {
        char esc[64];
        log_escape(esc, sizeof(esc), r.v[AF_TYPE], strlen(r.v[AF_TYPE]));
        msg_warn("accounting record of unknown type '%s' dropped", esc);
    }
    for (i = 0; i < a->nouts; i++)
        if (acctfile_add(&a->outs[i], &r, bit) < 0)
            msg_error("accounting: out of memory for %s", a->outs[i].path);
    if (bit & a->all_records)
        db_add(a, &r);
    acct_record_free(&r);
    if (ack_add(a, c, f->reqid) < 0) {
        msg_error("out of memory");
        ipc_conn_close(c);
    }
}

static void conn_frame(struct ipc_conn *c, const struct ipc_frame *f)
{
    struct acctd_conn *ac = ipc_conn_data(c);
    struct msg_hello h;

    if (!ac->hello) {
        if (f->type != IPC_HELLO || msg_hello_decode(f, &h) < 0) {
            msg_warn("connection did not start with HELLO; closing it");
            ipc_conn_close(c);
            return;
        }
        ac->hello = 1;
        msg_debug("producer connected: role %u pid %u", h.role, h.pid);
        return;
    }
    if (f->type != IPC_ACCT) {
        msg_warn("unexpected frame type %u; closing connection", f->type);
        ipc_conn_close(c);
        return;
    }
    on_record(ac->a, c, f);
}

static void conn_closed(struct ipc_conn *c)
{
    free(ipc_conn_data(c));
}

static void on_accept(uv_stream_t *server, int status)
{
    struct acctd *a = server->data;
    struct acctd_conn *ac;
    struct ipc_conn *c;

    if (status < 0) {
        msg_warn("accept: %s", uv_strerror(status));
        return;
    }
    if ((ac = calloc(1, sizeof(*ac))) == NULL)
        return;
    ac->a = a;
    if ((c = ipc_conn_new(a->loop, conn_frame, conn_closed, ac)) == NULL) {
        free(ac);
        return;
    }
    if (ipc_conn_accept(c, server) < 0)
        ipc_conn_close(c);
}

static void acctd_reload(struct acctd *a)
{
    struct config *cfg;
    char err[1024], olddb[PATH_MAX + 8], newdb[PATH_MAX + 8];

    if (config_load(a->conf_path, &cfg, err, sizeof(err)) < 0) {
        msg_error("reload: %s; keeping the running configuration", err);
        return;
    }
    if (config_digest_verify(cfg, err, sizeof(err)) < 0) {
        msg_error("reload: %s; keeping the running configuration", err);
        config_free(cfg);
        return;
    }
    batch_flush(a);
    acctd_db_dir(a->cfg, olddb, sizeof(olddb));
    acctd_db_dir(cfg, newdb, sizeof(newdb));
    if (strcmp(olddb, newdb) != 0)
        msg_warn("reload: the accounting LMDB moves to %s only after a restart", newdb);
    if (strcmp(cfg->log_file, a->cfg->log_file) != 0 && log_open_file(cfg->log_file) < 0)
        msg_error("cannot open log file %s: %s", cfg->log_file, strerror(errno));
    outs_free(a);
    config_free(a->cfg);
    a->cfg = cfg;
    if (outs_open(a, cfg) < 0)
        msg_fatal("out of memory");
    msg_info("reloaded; %zu accounting files reopened", a->nouts);
}

static void acctd_finish(struct acctd *a)
{
    outs_free(a);
    acctdb_close(a->db);
    a->db = NULL;
    msg_info("stopped");
    uv_stop(a->loop);
}

static void acctd_stop(struct acctd *a)
{
    if (a->stopping)
        return;
    a->stopping = 1;
    batch_flush(a);
    (void)uv_check_stop(&a->check);
    uv_close((uv_handle_t *)&a->server, NULL);
    if (a->db_busy == NULL)
        acctd_finish(a);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct acctd *a = h->data;

    if (signum == SIGHUP)
        acctd_reload(a);
    else
        acctd_stop(a);
}

static void signal_start(struct acctd *a, uv_signal_t *h, int signum)
{
    if (uv_signal_init(a->loop, h) != 0 || uv_signal_start(h, on_signal, signum) != 0)
        msg_fatal("cannot handle signal %d", signum);
    h->data = a;
}

int acctd_run(const char *conf_path, struct config *cfg, int listen_fd)
{
    static struct acctd a;
    char path[PATH_MAX + 16], err[512];
    size_t i;

    for (i = 0; i < AF_COUNT; i++)
        all_fields[i] = (int)i;
    a.loop = uv_default_loop();
    a.loop->data = &a;
    snprintf(a.conf_path, sizeof(a.conf_path), "%s", conf_path);
    a.cfg = cfg;
    (void)signal(SIGPIPE, SIG_IGN);
    if (listen_fd < 0) {
        if (snprintf(path, sizeof(path), "%s/acctd.sock", cfg->run_dir) >= (int)sizeof(path))
            msg_fatal("run-dir too long");
        if ((listen_fd = net_listen_unix(path)) < 0)
            msg_fatal("cannot listen on %s: %s", path, strerror(errno));
    }
    if (outs_open(&a, cfg) < 0)
        msg_fatal("out of memory");
    acctd_db_dir(cfg, path, sizeof(path));
    if (path[0] == '\0')
        msg_info("no acct-file configured: records are acknowledged and dropped");
    else if (acctdb_open(&a.db, path, ACCTDB_MAPSIZE_DEFAULT, 0, err, sizeof(err)) < 0)
        msg_error("accounting LMDB disabled: %s", err);
    if (uv_pipe_init(a.loop, &a.server, 0) != 0 || uv_pipe_open(&a.server, listen_fd) != 0)
        msg_fatal("cannot use the listening socket");
    a.server.data = &a;
    if (uv_listen((uv_stream_t *)&a.server, 128, on_accept) != 0)
        msg_fatal("cannot listen");
    if (uv_check_init(a.loop, &a.check) != 0 || uv_check_start(&a.check, on_check) != 0)
        msg_fatal("cannot start the batch handle");
    a.check.data = &a;
    signal_start(&a, &a.sig_term, SIGTERM);
    signal_start(&a, &a.sig_int, SIGINT);
    signal_start(&a, &a.sig_hup, SIGHUP);
    msg_info("started: %zu accounting files%s%s", a.nouts, a.db ? ", LMDB " : "",
             a.db ? path : "");
    (void)uv_run(a.loop, UV_RUN_DEFAULT);
    return 0;
}
