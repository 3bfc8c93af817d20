/*
 * Unit tests: lib/smtp_patterns.c (rule parsing, actions, matching, the
 * built-in ISP list) and the traffic-shaping directives of the config
 * (rates, backoff twins, <smtp-pattern-list>, hold-domain, merging).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "smtp_patterns.h"

static const struct smtp_pattern_rule *match(const struct smtp_pattern_list *l, const char *s)
{
    return smtp_patterns_match(l, s, strlen(s));
}

static void test_parse(void **state)
{
    struct smtp_pattern_list *l = smtp_patterns_new("t");
    const struct smtp_pattern_rule *r;
    char why[256], buf[256];

    assert_non_null(l);
    assert_int_equal(smtp_patterns_add(l, "/^421 4\\.7\\.0/ mode=backoff,backoff-to-normal-after=10m",
                                       why, sizeof(why)), 0);
    /* a URL in the regex: the regex runs to the last slash */
    assert_int_equal(smtp_patterns_add(l, "/see https:\\/\\/x.test\\/a/ defer-queue mode=backoff",
                                       why, sizeof(why)), 0);
    assert_int_equal(smtp_patterns_add(l, "/(?-i)CaseOnly/ mode=normal", why, sizeof(why)), 0);
    assert_int_equal(smtp_patterns_add(l, "/blocked/ disable-source-ip,reenable-after=1h",
                                       why, sizeof(why)), 0);
    assert_int_equal(l->n, 4);

    r = match(l, "421 4.7.0 Try again later");
    assert_non_null(r);
    assert_int_equal(r->actions, SPA_BACKOFF);
    assert_int_equal(r->to_normal_after, 600);
    smtp_patterns_format_actions(r, buf, sizeof(buf));
    assert_string_equal(buf, "mode=backoff,backoff-to-normal-after=600s");
    r = match(l, "451 4.3.0 SEE HTTPS://X.TEST/A now");        /* case-insensitive */
    assert_non_null(r);
    assert_int_equal(r->actions, SPA_BACKOFF | SPA_DEFER_QUEUE);
    assert_null(match(l, "250 caseonly"));                      /* (?-i) */
    assert_non_null(match(l, "250 CaseOnly"));
    r = match(l, "550 5.7.1 blocked");
    assert_int_equal(r->actions, SPA_DISABLE_SOURCE_IP);
    assert_int_equal(r->reenable_after, 3600);
    assert_null(match(l, "250 2.0.0 ok"));

    /* errors */
    assert_int_equal(smtp_patterns_add(l, "x mode=backoff", why, sizeof(why)), -1);
    assert_string_equal(why, "expected /regex/ ACTIONS");
    assert_int_equal(smtp_patterns_add(l, "/x/", why, sizeof(why)), -1);
    assert_string_equal(why, "no action after /regex/");
    assert_int_equal(smtp_patterns_add(l, "/x/ mode=backoff,mode=normal", why, sizeof(why)), -1);
    assert_string_equal(why, "mode=backoff and mode=normal in one rule");
    assert_int_equal(smtp_patterns_add(l, "/x/ backoff-to-normal-after=1m", why, sizeof(why)), -1);
    assert_string_equal(why, "backoff-to-normal-after= needs mode=backoff");
    assert_int_equal(smtp_patterns_add(l, "/x/ reenable-after=1m", why, sizeof(why)), -1);
    assert_string_equal(why, "reenable-after= needs disable-source-ip");
    assert_int_equal(smtp_patterns_add(l, "/x/ mode=fast", why, sizeof(why)), -1);
    assert_string_equal(why, "unknown action 'mode=fast'");
    assert_int_equal(smtp_patterns_add(l, "/x/ skip-mx,bounce-queue", why, sizeof(why)), -1);
    assert_string_equal(why, "skip-mx and bounce-queue in one rule");
    assert_int_equal(smtp_patterns_add(l, "/[/ mode=backoff", why, sizeof(why)), -1);
    assert_non_null(strstr(why, "bad regex at offset"));
    assert_int_equal(smtp_patterns_add(l, "/x/mode=backoff", why, sizeof(why)), -1);
    assert_int_equal(l->n, 4);                                  /* nothing half-added */
    assert_int_equal(smtp_patterns_add(l, "/too many connections/ skip-mx", why, sizeof(why)), 0);
    r = match(l, "451 4.7.1 Too many connections from your IP");
    assert_non_null(r);
    assert_int_equal(r->actions, SPA_SKIP_MX);
    smtp_patterns_format_actions(r, buf, sizeof(buf));
    assert_string_equal(buf, "skip-mx");
    smtp_patterns_free(l);
}

