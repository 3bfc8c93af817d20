/*
 * pattern_list - <pattern-list> rules: parse, compile, match (see
 * pattern_list.h).  Also the header-section walker smtpd uses for the
 * X-Virtual-MTA / X-Job headers, so both read headers the same way.
 *
 * DIAGNOSTICS: pattern_list_add fails with "expected /REGEX/ RESULT",
 * "bad regex at offset N: ...", "not supported yet: RESULT", "too many
 * rules"; the config parser puts file:line and the directive in front.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pattern_list.h"

#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A header value or address longer than this is matched on its prefix:
 * the subject is bounded, and so is the work per rule. */
#define PL_SUBJECT_MAX 4096
/* Backtracking steps and depth per match: plenty for any sane rule,
 * milliseconds at worst for a pathological one. */
#define PL_MATCH_LIMIT 200000
#define PL_DEPTH_LIMIT 10000

static int fail(char *why, size_t whylen, const char *reason, const char *v)
{
    snprintf(why, whylen, "%s: '%.120s'", reason, v);
    return -1;
}

/* header_name_ok - RFC 5322 field-name: printable ASCII except ':'. */
static int header_name_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n >= PL_HEADER_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] <= 32 || s[i] >= 127 || s[i] == ':')
            return 0;
    return 1;
}

/* parse_regex - "/re/" or "/re/i" at *s: the regex runs to the last '/'
 * before the blank that starts the result, so '/' needs no escaping. */
static int parse_regex(const char **s, char *re, size_t relen, int *caseless)
{
    const char *p = *s, *end, *close = NULL, *q;
    size_t n;

    if (*p != '/')
        return -1;
    /* the result is the last blank-separated word */
    end = p + strlen(p);
    while (end > p && isblank((unsigned char)end[-1]))
        end--;
    q = end;
    while (q > p && !isblank((unsigned char)q[-1]))
        q--;
    if (q == p)
        return -1;              /* no result after the regex */
    for (const char *c = q - 1; c > p; c--) {
        if (isblank((unsigned char)*c))
            continue;
        if (*c == '/' || (*c == 'i' && c - 1 > p && c[-1] == '/')) {
            close = *c == '/' ? c : c - 1;
            *caseless = *c == 'i';
        }
        break;
    }
    if (close == NULL || close == p)
        return -1;
    n = (size_t)(close - p - 1);
    if (n == 0 || n >= relen)
        return -1;
    memcpy(re, p + 1, n);
    re[n] = '\0';
    *s = q;
    return 0;
}

static int compile(struct pl_rule *r, int caseless, char *why, size_t whylen)
{
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code;

    code = pcre2_compile((PCRE2_SPTR)r->regex, PCRE2_ZERO_TERMINATED,
                         caseless ? PCRE2_CASELESS : 0, &ec, &eo, NULL);
    if (code == NULL) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", ec);
        snprintf(why, whylen, "bad regex at offset %zu: %s: '/%.120s/'", (size_t)eo,
                 (char *)msg, r->regex);
        return -1;
    }
    /* JIT is an optimisation: without it matching still works */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    r->re = code;
    return 0;
}

int pattern_list_add(struct pattern_list *pl, enum pl_kind kind, const char *value,
                     char *why, size_t whylen)
{
    struct pl_rule r, *nr;
    const char *s = value;
    int caseless = 0;
    size_t n;

    memset(&r, 0, sizeof(r));
    r.kind = kind;
    if (pl->nrules >= PL_RULES_MAX)
        return fail(why, whylen, "too many rules in one list", value);
    if (kind == PL_HEADER) {
        n = strcspn(s, " \t");
        if (!header_name_ok(s, n))
            return fail(why, whylen, "expected HEADER /REGEX/ RESULT", value);
        memcpy(r.header, s, n);
        r.header[n] = '\0';
        s += n;
        s += strspn(s, " \t");
    }
    if (parse_regex(&s, r.regex, sizeof(r.regex), &caseless) < 0)
        return fail(why, whylen, "expected /REGEX/ RESULT", value);
    if (strncasecmp(s, "virtual-mta=", 12) != 0) {
        char res[64];
        snprintf(res, sizeof(res), "%.*s", (int)strcspn(s, "="), s);
        return fail(why, whylen, "not supported yet (only virtual-mta=NAME)", res);
    }
    s += 12;
    n = strcspn(s, " \t");
    if (n == 0 || n >= sizeof(r.vmta) || s[n] != '\0')
        return fail(why, whylen, "expected virtual-mta=NAME", value);
    memcpy(r.vmta, s, n);
    r.vmta[n] = '\0';
    if (pl->md == NULL) {
        pl->md = pcre2_match_data_create(1, NULL);
        if (pl->md == NULL)
            return fail(why, whylen, "no memory", value);
    }
    if (pl->mctx == NULL) {
        pl->mctx = pcre2_match_context_create(NULL);
        if (pl->mctx == NULL || pcre2_set_match_limit(pl->mctx, PL_MATCH_LIMIT) != 0
            || pcre2_set_depth_limit(pl->mctx, PL_DEPTH_LIMIT) != 0)
            return fail(why, whylen, "no memory", value);
    }
    if (compile(&r, caseless, why, whylen) < 0)
        return -1;
    nr = realloc(pl->rules, (pl->nrules + 1) * sizeof(*nr));
    if (nr == NULL) {
        pcre2_code_free(r.re);
        return fail(why, whylen, "no memory", value);
    }
    pl->rules = nr;
    pl->rules[pl->nrules++] = r;
    return 0;
}

