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
#include <unistd.h>

#include "dkimsign.h"
#include "log.h"
#include "parse.h"

/* inherited_fds - what master passed in COURSER_LISTEN_FDS: "3" (the
 * listening socket) or "3,4" (and the log file, opened by master because
 * dkim-user may not open it).  *log_fd is -1 when not passed; returns the
 * socket, or -1 when started by hand. */
static int inherited_fds(int *log_fd)
{
    const char *s = getenv("COURSER_LISTEN_FDS");
    char first[16];
    const char *comma;
    uint64_t fd, lfd;
    size_t n;

    *log_fd = -1;
    if (s == NULL || s[0] == '\0')
        return -1;
    comma = strchr(s, ',');
    n = comma ? (size_t)(comma - s) : strlen(s);
    if (n == 0 || n >= sizeof(first))
        msg_fatal("COURSER_LISTEN_FDS: expected 'FD[,LOGFD]', got '%.32s'", s);
    memcpy(first, s, n);
    first[n] = '\0';
    if (parse_u64(first, 3, 65535, &fd) < 0
        || (comma != NULL && parse_u64(comma + 1, 3, 65535, &lfd) < 0))
        msg_fatal("COURSER_LISTEN_FDS: expected 'FD[,LOGFD]', got '%.32s'", s);
    if (comma != NULL)
        *log_fd = (int)lfd;
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
    int c, i, listen_fd, log_fd;

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
    listen_fd = inherited_fds(&log_fd);
    if (log_fd >= 0) {
        /* Log to stderr, which is now the file master opened for us. */
        if (dup2(log_fd, 2) < 0 || close(log_fd) < 0)
            msg_fatal("cannot use the log file descriptor: %s", strerror(errno));
    } else if (cfg->log_file[0] != '\0' && log_open_file(cfg->log_file) < 0) {
        msg_fatal("cannot open log file %s: %s", cfg->log_file, strerror(errno));
    }
    return dkimsign_run(cfg->path, cfg, listen_fd, log_fd >= 0);
}
