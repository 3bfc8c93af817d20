/*
 * config - reads courser.conf (PowerMTA syntax) into struct config.
 *
 * Owns: the line reader, comments, <block arg> ... </block> nesting,
 * include (glob, relative to the including file, loop and depth checks),
 * scope checks, the checks that need the whole file (names that must
 * exist), config_free and config_write_docs.  What each directive means
 * is in the table (config_table.c); merged look-ups are config_merge.c.
 *
 * DIAGNOSTICS: config_load stops at the first error and writes one line:
 *   FILE:LINE: unknown directive 'x'
 *   FILE:LINE: not supported yet: NAME
 *   FILE:LINE: NAME is not allowed in <scope>
 *   FILE:LINE: NAME: reason: 'value'
 *   FILE:LINE: <domain> block not closed
 * FILE is the path as given (includes: joined to the includer's folder).
 */
#include "config_table.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse_file(struct cfg_parser *p, const char *path);

/* fail - record the one error line; later errors never overwrite it. */
__attribute__((format(printf, 2, 3)))
static int fail(struct cfg_parser *p, const char *fmt, ...)
{
    va_list ap;

    if (!p->failed && p->errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
    }
    p->failed = 1;
    return -1;
}

/* recover - in config_check_all's mode, hand the error just recorded to
 * the caller and clear it so that checking goes on (0); otherwise, or if
 * there is none, leave it (-1 if one is recorded). */
static int recover(struct cfg_parser *p)
{
    if (!p->failed)
        return 0;
    if (p->report == NULL)
        return -1;
    p->report(p->report_arg, p->err);
    p->nerrors++;
    p->failed = 0;
    if (p->errlen > 0)
        p->err[0] = '\0';
    return 0;
}

void *cfg_array_add(void *arrp, size_t *n, size_t elsize, size_t max)
{
    void **pp = arrp;
    char *a;

    if (*n >= max)
        return NULL;
    a = realloc(*pp, (*n + 1) * elsize);
    if (a == NULL)
        return NULL;
    *pp = a;
    memset(a + *n * elsize, 0, elsize);
    return a + (*n)++ * elsize;
}

int cfg_ref_add(struct cfg_parser *p, enum cfg_ref_kind kind, const char *directive,
                const char *name)
{
    struct cfg_ref *r = cfg_array_add(&p->refs, &p->nrefs, sizeof(*r), CFG_REFS_MAX);

    if (r == NULL)
        return -1;
    r->kind = kind;
    snprintf(r->directive, sizeof(r->directive), "%s", directive);
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->file = p->file;          /* p->file is always one of p->paths */
    r->line = p->line;
    return 0;
}

/* ---- blocks ---- */

/* current_scope - CS_* of the innermost open block. */
static unsigned current_scope(const struct cfg_parser *p)
{
    return p->nstack ? p->stack[p->nstack - 1].scope : CS_GLOBAL;
}

/* name_taken - a vmta or pool of that name, for the shared namespace. */
static int name_taken(const struct config *cfg, const char *name, const char **file, int *line)
{
    size_t i;

    for (i = 0; i < cfg->nvmtas; i++)
        if (strcasecmp(cfg->vmtas[i].name, name) == 0) {
            *file = cfg->vmtas[i].file;
            *line = cfg->vmtas[i].line;
            return 1;
        }
    for (i = 0; i < cfg->npools; i++)
        if (strcasecmp(cfg->pools[i].name, name) == 0) {
            *file = cfg->pools[i].file;
            *line = cfg->pools[i].line;
            return 1;
        }
    return 0;
}

