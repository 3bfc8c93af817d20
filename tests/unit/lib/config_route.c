/*
 * Unit tests for the routing part of the configuration (issue 3):
 * lib/config_route.c, lib/pattern_list.c, lib/pool.c and the macro
 * merging in lib/config_merge.c.
 *   - the parser on every routing construct (data/routing.conf);
 *   - precedence and merge rules as a table (vmta, domain) -> settings;
 *   - malformed files, each with its exact "FILE:LINE: ..." error;
 *   - pattern-list matching, weighted pools, skipping unusable members;
 *   - the PowerMTA notes §1.7 example (data/pmta17/): every unsupported
 *     directive is reported with its line, one after the other, until
 *     what is left loads.
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
#include "config_table.h"
#include "pattern_list.h"
#include "pool.h"

static char root[PATH_MAX / 2];
static char tmpdir[64];

static const char *path_of(const char *rel)
{
    static char buf[4][PATH_MAX];
    static int n;
    char *out = buf[n++ % 4];

    snprintf(out, PATH_MAX, "%s%s", root, rel);
    return out;
}

static struct config *load_ok(const char *path)
{
    struct config *cfg = NULL;
    char err[1024];

    if (config_load(path, &cfg, err, sizeof(err)) < 0)
        fail_msg("%s: unexpected error: %s", path, err);
    assert_non_null(cfg);
    return cfg;
}

static void write_file(const char *name, const char *text)
{
    char path[PATH_MAX];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

static int setup(void **state)
{
    const char *tail = strstr(__FILE__, "tests/unit/lib/config_route.c");

    snprintf(root, sizeof(root), "%.*s", tail ? (int)(tail - __FILE__) : 0, __FILE__);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/courser-route-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- the parser on every construct ---- */

static void test_parse_routing(void **state)
{
    struct config *cfg = load_ok(path_of("tests/unit/lib/data/routing.conf"));
    const struct cfg_pool *p;
    const struct pattern_list *pl;
    size_t i;

    assert_string_equal(cfg->default_vmta, "txn-pool");
    assert_string_equal(cfg->invalid_vmta_fallback, "vmta-c");
    p = config_find_pool(cfg, "bulk-pool");
    assert_non_null(p);
    assert_int_equal(p->nmembers, 2);
    assert_string_equal(p->members[0], "vmta-b");
    assert_int_equal(p->weights[0], 3);
    assert_int_equal(p->weights[1], 1);
    assert_int_equal(config_find_pool(cfg, "txn-pool")->weights[0], 1);
    assert_int_equal(config_find_vmta(cfg, "vmta-c")->nhosts, 2);
    assert_string_equal(config_find_vmta(cfg, "vmta-c")->hosts[1].ip, "::1");
    assert_true(config_vmta_exists(cfg, "VMTA-A"));
    assert_true(config_vmta_exists(cfg, "bulk-pool"));
    assert_true(config_vmta_exists(cfg, "{default}"));
    assert_false(config_vmta_exists(cfg, "nope"));

    pl = config_find_pattern_list(cfg, "TRAFFIC");
    assert_non_null(pl);
    assert_int_equal(pl->nrules, 4);
    assert_int_equal(pl->rules[0].kind, PL_HEADER);
    assert_string_equal(pl->rules[0].header, "X-Traffic-Type");
    assert_string_equal(pl->rules[0].regex, "^marketing$");
    assert_string_equal(pl->rules[0].vmta, "bulk-pool");
    assert_int_equal(pl->rules[0].line, 35);
    assert_int_equal(pl->rules[1].kind, PL_MAIL_FROM);
    assert_int_equal(pl->rules[2].kind, PL_RCPT_TO);
    assert_string_equal(pl->rules[3].regex, "a b \\/ c");
    assert_null(config_find_pattern_list(cfg, "other"));

    for (i = 0; i < cfg->nsources && cfg->sources[i].is_cidr; i++)
        ;
    assert_true(i < cfg->nsources);
    assert_string_equal(cfg->sources[0].s.pattern_list, "traffic");
    assert_int_equal(cfg->sources[0].s.reject_invalid_virtual_mta, 1);   /* default */
    assert_int_equal(cfg->sources[0].s.retain_x_virtual_mta, 0);
    assert_string_equal(cfg->sources[0].s.jobid_header, "x-job");
    assert_int_equal(cfg->sources[i].s.retain_x_virtual_mta, 1);
    assert_int_equal(cfg->sources[i].s.reject_invalid_virtual_mta, 0);
    assert_int_equal(cfg->sources[i].s.retain_x_job, 1);
    assert_string_equal(cfg->sources[i].s.jobid_header, "X-Campaign");

    assert_int_equal(cfg->nmacros, 2);
    assert_string_equal(cfg->macros[0].name, "yh");
    assert_int_equal(cfg->macros[0].nitems, 3);
    /* $yhint expanded in place, after the macro's own items */
    assert_int_equal(cfg->macros[0].ndomains, 4);
    assert_string_equal(cfg->macros[0].domains[2], "yahoo.co.uk");
    assert_string_equal(cfg->macros[0].domains[3], "[*.]yahoo.fr");
    assert_int_equal(cfg->nrollups, 2);
    assert_string_equal(config_mx_rollup(cfg, "a.OLC.protection.outlook.test"), "ms.rollup");
    assert_string_equal(config_mx_rollup(cfg, "mx.exact.test"), "exact.rollup");
    assert_null(config_mx_rollup(cfg, "olc.protection.outlook.test"));
    assert_null(config_mx_rollup(cfg, "x.mx.exact.test"));
    assert_null(config_mx_rollup(cfg, ""));
    {
        struct cfg_domain_settings d;
        config_domain_settings(cfg, NULL, "noroll.test", &d);
        assert_int_equal(d.disable_mx_rollup, 1);
        config_domain_settings(cfg, NULL, "roll.test", &d);
        assert_int_equal(d.disable_mx_rollup, 0);
    }
    assert_int_equal(cfg->listeners[1].port, 2587);
    assert_string_equal(cfg->listeners[1].source, "bulk-port");
    config_free(cfg);
}

