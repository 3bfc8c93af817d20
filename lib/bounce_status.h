/*
 * bounce_status - the minimal classification of one SMTP reply that the
 * delivery path needs without the full pattern database: the enhanced
 * status (taken from the text, else derived from the reply code), a
 * PowerMTA bounce category from the status (the stock DSN-code rules,
 * PowerMTA notes §4.2), and whether the failure is hard.
 * bounced's pattern database (issue 6) refines the category from the text.
 */
#ifndef COURSER_BOUNCE_STATUS_H
#define COURSER_BOUNCE_STATUS_H

#include <stddef.h>

/* Find an RFC 3463 status "X.Y.Z" at the start of text (after an optional
 * reply code); else derive "2.0.0"/"4.0.0"/"5.0.0" from code.  out >= 16. */
void bounce_status_extract(int code, const char *text, char *out, size_t outlen);
/* Category name from an enhanced status; "other" when no rule matches. */
const char *bounce_status_category(const char *status);
/* Courser's default hard categories: bad-mailbox, bad-domain, inactive-mailbox. */
int bounce_category_is_hard(const char *category);
/* RFC 3463 text of "X.Y.Z" ("success" for 2.0.0), as accounting writes
 * it: "5.1.1 (bad destination mailbox address)". */
const char *bounce_status_text(const char *status);

#endif
