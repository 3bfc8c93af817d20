/*
 * config_value - the value handlers of the directive table: the generic
 * one for plain types (bool, number, interval, size, name, path) and the
 * special ones (listeners, source hosts, routes, retry lists, accounting
 * records and fields, ...), plus the syntax checks they share with the
 * parser.  A failing handler writes "reason: 'value'" into why.
 */
#include "config_table.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acct.h"
#include "parse.h"

#define DAY 86400ULL

void cfg_quote(char *out, size_t outlen, const char *value)
{
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)value;

    if (outlen == 0)
        return;
    for (; *s != '\0'; s++) {
        char tmp[5];
        size_t n;
        if (*s < 0x20 || *s == 0x7f || *s == '\\' || *s == '\'')
            n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", *s);
        else {
            tmp[0] = (char)*s;
            n = 1;
        }
        if (o + n + 4 > outlen) {
            if (outlen >= 4) {
                o = o > outlen - 4 ? outlen - 4 : o;
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o < outlen ? o : outlen - 1] = '\0';
}

/* Lexical clean-up: "a/./b//../c" -> "a/c".  The config's folder is
 * resolved with realpath, so ".." here only walks back what the file
 * itself wrote. */
int cfg_path_join(const char *dir, const char *path, char *out, size_t outlen)
{
    char tmp[PATH_MAX];
    size_t o = 0, n;
    const char *s, *e;
    int len;

    if (path == NULL || path[0] == '\0')
        return -1;
    if (path[0] == '/')
        len = snprintf(tmp, sizeof(tmp), "%s", path);
    else if (dir != NULL && dir[0] == '/')
        len = snprintf(tmp, sizeof(tmp), "%s/%s", dir, path);
    else
        return -1;
    if (len < 0 || (size_t)len >= sizeof(tmp) || outlen < 2)
        return -1;
    for (s = tmp; *s != '\0'; s = e) {
        while (*s == '/')
            s++;
        e = s + strcspn(s, "/");
        n = (size_t)(e - s);
        if (n == 0 || (n == 1 && s[0] == '.'))
            continue;
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;            /* drop the '/' too */
            continue;
        }
        if (o + 1 + n + 1 > outlen)
            return -1;
        out[o++] = '/';
        memcpy(out + o, s, n);
        o += n;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return 0;
}

/* label_chars_ok - a dot-separated name: labels 1..63 bytes of letters,
 * digits, '-', '_' or UTF-8 (IDN written directly, as PowerMTA allows). */
static int label_chars_ok(const char *s)
{
    size_t n = strlen(s), label = 0, i;

    if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
            continue;
        }
        if (!isalnum(c) && c != '-' && c != '_' && c < 0x80)
            return 0;
        if (++label > 63)
            return 0;
    }
    return 1;
}

int cfg_host_ok(const char *s)
{
    return label_chars_ok(s);
}

int cfg_domain_pattern_ok(const char *s)
{
    if (strcmp(s, "*") == 0)
        return 1;
    if (strncmp(s, "*.", 2) == 0)
        return label_chars_ok(s + 2);
    if (strncmp(s, "[*.]", 4) == 0)
        return label_chars_ok(s + 4);
    return label_chars_ok(s);
}

int cfg_name_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n >= CFG_NAME_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isgraph(c) || c == ',' || c == '<' || c == '>' || c == '"' || c == '\'')
            return 0;
    }
    return 1;
}

/* bad - why = "reason: 'value'" with the value made printable. */
static int bad(char *why, size_t whylen, const char *reason, const char *value)
{
    char q[160];

    cfg_quote(q, sizeof(q), value);
    snprintf(why, whylen, "%s: '%s'", reason, q);
    return -1;
}

