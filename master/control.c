/*
 * control - master's control socket (run-dir/control.sock), served to
 * mtactl.  One CTL_REQUEST per connection, answered with one CTL_REPLY.
 * Only root and master's own uid may talk to it (SO_PEERCRED), on top of
 * the socket file's 0660 mode.
 *
 * `status` is answered by master (daemon table) plus qmgr's own status
 * text; `show ...` is relayed to qmgr, `suppression ...` (or `suppress`)
 * to bounced (the suppression database's writer).  Each relayed request opens its own
 * ROLE_MASTER connection to qmgr.sock and gives up after 5 s ("qmgr not
 * responding").  A relay (struct ctl_req) lives until both its timer and
 * its qmgr connection are closed; the mtactl side may go away earlier.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ipc_conn.h"
#include "log.h"
#include "master.h"
#include "net.h"
#include "proto.h"

#define CTL_QMGR_TIMEOUT_MS 5000
#define CTL_TEXT_MAX (IPC_MAX_PAYLOAD - 1024)

struct ctl_req;

struct ctl_client {
    struct master *m;
    struct ipc_conn *conn;
    struct ctl_req *req;
    uint32_t reqid;
    int answered;
};

struct ctl_req {
    struct master *m;
    struct ctl_client *client;  /* NULL once mtactl went away */
    struct ipc_conn *qmgr;      /* NULL once closed */
    uv_timer_t timer;
    struct buf text;            /* master's part of the answer */
    const char *peer;           /* "qmgr" or "bounced" */
    int is_status;
    int done;
    int refs;                   /* timer + qmgr connection */
};

static void client_reply(struct ctl_client *cl, uint32_t status, const char *text)
{
    struct buf b;

    if (cl->answered)
        return;
    cl->answered = 1;
    buf_init(&b, IPC_MAX_PAYLOAD);
    if (msg_ctl_reply_encode(&b, cl->reqid, status, text) < 0
        || ipc_conn_send(cl->conn, &b) < 0)
        msg_warn("control: cannot send reply");
    buf_free(&b);
    ipc_conn_close_after_flush(cl->conn);
}

static void req_unref(struct ctl_req *r)
{
    if (--r->refs > 0)
        return;
    buf_free(&r->text);
    free(r);
}

static void req_timer_closed(uv_handle_t *h)
{
    req_unref(h->data);
}

/* req_finish - answer mtactl once: qtext is qmgr's reply text, or NULL
 * when qmgr did not answer. */
static void req_finish(struct ctl_req *r, uint32_t status, const char *qtext)
{
    if (r->done)
        return;
    r->done = 1;
    (void)uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, req_timer_closed);
    if (r->qmgr)
        ipc_conn_close(r->qmgr);
    if (r->client == NULL)
        return;
    r->client->req = NULL;
    if (r->is_status) {
        /* The daemon table is most useful exactly when qmgr is stuck:
         * status always answers, and says what is missing. */
        if (qtext)
            (void)buf_printf(&r->text, "\nqmgr:\n%s", qtext);
        else
            (void)buf_append_str(&r->text, "\nqmgr: not responding\n");
        client_reply(r->client, 0, r->text.data ? r->text.data : "");
    } else {
        char why[64];

        snprintf(why, sizeof(why), "%s not responding", r->peer);
        client_reply(r->client, qtext ? status : 1, qtext ? qtext : why);
    }
}

static void req_timeout(uv_timer_t *t)
{
    req_finish(t->data, 1, NULL);
}

static void qmgr_frame(struct ipc_conn *c, const struct ipc_frame *f)
{
    struct ctl_req *r = ipc_conn_data(c);
    struct msg_ctl_reply rep;

    if (f->type != IPC_CTL_REPLY) {
        msg_debug("control: ignoring frame type %u from qmgr", f->type);
        return;
    }
    if (msg_ctl_reply_decode(f, &rep) < 0) {
        msg_warn("control: malformed reply from qmgr");
        ipc_conn_close(c);
        return;
    }
    req_finish(r, rep.status, rep.text ? rep.text : "");
    msg_ctl_reply_free(&rep);
}

static void qmgr_closed(struct ipc_conn *c)
{
    struct ctl_req *r = ipc_conn_data(c);

    r->qmgr = NULL;
    req_finish(r, 1, NULL);
    req_unref(r);
}

/* req_forward - send argv to qmgr (or bounced) on a fresh ROLE_MASTER
 * connection. */
static void req_forward_to(struct ctl_client *cl, int is_status, uint32_t argc, char **argv,
                           const char *path, const char *peer);

static void req_forward(struct ctl_client *cl, int is_status, uint32_t argc, char **argv)
{
    req_forward_to(cl, is_status, argc, argv, cl->m->qmgr_path, "qmgr");
}

