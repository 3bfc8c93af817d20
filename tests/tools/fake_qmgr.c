/*
 * fake_qmgr - a test driver that plays qmgr for one smtp-out process.
 *
 * It commits one message to SPOOL (spool_commit, as smtpd would), listens
 * on SOCK, accepts one smtp-out, checks its HELLO, then sends NJOBS
 * DELIVER jobs for that message, each to the given recipients, and prints
 * every RESULT as one line per recipient:
 *   RESULT job=N local=L esmtp=E mx=HOST ip=IP src=IP ext=LIST idx=I code=C status=S text=T
 * With -p P it keeps P jobs outstanding (default 1: one at a time, as
 * qmgr does for one queue).  Exits 0 after NJOBS results, 1 on error.
 *
 * Build: cc -std=c11 -D_GNU_SOURCE -Ilib -o build/tests/fake_qmgr \
 *          tests/tools/fake_qmgr.c build/libcourser.a -luv
 * Usage: fake_qmgr -s SOCK -S SPOOL -d DOMAIN [-r ROUTE] [-n NJOBS] [-p P]
 *          [-f SENDER] [-m MAXMSG] [-i IDLE] [-I SOURCEIP] [-b BODYSIZE]
 *          [-T TIMEOUT] [-w BODYFILE] [-D DELAY] RCPT...
 * -T sets the connect/greeting/data timeouts of the jobs (default 10 s);
 * -D waits DELAY ms before each job after the first;
 * -w writes the message as committed to BODYFILE (to compare with a dump).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "net.h"
#include "proto.h"
#include "spool.h"

static int read_full(int fd, void *p, size_t n)
{
    size_t got = 0;
    ssize_t r;

    while (got < n) {
        r = read(fd, (char *)p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *p, size_t n)
{
    size_t done = 0;
    ssize_t r;

    while (done < n) {
        r = write(fd, (const char *)p + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

/* Read one frame into b; returns 0 and fills f. */
static int read_frame(int fd, struct buf *b, struct ipc_frame *f)
{
    unsigned char h[IPC_HDR_LEN];
    uint32_t len;
    size_t used;

    if (read_full(fd, h, sizeof(h)) < 0)
        return -1;
    len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (len > IPC_MAX_PAYLOAD)
        return -1;
    buf_reset(b);
    if (buf_append(b, h, sizeof(h)) < 0 || buf_reserve(b, len) < 0)
        return -1;
    if (read_full(fd, b->data + b->len, len) < 0)
        return -1;
    b->len += len;
    return ipc_frame_parse(b->data, b->len, f, &used) == 1 ? 0 : -1;
}

static char *make_body(size_t size)
{
    static const char head[] = "From: a@src.test\r\nTo: b@example.test\r\nSubject: test\r\n\r\n"
                               ".leading dot line\r\n";
    char *m = malloc(size + sizeof(head) + 64);
    size_t n = 0;
    unsigned line = 0;

    if (m == NULL)
        return NULL;
    memcpy(m, head, sizeof(head) - 1);
    n = sizeof(head) - 1;
    while (n < size) {
        n += (size_t)sprintf(m + n, line % 7 == 3 ? ".dot %06u\r\n" : "line %06u abc\r\n", line);
        line++;
    }
    m[n] = '\0';
    return m;
}

