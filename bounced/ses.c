/*
 * ses - Amazon SES JSON notifications.  Not a general JSON parser: the
 * few string members needed are found by name inside the bounded body,
 * after undoing one level of \" escaping (SNS wraps the SES JSON as a
 * string in its own JSON when raw delivery is off).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ses.h"

/* ses_string - value of "name":"..." at or after s, before lim */
static const char *ses_string(const char *s, const char *lim, const char *name, char *out,
                              size_t outlen)
{
    char key[64];
    const char *p;
    size_t o = 0;

    snprintf(key, sizeof(key), "\"%s\"", name);
    p = strstr(s, key);
    if (!p || (lim && p >= lim))
        return NULL;
    p += strlen(key);
    while (*p == ' ' || *p == ':')
        p++;
    if (*p != '"')
        return NULL;
    p++;
    while (*p && *p != '"' && o + 1 < outlen) {
        if (*p == '\\' && p[1])
            p++;
        out[o++] = *p++;
    }
    out[o] = '\0';
    return p;
}

static void ses_add(struct report *rep, const char *addr, enum report_type t, const char *status,
                    const char *diag)
{
    struct report_rcpt *r = report_add(rep, addr);

    if (!r)
        return;
    r->type = t;
    if (status && report_status_parse(status, r->status, sizeof(r->status)) < 0)
        r->status[0] = '\0';
    if (diag && *diag)
        report_set_diag(r, diag, strlen(diag));
}

/* ses_recipients - every "emailAddress" (objects) or string of array name */
static void ses_recipients(const char *j, const char *arr, enum report_type t, const char *diag,
                           struct report *rep)
{
    char key[64], addr[REPORT_ADDR_LEN], status[32], dc[1024];
    const char *p, *end, *obj_end;

    snprintf(key, sizeof(key), "\"%s\"", arr);
    p = strstr(j, key);
    if (!p)
        return;
    end = strchr(p, ']');
    if (!end)
        return;
    p = strchr(p, '[');
    if (!p || p > end)
        return;
    p++;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ','))
            p++;
        if (*p == '{') {
            obj_end = strchr(p, '}');
            if (!obj_end)
                return;
            if (ses_string(p, obj_end, "emailAddress", addr, sizeof(addr))) {
                status[0] = dc[0] = '\0';
                ses_string(p, obj_end, "status", status, sizeof(status));
                ses_string(p, obj_end, "diagnosticCode", dc, sizeof(dc));
                ses_add(rep, addr, t, status, dc[0] ? dc : diag);
            }
            p = obj_end + 1;
        } else if (*p == '"') {
            const char *q = strchr(p + 1, '"');
            if (!q || q > end || (size_t)(q - p - 1) >= sizeof(addr))
                return;
            memcpy(addr, p + 1, (size_t)(q - p - 1));
            addr[q - p - 1] = '\0';
            ses_add(rep, addr, t, NULL, diag);
            p = q + 1;
        } else {
            return;
        }
    }
}

int ses_parse(struct mime_part *root, struct report *rep)
{
    struct mime_part *p;
    char type[32], smtp[1024], ft[64];
    char *j = NULL;
    size_t i, o;

    for (p = root; p; p = mime_walk_next(root, p))
        if (p->body && strstr(p->body, "notificationType") && strstr(p->body, "mail"))
            break;
    if (!p)
        return 0;
    j = malloc(p->blen + 1);
    if (!j)
        return 0;
    for (i = 0, o = 0; i < p->blen; i++) {      /* undo one level of \" */
        if (p->body[i] == '\\' && i + 1 < p->blen && p->body[i + 1] == '"')
            continue;
        j[o++] = p->body[i];
    }
    j[o] = '\0';
    if (!ses_string(j, NULL, "notificationType", type, sizeof(type))) {
        free(j);
        return 0;
    }
    if (strcmp(type, "Bounce") == 0) {
        rep->type = REPORT_BOUNCE;
        ses_recipients(j, "bouncedRecipients", REPORT_BOUNCE, NULL, rep);
    } else if (strcmp(type, "Complaint") == 0) {
        rep->type = REPORT_FEEDBACK;
        snprintf(rep->feedback_type, sizeof(rep->feedback_type), "abuse");
        if (ses_string(j, NULL, "complaintFeedbackType", ft, sizeof(ft)))
            snprintf(rep->feedback_type, sizeof(rep->feedback_type), "%s", ft);
        ses_recipients(j, "complainedRecipients", REPORT_FEEDBACK, NULL, rep);
    } else if (strcmp(type, "Delivery") == 0) {
        rep->type = REPORT_DELIVERED;
        smtp[0] = '\0';
        ses_string(j, NULL, "smtpResponse", smtp, sizeof(smtp));
        ses_recipients(j, "recipients", REPORT_DELIVERED, smtp, rep);
        for (i = 0; i < rep->n; i++)
            if (!rep->r[i].status[0])
                report_status_find(smtp, strlen(smtp), rep->r[i].status, sizeof(rep->r[i].status));
    } else {
        free(j);
        return 0;
    }
    free(j);
    return 1;
}
