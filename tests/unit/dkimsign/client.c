/* Unit tests: smtp-out's side of DKIM against a real dkimsign server
 * (dkimsign/server.c, run in a child process): dkim_job plans, hashes
 * the body in chunks and builds the inputs; dkim_client sends them and
 * gets signatures that verify with the public key; refusals and a dead
 * server come back as one callback each; cancel drops the callback. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "dkim_client.h"
#include "dkim_job.h"
#include "../../../dkimsign/dkimsign.h"
#include "log.h"
#include "net.h"

static char dir[] = "/tmp/dkim_client_test.XXXXXX";
static char sock[300], conf[300];
static pid_t child;
static struct config *cfg;

static const char msg[] =
    "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\n"
    "Hello  \r\nworld\r\n\r\n";

static int setup(void **state)
{
    struct dkim_key *k;
    char err[512], path[400];
    FILE *fp;
    int fd;

    log_init("dkim_client_test");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/rsa.pem", dir);
    if (dkim_key_generate(DKIM_ALG_RSA_SHA256, 1024, path, &k, err, sizeof(err)) < 0)
        return -1;
    dkim_key_free(k);
    snprintf(path, sizeof(path), "%s/ed.pem", dir);
    if (dkim_key_generate(DKIM_ALG_ED25519_SHA256, 0, path, &k, err, sizeof(err)) < 0)
        return -1;
    dkim_key_free(k);
    snprintf(conf, sizeof(conf), "%s/c.conf", dir);
    fp = fopen(conf, "w");
    fprintf(fp, "run-dir %s\nlog-file %s/log\ndomain-key r,example.com,rsa.pem\n"
                "domain-key e,example.com,ed.pem,ed25519\n<domain *>\n dkim-sign yes\n</domain>\n",
            dir, dir);
    fclose(fp);
    if (config_load(conf, &cfg, err, sizeof(err)) < 0)
        return -1;
    snprintf(sock, sizeof(sock), "%s/dkimsign.sock", dir);
    if ((fd = net_listen_unix(sock)) < 0)
        return -1;
    child = fork();
    if (child == 0) {
        struct config *c2;
        if (config_load(conf, &c2, err, sizeof(err)) < 0 || log_open_file(c2->log_file) < 0)
            _exit(3);
        _exit(dkimsign_run(c2->path, c2, fd, 0));
    }
    close(fd);
    return child > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];

    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    config_free(cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

struct result {
    int done, status;
    char sig[DKIM_SIG_B64_MAX], error[600];
};

static void on_sig(void *arg, int status, const char *error, const char *sig)
{
    struct result *r = arg;

    r->done++;
    r->status = status;
    snprintf(r->error, sizeof(r->error), "%s", error);
    snprintf(r->sig, sizeof(r->sig), "%s", sig ? sig : "");
}

static void run_until(uv_loop_t *loop, struct result *r, int n)
{
    int i, done;

    for (i = 0; i < 5000; i++) {
        for (done = 0; done < n && r[done].done; done++)
            ;
        if (done == n)
            return;
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    fail_msg("no reply in 5 s");
}

/* verify - sig over input with the key file's public half. */
static int verify(const char *keyfile, enum dkim_alg alg, const struct buf *input, const char *b64)
{
    unsigned char raw[600], h[32];
    unsigned int hl;
    FILE *fp = fopen(keyfile, "r");
    EVP_PKEY *pk = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)strlen(b64)), ok;
    size_t len = strlen(b64);

    fclose(fp);
    while (len > 0 && b64[--len] == '=')
        n--;
    if (alg == DKIM_ALG_ED25519_SHA256) {
        EVP_Digest(input->data, input->len, h, &hl, EVP_sha256(), NULL);
        ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1
             && EVP_DigestVerify(ctx, raw, (size_t)n, h, 32) == 1;
    } else {
        ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1
             && EVP_DigestVerify(ctx, raw, (size_t)n, (const unsigned char *)input->data,
                                 input->len) == 1;
    }
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return ok;
}

