/*
 * libFuzzer target: every IPC decoder on arbitrary bytes.  A receiver
 * must never crash or leak on what another (possibly compromised) process
 * sends it (DESIGN.md §4).
 */
#include <stddef.h>
#include <stdint.h>
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ipc_frame f;
    size_t used, off = 0;
    struct msg_hello h;
    struct msg_new n;
    struct msg_deliver d;
    struct msg_result r;
    struct acct_record a;
    struct msg_ctl_request q;
    struct msg_ctl_reply p;

    while (off < size && ipc_frame_parse(data + off, size - off, &f, &used) == 1) {
        off += used;
        /* decode the payload as every type, not only the one it claims */
        for (uint16_t t = IPC_HELLO; t <= IPC_CTL_REPLY; t++) {
            f.type = t;
            msg_hello_decode(&f, &h);
            msg_new_decode(&f, &n);
            if (msg_deliver_decode(&f, &d) == 0)
                msg_deliver_free(&d);
            if (msg_result_decode(&f, &r) == 0)
                msg_result_free(&r);
            if (msg_acct_decode(&f, &a) == 0)
                acct_record_free(&a);
            if (msg_ctl_request_decode(&f, &q) == 0)
                msg_ctl_request_free(&q);
            if (msg_ctl_reply_decode(&f, &p) == 0)
                msg_ctl_reply_free(&p);
        }
    }
    return 0;
}
