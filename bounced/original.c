/*
 * original - what accounting knows about the original message of an
 * asynchronous bounce or complaint (issue 6): its `d` (or `b`, `t`)
 * records in acctd's LMDB (`<first acct-file>.lmdb`, opened read-only,
 * lazily; acctd is its writer), found by the queue id the notice
 * revealed (VERP, Received:, X-Courser-Queue-Id).
 *
 * Fills into an rb/rs/f record the fields PowerMTA's operators expect
 * and the notice itself cannot give: orig (the original envelope sender),
 * timeQueued, vmta, vmtaPool, jobId, envId — from any record of the
 * message — and, from the record of the same recipient only,
 * dlvSourceIp and queue (another recipient may have gone out from
 * another address).  A `d` record beats `t`/`b` ones.
 *
 * No LMDB (no <acct-file>), a record not there (pruned, or a queue id
 * from before), a read error: the fields stay empty, the record is still
 * written (logged at debug level; an error is retried at the next job).
 * Runs on bounced's thread-pool worker, one job at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "acctdb.h"
#include "bounced.h"
#include "log.h"

#define ORIGINAL_RECORDS_MAX 4096   /* records of one message looked at */

struct collect {
    struct acct_record *r;
    size_t n;
};

static void collect_line(const char *line, size_t len, void *arg)
{
    struct collect *c = arg;

    if (c->n >= ORIGINAL_RECORDS_MAX)
        return;
    if (acctdb_parse_line(line, len, &c->r[c->n]) == 0)
        c->n++;
}

/* original_db - the LMDB, opened on first use; NULL if there is none. */
static struct acctdb *original_db(struct bounced_ctx *c)
{
    char dir[PATH_MAX], err[512];

    if (c->adb != NULL)
        return c->adb;
    if (c->cfg->nacct_files == 0
        || acctdb_dir_for(c->cfg->acct_files[0].path, dir, sizeof(dir)) < 0)
        return NULL;
    if (acctdb_open(&c->adb, dir, 0, 1, err, sizeof(err)) < 0) {
        msg_debug("accounting LMDB not readable (%s): rb/f records without the original's fields",
                  err);
        c->adb = NULL;
    }
    return c->adb;
}

void original_close(struct bounced_ctx *c)
{
    if (c->adb != NULL)
        acctdb_close(c->adb);
    c->adb = NULL;
}

/* rank - which record to take for rcpt: higher is better, 0 = none. */
static int rank(const struct acct_record *r, const char *rcpt, int same_rcpt_only)
{
    int same = r->v[AF_RCPT] && rcpt && strcasecmp(r->v[AF_RCPT], rcpt) == 0;
    const char *t = r->v[AF_TYPE] ? r->v[AF_TYPE] : "";

    if (same_rcpt_only && !same)
        return 0;
    if (strcmp(t, "d") != 0 && strcmp(t, "b") != 0 && strcmp(t, "t") != 0)
        return 0;       /* rb, f, ... of earlier notices are not the original */
    return (same ? 4 : 1) + (strcmp(t, "d") == 0 ? 2 : 0);
}

static const struct acct_record *best(const struct collect *c, const char *rcpt, int same_only)
{
    const struct acct_record *b = NULL;
    int br = 0, k;
    size_t i;

    for (i = 0; i < c->n; i++)
        if ((k = rank(&c->r[i], rcpt, same_only)) > br) {
            br = k;
            b = &c->r[i];
        }
    return b;
}

int original_fill(struct bounced_ctx *c, const char *qid, const char *rcpt, struct acct_record *out)
{
    static const enum acct_field msg_fields[] = {
        AF_ORIG, AF_TIME_QUEUED, AF_VMTA, AF_VMTA_POOL, AF_JOB_ID, AF_ENV_ID,
    };
    static const enum acct_field rcpt_fields[] = { AF_DLV_SOURCE_IP, AF_QUEUE };
    struct acctdb *db;
    struct collect col = { NULL, 0 };
    const struct acct_record *m, *s;
    char err[512];
    size_t i;
    int rc = 0;

    if (qid == NULL || qid[0] == '\0' || (db = original_db(c)) == NULL)
        return 0;
    col.r = calloc(ORIGINAL_RECORDS_MAX, sizeof(*col.r));
    if (col.r == NULL)
        return -1;
    if (acctdb_lookup(db, ACCTDB_BY_QUEUE_ID, qid, collect_line, &col, err, sizeof(err)) < 0) {
        msg_warn("%s: accounting LMDB look-up failed (%s): original's fields left empty", qid, err);
        original_close(c);      /* reopened at the next look-up */
    }
    m = best(&col, rcpt, 0);
    s = best(&col, rcpt, 1);
    for (i = 0; m && i < sizeof(msg_fields) / sizeof(msg_fields[0]); i++)
        if (m->v[msg_fields[i]] && out->v[msg_fields[i]] == NULL)
            rc |= acct_set(out, msg_fields[i], m->v[msg_fields[i]]);
    for (i = 0; s && i < sizeof(rcpt_fields) / sizeof(rcpt_fields[0]); i++)
        if (s->v[rcpt_fields[i]] && out->v[rcpt_fields[i]] == NULL)
            rc |= acct_set(out, rcpt_fields[i], s->v[rcpt_fields[i]]);
    for (i = 0; i < col.n; i++)
        acct_record_free(&col.r[i]);
    free(col.r);
    return rc < 0 ? -1 : m != NULL;
}
