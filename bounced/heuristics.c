/*
 * heuristics - reading the prose of non-standard bounces.  Every MTA words
 * its notice differently but they share a shape: an explanation, then one
 * paragraph per failed recipient that starts with the address (Postfix
 * "<a@b>: host said ...", Exim "  a@b\n    SMTP error ...", qmail
 * "<a@b>:\n...", Sendmail "<a@b>... User unknown"), then a copy of the
 * original message.  So: cut the copy off, prefer addresses that start a
 * line, then addresses introduced by "to"/"recipient", then any address
 * that is not the notice's own sender or recipient.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "heuristics.h"

/* possessive: an address is never shortened to make the rest match */
#define ADDR "([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]++@[A-Za-z0-9_-]++(?:\\.[A-Za-z0-9_-]++)++)"

enum { RE_CUT, RE_LINE, RE_INTRO, RE_ANY, RE_BOUNCE_SUBJ, RE_BOUNCE_TEXT, RE_COUNT };

static const char *const heur_src[RE_COUNT] = {
    /* where the copy of the original message starts */
    [RE_CUT] = "^[ \\t>|]*(?:-{2,}|={2,}|_{2,}|\\*{2,})?[ \\t]*(?:"
               "(?:below this line is|this is|enclosed is|here is|attached is) a copy of (?:the|your) message|"
               "(?:original|returned|unsent|undelivered|bounced|rejected|your) (?:message|mail|e-?mail)"
               "(?: header)?s?(?: (?:follows|below|is attached|attached))?[ \\t]*(?:-{2,}|={2,}|:)|"
               "(?:original|returned|unsent|undelivered) message(?: header)?s? follows|"
               "original message follows|message follows|"
               "the (?:original )?(?:message|header)s? (?:of the original message )?(?:is|are|was) (?:following|attached|below)|"
               "headers? of (?:the )?(?:original|returned) message|"
               "(?:original|rejected) message headers?|"
               "content-type: message/rfc822|"
               "return-path: ?<[^>]*>$|"
               "received: from \\S+ \\("
               ")",
    /* an address that starts a line: "<a@b>:", "a@b", "RCPT TO:<a@b>" */
    [RE_LINE] = "^[ \\t>*-]*(?:[245][0-9][0-9][ -])?(?:(?:>>> )?rcpt to: ?|(?:failed |original |final )?recipient(?: address)?(?:\\(s\\))?: ?"
                "|(?:original|final)-recipient: ?(?:rfc822; ?)?|addressed to:? ?|to: ?|address: ?"
                "|invalid recipient: ?|unknown (?:user|recipient): ?)?[\"'<(]*" ADDR "[\"'>)]*"
                "(?:[ \\t]*$|[ \\t]*[:.,;(\\[]|[ \\t]+[^ \\t\\n=])",
    /* an address introduced as the recipient */
    [RE_INTRO] = "(?:\\bto|\\bfor|recipients?|rcpt to|addresse[es]?|addressed to|destinataire|empfaenger|"
                 "following address(?:es)?)\\s*(?:\\(s\\))?\\s*:?\\s*[\"'<(]*" ADDR,
    [RE_ANY] = ADDR,
    [RE_BOUNCE_SUBJ] = "undeliver|undelivered|not (?:be )?delivered|delivery (?:status|fail|failure|report|problem|notification)"
                       "|failure notice|returned mail|mail delivery|could not send|non[- ]?remis|nondeliver"
                       "|delivery has failed|returned to sender|rejected|mail system error|unable to deliver"
                       "|warning: could not|delayed mail|message not delivered|error sending|\\bbounce"
                       "|fehlgeschlagen|unzustellbar|failed delivery|problem delivering|mail error|not deliverable",
    [RE_BOUNCE_TEXT] = "could not be delivered|couldn't be delivered|undeliverable|delivery (?:to the following|has failed|failed)"
                       "|permanent (?:fatal )?error|unable to deliver|wasn't able to deliver|was not delivered"
                       "|following address(?:es)? failed|mail delivery (?:software|failed|system)|qmail-send"
                       "|transcript of session|remote host said|did not like|message was not|mailer-daemon"
                       "|delivery failure|returned to (?:the )?sender|could not deliver|failed to deliver"
                       "|rejected your message|delivery to the following|not delivered|user unknown|smtp error"
                       "|invalid user|no such user|requested action not taken|error message below",
};

static pcre2_code *heur_re[RE_COUNT];
static pcre2_match_data *heur_md;

/* heur_init - compile once; the patterns are constants, failure is a bug */
static int heur_init(void)
{
    int i, ec;
    PCRE2_SIZE eo;

    if (heur_md)
        return 0;
    for (i = 0; i < RE_COUNT; i++) {
        heur_re[i] = pcre2_compile((PCRE2_SPTR)heur_src[i], PCRE2_ZERO_TERMINATED,
                                   PCRE2_CASELESS | PCRE2_MULTILINE, &ec, &eo, NULL);
        if (!heur_re[i])
            return -1;
        (void)pcre2_jit_compile(heur_re[i], PCRE2_JIT_COMPLETE);
    }
    heur_md = pcre2_match_data_create(8, NULL);
    return heur_md ? 0 : -1;
}

