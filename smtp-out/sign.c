/*
 * sign - the DKIM stage of a delivery job, between qmgr's DELIVER and the
 * connection pool (issue 5, docs/dkim.md).  When the merged <domain>
 * settings of the job's (vmta, destination domain) say `dkim-sign yes`:
 *
 *   1. read the header section from the spool (pread on the loop, as the
 *      transaction does) and plan the signatures (lib/dkim_job.c);
 *   2. the body hash: from the cache (queue id + canonicalization: spool
 *      files are written once, so a hash never goes stale), else hashed
 *      on the loop when the whole message was in the first read, else in
 *      libuv's thread pool (a large body must not stall other deliveries);
 *   3. one request per key to dkimsign (lib/dkim_client.c), all in
 *      flight together;
 *   4. the DKIM-Signature headers go into the job (so_job.dkim_hdr), which
 *      transaction.c sends before the message's first byte; then the job
 *      joins the pool as if nothing happened.
 *
 * When a signature cannot be made (dkimsign unreachable, busy, timed out,
 * the key failed to load, the message has no signing identity) the
 * domain's dkim-fail-action decides: `defer` fails the job 451 4.7.5
 * (local; qmgr retries it later), `send-unsigned` sends it with the
 * signatures that were made (none, or the one of two that worked) and logs
 * a warning.  A message with no key for its identity is sent unsigned
 * without complaint (nothing to sign with is not an error).
 *
 * The worker thread touches only the job's own copies (dkim_job keeps a
 * copy of the header section and of the settings), never the config: a
 * reload may free that while the body is being hashed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "dkim_client.h"
#include "dkim_job.h"
#include "log.h"
#include "spool.h"
#include "smtp_out.h"

#define SIGN_FIRST_READ   (64 * 1024)   /* usually the whole header, often the whole message */
#define SIGN_BODY_CHUNK   (256 * 1024)
#define BH_CACHE_SLOTS    4096          /* direct-mapped; ~300 KB */

struct bh_slot {
    char qid[32];
    unsigned char canon;
    unsigned char valid;
    unsigned char bh[DKIM_BH_LEN];
};

struct sign_ctx;
struct sig_wait {
    struct sign_ctx *ctx;
    size_t i;
};

struct sign_ctx {
    struct so_job *j;
    struct dkim_job *dj;
    int fd;
    uint64_t msg_off, msg_len;
    int fail_action;            /* CFG_DKIM_DEFER or CFG_DKIM_SEND_UNSIGNED */
    enum dkim_canon canon;
    uv_work_t work;
    int work_rc;
    char work_err[256];
    size_t nsig, pending;
    int ok[DKIM_SIGS_MAX];
    struct sig_wait wait[DKIM_SIGS_MAX];
    char why[1024];             /* first failure, for the log and the reply */
};

static struct {
    uv_loop_t *loop;
    struct dkim_client *client;
    struct bh_slot cache[BH_CACHE_SLOTS];
    unsigned long signed_msgs, cache_hits, deferred, unsigned_sent;
} sg;

int sign_init(uv_loop_t *loop, const char *run_dir)
{
    char path[4200];

    sg.loop = loop;
    if (snprintf(path, sizeof(path), "%s/dkimsign.sock", run_dir) >= (int)sizeof(path))
        return -1;
    sg.client = dkim_client_new(loop, path);
    return sg.client != NULL ? 0 : -1;
}

void sign_stats(unsigned long *signed_msgs, unsigned long *cache_hits, unsigned long *deferred,
                unsigned long *unsigned_sent)
{
    *signed_msgs = sg.signed_msgs;
    *cache_hits = sg.cache_hits;
    *deferred = sg.deferred;
    *unsigned_sent = sg.unsigned_sent;
}

/* ---- body hash cache ------------------------------------------------- */

static struct bh_slot *cache_slot(const char *qid, enum dkim_canon c)
{
    uint32_t h = 2166136261u;
    const char *p;

    for (p = qid; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ (uint32_t)c) * 16777619u;
    return &sg.cache[h % BH_CACHE_SLOTS];
}