/* ---- precedence and merge rules: (vmta, domain) -> effective settings ---- */

struct merge_case {
    const char *vmta, *domain;
    uint32_t max_smtp_out, retry0, nretry, connect_timeout, max_msg_per_connection;
    const char *queue_to, *route;
};

static const struct merge_case merge_cases[] = {
    /* the macro's block applies to its domains ... */
    { NULL, "yahoo.com", 6, 420, 1, 120, 0, "", "" },
    { NULL, "YAHOO.co.uk", 6, 420, 1, 120, 0, "", "" },    /* nested macro */
    /* ... but an explicit block of the same specificity beats it */
    { NULL, "ymail.com", 9, 420, 1, 120, 0, "", "" },
    /* [*.]yahoo.fr via the macro, and explicitly: both merge, explicit last */
    { NULL, "mail.yahoo.fr", 6, 420, 1, 17, 0, "", "" },
    { NULL, "yahoo.fr", 6, 420, 1, 17, 0, "", "" },
    /* not in the macro: only <domain *> */
    { NULL, "yahoo.de", 20, 600, 2, 120, 0, "", "" },
    /* pool blocks apply to members, then the member's own */
    { "vmta-b", "gmail.com", 2, 600, 2, 120, 50, "", "" },
    { "vmta-c", "gmail.com", 8, 600, 2, 120, 50, "", "" },
    { "bulk-pool", "gmail.com", 8, 600, 2, 120, 50, "", "" },
    { "vmta-a", "gmail.com", 20, 600, 2, 120, 0, "", "" },
    { "vmta-b", "yahoo.com", 6, 420, 1, 120, 0, "", "" },
    /* queue-to: the domain's own settings name the shared queue ... */
    { "vmta-a", "hotmail.com", 20, 600, 2, 120, 0, "microsoft.rollup", "" },
    { NULL, "outlook.com", 20, 600, 2, 120, 0, "microsoft.rollup", "" },
    /* ... whose settings are those of <domain microsoft.rollup> */
    { "vmta-a", "microsoft.rollup", 4, 600, 2, 120, 0, "", "[127.0.0.2]:2600" },
};

