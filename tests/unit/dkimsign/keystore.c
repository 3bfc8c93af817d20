/* Unit tests: dkimsign's key store (dkimsign/keystore.c): a key that
 * fails to load is kept with its error and retried later; a reload keeps
 * a removed key for the grace period only; a key held by a request in
 * flight survives the reload that drops it; a file dropped into
 * dkim-key-dir is loaded on first request; `*` keys serve any domain. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "../../../dkimsign/dkimsign.h"
#include "log.h"

static char dir[] = "/tmp/dkim_keystore_test.XXXXXX";

static const char *path(const char *name)
{
    static char p[4][512];
    static int i;

    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
    return p[i];
}

static struct config *load(const char *text)
{
    struct config *cfg;
    char err[512];
    FILE *fp = fopen(path("c.conf"), "w");

    fprintf(fp, "run-dir %s\nlog-file %s/log\n%s", dir, dir, text);
    fclose(fp);
    if (config_load(path("c.conf"), &cfg, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    return cfg;
}

static void keygen(const char *name, enum dkim_alg alg)
{
    struct dkim_key *k;
    char err[512];

    assert_int_equal(dkim_key_generate(alg, 1024, path(name), &k, err, sizeof(err)), 0);
    dkim_key_free(k);
}

static int setup(void **state)
{
    log_init("keystore_test");
    if (mkdtemp(dir) == NULL)
        return -1;
    keygen("a.pem", DKIM_ALG_RSA_SHA256);
    keygen("b.pem", DKIM_ALG_ED25519_SHA256);
    log_open_file(path("log"));
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_load_retire_hold(void **state)
{
    struct config *c1 = load("domain-key a,example.com,a.pem\n"
                             "domain-key b,example.com,b.pem,ed25519\n"
                             "domain-key late,example.com,late.pem\n"
                             "domain-key w,*,a.pem\n"
                             "domain-key t,example.com,b.pem\n");   /* wrong type */
    struct config *c2 = load("domain-key b,example.com,b.pem,ed25519\n");
    struct keystore ks1 = { 0 }, ks2 = { 0 }, ks3 = { 0 };
    struct ks_key *a, *k;
    time_t t0 = 1000000;

    assert_int_equal(keystore_load(&ks1, c1, NULL, t0), 2);
    a = keystore_find(&ks1, c1, "example.com", "a", DKIM_ALG_RSA_SHA256, t0);
    assert_non_null(a);
    assert_non_null(a->key);
    k = keystore_find(&ks1, c1, "example.com", "late", DKIM_ALG_RSA_SHA256, t0);
    assert_null(k->key);
    assert_non_null(strstr(k->error, "late.pem: missing"));
    k = keystore_find(&ks1, c1, "example.com", "t", DKIM_ALG_RSA_SHA256, t0);
    assert_non_null(strstr(k->error, "wrong type (ed25519 key; expected rsa)"));
    assert_null(keystore_find(&ks1, c1, "example.com", "a", DKIM_ALG_ED25519_SHA256, t0));
    assert_null(keystore_find(&ks1, c1, "example.org", "a", DKIM_ALG_RSA_SHA256, t0));
    k = keystore_find(&ks1, c1, "any.example.org", "w", DKIM_ALG_RSA_SHA256, t0);
    assert_non_null(k);
    assert_non_null(k->key);

    /* The file appears: retried after KS_RETRY_AFTER, not before. */
    keygen("late.pem", DKIM_ALG_RSA_SHA256);
    k = keystore_find(&ks1, c1, "example.com", "late", DKIM_ALG_RSA_SHA256, t0 + 1);
    assert_null(k->key);
    k = keystore_find(&ks1, c1, "example.com", "late", DKIM_ALG_RSA_SHA256, t0 + KS_RETRY_AFTER);
    assert_non_null(k->key);

    /* A request holds a; the reload drops a from the configuration. */
    ks_key_hold(a);
    assert_int_equal(keystore_load(&ks2, c2, &ks1, t0 + 10), 0);
    keystore_free(&ks1);
    assert_ptr_equal(keystore_find(&ks2, c2, "example.com", "a", DKIM_ALG_RSA_SHA256, t0 + 20), a);
    assert_int_equal(a->retired, t0 + 10);
    assert_int_equal(a->refs, 2);               /* ks2 + the request */
    assert_null(keystore_find(&ks2, c2, "example.com", "a", DKIM_ALG_RSA_SHA256,
                              t0 + 10 + KS_RETIRE_GRACE));
    /* After the grace period a reload forgets it; the request's reference
     * keeps the key usable until it is released. */
    assert_int_equal(keystore_load(&ks3, c2, &ks2, t0 + 10 + KS_RETIRE_GRACE), 0);
    keystore_free(&ks2);
    assert_int_equal(ks3.n, 1);
    assert_int_equal(a->refs, 1);
    assert_non_null(a->key);
    ks_key_release(a);
    keystore_free(&ks3);
    config_free(c1);
    config_free(c2);
}

static void test_key_dir_lazy(void **state)
{
    struct config *c;
    struct keystore ks = { 0 };
    struct ks_key *k;
    char text[700];

    assert_int_equal(mkdir(path("kd"), 0755), 0);
    assert_int_equal(mkdir(path("kd/example.net"), 0755), 0);
    snprintf(text, sizeof(text), "dkim-key-dir %s\n", path("kd"));
    c = load(text);
    assert_int_equal(keystore_load(&ks, c, NULL, 1), 0);
    assert_int_equal(ks.n, 0);
    assert_null(keystore_find(&ks, c, "example.net", "n1", DKIM_ALG_ED25519_SHA256, 2));
    keygen("kd/example.net/n1.ed25519.pem", DKIM_ALG_ED25519_SHA256);
    k = keystore_find(&ks, c, "example.net", "n1", DKIM_ALG_ED25519_SHA256, 3);
    assert_non_null(k);
    assert_non_null(k->key);
    assert_null(keystore_find(&ks, c, "example.net", "n1", DKIM_ALG_RSA_SHA256, 3));
    keystore_free(&ks);
    config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_retire_hold),
        cmocka_unit_test(test_key_dir_lazy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
