/*
 * main - bin/dkimsign, the DKIM signing daemon (server.c), and its
 * operator modes (cli.c):
 *
 *   dkimsign -c FILE [-v]            run (started by master as dkim-user)
 *   dkimsign --sign-file -c FILE ... MESSAGEFILE
 *   dkimsign --keygen --domain D --selector S [--type T] [--bits N] --out FILE
 *   dkimsign --txt KEYFILE
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkimsign.h"
#include "log.h"
#include "parse.h"

/* inherited_fd - the socket master passed in COURSER_LISTEN_FDS, or -1. */
static int inherited_fd(void)
{
    const char *s = getenv("COURSER_LISTEN_FDS");
    uint64_t fd;

    if (s == NULL || s[0] == '\0')
        return -1;
    if (parse_u64(s, 3, 65535, &fd) < 0)
        msg_fatal("COURSER_LISTEN_FDS: expected one fd, got '%.32s'", s);
    return (int)fd;
}

static void usage(void)
{
    fprintf(stderr, "usage: dkimsign -c FILE [-v]\n"
                    "       dkimsign --sign-file -c FILE [--domain D] [--selector S] MESSAGEFILE\n"
                    "       dkimsign --keygen --domain D --selector S [--type rsa|ed25519]"
                    " [--bits N] --out FILE\n"
                    "       dkimsign --txt KEYFILE\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "verbose", no_argument, NULL, 'v' },
        { NULL, 0, NULL, 0 },
    };
    const char *conf = getenv("COURSER_CONF");
    struct config *cfg;
    char err[1024];
    int c, i;

    log_init("dkimsign");
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sign-file") == 0)
            return cli_sign_file(argc, argv);
        if (strcmp(argv[i], "--keygen") == 0)
            return cli_keygen(argc, argv);
        if (strcmp(argv[i], "--txt") == 0)
            return cli_txt(argc, argv);
    }
    while ((c = getopt_long(argc, argv, "c:v", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': conf = optarg; break;
        case 'v': log_set_verbose(1); break;
        default: usage();
        }
    }
    if (optind != argc)
        usage();
    if (conf == NULL || conf[0] == '\0')
        conf = "/etc/courser/courser.conf";
    if (config_load(conf, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "dkimsign: %s\n", err);
        return 1;
    }
    if (cfg->log_file[0] != '\0' && log_open_file(cfg->log_file) < 0)
        msg_fatal("cannot open log file %s: %s", cfg->log_file, strerror(errno));
    return dkimsign_run(cfg->path, cfg, inherited_fd());
}
