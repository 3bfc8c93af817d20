/*
 * dkim_key - load, use and create DKIM private keys with OpenSSL 3 (see
 * dkim_key.h).  Ed25519 signing goes through EVP_DigestSign with no
 * digest (PureEdDSA) over the SHA-256 of the input, which is RFC 8463's
 * construction; libsodium would give the same bytes.
 */
#include "dkim_key.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FILE_MAX (64 * 1024)

struct dkim_key {
    EVP_PKEY *pkey;
    enum dkim_alg alg;
    unsigned bits;
};

enum dkim_alg dkim_alg_parse(const char *s, int loose)
{
    if (strcasecmp(s, "rsa-sha256") == 0 || (loose && strcasecmp(s, "rsa") == 0))
        return DKIM_ALG_RSA_SHA256;
    if (strcasecmp(s, "ed25519-sha256") == 0 || (loose && strcasecmp(s, "ed25519") == 0))
        return DKIM_ALG_ED25519_SHA256;
    return DKIM_ALG_NONE;
}

const char *dkim_alg_name(enum dkim_alg a)
{
    return a == DKIM_ALG_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256";
}

const char *dkim_alg_keytype(enum dkim_alg a)
{
    return a == DKIM_ALG_ED25519_SHA256 ? "ed25519" : "rsa";
}

int dkim_base64(const unsigned char *in, size_t n, char *out, size_t outlen)
{
    if (n > (size_t)INT32_MAX / 2 || outlen < 4 * ((n + 2) / 3) + 1)
        return -1;
    (void)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return 0;
}

