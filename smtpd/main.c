/*
 * main - bin/smtpd: the inbound SMTP daemon (server.c runs it).
 *
 *   smtpd -c /abs/path/courser.conf [-v]
 *
 * Started by master with the listening sockets in COURSER_LISTEN_FDS;
 * run alone (tests) it binds its smtp-listeners itself.  Exit 1 on a bad
 * command line or configuration, 0 after a graceful stop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "smtpd.h"
#include "log.h"

static _Noreturn void usage(void)
{
    fprintf(stderr, "usage: smtpd -c /path/to/courser.conf [-v]\n");
    exit(1);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int opt;

    log_init("smtpd");
    while ((opt = getopt(argc, argv, "c:v")) != -1) {
        if (opt == 'c')
            path = optarg;
        else if (opt == 'v')
            log_set_verbose(1);
        else
            usage();
    }
    if (path == NULL || optind != argc)
        usage();
    return smtpd_run(path);
}
