/* Unit tests: whole SMTP dialogues against smtpd's session state machine
 * (session.c, verbs.c, envelope.c, commit.c) on a real loopback socket
 * and libuv loop, in-process: pipelining, sequence and syntax errors,
 * relaying, limits, SMTP smuggling, and what reaches the spool. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "../../../smtpd/smtpd.h"
#include "log.h"
#include "net.h"

static char dir[256];
static struct smtpd_listener lst[2];
static uint16_t ports[2];
static int half_close;      /* talk(): shutdown(SHUT_WR) after sending */

static void on_conn(uv_stream_t *server, int status)
{
    if (status == 0)
        session_accept(server->data);
}

static int setup(void **state)
{
    char path[512];
    FILE *f;
    size_t i;
    char err[512];
    struct config *cfg;

    snprintf(dir, sizeof(dir), "/tmp/courser-smtpd-test-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/c.conf", dir);
    f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "spool %s/spool\nrun-dir %s\nhost-name t.test\n"
            "smtp-listener 127.0.0.1:1\nsmtp-listener 127.0.0.1:2 source=strict\n"
            "relay-domain ours.test\n"
            "<source 127.0.0.1/32>\n always-allow-relaying yes\n max-message-size 2k\n"
            " max-rcpt-per-message 3\n max-errors-per-session 4\n max-line-length 600\n"
            " default-virtual-mta vm\n</source>\n"
            "<source strict>\n always-allow-relaying no\n</source>\n"
            "<virtual-mta vm>\n</virtual-mta>\n", dir, dir);
    fclose(f);
    log_init("smtpd-test");
    if (config_load(path, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (spool_init_dirs(cfg->spool_dir) < 0)
        return -1;
    smtpd.loop = uv_default_loop();
    smtpd.cfg = calloc(1, sizeof(*smtpd.cfg));
    smtpd.cfg->cfg = cfg;
    smtpd.cfg->refs = 1;
    spool_set_sync(0);
    for (i = 0; i < 2; i++) {
        struct sockaddr_in sin;
        socklen_t len = sizeof(sin);
        int fd = net_listen_tcp("127.0.0.1", 0);

        if (fd < 0 || getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
            return -1;
        ports[i] = ntohs(sin.sin_port);
        net_set_nonblock(fd);
        uv_tcp_init(smtpd.loop, &lst[i].tcp);
        uv_tcp_open(&lst[i].tcp, fd);
        lst[i].tcp.data = &lst[i];
        lst[i].open = 1;
        snprintf(lst[i].name, sizeof(lst[i].name), "127.0.0.1:%u", ports[i]);
        snprintf(lst[i].source, sizeof(lst[i].source), "%s", i ? "strict" : "");
        if (uv_listen((uv_stream_t *)&lst[i].tcp, 16, on_conn) != 0)
            return -1;
    }
    notify_init(smtpd.loop, dir);   /* no qmgr: notices wait */
    return 0;
}

static int teardown(void **state)
{
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* final_replies - count complete final reply lines ("NNN ...\r\n"). */
static int final_replies(const char *t)
{
    int n = 0;
    const char *p = t;

    while (*p) {
        const char *eol = strstr(p, "\r\n");

        if (eol == NULL)
            break;
        if (eol - p >= 4 && p[3] == ' ')
            n++;
        p = eol + 2;
    }
    return n;
}

/* talk - connect to listener li, send `in` (may be chunked by `step`),
 * run the loop until `want` final replies arrived (greeting included) or
 * the server closed.  Returns the transcript (static). */
static const char *talk(int li, const char *in, size_t inlen, size_t step, int want)
{
    static char out[65536];
    size_t olen = 0, sent = 0;
    struct sockaddr_in sin;
    int fd, i, closed = 0;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(ports[li]);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    net_set_nonblock(fd);
    out[0] = '\0';
    for (i = 0; i < 3000 && !closed; i++) {
        struct pollfd p = { fd, POLLIN, 0 };
        ssize_t n;

        uv_run(smtpd.loop, UV_RUN_NOWAIT);
        if (sent < inlen) {
            size_t chunk = step && inlen - sent > step ? step : inlen - sent;

            n = write(fd, in + sent, chunk);
            if (n > 0)
                sent += (size_t)n;
            if (sent == inlen && half_close)
                shutdown(fd, SHUT_WR);
        }
        if (poll(&p, 1, 2) > 0) {
            n = read(fd, out + olen, sizeof(out) - 1 - olen);
            if (n == 0)
                closed = 1;
            if (n > 0) {
                olen += (size_t)n;
                out[olen] = '\0';
            }
        }
        if (sent == inlen && final_replies(out) >= want)
            break;
    }
    close(fd);
    for (i = 0; i < 20; i++)
        uv_run(smtpd.loop, UV_RUN_NOWAIT);
    return out;
}

#define TALK(li, s, want) talk(li, s, sizeof(s) - 1, 0, want)

/* count_spool - committed messages in the spool. */
static int count_spool(void)
{
    char p[600];
    int n = 0, i;

    for (i = 0; i < 256; i++) {
        DIR *d;
        struct dirent *e;

        snprintf(p, sizeof(p), "%s/spool/msg/%02X", dir, i);
        if ((d = opendir(p)) == NULL)
            continue;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                n++;
        closedir(d);
    }
    return n;
}

/* read_msg - envelope and body of the message id from a transcript. */
static void read_msg(const char *transcript, struct spool_envelope *e, char *body, size_t bodylen)
{
    const char *q = strstr(transcript, "queued as ");
    char id[QUEUE_ID_SIZE], path[600], err[256];
    uint64_t off, len;
    FILE *f;

    assert_non_null(q);
    memcpy(id, q + 10, QUEUE_ID_LEN);
    id[QUEUE_ID_LEN] = '\0';
    assert_int_equal(spool_msg_path(dir, id, path, sizeof(path)), 0);
    snprintf(path, sizeof(path), "%s/spool/msg/%c%c/%s", dir, id[11], id[12], id);
    assert_int_equal(spool_read(path, e, &off, &len, err, sizeof(err)), 0);
    assert_true(len < bodylen);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)off, SEEK_SET), 0);
    assert_int_equal(fread(body, 1, len, f), len);
    body[len] = '\0';
    fclose(f);
}

