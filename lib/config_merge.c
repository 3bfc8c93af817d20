/*
 * config_merge - the look-ups daemons make on a loaded config: merged
 * <source> settings for a client, merged <domain> settings for a queue,
 * virtual MTA / pool by name, domain patterns, relay domains; and the
 * built-in defaults (the table's def texts, applied once).
 *
 * Merging copies only the settings a block actually wrote (its set bits),
 * so a specific block that sets max-smtp-out keeps the general block's
 * retry-after.  Order, general to specific:
 *   <source>: defaults, IP blocks by prefix length (shorter first), then
 *             the listener's named source;
 *   <domain>: defaults, global blocks, then the vmta's pool's, then the
 *             vmta's own; within each, by suffix length, then
 *             [*.]x < *.x < x for the same suffix; file order breaks ties
 *             (later wins).
 */
#include "config_table.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static struct cfg_source_settings source_def;
static struct cfg_domain_settings domain_def;
static pthread_once_t defaults_once = PTHREAD_ONCE_INIT;

void cfg_apply_defaults(enum cfg_store store, void *base)
{
    char why[512];
    size_t i;

    for (i = 0; i < cfg_table_len; i++) {
        const struct cfg_directive *d = &cfg_table[i];
        if (d->store != store || d->def == NULL
            || (d->flags & (CDF_DEF_TEXT | CDF_UNSUPPORTED)))
            continue;
        if (cfg_table_apply(NULL, d, d->def, base, why, sizeof(why)) < 0)
            msg_panic("config table: default of %s: %s", d->name, why);
    }
}

static void defaults_init(void)
{
    cfg_apply_defaults(CST_SOURCE, &source_def);
    cfg_apply_defaults(CST_DOMAIN, &domain_def);
}

const struct cfg_source_settings *cfg_source_defaults(void)
{
    (void)pthread_once(&defaults_once, defaults_init);
    return &source_def;
}

const struct cfg_domain_settings *cfg_domain_defaults(void)
{
    (void)pthread_once(&defaults_once, defaults_init);
    return &domain_def;
}

/* copy_set - the settings of from whose bits are in set, into to. */
static void copy_set(enum cfg_store store, uint64_t set, void *to, const void *from)
{
    size_t i;

    for (i = 0; i < cfg_table_len && set != 0; i++) {
        const struct cfg_directive *d = &cfg_table[i];
        if (d->store == store && (set & (1ULL << d->bit)))
            memcpy((char *)to + d->off, (const char *)from + d->off, d->size);
    }
}

/* sort_keys - stable insertion sort of idx[] by key[] (matches are few). */
static void sort_keys(uint16_t *idx, unsigned *key, size_t n)
{
    size_t i, j;

    for (i = 1; i < n; i++) {
        uint16_t x = idx[i];
        unsigned k = key[i];
        for (j = i; j > 0 && key[j - 1] > k; j--) {
            idx[j] = idx[j - 1];
            key[j] = key[j - 1];
        }
        idx[j] = x;
        key[j] = k;
    }
}

void config_source_settings(const struct config *cfg, const struct sockaddr *peer,
                            const char *listener_source, struct cfg_source_settings *out)
{
    uint16_t idx[CFG_SOURCES_MAX];
    unsigned key[CFG_SOURCES_MAX];
    size_t i, n = 0;

    *out = *cfg_source_defaults();
    for (i = 0; peer != NULL && i < cfg->nsources && n < CFG_SOURCES_MAX; i++) {
        const struct cfg_source *s = &cfg->sources[i];
        if (!s->is_cidr || !cidr_match(&s->cidr, peer))
            continue;
        idx[n] = (uint16_t)i;
        /* IPv4 ranges also match IPv4-mapped IPv6 peers: compare as /96+. */
        key[n++] = s->cidr.family == AF_INET ? s->cidr.prefix + 96 : s->cidr.prefix;
    }
    sort_keys(idx, key, n);
    for (i = 0; i < n; i++)
        copy_set(CST_SOURCE, cfg->sources[idx[i]].set, out, &cfg->sources[idx[i]].s);
    if (listener_source == NULL || listener_source[0] == '\0')
        return;
    for (i = 0; i < cfg->nsources; i++) {
        const struct cfg_source *s = &cfg->sources[i];
        if (!s->is_cidr && strcasecmp(s->name, listener_source) == 0)
            copy_set(CST_SOURCE, s->set, out, &s->s);
    }
}

/* pattern_key - specificity of a matching pattern (higher = more). */
static unsigned pattern_key(const char *pattern)
{
    if (strcmp(pattern, "*") == 0)
        return 0;
    if (strncmp(pattern, "[*.]", 4) == 0)
        return (unsigned)strlen(pattern + 4) * 4 + 1;
    if (strncmp(pattern, "*.", 2) == 0)
        return (unsigned)strlen(pattern + 2) * 4 + 2;
    return (unsigned)strlen(pattern) * 4 + 3;
}

/* block_key - whether block b matches domain, and how specifically.  A
 * `<domain $MACRO>` matches as its most specific matching item, but an
 * explicitly written pattern of the same specificity beats it (PowerMTA
 * notes §1.1): keys are doubled, explicit ones get +1. */