/* block_domain - a <domain PATTERN> in the global scope, a vmta or a pool. */
static int block_domain(struct cfg_parser *p, const char *arg, struct cfg_block *b, char *why,
                        size_t whylen)
{
    struct config *cfg = p->cfg;
    struct cfg_domain **arr = &cfg->domains, *dom;
    size_t *n = &cfg->ndomains;
    char q[160];

    cfg_quote(q, sizeof(q), arg);
    /* "$NAME" is a domain-macro, resolved once the whole file is read
     * (cfg_route_finish), so a macro may be defined after its use. */
    if (arg[0] == '$') {
        if (!cfg_name_ok(arg + 1) || strchr(arg + 1, '$') != NULL)
            return snprintf(why, whylen, "not a macro name: '%s'", q), -1;
    } else if (strchr(arg, '$') != NULL) {
        return snprintf(why, whylen, "macros inside a domain (x.$NAME) are not supported yet: '%s'",
                        q), -1;
    } else if (arg[0] == '[' && arg[1] != '*') {
        return snprintf(why, whylen, "IP literal domains are not supported yet: '%s'", q), -1;
    } else if (!cfg_domain_pattern_ok(arg)) {
        return snprintf(why, whylen, "not a domain pattern: '%s'", q), -1;
    }
    if (b->parent == CS_VMTA) {
        b->outer = p->stack[p->nstack - 1].index;
        arr = &cfg->vmtas[b->outer].domains;
        n = &cfg->vmtas[b->outer].ndomains;
    } else if (b->parent == CS_POOL) {
        b->outer = p->stack[p->nstack - 1].index;
        arr = &cfg->pools[b->outer].domains;
        n = &cfg->pools[b->outer].ndomains;
    }
    dom = p->ndomains < CFG_DOMAINS_TOTAL ? cfg_array_add(arr, n, sizeof(*dom), CFG_DOMAINS_MAX)
                                           : NULL;
    if (dom == NULL)
        return snprintf(why, whylen, "too many <domain> blocks (or no memory): '%s'", q), -1;
    p->ndomains++;
    snprintf(dom->pattern, sizeof(dom->pattern), "%s", arg);
    dom->s = *cfg_domain_defaults();
    snprintf(dom->file, sizeof(dom->file), "%s", p->file);
    dom->line = p->line;
    b->index = *n - 1;
    return 0;
}

/* block_named - <virtual-mta NAME> and <virtual-mta-pool NAME>. */
static int block_named(struct cfg_parser *p, const char *arg, struct cfg_block *b, char *why,
                       size_t whylen)
{
    struct config *cfg = p->cfg;
    const char *ofile;
    int oline;
    char q[160];

    cfg_quote(q, sizeof(q), arg);
    if (!cfg_name_ok(arg))
        return snprintf(why, whylen, "not a valid name: '%s'", q), -1;
    if (name_taken(cfg, arg, &ofile, &oline))
        return snprintf(why, whylen, "name already used at %s:%d: '%s'", ofile, oline, q), -1;
    if (b->scope == CS_VMTA) {
        struct cfg_vmta *v = cfg_array_add(&cfg->vmtas, &cfg->nvmtas, sizeof(*v), CFG_VMTAS_MAX);
        if (v == NULL)
            return snprintf(why, whylen, "too many virtual MTAs (or no memory): '%s'", q), -1;
        snprintf(v->name, sizeof(v->name), "%s", arg);
        snprintf(v->file, sizeof(v->file), "%s", p->file);
        v->line = p->line;
        v->warmup_start_day = -1;
        b->index = cfg->nvmtas - 1;
    } else {
        struct cfg_pool *pl = cfg_array_add(&cfg->pools, &cfg->npools, sizeof(*pl), CFG_POOLS_MAX);
        if (pl == NULL)
            return snprintf(why, whylen, "too many pools (or no memory): '%s'", q), -1;
        snprintf(pl->name, sizeof(pl->name), "%s", arg);
        snprintf(pl->file, sizeof(pl->file), "%s", p->file);
        pl->line = p->line;
        b->index = cfg->npools - 1;
    }
    return 0;
}