static void test_pipelined_transaction(void **state)
{
    struct spool_envelope e;
    char body[4096];
    int before = count_spool();
    const char *t = TALK(0, "EHLO c.test\r\nMAIL FROM:<a@b.test> BODY=8BITMIME RET=HDRS "
        "ENVID=e+2B1\r\nRCPT TO:<x@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+40y.test\r\n"
        "RCPT TO:<p@q.test>\r\nDATA\r\nSubject: s\r\n\r\n..dot\r\nbody\r\n.\r\nQUIT\r\n", 8);

    assert_non_null(strstr(t, "220 t.test ESMTP Courser\r\n250-t.test\r\n250-PIPELINING\r\n"
                              "250-SIZE 2048\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
                              "250 DSN\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                              "354 "));
    assert_non_null(strstr(t, "250 2.0.0 Ok: queued as "));
    assert_non_null(strstr(t, "221 2.0.0 Bye\r\n"));
    assert_int_equal(count_spool(), before + 1);
    read_msg(t, &e, body, sizeof(body));
    assert_string_equal(e.mail_from, "a@b.test");
    assert_string_equal(e.client_ip, "127.0.0.1");
    assert_string_equal(e.client_helo, "c.test");
    assert_string_equal(e.source, "127.0.0.1/32");
    assert_string_equal(e.vmta, "vm");
    assert_string_equal(e.envid, "e+1");
    assert_int_equal(e.ret, SPOOL_RET_HDRS);
    assert_int_equal(e.body_8bit, 1);
    assert_int_equal(e.nrcpt, 2);
    assert_string_equal(e.rcpts[0].addr, "x@y.test");
    assert_string_equal(e.rcpts[0].orcpt, "rfc822;x@y.test");
    assert_int_equal(e.rcpts[0].notify, SPOOL_NOTIFY_SUCCESS | SPOOL_NOTIFY_FAILURE);
    assert_null(e.rcpts[1].orcpt);
    assert_true(strncmp(body, "Received: from c.test ([127.0.0.1])\r\n\tby t.test (Courser) "
                              "with ESMTP id ", 69) == 0);
    assert_non_null(strstr(body, "\r\nSubject: s\r\n\r\n.dot\r\nbody\r\n"));
    assert_int_equal(strlen(strstr(body, "\r\nSubject")), strlen("\r\nSubject: s\r\n\r\n.dot\r\nbody\r\n"));
    spool_envelope_free(&e);
}

static void test_byte_by_byte(void **state)
{
    static const char in[] = "HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n"
                             "a\r\n.\r\nQUIT\r\n";
    const char *t = talk(0, in, sizeof(in) - 1, 1, 7);

    assert_non_null(strstr(t, "250 t.test\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 "));
    assert_non_null(strstr(t, "queued as"));
    assert_non_null(strstr(t, "221 2.0.0 Bye"));
}

static void test_sequence_and_syntax(void **state)
{
    const char *t = TALK(0, "MAIL FROM:<a@b.c>\r\nHELO c\r\nDATA\r\nNOOP\r\n"
                            "RCPT TO:<x@y.test>\r\nQUIT\r\n", 7);

    assert_non_null(strstr(t, "503 5.5.1 Error: send HELO/EHLO first\r\n250 t.test\r\n"
                              "503 5.5.1 Error: need RCPT command\r\n250 2.0.0 Ok\r\n"
                              "503 5.5.1 Error: need MAIL command\r\n221"));
    t = TALK(0, "HELO c\r\nMAIL FROM:<a b>\r\nMAIL FROM:<a@b> XYZ=1\r\nMAIL FROM:<a@b>\r\n"
                "RCPT TO:<bad\r\nDATA\r\nQUIT\r\n", 8);
    assert_non_null(strstr(t, "501 5.1.7 Bad sender address syntax\r\n555 5.5.4 Unsupported "
                              "MAIL parameter\r\n250 2.1.0 Ok\r\n501 5.1.3 Bad recipient address "
                              "syntax\r\n554 5.5.1 Error: no valid recipients\r\n"
                              "421 4.7.0 t.test Too many errors\r\n"));
    assert_null(strstr(t, "221"));     /* closed before QUIT was read */
    t = TALK(0, "HELO c\r\nBDAT 1 LAST\r\nSTARTTLS\r\nVRFY u\r\nFOO\r\nQUIT\r\n", 7);
    assert_non_null(strstr(t, "502 5.5.1 Command not implemented\r\n502 5.5.1 Command not "
                              "implemented\r\n252 2.5.0 Cannot VRFY user"));
    assert_non_null(strstr(t, "500 5.5.2 Error: command not recognized\r\n221"));
}

static void test_command_line_limits(void **state)
{
    char in[1200];
    const char *t;

    memcpy(in, "NOOP ", 5);
    memset(in + 5, 'x', 600);
    memcpy(in + 605, "\r\nNOOP\nNOOP\r\nQUIT\r\n", 19);
    t = talk(0, in, 624, 0, 5);
    assert_non_null(strstr(t, "500 5.5.2 Line too long\r\n500 5.5.2 Bare LF/CR in command "
                              "not allowed (RFC 5321 2.3.8)\r\n250 2.0.0 Ok\r\n221"));
}

static void test_smuggling(void **state)
{
    int before = count_spool();
    const char *t = TALK(0, "HELO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n"
                            "Subject: a\r\n\r\nx\n.\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\n"
                            "DATA\r\nforged\r\n.\r\nNOOP\r\nQUIT\r\n", 8);

    assert_non_null(strstr(t, "354 End data with <CR><LF>.<CR><LF>\r\n550 5.6.0 Bare LF/CR in "
                              "message not allowed (RFC 5321 2.3.8)\r\n250 2.0.0 Ok\r\n221"));
    assert_null(strstr(t, "queued"));
    assert_int_equal(count_spool(), before);
    t = TALK(0, "HELO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n"
                "x\r\n.\rMAIL FROM:<e@x>\r\n.\r\nQUIT\r\n", 7);
    assert_non_null(strstr(t, "550 5.6.0 Bare LF/CR"));
    assert_int_equal(count_spool(), before);
}

static void test_limits(void **state)
{
    char in[8192];
    size_t n;
    const char *t;
    int before = count_spool();

    t = TALK(0, "HELO c\r\nMAIL FROM:<a@b.c> SIZE=2049\r\nMAIL FROM:<a@b.c> SIZE=2048\r\n"
                "RCPT TO:<1@y.test>\r\nRCPT TO:<2@y.test>\r\nRCPT TO:<3@y.test>\r\n"
                "RCPT TO:<4@y.test>\r\nQUIT\r\n", 9);
    assert_non_null(strstr(t, "552 5.3.4 Message size exceeds fixed limit\r\n250 2.1.0 Ok\r\n"
                              "250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                              "452 4.5.3 Too many recipients\r\n221"));
    /* body larger than 2k: read to the end, then 552 */
    n = (size_t)snprintf(in, sizeof(in), "HELO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n");
    while (n < 3000) {
        memcpy(in + n, "0123456789012345678901234567890123456789\r\n", 42);
        n += 42;
    }
    memcpy(in + n, ".\r\nNOOP\r\nQUIT\r\n", 15);
    t = talk(0, in, n + 15, 0, 7);
    assert_non_null(strstr(t, "354 End data with <CR><LF>.<CR><LF>\r\n552 5.3.4 Message size "
                              "exceeds fixed limit\r\n250 2.0.0 Ok\r\n221"));
    /* a 101-byte line with max-line-length 600 */
    n = (size_t)snprintf(in, sizeof(in), "HELO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n");
    memset(in + n, 'z', 599);
    memcpy(in + n + 599, "\r\n.\r\nQUIT\r\n", 11);
    t = talk(0, in, n + 610, 0, 6);
    assert_non_null(strstr(t, "550 5.6.0 Message line too long\r\n221"));
    /* 600 bytes exactly is fine */
    n = (size_t)snprintf(in, sizeof(in), "HELO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n");
    memset(in + n, 'z', 598);
    memcpy(in + n + 598, "\r\n.\r\nQUIT\r\n", 11);
    t = talk(0, in, n + 609, 0, 6);
    assert_non_null(strstr(t, "queued as"));
    assert_int_equal(count_spool(), before + 1);
}

static void test_relaying(void **state)
{
    struct spool_envelope e;
    char body[4096];
    const char *t = TALK(1, "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@elsewhere.test>\r\n"
                            "RCPT TO:<x@ours.test>\r\nRCPT TO:<postmaster>\r\nDATA\r\n"
                            "a\r\n.\r\nQUIT\r\n", 8);

    assert_non_null(strstr(t, "250 2.1.0 Ok\r\n550 5.7.1 Relaying denied\r\n250 2.1.5 Ok\r\n"
                              "250 2.1.5 Ok\r\n354"));
    assert_non_null(strstr(t, "queued as"));
    read_msg(t, &e, body, sizeof(body));
    assert_int_equal(e.nrcpt, 2);
    assert_string_equal(e.rcpts[0].addr, "x@ours.test");
    assert_string_equal(e.rcpts[1].addr, "postmaster@t.test");
    assert_string_equal(e.source, "strict");
    spool_envelope_free(&e);
}

static void test_half_close(void **state)
{
    const char *t;

    half_close = 1;
    t = TALK(0, "HELO c\r\nNOOP\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n"
                "a\r\n.\r\n", 7);
    half_close = 0;
    assert_non_null(strstr(t, "250 t.test\r\n250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                              "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as"));
}

static void test_rset_and_helo_reset(void **state)
{
    const char *t = TALK(0, "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRSET\r\nRCPT TO:<x@y.test>\r\n"
                            "MAIL FROM:<a@b.c>\r\nEHLO d\r\nRCPT TO:<x@y.test>\r\nQUIT\r\n", 9);

    assert_non_null(strstr(t, "250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n503 5.5.1 Error: need MAIL "
                              "command\r\n250 2.1.0 Ok\r\n250-t.test"));
    assert_non_null(strstr(t, "250 DSN\r\n503 5.5.1 Error: need MAIL command\r\n221"));
}

static void test_commit_failure(void **state)
{
    char tmp[600], moved[600];
    const char *t;
    int before = count_spool();
    FILE *f;

    /* spool/tmp replaced by a file: the commit's open() fails */
    snprintf(tmp, sizeof(tmp), "%s/spool/tmp", dir);
    snprintf(moved, sizeof(moved), "%s/spool/tmp.moved", dir);
    assert_int_equal(rename(tmp, moved), 0);
    f = fopen(tmp, "w");
    assert_non_null(f);
    fclose(f);
    t = TALK(0, "HELO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n"
                "a\r\n.\r\nNOOP\r\nQUIT\r\n", 8);
    assert_non_null(strstr(t, "354 End data with <CR><LF>.<CR><LF>\r\n451 4.3.0 Queue write "
                              "failed\r\n250 2.0.0 Ok\r\n221"));
    assert_int_equal(count_spool(), before);
    assert_int_equal(unlink(tmp), 0);
    assert_int_equal(rename(moved, tmp), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_transaction),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_sequence_and_syntax),
        cmocka_unit_test(test_command_line_limits),
        cmocka_unit_test(test_smuggling),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_relaying),
        cmocka_unit_test(test_rset_and_helo_reset),
        cmocka_unit_test(test_commit_failure),
        cmocka_unit_test(test_half_close),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
