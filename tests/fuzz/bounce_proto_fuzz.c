/*
 * libFuzzer target: the decoders of issue 6 that take bytes from another
 * process or from disk: the BOUNCE and BOUNCE_DELAY frames qmgr sends
 * bounced (msg_bounce_decode), a suppression record read from LMDB
 * (suppress_value_decode), and the VERP address parser (verp_sign_parse,
 * fed by remote MTAs' bounces).  None may crash or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "bounce_proto.h"
#include "suppress.h"
#include "verp_sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ipc_frame f;
    struct msg_bounce m;
    struct suppress_entry e;
    struct verp_key k;
    char *s, id[64], hash[64];

    f.type = IPC_BOUNCE;
    f.reqid = 1;
    f.payload = data;
    f.len = size;
    if (msg_bounce_decode(&f, &m) == 0)
        msg_bounce_free(&m);
    f.type = IPC_BOUNCE_DELAY;
    if (msg_bounce_decode(&f, &m) == 0) {
        if (m.status[0] != '4')
            __builtin_trap();       /* a delay is never permanent */
        msg_bounce_free(&m);
    }
    (void)suppress_value_decode(data, size, &e);
    s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (verp_sign_parse(s, id, sizeof(id), hash, sizeof(hash)) == 0) {
        memset(&k, 0, sizeof(k));
        k.len = 16;
        memcpy(k.k, "0123456789abcdef", 16);
        (void)verp_sign_check(&k, id, hash);
    }
    free(s);
    return 0;
}
