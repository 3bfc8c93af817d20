/*
 * resolve - destination look-up for smtp-out with c-ares on the libuv loop.
 *
 * c-ares tells us which sockets it wants watched through its socket-state
 * callback; each gets a uv_poll_t, and readiness is handed back with
 * ares_process_fd.  One uv_timer follows ares_timeout() so retries and
 * time-outs fire without any socket activity.
 *
 * A request: with a route, every route host that is a name gets A and AAAA
 * queries (literals need none); without, the MX of the domain is queried
 * first (RFC 5321 5.1: no MX -> the domain itself is the one "implicit MX";
 * RFC 7505 null MX -> 556 5.1.10), then A and AAAA of every MX host, all in
 * parallel.  The result is the address list in MX order.  Failures:
 * NXDOMAIN / nothing to connect to -> 550 5.1.2, SERVFAIL / time-out with
 * nothing usable -> 451 4.4.3.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "smtp_out.h"

struct resolve_poll {
    uv_poll_t poll;
    ares_socket_t fd;
    struct resolve_poll *next;
};

static struct {
    uv_loop_t *loop;
    ares_channel channel;
    uv_timer_t timer;
    struct resolve_poll *polls;
    int ready;
} rs;

struct resolve_host {
    char name[SO_HOST_MAX];
    uint16_t port;
    int literal;
    char ip[8][SO_IP_MAX];      /* A first, then AAAA */
    size_t nip4, nip6;
    char ip6[8][SO_IP_MAX];
    int tempfail;               /* an A/AAAA query failed temporarily */
};

struct resolve_req {
    char domain[SO_HOST_MAX];
    resolve_cb cb;
    void *arg;
    int cancelled;
    int pending;                /* c-ares queries outstanding */
    int mx_mode;
    struct resolve_host hosts[SO_MX_MAX];
    size_t nhosts;
    uv_idle_t *defer;           /* for answers known without a query */
    struct resolve_fail fail;
    int failed;
};

struct resolve_query {
    struct resolve_req *req;
    size_t host;                /* index into req->hosts */
    int family;
};

static void resolve_timer_update(void);

/* Bounded copy that always terminates (truncation is harmless here: the
 * sources are bounded by the same size). */
static void resolve_copy(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void resolve_poll_closed(uv_handle_t *h)
{
    free(h->data);
}

static void resolve_poll_cb(uv_poll_t *h, int status, int events)
{
    struct resolve_poll *p = h->data;
    ares_socket_t r = ARES_SOCKET_BAD, w = ARES_SOCKET_BAD;

    /* on a poll error let c-ares read, so it sees the socket's error */
    if (status < 0 || (events & UV_READABLE))
        r = p->fd;
    if (events & UV_WRITABLE)
        w = p->fd;
    ares_process_fd(rs.channel, r, w);
    resolve_timer_update();
}

static void resolve_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct resolve_poll **pp, *p;
    int ev = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);

    for (pp = &rs.polls; *pp != NULL && (*pp)->fd != fd; pp = &(*pp)->next)
        ;
    p = *pp;
    if (ev == 0) {
        if (p != NULL) {
            *pp = p->next;
            uv_poll_stop(&p->poll);
            uv_close((uv_handle_t *)&p->poll, resolve_poll_closed);
        }
        return;
    }
    if (p == NULL) {
        p = calloc(1, sizeof(*p));
        if (p == NULL)
            msg_fatal("resolve: out of memory");
        if (uv_poll_init_socket(rs.loop, &p->poll, fd) != 0)
            msg_fatal("resolve: uv_poll_init_socket failed");
        p->fd = fd;
        p->poll.data = p;
        p->next = rs.polls;
        rs.polls = p;
    }
    uv_poll_start(&p->poll, ev, resolve_poll_cb);
}