/* heur_find - match re in s from off; start/end of group g (0 = whole)
 * and, when wend is not NULL, the end of the whole match */
static int heur_find_end(int re, const char *s, size_t len, size_t off, int g, size_t *ms,
                         size_t *me, size_t *wend)
{
    PCRE2_SIZE *ov;
    int rc;

    if (heur_init() < 0 || off > len)
        return 0;
    rc = pcre2_match(heur_re[re], (PCRE2_SPTR)s, len, off, 0, heur_md, NULL);
    if (rc <= g)
        return 0;
    ov = pcre2_get_ovector_pointer(heur_md);
    if (ov[2 * g] == PCRE2_UNSET)
        return 0;
    *ms = ov[2 * g];
    *me = ov[2 * g + 1];
    if (wend)
        *wend = ov[1];
    return 1;
}

static int heur_find(int re, const char *s, size_t len, size_t off, int g, size_t *ms, size_t *me)
{
    return heur_find_end(re, s, len, off, g, ms, me, NULL);
}

/* heur_append_text - append a part body; HTML loses its tags */
static int heur_append_text(char **out, size_t *len, size_t *cap, const struct mime_part *p)
{
    int html = strcmp(p->ctype, "text/html") == 0, intag = 0;
    size_t i;

    /* i == blen is one more round that only makes room for "\n\0" */
    for (i = 0; i <= p->blen; i++) {
        char c = i < p->blen ? p->body[i] : '\0';
        if (*len + 3 >= *cap) {
            size_t nc = *cap * 2 + 256;
            char *n = realloc(*out, nc);
            if (!n)
                return -1;
            *out = n;
            *cap = nc;
        }
        if (i == p->blen)
            break;
        if (html) {
            if (c == '<') {
                intag = 1;
                if (strncasecmp(p->body + i, "<br", 3) == 0 || strncasecmp(p->body + i, "<p", 2) == 0
                    || strncasecmp(p->body + i, "<div", 4) == 0 || strncasecmp(p->body + i, "<tr", 3) == 0)
                    (*out)[(*len)++] = '\n';
                continue;
            }
            if (intag) {
                if (c == '>')
                    intag = 0;
                continue;
            }
            if (c == '&' && strncmp(p->body + i, "&lt;", 4) == 0) {
                (*out)[(*len)++] = '<';
                i += 3;
                continue;
            }
            if (c == '&' && strncmp(p->body + i, "&gt;", 4) == 0) {
                (*out)[(*len)++] = '>';
                i += 3;
                continue;
            }
        }
        (*out)[(*len)++] = c;
    }
    (*out)[(*len)++] = '\n';
    (*out)[*len] = '\0';
    return 0;
}

/* heur_inside_message - is p part of an attached message? */
static int heur_inside_message(const struct mime_part *p)
{
    for (p = p->parent; p; p = p->parent)
        if (strncmp(p->ctype, "message/", 8) == 0 || strcmp(p->ctype, "text/rfc822-headers") == 0)
            return 1;
    return 0;
}

char *heur_explanation(struct mime_part *root, size_t *len)
{
    struct mime_part *p;
    size_t cap = 256, ms, me;
    char *out = malloc(cap);
    int have_plain = 0;

    if (!out)
        return NULL;
    out[0] = '\0';
    *len = 0;
    for (p = root; p; p = mime_walk_next(root, p))
        if (!heur_inside_message(p) && strcmp(p->ctype, "text/plain") == 0 && p->blen > 0)
            have_plain = 1;
    for (p = root; p; p = mime_walk_next(root, p)) {
        if (heur_inside_message(p) || !p->body)
            continue;
        if (strncmp(p->ctype, "multipart/", 10) == 0 || strcmp(p->ctype, "text/plain") == 0
            || (strcmp(p->ctype, "text/html") == 0 && !have_plain)) {
            if (heur_append_text(&out, len, &cap, p) < 0) {
                free(out);
                return NULL;
            }
        }
    }
    /* cut at the copy of the original, but never before the first
     * non-blank paragraph (some notices start with the marker) */
    if (heur_find(RE_CUT, out, *len, 0, 0, &ms, &me)) {
        size_t k = 0;
        while (k < ms && isspace((unsigned char)out[k]))
            k++;
        if (k < ms) {
            *len = ms;
            out[ms] = '\0';
        } else if (heur_find(RE_CUT, out, *len, me, 0, &ms, &me)) {
            *len = ms;
            out[ms] = '\0';
        }
    }
    return out;
}

