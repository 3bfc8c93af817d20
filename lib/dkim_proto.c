/*
 * dkim_proto - encode/decode of the dkimsign messages (see dkim_proto.h).
 * Decoders are strict: every field bounded, known values only, no
 * trailing data; dkimsign trusts nothing smtp-out sends and vice versa.
 */
#include "dkim_proto.h"

#include <string.h>

const unsigned char *dkim_ipc_get_bytes(struct ipc_reader *r, size_t max, size_t *len)
{
    const unsigned char *p;
    uint32_t n = ipc_get_u32(r);

    *len = 0;
    if (r->failed || n > max || r->len - r->off < n) {
        r->failed = 1;
        return NULL;
    }
    p = r->p + r->off;
    r->off += n;
    *len = n;
    return p;
}

int dkim_sign_req_encode(struct buf *out, uint32_t reqid, const char *domain,
                         const char *selector, enum dkim_alg alg, const void *input, size_t len)
{
    size_t st;

    if (len == 0 || len > DKIM_INPUT_MAX)
        return -1;
    if (ipc_begin(out, IPC_DKIM_SIGN, reqid, &st) < 0 || ipc_put_str(out, domain) < 0
        || ipc_put_str(out, selector) < 0 || ipc_put_u32(out, (uint32_t)alg) < 0
        || ipc_put_strn(out, input, len) < 0)
        return -1;
    return ipc_end(out, st);
}

int dkim_sign_req_decode(const struct ipc_frame *f, struct dkim_sign_req *req)
{
    struct ipc_reader r;
    uint32_t alg;

    memset(req, 0, sizeof(*req));
    if (f->type != IPC_DKIM_SIGN)
        return -1;
    ipc_reader_init(&r, f);
    ipc_get_str(&r, req->domain, sizeof(req->domain));
    ipc_get_str(&r, req->selector, sizeof(req->selector));
    alg = ipc_get_u32(&r);
    req->input = dkim_ipc_get_bytes(&r, DKIM_INPUT_MAX, &req->input_len);
    if (ipc_reader_end(&r) < 0 || req->domain[0] == '\0' || req->selector[0] == '\0'
        || (alg != DKIM_ALG_RSA_SHA256 && alg != DKIM_ALG_ED25519_SHA256)
        || req->input_len == 0)
        return -1;
    req->alg = (enum dkim_alg)alg;
    return 0;
}

int dkim_sign_rep_encode(struct buf *out, uint32_t reqid, enum dkim_status st,
                         const char *error, const char *sig)
{
    size_t start;

    if (ipc_begin(out, IPC_DKIM_SIGNED, reqid, &start) < 0 || ipc_put_u32(out, (uint32_t)st) < 0
        || ipc_put_str(out, error ? error : "") < 0 || ipc_put_str(out, sig ? sig : "") < 0)
        return -1;
    return ipc_end(out, start);
}

int dkim_sign_rep_decode(const struct ipc_frame *f, struct dkim_sign_rep *rep)
{
    struct ipc_reader r;
    uint32_t st;
    size_t i;

    memset(rep, 0, sizeof(*rep));
    if (f->type != IPC_DKIM_SIGNED)
        return -1;
    ipc_reader_init(&r, f);
    st = ipc_get_u32(&r);
    ipc_get_str(&r, rep->error, sizeof(rep->error));
    ipc_get_str(&r, rep->sig, sizeof(rep->sig));
    if (ipc_reader_end(&r) < 0 || st > DKIM_STATUS_MAX)
        return -1;
    if ((st == DKIM_ST_OK) != (rep->sig[0] != '\0'))
        return -1;
    for (i = 0; rep->sig[i] != '\0'; i++) {
        char c = rep->sig[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '+' || c == '/' || c == '='))
            return -1;          /* it goes into a header: base64 only */
    }
    rep->status = (enum dkim_status)st;
    return 0;
}
