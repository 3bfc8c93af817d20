/*
 * arf - RFC 5965 feedback reports and Microsoft JMRP complaints.  The
 * complaining recipient is what a sender suppresses, so the sources are
 * tried from the most to the least reliable.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "arf.h"
#include "mime.h"

/* arf_attached - the attached original: message/rfc822 or headers part */
static struct mime_part *arf_attached(struct mime_part *root)
{
    struct mime_part *p;

    for (p = root; p; p = mime_walk_next(root, p))
        if (p != root && p->parent && (strcmp(p->parent->ctype, "message/rfc822") == 0
                                       || strcmp(p->parent->ctype, "text/rfc822-headers") == 0
                                       || strcmp(p->parent->ctype, "message/rfc822-headers") == 0
                                       || strcmp(p->parent->ctype, "message/global") == 0)
            && p == p->parent->child)
            return p;
    return NULL;
}

/* arf_add_list - add every address of a header value (comma-separated) */
static void arf_add_list(struct report *rep, const char *v)
{
    char one[REPORT_ADDR_LEN], clean[REPORT_ADDR_LEN];
    size_t n;

    while (v && *v) {
        n = strcspn(v, ",");
        if (n < sizeof(one)) {
            memcpy(one, v, n);
            one[n] = '\0';
            if (report_addr_clean(one, clean, sizeof(clean)) == 0) {
                struct report_rcpt *r = report_add(rep, clean);
                if (r)
                    r->type = REPORT_FEEDBACK;
            }
        }
        v += n;
        if (*v == ',')
            v++;
    }
}

static void arf_feedback_type(const char *v, struct report *rep)
{
    size_t i = 0;

    while (*v == ' ')
        v++;
    for (; v[i] && !isspace((unsigned char)v[i]) && v[i] != ';' && i + 1 < sizeof(rep->feedback_type); i++)
        rep->feedback_type[i] = (char)tolower((unsigned char)v[i]);
    rep->feedback_type[i] = '\0';
}

int arf_parse(struct mime_part *root, struct report *rep)
{
    struct mime_part *p, *fr = NULL, *att;
    struct mime_hdr *h = NULL;
    size_t nh = 0, i;
    const char *jmrp = NULL;

    for (p = root; p; p = mime_walk_next(root, p)) {
        if (!fr && strcmp(p->ctype, "message/feedback-report") == 0)
            fr = p;
        if (!jmrp)
            jmrp = mime_header(p, "X-HmXmrOriginalRecipient");
    }
    if (!fr && !jmrp)
        return 0;
    rep->type = REPORT_FEEDBACK;
    snprintf(rep->feedback_type, sizeof(rep->feedback_type), "abuse");
    if (fr && fr->body) {
        /* the report part is one header block (RFC 5965 §3.1) */
        mime_headers_parse(fr->body, fr->blen, &h, &nh);
        for (i = 0; i < nh; i++)
            if (strcasecmp(h[i].name, "Feedback-Type") == 0)
                arf_feedback_type(h[i].value, rep);
        for (i = 0; i < nh; i++)
            if (strcasecmp(h[i].name, "Original-Rcpt-To") == 0
                || strcasecmp(h[i].name, "Removal-Recipient") == 0)
                arf_add_list(rep, h[i].value);
        mime_headers_free(h, nh);
    }
    if (rep->n == 0 && jmrp)
        arf_add_list(rep, jmrp);
    if (rep->n == 0 && (att = arf_attached(root)) != NULL)
        arf_add_list(rep, mime_header(att, "To"));
    return 1;
}
