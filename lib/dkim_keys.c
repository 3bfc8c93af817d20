/*
 * dkim_keys - key selection from the configuration (see dkim_keys.h):
 * used by smtp-out to plan a message's signatures and by dkimsign to know
 * which keys to load and which requests to refuse.
 */
#include "dkim_keys.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define ED_SUFFIX ".ed25519.pem"

/* key_dir_name - selector and type from a key-dir file name. */
static int key_dir_name(const char *name, char *sel, size_t sellen, enum dkim_alg *alg)
{
    size_t n = strlen(name), e = strlen(ED_SUFFIX), i;

    if (n > e && strcmp(name + n - e, ED_SUFFIX) == 0) {
        n -= e;
        *alg = DKIM_ALG_ED25519_SHA256;
    } else if (n > 4 && strcmp(name + n - 4, ".pem") == 0) {
        n -= 4;
        *alg = DKIM_ALG_RSA_SHA256;
    } else {
        return -1;
    }
    if (n == 0 || n >= sellen || name[0] == '.')
        return -1;
    for (i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z')
              || (name[i] >= '0' && name[i] <= '9') || name[i] == '-' || name[i] == '_'
              || name[i] == '.'))
            return -1;
    memcpy(sel, name, n);
    sel[n] = '\0';
    return 0;
}

/* domain_ok - a directory name that can be a d= domain. */
static int domain_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n >= DKIM_DOMAIN_MAX || s[0] == '.' || strstr(s, "..") != NULL)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'
              || s[i] == '.' || s[i] == '_'))
            return 0;
    return 1;
}

/* ref_set - fill a key reference. */
static int ref_set(struct dkim_key_ref *r, const char *domain, const char *selector,
                   enum dkim_alg alg, const char *dir, const char *file)
{
    int n;

    if (strlen(domain) >= sizeof(r->domain) || strlen(selector) >= sizeof(r->selector))
        return -1;
    memcpy(r->domain, domain, strlen(domain) + 1);
    memcpy(r->selector, selector, strlen(selector) + 1);
    r->alg = alg;
    n = dir ? snprintf(r->path, sizeof(r->path), "%s/%s", dir, file)
            : snprintf(r->path, sizeof(r->path), "%s", file);
    return n < 0 || (size_t)n >= sizeof(r->path) ? -1 : 0;
}

/* from_list - the first key per allowed algorithm in keys[] for exactly
 * domain want ("*" included), as d=identity (for "*") or the key's domain. */
static size_t from_list(const struct cfg_domain_key *keys, size_t nkeys, const char *want,
                        const char *identity, unsigned algs, struct dkim_key_ref *out,
                        size_t max)
{
    size_t i, n = 0;
    unsigned have = 0;

    for (i = 0; i < nkeys && n < max; i++) {
        unsigned a = (unsigned)keys[i].alg;
        if (!(algs & a) || (have & a) || strcasecmp(keys[i].domain, want) != 0)
            continue;
        if (ref_set(&out[n], strcmp(want, "*") == 0 ? identity : keys[i].domain,
                    keys[i].selector, (enum dkim_alg)a, NULL, keys[i].path) == 0) {
            have |= a;
            n++;
        }
    }
    return n;
}

/* from_dir - the newest DIR/want/SELECTOR[.ed25519].pem per algorithm. */
static size_t from_dir(const char *dir, const char *want, unsigned algs,
                       struct dkim_key_ref *out, size_t max)
{
    char path[PATH_MAX], sel[DKIM_SELECTOR_MAX], best[2][256];
    struct timespec bt[2];
    struct dirent *e;
    struct stat st;
    enum dkim_alg alg;
    size_t n = 0;
    int i;
    DIR *d;