static int block_source(struct cfg_parser *p, const char *arg, struct cfg_block *b, char *why,
                        size_t whylen)
{
    struct config *cfg = p->cfg;
    struct cfg_source *s;
    struct cidr c;
    char q[160];

    cfg_quote(q, sizeof(q), arg);
    /* A name must not look like an address: "10.0.0.0/33" is a typo, not
     * a named source that no listener will ever select. */
    if (cidr_parse(arg, &c) < 0
        && (!cfg_name_ok(arg) || strpbrk(arg, "/:") != NULL
            || strspn(arg, "0123456789.") == strlen(arg)))
        return snprintf(why, whylen, "not a CIDR or name: '%s'", q), -1;
    s = cfg_array_add(&cfg->sources, &cfg->nsources, sizeof(*s), CFG_SOURCES_MAX);
    if (s == NULL)
        return snprintf(why, whylen, "too many <source> blocks (or no memory): '%s'", q), -1;
    snprintf(s->name, sizeof(s->name), "%s", arg);
    if (cidr_parse(arg, &c) == 0) {
        s->is_cidr = 1;
        s->cidr = c;
    }
    s->s = *cfg_source_defaults();
    snprintf(s->file, sizeof(s->file), "%s", p->file);
    s->line = p->line;
    b->index = cfg->nsources - 1;
    return 0;
}

static int block_acct(struct cfg_parser *p, const char *arg, struct cfg_block *b, char *why,
                      size_t whylen)
{
    struct config *cfg = p->cfg;
    struct cfg_acct_file *a;
    char path[PATH_MAX], q[160];
    size_t i;

    cfg_quote(q, sizeof(q), arg);
    if (arg[0] == '|' || arg[0] == '"')
        return snprintf(why, whylen, "pipes are not supported yet: '%s'", q), -1;
    if (cfg_path_join(cfg->dir, arg, path, sizeof(path)) < 0)
        return snprintf(why, whylen, "bad path: '%s'", q), -1;
    for (i = 0; i < cfg->nacct_files; i++)
        if (strcmp(cfg->acct_files[i].path, path) == 0)
            return snprintf(why, whylen, "file already used at %s:%d: '%s'",
                            cfg->acct_files[i].file, cfg->acct_files[i].line, q), -1;
    a = cfg_array_add(&cfg->acct_files, &cfg->nacct_files, sizeof(*a), CFG_ACCT_MAX);
    if (a == NULL)
        return snprintf(why, whylen, "too many <acct-file> blocks (or no memory): '%s'", q), -1;
    cfg_apply_defaults(CST_ACCT, a);
    memcpy(a->path, path, sizeof(path));
    snprintf(a->file, sizeof(a->file), "%s", p->file);
    a->line = p->line;
    b->index = cfg->nacct_files - 1;
    return 0;
}

static int block_spool(struct cfg_parser *p, const char *arg, char *why, size_t whylen)
{
    char q[160];

    cfg_quote(q, sizeof(q), arg);
    if (p->nspool++ > 0)
        return snprintf(why, whylen, "only one spool is supported yet: '%s'", q), -1;
    if (cfg_path_join(p->cfg->dir, arg, p->cfg->spool_dir, sizeof(p->cfg->spool_dir)) < 0)
        return snprintf(why, whylen, "bad path: '%s'", q), -1;
    return 0;
}

