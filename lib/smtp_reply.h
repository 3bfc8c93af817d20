/*
 * smtp_reply - a resumable parser of SMTP server replies (RFC 5321 4.2),
 * single- and multi-line ("250-..." continued by "250 ..."), fed any
 * number of bytes at a time by a read callback (nginx ngx_mail_parse.c
 * shape: the parser keeps its own state, nothing is re-scanned).
 *
 * Bounds: a line holds at most SMTP_REPLY_LINE_MAX bytes before its line
 * end, a reply at most SMTP_REPLY_LINES_MAX lines; past either, or on a
 * line that does not start with a 3-digit code 2xx..5xx followed by ' ',
 * '-' or the line end, the feed fails (-1) and the caller drops the
 * connection.  Control bytes inside a line become '?' so the text can go
 * into logs, IPC strings and accounting files unchanged.
 *
 * Also: the EHLO keywords of a 250 reply to EHLO (RFC 5321 4.1.1.1).
 * Used by smtp-out (and by anything else that talks SMTP as a client).
 */
#ifndef COURSER_SMTP_REPLY_H
#define COURSER_SMTP_REPLY_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_REPLY_LINE_MAX   4096
#define SMTP_REPLY_LINES_MAX  64

struct smtp_reply {
    int code;                   /* 200..599 */
    size_t nlines;
    /* line i's text (after "250-" / "250 ") is text + off[i], len[i] bytes,
     * NUL-terminated in place; the joined text separates lines by ' ' */
    size_t off[SMTP_REPLY_LINES_MAX];
    size_t len[SMTP_REPLY_LINES_MAX];
    char *lines;                /* lines, each NUL-terminated */
    size_t lines_len, lines_cap;
    char *text;                 /* all lines joined by " " (valid after done) */
};

struct smtp_reply_parser {
    struct smtp_reply r;
    char line[SMTP_REPLY_LINE_MAX + 2];
    size_t linelen;
    int done;                   /* r holds a complete reply */
    int failed;
};

void smtp_reply_init(struct smtp_reply_parser *p);
void smtp_reply_free(struct smtp_reply_parser *p);
/* Forget the last reply; call before feeding the bytes of the next one. */
void smtp_reply_reset(struct smtp_reply_parser *p);
/* Feed len bytes.  Returns 1 when a reply is complete (then *used bytes of
 * data were consumed; the rest belong to the next reply), 0 when every byte
 * was consumed and more are needed, -1 on a protocol violation (the parser
 * stays failed until reset). */
int smtp_reply_feed(struct smtp_reply_parser *p, const char *data, size_t len, size_t *used);

/* Line i (0-based) of a complete reply, without code and separator. */
const char *smtp_reply_line(const struct smtp_reply *r, size_t i);

/* EHLO extensions Courser's client cares about. */
enum smtp_ext {
    SMTP_EXT_PIPELINING = 1 << 0,
    SMTP_EXT_8BITMIME = 1 << 1,
    SMTP_EXT_SIZE = 1 << 2,
    SMTP_EXT_DSN = 1 << 3,
    SMTP_EXT_STARTTLS = 1 << 4,
    SMTP_EXT_SMTPUTF8 = 1 << 5,
    SMTP_EXT_CHUNKING = 1 << 6,
    SMTP_EXT_ENHANCEDSTATUSCODES = 1 << 7,
};

#define SMTP_EHLO_KEYWORDS_MAX 512

struct smtp_ehlo {
    unsigned ext;               /* enum smtp_ext bits */
    uint64_t size_max;          /* SIZE parameter, 0 = none given */
    /* every well-formed keyword, upper-cased, comma-separated, in the
     * server's order (truncated at a keyword boundary if too long) */
    char keywords[SMTP_EHLO_KEYWORDS_MAX];
};

/* Extract the keywords from lines 2.. of a complete reply to EHLO. */
void smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *out);

#endif
