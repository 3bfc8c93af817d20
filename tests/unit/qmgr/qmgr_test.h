/*
 * qmgr_test - helpers shared by qmgr's unit tests: a configuration from
 * text, envelopes built in memory, and hooks that record what the core
 * would have sent (DELIVER jobs, accounting records, spool removals).
 */
#ifndef COURSER_QMGR_TEST_H
#define COURSER_QMGR_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "bounce_status.h"
#include "../../../qmgr/qmgr.h"

#define T_MAX_JOBS 4096
#define T_MAX_ACCT 4096

struct t_job {
    uint64_t id;
    struct worker *w;
    char domain[256];
    char source_ip[64];
    char helo[256];
    char vmta[256];
    char skip_mx[1024];
    uint32_t nrcpt;
    uint32_t idx[1100];
};

static struct t_job t_jobs[T_MAX_JOBS];
static size_t t_njobs;
static struct acct_record t_acct[T_MAX_ACCT];
static size_t t_nacct;
static char t_removed[64][QUEUE_ID_SIZE];
static size_t t_nremoved;
static uint32_t t_rnd;
static char t_dir[64];

static __attribute__((unused)) int t_send(struct qmgr *m, struct worker *w, const struct msg_deliver *d)
{
    struct t_job *j = &t_jobs[t_njobs++];
    uint32_t i;

    assert_true(t_njobs <= T_MAX_JOBS);
    j->id = d->job_id;
    j->w = w;
    snprintf(j->domain, sizeof(j->domain), "%s", d->domain);
    snprintf(j->source_ip, sizeof(j->source_ip), "%s", d->source_ip);
    snprintf(j->helo, sizeof(j->helo), "%s", d->helo_name);
    snprintf(j->vmta, sizeof(j->vmta), "%s", d->vmta);
    snprintf(j->skip_mx, sizeof(j->skip_mx), "%s", d->skip_mx ? d->skip_mx : "");
    j->nrcpt = d->nrcpt;
    for (i = 0; i < d->nrcpt && i < 1100; i++)
        j->idx[i] = d->rcpts[i].index;
    return 0;
}

static __attribute__((unused)) void t_emit(struct qmgr *m, const struct acct_record *r)
{
    int i;

    assert_true(t_nacct < T_MAX_ACCT);
    for (i = 0; i < AF_COUNT; i++)
        t_acct[t_nacct].v[i] = r->v[i] ? strdup(r->v[i]) : NULL;
    t_nacct++;
}

static __attribute__((unused)) void t_remove(struct qmgr *m, const char *qid)
{
    if (t_nremoved < 64)
        memcpy(t_removed[t_nremoved++], qid, QUEUE_ID_SIZE);
}

static __attribute__((unused)) uint32_t t_random(struct qmgr *m)
{
    return t_rnd;
}

static __attribute__((unused)) void t_reset(void)
{
    size_t i;

    for (i = 0; i < t_nacct; i++)
        acct_record_free(&t_acct[i]);
    t_nacct = t_njobs = t_nremoved = 0;
}

/* t_config - load a configuration from text. */
static __attribute__((unused)) struct config *t_config(const char *text)
{
    char path[128], err[512];
    struct config *cfg;
    FILE *fp;

    if (t_dir[0] == '\0') {
        snprintf(t_dir, sizeof(t_dir), "/tmp/qmgr-test-XXXXXX");
        assert_non_null(mkdtemp(t_dir));
    }
    snprintf(path, sizeof(path), "%s/courser.conf", t_dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    if (config_load(path, &cfg, err, sizeof(err)) < 0)
        fail_msg("config: %s", err);
    /* nothing reads the file after the load: leave no litter in /tmp */
    (void)unlink(path);
    (void)rmdir(t_dir);
    t_dir[0] = '\0';
    return cfg;
}

static __attribute__((unused)) void t_init(struct qmgr *m, struct config *cfg)
{
    t_reset();
    qmgr_init(m, cfg);
    m->send_deliver = t_send;
    m->emit_acct = t_emit;
    m->remove_spool = t_remove;
    m->random = t_random;
    t_rnd = 0x80000000u;
}

/* t_message - add a message with the given recipients (NULL-terminated). */
static __attribute__((unused)) struct qmsg *t_message(struct qmgr *m, const char *qid, uint64_t tq, const char *vmta, ...)
{
    struct spool_envelope e;
    const char *a;
    va_list ap;
    uint32_t n = 0;
    struct qmsg *msg;

    memset(&e, 0, sizeof(e));
    snprintf(e.queue_id, sizeof(e.queue_id), "%s", qid);
    e.time_queued = tq;
    e.client_ip = strdup("127.0.0.1");
    e.client_helo = strdup("client.test");
    e.mail_from = strdup("sender@origin.test");
    e.vmta = vmta ? strdup(vmta) : NULL;
    e.job_id = strdup("job7");
    e.rcpts = calloc(2000, sizeof(*e.rcpts));
    va_start(ap, vmta);
    while ((a = va_arg(ap, const char *)) != NULL)
        e.rcpts[n++].addr = strdup(a);
    va_end(ap);
    e.nrcpt = n;
    msg = message_add(m, &e, 1234);
    assert_non_null(msg);
    return msg;
}

/* t_qid - a valid queue id made from n. */
static __attribute__((unused)) const char *t_qid(unsigned n)
{
    static char b[4][QUEUE_ID_SIZE];
    static int k;
    char *o = b[k++ & 3];

    snprintf(o, QUEUE_ID_SIZE, "%013lX%06X%03X", (unsigned long)(0x18000000000ul + n), 4242u, n & 0xfff);
    return o;
}

static __attribute__((unused)) const char *t_field(size_t i, enum acct_field f)
{
    return t_acct[i].v[f];
}

#endif
