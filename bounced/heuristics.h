/*
 * heuristics - failed recipients and their diagnostics from the
 * human-readable text of bounces that carry no delivery-status part
 * (Postfix, Exim, Sendmail, qmail, Exchange, Gmail, Yahoo, Notes, ...).
 */
#ifndef COURSER_BOUNCED_HEURISTICS_H
#define COURSER_BOUNCED_HEURISTICS_H

#include "mime.h"
#include "report.h"
#include "bounce_patterns.h"

/* The explanation a bounce gives: its text parts outside any attached
 * message, HTML tags removed, cut before the copy of the original
 * message.  Caller frees.  Never NULL except out of memory. */
char *heur_explanation(struct mime_part *root, size_t *len);
/* Does the message look like a delivery failure notice at all? */
int heur_looks_like_bounce(struct mime_part *root, const char *expl);
/* Add failed recipients found in expl (never those in exclude[], a
 * NULL-terminated list of the notice's own From/To addresses), each with
 * the paragraph that names it as diag.  Returns the number added. */
int heur_recipients(const char *expl, size_t len, const char *const *exclude, struct report *rep);
/* The paragraph of expl that names addr (for X-Failed-Recipients). */
void heur_diag_for(const char *expl, size_t len, struct report_rcpt *r);

#endif
