/* Unit tests: the DKIM directives (lib/config_dkim.c) and key selection
 * (lib/dkim_keys.c): vmta keys win over pool and global ones, parents of
 * the identity domain, `*` keys, one key per algorithm, the algorithm
 * filter, dkim-key-dir (newest file per type), identity and fallback,
 * merged <domain> settings, and the load errors of each directive. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>
#include "config.h"
#include "dkim_keys.h"

static char dir[] = "/tmp/dkim_keys_test.XXXXXX";

static const char *path(const char *name)
{
    static char p[4][512];
    static int i;

    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
    return p[i];
}

static void write_file(const char *name, const char *text)
{
    FILE *fp = fopen(path(name), "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static struct config *load(const char *text)
{
    struct config *cfg = NULL;
    char err[1024];

    write_file("c.conf", text);
    if (config_load(path("c.conf"), &cfg, err, sizeof(err)) < 0)
        fail_msg("config_load: %s", err);
    return cfg;
}

static void expect_err(const char *text, const char *want)
{
    struct config *cfg = NULL;
    char err[1024];

    write_file("c.conf", text);
    assert_int_equal(config_load(path("c.conf"), &cfg, err, sizeof(err)), -1);
    if (strstr(err, want) == NULL)
        fail_msg("error '%s', expected '%s'", err, want);
}

static int setup(void **state)
{
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char conf1[] =
    "domain-key g1,example.com,keys/g1.pem\n"
    "domain-key g2,example.com,keys/g2.pem,ed25519\n"
    "domain-key g3,example.com,keys/g3.pem\n"          /* second RSA: not used */
    "domain-key w,*,keys/w.pem\n"
    "<virtual-mta v1>\n"
    "  domain-key v1,sub.example.com,/abs/v1.pem\n"
    "</virtual-mta>\n"
    "<virtual-mta v2>\n"
    "</virtual-mta>\n"
    "<virtual-mta-pool p>\n"
    "  virtual-mta v2\n"
    "  domain-key p1,example.com,p1.pem,ed25519\n"
    "</virtual-mta-pool>\n"
    "<domain *>\n"
    "  dkim-sign yes\n"
    "  dkim-canonicalization relaxed/simple\n"
    "  dkim-headers X-Campaign, List-Id\n"
    "</domain>\n"
    "<domain gmail.com>\n"
    "  dkim-algorithm ed25519-sha256\n"
    "  dkim-identity @bounce.example.com\n"
    "  dkim-expire-after 7d\n"
    "  dkim-fail-action send-unsigned\n"
    "  dkim-disallow-adding-headers no\n"
    "</domain>\n";

static void test_find(void **state)
{
    struct config *cfg = load(conf1);
    struct dkim_key_ref r[2];
    size_t n;

    /* Global: the first RSA and the first Ed25519 of the exact domain. */
    n = dkim_keys_find(cfg, NULL, "example.com", DKIM_ALG_ALL, r, 2);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].selector, "g1");
    assert_int_equal(r[0].alg, DKIM_ALG_RSA_SHA256);
    assert_string_equal(r[0].path, path("keys/g1.pem"));
    assert_string_equal(r[1].selector, "g2");
    assert_string_equal(r[1].domain, "example.com");
    /* A subdomain uses the parent's keys, d= the parent. */
    n = dkim_keys_find(cfg, NULL, "a.b.example.com", DKIM_ALG_RSA_SHA256, r, 2);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].selector, "g1");
    assert_string_equal(r[0].domain, "example.com");
    /* vmta v1's own key wins for sub.example.com ... */
    n = dkim_keys_find(cfg, "v1", "x.sub.example.com", DKIM_ALG_ALL, r, 2);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].selector, "v1");
    assert_string_equal(r[0].domain, "sub.example.com");
    assert_string_equal(r[0].path, "/abs/v1.pem");
    /* ... but not for other domains: global then. */
    n = dkim_keys_find(cfg, "v1", "example.com", DKIM_ALG_ALL, r, 2);
    assert_int_equal(n, 2);
    /* v2 is in pool p: the pool's key. */
    n = dkim_keys_find(cfg, "v2", "example.com", DKIM_ALG_ALL, r, 2);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].selector, "p1");
    n = dkim_keys_find(cfg, "p", "example.com", DKIM_ALG_ALL, r, 2);
    assert_int_equal(n, 1);
    /* `*`: d= the identity's own domain. */
    n = dkim_keys_find(cfg, NULL, "other.org", DKIM_ALG_ALL, r, 2);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].selector, "w");
    assert_string_equal(r[0].domain, "other.org");
    n = dkim_keys_find(cfg, NULL, "other.org", DKIM_ALG_ED25519_SHA256, r, 2);
    assert_int_equal(n, 0);
    /* Never a bare TLD, never junk. */
    assert_int_equal(dkim_keys_find(cfg, NULL, "com", DKIM_ALG_ALL, r, 2), 0);
    assert_int_equal(dkim_keys_find(cfg, NULL, "../x.com", DKIM_ALG_ALL, r, 2), 0);
    /* What dkimsign accepts. */
    assert_true(dkim_keys_known(cfg, "example.com", "g3", DKIM_ALG_RSA_SHA256, r));
    assert_false(dkim_keys_known(cfg, "example.com", "g3", DKIM_ALG_ED25519_SHA256, r));
    assert_true(dkim_keys_known(cfg, "anything.net", "w", DKIM_ALG_RSA_SHA256, r));
    assert_false(dkim_keys_known(cfg, "example.com", "nope", DKIM_ALG_RSA_SHA256, r));
    config_free(cfg);
}

