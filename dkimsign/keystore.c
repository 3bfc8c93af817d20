/*
 * keystore - dkimsign's loaded keys, by (domain, selector, algorithm).
 *
 * Lifetime: a key is reference-counted.  The store holds one reference; a
 * sign request in the thread pool holds another, so a reload that drops
 * the key frees it only when the last request using it has finished
 * ("in-flight requests finish with the key they started with").  Counts
 * are touched only on the loop thread.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkimsign.h"
#include "log.h"

void ks_key_hold(struct ks_key *k)
{
    k->refs++;
}

void ks_key_release(struct ks_key *k)
{
    if (k == NULL || --k->refs > 0)
        return;
    dkim_key_free(k->key);
    free(k);
}

static struct ks_key *store_get(struct keystore *ks, const char *domain, const char *selector,
                                enum dkim_alg alg)
{
    size_t i;

    for (i = 0; i < ks->n; i++) {
        struct ks_key *k = ks->keys[i];
        if (k->alg == alg && strcasecmp(k->domain, domain) == 0
            && strcasecmp(k->selector, selector) == 0)
            return k;
    }
    return NULL;
}

static int store_add(struct keystore *ks, struct ks_key *k)
{
    if (ks->n == ks->cap) {
        size_t ncap = ks->cap ? ks->cap * 2 : 16;
        struct ks_key **a = realloc(ks->keys, ncap * sizeof(*a));
        if (a == NULL)
            return -1;
        ks->keys = a;
        ks->cap = ncap;
    }
    ks->keys[ks->n++] = k;
    return 0;
}

/* key_load - (re)read k's file; the error is logged and kept. */
static void key_load(struct ks_key *k, time_t now)
{
    struct dkim_key *nk;

    k->tried = now;
    if (dkim_key_load(k->path, k->alg, &nk, k->error, sizeof(k->error)) < 0) {
        msg_error("DKIM key %s._domainkey.%s (%s): %s", k->selector, k->domain,
                  dkim_alg_keytype(k->alg), k->error);
        return;
    }
    dkim_key_free(k->key);
    k->key = nk;
    k->error[0] = '\0';
    msg_info("DKIM key %s._domainkey.%s loaded: %s %u bits from %s", k->selector, k->domain,
             dkim_alg_keytype(k->alg), dkim_key_bits(nk), k->path);
}

struct load_ctx {
    struct keystore *ks;
    time_t now;
    size_t failed;
};

static struct ks_key *key_new(const struct dkim_key_ref *r)
{
    struct ks_key *k = calloc(1, sizeof(*k));

    if (k == NULL)
        return NULL;
    memcpy(k->domain, r->domain, sizeof(k->domain));
    memcpy(k->selector, r->selector, sizeof(k->selector));
    memcpy(k->path, r->path, sizeof(k->path));
    k->alg = r->alg;
    k->refs = 1;
    return k;
}

static void load_one(const struct dkim_key_ref *r, const char *where, void *arg)
{
    struct load_ctx *c = arg;
    struct ks_key *k = store_get(c->ks, r->domain, r->selector, r->alg);

    if (k != NULL) {
        /* One selector of one domain has one public key in DNS, so two
         * files for it must be the same key: the first one is used. */
        if (strcmp(k->path, r->path) != 0)
            msg_warn("DKIM key %s._domainkey.%s (%s, %s) is also configured as %s; using %s",
                     r->selector, r->domain, dkim_alg_keytype(r->alg), where, r->path, k->path);
        return;
    }
    if ((k = key_new(r)) == NULL || store_add(c->ks, k) < 0)
        msg_fatal("out of memory");
    key_load(k, c->now);
    if (k->key == NULL)
        c->failed++;
}

size_t keystore_load(struct keystore *ks, const struct config *cfg, struct keystore *old,
                     time_t now)
{
    struct load_ctx c = { ks, now, 0 };
    size_t i;

    dkim_keys_each(cfg, load_one, &c);
    for (i = 0; old != NULL && i < old->n; i++) {
        struct ks_key *k = old->keys[i];
        if (store_get(ks, k->domain, k->selector, k->alg) != NULL || k->key == NULL)
            continue;
        if (k->retired == 0)
            k->retired = now;
        if (now - k->retired >= KS_RETIRE_GRACE)
            continue;
        ks_key_hold(k);
        if (store_add(ks, k) < 0)
            msg_fatal("out of memory");
        msg_info("DKIM key %s._domainkey.%s (%s) removed from the configuration; still "
                 "signing for %d s", k->selector, k->domain, dkim_alg_keytype(k->alg),
                 KS_RETIRE_GRACE);
    }
    return c.failed;
}

struct ks_key *keystore_find(struct keystore *ks, const struct config *cfg, const char *domain,
                             const char *selector, enum dkim_alg alg, time_t now)
{
    struct dkim_key_ref r;
    struct ks_key *k = store_get(ks, domain, selector, alg);

    if (k == NULL)
        k = store_get(ks, "*", selector, alg);
    if (k != NULL && k->retired != 0 && now - k->retired >= KS_RETIRE_GRACE)
        return NULL;
    if (k == NULL) {
        /* A file dropped into dkim-key-dir since the last load. */
        if (cfg->dkim_key_dir[0] == '\0' || !dkim_keys_known(cfg, domain, selector, alg, &r)
            || (k = key_new(&r)) == NULL)
            return NULL;
        if (store_add(ks, k) < 0) {
            ks_key_release(k);
            return NULL;
        }
        key_load(k, now);
        return k;
    }
    if (k->key == NULL && now - k->tried >= KS_RETRY_AFTER)
        key_load(k, now);
    return k;
}

void keystore_free(struct keystore *ks)
{
    size_t i;

    for (i = 0; i < ks->n; i++)
        ks_key_release(ks->keys[i]);
    free(ks->keys);
    memset(ks, 0, sizeof(*ks));
}
