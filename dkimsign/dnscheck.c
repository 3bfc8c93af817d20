/*
 * dnscheck - `dkim-check-dns yes`: after dkimsign loads its keys (start,
 * reload), look up each key's TXT record and log whether it publishes
 * that key (issue 5: a key mismatched with DNS is reported at load).
 *
 * lib/dns_txt.c blocks, so the look-ups run in libuv's thread pool - all
 * keys in one job, one after the other: c-ares' process-wide
 * initialisation is not thread-safe, and a handful of keys does not need
 * parallel queries.  The job holds a reference on every key it checks
 * (keystore.c), so a reload meanwhile frees nothing under it.  Results
 * are only logged: DNS legitimately lags a rotation (publish, wait, then
 * configure), so a mismatch never stops signing.  Wildcard (`*`) keys
 * have no fixed d= and are not checked.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "dkimsign.h"
#include "dns_txt.h"
#include "log.h"

#define CHECK_TIMEOUT_MS 5000
#define RESULT_MAX 768

struct dnscheck {
    uv_work_t work;
    char server[64];
    uint16_t port;
    size_t n;
    struct ks_key **keys;
    char (*result)[RESULT_MAX];
    int *ok;
    void (*done)(void *);
    void *arg;
};

/* say - the verdict line; a long one is cut (it is only logged). */
static void say(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *out, size_t outlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(out, outlen, fmt, ap);
    va_end(ap);
}

/* check_key - one key against its published records (worker thread). */
static int check_key(const struct dnscheck *c, const struct ks_key *k, char *out, size_t outlen)
{
    struct dns_txt_result *r = calloc(1, sizeof(*r));
    char name[DKIM_SELECTOR_MAX + DKIM_DOMAIN_MAX + 16], err[512], why[512] = "";
    enum dns_txt_status st;
    size_t i;

    snprintf(name, sizeof(name), "%s._domainkey.%s", k->selector, k->domain);
    if (r == NULL)
        return say(out, outlen, "%s: out of memory", name), 0;
    st = dns_txt_lookup(c->server, c->port, name, CHECK_TIMEOUT_MS, r, err, sizeof(err));
    if (st != DNS_TXT_OK) {
        if (st == DNS_TXT_NONE)
            say(out, outlen, "%s (%s, %s): not published in DNS: %s", name,
                dkim_alg_keytype(k->alg), k->path, err);
        else
            say(out, outlen, "%s: not checked against DNS: %s", name, err);
        free(r);
        return 0;
    }
    for (i = 0; i < r->n; i++) {
        if (dkim_key_check_txt(k->key, r->rec[i], why, sizeof(why)) == 0) {
            say(out, outlen, "%s (%s, %s): matches its DNS record", name,
                     dkim_alg_keytype(k->alg), k->path);
            free(r);
            return 1;
        }
    }
    say(out, outlen, "%s (%s, %s): DNS does not publish this key: %s", name,
             dkim_alg_keytype(k->alg), k->path, why[0] ? why : "no DKIM record");
    free(r);
    return 0;
}

static void check_work(uv_work_t *w)
{
    struct dnscheck *c = w->data;
    size_t i;

    for (i = 0; i < c->n; i++)
        c->ok[i] = check_key(c, c->keys[i], c->result[i], RESULT_MAX);
}

static void check_done(uv_work_t *w, int status)
{
    struct dnscheck *c = w->data;
    char esc[RESULT_MAX * 2];
    size_t i;

    for (i = 0; i < c->n; i++) {
        /* The text may quote DNS data: escape it for the log. */
        log_escape(esc, sizeof(esc), c->result[i], strlen(c->result[i]));
        if (status != 0)
            msg_warn("DKIM key %s: DNS check cancelled", c->keys[i]->selector);
        else if (c->ok[i])
            msg_info("DKIM key %s", esc);
        else
            msg_error("DKIM key %s", esc);
        ks_key_release(c->keys[i]);
    }
    c->done(c->arg);
    free(c->keys);
    free(c->result);
    free(c->ok);
    free(c);
}

int dnscheck_start(uv_loop_t *loop, const struct config *cfg, struct keystore *ks,
                   void (*done)(void *), void *arg)
{
    struct dnscheck *c = calloc(1, sizeof(*c));
    size_t i;

    if (c == NULL)
        return -1;
    c->keys = calloc(ks->n ? ks->n : 1, sizeof(*c->keys));
    c->result = calloc(ks->n ? ks->n : 1, sizeof(*c->result));
    c->ok = calloc(ks->n ? ks->n : 1, sizeof(*c->ok));
    if (c->keys == NULL || c->result == NULL || c->ok == NULL)
        goto fail;
    snprintf(c->server, sizeof(c->server), "%s", cfg->dns_server_ip);
    c->port = cfg->dns_server_port;
    for (i = 0; i < ks->n; i++) {
        struct ks_key *k = ks->keys[i];
        if (k->key == NULL || k->retired != 0 || strcmp(k->domain, "*") == 0)
            continue;
        ks_key_hold(k);
        c->keys[c->n++] = k;
    }
    if (c->n == 0) {
        free(c->keys);
        free(c->result);
        free(c->ok);
        free(c);
        return 0;
    }
    c->done = done;
    c->arg = arg;
    c->work.data = c;
    if (uv_queue_work(loop, &c->work, check_work, check_done) != 0) {
        for (i = 0; i < c->n; i++)
            ks_key_release(c->keys[i]);
        goto fail;
    }
    return 1;
fail:
    free(c->keys);
    free(c->result);
    free(c->ok);
    free(c);
    return -1;
}
