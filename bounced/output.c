/*
 * output - JSON line formatting; every string goes through
 * json_append_string because all of it came from outside.
 */
#include <string.h>
#include "buf.h"
#include "json.h"
#include "output.h"

#define OUTPUT_MAX (1u << 20)

const char *output_type_name(enum report_type t)
{
    switch (t) {
    case REPORT_BOUNCE:
        return "bounce";
    case REPORT_FEEDBACK:
        return "feedback";
    case REPORT_AUTOREPLY:
        return "autoreply";
    case REPORT_DELIVERED:
        return "delivered";
    default:
        return "unknown";
    }
}

static int output_field(struct buf *b, const char *name, const char *v, int comma)
{
    if (buf_printf(b, "%s\"%s\":", comma ? "," : "", name) < 0)
        return -1;
    return json_append_string(b, v ? v : "", v ? strlen(v) : 0);
}

/* output_line - one record; r NULL for a notice naming no recipient */
static int output_line(FILE *f, const char *file, const struct report *rep,
                       const struct report_rcpt *r)
{
    struct buf b;
    enum report_type t = r ? r->type : rep->type;
    int bounce = t == REPORT_BOUNCE, rc = -1;

    buf_init(&b, OUTPUT_MAX);
    if (buf_append(&b, "{", 1) < 0 || output_field(&b, "file", file, 0) < 0
        || output_field(&b, "type", output_type_name(t), 1) < 0
        || output_field(&b, "recipient", r ? r->addr : "", 1) < 0
        || output_field(&b, "category", bounce && r && r->category ? r->category : "", 1) < 0
        || buf_printf(&b, ",\"hard\":%s", bounce && r && r->hard ? "true" : "false") < 0
        || output_field(&b, "status", r ? r->status : "", 1) < 0
        || output_field(&b, "diag", r && r->diag ? r->diag : "", 1) < 0
        || output_field(&b, "feedback_type", t == REPORT_FEEDBACK ? rep->feedback_type : "", 1) < 0
        || output_field(&b, "orig_id", rep->orig_id, 1) < 0 || buf_append(&b, "}\n", 2) < 0)
        goto out;
    rc = fwrite(b.data, 1, b.len, f) == b.len ? 0 : -1;
out:
    buf_free(&b);
    return rc;
}

int output_report(FILE *f, const char *file, const struct report *rep)
{
    size_t i;

    if (rep->n == 0)
        return output_line(f, file, rep, NULL);
    for (i = 0; i < rep->n; i++)
        if (output_line(f, file, rep, &rep->r[i]) < 0)
            return -1;
    return 0;
}

int output_reply(FILE *f, const char *text, const struct report_rcpt *r)
{
    struct buf b;
    int rc = -1;

    buf_init(&b, OUTPUT_MAX);
    if (buf_append(&b, "{", 1) < 0 || output_field(&b, "reply", text, 0) < 0
        || output_field(&b, "category", r->category, 1) < 0
        || buf_printf(&b, ",\"hard\":%s", r->hard ? "true" : "false") < 0
        || output_field(&b, "status", r->status, 1) < 0 || buf_append(&b, "}\n", 2) < 0)
        goto out;
    rc = fwrite(b.data, 1, b.len, f) == b.len ? 0 : -1;
out:
    buf_free(&b);
    return rc;
}
