/* Unit tests: DKIM key files (lib/dkim_key.c): every load error is the
 * specific one (missing, unreadable, malformed, wrong type, too small,
 * encrypted), PKCS#1 and PKCS#8 RSA and PKCS#8 Ed25519 load, keygen
 * writes 0600 and refuses to overwrite, signatures verify with the public
 * key (RSA PKCS#1 v1.5/SHA-256; Ed25519 over SHA-256 of the input, RFC
 * 8463), and the TXT record has the right shape. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "dkim_key.h"

static char dir[] = "/tmp/dkim_key_test.XXXXXX";

static const char *path(const char *name)
{
    static char p[4][256];
    static int i;

    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
    return p[i];
}

/* write_key - pkey as PEM: traditional (PKCS#1) or PKCS#8, maybe encrypted. */
static void write_key(EVP_PKEY *k, const char *file, int traditional, int encrypted)
{
    FILE *fp = fopen(path(file), "w");
    BIO *bio = BIO_new_fp(fp, BIO_NOCLOSE);

    assert_non_null(fp);
    if (traditional)
        assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, k, NULL, NULL, 0, NULL, NULL), 1);
    else if (encrypted)
        assert_int_equal(PEM_write_PrivateKey(fp, k, EVP_aes_128_cbc(), (unsigned char *)"pw", 2,
                                              NULL, NULL), 1);
    else
        assert_int_equal(PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL), 1);
    BIO_free(bio);
    fclose(fp);
}

static int setup(void **state)
{
    EVP_PKEY *k;
    FILE *fp;

    if (mkdtemp(dir) == NULL)
        return -1;
    k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    write_key(k, "rsa1024.pkcs1.pem", 1, 0);
    write_key(k, "rsa1024.pkcs8.pem", 0, 0);
    write_key(k, "rsa1024.enc.pem", 0, 1);
    EVP_PKEY_free(k);
    k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
    write_key(k, "rsa512.pem", 0, 0);
    EVP_PKEY_free(k);
    k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    write_key(k, "ec.pem", 0, 0);
    EVP_PKEY_free(k);
    k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    write_key(k, "ed.pem", 0, 0);
    EVP_PKEY_free(k);
    fp = fopen(path("garbage.pem"), "w");
    fputs("-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n", fp);
    fclose(fp);
    return mkdir(path("adir"), 0700);
}

static int teardown(void **state)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void expect_err(const char *file, enum dkim_alg expect, const char *want)
{
    struct dkim_key *k = (struct dkim_key *)1;
    char err[512];

    assert_int_equal(dkim_key_load(path(file), expect, &k, err, sizeof(err)), -1);
    assert_null(k);
    if (strstr(err, want) == NULL)
        fail_msg("error for %s is '%s', expected '%s'", file, err, want);
    assert_non_null(strstr(err, file));        /* names the file */
}

static void test_load_errors(void **state)
{
    expect_err("nope.pem", DKIM_ALG_NONE, ": missing");
    expect_err("adir", DKIM_ALG_NONE, ": unreadable (not a regular file)");
    expect_err("garbage.pem", DKIM_ALG_NONE, ": malformed");
    expect_err("rsa1024.enc.pem", DKIM_ALG_NONE, ": malformed");   /* never prompts */
    expect_err("ec.pem", DKIM_ALG_NONE, ": wrong type (id-ecPublicKey key");
    expect_err("ed.pem", DKIM_ALG_RSA_SHA256, ": wrong type (ed25519 key; expected rsa)");
    expect_err("rsa1024.pkcs8.pem", DKIM_ALG_ED25519_SHA256, ": wrong type (rsa key; expected ed25519)");
    expect_err("rsa512.pem", DKIM_ALG_NONE, ": too small (512 bits; at least 1024)");
}

/* verify - the signature checks out against the key's public half. */
static void verify(const char *file, const char *data)
{
    struct dkim_key *k;
    unsigned char sig[600], hash[32];
    char err[256], b64[DKIM_SIG_B64_MAX];
    EVP_PKEY *pk;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    FILE *fp = fopen(path(file), "r");
    unsigned int hl;
    int n;

    assert_int_equal(dkim_key_load(path(file), DKIM_ALG_NONE, &k, err, sizeof(err)), 0);
    assert_int_equal(dkim_key_sign(k, data, strlen(data), b64, err, sizeof(err)), 0);
    n = EVP_DecodeBlock(sig, (unsigned char *)b64, (int)strlen(b64));
    assert_true(n > 0);
    while (b64[strlen(b64) - 1] == '=') {       /* DecodeBlock counts padding */
        b64[strlen(b64) - 1] = '\0';
        n--;
    }
    pk = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(pk);
    if (dkim_key_alg(k) == DKIM_ALG_ED25519_SHA256) {
        assert_int_equal(n, 64);
        assert_int_equal(EVP_Digest(data, strlen(data), hash, &hl, EVP_sha256(), NULL), 1);
        assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk), 1);
        assert_int_equal(EVP_DigestVerify(ctx, sig, (size_t)n, hash, 32), 1);
    } else {
        assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk), 1);
        assert_int_equal(EVP_DigestVerify(ctx, sig, (size_t)n, (const unsigned char *)data,
                                          strlen(data)), 1);
    }
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    dkim_key_free(k);
}

