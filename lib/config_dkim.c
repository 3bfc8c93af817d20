/*
 * config_dkim - the value handlers of the DKIM directives (issue 5):
 * domain-key (global, <virtual-mta>, <virtual-mta-pool>) and the dkim-*
 * settings of <domain> blocks.  What they mean at run time is in
 * dkim_keys.c (which key signs) and docs/dkim.md.
 */
#include "config_table.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dkim_canon.h"
#include "dkim_key.h"

/* bad - why = "reason: 'value'" with the value made printable. */
static int bad(char *why, size_t whylen, const char *reason, const char *value)
{
    char q[160];

    cfg_quote(q, sizeof(q), value);
    snprintf(why, whylen, "%s: '%s'", reason, q);
    return -1;
}

/* selector_ok - DNS labels (a selector may contain dots, RFC 6376 §3.1). */
static int selector_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n >= 64 || s[0] == '.' || s[n - 1] == '.' || strstr(s, "..") != NULL)
        return 0;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return 0;
    return 1;
}

/* ascii_host_ok - a d= domain must be ASCII (A-labels). */
static int ascii_host_ok(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return cfg_host_ok(s);
}

/* key_list - the domain-key array of the scope being parsed. */
static int key_list(struct cfg_parser *p, struct cfg_domain_key ***arr, size_t **n)
{
    const struct cfg_block *b = p->nstack ? &p->stack[p->nstack - 1] : NULL;

    if (b == NULL) {
        *arr = &p->cfg->domain_keys;
        *n = &p->cfg->ndomain_keys;
    } else if (b->scope == CS_VMTA) {
        *arr = &p->cfg->vmtas[b->index].keys;
        *n = &p->cfg->vmtas[b->index].nkeys;
    } else if (b->scope == CS_POOL) {
        *arr = &p->cfg->pools[b->index].keys;
        *n = &p->cfg->pools[b->index].nkeys;
    } else {
        return -1;
    }
    return 0;
}

int cfg_apply_domain_key(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                         void *base, char *why, size_t whylen)
{
    char item[4][PATH_MAX];
    struct cfg_domain_key k, **arr, *slot;
    const char *s = value;
    size_t i, n = 0, *count;

    memset(&k, 0, sizeof(k));
    while (n < 4) {
        size_t len = strcspn(s, ",");
        const char *a = s, *e = s + len;
        while (a < e && isblank((unsigned char)*a))
            a++;
        while (e > a && isblank((unsigned char)e[-1]))
            e--;
        if ((size_t)(e - a) >= PATH_MAX)
            return bad(why, whylen, "item too long", value);
        memcpy(item[n], a, (size_t)(e - a));
        item[n++][e - a] = '\0';
        if (s[len] == '\0')
            break;
        s += len + 1;
    }
    if (n < 3 || (n == 4 && s[strcspn(s, ",")] != '\0'))
        return bad(why, whylen, "expected SELECTOR,DOMAIN,FILE[,rsa|ed25519]", value);
    if (!selector_ok(item[0]))
        return bad(why, whylen, "not a selector", item[0]);
    for (i = 0; item[1][i] != '\0'; i++)
        item[1][i] = (char)tolower((unsigned char)item[1][i]);
    if (strcmp(item[1], "*") != 0 && !ascii_host_ok(item[1]))
        return bad(why, whylen, "not a domain (ASCII, or *)", item[1]);
    k.alg = DKIM_ALG_RSA_SHA256;
    if (n == 4 && (k.alg = (int)dkim_alg_parse(item[3], 1)) == DKIM_ALG_NONE)
        return bad(why, whylen, "key type must be rsa or ed25519", item[3]);
    if (p == NULL || cfg_path_join(p->cfg->dir, item[2], k.path, sizeof(k.path)) < 0)
        return bad(why, whylen, "bad path", item[2]);
    if (strlen(item[0]) >= sizeof(k.selector) || strlen(item[1]) >= sizeof(k.domain))
        return bad(why, whylen, "too long", value);
    memcpy(k.selector, item[0], strlen(item[0]) + 1);
    memcpy(k.domain, item[1], strlen(item[1]) + 1);
    snprintf(k.file, sizeof(k.file), "%s", p->file);
    k.line = p->line;
    if (key_list(p, &arr, &count) < 0)
        return bad(why, whylen, "not allowed here", value);
    for (i = 0; i < *count; i++)
        if (strcasecmp((*arr)[i].selector, k.selector) == 0
            && strcmp((*arr)[i].domain, k.domain) == 0)
            return snprintf(why, whylen, "selector %s of %s already defined at %s:%d",
                            k.selector, k.domain, (*arr)[i].file, (*arr)[i].line), -1;
    slot = cfg_array_add(arr, count, sizeof(*slot), CFG_DOMAIN_KEYS_MAX);
    if (slot == NULL)
        return bad(why, whylen, "too many keys (or no memory)", value);
    *slot = k;
    return 0;
}

