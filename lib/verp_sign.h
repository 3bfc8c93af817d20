/*
 * verp_sign - Courser's VERP return path, signed so that bounced can tell
 * a bounce of its own mail from a forged one:
 *
 *     bounces+<QUEUEID>.<HASH>@<verp-domain>
 *
 * HASH is the first 8 bytes of HMAC-SHA256(key, QUEUEID), 16 lower-case
 * hex digits.  The queue id is upper-case hex; both are compared without
 * regard to case (some MTAs lower-case the address of a bounce).  Used by
 * qmgr (MAIL FROM of a delivery, when `verp yes` applies) and bounced
 * (checking the address an asynchronous bounce or complaint came to).
 */
#ifndef COURSER_VERP_SIGN_H
#define COURSER_VERP_SIGN_H

#include <stddef.h>

#define VERP_KEY_MAX 256
#define VERP_HASH_LEN 16

struct config;

struct verp_key {
    unsigned char k[VERP_KEY_MAX];
    size_t len;                 /* 0 = no key configured */
};

/* Load the key from verp-key or verp-key-file (a file: its bytes without
 * trailing blanks; at least 16).  0 (len 0 when neither is set), or -1 and
 * err. */
int verp_key_load(const struct config *cfg, struct verp_key *key, char *err, size_t errlen);
/* The domain VERP addresses use: verp-domain, else the first bounce-domain;
 * "" when neither is set. */
const char *verp_domain(const struct config *cfg);
/* Write the return path for qid into out.  -1 without a key or domain, or
 * when it does not fit. */
int verp_sign_encode(const struct verp_key *key, const char *qid, const char *domain,
                     char *out, size_t outlen);
/* 1 when hash is the signature of id under key, else 0. */
int verp_sign_check(const struct verp_key *key, const char *id, const char *hash);
/* Split "bounces+ID.HASH@domain" (angle brackets allowed): 0 and id/hash
 * filled, -1 when addr is not of that form. */
int verp_sign_parse(const char *addr, char *id, size_t idlen, char *hash, size_t hashlen);

#endif
