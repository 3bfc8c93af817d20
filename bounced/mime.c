/*
 * mime - bounded MIME parsing of bounce mail (see mime.h).  Input is first
 * copied with CRLF turned into LF, so every later stage sees one line end.
 * Bytes are never interpreted as characters: charsets are irrelevant to
 * finding addresses and SMTP replies, which are ASCII in every charset a
 * bounce uses (ISO-2022-JP included).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mime.h"

struct mime_ctx {
    size_t parts;
    size_t budget;      /* bytes of decoded bodies still allowed */
};

static struct mime_part *mime_parse_part(struct mime_ctx *ctx, const char *data, size_t len,
                                         int depth, struct mime_part *parent);

/* mime_line_end - offset of the LF ending the line at off, or len */
static size_t mime_line_end(const char *s, size_t len, size_t off)
{
    const char *nl = memchr(s + off, '\n', len - off);

    return nl ? (size_t)(nl - s) : len;
}

/* mime_is_header_line - "Name:" with a printable, blank-free name */
static int mime_is_header_line(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ':')
            return i > 0;
        if (c <= ' ' || c >= 127)
            return 0;
    }
    return 0;
}

static char *mime_strndup_trim(const char *s, size_t n)
{
    char *out;

    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    out = malloc(n + 1);
    if (!out)
        return NULL;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

void mime_headers_free(struct mime_hdr *hdrs, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(hdrs[i].name);
        free(hdrs[i].value);
    }
    free(hdrs);
}

/* mime_hdr_add - append "name: value" where value spans [v, v+vn) with
 * continuation lines already joined by the caller's unfolding */
static int mime_hdr_add(struct mime_hdr **hdrs, size_t *n, size_t *cap, const char *name,
                        size_t nn, const char *v, size_t vn)
{
    struct mime_hdr *nh;

    if (*n >= MIME_MAX_HEADERS)
        return 0;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        nh = realloc(*hdrs, nc * sizeof(*nh));
        if (!nh)
            return -1;
        *hdrs = nh;
        *cap = nc;
    }
    (*hdrs)[*n].name = mime_strndup_trim(name, nn);
    (*hdrs)[*n].value = mime_strndup_trim(v, vn);
    if (!(*hdrs)[*n].name || !(*hdrs)[*n].value) {
        free((*hdrs)[*n].name);
        free((*hdrs)[*n].value);
        return -1;
    }
    (*n)++;
    return 0;
}

/* mime_unfold - copy a folded value, each line break + indent -> one blank */
static char *mime_unfold(const char *s, size_t n, size_t *outn)
{
    char *out = malloc(n + 1);
    size_t i, o = 0;

    if (!out)
        return NULL;
    for (i = 0; i < n; i++) {
        if (s[i] == '\n') {
            while (i + 1 < n && (s[i + 1] == ' ' || s[i + 1] == '\t'))
                i++;
            out[o++] = ' ';
            continue;
        }
        out[o++] = s[i];
    }
    out[o] = '\0';
    *outn = o;
    return out;
}