    if (snprintf(path, sizeof(path), "%s/%s", dir, want) >= (int)sizeof(path)
        || (d = opendir(path)) == NULL)
        return 0;
    best[0][0] = best[1][0] = '\0';
    while ((e = readdir(d)) != NULL) {
        if (key_dir_name(e->d_name, sel, sizeof(sel), &alg) < 0 || !(algs & (unsigned)alg)
            || strlen(e->d_name) >= sizeof(best[0])
            || fstatat(dirfd(d), e->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
            continue;
        i = alg == DKIM_ALG_ED25519_SHA256;
        if (best[i][0] == '\0' || st.st_mtim.tv_sec > bt[i].tv_sec
            || (st.st_mtim.tv_sec == bt[i].tv_sec && (st.st_mtim.tv_nsec > bt[i].tv_nsec
                || (st.st_mtim.tv_nsec == bt[i].tv_nsec && strcmp(e->d_name, best[i]) > 0)))) {
            memcpy(best[i], e->d_name, strlen(e->d_name) + 1);
            bt[i] = st.st_mtim;
        }
    }
    closedir(d);
    for (i = 0; i < 2 && n < max; i++) {
        if (best[i][0] == '\0')
            continue;
        (void)key_dir_name(best[i], sel, sizeof(sel), &alg);
        if (ref_set(&out[n], want, sel, alg, path, best[i]) == 0)
            n++;
    }
    return n;
}

/* scope_find - identity domain, its parents, then "*", in one scope. */
static size_t scope_find(const struct cfg_domain_key *keys, size_t nkeys, const char *dir,
                         const char *domain, unsigned algs, struct dkim_key_ref *out,
                         size_t max)
{
    const char *c = domain;
    size_t n;

    while (c != NULL && strchr(c, '.') != NULL) {
        n = dir ? from_dir(dir, c, algs, out, max)
                : from_list(keys, nkeys, c, domain, algs, out, max);
        if (n > 0)
            return n;
        c = strchr(c, '.') + 1;
    }
    return dir ? 0 : from_list(keys, nkeys, "*", domain, algs, out, max);
}

static int pool_has(const struct cfg_pool *pool, const char *name)
{
    size_t i;

    for (i = 0; i < pool->nmembers; i++)
        if (strcasecmp(pool->members[i], name) == 0)
            return 1;
    return 0;
}

size_t dkim_keys_find(const struct config *cfg, const char *vmta, const char *domain,
                      unsigned algs, struct dkim_key_ref *out, size_t max)
{
    const struct cfg_vmta *v = NULL;
    const struct cfg_pool *pool;
    size_t i, n;

    if (domain == NULL || !domain_ok(domain) || strchr(domain, '.') == NULL || max == 0)
        return 0;
    if (vmta != NULL && vmta[0] != '\0') {
        v = config_find_vmta(cfg, vmta);
        if (v != NULL && (n = scope_find(v->keys, v->nkeys, NULL, domain, algs, out, max)) > 0)
            return n;
        pool = v == NULL ? config_find_pool(cfg, vmta) : NULL;
        if (pool != NULL
            && (n = scope_find(pool->keys, pool->nkeys, NULL, domain, algs, out, max)) > 0)
            return n;
        for (i = 0; v != NULL && i < cfg->npools; i++)
            if (pool_has(&cfg->pools[i], v->name)
                && (n = scope_find(cfg->pools[i].keys, cfg->pools[i].nkeys, NULL, domain,
                                   algs, out, max)) > 0)
                return n;
    }
    if ((n = scope_find(cfg->domain_keys, cfg->ndomain_keys, NULL, domain, algs, out, max)) > 0)
        return n;
    if (cfg->dkim_key_dir[0] != '\0')
        return scope_find(NULL, 0, cfg->dkim_key_dir, domain, algs, out, max);
    return 0;
}

/* identity_split - i= and its domain from "@d" or "l@d". */
static int identity_split(const char *id, struct dkim_plan *plan)
{
    const char *at = strrchr(id, '@');
    size_t i;

    if (at == NULL || strlen(at + 1) >= sizeof(plan->identity_domain)
        || strlen(id) >= sizeof(plan->identity))
        return -1;
    memcpy(plan->identity, id, strlen(id) + 1);
    for (i = 0; at[1 + i] != '\0'; i++)
        plan->identity_domain[i] = (char)((at[1 + i] >= 'A' && at[1 + i] <= 'Z')
                                          ? at[1 + i] + 32 : at[1 + i]);
    plan->identity_domain[i] = '\0';
    return 0;
}

int dkim_plan_message(const struct config *cfg, const char *vmta,
                      const struct cfg_domain_settings *ds, const struct dkim_headers *h,
                      struct dkim_plan *plan, char *err, size_t errlen)
{
    unsigned algs = ds->dkim_algorithms ? ds->dkim_algorithms : DKIM_ALG_ALL;
    int have_id;

    memset(plan, 0, sizeof(*plan));
    if (ds->dkim_identity[0] != '\0')
        have_id = identity_split(ds->dkim_identity, plan) == 0;
    else
        have_id = dkim_identity_domain(h, plan->identity_domain,
                                       sizeof(plan->identity_domain)) == 0;
    if (have_id)
        plan->nkeys = dkim_keys_find(cfg, vmta, plan->identity_domain, algs, plan->keys,
                                     DKIM_SIGS_MAX);
    if (plan->nkeys == 0 && ds->dkim_identity_fallback[0] != '\0') {
        memset(plan, 0, sizeof(*plan));
        if (identity_split(ds->dkim_identity_fallback, plan) < 0)
            return snprintf(err, errlen, "bad dkim-identity-fallback"), -1;
        plan->nkeys = dkim_keys_find(cfg, vmta, plan->identity_domain, algs, plan->keys,
                                     DKIM_SIGS_MAX);
        return (int)plan->nkeys;
    }
    if (!have_id)
        return snprintf(err, errlen, "no signing identity (no usable Sender or From address)"), -1;
    return (int)plan->nkeys;
}

void dkim_plan_params(const struct dkim_plan *plan, size_t i,
                      const struct cfg_domain_settings *ds, time_t now,
                      struct dkim_sig_params *sp)
{
    memset(sp, 0, sizeof(*sp));
    sp->domain = plan->keys[i].domain;
    sp->selector = plan->keys[i].selector;
    sp->alg = plan->keys[i].alg;
    sp->hcanon = ds->dkim_canon[0] ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
    sp->bcanon = ds->dkim_canon[1] ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
    sp->identity = plan->identity;
    sp->extra_headers = ds->dkim_headers;
    sp->oversign = ds->dkim_oversign;
    if (ds->dkim_add_timestamp || ds->dkim_expire_after > 0) {
        sp->timestamp = now;
        sp->expire_after = ds->dkim_expire_after;
    }
}

/* each_list - report every key of one scope. */
static void each_list(const struct cfg_domain_key *keys, size_t n, const char *where,
                      dkim_keys_fn fn, void *arg)
{
    struct dkim_key_ref r;
    size_t i;

    for (i = 0; i < n; i++)
        if (ref_set(&r, keys[i].domain, keys[i].selector, (enum dkim_alg)keys[i].alg, NULL,
                    keys[i].path) == 0)
            fn(&r, where, arg);
}

void dkim_keys_each(const struct config *cfg, dkim_keys_fn fn, void *arg)
{
    char path[PATH_MAX], sel[DKIM_SELECTOR_MAX];
    struct dirent *e, *f;
    struct dkim_key_ref r;
    enum dkim_alg alg;
    DIR *top, *d;
    size_t i;

    each_list(cfg->domain_keys, cfg->ndomain_keys, "global", fn, arg);
    for (i = 0; i < cfg->nvmtas; i++)
        each_list(cfg->vmtas[i].keys, cfg->vmtas[i].nkeys, cfg->vmtas[i].name, fn, arg);
    for (i = 0; i < cfg->npools; i++)
        each_list(cfg->pools[i].keys, cfg->pools[i].nkeys, cfg->pools[i].name, fn, arg);
    if (cfg->dkim_key_dir[0] == '\0' || (top = opendir(cfg->dkim_key_dir)) == NULL)
        return;
    while ((e = readdir(top)) != NULL) {
        if (!domain_ok(e->d_name)
            || snprintf(path, sizeof(path), "%s/%s", cfg->dkim_key_dir, e->d_name)
                   >= (int)sizeof(path)
            || (d = opendir(path)) == NULL)
            continue;
        while ((f = readdir(d)) != NULL)
            if (key_dir_name(f->d_name, sel, sizeof(sel), &alg) == 0
                && ref_set(&r, e->d_name, sel, alg, path, f->d_name) == 0)
                fn(&r, "dkim-key-dir", arg);
        closedir(d);
    }
    closedir(top);
}

/* known_list - key (domain or "*", selector, alg) in one scope. */
static int known_list(const struct cfg_domain_key *keys, size_t n, const char *domain,
                      const char *selector, enum dkim_alg alg, struct dkim_key_ref *out)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (keys[i].alg == (int)alg && strcasecmp(keys[i].selector, selector) == 0
            && (strcasecmp(keys[i].domain, domain) == 0 || strcmp(keys[i].domain, "*") == 0))
            return ref_set(out, domain, selector, alg, NULL, keys[i].path) == 0;
    return 0;
}

int dkim_keys_known(const struct config *cfg, const char *domain, const char *selector,
                    enum dkim_alg alg, struct dkim_key_ref *out)
{
    char dir[PATH_MAX], name[DKIM_SELECTOR_MAX + 16], sel[DKIM_SELECTOR_MAX];
    enum dkim_alg got;
    struct stat st;
    size_t i;

