/*
 * dkim_keygen - making a DKIM key the way operators need it, shared by
 * `mtactl dkim keygen` and `dkimsign --keygen`: the PEM file (0600, never
 * over an existing file) handed to the dkim user, and the zone-file line
 * of its TXT record.
 */
#ifndef COURSER_DKIM_KEYGEN_H
#define COURSER_DKIM_KEYGEN_H

#include <stddef.h>
#include "dkim_key.h"

/* Write a new key to path; when running as root, chown it to owner (the
 * dkim-user).  *txt gets the TXT record value.  0, or -1 with err.  A
 * problem that leaves a usable key (owner missing, chown failed) is a
 * warning in warn ("" when none). */
int dkim_keygen(enum dkim_alg alg, unsigned bits, const char *path, const char *owner,
                char *txt, size_t txtlen, char *warn, size_t warnlen, char *err, size_t errlen);
/* "SEL._domainkey.DOMAIN. IN TXT ( "..." "..." )" with the value cut into
 * strings of at most 255 bytes (RFC 1035 character-strings).  0, or -1
 * when out is too small. */
int dkim_zone_line(const char *selector, const char *domain, const char *txt, char *out,
                   size_t outlen);

#endif
