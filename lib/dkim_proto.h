/*
 * dkim_proto - the smtp-out <-> dkimsign messages, framed by lib/ipc.h
 * (types 100 and 101; lib/proto.h keeps 1..99).  Connection: smtp-out
 * connects to run_dir/dkimsign.sock, may send HELLO first (optional),
 * then any number of SIGN frames, each with its own request id; dkimsign
 * answers each with one SIGNED frame carrying that id, possibly out of
 * order (RSA signatures come back from the thread pool).
 *
 *   IPC_DKIM_SIGN   str domain (d=), str selector (s=), u32 algorithm
 *                   (DKIM_ALG_*), bytes header-hash input (<= 256 KB; the
 *                   canonicalized signed headers and DKIM-Signature with
 *                   an empty b=, as dkim_sig_prepare built it)
 *   IPC_DKIM_SIGNED u32 status (DKIM_ST_*), str error text, str base64
 *                   signature ("" unless status is DKIM_ST_OK)
 */
#ifndef COURSER_DKIM_PROTO_H
#define COURSER_DKIM_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "dkim_key.h"
#include "dkim_sign.h"
#include "ipc.h"

enum { IPC_DKIM_SIGN = 100, IPC_DKIM_SIGNED = 101 };

enum dkim_status {
    DKIM_ST_OK = 0,
    DKIM_ST_UNKNOWN_KEY = 1,    /* (domain, selector, algorithm) not configured: permanent */
    DKIM_ST_KEY_FAILED = 2,     /* configured, but the key did not load (error says why) */
    DKIM_ST_BAD_REQUEST = 3,    /* malformed, or the input does not match d=/s=/a= */
    DKIM_ST_SIGN_FAILED = 4,    /* the crypto library failed */
    DKIM_ST_BUSY = 5,           /* too many requests in flight: retry later */
};
#define DKIM_STATUS_MAX DKIM_ST_BUSY
/* Never on the wire: dkim_client's verdict when dkimsign cannot be reached,
 * the connection dropped or the reply timed out (temporary). */
#define DKIM_ST_UNAVAILABLE 100
#define DKIM_ERR_MAX 512

struct dkim_sign_req {
    char domain[DKIM_DOMAIN_MAX];
    char selector[DKIM_SELECTOR_MAX];
    enum dkim_alg alg;
    const unsigned char *input; /* points into the frame */
    size_t input_len;
};

struct dkim_sign_rep {
    enum dkim_status status;
    char error[DKIM_ERR_MAX];
    char sig[DKIM_SIG_B64_MAX];
};

int dkim_sign_req_encode(struct buf *out, uint32_t reqid, const char *domain,
                         const char *selector, enum dkim_alg alg, const void *input, size_t len);
/* 0, or -1 when the frame is not a well-formed request (strict: no
 * trailing bytes, known algorithm, input 1..DKIM_INPUT_MAX bytes). */
int dkim_sign_req_decode(const struct ipc_frame *f, struct dkim_sign_req *req);
int dkim_sign_rep_encode(struct buf *out, uint32_t reqid, enum dkim_status st,
                         const char *error, const char *sig);
int dkim_sign_rep_decode(const struct ipc_frame *f, struct dkim_sign_rep *rep);

/* Raw bytes field (u32 length + bytes; CR, LF and NUL allowed) read in
 * place: *p points into the frame.  Fails the reader past max. */
const unsigned char *dkim_ipc_get_bytes(struct ipc_reader *r, size_t max, size_t *len);

#endif
