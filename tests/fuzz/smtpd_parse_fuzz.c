/*
 * libFuzzer target: smtpd's command reader, verb/argument parsers and
 * DATA stream parser (smtpd/command.c, smtpd/data.c) on arbitrary bytes
 * from a client.  Besides not crashing, it checks that the resumable
 * parsers give the same result whatever the chunking: the input is parsed
 * once whole and once in pieces whose sizes come from the first byte, and
 * any difference aborts.
 *
 * Built by `make fuzz` (clang -fsanitize=fuzzer; not a default target):
 *   make fuzz && build-fuzz/fuzz/smtpd_parse_fuzz -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../smtpd/command.h"
#include "../../smtpd/data.h"

/* Results of one pass, compared between the whole and chunked passes. */
struct pass {
    unsigned lines, errors, mail_ok, rcpt_ok;
    unsigned long hash;
    int done;
    size_t used;
    unsigned flags;
    size_t outlen;
    unsigned long outhash;
};

static unsigned long mix(unsigned long h, const void *p, size_t n)
{
    const unsigned char *c = p;
    size_t i;

    for (i = 0; i < n; i++)
        h = h * 131 + c[i];
    return h;
}

static void on_line(struct pass *p, enum cmd_read_result r, const char *line)
{
    const char *arg;
    struct mail_args m;
    struct rcpt_args rc;

    p->hash = mix(p->hash, &r, sizeof(r));
    if (r != CMD_LINE) {
        p->errors++;
        return;
    }
    p->lines++;
    p->hash = mix(p->hash, line, strlen(line));
    switch (cmd_verb_parse(line, &arg)) {
    case VERB_MAIL:
        if (cmd_parse_mail(arg, &m) == ARG_OK) {
            p->mail_ok++;
            if (strlen(m.addr) >= CMD_PATH_MAX || strlen(m.envid) > CMD_ENVID_MAX)
                abort();
        }
        break;
    case VERB_RCPT:
        if (cmd_parse_rcpt(arg, &rc) == ARG_OK) {
            p->rcpt_ok++;
            if (strlen(rc.addr) >= CMD_PATH_MAX || strlen(rc.orcpt) > CMD_ORCPT_MAX)
                abort();
        }
        break;
    default:
        (void)cmd_helo_ok(arg);
        break;
    }
}

static void run(const char *d, size_t n, unsigned step, struct pass *p)
{
    struct cmd_reader rd;
    struct data_parser dp;
    struct buf out;
    size_t off, used;

    memset(p, 0, sizeof(*p));
    cmd_reader_init(&rd);
    for (off = 0; off < n;) {
        size_t len = step ? (n - off < step ? n - off : step) : n - off, pos = 0;

        while (pos < len) {
            enum cmd_read_result r = cmd_read(&rd, d + off + pos, len - pos, &used);

            pos += used;
            if (r != CMD_MORE)
                on_line(p, r, rd.line);
        }
        off += len;
    }
    buf_init(&out, 4096);
    data_parser_init(&dp, &out, 80);
    for (off = 0; off < n && !p->done;) {
        size_t len = step ? (n - off < step ? n - off : step) : n - off;

        p->done = data_feed(&dp, d + off, len, &used);
        if (used > len || (!p->done && used != len))
            abort();
        off += used;
    }
    p->used = off;
    p->flags = dp.flags;
    /* A flagged message is refused: how much of it was kept before the
     * flag was seen depends on the chunking and does not matter. */
    p->outlen = dp.flags ? 0 : out.len;
    p->outhash = dp.flags ? 0 : mix(0, out.data ? out.data : "", out.len);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pass whole, parts;
    unsigned step;

    if (size < 1)
        return 0;
    step = 1 + data[0] % 17;
    run((const char *)data + 1, size - 1, 0, &whole);
    run((const char *)data + 1, size - 1, step, &parts);
    if (memcmp(&whole, &parts, sizeof(whole)) != 0)
        abort();
    return 0;
}
