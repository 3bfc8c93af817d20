/*
 * smtp_patterns - parse, compile and match smtp-pattern-list rules (see
 * smtp_patterns.h), and the built-in ISP rules.
 *
 * Why the built-in list: PowerMTA ships none, so every operator pastes a
 * stale community list, and its backoff never ends by default.  These
 * rules only ever lower the pressure (mode=backoff, defer-queue); qmgr
 * brings the queue back to normal after backoff-to-normal-after.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "parse.h"
#include "smtp_patterns.h"

#define MAX_INTERVAL (30u * 86400u)

/* Matched against "CODE TEXT" as the queue received it (multi-line
 * replies joined).  Sources: Google's SMTP error reference (4.7.0,
 * 4.7.28, 5.7.1 "unusual rate"), Microsoft's (4.7.650-4.7.660 "temporarily
 * rate limited", RP-001..RP-003), Yahoo's (TSS04, TSS09, [TS01]..[TS03]). */
const char *const smtp_patterns_builtin_rules[] = {
    /* Yahoo / AOL (first: their replies are 421 4.7.0 too); TSS09 means "retrying now will not help" */
    "/\\bTSS09\\b/ mode=backoff,defer-queue",
    "/\\bTSS04\\b/ mode=backoff",
    "/\\[TS0\\d\\]/ mode=backoff",
    /* Gmail: reputation / rate refusals; never answer them harder */
    "/^421[ -]4\\.7\\.0\\b/ mode=backoff",
    "/^421[ -]4\\.7\\.28\\b/ mode=backoff",
    "/^5\\d\\d[ -]5\\.7\\.1\\b.*(unusual rate|rate limit|very high (amount|rate)|unsolicited mail)/ mode=backoff",
    /* Microsoft */
    "/^4\\d\\d[ -]4\\.7\\.(65\\d|660)\\b/ mode=backoff",
    "/temporarily rate limited/ mode=backoff",
    "/\\bRP-00[1-9]\\b/ mode=backoff",
    NULL,
};

struct smtp_pattern_list *smtp_patterns_new(const char *name)
{
    struct smtp_pattern_list *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    snprintf(l->name, sizeof(l->name), "%s", name);
    l->md = pcre2_match_data_create(4, NULL);
    if (l->md == NULL) {
        free(l);
        return NULL;
    }
    return l;
}

void smtp_patterns_free(struct smtp_pattern_list *l)
{
    size_t i;

    if (l == NULL)
        return;
    for (i = 0; i < l->n; i++) {
        pcre2_code_free(l->rules[i].re);
        free(l->rules[i].src);
    }
    free(l->rules);
    pcre2_match_data_free(l->md);
    free(l);
}

/* action_interval - "T" of NAME=T: seconds, "never" = 0. */
static int action_interval(const char *v, uint32_t *out)
{
    uint64_t s;

    if (strcasecmp(v, "never") == 0) {
        *out = 0;
        return 0;
    }
    if (parse_interval(v, &s) < 0 || s < 1 || s > MAX_INTERVAL)
        return -1;
    *out = (uint32_t)s;
    return 0;
}

/* parse_action - one ACTION token into r. */
static int parse_action(struct smtp_pattern_rule *r, const char *tok, char *why, size_t whylen)
{
    const char *eq = strchr(tok, '=');

    if (strcasecmp(tok, "mode=backoff") == 0)
        r->actions |= SPA_BACKOFF;
    else if (strcasecmp(tok, "mode=normal") == 0)
        r->actions |= SPA_NORMAL;
    else if (strcasecmp(tok, "bounce-queue") == 0)
        r->actions |= SPA_BOUNCE_QUEUE;
    else if (strcasecmp(tok, "bounce-rcpt") == 0)
        r->actions |= SPA_BOUNCE_RCPT;
    else if (strcasecmp(tok, "defer-queue") == 0)
        r->actions |= SPA_DEFER_QUEUE;
    else if (strcasecmp(tok, "disable-source-ip") == 0)
        r->actions |= SPA_DISABLE_SOURCE_IP;
    else if (strcasecmp(tok, "skip-mx") == 0)
        r->actions |= SPA_SKIP_MX;
    else if (eq && (size_t)(eq - tok) == 23 && strncasecmp(tok, "backoff-to-normal-after", 23) == 0) {
        if (action_interval(eq + 1, &r->to_normal_after) < 0)
            return snprintf(why, whylen, "backoff-to-normal-after: not an interval (1s..30d or never)"), -1;
    } else if (eq && (size_t)(eq - tok) == 14 && strncasecmp(tok, "reenable-after", 14) == 0) {
        if (action_interval(eq + 1, &r->reenable_after) < 0)
            return snprintf(why, whylen, "reenable-after: not an interval (1s..30d or never)"), -1;
    } else
        return snprintf(why, whylen, "unknown action '%.64s'", tok), -1;
    return 0;
}