void pattern_list_free(struct pattern_list *pl)
{
    size_t i;

    if (pl == NULL)
        return;
    for (i = 0; i < pl->nrules; i++)
        pcre2_code_free(pl->rules[i].re);
    free(pl->rules);
    pcre2_match_data_free(pl->md);
    pcre2_match_context_free(pl->mctx);
    pl->mctx = NULL;
    pl->rules = NULL;
    pl->nrules = 0;
    pl->md = NULL;
}

static int re_match(const struct pattern_list *pl, const struct pl_rule *r, const char *s,
                    size_t n)
{
    if (n > PL_SUBJECT_MAX)
        n = PL_SUBJECT_MAX;
    /* < 0 is "no match", and also PCRE2_ERROR_MATCHLIMIT: not a match */
    return pcre2_match(r->re, (PCRE2_SPTR)s, n, 0, 0, pl->md, pl->mctx) >= 0;
}

int pattern_list_next_header(const char *hdrs, size_t len, size_t *off, struct pl_header *h)
{
    size_t i = *off, colon, end;

    if (i >= len || hdrs[i] == '\r' || hdrs[i] == '\n')
        return 0;               /* the blank line ends the header section */
    for (colon = i; colon < len && hdrs[colon] != ':' && hdrs[colon] != '\n'; colon++)
        ;
    if (colon >= len || hdrs[colon] != ':' || colon == i)
        return 0;               /* not a header field: the body started */
    /* the field ends at a CRLF not followed by a blank (RFC 5322 2.2.3) */
    for (end = colon; end < len; end++)
        if (hdrs[end] == '\n' && (end + 1 >= len || (hdrs[end + 1] != ' ' && hdrs[end + 1] != '\t')))
            break;
    end = end < len ? end + 1 : len;
    h->name = hdrs + i;
    h->name_len = colon - i;
    while (h->name_len > 0 && isblank((unsigned char)h->name[h->name_len - 1]))
        h->name_len--;
    h->value = hdrs + colon + 1;
    h->value_len = end - colon - 1;
    while (h->value_len > 0 && isblank((unsigned char)*h->value)) {
        h->value++;
        h->value_len--;
    }
    h->start = i;
    h->len = end - i;
    *off = end;
    return 1;
}

int pattern_list_unfold(const char *v, size_t n, char *out, size_t outlen)
{
    size_t i, o = 0;

    if (outlen == 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (v[i] == '\r' || v[i] == '\n')
            continue;
        if (o == 0 && isblank((unsigned char)v[i]))
            continue;           /* a value that starts on a folded line */
        if (o + 1 >= outlen)
            return -1;
        out[o++] = v[i];
    }
    while (o > 0 && isblank((unsigned char)out[o - 1]))
        o--;
    out[o] = '\0';
    return (int)o;
}

/* header_rule - whether some header named r->header matches. */
static int header_rule(const struct pattern_list *pl, const struct pl_rule *r,
                       const struct pl_subject *m)
{
    struct pl_header h;
    size_t off = 0, hl = strlen(r->header);
    char v[PL_SUBJECT_MAX + 1];
    int n;

    while (pattern_list_next_header(m->headers, m->headers_len, &off, &h)) {
        if (h.name_len != hl || strncasecmp(h.name, r->header, hl) != 0)
            continue;
        n = pattern_list_unfold(h.value, h.value_len < PL_SUBJECT_MAX ? h.value_len
                                : PL_SUBJECT_MAX, v, sizeof(v));
        if (n >= 0 && re_match(pl, r, v, (size_t)n))
            return 1;
    }
    return 0;
}

const struct pl_rule *pattern_list_match(const struct pattern_list *pl,
                                         const struct pl_subject *m)
{
    size_t i, k;

    if (pl == NULL)
        return NULL;
    for (i = 0; i < pl->nrules; i++) {
        const struct pl_rule *r = &pl->rules[i];
        switch (r->kind) {
        case PL_HEADER:
            if (m->headers != NULL && header_rule(pl, r, m))
                return r;
            break;
        case PL_MAIL_FROM:
            if (m->mail_from != NULL && re_match(pl, r, m->mail_from, strlen(m->mail_from)))
                return r;
            break;
        case PL_RCPT_TO:
            for (k = 0; k < m->nrcpts; k++)
                if (re_match(pl, r, m->rcpts[k], strlen(m->rcpts[k])))
                    return r;
            break;
        }
    }
    return NULL;
}
