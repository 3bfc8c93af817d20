/*
 * Unit tests: smtpd's routing decision (smtpd/route_vmta.c) as a table of
 * (listener's source, headers, envelope) -> (vmta, reason, job id, which
 * headers are left), on tests/unit/lib/data/routing.conf:
 *   <source 127.0.0.0/8>: process-x-virtual-mta, process-x-job,
 *       pattern-list traffic, default-virtual-mta txn-pool
 *   <source bulk-port> (listener 2587): default bulk-pool, retain both
 *       headers, reject-invalid-virtual-mta no, jobid-header X-Campaign
 *   invalid-virtual-mta-fallback vmta-c (global); a second config without
 *   it checks the 550 refusal.
 */
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
#include "net.h"
#include "../../../smtpd/route_vmta.h"

static char root[PATH_MAX / 2];
static char tmpconf[64] = "/tmp/courser-rv-XXXXXX";

/* Cases leave out trailing fields they do not need (NULL / 0). */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct rcase {
    const char *listener_source;    /* NULL = the plain listener */
    const char *headers;
    const char *mail_from;
    const char *rcpt;
    int no_fallback;                /* use the config without a fallback */
    /* expected */
    int rc;
    const char *vmta, *why, *job;
    const char *kept;               /* a header that must still be there, or NULL */
    const char *gone;               /* one that must have been removed, or NULL */
    const char *local_ip;           /* the address connected to, NULL = 127.0.0.1 */
    const char *envid;              /* expected X-Envid result, NULL = "" */
};

