/*
 * bounce_patterns - load, compile and match bounce category rules (see
 * bounce_patterns.h).  Used by bounced; cheap enough for qmgr's per-reply
 * use: one JIT-compiled regex per rule, one shared match block.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bounce_patterns.h"

#define BP_MAX_RULES 10000
#define BP_MAX_HARD 32
#define BP_CAT_LEN 64
#define BP_MAX_FILE (4u << 20)

struct bp_rule {
    pcre2_code *re;
    char category[BP_CAT_LEN];
};

struct bounce_patterns {
    struct bp_rule *rules;
    size_t n, cap;
    pcre2_match_data *md;
    char hard[BP_MAX_HARD][BP_CAT_LEN];
    size_t nhard;
    int hard_set;
    int no_builtin;
};

static const char *const bp_default_hard[] = { "bad-mailbox", "bad-domain", "inactive-mailbox" };

struct bounce_patterns *bounce_patterns_new(void)
{
    struct bounce_patterns *db = calloc(1, sizeof(*db));
    size_t i;

    if (!db)
        return NULL;
    db->md = pcre2_match_data_create(4, NULL);
    if (!db->md) {
        free(db);
        return NULL;
    }
    for (i = 0; i < sizeof(bp_default_hard) / sizeof(bp_default_hard[0]); i++)
        snprintf(db->hard[db->nhard++], BP_CAT_LEN, "%s", bp_default_hard[i]);
    return db;
}

void bounce_patterns_free(struct bounce_patterns *db)
{
    size_t i;

    if (!db)
        return;
    for (i = 0; i < db->n; i++)
        pcre2_code_free(db->rules[i].re);
    free(db->rules);
    pcre2_match_data_free(db->md);
    free(db);
}

/* bp_category_ok - custom names are allowed but must be a plain token */
static int bp_category_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n >= BP_CAT_LEN)
        return 0;
    for (i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-'
            && s[i] != '_')
            return 0;
    return 1;
}

static int bp_add_rule(struct bounce_patterns *db, const char *re, size_t relen, const char *cat,
                       size_t catlen, const char *origin, unsigned line, char *err,
                       size_t errlen)
{
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code;
    struct bp_rule *nr;

    if (db->n >= BP_MAX_RULES) {
        snprintf(err, errlen, "%s:%u: more than %d rules", origin, line, BP_MAX_RULES);
        return -1;
    }
    code = pcre2_compile((PCRE2_SPTR)re, relen, PCRE2_CASELESS, &ec, &eo, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", ec);
        snprintf(err, errlen, "%s:%u: bad regex at offset %zu: %s", origin, line, (size_t)eo,
                 (char *)msg);
        return -1;
    }
    /* JIT is an optimisation: without it (unsupported CPU) matching still works */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    if (db->n == db->cap) {
        size_t nc = db->cap ? db->cap * 2 : 64;
        nr = realloc(db->rules, nc * sizeof(*nr));
        if (!nr) {
            pcre2_code_free(code);
            snprintf(err, errlen, "%s:%u: out of memory", origin, line);
            return -1;
        }
        db->rules = nr;
        db->cap = nc;
    }
    db->rules[db->n].re = code;
    memcpy(db->rules[db->n].category, cat, catlen);
    db->rules[db->n].category[catlen] = '\0';
    db->n++;
    return 0;
}

/* bp_hard_line - "hard-bounce-categories a b c" (first definition wins) */
static int bp_hard_line(struct bounce_patterns *db, const char *s, const char *origin,
                        unsigned line, char *err, size_t errlen)
{
    char tmp[BP_MAX_HARD][BP_CAT_LEN];
    size_t n = 0, len;

    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        if (!*s)
            break;
        len = strcspn(s, " \t,");
        if (!bp_category_ok(s, len) || n >= BP_MAX_HARD) {
            snprintf(err, errlen, "%s:%u: bad category in hard-bounce-categories", origin, line);
            return -1;
        }
        memcpy(tmp[n], s, len);
        tmp[n++][len] = '\0';
        s += len;
    }
    if (db->hard_set)
        return 0;
    memcpy(db->hard, tmp, sizeof(tmp));
    db->nhard = n;
    db->hard_set = 1;
    return 0;
}

