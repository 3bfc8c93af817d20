/*
 * pipe - bounce-pipe / fbl-pipe (see pipe.h).
 *
 * Failures: a queue file that cannot be opened disables that pipe
 * (logged at start); an append that fails loses those events (logged);
 * everything about the program (cannot start, exits, closes stdin) only
 * delays delivery.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "json.h"
#include "log.h"
#include "pipe.h"

#define PIPE_WINDOW     (64u << 10)     /* unacknowledged bytes at most */
#define PIPE_LINES_MAX  4096            /* unacknowledged events at most */
#define PIPE_ARGS_MAX   32
#define PIPE_COMPACT_AT (1u << 20)
#define PIPE_BACKOFF_MIN_MS 1000
#define PIPE_BACKOFF_MAX_MS 60000

struct bpipe {
    uv_loop_t *loop;
    char name[32];
    char *argv[PIPE_ARGS_MAX + 1];
    char cmd[1024];
    int fd;                     /* the queue file (O_APPEND for the job thread) */
    int offfd;                  /* the acknowledged offset, 8 bytes */
    uint64_t acked, sent, committed;
    uint64_t ends[PIPE_LINES_MAX];  /* end offsets of lines sent, not acked */
    size_t ehead, en;
    uv_process_t proc;
    uv_pipe_t in, out;          /* the program's stdin, stdout */
    uv_write_t wreq;
    char *wbuf;
    int running, writing, handles;
    int alive;                  /* spawned, exit not seen yet: may be signalled */
    uv_timer_t timer;
    unsigned backoff;
};

static void bp_spawn(uv_timer_t *t);
static void bp_send(struct bpipe *p);

int bpipe_event(struct buf *out, const char *type, int64_t time, const char *rcpt,
                const char *category, int hard, const char *status, const char *diag,
                const char *queue_id, const char *feedback_type, const char *sender)
{
    const char *names[] = { "rcpt", "category", "status", "diag", "queue_id", "feedback_type", "sender" };
    const char *vals[] = { rcpt, category, status, diag, queue_id, feedback_type, sender };
    size_t i;

    if (buf_printf(out, "{\"type\":\"%s\",\"time\":%lld", type, (long long)time) < 0)
        return -1;
    if (hard >= 0 && buf_printf(out, ",\"hard\":%s", hard ? "true" : "false") < 0)
        return -1;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (vals[i] == NULL || vals[i][0] == '\0')
            continue;
        if (buf_printf(out, ",\"%s\":", names[i]) < 0
            || json_append_string(out, vals[i], strlen(vals[i])) < 0)
            return -1;
    }
    return buf_append(out, "}\n", 2);
}

/* bp_save - the acknowledged offset; not synced: losing it resends
 * (duplicates), never loses. */
static void bp_save(struct bpipe *p)
{
    unsigned char b[8];
    int i;

    for (i = 0; i < 8; i++)
        b[i] = (unsigned char)(p->acked >> (56 - 8 * i));
    if (pwrite(p->offfd, b, 8, 0) != 8)
        msg_warn("%s: cannot save the acknowledged offset: %s", p->name, strerror(errno));
}

static int bp_split(struct bpipe *p, const char *command)
{
    char *s, *save = NULL;
    int n = 0;

    if (snprintf(p->cmd, sizeof(p->cmd), "%s", command) >= (int)sizeof(p->cmd))
        return -1;
    for (s = strtok_r(p->cmd, " \t", &save); s && n < PIPE_ARGS_MAX; s = strtok_r(NULL, " \t", &save))
        p->argv[n++] = s;
    p->argv[n] = NULL;
    return n > 0 ? 0 : -1;
}

