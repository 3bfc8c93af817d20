/*
 * main - bin/acctd, the accounting daemon (server.c), and its look-up
 * mode for operators and tests:
 *
 *   acctd -c FILE [-v]                  run (started by master)
 *   acctd --lookup DIR --rcpt ADDR      print the stored CSV lines of a
 *   acctd --lookup DIR --queue-id ID    recipient / message / job from the
 *   acctd --lookup DIR --job ID         LMDB in DIR (exit 1 when none)
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "acctd.h"
#include "acctdb.h"
#include "log.h"
#include "parse.h"

static void print_line(const char *line, size_t len, void *arg)
{
    (void)arg;
    fwrite(line, 1, len, stdout);
    fputc('\n', stdout);
}

static int lookup(const char *dir, enum acctdb_index idx, const char *key)
{
    struct acctdb *db;
    char err[512];
    int n;

    if (acctdb_open(&db, dir, 0, 1, err, sizeof(err)) < 0) {
        fprintf(stderr, "acctd: %s\n", err);
        return 1;
    }
    n = acctdb_lookup(db, idx, key, print_line, NULL, err, sizeof(err));
    acctdb_close(db);
    if (n < 0) {
        fprintf(stderr, "acctd: %s\n", err);
        return 1;
    }
    if (fflush(stdout) != 0)
        return 1;
    return n > 0 ? 0 : 1;
}

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
    fprintf(stderr, "usage: acctd -c FILE [-v]\n"
                    "       acctd --lookup DIR (--rcpt ADDR | --queue-id ID | --job ID)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "verbose", no_argument, NULL, 'v' },
        { "lookup", required_argument, NULL, 'L' },
        { "rcpt", required_argument, NULL, 'R' },
        { "queue-id", required_argument, NULL, 'Q' },
        { "job", required_argument, NULL, 'J' },
        { NULL, 0, NULL, 0 },
    };
    const char *conf = getenv("COURSER_CONF"), *dir = NULL, *key = NULL;
    enum acctdb_index idx = ACCTDB_BY_RCPT;
    struct config *cfg;
    char err[1024];
    int c, nkeys = 0;

    log_init("acctd");
    while ((c = getopt_long(argc, argv, "c:v", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': conf = optarg; break;
        case 'v': log_set_verbose(1); break;
        case 'L': dir = optarg; break;
        case 'R': idx = ACCTDB_BY_RCPT; key = optarg; nkeys++; break;
        case 'Q': idx = ACCTDB_BY_QUEUE_ID; key = optarg; nkeys++; break;
        case 'J': idx = ACCTDB_BY_JOB; key = optarg; nkeys++; break;
        default: usage();
        }
    }
    if (optind != argc)
        usage();
    if (dir != NULL || nkeys > 0) {
        if (dir == NULL || nkeys != 1)
            usage();
        return lookup(dir, idx, key);
    }
    if (conf == NULL || conf[0] == '\0')
        conf = "/etc/courser/courser.conf";
    if (config_load(conf, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "acctd: %s\n", err);
        return 1;
    }
    if (cfg->log_file[0] != '\0' && log_open_file(cfg->log_file) < 0)
        msg_fatal("cannot open log file %s: %s", cfg->log_file, strerror(errno));
    return acctd_run(cfg->path, cfg, inherited_fd());
}