static void resolve_timer_cb(uv_timer_t *t)
{
    ares_process_fd(rs.channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    resolve_timer_update();
}

static void resolve_timer_update(void)
{
    struct timeval tv, *tvp;
    uint64_t ms;

    tvp = ares_timeout(rs.channel, NULL, &tv);
    if (tvp == NULL) {
        uv_timer_stop(&rs.timer);
        return;
    }
    ms = (uint64_t)tvp->tv_sec * 1000 + (uint64_t)tvp->tv_usec / 1000 + 1;
    uv_timer_start(&rs.timer, resolve_timer_cb, ms, 0);
}

int resolve_init(uv_loop_t *loop, const char *server_ip, uint16_t port)
{
    struct ares_options o;
    int r;
    char csv[SO_IP_MAX + 16];

    if (!rs.ready && ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
        return -1;
    memset(&o, 0, sizeof(o));
    o.sock_state_cb = resolve_sock_state;
    o.flags = ARES_FLAG_NOSEARCH;
    o.timeout = 3000;
    o.tries = 2;
    o.lookups = (char *)"b";    /* DNS only; /etc/hosts is not a mail route */
    r = ares_init_options(&rs.channel, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_FLAGS
                          | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS);
    if (r != ARES_SUCCESS) {
        msg_error("resolve: ares_init_options: %s", ares_strerror(r));
        return -1;
    }
    if (server_ip != NULL && server_ip[0] != '\0') {
        if (strchr(server_ip, ':') != NULL)
            snprintf(csv, sizeof(csv), "[%s]:%u", server_ip, port ? port : 53);
        else
            snprintf(csv, sizeof(csv), "%s:%u", server_ip, port ? port : 53);
        r = ares_set_servers_ports_csv(rs.channel, csv);
        if (r != ARES_SUCCESS) {
            msg_error("resolve: dns-server %s: %s", csv, ares_strerror(r));
            ares_destroy(rs.channel);
            return -1;
        }
    }
    rs.loop = loop;
    uv_timer_init(loop, &rs.timer);
    uv_unref((uv_handle_t *)&rs.timer);
    rs.ready = 1;
    return 0;
}

void resolve_shutdown(void)
{
    if (!rs.ready)
        return;
    ares_destroy(rs.channel);   /* runs pending callbacks with ARES_EDESTRUCTION */
    uv_close((uv_handle_t *)&rs.timer, NULL);
    rs.ready = 0;
}

static void resolve_fail_set(struct resolve_req *q, int code, const char *status,
                             const char *fmt, const char *name, const char *why)
{
    if (q->failed)
        return;
    q->failed = 1;
    q->fail.code = code;
    snprintf(q->fail.status, sizeof(q->fail.status), "%s", status);
    snprintf(q->fail.text, sizeof(q->fail.text), fmt, name, why);
}

static void resolve_idle_closed(uv_handle_t *h)
{
    free(h);
}

/* Every query answered: build the address list and call back. */
static void resolve_finish(struct resolve_req *q)
{
    struct dest_addr *a;
    size_t n = 0, i, k;
    int temp = 0;

    if (q->cancelled) {
        free(q);
        return;
    }
    a = calloc(SO_ADDR_MAX, sizeof(*a));
    if (a == NULL)
        msg_fatal("resolve: out of memory");
    if (!q->failed) {
        for (i = 0; i < q->nhosts; i++) {
            struct resolve_host *h = &q->hosts[i];
            temp |= h->tempfail;
            for (k = 0; k < h->nip4 + h->nip6 && n < SO_ADDR_MAX; k++, n++) {
                snprintf(a[n].host, sizeof(a[n].host), "%s", h->name);
                snprintf(a[n].ip, sizeof(a[n].ip), "%s",
                         k < h->nip4 ? h->ip[k] : h->ip6[k - h->nip4]);
                a[n].port = h->port;
            }
        }
        if (n == 0 && temp)
            resolve_fail_set(q, 451, "4.4.3", "%s: %s", q->domain,
                             "temporary DNS failure looking up the mail exchangers' addresses");
        else if (n == 0)
            resolve_fail_set(q, 550, "5.1.2", "%s: %s", q->domain,
                             "no address (A/AAAA) for the mail exchanger");
    }
    q->cb(q->arg, a, q->failed ? 0 : n, q->failed ? &q->fail : NULL);
    free(a);
    free(q);
}

static void resolve_done_one(struct resolve_req *q)
{
    if (--q->pending == 0)
        resolve_finish(q);
}

static int resolve_status_temp(int status)
{
    return status != ARES_SUCCESS && status != ARES_ENOTFOUND && status != ARES_ENODATA;
}

static void resolve_addr_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct resolve_query *rq = arg;
    struct resolve_req *q = rq->req;
    struct resolve_host *h = &q->hosts[rq->host];
    int naddr = 8, i;

    if (status == ARES_SUCCESS && rq->family == AF_INET) {
        struct ares_addrttl at[8];
        if (ares_parse_a_reply(abuf, alen, NULL, at, &naddr) == ARES_SUCCESS)
            for (i = 0; i < naddr && h->nip4 < 8; i++)
                if (inet_ntop(AF_INET, &at[i].ipaddr, h->ip[h->nip4], SO_IP_MAX) != NULL)
                    h->nip4++;
    } else if (status == ARES_SUCCESS) {
        struct ares_addr6ttl at[8];
        if (ares_parse_aaaa_reply(abuf, alen, NULL, at, &naddr) == ARES_SUCCESS)
            for (i = 0; i < naddr && h->nip6 < 8; i++)
                if (inet_ntop(AF_INET6, &at[i].ip6addr, h->ip6[h->nip6], SO_IP_MAX) != NULL)
                    h->nip6++;
    } else if (resolve_status_temp(status)) {
        h->tempfail = 1;
    }
    free(rq);
    resolve_done_one(q);
}

static void resolve_query_addr(struct resolve_req *q, size_t i, int family)
{
    struct resolve_query *rq = calloc(1, sizeof(*rq));

    if (rq == NULL)
        msg_fatal("resolve: out of memory");
    rq->req = q;
    rq->host = i;
    rq->family = family;
    q->pending++;
    ares_query(rs.channel, q->hosts[i].name, ns_c_in,
               family == AF_INET ? ns_t_a : ns_t_aaaa, resolve_addr_cb, rq);
}

/* Start A and AAAA for every host that is a name.  Called with one pending
 * count held by the caller, released at the end. */
static void resolve_addresses(struct resolve_req *q)
{
    size_t i;

    for (i = 0; i < q->nhosts; i++) {
        if (q->hosts[i].literal) {
            if (strchr(q->hosts[i].name, ':') != NULL)
                snprintf(q->hosts[i].ip6[q->hosts[i].nip6++], SO_IP_MAX, "%s", q->hosts[i].name);
            else
                snprintf(q->hosts[i].ip[q->hosts[i].nip4++], SO_IP_MAX, "%s", q->hosts[i].name);
            continue;
        }
        resolve_query_addr(q, i, AF_INET);
        resolve_query_addr(q, i, AF_INET6);
    }
}

static unsigned resolve_random(void)
{
    return (unsigned)random();
}

static void resolve_mx_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct resolve_req *q = arg;
    struct ares_mx_reply *mx = NULL, *m;
    struct mx_entry e[SO_MX_MAX];
    size_t n = 0, i;
    int r;

    if (status == ARES_ENOTFOUND) {
        resolve_fail_set(q, 550, "5.1.2", "%s: %s", q->domain, "domain does not exist (NXDOMAIN)");
    } else if (status == ARES_ENODATA) {
        /* RFC 5321 5.1: no MX records -> the domain is its own MX */
        resolve_copy(q->hosts[0].name, SO_HOST_MAX, q->domain);
        q->hosts[0].port = 25;
        q->nhosts = 1;
    } else if (status != ARES_SUCCESS) {
        resolve_fail_set(q, 451, "4.4.3", "%s: MX lookup failed: %s", q->domain, ares_strerror(status));
    } else if ((r = ares_parse_mx_reply(abuf, alen, &mx)) != ARES_SUCCESS) {
        if (r == ARES_ENODATA) {
            resolve_copy(q->hosts[0].name, SO_HOST_MAX, q->domain);
            q->hosts[0].port = 25;
            q->nhosts = 1;
        } else {
            resolve_fail_set(q, 451, "4.4.3", "%s: malformed MX reply: %s", q->domain, ares_strerror(r));
        }
    } else {
        for (m = mx; m != NULL && n < SO_MX_MAX; m = m->next, n++) {
            snprintf(e[n].host, sizeof(e[n].host), "%s", m->host ? m->host : "");
            e[n].pref = m->priority;
        }
        ares_free_data(mx);
        if (mx_check_null(e, n) == MX_NULL) {
            resolve_fail_set(q, 556, "5.1.10", "%s: %s", q->domain,
                             "domain does not accept mail (null MX, RFC 7505)");
        } else {
            mx_sort(e, n, resolve_random);
            for (i = 0; i < n; i++) {
                if (e[i].host[0] == '\0')
                    continue;
                resolve_copy(q->hosts[q->nhosts].name, SO_HOST_MAX, e[i].host);
                q->hosts[q->nhosts].port = 25;
                q->nhosts++;
            }
        }
    }
    if (!q->failed && !q->cancelled)
        resolve_addresses(q);
    resolve_done_one(q);
}

