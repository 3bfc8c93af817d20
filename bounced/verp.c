/*
 * verp - original-message identification for bounces and complaints.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "verp.h"
#include "report.h"

#define VERP_PREFIX "bounces+"

int verp_decode(const char *addr, char *id, size_t idlen, char *hash, size_t hashlen)
{
    const char *p, *dot, *at;
    char clean[REPORT_ADDR_LEN];
    size_t n;

    if (report_addr_clean(addr, clean, sizeof(clean)) < 0)
        return -1;
    p = clean;
    if (strncasecmp(p, VERP_PREFIX, strlen(VERP_PREFIX)) != 0)
        return -1;
    p += strlen(VERP_PREFIX);
    at = strchr(p, '@');
    dot = memchr(p, '.', (size_t)(at - p));
    if (!dot)
        return -1;
    n = (size_t)(dot - p);
    if (n == 0 || n >= idlen)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]))
            return -1;
    memcpy(id, p, n);
    id[n] = '\0';
    n = (size_t)(at - dot - 1);
    if (n == 0 || n >= hashlen)
        return -1;
    memcpy(hash, dot + 1, n);
    hash[n] = '\0';
    return 0;
}

/* verp_attached - first part that is an attached message's header block */
static struct mime_part *verp_attached(struct mime_part *root)
{
    struct mime_part *p;

    for (p = root; p; p = mime_walk_next(root, p))
        if (p->parent && p == p->parent->child
            && (strncmp(p->parent->ctype, "message/", 8) == 0
                || strcmp(p->parent->ctype, "text/rfc822-headers") == 0)
            && strcmp(p->parent->ctype, "message/delivery-status") != 0)
            return p;
    return NULL;
}

/* verp_body_header - value of "Name:" at a line start in a body that
 * quotes the original message as text (non-MIME notices) */
static const char *verp_body_header(const char *body, const char *name)
{
    size_t nl = strlen(name);
    const char *p = body;

    while (p && *p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
            return p + nl + 1;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

/* verp_copy_id - the id token of a header value: no <>, no blanks */
static void verp_copy_id(const char *v, char *out, size_t outlen)
{
    size_t o = 0;

    while (*v == ' ' || *v == '<')
        v++;
    while (*v && *v != '>' && *v != ' ' && *v != '\n' && *v != '\t' && o + 1 < outlen)
        out[o++] = *v++;
    out[o] = '\0';
}

void verp_orig_id(struct mime_part *root, char *out, size_t outlen)
{
    static const char *const hdrs[] = { "To", "Delivered-To", "X-Original-To", "Envelope-To" };
    char id[128], hash[128];
    struct mime_part *att;
    const char *v;
    size_t i, k;

    out[0] = '\0';
    for (k = 0; k < root->nhdrs; k++)
        for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++)
            if (strcasecmp(root->hdrs[k].name, hdrs[i]) == 0
                && verp_decode(root->hdrs[k].value, id, sizeof(id), hash, sizeof(hash)) == 0) {
                snprintf(out, outlen, "%s", id);
                return;
            }
    att = verp_attached(root);
    if (!att) {
        /* the notice's own Message-ID is in its header, never its body */
        if (!root->child && root->body) {
            if ((v = verp_body_header(root->body, "X-Courser-Queue-Id")) != NULL
                || (v = verp_body_header(root->body, "Message-ID")) != NULL)
                verp_copy_id(v, out, outlen);
        }
        return;
    }
    if ((v = mime_header(att, "X-Courser-Queue-Id")) != NULL) {
        for (i = 0; v[i] && isalnum((unsigned char)v[i]) && i + 1 < outlen; i++)
            out[i] = v[i];
        out[i] = '\0';
        if (out[0])
            return;
    }
    if ((v = mime_header(att, "Message-ID")) != NULL)
        verp_copy_id(v, out, outlen);
}