static void test_merge_table(void **state)
{
    struct config *cfg = load_ok(path_of("tests/unit/lib/data/routing.conf"));
    struct cfg_domain_settings d;
    size_t i;

    for (i = 0; i < sizeof(merge_cases) / sizeof(merge_cases[0]); i++) {
        const struct merge_case *c = &merge_cases[i];
        config_domain_settings(cfg, c->vmta, c->domain, &d);
        if (d.max_smtp_out != c->max_smtp_out || d.retry_after[0] != c->retry0
            || d.nretry != c->nretry || d.connect_timeout != c->connect_timeout
            || d.max_msg_per_connection != c->max_msg_per_connection
            || strcmp(d.queue_to, c->queue_to) != 0 || strcmp(d.route, c->route) != 0)
            fail_msg("case %zu (%s, %s): max-smtp-out %u retry %u/%u connect %u mpc %u "
                     "queue-to '%s' route '%s'", i, c->vmta ? c->vmta : "-", c->domain,
                     d.max_smtp_out, d.retry_after[0], d.nretry, d.connect_timeout,
                     d.max_msg_per_connection, d.queue_to, d.route);
    }
    config_free(cfg);
}

/* ---- malformed files: the exact error line ---- */

struct bad_case {
    const char *name;
    const char *text;
    const char *err;            /* after "TMPDIR/" */
};

static const struct bad_case bad_cases[] = {
    { "unclosed block", "<virtual-mta a>\n<domain x.com>\n</domain>\n",
      "t.conf:1: <virtual-mta> block not closed" },
    { "duplicate vmta", "<virtual-mta a>\n</virtual-mta>\n\n<virtual-mta A>\n</virtual-mta>\n",
      "t.conf:4: <virtual-mta>: name already used at TMP/t.conf:1: 'A'" },
    { "unknown pool member", "<virtual-mta-pool p>\n  virtual-mta a\n  virtual-mta ghost\n"
      "</virtual-mta-pool>\n<virtual-mta a>\n</virtual-mta>\n",
      "t.conf:3: virtual-mta: no such <virtual-mta>: 'ghost'" },
    { "duplicate pool member", "<virtual-mta a>\n</virtual-mta>\n<virtual-mta-pool p>\n"
      "virtual-mta a\nvirtual-mta a weight=2\n</virtual-mta-pool>\n",
      "t.conf:5: virtual-mta: already a member of this pool: 'a'" },
    { "bad weight", "<virtual-mta a>\n</virtual-mta>\n<virtual-mta-pool p>\n"
      "virtual-mta a weight=0\n</virtual-mta-pool>\n",
      "t.conf:4: virtual-mta: expected NAME [weight=1..1000]: 'a weight=0'" },
    { "bad CIDR", "<source 10.0.0.0/33>\n</source>\n",
      "t.conf:1: <source>: not a CIDR or name: '10.0.0.0/33'" },
    { "bad unit", "<domain *>\n  retry-after 10x\n</domain>\n",
      "t.conf:2: retry-after: not a list of time intervals (e.g. 10m,30m,1h): '10x'" },
    { "bad size unit", "<source 0/0>\n  max-message-size 20X\n</source>\n",
      "t.conf:2: max-message-size: not a size (e.g. 512k, 20M): '20X'" },
    { "directive in the wrong block", "<virtual-mta a>\n  process-x-virtual-mta yes\n</virtual-mta>\n",
      "t.conf:2: process-x-virtual-mta is not allowed in <virtual-mta>" },
    { "pattern rule outside its block", "<source 0/0>\n  header X /y/ virtual-mta=a\n</source>\n",
      "t.conf:2: header is not allowed in <source>" },
    { "include loop", "include loop-a.conf\n",
      "loop-b.conf:1: include: loop: 'TMP/loop-a.conf'" },
    { "macro loop", "host-name x.example\ndomain-macro a x.com,$b\ndomain-macro b $c\n"
      "domain-macro c $a\n",
      "t.conf:2: domain-macro: loop: a -> b -> c -> a" },
    { "macro self loop", "domain-macro a $a\n", "t.conf:1: domain-macro: loop: a -> a" },
    { "unknown macro in a macro", "domain-macro a x.com,$nope\n",
      "t.conf:1: domain-macro a: no such macro: '$nope'" },
    { "unknown macro in <domain>", "\n<domain $nope>\n</domain>\n",
      "t.conf:2: <domain>: no such domain-macro: '$nope'" },
    { "duplicate macro", "domain-macro a x.com\ndomain-macro a y.com\n",
      "t.conf:2: domain-macro: macro already defined at TMP/t.conf:1: 'a'" },
    { "bad macro item", "domain-macro a x.com,bad..com\n",
      "t.conf:1: domain-macro: not a domain pattern or $MACRO: 'bad..com'" },
    { "macro inside a name", "<domain yahoo.$tld>\n</domain>\n",
      "t.conf:1: <domain>: macros inside a domain (x.$NAME) are not supported yet: 'yahoo.$tld'" },
    { "bad regex", "<pattern-list p>\n  mail-from /a(b/ virtual-mta=x\n</pattern-list>\n",
      "t.conf:2: mail-from: bad regex at offset 3: missing closing parenthesis: '/a(b/'" },
    { "regex without slashes", "<pattern-list p>\n  rcpt-to abc virtual-mta=x\n</pattern-list>\n",
      "t.conf:2: rcpt-to: expected /REGEX/ RESULT: 'abc virtual-mta=x'" },
    { "unsupported result", "<pattern-list p>\n  header X /y/ recipient-priority=5\n</pattern-list>\n",
      "t.conf:2: header: not supported yet (only virtual-mta=NAME): 'recipient-priority'" },
    { "unknown vmta in a rule", "<pattern-list p>\n  header X /y/ virtual-mta=ghost\n"
      "</pattern-list>\n", "t.conf:2: virtual-mta=: no such <virtual-mta> or <virtual-mta-pool>: 'ghost'" },
    { "unknown pattern list", "<source 0/0>\n  pattern-list ghost\n</source>\n",
      "t.conf:2: pattern-list: no such <pattern-list>: 'ghost'" },
    { "duplicate pattern list", "<pattern-list p>\n</pattern-list>\n<pattern-list P>\n</pattern-list>\n",
      "t.conf:3: <pattern-list>: name already used at TMP/t.conf:1: 'P'" },
    { "unknown fallback", "invalid-virtual-mta-fallback ghost\n",
      "t.conf:1: invalid-virtual-mta-fallback: no such <virtual-mta> or <virtual-mta-pool>: 'ghost'" },
    { "queue-to without smtp-hosts", "<domain a.com>\n  queue-to shared.q\n</domain>\n",
      "t.conf:1: queue-to: <domain shared.q> must give smtp-hosts (route): 'shared.q'" },
    { "bad jobid-header", "<source 0/0>\n  jobid-header X:Job\n</source>\n",
      "t.conf:2: jobid-header: not a header name: 'X:Job'" },
    { "rollup-by-ip", "<mx-rollup-list>\n mx *.x.test r.rollup rollup-by-ip\n</mx-rollup-list>\n",
      "t.conf:2: mx: not supported yet (Courser matches MX host names): 'rollup-by-ip'" },
    { "rollup list with an argument", "<mx-rollup-list x>\n</mx-rollup-list>\n",
      "t.conf:1: <mx-rollup-list> takes no argument" },
    { "bad rollup line", "<mx-rollup-list>\n mx *.x.test\n</mx-rollup-list>\n",
      "t.conf:2: mx: expected MX-PATTERN NAME: '*.x.test'" },
    { "mx outside its block", "mx *.x.test r.rollup\n",
      "t.conf:1: mx is not allowed in global scope" },
};