static void test_settings_and_plan(void **state)
{
    struct config *cfg = load(conf1);
    struct cfg_domain_settings ds;
    struct dkim_sig_params sp;
    struct dkim_headers *h = malloc(sizeof(*h));
    struct dkim_plan plan;
    static const char m[] = "From: x@mail.example.com\r\n\r\n";
    char err[256];

    config_domain_settings(cfg, NULL, "yahoo.com", &ds);
    assert_int_equal(ds.dkim_sign, 1);
    assert_int_equal(ds.dkim_algorithms, DKIM_ALG_ALL);
    assert_int_equal(ds.dkim_canon[0], DKIM_CANON_RELAXED);
    assert_int_equal(ds.dkim_canon[1], DKIM_CANON_SIMPLE);
    assert_string_equal(ds.dkim_headers, "x-campaign,list-id");
    assert_int_equal(ds.dkim_oversign, 1);
    assert_int_equal(ds.dkim_fail_action, CFG_DKIM_DEFER);
    assert_int_equal(dkim_headers_parse(m, strlen(m), h, err, sizeof(err)), 0);
    assert_int_equal(dkim_plan_message(cfg, NULL, &ds, h, &plan, err, sizeof(err)), 2);
    assert_string_equal(plan.identity, "");
    assert_string_equal(plan.identity_domain, "mail.example.com");
    dkim_plan_params(&plan, 1, &ds, 1000, &sp);
    assert_string_equal(sp.selector, "g2");
    assert_int_equal(sp.timestamp, 0);
    assert_int_equal(sp.hcanon, DKIM_CANON_RELAXED);
    assert_int_equal(sp.bcanon, DKIM_CANON_SIMPLE);

    config_domain_settings(cfg, NULL, "gmail.com", &ds);
    assert_int_equal(ds.dkim_algorithms, DKIM_ALG_ED25519_SHA256);
    assert_string_equal(ds.dkim_headers, "x-campaign,list-id");    /* merged from * */
    assert_int_equal(ds.dkim_fail_action, CFG_DKIM_SEND_UNSIGNED);
    assert_int_equal(dkim_plan_message(cfg, NULL, &ds, h, &plan, err, sizeof(err)), 1);
    assert_string_equal(plan.identity, "@bounce.example.com");
    assert_string_equal(plan.keys[0].selector, "g2");
    dkim_plan_params(&plan, 0, &ds, 1000, &sp);
    assert_int_equal(sp.timestamp, 1000);
    assert_int_equal(sp.expire_after, 7 * 86400);
    assert_int_equal(sp.oversign, 0);
    assert_string_equal(sp.identity, "@bounce.example.com");
    free(h);
    config_free(cfg);
}

