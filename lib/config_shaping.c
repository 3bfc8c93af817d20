/*
 * config_shaping - the value handlers of the traffic-shaping directives
 * (issue 4): rates (max-msg-rate, max-connect-rate, their backoff twins),
 * data volume rates, interval lists other than retry-after, "never"
 * intervals, <smtp-pattern-list> blocks and their `reply` lines,
 * hold-domain; and the look-ups qmgr makes on them.  Kept apart from
 * config_value.c so the shaping directives are one file.
 *
 * DIAGNOSTICS: as every handler, a reason in why ("not a rate ...");
 * the parser adds file:line and the directive.
 */
#include "config_table.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "parse.h"
#include "smtp_patterns.h"

#define DAY 86400ULL

static int bad(char *why, size_t whylen, const char *reason, const char *value)
{
    char q[160];

    cfg_quote(q, sizeof(q), value);
    snprintf(why, whylen, "%s: '%s'", reason, q);
    return -1;
}

/* set_rate - store count/period; period bounded so rates stay meaningful. */
static int set_rate(const struct cfg_directive *d, void *base, uint64_t count, uint64_t period,
                    const char *value, char *why, size_t whylen)
{
    struct cfg_rate *r = (struct cfg_rate *)((char *)base + d->off);

    if (count != 0 && (period < 1 || period > 30 * DAY))
        return bad(why, whylen, "the interval must be between 1s and 30d", value);
    r->count = count;
    r->period = count ? (uint32_t)period : 0;
    r->set = 1;
    return 0;
}

/* rate_value - PowerMTA's rate syntax: "unlimited", "0", or
 * N/[M]UNIT with UNIT s|sec|m|min|h|hr|d|day (parse_rate takes the one
 * letter forms). */
static int rate_value(const char *value, uint64_t *count, uint64_t *period)
{
    static const char *const words[][2] = { { "sec", "s" }, { "min", "m" }, { "hr", "h" },
                                            { "day", "d" } };
    const char *slash = strchr(value, '/'), *unit;
    char tmp[64];
    size_t i, head;

    if (strcmp(value, "0") == 0) {
        *count = *period = 0;
        return 0;
    }
    if (slash == NULL)
        return parse_rate(value, count, period);     /* "unlimited" or an error */
    for (unit = slash + 1; isdigit((unsigned char)*unit); unit++)
        ;
    head = (size_t)(unit - value);
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasecmp(unit, words[i][0]) == 0) {
            if (head + 2 > sizeof(tmp))
                return -1;
            memcpy(tmp, value, head);
            strcpy(tmp + head, words[i][1]);
            return parse_rate(tmp, count, period);
        }
    return parse_rate(value, count, period);
}

int cfg_apply_rate(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                   void *base, char *why, size_t whylen)
{
    uint64_t count, period;

    if (rate_value(value, &count, &period) < 0 || count > 100000000)
        return bad(why, whylen, "not a rate (e.g. 600/h, 83/10m or unlimited)", value);
    return set_rate(d, base, count, period, value, why, whylen);
}

/* "CIDR N" (source-ip-max-smtp-out) or "CIDR RATE": one more entry, or
 * the same CIDR's entry replaced. */
int cfg_apply_ip_limit(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                       void *base, char *why, size_t whylen)
{
    struct cfg_ip_limits *ls = (struct cfg_ip_limits *)((char *)base + d->off);
    struct cfg_ip_limit e;
    char cidr[80];
    const char *arg;
    size_t n = strcspn(value, " \t"), i;
    uint64_t v, per;
    int is_conns = strcmp(d->name, "source-ip-max-smtp-out") == 0;

    memset(&e, 0, sizeof(e));
    arg = value + n + strspn(value + n, " \t");
    if (n == 0 || n >= sizeof(cidr) || *arg == '\0')
        return bad(why, whylen, is_conns ? "expected CIDR N" : "expected CIDR RATE", value);
    memcpy(cidr, value, n);
    cidr[n] = '\0';
    if (cidr_parse(cidr, &e.cidr) < 0)
        return bad(why, whylen, "not a CIDR or IP address", cidr);
    if (is_conns) {
        if (strcasecmp(arg, "unlimited") == 0)
            v = 0;
        else if (parse_u64(arg, 1, 100000, &v) < 0)
            return bad(why, whylen, "not a number between 1 and 100000, or unlimited", arg);
        e.n = (uint32_t)v;
    } else {
        if (rate_value(arg, &v, &per) < 0 || v > 100000000 || (v && (per < 1 || per > 30 * DAY)))
            return bad(why, whylen, "not a rate (e.g. 600/h, 83/10m or unlimited)", arg);
        e.rate.count = v;
        e.rate.period = v ? (uint32_t)per : 0;
        e.rate.set = 1;
    }
    for (i = 0; i < ls->n; i++)
        if (memcmp(&ls->l[i].cidr, &e.cidr, sizeof(e.cidr)) == 0)
            break;
    if (i == CFG_SRCIP_MAX)
        return bad(why, whylen, "more than 4 CIDRs", value);
    ls->l[i] = e;
    if (i == ls->n)
        ls->n++;
    return 0;
}

