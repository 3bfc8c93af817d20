/*
 * classify - the order in which a notice is read: feedback report (ARF,
 * JMRP), SES JSON, RFC 3464 delivery-status parts, DSN fields written as
 * text, X-Failed-Recipients, the prose of the notice, and last the
 * auto-reply markers (RFC 3834).  The first source that names recipients
 * wins, because the later ones are guesses.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "arf.h"
#include "bounce_status.h"
#include "classify.h"
#include "dsn.h"
#include "heuristics.h"
#include "mime.h"
#include "ses.h"
#include "verp.h"

#define CTX_MAX 4000

/* classify_reply_code - the first SMTP reply code ("550 ", "421-") in s */
static int classify_reply_code(const char *s)
{
    const char *p;

    for (p = s; *p; p++) {
        if ((p[0] == '4' || p[0] == '5') && isdigit((unsigned char)p[1])
            && isdigit((unsigned char)p[2]) && (p[3] == ' ' || p[3] == '-' || p[3] == '\0')
            && (p == s || p[-1] == ' ' || p[-1] == ';' || p[-1] == ':' || p[-1] == '('
                || p[-1] == '\n' || p[-1] == '"' || p[-1] == '<' || p[-1] == '['))
            return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    }
    return 0;
}

/* classify_success_code - does the reply start with a 2xx code? */
static int classify_success_code(const char *s)
{
    while (*s == ' ')
        s++;
    return s[0] == '2' && isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2])
           && (s[3] == ' ' || s[3] == '-' || s[3] == '\0');
}

/* classify_match - patterns against "status text" */
static const char *classify_match(struct bounce_patterns *db, const char *status, const char *text,
                                  size_t maxlen)
{
    size_t tl = strnlen(text, maxlen), sl = strlen(status);
    char *subj = malloc(sl + 1 + tl + 1);
    const char *cat;

    if (!subj)
        return NULL;
    memcpy(subj, status, sl);
    subj[sl] = ' ';
    memcpy(subj + sl + 1, text, tl);
    subj[sl + 1 + tl] = '\0';
    cat = bounce_patterns_match(db, subj, sl + 1 + tl);
    free(subj);
    return cat;
}

void classify_rcpt(struct bounce_patterns *db, struct report_rcpt *r, const char *ctx)
{
    const char *diag = r->diag ? r->diag : "";
    const char *cat = NULL;
    int code;

    if (!r->status[0] || strcmp(r->status + 1, ".0.0") == 0) {
        char found[16];
        if (report_status_find(diag, strlen(diag), found, sizeof(found)) == 0
            && (found[0] == '4' || found[0] == '5'))
            snprintf(r->status, sizeof(r->status), "%s", found);
    }
    if (!r->status[0] && classify_success_code(diag)) {
        /* a 2xx reply is no failure: keep its status, category "other" */
        if (report_status_find(diag, strlen(diag), r->status, sizeof(r->status)) < 0)
            snprintf(r->status, sizeof(r->status), "2.0.0");
        r->category = "other";
        r->hard = 0;
        return;
    }
    if (!r->status[0]) {
        code = classify_reply_code(diag);
        if (code == 556)        /* RFC 7505: the domain accepts no mail */
            snprintf(r->status, sizeof(r->status), "5.1.10");
        else if (code)
            snprintf(r->status, sizeof(r->status), "%d.0.0", code / 100);
        else if (strcmp(r->action, "delayed") == 0)
            snprintf(r->status, sizeof(r->status), "4.0.0");
        else
            snprintf(r->status, sizeof(r->status), "5.0.0");
    }
    if (*diag)
        cat = classify_match(db, r->status, diag, REPORT_DIAG_MAX);
    if (!cat && strcmp(bounce_status_category(r->status), "other") == 0 && ctx && *ctx)
        cat = classify_match(db, r->status, ctx, CTX_MAX);
    if (!cat)
        cat = bounce_status_category(r->status);
    r->category = cat;
    r->hard = r->status[0] == '5' && bounce_patterns_is_hard(db, cat);
}

void classify_reply(struct bounce_patterns *db, const char *text, struct report_rcpt *r)
{
    report_set_diag(r, text, strlen(text));
    r->type = REPORT_BOUNCE;
    classify_rcpt(db, r, NULL);
}

