/*
 * classify - from raw message bytes to a report: type (bounce, feedback,
 * autoreply, delivered, unknown), recipients, and for bounces the status,
 * category and hard/soft verdict of each recipient.  The same entry points
 * serve `bounced --classify` and the daemon.
 */
#ifndef COURSER_BOUNCED_CLASSIFY_H
#define COURSER_BOUNCED_CLASSIFY_H

#include <stddef.h>
#include "bounce_patterns.h"
#include "report.h"

/* Classify one message; rep must be report_init()ed; -1 only when out of
 * memory (rep then holds what was found). */
int classify_message(struct bounce_patterns *db, const char *data, size_t len,
                     struct report *rep);
/* Classify one SMTP reply / Diagnostic-Code text into r (status,
 * category, hard; diag = text). */
void classify_reply(struct bounce_patterns *db, const char *text, struct report_rcpt *r);
/* Category, hard and missing status of r from its diag (and from ctx, the
 * notice's explanation, when the diag and status say nothing). */
void classify_rcpt(struct bounce_patterns *db, struct report_rcpt *r, const char *ctx);

#endif
