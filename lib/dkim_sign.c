/*
 * dkim_sign - DKIM-Signature construction (RFC 6376 §3.5, §5) without the
 * private key: header parsing, identity, h= with over-signing, the header
 * with empty b=, the header-hash input, and folding.  See dkim_sign.h for
 * who calls what.
 *
 * Over-signing (§8.15): a name is listed in h= once more than it occurs,
 * so a verifier treats an added instance as a changed header and the
 * signature fails; for a name absent from the message this asserts it
 * stays absent.  Instances are taken bottom-up (§5.4.2).
 */
#include "dkim_sign.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define FOLD_LIMIT 76           /* characters per line, CRLF excluded (< 78) */
#define HLIST_ENTRIES_MAX 512   /* h= entries, repeats included */

const char *const dkim_default_headers[] = {
    "from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc",
    "mime-version", "content-type", "content-transfer-encoding", "content-disposition",
    "in-reply-to", "references", "list-id", "list-unsubscribe", "list-unsubscribe-post",
    "feedback-id", NULL,
};

/* The fields a forger would add to change what the reader sees. */
const char *const dkim_default_oversign[] = {
    "from", "sender", "reply-to", "subject", "date", "to", "cc", "mime-version",
    "content-type", "content-transfer-encoding", "list-unsubscribe", "list-unsubscribe-post",
    NULL,
};

/* ---- header section ---- */

int dkim_headers_parse(const char *msg, size_t len, struct dkim_headers *h,
                       char *err, size_t errlen)
{
    size_t off = 0, eol, llen;
    const char *nl, *colon;

    h->n = 0;
    h->body_off = len;
    while (off < len) {
        nl = memchr(msg + off, '\n', len - off);
        eol = nl ? (size_t)(nl - msg) + 1 : len;
        llen = eol - off;
        if (llen == 1 || (llen == 2 && msg[off] == '\r')) {
            h->body_off = eol;  /* the empty line ends the header section */
            return 0;
        }
        if (eol > DKIM_HEADER_BYTES)
            return snprintf(err, errlen, "header section larger than %d bytes",
                            DKIM_HEADER_BYTES), -1;
        if (msg[off] == ' ' || msg[off] == '\t') {
            if (h->n == 0)
                return snprintf(err, errlen, "message starts with a continuation line"), -1;
            h->f[h->n - 1].len += llen;
        } else {
            colon = memchr(msg + off, ':', llen);
            if (colon == NULL || colon == msg + off)
                return snprintf(err, errlen, "header line %zu has no field name", h->n + 1), -1;
            if (h->n == DKIM_HEADERS_MAX)
                return snprintf(err, errlen, "more than %d header fields", DKIM_HEADERS_MAX), -1;
            h->f[h->n].p = msg + off;
            h->f[h->n].len = llen;
            h->f[h->n].name_len = (size_t)(colon - (msg + off));
            while (h->f[h->n].name_len > 0 && (msg[off + h->f[h->n].name_len - 1] == ' '
                                               || msg[off + h->f[h->n].name_len - 1] == '\t'))
                h->f[h->n].name_len--;
            h->n++;
        }
        off = eol;
    }
    return 0;
}

static int field_is(const struct dkim_field *f, const char *name, size_t n)
{
    return f->name_len == n && strncasecmp(f->p, name, n) == 0;
}

const struct dkim_field *dkim_headers_find(const struct dkim_headers *h, const char *name)
{
    size_t i, n = strlen(name);

    for (i = 0; i < h->n; i++)
        if (field_is(&h->f[i], name, n))
            return &h->f[i];
    return NULL;
}

size_t dkim_headers_count(const struct dkim_headers *h, const char *name)
{
    size_t i, c = 0, n = strlen(name);

    for (i = 0; i < h->n; i++)
        c += field_is(&h->f[i], name, n);
    return c;
}

/* ---- identity ---- */

/* clean_value - copy with comments removed, quoted text blanked (so '@',
 * '<' and ',' inside them do not count) and line ends made blanks. */
static int clean_value(const char *v, size_t len, char *out, size_t outlen)
{
    size_t i, o = 0;
    int depth = 0, quoted = 0;

    for (i = 0; i < len; i++) {
        char c = v[i];
        if (o + 1 >= outlen)
            return -1;
        if ((quoted || depth) && c == '\\' && i + 1 < len) {
            i++;
            if (quoted)
                out[o++] = 'x';
            continue;
        }
        if (depth) {
            depth += c == '(' ? 1 : c == ')' ? -1 : 0;
            if (depth == 0)
                out[o++] = ' ';
            continue;
        }
        if (quoted) {
            if (c == '"')
                quoted = 0;
            out[o++] = c == '"' ? '"' : 'x';
            continue;
        }
        if (c == '(') {
            depth = 1;
            continue;
        }
        if (c == '"')
            quoted = 1;
        out[o++] = (c == '\r' || c == '\n' || c == '\t') ? ' ' : c;
    }
    out[o] = '\0';
    return 0;
}

