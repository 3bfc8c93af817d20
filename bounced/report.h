/*
 * report - what one bounce/feedback/auto-reply message says: its type and
 * one entry per recipient named in it.  Filled by the DSN, ARF and
 * heuristic parsers, completed (category, hard) by classify.
 */
#ifndef COURSER_BOUNCED_REPORT_H
#define COURSER_BOUNCED_REPORT_H

#include <stddef.h>

#define REPORT_MAX_RCPTS 1000
#define REPORT_ADDR_LEN 320
#define REPORT_DIAG_MAX 2000

enum report_type {
    REPORT_UNKNOWN = 0,
    REPORT_BOUNCE,
    REPORT_FEEDBACK,
    REPORT_AUTOREPLY,
    REPORT_DELIVERED,
};

struct report_rcpt {
    char addr[REPORT_ADDR_LEN];
    char status[16];            /* X.Y.Z or "" */
    char action[16];            /* lower-cased DSN Action or "" */
    char *diag;                 /* owned; NULL when none */
    enum report_type type;
    const char *category;       /* set by classify */
    int hard;
};

struct report {
    enum report_type type;
    struct report_rcpt *r;
    size_t n, cap;
    char feedback_type[64];
    char orig_id[128];
};

void report_init(struct report *rep);
void report_free(struct report *rep);
/* New zeroed entry for addr (cleaned), or the existing one with the same
 * address (case-insensitive); NULL when full or out of memory. */
struct report_rcpt *report_add(struct report *rep, const char *addr);
struct report_rcpt *report_find(struct report *rep, const char *addr);
/* Replace r's diag by a copy of [s, s+n), blanks collapsed, bounded. */
void report_set_diag(struct report_rcpt *r, const char *s, size_t n);
/* Reduce "rfc822; <A@B>", "\"Name\" <a@b>", "a@b (comment)" to a@b.
 * Returns 0 when the result looks like an address (local@domain). */
int report_addr_clean(const char *in, char *out, size_t outlen);
/* Copy status "X.Y.Z" found at the start of s (after blanks) into out. */
int report_status_parse(const char *s, char *out, size_t outlen);
/* Find an enhanced status anywhere in text (NUL-terminated; not part of an IP or a longer
 * number); 0 and out set, or -1. */
int report_status_find(const char *s, size_t n, char *out, size_t outlen);

#endif