int cfg_apply_dkim_algorithm(struct cfg_parser *p, const struct cfg_directive *d,
                             const char *value, void *base, char *why, size_t whylen)
{
    unsigned mask = 0;
    const char *s = value;
    char item[32];

    while (*s != '\0') {
        size_t len = strcspn(s, ", \t");
        if (len > 0) {
            enum dkim_alg a;
            if (len >= sizeof(item))
                return bad(why, whylen, "unknown algorithm", value);
            memcpy(item, s, len);
            item[len] = '\0';
            if (strcasecmp(item, "rsa-sha1") == 0)
                return bad(why, whylen, "rsa-sha1 is not supported (RFC 8301 forbids it)", item);
            if (strcasecmp(item, "all") == 0 || strcasecmp(item, "both") == 0)
                mask |= DKIM_ALG_ALL;
            else if ((a = dkim_alg_parse(item, 0)) != DKIM_ALG_NONE)
                mask |= (unsigned)a;
            else
                return bad(why, whylen, "expected rsa-sha256, ed25519-sha256 or all", item);
        }
        s += len;
        s += strspn(s, ", \t");
    }
    if (mask == 0)
        return bad(why, whylen, "expected rsa-sha256, ed25519-sha256 or all", value);
    *(unsigned *)((char *)base + d->off) = mask;
    return 0;
}

int cfg_apply_dkim_canon(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                         void *base, char *why, size_t whylen)
{
    const char *slash = strchr(value, '/');
    int *c = (int *)((char *)base + d->off);
    int h, b;

    /* RFC 6376 §3.5: "c=relaxed" alone means relaxed/simple. */
    h = dkim_canon_parse(value, slash ? (size_t)(slash - value) : strlen(value));
    b = slash ? dkim_canon_parse(slash + 1, strlen(slash + 1)) : DKIM_CANON_SIMPLE;
    if (h < 0 || b < 0)
        return bad(why, whylen, "expected relaxed/relaxed, relaxed/simple, simple/simple "
                   "or simple/relaxed", value);
    c[0] = h;
    c[1] = b;
    return 0;
}

int cfg_apply_dkim_headers(struct cfg_parser *p, const struct cfg_directive *d,
                           const char *value, void *base, char *why, size_t whylen)
{
    char out[512];
    size_t o = 0;
    const char *s = value;

    while (*s != '\0') {
        size_t len = strcspn(s, ",: \t"), i;
        if (len > 0) {
            if (o + len + 2 > sizeof(out) || len > 76)
                return bad(why, whylen, "list too long", value);
            if (o > 0)
                out[o++] = ',';
            for (i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c <= 0x20 || c >= 0x7f || c == ';' || c == '=' || c == '/')
                    return bad(why, whylen, "not a header name list", value);
                out[o++] = (char)tolower(c);
            }
        }
        s += len;
        s += strspn(s, ",: \t");
    }
    out[o] = '\0';
    if (o >= d->size)
        return bad(why, whylen, "list too long", value);
    memcpy((char *)base + d->off, out, o + 1);
    return 0;
}

int cfg_apply_dkim_identity(struct cfg_parser *p, const struct cfg_directive *d,
                            const char *value, void *base, char *why, size_t whylen)
{
    char *at = (char *)base + d->off;
    const char *dom = strrchr(value, '@');
    size_t i;

    if (strcmp(d->name, "dkim-identity") == 0 && strcasecmp(value, "sender-or-from") == 0) {
        at[0] = '\0';
        return 0;
    }
    if (dom == NULL || !ascii_host_ok(dom + 1) || strlen(value) >= d->size)
        return bad(why, whylen, "expected sender-or-from, @DOMAIN or local@DOMAIN", value);
    for (i = 0; value[i] != '\0'; i++)
        if ((unsigned char)value[i] <= 0x20 || (unsigned char)value[i] >= 0x7f
            || value[i] == ';' || value[i] == '<' || value[i] == '>')
            return bad(why, whylen, "identity must be printable ASCII without ;<>", value);
    memcpy(at, value, strlen(value) + 1);
    return 0;
}

int cfg_apply_dkim_fail_action(struct cfg_parser *p, const struct cfg_directive *d,
                               const char *value, void *base, char *why, size_t whylen)
{
    int *at = (int *)((char *)base + d->off);

    if (strcasecmp(value, "defer") == 0)
        *at = CFG_DKIM_DEFER;
    else if (strcasecmp(value, "send-unsigned") == 0)
        *at = CFG_DKIM_SEND_UNSIGNED;
    else
        return bad(why, whylen, "expected defer or send-unsigned", value);
    return 0;
}
