/*
 * main - bin/mtactl, the operator's command line (docs/mtactl.md):
 *
 *   mtactl [-c FILE] status | show queues | reload | check-config [FILE]
 *   mtactl [-c FILE] suppression list|check|add|remove|import|export ...
 *
 * The configuration is read only to find run-dir/control.sock (FILE:
 * -c, else $COURSER_CONF, else /etc/courser/courser.conf).  The reply's
 * text goes to stdout; any failure is one line "mtactl: ..." on stderr
 * and exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "client.h"
#include "config.h"
#include "log.h"

#define DEFAULT_CONF "/etc/courser/courser.conf"

static _Noreturn void usage(void)
{
    fprintf(stderr,
            "usage: mtactl [-c FILE] COMMAND\n"
            "commands:\n"
            "  status              daemons, their state and restarts; queue totals\n"
            "  show queues         the delivery queues (domain/vmta)\n"
            "  reload              re-read the configuration (kept if invalid)\n"
            "  check-config [FILE] validate a configuration file locally\n"
            "  suppression list [DOMAIN]            the suppression list (global, or one sender domain's)\n"
            "  suppression check ADDRESS [DOMAIN]   is ADDRESS suppressed (for mail from DOMAIN)?\n"
            "  suppression add ADDRESS [REASON] [--domain DOMAIN]\n"
            "  suppression remove ADDRESS [--domain DOMAIN]\n"
            "  suppression import FILE              CSV lines address[,reason[,domain]]\n"
            "  suppression export                   the whole list as CSV\n");
    exit(2);
}

static int check_config(const char *path)
{
    struct config *cfg;
    char err[1024];

    if (config_load(path, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "mtactl: %s\n", err);
        return 1;
    }
    printf("config OK: %s\n", cfg->path);
    config_free(cfg);
    return 0;
}

/* print_reply - the text as master sent it, with a final newline. */
static void print_reply(FILE *to, const char *prefix, const char *text)
{
    size_t n = strlen(text);

    fprintf(to, "%s%s", prefix, text);
    if (n == 0 || text[n - 1] != '\n')
        fputc('\n', to);
}

int main(int argc, char **argv)
{
    const char *conf = getenv("COURSER_CONF");
    struct config *cfg;
    char err[1024], sock[PATH_MAX + 16], abs_path[PATH_MAX];
    uint32_t status;
    char *text = NULL;
    int c;

    log_init("mtactl");
    while ((c = getopt(argc, argv, "+c:h")) != -1) {
        if (c == 'c')
            conf = optarg;
        else
            usage();
    }
    if (conf == NULL || conf[0] == '\0')
        conf = DEFAULT_CONF;
    argc -= optind;
    argv += optind;
    if (argc == 0)
        usage();
    if (strcmp(argv[0], "check-config") == 0) {
        if (argc > 2)
            usage();
        return check_config(argc == 2 ? argv[1] : conf);
    }
    if (config_load(conf, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "mtactl: %s\n", err);
        return 1;
    }
    if (snprintf(sock, sizeof(sock), "%s/control.sock", cfg->run_dir) >= (int)sizeof(sock)) {
        fprintf(stderr, "mtactl: run-dir too long\n");
        return 1;
    }
    config_free(cfg);
    /* bounced reads an import file itself: give it an absolute path */
    if (argc == 3 && (strcmp(argv[0], "suppression") == 0 || strcmp(argv[0], "suppress") == 0)
        && strcmp(argv[1], "import") == 0) {
        if (realpath(argv[2], abs_path) == NULL) {
            fprintf(stderr, "mtactl: %s: cannot resolve the path\n", argv[2]);
            return 1;
        }
        argv[2] = abs_path;
    }
    if (client_request(sock, argc, argv, CLIENT_TIMEOUT_MS, &status, &text, err,
                       sizeof(err)) < 0) {
        fprintf(stderr, "mtactl: %s\n", err);
        return 1;
    }
    if (status != 0) {
        print_reply(stderr, "mtactl: ", text);
        free(text);
        return 1;
    }
    print_reply(stdout, "", text);
    free(text);
    return fflush(stdout) == 0 ? 0 : 1;
}