static void test_fallback_and_no_identity(void **state)
{
    struct config *cfg = load("domain-key esp,esp.example,esp.pem\n"
                              "<domain *>\n  dkim-identity-fallback @esp.example\n</domain>\n");
    struct cfg_domain_settings ds;
    struct dkim_headers *h = malloc(sizeof(*h));
    struct dkim_plan plan;
    static const char m[] = "From: x@customer.example\r\n\r\n", m2[] = "To: x@y.z\r\n\r\n";
    char err[256];

    config_domain_settings(cfg, NULL, "gmail.com", &ds);
    assert_int_equal(dkim_headers_parse(m, strlen(m), h, err, sizeof(err)), 0);
    assert_int_equal(dkim_plan_message(cfg, NULL, &ds, h, &plan, err, sizeof(err)), 1);
    assert_string_equal(plan.keys[0].domain, "esp.example");
    assert_string_equal(plan.identity, "@esp.example");
    ds.dkim_identity_fallback[0] = '\0';
    assert_int_equal(dkim_plan_message(cfg, NULL, &ds, h, &plan, err, sizeof(err)), 0);
    assert_int_equal(dkim_headers_parse(m2, strlen(m2), h, err, sizeof(err)), 0);
    assert_int_equal(dkim_plan_message(cfg, NULL, &ds, h, &plan, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no signing identity"));
    free(h);
    config_free(cfg);
}

static void test_key_dir(void **state)
{
    struct config *cfg;
    struct dkim_key_ref r[2];
    struct timeval tv[2] = { { 1000, 0 }, { 1000, 0 } };
    char conf[600];

    assert_int_equal(mkdir(path("kd"), 0755), 0);
    assert_int_equal(mkdir(path("kd/example.net"), 0755), 0);
    write_file("kd/example.net/old.pem", "x");
    write_file("kd/example.net/new.pem", "x");
    write_file("kd/example.net/ed.ed25519.pem", "x");
    write_file("kd/example.net/README", "x");
    assert_int_equal(utimes(path("kd/example.net/old.pem"), tv), 0);
    snprintf(conf, sizeof(conf), "dkim-key-dir %s\n", path("kd"));
    cfg = load(conf);
    assert_int_equal(dkim_keys_find(cfg, NULL, "www.example.net", DKIM_ALG_ALL, r, 2), 2);
    assert_string_equal(r[0].selector, "new");
    assert_int_equal(r[0].alg, DKIM_ALG_RSA_SHA256);
    assert_string_equal(r[0].path, path("kd/example.net/new.pem"));
    assert_string_equal(r[1].selector, "ed");
    assert_int_equal(r[1].alg, DKIM_ALG_ED25519_SHA256);
    assert_true(dkim_keys_known(cfg, "example.net", "old", DKIM_ALG_RSA_SHA256, r));
    assert_true(dkim_keys_known(cfg, "example.net", "ed", DKIM_ALG_ED25519_SHA256, r));
    assert_false(dkim_keys_known(cfg, "example.net", "ed.ed25519", DKIM_ALG_RSA_SHA256, r));
    assert_false(dkim_keys_known(cfg, "example.net", "../example.net/old", DKIM_ALG_RSA_SHA256, r));
    assert_false(dkim_keys_known(cfg, "example.org", "old", DKIM_ALG_RSA_SHA256, r));
    config_free(cfg);
}

static void test_errors(void **state)
{
    expect_err("domain-key s1,example.com\n", "1: domain-key: expected SELECTOR,DOMAIN,FILE");
    expect_err("domain-key s1,example.com,k.pem,dsa\n", "key type must be rsa or ed25519");
    expect_err("domain-key s 1,example.com,k.pem\n", "not a selector");
    expect_err("domain-key s1,exa mple.com,k.pem\n", "not a domain");
    expect_err("domain-key s1,example.com,a.pem\ndomain-key s1,example.com,b.pem\n",
               "2: domain-key: selector s1 of example.com already defined at");
    expect_err("<domain *>\n domain-key s1,example.com,a.pem\n</domain>\n",
               "domain-key is not allowed in <domain>");
    expect_err("<domain *>\n dkim-algorithm rsa-sha1\n</domain>\n", "rsa-sha1 is not supported");
    expect_err("<domain *>\n dkim-canonicalization relaxed/loose\n</domain>\n",
               "expected relaxed/relaxed");
    expect_err("<domain *>\n dkim-identity nobody\n</domain>\n", "expected sender-or-from");
    expect_err("<domain *>\n dkim-fail-action bounce\n</domain>\n", "expected defer or send-unsigned");
    expect_err("<domain *>\n dkim-headers from;to\n</domain>\n", "not a header name list");
    expect_err("dkim-sign yes\n", "dkim-sign is not allowed in global scope");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_settings_and_plan),
        cmocka_unit_test(test_fallback_and_no_identity),
        cmocka_unit_test(test_key_dir),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