struct bpipe *bpipe_open(uv_loop_t *loop, const char *spool_dir, const char *name,
                         const char *command)
{
    struct bpipe *p;
    char path[4200];
    unsigned char b[8];
    struct stat st;
    int i;

    if (command == NULL || command[0] == '\0')
        return NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->loop = loop;
    p->fd = p->offfd = -1;
    snprintf(p->name, sizeof(p->name), "%s", name);
    if (bp_split(p, command) < 0) {
        msg_error("%s: bad command", name);
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/pipe", spool_dir);
    if (mkdir(path, 0750) < 0 && errno != EEXIST)
        goto ioerr;
    snprintf(path, sizeof(path), "%s/pipe/%s.jsonl", spool_dir, name);
    if ((p->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) < 0 || fstat(p->fd, &st) < 0)
        goto ioerr;
    snprintf(path, sizeof(path), "%s/pipe/%s.offset", spool_dir, name);
    if ((p->offfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) < 0)
        goto ioerr;
    if (pread(p->offfd, b, 8, 0) == 8)
        for (i = 0; i < 8; i++)
            p->acked = (p->acked << 8) | b[i];
    if (p->acked > (uint64_t)st.st_size)
        p->acked = 0;       /* a truncated file: start over (duplicates, not loss) */
    p->sent = p->acked;
    /* only whole lines count: a torn append (crash) is cut off */
    p->committed = (uint64_t)st.st_size;
    while (p->committed > p->acked) {
        char c;
        if (pread(p->fd, &c, 1, (off_t)p->committed - 1) != 1 || c == '\n')
            break;
        p->committed--;
    }
    if (p->committed < (uint64_t)st.st_size && ftruncate(p->fd, (off_t)p->committed) < 0)
        goto ioerr;
    if (uv_timer_init(loop, &p->timer) != 0)
        goto fail;
    p->timer.data = p;
    p->backoff = PIPE_BACKOFF_MIN_MS;
    bp_spawn(&p->timer);
    msg_info("%s: %s, %llu bytes waiting", name, p->argv[0],
             (unsigned long long)(p->committed - p->acked));
    return p;
ioerr:
    msg_error("%s: %s: %s; the pipe is off", name, path, strerror(errno));
fail:
    if (p->fd >= 0)
        close(p->fd);
    if (p->offfd >= 0)
        close(p->offfd);
    free(p);
    return NULL;
}

int bpipe_append(struct bpipe *p, const char *data, size_t len, uint64_t *size)
{
    struct stat st;
    size_t off = 0;
    ssize_t n;

    while (off < len) {
        n = write(p->fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            msg_error("%s: cannot append events: %s", p->name, strerror(errno));
            return -1;
        }
        off += (size_t)n;
    }
    if (fdatasync(p->fd) < 0 || fstat(p->fd, &st) < 0) {
        msg_error("%s: cannot sync events: %s", p->name, strerror(errno));
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return 0;
}

/* --- the program ------------------------------------------------------- */
static void bp_handle_closed(uv_handle_t *h)
{
    struct bpipe *p = h->data;

    if (--p->handles == 0) {
        /* everything not acknowledged goes again to the next program */
        p->sent = p->acked;
        p->en = 0;
        (void)uv_timer_start(&p->timer, bp_spawn, p->backoff, 0);
        p->backoff = p->backoff * 2 > PIPE_BACKOFF_MAX_MS ? PIPE_BACKOFF_MAX_MS : p->backoff * 2;
    }
}

/* bp_stop - the program is of no more use (a stream failed, it exited,
 * it could not be started).  Its pipes are closed now; a live program is
 * sent SIGTERM and its process handle closed in the exit callback, so it
 * is always reaped (closing the handle of a live child would leave a
 * zombie). */
static void bp_stop(struct bpipe *p)
{
    p->running = 0;
    if (!uv_is_closing((uv_handle_t *)&p->in))
        uv_close((uv_handle_t *)&p->in, bp_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&p->out))
        uv_close((uv_handle_t *)&p->out, bp_handle_closed);
    if (p->alive) {
        /* only our own child, by its pid (never 0: that is the group) */
        if (p->proc.pid > 0)
            (void)uv_process_kill(&p->proc, SIGTERM);
        return;
    }
    if (!uv_is_closing((uv_handle_t *)&p->proc))
        uv_close((uv_handle_t *)&p->proc, bp_handle_closed);
}

static void bp_exit(uv_process_t *proc, int64_t status, int sig)
{
    struct bpipe *p = proc->data;

    p->alive = 0;
    msg_warn("%s: %s exited (status %lld, signal %d); %llu bytes unacknowledged, restarting",
             p->name, p->argv[0], (long long)status, sig, (unsigned long long)(p->sent - p->acked));
    bp_stop(p);
}

static void bp_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
    static char rbuf[4096];

    b->base = rbuf;
    b->len = sizeof(rbuf);
}

static void bp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct bpipe *p = s->data;
    ssize_t i;
    int moved = 0;

    if (n < 0) {
        bp_stop(p);     /* EOF: it is exiting; bp_exit tells why */
        return;
    }
    for (i = 0; i < n; i++) {
        if (b->base[i] != '\n' || p->en == 0)
            continue;       /* stray output beyond what was sent is ignored */
        p->acked = p->ends[p->ehead];
        p->ehead = (p->ehead + 1) % PIPE_LINES_MAX;
        p->en--;
        moved = 1;
    }
    if (moved) {
        p->backoff = PIPE_BACKOFF_MIN_MS;
        bp_save(p);
        bp_send(p);
    }
}

