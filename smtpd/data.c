/*
 * data - DATA stream parser (see data.h).
 *
 * Bytes are copied in runs: a run of input that goes to the output
 * unchanged is appended with one buf_append when a byte must be dropped
 * (the stuffing dot, the CR of a possible ".\r\n") or the input ends.  A
 * CR held back after a line-start dot is re-emitted when what follows
 * shows it was not the end of data.
 */
#include <string.h>
#include "data.h"

void data_parser_init(struct data_parser *dp, struct buf *out, size_t max_line)
{
    memset(dp, 0, sizeof(*dp));
    dp->out = out;
    dp->max_line = max_line;
}

/* data_store - account for n message bytes and keep them while the
 * message can still be accepted. */
static void data_store(struct data_parser *dp, const char *p, size_t n)
{
    if (n == 0)
        return;
    dp->size += n;
    if (dp->flags != 0)
        return;
    if (buf_append(dp->out, p, n) < 0)
        dp->flags |= DATA_TOO_BIG;
}

int data_feed(struct data_parser *dp, const char *data, size_t len, size_t *used)
{
    size_t i, run = 0;

    for (i = 0; i < len; i++) {
        char c = data[i];

        if (++dp->line_len > dp->max_line && dp->max_line != 0)
            dp->flags |= DATA_LINE_TOO_LONG;
        if (c == '\n')
            dp->line_len = 0;
        switch (dp->state) {
        case DS_LINE_START:
        case DS_TEXT:
            if (c == '.' && dp->state == DS_LINE_START) {
                data_store(dp, data + run, i - run);
                run = i + 1;
                dp->state = DS_DOT;
            } else if (c == '\r') {
                dp->state = DS_CR;
            } else if (c == '\n') {
                /* Not a line start: only CRLF "." CRLF ends the data. */
                dp->flags |= DATA_BARE_EOL;
                dp->state = DS_TEXT;
            } else {
                dp->state = DS_TEXT;
            }
            break;
        case DS_CR:
            if (c == '\n') {
                dp->state = DS_LINE_START;
            } else {
                dp->flags |= DATA_BARE_EOL;
                dp->state = c == '\r' ? DS_CR : DS_TEXT;
            }
            break;
        case DS_DOT:
            if (c == '\r') {
                run = i + 1;    /* hold the CR back: maybe ".\r\n" */
                dp->state = DS_DOT_CR;
            } else if (c == '\n') {
                dp->flags |= DATA_BARE_EOL;     /* "\r\n.\n" */
                dp->state = DS_TEXT;
            } else {
                dp->state = DS_TEXT;
            }
            break;
        case DS_DOT_CR:
            if (c == '\n') {
                dp->done = 1;
                dp->state = DS_LINE_START;
                *used = i + 1;
                return 1;
            }
            dp->flags |= DATA_BARE_EOL;         /* ".\r" then not LF */
            data_store(dp, "\r", 1);
            dp->state = c == '\r' ? DS_CR : DS_TEXT;
            break;
        }
    }
    data_store(dp, data + run, len - run);
    *used = len;
    return 0;
}