/* "SIZE/[M]{s|m|h|d}": parse_rate on "1/[M]unit" gives the period. */
int cfg_apply_volume_rate(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                          void *base, char *why, size_t whylen)
{
    const char *slash = strchr(value, '/');
    char size[64], per[64];
    uint64_t bytes, one, period;

    if (strcasecmp(value, "unlimited") == 0 || strcmp(value, "0") == 0)
        return set_rate(d, base, 0, 0, value, why, whylen);
    if (slash == NULL || (size_t)(slash - value) >= sizeof(size)
        || snprintf(per, sizeof(per), "1%s", slash) >= (int)sizeof(per))
        return bad(why, whylen, "not a volume rate (e.g. 100M/h or unlimited)", value);
    memcpy(size, value, (size_t)(slash - value));
    size[slash - value] = '\0';
    if (parse_size(size, &bytes) < 0 || bytes == 0 || rate_value(per, &one, &period) < 0)
        return bad(why, whylen, "not a volume rate (e.g. 100M/h or unlimited)", value);
    return set_rate(d, base, bytes, period, value, why, whylen);
}

/* An interval list like retry-after's, at d->off, its count right after. */
int cfg_apply_interval_list(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                            void *base, char *why, size_t whylen)
{
    uint32_t *list = (uint32_t *)((char *)base + d->off);
    uint32_t tmp[CFG_RETRY_MAX], n = 0;
    const char *cur = value;
    char item[64];
    uint64_t v;
    size_t len;

    do {
        cur += strspn(cur, " \t");
        len = strcspn(cur, ",");
        while (len > 0 && isblank((unsigned char)cur[len - 1]))
            len--;
        if (n == CFG_RETRY_MAX)
            return bad(why, whylen, "more than 30 intervals", value);
        if (len == 0 || len >= sizeof(item))
            return bad(why, whylen, "not a list of time intervals (e.g. 30m,1h,2h)", value);
        memcpy(item, cur, len);
        item[len] = '\0';
        if (parse_interval(item, &v) < 0 || v < 1 || v > 30 * DAY)
            return bad(why, whylen, "intervals must be between 1s and 30d", value);
        tmp[n++] = (uint32_t)v;
        cur += strcspn(cur, ",");
        if (*cur == ',')
            cur++;
        else
            break;
    } while (1);
    memcpy(list, tmp, n * sizeof(tmp[0]));
    list[CFG_RETRY_MAX] = n;    /* the count follows the array (checked in config_table.c) */
    return 0;
}

int cfg_apply_interval_never(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                             void *base, char *why, size_t whylen)
{
    uint32_t *out = (uint32_t *)((char *)base + d->off);
    uint64_t v;

    if (strcasecmp(value, "never") == 0) {
        *out = 0;
        return 0;
    }
    if (parse_interval(value, &v) < 0 || v < 1 || v > 30 * DAY)
        return bad(why, whylen, "not an interval between 1s and 30d, or never", value);
    *out = (uint32_t)v;
    return 0;
}

int cfg_apply_smtp_list_ref(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                            void *base, char *why, size_t whylen)
{
    char *out = (char *)base + d->off;

    if (!cfg_name_ok(value) || strlen(value) >= d->size)
        return bad(why, whylen, "not a valid name", value);
    if (p != NULL && cfg_ref_add(p, REF_SMTP_LIST, d->name, value) < 0)
        return bad(why, whylen, "too many references (or no memory)", value);
    memcpy(out, value, strlen(value) + 1);
    return 0;
}

