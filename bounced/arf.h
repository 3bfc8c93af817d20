/*
 * arf - feedback reports: ARF (RFC 5965 multipart/report with a
 * message/feedback-report part) and Microsoft JMRP (an attached message
 * carrying X-HmXmrOriginalRecipient).
 */
#ifndef COURSER_BOUNCED_ARF_H
#define COURSER_BOUNCED_ARF_H

#include "mime.h"
#include "report.h"

/* If root is a feedback report: set rep->type = REPORT_FEEDBACK, the
 * feedback type (JMRP: "abuse") and one entry per complaining recipient
 * (Original-Rcpt-To, else X-HmXmrOriginalRecipient, else the attached
 * message's To), and return 1; else 0. */
int arf_parse(struct mime_part *root, struct report *rep);

#endif