static void req_forward_to(struct ctl_client *cl, int is_status, uint32_t argc, char **argv,
                           const char *path, const char *peer)
{
    struct master *m = cl->m;
    struct ctl_req *r = calloc(1, sizeof(*r));
    struct msg_hello h = { ROLE_MASTER, (uint32_t)getpid(), 0 };
    struct buf b;
    int fd;

    if (r == NULL) {
        client_reply(cl, 1, "out of memory");
        return;
    }
    r->m = m;
    r->client = cl;
    r->peer = peer;
    r->is_status = is_status;
    buf_init(&r->text, CTL_TEXT_MAX);
    if (is_status)
        supervise_status(m, &r->text);
    if (uv_timer_init(m->loop, &r->timer) != 0) {
        buf_free(&r->text);
        free(r);
        client_reply(cl, 1, "out of resources");
        return;
    }
    r->timer.data = r;
    r->refs = 1;
    cl->req = r;
    if (uv_timer_start(&r->timer, req_timeout, CTL_QMGR_TIMEOUT_MS, 0) != 0) {
        req_finish(r, 1, NULL);
        return;
    }
    fd = net_connect_unix(path);
    if (fd < 0) {
        msg_warn("control: cannot connect to %s: %s", path, strerror(errno));
        req_finish(r, 1, NULL);
        return;
    }
    r->qmgr = ipc_conn_new(m->loop, qmgr_frame, qmgr_closed, r);
    if (r->qmgr == NULL) {
        close(fd);
        req_finish(r, 1, NULL);
        return;
    }
    r->refs++;
    if (ipc_conn_open_fd(r->qmgr, fd) < 0) {
        req_finish(r, 1, NULL);
        return;
    }
    buf_init(&b, IPC_MAX_PAYLOAD);
    if (msg_hello_encode(&b, &h) < 0
        || msg_ctl_request_encode(&b, 1, (int)argc, argv) < 0
        || ipc_conn_send(r->qmgr, &b) < 0)
        req_finish(r, 1, NULL);
    buf_free(&b);
}

/* qmgr_command - commands qmgr answers itself (traffic control, issue 4). */
static int qmgr_command(const char *verb)
{
    static const char *const verbs[] = { "pause", "resume", "schedule", "delete", "set",
                                         "hold", "release", "disable", "enable" };
    size_t i;

    for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(verb, verbs[i]) == 0)
            return 1;
    return 0;
}

static void client_command(struct ctl_client *cl, struct msg_ctl_request *req)
{
    char err[1024], out[PATH_MAX + 64], esc[256];

    if (req->argc == 0) {
        client_reply(cl, 1, "no command");
        return;
    }
    if (strcmp(req->argv[0], "status") == 0 && req->argc == 1) {
        req_forward(cl, 1, req->argc, req->argv);
    } else if ((strcmp(req->argv[0], "show") == 0 && req->argc >= 2)
               || qmgr_command(req->argv[0])) {
        req_forward(cl, 0, req->argc, req->argv);
    } else if ((strcmp(req->argv[0], "suppression") == 0 || strcmp(req->argv[0], "suppress") == 0)
               && req->argc >= 2) {
        req_forward_to(cl, 0, req->argc, req->argv, cl->m->bounced_path, "bounced");
    } else if (strcmp(req->argv[0], "reload") == 0 && req->argc == 1) {
        if (supervise_reload(cl->m, err, sizeof(err)) < 0) {
            snprintf(out, sizeof(out), "reload refused, the running configuration is kept: %s", err);
            client_reply(cl, 1, out);
        } else {
            snprintf(out, sizeof(out), "reloaded %s\n", cl->m->conf_path);
            client_reply(cl, 0, out);
        }
    } else {
        log_escape(esc, sizeof(esc), req->argv[0], strlen(req->argv[0]));
        snprintf(out, sizeof(out), "unknown command: %s", esc);
        client_reply(cl, 1, out);
    }
}

static void client_frame(struct ipc_conn *c, const struct ipc_frame *f)
{
    struct ctl_client *cl = ipc_conn_data(c);
    struct msg_ctl_request req;

    if (cl->answered || cl->req != NULL)
        return;     /* one request per connection */
    cl->reqid = f->reqid;
    if (f->type != IPC_CTL_REQUEST || msg_ctl_request_decode(f, &req) < 0) {
        client_reply(cl, 1, "malformed request");
        return;
    }
    client_command(cl, &req);
    msg_ctl_request_free(&req);
}

static void client_closed(struct ipc_conn *c)
{
    struct ctl_client *cl = ipc_conn_data(c);

    if (cl->req)
        cl->req->client = NULL;
    free(cl);
}

static void control_accept(uv_stream_t *server, int status)
{
    struct master *m = server->data;
    struct ctl_client *cl;
    long uid;

    if (status < 0) {
        msg_warn("control: accept: %s", uv_strerror(status));
        return;
    }
    cl = calloc(1, sizeof(*cl));
    if (cl == NULL)
        return;
    cl->m = m;
    cl->conn = ipc_conn_new(m->loop, client_frame, client_closed, cl);
    if (cl->conn == NULL) {
        free(cl);
        return;
    }
    if (ipc_conn_accept(cl->conn, server) < 0) {
        ipc_conn_close(cl->conn);
        return;
    }
    uid = ipc_conn_peer_uid(cl->conn);
    if (uid != 0 && uid != (long)getuid()) {
        msg_warn("control: refused connection from uid %ld", uid);
        client_reply(cl, 1, "permission denied");
    }
}

int control_start(struct master *m)
{
    if (uv_pipe_init(m->loop, &m->control, 0) != 0
        || uv_pipe_open(&m->control, m->control_fd) != 0)
        return -1;
    m->control.data = m;
    if (uv_listen((uv_stream_t *)&m->control, 64, control_accept) != 0)
        return -1;
    return 0;
}

void control_stop(struct master *m)
{
    if (!uv_is_closing((uv_handle_t *)&m->control))
        uv_close((uv_handle_t *)&m->control, NULL);
}
