/*
 * Unit tests for the config module (lib/config*.c): every supported
 * directive, synonyms, defaults, include with globs, merge precedence of
 * <domain> and <source> blocks, conf/courser.conf, docs/config.md being
 * exactly config_write_docs's output, and one test per error kind with
 * its exact "FILE:LINE: ..." line.  Data files: tests/unit/lib/data/;
 * error cases are written to a fresh temporary folder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_table.h"

static char root[PATH_MAX / 2]; /* repo root ("" when run from it) */
static char tmpdir[64];

/* path_of - a file relative to the repo root, found through __FILE__. */
static const char *path_of(const char *rel)
{
    static char buf[4][PATH_MAX];
    static int n;
    char *out = buf[n++ % 4];

    snprintf(out, PATH_MAX, "%s%s", root, rel);
    return out;
}

static struct config *load_ok(const char *rel)
{
    struct config *cfg = NULL;
    char err[1024];

    if (config_load(path_of(rel), &cfg, err, sizeof(err)) < 0)
        fail_msg("%s: unexpected error: %s", rel, err);
    assert_non_null(cfg);
    return cfg;
}

static void write_file(const char *name, const char *text, size_t len)
{
    char path[PATH_MAX];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* expect_err - load tmpdir/t.conf holding text; err must be
 * "TMPDIR/t.conf:" + tail, with every "~" in tail replaced by TMPDIR;
 * a tail that starts with "~" is the whole line (error in another file). */
static void expect_err_len(const char *text, size_t len, const char *tail)
{
    char path[PATH_MAX], want[2048], err[1024];
    struct config *cfg = NULL;
    size_t o;
    const char *s;

    write_file("t.conf", text, len);
    snprintf(path, sizeof(path), "%s/t.conf", tmpdir);
    o = tail[0] == '~' ? 0 : (size_t)snprintf(want, sizeof(want), "%s:", path);
    for (s = tail; *s != '\0' && o + sizeof(tmpdir) < sizeof(want); s++) {
        if (*s == '~')
            o += (size_t)snprintf(want + o, sizeof(want) - o, "%s", tmpdir);
        else
            want[o++] = *s;
    }
    want[o] = '\0';
    err[0] = '\0';
    if (config_load(path, &cfg, err, sizeof(err)) == 0) {
        config_free(cfg);
        fail_msg("no error for: %s", text);
    }
    assert_null(cfg);
    assert_string_equal(err, want);
    assert_null(strchr(err, '\n'));
}

static void expect_err(const char *text, const char *tail)
{
    expect_err_len(text, strlen(text), tail);
}

static int setup(void **state)
{
    const char *tail = strstr(__FILE__, "tests/unit/lib/config.c");

    snprintf(root, sizeof(root), "%.*s", tail ? (int)(tail - __FILE__) : 0, __FILE__);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/courser-cfg-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_full(void **state)
{
    struct config *cfg = load_ok("tests/unit/lib/data/full.conf");
    char dir[PATH_MAX], want[PATH_MAX + 64];
    const struct cfg_vmta *v;
    const struct cfg_pool *pool;
    const struct cfg_domain_settings *d;
    const struct cfg_acct_file *a;

    snprintf(dir, sizeof(dir), "%s", cfg->dir);
    assert_non_null(strstr(cfg->path, "/tests/unit/lib/data/full.conf"));
    assert_true(cfg->path[0] == '/');
    snprintf(want, sizeof(want), "%s/spool-dir", dir);
    assert_string_equal(cfg->spool_dir, want);
    assert_string_equal(cfg->run_dir, "/tmp/courser-run");
    assert_non_null(strstr(cfg->log_file, "/tests/unit/lib/log/courser.log"));
    assert_null(strstr(cfg->log_file, ".."));
    assert_string_equal(cfg->daemon_dir, "/opt/courser/bin");
    assert_string_equal(cfg->dns_server_ip, "127.0.0.1");
    assert_int_equal(cfg->dns_server_port, 5353);
    assert_string_equal(cfg->host_name, "mta1.example.net");
    assert_string_equal(cfg->postmaster, "ops@example.net");
    assert_string_equal(cfg->user, "mailer");
    assert_string_equal(cfg->default_vmta, "pool-a");
    assert_int_equal(cfg->smtpd_processes, 3);
    assert_int_equal(cfg->smtp_out_processes, 4);
    assert_int_equal(cfg->smtp_out_slots, 150);
    assert_int_equal(cfg->sync_msg_create, 0);

    assert_int_equal(cfg->nlisteners, 3);
    assert_string_equal(cfg->listeners[0].ip, "127.0.0.1");
    assert_int_equal(cfg->listeners[0].port, 2525);
    assert_string_equal(cfg->listeners[0].source, "");
    assert_int_equal(cfg->listeners[0].line, 15);
    assert_string_equal(cfg->listeners[1].ip, "::1");
    assert_int_equal(cfg->listeners[1].port, 2526);
    assert_string_equal(cfg->listeners[1].source, "bulk-port");
    assert_string_equal(cfg->listeners[2].ip, "0.0.0.0");
    assert_int_equal(cfg->listeners[2].port, 2527);
    assert_string_equal(cfg->listeners[2].source, "bulk-port");

    assert_int_equal(cfg->nrelay_domains, 2);
    assert_true(config_is_relay_domain(cfg, "example.org"));
    assert_true(config_is_relay_domain(cfg, "EXAMPLE.ORG"));
    assert_false(config_is_relay_domain(cfg, "sub.example.org"));
    assert_true(config_is_relay_domain(cfg, "example.net"));
    assert_true(config_is_relay_domain(cfg, "a.b.example.net"));
    assert_false(config_is_relay_domain(cfg, "example.com"));

    assert_int_equal(cfg->nsources, 2);
    assert_true(cfg->sources[0].is_cidr);
    assert_int_equal(cfg->sources[0].cidr.prefix, 8);
    assert_int_equal(cfg->sources[0].line, 23);
    {
        const struct cfg_source_settings *s = &cfg->sources[0].s;
        assert_int_equal(s->always_allow_relaying, 1);
        assert_int_equal(s->smtp_service, 1);
        assert_string_equal(s->default_vmta, "vmta-a");
        assert_true(s->max_message_size == 20ULL << 20);
        assert_int_equal(s->max_rcpt_per_message, 500);
        assert_int_equal(s->smtp_command_timeout, 120);
        assert_int_equal(s->smtp_data_timeout, 900);
        assert_int_equal(s->max_errors, 5);
        assert_int_equal(s->max_line_length, 2000);
        assert_int_equal(s->process_x_virtual_mta, 1);
        assert_int_equal(s->process_x_job, 1);
        assert_int_equal(s->add_received_header, 0);
    }
    assert_false(cfg->sources[1].is_cidr);
    assert_string_equal(cfg->sources[1].name, "bulk-port");

    v = config_find_vmta(cfg, "VMTA-A");
    assert_non_null(v);
    assert_int_equal(v->nhosts, 2);
    assert_string_equal(v->hosts[0].ip, "192.0.2.10");
    assert_string_equal(v->hosts[0].hostname, "a.mta.example.net");
    assert_string_equal(v->hosts[1].ip, "2001:db8::10");
    assert_int_equal(v->ndomains, 1);
    assert_null(config_find_vmta(cfg, "pool-a"));
    pool = config_find_pool(cfg, "pool-a");
    assert_non_null(pool);
    assert_int_equal(pool->nmembers, 2);
    assert_string_equal(pool->members[1], "vmta-b");
    assert_null(config_find_pool(cfg, "vmta-a"));

    assert_int_equal(cfg->ndomains, 1);
    d = &cfg->domains[0].s;
    assert_string_equal(d->route, "[192.0.2.1]:2525,relay.example.net:25;backup.example.net");
    assert_int_equal(d->nretry, 3);
    assert_int_equal(d->retry_after[0], 60);
    assert_int_equal(d->retry_after[1], 300);
    assert_int_equal(d->retry_after[2], 900);
    assert_int_equal(d->retry_recipients_after, 180);
    assert_int_equal(d->bounce_after, 2 * 86400);
    assert_int_equal(d->max_smtp_retries, 12);
    assert_int_equal(d->max_smtp_out, 30);
    assert_int_equal(d->max_msg_per_connection, 100);
    assert_int_equal(d->max_rcpt_per_transaction, 50);
    assert_int_equal(d->connect_timeout, 30);
    assert_int_equal(d->greeting_timeout, 60);
    assert_int_equal(d->data_send_timeout, 120);
    assert_int_equal(d->data_termination_timeout, 300);
    assert_int_equal(d->idle_timeout, 600);

    assert_int_equal(cfg->nacct_files, 2);
    a = &cfg->acct_files[0];
    assert_non_null(strstr(a->path, "/tests/unit/lib/acct/acct.csv"));
    assert_int_equal(a->records, ACCT_REC_D | ACCT_REC_B | ACCT_REC_T | ACCT_REC_RB);
    assert_int_equal(a->nfields, 5);
    assert_int_equal(a->fields[0], AF_TYPE);
    assert_int_equal(a->fields[1], AF_TIME_LOGGED);
    assert_int_equal(a->fields[4], AF_DSN_STATUS);
    assert_true(a->max_size == 1ULL << 30);
    a = &cfg->acct_files[1];
    assert_string_equal(a->path, "/tmp/all.csv");
    assert_int_equal(a->records, ACCT_REC_D | ACCT_REC_B);
    assert_int_equal(a->nfields, AF_COUNT);
    assert_int_equal(a->fields[AF_COUNT - 1], AF_COUNT - 1);
    assert_true(a->max_size == 250ULL << 20);

    /* pool's gmail block, then the vmta's own */
    {
        struct cfg_domain_settings m;
        config_domain_settings(cfg, "vmta-a", "gmail.com", &m);
        assert_int_equal(m.max_smtp_out, 3);
        assert_int_equal(m.max_msg_per_connection, 50);
        assert_int_equal(m.connect_timeout, 30);
        config_domain_settings(cfg, "vmta-b", "gmail.com", &m);
        assert_int_equal(m.max_smtp_out, 8);
    }
    config_free(cfg);
}

static void test_defaults(void **state)
{
    struct config *cfg = load_ok("tests/unit/lib/data/minimal.conf");
    struct cfg_source_settings s;
    struct cfg_domain_settings d;
    struct sockaddr_storage ss;
    char host[256];

    assert_string_equal(cfg->spool_dir, "/var/spool/courser");
    assert_string_equal(cfg->run_dir, "/run/courser");
    assert_string_equal(cfg->log_file, "");
    assert_string_equal(cfg->daemon_dir, "");
    assert_string_equal(cfg->dns_server_ip, "");
    assert_string_equal(cfg->user, "courser");
    assert_string_equal(cfg->default_vmta, "");
    assert_string_equal(cfg->postmaster, "");
    assert_int_equal(gethostname(host, sizeof(host)), 0);
    assert_string_equal(cfg->host_name, host);
    assert_int_equal(cfg->smtpd_processes, 2);
    assert_int_equal(cfg->smtp_out_processes, 2);
    assert_int_equal(cfg->smtp_out_slots, 200);
    assert_int_equal(cfg->sync_msg_create, 1);
    /* PowerMTA's implicit listener */
    assert_int_equal(cfg->nlisteners, 1);
    assert_string_equal(cfg->listeners[0].ip, "0.0.0.0");
    assert_int_equal(cfg->listeners[0].port, 25);

    memset(&ss, 0, sizeof(ss));
    ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
    config_source_settings(cfg, (struct sockaddr *)&ss, NULL, &s);
    assert_int_equal(s.smtp_service, 1);
    assert_int_equal(s.always_allow_relaying, 0);
    assert_string_equal(s.default_vmta, "");
    assert_true(s.max_message_size == 50ULL << 20);
    assert_int_equal(s.max_rcpt_per_message, 1000);
    assert_int_equal(s.smtp_command_timeout, 300);
    assert_int_equal(s.smtp_data_timeout, 600);
    assert_int_equal(s.max_errors, 10);
    assert_int_equal(s.max_line_length, 1000);
    assert_int_equal(s.process_x_virtual_mta, 0);
    assert_int_equal(s.process_x_job, 0);
    assert_int_equal(s.add_received_header, 1);

    config_domain_settings(cfg, NULL, "example.com", &d);
    assert_string_equal(d.route, "");
    assert_int_equal(d.nretry, 1);
    assert_int_equal(d.retry_after[0], 600);
    assert_int_equal(d.retry_recipients_after, 600);
    assert_int_equal(d.bounce_after, 4 * 86400 + 12 * 3600);
    assert_int_equal(d.max_smtp_retries, 0);
    assert_int_equal(d.max_smtp_out, 20);
    assert_int_equal(d.max_msg_per_connection, 0);
    assert_int_equal(d.max_rcpt_per_transaction, 1000);
    assert_int_equal(d.connect_timeout, 120);
    assert_int_equal(d.greeting_timeout, 300);
    assert_int_equal(d.data_send_timeout, 180);
    assert_int_equal(d.data_termination_timeout, 600);
    assert_int_equal(d.idle_timeout, 0);
    config_free(cfg);
}

static void test_synonyms(void **state)
{
    struct config *cfg = load_ok("tests/unit/lib/data/synonyms.conf");
    struct cfg_domain_settings d;

    assert_string_equal(cfg->dns_server_ip, "192.0.2.53");
    assert_int_equal(cfg->dns_server_port, 53);
    config_domain_settings(cfg, "", "Example.COM", &d);
    assert_string_equal(d.route, "[127.0.0.1]:2525");
    assert_int_equal(d.bounce_after, 86400);
    assert_int_equal(d.max_rcpt_per_transaction, 7);
    config_free(cfg);
}

static void test_include(void **state)
{
    struct config *cfg = load_ok("tests/unit/lib/data/inc/main.conf");

    /* the conf.d glob is read in sorted order: 20-second's host-name wins */
    assert_string_equal(cfg->host_name, "second.example");
    assert_int_equal(cfg->nvmtas, 2);
    assert_string_equal(cfg->vmtas[0].name, "v10");
    assert_non_null(strstr(cfg->vmtas[0].file, "inc/conf.d/10-first.conf"));
    assert_int_equal(cfg->vmtas[0].line, 2);
    assert_string_equal(cfg->vmtas[1].name, "v20");
    assert_non_null(strstr(cfg->vmtas[1].file, "inc/conf.d/../sub/nested.inc"));
    assert_int_equal(cfg->vmtas[1].nhosts, 1);
    assert_int_equal(cfg->nsources, 1);
    assert_int_equal(cfg->sources[0].s.always_allow_relaying, 1);
    assert_int_equal(cfg->sources[0].line, 4);
    config_free(cfg);
}

static void test_merge_domain(void **state)
{
    struct config *cfg = load_ok("tests/unit/lib/data/merge.conf");
    struct cfg_domain_settings d;

    config_domain_settings(cfg, NULL, "x.a.example.com", &d);
    assert_int_equal(d.max_smtp_out, 5);        /* [*.]a.example.com: longest suffix */
    assert_int_equal(d.nretry, 2);              /* from * */
    assert_int_equal(d.retry_after[1], 120);
    assert_int_equal(d.bounce_after, 2 * 86400);/* [*.]example.com */
    assert_int_equal(d.connect_timeout, 33);    /* *.example.com */
    assert_int_equal(d.max_msg_per_connection, 9); /* *.COM, case-insensitive */

    config_domain_settings(cfg, NULL, "b.example.com", &d);
    assert_int_equal(d.max_smtp_out, 3);        /* *.x beats [*.]x */
    config_domain_settings(cfg, NULL, "example.com", &d);
    assert_int_equal(d.max_smtp_out, 4);        /* exact beats [*.]x; *.x does not match */
    assert_int_equal(d.connect_timeout, 120);
    config_domain_settings(cfg, "", "EXAMPLE.com.", &d);
    assert_int_equal(d.max_smtp_out, 4);
    config_domain_settings(cfg, NULL, "other.org", &d);
    assert_int_equal(d.max_smtp_out, 1);
    assert_int_equal(d.max_msg_per_connection, 0);

    /* global, then pool p1, then vmta v1 */
    config_domain_settings(cfg, "v1", "example.com", &d);
    assert_int_equal(d.max_smtp_out, 40);
    assert_int_equal(d.connect_timeout, 44);
    assert_int_equal(d.bounce_after, 86400);
    assert_int_equal(d.max_msg_per_connection, 9);
    config_domain_settings(cfg, "v1", "z.example.com", &d);
    assert_int_equal(d.max_smtp_out, 40);
    assert_int_equal(d.bounce_after, 2 * 86400);
    config_domain_settings(cfg, "v2", "example.com", &d);
    assert_int_equal(d.max_smtp_out, 4);
    config_domain_settings(cfg, "p1", "example.com", &d);
    assert_int_equal(d.max_smtp_out, 40);
    assert_int_equal(d.bounce_after, 2 * 86400);
    config_domain_settings(cfg, "unknown", "example.com", &d);
    assert_int_equal(d.max_smtp_out, 4);
    config_free(cfg);
}

static void source_for(const struct config *cfg, const char *ip, const char *src,
                       struct cfg_source_settings *s)
{
    struct sockaddr_storage ss;
    socklen_t len;

    assert_int_equal(net_sockaddr(ip, 1234, &ss, &len), 0);
    config_source_settings(cfg, (struct sockaddr *)&ss, src, s);
}

static void test_merge_source(void **state)
{
    struct config *cfg = load_ok("tests/unit/lib/data/merge.conf");
    struct cfg_source_settings s;

    source_for(cfg, "10.1.2.3", NULL, &s);
    assert_int_equal(s.max_errors, 3);          /* /16 beats /8 beats 0/0 */
    assert_int_equal(s.always_allow_relaying, 1);
    assert_int_equal(s.max_rcpt_per_message, 11);
    assert_int_equal(s.smtp_service, 1);
    assert_int_equal(s.max_line_length, 1000);
    source_for(cfg, "10.1.2.3", "special", &s);  /* the named source comes last */
    assert_int_equal(s.always_allow_relaying, 0);
    assert_int_equal(s.smtp_service, 0);
    assert_int_equal(s.max_errors, 3);
    source_for(cfg, "10.9.2.3", "", &s);
    assert_int_equal(s.max_errors, 2);
    source_for(cfg, "192.0.2.1", NULL, &s);
    assert_int_equal(s.max_errors, 1);
    assert_int_equal(s.always_allow_relaying, 0);
    source_for(cfg, "::1", NULL, &s);
    assert_int_equal(s.max_errors, 10);
    assert_int_equal(s.max_line_length, 4000);
    source_for(cfg, "::ffff:10.1.2.3", NULL, &s);
    assert_int_equal(s.max_errors, 3);
    assert_int_equal(s.max_line_length, 4000);
    assert_int_equal(cfg->nlisteners, 2);
    assert_string_equal(cfg->listeners[1].source, "special");
    config_free(cfg);
}

static void test_domain_match(void **state)
{
    assert_true(config_domain_match("*", "a.b"));
    assert_false(config_domain_match("*", ""));
    assert_true(config_domain_match("a.com", "A.COM"));
    assert_false(config_domain_match("a.com", "b.a.com"));
    assert_false(config_domain_match("a.com", "xa.com"));
    assert_true(config_domain_match("*.a.com", "b.a.com"));
    assert_true(config_domain_match("*.a.com", "c.b.a.com"));
    assert_false(config_domain_match("*.a.com", "a.com"));
    assert_false(config_domain_match("*.a.com", "ba.com"));
    assert_true(config_domain_match("[*.]a.com", "a.com"));
    assert_true(config_domain_match("[*.]a.com", "b.A.com"));
    assert_false(config_domain_match("[*.]a.com", "ba.com"));
}

static void test_conf_courser(void **state)
{
    struct config *cfg = load_ok("conf/courser.conf");
    struct cfg_domain_settings d;
    struct cfg_source_settings s;

    assert_int_equal(cfg->nlisteners, 1);
    assert_string_equal(cfg->listeners[0].ip, "127.0.0.1");
    assert_int_equal(cfg->listeners[0].port, 2525);
    assert_non_null(strstr(cfg->spool_dir, "/var/spool"));
    assert_null(strstr(cfg->spool_dir, "conf"));
    assert_non_null(strstr(cfg->run_dir, "/var/run"));
    assert_string_equal(cfg->log_file, "");
    assert_string_equal(cfg->dns_server_ip, "");
    assert_int_equal(cfg->nacct_files, 1);
    assert_int_equal(cfg->acct_files[0].records, ACCT_REC_D | ACCT_REC_B | ACCT_REC_T);
    config_domain_settings(cfg, cfg->default_vmta, "example.com", &d);
    assert_int_equal(d.nretry, 6);
    assert_int_equal(d.retry_after[5], 4 * 3600);
    assert_int_equal(d.bounce_after, 4 * 86400 + 12 * 3600);
    source_for(cfg, "127.0.0.1", NULL, &s);
    assert_int_equal(s.always_allow_relaying, 1);
    source_for(cfg, "192.0.2.1", NULL, &s);
    assert_int_equal(s.always_allow_relaying, 0);
    config_free(cfg);
}

/* The committed docs/config.md must be what config_write_docs prints. */
static void test_docs(void **state)
{
    char *mem = NULL, *file;
    size_t memlen = 0;
    long flen;
    FILE *out = open_memstream(&mem, &memlen), *fp;

    assert_non_null(out);
    assert_int_equal(config_write_docs(out), 0);
    assert_int_equal(fclose(out), 0);
    assert_non_null(strstr(mem, "| `bounce-after` (also `expire-after`) | interval 1m..52w1d | `4d12h` |"));
    assert_non_null(strstr(mem, "| `dkim-sign` |"));
    fp = fopen(path_of("docs/config.md"), "r");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    flen = ftell(fp);
    rewind(fp);
    file = malloc((size_t)flen + 1);
    assert_non_null(file);
    assert_int_equal(fread(file, 1, (size_t)flen, fp), (size_t)flen);
    file[flen] = '\0';
    fclose(fp);
    if ((size_t)flen != memlen || memcmp(file, mem, memlen) != 0)
        fail_msg("docs/config.md is stale: regenerate with `make docs`");
    free(file);
    free(mem);
}

/* Every supported entry's default text parses through its own handler. */
static void test_table(void **state)
{
    size_t i;
    char why[512];

    for (i = 0; i < cfg_table_len; i++) {
        const struct cfg_directive *d = &cfg_table[i];
        assert_non_null(d->help);
        if (d->flags & CDF_UNSUPPORTED)
            continue;
        assert_non_null(cfg_table_lookup(d->name, d->type == CT_BLOCK, d->scopes));
        if (d->store == CST_DOMAIN || d->store == CST_SOURCE)
            assert_true(d->bit >= 0 && d->bit < 64);
    }
    assert_ptr_equal(cfg_table_lookup("max-rcpt-per-message", 0, CS_DOMAIN),
                     cfg_table_lookup("max-rcpt-per-transaction", 0, CS_DOMAIN));
    assert_ptr_not_equal(cfg_table_lookup("max-rcpt-per-message", 0, CS_SOURCE),
                         cfg_table_lookup("max-rcpt-per-transaction", 0, CS_DOMAIN));
    assert_null(cfg_table_lookup("no-such-thing", 0, CS_ALL));
    (void)why;
}

static void test_path_join(void **state)
{
    char out[PATH_MAX], small[8];

    assert_int_equal(cfg_path_join("/a/conf", "../var/spool", out, sizeof(out)), 0);
    assert_string_equal(out, "/a/var/spool");
    assert_int_equal(cfg_path_join("/a/conf", "./x//y/", out, sizeof(out)), 0);
    assert_string_equal(out, "/a/conf/x/y");
    assert_int_equal(cfg_path_join("/a", "/abs/../b", out, sizeof(out)), 0);
    assert_string_equal(out, "/b");
    assert_int_equal(cfg_path_join("/", "../..", out, sizeof(out)), 0);
    assert_string_equal(out, "/");
    assert_int_equal(cfg_path_join(NULL, "rel", out, sizeof(out)), -1);
    assert_int_equal(cfg_path_join("/a", "", out, sizeof(out)), -1);
    assert_int_equal(cfg_path_join("/a", "bcdefghij", small, sizeof(small)), -1);
}

static void test_errors(void **state)
{
    char big[9100], retry[400], line[64];
    size_t i;

    expect_err("foo bar\n", "1: unknown directive 'foo'");
    expect_err("\xef\xbb\xbf# BOM\r\nhost-name x.example\r\nfoo\r\n", "3: unknown directive 'foo'");
    expect_err("\n\nmax-errors-per-connection 5\n", "3: not supported yet: max-errors-per-connection");
    expect_err("\n\nmax-msg-rate 600/h\n", "3: max-msg-rate is not allowed in global scope");
    expect_err("<domain *>\n  use-starttls yes\n</domain>\n", "2: not supported yet: use-starttls");
    expect_err("<email-patterns>\n</email-patterns>\n", "1: not supported yet: <email-patterns>");
    expect_err("<smtp-pattern-list x>\nreply /x/ skip-mx,bounce-queue\n</smtp-pattern-list>\n",
               "2: reply: skip-mx and bounce-queue in one rule: '/x/ skip-mx,bounce-queue'");
    expect_err("<smtp-pattern-list x>\nreply /(/ mode=backoff\n</smtp-pattern-list>\n",
               "2: reply: bad regex at offset 1: missing closing parenthesis: '/(/ mode=backoff'");
    expect_err("<domain *>\nsmtp-pattern-list nope\n</domain>\n",
               "2: smtp-pattern-list: no such <smtp-pattern-list>: 'nope'");
    expect_err("<domain *>\nmax-msg-rate 5/x\n</domain>\n",
               "2: max-msg-rate: not a rate (e.g. 600/h, 83/10m or unlimited): '5/x'");
    expect_err("smtp-service yes\n", "1: smtp-service is not allowed in global scope");
    expect_err("<source 10.0.0.0/8>\nmax-smtp-out 3\n</source>\n",
               "2: max-smtp-out is not allowed in <source>");
    expect_err("<domain x.com>\n<domain y.com>\n</domain>\n</domain>\n",
               "2: <domain> is not allowed in <domain>");
    expect_err("# c\n<domain x.com>\nmax-smtp-out 3\n", "2: <domain> block not closed");
    expect_err("</domain>\n", "1: </domain> without a matching open block");
    expect_err("<source 1.2.3.4>\n</domain>\n",
               "2: </domain> does not close <source> (opened at ~/t.conf:1)");
    expect_err("<domain *>\nmax-smtp-out x\n</domain>\n", "2: max-smtp-out: not a number: 'x'");
    expect_err("<domain *>\nmax-smtp-out 0\n</domain>\n",
               "2: max-smtp-out: must be between 1 and 100000: '0'");
    expect_err("<domain *>\nconnection-idle-timeout 11m\n</domain>\n",
               "2: connection-idle-timeout: must be between 0s and 10m: '11m'");
    expect_err("<domain *>\nbounce-after soon\n</domain>\n",
               "2: bounce-after: not a time interval (e.g. 30s, 10m, 4d12h): 'soon'");
    expect_err("<domain *>\nexpire-after 10s\n</domain>\n",
               "2: expire-after: must be between 1m and 52w1d: '10s'");
    expect_err("sync-msg-create maybe\n", "1: sync-msg-create: not yes or no: 'maybe'");
    expect_err("smtpd-processes 65\n", "1: smtpd-processes: must be between 1 and 64: '65'");
    expect_err("<source 0/0>\nmax-message-size 20X\n</source>\n",
               "2: max-message-size: not a size (e.g. 512k, 20M): '20X'");
    expect_err("<domain *>\nmax-smtp-out\n</domain>\n", "2: max-smtp-out: missing value");
    expect_err("<domain *>\nretry-after 1m,,2m\n</domain>\n",
               "2: retry-after: not a list of time intervals (e.g. 10m,30m,1h): '1m,,2m'");
    strcpy(retry, "<domain *>\nretry-after 1m");
    for (i = 0; i < 30; i++)
        strcat(retry, ",1m");
    strcat(retry, "\n</domain>\n");
    expect_err(retry, "2: retry-after: more than 30 intervals: '1m,1m,1m,1m,1m,1m,1m,1m,1m,1m,1m,"
               "1m,1m,1m,1m,1m,1m,1m,1m,1m,1m,1m,1m,1m,1m,1m,1m,1m,1m,1m,1m'");
    expect_err("<virtual-mta a>\n</virtual-mta>\n<virtual-mta-pool A>\n</virtual-mta-pool>\n",
               "3: <virtual-mta-pool>: name already used at ~/t.conf:1: 'A'");
    expect_err("<virtual-mta a>\n</virtual-mta>\n<virtual-mta a>\n</virtual-mta>\n",
               "3: <virtual-mta>: name already used at ~/t.conf:1: 'a'");
    expect_err("<virtual-mta-pool p>\nvirtual-mta nope\n</virtual-mta-pool>\n",
               "2: virtual-mta: no such <virtual-mta>: 'nope'");
    expect_err("default-virtual-mta nope\n",
               "1: default-virtual-mta: no such <virtual-mta> or <virtual-mta-pool>: 'nope'");
    expect_err("\ndefault-virtual-mta by-smtp-source-ip\n",
               "2: default-virtual-mta: only in <source>: 'by-smtp-source-ip'");
    expect_err("smtp-listener 127.0.0.1:25 source=nope\n",
               "1: smtp-listener: no such named <source>: 'nope'");
    expect_err("<source 10.0.0.0/8>\n</source>\nsmtp-listener 127.0.0.1:25 source=10.0.0.0/8\n",
               "3: smtp-listener: no such named <source>: '10.0.0.0/8'");
    expect_err("smtp-listener 127.0.0.1\n", "1: smtp-listener: not IP:PORT: '127.0.0.1'");
    expect_err("smtp-listener localhost:25\n", "1: smtp-listener: not IP:PORT: 'localhost:25'");
    expect_err("smtp-listener 127.0.0.1:25 tls=yes\n",
               "1: smtp-listener: expected source=NAME: 'tls=yes'");
    expect_err("smtp-listener 127.0.0.1:25\nsmtp-listener 127.0.0.1:25\n",
               "2: smtp-listener: listener given twice: '127.0.0.1:25'");
    expect_err("<smtp-listener 127.0.0.1:25>\nimmediate-tls yes\n</smtp-listener>\n",
               "2: not supported yet: immediate-tls");
    big[0] = '#';
    memset(big + 1, 'x', sizeof(big) - 2);
    big[sizeof(big) - 1] = '\n';
    expect_err_len(big, sizeof(big), "1: line longer than 8192 bytes");
    expect_err_len("host-name a\0b\n", 14, "1: NUL byte in line");
    expect_err("host-name a\x01" "b\n", "1: host-name: not a host name: 'a\\x01b'");
    expect_err("postmaster nobody\n", "1: postmaster: not an address (local@domain): 'nobody'");
    expect_err("include missing.conf\n",
               "1: include: cannot open (No such file or directory): 'missing.conf'");
    expect_err("\ninclude t.conf\n", "2: include: loop: '~/t.conf'");
    expect_err("<domain $tld>\n</domain>\n",
               "1: <domain>: no such domain-macro: '$tld'");
    expect_err("<domain [10.0.0.0/8]>\n</domain>\n",
               "1: <domain>: IP literal domains are not supported yet: '[10.0.0.0/8]'");
    expect_err("<domain bad..com>\n</domain>\n", "1: <domain>: not a domain pattern: 'bad..com'");
    expect_err("<source>\n", "1: <source>: missing argument");
    expect_err("<source 10.0.0.0/8\n", "1: block tag without closing '>'");
    expect_err("<frob x>\n</frob>\n", "1: unknown block '<frob>'");
    expect_err("<acct-file a.csv>\nrecords d,x\n</acct-file>\n", "2: records: unknown record type: 'x'");
    expect_err("<acct-file a.csv>\nrecord-fields type,nope\n</acct-file>\n",
               "2: record-fields: unknown accounting field: 'nope'");
    expect_err("<acct-file a.csv>\nrecord-fields x type\n</acct-file>\n",
               "2: record-fields: unknown record type: 'x'");
    expect_err("<acct-file a.csv>\nrecord-fields type,type\n</acct-file>\n",
               "2: record-fields: field listed twice: 'type'");
    expect_err("<acct-file |/bin/cat>\n</acct-file>\n",
               "1: <acct-file>: pipes are not supported yet: '|/bin/cat'");
    expect_err("<acct-file a.csv>\n</acct-file>\n<acct-file ./a.csv>\n</acct-file>\n",
               "3: <acct-file>: file already used at ~/t.conf:1: './a.csv'");
    expect_err("relay-domain *\n", "1: relay-domain: would make an open relay: '*'");
    expect_err("<virtual-mta v>\nsmtp-source-host 1.2.3.4\n</virtual-mta>\n",
               "2: smtp-source-host: expected IP HOSTNAME: '1.2.3.4'");
    expect_err("<virtual-mta v>\nsmtp-source-host 1.2.3.0/24 h.example\n</virtual-mta>\n",
               "2: smtp-source-host: address ranges are not supported yet: '1.2.3.0/24'");
    expect_err("<domain *>\nroute host:99999\n</domain>\n",
               "2: route: not [IP]:PORT or host:port: 'host:99999'");
    expect_err("dns-server 1.2.3.4,5.6.7.8\n",
               "1: dns-server: only one server is supported yet: '1.2.3.4,5.6.7.8'");
    expect_err("<spool /a>\n</spool>\n<spool /b>\n</spool>\n",
               "3: <spool>: only one spool is supported yet: '/b'");
    expect_err("<virtual-mta a>\n</virtual-mta>\n"
               "<virtual-mta-pool p1>\nvirtual-mta a\n<domain *>\n</domain>\n</virtual-mta-pool>\n"
               "<virtual-mta-pool p2>\nvirtual-mta a\n<domain x.com>\n</domain>\n</virtual-mta-pool>\n",
               "8: <virtual-mta-pool>: virtual-mta 'a' is also in pool 'p1' and both have <domain> blocks");

    /* errors inside included files name the included file */
    write_file("i.conf", "host-name ok.example\nmax-smtp-out 3\n", 36);
    expect_err("include i.conf\n", "~/i.conf:2: max-smtp-out is not allowed in global scope");
    write_file("open.conf", "<domain *>\n", 11);
    expect_err("include open.conf\n</domain>\n", "~/open.conf:1: <domain> block not closed");
    /* include depth: t.conf -> f1 -> ... -> f17 */
    for (i = 1; i <= 17; i++) {
        snprintf(line, sizeof(line), "include f%zu.conf\n", i + 1);
        snprintf(big, sizeof(big), "f%zu.conf", i);
        write_file(big, line, strlen(line));
    }
    expect_err("include f1.conf\n", "~/f16.conf:1: include: nested deeper than 16: 'f17.conf'");
}

/* Errors whose file is not t.conf: compare the whole line. */
static void test_errors_other_file(void **state)
{
    struct config *cfg = NULL;
    char err[512];

    assert_int_equal(config_load("/nonexistent/courser.conf", &cfg, err, sizeof(err)), -1);
    assert_string_equal(err, "/nonexistent/courser.conf: cannot open: No such file or directory");
    assert_null(cfg);
    /* a tiny err buffer is truncated, never overrun */
    assert_int_equal(config_load("/nonexistent/courser.conf", &cfg, err, 8), -1);
    assert_string_equal(err, "/nonexi");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_synonyms),
        cmocka_unit_test(test_include),
        cmocka_unit_test(test_merge_domain),
        cmocka_unit_test(test_merge_source),
        cmocka_unit_test(test_domain_match),
        cmocka_unit_test(test_conf_courser),
        cmocka_unit_test(test_docs),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_path_join),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_errors_other_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