int dkim_address_domain(const char *value, size_t len, char *domain, size_t dlen)
{
    char clean[4096], *s, *e, *at, *p;
    size_t n;

    if (clean_value(value, len, clean, sizeof(clean)) < 0)
        return -1;
    s = clean;
    if ((p = strchr(clean, '<')) != NULL) {
        s = p + 1;
        e = strchr(s, '>');
        if (e == NULL)
            return -1;
        *e = '\0';
    } else {
        s[strcspn(s, ",;")] = '\0';
        p = strchr(s, ':');     /* group syntax: "name: addr, ...;" */
        if (p != NULL && (at = strchr(s, '@')) != NULL && p < at)
            s = p + 1;
    }
    at = strrchr(s, '@');
    if (at == NULL)
        return -1;
    s = at + 1;
    while (*s == ' ')
        s++;
    n = strcspn(s, " ");
    while (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0 || n >= dlen || n > 253)
        return -1;
    for (p = s; p < s + n; p++) {
        unsigned char c = (unsigned char)*p;
        if (!isalnum(c) && c != '-' && c != '.' && c != '_')
            return -1;          /* ASCII names only: d= needs A-labels */
        domain[p - s] = (char)tolower(c);
    }
    domain[n] = '\0';
    if (domain[0] == '.' || strstr(domain, "..") != NULL)
        return -1;
    return 0;
}

int dkim_identity_domain(const struct dkim_headers *h, char *domain, size_t dlen)
{
    static const char *const names[] = { "sender", "from" };
    const struct dkim_field *f;
    size_t i;

    for (i = 0; i < 2; i++) {
        if ((f = dkim_headers_find(h, names[i])) == NULL)
            continue;
        const char *colon = memchr(f->p, ':', f->len);
        if (dkim_address_domain(colon + 1, f->len - (size_t)(colon + 1 - f->p), domain,
                                dlen) == 0)
            return 0;
    }
    return -1;
}

/* ---- folding ---- */

struct fold {
    struct buf *b;
    size_t col;
    int failed;
};

static void fold_raw(struct fold *f, const char *s, size_t n)
{
    if (buf_append(f->b, s, n) < 0)
        f->failed = 1;
    f->col += n;
}

static void fold_break(struct fold *f)
{
    if (buf_append(f->b, "\r\n ", 3) < 0)
        f->failed = 1;
    f->col = 1;
}

/* fold_word - s as one unbreakable word, after a blank if space. */
static void fold_word(struct fold *f, const char *s, int space)
{
    size_t n = strlen(s);

    if (f->col + (space ? 1 : 0) + n > FOLD_LIMIT && f->col > 1)
        fold_break(f);
    else if (space)
        fold_raw(f, " ", 1);
    fold_raw(f, s, n);
}

/* fold_chars - s broken anywhere (base64: FWS is allowed inside). */
static void fold_chars(struct fold *f, const char *s)
{
    size_t n = strlen(s), room;

    while (n > 0) {
        if (f->col >= FOLD_LIMIT)
            fold_break(f);
        room = FOLD_LIMIT - f->col;
        if (room > n)
            room = n;
        fold_raw(f, s, room);
        s += room;
        n -= room;
    }
}

/* ---- the signature ---- */

static int in_list(const char *const *list, const char *name)
{
    for (; *list != NULL; list++)
        if (strcasecmp(*list, name) == 0)
            return 1;
    return 0;
}

/* hlist_build - names to sign (defaults + extras), lowercased, unique. */
static int hlist_build(const struct dkim_sig_params *sp, char names[][80], size_t *n,
                       char *err, size_t errlen)
{
    const char *s = sp->extra_headers;
    size_t i, k;

    *n = 0;
    for (i = 0; dkim_default_headers[i] != NULL; i++)
        snprintf(names[(*n)++], 80, "%s", dkim_default_headers[i]);
    while (s != NULL && *s != '\0') {
        size_t len = strcspn(s, ",: \t");
        if (len > 0) {
            if (len >= 80 || *n == DKIM_HLIST_MAX)
                return snprintf(err, errlen, "signed header list too long"), -1;
            for (k = 0; k < len; k++) {
                unsigned char c = (unsigned char)s[k];
                if (c <= 0x20 || c >= 0x7f || c == ';' || c == '=')
                    return snprintf(err, errlen, "bad header name in dkim-headers"), -1;
                names[*n][k] = (char)tolower(c);
            }
            names[*n][len] = '\0';
            for (k = 0; k < *n && strcmp(names[k], names[*n]) != 0; k++)
                ;
            if (k == *n)
                (*n)++;
        }
        s += len;
        s += strspn(s, ",: \t");
    }
    return 0;
}

