/*
 * pattern_list - PowerMTA's <pattern-list NAME>: rules that choose a
 * virtual MTA (or pool) for a message from its envelope or headers
 * (PowerMTA notes §1.2, §2.1 step 3).  A <source> names one list with
 * `pattern-list NAME`; smtpd evaluates it once per message at DATA.
 *
 *   header NAME /REGEX/[i] virtual-mta=VMTA   a header's (unfolded) value
 *   mail-from /REGEX/[i]   virtual-mta=VMTA   the MAIL FROM address
 *   rcpt-to /REGEX/[i]     virtual-mta=VMTA   any RCPT TO address (the
 *                                             result applies to the whole
 *                                             message, as in PowerMTA)
 * Rules are tried in file order; the first match wins.  Regexes are PCRE2,
 * compiled (and JIT-compiled when possible) when the config is loaded, so
 * a bad regex is a load error with file:line.  Other PowerMTA results
 * (recipient-priority=, call-to:) are refused as not supported yet.
 *
 * Owned by the config module (struct config holds the lists); the match
 * side is used by smtpd only.  Matching is bounded: the subject length is
 * capped (PL_SUBJECT_MAX) and PCRE2's match and depth limits are set per
 * list, so an operator's backtracking regex cannot stall smtpd: a rule
 * that hits the limit counts as not matching.
 */
#ifndef COURSER_PATTERN_LIST_H
#define COURSER_PATTERN_LIST_H

#include <stddef.h>

#define PL_HEADER_MAX 128
#define PL_NAME_MAX   256
#define PL_RULES_MAX  4096

enum pl_kind { PL_HEADER = 1, PL_MAIL_FROM, PL_RCPT_TO };

struct pl_rule {
    enum pl_kind kind;
    char header[PL_HEADER_MAX];     /* PL_HEADER: the header name */
    char regex[512];                /* as written, for logs */
    void *re;                       /* pcre2_code * */
    char vmta[PL_NAME_MAX];         /* virtual-mta=NAME */
    int line;
    const char *file;               /* the config parser's path copy: valid
                                     * only while loading */
};

struct pattern_list {
    char name[PL_NAME_MAX];
    struct pl_rule *rules;
    size_t nrules;
    void *md;                       /* pcre2_match_data *, shared by rules */
    void *mctx;                     /* pcre2_match_context *: the match limit */
};

/* Parse and compile one rule line ("header X /re/ virtual-mta=v" etc.,
 * kind already taken from the directive name) and append it to pl.
 * -1 with a reason in why (no file:line: the caller adds it). */
int pattern_list_add(struct pattern_list *pl, enum pl_kind kind, const char *value,
                     char *why, size_t whylen);
void pattern_list_free(struct pattern_list *pl);

/* What a message looks like to the rules. */
struct pl_subject {
    const char *mail_from;
    const char *const *rcpts;       /* nrcpts addresses */
    size_t nrcpts;
    const char *headers;            /* the header section, CRLF lines */
    size_t headers_len;
};

/* The first matching rule, or NULL.  The lists are evaluated read-only
 * except for the shared match data, so one process must not match on the
 * same list from two threads. */
const struct pl_rule *pattern_list_match(const struct pattern_list *pl,
                                         const struct pl_subject *m);

/* Iterate the headers of a header section: returns 1 and the name and
 * the value (leading blanks skipped, folding CRLFs kept; the caller
 * unfolds) of the next header at *off, 0 at the end.  start/len of the
 * whole field (name through its last CRLF) for removal. */
struct pl_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
    size_t start, len;
};
int pattern_list_next_header(const char *hdrs, size_t hdrs_len, size_t *off,
                             struct pl_header *h);
/* Copy an unfolded value (CRLF+WSP -> WSP, trailing blanks cut) into out;
 * returns its length, or -1 if it does not fit. */
int pattern_list_unfold(const char *v, size_t n, char *out, size_t outlen);

#endif
