/*
 * libFuzzer target: the SMTP reply parser (lib/smtp_reply.c) on arbitrary
 * server bytes, fed in pieces whose sizes come from the input itself, and
 * the EHLO keyword extraction of every reply that completes.  A remote
 * server must never crash smtp-out or make it read or write out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smtp_reply_parser p;
    struct smtp_ehlo e;
    size_t off = 1, used, step, i;
    int r;

    if (size == 0)
        return 0;
    step = (size_t)(data[0] % 17) + 1;      /* first byte: the chunk size */
    smtp_reply_init(&p);
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        r = smtp_reply_feed(&p, (const char *)data + off, n, &used);
        if (r < 0)
            break;
        if (r == 1) {
            /* every line is NUL-terminated within its recorded length */
            for (i = 0; i < p.r.nlines; i++)
                if (strlen(smtp_reply_line(&p.r, i)) != p.r.len[i])
                    __builtin_trap();
            if (p.r.code < 200 || p.r.code > 599 || p.r.text == NULL)
                __builtin_trap();
            smtp_ehlo_parse(&p.r, &e);
            if (strlen(e.keywords) >= sizeof(e.keywords))
                __builtin_trap();
            smtp_reply_reset(&p);
            off += used;
            continue;
        }
        off += n;
    }
    smtp_reply_free(&p);
    return 0;
}