static void test_load_and_sign(void **state)
{
    verify("rsa1024.pkcs1.pem", "dkim-signature:v=1; b=");
    verify("rsa1024.pkcs8.pem", "from:a@b.c\r\ndkim-signature:v=1; b=");
    verify("ed.pem", "from:a@b.c\r\ndkim-signature:v=1; a=ed25519-sha256; b=");
}

static void test_keygen_and_txt(void **state)
{
    struct dkim_key *k, *k2;
    struct stat st;
    char err[256], txt[DKIM_TXT_MAX];

    assert_int_equal(dkim_key_generate(DKIM_ALG_ED25519_SHA256, 0, path("new-ed.pem"), &k, err,
                                       sizeof(err)), 0);
    assert_int_equal(stat(path("new-ed.pem"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(dkim_key_alg(k), DKIM_ALG_ED25519_SHA256);
    assert_int_equal(dkim_key_txt(k, txt, sizeof(txt)), 0);
    assert_int_equal(strncmp(txt, "v=DKIM1; k=ed25519; p=", 22), 0);
    assert_int_equal(strlen(txt + 22), 44);     /* base64 of 32 bytes */
    /* The published record check (mtactl dkim check). */
    assert_int_equal(dkim_key_check_txt(k, txt, err, sizeof(err)), 0);
    {
        char folded[DKIM_TXT_MAX + 16];
        snprintf(folded, sizeof(folded), "v=DKIM1;k=ed25519 ; p = %.20s %s", txt + 22, txt + 42);
        assert_int_equal(dkim_key_check_txt(k, folded, err, sizeof(err)), 0);
    }
    assert_int_equal(dkim_key_check_txt(k, "v=DKIM1; k=ed25519; p=", err, sizeof(err)), -1);
    assert_string_equal(err, "key revoked (empty p=)");
    assert_int_equal(dkim_key_check_txt(k, "v=DKIM1; k=ed25519", err, sizeof(err)), -1);
    assert_string_equal(err, "no p= tag");
    assert_int_equal(dkim_key_check_txt(k, "v=DKIM1; p=AAAA", err, sizeof(err)), -1);
    assert_string_equal(err, "k=rsa but the key is ed25519");
    assert_int_equal(dkim_key_check_txt(k, "v=DKIM1; k=ed25519; p=gaHxURQbnCMvRCWXOY9wiHk8oyBqTv2jrbYPJCYgnps=",
                                        err, sizeof(err)), -1);
    assert_string_equal(err, "the published public key is not this key's");
    dkim_key_free(k);
    /* Never overwrites. */
    assert_int_equal(dkim_key_generate(DKIM_ALG_ED25519_SHA256, 0, path("new-ed.pem"), &k2, err,
                                       sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot create (File exists)"));
    assert_int_equal(dkim_key_generate(DKIM_ALG_RSA_SHA256, 512, path("x.pem"), &k2, err,
                                       sizeof(err)), -1);
    assert_int_equal(dkim_key_generate(DKIM_ALG_RSA_SHA256, 1024, path("new-rsa.pem"), &k, err,
                                       sizeof(err)), 0);
    assert_int_equal(dkim_key_bits(k), 1024);
    assert_int_equal(dkim_key_txt(k, txt, sizeof(txt)), 0);
    assert_int_equal(strncmp(txt, "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ", 56), 0);
    dkim_key_free(k);
}

static void test_alg_names(void **state)
{
    assert_int_equal(dkim_alg_parse("rsa-sha256", 0), DKIM_ALG_RSA_SHA256);
    assert_int_equal(dkim_alg_parse("ED25519-SHA256", 0), DKIM_ALG_ED25519_SHA256);
    assert_int_equal(dkim_alg_parse("rsa", 0), DKIM_ALG_NONE);
    assert_int_equal(dkim_alg_parse("rsa", 1), DKIM_ALG_RSA_SHA256);
    assert_int_equal(dkim_alg_parse("rsa-sha1", 1), DKIM_ALG_NONE);
    assert_string_equal(dkim_alg_name(DKIM_ALG_ED25519_SHA256), "ed25519-sha256");
    assert_string_equal(dkim_alg_keytype(DKIM_ALG_RSA_SHA256), "rsa");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_load_and_sign),
        cmocka_unit_test(test_keygen_and_txt),
        cmocka_unit_test(test_alg_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
