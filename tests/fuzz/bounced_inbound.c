/*
 * libFuzzer target: bounced's handling of a message for a bounce-domain
 * (bounced/inbound.c): classification, VERP look-ups in the envelope,
 * the headers and the body, and the accounting records it builds, on
 * arbitrary bytes from anyone on the Internet.  No suppression database
 * (ctx.sdb NULL: the entries are refused and logged), a fixed VERP key.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "spool.h"
#include "../../bounced/bounced.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct bounced_ctx ctx;
    static struct config cfg;
    struct spool_envelope e;
    struct spool_rcpt r;
    struct bjob j;
    char err[256], *msg;
    size_t i;

    if (ctx.patterns == NULL) {
        snprintf(cfg.verp_key, sizeof(cfg.verp_key), "fuzz-verp-key-0123456789");
        snprintf(cfg.log_file, sizeof(cfg.log_file), "/dev/null");
        if (log_open_file("/dev/null") < 0 || server_ctx_load(&ctx, &cfg, err, sizeof(err)) < 0)
            abort();
        ctx.cfg = &cfg;
    }
    msg = malloc(size + 1);
    if (msg == NULL)
        return 0;
    memcpy(msg, data, size);
    msg[size] = '\0';
    memset(&e, 0, sizeof(e));
    memset(&r, 0, sizeof(r));
    snprintf(e.queue_id, sizeof(e.queue_id), "6619C5EB2AC68001A41000");
    /* a plain address most of the time (the notice's own headers and body
     * are then searched), a forged VERP address otherwise */
    r.addr = size > 0 && (data[0] & 7) == 0
        ? (char *)"bounces+6619C5EB2AC68001A41000.0123456789abcdef@b.test" : (char *)"fbl@b.test";
    e.rcpts = &r;
    e.nrcpt = 1;
    memset(&j, 0, sizeof(j));
    (void)inbound_message(&ctx, &j, &e, msg, size);
    for (i = 0; i < j.nrecs; i++)
        acct_record_free(&j.recs[i]);
    free(j.recs);
    free(msg);
    return 0;
}
