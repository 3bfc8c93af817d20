/*
 * dsn - RFC 3464 delivery-status fields: per-recipient Final-Recipient,
 * Original-Recipient, Action, Status, Diagnostic-Code, Remote-MTA.
 */
#ifndef COURSER_BOUNCED_DSN_H
#define COURSER_BOUNCED_DSN_H

#include <stddef.h>
#include "report.h"

/* Parse the fields of a message/delivery-status body, or the same fields
 * written into a text part (non-field lines are skipped).  Adds one entry
 * per recipient: type BOUNCE for Action failed/delayed (or a 4/5 status),
 * DELIVERED for delivered/relayed/expanded.  Returns the number added. */
int dsn_parse(const char *text, size_t len, struct report *rep);

#endif