static void resolve_defer_cb(uv_idle_t *h)
{
    struct resolve_req *q = h->data;

    uv_idle_stop(h);
    uv_close((uv_handle_t *)h, resolve_idle_closed);
    q->defer = NULL;
    resolve_done_one(q);
}

struct resolve_req *resolve_start(const char *domain, const char *route,
                                  resolve_cb cb, void *arg)
{
    struct resolve_req *q = calloc(1, sizeof(*q));
    struct route_host rh[SO_MX_MAX];
    int n, i;

    if (q == NULL)
        return NULL;
    snprintf(q->domain, sizeof(q->domain), "%s", domain);
    q->cb = cb;
    q->arg = arg;
    /* one count held until this function is done, released through an
     * idle callback so cb never runs inside resolve_start */
    q->pending = 1;
    q->defer = malloc(sizeof(*q->defer));
    if (q->defer == NULL) {
        free(q);
        return NULL;
    }
    uv_idle_init(rs.loop, q->defer);
    q->defer->data = q;
    if (route != NULL && route[0] != '\0') {
        n = route_parse(route, rh, SO_MX_MAX);
        if (n < 0) {
            resolve_fail_set(q, 451, "4.3.5", "%s: %s", q->domain, "unusable route in configuration");
        } else {
            for (i = 0; i < n; i++) {
                resolve_copy(q->hosts[i].name, SO_HOST_MAX, rh[i].host);
                q->hosts[i].port = rh[i].port;
                q->hosts[i].literal = rh[i].literal;
            }
            q->nhosts = (size_t)n;
            resolve_addresses(q);
        }
    } else {
        q->mx_mode = 1;
        q->pending++;
        ares_query(rs.channel, q->domain, ns_c_in, ns_t_mx, resolve_mx_cb, q);
    }
    uv_idle_start(q->defer, resolve_defer_cb);
    resolve_timer_update();
    return q;
}

void resolve_cancel(struct resolve_req *r)
{
    if (r != NULL)
        r->cancelled = 1;
}