static int cache_get(const char *qid, enum dkim_canon c, unsigned char bh[DKIM_BH_LEN])
{
    struct bh_slot *s = cache_slot(qid, c);

    if (!s->valid || s->canon != (unsigned char)c || strcmp(s->qid, qid) != 0)
        return -1;
    memcpy(bh, s->bh, DKIM_BH_LEN);
    return 0;
}

static void cache_put(const char *qid, enum dkim_canon c, const unsigned char bh[DKIM_BH_LEN])
{
    struct bh_slot *s = cache_slot(qid, c);

    if (strlen(qid) >= sizeof(s->qid))
        return;
    memcpy(s->qid, qid, strlen(qid) + 1);
    s->canon = (unsigned char)c;
    memcpy(s->bh, bh, DKIM_BH_LEN);
    s->valid = 1;
}

/* ---- the end of the stage -------------------------------------------- */

static void ctx_free(struct sign_ctx *x)
{
    if (x->fd >= 0)
        (void)close(x->fd);
    dkim_job_free(x->dj);
    free(x);
}

/* attach - the signatures that were made, into the job. */
static int attach(struct sign_ctx *x)
{
    struct buf b;
    size_t i, len;
    int n = 0;

    buf_init(&b, (size_t)DKIM_SIGS_MAX * 16 * 1024);
    for (i = 0; i < x->nsig; i++) {
        if (!x->ok[i])
            continue;
        if (dkim_job_header(x->dj, i, &b) < 0) {
            buf_free(&b);
            return -1;
        }
        n++;
    }
    if (b.len > 0) {
        x->j->dkim_hdr = buf_steal(&b, &len);
        x->j->dkim_len = len;
    }
    buf_free(&b);
    return n;
}

/* finish - every request has its answer (or none could be sent). */
static void finish(struct sign_ctx *x)
{
    struct so_job *j = x->j;
    char text[1100];
    size_t i, made = 0;
    int n;

    for (i = 0; i < x->nsig; i++)
        made += (size_t)(x->ok[i] != 0);
    if (made < x->nsig && x->fail_action == CFG_DKIM_DEFER) {
        msg_warn("%s: DKIM signing failed, deferring (dkim-fail-action defer): %s",
                 j->d.queue_id, x->why);
        snprintf(text, sizeof(text), "DKIM signing failed: %s", x->why);
        sg.deferred++;
        ctx_free(x);
        job_fail_local(j, 451, "4.7.5", text, "", "");
        return;
    }
    n = attach(x);
    if (n < 0) {
        ctx_free(x);
        job_fail_local(j, 451, "4.3.0", "DKIM signing failed: out of memory", "", "");
        return;
    }
    if (made < x->nsig) {
        msg_warn("%s: sending with %zu of %zu DKIM signatures (dkim-fail-action "
                 "send-unsigned): %s", j->d.queue_id, made, x->nsig, x->why);
        sg.unsigned_sent++;
    } else {
        sg.signed_msgs++;
    }
    ctx_free(x);
    pool_submit(j);
}

/* fail_all - nothing can be signed (before any request was sent). */
static void fail_all(struct sign_ctx *x, const char *why)
{
    if (why != x->why)
        snprintf(x->why, sizeof(x->why), "%s", why);
    if (x->nsig == 0)
        x->nsig = 1;            /* one wanted, none made: the fail action applies */
    finish(x);
}

static void note_failure(struct sign_ctx *x, size_t i, const char *why)
{
    const struct dkim_key_ref *k = dkim_job_key(x->dj, i);
    char e[300];

    if (x->why[0] != '\0')
        return;
    log_escape(e, sizeof(e), why, strlen(why));
    snprintf(x->why, sizeof(x->why), "%s._domainkey.%s (%s): %s", k->selector, k->domain,
             dkim_alg_keytype(k->alg), e);
}

static void on_signature(void *arg, int status, const char *error, const char *sig)
{
    struct sig_wait *w = arg;
    struct sign_ctx *x = w->ctx;

    if (status == DKIM_ST_OK && dkim_job_set_signature(x->dj, w->i, sig) == 0)
        x->ok[w->i] = 1;
    else
        note_failure(x, w->i, status == DKIM_ST_OK ? "malformed signature from dkimsign"
                                                   : error[0] ? error : "refused");
    if (--x->pending == 0)
        finish(x);
}