/* tag_value_ok - a tag value we write must not carry ';', blanks or controls. */
static int tag_value_ok(const char *s, size_t max)
{
    size_t n = strlen(s), i;

    if (n == 0 || n >= max)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == ';')
            return 0;
    return 1;
}

/* add_signed - canonicalized instance k (1-based from the top) of name. */
static int add_signed(const struct dkim_sig_params *sp, const struct dkim_headers *h,
                      const char *name, size_t k, struct buf *in)
{
    size_t i, seen = 0, n = strlen(name);

    for (i = 0; i < h->n; i++)
        if (field_is(&h->f[i], name, n) && ++seen == k)
            return dkim_canon_header(sp->hcanon, h->f[i].p, h->f[i].len, 1, in);
    return 0;
}

int dkim_sig_prepare(const struct dkim_sig_params *sp, const struct dkim_headers *h,
                     const unsigned char bh[DKIM_BH_LEN], struct dkim_sig *sig,
                     char *err, size_t errlen)
{
    char names[DKIM_HLIST_MAX][80], tag[512], bh64[64];
    struct fold f;
    size_t nnames, i, k, count, times, entries = 0;
    int first = 1;

    memset(sig, 0, sizeof(*sig));
    buf_init(&sig->header, 64 * 1024);
    buf_init(&sig->input, DKIM_INPUT_MAX);
    if (!tag_value_ok(sp->domain, DKIM_DOMAIN_MAX) || !tag_value_ok(sp->selector, DKIM_SELECTOR_MAX))
        return snprintf(err, errlen, "bad signing domain or selector"), -1;
    if (sp->identity != NULL && sp->identity[0] != '\0' && !tag_value_ok(sp->identity, 512))
        return snprintf(err, errlen, "bad identity"), -1;
    if (hlist_build(sp, names, &nnames, err, errlen) < 0)
        return -1;
    if (dkim_headers_count(h, "from") == 0 && !sp->oversign)
        return snprintf(err, errlen, "message has no From header"), -1;
    f.b = &sig->header;
    f.col = 0;
    f.failed = 0;
    fold_raw(&f, "DKIM-Signature:", 15);
    fold_word(&f, "v=1;", 1);
    snprintf(tag, sizeof(tag), "a=%s;", dkim_alg_name(sp->alg));
    fold_word(&f, tag, 1);
    snprintf(tag, sizeof(tag), "c=%s/%s;", dkim_canon_name(sp->hcanon), dkim_canon_name(sp->bcanon));
    fold_word(&f, tag, 1);
    snprintf(tag, sizeof(tag), "d=%s;", sp->domain);
    fold_word(&f, tag, 1);
    snprintf(tag, sizeof(tag), "s=%s;", sp->selector);
    fold_word(&f, tag, 1);
    if (sp->identity != NULL && sp->identity[0] != '\0') {
        snprintf(tag, sizeof(tag), "i=%s;", sp->identity);
        fold_word(&f, tag, 1);
    }
    if (sp->timestamp > 0) {
        snprintf(tag, sizeof(tag), "t=%lld;", (long long)sp->timestamp);
        fold_word(&f, tag, 1);
        if (sp->expire_after > 0) {
            snprintf(tag, sizeof(tag), "x=%lld;", (long long)sp->timestamp + sp->expire_after);
            fold_word(&f, tag, 1);
        }
    }
    /* h=: each name as often as it occurs (+1 when over-signed); the
     * matching instances go into the hash input bottom-up. */
    for (i = 0; i < nnames; i++) {
        count = dkim_headers_count(h, names[i]);
        times = count + (sp->oversign && in_list(dkim_default_oversign, names[i]) ? 1 : 0);
        for (k = 0; k < times; k++) {
            if (++entries > HLIST_ENTRIES_MAX)
                return snprintf(err, errlen, "too many signed header fields"), -1;
            snprintf(tag, sizeof(tag), "%s%s", first ? "h=" : ":", names[i]);
            fold_word(&f, tag, first);
            first = 0;
            if (k < count && add_signed(sp, h, names[i], count - k, &sig->input) < 0)
                return snprintf(err, errlen, "signed headers larger than %d bytes",
                                DKIM_INPUT_MAX), -1;
        }
    }
    if (first)
        return snprintf(err, errlen, "no header to sign"), -1;
    fold_raw(&f, ";", 1);
    if (dkim_base64(bh, DKIM_BH_LEN, bh64, sizeof(bh64)) < 0)
        return snprintf(err, errlen, "base64 failed"), -1;
    fold_word(&f, "bh=", 1);
    fold_chars(&f, bh64);
    fold_raw(&f, ";", 1);
    fold_word(&f, "b=", 1);
    if (f.failed)
        return snprintf(err, errlen, "DKIM-Signature header too large"), -1;
    sig->col = f.col;
    if (dkim_canon_header(sp->hcanon, sig->header.data, sig->header.len, 0, &sig->input) < 0)
        return snprintf(err, errlen, "signed headers larger than %d bytes", DKIM_INPUT_MAX), -1;
    return 0;
}

