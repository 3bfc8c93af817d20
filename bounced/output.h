/*
 * output - the JSON lines of `bounced --classify` and --classify-reply.
 */
#ifndef COURSER_BOUNCED_OUTPUT_H
#define COURSER_BOUNCED_OUTPUT_H

#include <stdio.h>
#include "report.h"

const char *output_type_name(enum report_type t);
/* One line per recipient of rep (one line with recipient "" if none). */
int output_report(FILE *f, const char *file, const struct report *rep);
int output_reply(FILE *f, const char *text, const struct report_rcpt *r);

#endif
