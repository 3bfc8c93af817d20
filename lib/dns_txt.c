/*
 * dns_txt - blocking TXT look-up for command-line tools (see dns_txt.h):
 * one c-ares channel, poll(2) on its sockets until the answer or the
 * deadline.
 */
#include "dns_txt.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct txt_query {
    int done;
    enum dns_txt_status st;
    struct dns_txt_result *out;
    char *err;
    size_t errlen;
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* txt_join - the reply's records, each one's strings concatenated. */
static enum dns_txt_status txt_join(struct txt_query *q, const struct ares_txt_ext *t)
{
    struct dns_txt_result *out = q->out;
    size_t len = 0;

    out->n = 0;
    for (; t != NULL; t = t->next) {
        if (t->record_start || out->n == 0) {
            if (out->n == DNS_TXT_RECORDS_MAX)
                return snprintf(q->err, q->errlen, "more than %d TXT records",
                                DNS_TXT_RECORDS_MAX), DNS_TXT_FAILED;
            out->n++;
            len = 0;
        }
        if (memchr(t->txt, '\0', t->length) != NULL || len + t->length >= DNS_TXT_LEN_MAX)
            return snprintf(q->err, q->errlen, "malformed or oversized TXT record"),
                   DNS_TXT_FAILED;
        memcpy(out->rec[out->n - 1] + len, t->txt, t->length);
        len += t->length;
        out->rec[out->n - 1][len] = '\0';
    }
    if (out->n == 0)
        return snprintf(q->err, q->errlen, "no TXT record"), DNS_TXT_NONE;
    return DNS_TXT_OK;
}

static void txt_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct txt_query *q = arg;
    struct ares_txt_ext *t = NULL;
    int r;

    if (status == ARES_EDESTRUCTION)
        return;                 /* given up (timed out): keep that reason */
    q->done = 1;
    if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
        snprintf(q->err, q->errlen, "%s", status == ARES_ENOTFOUND ? "no such name (NXDOMAIN)"
                                                                   : "no TXT record");
        q->st = DNS_TXT_NONE;
        return;
    }
    if (status != ARES_SUCCESS) {
        snprintf(q->err, q->errlen, "DNS query failed: %s", ares_strerror(status));
        q->st = DNS_TXT_FAILED;
        return;
    }
    if ((r = ares_parse_txt_reply_ext(abuf, alen, &t)) != ARES_SUCCESS) {
        snprintf(q->err, q->errlen, "%s", r == ARES_ENODATA ? "no TXT record"
                                                            : "malformed DNS reply");
        q->st = r == ARES_ENODATA ? DNS_TXT_NONE : DNS_TXT_FAILED;
        return;
    }
    q->st = txt_join(q, t);
    ares_free_data(t);
}

/* txt_wait - drive the channel until the callback ran or time is up. */
static void txt_wait(ares_channel ch, struct txt_query *q, long long deadline)
{
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    struct pollfd p[ARES_GETSOCK_MAXNUM];
    struct timeval tv, *tvp;
    nfds_t n, i;
    unsigned bits;
    int k, wait;
    long long left;

    while (!q->done && (left = deadline - now_ms()) > 0) {
        bits = (unsigned)ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
        for (n = 0, k = 0; k < ARES_GETSOCK_MAXNUM; k++) {
            /* c-ares' ARES_GETSOCK_WRITABLE shifts a signed 1 into the
             * sign bit for the last socket: test the bits unsigned. */
            unsigned rd = bits & (1u << k), wr = bits & (1u << (k + ARES_GETSOCK_MAXNUM));
            if (!rd && !wr)
                continue;
            p[n].fd = socks[k];
            p[n].events = (short)((rd ? POLLIN : 0) | (wr ? POLLOUT : 0));
            p[n].revents = 0;
            n++;
        }
        tvp = ares_timeout(ch, NULL, &tv);
        wait = (int)(left > 1000 ? 1000 : left);
        if (tvp != NULL && tvp->tv_sec * 1000 + tvp->tv_usec / 1000 < wait)
            wait = (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000);
        if (poll(p, n, wait) < 0)
            continue;           /* EINTR: look again */
        if (n == 0) {
            ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
            continue;
        }
        for (i = 0; i < n; i++)
            ares_process_fd(ch, (p[i].revents & (POLLIN | POLLERR | POLLHUP)) ? p[i].fd
                                                                              : ARES_SOCKET_BAD,
                            (p[i].revents & POLLOUT) ? p[i].fd : ARES_SOCKET_BAD);
        if (!q->done)
            ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);   /* timeouts */
    }
}

enum dns_txt_status dns_txt_lookup(const char *server_ip, uint16_t port, const char *name,
                                   unsigned timeout_ms, struct dns_txt_result *out,
                                   char *err, size_t errlen)
{
    struct txt_query q = { 0, DNS_TXT_FAILED, out, err, errlen };
    struct ares_options o;
    ares_channel ch;
    char csv[96];
    int r;

    memset(out, 0, sizeof(*out));
    if ((r = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS)
        return snprintf(err, errlen, "c-ares: %s", ares_strerror(r)), DNS_TXT_FAILED;
    memset(&o, 0, sizeof(o));
    o.timeout = (int)(timeout_ms / 3 > 0 ? timeout_ms / 3 : 1);
    o.tries = 3;
    if ((r = ares_init_options(&ch, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES)) != ARES_SUCCESS) {
        ares_library_cleanup();
        return snprintf(err, errlen, "c-ares: %s", ares_strerror(r)), DNS_TXT_FAILED;
    }
    if (server_ip != NULL && server_ip[0] != '\0') {
        r = strchr(server_ip, ':') != NULL
            ? snprintf(csv, sizeof(csv), "[%s]:%u", server_ip, port ? port : 53)
            : snprintf(csv, sizeof(csv), "%s:%u", server_ip, port ? port : 53);
        if (r < 0 || (size_t)r >= sizeof(csv)
            || (r = ares_set_servers_ports_csv(ch, csv)) != ARES_SUCCESS) {
            snprintf(err, errlen, "dns-server %s: %s", server_ip,
                     r < 0 || (size_t)r >= sizeof(csv) ? "too long" : ares_strerror(r));
            ares_destroy(ch);
            ares_library_cleanup();
            return DNS_TXT_FAILED;
        }
    }
    ares_query(ch, name, ns_c_in, ns_t_txt, txt_cb, &q);
    txt_wait(ch, &q, now_ms() + timeout_ms);
    if (!q.done)
        snprintf(err, errlen, "DNS query timed out after %u ms", timeout_ms);
    ares_destroy(ch);           /* a query still pending is called back and dropped */
    ares_library_cleanup();
    return q.st;
}
