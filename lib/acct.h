/*
 * acct - accounting records: PowerMTA's field names, and a record as an
 * array of optional string values indexed by field.  Producers (qmgr,
 * bounced, smtpd) fill the fields they know; acctd chooses which to write.
 */
#ifndef COURSER_ACCT_H
#define COURSER_ACCT_H

#include <stddef.h>

enum acct_field {
    AF_TYPE = 0,            /* d b t tq r f rb rs */
    AF_TIME_LOGGED,         /* ISO 8601 with zone, e.g. 2026-11-28 13:16:03+0000 */
    AF_TIME_QUEUED,
    AF_ORIG,
    AF_RCPT,
    AF_ORCPT,
    AF_DSN_ACTION,          /* delivered, failed, delayed, relayed, expanded */
    AF_DSN_STATUS,          /* "2.0.0 (success)" */
    AF_DSN_DIAG,            /* "smtp;250 2.0.0 Ok" */
    AF_DSN_MTA,             /* "mx.example.com (192.0.2.1)" */
    AF_BOUNCE_CAT,
    AF_SRC_TYPE,            /* smtp */
    AF_SRC_MTA,             /* "helo (ip)" */
    AF_DLV_TYPE,            /* smtp */
    AF_DLV_SOURCE_IP,
    AF_DLV_DESTINATION_IP,
    AF_DLV_ESMTP_AVAILABLE,
    AF_DLV_SIZE,
    AF_VMTA,
    AF_VMTA_POOL,
    AF_JOB_ID,
    AF_ENV_ID,
    AF_QUEUE,               /* domain/vmta */
    AF_QUEUE_ID,            /* Courser's queue id (not in PowerMTA) */
    AF_TOTAL_SECONDS_QUEUED,
    /* rb and f records (bounced, issue 6) */
    AF_FEEDBACK_TYPE,       /* f: abuse, fraud, not-spam, ... */
    AF_FORMAT,              /* rb: dsn or text; f: arf or jmrp */
    AF_REP_SOURCE_IP,       /* rb/f: the client that delivered the report */
    AF_COUNT
};

struct acct_record {
    char *v[AF_COUNT];      /* NULL = empty cell */
};

extern const char *const acct_field_names[AF_COUNT];

/* Field index by PowerMTA name (case-sensitive, as PowerMTA), or -1. */
int acct_field_lookup(const char *name);
/* Set a field to a copy of value (NULL clears).  Returns 0 or -1 (no memory). */
int acct_set(struct acct_record *r, enum acct_field f, const char *value);
void acct_record_free(struct acct_record *r);
/* Format a time (seconds since epoch) the way accounting writes it. */
void acct_format_time(long long t, char *out, size_t outlen);

#endif