/* request - send one request per planned key. */
static void request(struct sign_ctx *x)
{
    size_t i;

    x->nsig = dkim_job_count(x->dj);
    x->pending = x->nsig + 1;   /* held until every request is out */
    for (i = 0; i < x->nsig; i++) {
        x->wait[i].ctx = x;
        x->wait[i].i = i;
        if (dkim_client_sign(sg.client, dkim_job_key(x->dj, i), dkim_job_input(x->dj, i),
                             on_signature, &x->wait[i]) == 0) {
            note_failure(x, i, "dkimsign is unavailable");
            x->pending--;
        }
    }
    if (--x->pending == 0)
        finish(x);
}

/* prepared - the body hash is known: keep it, build the inputs, send. */
static void prepared(struct sign_ctx *x)
{
    unsigned char bh[DKIM_BH_LEN];
    char err[256];

    if (dkim_job_prepare(x->dj, time(NULL), err, sizeof(err)) < 0) {
        fail_all(x, err);
        return;
    }
    if (dkim_job_body_hash(x->dj, x->canon, bh) == 0)
        cache_put(x->j->d.queue_id, x->canon, bh);
    request(x);
}

/* ---- the body in the thread pool ------------------------------------- */

static void body_work(uv_work_t *w)
{
    struct sign_ctx *x = w->data;
    uint64_t pos = dkim_job_body_offset(x->dj);
    char *buf = malloc(SIGN_BODY_CHUNK);
    ssize_t n;

    x->work_rc = -1;
    if (buf == NULL) {
        snprintf(x->work_err, sizeof(x->work_err), "out of memory");
        return;
    }
    while (pos < x->msg_len) {
        size_t want = x->msg_len - pos < SIGN_BODY_CHUNK ? (size_t)(x->msg_len - pos)
                                                         : SIGN_BODY_CHUNK;
        do
            n = pread(x->fd, buf, want, (off_t)(x->msg_off + pos));
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
            snprintf(x->work_err, sizeof(x->work_err), "spool read: %s",
                     n < 0 ? strerror(errno) : "unexpected end of file");
            free(buf);
            return;
        }
        if (dkim_job_body(x->dj, buf, (size_t)n) < 0) {
            snprintf(x->work_err, sizeof(x->work_err), "body hash failed");
            free(buf);
            return;
        }
        pos += (uint64_t)n;
    }
    free(buf);
    x->work_rc = 0;
}

static void body_done(uv_work_t *w, int status)
{
    struct sign_ctx *x = w->data;

    if (status != 0 || x->work_rc < 0) {
        fail_all(x, status != 0 ? "body hash cancelled" : x->work_err);
        return;
    }
    prepared(x);
}

/* ---- the start ------------------------------------------------------- */

