/*
 * verp - the original message behind a bounce: the queue id in a VERP
 * return path (bounces+<queueid>.<hash>@bounce-domain) found in the
 * notice's To/Delivered-To/X-Original-To, else X-Courser-Queue-Id or
 * Message-ID of the attached original (or of the original quoted as text
 * in the body of a non-MIME notice).  The HMAC in <hash> is checked by
 * the daemon, not here.
 */
#ifndef COURSER_BOUNCED_VERP_H
#define COURSER_BOUNCED_VERP_H

#include <stddef.h>
#include "mime.h"

/* Extract the id from one address "bounces+ID.HASH@domain"; 0 or -1. */
int verp_decode(const char *addr, char *id, size_t idlen, char *hash, size_t hashlen);
/* orig_id for the message rooted at root ("" when nothing reveals it). */
void verp_orig_id(struct mime_part *root, char *out, size_t outlen);

#endif