static void test_malformed(void **state)
{
    char path[PATH_MAX], err[1024], want[2048];
    struct config *cfg;
    size_t i;

    write_file("loop-a.conf", "include loop-b.conf\n");
    write_file("loop-b.conf", "include loop-a.conf\n");
    snprintf(path, sizeof(path), "%s/t.conf", tmpdir);
    for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        const char *s;
        size_t o;

        write_file("t.conf", c->text);
        o = (size_t)snprintf(want, sizeof(want), "%s/", tmpdir);
        for (s = c->err; *s != '\0' && o + sizeof(tmpdir) < sizeof(want);) {
            if (strncmp(s, "TMP", 3) == 0) {
                o += (size_t)snprintf(want + o, sizeof(want) - o, "%s", tmpdir);
                s += 3;
            } else {
                want[o++] = *s++;
            }
        }
        want[o] = '\0';
        cfg = NULL;
        err[0] = '\0';
        if (config_load(path, &cfg, err, sizeof(err)) == 0) {
            config_free(cfg);
            fail_msg("%s: loaded without an error", c->name);
        }
        assert_null(cfg);
        if (strcmp(err, want) != 0)
            fail_msg("%s:\n  got  %s\n  want %s", c->name, err, want);
    }
}

/* ---- pattern lists ---- */

