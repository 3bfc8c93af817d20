/*
 * dkim_key - DKIM private keys: load a PEM file (RSA as PKCS#1 or PKCS#8,
 * 1024..4096 bits; Ed25519 as PKCS#8, what `openssl genpkey -algorithm
 * ed25519` writes), sign a header-hash input, derive the DNS TXT record,
 * generate a new key.  Only dkimsign (and operator tools running as the
 * dkim user) load keys; smtp-out never does.
 *
 * A loaded key is read-only and may be used to sign from several threads
 * at once (OpenSSL 3 EVP_PKEY; each signature gets its own context).
 *
 * DIAGNOSTICS: dkim_key_load names the file and one of: "missing",
 * "unreadable (errno text)", "malformed (not a PEM private key)",
 * "wrong type (... key; expected ...)", "too small (N bits; at least
 * 1024)", "too large (N bits; at most 4096)".
 */
#ifndef COURSER_DKIM_KEY_H
#define COURSER_DKIM_KEY_H

#include <stddef.h>

enum dkim_alg { DKIM_ALG_NONE = 0, DKIM_ALG_RSA_SHA256 = 1, DKIM_ALG_ED25519_SHA256 = 2 };
#define DKIM_ALG_ALL (DKIM_ALG_RSA_SHA256 | DKIM_ALG_ED25519_SHA256)   /* as a mask */

#define DKIM_RSA_MIN_BITS 1024
#define DKIM_RSA_MAX_BITS 4096
#define DKIM_SIG_MAX      512   /* raw signature bytes: RSA-4096 */
#define DKIM_SIG_B64_MAX  700   /* base64 of that, with NUL */
#define DKIM_TXT_MAX      1024

struct dkim_key;

/* "rsa-sha256" / "ed25519-sha256" (the a= value); also "rsa", "ed25519"
 * (the k= value) when loose.  DKIM_ALG_NONE if unknown. */
enum dkim_alg dkim_alg_parse(const char *s, int loose);
const char *dkim_alg_name(enum dkim_alg a);     /* a= value */
const char *dkim_alg_keytype(enum dkim_alg a);  /* k= value */

/* Load path.  expect = DKIM_ALG_NONE accepts either type.  0, or -1 with
 * one line in err. */
int dkim_key_load(const char *path, enum dkim_alg expect, struct dkim_key **out,
                  char *err, size_t errlen);
void dkim_key_free(struct dkim_key *k);
enum dkim_alg dkim_key_alg(const struct dkim_key *k);
unsigned dkim_key_bits(const struct dkim_key *k);

/* Sign the header-hash input: RSA PKCS#1 v1.5 over SHA-256 of data;
 * Ed25519 over SHA-256 of data (RFC 8463 §3).  Writes the base64
 * signature (NUL-terminated) into b64.  0, or -1 with err. */
int dkim_key_sign(const struct dkim_key *k, const void *data, size_t len,
                  char b64[DKIM_SIG_B64_MAX], char *err, size_t errlen);

/* The TXT record to publish at SELECTOR._domainkey.DOMAIN:
 * "v=DKIM1; k=rsa; p=..." (SubjectPublicKeyInfo) or
 * "v=DKIM1; k=ed25519; p=..." (the raw 32-byte key).  0 or -1. */
int dkim_key_txt(const struct dkim_key *k, char *out, size_t outlen);

/* Whether a published TXT record (the strings joined) holds k's public
 * key: for `mtactl dkim check`.  0, or -1 with err ("no p= tag", "key
 * revoked (empty p=)", "k=rsa but the key is ed25519", "the published
 * public key is not this key's"). */
int dkim_key_check_txt(const struct dkim_key *k, const char *txt, char *err, size_t errlen);

/* Generate a key and write it as PKCS#8 PEM to path (created with mode
 * 0600; an existing file is an error).  bits is for RSA only. */
int dkim_key_generate(enum dkim_alg alg, unsigned bits, const char *path,
                      struct dkim_key **out, char *err, size_t errlen);

/* Plain base64 (no line breaks) of n bytes into out; -1 if it does not fit. */
int dkim_base64(const unsigned char *in, size_t n, char *out, size_t outlen);

#endif
