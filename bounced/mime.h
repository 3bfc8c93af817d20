/*
 * mime - a bounded MIME parser for bounce, feedback and auto-reply mail.
 *
 * mime_parse() turns raw message bytes (LF or CRLF, any charset: bytes
 * are kept as they are) into a tree of parts: unfolded headers, the
 * lower-cased content type, and the body decoded from base64 or
 * quoted-printable.  message/rfc822 (and message/global,
 * text/rfc822-headers) parts get the embedded message as their only child.
 * Nesting deeper than MIME_MAX_DEPTH and more than MIME_MAX_PARTS parts
 * are not parsed further (the rest is kept as an opaque body), so hostile
 * input costs bounded time and memory.  Truncated input yields whatever
 * parts were complete plus the partial last one.  Returns NULL only when
 * memory runs out.
 */
#ifndef COURSER_BOUNCED_MIME_H
#define COURSER_BOUNCED_MIME_H

#include <stddef.h>

#define MIME_MAX_DEPTH 12
#define MIME_MAX_PARTS 256
#define MIME_MAX_HEADERS 1000

struct mime_hdr {
    char *name;         /* as written */
    char *value;        /* unfolded, leading/trailing blanks removed */
};

struct mime_part {
    struct mime_hdr *hdrs;
    size_t nhdrs;
    char ctype[128];    /* "type/subtype" lower-cased; "text/plain" if absent */
    char *body;         /* decoded body, LF line ends, NUL-terminated */
    size_t blen;
    int depth;
    struct mime_part *child;    /* first child (multipart, message/rfc822) */
    struct mime_part *next;     /* next sibling */
    struct mime_part *parent;
};

struct mime_part *mime_parse(const char *data, size_t len);
void mime_free(struct mime_part *p);

/* First header named name (case-insensitive) or NULL. */
const char *mime_header(const struct mime_part *p, const char *name);
/* Parse one header block (text must be LF-terminated lines) into hdrs;
 * returns the offset just past the blank line ending it (or len). */
size_t mime_headers_parse(const char *text, size_t len, struct mime_hdr **hdrs, size_t *n);
void mime_headers_free(struct mime_hdr *hdrs, size_t n);
/* Value of parameter name in a header value (Content-Type: ...; name=v). */
int mime_param(const char *value, const char *name, char *out, size_t outlen);
/* Decoders; return the decoded length (out must hold len + 1 bytes). */
size_t mime_base64_decode(const char *in, size_t len, char *out);
size_t mime_qp_decode(const char *in, size_t len, char *out);
/* Decode RFC 2047 encoded-words (B and Q) in a header value, bytes kept. */
void mime_decode_words(const char *in, char *out, size_t outlen);
/* Pre-order walk: next part after p in the tree rooted at root, or NULL. */
struct mime_part *mime_walk_next(struct mime_part *root, struct mime_part *p);

#endif
