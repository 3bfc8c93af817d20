/*
 * dkim_canon - RFC 6376 §3.4 canonicalization: "simple" and "relaxed" for
 * header fields, and a streaming body canonicalizer that feeds SHA-256
 * (the bh= body hash) as the body arrives in chunks of any size.
 *
 * The body state machine keeps no line buffer: trailing whitespace and
 * empty lines are held back as counts and written only when a later byte
 * proves they are not at the end, so memory is O(1) whatever the line
 * length.  Line ends are CRLF; a lone CR or LF is an ordinary byte (the
 * hash must cover exactly the bytes that go on the wire, and SMTP sends
 * CRLF).  `l=` is never produced: the whole body is always hashed.
 */
#ifndef COURSER_DKIM_CANON_H
#define COURSER_DKIM_CANON_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"

enum dkim_canon { DKIM_CANON_SIMPLE = 0, DKIM_CANON_RELAXED = 1 };

#define DKIM_BH_LEN 32          /* SHA-256 */

struct dkim_body {
    void *md;                   /* EVP_MD_CTX */
    enum dkim_canon canon;
    uint64_t empty_lines;       /* CRLFs of empty lines held back */
    uint64_t length;            /* canonical bytes hashed so far */
    int in_line;                /* the current line has content */
    int wsp;                    /* relaxed: whitespace held back */
    int cr;                     /* a CR waiting to see if LF follows */
    int failed;
};

/* "simple" / "relaxed" -> enum; -1 if neither. */
int dkim_canon_parse(const char *s, size_t n);
const char *dkim_canon_name(enum dkim_canon c);

/* Streaming body hash.  init returns 0 or -1 (no memory); update and final
 * return -1 once the digest failed.  final writes 32 bytes and frees the
 * context; dkim_body_free is for abandoning one early (safe after final). */
int dkim_body_init(struct dkim_body *b, enum dkim_canon canon);
int dkim_body_update(struct dkim_body *b, const void *data, size_t len);
int dkim_body_final(struct dkim_body *b, unsigned char bh[DKIM_BH_LEN]);
void dkim_body_free(struct dkim_body *b);

/* One header field (name ":" value, folded lines and the final line end
 * included, as it appears in the message) canonicalized and appended to
 * out, with a trailing CRLF unless crlf is 0 (the DKIM-Signature field
 * itself is hashed without it).  -1 if out is full or the field has no
 * colon. */
int dkim_canon_header(enum dkim_canon c, const char *field, size_t len, int crlf,
                      struct buf *out);

#endif
