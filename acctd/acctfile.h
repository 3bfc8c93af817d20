/*
 * acctfile - one <acct-file>: which record types and columns it takes, the
 * open file, the lines of the current batch, and rotation.
 *
 * A new or empty file starts with the header line (the PowerMTA names of
 * its columns).  An existing file whose header differs (record-fields
 * changed) is rotated away first, so every file has one column layout.
 * Past max-size the file is renamed to PATH-YYYYMMDD-HHMMSS.csv (PATH
 * without its ".csv") and a new one started.
 */
#ifndef COURSER_ACCTD_ACCTFILE_H
#define COURSER_ACCTD_ACCTFILE_H

#include <limits.h>
#include <stdint.h>
#include <time.h>
#include "acct.h"
#include "buf.h"
#include "config.h"

struct acct_out {
    char path[PATH_MAX];
    unsigned records;           /* ACCT_REC_* mask */
    int fields[AF_COUNT];
    size_t nfields;
    uint64_t max_size;          /* 0 = never rotate */
    int fd;                     /* -1 when not open (retried at flush) */
    uint64_t size;
    struct buf header;          /* header line with CRLF */
    struct buf pending;         /* lines of the current batch */
};

/* ACCT_REC_* bit of a record type ("d", "b", "tq", ...), 0 if unknown. */
unsigned acctfile_type_bit(const char *type);
/* Set up o from its configuration and open the file.  Returns 0, or -1
 * with a reason in err (o is still usable: the open is retried). */
int acctfile_init(struct acct_out *o, const struct cfg_acct_file *cf, char *err, size_t errlen);
void acctfile_free(struct acct_out *o);
/* Queue r's line if its type is one this file takes.  Returns 1 queued,
 * 0 not for this file, -1 no memory. */
int acctfile_add(struct acct_out *o, const struct acct_record *r, unsigned typebit);
/* Write the queued lines with one write(2), rotate when past max-size.
 * Returns 0, or -1 with err (the lines stay queued). */
int acctfile_flush(struct acct_out *o, time_t now, char *err, size_t errlen);
/* Close and open again (SIGHUP, after an external rotation). */
int acctfile_reopen(struct acct_out *o, char *err, size_t errlen);
/* Name a rotated file gets: PATH-YYYYMMDD-HHMMSS.csv (UTC). */
int acctfile_rotated_name(const char *path, time_t t, char *out, size_t outlen);

#endif