/* open_block - handle "<name arg>". */
static int open_block(struct cfg_parser *p, char *inner)
{
    const struct cfg_directive *d;
    struct cfg_block b;
    char *arg, why[PATH_MAX + 512], q[160];
    unsigned scope = current_scope(p);
    int rc = 0;

    arg = inner + strcspn(inner, " \t");
    if (*arg != '\0') {
        *arg++ = '\0';
        arg += strspn(arg, " \t");
    }
    cfg_quote(q, sizeof(q), inner);
    d = cfg_table_lookup(inner, 1, scope);
    if (d == NULL)
        return fail(p, "%s:%d: unknown block '<%s>'", p->file, p->line, q);
    if (d->flags & CDF_UNSUPPORTED)
        return fail(p, "%s:%d: not supported yet: <%s>", p->file, p->line, d->name);
    if (!(d->scopes & scope))
        return fail(p, "%s:%d: <%s> is not allowed in %s", p->file, p->line, d->name,
                    cfg_scope_name(scope));
    if (*arg == '\0' && !(d->flags & (CDF_NO_ARG | CDF_OPT_ARG)))
        return fail(p, "%s:%d: <%s>: missing argument", p->file, p->line, d->name);
    if (*arg != '\0' && (d->flags & CDF_NO_ARG))
        return fail(p, "%s:%d: <%s> takes no argument", p->file, p->line, d->name);
    if (p->nstack == CFG_BLOCK_DEPTH)
        return fail(p, "%s:%d: <%s>: blocks nested too deeply", p->file, p->line, d->name);
    memset(&b, 0, sizeof(b));
    b.d = d;
    b.parent = scope;
    snprintf(b.file, sizeof(b.file), "%s", p->file);
    b.line = p->line;
    why[0] = '\0';
    if (strcmp(d->name, "source") == 0) {
        b.scope = CS_SOURCE;
        rc = block_source(p, arg, &b, why, sizeof(why));
    } else if (strcmp(d->name, "domain") == 0) {
        b.scope = CS_DOMAIN;
        rc = block_domain(p, arg, &b, why, sizeof(why));
    } else if (strcmp(d->name, "virtual-mta") == 0) {
        b.scope = CS_VMTA;
        rc = block_named(p, arg, &b, why, sizeof(why));
    } else if (strcmp(d->name, "virtual-mta-pool") == 0) {
        b.scope = CS_POOL;
        rc = block_named(p, arg, &b, why, sizeof(why));
    } else if (strcmp(d->name, "acct-file") == 0) {
        b.scope = CS_ACCT;
        rc = block_acct(p, arg, &b, why, sizeof(why));
    } else if (strcmp(d->name, "smtp-listener") == 0) {
        b.scope = CS_LISTENER;
        rc = cfg_listener_block(p, arg, why, sizeof(why));
        b.index = p->cfg->nlisteners - 1;
    } else if (strcmp(d->name, "spool") == 0) {
        b.scope = CS_SPOOL;
        rc = block_spool(p, arg, why, sizeof(why));
    } else if (strcmp(d->name, "mx-rollup-list") == 0) {
        b.scope = CS_ROLLUP;
    } else if (strcmp(d->name, "pattern-list") == 0) {
        b.scope = CS_PATTERN;
        rc = cfg_pattern_list_block(p, arg, &b.index, why, sizeof(why));
    } else if (strcmp(d->name, "bounce-processor") == 0
               || strcmp(d->name, "feedback-loop-processor") == 0) {
        b.scope = CS_BPROC;
        rc = cfg_processor_block(p, d->name[0] == 'f', why, sizeof(why));
        b.index = p->cfg->nprocessors - 1;
    } else if (strcmp(d->name, "address-list") == 0) {
        b.scope = CS_ADDRLIST;
        b.index = p->stack[p->nstack - 1].index;
    } else if (strcmp(d->name, "smtp-pattern-list") == 0) {
        b.scope = CS_SMTPPAT;
        rc = cfg_smtp_list_block(p, arg, &b, why, sizeof(why));
    } else {
        return fail(p, "%s:%d: <%s>: no handler (bug)", p->file, p->line, d->name);
    }
    if (rc < 0)
        return fail(p, "%s:%d: <%s>: %s", p->file, p->line, d->name, why);
    p->stack[p->nstack++] = b;
    return 0;
}

/* close_block - handle "</name>"; base = stack depth when this file began. */
static int close_block(struct cfg_parser *p, const char *name, int base)
{
    char q[160];
    const struct cfg_block *top;

    cfg_quote(q, sizeof(q), name);
    if (p->nstack <= base)
        return fail(p, "%s:%d: </%s> without a matching open block", p->file, p->line, q);
    top = &p->stack[p->nstack - 1];
    if (strcasecmp(top->d->name, name) != 0)
        return fail(p, "%s:%d: </%s> does not close <%s> (opened at %s:%d)", p->file, p->line,
                    q, top->d->name, top->file, top->line);
    p->nstack--;
    return 0;
}

/* store_base - the struct a directive of this scope writes into. */
static void *store_base(struct cfg_parser *p, unsigned scope, uint64_t **set)
{
    struct config *cfg = p->cfg;
    const struct cfg_block *b = p->nstack ? &p->stack[p->nstack - 1] : NULL;
    struct cfg_domain *dom;

    *set = NULL;
    switch (scope) {
    case CS_GLOBAL:
        return cfg;
    case CS_SOURCE:
        *set = &cfg->sources[b->index].set;
        return &cfg->sources[b->index].s;
    case CS_DOMAIN:
        if (b->parent == CS_VMTA)
            dom = &cfg->vmtas[b->outer].domains[b->index];
        else if (b->parent == CS_POOL)
            dom = &cfg->pools[b->outer].domains[b->index];
        else
            dom = &cfg->domains[b->index];
        *set = &dom->set;
        return &dom->s;
    case CS_ACCT:
        return &cfg->acct_files[b->index];
    default:
        return NULL;
    }
}