    if (!domain_ok(domain))
        return 0;
    if (known_list(cfg->domain_keys, cfg->ndomain_keys, domain, selector, alg, out))
        return 1;
    for (i = 0; i < cfg->nvmtas; i++)
        if (known_list(cfg->vmtas[i].keys, cfg->vmtas[i].nkeys, domain, selector, alg, out))
            return 1;
    for (i = 0; i < cfg->npools; i++)
        if (known_list(cfg->pools[i].keys, cfg->pools[i].nkeys, domain, selector, alg, out))
            return 1;
    if (cfg->dkim_key_dir[0] == '\0' || strchr(selector, '/') != NULL || selector[0] == '.'
        || strlen(selector) >= DKIM_SELECTOR_MAX)
        return 0;
    snprintf(name, sizeof(name), "%s%s", selector,
             alg == DKIM_ALG_ED25519_SHA256 ? ED_SUFFIX : ".pem");
    /* The name must read back as this selector and type (so "s1.ed25519"
     * cannot be asked for as an RSA selector, nor "../x" at all). */
    if (key_dir_name(name, sel, sizeof(sel), &got) < 0 || got != alg
        || strcmp(sel, selector) != 0)
        return 0;
    if (snprintf(dir, sizeof(dir), "%s/%s", cfg->dkim_key_dir, domain) >= (int)sizeof(dir))
        return 0;
    return ref_set(out, domain, selector, alg, dir, name) == 0 && stat(out->path, &st) == 0
           && S_ISREG(st.st_mode);
}
