/*
 * libFuzzer target: the configuration parser on arbitrary files, in both
 * modes: config_load (stop at the first error) and config_check_all (go
 * on after each error: skipped blocks, refs checked after a partial
 * parse, routing checks on what was read).  The file is the operator's,
 * not an attacker's, but a typo must never crash `mtactl check-config` or
 * a reload.  Checks: both modes agree on whether the file is valid, and
 * config_load's error is the first one config_check_all reports.
 *
 *   make fuzz && build-fuzz/fuzz/config_fuzz -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"

static char path[64];

struct first {
    char line[1024];
    int n;
};

static void keep_first(void *arg, const char *line)
{
    struct first *f = arg;

    if (f->n++ == 0)
        snprintf(f->line, sizeof(f->line), "%s", line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config *cfg = NULL;
    struct first f;
    char err[1024];
    FILE *fp;
    int rc, n;

    if (path[0] == '\0')
        snprintf(path, sizeof(path), "/tmp/courser-config-fuzz-%d.conf", (int)getpid());
    fp = fopen(path, "w");
    if (fp == NULL || fwrite(data, 1, size, fp) != size || fclose(fp) != 0)
        abort();
    rc = config_load(path, &cfg, err, sizeof(err));
    if (rc == 0)
        config_free(cfg);
    memset(&f, 0, sizeof(f));
    n = config_check_all(path, keep_first, &f);
    if ((rc == 0) != (n == 0) && !(rc < 0 && strstr(err, "include") != NULL))
        abort();
    if (rc < 0 && n > 0 && strcmp(f.line, err) != 0 && strstr(err, "include") == NULL)
        abort();
    return 0;
}
