/*
 * config_route - the routing part of the configuration (issue 3):
 * <pattern-list> blocks and their rules, the <source> directives that
 * point at them and at headers, domain-macro and `<domain $NAME>`,
 * queue-to, invalid-virtual-mta-fallback; and the checks that need the
 * whole file (macro expansion and loops, queue-to targets).
 *
 * Called by the parser through the directive table (config_table.c) and
 * by config_load (cfg_route_finish).  What the daemons do with these
 * settings: smtpd/route_vmta.c (X-Virtual-MTA, X-Job, pattern lists),
 * qmgr/route.c (queue-to, pools).  docs/routing.md explains precedence.
 *
 * DIAGNOSTICS (config_load's one line):
 *   FILE:LINE: domain-macro: loop: a -> b -> a
 *   FILE:LINE: domain-macro a: no such macro: '$x'
 *   FILE:LINE: <domain>: no such domain-macro: '$x'
 *   FILE:LINE: queue-to: <domain q> must give smtp-hosts: 'q'
 */
#include "config_table.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MACRO_DEPTH 16

static int bad(char *why, size_t whylen, const char *reason, const char *value)
{
    char q[160];

    cfg_quote(q, sizeof(q), value);
    snprintf(why, whylen, "%s: '%s'", reason, q);
    return -1;
}

__attribute__((format(printf, 2, 3)))
static int route_fail(struct cfg_parser *p, const char *fmt, ...)
{
    va_list ap;

    if (!p->failed && p->errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
    }
    p->failed = 1;
    return -1;
}

/* copy_name - a CT_NAME-like value into the entry's field of base. */
static int copy_name(const struct cfg_directive *d, const char *value, void *base, char *why,
                     size_t whylen)
{
    if (!cfg_name_ok(value) || strlen(value) >= d->size)
        return bad(why, whylen, "not a valid name", value);
    snprintf((char *)base + d->off, d->size, "%s", value);
    return 0;
}

const struct pattern_list *config_find_pattern_list(const struct config *cfg, const char *name)
{
    size_t i;

    for (i = 0; name != NULL && i < cfg->npattern_lists; i++)
        if (strcasecmp(cfg->pattern_lists[i].pl.name, name) == 0)
            return &cfg->pattern_lists[i].pl;
    return NULL;
}

int config_vmta_exists(const struct config *cfg, const char *name)
{
    return name != NULL && (strcmp(name, "{default}") == 0 || config_find_vmta(cfg, name) != NULL
                            || config_find_pool(cfg, name) != NULL);
}

int cfg_pattern_list_block(struct cfg_parser *p, const char *arg, size_t *index, char *why,
                           size_t whylen)
{
    struct config *cfg = p->cfg;
    struct cfg_pattern_list *l;
    size_t i;

    if (!cfg_name_ok(arg) || strlen(arg) >= PL_NAME_MAX)
        return bad(why, whylen, "not a valid name", arg);
    for (i = 0; i < cfg->npattern_lists; i++)
        if (strcasecmp(cfg->pattern_lists[i].pl.name, arg) == 0) {
            char r[PATH_MAX + 64];
            snprintf(r, sizeof(r), "name already used at %s:%d", cfg->pattern_lists[i].file,
                     cfg->pattern_lists[i].line);
            return bad(why, whylen, r, arg);
        }
    l = cfg_array_add(&cfg->pattern_lists, &cfg->npattern_lists, sizeof(*l),
                      CFG_PATTERN_LISTS_MAX);
    if (l == NULL)
        return bad(why, whylen, "too many <pattern-list> blocks (or no memory)", arg);
    snprintf(l->pl.name, sizeof(l->pl.name), "%s", arg);
    snprintf(l->file, sizeof(l->file), "%s", p->file);
    l->line = p->line;
    *index = cfg->npattern_lists - 1;
    return 0;
}