/* directive - handle "name value". */
static int directive(struct cfg_parser *p, char *line)
{
    const struct cfg_directive *d;
    char *value, why[PATH_MAX + 512], q[160];
    unsigned scope = current_scope(p);
    uint64_t *set;
    void *base;

    value = line + strcspn(line, " \t");
    if (*value != '\0') {
        *value++ = '\0';
        value += strspn(value, " \t");
    }
    cfg_quote(q, sizeof(q), line);
    d = cfg_table_lookup(line, 0, scope);
    if (d == NULL)
        return fail(p, "%s:%d: unknown directive '%s'", p->file, p->line, q);
    if (d->flags & CDF_UNSUPPORTED)
        return fail(p, "%s:%d: not supported yet: %s", p->file, p->line, d->name);
    if (!(d->scopes & scope))
        return fail(p, "%s:%d: %s is not allowed in %s", p->file, p->line, q,
                    cfg_scope_name(scope));
    if (*value == '\0')
        return fail(p, "%s:%d: %s: missing value", p->file, p->line, q);
    base = store_base(p, scope, &set);
    why[0] = '\0';
    if (cfg_table_apply(p, d, value, base, why, sizeof(why)) < 0)
        return fail(p, "%s:%d: %s: %s", p->file, p->line, q, why);
    if (set != NULL && (d->store == CST_SOURCE || d->store == CST_DOMAIN))
        *set |= 1ULL << d->bit;
    return 0;
}

/* read_line - one line into buf.  1 = line, 0 = EOF, -1 = too long,
 * -2 = NUL byte, -3 = read error. */
static int read_line(FILE *fp, char *buf, size_t len)
{
    size_t n = 0;
    int c;

    while ((c = getc(fp)) != EOF) {
        if (c == '\n')
            break;
        if (c == '\0')
            return -2;
        if (n + 1 >= len)
            return -1;
        buf[n++] = (char)c;
    }
    if (c == EOF) {
        if (ferror(fp))
            return -3;
        if (n == 0)
            return 0;
    }
    buf[n] = '\0';
    return 1;
}

