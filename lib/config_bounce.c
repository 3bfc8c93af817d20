/*
 * config_bounce - the value handlers of the bounce, feedback-loop and
 * suppression directives (issue 6) and the look-ups daemons use on them.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "config_table.h"

#define CFG_BOUNCE_DOMAINS_MAX 1024

static int bad(char *why, size_t whylen, const char *reason, const char *value)
{
    char q[160];

    cfg_quote(q, sizeof(q), value);
    snprintf(why, whylen, "%s: '%s'", reason, q);
    return -1;
}

int cfg_apply_bounce_domain(struct cfg_parser *p, const struct cfg_directive *d,
                            const char *value, void *base, char *why, size_t whylen)
{
    struct config *cfg = base;
    char (*slot)[CFG_NAME_MAX];

    if (!cfg_host_ok(value) || strlen(value) >= CFG_NAME_MAX)
        return bad(why, whylen, "not a domain name", value);
    slot = cfg_array_add(&cfg->bounce_domains, &cfg->nbounce_domains, CFG_NAME_MAX,
                         CFG_BOUNCE_DOMAINS_MAX);
    if (slot == NULL)
        return bad(why, whylen, "too many bounce domains (or no memory)", value);
    snprintf(*slot, CFG_NAME_MAX, "%s", value);
    return 0;
}

/* cfg_apply_hard_categories - "a,b c" -> "a b c"; names are lower-case
 * letters and '-' (PowerMTA allows custom category names). */
int cfg_apply_hard_categories(struct cfg_parser *p, const struct cfg_directive *d,
                              const char *value, void *base, char *why, size_t whylen)
{
    struct config *cfg = base;
    char out[sizeof(cfg->hard_bounce_categories)];
    size_t o = 0, i;
    int sep = 1;

    for (i = 0; value[i] != '\0'; i++) {
        unsigned char c = (unsigned char)value[i];

        if (c == ',' || c == ' ' || c == '\t') {
            sep = 1;
            continue;
        }
        if (!(islower(c) || c == '-'))
            return bad(why, whylen, "not a category list", value);
        if (o + 3 >= sizeof(out))
            return bad(why, whylen, "list too long", value);
        if (sep && o > 0)
            out[o++] = ' ';
        sep = 0;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    memcpy(cfg->hard_bounce_categories, out, o + 1);
    return 0;
}

/* cfg_apply_pipe - "/abs/program args": an absolute program (it is run
 * without a shell, from a daemon whose folder is not the config's), no
 * control bytes, bounded. */
int cfg_apply_pipe(struct cfg_parser *p, const struct cfg_directive *d, const char *value,
                   void *base, char *why, size_t whylen)
{
    char *dst = (char *)base + d->off;
    size_t i, n = strlen(value);

    if (value[0] != '/')
        return bad(why, whylen, "needs an absolute program path", value);
    if (n >= d->size)
        return bad(why, whylen, "too long", value);
    for (i = 0; i < n; i++)
        if ((unsigned char)value[i] < 0x20 && value[i] != '\t')
            return bad(why, whylen, "control character", value);
    memcpy(dst, value, n + 1);
    return 0;
}

int config_is_bounce_domain(const struct config *cfg, const char *domain)
{
    size_t i, n = strlen(domain);

    if (n > 0 && domain[n - 1] == '.')
        n--;
    for (i = 0; i < cfg->nbounce_domains; i++)
        if (strlen(cfg->bounce_domains[i]) == n
            && strncasecmp(cfg->bounce_domains[i], domain, n) == 0)
            return 1;
    return 0;
}

int config_suppression_dir(const struct config *cfg, char *out, size_t outlen)
{
    int n = cfg->suppression_db[0] != '\0'
        ? snprintf(out, outlen, "%s", cfg->suppression_db)
        : snprintf(out, outlen, "%s/suppress", cfg->spool_dir);

    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}