/* cfg_fmt_interval - seconds as "1w2d3h4m5s" (zero units left out). */
void cfg_fmt_interval(uint64_t s, char *out, size_t outlen)
{
    static const struct { uint64_t secs; char unit; } u[] = {
        { 604800, 'w' }, { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
    size_t i, used = 0;

    out[0] = '\0';
    if (s == 0) {
        snprintf(out, outlen, "0s");
        return;
    }
    for (i = 0; i < sizeof(u) / sizeof(u[0]) && used < outlen; i++) {
        if (s >= u[i].secs) {
            int n = snprintf(out + used, outlen - used, "%llu%c",
                             (unsigned long long)(s / u[i].secs), u[i].unit);
            if (n < 0)
                return;
            used += (size_t)n;
            s %= u[i].secs;
        }
    }
}

/* range_error - "must be between MIN and MAX" in the value's own units. */
static int range_error(const struct cfg_directive *d, const char *value, char *why, size_t whylen)
{
    char lo[32], hi[32], reason[96];

    if (d->type == CT_INTERVAL) {
        cfg_fmt_interval(d->min, lo, sizeof(lo));
        cfg_fmt_interval(d->max, hi, sizeof(hi));
    } else {
        snprintf(lo, sizeof(lo), "%llu", (unsigned long long)d->min);
        snprintf(hi, sizeof(hi), "%llu", (unsigned long long)d->max);
    }
    snprintf(reason, sizeof(reason), "must be between %s and %s", lo, hi);
    return bad(why, whylen, reason, value);
}

/* copy_text - value into the char[] at base+off, refusing truncation. */
static int copy_text(const struct cfg_directive *d, const char *value, void *base,
                     char *why, size_t whylen)
{
    char reason[64];
    size_t n = strlen(value);

    if (n >= d->size) {
        snprintf(reason, sizeof(reason), "too long (max %zu bytes)", d->size - 1);
        return bad(why, whylen, reason, value);
    }
    memcpy((char *)base + d->off, value, n + 1);
    return 0;
}

/* user_ok - a portable Unix user name. */
static int user_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > 32 || !(islower((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (i = 1; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i])
            && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return 0;
    return 1;
}

/* address_ok - local@domain without spaces or controls. */
static int address_ok(const char *s)
{
    const char *at = strrchr(s, '@');
    size_t i;

    if (at == NULL || at == s || !cfg_host_ok(at + 1))
        return 0;
    for (i = 0; s[i] != '\0'; i++)
        if (!isgraph((unsigned char)s[i]) || s[i] == '<' || s[i] == '>')
            return 0;
    return 1;
}

/* apply_generic - the handler for every plain value type. */
static int apply_generic(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                         void *base, char *why, size_t whylen)
{
    char *at = (char *)base + d->off;
    uint64_t v;
    int b;

    switch (d->type) {
    case CT_BOOL:
        if (parse_bool(value, &b) < 0)
            return bad(why, whylen, "not yes or no", value);
        *(int *)at = b;
        return 0;
    case CT_U32:
        if (parse_u64(value, 0, UINT64_MAX, &v) < 0)
            return bad(why, whylen, "not a number", value);
        if (v < d->min || v > d->max)
            return range_error(d, value, why, whylen);
        *(uint32_t *)at = (uint32_t)v;
        return 0;
    case CT_INTERVAL:
        if (parse_interval(value, &v) < 0)
            return bad(why, whylen, "not a time interval (e.g. 30s, 10m, 4d12h)", value);
        if (v < d->min || v > d->max)
            return range_error(d, value, why, whylen);
        *(uint32_t *)at = (uint32_t)v;
        return 0;
    case CT_SIZE:
        if (d->min == 0 && strcasecmp(value, "unlimited") == 0)
            v = 0;
        else if (parse_size(value, &v) < 0)
            return bad(why, whylen, "not a size (e.g. 512k, 20M)", value);
        if (v < d->min || v > d->max)
            return range_error(d, value, why, whylen);
        *(uint64_t *)at = v;
        return 0;
    case CT_NAME:
        if (!cfg_name_ok(value))
            return bad(why, whylen, "not a valid name", value);
        return copy_text(d, value, base, why, whylen);
    case CT_HOST:
        if (!cfg_host_ok(value))
            return bad(why, whylen, "not a host name", value);
        return copy_text(d, value, base, why, whylen);
    case CT_ADDRESS:
        if (!address_ok(value))
            return bad(why, whylen, "not an address (local@domain)", value);
        return copy_text(d, value, base, why, whylen);
    case CT_USER:
        if (!user_ok(value))
            return bad(why, whylen, "not a user name", value);
        return copy_text(d, value, base, why, whylen);
    case CT_PATH:
        if (cfg_path_join(p ? p->cfg->dir : NULL, value, at, d->size) < 0)
            return bad(why, whylen, "bad path", value);
        return 0;
    default:
        return bad(why, whylen, "internal error: no handler", value);
    }
}

int cfg_table_apply(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                    void *base, char *why, size_t whylen)
{
    if (d->apply != NULL)
        return d->apply(p, d, value, base, why, whylen);
    return apply_generic(p, d, value, base, why, whylen);
}

/* ---- special handlers ---- */

int cfg_apply_include(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                         void *base, char *why, size_t whylen)
{
    return cfg_parse_include(p, value, why, whylen);
}

/* top_index - index of the innermost open block (the vmta, pool, listener). */
static size_t top_index(const struct cfg_parser *p)
{
    return p->stack[p->nstack - 1].index;
}

/* split2 - split "a b" at the first run of blanks; b may be "" */
static int split2(const char *value, char *a, size_t alen, const char **rest)
{
    size_t n = strcspn(value, " \t");

    if (n == 0 || n >= alen)
        return -1;
    memcpy(a, value, n);
    a[n] = '\0';
    value += n;
    value += strspn(value, " \t");
    *rest = value;
    return 0;
}

static int ip_ok(const char *s)
{
    unsigned char buf[16];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* listener_add - a listener from "IP:PORT [source=NAME]". */
static int listener_add(struct cfg_parser *p, const char *value, char *why, size_t whylen)
{
    struct config *cfg = p->cfg;
    struct cfg_listener *l;
    char addr[CFG_NAME_MAX], ip[64];
    const char *rest;
    uint16_t port;
    size_t i;

    if (split2(value, addr, sizeof(addr), &rest) < 0)
        return bad(why, whylen, "expected IP:PORT [source=NAME]", value);
    if (strncmp(addr, "0/0:", 4) == 0) {
        uint64_t v;
        if (parse_u64(addr + 4, 1, 65535, &v) < 0)
            return bad(why, whylen, "not IP:PORT", addr);
        snprintf(ip, sizeof(ip), "0.0.0.0");
        port = (uint16_t)v;
    } else if (parse_hostport(addr, ip, sizeof(ip), &port) < 0 || !ip_ok(ip)) {
        return bad(why, whylen, "not IP:PORT", addr);
    }
    if (*rest != '\0' && (strncasecmp(rest, "source=", 7) != 0 || !cfg_name_ok(rest + 7)
                          || strlen(rest + 7) >= CFG_NAME_MAX))
        return bad(why, whylen, "expected source=NAME", rest);
    for (i = 0; i < cfg->nlisteners; i++)
        if (cfg->listeners[i].port == port && strcmp(cfg->listeners[i].ip, ip) == 0)
            return bad(why, whylen, "listener given twice", addr);
    l = cfg_array_add(&cfg->listeners, &cfg->nlisteners, sizeof(*l), CFG_LISTENERS_MAX);
    if (l == NULL)
        return bad(why, whylen, "too many listeners (or no memory)", value);
    snprintf(l->ip, sizeof(l->ip), "%s", ip);
    l->port = port;
    snprintf(l->file, sizeof(l->file), "%s", p->file);
    l->line = p->line;
    if (*rest != '\0') {
        snprintf(l->source, sizeof(l->source), "%s", rest + 7);
        if (cfg_ref_add(p, REF_SOURCE, "smtp-listener", l->source) < 0)
            return bad(why, whylen, "too many names to check (or no memory)", value);
    }
    return 0;
}

int cfg_listener_block(struct cfg_parser *p, const char *value, char *why, size_t whylen)
{
    if (strpbrk(value, " \t") != NULL)
        return bad(why, whylen, "expected IP:PORT", value);
    return listener_add(p, value, why, whylen);
}

int cfg_apply_listener(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                          void *base, char *why, size_t whylen)
{
    return listener_add(p, value, why, whylen);
}

int cfg_apply_listener_source(struct cfg_parser *p, const struct cfg_directive *d,
                                 const char *value, void *base, char *why, size_t whylen)
{
    struct cfg_listener *l = &p->cfg->listeners[top_index(p)];

    if (!cfg_name_ok(value) || strlen(value) >= sizeof(l->source))
        return bad(why, whylen, "not a valid name", value);
    snprintf(l->source, sizeof(l->source), "%s", value);
    if (cfg_ref_add(p, REF_SOURCE, "source", value) < 0)
        return bad(why, whylen, "too many names to check (or no memory)", value);
    return 0;
}

int cfg_apply_dns_server(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                            void *base, char *why, size_t whylen)
{
    struct config *cfg = base;
    char ip[64];
    uint16_t port = 53;
    size_t n = strlen(value);

    if (strchr(value, ',') != NULL)
        return bad(why, whylen, "only one server is supported yet", value);
    if (ip_ok(value) && n < sizeof(ip)) {
        memcpy(ip, value, n + 1);
    } else if (value[0] == '[' && n >= 3 && n < sizeof(ip) && value[n - 1] == ']') {
        memcpy(ip, value + 1, n - 2);
        ip[n - 2] = '\0';
        if (!ip_ok(ip))
            return bad(why, whylen, "not an IP address", value);
    } else if (parse_hostport(value, ip, sizeof(ip), &port) < 0 || !ip_ok(ip)) {
        return bad(why, whylen, "not IP or IP:PORT", value);
    }
    snprintf(cfg->dns_server_ip, sizeof(cfg->dns_server_ip), "%s", ip);
    cfg->dns_server_port = port;
    return 0;
}

int cfg_apply_relay_domain(struct cfg_parser *p, const struct cfg_directive *d,
                              const char *value, void *base, char *why, size_t whylen)
{
    struct config *cfg = base;
    char (*slot)[CFG_NAME_MAX];

    if (strcmp(value, "*") == 0)
        return bad(why, whylen, "would make an open relay", value);
    if (!cfg_domain_pattern_ok(value) || strlen(value) >= CFG_NAME_MAX)
        return bad(why, whylen, "not a domain pattern", value);
    slot = cfg_array_add(&cfg->relay_domains, &cfg->nrelay_domains, CFG_NAME_MAX, CFG_RELAY_MAX);
    if (slot == NULL)
        return bad(why, whylen, "too many relay domains (or no memory)", value);
    snprintf(*slot, CFG_NAME_MAX, "%s", value);
    return 0;
}

int cfg_apply_vmta_ref(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                          void *base, char *why, size_t whylen)
{
    if (strcasecmp(value, "by-smtp-source-ip") == 0) {
        /* chosen per connection (smtpd/route_vmta.c): only a source can */
        if (d->store != CST_SOURCE)
            return bad(why, whylen, "only in <source>", value);
        return apply_generic(p, d, "by-smtp-source-ip", base, why, whylen);
    }
    if (apply_generic(p, d, value, base, why, whylen) < 0)
        return -1;
    if (p != NULL && cfg_ref_add(p, REF_VMTA_OR_POOL, d->name, value) < 0)
        return bad(why, whylen, "too many names to check (or no memory)", value);
    return 0;
}

int cfg_apply_source_host(struct cfg_parser *p, const struct cfg_directive *d,
                             const char *value, void *base, char *why, size_t whylen)
{
    struct cfg_vmta *v = &p->cfg->vmtas[top_index(p)];
    struct cfg_source_host *h;
    char ip[64];
    const char *host;

    if (split2(value, ip, sizeof(ip), &host) < 0 || *host == '\0' || strpbrk(host, " \t"))
        return bad(why, whylen, "expected IP HOSTNAME", value);
    if (strchr(ip, '/') != NULL)
        return bad(why, whylen, "address ranges are not supported yet", ip);
    if (!ip_ok(ip))
        return bad(why, whylen, "not an IP address", ip);
    if (!cfg_host_ok(host) || strlen(host) >= sizeof(h->hostname))
        return bad(why, whylen, "not a host name", host);
    h = p->nhosts < CFG_HOSTS_TOTAL ? cfg_array_add(&v->hosts, &v->nhosts, sizeof(*h),
                                                    CFG_HOSTS_MAX) : NULL;
    if (h == NULL)
        return bad(why, whylen, "too many source hosts (or no memory)", value);
    p->nhosts++;
    snprintf(h->ip, sizeof(h->ip), "%s", ip);
    snprintf(h->hostname, sizeof(h->hostname), "%s", host);
    return 0;
}

int cfg_apply_pool_member(struct cfg_parser *p, const struct cfg_directive *d,
                             const char *value, void *base, char *why, size_t whylen)
{
    struct cfg_pool *pool = &p->cfg->pools[top_index(p)];
    char (*slot)[CFG_NAME_MAX], name[CFG_NAME_MAX];
    const char *rest;
    uint64_t weight = 1;
    uint32_t *w;
    size_t nw;

    /* "NAME" or "NAME weight=N" (Courser's extension: PowerMTA's pools
     * are plain round robin, which is weight 1 for every member). */
    if (split2(value, name, sizeof(name), &rest) < 0 || !cfg_name_ok(name))
        return bad(why, whylen, "not a valid name", value);
    if (*rest != '\0') {
        if (strncasecmp(rest, "weight=", 7) != 0 || parse_u64(rest + 7, 1, 1000, &weight) < 0)
            return bad(why, whylen, "expected NAME [weight=1..1000]", value);
    }
    for (size_t i = 0; i < pool->nmembers; i++)
        if (strcasecmp(pool->members[i], name) == 0)
            return bad(why, whylen, "already a member of this pool", name);
    slot = p->nmembers < CFG_MEMBERS_TOTAL ? cfg_array_add(&pool->members, &pool->nmembers,
                                                           CFG_NAME_MAX, CFG_MEMBERS_MAX) : NULL;
    if (slot == NULL)
        return bad(why, whylen, "too many members (or no memory)", value);
    nw = pool->nmembers - 1;
    w = cfg_array_add(&pool->weights, &nw, sizeof(*w), CFG_MEMBERS_MAX);
    if (w == NULL) {
        pool->nmembers--;
        return bad(why, whylen, "no memory", value);
    }
    *w = (uint32_t)weight;
    p->nmembers++;
    snprintf(*slot, CFG_NAME_MAX, "%s", name);
    if (cfg_ref_add(p, REF_VMTA, "virtual-mta", name) < 0)
        return bad(why, whylen, "too many names to check (or no memory)", value);
    return 0;
}

/* next_item - copy the next sep-separated item of *s, blanks trimmed. */
static int next_item(const char **s, const char *seps, char *out, size_t outlen)
{
    const char *p = *s, *e;
    size_t n;

    n = strcspn(p, seps);
    e = p + n;
    *s = *e ? e + 1 : e;
    while (p < e && isblank((unsigned char)*p))
        p++;
    while (e > p && isblank((unsigned char)e[-1]))
        e--;
    n = (size_t)(e - p);
    if (n >= outlen)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

int cfg_apply_retry(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                       void *base, char *why, size_t whylen)
{
    struct cfg_domain_settings *s = base;
    uint32_t list[CFG_RETRY_MAX];
    uint32_t n = 0;
    const char *cur = value;
    char item[64];
    uint64_t v;

    do {
        if (n == CFG_RETRY_MAX)
            return bad(why, whylen, "more than 30 intervals", value);
        if (next_item(&cur, ",", item, sizeof(item)) < 0 || parse_interval(item, &v) < 0)
            return bad(why, whylen, "not a list of time intervals (e.g. 10m,30m,1h)", value);
        if (v < 1 || v > 30 * DAY)
            return bad(why, whylen, "intervals must be between 1s and 30d", value);
        list[n++] = (uint32_t)v;
    } while (*cur != '\0');
    memcpy(s->retry_after, list, n * sizeof(list[0]));
    s->nretry = n;
    return 0;
}

/* route_item_ok - "[IP]:PORT", "host:port", "[IP]" or "host". */
static int route_item_ok(const char *item)
{
    char host[CFG_NAME_MAX];
    uint16_t port;
    size_t n = strlen(item);

    if (parse_hostport(item, host, sizeof(host), &port) == 0)
        return 1;
    if (n > 2 && item[0] == '[' && item[n - 1] == ']' && n - 2 < sizeof(host)) {
        memcpy(host, item + 1, n - 2);
        host[n - 2] = '\0';
        return ip_ok(host);
    }
    return cfg_host_ok(item);
}

int cfg_apply_route(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                       void *base, char *why, size_t whylen)
{
    struct cfg_domain_settings *s = base;
    char out[sizeof(s->route)], item[CFG_NAME_MAX];
    const char *cur = value;
    size_t used = 0, n;

    do {
        char sep = cur[strcspn(cur, ",;")];
        if (next_item(&cur, ",;", item, sizeof(item)) < 0 || item[0] == '\0')
            return bad(why, whylen, "empty or too long host in list", value);
        if (strncasecmp(item, "lookup-mx:", 10) == 0)
            return bad(why, whylen, "lookup-mx is not supported yet", item);
        if (!route_item_ok(item))
            return bad(why, whylen, "not [IP]:PORT or host:port", item);
        n = strlen(item);
        if (used + n + 2 > sizeof(out))
            return bad(why, whylen, "too long", value);
        memcpy(out + used, item, n);
        used += n;
        if (sep != '\0')
            out[used++] = sep;
    } while (*cur != '\0');
    out[used] = '\0';
    memcpy(s->route, out, used + 1);
    return 0;
}

static const struct { const char *s, *l; unsigned bit; } record_types[] = {
    { "d", "delivery", ACCT_REC_D }, { "b", "bounce", ACCT_REC_B },
    { "t", "transient", ACCT_REC_T }, { "tq", "transient-queue", ACCT_REC_TQ },
    { "r", "receipt", ACCT_REC_R }, { "f", "feedback-loop", ACCT_REC_F },
    { "rb", "remote-bounce", ACCT_REC_RB }, { "rs", "remote-status", ACCT_REC_RS },
};

/* records_parse - "d,b,t" (or long names) into a mask. */
static int records_parse(const char *value, unsigned *mask, char *why, size_t whylen)
{
    const char *cur = value;
    char item[64];
    unsigned m = 0;
    size_t i;

    do {
        if (next_item(&cur, ",", item, sizeof(item)) < 0)
            return bad(why, whylen, "unknown record type", value);
        for (i = 0; i < sizeof(record_types) / sizeof(record_types[0]); i++)
            if (strcasecmp(item, record_types[i].s) == 0 || strcasecmp(item, record_types[i].l) == 0)
                break;
        if (i == sizeof(record_types) / sizeof(record_types[0]))
            return bad(why, whylen, "unknown record type", item);
        m |= record_types[i].bit;
    } while (*cur != '\0');
    *mask = m;
    return 0;
}

int cfg_apply_records(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                         void *base, char *why, size_t whylen)
{
    return records_parse(value, &((struct cfg_acct_file *)base)->records, why, whylen);
}

int cfg_apply_fields(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                        void *base, char *why, size_t whylen)
{
    struct cfg_acct_file *a = base;
    int fields[AF_COUNT];
    size_t n = 0, i;
    char types[128], item[128];
    const char *list = value;
    unsigned mask;
    int f;

    /* PowerMTA: "record-fields TYPES LIST".  The TYPES are checked but the
     * list applies to every record type (one CSV header per file). */
    if (strpbrk(value, " \t") != NULL) {
        if (split2(value, types, sizeof(types), &list) < 0
            || records_parse(types, &mask, why, whylen) < 0)
            return -1;
    }
    if (strcmp(list, "*") == 0) {
        for (i = 0; i < AF_COUNT; i++)
            a->fields[i] = (int)i;
        a->nfields = AF_COUNT;
        return 0;
    }
    do {
        if (next_item(&list, ",", item, sizeof(item)) < 0 || item[0] == '\0')
            return bad(why, whylen, "empty or too long field name", value);
        if (strncasecmp(item, "header_", 7) == 0)
            return bad(why, whylen, "header fields are not supported yet", item);
        if (strcmp(item, "*") == 0)     /* PowerMTA's "*,header_X", "*,!orcpt" */
            return bad(why, whylen, "'*' combined with other fields is not supported yet", value);
        f = acct_field_lookup(item);
        if (f < 0)
            return bad(why, whylen, "unknown accounting field", item);
        for (i = 0; i < n; i++)
            if (fields[i] == f)
                return bad(why, whylen, "field listed twice", item);
        if (n == AF_COUNT)
            return bad(why, whylen, "too many fields", value);
        fields[n++] = f;
    } while (*list != '\0');
    memcpy(a->fields, fields, n * sizeof(fields[0]));
    a->nfields = n;
    return 0;
}