size_t mime_headers_parse(const char *text, size_t len, struct mime_hdr **hdrs, size_t *n)
{
    size_t off = 0, cap = 0, e, start, colon;
    int first = 1;

    *hdrs = NULL;
    *n = 0;
    while (off < len) {
        e = mime_line_end(text, len, off);
        if (e == off)                       /* blank line: end of headers */
            return e + 1 <= len ? e + 1 : len;
        if (first && e - off > 5 && memcmp(text + off, "From ", 5) == 0) {
            off = e + 1;                    /* mbox separator line */
            first = 0;
            continue;
        }
        first = 0;
        if (!mime_is_header_line(text + off, e - off)) {
            /* "Content-Type: multipart/x;\nboundary=..." with the fold's
             * indent lost: a parameter line after a ';' continues it */
            if (*n > 0 && off >= 2 && text[off - 2] == ';' && memchr(text + off, '=', e - off)
                && !memchr(text + off, ' ', e - off)) {
                char *nv;
                size_t ol = strlen((*hdrs)[*n - 1].value);
                nv = realloc((*hdrs)[*n - 1].value, ol + 1 + (e - off) + 1);
                if (!nv)
                    return len;
                nv[ol] = ' ';
                memcpy(nv + ol + 1, text + off, e - off);
                nv[ol + 1 + (e - off)] = '\0';
                (*hdrs)[*n - 1].value = nv;
                off = e + 1;
                continue;
            }
            if (text[off] == ' ' || text[off] == '\t') {
                off = e + 1;                /* stray continuation */
                continue;
            }
            return off;                     /* body starts without blank line */
        }
        start = off;
        colon = (size_t)((const char *)memchr(text + off, ':', e - off) - text);
        /* take continuation lines */
        while (e + 1 < len && (text[e + 1] == ' ' || text[e + 1] == '\t')) {
            size_t e2 = mime_line_end(text, len, e + 1);
            /* a whitespace-only line ends the header block (common in
             * hand-made samples where the blank line has a space) */
            size_t k = e + 1;
            while (k < e2 && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r'))
                k++;
            if (k == e2)
                break;
            e = e2;
        }
        {
            size_t un;
            char *v = mime_unfold(text + colon + 1, e - colon - 1, &un);
            int rc;
            if (!v)
                return len;
            rc = mime_hdr_add(hdrs, n, &cap, text + start, colon - start, v, un);
            free(v);
            if (rc < 0)
                return len;
        }
        off = e + 1;
    }
    return len;
}

const char *mime_header(const struct mime_part *p, const char *name)
{
    size_t i;

    if (!p)
        return NULL;
    for (i = 0; i < p->nhdrs; i++)
        if (strcasecmp(p->hdrs[i].name, name) == 0)
            return p->hdrs[i].value;
    return NULL;
}

int mime_param(const char *value, const char *name, char *out, size_t outlen)
{
    const char *p = value;
    size_t nl = strlen(name), o;

    if (!value || outlen == 0)
        return -1;
    while ((p = strchr(p, ';')) != NULL) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, name, nl) != 0)
            continue;
        p += nl;
        while (*p == ' ')
            p++;
        if (*p != '=')
            continue;
        p++;
        while (*p == ' ')
            p++;
        o = 0;
        if (*p == '"') {
            p++;
            while (*p && *p != '"' && o + 1 < outlen) {
                if (*p == '\\' && p[1])
                    p++;
                out[o++] = *p++;
            }
        } else {
            while (*p && *p != ';' && *p != ' ' && *p != '\t' && o + 1 < outlen)
                out[o++] = *p++;
        }
        out[o] = '\0';
        return o > 0 ? 0 : -1;
    }
    return -1;
}

static int mime_b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