int main(int argc, char **argv)
{
    const char *sock = NULL, *spool = NULL, *domain = NULL, *route = "", *from = "a@src.test";
    const char *source_ip = "", *bodyfile = NULL;
    unsigned tmo = 10, delay_ms = 0;
    unsigned njobs = 1, par = 1, maxmsg = 0, idle = 0, sent = 0, got = 0, i;
    size_t bodysize = 2000;
    struct spool_envelope e;
    struct msg_deliver d;
    struct msg_hello h;
    struct ipc_frame f;
    struct buf b, in;
    char *body;
    int opt, lfd, fd;

    while ((opt = getopt(argc, argv, "s:S:d:r:n:p:f:m:i:I:b:T:w:D:")) != -1) {
        switch (opt) {
        case 's': sock = optarg; break;
        case 'S': spool = optarg; break;
        case 'd': domain = optarg; break;
        case 'r': route = optarg; break;
        case 'n': njobs = (unsigned)atoi(optarg); break;
        case 'p': par = (unsigned)atoi(optarg); break;
        case 'f': from = optarg; break;
        case 'm': maxmsg = (unsigned)atoi(optarg); break;
        case 'i': idle = (unsigned)atoi(optarg); break;
        case 'I': source_ip = optarg; break;
        case 'b': bodysize = (size_t)atol(optarg); break;
        case 'T': tmo = (unsigned)atoi(optarg); break;
        case 'w': bodyfile = optarg; break;
        case 'D': delay_ms = (unsigned)atoi(optarg); break;
        default: return 2;
        }
    }
    if (sock == NULL || spool == NULL || domain == NULL || optind >= argc) {
        fprintf(stderr, "usage: fake_qmgr -s SOCK -S SPOOL -d DOMAIN [opts] RCPT...\n");
        return 2;
    }
    /* the message, committed as smtpd would */
    memset(&e, 0, sizeof(e));
    queue_id_new(e.queue_id);
    e.time_queued = (uint64_t)time(NULL);
    e.client_ip = "127.0.0.1";
    e.client_helo = "test";
    e.listener = "127.0.0.1:2525";
    e.source = "";
    e.mail_from = (char *)from;
    e.nrcpt = (uint32_t)(argc - optind);
    e.rcpts = calloc(e.nrcpt, sizeof(*e.rcpts));
    for (i = 0; i < e.nrcpt; i++)
        e.rcpts[i].addr = argv[optind + (int)i];
    body = make_body(bodysize);
    if (e.rcpts == NULL || body == NULL || spool_init_dirs(spool) < 0
        || spool_commit(spool, &e, body, strlen(body)) < 0) {
        perror("spool");
        return 1;
    }
    if (bodyfile != NULL) {
        FILE *bf = fopen(bodyfile, "w");
        if (bf == NULL || fwrite(body, 1, strlen(body), bf) != strlen(body) || fclose(bf) != 0) {
            perror(bodyfile);
            return 1;
        }
    }
    lfd = net_listen_unix(sock);
    if (lfd < 0) {
        perror(sock);
        return 1;
    }
    /* net_listen_unix makes it non-blocking; this tool blocks */
    if (fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) & ~O_NONBLOCK) < 0) {
        perror("fcntl");
        return 1;
    }
    printf("READY qid=%s\n", e.queue_id);
    fflush(stdout);
    fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
        perror("accept");
        return 1;
    }
    buf_init(&in, IPC_MAX_PAYLOAD + IPC_HDR_LEN);
    buf_init(&b, IPC_MAX_PAYLOAD + IPC_HDR_LEN);
    if (read_frame(fd, &in, &f) < 0 || f.type != IPC_HELLO || msg_hello_decode(&f, &h) < 0
        || h.role != ROLE_SMTP_OUT) {
        fprintf(stderr, "bad HELLO\n");
        return 1;
    }
    printf("HELLO role=%u pid=%u slots=%u\n", h.role, h.pid, h.slots);
    fflush(stdout);
    memset(&d, 0, sizeof(d));
    memcpy(d.queue_id, e.queue_id, sizeof(e.queue_id));
    d.mail_from = (char *)from;
    d.envid = "";
    d.vmta = "{default}";
    d.source_ip = (char *)source_ip;
    d.helo_name = "courser.test";
    d.domain = (char *)domain;
    d.route = (char *)route;
    d.connect_timeout = tmo;
    d.greeting_timeout = tmo;
    d.data_timeout = tmo;
    d.idle_timeout = idle;
    d.max_msg_per_connection = maxmsg;
    d.nrcpt = e.nrcpt;
    d.rcpts = calloc(d.nrcpt, sizeof(*d.rcpts));
    for (i = 0; i < d.nrcpt; i++) {
        d.rcpts[i].index = i;
        d.rcpts[i].addr = e.rcpts[i].addr;
    }
    while (got < njobs) {
        if (delay_ms > 0 && sent > 0)
            usleep(delay_ms * 1000);
        while (sent < njobs && sent - got < par) {
            d.job_id = ++sent;
            buf_reset(&b);
            if (msg_deliver_encode(&b, &d) < 0 || write_full(fd, b.data, b.len) < 0) {
                fprintf(stderr, "send DELIVER failed\n");
                return 1;
            }
        }
        struct msg_result r;
        if (read_frame(fd, &in, &f) < 0 || f.type != IPC_RESULT || msg_result_decode(&f, &r) < 0) {
            fprintf(stderr, "bad or missing RESULT\n");
            return 1;
        }
        for (i = 0; i < r.nrcpt; i++)
            printf("RESULT job=%llu local=%u esmtp=%u mx=%s ip=%s src=%s ext=%s idx=%u code=%u status=%s text=%s\n",
                   (unsigned long long)r.job_id, r.local, r.esmtp, r.remote_mx, r.remote_ip,
                   r.source_ip, r.esmtp_ext, r.rcpts[i].index, r.rcpts[i].code,
                   r.rcpts[i].status, r.rcpts[i].text);
        fflush(stdout);
        msg_result_free(&r);
        got++;
    }
    close(fd);
    unlink(sock);
    return 0;
}
