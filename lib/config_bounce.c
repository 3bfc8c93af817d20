/*
 * config_bounce - the value handlers of the bounce, feedback-loop and
 * suppression directives (issue 6), PowerMTA's <bounce-processor> and
 * <feedback-loop-processor> blocks with their <address-list>, and the
 * look-ups daemons use on them (smtpd: which recipients go to bounced;
 * bounced: which processor a notice came to).
 *
 * A processor's `domain` lines are also added to the bounce-domain list,
 * so everything keyed on bounce domains (VERP domain default, no DSN to a
 * bounce address) treats them alike.  `address /REGEX/` is compiled here
 * (PCRE2, caseless), so a bad regex is a load error with file:line.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
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

/* cur_proc - the processor being parsed (the innermost processor block). */
static struct cfg_processor *cur_proc(struct cfg_parser *p)
{
    int i;

    for (i = p->nstack - 1; i >= 0; i--)
        if (p->stack[i].scope == CS_BPROC)
            return &p->cfg->processors[p->stack[i].index];
    return NULL;
}

int cfg_processor_block(struct cfg_parser *p, int feedback, char *why, size_t whylen)
{
    struct cfg_processor *pr = cfg_array_add(&p->cfg->processors, &p->cfg->nprocessors,
                                             sizeof(*pr), CFG_PROCESSORS_MAX);

    if (pr == NULL)
        return snprintf(why, whylen, "too many processors (or no memory)"), -1;
    pr->feedback = feedback;
    snprintf(pr->file, sizeof(pr->file), "%s", p->file);
    pr->line = p->line;
    return 0;
}

/* cfg_apply_proc_deliver - deliver-(un)matched-email: only "no".  Yes
 * would hand the notice to the domain's delivery type (file, pipe), which
 * Courser does not have; relaying it by MX would loop back here. */
int cfg_apply_proc_deliver(struct cfg_parser *p, const struct cfg_directive *d,
                           const char *value, void *base, char *why, size_t whylen)
{
    if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0)
        return 0;
    if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0)
        return bad(why, whylen, "not supported yet: Courser has no local delivery (queue type "
                   "file/pipe); use forward-unmatched-to, or bounce-pipe/fbl-pipe", value);
    return bad(why, whylen, "not a boolean", value);
}

static int addr_ok(const char *s)
{
    const char *at = strrchr(s, '@');
    size_t i;

    if (at == NULL || at == s || !cfg_host_ok(at + 1) || strlen(s) >= CFG_NAME_MAX)
        return 0;
    for (i = 0; s[i] != '\0'; i++)
        if (!isgraph((unsigned char)s[i]) || s[i] == '<' || s[i] == '>')
            return 0;
    return 1;
}

int cfg_apply_proc_forward(struct cfg_parser *p, const struct cfg_directive *d,
                           const char *value, void *base, char *why, size_t whylen)
{
    struct cfg_processor *pr = p ? cur_proc(p) : NULL;
    char (*slot)[CFG_NAME_MAX];
    int errors = d->name[8] == 'e';     /* "forward-errors-to" */

    if (pr == NULL)
        return 0;               /* the table default "(none)" */
    if (!addr_ok(value))
        return bad(why, whylen, "not an address (local@domain)", value);
    slot = errors ? cfg_array_add(&pr->forward_errors, &pr->nforward_errors, CFG_NAME_MAX,
                                  CFG_PROC_FORWARD_MAX)
                  : cfg_array_add(&pr->forward_unmatched, &pr->nforward_unmatched, CFG_NAME_MAX,
                                  CFG_PROC_FORWARD_MAX);
    if (slot == NULL)
        return bad(why, whylen, "too many forward addresses (or no memory)", value);
    snprintf(*slot, CFG_NAME_MAX, "%s", value);
    return 0;
}

int cfg_apply_addrlist_domain(struct cfg_parser *p, const struct cfg_directive *d,
                              const char *value, void *base, char *why, size_t whylen)
{
    struct cfg_processor *pr = p ? cur_proc(p) : NULL;
    char (*slot)[CFG_NAME_MAX];

    if (pr == NULL)
        return 0;
    if (!cfg_host_ok(value) || strlen(value) >= CFG_NAME_MAX)
        return bad(why, whylen, "not a domain name", value);
    slot = cfg_array_add(&pr->domains, &pr->ndomains, CFG_NAME_MAX, CFG_PROC_ITEMS_MAX);
    if (slot == NULL)
        return bad(why, whylen, "too many domains (or no memory)", value);
    snprintf(*slot, CFG_NAME_MAX, "%s", value);
    if (!config_is_bounce_domain(p->cfg, value))
        return cfg_apply_bounce_domain(p, d, value, p->cfg, why, whylen);
    return 0;
}

static int add_literal(struct cfg_processor *pr, const char *value, char *why, size_t whylen)
{
    char (*slot)[CFG_NAME_MAX];
    size_t i;

    if (!addr_ok(value))
        return bad(why, whylen, "not an address (local@domain) or /regex/", value);
    slot = cfg_array_add(&pr->addresses, &pr->naddresses, CFG_NAME_MAX, CFG_PROC_ITEMS_MAX);
    if (slot == NULL)
        return bad(why, whylen, "too many addresses (or no memory)", value);
    for (i = 0; value[i] != '\0'; i++)
        (*slot)[i] = (char)tolower((unsigned char)value[i]);
    (*slot)[i] = '\0';
    return 0;
}

