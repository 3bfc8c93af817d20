/*
 * control - `mtactl suppression ...` (also spelt `suppress`), relayed by
 * master to bounced, the database's one writer.  Runs on the thread pool
 * like every job.
 *
 *   suppression list [DOMAIN]             every entry (of one sender domain's list)
 *   suppression check ADDRESS [DOMAIN]    is it suppressed (for mail from DOMAIN)?
 *   suppression add ADDRESS [REASON] [--domain DOMAIN]
 *   suppression remove ADDRESS [--domain DOMAIN]
 *   suppression import FILE               CSV: address[,reason[,domain]] per line
 *   suppression export                    CSV: address,scope,reason,source,time,detail
 *
 * Output is text for mtactl to print; status 1 with one line on errors.
 * Entries come from bounces (untrusted text): the store refuses control
 * bytes and blanks in them, so they print as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bounced.h"
#include "log.h"

#define CTL_LIST_MAX 100000     /* lines of one reply (4 MiB frame) */
#define CTL_IMPORT_BATCH 1000

static void ctl_time(int64_t t, char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, outlen, "%lld", (long long)t);
}

struct ctl_list {
    struct buf *out;
    long n;
    int csv;
};

static int ctl_list_one(const char *scope, const char *addr, const struct suppress_entry *e, void *arg)
{
    struct ctl_list *l = arg;
    char t[32];

    if (l->n++ >= CTL_LIST_MAX)
        return 1;
    ctl_time(e->time, t, sizeof(t));
    if (l->csv)
        return buf_printf(l->out, "%s,%s,%s,%s,%s,%s\n", addr, scope, e->reason, e->source, t,
                          e->detail) < 0;
    return buf_printf(l->out, "%-40s %-12s %-18s %-6s %s  %s\n", addr,
                      strcmp(scope, "*") == 0 ? "(global)" : scope, e->reason, e->source, t,
                      e->detail) < 0;
}

static void ctl_list(struct bounced_ctx *c, struct bjob *j, const char *scope, int csv)
{
    struct ctl_list l = { &j->reply, 0, csv };
    long n;

    if (csv)
        (void)buf_append_str(&j->reply, "address,scope,reason,source,time,detail\n");
    else
        (void)buf_printf(&j->reply, "%-40s %-12s %-18s %-6s %-19s  %s\n", "address", "list",
                         "reason", "source", "added (UTC)", "detail");
    n = suppress_each(c->sdb, scope, ctl_list_one, &l);
    if (n < 0) {
        j->status = 1;
        buf_reset(&j->reply);
        (void)buf_append_str(&j->reply, "cannot read the suppression database");
        return;
    }
    if (l.n > CTL_LIST_MAX)
        (void)buf_printf(&j->reply, "... more entries not shown (limit %d)\n", CTL_LIST_MAX);
    else if (!csv)
        (void)buf_printf(&j->reply, "%ld entries\n", l.n);
}

/* ctl_domain - "--domain D" anywhere in argv[from..]: the scope; the rest
 * stay positional in pos[]. */
static const char *ctl_args(struct bjob *j, uint32_t from, const char **pos, uint32_t *npos)
{
    const char *scope = "*";
    uint32_t i;

    *npos = 0;
    for (i = from; i < j->argc; i++) {
        if (strcmp(j->argv[i], "--domain") == 0 && i + 1 < j->argc)
            scope = j->argv[++i];
        else if (*npos < 4)
            pos[(*npos)++] = j->argv[i];
    }
    return scope;
}

static void ctl_fail(struct bjob *j, const char *fmt, const char *arg)
{
    j->status = 1;
    buf_reset(&j->reply);
    (void)buf_printf(&j->reply, fmt, arg);
}

