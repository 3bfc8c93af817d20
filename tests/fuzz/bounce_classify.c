/*
 * libFuzzer target: bounced's whole reading of an inbound notice (MIME
 * parser, RFC 3464 DSN fields, ARF/JMRP, SES JSON, prose heuristics,
 * pattern matching, JSON output) on arbitrary bytes.  Bounces come from
 * anyone on the Internet; none may crash bounced or make it loop.
 *
 * The bounced sources are compiled into this file (the fuzz Makefile rule
 * links daemon objects only for targets named after the daemon).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bounce_patterns.h"
#include "../../bounced/arf.c"
#include "../../bounced/classify.c"
#include "../../bounced/dsn.c"
#include "../../bounced/heuristics.c"
#include "../../bounced/json.c"
#include "../../bounced/mime.c"
#include "../../bounced/output.c"
#include "../../bounced/report.c"
#include "../../bounced/ses.c"
#include "../../bounced/verp.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct bounce_patterns *db;
    static FILE *devnull;
    struct report rep;
    char err[256];

    if (!db) {
        db = bounce_patterns_new();
        if (!db || bounce_patterns_load_builtin(db, err, sizeof(err)) < 0)
            abort();
        devnull = fopen("/dev/null", "w");
        if (!devnull)
            abort();
    }
    report_init(&rep);
    (void)classify_message(db, (const char *)data, size, &rep);
    (void)output_report(devnull, "fuzz", &rep);
    report_free(&rep);
    return 0;
}