size_t mime_base64_decode(const char *in, size_t len, char *out)
{
    size_t i, o = 0;
    unsigned int acc = 0;
    int bits = 0, v;

    for (i = 0; i < len; i++) {
        if (in[i] == '=')
            break;
        v = mime_b64val((unsigned char)in[i]);
        if (v < 0)
            continue;                       /* line breaks, junk */
        acc = (acc << 6) | (unsigned int)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return o;
}

static int mime_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (unsigned char)tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

size_t mime_qp_decode(const char *in, size_t len, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        if (in[i] == '=' && i + 1 < len && in[i + 1] == '\n') {
            i++;                            /* soft line break */
        } else if (in[i] == '=' && i + 2 < len && mime_hexval((unsigned char)in[i + 1]) >= 0
                   && mime_hexval((unsigned char)in[i + 2]) >= 0) {
            out[o++] = (char)(mime_hexval((unsigned char)in[i + 1]) * 16
                              + mime_hexval((unsigned char)in[i + 2]));
            i += 2;
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
    return o;
}

void mime_decode_words(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    const char *p = in;

    if (outlen == 0)
        return;
    while (*p && o + 1 < outlen) {
        const char *q1, *q2, *end;
        if (p[0] == '=' && p[1] == '?' && (q1 = strchr(p + 2, '?')) && q1[1] && q1[2] == '?'
            && (end = strstr(q1 + 3, "?=")) != NULL) {
            char enc = (char)toupper((unsigned char)q1[1]);
            size_t n = (size_t)(end - (q1 + 3));
            char *tmp = malloc(n + 1), *dec = malloc(n + 1);
            size_t dn = 0, k;
            q2 = q1 + 3;
            if (tmp && dec) {
                memcpy(tmp, q2, n);
                for (k = 0; enc == 'Q' && k < n; k++)
                    if (tmp[k] == '_')
                        tmp[k] = ' ';
                dn = enc == 'B' ? mime_base64_decode(tmp, n, dec) : mime_qp_decode(tmp, n, dec);
                for (k = 0; k < dn && o + 1 < outlen; k++)
                    out[o++] = dec[k];
            }
            free(tmp);
            free(dec);
            p = end + 2;
            /* blanks between adjacent encoded-words are not displayed */
            {
                const char *s = p;
                while (*s == ' ' || *s == '\t')
                    s++;
                if (s[0] == '=' && s[1] == '?')
                    p = s;
            }
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
}

/* mime_set_ctype - lower-cased "type/subtype" from Content-Type */
static void mime_set_ctype(struct mime_part *p, const char *ct)
{
    size_t o = 0;

    if (!ct || !*ct) {
        strcpy(p->ctype, "text/plain");
        return;
    }
    while (*ct && *ct != ';' && *ct != ' ' && *ct != '\t' && o + 1 < sizeof(p->ctype))
        p->ctype[o++] = (char)tolower((unsigned char)*ct++);
    p->ctype[o] = '\0';
    if (!strchr(p->ctype, '/'))
        strcpy(p->ctype, "text/plain");
}

/* mime_set_body - decode [s, s+n) per Content-Transfer-Encoding (an
 * empty body once the byte budget is spent) */
static int mime_set_body(struct mime_ctx *ctx, struct mime_part *p, const char *s, size_t n)
{
    const char *cte = mime_header(p, "Content-Transfer-Encoding");

    /* nested message/rfc822 parts copy their content again: a budget keeps
     * a hostile nesting chain from multiplying the memory used */
    if (n > ctx->budget)
        n = 0;
    ctx->budget -= n;
    p->body = malloc(n + 1);
    if (!p->body)
        return -1;
    if (cte && strncasecmp(cte, "base64", 6) == 0) {
        p->blen = mime_base64_decode(s, n, p->body);
    } else if (cte && strncasecmp(cte, "quoted-printable", 16) == 0) {
        p->blen = mime_qp_decode(s, n, p->body);
    } else {
        memcpy(p->body, s, n);
        p->body[n] = '\0';
        p->blen = n;
    }
    return 0;
}

/* mime_boundary_at - does the line [s, s+n) open (1) or close (2) the
 * multipart with boundary b? */
static int mime_boundary_at(const char *s, size_t n, const char *b, size_t bl)
{
    size_t k;

    if (n < bl + 2 || s[0] != '-' || s[1] != '-' || memcmp(s + 2, b, bl) != 0)
        return 0;
    k = bl + 2;
    if (n >= k + 2 && s[k] == '-' && s[k + 1] == '-')
        return 2;
    for (; k < n; k++)
        if (s[k] != ' ' && s[k] != '\t')
            return 0;
    return 1;
}

static void mime_append_child(struct mime_part *p, struct mime_part *c)
{
    struct mime_part **pp = &p->child;

    while (*pp)
        pp = &(*pp)->next;
    *pp = c;
}

/* mime_parse_multipart - split the body at boundaries; the preamble is kept
 * as the multipart's own body because some MTAs write their explanation
 * there */
static int mime_parse_multipart(struct mime_ctx *ctx, struct mime_part *p, const char *s,
                                size_t n, const char *b)
{
    size_t bl = strlen(b), off = 0, e, pstart = 0;
    int in_part = 0, kind;
    struct mime_part *c;

    while (off < n) {
        e = mime_line_end(s, n, off);
        kind = mime_boundary_at(s + off, e - off, b, bl);
        if (kind) {
            if (!in_part) {
                if (mime_set_body(ctx, p, s, off) < 0)
                    return -1;
            } else {
                /* the LF before "--boundary" belongs to the delimiter */
                c = mime_parse_part(ctx, s + pstart, off > pstart ? off - pstart - 1 : 0,
                                    p->depth + 1, p);
                if (!c)
                    return -1;
                mime_append_child(p, c);
            }
            if (kind == 2 || ctx->parts >= MIME_MAX_PARTS)
                return 0;
            in_part = 1;
            pstart = e + 1 <= n ? e + 1 : n;
        }
        off = e + 1;
    }
    if (in_part && pstart < n) {            /* truncated: no closing delimiter */
        c = mime_parse_part(ctx, s + pstart, n - pstart, p->depth + 1, p);
        if (!c)
            return -1;
        mime_append_child(p, c);
    }
    return 0;
}

static struct mime_part *mime_parse_part(struct mime_ctx *ctx, const char *data, size_t len,
                                         int depth, struct mime_part *parent)
{
    struct mime_part *p = calloc(1, sizeof(*p));
    size_t hend;
    const char *ct;
    char boundary[256];

    if (!p)
        return NULL;
    ctx->parts++;
    p->depth = depth;
    p->parent = parent;
    hend = mime_headers_parse(data, len, &p->hdrs, &p->nhdrs);
    ct = mime_header(p, "Content-Type");
    mime_set_ctype(p, ct);
    data += hend;
    len -= hend;
    if (depth >= MIME_MAX_DEPTH || ctx->parts >= MIME_MAX_PARTS)
        goto leaf;
    if (strncmp(p->ctype, "multipart/", 10) == 0) {
        if (mime_param(ct, "boundary", boundary, sizeof(boundary)) < 0)
            goto leaf;
        if (mime_parse_multipart(ctx, p, data, len, boundary) < 0)
            goto fail;
        /* no delimiter at all: keep the whole body as text */
        if (!p->body && mime_set_body(ctx, p, data, p->child ? 0 : len) < 0)
            goto fail;
        return p;
    }
    if (strcmp(p->ctype, "message/rfc822") == 0 || strcmp(p->ctype, "message/global") == 0
        || strcmp(p->ctype, "text/rfc822-headers") == 0
        || strcmp(p->ctype, "message/rfc822-headers") == 0) {
        struct mime_part *c;
        if (mime_set_body(ctx, p, data, len) < 0)
            goto fail;
        c = mime_parse_part(ctx, p->body, p->blen, depth + 1, p);
        if (!c)
            goto fail;
        p->child = c;
        return p;
    }
leaf:
    if (mime_set_body(ctx, p, data, len) < 0)
        goto fail;
    return p;
fail:
    mime_free(p);
    return NULL;
}

struct mime_part *mime_parse(const char *data, size_t len)
{
    struct mime_ctx ctx = { 0, 0 };
    struct mime_part *root;
    char *lf = malloc(len + 1);
    size_t i, o = 0;

    if (!lf)
        return NULL;
    for (i = 0; i < len; i++) {
        if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
            continue;
        lf[o++] = data[i] == '\0' ? ' ' : data[i];   /* NUL would cut strings */
    }
    lf[o] = '\0';
    ctx.budget = 4 * o + 65536;
    root = mime_parse_part(&ctx, lf, o, 0, NULL);
    free(lf);
    return root;
}

void mime_free(struct mime_part *p)
{
    while (p) {
        struct mime_part *next = p->next;
        mime_free(p->child);
        mime_headers_free(p->hdrs, p->nhdrs);
        free(p->body);
        free(p);
        p = next;
    }
}

struct mime_part *mime_walk_next(struct mime_part *root, struct mime_part *p)
{
    if (p->child)
        return p->child;
    while (p && p != root) {
        if (p->next)
            return p->next;
        p = p->parent;
    }
    return NULL;
}
