/*
 * config_connlimit - PowerMTA's global `mx-connection-limit MXPATTERN N`
 * and `ip-connection-limit CIDR N`: how many connections Courser keeps to
 * the mail exchangers whose host name matches MXPATTERN (`*.example.com`
 * wildcards as in <mx-rollup-list>), or whose address is within CIDR, from
 * one local source IP, all queues together.  The parser keeps the lines in
 * file order; the first matching line applies (config_conn_limit_find).
 * qmgr enforces them (qmgr/connlimit.c).
 *
 * DIAGNOSTICS: not "PATTERN N" / "CIDR N", N outside 1..100000, a bad
 * pattern or CIDR, more than CFG_CONN_LIMITS_MAX lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "config.h"
#include "config_table.h"
#include "net.h"
#include "parse.h"

static int bad(char *why, size_t whylen, const char *reason, const char *value)
{
    char q[160];

    cfg_quote(q, sizeof(q), value);
    snprintf(why, whylen, "%s: '%s'", reason, q);
    return -1;
}

int cfg_apply_conn_limit(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                         void *base, char *why, size_t whylen)
{
    struct config *cfg = p->cfg;
    struct cfg_conn_limit e, *slot;
    size_t n = strcspn(value, " \t");
    const char *arg = value + n + strspn(value + n, " \t");
    uint64_t v;
    int is_ip = strcmp(d->name, "ip-connection-limit") == 0;

    memset(&e, 0, sizeof(e));
    if (n == 0 || n >= sizeof(e.pattern) || *arg == '\0')
        return bad(why, whylen, is_ip ? "expected CIDR N" : "expected MX-PATTERN N", value);
    memcpy(e.pattern, value, n);
    e.pattern[n] = '\0';
    e.is_ip = is_ip;
    if (is_ip ? cidr_parse(e.pattern, &e.cidr) < 0 : !cfg_domain_pattern_ok(e.pattern))
        return bad(why, whylen, is_ip ? "not a CIDR or IP address" : "not a host name pattern",
                   e.pattern);
    if (parse_u64(arg, 1, 100000, &v) < 0)
        return bad(why, whylen, "not a number between 1 and 100000", arg);
    e.n = (uint32_t)v;
    slot = cfg_array_add(&cfg->conn_limits, &cfg->nconn_limits, sizeof(*slot), CFG_CONN_LIMITS_MAX);
    if (slot == NULL)
        return bad(why, whylen, "too many mx-/ip-connection-limit lines (or no memory)", value);
    *slot = e;
    return 0;
}

int config_conn_limit_find(const struct config *cfg, const char *mx_host, const char *ip)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int have_ip = ip != NULL && ip[0] != '\0' && net_sockaddr(ip, 0, &ss, &len) == 0;
    size_t i;

    for (i = 0; i < cfg->nconn_limits; i++) {
        const struct cfg_conn_limit *l = &cfg->conn_limits[i];

        if (l->is_ip ? have_ip && cidr_match(&l->cidr, (struct sockaddr *)&ss)
                     : mx_host != NULL && mx_host[0] != '\0' && config_domain_match(l->pattern, mx_host))
            return (int)i;
    }
    return -1;
}
