/*
 * bounced_burst - bounced's failure path under a burst (issue 6): N
 * messages, each with one recipient that failed 550 5.1.1, processed by
 * failure_run exactly as the daemon's worker does — classification,
 * suppression (LMDB), an RFC 3464 DSN spooled durably per message — in
 * groups of G batches (G = 1 is bounced before the group commit: one
 * LMDB transaction and one fdatasync + directory fsync per failure).
 * Prints failures/s.  No IPC: this is the worker's cost, the bottleneck.
 *   usage: bounced_burst DIR N G
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "spool.h"
#include "../bounced/bounced.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    static const char msg[] = "From: news@shop.test\r\nTo: x@dest.test\r\nSubject: offer\r\n"
                              "Message-ID: <m@shop.test>\r\n\r\nhello\r\n";
    struct bounced_ctx ctx;
    struct config cfg;
    struct bjob *jobs;
    char err[512], sdir[PATH_MAX + 16];
    long n, g, i, k, dsns = 0;
    double t0, t;

    if (argc != 4 || (n = atol(argv[2])) <= 0 || (g = atol(argv[3])) <= 0 || g > BJOB_GROUP_MAX) {
        fprintf(stderr, "usage: bounced_burst DIR N G (G 1..%d)\n", BJOB_GROUP_MAX);
        return 2;
    }
    if (spool_init_dirs(argv[1]) < 0) {
        perror("spool_init_dirs");
        return 1;
    }
    memset(&ctx, 0, sizeof(ctx));
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.spool_dir, sizeof(cfg.spool_dir), "%s", argv[1]);
    snprintf(cfg.host_name, sizeof(cfg.host_name), "courser.test");
    cfg.send_dsn = 1;
    ctx.cfg = &cfg;
    snprintf(sdir, sizeof(sdir), "%s/suppress", argv[1]);
    if (server_ctx_load(&ctx, &cfg, err, sizeof(err)) < 0
        || (ctx.sdb = suppress_open(sdir, 0, err, sizeof(err))) == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    jobs = calloc((size_t)n, sizeof(*jobs));
    if (jobs == NULL)
        return 1;
    spool_set_sync(0);          /* the originals: setup, not measured */
    for (i = 0; i < n; i++) {
        struct spool_envelope e;
        struct spool_rcpt r;
        char rcpt[64];

        memset(&e, 0, sizeof(e));
        memset(&r, 0, sizeof(r));
        queue_id_new(e.queue_id);
        e.time_queued = (uint64_t)time(NULL);
        e.mail_from = (char *)"news@shop.test";
        snprintf(rcpt, sizeof(rcpt), "u%ld@dest.test", i);
        r.addr = rcpt;
        e.rcpts = &r;
        e.nrcpt = 1;
        if (spool_commit(argv[1], &e, msg, sizeof(msg) - 1) < 0) {
            perror("spool_commit");
            return 1;
        }
        jobs[i].kind = BJ_FAILURE;
        snprintf(jobs[i].ev.queue_id, sizeof(jobs[i].ev.queue_id), "%s", e.queue_id);
        snprintf(jobs[i].ev.rcpt, sizeof(jobs[i].ev.rcpt), "%s", rcpt);
        snprintf(jobs[i].ev.status, sizeof(jobs[i].ev.status), "5.1.1");
        snprintf(jobs[i].ev.category, sizeof(jobs[i].ev.category), "bad-mailbox");
        jobs[i].ev.diag = (char *)"550 5.1.1 <user@dest.test>: Recipient address rejected: User unknown";
    }
    spool_set_sync(getenv("BENCH_NOSYNC") == NULL);   /* BENCH_NOSYNC=1: CPU cost only */
    t0 = now_s();
    for (i = 0; i < n; i += g) {
        for (k = i; k + 1 < i + g && k + 1 < n; k++)
            jobs[k].group = &jobs[k + 1];
        failure_run(&ctx, &jobs[i]);
    }
    t = now_s() - t0;
    for (i = 0; i < n; i++)
        dsns += jobs[i].dsn_qid[0] != '\0';
    for (i = 0; i < n; i++)
        if (suppress_get(ctx.sdb, "*", jobs[i].ev.rcpt, NULL) != 1) {
            fprintf(stderr, "%s not suppressed\n", jobs[i].ev.rcpt);
            return 1;
        }
    printf("group %3ld: %ld failures in %.2f s = %.0f failures/s (%ld DSNs spooled, all suppressed)\n",
           g, n, t, n / t, dsns);
    return dsns == n ? 0 : 1;
}
