/*
 * libFuzzer target: smtpd's routing decision (smtpd/route_vmta.c) and the
 * header walker and pattern-list matching under it (lib/pattern_list.c)
 * on an arbitrary message from a client: the header section is untrusted
 * bytes (no CRLF discipline, NULs, endless folding, no blank line).
 * Besides not crashing it checks that removing the instruction headers
 * only ever shortens the message and keeps it NUL-terminated, and that
 * the bytes after the header section are left as they were.
 *
 *   make fuzz && build-fuzz/fuzz/smtpd_route_fuzz -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "pattern_list.h"
#include "../../smtpd/route_vmta.h"

static struct config *cfg;
static struct cfg_source_settings set;

static const char conf[] =
    "<virtual-mta a>\n</virtual-mta>\n<virtual-mta b>\n</virtual-mta>\n"
    "<virtual-mta-pool p>\n virtual-mta a\n virtual-mta b weight=2\n</virtual-mta-pool>\n"
    "<pattern-list l>\n header X-Traffic-Type /^mark/i virtual-mta=p\n"
    " header Subject /(a|b)+c/ virtual-mta=b\n mail-from /@x\\.test$/ virtual-mta=a\n"
    " rcpt-to /^r/ virtual-mta={default}\n</pattern-list>\n"
    "<source 0/0>\n process-x-virtual-mta yes\n process-x-job yes\n process-x-envid yes\n"
    " pattern-list l\n default-virtual-mta p\n</source>\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[] = "/tmp/courser-route-fuzz-XXXXXX", err[512];
    int fd = mkstemp(path);

    if (fd < 0 || write(fd, conf, sizeof(conf) - 1) != (ssize_t)(sizeof(conf) - 1)) {
        perror("route fuzz: config");
        abort();
    }
    close(fd);
    if (config_load(path, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "route fuzz: %s\n", err);
        abort();
    }
    unlink(path);
    config_source_settings(cfg, NULL, NULL, &set);
    set.process_x_virtual_mta = set.process_x_job = set.process_x_envid = 1;
    snprintf(set.pattern_list, sizeof(set.pattern_list), "l");
    return 0;
}

/* header_end - where the header section ends, as the walker sees it. */
static size_t header_end(const char *d, size_t len)
{
    struct pl_header h;
    size_t off = 0;

    while (pattern_list_next_header(d, len, &off, &h))
        ;
    return off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct route_input in;
    struct route_decision d;
    struct buf msg;
    const char *rc[2] = { "r@y.test", "s@z.test" };
    size_t end0, tail, end1;

    buf_init(&msg, 1 << 20);
    if (buf_append(&msg, data, size) < 0) {
        buf_free(&msg);
        return 0;
    }
    end0 = header_end(msg.data ? msg.data : "", msg.len);
    tail = msg.len - end0;
    memset(&in, 0, sizeof(in));
    in.cfg = cfg;
    in.set = &set;
    in.source_name = "0/0";
    in.mail_from = "m@w.test";
    in.rcpts = rc;
    in.nrcpts = size & 1 ? 2 : 0;
    in.msg = &msg;
    in.local_ip = "127.0.0.1";
    if (route_decide(&in, &d) == 0) {
        if (msg.len > size || (msg.data != NULL && msg.data[msg.len] != '\0'))
            abort();
        end1 = header_end(msg.data ? msg.data : "", msg.len);
        /* the body is untouched: same length, same bytes */
        if (msg.len - end1 != tail || memcmp(msg.data + end1, data + end0, tail) != 0)
            abort();
        if (strlen(d.vmta) >= sizeof(d.vmta) || strlen(d.job_id) >= sizeof(d.job_id))
            abort();
    } else if (strncmp(d.reject, "550 5.7.1 ", 10) != 0) {
        abort();
    }
    buf_free(&msg);
    return 0;
}
