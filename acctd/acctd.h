/*
 * acctd - state of the accounting daemon: connections from record
 * producers, the open accounting files, the LMDB writer.
 * server.c owns it; main.c parses the command line.
 */
#ifndef COURSER_ACCTD_H
#define COURSER_ACCTD_H

#include <limits.h>
#include <uv.h>
#include "acctdb.h"
#include "acctfile.h"
#include "config.h"

/* Run the daemon until SIGTERM.  listen_fd < 0: create run_dir/acctd.sock. */
int acctd_run(const char *conf_path, struct config *cfg, int listen_fd);
/* Where the LMDB of this configuration lives ("" when no acct-file). */
void acctd_db_dir(const struct config *cfg, char *out, size_t outlen);

#endif