int cfg_apply_addrlist_address(struct cfg_parser *p, const struct cfg_directive *d,
                               const char *value, void *base, char *why, size_t whylen)
{
    struct cfg_processor *pr = p ? cur_proc(p) : NULL;
    size_t n = strlen(value);
    pcre2_code *code;
    void **slot;
    char re[CFG_NAME_MAX * 4];
    int ec;
    PCRE2_SIZE eo;

    if (pr == NULL)
        return 0;
    if (value[0] != '/')
        return add_literal(pr, value, why, whylen);
    if (n < 3 || value[n - 1] != '/' || n - 2 >= sizeof(re))
        return bad(why, whylen, "not an address or /regex/", value);
    memcpy(re, value + 1, n - 2);
    re[n - 2] = '\0';
    code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS, &ec, &eo, NULL);
    if (code == NULL) {
        PCRE2_UCHAR msg[160];

        if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", ec);
        snprintf(why, whylen, "bad regex at offset %zu: %s", (size_t)eo, (char *)msg);
        return -1;
    }
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  /* an optimisation only */
    slot = cfg_array_add(&pr->regexes, &pr->nregexes, sizeof(void *), CFG_PROC_ITEMS_MAX);
    if (slot == NULL) {
        pcre2_code_free(code);
        return bad(why, whylen, "too many regexes (or no memory)", value);
    }
    *slot = code;
    return 0;
}

/* cfg_apply_addrlist_file - complete addresses, one a line. */
int cfg_apply_addrlist_file(struct cfg_parser *p, const struct cfg_directive *d,
                            const char *value, void *base, char *why, size_t whylen)
{
    struct cfg_processor *pr = p ? cur_proc(p) : NULL;
    char path[PATH_MAX], line[CFG_NAME_MAX + 2], sub[512];
    FILE *fp;
    int n = 0, rc = 0;

    if (pr == NULL)
        return 0;
    if (cfg_path_join(p->cfg->dir, value, path, sizeof(path)) < 0)
        return bad(why, whylen, "bad path", value);
    fp = fopen(path, "re");
    if (fp == NULL) {
        snprintf(sub, sizeof(sub), "cannot open (%s)", strerror(errno));
        return bad(why, whylen, sub, value);
    }
    while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
        char *s = line, *e;

        n++;
        if (strchr(line, '\n') == NULL && !feof(fp)) {
            snprintf(sub, sizeof(sub), "line %d too long", n);
            rc = bad(why, whylen, sub, value);
            break;
        }
        s[strcspn(s, "#\r\n")] = '\0';
        while (isspace((unsigned char)*s))
            s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (*s == '\0')
            continue;
        if (strchr(s, '@') == NULL) {
            snprintf(sub, sizeof(sub), "line %d: bare local parts are not supported yet", n);
            rc = bad(why, whylen, sub, value);
        } else if (add_literal(pr, s, sub, sizeof(sub)) < 0) {
            char sub2[600];

            snprintf(sub2, sizeof(sub2), "line %d: %s", n, sub);
            rc = bad(why, whylen, sub2, value);
        }
    }
    if (rc == 0 && ferror(fp))
        rc = bad(why, whylen, "read error", value);
    fclose(fp);
    return rc;
}

void cfg_bounce_free(struct config *cfg)
{
    size_t i, k;

    for (i = 0; i < cfg->nprocessors; i++) {
        struct cfg_processor *pr = &cfg->processors[i];

        for (k = 0; k < pr->nregexes; k++)
            pcre2_code_free(pr->regexes[k]);
        free(pr->regexes);
        free(pr->addresses);
        free(pr->domains);
        free(pr->forward_unmatched);
        free(pr->forward_errors);
    }
    free(cfg->processors);
    cfg->processors = NULL;
    cfg->nprocessors = 0;
}

/* proc_matches - whether pr's address-list takes addr. */
static int proc_matches(const struct cfg_processor *pr, const char *addr)
{
    const char *at = strrchr(addr, '@');
    size_t i, n = strlen(addr);

    if (at != NULL)
        for (i = 0; i < pr->ndomains; i++)
            if (strcasecmp(pr->domains[i], at + 1) == 0)
                return 1;
    for (i = 0; i < pr->naddresses; i++)
        if (strcasecmp(pr->addresses[i], addr) == 0)
            return 1;
    for (i = 0; i < pr->nregexes; i++) {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(pr->regexes[i], NULL);
        int r;

        if (md == NULL)
            return 0;
        r = pcre2_match(pr->regexes[i], (PCRE2_SPTR)addr, n, 0, 0, md, NULL);
        pcre2_match_data_free(md);
        if (r >= 0)
            return 1;
    }
    return 0;
}

const struct cfg_processor *config_processor_for(const struct config *cfg, const char *addr)
{
    size_t i;

    for (i = 0; i < cfg->nprocessors; i++)
        if (proc_matches(&cfg->processors[i], addr))
            return &cfg->processors[i];
    return NULL;
}

int config_is_bounce_address(const struct config *cfg, const char *addr)
{
    const char *at = strrchr(addr, '@');

    if (at != NULL && at[1] != '\0' && config_is_bounce_domain(cfg, at + 1))
        return 1;
    return config_processor_for(cfg, addr) != NULL;
}