static int block_key(const struct config *cfg, const struct cfg_domain *b, const char *domain,
                     unsigned *key)
{
    const struct cfg_macro *m;
    size_t i;
    int hit = 0;

    if (b->macro == 0) {
        if (!config_domain_match(b->pattern, domain))
            return 0;
        *key = pattern_key(b->pattern) * 2 + 1;
        return 1;
    }
    if (cfg == NULL || b->macro > cfg->nmacros)
        return 0;
    m = &cfg->macros[b->macro - 1];
    for (i = 0; i < m->ndomains; i++) {
        unsigned k = pattern_key(m->domains[i]) * 2;
        if (config_domain_match(m->domains[i], domain) && (!hit || k > *key)) {
            *key = k;
            hit = 1;
        }
    }
    return hit;
}

/* merge_domains - apply the matching blocks of one list, general first. */
static void merge_domains(const struct config *cfg, const struct cfg_domain *list, size_t count,
                          const char *domain, struct cfg_domain_settings *out)
{
    uint16_t idx[CFG_DOMAINS_MAX];
    unsigned key[CFG_DOMAINS_MAX];
    size_t i, n = 0;

    for (i = 0; i < count && n < CFG_DOMAINS_MAX; i++) {
        if (!block_key(cfg, &list[i], domain, &key[n]))
            continue;
        idx[n++] = (uint16_t)i;
    }
    sort_keys(idx, key, n);
    for (i = 0; i < n; i++)
        copy_set(CST_DOMAIN, list[idx[i]].set, out, &list[idx[i]].s);
}

/* pool_has - whether pool lists vmta name as a member. */
static int pool_has(const struct cfg_pool *pool, const char *name)
{
    size_t i;

    for (i = 0; i < pool->nmembers; i++)
        if (strcasecmp(pool->members[i], name) == 0)
            return 1;
    return 0;
}

void config_domain_settings(const struct config *cfg, const char *vmta, const char *domain,
                            struct cfg_domain_settings *out)
{
    const struct cfg_vmta *v;
    const struct cfg_pool *pool;
    size_t i;

    *out = *cfg_domain_defaults();
    if (domain == NULL)
        return;
    merge_domains(cfg, cfg->domains, cfg->ndomains, domain, out);
    if (vmta == NULL || vmta[0] == '\0')
        return;
    v = config_find_vmta(cfg, vmta);
    if (v == NULL) {
        /* A pool name: its blocks apply as they would to a member. */
        pool = config_find_pool(cfg, vmta);
        if (pool != NULL)
            merge_domains(cfg, pool->domains, pool->ndomains, domain, out);
        return;
    }
    /* At most one pool of v has <domain> blocks (checked at load). */
    for (i = 0; i < cfg->npools; i++)
        if (cfg->pools[i].ndomains > 0 && pool_has(&cfg->pools[i], v->name))
            merge_domains(cfg, cfg->pools[i].domains, cfg->pools[i].ndomains, domain, out);
    merge_domains(cfg, v->domains, v->ndomains, domain, out);
}

const struct cfg_vmta *config_find_vmta(const struct config *cfg, const char *name)
{
    size_t i;

    if (name == NULL)
        return NULL;
    for (i = 0; i < cfg->nvmtas; i++)
        if (strcasecmp(cfg->vmtas[i].name, name) == 0)
            return &cfg->vmtas[i];
    return NULL;
}

const struct cfg_pool *config_find_pool(const struct config *cfg, const char *name)
{
    size_t i;

    if (name == NULL)
        return NULL;
    for (i = 0; i < cfg->npools; i++)
        if (strcasecmp(cfg->pools[i].name, name) == 0)
            return &cfg->pools[i];
    return NULL;
}

/* suffix_match - domain (dlen) ends with "." + x (xlen). */
static int suffix_match(const char *domain, size_t dlen, const char *x, size_t xlen)
{
    return dlen > xlen + 1 && domain[dlen - xlen - 1] == '.'
           && strncasecmp(domain + dlen - xlen, x, xlen) == 0;
}

int config_domain_match(const char *pattern, const char *domain)
{
    size_t dlen, plen;

    if (pattern == NULL || domain == NULL || domain[0] == '\0')
        return 0;
    dlen = strlen(domain);
    if (dlen > 1 && domain[dlen - 1] == '.')
        dlen--;                 /* "example.com." is example.com */
    if (strcmp(pattern, "*") == 0)
        return 1;
    if (strncmp(pattern, "*.", 2) == 0)
        return suffix_match(domain, dlen, pattern + 2, strlen(pattern + 2));
    if (strncmp(pattern, "[*.]", 4) == 0) {
        plen = strlen(pattern + 4);
        return (dlen == plen && strncasecmp(domain, pattern + 4, plen) == 0)
               || suffix_match(domain, dlen, pattern + 4, plen);
    }
    plen = strlen(pattern);
    return dlen == plen && strncasecmp(domain, pattern, plen) == 0;
}

int config_is_relay_domain(const struct config *cfg, const char *domain)
{
    size_t i;

    for (i = 0; i < cfg->nrelay_domains; i++)
        if (config_domain_match(cfg->relay_domains[i], domain))
            return 1;
    return 0;
}
