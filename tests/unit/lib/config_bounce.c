/* Unit tests: the issue 6 directives (lib/config_bounce.c and their table
 * entries): bounce-domain, VERP, suppression, DSN settings, per-source and
 * per-domain switches, and the errors they give. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "config.h"

static char path[] = "/tmp/courser-cfgbounce-XXXXXX";

static int load(const char *text, struct config **cfg, char *err, size_t errlen)
{
    int fd = mkstemp(path);
    int rc;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    rc = config_load(path, cfg, err, errlen);
    unlink(path);
    memcpy(path + strlen(path) - 6, "XXXXXX", 6);
    return rc;
}

static void test_defaults(void **state)
{
    struct config *cfg;
    struct cfg_source_settings ss;
    struct cfg_domain_settings ds;
    char err[1024], dir[PATH_MAX];

    assert_int_equal(load("spool /var/spool/x\n", &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg->nbounce_domains, 0);
    assert_int_equal(cfg->send_dsn, 1);
    assert_int_equal(cfg->max_dsn_per_sender, 100);
    assert_string_equal(cfg->hard_bounce_categories, "");
    assert_int_equal(config_suppression_dir(cfg, dir, sizeof(dir)), 0);
    assert_string_equal(dir, "/var/spool/x/suppress");
    config_source_settings(cfg, NULL, NULL, &ss);
    assert_int_equal(ss.reject_suppressed, 1);
    config_domain_settings(cfg, NULL, "a.test", &ds);
    assert_int_equal(ds.verp, 0);
    config_free(cfg);
}

static void test_set(void **state)
{
    struct config *cfg;
    struct cfg_source_settings ss;
    struct cfg_domain_settings ds;
    char err[1024];

    assert_int_equal(load("bounce-domain bounce.example.com\n"
                          "feedback-loop-domain fbl.example.com\n"
                          "verp-key secret-secret-secret\n"
                          "suppression-db /var/lib/courser/supp\n"
                          "hard-bounce-categories bad-mailbox, bad-domain\n"
                          "send-dsn no\nmax-dsn-per-sender-per-hour 0\n"
                          "<source 10.0.0.0/8>\n    reject-suppressed-recipients no\n</source>\n"
                          "<domain shop.test>\n    verp yes\n</domain>\n", &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg->nbounce_domains, 2);
    assert_int_equal(config_is_bounce_domain(cfg, "BOUNCE.example.com"), 1);
    assert_int_equal(config_is_bounce_domain(cfg, "fbl.example.com."), 1);
    assert_int_equal(config_is_bounce_domain(cfg, "x.bounce.example.com"), 0);
    assert_string_equal(cfg->verp_key, "secret-secret-secret");
    assert_string_equal(cfg->suppression_db, "/var/lib/courser/supp");
    assert_string_equal(cfg->hard_bounce_categories, "bad-mailbox bad-domain");
    assert_int_equal(cfg->send_dsn, 0);
    assert_int_equal(cfg->max_dsn_per_sender, 0);
    config_domain_settings(cfg, NULL, "shop.test", &ds);
    assert_int_equal(ds.verp, 1);
    config_domain_settings(cfg, NULL, "other.test", &ds);
    assert_int_equal(ds.verp, 0);
    config_source_settings(cfg, NULL, NULL, &ss);
    assert_int_equal(ss.reject_suppressed, 1);
    config_free(cfg);
}

static void test_errors(void **state)
{
    struct config *cfg;
    char err[1024];

    assert_int_equal(load("bounce-domain not_a domain\n", &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bounce-domain"));
    assert_int_equal(load("hard-bounce-categories Bad-Mailbox\n", &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a category list"));
    assert_int_equal(load("verp maybe\n", &cfg, err, sizeof(err)), -1);
    assert_int_equal(load("<source 0/0>\n reject-suppressed-recipients 2\n</source>\n", &cfg, err,
                          sizeof(err)), -1);
    assert_non_null(strstr(err, ":2:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
