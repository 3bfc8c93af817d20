/*
 * dkim_keys - which DKIM keys sign a message, from the configuration
 * alone (smtp-out cannot read the key files, only their names):
 * `domain-key` lines of the virtual MTA (win), of its pool, global ones,
 * then `dkim-key-dir` DIR/DOMAIN/SELECTOR[.ed25519].pem.
 *
 * Rule (docs/dkim.md): the identity domain is tried, then each parent
 * (a.b.example.com, b.example.com, example.com; never a bare TLD), then
 * `*` keys; in the first scope and domain that has keys, the first key of
 * each allowed algorithm signs - so an RSA and an Ed25519 key for one
 * domain give two signatures.  In the key dir the newest file (mtime) of
 * each type wins: dropping in a new selector rotates at once.
 */
#ifndef COURSER_DKIM_KEYS_H
#define COURSER_DKIM_KEYS_H

#include <limits.h>
#include <stddef.h>
#include "config.h"
#include "dkim_key.h"
#include "dkim_sign.h"

#define DKIM_SIGS_MAX 2         /* one per algorithm */

struct dkim_key_ref {
    char domain[DKIM_DOMAIN_MAX];       /* d= (the identity's own domain for `*`) */
    char selector[DKIM_SELECTOR_MAX];   /* s= */
    enum dkim_alg alg;
    char path[PATH_MAX];
};

/* Keys for identity domain `domain` via vmta (a vmta or pool name, or
 * NULL/"" for global only) restricted to the algs mask.  Returns how many
 * were written to out (0..max). */
size_t dkim_keys_find(const struct config *cfg, const char *vmta, const char *domain,
                      unsigned algs, struct dkim_key_ref *out, size_t max);

/* Everything about one message's signatures that the configuration
 * decides, from its merged <domain> settings ds: the identity (headers or
 * dkim-identity, then dkim-identity-fallback), i=, and the keys.
 * Returns the number of keys (0 = nothing to sign with: see
 * ds->dkim_fail_action), or -1 with err when the message has no usable
 * identity. */
struct dkim_plan {
    size_t nkeys;
    struct dkim_key_ref keys[DKIM_SIGS_MAX];
    char identity[CFG_NAME_MAX];        /* i= value, "" for none */
    char identity_domain[DKIM_DOMAIN_MAX];
};
int dkim_plan_message(const struct config *cfg, const char *vmta,
                      const struct cfg_domain_settings *ds, const struct dkim_headers *h,
                      struct dkim_plan *plan, char *err, size_t errlen);

/* Signature parameters for key i of a plan (pointers into plan and ds);
 * now is the signing time (t=, x=). */
void dkim_plan_params(const struct dkim_plan *plan, size_t i,
                      const struct cfg_domain_settings *ds, time_t now,
                      struct dkim_sig_params *sp);

/* Call fn for every key the configuration names (all scopes, and every
 * DIR/DOMAIN/SELECTOR[.ed25519].pem of dkim-key-dir) - what dkimsign
 * loads.  The same (domain, selector) may be reported more than once. */
typedef void (*dkim_keys_fn)(const struct dkim_key_ref *ref, const char *where, void *arg);
void dkim_keys_each(const struct config *cfg, dkim_keys_fn fn, void *arg);

/* Whether the configuration (any scope or the key dir) has this key:
 * what dkimsign checks before it signs.  1, 0. */
int dkim_keys_known(const struct config *cfg, const char *domain, const char *selector,
                    enum dkim_alg alg, struct dkim_key_ref *out);

#endif
