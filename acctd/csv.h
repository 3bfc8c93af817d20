/*
 * csv - accounting records as CSV lines per RFC 4180: a field holding a
 * comma, a double quote, CR or LF is enclosed in double quotes and its
 * quotes doubled; an empty or absent field is an empty cell.  Lines are
 * built without their CRLF; the caller adds it.
 */
#ifndef COURSER_ACCTD_CSV_H
#define COURSER_ACCTD_CSV_H

#include <stddef.h>
#include "acct.h"
#include "buf.h"

int csv_append_field(struct buf *b, const char *v);
/* The fields of r listed in fields (acct_field indexes), comma-separated. */
int csv_append_record(struct buf *b, const struct acct_record *r, const int *fields, size_t n);
/* The PowerMTA names of fields, comma-separated. */
int csv_append_header(struct buf *b, const int *fields, size_t n);

#endif
