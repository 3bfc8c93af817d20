/*
 * report - the per-message result list and the address/status helpers
 * every parser shares.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "report.h"

void report_init(struct report *rep)
{
    memset(rep, 0, sizeof(*rep));
}

void report_free(struct report *rep)
{
    size_t i;

    for (i = 0; i < rep->n; i++)
        free(rep->r[i].diag);
    free(rep->r);
    memset(rep, 0, sizeof(*rep));
}

struct report_rcpt *report_find(struct report *rep, const char *addr)
{
    size_t i;

    for (i = 0; i < rep->n; i++)
        if (strcasecmp(rep->r[i].addr, addr) == 0)
            return &rep->r[i];
    return NULL;
}

struct report_rcpt *report_add(struct report *rep, const char *addr)
{
    struct report_rcpt *r;
    char clean[REPORT_ADDR_LEN];

    if (report_addr_clean(addr, clean, sizeof(clean)) < 0)
        snprintf(clean, sizeof(clean), "%s", addr);   /* keep what we have */
    if (clean[0] && (r = report_find(rep, clean)) != NULL)
        return r;
    if (rep->n >= REPORT_MAX_RCPTS)
        return NULL;
    if (rep->n == rep->cap) {
        size_t nc = rep->cap ? rep->cap * 2 : 8;
        struct report_rcpt *nr = realloc(rep->r, nc * sizeof(*nr));
        if (!nr)
            return NULL;
        rep->r = nr;
        rep->cap = nc;
    }
    r = &rep->r[rep->n++];
    memset(r, 0, sizeof(*r));
    memcpy(r->addr, clean, sizeof(r->addr));
    return r;
}

void report_set_diag(struct report_rcpt *r, const char *s, size_t n)
{
    char *d;
    size_t i, o = 0;
    int blank = 1;

    if (n > REPORT_DIAG_MAX * 4)
        n = REPORT_DIAG_MAX * 4;
    d = malloc(n + 1);
    if (!d)
        return;
    for (i = 0; i < n && o < REPORT_DIAG_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (!blank)
                d[o++] = ' ';
            blank = 1;
            continue;
        }
        d[o++] = (char)c;
        blank = 0;
    }
    while (o > 0 && d[o - 1] == ' ')
        o--;
    d[o] = '\0';
    free(r->diag);
    r->diag = d;
}

static int report_addr_char(unsigned char c)
{
    return c > ' ' && c < 127 && !strchr("<>()[],;:\"\\", c);
}

int report_addr_clean(const char *in, char *out, size_t outlen)
{
    const char *p = in, *lt, *at, *s, *e;
    size_t n;

    out[0] = '\0';
    while (*p == ' ' || *p == '\t')
        p++;
    /* address type prefix "rfc822;" / "RFC822; " */
    s = strchr(p, ';');
    if (s && s - p < 16) {
        const char *k;
        for (k = p; k < s && (isalnum((unsigned char)*k) || *k == '-'); k++)
            ;
        if (k == s)
            p = s + 1;
    }
    lt = strchr(p, '<');
    if (lt && strchr(lt, '@')) {
        p = lt + 1;
    }
    at = strchr(p, '@');
    if (!at)
        return -1;
    s = at;
    while (s > p && (report_addr_char((unsigned char)s[-1]) || s[-1] == '"'))
        s--;
    /* a quoted local part keeps its quotes */
    e = at + 1;
    while (report_addr_char((unsigned char)*e) || *e == '[' || *e == ']' || *e == ':')
        e++;
    /* trailing punctuation of the prose; "]" only when it closes nothing */
    while (e > at + 1 && (e[-1] == '.' || e[-1] == ':'
                          || (e[-1] == ']' && !memchr(at, '[', (size_t)(e - at)))))
        e--;
    while (s < at && (*s == '"' || *s == '\'') && !strchr(s + 1, '"'))
        s++;
    if (s < at && *s == '\'')
        s++;
    n = (size_t)(e - s);
    if (s == at || e == at + 1 || n + 1 > outlen)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return strchr(out + (at - s) + 1, '.') || strchr(out + (at - s) + 1, '[') ? 0 : -1;
}

static size_t report_status_len(const char *s)
{
    size_t i, n;

    if ((s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return 0;
    i = 2;
    for (n = 0; isdigit((unsigned char)s[i]) && n < 3; n++)
        i++;
    if (n == 0 || s[i] != '.')
        return 0;
    i++;
    for (n = 0; isdigit((unsigned char)s[i]) && n < 3; n++)
        i++;
    if (n == 0 || isdigit((unsigned char)s[i]))
        return 0;
    return i;
}

int report_status_parse(const char *s, char *out, size_t outlen)
{
    size_t n;

    while (*s == ' ' || *s == '\t')
        s++;
    n = report_status_len(s);
    if (n == 0 || n >= outlen)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

int report_status_find(const char *s, size_t len, char *out, size_t outlen)
{
    size_t i, n;

    for (i = 0; i + 5 <= len; i++) {
        if (s[i] != '4' && s[i] != '5' && s[i] != '2')
            continue;
        /* not inside a longer token, except "550-5.1.1" (multi-line reply) */
        if (i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '.'
                      || (s[i - 1] == '-' && !(i >= 4 && isdigit((unsigned char)s[i - 2])
                                               && isdigit((unsigned char)s[i - 3])
                                               && isdigit((unsigned char)s[i - 4])))))
            continue;
        n = report_status_len(s + i);
        if (n == 0 || i + n > len || (i + n < len && s[i + n] == '.' && isdigit((unsigned char)s[i + n + 1])))
            continue;
        if (n >= outlen)
            return -1;
        memcpy(out, s + i, n);
        out[n] = '\0';
        return 0;
    }
    return -1;
}