int cfg_apply_pattern_rule(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                           void *base, char *why, size_t whylen)
{
    struct pattern_list *pl = &p->cfg->pattern_lists[p->stack[p->nstack - 1].index].pl;
    enum pl_kind kind = strcmp(d->name, "header") == 0 ? PL_HEADER
                        : strcmp(d->name, "mail-from") == 0 ? PL_MAIL_FROM : PL_RCPT_TO;
    struct pl_rule *r;

    if (pattern_list_add(pl, kind, value, why, whylen) < 0)
        return -1;
    r = &pl->rules[pl->nrules - 1];
    r->line = p->line;
    r->file = p->file;
    if (cfg_ref_add(p, REF_VMTA_OR_POOL, "virtual-mta=", r->vmta) < 0)
        return bad(why, whylen, "too many names to check (or no memory)", value);
    return 0;
}

int cfg_apply_pattern_list_ref(struct cfg_parser *p, const struct cfg_directive *d,
                               const char *value, void *base, char *why, size_t whylen)
{
    if (copy_name(d, value, base, why, whylen) < 0)
        return -1;
    if (p != NULL && cfg_ref_add(p, REF_PATTERN_LIST, d->name, value) < 0)
        return bad(why, whylen, "too many names to check (or no memory)", value);
    return 0;
}

int cfg_apply_vmta_fallback(struct cfg_parser *p, const struct cfg_directive *d,
                            const char *value, void *base, char *why, size_t whylen)
{
    if (copy_name(d, value, base, why, whylen) < 0)
        return -1;
    if (p != NULL && cfg_ref_add(p, REF_VMTA_OR_POOL, d->name, value) < 0)
        return bad(why, whylen, "too many names to check (or no memory)", value);
    return 0;
}

int cfg_apply_header_name(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                          void *base, char *why, size_t whylen)
{
    size_t i, n = strlen(value);

    if (n == 0 || n >= d->size)
        return bad(why, whylen, "not a header name", value);
    for (i = 0; i < n; i++)
        if (value[i] <= 32 || value[i] >= 127 || value[i] == ':')
            return bad(why, whylen, "not a header name", value);
    snprintf((char *)base + d->off, d->size, "%s", value);
    return 0;
}

int cfg_apply_queue_to(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                       void *base, char *why, size_t whylen)
{
    if (!cfg_host_ok(value) || strlen(value) >= d->size)
        return bad(why, whylen, "not a queue name (a domain-like name)", value);
    snprintf((char *)base + d->off, d->size, "%s", value);
    return 0;
}

static struct cfg_macro *find_macro(struct config *cfg, const char *name)
{
    size_t i;

    for (i = 0; i < cfg->nmacros; i++)
        if (strcasecmp(cfg->macros[i].name, name) == 0)
            return &cfg->macros[i];
    return NULL;
}

int cfg_apply_domain_macro(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                           void *base, char *why, size_t whylen)
{
    struct config *cfg = p->cfg;
    struct cfg_macro *m, *old;
    char name[CFG_NAME_MAX], item[CFG_NAME_MAX];
    const char *s;
    size_t n;

    n = strcspn(value, " \t");
    if (n == 0 || n >= sizeof(name))
        return bad(why, whylen, "expected NAME DOMAIN,DOMAIN,...", value);
    memcpy(name, value, n);
    name[n] = '\0';
    if (!cfg_name_ok(name) || strchr(name, '$') != NULL)
        return bad(why, whylen, "not a valid macro name", name);
    s = value + n;
    s += strspn(s, " \t");
    if (*s == '\0')
        return bad(why, whylen, "expected NAME DOMAIN,DOMAIN,...", value);
    old = find_macro(cfg, name);
    if (old != NULL) {
        char r[PATH_MAX + 64];
        snprintf(r, sizeof(r), "macro already defined at %s:%d", old->file, old->line);
        return bad(why, whylen, r, name);
    }
    m = cfg_array_add(&cfg->macros, &cfg->nmacros, sizeof(*m), CFG_MACROS_MAX);
    if (m == NULL)
        return bad(why, whylen, "too many macros (or no memory)", name);
    snprintf(m->name, sizeof(m->name), "%s", name);
    snprintf(m->file, sizeof(m->file), "%s", p->file);
    m->line = p->line;
    while (*s != '\0') {
        char (*slot)[CFG_NAME_MAX];
        n = strcspn(s, ", \t");
        if (n == 0 || n >= sizeof(item))
            return bad(why, whylen, "empty or too long list item", s);
        memcpy(item, s, n);
        item[n] = '\0';
        s += n;
        s += strspn(s, ", \t");
        if (item[0] == '$' ? !cfg_name_ok(item + 1) : !cfg_domain_pattern_ok(item))
            return bad(why, whylen, "not a domain pattern or $MACRO", item);
        slot = cfg_array_add(&m->items, &m->nitems, CFG_NAME_MAX, CFG_MACRO_ITEMS_MAX);
        if (slot == NULL)
            return bad(why, whylen, "too many items (or no memory)", item);
        snprintf(*slot, CFG_NAME_MAX, "%s", item);
    }
    return 0;
}