static void test_pattern_match(void **state)
{
    struct config *cfg = load_ok(path_of("tests/unit/lib/data/routing.conf"));
    const struct pattern_list *pl = config_find_pattern_list(cfg, "traffic");
    const char *hdrs = "From: a@x.test\r\nX-Traffic-Type:\r\n  Marketing\r\nSubject: hi\r\n\r\n"
                       "X-Traffic-Type: marketing\r\n";
    const char *body_only = "Subject: x\r\n\r\nX-Traffic-Type: marketing\r\n";
    const char *rc1[] = { "u@c.test", "v@b.test" }, *rc2[] = { "u@c.test" };
    struct pl_subject m = { "x@shop.test", rc2, 1, hdrs, strlen(hdrs) };
    const struct pl_rule *r;

    /* folded header value, case-insensitive /i */
    r = pattern_list_match(pl, &m);
    assert_non_null(r);
    assert_string_equal(r->vmta, "bulk-pool");
    /* a "header" in the body is not a header */
    m.headers = body_only;
    m.headers_len = strlen(body_only);
    assert_null(pattern_list_match(pl, &m));
    /* mail-from is case-sensitive without /i */
    m.mail_from = "x@news.example.com";
    assert_string_equal(pattern_list_match(pl, &m)->vmta, "vmta-b");
    m.mail_from = "x@NEWS.example.com";
    assert_null(pattern_list_match(pl, &m));
    /* any recipient */
    m.rcpts = rc1;
    m.nrcpts = 2;
    assert_string_equal(pattern_list_match(pl, &m)->vmta, "vmta-c");
    /* file order: the header rule comes first */
    m.headers = hdrs;
    m.headers_len = strlen(hdrs);
    assert_string_equal(pattern_list_match(pl, &m)->vmta, "bulk-pool");
    assert_null(pattern_list_match(NULL, &m));
    config_free(cfg);
}

/* A catastrophic regex hits the match limit (no match) instead of hanging. */
static void test_pattern_limit(void **state)
{
    struct pattern_list pl;
    char why[256], subject[64];
    struct pl_subject m;
    const char *rc[1] = { subject };

    memset(&pl, 0, sizeof(pl));
    assert_int_equal(pattern_list_add(&pl, PL_RCPT_TO, "/^(a+)+$/ virtual-mta=x", why,
                                      sizeof(why)), 0);
    memset(subject, 'a', 40);
    subject[40] = '!';
    subject[41] = '\0';
    memset(&m, 0, sizeof(m));
    m.rcpts = rc;
    m.nrcpts = 1;
    assert_null(pattern_list_match(&pl, &m));
    subject[40] = '\0';
    assert_non_null(pattern_list_match(&pl, &m));
    pattern_list_free(&pl);
}

static void test_header_walk(void **state)
{
    const char *h = "A: 1\r\nB:\t2\r\n 3\r\nC : x\r\nnot a header\r\nD: 4\r\n";
    struct pl_header x;
    size_t off = 0;
    char v[32];

    assert_int_equal(pattern_list_next_header(h, strlen(h), &off, &x), 1);
    assert_int_equal(x.name_len, 1);
    assert_int_equal(x.start, 0);
    assert_int_equal(x.len, 6);
    assert_int_equal(pattern_list_next_header(h, strlen(h), &off, &x), 1);
    assert_int_equal(pattern_list_unfold(x.value, x.value_len, v, sizeof(v)), 3);
    assert_string_equal(v, "2 3");
    assert_int_equal(x.len, 10);
    assert_int_equal(pattern_list_next_header(h, strlen(h), &off, &x), 1);
    assert_int_equal(x.name_len, 1);        /* "C " trimmed */
    assert_int_equal(pattern_list_next_header(h, strlen(h), &off, &x), 0);
    assert_int_equal(pattern_list_unfold("abcdef", 6, v, 4), -1);
}

/* ---- pools ---- */

static int skip_second(void *arg, size_t i)
{
    return i != 1;
}

static int none_usable(void *arg, size_t i)
{
    return 0;
}