int cfg_smtp_list_block(struct cfg_parser *p, const char *arg, struct cfg_block *b, char *why,
                        size_t whylen)
{
    struct config *cfg = p->cfg;
    struct smtp_pattern_list **slot, *l;
    char q[160];

    cfg_quote(q, sizeof(q), arg);
    if (!cfg_name_ok(arg) || strlen(arg) >= SMTP_PATTERN_NAME_MAX)
        return snprintf(why, whylen, "not a valid name: '%s'", q), -1;
    if (config_find_smtp_list(cfg, arg) != NULL)
        return snprintf(why, whylen, "a list of that name exists already: '%s'", q), -1;
    l = smtp_patterns_new(arg);
    if (l == NULL)
        return snprintf(why, whylen, "out of memory: '%s'", q), -1;
    slot = cfg_array_add(&cfg->smtp_lists, &cfg->nsmtp_lists, sizeof(*slot), CFG_SMTP_LISTS_MAX);
    if (slot == NULL) {
        smtp_patterns_free(l);
        return snprintf(why, whylen, "too many <smtp-pattern-list> blocks (or no memory): '%s'", q), -1;
    }
    *slot = l;
    b->index = cfg->nsmtp_lists - 1;
    return 0;
}

int cfg_apply_smtp_reply(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                         void *base, char *why, size_t whylen)
{
    struct smtp_pattern_list *l;
    char reason[512];

    if (p == NULL || p->nstack == 0)
        return snprintf(why, whylen, "only inside <smtp-pattern-list>"), -1;
    l = p->cfg->smtp_lists[p->stack[p->nstack - 1].index];
    if (smtp_patterns_add(l, value, reason, sizeof(reason)) < 0)
        return bad(why, whylen, reason, value);
    return 0;
}

static struct cfg_vmta *top_vmta(struct cfg_parser *p)
{
    if (p == NULL || p->nstack == 0 || p->stack[p->nstack - 1].scope != CS_VMTA)
        return NULL;
    return &p->cfg->vmtas[p->stack[p->nstack - 1].index];
}

/* warmup_list - "50,100,500" into tmp (CFG_WARMUP_MAX); the count, or -1. */
static int warmup_list(const char *value, uint32_t *tmp, char *why, size_t whylen)
{
    uint32_t n = 0;
    const char *cur = value;
    char item[32];
    uint64_t x;
    size_t len;

    for (;;) {
        cur += strspn(cur, " \t");
        len = strcspn(cur, ",");
        while (len > 0 && isblank((unsigned char)cur[len - 1]))
            len--;
        if (n == CFG_WARMUP_MAX)
            return bad(why, whylen, "more than 120 steps", value);
        if (len == 0 || len >= sizeof(item))
            return bad(why, whylen, "not a list of daily counts (e.g. 50,100,500)", value);
        memcpy(item, cur, len);
        item[len] = '\0';
        if (parse_u64(item, 1, 100000000, &x) < 0)
            return bad(why, whylen, "daily counts must be between 1 and 100000000", value);
        tmp[n++] = (uint32_t)x;
        cur += strcspn(cur, ",");
        if (*cur != ',')
            break;
        cur++;
    }
    return (int)n;
}

int cfg_apply_warmup_schedule(struct cfg_parser *p, const struct cfg_directive *d,
                              const char *value, void *base, char *why, size_t whylen)
{
    struct cfg_vmta *v = top_vmta(p);
    uint32_t tmp[CFG_WARMUP_MAX];
    int n;

    if (v == NULL)
        return bad(why, whylen, "only inside <virtual-mta>", value);
    if ((n = warmup_list(value, tmp, why, whylen)) < 0)
        return -1;
    memcpy(v->warmup, tmp, (size_t)n * sizeof(tmp[0]));
    v->nwarmup = (uint32_t)n;
    return 0;
}

