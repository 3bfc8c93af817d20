/*
 * dkim_job - a message's signatures for smtp-out (see dkim_job.h): plan
 * from the configuration, stream the body into one hash per
 * canonicalization, build the inputs dkimsign signs, collect the headers.
 * Keeps its own copy of the header section, so the caller's read buffer
 * can be reused while the job waits for dkimsign.
 */
#include "dkim_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dkim_job {
    char *hdr;                          /* copy of the header section */
    size_t hdrlen;
    struct dkim_headers h;              /* points into hdr */
    struct cfg_domain_settings ds;
    struct dkim_plan plan;
    struct dkim_body body[2];           /* by enum dkim_canon */
    int want[2], have[2];               /* hash needed / known */
    unsigned char bh[2][DKIM_BH_LEN];
    struct dkim_sig sig[DKIM_SIGS_MAX];
    int prepared, signed_[DKIM_SIGS_MAX];
};

int dkim_job_begin(struct dkim_job **out, const struct config *cfg, const char *vmta,
                   const struct cfg_domain_settings *ds, const char *first, size_t len,
                   uint64_t msg_len, char *err, size_t errlen)
{
    struct dkim_job *j = calloc(1, sizeof(*j));
    int n, i;
    size_t k;

    *out = j;
    if (j == NULL)
        return snprintf(err, errlen, "no memory"), -1;
    j->ds = *ds;
    if (dkim_headers_parse(first, len, &j->h, err, errlen) < 0)
        return -1;
    if (j->h.body_off == len && len < msg_len) {
        if (len < (size_t)DKIM_HEADER_BYTES + 2)
            return snprintf(err, errlen, "need more of the message"), DKIM_JOB_NEED_MORE;
        return snprintf(err, errlen, "header section larger than %d bytes", DKIM_HEADER_BYTES), -1;
    }
    /* Own copy of the header section; re-point the fields into it. */
    j->hdrlen = j->h.body_off;
    if ((j->hdr = malloc(j->hdrlen + 1)) == NULL)
        return snprintf(err, errlen, "no memory"), -1;
    memcpy(j->hdr, first, j->hdrlen);
    for (k = 0; k < j->h.n; k++)
        j->h.f[k].p = j->hdr + (j->h.f[k].p - first);
    n = dkim_plan_message(cfg, vmta, &j->ds, &j->h, &j->plan, err, errlen);
    if (n <= 0)
        return n;
    i = j->ds.dkim_canon[1] ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
    j->want[i] = 1;
    if (dkim_body_init(&j->body[i], (enum dkim_canon)i) < 0)
        return snprintf(err, errlen, "no memory"), -1;
    return n;
}

uint64_t dkim_job_body_offset(const struct dkim_job *j)
{
    return j->h.body_off;
}

int dkim_job_body(struct dkim_job *j, const void *p, size_t n)
{
    int i;

    for (i = 0; i < 2; i++)
        if (j->want[i] && !j->have[i] && dkim_body_update(&j->body[i], p, n) < 0)
            return -1;
    return 0;
}

int dkim_job_body_hash(const struct dkim_job *j, enum dkim_canon c, unsigned char bh[DKIM_BH_LEN])
{
    if (!j->have[c])
        return -1;
    memcpy(bh, j->bh[c], DKIM_BH_LEN);
    return 0;
}

void dkim_job_set_body_hash(struct dkim_job *j, enum dkim_canon c, const unsigned char bh[DKIM_BH_LEN])
{
    memcpy(j->bh[c], bh, DKIM_BH_LEN);
    j->have[c] = 1;
}

enum dkim_canon dkim_job_body_canon(const struct dkim_job *j)
{
    return j->want[DKIM_CANON_RELAXED] ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
}

int dkim_job_prepare(struct dkim_job *j, time_t now, char *err, size_t errlen)
{
    struct dkim_sig_params sp;
    size_t i;
    int c;

    for (c = 0; c < 2; c++) {
        if (!j->want[c] || j->have[c])
            continue;
        if (dkim_body_final(&j->body[c], j->bh[c]) < 0)
            return snprintf(err, errlen, "body hash failed"), -1;
        j->have[c] = 1;
    }
    for (i = 0; i < j->plan.nkeys; i++) {
        dkim_plan_params(&j->plan, i, &j->ds, now, &sp);
        if (dkim_sig_prepare(&sp, &j->h, j->bh[sp.bcanon], &j->sig[i], err, errlen) < 0)
            return -1;
    }
    j->prepared = 1;
    return 0;
}

size_t dkim_job_count(const struct dkim_job *j)
{
    return j->prepared ? j->plan.nkeys : 0;
}

const struct dkim_key_ref *dkim_job_key(const struct dkim_job *j, size_t i)
{
    return i < j->plan.nkeys ? &j->plan.keys[i] : NULL;
}

const struct buf *dkim_job_input(const struct dkim_job *j, size_t i)
{
    return i < dkim_job_count(j) ? &j->sig[i].input : NULL;
}

int dkim_job_set_signature(struct dkim_job *j, size_t i, const char *b64)
{
    if (i >= dkim_job_count(j) || j->signed_[i] || dkim_sig_finish(&j->sig[i], b64) < 0)
        return -1;
    j->signed_[i] = 1;
    return 0;
}

int dkim_job_headers(const struct dkim_job *j, struct buf *out)
{
    size_t i;

    for (i = 0; i < dkim_job_count(j); i++)
        if (!j->signed_[i] || buf_append(out, j->sig[i].header.data, j->sig[i].header.len) < 0)
            return -1;
    return 0;
}

int dkim_job_header(const struct dkim_job *j, size_t i, struct buf *out)
{
    if (i >= dkim_job_count(j) || !j->signed_[i])
        return -1;
    return buf_append(out, j->sig[i].header.data, j->sig[i].header.len);
}

void dkim_job_free(struct dkim_job *j)
{
    size_t i;

    if (j == NULL)
        return;
    dkim_body_free(&j->body[0]);
    dkim_body_free(&j->body[1]);
    for (i = 0; i < DKIM_SIGS_MAX; i++)
        dkim_sig_free(&j->sig[i]);
    free(j->hdr);
    free(j);
}