/* trim - cut the comment and surrounding blanks (and a CR of CRLF). */
static char *trim(char *s)
{
    char *e;

    s[strcspn(s, "#")] = '\0';
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* parse_lines - every line of an open file. */
static int parse_lines(struct cfg_parser *p, FILE *fp)
{
    char *buf, *s;
    int rc, closing, base = p->nstack, skip = 0;
    size_t n;

    buf = malloc(CFG_LINE_MAX + 1);
    if (buf == NULL)
        return fail(p, "%s: no memory", p->file);
    p->line = 0;
    while ((rc = read_line(fp, buf, CFG_LINE_MAX + 1)) != 0) {
        p->line++;
        if (rc == 1)
            p->digest = config_digest_add(config_digest_add(p->digest, buf, strlen(buf)), "\n", 1);
        if (rc == -1 || rc == -2 || rc == -3) {
            fail(p, "%s:%d: %s", p->file, p->line,
                 rc == -1 ? "line longer than 8192 bytes" :
                 rc == -2 ? "NUL byte in line" : "read error");
            goto out;
        }
        s = buf;
        if (p->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
            s += 3;             /* a UTF-8 byte order mark from an editor */
        s = trim(s);
        if (*s == '\0')
            continue;
        if (skip > 0) {
            /* inside a block that failed to open (check-all mode) */
            if (s[0] == '<')
                skip += s[1] == '/' ? -1 : 1;
            continue;
        }
        closing = 0;
        if (s[0] == '<') {
            n = strlen(s);
            if (s[n - 1] != '>') {
                fail(p, "%s:%d: block tag without closing '>'", p->file, p->line);
                goto out;
            }
            closing = s[1] == '/';
            s[n - 1] = '\0';
            s = trim(s + 1 + closing);
            rc = closing ? close_block(p, s, base) : open_block(p, s);
            if (rc < 0 && !closing)
                skip = 1;       /* its lines would only add confusion */
        } else {
            rc = directive(p, s);
        }
        if (rc < 0 && recover(p) < 0)
            goto out;
    }
    if (p->nstack > base) {
        const struct cfg_block *b = &p->stack[p->nstack - 1];
        fail(p, "%s:%d: <%s> block not closed", b->file, b->line, b->d->name);
    }
out:
    free(buf);
    return p->failed ? -1 : 0;
}

/* parse_file - open path (checking loops and depth) and parse it. */
static int parse_file(struct cfg_parser *p, const char *path)
{
    struct stat st;
    FILE *fp;
    int i, rc;

    char at[PATH_MAX + 32], q[160], *copy;

    /* The main file's errors name it; an included file's name the include
     * line too, since that is where the operator has to look. */
    cfg_quote(q, sizeof(q), path);
    if (p->nopen > 0)
        snprintf(at, sizeof(at), "%s:%d: include: ", p->file, p->line);
    else
        snprintf(at, sizeof(at), "%s: ", path);
    fp = fopen(path, "re");
    if (fp == NULL)
        return fail(p, "%scannot open (%s): '%s'", at, strerror(errno), q);
    if (fstat(fileno(fp), &st) < 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return fail(p, "%snot a regular file: '%s'", at, q);
    }
    for (i = 0; i < p->nopen; i++)
        if (p->open[i].dev == st.st_dev && p->open[i].ino == st.st_ino) {
            fclose(fp);
            return fail(p, "%sloop: '%s'", at, q);
        }
    if (++p->nfiles > CFG_FILES_MAX) {
        fclose(fp);
        return fail(p, "%smore than %d files: '%s'", at, CFG_FILES_MAX, q);
    }
    copy = strdup(path);
    if (copy == NULL) {
        fclose(fp);
        return fail(p, "%sno memory", at);
    }
    p->paths[p->nfiles - 1] = copy;
    p->open[p->nopen].dev = st.st_dev;
    p->open[p->nopen].ino = st.st_ino;
    p->nopen++;
    p->file = copy;
    rc = parse_lines(p, fp);
    p->nopen--;
    fclose(fp);
    return rc;
}

/* include_one - parse path, then restore the includer's position. */
static int include_one(struct cfg_parser *p, const char *path)
{
    const char *file = p->file;
    int line = p->line, rc;

    rc = parse_file(p, path);
    p->file = file;
    p->line = line;
    return rc;
}

int cfg_parse_include(struct cfg_parser *p, const char *pattern, char *why, size_t whylen)
{
    char full[PATH_MAX], q[160];
    const char *slash = strrchr(p->file, '/');
    glob_t g;
    size_t i;
    int rc, len;

    cfg_quote(q, sizeof(q), pattern);
    if (p->nopen > CFG_INCLUDE_DEPTH)
        return snprintf(why, whylen, "nested deeper than %d: '%s'", CFG_INCLUDE_DEPTH, q), -1;
    if (pattern[0] == '/' || slash == NULL)
        len = snprintf(full, sizeof(full), "%s", pattern);
    else
        len = snprintf(full, sizeof(full), "%.*s/%s", (int)(slash - p->file), p->file, pattern);
    if (len < 0 || (size_t)len >= sizeof(full))
        return snprintf(why, whylen, "path too long: '%s'", q), -1;
    if (strpbrk(pattern, "*?[") == NULL) {
        if (access(full, F_OK) < 0)
            return snprintf(why, whylen, "cannot open (%s): '%s'", strerror(errno), q), -1;
        return include_one(p, full);
    }
    rc = glob(full, GLOB_ERR, NULL, &g);
    if (rc == GLOB_NOMATCH)
        return 0;               /* an empty conf.d is fine */
    if (rc != 0)
        return snprintf(why, whylen, "cannot read: '%s'", q), -1;
    for (i = 0; i < g.gl_pathc && rc == 0; i++)
        rc = include_one(p, g.gl_pathv[i]);
    globfree(&g);
    return rc;
}

/* check_refs - names that had to exist somewhere in the file. */
static int check_refs(struct cfg_parser *p)
{
    const struct config *cfg = p->cfg;
    size_t i, j;
    int ok;

    for (i = 0; i < p->nrefs; i++) {
        const struct cfg_ref *r = &p->refs[i];
        char q[160];
        if (recover(p) < 0)
            return -1;          /* the previous ref's error, when not checking all */
        cfg_quote(q, sizeof(q), r->name);
        switch (r->kind) {
        case REF_VMTA:
            if (config_find_vmta(cfg, r->name) == NULL)
                (void)fail(p, "%s:%d: %s: no such <virtual-mta>: '%s'", r->file, r->line,
                           r->directive, q);
            break;
        case REF_VMTA_OR_POOL:
            if (strcmp(r->name, "{default}") != 0 && config_find_vmta(cfg, r->name) == NULL
                && config_find_pool(cfg, r->name) == NULL)
                (void)fail(p, "%s:%d: %s: no such <virtual-mta> or <virtual-mta-pool>: '%s'",
                           r->file, r->line, r->directive, q);
            break;
        case REF_PATTERN_LIST:
            if (config_find_pattern_list(cfg, r->name) == NULL)
                (void)fail(p, "%s:%d: %s: no such <pattern-list>: '%s'", r->file, r->line,
                           r->directive, q);
            break;
        case REF_SOURCE:
            for (j = 0, ok = 0; j < cfg->nsources && !ok; j++)
                ok = !cfg->sources[j].is_cidr && strcasecmp(cfg->sources[j].name, r->name) == 0;
            if (!ok)
                (void)fail(p, "%s:%d: %s: no such named <source>: '%s'", r->file, r->line,
                           r->directive, q);
            break;
        case REF_SMTP_LIST:
            if (config_find_smtp_list(cfg, r->name) == NULL)
                return fail(p, "%s:%d: %s: no such <smtp-pattern-list>: '%s'", r->file, r->line,
                            r->directive, q);
            break;
        }
    }
    return recover(p);
}

/* check_pools - PowerMTA: a vmta may not be in two pools that both carry
 * <domain> blocks (which pool's settings would win is undefined). */
static int check_pools(struct cfg_parser *p)
{
    const struct config *cfg = p->cfg;
    size_t i, j, k, m;

    for (i = 0; i < cfg->npools; i++) {
        if (cfg->pools[i].ndomains == 0)
            continue;
        for (j = i + 1; j < cfg->npools; j++) {
            if (cfg->pools[j].ndomains == 0)
                continue;
            for (k = 0; k < cfg->pools[j].nmembers; k++)
                for (m = 0; m < cfg->pools[i].nmembers; m++)
                    if (strcasecmp(cfg->pools[j].members[k], cfg->pools[i].members[m]) == 0)
                        return fail(p, "%s:%d: <virtual-mta-pool>: virtual-mta '%s' is also in "
                                    "pool '%s' and both have <domain> blocks",
                                    cfg->pools[j].file, cfg->pools[j].line,
                                    cfg->pools[j].members[k], cfg->pools[i].name);
        }
    }
    return 0;
}

/* set_paths - cfg->path (absolute) and cfg->dir from the given path. */
static int set_paths(struct cfg_parser *p, const char *path)
{
    struct config *cfg = p->cfg;
    char *slash;

    if (realpath(path, cfg->path) == NULL)
        return fail(p, "%s: cannot open: %s", path, strerror(errno));
    memcpy(cfg->dir, cfg->path, sizeof(cfg->dir));
    slash = strrchr(cfg->dir, '/');
    if (slash == cfg->dir)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    return 0;
}

/* finish - defaults that depend on the whole file. */
static int finish(struct cfg_parser *p)
{
    struct config *cfg = p->cfg;
    struct cfg_listener *l;

    if (cfg->nlisteners == 0) {
        /* PowerMTA listens on 0.0.0.0:25 when no smtp-listener is given. */
        l = cfg_array_add(&cfg->listeners, &cfg->nlisteners, sizeof(*l), CFG_LISTENERS_MAX);
        if (l == NULL)
            return fail(p, "%s: no memory", cfg->path);
        snprintf(l->ip, sizeof(l->ip), "0.0.0.0");
        l->port = 25;
        snprintf(l->file, sizeof(l->file), "%s", cfg->path);
    }
    return 0;
}

static void parser_free(struct cfg_parser *p)
{
    size_t i;

    for (i = 0; i < p->nfiles && i < CFG_FILES_MAX; i++)
        free(p->paths[i]);
    free(p->paths);
    free(p->refs);
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
    struct cfg_parser p;
    struct config *cfg;

    if (errlen > 0)
        err[0] = '\0';
    memset(&p, 0, sizeof(p));
    p.digest = 14695981039346656037ULL;     /* FNV-1a offset basis */
    p.err = err;
    p.errlen = errlen;
    cfg = calloc(1, sizeof(*cfg));
    p.paths = calloc(CFG_FILES_MAX, sizeof(*p.paths));
    if (cfg == NULL || p.paths == NULL) {
        free(cfg);
        free(p.paths);
        snprintf(err, errlen, "%s: no memory", path);
        return -1;
    }
    p.cfg = cfg;
    cfg_apply_defaults(CST_GLOBAL, cfg);
    if (gethostname(cfg->host_name, sizeof(cfg->host_name) - 1) < 0 || cfg->host_name[0] == '\0')
        snprintf(cfg->host_name, sizeof(cfg->host_name), "localhost");
    if (set_paths(&p, path) < 0 || parse_file(&p, path) < 0 || check_refs(&p) < 0
        || check_pools(&p) < 0 || cfg_route_finish(&p, err, errlen) < 0 || finish(&p) < 0) {
        parser_free(&p);
        config_free(cfg);
        return -1;
    }
    parser_free(&p);
    cfg->digest = p.digest;
    *out = cfg;
    return 0;
}

void config_free(struct config *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    for (i = 0; i < cfg->nvmtas; i++) {
        free(cfg->vmtas[i].hosts);
        free(cfg->vmtas[i].domains);
        free(cfg->vmtas[i].keys);
    }
    for (i = 0; i < cfg->npools; i++) {
        free(cfg->pools[i].members);
        free(cfg->pools[i].weights);
        free(cfg->pools[i].domains);
        free(cfg->pools[i].keys);
    }
    free(cfg->listeners);
    free(cfg->sources);
    free(cfg->vmtas);
    free(cfg->pools);
    free(cfg->domains);
    free(cfg->acct_files);
    free(cfg->relay_domains);
    free(cfg->domain_keys);
    cfg_route_free(cfg);
    cfg_shaping_free(cfg);
    cfg_bounce_free(cfg);
    free(cfg->bounce_domains);
    free(cfg);
}

int config_check_all(const char *path, void (*report)(void *arg, const char *line), void *arg)
{
    struct cfg_parser p;
    struct config *cfg;
    char err[1024];
    size_t n;

    memset(&p, 0, sizeof(p));
    p.digest = 14695981039346656037ULL;
    p.err = err;
    p.errlen = sizeof(err);
    p.report = report;
    p.report_arg = arg;
    err[0] = '\0';
    cfg = calloc(1, sizeof(*cfg));
    p.paths = calloc(CFG_FILES_MAX, sizeof(*p.paths));
    if (cfg == NULL || p.paths == NULL) {
        free(cfg);
        free(p.paths);
        report(arg, "no memory");
        return 1;
    }
    p.cfg = cfg;
    cfg_apply_defaults(CST_GLOBAL, cfg);
    /* every stage runs on what the earlier ones could read; each error is
     * reported once, in file order within a stage */
    if (set_paths(&p, path) == 0) {
        (void)parse_file(&p, path);
        (void)recover(&p);
        (void)check_refs(&p);
        (void)recover(&p);
        if (check_pools(&p) < 0)
            (void)recover(&p);
        if (cfg_route_finish(&p, err, sizeof(err)) < 0)
            (void)recover(&p);
    } else {
        (void)recover(&p);
    }
    n = p.nerrors;
    parser_free(&p);
    config_free(cfg);
    return n > INT32_MAX ? INT32_MAX : (int)n;
}