int dkim_sig_finish(struct dkim_sig *sig, const char *b64)
{
    struct fold f = { &sig->header, sig->col, 0 };

    fold_chars(&f, b64);
    fold_raw(&f, "\r\n", 2);
    return f.failed ? -1 : 0;
}

void dkim_sig_free(struct dkim_sig *sig)
{
    buf_free(&sig->header);
    buf_free(&sig->input);
}

/* ---- the signer's check of a header-hash input ---- */

/* tag_next - the next "name=value" of a tag list, whitespace removed from
 * both (FWS may appear anywhere around and, for base64, inside values).
 * A value longer than val holds is cut and marked "\x01" (it matches
 * nothing): only d=, s=, a= and b= are looked at. */
static int tag_next(const char **s, const char *end, char *name, size_t nlen, char *val,
                    size_t vlen)
{
    const char *p = *s, *semi, *eq;
    size_t n = 0, v = 0;

    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    if (p >= end)
        return 0;
    semi = memchr(p, ';', (size_t)(end - p));
    if (semi == NULL)
        semi = end;
    eq = memchr(p, '=', (size_t)(semi - p));
    if (eq == NULL)
        return -1;
    for (; p < eq; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            if (n + 1 >= nlen)
                return -1;
            name[n++] = *p;
        }
    for (p = eq + 1; p < semi; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            if (v + 2 >= vlen) {
                val[0] = '\x01';
                v = 1;
                break;
            }
            val[v++] = *p;
        }
    name[n] = '\0';
    val[v] = '\0';
    *s = semi < end ? semi + 1 : end;
    return 1;
}

int dkim_input_check(const unsigned char *in, size_t len, const char *domain,
                     const char *selector, enum dkim_alg alg, char *err, size_t errlen)
{
    static const char field[] = "dkim-signature:";
    const char *s = (const char *)in, *end = s + len, *start = NULL, *p;
    char name[16], val[DKIM_DOMAIN_MAX + 8];
    int seen = 0, rc;

    /* The field starts the input or follows a CRLF; take the last one. */
    for (p = s; p + sizeof(field) - 1 <= end; p++) {
        if ((p == s || (p - s >= 2 && p[-2] == '\r' && p[-1] == '\n'))
            && strncasecmp(p, field, sizeof(field) - 1) == 0)
            start = p;
    }
    if (start == NULL)
        return snprintf(err, errlen, "input does not end with a DKIM-Signature field"), -1;
    for (p = start; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n' && (p + 2 >= end || (p[2] != ' ' && p[2] != '\t')))
            return snprintf(err, errlen, "DKIM-Signature is not the last field of the input"), -1;
    p = start + sizeof(field) - 1;
    while ((rc = tag_next(&p, end, name, sizeof(name), val, sizeof(val))) > 0) {
        if (strcmp(name, "d") == 0)
            seen |= strcasecmp(val, domain) == 0 ? 1 : 16;
        else if (strcmp(name, "s") == 0)
            seen |= strcasecmp(val, selector) == 0 ? 2 : 16;
        else if (strcmp(name, "a") == 0)
            seen |= strcasecmp(val, dkim_alg_name(alg)) == 0 ? 4 : 16;
        else if (strcmp(name, "b") == 0)
            seen |= (val[0] == '\0' && p == end) ? 8 : 16;
    }
    if (rc < 0 || seen != 15)
        return snprintf(err, errlen, "DKIM-Signature in the input does not match d=%s s=%s a=%s "
                        "with an empty b= last", domain, selector, dkim_alg_name(alg)), -1;
    return 0;
}