static void test_builtin(void **state)
{
    const struct smtp_pattern_list *b = smtp_patterns_builtin();
    static const char *const backoff[] = {
        "421-4.7.0 [192.0.2.1] Our system has detected an unusual rate of unsolicited mail. gsmtp",
        "421 4.7.0 Try again later, closing connection.",
        "421 4.7.28 [192.0.2.1] Gmail has detected an unusual rate of mail. gsmtp",
        "550 5.7.1 [192.0.2.1] Our system has detected an unusual rate of unsolicited mail",
        "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation.",
        "421 4.7.660 mail from this IP is temporarily rate limited",
        "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent (RP-001)",
        "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume",
        "421 4.7.0 [TS02] Messages from 192.0.2.1 temporarily deferred",
    };
    static const char *const ignored[] = {
        "250 2.0.0 OK gsmtp",
        "550 5.1.1 The email account that you tried to reach does not exist. gsmtp",
        "451 4.3.0 Temporary failure",
        "421 4.4.1 connect to mx.test[192.0.2.1]:25: Connection refused",
        "552 5.7.1 message rejected as spam",
    };
    const struct smtp_pattern_rule *r;
    size_t i;

    assert_non_null(b);
    for (i = 0; smtp_patterns_builtin_rules[i]; i++)
        ;
    assert_int_equal(b->n, i);                  /* every built-in rule compiled */
    for (i = 0; i < sizeof(backoff) / sizeof(backoff[0]); i++) {
        r = match(b, backoff[i]);
        if (r == NULL || !(r->actions & SPA_BACKOFF))
            fail_msg("built-in list does not back off on: %s", backoff[i]);
    }
    for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        if (match(b, ignored[i]) != NULL)
            fail_msg("built-in list matches: %s", ignored[i]);
    r = match(b, "421 4.7.0 [TSS09] All messages from 192.0.2.1 will be permanently deferred");
    assert_non_null(r);
    assert_int_equal(r->actions, SPA_BACKOFF | SPA_DEFER_QUEUE);
}

static char tmpdir[64];

static struct config *load_text(const char *text, char *err, size_t errlen)
{
    char path[128];
    struct config *cfg = NULL;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/t.conf", tmpdir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    if (config_load(path, &cfg, err, errlen) < 0)
        return NULL;
    return cfg;
}