/* no_passphrase - an encrypted key must fail, never prompt on a tty. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf; (void)size; (void)rwflag; (void)u;
    return -1;
}

/* read_file - the whole (small) key file, with errno-specific errors. */
static int read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    char *p;
    ssize_t n;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            snprintf(err, errlen, "%s: missing", path);
        else
            snprintf(err, errlen, "%s: unreadable (%s)", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: unreadable (not a regular file)", path);
        close(fd);
        return -1;
    }
    if (st.st_size > KEY_FILE_MAX) {
        snprintf(err, errlen, "%s: malformed (larger than %d bytes)", path, KEY_FILE_MAX);
        close(fd);
        return -1;
    }
    if ((p = malloc((size_t)st.st_size + 1)) == NULL) {
        snprintf(err, errlen, "%s: no memory", path);
        close(fd);
        return -1;
    }
    while (got < (size_t)st.st_size && (n = read(fd, p + got, (size_t)st.st_size - got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "%s: unreadable (%s)", path, strerror(errno));
            free(p);
            close(fd);
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    p[got] = '\0';
    *data = p;
    *len = got;
    return 0;
}

/* raw_sign - one signature over data (md NULL: Ed25519) into sig. */
static int raw_sign(EVP_PKEY *pkey, const EVP_MD *md, const unsigned char *data, size_t len,
                    unsigned char *sig, size_t *siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok;

    if (ctx == NULL)
        return -1;
    ok = EVP_DigestSignInit(ctx, NULL, md, NULL, pkey) == 1
         && EVP_DigestSign(ctx, NULL, siglen, data, len) == 1 && *siglen <= DKIM_SIG_MAX
         && EVP_DigestSign(ctx, sig, siglen, data, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

int dkim_key_sign(const struct dkim_key *k, const void *data, size_t len,
                  char b64[DKIM_SIG_B64_MAX], char *err, size_t errlen)
{
    unsigned char sig[DKIM_SIG_MAX], hash[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;
    size_t siglen = 0;
    int rc;

    if (k->alg == DKIM_ALG_ED25519_SHA256) {
        /* RFC 8463 §3: Ed25519 signs the SHA-256 hash of the input. */
        if (EVP_Digest(data, len, hash, &hlen, EVP_sha256(), NULL) != 1)
            rc = -1;
        else
            rc = raw_sign(k->pkey, NULL, hash, hlen, sig, &siglen);
    } else {
        rc = raw_sign(k->pkey, EVP_sha256(), data, len, sig, &siglen);
    }
    if (rc < 0 || dkim_base64(sig, siglen, b64, DKIM_SIG_B64_MAX) < 0) {
        unsigned long e = ERR_get_error();
        snprintf(err, errlen, "signing failed (%s)", e ? ERR_reason_error_string(e) : "?");
        ERR_clear_error();
        return -1;
    }
    return 0;
}

/* key_check - type and size of a parsed key against what is expected. */
static int key_check(struct dkim_key *k, const char *path, enum dkim_alg expect,
                     char *err, size_t errlen)
{
    int id = EVP_PKEY_get_base_id(k->pkey);
    char b64[DKIM_SIG_B64_MAX], why[128];

    if (id == EVP_PKEY_RSA)
        k->alg = DKIM_ALG_RSA_SHA256;
    else if (id == EVP_PKEY_ED25519)
        k->alg = DKIM_ALG_ED25519_SHA256;
    else
        return snprintf(err, errlen, "%s: wrong type (%s key; expected RSA or Ed25519)",
                        path, OBJ_nid2sn(id)), -1;
    if (expect != DKIM_ALG_NONE && expect != k->alg)
        return snprintf(err, errlen, "%s: wrong type (%s key; expected %s)", path,
                        dkim_alg_keytype(k->alg), dkim_alg_keytype(expect)), -1;
    k->bits = (unsigned)EVP_PKEY_get_bits(k->pkey);
    if (k->alg == DKIM_ALG_RSA_SHA256 && k->bits < DKIM_RSA_MIN_BITS)
        return snprintf(err, errlen, "%s: too small (%u bits; at least %d)", path, k->bits,
                        DKIM_RSA_MIN_BITS), -1;
    if (k->alg == DKIM_ALG_RSA_SHA256 && k->bits > DKIM_RSA_MAX_BITS)
        return snprintf(err, errlen, "%s: too large (%u bits; at most %d)", path, k->bits,
                        DKIM_RSA_MAX_BITS), -1;
    /* One signature now: proves the key works and settles any lazy state in
     * the key object before threads share it. */
    if (dkim_key_sign(k, "x", 1, b64, why, sizeof(why)) < 0)
        return snprintf(err, errlen, "%s: malformed (%s)", path, why), -1;
    return 0;
}

int dkim_key_load(const char *path, enum dkim_alg expect, struct dkim_key **out,
                  char *err, size_t errlen)
{
    struct dkim_key *k;
    char *data = NULL;
    size_t len = 0;
    BIO *bio;

    *out = NULL;
    if (read_file(path, &data, &len, err, errlen) < 0)
        return -1;
    if ((k = calloc(1, sizeof(*k))) == NULL) {
        free(data);
        return snprintf(err, errlen, "%s: no memory", path), -1;
    }
    bio = BIO_new_mem_buf(data, (int)len);
    if (bio != NULL)
        k->pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    OPENSSL_cleanse(data, len);
    free(data);
    if (k->pkey == NULL) {
        ERR_clear_error();
        snprintf(err, errlen, "%s: malformed (not an unencrypted PEM private key)", path);
        dkim_key_free(k);
        return -1;
    }
    if (key_check(k, path, expect, err, errlen) < 0) {
        ERR_clear_error();
        dkim_key_free(k);
        return -1;
    }
    *out = k;
    return 0;
}

void dkim_key_free(struct dkim_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

enum dkim_alg dkim_key_alg(const struct dkim_key *k)
{
    return k->alg;
}

unsigned dkim_key_bits(const struct dkim_key *k)
{
    return k->bits;
}

int dkim_key_txt(const struct dkim_key *k, char *out, size_t outlen)
{
    unsigned char raw[32], *der = NULL;
    char b64[DKIM_TXT_MAX];
    size_t rawlen = sizeof(raw);
    int n, rc = -1;

    if (k->alg == DKIM_ALG_ED25519_SHA256) {
        if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &rawlen) == 1 && rawlen == 32)
            rc = dkim_base64(raw, rawlen, b64, sizeof(b64));
    } else {
        n = i2d_PUBKEY(k->pkey, &der);
        if (n > 0)
            rc = dkim_base64(der, (size_t)n, b64, sizeof(b64));
        OPENSSL_free(der);
    }
    ERR_clear_error();
    if (rc < 0)
        return -1;
    n = snprintf(out, outlen, "v=DKIM1; k=%s; p=%s", dkim_alg_keytype(k->alg), b64);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* txt_tag - value of tag name in a TXT record, whitespace removed. */
static int txt_tag(const char *txt, const char *name, char *out, size_t outlen)
{
    const char *p = txt;
    size_t nlen = strlen(name), o;

    while (*p != '\0') {
        const char *semi = strchr(p, ';'), *end = semi ? semi : p + strlen(p), *q = p;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if ((size_t)(end - q) > nlen && strncasecmp(q, name, nlen) == 0) {
            const char *v = q + nlen;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            if (v < end && *v == '=') {
                for (o = 0, v++; v < end; v++)
                    if (*v != ' ' && *v != '\t' && *v != '\r' && *v != '\n') {
                        if (o + 1 >= outlen)
                            return -1;
                        out[o++] = *v;
                    }
                out[o] = '\0';
                return 0;
            }
        }
        p = semi ? semi + 1 : end;
    }
    return -1;
}

int dkim_key_check_txt(const struct dkim_key *k, const char *txt, char *err, size_t errlen)
{
    char mine[DKIM_TXT_MAX], want[DKIM_TXT_MAX], kt[32];

    if (dkim_key_txt(k, mine, sizeof(mine)) < 0)
        return snprintf(err, errlen, "cannot derive the public key"), -1;
    if (txt_tag(txt, "p", want, sizeof(want)) < 0)
        return snprintf(err, errlen, "no p= tag"), -1;
    if (want[0] == '\0')
        return snprintf(err, errlen, "key revoked (empty p=)"), -1;
    if (txt_tag(txt, "k", kt, sizeof(kt)) < 0)
        snprintf(kt, sizeof(kt), "rsa");        /* RFC 6376 §3.6.1 default */
    if (strcasecmp(kt, dkim_alg_keytype(k->alg)) != 0)
        return snprintf(err, errlen, "k=%.20s but the key is %s", kt, dkim_alg_keytype(k->alg)), -1;
    if (strcmp(strstr(mine, "p=") + 2, want) != 0)
        return snprintf(err, errlen, "the published public key is not this key's"), -1;
    return 0;
}

/* write_pem - the key as PKCS#8 PEM into a new 0600 file, fsynced. */
static int write_pem(EVP_PKEY *pkey, const char *path, char *err, size_t errlen)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long n = 0;
    ssize_t w;
    size_t off = 0;
    int fd = -1, rc = -1;

    if (bio == NULL || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1
        || (n = BIO_get_mem_data(bio, &pem)) <= 0) {
        snprintf(err, errlen, "%s: cannot encode the key", path);
        goto out;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create (%s)", path, strerror(errno));
        goto out;
    }
    while (off < (size_t)n) {
        w = write(fd, pem + off, (size_t)n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "%s: write failed (%s)", path, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (fchmod(fd, 0600) < 0 || fsync(fd) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0 && close(fd) < 0 && rc == 0) {
        snprintf(err, errlen, "%s: close failed (%s)", path, strerror(errno));
        rc = -1;
    }
    if (rc < 0 && fd >= 0)
        (void)unlink(path);
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

int dkim_key_generate(enum dkim_alg alg, unsigned bits, const char *path,
                      struct dkim_key **out, char *err, size_t errlen)
{
    EVP_PKEY *pkey;

    if (alg == DKIM_ALG_RSA_SHA256 && (bits < DKIM_RSA_MIN_BITS || bits > DKIM_RSA_MAX_BITS))
        return snprintf(err, errlen, "RSA key size must be between %d and %d bits",
                        DKIM_RSA_MIN_BITS, DKIM_RSA_MAX_BITS), -1;
    if (alg == DKIM_ALG_ED25519_SHA256)
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    else
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    if (pkey == NULL) {
        ERR_clear_error();
        return snprintf(err, errlen, "key generation failed"), -1;
    }
    if (write_pem(pkey, path, err, errlen) < 0) {
        EVP_PKEY_free(pkey);
        return -1;
    }
    EVP_PKEY_free(pkey);
    return dkim_key_load(path, alg, out, err, errlen);
}