/* bp_parse_line - one line without its line end, NUL-terminated */
static int bp_parse_line(struct bounce_patterns *db, char *s, const char *origin, unsigned line,
                         char *err, size_t errlen)
{
    char *end, *cat, *slash;
    size_t n;

    while (*s == ' ' || *s == '\t')
        s++;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    if (n == 0 || s[0] == '#')
        return 0;
    if (strcmp(s, "<bounce-category-patterns>") == 0 || strcmp(s, "</bounce-category-patterns>") == 0)
        return 0;
    if (strncmp(s, "hard-bounce-categories", 22) == 0 && (s[22] == ' ' || s[22] == '\t'))
        return bp_hard_line(db, s + 22, origin, line, err, errlen);
    if (strcmp(s, "no-builtin-patterns") == 0) {
        db->no_builtin = 1;
        return 0;
    }
    if (s[0] != '/') {
        snprintf(err, errlen, "%s:%u: expected /regex/ category", origin, line);
        return -1;
    }
    /* the regex ends at the last '/' that is followed by blanks + category */
    end = s + n;
    cat = end;
    while (cat > s && cat[-1] != ' ' && cat[-1] != '\t')
        cat--;
    slash = cat;
    while (slash > s && (slash[-1] == ' ' || slash[-1] == '\t'))
        slash--;
    if (slash <= s + 1 || slash[-1] != '/' || cat == end) {
        snprintf(err, errlen, "%s:%u: expected /regex/ category", origin, line);
        return -1;
    }
    if (!bp_category_ok(cat, (size_t)(end - cat))) {
        snprintf(err, errlen, "%s:%u: bad category name \"%.40s\"", origin, line, cat);
        return -1;
    }
    return bp_add_rule(db, s + 1, (size_t)(slash - 1 - (s + 1)), cat, (size_t)(end - cat),
                       origin, line, err, errlen);
}

int bounce_patterns_load_text(struct bounce_patterns *db, const char *text, size_t len,
                              const char *origin, char *err, size_t errlen)
{
    size_t off = 0, e;
    unsigned line = 0;
    char buf[8192];

    while (off < len) {
        const char *nl = memchr(text + off, '\n', len - off);
        e = nl ? (size_t)(nl - text) : len;
        line++;
        if (e - off >= sizeof(buf)) {
            snprintf(err, errlen, "%s:%u: line too long", origin, line);
            return -1;
        }
        memcpy(buf, text + off, e - off);
        buf[e - off] = '\0';
        if (memchr(text + off, '\0', e - off)) {
            snprintf(err, errlen, "%s:%u: NUL byte", origin, line);
            return -1;
        }
        if (bp_parse_line(db, buf, origin, line, err, errlen) < 0)
            return -1;
        off = e + 1;
    }
    return 0;
}

int bounce_patterns_load_file(struct bounce_patterns *db, const char *path, char *err,
                              size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *data;
    size_t n;
    int rc;

    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    data = malloc(BP_MAX_FILE + 1);
    if (!data) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    n = fread(data, 1, BP_MAX_FILE + 1, f);
    if (ferror(f) || n > BP_MAX_FILE) {
        snprintf(err, errlen, "%s: %s", path, ferror(f) ? "read error" : "file too large");
        free(data);
        fclose(f);
        return -1;
    }
    fclose(f);
    rc = bounce_patterns_load_text(db, data, n, path, err, errlen);
    free(data);
    return rc;
}

int bounce_patterns_load_builtin(struct bounce_patterns *db, char *err, size_t errlen)
{
    if (db->no_builtin)
        return 0;
    return bounce_patterns_load_text(db, bounce_patterns_builtin, strlen(bounce_patterns_builtin),
                                     "(built-in bounce-patterns.conf)", err, errlen);
}

const char *bounce_patterns_match(struct bounce_patterns *db, const char *subject, size_t len)
{
    size_t i;

    for (i = 0; i < db->n; i++) {
        int rc = pcre2_match(db->rules[i].re, (PCRE2_SPTR)subject, len, 0, 0, db->md, NULL);
        if (rc >= 0)
            return db->rules[i].category;
    }
    return NULL;
}

int bounce_patterns_is_hard(const struct bounce_patterns *db, const char *category)
{
    size_t i;

    for (i = 0; i < db->nhard; i++)
        if (strcmp(db->hard[i], category) == 0)
            return 1;
    return 0;
}

size_t bounce_patterns_count(const struct bounce_patterns *db)
{
    return db->n;
}
