/*
 * qmgr_sched - the scheduler benchmark of issue 4, with a fake clock and
 * no network: 1,000,000 recipients over 10,000 queues are loaded into
 * qmgr's core (no spool files: envelopes built in memory, as after a
 * restart's scan), then delivered by repeatedly running the timers and
 * dispatch and answering every job 250 at once.  Reports RSS per queued
 * recipient (process RSS after loading minus before, /proc/self/statm)
 * and scheduling decisions (jobs handed out) per CPU second, once with
 * no limits and once with every queue under max-msg-rate and
 * max-smtp-out (the shaping gate and the connection ledger at work).
 *
 *   bench/qmgr_sched.sh [RECIPIENTS [QUEUES]]   (runs both modes)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "../qmgr/qmgr.h"
#include "../qmgr/shaping.h"

#define T0 1800000000LL
#define NOW ((T0 + 1) * 1000)
#define PER 10                  /* recipients per message, one domain each */

static double cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *fp = fopen("/proc/self/statm", "r");

    if (fp == NULL)
        return -1;
    if (fscanf(fp, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(fp);
    return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

static int sink_send(struct qmgr *m, struct worker *w, const struct msg_deliver *d)
{
    return 0;
}

static uint32_t rnd(struct qmgr *m)
{
    return (uint32_t)random();
}

static struct config *load_config(const char *text)
{
    char path[] = "/tmp/qmgr-bench-XXXXXX", err[512];
    struct config *cfg;
    int fd = mkstemp(path);

    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        perror("temp config");
        exit(1);
    }
    close(fd);
    if (config_load(path, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "config: %s\n", err);
        exit(1);
    }
    unlink(path);
    return cfg;
}

static void run(const char *label, const char *conf, unsigned nrcpt, unsigned nq)
{
    struct config *cfg = load_config(conf);
    struct qmgr m;
    struct worker *w;
    unsigned nmsg = nrcpt / PER, i, k;
    long before, after;
    double t0, t_disp = 0, t_res = 0, t;
    uint64_t decisions = 0, done = 0, steps = 0;
    int64_t now = NOW;

    qmgr_init(&m, cfg);
    m.send_deliver = sink_send;
    m.random = rnd;
    before = rss_bytes();
    t0 = cpu();
    for (i = 0; i < nmsg; i++) {
        struct spool_envelope e;
        char a[64];

        memset(&e, 0, sizeof(e));
        snprintf(e.queue_id, sizeof(e.queue_id), "%013X%06X%03X", 0x1000000u + i, 77u, i & 0xfff);
        e.time_queued = T0;
        e.mail_from = strdup("sender@origin.test");
        e.rcpts = calloc(PER, sizeof(*e.rcpts));
        if (e.rcpts == NULL || e.mail_from == NULL)
            exit(1);
        for (k = 0; k < PER; k++) {
            snprintf(a, sizeof(a), "user%u.%u@d%u.test", i, k, i % nq);
            e.rcpts[k].addr = strdup(a);
        }
        e.nrcpt = PER;
        message_schedule(&m, message_add(&m, &e, 2048), now);
    }
    after = rss_bytes();
    printf("%s: loaded %llu recipients in %zu queues in %.2f s CPU; RSS +%.1f MB = %.0f bytes per queued recipient\n",
           label, (unsigned long long)m.nrcpt_queued, m.queues.n, cpu() - t0,
           (after - before) / 1048576.0, (double)(after - before) / (double)m.nrcpt_queued);
    w = worker_add(&m, NULL, 1, 1000000);
    while (m.nrcpt_queued > 0) {
        struct job *j;

        t = cpu();
        schedule_run_timers(&m, now);
        dispatch_run(&m, now);
        t_disp += cpu() - t;
        t = cpu();
        while ((j = w->jobs) != NULL) {
            struct msg_result r;
            struct result_rcpt rr[PER];

            memset(&r, 0, sizeof(r));
            memset(rr, 0, sizeof(rr));
            r.job_id = j->id;
            r.nrcpt = j->nrcpt;
            r.rcpts = rr;
            r.remote_mx = r.remote_ip = r.source_ip = r.esmtp_ext = (char *)"";
            for (k = 0; k < j->nrcpt; k++) {
                rr[k].index = j->rcpts[k]->index;
                rr[k].code = 250;
                rr[k].text = (char *)"250 ok";
                strcpy(rr[k].status, "2.0.0");
            }
            done += j->nrcpt;
            decisions++;
            if (result_apply(&m, w, &r, now) < 0)
                exit(1);
        }
        t_res += cpu() - t;
        /* jump to the next moment something can happen (fake clock) */
        {
            int64_t next = schedule_next_ms(&m);

            now = next > now ? next : now + 1;
        }
        steps++;
    }
    printf("%s: %llu jobs (%llu recipients) over %.1f simulated s: dispatch %.2f s CPU = %.0f decisions/s; "
           "results %.2f s CPU\n", label, (unsigned long long)decisions, (unsigned long long)done,
           (now - NOW) / 1000.0, t_disp, t_disp > 0 ? decisions / t_disp : 0.0, t_res);
    qmgr_free(&m);
    config_free(cfg);
}

/* One mode per process, so the RSS figure is not memory freed by the
 * previous run: qmgr_sched unlimited|shaped [RECIPIENTS [QUEUES]]. */
int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "unlimited";
    unsigned nrcpt = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 1000000;
    unsigned nq = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 10000;

    if (nrcpt < PER || nq == 0)
        return 2;
    srandom(1);
    log_set_verbose(0);
    if (strcmp(mode, "unlimited") == 0)
        run("unlimited", "<domain *>\n max-smtp-out 20\n</domain>\n", nrcpt, nq);
    else if (strcmp(mode, "shaped") == 0)
        run("shaped", "<domain *>\n max-smtp-out 5\n max-msg-rate 600/m\n max-msg-rate-burst 5\n"
            " max-connect-rate 60/m\n max-rcpt-per-transaction 10\n</domain>\n", nrcpt, nq);
    else
        return 2;
    return 0;
}
