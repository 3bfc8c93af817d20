/*
 * verp_sign - signed VERP return paths (see verp_sign.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "config.h"
#include "verp_sign.h"

#define VERP_PREFIX "bounces+"
#define VERP_ID_MAX 64

int verp_key_load(const struct config *cfg, struct verp_key *key, char *err, size_t errlen)
{
    ssize_t n;
    int fd;

    memset(key, 0, sizeof(*key));
    if (cfg->verp_key[0] != '\0') {
        key->len = strlen(cfg->verp_key);
        memcpy(key->k, cfg->verp_key, key->len);
        return 0;
    }
    if (cfg->verp_key_file[0] == '\0')
        return 0;
    fd = open(cfg->verp_key_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "verp-key-file %s: %s", cfg->verp_key_file, strerror(errno));
        return -1;
    }
    n = read(fd, key->k, sizeof(key->k));
    (void)close(fd);
    if (n < 0) {
        snprintf(err, errlen, "verp-key-file %s: %s", cfg->verp_key_file, strerror(errno));
        return -1;
    }
    while (n > 0 && isspace(key->k[n - 1]))
        n--;
    if (n < 16) {
        memset(key, 0, sizeof(*key));
        snprintf(err, errlen, "verp-key-file %s: the key must be 16 to %d bytes",
                 cfg->verp_key_file, VERP_KEY_MAX);
        return -1;
    }
    key->len = (size_t)n;
    return 0;
}

const char *verp_domain(const struct config *cfg)
{
    if (cfg->verp_domain[0] != '\0')
        return cfg->verp_domain;
    return cfg->nbounce_domains > 0 ? cfg->bounce_domains[0] : "";
}

/* verp_hash - 16 lower-case hex digits of HMAC-SHA256(key, upper(id)). */
static int verp_hash(const struct verp_key *key, const char *id, char out[VERP_HASH_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE], up[VERP_ID_MAX];
    unsigned int maclen = 0;
    size_t i, n = strlen(id);

    if (key->len == 0 || n == 0 || n >= sizeof(up))
        return -1;
    for (i = 0; i < n; i++)
        up[i] = (unsigned char)toupper((unsigned char)id[i]);
    if (HMAC(EVP_sha256(), key->k, (int)key->len, up, n, mac, &maclen) == NULL
        || maclen < VERP_HASH_LEN / 2)
        return -1;
    for (i = 0; i < VERP_HASH_LEN / 2; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[VERP_HASH_LEN] = '\0';
    return 0;
}

int verp_sign_encode(const struct verp_key *key, const char *qid, const char *domain,
                     char *out, size_t outlen)
{
    char h[VERP_HASH_LEN + 1];
    int n;

    if (domain == NULL || domain[0] == '\0' || verp_hash(key, qid, h) < 0)
        return -1;
    n = snprintf(out, outlen, VERP_PREFIX "%s.%s@%s", qid, h, domain);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int verp_sign_check(const struct verp_key *key, const char *id, const char *hash)
{
    char h[VERP_HASH_LEN + 1], given[VERP_HASH_LEN + 1];
    size_t i;

    if (strlen(hash) != VERP_HASH_LEN || verp_hash(key, id, h) < 0)
        return 0;
    for (i = 0; i <= VERP_HASH_LEN; i++)
        given[i] = (char)tolower((unsigned char)hash[i]);
    return CRYPTO_memcmp(h, given, VERP_HASH_LEN) == 0;
}

int verp_sign_parse(const char *addr, char *id, size_t idlen, char *hash, size_t hashlen)
{
    const char *p = addr, *dot, *at;
    size_t n, i;

    while (*p == ' ' || *p == '<')
        p++;
    if (strncasecmp(p, VERP_PREFIX, strlen(VERP_PREFIX)) != 0)
        return -1;
    p += strlen(VERP_PREFIX);
    at = strchr(p, '@');
    if (at == NULL || at[1] == '\0')
        return -1;
    dot = memchr(p, '.', (size_t)(at - p));
    if (dot == NULL)
        return -1;
    n = (size_t)(dot - p);
    if (n == 0 || n >= idlen || n >= VERP_ID_MAX)
        return -1;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]))
            return -1;
    memcpy(id, p, n);
    id[n] = '\0';
    n = (size_t)(at - dot - 1);
    if (n == 0 || n >= hashlen)
        return -1;
    for (i = 0; i < n; i++)
        if (!isxdigit((unsigned char)dot[1 + i]))
            return -1;
    memcpy(hash, dot + 1, n);
    hash[n] = '\0';
    return 0;
}