/* read_head - pread up to want bytes of the message into buf. */
static ssize_t read_head(struct sign_ctx *x, char *buf, size_t want)
{
    size_t got = 0;
    ssize_t n;

    while (got < want) {
        do
            n = pread(x->fd, buf + got, want - got, (off_t)(x->msg_off + got));
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* plan - open the message, plan its signatures.  Returns the count
 * (0 = nothing to sign), or -1 with x->why set. */
static int plan(struct sign_ctx *x, const struct config *cfg, const struct cfg_domain_settings *ds,
                char **head, size_t *headlen)
{
    char path[4200], err[512];
    size_t want = SIGN_FIRST_READ;
    char *buf = NULL, *nb;
    ssize_t got;
    int n;

    if (spool_msg_path(job_spool_dir(), x->j->d.queue_id, path, sizeof(path)) < 0) {
        snprintf(x->why, sizeof(x->why), "spool path too long");
        return -1;
    }
    x->fd = spool_open_message(path, &x->msg_off, &x->msg_len, err, sizeof(err));
    if (x->fd < 0) {
        snprintf(x->why, sizeof(x->why), "%s", err);
        return -1;
    }
    for (;;) {
        if (want > x->msg_len)
            want = (size_t)x->msg_len;
        if ((nb = realloc(buf, want + 1)) == NULL) {
            free(buf);
            snprintf(x->why, sizeof(x->why), "out of memory");
            return -1;
        }
        buf = nb;
        if ((got = read_head(x, buf, want)) < 0) {
            free(buf);
            snprintf(x->why, sizeof(x->why), "spool read: %s", strerror(errno));
            return -1;
        }
        dkim_job_free(x->dj);
        x->dj = NULL;
        n = dkim_job_begin(&x->dj, cfg, x->j->d.vmta, ds, buf, (size_t)got, x->msg_len, err,
                           sizeof(err));
        /* A header section larger than the first read: rare, read more. */
        if (n == DKIM_JOB_NEED_MORE && want < (size_t)DKIM_HEADER_BYTES + 2) {
            want = want * 4 > (size_t)DKIM_HEADER_BYTES + 2 ? (size_t)DKIM_HEADER_BYTES + 2
                                                            : want * 4;
            continue;
        }
        break;
    }
    if (n < 0) {
        free(buf);
        snprintf(x->why, sizeof(x->why), "%s", err);
        return -1;
    }
    *head = buf;
    *headlen = (size_t)got;
    return n;
}

/* key_dir_unlistable - smtp-out learns the selectors of dkim-key-dir
 * by listing it (the files themselves are dkimsign's alone).  If it may
 * not, "no key" would silently mean "unsigned": make it a signing
 * failure with the reason instead. */
static int key_dir_unlistable(const struct config *cfg, char *why, size_t whylen)
{
    if (cfg->dkim_key_dir[0] == '\0' || access(cfg->dkim_key_dir, R_OK | X_OK) == 0
        || (errno != EACCES && errno != EPERM))
        return 0;
    snprintf(why, whylen, "dkim-key-dir %.400s cannot be listed by smtp-out (%s): make the "
             "folders 0755, the key files stay 0600", cfg->dkim_key_dir, strerror(errno));
    return 1;
}

void sign_submit(struct so_job *j, const struct config *cfg)
{
    struct cfg_domain_settings ds;
    struct sign_ctx *x;
    unsigned char bh[DKIM_BH_LEN];
    uint64_t boff;
    char *head = NULL;
    size_t headlen = 0;
    int n;

    config_domain_settings(cfg, j->d.vmta, j->d.domain, &ds);
    if (!ds.dkim_sign || sg.client == NULL) {
        pool_submit(j);
        return;
    }
    if ((x = calloc(1, sizeof(*x))) == NULL) {
        job_fail_local(j, 451, "4.3.0", "DKIM signing failed: out of memory", "", "");
        return;
    }
    x->j = j;
    x->fd = -1;
    x->fail_action = ds.dkim_fail_action;
    n = plan(x, cfg, &ds, &head, &headlen);
    if (n <= 0) {
        if (n == 0 && key_dir_unlistable(cfg, x->why, sizeof(x->why))) {
            free(head);
            fail_all(x, x->why);
            return;
        }
        if (n == 0) {
            msg_debug("%s: no DKIM key for its identity: sending unsigned", j->d.queue_id);
            free(head);
            ctx_free(x);
            pool_submit(j);
            return;
        }
        free(head);
        fail_all(x, x->why);
        return;
    }
    x->canon = dkim_job_body_canon(x->dj);
    boff = dkim_job_body_offset(x->dj);
    if (cache_get(j->d.queue_id, x->canon, bh) == 0) {
        sg.cache_hits++;
        dkim_job_set_body_hash(x->dj, x->canon, bh);
        free(head);
        prepared(x);
        return;
    }
    if (headlen == x->msg_len) {
        /* The whole message is in hand (most mail): hash it here. */
        n = dkim_job_body(x->dj, head + boff, headlen - (size_t)boff);
        free(head);
        if (n < 0) {
            fail_all(x, "body hash failed");
            return;
        }
        prepared(x);
        return;
    }
    free(head);
    x->work.data = x;
    if (uv_queue_work(sg.loop, &x->work, body_work, body_done) != 0)
        fail_all(x, "cannot queue the body hash");
}

void sign_shutdown(void)
{
    if (sg.client != NULL)
        dkim_client_free(sg.client);
    sg.client = NULL;
}
