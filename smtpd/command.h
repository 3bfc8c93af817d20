/*
 * command - the SMTP command side of smtpd's input: a resumable
 * byte-level line reader (fed whatever a read callback got, nothing is
 * re-scanned), verb recognition, and the parsers of the arguments of
 * MAIL FROM / RCPT TO (paths, ESMTP parameters, xtext).
 *
 * Pure functions over bytes: no session, no I/O, so the unit tests and the
 * fuzz target drive them directly.
 */
#ifndef SMTPD_COMMAND_H
#define SMTPD_COMMAND_H

#include <stddef.h>
#include <stdint.h>

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets incl. CRLF. */
#define CMD_LINE_MAX   512
#define CMD_TEXT_MAX   (CMD_LINE_MAX - 2)
/* RFC 5321 4.5.3.1.3: a path is at most 256 octets incl. the brackets. */
#define CMD_PATH_MAX   256
/* RFC 3461 4.4: ENVID at most 100 characters (before decoding). */
#define CMD_ENVID_MAX  100
/* RFC 3461 4.2: ORCPT at most 500 characters. */
#define CMD_ORCPT_MAX  500

enum cmd_read_result {
    CMD_MORE = 0,       /* every byte consumed, no complete line yet */
    CMD_LINE,           /* rd->line holds one command, NUL-terminated */
    CMD_TOO_LONG,       /* a line longer than CMD_LINE_MAX was discarded */
    CMD_BAD_EOL,        /* a line with a bare LF or bare CR was discarded */
    CMD_BAD_CHAR,       /* a line holding a NUL byte was discarded */
};

struct cmd_reader {
    char line[CMD_TEXT_MAX + 1];
    size_t len;
    int saw_cr;         /* last byte was a CR */
    int too_long;       /* discarding until the line end */
    int bad_eol;        /* bare CR seen in this line */
    int bad_char;
};

void cmd_reader_init(struct cmd_reader *rd);
/* Consume bytes until one line ends.  *used = bytes consumed.  A result
 * other than CMD_MORE describes the line that just ended; call again with
 * the rest of the data for the next one. */
enum cmd_read_result cmd_read(struct cmd_reader *rd, const char *data, size_t len,
                              size_t *used);

enum cmd_verb {
    VERB_UNKNOWN = 0, VERB_HELO, VERB_EHLO, VERB_MAIL, VERB_RCPT, VERB_DATA,
    VERB_RSET, VERB_NOOP, VERB_QUIT, VERB_VRFY, VERB_EXPN, VERB_HELP,
    VERB_BDAT, VERB_STARTTLS, VERB_AUTH, VERB_ETRN, VERB_TURN,
    VERB_COUNT
};

/* Split a line into verb and argument (text after the verb and one or more
 * spaces; "" when none).  *arg points into line. */
enum cmd_verb cmd_verb_parse(const char *line, const char **arg);
const char *cmd_verb_name(enum cmd_verb v);

/* Result codes of the argument parsers: which reply the caller sends. */
enum cmd_arg_result {
    ARG_OK = 0,
    ARG_SYNTAX,         /* 501 5.5.4 bad command syntax / bad parameter value */
    ARG_BAD_ADDR,       /* 501 5.1.7 (sender) / 5.1.3 (recipient) */
    ARG_UNKNOWN_PARAM,  /* 555 5.5.4 parameter not recognised */
};

struct mail_args {
    char addr[CMD_PATH_MAX];        /* "" = null sender */
    int has_size;
    uint64_t size;
    int body_8bit;                  /* BODY=8BITMIME */
    int ret;                        /* 0 none, 1 FULL, 2 HDRS (spool_ret) */
    char envid[CMD_ENVID_MAX + 1];  /* decoded, "" = none */
    int has_envid;
};

struct rcpt_args {
    char addr[CMD_PATH_MAX];
    unsigned notify;                /* spool_notify bits, 0 = not given */
    char orcpt[CMD_ORCPT_MAX + 1];  /* "rfc822;decoded", "" = none */
};

/* arg is the text after "MAIL" / "RCPT" ("FROM:<a@b> SIZE=10"). */
enum cmd_arg_result cmd_parse_mail(const char *arg, struct mail_args *out);
enum cmd_arg_result cmd_parse_rcpt(const char *arg, struct rcpt_args *out);

/* Decode RFC 3461 xtext (src, n bytes) into dst (dstlen incl. NUL).
 * Refuses bytes outside "!".."~", '=', a '+' not followed by two
 * upper-case hex digits, and decoded control bytes.  0 or -1. */
int cmd_xtext_decode(const char *src, size_t n, char *dst, size_t dstlen);

/* Whether s is an acceptable HELO/EHLO argument: 1..255 printable
 * non-space ASCII bytes (a domain or an address literal; we are lenient
 * on the exact grammar as the name is only recorded, never trusted). */
int cmd_helo_ok(const char *s);

/* Domain part of an address ("" when none), pointing into addr. */
const char *cmd_addr_domain(const char *addr);

#endif
