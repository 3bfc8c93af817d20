/*
 * json - JSON string output for --classify lines.  Text from bounces is
 * untrusted and of any charset: valid UTF-8 passes through, every other
 * byte and every control character is escaped, so each record is one
 * valid JSON line.
 */
#ifndef COURSER_BOUNCED_JSON_H
#define COURSER_BOUNCED_JSON_H

#include <stddef.h>
#include "buf.h"

/* Append s (n bytes) as a quoted JSON string; -1 when b is full. */
int json_append_string(struct buf *b, const char *s, size_t n);

#endif
