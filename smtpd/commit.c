/*
 * commit - the spool write of an accepted message on libuv's thread pool
 * (spool_commit fsyncs: it must not block the loop).  The worker touches
 * only the session's envelope and message, which the loop leaves alone
 * while the session is in SS_COMMIT; a session closed meanwhile is freed
 * when the work comes back (session_commit_done).
 */
#include <errno.h>
#include "smtpd.h"

static void commit_work(uv_work_t *w)
{
    struct session *s = w->data;

    /* mail for a bounce-domain goes to bounced, not to the queue */
    s->commit_rc = txn_is_inbound(s)
        ? spool_commit_inbound(s->cfg->cfg->spool_dir, &s->env, s->msg.data, s->msg.len)
        : spool_commit(s->cfg->cfg->spool_dir, &s->env, s->msg.data, s->msg.len);
    s->commit_errno = s->commit_rc == 0 ? 0 : errno;
}

static void commit_after(uv_work_t *w, int status)
{
    struct session *s = w->data;

    if (status != 0) {
        s->commit_rc = -1;          /* cancelled: it never ran */
        s->commit_errno = ECANCELED;
    }
    session_commit_done(s);
}

int commit_start(struct session *s)
{
    s->work.data = s;
    s->commit_rc = -1;
    s->commit_errno = 0;
    if (uv_queue_work(smtpd.loop, &s->work, commit_work, commit_after) != 0)
        return -1;
    s->work_pending = 1;
    return 0;
}