/* expand - append macro m's domains (recursively) to top's list; path
 * holds the macros being expanded, for loop detection. */
static int expand(struct cfg_parser *p, struct cfg_macro *top, struct cfg_macro *m,
                  struct cfg_macro **path, int depth)
{
    size_t i;
    int k;

    for (k = 0; k < depth; k++)
        if (path[k] == m) {
            char chain[1024];
            size_t o = 0;
            for (int j = 0; j < depth && o < sizeof(chain); j++)
                o += (size_t)snprintf(chain + o, sizeof(chain) - o, "%s -> ", path[j]->name);
            if (o < sizeof(chain))
                snprintf(chain + o, sizeof(chain) - o, "%s", m->name);
            return route_fail(p, "%s:%d: domain-macro: loop: %s", top->file, top->line, chain);
        }
    if (depth >= MACRO_DEPTH)
        return route_fail(p, "%s:%d: domain-macro %s: nested deeper than %d", top->file,
                          top->line, top->name, MACRO_DEPTH);
    path[depth] = m;
    for (i = 0; i < m->nitems; i++) {
        const char *it = m->items[i];
        if (it[0] == '$') {
            struct cfg_macro *sub = find_macro(p->cfg, it + 1);
            if (sub == NULL)
                return route_fail(p, "%s:%d: domain-macro %s: no such macro: '%s'", m->file,
                                  m->line, m->name, it);
            if (expand(p, top, sub, path, depth + 1) < 0)
                return -1;
            continue;
        }
        char (*slot)[CFG_NAME_MAX] = cfg_array_add(&top->domains, &top->ndomains, CFG_NAME_MAX,
                                                   CFG_MACRO_ITEMS_MAX);
        if (slot == NULL)
            return route_fail(p, "%s:%d: domain-macro %s: more than %d domains (or no memory)",
                              top->file, top->line, top->name, CFG_MACRO_ITEMS_MAX);
        snprintf(*slot, CFG_NAME_MAX, "%s", it);
    }
    return 0;
}

/* attach - resolve the "$NAME" <domain> blocks of one list. */
static int attach(struct cfg_parser *p, struct cfg_domain *list, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        struct cfg_macro *m;
        if (list[i].pattern[0] != '$')
            continue;
        m = find_macro(p->cfg, list[i].pattern + 1);
        if (m == NULL) {
            char q[160];
            cfg_quote(q, sizeof(q), list[i].pattern);
            return route_fail(p, "%s:%d: <domain>: no such domain-macro: '%s'", list[i].file,
                              list[i].line, q);
        }
        list[i].macro = (size_t)(m - p->cfg->macros) + 1;
    }
    return 0;
}

/* check_queue_to - a queue-to target needs smtp-hosts: the shared queue
 * has no one destination domain whose MX could be used (PowerMTA has the
 * same rule).  owner is the vmta or pool the blocks belong to, or NULL. */
static int check_queue_to(struct cfg_parser *p, const struct cfg_domain *list, size_t n,
                          const char *owner)
{
    struct cfg_domain_settings t;
    size_t i;

    for (i = 0; i < n; i++) {
        const char *q = list[i].s.queue_to;
        if (q[0] == '\0')
            continue;
        config_domain_settings(p->cfg, owner, q, &t);
        if (t.route[0] == '\0')
            return route_fail(p, "%s:%d: queue-to: <domain %s> must give smtp-hosts (route): '%s'",
                              list[i].file, list[i].line, q, q);
        if (t.queue_to[0] != '\0' && strcasecmp(t.queue_to, q) != 0)
            return route_fail(p, "%s:%d: queue-to: chains are not supported (%s has queue-to %s)",
                              list[i].file, list[i].line, q, t.queue_to);
    }
    return 0;
}