static const struct rcase cases[] = {
    /* 1. X-Virtual-MTA beats everything (a matching pattern too) */
    { NULL, "X-Virtual-MTA: vmta-b\r\nX-Traffic-Type: marketing\r\n", "a@x.test", "u@c.test", 0,
      0, "vmta-b", "X-Virtual-MTA header", "", "X-Traffic-Type:", "X-Virtual-MTA", NULL, NULL },
    { NULL, "x-virtual-mta:   BULK-POOL  \r\n", "a@x.test", "u@c.test", 0,
      0, "BULK-POOL", "X-Virtual-MTA header", "", NULL, "x-virtual-mta", NULL, NULL },
    /* unknown name: the global fallback ... */
    { NULL, "X-Virtual-MTA: ghost\r\n", "a@x.test", "u@c.test", 0,
      0, "vmta-c", "invalid-virtual-mta-fallback (X-Virtual-MTA 'ghost' is unknown)", "", NULL,
      "X-Virtual-MTA" },
    /* ... or, without one, 550 5.7.1 */
    { NULL, "X-Virtual-MTA: gh\x01ost\r\n", "a@x.test", "u@c.test", 1,
      -1, "", "550 5.7.1 Unknown virtual MTA in X-Virtual-MTA header: 'gh?ost'", "", NULL, NULL, NULL, NULL },
    { NULL, "X-Virtual-MTA:\r\n", "a@x.test", "u@c.test", 1,
      -1, "", "550 5.7.1 Unknown virtual MTA in X-Virtual-MTA header: ''", "", NULL, NULL, NULL, NULL },
    /* 2. the pattern list: header (folded, /i), mail-from, rcpt-to */
    { NULL, "Subject: x\r\nX-Traffic-Type:\r\n MARKETING\r\n", "a@x.test", "u@c.test", 0,
      0, "bulk-pool", "pattern-list traffic, rule at line 35", "", "X-Traffic-Type", NULL },
    { NULL, "Subject: x\r\n", "n@news.example.com", "u@c.test", 0,
      0, "vmta-b", "pattern-list traffic, rule at line 36", "", NULL, NULL },
    { NULL, "Subject: x\r\n", "a@x.test", "u@a.test", 0,
      0, "vmta-c", "pattern-list traffic, rule at line 37", "", NULL, NULL },
    /* an X-Traffic-Type in the body is not a header */
    { NULL, "Subject: x\r\n\r\nX-Traffic-Type: marketing\r\n", "a@x.test", "u@c.test", 0,
      0, "txn-pool", "default-virtual-mta of <source 127.0.0.0/8>", "", NULL, NULL, NULL, NULL },
    /* 3./4. the client's source default; X-Job taken and removed */
    { NULL, "X-Job: spring-sale-42\r\nSubject: y\r\n", "a@x.test", "u@c.test", 0,
      0, "txn-pool", "default-virtual-mta of <source 127.0.0.0/8>", "spring-sale-42", "Subject",
      "X-Job" },
    { NULL, "X-Job: two words\r\n", "a@x.test", "u@c.test", 0,
      0, "txn-pool", "default-virtual-mta of <source 127.0.0.0/8>", "", NULL, "X-Job", NULL, NULL },
    /* 3. the listener's named source beats the client's IP source, and
     * its settings apply: unknown header ignored, headers retained */
    { "bulk-port", "Subject: x\r\nX-Campaign: c1\r\nX-Job: other\r\n", "a@x.test", "u@c.test", 0,
      0, "bulk-pool", "default-virtual-mta of <source bulk-port>", "c1", "X-Campaign", NULL, NULL, NULL },
    { "bulk-port", "X-Virtual-MTA: ghost\r\n", "a@x.test", "u@c.test", 1,
      0, "bulk-pool", "default-virtual-mta of <source bulk-port>", "", "X-Virtual-MTA: ghost", NULL, NULL, NULL },
    { "bulk-port", "X-Virtual-MTA: vmta-a\r\n", "a@x.test", "u@c.test", 0,
      0, "vmta-a", "X-Virtual-MTA header", "", "X-Virtual-MTA: vmta-a", NULL, NULL, NULL },
    /* by-smtp-source-ip: the vmta whose source is the local address ... */
    { "by-ip", "Subject: x\r\nX-Envid: e-1\r\n", "a@x.test", "u@c.test", 0,
      0, "vmta-c", "by-smtp-source-ip ::1 (<source by-ip>)", "", "Subject", "X-Envid", "::1", "e-1" },
    { "by-ip", "Subject: x\r\n", "a@x.test", "u@c.test", 0,
      0, "vmta-b", "by-smtp-source-ip 127.0.0.12 (<source by-ip>)", "", NULL, NULL, "127.0.0.12", NULL },
    /* ... none: the global default */
    { "by-ip", "Subject: x\r\n", "a@x.test", "u@c.test", 0,
      0, "txn-pool", "global default-virtual-mta", "", NULL, NULL, "127.0.0.99", NULL },
    /* an empty X-Virtual-MTA is {default} with allow-empty-x-virtual-mta */
    { "by-ip", "X-Virtual-MTA:  \r\n", "a@x.test", "u@c.test", 1,
      0, "{default}", "X-Virtual-MTA header", "", NULL, "X-Virtual-MTA", "127.0.0.12", NULL },
    /* an X-Envid that is not one token is no envid */
    { "by-ip", "X-Envid: a b\r\n", "a@x.test", "u@c.test", 0,
      0, "vmta-b", "by-smtp-source-ip 127.0.0.12 (<source by-ip>)", "", NULL, "X-Envid", "127.0.0.12", NULL },
    /* without process-x-envid the header is left alone */
    { NULL, "X-Envid: e-2\r\n", "a@x.test", "u@c.test", 0,
      0, "txn-pool", "default-virtual-mta of <source 127.0.0.0/8>", "", "X-Envid: e-2", NULL, NULL, NULL },
    /* the bulk-port source inherits the IP source's pattern list */
    { "bulk-port", "X-Traffic-Type: marketing\r\n", "a@x.test", "u@c.test", 0,
      0, "bulk-pool", "pattern-list traffic, rule at line 35", "", NULL, NULL },
};

static struct config *load(const char *path)
{
    struct config *cfg = NULL;
    char err[1024];

    if (config_load(path, &cfg, err, sizeof(err)) < 0)
        fail_msg("%s: %s", path, err);
    return cfg;
}

