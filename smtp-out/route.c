/*
 * route - the pure decisions of destination selection, kept out of the
 * c-ares callbacks so they can be unit-tested: parsing a route ("smtp-hosts"
 * / "route" directive value as qmgr passes it), null MX detection
 * (RFC 7505) and MX ordering (RFC 5321 5.1: lowest preference first,
 * random order among equal preferences to spread load), and the MX hosts
 * qmgr says to skip (skip-mx).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "parse.h"
#include "smtp_out.h"

/* A DNS host name: labels of letters, digits, '-' and '_', dots between. */
static int route_name_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n >= SO_HOST_MAX || s[0] == '.' || s[0] == '-')
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '.' && c != '_')
            return 0;
        if (c == '.' && i + 1 < n && s[i + 1] == '.')
            return 0;
    }
    return 1;
}

static int route_one(const char *s, size_t n, struct route_host *h)
{
    char tmp[SO_HOST_MAX + 16];
    const char *colon, *hs = s;
    size_t hl;
    unsigned char addr[16];
    uint64_t port = 25;

    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    s = tmp;
    memset(h, 0, sizeof(*h));
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL)
            return -1;
        hs = s + 1;
        hl = (size_t)(end - hs);
        if (end[1] == ':') {
            if (parse_u64(end + 2, 1, 65535, &port) < 0)
                return -1;
        } else if (end[1] != '\0') {
            return -1;
        }
        if (hl == 0 || hl >= sizeof(h->host))
            return -1;
        memcpy(h->host, hs, hl);
        h->host[hl] = '\0';
        if (inet_pton(AF_INET, h->host, addr) != 1 && inet_pton(AF_INET6, h->host, addr) != 1)
            return -1;
        h->literal = 1;
        h->port = (uint16_t)port;
        return 0;
    }
    colon = strchr(s, ':');
    if (colon != NULL && strchr(colon + 1, ':') != NULL) {
        /* an unbracketed IPv6 literal, no port */
        if (inet_pton(AF_INET6, s, addr) != 1 || strlen(s) >= sizeof(h->host))
            return -1;
        strcpy(h->host, s);
        h->literal = 1;
        h->port = 25;
        return 0;
    }
    hl = colon ? (size_t)(colon - s) : strlen(s);
    if (colon != NULL && parse_u64(colon + 1, 1, 65535, &port) < 0)
        return -1;
    if (!route_name_ok(s, hl))
        return -1;
    memcpy(h->host, s, hl);
    h->host[hl] = '\0';
    h->literal = inet_pton(AF_INET, h->host, addr) == 1;
    h->port = (uint16_t)port;
    return 0;
}

int route_parse(const char *route, struct route_host *out, size_t max)
{
    const char *p = route, *comma;
    size_t n = 0, len;

    if (route == NULL || *route == '\0')
        return -1;
    for (;;) {
        while (*p == ' ')
            p++;
        comma = strchr(p, ',');
        len = comma ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (n >= max || route_one(p, len, &out[n]) < 0)
            return -1;
        n++;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return n > 0 ? (int)n : -1;
}

int route_host_listed(const char *list, const char *host)
{
    size_t hl = strlen(host), n;
    const char *p = list;

    while (p != NULL && *p != '\0') {
        n = strcspn(p, ",");
        if (n == hl && n > 0 && strncasecmp(p, host, n) == 0)
            return 1;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

size_t route_skip_hosts(struct dest_addr *a, size_t n, const char *skip)
{
    size_t i, k = 0;

    if (skip == NULL || *skip == '\0')
        return n;
    for (i = 0; i < n; i++)
        if (!route_host_listed(skip, a[i].host)) {
            if (k != i)
                a[k] = a[i];
            k++;
        }
    return k;
}

enum mx_verdict mx_check_null(const struct mx_entry *e, size_t n)
{
    /* RFC 7505 3: exactly one MX RR, exchange the root ("."). */
    if (n == 1 && (e[0].host[0] == '\0' || strcmp(e[0].host, ".") == 0))
        return MX_NULL;
    return MX_OK;
}

static int mx_cmp(const void *a, const void *b)
{
    const struct mx_entry *x = a, *y = b;

    if (x->pref != y->pref)
        return x->pref < y->pref ? -1 : 1;
    if (x->rnd != y->rnd)
        return x->rnd < y->rnd ? -1 : 1;
    return 0;
}

void mx_sort(struct mx_entry *e, size_t n, unsigned (*rnd)(void))
{
    size_t i;

    for (i = 0; i < n; i++)
        e[i].rnd = rnd();
    qsort(e, n, sizeof(*e), mx_cmp);
}