int cfg_route_finish(struct cfg_parser *p, char *err, size_t errlen)
{
    struct config *cfg = p->cfg;
    struct cfg_macro *path[MACRO_DEPTH];
    size_t i;

    (void)err;
    (void)errlen;
    for (i = 0; i < cfg->nmacros; i++)
        if (expand(p, &cfg->macros[i], &cfg->macros[i], path, 0) < 0)
            return -1;
    if (attach(p, cfg->domains, cfg->ndomains) < 0)
        return -1;
    for (i = 0; i < cfg->nvmtas; i++)
        if (attach(p, cfg->vmtas[i].domains, cfg->vmtas[i].ndomains) < 0)
            return -1;
    for (i = 0; i < cfg->npools; i++)
        if (attach(p, cfg->pools[i].domains, cfg->pools[i].ndomains) < 0)
            return -1;
    if (check_queue_to(p, cfg->domains, cfg->ndomains, NULL) < 0)
        return -1;
    for (i = 0; i < cfg->nvmtas; i++)
        if (check_queue_to(p, cfg->vmtas[i].domains, cfg->vmtas[i].ndomains,
                           cfg->vmtas[i].name) < 0)
            return -1;
    for (i = 0; i < cfg->npools; i++)
        if (check_queue_to(p, cfg->pools[i].domains, cfg->pools[i].ndomains,
                           cfg->pools[i].name) < 0)
            return -1;
    /* the rules' file pointers are the parser's and die with it */
    for (i = 0; i < cfg->npattern_lists; i++)
        for (size_t k = 0; k < cfg->pattern_lists[i].pl.nrules; k++)
            cfg->pattern_lists[i].pl.rules[k].file = NULL;
    return 0;
}

int cfg_apply_rollup_mx(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                        void *base, char *why, size_t whylen)
{
    struct config *cfg = p->cfg;
    struct cfg_rollup *r;
    char mx[CFG_NAME_MAX], name[CFG_NAME_MAX], extra[64];
    int n;

    extra[0] = '\0';
    n = sscanf(value, "%255s %255s %63s", mx, name, extra);
    if (n < 2)
        return bad(why, whylen, "expected MX-PATTERN NAME", value);
    if (n == 3)
        return bad(why, whylen, strcmp(extra, "rollup-by-ip") == 0
                   ? "not supported yet (Courser matches MX host names)" : "unexpected word", extra);
    if (mx[0] == '[' || !cfg_domain_pattern_ok(mx))
        return bad(why, whylen, "not a host name or *.suffix pattern", mx);
    if (!cfg_host_ok(name))
        return bad(why, whylen, "not a queue name (a domain-like name)", name);
    r = cfg_array_add(&cfg->rollups, &cfg->nrollups, sizeof(*r), CFG_ROLLUPS_MAX);
    if (r == NULL)
        return bad(why, whylen, "too many mx lines (or no memory)", value);
    snprintf(r->mx, sizeof(r->mx), "%s", mx);
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->file, sizeof(r->file), "%s", p->file);
    r->line = p->line;
    return 0;
}

const char *config_mx_rollup(const struct config *cfg, const char *mx_host)
{
    size_t i;

    for (i = 0; mx_host != NULL && mx_host[0] != '\0' && i < cfg->nrollups; i++)
        if (config_domain_match(cfg->rollups[i].mx, mx_host))
            return cfg->rollups[i].name;
    return NULL;
}

void cfg_route_free(struct config *cfg)
{
    size_t i;

    free(cfg->rollups);
    for (i = 0; i < cfg->npattern_lists; i++)
        pattern_list_free(&cfg->pattern_lists[i].pl);
    free(cfg->pattern_lists);
    for (i = 0; i < cfg->nmacros; i++) {
        free(cfg->macros[i].items);
        free(cfg->macros[i].domains);
    }
    free(cfg->macros);
}
