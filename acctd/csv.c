/*
 * csv - RFC 4180 field quoting for accounting files (see csv.h).  The
 * quoting is also what keeps untrusted text (remote replies, addresses)
 * from breaking a line or adding columns.
 */
#include <string.h>
#include "csv.h"

int csv_append_field(struct buf *b, const char *v)
{
    const char *q;

    if (v == NULL || v[0] == '\0')
        return 0;
    if (strpbrk(v, ",\"\r\n") == NULL)
        return buf_append_str(b, v);
    if (buf_append(b, "\"", 1) < 0)
        return -1;
    while ((q = strchr(v, '"')) != NULL) {
        if (buf_append(b, v, (size_t)(q - v) + 1) < 0 || buf_append(b, "\"", 1) < 0)
            return -1;
        v = q + 1;
    }
    if (buf_append_str(b, v) < 0 || buf_append(b, "\"", 1) < 0)
        return -1;
    return 0;
}

int csv_append_record(struct buf *b, const struct acct_record *r, const int *fields, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (i > 0 && buf_append(b, ",", 1) < 0)
            return -1;
        if (fields[i] < 0 || fields[i] >= AF_COUNT)
            continue;
        if (csv_append_field(b, r->v[fields[i]]) < 0)
            return -1;
    }
    return 0;
}

int csv_append_header(struct buf *b, const int *fields, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (i > 0 && buf_append(b, ",", 1) < 0)
            return -1;
        if (fields[i] >= 0 && fields[i] < AF_COUNT
            && csv_append_field(b, acct_field_names[fields[i]]) < 0)
            return -1;
    }
    return 0;
}
