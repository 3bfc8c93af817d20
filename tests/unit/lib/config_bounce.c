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

/* PowerMTA's processor blocks: the guide's own examples load, their
 * address lists decide what smtpd hands to bounced. */
static void test_processors(void **state)
{
    struct config *cfg;
    const struct cfg_processor *pr;
    char err[1024], afile[] = "/tmp/courser-cfgbounce-addr-XXXXXX", text[2048];
    const char list[] = "# complaints\nfbl2@fbl.example.net\n\n  Fbl3@FBL.example.net  # x\n";
    int fd = mkstemp(afile);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, list, sizeof(list) - 1), (ssize_t)(sizeof(list) - 1));
    close(fd);
    snprintf(text, sizeof(text),
             "<bounce-processor>\n"
             "    deliver-unmatched-email no\n"
             "    deliver-matched-email no              # default: no\n"
             "    forward-unmatched-to auto-feedback@port25.example\n"
             "    forward-errors-to auto-feedback@port25.example\n"
             "    forward-errors-to ops@port25.example\n"
             "    <address-list>\n"
             "        domain bounce.example.com\n"
             "        address /^bounce-[0-9]+@mail\\.example\\.com$/\n"
             "    </address-list>\n"
             "</bounce-processor>\n"
             "<feedback-loop-processor>\n"
             "    <address-list fbl>\n"
             "        address fbl@fbl.example.net\n"
             "        address-file %s\n"
             "    </address-list>\n"
             "</feedback-loop-processor>\n", afile);
    assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
    unlink(afile);
    assert_int_equal(cfg->nprocessors, 2);
    pr = &cfg->processors[0];
    assert_int_equal(pr->feedback, 0);
    assert_int_equal(pr->nforward_unmatched, 1);
    assert_int_equal(pr->nforward_errors, 2);
    assert_string_equal(pr->forward_errors[1], "ops@port25.example");
    /* the processor's domain is a bounce domain (VERP default, smtpd) */
    assert_int_equal(cfg->nbounce_domains, 1);
    assert_int_equal(config_is_bounce_domain(cfg, "bounce.example.com"), 1);
    assert_ptr_equal(config_processor_for(cfg, "anything@Bounce.Example.com"), pr);
    assert_ptr_equal(config_processor_for(cfg, "BOUNCE-42@mail.example.com"), pr);
    assert_null(config_processor_for(cfg, "bounce-x@mail.example.com"));
    assert_int_equal(config_is_bounce_address(cfg, "bounce-7@mail.example.com"), 1);
    assert_int_equal(config_is_bounce_address(cfg, "news@mail.example.com"), 0);
    assert_int_equal(cfg->processors[1].feedback, 1);
    assert_int_equal(cfg->processors[1].naddresses, 3);
    assert_ptr_equal(config_processor_for(cfg, "FBL@fbl.example.net"), &cfg->processors[1]);
    assert_ptr_equal(config_processor_for(cfg, "fbl3@fbl.example.net"), &cfg->processors[1]);
    assert_null(config_processor_for(cfg, "other@fbl.example.net"));
    assert_int_equal(config_is_bounce_address(cfg, "other@fbl.example.net"), 0);
    config_free(cfg);
}

static void test_processor_errors(void **state)
{
    struct config *cfg;
    char err[1024];

    assert_int_equal(load("<bounce-processor>\n deliver-unmatched-email yes\n</bounce-processor>\n",
                          &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":2: deliver-unmatched-email: not supported yet"));
    assert_int_equal(load("<bounce-processor>\n deliver-email yes\n</bounce-processor>\n",
                          &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":2: not supported yet: deliver-email"));
    assert_int_equal(load("<bounce-processor>\n <email-patterns>\n </email-patterns>\n"
                          "</bounce-processor>\n", &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":2: not supported yet: <email-patterns>"));
    assert_int_equal(load("<bounce-processor>\n <address-list>\n  address /(/\n </address-list>\n"
                          "</bounce-processor>\n", &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":3: address: bad regex"));
    assert_int_equal(load("<bounce-processor>\n <address-list>\n  address nobody\n </address-list>\n"
                          "</bounce-processor>\n", &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":3: address: not an address"));
    assert_int_equal(load("<bounce-processor>\n forward-unmatched-to x\n</bounce-processor>\n",
                          &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":2: forward-unmatched-to: not an address"));
    assert_int_equal(load("<address-list foo>\n domain a.example\n</address-list>\n",
                          &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":1: not supported yet: <address-list>"));
    assert_int_equal(load("<bounce-processor>\n domain a.example\n</bounce-processor>\n",
                          &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":2: domain is not allowed in <bounce-processor>"));
    assert_int_equal(load("<bounce-processor>\n <address-list>\n  address-file /nonexistent/x\n"
                          " </address-list>\n</bounce-processor>\n", &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":3: address-file: cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_processors),
        cmocka_unit_test(test_processor_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
