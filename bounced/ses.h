/*
 * ses - Amazon SES notifications (SNS e-mail with a JSON body:
 * notificationType Bounce, Complaint or Delivery).
 */
#ifndef COURSER_BOUNCED_SES_H
#define COURSER_BOUNCED_SES_H

#include "mime.h"
#include "report.h"

/* If root's text is an SES notification, fill rep and return 1. */
int ses_parse(struct mime_part *root, struct report *rep);

#endif
