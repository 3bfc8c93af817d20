/*
 * main - bin/bounced.  One-shot modes for operators and tests:
 *   bounced [-c CONFIG | --patterns FILE] --classify FILE...   one JSON line per recipient
 *                                                  ("-" reads standard input)
 *   bounced [--patterns FILE] --classify-reply TEXT
 * With -c the patterns, VERP key and hard-bounce-categories of CONFIG
 * apply, as in the daemon.  And the daemon, started by master:
 *   bounced -c FILE [-v]                           (server.c)
 * Exit status: 0 done, 1 a file could not be read or classified, 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bounce_patterns.h"
#include "bounced.h"
#include "classify.h"
#include "log.h"
#include "output.h"

#define MAIN_MAX_MESSAGE (64u << 20)

static void main_usage(void)
{
    fputs("usage: bounced -c CONFIG [-v]                        (the daemon)\n"
          "       bounced [-c CONFIG | --patterns FILE] --classify FILE...\n"
          "       bounced [--patterns FILE] --classify-reply 'SMTP REPLY TEXT'\n", stderr);
}

/* main_read - whole file, bounded; NULL with a message on failure */
static char *main_read(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *data;
    size_t n;

    if (!f) {
        fprintf(stderr, "bounced: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    data = malloc(MAIN_MAX_MESSAGE + 1);
    if (!data) {
        if (f != stdin)
            fclose(f);
        fprintf(stderr, "bounced: out of memory\n");
        return NULL;
    }
    n = fread(data, 1, MAIN_MAX_MESSAGE + 1, f);
    if (ferror(f) || n > MAIN_MAX_MESSAGE) {
        fprintf(stderr, "bounced: %s: %s\n", path, ferror(f) ? "read error" : "file too large");
        if (f != stdin)
            fclose(f);
        free(data);
        return NULL;
    }
    if (f != stdin)
        fclose(f);
    data[n] = '\0';
    *len = n;
    return data;
}

static int main_classify_files(struct bounce_patterns *db, char **files, int n)
{
    int i, rc = 0;

    for (i = 0; i < n; i++) {
        struct report rep;
        size_t len;
        char *data = main_read(files[i], &len);
        if (!data) {
            rc = 1;
            continue;
        }
        report_init(&rep);
        if (classify_message(db, data, len, &rep) < 0) {
            fprintf(stderr, "bounced: %s: out of memory\n", files[i]);
            rc = 1;
        }
        if (output_report(stdout, files[i], &rep) < 0)
            rc = 1;
        report_free(&rep);
        free(data);
    }
    if (fflush(stdout) != 0)
        rc = 1;
    return rc;
}

int main(int argc, char **argv)
{
    const char *patterns = NULL, *reply = NULL, *conf = NULL;
    int i, classify_at = 0, rc;
    struct bounce_patterns *db;
    char err[512];

    log_init("bounced");
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--patterns") == 0 && i + 1 < argc) {
            patterns = argv[++i];
        } else if (strcmp(argv[i], "--classify-reply") == 0 && i + 1 < argc) {
            reply = argv[++i];
        } else if (strcmp(argv[i], "--classify") == 0) {
            classify_at = i + 1;
            break;
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            conf = argv[++i];
        } else if (strcmp(argv[i], "-v") == 0) {
            log_set_verbose(1);
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            main_usage();
            return 0;
        } else {
            main_usage();
            return 2;
        }
    }
    if (!reply && !classify_at) {
        if (conf == NULL) {
            main_usage();
            return 2;
        }
        return server_run(conf);
    }
    if (classify_at && classify_at >= argc) {
        main_usage();
        return 2;
    }
    if (conf && !patterns) {
        /* the daemon's view: bounce-patterns and hard-bounce-categories */
        struct bounced_ctx ctx;
        struct config *cfg;

        memset(&ctx, 0, sizeof(ctx));
        if (config_load(conf, &cfg, err, sizeof(err)) < 0
            || server_ctx_load(&ctx, cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "bounced: %s\n", err);
            return 1;
        }
        config_free(cfg);
        db = ctx.patterns;
    } else {
        db = bounce_patterns_new();
        if (!db) {
            fputs("bounced: out of memory\n", stderr);
            return 1;
        }
        if ((patterns && bounce_patterns_load_file(db, patterns, err, sizeof(err)) < 0)
            || bounce_patterns_load_builtin(db, err, sizeof(err)) < 0) {
            fprintf(stderr, "bounced: %s\n", err);
            bounce_patterns_free(db);
            return 1;
        }
    }
    if (reply) {
        struct report_rcpt r;
        memset(&r, 0, sizeof(r));
        classify_reply(db, reply, &r);
        rc = output_reply(stdout, reply, &r) < 0 || fflush(stdout) != 0;
        free(r.diag);
    } else {
        rc = main_classify_files(db, argv + classify_at, argc - classify_at);
    }
    bounce_patterns_free(db);
    return rc;
}