static void test_job_and_client(void **state)
{
    uv_loop_t loop;
    struct cfg_domain_settings ds;
    struct dkim_client *c;
    struct dkim_job *j;
    struct result r[2];
    struct buf out;
    char err[512], path[400];
    size_t i, off;

    assert_int_equal(uv_loop_init(&loop), 0);
    config_domain_settings(cfg, NULL, "example.org", &ds);
    assert_int_equal(dkim_job_begin(&j, cfg, NULL, &ds, msg, sizeof(msg) - 1, sizeof(msg) - 1,
                                    err, sizeof(err)), 2);
    for (off = dkim_job_body_offset(j); off < sizeof(msg) - 1; off += 3)
        assert_int_equal(dkim_job_body(j, msg + off, sizeof(msg) - 1 - off < 3 ? sizeof(msg) - 1 - off : 3), 0);
    assert_int_equal(dkim_job_prepare(j, 1700000000, err, sizeof(err)), 0);
    assert_int_equal(dkim_job_count(j), 2);
    c = dkim_client_new(&loop, sock);
    assert_non_null(c);
    memset(r, 0, sizeof(r));
    for (i = 0; i < 2; i++)
        assert_true(dkim_client_sign(c, dkim_job_key(j, i), dkim_job_input(j, i), on_sig, &r[i]) > 0);
    assert_int_equal(dkim_client_pending(c), 2);
    run_until(&loop, r, 2);
    for (i = 0; i < 2; i++) {
        const struct dkim_key_ref *k = dkim_job_key(j, i);
        assert_int_equal(r[i].status, DKIM_ST_OK);
        snprintf(path, sizeof(path), "%s/%s", dir, k->alg == DKIM_ALG_RSA_SHA256 ? "rsa.pem" : "ed.pem");
        assert_true(verify(path, k->alg, dkim_job_input(j, i), r[i].sig));
        assert_int_equal(dkim_job_set_signature(j, i, r[i].sig), 0);
    }
    buf_init(&out, 1 << 20);
    assert_int_equal(dkim_job_headers(j, &out), 0);
    assert_int_equal(strncmp(out.data, "DKIM-Signature: v=1; a=rsa-sha256;", 34), 0);
    assert_non_null(strstr(out.data, "\r\nDKIM-Signature: v=1; a=ed25519-sha256;"));
    buf_free(&out);

    /* A key dkimsign does not have: refused, one callback. */
    {
        struct dkim_key_ref bad = *dkim_job_key(j, 0);
        snprintf(bad.selector, sizeof(bad.selector), "zz");
        memset(r, 0, sizeof(r));
        assert_true(dkim_client_sign(c, &bad, dkim_job_input(j, 0), on_sig, &r[0]) > 0);
        run_until(&loop, r, 1);
        assert_int_equal(r[0].status, DKIM_ST_UNKNOWN_KEY);
        assert_non_null(strstr(r[0].error, "zz._domainkey.example.com"));
    }
    /* Cancelled: no callback; then the server dies: UNAVAILABLE. */
    memset(r, 0, sizeof(r));
    dkim_client_cancel(c, dkim_client_sign(c, dkim_job_key(j, 0), dkim_job_input(j, 0), on_sig, &r[0]));
    assert_true(dkim_client_sign(c, dkim_job_key(j, 0), dkim_job_input(j, 0), on_sig, &r[1]) > 0);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    child = 0;
    for (i = 0; i < 300 && !r[1].done; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_int_equal(r[0].done, 0);
    assert_true(r[1].done == 1 && (r[1].status == DKIM_ST_UNAVAILABLE || r[1].status == DKIM_ST_OK));
    assert_int_equal(dkim_client_pending(c), 0);
    dkim_job_free(j);
    dkim_client_free(c);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_job_bounds(void **state)
{
    struct cfg_domain_settings ds;
    struct dkim_job *j;
    char err[512];

    config_domain_settings(cfg, NULL, "example.org", &ds);
    /* The first bytes hold no end of header but the message is longer. */
    assert_int_equal(dkim_job_begin(&j, cfg, NULL, &ds, msg, 20, 5000, err, sizeof(err)),
                     DKIM_JOB_NEED_MORE);
    dkim_job_free(j);
    {
        size_t n = DKIM_HEADER_BYTES + 2;
        char *big = malloc(n);
        memcpy(big, "X: ", 3);
        memset(big + 3, 'a', n - 3);
        assert_int_equal(dkim_job_begin(&j, cfg, NULL, &ds, big, n, n + 100, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "larger than"));
        dkim_job_free(j);
        free(big);
    }
    /* No key for the identity: 0 signatures. */
    assert_int_equal(dkim_job_begin(&j, cfg, NULL, &ds, "From: a@else.org\r\n\r\n", 20, 20, err,
                                    sizeof(err)), 0);
    dkim_job_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_and_client),
        cmocka_unit_test(test_job_bounds),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, setup, teardown);
}