/* classify_dsn_parts - delivery-status parts, outside attached messages
 * first (a nested one describes some other message) */
static int classify_dsn_parts(struct mime_part *root, struct report *rep)
{
    struct mime_part *p;
    int n = 0, pass;

    for (pass = 0; pass < 2 && n == 0; pass++)
        for (p = root; p; p = mime_walk_next(root, p)) {
            const struct mime_part *a;
            int nested = 0;
            if (strcmp(p->ctype, "message/delivery-status") != 0
                && strcmp(p->ctype, "message/global-delivery-status") != 0)
                continue;
            for (a = p->parent; a; a = a->parent)
                if (strcmp(a->ctype, "message/rfc822") == 0)
                    nested = 1;
            if (nested != pass || !p->body)
                continue;
            n += dsn_parse(p->body, p->blen, rep);
        }
    return n;
}

/* classify_failed_header - X-Failed-Recipients (Exim, Gmail, ...) */
static int classify_failed_header(struct mime_part *root, const char *expl, size_t elen,
                                  struct report *rep)
{
    size_t k;
    int n = 0;

    for (k = 0; k < root->nhdrs; k++) {
        const char *v = root->hdrs[k].value;
        if (strcasecmp(root->hdrs[k].name, "X-Failed-Recipients") != 0)
            continue;
        while (*v) {
            char one[REPORT_ADDR_LEN], clean[REPORT_ADDR_LEN];
            size_t len = strcspn(v, ", ");
            if (len > 0 && len < sizeof(one)) {
                memcpy(one, v, len);
                one[len] = '\0';
                if (report_addr_clean(one, clean, sizeof(clean)) == 0 && !report_find(rep, clean)) {
                    struct report_rcpt *r = report_add(rep, clean);
                    if (r) {
                        r->type = REPORT_BOUNCE;
                        heur_diag_for(expl, elen, r);
                        n++;
                    }
                }
            }
            v += len;
            while (*v == ',' || *v == ' ')
                v++;
        }
    }
    return n;
}

/* classify_autoreply - RFC 3834 markers and the usual vacation subjects */
static int classify_autoreply(struct mime_part *root)
{
    const char *v;
    char subj[1024];
    static const char *const words[] = {
        "out of office", "out of the office", "automatic reply", "auto reply", "autoreply",
        "auto-reply", "auto:", "vacation", "away from", "abwesenheit", "absence", "on leave",
        "autoresponse", "auto response", "i am away", "i'm away", NULL,
    };
    size_t i;

    if ((v = mime_header(root, "Auto-Submitted")) && strncasecmp(v, "auto-replied", 12) == 0)
        return 1;
    if (mime_header(root, "X-Autoreply") || mime_header(root, "X-Autorespond")
        || mime_header(root, "X-Autoresponder") || mime_header(root, "X-Vacation"))
        return 1;
    if ((v = mime_header(root, "Precedence")) && strcasestr(v, "auto_reply"))
        return 1;
    if ((v = mime_header(root, "Subject")) != NULL) {
        mime_decode_words(v, subj, sizeof(subj));
        for (i = 0; words[i]; i++)
            if (strcasestr(subj, words[i]))
                return 1;
    }
    return 0;
}

/* classify_own_addrs - the notice's From and To (never failed recipients) */
static void classify_own_addrs(struct mime_part *root, char own[2][REPORT_ADDR_LEN],
                               const char *excl[3])
{
    int n = 0;

    if (report_addr_clean(mime_header(root, "From") ? mime_header(root, "From") : "", own[0],
                          REPORT_ADDR_LEN) == 0)
        excl[n++] = own[0];
    if (report_addr_clean(mime_header(root, "To") ? mime_header(root, "To") : "", own[1],
                          REPORT_ADDR_LEN) == 0)
        excl[n++] = own[1];
    excl[n] = NULL;
}

