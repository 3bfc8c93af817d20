/*
 * acctdb - the accounting records in LMDB, for look-ups by queue id,
 * recipient and job id.  acctd writes; `acctd --lookup` and bounced
 * (the original message of an async bounce, issue 6) read.
 *
 * Environment: a directory (default "<first acct-file path>.lmdb"), map
 * size 1 GiB to start (doubled when full), four named databases:
 *   records      u64 big-endian sequence -> the CSV line (every field, in
 *                acct_field order, no CRLF)
 *   by-queue-id  queue id              -> u64 sequence   (MDB_DUPSORT)
 *   by-rcpt      recipient, lower case -> u64 sequence   (MDB_DUPSORT)
 *   by-job       job id                -> u64 sequence   (MDB_DUPSORT)
 * Big-endian keys sort numerically, so duplicates come out in the order
 * the records were written.
 */
#ifndef COURSER_ACCTDB_H
#define COURSER_ACCTDB_H

#include <stddef.h>
#include <stdint.h>
#include "acct.h"

#define ACCTDB_MAPSIZE_DEFAULT (1ull << 30)

struct acctdb;

struct acctdb_item {
    char *line;                 /* CSV line, no CRLF */
    char *queue_id;             /* NULL or "" = not indexed */
    char *rcpt;
    char *job_id;
};

enum acctdb_index { ACCTDB_BY_QUEUE_ID, ACCTDB_BY_RCPT, ACCTDB_BY_JOB };

/* Open (and with !readonly create) the environment in dir. */
int acctdb_open(struct acctdb **out, const char *dir, uint64_t mapsize, int readonly,
                char *err, size_t errlen);
void acctdb_close(struct acctdb *db);
/* Store n items in one write transaction.  Blocking: run it in the
 * thread pool.  Returns 0 or -1 with err. */
int acctdb_put(struct acctdb *db, const struct acctdb_item *items, size_t n,
               char *err, size_t errlen);
/* Call fn for every line indexed under key.  Returns the number of lines,
 * or -1 with err. */
int acctdb_lookup(struct acctdb *db, enum acctdb_index idx, const char *key,
                  void (*fn)(const char *line, size_t len, void *arg), void *arg,
                  char *err, size_t errlen);

/* The environment's folder for the first <acct-file>'s path:
 * "PATH.lmdb".  -1 if it does not fit. */
int acctdb_dir_for(const char *acct_path, char *out, size_t outlen);
/* Split a stored line (every field in acct_field order, RFC 4180
 * quoting) into r (fields set with acct_set; empty cells stay NULL).
 * 0, or -1 for a malformed line, more than AF_COUNT fields, or no memory
 * (r is then freed). */
int acctdb_parse_line(const char *line, size_t len, struct acct_record *r);

#endif
