/*
 * data - the DATA stream parser: dot-unstuffing (RFC 5321 4.5.2), end of
 * data detection (only CRLF "." CRLF ends it, RFC 5321 4.1.1.4), and the
 * checks that decide the reply once the end is seen: bare LF / bare CR
 * anywhere (RFC 5321 2.3.8; SMTP smuggling, CVE-2023-51764), a text line
 * longer than the limit, a message larger than the limit.
 *
 * Resumable: fed any split of the input, it keeps its own state.  The
 * unstuffed bytes are appended to a bounded struct buf; once a limit or a
 * bad line end is seen nothing more is stored (the message will be
 * refused), but parsing continues to the end of data so the session stays
 * in step with the client.
 */
#ifndef SMTPD_DATA_H
#define SMTPD_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"

enum data_state {
    DS_LINE_START = 0,  /* after CRLF (or right after DATA): "." is special */
    DS_DOT,             /* a '.' at the start of a line */
    DS_DOT_CR,          /* ".\r" at the start of a line */
    DS_TEXT,            /* inside a line */
    DS_CR,              /* a CR inside a line */
};

enum data_flag {
    DATA_BARE_EOL = 1,      /* a bare LF or bare CR was seen */
    DATA_LINE_TOO_LONG = 2,
    DATA_TOO_BIG = 4,
};

struct data_parser {
    enum data_state state;
    struct buf *out;        /* where unstuffed bytes go (bounded) */
    size_t max_line;        /* bytes per line incl. CRLF; 0 = no limit */
    size_t line_len;        /* bytes of the current line as received */
    uint64_t size;          /* unstuffed bytes seen (also past the limit) */
    unsigned flags;         /* enum data_flag */
    int done;
};

void data_parser_init(struct data_parser *dp, struct buf *out, size_t max_line);
/* Consume bytes up to and including the end-of-data line.  Returns 1 when
 * the end was seen (*used = bytes consumed; the rest are the next
 * commands), 0 when all len bytes were consumed and more are needed. */
int data_feed(struct data_parser *dp, const char *data, size_t len, size_t *used);

#endif