/* parse_actions - "a,b c" (commas and blanks both separate). */
static int parse_actions(struct smtp_pattern_rule *r, const char *s, char *why, size_t whylen)
{
    char tok[128];
    size_t n;
    int any = 0;

    for (;;) {
        s += strspn(s, ", \t");
        if (*s == '\0')
            break;
        n = strcspn(s, ", \t");
        if (n >= sizeof(tok))
            return snprintf(why, whylen, "action too long"), -1;
        memcpy(tok, s, n);
        tok[n] = '\0';
        s += n;
        if (parse_action(r, tok, why, whylen) < 0)
            return -1;
        any = 1;
    }
    if (!any)
        return snprintf(why, whylen, "no action after /regex/"), -1;
    if ((r->actions & SPA_BACKOFF) && (r->actions & SPA_NORMAL))
        return snprintf(why, whylen, "mode=backoff and mode=normal in one rule"), -1;
    if ((r->actions & SPA_SKIP_MX) && (r->actions & SPA_BOUNCE_QUEUE))
        return snprintf(why, whylen, "skip-mx and bounce-queue in one rule"), -1;
    if (r->to_normal_after && !(r->actions & SPA_BACKOFF))
        return snprintf(why, whylen, "backoff-to-normal-after= needs mode=backoff"), -1;
    if (r->reenable_after && !(r->actions & SPA_DISABLE_SOURCE_IP))
        return snprintf(why, whylen, "reenable-after= needs disable-source-ip"), -1;
    return 0;
}

int smtp_patterns_add(struct smtp_pattern_list *l, const char *value, char *why, size_t whylen)
{
    struct smtp_pattern_rule r;
    const char *end;
    size_t relen;
    int ec;
    PCRE2_SIZE eo;

    memset(&r, 0, sizeof(r));
    if (l->n >= SMTP_PATTERNS_MAX)
        return snprintf(why, whylen, "more than %d rules in one list", SMTP_PATTERNS_MAX), -1;
    /* The regex runs to the last '/': actions never hold one, URLs in
     * ISP replies often do. */
    end = value[0] == '/' ? strrchr(value + 1, '/') : NULL;
    if (end == NULL || end == value + 1)
        return snprintf(why, whylen, "expected /regex/ ACTIONS"), -1;
    if (end[1] != '\0' && end[1] != ' ' && end[1] != '\t')
        return snprintf(why, whylen, "expected a blank after /regex/"), -1;
    relen = (size_t)(end - value - 1);
    if (parse_actions(&r, end + 1, why, whylen) < 0)
        return -1;
    r.re = pcre2_compile((PCRE2_SPTR)(value + 1), relen, PCRE2_CASELESS, &ec, &eo, NULL);
    if (r.re == NULL) {
        PCRE2_UCHAR msg[256];

        if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", ec);
        return snprintf(why, whylen, "bad regex at offset %zu: %s", (size_t)eo, (char *)msg), -1;
    }
    /* JIT is an optimisation only */
    (void)pcre2_jit_compile(r.re, PCRE2_JIT_COMPLETE);
    r.src = strndup(value + 1, relen);
    if (r.src == NULL) {
        pcre2_code_free(r.re);
        free(r.src);
        return snprintf(why, whylen, "out of memory"), -1;
    }
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        struct smtp_pattern_rule *nr = realloc(l->rules, nc * sizeof(*nr));

        if (nr == NULL) {
            pcre2_code_free(r.re);
            free(r.src);
            return snprintf(why, whylen, "out of memory"), -1;
        }
        l->rules = nr;
        l->cap = nc;
    }
    l->rules[l->n++] = r;
    return 0;
}

const struct smtp_pattern_rule *smtp_patterns_match(const struct smtp_pattern_list *l,
                                                    const char *reply, size_t len)
{
    size_t i;

    if (l == NULL || reply == NULL)
        return NULL;
    for (i = 0; i < l->n; i++)
        if (pcre2_match(l->rules[i].re, (PCRE2_SPTR)reply, len, 0, 0, l->md, NULL) >= 0)
            return &l->rules[i];
    return NULL;
}

static struct smtp_pattern_list *builtin;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void builtin_init(void)
{
    char why[256];
    size_t i;

    builtin = smtp_patterns_new(SMTP_PATTERNS_BUILTIN_NAME);
    for (i = 0; builtin != NULL && smtp_patterns_builtin_rules[i] != NULL; i++)
        if (smtp_patterns_add(builtin, smtp_patterns_builtin_rules[i], why, sizeof(why)) < 0) {
            /* a broken built-in rule is a bug the unit test catches */
            smtp_patterns_free(builtin);
            builtin = NULL;
        }
}

const struct smtp_pattern_list *smtp_patterns_builtin(void)
{
    (void)pthread_once(&builtin_once, builtin_init);
    return builtin;
}

void smtp_patterns_format_actions(const struct smtp_pattern_rule *r, char *out, size_t outlen)
{
    static const struct { unsigned bit; const char *name; } names[] = {
        { SPA_BACKOFF, "mode=backoff" }, { SPA_NORMAL, "mode=normal" },
        { SPA_BOUNCE_QUEUE, "bounce-queue" }, { SPA_BOUNCE_RCPT, "bounce-rcpt" },
        { SPA_DEFER_QUEUE, "defer-queue" }, { SPA_DISABLE_SOURCE_IP, "disable-source-ip" },
        { SPA_SKIP_MX, "skip-mx" },
    };
    size_t i, n = 0;
    int k;

    if (outlen == 0)
        return;
    out[0] = '\0';
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(r->actions & names[i].bit))
            continue;
        k = snprintf(out + n, outlen - n, "%s%s", n ? "," : "", names[i].name);
        if (k < 0 || (size_t)k >= outlen - n)
            return;
        n += (size_t)k;
    }
    if (r->to_normal_after) {
        k = snprintf(out + n, outlen - n, ",backoff-to-normal-after=%us", r->to_normal_after);
        if (k > 0 && (size_t)k < outlen - n)
            n += (size_t)k;
    }
    if (r->reenable_after) {
        k = snprintf(out + n, outlen - n, ",reenable-after=%us", r->reenable_after);
        if (k > 0 && (size_t)k < outlen - n)
            n += (size_t)k;
    }
}