static void test_config(void **state)
{
    char err[1024];
    struct cfg_domain_settings d;
    struct config *cfg = load_text(
        "spool sp\n"
        "hold-domain [*.]held.test\n"
        "<smtp-pattern-list isp>\n"
        "  reply /^421 4\\.7\\.0/ mode=backoff   # comment\n"
        "  reply /TSS09/ defer-queue\n"
        "</smtp-pattern-list>\n"
        "<domain *>\n"
        "  max-msg-rate 83/10m\n"
        "  max-conn-rate 10/s\n"
        "  backoff-retry-after 5m, 10m\n"
        "</domain>\n"
        "<domain a.test>\n"
        "  max-data-volume-rate 10M/h\n"
        "  max-msg-rate-burst 5\n"
        "  backoff-max-msg-rate 1/m\n"
        "  backoff-to-normal-after never\n"
        "  smtp-pattern-list isp\n"
        "  use-default-smtp-patterns no\n"
        "  retry-after-dns-error 2m\n"
        "  source-ip-max-smtp-out 192.0.2.0/24 3\n"
        "  source-ip-max-smtp-out 192.0.2.0/24 4\n"
        "  source-ip-max-msg-rate 192.0.2.7 10/min\n"
        "  max-connect-rate 5/2hr\n"
        "</domain>\n", err, sizeof(err));

    if (cfg == NULL)
        fail_msg("load: %s", err);
    config_domain_settings(cfg, "", "b.test", &d);
    assert_int_equal(d.msg_rate.count, 83);
    assert_int_equal(d.msg_rate.period, 600);
    assert_int_equal(d.connect_rate.count, 10);
    assert_int_equal(d.connect_rate.period, 1);
    assert_int_equal(d.volume_rate.count, 0);
    assert_int_equal(d.msg_burst, 1);
    assert_int_equal(d.nbackoff_retry, 2);
    assert_int_equal(d.backoff_retry_after[1], 600);
    assert_int_equal(d.backoff_msg_rate.set, 0);            /* derived */
    assert_int_equal(d.backoff_to_normal_after, 3600);      /* Courser returns by default */
    assert_int_equal(d.retry_after_dns_error, 60);
    assert_int_equal(d.use_default_smtp_patterns, 1);
    assert_string_equal(d.smtp_pattern_list, "");
    config_domain_settings(cfg, "", "a.test", &d);
    assert_int_equal(d.msg_rate.count, 83);                 /* merged from * */
    assert_int_equal(d.volume_rate.count, 10 << 20);
    assert_int_equal(d.volume_rate.period, 3600);
    assert_int_equal(d.msg_burst, 5);
    assert_int_equal(d.backoff_msg_rate.set, 1);
    assert_int_equal(d.backoff_msg_rate.count, 1);
    assert_int_equal(d.backoff_msg_rate.period, 60);
    assert_int_equal(d.backoff_to_normal_after, 0);
    assert_int_equal(d.use_default_smtp_patterns, 0);
    assert_int_equal(d.retry_after_dns_error, 120);
    assert_string_equal(d.smtp_pattern_list, "isp");
    assert_int_equal(d.src_max_conns.n, 1);                 /* same CIDR: replaced */
    assert_int_equal(d.src_max_conns.l[0].n, 4);
    assert_int_equal(d.src_msg_rate.n, 1);
    assert_int_equal(d.src_msg_rate.l[0].rate.count, 10);
    assert_int_equal(d.src_msg_rate.l[0].rate.period, 60);
    assert_int_equal(d.connect_rate.count, 5);              /* PowerMTA's long unit names */
    assert_int_equal(d.connect_rate.period, 7200);
    assert_non_null(config_find_smtp_list(cfg, "ISP"));
    assert_int_equal(config_find_smtp_list(cfg, "isp")->n, 2);
    assert_null(config_find_smtp_list(cfg, "other"));
    assert_int_equal(config_is_held_domain(cfg, "held.test"), 1);
    assert_int_equal(config_is_held_domain(cfg, "x.held.test"), 1);
    assert_int_equal(config_is_held_domain(cfg, "a.test"), 0);
    config_free(cfg);

    assert_null(load_text("<domain *>\nmax-data-volume-rate 10/\n</domain>\n", err, sizeof(err)));
    assert_non_null(strstr(err, ":2: max-data-volume-rate: not a volume rate"));
    assert_null(load_text("<smtp-pattern-list a>\n</smtp-pattern-list>\n"
                          "<smtp-pattern-list A>\n</smtp-pattern-list>\n", err, sizeof(err)));
    assert_non_null(strstr(err, ":3: <smtp-pattern-list>: a list of that name exists already"));
    assert_null(load_text("<virtual-mta v>\nwarmup-start 2027-02-29\n</virtual-mta>\n", err, sizeof(err)));
    assert_non_null(strstr(err, ":2: warmup-start: not a date YYYY-MM-DD: '2027-02-29'"));
    assert_null(load_text("<virtual-mta v>\nwarmup-schedule 10,0\n</virtual-mta>\n", err, sizeof(err)));
    assert_non_null(strstr(err, ":2: warmup-schedule: daily counts must be between 1 and 100000000"));
    assert_null(load_text("warmup-schedule 10\n", err, sizeof(err)));
    assert_non_null(strstr(err, ":1: warmup-schedule is not allowed in global scope"));
    cfg = load_text("<virtual-mta v>\nwarmup-schedule 10, 20,40\nwarmup-start 2028-02-29\n</virtual-mta>\n"
                    "<virtual-mta w>\n</virtual-mta>\n", err, sizeof(err));
    if (cfg == NULL)
        fail_msg("load: %s", err);
    assert_int_equal(config_find_vmta(cfg, "v")->nwarmup, 3);
    assert_int_equal(config_find_vmta(cfg, "v")->warmup[2], 40);
    assert_int_equal(config_find_vmta(cfg, "v")->warmup_start_day, 21243);
    assert_int_equal(config_find_vmta(cfg, "w")->nwarmup, 0);
    assert_int_equal(config_find_vmta(cfg, "w")->warmup_start_day, -1);
    config_free(cfg);
    assert_null(load_text("reply /x/ mode=backoff\n", err, sizeof(err)));
    assert_non_null(strstr(err, ":1: reply is not allowed in global scope"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_builtin),
        cmocka_unit_test(test_config),
    };
    int rc;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/courser-sp-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    {
        char path[128];
        snprintf(path, sizeof(path), "%s/t.conf", tmpdir);
        (void)unlink(path);
        (void)rmdir(tmpdir);
    }
    return rc;
}
