/*
 * dkim_canon - RFC 6376 §3.4 header and body canonicalization (see
 * dkim_canon.h).  Called by dkim_sign.c (headers) and by whoever streams a
 * message body (smtp-out while it reads the spool, dkimsign --sign-file).
 *
 * Body rules (§3.4.3, §3.4.4 and erratum 1384, as dkimpy and OpenDKIM do):
 *   simple:  trailing empty lines removed; a missing final CRLF added; an
 *            empty body becomes one CRLF.
 *   relaxed: whitespace at line ends removed, other WSP runs become one SP,
 *            trailing empty lines removed, a missing final CRLF added to a
 *            non-empty body; an empty body stays empty.
 */
#include "dkim_canon.h"

#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

int dkim_canon_parse(const char *s, size_t n)
{
    if (n == 6 && strncasecmp(s, "simple", 6) == 0)
        return DKIM_CANON_SIMPLE;
    if (n == 7 && strncasecmp(s, "relaxed", 7) == 0)
        return DKIM_CANON_RELAXED;
    return -1;
}

const char *dkim_canon_name(enum dkim_canon c)
{
    return c == DKIM_CANON_RELAXED ? "relaxed" : "simple";
}

int dkim_body_init(struct dkim_body *b, enum dkim_canon canon)
{
    memset(b, 0, sizeof(*b));
    b->canon = canon;
    b->md = EVP_MD_CTX_new();
    if (b->md == NULL || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(b->md);
        b->md = NULL;
        b->failed = 1;
        return -1;
    }
    return 0;
}

void dkim_body_free(struct dkim_body *b)
{
    EVP_MD_CTX_free(b->md);
    b->md = NULL;
}

/* emit - hash canonical bytes. */
static void emit(struct dkim_body *b, const void *p, size_t n)
{
    if (b->failed || n == 0)
        return;
    if (EVP_DigestUpdate(b->md, p, n) != 1)
        b->failed = 1;
    b->length += n;
}

/* flush_empty - the held-back empty lines were not trailing after all. */
static void flush_empty(struct dkim_body *b)
{
    static const char crlfs[] = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";

    while (b->empty_lines > 0) {
        uint64_t k = b->empty_lines > 8 ? 8 : b->empty_lines;
        emit(b, crlfs, (size_t)k * 2);
        b->empty_lines -= k;
    }
}

/* line_end - a CRLF arrived. */
static void line_end(struct dkim_body *b)
{
    b->wsp = 0;                 /* relaxed: WSP at the end of a line goes */
    if (b->in_line) {
        emit(b, "\r\n", 2);
        b->in_line = 0;
    } else {
        b->empty_lines++;
    }
}

/* content - the run p[0..n) holds no CR, LF (and, relaxed, no WSP). */
static void content(struct dkim_body *b, const unsigned char *p, size_t n)
{
    flush_empty(b);
    if (b->wsp) {
        emit(b, " ", 1);
        b->wsp = 0;
    }
    emit(b, p, n);
    b->in_line = 1;
}

int dkim_body_update(struct dkim_body *b, const void *data, size_t len)
{
    const unsigned char *p = data, *end = p + len;
    int relaxed = b->canon == DKIM_CANON_RELAXED;

    if (b->failed)
        return -1;
    while (p < end) {
        if (b->cr) {
            b->cr = 0;
            if (*p == '\n') {
                line_end(b);
                p++;
                continue;
            }
            content(b, (const unsigned char *)"\r", 1);   /* a lone CR is data */
        }
        if (*p == '\r') {
            b->cr = 1;
            p++;
        } else if (relaxed && (*p == ' ' || *p == '\t')) {
            b->wsp = 1;
            p++;
        } else {
            const unsigned char *q = p + 1;
            /* The longest run that needs no decision: hash it in one call. */
            while (q < end && *q != '\r' && !(relaxed && (*q == ' ' || *q == '\t')))
                q++;
            content(b, p, (size_t)(q - p));
            p = q;
        }
    }
    return b->failed ? -1 : 0;
}

int dkim_body_final(struct dkim_body *b, unsigned char bh[DKIM_BH_LEN])
{
    unsigned int n = 0;

    if (b->md == NULL)
        return -1;
    if (b->cr) {
        b->cr = 0;
        content(b, (const unsigned char *)"\r", 1);
    }
    if (b->in_line)
        line_end(b);            /* a missing final CRLF is added */
    if (b->canon == DKIM_CANON_SIMPLE && b->length == 0)
        emit(b, "\r\n", 2);     /* an empty simple body is one CRLF */
    if (!b->failed && (EVP_DigestFinal_ex(b->md, bh, &n) != 1 || n != DKIM_BH_LEN))
        b->failed = 1;
    dkim_body_free(b);
    return b->failed ? -1 : 0;
}

/* strip_eol - length of field without its final line end. */
static size_t strip_eol(const char *field, size_t len)
{
    if (len > 0 && field[len - 1] == '\n')
        len--;
    if (len > 0 && field[len - 1] == '\r')
        len--;
    return len;
}

/* relaxed_header - §3.4.2: lowercase name, no WSP around the colon,
 * unfolded, WSP runs to one SP, no WSP at the value's ends. */
static int relaxed_header(const char *field, size_t len, struct buf *out)
{
    const char *colon = memchr(field, ':', len), *p, *end = field + len;
    size_t nlen;
    int wsp = 0, any = 0;

    if (colon == NULL)
        return -1;
    nlen = (size_t)(colon - field);
    while (nlen > 0 && (field[nlen - 1] == ' ' || field[nlen - 1] == '\t'))
        nlen--;
    if (buf_reserve(out, len + 3) < 0)
        return -1;
    for (p = field; p < field + nlen; p++) {
        char c = *p;
        out->data[out->len++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    out->data[out->len++] = ':';
    for (p = colon + 1; p < end; p++) {
        char c = *p;
        if (c == '\r' || c == '\n')
            continue;           /* unfold */
        if (c == ' ' || c == '\t') {
            wsp = 1;
            continue;
        }
        if (wsp && any)
            out->data[out->len++] = ' ';
        wsp = 0;
        any = 1;
        out->data[out->len++] = c;
    }
    out->data[out->len] = '\0';
    return 0;
}

int dkim_canon_header(enum dkim_canon c, const char *field, size_t len, int crlf,
                      struct buf *out)
{
    size_t start = out->len;

    if (memchr(field, ':', len) == NULL)
        return -1;
    if (c == DKIM_CANON_RELAXED) {
        if (relaxed_header(field, strip_eol(field, len), out) < 0)
            goto fail;
    } else if (buf_append(out, field, strip_eol(field, len)) < 0) {
        goto fail;
    }
    if (crlf && buf_append(out, "\r\n", 2) < 0)
        goto fail;
    return 0;
fail:
    out->len = start;
    if (out->data != NULL)
        out->data[start] = '\0';
    return -1;
}