static void ctl_import(struct bounced_ctx *c, struct bjob *j, const char *path)
{
    struct suppress_item *items = calloc(CTL_IMPORT_BATCH, sizeof(*items));
    char (*lines)[640] = calloc(CTL_IMPORT_BATCH, sizeof(*lines));
    FILE *f = items && lines ? fopen(path, "r") : NULL;
    long stored = 0, bad = 0, r;
    size_t n = 0;
    int lineno = 0;

    if (f == NULL) {
        free(items);
        free(lines);
        ctl_fail(j, "cannot open %s (bounced reads it: give a path it may read)", path);
        return;
    }
    for (;;) {
        char *line = lines[n], *reason, *scope;
        int more = fgets(line, sizeof(lines[0]), f) != NULL;

        if (more) {
            lineno++;
            line[strcspn(line, "\r\n")] = '\0';
            if (line[0] == '\0' || line[0] == '#' || (lineno == 1 && strncmp(line, "address", 7) == 0))
                continue;
            reason = strchr(line, ',');
            scope = NULL;
            if (reason) {
                *reason++ = '\0';
                scope = strchr(reason, ',');
                if (scope) {
                    *scope++ = '\0';
                    scope[strcspn(scope, ",")] = '\0';
                }
            }
            memset(&items[n], 0, sizeof(items[n]));
            items[n].scope = scope && scope[0] && strcmp(scope, "(global)") != 0 ? scope : "*";
            items[n].addr = line;
            items[n].e.time = (int64_t)time(NULL);
            snprintf(items[n].e.reason, sizeof(items[n].e.reason), "%s",
                     reason && reason[0] ? reason : "manual");
            snprintf(items[n].e.source, sizeof(items[n].e.source), "import");
            if (strchr(line, '@') == NULL) {
                bad++;
                continue;
            }
            n++;
        }
        if (n == CTL_IMPORT_BATCH || (!more && n > 0)) {
            r = suppress_put_many(c->sdb, items, n);
            if (r < 0) {
                fclose(f);
                free(items);
                free(lines);
                ctl_fail(j, "import failed writing the database (after %s)", "a partial import");
                return;
            }
            stored += r;
            bad += (long)n - r;
            n = 0;
        }
        if (!more)
            break;
    }
    fclose(f);
    free(items);
    free(lines);
    (void)buf_printf(&j->reply, "imported %ld addresses, %ld lines skipped\n", stored, bad);
}

void bctl_run(struct bounced_ctx *c, struct bjob *j)
{
    const char *pos[4], *scope, *sub = j->argc >= 2 ? j->argv[1] : "";
    struct suppress_entry e;
    uint32_t np;
    char t[32];
    int r;

    j->status = 0;
    if (c->sdb == NULL) {
        ctl_fail(j, "the suppression database is not open%s", "");
        return;
    }
    scope = ctl_args(j, 2, pos, &np);
    if (strcmp(sub, "list") == 0 && np <= 1) {
        ctl_list(c, j, np == 1 ? pos[0] : NULL, 0);
    } else if (strcmp(sub, "export") == 0 && np == 0) {
        ctl_list(c, j, NULL, 1);
    } else if (strcmp(sub, "check") == 0 && (np == 1 || np == 2)) {
        r = suppress_check(c->sdb, pos[0], np == 2 ? pos[1] : strcmp(scope, "*") ? scope : NULL, &e);
        if (r < 0) {
            ctl_fail(j, "cannot read the suppression database%s", "");
        } else if (r == 0) {
            (void)buf_printf(&j->reply, "%s: not suppressed\n", pos[0]);
        } else {
            ctl_time(e.time, t, sizeof(t));
            (void)buf_printf(&j->reply, "%s: suppressed (%s, %s, added %s UTC%s%s)\n", pos[0],
                             e.reason, e.source, t, e.detail[0] ? ", " : "", e.detail);
        }
    } else if (strcmp(sub, "add") == 0 && (np == 1 || np == 2)) {
        memset(&e, 0, sizeof(e));
        e.time = (int64_t)time(NULL);
        snprintf(e.reason, sizeof(e.reason), "%s", np == 2 ? pos[1] : "manual");
        snprintf(e.source, sizeof(e.source), "admin");
        if (suppress_put(c->sdb, scope, pos[0], &e) < 0)
            ctl_fail(j, "cannot add %s (not an address, or a database error)", pos[0]);
        else
            (void)buf_printf(&j->reply, "added %s to the %s list\n", pos[0],
                             strcmp(scope, "*") == 0 ? "global" : scope);
    } else if (strcmp(sub, "remove") == 0 && np == 1) {
        r = suppress_del(c->sdb, scope, pos[0]);
        if (r < 0)
            ctl_fail(j, "cannot remove %s: database error", pos[0]);
        else if (r == 0)
            ctl_fail(j, "%s is not on the list", pos[0]);
        else
            (void)buf_printf(&j->reply, "removed %s\n", pos[0]);
    } else if (strcmp(sub, "import") == 0 && np == 1) {
        ctl_import(c, j, pos[0]);
    } else {
        ctl_fail(j, "usage: suppression list [DOMAIN] | check ADDRESS [DOMAIN] | add ADDRESS "
                    "[REASON] [--domain D] | remove ADDRESS [--domain D] | import FILE | export%s", "");
    }
    if (j->status == 0)
        msg_info("control: suppression %s%s%s", sub, np ? " " : "", np ? pos[0] : "");
}