int heur_looks_like_bounce(struct mime_part *root, const char *expl)
{
    const char *from = mime_header(root, "From"), *subj = mime_header(root, "Subject");
    char dsubj[1024];
    size_t ms, me;

    if (from && (strcasestr(from, "mailer-daemon") || strcasestr(from, "postmaster") || strcasestr(from, "post_master")
                 || strcasestr(from, "mail delivery") || strcasestr(from, "maildelivery")))
        return 1;
    if (mime_header(root, "X-Failed-Recipients"))
        return 1;
    if (subj) {
        mime_decode_words(subj, dsubj, sizeof(dsubj));
        if (heur_find(RE_BOUNCE_SUBJ, dsubj, strlen(dsubj), 0, 0, &ms, &me))
            return 1;
    }
    return expl && heur_find(RE_BOUNCE_TEXT, expl, strlen(expl), 0, 0, &ms, &me);
}

static int heur_excluded(const char *addr, const char *const *exclude)
{
    size_t i;

    for (i = 0; exclude && exclude[i]; i++)
        if (strcasecmp(addr, exclude[i]) == 0)
            return 1;
    return strncasecmp(addr, "mailer-daemon@", 14) == 0;
}

#define HEUR_BLOCK_MAX 1500

/* heur_set_block_diag - what the notice says about the recipient named at
 * offset at: from that line through the following paragraphs up to the
 * line naming another recipient (or HEUR_BLOCK_MAX bytes) */
static void heur_set_block_diag(const char *s, size_t len, size_t at, struct report_rcpt *r)
{
    size_t ps = at, pe, off, ms, me;
    const char *nl;

    while (ps > 0 && s[ps - 1] != '\n')
        ps--;
    nl = memchr(s + at, '\n', len - at);
    pe = len;
    off = nl ? (size_t)(nl - s) + 1 : len;
    while (off < len && heur_find(RE_LINE, s, len, off, 1, &ms, &me)) {
        size_t ls = ms;
        while (ls > 0 && s[ls - 1] != '\n')
            ls--;
        if (me - ms != strlen(r->addr) || strncasecmp(s + ms, r->addr, me - ms) != 0) {
            pe = ls;
            break;
        }
        nl = memchr(s + ms, '\n', len - ms);
        off = nl ? (size_t)(nl - s) + 1 : len;
    }
    {
        /* an address standing alone (Notes: reason line, then address):
         * the lines just above it in the same paragraph are the reason */
        size_t k, alpha = 0;
        for (k = ps; k < pe; k++)
            alpha += isalpha((unsigned char)s[k]) != 0;
        if (alpha < strlen(r->addr) + 12)
            while (ps >= 2 && s[ps - 1] == '\n' && s[ps - 2] != '\n') {
                ps--;
                while (ps > 0 && s[ps - 1] != '\n')
                    ps--;
            }
    }
    if (pe - ps > HEUR_BLOCK_MAX)
        pe = ps + HEUR_BLOCK_MAX;
    report_set_diag(r, s + ps, pe - ps);
}

/* heur_collect - every match of re (address in group 1) not excluded */
static int heur_collect(int re, const char *s, size_t len, const char *const *exclude,
                        int use_excluded, struct report *rep)
{
    size_t off = 0, ms, me, we, added = 0;
    char addr[REPORT_ADDR_LEN];

    while (off < len && heur_find_end(re, s, len, off, 1, &ms, &me, &we)) {
        size_t n = me - ms;
        off = we > off ? we : off + 1;
        if (n == 0 || n >= sizeof(addr))
            continue;
        memcpy(addr, s + ms, n);
        addr[n] = '\0';
        while (n > 0 && addr[n - 1] == '.')
            addr[--n] = '\0';
        if (!use_excluded && heur_excluded(addr, exclude))
            continue;
        if (report_find(rep, addr))
            continue;
        {
            struct report_rcpt *r = report_add(rep, addr);
            if (!r)
                break;
            r->type = REPORT_BOUNCE;
            if (re == RE_LINE)
                heur_set_block_diag(s, len, ms, r);
            else
                report_set_diag(r, s, len);
            added++;
        }
    }
    return (int)added;
}

int heur_recipients(const char *expl, size_t len, const char *const *exclude, struct report *rep)
{
    int n;

    if ((n = heur_collect(RE_LINE, expl, len, exclude, 0, rep)) > 0)
        return n;
    if ((n = heur_collect(RE_INTRO, expl, len, exclude, 0, rep)) > 0)
        return n;
    if ((n = heur_collect(RE_ANY, expl, len, exclude, 0, rep)) > 0)
        return n;
    return heur_collect(RE_LINE, expl, len, exclude, 1, rep);
}

void heur_diag_for(const char *expl, size_t len, struct report_rcpt *r)
{
    const char *p = strcasestr(expl, r->addr);

    if (p)
        heur_set_block_diag(expl, len, (size_t)(p - expl), r);
    else
        report_set_diag(r, expl, len);
}
