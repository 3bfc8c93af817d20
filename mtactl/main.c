/*
 * main - bin/mtactl, the operator's command line (docs/mtactl.md):
 *
 *   mtactl [-c FILE] status | show queues | show message ID | reload |
 *                    check-config [FILE]
 *   mtactl [-c FILE] dkim keygen ... | dkim check DOMAIN SELECTOR (dkim.c)
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
#include "dkim.h"
#include "log.h"

#define DEFAULT_CONF "/etc/courser/courser.conf"

static _Noreturn void usage(void)
{
    fprintf(stderr,
            "usage: mtactl [-c FILE] COMMAND\n"
            "commands:\n"
            "  status              daemons, their state and restarts; queue totals\n"
            "  show message ID     a queued message: its routing and recipients\n"
            "  show queues [--mode=M|--paused]  the delivery queues (domain/vmta), mode, since, reason\n"
            "  show settings D[/V] [--vmta V]  effective limits of a queue\n"
            "  pause|resume queue D[/V]        stop / restart delivery of a queue\n"
            "  schedule D[/V]      retry a queue now\n"
            "  delete --queue D[/V] | --rcpt ADDR | --job J  bounce queued recipients (b records)\n"
            "  set queue --mode=normal|backoff D[/V]\n"
            "  show vmtas          warm-up day, cap and remaining per virtual MTA\n"
            "  hold|release vmta V                 pause / resume every queue of a vmta\n"
            "  disable|enable source IP D[/V] [--reenable-after=T]\n"
            "  reload              re-read the configuration (kept if invalid)\n"
            "  check-config [FILE] validate a configuration file locally\n"
            "  dkim keygen --domain D --selector S [--type rsa|ed25519] [--bits N] [--out FILE]\n"
            "                      make a DKIM key; print its TXT record\n"
            "  dkim check D S [--key FILE]\n"
            "                      check the published TXT record against the key\n"
            "  suppression list [DOMAIN]            the suppression list (global, or one sender domain's)\n"
            "  suppression check ADDRESS [DOMAIN]   is ADDRESS suppressed (for mail from DOMAIN)?\n"
            "  suppression add ADDRESS [REASON] [--domain DOMAIN]\n"
            "  suppression remove ADDRESS [--domain DOMAIN]\n"
            "  suppression import FILE              CSV lines address[,reason[,domain]]\n"
            "  suppression export                   the whole list as CSV\n");
    exit(2);
}

static void print_error(void *arg, const char *line)
{
    fprintf(stderr, "mtactl: %s\n", line);
}

/* check_config - every error of the file, one line each (an operator
 * bringing a PowerMTA config sees all it must change at once); then the
 * same load a reload does, which must agree. */
static int check_config(const char *path)
{
    struct config *cfg;
    char err[1024];
    int n = config_check_all(path, print_error, NULL);

    if (n > 0) {
        fprintf(stderr, "mtactl: %d error%s in %s\n", n, n == 1 ? "" : "s", path);
        return 1;
    }
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
    char err[1024], sock[PATH_MAX + 16], run_dir[PATH_MAX], abs_path[PATH_MAX];
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
    if (strcmp(argv[0], "dkim") == 0)
        return dkim_command(conf, argc, argv);
    if (config_load(conf, &cfg, err, sizeof(err)) == 0) {
        snprintf(run_dir, sizeof(run_dir), "%s", cfg->run_dir);
        config_free(cfg);
    } else if (rundir_fallback(conf, run_dir, sizeof(run_dir)) == 0) {
        /* The daemons still run the last good configuration: reach them
         * anyway (master refuses a reload of this file and says why). */
        fprintf(stderr, "mtactl: warning: %s\n", err);
    } else {
        fprintf(stderr, "mtactl: %s\n", err);
        return 1;
    }
    if (snprintf(sock, sizeof(sock), "%s/control.sock", run_dir) >= (int)sizeof(sock)) {
        fprintf(stderr, "mtactl: run-dir too long\n");
        return 1;
    }
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