static void classify_finish(struct bounce_patterns *db, struct report *rep, const char *expl)
{
    size_t i;
    int bounce = 0, delivered = 0;

    for (i = 0; i < rep->n; i++) {
        struct report_rcpt *r = &rep->r[i];
        if (r->type == REPORT_UNKNOWN)
            r->type = rep->type != REPORT_UNKNOWN ? rep->type : REPORT_BOUNCE;
        if (r->type == REPORT_BOUNCE) {
            /* a DSN without Diagnostic-Code: the prose about this
             * recipient is the diagnostic */
            if ((!r->diag || strlen(r->diag) < 8) && strcasestr(expl, r->addr))
                heur_diag_for(expl, strlen(expl), r);
            classify_rcpt(db, r, expl);
            bounce = 1;
        } else if (r->type == REPORT_DELIVERED) {
            delivered = 1;
        }
    }
    if (rep->type == REPORT_UNKNOWN || rep->type == REPORT_BOUNCE || rep->type == REPORT_DELIVERED)
        rep->type = bounce ? REPORT_BOUNCE : delivered ? REPORT_DELIVERED : rep->type;
}

/* classify_forwarded - offset of a whole notice pasted into a text body
 * (a bounce forwarded inline by a help desk or list manager), or 0 */
static size_t classify_forwarded(const char *data, size_t len)
{
    static const char *const marks[] = { "\nReturn-Path: <>", "\nFrom MAILER-DAEMON", NULL };
    size_t i, best = 0, body;
    const char *p = memmem(data, len, "\n\n", 2), *q = memmem(data, len, "\n\r\n", 3);

    /* search the body only: the notice's own header may say the same */
    if (!p || (q && q < p))
        p = q;
    if (!p)
        return 0;
    body = (size_t)(p - data);
    for (i = 0; marks[i]; i++) {
        p = memmem(data + body, len - body, marks[i], strlen(marks[i]));
        if (p && (best == 0 || (size_t)(p - data) < best))
            best = (size_t)(p - data) + 1;
    }
    return best;
}

static int classify_depth(struct bounce_patterns *db, const char *data, size_t len,
                          struct report *rep, int depth);

int classify_message(struct bounce_patterns *db, const char *data, size_t len, struct report *rep)
{
    return classify_depth(db, data, len, rep, 0);
}

static int classify_depth(struct bounce_patterns *db, const char *data, size_t len,
                          struct report *rep, int depth)
{
    struct mime_part *root = mime_parse(data, len);
    char own[2][REPORT_ADDR_LEN];
    const char *excl[3];
    char *expl = NULL;
    size_t elen = 0;

    if (!root)
        return -1;
    verp_orig_id(root, rep->orig_id, sizeof(rep->orig_id));
    expl = heur_explanation(root, &elen);
    if (!expl) {
        mime_free(root);
        return -1;
    }
    if (arf_parse(root, rep) || ses_parse(root, rep))
        goto done;
    if (classify_dsn_parts(root, rep) > 0)
        goto done;
    if (strstr(expl, "Final-Recipient:") || strstr(expl, "Original-Recipient:")
        || strcasestr(expl, "final-recipient:")) {
        if (dsn_parse(expl, elen, rep) > 0)
            goto done;
    }
    if (classify_failed_header(root, expl, elen, rep) > 0)
        goto done;
    if (depth == 0 && !root->child) {
        size_t off = classify_forwarded(data, len);
        struct report inner;
        report_init(&inner);
        if (off > 0 && classify_depth(db, data + off, len - off, &inner, 1) == 0
            && inner.n > 0 && inner.type == REPORT_BOUNCE) {
            char id[sizeof(rep->orig_id)];
            memcpy(id, rep->orig_id, sizeof(id));
            report_free(rep);
            *rep = inner;
            if (id[0])
                memcpy(rep->orig_id, id, sizeof(id));
            free(expl);
            mime_free(root);
            return 0;
        }
        report_free(&inner);
    }
    if (heur_looks_like_bounce(root, expl)) {
        rep->type = REPORT_BOUNCE;
        classify_own_addrs(root, own, excl);
        heur_recipients(expl, elen, excl, rep);
        goto done;
    }
    if (classify_autoreply(root)) {
        char from[REPORT_ADDR_LEN];
        rep->type = REPORT_AUTOREPLY;
        if (report_addr_clean(mime_header(root, "From") ? mime_header(root, "From") : "", from,
                              sizeof(from)) == 0) {
            struct report_rcpt *r = report_add(rep, from);
            if (r)
                r->type = REPORT_AUTOREPLY;
        }
    }
done:
    classify_finish(db, rep, expl);
    free(expl);
    mime_free(root);
    return 0;
}