static void test_pool_weights(void **state)
{
    struct pool_rr st = { 0, NULL };
    const uint32_t w[] = { 5, 3, 2 };
    unsigned count[3] = { 0, 0, 0 }, i;
    long k, last = -1, run = 0, maxrun = 0;

    /* exactly proportional over every full cycle of 10 picks */
    for (i = 0; i < 1000; i++) {
        k = pool_rr_pick(&st, w, 3, NULL, NULL);
        assert_true(k >= 0 && k < 3);
        count[k]++;
        run = k == last ? run + 1 : 1;
        maxrun = run > maxrun ? run : maxrun;
        last = k;
    }
    assert_int_equal(count[0], 500);
    assert_int_equal(count[1], 300);
    assert_int_equal(count[2], 200);
    assert_true(maxrun <= 2);               /* smooth: no long runs of one member */
    /* a paused member gets nothing; the others share by weight */
    memset(count, 0, sizeof(count));
    for (i = 0; i < 700; i++)
        count[pool_rr_pick(&st, w, 3, skip_second, NULL)]++;
    assert_int_equal(count[1], 0);
    assert_true(count[0] >= 499 && count[0] <= 501);
    assert_true(count[2] >= 199 && count[2] <= 201);
    /* none usable: everyone counts (mail waits in a paused queue) */
    memset(count, 0, sizeof(count));
    for (i = 0; i < 10; i++)
        count[pool_rr_pick(&st, w, 3, none_usable, NULL)]++;
    assert_true(count[0] > 0 && count[1] > 0 && count[2] > 0);
    /* no weights = plain round robin; a member count change restarts */
    memset(count, 0, sizeof(count));
    for (i = 0; i < 9; i++)
        count[pool_rr_pick(&st, NULL, 2, NULL, NULL)]++;
    assert_int_equal(count[0], 5);
    assert_int_equal(count[1], 4);
    assert_int_equal(pool_rr_pick(&st, w, 0, NULL, NULL), -1);
    pool_rr_free(&st);
}

/* ---- PowerMTA notes §1.7: each unsupported directive, then it loads ---- */

/* What Courser reports for the example, in order (line: message tail). */
static const char *const pmta17_expected[] = {
    "12: not supported yet: total-max-smtp-out",
    "13: not supported yet: http-mgmt-port",
    "14: not supported yet: http-access",
    "17: not supported yet: min-free-space",
    "56: mx: not supported yet (Courser matches MX host names): 'rollup-by-ip'",
    "60: record-fields: '*' combined with other fields is not supported yet: 'd *,header_Message-Id'",
    "61: not supported yet: move-to",
    "62: not supported yet: move-interval",
};

static void test_pmta_notes_example(void **state)
{
    char src[PATH_MAX], dst[PATH_MAX], err[1024], *lines[128];
    size_t nlines = 0, i, n;
    FILE *fp;
    char buf[1024];
    struct config *cfg;

    /* a copy beside the original, so "include vmtas.d/..." still works */
    snprintf(src, sizeof(src), "%s", path_of("tests/unit/lib/data/pmta17/config.conf"));
    snprintf(dst, sizeof(dst), "%s", path_of("tests/unit/lib/data/pmta17/work.conf.tmp"));
    fp = fopen(src, "r");
    assert_non_null(fp);
    while (nlines < 128 && fgets(buf, sizeof(buf), fp) != NULL)
        lines[nlines++] = strdup(buf);
    fclose(fp);
    for (n = 0; n <= sizeof(pmta17_expected) / sizeof(pmta17_expected[0]); n++) {
        long line;
        char *colon;

        fp = fopen(dst, "w");
        assert_non_null(fp);
        for (i = 0; i < nlines; i++)
            fputs(lines[i], fp);
        assert_int_equal(fclose(fp), 0);
        cfg = NULL;
        if (config_load(dst, &cfg, err, sizeof(err)) == 0) {
            config_free(cfg);
            break;
        }
        if (n == sizeof(pmta17_expected) / sizeof(pmta17_expected[0]))
            fail_msg("more errors than expected: %s", err);
        colon = strstr(err, "work.conf.tmp:");
        assert_non_null(colon);
        if (strcmp(colon + 14, pmta17_expected[n]) != 0)
            fail_msg("error %zu: got '%s', want '%s'", n, colon + 14, pmta17_expected[n]);
        /* drop the line, or the whole block it opens */
        line = strtol(colon + 14, NULL, 10) - 1;
        assert_true(line >= 0 && (size_t)line < nlines);
        if (lines[line][strspn(lines[line], " ")] == '<') {
            size_t e = (size_t)line;
            while (e < nlines && strstr(lines[e], "</") == NULL)
                lines[e++][0] = '#';
            if (e < nlines)
                lines[e][0] = '#';
        } else {
            lines[line][0] = '#';
        }
    }
    assert_int_equal(n, sizeof(pmta17_expected) / sizeof(pmta17_expected[0]));
    /* what is left is routed as the example means */
    cfg = load_ok(dst);
    assert_string_equal(cfg->listeners[1].source, "bulk-port");
    assert_non_null(config_find_pool(cfg, "txn-pool"));
    assert_int_equal(config_find_pool(cfg, "bulk-pool")->nmembers, 2);
    assert_int_equal(cfg->macros[0].ndomains, 3);
    {
        struct cfg_domain_settings d;
        config_domain_settings(cfg, "bulk-b", "gmail.com", &d);
        assert_int_equal(d.max_smtp_out, 8);
        assert_int_equal(d.nretry, 6);
        assert_int_equal(d.bounce_after, 2 * 86400);
    }
    config_free(cfg);
    unlink(dst);
    for (i = 0; i < nlines; i++)
        free(lines[i]);
}

