/*
 * dkim_job - one message's DKIM signatures from smtp-out's side, in the
 * order smtp-out has the data (it preads the spool in chunks):
 *
 *   n = dkim_job_begin(&j, cfg, vmta, &ds, first_bytes, len, msg_len, ...)
 *       -> plans the signatures (0 = nothing to sign: see
 *          ds.dkim_fail_action if ds.dkim_sign was set and n == 0)
 *   dkim_job_body(j, chunk, n) ... for the bytes from
 *       dkim_job_body_offset(j) to the end of the message
 *   dkim_job_prepare(j, time(NULL), ...)
 *   for i < dkim_job_count(j): send dkim_job_input(j, i) for
 *       dkim_job_key(j, i) to dkimsign (dkim_client.h), then
 *       dkim_job_set_signature(j, i, b64)
 *   dkim_job_headers(j, &out)  -> "DKIM-Signature: ...\r\n" x n, to send
 *       before the message's first byte
 *   dkim_job_free(j)
 *
 * One body hash per canonicalization however many keys sign.  To reuse
 * body hashes across retries, keep them (dkim_job_body_hash) and give
 * them back with dkim_job_set_body_hash instead of feeding the body.
 */
#ifndef COURSER_DKIM_JOB_H
#define COURSER_DKIM_JOB_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "buf.h"
#include "config.h"
#include "dkim_keys.h"

struct dkim_job;

/* first = the message's first len bytes (msg_len is the full size); a
 * first read chunk is enough when it holds the whole header section.
 * Returns the number of signatures planned (>= 0) and *out; -2 when the
 * header section does not end within first (call again with more bytes,
 * up to DKIM_HEADER_BYTES + 2); -1 with err (no memory, header section
 * unparsable or larger than DKIM_HEADER_BYTES, no signing identity).
 * Free *out whatever the result. */
#define DKIM_JOB_NEED_MORE (-2)
int dkim_job_begin(struct dkim_job **out, const struct config *cfg, const char *vmta,
                   const struct cfg_domain_settings *ds, const char *first, size_t len,
                   uint64_t msg_len, char *err, size_t errlen);
/* Where the body starts in the message (feed dkim_job_body from there). */
uint64_t dkim_job_body_offset(const struct dkim_job *j);
int dkim_job_body(struct dkim_job *j, const void *p, size_t n);
/* Body hashes: get after dkim_job_prepare, set instead of dkim_job_body. */
int dkim_job_body_hash(const struct dkim_job *j, enum dkim_canon c, unsigned char bh[DKIM_BH_LEN]);
void dkim_job_set_body_hash(struct dkim_job *j, enum dkim_canon c, const unsigned char bh[DKIM_BH_LEN]);
/* The canonicalization whose body hash the job needs (one per job: the
 * body canonicalization of its <domain> settings) - the key of a cache. */
enum dkim_canon dkim_job_body_canon(const struct dkim_job *j);
/* Finish the body hashes and build each DKIM-Signature and its input. */
int dkim_job_prepare(struct dkim_job *j, time_t now, char *err, size_t errlen);
size_t dkim_job_count(const struct dkim_job *j);
const struct dkim_key_ref *dkim_job_key(const struct dkim_job *j, size_t i);
const struct buf *dkim_job_input(const struct dkim_job *j, size_t i);
int dkim_job_set_signature(struct dkim_job *j, size_t i, const char *b64);
/* Append every finished DKIM-Signature header (CRLF-terminated) to out.
 * -1 if one is not signed yet or out is full. */
int dkim_job_headers(const struct dkim_job *j, struct buf *out);
/* Append signature i's header alone (CRLF-terminated): for sending the
 * signatures that were made when another one failed.  -1 if i is not
 * signed or out is full. */
int dkim_job_header(const struct dkim_job *j, size_t i, struct buf *out);
void dkim_job_free(struct dkim_job *j);

#endif
