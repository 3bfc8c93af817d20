/*
 * dkim_sign - everything of a DKIM signature except the private-key
 * operation: the message's header fields (parsed, bounded), the signing
 * identity and domain (Sender, else From), the h= list with over-signing,
 * the DKIM-Signature header with an empty b=, the header-hash input that
 * dkimsign signs, and the final folded header once the signature is back.
 *
 * Split of work (issue 5):
 *   smtp-out:  dkim_headers_parse -> dkim_identity_domain -> keys from
 *              dkim_keys_find (dkim_keys.h) -> dkim_body_* (dkim_canon.h)
 *              over the body -> dkim_sig_prepare per key -> send
 *              sig.input to dkimsign (dkim_proto.h) -> dkim_sig_finish
 *              -> prepend the header to the message.  dkim_job.h wraps
 *              these steps, dkim_client.h the dkimsign connection.
 *   dkimsign:  dkim_input_check + dkim_key_sign(sig.input), nothing else.
 */
#ifndef COURSER_DKIM_SIGN_H
#define COURSER_DKIM_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "buf.h"
#include "dkim_canon.h"
#include "dkim_key.h"

#define DKIM_HEADERS_MAX     1000          /* header fields looked at */
#define DKIM_HEADER_BYTES    (1024 * 1024) /* header section bound */
#define DKIM_INPUT_MAX       (256 * 1024)  /* header-hash input bound (IPC) */
#define DKIM_DOMAIN_MAX      256
#define DKIM_SELECTOR_MAX    64
#define DKIM_HLIST_MAX       64            /* names in a signed-header list */

struct dkim_field {
    const char *p;              /* into the message: "Name: value\r\n" */
    size_t len;                 /* with folding and the final line end */
    size_t name_len;            /* name without trailing blanks */
};

struct dkim_headers {
    struct dkim_field f[DKIM_HEADERS_MAX];
    size_t n;
    size_t body_off;            /* offset of the body in the message */
};

/* Split the header section of msg[0..len) into fields (a line starting
 * with SP/HT continues the previous field).  Stops at the empty line; a
 * message without one is all header.  -1 with err when the header section
 * is larger than DKIM_HEADER_BYTES, has more than DKIM_HEADERS_MAX fields
 * or a line with no colon. */
int dkim_headers_parse(const char *msg, size_t len, struct dkim_headers *h,
                       char *err, size_t errlen);
/* First field named name (case-insensitive), or NULL. */
const struct dkim_field *dkim_headers_find(const struct dkim_headers *h, const char *name);
size_t dkim_headers_count(const struct dkim_headers *h, const char *name);

/* The domain of the first mailbox of a From/Sender-style field value
 * (display names, comments, quoted strings handled), lowercased.  0 or -1. */
int dkim_address_domain(const char *value, size_t len, char *domain, size_t dlen);
/* Identity domain: Sender's domain, else From's.  0 or -1 (no usable one). */
int dkim_identity_domain(const struct dkim_headers *h, char *domain, size_t dlen);

/* Default signed headers and the subset that is over-signed. */
extern const char *const dkim_default_headers[];
extern const char *const dkim_default_oversign[];

struct dkim_sig_params {
    const char *domain;         /* d= */
    const char *selector;       /* s= */
    enum dkim_alg alg;
    enum dkim_canon hcanon, bcanon;
    const char *identity;       /* i= value, or NULL/"" for none */
    const char *extra_headers;  /* comma-separated names to sign too, or NULL */
    int oversign;               /* over-sign dkim_default_oversign */
    time_t timestamp;           /* t=, 0 = none */
    uint32_t expire_after;      /* x = t + this; 0 = none (needs timestamp) */
};

struct dkim_sig {
    struct buf header;          /* "DKIM-Signature: v=1; ... b=" folded, no CRLF */
    struct buf input;           /* header-hash input for the signer */
    size_t col;                 /* column after "b=" on the last line */
};

/* Build the DKIM-Signature with empty b= and the header-hash input (the
 * signed fields canonicalized in h= order, then the DKIM-Signature
 * canonicalized without its CRLF).  0, or -1 with err. */
int dkim_sig_prepare(const struct dkim_sig_params *sp, const struct dkim_headers *h,
                     const unsigned char bh[DKIM_BH_LEN], struct dkim_sig *sig,
                     char *err, size_t errlen);
/* Append the base64 signature after "b=", folded below 78 columns, and a
 * final CRLF: sig->header is then ready to be put before the message. */
int dkim_sig_finish(struct dkim_sig *sig, const char *b64);
void dkim_sig_free(struct dkim_sig *sig);

/* What dkimsign checks before signing an input it did not build: the
 * input ends with a DKIM-Signature field (simple or relaxed form, no
 * CRLF) whose d=, s= and a= are domain, selector and alg, and whose last
 * tag is an empty b=.  So a key signs only DKIM signatures of its own
 * domain, never arbitrary data.  0, or -1 with err. */
int dkim_input_check(const unsigned char *in, size_t len, const char *domain,
                     const char *selector, enum dkim_alg alg, char *err, size_t errlen);

#endif