/* conf/examples/esp.conf loads and routes as its comments say. */
static void test_esp_conf(void **state)
{
    struct config *cfg = load_ok(path_of("conf/examples/esp.conf"));
    struct cfg_domain_settings d;
    const struct cfg_pool *p;

    assert_int_equal(cfg->nlisteners, 3);
    assert_string_equal(cfg->listeners[1].source, "marketing-port");
    assert_non_null(config_find_pattern_list(cfg, "traffic"));
    p = config_find_pool(cfg, "marketing");
    assert_non_null(p);
    assert_int_equal(p->nmembers, 3);
    assert_int_equal(p->weights[2], 1);
    assert_string_equal(config_find_vmta(cfg, "v6-1")->hosts[0].ip, "2001:db8:10::20");
    /* the marketing pool's gmail block over the global gmail block */
    config_domain_settings(cfg, "mkt-1", "gmail.com", &d);
    assert_int_equal(d.max_smtp_out, 8);
    assert_int_equal(d.max_rcpt_per_transaction, 100);
    /* a pool's <domain *> comes after every global block (notes §1.1):
     * its bounce-after wins over the global gmail.com's */
    config_domain_settings(cfg, "txn-1", "gmail.com", &d);
    assert_int_equal(d.max_smtp_out, 10);
    assert_int_equal(d.bounce_after, 86400);
    config_domain_settings(cfg, "mkt-1", "gmail.com", &d);
    assert_int_equal(d.bounce_after, 2 * 86400);
    /* the warming vmta's own <domain *> beats the global gmail block */
    config_domain_settings(cfg, "mkt-3-warming", "gmail.com", &d);
    assert_int_equal(d.max_smtp_out, 2);
    /* microsoft: an MX rollup; AT&T: queue-to with hosts; yahoo: macros */
    assert_string_equal(config_mx_rollup(cfg, "hotmail-com.olc.protection.outlook.com"),
                        "microsoft.rollup");
    config_domain_settings(cfg, "txn-2", "microsoft.rollup", &d);
    assert_int_equal(d.max_smtp_out, 5);
    config_domain_settings(cfg, "mkt-1", "SBCglobal.net", &d);
    assert_string_equal(d.queue_to, "att.shared");
    config_domain_settings(cfg, "mkt-1", "att.shared", &d);
    assert_string_equal(d.route, "al-ip4-mx-vip1.prodigy.net");
    config_domain_settings(cfg, NULL, "yahoo.co.jp", &d);
    assert_int_equal(d.max_smtp_out, 6);
    assert_int_equal(d.max_msg_per_connection, 20);
    config_domain_settings(cfg, NULL, "example.org", &d);
    assert_int_equal(d.max_smtp_out, 20);
    assert_string_equal(cfg->invalid_vmta_fallback, "transactional");
    config_free(cfg);
}

/* Reload digest: what master checked vs what a daemon read. */
static void test_reload_digest(void **state)
{
    char path[PATH_MAX], text[512], err[512], dpath[PATH_MAX];
    struct config *a, *b, *c;

    snprintf(text, sizeof(text), "run-dir %s\ninclude inc.conf\n", tmpdir);
    write_file("d.conf", text);
    write_file("inc.conf", "host-name one.example\n");
    snprintf(path, sizeof(path), "%s/d.conf", tmpdir);
    snprintf(dpath, sizeof(dpath), "%s/config.digest", tmpdir);
    unlink(dpath);
    a = load_ok(path);
    /* no digest published: nothing to compare with */
    assert_int_equal(config_digest_verify(a, err, sizeof(err)), 0);
    assert_int_equal(config_digest_publish(a, err, sizeof(err)), 0);
    b = load_ok(path);
    assert_true(a->digest == b->digest);
    assert_int_equal(config_digest_verify(b, err, sizeof(err)), 0);
    /* an edit in an included file after master's check */
    write_file("inc.conf", "host-name two.example\n");
    c = load_ok(path);
    assert_true(c->digest != a->digest);
    assert_int_equal(config_digest_verify(c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "the configuration changed after master checked it"));
    config_free(a);
    config_free(b);
    config_free(c);
    unlink(dpath);
}

