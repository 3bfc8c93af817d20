/*
 * dkimsign - the DKIM signing daemon (issue 5): the only process that can
 * read private keys.  keystore.c holds the loaded keys, server.c the
 * loop and the sign requests, dnscheck.c the optional DNS check of the
 * keys, cli.c the operator modes (--sign-file, --keygen, --txt).
 */
#ifndef COURSER_DKIMSIGN_H
#define COURSER_DKIMSIGN_H

#include <limits.h>
#include <time.h>
#include <uv.h>
#include "config.h"
#include "dkim_key.h"
#include "dkim_keys.h"

/* Keys dropped from the configuration by a reload stay usable this long,
 * for smtp-out processes that have not reloaded yet. */
#define KS_RETIRE_GRACE 600
/* A key that failed to load is tried again on demand after this long. */
#define KS_RETRY_AFTER 30

struct ks_key {
    char domain[DKIM_DOMAIN_MAX];       /* "*" for a wildcard key */
    char selector[DKIM_SELECTOR_MAX];
    enum dkim_alg alg;
    char path[PATH_MAX];
    struct dkim_key *key;               /* NULL: failed, see error */
    char error[512];
    time_t tried;                       /* last load attempt */
    time_t retired;                     /* 0 = in the configuration */
    unsigned refs;                      /* the store's + requests in flight */
};

struct keystore {
    struct ks_key **keys;
    size_t n, cap;
};

/* Load every key cfg names into ks (empty on entry); keys of old that cfg
 * no longer names are carried over as retired (grace period).  Returns
 * the number of keys that failed to load (each is logged). */
size_t keystore_load(struct keystore *ks, const struct config *cfg, struct keystore *old,
                     time_t now);
/* The key for a request, or NULL if not configured.  May load a key-dir
 * key added since the last load, and retries a failed one.  The caller
 * takes a reference (ks_key_hold) for work that outlives the call. */
struct ks_key *keystore_find(struct keystore *ks, const struct config *cfg, const char *domain,
                             const char *selector, enum dkim_alg alg, time_t now);
void keystore_free(struct keystore *ks);
void ks_key_hold(struct ks_key *k);
void ks_key_release(struct ks_key *k);

/* log_inherited: the log file is stderr, opened by master (a reload does
 * not reopen it: dkim-user may not be able to). */
int dkimsign_run(const char *conf_path, struct config *cfg, int listen_fd, int log_inherited);

/* dnscheck.c (dkim-check-dns): look up every loaded key's TXT record in
 * the thread pool and log the verdicts.  1: queued, done(arg) runs when
 * it has finished; 0: nothing to check; -1: out of memory. */
int dnscheck_start(uv_loop_t *loop, const struct config *cfg, struct keystore *ks,
                   void (*done)(void *), void *arg);

int cli_sign_file(int argc, char **argv);
int cli_keygen(int argc, char **argv);
int cli_txt(int argc, char **argv);

#endif