int cfg_apply_warmup_plan(struct cfg_parser *p, const struct cfg_directive *d,
                          const char *value, void *base, char *why, size_t whylen)
{
    struct cfg_warmup_plan *w = (struct cfg_warmup_plan *)((char *)base + d->off);
    uint32_t tmp[CFG_WARMUP_MAX];
    int n;

    if (strcasecmp(value, "none") == 0) {
        w->n = 0;               /* a more specific block lifts a wider one's plan */
        return 0;
    }
    if ((n = warmup_list(value, tmp, why, whylen)) < 0)
        return -1;
    memcpy(w->day, tmp, (size_t)n * sizeof(tmp[0]));
    w->n = (uint32_t)n;
    return 0;
}

/* days_from_civil - days since 1970-01-01 of y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int cfg_apply_warmup_start(struct cfg_parser *p, const struct cfg_directive *d,
                           const char *value, void *base, char *why, size_t whylen)
{
    struct cfg_vmta *v = top_vmta(p);
    static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    unsigned y = 0, m = 0, dd = 0;
    size_t i;

    if (v == NULL)
        return bad(why, whylen, "only inside <virtual-mta>", value);
    for (i = 0; i < 10 && value[i]; i++)
        if ((i == 4 || i == 7) ? value[i] != '-' : !isdigit((unsigned char)value[i]))
            break;
    if (i == 10 && value[10] == '\0') {
        y = (unsigned)((value[0] - '0') * 1000 + (value[1] - '0') * 100 + (value[2] - '0') * 10
                       + (value[3] - '0'));
        m = (unsigned)((value[5] - '0') * 10 + (value[6] - '0'));
        dd = (unsigned)((value[8] - '0') * 10 + (value[9] - '0'));
    }
    if (y < 2000 || y > 2200 || m < 1 || m > 12 || dd < 1 || dd > mdays[m - 1]
        || (m == 2 && dd == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)))
        return bad(why, whylen, "not a date YYYY-MM-DD", value);
    v->warmup_start_day = days_from_civil(y, m, dd);
    return 0;
}

int cfg_apply_warmup_overflow(struct cfg_parser *p, const struct cfg_directive *d,
                              const char *value, void *base, char *why, size_t whylen)
{
    struct cfg_vmta *v = top_vmta(p);

    if (v == NULL)
        return bad(why, whylen, "only inside <virtual-mta>", value);
    if (!cfg_name_ok(value) || strlen(value) >= sizeof(v->warmup_overflow))
        return bad(why, whylen, "not a virtual-mta name", value);
    if (strcasecmp(value, v->name) == 0)
        return bad(why, whylen, "a virtual MTA cannot overflow into itself", value);
    if (cfg_ref_add(p, REF_VMTA, d->name, value) < 0)
        return bad(why, whylen, "out of memory", value);
    snprintf(v->warmup_overflow, sizeof(v->warmup_overflow), "%s", value);
    return 0;
}

int cfg_apply_hold_domain(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                          void *base, char *why, size_t whylen)
{
    struct config *cfg = p->cfg;
    char (*slot)[CFG_NAME_MAX];

    if (!cfg_domain_pattern_ok(value) || strlen(value) >= CFG_NAME_MAX)
        return bad(why, whylen, "not a domain pattern", value);
    slot = cfg_array_add(&cfg->hold_domains, &cfg->nhold_domains, sizeof(*slot), CFG_HOLD_MAX);
    if (slot == NULL)
        return bad(why, whylen, "too many hold-domain lines (or no memory)", value);
    snprintf(*slot, sizeof(*slot), "%s", value);
    return 0;
}

const struct smtp_pattern_list *config_find_smtp_list(const struct config *cfg, const char *name)
{
    size_t i;

    if (name == NULL || name[0] == '\0')
        return NULL;
    for (i = 0; i < cfg->nsmtp_lists; i++)
        if (strcasecmp(cfg->smtp_lists[i]->name, name) == 0)
            return cfg->smtp_lists[i];
    return NULL;
}

int config_is_held_domain(const struct config *cfg, const char *domain)
{
    size_t i;

    for (i = 0; i < cfg->nhold_domains; i++)
        if (config_domain_match(cfg->hold_domains[i], domain))
            return 1;
    return 0;
}

void cfg_shaping_free(struct config *cfg)
{
    size_t i;

    for (i = 0; i < cfg->nsmtp_lists; i++)
        smtp_patterns_free(cfg->smtp_lists[i]);
    free(cfg->smtp_lists);
    free(cfg->hold_domains);
    free(cfg->conn_limits);
}