/* config_check_all: every error in one pass, the same ones as above. */
struct collected {
    char lines[32][512];
    size_t n;
};

static void collect(void *arg, const char *line)
{
    struct collected *c = arg;

    if (c->n < 32)
        snprintf(c->lines[c->n], sizeof(c->lines[0]), "%s", line);
    c->n++;
}

static void test_check_all(void **state)
{
    struct collected c;
    size_t i;
    const char *s;

    memset(&c, 0, sizeof(c));
    assert_int_equal(config_check_all(path_of("tests/unit/lib/data/pmta17/config.conf"), collect, &c),
                     (int)(sizeof(pmta17_expected) / sizeof(pmta17_expected[0])));
    for (i = 0; i < c.n; i++) {
        s = strstr(c.lines[i], "config.conf:");
        assert_non_null(s);
        if (strcmp(s + 12, pmta17_expected[i]) != 0)
            fail_msg("error %zu: got '%s', want '%s'", i, s + 12, pmta17_expected[i]);
    }
    /* a block that failed to open is skipped whole; later errors still
     * come, then the whole-file checks */
    write_file("all.conf", "<email-patterns>\n  reply /a/ mode=backoff\n</email-patterns>\n"
               "max-smtp-out 3\n<domain *>\n  max-smtp-out x\n</domain>\n"
               "<virtual-mta-pool p>\n  virtual-mta ghost\n</virtual-mta-pool>\n"
               "default-virtual-mta nope\n");
    memset(&c, 0, sizeof(c));
    {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/all.conf", tmpdir);
        assert_int_equal(config_check_all(path, collect, &c), 5);
    }
    assert_non_null(strstr(c.lines[0], "all.conf:1: not supported yet: <email-patterns>"));
    assert_non_null(strstr(c.lines[1], "all.conf:4: max-smtp-out is not allowed in global scope"));
    assert_non_null(strstr(c.lines[2], "all.conf:6: max-smtp-out: not a number: 'x'"));
    assert_non_null(strstr(c.lines[3], "all.conf:9: virtual-mta: no such <virtual-mta>: 'ghost'"));
    assert_non_null(strstr(c.lines[4], "all.conf:11: default-virtual-mta: no such"));
    /* a good file: none */
    memset(&c, 0, sizeof(c));
    assert_int_equal(config_check_all(path_of("conf/examples/esp.conf"), collect, &c), 0);
}

/* Every <source>/<domain> setting has its own "set" bit: two entries on
 * one bit would copy each other's values when blocks merge.  Branches add
 * table entries in parallel, so a merge could pair two bits silently;
 * this catches it. */
static void test_table_bits(void **state)
{
    size_t i, j;

    for (i = 0; i < cfg_table_len; i++) {
        const struct cfg_directive *a = &cfg_table[i];
        if (a->store != CST_SOURCE && a->store != CST_DOMAIN)
            continue;
        if (a->bit < 0 || a->bit > 63)
            fail_msg("%s: bit %d out of range", a->name, a->bit);
        for (j = i + 1; j < cfg_table_len; j++) {
            const struct cfg_directive *b = &cfg_table[j];
            if (b->store == a->store && b->bit == a->bit && b->off != a->off)
                fail_msg("%s and %s share set bit %d", a->name, b->name, a->bit);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_routing),
        cmocka_unit_test(test_merge_table),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_pattern_match),
        cmocka_unit_test(test_header_walk),
        cmocka_unit_test(test_pattern_limit),
        cmocka_unit_test(test_pool_weights),
        cmocka_unit_test(test_pmta_notes_example),
        cmocka_unit_test(test_esp_conf),
        cmocka_unit_test(test_reload_digest),
        cmocka_unit_test(test_check_all),
        cmocka_unit_test(test_table_bits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
