/*
 * acct - accounting field names and record helpers.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "acct.h"

const char *const acct_field_names[AF_COUNT] = {
    [AF_TYPE] = "type",
    [AF_TIME_LOGGED] = "timeLogged",
    [AF_TIME_QUEUED] = "timeQueued",
    [AF_ORIG] = "orig",
    [AF_RCPT] = "rcpt",
    [AF_ORCPT] = "orcpt",
    [AF_DSN_ACTION] = "dsnAction",
    [AF_DSN_STATUS] = "dsnStatus",
    [AF_DSN_DIAG] = "dsnDiag",
    [AF_DSN_MTA] = "dsnMta",
    [AF_BOUNCE_CAT] = "bounceCat",
    [AF_SRC_TYPE] = "srcType",
    [AF_SRC_MTA] = "srcMta",
    [AF_DLV_TYPE] = "dlvType",
    [AF_DLV_SOURCE_IP] = "dlvSourceIp",
    [AF_DLV_DESTINATION_IP] = "dlvDestinationIp",
    [AF_DLV_ESMTP_AVAILABLE] = "dlvEsmtpAvailable",
    [AF_DLV_SIZE] = "dlvSize",
    [AF_VMTA] = "vmta",
    [AF_VMTA_POOL] = "vmtaPool",
    [AF_JOB_ID] = "jobId",
    [AF_ENV_ID] = "envId",
    [AF_QUEUE] = "queue",
    [AF_QUEUE_ID] = "queueId",
    [AF_TOTAL_SECONDS_QUEUED] = "totalSecondsQueued",
    [AF_FEEDBACK_TYPE] = "feedbackType",
    [AF_FORMAT] = "format",
    [AF_REP_SOURCE_IP] = "repSourceIp",
};

int acct_field_lookup(const char *name)
{
    int i;

    for (i = 0; i < AF_COUNT; i++)
        if (strcmp(acct_field_names[i], name) == 0)
            return i;
    return -1;
}

int acct_set(struct acct_record *r, enum acct_field f, const char *value)
{
    char *copy = NULL;

    if ((int)f < 0 || f >= AF_COUNT)
        return -1;
    if (value != NULL && (copy = strdup(value)) == NULL)
        return -1;
    free(r->v[f]);
    r->v[f] = copy;
    return 0;
}

void acct_record_free(struct acct_record *r)
{
    int i;

    for (i = 0; i < AF_COUNT; i++) {
        free(r->v[i]);
        r->v[i] = NULL;
    }
}

void acct_format_time(long long t, char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (outlen == 0)
        return;
    if (gmtime_r(&tt, &tm) == NULL || strftime(out, outlen, "%Y-%m-%d %H:%M:%S+0000", &tm) == 0)
        out[0] = '\0';
}