static void bp_spawn(uv_timer_t *t)
{
    struct bpipe *p = t->data;
    uv_process_options_t o;
    uv_stdio_container_t io[3];
    int rc;

    memset(&o, 0, sizeof(o));
    if (uv_pipe_init(p->loop, &p->in, 0) != 0 || uv_pipe_init(p->loop, &p->out, 0) != 0) {
        msg_error("%s: out of resources", p->name);
        return;
    }
    p->in.data = p->out.data = p->proc.data = p;
    io[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    io[0].data.stream = (uv_stream_t *)&p->in;
    io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[1].data.stream = (uv_stream_t *)&p->out;
    io[2].flags = UV_INHERIT_FD;
    io[2].data.fd = 2;
    o.file = p->argv[0];
    o.args = p->argv;
    o.exit_cb = bp_exit;
    o.stdio = io;
    o.stdio_count = 3;
    p->handles = 3;
    rc = uv_spawn(p->loop, &p->proc, &o);
    if (rc != 0) {
        msg_error("%s: cannot run %s: %s", p->name, p->argv[0], uv_strerror(rc));
        bp_stop(p);         /* closes the handles, then retries */
        return;
    }
    p->running = 1;
    p->alive = 1;
    if (uv_read_start((uv_stream_t *)&p->out, bp_alloc, bp_read) != 0) {
        bp_stop(p);
        return;
    }
    bp_send(p);
}

static void bp_written(uv_write_t *w, int status)
{
    struct bpipe *p = w->data;

    p->writing = 0;
    free(p->wbuf);
    p->wbuf = NULL;
    if (status < 0) {
        bp_stop(p);
        return;
    }
    bp_send(p);
}

/* bp_send - the next whole lines after sent, within the window. */
static void bp_send(struct bpipe *p)
{
    uint64_t room, want;
    ssize_t n;
    size_t i, last;
    uv_buf_t b;

    if (!p->running || p->writing || p->sent >= p->committed || p->en == PIPE_LINES_MAX)
        return;
    room = PIPE_WINDOW - (p->sent - p->acked < PIPE_WINDOW ? p->sent - p->acked : PIPE_WINDOW);
    want = p->committed - p->sent < room ? p->committed - p->sent : room;
    if (want == 0)
        return;
    p->wbuf = malloc((size_t)want);
    if (p->wbuf == NULL)
        return;
    n = pread(p->fd, p->wbuf, (size_t)want, (off_t)p->sent);
    if (n <= 0) {
        free(p->wbuf);
        p->wbuf = NULL;
        return;
    }
    /* whole lines only, and one ring slot per line */
    last = 0;
    for (i = 0; i < (size_t)n && p->en < PIPE_LINES_MAX; i++)
        if (p->wbuf[i] == '\n') {
            p->ends[(p->ehead + p->en) % PIPE_LINES_MAX] = p->sent + i + 1;
            p->en++;
            last = i + 1;
        }
    if (last == 0) {
        free(p->wbuf);
        p->wbuf = NULL;
        if (p->sent != p->acked || (uint64_t)n < PIPE_WINDOW)
            return;         /* the next line waits for acknowledgements */
        /* one line longer than the whole window: cannot happen (events
         * are bounded far below it); skip it rather than stall forever */
        msg_error("%s: an event longer than %u bytes is skipped", p->name, PIPE_WINDOW);
        p->acked = p->sent = p->sent + (uint64_t)n;
        bp_save(p);
        return;
    }
    b = uv_buf_init(p->wbuf, (unsigned)last);
    p->wreq.data = p;
    if (uv_write(&p->wreq, (uv_stream_t *)&p->in, &b, 1, bp_written) != 0) {
        free(p->wbuf);
        p->wbuf = NULL;
        bp_stop(p);
        return;
    }
    p->writing = 1;
    p->sent += last;
}

void bpipe_committed(struct bpipe *p, uint64_t size)
{
    if (size > p->committed)
        p->committed = size;
    bp_send(p);
}

void bpipe_idle(struct bpipe *p)
{
    if (p->acked < PIPE_COMPACT_AT || p->acked != p->committed || p->sent != p->acked)
        return;
    if (ftruncate(p->fd, 0) < 0) {
        msg_warn("%s: cannot truncate the queue file: %s", p->name, strerror(errno));
        return;
    }
    p->acked = p->sent = p->committed = 0;
    bp_save(p);
}

uint64_t bpipe_pending(const struct bpipe *p)
{
    return p->committed - p->acked;
}