static void test_table(void **state)
{
    char path[PATH_MAX], nofb[PATH_MAX];
    struct config *cfg, *cfg2;
    struct sockaddr_storage ss;
    socklen_t sl;
    size_t i;

    snprintf(path, sizeof(path), "%stests/unit/lib/data/routing.conf", root);
    cfg = load(path);
    /* the same file without invalid-virtual-mta-fallback */
    {
        FILE *in = fopen(path, "r"), *out;
        char line[1024];
        snprintf(nofb, sizeof(nofb), "%s/nofb.conf", tmpconf);
        out = fopen(nofb, "w");
        assert_non_null(in);
        assert_non_null(out);
        while (fgets(line, sizeof(line), in))
            fputs(strncmp(line, "invalid-virtual-mta-fallback", 28) == 0 ? "\n" : line, out);
        fclose(in);
        assert_int_equal(fclose(out), 0);
    }
    cfg2 = load(nofb);
    assert_int_equal(net_sockaddr("127.0.0.1", 1234, &ss, &sl), 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct rcase *c = &cases[i];
        const struct config *use = c->no_fallback ? cfg2 : cfg;
        struct cfg_source_settings set;
        struct route_input in;
        struct route_decision d;
        struct buf msg;
        const char *rc[1] = { c->rcpt };
        const char *src = c->listener_source ? c->listener_source : "127.0.0.0/8";
        int rcode;

        config_source_settings(use, (struct sockaddr *)&ss, c->listener_source, &set);
        buf_init(&msg, 1 << 20);
        assert_int_equal(buf_printf(&msg, "Received: from x\r\n\tby y;\r\n\tdate\r\n%s\r\nbody\r\n",
                                    c->headers), 0);
        memset(&in, 0, sizeof(in));
        in.cfg = use;
        in.set = &set;
        in.source_name = src;
        in.mail_from = c->mail_from;
        in.rcpts = rc;
        in.nrcpts = 1;
        in.msg = &msg;
        in.hdr_off = strlen("Received: from x\r\n\tby y;\r\n\tdate\r\n");
        in.local_ip = c->local_ip ? c->local_ip : "127.0.0.1";
        rcode = route_decide(&in, &d);
        if (rcode != c->rc)
            fail_msg("case %zu: rc %d (%s%s)", i, rcode, d.why, d.reject);
        if (rcode < 0) {
            if (strcmp(d.reject, c->why) != 0)
                fail_msg("case %zu: reply '%s', want '%s'", i, d.reject, c->why);
        } else if (strcmp(d.vmta, c->vmta) != 0 || strcmp(d.why, c->why) != 0
                   || strcmp(d.job_id, c->job) != 0) {
            fail_msg("case %zu: vmta '%s' why '%s' job '%s'", i, d.vmta, d.why, d.job_id);
        }
        if (rcode == 0 && strcmp(d.envid, c->envid ? c->envid : "") != 0)
            fail_msg("case %zu: envid '%s'", i, d.envid);
        if (c->kept && strstr(msg.data, c->kept) == NULL)
            fail_msg("case %zu: '%s' was removed:\n%s", i, c->kept, msg.data);
        if (c->gone && strcasestr(msg.data, c->gone) != NULL)
            fail_msg("case %zu: '%s' was kept:\n%s", i, c->gone, msg.data);
        /* our Received: and the body are never touched */
        assert_true(strncmp(msg.data, "Received: from x\r\n", 18) == 0);
        assert_non_null(strstr(msg.data, "\r\n\r\nbody\r\n"));
        assert_int_equal(strlen(msg.data), msg.len);
        buf_free(&msg);
    }
    config_free(cfg);
    config_free(cfg2);
    unlink(nofb);
}

/* Global default-virtual-mta when no source sets one; nothing at all =
 * "" ({default} in qmgr). */
static void test_global_default(void **state)
{
    char path[PATH_MAX];
    struct config *cfg;
    struct cfg_source_settings set;
    struct route_input in;
    struct route_decision d;
    struct buf msg;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/g.conf", tmpconf);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("<virtual-mta v>\n</virtual-mta>\ndefault-virtual-mta v\n", fp);
    assert_int_equal(fclose(fp), 0);
    cfg = load(path);
    config_source_settings(cfg, NULL, NULL, &set);
    buf_init(&msg, 4096);
    assert_int_equal(buf_printf(&msg, "X-Virtual-MTA: other\r\n\r\nb\r\n"), 0);
    memset(&in, 0, sizeof(in));
    in.cfg = cfg;
    in.set = &set;
    in.msg = &msg;
    in.mail_from = "";
    /* process-x-virtual-mta is off by default: the header is ignored and kept */
    assert_int_equal(route_decide(&in, &d), 0);
    assert_string_equal(d.vmta, "v");
    assert_string_equal(d.why, "global default-virtual-mta");
    assert_non_null(strstr(msg.data, "X-Virtual-MTA: other"));
    cfg->default_vmta[0] = '\0';
    assert_int_equal(route_decide(&in, &d), 0);
    assert_string_equal(d.vmta, "");
    buf_free(&msg);
    config_free(cfg);
    unlink(path);
}

static int setup(void **state)
{
    const char *tail = strstr(__FILE__, "tests/unit/smtpd/route_vmta.c");

    snprintf(root, sizeof(root), "%.*s", tail ? (int)(tail - __FILE__) : 0, __FILE__);
    return mkdtemp(tmpconf) ? 0 : -1;
}

static int teardown(void **state)
{
    return rmdir(tmpconf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_global_default),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
