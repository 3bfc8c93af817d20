/*
 * libFuzzer target: what DKIM code reads from outside.  dkimsign decodes
 * sign requests from smtp-out and checks their input (a compromised
 * smtp-out must not crash it or get a signature over arbitrary data);
 * smtp-out decodes replies, parses message headers from the spool (bytes
 * a client sent), finds the identity and canonicalizes.  The first byte
 * picks the target.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "dkim_canon.h"
#include "dkim_proto.h"
#include "dkim_sign.h"

static struct dkim_headers h;

static void fuzz_message(const uint8_t *data, size_t size)
{
    struct dkim_sig_params sp = { "example.com", "s", DKIM_ALG_RSA_SHA256, DKIM_CANON_RELAXED,
                                  DKIM_CANON_SIMPLE, "@example.com", "x-a,x-b", 1, 1, 60 };
    unsigned char bh[DKIM_BH_LEN];
    struct dkim_body b;
    struct dkim_sig sig;
    char err[256], dom[256];
    size_t i;

    if (dkim_headers_parse((const char *)data, size, &h, err, sizeof(err)) < 0)
        return;
    (void)dkim_identity_domain(&h, dom, sizeof(dom));
    for (i = 0; i < h.n; i++) {
        const char *colon = memchr(h.f[i].p, ':', h.f[i].len);
        (void)dkim_address_domain(colon + 1, h.f[i].len - (size_t)(colon + 1 - h.f[i].p), dom,
                                  sizeof(dom));
    }
    for (int c = 0; c < 2; c++) {
        if (dkim_body_init(&b, (enum dkim_canon)c) < 0)
            return;
        dkim_body_update(&b, data + h.body_off, (size - h.body_off) / 2);
        dkim_body_update(&b, data + h.body_off + (size - h.body_off) / 2,
                         size - h.body_off - (size - h.body_off) / 2);
        dkim_body_final(&b, bh);
    }
    for (int c = 0; c < 2; c++) {
        sp.hcanon = (enum dkim_canon)c;
        if (dkim_sig_prepare(&sp, &h, bh, &sig, err, sizeof(err)) == 0) {
            if (dkim_input_check((const unsigned char *)sig.input.data, sig.input.len,
                                 "example.com", "s", DKIM_ALG_RSA_SHA256, err, sizeof(err)) != 0)
                __builtin_trap();       /* our own input must pass our own check */
            dkim_sig_finish(&sig, "QUJD");
        }
        dkim_sig_free(&sig);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dkim_sign_req req;
    struct dkim_sign_rep rep;
    struct ipc_frame f;
    size_t used;
    char err[256];

    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        if (ipc_frame_parse(data + 1, size - 1, &f, &used) == 1) {
            f.type = IPC_DKIM_SIGN;
            if (dkim_sign_req_decode(&f, &req) == 0)
                (void)dkim_input_check(req.input, req.input_len, req.domain, req.selector,
                                       req.alg, err, sizeof(err));
            f.type = IPC_DKIM_SIGNED;
            (void)dkim_sign_rep_decode(&f, &rep);
        }
        break;
    case 1:
        (void)dkim_input_check(data + 1, size - 1, "example.com", "s", DKIM_ALG_ED25519_SHA256,
                               err, sizeof(err));
        break;
    default:
        fuzz_message(data + 1, size - 1);
    }
    return 0;
}
